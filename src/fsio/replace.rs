//! The last step of [`super::write`]: the finished temp file takes the
//! target's place. Unix: `rename(2)`. Windows: `MoveFileExW` with
//! `MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH`, retried while
//! another program holds the target, after the temp file was made
//! owner-only when the target is (a rename keeps the file's own ACL, F16).

use std::io;
use std::path::Path;

/// Windows: the temp file got the folder's inherited ACL; a rename keeps
/// the file's own, so an owner-only target (or a new file, `fresh`, which
/// is 0600 on Unix) gets an owner-only temp file before it takes the
/// target's place (F16).
#[cfg(windows)]
pub(super) fn owner_only_like(tmp: &Path, target: &Path, fresh: bool) -> io::Result<()> {
    use crate::winacl;
    if fresh
        || winacl::current_user_sid()
            .is_ok_and(|me| winacl::read(target).is_ok_and(|d| winacl::is_owner_only(&d, &me)))
    {
        winacl::write_owner_only(tmp)?;
    }
    Ok(())
}

/// Rename the finished temp file over `target`.
#[cfg(not(windows))]
pub(super) fn replace(tmp: tempfile::NamedTempFile, target: &Path) -> io::Result<()> {
    tmp.persist(target).map(drop).map_err(|e| e.error)
}

/// Windows: `MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)`,
/// retried for about 2 s while the target is held without delete sharing
/// (VS Code, an antivirus or the indexer keep it open for a moment). The
/// temp file is removed when the replace finally fails.
#[cfg(windows)]
pub(super) fn replace(tmp: tempfile::NamedTempFile, target: &Path) -> io::Result<()> {
    let tmp = tmp.into_temp_path();
    move_replace_retrying(&tmp, target, std::time::Duration::from_secs(2))?;
    // The temp name is the target now: nothing to delete.
    let _ = tmp.keep();
    Ok(())
}

/// `from` over `to`, retried for `patience` on a sharing violation.
#[cfg(windows)]
pub(super) fn move_replace_retrying(
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

#[cfg(all(test, windows))]
mod tests {
    use super::*;
    use std::fs;
    use std::time::Duration;

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
}
