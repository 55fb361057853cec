//! Property: every paste `add` accepts yields a config `ssh -G` accepts.
//! Pastes come from a grammar of plausible ssh command lines with random
//! options and edge values (ports 0/65535/65536, IPv6 in and out of
//! brackets, long hosts, `${VAR}`, non-ASCII spaces, bad enums). Both the
//! parser alone (the entry it describes, written without the `ssh -G`
//! safety net) and the binary end to end are checked with the real ssh.

mod common;

use common::{TempHome, require_tool, ssh_g, stderr};
use proptest::prelude::*;
use runpod_ssh::config::Document;
use runpod_ssh::runpod::{default_alias, entry_options, parse_paste};

fn port() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0", "1", "22", "8888", "40123", "65535", "65536", "99999", "-1", "22a", "ssh", "",
    ])
    .prop_map(str::to_string)
}

fn host() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "[::1]".to_string(),
        "::1".to_string(),
        "*".to_string(),
        String::new(),
        "a_b".to_string(),
        "/tmp/sock".to_string(),
        "[/tmp/s]".to_string(),
        "a".repeat(200),
        "a".repeat(254),
        "b".repeat(300),
        "${HOST}".to_string(),
    ])
}

fn bind() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        "127.0.0.1:",
        "*:",
        "[::1]:",
        "localhost:",
        ":",
        "/tmp/l:",
    ])
    .prop_map(str::to_string)
}

fn forward() -> impl Strategy<Value = Vec<String>> {
    let lr = (
        prop::sample::select(vec!["-L", "-R"]),
        bind(),
        port(),
        host(),
        port(),
    )
        .prop_map(|(f, b, p, h, hp)| vec![f.to_string(), format!("{b}{p}:{h}:{hp}")]);
    let short = (prop::sample::select(vec!["-D", "-R", "-L"]), bind(), port())
        .prop_map(|(f, b, p)| vec![f.to_string(), format!("{b}{p}")]);
    let odd = prop::sample::select(vec![
        "8888:[::1]:8888",
        "/tmp/a:/tmp/b",
        "8888:/tmp/b",
        "1:2:3:4:5",
        "[::1]8888",
        "8888:localhost:8888:",
    ])
    .prop_flat_map(|s| {
        prop::sample::select(vec!["-L", "-R", "-D"])
            .prop_map(move |f| vec![f.to_string(), s.to_string()])
    });
    prop_oneof![lr, short, odd]
}

fn option() -> impl Strategy<Value = Vec<String>> {
    let keys = prop::sample::select(vec![
        "ServerAliveInterval",
        "ServerAliveCountMax",
        "ConnectTimeout",
        "ConnectionAttempts",
        "Compression",
        "ForwardAgent",
        "IdentitiesOnly",
        "LogLevel",
        "TCPKeepAlive",
        "RequestTTY",
        "SendEnv",
        "SetEnv",
        "AddKeysToAgent",
        "PubkeyAuthentication",
        "PreferredAuthentications",
        "AddressFamily",
        "ExitOnForwardFailure",
        "BatchMode",
        "LocalForward",
        "DynamicForward",
        "RemoteForward",
        "Port",
        "User",
        "IdentityFile",
    ]);
    let values = prop::sample::select(vec![
        "yes",
        "no",
        "maybe",
        "0",
        "30",
        "1m",
        "99999999999",
        "3000000000",
        "-5",
        "${UNSET_X}",
        "a b",
        "=x",
        "A=b",
        "LANG",
        "LC_*",
        "none",
        "inet",
        "inet6",
        "ask",
        "force",
        "publickey,password",
        "bogus",
        "DEBUG3",
        "8888 localhost:8888",
        "8888 localhost:0",
        "0 localhost:22",
        "8888",
        "/tmp/x",
        "~/.ssh/id",
        "%d/id",
        "\u{a0}",
    ]);
    (keys, values).prop_map(|(k, v)| vec!["-o".to_string(), format!("{k}={v}")])
}

fn flag() -> impl Strategy<Value = Vec<String>> {
    prop::sample::select(vec![
        vec!["-A"],
        vec!["-C"],
        vec!["-4"],
        vec!["-6"],
        vec!["-v"],
        vec!["-tt"],
        vec!["-i", "~/.ssh/id_ed25519"],
        vec!["-i", r"C:\Users\me\.ssh\id"],
        vec!["-i", "~/.ssh/my key"],
        vec!["-i", "~/.ssh/my\u{a0}key"],
        vec!["-i", "~/.ssh/${KEY}"],
        vec!["-i", "%d/.ssh/id"],
        vec!["-l", "ubuntu"],
        vec!["-l", "bad user"],
    ])
    .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn paste() -> impl Strategy<Value = Vec<String>> {
    let dest = prop::sample::select(vec![
        "root@203.0.113.7",
        "root@[2001:db8::1]",
        "ssh://root@203.0.113.7:40123",
        "ubuntu@gpu.example",
        "abc123-64410f1d@ssh.runpod.io",
        "203.0.113.9",
    ]);
    let p = prop::option::of(port());
    let opts = prop::collection::vec(prop_oneof![forward(), option(), flag()], 0..4);
    (dest, p, opts).prop_map(|(d, p, opts)| {
        let mut v = vec!["ssh".to_string(), d.to_string()];
        if let Some(p) = p {
            v.push("-p".into());
            v.push(p);
        }
        v.extend(opts.into_iter().flatten());
        v
    })
}

proptest! {
    // Each case runs ssh -G up to three times and the binary once: keep CI fast.
    // PROPTEST_CASES=5000 searches harder locally.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_accepted_paste_yields_a_config_ssh_accepts(words in paste()) {
        let Some(ssh) = require_tool("ssh") else { return Ok(()); };
        let home = TempHome::new();
        let cfg = home.ssh_dir().join("config");
        let original = "Host other\n    Port 2222\n";
        std::fs::write(&cfg, original).unwrap();

        // The parser alone: the entry it describes, written as `add`
        // renders it, without the ssh -G safety net.
        if let Ok(ep) = parse_paste(&words) {
            let alias = default_alias(&ep);
            let identity = ep.identity.clone().unwrap_or_else(|| "~/.ssh/id_ed25519".into());
            let options = entry_options(&ep, &alias, &identity);
            let opts: Vec<(&str, &str)> = options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut doc = Document::parse(original.as_bytes());
            if doc.insert_host_block(0, &[alias.as_str()], &opts, &[]).is_ok() {
                let probe = home.path().join("probe.conf");
                std::fs::write(&probe, doc.to_bytes()).unwrap();
                let r = ssh_g(&home, &ssh, &probe, &alias);
                prop_assert!(r.is_ok(), "parser accepted {words:?} but ssh refuses:\n{}\n{}",
                    r.err().unwrap_or_default(), String::from_utf8_lossy(&doc.to_bytes()));
            }
        }

        // The binary: accepted ⇒ the file ssh reads is accepted; refused
        // ⇒ exit 2 and nothing written.
        let mut args = vec!["add".to_string(), "--no-vscode".to_string()];
        args.extend(words.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = home.run(&args);
        if o.status.success() {
            for host in ["other", "anything"] {
                let r = ssh_g(&home, &ssh, &cfg, host);
                prop_assert!(r.is_ok(), "add accepted {words:?} but ssh refuses:\n{}", r.err().unwrap_or_default());
            }
        } else {
            prop_assert_eq!(o.status.code(), Some(2), "{:?}: {}", words, stderr(&o));
            prop_assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
        }
    }
}
