//! Encoding rules: the file's bytes before any keyword is read — UTF-16
//! (PowerShell `>`), a byte-order mark, a config saved in the Windows ANSI
//! code page (CP949 on Korean Windows), and Unicode spaces pasted from a
//! web page that OpenSSH reads as letters. They run first so the other
//! rules can read the text.

use crate::config::Context;
use crate::config::document::{Document, Encoding};
use crate::config::keywords;

use super::{Auto, Cx, Finding, Meta, Rule, Severity};

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

/// Keywords whose value is a local file: a decoded one that exists shows
/// the decoding is right.
const PATH_KEYWORDS: &[&str] = &[
    "identityfile",
    "certificatefile",
    "userknownhostsfile",
    "globalknownhostsfile",
    "include",
    "identityagent",
];

/// A config saved in the legacy ANSI code page (Notepad before 2019 on
/// Korean Windows: CP949) holding a non-ASCII path: not UTF-8, so Windows'
/// ssh looks for a file that does not exist, and VS Code shows (and may
/// write back) U+FFFD. Decided: re-encode only when decoding with the
/// system's code page makes a path value name an existing file (the proof
/// that this is the right code page); otherwise report and change nothing.
pub(super) struct LegacyCodePage;
impl Rule for LegacyCodePage {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "legacy-code-page",
            title: "config is not UTF-8 (saved in the Windows ANSI code page, e.g. CP949): ssh cannot find the non-ASCII path it names",
            repair: "re-encode as UTF-8 when decoding with the system's code page names an existing file; otherwise re-save it as UTF-8 yourself",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.doc.encoding() != Encoding::Utf8 {
            return;
        }
        let bad: Vec<usize> = (0..cx.doc.lines().len())
            .filter(|&i| std::str::from_utf8(cx.doc.lines()[i].bytes()).is_err())
            .collect();
        let Some(&first) = bad.first() else {
            return;
        };
        let n = cx.line_no(first);
        let manual = |cx: &mut Cx, why: String| {
            cx.findings.push(Finding {
                rule: "legacy-code-page",
                file: cx.path.clone(),
                line: n,
                severity: Severity::Error,
                message: format!("config is not UTF-8 ({} line(s)): {why}", bad.len()),
                repair: "open it in an editor that shows the names right, save it as UTF-8, and run fix again".into(),
                auto: Auto::Manual,
                applied: false,
            });
        };
        let Some(cp) = cx.ansi else {
            manual(
                cx,
                "no Windows code page here to decode it with (run fix on the Windows side)".into(),
            );
            return;
        };
        let mut decoded = Vec::new();
        for &i in &bad {
            match (cp.decode)(cp.id, cx.doc.lines()[i].bytes()) {
                Some(t) => decoded.push((i, t)),
                None => {
                    manual(
                        cx,
                        format!(
                            "line {} is not valid in code page {} either",
                            cx.line_no(i).unwrap_or(i + 1),
                            cp.id
                        ),
                    );
                    return;
                }
            }
        }
        let mut proof = None;
        for (_, t) in &decoded {
            let d = Document::parse(t.as_bytes());
            let Some(l) = d.lines().first() else { continue };
            if l.keyword().is_some_and(|k| PATH_KEYWORDS.contains(&k))
                && let Some(v) = l.values().first()
                && cx.ctx.home_path(v).exists()
            {
                proof = Some(v.to_string());
                break;
            }
        }
        let Some(proof) = proof else {
            let sample = decoded
                .first()
                .map(|(_, t)| t.trim().to_string())
                .unwrap_or_default();
            manual(
                cx,
                format!(
                    "decoded as code page {} it reads `{sample}`, which names no existing file, so it was not re-encoded",
                    cp.id
                ),
            );
            return;
        };
        for (i, t) in decoded {
            if let Some(k) = cx.doc.lines()[i].keyword().map(str::to_string) {
                cx.intend(i, &k);
            }
            if let Some(l) = cx.doc.line_mut(i) {
                l.set_bytes(t.into_bytes());
            }
        }
        cx.report(
            self,
            n,
            Severity::Error,
            format!(
                "{} (decoded as code page {}, {proof} exists)",
                self.title(),
                cp.id
            ),
            "re-encoded as UTF-8 (backed up)".into(),
            true,
        );
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
            // Every odd space is outside ASCII: most lines are skipped here.
            if line.is_comment() || line.bytes().is_ascii() {
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
                .and_then(|d| d.comment.as_ref().map(|c| c.gap.start()))
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
    let start = fixed.get(..d.value.start())?.chars().count();
    let len = fixed.get(d.value.range())?.chars().count();
    let original: String = code.chars().skip(start).take(len).collect();
    if !original.chars().any(is_odd_space) {
        return None;
    }
    let candidate = format!(
        "{}{original}{}",
        fixed.get(..d.value.start())?,
        fixed.get(d.value.end()..)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// CP949 for the fixture's three syllables: the decision logic runs the
    /// same on every platform with an injected code page (Windows decodes
    /// with the system's, tested in the Windows lane).
    fn fake_cp949(cp: u32, b: &[u8]) -> Option<String> {
        assert_eq!(cp, 949);
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] < 0x80 {
                out.push(b[i] as char);
                i += 1;
                continue;
            }
            out.push(match b.get(i..i + 2)? {
                [0xC8, 0xAB] => '홍',
                [0xB1, 0xE6] => '길',
                [0xB5, 0xBF] => '동',
                _ => return None,
            });
            i += 2;
        }
        Some(out)
    }

    fn cp949_cx(home: &Path, cp: Option<crate::platform::CodePage>) -> Vec<(Finding, Vec<u8>)> {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cp949");
        let bytes = std::fs::read(fixtures.join("config")).unwrap();
        let ctx = Context {
            home: home.to_path_buf(),
            user_home: home.to_path_buf(),
            ..Context::current()
        };
        let path = home.join(".ssh/config");
        let mut cx = Cx {
            ansi: cp,
            ..Cx::new(Document::parse(&bytes), &path, &ctx)
        };
        LegacyCodePage.run(&mut cx);
        let out = cx.doc.to_bytes();
        cx.findings.into_iter().map(|f| (f, out.clone())).collect()
    }

    #[test]
    fn cp949_config_is_reencoded_only_when_the_decoded_path_exists() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cp949");
        let original = std::fs::read(fixtures.join("config")).unwrap();
        let expected = std::fs::read(fixtures.join("expected.conf")).unwrap();
        let cp = Some(crate::platform::CodePage {
            id: 949,
            decode: fake_cp949,
        });
        let home = tempfile::tempdir().unwrap();
        // The key is not there: reported with what the decoding reads, unchanged.
        let got = cp949_cx(home.path(), cp);
        assert_eq!(got.len(), 1);
        let (f, out) = &got[0];
        assert!(!f.applied && f.auto == Auto::Manual, "{f:?}");
        assert!(
            f.message.contains("~/.ssh/홍길동/id_ed25519"),
            "{}",
            f.message
        );
        assert_eq!(out, &original);
        // No code page to decode with (Linux, macOS): reported, unchanged.
        std::fs::create_dir_all(home.path().join(".ssh/홍길동")).unwrap();
        std::fs::write(home.path().join(".ssh/홍길동/id_ed25519"), "k").unwrap();
        let got = cp949_cx(home.path(), None);
        assert!(!got[0].0.applied && got[0].1 == original);
        // A page the bytes are not valid in: reported, unchanged.
        let latin = |_: u32, b: &[u8]| -> Option<String> {
            b.is_ascii().then(|| String::from_utf8(b.to_vec()).unwrap())
        };
        let got = cp949_cx(
            home.path(),
            Some(crate::platform::CodePage {
                id: 949,
                decode: latin,
            }),
        );
        assert!(!got[0].0.applied && got[0].1 == original);
        // The decoded path names the key: the file is re-encoded as UTF-8.
        let got = cp949_cx(home.path(), cp);
        assert_eq!(got.len(), 1);
        assert!(got[0].0.applied, "{:?}", got[0].0);
        assert_eq!(
            String::from_utf8_lossy(&got[0].1),
            String::from_utf8_lossy(&expected)
        );
        assert_eq!(got[0].1, expected);
    }
}
