//! "Would ssh refuse this file?": one check, aware of which ssh client reads
//! the file, used by `fix` (to report what it cannot repair) and by the
//! editing commands (to refuse editing a config ssh already refuses).
//!
//! The words are ssh's own: the evaluator's diagnostics mirror
//! `readconf.c`, and the algorithm lists below are what `ssh -Q` prints.
//! When a `fix` rule repairs what ssh refuses, the hint names the
//! `runpod-ssh fix` command line that does it.

use std::path::{Path, PathBuf};

use crate::config::resolve::Diagnostic;
use crate::config::{Context, Document, Resolved};

mod after_write;
mod line_repair;
mod local;
mod old_client;
pub use after_write::{strictest_after_own_write, strictest_after_write};
#[cfg(test)]
use old_client::splits_alike;
use old_client::{judge_split, old_client_line};
mod vouch;
pub use local::{APPLE_SSH, LocalSsh, detect_macos, local_ssh};
pub use vouch::{VOUCHED, lines_vouched, version_covered};

/// Which ssh reads the config. Each flavour answers the same questions
/// ([`Client::bad_value`], [`Client::name`], [`Client::knows_apple_keywords`],
/// [`check`]); [`Client::local`] is the one this machine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Client {
    /// Upstream OpenSSH (portable), as the evaluator models it (9.x). The
    /// algorithm lists are the union over recent releases: a false "ssh
    /// refuses this" would be worse than a missed one.
    #[default]
    OpenSsh,
    /// The strictest ssh a config may meet: OpenSSH 7.7, Windows 10's in-box
    /// client until 20H2 (8.1, the in-box one until Windows 11 23H2, and
    /// upstream up to 8.4 split lines the same way). Judged as [`OpenSsh`]
    /// plus what breaks such clients: a comment after a value, single
    /// quotes and backslash escapes (all read as part of the value), a
    /// non-ASCII space, a byte-order mark (Windows strips it, but the same
    /// file often serves Linux or macOS too). Keywords newer than 7.7 are
    /// not held against the file. See docs/openssh-config.md §1.2–1.3.
    ///
    /// [`OpenSsh`]: Client::OpenSsh
    OpenSsh77,
    /// Apple's build on macOS (`/usr/bin/ssh`): upstream plus its own
    /// keywords ([`keywords::APPLE_ONLY`]: `UseKeychain`).
    ///
    /// [`keywords::APPLE_ONLY`]: crate::config::keywords::APPLE_ONLY
    Apple,
}

const CIPHERS: &[&str] = &[
    "3des-cbc",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
];

const MACS: &[&str] = &[
    "hmac-sha1",
    "hmac-sha1-96",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-md5",
    "hmac-md5-96",
    "umac-64@openssh.com",
    "umac-128@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha1-96-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-md5-etm@openssh.com",
    "hmac-md5-96-etm@openssh.com",
    "umac-64-etm@openssh.com",
    "umac-128-etm@openssh.com",
];

const KEX: &[&str] = &[
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group-exchange-sha256",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
    "mlkem768x25519-sha256",
];

const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-512-cert-v01@openssh.com",
];

impl Client {
    /// The client's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Client::OpenSsh => "ssh",
            Client::OpenSsh77 => "Windows' built-in ssh (OpenSSH 7.7, 8.1)",
            Client::Apple => "Apple's ssh",
        }
    }

    /// Whether this client reads Apple's own keywords (`UseKeychain`)
    /// rather than stopping at them.
    pub fn knows_apple_keywords(&self) -> bool {
        *self == Client::Apple
    }

    /// The flavour of the ssh this machine runs (see [`local_ssh`]).
    pub fn local() -> Client {
        local_ssh().client
    }

    /// ssh's own words when this client refuses `value` for `keyword`
    /// (canonical lowercase name), for the values the evaluator keeps as
    /// written: the algorithm lists (`readconf.c`: `ciphers_valid`,
    /// `mac_valid`, `kex_names_valid`, `sshkey_names_valid2`).
    pub fn bad_value(&self, keyword: &str, value: &str) -> Option<String> {
        let (known, wildcards, words): (&[&str], bool, &str) = match keyword {
            "ciphers" => (CIPHERS, false, "Bad SSH2 cipher spec"),
            "macs" => (MACS, false, "Bad SSH2 MAC spec"),
            "kexalgorithms" => (KEX, false, "Bad SSH2 KexAlgorithms"),
            "hostkeyalgorithms"
            | "hostbasedacceptedalgorithms"
            | "pubkeyacceptedalgorithms"
            | "casignaturealgorithms" => (KEY_TYPES, true, "Bad key types"),
            _ => return None,
        };
        // `-list` removes names and is not checked; `+` and `^` are.
        if value.starts_with('-') {
            return None;
        }
        let list = value.strip_prefix(['+', '^']).unwrap_or(value);
        // strsep stops at the first empty name, as OpenSSH's loops do.
        let ok = list.split(',').take_while(|n| !n.is_empty()).all(|n| {
            known.contains(&n)
                || (wildcards
                    && n.contains(['*', '?'])
                    && known
                        .iter()
                        .any(|k| crate::config::pattern::match_pattern_list(k, n, false) != 0))
        });
        (!ok).then(|| format!("{words} '{value}'."))
    }
}

/// A host no config names: evaluating for it reads every line without
/// activating any `Host` block, which is what the whole-file check needs.
pub const UNRELATED_HOST: &str = "runpod-ssh-unrelated-host";

/// What ssh refuses in a config, in its words, each with file:line.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    pub problems: Vec<Diagnostic>,
}

impl Refusal {
    /// The problems of an evaluation that are tied to a line (the
    /// "terminating, N bad configuration options" summaries are dropped
    /// unless nothing else is left).
    pub fn from_resolved(r: &Resolved) -> Refusal {
        let lined: Vec<Diagnostic> = r
            .errors
            .iter()
            .filter(|d| d.source.line > 0)
            .cloned()
            .collect();
        let mut problems = if lined.is_empty() {
            r.errors.clone()
        } else {
            lined
        };
        problems.dedup();
        Refusal { problems }
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// The files holding a problem, each once, in order.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = Vec::new();
        for d in &self.problems {
            if !v.contains(&d.source.file) {
                v.push(d.source.file.clone());
            }
        }
        v
    }
}

/// Whether `client` refuses `doc` (read from `path`) or anything it
/// includes. Evaluated for a host no block names, so the verdict is about
/// the file, not one host.
pub fn check(client: Client, path: &Path, doc: &Document, ctx: &Context) -> Refusal {
    judge(client, doc, path, UNRELATED_HOST, ctx)
}

/// The last line of defence when the own evaluator finds nothing: ask the
/// real `ssh -G` once, for a host no block names, when the oracle may be
/// asked (ssh installed, no `Match exec` anywhere in the tree). Its refusal
/// comes back in its own words, with the file and line it names. `doc`
/// must be what `path` holds on disk.
pub fn ssh_backstop(path: &Path, doc: &Document, ctx: &Context) -> Refusal {
    ssh_backstop_start(path, doc, ctx).verdict()
}

/// [`ssh_backstop`] started now and read by [`Backstop::verdict`], so a
/// caller that will most likely want it (`list`: most files are fine) runs
/// its own work beside ssh instead of after it. Dropped unread, the `ssh`
/// is killed.
pub fn ssh_backstop_start(path: &Path, doc: &Document, ctx: &Context) -> Backstop {
    let running = crate::oracle::Oracle::for_config(path, doc, &ctx.home)
        .ok()
        .map(|o| o.spawn_ssh_g(path, UNRELATED_HOST));
    Backstop {
        path: path.to_path_buf(),
        running,
    }
}

/// [`ssh_backstop_start`], unless the own check is proven to judge every
/// line of the file as this machine's ssh does ([`vouch`]: `list`, which
/// reads big files often). A file with `Include` is never vouched for.
pub fn ssh_backstop_start_unless_vouched(path: &Path, doc: &Document, ctx: &Context) -> Backstop {
    let covered = || {
        let local = local_ssh();
        // macOS has asked `ssh -V` of that ssh already (for its flavour).
        !local.forced
            && local
                .version
                .clone()
                .or_else(|| local.path.as_deref().and_then(local::ssh_version))
                .is_some_and(|v| vouch::version_covered(&v))
    };
    if vouch::lines_vouched(doc) && covered() {
        return Backstop {
            path: path.to_path_buf(),
            running: None,
        };
    }
    ssh_backstop_start(path, doc, ctx)
}

/// A started [`ssh_backstop`].
pub struct Backstop {
    path: PathBuf,
    /// `None` when the oracle may not be asked; a failed start is an
    /// answer too (ssh's error, as [`ssh_backstop`] always gave it).
    running: Option<Result<crate::oracle::Running, String>>,
}

impl Backstop {
    /// What ssh refused (nothing when it read the file, or was not asked).
    pub fn verdict(self) -> Refusal {
        let Some(running) = self.running else {
            return Refusal::default();
        };
        match running.and_then(crate::oracle::Running::finish) {
            Ok(_) => Refusal::default(),
            Err(text) => Refusal {
                problems: parse_ssh_errors(&self.path, &text),
            },
        }
    }
}

/// ssh's `FILE line N: message` lines as diagnostics (the "terminating,
/// N bad configuration options" summary only when nothing else is left).
fn parse_ssh_errors(path: &Path, text: &str) -> Vec<Diagnostic> {
    use crate::config::Source;
    let mut lined = Vec::new();
    for l in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if let Some((file, rest)) = l.split_once(" line ")
            && let Some((n, msg)) = rest.split_once(": ")
            && let Ok(n) = n.parse::<usize>()
        {
            lined.push(Diagnostic {
                source: Source {
                    file: PathBuf::from(file),
                    line: n,
                },
                message: msg.to_string(),
            });
        }
    }
    if lined.is_empty()
        // ssh -G with no terminal may say so first: not the reason.
        && let Some(first) = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("Pseudo-terminal will not be allocated"))
    {
        // `FILE: message` or a bare message.
        let msg = first
            .strip_prefix(&format!("{}: ", path.display()))
            .unwrap_or(first);
        lined.push(Diagnostic {
            source: Source {
                file: path.to_path_buf(),
                line: 0,
            },
            message: msg.to_string(),
        });
    }
    lined
}

/// What `client` refuses in `doc` (read from `path`) and what it includes,
/// evaluating for `host`. Per line, the local evaluator's words come first;
/// an older client's own problems are added for the lines it leaves.
fn judge(client: Client, doc: &Document, path: &Path, host: &str, ctx: &Context) -> Refusal {
    judge_split(client, doc, path, host, ctx).0
}

/// How much of a refusal `runpod-ssh fix` repairs in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    All,
    Some,
    None,
}

/// Whether the safe `fix` rules repair what `client` refuses in `file`
/// (read from disk; the evaluation is for `host`).
pub fn fix_repairs(client: Client, file: &Path, host: &str, ctx: &Context) -> Repair {
    let Ok(bytes) = crate::fsio::read(file).map(|s| s.content().to_vec()) else {
        return Repair::None;
    };
    repairs_of(client, file, host, ctx, Document::parse(&bytes), None)
}

/// [`fix_repairs`] of `doc`, what `file` holds; `before`: the messages
/// `judge` already gave for `file` in it, when the caller has them.
fn repairs_of(
    client: Client,
    file: &Path,
    host: &str,
    ctx: &Context,
    doc: Document,
    before: Option<Vec<String>>,
) -> Repair {
    // The problems' words: line numbers move when a rule adds lines, and
    // one line may hold two problems (a comment after a quoted value).
    let in_file = |d: &Document| -> Vec<String> {
        judge(client, d, file, host, ctx)
            .problems
            .into_iter()
            .filter(|p| p.source.file == file)
            .map(|p| p.message)
            .collect()
    };
    let before = before.unwrap_or_else(|| in_file(&doc));
    if before.is_empty() {
        return Repair::None;
    }
    let mut cx = crate::doctor::Cx::new(doc, file, ctx);
    // Only the text of the repaired file is judged: the rules that never
    // change it without `--yes` are left out (they were most of the time).
    for r in text_rules() {
        r.run(&mut cx);
    }
    let mut after = in_file(&cx.doc);
    if after.is_empty() {
        return Repair::All;
    }
    // Some are repaired when a problem of before is not in after.
    let repaired = before
        .iter()
        .any(|m| match after.iter().position(|a| a == m) {
            Some(k) => {
                after.swap_remove(k);
                false
            }
            None => true,
        });
    if repaired { Repair::Some } else { Repair::None }
}

/// The rules of [`crate::doctor::RULES`] that never change the config's
/// text without `--yes`: they report, or act on other files (keys, VS Code
/// settings, the Windows side), and no other rule reads what they leave in
/// the context. `doctor_text_rules_change_what_run_all_changes` holds the
/// two runs to the same text on every fix fixture.
const REPORT_ONLY_RULES: &[&str] = &[
    "identity-missing",
    "key-format",
    "key-permissions",
    "config-permissions",
    // Edit only with `--yes` (`Auto::WithYes`).
    "duplicate-alias",
    "include-after-host",
    "proxy-entry",
    "vscode-config-file",
    "vscode-platform",
    "vscode-ssh-path",
    "no-ssh-client",
    "agent-disabled",
    "non-ascii-profile",
];

/// The rules `fix` (no `--yes`) runs that may change the config's text,
/// in `fix`'s order.
fn text_rules() -> impl Iterator<Item = &'static &'static dyn crate::doctor::Rule> {
    crate::doctor::RULES
        .iter()
        .filter(|r| !REPORT_ONLY_RULES.contains(&r.id()))
}

/// The command that repairs `file`: `runpod-ssh fix`, with `--config FILE`
/// unless it is the default `~/.ssh/config`.
pub fn fix_command(file: &Path, ctx: &Context) -> String {
    let default = ctx.home.join(".ssh").join("config");
    if file == default {
        "runpod-ssh fix".into()
    } else {
        format!(
            "runpod-ssh fix --config {}",
            crate::output::shell_quote(&file.display().to_string())
        )
    }
}

/// The hint for a refusal: which `runpod-ssh fix` repairs which file, or
/// `None` when no rule repairs any of it.
pub fn hint(client: Client, refusal: &Refusal, host: &str, ctx: &Context) -> Option<String> {
    let mut parts = Vec::new();
    for f in refusal.files() {
        match fix_repairs(client, &f, host, ctx) {
            Repair::All => parts.push(format!("`{}` repairs this", fix_command(&f, ctx))),
            Repair::Some => parts.push(format!(
                "`{}` repairs some of it; the rest is for you",
                fix_command(&f, ctx)
            )),
            Repair::None => {}
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The Apple-only keyword (lowercase) a problem is ssh's "Bad
/// configuration option" for, if it is one.
pub fn apple_keyword_refused(d: &Diagnostic) -> Option<&str> {
    let kw = d.message.strip_prefix("Bad configuration option: ")?;
    crate::config::keywords::apple_only(kw).map(|_| kw)
}

/// `file:line: words` lines, indented, for a message.
pub fn render(refusal: &Refusal) -> String {
    // One string, not one per line joined (a problem on each of 10,000
    // lines is a common large config).
    let mut out = String::new();
    for (i, d) in refusal.problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = std::fmt::Write::write_fmt(&mut out, format_args!("  {d}"));
    }
    out
}

#[cfg(test)]
mod tests;
