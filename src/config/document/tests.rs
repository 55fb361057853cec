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

#[test]
fn one_block_is_that_block_of_the_list() {
    let mut texts: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"# only globals\nUser u\n".to_vec(),
        b"Host a b\n Port 1\nMatch host x user y\n\n# c\nHost=\"q r\"\nhOsT last\n".to_vec(),
        b"Port 2\r\nHost  crlf\r\n  User x\r\nMatch all\r\n".to_vec(),
    ];
    for dir in ["fixtures/fix", "fixtures/ssh-g"] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_file() {
                texts.push(std::fs::read(e.path()).unwrap());
            }
        }
    }
    assert!(texts.len() > 40);
    for t in &texts {
        let d = Document::parse(t);
        let all = d.blocks();
        for (i, b) in all.iter().enumerate() {
            assert_eq!(d.block(i).as_ref(), Ok(b), "{}", String::from_utf8_lossy(t));
        }
        assert_eq!(d.block(all.len()), Err(EditError::NoSuchBlock(all.len())));
    }
}

/// Every line of every parsed file is a `Line`: its size is paid in page
/// faults and copies on each command (61k lines in the 10k bench file).
#[cfg(target_pointer_width = "64")]
#[test]
fn a_line_stays_small() {
    assert!(
        std::mem::size_of::<Line>() <= 144,
        "{}",
        std::mem::size_of::<Line>()
    );
}

/// `option_lines` reads the lexer's `known` instead of looking each
/// line's keyword up again: both must pick the same lines, aliases, case,
/// unknown, over-long and non-UTF-8 keywords included.
#[test]
fn option_lines_agree_with_a_keyword_lookup_per_line() {
    let text = b"Host a\n  IdentityFile x\n  identityfile y\n  IDENTITYFILE=z\n  \
PubkeyAcceptedKeyTypes k\n  PubkeyAcceptedAlgorithms j\n  Bogus q\n  \
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa v\n  Us\xffer w\n  User \"u\"\n  \
# User c\n  User\n  ProxyCommand p\n  identityFile2 i2\nMatch all\n  Port 2\n";
    let doc = Document::parse(text);
    for b in doc.blocks() {
        for kw in [
            "identityfile",
            "IdentityFile",
            "pubkeyacceptedkeytypes",
            "PubkeyAcceptedAlgorithms",
            "identityfile2",
            "bogus",
            "user",
            "proxycommand",
            "port",
            "match",
            "host",
            "nope",
        ] {
            let want = keywords::lookup(kw).map(|k| k.name);
            let reference: Vec<usize> = b
                .lines
                .clone()
                .filter(|&i| Some(i) != b.header)
                .filter(|&i| {
                    doc.lines()[i].keyword().is_some_and(|k| {
                        keywords::lookup(k).map(|x| x.name) == want && want.is_some()
                    })
                })
                .collect();
            assert_eq!(doc.option_lines(&b, kw), reference, "{kw} in {b:?}");
        }
    }
    assert_eq!(
        doc.option_lines(&doc.blocks()[1], "identityfile"),
        [1, 2, 3, 13]
    );
    assert_eq!(
        doc.first_value(&doc.blocks()[1], "user").as_deref(),
        Some("u")
    );
}

mod naming {
    use super::*;
    use proptest::prelude::*;

    /// Lines that make and name blocks in many spellings: case, `=`,
    /// quotes, several patterns, comments, Match, the alias as part of
    /// another word.
    const LINES: &[&str] = &[
        "Host a",
        "Host b a",
        "host=a",
        "HOST \"a\" c",
        "Host a# x",
        "Host ab",
        "Host a*",
        "  Host a",
        "Match host a",
        "Match all",
        "# Host a",
        "",
        "  HostName 10.0.0.1",
        "  User root",
        "Host",
        "Host 'a'",
        "Host a\tb",
        "Host \\a",
    ];

    proptest! {
        /// `Document::host_blocks_naming_with` gives exactly the blocks of
        /// `blocks()` that `host_blocks_naming_in` names.
        #[test]
        fn host_blocks_naming_agrees_with_blocks(
            picks in proptest::collection::vec(0..LINES.len(), 0..40),
            crlf in any::<bool>(),
            final_newline in any::<bool>(),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut text = picks.iter().map(|&i| LINES[i]).collect::<Vec<_>>().join(nl);
            if final_newline {
                text.push_str(nl);
            }
            let doc = Document::parse(text.as_bytes());
            let blocks = doc.blocks();
            let want: Vec<(usize, Block)> =
                host_blocks_naming_in(&blocks, "a")
                    .into_iter()
                    .map(|i| (i, blocks[i].clone()))
                    .collect();
            prop_assert_eq!(doc.host_blocks_naming_with("a"), want);
        }
    }
}
