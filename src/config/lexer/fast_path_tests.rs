//! The fast path ([`lex_plain`]) against the full lexer ([`lex_full`]) on
//! many generated lines: wherever the fast path answers, it must answer
//! exactly what the full lexer does (every range, argument, comment).

use super::*;

/// xorshift64*: a fixed, reproducible stream without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a [u8]]) -> &'a [u8] {
        from[self.below(from.len())]
    }
}

const INDENTS: &[&[u8]] = &[
    b"", b"", b" ", b"\t", b"    ", b" = ", b"=", b"==", b"\r", b"\x0c",
];
const KEYWORDS: &[&[u8]] = &[
    b"Host",
    b"HostName",
    b"user",
    b"USER",
    b"Port",
    b"Match",
    b"mAtch",
    b"ProxyCommand",
    b"localcommand",
    b"RemoteCommand",
    b"KnownHostsCommand",
    b"IdentityFile",
    b"LocalForward",
    b"#",
    b"#Host",
    b"Bogus",
    b"x",
    b"",
    b"\"Host\"",
    b"Ho\"st\"",
    b"Host\\",
    b"H\xc3\xa9",
    b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];
const SEPARATORS: &[&[u8]] = &[
    b" ", b" ", b"\t", b"=", b" = ", b"==", b" =\t", b"", b"  ", b"= =",
];
const GAPS: &[&[u8]] = &[b" ", b" ", b"\t", b"  ", b" \t", b"=", b"\r"];
const TAILS: &[&[u8]] = &[
    b"",
    b"",
    b"",
    b" ",
    b"\t",
    b"   # jupyter",
    b"#c",
    b" #",
    b"\r",
    b" \x0c",
    b"\0junk",
    b" \r\n",
];
/// Byte classes a token is made of: plain, delimiters, quotes, escapes,
/// comment, controls, non-ASCII (valid and not).
const CHUNKS: &[&[u8]] = &[
    b"a",
    b"web",
    b"10.0.0.1",
    b"-",
    b"%h",
    b"*",
    b"!",
    b"~/.ssh/id",
    b"#",
    b"=",
    b"\"",
    b"'",
    b"\\",
    b"\\ ",
    b"\\\"",
    b" ",
    b"\t",
    b"\0",
    b"\r",
    b"\x0c",
    b"\n",
    b"\xc3\xa9",
    b"\xff",
    b"\x80",
    b"\x01",
    b"\x7f",
    b"\x1b",
];

fn token(r: &mut Rng, out: &mut Vec<u8>) {
    for _ in 0..1 + r.below(4) {
        if r.below(12) == 0 {
            out.push(r.below(256) as u8);
        } else if r.below(3) == 0 {
            out.extend_from_slice(r.pick(CHUNKS));
        } else {
            out.extend_from_slice(r.pick(&CHUNKS[..8]));
        }
    }
}

fn line(r: &mut Rng) -> Vec<u8> {
    let mut l = Vec::new();
    l.extend_from_slice(r.pick(INDENTS));
    l.extend_from_slice(r.pick(KEYWORDS));
    l.extend_from_slice(r.pick(SEPARATORS));
    for i in 0..r.below(5) {
        if i > 0 {
            l.extend_from_slice(r.pick(GAPS));
        }
        token(r, &mut l);
    }
    l.extend_from_slice(r.pick(TAILS));
    l
}

/// Whether the fast path answered, after checking it answered right.
fn agrees(l: &[u8]) -> bool {
    let full = lex_full(l);
    assert_eq!(
        lex_line(l),
        full,
        "lex_line differs on {:?}",
        l.escape_ascii().to_string()
    );
    match lex_plain(l) {
        Some(fast) => {
            assert_eq!(
                fast,
                full,
                "fast path differs on {:?}",
                l.escape_ascii().to_string()
            );
            true
        }
        None => false,
    }
}

#[test]
fn fast_path_agrees_with_full_lexer_on_generated_lines() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let n = 200_000;
    let fast = (0..n).filter(|_| agrees(&line(&mut r))).count();
    // Both paths exercised, so agreement is not vacuous.
    assert!(
        fast > n / 10 && fast < n * 9 / 10,
        "fast path took {fast} of {n}"
    );
}

#[test]
fn fast_path_agrees_with_full_lexer_for_every_byte_everywhere() {
    let templates: &[&[u8]] = &[
        b"Host runpod-1 pod-1.alias",
        b"    HostName 10.0.0.1",
        b"    User=root",
        b"    LocalForward 30000 localhost:8888   # jupyter",
        b"  Port = 22 #c",
        b"#Host x",
        b"Match host a",
        b"ProxyCommand ssh -W %h:%p j",
        b"User",
        b"  ",
    ];
    let mut fast = 0;
    for t in templates {
        assert!(agrees(t) || t.starts_with(b"Match") || t.starts_with(b"Proxy") || *t == b"User");
        for at in 0..=t.len() {
            for b in 0..=255u8 {
                let mut l = t.to_vec();
                l.insert(at, b);
                fast += usize::from(agrees(&l));
                let mut swapped = t.to_vec();
                if at < swapped.len() {
                    swapped[at] = b;
                    fast += usize::from(agrees(&swapped));
                }
            }
        }
    }
    assert!(fast > 10_000, "fast path took only {fast}");
}

#[test]
fn fast_path_takes_the_common_lines() {
    for l in [
        &b"Host runpod-1 pod-1.alias"[..],
        b"    HostName 10.0.0.1",
        b"    User=root",
        b"    LocalForward 30000 localhost:8888   # jupyter",
        b"",
        b"# pods",
        b"\tIdentityFile ~/.ssh/id_ed25519 ",
    ] {
        assert!(lex_plain(l).is_some(), "{:?}", l.escape_ascii().to_string());
        assert!(agrees(l));
    }
    for l in [
        &b"\tIdentityFile \"~/.ssh/id key 0\""[..],
        b"Match host a",
        b"ProxyCommand ssh j",
        b"User",
        b"User h\xc3\xa9",
        b"User h\r",
    ] {
        assert!(lex_plain(l).is_none(), "{:?}", l.escape_ascii().to_string());
        assert!(!agrees(l));
    }
}
