//! The hostile review of issue 8: where runpod-ssh and `ssh` read the same
//! config, they use the same known_hosts files, the same system config,
//! the same host key types and the same agent — or runpod-ssh stops
//! (fails closed) and records nothing. Against a real sshd on 127.0.0.1,
//! and compared with what real `ssh` does with the same files.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::sshd::{Agent, Sshd, keygen};
use common::{TempHome, require_tool, stderr, stdout};

fn client_of(sshd: &Sshd) -> (TempHome, PathBuf) {
    let home = TempHome::new();
    let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
    sshd.authorize(&public);
    (home, key)
}

fn write_config(home: &TempHome, text: &str) -> PathBuf {
    let p = home.ssh_dir().join("config");
    std::fs::write(&p, text).unwrap();
    p
}

/// `check --json --quick ALIAS` (no `--config`: the system config counts).
fn check(home: &TempHome, alias: &str) -> (Option<i32>, serde_json::Value, String) {
    let o = home.run(&["check", "--json", "--quick", "--timeout", "5", alias]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {} / {}", stdout(&o), stderr(&o)));
    (o.status.code(), v[0].clone(), stderr(&o))
}

/// Real `ssh ALIAS true` with this home, as a user would run it.
fn ssh(home: &TempHome, args: &[&str]) -> Option<std::process::Output> {
    let ssh = require_tool("ssh")?;
    Some(
        home.cmd(ssh)
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5"])
            .args(args)
            .output()
            .unwrap(),
    )
}

fn saw_userauth(sshd: &Sshd) -> bool {
    std::thread::sleep(Duration::from_millis(300));
    let log = sshd.log_text();
    log.contains("userauth-request") || log.contains("Accepted publickey")
}

#[test]
fn known_hosts_path_tokens_c_l_k_n_name_the_file_ssh_uses() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    std::fs::create_dir(home.path().join("kh")).unwrap();
    // %k without HostKeyAlias is the alias as typed, not the HostName.
    let block = sshd.host_block(
        "Pod",
        &key,
        &[
            "UserKnownHostsFile ~/kh/%C.%l.%L.%k.%n.%h.%p",
            "StrictHostKeyChecking accept-new",
            "IdentitiesOnly yes",
        ],
    );
    write_config(&home, &block);
    let (code, r, err) = check(&home, "Pod");
    assert_eq!(code, Some(0), "{r:#} {err}");
    let ours = PathBuf::from(r["host_key"]["recorded_in"].as_str().expect("recorded"));
    assert!(
        ours.starts_with(home.path().join("kh")),
        "{}",
        ours.display()
    );
    let name = ours.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.contains(".Pod.Pod.127.0.0.1."), "{name}");
    assert!(!name.contains('%'), "{name}");
    // ssh finds the key runpod-ssh recorded there: same file, same pin.
    let Some(o) = ssh(
        &home,
        &["-vvv", "-o", "StrictHostKeyChecking=yes", "Pod", "true"],
    ) else {
        return;
    };
    let log = stderr(&o);
    let theirs = log
        .lines()
        .find_map(|l| l.split_once("expanded UserKnownHostsFile '"))
        .and_then(|(_, rest)| rest.split_once("' -> '"))
        .map(|(_, p)| p.trim_end_matches('\''))
        .unwrap_or_else(|| panic!("no expansion in ssh -vvv:\n{log}"));
    assert_eq!(Path::new(theirs), ours, "{log}");
    assert_eq!(o.status.code(), Some(0), "{log}");
}

#[test]
fn unset_env_var_in_known_hosts_path_is_an_error_as_in_ssh() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    let block = sshd.host_block(
        "pod",
        &key,
        &[
            "UserKnownHostsFile ~/${RUNPOD_SSH_TEST_NEVER_SET}kh",
            "StrictHostKeyChecking accept-new",
        ],
    );
    write_config(&home, &block);
    let (code, r, err) = check(&home, "pod");
    assert_eq!(code, Some(1), "{r:#} {err}");
    assert_eq!(r["stage"], "resolve", "{r:#}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("${RUNPOD_SSH_TEST_NEVER_SET} has no value"),
        "{r:#}"
    );
    assert!(!home.path().join("kh").exists());
    assert!(!saw_userauth(&sshd));
    if let Some(o) = ssh(&home, &["pod", "true"]) {
        assert_eq!(o.status.code(), Some(255));
        assert!(stderr(&o).contains("has no value"), "{}", stderr(&o));
    }
}

#[test]
fn tilde_user_in_known_hosts_path_is_that_users_home_never_a_folder_in_cwd() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    // In the test's namespace our own entry names the temp home.
    let me = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let block = sshd.host_block(
        "pod",
        &key,
        &[
            &format!("UserKnownHostsFile ~{me}/.ssh/kh_tilde_user"),
            "StrictHostKeyChecking accept-new",
        ],
    );
    write_config(&home, &block);
    let cwd = tempfile::tempdir().unwrap();
    let o = home
        .cmd(common::bin())
        .current_dir(cwd.path())
        .args(["check", "--json", "--quick", "pod"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v:#} {}", stderr(&o));
    assert_eq!(
        v[0]["host_key"]["recorded_in"].as_str().unwrap(),
        home.ssh_dir().join("kh_tilde_user").to_str().unwrap()
    );
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);

    // An unknown user: ssh stops ("No such user"), so do we.
    let block = sshd.host_block(
        "nouser",
        &key,
        &[
            "UserKnownHostsFile ~no_such_user_rps/kh",
            "StrictHostKeyChecking accept-new",
        ],
    );
    write_config(&home, &block);
    let (code, r, _) = check(&home, "nouser");
    assert_eq!(code, Some(1));
    assert_eq!(r["stage"], "resolve", "{r:#}");
    assert!(
        r["error"].as_str().unwrap().contains("No such user"),
        "{r:#}"
    );
    if let Some(o) = ssh(&home, &["nouser", "true"]) {
        assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
    }
}

#[test]
fn match_exec_fails_closed_at_hostkey_naming_the_line_no_record_no_auth() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    let kh = home.ssh_dir().join("kh_exec");
    // ssh would run `true`, match, and use StrictHostKeyChecking yes.
    let text = format!(
        "Match exec true\n    StrictHostKeyChecking yes\n{}",
        sshd.host_block(
            "pod",
            &key,
            &[
                &format!("UserKnownHostsFile {}", kh.display()),
                "StrictHostKeyChecking accept-new",
            ]
        )
    );
    let cfg = write_config(&home, &text);
    let (code, r, err) = check(&home, "pod");
    assert_eq!(code, Some(1), "{r:#} {err}");
    assert_eq!(r["stage"], "hostkey", "{r:#}");
    let e = r["error"].as_str().unwrap();
    assert!(e.contains(&format!("{}:1", cfg.display())), "{e}");
    assert!(e.contains("Match exec"), "{e}");
    assert!(r["hint"].as_str().unwrap().contains("ssh pod"), "{r:#}");
    assert!(!kh.exists(), "a key was recorded");
    assert!(!saw_userauth(&sshd));
    // ssh, which runs it, refuses the unknown key (strict yes).
    if let Some(o) = ssh(&home, &["pod", "true"]) {
        assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
        assert!(!kh.exists());
    }
}

#[test]
fn system_ssh_config_is_read_after_the_users_without_config_flag_only() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = client_of(&sshd);
    if !Path::new("/etc/ssh/ssh_config").exists() {
        eprintln!("SKIPPED: no /etc/ssh/ssh_config to bind over");
        return;
    }
    let kh = home.ssh_dir().join("kh_sys");
    let user = sshd.host_block(
        "pod",
        &key,
        &[
            &format!("UserKnownHostsFile {}", kh.display()),
            "StrictHostKeyChecking accept-new",
        ],
    );
    let cfg = write_config(&home, &format!("{user}Host *\n    Compression no\n"));
    // The system config: Debian's HashKnownHosts, a Port the user's file
    // already set (user wins), and an Include relative to /etc/ssh.
    std::fs::write(
        home.system_config(),
        "Host *\n    HashKnownHosts yes\n    Port 1\n    Compression yes\n    ConnectionAttempts 3\n",
    )
    .unwrap();
    // `show` equals real `ssh -G pod` (no -F) on the values either sets.
    let o = home.run(&["show", "pod", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let get = |k: &str| {
        v["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["keyword"] == k)
            .map(|p| p["value"].as_str().unwrap().to_string())
    };
    assert_eq!(get("hashknownhosts").as_deref(), Some("yes"), "{v:#}");
    assert_eq!(get("port").as_deref(), Some(sshd.port.to_string().as_str()));
    assert_eq!(get("compression").as_deref(), Some("no"));
    assert_eq!(get("connectionattempts").as_deref(), Some("3"));
    if let Some(ssh) = require_tool("ssh") {
        let o = home.cmd(ssh).args(["-G", "pod"]).output().unwrap();
        let g = stdout(&o);
        for (k, want) in [
            ("hashknownhosts", get("hashknownhosts")),
            ("port", get("port")),
            ("compression", get("compression")),
            ("connectionattempts", get("connectionattempts")),
        ] {
            let line = g.lines().find(|l| l.starts_with(&format!("{k} ")));
            assert_eq!(
                line.map(|l| l[k.len() + 1..].to_string()),
                want,
                "{k}: ssh -G says\n{g}"
            );
        }
    }
    // check records the key hashed, as ssh would with this system config.
    let (code, r, err) = check(&home, "pod");
    assert_eq!(code, Some(0), "{r:#} {err}");
    let text = std::fs::read_to_string(&kh).unwrap();
    assert!(text.starts_with("|1|"), "{text}");
    // With --config (ssh -F) the system config is not read.
    let o = home.run(&["show", "pod", "--json", "--config", cfg.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        !v["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["keyword"] == "hashknownhosts"),
        "{v:#}"
    );
}

#[test]
fn host_key_algorithms_restrict_the_probe_an_rsa_only_server_fails_at_kex_unrecorded() {
    let Some(sshd) = Sshd::start_with_key("rsa", &[]) else {
        return;
    };
    let (home, key) = client_of(&sshd);
    let kh = home.ssh_dir().join("kh_alg");
    let block = sshd.host_block(
        "pod",
        &key,
        &[
            &format!("UserKnownHostsFile {}", kh.display()),
            "StrictHostKeyChecking accept-new",
            "HostKeyAlgorithms ssh-ed25519",
        ],
    );
    write_config(&home, &block);
    let (code, r, err) = check(&home, "pod");
    assert_eq!(code, Some(1), "{r:#} {err}");
    assert_eq!(r["stage"], "kex", "{r:#}");
    assert!(r["host_key"].is_null(), "{r:#}");
    assert!(!kh.exists(), "an RSA key was recorded");
    if let Some(o) = ssh(&home, &["pod", "true"]) {
        assert_eq!(o.status.code(), Some(255));
        assert!(
            stderr(&o).contains("no matching host key type"),
            "{}",
            stderr(&o)
        );
    }
    // Allowing RSA (with `+`, as ssh assembles it) lets it through.
    let block = sshd.host_block(
        "pod",
        &key,
        &[
            &format!("UserKnownHostsFile {}", kh.display()),
            "StrictHostKeyChecking accept-new",
            "HostKeyAlgorithms ssh-ed25519,+rsa-sha2-*",
        ],
    );
    write_config(&home, &block);
    let (code, r, _) = check(&home, "pod");
    assert_eq!(code, Some(1), "a `+` inside a list is not an append: {r:#}");
    let block = sshd.host_block(
        "pod",
        &key,
        &[
            &format!("UserKnownHostsFile {}", kh.display()),
            "StrictHostKeyChecking accept-new",
            "HostKeyAlgorithms rsa-sha2-*",
        ],
    );
    write_config(&home, &block);
    let (code, r, err) = check(&home, "pod");
    assert_eq!(code, Some(0), "{r:#} {err}");
}

#[test]
fn identity_agent_none_and_path_are_honoured_as_ssh_does() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let Some(agent) = Agent::start() else { return };
    let (home, key) = client_of(&sshd);
    agent.add(&key);
    let moved = home.path().join("only-in-agent");
    std::fs::rename(&key, &moved).unwrap();
    let kh = home.ssh_dir().join("kh_agent");
    let block = |agent_line: &str| {
        sshd.host_block(
            "pod",
            &home.ssh_dir().join("id_missing"),
            &[
                &format!("UserKnownHostsFile {}", kh.display()),
                "StrictHostKeyChecking accept-new",
                agent_line,
            ],
        )
    };
    let run = |sock: Option<&Path>| {
        let mut c = home.cmd(common::bin());
        c.args(["check", "--json", "--quick", "pod"]);
        if let Some(s) = sock {
            c.env("SSH_AUTH_SOCK", s);
        }
        let o = c.output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (o.status.code(), v[0].clone())
    };
    // IdentityAgent none: the agent in SSH_AUTH_SOCK is not used.
    write_config(&home, &block("IdentityAgent none"));
    let (code, r) = run(Some(&agent.sock));
    assert_eq!(code, Some(1), "{r:#}");
    assert_eq!(r["stage"], "auth", "{r:#}");
    // IdentityAgent PATH (with ~ and a token): used without SSH_AUTH_SOCK.
    let link = home.path().join("agent-127.0.0.1.sock");
    std::os::unix::fs::symlink(&agent.sock, &link).unwrap();
    write_config(&home, &block("IdentityAgent ~/agent-%h.sock"));
    let (code, r) = run(None);
    assert_eq!(code, Some(0), "{r:#}");
    if let Some(ssh) = require_tool("ssh") {
        let o = home
            .cmd(ssh)
            .args(["-o", "BatchMode=yes", "pod", "true"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
}

#[test]
fn dry_runs_create_no_lock_file_or_folder_anywhere() {
    let home = TempHome::new();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    std::fs::write(&cfg, "Host prod\n    HostName 203.0.113.9\n").unwrap();
    let c = cfg.to_str().unwrap();
    for args in [
        vec![
            "add",
            "--dry-run",
            "--config",
            c,
            "ssh root@203.0.113.7 -p 40123",
        ],
        vec!["remove", "--dry-run", "--force", "--config", c, "prod"],
        vec!["fix", "--dry-run", "--config", c],
        vec!["fix", "--probe", "--dry-run", "--config", c],
    ] {
        let o = home.run(&args);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {}",
            stderr(&o)
        );
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["config"], "{args:?} wrote {names:?}");
    }
}

#[test]
fn check_has_force_with_the_one_meaning() {
    let home = TempHome::new();
    let o = home.run(&["check", "--help"]);
    assert!(stdout(&o).contains("--force"), "{}", stdout(&o));
    let o = home.run(&["check", "--force", "--json", "nothing-here"]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
}

fn target_of(config: &str, alias: &str) -> Result<runpod_ssh::probe::Target, String> {
    use runpod_ssh::config::{Document, resolve};
    let ctx = common::test_ctx(Path::new("/h"));
    let r = resolve(
        &Document::parse(config.as_bytes()),
        Path::new("/h/.ssh/config"),
        alias,
        &ctx,
    );
    runpod_ssh::probe::target(alias, &r).map_err(|f| f.error)
}

#[test]
fn check_host_ip_stays_on_for_host_key_alias_with_an_ip_hostname_on_another_port() {
    // sshconnect.c compares the hostname with `[ip]:port`, which differ.
    let t = target_of(
        "Host pod\n HostName 198.51.100.7\n Port 2222\n HostKeyAlias pod\n CheckHostIP yes\n",
        "pod",
    )
    .unwrap();
    let l = t.lookup(Some("198.51.100.7:2222".parse().unwrap()));
    assert_eq!(l.name, "pod");
    assert_eq!(l.ip.as_deref(), Some("[198.51.100.7]:2222"));
    // On port 22 the names are equal: ssh skips the check, so do we.
    let t = target_of(
        "Host pod\n HostName 198.51.100.7\n HostKeyAlias pod\n CheckHostIP yes\n",
        "pod",
    )
    .unwrap();
    assert_eq!(t.lookup(Some("198.51.100.7:22".parse().unwrap())).ip, None);
}

#[test]
fn canonicalize_hostname_on_a_name_fails_closed_at_resolve() {
    let e = target_of(
        "Host pod\n HostName gpu\n CanonicalizeHostname yes\n CanonicalDomains example.net\n",
        "pod",
    )
    .unwrap_err();
    assert!(e.contains("CanonicalizeHostname yes"), "{e}");
    assert!(e.contains("/h/.ssh/config:3"), "{e}");
    // An address is never canonicalised: no reason to stop.
    target_of(
        "Host pod\n HostName 198.51.100.7\n CanonicalizeHostname always\n",
        "pod",
    )
    .unwrap();
}

#[test]
fn path_tokens_ssh_rejects_or_we_cannot_reproduce_never_guess_a_file() {
    // Unknown token: ssh stops ("unknown key"); so does resolve.
    let e = target_of("Host pod\n HostName h\n UserKnownHostsFile ~/kh%Z\n", "pod").unwrap_err();
    assert!(e.contains("unknown key %Z"), "{e}");
    // %j means different things to different ssh versions: no file is
    // guessed, and no key will be accepted (checked at hostkey).
    let t = target_of("Host pod\n HostName h\n UserKnownHostsFile ~/kh%j\n", "pod").unwrap();
    assert!(t.user_known_hosts.is_empty());
    assert!(t.unverifiable.as_deref().unwrap().contains("%j"));
    assert!(t.lookup(None).unverifiable.is_some());
    // GlobalKnownHostsFile gets `~` only (ssh.c), never tokens.
    let t = target_of(
        "Host pod\n HostName h\n GlobalKnownHostsFile ~/g%h\n",
        "pod",
    )
    .unwrap();
    assert_eq!(t.global_known_hosts, [PathBuf::from("/h/g%h")]);
    // %k is the HostKeyAlias lowercased.
    let t = target_of(
        "Host pod\n HostName h\n HostKeyAlias MiXeD\n UserKnownHostsFile ~/%k\n",
        "pod",
    )
    .unwrap();
    assert_eq!(t.user_known_hosts, [PathBuf::from("/h/mixed")]);
}

#[test]
fn hostile_df_output_does_not_crash_the_probe() {
    let out = "::df\nFilesystem 1024-blocks Used Available Capacity Mounted on\nx 1 1 18446744073709551615 1% /\ny 1 1 99999999999999999999999 1% /workspace\n";
    let f = runpod_ssh::probe::parse_facts(out);
    assert_eq!(f.root_free, Some(u64::MAX));
    assert_eq!(f.workspace_free, None);
}

#[test]
fn an_ssh_line_after_more_pre_banner_lines_than_russh_takes_is_said_so() {
    let mut b = "hello\r\n".repeat(25);
    b.push_str("SSH-2.0-OpenSSH_9.2\r\n");
    let why = runpod_ssh::probe::beyond_native_client(b.as_bytes()).unwrap();
    assert!(
        why.contains("after 25 other line(s)") && why.contains("1024"),
        "{why}"
    );
    let long = format!("{}\r\nSSH-2.0-x\r\n", "a".repeat(300));
    assert!(
        runpod_ssh::probe::beyond_native_client(long.as_bytes())
            .unwrap()
            .contains("over 255 bytes")
    );
    let ok = "a\r\nSSH-2.0-x\r\n";
    assert!(runpod_ssh::probe::beyond_native_client(ok.as_bytes()).is_none());
}

#[test]
fn two_probes_in_one_run_never_pin_two_keys_for_one_name() {
    // Two servers, two aliases, one HostKeyAlias (what a relay alternating
    // between servers looks like): both probes see the name as new, but
    // only the first key may be recorded; the second is a change.
    let Some(one) = Sshd::start(&[]) else { return };
    let Some(two) = Sshd::start(&[]) else { return };
    let home = TempHome::new();
    let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
    one.authorize(&public);
    two.authorize(&public);
    let kh = home.ssh_dir().join("kh_race");
    let extra = [
        format!("UserKnownHostsFile {}", kh.display()),
        "StrictHostKeyChecking accept-new".to_string(),
        "HostKeyAlias shared-endpoint".to_string(),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    write_config(
        &home,
        &format!(
            "{}{}",
            one.host_block("a", &key, &extra),
            two.host_block("b", &key, &extra)
        ),
    );
    let o = home.run(&["check", "--json", "--quick", "a", "b"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}\n{v:#}");
    let stages: Vec<&serde_json::Value> =
        v.as_array().unwrap().iter().map(|r| &r["stage"]).collect();
    assert_eq!(
        stages.iter().filter(|s| s.is_null()).count(),
        1,
        "exactly one probe passes: {v:#}"
    );
    let failed = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| !r["stage"].is_null())
        .unwrap();
    assert_eq!(failed["stage"], "hostkey", "{failed:#}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("HOST KEY CHANGED"),
        "{failed:#}"
    );
    assert_eq!(failed["offers"].as_array().unwrap().len(), 0, "{failed:#}");
}
