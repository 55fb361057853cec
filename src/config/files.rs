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

/// Whether [`include_glob`] is the C library's glob(3), as ssh's own.
pub const GLOB3: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// The files an `Include` pattern names, as ssh finds them: glob(3) with
/// `GLOB_TILDE` (`~` and `~user`), sorted by the C library, no dotfiles for
/// `*`, any bytes in names. `Err` when glob(3) fails (ssh: "include … glob
/// failed"); no match is an empty list.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn include_glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    use std::ffi::{CStr, CString, OsStr};
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(pattern).map_err(|_| format!("{pattern:?} holds a NUL byte"))?;
    // SAFETY: `c` is NUL-terminated; `g` is zeroed for glob(3) to fill and
    // is released with globfree(3) before we return; the paths are copied.
    let mut g: libc::glob_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::glob(c.as_ptr(), libc::GLOB_TILDE, None, &mut g) };
    let mut out = Vec::new();
    if rc == 0 && !g.gl_pathv.is_null() {
        for i in 0..g.gl_pathc {
            let p = unsafe { *g.gl_pathv.add(i) };
            if !p.is_null() {
                let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
                out.push(PathBuf::from(OsStr::from_bytes(bytes)));
            }
        }
    }
    unsafe { libc::globfree(&mut g) };
    match rc {
        0 | libc::GLOB_NOMATCH => Ok(out),
        _ => Err(format!(
            "include {} glob failed",
            crate::platform::shown(pattern)
        )),
    }
}

/// Elsewhere the `glob` crate, sorted: close to glob(3) but not the same
/// (callers that must not guess check [`GLOB3`]).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn include_glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = glob::glob(pattern)
        .map_err(|_| format!("include {} glob failed", crate::platform::shown(pattern)))?
        .filter_map(Result::ok)
        .collect();
    v.sort();
    Ok(v)
}

/// `root` (already parsed) and every file reachable through `Include`,
/// active or not, in reading order, each once.
pub fn load_tree(root: &Path, doc: &Document, home: &Path) -> Vec<ConfigFile> {
    load_tree_owned(root, doc.clone(), home)
}

/// [`load_tree`] taking the root's document rather than copying it (a copy
/// of a large config's lines costs as much as parsing it again): the
/// caller finds it again as the first file.
pub fn load_tree_owned(root: &Path, doc: Document, home: &Path) -> Vec<ConfigFile> {
    let mut out = vec![ConfigFile {
        path: root.to_path_buf(),
        doc,
    }];
    // Paths already read: a scan of `out` per file made a folder of
    // thousands of included snippets quadratic.
    let mut seen: std::collections::HashSet<PathBuf> = [root.to_path_buf()].into();
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
                let paths = include_glob(&include_path(&arg, home)).unwrap_or_default();
                for p in paths {
                    if seen.contains(&p) {
                        continue;
                    }
                    // Non-blocking and capped: a FIFO or /dev/zero here
                    // must not hang or exhaust us.
                    if let Ok(c) = crate::fsio::read_limited(&p) {
                        seen.insert(p.clone());
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

// glob(3) as glibc does it: the only test is Linux-gnu's.
#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    #[test]
    fn include_glob_finds_what_ssh_finds_in_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in ["conf.d/.hidden", "conf.d/a", "d/x", "d-1/y"] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "Host pod\n").unwrap();
        }
        // glob(3): `*` skips dotfiles.
        let got = include_glob(&format!("{}/conf.d/*", d.display())).unwrap();
        assert_eq!(got, vec![d.join("conf.d/a")]);
        // Whole paths sorted as the C library sorts them: `d-1/y` first.
        let got = include_glob(&format!("{}/d*/*", d.display())).unwrap();
        assert_eq!(got, vec![d.join("d-1/y"), d.join("d/x")]);
        // A name that is not UTF-8 is found too.
        use std::os::unix::ffi::OsStrExt;
        let odd = d.join(std::ffi::OsStr::from_bytes(b"conf.d/z\xff"));
        std::fs::write(&odd, "Host pod\n").unwrap();
        let got = include_glob(&format!("{}/conf.d/*", d.display())).unwrap();
        assert_eq!(got, vec![d.join("conf.d/a"), odd]);
        assert!(
            include_glob(&format!("{}/nothing*", d.display()))
                .unwrap()
                .is_empty()
        );
    }
}
