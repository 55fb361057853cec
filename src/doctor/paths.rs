//! Path rules: Windows paths that ssh splits (spaces without quotes) or
//! that OpenSSH versions read differently (doubled backslashes). The
//! repair writes the path with forward slashes, quoted when needed.

use crate::config::document::portable_path;
use crate::config::keywords;

use super::{Auto, Cx, Meta, Rule, Severity};

/// For each directive line where `rewrite` gives a new (rendered) value,
/// put it in place of the old one; the value's meaning changes on purpose.
fn rewrite_values(
    cx: &mut Cx,
    rule: &dyn Rule,
    severity: Severity,
    rewrite: impl Fn(&crate::config::lexer::Directive, &[u8]) -> Option<String>,
) {
    for i in 0..cx.doc.lines().len() {
        let line = &cx.doc.lines()[i];
        let found = line
            .directive()
            .and_then(|d| rewrite(d, line.bytes()).map(|v| (v, d.keyword_lc.clone())));
        let Some((rendered, kw)) = found else {
            continue;
        };
        let n = cx.line_no(i);
        cx.intend(i, &kw);
        cx.doc.replace_value(i, &rendered);
        cx.fixed(rule, n, severity);
    }
}

pub(super) struct UnquotedSpacePath;
impl Rule for UnquotedSpacePath {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "unquoted-space-path",
            title: "a path with spaces and no quotes (`C:\\Users\\John Doe\\…`): ssh reads two values and refuses the whole file",
            repair: "quote the path (forward slashes)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        rewrite_values(cx, self, Severity::Error, |d, b| {
            let kw = d.keyword_lc.as_ref();
            let path_kw = matches!(
                kw,
                "identityfile" | "certificatefile" | "identityagent" | "controlpath"
            );
            if !path_kw || d.args.len() < 2 {
                return None;
            }
            let joined = String::from_utf8_lossy(&b[d.value]).into_owned();
            if joined.contains(['"', '\'', '#']) {
                return None;
            }
            crate::config::lexer::render_value(&portable_path(&joined))
        });
    }
}

pub(super) struct BackslashPath;
impl Rule for BackslashPath {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "backslash-path",
            title: "a Windows path with doubled backslashes or a quoted trailing backslash: OpenSSH 8.1 and 9.x read it differently",
            repair: "write it with forward slashes, which every version reads the same",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        rewrite_values(cx, self, Severity::Warning, |d, b| {
            let kw = d.keyword_lc.as_ref();
            if !keywords::is_path_keyword(kw) || kw == "include" || d.args.len() != 1 {
                return None;
            }
            let raw = &b[d.args[0].span];
            // `C:\\Users` (8.1 keeps both), `\\server` (9.x drops one).
            // Tested on the bytes: most path lines have no backslash.
            if !raw.windows(2).any(|w| w == b"\\\\") || d.error.is_some() {
                return None;
            }
            let raw = String::from_utf8_lossy(raw).into_owned();
            let value = d.args[0].value(b);
            let fixed = portable_path(value).replace("//", "/");
            let fixed = if value.starts_with("\\\\") || raw.starts_with("\\\\\\\\") {
                format!("/{fixed}")
            } else {
                fixed
            };
            crate::config::lexer::render_value(&fixed).filter(|r| *r != raw)
        });
    }
}
