//! The evaluator: one pass over the lines, first value wins.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::super::document::{Document, Encoding, line_spans};
use super::super::keywords::Kind;
use super::super::lexer::{Directive, LineKind, lex_line};
use super::plan::{Plan, names_exec};
use super::values::{dollar_unset, expand_hostname, lower_unless_address, unknown_percent};
use super::{Context, Diagnostic, Input, Resolved, Setting, Source};

pub(super) struct Evaluator<'c> {
    pub(super) ctx: &'c Context,
    /// Which ssh reads the file.
    pub(super) client: crate::refusal::Client,
    /// What `Host` patterns are matched against.
    pub(super) host: String,
    pub(super) original_host: String,
    pub(super) settings: Vec<Setting>,
    /// Keyword → its settings, in order. FNV: looked up on every line,
    /// and the keys are the fixed keyword names.
    pub(super) index: HashMap<&'static str, Slots, crate::hash::Fx>,
    /// A `SendEnv -PATTERN` dropped settings from `index`: `finish` must
    /// leave them out.
    pub(super) dropped: bool,
    /// The context [`Resolved`] keeps, when the caller shares one.
    pub(super) shared: Option<Arc<Context>>,
    pub(super) errors: Vec<Diagnostic>,
    pub(super) warnings: Vec<Diagnostic>,
    pub(super) not_evaluated: Vec<Diagnostic>,
    pub(super) want_final: bool,
    pub(super) final_pass: bool,
    /// Reading the system config (relative Includes are under /etc/ssh).
    pub(super) system: bool,
    pub(super) runs_commands: Option<Source>,
    /// Per-file error counts are folded into `errors`; this keeps messages
    /// from being reported twice across passes.
    pub(super) quiet: bool,
    /// Only these settings are wanted, without sources (see
    /// [`super::Resolver::resolve_values`]); `None` keeps everything.
    pub(super) keep: Option<&'static [&'static str]>,
    /// Argument lists of settings dropped since (their strings keep their
    /// room): reused by [`Evaluator::store`] for the next host of a
    /// `list`, rather than allocated again for every value.
    spare: Vec<Vec<String>>,
}

/// The settings of one keyword, by position: most keywords are set once,
/// so one position is kept in place (no allocation per setting).
#[derive(Debug, Clone, Default)]
pub(super) enum Slots {
    #[default]
    Empty,
    One(usize),
    Many(Vec<usize>),
}

impl Slots {
    pub(super) fn push(&mut self, i: usize) {
        match self {
            Slots::Empty => *self = Slots::One(i),
            Slots::One(a) => *self = Slots::Many(vec![*a, i]),
            Slots::Many(v) => v.push(i),
        }
    }
}

impl From<Vec<usize>> for Slots {
    fn from(v: Vec<usize>) -> Slots {
        Slots::Many(v)
    }
}

impl std::ops::Deref for Slots {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        match self {
            Slots::Empty => &[],
            Slots::One(a) => std::slice::from_ref(a),
            Slots::Many(v) => v,
        }
    }
}

/// Settings whose values the evaluator itself reads back (matching, first
/// value checks): kept whole when only some settings are wanted.
const READ_BACK: &[&str] = &[
    "hostname",
    "user",
    "ignoreunknown",
    "canonicalizehostname",
    "sendenv",
];

impl<'c> Evaluator<'c> {
    pub(super) fn new(host: &str, ctx: &'c Context) -> Self {
        Evaluator {
            host: host.to_string(),
            original_host: host.to_string(),
            // Room for a typical host's settings without regrowing.
            settings: Vec::with_capacity(8),
            index: HashMap::with_capacity_and_hasher(8, Default::default()),
            ..Evaluator::bare(ctx)
        }
    }

    /// This evaluator as [`Evaluator::new`] makes it for `host`, keeping
    /// the allocations [`Evaluator::finish`] leaves (one evaluator for
    /// every host of a `list`, not one each).
    pub(super) fn reset(&mut self, host: &str) {
        let reuse = |s: &mut String| {
            let mut s = std::mem::take(s);
            s.clear();
            s.push_str(host);
            s
        };
        let (host, original_host) = (reuse(&mut self.host), reuse(&mut self.original_host));
        let mut index = std::mem::take(&mut self.index);
        index.clear();
        let mut settings = std::mem::take(&mut self.settings);
        let mut spare = std::mem::take(&mut self.spare);
        for s in settings.drain(..) {
            // A few lists are enough for one host's values.
            if spare.len() < 16 {
                spare.push(s.args);
            }
        }
        if settings.capacity() == 0 {
            settings.reserve(8);
        }
        *self = Evaluator {
            host,
            original_host,
            settings,
            index,
            spare,
            ..Evaluator::bare(self.ctx)
        };
    }

    /// `args` as an owned list, in a spare one when there is one.
    fn owned(&mut self, args: &[&str]) -> Vec<String> {
        let Some(mut v) = self.spare.pop() else {
            return args.iter().map(|s| s.to_string()).collect();
        };
        v.truncate(args.len());
        for (i, a) in args.iter().enumerate() {
            match v.get_mut(i) {
                Some(s) if s.capacity() >= a.len() => {
                    s.clear();
                    s.push_str(a);
                }
                // (Not grown: a new one is allocated at its size at once.)
                Some(s) => *s = a.to_string(),
                None => v.push(a.to_string()),
            }
        }
        v
    }

    /// A fresh evaluator for no host, without allocating.
    fn bare(ctx: &'c Context) -> Self {
        Evaluator {
            ctx,
            client: crate::refusal::Client::OpenSsh,
            host: String::new(),
            original_host: String::new(),
            settings: Vec::new(),
            index: HashMap::default(),
            dropped: false,
            shared: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            not_evaluated: Vec::new(),
            want_final: false,
            final_pass: false,
            system: false,
            runs_commands: None,
            quiet: false,
            keep: None,
            spare: Vec::new(),
        }
    }

    pub(super) fn run_pass(&mut self, input: Input, path: &Path, quiet: bool) {
        self.quiet = quiet;
        if self.refuses_encoding(input.encoding(), path) {
            return;
        }
        self.read_input(input, path, &mut true, false, 0);
    }

    pub(super) fn run_pass_planned(&mut self, doc: &Document, path: &Path, plan: &Plan) {
        self.quiet = false;
        if self.refuses_encoding(doc.encoding(), path) {
            return;
        }
        self.read_planned(doc, path, plan, &mut true);
    }

    /// A file no ssh (UTF-16) or no ssh outside Windows (a BOM) reads.
    fn refuses_encoding(&mut self, encoding: Encoding, path: &Path) -> bool {
        let why = match encoding {
            Encoding::Utf16Le | Encoding::Utf16Be => {
                "file is UTF-16 (as PowerShell's `>` writes it): ssh cannot read it"
            }
            Encoding::Utf8Bom if !cfg!(windows) => {
                "file starts with a UTF-8 byte-order mark: ssh on Linux and macOS cannot read it"
            }
            _ => return false,
        };
        self.error(path, 1, why.into());
        true
    }

    /// [`Evaluator::read_input`] of the top-level file, visiting only the
    /// blocks that `plan` says can apply to the names being evaluated.
    pub(super) fn read_planned(
        &mut self,
        doc: &Document,
        path: &Path,
        plan: &Plan,
        active: &mut bool,
    ) {
        let empty: &[usize] = &[];
        let by_host = plan.host.get(self.host.as_str()).map_or(empty, |s| &s[..]);
        let by_original = if plan.match_originalhost.is_empty() {
            empty
        } else {
            let original = self.original_host.to_ascii_lowercase();
            plan.match_originalhost
                .get(original.as_str())
                .map_or(empty, |s| &s[..])
        };
        let next_in = |list: &[usize], from: usize| -> Option<usize> {
            list.get(list.partition_point(|&b| b < from)).copied()
        };
        let before = self.errors.len();
        let mut from = 0;
        // `Match host` compares the hostname known at that point, which an
        // earlier block may have set (once: the first value wins). Looked
        // up again only when that has changed.
        let mut by_hostname: &[usize] = empty;
        let mut hostname_set = None;
        loop {
            let now_set = self.has("hostname");
            if !plan.match_host.is_empty() && hostname_set != Some(now_set) {
                hostname_set = Some(now_set);
                let hostname = self.match_host_lowercase();
                by_hostname = plan
                    .match_host
                    .get(hostname.as_ref())
                    .map_or(empty, |s| &s[..]);
            }
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
            match plan.visit_lines(bi) {
                Some(lines) => {
                    for &i in lines {
                        let (i, line) = (i as usize, &doc.lines()[i as usize]);
                        self.visit(i, line.bytes(), line.kind(), path, active, false, 0);
                    }
                }
                None => {
                    for i in plan.blocks[bi].clone() {
                        let line = &doc.lines()[i];
                        self.visit(i, line.bytes(), line.kind(), path, active, false, 0);
                    }
                }
            }
            from = bi + 1;
        }
        self.count_bad(path, before);
    }

    /// What `Match host` is compared with (`readconf.c:match_cfg_line`):
    /// the HostName value with `%h` expanded (not in the final pass), else
    /// the host as given, `%` and all. Borrowed when nothing is expanded.
    fn match_host(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self.first("hostname") {
            Some(h) if !self.final_pass && h.args[0].contains('%') => {
                Cow::Owned(expand_hostname(&h.args[0], &self.host))
            }
            Some(h) if !self.final_pass => Cow::Borrowed(&h.args[0]),
            _ => Cow::Borrowed(&self.host),
        }
    }

    pub(super) fn match_host_value(&self) -> String {
        self.match_host().into_owned()
    }

    /// [`Evaluator::match_host`] lowercased, still borrowed when there is
    /// nothing to lower (looked up for every host of a `list`).
    fn match_host_lowercase(&self) -> std::borrow::Cow<'_, str> {
        match self.match_host() {
            std::borrow::Cow::Borrowed(raw) if !raw.bytes().any(|b| b.is_ascii_uppercase()) => {
                std::borrow::Cow::Borrowed(raw)
            }
            h => std::borrow::Cow::Owned(h.to_ascii_lowercase()),
        }
    }

    pub(super) fn finish(&mut self, host: &str) -> Resolved {
        // What ssh expands after reading (unknown `%` tokens, unset
        // `${VAR}`) stops it only when the config itself was accepted.
        // (Only diagnostics: not when just some values are wanted.)
        if self.errors.is_empty() && self.keep.is_none() {
            self.quiet = false;
            check_expansions(self);
        }
        let mut settings = std::mem::take(&mut self.settings);
        if self.dropped {
            // Entries dropped by `SendEnv -NAME` are no longer in the index.
            let mut live = vec![false; settings.len()];
            for &i in self.index.values().flat_map(|v| v.iter()) {
                live[i] = true;
            }
            let mut i = 0;
            settings.retain(|_| {
                i += 1;
                live[i - 1]
            });
        }
        if let Some(keep) = self.keep {
            settings.retain(|s| keep.contains(&s.keyword));
        }
        let ctx = match self.shared.take() {
            Some(c) => c,
            None => Arc::new(self.ctx.clone()),
        };
        Resolved {
            host: host.to_string(),
            settings,
            errors: std::mem::take(&mut self.errors),
            warnings: std::mem::take(&mut self.warnings),
            not_evaluated: std::mem::take(&mut self.not_evaluated),
            runs_commands: self.runs_commands.take(),
            ctx,
        }
    }

    /// What [`Evaluator::finish`] and [`Resolved::into_row`] make of
    /// this evaluation, without the [`Resolved`]: each row value is
    /// moved out of the first setting of its keyword, in one pass over the
    /// settings (as `into_row` takes it). `kept`: whether `finish` would
    /// keep HostName, Port, User and IdentityFile (said once by the
    /// caller, not for every host).
    pub(super) fn take_row(&mut self, host: &str, kept: [bool; 4]) -> super::RowValues {
        let mut row: [Option<Option<String>>; 4] = Default::default();
        for s in &mut self.settings {
            let at = match s.keyword {
                "hostname" => 0,
                "port" => 1,
                "user" => 2,
                "identityfile" => 3,
                _ => continue,
            };
            // (Only `SendEnv -` drops settings: none of these.)
            if row[at].is_none() {
                row[at] = Some(s.args.first_mut().map(std::mem::take));
            }
        }
        let [hostname, port, user, identity] = row;
        let value = |v: Option<Option<String>>, k: usize| v.flatten().filter(|_| kept[k]);
        super::RowValues::from_first(
            host,
            value(hostname, 0),
            value(port, 1),
            value(user, 2),
            value(identity, 3),
            &self.ctx.local_user,
        )
    }

    pub(super) fn first(&self, kw: &str) -> Option<&Setting> {
        self.index
            .get(kw)
            .and_then(|v| v.first())
            .map(|&i| &self.settings[i])
    }

    pub(super) fn has(&self, kw: &str) -> bool {
        self.index.get(kw).is_some_and(|v| !v.is_empty())
    }

    pub(super) fn push(&mut self, keyword: &'static str, args: Vec<String>, source: Source) {
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

    /// Keep a setting from line `line` of `file`: whole, or, when only
    /// some settings are wanted, without the allocations nobody reads
    /// (the source's path; the values of what is neither wanted nor read
    /// back, nor `read_back` for the caller's own checks).
    pub(super) fn store(
        &mut self,
        keyword: &'static str,
        args: &[&str],
        file: &Path,
        line: usize,
        read_back: bool,
    ) {
        let Some(keep) = self.keep else {
            let source = Source {
                file: file.to_path_buf(),
                line,
            };
            let args = self.owned(args);
            return self.push(keyword, args, source);
        };
        let whole = read_back || keep.contains(&keyword) || READ_BACK.contains(&keyword);
        let source = Source {
            file: std::path::PathBuf::new(),
            line,
        };
        let args = if whole { self.owned(args) } else { Vec::new() };
        self.push(keyword, args, source);
    }

    pub(super) fn error(&mut self, file: &Path, line: usize, message: String) {
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

    pub(super) fn warn(&mut self, file: &Path, line: usize, message: String) {
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
    pub(super) fn final_hostname(&self) -> String {
        let raw = match self.first("hostname") {
            Some(s) => expand_hostname(&s.args[0], &self.host),
            None => self.host.clone(),
        };
        lower_unless_address(&raw)
    }

    /// Every line of a file, in order.
    pub(super) fn read_input(
        &mut self,
        input: Input,
        path: &Path,
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) {
        let before = self.errors.len();
        match input {
            Input::Doc(doc) => {
                for (i, line) in doc.lines().iter().enumerate() {
                    self.visit(
                        i,
                        line.bytes(),
                        line.kind(),
                        path,
                        active,
                        never_match,
                        depth,
                    );
                }
            }
            Input::Text(_, text) => {
                // Lexed as read and dropped: no document is kept.
                for (i, (range, _)) in line_spans(text).enumerate() {
                    let bytes = &text[range];
                    let kind = lex_line(bytes);
                    self.visit(i, bytes, &kind, path, active, never_match, depth);
                }
            }
        }
        self.count_bad(path, before);
    }

    /// Line `i` (0-based) of `path`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn visit(
        &mut self,
        i: usize,
        bytes: &[u8],
        kind: &LineKind,
        path: &Path,
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) {
        let LineKind::Directive(d) = kind else {
            return;
        };
        if self.runs_commands.is_none() && names_exec(&d.keyword_lc, bytes) {
            self.runs_commands = Some(Source {
                file: path.to_path_buf(),
                line: i + 1,
            });
        }
        if self.keep.is_some_and(|keep| !sets_what_is_kept(d, keep)) {
            return;
        }
        self.process_line(d, bytes, path, i + 1, active, never_match, depth);
    }

    /// OpenSSH's closing line for a file with bad options.
    pub(super) fn count_bad(&mut self, path: &Path, before: usize) {
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
}

/// Whether evaluating `d` can change a value [`Evaluator::keep`] keeps:
/// a header or an `Include` (which blocks apply), a kept keyword or one
/// the evaluator reads back. Any other known keyword only sets itself
/// (dropped by `finish`) or reports a problem, which a values-only caller
/// does not read; an unknown one is evaluated (rare: an `IgnoreUnknown`
/// or Apple keyword may matter).
pub(super) fn sets_what_is_kept(d: &Directive, keep: &[&str]) -> bool {
    let Some(kw) = d.known else {
        return true;
    };
    matches!(kw.kind, Kind::Host | Kind::Match | Kind::Include)
        || keep.contains(&kw.name)
        || READ_BACK.contains(&kw.name)
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
