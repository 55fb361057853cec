//! Edits: set, add and remove options, move and insert lines, insert,
//! rename and remove blocks. Each keeps every byte it does not change.

use std::ops::Range;

use super::*;

impl Document {
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
        let mut bytes = lb[..d.value.start()].to_vec();
        if d.value.start() == d.separator.end() && d.separator.is_empty() {
            bytes.push(b' ');
        }
        bytes.extend_from_slice(rendered.as_bytes());
        // A value that was missing sat right against a comment: keep them apart.
        if lb.get(d.value.end()).is_some_and(|b| !b" \t\r".contains(b)) {
            bytes.push(b' ');
        }
        bytes.extend_from_slice(&lb[d.value.end()..]);
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
            let ind = &self.lines[i].bytes()[d.indent];
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
        let origins: Vec<Option<usize>> = self.lines[range.clone()]
            .iter()
            .map(|l| l.origin())
            .collect();
        let new: Vec<Line> = part
            .lines
            .iter()
            .cloned()
            .map(|mut l| {
                l.set_origin(l.origin().and_then(|k| origins.get(k).copied().flatten()));
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
        // In place, from the back: the vector grows by the inserted lines
        // (a large one is remapped, not copied), each old line moves once
        // to its final slot. Filling a new vector instead faulted in and
        // wrote a fresh copy of every line (tens of MB on a large file).
        // An index below an earlier one's goes right after that one (the
        // running maximum), as the one-pass merge placed it.
        let k = inserts.len();
        let mut floor = 0;
        let new: Vec<(usize, Line)> = inserts
            .into_iter()
            .map(|(at, text)| {
                floor = floor.max(at.min(n));
                (floor, Line::new(text, ending))
            })
            .collect();
        self.lines.resize(n + k, Line::new(Vec::new(), ending));
        // Old lines [0, end) are still where they were; slots [w, n + k)
        // hold their final lines.
        let (mut end, mut w) = (n, n + k);
        for (at, line) in new.into_iter().rev() {
            while end > at {
                end -= 1;
                w -= 1;
                self.lines.swap(end, w);
            }
            w -= 1;
            self.lines[w] = line;
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
            .map(|a| &lb[a.span])
            .collect();
        if kept.len() == d.args.len() || kept.is_empty() {
            return Ok(false);
        }
        let mut bytes = lb[..d.value.start()].to_vec();
        bytes.extend_from_slice(&kept.join(&b' '));
        bytes.extend_from_slice(&lb[d.value.end()..]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The one-pass merge `insert_lines_before` was (a new vector).
    fn merged(doc: &Document, inserts: &[(usize, Vec<u8>)]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut it = inserts.iter().peekable();
        for (i, l) in doc.lines().iter().enumerate() {
            while let Some((_, t)) = it.next_if(|(at, _)| *at <= i) {
                out.push(t.clone());
            }
            out.push(l.bytes().to_vec());
        }
        out.extend(it.map(|(_, t)| t.clone()));
        out
    }

    proptest! {
        /// Any indices (ascending, repeated, unsorted, past the end): the
        /// lines come out as the one-pass merge put them, origins kept.
        #[test]
        fn insert_lines_before_in_place_is_the_merge(
            n in 0usize..12,
            ats in prop::collection::vec(0usize..16, 0..10),
            crlf in any::<bool>(),
            final_newline in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text: String = (0..n).map(|i| format!("Host h{i}{eol}")).collect();
            if !final_newline && text.ends_with(eol) {
                text.truncate(text.len() - eol.len());
            }
            let mut doc = Document::parse(text.as_bytes());
            let inserts: Vec<(usize, Vec<u8>)> = ats
                .iter()
                .enumerate()
                .map(|(m, &at)| (at, format!("# c{m}").into_bytes()))
                .collect();
            let want = merged(&doc, &inserts);
            let ending = doc.dominant_ending();
            let origins: Vec<Option<usize>> = doc.lines().iter().map(|l| l.origin()).collect();
            doc.insert_lines_before(inserts);
            let got: Vec<Vec<u8>> = doc.lines().iter().map(|l| l.bytes().to_vec()).collect();
            prop_assert_eq!(&got, &want);
            let kept: Vec<Option<usize>> =
                doc.lines().iter().map(|l| l.origin()).filter(Option::is_some).collect();
            prop_assert_eq!(kept, origins);
            // Every line but the last ends; added lines take the file's ending.
            let last = doc.lines().len().saturating_sub(1);
            for (i, l) in doc.lines().iter().enumerate() {
                prop_assert!(i == last || l.ending != LineEnding::None);
                if l.origin().is_none() {
                    prop_assert_eq!(l.ending, ending);
                }
            }
        }
    }
}
