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
#[derive(Debug, Clone)]
pub struct Line {
    buf: Arc<[u8]>,
    range: Range<usize>,
    pub ending: LineEnding,
    kind: LineKind,
    /// The 0-based line this came from in the parsed file (`None` for a
    /// line an edit added), so reports can name the user's line numbers.
    origin: Option<usize>,
}

impl PartialEq for Line {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes() && self.ending == other.ending
    }
}

impl Eq for Line {}

impl Line {
    fn new(bytes: Vec<u8>, ending: LineEnding) -> Self {
        let len = bytes.len();
        Line::shared(Arc::from(bytes), 0..len, ending)
    }

    fn shared(buf: Arc<[u8]>, range: Range<usize>, ending: LineEnding) -> Self {
        let kind = lexer::lex_line(&buf[range.clone()]);
        Line {
            buf,
            range,
            ending,
            kind,
            origin: None,
        }
    }

    /// The 1-based line number this line had in the file as read.
    pub fn original_line(&self) -> Option<usize> {
        self.origin.map(|o| o + 1)
    }

    /// The line's bytes without its terminator.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.range.clone()]
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
        let buf: Arc<[u8]> = Arc::from(&*text);
        let mut lines = Vec::with_capacity(buf.iter().filter(|&&b| b == b'\n').count() + 1);
        for (range, ending) in line_spans(&buf) {
            let mut l = Line::shared(buf.clone(), range, ending);
            l.origin = Some(lines.len());
            lines.push(l);
        }
        Document { encoding, lines }
    }

    /// The document's bytes, in its original encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.range.len() + 2).sum());
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
        let mut blocks = vec![Block {
            kind: BlockKind::Global,
            header: None,
            lines: 0..0,
            patterns: Vec::new(),
        }];
        for (i, l) in self.lines.iter().enumerate() {
            if l.is_header() {
                let d = l.directive().expect("header is a directive");
                blocks.push(Block {
                    kind: if d.keyword_lc == "host" {
                        BlockKind::Host
                    } else {
                        BlockKind::Match
                    },
                    header: Some(i),
                    lines: i..i,
                    patterns: d.values(l.bytes()).map(str::to_string).collect(),
                });
            }
        }
        let n = blocks.len();
        for b in 0..n {
            let start = blocks[b].header.unwrap_or(0);
            let end = if b + 1 < n {
                blocks[b + 1].header.unwrap_or(self.lines.len())
            } else {
                self.lines.len()
            };
            blocks[b].lines = start..end;
        }
        blocks
    }

    /// Indices (into [`Document::blocks`]) of the `Host` blocks that list
    /// `alias` literally as one of their patterns.
    pub fn host_blocks_naming(&self, alias: &str) -> Vec<usize> {
        self.blocks()
            .iter()
            .enumerate()
            .filter(|(_, b)| b.kind == BlockKind::Host && b.patterns.iter().any(|p| p == alias))
            .map(|(i, _)| i)
            .collect()
    }

    fn block(&self, index: usize) -> Result<Block, EditError> {
        self.blocks()
            .into_iter()
            .nth(index)
            .ok_or(EditError::NoSuchBlock(index))
    }

    /// The lines of `block` that set `keyword` (any alias of it).
    pub fn option_lines(&self, block: &Block, keyword: &str) -> Vec<usize> {
        let want = keywords::lookup(keyword).map(|k| k.name);
        block
            .lines
            .clone()
            .filter(|&i| Some(i) != block.header)
            .filter(|&i| {
                self.lines[i]
                    .keyword()
                    .is_some_and(|k| keywords::lookup(k).map(|x| x.name) == want && want.is_some())
            })
            .collect()
    }

    /// The first value `block` gives `keyword` on its own lines, if any.
    pub fn first_value(&self, block: &Block, keyword: &str) -> Option<String> {
        let li = *self.option_lines(block, keyword).first()?;
        self.lines[li].values().first().map(|s| s.to_string())
    }

    /// Set `keyword` to `value` in block `index`: the first line that sets it
    /// gets the new value (its indentation, separator and trailing comment
    /// bytes kept); without one, a new line is added after the block's last
    /// directive. Returns the line index written.
    pub fn set_option(
        &mut self,
        index: usize,
        keyword: &str,
        value: &str,
    ) -> Result<usize, EditError> {
        let block = self.block(index)?;
        let first = self.option_lines(&block, keyword).first().copied();
        // Already that value, read alike by OpenSSH 7.7 and 9.x: the line
        // stays as the user wrote it (a value runpod-ssh would not write
        // itself, such as a key path with '#', is not refused over an edit
        // that does not change it).
        if let Some(li) = first
            && self.lines[li].reads_as(value)
        {
            return Ok(li);
        }
        let rendered = render(keyword, value)?;
        match first {
            Some(li) => {
                self.replace_value(li, &rendered);
                Ok(li)
            }
            None => self.add_option_rendered(&block, keyword, &rendered),
        }
    }

    /// Add a `keyword value` line to block `index`, even when the keyword is
    /// already set (for accumulating keywords such as `LocalForward`).
    pub fn add_option(
        &mut self,
        index: usize,
        keyword: &str,
        value: &str,
    ) -> Result<usize, EditError> {
        let block = self.block(index)?;
        let rendered = render(keyword, value)?;
        self.add_option_rendered(&block, keyword, &rendered)
    }

    /// Remove every line of block `index` that sets `keyword`. Returns how
    /// many lines went.
    pub fn remove_option(&mut self, index: usize, keyword: &str) -> Result<usize, EditError> {
        let block = self.block(index)?;
        let lines = self.option_lines(&block, keyword);
        for &li in lines.iter().rev() {
            self.lines.remove(li);
        }
        Ok(lines.len())
    }

    /// Replace the value text of directive line `li` with `rendered`
    /// (already quoted as needed), keeping its indentation, keyword,
    /// separator and trailing comment bytes.
    pub fn replace_value(&mut self, li: usize, rendered: &str) {
        let line = &self.lines[li];
        let Some(d) = line.directive() else { return };
        let lb = line.bytes();
        let mut bytes = lb[..d.value.start].to_vec();
        if d.value.start == d.separator.end && d.separator.is_empty() {
            bytes.push(b' ');
        }
        bytes.extend_from_slice(rendered.as_bytes());
        // A value that was missing sat right against a comment: keep them apart.
        if lb.get(d.value.end).is_some_and(|b| !b" \t\r".contains(b)) {
            bytes.push(b' ');
        }
        bytes.extend_from_slice(&lb[d.value.end..]);
        self.lines[li].set_bytes(bytes);
    }

    fn add_option_rendered(
        &mut self,
        block: &Block,
        keyword: &str,
        rendered: &str,
    ) -> Result<usize, EditError> {
        let name = keywords::canonical_case(keyword);
        if name.is_empty() {
            return Err(EditError::UnknownKeyword(keyword.to_string()));
        }
        let indent = self.block_indent(block);
        // After the last directive of the block, so comments and blank lines
        // that lead into the next block stay with it.
        let at = block
            .lines
            .clone()
            .rev()
            .find(|&i| self.lines[i].directive().is_some())
            .map_or(block.lines.start, |i| i + 1);
        let text = format!("{indent}{name} {rendered}");
        self.insert_lines(at, vec![text]);
        Ok(at)
    }

    /// Indentation for new lines in `block`: that of its first indented
    /// directive, else the file's usual one, else four spaces (none in the
    /// global section).
    fn block_indent(&self, block: &Block) -> String {
        if block.kind == BlockKind::Global {
            return String::new();
        }
        let of = |i: usize| -> Option<String> {
            let d = self.lines[i].directive()?;
            let ind = &self.lines[i].bytes()[d.indent.clone()];
            (!ind.is_empty() && ind.iter().all(|b| *b == b' ' || *b == b'\t'))
                .then(|| String::from_utf8_lossy(ind).into_owned())
        };
        block
            .lines
            .clone()
            .filter(|&i| Some(i) != block.header)
            .find_map(of)
            .or_else(|| {
                (0..self.lines.len())
                    .filter(|&i| !self.lines[i].is_header())
                    .find_map(of)
            })
            .unwrap_or_else(|| "    ".to_string())
    }

    /// Lines `range` as a document of their own (their bytes and endings),
    /// to edit with rules that work on a whole document; put it back with
    /// [`Document::splice_part`].
    pub fn part(&self, range: Range<usize>) -> Document {
        let mut bytes = Vec::new();
        for l in &self.lines[range] {
            bytes.extend_from_slice(l.bytes());
            bytes.extend_from_slice(l.ending.as_bytes());
        }
        Document::parse(&bytes)
    }

    /// Replace lines `range` with the lines of `part` (made by
    /// [`Document::part`] from that range, then edited). A line `part` kept
    /// keeps the origin its line had here, so reports still name the
    /// user's line numbers.
    pub fn splice_part(&mut self, range: Range<usize>, part: &Document) {
        let origins: Vec<Option<usize>> =
            self.lines[range.clone()].iter().map(|l| l.origin).collect();
        let new: Vec<Line> = part
            .lines
            .iter()
            .cloned()
            .map(|mut l| {
                l.origin = l.origin.and_then(|k| origins.get(k).copied().flatten());
                l
            })
            .collect();
        self.lines.splice(range, new);
    }

    /// Remove the lines in `range`.
    pub fn remove_lines(&mut self, range: Range<usize>) {
        let end = range.end.min(self.lines.len());
        self.lines.drain(range.start.min(end)..end);
    }

    /// Move the lines in `range` so they start before line `to` (an index
    /// in the document as it is before the move).
    pub fn move_lines(&mut self, range: Range<usize>, to: usize) {
        if range.contains(&to) || range.is_empty() {
            return;
        }
        let ending = self.dominant_ending();
        let taken: Vec<Line> = self.lines.drain(range.clone()).collect();
        let at = if to > range.start {
            to - range.len()
        } else {
            to
        };
        self.lines.splice(at..at, taken);
        // A former last line without a newline must not glue onto the next.
        let n = self.lines.len();
        for l in self.lines.iter_mut().take(n.saturating_sub(1)) {
            if l.ending == LineEnding::None {
                l.ending = ending;
            }
        }
    }

    /// Insert text lines before line `at`, with the file's dominant ending.
    /// A last line without a newline gets one first.
    pub fn insert_lines(&mut self, at: usize, texts: Vec<String>) {
        let ending = self.dominant_ending();
        let at = at.min(self.lines.len());
        if at == self.lines.len()
            && let Some(last) = self.lines.last_mut()
            && last.ending == LineEnding::None
        {
            last.ending = ending;
        }
        let new: Vec<Line> = texts
            .into_iter()
            .map(|t| Line::new(t.into_bytes(), ending))
            .collect();
        self.lines.splice(at..at, new);
    }

    /// Insert one text line before each given line (indices into the
    /// document as it is, ascending), in one pass: the same as
    /// [`Document::insert_lines`] for each, last first, without moving the
    /// following lines once per insertion.
    pub fn insert_lines_before(&mut self, inserts: Vec<(usize, Vec<u8>)>) {
        if inserts.is_empty() {
            return;
        }
        // Inserted lines take the dominant ending, so it stays dominant.
        let ending = self.dominant_ending();
        let n = self.lines.len();
        if inserts.iter().any(|(at, _)| *at >= n)
            && let Some(last) = self.lines.last_mut()
            && last.ending == LineEnding::None
        {
            last.ending = ending;
        }
        let old = std::mem::take(&mut self.lines);
        self.lines.reserve(n + inserts.len());
        let mut it = inserts.into_iter().peekable();
        for (i, line) in old.into_iter().enumerate() {
            while let Some((_, text)) = it.next_if(|(at, _)| *at <= i) {
                self.lines.push(Line::new(text, ending));
            }
            self.lines.push(line);
        }
        for (_, text) in it {
            self.lines.push(Line::new(text, ending));
        }
    }

    /// The line a new block should go to so that it comes just before block
    /// `index`: above the comment lines attached to its header. Block 0 (the
    /// global section) cannot be preceded (a block there would capture the
    /// global lines), so it means "as early as possible": before the first
    /// `Host`/`Match`, or at the end of a file that has none.
    pub fn position_before_block(&self, index: usize) -> usize {
        let blocks = self.blocks();
        if index == 0 {
            return if blocks.len() > 1 {
                self.position_before_block(1)
            } else {
                self.lines.len()
            };
        }
        let Some(block) = blocks.get(index) else {
            return self.lines.len();
        };
        let Some(header) = block.header else {
            return self.lines.len();
        };
        self.attached_comments_start(header)
    }

    /// The first line of the comment run directly above line `header`
    /// (no blank line between): the block's leading decoration.
    fn attached_comments_start(&self, header: usize) -> usize {
        let mut at = header;
        while at > 0 && self.lines[at - 1].is_comment() {
            at -= 1;
        }
        at
    }

    /// Insert a new `Host` block for `aliases` with `options` before line
    /// `at`, separated from its neighbours by exactly one new blank line:
    /// before the block when the line above is not blank, else after it
    /// (none in an empty file). A file without a final newline keeps
    /// ending without one. [`Document::remove_block`] undoes this exactly.
    /// Optional `comment` lines go above the header. Returns the header's
    /// line index.
    pub fn insert_host_block(
        &mut self,
        at: usize,
        aliases: &[&str],
        options: &[(&str, &str)],
        comment: &[&str],
    ) -> Result<usize, EditError> {
        for a in aliases {
            if !valid_alias(a) {
                return Err(EditError::BadAlias(a.to_string()));
            }
        }
        let mut body = Vec::new();
        for (k, v) in options {
            let name = keywords::canonical_case(k);
            if name.is_empty() {
                return Err(EditError::UnknownKeyword(k.to_string()));
            }
            body.push(format!("    {name} {}", render(k, v)?));
        }
        let at = at.min(self.lines.len());
        let at_end_without_newline = at == self.lines.len()
            && self
                .lines
                .last()
                .is_some_and(|l| l.ending == LineEnding::None);
        let mut texts = Vec::new();
        let blank_before = at > 0 && !self.lines[at - 1].is_blank();
        if blank_before {
            texts.push(String::new());
        }
        for c in comment {
            let c = c.replace(['\r', '\n'], " ");
            texts.push(format!("# {c}"));
        }
        let header_offset = texts.len();
        texts.push(format!("Host {}", aliases.join(" ")));
        texts.extend(body);
        if !blank_before && !self.lines.is_empty() {
            texts.push(String::new());
        }
        let n = texts.len();
        self.insert_lines(at, texts);
        if at_end_without_newline && let Some(last) = self.lines.get_mut(at + n - 1) {
            last.ending = LineEnding::None;
        }
        Ok(at + header_offset)
    }

    /// Drop `pattern` from the `Host` line of block `index`, keeping the
    /// other patterns as written (and the line's indentation and comment).
    /// Returns whether the line changed. The last pattern is never dropped:
    /// remove the block instead.
    pub fn remove_host_pattern(&mut self, index: usize, pattern: &str) -> Result<bool, EditError> {
        let block = self.block(index)?;
        let Some(h) = block.header.filter(|_| block.kind == BlockKind::Host) else {
            return Err(EditError::NoSuchBlock(index));
        };
        let line = &self.lines[h];
        let Some(d) = line.directive() else {
            return Ok(false);
        };
        let lb = line.bytes();
        let kept: Vec<&[u8]> = d
            .args
            .iter()
            .filter(|a| a.value(lb) != pattern)
            .map(|a| &lb[a.span.clone()])
            .collect();
        if kept.len() == d.args.len() || kept.is_empty() {
            return Ok(false);
        }
        let mut bytes = lb[..d.value.start].to_vec();
        bytes.extend_from_slice(&kept.join(&b' '));
        bytes.extend_from_slice(&lb[d.value.end..]);
        self.lines[h].set_bytes(bytes);
        Ok(true)
    }

    /// Rename the single pattern of `Host` block `index` to `alias`.
    pub fn rename_host(&mut self, index: usize, alias: &str) -> Result<(), EditError> {
        if !valid_alias(alias) {
            return Err(EditError::BadAlias(alias.to_string()));
        }
        let block = self.block(index)?;
        let Some(h) = block.header.filter(|_| block.kind == BlockKind::Host) else {
            return Err(EditError::NoSuchBlock(index));
        };
        self.replace_value(h, alias);
        Ok(())
    }

    /// Remove block `index`: the comment lines attached above its header,
    /// the header, its lines and its own trailing blank lines; when it has
    /// no trailing blank line, the one blank line right above it (its
    /// separator) goes instead. Comments that lead into the next block
    /// stay. At the end of a file without a final newline, the new last
    /// line has none either. This is the exact inverse of
    /// [`Document::insert_host_block`]. Returns the removed line range.
    pub fn remove_block(&mut self, index: usize) -> Result<Range<usize>, EditError> {
        let block = self.block(index)?;
        let Some(header) = block.header else {
            return Err(EditError::NoSuchBlock(index));
        };
        let mut start = self.attached_comments_start(header);
        let mut end = block.lines.end;
        if end < self.lines.len() {
            while end > header + 1 && self.lines[end - 1].is_comment() {
                end -= 1;
            }
        }
        let trailing_blank = end > header + 1 && self.lines[end - 1].is_blank();
        if !trailing_blank && start > 0 && self.lines[start - 1].is_blank() {
            start -= 1;
        }
        let at_end = end == self.lines.len();
        let no_final_newline =
            at_end && end > start && self.lines[end - 1].ending == LineEnding::None;
        self.lines.drain(start..end);
        if no_final_newline
            && start == self.lines.len()
            && let Some(last) = self.lines.last_mut()
        {
            last.ending = LineEnding::None;
        }
        Ok(start..end)
    }
}

/// Render a value for `keyword`: Windows path separators become `/` for
/// path keywords, then [`lexer::render_value`] decides the quoting.
fn render(keyword: &str, value: &str) -> Result<String, EditError> {
    // `LocalForward 8888 localhost:8888` is two arguments, not one.
    if keywords::lookup(keyword).is_some_and(|k| k.kind == keywords::Kind::Forward) {
        let parts: Option<Vec<String>> =
            value.split_whitespace().map(lexer::render_value).collect();
        return parts
            .filter(|p| !p.is_empty())
            .map(|p| p.join(" "))
            .ok_or_else(|| EditError::Unrepresentable {
                keyword: keyword.to_string(),
                value: value.to_string(),
            });
    }
    let v = if keywords::is_path_keyword(keyword) {
        portable_path(value)
    } else {
        value.to_string()
    };
    lexer::render_value(&v).ok_or_else(|| EditError::Unrepresentable {
        keyword: keyword.to_string(),
        value: value.to_string(),
    })
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
mod tests {
    use super::*;

    fn rt(s: &[u8]) {
        assert_eq!(Document::parse(s).to_bytes(), s);
    }

    #[test]
    fn a_part_edited_and_spliced_back_changes_only_its_lines() {
        let text = b"Host a\r\n  User x # c\r\nHost b\n  Port 22 # p\n  User y";
        let mut doc = Document::parse(text);
        let range = doc.blocks()[2].lines.clone();
        let mut part = doc.part(range.clone());
        assert_eq!(part.to_bytes(), b"Host b\n  Port 22 # p\n  User y");
        part.insert_lines(1, vec!["  # p".into()]);
        part.replace_value(2, "2222");
        doc.splice_part(range, &part);
        assert_eq!(
            doc.to_bytes(),
            b"Host a\r\n  User x # c\r\nHost b\n  # p\n  Port 2222 # p\n  User y"
        );
        let origins: Vec<Option<usize>> = doc.lines().iter().map(|l| l.original_line()).collect();
        assert_eq!(origins, [Some(1), Some(2), Some(3), None, Some(4), Some(5)]);
    }

    #[test]
    fn round_trips() {
        rt(b"");
        rt(b"\n");
        rt(b"Host a\r\n  HostName x # c\r\n");
        rt(b"Host a\n\tPort 22");
        rt(b"\xEF\xBB\xBFHost a\n");
        rt(b"\xFF\xFEH\0o\0s\0t\0 \0a\0\n\0");
        rt(b"\xFF\xFEH\0"); // odd or invalid UTF-16 stays raw
        // ASCII behind stray FF FE is no UTF-16: raw bytes, not CJK.
        let stray = Document::parse(b"\xFF\xFEHost a\n  User b\n");
        assert_eq!(stray.encoding(), Encoding::Utf8);
        assert_eq!(stray.lines()[1].bytes(), b"  User b");
        rt(b"\xFF\xFE\x00\xD8");
        rt(b"a\rb\r\nc\0d\xff\n\n");
    }

    #[test]
    fn reparses_identically_only_when_parse_gives_the_same_lines() {
        for text in [
            &b""[..],
            b"Host a\r\n  User x # c\r\nHost b\n  Port 22",
            b"\xEF\xBB\xBFHost a\n",
            b"a\rb\r\nc\0d\xff\n\n",
        ] {
            let d = Document::parse(text);
            assert!(d.reparses_identically(), "{text:?}");
            assert_eq!(Document::parse(&d.to_bytes()), d);
        }
        // UTF-16 may not carry an edited line's bytes: always read back.
        assert!(!Document::parse(b"\xFF\xFEH\0o\0s\0t\0 \0a\0\n\0").reparses_identically());
        // A line an edit gave a newline or a CR before LF reads back otherwise.
        for bytes in [&b"Host a\nHost b"[..], b"Host a\r"] {
            let mut d = Document::parse(b"Host x\nUser y\n");
            d.line_mut(0).unwrap().set_bytes(bytes.to_vec());
            assert!(!d.reparses_identically());
            assert_ne!(Document::parse(&d.to_bytes()), d);
        }
    }

    #[test]
    fn encodings_detected() {
        assert_eq!(
            Document::parse(b"\xEF\xBB\xBFHost a").encoding(),
            Encoding::Utf8Bom
        );
        let d = Document::parse(b"\xFF\xFEH\0o\0s\0t\0 \0a\0\n\0");
        assert_eq!(d.encoding(), Encoding::Utf16Le);
        assert_eq!(d.lines()[0].bytes(), b"Host a");
        assert_eq!(d.to_utf8(), b"Host a\n");
    }

    #[test]
    fn blocks_are_views() {
        let d = Document::parse(b"User g\n\nHost a b\n Port 1\n# next\nMatch all\n Port 2\n");
        let b = d.blocks();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].lines, 0..2);
        assert_eq!(b[1].lines, 2..5);
        assert_eq!(b[1].patterns, ["a", "b"]);
        assert_eq!(b[2].kind, BlockKind::Match);
        assert_eq!(d.host_blocks_naming("b"), vec![1]);
        assert_eq!(d.position_before_block(2), 4);
    }

    #[test]
    fn set_keeps_indent_separator_comment() {
        let mut d = Document::parse(b"Host a\n\tPort = 1000   # the port\r\n  User x\n");
        d.set_option(1, "port", "40123").unwrap();
        assert_eq!(
            d.to_bytes(),
            b"Host a\n\tPort = 40123   # the port\r\n  User x\n"
        );
        d.set_option(1, "HostName", "1.2.3.4").unwrap();
        assert_eq!(
            d.to_bytes(),
            b"Host a\n\tPort = 40123   # the port\r\n  User x\n\tHostName 1.2.3.4\n"
        );
    }

    #[test]
    fn append_after_missing_final_newline() {
        let mut d = Document::parse(b"Host a\r\n Port 1");
        d.add_option(1, "User", "root").unwrap();
        assert_eq!(d.to_bytes(), b"Host a\r\n Port 1\r\n User root\r\n");
    }

    #[test]
    fn insert_and_remove_block() {
        let mut d = Document::parse(b"# top\nHost *\n User u\n");
        let at = d.position_before_block(1);
        assert_eq!(at, 0);
        d.insert_host_block(
            at,
            &["pod"],
            &[
                ("HostName", "1.2.3.4"),
                ("IdentityFile", r"C:\Users\me\.ssh\id"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            d.to_bytes(),
            b"Host pod\n    HostName 1.2.3.4\n    IdentityFile C:/Users/me/.ssh/id\n\n# top\nHost *\n User u\n"
        );
        d.remove_block(1).unwrap();
        assert_eq!(d.to_bytes(), b"# top\nHost *\n User u\n");
    }

    #[test]
    fn refuses_unportable_values() {
        let mut d = Document::parse(b"Host a\n");
        assert!(d.set_option(1, "User", "a#b").is_err());
        assert!(d.set_option(1, "User", "a\"b").is_err());
        assert!(d.insert_host_block(0, &["a b"], &[], &[]).is_err());
        assert_eq!(d.to_bytes(), b"Host a\n");
    }
}
