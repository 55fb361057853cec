//! F20's offer: a Windows profile folder that is not ASCII
//! (`C:\Users\홍길동`) breaks older Win32 ssh builds and VS Code
//! (vscode-remote-release#11029). `fix --yes` moves what ssh needs out of
//! it — without touching the files in the profile — into
//! `%ProgramData%\ssh-<name>`:
//! - the folder is created owner-only (the user, SYSTEM, Administrators;
//!   inheritance off). Why there, and why that ACL: OpenSSH for Windows
//!   judges the key file itself, not its folder (w32-sshfileperm.c: owner
//!   the user, SYSTEM or Administrators; no allow entry for anyone else),
//!   and a `-F` config is not checked at all. `C:\Users\Public` is never
//!   an option: every user may read it, and its inherited entries make
//!   ssh refuse the key. `%ProgramData%` is ASCII, writable by every user
//!   without admin rights, and stays out of the profile; what it would
//!   hand down (`Users: read`) is cut by the owner-only ACL, and each file
//!   is written owner-only from its first byte (`fsio::write` on Windows);
//! - the config there is the config with every `IdentityFile`,
//!   `CertificateFile` and `UserKnownHostsFile` under `~/.ssh` pointing
//!   at its copy (absolute, `/` separators), plus a closing `Host *` that
//!   gives ssh's default known_hosts a home there;
//! - VS Code's `remote.SSH.configFile` names it (VS Code then runs
//!   `ssh -F` with it), edited format-preserving, backed up.
//!
//! A folder that exists and is not the user's is refused (another user
//! may have made it first); a file there with other content is never
//! overwritten. Without `--yes` the note says exactly what would be done.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Auto, Cx, Rule, Severity, SideEffect};
use crate::config::document::portable_path;
use crate::fsio::{self, WriteOptions};

/// What `fix --yes` does for F20.
#[derive(Debug, Clone, Serialize)]
pub struct AsciiMove {
    pub folder: PathBuf,
    pub config: PathBuf,
    pub config_bytes: Vec<u8>,
    /// (from, to): keys, their `.pub`, known_hosts files.
    pub copies: Vec<(PathBuf, PathBuf)>,
    /// The settings files whose `remote.SSH.configFile` is set.
    pub settings: Vec<PathBuf>,
    /// The value set: the config's path as Windows spells it.
    pub value: String,
    /// Paths rewritten in the config.
    pub rewritten: usize,
    /// The finding that reports it (by index).
    pub finding: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("{0}; nothing more was done (remote.SSH.configFile left as it was)")]
    Refused(String),
    #[error(transparent)]
    Fs(#[from] fsio::FsError),
    #[error(transparent)]
    Settings(#[from] crate::vscode::SettingsError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The folder's name: `ssh-<user>` for a plain ASCII user name, else
/// `ssh-u<hash>` (FNV-1a of the name: stable, ASCII, one per user).
pub fn folder_name(user: &str) -> String {
    if !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return format!("ssh-{user}");
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in user.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("ssh-u{h:08x}")
}

/// Keywords whose `~/.ssh` paths move with the files.
const MOVED: &[&str] = &["identityfile", "certificatefile", "userknownhostsfile"];

/// Plan the move of `cx`'s config (as repaired so far) into `folder`.
fn plan(cx: &Cx, folder: &Path, settings: Vec<PathBuf>) -> AsciiMove {
    let ssh_dir = cx.ctx.user_home.join(".ssh");
    let mut doc = cx.doc.clone();
    let mut copies: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut queue = |from: PathBuf, to: PathBuf| {
        if from.is_file() && !copies.iter().any(|(_, t)| *t == to) {
            copies.push((from, to));
        }
    };
    let mut rewritten = 0;
    for li in 0..doc.lines().len() {
        let line = &doc.lines()[li];
        let Some(kw) = line.keyword().map(str::to_ascii_lowercase) else {
            continue;
        };
        if !MOVED.contains(&kw.as_str()) || line.is_header() {
            continue;
        }
        let mut changed = false;
        let mut parts = Vec::new();
        for v in line.values() {
            let p = cx.ctx.home_path(&portable_path(v));
            let name = p
                .strip_prefix(&ssh_dir)
                .ok()
                .filter(|r| r.components().count() == 1)
                .map(Path::to_path_buf);
            let (Some(name), false) = (name, v.contains('%')) else {
                parts.push(crate::config::lexer::render_value(v));
                continue;
            };
            let to = folder.join(&name);
            queue(p.clone(), to.clone());
            if kw == "identityfile" {
                let public = PathBuf::from(format!("{}.pub", p.display()));
                queue(public, folder.join(format!("{}.pub", name.display())));
            }
            parts.push(crate::config::lexer::render_value(&portable_path(
                &to.display().to_string(),
            )));
            changed = true;
        }
        if changed && let Some(parts) = parts.into_iter().collect::<Option<Vec<String>>>() {
            doc.replace_value(li, &parts.join(" "));
            rewritten += 1;
        }
    }
    // ssh's default known_hosts (`~/.ssh/known_hosts`) is in the profile
    // too: a closing `Host *` sets it for every host that sets none.
    let known = folder.join("known_hosts");
    queue(ssh_dir.join("known_hosts"), known.clone());
    if let Some(v) =
        crate::config::lexer::render_value(&portable_path(&known.display().to_string()))
    {
        let at = doc.lines().len();
        doc.insert_lines(
            at,
            vec![
                String::new(),
                "# runpod-ssh fix --yes: ssh's default known_hosts, out of the non-ASCII profile folder".into(),
                "Host *".into(),
                format!("    UserKnownHostsFile {v}"),
            ],
        );
    }
    let config = folder.join("config");
    AsciiMove {
        folder: folder.to_path_buf(),
        value: config.display().to_string(),
        config,
        config_bytes: doc.to_bytes(),
        copies,
        settings,
        rewritten,
        finding: 0,
    }
}

/// What the move does, in words (the note without `--yes`, the repair
/// text with it).
pub fn describe(m: &AsciiMove) -> String {
    let copies: Vec<String> = m
        .copies
        .iter()
        .map(|(f, t)| format!("{} → {}", f.display(), t.display()))
        .collect();
    let settings: Vec<String> = m.settings.iter().map(|s| s.display().to_string()).collect();
    format!(
        "create {} (owner-only: you, SYSTEM, Administrators; inheritance off); write {} (this config with {} ~/.ssh path(s) pointing into that folder, and ssh's default known_hosts there); copy {}; set \"remote.SSH.configFile\": \"{}\" in {} (VS Code then runs ssh -F with it). Nothing in your profile folder is changed or removed",
        m.folder.display(),
        m.config.display(),
        m.rewritten,
        if copies.is_empty() {
            "nothing".to_string()
        } else {
            copies.join(", ")
        },
        m.value,
        settings.join(", ")
    )
}

/// F20: detect; with `--yes`, move (as a side effect written after the
/// config); without, say exactly what `--yes` would do.
pub(super) fn offer(rule: &dyn Rule, cx: &mut Cx) {
    let Some(w) = &cx.windows else { return };
    let home = cx.ctx.user_home.display().to_string();
    if home.is_ascii() {
        return;
    }
    // Done already: VS Code reads a config at an ASCII path.
    if cx
        .vscode
        .iter()
        .any(|(_, t)| crate::vscode::config_file(t).is_some_and(|f| f.is_ascii()))
    {
        return;
    }
    let manual = format!("{} ({home}); {}", rule.title(), rule.repair_text());
    let folder = match &w.program_data {
        Some(pd) if pd.to_string_lossy().is_ascii() => {
            pd.join(folder_name(w.user.as_deref().unwrap_or(&home)))
        }
        _ => {
            cx.notes.push(format!(
                "{manual} (%ProgramData% is not set or not ASCII, so runpod-ssh offers no folder)"
            ));
            return;
        }
    };
    if cx.vscode.is_empty() {
        cx.notes.push(format!(
            "{manual} (no VS Code settings.json found to point remote.SSH.configFile at)"
        ));
        return;
    }
    let settings = cx.vscode.iter().map(|(p, _)| p.clone()).collect();
    let mut m = plan(cx, &folder, settings);
    if !cx.yes {
        cx.notes.push(format!(
            "{} ({home}). With --yes, fix would: {}",
            rule.title(),
            describe(&m)
        ));
        return;
    }
    m.finding = cx.findings.len();
    let text = describe(&m);
    cx.side_effects.push(SideEffect::AsciiFolder(Box::new(m)));
    cx.report(
        rule,
        None,
        Severity::Warning,
        format!("{} ({home})", rule.title()),
        text,
        true,
    );
    debug_assert!(rule.auto() == Auto::WithYes);
}

impl AsciiMove {
    /// Do it: the folder, the copies, the config, then (last, so VS Code
    /// switches only to a complete folder) the settings.
    pub fn apply(&self) -> Result<(), MoveError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| MoveError::Io { path, source }
        };
        match std::fs::symlink_metadata(&self.folder) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // `false`: someone made it since we looked; judged as found.
                if !create_folder(&self.folder).map_err(io(&self.folder))? {
                    check_ours(&self.folder)?;
                }
            }
            _ => check_ours(&self.folder)?,
        }
        // Owner-only on every run, not just when created: a run stopped
        // after the mkdir left %ProgramData%'s inherited entries.
        #[cfg(windows)]
        crate::winacl::write_owner_only_folder(&self.folder).map_err(io(&self.folder))?;
        for (from, to) in &self.copies {
            let c = fsio::read_limited(from).map_err(io(from))?;
            put(to, &c.bytes)?;
        }
        put(&self.config, &self.config_bytes)?;
        for s in &self.settings {
            set_config_file(s, &self.value)?;
        }
        Ok(())
    }
}

/// Create the folder private from its first moment. On Windows with its
/// owner-only descriptor already set (`CreateDirectoryW`): made first and
/// locked down after, `%ProgramData%`'s inherited entries let any local
/// user add files in between. `Ok(false)`: it exists already.
fn create_folder(folder: &Path) -> std::io::Result<bool> {
    #[cfg(windows)]
    return crate::winacl::create_owner_only_folder(folder);
    #[cfg(not(windows))]
    fsio::create_private_dir_one(folder).map(|()| true)
}

/// A folder someone else made (or a link, or not a folder) is not used.
fn check_ours(folder: &Path) -> Result<(), MoveError> {
    let refuse = |why: &str| {
        Err(MoveError::Refused(format!(
            "{} exists and {why}: it is not used",
            folder.display()
        )))
    };
    let md = std::fs::symlink_metadata(folder).map_err(|source| MoveError::Io {
        path: folder.to_path_buf(),
        source,
    })?;
    if !md.is_dir() {
        return refuse("is not a folder");
    }
    match fsio::owned_by_me(folder, &md) {
        Ok(true) => Ok(()),
        Ok(false) => refuse("belongs to another user"),
        Err(source) => Err(MoveError::Io {
            path: folder.to_path_buf(),
            source,
        }),
    }
}

/// Write `bytes` to `to` where there is nothing (or the same already, in
/// a regular file of the user's: another user who planted it — an empty
/// known_hosts, before the folder was owner-only — would keep the right
/// to change it); another content is never overwritten.
fn put(to: &Path, bytes: &[u8]) -> Result<(), MoveError> {
    match fsio::write_new(to, bytes, 0o600) {
        Ok(_) => Ok(()),
        Err(fsio::NewFileError::Fs(e)) => Err(MoveError::Fs(e)),
        Err(refused) => Err(MoveError::Refused(refused.to_string())),
    }
}

/// `remote.SSH.configFile` = `value` (comments, layout and a BOM kept;
/// backed up).
fn set_config_file(settings: &Path, value: &str) -> Result<(), MoveError> {
    let _lock = fsio::Lock::for_file(settings)?;
    let snap = fsio::read(settings)?;
    let Ok(text) = std::str::from_utf8(snap.content()) else {
        return Err(MoveError::Refused(format!(
            "{} is not UTF-8; left alone",
            settings.display()
        )));
    };
    let bom = text.starts_with('\u{feff}');
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(new) =
        crate::vscode::set_string_setting(settings, text, "remote.SSH.configFile", value)?
    {
        let bytes = [if bom { "\u{feff}" } else { "" }, new.as_str()].concat();
        fsio::write(&snap, bytes.as_bytes(), WriteOptions::default())?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
