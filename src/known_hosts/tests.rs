//! Unit tests of [`super`]: the host-key verdicts and decisions, name lookups, and recording keys (locked, never two keys for a name, never into a device).

use super::*;

fn hash(name: &str, salt: &[u8]) -> String {
    let mut m = Hmac::<Sha1>::new_from_slice(salt).unwrap();
    m.update(name.as_bytes());
    format!(
        "|1|{}|{}",
        B64.encode(salt),
        B64.encode(m.finalize().into_bytes())
    )
}

const ED1: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMKJmzwNgmaKc5AZ6g0h9lqs4j2Xpv0cC0gYRKh3ZnY8";
const ED2: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL3zTIp5Wo1U3ddW4WfXGkGdpWFqTLyjMzX4q9Gdj0bB";

fn entries(text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| parse_line(Path::new("kh"), i + 1, l))
        .collect()
}

#[test]
fn verdicts() {
    let k1 = PublicKey::from_openssh(ED1).unwrap();
    let k2 = PublicKey::from_openssh(ED2).unwrap();
    let h = hash("[1.2.3.4]:2222", b"salt-salt-salt-salt!");
    let text = format!(
        "# c\n\n[1.2.3.4]:2222\t{ED1}\n{h}   {ED1}\nweb,*.example.com {ED2}\n!bad.example.com,*.example.com {ED1}\nbroken line here\n"
    );
    let e = entries(&text);
    assert_eq!(e.len(), 4);
    assert!(matches!(
        check(&e, "[1.2.3.4]:2222", &k1),
        Verdict::Known { line: 3, .. }
    ));
    assert!(matches!(
        check(&e, "[1.2.3.4]:2222", &k2),
        Verdict::Changed { line: 4, .. }
    ));
    assert!(matches!(check(&e, "1.2.3.4", &k1), Verdict::Unknown));
    assert!(matches!(
        check(&e, "a.example.com", &k2),
        Verdict::Known { line: 5, .. }
    ));
    assert!(matches!(
        check(&e, "a.example.com", &k1),
        Verdict::Known { line: 6, .. }
    ));
    // A negated pattern excludes the line.
    assert!(matches!(
        check(&e, "bad.example.com", &k2),
        Verdict::Known { line: 5, .. }
    ));
    let revoked = entries(&format!("@revoked * {ED1}\nweb {ED1}\n"));
    assert!(matches!(
        check(&revoked, "web", &k1),
        Verdict::Revoked { line: 1, .. }
    ));
}

const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDHcFIqVcWVZL6S1QVm0x1ysvR1LcaPJtrUNnbSl0/2BytQKy+9SdHRZC0qrFeG/QD15cJnxkHJ95mPWtzzfcvQtcsJyXTEYUgs8QvJ4t65YZcHHmGSqAFLKJzIDcgCXnd4oa0lyD3E+MqMHsVFsQTHMtqLUTP1AMy8FHcD3yMfjQ==";

#[test]
fn a_key_of_another_type_is_a_change_not_new() {
    // OpenSSH hostfile.c check_hostkeys_by_key_or_type: any plain
    // entry for the name that does not match is HOST_CHANGED.
    let ed = PublicKey::from_openssh(ED1).unwrap();
    let rsa = PublicKey::from_openssh(RSA).unwrap();
    let e = entries(&format!("pod {ED1}\n"));
    match check(&e, "pod", &rsa) {
        Verdict::Changed {
            line: 1,
            recorded_type,
            ..
        } => assert_eq!(recorded_type, "ssh-ed25519"),
        v => panic!("{v:?}"),
    }
    assert!(matches!(check(&e, "pod", &ed), Verdict::Known { .. }));
    for s in [Strict::AcceptNew, Strict::No, Strict::Yes, Strict::Ask] {
        let v = check(&e, "pod", &rsa);
        assert_eq!(
            decide(&v, "x", s, false, &Evidence::default()),
            Decision::Refuse
        );
    }
    // @cert-authority lines vouch only for certificates: not a pin.
    let ca = entries(&format!("@cert-authority pod {ED1}\n"));
    assert!(matches!(check(&ca, "pod", &rsa), Verdict::Unknown));
}

#[test]
fn revoked_of_any_type_wins_over_everything() {
    let ed = PublicKey::from_openssh(ED1).unwrap();
    let rsa = PublicKey::from_openssh(RSA).unwrap();
    // Pinned ed25519, the RSA key revoked: revoked, not just changed.
    let e = entries(&format!("pod {ED1}\n@revoked * {RSA}\n"));
    assert!(matches!(
        check(&e, "pod", &rsa),
        Verdict::Revoked { line: 2, .. }
    ));
    // Even a key also listed as known.
    let e = entries(&format!("pod {RSA}\n@revoked other {RSA}\n"));
    assert!(matches!(check(&e, "pod", &rsa), Verdict::Revoked { .. }));
    assert!(matches!(check(&e, "pod", &ed), Verdict::Changed { .. }));
    let v = check(&e, "pod", &rsa);
    assert_eq!(
        decide(&v, "x", Strict::No, false, &Evidence::default()),
        Decision::Refuse
    );
}

#[test]
fn decide_follows_strict_host_key_checking_for_new_keys_only() {
    let ev = Evidence::default();
    let u = Verdict::Unknown;
    assert_eq!(
        decide(&u, "f", Strict::AcceptNew, false, &ev),
        Decision::AcceptAndRecord
    );
    assert_eq!(
        decide(&u, "f", Strict::No, false, &ev),
        Decision::AcceptAndRecord
    );
    assert_eq!(decide(&u, "f", Strict::Yes, false, &ev), Decision::Refuse);
    assert_eq!(decide(&u, "f", Strict::Ask, false, &ev), Decision::Refuse);
    // ssh fails a new key it could not record (UserKnownHostsFile none).
    assert_eq!(decide(&u, "f", Strict::No, true, &ev), Decision::Refuse);
    let k = Verdict::Known {
        file: "kh".into(),
        line: 1,
    };
    assert_eq!(decide(&k, "f", Strict::Yes, true, &ev), Decision::Accept);
    // The pod-log seam: a key the pod did not report is refused.
    let ev = Evidence {
        expected_sha256: vec!["SHA256:other".into()],
    };
    assert_eq!(
        decide(&k, "SHA256:mine", Strict::No, false, &ev),
        Decision::Refuse
    );
}

#[test]
fn lookup_retries_without_port_and_checks_the_address() {
    let ed = PublicKey::from_openssh(ED1).unwrap();
    let rsa = PublicKey::from_openssh(RSA).unwrap();
    let e = entries(&format!("host.example {ED1}\n198.51.100.7 {RSA}\n"));
    let l = Lookup {
        name: "[host.example]:2222".into(),
        portless: Some("host.example".into()),
        ip: None,
        readonly: false,
        known_hosts_command: false,
        unverifiable: None,
    };
    // Found under the bare name: known (ssh's "found matching key w/out port").
    assert!(matches!(
        check_lookup(&e, &l, &ed),
        Verdict::Known { line: 1, .. }
    ));
    // A different key under the bare name only: still new for [host]:port.
    assert!(matches!(check_lookup(&e, &l, &rsa), Verdict::Unknown));
    let l = Lookup {
        name: "host.example".into(),
        portless: None,
        ip: Some("198.51.100.7".into()),
        readonly: false,
        known_hosts_command: false,
        unverifiable: None,
    };
    assert!(matches!(
        check_lookup(&e, &l, &ed),
        Verdict::IpChanged { line: 2, .. }
    ));
}

#[test]
fn record_writes_nothing_to_a_device_or_a_non_regular_file() {
    let k1 = PublicKey::from_openssh(ED1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a_dir");
    std::fs::create_dir(&sub).unwrap();
    assert!(matches!(
        record(&sub, &["x"], &k1, false),
        Err(RecordError::NotRegular(_))
    ));
    assert!(sub.is_dir());
}

#[test]
fn a_known_hosts_file_that_cannot_be_read_is_an_error_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where a file should be: reading it fails.
    let p = dir.path().join("known_hosts");
    std::fs::create_dir(&p).unwrap();
    assert!(load(std::slice::from_ref(&p)).is_err());
    // A missing file is simply empty.
    let missing = dir.path().join("absent");
    assert!(load(std::slice::from_ref(&missing)).unwrap().is_empty());
}

#[test]
fn record_appends_and_matches() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("known_hosts");
    let k1 = PublicKey::from_openssh(ED1).unwrap();
    record(&p, &["runpod-a"], &k1, false).unwrap();
    record(&p, &["runpod-b"], &k1, true).unwrap();
    let e = load(std::slice::from_ref(&p)).unwrap();
    assert!(matches!(
        check(&e, "runpod-a", &k1),
        Verdict::Known { line: 1, .. }
    ));
    assert!(matches!(
        check(&e, "runpod-b", &k1),
        Verdict::Known { line: 2, .. }
    ));
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("runpod-a ssh-ed25519 "));
    assert!(text.lines().nth(1).unwrap().starts_with("|1|"));
}

#[test]
fn record_creates_no_folder_but_the_users_ssh_dir() {
    // ssh (hostfile_create_user_ssh_dir) creates only ~/.ssh; any
    // other missing folder means "Failed to add the host".
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a/b/known_hosts");
    let k1 = PublicKey::from_openssh(ED1).unwrap();
    assert!(matches!(
        record(&p, &["x"], &k1, false),
        Err(RecordError::NoFolder(_))
    ));
    assert!(!dir.path().join("a").exists(), "no folder may be created");
}

#[test]
fn record_rechecks_under_the_lock_and_never_pins_two_keys_for_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("known_hosts");
    let k1 = PublicKey::from_openssh(ED1).unwrap();
    let k2 = PublicKey::from_openssh(ED2).unwrap();
    let rsa = PublicKey::from_openssh(RSA).unwrap();
    assert_eq!(
        record(&p, &["[h]:1"], &k1, false).unwrap(),
        Recorded::Written
    );
    // The same key again (a second alias on the same endpoint): not twice.
    assert_eq!(
        record(&p, &["[h]:1"], &k1, true).unwrap(),
        Recorded::Present
    );
    // Another key, of the same type or another, for that name: a change.
    for other in [&k2, &rsa] {
        match record(&p, &["[h]:1"], other, false).unwrap() {
            Recorded::Changed(Verdict::Changed { line: 1, .. }) => {}
            r => panic!("{r:?}"),
        }
    }
    // Any of several names already pinned to another key: nothing written.
    assert!(matches!(
        record(&p, &["new-alias", "[h]:1"], &k2, false).unwrap(),
        Recorded::Changed(_)
    ));
    assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 1);
}

#[test]
fn a_nul_ends_a_known_hosts_line_as_in_ssh() {
    // ssh reads lines as C strings: `pod KEY\0junk` is still a pin,
    // and a NUL inside the host field hides nothing after it.
    let k1 = PublicKey::from_openssh(ED1).unwrap();
    let k2 = PublicKey::from_openssh(ED2).unwrap();
    let e = parse_all(
        Path::new("kh"),
        format!("pod {ED1}\0 trailing junk\n").as_bytes(),
    );
    assert!(matches!(check(&e, "pod", &k1), Verdict::Known { .. }));
    assert!(matches!(check(&e, "pod", &k2), Verdict::Changed { .. }));
    // Without the NUL cut, the junk made the line unparseable: no pin.
    let e = parse_all(Path::new("kh"), format!("\0x\npod {ED1}\n").as_bytes());
    assert!(matches!(
        check(&e, "pod", &k2),
        Verdict::Changed { line: 2, .. }
    ));
}

#[test]
fn names() {
    assert_eq!(host_key_name("1.2.3.4", 22), "1.2.3.4");
    assert_eq!(host_key_name("1.2.3.4", 40123), "[1.2.3.4]:40123");
}

#[test]
fn removes_plain_and_hashed_only_for_that_name() {
    let h = hash("runpod-a", b"0123456789abcdefghij");
    let other = hash("runpod-b", b"0123456789abcdefghij");
    let content = format!(
        "# keep\r\nrunpod-a ssh-ed25519 AAAA1\r\n{h} ssh-ed25519 AAAA2\n{other} ssh-ed25519 AAAA3\nx,RUNPOD-A ssh-rsa AAAA4\n@revoked runpod-a ssh-ed25519 AAAA5\nrunpod-ab ssh-ed25519 AAAA6"
    );
    let (out, n) = remove_host(content.as_bytes(), "runpod-a");
    assert_eq!(n, 3);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "# keep\r\n{other} ssh-ed25519 AAAA3\n@revoked runpod-a ssh-ed25519 AAAA5\nrunpod-ab ssh-ed25519 AAAA6"
        )
    );
}

#[test]
fn rename_host_moves_the_pin_and_keeps_other_lines_and_names() {
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID5cohgFWPpFUIOQHxeFtVjzJ4MID1guXODdwNV3iAB7";
    let text = format!(
        "# c\r\nold,other {key} note\r\n@revoked old {key}\nolder {key}\n\u{ff}old {key}\n"
    );
    let (out, n) = rename_host(text.as_bytes(), "old", "new");
    assert_eq!(n, 1);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        text.replace("old,other", "new,other")
    );
    let (out, n) = rename_host(format!("old {key}\n").as_bytes(), "OLD", "new");
    assert_eq!(
        (String::from_utf8(out).unwrap(), n),
        (format!("new {key}\n"), 1)
    );
}
