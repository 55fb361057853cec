//! `runpod-ssh check` against a real OpenSSH sshd on 127.0.0.1: every
//! scenario asserts the failing stage and the exit code.
#![cfg(unix)]

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::sshd::{Agent, Sshd, keygen};
use common::{TempHome, stderr};

/// A temp HOME whose config holds `blocks`.
fn home_with(blocks: &[String]) -> TempHome {
    let home = TempHome::new();
    std::fs::write(home.ssh_dir().join("config"), blocks.join("\n")).unwrap();
    home
}

/// The usual RunPod-style options for a test entry.
fn pinned(home: &TempHome, alias: &str) -> Vec<String> {
    vec![
        "IdentitiesOnly yes".into(),
        format!("HostKeyAlias {alias}"),
        format!(
            "UserKnownHostsFile {}",
            home.ssh_dir().join("known_hosts_runpod").display()
        ),
        "StrictHostKeyChecking accept-new".into(),
    ]
}

fn check(home: &TempHome, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut a = vec!["check", "--json", "--quick"];
    a.extend_from_slice(args);
    let o = home.run(&a);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {} / {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        )
    });
    (o.status.code(), v, stderr(&o))
}

/// A temp HOME with a key pair `~/.ssh/id_ed25519` that `sshd` accepts.
fn client_of(sshd: &Sshd) -> (TempHome, std::path::PathBuf) {
    let home = TempHome::new();
    let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
    sshd.authorize(&public);
    (home, key)
}

/// A known_hosts line pinning another (fresh) host key under `alias`: the
/// pod's previous life.
fn stale_pin(home: &TempHome, alias: &str) -> String {
    let (_, other) = keygen(home.path(), "old_host_key", "");
    let key: Vec<&str> = other.split_whitespace().take(2).collect();
    format!("{alias} {}\n", key.join(" "))
}

fn entry(home: &TempHome, sshd: &Sshd, alias: &str, key: &Path, extra: &[&str]) -> String {
    let mut opts: Vec<String> = pinned(home, alias);
    opts.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
    sshd.host_block(alias, key, &refs)
}

#[test]
fn ok_records_the_host_key_and_times_every_stage() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    std::fs::write(
        home.ssh_dir().join("config"),
        entry(&home, &sshd, "pod", &key, &[]),
    )
    .unwrap();
    let (code, v, err) = check(&home, &["pod"]);
    assert_eq!(code, Some(0), "{v:#} {err}");
    let r = &v[0];
    assert_eq!(r["ok"], true);
    assert_eq!(r["stage"], serde_json::Value::Null);
    assert_eq!(r["alias"], "pod");
    for s in [
        "resolve", "tcp", "banner", "kex", "hostkey", "auth", "exec", "forward",
    ] {
        assert!(r["timings"][s].is_number(), "no timing for {s}: {r:#}");
    }
    // accept-new recorded the key under the alias, and it is the server's.
    let kh = std::fs::read_to_string(home.ssh_dir().join("known_hosts_runpod")).unwrap();
    let host_b64 = sshd
        .host_public()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        kh.starts_with("pod ssh-ed25519 ") && kh.contains(&host_b64),
        "{kh}"
    );
    // Second run: the key is known now, nothing more is written.
    let (code, v, _) = check(&home, &["pod"]);
    assert_eq!(code, Some(0));
    assert_eq!(v[0]["host_key"]["verdict"]["verdict"], "known");
    assert_eq!(
        std::fs::read_to_string(home.ssh_dir().join("known_hosts_runpod")).unwrap(),
        kh
    );
    // Remote facts come with the full check.
    let o = home.run(&["check", "pod", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v[0]["facts"]["root_free"].as_u64().unwrap() > 0, "{v:#}");
}

#[test]
fn closed_port_fails_at_tcp() {
    let home = TempHome::new();
    let port = common::sshd::free_port();
    std::fs::write(
        home.ssh_dir().join("config"),
        format!("Host runpod-gone\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"),
    )
    .unwrap();
    let (code, v, _) = check(&home, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "tcp");
    assert!(v[0]["error"].as_str().unwrap().contains("refused"), "{v:#}");
    assert!(
        v[0]["hint"].as_str().unwrap().contains("runpod-ssh add"),
        "{v:#}"
    );
}

#[test]
fn silent_listener_is_bounded_by_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        // Accept and hold the connection open, saying nothing, for longer
        // than the bound below: finishing under it proves the timeout ended
        // the wait (the slack is process start-up on a loaded machine).
        let (s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(6));
        drop(s);
    });
    let home = TempHome::new();
    std::fs::write(
        home.ssh_dir().join("config"),
        format!("Host runpod-silent\n  HostName 127.0.0.1\n  Port {port}\n"),
    )
    .unwrap();
    let t = Instant::now();
    let (code, v, _) = check(&home, &["--timeout", "2"]);
    let took = t.elapsed();
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "banner", "{v:#}");
    assert!(
        v[0]["error"].as_str().unwrap().contains("sent nothing"),
        "{v:#}"
    );
    assert!(took < Duration::from_millis(4000), "took {took:?}");
    assert!(took >= Duration::from_millis(1900), "took {took:?}");
    held.join().unwrap();
}

#[test]
fn http_listener_fails_at_banner() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        std::thread::sleep(Duration::from_millis(500));
    });
    let home = TempHome::new();
    std::fs::write(
        home.ssh_dir().join("config"),
        format!("Host runpod-web\n  HostName 127.0.0.1\n  Port {port}\n"),
    )
    .unwrap();
    let (code, v, _) = check(&home, &["--timeout", "5"]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "banner");
    assert!(
        v[0]["error"].as_str().unwrap().contains("HTTP/1.1 400"),
        "{v:#}"
    );
    server.join().unwrap();
}

#[test]
fn wrong_key_fails_at_auth_naming_the_key() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let home = TempHome::new();
    let (_, authorized) = keygen(&home.ssh_dir(), "id_authorized", "");
    let (wrong, _) = keygen(&home.ssh_dir(), "id_wrong", "");
    sshd.authorize(&authorized);
    std::fs::write(
        home.ssh_dir().join("config"),
        entry(&home, &sshd, "pod", &wrong, &[]),
    )
    .unwrap();
    let (code, v, _) = check(&home, &["pod"]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "auth", "{v:#}");
    assert_eq!(v[0]["offers"][0]["result"], "rejected");
    assert!(
        v[0]["error"].as_str().unwrap().contains("id_wrong"),
        "{v:#}"
    );
    assert!(v[0]["hint"].as_str().unwrap().contains("RunPod"), "{v:#}");
}

#[test]
fn agent_key_logs_in_when_the_file_key_is_not_authorized() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let Some(agent) = Agent::start() else { return };
    let home = TempHome::new();
    let (authorized_key, authorized) = keygen(&home.ssh_dir(), "id_in_agent", "");
    let (wrong, _) = keygen(&home.ssh_dir(), "id_wrong", "");
    sshd.authorize(&authorized);
    agent.add(&authorized_key);
    std::fs::remove_file(&authorized_key).unwrap();
    let mut block = entry(&home, &sshd, "pod", &wrong, &[]);
    block = block.replace("IdentitiesOnly yes", "IdentitiesOnly no");
    std::fs::write(home.ssh_dir().join("config"), block).unwrap();
    let o = home
        .cmd(common::bin())
        .args(["check", "pod", "--json", "--quick"])
        .env("SSH_AUTH_SOCK", &agent.sock)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    let offers = v[0]["offers"].as_array().unwrap();
    assert_eq!(offers[0]["result"], "rejected");
    assert_eq!(offers.last().unwrap()["result"], "accepted");
    assert!(
        offers.last().unwrap()["key"]
            .as_str()
            .unwrap()
            .starts_with("agent:")
    );
}

/// The publickey requests sshd has read so far.
fn publickey_requests(sshd: &Sshd) -> usize {
    // The privsep child logs through the monitor: give it a moment.
    std::thread::sleep(Duration::from_millis(200));
    sshd.log_text()
        .lines()
        .filter(|l| l.contains("userauth-request for user") && l.contains("method publickey"))
        .count()
}

/// Built with the `russh-rtt-patch` feature (vendor/russh, patches/): a
/// key held in memory goes out signed in one USERAUTH_REQUEST; upstream
/// russh (the default build) asks first and signs after PK_OK.
const RTT_PATCH: bool = cfg!(feature = "russh-rtt-patch");

/// Publickey requests sshd reads for a key file it accepts: one signed
/// request with the patch; without, the query then the signed request.
fn requests_for_accepted_file_key() -> usize {
    if RTT_PATCH { 1 } else { 2 }
}

/// A key read from a file: with the patch one signed request, no query
/// first ("Postponed publickey" is sshd's answer to a query); upstream
/// russh: query, PK_OK, signature. A key in an agent is asked about first
/// in both builds (an agent may make the user confirm each signature).
#[test]
fn file_key_takes_one_signed_request_with_the_patch_and_a_query_first_without() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let Some(agent) = Agent::start() else { return };
    let home = TempHome::new();
    let (file_key, file_public) = keygen(&home.ssh_dir(), "id_file", "");
    let (agent_key, agent_public) = keygen(&home.ssh_dir(), "id_agent", "");
    sshd.authorize(&file_public);
    sshd.authorize(&agent_public);
    std::fs::write(
        home.ssh_dir().join("config"),
        entry(&home, &sshd, "pod", &file_key, &[]),
    )
    .unwrap();
    let (code, v, _) = check(&home, &["pod"]);
    assert_eq!(code, Some(0), "{v:#}");
    let file_requests = requests_for_accepted_file_key();
    assert_eq!(
        publickey_requests(&sshd),
        file_requests,
        "{}",
        sshd.log_text()
    );
    assert_eq!(
        sshd.log_text().contains("Postponed publickey"),
        !RTT_PATCH,
        "{}",
        sshd.log_text()
    );

    agent.add(&agent_key);
    std::fs::remove_file(&agent_key).unwrap();
    let block = entry(&home, &sshd, "pod", &agent_key, &[])
        .replace("IdentitiesOnly yes", "IdentitiesOnly no");
    std::fs::write(home.ssh_dir().join("config"), block).unwrap();
    let o = home
        .cmd(common::bin())
        .args(["check", "pod", "--json", "--quick"])
        .env("SSH_AUTH_SOCK", &agent.sock)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    assert!(
        v[0]["offers"].as_array().unwrap().last().unwrap()["key"]
            .as_str()
            .unwrap()
            .starts_with("agent:"),
        "{v:#}"
    );
    // Query, PK_OK, then the signed request, in both builds.
    assert_eq!(
        publickey_requests(&sshd),
        file_requests + 2,
        "{}",
        sshd.log_text()
    );
    assert!(sshd.log_text().contains("Postponed publickey"));
}

/// Every key type, a refused key then an accepted one on the same
/// connection: the refused key costs one request in both builds (its
/// signature, or its query); the accepted one one with the patch, two
/// without.
#[test]
fn refused_key_then_rsa_and_ecdsa_keys_take_the_requests_of_the_build() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let home = TempHome::new();
    let (wrong, _) = keygen(&home.ssh_dir(), "id_wrong", "");
    let per_connection = 1 + requests_for_accepted_file_key();
    for (n, kind) in ["rsa", "ecdsa"].into_iter().enumerate() {
        let (key, public) =
            common::sshd::keygen_typed(&home.ssh_dir(), &format!("id_{kind}"), kind, "");
        sshd.authorize(&public);
        let also = format!("IdentityFile {}", key.display());
        std::fs::write(
            home.ssh_dir().join("config"),
            entry(&home, &sshd, "pod", &wrong, &[also.as_str()]),
        )
        .unwrap();
        let (code, v, _) = check(&home, &["pod"]);
        assert_eq!(code, Some(0), "{kind}: {v:#}");
        let offers = v[0]["offers"].as_array().unwrap();
        assert_eq!(offers.len(), 2, "{kind}: {v:#}");
        assert_eq!(offers[0]["result"], "rejected", "{kind}: {v:#}");
        assert_eq!(offers[1]["result"], "accepted", "{kind}: {v:#}");
        assert_eq!(
            publickey_requests(&sshd),
            per_connection * (n + 1),
            "{}",
            sshd.log_text()
        );
    }
    assert_eq!(
        sshd.log_text().contains("Postponed publickey"),
        !RTT_PATCH,
        "{}",
        sshd.log_text()
    );
}

#[test]
fn encrypted_key_without_agent_or_terminal_fails_at_auth_clearly() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let home = TempHome::new();
    let (key, public) = keygen(&home.ssh_dir(), "id_locked", "correct horse");
    sshd.authorize(&public);
    std::fs::write(
        home.ssh_dir().join("config"),
        entry(&home, &sshd, "pod", &key, &[]),
    )
    .unwrap();
    let (code, v, _) = check(&home, &["pod"]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "auth", "{v:#}");
    assert_eq!(v[0]["offers"][0]["result"], "encrypted");
    assert!(v[0]["hint"].as_str().unwrap().contains("ssh-add"), "{v:#}");
    // With the key in an agent, the same entry logs in.
    let Some(agent) = Agent::start() else { return };
    let st = std::process::Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &agent.sock)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("SSH_ASKPASS", write_askpass(&home, "correct horse"))
        .env("DISPLAY", ":0")
        .stdin(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let o = home
        .cmd(common::bin())
        .args(["check", "pod", "--json", "--quick"])
        .env("SSH_AUTH_SOCK", &agent.sock)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    assert!(
        v[0]["offers"][0]["key"]
            .as_str()
            .unwrap()
            .contains("via agent"),
        "{v:#}"
    );
}

fn write_askpass(home: &TempHome, pass: &str) -> std::path::PathBuf {
    let p = home.path().join("askpass.sh");
    std::fs::write(&p, format!("#!/bin/sh\necho '{pass}'\n")).unwrap();
    common::sshd::set_mode(&p, 0o755);
    p
}

#[test]
fn unknown_key_with_strict_yes_fails_at_hostkey_and_records_nothing() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    let block = entry(&home, &sshd, "pod", &key, &[]).replace("accept-new", "yes");
    std::fs::write(home.ssh_dir().join("config"), block).unwrap();
    let (code, v, _) = check(&home, &["pod"]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "hostkey", "{v:#}");
    assert!(
        v[0]["error"].as_str().unwrap().contains("unknown host key"),
        "{v:#}"
    );
    assert!(!home.ssh_dir().join("known_hosts_runpod").exists());
}

#[test]
fn changed_host_key_stops_before_any_authentication() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    // A pin from the pod's previous life: another key under the alias.
    let kh = home.ssh_dir().join("known_hosts_runpod");
    let pin = stale_pin(&home, "pod");
    std::fs::write(&kh, &pin).unwrap();
    std::fs::write(
        home.ssh_dir().join("config"),
        entry(&home, &sshd, "pod", &key, &[]),
    )
    .unwrap();
    let (code, v, _) = check(&home, &["pod"]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "hostkey", "{v:#}");
    assert!(
        v[0]["error"].as_str().unwrap().contains("HOST KEY CHANGED"),
        "{v:#}"
    );
    assert!(
        v[0]["hint"].as_str().unwrap().contains("ssh-keygen -R pod"),
        "{v:#}"
    );
    assert_eq!(v[0]["offers"].as_array().unwrap().len(), 0);
    // The pin is untouched, and sshd never saw an authentication request.
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), pin);
    std::thread::sleep(Duration::from_millis(200));
    let log = sshd.log_text();
    assert!(
        log.contains("Connection from 127.0.0.1"),
        "the probe never reached sshd:\n{log}"
    );
    assert!(
        !log.contains("userauth-request"),
        "authentication was attempted:\n{log}"
    );
    assert!(!log.contains("Accepted publickey"), "{log}");
}

#[test]
fn forwarding_disabled_fails_at_forward() {
    let Some(sshd) = Sshd::start(&["AllowTcpForwarding no"]) else {
        return;
    };
    let (home, key) = client_of(&sshd);
    std::fs::write(
        home.ssh_dir().join("config"),
        entry(&home, &sshd, "pod", &key, &[]),
    )
    .unwrap();
    let (code, v, _) = check(&home, &["pod"]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "forward", "{v:#}");
    assert!(
        v[0]["hint"]
            .as_str()
            .unwrap()
            .contains("AllowTcpForwarding"),
        "{v:#}"
    );
}

#[test]
fn fifty_aliases_in_one_run() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    let blocks: Vec<String> = (0..50)
        .map(|i| entry(&home, &sshd, &format!("runpod-{i}"), &key, &[]))
        .collect();
    std::fs::write(home.ssh_dir().join("config"), blocks.join("\n")).unwrap();
    let (code, v, err) = check(&home, &[]);
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 50);
    let failed: Vec<&serde_json::Value> = list.iter().filter(|r| r["ok"] != true).collect();
    assert!(failed.is_empty(), "{failed:#?} {err}");
    assert_eq!(code, Some(0));
}

#[test]
fn unknown_alias_fails_at_resolve_and_bad_input_exits_2() {
    let home = home_with(&["Host web\n  HostName w.example\n".into()]);
    let (code, v, _) = check(&home, &["nosuchpod"]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "resolve");
    assert!(v[0]["hint"].as_str().unwrap().contains("runpod-ssh add"));
    let o = home.run(&["check", "two words"]);
    assert_eq!(o.status.code(), Some(2));
    let o = home.run(&["check", "web", "--timeout", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn fix_probe_offers_to_drop_a_changed_pin_and_does_with_yes() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    let kh = home.ssh_dir().join("known_hosts_runpod");
    let keep = "runpod-other ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMKJmzwNgmaKc5AZ6g0h9lqs4j2Xpv0cC0gYRKh3ZnY8\n";
    let pin = format!("{keep}{}", stale_pin(&home, "runpod-pod"));
    std::fs::write(&kh, &pin).unwrap();
    std::fs::write(
        home.ssh_dir().join("config"),
        entry(&home, &sshd, "runpod-pod", &key, &[]),
    )
    .unwrap();
    let o = home.run(&["fix", "--probe", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "probe-host-key-changed")
        .cloned();
    let f = f.unwrap_or_else(|| panic!("no host key finding: {v:#}"));
    assert_eq!(f["applied"], false);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), pin);
    let o = home.run(&["fix", "--probe", "--yes"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("probe-host-key-changed"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Only that pin went. The next `fix --probe` (which holds the lock
    // while probing) records the new key at once and finds nothing.
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), keep);
    let t = Instant::now();
    let o = home.run(&["fix", "--probe"]);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        std::fs::read_to_string(&kh)
            .unwrap()
            .contains("runpod-pod ssh-ed25519")
    );
    let (code, v, _) = check(&home, &["runpod-pod"]);
    assert_eq!(code, Some(0), "{v:#}");
}

/// An sshd whose MaxStartups is full: `MaxStartups 1:100:1` and one idle
/// TCP connection (no identification sent) held open by the test.
fn full_sshd() -> Option<(Sshd, std::net::TcpStream)> {
    let sshd = Sshd::start(&["MaxStartups 1:100:1", "LoginGraceTime 60"])?;
    // The harness's readiness connection may hold the one slot for a
    // moment: try until sshd answers with its banner (it then counts ours).
    let start = Instant::now();
    loop {
        let idle = std::net::TcpStream::connect(("127.0.0.1", sshd.port)).unwrap();
        let mut first = [0u8; 4];
        if std::io::Read::read_exact(&mut &idle, &mut first).is_ok() && &first == b"SSH-" {
            return Some((sshd, idle));
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "sshd never had a free slot"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn full_max_startups_is_reported_as_busy_after_three_tries() {
    let Some((sshd, idle)) = full_sshd() else {
        return;
    };
    let (home, key) = client_of(&sshd);
    std::fs::write(
        home.ssh_dir().join("config"),
        entry(&home, &sshd, "pod", &key, &[]),
    )
    .unwrap();
    let t = Instant::now();
    let (code, v, _) = check(&home, &["pod", "--timeout", "5"]);
    let took = t.elapsed();
    assert_eq!(code, Some(1), "{v:#}");
    let r = &v[0];
    assert_eq!(r["stage"], "banner", "{r:#}");
    let err = r["error"].as_str().unwrap();
    assert!(
        err.starts_with(
            "the server is refusing new connections for now (too many unauthenticated connections)"
        ) && err.contains("3 tries"),
        "{err}"
    );
    assert_ne!(r["error"], serde_json::Value::Null);
    assert!(!err.contains("not an SSH server"), "{err}");
    assert_eq!(r["attempts"], 3, "{r:#}");
    let hint = r["hint"].as_str().unwrap();
    assert!(
        hint.contains("MaxStartups") && hint.contains("/etc/ssh/sshd_config"),
        "{hint}"
    );
    // Two jittered pauses (200–600 ms, then 400–1200 ms), within the timeout.
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // Every try reached sshd and was dropped there.
    assert!(
        sshd.log_text().matches("drop connection").count() >= 3,
        "{}",
        sshd.log_text()
    );
    drop(idle);
}

#[test]
fn busy_server_is_tried_again_and_passes_once_a_slot_frees() {
    let Some((sshd, idle)) = full_sshd() else {
        return;
    };
    let (home, key) = client_of(&sshd);
    std::fs::write(
        home.ssh_dir().join("config"),
        entry(&home, &sshd, "pod", &key, &[]),
    )
    .unwrap();
    // The scanner goes away once sshd has dropped the probe's first try,
    // while the probe waits to try again.
    let log = sshd.log_path();
    let drops = move || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("drop connection")
            .count()
    };
    let before = drops();
    let freer = std::thread::spawn(move || {
        let start = Instant::now();
        while drops() == before && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(idle);
    });
    let (code, v, err) = check(&home, &["pod", "--timeout", "5"]);
    freer.join().unwrap();
    assert_eq!(code, Some(0), "{v:#} {err}");
    assert_eq!(v[0]["ok"], true);
    assert!(v[0]["attempts"].as_u64().unwrap() >= 2, "{v:#}");
}

/// A fake busy sshd on 127.0.0.1: each connection gets `answer(n)` (the
/// n-th, from 1): `Some((bytes, rst))` writes the bytes, then resets the
/// socket when `rst`, else closes it; `None` holds it open, silent, until
/// `hold` after the last connection. Returns how many connections came.
fn busy_listener(
    tries: usize,
    answer: impl Fn(usize) -> Option<(&'static [u8], bool)> + Send + 'static,
    hold: Duration,
) -> (u16, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let mut held = Vec::new();
        let mut n = 0;
        listener.set_nonblocking(true).unwrap();
        let start = Instant::now();
        while n < tries && start.elapsed() < Duration::from_secs(15) {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            n += 1;
            s.set_nonblocking(false).unwrap();
            match answer(n) {
                Some((bytes, rst)) => {
                    // sshd drops after the client's identification is in:
                    // unread bytes make the close a reset.
                    let mut buf = [0u8; 1];
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let _ = s.peek(&mut buf);
                    let _ = s.write_all(bytes);
                    if rst {
                        use std::os::fd::AsRawFd;
                        let l = libc::linger {
                            l_onoff: 1,
                            l_linger: 0,
                        };
                        // SAFETY: setsockopt on a socket we own, with a linger struct.
                        unsafe {
                            libc::setsockopt(
                                s.as_raw_fd(),
                                libc::SOL_SOCKET,
                                libc::SO_LINGER,
                                (&l as *const libc::linger).cast(),
                                std::mem::size_of::<libc::linger>() as libc::socklen_t,
                            );
                        }
                    }
                    drop(s);
                }
                None => held.push(s),
            }
        }
        std::thread::sleep(hold);
        n
    });
    (port, t)
}

fn busy_home(port: u16) -> TempHome {
    home_with(&[format!(
        "Host runpod-busy\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
    )])
}

#[test]
fn reset_before_the_banner_is_reported_as_busy_and_tried_three_times() {
    let (port, server) = busy_listener(3, |_| Some((b"", true)), Duration::ZERO);
    let home = busy_home(port);
    let (code, v, _) = check(&home, &["runpod-busy", "--timeout", "5"]);
    assert_eq!(code, Some(1));
    let err = v[0]["error"].as_str().unwrap();
    assert!(
        err.starts_with("the server is refusing new connections for now")
            && err.contains("reset before its SSH banner")
            && err.contains("3 tries"),
        "{v:#}"
    );
    assert_eq!(v[0]["attempts"], 3, "{v:#}");
    assert_eq!(server.join().unwrap(), 3);
}

#[test]
fn exceeded_max_startups_then_silence_is_busy_within_the_timeout() {
    // The line, then the socket held open (a hostile or wedged server).
    let (port, server) = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        (
            port,
            std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                s.write_all(b"Exceeded MaxStartups\r\n").unwrap();
                std::thread::sleep(Duration::from_secs(4));
            }),
        )
    };
    let home = busy_home(port);
    let t = Instant::now();
    let (code, v, _) = check(&home, &["runpod-busy", "--timeout", "2"]);
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(code, Some(1));
    let err = v[0]["error"].as_str().unwrap();
    assert!(
        err.starts_with("the server is refusing new connections for now")
            && err.contains("Exceeded MaxStartups"),
        "{v:#}"
    );
    server.join().unwrap();
}

/// Busy on the first try, then a try that hears nothing: the report says
/// that the server answered as a busy sshd, not "not an SSH server".
#[test]
fn busy_then_silent_try_keeps_the_busy_answer_in_the_report() {
    let (port, server) = busy_listener(
        2,
        |n| (n == 1).then_some((b"Exceeded MaxStartups\r\n" as &[u8], false)),
        Duration::from_secs(3),
    );
    let home = busy_home(port);
    let (code, v, _) = check(&home, &["runpod-busy", "--timeout", "2"]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "banner", "{v:#}");
    assert_eq!(v[0]["attempts"], 2, "{v:#}");
    let err = v[0]["error"].as_str().unwrap();
    assert!(err.contains("sent nothing"), "{v:#}");
    assert!(err.contains("Exceeded MaxStartups"), "{v:#}");
    let hint = v[0]["hint"].as_str().unwrap();
    assert!(hint.contains("MaxStartups"), "{hint}");
    assert!(!hint.contains("not an SSH server"), "{hint}");
    assert_eq!(server.join().unwrap(), 2);
}

/// The busy retry is "two more tries within the timeout": a first try that
/// spent most of the budget before sshd said it is busy leaves the next
/// try only what is left, not a fresh per-stage timeout (was 3 s + the
/// pause + 3 s). The report still says busy, and no stage claims it
/// waited the whole timeout when it waited less.
#[test]
fn busy_retry_shares_the_first_tries_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        // A slow busy answer, then a try that hears nothing.
        let (mut s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let _ = s.write_all(b"Exceeded MaxStartups\r\n");
        drop(s);
        let held = listener.accept();
        std::thread::sleep(Duration::from_secs(6));
        drop(held);
    });
    let home = busy_home(port);
    let t = Instant::now();
    let (code, v, _) = check(&home, &["runpod-busy", "--timeout", "3"]);
    let took = t.elapsed();
    assert!(took < Duration::from_millis(3600), "{took:?} {v:#}");
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "banner", "{v:#}");
    assert_eq!(v[0]["attempts"], 2, "{v:#}");
    let err = v[0]["error"].as_str().unwrap();
    assert!(err.contains("Exceeded MaxStartups"), "{v:#}");
    assert!(!err.contains("within 3s"), "{v:#}");
    let hint = v[0]["hint"].as_str().unwrap();
    assert!(hint.contains("MaxStartups"), "{hint}");
    server.join().unwrap();
}
