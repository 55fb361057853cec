//! The config file and every file it includes, for commands that look at
//! blocks across files (`list`, `fix`).

use std::path::{Path, PathBuf};

use super::document::Document;
use super::resolve::{MAX_INCLUDE_DEPTH, include_path};

/// A config file with its parsed document.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub doc: Document,
}

/// `root` (already parsed) and every file reachable through `Include`,
/// active or not, in reading order, each once.
pub fn load_tree(root: &Path, doc: &Document, home: &Path) -> Vec<ConfigFile> {
    let mut out = vec![ConfigFile {
        path: root.to_path_buf(),
        doc: doc.clone(),
    }];
    let mut i = 0;
    let mut depth = vec![0usize];
    while i < out.len() {
        if depth[i] < MAX_INCLUDE_DEPTH {
            let includes: Vec<String> = out[i]
                .doc
                .lines()
                .iter()
                .filter(|l| l.keyword() == Some("include"))
                .flat_map(|l| {
                    l.values()
                        .into_iter()
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .collect();
            for arg in includes {
                let mut paths: Vec<PathBuf> = glob::glob(&include_path(&arg, home))
                    .map(|g| g.filter_map(Result::ok).collect())
                    .unwrap_or_default();
                paths.sort();
                for p in paths {
                    if out.iter().any(|f| f.path == p) {
                        continue;
                    }
                    // Non-blocking and capped: a FIFO or /dev/zero here
                    // must not hang or exhaust us.
                    if let Ok(c) = crate::fsio::read_limited(&p) {
                        out.push(ConfigFile {
                            path: p,
                            doc: Document::parse(&c.bytes),
                        });
                        depth.push(depth[i] + 1);
                    }
                }
            }
        }
        i += 1;
    }
    out
}
