//! What the editing commands (`add`, `remove`, `restore`, later `fix`)
//! share: loading the config under the lock, writing it back safely, and
//! the side files (pinned host keys, VS Code settings).

use std::path::{Path, PathBuf};

use super::{Env, Failure, OrFail, bad_input, fail};
use crate::config::{Context, Document, Resolved, resolve};
use crate::fsio::{self, Lock, Snapshot, WriteOptions};
use crate::{known_hosts, runpod, vscode};

/// The config, read under the lock, ready to edit.
pub struct Session {
    pub path: PathBuf,
    pub snap: Snapshot,
    pub doc: Document,
    pub ctx: Context,
    _locks: Vec<Lock>,
}

impl Session {
    /// Take the lock and read the config (a missing file is empty). The
    /// lock sits beside the config's real file (the pinned keys take the
    /// one beside them when they are written); a config that is not a
    /// regular file is read (a device as `ssh -F` would) but never locked
    /// beside or written.
    pub fn open(env: &Env) -> anyhow::Result<Session> {
        let path = env.config_path()?;
        let target = fsio::real_path(&path).or_fail(Failure::Io)?;
        let dir = target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if target != path && !dir.is_dir() {
            // Creating folders a dangling link points at is not ours to do.
            return Err(fail(
                Failure::Io,
                anyhow::anyhow!(
                    "{} is a symbolic link to {}, whose folder {} does not exist; runpod-ssh will not create it. Create it yourself, or remove the link",
                    path.display(),
                    target.display(),
                    dir.display()
                ),
            ));
        }
        let mut locks = Vec::new();
        let regular_or_absent = std::fs::symlink_metadata(&target).map_or(true, |m| m.is_file());
        if regular_or_absent && dir.is_dir() {
            locks.push(Lock::beside(&target).or_fail(Failure::Io)?);
        }
        let snap = fsio::read(&path).or_fail(Failure::Io)?;
        let doc = Document::parse_shared(snap.bytes.as_ref());
        Ok(Session {
            path,
            snap,
            doc,
            ctx: Context::current(),
            _locks: locks,
        })
    }

    /// Evaluate `doc` (the edited one, or the original) for `alias`.
    pub fn resolve(&self, doc: &Document, alias: &str) -> Resolved {
        resolve(doc, &self.path, alias, &self.ctx)
    }

    /// The unified diff from the file on disk to `doc`.
    pub fn diff(&self, doc: &Document) -> String {
        self.diff_to(&doc.to_bytes())
    }

    /// The unified diff from the file on disk to `new` (bytes the caller
    /// already has).
    pub fn diff_to(&self, new: &[u8]) -> String {
        fsio::unified_diff(self.snap.content(), new, &self.label())
    }

    fn label(&self) -> String {
        tilde(&self.path)
    }

    /// Read the file again under the lock the session still holds: after
    /// our own write (whose snapshot is then stale), edits go on top of
    /// what is on disk now, so a concurrent edit is kept, never clobbered.
    pub fn reread(&mut self) -> anyhow::Result<()> {
        self.snap = fsio::read(&self.path).or_fail(Failure::Io)?;
        self.doc = Document::parse_shared(self.snap.bytes.as_ref());
        Ok(())
    }

    /// Write `doc` over the config (atomic, backed up). Creates `~/.ssh`
    /// 0700 when needed. Returns the backup's path.
    pub fn write(&self, doc: &Document) -> anyhow::Result<Option<PathBuf>> {
        self.write_with(doc, WriteOptions::default())
    }

    /// [`Session::write`] with the caller's options (a second write in one
    /// run may skip the backup: the run's first one already holds the
    /// user's version).
    pub fn write_with(
        &self,
        doc: &Document,
        opts: WriteOptions,
    ) -> anyhow::Result<Option<PathBuf>> {
        self.write_bytes_with(&doc.to_bytes(), opts)
    }

    /// [`Session::write`] of bytes the caller has (`doc.to_bytes()`, which
    /// it needs again after the write: one pass over a large file fewer).
    pub fn write_bytes(&self, bytes: &[u8]) -> anyhow::Result<Option<PathBuf>> {
        self.write_bytes_with(bytes, WriteOptions::default())
    }

    fn write_bytes_with(
        &self,
        bytes: &[u8],
        opts: WriteOptions,
    ) -> anyhow::Result<Option<PathBuf>> {
        if self.snap.target != self.snap.path {
            // Through a symlink: never create the folders it points into.
        } else if let Some(dir) = self
            .snap
            .target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            fsio::create_private_dir(dir)
                .map_err(|source| fsio::FsError::Write {
                    path: dir.to_path_buf(),
                    source,
                })
                .or_fail(Failure::Io)?;
        }
        let r = fsio::write(&self.snap, bytes, opts).or_fail(Failure::Io)?;
        Ok(r.backup)
    }
}

/// The file runpod-ssh pins pod host keys in.
pub fn known_hosts_path() -> Option<PathBuf> {
    let home = crate::platform::home_dir()?;
    Some(home.join(".ssh").join("known_hosts_runpod"))
}

/// Remove the host keys pinned for `alias` (its `HostKeyAlias`) from
/// `~/.ssh/known_hosts_runpod`. Returns how many lines went.
pub fn forget_pinned_key(alias: &str) -> anyhow::Result<usize> {
    let Some(path) = known_hosts_path() else {
        return Ok(0);
    };
    forget_pinned_key_in(&path, alias)
}

pub fn forget_pinned_key_in(path: &Path, alias: &str) -> anyhow::Result<usize> {
    if !path.exists() {
        return Ok(0);
    }
    let _lock = Lock::for_file(path).or_fail(Failure::Io)?;
    let snap = fsio::read(path).or_fail(Failure::Io)?;
    let Some(old) = &snap.bytes else {
        return Ok(0);
    };
    let (new, n) = known_hosts::remove_host(old, alias);
    if n > 0 {
        fsio::write(&snap, &new, WriteOptions::default()).or_fail(Failure::Io)?;
    }
    Ok(n)
}

/// Pin under `new` the host keys pinned under `old` in
/// `~/.ssh/known_hosts_runpod` (a rename keeps the endpoint, and
/// HostKeyAlias follows the alias). Returns how many lines changed.
pub fn rename_pinned_key(old: &str, new: &str) -> anyhow::Result<usize> {
    let Some(path) = known_hosts_path().filter(|p| p.exists()) else {
        return Ok(0);
    };
    let _lock = Lock::for_file(&path).or_fail(Failure::Io)?;
    let snap = fsio::read(&path).or_fail(Failure::Io)?;
    let Some(bytes) = &snap.bytes else {
        return Ok(0);
    };
    let (fresh, n) = known_hosts::rename_host(bytes, old, new);
    if n > 0 {
        fsio::write(&snap, &fresh, WriteOptions::default()).or_fail(Failure::Io)?;
    }
    Ok(n)
}

/// What happened to one VS Code settings file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SettingsChange {
    pub path: PathBuf,
    pub changed: bool,
    pub error: Option<String>,
}

/// Set (or with `None` remove) `remote.SSH.remotePlatform[alias]` in every
/// VS Code-family settings file found. Problems with one file are reported,
/// not fatal: the ssh config is what matters.
pub fn set_vscode_platform(
    alias: &str,
    platform: Option<&str>,
    dry_run: bool,
) -> Vec<SettingsChange> {
    set_vscode_platform_in(vscode::settings_files(), alias, platform, dry_run)
}

/// [`set_vscode_platform`] in the given settings files (the Windows side's
/// from WSL).
pub fn set_vscode_platform_in(
    files: Vec<PathBuf>,
    alias: &str,
    platform: Option<&str>,
    dry_run: bool,
) -> Vec<SettingsChange> {
    files
        .into_iter()
        .map(|path| {
            let result = (|| -> anyhow::Result<bool> {
                let snap = fsio::read(&path)?;
                let text = match std::str::from_utf8(snap.content()) {
                    Ok(t) => t.strip_prefix('\u{feff}').unwrap_or(t),
                    Err(_) => anyhow::bail!("{} is not UTF-8; it was left alone", path.display()),
                };
                if snap.bytes.is_none() && platform.is_none() {
                    return Ok(false);
                }
                let Some(new) = vscode::set_remote_platform(&path, text, alias, platform)? else {
                    return Ok(false);
                };
                if !dry_run {
                    let mut bytes = Vec::new();
                    if snap.content().starts_with("\u{feff}".as_bytes()) {
                        bytes.extend_from_slice("\u{feff}".as_bytes());
                    }
                    bytes.extend_from_slice(new.as_bytes());
                    fsio::write(&snap, &bytes, WriteOptions::default())?;
                }
                Ok(true)
            })();
            match result {
                Ok(changed) => SettingsChange {
                    path,
                    changed,
                    error: None,
                },
                Err(e) => SettingsChange {
                    path,
                    changed: false,
                    error: Some(super::render(&e)),
                },
            }
        })
        .collect()
}

/// Refuse to edit a config ssh already refuses: the entry would not work,
/// and the user needs to hear about the real problem first, in ssh's words
/// with file:line, and which `runpod-ssh fix` repairs it when a rule can.
pub fn refuse_broken(r: &Resolved) -> anyhow::Result<()> {
    let refused = crate::refusal::Refusal::from_resolved(r);
    if refused.is_empty() {
        return Ok(());
    }
    let client = crate::refusal::Client::local();
    let hint = crate::refusal::hint(client, &refused, &r.host, &Context::current())
        .unwrap_or_else(|| "fix these lines first".into());
    Err(bad_input(format!(
        "{} already refuses this config, so a new entry would not work either; nothing was written:\n{}\n{hint}",
        client.name(),
        crate::refusal::render(&refused)
    )))
}

/// The alias is one runpod-ssh can write.
pub fn check_alias(alias: &str) -> anyhow::Result<()> {
    if crate::config::document::valid_alias(alias) {
        Ok(())
    } else {
        Err(bad_input(format!(
            "alias {alias:?} is not valid: use letters, digits, '.', '_' and '-' (no spaces, ':' or '#')"
        )))
    }
}

/// `~/.ssh/...` for display: one separator style, `/`, on every platform
/// (OpenSSH for Windows and PowerShell both read `~/.ssh/config`; `~/.ssh\config`
/// was a mix).
pub fn tilde(p: &Path) -> String {
    match crate::platform::home_dir().and_then(|h| p.strip_prefix(h).ok().map(Path::to_path_buf)) {
        Some(rel) => {
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            format!("~/{}", parts.join("/"))
        }
        None => p.display().to_string(),
    }
}

/// Whether a block is one of ours, for messages.
pub fn is_managed(doc: &Document, block: usize) -> bool {
    doc.blocks()
        .get(block)
        .is_some_and(|b| runpod::has_marker(doc, b))
}

/// When VS Code reads another ssh config (`remote.SSH.configFile`) and no
/// `--config` was given: the settings file that says so and that config,
/// which `add`, `sync` and `fix` then write (an existing regular file only).
pub fn vscode_config_file(env: &Env) -> Option<(PathBuf, PathBuf)> {
    if env.global.config.is_some() {
        return None;
    }
    let (settings, other) = vscode::settings_files().into_iter().find_map(|p| {
        // Non-blocking and capped: a FIFO settings.json must not hang us.
        let text = String::from_utf8(fsio::read_limited(&p).ok()?.bytes).ok()?;
        Some((p, vscode::config_file(&text)?))
    })?;
    let other = Context::current().home_path(&other.replace('\\', "/"));
    (Some(&other) != env.config_path().ok().as_ref() && other.is_file())
        .then_some((settings, other))
}

/// `env` writing the file VS Code reads, when it reads another one.
pub fn follow_vscode(env: &Env) -> (Env, Option<(PathBuf, PathBuf)>) {
    let redirect = vscode_config_file(env);
    let mut global = env.global.clone();
    if let Some((_, other)) = &redirect {
        global.config = Some(other.clone());
    }
    (
        Env {
            global,
            style: env.style,
        },
        redirect,
    )
}

/// How many host keys are pinned for `alias` (what `forget_pinned_key`
/// would remove), for `--dry-run`.
pub fn pinned_key_count(alias: &str) -> usize {
    known_hosts_path()
        .and_then(|p| fsio::read(&p).ok())
        .and_then(|s| s.bytes)
        .map_or(0, |b| known_hosts::remove_host(b.as_slice(), alias).1)
}
