//! WSL: inside the Windows Subsystem for Linux, VS Code runs on Windows
//! and reads the Windows user's config (`C:\Users\<name>\.ssh\config`),
//! not the one in WSL. This module finds that side — whether this is WSL
//! (the kernel release names Microsoft) and where the Windows home is
//! (`cmd.exe /c echo %USERPROFILE%`, then `wslpath -u`; never guessed) —
//! and plans the copy of a host entry there: its options with Windows-side
//! paths (`~/.ssh/NAME`, which OpenSSH for Windows expands to
//! `%USERPROFILE%`) and the key files to copy. Writing is the command
//! edge's (`commands::wsl`), through `fsio` like every write.
//!
//! Test seams (documented in the README; also an override when WSL's
//! interop is off): [`OSRELEASE_VAR`] names the file read instead of
//! `/proc/sys/kernel/osrelease`; [`USERPROFILE_VAR`] and
//! [`USERPROFILE_PATH_VAR`] give the Windows home in its two spellings
//! instead of running `cmd.exe` and `wslpath`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::keywords::{self, Kind};
use crate::config::{BlockKind, Context, Document, pattern};
use crate::runpod;

/// The file read instead of `/proc/sys/kernel/osrelease`.
pub const OSRELEASE_VAR: &str = "RUNPOD_SSH_WSL_OSRELEASE";
/// `%USERPROFILE%` as Windows spells it (`C:\Users\hong`), instead of
/// asking `cmd.exe`.
pub const USERPROFILE_VAR: &str = "RUNPOD_SSH_WSL_USERPROFILE";
/// The same folder as WSL sees it (`/mnt/c/Users/hong`), instead of
/// asking `wslpath -u`.
pub const USERPROFILE_PATH_VAR: &str = "RUNPOD_SSH_WSL_USERPROFILE_PATH";

const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
/// How long `cmd.exe` or `wslpath` may take (interop starts a Windows
/// process; a hung one must not hang `add`).
const TOOL_PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum WslError {
    #[error(
        "cannot find the Windows user's home from WSL ({0}); name it with {USERPROFILE_VAR}='C:\\Users\\NAME' and {USERPROFILE_PATH_VAR}=/mnt/c/Users/NAME"
    )]
    NoHome(String),
    #[error("{alias}: {why}; it was not written to the Windows config")]
    Entry { alias: String, why: String },
}

/// Whether a kernel release string is WSL's (`5.15.153.1-microsoft-standard-WSL2`,
/// WSL 1's `4.4.0-19041-Microsoft`).
pub fn kernel_is_wsl(release: &str) -> bool {
    release.to_ascii_lowercase().contains("microsoft")
}

/// Whether runpod-ssh runs inside WSL. A native Windows build is never in
/// WSL (unless a test names a release file).
pub fn detect() -> bool {
    let path = match std::env::var_os(OSRELEASE_VAR).filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None if cfg!(windows) => return false,
        None => PathBuf::from(OSRELEASE),
    };
    crate::fsio::read_limited(&path)
        .is_ok_and(|c| kernel_is_wsl(&String::from_utf8_lossy(&c.bytes)))
}

/// The Windows user's home, in both spellings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WindowsHome {
    /// `%USERPROFILE%`: `C:\Users\hong`.
    pub windows: String,
    /// The same folder from WSL: `/mnt/c/Users/hong`.
    pub path: PathBuf,
}

impl WindowsHome {
    /// Ask Windows: the seams first, else `cmd.exe /d /u /c echo
    /// %USERPROFILE%` (`/u`: UTF-16 output, so a Hangul name survives any
    /// console code page; `/d`: no AutoRun commands) and `wslpath -u`.
    /// Either step failing is an error, never a guess.
    pub fn find() -> Result<WindowsHome, WslError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let windows = match var(USERPROFILE_VAR) {
            Some(w) => w,
            None => {
                let out = run_tool("cmd.exe", &["/d", "/u", "/c", "echo", "%USERPROFILE%"])?;
                decode_cmd_output(&out).ok_or_else(|| {
                    WslError::NoHome(
                        "cmd.exe printed no %USERPROFILE% runpod-ssh could read".into(),
                    )
                })?
            }
        };
        if !looks_like_windows_path(&windows) {
            return Err(WslError::NoHome(format!(
                "%USERPROFILE% is {windows:?}, not a Windows path"
            )));
        }
        let path = match var(USERPROFILE_PATH_VAR) {
            Some(p) => PathBuf::from(p),
            None => {
                let out = run_tool("wslpath", &["-u", &windows])?;
                let s = String::from_utf8(out)
                    .map_err(|_| WslError::NoHome("wslpath printed no UTF-8".into()))?;
                PathBuf::from(s.trim_end_matches(['\r', '\n']))
            }
        };
        if !path.is_absolute() || !path.is_dir() {
            return Err(WslError::NoHome(format!(
                "{} (for {windows}) is not a folder",
                path.display()
            )));
        }
        Ok(WindowsHome { windows, path })
    }

    /// `%USERPROFILE%\.ssh\config` as WSL sees it.
    pub fn config(&self) -> PathBuf {
        self.path.join(".ssh").join("config")
    }

    /// How Windows spells `p` (a path under the home), for messages and
    /// the `icacls` line; other paths as they are.
    pub fn windows_path(&self, p: &Path) -> String {
        match p.strip_prefix(&self.path) {
            Ok(rest) => {
                let mut s = self.windows.trim_end_matches('\\').to_string();
                for c in rest.components() {
                    s.push('\\');
                    s.push_str(&c.as_os_str().to_string_lossy());
                }
                s
            }
            Err(_) => p.display().to_string(),
        }
    }

    /// A Windows-side path (a `remote.SSH.configFile` value) as WSL sees
    /// it: `~` and paths under `%USERPROFILE%` by the home's two
    /// spellings, other drive paths through `wslpath -u`; `None` when it
    /// cannot be told.
    pub fn to_linux(&self, win: &str) -> Option<PathBuf> {
        let rel = |rest: &str| {
            let mut p = self.path.clone();
            p.extend(rest.split(['\\', '/']).filter(|c| !c.is_empty()));
            p
        };
        if let Some(rest) = win.strip_prefix("~/").or_else(|| win.strip_prefix("~\\")) {
            return Some(rel(rest));
        }
        let home = self.windows.trim_end_matches('\\');
        if win.len() > home.len()
            && win.is_char_boundary(home.len())
            && win[..home.len()].eq_ignore_ascii_case(home)
            && matches!(win.as_bytes()[home.len()], b'\\' | b'/')
        {
            return Some(rel(&win[home.len()..]));
        }
        if !looks_like_windows_path(win) || std::env::var_os(USERPROFILE_PATH_VAR).is_some() {
            return None;
        }
        let out = run_tool("wslpath", &["-u", win]).ok()?;
        let s = String::from_utf8(out).ok()?;
        Some(PathBuf::from(s.trim_end_matches(['\r', '\n'])))
    }

    /// VS Code's settings files on the Windows side
    /// (`%APPDATA%\<product>\User\settings.json`, APPDATA being the
    /// profile's `AppData\Roaming`), for the products installed there.
    pub fn vscode_settings(&self) -> Vec<PathBuf> {
        let roaming = self.path.join("AppData").join("Roaming");
        crate::vscode::settings_candidates(&roaming)
            .into_iter()
            .filter(|p| p.parent().is_some_and(Path::is_dir))
            .collect()
    }
}

/// `C:\…`, `C:/…` or a UNC path, with no character a Windows path
/// cannot hold (the value is quoted in the printed `icacls` line).
fn looks_like_windows_path(s: &str) -> bool {
    let b = s.as_bytes();
    if s.chars()
        .any(|c| c.is_control() || matches!(c, '"' | '<' | '>' | '|' | '?' | '*'))
    {
        return false;
    }
    (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/'))
        || s.starts_with("\\\\")
}

/// What `cmd.exe /u /c echo` printed: UTF-16LE (an ASCII-only stream is
/// taken as it is, for a cmd that ignored `/u`); `None` for anything else
/// or an unset variable (cmd echoes `%USERPROFILE%` back).
pub fn decode_cmd_output(bytes: &[u8]) -> Option<String> {
    let text = if bytes.len() >= 2
        && bytes.len().is_multiple_of(2)
        && bytes.iter().skip(1).step_by(2).any(|&b| b == 0)
    {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).ok()?
    } else if bytes.is_ascii() {
        String::from_utf8(bytes.to_vec()).ok()?
    } else {
        return None;
    };
    let line = text
        .trim_start_matches('\u{feff}')
        .trim_end_matches(['\r', '\n', ' ']);
    (!line.is_empty() && !line.contains('%') && !line.contains(['\r', '\n']))
        .then(|| line.to_string())
}

/// Run a WSL tool (by name, from PATH as the shell would) with nothing on
/// stdin; its stdout, or why not. Killed after [`TOOL_PATIENCE`].
fn run_tool(program: &str, args: &[&str]) -> Result<Vec<u8>, WslError> {
    let no = |why: String| WslError::NoHome(format!("{program}: {why}"));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| no(e.to_string()))?;
    let mut stdout = child.stdout.take().ok_or_else(|| no("no output".into()))?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() < TOOL_PATIENCE => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(no(format!("no answer in {} s", TOOL_PATIENCE.as_secs())));
            }
            Err(e) => return Err(no(e.to_string())),
        }
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(no(format!("exited with {status}")));
    }
    Ok(out)
}

// ---------------------------------------------------------------- the entry

/// A file to copy to the Windows side, with the bytes that were read (the
/// very bytes compared and written).
#[derive(Debug, Clone)]
pub struct KeyCopy {
    pub from: PathBuf,
    pub to: PathBuf,
    pub bytes: Vec<u8>,
    /// A private key (the `.pub` beside it is not).
    pub private: bool,
    /// Already there with these bytes: nothing to write.
    pub present: bool,
}

/// One entry as the Windows side gets it.
#[derive(Debug, Clone)]
pub struct MirrorEntry {
    pub alias: String,
    /// (keyword, value) in the entry's order, paths Windows-side.
    pub options: Vec<(String, String)>,
    pub copies: Vec<KeyCopy>,
    /// Lines left out (and why).
    pub notes: Vec<String>,
}

/// Keywords whose value is a command or a Linux socket: the entry cannot
/// be copied as it is (a Linux command does not run on Windows).
const COMMANDS: &[&str] = &[
    "proxycommand",
    "localcommand",
    "knownhostscommand",
    "pkcs11provider",
    "securitykeyprovider",
    "remotecommand",
];
/// Left out on Windows: OpenSSH for Windows has no connection sharing
/// (failures.md F42), and an agent socket path is WSL's.
const DROPPED: &[&str] = &[
    "controlmaster",
    "controlpath",
    "controlpersist",
    "identityagent",
];

/// Plan the Windows-side copy of the `Host alias` entry of `doc` (WSL's
/// config, `~` being `wsl.user_home`). `existing` reads a Windows-side
/// file (`None`: absent). A key whose name is taken on the Windows side
/// by another key goes to `NAME-wsl`; when that is taken too, the entry
/// is refused (a key is never overwritten).
pub fn plan_entry(
    doc: &Document,
    alias: &str,
    wsl: &Context,
    win: &WindowsHome,
    existing: &dyn Fn(&Path) -> Option<Vec<u8>>,
) -> Result<MirrorEntry, WslError> {
    let err = |why: String| WslError::Entry {
        alias: alias.to_string(),
        why,
    };
    let blocks = doc.blocks();
    let bi = *doc
        .host_blocks_naming(alias)
        .first()
        .ok_or_else(|| err("no such entry in WSL's config".into()))?;
    let block = &blocks[bi];
    if block.patterns.len() != 1 {
        return Err(err(format!(
            "its Host line also names {}",
            block.patterns.join(" ")
        )));
    }
    let mut m = MirrorEntry {
        alias: alias.to_string(),
        options: Vec::new(),
        copies: Vec::new(),
        notes: Vec::new(),
    };
    for li in block.lines.clone() {
        let line = &doc.lines()[li];
        let (Some(kw), false) = (line.keyword(), line.is_header()) else {
            continue;
        };
        let lower = kw.to_ascii_lowercase();
        let kw = match keywords::canonical_case(kw) {
            "" => kw,
            c => c,
        };
        let values: Vec<String> = line.values().into_iter().map(str::to_string).collect();
        if COMMANDS.contains(&lower.as_str()) {
            return Err(err(format!(
                "its {kw} runs a Linux command, which Windows' ssh cannot"
            )));
        }
        if lower == "include" {
            // It names WSL's files; on Windows the same words read
            // whatever is at that path there.
            return Err(err(format!(
                "its {kw} names WSL's files, which Windows' ssh does not read; copy it by hand"
            )));
        }
        if DROPPED.contains(&lower.as_str()) {
            m.notes
                .push(format!("{alias}: {kw} left out (not for Windows' ssh)"));
            continue;
        }
        let forward = keywords::lookup(kw).is_some_and(|k| k.kind == Kind::Forward);
        if values.len() != 1 && !forward {
            return Err(err(format!(
                "its {kw} line has {} values; copy it by hand",
                values.len()
            )));
        }
        let value = values.join(" ");
        let value = match lower.as_str() {
            "identityfile" | "certificatefile" => {
                key_value(&value, wsl, win, existing, &mut m.copies).map_err(err)?
            }
            "userknownhostsfile" | "globalknownhostsfile" => {
                known_hosts_value(&value, wsl).map_err(err)?
            }
            _ => value,
        };
        m.options.push((kw.to_string(), value));
    }
    Ok(m)
}

/// An `IdentityFile`/`CertificateFile` value on the Windows side:
/// `~/.ssh/NAME`, the file (and a private key's `.pub`) queued to copy.
fn key_value(
    value: &str,
    wsl: &Context,
    win: &WindowsHome,
    existing: &dyn Fn(&Path) -> Option<Vec<u8>>,
    copies: &mut Vec<KeyCopy>,
) -> Result<String, String> {
    if value.contains('%') || value.contains('$') {
        return Err(format!("its key path {value} uses tokens; copy it by hand"));
    }
    let from = wsl.home_path(value);
    let Some(name) = from.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(format!("{value} names no file"));
    };
    let content = match crate::fsio::read_limited(&from) {
        Ok(c) if !c.device => c.bytes,
        // A missing key is written as `~/.ssh/NAME` (the WSL entry names
        // it too): `add` already warned that it is missing.
        _ => return Ok(format!("~/.ssh/{name}")),
    };
    let dir = win.path.join(".ssh");
    let private = crate::doctor::is_private_key(&content);
    // The public half beside it, when it is there: ssh and `key push`
    // use it; never required.
    let pub_from = PathBuf::from(format!("{}.pub", from.display()));
    let pub_bytes = private
        .then(|| crate::fsio::read_limited(&pub_from).ok())
        .flatten()
        .filter(|c| !c.device)
        .map(|c| c.bytes);
    let mut chosen = None;
    for candidate in [name.clone(), format!("{name}-wsl")] {
        let to = dir.join(&candidate);
        let present = match existing(&to) {
            None => false,
            Some(b) if b == content => true,
            Some(_) => continue,
        };
        // Windows' ssh takes the public half from NAME.pub: another key's
        // there makes a pair that does not match, so the name is taken.
        if private
            && existing(&dir.join(format!("{candidate}.pub")))
                .is_some_and(|b| !same_public(&b, pub_bytes.as_deref(), &content))
        {
            continue;
        }
        chosen = Some((candidate, to, present));
        break;
    }
    let Some((name, to, present)) = chosen else {
        return Err(format!(
            "{} and {}-wsl already hold other keys on the Windows side (never overwritten); pass --identity with another key",
            win.windows_path(&dir.join(&name)),
            win.windows_path(&dir.join(&name)),
        ));
    };
    if let Some(bytes) = pub_bytes {
        let pub_to = dir.join(format!("{name}.pub"));
        // Absent: copied; there, it is the same key (checked above).
        if existing(&pub_to).is_none() {
            copies.push(KeyCopy {
                from: pub_from,
                to: pub_to,
                bytes,
                private: false,
                present: false,
            });
        }
    }
    copies.push(KeyCopy {
        from,
        to,
        bytes: content,
        private,
        present,
    });
    Ok(format!("~/.ssh/{name}"))
}

/// Whether a `.pub` on the Windows side is the public half of `private`:
/// the same bytes as WSL's `.pub`, or the same key (any comment, CRLF).
fn same_public(win_pub: &[u8], wsl_pub: Option<&[u8]>, private: &[u8]) -> bool {
    if wsl_pub == Some(win_pub) {
        return true;
    }
    let theirs = std::str::from_utf8(win_pub)
        .ok()
        .and_then(|t| t.lines().find(|l| !l.trim().is_empty()))
        .and_then(|l| ssh_key::PublicKey::from_openssh(l.trim()).ok());
    let ours = std::str::from_utf8(private)
        .ok()
        .and_then(|t| ssh_key::PrivateKey::from_openssh(t.replace("\r\n", "\n")).ok());
    matches!((theirs, ours), (Some(t), Some(o)) if t.key_data() == o.public_key().key_data())
}

/// A known_hosts value on the Windows side: `~/…` stays (Windows' ssh
/// expands it to `%USERPROFILE%`), a path under WSL's home becomes
/// `~/…`, `/dev/null` and `none` stay; other Linux paths mean nothing
/// there.
fn known_hosts_value(value: &str, wsl: &Context) -> Result<String, String> {
    if value.starts_with("~/") || value == "/dev/null" || value.eq_ignore_ascii_case("none") {
        return Ok(value.to_string());
    }
    match Path::new(value).strip_prefix(&wsl.user_home) {
        Ok(rest) => Ok(format!("~/{}", rest.to_string_lossy())),
        Err(_) => Err(format!(
            "its known_hosts file {value} is outside your home; Windows cannot read it there"
        )),
    }
}

/// Put entry `m` into the Windows config `doc`: a RunPod entry of that
/// alias is updated in place (its own other lines kept), else a new block
/// goes before the first block that would also apply to the alias. A
/// hand-written block of that alias is never changed. Returns the new
/// document and the entry's block index.
pub fn upsert(doc: &Document, m: &MirrorEntry) -> Result<(Document, usize), WslError> {
    let err = |why: String| WslError::Entry {
        alias: m.alias.clone(),
        why,
    };
    let edit = |e: crate::config::EditError| err(e.to_string());
    let mut doc = doc.clone();
    let blocks = doc.blocks();
    if let Some(&bi) = doc.host_blocks_naming(&m.alias).first() {
        let b = &blocks[bi];
        if !runpod::is_runpod_block(&doc, b) {
            return Err(err(format!(
                "the Windows config's block at line {} is hand-written (not a RunPod entry) and is left alone",
                b.header.unwrap_or(0) + 1
            )));
        }
        if b.patterns.len() != 1 {
            return Err(err(format!(
                "the Windows config's block also names {}",
                b.patterns.join(" ")
            )));
        }
        // Keywords given more than once (IdentityFile after a rotation,
        // forwards) are replaced as a group; the rest value by value.
        let mut done: Vec<String> = Vec::new();
        for (k, v) in &m.options {
            let lower = k.to_ascii_lowercase();
            let all: Vec<&str> = m
                .options
                .iter()
                .filter(|(x, _)| x.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
                .collect();
            if all.len() > 1 {
                if done.contains(&lower) {
                    continue;
                }
                done.push(lower);
                doc.remove_option(bi, k).map_err(edit)?;
                for v in all {
                    doc.add_option(bi, k, v).map_err(edit)?;
                }
            } else {
                doc.set_option(bi, k, v).map_err(edit)?;
            }
        }
        return Ok((doc, bi));
    }
    let first_applying = (1..blocks.len()).find(|&i| match blocks[i].kind {
        BlockKind::Host => {
            pattern::host_line_matches(&m.alias, blocks[i].patterns.iter().map(String::as_str))
        }
        _ => true,
    });
    let at = first_applying.map_or(doc.lines().len(), |i| doc.position_before_block(i));
    let opts: Vec<(&str, &str)> = m
        .options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let comment = [
        runpod::MARKER.trim_start_matches("# "),
        "copied from WSL's ~/.ssh/config (VS Code on Windows reads this file)",
    ];
    let header = doc
        .insert_host_block(at, &[m.alias.as_str()], &opts, &comment)
        .map_err(edit)?;
    let bi = doc
        .blocks()
        .iter()
        .position(|b| b.header == Some(header))
        .ok_or_else(|| err("internal error: inserted block not found".into()))?;
    Ok((doc, bi))
}

/// The RunPod entries of WSL's `doc` that VS Code on Windows cannot use:
/// absent from the Windows config `win_doc`, or there with another
/// HostName or Port (stale). (alias, stale).
pub fn missing_on_windows(doc: &Document, win_doc: &Document) -> Vec<(String, bool)> {
    let endpoint = |d: &Document, b: &crate::config::Block| {
        (
            d.first_value(b, "hostname").map(|h| h.to_ascii_lowercase()),
            d.first_value(b, "port"),
        )
    };
    let win_blocks = win_doc.blocks();
    let mut out = Vec::new();
    for b in doc.blocks() {
        if b.kind != BlockKind::Host || b.patterns.len() != 1 || !runpod::is_runpod_block(doc, &b) {
            continue;
        }
        let alias = &b.patterns[0];
        if pattern::is_wildcard(alias) || out.iter().any(|(a, _)| a == alias) {
            continue;
        }
        match win_doc.host_blocks_naming(alias).first() {
            None => out.push((alias.clone(), false)),
            Some(&wi) if endpoint(win_doc, &win_blocks[wi]) != endpoint(doc, &b) => {
                out.push((alias.clone(), true))
            }
            Some(_) => {}
        }
    }
    out
}

/// The `icacls` line (cmd.exe) that makes a copied key owner-only: the
/// user, SYSTEM and Administrators by SID (their names are translated on
/// non-English Windows), inherited entries removed.
pub fn icacls_line(windows_path: &str) -> String {
    format!(
        "icacls \"{windows_path}\" /inheritance:r /grant:r \"%USERNAME%\":F *S-1-5-18:F *S-1-5-32-544:F"
    )
}

#[cfg(test)]
#[path = "wsl_tests.rs"]
mod tests;
