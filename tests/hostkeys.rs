//! Host keys, device files, hostile pod output and odd banners, against a
//! real OpenSSH sshd (or a tiny TCP server) on 127.0.0.1: runpod-ssh must
//! never trust a host, run a command, touch a file or print a byte that
//! `ssh` itself would not.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::sshd::{Sshd, keygen, keygen_typed, set_mode};
use common::{TempHome, require_tool, stderr, stdout};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A temp HOME with a key pair that `sshd` accepts.
fn client_of(sshd: &Sshd) -> (TempHome, PathBuf) {
    let home = TempHome::new();
    let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
    sshd.authorize(&public);
    (home, key)
}

fn kh(home: &TempHome) -> PathBuf {
    home.ssh_dir().join("known_hosts_runpod")
}

/// A RunPod-style entry for `sshd` under `alias`, with `extra` options.
fn entry(home: &TempHome, sshd: &Sshd, alias: &str, key: &Path, extra: &[&str]) -> String {
    let mut opts = vec![
        "IdentitiesOnly yes".to_string(),
        format!("HostKeyAlias {alias}"),
        format!("UserKnownHostsFile {}", kh(home).display()),
    ];
    opts.extend(extra.iter().map(|s| s.to_string()));
    if !extra.iter().any(|e| e.starts_with("StrictHostKeyChecking")) {
        opts.push("StrictHostKeyChecking accept-new".into());
    }
    let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
    sshd.host_block(alias, key, &refs)
}

fn write_config(home: &TempHome, text: &str) -> PathBuf {
    let p = home.ssh_dir().join("config");
    std::fs::write(&p, text).unwrap();
    p
}

fn check_json(home: &TempHome, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut a = vec!["check", "--json"];
    a.extend_from_slice(args);
    let o = home.run(&a);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {} / {}", stdout(&o), stderr(&o)));
    (o.status.code(), v, stderr(&o))
}

/// `key_type base64` of a fresh key of `kind`.
fn fresh_key(dir: &Path, name: &str, kind: &str) -> String {
    let (_, public) = keygen_typed(dir, name, kind, "");
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Wait a moment for sshd's log, then say whether it saw authentication.
fn saw_userauth(sshd: &Sshd) -> (bool, String) {
    std::thread::sleep(Duration::from_millis(300));
    let log = sshd.log_text();
    (
        log.contains("userauth-request") || log.contains("Accepted publickey"),
        log,
    )
}

#[test]
fn rsa_only_impostor_for_an_alias_pinned_with_ed25519_is_a_change_no_auth_no_record() {
    let Some(sshd) = Sshd::start_with_key("rsa", &[]) else {
        return;
    };
    let (home, key) = client_of(&sshd);
    let pin = format!("pod {}\n", fresh_key(home.path(), "pinned", "ed25519"));
    std::fs::write(kh(&home), &pin).unwrap();
    let config = write_config(&home, &entry(&home, &sshd, "pod", &key, &[]));
    let (code, v, err) = check_json(&home, &["pod", "--quick"]);
    assert_eq!(code, Some(1), "{v:#} {err}");
    let r = &v[0];
    assert_eq!(r["stage"], "hostkey", "{r:#}");
    assert_eq!(r["host_key"]["verdict"]["verdict"], "changed", "{r:#}");
    assert_eq!(r["host_key"]["verdict"]["recorded_type"], "ssh-ed25519");
    assert!(
        r["error"].as_str().unwrap().contains("HOST KEY CHANGED"),
        "{r:#}"
    );
    assert_eq!(r["offers"].as_array().unwrap().len(), 0, "{r:#}");
    assert_eq!(std::fs::read_to_string(kh(&home)).unwrap(), pin);
    let (authed, log) = saw_userauth(&sshd);
    assert!(log.contains("Connection from 127.0.0.1"), "{log}");
    assert!(!authed, "authentication was attempted:\n{log}");

    // The oracle: OpenSSH itself calls this a changed key and refuses.
    if let Some(ssh) = require_tool("ssh") {
        let o = home
            .cmd(ssh)
            .args(["-F"])
            .arg(&config)
            .args(["-o", "BatchMode=yes", "pod", "true"])
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(0));
        assert!(
            stderr(&o).contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
            "{}",
            stderr(&o)
        );
        assert_eq!(std::fs::read_to_string(kh(&home)).unwrap(), pin);
    }
}

#[test]
fn revoked_key_of_another_type_is_refused_even_with_strict_no() {
    let Some(sshd) = Sshd::start_with_key("rsa", &[]) else {
        return;
    };
    let (home, key) = client_of(&sshd);
    let public = sshd.host_public();
    let host: Vec<&str> = public.split_whitespace().take(2).collect();
    let text = format!(
        "other {}\n@revoked * {}\n",
        fresh_key(home.path(), "other", "ed25519"),
        host.join(" ")
    );
    std::fs::write(kh(&home), &text).unwrap();
    write_config(
        &home,
        &entry(&home, &sshd, "pod", &key, &["StrictHostKeyChecking no"]),
    );
    let (code, v, _) = check_json(&home, &["pod", "--quick"]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v[0]["stage"], "hostkey", "{v:#}");
    assert_eq!(v[0]["host_key"]["verdict"]["verdict"], "revoked", "{v:#}");
    assert!(v[0]["error"].as_str().unwrap().contains("@revoked"));
    assert_eq!(std::fs::read_to_string(kh(&home)).unwrap(), text);
    let (authed, log) = saw_userauth(&sshd);
    assert!(!authed, "{log}");
}

#[test]
fn key_listed_in_revoked_host_keys_is_refused_and_an_unreadable_list_refuses_all() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    let revoked = home.path().join("revoked_keys");
    std::fs::write(&revoked, format!("# revoked\n{}\n", sshd.host_public())).unwrap();
    let line = format!("RevokedHostKeys {}", revoked.display());
    write_config(
        &home,
        &entry(
            &home,
            &sshd,
            "pod",
            &key,
            &[&line, "StrictHostKeyChecking no"],
        ),
    );
    let (code, v, _) = check_json(&home, &["pod", "--quick"]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v[0]["stage"], "hostkey", "{v:#}");
    assert_eq!(v[0]["host_key"]["verdict"]["verdict"], "revoked", "{v:#}");
    assert!(!kh(&home).exists());
    // ssh refuses every key when it cannot check the list.
    std::fs::remove_file(&revoked).unwrap();
    let (code, v, _) = check_json(&home, &["pod", "--quick"]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v[0]["stage"], "hostkey", "{v:#}");
    assert!(
        v[0]["error"].as_str().unwrap().contains("RevokedHostKeys"),
        "{v:#}"
    );
    assert!(!kh(&home).exists());
    let (authed, log) = saw_userauth(&sshd);
    assert!(!authed, "{log}");
}

#[test]
fn pinned_rsa_key_is_negotiated_when_the_server_also_has_ed25519() {
    // OpenSSH offers the pinned key type first; so must the probe, or a
    // server with several host keys would look "changed".
    let keys = tempfile::tempdir().unwrap();
    let (rsa, rsa_public) = keygen_typed(keys.path(), "host_rsa", "rsa", "");
    let line = format!("HostKey {}", rsa.display());
    let Some(sshd) = Sshd::start(&[&line]) else {
        return;
    };
    let (home, key) = client_of(&sshd);
    let pin: Vec<&str> = rsa_public.split_whitespace().take(2).collect();
    let pin = format!("pod {}\n", pin.join(" "));
    std::fs::write(kh(&home), &pin).unwrap();
    write_config(&home, &entry(&home, &sshd, "pod", &key, &[]));
    let (code, v, err) = check_json(&home, &["pod", "--quick"]);
    assert_eq!(code, Some(0), "{v:#} {err}");
    assert_eq!(v[0]["host_key"]["verdict"]["verdict"], "known", "{v:#}");
    assert_eq!(v[0]["host_key"]["algorithm"], "ssh-rsa", "{v:#}");
    assert_eq!(std::fs::read_to_string(kh(&home)).unwrap(), pin);
}

#[cfg(target_os = "linux")]
#[test]
fn known_hosts_char_device_records_nothing_and_check_connects() {
    if !is_root() {
        eprintln!("SKIPPED: mknod needs root");
        return;
    }
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    // Like /dev/null (char 1,3), but our own node: never the real one.
    let node = home.path().join("null");
    let st = Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(st.success(), "mknod failed");
    set_mode(&node, 0o666);
    let block = sshd.host_block(
        "pod",
        &key,
        &[
            "IdentitiesOnly yes",
            &format!("UserKnownHostsFile {}", node.display()),
            "StrictHostKeyChecking no",
        ],
    );
    write_config(&home, &block);
    let (code, v, err) = check_json(&home, &["pod", "--quick"]);
    assert_eq!(code, Some(0), "{v:#} {err}");
    assert_eq!(v[0]["host_key"]["recorded_in"], serde_json::Value::Null);
    assert!(
        v[0]["host_key"]["not_recorded"]
            .as_str()
            .unwrap()
            .contains("device"),
        "{v:#}"
    );
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::symlink_metadata(&node).unwrap();
    assert!(meta.file_type().is_char_device(), "{meta:?}");
    // Text output says so, too.
    let o = home.run(&["check", "pod", "--quick"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("not recorded"), "{}", stdout(&o));
    assert!(
        std::fs::symlink_metadata(&node)
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

/// A folder (readable by sshd's login user) holding an `nvidia-smi` script.
fn fake_nvidia_smi(script: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("runpod-ssh-bin-")
        .tempdir()
        .unwrap();
    set_mode(dir.path(), 0o755);
    let p = dir.path().join("nvidia-smi");
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    set_mode(&p, 0o755);
    dir
}

#[test]
fn gpu_name_with_clipboard_and_title_escapes_is_printed_escaped() {
    // ESC ] 52 writes the clipboard, ESC ] 0 sets the window title.
    let bin = fake_nvidia_smi(
        r"printf 'GPU 0: NVIDIA A100\033]52;c;cHduZWQ=\007\033]0;owned\007\233 (UUID: GPU-1)\n'",
    );
    let path = format!("SetEnv PATH={}:/usr/bin:/bin", bin.path().display());
    let Some(sshd) = Sshd::start(&[&path]) else {
        return;
    };
    let (home, key) = client_of(&sshd);
    write_config(&home, &entry(&home, &sshd, "pod", &key, &[]));
    let o = home.run(&["check", "pod"]);
    assert_eq!(o.status.code(), Some(0), "{} {}", stdout(&o), stderr(&o));
    for stream in [&o.stdout, &o.stderr] {
        assert!(
            !stream
                .iter()
                .any(|&b| b == 0x1b || b == 0x07 || (b < 0x20 && b != b'\n')),
            "a raw control byte reached the terminal: {:?}",
            String::from_utf8_lossy(stream)
        );
        assert!(!String::from_utf8_lossy(stream).contains('\u{9b}'));
    }
    let text = stdout(&o);
    assert!(
        text.contains(r"NVIDIA A100\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}]0;owned"),
        "{text}"
    );
    // JSON keeps the data (serde escapes it).
    let (code, v, _) = check_json(&home, &["pod"]);
    assert_eq!(code, Some(0));
    assert!(
        v[0]["facts"]["gpus"][0]
            .as_str()
            .unwrap()
            .contains("\u{1b}]52;c;cHduZWQ=\u{7}"),
        "{v:#}"
    );
}

#[test]
fn endless_command_output_is_read_only_up_to_64_kib() {
    // One line without end: `head -n 16` in the facts command passes it on.
    let bin = fake_nvidia_smi("printf 'GPU 0: '; exec tr '\\000' A < /dev/zero");
    let path = format!("SetEnv PATH={}:/usr/bin:/bin", bin.path().display());
    let Some(sshd) = Sshd::start(&[&path]) else {
        return;
    };
    let (home, key) = client_of(&sshd);
    write_config(&home, &entry(&home, &sshd, "pod", &key, &[]));
    let t = Instant::now();
    let (code, v, err) = check_json(&home, &["pod", "--timeout", "20"]);
    assert_eq!(code, Some(0), "{v:#} {err}");
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t.elapsed()
    );
    let gpu = v[0]["facts"]["gpus"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no facts: the output was not cut: {v:#}"));
    assert!(gpu.starts_with("GPU 0: AAAA"), "{}", &gpu[..20]);
    assert!(
        gpu.len() <= 64 * 1024 && gpu.len() > 60 * 1024,
        "{} bytes kept",
        gpu.len()
    );
}

/// A one-connection TCP server on 127.0.0.1 that sends `chunks` (with a
/// pause before each), then holds the connection `hold` and closes it.
fn scripted_server(chunks: Vec<Vec<u8>>, hold: Duration) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).ok();
        for c in chunks {
            std::thread::sleep(Duration::from_millis(50));
            let _ = s.write_all(&c);
        }
        let end = Instant::now() + hold;
        let mut buf = [0u8; 1024];
        while Instant::now() < end {
            if let Ok(0) = s.read(&mut buf) {
                break;
            }
        }
    });
    (port, h)
}

fn plain_entry(home: &TempHome, alias: &str, port: u16) {
    write_config(
        home,
        &format!("Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"),
    );
}

#[test]
fn lines_before_the_ssh_banner_are_not_called_not_an_ssh_server() {
    let (port, server) = scripted_server(
        vec![
            b"Welcome to the pod\r\n".to_vec(),
            b"please wait\r\n".to_vec(),
            b"SSH-2.0-x\r\n".to_vec(),
        ],
        Duration::from_millis(300),
    );
    let home = TempHome::new();
    plain_entry(&home, "runpod-pre", port);
    let (code, v, _) = check_json(&home, &["--timeout", "5"]);
    assert_eq!(code, Some(1));
    let r = &v[0];
    assert_ne!(r["stage"], "banner", "{r:#}");
    assert!(r["timings"]["banner"].is_number(), "{r:#}");
    assert!(
        !r["error"].as_str().unwrap().contains("not an SSH server"),
        "{r:#}"
    );
    server.join().unwrap();
}

#[test]
fn half_a_banner_then_silence_is_not_called_sent_nothing() {
    let (port, server) = scripted_server(vec![b"SSH-2.0-Open".to_vec()], Duration::from_secs(4));
    let home = TempHome::new();
    plain_entry(&home, "runpod-slow", port);
    let t = Instant::now();
    let (code, v, _) = check_json(&home, &["--timeout", "2"]);
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(code, Some(1));
    let r = &v[0];
    assert_eq!(r["stage"], "banner", "{r:#}");
    let e = r["error"].as_str().unwrap();
    assert!(!e.contains("sent nothing"), "{e}");
    assert!(
        e.contains("did not finish") && e.contains("SSH-2.0-Open"),
        "{e}"
    );
    server.join().unwrap();
}

#[test]
fn fix_probe_dry_run_records_no_host_key() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    write_config(&home, &entry(&home, &sshd, "runpod-pod", &key, &[]));
    let o = home.run(&["fix", "--probe", "--dry-run"]);
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{} {}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        !kh(&home).exists(),
        "dry run wrote {}",
        std::fs::read_to_string(kh(&home)).unwrap_or_default()
    );
    // Without --dry-run the same probe records it (the test can fail).
    let o = home.run(&["fix", "--probe"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        std::fs::read_to_string(kh(&home))
            .unwrap()
            .starts_with("runpod-pod ssh-ed25519 ")
    );
}

#[test]
fn check_never_runs_known_hosts_command_or_local_command() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    let marks = tempfile::tempdir().unwrap();
    let khc = marks.path().join("known-hosts-command-ran");
    let lc = marks.path().join("local-command-ran");
    let block = entry(
        &home,
        &sshd,
        "pod",
        &key,
        &[
            &format!("KnownHostsCommand /usr/bin/touch {}", khc.display()),
            "PermitLocalCommand yes",
            &format!("LocalCommand /usr/bin/touch {}", lc.display()),
            "PKCS11Provider /nonexistent/runpod-ssh-test-pkcs11.so",
            "SecurityKeyProvider /nonexistent/runpod-ssh-test-sk.so",
        ],
    );
    let config = write_config(&home, &block);
    // A key only the command could vouch for is not trusted, even with
    // accept-new: ssh would ask the command, which runpod-ssh never runs.
    let (code, v, _) = check_json(&home, &["pod", "--quick"]);
    assert!(!khc.exists(), "check ran KnownHostsCommand");
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v[0]["stage"], "hostkey", "{v:#}");
    assert!(
        v[0]["error"]
            .as_str()
            .unwrap()
            .contains("KnownHostsCommand"),
        "{v:#}"
    );
    assert!(!kh(&home).exists());
    // Known from the file: the probe logs in, and still runs nothing.
    let public = sshd.host_public();
    let host: Vec<&str> = public.split_whitespace().take(2).collect();
    std::fs::write(kh(&home), format!("pod {}\n", host.join(" "))).unwrap();
    let (code, v, err) = check_json(&home, &["pod", "--quick"]);
    assert!(!khc.exists(), "check ran KnownHostsCommand");
    assert!(!lc.exists(), "check ran LocalCommand");
    assert_eq!(code, Some(0), "{v:#} {err}");
    // Control: ssh itself runs both, so the markers do work.
    if let Some(ssh) = require_tool("ssh") {
        let _ = home
            .cmd(ssh)
            .arg("-F")
            .arg(&config)
            .args(["-o", "BatchMode=yes", "-o", "PKCS11Provider=none"])
            .args(["-o", "SecurityKeyProvider=internal", "pod", "true"])
            .output()
            .unwrap();
        assert!(khc.exists(), "control: ssh did not run KnownHostsCommand");
        assert!(lc.exists(), "control: ssh did not run LocalCommand");
    }
}

#[test]
fn user_known_hosts_none_refuses_a_new_key_even_with_strict_no() {
    // Observed with OpenSSH 9.2: "Host key verification failed." (no file
    // to record into makes check_host_key read-only, and a new key fails).
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    let block = sshd.host_block(
        "pod",
        &key,
        &[
            "IdentitiesOnly yes",
            "UserKnownHostsFile none",
            "GlobalKnownHostsFile none",
            "StrictHostKeyChecking no",
        ],
    );
    write_config(&home, &block);
    let (code, v, _) = check_json(&home, &["pod", "--quick"]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v[0]["stage"], "hostkey", "{v:#}");
    let (authed, log) = saw_userauth(&sshd);
    assert!(!authed, "{log}");
}
