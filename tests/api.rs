//! The RunPod API commands (`sync`, `add --pod`, `list --live`, `up`,
//! `open`, `stop`) against a fake RunPod API on 127.0.0.1 (its responses
//! checked against the OpenAPI schemas) and a real sshd for the pods.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::fake_api::{self, FakeApi, KEY, pod, start_log};
use common::sshd::{Sshd, keygen};
use common::{TempHome, require_tool, ssh_g, stderr, stdout};
use serde_json::json;

fn fingerprint(sshd: &Sshd) -> String {
    ssh_key::PublicKey::from_openssh(&sshd.host_public())
        .unwrap()
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string()
}

/// A temp home with a key `sshd` accepts.
fn client_of(sshd: &Sshd) -> TempHome {
    let home = TempHome::new();
    let (_, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
    sshd.authorize(&public);
    home
}

/// A running pod served by `sshd`, as the test user.
fn running(id: &str, name: &str, sshd: &Sshd) -> serde_json::Value {
    let mut p = pod(id, name, "RUNNING", Some(("127.0.0.1", sshd.port)), true);
    p["ssh"]["direct"]["username"] = json!(sshd.user);
    p
}

fn run(home: &TempHome, api: &FakeApi, args: &[&str]) -> Output {
    let mut c = home.cmd(common::bin());
    api.env(&mut c);
    c.args(args).output().expect("run runpod-ssh")
}

/// The key never shows, whatever happened.
fn no_key(o: &Output) {
    assert!(
        !stdout(o).contains(KEY) && !stderr(o).contains(KEY),
        "API key leaked"
    );
    assert!(!stdout(o).contains("TESTKEY") && !stderr(o).contains("TESTKEY"));
}

fn config(home: &TempHome) -> PathBuf {
    home.ssh_dir().join("config")
}

fn kh_text(home: &TempHome) -> String {
    std::fs::read_to_string(home.ssh_dir().join("known_hosts_runpod")).unwrap_or_default()
}

fn g(home: &TempHome, alias: &str) -> std::collections::HashMap<String, String> {
    let ssh = require_tool("ssh").expect("ssh");
    ssh_g(home, &ssh, &config(home), alias)
        .expect("ssh -G")
        .into_iter()
        .collect()
}

fn the_usual_pods(sshd: &Sshd) -> Vec<serde_json::Value> {
    vec![
        running("abc123", "Trainer", sshd),
        pod("stop01", "stopped-one", "EXITED", None, false),
        pod("start1", "booting", "STARTING", None, true),
        pod("prox01", "proxy-only", "RUNNING", None, true),
        pod("gone01", "old", "TERMINATED", None, false),
    ]
}

fn sshd() -> Option<Sshd> {
    require_tool("ssh")?;
    Sshd::start(&[])
}

#[test]
fn sync_writes_entries_verified_by_the_pod_log_and_a_second_sync_changes_nothing() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(the_usual_pods(&sshd));
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));

    let dry = run(&home, &api, &["sync", "--dry-run"]);
    no_key(&dry);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("+Host runpod-trainer"),
        "{}",
        stdout(&dry)
    );
    assert!(!config(&home).exists(), "dry run wrote");
    println!(
        "$ runpod-ssh sync --dry-run\n{}{}",
        stdout(&dry),
        stderr(&dry)
    );

    let o = run(&home, &api, &["sync"]);
    no_key(&o);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("verified against the pod's log and pinned as runpod-abc123"),
        "{out}"
    );
    assert!(
        out.contains("proxy-only") && out.contains("Expose TCP Ports"),
        "{out}"
    );
    assert!(
        !out.contains("gone01"),
        "a terminated pod gets nothing: {out}"
    );
    let m = g(&home, "runpod-trainer");
    assert_eq!(m["hostname"], "127.0.0.1");
    assert_eq!(m["port"], sshd.port.to_string());
    assert_eq!(m["user"], sshd.user);
    assert_eq!(m["hostkeyalias"], "runpod-abc123");
    assert_eq!(m["stricthostkeychecking"], "accept-new");
    let kh = kh_text(&home);
    assert!(kh.starts_with("runpod-abc123 ssh-ed25519 "), "{kh}");
    // Plain ssh now trusts exactly that pin.
    let ssh = home
        .cmd("ssh")
        .args(["-F"])
        .arg(config(&home))
        .args(["-o", "BatchMode=yes", "runpod-trainer", "echo", "in"])
        .output()
        .unwrap();
    assert_eq!(stdout(&ssh).trim(), "in", "{}", stderr(&ssh));

    let before = std::fs::read(config(&home)).unwrap();
    let again = run(&home, &api, &["sync"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        std::fs::read(config(&home)).unwrap(),
        before,
        "second sync changed the config"
    );
    assert_eq!(kh_text(&home), kh, "second sync changed the pins");
    assert!(stdout(&again).contains("up to date"), "{}", stdout(&again));
    api.assert_schemas_held();
    // Every request carried the key as a Bearer header, never in the URL.
    for (_, target, auth, _) in api.requests() {
        assert_eq!(auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
        assert!(!target.contains(KEY));
    }
}

#[test]
fn a_fingerprint_not_in_the_pod_log_is_refused_and_never_recorded() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.set_log(
        "abc123",
        start_log(&["SHA256:Wrong0000000000000000000000000000000000000"]),
    );
    let o = run(&home, &api, &["sync", "--json"]);
    no_key(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["pods"][0]["first_contact"];
    assert_eq!(c["result"], "refused", "{v:#}");
    assert_eq!(c["fingerprint"], fingerprint(&sshd));
    assert!(c["message"].as_str().unwrap().contains("Not recorded"));
    assert_eq!(kh_text(&home), "", "a refused key was recorded");
}

/// Plain `ssh` (as the user would run it) against an entry, in batch mode.
fn plain_ssh(home: &TempHome, alias: &str) -> Output {
    home.cmd("ssh")
        .args(["-F"])
        .arg(config(home))
        .args(["-o", "BatchMode=yes", alias, "echo", "in"])
        .output()
        .expect("run ssh")
}

/// The backups runpod-ssh kept of the config.
fn config_backups(home: &TempHome) -> usize {
    runpod_ssh::fsio::backups(&config(home)).len()
}

/// A loopback port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_refused_key_closes_the_entry_to_ssh_until_a_sync_verifies_the_pods_key() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.set_log(
        "abc123",
        start_log(&["SHA256:Wrong0000000000000000000000000000000000000"]),
    );

    // A dry run contacts nothing and writes nothing; it says what would happen.
    let dry = run(&home, &api, &["sync", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("would switch runpod-trainer to StrictHostKeyChecking yes"),
        "{}",
        stdout(&dry)
    );
    assert!(!config(&home).exists(), "dry run wrote");

    // The impostor's key is refused, and the entry now refuses it too.
    let o = run(&home, &api, &["sync", "--json"]);
    no_key(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["pods"][0]["first_contact"];
    assert_eq!(c["result"], "refused", "{v:#}");
    assert_eq!(c["closed"], true, "{v:#}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("ssh and VS Code will refuse this host until `runpod-ssh sync` verifies it"),
        "{v:#}"
    );
    assert_eq!(kh_text(&home), "", "a refused key was recorded");
    let m = g(&home, "runpod-trainer");
    assert_eq!(m["stricthostkeychecking"], "true", "{m:?}");
    assert_eq!(m["hostkeyalias"], "runpod-abc123");
    // The file created by this run has no in-between backup to restore
    // (it would reopen the entry).
    assert_eq!(config_backups(&home), 0);
    let ssh = plain_ssh(&home, "runpod-trainer");
    assert_eq!(ssh.status.code(), Some(255), "{}", stdout(&ssh));
    assert!(
        stderr(&ssh).contains("Host key verification failed"),
        "{}",
        stderr(&ssh)
    );
    assert_eq!(kh_text(&home), "", "plain ssh recorded the impostor's key");
    // `check` refuses it as ssh does and points at sync, not at plain ssh.
    let chk = run(&home, &api, &["check", "runpod-trainer"]);
    assert!(!chk.status.success());
    assert!(
        stdout(&chk).contains("`runpod-ssh sync` verifies the key"),
        "{}{}",
        stdout(&chk),
        stderr(&chk)
    );
    assert_eq!(kh_text(&home), "");

    // Still wrong: it stays closed and nothing is rewritten.
    let before = std::fs::read(config(&home)).unwrap();
    let o = run(&home, &api, &["sync"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("still says StrictHostKeyChecking yes"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read(config(&home)).unwrap(), before);
    assert_eq!(config_backups(&home), 0);

    // The pod moved and cannot be reached: nothing verified, still closed,
    // though the endpoint is updated.
    let mut p = running("abc123", "Trainer", &sshd);
    p["ssh"]["direct"]["port"] = json!(dead_port());
    api.set_pods(vec![p]);
    let o = run(&home, &api, &["sync", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pods"][0]["first_contact"]["result"], "failed", "{v:#}");
    assert_eq!(v["pods"][0]["first_contact"]["closed"], true, "{v:#}");
    assert_eq!(g(&home, "runpod-trainer")["stricthostkeychecking"], "true");
    assert_eq!(config_backups(&home), 1, "the endpoint update is backed up");

    // The log now lists the real key: a dry run says it would reopen, and
    // changes nothing.
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    let dry = run(&home, &api, &["sync", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("reopen the entry (accept-new) only if the pod's log lists the key"),
        "{}",
        stdout(&dry)
    );
    assert!(
        !stdout(&dry).contains("-StrictHostKeyChecking"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(g(&home, "runpod-trainer")["stricthostkeychecking"], "true");
    assert_eq!(kh_text(&home), "");

    // The next sync verifies it, pins it and restores the template.
    let o = run(&home, &api, &["sync"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("verified against the pod's log and pinned as runpod-abc123")
            && out.contains("open again (StrictHostKeyChecking accept-new)"),
        "{out}"
    );
    let m = g(&home, "runpod-trainer");
    assert_eq!(m["stricthostkeychecking"], "accept-new");
    assert_eq!(m["port"], sshd.port.to_string());
    assert!(kh_text(&home).starts_with("runpod-abc123 ssh-ed25519 "));
    // One backup for the run (the port), none for the in-between version.
    assert_eq!(config_backups(&home), 2);
    let ssh = plain_ssh(&home, "runpod-trainer");
    assert_eq!(stdout(&ssh).trim(), "in", "{}", stderr(&ssh));
    let before = std::fs::read(config(&home)).unwrap();
    assert!(run(&home, &api, &["sync"]).status.success());
    assert_eq!(std::fs::read(config(&home)).unwrap(), before);
}

#[test]
fn a_first_contact_that_cannot_reach_the_pod_leaves_the_entry_accept_new() {
    let api = FakeApi::start();
    let home = TempHome::new();
    let mut p = pod(
        "abc123",
        "Trainer",
        "RUNNING",
        Some(("127.0.0.1", dead_port())),
        true,
    );
    p["ssh"]["direct"]["username"] = json!("root");
    api.set_pods(vec![p]);
    api.set_log(
        "abc123",
        start_log(&["SHA256:Wrong0000000000000000000000000000000000000"]),
    );
    let o = run(&home, &api, &["sync", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["pods"][0]["first_contact"];
    assert_eq!(c["result"], "failed", "{v:#}");
    assert_eq!(c["closed"], false, "{v:#}");
    let text = std::fs::read_to_string(config(&home)).unwrap();
    assert!(text.contains("StrictHostKeyChecking accept-new"), "{text}");
    assert!(!text.contains("StrictHostKeyChecking yes"), "{text}");
}

#[test]
fn a_log_without_fingerprints_falls_back_to_accept_new_and_says_it_was_not_verified() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "custom image", &sshd)]);
    api.set_log("abc123", vec!["my own entrypoint".into()]);
    let o = run(&home, &api, &["sync"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("WITHOUT verification"),
        "{}",
        stdout(&o)
    );
    assert!(kh_text(&home).starts_with("runpod-abc123 "));
}

#[test]
fn a_restarted_pod_updates_in_place_and_verifies_its_new_key() {
    let Some(a) = sshd() else { return };
    let home = client_of(&a);
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &a)]);
    api.set_log("abc123", start_log(&[&fingerprint(&a)]));
    assert!(run(&home, &api, &["sync"]).status.success());
    let old_pin = kh_text(&home);

    // Restart: another port, another host key, a new startedAt and log.
    let b = Sshd::start(&[]).unwrap();
    let (_, public) = keygen(&home.ssh_dir(), "unused", "");
    let _ = public;
    b.authorize(&std::fs::read_to_string(home.ssh_dir().join("id_ed25519.pub")).unwrap());
    let mut p = running("abc123", "Trainer", &b);
    p["startedAt"] = json!("2026-11-28T12:00:00Z");
    api.set_pods(vec![p]);
    api.set_log("abc123", start_log(&[&fingerprint(&b)]));
    let o = run(&home, &api, &["sync"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("the endpoint changed"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("verified"), "{}", stdout(&o));
    let m = g(&home, "runpod-trainer");
    assert_eq!(m["port"], b.port.to_string());
    let text = std::fs::read_to_string(config(&home)).unwrap();
    assert_eq!(text.matches("Host runpod-trainer").count(), 1, "{text}");
    let pin = kh_text(&home);
    assert_ne!(pin, old_pin);
    assert_eq!(pin.lines().count(), 1, "{pin}");
    assert!(pin.contains(b.host_public().split_whitespace().nth(1).unwrap()));

    // Same host and port, new startedAt: the pin is reset and verified again.
    let mut p = running("abc123", "Trainer", &b);
    p["startedAt"] = json!("2026-11-28T13:00:00Z");
    api.set_pods(vec![p]);
    let o = run(&home, &api, &["sync"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("the pod restarted (new startedAt)"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("verified"), "{}", stdout(&o));
    // The log was read since startedAt.
    assert!(
        api.requests()
            .iter()
            .any(|r| r.1.contains("/logs?") && r.1.contains("since=2026-11-28T13%3A00%3A00Z")),
        "{:?}",
        api.requests()
    );
}

#[test]
fn prune_removes_only_entries_sync_made_for_pods_that_are_gone() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    std::fs::write(
        config(&home),
        "Host mine\n    HostName 203.0.113.5\n    User root\n    Port 40000\n",
    )
    .unwrap();
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    assert!(run(&home, &api, &["sync"]).status.success());
    api.set_pods(vec![pod("abc123", "Trainer", "TERMINATED", None, false)]);
    let keep = run(&home, &api, &["sync"]);
    assert!(keep.status.success());
    assert!(
        std::fs::read_to_string(config(&home))
            .unwrap()
            .contains("runpod-trainer")
    );
    let o = run(&home, &api, &["sync", "--prune"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(config(&home)).unwrap();
    assert!(!text.contains("runpod-trainer"), "{text}");
    assert!(
        text.starts_with("Host mine\n    HostName 203.0.113.5\n"),
        "{text}"
    );
    assert_eq!(kh_text(&home), "", "the pod's pin stays after prune");
}

#[test]
fn add_pod_syncs_one_pod_by_name() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(the_usual_pods(&sshd));
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    let o = run(&home, &api, &["add", "--pod", "Trainer"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(g(&home, "runpod-trainer")["hostkeyalias"], "runpod-abc123");
    let o = run(&home, &api, &["add", "--pod", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no pod with id or name"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn api_errors_are_clear_and_never_show_the_key() {
    let home = TempHome::new();
    let api = FakeApi::start();
    api.set_pods(vec![]);
    // 401: a wrong key.
    let mut c = home.cmd(common::bin());
    api.env(&mut c);
    let o = c
        .env("RUNPOD_API_KEY", "rpa_WRONG_secret")
        .args(["sync"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("refused the API key (401"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("RUNPOD_API_KEY"),
        "names where the key came from"
    );
    assert!(!stderr(&o).contains("rpa_WRONG_secret"));
    // 403.
    api.force(
        "GET",
        "/v2/pods",
        403,
        &[],
        r#"{"title":"Forbidden","status":403,"detail":"key is restricted"}"#,
        1,
    );
    let o = run(&home, &api, &["list", "--live"]);
    no_key(&o);
    assert!(
        stderr(&o).contains("lacks permission") && stderr(&o).contains("key is restricted"),
        "{}",
        stderr(&o)
    );
    // 429 with RateLimit: waited out, then it works.
    api.force(
        "GET",
        "/v2/pods",
        429,
        &[("RateLimit", "\"minute\";r=0;t=1")],
        r#"{"title":"Too Many Requests","status":429,"detail":"slow down"}"#,
        1,
    );
    let t = std::time::Instant::now();
    let o = run(&home, &api, &["list", "--live"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(900),
        "did not wait per RateLimit"
    );
    // A malformed body.
    api.force("GET", "/v2/pods", 200, &[], r#"{"pods":[{"id":1}]}"#, 1);
    let o = run(&home, &api, &["list", "--live"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    // No key anywhere.
    let mut c = home.cmd(common::bin());
    c.env("RUNPOD_API_URL", &api.url)
        .env_remove("RUNPOD_API_KEY");
    let o = c.args(["sync"]).output().unwrap();
    assert!(
        stderr(&o).contains("no RunPod API key found"),
        "{}",
        stderr(&o)
    );
    // Nothing unreachable hangs: a closed port.
    let mut c = home.cmd(common::bin());
    c.env(
        "RUNPOD_API_URL",
        format!("http://127.0.0.1:{}", common::sshd::free_port()),
    )
    .env("RUNPOD_API_KEY", KEY);
    let o = c.args(["list", "--live"]).output().unwrap();
    no_key(&o);
    assert!(
        stderr(&o).contains("cannot reach the RunPod API"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn login_keeps_the_key_private_and_later_commands_use_it() {
    let home = TempHome::new();
    let api = FakeApi::start();
    api.set_pods(vec![]);
    let mut c = home.cmd(common::bin());
    c.arg("login")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{KEY}\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    no_key(&o);
    let file = home.path().join(".config/runpod-ssh/api-key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut c = home.cmd(common::bin());
    c.env("RUNPOD_API_URL", &api.url)
        .env_remove("RUNPOD_API_KEY");
    let o = c.args(["list", "--live"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn list_live_shows_status_gpu_cost_uptime_and_stale_entries() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(the_usual_pods(&sshd));
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    assert!(run(&home, &api, &["sync"]).status.success());
    // The pod moved: the entry is stale until the next sync.
    let mut pods = the_usual_pods(&sshd);
    pods[0]["ssh"]["direct"]["port"] = json!(1);
    api.set_pods(pods);
    let o = run(&home, &api, &["list", "--live"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    println!("$ runpod-ssh list --live\n{out}");
    let line = out.lines().find(|l| l.starts_with("abc123")).unwrap();
    for want in [
        "Trainer",
        "RUNNING",
        "1×RTX 4090",
        "0.69",
        "1h02m",
        "127.0.0.1:1",
        "runpod-trainer",
        "stale",
    ] {
        assert!(line.contains(want), "{want} missing: {line}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("prox01") && l.contains("proxy only")),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&run(&home, &api, &["list", "--live", "--json"]).stdout).unwrap();
    assert_eq!(v[0]["stale"], true);
    api.assert_schemas_held();
}

fn stub(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    common::sshd::set_mode(&p, 0o755);
}

#[test]
fn up_starts_a_stopped_pod_waits_and_verifies_then_stop_says_what_it_keeps() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(vec![pod("abc123", "Trainer", "EXITED", None, false)]);
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    api.state.lock().unwrap().starting.push((
        "abc123".into(),
        2,
        json!({"host": "127.0.0.1", "port": sshd.port, "username": sshd.user}),
        "2026-11-28T12:00:00Z".into(),
    ));
    let o = run(&home, &api, &["up", "Trainer"]);
    no_key(&o);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("Starting pod abc123"), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("verified against the pod's log"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("runpod-trainer is up"),
        "{}",
        stdout(&o)
    );
    println!("$ runpod-ssh up Trainer\n{}{}", stderr(&o), stdout(&o));
    let reqs = api.requests();
    assert!(
        reqs.iter()
            .any(|r| r.0 == "POST" && r.3.contains("\"start\""))
    );
    assert!(
        reqs.iter().filter(|r| r.1 == "/v2/pods/abc123").count() >= 3,
        "did not poll"
    );

    // stop: says what it keeps, then stops.
    let o = run(&home, &api, &["stop", "runpod-trainer"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("/workspace volume") && e.contains("still billed") && e.contains("Terminate"),
        "{e}"
    );
    assert_eq!(api.state.lock().unwrap().pods[0]["status"], "EXITED");
    // 409: the API refuses an action in the wrong state.
    api.force(
        "POST",
        "/v2/pods/abc123/action",
        409,
        &[],
        r#"{"title":"Conflict","status":409,"detail":"pod is migrating"}"#,
        1,
    );
    let o = run(&home, &api, &["up", "abc123"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("409") && stderr(&o).contains("pod is migrating"),
        "{}",
        stderr(&o)
    );
    api.assert_schemas_held();
}

#[test]
fn open_launches_the_editor_with_exactly_the_folder_uri() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let args_file = home.path().join("editor-args");
    stub(
        &bin,
        "cursor",
        &format!(
            "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > {}",
            args_file.display()
        ),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = home.cmd(common::bin());
    api.env(&mut c);
    let o = c
        .env("PATH", &path)
        .args(["open", "Trainer", "--editor", "cursor"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&args_file).unwrap(),
        "--folder-uri\nvscode-remote://ssh-remote+runpod-trainer/workspace\n"
    );
    // An editor that is not there: a clear message, no pod started.
    let mut c = home.cmd(common::bin());
    api.env(&mut c);
    let o = c
        .env("PATH", &path)
        .args(["open", "Trainer", "--editor", "windsurf"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`windsurf` is not on PATH"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fake_api_schemas_reject_what_the_client_could_not_read() {
    // The schema check itself can fail: a pod without ssh, a bad status.
    let mut p = pod("x", "y", "RUNNING", Some(("127.0.0.1", 2)), true);
    assert_eq!(fake_api::validate(&p, "Pod"), None);
    p["status"] = json!("SLEEPING");
    assert!(fake_api::validate(&p, "Pod").is_some());
    let mut p = pod("x", "y", "RUNNING", Some(("127.0.0.1", 2)), true);
    p.as_object_mut().unwrap().remove("ssh");
    assert!(fake_api::validate(&p, "Pod").is_some());
    assert!(fake_api::validate(&json!({"keys": [1]}), "SshKeys").is_some());
}

fn lib_client(api: &FakeApi) -> runpod_ssh::api::Client {
    runpod_ssh::api::Client::new(
        &api.url,
        runpod_ssh::api::ApiKey::new(KEY).unwrap(),
        runpod_ssh::api::KeySource::Env,
    )
    .unwrap()
}

#[test]
fn key_push_keeps_every_existing_key_dedupes_by_material_and_verifies() {
    use runpod_ssh::account_keys;
    let api = FakeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let a = keygen(dir.path(), "a", "").1;
    let b = keygen(dir.path(), "b", "").1;
    let mine = keygen(dir.path(), "mine", "").1;
    api.state.lock().unwrap().keys = vec![a.clone(), b.clone()];
    let c = lib_client(&api);
    let r = account_keys::push(&c, &mine).unwrap();
    assert_eq!(
        r,
        account_keys::Pushed {
            added: true,
            total: 3
        }
    );
    assert_eq!(
        api.state.lock().unwrap().keys,
        vec![a.clone(), b.clone(), mine.clone()]
    );
    // The same key with another comment is not added twice.
    let other_comment = format!(
        "{} other@host",
        mine.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let r = account_keys::push(&c, &other_comment).unwrap();
    assert!(!r.added);
    assert_eq!(api.state.lock().unwrap().keys.len(), 3);
    // Removing one keeps the others.
    assert!(account_keys::remove(&c, &a).unwrap());
    assert_eq!(
        api.state.lock().unwrap().keys,
        vec![b.clone(), mine.clone()]
    );
    // A PUT the server acknowledges but does not apply is caught by the read-back.
    api.force("PUT", "/v2/account/ssh-keys", 200, &[], "{}", 1);
    let e = account_keys::push(&c, &a).unwrap_err().to_string();
    assert!(e.contains("the new key is not there"), "{e}");
    // A private key is refused before any request.
    let n = api.requests().len();
    let private = std::fs::read_to_string(dir.path().join("a")).unwrap();
    assert!(account_keys::push(&c, &private).is_err());
    assert_eq!(api.requests().len(), n);
    api.assert_schemas_held();
}

/// VS Code pointed at another ssh config (remote.SSH.configFile).
fn vscode_reads(home: &TempHome) -> PathBuf {
    let user = home.path().join(".config/Code/User");
    std::fs::create_dir_all(&user).unwrap();
    let other = home.ssh_dir().join("vscode_config");
    std::fs::write(
        user.join("settings.json"),
        "{\n  \"remote.SSH.configFile\": \"~/.ssh/vscode_config\"\n}\n",
    )
    .unwrap();
    std::fs::write(&other, "Host web\n    HostName w\n").unwrap();
    other
}

#[test]
fn add_and_sync_write_the_file_vscode_reads() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let other = vscode_reads(&home);
    let o = home.run(&["add", "ssh root@203.0.113.7 -p 40123"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("VS Code reads ~/.ssh/vscode_config"),
        "{}",
        stderr(&o)
    );
    assert!(!config(&home).exists(), "add wrote ~/.ssh/config");
    let text = std::fs::read_to_string(&other).unwrap();
    assert!(text.starts_with("Host web\n    HostName w\n"), "{text}");
    assert!(text.contains("Host runpod-203-0-113-7-40123"), "{text}");

    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    let o = run(&home, &api, &["sync"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!config(&home).exists(), "sync wrote ~/.ssh/config");
    assert!(
        std::fs::read_to_string(&other)
            .unwrap()
            .contains("Host runpod-trainer")
    );
    // And VS Code will not ask for the platform.
    let settings =
        std::fs::read_to_string(home.path().join(".config/Code/User/settings.json")).unwrap();
    assert!(
        settings.contains("\"runpod-trainer\": \"linux\""),
        "{settings}"
    );
}

#[test]
fn the_proxy_entry_pins_under_its_own_name_not_the_pods() {
    let home = TempHome::new();
    let o = home.run(&[
        "add",
        "ssh abc123xyz-64410f1d@ssh.runpod.io -i ~/.ssh/id_ed25519",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = g(&home, "runpod-abc123xyz");
    assert_eq!(m["hostkeyalias"], "runpod-proxy-abc123xyz");
    assert_ne!(
        m["hostkeyalias"], "runpod-abc123xyz",
        "the pod's own sshd is pinned as runpod-<id> by sync"
    );
}

#[test]
fn sync_adopts_an_entry_pasted_for_the_same_endpoint() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let paste = format!(
        "ssh {}@127.0.0.1 -p {} -i ~/.ssh/id_ed25519",
        sshd.user, sshd.port
    );
    // A RunPod entry by its alias: pasted with --name gpu-runpod.
    let o = home.run(&["add", "--name", "gpu-runpod", &paste]);
    assert!(o.status.success(), "{}", stderr(&o));
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    let o = run(&home, &api, &["sync"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(config(&home)).unwrap();
    assert_eq!(
        text.matches("\nHost ").count() + usize::from(text.starts_with("Host ")),
        1,
        "{text}"
    );
    assert_eq!(g(&home, "gpu-runpod")["hostkeyalias"], "runpod-abc123");
    assert!(stdout(&o).contains("verified"), "{}", stdout(&o));
    let before = std::fs::read(config(&home)).unwrap();
    assert!(run(&home, &api, &["sync"]).status.success());
    assert_eq!(std::fs::read(config(&home)).unwrap(), before);
}

#[test]
fn a_changed_key_on_a_synced_entry_is_reset_by_its_own_pin_name() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    assert!(run(&home, &api, &["sync"]).status.success());
    // Another key pinned for the pod: a change.
    let dir = tempfile::tempdir().unwrap();
    let other = keygen(dir.path(), "other", "").1;
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    std::fs::write(
        home.ssh_dir().join("known_hosts_runpod"),
        format!("runpod-abc123 {}\n", other.join(" ")),
    )
    .unwrap();
    let o = home.run(&["check", "runpod-trainer"]);
    assert_eq!(o.status.code(), Some(1));
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(text.contains("--reset-host-key"), "{text}");
    let o = home.run(&["add", "--name", "runpod-trainer", "--reset-host-key"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        kh_text(&home),
        "",
        "the pin under runpod-abc123 was not reset"
    );
}

// ---- hostile API (review of issue 11) ----

#[test]
fn a_huge_retry_after_after_a_wait_is_a_clear_error_not_a_panic() {
    let home = TempHome::new();
    let api = FakeApi::start();
    api.set_pods(vec![]);
    let body = r#"{"title":"Too Many Requests","status":429}"#;
    api.force("GET", "/v2/pods", 429, &[("Retry-After", "1")], body, 1);
    api.force(
        "GET",
        "/v2/pods",
        429,
        &[("Retry-After", "18446744073709551615")],
        body,
        1,
    );
    let o = run(&home, &api, &["list", "--live"]);
    no_key(&o);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(stderr(&o).contains("rate limit"), "{}", stderr(&o));
}

#[test]
fn pod_fields_a_terminal_or_the_config_would_obey_are_refused() {
    let home = TempHome::new();
    let api = FakeApi::start();
    let mut esc = pod(
        "abc123",
        "evil",
        "RUNNING",
        Some(("127.0.0.1", 2222)),
        false,
    );
    esc["id"] = json!("abc\u{1b}]0;PWNED\u{7}\u{1b}[31m");
    let mut status = pod("abc123", "evil", "EXITED", None, false);
    status["status"] = json!("EXITED\u{1b}[2J");
    let mut host = pod(
        "abc123",
        "evil",
        "RUNNING",
        Some(("127.0.0.1", 2222)),
        false,
    );
    host["ssh"]["direct"]["host"] = json!("-oProxyCommand=touch /tmp/x");
    let mut user = pod(
        "abc123",
        "evil",
        "RUNNING",
        Some(("127.0.0.1", 2222)),
        false,
    );
    user["ssh"]["direct"]["username"] = json!("root\n  ProxyCommand touch /tmp/x");
    for (what, p) in [
        ("id", esc),
        ("status", status),
        ("host", host),
        ("user", user),
    ] {
        let body = json!({ "pods": [p] }).to_string();
        for args in [
            &["list", "--live"][..],
            &["stop", "evil"][..],
            &["sync"][..],
        ] {
            api.force("GET", "/v2/pods", 200, &[], &body, 1);
            let o = run(&home, &api, args);
            no_key(&o);
            assert_eq!(o.status.code(), Some(3), "{what} {args:?}: {}", stderr(&o));
            for text in [stdout(&o), stderr(&o)] {
                assert!(
                    !text.contains('\u{1b}'),
                    "{what} {args:?}: raw escape: {text:?}"
                );
            }
            assert!(
                stderr(&o).contains("cannot read"),
                "{what} {args:?}: {}",
                stderr(&o)
            );
            assert!(!config(&home).exists(), "{what} {args:?}: wrote a config");
        }
    }
}

#[test]
fn a_log_that_cannot_be_read_is_reported_as_such_not_as_a_custom_image() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.set_log("abc123", start_log(&[&fingerprint(&sshd)]));
    api.force(
        "GET",
        "/v2/pods/abc123/logs",
        500,
        &[],
        r#"{"title":"Internal Server Error","status":500}"#,
        1,
    );
    let o = run(&home, &api, &["sync", "--json"]);
    no_key(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["pods"][0]["first_contact"];
    assert_eq!(c["verified"], false, "{v:#}");
    assert!(
        c["log_error"].as_str().unwrap_or("").contains("500"),
        "{v:#}"
    );
    let m = c["message"].as_str().unwrap();
    assert!(m.contains("could not be read"), "{m}");
    assert!(!m.contains("custom image"), "{m}");
}

#[test]
fn an_endless_log_stream_is_read_to_a_bound() {
    let Some(sshd) = sshd() else { return };
    let home = client_of(&sshd);
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &sshd)]);
    api.state.lock().unwrap().flood.push("abc123".into());
    let mut c = home.cmd(common::bin());
    api.env(&mut c);
    // Far longer than the test may take: only a byte bound ends the read.
    c.env("RUNPOD_SSH_LOG_WAIT_MS", "60000");
    let t = std::time::Instant::now();
    let o = c.args(["sync"]).output().unwrap();
    let took = t.elapsed();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        took < std::time::Duration::from_secs(40),
        "read the endless log until the wait ran out ({took:?})"
    );
    assert!(
        stdout(&o).contains("WITHOUT verification"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_redirect_is_not_followed_to_another_host() {
    let home = TempHome::new();
    let api = FakeApi::start();
    let other = FakeApi::start();
    other.set_pods(vec![]);
    let to = format!("{}/v2/pods", other.url);
    api.force("GET", "/v2/pods", 302, &[("Location", &to)], "", 1);
    let o = run(&home, &api, &["list", "--live"]);
    no_key(&o);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(stderr(&o).contains("302"), "{}", stderr(&o));
    assert!(other.requests().is_empty(), "{:?}", other.requests());
}

#[test]
fn the_pod_list_includes_cluster_pods_so_prune_never_takes_them_for_gone() {
    let home = TempHome::new();
    let api = FakeApi::start();
    api.set_pods(vec![]);
    assert!(run(&home, &api, &["list", "--live"]).status.success());
    assert!(
        api.requests()
            .iter()
            .any(|r| r.1 == "/v2/pods?includeClusterPods=true"),
        "{:?}",
        api.requests()
    );
}

#[test]
fn login_through_a_symlink_to_a_readable_file_keeps_the_key_private() {
    use std::os::unix::fs::PermissionsExt;
    let home = TempHome::new();
    let dir = home.path().join(".config/runpod-ssh");
    std::fs::create_dir_all(&dir).unwrap();
    let target = home.path().join("keys-elsewhere");
    std::fs::write(&target, "rpa_OLD\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("api-key")).unwrap();
    let mut c = home.cmd(common::bin());
    c.arg("login")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{KEY}\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    no_key(&o);
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode,
        0o600,
        "the key sits in a {mode:o} file: {}",
        stdout(&o)
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&target).unwrap().contains(KEY));
}

#[test]
fn a_new_pod_listed_first_never_resets_the_pin_of_an_existing_entry_it_shifts() {
    // The new entry goes in above the user's `Host *` at the top, moving
    // the existing entry down a block: its old endpoint must still be read
    // from its own block (an index into the file as read was one off: a
    // wrongly forgotten pin, or a panic when the entry was the last block).
    let Some(a) = sshd() else { return };
    let home = client_of(&a);
    let api = FakeApi::start();
    api.set_pods(vec![running("abc123", "Trainer", &a)]);
    api.set_log("abc123", start_log(&[&fingerprint(&a)]));
    assert!(run(&home, &api, &["sync"]).status.success());
    let pin = kh_text(&home);
    assert!(pin.starts_with("runpod-abc123 "), "{pin}");
    let text = std::fs::read_to_string(config(&home)).unwrap();
    std::fs::write(
        config(&home),
        format!("Host *\n    Compression yes\n\n{text}"),
    )
    .unwrap();

    let b = Sshd::start(&[]).unwrap();
    b.authorize(&std::fs::read_to_string(home.ssh_dir().join("id_ed25519.pub")).unwrap());
    api.set_pods(vec![
        running("new001", "Second", &b),
        running("abc123", "Trainer", &a),
    ]);
    api.set_log("new001", start_log(&[&fingerprint(&b)]));
    let o = run(&home, &api, &["sync"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        !stdout(&o).contains("the endpoint changed"),
        "{}",
        stdout(&o)
    );
    let kh = kh_text(&home);
    assert!(kh.contains(pin.trim_end()), "the old pin was dropped: {kh}");
    assert_eq!(g(&home, "runpod-trainer")["port"], a.port.to_string());
    assert_eq!(g(&home, "runpod-second")["port"], b.port.to_string());
}
