//! `runpod-ssh add`, `list`, `remove`, `restore` end to end, in temp HOMEs,
//! with the real `ssh -G` as the judge of what the written file means.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{TempHome, require_tool, ssh_g, stderr, stdout};
use runpod_ssh::config::{Document, pattern};

const PASTE: &str = "ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519";
const ALIAS: &str = "runpod-203-0-113-7-40123";

fn g(home: &TempHome, ssh: &Path, file: &Path, host: &str) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in ssh_g(home, ssh, file, host).unwrap_or_else(|e| panic!("ssh -G {host}: {e}")) {
        m.entry(k).or_default().push(v);
    }
    m
}

/// Literal host names a config mentions (its Host patterns without wildcards).
fn hosts_of(bytes: &[u8]) -> Vec<String> {
    let d = Document::parse(bytes);
    let mut v: Vec<String> = d
        .blocks()
        .iter()
        .flat_map(|b| b.patterns.clone())
        .filter(|p| !pattern::is_wildcard(p))
        .collect();
    v.push("some-other-host".into());
    v.sort();
    v.dedup();
    v
}

/// Lines of `old` that differ in `new` all lie in `allowed` (old line
/// indices); an insertion changes no old line (bar a newline added to a
/// last line that had none).
fn assert_only_changed(old: &[u8], new: &[u8], allowed: std::ops::Range<usize>) {
    let split = |b: &[u8]| -> Vec<Vec<u8>> {
        b.split_inclusive(|&c| c == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    };
    let (o, n) = (split(old), split(new));
    let prefix = o.iter().zip(&n).take_while(|(a, b)| a == b).count();
    let suffix = o[prefix..]
        .iter()
        .rev()
        .zip(n[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let changed = prefix..o.len() - suffix;
    if changed.is_empty() {
        return;
    }
    let newline_fix = changed.len() == 1
        && changed.start == o.len() - 1
        && !o[changed.start].ends_with(b"\n")
        && n[changed.start].starts_with(&o[changed.start]);
    assert!(
        newline_fix || (allowed.start <= changed.start && changed.end <= allowed.end),
        "old lines {changed:?} changed, only {allowed:?} may:\n--- old\n{}\n--- new\n{}",
        String::from_utf8_lossy(old),
        String::from_utf8_lossy(new)
    );
}

struct Case {
    name: &'static str,
    config: &'static [u8],
}

const CASES: &[Case] = &[
    Case { name: "empty", config: b"" },
    Case { name: "crlf", config: b"Host web\r\n    HostName web.example.com\r\n    User alice\r\n" },
    Case { name: "no-final-newline", config: b"Host web\n\tHostName web.example.com\n\tPort 2200" },
    Case { name: "tabs-and-equals", config: b"Host\tweb\n\tHostName=web.example.com\n\tPort = 2200\n" },
    Case { name: "host-star-first", config: b"Host *\n  ServerAliveInterval 60\n  IdentityFile ~/.ssh/id_rsa\n\nHost web\n  HostName web.example.com\n" },
    Case { name: "global-options", config: b"# my globals\nCompression yes\nAddKeysToAgent yes\n\nHost web\n  HostName web.example.com\n" },
    Case { name: "include-global", config: b"Include ~/.ssh/conf.d/*.conf\n\nHost web\n  HostName web.example.com\n" },
    Case { name: "match-block", config: b"Host web\n  HostName web.example.com\n\nMatch host *.example.com\n  User matched\n" },
    Case { name: "comments-everywhere", config: b"# top\n\n# about web\nHost web # trailing\n  HostName web.example.com   # the IP\n\n# about star\nHost *\n  User me\n" },
];

#[test]
fn add_writes_what_ssh_reads_and_nothing_else() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    for case in CASES {
        let home = TempHome::new();
        std::fs::create_dir_all(home.ssh_dir().join("conf.d")).unwrap();
        std::fs::write(
            home.ssh_dir().join("conf.d/a.conf"),
            "Host inc\n  HostName inc.example\n",
        )
        .unwrap();
        let cfg = home.ssh_dir().join("config");
        std::fs::write(&cfg, case.config).unwrap();
        let others = hosts_of(case.config);
        let before: Vec<_> = others.iter().map(|h| g(&home, &ssh, &cfg, h)).collect();

        let o = home.run(&["add", PASTE]);
        if case.name == "host-star-first" {
            // Host * comes first and sets IdentityFile: it would be tried first.
            // ssh's first-value-wins makes the entry unusable unless it goes
            // above; that is where it goes, so this must succeed.
        }
        assert!(o.status.success(), "{}: {}", case.name, stderr(&o));
        let after = std::fs::read(&cfg).unwrap();
        let m = g(&home, &ssh, &cfg, ALIAS);
        assert_eq!(m["hostname"], ["203.0.113.7"], "{}", case.name);
        assert_eq!(m["port"], ["40123"], "{}", case.name);
        assert_eq!(m["user"], ["root"], "{}", case.name);
        assert_eq!(m["identityfile"][0], "~/.ssh/id_ed25519", "{}", case.name);
        assert_eq!(m["identitiesonly"], ["yes"], "{}", case.name);
        assert_eq!(m["stricthostkeychecking"], ["accept-new"], "{}", case.name);
        assert_eq!(m["hostkeyalias"], [ALIAS], "{}", case.name);
        for (h, b) in others.iter().zip(&before) {
            assert_eq!(
                &g(&home, &ssh, &cfg, h),
                b,
                "{}: ssh -G {h} changed",
                case.name
            );
        }
        // Only insertions: no old line changed.
        assert_only_changed(case.config, &after, 0..0);
        // CRLF files get CRLF lines.
        if case.name == "crlf" {
            let text = String::from_utf8(after.clone()).unwrap();
            assert!(
                !text.replace("\r\n", "").contains('\n'),
                "mixed endings:\n{text}"
            );
        }

        // Same paste again: nothing changes, no new backup.
        let backups = runpod_ssh::fsio::backups(&cfg).len();
        let o = home.run(&["add", PASTE]);
        assert!(o.status.success());
        assert_eq!(
            std::fs::read(&cfg).unwrap(),
            after,
            "{}: second add changed the file",
            case.name
        );
        assert_eq!(runpod_ssh::fsio::backups(&cfg).len(), backups);

        // The pod restarted: new IP and port, same alias → updated in place.
        let o = home.run(&[
            "add",
            "--name",
            ALIAS,
            "ssh root@198.51.100.9 -p 41000 -i ~/.ssh/id_ed25519",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let updated = std::fs::read(&cfg).unwrap();
        let m = g(&home, &ssh, &cfg, ALIAS);
        assert_eq!(m["hostname"], ["198.51.100.9"]);
        assert_eq!(m["port"], ["41000"]);
        let doc = Document::parse(&after);
        let bi = doc.host_blocks_naming(ALIAS)[0];
        let block = doc.blocks()[bi].lines.clone();
        assert_only_changed(&after, &updated, block);
        assert_eq!(
            Document::parse(&updated).host_blocks_naming(ALIAS).len(),
            1,
            "duplicate entry"
        );
        for (h, b) in others.iter().zip(&before) {
            assert_eq!(
                &g(&home, &ssh, &cfg, h),
                b,
                "{}: ssh -G {h} changed after update",
                case.name
            );
        }

        // Remove gives the original bytes back (blank separators aside).
        let o = home.run(&["remove", ALIAS]);
        assert!(o.status.success(), "{}", stderr(&o));
        let removed = std::fs::read(&cfg).unwrap();
        let norm = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .replace("\r\n", "\n")
                .trim_end()
                .replace("\n\n\n", "\n\n")
                .to_string()
        };
        assert_eq!(
            norm(&removed).trim_start(),
            norm(case.config).trim_start(),
            "{}",
            case.name
        );
    }
}

#[test]
fn same_endpoint_updates_in_place_even_by_hand_written_alias() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let original = b"Host RunPod-4090\n    HostName 203.0.113.7    # the IP after @\n    User root\n    Port 40123\n";
    std::fs::write(&cfg, original).unwrap();
    let o = home.run(&["add", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read(&cfg).unwrap();
    let text = String::from_utf8_lossy(&after);
    // The user's alias is kept, their comment's words too, on its own line
    // above (issue 13: Windows' ssh refuses it after a value); no second block.
    assert!(
        text.contains("    # the IP after @\n    HostName 203.0.113.7\n"),
        "{text}"
    );
    assert_eq!(Document::parse(&after).blocks().len(), 2, "{text}");
    let m = g(&home, &ssh, &cfg, "RunPod-4090");
    assert_eq!(m["identityfile"], ["~/.ssh/id_ed25519"]);
    // ssh lowercases HostKeyAlias.
    assert_eq!(m["hostkeyalias"], ["runpod-4090"]);
}

#[test]
fn refuses_when_an_earlier_line_overrides_the_entry() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    // A global User before any block applies to every host and wins.
    let original = b"User ubuntu\nHost web\n  HostName web.example.com\n";
    std::fs::write(&cfg, original).unwrap();
    let o = home.run(&["add", PASTE]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("User") && err.contains(":1"), "{err}");
    assert_eq!(std::fs::read(&cfg).unwrap(), original);
    // An existing block of the same alias below a Host * that sets Port.
    let original = b"Host *\n  Port 22\nHost runpod-203-0-113-7-40123\n  HostName 203.0.113.7\n";
    std::fs::write(&cfg, original).unwrap();
    let o = home.run(&["add", PASTE]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("Port"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&cfg).unwrap(), original);
}

#[test]
fn refuses_a_config_ssh_already_refuses() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let original = b"Host gpu\n  Port 40123# the port\n";
    std::fs::write(&cfg, original).unwrap();
    let o = home.run(&["add", PASTE]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Bad port"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&cfg).unwrap(), original);
}

#[test]
fn dry_run_shows_a_diff_and_writes_nothing() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, b"Host web\n  HostName w\n").unwrap();
    let o = home.run(&["add", PASTE, "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("+Host runpod-203-0-113-7-40123"), "{out}");
    assert!(out.contains("+    Port 40123"), "{out}");
    assert_eq!(std::fs::read(&cfg).unwrap(), b"Host web\n  HostName w\n");
}

#[cfg(unix)]
#[test]
fn creates_ssh_dir_0700_and_config_0600() {
    use std::os::unix::fs::PermissionsExt;
    let home = TempHome::new();
    std::fs::remove_dir(home.ssh_dir()).unwrap();
    let o = home.run(&["add", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home.ssh_dir()), 0o700);
    assert_eq!(mode(&home.ssh_dir().join("config")), 0o600);
}

#[cfg(unix)]
#[test]
fn writes_through_a_symlinked_config() {
    let home = TempHome::new();
    let real = home.path().join("dotfiles-ssh-config");
    std::fs::write(&real, b"Host web\n  HostName w\n").unwrap();
    std::os::unix::fs::symlink(&real, home.ssh_dir().join("config")).unwrap();
    let o = home.run(&["add", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(home.ssh_dir().join("config"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("Host runpod-203-0-113-7-40123")
    );
}

#[cfg(unix)]
#[test]
fn read_only_folder_is_a_clear_error_and_loses_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let home = TempHome::new();
    let dir = home.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    let cfg = dir.join("config");
    std::fs::write(&cfg, b"Host web\n  HostName w\n").unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores directory permissions: make the folder immutable instead.
    let root = unsafe_is_root();
    let immutable = root
        && std::process::Command::new("chattr")
            .arg("+i")
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
    if root && !immutable {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "running as root and `chattr +i` failed: cannot make a read-only folder for this test"
            );
        }
        eprintln!("SKIPPED read-only check: running as root without chattr");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        return;
    }
    let o = home.run(&["add", PASTE, "--config", cfg.to_str().unwrap()]);
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(&dir)
        .status();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&cfg).unwrap(), b"Host web\n  HostName w\n");
}

#[cfg(unix)]
fn unsafe_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[test]
fn endpoint_change_forgets_only_that_pinned_key() {
    let home = TempHome::new();
    let kh = home.ssh_dir().join("known_hosts_runpod");
    assert!(home.run(&["add", PASTE]).status.success());
    let pins = format!(
        "{ALIAS} ssh-ed25519 AAAAold\nrunpod-other ssh-ed25519 AAAAkeep\n[203.0.113.7]:40123 ssh-ed25519 AAAAaddr\n"
    );
    std::fs::write(&kh, &pins).unwrap();
    // Same endpoint again: pins untouched.
    assert!(home.run(&["add", PASTE]).status.success());
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), pins);
    // New endpoint for the alias: only its pin goes.
    let o = home.run(&["add", "--name", ALIAS, "ssh root@198.51.100.9 -p 41000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        "runpod-other ssh-ed25519 AAAAkeep\n[203.0.113.7]:40123 ssh-ed25519 AAAAaddr\n"
    );
}

#[test]
fn vscode_settings_keep_every_other_byte() {
    let home = TempHome::new();
    let user = home.vscode_user_dir();
    std::fs::create_dir_all(&user).unwrap();
    let settings = user.join("settings.json");
    let original = "// VS Code settings\r\n{\r\n    \"editor.fontSize\": 14, // I like it big\r\n    /* block\r\n       comment */\r\n    \"remote.SSH.remotePlatform\": {\r\n        \"old-host\": \"linux\",\r\n    },\r\n    \"files.trimTrailingWhitespace\": true,\r\n}\r\n";
    std::fs::write(&settings, original).unwrap();
    // Cursor installed, no settings file yet: one is created.
    std::fs::create_dir_all(home.path().join(".config/Cursor/User")).unwrap();
    let o = home.run(&["add", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&settings).unwrap();
    assert_eq!(
        runpod_ssh::vscode::remote_platform(&after, ALIAS).as_deref(),
        Some("linux")
    );
    // Everything before the new key and after the map is byte-identical.
    let cut = original.find("        \"old-host\": \"linux\",").unwrap();
    assert!(after.starts_with(&original[..cut]), "{after}");
    assert!(
        after.ends_with("    },\r\n    \"files.trimTrailingWhitespace\": true,\r\n}\r\n"),
        "{after}"
    );
    assert!(after.contains("\"old-host\": \"linux\","));
    let cursor =
        std::fs::read_to_string(home.path().join(".config/Cursor/User/settings.json")).unwrap();
    assert_eq!(
        runpod_ssh::vscode::remote_platform(&cursor, ALIAS).as_deref(),
        Some("linux")
    );
    // --no-vscode leaves them alone; remove takes the key out again.
    let o = home.run(&["remove", ALIAS]);
    assert!(o.status.success(), "{}", stderr(&o));
    let removed = std::fs::read_to_string(&settings).unwrap();
    assert_eq!(runpod_ssh::vscode::remote_platform(&removed, ALIAS), None);
    assert!(removed.contains("// I like it big") && removed.contains("comment */"));
}

/// Without `--config`, ssh reads the system config after the user's: a
/// system-wide `Host *` fills what the user's file leaves unset, in every
/// row (it used to reach only hosts that needed the full evaluation).
#[test]
fn list_rows_take_the_system_config_as_ssh_does() {
    // The system config is `/etc/ssh/ssh_config`, which the test home
    // stands in for on Linux (the Windows lane has no OpenSSH: skipped).
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    std::fs::write(
        home.system_config(),
        "Host *\n  User sysuser\n  Port 2299\n",
    )
    .unwrap();
    std::fs::write(
        home.ssh_dir().join("config"),
        "Host a\n  HostName 10.1.1.1\nHost c\n  HostName 10.1.1.2\n  User own\nHost d\n  CanonicalizeHostname yes\n",
    )
    .unwrap();
    let o = home.run(&["list", "--all", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows: Vec<(String, String, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["alias"].as_str().unwrap().to_string(),
                r["user"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("a", "sysuser", 2299),
        ("c", "own", 2299),
        ("d", "sysuser", 2299),
    ];
    let want: Vec<(String, String, u64)> = want
        .iter()
        .map(|(a, u, p)| (a.to_string(), u.to_string(), *p))
        .collect();
    assert_eq!(rows, want);
    // And that is what ssh says.
    for (alias, user, port) in &want {
        let o = home.cmd(&ssh).args(["-G", alias]).output().unwrap();
        let out = stdout(&o);
        assert!(out.contains(&format!("\nuser {user}\n")), "{alias}: {out}");
        assert!(out.contains(&format!("\nport {port}\n")), "{alias}: {out}");
    }
}

#[test]
fn list_shows_runpod_entries_with_sources() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(
        &cfg,
        "Include extra.conf\nHost web\n  HostName web.example.com\nHost gpu-box\n  HostName 198.51.100.4\n  User root\n  Port 2222\nHost proxy\n  HostName ssh.runpod.io\n",
    )
    .unwrap();
    std::fs::write(
        home.ssh_dir().join("extra.conf"),
        "Host MyRunPod\n  HostName 192.0.2.1\n",
    )
    .unwrap();
    assert!(home.run(&["add", PASTE]).status.success());
    let o = home.run(&["list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let aliases: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alias"].as_str().unwrap())
        .collect();
    // File order: the new entry follows the blocks that do not apply to it.
    assert_eq!(aliases, ["gpu-box", "proxy", ALIAS, "MyRunPod"]);
    let first = &v[2];
    assert_eq!(first["managed"], true);
    assert_eq!(first["port"], 40123);
    assert_eq!(first["identity_exists"], false);
    assert_eq!(v[3]["source"]["line"], 1);
    assert!(
        v[3]["source"]["file"]
            .as_str()
            .unwrap()
            .ends_with("extra.conf")
    );
    let all = home.run(&["list", "--all", "--json"]);
    let n = serde_json::from_slice::<serde_json::Value>(&all.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(n, 5);
    assert!(stdout(&home.run(&["list"])).contains("gpu-box"));
}

#[test]
fn remove_refuses_shared_blocks_unless_forced() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let original = "Host a runpod-x b   # shared\n  User root\n";
    std::fs::write(&cfg, original).unwrap();
    let o = home.run(&["remove", "runpod-x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("also names other hosts"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
    let o = home.run(&["remove", "runpod-x", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "Host a b   # shared\n  User root\n"
    );
    let o = home.run(&["remove", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn restore_puts_back_the_previous_version() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, b"Host web\r\n  HostName w\r\n").unwrap();
    assert!(home.run(&["add", PASTE]).status.success());
    let o = home.run(&["restore", "--list"]);
    assert!(stdout(&o).contains("config."), "{}", stdout(&o));
    let o = home.run(&["restore"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&cfg).unwrap(),
        b"Host web\r\n  HostName w\r\n"
    );
    // And the restore itself can be undone.
    assert_eq!(runpod_ssh::fsio::backups(&cfg).len(), 2);
}

#[test]
fn add_writes_only_portable_lines() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, b"Host web # mine\n  HostName w\n").unwrap();
    for paste in [
        r#"ssh root@203.0.113.7 -p 40123 -i "C:\Users\John Doe\.ssh\id_ed25519""#,
        r"ssh root@198.51.100.2 -p 40000 -i C:\Users\me\.ssh\id_ed25519 -L 8888:localhost:8888",
        "ssh abc123xyz-64410f1d@ssh.runpod.io -i ~/.ssh/id_ed25519",
    ] {
        let o = home.run(&["add", paste]);
        assert!(o.status.success(), "{paste}: {}", stderr(&o));
    }
    let out = std::fs::read(&cfg).unwrap();
    assert!(!out.starts_with(b"\xEF\xBB\xBF"));
    let doc = Document::parse(&out);
    for l in doc.lines().iter().skip(2) {
        let text = l.text();
        if let Some(d) = l.directive() {
            assert!(d.comment.is_none(), "{text:?}");
            let value = String::from_utf8_lossy(&l.bytes()[d.value]).into_owned();
            assert!(!value.contains(['#', '\'', '\\']), "{text:?}");
        }
    }
    assert!(
        String::from_utf8_lossy(&out)
            .contains("IdentityFile \"C:/Users/John Doe/.ssh/id_ed25519\"")
    );
}

#[test]
fn remove_of_a_hand_written_block_needs_force() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let original = "Host github.com\n    User git\n    IdentityFile ~/.ssh/id_github\n\nHost runpod-a\n    HostName 203.0.113.7\n";
    std::fs::write(&cfg, original).unwrap();
    let o = home.run(&["remove", "github.com", "--no-vscode"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("not a RunPod entry") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
    assert!(!home.ssh_dir().join(".runpod-ssh-backups").exists());
    // --force overrides exactly that refusal.
    let o = home.run(&["remove", "github.com", "--force", "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "Host runpod-a\n    HostName 203.0.113.7\n"
    );
}

#[test]
fn remove_takes_every_kind_of_runpod_entry_without_force() {
    // The definition: marker, "runpod" in the alias, ssh.runpod.io, or an
    // IPv4 HostName with User root and a Port other than 22.
    for block in [
        "# managed by runpod-ssh\nHost gpu\n    HostName 203.0.113.7\n",
        "Host My-RunPod\n    HostName gpu.example\n",
        "Host gpu\n    HostName ssh.runpod.io\n",
        "Host gpu\n    HostName 203.0.113.7\n    User root\n    Port 40123\n",
    ] {
        let home = TempHome::new();
        let cfg = home.ssh_dir().join("config");
        let alias = Document::parse(block.as_bytes()).blocks()[1].patterns[0].clone();
        std::fs::write(&cfg, block).unwrap();
        let o = home.run(&["remove", &alias, "--no-vscode"]);
        assert!(o.status.success(), "{block}: {}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "");
    }
    // Not RunPod entries: another user, port 22, no port, a DNS name.
    for block in [
        "Host gpu\n    HostName 203.0.113.7\n    User ubuntu\n    Port 40123\n",
        "Host gpu\n    HostName 203.0.113.7\n    User root\n    Port 22\n",
        "Host gpu\n    HostName 203.0.113.7\n    User root\n",
        "Host gpu\n    HostName gpu.example\n    User root\n    Port 40123\n",
    ] {
        let home = TempHome::new();
        let cfg = home.ssh_dir().join("config");
        std::fs::write(&cfg, block).unwrap();
        let o = home.run(&["remove", "gpu", "--no-vscode"]);
        assert_eq!(o.status.code(), Some(2), "{block}");
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), block);
    }
}

#[test]
fn add_at_the_endpoint_of_a_hand_written_block_leaves_it_byte_identical() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let prod = "Host prod   # the real server\n    HostName 203.0.113.7\n    Port 40123\n    User ubuntu\n    IdentityFile ~/.ssh/id_prod\n";
    std::fs::write(&cfg, prod).unwrap();
    let o = home.run(&["add", PASTE, "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("prod") && err.contains("same endpoint"),
        "{err}"
    );
    let after = std::fs::read_to_string(&cfg).unwrap();
    assert!(after.starts_with(prod), "{after}");
    assert!(after.contains(&format!("Host {ALIAS}\n")), "{after}");
    // ssh: prod unchanged, the new entry is root with the pasted key.
    let p = g(&home, &ssh, &cfg, "prod");
    assert_eq!(p["user"], ["ubuntu"]);
    assert_eq!(p["identityfile"], ["~/.ssh/id_prod"]);
    let n = g(&home, &ssh, &cfg, ALIAS);
    assert_eq!(n["user"], ["root"]);
    assert_eq!(n["port"], ["40123"]);
    assert_eq!(n["identityfile"], ["~/.ssh/id_ed25519"]);
    // Naming it explicitly is refused too.
    let o = home.run(&["add", "--name", "prod", PASTE, "--no-vscode"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), after);
}

#[test]
fn add_then_remove_gives_back_the_original_bytes() {
    let shapes: &[&[u8]] = &[
        b"",
        b"Host web\n    HostName w\n",
        b"Host web\n    HostName w",
        b"Host web\r\n    HostName w\r\n",
        b"Host web\r\n    HostName w",
        b"Host web\n    HostName w\n\n",
        b"Host web\n    HostName w\n\n\n",
        b"\n\nHost web\n    HostName w\n",
        b"Host web\n    HostName w\n\nHost *\n    User me\n",
        b"Host web\n    HostName w\nHost *\n    User me\n",
        b"Host web\n    HostName w\n# all hosts\nHost *\n    User me\n",
        b"Host web\n    HostName w\n\n# all hosts\nHost *\n    User me\n",
        b"Host *\n    User me\n",
        b"Compression yes\nHost *\n    User me",
        b"# just a comment",
        b"Host web\r\n    HostName w\r\n\r\nHost *\r\n    User me\r\n",
    ];
    for original in shapes {
        let home = TempHome::new();
        let cfg = home.ssh_dir().join("config");
        std::fs::write(&cfg, original).unwrap();
        let o = home.run(&["add", PASTE, "--no-vscode"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let added = std::fs::read(&cfg).unwrap();
        assert_ne!(&added, original);
        let o = home.run(&["remove", ALIAS, "--no-vscode"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            String::from_utf8_lossy(&std::fs::read(&cfg).unwrap()),
            String::from_utf8_lossy(original),
            "after add:\n{}",
            String::from_utf8_lossy(&added)
        );
    }
}

#[test]
fn settings_json_with_remote_platform_twice_edits_the_last() {
    let home = TempHome::new();
    let dir = home.vscode_user_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let settings = dir.join("settings.json");
    let text = format!(
        "{{\n  \"remote.SSH.remotePlatform\": {{ \"{ALIAS}\": \"windows\", \"other\": \"linux\" }},\n  \"editor.fontSize\": 14,\n  \"remote.SSH.remotePlatform\": {{ \"mine\": \"macOS\" }}\n}}\n"
    );
    std::fs::write(&settings, &text).unwrap();
    let o = home.run(&["add", PASTE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&settings).unwrap();
    let last = after.rfind("\"remote.SSH.remotePlatform\"").unwrap();
    // The map VS Code reads (the last) has the alias; the earlier one no
    // longer contradicts it; everything else is kept.
    assert!(
        after[last..].contains(&format!("\"{ALIAS}\": \"linux\"")),
        "{after}"
    );
    assert!(after[last..].contains("\"mine\": \"macOS\""), "{after}");
    assert!(!after[..last].contains(ALIAS), "{after}");
    assert!(after[..last].contains("\"other\": \"linux\""), "{after}");
    assert!(after.contains("\"editor.fontSize\": 14"), "{after}");
    assert_eq!(
        runpod_ssh::vscode::remote_platform(&after, ALIAS).as_deref(),
        Some("linux")
    );
}

#[test]
fn add_refuses_when_ssh_refuses_the_config_and_never_runs_match_exec() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    if require_tool("ssh").is_some() {
        // A line our evaluator lets through but ssh refuses: ssh -G is the
        // last line of defence.
        // (`Ciphers bogus` and `LocalForward 8888 localhost:0` were ones;
        // the evaluator knows them now.)
        let original = b"Host other\n    CanonicalDomains a/b\n".to_vec();
        std::fs::write(&cfg, &original).unwrap();
        let o = home.run(&["add", PASTE, "--no-vscode"]);
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains("ssh says") && err.contains("invalid characters"),
            "{err}"
        );
        assert!(err.contains(&cfg.display().to_string()), "{err}");
        assert_eq!(std::fs::read(&cfg).unwrap(), original);
    }
    // With Match exec the cross-check is skipped (and said so): the
    // command is never run.
    let marker = home.path().join("ran");
    let original = format!("Match exec \"touch {}\"\n    User x\n", marker.display());
    std::fs::write(&cfg, &original).unwrap();
    let o = home.run(&["add", PASTE, "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cross-check was skipped"),
        "{}",
        stderr(&o)
    );
    assert!(!marker.exists(), "Match exec was run");
}

#[test]
fn re_adding_without_identity_keeps_the_entrys_working_key() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(home.ssh_dir().join("work_key"), "not read here").unwrap();
    let entry = format!(
        "Host {ALIAS}\n    HostName 203.0.113.7\n    Port 40123\n    User root\n    IdentityFile ~/.ssh/work_key\n    IdentityFile ~/.ssh/second_key\n"
    );
    std::fs::write(&cfg, &entry).unwrap();
    let o = home.run(&["add", "ssh root@203.0.113.7 -p 40123", "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&cfg).unwrap();
    assert!(!after.contains("id_ed25519"), "{after}");
    assert!(!stderr(&o).contains("was not found"), "{}", stderr(&o));
    // ssh still tries the working key first, and the second one after it.
    let p = g(&home, &ssh, &cfg, ALIAS);
    assert_eq!(p["identityfile"], ["~/.ssh/work_key", "~/.ssh/second_key"]);
    // An explicit -i still replaces it.
    let o = home.run(&[
        "add",
        "ssh root@203.0.113.7 -p 40123 -i ~/.ssh/other",
        "--no-vscode",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = g(&home, &ssh, &cfg, ALIAS);
    assert_eq!(p["identityfile"][0], "~/.ssh/other");
}

#[test]
fn vscode_settings_errors_are_said_once() {
    let home = TempHome::new();
    let user = home.path().join(".config/Code/User");
    std::fs::create_dir_all(user.join("settings.json")).unwrap();
    let o = home.run(&["add", PASTE]);
    let err = stderr(&o);
    assert!(err.contains("is a folder"), "{err}");
    assert!(!err.contains("is a folder: is a folder"), "{err}");
    std::fs::remove_dir(user.join("settings.json")).unwrap();
    // A FIFO is the Unix lane's (Windows has no mkfifo).
    if cfg!(windows) {
        return;
    }
    let made = std::process::Command::new("mkfifo")
        .arg(user.join("settings.json"))
        .status()
        .unwrap();
    assert!(made.success());
    let o = home.run(&["add", "ssh root@203.0.113.8 -p 40123"]);
    let err = stderr(&o);
    assert_eq!(err.matches("reads only regular files").count(), 1, "{err}");
    assert!(err.contains("FIFO"), "{err}");
}

#[test]
fn list_and_show_escape_terminal_sequences_from_the_config() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(
        &cfg,
        "Host runpod-\x1b]0;PWNED\x07x\n  HostName 203.0.113.7\n  Port 40123\n  User root\n  IdentityFile ~/.ssh/k\x1b[2J\n",
    )
    .unwrap();
    let o = home.run(&["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("runpod-\\u{1b}]0;PWNED\\u{7}x"), "{out}");
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    let o = home.run(&["show", "runpod-\x1b]0;PWNED\x07x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("k\\u{1b}[2J"), "{out}");
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    // JSON stays data: the alias as written, JSON-escaped.
    let o = home.run(&["--json", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["alias"], "runpod-\x1b]0;PWNED\x07x");
}

/// A value `add` keeps as it is (the entry's own key path, here with a
/// `#`, which runpod-ssh never writes itself) is not rewritten, so an
/// update after a restart is not refused over a line it does not change.
#[test]
fn update_keeps_an_unchanged_value_it_would_not_write_itself() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(home.ssh_dir().join("id#1"), "not read here").unwrap();
    let key_line = "    IdentityFile \"~/.ssh/id#1\"\n";
    let entry = format!(
        "Host {ALIAS}\n    HostName 203.0.113.7\n    Port 40100\n    User root\n{key_line}"
    );
    std::fs::write(&cfg, &entry).unwrap();
    let o = home.run(&[
        "add",
        "--name",
        ALIAS,
        "ssh root@203.0.113.7 -p 40123",
        "--no-vscode",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        after.contains(&format!("    Port 40123\n    User root\n{key_line}")),
        "{after}"
    );
    let p = g(&home, &ssh, &cfg, ALIAS);
    assert_eq!(p["identityfile"][0], "~/.ssh/id#1");
    assert_eq!(p["port"], ["40123"]);
}

/// The file:line a warning names is where the line is in the file as
/// written, after the entry grew and its comments moved above their lines.
#[test]
fn update_warnings_name_lines_of_the_file_as_written() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(
        &cfg,
        format!(
            "Host {ALIAS} # the pod\n    HostName 203.0.113.7 # its IP\n    User root\n    Port 40100\n\nHost {ALIAS}\n    User other\n\nHost prod\n    HostName 203.0.113.7\n    Port 40123\n    User deploy\n"
        ),
    )
    .unwrap();
    let o = home.run(&["add", "--name", ALIAS, PASTE, "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&cfg).unwrap();
    let at = |line: &str| after.lines().position(|l| l == line).unwrap() + 1;
    let second = after
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == format!("Host {ALIAS}"))
        .nth(1)
        .map(|(i, _)| i + 1)
        .unwrap();
    let e = stderr(&o);
    assert!(
        e.contains(&format!("{}:{second} also defines {ALIAS}", cfg.display())),
        "{e}\n{after}"
    );
    assert!(
        e.contains(&format!("prod ({}:{})", cfg.display(), at("Host prod"))),
        "{e}\n{after}"
    );
}

/// `"~/.ssh/my key #2"` is a key path (the file exists), not a path and a
/// comment: updating the entry keeps it as the user wrote it.
#[test]
fn update_keeps_a_quoted_key_path_with_space_hash_that_exists() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(home.ssh_dir().join("my key #2"), "not read here").unwrap();
    let key_line = "    IdentityFile \"~/.ssh/my key #2\"\n";
    std::fs::write(
        &cfg,
        format!("Host {ALIAS}\n    HostName 203.0.113.7\n    Port 40100 # old\n    User root\n{key_line}"),
    )
    .unwrap();
    let o = home.run(&[
        "add",
        "--name",
        ALIAS,
        "ssh root@203.0.113.7 -p 40123",
        "--no-vscode",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        after.contains(&format!(
            "    # old\n    Port 40123\n    User root\n{key_line}"
        )),
        "{after}"
    );
    let p = g(&home, &ssh, &cfg, ALIAS);
    assert_eq!(p["identityfile"][0], "~/.ssh/my key #2");
}

/// Updating an entry of a config saved in a Windows code page keeps the
/// bytes of its key path and of the comments it moves.
#[test]
fn update_keeps_bytes_that_are_not_utf8() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let mut before =
        format!("Host {ALIAS}\n    HostName 203.0.113.7\n    Port 40100\n    User root\n")
            .into_bytes();
    before.extend_from_slice(b"    IdentityFile ~/.ssh/k\xe9y # cl\xe9\n");
    std::fs::write(&cfg, &before).unwrap();
    let o = home.run(&[
        "add",
        "--name",
        ALIAS,
        "ssh root@203.0.113.7 -p 40123",
        "--no-vscode",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read(&cfg).unwrap();
    let want: &[u8] =
        b"    Port 40123\n    User root\n    # cl\xe9\n    IdentityFile ~/.ssh/k\xe9y\n";
    assert!(
        after.windows(want.len()).any(|w| w == want),
        "{}",
        String::from_utf8_lossy(&after)
    );
}

/// A file with many RunPod entries: the "restarted pod?" warning names the
/// first five and counts the rest, with the command that lists them all
/// (it named every alias: a thousand entries made one line of a thousand).
#[test]
fn restarted_pod_warning_names_five_entries_and_counts_the_rest() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let mut text = String::new();
    for i in 1..=7 {
        text += &format!(
            "# managed by runpod-ssh\nHost pod-{i}\n    HostName 203.0.113.{i}\n    Port 4000{i}\n    User root\n\n"
        );
    }
    std::fs::write(&cfg, &text).unwrap();
    let o = home.run(&["add", PASTE, "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains("if this is a restarted pod you already have"))
        .unwrap_or_else(|| panic!("no restarted-pod warning: {err}"));
    assert!(
        line.contains("(pod-1, pod-2, pod-3, pod-4, pod-5 and 2 more: `runpod-ssh list`)"),
        "{line}"
    );
    assert!(!line.contains("pod-6") && !line.contains("pod-7"), "{line}");

    // Five or fewer: all of them, no count.
    let text: String = text.split_inclusive("\n\n").take(2).collect();
    std::fs::write(&cfg, &text).unwrap();
    let o = home.run(&["add", PASTE, "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("(pod-1, pod-2), run the command again"),
        "{err}"
    );
}

/// The file as read is judged only when the edited one has problems: a
/// catch-all line that breaks every other host (a `HostName` with a token
/// ssh cannot expand) no longer stops an entry whose own `HostName` comes
/// first and that ssh accepts; a line ssh refuses whatever the host is
/// still refused in the old words, naming the file as read.
#[test]
fn add_judges_the_file_as_read_only_when_the_edit_has_problems() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, "Host *\n    HostName gpu%z\n").unwrap();
    // ssh itself: every host but one with its own HostName fails.
    assert!(ssh_g(&home, &ssh, &cfg, "other").is_err());
    let o = home.run(&["add", PASTE, "--no-vscode"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let g = ssh_g(&home, &ssh, &cfg, ALIAS).expect("ssh -G accepts the new entry");
    assert!(
        g.contains(&("hostname".into(), "203.0.113.7".into())),
        "{g:?}"
    );

    let original = b"Host other\n    Port 99999\n".to_vec();
    std::fs::write(&cfg, &original).unwrap();
    let o = home.run(&["add", PASTE, "--no-vscode"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("ssh already refuses this config"), "{err}");
    assert!(err.contains(&format!("{}:2:", cfg.display())), "{err}");
    assert_eq!(std::fs::read(&cfg).unwrap(), original);
}
