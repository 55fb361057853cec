//! A lossless `ssh_config` document.
//!
//! Any byte sequence parses, and [`Document::to_bytes`] gives back the
//! identical bytes until an edit touches a line. Each line keeps its own
//! bytes and terminator; the lexer's overlay says where its keyword, value
//! and trailing comment are, so an edit rewrites just the value and copies
//! indentation, separator and comment. Blocks (`Host`, `Match`, and the
//! global section before them) are views over line ranges, never owners.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use super::keywords;
use super::lexer::{self, Directive, LineKind};

mod edit;

/// How the file's bytes encode its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8 (or any bytes) without a byte-order mark.
    Utf8,
    /// UTF-8 behind `EF BB BF`: Windows' ssh strips it, Linux and macOS ssh
    /// refuse the first line.
    Utf8Bom,
    /// UTF-16 little-endian with `FF FE` (PowerShell 5.1 `>`): no ssh reads it.
    Utf16Le,
    /// UTF-16 big-endian with `FE FF`.
    Utf16Be,
}

/// The terminator a line had on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LineEnding {
    Lf,
    CrLf,
    /// The last line of a file without a final newline.
    None,
}

impl LineEnding {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
            LineEnding::None => b"",
        }
    }
}

/// One line: its bytes (without terminator), terminator and lexed overlay.
///
/// Unedited lines share the file's buffer (one allocation for the whole
/// file, not one per line); an edited line gets its own.
///
/// Every line of every file parsed is one of these, so it is kept small:
/// the span into the buffer is two `u32` (a line that owns its buffer
/// spans all of it, whatever its length, see [`WHOLE`]).
#[derive(Debug, Clone)]
pub struct Line {
    /// The bytes this line is a range of: the whole file as read, shared
    /// by its lines (a thin pointer: one per line of every parsed file), or
    /// the line's own bytes after an edit.
    buf: Arc<Vec<u8>>,
    start: u32,
    end: u32,
    pub ending: LineEnding,
    kind: LineKind,
    /// The 0-based line this came from in the parsed file ([`NO_ORIGIN`]
    /// for a line an edit added), so reports can name the user's line
    /// numbers. A `u32` beside `ending` rather than an `Option<usize>`
    /// (16 bytes): a file of 4 billion lines is past `fsio::MAX_READ`.
    origin: u32,
}

impl PartialEq for Line {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes() && self.ending == other.ending
    }
}

impl Eq for Line {}

/// Lines [`Document::parse`] leaves room for, so that an edit adding an
/// entry does not reallocate the line table of a large file.
const EDIT_ROOM: usize = 64;

/// `Line::end` of a line whose bytes are its whole buffer.
const WHOLE: u32 = u32::MAX;

/// `Line::origin` of a line no parsed line gave (an edit added it).
const NO_ORIGIN: u32 = u32::MAX;

impl Line {
    fn new(bytes: Vec<u8>, ending: LineEnding) -> Self {
        let kind = lexer::lex_line(&bytes);
        Line {
            buf: Arc::new(bytes),
            start: 0,
            end: WHOLE,
            ending,
            kind,
            origin: NO_ORIGIN,
        }
    }

    /// A line at `range` of a shared buffer; `None` when the range does
    /// not fit the `u32` span (a buffer over 4 GiB: the caller gives such
    /// a line its own buffer).
    fn shared(buf: &Arc<Vec<u8>>, range: Range<usize>, ending: LineEnding) -> Option<Self> {
        let start = u32::try_from(range.start).ok()?;
        let end = u32::try_from(range.end).ok().filter(|&e| e != WHOLE)?;
        let kind = lexer::lex_line(&buf[range]);
        Some(Line {
            buf: buf.clone(),
            start,
            end,
            ending,
            kind,
            origin: NO_ORIGIN,
        })
    }

    /// The 1-based line number this line had in the file as read.
    pub fn original_line(&self) -> Option<usize> {
        self.origin().map(|o| o + 1)
    }

    /// The 0-based line this came from in the parsed file, if any.
    fn origin(&self) -> Option<usize> {
        (self.origin != NO_ORIGIN).then_some(self.origin as usize)
    }

    /// Set [`Line::origin`]; a line past `u32` range keeps none.
    fn set_origin(&mut self, origin: Option<usize>) {
        self.origin = origin
            .and_then(|o| u32::try_from(o).ok())
            .unwrap_or(NO_ORIGIN);
    }

    /// The line's bytes without its terminator.
    pub fn bytes(&self) -> &[u8] {
        if self.end == WHOLE {
            &self.buf
        } else {
            &self.buf[self.start as usize..self.end as usize]
        }
    }

    /// The line as (lossy) text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    pub fn kind(&self) -> &LineKind {
        &self.kind
    }

    /// The directive overlay, when the line is one.
    pub fn directive(&self) -> Option<&Directive> {
        match &self.kind {
            LineKind::Directive(d) => Some(d),
            _ => None,
        }
    }

    /// The lowercased keyword of a directive line.
    pub fn keyword(&self) -> Option<&str> {
        self.directive().map(|d| d.keyword_lc.as_ref())
    }

    pub fn is_blank(&self) -> bool {
        self.kind == LineKind::Blank
    }

    pub fn is_comment(&self) -> bool {
        self.kind == LineKind::Comment
    }

    /// Whether this line starts a block (`Host` or `Match`).
    /// The argument values of a directive line (empty for other lines).
    pub fn values(&self) -> Vec<&str> {
        self.directive()
            .map(|d| d.values(self.bytes()).collect())
            .unwrap_or_default()
    }

    pub fn is_header(&self) -> bool {
        matches!(self.keyword(), Some("host" | "match"))
    }

    /// Whether this directive line gives exactly the one value `value`,
    /// with no comment, split alike by every OpenSSH version (7.7's
    /// `strdelim` and 9.x's `argv_split`).
    fn reads_as(&self, value: &str) -> bool {
        let Some(d) = self.directive() else {
            return false;
        };
        let b = self.bytes();
        d.error.is_none()
            && d.comment.is_none()
            && d.args.len() == 1
            && d.args[0].value(b) == value
            && lexer::strdelim_args(b, d).is_some_and(|old| old == [value])
    }

    /// Replace the whole line's bytes (terminator kept), re-lexing it.
    pub fn set_bytes(&mut self, bytes: Vec<u8>) {
        let origin = self.origin;
        *self = Line::new(bytes, self.ending);
        self.origin = origin;
    }
}

/// What starts a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// Lines before the first `Host`/`Match`: they apply to every host.
    Global,
    Host,
    Match,
}

/// [`Document::host_blocks_naming`] over blocks the caller already listed
/// (each `blocks()` is a pass over the whole file).
pub fn host_blocks_naming_in(blocks: &[Block], alias: &str) -> Vec<usize> {
    blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.kind == BlockKind::Host && b.patterns.iter().any(|p| p == alias))
        .map(|(i, _)| i)
        .collect()
}

/// A view over a run of lines: a header and what follows up to the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    /// Index of the `Host`/`Match` line (`None` for the global section).
    pub header: Option<usize>,
    /// Line indices covered, header included.
    pub lines: Range<usize>,
    /// The header's arguments (Host patterns or Match criteria).
    pub patterns: Vec<String>,
}

/// Where a block is: a [`Block`] without its patterns, which cost a
/// `String` each (and a list of them per block) when every block of a
/// large file is listed only to find a few. [`Document::patterns_at`]
/// reads them from the header line; [`Document::block_at`] makes the
/// [`Block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAt {
    pub kind: BlockKind,
    /// Index of the `Host`/`Match` line (`None` for the global section).
    pub header: Option<usize>,
    /// Line indices covered, header included.
    pub lines: Range<usize>,
}

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error(
        "value {value:?} for {keyword} cannot be written portably (quotes, '#', backslashes, control characters or empty)"
    )]
    Unrepresentable { keyword: String, value: String },
    #[error("keyword {0:?} is not one runpod-ssh writes")]
    UnknownKeyword(String),
    #[error("no block {0}")]
    NoSuchBlock(usize),
    #[error("alias {0:?} is not a valid host alias (letters, digits, '.', '_', '-' only)")]
    BadAlias(String),
}

/// A lossless ssh_config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    encoding: Encoding,
    lines: Vec<Line>,
}

impl Document {
    /// Parse any bytes. Never fails: what OpenSSH would reject is kept as
    /// it is and reported by evaluation.
    pub fn parse(input: &[u8]) -> Document {
        let (encoding, text) = decode(input);
        Document::of_buffer(encoding, Arc::new(text.into_owned()))
    }

    /// [`Document::parse`] of bytes already shared (a file as read,
    /// [`crate::fsio::Snapshot::bytes`]; `None`, a file that does not exist
    /// yet, is empty): a UTF-8 file's lines are ranges of those very bytes,
    /// not of a copy of them.
    pub fn parse_shared(input: Option<&Arc<Vec<u8>>>) -> Document {
        let Some(input) = input else {
            return Document::parse(b"");
        };
        match decode(input) {
            (Encoding::Utf8, Cow::Borrowed(text)) if text.len() == input.len() => {
                Document::of_buffer(Encoding::Utf8, Arc::clone(input))
            }
            _ => Document::parse(input),
        }
    }

    /// The document whose lines are the ranges of `buf` (decoded text).
    fn of_buffer(encoding: Encoding, buf: Arc<Vec<u8>>) -> Document {
        // Room for the lines an edit adds (an entry is a dozen): inserting
        // them then moves lines within the table rather than into a new one.
        let mut lines =
            Vec::with_capacity(buf.iter().filter(|&&b| b == b'\n').count() + 1 + EDIT_ROOM);
        crate::platform::prefer_huge_pages(&mut lines);
        for (range, ending) in line_spans(&buf) {
            let mut l = Line::shared(&buf, range.clone(), ending)
                .unwrap_or_else(|| Line::new(buf[range].to_vec(), ending));
            l.set_origin(Some(lines.len()));
            lines.push(l);
        }
        Document { encoding, lines }
    }

    /// The document's bytes, in its original encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.bytes().len() + 2).sum());
        for l in &self.lines {
            out.extend_from_slice(l.bytes());
            out.extend_from_slice(l.ending.as_bytes());
        }
        encode(self.encoding, out)
    }

    /// The text as UTF-8 (BOM and UTF-16 removed), what OpenSSH should see.
    pub fn to_utf8(&self) -> Vec<u8> {
        let mut d = self.clone();
        d.encoding = Encoding::Utf8;
        d.to_bytes()
    }

    /// Whether [`Document::parse`] of [`Document::to_bytes`] gives back
    /// these very lines: true for a parsed document and the edits
    /// runpod-ssh makes; false for a line holding a newline, an LF line
    /// ending in CR, a line without a newline before the last, a first
    /// line that would read as a byte-order mark, or UTF-16 (whose
    /// encoding may replace bytes). Lets a caller use the document it has
    /// instead of reading back what it wrote.
    pub fn reparses_identically(&self) -> bool {
        if matches!(self.encoding, Encoding::Utf16Le | Encoding::Utf16Be) {
            return false;
        }
        let n = self.lines.len();
        let first_ok = self.encoding != Encoding::Utf8
            || self
                .lines
                .first()
                .is_none_or(|l| !matches!(l.bytes().first(), Some(0xEF | 0xFE | 0xFF)));
        first_ok
            && self.lines.iter().enumerate().all(|(i, l)| {
                let b = l.bytes();
                !b.contains(&b'\n')
                    && match l.ending {
                        LineEnding::Lf => !b.ends_with(b"\r"),
                        LineEnding::CrLf => true,
                        LineEnding::None => i + 1 == n && !b.is_empty(),
                    }
            })
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Change how the document is written (e.g. UTF-16 → UTF-8), keeping
    /// every line and line ending.
    pub fn set_encoding(&mut self, encoding: Encoding) {
        self.encoding = encoding;
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    pub fn line_mut(&mut self, index: usize) -> Option<&mut Line> {
        self.lines.get_mut(index)
    }

    /// The ending new lines get: the file's most common one (LF on a tie or
    /// an empty file).
    pub fn dominant_ending(&self) -> LineEnding {
        let crlf = self
            .lines
            .iter()
            .filter(|l| l.ending == LineEnding::CrLf)
            .count();
        let lf = self
            .lines
            .iter()
            .filter(|l| l.ending == LineEnding::Lf)
            .count();
        if crlf > lf {
            LineEnding::CrLf
        } else {
            LineEnding::Lf
        }
    }

    /// The blocks, in file order; the first is always the global section.
    pub fn blocks(&self) -> Vec<Block> {
        self.block_spans().map(|b| self.block_at(&b)).collect()
    }

    /// [`Document::blocks`] without the patterns: the same blocks, in the
    /// same order.
    pub fn blocks_at(&self) -> Vec<BlockAt> {
        self.block_spans().collect()
    }

    /// The blocks in order, each given as the next header (or the end of
    /// the file) closes it: one pass over the lines.
    fn block_spans(&self) -> impl Iterator<Item = BlockAt> + '_ {
        let n = self.lines.len();
        let mut headers = (self.lines.iter().enumerate())
            .filter_map(|(i, l)| header_kind(l).map(|kind| (i, kind)));
        let mut open = Some(BlockAt {
            kind: BlockKind::Global,
            header: None,
            lines: 0..n,
        });
        std::iter::from_fn(move || {
            let mut b = open.take()?;
            if let Some((i, kind)) = headers.next() {
                b.lines.end = i;
                open = Some(BlockAt {
                    kind,
                    header: Some(i),
                    lines: i..n,
                });
            }
            Some(b)
        })
    }

    /// The patterns (or criteria) of block `at` of this document: its
    /// header's arguments, as [`Block::patterns`] holds them.
    pub fn patterns_at(&self, at: &BlockAt) -> impl Iterator<Item = &str> {
        at.header
            .and_then(|h| self.lines.get(h))
            .and_then(|l| l.directive().map(|d| d.values(l.bytes())))
            .into_iter()
            .flatten()
    }

    /// The [`Block`] at `at` (a block of this document).
    pub fn block_at(&self, at: &BlockAt) -> Block {
        Block {
            kind: at.kind,
            header: at.header,
            lines: at.lines.clone(),
            patterns: self.patterns_at(at).map(str::to_string).collect(),
        }
    }

    /// Indices (into [`Document::blocks`]) of the `Host` blocks that list
    /// `alias` literally as one of their patterns.
    pub fn host_blocks_naming(&self, alias: &str) -> Vec<usize> {
        self.host_blocks_naming_with(alias)
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    }

    /// The `Host` blocks that list `alias` literally, with their indices in
    /// [`Document::blocks`], found in one pass that makes no `String` for
    /// the blocks that do not name it (listing every block's patterns was a
    /// large part of `remove` on a large file).
    pub fn host_blocks_naming_with(&self, alias: &str) -> Vec<(usize, Block)> {
        let lines = &self.lines;
        let mut found: Vec<(usize, Block)> = Vec::new();
        // A found block ends at the next header (or the end of the file).
        let mut open = false;
        let mut ordinal = 0;
        for (i, l) in lines.iter().enumerate() {
            if !l.is_header() {
                continue;
            }
            ordinal += 1;
            if let Some((_, b)) = found.last_mut().filter(|_| open) {
                b.lines.end = i;
            }
            open = false;
            let Some(d) = l.directive().filter(|_| l.keyword() == Some("host")) else {
                continue;
            };
            if d.values(l.bytes()).any(|p| p == alias) {
                found.push((
                    ordinal,
                    Block {
                        kind: BlockKind::Host,
                        header: Some(i),
                        lines: i..lines.len(),
                        patterns: d.values(l.bytes()).map(str::to_string).collect(),
                    },
                ));
                open = true;
            }
        }
        found
    }

    /// `blocks()[index]`, without listing every block's patterns (each
    /// edit asks for one block; on a large file the list was most of it).
    fn block(&self, index: usize) -> Result<Block, EditError> {
        let mut headers = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_header())
            .map(|(i, _)| i);
        let header = match index {
            0 => None,
            n => Some(headers.nth(n - 1).ok_or(EditError::NoSuchBlock(index))?),
        };
        let end = headers.next().unwrap_or(self.lines.len());
        let (kind, patterns) = match header {
            None => (BlockKind::Global, Vec::new()),
            Some(h) => {
                let l = &self.lines[h];
                let kind = header_kind(l).unwrap_or(BlockKind::Match);
                let patterns = patterns_of(l);
                (kind, patterns)
            }
        };
        Ok(Block {
            kind,
            header,
            lines: header.unwrap_or(0)..end,
            patterns,
        })
    }

    /// The lines of `block` that set `keyword` (any alias of it).
    pub fn option_lines(&self, block: &Block, keyword: &str) -> Vec<usize> {
        self.option_line_iter(block, keyword).collect()
    }

    /// [`Document::option_lines`] as an iterator (rules ask it of every
    /// block of a large file: no Vec each time).
    pub fn option_line_iter(
        &self,
        block: &Block,
        keyword: &str,
    ) -> impl Iterator<Item = usize> + '_ {
        let want = keywords::lookup(keyword).map(|k| k.name);
        let header = block.header;
        let lines = if want.is_some() {
            block.lines.clone()
        } else {
            0..0
        };
        // `Directive::known` is the lexer's `lookup` of the line's keyword:
        // no second look-up (a hash of the keyword) per line.
        lines.filter(move |&i| {
            Some(i) != header
                && self.lines[i]
                    .directive()
                    .and_then(|d| d.known)
                    .is_some_and(|k| Some(k.name) == want)
        })
    }

    /// The first value `block` gives `keyword` on its own lines, if any.
    pub fn first_value(&self, block: &Block, keyword: &str) -> Option<String> {
        let li = *self.option_lines(block, keyword).first()?;
        let l = &self.lines[li];
        l.directive()?.values(l.bytes()).next().map(str::to_string)
    }
}

/// A header's arguments as owned strings (exactly sized, no `Vec<&str>`
/// in between).
fn patterns_of(l: &Line) -> Vec<String> {
    l.directive()
        .map(|d| d.values(l.bytes()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The kind of block line `l` starts, if it is a header.
fn header_kind(l: &Line) -> Option<BlockKind> {
    match l.keyword()? {
        "host" => Some(BlockKind::Host),
        "match" => Some(BlockKind::Match),
        _ => None,
    }
}

/// `C:\Users\me\.ssh\id` → `C:/Users/me/.ssh/id`: the one spelling every
/// OpenSSH version reads the same.
pub fn portable_path(path: &str) -> String {
    path.replace('\\', "/")
}

/// An alias VS Code and every OpenSSH accept as a single `Host` pattern
/// that matches only itself.
pub fn valid_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias.len() <= 253
        && !alias.starts_with('-')
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether text decoded from UTF-16 looks like an ssh config: at least
/// half of it ASCII (keywords, addresses, paths). Two stray `FF FE` bytes
/// before an ASCII file decode to almost nothing but CJK.
fn plausible_utf16_config(s: &str) -> bool {
    let (ascii, all) = s.chars().fold((0usize, 0usize), |(a, n), c| {
        (a + usize::from(c.is_ascii()), n + 1)
    });
    ascii * 2 >= all
}

/// The lines of decoded text as [`Document::parse`] splits them: each
/// line's bytes (without its terminator) and its terminator. What the
/// evaluator reads a file by when it keeps no document.
pub fn line_spans(buf: &[u8]) -> impl Iterator<Item = (Range<usize>, LineEnding)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= buf.len() {
            return None;
        }
        Some(match buf[start..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let nl = start + i;
                let span = if nl > start && buf[nl - 1] == b'\r' {
                    (start..nl - 1, LineEnding::CrLf)
                } else {
                    (start..nl, LineEnding::Lf)
                };
                start = nl + 1;
                span
            }
            None => {
                // The last line without a newline is the user's too.
                let span = (start..buf.len(), LineEnding::None);
                start = buf.len();
                span
            }
        })
    })
}

/// The file's encoding and its text as UTF-8 (borrowed unless it had to
/// be decoded).
pub fn decode(input: &[u8]) -> (Encoding, Cow<'_, [u8]>) {
    if let Some(rest) = input.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return (Encoding::Utf8Bom, Cow::Borrowed(rest));
    }
    for (bom, enc) in [
        ([0xFF, 0xFE], Encoding::Utf16Le),
        ([0xFE, 0xFF], Encoding::Utf16Be),
    ] {
        if let Some(rest) = input.strip_prefix(&bom)
            && rest.len() % 2 == 0
        {
            let units = rest.chunks_exact(2).map(|c| match enc {
                Encoding::Utf16Le => u16::from_le_bytes([c[0], c[1]]),
                _ => u16::from_be_bytes([c[0], c[1]]),
            });
            let decoded: Result<String, _> = char::decode_utf16(units).collect();
            // Only when it re-encodes to the same bytes, and reads as a
            // config would: mostly ASCII. An ASCII file behind two stray
            // bytes decodes to CJK; those stay raw bytes (ssh refuses
            // only its line 1, the `bom` rule drops the two bytes).
            if let Ok(s) = decoded
                && plausible_utf16_config(&s)
            {
                return (enc, Cow::Owned(s.into_bytes()));
            }
        }
    }
    (Encoding::Utf8, Cow::Borrowed(input))
}

fn encode(encoding: Encoding, utf8: Vec<u8>) -> Vec<u8> {
    match encoding {
        Encoding::Utf8 => utf8,
        Encoding::Utf8Bom => {
            let mut out = vec![0xEF, 0xBB, 0xBF];
            out.extend(utf8);
            out
        }
        Encoding::Utf16Le | Encoding::Utf16Be => {
            // Lines decoded from UTF-16 are valid UTF-8 unless an edit put
            // other bytes in; those are replaced rather than lost silently.
            let text = String::from_utf8_lossy(&utf8);
            let le = encoding == Encoding::Utf16Le;
            let mut out = if le {
                vec![0xFF, 0xFE]
            } else {
                vec![0xFE, 0xFF]
            };
            for u in text.encode_utf16() {
                out.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
            }
            out
        }
    }
}

#[cfg(test)]
mod tests;
