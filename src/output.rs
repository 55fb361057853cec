//! Writing to the terminal: colour only when wanted (`NO_COLOR`, not a
//! TTY), and a closed pipe (`runpod-ssh show x | head`) is not an error.

use std::io::{self, IsTerminal, Write};

/// How to print.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub quiet: bool,
    pub verbose: bool,
}

impl Style {
    pub fn new(quiet: bool, verbose: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && io::stderr().is_terminal(),
            quiet,
            verbose,
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }

    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }

    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }

    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// Lay rows out in columns (the first row is the header). Every column
/// but the last is padded; `paint(row, column, padded_cell)` may colour a
/// cell. No line ends in spaces.
pub fn table<const N: usize>(
    rows: &[[String; N]],
    paint: impl Fn(usize, usize, String) -> String,
) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let cell = if c + 1 == N {
                cell.clone()
            } else {
                format!("{cell:<w$}  ", w = widths[c])
            };
            line.push_str(&paint(i, c, cell));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Write to stdout; a closed pipe ends output quietly.
pub fn out(text: &str) -> io::Result<()> {
    let mut o = io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// Write to stderr, ignoring failures (nowhere left to report them).
pub fn err(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Make text that came from a server safe to print: every control
/// character (C0, DEL, C1) and every bidirectional-override character
/// becomes a visible escape (`\x1b` → `\u{1b}`), so a pod cannot write the
/// clipboard (`ESC ] 52`), retitle the window (`ESC ] 0`) or move the
/// cursor. With `lines`, newline and tab are kept where text is laid out
/// in lines. Everything printed from a server goes through here.
pub fn escape(text: &str, lines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let keep = lines && (c == '\n' || c == '\t');
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if (c.is_control() || bidi) && !keep {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_neutralises_terminal_sequences() {
        let gpu = "GPU 0: A100\x1b]52;c;aGVsbG8=\x07\x1b]0;pwned\x07\u{9b}31m\x7f";
        let e = super::escape(gpu, false);
        assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
        assert_eq!(
            e,
            "GPU 0: A100\\u{1b}]52;c;aGVsbG8=\\u{7}\\u{1b}]0;pwned\\u{7}\\u{9b}31m\\u{7f}"
        );
        assert_eq!(super::escape("a\tb\nc\r", true), "a\tb\nc\\r");
        assert_eq!(super::escape("a\nb", false), "a\\nb");
        assert_eq!(super::escape("x\u{202e}y", false), "x\\u{202e}y");
        assert_eq!(super::escape("RTX 4090 ünï", false), "RTX 4090 ünï");
    }

    #[test]
    fn table_pads_all_but_the_last_column() {
        let rows = [
            ["A".to_string(), "BB".to_string(), "C".to_string()],
            ["long".to_string(), "x".to_string(), "".to_string()],
        ];
        assert_eq!(super::table(&rows, |_, _, c| c), "A     BB  C\nlong  x\n");
    }
}
