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
//! - [`Lock`] keeps two runpod-ssh processes from interleaving.
//!
//! Bytes are written as given: line endings, BOM and encoding are the
//! caller's (the config document keeps them as they were).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    let mut bytes = Vec::new();
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
    /// The content, or `None` when the file does not exist yet.
    pub bytes: Option<Vec<u8>>,
    /// The file is a character device (`/dev/null`): readable as a
    /// config, never written.
    pub device: bool,
}

impl Snapshot {
    /// The content, empty for a file that does not exist yet.
    pub fn content(&self) -> &[u8] {
        self.bytes.as_deref().unwrap_or_default()
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
        bytes: got.map(|c| c.bytes),
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
    let current = read_target(target, &snap.path)?;
    if current.map(|c| c.bytes) != snap.bytes {
        return Err(FsError::Changed(snap.path.clone()));
    }
    if let Some(m) = &meta {
        guard(&snap.path, m)?;
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
    // Windows: the temp file got the folder's inherited ACL; a rename keeps
    // the file's own, so an owner-only file (or a new one, as 0600 here)
    // is made owner-only before it takes the target's place (F16).
    #[cfg(windows)]
    if meta.is_none()
        || crate::winacl::current_user_sid().is_ok_and(|me| {
            crate::winacl::read(target).is_ok_and(|d| crate::winacl::is_owner_only(&d, &me))
        })
    {
        crate::winacl::write_owner_only(tmp.path()).map_err(werr)?;
    }
    tmp.write_all(new).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    replace(tmp, target).map_err(werr)?;
    sync_dir(dir);
    remember_written(target);
    Ok(report)
}

/// Rename the finished temp file over `target`.
#[cfg(not(windows))]
fn replace(tmp: tempfile::NamedTempFile, target: &Path) -> io::Result<()> {
    tmp.persist(target).map(drop).map_err(|e| e.error)
}

/// Windows: `MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)`,
/// retried for about 2 s while the target is held without delete sharing
/// (VS Code, an antivirus or the indexer keep it open for a moment). The
/// temp file is removed when the replace finally fails.
#[cfg(windows)]
fn replace(tmp: tempfile::NamedTempFile, target: &Path) -> io::Result<()> {
    let tmp = tmp.into_temp_path();
    move_replace_retrying(&tmp, target, std::time::Duration::from_secs(2))?;
    // The temp name is the target now: nothing to delete.
    let _ = tmp.keep();
    Ok(())
}

#[cfg(windows)]
pub fn move_replace_retrying(
    from: &Path,
    to: &Path,
    patience: std::time::Duration,
) -> io::Result<()> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION};
    use windows_sys::Win32::Storage::FileSystem::{
        MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH, MoveFileExW,
    };
    let wide = |p: &Path| -> Vec<u16> { p.as_os_str().encode_wide().chain([0]).collect() };
    let (f, t) = (wide(from), wide(to));
    let start = std::time::Instant::now();
    loop {
        // SAFETY: both are NUL-terminated UTF-16 buffers that outlive the call.
        let ok = unsafe {
            MoveFileExW(
                f.as_ptr(),
                t.as_ptr(),
                MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
            )
        };
        if ok != 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        let transient = matches!(
            err.raw_os_error().map(|c| c as u32),
            Some(ERROR_SHARING_VIOLATION | ERROR_ACCESS_DENIED)
        );
        if !transient || start.elapsed() >= patience {
            return Err(err);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
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

/// Save `old` as a backup of `target`, pruning to the last
/// [`KEEP_BACKUPS`]. The name is `NAME.STAMP.COMMAND`: one stamp for every
/// file a command run backs up (see [`begin_run`]), and the command that
/// wrote it.
fn backup(target: &Path, old: &[u8], meta: Option<&fs::Metadata>) -> io::Result<PathBuf> {
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
fn parse_backup_name(rest: &str) -> Option<(String, Option<String>)> {
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
mod tests {
    use super::*;

    #[test]
    fn diff_of_utf16_shows_text_and_absolute_labels_have_one_slash() {
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "Host a\n".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let d = unified_diff(&utf16, b"Host a\nHost b\n", "/tmp/cfg");
        assert!(d.contains("--- a/tmp/cfg"), "{d}");
        assert!(d.contains("+Host b") && d.contains(" Host a"), "{d}");
        assert!(!d.contains('\0'), "{d:?}");
        let only = unified_diff(&utf16, b"Host a\n", "c");
        assert!(only.contains("from UTF-16LE to UTF-8"), "{only}");
        assert_eq!(unified_diff(b"x\n", b"x\n", "c"), "");
    }

    #[test]
    fn write_replaces_and_backs_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        fs::write(&p, b"old\r\n").unwrap();
        let snap = read(&p).unwrap();
        let r = write(&snap, b"new\r\n", WriteOptions::default()).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new\r\n");
        assert_eq!(fs::read(r.backup.unwrap()).unwrap(), b"old\r\n");
        assert_eq!(backups(&p).len(), 1);
    }

    #[test]
    fn refuses_when_changed_since_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        fs::write(&p, b"a").unwrap();
        let snap = read(&p).unwrap();
        fs::write(&p, b"b").unwrap();
        assert!(matches!(
            write(&snap, b"c", WriteOptions::default()),
            Err(FsError::Changed(_))
        ));
        assert_eq!(fs::read(&p).unwrap(), b"b");
        // Created by someone else after we saw it absent.
        let q = dir.path().join("new");
        let snap = read(&q).unwrap();
        fs::write(&q, b"x").unwrap();
        assert!(write(&snap, b"y", WriteOptions::default()).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn keeps_mode_writes_through_symlink_and_creates_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real_config");
        fs::write(&real, b"a").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink("real_config", &link).unwrap();
        let snap = read(&link).unwrap();
        write(&snap, b"b", WriteOptions::default()).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"b");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let fresh = dir.path().join("fresh");
        write(&read(&fresh).unwrap(), b"x", WriteOptions::default()).unwrap();
        assert_eq!(
            fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[cfg(unix)]
    #[test]
    fn set_mode_owned_if_judges_and_chmods_the_same_open_file_when_a_parent_is_swapped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (keys, victims) = (dir.path().join("keys"), dir.path().join("victims"));
        fs::create_dir(&keys).unwrap();
        fs::create_dir(&victims).unwrap();
        for (d, body) in [(&keys, "KEY"), (&victims, "root:x:0:0")] {
            fs::write(d.join("f"), body).unwrap();
            fs::set_permissions(d.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
        }
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&keys, &link).unwrap();
        let mode = |d: &Path| fs::metadata(d.join("f")).unwrap().permissions().mode() & 0o777;
        // The parent is swapped to the victim folder after the open and
        // before the chmod: the chmod still lands on the file judged.
        set_mode_owned_if(&link.join("f"), 0o600, 64, |head| {
            fs::remove_file(&link).unwrap();
            std::os::unix::fs::symlink(&victims, &link).unwrap();
            if head == b"KEY" {
                Ok(())
            } else {
                Err("not a key")
            }
        })
        .unwrap();
        assert_eq!((mode(&keys), mode(&victims)), (0o600, 0o644));
        // Now the path leads to the victim: its content is refused, mode kept.
        fs::set_permissions(keys.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
        let err = set_mode_owned_if(&link.join("f"), 0o600, 64, |head| {
            if head == b"KEY" {
                Ok(())
            } else {
                Err("not a private key")
            }
        })
        .unwrap_err();
        assert!(
            matches!(err, ModeError::Content(_, "not a private key")),
            "{err}"
        );
        assert_eq!((mode(&keys), mode(&victims)), (0o644, 0o644));
    }

    #[cfg(unix)]
    #[test]
    fn set_mode_owned_refuses_symlinks_and_non_regular_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("key");
        fs::write(&real, b"k").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            set_mode_owned(&link, 0o600),
            Err(ModeError::Symlink(_))
        ));
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert!(matches!(
            set_mode_owned(dir.path(), 0o600),
            Err(ModeError::NotRegular(_))
        ));
        set_mode_owned(&real, 0o600).unwrap();
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn keeps_last_ten_backups() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        fs::write(&p, b"0").unwrap();
        for i in 1..=13 {
            let snap = read(&p).unwrap();
            write(&snap, i.to_string().as_bytes(), WriteOptions::default()).unwrap();
        }
        let b = backups(&p);
        assert_eq!(b.len(), KEEP_BACKUPS);
        assert_eq!(fs::read(&b[KEEP_BACKUPS - 1].path).unwrap(), b"12");
    }

    #[cfg(unix)]
    #[test]
    fn write_refuses_a_fifo_target_and_read_does_not_block_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read(&p).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let snap = Snapshot {
            path: p.clone(),
            target: p.clone(),
            bytes: None,
            device: false,
        };
        assert!(matches!(
            write(&snap, b"x", WriteOptions::default()),
            Err(FsError::NotRegular { .. })
        ));
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::symlink_metadata(&p).unwrap().file_type().is_fifo());
    }

    #[cfg(unix)]
    #[test]
    fn write_refuses_hard_linked_and_read_only_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        fs::write(&p, b"a").unwrap();
        fs::hard_link(&p, dir.path().join("twin")).unwrap();
        let snap = read(&p).unwrap();
        assert!(matches!(
            write(&snap, b"b", WriteOptions::default()),
            Err(FsError::Guarded { .. })
        ));
        fs::remove_file(dir.path().join("twin")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o400)).unwrap();
        let e = write(&snap, b"b", WriteOptions::default()).unwrap_err();
        assert!(e.to_string().contains("read-only") && e.to_string().contains("--force"));
        assert_eq!(fs::read(&p).unwrap(), b"a");
    }

    #[test]
    fn a_fresh_file_is_read_twice_but_our_own_write_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("known_hosts");
        fs::write(&p, b"a\n").unwrap();
        let t = Instant::now();
        let snap = read(&p).unwrap();
        assert!(
            t.elapsed() >= SETTLE_PAUSE,
            "a just-written file is re-read"
        );
        write(&snap, b"a\nb\n", WriteOptions::default()).unwrap();
        let t = Instant::now();
        assert_eq!(read(&p).unwrap().content(), b"a\nb\n");
        assert!(
            t.elapsed() < SETTLE_PAUSE,
            "our own write needs no settling"
        );
    }

    #[test]
    fn backup_names_are_parsed_strictly() {
        let ok = parse_backup_name("20261128-101500.123456789.add").unwrap();
        assert_eq!(ok, ("20261128-101500.123456789".into(), Some("add".into())));
        let old = parse_backup_name("20261128-101500.123456789-2").unwrap();
        assert_eq!(old, ("20261128-101500.123456789-2".into(), None));
        for bad in [
            "",
            "9evil",
            "20261128-101500.123456789.",
            "20261128-101500.123456789.ADD",
            "20261128-101500.123456789-",
            "20261128-101500.12345678",
            "20261128-101500.123456789.add/x",
        ] {
            assert_eq!(parse_backup_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timestamps_sort_and_read_well() {
        assert_eq!(&timestamp(UNIX_EPOCH)[..15], "19700101-000000");
        assert_eq!(
            &timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400))[..8],
            "20000229"
        );
    }

    /// A file another program holds open without delete sharing (as VS
    /// Code or an antivirus may): the replace waits for it, then lands;
    /// under a Hangul profile folder.
    #[cfg(windows)]
    #[test]
    fn replace_waits_for_a_handle_without_delete_sharing_then_lands() {
        use std::os::windows::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("홍길동").join(".ssh");
        fs::create_dir_all(&home).unwrap();
        let target = home.join("config");
        fs::write(&target, "old\r\n").unwrap();
        let from = home.join("config.new");
        fs::write(&from, "new\r\n").unwrap();
        // FILE_SHARE_READ only: a rename over it fails until it is closed.
        let held = fs::OpenOptions::new()
            .read(true)
            .share_mode(1)
            .open(&target)
            .unwrap();
        let blocked = move_replace_retrying(&from, &target, Duration::from_millis(150));
        assert!(
            blocked.is_err(),
            "replaced a file held without delete sharing"
        );
        assert_eq!(fs::read(&target).unwrap(), b"old\r\n");
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        move_replace_retrying(&from, &target, Duration::from_secs(2)).unwrap();
        t.join().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new\r\n");
        assert!(!from.exists());
    }

    #[test]
    fn lock_excludes_a_second_holder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let a = Lock::acquire(&p, Duration::from_millis(10)).unwrap();
        assert!(matches!(
            Lock::acquire(&p, Duration::from_millis(50)),
            Err(FsError::Locked(_))
        ));
        drop(a);
        assert!(Lock::acquire(&p, Duration::from_millis(10)).is_ok());
    }

    #[test]
    fn a_shared_lock_nests_within_a_process() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        let a = Lock::beside(&cfg).unwrap();
        let b = Lock::beside(&cfg).unwrap();
        let lock = dir.path().join(LOCK_NAME);
        assert!(matches!(
            Lock::acquire(&lock, Duration::from_millis(30)),
            Err(FsError::Locked(_))
        ));
        drop(a);
        drop(b);
        assert!(Lock::acquire(&lock, Duration::from_millis(10)).is_ok());
    }
}
