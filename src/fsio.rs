//! Safe file IO for the user's precious files (`~/.ssh/config`,
//! `known_hosts`, VS Code settings): every write goes through here.
//!
//! - [`read`] takes a [`Snapshot`]: the bytes and the real path behind any
//!   symlink.
//! - [`write`] refuses when the file changed since the snapshot, backs the
//!   old version up (the last [`KEEP_BACKUPS`] are kept), writes a temp file
//!   in the same folder with the old mode and owner, fsyncs it, renames it
//!   over the target and fsyncs the folder. A crash leaves the old or the
//!   new content, never a mix.
//! - [`write_new`] creates a file that must not exist yet (never replaces
//!   one, never through a link).
//! - [`Lock`] keeps two runpod-ssh processes from interleaving.
//!
//! Bytes are written as given: line endings, BOM and encoding are the
//! caller's (the config document keeps them as they were).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod backup;
mod create;
mod holds;
mod lock;
mod replace;
mod udiff;
pub use udiff::unified_diff_anchored;

use backup::backup;
pub use backup::{Backup, backup_dir, backups, read_backup};
pub use create::{NewFileError, owned_by_me, write_new};
use holds::holds;
pub use lock::{LOCK_NAME, Lock};

/// How many backups of each file are kept.
pub const KEEP_BACKUPS: usize = 10;

/// The folder (beside the file) that holds its backups.
pub const BACKUP_DIR: &str = ".runpod-ssh-backups";

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{0} changed since runpod-ssh read it (another program edited it); nothing was written, run the command again"
    )]
    Changed(PathBuf),
    #[error("another runpod-ssh is changing files (lock {0} held); try again when it has finished")]
    Locked(PathBuf),
    #[error("{0}: too many levels of symbolic links")]
    SymlinkLoop(PathBuf),
    #[error("no backup of {0} to restore")]
    NoBackup(PathBuf),
    #[error(
        "{path} is {kind}, not a regular file: runpod-ssh writes only regular files; nothing was written"
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path} {reason}; nothing was written (--force writes it anyway{extra})")]
    Guarded {
        path: PathBuf,
        reason: &'static str,
        extra: &'static str,
    },
    #[error(
        "{0} kept changing while runpod-ssh read it (another program is still writing it); nothing was written, run the command again when it has finished"
    )]
    Unsettled(PathBuf),
}

/// The most runpod-ssh reads of any one file (configs, Includes,
/// known_hosts, settings.json): a device or a runaway file gets a clear
/// error instead of filling memory.
pub const MAX_READ: u64 = 64 * 1024 * 1024;

/// Why [`read_limited`] refused a file. Carried inside an `io::Error` so
/// every caller that already handles IO errors reports it.
#[derive(Debug, thiserror::Error)]
pub enum ReadRefusal {
    #[error("it is {0}, not a regular file; runpod-ssh reads only regular files")]
    NotRegular(&'static str),
    #[error("it is larger than {} MiB, more than any ssh file should be", MAX_READ >> 20)]
    TooLarge,
}

/// What kind of file `md` describes, in words, when it is not regular.
pub fn special_kind(md: &fs::Metadata) -> Option<&'static str> {
    let ft = md.file_type();
    if ft.is_file() {
        return None;
    }
    if ft.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if ft.is_char_device() {
            return Some("a character device");
        }
        if ft.is_block_device() {
            return Some("a block device");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

fn refused(r: ReadRefusal) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, r)
}

/// What [`read_limited`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub bytes: Vec<u8>,
    /// A character device (`/dev/null`), read without blocking: never
    /// to be written.
    pub device: bool,
}

/// Read a file the safe way: opened without blocking (a FIFO cannot
/// hang us), checked with `fstat` on the open file, refused unless it is
/// a regular file or a character device, and never more than
/// [`MAX_READ`] bytes. A character device is read without blocking up to
/// the cap: `/dev/null` is empty (as `ssh -F /dev/null` takes it),
/// `/dev/zero` hits the cap. A folder is `ErrorKind::IsADirectory`.
pub fn read_limited(path: &Path) -> io::Result<Content> {
    use std::io::Read;
    let f = open_nonblocking(path)?;
    let md = f.metadata()?;
    let device = match special_kind(&md) {
        None => false,
        Some("a folder") => {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "is a folder"));
        }
        Some("a character device") => true,
        Some(k) => return Err(refused(ReadRefusal::NotRegular(k))),
    };
    // `take` hides the file's size from `read_to_end`: reserve it here (plus
    // one byte to see end of file) so a large config is read without
    // regrowing and copying the buffer. A device says 0 and grows as needed.
    let mut bytes = Vec::with_capacity(usize::try_from(md.len().min(MAX_READ) + 1).unwrap_or(0));
    match (&f).take(MAX_READ + 1).read_to_end(&mut bytes) {
        Ok(_) => {}
        // A device with nothing to give right now (a terminal) is empty.
        Err(e) if device && e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    if bytes.len() as u64 > MAX_READ {
        return Err(refused(ReadRefusal::TooLarge));
    }
    Ok(Content { bytes, device })
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    // Windows opens a folder only with FILE_FLAG_BACKUP_SEMANTICS, so
    // File::open says "Access denied"; say what it is instead.
    match File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && path.is_dir() => {
            Err(io::Error::new(io::ErrorKind::IsADirectory, "is a folder"))
        }
        r => r,
    }
}

/// The bytes of `path`, or `None` when it does not exist; refusals and
/// errors as [`FsError::Read`] naming `shown`.
fn read_target(target: &Path, shown: &Path) -> Result<Option<Content>, FsError> {
    match read_limited(target) {
        Ok(c) => Ok(Some(c)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FsError::Read {
            path: shown.to_path_buf(),
            source,
        }),
    }
}

/// What one command run shares across every file it writes: the backup
/// stamp (one backup set per command) and `--force`.
#[derive(Debug, Clone)]
struct Run {
    command: String,
    stamp: String,
    force: bool,
}

static RUN: std::sync::Mutex<Option<Run>> = std::sync::Mutex::new(None);

/// Called once by the command edge: backups written from now on carry
/// `command` and one shared stamp, so `restore` can put the set back
/// together; `force` lets [`write`] override the refusals that name
/// `--force` (read-only, foreign-owned or hard-linked files).
pub fn begin_run(command: &str, force: bool) {
    let mut r = RUN.lock().unwrap_or_else(|e| e.into_inner());
    *r = Some(Run {
        command: command.to_string(),
        stamp: timestamp(SystemTime::now()),
        force,
    });
}

static DRY_RUN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A dry run writes nothing anywhere, lock files and folders included:
/// from now on [`Lock`] takes an existing lock file if it can and
/// otherwise holds nothing (nothing will be written to protect).
pub fn set_dry_run(dry: bool) {
    DRY_RUN.store(dry, std::sync::atomic::Ordering::SeqCst);
}

fn dry_run() -> bool {
    DRY_RUN.load(std::sync::atomic::Ordering::SeqCst)
}

fn run_settings() -> Option<Run> {
    RUN.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// How long a recently modified file may keep changing before we give up.
const SETTLE_LIMIT: Duration = Duration::from_secs(2);
/// The pause between two reads that must agree.
const SETTLE_PAUSE: Duration = Duration::from_millis(100);

/// Files this process wrote last, as (path, mtime, length): a file still
/// exactly as we left it is not half-written by someone else, so reading
/// it again (pins recorded one after another by `check`) needs no pause.
static WRITTEN: std::sync::Mutex<Vec<(PathBuf, SystemTime, u64)>> =
    std::sync::Mutex::new(Vec::new());

fn remember_written(target: &Path) {
    if let Ok(md) = fs::metadata(target)
        && let Ok(m) = md.modified()
    {
        let mut w = WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
        w.retain(|(p, _, _)| p != target);
        w.push((target.to_path_buf(), m, md.len()));
    }
}

fn recently_modified(target: &Path) -> bool {
    let Ok(md) = fs::metadata(target) else {
        return false;
    };
    let Ok(m) = md.modified() else {
        return false;
    };
    let ours = WRITTEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|(p, t, len)| p == target && *t == m && *len == md.len());
    if ours {
        return false;
    }
    match SystemTime::now().duration_since(m) {
        Ok(age) => age < Duration::from_secs(2),
        // A modification time in the future: cannot tell, so check.
        Err(_) => true,
    }
}

/// A file as it was read.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The file actually read and written (symlinks followed).
    pub target: PathBuf,
    /// The content, or `None` when the file does not exist yet. Shared:
    /// a parsed config's lines are ranges of these bytes
    /// ([`crate::config::Document::parse_shared`]).
    pub bytes: Option<Arc<Vec<u8>>>,
    /// The file is a character device (`/dev/null`): readable as a
    /// config, never written.
    pub device: bool,
}

impl Snapshot {
    /// The content, empty for a file that does not exist yet.
    pub fn content(&self) -> &[u8] {
        self.bytes.as_deref().map_or(&[], Vec::as_slice)
    }
}

/// Follow symlinks (also dangling ones) to the path that holds the data.
pub fn real_path(path: &Path) -> Result<PathBuf, FsError> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p).map_err(|source| FsError::Read {
                    path: p.clone(),
                    source,
                })?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(FsError::SymlinkLoop(path.to_path_buf()))
}

/// Read a file for a later [`write`]. A file modified in the last two
/// seconds may be half-written by an editor: it is read again ~100 ms
/// later until two reads agree (at most ~2 s), else refused.
pub fn read(path: &Path) -> Result<Snapshot, FsError> {
    let target = real_path(path)?;
    let mut got = read_target(&target, path)?;
    if got.as_ref().is_some_and(|c| !c.device) && recently_modified(&target) {
        let start = Instant::now();
        loop {
            std::thread::sleep(SETTLE_PAUSE);
            let again = read_target(&target, path)?;
            if again == got {
                break;
            }
            got = again;
            if start.elapsed() >= SETTLE_LIMIT {
                return Err(FsError::Unsettled(path.to_path_buf()));
            }
        }
    }
    let device = got.as_ref().is_some_and(|c| c.device);
    Ok(Snapshot {
        path: path.to_path_buf(),
        target,
        bytes: got.map(|c| Arc::new(c.bytes)),
        device,
    })
}

/// Refuse to write over what an editor would warn about, unless the run
/// was given `--force`.
fn guard(shown: &Path, meta: &fs::Metadata) -> Result<(), FsError> {
    if run_settings().is_some_and(|r| r.force) {
        return Ok(());
    }
    let refuse = |reason, extra| {
        Err(FsError::Guarded {
            path: shown.to_path_buf(),
            reason,
            extra,
        })
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid cannot fail.
        if meta.uid() != unsafe { libc::geteuid() } {
            return refuse(
                "belongs to another user",
                ", keeping its owner when runpod-ssh runs as root",
            );
        }
        if meta.nlink() > 1 {
            return refuse(
                "has other hard links, which a rewrite would split from it",
                ", and the other names keep the old content",
            );
        }
    }
    if meta.permissions().readonly() {
        return refuse("is read-only", ", keeping its permissions");
    }
    Ok(())
}

/// Windows: the replace puts our file in place of `target`, so (as the
/// Unix owner check) refuse another account's file unless `--force`; the
/// user's and Administrators' (an elevated prompt's) are written. A
/// descriptor that cannot be read is not a refusal (FAT, network shares).
#[cfg(windows)]
fn guard_owner(shown: &Path, target: &Path) -> Result<(), FsError> {
    use crate::winacl;
    if run_settings().is_some_and(|r| r.force) {
        return Ok(());
    }
    match (winacl::current_user_sid(), winacl::read(target)) {
        (Ok(me), Ok(d)) if !winacl::may_repair(&d, &me) => Err(FsError::Guarded {
            path: shown.to_path_buf(),
            reason: "belongs to another user",
            extra: "",
        }),
        _ => Ok(()),
    }
}

/// What a write did.
#[derive(Debug, Clone, Default)]
pub struct WriteReport {
    /// Where the previous version was saved.
    pub backup: Option<PathBuf>,
    /// Whether the file was created.
    pub created: bool,
}

/// Options for [`write`].
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// Save the previous version first.
    pub backup: bool,
    /// Mode for a file that does not exist yet (Unix).
    pub new_mode: u32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            backup: true,
            new_mode: 0o600,
        }
    }
}

/// Replace the file behind `snap` with `new` atomically. Refuses when the
/// file changed since `snap` was taken.
pub fn write(snap: &Snapshot, new: &[u8], opts: WriteOptions) -> Result<WriteReport, FsError> {
    let target = &snap.target;
    let werr = |source: io::Error| FsError::Write {
        path: snap.path.clone(),
        source,
    };
    if snap.device {
        return Err(FsError::NotRegular {
            path: snap.path.clone(),
            kind: "a character device",
        });
    }
    let meta = match fs::symlink_metadata(target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(FsError::Read {
                path: snap.path.clone(),
                source,
            });
        }
    };
    if let Some(kind) = meta.as_ref().and_then(special_kind) {
        return Err(FsError::NotRegular {
            path: snap.path.clone(),
            kind,
        });
    }
    // Refuse to overwrite what someone else wrote in the meantime.
    let unchanged = match (&meta, &snap.bytes) {
        // A regular file compared a piece at a time: no second copy of a
        // large config in memory.
        (Some(m), Some(old)) if m.is_file() => {
            holds(target, old).map_err(|source| FsError::Read {
                path: snap.path.clone(),
                source,
            })?
        }
        _ => {
            read_target(target, &snap.path)?.map(|c| c.bytes).as_deref()
                == snap.bytes.as_deref().map(Vec::as_slice)
        }
    };
    if !unchanged {
        return Err(FsError::Changed(snap.path.clone()));
    }
    if let Some(m) = &meta {
        guard(&snap.path, m)?;
        #[cfg(windows)]
        guard_owner(&snap.path, target)?;
    }
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    clean_stale_temps(dir, &name);

    let mut report = WriteReport {
        created: snap.bytes.is_none(),
        ..Default::default()
    };
    if opts.backup
        && let Some(old) = &snap.bytes
    {
        report.backup = Some(backup(target, old, meta.as_ref()).map_err(werr)?);
    }

    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.runpod-ssh-"))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(werr)?;
    // The temp file is 0600 from creation; give it the old file's mode and
    // owner before any content lands in it.
    apply_meta(tmp.as_file(), meta.as_ref(), opts.new_mode).map_err(werr)?;
    #[cfg(windows)]
    replace::owner_only_like(tmp.path(), target, meta.is_none()).map_err(werr)?;
    tmp.write_all(new).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    replace::replace(tmp, target).map_err(werr)?;
    sync_dir(dir);
    remember_written(target);
    Ok(report)
}

#[cfg(unix)]
fn apply_meta(f: &File, meta: Option<&fs::Metadata>, new_mode: u32) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = meta.map_or(new_mode, |m| m.mode() & 0o7777);
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    if let Some(m) = meta {
        let mine = f.metadata()?;
        if mine.uid() != m.uid() || mine.gid() != m.gid() {
            // Only root can give a file away; otherwise keep ours.
            let _ = std::os::unix::fs::fchown(f, Some(m.uid()), Some(m.gid()));
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn apply_meta(f: &File, meta: Option<&fs::Metadata>, _new_mode: u32) -> io::Result<()> {
    if let Some(m) = meta {
        f.set_permissions(m.permissions())?;
    }
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) {
    // Makes the rename durable; failure here cannot undo it, so ignore.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

/// Remove temp files a killed runpod-ssh left beside `name` (we hold the
/// lock, so none is in use).
fn clean_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.runpod-ssh-");
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&prefix) && n.ends_with(".tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Why [`set_mode_owned`] refused to touch a file.
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error("{0} is a symbolic link: its permissions were left alone")]
    Symlink(PathBuf),
    #[error("{0} is not a regular file: its permissions were left alone")]
    NotRegular(PathBuf),
    #[error("{0} belongs to another user: its permissions were left alone")]
    NotOwned(PathBuf),
    /// The open file failed the content check (another file was swapped
    /// in, through a parent folder, since the rule looked).
    #[error("{0} is not the file that was checked ({1}): its permissions were left alone")]
    Content(PathBuf, &'static str),
    #[error("cannot change the permissions of {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Set `mode` on `path`, but only when it is a regular file owned by the
/// user running us, and never through a symbolic link: the check and the
/// change happen on one open file (`O_NOFOLLOW`, `fstat`, `fchmod`), so a
/// swap between them cannot redirect the chmod.
#[cfg(unix)]
pub fn set_mode_owned(path: &Path, mode: u32) -> Result<(), ModeError> {
    set_mode_owned_if(path, mode, 0, |_| Ok(()))
}

/// Like [`set_mode_owned`], and the first `limit` bytes read from that
/// same open file must pass `accept` (e.g. "is a private key"): a check
/// made on the path and a chmod made on it later could meet two files
/// (a parent folder swapped for a symlink in between), one open cannot.
#[cfg(unix)]
pub fn set_mode_owned_if(
    path: &Path,
    mode: u32,
    limit: u64,
    accept: impl FnOnce(&[u8]) -> Result<(), &'static str>,
) -> Result<(), ModeError> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let ioe = |source: io::Error| ModeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        // ELOOP: the last component is a symlink.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(ModeError::Symlink(path.to_path_buf()));
        }
        Err(e) => return Err(ioe(e)),
    };
    let md = f.metadata().map_err(ioe)?;
    if !md.file_type().is_file() {
        return Err(ModeError::NotRegular(path.to_path_buf()));
    }
    // SAFETY: geteuid cannot fail.
    if md.uid() != unsafe { libc::geteuid() } {
        return Err(ModeError::NotOwned(path.to_path_buf()));
    }
    let mut head = Vec::new();
    (&f).take(limit).read_to_end(&mut head).map_err(ioe)?;
    accept(&head).map_err(|why| ModeError::Content(path.to_path_buf(), why))?;
    if md.mode() & 0o7777 != mode {
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(ioe)?;
    }
    Ok(())
}

/// Windows has no mode bits; ACL repair lives elsewhere.
#[cfg(not(unix))]
pub fn set_mode_owned_if(
    path: &Path,
    mode: u32,
    _limit: u64,
    _accept: impl FnOnce(&[u8]) -> Result<(), &'static str>,
) -> Result<(), ModeError> {
    set_mode_owned(path, mode)
}

/// Windows has no mode bits; ACL repair lives elsewhere.
#[cfg(not(unix))]
pub fn set_mode_owned(path: &Path, _mode: u32) -> Result<(), ModeError> {
    Err(ModeError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::Unsupported, "no Unix permissions here"),
    })
}

/// Create a folder readable only by its owner (`~/.ssh` must be 0700).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Create `dir` (0700) only when its parent exists: one level, as ssh
/// creates `~/.ssh` and nothing above it.
pub fn create_private_dir_one(dir: &Path) -> io::Result<()> {
    // Only Unix sets a mode.
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut b = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    match b.create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        r => r,
    }
}

/// UTC `YYYYMMDD-HHMMSS.nnnnnnnnn`, without a date crate.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, dd) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{dd:02}-{:02}{:02}{:02}.{:09}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A unified diff of two versions of a file, for `--dry-run`.
pub fn unified_diff(old: &[u8], new: &[u8], label: &str) -> String {
    let (old_text, new_text) = (diff_text(old), diff_text(new));
    // `a/~/.ssh/config`, but `a/tmp/x` for `/tmp/x`, not `a//tmp/x`.
    let label = label.strip_prefix('/').unwrap_or(label);
    if old_text == new_text && old != new {
        // Same text, other bytes: say so rather than show no diff at all.
        return format!(
            "--- a/{label}\n+++ b/{label}\n(the text is unchanged; the encoding changes from {} to {})\n",
            encoding_name(old),
            encoding_name(new)
        );
    }
    let (old, new) = (old_text, new_text);
    similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{label}"), &format!("b/{label}"))
        .to_string()
}

fn encoding_name(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xFE, ..] => "UTF-16LE",
        [0xFE, 0xFF, ..] => "UTF-16BE",
        [0xEF, 0xBB, 0xBF, ..] => "UTF-8 with a byte-order mark",
        _ => "UTF-8",
    }
}

/// A file's bytes as text for a diff: UTF-16 with a byte-order mark is
/// decoded (so the diff shows its text, not NUL bytes); anything else is
/// read as UTF-8, invalid bytes replaced.
fn diff_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let unit = |pair: &[u8], le: bool| {
        let p = [pair[0], pair[1]];
        if le {
            u16::from_le_bytes(p)
        } else {
            u16::from_be_bytes(p)
        }
    };
    let le = match bytes {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        [0xEF, 0xBB, 0xBF, rest @ ..] => return String::from_utf8_lossy(rest),
        _ => return String::from_utf8_lossy(bytes),
    };
    let units = bytes[2..].chunks_exact(2).map(|c| unit(c, le));
    std::borrow::Cow::Owned(
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

#[cfg(test)]
mod tests;
