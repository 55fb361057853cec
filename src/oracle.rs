//! OpenSSH as the oracle: `ssh -G -F FILE HOST`, run only when it is safe.
//!
//! `ssh -G` evaluates `Match exec`, which runs a command named by the
//! config. runpod-ssh never runs anything a config names, so before asking
//! ssh we look through the file and everything it includes; when any of
//! it holds a `Match … exec`, the cross-check is skipped (and the caller
//! says so) and our own evaluator is the only judge. `-F` keeps the system
//! `ssh_config` out, and a deadline keeps a stuck `ssh` from stalling us.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::Document;
use crate::config::files::load_tree;

/// How long one `ssh -G` may take before it is killed.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// `ssh -G` output: keyword → values, in the order printed.
pub type Printed = BTreeMap<String, Vec<String>>;

/// Why the `ssh -G` cross-check was not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// No `ssh` on `PATH`.
    NoSsh,
    /// The config (or a file it includes) has a `Match exec` line, which
    /// `ssh -G` would run.
    RunsCommands { file: PathBuf, line: usize },
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NoSsh => write!(f, "`ssh` is not installed, so `ssh -G` was not asked"),
            Skip::RunsCommands { file, line } => write!(
                f,
                "{}:{line} has `Match exec`, which `ssh -G` would run: the `ssh -G` cross-check was skipped (runpod-ssh never runs commands from a config)",
                file.display()
            ),
        }
    }
}

/// A way to ask `ssh -G` about one config tree, proven free of `Match exec`.
#[derive(Debug, Clone)]
pub struct Oracle {
    ssh: PathBuf,
}

impl Oracle {
    /// The oracle for `root` (whose content is `doc`) and every file it
    /// includes; `home` is where `~` in `Include` points.
    pub fn for_config(root: &Path, doc: &Document, home: &Path) -> Result<Oracle, Skip> {
        if let Some((file, line)) = runs_commands(root, doc, home) {
            return Err(Skip::RunsCommands { file, line });
        }
        let ssh = find_ssh().ok_or(Skip::NoSsh)?;
        Ok(Oracle { ssh })
    }

    /// Like [`Oracle::for_config`], and also for a second version of the
    /// same file (an edit about to be written, or the one before it).
    pub fn for_versions(root: &Path, docs: &[&Document], home: &Path) -> Result<Oracle, Skip> {
        for doc in docs {
            if let Some((file, line)) = runs_commands(root, doc, home) {
                return Err(Skip::RunsCommands { file, line });
            }
        }
        let ssh = find_ssh().ok_or(Skip::NoSsh)?;
        Ok(Oracle { ssh })
    }

    /// `ssh -G -F file host`: the printed settings, or ssh's own error
    /// text when it refuses the config. `file` must be the root this
    /// oracle was made for (or a copy of one of its proven versions).
    pub fn ssh_g(&self, file: &Path, host: &str) -> Result<Printed, String> {
        run_ssh_g(&self.ssh, file, host)
    }
}

/// The first `Match` line (file, 1-based line) in `root` or anything it
/// includes that would make `ssh -G` run a command. Deliberately broad:
/// any `Match` line mentioning `exec` in any case counts, so a spelling
/// we did not foresee errs on the side of not running ssh.
pub fn runs_commands(root: &Path, doc: &Document, home: &Path) -> Option<(PathBuf, usize)> {
    for f in load_tree(root, doc, home) {
        for (i, l) in f.doc.lines().iter().enumerate() {
            if l.keyword() == Some("match")
                && String::from_utf8_lossy(l.bytes())
                    .to_ascii_lowercase()
                    .contains("exec")
            {
                return Some((f.path.clone(), i + 1));
            }
        }
    }
    None
}

/// `ssh` on `PATH`.
pub fn find_ssh() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    let names: &[&str] = if cfg!(windows) {
        &["ssh.exe", "ssh"]
    } else {
        &["ssh"]
    };
    std::env::split_paths(&paths)
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

fn run_ssh_g(ssh: &Path, file: &Path, host: &str) -> Result<Printed, String> {
    let mut child = Command::new(ssh)
        .arg("-G")
        .arg("-F")
        .arg(file)
        .arg("--")
        .arg(host)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", ssh.display()))?;
    // Read both pipes on threads so a chatty ssh cannot block on a full
    // pipe while we wait for it.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.take(16 << 20).read_to_end(&mut b);
        }
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.take(1 << 20).read_to_end(&mut b);
        }
        b
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() < DEADLINE => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`ssh -G` did not finish within {}s",
                    DEADLINE.as_secs()
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    if !status.success() {
        return Err(String::from_utf8_lossy(&stderr).into_owned());
    }
    let mut m = Printed::new();
    for l in String::from_utf8_lossy(&stdout).lines() {
        if let Some((k, v)) = l.split_once(' ') {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_exec_anywhere_in_the_tree_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        std::fs::write(&inc, "Host a\n  Port 2\nmatch !EXEC \"true\"\n  Port 3\n").unwrap();
        let root = dir.path().join("config");
        let text = format!("Include {}\nHost b\n  Port 1\n", inc.display());
        let doc = Document::parse(text.as_bytes());
        assert_eq!(
            runs_commands(&root, &doc, dir.path()),
            Some((inc.clone(), 3))
        );
        let clean = Document::parse(b"Match host x\n  Port 1\nHost exec\n  Port 2\n");
        assert_eq!(runs_commands(&root, &clean, dir.path()), None);
        assert!(matches!(
            Oracle::for_config(&root, &doc, dir.path()),
            Err(Skip::RunsCommands { .. })
        ));
    }
}
