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

#[cfg(test)]
mod tests {
    #[test]
    fn table_pads_all_but_the_last_column() {
        let rows = [
            ["A".to_string(), "BB".to_string(), "C".to_string()],
            ["long".to_string(), "x".to_string(), "".to_string()],
        ];
        assert_eq!(super::table(&rows, |_, _, c| c), "A     BB  C\nlong  x\n");
    }
}
