//! Property tests for the lossless document: parse+emit gives back the
//! input bytes, and edits leave every line outside the edited block
//! byte-identical.

use proptest::prelude::*;
use runpod_ssh::config::{Document, resolve::Context};

/// Lines that look like what people write, including the odd ones.
fn line() -> impl Strategy<Value = String> {
    let kw = prop::sample::select(vec![
        "Host",
        "HostName",
        "hostname",
        "User",
        "Port",
        "IdentityFile",
        "ProxyCommand",
        "Match",
        "Include",
        "LocalForward",
        "SendEnv",
        "  Host",
        "\tUser",
        "IdentitiesOnly",
        "#",
        "Frob",
    ]);
    let sep = prop::sample::select(vec![" ", "\t", "=", " = ", "  ", "==", ""]);
    let val = prop::sample::select(vec![
        "web",
        "1.2.3.4",
        "\"a b\"",
        "'x y'",
        "bo\"b\"x",
        "a#b",
        "~/.ssh/id",
        "C:\\Users\\me",
        "*",
        "!bad",
        "host web",
        "\"unterminated",
        "22",
        "40123# c",
        "x\\ y",
        "\u{a0}nbsp",
        "",
    ]);
    let comment = prop::sample::select(vec!["", " # c", "   # the IP", "\t#x", " #"]);
    let ws = prop::sample::select(vec!["", " ", "\t", " \x0c"]);
    (kw, sep, val, comment, ws).prop_map(|(k, s, v, c, w)| format!("{k}{s}{v}{c}{w}"))
}

fn config() -> impl Strategy<Value = Vec<u8>> {
    let ending = prop::sample::select(vec!["\n", "\r\n", "\r", ""]);
    (
        prop::collection::vec((line(), ending), 0..40),
        prop::sample::select(vec![&b""[..], b"\xEF\xBB\xBF"]),
    )
        .prop_map(|(lines, bom)| {
            let mut out = bom.to_vec();
            for (l, e) in lines {
                out.extend_from_slice(l.as_bytes());
                out.extend_from_slice(e.as_bytes());
            }
            out
        })
}

/// The bytes of each line (with its terminator), for comparisons.
fn line_bytes(d: &Document) -> Vec<Vec<u8>> {
    d.lines()
        .iter()
        .map(|l| {
            let mut v = l.bytes().to_vec();
            v.extend_from_slice(l.ending.as_bytes());
            v
        })
        .collect()
}

/// 512 cases, or `PROPTEST_CASES` (the Windows lane runs these pure
/// properties with fewer: the Linux lane searches, Wine adds no platform
/// code to them).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert_eq!(Document::parse(&bytes).to_bytes(), bytes);
    }

    #[test]
    fn generated_configs_round_trip(bytes in config()) {
        prop_assert_eq!(Document::parse(&bytes).to_bytes(), bytes);
    }

    #[test]
    fn utf16_round_trips(text in "[ -~\t\r\n\u{a0}\u{3000}é]{0,200}") {
        let mut bytes = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            bytes.extend(u.to_le_bytes());
        }
        prop_assert_eq!(Document::parse(&bytes).to_bytes(), bytes);
    }

    #[test]
    fn set_option_touches_only_its_block(bytes in config(), pick in any::<prop::sample::Index>(),
                                         kv in prop::sample::select(vec![("HostName", "203.0.113.7"), ("Port", "40123"), ("User", "root"),
                                                                         ("IdentityFile", "C:\\Users\\me\\.ssh\\id"), ("IdentityFile", "~/my keys/id")])) {
        let (kw, val) = kv;
        let mut doc = Document::parse(&bytes);
        let blocks = doc.blocks();
        let bi = pick.index(blocks.len());
        let block = blocks[bi].clone();
        let before = line_bytes(&doc);
        doc.set_option(bi, kw, val).expect("portable value");
        let after = line_bytes(&doc);
        let tail = before.len() - block.lines.end;
        let delta = after.len() as isize - before.len() as isize;
        prop_assert!(delta == 0 || delta == 1);
        // Lines before the block, and after it, are untouched. The last line
        // may gain a newline when the block ends the file.
        prop_assert_eq!(&after[..block.lines.start], &before[..block.lines.start]);
        prop_assert_eq!(&after[after.len() - tail..], &before[before.len() - tail..]);
        // The new value is what a fresh parse of the output reads back.
        let reparsed = Document::parse(&doc.to_bytes());
        let b2 = &reparsed.blocks()[bi];
        let lines = reparsed.option_lines(b2, kw);
        let first = lines.first().copied().expect("option present");
        let want = if kw == "IdentityFile" { val.replace('\\', "/") } else { val.to_string() };
        prop_assert_eq!(reparsed.lines()[first].values()[0], want.as_str());
    }

    #[test]
    fn insert_and_remove_block_touch_only_their_lines(bytes in config(), pick in any::<prop::sample::Index>()) {
        let mut doc = Document::parse(&bytes);
        let n = doc.blocks().len();
        let bi = pick.index(n);
        let at = doc.position_before_block(bi);
        let before = line_bytes(&doc);
        let header = doc
            .insert_host_block(at, &["runpod-test"], &[("HostName", "203.0.113.7"), ("Port", "40123")], &["added by a test"])
            .expect("insert");
        let after = line_bytes(&doc);
        // Everything before `at` is unchanged (bar a newline added to a last
        // line that had none), everything from `at` on follows the new lines.
        let keep = at.saturating_sub(1);
        prop_assert_eq!(&after[..keep], &before[..keep]);
        let added = after.len() - before.len();
        prop_assert_eq!(&after[at + added..], &before[at..]);
        // Removing it again gives the original lines back, except the blank
        // separators insert added and the newline fix-up.
        let ours = doc.blocks().iter().position(|b| b.header == Some(header)).expect("block");
        doc.remove_block(ours).expect("remove");
        let back = line_bytes(&doc);
        prop_assert_eq!(&back[..keep], &before[..keep]);
        prop_assert_eq!(&back[back.len() - (before.len() - at)..], &before[at..]);
    }

    #[test]
    fn inserted_block_resolves_as_intended(bytes in config()) {
        // A block inserted before the first block resolves to its values
        // unless an earlier global line sets them (which `add` checks for).
        let mut doc = Document::parse(&bytes);
        let at = doc.position_before_block(1);
        doc.insert_host_block(at, &["runpod-test"], &[("HostName", "203.0.113.7"), ("Port", "40123")], &[]).expect("insert");
        // An Include in a random config must not reach the real home.
        let empty = std::env::temp_dir().join("runpod-ssh-roundtrip-empty-home");
        let ctx = Context { home: empty.clone(), user_home: empty, ..Context::current() };
        let r = runpod_ssh::config::resolve(&doc, std::path::Path::new("/tmp/x"), "runpod-test", &ctx);
        if r.ok() {
            let global_sets = |k: &str| r.get(k).is_some_and(|s| s.source.line <= at);
            if !global_sets("hostname") {
                prop_assert_eq!(r.hostname().0, "203.0.113.7");
            }
            if !global_sets("port") {
                prop_assert_eq!(r.port().0, 40123);
            }
        }
    }
}

/// Headers and settings that exercise which blocks apply to which host.
fn lookup_config() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "web", "db", "Web", "web.x", "1.2.3.4", "executor", "w*", "*", "!web", "web,db", "!db,web",
        "%h.x",
    ]);
    let line = (
        prop::sample::select(vec![
            "Host",
            "Host web",
            "Match host",
            "Match originalhost",
            "Match user root host",
            "Match host web.x originalhost",
            "Match !host",
            "Match all host",
            "Match final host",
            "Match exec true host",
            "HostName",
            "User",
            "Port 2222 #",
            "LocalForward 1 h:2 #",
            "LocalForward",
            "ServerAliveInterval",
            "IdentityFile",
            "SendEnv",
            "CanonicalizeHostname yes #",
            "Bogus",
            "Include",
            "Compressionlevel",
            "Port",
            "IgnoreUnknown",
            "User \"unterminated",
        ]),
        name,
    )
        .prop_map(|(k, n)| format!("{k} {n}\n"));
    prop::collection::vec(line, 0..30).prop_map(|l| l.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn resolver_for_many_hosts_gives_what_resolve_gives(text in lookup_config()) {
        let doc = Document::parse(text.as_bytes());
        let empty = std::env::temp_dir().join("runpod-ssh-roundtrip-empty-home");
        let ctx = Context { home: empty.clone(), user_home: empty, ..Context::current() };
        let path = std::path::Path::new("/tmp/x");
        let many = runpod_ssh::config::resolve::Resolver::new(&doc, path, &ctx);
        // What `list` asks for: the same values of the settings it keeps.
        const KEEP: &[&str] = &["hostname", "port", "user", "identityfile"];
        let for_values = runpod_ssh::config::resolve::Resolver::for_values(&doc, path, &ctx, KEEP);
        for host in ["web", "db", "Web", "web.x", "1.2.3.4", "other", "root"] {
            let one = runpod_ssh::config::resolve(&doc, path, host, &ctx);
            let fast = many.resolve(host);
            prop_assert_eq!(fast.settings(), one.settings(), "host {}", host);
            prop_assert_eq!(&fast.errors, &one.errors, "host {}", host);
            prop_assert_eq!(&fast.warnings, &one.warnings, "host {}", host);
            prop_assert_eq!(&fast.not_evaluated, &one.not_evaluated, "host {}", host);
            prop_assert_eq!(&fast.runs_commands, &one.runs_commands, "host {}", host);
            let values = for_values.resolve_values(host);
            let kept = |r: &runpod_ssh::config::Resolved| -> Vec<(&'static str, Vec<String>)> {
                r.settings()
                    .iter()
                    .filter(|s| KEEP.contains(&s.keyword))
                    .map(|s| (s.keyword, s.args.clone()))
                    .collect()
            };
            prop_assert_eq!(kept(&values), kept(&one), "host {}", host);
            prop_assert_eq!(values.hostname_value(), one.hostname().0, "host {}", host);
            prop_assert_eq!(values.port_value(), one.port().0, "host {}", host);
            prop_assert_eq!(values.user_value(), one.user().0, "host {}", host);
        }
    }
}
