//! `runpod-ssh key new|list|show|rotate` against ssh-keygen and real sshd
//! servers on 127.0.0.1, each with its own login user and authorized_keys.
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::sshd::{Sshd, UserLock, create_login_users, keygen, keygen_typed, login_user};
use common::{TempHome, require_tool, stderr, stdout};

/// The login users of the rotate tests, created once before any test of
/// this binary starts a program (see `create_login_users`): every test
/// calls this first.
fn users() -> bool {
    static READY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *READY.get_or_init(|| {
        require_tool("sshd").is_some()
            && create_login_users(&[
                "rpka0", "rpka1", "rpka2", "rpkk0", "rpkk1", "rpkk2", "rpkc0", "rpkc1", "rpkc2",
                "rpkd0", "rpkd1", "rpkd2",
            ])
    })
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `type base64` of a public key line (the comment dropped).
fn material(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ssh-keygen -lf PATH`: (bits, fingerprint).
fn keygen_l(path: &Path) -> (String, String) {
    let o = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ssh-keygen -lf {}: {}",
        path.display(),
        stderr(&o)
    );
    let s = stdout(&o);
    let mut w = s.split_whitespace();
    (w.next().unwrap().to_string(), w.next().unwrap().to_string())
}

#[test]
fn key_new_writes_a_pair_ssh_keygen_agrees_with_mode_0600_and_never_overwrites() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let o = home.run(&["key", "new"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let private = home.ssh_dir().join("id_ed25519");
    let public = home.ssh_dir().join("id_ed25519.pub");
    assert_eq!(mode(&private), 0o600);
    assert_eq!(mode(&public), 0o644);
    let pub_line = std::fs::read_to_string(&public).unwrap();
    assert!(pub_line.trim_end().ends_with(" runpod-key"), "{pub_line}");
    let text = stdout(&o);
    assert!(text.contains(pub_line.trim()), "{text}");
    assert!(
        text.contains("RunPod → Settings → SSH Public Keys"),
        "{text}"
    );
    assert!(text.contains("runpod-ssh add"), "{text}");
    assert!(!text.contains("-----BEGIN"), "{text}");
    // ssh-keygen derives the same public key and fingerprint.
    let y = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&private)
        .output()
        .unwrap();
    assert!(y.status.success(), "{}", stderr(&y));
    assert_eq!(material(&stdout(&y)), material(&pub_line));
    let (bits, fp) = keygen_l(&private);
    assert_eq!(bits, "256");
    assert!(text.contains(&fp), "fingerprint {fp} not in {text}");
    assert_eq!(keygen_l(&public).1, fp);

    // Never overwritten: exit 2, both files byte-identical.
    let before = std::fs::read(&private).unwrap();
    let o = home.run(&["key", "new", "-C", "other"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&private).unwrap(), before);
    assert_eq!(std::fs::read_to_string(&public).unwrap(), pub_line);

    // A .pub alone in the way also refuses, and nothing is written.
    std::fs::write(home.ssh_dir().join("lonely.pub"), "x").unwrap();
    let o = home.run(&["key", "new", "~/.ssh/lonely"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!home.ssh_dir().join("lonely").exists());
}

#[test]
fn key_new_passphrase_opens_with_it_and_not_without_and_ecdsa_rsa_types() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let pass_file = home.path().join("pass.txt");
    std::fs::write(&pass_file, "correct horse\nignored second line\n").unwrap();
    let o = home
        .cmd(common::bin())
        .args(["key", "new", "~/.ssh/enc", "--passphrase", "-C", "enc-key"])
        .env("RUNPOD_SSH_PASSPHRASE_FILE", &pass_file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let enc = home.ssh_dir().join("enc");
    assert_eq!(mode(&enc), 0o600);
    let with = Command::new("ssh-keygen")
        .args(["-y", "-P", "correct horse", "-f"])
        .arg(&enc)
        .output()
        .unwrap();
    assert!(with.status.success(), "{}", stderr(&with));
    let pub_line = std::fs::read_to_string(home.ssh_dir().join("enc.pub")).unwrap();
    assert_eq!(material(&stdout(&with)), material(&pub_line));
    // The comment survives encryption in the .pub.
    assert!(pub_line.trim_end().ends_with(" enc-key"), "{pub_line}");
    let without = Command::new("ssh-keygen")
        .args(["-y", "-P", "", "-f"])
        .arg(&enc)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!without.status.success(), "opened without its passphrase");
    // Without a terminal or the file, --passphrase is bad input.
    let o = home.run(&["key", "new", "~/.ssh/enc2", "--passphrase"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!home.ssh_dir().join("enc2").exists());

    let o = home.run(&["key", "new", "~/.ssh/ec", "-t", "ecdsa"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (bits, _) = keygen_l(&home.ssh_dir().join("ec"));
    assert_eq!(bits, "256");
}

#[test]
fn key_list_reports_types_bits_fingerprints_encryption_lookalikes_and_users() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    keygen(&d, "id_ed25519", "");
    keygen_typed(&d, "id_rsa", "rsa", "");
    keygen_typed(&d, "id_ecdsa", "ecdsa", "");
    keygen(&d, "id_enc", "secret");
    // A mismatched pair: id_mis with another key's .pub.
    keygen(&d, "id_mis", "");
    let (_, other) = keygen(home.path(), "other", "");
    std::fs::write(d.join("id_mis.pub"), format!("{other}\n")).unwrap();
    std::fs::write(
        d.join("work.ppk"),
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n",
    )
    .unwrap();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f"])
        .arg(d.join("legacy"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_file(d.join("legacy.pub")).unwrap();
    let ed_pub = std::fs::read_to_string(d.join("id_ed25519.pub")).unwrap();
    std::fs::write(
        d.join("bare.pub"),
        ed_pub.split_whitespace().nth(1).unwrap(),
    )
    .unwrap();
    std::fs::write(
        d.join("fingerprint.txt"),
        format!("{}\n", keygen_l(&d.join("id_ed25519")).1),
    )
    .unwrap();
    std::fs::set_permissions(d.join("id_ecdsa"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(
        d.join("config"),
        "Host runpod-a\n  HostName 203.0.113.7\n  Port 40123\n  User root\n  IdentityFile ~/.ssh/id_ed25519\nHost runpod-b\n  HostName 203.0.113.8\n  Port 40124\n  User root\n  IdentityFile ~/.ssh/missing_key\n",
    )
    .unwrap();

    let o = home.run(&["key", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let arr = v.as_array().unwrap();
    let get = |name: &str| {
        arr.iter()
            .find(|k| k["path"].as_str().unwrap().ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("{name} not listed: {v:#}"))
    };
    for (name, kind, bits) in [
        ("id_ed25519", "ED25519", 256),
        ("id_rsa", "RSA", 3072),
        ("id_ecdsa", "ECDSA", 256),
        ("id_enc", "ED25519", 256),
    ] {
        let k = get(name);
        assert_eq!(k["type"], kind, "{k}");
        assert_eq!(k["bits"], bits, "{k}");
        let (_, fp) = keygen_l(&d.join(name));
        assert_eq!(k["fingerprint"], fp.as_str(), "{name}");
        assert_eq!(k["encrypted"], name == "id_enc", "{k}");
    }
    // Encrypted: the comment comes from its .pub.
    assert_eq!(get("id_enc")["comment"], "id_enc");
    assert_eq!(
        get("id_ed25519")["used_by"],
        serde_json::json!(["runpod-a"])
    );
    let problems = |name: &str| get(name)["problems"].to_string();
    assert!(
        problems("id_ecdsa").contains("0644"),
        "{}",
        problems("id_ecdsa")
    );
    assert!(
        problems("id_mis").contains("does not match"),
        "{}",
        problems("id_mis")
    );
    assert!(
        problems("work.ppk").contains("PuTTY"),
        "{}",
        problems("work.ppk")
    );
    assert!(
        problems("legacy").contains("ssh-keygen -p"),
        "{}",
        problems("legacy")
    );
    assert!(
        problems("bare.pub").contains("ssh-ed25519"),
        "{}",
        problems("bare.pub")
    );
    assert!(
        problems("fingerprint.txt").contains("fingerprint"),
        "{}",
        problems("fingerprint.txt")
    );
    assert!(
        problems("missing_key").contains("missing"),
        "{}",
        problems("missing_key")
    );
    assert_eq!(
        get("missing_key")["used_by"],
        serde_json::json!(["runpod-b"])
    );
    // A pair is listed once, by its private key; config is not a key.
    assert!(
        !arr.iter()
            .any(|k| k["path"].as_str().unwrap().ends_with("id_ed25519.pub"))
    );
    assert!(
        !arr.iter()
            .any(|k| k["path"].as_str().unwrap().ends_with("/config"))
    );

    // The text form names the same things.
    let o = home.run(&["key", "list"]);
    let t = stdout(&o);
    assert!(t.contains("FINGERPRINT") && t.contains("PuTTY"), "{t}");
    assert!(!t.contains("-----BEGIN"), "{t}");
}

#[test]
fn key_show_prints_only_the_public_half_for_a_file_or_an_alias() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (_, line) = keygen(&d, "id_ed25519", "pw");
    std::fs::write(
        d.join("config"),
        "Host runpod-a\n  HostName 203.0.113.7\n  Port 40123\n  User root\n  IdentityFile ~/.ssh/id_ed25519\n",
    )
    .unwrap();
    for args in [
        vec!["key", "show"],
        vec!["key", "show", "~/.ssh/id_ed25519"],
        vec!["key", "show", "~/.ssh/id_ed25519.pub"],
        vec!["key", "show", "runpod-a"],
    ] {
        let o = home.run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o).trim(), line, "{args:?}");
    }
    std::fs::write(d.join("k.ppk"), "PuTTY-User-Key-File-3: ssh-ed25519\n").unwrap();
    let o = home.run(&["key", "show", "~/.ssh/k.ppk"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("PuTTY"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------
// rotate

/// One pod: a login user with its own authorized_keys and its sshd.
struct Pod {
    user: String,
    home: PathBuf,
    sshd: Option<Sshd>,
    port: u16,
    /// The login user is this test's alone (dropped last).
    _user: UserLock,
}

impl Pod {
    fn authorized_keys(&self) -> Vec<u8> {
        std::fs::read(self.home.join(".ssh/authorized_keys")).unwrap()
    }

    fn start(&mut self) {
        let s = Sshd::start_for(&self.user, &[]).expect("sshd");
        self.port = s.port;
        self.sshd = Some(s);
    }
}

/// Three pods for `tag`; `initial(i, old, other)` is pod i's authorized_keys.
fn pods(
    ready: bool,
    tag: &str,
    old: &str,
    other: &str,
    initial: impl Fn(usize, &str, &str) -> Vec<u8>,
) -> Option<Vec<Pod>> {
    if !ready {
        return None;
    }
    let mut out = Vec::new();
    for i in 0..3 {
        let user = format!("rpk{tag}{i}");
        let (home, lock) = login_user(&user, &initial(i, old, other));
        let mut p = Pod {
            user,
            home,
            sshd: None,
            port: 0,
            _user: lock,
        };
        p.start();
        out.push(p);
    }
    Some(out)
}

fn entry(alias: &str, pod: &Pod, identity: &str) -> String {
    format!(
        "Host {alias}\n    HostName 127.0.0.1\n    Port {}\n    User {}\n    IdentityFile {identity}\n    IdentitiesOnly yes\n    StrictHostKeyChecking accept-new\n\n",
        pod.port, pod.user
    )
}

/// `ssh` logs in to `pod` offering only `key`.
fn ssh_with_key(home: &TempHome, pod: &Pod, key: &Path) -> bool {
    ssh_with_key_output(home, pod, key).status.success()
}

/// [`ssh_with_key`], with ssh's output (why it failed).
fn ssh_with_key_output(home: &TempHome, pod: &Pod, key: &Path) -> std::process::Output {
    home.cmd("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"])
        .arg("-i")
        .arg(key)
        .arg("-p")
        .arg(pod.port.to_string())
        .arg(format!("{}@127.0.0.1", pod.user))
        .arg("true")
        .output()
        .unwrap()
}

/// The identity files `ssh -G` names for `alias`, in order.
fn identities(home: &TempHome, alias: &str) -> Vec<PathBuf> {
    let g = common::ssh_g(
        home,
        &require_tool("ssh").unwrap(),
        &home.ssh_dir().join("config"),
        alias,
    )
    .expect("ssh -G");
    g.into_iter()
        .filter(|(k, _)| k == "identityfile")
        .map(|(_, v)| PathBuf::from(v.replacen('~', home.path().to_str().unwrap(), 1)))
        .collect()
}

/// `ssh ALIAS true` through the config (its host key pinned as it goes).
fn ssh_alias(home: &TempHome, alias: &str) -> bool {
    home.cmd("ssh")
        .arg("-F")
        .arg(home.ssh_dir().join("config"))
        .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR", alias, "true"])
        .output()
        .unwrap()
        .status
        .success()
}

fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        // TempHome's own password-database copy, not ours.
        if p.file_name().is_some_and(|n| n == ".passwd") {
            continue;
        }
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
        }
    }
    out.sort();
    out
}

#[test]
fn rotate_three_hosts_one_down_then_finishes_keeps_others_keys_remove_old_and_dry_run() {
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (old, old_line) = keygen(&d, "id_old", "");
    let (_, other_line) = keygen(home.path(), "someone_else", "");
    // Each pod's file holds the old key and someone else's, in three shapes:
    // CRLF without a final newline; an option-prefixed line; a comment.
    let initial = |i: usize, old: &str, other: &str| -> Vec<u8> {
        match i {
            0 => format!("# team\r\n{other}\r\n{old}").into_bytes(),
            1 => format!("from=\"127.0.0.1\",command=\"echo a b\" {other}\n{old}\n").into_bytes(),
            _ => format!("{old}\n\n# keep me\n{other}\n").into_bytes(),
        }
    };
    let Some(mut pods) = pods(ready, "a", &old_line, &other_line, initial) else {
        return;
    };
    let config = d.join("config");
    let mut text = String::from("# my config\n\n");
    for (i, p) in pods.iter().enumerate() {
        text.push_str(&entry(&format!("runpod-{i}"), p, "~/.ssh/id_old"));
    }
    text.push_str("Host *\n    Compression no\n");
    std::fs::write(&config, &text).unwrap();
    let before: Vec<Vec<u8>> = pods.iter().map(|p| p.authorized_keys()).collect();

    // --dry-run changes nothing anywhere (no key, no journal, no pin).
    let home_before = tree(home.path());
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_new", "--dry-run"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("would create"), "{}", stdout(&o));
    assert_eq!(tree(home.path()), home_before);
    for (p, b) in pods.iter().zip(&before) {
        assert_eq!(&p.authorized_keys(), b);
    }

    // Pod 2 is down: it keeps its old key and config; the others rotate.
    pods[2].sshd = None;
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_new"]);
    println!(
        "--- first run (runpod-2 down), exit {:?}\n{}{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let new = d.join("id_new");
    assert_eq!(mode(&new), 0o600);
    let new_line = std::fs::read_to_string(d.join("id_new.pub"))
        .unwrap()
        .trim()
        .to_string();
    for i in 0..2 {
        let ak = pods[i].authorized_keys();
        // Every byte kept, the new line appended in the file's own style.
        let end = if i == 0 { "\r\n" } else { "\n" };
        let sep = if i == 0 { "\r\n" } else { "" };
        let expect = [
            before[i].clone(),
            format!("{sep}{new_line}{end}").into_bytes(),
        ]
        .concat();
        assert_eq!(
            String::from_utf8_lossy(&ak),
            String::from_utf8_lossy(&expect)
        );
        assert_eq!(
            identities(&home, &format!("runpod-{i}")),
            vec![new.clone(), old.clone()]
        );
        assert!(
            ssh_with_key(&home, &pods[i], &new),
            "ssh with the new key on pod {i}"
        );
        assert!(ssh_alias(&home, &format!("runpod-{i}")));
    }
    assert_eq!(pods[2].authorized_keys(), before[2]);
    assert_eq!(identities(&home, "runpod-2"), vec![old.clone()]);
    let t = stdout(&o);
    assert!(t.contains("runpod-2: failed at connect"), "{t}");
    assert!(t.contains("keeps ~/.ssh/id_old"), "{t}");
    assert!(t.contains("Settings → SSH Public Keys"), "{t}");
    assert!(t.contains("second IdentityFile"), "{t}");
    // One backup for the run (two hosts switched): the config as it was.
    let backups: Vec<PathBuf> = std::fs::read_dir(d.join(".runpod-ssh-backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".key"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), text);
    let journal = d.join("runpod-ssh-rotate.json");
    assert_eq!(mode(&journal), 0o600);

    // Back on a new port (new host key), re-added as a user would.
    pods[2].start();
    let cmd = format!(
        "ssh {}@127.0.0.1 -p {} -i ~/.ssh/id_old",
        pods[2].user, pods[2].port
    );
    let o = home.run(&["add", "--name", "runpod-2", "--no-vscode", &cmd]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_new"]);
    println!(
        "--- second run, exit {:?}\n{}{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("runpod-0: already uses"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        identities(&home, "runpod-2"),
        vec![new.clone(), old.clone()]
    );
    assert!(ssh_with_key(&home, &pods[2], &new));
    assert!(
        !journal.exists(),
        "the journal is gone once every host finished"
    );
    // The old private key is never deleted.
    assert!(old.exists());

    // --remove-old: sshd refuses the old key; someone else's line stays.
    let o = home.run(&[
        "key",
        "rotate",
        "runpod-1",
        "--new",
        "~/.ssh/id_new",
        "--remove-old",
    ]);
    println!(
        "--- remove-old, exit {:?}\n{}{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(
        !ssh_with_key(&home, &pods[1], &old),
        "the old key still logs in"
    );
    assert!(ssh_with_key(&home, &pods[1], &new));
    let ak = String::from_utf8(pods[1].authorized_keys()).unwrap();
    assert_eq!(
        ak,
        format!("from=\"127.0.0.1\",command=\"echo a b\" {other_line}\n{new_line}\n")
    );
    assert!(
        stdout(&o).contains("remove the old key from the account"),
        "{}",
        stdout(&o)
    );
    assert!(ssh_alias(&home, "runpod-1"));
}

/// A tiny deterministic generator (no extra dependency), seeded by time.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Every host logs in with the first key its config names (`ssh -G`).
fn every_host_logs_in_with_its_first_key(home: &TempHome, pods: &[Pod], when: &str) {
    for (i, p) in pods.iter().enumerate() {
        let first = identities(home, &format!("runpod-{i}"))[0].clone();
        assert_logs_in(home, p, &first, &format!("{when}: runpod-{i}"));
    }
}

/// `ssh` logs in to `pod` with `key`; else a failure that says why.
fn assert_logs_in(home: &TempHome, pod: &Pod, key: &Path, when: &str) {
    let o = ssh_with_key_output(home, pod, key);
    if !o.status.success() {
        panic!(
            "{when}: {} refuses {}: {}\n{}",
            pod.user,
            key.display(),
            stderr(&o),
            rotation_state(home, pod)
        );
    }
}

/// What a failed check saw: which keys the pod's authorized_keys holds,
/// whether a second try logs in, the config and the journal.
fn rotation_state(home: &TempHome, pod: &Pod) -> String {
    let d = home.ssh_dir();
    let ak = String::from_utf8_lossy(&pod.authorized_keys()).into_owned();
    let mut held = Vec::new();
    for name in ["id_old", "id_k1", "id_k2"] {
        let Ok(line) = std::fs::read_to_string(d.join(format!("{name}.pub"))) else {
            continue;
        };
        let m = material(&line);
        held.push(format!(
            "{name}: {}",
            if ak.contains(&m) {
                "in authorized_keys"
            } else {
                "absent"
            }
        ));
        std::thread::sleep(Duration::from_millis(500));
        held.push(format!(
            "  {name} again: {}",
            if ssh_with_key(home, pod, &d.join(name)) {
                "logs in"
            } else {
                "refused"
            }
        ));
    }
    let log = pod
        .sshd
        .as_ref()
        .and_then(|s| std::fs::read_to_string(&s.log).ok())
        .unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    format!(
        "{}\nauthorized_keys:\n{ak}\nsshd log (last lines, newest first):\n{}\nconfig:\n{}\njournal:\n{}",
        held.join("\n"),
        tail.join("\n"),
        std::fs::read_to_string(d.join("config")).unwrap_or_default(),
        std::fs::read_to_string(d.join("runpod-ssh-rotate.json")).unwrap_or_default()
    )
}

#[test]
fn rotate_killed_at_random_moments_never_locks_a_host_out_and_the_next_run_completes() {
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (_, old_line) = keygen(&d, "id_old", "");
    let (_, other_line) = keygen(home.path(), "someone_else", "");
    let Some(pods) = pods(ready, "k", &old_line, &other_line, |_, o, x| {
        format!("{x}\n{o}\n").into_bytes()
    }) else {
        return;
    };
    let mut text = String::new();
    for (i, p) in pods.iter().enumerate() {
        text.push_str(&entry(&format!("runpod-{i}"), p, "~/.ssh/id_old"));
    }
    std::fs::write(d.join("config"), &text).unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("seed {seed}");
    let mut rng = Lcg(seed);
    // Two rotations (the second with --remove-old), each killed repeatedly.
    for (new, extra) in [
        ("~/.ssh/id_k1", None),
        ("~/.ssh/id_k2", Some("--remove-old")),
    ] {
        let mut kills = 0;
        for _round in 0..5 {
            let mut c = home.cmd(common::bin());
            c.args(["key", "rotate", "--new", new]).args(extra);
            c.stdout(Stdio::null()).stderr(Stdio::null());
            let mut child = c.spawn().unwrap();
            let wait = Duration::from_millis(20 + rng.next(900));
            std::thread::sleep(wait);
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
            }
            let _ = child.wait();
            every_host_logs_in_with_its_first_key(
                &home,
                &pods,
                &format!("after a kill at {wait:?} (seed {seed})"),
            );
        }
        println!("{new}: {kills} kills");
        let o = home.run(&["key", "rotate", "--new", new]);
        assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
        let expect = home.path().join(new.trim_start_matches("~/"));
        for (i, p) in pods.iter().enumerate() {
            assert_eq!(identities(&home, &format!("runpod-{i}"))[0], expect);
            assert_logs_in(&home, p, &expect, "after the run that completes");
            // Someone else's key survives every kill.
            assert!(String::from_utf8_lossy(&p.authorized_keys()).contains(&other_line));
        }
    }
    // The second rotation removed id_k1 (its old key) everywhere... once a
    // run with --remove-old finished for that host.
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_k2", "--remove-old"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    for p in &pods {
        assert!(!ssh_with_key(&home, p, &d.join("id_k1")));
        assert_logs_in(&home, p, &d.join("id_k2"), "after the last run");
    }
}

#[test]
fn key_list_and_show_read_security_key_files_as_ssh_keygen_does() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    // No FIDO token here: an sk-ssh-ed25519 pair made from parts, as
    // ssh-keygen -t ed25519-sk writes it (the private file holds the
    // public key, flags and key handle only).
    let home = TempHome::new();
    let d = home.ssh_dir();
    let ed = ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]);
    let public = ssh_key::public::SkEd25519::new(ed.public, "ssh:");
    let pair = ssh_key::private::SkEd25519::new(public.clone(), 0x01, vec![9u8; 64]).unwrap();
    let key =
        ssh_key::PrivateKey::new(ssh_key::private::KeypairData::SkEd25519(pair), "sk-key").unwrap();
    let path = d.join("id_ed25519_sk");
    std::fs::write(
        &path,
        key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let line = key.public_key().to_openssh().unwrap();
    std::fs::write(d.join("id_ed25519_sk.pub"), format!("{line}\n")).unwrap();

    let y = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert!(y.status.success(), "{}", stderr(&y));
    assert_eq!(material(&stdout(&y)), material(&line));
    let (bits, fp) = keygen_l(&path);
    let o = home.run(&["key", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let k = &v.as_array().unwrap()[0];
    assert_eq!(k["type"], "ED25519-SK");
    assert_eq!(k["bits"].to_string(), bits);
    assert_eq!(k["fingerprint"], fp.as_str());
    assert_eq!(k["comment"], "sk-key");
    let o = home.run(&["key", "show", "~/.ssh/id_ed25519_sk"]);
    assert_eq!(stdout(&o).trim(), line);
}

/// `key push`, `key list` and `key rotate --account` against a fake RunPod
/// API on 127.0.0.1 (issue 11): the account keeps every other key.
#[test]
fn rotate_account_registers_the_new_key_and_remove_old_takes_only_the_old_one_off() {
    use common::fake_api::FakeApi;
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (_, old_line) = keygen(&d, "id_old", "");
    let (_, other_line) = keygen(home.path(), "someone_else", "");
    let Some(pods) = pods(ready, "c", &old_line, &other_line, |_, old, _| {
        format!("{old}\n").into_bytes()
    }) else {
        return;
    };
    std::fs::write(
        d.join("config"),
        entry("runpod-0", &pods[0], "~/.ssh/id_old"),
    )
    .unwrap();
    let api = FakeApi::start();
    api.state.lock().unwrap().keys = vec![other_line.clone()];
    let run = |args: &[&str]| {
        let mut c = home.cmd(common::bin());
        api.env(&mut c);
        c.args(args).output().unwrap()
    };
    // push: the old key joins the account, the other key stays; twice is once.
    let o = run(&["key", "push", "~/.ssh/id_old"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("is registered on your RunPod account (2 keys there"),
        "{}",
        stdout(&o)
    );
    let o = run(&["key", "push", "~/.ssh/id_old.pub"]);
    assert!(stdout(&o).contains("already registered"), "{}", stdout(&o));
    assert_eq!(
        api.state.lock().unwrap().keys,
        vec![other_line.clone(), old_line.clone()]
    );
    // list: which local keys the account holds.
    let o = run(&["key", "list"]);
    let line = stdout(&o)
        .lines()
        .find(|l| l.contains("id_old"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("registered"), "{}", stdout(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["key", "list", "--json"]).stdout).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|k| k["registered"] == true)
    );
    // rotate --account --remove-old: new key on, old key off, the other kept.
    let o = run(&[
        "key",
        "rotate",
        "runpod-0",
        "--new",
        "~/.ssh/id_new",
        "--account",
        "--remove-old",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("RunPod account:"), "{}", stdout(&o));
    let new_line = std::fs::read_to_string(d.join("id_new.pub")).unwrap();
    let keys = api.state.lock().unwrap().keys.clone();
    let mats: Vec<String> = keys.iter().map(|k| material(k)).collect();
    assert_eq!(
        mats,
        vec![material(&other_line), material(&new_line)],
        "{keys:?}"
    );
    api.assert_schemas_held();
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!text.contains(common::fake_api::KEY));
}

/// The same promise, step by step: a debug-build hook
/// (`RUNPOD_SSH_TEST_KILL_AT`) kills the run the moment the first host
/// reaches each named point (an action done, not yet recorded; a record
/// written), over two rotations, the second with --remove-old. After
/// every kill each host logs in with the key its config names, and a
/// plain run then completes.
#[test]
fn rotate_killed_at_every_step_never_locks_a_host_out_and_the_next_run_completes() {
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (_, old_line) = keygen(&d, "id_old", "");
    let (_, other_line) = keygen(home.path(), "someone_else", "");
    let Some(pods) = pods(ready, "d", &old_line, &other_line, |_, o, x| {
        format!("{x}\n{o}\n").into_bytes()
    }) else {
        return;
    };
    let mut text = String::new();
    for (i, p) in pods.iter().enumerate() {
        text.push_str(&entry(&format!("runpod-{i}"), p, "~/.ssh/id_old"));
    }
    std::fs::write(d.join("config"), &text).unwrap();
    let points = runpod_ssh::commands::key::KILL_POINTS;
    for (new, extra) in [
        ("~/.ssh/id_k1", None),
        ("~/.ssh/id_k2", Some("--remove-old")),
    ] {
        let mut killed = Vec::new();
        for point in points {
            let mut c = home.cmd(common::bin());
            c.args(["key", "rotate", "--new", new]).args(extra);
            c.env("RUNPOD_SSH_TEST_KILL_AT", point);
            c.stdout(Stdio::null()).stderr(Stdio::null());
            let st = c.status().unwrap();
            if st.code().is_none() {
                killed.push(*point);
            }
            every_host_logs_in_with_its_first_key(
                &home,
                &pods,
                &format!("{new} {extra:?}: after a kill at {point}"),
            );
        }
        // The hook really stopped runs (else this test proves nothing).
        assert!(killed.len() >= 3, "{new}: killed only at {killed:?}");
        let o = home.run(&["key", "rotate", "--new", new]);
        assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
        let expect = home.path().join(new.trim_start_matches("~/"));
        for (i, p) in pods.iter().enumerate() {
            assert_eq!(identities(&home, &format!("runpod-{i}"))[0], expect);
            assert_logs_in(&home, p, &expect, "after the run that completes");
            assert!(String::from_utf8_lossy(&p.authorized_keys()).contains(&other_line));
        }
        assert!(!d.join("runpod-ssh-rotate.json").exists());
    }
    for p in &pods {
        assert!(!ssh_with_key(&home, p, &d.join("id_k1")));
    }
}

// ---------------------------------------------------------------------------
// hostile review (issue 10): keys ssh would refuse, paths the config cannot
// name, and a second alias on the same login

/// The files under the home (names only when they differ), without the
/// lock file every rotation takes: "nothing written" means no key, no
/// journal, no config change.
fn files_but_locks(home: &TempHome) -> Vec<(PathBuf, Vec<u8>)> {
    tree(home.path())
        .into_iter()
        .filter(|(p, _)| !p.to_string_lossy().ends_with(".lock"))
        .collect()
}

fn names(t: &[(PathBuf, Vec<u8>)]) -> Vec<&Path> {
    t.iter().map(|(p, _)| p.as_path()).collect()
}

/// An entry for a host nothing listens on (the refusals below come before
/// any connection).
fn unreachable_entry(alias: &str, identity: &str) -> String {
    format!(
        "Host {alias}\n    HostName 127.0.0.1\n    Port 9\n    User root\n    IdentityFile {identity}\n"
    )
}

#[test]
fn rotate_refuses_a_new_key_ssh_would_refuse_for_its_permissions_before_any_host() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    keygen(&d, "id_old", "");
    keygen(&d, "id_loose", "");
    std::fs::set_permissions(d.join("id_loose"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = unreachable_entry("runpod-0", "~/.ssh/id_old");
    std::fs::write(d.join("config"), &config).unwrap();
    let before = files_but_locks(&home);
    // ssh ignores such a key ("UNPROTECTED PRIVATE KEY FILE"): naming it
    // first, and with --remove-old taking the old key off, would lock ssh out.
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_loose", "--remove-old"]);
    assert_eq!(o.status.code(), Some(2), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("0644"), "{}", stderr(&o));
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
    let after = files_but_locks(&home);
    assert!(
        after == before,
        "{:?} became {:?}",
        names(&before),
        names(&after)
    );
}

#[test]
fn rotate_refuses_a_new_key_path_the_config_cannot_name_before_any_host() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    keygen(&d, "id_old", "");
    std::fs::write(
        d.join("config"),
        unreachable_entry("runpod-0", "~/.ssh/id_old"),
    )
    .unwrap();
    let before = files_but_locks(&home);
    // A quote cannot be written portably, `%` would be expanded by ssh:
    // either way the config would name another file than the key.
    for new in ["~/.ssh/my \"q\" key", "~/.ssh/100%d"] {
        let o = home.run(&["key", "rotate", "--new", new]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{new}: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stderr(&o).contains("IdentityFile"), "{new}: {}", stderr(&o));
        let after = files_but_locks(&home);
        assert!(
            after == before,
            "{new}: {:?} became {:?}",
            names(&before),
            names(&after)
        );
    }
}

/// One pod for `user` (a login user of `users()`), holding `content`.
fn one_pod(ready: bool, user: &str, content: &[u8]) -> Option<Pod> {
    if !ready {
        return None;
    }
    let (home, lock) = login_user(user, content);
    let mut p = Pod {
        user: user.to_string(),
        home,
        sshd: None,
        port: 0,
        _user: lock,
    };
    p.start();
    Some(p)
}

#[test]
fn rotate_writes_a_relative_new_path_absolute_so_ssh_finds_it_from_any_folder() {
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (_, old_line) = keygen(&d, "id_old", "");
    let Some(pod) = one_pod(ready, "rpka0", format!("{old_line}\n").as_bytes()) else {
        return;
    };
    std::fs::write(d.join("config"), entry("runpod-0", &pod, "~/.ssh/id_old")).unwrap();
    let work = home.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let o = home
        .cmd(common::bin())
        .args(["key", "rotate", "--new", "relkey"])
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let key = work.join("relkey");
    assert!(key.is_file());
    // ssh reads a relative IdentityFile from the folder it runs in.
    assert_eq!(identities(&home, "runpod-0")[0], key);
    let cfg = std::fs::read_to_string(d.join("config")).unwrap();
    assert!(cfg.contains("IdentityFile ~/work/relkey"), "{cfg}");
}

#[test]
fn rotate_remove_old_keeps_the_old_line_while_another_alias_logs_in_to_the_same_account_with_it() {
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (old, old_line) = keygen(&d, "id_old", "");
    let Some(pod) = one_pod(ready, "rpka1", format!("{old_line}\n").as_bytes()) else {
        return;
    };
    let both = format!(
        "{}{}",
        entry("runpod-0", &pod, "~/.ssh/id_old"),
        entry("runpod-0-again", &pod, "~/.ssh/id_old")
    );
    std::fs::write(d.join("config"), &both).unwrap();
    let o = home.run(&[
        "key",
        "rotate",
        "runpod-0",
        "--new",
        "~/.ssh/id_new",
        "--remove-old",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("runpod-0-again"), "{}", stdout(&o));
    // The other entry still logs in with the key it names.
    assert!(
        ssh_alias(&home, "runpod-0-again"),
        "runpod-0-again locked out"
    );
    assert!(ssh_with_key(&home, &pod, &old));
    // runpod-0 itself did switch (the old key second).
    assert_eq!(
        identities(&home, "runpod-0"),
        vec![d.join("id_new"), old.clone()]
    );
    // Both in one run: the old line goes only after runpod-0-again switched.
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_new", "--remove-old"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(!ssh_with_key(&home, &pod, &old));
    assert!(ssh_alias(&home, "runpod-0") && ssh_alias(&home, "runpod-0-again"));
}

#[test]
fn rotate_through_a_login_that_prints_a_banner_first_keeps_every_byte() {
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    if !ready {
        return;
    }
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (_, old_line) = keygen(&d, "id_old", "");
    let (_, other_line) = keygen(home.path(), "someone_else", "");
    let initial = format!("{other_line}\r\n{old_line}");
    let (user_home, lock) = login_user("rpka2", initial.as_bytes());
    // A login that greets on stdout before every command, as a .bashrc or
    // a ForceCommand wrapper may.
    let sshd = Sshd::start_for(
        "rpka2",
        &[r#"ForceCommand printf '\033[31mWelcome to the pod\n'; eval "$SSH_ORIGINAL_COMMAND""#],
    )
    .expect("sshd");
    let pod = Pod {
        user: "rpka2".into(),
        home: user_home,
        port: sshd.port,
        sshd: Some(sshd),
        _user: lock,
    };
    std::fs::write(d.join("config"), entry("runpod-0", &pod, "~/.ssh/id_old")).unwrap();
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_new", "--remove-old"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let new_line = std::fs::read_to_string(d.join("id_new.pub")).unwrap();
    assert_eq!(
        String::from_utf8(pod.authorized_keys()).unwrap(),
        format!("{other_line}\r\n{}\r\n", new_line.trim())
    );
    assert!(ssh_alias(&home, "runpod-0"));
}

#[test]
fn rotate_escapes_the_new_keys_comment_and_explains_an_old_key_that_is_only_a_pub() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    keygen(&d, "id_old", "");
    // A key file's comment is text from a file: it must not drive the terminal.
    let st = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "evil\x1b]0;owned\x07\x1b[2J",
            "-f",
        ])
        .arg(d.join("id_evil"))
        .status()
        .unwrap();
    assert!(st.success());
    // An agent-held key: the config names only its .pub.
    std::fs::write(
        d.join("config"),
        unreachable_entry("runpod-0", "~/.ssh/id_old.pub"),
    )
    .unwrap();
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_evil"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert!(out.contains("evil"), "{out}");
    assert!(out.contains("public key"), "{out}");
    assert!(out.contains("private key"), "{out}");
}

#[test]
fn rotate_refuses_a_journal_others_can_write_as_ssh_refuses_such_a_config() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    keygen(&d, "id_old", "");
    // Someone else's key, planted as "the key an unfinished run rotates to":
    // without --new it would go onto every pod.
    keygen(&d, "planted", "");
    std::fs::write(
        d.join("config"),
        unreachable_entry("runpod-0", "~/.ssh/id_old"),
    )
    .unwrap();
    let journal = d.join("runpod-ssh-rotate.json");
    let body = serde_json::json!({"version": 0, "hosts": [{
        "alias": "runpod-0",
        "old_raw": "~/.ssh/id_old",
        "old": d.join("id_old"),
        "new": d.join("planted"),
        "remove_old": false,
        "step": "started"
    }]});
    std::fs::write(&journal, body.to_string()).unwrap();
    std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(0o666)).unwrap();
    let before = files_but_locks(&home);
    let o = home.run(&["key", "rotate"]);
    assert_eq!(o.status.code(), Some(2), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("0666"), "{}", stderr(&o));
    let after = files_but_locks(&home);
    assert!(
        after == before,
        "{:?} became {:?}",
        names(&before),
        names(&after)
    );
    // The same journal at 0600 is trusted (the run then fails to connect).
    std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = home.run(&["key", "rotate"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("planted"), "{}", stdout(&o));
}

/// sshd runs a command as `LOGIN_SHELL -c COMMAND`: the edit must work
/// whatever the account's shell is (csh and tcsh end a quoted string at a
/// newline).
#[test]
fn authorized_keys_write_runs_under_every_login_shell_here() {
    use runpod_ssh::keys::{WRITE_SCRIPT, cksum, sh_command};
    let mut ran = Vec::new();
    for shell in ["sh", "dash", "bash", "zsh", "tcsh", "csh", "fish"] {
        let Ok(path) = which(shell) else {
            continue;
        };
        let home = tempfile::tempdir().unwrap();
        let new = b"ssh-ed25519 AAAA new\n";
        let cmd = sh_command(WRITE_SCRIPT, &["missing", &cksum(new)]);
        let mut child = Command::new(&path)
            .arg("-c")
            .arg(&cmd)
            .env("HOME", home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(new).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let ak = home.path().join(".ssh/authorized_keys");
        assert_eq!(std::fs::read(&ak).unwrap(), new, "{shell}");
        assert_eq!(mode(&ak), 0o600, "{shell}");
        ran.push(shell);
    }
    assert!(ran.contains(&"sh"), "{ran:?}");
    println!("shells: {ran:?}");
}

fn which(name: &str) -> Result<PathBuf, ()> {
    let o = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map_err(|_| ())?;
    let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
    if o.status.success() && p.starts_with('/') {
        Ok(PathBuf::from(p))
    } else {
        Err(())
    }
}

#[test]
fn rotate_remove_old_on_a_server_that_accepts_any_key_says_the_refusal_cannot_be_proven() {
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    if !ready {
        return;
    }
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (_, old_line) = keygen(&d, "id_old", "");
    let (user_home, lock) = login_user("rpka2", format!("{old_line}\n").as_bytes());
    // `echo %t %k` vouches for whatever key is offered.
    let sshd = Sshd::start_for(
        "rpka2",
        &[
            "AuthorizedKeysCommand /bin/echo %t %k",
            "AuthorizedKeysCommandUser nobody",
        ],
    )
    .expect("sshd");
    let pod = Pod {
        user: "rpka2".into(),
        home: user_home,
        port: sshd.port,
        sshd: Some(sshd),
        _user: lock,
    };
    std::fs::write(d.join("config"), entry("runpod-0", &pod, "~/.ssh/id_old")).unwrap();
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_new", "--remove-old"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("accepts any key"), "{out}");
    // The line did go; the config names the new key first.
    assert!(
        !String::from_utf8_lossy(&pod.authorized_keys()).contains(material(&old_line).as_str())
    );
    assert_eq!(identities(&home, "runpod-0")[0], d.join("id_new"));
}

#[test]
fn rotate_writes_one_authorized_keys_line_whatever_the_new_keys_comment_holds() {
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (_, old_line) = keygen(&d, "id_old", "");
    let (_, intruder_line) = keygen(home.path(), "intruder", "");
    // A key file from elsewhere whose comment smuggles a second line (an
    // intruder's key) and csh/sh metacharacters.
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C"])
        .arg(format!(
            "it's $HOME `id` !! \\\r\n{}\nno-pty ",
            intruder_line.trim()
        ))
        .arg("-f")
        .arg(d.join("id_new"))
        .status()
        .unwrap();
    assert!(st.success());
    let Some(pod) = one_pod(ready, "rpka0", format!("{old_line}\n").as_bytes()) else {
        return;
    };
    std::fs::write(d.join("config"), entry("runpod-0", &pod, "~/.ssh/id_old")).unwrap();
    let o = home.run(&["key", "rotate", "--new", "~/.ssh/id_new"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let ak = String::from_utf8(pod.authorized_keys()).unwrap();
    assert_eq!(ak.lines().count(), 2, "{ak:?}");
    assert!(
        !ak.lines().any(|l| l.starts_with(&material(&intruder_line))),
        "{ak:?}"
    );
    assert!(!ssh_with_key(&home, &pod, &home.path().join("intruder")));
    assert!(ssh_alias(&home, "runpod-0"));
}

#[test]
fn rotate_remove_old_sees_an_alias_on_the_same_login_by_another_name_or_key_path() {
    let ready = users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    let (old, old_line) = keygen(&d, "id_old", "");
    // The same key under another name (a symlink), as a user may keep it.
    std::os::unix::fs::symlink("id_old", d.join("runpod_key")).unwrap();
    let Some(pod) = one_pod(ready, "rpka1", format!("{old_line}\n").as_bytes()) else {
        return;
    };
    let other = |hostname: &str, identity: &str| {
        format!(
            "Host gpu-box\n    HostName {hostname}\n    Port {}\n    User {}\n    IdentityFile {identity}\n    IdentitiesOnly yes\n    StrictHostKeyChecking accept-new\n",
            pod.port, pod.user
        )
    };
    // The same login through `localhost` (not 127.0.0.1) with the old
    // key's path; then through 127.0.0.1 with the old key by another path.
    for second in [
        other("LocalHost", "~/.ssh/id_old"),
        other("127.0.0.1", "~/.ssh/runpod_key"),
        other("127.0.0.1", "~/.ssh/../.ssh/id_old"),
    ] {
        let cfg = format!("{}{second}", entry("runpod-0", &pod, "~/.ssh/id_old"));
        std::fs::write(d.join("config"), &cfg).unwrap();
        let o = home.run(&[
            "key",
            "rotate",
            "runpod-0",
            "--new",
            "~/.ssh/id_new",
            "--remove-old",
        ]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{second}\n{}\n{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains("gpu-box"), "{second}\n{}", stdout(&o));
        assert!(
            ssh_with_key(&home, &pod, &old),
            "{second}: gpu-box locked out"
        );
        assert!(ssh_alias(&home, "gpu-box"), "{second}: gpu-box locked out");
    }
}

#[test]
fn rotate_an_alias_named_twice_rotates_and_reports_it_once() {
    users();
    let Some(_) = require_tool("ssh-keygen") else {
        return;
    };
    let home = TempHome::new();
    let d = home.ssh_dir();
    keygen(&d, "id_old", "");
    std::fs::write(
        d.join("config"),
        unreachable_entry("runpod-0", "~/.ssh/id_old"),
    )
    .unwrap();
    let o = home.run(&[
        "key",
        "rotate",
        "runpod-0",
        "runpod-0",
        "--new",
        "~/.ssh/id_new",
        "--timeout",
        "3",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v.as_array().map(|a| a.len()), Some(1), "{v}");
}
