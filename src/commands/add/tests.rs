//! `add`'s shortcuts agree with what they replace, on every config
//! fixture and configs made to reach each branch: the endpoint read in one
//! pass ([`endpoint_of`]) with `Document::first_value`, the new entry
//! placed from blocks at hand ([`apply_owned`]) with [`apply`] (which
//! lists them again and asks `position_before_block`), and
//! [`entry_lines`] with `Document::blocks()`.

use std::path::{Path, PathBuf};

use super::entry::{apply_owned, endpoint_of};
use super::{apply, entry_lines};
use crate::config::Document;

/// Every `.conf` and `broken.conf` under `fixtures/`, and configs that
/// reach the branches (comments above the first block that applies, a
/// Match first, no final newline, HostName/Port spelled otherwise or
/// twice, a key word without a value).
fn configs() -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "conf") || p.ends_with("config") {
                out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &mut out,
    );
    let made: &[&str] = &[
        "",
        "Host a\n  Port 1",
        "# top\n\n# attached\nHost *\n  User x\n",
        "Host a\n  HostName 10.0.0.1\n# c1\n# c2\nHost 203.0.113.*\n  Port 2\n",
        "Match all\n  User y\nHost a\n  hostname=A.EXAMPLE\n  HOSTNAME b\n  port 22\n  Port 23\n",
        "Host a\n  HostName\n  HostName 10.0.0.2\n  Port\n  Port x\n",
        "Host a b\n  Port 40022\n  HostName 203.0.113.5\nHost c\n  Hostname 203.0.113.5\n\tPort=40022 # c\n",
        "Host runpod-x\n# c\nMatch host foo\n  Port 3\n# tail\n",
        "Host a\r\n  Port 5\r\n# c\r\nHost *\r\n  User z\r\n",
    ];
    for (i, m) in made.iter().enumerate() {
        out.push((PathBuf::from(format!("made-{i}")), m.as_bytes().to_vec()));
    }
    out
}

#[test]
fn endpoint_in_one_pass_is_first_value() {
    let mut blocks_seen = 0;
    for (path, bytes) in configs() {
        let doc = Document::parse(&bytes);
        for b in doc.blocks() {
            let host = doc
                .first_value(&b, "hostname")
                .unwrap_or_default()
                .to_ascii_lowercase();
            let port = doc
                .first_value(&b, "port")
                .and_then(|p| crate::config::resolve::parse_port(&p))
                .unwrap_or(22);
            assert_eq!(endpoint_of(&doc, &b), (host, port), "{}", path.display());
            blocks_seen += 1;
        }
    }
    assert!(blocks_seen > 300, "only {blocks_seen} blocks");
}

#[test]
fn new_entry_from_blocks_at_hand_is_apply() {
    let mut runs = 0;
    for (path, bytes) in configs() {
        let doc = Document::parse(&bytes);
        let blocks = doc.blocks_at();
        for alias in ["runpod-203-0-113-5-40022", "a", "foo", "203.0.113.9", "c"] {
            let ep = crate::runpod::parse_paste(&["ssh root@203.0.113.5 -p 40022".to_string()])
                .expect("a paste");
            let options = crate::runpod::entry_options(&ep, alias, "~/.ssh/id_ed25519");
            let slow = apply(&doc, None, alias, &options, &ep, &[]);
            let fast = apply_owned(doc.clone(), Some(&blocks), None, alias, &options, &ep, &[]);
            match (slow, fast) {
                (Ok((d1, b1)), Ok((d2, b2))) => {
                    assert_eq!(d1.to_bytes(), d2.to_bytes(), "{} {alias}", path.display());
                    assert_eq!(b1, b2, "{} {alias}", path.display());
                    assert_eq!(
                        entry_lines(&d2, b2, None),
                        d2.blocks()[b2].lines,
                        "{} {alias}",
                        path.display()
                    );
                    runs += 1;
                }
                (Err(e1), Err(e2)) => assert_eq!(e1.to_string(), e2.to_string()),
                (s, f) => panic!(
                    "{}: {alias}: {:?} vs {:?}",
                    path.display(),
                    s.is_ok(),
                    f.is_ok()
                ),
            }
        }
    }
    assert!(runs > 500, "only {runs} runs");
}
