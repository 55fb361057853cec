//! Windows file security as OpenSSH for Windows judges it (F16/F17): the
//! owner and the DACL of the config and of each private key. The verdict
//! and the owner-only ACL are plain data, built and judged on every
//! platform (and tested so); reading and writing a real security
//! descriptor is the thin Win32 part at the bottom, behind `cfg(windows)`.

/// SYSTEM (`NT AUTHORITY\SYSTEM`).
pub const SYSTEM: &str = "S-1-5-18";
/// The local Administrators group (`BUILTIN\Administrators`).
pub const ADMINISTRATORS: &str = "S-1-5-32-544";
/// `FILE_ALL_ACCESS`: what each of the three owner-only entries grants.
pub const FULL: u32 = 0x001F_01FF;

/// One access control entry, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// The trustee's SID (`S-1-5-…`).
    pub sid: String,
    /// An allow entry (deny entries never widen access: OpenSSH skips them).
    pub allow: bool,
    pub mask: u32,
    /// Inherited from the folder (the entry goes when inheritance is off).
    pub inherited: bool,
}

/// A file's owner and DACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub owner: String,
    /// Inheritance off (`SE_DACL_PROTECTED`).
    pub protected: bool,
    pub aces: Vec<Ace>,
}

/// The SIDs OpenSSH for Windows accepts as owner of, and with access to, a
/// user's config or key: the user, SYSTEM and Administrators
/// (`secure_file_permission` in contrib/win32/win32compat/w32-sshfileperm.c).
fn trusted(sid: &str, user: &str) -> bool {
    sid == user || sid == SYSTEM || sid == ADMINISTRATORS
}

/// What OpenSSH for Windows refuses in `d` for `user` (its words: "Bad
/// permissions. Try removing permissions for user: SID"), or nothing.
/// Inheritance left on is reported too: the next folder change, or the
/// temp-and-rename of any editor, brings foreign entries back.
pub fn problems(d: &Descriptor, user: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !trusted(&d.owner, user) {
        out.push(format!(
            "owned by {} (not you, SYSTEM or Administrators): Bad owner or permissions",
            d.owner
        ));
    }
    for a in &d.aces {
        if a.allow && a.mask != 0 && !trusted(&a.sid, user) {
            let who = well_known_name(&a.sid).unwrap_or(&a.sid);
            let line = format!(
                "Bad permissions. Try removing permissions for user: {who} ({})",
                a.sid
            );
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}

/// Whether `d` is already what [`owner_only`] builds (owner trusted,
/// inheritance off, only trusted allow entries).
pub fn is_owner_only(d: &Descriptor, user: &str) -> bool {
    problems(d, user).is_empty() && d.protected && d.aces.iter().all(|a| !a.inherited)
}

/// Whether runpod-ssh may change `d`'s ACL for `user`: the user owns the
/// file, or Administrators does (what an elevated prompt creates in the
/// user's profile). Never another account's file, and never by taking
/// ownership (WRITE_OWNER alone allows that): "only files the user owns".
pub fn may_repair(d: &Descriptor, user: &str) -> bool {
    d.owner == user || d.owner == ADMINISTRATORS
}

/// The owner-only descriptor for `user`: owner the user, inheritance off,
/// full control for the user, SYSTEM and Administrators, nothing else
/// (what OpenSSH for Windows demands and its docs' icacls lines make).
pub fn owner_only(user: &str) -> Descriptor {
    Descriptor {
        owner: user.to_string(),
        protected: true,
        aces: [user, SYSTEM, ADMINISTRATORS]
            .into_iter()
            .map(|sid| Ace {
                sid: sid.to_string(),
                allow: true,
                mask: FULL,
                inherited: false,
            })
            .collect(),
    }
}

/// Names for the SIDs that show up in real reports.
pub fn well_known_name(sid: &str) -> Option<&'static str> {
    Some(match sid {
        "S-1-1-0" => "Everyone",
        "S-1-5-11" => "NT AUTHORITY\\Authenticated Users",
        "S-1-5-32-545" => "BUILTIN\\Users",
        "S-1-5-18" => "NT AUTHORITY\\SYSTEM",
        "S-1-5-32-544" => "BUILTIN\\Administrators",
        _ => return None,
    })
}

#[cfg(windows)]
pub use win::{
    create_owner_only_folder, current_user_sid, owner_only_sd_and_back, read, repair_owner_only,
    to_acl_and_back, write_owner_only, write_owner_only_folder,
};

#[cfg(windows)]
mod win {
    use super::{Ace, Descriptor};
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
    use windows_sys::Win32::Security::Authorization::{
        ConvertSidToStringSidW, ConvertStringSidToSidW, GetNamedSecurityInfoW, SE_FILE_OBJECT,
        SetNamedSecurityInfoW,
    };
    use windows_sys::Win32::Security::{
        ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, ACL_REVISION, ACL_SIZE_INFORMATION,
        AclSizeInformation, AddAccessAllowedAceEx, DACL_SECURITY_INFORMATION, GetAce,
        GetAclInformation, GetLengthSid, GetSecurityDescriptorControl, GetSecurityDescriptorDacl,
        GetSecurityDescriptorOwner, GetTokenInformation, INHERITED_ACE, InitializeAcl,
        InitializeSecurityDescriptor, OWNER_SECURITY_INFORMATION,
        PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SE_DACL_PROTECTED,
        SECURITY_ATTRIBUTES, SECURITY_DESCRIPTOR, SetSecurityDescriptorControl,
        SetSecurityDescriptorDacl, SetSecurityDescriptorOwner, TOKEN_QUERY, TOKEN_USER, TokenUser,
    };
    use windows_sys::Win32::Storage::FileSystem::CreateDirectoryW;
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;

    fn wide(p: &Path) -> Vec<u16> {
        p.as_os_str().encode_wide().chain([0]).collect()
    }

    fn sid_string(sid: PSID) -> io::Result<String> {
        let mut s: windows_sys::core::PWSTR = std::ptr::null_mut();
        // SAFETY: `sid` is a valid SID; the string is LocalFree'd below.
        if unsafe { ConvertSidToStringSidW(sid, &mut s) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut n = 0;
        // SAFETY: a NUL-terminated string the call allocated.
        while unsafe { *s.add(n) } != 0 {
            n += 1;
        }
        let out = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(s, n) });
        unsafe { LocalFree(s.cast()) };
        Ok(out)
    }

    /// A SID from its string form, freed when dropped.
    struct Sid(PSID);
    impl Sid {
        fn parse(s: &str) -> io::Result<Sid> {
            let w: Vec<u16> = s.encode_utf16().chain([0]).collect();
            let mut p: PSID = std::ptr::null_mut();
            // SAFETY: NUL-terminated input; the SID is LocalFree'd on drop.
            if unsafe { ConvertStringSidToSidW(w.as_ptr(), &mut p) } == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Sid(p))
        }
    }
    impl Drop for Sid {
        fn drop(&mut self) {
            // SAFETY: allocated by ConvertStringSidToSidW.
            unsafe { LocalFree(self.0) };
        }
    }

    /// The SID of the account running this process.
    pub fn current_user_sid() -> io::Result<String> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: the pseudo handle needs no closing; the token is closed below.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u64; 128];
        let mut len = 0u32;
        // SAFETY: the buffer is 1 KiB, 8-aligned; TOKEN_USER fits.
        let ok = unsafe {
            GetTokenInformation(
                token,
                TokenUser,
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                &mut len,
            )
        };
        let err = io::Error::last_os_error();
        unsafe { CloseHandle(token) };
        if ok == 0 {
            return Err(err);
        }
        // SAFETY: on success the buffer starts with a TOKEN_USER.
        let tu = unsafe { &*(buf.as_ptr() as *const TOKEN_USER) };
        sid_string(tu.User.Sid)
    }

    /// The entries of an ACL.
    unsafe fn aces_of(acl: *const ACL) -> io::Result<Vec<Ace>> {
        let mut out = Vec::new();
        if acl.is_null() {
            // A NULL DACL grants everyone everything.
            out.push(Ace {
                sid: "S-1-1-0".into(),
                allow: true,
                mask: super::FULL,
                inherited: false,
            });
            return Ok(out);
        }
        let mut info: ACL_SIZE_INFORMATION = unsafe { std::mem::zeroed() };
        if unsafe {
            GetAclInformation(
                acl,
                (&mut info as *mut ACL_SIZE_INFORMATION).cast(),
                std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
                AclSizeInformation,
            )
        } == 0
        {
            return Err(io::Error::last_os_error());
        }
        for i in 0..info.AceCount {
            let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
            if unsafe { GetAce(acl, i, &mut ace) } == 0 {
                return Err(io::Error::last_os_error());
            }
            let header = unsafe { &*(ace as *const ACE_HEADER) };
            let inherited = header.AceFlags as u32 & INHERITED_ACE != 0;
            // Allow and deny entries share the layout (header, mask, SID).
            let a = unsafe { &*(ace as *const ACCESS_ALLOWED_ACE) };
            let sid = sid_string((&a.SidStart as *const u32).cast_mut().cast())?;
            out.push(Ace {
                sid,
                allow: header.AceType == ACCESS_ALLOWED_ACE_TYPE,
                mask: a.Mask,
                inherited,
            });
        }
        Ok(out)
    }

    /// The owner and DACL of `path` (GetNamedSecurityInfoW).
    pub fn read(path: &Path) -> io::Result<Descriptor> {
        let w = wide(path);
        let mut owner: PSID = std::ptr::null_mut();
        let mut dacl: *mut ACL = std::ptr::null_mut();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: out-pointers into `sd`, LocalFree'd below.
        let rc = unsafe {
            GetNamedSecurityInfoW(
                w.as_ptr(),
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                &mut owner,
                std::ptr::null_mut(),
                &mut dacl,
                std::ptr::null_mut(),
                &mut sd,
            )
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        let result = (|| {
            let mut control = 0u16;
            let mut rev = 0u32;
            // SAFETY: `sd` is the descriptor just read.
            unsafe { GetSecurityDescriptorControl(sd, &mut control, &mut rev) };
            Ok(Descriptor {
                owner: if owner.is_null() {
                    String::new()
                } else {
                    sid_string(owner)?
                },
                protected: control & SE_DACL_PROTECTED != 0,
                aces: unsafe { aces_of(dacl)? },
            })
        })();
        unsafe { LocalFree(sd) };
        result
    }

    /// Build `d`'s DACL in memory (InitializeAcl, AddAccessAllowedAceEx).
    fn build_acl(d: &Descriptor) -> io::Result<(Vec<u64>, Vec<Sid>)> {
        let sids: Vec<Sid> = d
            .aces
            .iter()
            .map(|a| Sid::parse(&a.sid))
            .collect::<io::Result<_>>()?;
        let size: u32 = 8 + sids
            .iter()
            // SAFETY: valid SIDs.
            .map(|s| 8 + unsafe { GetLengthSid(s.0) })
            .sum::<u32>();
        let mut buf = vec![0u64; (size as usize).div_ceil(8) + 1];
        let acl = buf.as_mut_ptr() as *mut ACL;
        // SAFETY: `buf` holds `size` bytes, 8-aligned.
        if unsafe { InitializeAcl(acl, size, ACL_REVISION) } == 0 {
            return Err(io::Error::last_os_error());
        }
        for (a, s) in d.aces.iter().zip(&sids) {
            // SAFETY: room was reserved for each entry.
            if unsafe { AddAccessAllowedAceEx(acl, ACL_REVISION, 0, a.mask, s.0) } == 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok((buf, sids))
    }

    /// `d`'s DACL built as [`write_owner_only`] builds it, read back as
    /// entries: the descriptor-building logic, without a file system that
    /// keeps security descriptors.
    pub fn to_acl_and_back(d: &Descriptor) -> io::Result<Vec<Ace>> {
        let (buf, _sids) = build_acl(d)?;
        // SAFETY: a valid ACL built above.
        unsafe { aces_of(buf.as_ptr() as *const ACL) }
    }

    /// [`super::owner_only`] for `user` as an absolute security descriptor
    /// (owner the user, the DACL, `SE_DACL_PROTECTED`); the ACL and SIDs it
    /// points into live as long as it does.
    struct OwnerOnlySd {
        sd: Box<SECURITY_DESCRIPTOR>,
        _acl: Vec<u64>,
        _sids: Vec<Sid>,
        _owner: Sid,
    }

    impl OwnerOnlySd {
        fn new(user: &str) -> io::Result<OwnerOnlySd> {
            const SECURITY_DESCRIPTOR_REVISION: u32 = 1;
            let (acl, sids) = build_acl(&super::owner_only(user))?;
            let owner = Sid::parse(user)?;
            let mut sd: Box<SECURITY_DESCRIPTOR> = Box::default();
            let p: PSECURITY_DESCRIPTOR = (&mut *sd as *mut SECURITY_DESCRIPTOR).cast();
            // SAFETY: `p` is a boxed SECURITY_DESCRIPTOR; the owner SID and
            // the ACL it is made to point at are moved into the result with
            // it (heap buffers: their addresses do not change).
            let ok = unsafe {
                InitializeSecurityDescriptor(p, SECURITY_DESCRIPTOR_REVISION) != 0
                    && SetSecurityDescriptorOwner(p, owner.0, 0) != 0
                    && SetSecurityDescriptorDacl(p, 1, acl.as_ptr() as *const ACL, 0) != 0
                    && SetSecurityDescriptorControl(p, SE_DACL_PROTECTED, SE_DACL_PROTECTED) != 0
            };
            if !ok {
                return Err(io::Error::last_os_error());
            }
            Ok(OwnerOnlySd {
                sd,
                _acl: acl,
                _sids: sids,
                _owner: owner,
            })
        }

        fn as_ptr(&self) -> PSECURITY_DESCRIPTOR {
            (&*self.sd as *const SECURITY_DESCRIPTOR).cast_mut().cast()
        }
    }

    /// The descriptor [`create_owner_only_folder`] hands to
    /// `CreateDirectoryW`, read back field by field (owner, control, DACL):
    /// the building logic, without a file system that keeps descriptors.
    pub fn owner_only_sd_and_back(user: &str) -> io::Result<Descriptor> {
        let sd = OwnerOnlySd::new(user)?;
        let p = sd.as_ptr();
        let (mut owner, mut dacl): (PSID, *mut ACL) = (std::ptr::null_mut(), std::ptr::null_mut());
        let (mut defaulted, mut present, mut control, mut rev) = (0, 0, 0u16, 0u32);
        // SAFETY: `p` is the valid descriptor built above.
        let ok = unsafe {
            GetSecurityDescriptorOwner(p, &mut owner, &mut defaulted) != 0
                && GetSecurityDescriptorDacl(p, &mut present, &mut dacl, &mut defaulted) != 0
                && GetSecurityDescriptorControl(p, &mut control, &mut rev) != 0
        };
        if !ok || present == 0 || owner.is_null() {
            return Err(io::Error::other("the descriptor lacks an owner or a DACL"));
        }
        Ok(Descriptor {
            owner: sid_string(owner)?,
            protected: control & SE_DACL_PROTECTED != 0,
            aces: unsafe { aces_of(dacl)? },
        })
    }

    /// Create the folder `path` with the owner-only descriptor already set
    /// (`CreateDirectoryW` with SECURITY_ATTRIBUTES): no moment in which
    /// what `%ProgramData%` hands down lets another user add a file.
    /// `Ok(false)`: it exists already (made by someone, maybe another
    /// user, since we looked): the caller checks whose it is.
    pub fn create_owner_only_folder(path: &Path) -> io::Result<bool> {
        let sd = OwnerOnlySd::new(&current_user_sid()?)?;
        let sa = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: sd.as_ptr(),
            bInheritHandle: 0,
        };
        let w = wide(path);
        // SAFETY: NUL-terminated path; `sa` and the descriptor outlive the call.
        if unsafe { CreateDirectoryW(w.as_ptr(), &sa) } != 0 {
            return Ok(true);
        }
        match io::Error::last_os_error() {
            e if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            e => Err(e),
        }
    }

    /// Give `path` the owner-only DACL for the current user, inheritance
    /// off. Only a regular file (not a link: it may point anywhere) that
    /// [`super::may_repair`] allows, checked again here, at the moment of
    /// the change; the owner is never changed.
    pub fn write_owner_only(path: &Path) -> io::Result<()> {
        if !std::fs::symlink_metadata(path)?.file_type().is_file() {
            return Err(io::Error::other(
                "not a regular file (a link or a folder): its ACL was left alone",
            ));
        }
        set_owner_only(path)
    }

    /// [`write_owner_only`] for a folder runpod-ssh made (F20's
    /// `%ProgramData%\ssh-<name>`): a real folder, never a link or a
    /// junction (either may point anywhere).
    pub fn write_owner_only_folder(path: &Path) -> io::Result<()> {
        let ft = std::fs::symlink_metadata(path)?.file_type();
        if !ft.is_dir() || ft.is_symlink() {
            return Err(io::Error::other(
                "not a folder (a link or a file): its ACL was left alone",
            ));
        }
        set_owner_only(path)
    }

    fn set_owner_only(path: &Path) -> io::Result<()> {
        let user = current_user_sid()?;
        let current = read(path)?;
        if !super::may_repair(&current, &user) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "it belongs to another account ({}): its ACL was left alone",
                    current.owner
                ),
            ));
        }
        let want = super::owner_only(&user);
        let (buf, _sids) = build_acl(&want)?;
        let what = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
        let w = wide(path);
        // SAFETY: valid path and ACL for the call's duration.
        let rc = unsafe {
            SetNamedSecurityInfoW(
                w.as_ptr(),
                SE_FILE_OBJECT,
                what,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                buf.as_ptr() as *const ACL,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        Ok(())
    }

    /// [`write_owner_only`], then read back: a file system that keeps no
    /// security descriptors (Wine 8.0 reports success and keeps nothing)
    /// is an error, never a silent "fixed".
    pub fn repair_owner_only(path: &Path) -> io::Result<()> {
        write_owner_only(path)?;
        let user = current_user_sid()?;
        let got = read(path)?;
        if super::is_owner_only(&got, &user) {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the new ACL did not stick (still: {})",
                super::problems(&got, &user).join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";

    fn ace(sid: &str, inherited: bool) -> Ace {
        Ace {
            sid: sid.into(),
            allow: true,
            mask: FULL,
            inherited,
        }
    }

    #[test]
    fn openssh_refuses_inherited_authenticated_users_and_foreign_owner() {
        // What a key copied from Downloads carries: inherited Users and
        // Authenticated Users entries.
        let d = Descriptor {
            owner: ME.into(),
            protected: false,
            aces: vec![
                ace(ME, true),
                ace(SYSTEM, true),
                ace("S-1-5-11", true),
                ace("S-1-5-32-545", true),
            ],
        };
        let p = problems(&d, ME);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("NT AUTHORITY\\Authenticated Users (S-1-5-11)"));
        assert!(p[1].contains("BUILTIN\\Users (S-1-5-32-545)"));
        assert!(!is_owner_only(&d, ME));
        let foreign = Descriptor {
            owner: "S-1-5-21-1-2-3-1002".into(),
            ..owner_only(ME)
        };
        assert!(problems(&foreign, ME)[0].contains("Bad owner"));
        // A deny entry narrows access: never a problem.
        let deny = Descriptor {
            aces: vec![Ace {
                allow: false,
                ..ace("S-1-1-0", false)
            }],
            ..owner_only(ME)
        };
        assert!(problems(&deny, ME).is_empty());
    }

    #[test]
    fn owner_only_is_the_user_system_and_administrators_with_inheritance_off() {
        let d = owner_only(ME);
        assert_eq!(d.owner, ME);
        assert!(d.protected);
        let sids: Vec<&str> = d.aces.iter().map(|a| a.sid.as_str()).collect();
        assert_eq!(sids, [ME, SYSTEM, ADMINISTRATORS]);
        assert!(
            d.aces
                .iter()
                .all(|a| a.allow && a.mask == FULL && !a.inherited)
        );
        assert!(is_owner_only(&d, ME));
        // Right entries, inheritance still on: not yet owner-only.
        assert!(!is_owner_only(
            &Descriptor {
                protected: false,
                ..d
            },
            ME
        ));
    }

    /// Hostile review: the repair took ownership of a file another account
    /// owns (setting the owner needs only WRITE_OWNER, which a DACL that
    /// grants Everyone full control gives) and cut that account out. Only
    /// a file the user owns, or Administrators (what an elevated prompt
    /// creates), is repaired.
    #[test]
    fn acl_repair_only_touches_files_the_user_or_administrators_own() {
        let of = |owner: &str| Descriptor {
            owner: owner.into(),
            protected: false,
            aces: vec![ace("S-1-1-0", true)],
        };
        assert!(may_repair(&of(ME), ME));
        assert!(may_repair(&of(ADMINISTRATORS), ME));
        assert!(!may_repair(
            &of("S-1-5-21-1004336348-1177238915-682003330-1002"),
            ME
        ));
        assert!(!may_repair(&of(SYSTEM), ME));
        assert!(!may_repair(&of(""), ME));
    }

    /// Wine makes a file's descriptor up from its Unix owner: a file this
    /// process creates must read as the user's own, or the guard above
    /// would refuse every repair in the Windows lane (and on Windows).
    #[cfg(windows)]
    #[test]
    fn a_new_file_reads_as_owned_by_the_current_user() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        std::fs::write(&p, "x").unwrap();
        let user = current_user_sid().unwrap();
        let d = read(&p).unwrap();
        assert!(may_repair(&d, &user), "{d:?} (user {user})");
    }

    /// The descriptor is built with the real Win32 calls and read back:
    /// what `write_owner_only` sets, whether or not the file system keeps
    /// security descriptors (Wine's may not).
    #[cfg(windows)]
    #[test]
    fn owner_only_acl_built_with_win32_reads_back_as_built() {
        let user = current_user_sid().expect("token user");
        assert!(user.starts_with("S-1-"), "{user}");
        let d = owner_only(&user);
        assert_eq!(to_acl_and_back(&d).unwrap(), d.aces);
    }

    /// F20's `%ProgramData%\ssh-<name>`: the folder's own ACL is set (the
    /// file-only guard made `fix --yes` stop after the mkdir on Windows);
    /// a file is still refused here, a folder by `write_owner_only`.
    #[cfg(windows)]
    #[test]
    fn owner_only_folder_takes_a_folder_and_refuses_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ssh-hong");
        std::fs::create_dir(&f).unwrap();
        write_owner_only_folder(&f).expect("a folder");
        assert!(write_owner_only(&f).is_err());
        let file = f.join("config");
        std::fs::write(&file, "x").unwrap();
        assert!(write_owner_only_folder(&file).is_err());
    }

    /// Hostile review (F20): the folder was made with what `%ProgramData%`
    /// hands down and locked afterwards. The descriptor `CreateDirectoryW`
    /// now gets is built with the real Win32 calls and read back from
    /// memory: owner the user, inheritance off, the user, SYSTEM and
    /// Administrators only.
    #[cfg(windows)]
    #[test]
    fn folder_create_descriptor_is_owner_only_from_the_first_moment() {
        let user = current_user_sid().unwrap();
        let got = owner_only_sd_and_back(&user).expect("build the descriptor");
        assert_eq!(got, owner_only(&user));
        assert!(is_owner_only(&got, &user), "{got:?}");
    }

    /// The create path itself: `CreateDirectoryW` takes the descriptor
    /// (Wine too) and makes a folder the user owns; one already there is
    /// `Ok(false)` (the caller then judges whose it is), never an error or
    /// a second "made it".
    #[cfg(windows)]
    #[test]
    fn create_owner_only_folder_makes_the_users_folder_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ssh-u1a2b3c4d");
        assert!(create_owner_only_folder(&f).expect("CreateDirectoryW"));
        assert!(f.is_dir());
        let user = current_user_sid().unwrap();
        assert_eq!(read(&f).unwrap().owner, user);
        assert!(!create_owner_only_folder(&f).unwrap());
        assert!(create_owner_only_folder(&dir.path().join("no/such")).is_err());
    }

    /// What Wine cannot show: the folder keeps the descriptor it was made
    /// with. Run with `--ignored` on Windows.
    #[cfg(windows)]
    #[test]
    #[ignore = "Wine keeps no file security descriptors; run on Windows"]
    fn a_created_folder_reads_back_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ssh-hong");
        assert!(create_owner_only_folder(&f).unwrap());
        let user = current_user_sid().unwrap();
        let d = read(&f).unwrap();
        assert!(is_owner_only(&d, &user), "{d:?}");
    }

    /// A file with the folder's inherited ACL, repaired and read back from
    /// the file system. Real Windows only: Wine 8.0 synthesises a file's
    /// descriptor from its Unix mode and keeps none that is set (checked:
    /// SetNamedSecurityInfoW returns success, no `user.wine.sd` xattr, mode
    /// unchanged). Run with `--ignored` on Windows.
    #[cfg(windows)]
    #[test]
    #[ignore = "Wine keeps no file security descriptors; run on Windows"]
    fn owner_only_is_written_to_a_file_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("id_ed25519");
        std::fs::write(&p, "key").unwrap();
        let user = current_user_sid().unwrap();
        let before = read(&p).expect("read the security descriptor");
        eprintln!("before: {before:?}");
        repair_owner_only(&p).expect("write the owner-only ACL");
        let after = read(&p).unwrap();
        assert!(is_owner_only(&after, &user), "{after:?}");
        assert_eq!(std::fs::read(&p).unwrap(), b"key");
    }
}
