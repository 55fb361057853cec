//! The unified diff of an edit whose kept lines are known, without a
//! generic diff of the whole file: `fix` on a large config moves 10,000
//! comments, and `similar`'s Myers over 61k against 71k lines was a sixth
//! of its time.
//!
//! The output is byte for byte what [`super::unified_diff`] prints. That
//! holds because the shortcut is taken only where `similar` 3.2's Myers
//! (its preflight reduction, then Myers on what is left) is known to find
//! exactly the alignment the edit describes; anywhere else the caller runs
//! `similar` itself. The conditions, on the middle (common prefix and
//! suffix trimmed, as `similar` does first):
//! - every changed line's text occurs nowhere else in the middle (a
//!   deleted line not in the new side, an inserted one not in the old), so
//!   the kept lines are the one longest common subsequence;
//! - `similar` takes its reduction path there (both sides ≥ 512 lines, no
//!   match near the edges, more common lines than its near-disjoint
//!   budget), and the reduction keeps every kept line (none is a
//!   "confusing" frequent line between discarded ones): what it then hands
//!   Myers is the same sequence twice, all equal.
//!
//! The tests run both on many generated edits and compare the text.

use crate::hash::Fx;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;

/// [`super::unified_diff`] of `old` to `new` when the shortcut applies
/// (`None`: ask `similar`). `origins[j]` is the 0-based line of `old` that
/// line `j` of `new` came from (`None` for a line an edit added); a hint
/// only: every kept line is checked against the texts.
pub fn unified_diff_anchored(
    old: &[u8],
    new: &[u8],
    origins: &[Option<usize>],
    label: &str,
) -> Option<String> {
    let a = text_lines(old)?;
    let b = text_lines(new)?;
    if b.len() != origins.len() || a == b {
        return None;
    }
    let ops = anchored_ops(&a, &b, origins)?;
    let label = label.strip_prefix('/').unwrap_or(label);
    Some(render(&a, &b, ops, label))
}

/// The lines of `bytes` as `similar` splits them (each with its line
/// terminator), or `None` where its text would not be these bytes as UTF-8
/// (a byte-order mark, invalid UTF-8) or a lone `\r` would end a line for
/// it but not for the config parser.
fn text_lines(bytes: &[u8]) -> Option<Vec<&str>> {
    if matches!(
        bytes,
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] | [0xEF, 0xBB, 0xBF, ..]
    ) {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = Vec::with_capacity(bytes.len() / 24 + 1);
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'\n' => {
                lines.push(&text[start..=i]);
                start = i + 1;
            }
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => return None,
            _ => {}
        }
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    Some(lines)
}

/// One step of the edit script, as `similar`'s `DiffOp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal {
        old: usize,
        new: usize,
        len: usize,
    },
    Change {
        old: usize,
        old_len: usize,
        new: usize,
        new_len: usize,
    },
}

impl Op {
    fn old_range(&self) -> Range<usize> {
        match *self {
            Op::Equal { old, len, .. } => old..old + len,
            Op::Change { old, old_len, .. } => old..old + old_len,
        }
    }
    fn new_range(&self) -> Range<usize> {
        match *self {
            Op::Equal { new, len, .. } => new..new + len,
            Op::Change { new, new_len, .. } => new..new + new_len,
        }
    }
}

/// The edit script `similar` finds, when it provably is the one `origins`
/// describe (see the module notes), else `None`.
fn anchored_ops(a: &[&str], b: &[&str], origins: &[Option<usize>]) -> Option<Vec<Op>> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let om = prefix..a.len() - suffix;
    let nm = prefix..b.len() - suffix;
    if !reduction_path(a, b, &om, &nm) {
        return None;
    }
    // The kept lines of the middle: (old, new), both ascending.
    let mut kept: Vec<(usize, usize)> = Vec::new();
    for j in nm.clone() {
        if let Some(k) = origins[j]
            && om.contains(&k)
            && kept.last().is_none_or(|&(l, _)| k > l)
            && a[k] == b[j]
        {
            kept.push((k, j));
        }
    }
    let budget = (om.len().min(nm.len()) / 1024).clamp(1, 64);
    if kept.len() <= budget {
        return None;
    }
    // Each kept text's number (one hash per kept line) and how often it
    // is kept: a kept text occurs that often on each side of the middle.
    let mut ids: HashMap<&str, u32, Fx> =
        HashMap::with_capacity_and_hasher(kept.len(), Fx::default());
    let mut count: Vec<usize> = Vec::new();
    let kept_count: Vec<u32> = kept
        .iter()
        .map(|&(k, _)| {
            let next = count.len() as u32;
            let id = *ids.entry(a[k]).or_insert(next);
            if id == next {
                count.push(0);
            }
            count[id as usize] += 1;
            id
        })
        .collect();
    // Changed lines occur nowhere else in the middle.
    let (mut old_n, mut new_n) = (vec![0usize; om.len()], vec![0usize; nm.len()]);
    for (&(k, j), &id) in kept.iter().zip(&kept_count) {
        old_n[k - om.start] = count[id as usize];
        new_n[j - nm.start] = count[id as usize];
    }
    let mut deleted: HashSet<&str, Fx> =
        HashSet::with_capacity_and_hasher(om.len() - kept.len(), Fx::default());
    for i in om.clone().filter(|&i| old_n[i - om.start] == 0) {
        if ids.contains_key(a[i]) {
            return None;
        }
        deleted.insert(a[i]);
    }
    if nm
        .clone()
        .filter(|&j| new_n[j - nm.start] == 0)
        .any(|j| ids.contains_key(b[j]) || deleted.contains(b[j]))
    {
        return None;
    }
    // similar's clean-up (`Compact`) also sees the common ends it trimmed:
    // it slides a changed run over an equal line next to the middle (the
    // repaired `# c` line just after the last repair). Leave those to it.
    let edges = [
        prefix.checked_sub(1).map(|i| a[i]),
        (suffix > 0).then(|| a[om.end]),
    ];
    let inserted = |t: &str| nm.clone().any(|j| new_n[j - nm.start] == 0 && b[j] == t);
    if edges
        .into_iter()
        .flatten()
        .any(|t| deleted.contains(t) || inserted(t))
    {
        return None;
    }
    // The reduction keeps every kept line, on both sides.
    if !keeps_all(&old_n) || !keeps_all(&new_n) {
        return None;
    }
    Some(ops_of(prefix, suffix, a.len(), b.len(), &kept))
}

/// Whether `similar`'s preflight reduces the middle (its `should_scan`).
fn reduction_path(a: &[&str], b: &[&str], om: &Range<usize>, nm: &Range<usize>) -> bool {
    let (ol, nl) = (om.len(), nm.len());
    // Up to 100 lines a side it diffs the texts without the reduction.
    if ol < 512 || nl < 512 || ol.saturating_mul(nl) < 128 * 1024 {
        return false;
    }
    let (os, ns, oe, ne) = (om.start, nm.start, om.end - 1, nm.end - 1);
    if b[ns] == a[os] || b[ne] == a[oe] {
        return false;
    }
    (1..ol.min(nl).min(9)).all(|s| {
        b[ns + s] != a[os] && b[ns] != a[os + s] && b[ne - s] != a[oe] && b[ne] != a[oe - s]
    })
}

/// `similar`'s record actions on one side of the middle, and whether
/// every kept line survives them. `n[i]`: how often line `i`'s text is
/// on the other side (a kept text as often as on this one; 0 for a changed
/// line, whose text is nowhere on the other side).
fn keeps_all(n: &[usize]) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Act {
        Discard,
        Keep,
        Investigate,
    }
    let limit = n.len().isqrt().clamp(1, 1024);
    let acts: Vec<Act> = n
        .iter()
        .map(|&c| match c {
            0 => Act::Discard,
            c if c < limit => Act::Keep,
            _ => Act::Investigate,
        })
        .collect();
    // (discards, investigates) before the first Keep, within 100 records.
    let scan = |it: &mut dyn Iterator<Item = usize>| {
        let (mut d, mut inv) = (0usize, 0usize);
        for i in it.take(100) {
            match acts[i] {
                Act::Discard => d += 1,
                Act::Investigate => inv += 1,
                Act::Keep => break,
            }
        }
        (d, inv)
    };
    (0..acts.len())
        .filter(|&i| acts[i] == Act::Investigate)
        .all(|i| {
            let (ld, li) = scan(&mut (0..i).rev());
            if ld == 0 {
                return true;
            }
            let (rd, ri) = scan(&mut (i + 1..acts.len()));
            if rd == 0 {
                return true;
            }
            let inv = li + ri + 1;
            // similar discards it when inv * 4 < inv + discards.
            inv.saturating_mul(4) >= inv + ld + rd
        })
}

/// The ops: the common prefix, the middle (equal runs of kept lines, a
/// change between them), the common suffix.
fn ops_of(prefix: usize, suffix: usize, an: usize, bn: usize, kept: &[(usize, usize)]) -> Vec<Op> {
    let mut ops = Vec::with_capacity(2 * kept.len() + 3);
    let push_equal = |ops: &mut Vec<Op>, old: usize, new: usize, len: usize| {
        if len == 0 {
            return;
        }
        if let Some(Op::Equal { old: o, len: l, .. }) = ops.last_mut()
            && *o + *l == old
        {
            *l += len;
            return;
        }
        ops.push(Op::Equal { old, new, len });
    };
    push_equal(&mut ops, 0, 0, prefix);
    let (mut i, mut j) = (prefix, prefix);
    let ends = [(an - suffix, bn - suffix)];
    for &(k, l) in kept.iter().chain(&ends) {
        if k > i || l > j {
            ops.push(Op::Change {
                old: i,
                old_len: k - i,
                new: j,
                new_len: l - j,
            });
        }
        (i, j) = (k, l);
        if (k, l) != ends[0] {
            push_equal(&mut ops, k, l, 1);
            (i, j) = (k + 1, l + 1);
        }
    }
    push_equal(&mut ops, an - suffix, bn - suffix, suffix);
    ops
}

/// `similar::udiff`'s grouping of ops into hunks with `n` lines of context.
fn group(mut ops: Vec<Op>, n: usize) -> Vec<Vec<Op>> {
    let mut groups = Vec::new();
    if let Some(Op::Equal { old, new, len }) = ops.first_mut() {
        let offset = len.saturating_sub(n);
        *old += offset;
        *new += offset;
        *len -= offset;
    }
    if let Some(Op::Equal { len, .. }) = ops.last_mut() {
        *len -= len.saturating_sub(n);
    }
    let mut pending = Vec::new();
    for op in ops {
        if let Op::Equal { old, new, len } = op
            && len > n * 2
        {
            pending.push(Op::Equal { old, new, len: n });
            groups.push(std::mem::take(&mut pending));
            let offset = len.saturating_sub(n);
            pending.push(Op::Equal {
                old: old + offset,
                new: new + offset,
                len: len - offset,
            });
            continue;
        }
        pending.push(op);
    }
    if !matches!(pending[..], [] | [Op::Equal { .. }]) {
        groups.push(pending);
    }
    groups
}

/// A hunk range as `similar` prints it.
fn range(r: Range<usize>) -> String {
    match r.len() {
        1 => format!("{}", r.start + 1),
        0 => format!("{},0", r.start),
        len => format!("{},{len}", r.start + 1),
    }
}

fn render(a: &[&str], b: &[&str], ops: Vec<Op>, label: &str) -> String {
    let mut out = String::with_capacity(a.len() * 40);
    let line = |out: &mut String, tag: char, text: &str| {
        out.push(tag);
        out.push_str(text);
        if !text.ends_with(['\r', '\n']) {
            out.push_str("\n\\ No newline at end of file\n");
        }
    };
    for (h, hunk) in group(ops, 3).into_iter().enumerate() {
        if h == 0 {
            let _ = write!(out, "--- a/{label}\n+++ b/{label}\n");
        }
        let (first, last) = (hunk[0], hunk[hunk.len() - 1]);
        let _ = writeln!(
            out,
            "@@ -{} +{} @@",
            range(first.old_range().start..last.old_range().end),
            range(first.new_range().start..last.new_range().end)
        );
        for op in hunk {
            match op {
                Op::Equal { .. } => op.old_range().for_each(|i| line(&mut out, ' ', a[i])),
                Op::Change { .. } => {
                    op.old_range().for_each(|i| line(&mut out, '-', a[i]));
                    op.new_range().for_each(|j| line(&mut out, '+', b[j]));
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "udiff_tests.rs"]
mod tests;
