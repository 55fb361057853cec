//! [`Resolver`]: one document evaluated for many hosts, visiting only the
//! blocks that can apply to each.

use std::borrow::Cow;
use std::collections::HashMap;

use std::path::Path;

use super::super::document::Document;
use super::super::document::{Encoding, decode};
use super::eval::{Slots, sets_what_is_kept};
use super::{Context, Evaluator, Input, Resolved, resolve};

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
    /// What every [`Resolved`] keeps: one copy, not one per host.
    shared: std::sync::Arc<Context>,
    plan: Plan<'a>,
    /// Set by [`Resolver::for_values`]: only these settings' values.
    keep: Option<&'static [&'static str]>,
    /// Whether `keep` holds HostName, Port, User and IdentityFile (what
    /// [`Resolver::resolve_row`] reads).
    row_kept: [bool; 4],
    /// The evaluator of the last host, reset for the next.
    scratch: std::cell::Cell<Option<Evaluator<'a>>>,
    /// The system config (`ctx.system_config`, read once): ssh without
    /// `-F` reads it after the user's file, as [`resolve`] does.
    system: Option<(std::path::PathBuf, Encoding, Vec<u8>)>,
}

/// `ctx.system_config`'s text, when there is one to read. A file that
/// cannot be read is left to [`resolve`]'s diagnostics (the file's
/// judgement), as a missing one is empty.
fn system_text(ctx: &Context) -> Option<(std::path::PathBuf, Encoding, Vec<u8>)> {
    let p = ctx.system_config.as_ref()?;
    let bytes = crate::fsio::read_limited(p).ok()?.bytes;
    let (encoding, text) = decode(&bytes);
    let text = text.into_owned();
    Some((p.clone(), encoding, text))
}

/// Which blocks (line ranges of the top-level file) can apply to which name.
#[derive(Default)]
pub(super) struct Plan<'a> {
    /// Block line ranges; block 0 is the global section.
    pub(super) blocks: Vec<std::ops::Range<usize>>,
    /// Blocks visited for every host.
    pub(super) always: Vec<usize>,
    /// Literal `Host` pattern (case-sensitive, as OpenSSH) → blocks.
    pub(super) host: Names<'a>,
    /// Lowercased literal of a `Match originalhost` → blocks.
    pub(super) match_originalhost: Names<'a>,
    /// Lowercased literal of a `Match host` → blocks.
    pub(super) match_host: Names<'a>,
    /// Blocks were indexed on their header alone: a skipped block may
    /// hold lines that report something (see [`Resolver::for_values`]).
    pub(super) values_only: bool,
    /// With `values_only`: the lines of each block a values-only
    /// evaluation does not pass over (`Evaluator::visit` returns at once
    /// for the others), block `b`'s from `visit_at[b]` to `visit_at[b +
    /// 1]`; said once here, not again for every host. Empty otherwise.
    visit: Vec<u32>,
    visit_at: Vec<u32>,
}

/// Name → blocks. FNV: looked up for every host evaluated, and the names
/// come from the user's own config (no flooding to resist). Names borrow
/// the document's text when they can, and most name one block: no
/// allocation per name (a `list` of 10,000 hosts spent 5% freeing them).
pub(super) type Names<'a> = HashMap<Cow<'a, str>, Slots, crate::hash::Fx>;

impl<'a> Plan<'a> {
    /// `values_only`: a block is indexed when its header alone evaluates
    /// silently (no line of a block that does not apply sets anything, so
    /// the values are the same; only diagnostics of its other lines would
    /// be missed), rather than when every line does — one header per
    /// block evaluated, not the whole file.
    fn new(
        doc: &'a Document,
        path: &Path,
        ctx: &Context,
        keep: Option<&'static [&'static str]>,
    ) -> Plan<'a> {
        let values_only = keep.is_some();
        let mut plan = Plan {
            values_only,
            ..Plan::default()
        };
        let lines = doc.lines();
        // Like `Document::blocks`: the global section, then each header up
        // to the next one. One pass over the lines finds the headers and
        // which blocks hold an `Include` (which reads other files: such a
        // block is always visited).
        let mut headers: Vec<usize> = Vec::new();
        let mut includes: Vec<bool> = vec![false];
        for (i, l) in lines.iter().enumerate() {
            match l.keyword() {
                Some("host" | "match") => {
                    headers.push(i);
                    includes.push(false);
                }
                Some("include") => {
                    if let Some(last) = includes.last_mut() {
                        *last = true;
                    }
                }
                _ => {}
            }
        }
        // Most blocks are `Host NAME…`, often two names: room for two
        // each, not regrown.
        plan.host.reserve(headers.len() * 2);
        plan.blocks.reserve(headers.len() + 1);
        plan.blocks
            .push(0..headers.first().copied().unwrap_or(lines.len()));
        for (k, &h) in headers.iter().enumerate() {
            plan.blocks
                .push(h..headers.get(k + 1).copied().unwrap_or(lines.len()));
        }
        if let Some(keep) = keep {
            plan.visited_lines(doc, keep);
        }
        // One scratch evaluator for every block's check, not one each.
        let mut scratch = Evaluator::new("", ctx);
        for (bi, &has_include) in includes.iter().enumerate() {
            let range = plan.blocks[bi].clone();
            let keyed = if bi == 0 || has_include {
                None
            } else {
                let l = &lines[range.start];
                let checked = if values_only {
                    range.start..range.start + 1
                } else {
                    range.clone()
                };
                l.directive()
                    .filter(|d| d.error.is_none())
                    .and_then(|d| index_key(&d.keyword_lc, d.values(l.bytes())))
                    .filter(|(key, _)| {
                        // A valid `Host` line of literal names sets nothing
                        // and reports nothing for the empty host (no empty
                        // pattern; a literal never matches ""): its header
                        // alone needs no evaluation.
                        (values_only && matches!(key, Key::Host))
                            || silent_when_inactive(&mut scratch, doc, path, checked)
                    })
                    .filter(|_| !l.keyword().is_some_and(|k| names_exec(k, l.bytes())))
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

impl Plan<'_> {
    /// Fills `visit` and `visit_at`: a block's directive lines that may
    /// hold `exec` (`visit` notes where) or set what is kept.
    fn visited_lines(&mut self, doc: &Document, keep: &[&str]) {
        let lines = doc.lines();
        if u32::try_from(lines.len()).is_err() {
            return;
        }
        self.visit_at.reserve(self.blocks.len() + 1);
        for b in &self.blocks {
            self.visit_at.push(self.visit.len() as u32);
            for i in b.clone() {
                let l = &lines[i];
                let wanted = l.directive().is_some_and(|d| {
                    names_exec(&d.keyword_lc, l.bytes()) || sets_what_is_kept(d, keep)
                });
                if wanted {
                    self.visit.push(i as u32);
                }
            }
        }
        self.visit_at.push(self.visit.len() as u32);
    }

    /// The lines of block `b` a values-only evaluation visits, when they
    /// were listed.
    pub(super) fn visit_lines(&self, b: usize) -> Option<&[u32]> {
        let (from, to) = (*self.visit_at.get(b)?, *self.visit_at.get(b + 1)?);
        self.visit.get(from as usize..to as usize)
    }
}

/// A `Match` line that may hold `exec` (the same test as
/// [`crate::oracle::runs_commands`]).
pub(super) fn names_exec(keyword_lc: &str, bytes: &[u8]) -> bool {
    keyword_lc == "match" && bytes.windows(4).any(|w| w.eq_ignore_ascii_case(b"exec"))
}

/// Whether the lines of a block report nothing when it does not apply, so
/// skipping it changes no diagnostic either. What an inactive line reports
/// does not depend on the host, except an unknown keyword that an
/// `IgnoreUnknown` may excuse: with none in effect here, such a block is
/// kept (always visited).
fn silent_when_inactive(
    ev: &mut Evaluator,
    doc: &Document,
    path: &Path,
    range: std::ops::Range<usize>,
) -> bool {
    // A fresh evaluation for the empty host (what `Evaluator::new("")`
    // starts from).
    ev.settings.clear();
    ev.index.clear();
    ev.errors.clear();
    ev.warnings.clear();
    ev.not_evaluated.clear();
    ev.want_final = false;
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
fn index_key<'a>(
    keyword: &str,
    args: impl Iterator<Item = &'a str>,
) -> Option<(Key, Vec<Cow<'a, str>>)> {
    let literal = |p: &str| !p.is_empty() && !p.contains(['*', '?']);
    if keyword == "host" {
        // Negated entries only ever disable the block. No empty entry, and
        // every positive one literal.
        let mut positive = Vec::new();
        for a in args {
            if a.is_empty() {
                return None;
            }
            if !a.starts_with('!') {
                if !literal(a) {
                    return None;
                }
                positive.push(Cow::Borrowed(a));
            }
        }
        return (!positive.is_empty()).then_some((Key::Host, positive));
    }
    let args: Vec<&str> = args.collect();
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
                    let lower = |e: &&'a str| -> Cow<'a, str> {
                        if e.bytes().any(|b| b.is_ascii_uppercase()) {
                            Cow::Owned(e.to_ascii_lowercase())
                        } else {
                            Cow::Borrowed(*e)
                        }
                    };
                    key = Some((which, entries.iter().map(lower).collect()));
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
            shared: std::sync::Arc::new(ctx.clone()),
            plan: Plan::new(doc, path, ctx, None),
            keep: None,
            row_kept: [true; 4],
            scratch: Default::default(),
            system: system_text(ctx),
        }
    }

    /// A resolver for [`Resolver::resolve_values`] of the settings named
    /// in `keep` (canonical lowercase names), for a caller that prints
    /// values of a config already judged (`list`: a row per host). Its
    /// diagnostics are incomplete: only lines that can change those
    /// values are evaluated.
    pub fn for_values(
        doc: &'a Document,
        path: &'a Path,
        ctx: &'a Context,
        keep: &'static [&'static str],
    ) -> Resolver<'a> {
        Resolver {
            doc,
            path,
            ctx,
            shared: std::sync::Arc::new(ctx.clone()),
            plan: Plan::new(doc, path, ctx, Some(keep)),
            keep: Some(keep),
            row_kept: ["hostname", "port", "user", "identityfile"].map(|k| keep.contains(&k)),
            scratch: Default::default(),
            system: system_text(ctx),
        }
    }

    /// What [`resolve`] gives `host`.
    pub fn resolve(&self, host: &str) -> Resolved {
        if self.plan.values_only {
            // Its plan skips blocks whose lines would report something.
            return resolve(self.doc, self.path, host, self.ctx);
        }
        self.resolve_keeping(host, None)
    }

    /// The settings of [`Resolver::resolve`] named in the `keep` of
    /// [`Resolver::for_values`] (all of them for [`Resolver::new`]), with
    /// their values only: every source is an empty path, and the
    /// diagnostics are not all looked for. Without copies nobody reads. A
    /// host that needs the final pass gets all of [`resolve`].
    pub fn resolve_values(&self, host: &str) -> Resolved {
        self.resolve_keeping(host, self.keep)
    }

    /// `resolve_values(host).into_row()`, without the [`Resolved`] in
    /// between: the row's values are moved out of the evaluation, whose
    /// other allocations serve the next host.
    pub fn resolve_row(&self, host: &str) -> super::RowValues {
        match self.evaluate(host, self.keep) {
            Ok(mut ev) => {
                let row = ev.take_row(host, self.row_kept);
                self.scratch.set(Some(ev));
                row
            }
            Err(whole) => whole.into_row(),
        }
    }

    fn resolve_keeping(&self, host: &str, keep: Option<&'static [&'static str]>) -> Resolved {
        match self.evaluate(host, keep) {
            Ok(mut ev) => {
                ev.shared = Some(self.shared.clone());
                let resolved = ev.finish(host);
                self.scratch.set(Some(ev));
                resolved
            }
            Err(whole) => *whole,
        }
    }

    /// The planned evaluation of `host`, or all of [`resolve`] when it
    /// needs the final pass.
    fn evaluate(
        &self,
        host: &str,
        keep: Option<&'static [&'static str]>,
    ) -> Result<Evaluator<'a>, Box<Resolved>> {
        let mut ev = match self.scratch.take() {
            Some(mut ev) => {
                ev.reset(host);
                ev
            }
            None => Evaluator::new(host, self.ctx),
        };
        ev.keep = keep;
        ev.run_pass_planned(self.doc, self.path, &self.plan);
        if let Some((p, encoding, text)) = &self.system {
            ev.system = true;
            ev.run_pass(Input::Text(*encoding, text), p, false);
            ev.system = false;
        }
        let canon = matches!(
            ev.first("canonicalizehostname").map(|s| s.args[0].to_ascii_lowercase()),
            Some(ref v) if v == "yes" || v == "true" || v == "always"
        );
        if ev.want_final || canon {
            return Err(Box::new(resolve(self.doc, self.path, host, self.ctx)));
        }
        Ok(ev)
    }
}
