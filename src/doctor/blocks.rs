//! Block rules: how `Host`/`Match` blocks and `Include` lines sit in the
//! file — an alias defined twice, a wildcard block above a RunPod entry
//! that overrides its values, an `Include` that only applies to the block
//! above it, and entries through RunPod's ssh proxy. Removals and moves
//! are proven with runpod-ssh's evaluator before they are made.

use std::collections::{HashMap, HashSet};

use crate::config::document::{Block, Document, valid_alias};
use crate::config::keywords::{self, Kind};
use crate::config::{BlockKind, Resolved, pattern, resolve};
use crate::hash::Fx;
use crate::runpod;

use super::{Auto, Cx, Finding, Meta, Rule, Severity};

pub(super) struct DuplicateAlias;
impl Rule for DuplicateAlias {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "duplicate-alias",
            title: "the same alias in more than one Host block: ssh takes each value from the first block that sets it, VS Code lists one entry",
            repair: "with --yes: remove a later block when runpod-ssh's evaluator proves ssh uses none of its values; the first block is kept",
            auto: Auto::WithYes,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let blocks = cx.blocks();
        // Alias → first block naming it (a map: a list made this quadratic).
        let mut seen: HashMap<&str, usize, Fx> =
            HashMap::with_capacity_and_hasher(blocks.len(), Fx::default());
        // (block, line of the first block naming the alias, alias)
        let mut later: Vec<(usize, usize, String)> = Vec::new();
        for (bi, b) in blocks.iter().enumerate() {
            if b.kind != BlockKind::Host {
                continue;
            }
            for p in b.patterns.iter().filter(|p| !pattern::is_wildcard(p)) {
                if !cx.in_scope(std::slice::from_ref(p)) {
                    continue;
                }
                match seen.get(p.as_str()) {
                    None => {
                        seen.insert(p, bi);
                    }
                    Some(&first) => {
                        let first_line = blocks[first]
                            .header
                            .and_then(|h| cx.line_no(h))
                            .unwrap_or(0);
                        if later.last().is_none_or(|(l, _, _)| *l != bi) {
                            later.push((bi, first_line, p.clone()));
                        }
                    }
                }
            }
        }
        // Last block first, so the indices of earlier ones stay valid; each
        // removal is proven against the document as it is at that point.
        let mut found = Vec::new();
        for (bi, first_line, p) in later.into_iter().rev() {
            let b = &blocks[bi];
            let this = b.header.and_then(|h| cx.line_no(h));
            let mut repair = format!(
                "with --yes: remove this block, keeping line {first_line}'s; or rename one with `runpod-ssh add --name`"
            );
            let mut auto = self.auto();
            let mut message =
                format!("{p} is defined again here; ssh uses the block at line {first_line} first");
            let mut apply = false;
            if b.patterns.len() != 1 {
                repair = "this block names other hosts too: edit it by hand".into();
                auto = Auto::Manual;
            } else {
                match unused_block(cx, bi) {
                    Ok(()) => apply = cx.may(self.auto()),
                    Err(used) => {
                        message = format!(
                            "{message}, but ssh still uses values of this block: {}",
                            used.join(", ")
                        );
                        repair = format!(
                            "move those lines into the block at line {first_line} and remove this one, or rename one with `runpod-ssh add --name`"
                        );
                        auto = Auto::Manual;
                    }
                }
            }
            if apply {
                let _ = cx.doc.remove_block(bi);
            }
            found.push(Finding {
                rule: self.id(),
                file: cx.path.clone(),
                line: this,
                severity: Severity::Warning,
                message,
                repair,
                auto,
                applied: apply,
            });
        }
        found.reverse();
        cx.findings.extend(found);
    }
}

/// Hosts whose evaluation block `bi` could change: its own patterns (a
/// sample name for a wildcard one), every alias whose `HostName` it
/// matches (the final pass matches `Host` against the hostname), and a
/// host no block names.
fn hosts_matching_block(doc: &Document, bi: usize) -> Vec<String> {
    let blocks = doc.blocks();
    let b = &blocks[bi];
    let mut hosts: Vec<String> = Vec::new();
    let mut add = |h: String| {
        if !h.is_empty() && !hosts.contains(&h) {
            hosts.push(h);
        }
    };
    for p in b.patterns.iter().filter(|p| !p.starts_with('!')) {
        add(p.replace(['*', '?'], "x"));
        add(p.replace('*', "").replace('?', "x"));
    }
    let matches = |h: &str| pattern::host_line_matches(h, b.patterns.iter().map(String::as_str));
    let aliases: Vec<&String> = blocks
        .iter()
        .filter(|o| o.kind == BlockKind::Host)
        .flat_map(|o| o.patterns.iter().filter(|p| !pattern::is_wildcard(p)))
        .collect();
    let hostnames: Vec<&str> = doc
        .lines()
        .iter()
        .filter(|l| l.keyword() == Some("hostname"))
        .filter_map(|l| l.values().first().copied())
        .collect();
    for v in hostnames {
        // Without a token the hostname is the same for every alias.
        if !v.contains('%') && !matches(&resolve::lower_unless_address(v)) {
            continue;
        }
        for alias in &aliases {
            let h = resolve::lower_unless_address(&resolve::expand_hostname(v, alias));
            if matches(&h) {
                add((*alias).clone());
            }
        }
    }
    add(crate::refusal::UNRELATED_HOST.into());
    hosts
}

/// `Ok` when removing block `bi` changes nothing our evaluator resolves
/// for any host that block could apply to; else the values of the block
/// that ssh still uses (`keyword value (line N)`).
fn unused_block(cx: &Cx, bi: usize) -> Result<(), Vec<String>> {
    let Some(range) = cx.doc.blocks().get(bi).map(|b| b.lines.clone()) else {
        return Err(Vec::new());
    };
    let mut without = cx.doc.clone();
    if without.remove_block(bi).is_err() {
        return Err(Vec::new());
    }
    let printed = |r: &Resolved| -> Vec<(String, String)> {
        r.print()
            .into_iter()
            .map(|p| (p.keyword, p.value))
            .collect()
    };
    let mut used: Vec<String> = Vec::new();
    let mut differs = false;
    for host in hosts_matching_block(&cx.doc, bi) {
        let before = resolve(&cx.doc, &cx.path, &host, cx.ctx);
        let after = resolve(&without, &cx.path, &host, cx.ctx);
        let errs = |r: &Resolved| {
            r.errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
        };
        if printed(&before) == printed(&after) && errs(&before) == errs(&after) {
            continue;
        }
        differs = true;
        for s in before.settings() {
            if s.source.file == cx.path && range.contains(&(s.source.line - 1)) {
                let line = cx.line_no(s.source.line - 1).unwrap_or(s.source.line);
                let v = format!("{} {} (line {line})", s.keyword, s.args.join(" "));
                if !used.contains(&v) {
                    used.push(v);
                }
            }
        }
    }
    if !differs {
        return Ok(());
    }
    if used.is_empty() {
        used.push("the evaluation of the hosts it matches changes without it".into());
    }
    Err(used)
}

pub(super) struct CatchAllOverride;
impl Rule for CatchAllOverride {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "catch-all-override",
            title: "a `Host *` (or other wildcard) block above a RunPod entry overrides its values: first value wins",
            repair: "move the entry above the first block that also applies to it",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let mut done: HashSet<String> = HashSet::new();
        let ended_blank = cx.doc.lines().last().is_some_and(|l| l.is_blank());
        // A move shifts every later block: plan the file again after each.
        while self.one_pass(cx, &mut done) {}
        // A blank line that separated blocks may now end the file.
        let n = cx.doc.lines().len();
        if !ended_blank && n > 0 && cx.doc.lines()[n - 1].is_blank() && !done.is_empty() {
            cx.doc.remove_lines(n - 1..n);
        }
    }
}

impl CatchAllOverride {
    /// One pass over the file: report each RunPod entry (not yet in
    /// `done`) whose values the global section or an earlier wildcard
    /// block sets first, until one can be moved above that block. `true`
    /// when an entry moved (the file must be planned again).
    fn one_pass(&self, cx: &mut Cx, done: &mut HashSet<String>) -> bool {
        let blocks = cx.blocks();
        // One plan of the file for every entry, and the first block
        // naming each alias: per-entry scans of the whole file made
        // this quadratic. The snapshot lets findings be reported while
        // it is in use.
        let snapshot = std::cell::OnceCell::new();
        let (path, ctx) = (cx.path.clone(), cx.ctx);
        // Copied and planned on the first entry that needs it: a file with
        // no single-alias RunPod entry (most large ones) needs neither.
        let mut resolver = None;
        let first_naming = first_naming(&blocks);
        for (bi, b) in blocks.iter().enumerate() {
            if !runpod::is_runpod_block(&cx.doc, b)
                || !cx.in_scope(&b.patterns)
                || b.patterns.len() != 1
            {
                continue;
            }
            let alias = b.patterns[0].clone();
            // Only the block ssh uses for the alias (duplicates are
            // another rule's business), and each alias once.
            if !valid_alias(&alias)
                || done.contains(&alias)
                || first_naming.get(alias.as_str()) != Some(&bi)
            {
                continue;
            }
            let r = resolver
                .get_or_insert_with(|| {
                    let doc = snapshot.get_or_init(|| cx.doc.clone());
                    crate::config::resolve::Resolver::new(doc, &path, ctx)
                })
                .resolve(&alias);
            if !r.ok() {
                continue;
            }
            let (overridden, from_global) = overridden_keywords(cx, &blocks, bi, &alias, &r);
            if overridden.is_empty() {
                continue;
            }
            done.insert(alias.clone());
            let first = (1..bi).find(|&k| catch_all(&blocks, k, &alias));
            let n = cx.line_no(b.header.unwrap_or(0));
            let msg = format!(
                "{alias}: {} set first by an earlier block",
                overridden.join(", ")
            );
            match (first, from_global) {
                (Some(k), false) => {
                    move_entry_above(cx, b, bi, k);
                    cx.intended.push((alias.clone(), "*".into()));
                    cx.report(
                        self,
                        n,
                        Severity::Error,
                        msg,
                        self.repair_text().into(),
                        true,
                    );
                    return true;
                }
                _ => {
                    cx.report(
                        self,
                        n,
                        Severity::Error,
                        format!("{msg}, in the global section at the top of the file"),
                        "move those global lines into a `Host *` block at the end of the file"
                            .into(),
                        false,
                    );
                }
            }
        }
        false
    }
}

/// The first `Host` block naming each pattern.
fn first_naming(blocks: &[Block]) -> HashMap<&str, usize, Fx> {
    let mut first: HashMap<&str, usize, Fx> =
        HashMap::with_capacity_and_hasher(blocks.len(), Fx::default());
    for (bi, b) in blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.kind == BlockKind::Host)
    {
        for p in &b.patterns {
            first.entry(p.as_str()).or_insert(bi);
        }
    }
    first
}

/// Whether block `k` applies to `alias` as a catch-all does: a wildcard
/// `Host` block that matches it, or any `Match` block.
fn catch_all(blocks: &[Block], k: usize, alias: &str) -> bool {
    match blocks[k].kind {
        BlockKind::Host => {
            blocks[k].patterns.iter().any(|p| pattern::is_wildcard(p))
                && pattern::host_line_matches(alias, blocks[k].patterns.iter().map(String::as_str))
        }
        BlockKind::Match => true,
        BlockKind::Global => false,
    }
}

/// Keywords entry `bi` (the block ssh uses for `alias`, resolved as `r`)
/// sets that the global section or an earlier catch-all block sets first,
/// as `keyword (line N)`; and whether any of them is set in the global
/// section (which the repair cannot move the entry above).
fn overridden_keywords(
    cx: &Cx,
    blocks: &[Block],
    bi: usize,
    alias: &str,
    r: &Resolved,
) -> (Vec<String>, bool) {
    let b = &blocks[bi];
    let header = b.header.unwrap_or(0);
    let mut overridden = Vec::new();
    let mut from_global = false;
    for li in b.lines.clone().filter(|&l| l != header) {
        let Some(kw) = cx.doc.lines()[li].keyword().and_then(keywords::lookup) else {
            continue;
        };
        if matches!(
            kw.kind,
            Kind::Forward
                | Kind::DynamicForward
                | Kind::SendEnv
                | Kind::IdentityFile
                | Kind::Append
        ) {
            continue;
        }
        if let Some(s) = r.get(kw.name)
            && s.source.file == cx.path
            && s.source.line - 1 < header
        {
            let src = s.source.line - 1;
            let in_global = blocks[0].lines.contains(&src);
            let in_catch_all =
                (1..bi).any(|k| blocks[k].lines.contains(&src) && catch_all(blocks, k, alias));
            if !(in_global || in_catch_all) {
                continue;
            }
            from_global |= in_global;
            overridden.push(format!(
                "{} (line {})",
                kw.name,
                cx.line_no(src).unwrap_or(0)
            ));
        }
    }
    (overridden, from_global)
}

/// Move entry `b` (block `bi`, with the comment lines above it) above
/// block `k`, keeping a blank line after it.
fn move_entry_above(cx: &mut Cx, b: &Block, bi: usize, k: usize) {
    let to = cx.doc.position_before_block(k);
    let start = cx.doc.position_before_block(bi);
    cx.doc.move_lines(start..b.lines.end, to);
    let moved_len = b.lines.end - start;
    if let Some(after) = cx.doc.lines().get(to + moved_len)
        && !after.is_blank()
        && !cx.doc.lines()[to + moved_len - 1].is_blank()
    {
        cx.doc.insert_lines(to + moved_len, vec![String::new()]);
    }
}

pub(super) struct IncludeAfterHost;
impl Rule for IncludeAfterHost {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "include-after-host",
            title: "an unindented `Include` after a Host block: it only applies to that block, not to every host",
            repair: "with --yes: move it to the top of the file, where it applies to every host",
            auto: Auto::WithYes,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let blocks = cx.blocks();
        let mut moves = Vec::new();
        for b in blocks.iter().skip(1) {
            let Some(h) = b.header else { continue };
            let indented_block = b.lines.clone().filter(|&l| l != h).any(|l| {
                cx.doc.lines()[l]
                    .directive()
                    .is_some_and(|d| !d.indent.is_empty())
            });
            for li in b.lines.clone().filter(|&l| l != h) {
                let Some(d) = cx.doc.lines()[li].directive() else {
                    continue;
                };
                if d.keyword_lc == "include" && d.indent.is_empty() && indented_block {
                    let apply = cx.may(self.auto());
                    let n = cx.line_no(li);
                    cx.report(
                        self,
                        n,
                        Severity::Warning,
                        self.title().into(),
                        self.repair_text().into(),
                        apply,
                    );
                    if apply {
                        moves.push(li);
                    }
                }
            }
        }
        if moves.is_empty() {
            // Finding where the global section ends costs a pass over the file.
            return;
        }
        let global_end = cx.doc.position_before_block(0).min(
            blocks
                .get(1)
                .and_then(|b| b.header)
                .unwrap_or(cx.doc.lines().len()),
        );
        for li in moves.into_iter().rev() {
            cx.doc.move_lines(li..li + 1, global_end.min(li));
            cx.intended.push(("*".into(), "*".into()));
        }
    }
}

pub(super) struct ProxyEntry;
impl Rule for ProxyEntry {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "proxy-entry",
            title: "entry uses RunPod's ssh.runpod.io proxy: a terminal works, VS Code, scp, sftp and port forwarding do not",
            repair: "enable \"SSH over exposed TCP\" on the pod and run `runpod-ssh add --name ALIAS '<that command>'`",
            auto: Auto::Manual,
        }
    }
    fn run(&self, cx: &mut Cx) {
        for b in cx.blocks().iter() {
            if b.kind != BlockKind::Host || !cx.in_scope(&b.patterns) {
                continue;
            }
            let doc = &cx.doc;
            let proxies: Vec<usize> = doc
                .option_line_iter(b, "hostname")
                .filter(|&li| {
                    super::first_value(&doc.lines()[li])
                        .is_some_and(|h| h.eq_ignore_ascii_case(runpod::PROXY_HOST))
                })
                .collect();
            for li in proxies {
                let n = cx.line_no(li);
                let alias = b.patterns.first().cloned().unwrap_or_default();
                cx.report(
                    self,
                    n,
                    Severity::Warning,
                    format!("{alias}: {}", self.title()),
                    self.repair_text().replace("ALIAS", &alias),
                    false,
                );
            }
        }
    }
}
