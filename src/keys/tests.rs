//! Unit tests of [`super`]: byte-preserving `authorized_keys` edits (options, one line per key, answers after a login script's output), POSIX `cksum`, and telling key look-alikes apart.

use super::*;

fn key(seed: u8) -> PrivateKey {
    let kp = ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]);
    PrivateKey::new(ssh_key::private::KeypairData::from(kp), format!("k{seed}")).unwrap()
}

#[test]
fn add_key_keeps_every_other_byte_crlf_options_and_no_final_newline() {
    let other = key(1).public_key().to_openssh().unwrap();
    let old = key(2).public_key().to_openssh().unwrap();
    let new = key(3);
    let content = format!("# mine\r\nfrom=\"10.0.0.1\",command=\"echo hi there\" {other}\r\n{old}");
    let line = new.public_key().to_openssh().unwrap();
    let out = add_key(content.as_bytes(), new.public_key(), &line).unwrap();
    let expect = format!("{content}\r\n{line}\r\n");
    assert_eq!(String::from_utf8(out.clone()).unwrap(), expect);
    // Idempotent, whatever the comment says.
    let mut renamed = new.clone();
    renamed.set_comment("another comment");
    assert!(add_key(&out, renamed.public_key(), &line).is_none());
    // The option-prefixed line is recognised by its key material.
    assert!(has_key(content.as_bytes(), key(1).public_key()));
}

#[test]
fn remove_key_matches_key_material_not_comment() {
    let a = key(1);
    let b = key(2);
    let a_line = a.public_key().to_openssh().unwrap();
    let b_other_comment = format!(
        "{} {}",
        b.public_key()
            .to_openssh()
            .unwrap()
            .rsplit_once(' ')
            .unwrap()
            .0,
        "k1"
    );
    let content = format!("{a_line}\nno-pty {b_other_comment}\n{a_line}");
    let (out, n) = remove_key(content.as_bytes(), a.public_key());
    assert_eq!(n, 2);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("no-pty {b_other_comment}\n")
    );
}

#[test]
fn options_with_escaped_quotes_end_where_sshd_ends_them() {
    let k = key(4);
    let line = k.public_key().to_openssh().unwrap();
    // sshd skips `\"` inside a quoted option value.
    let content = format!("command=\"echo \\\"a b\\\" c\",no-pty {line}\n");
    assert!(has_key(content.as_bytes(), k.public_key()), "{content}");
    let (out, n) = remove_key(content.as_bytes(), k.public_key());
    assert_eq!((out.as_slice(), n), (&b""[..], 1));
}

#[test]
fn authorized_line_is_one_line_whatever_the_comment_holds() {
    let mut k = key(5);
    let other = key(6).public_key().to_openssh().unwrap();
    k.set_comment(format!("me\r\n{other}\n"));
    let line = authorized_line(k.public_key()).unwrap();
    assert!(!line.contains(['\n', '\r']), "{line:?}");
    let content = add_key(b"", k.public_key(), &line).unwrap();
    assert!(has_key(&content, k.public_key()));
    assert!(!has_key(&content, key(6).public_key()), "{line}");
    k.set_comment("");
    assert_eq!(
        authorized_line(k.public_key()).unwrap(),
        k.public_key().to_openssh().unwrap()
    );
}

#[test]
fn read_answer_skips_what_a_login_script_printed_first() {
    let body = b"ssh-ed25519 AAAA x\n";
    let mut out = b"\x1b]0;title\x07Welcome!\npresent\n".to_vec();
    out.extend_from_slice(READ_PRESENT);
    out.extend_from_slice(body);
    assert_eq!(read_answer(&out), Some(Some(body.to_vec())));
    let mut out = b"motd\n".to_vec();
    out.extend_from_slice(READ_MISSING);
    assert_eq!(read_answer(&out), Some(None));
    assert_eq!(read_answer(b"present\nssh-ed25519 AAAA\n"), None);
    // A banner without a final newline (a title escape).
    let mut out = b"\x1b]0;pod\x07".to_vec();
    out.extend_from_slice(READ_PRESENT);
    out.extend_from_slice(body);
    assert_eq!(read_answer(&out), Some(Some(body.to_vec())));
    let mut out = b"rr".to_vec();
    out.extend_from_slice(READ_MISSING);
    assert_eq!(read_answer(&out), Some(None));
}

#[test]
fn cksum_matches_posix_cksum() {
    assert_eq!(cksum(b""), "4294967295 0");
    assert_eq!(cksum(b"hello\n"), "3015617425 6");
    #[cfg(unix)]
    if let Ok(o) = std::process::Command::new("sh")
        .args(["-c", "printf 'ssh-ed25519 AAAA x\\r\\nmore' | cksum"])
        .output()
    {
        let got = String::from_utf8_lossy(&o.stdout);
        let got = got.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(cksum(b"ssh-ed25519 AAAA x\r\nmore"), got);
    }
}

#[test]
fn classify_look_alikes() {
    assert!(matches!(
        classify(b"PuTTY-User-Key-File-3: ssh-ed25519\n"),
        Kind::Ppk
    ));
    assert!(matches!(
        classify(b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"),
        Kind::LegacyPem { encrypted: false }
    ));
    assert!(matches!(
        classify(b"SHA256:Xb4DOAkqAq3I7zIFX7JLfDLYHi9Lr2lNMMOJKDEBtSk\n"),
        Kind::Fingerprint
    ));
    let line = key(1).public_key().to_openssh().unwrap();
    let body = line.split(' ').nth(1).unwrap();
    match classify(body.as_bytes()) {
        Kind::BareBase64 { algorithm } => assert_eq!(algorithm, "ssh-ed25519"),
        k => panic!("{k:?}"),
    }
    assert!(matches!(classify(line.as_bytes()), Kind::Public(_)));
    assert!(matches!(classify(b"Host x\n"), Kind::Other));
}
