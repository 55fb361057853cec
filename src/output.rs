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
    let widths = column_widths(rows);
    let mut text = String::new();
    let mut line = String::new();
    for (i, row) in rows.iter().enumerate() {
        line.clear();
        for (c, cell) in row.iter().enumerate() {
            // Padded to the column's width in characters, then two spaces
            // (what `format!("{cell:<w$}  ")` gives, without its machinery:
            // `list --all` prints a row per host).
            let mut padded = String::with_capacity(cell.len() + widths[c] + 2);
            padded.push_str(cell);
            if c + 1 != N {
                let pad = widths[c].saturating_sub(cell.chars().count()) + 2;
                padded.extend(std::iter::repeat_n(' ', pad));
            }
            line.push_str(&paint(i, c, padded));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// [`table`] with nothing painted: the same text, without a copy of every
/// cell (`list --all` prints a row per host).
pub fn table_plain<const N: usize>(rows: &[[String; N]]) -> String {
    let widths = column_widths(rows);
    let mut text = String::with_capacity(rows.len() * (widths.iter().sum::<usize>() + 2 * N));
    let mut line = String::new();
    for row in rows {
        line.clear();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 != N {
                let pad = widths[c].saturating_sub(char_count(cell)) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn column_widths<const N: usize>(rows: &[[String; N]]) -> Vec<usize> {
    (0..N)
        .map(|c| rows.iter().map(|r| char_count(&r[c])).max().unwrap_or(0))
        .collect()
}

/// `chars().count()`, without decoding an ASCII cell.
fn char_count(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
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

/// Whether [`escape`]`(text, false)` may change `text`: it holds a byte
/// that can begin an escaped character (the test `escape` starts with).
/// When not, `escape` gives the text back as it is.
pub fn needs_escape(text: &str) -> bool {
    text.bytes()
        .any(|b| b < 0x20 || b == 0x7f || b == 0xc2 || b == 0xe2)
}

/// Make text that came from a server safe to print: every control
/// character (C0, DEL, C1) and every bidirectional-override character
/// becomes a visible escape (`\x1b` → `\u{1b}`), so a pod cannot write the
/// clipboard (`ESC ] 52`), retitle the window (`ESC ] 0`) or move the
/// cursor. With `lines`, newline and tab are kept where text is laid out
/// in lines. Everything printed from a server goes through here.
pub fn escape(text: &str, lines: bool) -> String {
    let mut out = String::new();
    escape_into(&mut out, text, lines);
    out
}

/// Which bytes [`escape_into`] stops at: bit 0 without `lines`, bit 1
/// with it (newline and tab kept).
const SUSPECT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let s = b < 0x20 || b == 0x7f || b == 0xc2 || b == 0xe2;
        if s {
            t[b] = if b == b'\n' as usize || b == b'\t' as usize {
                1
            } else {
                3
            };
        }
        b += 1;
    }
    t
};

/// [`escape`] appended to `out`: large output (a diff, a finding per line
/// of a config) is escaped straight into the text being built, not into a
/// string of its own that is then copied.
pub fn escape_into(out: &mut String, text: &str, lines: bool) {
    // Only a C0 byte, DEL, 0xC2 (which starts the C1 controls U+0080–U+009F)
    // or 0xE2 (the bidi overrides U+202A–U+202E, U+2066–U+2069) can begin a
    // character that is escaped: the text between them is copied as it is
    // (a char-by-char pass cost ~50 instructions a character on large output).
    // With `lines`, newline and tab are kept as they are: no need to stop there.
    let bytes = text.as_bytes();
    // One table look-up a byte (a diff is megabytes): bit 0 suspect
    // without `lines`, bit 1 with it.
    let mask = if lines { 2 } else { 1 };
    out.reserve(text.len());
    let mut at = 0;
    while at < bytes.len() {
        let run = bytes[at..]
            .iter()
            .position(|&b| SUSPECT[b as usize] & mask != 0)
            .map_or(bytes.len(), |k| at + k);
        // `run` and `at` are char boundaries: a suspect byte is never a
        // continuation byte (those are 0x80–0xBF).
        out.push_str(&text[at..run]);
        let Some(c) = text[run..].chars().next() else {
            break;
        };
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        at = run + c.len_utf8();
    }
}

/// Pretty JSON for stdout, safe for a terminal: besides what JSON itself
/// escapes, DEL, the C1 controls (U+0080–U+009F) and the bidirectional
/// overrides are written `\uXXXX` (they only occur inside strings, so
/// the JSON stays valid and its data the same). Every `--json` output
/// goes through here.
pub fn json<T: serde::Serialize + ?Sized>(v: &T) -> serde_json::Result<String> {
    let raw = serde_json::to_string_pretty(v)?;
    let mut out = String::with_capacity(raw.len() + 1);
    for c in raw.chars() {
        if matches!(c, '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    Ok(out)
}

/// A value as one shell word (POSIX sh, bash, zsh): left bare when made
/// only of characters no shell treats specially, else in single quotes.
/// Every config-derived value in a printed command goes through here.
pub fn shell_quote(s: &str) -> String {
    // Windows users paste into PowerShell: `\` is a plain path character
    // there, and inside '…' only `'` is special (doubled).
    let safe: &[u8] = if cfg!(windows) {
        b"-_./,:@%+=\\"
    } else {
        b"-_./,:@%+="
    };
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || safe.contains(&b));
    if plain {
        s.to_string()
    } else if cfg!(windows) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    fn cell() -> impl Strategy<Value = String> {
        // ASCII, spaces, controls, C1, bidi, wide and combining characters.
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "Z", "0", " ", "  ", "\t", "\u{1b}", "\u{7f}", "\u{85}", "\u{a0}", "ü",
                "\u{202e}", "\u{2028}", "\u{3000}", "漢", "e\u{301}", ":", "~/x",
            ]),
            0..6,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn table_plain_is_table_with_nothing_painted(
            rows in prop::collection::vec([cell(), cell(), cell()], 0..6)
        ) {
            prop_assert_eq!(super::table_plain(&rows), super::table(&rows, |_, _, c| c));
        }

        /// The run-skipping escape is the plain char-by-char one, appended
        /// after whatever `out` held.
        #[test]
        fn escape_into_is_the_char_by_char_escape(
            parts in prop::collection::vec(
                prop::sample::select(vec![
                    "a", " ", "\t", "\n", "\r", "\u{1b}", "\u{7f}", "\u{85}", "\u{9b}",
                    "\u{a0}", "\u{c2}", "ü", "\u{202a}", "\u{202e}", "\u{202f}", "\u{2066}",
                    "\u{2069}", "\u{2028}", "\u{2013}", "漢", "\u{0}", "#",
                ]),
                0..40,
            ),
            lines in any::<bool>(),
        ) {
            let text = parts.concat();
            let mut want = String::from("head");
            for c in text.chars() {
                let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
                if (c.is_control() || bidi) && !(lines && (c == '\n' || c == '\t')) {
                    want.extend(c.escape_default());
                } else {
                    want.push(c);
                }
            }
            let mut got = String::from("head");
            super::escape_into(&mut got, &text, lines);
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(super::escape(&text, lines), &want["head".len()..]);
        }

        #[test]
        fn escape_keeps_text_that_needs_no_escape(text in cell()) {
            if !super::needs_escape(&text) {
                prop_assert_eq!(super::escape(&text, false), text);
            }
        }
    }

    #[test]
    fn json_output_escapes_c1_del_and_bidi_controls_and_stays_valid() {
        let data = serde_json::json!({"gpu": "A\u{9b}31m\u{7f}\u{85}x\u{202e}y\u{2066}z\u{1b}]0;t\u{7}", "plain": "ünï"});
        let out = super::json(&data).unwrap();
        assert!(
            !out.chars().any(|c| c.is_control() && c != '\n'
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
            "{out:?}"
        );
        assert!(
            out.contains("\\u009b") && out.contains("\\u202e") && out.contains("\\u007f"),
            "{out}"
        );
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, data);
        assert!(out.contains("ünï"));
    }

    #[test]
    fn shell_quote_makes_hostile_values_one_inert_word() {
        assert_eq!(super::shell_quote("runpod-4090"), "runpod-4090");
        assert_eq!(
            super::shell_quote("[127.0.0.1]:42202"),
            "'[127.0.0.1]:42202'"
        );
        assert_eq!(
            super::shell_quote("x;touch${IFS}/tmp/pwn;"),
            "'x;touch${IFS}/tmp/pwn;'"
        );
        // sh ends the quote around `'`; PowerShell doubles it.
        let want = if cfg!(windows) {
            "'it''s'"
        } else {
            "'it'\\''s'"
        };
        assert_eq!(super::shell_quote("it's"), want);
        if cfg!(windows) {
            assert_eq!(
                super::shell_quote(r"C:\Users\a\.ssh\config"),
                r"C:\Users\a\.ssh\config"
            );
        }
        assert_eq!(super::shell_quote(""), "''");
    }

    /// The char-by-char escape [`super::escape`] replaced: same output.
    fn escape_by_char(text: &str, lines: bool) -> String {
        let mut out = String::new();
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

    #[test]
    fn escape_by_runs_matches_escaping_char_by_char() {
        // Every character near the escaped ranges and their UTF-8 lead bytes.
        let mut chars: Vec<char> = (0u32..0x300).filter_map(char::from_u32).collect();
        chars.extend((0x2000u32..0x2100).filter_map(char::from_u32));
        chars.extend(['→', '…', '€', '\u{feff}', '😀', '\u{e2}', '\u{c2}']);
        let all: String = chars.iter().collect();
        for lines in [false, true] {
            assert_eq!(super::escape(&all, lines), escape_by_char(&all, lines));
            for (i, a) in chars.iter().enumerate() {
                let b = chars[(i * 7 + 3) % chars.len()];
                let s = format!("{a}x{b}{a}\n→{b}");
                assert_eq!(super::escape(&s, lines), escape_by_char(&s, lines), "{s:?}");
            }
        }
    }

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
