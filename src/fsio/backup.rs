//! Backups: every [`super::write`] saves the old version in a folder beside
//! the file (`NAME.STAMP.COMMAND`, one stamp per command run, the last
//! [`KEEP_BACKUPS`] kept), and `restore` lists and reads them back —
//! only backups that are regular files the user owns.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{
    BACKUP_DIR, FsError, KEEP_BACKUPS, MAX_READ, ReadRefusal, apply_meta, create_private_dir,
    real_path, refused, run_settings, timestamp,
};

/// Save `old` as a backup of `target`, pruning to the last
/// [`KEEP_BACKUPS`]. The name is `NAME.STAMP.COMMAND`: one stamp for every
/// file a command run backs up (see [`begin_run`]), and the command that
/// wrote it.
pub(super) fn backup(
    target: &Path,
    old: &[u8],
    meta: Option<&fs::Metadata>,
) -> io::Result<PathBuf> {
    let dir = backup_dir(target);
    if fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir()) {
        // A planted link would send the user's old config elsewhere.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the backup folder {} is not a folder (a symbolic link?); remove it",
                dir.display()
            ),
        ));
    }
    create_private_dir(&dir)?;
    let name = file_name(target);
    let run = run_settings();
    let stamp = run
        .as_ref()
        .map_or_else(|| timestamp(SystemTime::now()), |r| r.stamp.clone());
    let suffix = run
        .as_ref()
        .map(|r| format!(".{}", r.command))
        .unwrap_or_default();
    let mut path = dir.join(format!("{name}.{stamp}{suffix}"));
    let mut n = 1;
    while fs::symlink_metadata(&path).is_ok() {
        // The same file twice in one run: keep both, in order.
        path = dir.join(format!("{name}.{stamp}-{n}{suffix}"));
        n += 1;
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".backup-")
        .tempfile_in(&dir)?;
    apply_meta(tmp.as_file(), meta, 0o600)?;
    tmp.write_all(old)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(&path).map_err(|e| e.error)?;
    let list = backups(target);
    if list.len() > KEEP_BACKUPS {
        for b in &list[..list.len() - KEEP_BACKUPS] {
            let _ = fs::remove_file(&b.path);
        }
    }
    Ok(path)
}

/// Split a backup's name after `NAME.` into stamp and command: the stamp
/// is `YYYYMMDD-HHMMSS.nnnnnnnnn` with an optional `-N`, the command
/// lowercase letters (absent in backups from before commands were named).
pub(super) fn parse_backup_name(rest: &str) -> Option<(String, Option<String>)> {
    let b = rest.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if !(digits(0..8)
        && b.get(8) == Some(&b'-')
        && digits(9..15)
        && b.get(15) == Some(&b'.')
        && digits(16..25))
    {
        return None;
    }
    let mut end = 25;
    if b.get(25) == Some(&b'-') {
        let n = b[26..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        end = 26 + n;
    }
    let stamp = rest[..end].to_string();
    match &rest[end..] {
        "" => Some((stamp, None)),
        tail => {
            let cmd = tail.strip_prefix('.')?;
            (!cmd.is_empty() && cmd.bytes().all(|c| c.is_ascii_lowercase()))
                .then(|| (stamp, Some(cmd.to_string())))
        }
    }
}

/// A backup runpod-ssh could have written: a regular file (not a
/// symlink) owned by the user running us.
fn trusted_backup(path: &Path) -> bool {
    let Ok(md) = fs::symlink_metadata(path) else {
        return false;
    };
    if !md.file_type().is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid cannot fail.
        if md.uid() != unsafe { libc::geteuid() } {
            return false;
        }
        // runpod-ssh writes each backup as a new file: a second link is
        // a file planted there (`ln /tmp/evil …`), not one of ours.
        if md.nlink() != 1 {
            return false;
        }
    }
    true
}

/// The content of a backup, opened without following a symlink and
/// checked again on the open file (a swap after listing cannot redirect
/// the read).
pub fn read_backup(b: &Backup) -> Result<Vec<u8>, FsError> {
    use std::io::Read;
    let rerr = |source: io::Error| FsError::Read {
        path: b.path.clone(),
        source,
    };
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let f = opts.open(&b.path).map_err(rerr)?;
    let md = f.metadata().map_err(rerr)?;
    let owned = {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // SAFETY: geteuid cannot fail.
            md.uid() == unsafe { libc::geteuid() } && md.nlink() == 1
        }
        #[cfg(not(unix))]
        {
            true
        }
    };
    if !md.file_type().is_file() || !owned {
        return Err(rerr(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a backup runpod-ssh wrote (not a regular file of yours with one link)",
        )));
    }
    let mut bytes = Vec::new();
    (&f).take(MAX_READ + 1)
        .read_to_end(&mut bytes)
        .map_err(rerr)?;
    if bytes.len() as u64 > MAX_READ {
        return Err(rerr(refused(ReadRefusal::TooLarge)));
    }
    Ok(bytes)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into())
}

/// Where the backups of `target` live.
pub fn backup_dir(target: &Path) -> PathBuf {
    target.parent().unwrap_or(Path::new(".")).join(BACKUP_DIR)
}

/// One saved version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Backup {
    pub path: PathBuf,
    /// `YYYYMMDD-HHMMSS.nnnnnnnnn` (UTC), sortable; `-N` when one run
    /// saved the file more than once. Shared by every file one command
    /// run backed up.
    pub stamp: String,
    /// The command that wrote it (`add`, `fix`, …); `None` for backups
    /// from older versions.
    pub command: Option<String>,
}

/// The backups of `target` (symlinks followed), oldest first: only files
/// whose name runpod-ssh writes, regular files (not symlinks) owned by
/// the user. Anything else in the folder is ignored.
pub fn backups(target: &Path) -> Vec<Backup> {
    let target = real_path(target).unwrap_or_else(|_| target.to_path_buf());
    let prefix = format!("{}.", file_name(&target));
    let dir = backup_dir(&target);
    if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        // Absent, or a symlink to someone else's folder: no backups of ours.
        return Vec::new();
    }
    // A stamp later than now was not written by a run so far: planted
    // to sort as "the newest" (the stamps sort as text).
    let now = timestamp(SystemTime::now());
    let mut v: Vec<Backup> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let (stamp, command) = parse_backup_name(n.strip_prefix(&prefix)?)?;
            if stamp > now {
                return None;
            }
            trusted_backup(&e.path()).then(|| Backup {
                path: e.path(),
                stamp,
                command,
            })
        })
        .collect();
    v.sort_by(|a, b| a.stamp.cmp(&b.stamp));
    v
}
