//! The rotation journal: each host's step of a `key rotate` run (0600,
//! beside the keys in `~/.ssh`), so a killed run resumes where it stopped.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{KeyError, create_file, read_small};

/// Where a host is in its rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Nothing changed yet.
    Started,
    /// The new key is in the server's authorized_keys.
    Added,
    /// A fresh connection with only the new key ran `true`.
    Verified,
    /// The config names the new key first (the old one second).
    Switched,
    /// The old key's line is gone from the server and it is refused.
    OldRemoved,
}

/// One host's rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostEntry {
    pub alias: String,
    /// The old key's path as the config wrote it, and expanded.
    pub old_raw: String,
    pub old: PathBuf,
    pub new: PathBuf,
    pub remove_old: bool,
    pub step: Step,
}

/// The journal: what each unfinished rotation has done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    pub hosts: Vec<HostEntry>,
}

/// The journal beside the keys.
pub fn journal_path(ssh_dir: &Path) -> PathBuf {
    ssh_dir.join("runpod-ssh-rotate.json")
}

impl Journal {
    /// Read it; a missing file is an empty journal.
    pub fn load(path: &Path) -> Result<Journal, KeyError> {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Journal::default()),
            _ => {}
        }
        // It names the key every pod gets: trusted only as ssh trusts a
        // config (readconf.c: the user's own, not writable by others).
        #[cfg(unix)]
        if let Ok(md) = fs::metadata(path) {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let mode = md.permissions().mode() & 0o777;
            // SAFETY: getuid cannot fail.
            let uid = unsafe { libc::getuid() };
            if (md.uid() != uid && md.uid() != 0) || mode & 0o022 != 0 {
                return Err(KeyError::Format {
                    path: path.to_path_buf(),
                    what: format!(
                        "bad owner or permissions ({mode:04o}, owner uid {}): another user could choose the key your pods get; check it, then `chmod 600` it or move it away",
                        md.uid()
                    ),
                });
            }
        }
        let b = read_small(path)?;
        serde_json::from_slice(&b).map_err(|e| KeyError::Format {
            path: path.to_path_buf(),
            what: format!("not a rotation journal ({e}); move it away to start afresh"),
        })
    }

    /// Write it atomically (a 0600 temp file in the same folder, fsync,
    /// rename); an empty journal removes the file.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let werr = |source: io::Error| KeyError::Write {
            path: path.to_path_buf(),
            source,
        };
        if self.hosts.is_empty() {
            return match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(werr(e)),
                _ => Ok(()),
            };
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".runpod-ssh-rotate.{}.tmp", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let body = serde_json::to_vec_pretty(self).map_err(|e| werr(io::Error::other(e)))?;
        create_file(&tmp, &body, 0o600)?;
        fs::rename(&tmp, path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            werr(e)
        })
    }

    pub fn get(&self, alias: &str) -> Option<&HostEntry> {
        self.hosts.iter().find(|h| h.alias == alias)
    }

    /// Insert or replace the entry for its alias.
    pub fn put(&mut self, e: HostEntry) {
        match self.hosts.iter_mut().find(|h| h.alias == e.alias) {
            Some(h) => *h = e,
            None => self.hosts.push(e),
        }
    }

    pub fn remove(&mut self, alias: &str) {
        self.hosts.retain(|h| h.alias != alias);
    }
}
