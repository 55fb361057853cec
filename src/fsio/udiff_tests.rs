use super::*;

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A config-like file: blocks of a unique header and lines drawn from a
/// pool of frequent lines (so some are "confusing" to similar), some with
/// a trailing comment, some CRLF, maybe no final newline.
fn gen_old(r: &mut Rng, blocks: usize) -> Vec<String> {
    let pool = [
        "    User=root",
        "    Port 22",
        "    IdentitiesOnly yes",
        "",
        "# note",
    ];
    let mut lines = Vec::new();
    for i in 0..blocks {
        lines.push(format!("Host h{i} h{i}.alias"));
        for k in 0..(1 + r.below(5)) {
            let l = match r.below(6) {
                0 | 1 => pool[r.below(pool.len() as u64) as usize].to_string(),
                2 => format!(
                    "    LocalForward {}{k} localhost:8888   # jupyter",
                    30000 + i
                ),
                3 => format!("    HostName 10.{i}.{k}"),
                _ => pool[(i + k as usize) % 2].to_string(),
            };
            lines.push(l);
        }
    }
    lines
}

/// An edit of `old` as the rules make them: (new lines, their origins).
/// `dirty`: also deletions and inserted text the old file has.
fn gen_edit(
    r: &mut Rng,
    old: &[String],
    rate: u64,
    dirty: bool,
) -> (Vec<String>, Vec<Option<usize>>) {
    let mut new = Vec::new();
    let mut origins = Vec::new();
    let mut fresh = 0;
    for (i, l) in old.iter().enumerate() {
        let kind = match r.below(rate) {
            k @ (1 | 3) if !dirty => k + 1,
            k => k,
        };
        match kind {
            // Split a trailing comment onto its own line above.
            0 if l.contains(" # ") => {
                let (v, c) = l.split_once("   # ").unwrap_or((l, "x"));
                new.push(format!("    # {c}"));
                origins.push(None);
                new.push(v.to_string());
                origins.push(Some(i));
            }
            1 => {}
            2 => {
                fresh += 1;
                new.push(format!("    Added {fresh}"));
                origins.push(None);
                if dirty || !l.contains("Host") {
                    new.push(l.clone());
                    origins.push(Some(i));
                } else {
                    new.push(format!("{l} # moved {fresh}"));
                    origins.push(Some(i));
                }
            }
            // A line that is not new text: the shortcut must not trust it.
            3 => {
                new.push("    User=root".into());
                origins.push(None);
                new.push(l.clone());
                origins.push(Some(i));
            }
            4 if dirty || l.contains("Host") => {
                fresh += 1;
                new.push(format!("{l} # changed {fresh}"));
                origins.push(Some(i));
            }
            _ => {
                new.push(l.clone());
                origins.push(Some(i));
            }
        }
    }
    (new, origins)
}

fn join(lines: &[String], crlf: bool, final_newline: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut s = lines.join(nl);
    if final_newline && !lines.is_empty() {
        s.push_str(nl);
    }
    s.into_bytes()
}

/// Whatever the edit, the shortcut prints what similar prints, and it is
/// taken on config-sized edits like fix's (and declined on others).
#[test]
fn anchored_diff_is_similars_text_on_generated_edits() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut taken, mut declined) = (0, 0);
    for round in 0..600 {
        let blocks = [20, 150, 400, 900][round % 4];
        let old = gen_old(&mut r, blocks);
        let rate = [3, 8, 40, 400][(round / 4) % 4];
        let (new, origins) = gen_edit(&mut r, &old, rate, round % 3 == 2);
        let crlf = round % 7 == 0;
        let (fo, fnl) = (round % 5 != 0, round % 3 != 0);
        let (ob, nb) = (join(&old, crlf, fo), join(&new, crlf, fnl));
        // A last line without a newline is not one line for the parser
        // when the file has one: the hint no longer lines up, and is
        // still only a hint.
        match unified_diff_anchored(&ob, &nb, &origins, "/tmp/c") {
            Some(fast) => {
                taken += 1;
                let slow = super::super::unified_diff(&ob, &nb, "/tmp/c");
                assert_eq!(fast, slow, "round {round}");
            }
            None => declined += 1,
        }
    }
    assert!(
        taken > 30 && declined > 50,
        "taken {taken}, declined {declined}"
    );
}

/// Lies in the hint (wrong origins, moved lines) never change the text.
#[test]
fn anchored_diff_checks_every_origin_against_the_texts() {
    let mut r = Rng(42);
    let mut taken = 0;
    for round in 0..150 {
        // Fewer frequent lines than gen_old's: the shortcut's own ground.
        let old: Vec<String> = gen_old(&mut r, 900)
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                if i % 40 == 0 || l.contains('#') {
                    l
                } else {
                    format!("{l} {i}")
                }
            })
            .collect();
        // Every trailing comment split, as `fix` does on the bench file.
        let (mut new, mut origins) = (Vec::new(), Vec::new());
        for (i, l) in old.iter().enumerate() {
            if let Some((v, c)) = l.split_once("   # ") {
                new.extend([format!("    # {c}"), v.to_string()]);
                origins.extend([None, Some(i)]);
            } else {
                new.push(l.clone());
                origins.push(Some(i));
            }
        }
        for (j, o) in origins.iter_mut().enumerate() {
            if r.below(50) != 0 {
                continue;
            }
            *o = match (round % 4, *o) {
                // An added line said to come from any line.
                (0 | 1, None) => Some(r.below(old.len() as u64) as usize),
                (0 | 1, kept) => kept,
                // A kept line said to be new: its text is in the old side.
                (2, _) => None,
                // The first line of the same text, right or not.
                _ => old.iter().position(|l| *l == new[j]),
            };
        }
        let (ob, nb) = (join(&old, false, true), join(&new, false, true));
        if let Some(fast) = unified_diff_anchored(&ob, &nb, &origins, "c") {
            taken += 1;
            assert_eq!(
                fast,
                super::super::unified_diff(&ob, &nb, "c"),
                "round {round}"
            );
        }
    }
    assert!(taken > 5, "{taken}");
}

#[test]
fn anchored_diff_declines_what_similar_reads_otherwise() {
    let old: Vec<String> = (0..2000).map(|i| format!("line {i}")).collect();
    let mut new = old.clone();
    new[1000] = "changed".into();
    let origins: Vec<Option<usize>> = (0..2000).map(Some).collect();
    let (ob, nb) = (join(&old, false, true), join(&new, false, true));
    // One changed line: similar's small-middle path, not the reduction.
    assert!(unified_diff_anchored(&ob, &nb, &origins, "c").is_none());
    // A byte-order mark, invalid UTF-8, a lone CR: other texts.
    for bad in [&b"\xEF\xBB\xBFa\n"[..], b"a\xFF\n", b"a\rb\n"] {
        assert!(text_lines(bad).is_none());
    }
}

/// A hostile review's file: the last repair's new `# c` line equals the
/// line just after the changed middle, which similar's clean-up slides
/// over; the shortcut must not answer then (and still answer without it).
#[test]
fn anchored_diff_declines_a_repair_next_to_an_equal_common_line() {
    let build = |dup: bool| {
        let (mut old, mut new, mut origins) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..200 {
            let mut block = [
                format!("Host h{i}"),
                format!("    HostName 10.0.0.{i}"),
                format!("    User u{i}"),
                format!("    Port {}", 20000 + i),
            ];
            let repaired = i == 0 || i == 199;
            if repaired {
                block[3] = format!("    Port {}   # c{i}", 20000 + i);
            }
            for (n, l) in block.iter().enumerate() {
                if repaired && n == 3 {
                    new.push(format!("    # c{i}"));
                    origins.push(None);
                    new.push(format!("    Port {}", 20000 + i));
                    origins.push(None);
                } else {
                    new.push(l.clone());
                    origins.push(Some(old.len()));
                }
                old.push(l.clone());
            }
            if i == 199 && dup {
                new.push("    # c199".into());
                origins.push(Some(old.len()));
                old.push("    # c199".into());
            }
        }
        for l in ["Host tail", "    User t"] {
            new.push(l.into());
            origins.push(Some(old.len()));
            old.push(l.into());
        }
        (join(&old, false, true), join(&new, false, true), origins)
    };
    let (ob, nb, origins) = build(true);
    assert!(unified_diff_anchored(&ob, &nb, &origins, "c").is_none());
    let slow = super::super::unified_diff(&ob, &nb, "c");
    assert!(
        slow.contains("-    Port 20199   # c199\n     # c199\n+    Port 20199\n+    # c199\n"),
        "{slow}"
    );
    let (ob, nb, origins) = build(false);
    let fast =
        unified_diff_anchored(&ob, &nb, &origins, "c").expect("taken without the equal line");
    assert_eq!(fast, super::super::unified_diff(&ob, &nb, "c"));
}
