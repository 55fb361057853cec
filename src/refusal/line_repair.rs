//! "Does `runpod-ssh fix` repair what OpenSSH 7.7 refuses in this file?",
//! decided per line for the common case: every refused line is one 7.7
//! misreads only for the comment after its value, which `fix`'s
//! trailing-comment rule moves to a line of its own, and no other rule
//! touches it. Anything else is left to the full run of the rules over a
//! copy of the file ([`super::repairs_of`]); the tests below hold the two
//! to the same answer on many files.

use std::path::Path;

use super::{Repair, old_client_line};
use crate::config::document::Line;
use crate::config::keywords::{self, Kind};
use crate::config::lexer::COMMAND_KEYWORDS;
#[cfg(test)]
use crate::config::resolve::Diagnostic;
use crate::config::{Context, Document, Encoding};

/// `Some(Repair::All)` when every problem of `judged` (what [`super::judge`]
/// found for 7.7 in `doc`, which `path` holds; its first `evaluated` are
/// the evaluator's) in `path` is a line whose comment, moved away, leaves a
/// line every client reads the same; `None` when that is not decidable
/// from the lines alone.
#[cfg(test)]
pub(super) fn comments_only(
    path: &Path,
    doc: &Document,
    judged: &[Diagnostic],
    evaluated: usize,
    ctx: &Context,
) -> Option<Repair> {
    let (eval, split) = judged.split_at(evaluated.min(judged.len()));
    let lines = split
        .iter()
        .filter(|p| p.source.file == path)
        .map(|p| p.source.line);
    let eval_here = eval.iter().any(|p| p.source.file == path);
    comments_only_at(path, doc, None, eval_here, lines, ctx)
}

/// [`comments_only`] from the places of the problems: `eval_here`, the
/// evaluator refused a line of `path`; `lines`, the 1-based lines of
/// `path` only the older client refuses; `bytes`, `doc.to_bytes()` when
/// the caller has them.
pub(super) fn comments_only_at(
    path: &Path,
    doc: &Document,
    bytes: Option<&[u8]>,
    eval_here: bool,
    lines: impl Iterator<Item = usize>,
    ctx: &Context,
) -> Option<Repair> {
    // A byte-order mark or UTF-16 is another rule's repair.
    if doc.encoding() != Encoding::Utf8 {
        return None;
    }
    // What the evaluator refuses stays refused unless another rule
    // repairs it: the full run knows.
    if eval_here {
        return None;
    }
    let mut any = false;
    for line in lines {
        let i = line.checked_sub(1)?;
        if !moved_comment_is_clean(path, doc, i, ctx) {
            return None;
        }
        any = true;
    }
    // A line that is not UTF-8 is re-encoded by `legacy-code-page` (on
    // Windows): what it becomes is not decided here.
    // The file's bytes in one piece when given: valid UTF-8 exactly when
    // every line is (the line endings are ASCII), without a pass over the
    // lines (14 MB of them on a large config).
    let utf8 = || match bytes {
        Some(b) => std::str::from_utf8(b).is_ok(),
        None => doc
            .lines()
            .iter()
            .all(|l| l.bytes().is_ascii() || std::str::from_utf8(l.bytes()).is_ok()),
    };
    (any && utf8()).then_some(Repair::All)
}

/// Whether line `i` of `doc` is one only the trailing-comment rule
/// changes (ASCII; no quote, backslash or `#` before the comment, so no
/// quoted-, glued-comment, space or path rule; a keyword that is neither
/// a path, a command, `Host`, `Match` nor `Include`), and the line it
/// leaves — the value without the comment — has the same words, which
/// OpenSSH 7.7 reads as the lexer does.
fn moved_comment_is_clean(path: &Path, doc: &Document, i: usize, ctx: &Context) -> bool {
    let Some(line) = doc.lines().get(i) else {
        return false;
    };
    let (Some(d), b) = (line.directive(), line.bytes()) else {
        return false;
    };
    // A plain value (no `=` either) reads the same without its comment,
    // on every client: decided without parsing the line again
    // (`a_plain_value_reads_the_same_without_its_comment` holds the two
    // to one answer).
    only_the_comment_rule(b, d) && (plain_value(b, d) || reparsed_is_clean(path, i, b, d, ctx))
}

/// The first half of [`moved_comment_is_clean`]: whether line `b` is one
/// only the trailing-comment rule changes.
fn only_the_comment_rule(b: &[u8], d: &crate::config::lexer::Directive) -> bool {
    let Some(c) = d.comment.as_ref() else {
        return false;
    };
    let kw = d.keyword_lc.as_ref();
    // `known` is the keyword's look-up, made by the lexer.
    let plain = d
        .known
        .is_some_and(|k| !matches!(k.kind, Kind::Host | Kind::Match | Kind::Include));
    plain
        && d.error.is_none()
        && !d.args.is_empty()
        && b.is_ascii()
        && !b[..c.gap.start().min(b.len())]
            .iter()
            .any(|x| matches!(x, b'"' | b'\'' | b'\\' | b'#'))
        && !COMMAND_KEYWORDS.contains(&kw)
        && !keywords::is_path_keyword(kw)
}

/// Whether the values of line `b` (from the separator to the end of the
/// value) hold only bytes 7.7 and the lexer read alike.
fn plain_value(b: &[u8], d: &crate::config::lexer::Directive) -> bool {
    b.get(d.separator.end()..d.value.end())
        .is_some_and(|v| v.iter().all(|&c| super::old_client::plain_byte(c)))
}

/// What trailing-comment leaves of line `i` (`b`, directive `d`), parsed:
/// the same keyword and words, no comment or error, and nothing 7.7 reads
/// otherwise.
fn reparsed_is_clean(
    path: &Path,
    i: usize,
    b: &[u8],
    d: &crate::config::lexer::Directive,
    ctx: &Context,
) -> bool {
    // What trailing-comment leaves on the line (`split_comment`).
    let mut moved = b[..d.value.start()].to_vec();
    moved.extend_from_slice(&b[d.value]);
    let fixed = Document::parse(&moved);
    let [l]: &[Line] = fixed.lines() else {
        return false;
    };
    l.directive().is_some_and(|nd| {
        nd.comment.is_none()
            && nd.error.is_none()
            && nd.keyword_lc == d.keyword_lc
            && nd.values(l.bytes()).eq(d.values(b))
            && old_client_line(path, i, l, ctx).is_none()
    })
}

#[cfg(test)]
mod tests;
