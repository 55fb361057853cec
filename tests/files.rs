//! File safety (issue 8, items 3, 11, 13, 14 and the low items): only
//! regular files are written; devices and FIFOs never hang or fill
//! memory; half-written files are not taken as the truth; one home; only
//! runpod-ssh's own backups are restored; read-only, foreign-owned and
//! hard-linked configs need --force; errors print each cause once.
#![cfg(unix)]

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{TempHome, stderr, stdout};

const PASTE: &str = "ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519";

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A device node in `dir` (never the real /dev/null), or `None` (with a
/// message) when not root.
fn mknod(dir: &Path, name: &str, major: u32, minor: u32) -> Option<PathBuf> {
    if !is_root() {
        eprintln!("SKIPPED: mknod needs root");
        return None;
    }
    let p = dir.join(name);
    let st = Command::new("mknod")
        .arg(&p)
        .args(["c", &major.to_string(), &minor.to_string()])
        .status()
        .expect("run mknod");
    assert!(st.success(), "mknod {}", p.display());
    Some(p)
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("run mkfifo");
    assert!(st.success());
}

/// Run with a deadline: a hang is a failure, not a stuck test.
fn run_within(home: &TempHome, args: &[&str], limit: Duration) -> Output {
    let mut child = home
        .cmd(common::bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!(
                "runpod-ssh {args:?} still running after {limit:?} (hung): {}",
                stderr(&o)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_char_device(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device())
}

fn is_fifo(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo())
}

#[test]
fn add_to_a_character_device_config_is_refused_and_the_node_stays() {
    let home = TempHome::new();
    let Some(node) = mknod(home.path(), "null", 1, 3) else {
        return;
    };
    let o = home.run(&[
        "--config",
        node.to_str().unwrap(),
        "add",
        "--no-vscode",
        PASTE,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    assert!(is_char_device(&node), "the node was replaced");
    // --force overrides only what it names: never a device.
    let o = home.run(&[
        "--config",
        node.to_str().unwrap(),
        "add",
        "--force",
        "--no-vscode",
        PASTE,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(is_char_device(&node));
    assert!(!home.ssh_dir().join("known_hosts_runpod").exists());
}

#[test]
fn show_reads_a_null_device_config_as_empty_like_ssh_f_dev_null() {
    let home = TempHome::new();
    let Some(node) = mknod(home.path(), "null", 1, 3) else {
        return;
    };
    let o = run_within(
        &home,
        &["--config", node.to_str().unwrap(), "show", "pod"],
        Duration::from_secs(10),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("hostname pod\n"), "{}", stdout(&o));
    let o = home.run(&["--config", node.to_str().unwrap(), "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(is_char_device(&node));
}

#[test]
fn fifo_config_is_refused_promptly_and_nothing_written() {
    let home = TempHome::new();
    let fifo = home.path().join("config.fifo");
    mkfifo(&fifo);
    let f = fifo.to_str().unwrap();
    for args in [
        vec!["--config", f, "show", "pod"],
        vec!["--config", f, "list"],
        vec!["--config", f, "add", "--no-vscode", PASTE],
        vec!["--config", f, "fix"],
        vec!["--config", f, "remove", "pod"],
    ] {
        let o = run_within(&home, &args, Duration::from_secs(10));
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("FIFO"), "{args:?}: {}", stderr(&o));
        assert!(is_fifo(&fifo));
    }
}

#[test]
fn fifo_include_is_refused_promptly() {
    let home = TempHome::new();
    let fifo = home.ssh_dir().join("included");
    mkfifo(&fifo);
    let cfg = home.ssh_dir().join("config");
    let before = format!(
        "Include {}\nHost web\n  HostName web.example.com\n",
        fifo.display()
    );
    std::fs::write(&cfg, &before).unwrap();
    let o = run_within(&home, &["show", "web"], Duration::from_secs(10));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("FIFO"), "{}", stderr(&o));
    // add refuses a config ssh refuses; either way nothing hangs or is written.
    let o = run_within(
        &home,
        &["add", "--no-vscode", PASTE],
        Duration::from_secs(10),
    );
    assert!(!o.status.success(), "{}", stdout(&o));
    for args in [&["list", "--all"][..], &["fix", "--dry-run"][..]] {
        run_within(&home, args, Duration::from_secs(10));
    }
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), before);
    assert!(is_fifo(&fifo));
}

#[test]
fn fifo_settings_json_is_refused_promptly_and_left_alone() {
    let home = TempHome::new();
    let user = home.vscode_user_dir();
    std::fs::create_dir_all(&user).unwrap();
    let settings = user.join("settings.json");
    mkfifo(&settings);
    let o = run_within(&home, &["add", PASTE], Duration::from_secs(10));
    assert!(o.status.success(), "{}", stderr(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(all.contains("FIFO"), "{all}");
    assert!(is_fifo(&settings));
}

#[test]
fn a_zero_device_as_config_or_include_hits_the_size_cap() {
    let home = TempHome::new();
    let Some(zero) = mknod(home.path(), "zero", 1, 5) else {
        return;
    };
    let o = run_within(
        &home,
        &["--config", zero.to_str().unwrap(), "show", "pod"],
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("larger than 64 MiB"), "{}", stderr(&o));
    let o = run_within(
        &home,
        &[
            "--config",
            zero.to_str().unwrap(),
            "add",
            "--no-vscode",
            PASTE,
        ],
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(is_char_device(&zero));

    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, format!("Include {}\nHost web\n", zero.display())).unwrap();
    let o = run_within(&home, &["show", "web"], Duration::from_secs(60));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("larger than 64 MiB"), "{}", stderr(&o));
}

/// A config of `n` host blocks.
fn big_config(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "Host h{i}\n  HostName 198.51.100.{}\n  User u{i}\n\n",
            i % 250
        ));
    }
    s.into_bytes()
}

#[test]
fn a_half_written_config_is_read_again_and_the_final_content_edited() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let full = big_config(3000);
    std::fs::write(&cfg, &full).unwrap();
    // An editor truncating and rewriting in place, pausing half way.
    let writer = {
        let (cfg, full) = (cfg.clone(), full.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::File::create(&cfg).unwrap();
            f.write_all(&full[..full.len() / 2]).unwrap();
            f.flush().unwrap();
            std::thread::sleep(Duration::from_millis(60));
            f.write_all(&full[full.len() / 2..]).unwrap();
        })
    };
    std::thread::sleep(Duration::from_millis(10));
    let o = home.run(&["add", "--no-vscode", PASTE]);
    writer.join().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let now = std::fs::read(&cfg).unwrap();
    assert!(now.starts_with(&full), "the edit lost part of the file");
    assert!(String::from_utf8_lossy(&now).contains("203.0.113.7"));
}

#[test]
fn a_config_that_keeps_changing_is_refused() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, "Host web\n").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (cfg, stop) = (cfg.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().append(true).open(&cfg).unwrap();
                writeln!(f, "# line {i}").unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(40));
            }
        })
    };
    let o = home.run(&["add", "--no-vscode", PASTE]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // Normally "kept changing"; on a machine so loaded that the writer
    // stalls past one pause, the write-time check still refuses.
    let err = stderr(&o);
    assert!(
        err.contains("kept changing") || err.contains("changed since runpod-ssh read it"),
        "{err}"
    );
    assert!(
        !std::fs::read_to_string(&cfg)
            .unwrap()
            .contains("203.0.113.7")
    );
}

#[test]
fn the_isolation_wrapper_gives_ssh_and_runpod_ssh_the_temp_home() {
    let home = TempHome::new();
    let o = home
        .cmd("getent")
        .args(["passwd", &unsafe { libc::geteuid() }.to_string()])
        .output()
        .unwrap();
    let line = stdout(&o);
    assert!(
        line.contains(&format!(":{}:", home.path().display())),
        "{line}"
    );
    if let Some(ssh) = common::require_tool("ssh") {
        let elsewhere = tempfile::tempdir().unwrap();
        let o = home
            .cmd(&ssh)
            .env("HOME", elsewhere.path())
            .args(["-G", "-F", "/dev/null", "x"])
            .output()
            .unwrap();
        let expected = format!(
            "userknownhostsfile {}/.ssh/known_hosts",
            home.path().display()
        );
        assert!(stdout(&o).contains(&expected), "{}", stdout(&o));
    }
}

#[test]
fn add_check_and_remove_agree_on_one_pin_file_from_the_password_database() {
    let home = TempHome::new();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(elsewhere.path().join(".ssh")).unwrap();
    let run = |args: &[&str]| {
        home.cmd(common::bin())
            .env("HOME", elsewhere.path())
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["add", "--no-vscode", "--name", "gpu", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The config is the password database home's, as `ssh` reads it.
    let cfg = home.ssh_dir().join("config");
    assert!(std::fs::read_to_string(&cfg).unwrap().contains("Host gpu"));
    assert!(!elsewhere.path().join(".ssh/config").exists());
    // check pins keys in the file ssh expands the entry's ~ to.
    let pins = home.ssh_dir().join("known_hosts_runpod");
    let o = run(&["show", "gpu"]);
    assert!(
        stdout(&o).contains(&format!("userknownhostsfile {}", pins.display())),
        "{}",
        stdout(&o)
    );
    // remove forgets the pin from that same file.
    std::fs::write(
        &pins,
        "gpu ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\nother ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
    )
    .unwrap();
    let o = run(&["remove", "gpu", "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let left = std::fs::read_to_string(&pins).unwrap();
    assert!(!left.contains("gpu "), "{left}");
    assert!(left.contains("other "), "{left}");
    assert!(!std::fs::read_to_string(&cfg).unwrap().contains("Host gpu"));
    // Nothing landed in $HOME.
    let stray: Vec<_> = std::fs::read_dir(elsewhere.path().join(".ssh"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

/// A config with two runpod-ssh backups (from two `add` runs).
fn home_with_backups() -> (TempHome, PathBuf) {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, "# original\n").unwrap();
    assert!(
        home.run(&["add", "--no-vscode", "--name", "a", PASTE])
            .status
            .success()
    );
    assert!(
        home.run(&[
            "add",
            "--no-vscode",
            "--name",
            "b",
            "ssh root@203.0.113.8 -p 40124"
        ])
        .status
        .success()
    );
    (home, cfg)
}

#[test]
fn backups_are_named_after_the_command_and_restore_lists_it() {
    let (home, cfg) = home_with_backups();
    let list = runpod_ssh::fsio::backups(&cfg);
    assert_eq!(list.len(), 2);
    for b in &list {
        assert_eq!(b.command.as_deref(), Some("add"));
        let name = b.path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".add"), "{name}");
    }
    let o = home.run(&["restore", "--list"]);
    assert!(stdout(&o).contains(" add "), "{}", stdout(&o));
}

#[test]
fn restore_refuses_an_empty_name() {
    let (home, cfg) = home_with_backups();
    let before = std::fs::read(&cfg).unwrap();
    let o = home.run(&["restore", ""]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read(&cfg).unwrap(), before);
}

#[test]
fn restore_ignores_planted_symlinked_and_foreign_backups() {
    let (home, cfg) = home_with_backups();
    let dir = home.ssh_dir().join(".runpod-ssh-backups");
    let before = std::fs::read(&cfg).unwrap();
    let secret = home.path().join("secret");
    std::fs::write(&secret, "Host evil\n  ProxyCommand sh -c 'echo pwned'\n").unwrap();
    // A name runpod-ssh never writes, a symlink with a valid name, and
    // (as root) a file of another user with a valid name.
    std::fs::copy(&secret, dir.join("config.9evil")).unwrap();
    let linked = "config.29991231-235959.999999999.add";
    std::os::unix::fs::symlink(&secret, dir.join(linked)).unwrap();
    let foreign = "config.29991231-235959.999999998.add";
    std::fs::copy(&secret, dir.join(foreign)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(dir.join(foreign), Some(65534), Some(65534)).unwrap();
    } else {
        std::fs::remove_file(dir.join(foreign)).unwrap();
    }
    for name in ["9evil", "config.9evil", linked, foreign] {
        let o = home.run(&["restore", name]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert_eq!(std::fs::read(&cfg).unwrap(), before, "{name}");
    }
    let o = home.run(&["restore", "--list"]);
    assert!(!stdout(&o).contains("2999"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("evil"), "{}", stdout(&o));
    // The newest real backup is what a bare restore takes.
    let o = home.run(&["restore"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!std::fs::read_to_string(&cfg).unwrap().contains("evil"));
}

#[test]
fn restore_ignores_hard_linked_and_future_stamped_backups() {
    let (home, cfg) = home_with_backups();
    let dir = home.ssh_dir().join(".runpod-ssh-backups");
    let before = std::fs::read(&cfg).unwrap();
    let evil = home.path().join("evil");
    std::fs::write(&evil, "Host evil\n  ProxyCommand sh -c 'echo pwned'\n").unwrap();
    // A hard link to a file elsewhere, with a stamp in the past (so only
    // its link count gives it away), and a plain copy stamped in the
    // future (so it would sort as the newest).
    let linked = "config.20000101-000000.000000000.add";
    std::fs::hard_link(&evil, dir.join(linked)).unwrap();
    let future = "config.29991231-235959.000000000.add";
    std::fs::copy(&evil, dir.join(future)).unwrap();
    for name in [linked, future] {
        let o = home.run(&["restore", name]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert_eq!(std::fs::read(&cfg).unwrap(), before, "{name}");
    }
    let o = home.run(&["restore", "--list"]);
    assert!(!stdout(&o).contains("2000"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("2999"), "{}", stdout(&o));
    let o = home.run(&["restore"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!std::fs::read_to_string(&cfg).unwrap().contains("evil"));
}

#[test]
fn restore_puts_the_whole_backup_set_back() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let pins = home.ssh_dir().join("known_hosts_runpod");
    assert!(
        home.run(&["add", "--no-vscode", "--name", "gpu", PASTE])
            .status
            .success()
    );
    let cfg_before = std::fs::read(&cfg).unwrap();
    let pins_before =
        "gpu ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
    std::fs::write(&pins, pins_before).unwrap();
    // remove writes the config and the pin file: one set.
    let o = home.run(&["remove", "gpu", "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cb = runpod_ssh::fsio::backups(&cfg);
    let pb = runpod_ssh::fsio::backups(&pins);
    let (c, p) = (cb.last().unwrap(), pb.last().unwrap());
    assert_eq!(c.stamp, p.stamp, "one stamp for the run");
    assert_eq!(c.command.as_deref(), Some("remove"));
    let o = home.run(&["restore", &c.stamp]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&cfg).unwrap(), cfg_before);
    assert_eq!(std::fs::read_to_string(&pins).unwrap(), pins_before);
}

#[test]
fn a_read_only_config_is_refused_without_force_and_written_with_it_mode_kept() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, "# mine\n").unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o400)).unwrap();
    let o = home.run(&["add", "--no-vscode", PASTE]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "# mine\n");
    let o = home.run(&["add", "--no-vscode", "--force", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(&cfg)
            .unwrap()
            .contains("203.0.113.7")
    );
    assert_eq!(std::fs::metadata(&cfg).unwrap().mode() & 0o777, 0o400);
}

#[test]
fn a_foreign_owned_config_is_refused_without_force_and_keeps_its_owner_with_it() {
    if !is_root() {
        eprintln!("SKIPPED: giving a file away needs root");
        return;
    }
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, "# theirs\n").unwrap();
    std::os::unix::fs::chown(&cfg, Some(65534), Some(65534)).unwrap();
    let o = home.run(&["add", "--no-vscode", PASTE]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("another user"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "# theirs\n");
    let o = home.run(&["add", "--no-vscode", "--force", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&cfg).unwrap().uid(), 65534);
}

#[test]
fn a_hard_linked_config_is_refused_not_split() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, "# shared\n").unwrap();
    let other = home.path().join("other-name");
    std::fs::hard_link(&cfg, &other).unwrap();
    let o = home.run(&["add", "--no-vscode", PASTE]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("hard link"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&cfg).unwrap().nlink(), 2);
    let o = home.run(&["remove", "x", "--no-vscode"]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "# shared\n");
}

#[test]
fn a_dangling_config_symlink_creates_no_folders() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let target = home.path().join("nowhere/deeper/config");
    std::os::unix::fs::symlink(&target, &cfg).unwrap();
    let o = home.run(&["add", "--no-vscode", PASTE]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(!home.path().join("nowhere").exists());
    assert!(
        std::fs::symlink_metadata(&cfg)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn an_os_error_is_printed_once() {
    let home = TempHome::new();
    let file = home.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let cfg = file.join("config");
    let o = home.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "add",
        "--no-vscode",
        PASTE,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("(os error 20)").count(), 1, "{err}");
}

#[test]
fn fix_with_a_fifo_settings_json_does_not_hang() {
    let home = TempHome::new();
    let user = home.vscode_user_dir();
    std::fs::create_dir_all(&user).unwrap();
    let settings = user.join("settings.json");
    mkfifo(&settings);
    std::fs::write(
        home.ssh_dir().join("config"),
        "Host web\n  HostName web.example.com\n",
    )
    .unwrap();
    run_within(&home, &["fix", "--dry-run"], Duration::from_secs(20));
    run_within(&home, &["fix"], Duration::from_secs(20));
    assert!(is_fifo(&settings));
}

#[test]
fn the_lock_and_backups_sit_beside_the_config_they_protect() {
    let home = TempHome::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let cfg = elsewhere.path().join("cfg");
    std::fs::write(&cfg, "# mine\n").unwrap();
    let o = home.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "add",
        "--no-vscode",
        PASTE,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(elsewhere.path().join(".runpod-ssh.lock").is_file());
    assert_eq!(runpod_ssh::fsio::backups(&cfg).len(), 1);
    assert!(!home.path().join(".cache").exists());
    assert!(!home.ssh_dir().join(".runpod-ssh.lock").exists());
}

#[test]
fn force_on_remove_and_restore_also_overrides_the_read_only_refusal() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, "# mine\n").unwrap();
    assert!(
        home.run(&["add", "--no-vscode", "--name", "gpu", PASTE])
            .status
            .success()
    );
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o400)).unwrap();
    let with_entry = std::fs::read(&cfg).unwrap();
    let o = home.run(&["remove", "gpu", "--no-vscode"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&cfg).unwrap(), with_entry);
    let o = home.run(&["remove", "gpu", "--no-vscode", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!std::fs::read_to_string(&cfg).unwrap().contains("Host gpu"));
    let o = home.run(&["restore"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = home.run(&["restore", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&cfg).unwrap(), with_entry);
    assert_eq!(std::fs::metadata(&cfg).unwrap().mode() & 0o777, 0o400);
}

#[test]
fn a_symlinked_backup_folder_is_not_trusted() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, "# mine\n").unwrap();
    let planted = home.path().join("planted");
    std::fs::create_dir(&planted).unwrap();
    std::fs::write(
        planted.join("config.20990101-000000.000000000.add"),
        "Host evil\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&planted, home.ssh_dir().join(".runpod-ssh-backups")).unwrap();
    assert!(runpod_ssh::fsio::backups(&cfg).is_empty());
    let o = home.run(&["restore"]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "# mine\n");
    // Nor is a backup written through it.
    let o = home.run(&["add", "--no-vscode", PASTE]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&planted).unwrap().count(), 1);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "# mine\n");
}

#[test]
fn check_pins_and_remove_forgets_in_the_password_database_home_whatever_home_says() {
    let Some(sshd) = common::sshd::Sshd::start(&[]) else {
        return;
    };
    let home = TempHome::new();
    let (key, public) = common::sshd::keygen(&home.ssh_dir(), "id_ed25519", "");
    sshd.authorize(&public);
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(elsewhere.path().join(".ssh")).unwrap();
    // `~` as add writes it: ssh expands it from the password database.
    let block = sshd.host_block(
        "gpu",
        &key,
        &[
            "IdentitiesOnly yes",
            "HostKeyAlias gpu",
            "UserKnownHostsFile ~/.ssh/known_hosts_runpod",
            "StrictHostKeyChecking accept-new",
        ],
    );
    std::fs::write(home.ssh_dir().join("config"), block).unwrap();
    let run = |args: &[&str]| {
        home.cmd(common::bin())
            .env("HOME", elsewhere.path())
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["check", "gpu", "--quick"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let pins = home.ssh_dir().join("known_hosts_runpod");
    let text = std::fs::read_to_string(&pins).expect("pin recorded in the account's home");
    assert!(text.starts_with("gpu "), "{text}");
    // Plain ssh, given the same HOME, trusts that pin too.
    if let Some(ssh) = common::require_tool("ssh") {
        let o = home
            .cmd(&ssh)
            .env("HOME", elsewhere.path())
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "gpu",
                "true",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = run(&["remove", "gpu", "--force", "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!std::fs::read_to_string(&pins).unwrap().contains("gpu "));
    assert_eq!(
        std::fs::read_dir(elsewhere.path().join(".ssh"))
            .unwrap()
            .count(),
        0,
        "nothing may land in $HOME/.ssh"
    );
}

#[test]
fn fix_says_an_identity_file_is_a_device_not_that_it_is_missing() {
    let home = TempHome::new();
    let Some(dev) = mknod(home.path(), "null", 1, 3) else {
        return;
    };
    let cfg = home.ssh_dir().join("config");
    std::fs::write(
        &cfg,
        format!(
            "Host runpod-a\n  HostName 203.0.113.7\n  Port 40123\n  User root\n  IdentityFile {}\n",
            dev.display()
        ),
    )
    .unwrap();
    let o = home.run(&["fix", "--no-vscode"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("is a character device, not a private key"),
        "{out}"
    );
    assert!(!out.contains("does not exist"), "{out}");
    // Reported once, and the device is left as it was.
    assert_eq!(out.matches("is a character device").count(), 1, "{out}");
    assert!(!out.contains("not a regular file"), "{out}");
    assert!(
        std::fs::symlink_metadata(&dev)
            .unwrap()
            .file_type()
            .is_char_device()
    );
}
