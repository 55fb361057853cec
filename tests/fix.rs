//! `runpod-ssh fix` on every fixture in `fixtures/fix/RULE/`: the repaired
//! file is exactly `expected.conf`, `ssh -G` reads it with the intended
//! values and no error, a second run finds nothing more to repair, and no
//! line fix writes is unportable.
//!
//! A fixture folder holds `broken.conf`, `expected.conf`, and optionally
//! `args` (extra flags, e.g. `--yes`), `intended` (`ALIAS KEYWORD VALUE`
//! lines checked with `ssh -G`), `setup` (`keygen PATH`, `chmod MODE PATH`, in order), `after`
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
    for l in read(&dir.join("setup")).lines() {
        if let ["notepad-key", p, how @ ..] = l.split_whitespace().collect::<Vec<_>>().as_slice() {
            notepad_key(&home.path().join(p), how);
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
        for l in read(&dir.join("setup")).lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["chmod", m, p] => {
                    let m = u32::from_str_radix(m, 8).unwrap();
                    std::fs::set_permissions(
                        home.path().join(p),
                        std::fs::Permissions::from_mode(m),
                    )
                    .unwrap();
                }
                ["keygen", p] => keygen(&home.path().join(p)),
                _ => {}
            }
        }
    }
    (home, cfg)
}

/// A fresh ed25519 key (made in-process, so the Windows lane can too),
/// saved as Notepad would mangle it: `utf16` (LE with its mark), `bom`,
/// `crlf`, `no-final-newline`. The clean key goes to `PATH.clean`.
fn notepad_key(path: &Path, how: &[&str]) {
    let key = runpod_ssh::keys::generate(runpod_ssh::keys::KeyType::Ed25519, "test").unwrap();
    let clean = key.to_openssh(ssh_key::LineEnding::LF).unwrap().to_string();
    let mut text = clean.clone();
    if how.contains(&"crlf") {
        text = text.replace('\n', "\r\n");
    }
    if how.contains(&"no-final-newline") {
        text = text.trim_end().to_string();
    }
    let bytes: Vec<u8> = if how.contains(&"utf16") {
        [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect()
    } else if how.contains(&"bom") {
        [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat()
    } else {
        text.into_bytes()
    };
    std::fs::write(path, bytes).unwrap();
    std::fs::write(path.with_extension("clean"), clean).unwrap();
}

/// A fresh test key at `path` (no private key is kept in the repository).
#[cfg(unix)]
fn keygen(path: &Path) {
    let keygen = require_tool("ssh-keygen").expect("ssh-keygen is needed to make a test key");
    let _ = std::fs::remove_file(path);
    let o = std::process::Command::new(keygen)
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "runpod-ssh test",
            "-f",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = std::fs::remove_file(path.with_extension("pub"));
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
            let value = String::from_utf8_lossy(&l.bytes()[d.value]).into_owned();
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
        // Fixtures that set Unix modes or make a key with ssh-keygen are
        // the Linux lane's (the Windows lane has neither).
        if cfg!(windows)
            && std::fs::read_to_string(dir.join("setup"))
                .is_ok_and(|s| s.contains("chmod") || s.contains("keygen"))
        {
            eprintln!("SKIPPED on Windows: fixture {name} sets Unix modes or needs ssh-keygen");
            continue;
        }
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
        for l in read(&dir.join("after")).lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                // The key as ssh-keygen would write it: ASCII, LF, final
                // newline, byte for byte the key that was mangled.
                ["key-clean", p] => {
                    let p = home.path().join(p);
                    assert_eq!(
                        read(&p),
                        read(&p.with_extension("clean")),
                        "{name}: key not normalised"
                    );
                    #[cfg(unix)]
                    assert_eq!(mode(&p), 0o600, "{name}: key mode");
                }
                ["backup-of", p] => {
                    let p = home.path().join(p);
                    let backups = runpod_ssh::fsio::backups(&p);
                    assert_eq!(backups.len(), 1, "{name}: backups of {}", p.display());
                    assert_eq!(
                        runpod_ssh::fsio::read_backup(&backups[0]).unwrap()[..2],
                        [0xFF, 0xFE],
                        "{name}: the backup is the file as it was"
                    );
                }
                #[cfg(unix)]
                ["mode", m, p] => assert_eq!(
                    format!("{:o}", mode(&home.path().join(p))),
                    *m,
                    "{name}: mode of {p}"
                ),
                #[cfg(unix)]
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
        "apple-keywords",
    ] {
        assert!(ids.contains(&must), "missing rule {must}");
    }
}

#[test]
fn the_regression_check_catches_what_no_rule_meant() {
    let Some(_) = require_tool("ssh") else { return };
    use runpod_ssh::doctor::regression;
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    // Explicit: an in-process test must not depend on this process's $HOME.
    let ctx = common::test_ctx(home.path());
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
    let user = home.vscode_user_dir();
    std::fs::create_dir_all(&user).unwrap();
    let other = home.path().join("vscode_ssh_config");
    std::fs::write(
        user.join("settings.json"),
        format!(
            "{{\n  \"remote.SSH.configFile\": {},\n}}\n",
            serde_json::to_string(&other).unwrap()
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

// ---------------------------------------------------------------- security (issue 8)

/// A config that `fix` has something to repair in (a trailing comment).
const FIXABLE: &str = "Host runpod-a\n  HostName 203.0.113.7\n  User root\n  Port 40123 # pod\n";

/// Run `fix ARGS` and return (output, seconds taken).
fn timed(home: &TempHome, args: &[&str]) -> (std::process::Output, f64) {
    let t = std::time::Instant::now();
    let o = home.run(args);
    (o, t.elapsed().as_secs_f64())
}

#[test]
fn fix_never_runs_match_exec_and_says_the_cross_check_was_skipped() {
    // Item 2: `ssh -G` evaluates `Match exec`; fix must not ask it, in the
    // config itself or in a file it includes, and must say so.
    for in_include in [false, true] {
        let home = TempHome::new();
        let marker = home.path().join("MARKER");
        let exec = format!(
            "Match exec \"touch {} ; sleep 5\"\n  User nobody\n",
            marker.display()
        );
        let cfg = home.ssh_dir().join("config");
        let (holder, line) = if in_include {
            let inc = home.ssh_dir().join("inc.conf");
            std::fs::write(&inc, format!("Host other\n  Port 2\n{exec}")).unwrap();
            std::fs::write(
                &cfg,
                // `/` even on Windows (a `\` in Include is unprovable).
                format!(
                    "{FIXABLE}\nHost *\n  Include {}\n",
                    inc.display().to_string().replace('\\', "/")
                ),
            )
            .unwrap();
            (inc, 3)
        } else {
            std::fs::write(&cfg, format!("{FIXABLE}{exec}")).unwrap();
            (cfg.clone(), 5)
        };
        for args in [&["fix", "--dry-run"][..], &["fix"][..]] {
            let (o, secs) = timed(&home, args);
            let out = stdout(&o);
            assert!(
                !marker.exists(),
                "{args:?} (include: {in_include}) ran the Match exec command"
            );
            assert!(
                secs < 4.0,
                "{args:?} took {secs:.1}s: `Match exec \"sleep 5\"` was waited for"
            );
            // Without OpenSSH (the Windows lane) there is no cross-check
            // to skip: fix says ssh was not asked instead.
            assert!(
                cfg!(windows)
                    || out.contains("cross-check was skipped")
                        && out.contains(&format!("{}:{line}", holder.display())),
                "{args:?} must say the cross-check was skipped and where the Match exec is: {out}"
            );
        }
        // The repair itself was made (by the own evaluator's judgement).
        assert!(
            read(&cfg).contains("  # pod\n  Port 40123\n"),
            "{}",
            read(&cfg)
        );
    }
}

#[test]
fn fix_runs_no_command_a_config_names() {
    // Item 2: ProxyCommand, LocalCommand, KnownHostsCommand, PKCS11Provider
    // and SecurityKeyProvider are never run, by fix, its dry run or --probe.
    let home = TempHome::new();
    let m = |n: &str| home.path().join(n);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(
        &cfg,
        format!(
            "Host runpod-proxy\n  HostName 127.0.0.1\n  User root\n  Port {closed} # x\n  ProxyCommand touch {}\n\n\
             Host runpod-local\n  HostName 127.0.0.1\n  User root\n  Port {closed}\n  PermitLocalCommand yes\n  LocalCommand touch {}\n  KnownHostsCommand /bin/touch {}\n  PKCS11Provider {}\n  SecurityKeyProvider {}\n",
            m("M-proxy").display(),
            m("M-local").display(),
            m("M-khc").display(),
            m("M-pkcs11.so").display(),
            m("M-sk.so").display(),
        ),
    )
    .unwrap();
    for args in [
        &["fix", "--dry-run"][..],
        &["fix", "--probe", "--dry-run"][..],
        &["fix", "--probe"][..],
        &["fix"][..],
    ] {
        let (o, secs) = timed(&home, args);
        for n in ["M-proxy", "M-local", "M-khc", "M-pkcs11.so", "M-sk.so"] {
            assert!(
                !m(n).exists(),
                "{args:?} ran a command ({n}): {}",
                stdout(&o)
            );
        }
        assert!(secs < 30.0, "{args:?} took {secs:.1}s");
    }
}

#[test]
fn verify_never_asks_ssh_about_a_tree_with_match_exec() {
    // Library level, with an explicit Context (no reliance on $HOME).
    use runpod_ssh::oracle::Skip;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("MARKER");
    let inc = dir.path().join("inc.conf");
    std::fs::write(
        &inc,
        format!("Match exec \"touch {}\"\n  Port 2\n", marker.display()),
    )
    .unwrap();
    let cfg = dir.path().join("config");
    // `/` even on Windows: a `\` in Include is refused as unprovable.
    let inc_arg = inc.display().to_string().replace('\\', "/");
    let old = format!("Include {inc_arg}\nHost a\n  Port 2201\n");
    let new = format!("Include {inc_arg}\nHost a\n  Port 2202\n");
    std::fs::write(&cfg, &new).unwrap();
    let ctx = common::test_ctx(dir.path());
    let v = runpod_ssh::doctor::verify(
        &cfg,
        old.as_bytes(),
        new.as_bytes(),
        &[("a".into(), "port".into())],
        &ctx,
    );
    assert_eq!(v.worse, None);
    assert_eq!(
        v.skipped,
        Some(Skip::RunsCommands {
            file: inc.clone(),
            line: 1
        })
    );
    assert!(!marker.exists(), "ssh -G ran the Match exec command");
}

/// A test key pair in `dir`; returns the private key's path.
#[cfg(unix)]
fn test_key(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let keygen = require_tool("ssh-keygen").expect("ssh-keygen");
    let path = dir.join(name);
    let o = std::process::Command::new(keygen)
        .args(["-q", "-C", name, "-f"])
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    path
}

/// A RunPod entry whose IdentityFile is `identity`.
#[cfg(unix)]
fn entry_with_identity(identity: &str) -> String {
    format!(
        "Host runpod-k\n  HostName 203.0.113.7\n  User root\n  Port 40123\n  IdentityFile {identity}\n"
    )
}

#[cfg(unix)]
#[test]
fn identity_file_that_is_not_a_key_is_reported_and_keeps_its_mode() {
    // Item 4: a copy of /etc/passwd named by IdentityFile became 0600.
    use std::os::unix::fs::PermissionsExt;
    let home = TempHome::new();
    let copy = home.ssh_dir().join("passwd-copy");
    std::fs::write(&copy, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, entry_with_identity(&copy.display().to_string())).unwrap();
    for args in [&["fix"][..], &["fix", "--yes"][..]] {
        let o = home.run(args);
        assert!(
            stdout(&o).contains("not a private key"),
            "{args:?}: {}",
            stdout(&o)
        );
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert_eq!(
            mode(&copy),
            0o644,
            "{args:?} chmodded a file that is no key"
        );
    }
}

#[cfg(unix)]
#[test]
fn key_reached_through_a_symlink_is_not_chmodded() {
    use std::os::unix::fs::PermissionsExt;
    let home = TempHome::new();
    let keys = home.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let real = test_key(&keys, "id_real", &["-t", "ed25519", "-N", ""]);
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = home.ssh_dir().join("id_link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, entry_with_identity(&link.display().to_string())).unwrap();
    let o = home.run(&["fix", "--yes"]);
    assert_eq!(mode(&real), 0o644, "chmod went through the symlink");
    assert!(
        stdout(&o).contains("symbolic link") && stdout(&o).contains("chmod 600"),
        "the finding must say why and what to do: {}",
        stdout(&o)
    );
    assert_eq!(o.status.code(), Some(1));
}

#[cfg(unix)]
#[test]
fn own_private_key_readable_by_others_is_repaired_to_0600() {
    use std::os::unix::fs::PermissionsExt;
    let home = TempHome::new();
    // Encrypted OpenSSH and legacy PEM keys count as keys too.
    for (name, extra) in [
        ("id_plain", &["-t", "ed25519", "-N", ""][..]),
        ("id_secret", &["-t", "ed25519", "-N", "passphrase"][..]),
        ("id_pem", &["-t", "ecdsa", "-m", "PEM", "-N", ""][..]),
    ] {
        let key = test_key(&home.ssh_dir(), name, extra);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let cfg = home.ssh_dir().join("config");
        std::fs::write(&cfg, entry_with_identity(&format!("~/.ssh/{name}"))).unwrap();
        let o = home.run(&["fix"]);
        assert_eq!(mode(&key), 0o600, "{name}: {}", stdout(&o));
        assert!(stdout(&o).contains("key-permissions"), "{}", stdout(&o));
    }
}

#[cfg(unix)]
#[test]
fn private_key_formats_are_recognised() {
    use runpod_ssh::doctor::is_private_key;
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("ed", &["-t", "ed25519", "-N", ""][..]),
        ("enc", &["-t", "ed25519", "-N", "pw"][..]),
        ("pem", &["-t", "ecdsa", "-m", "PEM", "-N", ""][..]),
        ("pkcs8", &["-t", "ecdsa", "-m", "PKCS8", "-N", ""][..]),
    ] {
        let k = test_key(dir.path(), name, extra);
        assert!(
            is_private_key(&std::fs::read(&k).unwrap()),
            "{name} is a private key"
        );
        assert!(
            !is_private_key(&std::fs::read(k.with_extension("pub")).unwrap()),
            "{name}.pub is not"
        );
    }
    assert!(!is_private_key(b"root:x:0:0:root:/root:/bin/bash\n"));
    assert!(!is_private_key(
        b"-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 at all\n-----END OPENSSH PRIVATE KEY-----\n"
    ));
}

/// Whether we may make device nodes (root).
#[cfg(unix)]
fn mknod_null(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: a valid C string; makedev(1, 3) is the null device.
    let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if r != 0 {
        eprintln!("SKIPPED: mknod needs root");
        return false;
    }
    // mknod applies the umask: make it 0666 as /dev/null is.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
    true
}

#[cfg(unix)]
#[test]
fn permission_rules_never_chmod_a_device() {
    // Item 3 (fix part): `--config` on a device, or an IdentityFile naming
    // one, must leave it alone (fix once chmodded /dev/null to 0600).
    let home = TempHome::new();
    let dev = home.path().join("null");
    if !mknod_null(&dev) {
        return;
    }
    let o = home.run(&["--config", dev.to_str().unwrap(), "fix"]);
    assert_eq!(mode(&dev), 0o666, "{}{}", stdout(&o), stderr(&o));
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, entry_with_identity(&dev.display().to_string())).unwrap();
    let o = home.run(&["fix", "--yes"]);
    assert_eq!(mode(&dev), 0o666, "{}", stdout(&o));
    assert!(stdout(&o).contains("not a private key"), "{}", stdout(&o));
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata(&dev)
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[cfg(unix)]
#[test]
fn config_reached_through_a_symlink_is_not_chmodded() {
    use std::os::unix::fs::PermissionsExt;
    let home = TempHome::new();
    let real = home.path().join("dotfiles-config");
    std::fs::write(&real, "Host web\n  HostName w\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::os::unix::fs::symlink(&real, home.ssh_dir().join("config")).unwrap();
    let o = home.run(&["fix"]);
    assert_eq!(mode(&real), 0o666, "{}", stdout(&o));
    assert!(stdout(&o).contains("symbolic link"), "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(1));
}

/// ssh's own words for `cfg`, when ssh is installed: its stderr, which
/// must be a refusal.
fn ssh_refusal(home: &TempHome, cfg: &Path) -> Option<String> {
    let ssh = require_tool("ssh")?;
    match ssh_g(home, &ssh, cfg, "runpod-a") {
        Ok(_) => panic!("ssh accepts {}: {}", cfg.display(), read(cfg)),
        Err(e) => Some(e),
    }
}

#[test]
fn fix_reports_what_ssh_refuses_in_its_words_and_exits_1() {
    // Item 6: each of these used to end in "✓ nothing to fix", exit 0.
    let cases: &[(&str, &str, &str, usize)] = &[
        ("port", "  Port 99999\n", "Bad port '99999'.", 2),
        (
            "unknown-keyword",
            "  Bogus yes\n",
            "Bad configuration option: bogus",
            2,
        ),
        ("unterminated-quote", "  User \"root\n", "invalid quotes", 2),
        (
            "ciphers",
            "  Ciphers bogus\n",
            "Bad SSH2 cipher spec 'bogus'.",
            2,
        ),
        (
            "include-loop",
            "  Include SELF\n",
            "Too many recursive configuration includes",
            2,
        ),
        (
            "include-depth",
            "  Include CHAIN\n",
            "Too many recursive configuration includes",
            0,
        ),
    ];
    for (name, body, words, line) in cases {
        let home = TempHome::new();
        let cfg = home.ssh_dir().join("config");
        let mut body = body.replace("SELF", &cfg.display().to_string());
        if body.contains("CHAIN") {
            // config → f1 → … → f17: one level deeper than ssh reads.
            let f = |i: usize| home.ssh_dir().join(format!("f{i}.conf"));
            for i in 1..=17 {
                std::fs::write(
                    f(i),
                    format!("Host x{i}\n  Include {}\n", f(i + 1).display()),
                )
                .unwrap();
            }
            std::fs::write(f(18), "Host deep\n  Port 2\n").unwrap();
            body = body.replace("CHAIN", &f(1).display().to_string());
        }
        std::fs::write(&cfg, format!("Host runpod-a\n{body}")).unwrap();
        let before = read(&cfg);
        if let Some(e) = ssh_refusal(&home, &cfg) {
            assert!(e.contains(words), "{name}: ssh says {e:?}, not {words:?}");
        }
        for args in [
            &["fix", "--dry-run"][..],
            &["fix"][..],
            &["fix", "--yes"][..],
        ] {
            let o = home.run(args);
            let out = stdout(&o);
            assert_eq!(o.status.code(), Some(1), "{name} {args:?}: {out}");
            assert!(!out.contains("nothing to fix"), "{name} {args:?}: {out}");
            assert!(
                out.contains(words),
                "{name} {args:?}: not in ssh's words: {out}"
            );
            if *line > 0 {
                let at = format!("{}:{line}", edit_tilde(&home, &cfg));
                assert!(out.contains(&at), "{name} {args:?}: no {at}: {out}");
            } else {
                assert!(
                    out.contains(".conf:2"),
                    "{name} {args:?}: no file:line of the Include too deep: {out}"
                );
            }
        }
        assert_eq!(
            read(&cfg),
            before,
            "{name}: nothing to repair, nothing written"
        );
        let v: serde_json::Value =
            serde_json::from_slice(&home.run(&["fix", "--json"]).stdout).unwrap();
        assert!(
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["rule"] == "ssh-refuses" && f["applied"] == false),
            "{name}: {v:#}"
        );
    }
}

/// How fix prints a path: `~/…` under the (temp) home.
fn edit_tilde(home: &TempHome, p: &Path) -> String {
    match p.strip_prefix(home.path()) {
        // `/` throughout, as runpod-ssh shows it on every platform.
        Ok(rel) => format!("~/{}", rel.display()).replace('\\', "/"),
        Err(_) => p.display().to_string(),
    }
}

#[test]
fn fix_repairs_what_a_rule_can_and_leaves_the_rest_of_a_refusal() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(
        &cfg,
        "Host runpod-a\n  HostName 203.0.113.7\n  Port 40123# pod\n  Bogus yes\n",
    )
    .unwrap();
    let o = home.run(&["fix"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_eq!(
        read(&cfg),
        "Host runpod-a\n  HostName 203.0.113.7\n  # pod\n  Port 40123\n  Bogus yes\n"
    );
    // The line as read: 4.
    assert!(
        out.contains("Bad configuration option: bogus") && out.contains("config:4"),
        "{out}"
    );
}

#[test]
fn add_on_a_refused_config_names_the_fix_that_repairs_it() {
    // The one refusal check: `add` says ssh's words, and names
    // `runpod-ssh fix` (with the same --config) when a rule repairs it.
    let home = TempHome::new();
    let cfg = home.path().join("my_config");
    std::fs::write(&cfg, "Host web\n  Port 2222# glued\n").unwrap();
    let paste = "ssh root@203.0.113.9 -p 40000 -i ~/.ssh/id_ed25519";
    let o = home.run(&["--config", cfg.to_str().unwrap(), "add", paste]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("Bad port '2222#'."), "{err}");
    assert!(
        err.contains(&format!("runpod-ssh fix --config {}", cfg.display())),
        "{err}"
    );
    assert_eq!(read(&cfg), "Host web\n  Port 2222# glued\n");
    // Nothing a rule repairs: no fix hint.
    std::fs::write(&cfg, "Host web\n  Port 99999\n").unwrap();
    let o = home.run(&["--config", cfg.to_str().unwrap(), "add", paste]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Bad port '99999'."), "{}", stderr(&o));
    assert!(!stderr(&o).contains("runpod-ssh fix"), "{}", stderr(&o));
}

#[test]
fn duplicate_block_whose_values_ssh_uses_is_kept() {
    // Item 9: a later block with the same alias still contributes
    // accumulating keywords and keywords the first block does not set.
    let first = "Host gpu\n  HostName 203.0.113.7\n  User root\n  Port 40123\n  IdentityFile ~/.ssh/id_a\n\n";
    for (name, later, used) in [
        (
            "local-forward",
            "Host gpu\n  Port 1\n  LocalForward 8888 localhost:8888\n",
            "localforward",
        ),
        (
            "identity-file",
            "Host gpu\n  IdentityFile ~/.ssh/id_b\n",
            "identityfile",
        ),
        (
            "keyword-first-lacks",
            "Host gpu\n  Port 2\n  ServerAliveInterval 30\n",
            "serveraliveinterval",
        ),
    ] {
        let home = TempHome::new();
        let cfg = home.ssh_dir().join("config");
        let text = format!("{first}{later}");
        std::fs::write(&cfg, &text).unwrap();
        let ssh = require_tool("ssh");
        let before = ssh.as_ref().map(|s| ssh_g(&home, s, &cfg, "gpu").unwrap());
        let o = home.run(&["fix", "--yes"]);
        let out = stdout(&o);
        assert_eq!(
            read(&cfg),
            text,
            "{name}: a block ssh uses was removed: {out}"
        );
        assert!(
            out.contains("still uses") && out.contains(used),
            "{name}: the finding must name what ssh uses: {out}"
        );
        assert_eq!(o.status.code(), Some(1), "{name}: {out}");
        if let (Some(s), Some(b)) = (&ssh, before) {
            assert_eq!(ssh_g(&home, s, &cfg, "gpu").unwrap(), b, "{name}");
        }
    }
}

#[cfg(unix)]
#[test]
fn truly_redundant_later_duplicate_is_removed() {
    let home = TempHome::new();
    test_key(&home.ssh_dir(), "id_a", &["-t", "ed25519", "-N", ""]);
    let cfg = home.ssh_dir().join("config");
    std::fs::write(
        &cfg,
        "Host gpu\n  HostName 203.0.113.7\n  User root\n  Port 40123\n  IdentityFile ~/.ssh/id_a\n\nHost gpu\n  Port 1\n  User admin\n  IdentityFile ~/.ssh/id_a\n\nHost web\n  HostName w\n",
    )
    .unwrap();
    let ssh = require_tool("ssh");
    let before: Vec<_> = ["gpu", "web"]
        .iter()
        .filter_map(|h| Some(ssh_g(&home, ssh.as_ref()?, &cfg, h).unwrap()))
        .collect();
    // Without --yes: reported, not removed.
    let o = home.run(&["fix"]);
    assert!(stdout(&o).contains("needs --yes"), "{}", stdout(&o));
    assert!(read(&cfg).contains("User admin"));
    let o = home.run(&["fix", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(
        read(&cfg),
        "Host gpu\n  HostName 203.0.113.7\n  User root\n  Port 40123\n  IdentityFile ~/.ssh/id_a\n\nHost web\n  HostName w\n"
    );
    let after: Vec<_> = ["gpu", "web"]
        .iter()
        .filter_map(|h| Some(ssh_g(&home, ssh.as_ref()?, &cfg, h).unwrap()))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn non_ascii_space_rule_leaves_an_existing_key_path_alone() {
    // Item 15: `x<NBSP>y` that exists as written is what the user meant.
    let home = TempHome::new();
    let key = home.ssh_dir().join("id\u{a0}runpod");
    std::fs::write(&key, "key").unwrap();
    let cfg = home.ssh_dir().join("config");
    let value = format!("{}", key.display());
    let text = format!("Host runpod-a\n  HostName 203.0.113.7\n  IdentityFile {value}\n");
    std::fs::write(&cfg, &text).unwrap();
    let o = home.run(&["fix"]);
    assert_eq!(read(&cfg), text, "{}", stdout(&o));
    // The same value on a line whose indentation is an NBSP: only the
    // indentation is repaired.
    let text = format!("Host runpod-a\n  HostName 203.0.113.7\n\u{a0}IdentityFile {value}\n");
    std::fs::write(&cfg, &text).unwrap();
    let o = home.run(&["fix"]);
    assert_eq!(
        read(&cfg),
        format!("Host runpod-a\n  HostName 203.0.113.7\n IdentityFile {value}\n"),
        "{}",
        stdout(&o)
    );
    // A missing one is still repaired.
    let text = "Host runpod-a\n  IdentityFile ~/.ssh/id\u{a0}gone\n  Port\u{a0}40123\n";
    std::fs::write(&cfg, text).unwrap();
    home.run(&["fix"]);
    assert!(read(&cfg).contains("  Port 40123\n"), "{}", read(&cfg));
}

/// Lines `ssh -G` refuses that `fix`, `list` and `show` once passed as
/// fine. `${RUNPOD_SSH_TEST_UNSET}` is never set.
const SSH_REFUSES: &[&str] = &[
    "LocalForward 0 localhost:22",
    "LocalForward 8888 localhost:0",
    "ForwardAgent ${RUNPOD_SSH_TEST_UNSET}",
    "IdentityAgent ${RUNPOD_SSH_TEST_UNSET}",
    "ControlPath ${RUNPOD_SSH_TEST_UNSET}",
    "UserKnownHostsFile ~/.ssh/%z",
    "ControlPath ~/.ssh/%z",
    "IdentityAgent ~/.ssh/%z",
    "RemoteCommand echo %z",
    "HostName a%z",
    "IPQoS bogus",
    "IPQoS af11 300",
    "RekeyLimit 1Q",
    "RekeyLimit 8",
    "TunnelDevice x:y:z",
    "CanonicalDomains a..b",
    "CanonicalDomains .a",
    "PermitRemoteOpen x",
    "StreamLocalBindMask 999",
    "EscapeChar xx",
    "EscapeChar ^?",
];

/// Their neighbours ssh accepts: the evaluator must not refuse them.
const SSH_ACCEPTS: &[&str] = &[
    "RemoteForward 0 localhost:22",
    "ForwardAgent ${HOME}/agent.sock",
    "ControlPath ~/.ssh/cm-%C-%h-%p-%r",
    "UserKnownHostsFile ~/.ssh/kh_%k ${HOME}/kh",
    "HostName %h.example.com",
    "IPQoS af11 0x10",
    "IPQoS lowdelay throughput",
    "RekeyLimit 1.5G 1h",
    "RekeyLimit default none",
    "TunnelDevice any:5",
    "CanonicalDomains a. a_b example.com",
    "PermitRemoteOpen [::1]:* localhost:8080",
    "StreamLocalBindMask 0177",
    "EscapeChar ^a",
    "EscapeChar none",
];

#[test]
fn fix_list_and_the_evaluator_refuse_each_line_ssh_g_refuses_in_its_words() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let inc = home.ssh_dir().join("inc.conf");
    let ctx = runpod_ssh::config::Context {
        home: home.path().to_path_buf(),
        user_home: home.path().to_path_buf(),
        check_include_permissions: false,
        ..runpod_ssh::config::Context::current()
    };
    for line in SSH_REFUSES {
        // At the top of the file, and in a file it includes.
        for included in [false, true] {
            let (text, at) = if included {
                std::fs::write(&inc, format!("{line}\n")).unwrap();
                (format!("Include {}\n", inc.display()), &inc)
            } else {
                (format!("{line}\n"), &cfg)
            };
            std::fs::write(&cfg, &text).unwrap();
            let what = format!("{line:?} (included: {included})");
            let ssh_err = ssh_g(&home, &ssh, &cfg, "runpod-ssh-unrelated-host")
                .err()
                .unwrap_or_else(|| panic!("ssh -G accepts {what}: the list is wrong"));
            let r = runpod_ssh::config::resolve(
                &Document::parse(text.as_bytes()),
                &cfg,
                "runpod-ssh-unrelated-host",
                &ctx,
            );
            let d = r
                .errors
                .first()
                .unwrap_or_else(|| panic!("the evaluator accepts {what}; ssh said {ssh_err}"));
            assert!(
                ssh_err.contains(&d.message),
                "{what}: ours {d}, ssh {ssh_err}"
            );
            assert_eq!(&d.source.file, at, "{what}: {d}");
            assert_eq!(d.source.line, 1, "{what}: {d}");
            let o = home.run(&["fix", "--no-vscode"]);
            let out = stdout(&o);
            assert_eq!(
                o.status.code(),
                Some(1),
                "fix on {what}: {out}{}",
                stderr(&o)
            );
            assert!(out.contains(&d.message), "fix on {what}: {out}");
            assert!(!out.contains("nothing to fix"), "fix on {what}: {out}");
            let o = home.run(&["list"]);
            assert_eq!(o.status.code(), Some(1), "list on {what}: {}", stderr(&o));
            assert!(
                stderr(&o).contains(&d.message),
                "list on {what}: {}",
                stderr(&o)
            );
            let o = home.run(&["show", "runpod-ssh-unrelated-host"]);
            assert_eq!(o.status.code(), Some(1), "show on {what}: {}", stderr(&o));
        }
    }
    for line in SSH_ACCEPTS {
        let text = format!("{line}\n");
        std::fs::write(&cfg, &text).unwrap();
        ssh_g(&home, &ssh, &cfg, "runpod-ssh-unrelated-host")
            .unwrap_or_else(|e| panic!("ssh -G refuses {line:?}: the list is wrong: {e}"));
        let r = runpod_ssh::config::resolve(
            &Document::parse(text.as_bytes()),
            &cfg,
            "runpod-ssh-unrelated-host",
            &ctx,
        );
        assert!(r.errors.is_empty(), "{line:?}: {:?}", r.errors);
    }
}

#[test]
fn fix_and_list_ask_ssh_g_when_the_evaluator_finds_nothing() {
    let Some(_ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    // A check the own evaluator does not make (invalid characters in a
    // domain name): ssh's own refusal is what reaches the user.
    std::fs::write(&cfg, "Host a\n  User b\nCanonicalDomains a/b\n").unwrap();
    let o = home.run(&["fix", "--no-vscode"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(
        out.contains("domain name \"a/b\" contains invalid characters"),
        "{out}"
    );
    assert!(out.contains(":3"), "the line ssh names: {out}");
    assert!(!out.contains("nothing to fix"), "{out}");
    let o = home.run(&["list", "--all"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("contains invalid characters"),
        "{}",
        stderr(&o)
    );
    // With `Match exec` anywhere, ssh -G is never asked: nothing runs.
    let marker = home.path().join("ran");
    std::fs::write(
        &cfg,
        format!(
            "Match exec \"touch {}\"\n  User b\nCanonicalDomains a/b\n",
            marker.display()
        ),
    )
    .unwrap();
    let o = home.run(&["fix", "--no-vscode"]);
    assert!(!marker.exists(), "{}", stdout(&o));
}

#[test]
fn stray_ff_fe_before_an_ascii_config_is_dropped_not_decoded_as_utf16() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let text = b"Host runpod-a\n  HostName 203.0.113.7\n  User root\n";
    let mut broken = vec![0xFF, 0xFE];
    broken.extend_from_slice(text);
    std::fs::write(&cfg, &broken).unwrap();
    let ssh = require_tool("ssh");
    if let Some(ssh) = &ssh {
        let e = ssh_g(&home, ssh, &cfg, "runpod-a").unwrap_err();
        assert!(e.contains("line 1:"), "ssh refuses only line 1: {e}");
    }
    let o = home.run(&["fix", "--no-vscode"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(std::fs::read(&cfg).unwrap(), text, "{}", stdout(&o));
    assert!(stdout(&o).contains("two stray bytes"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("re-encode"), "{}", stdout(&o));
    if let Some(ssh) = &ssh {
        let g = ssh_g(&home, ssh, &cfg, "runpod-a").unwrap();
        assert!(
            g.contains(&("hostname".into(), "203.0.113.7".into())),
            "{g:?}"
        );
    }
    // A real UTF-16 file is still re-encoded.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in std::str::from_utf8(text).unwrap().encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(&cfg, &utf16).unwrap();
    let o = home.run(&["fix", "--no-vscode"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(std::fs::read(&cfg).unwrap(), text);
}

#[test]
fn fix_text_output_escapes_terminal_sequences_from_the_config() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(
        &cfg,
        b"Host runpod-b\n  HostName 203.0.113.7\n  Port 40123\n  User root\n  IdentityFile ~/.ssh/k\x1b]52;c;aGk=\x07\n",
    )
    .unwrap();
    for args in [&["fix"][..], &["fix", "--dry-run"][..]] {
        let o = home.run(args);
        for stream in [&o.stdout, &o.stderr] {
            assert!(
                !stream.iter().any(|&b| b == 0x1b || b == 0x07),
                "{args:?}: a raw control byte reached the terminal: {:?}",
                String::from_utf8_lossy(stream)
            );
        }
        assert!(stdout(&o).contains(r"\u{1b}]52"), "{}", stdout(&o));
    }
}

/// F15: Notepad saved `config.txt`. A missing config takes its content
/// (config.txt kept as it was); when both hold hosts, only `--yes` appends
/// config.txt's Host blocks the config lacks, and then nothing is left to
/// report.
#[test]
fn config_txt_becomes_the_missing_config_and_merges_only_with_yes() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let txt = home.ssh_dir().join("config.txt");
    let pods = "Host runpod-a\n  HostName 203.0.113.7\n  Port 40123\n  User root\n";
    std::fs::write(&txt, pods).unwrap();
    assert!(!cfg.exists());
    let o = home.run(&["fix"]);
    assert_eq!(read(&cfg), pods, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(read(&txt), pods, "config.txt must stay as it was");
    assert!(stdout(&o).contains("config-txt"), "{}", stdout(&o));

    // Both hold hosts: config.txt gains a pod the config lacks.
    let more = format!("{pods}Host runpod-b\n  HostName 203.0.113.8\n  Port 40124\n  User root\n");
    std::fs::write(&txt, &more).unwrap();
    let o = home.run(&["fix"]);
    assert_eq!(read(&cfg), pods, "merged without --yes: {}", stdout(&o));
    assert!(stdout(&o).contains("runpod-b"), "{}", stdout(&o));
    let o = home.run(&["fix", "--yes"]);
    let merged = read(&cfg);
    assert!(merged.starts_with(pods), "{merged}");
    assert!(
        merged.contains("# from ")
            && merged
                .ends_with("Host runpod-b\n  HostName 203.0.113.8\n  Port 40124\n  User root\n"),
        "{merged}\n{}",
        stdout(&o)
    );
    assert_eq!(merged.matches("Host runpod-a").count(), 1, "{merged}");
    let v: serde_json::Value =
        serde_json::from_slice(&home.run(&["fix", "--json", "--dry-run"]).stdout).unwrap();
    assert!(
        !v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "config-txt"),
        "{v:#}"
    );
}

/// Hostile review: a config.txt block naming an alias the config (or a
/// file it includes) already has, or a wildcard, was appended whole: the
/// existing host gained its options (User, Port, ProxyJump) after the
/// config's own block, and `Host *` reached every host. With `Match exec`
/// in the config the `ssh -G` cross-check is skipped, so nothing caught
/// it. Now only blocks of aliases that are all new and plain move; the
/// rest is reported.
#[test]
fn config_txt_merge_never_changes_a_host_the_config_already_has() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let txt = home.ssh_dir().join("config.txt");
    let inc = home.ssh_dir().join("pods.conf");
    let mine = "Include pods.conf\nHost a\n  HostName 198.51.100.1\nMatch exec \"true\"\n  ForwardAgent no\n";
    std::fs::write(&cfg, mine).unwrap();
    std::fs::write(&inc, "Host p\n  HostName 198.51.100.2\n").unwrap();
    std::fs::write(
        &txt,
        "Host a b\n  User evil\n  ProxyJump evil.example\nHost p\n  Port 2222\nHost * c\n  User star\nHost !x y*\n  Port 1\nHost d\n  HostName 203.0.113.9\n",
    )
    .unwrap();
    let o = home.run(&["fix", "--yes"]);
    let got = read(&cfg);
    assert!(got.starts_with(mine), "{got}\n{}", stdout(&o));
    assert!(
        got.ends_with("Host d\n  HostName 203.0.113.9\n"),
        "{got}\n{}",
        stdout(&o)
    );
    for bad in ["evil", "star", "2222", "Port 1"] {
        assert!(!got.contains(bad), "{bad} merged:\n{got}");
    }
    let out = stdout(&o);
    assert!(
        out.contains("config.txt") && out.contains("not merged"),
        "{out}"
    );
}

/// Hostile review: config.txt's lines were merged as lossy text, so a
/// path saved in a Windows code page became U+FFFD in the config (and
/// `legacy-code-page` could no longer decode it). Its bytes are kept.
#[test]
fn config_txt_merge_keeps_bytes_that_are_not_utf8() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let txt = home.ssh_dir().join("config.txt");
    std::fs::write(&cfg, "Host a\n  HostName 198.51.100.1\n").unwrap();
    let block = b"Host b\n  HostName 203.0.113.9\n  IdentityFile ~/.ssh/\xC8\xAB\xB1\xE6/id\n";
    std::fs::write(&txt, block).unwrap();
    let o = home.run(&["fix", "--yes"]);
    let got = std::fs::read(&cfg).unwrap();
    assert!(
        got.ends_with(block),
        "{}\n{}",
        String::from_utf8_lossy(&got),
        stdout(&o)
    );
}

/// The CP949 fixture under the system's ANSI code page (Wine gives
/// Windows programs the code page of the Unix locale). `.ci/run` runs this
/// test twice: in the Windows lane (code page 1252: the decoded path names
/// no file, so the config is only reported) and as Korean Windows
/// (`LANG=ko_KR.UTF-8`, `RUNPOD_SSH_TEST_EXPECT_ACP=949`: decoded through
/// MultiByteToWideChar, the path names the key and the config becomes
/// UTF-8). Without the key it is only reported under either.
#[cfg(windows)]
#[test]
fn cp949_config_is_reencoded_with_the_system_code_page_only_when_the_key_exists() {
    let home = TempHome::new();
    let fixtures = common::fixtures().join("cp949");
    let cfg = home.ssh_dir().join("config");
    std::fs::copy(fixtures.join("config"), &cfg).unwrap();
    let original = std::fs::read(&cfg).unwrap();
    let o = home.run(&["fix"]);
    assert_eq!(std::fs::read(&cfg).unwrap(), original, "{}", stdout(&o));
    let out = stdout(&o);
    let acp: u32 = out
        .split("decoded as code page ")
        .nth(1)
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no code page named: {out}"));
    if let Ok(want) = std::env::var("RUNPOD_SSH_TEST_EXPECT_ACP") {
        assert_eq!(acp.to_string(), want, "the system code page");
    }
    let key_dir = home.ssh_dir().join("홍길동");
    std::fs::create_dir_all(&key_dir).unwrap();
    std::fs::write(key_dir.join("id_ed25519"), "k").unwrap();
    let o = home.run(&["fix"]);
    let got = std::fs::read(&cfg).unwrap();
    if acp == 949 {
        assert_eq!(
            String::from_utf8_lossy(&got),
            read(&fixtures.join("expected.conf")),
            "{}{}",
            stdout(&o),
            stderr(&o)
        );
        assert_eq!(runpod_ssh::fsio::backups(&cfg).len(), 1, "backed up");
    } else {
        // Another page reads other characters: no file, no change.
        assert_eq!(got, original, "{}", stdout(&o));
        assert!(
            stdout(&o).contains("names no existing file"),
            "{}",
            stdout(&o)
        );
    }
}

/// A config saved in a Windows code page (`é` is the byte E9): moving a
/// comment to its own line keeps every byte of the value and of the
/// comment (they were turned into U+FFFD: a key path that no longer
/// exists, and ssh -G's text could not tell); a quoted value known only
/// as lossy text is left as it is.
#[test]
fn comment_rules_keep_bytes_that_are_not_utf8() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    std::fs::write(
        &cfg,
        b"Host pc\n    IdentityFile ~/.ssh/k\xe9y # cl\xe9\n    User \"r\xe9mi   # the acc\xf6unt\"\n    Port 2201#p\xf6rt\n",
    )
    .unwrap();
    let o = home.run(&["fix"]);
    assert!(o.status.code().is_some(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&cfg).unwrap(),
        b"Host pc\n    # cl\xe9\n    IdentityFile ~/.ssh/k\xe9y\n    User \"r\xe9mi   # the acc\xf6unt\"\n    # p\xf6rt\n    Port 2201\n",
        "{}",
        stdout(&o)
    );
}

/// Item 4: `fix` on the top config, for a refused line in a file it
/// includes, names the `runpod-ssh fix --config INC` that repairs it (not
/// "edit it by hand"), and that command, run as printed, does.
#[test]
fn refused_line_in_an_included_file_names_the_fix_for_that_file() {
    let home = TempHome::new();
    let inc = home.ssh_dir().join("inc.conf");
    std::fs::write(&inc, "Host web\n  Port 2222# glued\n").unwrap();
    let top = home.ssh_dir().join("config");
    std::fs::write(&top, format!("Include {}\n", inc.display())).unwrap();
    let o = home.run(&["fix", "--dry-run"]);
    let out = stdout(&o);
    let cmd = format!("`runpod-ssh fix --config {}`", inc.display());
    assert!(out.contains(&cmd), "{out}\n{}", stderr(&o));
    assert!(!out.contains("edit it by hand"), "{out}");
    let words: Vec<String> = cmd
        .trim_matches('`')
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let o = home.run(&refs);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(read(&inc), "Host web\n  # glued\n  Port 2222\n");
}

/// Review 9c: the report groups a rule's findings by message, and one
/// message (ssh's "Bad configuration option: bogus") can come from two
/// files (an Include). A line of the second file must not be listed as
/// `:N` after the first file's name: that names a line of the wrong file.
#[test]
fn a_grouped_entry_names_the_file_of_each_line_when_the_files_differ() {
    let home = TempHome::new();
    let ssh = home.ssh_dir();
    std::fs::write(
        ssh.join("config"),
        "Include inc.conf\nHost a\n  Bogus 1\n  Other 1\n",
    )
    .unwrap();
    std::fs::write(ssh.join("inc.conf"), "Host b\n  Bogus 2\n").unwrap();
    for verbose in [false, true] {
        let mut args = vec!["fix", "--dry-run"];
        if verbose {
            args.insert(0, "-v");
        }
        let out = stdout(&home.run(&args));
        assert!(
            out.contains("ssh-refuses ~/.ssh/inc.conf:2") && out.contains("~/.ssh/config:3"),
            "-v {verbose}: each line under its own file: {out}"
        );
        assert!(
            !out.contains("inc.conf:2, :3"),
            "config:3 listed as inc.conf:3: {out}"
        );
    }
}

/// Review 9c: findings of one rule with the same words are grouped, but an
/// entry has one mark and one repair: a block that names other hosts too
/// (left for the user) must not be listed under "would fix"/"fixed" beside
/// a removable duplicate with the same message.
#[test]
fn a_grouped_entry_never_marks_a_line_left_for_the_user_as_fixed() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    for (args, mark) in [
        (&["fix", "--dry-run"][..], "[needs --yes]"),
        (&["fix", "--dry-run", "--yes"][..], "[would fix]"),
        (&["fix", "--yes"][..], "[fixed]"),
    ] {
        std::fs::write(
            &cfg,
            "Host runpod-a\n  HostName 1.2.3.4\nHost runpod-a\n  HostName 1.2.3.5\nHost runpod-a other\n  User x\nHost gpu\n  Port 2\nHost gpu\n  Port 3\n",
        )
        .unwrap();
        let out = stdout(&home.run(args));
        assert!(
            out.contains(&format!("duplicate-alias ~/.ssh/config:3 {mark}"))
                && out.contains("duplicate-alias ~/.ssh/config:5 [for you]")
                && out.contains("edit it by hand"),
            "{args:?}: line 5 is the user's, with its own repair: {out}"
        );
    }
}
