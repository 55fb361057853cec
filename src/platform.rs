//! The little that differs between Unix and Windows: who the user is and
//! whether a file's permissions are safe. Kept thin; everything else is
//! portable code tested on every platform.

use std::path::{Path, PathBuf};

/// The local account, as OpenSSH sees it.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    /// Home from the password database (Unix) or `%USERPROFILE%` (Windows).
    pub home: Option<PathBuf>,
    pub uid: u32,
}

/// The account running this process.
#[cfg(unix)]
pub fn account() -> Account {
    // SAFETY: getuid never fails; getpwuid_r writes only into our buffers.
    let uid = unsafe { libc::getuid() };
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc == 0 && !result.is_null() {
        // SAFETY: on success pw_name and pw_dir point to NUL-terminated strings in `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .into_owned();
        let dir = unsafe { std::ffi::CStr::from_ptr(pwd.pw_dir) }
            .to_string_lossy()
            .into_owned();
        return Account {
            name,
            home: Some(PathBuf::from(dir)),
            uid,
        };
    }
    Account {
        name: std::env::var("USER").unwrap_or_else(|_| uid.to_string()),
        home: None,
        uid,
    }
}

#[cfg(windows)]
pub fn account() -> Account {
    Account {
        name: std::env::var("USERNAME").unwrap_or_default(),
        home: std::env::var_os("USERPROFILE").map(PathBuf::from),
        uid: 0,
    }
}

/// The home ssh uses for `~` in `IdentityFile`, `UserKnownHostsFile`,
/// `~/.ssh/config` and the rest: the password database on Unix
/// (`getpwuid`, not `$HOME`, which `sudo -E` and tests change),
/// `%USERPROFILE%` on Windows. `$HOME` only when the database has no
/// entry for us. runpod-ssh uses this one home for every such path.
pub fn home_dir() -> Option<PathBuf> {
    account()
        .home
        .filter(|h| !h.as_os_str().is_empty())
        .or_else(dirs::home_dir)
}

/// `base` joined with a relative path as a config writes it (`.ssh/id`):
/// one component at a time, so the result is spelled with the platform's
/// separator only — on Windows `C:\Users\hong\.ssh\id`, never
/// `…\.ssh/id` in a message (issue 12). The file named is the same.
pub fn join_written(base: &Path, rel: &str) -> PathBuf {
    let mut p = base.to_path_buf();
    p.extend(
        rel.split(|c| c == '/' || (cfg!(windows) && c == '\\'))
            .filter(|c| !c.is_empty()),
    );
    p
}

/// A path or an `Include` pattern as a message shows it: on Windows with
/// `\\` only (issue 12: one separator style; `{home}/{rest}` patterns
/// read `C:\\Users\\hong/.ssh/x` otherwise), elsewhere as it is. Display
/// only: what is globbed and opened keeps its spelling (OpenSSH for
/// Windows takes either separator).
pub fn shown(p: &str) -> std::borrow::Cow<'_, str> {
    if cfg!(windows) && p.contains('/') {
        p.replace('/', "\\").into()
    } else {
        p.into()
    }
}

/// OpenSSH's check on included config files: owned by root or the user,
/// and not writable by others. Debian relaxes group-write for a user's
/// private group; we only flag world-writable files and foreign owners so
/// that we never report a problem ssh would not.
#[cfg(unix)]
pub fn unsafe_config_permissions(path: &Path, uid: u32) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(path).ok()?;
    if (md.uid() != 0 && md.uid() != uid) || md.mode() & 0o002 != 0 {
        return Some(format!("Bad owner or permissions on {}", path.display()));
    }
    None
}

/// On Windows ssh checks ACLs, which we do not read here.
#[cfg(windows)]
pub fn unsafe_config_permissions(_path: &Path, _uid: u32) -> Option<String> {
    None
}

/// Another account's home from the password database (`~user` in ssh
/// paths, as tilde_expand's getpwnam); `None` when there is no such user.
#[cfg(unix)]
pub fn home_of(user: &str) -> Option<PathBuf> {
    let name = std::ffi::CString::new(user).ok()?;
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r writes only into our buffers.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success pw_dir points to a NUL-terminated string in `buf`.
    let dir = unsafe { std::ffi::CStr::from_ptr(pwd.pw_dir) };
    Some(PathBuf::from(dir.to_string_lossy().into_owned()))
}

/// `~user` on Windows: not resolved (ssh's result is not reproduced).
#[cfg(windows)]
pub fn home_of(_user: &str) -> Option<PathBuf> {
    None
}

/// This machine's name as gethostname(2) gives it (ssh's `%l`).
#[cfg(unix)]
pub fn local_hostname() -> Option<String> {
    let mut buf = vec![0u8; 1025];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0)?;
    String::from_utf8(buf[..end].to_vec()).ok()
}

/// On Windows `%l` is not reproduced: callers fail closed.
#[cfg(windows)]
pub fn local_hostname() -> Option<String> {
    None
}

/// The system-wide client config ssh reads when no `-F` is given.
pub fn system_config() -> Option<PathBuf> {
    if cfg!(windows) {
        std::env::var_os("PROGRAMDATA").map(|p| PathBuf::from(p).join("ssh").join("ssh_config"))
    } else {
        Some(PathBuf::from("/etc/ssh/ssh_config"))
    }
}

/// Give `path` the owner-only ACL OpenSSH for Windows demands (the user,
/// SYSTEM, Administrators; inheritance off): see [`crate::winacl`].
#[cfg(windows)]
pub fn set_owner_only(path: &Path) -> std::io::Result<()> {
    crate::winacl::repair_owner_only(path)
}

/// A legacy ("ANSI") code page and how to decode it: the system's on
/// Windows; tests inject one (the decision logic is the same everywhere).
#[derive(Debug, Clone, Copy)]
pub struct CodePage {
    /// The Windows code page number (949: Korean, 932: Japanese, 1252…).
    pub id: u32,
    /// Bytes → text, `None` when the bytes are not valid in that page.
    pub decode: fn(u32, &[u8]) -> Option<String>,
}

/// The system's ANSI code page (GetACP), decoded with
/// MultiByteToWideChar; `None` when it is UTF-8 (65001) already.
#[cfg(windows)]
pub fn ansi_code_page() -> Option<CodePage> {
    // SAFETY: GetACP takes nothing and cannot fail.
    let id = unsafe { windows_sys::Win32::Globalization::GetACP() };
    (id != 65001).then_some(CodePage {
        id,
        decode: decode_code_page,
    })
}

/// Elsewhere there is no system ANSI code page: a config that is not
/// UTF-8 is reported, never re-encoded.
#[cfg(not(windows))]
pub fn ansi_code_page() -> Option<CodePage> {
    None
}

/// `bytes` in code page `cp` as text (MultiByteToWideChar with
/// MB_ERR_INVALID_CHARS: an invalid sequence is `None`, never a `?`).
#[cfg(windows)]
pub fn decode_code_page(cp: u32, bytes: &[u8]) -> Option<String> {
    use windows_sys::Win32::Globalization::{MB_ERR_INVALID_CHARS, MultiByteToWideChar};
    if bytes.is_empty() {
        return Some(String::new());
    }
    let len = i32::try_from(bytes.len()).ok()?;
    // SAFETY: sizes first (null output), then into a buffer of that size.
    let n = unsafe {
        MultiByteToWideChar(
            cp,
            MB_ERR_INVALID_CHARS,
            bytes.as_ptr(),
            len,
            std::ptr::null_mut(),
            0,
        )
    };
    if n <= 0 {
        return None;
    }
    let mut w = vec![0u16; n as usize];
    let got = unsafe {
        MultiByteToWideChar(
            cp,
            MB_ERR_INVALID_CHARS,
            bytes.as_ptr(),
            len,
            w.as_mut_ptr(),
            n,
        )
    };
    if got != n {
        return None;
    }
    String::from_utf16(&w).ok()
}

#[cfg(all(test, windows))]
mod tests {
    /// Hostile review (issue 12 part 2): the pattern of an `Include` that
    /// failed was shown as built, `C:\\Users\\홍길동/.ssh/bad[`. Shown with
    /// `\\` only; the files an `Include` reads (glob's results) are too.
    #[test]
    fn include_paths_are_shown_with_one_separator() {
        use crate::config::{Context, document::Document, resolve::resolve};
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("홍길동");
        std::fs::create_dir_all(home.join(".ssh").join("conf.d")).unwrap();
        std::fs::write(home.join(".ssh").join("conf.d").join("a"), "Port 2222\n").unwrap();
        let ctx = Context {
            home: home.clone(),
            user_home: home.clone(),
            ..Context::current()
        };
        let doc = Document::parse(b"Include conf.d/*\nInclude ~/.ssh/bad[\n");
        let r = resolve(&doc, &home.join(".ssh").join("config"), "h", &ctx);
        let port = r.get("port").expect("the included file was read");
        let shown = port.source.to_string();
        assert!(
            shown.contains("홍길동\\.ssh\\conf.d\\a") && !shown.contains('/'),
            "{shown}"
        );
        let e = r
            .errors
            .iter()
            .map(|d| d.message.as_str())
            .find(|m| m.contains("glob failed"))
            .expect("the bad pattern is reported");
        assert!(e.contains("홍길동\\.ssh\\bad[") && !e.contains('/'), "{e}");
    }

    /// Wine's and Windows' CP949 table: the fixture's bytes are 홍길동.
    #[test]
    fn cp949_decodes_through_multibytetowidechar() {
        let got = super::decode_code_page(949, b"~/\xC8\xAB\xB1\xE6\xB5\xBF/id");
        assert_eq!(got.as_deref(), Some("~/홍길동/id"));
        // Invalid in the page: refused, never replaced by `?`.
        assert_eq!(super::decode_code_page(949, b"\xC8"), None);
    }
}

/// The ssh-agent service's start type (QueryServiceConfigW), `Missing`
/// when there is no such service; `None` when the service manager cannot
/// be asked.
#[cfg(windows)]
pub fn ssh_agent_service() -> Option<crate::doctor::AgentService> {
    use crate::doctor::AgentService;
    use windows_sys::Win32::System::Services::{
        CloseServiceHandle, OpenSCManagerW, OpenServiceW, QUERY_SERVICE_CONFIGW,
        QueryServiceConfigW, SC_MANAGER_CONNECT, SERVICE_AUTO_START, SERVICE_DISABLED,
        SERVICE_QUERY_CONFIG,
    };
    let name: Vec<u16> = "ssh-agent".encode_utf16().chain([0]).collect();
    // SAFETY: handles closed below; buffers sized by the first call.
    unsafe {
        let scm = OpenSCManagerW(std::ptr::null(), std::ptr::null(), SC_MANAGER_CONNECT);
        if scm.is_null() {
            return None;
        }
        let svc = OpenServiceW(scm, name.as_ptr(), SERVICE_QUERY_CONFIG);
        if svc.is_null() {
            CloseServiceHandle(scm);
            return Some(AgentService::Missing);
        }
        let mut need = 0u32;
        QueryServiceConfigW(svc, std::ptr::null_mut(), 0, &mut need);
        let mut buf = vec![0u64; (need as usize).div_ceil(8).max(8)];
        let ok = QueryServiceConfigW(
            svc,
            buf.as_mut_ptr().cast(),
            (buf.len() * 8) as u32,
            &mut need,
        );
        CloseServiceHandle(svc);
        CloseServiceHandle(scm);
        if ok == 0 {
            return None;
        }
        let cfg = &*(buf.as_ptr() as *const QUERY_SERVICE_CONFIGW);
        Some(match cfg.dwStartType {
            SERVICE_DISABLED => AgentService::Disabled,
            SERVICE_AUTO_START => AgentService::Automatic,
            _ => AgentService::Manual,
        })
    }
}

#[cfg(not(windows))]
pub fn ssh_agent_service() -> Option<crate::doctor::AgentService> {
    None
}

/// Ask the kernel to back a large buffer that is about to be filled with
/// 2 MB pages rather than 4 KB ones: on a config of tens of thousands of
/// lines, faulting in the line table 4 KB at a time cost about a tenth of
/// a whole command. Only advice (`MADV_HUGEPAGE`, honoured where
/// transparent huge pages are `madvise` or `always`): no byte of memory
/// changes. Buffers too small to hold a whole 2 MB page are left alone.
#[cfg(target_os = "linux")]
pub fn prefer_huge_pages<T>(v: &mut Vec<T>) {
    const HUGE: usize = 2 << 20;
    let start = v.as_mut_ptr() as usize;
    let end = start + v.capacity() * std::mem::size_of::<T>();
    if end & !(HUGE - 1) <= start.next_multiple_of(HUGE) {
        return;
    }
    // SAFETY: sysconf has no preconditions.
    let page = match usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }) {
        Ok(p) if p.is_power_of_two() => p,
        _ => return,
    };
    // Whole pages: the advice then covers all of a buffer the allocator
    // mapped on its own (its header shares the first page), so the mapping
    // is not split in three, which would make the allocator copy the
    // buffer when it grows (`mremap` moves one mapping only).
    let first = start & !(page - 1);
    let last = end.next_multiple_of(page);
    // SAFETY: MADV_HUGEPAGE reads and writes no memory and changes no
    // protection; on pages the buffer shares with the allocator it is as
    // harmless as on the buffer's own. A failure only leaves 4 KB pages.
    unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            last - first,
            libc::MADV_HUGEPAGE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
pub fn prefer_huge_pages<T>(_v: &mut Vec<T>) {}

#[cfg(test)]
mod shown_path_tests {
    use std::path::{MAIN_SEPARATOR, PathBuf};

    use crate::config::Context;

    fn home() -> PathBuf {
        PathBuf::from(if cfg!(windows) {
            r"C:\Users\홍길동"
        } else {
            "/home/홍길동"
        })
    }

    /// Issue 12 part 2: a path is shown with one separator style. `~/…`
    /// from a config became `C:\Users\홍길동\.ssh/id_ed25519` on Windows
    /// (in key-format, agent-disabled's `ssh-add "…"`, the icacls lines).
    #[test]
    fn tilde_paths_are_spelled_with_the_platform_separator_only() {
        let ctx = Context {
            home: home(),
            user_home: home(),
            ..Context::current()
        };
        let s = MAIN_SEPARATOR;
        for (written, want) in [
            ("~/.ssh/id_ed25519", format!("{s}.ssh{s}id_ed25519")),
            ("~/.ssh//keys/id", format!("{s}.ssh{s}keys{s}id")),
            ("~", String::new()),
        ] {
            let got = ctx.home_path(written).display().to_string();
            assert_eq!(got, format!("{}{want}", home().display()), "{written}");
        }
        // Other paths are the user's spelling, as ssh opens them.
        assert_eq!(
            ctx.home_path("C:/keys/id").display().to_string(),
            "C:/keys/id"
        );
    }
}
