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
use crate::config::resolve::resolve_as;
use crate::config::{Context, Document, Resolved};

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

/// The ssh a terminal on this machine runs: the first `ssh` on `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSsh {
    pub client: Client,
    /// The first `ssh` on `PATH`, if any.
    pub path: Option<PathBuf>,
    /// What `ssh -V` said (asked on macOS only, where it decides the flavour).
    pub version: Option<String>,
    /// macOS: Apple's `/usr/bin/ssh` is installed but another ssh comes
    /// first on `PATH` (Homebrew's, MacPorts').
    pub apple_shadowed: bool,
    /// The flavour was forced by the test hook (debug builds only): the
    /// `ssh` on `PATH` is not that flavour, so it cannot be the oracle.
    pub forced: bool,
}

/// Where Apple's ssh lives on every Mac (a sealed system volume: nothing
/// else can be there).
pub const APPLE_SSH: &str = "/usr/bin/ssh";

/// The ssh this machine runs, found once per process. Elsewhere than
/// macOS it is upstream OpenSSH (Linux, WSL, Windows' build: no extra
/// keywords) and no program is run. On macOS it is Apple's build when
/// `/usr/bin/ssh` is first on `PATH` or the first one's `ssh -V` reports
/// Apple's build (LibreSSL; Homebrew's and MacPorts' link OpenSSL).
pub fn local_ssh() -> &'static LocalSsh {
    static LOCAL: std::sync::OnceLock<LocalSsh> = std::sync::OnceLock::new();
    LOCAL.get_or_init(|| {
        let path = crate::oracle::find_ssh();
        if let Some(client) = forced_client() {
            return LocalSsh {
                client,
                path,
                version: None,
                apple_shadowed: false,
                forced: true,
            };
        }
        if cfg!(target_os = "macos") {
            let version = path
                .as_deref()
                .filter(|p| *p != Path::new(APPLE_SSH))
                .and_then(ssh_version);
            let apple_installed = Path::new(APPLE_SSH).is_file();
            detect_macos(path, version, apple_installed)
        } else {
            LocalSsh {
                client: Client::OpenSsh,
                path,
                version: None,
                apple_shadowed: false,
                forced: false,
            }
        }
    })
}

/// The macOS decision, apart from the machine so it can be tested anywhere.
pub fn detect_macos(
    path: Option<PathBuf>,
    version: Option<String>,
    apple_installed: bool,
) -> LocalSsh {
    let apple_first = path.as_deref() == Some(Path::new(APPLE_SSH))
        || version.as_deref().is_some_and(|v| v.contains("LibreSSL"));
    // No ssh on PATH at all: VS Code and a terminal find none either, but
    // the file was written for the Mac's own ssh.
    let apple = apple_first || (path.is_none() && apple_installed);
    LocalSsh {
        client: if apple {
            Client::Apple
        } else {
            Client::OpenSsh
        },
        apple_shadowed: !apple && apple_installed,
        path,
        version,
        forced: false,
    }
}

/// The test hook: `RUNPOD_SSH_TEST_CLIENT=apple` forces Apple's flavour.
/// Compiled into debug builds only (what `cargo test` runs), so no shipped
/// binary changes its judgement because of the environment it inherits.
#[cfg(debug_assertions)]
fn forced_client() -> Option<Client> {
    match std::env::var("RUNPOD_SSH_TEST_CLIENT").ok()?.as_str() {
        "apple" => Some(Client::Apple),
        "openssh" => Some(Client::OpenSsh),
        _ => None,
    }
}

#[cfg(not(debug_assertions))]
fn forced_client() -> Option<Client> {
    None
}

/// The first line of `ssh -V` (it prints to stderr), or `None` when it
/// does not answer within two seconds. `-V` reads no config.
#[cfg(target_os = "macos")]
fn ssh_version(ssh: &Path) -> Option<String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(ssh)
        .arg("-V")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut text = String::new();
    child.stderr.take()?.read_to_string(&mut text).ok()?;
    text.lines().next().map(|l| l.trim().to_string())
}

#[cfg(not(target_os = "macos"))]
fn ssh_version(_ssh: &Path) -> Option<String> {
    None
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
    let Ok(oracle) = crate::oracle::Oracle::for_config(path, doc, &ctx.home) else {
        return Refusal::default();
    };
    match oracle.ssh_g(path, UNRELATED_HOST) {
        Ok(_) => Refusal::default(),
        Err(text) => Refusal {
            problems: parse_ssh_errors(path, &text),
        },
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
    let mut r = Refusal::from_resolved(&resolve_as(client, doc, path, host, ctx));
    if client == Client::OpenSsh77 {
        for f in crate::config::files::load_tree(path, doc, &ctx.home) {
            for p in old_client_lines(&f.path, &f.doc, ctx) {
                if !r.problems.iter().any(|q| q.source == p.source) {
                    r.problems.push(p);
                }
            }
        }
    }
    r
}

/// The lines of one file that OpenSSH 7.7 refuses or reads otherwise than
/// the lexer (≥ 8.7) does: its arguments are split by `strdelim`, so a
/// comment's words, quotes and backslashes become part of the values.
fn old_client_lines(file: &Path, doc: &Document, ctx: &Context) -> Vec<Diagnostic> {
    use crate::config::keywords::{self, Kind};
    use crate::config::lexer::{COMMAND_KEYWORDS, strdelim_args};

    let at = |line: usize, message: String| Diagnostic {
        source: crate::config::Source {
            file: file.to_path_buf(),
            line,
        },
        message,
    };
    let mut out = Vec::new();
    if doc.encoding() == crate::config::document::Encoding::Utf8Bom {
        out.push(at(
            1,
            "file starts with a UTF-8 byte-order mark: ssh on Linux and macOS cannot read it"
                .into(),
        ));
    }
    for (i, line) in doc.lines().iter().enumerate() {
        let Some(d) = line.directive() else { continue };
        let b = line.bytes();
        let kw = d.keyword_lc.as_ref();
        // Non-ASCII spaces in the code part (in a comment they are
        // harmless); a path value naming a file that exists as written
        // is what the user meant (`fix`'s non-ascii-space keeps it too).
        let code_end = d.comment.as_ref().map_or(b.len(), |c| c.gap.start);
        let text = String::from_utf8_lossy(&b[..code_end.min(b.len())]);
        if let Some(c) = text.chars().find(|&c| crate::doctor::is_odd_space(c)) {
            let kept_path = keywords::is_path_keyword(kw)
                && d.args.len() == 1
                && !String::from_utf8_lossy(&b[..d.value.start])
                    .contains(crate::doctor::is_odd_space)
                && ctx.home_path(d.args[0].value(b)).exists();
            if !kept_path {
                out.push(at(
                    i + 1,
                    format!(
                        "a non-ASCII space (U+{:04X}): every ssh reads it as a letter, not a space",
                        c as u32
                    ),
                ));
                continue;
            }
        }
        // Command keywords take the raw rest of the line on every version;
        // a line the lexer refuses is the local check's business.
        if COMMAND_KEYWORDS.contains(&kw) || d.error.is_some() {
            continue;
        }
        // SetEnv came after 7.7 and splits with `strdelimw` (no `=`
        // separator): only a comment after it is held against the file.
        if kw == "setenv" && d.comment.is_none() {
            continue;
        }
        let new: Vec<&str> = d.values(b).collect();
        let Some(old) = strdelim_args(b, d) else {
            out.push(at(i + 1, "Missing argument.".into()));
            continue;
        };
        if old == new {
            continue;
        }
        let quoted = |v: &[String]| {
            v.iter()
                .map(|x| format!("\"{x}\""))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let kind = keywords::lookup(kw).map(|k| k.kind);
        // How many arguments 7.7 takes before its "garbage" check.
        let max = match kind {
            Some(Kind::Forward) => Some(2),
            Some(
                Kind::Host
                | Kind::Match
                | Kind::Include
                | Kind::SendEnv
                | Kind::LineList
                | Kind::PathLineList
                | Kind::OneLineList
                | Kind::Other
                | Kind::Ignored,
            )
            | None => None,
            Some(_) => Some(1),
        };
        let message = if let Some(m) = max.filter(|&m| old.len() > m) {
            format!("garbage at end of line; \"{}\".", old[m])
        } else if kw == "match"
            && let Some(h) = old.iter().find(|t| t.starts_with('#'))
        {
            format!("Unsupported Match attribute {h}")
        } else if d.comment.is_some() && old.len() > new.len() {
            let extra = &old[new.len()..];
            let what = if kw == "host" {
                "more host patterns"
            } else {
                "more values"
            };
            let wild = if kw == "host" && extra.iter().any(|t| t.contains(['*', '?'])) {
                ", one a wildcard that matches other hosts"
            } else {
                ""
            };
            format!(
                "OpenSSH 7.7 and 8.1 read the comment as {what} ({}){wild}",
                quoted(extra)
            )
        } else {
            format!(
                "OpenSSH 7.7 and 8.1 read the value as {}, not {}",
                quoted(&old),
                quoted(&new.iter().map(|x| x.to_string()).collect::<Vec<_>>())
            )
        };
        out.push(at(i + 1, message));
    }
    out
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
    let doc = Document::parse(&bytes);
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
    let before = in_file(&doc);
    if before.is_empty() {
        return Repair::None;
    }
    let mut cx = crate::doctor::Cx::new(doc.clone(), file, ctx);
    crate::doctor::run_all(&mut cx);
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

/// After a write: what the strictest client ([`Client::OpenSsh77`]) would
/// still refuse or misread in `doc`, just written to `path` (or in a file
/// it includes), as a message naming each file:line and the
/// `runpod-ssh fix` that repairs it; `None` when it reads every line.
/// `with_local`: include what the local ssh refuses as well (`fix` reports
/// those itself, as findings).
pub fn strictest_after_write(
    path: &Path,
    doc: &Document,
    ctx: &Context,
    with_local: bool,
) -> Option<String> {
    let client = Client::OpenSsh77;
    let mut r = check(client, path, doc, ctx);
    // This note is about how old clients split lines; on a Mac whose ssh
    // is Apple's, Apple's own keywords are that ssh's business.
    if Client::local().knows_apple_keywords() {
        r.problems.retain(|p| apple_keyword_refused(p).is_none());
    }
    if !with_local {
        let local = check(Client::OpenSsh, path, doc, ctx);
        r.problems
            .retain(|p| !local.problems.iter().any(|q| q.source == p.source));
    }
    if r.is_empty() {
        return None;
    }
    // Per file: which `runpod-ssh fix` repairs it, or that no rule does.
    let files = r.files();
    let hint = files
        .iter()
        .map(|f| {
            let cmd = fix_command(f, ctx);
            let which = if files.len() > 1 {
                format!(" in {}", f.display())
            } else {
                String::new()
            };
            match fix_repairs(client, f, UNRELATED_HOST, ctx) {
                Repair::All => format!("`{cmd}` repairs the lines{which}"),
                Repair::Some => {
                    format!("`{cmd}` repairs some of the lines{which}; the rest is for you")
                }
                Repair::None => {
                    format!("no `runpod-ssh fix` rule repairs the lines{which}: edit them by hand")
                }
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    Some(format!(
        "{} would still refuse or misread these lines (VS Code on Windows uses it):\n{}\n{hint}",
        client.name(),
        render(&r)
    ))
}

/// The Apple-only keyword (lowercase) a problem is ssh's "Bad
/// configuration option" for, if it is one.
pub fn apple_keyword_refused(d: &Diagnostic) -> Option<&str> {
    let kw = d.message.strip_prefix("Bad configuration option: ")?;
    crate::config::keywords::apple_only(kw).map(|_| kw)
}

/// `file:line: words` lines, indented, for a message.
pub fn render(refusal: &Refusal) -> String {
    refusal
        .problems
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_errors_are_read_with_their_file_and_line() {
        let p = Path::new("/h/.ssh/config");
        let d = parse_ssh_errors(
            p,
            "/h/.ssh/inc line 3: Bad forwarding specification.\n/h/.ssh/config: terminating, 1 bad configuration options\n",
        );
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].to_string(),
            "/h/.ssh/inc:3: Bad forwarding specification."
        );
        let d = parse_ssh_errors(
            p,
            "/h/.ssh/config: terminating, 1 bad configuration options\n",
        );
        assert_eq!(d[0].source.line, 0);
        assert_eq!(d[0].message, "terminating, 1 bad configuration options");
    }

    #[test]
    fn algorithm_lists_refuse_unknown_names_in_ssh_words() {
        let c = Client::OpenSsh;
        assert_eq!(
            c.bad_value("ciphers", "bogus").as_deref(),
            Some("Bad SSH2 cipher spec 'bogus'.")
        );
        assert_eq!(c.bad_value("ciphers", "+aes128-cbc,aes256-ctr"), None);
        assert_eq!(c.bad_value("ciphers", "-whatever"), None);
        assert!(c.bad_value("macs", "hmac-sha9").is_some());
        assert!(c.bad_value("kexalgorithms", "^nope").is_some());
        assert_eq!(
            c.bad_value("hostkeyalgorithms", "ssh-ed25519*,rsa-sha2-*"),
            None
        );
        assert!(c.bad_value("pubkeyacceptedalgorithms", "nokey*").is_some());
        assert_eq!(c.bad_value("user", "bogus"), None);
    }

    fn ctx(home: &Path) -> Context {
        Context {
            local_user: "u".into(),
            home: home.to_path_buf(),
            user_home: home.to_path_buf(),
            uid: 1,
            check_include_permissions: false,
            system_config: None,
        }
    }

    /// (line, message) of what `client` refuses in `text`.
    fn refused(client: Client, text: &[u8]) -> Vec<(usize, String)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        check(client, &path, &Document::parse(text), &ctx(dir.path()))
            .problems
            .into_iter()
            .map(|d| (d.source.line, d.message))
            .collect()
    }

    const GUIDE: &str = "\tHost RunPod-4090            # alias shown in VS Code\n    HostName 127.0.0.1    # the IP after @\n    User root               # the account after ssh\n    Port 40022              # the number after -p\n    IdentityFile ~/.ssh/id_ed25519  # the path after -i\n";

    #[test]
    fn openssh77_refuses_the_guides_trailing_comments_that_9x_accepts() {
        assert!(refused(Client::OpenSsh, GUIDE.as_bytes()).is_empty());
        let r = refused(Client::OpenSsh77, GUIDE.as_bytes());
        let lines: Vec<usize> = r.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5], "{r:?}");
        assert_eq!(
            r[0].1,
            r##"OpenSSH 7.7 and 8.1 read the comment as more host patterns ("#" "alias" "shown" "in" "VS" "Code")"##
        );
        for (_, m) in &r[1..] {
            assert_eq!(m, r##"garbage at end of line; "#"."##);
        }
    }

    #[test]
    fn openssh77_reads_quotes_backslashes_and_odd_spaces_as_part_of_values() {
        let r = refused(
            Client::OpenSsh77,
            "Host a\n  User 'bob'\n  IdentityFile \"C:\\\\Users\\\\me\\\\id\"\n  HostName h\u{a0}x\n  LocalForward 8888 localhost:8888 # jupyter\n  Host b # any* host\n  Match host x # c\n"
                .as_bytes(),
        );
        let by_line = |n: usize| r.iter().find(|(l, _)| *l == n).map(|(_, m)| m.as_str());
        assert_eq!(
            by_line(2),
            Some(r#"OpenSSH 7.7 and 8.1 read the value as "'bob'", not "bob""#)
        );
        assert_eq!(
            by_line(3),
            Some(
                r#"OpenSSH 7.7 and 8.1 read the value as "C:\\Users\\me\\id", not "C:\Users\me\id""#
            )
        );
        assert_eq!(
            by_line(4),
            Some("a non-ASCII space (U+00A0): every ssh reads it as a letter, not a space")
        );
        assert_eq!(by_line(5), Some(r##"garbage at end of line; "#"."##));
        assert!(
            by_line(6)
                .unwrap()
                .ends_with("one a wildcard that matches other hosts")
        );
        assert_eq!(by_line(7), Some("Unsupported Match attribute #"));
    }

    #[test]
    fn openssh77_accepts_what_every_version_reads_alike() {
        let text = "Host a b\n  HostName 1.2.3.4\n  User root\n  IdentityFile \"C:/Users/John Doe/.ssh/id\"\n  IdentityFile C:\\Users\\me\\id\n  ProxyCommand ssh -W %h:%p jump # the shell ignores this\n  SetEnv A=b\n  Port=22\n# a comment line\n";
        assert!(refused(Client::OpenSsh77, text.as_bytes()).is_empty());
    }

    #[test]
    fn openssh77_refuses_a_bom_on_every_platform() {
        let r = refused(Client::OpenSsh77, b"\xEF\xBB\xBFHost a\n  User root\n");
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].0, 1);
        assert!(r[0].1.contains("byte-order mark"));
    }

    #[test]
    fn apple_keywords_are_valid_for_apples_ssh_only() {
        let text = b"Host *\n  AddKeysToAgent yes\n  UseKeychain yes\n";
        assert!(refused(Client::Apple, text).is_empty());
        for c in [Client::OpenSsh, Client::OpenSsh77] {
            assert_eq!(
                refused(c, text),
                [(3, "Bad configuration option: usekeychain".to_string())]
            );
        }
        // Apple's ssh checks the value like any flag.
        assert_eq!(refused(Client::Apple, b"UseKeychain maybe\n").len(), 1);
        // IgnoreUnknown met first makes upstream skip it.
        assert!(
            refused(
                Client::OpenSsh,
                b"IgnoreUnknown UseKeychain\nHost *\n  UseKeychain yes\n"
            )
            .is_empty()
        );
    }

    #[test]
    fn macos_detection_follows_the_first_ssh_on_path() {
        let apple = detect_macos(Some(PathBuf::from(APPLE_SSH)), None, true);
        assert_eq!((apple.client, apple.apple_shadowed), (Client::Apple, false));
        let apple_banner = detect_macos(
            Some(PathBuf::from("/usr/local/bin/ssh")),
            Some("OpenSSH_9.8p1, LibreSSL 3.3.6".into()),
            true,
        );
        assert_eq!(apple_banner.client, Client::Apple);
        let brew = detect_macos(
            Some(PathBuf::from("/opt/homebrew/bin/ssh")),
            Some("OpenSSH_10.0p2, OpenSSL 3.5.0 8 Apr 2025".into()),
            true,
        );
        assert_eq!((brew.client, brew.apple_shadowed), (Client::OpenSsh, true));
        assert_eq!(detect_macos(None, None, true).client, Client::Apple);
    }

    #[test]
    fn fix_command_names_the_file_unless_default() {
        let ctx = Context {
            local_user: "u".into(),
            home: PathBuf::from("/h"),
            user_home: PathBuf::from("/h"),
            uid: 1,
            check_include_permissions: false,
            system_config: None,
        };
        assert_eq!(
            fix_command(Path::new("/h/.ssh/config"), &ctx),
            "runpod-ssh fix"
        );
        assert_eq!(
            fix_command(Path::new("/tmp/my config"), &ctx),
            "runpod-ssh fix --config '/tmp/my config'"
        );
    }
}
