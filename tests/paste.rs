//! The paste table: what `runpod-ssh add` accepts from RunPod (and users'
//! variations of it), and what it refuses, with the refusal message.
//! Refusals are also run through the CLI to check nothing is written.

mod common;

use common::{TempHome, stderr};
use runpod_ssh::runpod::{Access, default_alias, parse_paste};

/// (input, host, port, user, identity, extra options as "Keyword value")
type Accepted = (
    &'static str,
    &'static str,
    u16,
    &'static str,
    Option<&'static str>,
    &'static [&'static str],
);

const ACCEPTED: &[Accepted] = &[
    (
        "ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519",
        "203.0.113.7",
        40123,
        "root",
        Some("~/.ssh/id_ed25519"),
        &[],
    ),
    (
        "ssh -p 40123 root@203.0.113.7 -i ~/.ssh/id_ed25519",
        "203.0.113.7",
        40123,
        "root",
        Some("~/.ssh/id_ed25519"),
        &[],
    ),
    (
        "ssh -i ~/.ssh/id_ed25519 -p 40123 root@203.0.113.7",
        "203.0.113.7",
        40123,
        "root",
        Some("~/.ssh/id_ed25519"),
        &[],
    ),
    (
        "$ ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519\n",
        "203.0.113.7",
        40123,
        "root",
        Some("~/.ssh/id_ed25519"),
        &[],
    ),
    (
        "  ssh root@203.0.113.7 -p 40123\r\n",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[],
    ),
    (
        "ssh root@203.0.113.7 -p40123 -i~/.ssh/id_ed25519",
        "203.0.113.7",
        40123,
        "root",
        Some("~/.ssh/id_ed25519"),
        &[],
    ),
    (
        r#"ssh root@203.0.113.7 -p 40123 -i "C:\Users\me\.ssh\id_ed25519""#,
        "203.0.113.7",
        40123,
        "root",
        Some("C:/Users/me/.ssh/id_ed25519"),
        &[],
    ),
    (
        r"ssh root@203.0.113.7 -p 40123 -i C:\Users\me\.ssh\id_ed25519",
        "203.0.113.7",
        40123,
        "root",
        Some("C:/Users/me/.ssh/id_ed25519"),
        &[],
    ),
    (
        r#"ssh root@203.0.113.7 -p 40123 -i "C:\Users\John Doe\.ssh\id_ed25519""#,
        "203.0.113.7",
        40123,
        "root",
        Some("C:/Users/John Doe/.ssh/id_ed25519"),
        &[],
    ),
    (
        "ssh ssh://root@203.0.113.7:40123",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[],
    ),
    // A bare URI, as some tools copy it (issue 9 item 11).
    (
        "ssh://root@203.0.113.7:40123",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[],
    ),
    (
        "ssh ssh://root@[2001:db8::7]:40123 -i ~/.ssh/k",
        "2001:db8::7",
        40123,
        "root",
        Some("~/.ssh/k"),
        &[],
    ),
    (
        "ssh -l root 203.0.113.7 -p 40123",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[],
    ),
    (
        "ssh 203.0.113.7 -p 40123",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[],
    ),
    (
        "ssh.exe root@203.0.113.7 -p 40123",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[],
    ),
    (
        "/usr/bin/ssh root@203.0.113.7 -p 40123",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[],
    ),
    (
        "ssh abc123xyz-64410f1d@ssh.runpod.io -i ~/.ssh/id_ed25519",
        "ssh.runpod.io",
        22,
        "abc123xyz-64410f1d",
        Some("~/.ssh/id_ed25519"),
        &[],
    ),
    (
        "ssh root@203.0.113.7 -p 40123 -L 8888:localhost:8888",
        "203.0.113.7",
        40123,
        "root",
        None,
        &["LocalForward 8888 localhost:8888"],
    ),
    (
        "ssh root@203.0.113.7 -p 40123 -L 127.0.0.1:6006:localhost:6006 -D 1080",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[
            "LocalForward 127.0.0.1:6006 localhost:6006",
            "DynamicForward 1080",
        ],
    ),
    (
        "ssh root@203.0.113.7 -p 40123 -R 9000:localhost:9000",
        "203.0.113.7",
        40123,
        "root",
        None,
        &["RemoteForward 9000 localhost:9000"],
    ),
    (
        "ssh root@203.0.113.7 -p 40123 -o ServerAliveInterval=60",
        "203.0.113.7",
        40123,
        "root",
        None,
        &["ServerAliveInterval 60"],
    ),
    (
        "ssh root@203.0.113.7 -p 40123 -oConnectTimeout=10",
        "203.0.113.7",
        40123,
        "root",
        None,
        &["ConnectTimeout 10"],
    ),
    (
        "ssh root@203.0.113.7 -p 40123 -o 'Compression yes'",
        "203.0.113.7",
        40123,
        "root",
        None,
        &["Compression yes"],
    ),
    (
        "ssh root@203.0.113.7 -o Port=40123 -o User=root",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[],
    ),
    (
        "ssh -A -C root@203.0.113.7 -p 40123",
        "203.0.113.7",
        40123,
        "root",
        None,
        &["ForwardAgent yes", "Compression yes"],
    ),
    (
        "ssh -tt -v root@203.0.113.7 -p 40123",
        "203.0.113.7",
        40123,
        "root",
        None,
        &[],
    ),
    (
        "ssh root@pod.example.com -p 2222",
        "pod.example.com",
        2222,
        "root",
        None,
        &[],
    ),
    (
        "ssh root@203.0.113.7 -p 65535",
        "203.0.113.7",
        65535,
        "root",
        None,
        &[],
    ),
];

/// (input, part of the refusal message)
const REFUSED: &[(&str, &str)] = &[
    ("", "nothing to parse"),
    ("   \n", "nothing to parse"),
    ("scp root@203.0.113.7 -P 40123", "must start with `ssh`"),
    ("mosh root@203.0.113.7", "must start with `ssh`"),
    ("ssh -p 40123 -i ~/.ssh/id_ed25519", "no host"),
    ("ssh root@ -p 40123", "no host"),
    (
        "ssh root@203.0.113.7 -p 0",
        "port \"0\" is not a number from 1 to 65535",
    ),
    ("ssh root@203.0.113.7 -p 65536", "port \"65536\""),
    ("ssh root@203.0.113.7 -p 4o123", "port \"4o123\""),
    ("ssh root@203.0.113.7 -p", "option -p needs a value"),
    (
        "ssh root@203.0.113.7 -o ProxyCommand=nc evil 22",
        "ProxyCommand is refused",
    ),
    (
        "ssh root@203.0.113.7 -oProxyCommand=sh",
        "ProxyCommand is refused",
    ),
    (
        "ssh root@203.0.113.7 -o LocalCommand=rm -p 1",
        "LocalCommand is refused",
    ),
    (
        "ssh root@203.0.113.7 -o PermitLocalCommand=yes",
        "PermitLocalCommand is refused",
    ),
    (
        "ssh root@203.0.113.7 -o KnownHostsCommand=/bin/x",
        "KnownHostsCommand is refused",
    ),
    (
        "ssh root@203.0.113.7 -o ProxyJump=jump",
        "ProxyJump is refused",
    ),
    (
        "ssh root@203.0.113.7 -o HostName=evil.example",
        "HostName is refused",
    ),
    ("ssh root@203.0.113.7 -o Match=all", "Match is refused"),
    (
        "ssh root@203.0.113.7 -o Include=/tmp/x",
        "Include is refused",
    ),
    (
        "ssh root@203.0.113.7 -o StrictHostKeyChecking=no",
        "StrictHostKeyChecking is refused",
    ),
    ("ssh -J jump root@203.0.113.7", "-J (ProxyJump) is refused"),
    (
        "ssh -W host:22 root@203.0.113.7",
        "-W (stdio forwarding) is refused",
    ),
    (
        "ssh -F /tmp/cfg root@203.0.113.7",
        "-F (another config file)",
    ),
    ("ssh -X root@203.0.113.7", "-X (X11 forwarding)"),
    (
        "ssh root@203.0.113.7 -o Frobnicate=1",
        "option -o Frobnicate is not supported",
    ),
    (
        "ssh root@203.0.113.7 -o ServerAliveInterval=soon",
        "not a time",
    ),
    ("ssh root@203.0.113.7 ls -la", "a command after the host"),
    ("ssh 'root@203.0.113.7 -p 40123", "unbalanced quote"),
    ("ssh ro#ot@203.0.113.7", "user \"ro#ot\" is not allowed"),
    (
        "ssh root@203.0.113.7#x",
        "host \"203.0.113.7#x\" is not allowed",
    ),
    ("ssh root@203.0.113.7 -i ~/.ssh/id#1", "it contains '#'"),
    (
        "ssh root@203.0.113.7 -i \"~/.ssh/id\u{7}\"",
        "control characters",
    ),
    (
        "ssh root@203.0.113.7 -L 8888",
        "forward \"8888\" is not a valid",
    ),
    (
        "ssh root@203.0.113.7 -L 8888:localhost:99999",
        "is not a valid port forwarding spec",
    ),
];

#[test]
fn accepted_paste_forms() {
    assert!(ACCEPTED.len() + REFUSED.len() >= 30);
    for (input, host, port, user, identity, extra) in ACCEPTED {
        let e = parse_paste(&[input.to_string()]).unwrap_or_else(|err| panic!("{input:?}: {err}"));
        assert_eq!(e.host, *host, "{input:?}");
        assert_eq!(e.port, *port, "{input:?}");
        assert_eq!(e.user, *user, "{input:?}");
        assert_eq!(e.identity.as_deref(), *identity, "{input:?}");
        let opts: Vec<String> = e.options.iter().map(|(k, v)| format!("{k} {v}")).collect();
        assert_eq!(opts, *extra, "{input:?}");
    }
}

#[test]
fn the_line_as_many_words_is_the_same() {
    let one = parse_paste(&["ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519".into()]).unwrap();
    let many: Vec<String> = [
        "ssh",
        "root@203.0.113.7",
        "-p",
        "40123",
        "-i",
        "~/.ssh/id_ed25519",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(parse_paste(&many).unwrap(), one);
    // A quoted path with a space arrives as one word from the shell.
    let words: Vec<String> = ["ssh", "root@1.2.3.4", "-i", r"C:\Users\John Doe\id"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        parse_paste(&words).unwrap().identity.as_deref(),
        Some("C:/Users/John Doe/id")
    );
}

#[test]
fn aliases_and_proxy_form() {
    let e = parse_paste(&["ssh root@203.0.113.7 -p 40123".into()]).unwrap();
    assert_eq!(default_alias(&e), "runpod-203-0-113-7-40123");
    let p =
        parse_paste(&["ssh abc123xyz-64410f1d@ssh.runpod.io -i ~/.ssh/id_ed25519".into()]).unwrap();
    assert_eq!(
        p.access,
        Access::Proxy {
            pod_id: "abc123xyz".into()
        }
    );
    assert_eq!(default_alias(&p), "runpod-abc123xyz");
}

#[test]
fn refused_paste_forms() {
    for (input, want) in REFUSED {
        let err = parse_paste(&[input.to_string()])
            .expect_err(input)
            .to_string();
        assert!(err.contains(want), "{input:?}: got {err:?}, want {want:?}");
    }
}

#[test]
fn refusals_write_nothing_and_exit_2() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let original = b"Host keep\r\n\tHostName keep.example # mine\r\n".to_vec();
    std::fs::write(&cfg, &original).unwrap();
    for (input, want) in REFUSED.iter().filter(|(i, _)| !i.trim().is_empty()) {
        let o = home.run(&["add", input]);
        assert_eq!(o.status.code(), Some(2), "{input:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{input:?}: {}", stderr(&o));
        assert_eq!(
            std::fs::read(&cfg).unwrap(),
            original,
            "{input:?} changed the config"
        );
    }
    // Bad aliases too.
    for alias in ["my pod", "a#b", "x:1", "", "-x", "pod\"1"] {
        let o = home.run(&["add", "--name", alias, "ssh root@203.0.113.7 -p 40123"]);
        assert_eq!(o.status.code(), Some(2), "{alias:?}");
        assert!(
            stderr(&o).contains("not valid"),
            "{alias:?}: {}",
            stderr(&o)
        );
    }
    assert_eq!(std::fs::read(&cfg).unwrap(), original);
    assert!(!home.ssh_dir().join(".runpod-ssh-backups").exists());
}

/// (paste, the line a naive parser would have written for it). Every one
/// of these lines makes `ssh` refuse the whole file (checked below), so
/// `add` must refuse the paste and leave the file alone.
fn pastes_ssh_refuses() -> Vec<(String, String)> {
    let long = "a".repeat(254);
    let v: Vec<(&str, String)> = vec![
        (
            "-L 8888:localhost:0",
            "LocalForward 8888 localhost:0".into(),
        ),
        (
            "-L 0:localhost:8888",
            "LocalForward 0 localhost:8888".into(),
        ),
        (
            "-L 8888:localhost:65536",
            "LocalForward 8888 localhost:65536".into(),
        ),
        (
            "-R 70000:localhost:22",
            "RemoteForward 70000 localhost:22".into(),
        ),
        ("-D 0", "DynamicForward 0".into()),
        ("-D 65536", "DynamicForward 65536".into()),
        (
            "-D 8888:[::1]:8888",
            "DynamicForward 8888:[::1]:8888".into(),
        ),
        ("-L 8888:::1:22", "LocalForward 8888 ::1:22".into()),
        ("-L 8888:HOST:22", format!("LocalForward 8888 {long}:22")),
        ("-o LocalForward=8888", "LocalForward 8888".into()),
        (
            "-o LocalForward=8888 localhost:0",
            "LocalForward 8888 localhost:0".into(),
        ),
        (
            "-o ForwardAgent=${UNSET_RUNPOD_SSH_TEST}",
            "ForwardAgent ${UNSET_RUNPOD_SSH_TEST}".into(),
        ),
        (
            "-o ServerAliveInterval=99999999999",
            "ServerAliveInterval 99999999999".into(),
        ),
        (
            "-o ServerAliveCountMax=3000000000",
            "ServerAliveCountMax 3000000000".into(),
        ),
        ("-o SetEnv==x", "SetEnv =x".into()),
        ("-o Compression=maybe", "Compression maybe".into()),
    ];
    v.into_iter()
        .map(|(flags, line)| {
            (
                format!(
                    "ssh root@203.0.113.7 -p 40123 {}",
                    flags.replace("HOST", &long)
                ),
                line,
            )
        })
        .collect()
}

#[test]
fn pastes_whose_config_ssh_refuses_exit_2_and_write_nothing() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let original = b"Host prod\n    HostName 198.51.100.9\n    User ubuntu\n".to_vec();
    let ssh = common::require_tool("ssh");
    for (paste, line) in pastes_ssh_refuses() {
        // The line really breaks ssh (so this test guards something).
        if let Some(ssh) = &ssh {
            let probe = home.path().join("probe.conf");
            std::fs::write(&probe, format!("Host other\n    {line}\n")).unwrap();
            assert!(
                common::ssh_g(&home, ssh, &probe, "prod").is_err(),
                "ssh accepts {line:?}, so this case proves nothing"
            );
        }
        std::fs::write(&cfg, &original).unwrap();
        let o = home.run(&["add", &paste, "--no-vscode"]);
        assert_eq!(o.status.code(), Some(2), "{paste:?}: {}", stderr(&o));
        assert_eq!(
            std::fs::read(&cfg).unwrap(),
            original,
            "{paste:?} changed the config"
        );
    }
    assert!(!home.ssh_dir().join(".runpod-ssh-backups").exists());
}

#[test]
fn identity_with_a_non_ascii_space_is_refused_by_add_identity_as_by_pasted_i() {
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let original = b"Host keep\n    HostName keep.example\n".to_vec();
    std::fs::write(&cfg, &original).unwrap();
    for space in ['\u{a0}', '\u{3000}', '\u{2009}', '\u{200b}'] {
        let path = format!("~/.ssh/my{space}key");
        // Pasted -i (as the shell hands it over: its own word).
        let pasted = home.run(&["add", "ssh", "root@203.0.113.7", "-p", "40123", "-i", &path]);
        // --identity with a plain paste.
        let flag = home.run(&["add", "--identity", &path, "ssh root@203.0.113.7 -p 40123"]);
        for (how, o) in [("-i", &pasted), ("--identity", &flag)] {
            assert_eq!(o.status.code(), Some(2), "{how} {path:?}: {}", stderr(o));
            assert!(
                stderr(o).contains("non-ASCII space"),
                "{how} {path:?}: {}",
                stderr(o)
            );
        }
        assert_eq!(std::fs::read(&cfg).unwrap(), original);
    }
    // A plain space is fine both ways (it is quoted when written).
    let o = home.run(&[
        "add",
        "--identity",
        "~/.ssh/my key",
        "ssh root@203.0.113.7 -p 40123",
        "--no-vscode",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn agent_forwarding_in_a_paste_is_written_with_a_warning() {
    for paste in [
        "ssh -A root@203.0.113.7 -p 40123",
        "ssh root@203.0.113.7 -p 40123 -o ForwardAgent=yes",
    ] {
        let home = TempHome::new();
        let o = home.run(&["add", paste, "--no-vscode"]);
        assert!(o.status.success(), "{paste}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("agent forwarding")
                && err.contains("root")
                && err.contains("your ssh keys"),
            "{paste}: {err}"
        );
        let cfg = std::fs::read_to_string(home.ssh_dir().join("config")).unwrap();
        assert!(cfg.contains("ForwardAgent yes"), "{cfg}");
    }
    // No warning without it.
    let home = TempHome::new();
    let o = home.run(&["add", "ssh root@203.0.113.7 -p 40123", "--no-vscode"]);
    assert!(!stderr(&o).contains("agent forwarding"), "{}", stderr(&o));
}

#[test]
fn forward_validator_agrees_with_ssh() {
    let Some(ssh) = common::require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let long = |n: usize| "h".repeat(n);
    let mut lines: Vec<(String, String)> = [
        ("LocalForward", "8888 localhost:8888"),
        ("LocalForward", "127.0.0.1:8888 localhost:8888"),
        ("LocalForward", "[::1]:8888 [::1]:22"),
        ("LocalForward", "*:8888 localhost:22"),
        ("LocalForward", "8888 localhost:0"),
        ("LocalForward", "0 localhost:22"),
        ("LocalForward", "65535 localhost:65535"),
        ("LocalForward", "65536 localhost:22"),
        ("LocalForward", "8888 ::1:22"),
        ("LocalForward", "8888"),
        ("LocalForward", "/tmp/a.sock /tmp/b.sock"),
        ("LocalForward", "8888 /tmp/b.sock"),
        ("LocalForward", "[::1]8888 localhost:22"),
        ("RemoteForward", "0 localhost:22"),
        ("RemoteForward", "8888"),
        ("RemoteForward", "127.0.0.1:8888"),
        ("RemoteForward", "70000 localhost:22"),
        ("RemoteForward", "8888 localhost:0"),
        ("DynamicForward", "1080"),
        ("DynamicForward", "127.0.0.1:1080"),
        ("DynamicForward", "[::1]:1080"),
        ("DynamicForward", "0"),
        ("DynamicForward", "8888:[::1]:8888"),
        ("DynamicForward", "65536"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // The 256-byte buffer readconf.c joins the two arguments in.
    for n in [200, 240, 245, 246, 247, 250, 254, 300] {
        lines.push(("LocalForward".into(), format!("8888 {}:22", long(n))));
    }
    let probe = home.path().join("probe.conf");
    for (k, v) in &lines {
        std::fs::write(&probe, format!("Host x\n    {k} {v}\n")).unwrap();
        let ssh_says = common::ssh_g(&home, &ssh, &probe, "x").is_ok();
        let we_say = runpod_ssh::runpod::ssh_accepts_forward_line(k, v);
        assert_eq!(we_say, ssh_says, "{k} {v}");
    }
}

#[test]
fn dash_o_space_form_with_equals_in_the_value_is_read_as_ssh_reads_it() {
    for (flag, line) in [
        ("SetEnv A=b", "SetEnv A=b"),
        ("SetEnv=A=b", "SetEnv A=b"),
        ("SetEnv = A=b", "SetEnv A=b"),
        ("SetEnv\tA=b", "SetEnv A=b"),
    ] {
        let e = parse_paste(&[
            "ssh".into(),
            "root@203.0.113.7".into(),
            "-p".into(),
            "40123".into(),
            "-o".into(),
            flag.into(),
        ])
        .unwrap_or_else(|err| panic!("{flag:?}: {err}"));
        let opts: Vec<String> = e.options.iter().map(|(k, v)| format!("{k} {v}")).collect();
        assert_eq!(opts, [line], "{flag:?}");
    }
    // What ssh itself does with the line written for it.
    let Some(ssh) = common::require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    let o = home.run(&[
        "add",
        "ssh root@203.0.113.7 -p 40123 -o 'SetEnv A=b'",
        "--no-vscode",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = home.ssh_dir().join("config");
    let g = common::ssh_g(&home, &ssh, &cfg, "runpod-203-0-113-7-40123").unwrap();
    assert!(g.contains(&("setenv".into(), "A=b".into())), "{g:?}");
}
