//! What OpenSSH 7.7 alone refuses or misreads: its `strdelim` splits a
//! line's arguments, so a comment's words, quotes and backslashes become
//! part of the values. Found per line; the words for a line are made only
//! when someone reads them ([`Judged`]: a warning lists ten lines of a
//! file with a problem on each of 10,000).

use std::path::Path;

use super::{Client, Refusal};
use crate::config::files::ConfigFile;
use crate::config::resolve::{Diagnostic, resolve_as};
use crate::config::{Context, Document};

/// [`super::judge`], and how many of its problems (the first ones) are the
/// evaluator's; the rest are what only an older client's line
/// splitting finds.
pub(super) fn judge_split(
    client: Client,
    doc: &Document,
    path: &Path,
    host: &str,
    ctx: &Context,
) -> (Refusal, usize) {
    let j = Judged::new(client, doc, path, host, ctx);
    let evaluated = j.eval.problems.len();
    let mut old: Vec<Diagnostic> = j.old.iter().filter_map(|&o| j.old_diagnostic(o)).collect();
    let mut r = j.eval;
    r.problems.append(&mut old);
    (r, evaluated)
}

/// A problem only OpenSSH 7.7 finds: the file (0: the root, else its
/// index in the tree) and the 1-based line.
#[derive(Debug, Clone, Copy)]
pub(super) struct OldAt {
    pub file: usize,
    pub line: usize,
}

/// [`judge_split`] with the older client's problems as places: their
/// words are made by [`Judged::old_diagnostic`] when asked for.
pub(super) struct Judged<'a> {
    /// The evaluator's problems.
    pub eval: Refusal,
    /// What only the older client finds, in reading order.
    pub old: Vec<OldAt>,
    root: (&'a Path, &'a Document),
    /// The tree when the root has an Include (its first file is a copy
    /// of the root, not read here).
    tree: Vec<ConfigFile>,
    ctx: &'a Context,
}

impl<'a> Judged<'a> {
    pub fn new(
        client: Client,
        doc: &'a Document,
        path: &'a Path,
        host: &str,
        ctx: &'a Context,
    ) -> Judged<'a> {
        let eval = Refusal::from_resolved(&resolve_as(client, doc, path, host, ctx));
        let mut j = Judged {
            eval,
            old: Vec::new(),
            root: (path, doc),
            tree: Vec::new(),
            ctx,
        };
        if client == Client::OpenSsh77 {
            j.find_old();
        }
        j
    }

    /// The file of index `k` (0: the root).
    pub fn file(&self, k: usize) -> (&Path, &Document) {
        match k.checked_sub(1).and_then(|_| self.tree.get(k)) {
            Some(f) => (f.path.as_path(), &f.doc),
            None => self.root,
        }
    }

    /// The older client's problems, beside the evaluator's: the files the
    /// root includes, when it has an Include line, after it in reading
    /// order (the tree's first file is a copy of the root, which on a
    /// large config cost as much as judging it).
    fn find_old(&mut self) {
        let (path, doc) = self.root;
        let includes = doc.lines().iter().any(|l| l.keyword() == Some("include"));
        if includes {
            self.tree = crate::config::files::load_tree(path, doc, &self.ctx.home);
        }
        // Per file, the lines that already have a problem: a set, not a
        // scan of the list (a file with a problem on every line made this
        // quadratic), and no copy of a path per line. Line numbers hash
        // with Fx: SipHash of ten thousand of them was a visible part of
        // `add`.
        type Lines = std::collections::HashSet<usize, crate::hash::Fx>;
        let mut seen: Vec<(&Path, Lines)> = Vec::new();
        fn slot<'p>(seen: &mut Vec<(&'p Path, Lines)>, file: &'p Path) -> usize {
            seen.iter()
                .position(|(f, _)| *f == file)
                .unwrap_or_else(|| {
                    seen.push((file, Default::default()));
                    seen.len() - 1
                })
        }
        for q in &self.eval.problems {
            let i = slot(&mut seen, &q.source.file);
            seen[i].1.insert(q.source.line);
        }
        let mut old = Vec::new();
        let files = 1 + self.tree.len().saturating_sub(1);
        for k in 0..files {
            let (file, d) = self.file(k);
            let i = slot(&mut seen, file);
            let bom = d.encoding() == crate::config::document::Encoding::Utf8Bom;
            if bom && seen[i].1.insert(1) {
                old.push(OldAt { file: k, line: 1 });
            }
            for (n, line) in d.lines().iter().enumerate() {
                if old_client_refuses(file, n, line, self.ctx) && seen[i].1.insert(n + 1) {
                    old.push(OldAt {
                        file: k,
                        line: n + 1,
                    });
                }
            }
        }
        self.old = old;
    }

    /// Who is asking.
    pub fn ctx(&self) -> &'a Context {
        self.ctx
    }

    /// The path of an older client's problem.
    pub fn old_path(&self, o: OldAt) -> &Path {
        self.file(o.file).0
    }

    /// An older client's problem in words (what `old_client_line` says of
    /// its line; a byte-order mark is held against line 1 first).
    pub fn old_diagnostic(&self, o: OldAt) -> Option<Diagnostic> {
        let (file, d) = self.file(o.file);
        if o.line == 1 && d.encoding() == crate::config::document::Encoding::Utf8Bom {
            return Some(Diagnostic {
                source: crate::config::Source {
                    file: file.to_path_buf(),
                    line: 1,
                },
                message:
                    "file starts with a UTF-8 byte-order mark: ssh on Linux and macOS cannot read it"
                        .into(),
            });
        }
        let i = o.line.checked_sub(1)?;
        old_client_line(file, i, d.lines().get(i)?, self.ctx)
    }
}

/// Whether [`old_client_line`] finds a problem on the line, without its
/// words: most refused lines of a large config carry a comment after a
/// plain value ([`comment_misread`]), and most others are plain ASCII
/// that 7.7 splits alike; both decided from the bytes.
pub(super) fn old_client_refuses(
    file: &Path,
    i: usize,
    line: &crate::config::document::Line,
    ctx: &Context,
) -> bool {
    let Some(d) = line.directive() else {
        return false;
    };
    let b = line.bytes();
    if comment_misread(b, d) {
        return true;
    }
    // No comment, ASCII (no odd space), split alike: nothing to find.
    if d.comment.is_none() && b.is_ascii() && splits_alike(b, d) {
        return false;
    }
    old_client_line(file, i, line, ctx).is_some()
}

/// Whether 7.7 surely misreads line `b` for the comment after its value:
/// a comment follows, the lexer took the line, the keyword is not a
/// command's, and up to the comment the line is ASCII (no odd space)
/// with plain values ([`plain_byte`]: 7.7 splits them as the lexer
/// does); the comment's `#` word is then one more value to 7.7.
pub(super) fn comment_misread(b: &[u8], d: &crate::config::lexer::Directive) -> bool {
    let Some(c) = d.comment.as_ref() else {
        return false;
    };
    let code_end = c.gap.start().min(b.len());
    d.error.is_none()
        && !crate::config::lexer::COMMAND_KEYWORDS.contains(&d.keyword_lc.as_ref())
        && b[..code_end].is_ascii()
        && b.get(d.separator.end()..code_end)
            .is_some_and(|rest| rest.iter().all(|&c| plain_byte(c)))
}

/// A byte OpenSSH 7.7's `strdelim` and the lexer read alike: printable
/// ASCII, a space or a tab, none of quotes, backslash, `#` and `=`.
pub(super) fn plain_byte(c: u8) -> bool {
    (c == b' ' || c == b'\t' || c.is_ascii_graphic())
        && !matches!(c, b'"' | b'\'' | b'\\' | b'#' | b'=')
}

/// What OpenSSH 7.7 refuses or misreads in line `i` (0-based) of `file`,
/// if anything.
pub(super) fn old_client_line(
    file: &Path,
    i: usize,
    line: &crate::config::document::Line,
    ctx: &Context,
) -> Option<Diagnostic> {
    use crate::config::keywords;
    use crate::config::lexer::{COMMAND_KEYWORDS, strdelim_args};

    let at = |line: usize, message: String| Diagnostic {
        source: crate::config::Source {
            file: file.to_path_buf(),
            line,
        },
        message,
    };
    let d = line.directive()?;
    let b = line.bytes();
    let kw = d.keyword_lc.as_ref();
    // Non-ASCII spaces in the code part (in a comment they are
    // harmless); a path value naming a file that exists as written
    // is what the user meant (`fix`'s non-ascii-space keeps it too).
    let code_end = d.comment.as_ref().map_or(b.len(), |c| c.gap.start());
    let code = &b[..code_end.min(b.len())];
    // Every odd space is non-ASCII: an ASCII line (most) has none.
    let odd = if code.is_ascii() {
        None
    } else {
        String::from_utf8_lossy(code)
            .chars()
            .find(|&c| crate::doctor::is_odd_space(c))
    };
    if let Some(c) = odd {
        let kept_path = keywords::is_path_keyword(kw)
            && d.args.len() == 1
            && !String::from_utf8_lossy(&b[..d.value.start()])
                .contains(crate::doctor::is_odd_space)
            && ctx.home_path(d.args[0].value(b)).exists();
        if !kept_path {
            return Some(at(
                i + 1,
                format!(
                    "a non-ASCII space (U+{:04X}): every ssh reads it as a letter, not a space",
                    c as u32
                ),
            ));
        }
    }
    // Command keywords take the raw rest of the line on every version;
    // a line the lexer refuses is the local check's business.
    if COMMAND_KEYWORDS.contains(&kw) || d.error.is_some() {
        return None;
    }
    // SetEnv came after 7.7 and splits with `strdelimw` (no `=`
    // separator): only a comment after it is held against the file.
    if kw == "setenv" && d.comment.is_none() {
        return None;
    }
    if splits_alike(b, d) {
        return None;
    }
    let new: Vec<&str> = d.values(b).collect();
    let Some(old) = strdelim_args(b, d) else {
        return Some(at(i + 1, "Missing argument.".into()));
    };
    if old == new {
        return None;
    }
    Some(at(
        i + 1,
        misread_message(kw, d.comment.is_some(), &old, &new),
    ))
}

/// Whether OpenSSH 7.7's `strdelim` surely splits the arguments of line
/// `b` as the lexer does, without splitting them both: after the keyword,
/// only printable ASCII, spaces and tabs, none of the bytes the two read
/// differently (quotes, backslash, `#`, `=`). Most lines are such, and
/// comparing the two splits allocated for each.
pub(super) fn splits_alike(b: &[u8], d: &crate::config::lexer::Directive) -> bool {
    d.comment.is_none()
        && b.get(d.separator.end()..)
            .is_some_and(|rest| rest.iter().all(|&c| plain_byte(c)))
}

/// ssh 7.7's words for a line it splits into `old` where the lexer reads
/// `new` (`kw`: the keyword, lowercase; `has_comment`: a comment follows
/// the value).
fn misread_message(kw: &str, has_comment: bool, old: &[String], new: &[&str]) -> String {
    use crate::config::keywords::{self, Kind};
    let quoted = |v: &[String]| {
        v.iter()
            .map(|x| format!("\"{x}\""))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let kind = keywords::lookup(kw).map(|k| k.kind);
    // How many arguments 7.7 takes before its "garbage" check.
    let max = match kind {
        Some(Kind::Forward) => Some(2),
        Some(
            Kind::Host
            | Kind::Match
            | Kind::Include
            | Kind::SendEnv
            | Kind::LineList
            | Kind::PathLineList
            | Kind::OneLineList
            | Kind::Other
            | Kind::Ignored,
        )
        | None => None,
        Some(_) => Some(1),
    };
    if let Some(m) = max.filter(|&m| old.len() > m) {
        format!("garbage at end of line; \"{}\".", old[m])
    } else if kw == "match"
        && let Some(h) = old.iter().find(|t| t.starts_with('#'))
    {
        format!("Unsupported Match attribute {h}")
    } else if has_comment && old.len() > new.len() {
        let extra = &old[new.len()..];
        let what = if kw == "host" {
            "more host patterns"
        } else {
            "more values"
        };
        let wild = if kw == "host" && extra.iter().any(|t| t.contains(['*', '?'])) {
            ", one a wildcard that matches other hosts"
        } else {
            ""
        };
        format!(
            "OpenSSH 7.7 and 8.1 read the comment as {what} ({}){wild}",
            quoted(extra)
        )
    } else {
        format!(
            "OpenSSH 7.7 and 8.1 read the value as {}, not {}",
            quoted(old),
            quoted(&new.iter().map(|x| x.to_string()).collect::<Vec<_>>())
        )
    }
}
