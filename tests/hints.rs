//! Issue 9 part 1: every hint names a command that works when run as
//! printed, with the options that were given; messages say what happened.
//! Reachability runs against a real sshd on 127.0.0.1.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};

use common::sshd::{Sshd, keygen};
use common::{TempHome, stderr, stdout};

const PASTE: &str = "ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519";

/// A temp home with `~/.ssh/id_ed25519` (authorized on `sshd` if given).
fn home_with_key(sshd: Option<&Sshd>) -> (TempHome, PathBuf) {
    let home = TempHome::new();
    let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
    if let Some(s) = sshd {
        s.authorize(&public);
    }
    (home, key)
}

fn kh(home: &TempHome) -> PathBuf {
    home.ssh_dir().join("known_hosts_runpod")
}

fn ok(o: &std::process::Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// The first `runpod-ssh …` command quoted in `text`, as its words.
fn quoted_command(text: &str) -> Vec<String> {
    let start = text
        .find("`runpod-ssh ")
        .unwrap_or_else(|| panic!("no `runpod-ssh …` in {text}"));
    let rest = &text[start + 1..];
    let end = rest.find('`').expect("closing backtick");
    rest[..end]
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

fn run_words(home: &TempHome, words: &[String]) -> std::process::Output {
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    home.run(&refs)
}

fn check_json(home: &TempHome, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut a = vec!["check", "--json"];
    a.extend_from_slice(args);
    let o = home.run(&a);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {} / {}", stdout(&o), stderr(&o)));
    (o.status.code(), v)
}

/// A UTF-16 config (with BOM): OpenSSH refuses it, `fix` re-encodes it.
fn utf16_config(path: &Path) {
    let mut b = vec![0xFF, 0xFE];
    for u in "Host gpu\n    HostName 203.0.113.7\n    Port 40123\n    User root\n".encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

// Item 1 -------------------------------------------------------------------

#[test]
fn changed_pin_at_same_endpoint_hint_is_add_reset_host_key_and_it_works_as_printed() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = home_with_key(Some(&sshd));
    let paste = format!(
        "ssh {}@127.0.0.1 -p {} -i {}",
        sshd.user,
        sshd.port,
        key.display()
    );
    ok(&home.run(&["add", "--name", "gpu", "--no-vscode", &paste]));
    let (code, v) = check_json(&home, &["gpu", "--quick"]);
    assert_eq!(code, Some(0), "{v:#}");
    // The pod "restarted" on the same IP:port: its pin is now another key.
    let (_, other) = keygen(home.path(), "old_host_key", "");
    let old: Vec<&str> = other.split_whitespace().take(2).collect();
    std::fs::write(kh(&home), format!("gpu {}\n", old.join(" "))).unwrap();
    let (code, v) = check_json(&home, &["gpu", "--quick"]);
    assert_eq!(code, Some(1));
    assert_eq!(v[0]["stage"], "hostkey", "{v:#}");
    let hint = v[0]["hint"].as_str().unwrap();
    assert!(
        hint.contains("`runpod-ssh add --name gpu --reset-host-key`"),
        "{hint}"
    );
    // Pasting the same command again keeps the pin (the old loop) …
    let o = home.run(&["add", "--name", "gpu", "--no-vscode", &paste]);
    ok(&o);
    assert!(stdout(&o).contains("up to date"), "{}", stdout(&o));
    assert_eq!(check_json(&home, &["gpu", "--quick"]).0, Some(1));
    // … the hint's command, run as printed, resets it.
    let o = run_words(&home, &quoted_command(hint));
    ok(&o);
    assert!(stdout(&o).contains("Forgot the pinned host key of gpu"));
    let (code, v) = check_json(&home, &["gpu", "--quick"]);
    assert_eq!(code, Some(0), "{v:#}");
}

#[test]
fn add_reset_host_key_with_a_paste_drops_the_pin_of_an_unchanged_endpoint() {
    let (home, _) = home_with_key(None);
    ok(&home.run(&["add", "--name", "gpu", "--no-vscode", PASTE]));
    std::fs::write(kh(&home), "gpu ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld\n").unwrap();
    let o = home.run(&[
        "add",
        "--name",
        "gpu",
        "--no-vscode",
        "--dry-run",
        "--reset-host-key",
        PASTE,
    ]);
    ok(&o);
    assert!(
        stdout(&o).contains("Would forget the pinned host key of gpu"),
        "{}",
        stdout(&o)
    );
    assert!(std::fs::read_to_string(kh(&home)).unwrap().contains("gpu "));
    ok(&home.run(&[
        "add",
        "--name",
        "gpu",
        "--no-vscode",
        "--reset-host-key",
        PASTE,
    ]));
    assert!(!std::fs::read_to_string(kh(&home)).unwrap().contains("gpu "));
}

// Item 2 -------------------------------------------------------------------

#[test]
fn add_with_a_public_key_uses_the_private_key_beside_it_or_refuses() {
    let (home, _) = home_with_key(None);
    let o = home.run(&[
        "add",
        "--no-vscode",
        "ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519.pub",
    ]);
    ok(&o);
    assert!(
        stderr(&o).contains("using the private key ~/.ssh/id_ed25519"),
        "{}",
        stderr(&o)
    );
    let cfg = std::fs::read_to_string(home.ssh_dir().join("config")).unwrap();
    assert!(cfg.contains("IdentityFile ~/.ssh/id_ed25519\n"), "{cfg}");
    assert!(!cfg.contains(".pub"), "{cfg}");

    // Only a .pub: refused, nothing written.
    std::fs::write(home.ssh_dir().join("lonely.pub"), "ssh-ed25519 AAAA x\n").unwrap();
    let o = home.run(&[
        "add",
        "--no-vscode",
        "--name",
        "b",
        "ssh root@203.0.113.8 -p 40123 -i ~/.ssh/lonely.pub",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no private key ~/.ssh/lonely"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(home.ssh_dir().join("config")).unwrap(),
        cfg
    );
}

/// An entry written before that (or by hand) names the `.pub`: check's
/// hint is the `fix` that repairs it, not "create a key" (item 4), and
/// it works as printed.
#[test]
fn check_on_an_entry_naming_the_public_key_hints_fix_and_fix_makes_it_pass() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = home_with_key(Some(&sshd));
    let kh = kh(&home);
    let extra = [
        "IdentitiesOnly yes".to_string(),
        format!("UserKnownHostsFile {}", kh.display()),
        "StrictHostKeyChecking accept-new".to_string(),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let block = sshd.host_block("gpu", &key.with_extension("pub"), &extra);
    std::fs::write(home.ssh_dir().join("config"), block).unwrap();
    let (code, v) = check_json(&home, &["gpu", "--quick"]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v[0]["stage"], "auth", "{v:#}");
    let hint = v[0]["hint"].as_str().unwrap();
    assert!(hint.contains("`runpod-ssh fix`"), "{hint}");
    assert!(!hint.contains("ssh-keygen"), "{hint}");
    ok(&run_words(&home, &quoted_command(hint)));
    let (code, v) = check_json(&home, &["gpu", "--quick"]);
    assert_eq!(code, Some(0), "{v:#}");
}

// Items 3 and 4 ---------------------------------------------------------------

#[test]
fn list_on_a_config_ssh_refuses_exits_1_with_file_line_and_runpod_ssh_fix() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    utf16_config(&cfg);
    let o = home.run(&["list"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("refuses"), "{err}");
    assert!(err.contains(&format!("{}:1", cfg.display())), "{err}");
    assert!(err.contains("`runpod-ssh fix`"), "{err}");
    assert!(stdout(&o).is_empty(), "no rows: {}", stdout(&o));
}

#[test]
fn check_add_show_on_a_refused_config_name_runpod_ssh_fix_with_the_same_config() {
    let home = TempHome::new();
    let cfg = home.path().join("other_config");
    utf16_config(&cfg);
    let c = cfg.to_str().unwrap();
    let want = format!("`runpod-ssh fix --config {c}`");

    let (code, v) = check_json(&home, &["--config", c, "gpu"]);
    assert_eq!(code, Some(1));
    let hint = v[0]["hint"].as_str().unwrap();
    assert!(hint.contains(&want), "{hint}");
    assert!(!hint.contains("runpod-ssh show"), "{hint}");

    let o = home.run(&["--config", c, "show", "gpu"]);
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));

    let o = home.run(&["--config", c, "add", "--no-vscode", PASTE]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));

    // The command works as printed: afterwards list reads the file.
    let o = run_words(&home, &quoted_command(hint));
    ok(&o);
    let o = home.run(&["--config", c, "list"]);
    ok(&o);
    assert!(stdout(&o).contains("gpu"), "{}", stdout(&o));
}

// Item 5 -------------------------------------------------------------------

#[test]
fn given_config_is_carried_into_connect_and_undo_commands() {
    let home = TempHome::new();
    keygen(&home.ssh_dir(), "id_ed25519", "");
    let cfg = home.path().join("my_config");
    std::fs::write(&cfg, "Host other\n    User me\n").unwrap();
    let c = cfg.to_str().unwrap();
    let o = home.run(&["--config", c, "add", "--no-vscode", "--name", "gpu", PASTE]);
    ok(&o);
    let out = stdout(&o);
    assert!(out.contains(&format!("ssh -F {c} gpu")), "{out}");
    let undo = format!("runpod-ssh --config {c} restore");
    assert!(out.contains(&undo), "{out}");
    // Run as printed: the config is back to what it was.
    let words: Vec<String> = undo.split_whitespace().skip(1).map(String::from).collect();
    ok(&run_words(&home, &words));
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "Host other\n    User me\n"
    );
    assert!(!home.ssh_dir().join("config").exists());
}

/// Hints from the probe name `ssh ALIAS` and `runpod-ssh add …` too: under
/// `--config F` those must read F (`ssh -F F ALIAS`, `runpod-ssh --config F
/// add`), or they act on another file's entry of the same name.
#[test]
fn given_config_is_carried_into_the_ssh_and_add_commands_of_check_hints() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = home_with_key(Some(&sshd));
    let cfg = home.path().join("my_config");
    // StrictHostKeyChecking ask (the default): check stops at the unknown key.
    std::fs::write(&cfg, sshd.host_block("pod", &key, &[])).unwrap();
    let c = cfg.to_str().unwrap();
    let (code, v) = check_json(&home, &["--config", c, "pod", "--quick"]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v[0]["stage"], "hostkey", "{v:#}");
    let hint = v[0]["hint"].as_str().unwrap();
    assert!(hint.contains(&format!("`ssh -F {c} pod`")), "{hint}");
    assert!(!hint.contains("`ssh pod`"), "{hint}");
    let o = home.run(&["--config", c, "check", "pod", "--quick"]);
    assert!(
        stdout(&o).contains(&format!("`ssh -F {c} pod`")),
        "{}",
        stdout(&o)
    );

    // An alias with no entry: the `add` it proposes writes F.
    let (_, v) = check_json(&home, &["--config", c, "nothere"]);
    let hint = v[0]["hint"].as_str().unwrap();
    assert!(
        hint.contains(&format!("`runpod-ssh --config {c} add ")),
        "{hint}"
    );
}

// Item 6 -------------------------------------------------------------------

#[test]
fn remove_says_restore_brings_the_pin_back_and_it_does_and_a_second_restore_undoes_it() {
    let (home, _) = home_with_key(None);
    ok(&home.run(&["add", "--no-vscode", "--name", "gpu", PASTE]));
    let pin = "gpu ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPin\n";
    std::fs::write(kh(&home), pin).unwrap();
    let o = home.run(&["remove", "--no-vscode", "gpu"]);
    ok(&o);
    assert!(
        stdout(&o).contains("forgot its pinned host key (`runpod-ssh restore` brings it back"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_to_string(kh(&home)).unwrap(), "");

    let o = home.run(&["restore", "--list"]);
    ok(&o);
    let list = stdout(&o);
    let last = list.lines().last().unwrap();
    assert!(last.contains("remove") && last.contains(" UTC "), "{list}");

    let o = home.run(&["restore"]);
    ok(&o);
    assert!(
        !stdout(&o).contains("undoes the previous restore"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_to_string(kh(&home)).unwrap(), pin);
    assert!(
        std::fs::read_to_string(home.ssh_dir().join("config"))
            .unwrap()
            .contains("Host gpu")
    );

    let o = home.run(&["restore"]);
    ok(&o);
    assert!(
        stdout(&o).contains("this undoes the previous restore"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_to_string(kh(&home)).unwrap(), "");
}

// Item 7 -------------------------------------------------------------------

#[test]
fn add_name_over_an_entry_under_another_alias_says_renamed() {
    let (home, _) = home_with_key(None);
    ok(&home.run(&["add", "--no-vscode", PASTE]));
    let o = home.run(&["add", "--no-vscode", "--name", "gpu", PASTE]);
    ok(&o);
    assert!(
        stdout(&o).contains("renamed runpod-203-0-113-7-40123 to gpu"),
        "{}",
        stdout(&o)
    );
}

/// A rename at the same endpoint keeps the pin: HostKeyAlias follows the
/// alias, so a pin left under the old name would leave the entry unpinned
/// and the next connection would accept any key (plain and hashed lines).
#[test]
fn add_name_over_an_entry_under_another_alias_keeps_its_pinned_host_key() {
    let (home, _) = home_with_key(None);
    ok(&home.run(&["add", "--no-vscode", PASTE]));
    let old = "runpod-203-0-113-7-40123";
    let (_, public) = keygen(home.path(), "pod_host_key", "");
    let key = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    // The same pin, hashed as with HashKnownHosts yes.
    let hashed = {
        use std::process::Command;
        let kh = home.path().join("h");
        std::fs::write(&kh, format!("{old} {key}\n")).unwrap();
        assert!(
            Command::new("ssh-keygen")
                .args(["-q", "-H", "-f"])
                .arg(&kh)
                .status()
                .unwrap()
                .success()
        );
        std::fs::read_to_string(&kh).unwrap()
    };
    for pins in [format!("{old} {key}\n"), hashed] {
        std::fs::write(kh(&home), &pins).unwrap();
        let o = home.run(&["add", "--no-vscode", "--name", "gpu", PASTE]);
        ok(&o);
        let after = std::fs::read_to_string(kh(&home)).unwrap();
        // ssh-keygen -F finds the key under the new name, not the old.
        let found = |name: &str| {
            std::process::Command::new("ssh-keygen")
                .args(["-F", name, "-f"])
                .arg(kh(&home))
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(found("gpu"), "{after}");
        assert!(!found(old), "{after}");
        let body = key.split(' ').nth(1).unwrap();
        assert!(after.contains(body), "{after}");
        // Back to the old name for the next round.
        ok(&home.run(&["add", "--no-vscode", "--name", old, PASTE]));
        assert!(found(old));
    }
}

// Item 8 -------------------------------------------------------------------

#[test]
fn typos_get_suggestions_for_flags_and_aliases() {
    let (home, _) = home_with_key(None);
    ok(&home.run(&["add", "--no-vscode", "--name", "runpod-4090", PASTE]));
    ok(&home.run(&[
        "add",
        "--no-vscode",
        "--name",
        "gpu",
        "ssh root@203.0.113.9 -p 40123",
    ]));

    let o = home.run(&["add", "--nmae", "gpu2", PASTE]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--name"), "{}", stderr(&o));

    let o = home.run(&["remove", "runpdo-4090"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean runpod-4090?"),
        "{}",
        stderr(&o)
    );

    // check too, though a system config's `Host *` (Debian's) applies to
    // any name (so the probe tries DNS for it, as ssh would).
    std::fs::write(
        home.system_config(),
        "Host *\n    SendEnv LANG LC_*\n    HashKnownHosts yes\n",
    )
    .unwrap();
    let (code, v) = check_json(&home, &["runpdo-4090"]);
    assert_eq!(code, Some(1));
    assert!(
        v[0]["error"]
            .as_str()
            .unwrap()
            .contains("did you mean runpod-4090?"),
        "{v:#}"
    );
    std::fs::write(home.system_config(), "").unwrap();

    let o = home.run(&["fix", "--dry-run", "gpuu"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean gpu?"), "{}", stderr(&o));

    // show still prints what ssh -G prints; the note goes to stderr.
    let o = home.run(&["show", "gpuu"]);
    ok(&o);
    assert!(stdout(&o).contains("hostname gpuu\n"), "{}", stdout(&o));
    assert!(stderr(&o).contains("no Host block"), "{}", stderr(&o));
    assert!(stderr(&o).contains("did you mean gpu?"), "{}", stderr(&o));
    let o = home.run(&["show", "gpu"]);
    assert!(!stderr(&o).contains("no Host block"), "{}", stderr(&o));
}

// Item 9 -------------------------------------------------------------------

#[test]
fn small_messages_say_what_they_mean() {
    let (home, _) = home_with_key(None);
    // --timeout 0: no "between 0 and …" that 0 seems to satisfy.
    for args in [
        &["check", "--timeout", "0", "x"][..],
        &["key", "rotate", "--timeout", "0", "x"][..],
    ] {
        let o = home.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&o).contains("more than 0"),
            "{args:?}: {}",
            stderr(&o)
        );
    }

    // add --json: failures are JSON too.
    let o = home.run(&["add", "--json", "ssh"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON error");
    assert!(v["error"].as_str().unwrap().contains("host"), "{v:#}");
    assert_eq!(v["exit_code"], 2);

    // A diff of an absolute path has one slash after a/ and b/.
    let outside = tempfile::tempdir().unwrap();
    let cfg = outside.path().join("c");
    let o = home.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "add",
        "--dry-run",
        "--no-vscode",
        PASTE,
    ]);
    ok(&o);
    assert!(
        stdout(&o).contains(&format!("--- a{}", cfg.display())),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("a//"), "{}", stdout(&o));

    // remove --dry-run mentions the pin it would drop.
    ok(&home.run(&["add", "--no-vscode", "--name", "gpu", PASTE]));
    std::fs::write(kh(&home), "gpu ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPin\n").unwrap();
    let o = home.run(&["remove", "--dry-run", "--no-vscode", "gpu"]);
    ok(&o);
    assert!(
        stdout(&o).contains("Would forget its pinned host key"),
        "{}",
        stdout(&o)
    );

    // The UTF-16 dry-run diff is text.
    let u = home.path().join("u16");
    utf16_config(&u);
    let o = home.run(&[
        "--config",
        u.to_str().unwrap(),
        "fix",
        "--dry-run",
        "--no-vscode",
    ]);
    assert!(
        stdout(&o).contains("from UTF-16LE to UTF-8"),
        "{}",
        stdout(&o)
    );
    // With a textual repair as well, the diff shows the lines as text.
    let mut b = vec![0xFF, 0xFE];
    for u in "Host gpu\n    Port 40123 # the pod\n".encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(&u, b).unwrap();
    let o = home.run(&[
        "--config",
        u.to_str().unwrap(),
        "fix",
        "--dry-run",
        "--no-vscode",
    ]);
    assert!(
        stdout(&o).contains("-    Port 40123 # the pod"),
        "{}",
        stdout(&o)
    );
    assert!(!o.stdout.contains(&0), "NUL bytes in {:?}", stdout(&o));
}

#[test]
fn fix_leaves_vscode_settings_alone_with_no_vscode_or_another_config_unless_asked() {
    let (home, _) = home_with_key(None);
    let settings = home.vscode_user_dir().join("settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, "{}\n").unwrap();
    let other = home.path().join("other");
    std::fs::write(
        &other,
        "Host runpod-a\n    HostName 203.0.113.7\n    Port 40123\n    User root\n",
    )
    .unwrap();
    let o_ = other.to_str().unwrap();

    let o = home.run(&["--config", o_, "fix"]);
    assert!(
        stdout(&o).contains("VS Code settings left alone"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), "{}\n");

    std::fs::copy(&other, home.ssh_dir().join("config")).unwrap();
    home.run(&["fix", "--no-vscode"]);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), "{}\n");

    home.run(&["--config", o_, "fix", "--vscode"]);
    let s = std::fs::read_to_string(&settings).unwrap();
    assert!(s.contains("runpod-a") && s.contains("linux"), "{s}");
}

#[test]
fn passing_host_check_verbose_lists_offered_keys_says_1_host_and_rounds_timings() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = home_with_key(Some(&sshd));
    let paste = format!(
        "ssh {}@127.0.0.1 -p {} -i {}",
        sshd.user,
        sshd.port,
        key.display()
    );
    ok(&home.run(&["add", "--name", "gpu", "--no-vscode", &paste]));
    let o = home.run(&["check", "-v", "--quick", "gpu"]);
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("key ~/.ssh/id_ed25519") || out.contains(&format!("key {}", key.display())),
        "{out}"
    );
    assert!(out.contains("accepted"), "{out}");
    assert!(out.contains("checked 1 host in"), "{out}");

    let (_, v) = check_json(&home, &["gpu", "--quick"]);
    for (stage, ms) in v[0]["timings"].as_object().unwrap() {
        let ms = ms.as_f64().unwrap();
        assert!(
            ((ms * 10.0).round() - ms * 10.0).abs() < 1e-6,
            "{stage}: {ms}"
        );
    }
}

// Item 10 ------------------------------------------------------------------

#[test]
fn check_warns_when_the_pod_has_no_workspace_and_shows_disks_apart() {
    let Some(sshd) = Sshd::start(&[]) else { return };
    let (home, key) = home_with_key(Some(&sshd));
    let paste = format!(
        "ssh {}@127.0.0.1 -p {} -i {}",
        sshd.user,
        sshd.port,
        key.display()
    );
    ok(&home.run(&["add", "--name", "gpu", "--no-vscode", &paste]));
    let o = home.run(&["check", "gpu"]);
    ok(&o);
    let out = stdout(&o);
    // The "pod" is this machine: its / is the container disk.
    assert!(out.contains("container disk (/)"), "{out}");
    if Path::new("/workspace").exists() {
        assert!(!out.contains("no /workspace"), "{out}");
    } else {
        assert!(out.contains("the pod has no /workspace"), "{out}");
        assert!(out.contains("lost when the pod stops"), "{out}");
        let (_, v) = check_json(&home, &["gpu"]);
        assert_eq!(v[0]["facts"]["workspace_missing"], true, "{v:#}");
    }
}

/// A login whose output is not the facts command's (a ForceCommand, a pod
/// without `df`): nothing is known of its disks, so no "no /workspace"
/// alarm and no "no GPU visible".
#[test]
fn check_claims_no_facts_when_the_facts_command_printed_nothing() {
    let Some(sshd) = Sshd::start(&["ForceCommand /bin/true"]) else {
        return;
    };
    let (home, key) = home_with_key(Some(&sshd));
    let paste = format!(
        "ssh {}@127.0.0.1 -p {} -i {}",
        sshd.user,
        sshd.port,
        key.display()
    );
    ok(&home.run(&["add", "--name", "gpu", "--no-vscode", &paste]));
    let o = home.run(&["check", "gpu"]);
    ok(&o);
    let out = stdout(&o);
    assert!(!out.contains("/workspace"), "{out}");
    assert!(!out.contains("no GPU visible"), "{out}");
    let (code, v) = check_json(&home, &["gpu"]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v[0]["facts"], serde_json::Value::Null, "{v:#}");
}

// Item 11 ------------------------------------------------------------------

#[test]
fn add_accepts_a_bare_ssh_uri() {
    let (home, _) = home_with_key(None);
    let o = home.run(&["add", "--no-vscode", "ssh://root@203.0.113.7:40123"]);
    ok(&o);
    let cfg = std::fs::read_to_string(home.ssh_dir().join("config")).unwrap();
    assert!(
        cfg.contains("HostName 203.0.113.7") && cfg.contains("Port 40123"),
        "{cfg}"
    );
    // With a leading `ssh` as well.
    let o = home.run(&["add", "--no-vscode", "ssh ssh://root@203.0.113.8:40124"]);
    ok(&o);
    let cfg = std::fs::read_to_string(home.ssh_dir().join("config")).unwrap();
    assert!(
        cfg.contains("HostName 203.0.113.8") && cfg.contains("Port 40124"),
        "{cfg}"
    );
}

// Item 12 ------------------------------------------------------------------

#[test]
fn readme_install_says_locked_path_install_cargo_bin_on_path_and_build_time() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        readme.contains("cargo install --locked --path ."),
        "install command"
    );
    assert!(readme.contains("~/.cargo/bin"), "PATH note");
    assert!(readme.contains("first build"), "build time");
}

/// `fix --probe --config F`: the probe's hints name `runpod-ssh --config F
/// …` (item 5), not a bare `runpod-ssh add` that writes `~/.ssh/config`.
#[test]
fn fix_probe_hints_carry_the_given_config() {
    let (home, _) = home_with_key(None);
    let cfg = home.path().join("my_config");
    let c = cfg.to_str().unwrap();
    // A closed port on loopback: the probe stops at tcp (endpoint stale).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let paste = format!("ssh root@127.0.0.1 -p {port} -i ~/.ssh/id_ed25519");
    ok(&home.run(&["--config", c, "add", "--no-vscode", "--name", "gpu", &paste]));
    let o = home.run(&["--config", c, "fix", "--probe", "--dry-run", "--no-vscode"]);
    let out = stdout(&o);
    assert!(out.contains("endpoint stale"), "{out}\n{}", stderr(&o));
    assert!(
        out.contains(&format!("`runpod-ssh --config {c} add --name gpu ")),
        "{out}"
    );
}

/// Item 1: `add --name pod --reset-host-key` on a hand-written RunPod entry
/// whose key ssh pinned in `~/.ssh/known_hosts` (not runpod-ssh's file)
/// must not claim "No host key is pinned": it names the file and the
/// `ssh-keygen -R` that resets it there, exits non-zero and leaves the
/// user's known_hosts alone.
#[test]
fn reset_host_key_names_a_pin_in_the_users_own_known_hosts() {
    let (home, _) = home_with_key(None);
    std::fs::write(
        home.ssh_dir().join("config"),
        "Host pod\n    HostName 203.0.113.7\n    Port 40123\n    User root\n",
    )
    .unwrap();
    let users = home.ssh_dir().join("known_hosts");
    let pin = "[203.0.113.7]:40123 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPin\n";
    std::fs::write(&users, pin).unwrap();
    for extra in [&["--dry-run"][..], &[][..]] {
        let mut args = vec!["add", "--no-vscode", "--name", "pod", "--reset-host-key"];
        args.extend_from_slice(extra);
        let o = home.run(&args);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!o.status.success(), "{all}");
        assert!(!all.contains("No host key is pinned"), "{all}");
        assert!(all.contains("~/.ssh/known_hosts"), "{all}");
        assert!(
            all.contains("`ssh-keygen -R '[203.0.113.7]:40123' -f "),
            "{all}"
        );
        assert_eq!(std::fs::read_to_string(&users).unwrap(), pin);
    }
    // The printed command does reset it.
    let o = home.run(&["add", "--no-vscode", "--name", "pod", "--reset-host-key"]);
    let all = stderr(&o);
    let start = all.find("`ssh-keygen ").unwrap() + 1;
    let cmd = &all[start..start + all[start..].find('`').unwrap()];
    let st = home.cmd("sh").args(["-c", cmd]).output().unwrap();
    assert!(st.status.success(), "{cmd}: {}", stderr(&st));
    assert_eq!(std::fs::read_to_string(&users).unwrap(), "");
}
