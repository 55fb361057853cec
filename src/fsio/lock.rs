//! [`Lock`]: the advisory lock that keeps two runpod-ssh processes from
//! interleaving their read-modify-write of the same files, re-entrant
//! within one process.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{FsError, create_private_dir, dry_run, real_path, special_kind};

/// An exclusive advisory lock held for a command's read-modify-write.
#[derive(Debug)]
pub struct Lock {
    /// The locked file; `None` for a shared hold of a process-wide lock.
    _file: Option<File>,
    /// The process-wide lock this hold counts in.
    shared: Option<PathBuf>,
}

/// Locks held by this process, by path, with their hold counts: a command
/// holding one may call code that takes it again.
static HELD: std::sync::Mutex<Vec<(PathBuf, File, usize)>> = std::sync::Mutex::new(Vec::new());

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some(p) = &self.shared {
            let mut g = HELD.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = g.iter().position(|(q, _, _)| q == p) {
                g[i].2 -= 1;
                if g[i].2 == 0 {
                    // Dropping the file releases the OS lock.
                    g.remove(i);
                }
            }
        }
    }
}

/// The name of the lock file runpod-ssh keeps beside the files it edits.
pub const LOCK_NAME: &str = ".runpod-ssh.lock";

impl Lock {
    /// Take the lock at `path`, waiting up to `wait` for another
    /// runpod-ssh to finish. The lock file must be a regular file: it is
    /// opened without following a symlink and without blocking.
    pub fn acquire(path: &Path, wait: Duration) -> Result<Lock, FsError> {
        let werr = |source: io::Error| FsError::Write {
            path: path.to_path_buf(),
            source,
        };
        if dry_run() {
            return Ok(Lock::existing(path, wait));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|source| FsError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut opts = fs::OpenOptions::new();
        opts.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
        }
        let file = opts.open(path).map_err(werr)?;
        if let Some(kind) = file.metadata().ok().as_ref().and_then(special_kind) {
            return Err(FsError::NotRegular {
                path: path.to_path_buf(),
                kind,
            });
        }
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(Lock {
                        _file: Some(file),
                        shared: None,
                    });
                }
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(FsError::Locked(path.to_path_buf()));
                }
                Err(fs::TryLockError::Error(source)) => return Err(werr(source)),
            }
        }
    }

    /// A dry run's lock: the lock file when it already exists and can be
    /// opened without creating or changing anything (so a dry run still
    /// waits for a writer in progress), else no lock at all.
    fn existing(path: &Path, wait: Duration) -> Lock {
        let none = Lock {
            _file: None,
            shared: None,
        };
        let mut opts = fs::OpenOptions::new();
        opts.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
        }
        let Ok(file) = opts.open(path) else {
            return none;
        };
        if file
            .metadata()
            .ok()
            .as_ref()
            .and_then(special_kind)
            .is_some()
        {
            return none;
        }
        let start = Instant::now();
        loop {
            match file.try_lock_shared() {
                Ok(()) => {
                    return Lock {
                        _file: Some(file),
                        shared: None,
                    };
                }
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => return none,
            }
        }
    }

    /// Take the process-wide lock at `path` (re-entrant in this process).
    fn shared(path: PathBuf) -> Result<Lock, FsError> {
        if dry_run() {
            // Shared holds of an existing file nest without bookkeeping.
            return Ok(Lock::existing(&path, Duration::from_secs(10)));
        }
        let mut g = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = g.iter_mut().find(|(q, _, _)| *q == path) {
            h.2 += 1;
        } else {
            let mut held = Lock::acquire(&path, Duration::from_secs(10))?;
            let file = held._file.take().ok_or(FsError::Locked(path.clone()))?;
            g.push((path.clone(), file, 1));
        }
        Ok(Lock {
            _file: None,
            shared: Some(path),
        })
    }

    /// The lock for editing `target` (symlinks already followed): a
    /// `.runpod-ssh.lock` in the folder that holds it, so every runpod-ssh
    /// editing the same file, whatever its home, meets the same lock.
    /// Re-entrant within a process. `target`'s folder must exist.
    pub fn beside(target: &Path) -> Result<Lock, FsError> {
        let dir = target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Lock::shared(dir.join(LOCK_NAME))
    }

    /// The lock for editing `path` (a symlink followed to its file): see
    /// [`Lock::beside`]. Creates the folder (0700) when it is missing, as
    /// writing the file would.
    pub fn for_file(path: &Path) -> Result<Lock, FsError> {
        Lock::beside(&real_path(path)?)
    }

    /// The lock of the account's `~/.ssh` (from the password database, as
    /// ssh finds it): the same lock [`Lock::for_file`] takes for a file
    /// there. Prefer `for_file` with the file being edited. Re-entrant
    /// within a process.
    pub fn global() -> Result<Lock, FsError> {
        let dir = crate::platform::home_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join(".ssh");
        Lock::shared(dir.join(LOCK_NAME))
    }
}
