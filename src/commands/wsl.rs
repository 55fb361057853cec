//! `add --windows` and `fix --windows` inside WSL: the entry also goes to
//! the config VS Code on Windows reads, and its key to the Windows side.
//! The plan is [`crate::wsl`]'s; here it is proven (the same checks as
//! `add`'s own write: ssh accepts the file, nothing earlier overrides the
//! entry) and written through `fsio` (lock, backup, atomic, refused when
//! the file changed since it was read).
//!
//! The key's Windows ACL: from WSL a file on `/mnt/c` gets its security
//! descriptor from Windows — inherited from `%USERPROFILE%\.ssh`, owned by
//! the Windows user WSL runs as. Linux cannot read or set that ACL
//! (drvfs maps only a mode, and only with the `metadata` mount option),
//! so the copy is created 0600 (what drvfs can keep) and runpod-ssh runs
//! nothing on the Windows side: it prints the exact `icacls` line that
//! makes the key owner-only, for the user to run (`runpod-ssh fix` on
//! Windows repairs it too).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::edit::{self, Session, SettingsChange};
use super::{Env, Failure, OrFail};
use crate::config::Document;
use crate::doctor::{Auto, Finding, Severity};
use crate::fsio;
use crate::wsl::{self, KeyCopy, WindowsHome};

/// What the Windows side got (or, in a dry run, would get).
#[derive(Debug, Default, serde::Serialize)]
pub struct WindowsWrite {
    /// The Windows config as WSL sees it, and as Windows spells it.
    pub config: PathBuf,
    pub config_windows: String,
    pub written: Vec<String>,
    /// Entries refused, each with why.
    pub failed: Vec<String>,
    pub backup: Option<PathBuf>,
    /// (from, to as Windows spells it).
    pub copied: Vec<(PathBuf, String)>,
    /// The icacls line for each private key copied.
    pub icacls: Vec<String>,
    pub notes: Vec<String>,
    pub vscode: Vec<SettingsChange>,
    pub diff: String,
}

/// `--windows` outside WSL.
const NOT_WSL: &str = "--windows: this is not WSL (the kernel release names no Microsoft kernel); no Windows config was written";

/// Whether a yes/no question may be asked: both ends a terminal, no JSON,
/// not a dry run.
pub fn may_ask(json: bool, dry_run: bool) -> bool {
    !json && !dry_run && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Ask `question [y/N]` on the terminal.
fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok()
        && matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// The config VS Code on Windows reads: its `remote.SSH.configFile` when
/// set (as WSL sees that path), else `%USERPROFILE%\.ssh\config`.
fn windows_config(win: &WindowsHome) -> anyhow::Result<PathBuf> {
    for settings in win.vscode_settings() {
        let Ok(c) = fsio::read_limited(&settings) else {
            continue;
        };
        let Some(other) = std::str::from_utf8(&c.bytes)
            .ok()
            .and_then(crate::vscode::config_file)
        else {
            continue;
        };
        return win.to_linux(&other).ok_or_else(|| {
            super::fail(
                Failure::Io,
                anyhow::anyhow!(
                    "VS Code on Windows reads {other} (remote.SSH.configFile in {}), which runpod-ssh cannot find from WSL",
                    win.windows_path(&settings)
                ),
            )
        });
    }
    Ok(win.config())
}

/// Copy `aliases`' entries of WSL's `doc` (and their keys) to the config
/// VS Code on Windows reads. Entries that cannot go are in `failed`; an
/// error means nothing was written there.
pub fn mirror(
    env: &Env,
    doc: &Document,
    aliases: &[String],
    dry_run: bool,
    vscode: bool,
) -> anyhow::Result<WindowsWrite> {
    let win = WindowsHome::find().or_fail(Failure::Io)?;
    let config = windows_config(&win)?;
    let s = windows_session(env, &win, &config, dry_run)?;
    let wsl_ctx = crate::config::Context::current();
    let mut out = WindowsWrite {
        config_windows: win.windows_path(&config),
        config,
        ..Default::default()
    };
    let Planned {
        new,
        copies,
        entries,
    } = plan_entries(&s, doc, aliases, &wsl_ctx, &win, &mut out);
    if let Some(first) = out.written.first() {
        // ssh must accept the whole Windows file (a refused one breaks
        // every host in it).
        super::add::cross_check(&s, &new, first, &mut out.notes)?;
    }
    out.diff = s.diff(&new);
    for c in &copies {
        let to = win.windows_path(&c.to);
        if c.private {
            out.icacls.push(wsl::icacls_line(&to));
        }
        out.copied.push((c.from.clone(), to));
    }
    if !dry_run {
        // Keys first: an entry naming a key that is not there yet fails.
        for c in &copies {
            copy_file(c)?;
        }
        if new.to_bytes() != s.snap.content() {
            out.backup = s.write(&new)?;
        }
    }
    for options in &entries {
        carry_pins(options, &wsl_ctx, &win, dry_run, &mut out.notes);
    }
    if vscode {
        for a in &out.written {
            out.vscode.extend(edit::set_vscode_platform_in(
                win.vscode_settings(),
                a,
                Some("linux"),
                dry_run,
            ));
        }
    }
    Ok(out)
}

/// An edit session on the Windows config, judged as Windows' ssh reads
/// it. Its folder is made first (unless a dry run): the lock sits there.
fn windows_session(
    env: &Env,
    win: &WindowsHome,
    config: &Path,
    dry_run: bool,
) -> anyhow::Result<Session> {
    if !dry_run && let Some(dir) = config.parent() {
        // Before the session: its lock sits in this folder.
        fsio::create_private_dir(dir)
            .map_err(|source| fsio::FsError::Write {
                path: dir.to_path_buf(),
                source,
            })
            .or_fail(Failure::Io)?;
    }
    let mut global = env.global.clone();
    global.config = Some(config.to_path_buf());
    let wenv = Env {
        global,
        style: env.style,
    };
    let mut s = Session::open(&wenv)?;
    // `~` in the Windows config is %USERPROFILE% (one home for every keyword).
    s.ctx.home = win.path.clone();
    s.ctx.user_home = win.path.clone();
    s.ctx.check_include_permissions = false;
    s.ctx.system_config = None;
    Ok(s)
}

/// What is at a name on the Windows side. Anything there that is not a
/// readable regular file (a dangling link, a folder, a device) counts as
/// taken (`Some(empty)`): a key is never written through a link. So does
/// a file of another user's, whatever its bytes (F20): who put it there
/// keeps the right to change the key the entry would name.
fn existing(p: &Path) -> Option<Vec<u8>> {
    std::fs::symlink_metadata(p).ok()?;
    let theirs = std::fs::metadata(p)
        .is_ok_and(|md| md.is_file() && !fsio::owned_by_me(p, &md).unwrap_or(false));
    if theirs {
        return Some(Vec::new());
    }
    Some(
        fsio::read_limited(p)
            .ok()
            .filter(|c| !c.device)
            .map(|c| c.bytes)
            .unwrap_or_default(),
    )
}

/// The Windows config with the entries that can go, the keys to copy
/// (each once) and each entry's options.
struct Planned {
    new: Document,
    copies: Vec<KeyCopy>,
    entries: Vec<Vec<(String, String)>>,
}

/// Plan each alias's entry into the Windows config in turn: an entry ssh
/// would refuse there, or that an earlier line overrides, is in
/// `out.failed` and left out; the others in `out.written`.
fn plan_entries(
    s: &Session,
    doc: &Document,
    aliases: &[String],
    wsl_ctx: &crate::config::Context,
    win: &WindowsHome,
    out: &mut WindowsWrite,
) -> Planned {
    let mut new = s.doc.clone();
    let mut copies: Vec<KeyCopy> = Vec::new();
    let mut entries: Vec<Vec<(String, String)>> = Vec::new();
    for alias in aliases {
        let m = match wsl::plan_entry(doc, alias, wsl_ctx, win, &existing)
            .and_then(|m| wsl::upsert(&new, &m).map(|r| (m, r)))
        {
            Ok((m, (next, bi))) => {
                let r = s.resolve(&next, alias);
                let identity = m
                    .options
                    .iter()
                    .find(|(k, _)| k == "IdentityFile")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let over = super::add::overrides(s, &next, bi, &r, &m.options, &identity);
                if !r.ok() || !over.is_empty() {
                    let why: Vec<String> =
                        r.errors.iter().map(|d| d.to_string()).chain(over).collect();
                    out.failed.push(format!(
                        "{alias}: in {} it would not work:\n{}",
                        out.config_windows,
                        why.join("\n")
                    ));
                    continue;
                }
                new = next;
                m
            }
            Err(e) => {
                out.failed.push(e.to_string());
                continue;
            }
        };
        out.notes.extend(m.notes.iter().cloned());
        entries.push(m.options.clone());
        for c in m.copies {
            if !c.present && !copies.iter().any(|x| x.to == c.to) {
                copies.push(c);
            }
        }
        out.written.push(alias.clone());
    }
    Planned {
        new,
        copies,
        entries,
    }
}

/// The host keys WSL pinned for a copied entry, recorded in the
/// known_hosts file the Windows entry names: the entry accepts a new key
/// on first contact, so without them VS Code on Windows would make an
/// unverified first contact with a host WSL had verified. A different key
/// pinned there is left alone and said.
fn carry_pins(
    options: &[(String, String)],
    wsl_ctx: &crate::config::Context,
    win: &WindowsHome,
    dry_run: bool,
    notes: &mut Vec<String>,
) {
    use crate::known_hosts::{self, Recorded};
    let get = |k: &str| {
        options
            .iter()
            .find(|(x, _)| x.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let name = match get("HostKeyAlias") {
        Some(a) => a.to_string(),
        None => {
            let port = get("Port").and_then(|p| p.parse().ok()).unwrap_or(22);
            known_hosts::host_key_name(get("HostName").unwrap_or_default(), port)
        }
    };
    // Windows-side values are `~/…` (see wsl::plan_entry); others name
    // nothing to carry (`/dev/null`, `none`).
    let file = get("UserKnownHostsFile").unwrap_or("~/.ssh/known_hosts");
    let Some(rest) = file.strip_prefix("~/") else {
        return;
    };
    let from = crate::platform::join_written(&wsl_ctx.user_home, rest);
    let to = crate::platform::join_written(&win.path, rest);
    let Ok(pins) = known_hosts::load(&[from]) else {
        return;
    };
    let shown = win.windows_path(&to);
    for e in pins.iter().filter(|e| e.marker.is_none() && e.names(&name)) {
        if dry_run {
            notes.push(format!(
                "would record WSL's pinned host key for {name} in {shown}"
            ));
            continue;
        }
        match known_hosts::record(&to, &[&name], &e.key, false) {
            Ok(Recorded::Changed(_)) => notes.push(format!(
                "{shown} pins another host key for {name} than WSL's; left alone (check which is right before connecting from VS Code)"
            )),
            Err(err) => notes.push(format!(
                "WSL's pinned host key for {name} was not recorded in {shown}: {err}"
            )),
            Ok(_) => {}
        }
    }
}

/// Write one file on the Windows side, only where none is (or the same
/// bytes are already, in a file of the user's): private from the first
/// byte (the temp file is 0600, drvfs keeps that where it keeps modes),
/// atomic, under the lock, never through a link.
fn copy_file(c: &KeyCopy) -> anyhow::Result<()> {
    if let Some(dir) = c.to.parent() {
        fsio::create_private_dir(dir)
            .map_err(|source| fsio::FsError::Write {
                path: dir.to_path_buf(),
                source,
            })
            .or_fail(Failure::Io)?;
    }
    let mode = if c.private { 0o600 } else { 0o644 };
    match fsio::write_new(&c.to, &c.bytes, mode) {
        Ok(_) => Ok(()),
        Err(fsio::NewFileError::Link(p)) => Err(super::fail(
            Failure::Io,
            anyhow::anyhow!(
                "{} became a link while runpod-ssh worked; nothing was written through it",
                p.display()
            ),
        )),
        Err(fsio::NewFileError::OtherContent(p)) => Err(super::fail(
            Failure::Io,
            anyhow::anyhow!(
                "{} appeared with other content while runpod-ssh worked; it was left alone",
                p.display()
            ),
        )),
        Err(e) => Err(super::fail(Failure::Io, e)),
    }
}

/// `add` inside WSL: with `--windows` (or a yes on the terminal) the entry
/// also goes to the Windows side; otherwise a warning says how. `None`
/// outside WSL.
pub fn after_add(
    env: &Env,
    windows: bool,
    dry_run: bool,
    no_vscode: bool,
    doc: &Document,
    alias: &str,
    warnings: &mut Vec<String>,
) -> Option<WindowsWrite> {
    if !wsl::detect() {
        if windows {
            warnings.push(NOT_WSL.into());
        }
        return None;
    }
    let target = WindowsHome::find().map(|w| w.windows_path(&w.config()));
    let shown = target
        .as_deref()
        .unwrap_or("the Windows user's config")
        .to_string();
    let yes = windows
        || (may_ask(env.global.json, dry_run)
            && ask(&format!(
                "This is WSL: VS Code runs on Windows and reads {shown}, not this config. Also write {alias} there (and copy its key)?"
            )));
    if !yes {
        warnings.push(format!(
            "this is WSL: VS Code runs on Windows and reads {shown}, not this config; run again with --windows to also write {alias} there (its key is copied too){}",
            target.err().map(|e| format!(" ({e})")).unwrap_or_default()
        ));
        return None;
    }
    match mirror(env, doc, &[alias.to_string()], dry_run, !no_vscode) {
        Ok(w) => {
            warnings.extend(w.failed.iter().cloned());
            warnings.extend(w.notes.iter().cloned());
            Some(w)
        }
        Err(e) => {
            warnings.push(format!(
                "the entry was not written to the Windows config: {}",
                super::render(&e)
            ));
            Some(WindowsWrite {
                failed: vec![super::render(&e)],
                ..Default::default()
            })
        }
    }
}

/// What the Windows side got, for the terminal.
pub fn render(w: &WindowsWrite, dry_run: bool) -> String {
    let mut t = String::new();
    if w.written.is_empty() {
        return t;
    }
    let (wrote, copied) = if dry_run {
        ("Would also write", "Would copy")
    } else {
        ("Also wrote", "Copied")
    };
    t.push_str(&format!(
        "{wrote} {} to {} (VS Code on Windows reads that file){}\n",
        w.written.join(", "),
        w.config_windows,
        w.backup
            .as_ref()
            .map(|b| format!("; previous version: {}", b.display()))
            .unwrap_or_default()
    ));
    for (from, to) in &w.copied {
        t.push_str(&format!("{copied} {} → {to}\n", edit::tilde(from)));
    }
    if !w.icacls.is_empty() {
        t.push_str("The key's Windows ACL comes from its folder (owner-only on a default profile); runpod-ssh cannot set it from WSL. If Windows' ssh says \"bad permissions\", run in cmd.exe (or run `runpod-ssh fix` on Windows):\n");
        for l in &w.icacls {
            t.push_str(&format!("  {l}\n"));
        }
    }
    if dry_run && !w.diff.is_empty() {
        t.push_str(&format!("\n{}", w.diff));
    }
    t
}

/// `fix` inside WSL: a RunPod entry VS Code on Windows cannot use (absent
/// from the Windows config, or there with another endpoint) is a finding;
/// `--windows` (or a yes on the terminal) copies it there.
pub fn fix_findings(
    env: &Env,
    a: &crate::cli::FixArgs,
    doc: &Document,
    findings: &mut Vec<Finding>,
    notes: &mut Vec<String>,
) {
    if !wsl::detect() {
        if a.windows {
            notes.push(NOT_WSL.into());
        }
        return;
    }
    let win = match WindowsHome::find() {
        Ok(w) => w,
        Err(e) => {
            notes.push(format!(
                "this is WSL: VS Code runs on Windows and reads the Windows user's config, which runpod-ssh could not check: {e}"
            ));
            return;
        }
    };
    let config = match windows_config(&win) {
        Ok(c) => c,
        Err(e) => {
            notes.push(super::render(&e));
            return;
        }
    };
    let win_doc = fsio::read_limited(&config)
        .map(|c| Document::parse(&c.bytes))
        .unwrap_or_else(|_| Document::parse(b""));
    let missing: Vec<(String, bool)> = wsl::missing_on_windows(doc, &win_doc)
        .into_iter()
        .filter(|(al, _)| a.aliases.is_empty() || a.aliases.contains(al))
        .collect();
    if missing.is_empty() {
        return;
    }
    let shown = win.windows_path(&config);
    let apply = a.windows
        || (may_ask(env.global.json, a.dry_run)
            && ask(&format!(
                "This is WSL: VS Code runs on Windows and reads {shown}, which lacks {}. Copy them there (with their keys)?",
                missing
                    .iter()
                    .map(|(al, _)| al.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
    let result = apply.then(|| {
        let aliases: Vec<String> = missing.iter().map(|(al, _)| al.clone()).collect();
        mirror(env, doc, &aliases, a.dry_run, !a.no_vscode)
    });
    let mut failed_all = None;
    let w = match result {
        Some(Ok(w)) => Some(w),
        Some(Err(e)) => {
            failed_all = Some(super::render(&e));
            None
        }
        None => None,
    };
    for (alias, stale) in &missing {
        let written = w.as_ref().is_some_and(|w| w.written.contains(alias));
        let why = w
            .as_ref()
            .and_then(|w| {
                w.failed
                    .iter()
                    .find(|f| f.starts_with(&format!("{alias}:")))
            })
            .cloned()
            .or_else(|| failed_all.clone());
        findings.push(Finding {
            rule: "wsl-windows-config",
            file: config.clone(),
            line: None,
            severity: Severity::Error,
            message: format!(
                "this is WSL: VS Code runs on Windows and reads {shown}, where {alias} {}{}",
                if *stale {
                    "has another HostName or Port than WSL's entry (stale)"
                } else {
                    "is missing (it is only in WSL's config)"
                },
                why.map(|w| format!(" (not copied: {w})")).unwrap_or_default()
            ),
            repair: format!(
                "`{}` copies the entry and its key there (or `runpod-ssh add --windows '<the pod's ssh command>'`)",
                env.command("fix --windows")
            ),
            auto: Auto::Manual,
            applied: written,
        });
    }
    if let Some(w) = w {
        notes.extend(w.notes.iter().cloned());
        let text = render(&w, a.dry_run);
        if !text.is_empty() {
            notes.push(text.trim_end().to_string());
        }
    }
}

/// Unix only: they give files to another user (WSL is Linux).
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn key_copy(to: PathBuf, bytes: &[u8]) -> KeyCopy {
        KeyCopy {
            from: PathBuf::from("/nonexistent/id_ed25519"),
            to,
            bytes: bytes.to_vec(),
            private: true,
            present: false,
        }
    }

    /// F20's owner check for the WSL key copy: a file that appeared on
    /// the Windows side with exactly the key's bytes but belongs to
    /// another user (who keeps the right to change it) is refused and
    /// left as it is; the user's own copy with those bytes is accepted.
    #[test]
    fn a_key_with_our_bytes_that_is_not_the_users_is_refused() {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: giving a file to another user needs root");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let to = d.path().join(".ssh").join("id_ed25519");
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nours\n";
        std::fs::write(&to, key).unwrap();
        std::os::unix::fs::chown(&to, Some(65534), Some(65534)).unwrap();
        let e = super::super::render(&copy_file(&key_copy(to.clone(), key)).unwrap_err());
        assert!(e.contains("is not a file of yours"), "{e}");
        assert!(e.contains(&to.display().to_string()), "{e}");
        assert_eq!(std::fs::read(&to).unwrap(), key);
        assert_eq!(std::fs::metadata(&to).unwrap().uid(), 65534);
        std::os::unix::fs::chown(&to, Some(0), Some(0)).unwrap();
        copy_file(&key_copy(to.clone(), key)).unwrap();
    }

    /// Other content is never overwritten, a link is never written
    /// through, and a new copy is private from its first byte.
    #[test]
    fn a_key_copy_is_created_private_and_never_replaces_or_follows() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let key = b"the key\n";
        let to = d.path().join("win").join(".ssh").join("id_ed25519");
        copy_file(&key_copy(to.clone(), key)).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), key);
        let mode = std::fs::metadata(&to).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Again: the same bytes, the user's file, accepted.
        copy_file(&key_copy(to.clone(), key)).unwrap();
        let other = to.with_file_name("other");
        std::fs::write(&other, b"the Windows key\n").unwrap();
        let e = super::super::render(&copy_file(&key_copy(other.clone(), key)).unwrap_err());
        assert!(e.contains("other content"), "{e}");
        assert_eq!(std::fs::read(&other).unwrap(), b"the Windows key\n");
        // A dangling link: nothing is created at its target.
        let link = to.with_file_name("link");
        let target = d.path().join("elsewhere");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = super::super::render(&copy_file(&key_copy(link.clone(), key)).unwrap_err());
        assert!(e.contains("link"), "{e}");
        assert!(!target.exists());
    }
}
