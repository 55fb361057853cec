//! [`write_new`]: a file that must not exist yet (a key copied to the
//! Windows side, a file of F20's ASCII folder) is created, never
//! replaced. Identical bytes already there are accepted only when they
//! are a regular file of the user's: another user who put them there
//! first would keep the right to change them.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{FsError, Lock, clean_stale_temps, remember_written, special_kind, sync_dir};

/// Why [`write_new`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum NewFileError {
    #[error("{0} is a link; nothing was written through it")]
    Link(PathBuf),
    #[error("{path} is {kind}, not a regular file; nothing was written")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{0} already exists with other content (never overwritten)")]
    OtherContent(PathBuf),
    #[error(
        "{0} already exists with the same content but is not a file of yours (another user may have put it there): it is not used"
    )]
    NotYours(PathBuf),
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// Write `bytes` to `path` where nothing is, under the lock of its
/// folder: a temp file there, 0600 from its first byte (owner-only on
/// Windows) and `mode` before any content lands, synced, then moved to
/// `path` only if that name is still free. A file already there with
/// exactly `bytes` is accepted when it is a regular file the user owns;
/// anything else there is refused and left as it is, and a link is
/// never followed. `Ok(true)`: created; `Ok(false)`: already there.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<bool, NewFileError> {
    let _lock = Lock::beside(path)?;
    if judge_existing(path, bytes)? {
        return Ok(false);
    }
    let werr = |source: io::Error| FsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    clean_stale_temps(dir, &name);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.runpod-ssh-"))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(werr)?;
    set_new_mode(tmp.as_file(), mode).map_err(werr)?;
    #[cfg(windows)]
    super::replace::owner_only_like(tmp.path(), path, true).map_err(werr)?;
    tmp.write_all(bytes).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    move_into_place(tmp, path, bytes)?;
    sync_dir(dir);
    // As after `fsio::write`: read again in this run, it needs no pause.
    remember_written(path);
    Ok(true)
}

/// The temp file (0600 from creation) takes `mode`, before any content.
#[cfg(unix)]
fn set_new_mode(f: &fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_new_mode(_f: &fs::File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// The finished temp file takes the free name without replacing what
/// may have appeared there since it was judged (`renameat2(NOREPLACE)`
/// or a hard link; `MoveFileExW` without replace on Windows). Where the
/// file system offers neither (some network and drvfs mounts), the name
/// is judged again and the file renamed: as narrow a gap as `fsio::write`
/// leaves, and closed to other runpod-ssh runs by the lock.
fn move_into_place(
    tmp: tempfile::NamedTempFile,
    path: &Path,
    bytes: &[u8],
) -> Result<(), NewFileError> {
    let werr = |source: io::Error| FsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = match tmp.persist_noclobber(path) {
        Ok(_) => return Ok(()),
        Err(e) => {
            if fs::symlink_metadata(path).is_ok() {
                // Something took the name meanwhile: judged as found (the
                // temp file is removed when `e` drops).
                return judge_existing(path, bytes).and_then(|same| {
                    if same {
                        Ok(())
                    } else {
                        Err(werr(e.error).into())
                    }
                });
            }
            e.file
        }
    };
    if judge_existing(path, bytes)? {
        return Ok(());
    }
    tmp.persist(path)
        .map(drop)
        .map_err(|e| werr(e.error).into())
}

/// What is at `path` already: `Ok(false)` nothing, `Ok(true)` exactly
/// `bytes` in a regular file of the user's; anything else refused. One
/// open file (`O_NOFOLLOW`, `fstat`, read) answers all three, so a swap
/// between the checks cannot mix two files.
#[cfg(unix)]
fn judge_existing(path: &Path, bytes: &[u8]) -> Result<bool, NewFileError> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let rerr = |source: io::Error| FsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let f = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A dangling link is not "nothing": it would be written through.
            return match fs::symlink_metadata(path) {
                Ok(_) => Err(NewFileError::Link(path.to_path_buf())),
                Err(_) => Ok(false),
            };
        }
        // ELOOP: the last component is a symlink.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(NewFileError::Link(path.to_path_buf()));
        }
        Err(e) => return Err(rerr(e).into()),
    };
    let md = f.metadata().map_err(rerr)?;
    if let Some(kind) = special_kind(&md) {
        return Err(NewFileError::NotRegular {
            path: path.to_path_buf(),
            kind,
        });
    }
    // One byte more than ours tells a longer file apart.
    let mut found = Vec::new();
    (&f).take(bytes.len() as u64 + 1)
        .read_to_end(&mut found)
        .map_err(rerr)?;
    if found != bytes {
        return Err(NewFileError::OtherContent(path.to_path_buf()));
    }
    // SAFETY: geteuid cannot fail.
    if md.uid() != unsafe { libc::geteuid() } {
        return Err(NewFileError::NotYours(path.to_path_buf()));
    }
    Ok(true)
}

/// Windows: the same judgement from the path (no `O_NOFOLLOW` there).
#[cfg(not(unix))]
fn judge_existing(path: &Path, bytes: &[u8]) -> Result<bool, NewFileError> {
    let rerr = |source: io::Error| FsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let md = match fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(rerr(e).into()),
    };
    if md.file_type().is_symlink() {
        return Err(NewFileError::Link(path.to_path_buf()));
    }
    if let Some(kind) = special_kind(&md) {
        return Err(NewFileError::NotRegular {
            path: path.to_path_buf(),
            kind,
        });
    }
    if super::read_limited(path).map_err(rerr)?.bytes != bytes {
        return Err(NewFileError::OtherContent(path.to_path_buf()));
    }
    if !owned_by_me(path, &md).map_err(rerr)? {
        return Err(NewFileError::NotYours(path.to_path_buf()));
    }
    Ok(true)
}

/// Whether the user owns `path` (as found by `symlink_metadata`). On
/// Windows a file may also be owned by Administrators: what an elevated
/// prompt creates, and an owner no other user can give a file; a folder
/// must be the user's own.
pub fn owned_by_me(path: &Path, md: &fs::Metadata) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = path;
        // SAFETY: geteuid cannot fail.
        Ok(md.uid() == unsafe { libc::geteuid() })
    }
    #[cfg(windows)]
    {
        let me = crate::winacl::current_user_sid()?;
        let d = crate::winacl::read(path)?;
        Ok(if md.is_dir() {
            d.owner == me
        } else {
            crate::winacl::may_repair(&d, &me)
        })
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (path, md);
        Ok(true)
    }
}
