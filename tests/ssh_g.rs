//! Differential tests: `runpod-ssh show` against the real `ssh -G -F FILE
//! HOST` on every fixture in `fixtures/ssh-g/`.
//!
//! A fixture is `NAME.conf` (the exact bytes), optionally `NAME.hosts` (the
//! hosts to ask about, one per line; default `web`) and `NAME.ssh/` (files
//! copied into the temp `~/.ssh`, for Include). For each host:
//! - ssh refuses the config ⇔ we report errors;
//! - otherwise every keyword we print has exactly ssh's values, and every
//!   keyword the fixture mentions that we do not print is at ssh's default
//!   (so a value we failed to apply is caught too).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{TempHome, fixtures, require_tool, ssh_g, stdout};
use runpod_ssh::config::keywords::{self, Kind};
use runpod_ssh::config::{Document, lexer::LineKind};

fn group(lines: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in lines {
        m.entry(k.clone()).or_default().push(v.clone());
    }
    m
}

/// Canonical names of the keywords a fixture mentions, that we model.
fn mentioned(bytes: &[u8]) -> Vec<&'static str> {
    let doc = Document::parse(bytes);
    let mut out = Vec::new();
    for l in doc.lines() {
        if let LineKind::Directive(d) = l.kind()
            && let Some(k) = keywords::lookup(&d.keyword_lc)
        {
            let modelled = !matches!(
                k.kind,
                Kind::Other
                    | Kind::Ignored
                    | Kind::Host
                    | Kind::Match
                    | Kind::Include
                    | Kind::IgnoreUnknown
            );
            if modelled && !out.contains(&k.name) {
                out.push(k.name);
            }
        }
    }
    out
}

/// The first `line N` in ssh's error output.
fn first_line_number(stderr: &str) -> Option<u64> {
    let i = stderr.find(" line ")?;
    let digits: String = stderr[i + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn fixture_list() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join("ssh-g"))
        .expect("fixtures/ssh-g")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    v.sort();
    v
}

fn setup_home(conf: &Path) -> TempHome {
    let home = TempHome::new();
    let extra = conf.with_extension("ssh");
    if extra.is_dir() {
        common::copy_tree(&extra, &home.ssh_dir());
        // A group-writable Include (ssh refuses it); modes are Unix-only.
        #[cfg(unix)]
        if let Some(perm) = Some(home.ssh_dir().join("perm.inc")).filter(|p| p.exists()) {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&perm, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        }
    }
    home
}

fn check_fixture(ssh: &Path, conf: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let name = conf
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let bytes = std::fs::read(conf).expect("read fixture");
    let hosts: Vec<String> = std::fs::read_to_string(conf.with_extension("hosts"))
        .map(|s| {
            s.lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_else(|_| vec!["web".to_string()]);
    let home = setup_home(conf);
    let file = home.path().join("config");
    std::fs::copy(conf, &file).expect("copy fixture");
    let empty = home.path().join("empty");
    std::fs::write(&empty, b"").expect("write empty");
    let file_s = file.to_string_lossy().into_owned();

    for host in &hosts {
        let theirs = ssh_g(&home, ssh, &file, host);
        let out = home.run(&["show", host, "--config", &file_s, "--json"]);
        let json: serde_json::Value = match serde_json::from_slice(&out.stdout) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name} [{host}]: bad JSON ({e}): {}", stdout(&out)));
                continue;
            }
        };
        let ours_ok = json["ok"].as_bool().unwrap_or(false);
        match theirs {
            Err(err) => {
                // Where ssh points, we point too.
                // Where ssh points, we point too, with ssh's words.
                if let Some(line) = first_line_number(&err) {
                    let ours: Vec<(u64, String)> = json["errors"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|e| {
                            Some((
                                e["source"]["line"].as_u64()?,
                                e["message"].as_str()?.to_string(),
                            ))
                        })
                        .collect();
                    // Encoding problems get our plainer explanation instead of
                    // ssh's octal escapes.
                    let same = ours.iter().any(|(l, m)| {
                        *l == line
                            && (err.contains(m.as_str())
                                || m.contains("UTF-16")
                                || m.contains("byte-order mark"))
                    });
                    if !same {
                        failures.push(format!(
                            "{name} [{host}]: ssh says {:?}, we say {ours:?}",
                            err.trim()
                        ));
                    }
                }
                if ours_ok {
                    failures.push(format!(
                        "{name} [{host}]: ssh refuses ({}) but we accept",
                        err.trim()
                    ));
                }
                if out.status.code() != Some(1) {
                    failures.push(format!(
                        "{name} [{host}]: exit {:?}, want 1 for a refused config",
                        out.status.code()
                    ));
                }
            }
            Ok(lines) => {
                if !ours_ok {
                    failures.push(format!(
                        "{name} [{host}]: ssh accepts but we report {}",
                        json["errors"]
                    ));
                    continue;
                }
                let theirs = group(&lines);
                let mut ours: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for o in json["options"].as_array().into_iter().flatten() {
                    ours.entry(o["keyword"].as_str().unwrap_or_default().to_string())
                        .or_default()
                        .push(o["value"].as_str().unwrap_or_default().to_string());
                }
                for (k, v) in &ours {
                    let t = theirs.get(k).cloned().unwrap_or_default();
                    if &t != v {
                        failures.push(format!("{name} [{host}]: {k}: ours {v:?}, ssh {t:?}"));
                    }
                }
                let defaults = group(&ssh_g(&home, ssh, &empty, host).unwrap_or_default());
                for k in mentioned(&bytes) {
                    if ours.contains_key(k) {
                        continue;
                    }
                    if theirs.get(k) != defaults.get(k) {
                        failures.push(format!(
                            "{name} [{host}]: {k} not applied by us, ssh has {:?} (default {:?})",
                            theirs.get(k),
                            defaults.get(k)
                        ));
                    }
                }
            }
        }
    }
    failures
}

#[test]
fn show_agrees_with_ssh_g_on_every_fixture() {
    let Some(ssh) = require_tool("ssh") else {
        return;
    };
    let list = fixture_list();
    assert!(
        list.len() >= 60,
        "want at least 60 fixtures, have {}",
        list.len()
    );
    let mut failures = Vec::new();
    for conf in &list {
        failures.extend(check_fixture(&ssh, conf));
    }
    assert!(
        failures.is_empty(),
        "{} disagreements with ssh -G:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
