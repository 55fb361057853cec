//! Evaluate a config for one host the way `ssh -G` does (OpenSSH 9.2
//! semantics, `readconf.c`): first value wins, accumulating keywords,
//! `Host` and `Match`, `Include`, the final pass, and where every value
//! came from.
//!
//! Nothing here runs a command: `Match exec` and `Match localnetwork` are
//! reported in [`Resolved::not_evaluated`] and treated as not matching.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::document::{Document, Encoding};
use super::keywords::{self, Kind};
use super::lexer::{Directive, LexError};
use super::pattern;

/// OpenSSH's `READCONF_MAX_DEPTH`.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Source {
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // A whole-file message ("terminating, N bad options").
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// A problem OpenSSH reports while reading the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub source: Source,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// Who is asking, and where their files are.
#[derive(Debug, Clone)]
pub struct Context {
    /// The local login name (`%u`, `Match localuser`, the default `User`).
    pub local_user: String,
    /// `$HOME`: what `Include ~/…` and relative Includes (`~/.ssh/…`) use.
    pub home: PathBuf,
    /// The account's home from the password database: what `~` in
    /// `UserKnownHostsFile`, `ControlPath` and `IdentityAgent` means.
    pub user_home: PathBuf,
    /// The local uid (`%i`).
    pub uid: u32,
    /// Check included files' owner and mode as OpenSSH does.
    pub check_include_permissions: bool,
    /// The system-wide config ssh reads after the user's when no `-F` is
    /// given (`/etc/ssh/ssh_config`); `None` for `--config FILE`, as with
    /// `ssh -F FILE`.
    pub system_config: Option<PathBuf>,
}

impl Context {
    /// The current user's context.
    pub fn current() -> Context {
        // `Include ~/…` goes through glob(3) GLOB_TILDE, which reads $HOME;
        // every other `~` is the password database's (see platform::home_dir).
        // OpenSSH for Windows has one `~`, %USERPROFILE%, for both.
        let home = if cfg!(windows) {
            crate::platform::home_dir()
        } else {
            dirs::home_dir()
        }
        .unwrap_or_else(|| PathBuf::from("."));
        let account = crate::platform::account();
        Context {
            local_user: account.name,
            user_home: crate::platform::home_dir().unwrap_or_else(|| home.clone()),
            home,
            uid: account.uid,
            check_include_permissions: cfg!(unix),
            system_config: None,
        }
    }
}

impl Context {
    /// Where a path from the config is on disk: `~/rest` under the
    /// account's home, exactly as ssh's tilde_expand does for
    /// `IdentityFile`, `UserKnownHostsFile` and the like (never `$HOME`:
    /// one home for every command); other paths as written.
    pub fn home_path(&self, p: &str) -> PathBuf {
        match p.strip_prefix("~/") {
            Some(rest) => crate::platform::join_written(&self.user_home, rest),
            None if p == "~" => self.user_home.clone(),
            None => PathBuf::from(p),
        }
    }
}

/// One evaluated value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// Canonical lowercase keyword (what `ssh -G` prints).
    pub keyword: &'static str,
    /// The arguments as read (quotes removed), before any printing form.
    pub args: Vec<String>,
    pub source: Source,
}

/// The result of evaluating a config for one host.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    /// The host as typed.
    pub host: String,
    settings: Vec<Setting>,
    /// Problems that make OpenSSH refuse the config (`ssh` exits 255).
    pub errors: Vec<Diagnostic>,
    /// Problems OpenSSH only logs.
    pub warnings: Vec<Diagnostic>,
    /// `Match` criteria that were not evaluated (`exec`, `localnetwork`):
    /// taken as not matching.
    pub not_evaluated: Vec<Diagnostic>,
    /// The first `Match … exec` line in the files read (the same broad
    /// test as [`crate::oracle::runs_commands`]): what ssh would decide
    /// there is unknown to us, since we never run it.
    #[serde(skip)]
    pub runs_commands: Option<Source>,
    #[serde(skip)]
    ctx: Context,
}

/// Why a path from the config could not be expanded as ssh would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// ssh itself stops with this error (exit 255) before connecting.
    #[error("{0}")]
    Ssh(String),
    /// ssh's result depends on something runpod-ssh cannot reproduce
    /// exactly: never guess a file that decides host-key trust.
    #[error("{0}")]
    Unknown(String),
}

/// A file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("can't open config file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Evaluate `doc` (read from `path`) for `host`, as the ssh this machine
/// runs reads it ([`Client::local`](crate::refusal::Client::local)).
pub fn resolve(doc: &Document, path: &Path, host: &str, ctx: &Context) -> Resolved {
    resolve_as(crate::refusal::Client::local(), doc, path, host, ctx)
}

/// [`resolve`] as `client` reads the file: which keywords it knows (Apple's
/// `UseKeychain`) and which algorithm names.
pub fn resolve_as(
    client: crate::refusal::Client,
    doc: &Document,
    path: &Path,
    host: &str,
    ctx: &Context,
) -> Resolved {
    let mut ev = Evaluator::new(host, ctx);
    ev.client = client;
    // ssh without -F reads the system config after the user's (first
    // value wins); a missing one is empty. Relative Includes in it are
    // under /etc/ssh, as readconf.c does for a non-user config.
    let system: Option<(PathBuf, Document)> =
        ctx.system_config
            .as_ref()
            .and_then(|p| match crate::fsio::read_limited(p) {
                Ok(c) => Some((p.clone(), Document::parse(&c.bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    ev.error(
                        p,
                        0,
                        format!("Can't open system config file {}: {e}", p.display()),
                    );
                    None
                }
            });
    let run = |ev: &mut Evaluator, quiet: bool| {
        ev.run_pass(doc, path, quiet);
        if let Some((p, d)) = &system {
            ev.system = true;
            ev.run_pass(d, p, quiet);
            ev.system = false;
        }
    };
    run(&mut ev, false);
    let canon = matches!(
        ev.first("canonicalizehostname").map(|s| s.args[0].to_ascii_lowercase()),
        Some(ref v) if v == "yes" || v == "true" || v == "always"
    );
    if ev.errors.is_empty() && (ev.want_final || canon) {
        // The final pass matches `Host` against the expanded hostname.
        ev.host = ev.final_hostname();
        ev.final_pass = true;
        run(&mut ev, true);
    }
    ev.finish(host)
}

/// Read `path` and evaluate it for `host`. A missing file is an empty config.
pub fn resolve_file(path: &Path, host: &str, ctx: &Context) -> Result<Resolved, ResolveError> {
    let bytes = match crate::fsio::read_limited(path) {
        Ok(c) => c.bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(ResolveError::Open {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    Ok(resolve(&Document::parse(&bytes), path, host, ctx))
}

/// Evaluates one document for many hosts (`list`), in time linear in the
/// size of the config for each host's own blocks rather than the whole
/// file: a `Host` block whose patterns are literal names, or a `Match`
/// block that needs a literal `host`/`originalhost`, is visited only for
/// the names it lists. Blocks skipped that way are provably inactive for
/// the host and set nothing, so the settings are exactly those of
/// [`resolve`]; so are the diagnostics, since a block is skipped only
/// when its lines report nothing whichever host it is evaluated for. A
/// host that needs the final pass
/// (`CanonicalizeHostname`, `Match final`) is evaluated by [`resolve`].
pub struct Resolver<'a> {
    doc: &'a Document,
    path: &'a Path,
    ctx: &'a Context,
    plan: Plan,
}

/// Which blocks (line ranges of the top-level file) can apply to which name.
#[derive(Default)]
struct Plan {
    /// Block line ranges; block 0 is the global section.
    blocks: Vec<std::ops::Range<usize>>,
    /// Blocks visited for every host.
    always: Vec<usize>,
    /// Literal `Host` pattern (case-sensitive, as OpenSSH) → blocks.
    host: HashMap<String, Vec<usize>>,
    /// Lowercased literal of a `Match originalhost` → blocks.
    match_originalhost: HashMap<String, Vec<usize>>,
    /// Lowercased literal of a `Match host` → blocks.
    match_host: HashMap<String, Vec<usize>>,
}

impl Plan {
    fn new(doc: &Document, path: &Path, ctx: &Context) -> Plan {
        let mut plan = Plan::default();
        let lines = doc.lines();
        // Like `Document::blocks`: the global section, then each header up
        // to the next one.
        let headers: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].is_header()).collect();
        plan.blocks
            .push(0..headers.first().copied().unwrap_or(lines.len()));
        for (k, &h) in headers.iter().enumerate() {
            plan.blocks
                .push(h..headers.get(k + 1).copied().unwrap_or(lines.len()));
        }
        for bi in 0..plan.blocks.len() {
            let range = plan.blocks[bi].clone();
            // An Include anywhere in a block reads other files: always visited.
            let has_include = range.clone().any(|i| lines[i].keyword() == Some("include"));
            let keyed = if bi == 0 || has_include {
                None
            } else {
                let l = &lines[range.start];
                l.directive()
                    .filter(|d| d.error.is_none())
                    .and_then(|d| index_key(&d.keyword_lc, d.values(l.bytes())))
                    .filter(|_| silent_when_inactive(doc, path, ctx, range.clone()))
                    .filter(|_| !names_exec(l))
            };
            match keyed {
                None => plan.always.push(bi),
                Some((which, names)) => {
                    let map = match which {
                        Key::Host => &mut plan.host,
                        Key::MatchHost => &mut plan.match_host,
                        Key::MatchOriginalHost => &mut plan.match_originalhost,
                    };
                    for n in names {
                        let list = map.entry(n).or_default();
                        if list.last() != Some(&bi) {
                            list.push(bi);
                        }
                    }
                }
            }
        }
        plan
    }
}

/// A `Match` line that may hold `exec` (the same test as
/// [`crate::oracle::runs_commands`]).
fn names_exec(line: &super::document::Line) -> bool {
    line.keyword() == Some("match")
        && line
            .bytes()
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"exec"))
}

/// Whether the lines of a block report nothing when it does not apply, so
/// skipping it changes no diagnostic either. What an inactive line reports
/// does not depend on the host, except an unknown keyword that an
/// `IgnoreUnknown` may excuse: with none in effect here, such a block is
/// kept (always visited).
fn silent_when_inactive(
    doc: &Document,
    path: &Path,
    ctx: &Context,
    range: std::ops::Range<usize>,
) -> bool {
    let mut ev = Evaluator::new("", ctx);
    let mut active = false;
    for i in range {
        let line = &doc.lines()[i];
        if let Some(d) = line.directive() {
            ev.process_line(d, line.bytes(), path, i + 1, &mut active, false, 0);
        }
    }
    !active && ev.errors.is_empty() && ev.warnings.is_empty() && ev.not_evaluated.is_empty()
}

enum Key {
    Host,
    MatchHost,
    MatchOriginalHost,
}

/// The names a block header can only match, when it can be said from the
/// line alone and evaluating it has no effect but setting `active`.
fn index_key<'a>(keyword: &str, args: impl Iterator<Item = &'a str>) -> Option<(Key, Vec<String>)> {
    let literal = |p: &str| !p.is_empty() && !p.contains(['*', '?']);
    let args: Vec<&str> = args.collect();
    if keyword == "host" {
        // Negated entries only ever disable the block.
        let positive: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| !a.starts_with('!'))
            .collect();
        if args.iter().any(|a| a.is_empty())
            || positive.is_empty()
            || !positive.iter().all(|p| literal(p))
        {
            return None;
        }
        return Some((Key::Host, positive.iter().map(|p| p.to_string()).collect()));
    }
    if keyword != "match" || args.is_empty() || !args.len().is_multiple_of(2) {
        return None;
    }
    // Only criteria that evaluate without side effects (no `all`,
    // `canonical`, `final`, `exec`, `localnetwork`, `tagged`).
    let mut key = None;
    for pair in args.chunks(2) {
        let (negated, attrib) = match pair[0].strip_prefix('!') {
            Some(a) => (true, a.to_ascii_lowercase()),
            None => (false, pair[0].to_ascii_lowercase()),
        };
        let arg = pair[1];
        if arg.is_empty() || arg.starts_with('#') {
            return None;
        }
        match attrib.as_str() {
            "host" | "originalhost" => {
                let entries: Vec<&str> = arg.split(',').collect();
                if key.is_none()
                    && !negated
                    && entries.iter().all(|e| !e.starts_with('!') && literal(e))
                {
                    let which = if attrib == "host" {
                        Key::MatchHost
                    } else {
                        Key::MatchOriginalHost
                    };
                    key = Some((
                        which,
                        entries.iter().map(|e| e.to_ascii_lowercase()).collect(),
                    ));
                }
            }
            "user" | "localuser" => {}
            _ => return None,
        }
    }
    key
}

impl<'a> Resolver<'a> {
    pub fn new(doc: &'a Document, path: &'a Path, ctx: &'a Context) -> Resolver<'a> {
        Resolver {
            doc,
            path,
            ctx,
            plan: Plan::new(doc, path, ctx),
        }
    }

    /// What [`resolve`] gives `host`.
    pub fn resolve(&self, host: &str) -> Resolved {
        let mut ev = Evaluator::new(host, self.ctx);
        ev.run_pass_planned(self.doc, self.path, false, Some(&self.plan));
        let canon = matches!(
            ev.first("canonicalizehostname").map(|s| s.args[0].to_ascii_lowercase()),
            Some(ref v) if v == "yes" || v == "true" || v == "always"
        );
        if ev.want_final || canon {
            return resolve(self.doc, self.path, host, self.ctx);
        }
        ev.finish(host)
    }
}

struct Evaluator<'c> {
    ctx: &'c Context,
    /// Which ssh reads the file.
    client: crate::refusal::Client,
    /// What `Host` patterns are matched against.
    host: String,
    original_host: String,
    settings: Vec<Setting>,
    index: HashMap<&'static str, Vec<usize>>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    not_evaluated: Vec<Diagnostic>,
    want_final: bool,
    final_pass: bool,
    /// Reading the system config (relative Includes are under /etc/ssh).
    system: bool,
    runs_commands: Option<Source>,
    /// Per-file error counts are folded into `errors`; this keeps messages
    /// from being reported twice across passes.
    quiet: bool,
}

impl<'c> Evaluator<'c> {
    fn new(host: &str, ctx: &'c Context) -> Self {
        Evaluator {
            ctx,
            client: crate::refusal::Client::OpenSsh,
            host: host.to_string(),
            original_host: host.to_string(),
            settings: Vec::new(),
            index: HashMap::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            not_evaluated: Vec::new(),
            want_final: false,
            final_pass: false,
            system: false,
            runs_commands: None,
            quiet: false,
        }
    }

    fn run_pass(&mut self, doc: &Document, path: &Path, quiet: bool) {
        self.run_pass_planned(doc, path, quiet, None);
    }

    fn run_pass_planned(&mut self, doc: &Document, path: &Path, quiet: bool, plan: Option<&Plan>) {
        self.quiet = quiet;
        let mut active = true;
        if matches!(doc.encoding(), Encoding::Utf16Le | Encoding::Utf16Be) {
            self.error(
                path,
                1,
                "file is UTF-16 (as PowerShell's `>` writes it): ssh cannot read it".into(),
            );
            return;
        }
        if doc.encoding() == Encoding::Utf8Bom && !cfg!(windows) {
            self.error(
                path,
                1,
                "file starts with a UTF-8 byte-order mark: ssh on Linux and macOS cannot read it"
                    .into(),
            );
            return;
        }
        match plan {
            Some(plan) => self.read_planned(doc, path, plan, &mut active),
            None => self.read_doc(doc, path, &mut active, false, 0),
        }
    }

    /// [`Evaluator::read_doc`] of the top-level file, visiting only the
    /// blocks that `plan` says can apply to the names being evaluated.
    fn read_planned(&mut self, doc: &Document, path: &Path, plan: &Plan, active: &mut bool) {
        let empty: &[usize] = &[];
        let by_host = plan
            .host
            .get(self.host.as_str())
            .map_or(empty, Vec::as_slice);
        let original = self.original_host.to_ascii_lowercase();
        let by_original = plan
            .match_originalhost
            .get(original.as_str())
            .map_or(empty, Vec::as_slice);
        let next_in = |list: &[usize], from: usize| -> Option<usize> {
            list.get(list.partition_point(|&b| b < from)).copied()
        };
        let before = self.errors.len();
        let mut from = 0;
        loop {
            // `Match host` compares the hostname known at that point, which
            // an earlier block may have set: looked up afresh each time.
            let hostname = self.match_host_value().to_ascii_lowercase();
            let by_hostname = plan
                .match_host
                .get(hostname.as_str())
                .map_or(empty, Vec::as_slice);
            let Some(bi) = [
                next_in(&plan.always, from),
                next_in(by_host, from),
                next_in(by_original, from),
                next_in(by_hostname, from),
            ]
            .into_iter()
            .flatten()
            .min() else {
                break;
            };
            if bi > from {
                // The blocks skipped left `active` false (a header that is
                // not even valid, such as `Match all host x`, keeps it).
                *active = false;
            }
            for i in plan.blocks[bi].clone() {
                let line = &doc.lines()[i];
                if self.runs_commands.is_none() && names_exec(line) {
                    self.runs_commands = Some(Source {
                        file: path.to_path_buf(),
                        line: i + 1,
                    });
                }
                if let Some(d) = line.directive() {
                    self.process_line(d, line.bytes(), path, i + 1, active, false, 0);
                }
            }
            from = bi + 1;
        }
        self.count_bad(path, before);
    }

    /// What `Match host` is compared with (`readconf.c:match_cfg_line`).
    fn match_host_value(&self) -> String {
        if self.final_pass {
            self.host.clone()
        } else if let Some(h) = self.first("hostname") {
            expand_hostname(&h.args[0], &self.host)
        } else {
            self.host.clone()
        }
    }

    fn finish(mut self, host: &str) -> Resolved {
        // What ssh expands after reading (unknown `%` tokens, unset
        // `${VAR}`) stops it only when the config itself was accepted.
        if self.errors.is_empty() {
            self.quiet = false;
            check_expansions(&mut self);
        }
        // Entries dropped by `SendEnv -NAME` are no longer in the index.
        let live: std::collections::HashSet<usize> =
            self.index.values().flatten().copied().collect();
        let settings = std::mem::take(&mut self.settings)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| live.contains(i))
            .map(|(_, s)| s)
            .collect();
        Resolved {
            host: host.to_string(),
            settings,
            errors: self.errors,
            warnings: self.warnings,
            not_evaluated: self.not_evaluated,
            runs_commands: self.runs_commands,
            ctx: self.ctx.clone(),
        }
    }

    fn first(&self, kw: &str) -> Option<&Setting> {
        self.index
            .get(kw)
            .and_then(|v| v.first())
            .map(|&i| &self.settings[i])
    }

    fn has(&self, kw: &str) -> bool {
        self.index.get(kw).is_some_and(|v| !v.is_empty())
    }

    fn push(&mut self, keyword: &'static str, args: Vec<String>, source: Source) {
        self.index
            .entry(keyword)
            .or_default()
            .push(self.settings.len());
        self.settings.push(Setting {
            keyword,
            args,
            source,
        });
    }

    fn error(&mut self, file: &Path, line: usize, message: String) {
        if self.quiet {
            return;
        }
        self.errors.push(Diagnostic {
            source: Source {
                file: file.to_path_buf(),
                line,
            },
            message,
        });
    }

    fn warn(&mut self, file: &Path, line: usize, message: String) {
        if self.quiet {
            return;
        }
        self.warnings.push(Diagnostic {
            source: Source {
                file: file.to_path_buf(),
                line,
            },
            message,
        });
    }

    /// The hostname as `ssh` uses it after the first pass: HostName with
    /// `%h` expanded, lowercased unless an address.
    fn final_hostname(&self) -> String {
        let raw = match self.first("hostname") {
            Some(s) => expand_hostname(&s.args[0], &self.host),
            None => self.host.clone(),
        };
        lower_unless_address(&raw)
    }

    fn read_doc(
        &mut self,
        doc: &Document,
        path: &Path,
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) {
        let before = self.errors.len();
        for (i, line) in doc.lines().iter().enumerate() {
            if self.runs_commands.is_none() && names_exec(line) {
                self.runs_commands = Some(Source {
                    file: path.to_path_buf(),
                    line: i + 1,
                });
            }
            if let Some(d) = line.directive() {
                self.process_line(d, line.bytes(), path, i + 1, active, never_match, depth);
            }
        }
        self.count_bad(path, before);
    }

    /// OpenSSH's closing line for a file with bad options.
    fn count_bad(&mut self, path: &Path, before: usize) {
        let bad = self.errors.len() - before;
        if bad > 0 && !self.quiet {
            self.errors.push(Diagnostic {
                source: Source {
                    file: path.to_path_buf(),
                    line: 0,
                },
                message: format!("terminating, {bad} bad configuration options"),
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn process_line(
        &mut self,
        d: &Directive,
        bytes: &[u8],
        file: &Path,
        line: usize,
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) {
        let src = || Source {
            file: file.to_path_buf(),
            line,
        };
        if let Some(LexError::NoArgument(k)) = &d.error {
            return self.error(file, line, format!("no argument after keyword \"{k}\""));
        }
        let apple = || {
            self.client
                .knows_apple_keywords()
                .then(|| keywords::apple_only(&d.keyword_lc))
                .flatten()
        };
        let Some(kw) = keywords::lookup(&d.keyword_lc).or_else(apple) else {
            let ignored = self
                .first("ignoreunknown")
                .is_some_and(|s| pattern::match_pattern_list(&d.keyword_lc, &s.args[0], true) == 1);
            if !ignored {
                self.error(
                    file,
                    line,
                    format!("Bad configuration option: {}", d.keyword_lc),
                );
            }
            return;
        };
        if d.error == Some(LexError::InvalidQuotes) {
            return self.error(file, line, "invalid quotes".into());
        }
        // Most lines have one or two arguments: keep them off the heap.
        let mut inline: [&str; 8] = [""; 8];
        let heap: Vec<&str>;
        let args: &[&str] = if d.args.len() <= inline.len() {
            for (slot, v) in inline.iter_mut().zip(d.values(bytes)) {
                *slot = v;
            }
            &inline[..d.args.len()]
        } else {
            heap = d.values(bytes).collect();
            &heap
        };
        let owned = |a: &[&str]| -> Vec<String> { a.iter().map(|s| s.to_string()).collect() };
        // The first argument; a missing one is OpenSSH's "Missing argument".
        let one = |this: &mut Self| -> Option<String> {
            match args.first() {
                Some(a) if !a.is_empty() => Some(a.to_string()),
                _ => {
                    this.error(file, line, "Missing argument.".into());
                    None
                }
            }
        };
        // Checked after the value itself, as OpenSSH does.
        let extra = |this: &mut Self| -> bool {
            if args.len() > 1 {
                this.error(
                    file,
                    line,
                    format!("keyword {} extra arguments at end of line", d.keyword_lc),
                );
                return true;
            }
            false
        };
        let name = kw.name;
        match kw.kind {
            Kind::Host => {
                *active = false;
                if never_match {
                    return;
                }
                for a in args {
                    if a.is_empty() {
                        return self.error(
                            file,
                            line,
                            format!("keyword {} empty argument", d.keyword_lc),
                        );
                    }
                }
                *active = pattern::host_line_matches(&self.host, args.iter().copied());
            }
            Kind::Match => {
                let value = self.match_line(args, file, line);
                match value {
                    None => self.error(file, line, "Bad Match condition".into()),
                    Some(v) => *active = !never_match && v,
                }
            }
            Kind::Include => self.include(args, file, line, active, never_match, depth),
            Kind::Ignored => {
                if matches!(
                    name,
                    "afstokenpassing"
                        | "kerberosauthentication"
                        | "kerberostgtpassing"
                        | "rsaauthentication"
                        | "rhostsrsaauthentication"
                        | "compressionlevel"
                ) {
                    self.warn(
                        file,
                        line,
                        format!("Unsupported option \"{}\"", d.keyword_lc),
                    );
                }
            }
            Kind::IdentityFile | Kind::Append => {
                let Some(v) = one(self) else { return };
                if extra(self) {
                    return;
                }
                if *active {
                    let dup = self
                        .index
                        .get(name)
                        .is_some_and(|ix| ix.iter().any(|&i| self.settings[i].args[0] == v));
                    if !dup {
                        self.push(name, vec![v], src());
                    }
                }
            }
            Kind::Forward | Kind::DynamicForward => {
                let need = if kw.kind == Kind::DynamicForward {
                    1
                } else {
                    2
                };
                let ok = match args.len() {
                    n if n == need => true,
                    1 if name == "remoteforward" => true,
                    0 => false,
                    n if n > need => {
                        return self.error(
                            file,
                            line,
                            format!("keyword {} extra arguments at end of line", d.keyword_lc),
                        );
                    }
                    _ => false,
                };
                if !ok || parse_forward(name, &owned(args)).is_none() {
                    return self.error(
                        file,
                        line,
                        if args.is_empty() || (need == 2 && args.len() == 1) {
                            "Missing target argument.".into()
                        } else {
                            "Bad forwarding specification.".into()
                        },
                    );
                }
                if *active {
                    self.push(name, owned(args), src());
                }
            }
            Kind::SendEnv => {
                for a in args {
                    if a.is_empty() || a.contains('=') {
                        return self.error(file, line, "Invalid environment name.".into());
                    }
                }
                if !*active {
                    return;
                }
                for a in args {
                    if let Some(pat) = a.strip_prefix('-') {
                        let keep: Vec<usize> = self
                            .index
                            .get(name)
                            .map(|ix| {
                                ix.iter()
                                    .copied()
                                    .filter(|&i| {
                                        !pattern::match_pattern(&self.settings[i].args[0], pat)
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        self.index.insert(name, keep);
                    } else {
                        self.push(name, vec![a.to_string()], src());
                    }
                }
            }
            Kind::LineList => {
                // SetEnv: NAME=VALUE each, duplicates within the line dropped.
                let mut vals: Vec<String> = Vec::new();
                for a in args {
                    if !a.contains('=') {
                        return self.error(file, line, "Invalid SetEnv.".into());
                    }
                    let key = a.split('=').next().unwrap_or_default().to_string();
                    if !vals
                        .iter()
                        .any(|v| v.split('=').next() == Some(key.as_str()))
                    {
                        vals.push(a.to_string());
                    }
                }
                if *active && !self.has(name) {
                    self.push(name, vals, src());
                }
            }
            Kind::PathLineList | Kind::OneLineList => {
                for (i, a) in args.iter().enumerate() {
                    if a.is_empty() {
                        return self.error(
                            file,
                            line,
                            format!("keyword {} empty argument", d.keyword_lc),
                        );
                    }
                    if a.eq_ignore_ascii_case("none") && (i > 0 || args.len() > 1) {
                        return self.error(
                            file,
                            line,
                            format!(
                                "keyword {} \"none\" argument must appear alone.",
                                d.keyword_lc
                            ),
                        );
                    }
                }
                if let Some(m) = other_value_error(name, args) {
                    return self.error(file, line, m);
                }
                if *active && !self.has(name) {
                    self.push(name, owned(args), src());
                }
            }
            Kind::Command => {
                let raw = args.first().map(|s| s.to_string()).unwrap_or_default();
                if raw.is_empty() {
                    return self.error(file, line, "Missing argument.".into());
                }
                if name == "proxycommand" && self.has("proxyjump") {
                    return;
                }
                if *active && !self.has(name) {
                    self.push(name, vec![raw], src());
                }
            }
            Kind::ProxyJump => {
                let Some(v) = one(self) else { return };
                if extra(self) {
                    return;
                }
                if *active && !self.has("proxyjump") && !self.has("proxycommand") {
                    self.push(name, vec![v], src());
                }
            }
            Kind::Other => {
                // Known but not modelled: keep what was written.
                if args.is_empty() || args[0].is_empty() {
                    return self.error(file, line, "Missing argument.".into());
                }
                // Algorithm lists: refused by name, whichever block they are in.
                if let Some(m) = self.client.bad_value(name, args[0]) {
                    return self.error(file, line, m);
                }
                if let Some(m) = other_value_error(name, args) {
                    return self.error(file, line, m);
                }
                if *active && !self.has(name) {
                    self.push(name, owned(args), src());
                }
            }
            Kind::AddKeysToAgent => {
                if args.is_empty() || args.len() > 2 {
                    return self.error(file, line, "Missing argument.".into());
                }
                if addkeys_print(&owned(args)).is_none() {
                    return self.error(file, line, format!("unsupported option \"{}\".", args[0]));
                }
                if *active && !self.has(name) {
                    self.push(name, owned(args), src());
                }
            }
            _ => {
                // Single-valued kinds: one argument, validated even when
                // the block is inactive.
                let Some(v) = one(self) else { return };
                if let Err(msg) = validate(kw.kind, &v) {
                    return self.error(file, line, msg);
                }
                // readconf.c expands an agent path while parsing, in any block.
                let agent_path = name == "identityagent"
                    || (name == "forwardagent"
                        && !matches!(
                            v.to_ascii_lowercase().as_str(),
                            "yes" | "no" | "true" | "false"
                        ));
                if agent_path && v.contains("${") && dollar_unset(&v).is_some() {
                    return self.error(file, line, format!("Invalid environment expansion {v}."));
                }
                if extra(self) {
                    return;
                }
                if name == "ignoreunknown" && !*active {
                    return;
                }
                if *active && !self.has(name) {
                    self.push(name, vec![v], src());
                }
            }
        }
    }

    /// `readconf.c:match_cfg_line`. `None` is "Bad Match condition".
    fn match_line(&mut self, args: &[&str], file: &Path, line: usize) -> Option<bool> {
        let host = self.match_host_value();
        let ruser = self
            .first("user")
            .map(|s| s.args[0].clone())
            .unwrap_or_else(|| self.ctx.local_user.clone());
        let mut result = true;
        let mut attributes = 0;
        let mut it = args.iter().peekable();
        while let Some(oattrib) = it.next() {
            let (negate, attrib) = match oattrib.strip_prefix('!') {
                Some(a) => (true, a),
                None => (false, *oattrib),
            };
            let a = attrib.to_ascii_lowercase();
            if a == "all" {
                if attributes > 1 || it.peek().is_some() {
                    return None;
                }
                return Some(result && !negate);
            }
            attributes += 1;
            if a == "canonical" || a == "final" {
                if a == "final" {
                    self.want_final = true;
                }
                if self.final_pass == negate {
                    result = false;
                }
                continue;
            }
            let arg = match it.next() {
                Some(x) if !x.is_empty() && !x.starts_with('#') => x.to_string(),
                _ => return None,
            };
            let matched = match a.as_str() {
                "host" => pattern::match_hostname(&host, &arg),
                "originalhost" => pattern::match_hostname(&self.original_host, &arg),
                "user" => pattern::match_pattern_list(&ruser, &arg, false) == 1,
                "localuser" => pattern::match_pattern_list(&self.ctx.local_user, &arg, false) == 1,
                "exec" | "localnetwork" | "tagged" => {
                    if result {
                        self.not_evaluated.push(Diagnostic {
                            source: Source {
                                file: file.to_path_buf(),
                                line,
                            },
                            message: format!(
                                "Match {a} {arg:?} was not evaluated (taken as false)"
                            ),
                        });
                        result = false;
                    }
                    continue;
                }
                _ => return None,
            };
            if matched == negate {
                result = false;
            }
        }
        if attributes == 0 {
            return None;
        }
        Some(result)
    }

    fn include(
        &mut self,
        args: &[&str],
        file: &Path,
        line: usize,
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) {
        for arg in args {
            if arg.is_empty() {
                return self.error(file, line, "keyword include empty argument".into());
            }
            let path = if self.system && !arg.starts_with('~') && !is_absolute(arg) {
                system_include_path(arg, file)
            } else {
                include_path(arg, &self.ctx.home)
            };
            // An argument that is not valid UTF-8 cannot be handed to glob
            // as ssh hands its bytes: don't guess which files it names.
            if arg.contains('\u{FFFD}') {
                return self.error(
                    file,
                    line,
                    format!("Include {arg}: the path is not valid UTF-8, so runpod-ssh cannot follow it as ssh does"),
                );
            }
            let matches = match super::files::include_glob(&path) {
                Ok(m) => m,
                Err(e) => return self.error(file, line, e),
            };
            let oactive = *active;
            for p in matches {
                if depth + 1 > MAX_INCLUDE_DEPTH {
                    return self.error(
                        file,
                        line,
                        "Too many recursive configuration includes".into(),
                    );
                }
                let bytes = match crate::fsio::read_limited(&p) {
                    Ok(c) => c.bytes,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => continue,
                    Err(e) => {
                        return self.error(
                            file,
                            line,
                            format!("Can't open user config file {}: {e}", p.display()),
                        );
                    }
                };
                if self.ctx.check_include_permissions
                    && let Some(msg) = crate::platform::unsafe_config_permissions(&p, self.ctx.uid)
                {
                    return self.error(file, line, msg);
                }
                let doc = Document::parse(&bytes);
                let errors_before = self.errors.len();
                self.read_doc(&doc, &p, active, never_match || !oactive, depth + 1);
                *active = oactive;
                if self.errors.len() > errors_before {
                    // OpenSSH stops at the end of a bad included file.
                    return;
                }
            }
        }
    }
}

/// Validate a single-valued argument by kind. The error text is OpenSSH's.
pub fn validate(kind: Kind, v: &str) -> Result<(), String> {
    let lc = v.to_ascii_lowercase();
    match kind {
        Kind::Flag => match lc.as_str() {
            "yes" | "no" | "true" | "false" => Ok(()),
            _ => Err(format!("unsupported option \"{v}\".")),
        },
        Kind::Enum(table) => table
            .iter()
            .any(|(k, _)| *k == lc)
            .then_some(())
            .ok_or_else(|| format!("unsupported option \"{v}\".")),
        Kind::Int => v
            .parse::<u32>()
            .map(|_| ())
            .map_err(|_| "integer value invalid.".into()),
        Kind::Time => convtime(v)
            .map(|_| ())
            .ok_or_else(|| "invalid time value.".into()),
        Kind::ConnectTimeout => {
            if lc == "none" || convtime(v).is_some() {
                Ok(())
            } else {
                Err("invalid time value.".into())
            }
        }
        Kind::Port => parse_port(v)
            .map(|_| ())
            .ok_or_else(|| format!("Bad port '{v}'.")),
        Kind::ControlPersist => {
            if matches!(lc.as_str(), "yes" | "no" | "true" | "false") || convtime(v).is_some() {
                Ok(())
            } else {
                Err("Bad ControlPersist argument.".into())
            }
        }
        Kind::LogLevel => log_level(v)
            .map(|_| ())
            .ok_or_else(|| format!("unsupported log level '{v}'")),
        _ => Ok(()),
    }
}

/// ssh's refusal of a value it parses for a keyword the evaluator keeps
/// as written (`readconf.c`), in its words; `None` when ssh accepts it.
pub fn other_value_error(name: &str, args: &[&str]) -> Option<String> {
    let v = args.first().copied().unwrap_or_default();
    match name {
        "ipqos" => {
            // parse_ipqos: a name from its table, or a number 0–255.
            const NAMES: &[&str] = &[
                "af11",
                "af12",
                "af13",
                "af21",
                "af22",
                "af23",
                "af31",
                "af32",
                "af33",
                "af41",
                "af42",
                "af43",
                "cs0",
                "cs1",
                "cs2",
                "cs3",
                "cs4",
                "cs5",
                "cs6",
                "cs7",
                "ef",
                "le",
                "lowdelay",
                "throughput",
                "reliability",
                "none",
            ];
            let ok = |a: &str| {
                NAMES.contains(&a.to_ascii_lowercase().as_str())
                    || c_strtol(a).is_some_and(|n| (0..=255).contains(&n))
            };
            args.iter()
                .take(2)
                .find(|a| !ok(a))
                .map(|a| format!("Bad IPQoS value: {a}"))
        }
        "rekeylimit" => {
            if v.eq_ignore_ascii_case("default") {
                return None;
            }
            // scan_scaled: digits, an optional fraction, one unit letter.
            let (num, unit) = match v.char_indices().last() {
                Some((i, c)) if "BKMGTPEbkmgtpe".contains(c) => (&v[..i], &v[i..]),
                _ => (v, ""),
            };
            let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
            let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
            if whole.is_empty()
                || !digits(whole)
                || !digits(frac)
                || (!frac.is_empty() && unit.is_empty())
            {
                return Some(format!("Bad number '{v}': Invalid argument"));
            }
            let n: f64 = num.parse().unwrap_or(0.0);
            let scale = match unit.to_ascii_uppercase().as_str() {
                "K" => 1u64 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                "P" => 1 << 50,
                "E" => 1 << 60,
                _ => 1,
            };
            let bytes = n * scale as f64;
            (bytes != 0.0 && bytes < 16.0).then(|| "RekeyLimit too small".into())
        }
        "tunneldevice" => {
            // a2tun: `any` or a number, optionally `:` and another.
            let unit = |s: &str| {
                s.eq_ignore_ascii_case("any")
                    || (!s.is_empty()
                        && s.bytes().all(|b| b.is_ascii_digit())
                        && s.parse::<u32>().is_ok_and(|n| n <= 0x7fff_fffd))
            };
            let ok = match v.split_once(':') {
                Some((l, r)) => unit(l) && unit(r),
                None => unit(v),
            };
            (!ok).then(|| "Bad tun device.".into())
        }
        "canonicaldomains" => args.iter().find_map(|d| {
            // misc.c:valid_domain, the checks ssh makes of a name as written.
            let why = if !d.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                "starts with invalid character"
            } else if d.contains("..") {
                "contains consecutive separators"
            } else {
                return None;
            };
            Some(format!("domain name \"{d}\" {why}"))
        }),
        "permitremoteopen" => args.iter().find_map(|a| {
            if args.len() == 1 && (a.eq_ignore_ascii_case("any") || a.eq_ignore_ascii_case("none"))
            {
                return None;
            }
            // hpdelim: `[host]:port` or `host:port`; the port `*` or 1–65535.
            let port = if let Some(rest) = a.strip_prefix('[') {
                rest.split_once(']').and_then(|(_, p)| p.strip_prefix(':'))
            } else {
                a.split_once(':').map(|(_, p)| p)
            };
            match port {
                Some(p) if p == "*" || parse_port(p).is_some() => None,
                _ => Some("bad port number in permitremoteopen".into()),
            }
        }),
        "streamlocalbindmask" => {
            // strtol(v, &end, 8): at least one octal digit, at most 0777.
            let octal: String = v.chars().take_while(|c| ('0'..='7').contains(c)).collect();
            let ok = !octal.is_empty() && u32::from_str_radix(&octal, 8).is_ok_and(|m| m <= 0o777);
            (!ok).then(|| "Bad mask.".into())
        }
        "escapechar" => {
            let b = v.as_bytes();
            let ok = v.eq_ignore_ascii_case("none")
                || b.len() == 1
                || (b.len() == 2 && b[0] == b'^' && (64..127).contains(&b[1]));
            (!ok).then(|| "Bad escape character.".into())
        }
        _ => None,
    }
}

/// C `strtol(s, &end, 0)` with nothing left over: decimal, `0x` hex or
/// `0` octal.
fn c_strtol(s: &str) -> Option<i64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(digits, radix).ok()
}

/// The first `${NAME}` in `v` that ssh cannot expand (unset, or `${`
/// unterminated), as written; `None` when every one expands.
fn dollar_unset(v: &str) -> Option<String> {
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Some(rest[i..].to_string());
        };
        let name = &after[..end];
        if std::env::var_os(name).is_none() {
            return Some(format!("${{{name}}}"));
        }
        rest = &after[end + 1..];
    }
    None
}

/// The first `%` token in `v` that is not in `allowed` (`%%` always is),
/// as `%c`; a trailing lone `%` too.
fn unknown_percent(v: &str, allowed: &str) -> Option<String> {
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '%' {
            match it.next() {
                Some('%') => {}
                Some(t) if allowed.contains(t) => {}
                Some(t) => return Some(format!("%{t}")),
                None => return Some("%".into()),
            }
        }
    }
    None
}

/// What ssh expands after reading the config, for the host asked about:
/// an unknown `%` token or an unset `${VAR}` stops it (ssh.c, without a
/// line number; ours names the line that set the value).
fn check_expansions(ev: &mut Evaluator) {
    // DEFAULT_CLIENT_PERCENT_EXPAND_ARGS (ssh.c; %j is newer than 9.2 and
    // allowed rather than refused where a newer ssh reads it); HostName
    // knows only %h.
    const CLIENT: &str = "CdhijkLlnpru";
    let checks: [(&str, &str, bool); 5] = [
        ("hostname", "h", false),
        ("controlpath", CLIENT, true),
        ("identityagent", CLIENT, true),
        ("userknownhostsfile", CLIENT, true),
        ("remotecommand", CLIENT, false),
    ];
    let mut found = Vec::new();
    for (kw, allowed, env) in checks {
        let Some(s) = ev.first(kw) else { continue };
        if s.args.len() == 1 && s.args[0].eq_ignore_ascii_case("none") {
            continue;
        }
        for a in &s.args {
            let msg = if let Some(t) = unknown_percent(a, allowed) {
                format!("vdollar_percent_expand: unknown key {t}")
            } else if let Some(var) = env.then(|| dollar_unset(a)).flatten() {
                format!("vdollar_percent_expand: env var {var} has no value")
            } else {
                continue;
            };
            found.push((s.source.clone(), msg));
            break;
        }
    }
    for (src, msg) in found {
        ev.error(&src.file, src.line, msg);
    }
}

/// `misc.c:a2port`: 1–65535, digits only.
pub fn parse_port(v: &str) -> Option<u16> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u16>().ok().filter(|p| *p > 0)
}

/// `misc.c:convtime`: `90`, `1m30s`, `1h` → seconds.
pub fn convtime(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let mult = match c {
            's' | 'S' => 1,
            'm' | 'M' => 60,
            'h' | 'H' => 3600,
            'd' | 'D' => 86400,
            'w' | 'W' => 604800,
            _ => return None,
        };
        if num.is_empty() {
            return None;
        }
        total = total.checked_add(num.parse::<u64>().ok()?.checked_mul(mult)?)?;
        num.clear();
    }
    if !num.is_empty() {
        total = total.checked_add(num.parse::<u64>().ok()?)?;
    }
    (total <= i32::MAX as u64).then_some(total)
}

fn log_level(v: &str) -> Option<&'static str> {
    const LEVELS: &[(&str, &str)] = &[
        ("quiet", "QUIET"),
        ("fatal", "FATAL"),
        ("error", "ERROR"),
        ("info", "INFO"),
        ("verbose", "VERBOSE"),
        ("debug", "DEBUG"),
        ("debug1", "DEBUG"),
        ("debug2", "DEBUG2"),
        ("debug3", "DEBUG3"),
    ];
    let lc = v.to_ascii_lowercase();
    LEVELS.iter().find(|(k, _)| *k == lc).map(|(_, p)| *p)
}

fn addkeys_print(args: &[String]) -> Option<String> {
    let first = args[0].to_ascii_lowercase();
    let word = match first.as_str() {
        "yes" | "true" => Some("true"),
        "no" | "false" => Some("false"),
        "ask" => Some("ask"),
        "confirm" => Some("confirm"),
        _ => None,
    };
    match (word, args.get(1)) {
        (Some(w), None) => Some(w.to_string()),
        (Some(w), Some(t)) if w != "false" => convtime(t).map(|s| {
            if w == "true" {
                format!("{s}")
            } else {
                format!("{w} {s}")
            }
        }),
        (None, None) => convtime(&args[0]).map(|s| s.to_string()),
        _ => None,
    }
}

/// Where `Include ARG` points: `~` is `$HOME`, relative paths live in `~/.ssh`.
pub fn include_path(arg: &str, home: &Path) -> String {
    let home = home.to_string_lossy();
    if let Some(rest) = arg.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else if arg == "~" {
        home.into_owned()
    } else if arg.starts_with('~') || is_absolute(arg) {
        // `~user/…` is glob(3)'s to expand (GLOB_TILDE), as in ssh.
        arg.to_string()
    } else {
        format!("{home}/.ssh/{arg}")
    }
}

/// A relative `Include` in the system config: beside it (`/etc/ssh`).
fn system_include_path(arg: &str, system_file: &Path) -> String {
    let dir = system_file.parent().unwrap_or(Path::new("/etc/ssh"));
    format!("{}/{arg}", dir.to_string_lossy())
}

fn is_absolute(p: &str) -> bool {
    p.starts_with('/')
        || (cfg!(windows) && (p.as_bytes().get(1) == Some(&b':') || p.starts_with('\\')))
}

/// `%h` and `%%` in HostName.
pub fn expand_hostname(value: &str, host: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('h') => out.push_str(host),
                Some('%') => out.push('%'),
                Some(o) => {
                    out.push('%');
                    out.push(o);
                }
                None => out.push('%'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `ssh` lowercases the hostname unless it is an address.
pub fn lower_unless_address(h: &str) -> String {
    if h.parse::<IpAddr>().is_ok() {
        h.to_string()
    } else {
        h.to_ascii_lowercase()
    }
}

/// A forward spec split into printable parts.
fn parse_forward(name: &str, args: &[String]) -> Option<(String, Option<String>)> {
    let listen = fwd_listen(&args[0])?;
    // readconf.c:parse_forward: listen port 0 only for remote forwards
    // (the server picks one), connect port 0 never.
    if name != "remoteforward" && listen.rsplit(':').next() == Some("0") {
        return None;
    }
    if name == "dynamicforward" {
        return Some((listen, None));
    }
    if args.len() == 1 {
        // A remote dynamic (SOCKS) forward.
        return Some((listen, Some("[socks]:0".to_string())));
    }
    let target = fwd_target(&args[1])?;
    Some((listen, Some(target)))
}

fn fwd_listen(s: &str) -> Option<String> {
    if s.contains('/') {
        return Some(s.to_string());
    }
    let parts = split_hostport(s)?;
    match parts {
        (None, port) => Some(port.to_string()),
        (Some(h), port) => Some(format!("[{h}]:{port}")),
    }
}

fn fwd_target(s: &str) -> Option<String> {
    if s.contains('/') && !s.contains(':') {
        return Some(s.to_string());
    }
    match split_hostport(s)? {
        (Some(_), 0) => None,
        (Some(h), port) => Some(format!("[{h}]:{port}")),
        (None, _) => None,
    }
}

/// `[host]:port`, `host:port` or `port`; the port may be 0 only for listens.
fn split_hostport(s: &str) -> Option<(Option<String>, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let h = &rest[..end];
        let p = rest[end + 1..].strip_prefix(':')?;
        (Some(h.to_string()), p)
    } else if let Some(i) = s.rfind(':') {
        (Some(s[..i].to_string()), &s[i + 1..])
    } else {
        (None, s)
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let p: u16 = port.parse().ok()?;
    let host = host.map(|h| if h.is_empty() { "*".to_string() } else { h });
    Some((host, p))
}

/// Default identity files of OpenSSH 9.2–10.0 when none is configured.
pub const DEFAULT_IDENTITY_FILES: &[&str] = &[
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
];

/// One printed line of the `ssh -G`-style dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Printed {
    pub keyword: String,
    pub value: String,
    /// `None` for defaults.
    pub source: Option<Source>,
}

impl Resolved {
    /// Whether OpenSSH would accept this config.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Every evaluated setting, in the order they were set.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// The winning setting for `keyword` (canonical lowercase name).
    pub fn get(&self, keyword: &str) -> Option<&Setting> {
        let name = keywords::lookup(keyword).map_or(keyword, |k| k.name);
        self.settings.iter().find(|s| s.keyword == name)
    }

    /// All settings for an accumulating keyword, in order.
    pub fn all(&self, keyword: &str) -> Vec<&Setting> {
        let name = keywords::lookup(keyword).map_or(keyword, |k| k.name);
        self.settings.iter().filter(|s| s.keyword == name).collect()
    }

    /// The hostname ssh connects to (HostName with `%h`, lowercased unless
    /// an address), and where it came from.
    pub fn hostname(&self) -> (String, Option<Source>) {
        match self.get("hostname") {
            Some(s) => (
                lower_unless_address(&expand_hostname(&s.args[0], &self.host)),
                Some(s.source.clone()),
            ),
            None => (lower_unless_address(&self.host), None),
        }
    }

    pub fn port(&self) -> (u16, Option<Source>) {
        match self
            .get("port")
            .and_then(|s| parse_port(&s.args[0]).map(|p| (p, s)))
        {
            Some((p, s)) => (p, Some(s.source.clone())),
            None => (22, None),
        }
    }

    pub fn user(&self) -> (String, Option<Source>) {
        match self.get("user") {
            Some(s) => (s.args[0].clone(), Some(s.source.clone())),
            None => (self.ctx.local_user.clone(), None),
        }
    }

    /// Identity files in the order ssh tries them (unexpanded), or the
    /// defaults when none is configured.
    pub fn identity_files(&self) -> Vec<(String, Option<Source>)> {
        let set = self.all("identityfile");
        if set.is_empty() {
            DEFAULT_IDENTITY_FILES
                .iter()
                .map(|p| (p.to_string(), None))
                .collect()
        } else {
            set.iter()
                .map(|s| (s.args[0].clone(), Some(s.source.clone())))
                .collect()
        }
    }

    /// Expand `~`, `${VAR}` and `%` tokens in a path for display (`show`):
    /// as ssh would, or the value as written when ssh would not expand it.
    pub fn expand_path(&self, value: &str) -> String {
        self.expand_path_checked(value, true)
            .unwrap_or_else(|_| value.to_string())
    }

    /// `~` as ssh's `tilde_expand` (misc.c) does it: `~` and `~/…` are the
    /// account's home from the password database, `~user/…` that user's
    /// home; an unknown user is an error ssh stops on.
    pub fn tilde_expand(&self, value: &str) -> Result<String, ExpandError> {
        let Some(rest) = value.strip_prefix('~') else {
            return Ok(value.to_string());
        };
        let (home, path) = match rest.strip_prefix('/') {
            Some(p) => (self.ctx.user_home.to_string_lossy().into_owned(), p),
            None if rest.is_empty() => (self.ctx.user_home.to_string_lossy().into_owned(), ""),
            None => {
                let (user, path) = rest.split_once('/').unwrap_or((rest, ""));
                match crate::platform::home_of(user) {
                    Some(h) => (h.to_string_lossy().into_owned(), path),
                    None => {
                        return Err(ExpandError::Ssh(format!(
                            "tilde_expand: No such user {user} (in {value:?})"
                        )));
                    }
                }
            }
        };
        let path = path.trim_start_matches('/');
        let slash = if home.ends_with('/') { "" } else { "/" };
        Ok(format!("{home}{slash}{path}"))
    }

    /// A path as ssh expands it for `UserKnownHostsFile`, `IdentityFile`,
    /// `IdentityAgent`, `RevokedHostKeys` (ssh.c: `tilde_expand_filename`,
    /// then `default_client_percent_dollar_expand` with
    /// `DEFAULT_CLIENT_PERCENT_EXPAND_ARGS`). `tokens` false: `~` only, as
    /// for `GlobalKnownHostsFile`.
    pub fn expand_path_checked(&self, value: &str, tokens: bool) -> Result<String, ExpandError> {
        let tilde = self.tilde_expand(value)?;
        if !tokens {
            return Ok(tilde);
        }
        let mut out = String::new();
        let mut missing = None;
        let mut rest = tilde.as_str();
        while let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
            if c == '$' && rest.starts_with('{') {
                let body = &rest[1..];
                let Some(end) = body.find('}') else {
                    return Err(ExpandError::Ssh(format!(
                        "environment variable '{body}' missing closing '}}' in {value:?}"
                    )));
                };
                let name = &body[..end];
                if name.is_empty() {
                    return Err(ExpandError::Ssh(format!(
                        "zero-length environment variable in {value:?}"
                    )));
                }
                match std::env::var_os(name) {
                    Some(v) => out.push_str(&v.to_string_lossy()),
                    None => missing = missing.or(Some(name.to_string())),
                }
                rest = &body[end + 1..];
                continue;
            }
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(t) = rest.chars().next() else {
                return Err(ExpandError::Ssh(format!(
                    "percent_expand: invalid format (a % at the end of {value:?})"
                )));
            };
            rest = &rest[t.len_utf8()..];
            out.push_str(&self.token(t, value)?);
        }
        match missing {
            Some(name) => Err(ExpandError::Ssh(format!(
                "env var ${{{name}}} has no value: invalid environment variable expansion in {value:?}"
            ))),
            None => Ok(out),
        }
    }

    /// One `%` token of `DEFAULT_CLIENT_PERCENT_EXPAND_ARGS`.
    fn token(&self, t: char, value: &str) -> Result<String, ExpandError> {
        let (hostname, _) = self.hostname();
        let thishost = || {
            crate::platform::local_hostname().ok_or_else(|| {
                ExpandError::Unknown(format!(
                    "%{t} in {value:?} is this machine's host name, which runpod-ssh could not read"
                ))
            })
        };
        Ok(match t {
            '%' => "%".into(),
            'h' => hostname,
            'p' => self.port().0.to_string(),
            'r' => {
                let u = self.user().0;
                if u.contains('%') || u.contains("${") {
                    return Err(ExpandError::Unknown(format!(
                        "%r in {value:?} is the User after ssh expands its own tokens, which runpod-ssh does not reproduce"
                    )));
                }
                u
            }
            'u' => self.ctx.local_user.clone(),
            'd' => self.ctx.user_home.to_string_lossy().into_owned(),
            'n' => self.host.clone(),
            // ssh lowercases HostKeyAlias; without one, the alias as typed.
            'k' => self
                .get("hostkeyalias")
                .map(|s| s.args[0].to_ascii_lowercase())
                .unwrap_or_else(|| self.host.clone()),
            'i' => self.ctx.uid.to_string(),
            'l' => thishost()?,
            'L' => {
                let h = thishost()?;
                h.split('.').next().unwrap_or_default().to_string()
            }
            'C' => {
                if self
                    .get("proxyjump")
                    .is_some_and(|s| !s.args[0].eq_ignore_ascii_case("none"))
                {
                    return Err(ExpandError::Unknown(format!(
                        "%C in {value:?} hashes the ProxyJump host as ssh parsed it, which runpod-ssh does not reproduce"
                    )));
                }
                let r = self.token('r', value)?;
                use sha1::Digest;
                let mut h = sha1::Sha1::new();
                for part in [thishost()?, hostname, self.port().0.to_string(), r] {
                    h.update(part.as_bytes());
                }
                h.finalize().iter().map(|b| format!("{b:02x}")).collect()
            }
            // %j arrived in OpenSSH 9.5; older clients refuse it.
            'j' => {
                return Err(ExpandError::Unknown(format!(
                    "%j in {value:?} means different things to different ssh versions (unknown before 9.5)"
                )));
            }
            o => {
                return Err(ExpandError::Ssh(format!(
                    "percent_expand: unknown key %{o} in {value:?}"
                )));
            }
        })
    }

    /// The evaluation in `ssh -G`'s form: `host`, `user`, `hostname`,
    /// `port`, then every keyword the config set, each with its source.
    pub fn print(&self) -> Vec<Printed> {
        let mut out = Vec::new();
        let mut put = |k: &str, v: String, s: Option<Source>| {
            out.push(Printed {
                keyword: k.to_string(),
                value: v,
                source: s,
            })
        };
        put("host", self.host.clone(), None);
        let (u, us) = self.user();
        put("user", u, us);
        let (h, hs) = self.hostname();
        put("hostname", h, hs);
        let (p, ps) = self.port();
        put("port", p.to_string(), ps);
        let mut seen: Vec<&'static str> = Vec::new();
        for s in &self.settings {
            if !seen.contains(&s.keyword) {
                seen.push(s.keyword);
            }
        }
        if !seen.contains(&"identityfile") {
            seen.push("identityfile");
        }
        for kw in seen {
            if matches!(kw, "hostname" | "port" | "user") {
                continue;
            }
            let Some(k) = keywords::lookup(kw) else {
                continue;
            };
            if kw == "identityfile" {
                for (f, s) in self.identity_files() {
                    put(kw, f, s);
                }
                continue;
            }
            for s in self.all(kw) {
                let src = Some(s.source.clone());
                match k.kind {
                    Kind::Append | Kind::SendEnv => put(kw, s.args[0].clone(), src),
                    Kind::LineList => {
                        for a in &s.args {
                            put(kw, a.clone(), src.clone());
                        }
                    }
                    Kind::PathLineList => {
                        let v: Vec<String> = s
                            .args
                            .iter()
                            .map(|a| {
                                if a.eq_ignore_ascii_case("none") {
                                    a.clone()
                                } else {
                                    self.expand_path(a)
                                }
                            })
                            .collect();
                        put(kw, v.join(" "), src);
                    }
                    Kind::OneLineList | Kind::Other => put(kw, s.args.join(" "), src),
                    Kind::Forward | Kind::DynamicForward => {
                        if let Some((l, t)) = parse_forward(kw, &s.args) {
                            put(kw, t.map_or(l.clone(), |t| format!("{l} {t}")), src);
                        }
                    }
                    _ => put(kw, print_single(k.kind, kw, &s.args, self), src),
                }
            }
        }
        out
    }
}

fn print_single(kind: Kind, kw: &str, args: &[String], r: &Resolved) -> String {
    let v = &args[0];
    let lc = v.to_ascii_lowercase();
    match kind {
        Kind::Flag => match lc.as_str() {
            "yes" | "true" => "yes".into(),
            _ => "no".into(),
        },
        Kind::Enum(t) => t
            .iter()
            .find(|(k, _)| *k == lc)
            .map_or(v.clone(), |(_, p)| p.to_string()),
        Kind::Time => convtime(v).map_or(v.clone(), |s| s.to_string()),
        Kind::ConnectTimeout => {
            if lc == "none" {
                "none".into()
            } else {
                convtime(v).map_or(v.clone(), |s| s.to_string())
            }
        }
        Kind::ControlPersist => match lc.as_str() {
            "yes" | "true" => "yes".into(),
            "no" | "false" => "no".into(),
            _ => match convtime(v) {
                Some(0) => "yes".into(),
                Some(s) => s.to_string(),
                None => v.clone(),
            },
        },
        Kind::LogLevel => log_level(v).unwrap_or("INFO").to_string(),
        Kind::AddKeysToAgent => addkeys_print(args).unwrap_or_else(|| v.clone()),
        Kind::ForwardAgent => match lc.as_str() {
            "yes" | "true" => "yes".into(),
            "no" | "false" => "no".into(),
            _ => r.expand_path(v),
        },
        Kind::ExpandedPath => {
            if kw == "identityagent" && (lc == "none" || lc == "ssh_auth_sock") {
                v.clone()
            } else {
                r.expand_path(v)
            }
        }
        Kind::ProxyJump => print_proxyjump(v),
        // ssh lowercases the alias it looks host keys up under.
        _ if kw == "hostkeyalias" => v.to_ascii_lowercase(),
        _ => v.clone(),
    }
}

/// `ssh -G` prints the last hop of ProxyJump normalised: a numeric host in
/// brackets, the port only when given.
fn print_proxyjump(v: &str) -> String {
    if v.eq_ignore_ascii_case("none") {
        return "none".into();
    }
    let (extra, last) = match v.rfind(',') {
        Some(i) if i > 0 => (Some(&v[..i]), &v[i + 1..]),
        _ => (None, v),
    };
    let last = last.strip_prefix("ssh://").unwrap_or(last);
    let (user, hp) = match last.rfind('@') {
        Some(i) => (Some(&last[..i]), &last[i + 1..]),
        None => (None, last),
    };
    let (host, port) = if let Some(rest) = hp.strip_prefix('[') {
        match rest.find(']') {
            Some(e) => (
                &rest[..e],
                rest[e + 1..].strip_prefix(':').and_then(parse_port),
            ),
            None => (hp, None),
        }
    } else {
        match hp.rfind(':') {
            Some(i) if hp[..i].find(':').is_none() => (&hp[..i], parse_port(&hp[i + 1..])),
            _ => (hp, None),
        }
    };
    let numeric = host.contains(':') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let mut out = String::new();
    if let Some(e) = extra {
        out.push_str(e);
        out.push(',');
    }
    if let Some(u) = user {
        out.push_str(u);
        out.push('@');
    }
    if numeric {
        out.push_str(&format!("[{host}]"));
    } else {
        out.push_str(host);
    }
    if let Some(p) = port {
        out.push_str(&format!(":{p}"));
    }
    out
}
