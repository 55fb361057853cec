//! The command-line frame: help, global options in either position, exit
//! codes, JSON output with sources.

mod common;

use common::{TempHome, stderr, stdout};

#[test]
fn help_documents_exit_codes_and_examples() {
    let home = TempHome::new();
    let o = home.run(&["--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("Exit codes:"), "{text}");
    assert!(text.contains("2  bad input"), "{text}");
    let o = home.run(&["show", "--help"]);
    assert!(stdout(&o).contains("Example:"), "{}", stdout(&o));
}

#[test]
fn global_options_before_or_after_the_command() {
    let home = TempHome::new();
    let cfg = home.path().join("cfg");
    std::fs::write(&cfg, "Host pod\n  HostName 203.0.113.7\n  Port 40123\n").unwrap();
    let c = cfg.to_str().unwrap();
    let a = home.run(&["--config", c, "show", "pod"]);
    let b = home.run(&["show", "pod", "--config", c]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b));
    assert!(stdout(&a).contains("hostname 203.0.113.7\n"));
    assert!(stdout(&a).contains("port 40123\n"));
}

#[test]
fn json_carries_sources() {
    let home = TempHome::new();
    let cfg = home.path().join("cfg");
    std::fs::write(&cfg, "# c\nHost pod\n  HostName 203.0.113.7\n").unwrap();
    let o = home.run(&["show", "pod", "--json", "--config", cfg.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hn = v["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["keyword"] == "hostname")
        .unwrap();
    assert_eq!(hn["value"], "203.0.113.7");
    assert_eq!(hn["source"]["line"], 3);
    assert_eq!(v["ok"], true);
}

#[test]
fn default_config_is_home_ssh_config() {
    let home = TempHome::new();
    std::fs::write(home.ssh_dir().join("config"), "Host pod\n  User alice\n").unwrap();
    let o = home.run(&["show", "pod"]);
    assert!(stdout(&o).contains("user alice\n"), "{}", stdout(&o));
    // No config at all is an empty config, not an error.
    std::fs::remove_file(home.ssh_dir().join("config")).unwrap();
    assert!(home.run(&["show", "pod"]).status.success());
}

#[test]
fn exit_codes() {
    let home = TempHome::new();
    let cfg = home.path().join("cfg");
    // A config ssh refuses: problems found, exit 1, the line named.
    std::fs::write(&cfg, "Host pod\n  Port 40123# the port\n").unwrap();
    let o = home.run(&["show", "pod", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(":2: Bad port '40123#'."),
        "{}",
        stderr(&o)
    );
    // Bad input: exit 2, one clear sentence.
    let o = home.run(&["show", "two words"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not valid"), "{}", stderr(&o));
    let o = home.run(&["show", "pod", "--config", "/nonexistent/cfg"]);
    assert_eq!(o.status.code(), Some(2));
    let o = home.run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn no_color_and_no_ansi_when_piped() {
    let home = TempHome::new();
    let cfg = home.path().join("cfg");
    std::fs::write(&cfg, "Host pod\n  Port x\n").unwrap();
    let o = home.run(&["show", "pod", "--config", cfg.to_str().unwrap()]);
    assert!(!stderr(&o).contains('\x1b'), "{:?}", stderr(&o));
}

/// Item 9: under `--json` a usage error clap finds (`add --json` with no
/// COMMAND, an unknown option) is JSON on stdout too, shaped as every
/// other failure (`error`, `exit_code`), with clap's words on stderr and
/// its exit code (2) unchanged. Help stays help.
#[test]
fn usage_errors_under_json_are_json() {
    let home = TempHome::new();
    for args in [
        &["add", "--json"][..],
        &["--json", "add"][..],
        &["check", "--json", "--nope"][..],
        &["--json", "show", "a", "b"][..],
    ] {
        let o = home.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", stdout(&o)));
        assert_eq!(v["exit_code"], 2, "{v:#}");
        let err = v["error"].as_str().unwrap();
        assert!(!err.is_empty() && !err.contains("Usage:"), "{err}");
        assert!(stderr(&o).contains("Usage:"), "{}", stderr(&o));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&home.run(&["add", "--json"]).stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("<COMMAND>"), "{v:#}");
    // Without --json: clap's text only.
    let o = home.run(&["add"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    let o = home.run(&["add", "--json", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Usage:"), "{}", stdout(&o));
}
