//! Shell integration: the bash completion script, sourced in a real bash,
//! offers host aliases from the config; `--version` names the commit;
//! `man` renders the page.

mod common;

use common::{TempHome, fixtures, require_tool, stderr, stdout};
use std::path::Path;

/// Source the script `runpod-ssh completions bash` printed, then complete
/// `words` (the last one is the word under the cursor) the way bash's
/// programmable completion calls the registered function; COMPREPLY, one
/// per line.
fn bash_complete(home: &TempHome, bash: &Path, words: &[&str]) -> String {
    let o = home.run(&["completions", "bash"]);
    assert!(o.status.success(), "{}", stderr(&o));
    bash_complete_with(home, bash, &o.stdout, words)
}

/// [`bash_complete`] with the registration script `script`.
fn bash_complete_with(home: &TempHome, bash: &Path, script: &[u8], words: &[&str]) -> String {
    let path = home.path().join("runpod-ssh.bash");
    std::fs::write(&path, script).unwrap();
    let script = path;
    let driver = r#"
source "$1"; shift
spec=$(complete -p runpod-ssh) || { echo "no completion registered" >&2; exit 9; }
fn=$(printf '%s\n' "$spec" | sed -E 's/.* -F ([^ ]+) .*/\1/')
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMP_TYPE=9
cur=${COMP_WORDS[COMP_CWORD]}
prev=${COMP_WORDS[COMP_CWORD-1]}
"$fn" runpod-ssh "$cur" "$prev"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let o = home
        .cmd(bash)
        .args(["--norc", "--noprofile", "-c", driver, "bash"])
        .arg(&script)
        .args(words)
        .current_dir(home.path())
        .output()
        .expect("run bash");
    assert!(o.status.success(), "bash: {}", stderr(&o));
    assert_eq!(stderr(&o), "", "completion printed to stderr");
    stdout(&o)
}

fn home_with_fixture_config() -> TempHome {
    let home = TempHome::new();
    std::fs::copy(
        fixtures().join("completion").join("config"),
        home.ssh_dir().join("config"),
    )
    .unwrap();
    let d = home.ssh_dir().join("config.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("pods"), "Host runpod-a100\n  HostName 203.0.113.8\n").unwrap();
    home
}

#[test]
fn bash_completion_offers_aliases_from_the_config() {
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let home = home_with_fixture_config();
    for sub in ["show", "check", "remove", "fix", "key rotate"] {
        let mut words: Vec<&str> = vec!["runpod-ssh"];
        words.extend(sub.split(' '));
        words.push("");
        let got = bash_complete(&home, &bash, &words);
        let got: Vec<&str> = got.lines().collect();
        for alias in ["runpod-4090", "runpod-a100", "gpu-box", "lab"] {
            assert!(got.contains(&alias), "{sub}: {alias} not offered: {got:?}");
        }
        assert!(!got.contains(&"*"), "{sub}: a pattern was offered: {got:?}");
    }
    // The word typed so far narrows the list.
    let got = bash_complete(&home, &bash, &["runpod-ssh", "show", "runpod-4"]);
    assert_eq!(got.lines().collect::<Vec<_>>(), ["runpod-4090"]);
    // Nothing the config names ran (its Match exec would create this file).
    assert!(!home.path().join("match-exec-ran").exists());
}

#[test]
fn open_up_stop_and_autostop_complete_aliases_too() {
    // The issue names `open`; up, stop and autostop take the same alias
    // (`open`, `up` and `stop` call their argument `target`).
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let home = home_with_fixture_config();
    for sub in ["open", "up", "stop", "autostop"] {
        let got = bash_complete(&home, &bash, &["runpod-ssh", sub, "runpod-"]);
        let got: Vec<&str> = got.lines().collect();
        assert_eq!(got, ["runpod-4090", "runpod-a100"], "{sub}");
    }
}

#[test]
fn aliases_a_shell_would_run_expand_or_split_are_not_offered() {
    // bash puts a candidate on the command line as it is (no quoting): an
    // alias like `$(...)` or `a;b` from an included file would run when
    // the user presses Enter; escape sequences reach the terminal when
    // bash lists candidates; the script's unquoted $(...) splits on \v
    // and globs `[...]`. Only aliases made of characters no shell reads
    // specially are offered (ssh refuses most of the others as a host
    // name on its command line anyway).
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let home = TempHome::new();
    let mut cfg: Vec<u8> = Vec::new();
    for alias in [
        &b"runpod-ok"[..],
        b"gpu.box_2+x@y%z:1",
        "\u{fc}nic\u{f6}de".as_bytes(),
        b"$(touch${IFS}pwned-dollar)",
        b"`touch${IFS}pwned-tick`",
        b"a;touch${IFS}pwned-semi",
        b"a|b",
        b"a&b",
        b"a>b",
        b"back\\slash",
        b"esc\x1b]0;title\x07x",
        b"cr\rx",
        b"vt\x0bx",
        b"ff\x0cx",
        b"lab[1]",
        b"~tilde",
        b"{a,b}",
        b"-oProxyCommand=x",
        b"@splat",
        b"eq=x",
        b"bad\xff\xfe",
    ] {
        cfg.extend_from_slice(b"Host ");
        cfg.extend_from_slice(alias);
        cfg.extend_from_slice(b"\n  HostName 203.0.113.9\n");
    }
    std::fs::write(home.ssh_dir().join("config"), &cfg).unwrap();
    // What `lab[1]` would glob to in the shell's folder.
    std::fs::write(home.path().join("lab1"), "").unwrap();
    let got = bash_complete(&home, &bash, &["runpod-ssh", "show", ""]);
    let aliases: Vec<&str> = got.lines().filter(|l| !l.starts_with("--")).collect();
    assert_eq!(
        aliases,
        ["runpod-ok", "gpu.box_2+x@y%z:1", "\u{fc}nic\u{f6}de"],
        "{got:?}"
    );
    let ran: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pwned"))
        .collect();
    assert!(ran.is_empty(), "{ran:?}");
}

#[test]
fn bash_completion_reads_the_config_named_on_the_line() {
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let home = TempHome::new(); // no ~/.ssh/config at all
    let cfg = fixtures().join("completion").join("config");
    let got = bash_complete(
        &home,
        &bash,
        &["runpod-ssh", "--config", cfg.to_str().unwrap(), "show", "g"],
    );
    assert_eq!(got.lines().collect::<Vec<_>>(), ["gpu-box"]);
    // Without a config there is no alias to offer (clap then offers the
    // flags), and no error either.
    let got = bash_complete(&home, &bash, &["runpod-ssh", "show", ""]);
    assert!(got.lines().all(|l| l.starts_with("--")), "{got}");
}

#[cfg(unix)]
#[test]
fn scripts_call_back_a_binary_whose_path_has_spaces_or_template_words() {
    // clap_complete fills its templates' VAR/BIN words after putting the
    // path in, and bash's script double-quoted an already single-quoted
    // path: `/opt/VAR x/runpod-ssh` became a program that does not exist.
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let home = home_with_fixture_config();
    let dir = home.path().join("My VAR BIN NAME COMPLETER it's $HOME");
    std::fs::create_dir_all(&dir).unwrap();
    let me = dir.join("runpod-ssh");
    std::os::unix::fs::symlink(common::bin(), &me).unwrap();
    let script = |shell: &str| {
        let o = home.cmd(&me).args(["completions", shell]).output().unwrap();
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        o.stdout
    };
    let got = bash_complete_with(&home, &bash, &script("bash"), &["runpod-ssh", "show", "g"]);
    assert_eq!(got.lines().collect::<Vec<_>>(), ["gpu-box"]);
    let me = me.to_str().unwrap();
    let posix = format!("'{}'", me.replace('\'', r"'\''"));
    let zsh = String::from_utf8(script("zsh")).unwrap();
    assert!(zsh.contains(&format!(" {posix} -- ")), "{zsh}");
    assert!(zsh.contains("RUNPOD_SSH_COMPLETE=\"zsh\""), "{zsh}");
    let elvish = String::from_utf8(script("elvish")).unwrap();
    let quoted = format!("'{}'", me.replace('\'', "''"));
    assert!(elvish.contains(&format!(" {quoted} -- ")), "{elvish}");
}

#[test]
fn bash_completion_still_completes_subcommands_and_flags() {
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let home = TempHome::new();
    let got = bash_complete(&home, &bash, &["runpod-ssh", "comp"]);
    assert_eq!(got.lines().collect::<Vec<_>>(), ["completions"]);
    let got = bash_complete(&home, &bash, &["runpod-ssh", "add", "--dry"]);
    assert_eq!(got.lines().collect::<Vec<_>>(), ["--dry-run"]);
}

#[test]
fn every_shell_gets_a_script_that_calls_the_binary_back() {
    let home = TempHome::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = home.run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains("RUNPOD_SSH_COMPLETE"), "{shell}: {text}");
        assert!(
            text.contains(common::bin().to_str().unwrap()),
            "{shell}: the script does not call this binary: {text}"
        );
    }
    let o = home.run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let home = TempHome::new();
    let o = home.run(&["--version"]);
    assert!(o.status.success());
    let text = stdout(&o);
    let want = format!("runpod-ssh {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text}");
    let commit = text[want.len()..].trim_end().trim_end_matches(')');
    // Built in a git checkout (the tests are not in the crates.io package),
    // so the commit is known: 12 hex digits, HEAD's when git is here.
    assert!(
        commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{text}"
    );
    let head = std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short=12",
            "HEAD",
        ])
        .output();
    if let Ok(h) = head
        && h.status.success()
    {
        assert_eq!(commit, String::from_utf8_lossy(&h.stdout).trim());
    }
}

#[test]
fn man_writes_a_roff_page_naming_every_command() {
    let home = TempHome::new();
    let o = home.run(&["man"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.contains(".TH runpod-ssh 1"), "{page}");
    assert!(page.contains(env!("CARGO_PKG_VERSION")));
    for sub in [
        "add",
        "check",
        "fix",
        "list",
        "remove",
        "restore",
        "show",
        "key",
        "completions",
        "man",
    ] {
        assert!(
            page.contains(&format!("runpod\\-ssh\\-{sub}(1)"))
                || page.contains(&format!("\\fB{sub}\\fR")),
            "{sub} missing from the man page"
        );
    }
}

/// Completion time for a config including `n` small files (a folder of
/// per-pod snippets), the fastest of three tries.
fn completion_time_with_includes(n: usize) -> std::time::Duration {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("conf.d");
    std::fs::create_dir_all(&d).unwrap();
    for i in 0..n {
        std::fs::write(d.join(format!("pod{i}")), format!("Host pod-{i}\n")).unwrap();
    }
    let cfg = dir.path().join("config");
    // Absolute, so nothing is read from this account's real ~/.ssh.
    std::fs::write(&cfg, format!("Include {}/*\n", d.display())).unwrap();
    (0..3)
        .map(|_| {
            let t = std::time::Instant::now();
            let got = runpod_ssh::completion::aliases_in(&cfg);
            let spent = t.elapsed();
            assert_eq!(got.len(), n);
            spent
        })
        .min()
        .unwrap()
}

#[test]
fn completion_time_grows_linearly_with_included_files() {
    // At every TAB: 8x the files must not cost 64x the time (each newly
    // included file was compared with every file before it).
    // Under Wine each file costs ~20x (9000 files took 400 s of the
    // Windows lane): the same 8x step from a smaller start there.
    let (small, large) = if cfg!(windows) {
        (250, 2000)
    } else {
        (1000, 8000)
    };
    let small = completion_time_with_includes(small);
    let large = completion_time_with_includes(large);
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    assert!(
        ratio < 24.0,
        "8x the included files: {small:?} → {large:?} ({ratio:.1}x)"
    );
}
