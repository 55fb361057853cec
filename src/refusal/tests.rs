//! Unit tests of [`super`]: the lines each ssh client refuses (OpenSSH 7.7, 9.x, Apple's) and in ssh's words, and how the local ssh is detected.

use super::*;

#[test]
fn ssh_errors_are_read_with_their_file_and_line() {
    let p = Path::new("/h/.ssh/config");
    let d = parse_ssh_errors(
        p,
        "/h/.ssh/inc line 3: Bad forwarding specification.\n/h/.ssh/config: terminating, 1 bad configuration options\n",
    );
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].to_string(),
        "/h/.ssh/inc:3: Bad forwarding specification."
    );
    let d = parse_ssh_errors(
        p,
        "/h/.ssh/config: terminating, 1 bad configuration options\n",
    );
    assert_eq!(d[0].source.line, 0);
    assert_eq!(d[0].message, "terminating, 1 bad configuration options");
}

#[test]
fn algorithm_lists_refuse_unknown_names_in_ssh_words() {
    let c = Client::OpenSsh;
    assert_eq!(
        c.bad_value("ciphers", "bogus").as_deref(),
        Some("Bad SSH2 cipher spec 'bogus'.")
    );
    assert_eq!(c.bad_value("ciphers", "+aes128-cbc,aes256-ctr"), None);
    assert_eq!(c.bad_value("ciphers", "-whatever"), None);
    assert!(c.bad_value("macs", "hmac-sha9").is_some());
    assert!(c.bad_value("kexalgorithms", "^nope").is_some());
    assert_eq!(
        c.bad_value("hostkeyalgorithms", "ssh-ed25519*,rsa-sha2-*"),
        None
    );
    assert!(c.bad_value("pubkeyacceptedalgorithms", "nokey*").is_some());
    assert_eq!(c.bad_value("user", "bogus"), None);
}

/// A context for tests (also the per-line verdict's, in `line_repair`).
pub(super) fn ctx(home: &Path) -> Context {
    Context {
        local_user: "u".into(),
        home: home.to_path_buf(),
        user_home: home.to_path_buf(),
        uid: 1,
        check_include_permissions: false,
        system_config: None,
    }
}

/// (line, message) of what `client` refuses in `text`.
fn refused(client: Client, text: &[u8]) -> Vec<(usize, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    check(client, &path, &Document::parse(text), &ctx(dir.path()))
        .problems
        .into_iter()
        .map(|d| (d.source.line, d.message))
        .collect()
}

const GUIDE: &str = "\tHost RunPod-4090            # alias shown in VS Code\n    HostName 127.0.0.1    # the IP after @\n    User root               # the account after ssh\n    Port 40022              # the number after -p\n    IdentityFile ~/.ssh/id_ed25519  # the path after -i\n";

#[test]
fn openssh77_refuses_the_guides_trailing_comments_that_9x_accepts() {
    assert!(refused(Client::OpenSsh, GUIDE.as_bytes()).is_empty());
    let r = refused(Client::OpenSsh77, GUIDE.as_bytes());
    let lines: Vec<usize> = r.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5], "{r:?}");
    assert_eq!(
        r[0].1,
        r##"OpenSSH 7.7 and 8.1 read the comment as more host patterns ("#" "alias" "shown" "in" "VS" "Code")"##
    );
    for (_, m) in &r[1..] {
        assert_eq!(m, r##"garbage at end of line; "#"."##);
    }
}

#[test]
fn openssh77_reads_quotes_backslashes_and_odd_spaces_as_part_of_values() {
    let r = refused(
        Client::OpenSsh77,
        "Host a\n  User 'bob'\n  IdentityFile \"C:\\\\Users\\\\me\\\\id\"\n  HostName h\u{a0}x\n  LocalForward 8888 localhost:8888 # jupyter\n  Host b # any* host\n  Match host x # c\n"
            .as_bytes(),
    );
    let by_line = |n: usize| r.iter().find(|(l, _)| *l == n).map(|(_, m)| m.as_str());
    assert_eq!(
        by_line(2),
        Some(r#"OpenSSH 7.7 and 8.1 read the value as "'bob'", not "bob""#)
    );
    assert_eq!(
        by_line(3),
        Some(r#"OpenSSH 7.7 and 8.1 read the value as "C:\\Users\\me\\id", not "C:\Users\me\id""#)
    );
    assert_eq!(
        by_line(4),
        Some("a non-ASCII space (U+00A0): every ssh reads it as a letter, not a space")
    );
    assert_eq!(by_line(5), Some(r##"garbage at end of line; "#"."##));
    assert!(
        by_line(6)
            .unwrap()
            .ends_with("one a wildcard that matches other hosts")
    );
    assert_eq!(by_line(7), Some("Unsupported Match attribute #"));
}

#[test]
fn openssh77_accepts_what_every_version_reads_alike() {
    let text = "Host a b\n  HostName 1.2.3.4\n  User root\n  IdentityFile \"C:/Users/John Doe/.ssh/id\"\n  IdentityFile C:\\Users\\me\\id\n  ProxyCommand ssh -W %h:%p jump # the shell ignores this\n  SetEnv A=b\n  Port=22\n# a comment line\n";
    assert!(refused(Client::OpenSsh77, text.as_bytes()).is_empty());
}

#[test]
fn openssh77_refuses_a_bom_on_every_platform() {
    let r = refused(Client::OpenSsh77, b"\xEF\xBB\xBFHost a\n  User root\n");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, 1);
    assert!(r[0].1.contains("byte-order mark"));
}

#[test]
fn apple_keywords_are_valid_for_apples_ssh_only() {
    let text = b"Host *\n  AddKeysToAgent yes\n  UseKeychain yes\n";
    assert!(refused(Client::Apple, text).is_empty());
    for c in [Client::OpenSsh, Client::OpenSsh77] {
        assert_eq!(
            refused(c, text),
            [(3, "Bad configuration option: usekeychain".to_string())]
        );
    }
    // Apple's ssh checks the value like any flag.
    assert_eq!(refused(Client::Apple, b"UseKeychain maybe\n").len(), 1);
    // IgnoreUnknown met first makes upstream skip it.
    assert!(
        refused(
            Client::OpenSsh,
            b"IgnoreUnknown UseKeychain\nHost *\n  UseKeychain yes\n"
        )
        .is_empty()
    );
}

#[test]
fn macos_detection_follows_the_first_ssh_on_path() {
    let apple = detect_macos(Some(PathBuf::from(APPLE_SSH)), None, true);
    assert_eq!((apple.client, apple.apple_shadowed), (Client::Apple, false));
    let apple_banner = detect_macos(
        Some(PathBuf::from("/usr/local/bin/ssh")),
        Some("OpenSSH_9.8p1, LibreSSL 3.3.6".into()),
        true,
    );
    assert_eq!(apple_banner.client, Client::Apple);
    let brew = detect_macos(
        Some(PathBuf::from("/opt/homebrew/bin/ssh")),
        Some("OpenSSH_10.0p2, OpenSSL 3.5.0 8 Apr 2025".into()),
        true,
    );
    assert_eq!((brew.client, brew.apple_shadowed), (Client::OpenSsh, true));
    assert_eq!(detect_macos(None, None, true).client, Client::Apple);
}

#[test]
fn fix_command_names_the_file_unless_default() {
    let ctx = Context {
        local_user: "u".into(),
        home: PathBuf::from("/h"),
        user_home: PathBuf::from("/h"),
        uid: 1,
        check_include_permissions: false,
        system_config: None,
    };
    assert_eq!(
        fix_command(Path::new("/h/.ssh/config"), &ctx),
        "runpod-ssh fix"
    );
    assert_eq!(
        fix_command(Path::new("/tmp/my config"), &ctx),
        "runpod-ssh fix --config '/tmp/my config'"
    );
}

/// `repairs_of` runs only the rules that may change the config's text: on
/// every `fix` fixture (and one with every kind of line a rule acts on),
/// they leave the same text as running every rule does.
#[test]
fn doctor_text_rules_change_what_run_all_changes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fix");
    let mut seen = 0;
    for e in std::fs::read_dir(&root).unwrap() {
        let dir = e.unwrap().path();
        let Ok(bytes) = std::fs::read(dir.join("broken.conf")) else {
            continue;
        };
        let home = dir.join("home");
        let cx_ctx = ctx(&home);
        let path = home.join(".ssh/config");
        let mut all = crate::doctor::Cx::new(Document::parse(&bytes), &path, &cx_ctx);
        crate::doctor::run_all(&mut all);
        let mut some = crate::doctor::Cx::new(Document::parse(&bytes), &path, &cx_ctx);
        for r in text_rules() {
            r.run(&mut some);
        }
        assert_eq!(
            String::from_utf8_lossy(&all.doc.to_bytes()),
            String::from_utf8_lossy(&some.doc.to_bytes()),
            "{}",
            dir.display()
        );
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} fixtures");
    // Every id named as report-only is a rule (a renamed rule would
    // silently run again, which is safe, but the list should say so).
    for id in REPORT_ONLY_RULES {
        assert!(
            crate::doctor::RULES.iter().any(|r| r.id() == *id),
            "{id} is no rule"
        );
    }
}

/// The shortcut of `old_client_line`: whenever `splits_alike` says 7.7
/// splits a line as the lexer does, splitting both agrees, on lines drawn
/// from every byte the two read differently.
#[test]
fn splits_alike_only_when_7_7_and_the_lexer_split_the_same() {
    use crate::config::lexer::{lex_line, strdelim_args};
    let parts: &[&str] = &[
        "a", "b1", " ", "\t", "=", "\"", "'", "\\", "#", "x#y", " # c", "é", "\u{a0}", "\r",
        ":8888", "%h", ",", "  ",
    ];
    let keywords = [
        "User",
        "LocalForward",
        "SendEnv",
        "Host",
        "Port",
        "SetEnv",
        "Bogus",
    ];
    let (mut state, mut alike) = (7u64, 0);
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n
    };
    for _ in 0..20000 {
        let mut line = String::from(keywords[next(keywords.len())]);
        line.push_str(if next(4) == 0 { "=" } else { " " });
        for _ in 0..1 + next(6) {
            line.push_str(parts[next(parts.len())]);
        }
        let b = line.as_bytes();
        let crate::config::lexer::LineKind::Directive(d) = lex_line(b) else {
            continue;
        };
        if d.error.is_none() && splits_alike(b, &d) {
            alike += 1;
            let new: Vec<String> = d.values(b).map(str::to_string).collect();
            assert_eq!(strdelim_args(b, &d), Some(new), "{line:?}");
        }
    }
    assert!(alike > 2000, "{alike}");
}

/// The shortcut of `old_client_refuses`: whenever `comment_misread` says
/// 7.7 misreads a line for its comment, `old_client_line` (splitting the
/// line both ways) finds a problem too; and on every line the verdict
/// without words is the one with them. Lines drawn from every byte the
/// two read differently, with and without a comment.
#[test]
fn comment_misread_only_when_old_client_line_finds_a_problem() {
    use crate::config::document::Document;
    let parts: &[&str] = &[
        "a", "b1", " ", "\t", "=", "\"", "'", "\\", "#", "x#y", " # c", " #", " #=\"", "é",
        "\u{a0}", "\r", ":8888", "%h", ",", "  ", "\u{b}", "\u{c}",
    ];
    let keywords = [
        "User",
        "LocalForward",
        "SendEnv",
        "Host",
        "Match",
        "Port",
        "SetEnv",
        "ProxyCommand",
        "IdentityFile",
        "Bogus",
        "",
    ];
    let dir = tempfile::tempdir().unwrap();
    let cx = ctx(dir.path());
    let path = dir.path().join("config");
    let (mut state, mut fast) = (11u64, 0);
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n
    };
    for _ in 0..30000 {
        let mut line = String::from(if next(5) == 0 { "  " } else { "" });
        line.push_str(keywords[next(keywords.len())]);
        line.push_str(if next(4) == 0 { "=" } else { " " });
        for _ in 0..next(6) {
            line.push_str(parts[next(parts.len())]);
        }
        if next(2) == 0 {
            line.push_str(["  # jupyter", " #", "\t# a \"b", " # x=y 'z"][next(4)]);
        }
        let doc = Document::parse(line.as_bytes());
        for (i, l) in doc.lines().iter().enumerate() {
            let full = old_client_line(&path, i, l, &cx).is_some();
            if let Some(d) = l.directive()
                && old_client::comment_misread(l.bytes(), d)
            {
                fast += 1;
                assert!(full, "{line:?}");
            }
            assert_eq!(
                old_client::old_client_refuses(&path, i, l, &cx),
                full,
                "{line:?}"
            );
        }
    }
    assert!(fast > 3000, "{fast}");
}

/// A file with a comment after a value on many lines: the warning after a
/// write lists ten of them, then how many more and the command that lists
/// them all (with the same `--config`); ten or fewer are all listed.
#[test]
fn the_warning_after_a_write_lists_ten_lines_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let cx = ctx(dir.path());
    let path = dir.path().join("my config");
    for (blocks, shown, more) in [
        (14usize, 10usize, Some(4usize)),
        (11, 10, Some(1)),
        (10, 10, None),
        (3, 3, None),
    ] {
        let mut text = String::new();
        for n in 0..blocks {
            text.push_str(&format!("Host h{n}\n    Port 2{n} # port\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let doc = Document::parse(text.as_bytes());
        let w = strictest_after_write(&path, &doc, &cx, true).unwrap();
        let listed: Vec<&str> = w
            .lines()
            .filter(|l| l.contains(": garbage at end"))
            .collect();
        assert_eq!(listed.len(), shown, "{w}");
        assert!(
            listed[0].ends_with("my config:2: garbage at end of line; \"#\"."),
            "{w}"
        );
        let tail = w.lines().find(|l| l.contains(" more line"));
        match more {
            Some(m) => assert_eq!(
                tail,
                Some(
                    format!(
                        "  … and {m} more {} (`runpod-ssh fix --config '{}' --dry-run` lists them all)",
                        if m == 1 { "line" } else { "lines" },
                        path.display()
                    )
                    .as_str()
                ),
                "{w}"
            ),
            None => assert_eq!(tail, None, "{w}"),
        }
        assert!(w.ends_with("repairs the lines"), "{w}");
    }
}
