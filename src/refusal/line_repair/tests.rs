//! The per-line verdict against the full run of `fix`'s rules: on many
//! generated files (every line kind a rule repairs, and the ones none
//! does), whenever [`comments_only`] answers, [`super::super::repairs_of`]
//! answers the same; and both the fast answer and the fallback are taken.

use super::*;
use crate::refusal::{Client, UNRELATED_HOST, judge_split, repairs_of};

use crate::refusal::tests::ctx;

/// Lines the generator draws from: `{n}` becomes the block's number.
const LINES: &[&str] = &[
    "    HostName 10.0.0.{n}",
    "    HostName 10.0.0.{n}   # the ip",
    "    Port 2{n}",
    "    Port 2{n} # port",
    "    Port 40123# glued",
    "    Port 1 2 # two values",
    "    User root # account",
    "    User \"root # account\"",
    "    User 'root' # quoted",
    "    LocalForward 3{n} localhost:8888   # jupyter",
    "    LocalForward 3{n} localhost:8888 extra # three",
    "    LocalForward 3{n}# glued",
    "    IdentityFile ~/.ssh/id # key",
    "    IdentityFile C:\\\\Users\\\\me\\\\id",
    "    IdentityFile ~/.ssh/id.pub",
    "    ServerAliveInterval 30 # keep alive",
    "    Compression yes\t# tab before",
    "    SetEnv A=1 # env",
    "    SendEnv LANG # env",
    "    UseKeychain yes # apple",
    "    Bogus 1 # unknown",
    "    ProxyCommand nc %h %p # a command",
    "    ForwardAgent no # agent",
    "    User root\u{a0}# nbsp",
    "    Port 22 # caf\u{e9}",
    "    Ciphers aes128-ctr # ok",
    "    Ciphers nope # bad",
    "    HostName a#b",
    "    HostName host\\name # backslash",
    "    LogLevel = INFO # equals",
    "    Port=22#x",
    "    StrictHostKeyChecking accept-new # new",
    "    ConnectTimeout 10 # ten",
    "    ConnectTimeout ten # not a number",
    "    User root #",
    "# a comment",
    "",
];

const HEADERS: &[&str] = &[
    "Host runpod-{n}",
    "Host runpod-{n} # an alias",
    "Host runpod-{n} pod-{n}",
    "Host *",
    "Match host runpod-{n}",
    "Match all # all",
    "Include other # included",
];

/// A small deterministic generator (no seed files, the same every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// A file of a few blocks; `plain`: draw only the lines the fast path
/// takes (so it is exercised often), else from every kind.
fn generate(rng: &mut Lcg, plain: bool) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.next(12) {
        0 => out.extend_from_slice("\u{feff}".as_bytes()),
        1 => out.extend_from_slice(b"# caf\xe9 in Latin-1\n"),
        _ => {}
    }
    let crlf = rng.next(8) == 0;
    let pool: Vec<&str> = if plain {
        vec![
            LINES[1], LINES[3], LINES[9], LINES[15], LINES[16], LINES[22],
        ]
    } else {
        LINES.to_vec()
    };
    for n in 0..1 + rng.next(5) {
        let header = if plain && rng.next(3) > 0 {
            HEADERS[0]
        } else {
            HEADERS[rng.next(HEADERS.len())]
        };
        let mut push = |l: &str| {
            out.extend_from_slice(l.replace("{n}", &n.to_string()).as_bytes());
            out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        };
        if n > 0 || rng.next(3) > 0 {
            push(header);
        }
        for _ in 0..1 + rng.next(5) {
            push(pool[rng.next(pool.len())]);
        }
    }
    out
}

#[test]
fn per_line_verdict_agrees_with_the_full_run_of_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(dir.path().join("other"), "User root # inc\n").unwrap();
    let cx = ctx(dir.path());
    let client = Client::OpenSsh77;
    let (mut fast, mut fallback) = (0, 0);
    let mut rng = Lcg(9);
    for k in 0..1500 {
        let text = generate(&mut rng, k % 3 == 0);
        std::fs::write(&path, &text).unwrap();
        let doc = Document::parse(&text);
        let (r, evaluated) = judge_split(client, &doc, &path, UNRELATED_HOST, &cx);
        let before: Vec<String> = r
            .problems
            .iter()
            .filter(|p| p.source.file == path)
            .map(|p| p.message.clone())
            .collect();
        if before.is_empty() {
            continue;
        }
        let quick = comments_only(&path, &doc, &r.problems, evaluated, &cx);
        let full = repairs_of(
            client,
            &path,
            UNRELATED_HOST,
            &cx,
            doc.clone(),
            Some(before),
        );
        match quick {
            Some(q) => {
                fast += 1;
                assert_eq!(q, full, "{}", String::from_utf8_lossy(&text));
            }
            None => fallback += 1,
        }
    }
    // Both ways are exercised, often.
    assert!(
        fast > 200 && fallback > 200,
        "fast {fast}, fallback {fallback}"
    );
}

#[test]
fn the_bench_shape_is_decided_per_line_as_all_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let mut text = String::from("ServerAliveInterval 30\n");
    for n in 0..50 {
        text.push_str(&format!(
            "Host runpod-{n} pod-{n}.alias\n    HostName 10.0.0.{n}\n    Port 2{n}\n    User=root\n\tIdentityFile \"~/.ssh/id key {n}\"\n    LocalForward 3{n} localhost:8888   # jupyter\n"
        ));
    }
    std::fs::write(&path, &text).unwrap();
    let doc = Document::parse(text.as_bytes());
    let cx = ctx(dir.path());
    let (r, evaluated) = judge_split(Client::OpenSsh77, &doc, &path, UNRELATED_HOST, &cx);
    assert_eq!(r.problems.len(), 50);
    assert_eq!(
        comments_only(&path, &doc, &r.problems, evaluated, &cx),
        Some(Repair::All)
    );
}

#[test]
fn a_line_no_rule_repairs_falls_back_to_the_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let cx = ctx(dir.path());
    for text in [
        "Host a\n    Port 1 2 # two values\n",
        "Host a # alias\n    Port 22\n",
        "Host a\n    User 'root' # quoted\n    Port 22 # p\n",
        "\u{feff}Host a\n    Port 22 # p\n",
        "Host a\n    Port 22 # p\n    Bogus 1\n",
    ] {
        let doc = Document::parse(text.as_bytes());
        let (r, evaluated) = judge_split(Client::OpenSsh77, &doc, &path, UNRELATED_HOST, &cx);
        assert!(!r.is_empty(), "{text}");
        assert_eq!(
            comments_only(&path, &doc, &r.problems, evaluated, &cx),
            None,
            "{text}"
        );
    }
}

/// The shortcut of `moved_comment_is_clean`: whenever a line only the
/// trailing-comment rule changes has a plain value, parsing what the rule
/// leaves finds the same words, read alike by 7.7 (the slow answer).
#[test]
fn a_plain_value_reads_the_same_without_its_comment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let cx = ctx(dir.path());
    let parts: &[&str] = &[
        "a", "b1", " ", "\t", "=", "\"", "'", "\\", "x#y", "é", "\r", ":8888", "%h", ",", "  ",
        "\u{b}", "\u{c}", "yes", "10",
    ];
    let keywords = [
        "User",
        "LocalForward",
        "SendEnv",
        "Port",
        "SetEnv",
        "Compression",
        "LogLevel",
        "Ciphers",
        "HostName",
        "Bogus",
    ];
    let mut rng = Lcg(5);
    let (mut fast, mut slow) = (0, 0);
    for _ in 0..30000 {
        let mut line = String::from(["", "    ", "\t"][rng.next(3)]);
        line.push_str(keywords[rng.next(keywords.len())]);
        line.push_str([" ", "=", " = ", "\t"][rng.next(4)]);
        for _ in 0..1 + rng.next(5) {
            line.push_str(parts[rng.next(parts.len())]);
        }
        line.push_str(["  # jupyter", " #", "\t# a \"b", " # x=y 'z"][rng.next(4)]);
        let doc = Document::parse(line.as_bytes());
        let Some(l) = doc.lines().first() else {
            continue;
        };
        let (Some(d), b) = (l.directive(), l.bytes()) else {
            continue;
        };
        if !only_the_comment_rule(b, d) {
            continue;
        }
        let reparsed = reparsed_is_clean(&path, 0, b, d, &cx);
        if plain_value(b, d) {
            fast += 1;
            assert!(reparsed, "{line:?}");
        } else {
            slow += 1;
        }
    }
    assert!(fast > 2000 && slow > 1000, "fast {fast}, slow {slow}");
}
