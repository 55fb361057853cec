//! WSL (issue 12 part 4), end to end with the binary: the kernel release
//! and the Windows home are injected (RUNPOD_SSH_WSL_OSRELEASE,
//! RUNPOD_SSH_WSL_USERPROFILE, RUNPOD_SSH_WSL_USERPROFILE_PATH), so no
//! real WSL, cmd.exe or wslpath is needed. Unix only: the seams stand in
//! for WSL, which is Linux.
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{TempHome, stderr, stdout};
use runpod_ssh::config::Document;

const PASTE: &str = "ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519";
const ALIAS: &str = "runpod-203-0-113-7-40123";
const PROFILE: &str = "C:\\Users\\홍길동";

/// A WSL home with a key, and the Windows user's home (`Users/홍길동`)
/// in a temp dir of its own.
struct Wsl {
    home: TempHome,
    win_root: tempfile::TempDir,
    osrelease: PathBuf,
    key: Vec<u8>,
}

impl Wsl {
    fn new(release: &str) -> Wsl {
        let home = TempHome::new();
        let win_root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(win_root.path().join("Users").join("홍길동")).unwrap();
        let osrelease = win_root.path().join("osrelease");
        std::fs::write(&osrelease, release).unwrap();
        let key = runpod_ssh::keys::generate(runpod_ssh::keys::KeyType::Ed25519, "t")
            .unwrap()
            .to_openssh(ssh_key::LineEnding::LF)
            .unwrap()
            .as_bytes()
            .to_vec();
        let k = home.ssh_dir().join("id_ed25519");
        std::fs::write(&k, &key).unwrap();
        std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
        Wsl {
            home,
            win_root,
            osrelease,
            key,
        }
    }

    fn win(&self) -> PathBuf {
        self.win_root.path().join("Users").join("홍길동")
    }

    fn win_config(&self) -> PathBuf {
        self.win().join(".ssh").join("config")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.home
            .cmd(common::bin())
            .args(args)
            .env("RUNPOD_SSH_WSL_OSRELEASE", &self.osrelease)
            .env("RUNPOD_SSH_WSL_USERPROFILE", PROFILE)
            .env("RUNPOD_SSH_WSL_USERPROFILE_PATH", self.win())
            .output()
            .unwrap()
    }
}

const WSL2: &str = "5.15.153.1-microsoft-standard-WSL2\n";

fn block_value(doc: &Document, alias: &str, key: &str) -> Option<String> {
    let blocks = doc.blocks();
    let bi = *doc.host_blocks_naming(alias).first()?;
    doc.first_value(&blocks[bi], key)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn add_windows_writes_the_entry_and_copies_the_key_to_the_windows_side() {
    let w = Wsl::new(WSL2);
    let o = w.run(&["add", PASTE, "--windows"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // The WSL side as always.
    let wsl_doc = Document::parse(&std::fs::read(w.home.ssh_dir().join("config")).unwrap());
    assert_eq!(
        block_value(&wsl_doc, ALIAS, "port").as_deref(),
        Some("40123")
    );
    // The Windows side: the same entry, `~` paths Windows' ssh expands to
    // %USERPROFILE%, the marker.
    let text = std::fs::read_to_string(w.win_config()).unwrap();
    let doc = Document::parse(text.as_bytes());
    assert_eq!(
        block_value(&doc, ALIAS, "hostname").as_deref(),
        Some("203.0.113.7")
    );
    assert_eq!(block_value(&doc, ALIAS, "port").as_deref(), Some("40123"));
    assert_eq!(
        block_value(&doc, ALIAS, "identityfile").as_deref(),
        Some("~/.ssh/id_ed25519")
    );
    assert!(text.contains("# managed by runpod-ssh"), "{text}");
    // The key: the same bytes, private (0600) on the Windows side.
    let copied = w.win().join(".ssh").join("id_ed25519");
    assert_eq!(std::fs::read(&copied).unwrap(), w.key);
    assert_eq!(mode(&copied), 0o600);
    let out = stdout(&o);
    assert!(
        out.contains(&format!("Also wrote {ALIAS} to {PROFILE}\\.ssh\\config")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "icacls \"{PROFILE}\\.ssh\\id_ed25519\" /inheritance:r /grant:r \"%USERNAME%\":F *S-1-5-18:F *S-1-5-32-544:F"
        )),
        "{out}"
    );
    // Again with a new port (a restarted pod): the Windows entry is
    // updated in place, with a backup of the previous version.
    let o = w.run(&[
        "add",
        "ssh root@203.0.113.7 -p 40999 -i ~/.ssh/id_ed25519",
        "--name",
        ALIAS,
        "--windows",
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let text = std::fs::read_to_string(w.win_config()).unwrap();
    assert_eq!(text.matches(&format!("Host {ALIAS}")).count(), 1, "{text}");
    let doc = Document::parse(text.as_bytes());
    assert_eq!(block_value(&doc, ALIAS, "port").as_deref(), Some("40999"));
    assert!(stdout(&o).contains("previous version:"), "{}", stdout(&o));
}

#[test]
fn add_without_windows_in_wsl_writes_only_wsl_and_says_how() {
    let w = Wsl::new(WSL2);
    let o = w.run(&["add", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!w.win_config().exists(), "wrote the Windows side unasked");
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "VS Code runs on Windows and reads {PROFILE}\\.ssh\\config"
        )) && err.contains("--windows"),
        "{err}"
    );
    // Not WSL: no word about it.
    let w = Wsl::new("6.1.0-18-amd64\n");
    let o = w.run(&["add", PASTE]);
    assert!(o.status.success());
    assert!(!stderr(&o).contains("WSL"), "{}", stderr(&o));
    // --windows there: said, nothing written.
    let o = w.run(&["add", PASTE, "--windows"]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("--windows: this is not WSL"),
        "{}",
        stderr(&o)
    );
    assert!(!w.win_config().exists());
}

#[test]
fn add_windows_never_overwrites_another_key_and_keeps_the_windows_config_bytes() {
    let w = Wsl::new(WSL2);
    let dir = w.win().join(".ssh");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("id_ed25519"), b"the key made in PowerShell\r\n").unwrap();
    let mine = "# mine\r\nHost work\r\n    HostName w.example\r\n";
    std::fs::write(w.win_config(), mine).unwrap();
    let o = w.run(&["add", PASTE, "--windows"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        std::fs::read(dir.join("id_ed25519")).unwrap(),
        b"the key made in PowerShell\r\n"
    );
    assert_eq!(std::fs::read(dir.join("id_ed25519-wsl")).unwrap(), w.key);
    let text = std::fs::read_to_string(w.win_config()).unwrap();
    assert!(text.starts_with(mine), "the user's lines changed:\n{text}");
    let doc = Document::parse(text.as_bytes());
    assert_eq!(
        block_value(&doc, ALIAS, "identityfile").as_deref(),
        Some("~/.ssh/id_ed25519-wsl")
    );
}

#[test]
fn fix_reports_a_wsl_only_entry_and_fix_windows_repairs_it() {
    let w = Wsl::new(WSL2);
    let o = w.run(&["add", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = w.run(&["fix"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(out.contains("wsl-windows-config"), "{out}");
    assert!(out.contains(&format!("{ALIAS} is missing")), "{out}");
    assert!(out.contains("runpod-ssh fix --windows"), "{out}");
    assert!(!w.win_config().exists());
    // --dry-run --windows says what it would do and writes nothing.
    let o = w.run(&["fix", "--windows", "--dry-run"]);
    assert!(stdout(&o).contains("Would also write"), "{}", stdout(&o));
    assert!(!w.win_config().exists());
    let o = w.run(&["fix", "--windows"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let doc = Document::parse(&std::fs::read(w.win_config()).unwrap());
    assert_eq!(block_value(&doc, ALIAS, "port").as_deref(), Some("40123"));
    assert_eq!(
        std::fs::read(w.win().join(".ssh/id_ed25519")).unwrap(),
        w.key
    );
    // Nothing left to report.
    let o = w.run(&["fix"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(!stdout(&o).contains("wsl-windows-config"));
    // A stale Windows entry (WSL's moved to a new port) is reported too.
    let o = w.run(&[
        "add",
        "ssh root@203.0.113.7 -p 40999 -i ~/.ssh/id_ed25519",
        "--name",
        ALIAS,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = w.run(&["fix", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "wsl-windows-config")
        .expect("stale Windows entry reported");
    assert!(f["message"].as_str().unwrap().contains("stale"), "{f}");
    assert_eq!(f["applied"], false);
}

/// A link at the key's name on the Windows side (dangling, or to another
/// file) is never written through: the private key went to wherever the
/// link pointed. The name counts as taken.
#[test]
fn add_windows_never_writes_the_key_through_a_link_on_the_windows_side() {
    let w = Wsl::new(WSL2);
    let dir = w.win().join(".ssh");
    std::fs::create_dir_all(&dir).unwrap();
    let elsewhere = w.win_root.path().join("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, dir.join("id_ed25519")).unwrap();
    let o = w.run(&["add", PASTE, "--windows"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(!elsewhere.exists(), "the key was written through the link");
    assert!(dir.join("id_ed25519").is_symlink());
    assert_eq!(std::fs::read(dir.join("id_ed25519-wsl")).unwrap(), w.key);
    let doc = Document::parse(&std::fs::read(w.win_config()).unwrap());
    assert_eq!(
        block_value(&doc, ALIAS, "identityfile").as_deref(),
        Some("~/.ssh/id_ed25519-wsl")
    );
}

/// F20's owner check on the WSL side: a file at the key's Windows name
/// with exactly the key's bytes but another user's (who keeps the right
/// to change it) is not used as the entry's key: the name counts as
/// taken, the key goes to `-wsl`, the planted file stays as it was.
#[test]
fn add_windows_does_not_use_a_key_file_of_another_user_with_the_same_bytes() {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: giving a file to another user needs root");
        return;
    }
    let w = Wsl::new(WSL2);
    let dir = w.win().join(".ssh");
    std::fs::create_dir_all(&dir).unwrap();
    let planted = dir.join("id_ed25519");
    std::fs::write(&planted, &w.key).unwrap();
    std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
    let o = w.run(&["add", PASTE, "--windows"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(std::fs::metadata(&planted).unwrap().uid(), 65534);
    assert_eq!(std::fs::read(&planted).unwrap(), w.key);
    let copied = dir.join("id_ed25519-wsl");
    assert_eq!(std::fs::read(&copied).unwrap(), w.key);
    assert_eq!(std::fs::metadata(&copied).unwrap().uid(), 0);
    let doc = Document::parse(&std::fs::read(w.win_config()).unwrap());
    assert_eq!(
        block_value(&doc, ALIAS, "identityfile").as_deref(),
        Some("~/.ssh/id_ed25519-wsl")
    );
}

/// The entry says `StrictHostKeyChecking accept-new`: without WSL's pin
/// (made by `sync`/`up` or a first `ssh`), VS Code on Windows made an
/// unverified first contact with a host WSL had already verified. The
/// pinned key goes with the entry.
#[test]
fn fix_windows_carries_the_pinned_host_key_to_the_windows_known_hosts() {
    let w = Wsl::new(WSL2);
    let o = w.run(&["add", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = runpod_ssh::keys::generate(runpod_ssh::keys::KeyType::Ed25519, "host")
        .unwrap()
        .public_key()
        .to_openssh()
        .unwrap();
    let pin = format!("{ALIAS} {key}\n");
    std::fs::write(w.home.ssh_dir().join("known_hosts_runpod"), &pin).unwrap();
    let o = w.run(&["fix", "--windows"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let win_kh = w.win().join(".ssh").join("known_hosts_runpod");
    let got = std::fs::read_to_string(&win_kh).unwrap_or_default();
    let want = key.split_whitespace().nth(1).unwrap();
    assert!(
        got.lines()
            .any(|l| l.starts_with(ALIAS) && l.contains(want)),
        "{got}"
    );
    assert_eq!(mode(&win_kh), 0o600);
}

#[test]
fn add_windows_whose_windows_side_is_refused_exits_1_and_leaves_that_file_alone() {
    // The WSL config is written; the Windows one (a BOM that ssh there
    // refuses to edit around) is not: a partial success a script must see.
    let w = Wsl::new(WSL2);
    std::fs::create_dir_all(w.win().join(".ssh")).unwrap();
    let theirs = "\u{feff}Host work\r\n    HostName w.example\r\n";
    std::fs::write(w.win_config(), theirs).unwrap();
    let o = w.run(&["add", PASTE, "--windows"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(std::fs::read_to_string(w.win_config()).unwrap(), theirs);
    let mine = std::fs::read_to_string(w.home.ssh_dir().join("config")).unwrap();
    assert!(mine.contains(&format!("Host {ALIAS}")), "{mine}");
    let j = w.run(&["--json", "add", PASTE, "--windows"]);
    assert_eq!(j.status.code(), Some(1), "{}", stderr(&j));
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert!(
        !v["windows"]["failed"].as_array().unwrap().is_empty(),
        "{v}"
    );
}
