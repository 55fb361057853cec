//! `runpod-ssh fix` on every fixture in `fixtures/fix/RULE/`: the repaired
//! file is exactly `expected.conf`, `ssh -G` reads it with the intended
//! values and no error, a second run finds nothing more to repair, and no
//! line fix writes is unportable.
//!
//! A fixture folder holds `broken.conf`, `expected.conf`, and optionally
//! `args` (extra flags, e.g. `--yes`), `intended` (`ALIAS KEYWORD VALUE`
//! lines checked with `ssh -G`), `setup` (`chmod MODE PATH`), `after`
//! (`mode MODE PATH`, `platform ALIAS SETTINGS`) and `home/` (files copied
//! into the temp HOME).

mod common;

use std::path::{Path, PathBuf};

use common::{TempHome, require_tool, ssh_g, stderr, stdout};
use runpod_ssh::config::Document;

fn fixture_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::fixtures().join("fix"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("broken.conf").exists())
        .collect();
    v.sort();
    v
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn setup(dir: &Path) -> (TempHome, PathBuf) {
    let home = TempHome::new();
    if dir.join("home").is_dir() {
        common::copy_tree(&dir.join("home"), home.path());
    }
    let cfg = home.ssh_dir().join("config");
    std::fs::copy(dir.join("broken.conf"), &cfg).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
        for l in read(&dir.join("setup")).lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if let ["chmod", m, p] = w.as_slice() {
                let m = u32::from_str_radix(m, 8).unwrap();
                std::fs::set_permissions(home.path().join(p), std::fs::Permissions::from_mode(m))
                    .unwrap();
            }
        }
    }
    (home, cfg)
}

/// Lines of `new` that are not in `old` must be portable: no `#` after a
/// value, no single quote, no backslash, and the file has no BOM.
fn assert_portable(name: &str, old: &[u8], new: &[u8]) {
    assert!(
        !new.starts_with(b"\xEF\xBB\xBF") && !new.starts_with(b"\xFF\xFE"),
        "{name}: BOM written"
    );
    let old_text = String::from_utf8_lossy(old).replace("\r\n", "\n");
    let old_lines: Vec<&str> = old_text.lines().collect();
    let doc = Document::parse(new);
    for l in doc.lines() {
        let text = l.text();
        if old_lines.contains(&text.as_str()) {
            continue;
        }
        if let Some(d) = l.directive() {
            assert!(
                d.comment.is_none(),
                "{name}: written line has a trailing comment: {text:?}"
            );
            let value = String::from_utf8_lossy(&l.bytes()[d.value.clone()]).into_owned();
            assert!(
                !value.contains('#'),
                "{name}: written value has '#': {text:?}"
            );
            assert!(
                !value.contains('\''),
                "{name}: written value has a single quote: {text:?}"
            );
            assert!(
                !value.contains('\\'),
                "{name}: written value has a backslash: {text:?}"
            );
        }
    }
}

#[test]
fn every_fixture_is_repaired_as_expected() {
    let ssh = require_tool("ssh");
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 18, "fixtures: {}", dirs.len());
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (home, cfg) = setup(&dir);
        let broken = std::fs::read(&cfg).unwrap();
        let mut args = vec!["fix".to_string()];
        args.extend(
            read(&dir.join("args"))
                .split_whitespace()
                .map(str::to_string),
        );
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();

        // Dry run: nothing written, exit 1 (there is something to report).
        let mut dry = argv.clone();
        dry.push("--dry-run");
        let o = home.run(&dry);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: dry run exit; {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert_eq!(
            std::fs::read(&cfg).unwrap(),
            broken,
            "{name}: dry run wrote"
        );

        let o = home.run(&argv);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{name}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let out = std::fs::read(&cfg).unwrap();
        let expected = std::fs::read(dir.join("expected.conf")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected),
            "{name}: repaired file differs from expected.conf\n{}",
            stdout(&o)
        );
        assert_eq!(out, expected, "{name}: bytes differ (encoding?)");
        assert!(
            !stdout(&o).contains("was put back"),
            "{name}: rolled back: {}",
            stdout(&o)
        );
        assert_portable(&name, &broken, &out);

        // ssh reads the result, with the intended values.
        if let Some(ssh) = &ssh {
            for l in read(&dir.join("intended")).lines() {
                let w: Vec<&str> = l.splitn(3, ' ').collect();
                let [alias, key, value] = w.as_slice() else {
                    continue;
                };
                let got = ssh_g(&home, ssh, &cfg, alias)
                    .unwrap_or_else(|e| panic!("{name}: ssh -G {alias} fails: {e}"));
                let vals: Vec<&String> = got
                    .iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v)
                    .collect();
                assert_eq!(
                    vals.first().map(|s| s.as_str()),
                    Some(*value),
                    "{name}: ssh -G {alias} {key}"
                );
            }
        }
        #[cfg(unix)]
        for l in read(&dir.join("after")).lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["mode", m, p] => assert_eq!(
                    format!("{:o}", mode(&home.path().join(p))),
                    *m,
                    "{name}: mode of {p}"
                ),
                ["platform", alias, p] => {
                    let text = read(&home.path().join(p));
                    assert_eq!(
                        runpod_ssh::vscode::remote_platform(&text, alias).as_deref(),
                        Some("linux"),
                        "{name}"
                    );
                    assert!(text.contains("// mine"), "{name}: settings comment lost");
                }
                _ => {}
            }
        }

        // Idempotent: a second run repairs nothing more.
        let o = home.run(&argv);
        assert_eq!(
            std::fs::read(&cfg).unwrap(),
            expected,
            "{name}: second run changed the file"
        );
        let v: serde_json::Value = serde_json::from_slice(
            &home
                .run(&[&argv[..], &["--json", "--dry-run"]].concat())
                .stdout,
        )
        .unwrap();
        let applied: Vec<&serde_json::Value> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["applied"] == true)
            .collect();
        assert!(
            applied.is_empty(),
            "{name}: second run would still repair {applied:#?}\n{}",
            stdout(&o)
        );
    }
}

#[test]
fn not_failures_are_never_touched() {
    // CRLF, tabs, Key=Value, keyword case, comments on their own lines.
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let text =
        "# mine\r\nHOST\tweb\r\n\thostname=web.example.com\r\n\t# own line\r\n\tPORT = 2222\r\n";
    std::fs::write(&cfg, text).unwrap();
    let o = home.run(&["fix"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("nothing to fix"));
    assert_eq!(read(&cfg), text);
}

/// A big, varied, healthy config: Match, Include, quotes, `=`, CRLF,
/// ProxyJump, comments on their own lines.
fn clean_config() -> String {
    let mut s = String::from(
        "# Personal ssh config\r\nInclude conf.d/*.conf\r\nServerAliveInterval 30\r\n\r\n",
    );
    for i in 0..110 {
        match i % 6 {
            0 => s.push_str(&format!("# build box {i}\r\nHost build-{i} build-{i}.lan\r\n    HostName 10.1.{}.{}\r\n    User dev\r\n    Port {}\r\n\r\n", i / 200, i % 200 + 1, 2200 + i)),
            1 => s.push_str(&format!("Host=gpu-{i}\r\n\tHostName=gpu-{i}.example.com\r\n\tUser=\"ml user\"\r\n\tIdentityFile=\"~/.ssh/id {i}\"\r\n\r\n")),
            2 => s.push_str(&format!("Host jump-target-{i}\r\n  HostName 192.168.{}.{}\r\n  ProxyJump bastion-{i}\r\n  LocalForward 8888 localhost:8888\r\n\r\n", i % 250, i % 250 + 1)),
            3 => s.push_str(&format!("Match host *.corp-{i}.example user alice\r\n  ForwardAgent no\r\n  # comment on its own line\r\n\r\n")),
            4 => s.push_str(&format!("HOST web-{i}\r\n  HOSTNAME web-{i}.example.org\r\n  USER www\r\n  SetEnv TERM=xterm-256color\r\n\r\n")),
            _ => s.push_str(&format!("Host db-{i}\r\n  HostName db-{i}.internal\r\n  User postgres\r\n  ProxyCommand ssh -W %h:%p bastion\r\n\r\n")),
        }
    }
    s.push_str("Host *\r\n  AddKeysToAgent yes\r\n  IdentitiesOnly yes\r\n");
    s
}

#[test]
fn a_large_clean_config_gives_no_findings_and_is_not_touched() {
    let home = TempHome::new();
    std::fs::create_dir_all(home.ssh_dir().join("conf.d")).unwrap();
    std::fs::write(
        home.ssh_dir().join("conf.d/a.conf"),
        "Host included\n  HostName inc.example\n",
    )
    .unwrap();
    let cfg = home.ssh_dir().join("config");
    let text = clean_config();
    assert!(text.matches("Host").count() >= 100);
    std::fs::write(&cfg, &text).unwrap();
    if let Some(ssh) = require_tool("ssh") {
        assert!(
            ssh_g(&home, &ssh, &cfg, "web-4").is_ok(),
            "the clean config must be valid"
        );
    }
    let o = home.run(&["fix", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v:#}");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(read(&cfg), text);
    assert!(!home.ssh_dir().join(".runpod-ssh-backups").exists());
    let o = home.run(&["fix", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn rule_catalogue_lists_every_rule() {
    let home = TempHome::new();
    let o = home.run(&["fix", "--rules", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for must in [
        "trailing-comment",
        "glued-comment",
        "quoted-comment",
        "utf16",
        "bom",
        "non-ascii-space",
        "duplicate-alias",
        "catch-all-override",
        "identity-pub",
        "key-permissions",
        "backslash-path",
        "include-after-host",
        "proxy-entry",
        "vscode-config-file",
        "vscode-platform",
    ] {
        assert!(ids.contains(&must), "missing rule {must}");
    }
}

#[test]
fn the_regression_check_catches_what_no_rule_meant() {
    let Some(_) = require_tool("ssh") else { return };
    use runpod_ssh::config::Context;
    use runpod_ssh::doctor::regression;
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    // In-process: the temp dir is both homes, never the account's real one.
    let ctx = Context {
        home: home.path().to_path_buf(),
        user_home: home.path().to_path_buf(),
        ..Context::current()
    };
    let old = b"Host a\n  Port 2201\nHost b\n  User bob\n";
    let changed = b"Host a\n  Port 2202\nHost b\n  User bob\n";
    std::fs::write(&cfg, changed).unwrap();
    // A value changed that no rule meant to change: worse.
    let why = regression(&cfg, old, changed, &[], &ctx).expect("a changed port is a regression");
    assert!(why.contains("port"), "{why}");
    // The same change, intended for that host: fine.
    assert_eq!(
        regression(&cfg, old, changed, &[("a".into(), "port".into())], &ctx),
        None
    );
    // A file ssh refuses after the edit: worse.
    let broken = b"Host a\n  Port 2201#\nHost b\n  User bob\n";
    std::fs::write(&cfg, broken).unwrap();
    let why =
        regression(&cfg, old, broken, &[("*".into(), "*".into())], &ctx).expect("refused is worse");
    assert!(why.contains("Bad port") || why.contains("fails"), "{why}");
    // Unchanged: nothing to say.
    std::fs::write(&cfg, old).unwrap();
    assert_eq!(regression(&cfg, old, old, &[], &ctx), None);
}

#[test]
fn repairs_the_file_vscode_reads() {
    let home = TempHome::new();
    let user = home.path().join(".config/Code/User");
    std::fs::create_dir_all(&user).unwrap();
    let other = home.path().join("vscode_ssh_config");
    std::fs::write(
        user.join("settings.json"),
        format!(
            "{{\n  \"remote.SSH.configFile\": \"{}\",\n}}\n",
            other.display()
        ),
    )
    .unwrap();
    std::fs::write(
        &other,
        "Host runpod-x\n  HostName 203.0.113.7\n  Port 40123# port\n",
    )
    .unwrap();
    let main = home.ssh_dir().join("config");
    std::fs::write(&main, "Host web\n  HostName w\n").unwrap();
    let o = home.run(&["fix"]);
    assert!(stdout(&o).contains("VS Code reads"), "{}", stdout(&o));
    assert_eq!(
        read(&other),
        "Host runpod-x\n  HostName 203.0.113.7\n  # port\n  Port 40123\n"
    );
    assert_eq!(read(&main), "Host web\n  HostName w\n");
}
