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

mod after_write;
mod line_repair;
mod local;
pub use after_write::{strictest_after_own_write, strictest_after_write, strictest_after_writing};
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

/// [`judge`], and how many of its problems (the first ones) are the
/// evaluator's; the rest are what only an older client's line
/// splitting finds.
fn judge_split(
    client: Client,
    doc: &Document,
    path: &Path,
    host: &str,
    ctx: &Context,
) -> (Refusal, usize) {
    let mut r = Refusal::from_resolved(&resolve_as(client, doc, path, host, ctx));
    let evaluated = r.problems.len();
    if client == Client::OpenSsh77 {
        // The file itself as given (the tree's first file is a copy of it,
        // which on a large config cost as much as judging it); the files it
        // includes, when it has an Include line, after it in reading order.
        let includes = doc.lines().iter().any(|l| l.keyword() == Some("include"));
        let tree = if includes {
            crate::config::files::load_tree(path, doc, &ctx.home)
        } else {
            Vec::new()
        };
        let files = std::iter::once((path, doc))
            .chain(tree.iter().skip(1).map(|f| (f.path.as_path(), &f.doc)));
        // Per file, the lines that already have a problem: a set, not a
        // scan of the list (a file with a problem on every line made this
        // quadratic), and no copy of a path per line.
        let mut seen: Vec<(&Path, std::collections::HashSet<usize>)> = Vec::new();
        fn slot<'p>(
            seen: &mut Vec<(&'p Path, std::collections::HashSet<usize>)>,
            file: &'p Path,
        ) -> usize {
            seen.iter()
                .position(|(f, _)| *f == file)
                .unwrap_or_else(|| {
                    seen.push((file, Default::default()));
                    seen.len() - 1
                })
        }
        for q in &r.problems {
            let i = slot(&mut seen, &q.source.file);
            seen[i].1.insert(q.source.line);
        }
        let mut old_client = Vec::new();
        for (file, d) in files {
            let i = slot(&mut seen, file);
            // Each problem is at `file` (`old_client_lines` says so).
            for p in old_client_lines(file, d, ctx) {
                if seen[i].1.insert(p.source.line) {
                    old_client.push(p);
                }
            }
        }
        drop(seen);
        r.problems.extend(old_client);
    }
    (r, evaluated)
}

/// The lines of one file that OpenSSH 7.7 refuses or reads otherwise than
/// the lexer (≥ 8.7) does: its arguments are split by `strdelim`, so a
/// comment's words, quotes and backslashes become part of the values.
fn old_client_lines(file: &Path, doc: &Document, ctx: &Context) -> Vec<Diagnostic> {
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
        out.extend(old_client_line(file, i, line, ctx));
    }
    out
}

/// [`old_client_lines`] of one line (`i`: its 0-based index): what
/// OpenSSH 7.7 refuses or misreads in it, if anything.
fn old_client_line(
    file: &Path,
    i: usize,
    line: &crate::config::document::Line,
    ctx: &Context,
) -> Option<Diagnostic> {
    use crate::config::keywords;
    use crate::config::lexer::{COMMAND_KEYWORDS, strdelim_args};

    let at = |line: usize, message: String| Diagnostic {
        source: crate::config::Source {
            file: file.to_path_buf(),
            line,
        },
        message,
    };
    let d = line.directive()?;
    let b = line.bytes();
    let kw = d.keyword_lc.as_ref();
    // Non-ASCII spaces in the code part (in a comment they are
    // harmless); a path value naming a file that exists as written
    // is what the user meant (`fix`'s non-ascii-space keeps it too).
    let code_end = d.comment.as_ref().map_or(b.len(), |c| c.gap.start());
    let code = &b[..code_end.min(b.len())];
    // Every odd space is non-ASCII: an ASCII line (most) has none.
    let odd = if code.is_ascii() {
        None
    } else {
        String::from_utf8_lossy(code)
            .chars()
            .find(|&c| crate::doctor::is_odd_space(c))
    };
    if let Some(c) = odd {
        let kept_path = keywords::is_path_keyword(kw)
            && d.args.len() == 1
            && !String::from_utf8_lossy(&b[..d.value.start()])
                .contains(crate::doctor::is_odd_space)
            && ctx.home_path(d.args[0].value(b)).exists();
        if !kept_path {
            return Some(at(
                i + 1,
                format!(
                    "a non-ASCII space (U+{:04X}): every ssh reads it as a letter, not a space",
                    c as u32
                ),
            ));
        }
    }
    // Command keywords take the raw rest of the line on every version;
    // a line the lexer refuses is the local check's business.
    if COMMAND_KEYWORDS.contains(&kw) || d.error.is_some() {
        return None;
    }
    // SetEnv came after 7.7 and splits with `strdelimw` (no `=`
    // separator): only a comment after it is held against the file.
    if kw == "setenv" && d.comment.is_none() {
        return None;
    }
    if splits_alike(b, d) {
        return None;
    }
    let new: Vec<&str> = d.values(b).collect();
    let Some(old) = strdelim_args(b, d) else {
        return Some(at(i + 1, "Missing argument.".into()));
    };
    if old == new {
        return None;
    }
    Some(at(
        i + 1,
        misread_message(kw, d.comment.is_some(), &old, &new),
    ))
}

/// Whether OpenSSH 7.7's `strdelim` surely splits the arguments of line
/// `b` as the lexer does, without splitting them both: after the keyword,
/// only printable ASCII, spaces and tabs, none of the bytes the two read
/// differently (quotes, backslash, `#`, `=`). Most lines are such, and
/// comparing the two splits allocated for each.
fn splits_alike(b: &[u8], d: &crate::config::lexer::Directive) -> bool {
    d.comment.is_none()
        && b.get(d.separator.end()..).is_some_and(|rest| {
            rest.iter().all(|&c| {
                (c == b' ' || c == b'\t' || c.is_ascii_graphic())
                    && !matches!(c, b'"' | b'\'' | b'\\' | b'#' | b'=')
            })
        })
}

/// ssh 7.7's words for a line it splits into `old` where the lexer reads
/// `new` (`kw`: the keyword, lowercase; `has_comment`: a comment follows
/// the value).
fn misread_message(kw: &str, has_comment: bool, old: &[String], new: &[&str]) -> String {
    use crate::config::keywords::{self, Kind};
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
    if let Some(m) = max.filter(|&m| old.len() > m) {
        format!("garbage at end of line; \"{}\".", old[m])
    } else if kw == "match"
        && let Some(h) = old.iter().find(|t| t.starts_with('#'))
    {
        format!("Unsupported Match attribute {h}")
    } else if has_comment && old.len() > new.len() {
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
            quoted(old),
            quoted(&new.iter().map(|x| x.to_string()).collect::<Vec<_>>())
        )
    }
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
