//! The evaluator: one pass over the lines, first value wins.

use std::collections::HashMap;
use std::path::Path;

use super::super::document::{Document, Encoding};
use super::plan::{Plan, names_exec};
use super::values::{dollar_unset, expand_hostname, lower_unless_address, unknown_percent};
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
