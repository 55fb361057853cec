//! Configs that also serve a Mac (issue 15): Apple's `UseKeychain`, from
//! GitHub's and Apple's key guides, judged by the ssh that reads the file.
//! Here (Linux) that is upstream OpenSSH: `fix` makes `ssh -G` accept the
//! file with Apple's lines as written, and `add` names `fix`. With the
//! flavour forced to Apple's (`RUNPOD_SSH_TEST_CLIENT`, honoured by debug
//! builds only) nothing is found and `add` just works.

mod common;

use common::{TempHome, require_tool, ssh_g, stderr, stdout};

/// The block GitHub's and Apple's guides tell every Mac user to add.
const GUIDE: &str =
    "Host *\n  AddKeysToAgent yes\n  UseKeychain yes\n  IdentityFile ~/.ssh/id_ed25519\n";
const PASTE: &str = "ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519";
const ALIAS: &str = "runpod-203-0-113-7-40123";

fn with_guide(home: &TempHome, before: &str) -> std::path::PathBuf {
    let cfg = home.ssh_dir().join("config");
    std::fs::write(&cfg, format!("{before}{GUIDE}")).unwrap();
    cfg
}

#[test]
fn fix_names_the_clients_that_refuse_apples_keyword_and_ssh_accepts_the_result() {
    let ssh = require_tool("ssh");
    let home = TempHome::new();
    let cfg = with_guide(&home, "");
    if let Some(ssh) = &ssh {
        let e = ssh_g(&home, ssh, &cfg, "github.com").unwrap_err();
        assert!(e.contains("Bad configuration option: usekeychain"), "{e}");
    }
    let o = home.run(&["fix"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("apple-keywords ~/.ssh/config:3 [fixed]\n  UseKeychain (line 3) is a keyword only Apple's ssh knows; refusing the whole file today (\"Bad configuration option: usekeychain\"): the ssh here,"),
        "{out}"
    );
    assert!(
        out.contains(
            "and every ssh but Apple's (Linux, WSL, Windows' ssh.exe, Homebrew's or MacPorts' ssh on a Mac)"
        ),
        "{out}"
    );
    // Apple's lines as written, below the one line that lets others skip them.
    let fixed = std::fs::read_to_string(&cfg).unwrap();
    assert_eq!(fixed, format!("IgnoreUnknown UseKeychain\n\n{GUIDE}"));
    if let Some(ssh) = &ssh {
        let g = ssh_g(&home, ssh, &cfg, "github.com").unwrap();
        assert!(
            g.contains(&("addkeystoagent".into(), "true".into())),
            "{g:?}"
        );
    }
    // A second run changes nothing.
    let o = home.run(&["fix"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("nothing to fix"), "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), fixed);
}

#[test]
fn add_refuses_a_file_with_apples_keyword_and_names_fix_then_works_after_it() {
    let home = TempHome::new();
    let runpod = "Host runpod-old\n  HostName 203.0.113.9\n  Port 40100\n  User root\n\n";
    let cfg = with_guide(&home, runpod);
    let original = std::fs::read(&cfg).unwrap();
    let o = home.run(&["add", PASTE]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("ssh already refuses this config"), "{err}");
    assert!(
        err.contains(":8: Bad configuration option: usekeychain"),
        "{err}"
    );
    assert!(err.contains("`runpod-ssh fix` repairs this"), "{err}");
    assert_eq!(std::fs::read(&cfg).unwrap(), original);

    let o = home.run(&["fix"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = home.run(&["add", PASTE]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.starts_with("IgnoreUnknown UseKeychain\n"), "{text}");
    assert!(text.contains("  UseKeychain yes\n"), "{text}");
    assert!(text.contains(&format!("Host {ALIAS}")), "{text}");
    if let Some(ssh) = require_tool("ssh") {
        for alias in [ALIAS, "runpod-old"] {
            let g = ssh_g(&home, &ssh, &cfg, alias).unwrap();
            assert!(
                g.contains(&("user".into(), "root".into())),
                "{alias}: {g:?}"
            );
        }
    }
}

/// `runpod-ssh ARGS…` as if the ssh here were Apple's.
fn as_apple(home: &TempHome, args: &[&str]) -> std::process::Output {
    home.cmd(common::bin())
        .env("RUNPOD_SSH_TEST_CLIENT", "apple")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn on_apples_ssh_nothing_is_found_and_add_works() {
    let home = TempHome::new();
    let runpod = "Host runpod-old\n  HostName 203.0.113.9\n  Port 40100\n  User root\n\n";
    let cfg = with_guide(&home, runpod);
    let original = std::fs::read_to_string(&cfg).unwrap();
    let o = as_apple(&home, &["fix", "--dry-run", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    if !cfg!(debug_assertions) {
        // The hook is not in release builds: the environment changes nothing.
        assert!(rules.contains(&"apple-keywords"), "{rules:?}");
        return;
    }
    assert!(
        !rules.contains(&"apple-keywords") && !rules.contains(&"ssh-refuses"),
        "{rules:?}"
    );
    let o = as_apple(&home, &["add", PASTE]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(!text.contains("IgnoreUnknown"), "{text}");
    assert!(text.contains(&format!("Host {ALIAS}")), "{text}");
    // Everything that was there is still there, byte for byte.
    assert!(text.contains(GUIDE) && text.contains(runpod), "{text}");
    assert!(text.len() > original.len());
}

/// ssh honours only the first `IgnoreUnknown` it meets, included files
/// too: the line `fix` puts at the top must keep the patterns of one a
/// file included below names, or the lines that one let through are
/// refused now (on the Mac as well, which read the file before).
#[test]
fn fix_keeps_the_ignoreunknown_patterns_of_included_files() {
    let home = TempHome::new();
    let inc = home.ssh_dir().join("mac.conf");
    std::fs::write(&inc, "IgnoreUnknown Foo\nFoo bar\n").unwrap();
    let cfg = with_guide(&home, "Include ~/.ssh/mac.conf\n\n");
    let o = home.run(&["fix"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let fixed = std::fs::read_to_string(&cfg).unwrap();
    assert_eq!(
        fixed,
        format!("IgnoreUnknown UseKeychain,Foo\nInclude ~/.ssh/mac.conf\n\n{GUIDE}")
    );
    assert_eq!(
        std::fs::read_to_string(&inc).unwrap(),
        "IgnoreUnknown Foo\nFoo bar\n"
    );
    if let Some(ssh) = require_tool("ssh") {
        ssh_g(&home, &ssh, &cfg, "github.com").expect("ssh reads the repaired file");
    }
}

/// A top-level `IgnoreUnknown` below the first Apple keyword comes too
/// late: the repair goes above the use, keeping that line's patterns.
#[test]
fn fix_puts_ignoreunknown_above_a_use_before_the_files_first_one() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let before = "UseKeychain yes\nIgnoreUnknown Foo\nHost *\n  User u\n";
    std::fs::write(&cfg, before).unwrap();
    let o = home.run(&["fix"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("apple-keywords ~/.ssh/config:1 [fixed]"),
        "{out}"
    );
    let fixed = std::fs::read_to_string(&cfg).unwrap();
    assert_eq!(fixed, format!("IgnoreUnknown UseKeychain,Foo\n{before}"));
    if let Some(ssh) = require_tool("ssh") {
        ssh_g(&home, &ssh, &cfg, "github.com").expect("ssh reads the repaired file");
    }
}
