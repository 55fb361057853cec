//! One config line → keyword, arguments and trailing comment, split exactly as
//! OpenSSH ≥ 8.7 splits it (`readconf.c:process_config_line_depth`,
//! `misc.c:strdelim` and `misc.c:argv_split`).
//!
//! The lexer never owns bytes: every piece is a byte range into the line it
//! was given, so the document can re-render one piece (a value) and copy the
//! rest (indentation, separator, trailing comment) verbatim.

use std::borrow::Cow;
use std::ops::Range;

mod span;
pub use span::Span;

/// Keywords whose value is the raw rest of the line (`parse_command` in
/// `readconf.c`): quotes and `#` stay part of the command.
pub const COMMAND_KEYWORDS: &[&str] = &[
    "proxycommand",
    "localcommand",
    "remotecommand",
    "knownhostscommand",
];

/// What a line is, as OpenSSH sees it.
// Kept in place in the document's one vector of lines: a box per directive
// line would cost an allocation per line of every file parsed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// Empty or whitespace only (after the trailing-whitespace strip).
    Blank,
    /// A line whose first token starts with `#`, or one OpenSSH skips
    /// without a keyword (an unterminated quote in the keyword position).
    Comment,
    /// `Keyword value…`.
    Directive(Directive),
}

/// A directive line split into ranges of the line's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Leading whitespace (plus a stray `=` OpenSSH also skips there).
    pub indent: Span,
    /// The keyword as written (original case).
    pub keyword: Span,
    /// The keyword lowercased, for comparisons (no allocation for the
    /// keywords OpenSSH knows).
    pub keyword_lc: Cow<'static, str>,
    /// [`keywords::lookup`](super::keywords::lookup) of `keyword_lc`,
    /// looked up once here rather than by every evaluation of the line.
    pub known: Option<&'static super::keywords::Keyword>,
    /// Bytes between keyword and value: whitespace and at most one `=`.
    pub separator: Span,
    /// The value text as written: from the first argument to the end of the
    /// last one (command keywords: the raw rest of the line). Empty range at
    /// the separator's end when there is no argument.
    pub value: Span,
    /// Arguments after quote removal, comment excluded.
    pub args: Args,
    /// A trailing `# comment`, if any (boxed: most lines have none, and
    /// every line of every parsed file carries this field).
    pub comment: Option<Box<TrailingComment>>,
    /// A problem OpenSSH reports for this line whatever the keyword
    /// (boxed: rare, and every directive line carries the field).
    pub error: Option<Box<LexError>>,
}

/// A line's arguments: up to two kept in place (most lines have one or
/// two), more on the heap — parsing a file allocates per long line only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Inline(u8, [Arg; 2]),
    Heap(Vec<Arg>),
}

impl Default for Args {
    fn default() -> Args {
        Args::Inline(0, [Arg::EMPTY, Arg::EMPTY])
    }
}

impl Args {
    pub fn as_slice(&self) -> &[Arg] {
        match self {
            Args::Inline(n, a) => &a[..usize::from(*n)],
            Args::Heap(v) => v,
        }
    }

    fn push(&mut self, arg: Arg) {
        match self {
            Args::Inline(n, a) if usize::from(*n) < a.len() => {
                a[usize::from(*n)] = arg;
                *n += 1;
            }
            Args::Inline(_, a) => {
                let mut v: Vec<Arg> = a.iter_mut().map(std::mem::take).collect();
                v.push(arg);
                *self = Args::Heap(v);
            }
            Args::Heap(v) => v.push(arg),
        }
    }
}

impl std::ops::Deref for Args {
    type Target = [Arg];
    fn deref(&self) -> &[Arg] {
        self.as_slice()
    }
}

/// One argument: where it is and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Arg {
    /// The raw text in the line (quotes and escapes included).
    pub span: Span,
    /// The value when it differs from the raw text (quotes or escapes
    /// removed, or bytes that are not UTF-8); `None` keeps parsing free of
    /// allocations for plain values. Behind a thin pointer: an `Arg` is
    /// stored twice in every directive line.
    decoded: Option<Box<Decoded>>,
}

/// A decoded argument value (see [`Arg`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Decoded(Box<str>);

impl Arg {
    const EMPTY: Arg = Arg {
        span: Span::EMPTY,
        decoded: None,
    };

    fn new(span: Range<usize>, raw: &[u8], decoded: Option<Vec<u8>>) -> Arg {
        let span = Span::new(span);
        let decoded = match decoded {
            Some(v) => Some(bytes_to_string(v).into_boxed_str()),
            None => match std::str::from_utf8(raw) {
                Ok(_) => None,
                Err(_) => Some(String::from_utf8_lossy(raw).into()),
            },
        }
        .map(|d| Box::new(Decoded(d)));
        Arg { span, decoded }
    }

    /// The argument's value; `line` is the line it was lexed from.
    pub fn value<'a>(&'a self, line: &'a [u8]) -> &'a str {
        match &self.decoded {
            Some(s) => &s.0,
            None => std::str::from_utf8(&line[self.span]).unwrap_or_default(),
        }
    }
}

impl Directive {
    /// The argument values; `line` is the line this was lexed from.
    pub fn values<'a>(&'a self, line: &'a [u8]) -> impl Iterator<Item = &'a str> + 'a {
        self.args.iter().map(move |a| a.value(line))
    }
}

/// A `#` token that ends the line, with the whitespace before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailingComment {
    /// Whitespace between the value and `#`.
    pub gap: Span,
    /// From `#` to the end of the line content (trailing whitespace included).
    pub text: Span,
}

/// Errors OpenSSH raises while splitting a line, before looking at the keyword.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[error("no argument after keyword \"{0}\"")]
    NoArgument(String),
    #[error("invalid quotes")]
    InvalidQuotes,
}

const WS: &[u8] = b" \t\r\n";

fn is_ws(b: u8) -> bool {
    WS.contains(&b)
}

/// The part of `line` OpenSSH looks at: cut at the first NUL (C string) and
/// with trailing `" \t\r\n\f"` removed, except the very first byte.
pub fn effective_len(line: &[u8]) -> usize {
    let mut len = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    while len > 1 && (is_ws(line[len - 1]) || line[len - 1] == 0x0c) {
        len -= 1;
    }
    len
}

/// Split one line (without its line terminator).
pub fn lex_line(line: &[u8]) -> LineKind {
    // Spans are `u32`: a line past 4 GiB (never read from a file, see
    // `fsio::MAX_READ`) is not a directive runpod-ssh could represent.
    if u32::try_from(line.len()).is_err() {
        return LineKind::Comment;
    }
    match lex_plain(line) {
        Some(kind) => kind,
        None => lex_full(line),
    }
}

/// Bytes [`lex_plain`] takes: space, tab and printable ASCII other than
/// quotes and backslash. Everything else (NUL, CR, form feed, other
/// controls, non-ASCII, quoting) goes to [`lex_full`].
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = !matches!(b as u8, b'"' | b'\'' | b'\\');
        b += 1;
    }
    t[b'\t' as usize] = true;
    t
};

/// The common line, lexed in one pass: only [`PLAIN`] bytes, not a
/// command keyword, `Match` or a keyword without argument. What
/// [`lex_full`] gives for it, without its NUL scan, quote handling and
/// UTF-8 checks (all-ASCII). `None`: not such a line, ask [`lex_full`].
/// `tests::fast_path_agrees_with_full_lexer` holds the two equal.
fn lex_plain(line: &[u8]) -> Option<LineKind> {
    if !line.iter().all(|&b| PLAIN[usize::from(b)]) {
        return None;
    }
    let mut len = line.len();
    while len > 1 && matches!(line[len - 1], b' ' | b'\t') {
        len -= 1;
    }
    let s = &line[..len];
    if s.iter().all(|&b| b == b' ' || b == b'\t') {
        return Some(LineKind::Blank);
    }
    let first = strdelim(s, 0)?;
    let kw = if first.token.is_empty() {
        strdelim(s, first.next)?
    } else {
        first
    };
    if kw.token.first().is_none_or(|&b| b == b'#') {
        return Some(LineKind::Comment);
    }
    let (keyword_lc, known) = lowercase_keyword(&kw.token);
    if keyword_lc == "match" || COMMAND_KEYWORDS.contains(&keyword_lc.as_ref()) {
        return None;
    }
    let mut rest = kw.next.min(len);
    while rest < len && matches!(s[rest], b' ' | b'\t') {
        rest += 1;
    }
    if rest >= len {
        return None;
    }
    // `argv_split` of plain bytes: tokens between blanks, `#` opening a
    // token starts the comment.
    let mut args = Args::default();
    let mut comment = None;
    let mut i = rest;
    while i < len {
        match s[i] {
            b' ' | b'\t' => i += 1,
            b'#' => {
                comment = Some(comment_at_pos(s, &args, rest, i, line.len()));
                break;
            }
            _ => {
                let start = i;
                while i < len && !matches!(s[i], b' ' | b'\t') {
                    i += 1;
                }
                args.push(Arg {
                    span: Span::new(start..i),
                    decoded: None,
                });
            }
        }
    }
    Some(LineKind::Directive(Directive {
        indent: Span::new(0..kw.raw.start),
        keyword: Span::new(kw.raw.clone()),
        keyword_lc,
        known,
        separator: Span::new(kw.raw.end..rest),
        value: value_range(&args, rest),
        args,
        comment,
        error: None,
    }))
}

/// [`lex_line`] for any line: OpenSSH's splitting step by step.
fn lex_full(line: &[u8]) -> LineKind {
    let len = effective_len(line);
    let s = &line[..len];
    if s.iter().all(|&b| is_ws(b) || b == 0x0c) {
        return LineKind::Blank;
    }

    // The keyword: `strdelim`, called twice when the line starts with a delimiter.
    let Some(first) = strdelim(s, 0) else {
        return LineKind::Comment;
    };
    let kw = if first.token.is_empty() {
        match strdelim(s, first.next) {
            Some(t) => t,
            None => return LineKind::Comment,
        }
    } else {
        first
    };
    if kw.token.is_empty() || kw.token[0] == b'#' || kw.token[0] == b'\n' {
        return LineKind::Comment;
    }
    let (keyword_lc, known) = lowercase_keyword(&kw.token);
    let indent = Span::new(0..kw.raw.start);
    let keyword = Span::new(kw.raw.clone());

    // `str += strspn(str, WHITESPACE)`.
    let mut rest = kw.next.min(len);
    while rest < len && is_ws(s[rest]) {
        rest += 1;
    }
    let separator = Span::new(kw.raw.end..rest);
    let mut d = Directive {
        indent,
        keyword,
        keyword_lc,
        known,
        separator,
        value: Span::new(rest..rest),
        args: Args::default(),
        comment: None,
        error: None,
    };
    if rest >= len {
        d.error = Some(Box::new(LexError::NoArgument(d.keyword_lc.to_string())));
        return LineKind::Directive(d);
    }

    match argv_split(s, rest) {
        Err(()) => {
            d.error = Some(Box::new(LexError::InvalidQuotes));
            d.value = Span::new(rest..len);
        }
        Ok((args, comment_at)) => {
            if COMMAND_KEYWORDS.contains(&d.keyword_lc.as_ref()) {
                // `parse_command`: skip whitespace and '=' then take the rest raw.
                let mut start = rest;
                while start < len && (is_ws(s[start]) || s[start] == b'=') {
                    start += 1;
                }
                d.value = Span::new(start..len);
                if start < len {
                    d.args.push(Arg::new(start..len, &s[start..len], None));
                }
            } else if d.keyword_lc == "match" {
                // Match criteria are split by `strdelim` in 9.2, not argv_split.
                let (margs, mcomment) = split_match(s, rest, len);
                d.value = value_range(&margs, rest);
                d.comment = mcomment.map(|c| comment_at_pos(s, &margs, rest, c, line.len()));
                d.args = margs;
            } else {
                d.value = value_range(&args, rest);
                d.comment = comment_at.map(|c| comment_at_pos(s, &args, rest, c, line.len()));
                d.args = args;
            }
        }
    }
    LineKind::Directive(d)
}

/// The keyword lowercased; a known keyword borrows the table's spelling
/// and comes with its table entry.
fn lowercase_keyword(
    token: &[u8],
) -> (Cow<'static, str>, Option<&'static super::keywords::Keyword>) {
    if let Some((k, entry)) = super::keywords::intern_folded(token) {
        return (Cow::Borrowed(k), Some(entry));
    }
    let mut owned = bytes_to_string(token.to_vec());
    owned.make_ascii_lowercase();
    // Not in the table (a replaced byte is never in one): what `lookup`
    // finds for it too.
    (Cow::Owned(owned), None)
}

/// Bytes to text without a second allocation when they are UTF-8.
fn bytes_to_string(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn value_range(args: &[Arg], rest: usize) -> Span {
    match (args.first(), args.last()) {
        (Some(a), Some(b)) => Span::new(a.span.start()..b.span.end()),
        _ => Span::new(rest..rest),
    }
}

fn comment_at_pos(
    _s: &[u8],
    args: &[Arg],
    rest: usize,
    hash: usize,
    full_len: usize,
) -> Box<TrailingComment> {
    let gap_start = args.last().map_or(rest, |a| a.span.end());
    Box::new(TrailingComment {
        gap: Span::new(gap_start..hash),
        text: Span::new(hash..full_len),
    })
}

/// Result of one `strdelim` call.
#[derive(Debug, Clone)]
struct Delim<'a> {
    /// The token after quote removal (borrowed unless a quote was removed).
    token: std::borrow::Cow<'a, [u8]>,
    /// Where the token's raw text sits (quotes included).
    raw: Range<usize>,
    /// Where the next call starts.
    next: usize,
}

/// `misc.c:strdelim_internal(s, split_equals=1)`: one token, split on
/// whitespace, `"` or `=`, then skip whitespace and at most one `=`.
/// `None` is OpenSSH's NULL: an unterminated quote.
fn strdelim(s: &[u8], at: usize) -> Option<Delim<'_>> {
    let len = s.len();
    if at > len {
        return None;
    }
    let old = at;
    let found = s[at..]
        .iter()
        .position(|&b| is_ws(b) || b == b'"' || b == b'=')
        .map(|p| p + at);
    let Some(pos) = found else {
        return Some(Delim {
            token: s[old..].into(),
            raw: old..len,
            next: len + 1,
        });
    };
    if s[pos] == b'"' {
        // The quote is removed and the token runs to the next quote.
        let close = s[pos + 1..].iter().position(|&b| b == b'"')? + pos + 1;
        let mut token = s[old..pos].to_vec();
        token.extend_from_slice(&s[pos + 1..close]);
        let mut next = close + 1;
        while next < len && is_ws(s[next]) {
            next += 1;
        }
        return Some(Delim {
            token: token.into(),
            raw: old..close + 1,
            next,
        });
    }
    let wspace = s[pos] == b'=';
    let token = s[old..pos].into();
    let mut next = pos + 1;
    while next < len && is_ws(s[next]) {
        next += 1;
    }
    if !wspace && next < len && s[next] == b'=' {
        next += 1;
        while next < len && is_ws(s[next]) {
            next += 1;
        }
    }
    Some(Delim {
        token,
        raw: old..pos,
        next,
    })
}

/// `misc.c:argv_split(s, terminate_on_comment=1)` from offset `at`.
/// Returns the arguments and the offset of a comment `#`, or `Err` for
/// an unterminated quote ("invalid quotes").
fn argv_split(s: &[u8], at: usize) -> Result<(Args, Option<usize>), ()> {
    let mut args = Args::default();
    let mut i = at;
    let n = s.len();
    while i < n {
        if s[i] == b' ' || s[i] == b'\t' {
            i += 1;
            continue;
        }
        if s[i] == b'#' {
            return Ok((args, Some(i)));
        }
        let start = i;
        // Plain tokens (no quote, no backslash) are their own value.
        let plain_end = s[i..]
            .iter()
            .position(|&b| matches!(b, b' ' | b'\t' | b'"' | b'\'' | b'\\'))
            .map_or(n, |p| p + i);
        if plain_end == n || s[plain_end] == b' ' || s[plain_end] == b'\t' {
            args.push(Arg::new(start..plain_end, &s[start..plain_end], None));
            i = plain_end;
            continue;
        }
        let mut quote = 0u8;
        let mut out = Vec::with_capacity(16);
        while i < n {
            let c = s[i];
            if c == b'\\' {
                let nx = s.get(i + 1).copied();
                match nx {
                    Some(b'\'') | Some(b'"') | Some(b'\\') => {
                        i += 1;
                        out.push(s[i]);
                    }
                    Some(b' ') if quote == 0 => {
                        i += 1;
                        out.push(s[i]);
                    }
                    _ => out.push(c),
                }
            } else if quote == 0 && (c == b' ' || c == b'\t') {
                break;
            } else if quote == 0 && (c == b'"' || c == b'\'') {
                quote = c;
            } else if quote != 0 && c == quote {
                quote = 0;
            } else {
                out.push(c);
            }
            i += 1;
        }
        if i >= n && quote != 0 {
            return Err(());
        }
        let end = i.min(n);
        args.push(Arg::new(start..end, &s[start..end], Some(out)));
    }
    Ok((args, None))
}

/// Split `Match` criteria the way 9.2's `match_cfg_line` does: repeated
/// `strdelim`, a token starting with `#` ends the line.
fn split_match(s: &[u8], at: usize, len: usize) -> (Args, Option<usize>) {
    let mut args = Args::default();
    let mut pos = at;
    while pos < len {
        let Some(d) = strdelim(&s[..len], pos) else {
            // Unterminated quote: OpenSSH stops reading criteria here.
            args.push(Arg::new(pos..len, &s[pos..len], None));
            break;
        };
        if d.token.is_empty() {
            break;
        }
        if d.token.first() == Some(&b'#') {
            return (args, Some(d.raw.start));
        }
        let decoded = match d.token {
            Cow::Owned(v) => Some(v),
            Cow::Borrowed(_) => None,
        };
        args.push(Arg::new(d.raw.clone(), &s[d.raw.clone()], decoded));
        pos = d.next;
    }
    (args, None)
}

/// The arguments of directive line `line` (lexed as `d`) as OpenSSH ≤ 8.4
/// reads them, Windows' in-box 7.7 and 8.1 included: `strdelim` token after
/// token, so `#` is an ordinary token, only `"…"` quotes (a quote also ends
/// the token), no backslash escapes, and `=` separates. An empty token ends
/// the list (the `*arg == '\0'` checks). `None` is OpenSSH's NULL: an
/// unterminated `"`.
pub fn strdelim_args(line: &[u8], d: &Directive) -> Option<Vec<String>> {
    let len = effective_len(line);
    let s = &line[..len];
    let mut pos = d.separator.end();
    let mut out = Vec::new();
    while pos < len {
        let t = strdelim(s, pos)?;
        if t.token.is_empty() {
            break;
        }
        out.push(String::from_utf8_lossy(&t.token).into_owned());
        pos = t.next;
    }
    Some(out)
}

/// Render one value for writing, in the one form every OpenSSH version
/// (7.7 to 10.x) reads back identically: double quotes only when it holds a
/// space. Values without such a form are refused (`None`): empty, quotes,
/// `#` (cut by 8.5/8.6), backslashes (escapes only since 8.7), tabs and
/// other control characters.
pub fn render_value(value: &str) -> Option<String> {
    if value.is_empty()
        || value.contains(['"', '\'', '#', '\\'])
        || value.chars().any(|c| c.is_control())
    {
        return None;
    }
    if value.contains(' ') {
        Some(format!("\"{value}\""))
    } else {
        Some(value.to_string())
    }
}

#[cfg(test)]
mod fast_path_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn d(line: &str) -> Directive {
        match lex_line(line.as_bytes()) {
            LineKind::Directive(d) => d,
            other => panic!("{line:?} lexed as {other:?}"),
        }
    }

    fn vals(line: &str) -> Vec<String> {
        d(line)
            .values(line.as_bytes())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn keyword_and_separators() {
        assert_eq!(d("Host=web").keyword_lc, "host");
        assert_eq!(vals("Host=web"), ["web"]);
        assert_eq!(vals("  Port = 2203"), ["2203"]);
        assert_eq!(vals("HostName==h4"), ["=h4"]);
        assert_eq!(vals("\tHostName\th5"), ["h5"]);
        assert_eq!(d("pOrT 22").keyword_lc, "port");
        let x = d("  User   bob");
        assert_eq!(x.indent, 0..2);
        assert_eq!(x.separator, 6..9);
    }

    #[test]
    fn blanks_and_comments() {
        assert_eq!(lex_line(b""), LineKind::Blank);
        assert_eq!(lex_line(b"   \t "), LineKind::Blank);
        assert_eq!(lex_line(b"\r"), LineKind::Blank);
        assert_eq!(lex_line(b"  # hi"), LineKind::Comment);
        assert_eq!(lex_line(b"#Host x"), LineKind::Comment);
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(vals(r#"User "bob smith""#), ["bob smith"]);
        assert_eq!(vals("User 'bob o'"), ["bob o"]);
        assert_eq!(vals(r#"User "bo\"b""#), ["bo\"b"]);
        assert_eq!(vals(r#"User bo"b"x"#), ["bobx"]);
        assert_eq!(vals(r"IdentityFile /a/my\ keys/id"), ["/a/my keys/id"]);
        assert_eq!(
            vals(r#"IdentityFile "C:\Users\me\.ssh\id""#),
            [r"C:\Users\me\.ssh\id"]
        );
        assert_eq!(vals(r"IdentityFile \\server\share"), [r"\server\share"]);
        assert_eq!(
            d(r#"User "bob"#).error.as_deref(),
            Some(&LexError::InvalidQuotes)
        );
        assert_eq!(
            d(r#"IdentityFile "C:\Users\me\""#).error.as_deref(),
            Some(&LexError::InvalidQuotes)
        );
    }

    #[test]
    fn trailing_comments() {
        let x = d("HostName 1.2.3.4   # the IP");
        assert_eq!(vals("HostName 1.2.3.4   # the IP"), ["1.2.3.4"]);
        let c = x.comment.unwrap();
        assert_eq!(c.gap, 16..19);
        assert_eq!(c.text, 19..27);
        assert_eq!(vals("User bob#x"), ["bob#x"]);
        assert_eq!(vals(r#"IdentityFile "/opt/a#b""#), ["/opt/a#b"]);
        assert!(d("User bob#x").comment.is_none());
    }

    #[test]
    fn command_keywords_take_raw_rest() {
        let line = r#" ProxyCommand ssh -W %h:%p "jump#1" # real comment"#;
        assert_eq!(vals(line), [r#"ssh -W %h:%p "jump#1" # real comment"#]);
        assert_eq!(
            d(" ProxyCommand echo don't").error.as_deref(),
            Some(&LexError::InvalidQuotes)
        );
        assert_eq!(vals("ProxyCommand=ssh -W %h:%p j"), ["ssh -W %h:%p j"]);
    }

    #[test]
    fn match_uses_strdelim() {
        assert_eq!(vals("Match host=web"), ["host", "web"]);
        assert_eq!(vals("Match host web # c"), ["host", "web"]);
        assert!(d("Match host web # c").comment.is_some());
        assert_eq!(
            vals(r#"Match exec "test -f x" host a"#),
            ["exec", "test -f x", "host", "a"]
        );
    }

    #[test]
    fn no_argument_and_trailing_whitespace() {
        assert_eq!(
            d("User").error.as_deref(),
            Some(&LexError::NoArgument("user".into()))
        );
        assert_eq!(
            d("User   \t").error.as_deref(),
            Some(&LexError::NoArgument("user".into()))
        );
        assert_eq!(vals("HostName h33\x0c"), ["h33"]);
        assert_eq!(vals("HostName h\r"), ["h"]);
        assert_eq!(vals("HostName h\0garbage"), ["h"]);
    }

    #[test]
    fn strdelim_args_read_as_openssh_before_8_5() {
        let old = |line: &str| strdelim_args(line.as_bytes(), &d(line));
        assert_eq!(
            old("  HostName 1.2.3.4 # the IP").unwrap(),
            ["1.2.3.4", "#", "the", "IP"]
        );
        assert_eq!(old("User 'bob'").unwrap(), ["'bob'"]);
        assert_eq!(old(r#"User "bob smith""#).unwrap(), ["bob smith"]);
        assert_eq!(old(r#"User bo"b"x"#).unwrap(), ["bob", "x"]);
        assert_eq!(
            old(r"IdentityFile /a/my\ keys/id").unwrap(),
            [r"/a/my\", "keys/id"]
        );
        assert_eq!(old("Port = 22").unwrap(), ["22"]);
        assert_eq!(old("LocalForward a=b").unwrap(), ["a", "b"]);
        assert_eq!(old("User 'a\"b'"), None);
    }

    #[test]
    fn render() {
        assert_eq!(render_value("root").as_deref(), Some("root"));
        assert_eq!(render_value("/a b/c").as_deref(), Some("\"/a b/c\""));
        assert_eq!(render_value("a\"b"), None);
        assert_eq!(render_value("#x"), None);
        assert_eq!(render_value("a\nb"), None);
        assert_eq!(render_value(""), None);
    }
}
