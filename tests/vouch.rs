//! The lines `list` vouches for without asking `ssh -G`
//! (`refusal::vouch`): for every keyword in [`refusal::VOUCHED`] and
//! every value of a menu of valid, edge and broken values, in every place a
//! line can stand, the own check refuses the file exactly when the real
//! `ssh -G` does. A keyword that failed here would have no place in the
//! list.

mod common;

use common::{TempHome, require_tool};
use runpod_ssh::config::Document;
use runpod_ssh::config::keywords::{self, Kind};
use runpod_ssh::refusal;

/// Values every keyword is tried with (valid, edge and broken ones).
const ANY: &[&str] = &[
    "",
    "\"\"",
    "\"unterminated",
    "x extra",
    "x # a comment",
    "x#glued",
    "\"a b\"",
    "a\"b\"c",
    "'single'",
    "back\\slash",
    "~",
    "~/x",
    "none",
    "yes",
    "0",
    "-1",
    "65536",
    "bogus",
    "h\u{e9}",
    "YES",
    "True",
    "2147483648",
    "4294967295",
    "+5",
    "a\\:b:80",
];

/// Whole files a hostile reviewer built against the rule (limits that span
/// lines, lengths, escapes): each is either left to ssh or judged as ssh
/// judges it.
fn hostile_files() -> Vec<String> {
    let ids = |n: usize| -> String {
        (0..n)
            .map(|i| format!("IdentityFile ~/.ssh/k{i}\n"))
            .collect()
    };
    vec![
        ids(101),
        format!("{}IdentityFile ~/.ssh/k0\n", ids(100)),
        format!("{}Match final\n", ids(100)),
        format!("Match final\n{}", ids(60)),
        ids(40),
        format!("Host *\n{}", ids(101)),
        (0..150).map(|i| format!("Host h{i}\n{}", ids(1))).collect(),
        format!("UserKnownHostsFile{}\n", " f".repeat(33)),
        format!("UserKnownHostsFile{}\n", " f".repeat(16)),
        format!("LocalForward 8080 {}:80\n", "h".repeat(260)),
        format!("DynamicForward {}:1080\n", "h".repeat(300)),
        format!("LocalForward 8080 [{}]:80\n", "h".repeat(1030)),
        format!("LocalForward /tmp/{} h:80\n", "s".repeat(110)),
        format!("ControlPath ~/{}\n", "a".repeat(4100)),
        "LocalForward 8080 h\\:80\n".into(),
        "LocalForward /tmp/a:b h:80\n".into(),
        "ControlPath ~\"nosuchuser\"/s\n".into(),
        "ControlPath ~\rnosuch/x\n".into(),
        "PubkeyAuthentication unbound\n".into(),
        "AddKeysToAgent yes 5m\n".into(),
        "ConnectTimeout none\nConnectTimeout 5\n".into(),
    ]
}

/// Values for the keyword's kind, besides [`ANY`].
fn menu(kind: Kind) -> Vec<String> {
    let mut v: Vec<String> = ANY.iter().map(|s| s.to_string()).collect();
    let more: &[&str] = match kind {
        Kind::Int | Kind::Time | Kind::Port | Kind::ConnectTimeout | Kind::ControlPersist => &[
            "1",
            "22",
            "65535",
            "99999999999",
            "2147483647",
            "1m",
            "1h30m",
            "10x",
            "NONE",
            "30 # c",
        ],
        Kind::Forward | Kind::DynamicForward => &[
            "8080 localhost:80",
            "8080:localhost:80",
            "localhost:8080 [::1]:80",
            "[::1]:8080 h:80",
            "0 localhost:80",
            "65536 localhost:80",
            "8080 localhost:0",
            "8080 localhost",
            "/tmp/sock h:80",
            "8080 /tmp/sock",
            "8080 h:80 extra",
            "localhost:1080",
            "[::1]:1080",
            "*:1080",
            "1080",
            "8080 a:b:80",
            "a:b:8080 h:80",
            "::1:1080",
            "8080 [a:b]:80",
            "/tmp/s a:b:80",
            "8080 /x:y",
        ],
        Kind::Enum(_) | Kind::Flag | Kind::AddKeysToAgent | Kind::ForwardAgent => &[
            "no",
            "true",
            "FALSE",
            "confirm",
            "confirm 10",
            "ask",
            "accept-new",
            "off",
            "1h",
        ],
        Kind::LogLevel => &["INFO", "DEBUG3", "quiet", "verbose"],
        Kind::Match => &[
            "host web",
            "host web user root",
            "!host web",
            "Host WEB,!x",
            "all",
            "all host x",
            "host x all",
            "host",
            "user",
            "canonical host x",
            "final",
            "final all",
            "originalhost a,b",
            "localuser root",
            "host web extra",
            "host web user",
            "!all",
            "host \"a b\"",
            "host=web",
            "exec true",
            "tagged x",
        ],
        _ => &[
            "10.0.0.1",
            "203.0.113.7",
            "a,b",
            "publickey,password",
            "\"~/.ssh/id key 1\"",
            "C:\\Users\\me\\.ssh\\id",
            "a=b",
            "a b c",
            "-x",
        ],
    };
    v.extend(more.iter().map(|s| s.to_string()));
    if let Kind::Enum(words) = kind {
        for (w, _) in words {
            v.push(w.to_string());
            v.push(w.to_ascii_uppercase());
            v.push(format!("{w} extra"));
        }
    }
    v
}

/// Where a line stands: at the top (it applies), and with `=` and CRLF line
/// endings in a block for another host (it does not).
fn placements(keyword: &str, value: &str) -> [String; 2] {
    let line = if value.is_empty() {
        keyword.to_string()
    } else {
        format!("{keyword} {value}")
    };
    [
        format!("{line}\n"),
        format!("Host other\r\n  {keyword}={value}\r\nHost web\r\n  User u\r\n"),
    ]
}

#[test]
fn vouched_files_are_refused_by_us_exactly_when_ssh_refuses_them() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let home = TempHome::new();
    // The proof is about this ssh: it must be one the rule covers.
    let v = home.cmd(&ssh).arg("-V").output().expect("ssh -V");
    let version = String::from_utf8_lossy(&v.stderr).into_owned();
    assert!(refusal::version_covered(&version), "{version}");
    let dir = home.path().join("cases");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (mut cases, mut not_vouched) = (Vec::new(), 0);
    for kw in refusal::VOUCHED {
        let kind = keywords::lookup(kw)
            .expect("a vouched keyword is known")
            .kind;
        for value in menu(kind) {
            for text in placements(kw, &value) {
                if refusal::lines_vouched(&Document::parse(text.as_bytes())) {
                    cases.push((format!("{kw} {value:?}"), text.into_bytes()));
                } else {
                    not_vouched += 1;
                }
            }
        }
    }
    for (i, text) in hostile_files().into_iter().enumerate() {
        if refusal::lines_vouched(&Document::parse(text.as_bytes())) {
            cases.push((format!("hostile file {i}"), text.into_bytes()));
        } else {
            not_vouched += 1;
        }
    }
    assert!(
        not_vouched > 20,
        "the menu also has lines the rule leaves to ssh"
    );
    for (i, (_, bytes)) in cases.iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.conf")), bytes).expect("write case");
    }
    // One isolated shell runs every `ssh -G` (one namespace, not one each),
    // two at a time.
    let script = format!(
        "cd '{}' && ls | grep 'conf$' | xargs -n 64 -P 2 sh -c 'for f; do i=${{f%.conf}}; if \"$0\" -G -F $f web >/dev/null 2>$i.err; then echo $i ok; else echo $i refused; fi; done' '{}'",
        dir.display(),
        ssh.display()
    );
    let out = home
        .cmd("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run sh");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut verdict = vec![None; cases.len()];
    for l in text.lines() {
        let (i, v) = l.split_once(' ').expect("i verdict");
        verdict[i.parse::<usize>().expect("index")] = Some(v == "refused");
    }
    let ctx = common::test_ctx(home.path());
    let (mut wrong, mut refused) = (Vec::new(), 0);
    for (i, (name, bytes)) in cases.iter().enumerate() {
        let path = dir.join(format!("{i}.conf"));
        let theirs = verdict[i].unwrap_or_else(|| panic!("no verdict for case {i}: {text}"));
        let ours = !refusal::check(
            refusal::Client::OpenSsh,
            &path,
            &Document::parse(bytes),
            &ctx,
        )
        .is_empty();
        refused += usize::from(theirs);
        if ours != theirs {
            let err = std::fs::read_to_string(dir.join(format!("{i}.err"))).unwrap_or_default();
            wrong.push(format!(
                "{name}: ours refuses={ours}, ssh refuses={theirs} ({}) in {:?}",
                err.trim(),
                String::from_utf8_lossy(bytes)
            ));
        }
    }
    // The menu really has both kinds of vouched lines.
    assert!(
        refused > 100 && refused + 100 < cases.len(),
        "{refused} of {}",
        cases.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}
