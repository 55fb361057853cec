//! [`Span`]: where a piece of a line sits, in half the room of a
//! `Range<usize>`.

use std::ops::Range;

/// A byte range of one line, as two `u32` (half a `Range<usize>`: every
/// line of every parsed file carries six of these). A line longer than
/// 4 GiB cannot be read ([`crate::fsio::MAX_READ`] is far below), and
/// [`super::lex_line`] gives such a line no directive rather than a wrong span.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// `0..0`, for constants.
    pub(super) const EMPTY: Span = Span { start: 0, end: 0 };

    /// `range` as a span; callers have checked it fits (see [`super::lex_line`]).
    pub(super) fn new(range: Range<usize>) -> Span {
        Span {
            start: range.start as u32,
            end: range.end as u32,
        }
    }

    pub fn start(self) -> usize {
        self.start as usize
    }

    pub fn end(self) -> usize {
        self.end as usize
    }

    pub fn range(self) -> Range<usize> {
        self.start()..self.end()
    }

    pub fn len(self) -> usize {
        self.end().saturating_sub(self.start())
    }

    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Span {
        Span::new(r)
    }
}

impl PartialEq<Range<usize>> for Span {
    fn eq(&self, other: &Range<usize>) -> bool {
        self.range() == *other
    }
}

impl std::ops::Index<Span> for [u8] {
    type Output = [u8];
    fn index(&self, s: Span) -> &[u8] {
        &self[s.range()]
    }
}

impl std::ops::Index<Span> for str {
    type Output = str;
    fn index(&self, s: Span) -> &str {
        &self[s.range()]
    }
}
