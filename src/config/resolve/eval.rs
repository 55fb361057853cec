//! The evaluator: one pass over the lines, first value wins.

use std::collections::HashMap;
use std::path::Path;

use super::super::document::{Document, Encoding};
use super::super::keywords::{self, Kind};
use super::super::lexer::{Directive, LexError};
use super::super::pattern;
use super::plan::{Plan, names_exec};
use super::values::{
    addkeys_print, dollar_unset, expand_hostname, lower_unless_address, other_value_error,
    parse_forward, unknown_percent, validate,
};
use super::{Context, Diagnostic, Resolved, Setting, Source};

pub(super) struct Evaluator<'c> {
    pub(super) ctx: &'c Context,
    /// Which ssh reads the file.
    pub(super) client: crate::refusal::Client,
    /// What `Host` patterns are matched against.
    pub(super) host: String,
    pub(super) original_host: String,
    pub(super) settings: Vec<Setting>,
    pub(super) index: HashMap<&'static str, Vec<usize>>,
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
}

impl<'c> Evaluator<'c> {
    pub(super) fn new(host: &str, ctx: &'c Context) -> Self {
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

    pub(super) fn run_pass(&mut self, doc: &Document, path: &Path, quiet: bool) {
        self.run_pass_planned(doc, path, quiet, None);
    }

    pub(super) fn run_pass_planned(
        &mut self,
        doc: &Document,
        path: &Path,
        quiet: bool,
        plan: Option<&Plan>,
    ) {
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
    pub(super) fn read_planned(
        &mut self,
        doc: &Document,
        path: &Path,
        plan: &Plan,
        active: &mut bool,
    ) {
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
    pub(super) fn match_host_value(&self) -> String {
        if self.final_pass {
            self.host.clone()
        } else if let Some(h) = self.first("hostname") {
            expand_hostname(&h.args[0], &self.host)
        } else {
            self.host.clone()
        }
    }

    pub(super) fn finish(mut self, host: &str) -> Resolved {
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

    pub(super) fn read_doc(
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

    #[allow(clippy::too_many_arguments)]
    pub(super) fn process_line(
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
