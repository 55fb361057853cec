//! [`entries`] (read from header lines) against the blocks-based form it
//! replaced, on generated configs.

use super::*;
use proptest::prelude::*;

/// `entries` as it was: from `Document::blocks` and `first_value`.
fn entries_by_blocks(files: &[ConfigFile], all: bool) -> Vec<(String, usize, bool, bool)> {
    let mut out: Vec<(String, usize, bool, bool)> = Vec::new();
    for f in files {
        for b in f.doc.blocks() {
            if b.kind != BlockKind::Host {
                continue;
            }
            let first = |kw: &str| f.doc.first_value(&b, kw);
            let runpod = has_marker(&f.doc, &b)
                || b.patterns
                    .iter()
                    .any(|p| p.to_ascii_lowercase().contains("runpod"))
                || first("hostname").is_some_and(|h| h.eq_ignore_ascii_case(PROXY_HOST))
                || (first("hostname").is_some_and(|h| h.parse::<Ipv4Addr>().is_ok())
                    && first("user").as_deref() == Some("root")
                    && first("port")
                        .and_then(|p| resolve::parse_port(&p))
                        .is_some_and(|p| p != 22));
            if !all && !runpod {
                continue;
            }
            let managed = has_marker(&f.doc, &b);
            for alias in &b.patterns {
                if pattern::is_wildcard(alias) || out.iter().any(|e| &e.0 == alias) {
                    continue;
                }
                out.push((alias.clone(), b.header.unwrap_or(0) + 1, runpod, managed));
            }
        }
    }
    out
}

fn config() -> impl Strategy<Value = String> {
    let line = prop::sample::select(vec![
        "Host a RunPod-b\n",
        "Host c !d* e\n",
        "Host \"\" f\n",
        "Host *\n",
        "Host a\n",
        "Match host a\n",
        "# managed by runpod-ssh\n",
        "# other\n",
        "\n",
        "HostName 203.0.113.5\n",
        "HOSTNAME SSH.RUNPOD.IO\n",
        "HostName\n",
        "hostname h.example\n",
        "User root\n",
        "USER Root\n",
        "Port 2222\n",
        "port 22\n",
        "Port x\n",
        "Include x\n",
    ]);
    prop::collection::vec(line, 0..16).prop_map(|l| l.concat())
}

proptest! {
    #[test]
    fn entries_from_header_lines_are_the_blocks_ones(
        text in config(), all in any::<bool>()
    ) {
        let files = [ConfigFile {
            path: "/tmp/x".into(),
            doc: Document::parse(text.as_bytes()),
        }];
        let got: Vec<(String, usize, bool, bool)> = entries(&files, all)
            .into_iter()
            .map(|e| (e.alias, e.source.line, e.runpod, e.managed))
            .collect();
        prop_assert_eq!(got, entries_by_blocks(&files, all));
    }
}
