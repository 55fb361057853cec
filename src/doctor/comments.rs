//! Comment rules: comments that are not on a line of their own — after a
//! value (Windows' ssh refuses the file), glued to it (`40123# the port`)
//! or inside quotes. Each repair moves the comment, as bytes, to its own
//! line above and keeps the value. [`portable_comments`] runs the same
//! three rules on one entry for `add`. On Windows, when every ssh VS Code
//! can run is 8.7 or newer, the trailing-comment finding says so (the
//! repair stays: VS Code's own writer glues such comments to the value).

use std::path::Path;

use crate::config::document::{Document, portable_path};
use crate::config::keywords::{self, Kind};
use crate::config::lexer::COMMAND_KEYWORDS;
use crate::config::{Context, resolve};

use super::windows::trailing_comment_note;
use super::{Auto, Cx, Meta, Rule, Severity};

/// Put `comment` (starting with `#`) on its own line above line `i`, with
/// that line's indentation, and set line `i`'s value to `value`
/// (already rendered), dropping the comment from it.
/// Returns the comment line to insert above line `i` (the caller inserts
/// them all in one pass: one at a time made the rule quadratic).
fn split_comment(cx: &mut Cx, i: usize, value: &[u8], comment: &[u8]) -> Option<Vec<u8>> {
    let line = &cx.doc.lines()[i];
    let d = line.directive()?;
    let b = line.bytes();
    let indent = &b[d.indent];
    let indent = if indent.iter().all(|&c| c == b' ' || c == b'\t') {
        indent.to_vec()
    } else {
        Vec::new()
    };
    let mut new = b[..d.value.start()].to_vec();
    new.extend_from_slice(value);
    // Bytes, not text: a config in a Windows code page keeps its letters.
    let comment = comment.trim_ascii_end();
    if let Some(l) = cx.doc.line_mut(i) {
        l.set_bytes(new);
    }
    // An empty comment (`40123#`) is just dropped.
    let words = comment
        .iter()
        .position(|&c| c != b'#')
        .map_or(&[][..], |k| &comment[k..]);
    if words.trim_ascii().is_empty() {
        return None;
    }
    let mut text = indent;
    text.extend_from_slice(comment);
    Some(text)
}

/// For each directive line where `split` finds (new value text, comment):
/// put the comment on its own line above and keep the value. `changes`:
/// the value's meaning changes (so the verification expects it).
fn split_lines(
    cx: &mut Cx,
    rule: &dyn Rule,
    severity: Severity,
    changes: bool,
    split: impl Fn(&crate::config::lexer::Directive, &[u8]) -> Option<(Vec<u8>, Vec<u8>)>,
) {
    let mut inserts = Vec::new();
    for i in 0..cx.doc.lines().len() {
        let line = &cx.doc.lines()[i];
        let found = line
            .directive()
            .and_then(|d| split(d, line.bytes()).map(|vc| (vc, d.keyword_lc.clone())));
        let Some(((value, comment), kw)) = found else {
            continue;
        };
        let n = cx.line_no(i);
        if changes {
            cx.intend(i, &kw);
        }
        if let Some(text) = split_comment(cx, i, &value, &comment) {
            inserts.push((i, text));
        }
        cx.fixed(rule, n, severity);
    }
    cx.doc.insert_lines_before(inserts);
}

/// Make lines `range` of `doc` portable as the comment rules do (quoted,
/// glued, then trailing comments, each moved to its own line above),
/// touching no other line: for `add` updating an entry, whose lines must
/// come out readable by Windows' ssh too (issue 13). Returns how many
/// comments were moved.
pub fn portable_comments(
    doc: &mut Document,
    range: std::ops::Range<usize>,
    path: &Path,
    ctx: &Context,
) -> usize {
    let mut cx = Cx::new(doc.part(range.clone()), path, ctx);
    let rules: [&dyn Rule; 3] = [&QuotedComment, &GluedComment, &TrailingComment];
    for r in rules {
        r.run(&mut cx);
    }
    let moved = cx.findings.iter().filter(|f| f.applied).count();
    if moved > 0 {
        doc.splice_part(range, &cx.doc);
    }
    moved
}

pub(super) struct TrailingComment;
impl Rule for TrailingComment {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "trailing-comment",
            title: "comment after a value: Windows' built-in ssh (7.7, 8.1) refuses the whole file, and VS Code's writer later glues it to the value",
            repair: "move the comment to its own line above, words kept",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let start = cx.findings.len();
        split_lines(cx, self, Severity::Warning, false, |d, b| {
            let c = d.comment.as_ref()?;
            if COMMAND_KEYWORDS.contains(&d.keyword_lc.as_ref()) || d.args.is_empty() {
                return None;
            }
            Some((b[d.value].to_vec(), b[c.text].to_vec()))
        });
        // Every ssh VS Code can run reads the comment (8.7+): say so, and
        // why it is still moved.
        if let Some(note) = cx.windows.as_ref().and_then(trailing_comment_note) {
            for f in &mut cx.findings[start..] {
                f.message = format!("{} ({note})", f.message);
            }
        }
    }
}

pub(super) struct GluedComment;
impl Rule for GluedComment {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "glued-comment",
            title: "a comment glued to its value (`40123# the port`, as VS Code's writer leaves it): ssh reads it as part of the value",
            repair: "split the value from the comment, which goes on its own line above",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        split_lines(cx, self, Severity::Error, true, |d, b| {
            let kw = d.keyword_lc.as_ref();
            if COMMAND_KEYWORDS.contains(&kw) {
                return None;
            }
            // The first argument with a '#' after its first character.
            let (ai, at) = d.args.iter().enumerate().find_map(|(ai, a)| {
                let raw = &b[a.span];
                raw.iter()
                    .skip(1)
                    .position(|&c| c == b'#')
                    .map(|p| (ai, a.span.start() + 1 + p))
            })?;
            let raw_arg = &b[d.args[ai].span];
            if raw_arg.contains(&b'"') || raw_arg.contains(&b'\'') {
                return None;
            }
            // Only where the line is broken as it stands, or the value is
            // clearly value+comment (a Host pattern with '#' matches nothing
            // anyone types), and the repaired line is acceptable.
            let host_line = kw == "host";
            let value = b[d.value.start()..at].trim_ascii_end();
            let text = String::from_utf8_lossy(value);
            let broken = line_is_broken(kw, &d.values(b).collect::<Vec<_>>());
            let fixed_ok =
                host_line || !line_is_broken(kw, &text.split_whitespace().collect::<Vec<_>>());
            if (!broken && !host_line) || value.is_empty() || !fixed_ok {
                return None;
            }
            let mut comment = b"# ".to_vec();
            comment.extend_from_slice(b[at + 1..].trim_ascii());
            Some((value.to_vec(), comment))
        });
    }
}

/// Whether OpenSSH refuses `keyword args…` as a line on its own.
fn line_is_broken(keyword: &str, args: &[&str]) -> bool {
    let Some(kw) = keywords::lookup(keyword) else {
        return true;
    };
    let single = !matches!(
        kw.kind,
        Kind::Host
            | Kind::Match
            | Kind::Include
            | Kind::SendEnv
            | Kind::LineList
            | Kind::PathLineList
            | Kind::OneLineList
            | Kind::Forward
            | Kind::DynamicForward
            | Kind::Other
            | Kind::Ignored
            | Kind::AddKeysToAgent
    );
    if args.is_empty() || (single && args.len() > 1) {
        return true;
    }
    single && resolve::validate(kw.kind, args[0]).is_err()
}

pub(super) struct QuotedComment;
impl Rule for QuotedComment {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "quoted-comment",
            title: "a comment inside quotes (`User \"root   # account\"`, as older VS Code writers left it): ssh uses it as part of the value",
            repair: "keep the value, move the comment to its own line above",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let ctx = cx.ctx;
        split_lines(cx, self, Severity::Error, true, |d, b| {
            let kw = d.keyword_lc.as_ref();
            if d.args.len() != 1
                || COMMAND_KEYWORDS.contains(&kw)
                || !b[d.args[0].span].starts_with(b"\"")
            {
                return None;
            }
            // Not UTF-8 (a Windows code page): the value is known only as
            // lossy text, so the line stays as it is rather than lose bytes.
            std::str::from_utf8(&b[d.args[0].span]).ok()?;
            let value = d.args[0].value(b);
            // No ` #` in it: nothing to split (and no file to look up: a
            // stat per quoted IdentityFile was most of this rule's time).
            let at = find_space_hash(value)?;
            // A path that names a file as written is that file
            // (`"~/.ssh/my key #2"`), not a path and a comment.
            if keywords::is_path_keyword(kw) && ctx.home_path(value).exists() {
                return None;
            }
            let (v, c) = value.split_at(at);
            let v = v.trim_end();
            let v = if keywords::is_path_keyword(kw) {
                portable_path(v)
            } else {
                v.to_string()
            };
            let rendered = crate::config::lexer::render_value(&v)?;
            Some((
                rendered.into_bytes(),
                format!("# {}", c.trim_start().trim_start_matches('#').trim()).into_bytes(),
            ))
        });
    }
}

/// Byte position of whitespace followed by `#` in `v`.
fn find_space_hash(v: &str) -> Option<usize> {
    let b = v.as_bytes();
    (1..b.len())
        .find(|&k| b[k] == b'#' && (b[k - 1] == b' ' || b[k - 1] == b'\t'))
        .map(|k| {
            let mut s = k;
            while s > 0 && (b[s - 1] == b' ' || b[s - 1] == b'\t') {
                s -= 1;
            }
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_hash() {
        assert_eq!(find_space_hash("root   # account"), Some(4));
        assert_eq!(find_space_hash("a#b"), None);
        assert_eq!(find_space_hash("~/.ssh/id  # path"), Some(9));
    }

    #[test]
    fn broken_lines() {
        assert!(line_is_broken("port", &["40123#"]));
        assert!(line_is_broken("hostname", &["1.2.3.4#", "the", "IP"]));
        assert!(!line_is_broken("hostname", &["1.2.3.4"]));
        assert!(!line_is_broken("identityfile", &["~/.ssh/id#1"]));
        assert!(!line_is_broken("sendenv", &["A", "B"]));
    }
}
