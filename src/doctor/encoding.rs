//! Encoding rules: the file's bytes before any keyword is read — UTF-16
//! (PowerShell `>`), a byte-order mark, and Unicode spaces pasted from a
//! web page that OpenSSH reads as letters. They run first so the other
//! rules can read the text.

use crate::config::Context;
use crate::config::document::Encoding;
use crate::config::keywords;

use super::{Auto, Cx, Meta, Rule, Severity};

pub(super) struct Utf16;
impl Rule for Utf16 {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "utf16",
            title: "file is UTF-16 (PowerShell `>`): no ssh can read it",
            repair: "re-encode as UTF-8 without BOM, line endings kept",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if matches!(cx.doc.encoding(), Encoding::Utf16Le | Encoding::Utf16Be) {
            cx.doc.set_encoding(Encoding::Utf8);
            cx.fixed(self, Some(1), Severity::Error);
        }
    }
}

pub(super) struct Bom;
impl Rule for Bom {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "bom",
            title: "file starts with a UTF-8 byte-order mark: Linux and macOS ssh refuse it (VS Code still lists the hosts)",
            repair: "remove the byte-order mark",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.doc.encoding() == Encoding::Utf8Bom {
            cx.doc.set_encoding(Encoding::Utf8);
            cx.fixed(self, Some(1), Severity::Error);
            return;
        }
        // Two stray UTF-16 byte-order mark bytes before text that is not
        // UTF-16 (the document kept them as raw bytes): drop them, as the
        // UTF-8 mark is dropped; ssh refuses only line 1 because of them.
        if cx.doc.encoding() == Encoding::Utf8
            && let Some(first) = cx.doc.line_mut(0)
            && let Some(rest) = first
                .bytes()
                .strip_prefix(&[0xFF, 0xFE])
                .or_else(|| first.bytes().strip_prefix(&[0xFE, 0xFF]))
        {
            let rest = rest.to_vec();
            first.set_bytes(rest);
            cx.report(
                self,
                Some(1),
                Severity::Error,
                "file starts with two stray bytes (a UTF-16 byte-order mark before text that is not UTF-16): ssh refuses line 1".into(),
                "remove the two bytes".into(),
                true,
            );
        }
    }
}

/// Unicode spaces that look like spaces but are not to OpenSSH.
pub(crate) fn is_odd_space(c: char) -> bool {
    matches!(
        c,
        '\u{a0}' | '\u{2000}'..='\u{200b}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

pub(super) struct NonAsciiSpace;
impl Rule for NonAsciiSpace {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "non-ascii-space",
            title: "non-breaking or ideographic spaces (pasted from a web page): ssh sees them as letters",
            repair: "replace each with an ASCII space",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        for i in 0..cx.doc.lines().len() {
            let line = &cx.doc.lines()[i];
            if line.is_comment() {
                continue;
            }
            let Ok(text) = std::str::from_utf8(line.bytes()) else {
                continue;
            };
            if !text.chars().any(is_odd_space) {
                continue;
            }
            // Within a trailing comment they are harmless: only fix the code part.
            let code_end = line
                .directive()
                .and_then(|d| d.comment.as_ref().map(|c| c.gap.start))
                .unwrap_or(text.len());
            let (code, rest) = text.split_at(code_end.min(text.len()));
            if !code.chars().any(is_odd_space) {
                continue;
            }
            let fixed: String = code
                .chars()
                .map(|c| if is_odd_space(c) { ' ' } else { c })
                .collect();
            // A path value naming a file that exists as written is what the
            // user meant: keep it, repair only the rest of the line.
            let kept = keep_existing_path(cx.ctx, code, &fixed);
            let fixed = kept.clone().unwrap_or(fixed);
            if fixed == code {
                continue;
            }
            let n = cx.line_no(i);
            let new = format!("{fixed}{rest}");
            if let Some(l) = cx.doc.line_mut(i) {
                l.set_bytes(new.into_bytes());
            }
            // The repaired line's keyword is what the repair changes.
            if let Some(kw) = cx.doc.lines()[i].keyword().map(str::to_string) {
                cx.intend(i, &kw);
            }
            if kept.is_some() {
                cx.report(
                    self,
                    n,
                    Severity::Error,
                    format!(
                        "{} (the path value names a file that exists as written, so it was kept)",
                        self.title()
                    ),
                    self.repair_text().into(),
                    true,
                );
            } else {
                cx.fixed(self, n, Severity::Error);
            }
        }
    }
}

/// `fixed` (the code part of a line with every odd space made ASCII) with
/// its path value put back as in `code`, when that value has odd spaces
/// and names a file that exists as written.
fn keep_existing_path(ctx: &Context, code: &str, fixed: &str) -> Option<String> {
    use crate::config::lexer::{LineKind, lex_line};
    let LineKind::Directive(d) = lex_line(fixed.as_bytes()) else {
        return None;
    };
    if !keywords::is_path_keyword(&d.keyword_lc) || d.value.is_empty() {
        return None;
    }
    // Odd spaces became one ASCII space each: count characters, not bytes.
    let start = fixed.get(..d.value.start)?.chars().count();
    let len = fixed.get(d.value.clone())?.chars().count();
    let original: String = code.chars().skip(start).take(len).collect();
    if !original.chars().any(is_odd_space) {
        return None;
    }
    let candidate = format!(
        "{}{original}{}",
        fixed.get(..d.value.start)?,
        fixed.get(d.value.end..)?
    );
    let LineKind::Directive(d2) = lex_line(candidate.as_bytes()) else {
        return None;
    };
    let [arg] = d2.args.as_slice() else {
        return None;
    };
    let v = arg.value(candidate.as_bytes());
    (v.chars().any(is_odd_space) && ctx.home_path(v).exists()).then_some(candidate)
}
