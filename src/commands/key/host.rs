//! `key rotate` on one host: add the new key to the server's
//! `authorized_keys` over a connection made with the current key, prove it
//! on a fresh connection that offers only the new key, then switch the
//! config — each step recorded in the journal so a killed run resumes
//! (`KILL_POINTS` are where the tests stop it). Also the dry run of a host.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ssh_key::PublicKey;

use super::super::edit::tilde;
use super::rotate::{HostResult, Plan, Shared, raw_path};
use crate::client::{self, Connection};
use crate::config::{Document, resolve};
use crate::fsio;
use crate::keys::{self, Step};

pub(super) async fn dry_run_host(
    p: Plan,
    new_path: PathBuf,
    new_pub: Option<PublicKey>,
    remove_old: bool,
    timeout: Duration,
) -> HostResult {
    let t = &p.target;
    let mut r = HostResult {
        alias: p.alias.clone(),
        ok: false,
        step: Step::Started,
        failed_at: None,
        error: None,
        note: None,
        old: Some(p.old.clone()),
        new: new_path.clone(),
    };
    // Nothing recorded, nothing written: connect, log in, read.
    let mut c = match client::connect(t, timeout, false).await {
        Ok(c) => c,
        Err(e) => {
            r.failed_at = Some("connect");
            r.error = Some(e.to_string());
            return r;
        }
    };
    match c.authenticate(&t.user, &p.old_key).await {
        Ok(true) => {}
        Ok(false) => {
            r.failed_at = Some("connect");
            r.error = Some(format!(
                "{}@{} refuses {}, the key the config names",
                t.user,
                t.hostname,
                tilde(&p.old)
            ));
            c.close().await;
            return r;
        }
        Err(e) => {
            r.failed_at = Some("connect");
            r.error = Some(e.to_string());
            c.close().await;
            return r;
        }
    }
    let present = match (&new_pub, read_authorized_keys(&c).await) {
        (Some(k), Ok(content)) => keys::has_key(&content.unwrap_or_default(), k),
        _ => false,
    };
    c.close().await;
    r.ok = true;
    r.note = Some(format!(
        "logs in with {}; would {} {}@{}:{}'s ~/.ssh/authorized_keys, log in afresh with only the new key, then set IdentityFile {} (keeping {} second){}",
        tilde(&p.old),
        if present {
            "find the new key already in"
        } else {
            "add the new key to"
        },
        t.user,
        t.hostname,
        t.port,
        raw_path(&new_path),
        p.old_raw,
        if remove_old {
            ", and remove the old key's line and prove it is refused"
        } else {
            ""
        }
    ));
    r
}

/// The most of `authorized_keys` we read.
const AUTHORIZED_KEYS_CAP: usize = 1 << 20;

/// `~/.ssh/authorized_keys` on the server (`None`: missing).
async fn read_authorized_keys(c: &Connection) -> Result<Option<Vec<u8>>, String> {
    let (st, out) = c
        .exec(
            &keys::sh_command(keys::READ_SCRIPT, &[]),
            &[],
            AUTHORIZED_KEYS_CAP,
        )
        .await
        .map_err(|e| e.to_string())?;
    if st == 4 {
        return Err("~/.ssh/authorized_keys on the server is a symbolic link or not a regular file; runpod-ssh does not edit it".into());
    }
    if st != 0 {
        return Err(if out.len() >= AUTHORIZED_KEYS_CAP {
            "~/.ssh/authorized_keys on the server is over 1 MiB; not edited".into()
        } else {
            format!("reading ~/.ssh/authorized_keys failed (exit status {st})")
        });
    }
    if let Some(rest) = out.strip_prefix(b"present\n") {
        Ok(Some(rest.to_vec()))
    } else if out.starts_with(b"missing\n") {
        Ok(None)
    } else {
        Err(
            "unexpected answer while reading ~/.ssh/authorized_keys (a login script that prints?)"
                .into(),
        )
    }
}

/// Edit `~/.ssh/authorized_keys` on the server with `f` (which returns
/// `None` for no change): read, compute, write atomically only if the
/// file is unchanged since the read. `Ok(true)` when written.
async fn edit_authorized_keys(
    c: &Connection,
    f: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Result<bool, String> {
    for _ in 0..3 {
        let current = read_authorized_keys(c).await?;
        let Some(new) = f(current.as_deref().unwrap_or_default()) else {
            return Ok(false);
        };
        let expect = match &current {
            Some(c) => keys::cksum(c),
            None => "missing".to_string(),
        };
        let cmd = keys::sh_command(keys::WRITE_SCRIPT, &[&expect, &keys::cksum(&new)]);
        let (st, _) = c.exec(&cmd, &new, 4096).await.map_err(|e| e.to_string())?;
        match st {
            0 => return Ok(true),
            3 => continue, // changed under us: read again
            4 => return Err("~/.ssh/authorized_keys on the server is a symbolic link or not a regular file; runpod-ssh does not edit it".into()),
            6 => return Err("cannot create ~/.ssh on the server".into()),
            7 => return Err("the new authorized_keys did not arrive whole; the file was left as it was".into()),
            s => return Err(format!("writing ~/.ssh/authorized_keys failed (exit status {s}); the file was left as it was")),
        }
    }
    Err(
        "~/.ssh/authorized_keys kept changing on the server while runpod-ssh edited it; try again"
            .into(),
    )
}

/// Switch `alias`'s IdentityFile to the new key, keeping the old one
/// second. `Ok(false)` when it already reads so.
fn switch_config(s: &Shared, alias: &str, old_raw: &str, old: &Path) -> Result<bool, String> {
    let _g = s.config_lock.lock().unwrap_or_else(|p| p.into_inner());
    let snap = fsio::read(&s.config).map_err(|e| e.to_string())?;
    let _lock = fsio::Lock::beside(&snap.target).map_err(|e| e.to_string())?;
    let mut doc = Document::parse(snap.content());
    let new_path = &s.new_key_path();
    let reads_right = |doc: &Document| {
        let r = resolve(doc, &s.config, alias, &s.ctx);
        let ids: Vec<PathBuf> = r
            .identity_files()
            .into_iter()
            .map(|(raw, _)| PathBuf::from(r.expand_path(&raw)))
            .collect();
        ids.first() == Some(new_path) && ids.iter().any(|p| p == old)
    };
    if reads_right(&doc) {
        return Ok(false);
    }
    let Some(&bi) = doc.host_blocks_naming(alias).first() else {
        return Err(format!(
            "no `Host {alias}` block in {}; set IdentityFile {} yourself",
            s.config.display(),
            s.new_raw
        ));
    };
    let block = doc.blocks()[bi].clone();
    if block.patterns.len() > 1 {
        return Err(format!(
            "its Host line also names {}; switching IdentityFile there would change those too. Set IdentityFile {} yourself",
            block
                .patterns
                .iter()
                .filter(|p| *p != alias)
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            s.new_raw
        ));
    }
    let e = |e: crate::config::document::EditError| e.to_string();
    let lines = doc.option_lines(&block, "identityfile");
    if lines.is_empty() {
        doc.add_option(bi, "IdentityFile", &s.new_raw).map_err(e)?;
        doc.add_option(bi, "IdentityFile", old_raw).map_err(e)?;
    } else {
        // The first IdentityFile line takes the new key (its indentation
        // and comment kept); other lines naming the new key go; the old
        // key is kept (added after when it is not there).
        let first_val = doc.lines()[lines[0]]
            .values()
            .first()
            .map(|v| v.to_string());
        doc.set_option(bi, "IdentityFile", &s.new_raw).map_err(e)?;
        let block = doc.blocks()[bi].clone();
        let lines = doc.option_lines(&block, "identityfile");
        for &li in lines.iter().skip(1).rev() {
            let v = doc.lines()[li].values().first().map(|v| v.to_string());
            if v.as_deref() == Some(s.new_raw.as_str()) {
                doc.remove_lines(li..li + 1);
            }
        }
        let has_old = {
            let block = doc.blocks()[bi].clone();
            doc.option_lines(&block, "identityfile").iter().any(|&li| {
                doc.lines()[li]
                    .values()
                    .first()
                    .map(|v| v.to_string())
                    .as_deref()
                    == Some(old_raw)
            })
        };
        if !has_old {
            let keep = first_val
                .filter(|v| v == old_raw)
                .unwrap_or_else(|| old_raw.to_string());
            doc.add_option(bi, "IdentityFile", &keep).map_err(e)?;
        }
    }
    if !reads_right(&doc) {
        return Err(format!(
            "after the edit ssh would not offer {} first (another IdentityFile wins); set it yourself",
            s.new_raw
        ));
    }
    // One backup per run: the config as it was before the first switch
    // (a backup per host would prune the original away past ten hosts).
    let backup = !s.backed_up.load(std::sync::atomic::Ordering::SeqCst);
    let opts = fsio::WriteOptions {
        backup,
        ..Default::default()
    };
    fsio::write(&snap, &doc.to_bytes(), opts).map_err(|e| e.to_string())?;
    s.backed_up.store(true, std::sync::atomic::Ordering::SeqCst);
    Ok(true)
}

/// The points of a host's rotation where a test may stop the process
/// (`RUNPOD_SSH_TEST_KILL_AT`): after each action and after each journal
/// record, so every "done but not yet recorded" state is reached.
pub const KILL_POINTS: &[&str] = &[
    "started",
    "added-remote",
    "added",
    "verified",
    "switched-config",
    "switched",
    "removed-remote",
    "old-removed",
    "finished",
];

/// Test hook: `RUNPOD_SSH_TEST_KILL_AT=POINT` kills this process (SIGKILL
/// on Unix: no destructor, no flush) the first time a host reaches POINT,
/// so a test stops a rotation at every step instead of hoping a random
/// kill lands there. Compiled into debug builds only.
#[cfg(debug_assertions)]
fn kill_point(point: &str) {
    debug_assert!(KILL_POINTS.contains(&point));
    if std::env::var("RUNPOD_SSH_TEST_KILL_AT").is_ok_and(|v| v == point) {
        #[cfg(unix)]
        // SAFETY: kill(2) on our own pid; no memory is touched.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
fn kill_point(_point: &str) {}

impl Shared {
    fn new_key_path(&self) -> PathBuf {
        self.ctx.home_path(&self.new_raw)
    }
}

pub(super) async fn rotate_host(p: Plan, s: Arc<Shared>, remove_old: bool) -> HostResult {
    let t = &p.target;
    let mut entry = p.entry.clone();
    entry.remove_old = entry.remove_old || remove_old;
    let mut r = HostResult {
        alias: p.alias.clone(),
        ok: false,
        step: entry.step,
        failed_at: None,
        error: None,
        note: None,
        old: Some(p.old.clone()),
        new: s.new_key_path(),
    };
    macro_rules! bail {
        ($at:expr, $e:expr) => {{
            r.failed_at = Some($at);
            r.error = Some($e);
            r.step = entry.step;
            return r;
        }};
    }
    macro_rules! step {
        ($st:expr) => {{
            if entry.step < $st {
                entry.step = $st;
            }
            if let Err(e) = s.save(&entry) {
                bail!("journal", e);
            }
        }};
    }
    // Record the plan (the old key) before anything changes anywhere.
    step!(entry.step);
    kill_point("started");
    let user = &t.user;
    let who = format!("{user}@{}:{}", t.hostname, t.port);

    // 1. Log in with the current key (after --remove-old only the new one works).
    let mut c = match client::connect(t, s.timeout, true).await {
        Ok(c) => c,
        Err(e) => bail!("connect", e.to_string()),
    };
    let with_old = match c.authenticate(user, &p.old_key).await {
        Ok(ok) => ok,
        Err(e) => bail!("connect", e.to_string()),
    };
    if !with_old {
        // A fresh connection: a server may stop after the first refusal.
        c.close().await;
        c = match client::connect(t, s.timeout, true).await {
            Ok(c) => c,
            Err(e) => bail!("connect", e.to_string()),
        };
        match c.authenticate(user, &s.new_key).await {
            Ok(true) => {}
            Ok(false) => bail!(
                "connect",
                format!(
                    "{who} refuses {} (the key the config names) and the new key",
                    tilde(&p.old)
                )
            ),
            Err(e) => bail!("connect", e.to_string()),
        }
    }

    // 2. Add the new key (idempotent).
    let new_pub = s.new_key.public_key().clone();
    let line = s.new_line.clone();
    if let Err(e) =
        edit_authorized_keys(&c, |content| keys::add_key(content, &new_pub, &line)).await
    {
        c.close().await;
        bail!("add", e);
    }
    kill_point("added-remote");
    c.close().await;
    step!(Step::Added);
    kill_point("added");

    // 3. A fresh connection that offers only the new key, and `true`.
    let mut c = match client::connect(t, s.timeout, true).await {
        Ok(c) => c,
        Err(e) => bail!("verify", e.to_string()),
    };
    match c.authenticate(user, &s.new_key).await {
        Ok(true) => {}
        Ok(false) => bail!(
            "verify",
            format!(
                "the new key is in ~/.ssh/authorized_keys, yet {who} refuses it (does sshd read another AuthorizedKeysFile?)"
            )
        ),
        Err(e) => bail!("verify", e.to_string()),
    }
    match c.exec("true", &[], 4096).await {
        Ok((0, _)) => {}
        Ok((st, _)) => bail!("verify", format!("`true` exited with status {st} on {who}")),
        Err(e) => bail!("verify", e.to_string()),
    }
    step!(Step::Verified);
    kill_point("verified");

    // 4. Only now the config names the new key (the old one second).
    let (s2, alias, old_raw, old) = (s.clone(), p.alias.clone(), p.old_raw.clone(), p.old.clone());
    let switched =
        tokio::task::spawn_blocking(move || switch_config(&s2, &alias, &old_raw, &old)).await;
    match switched {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            c.close().await;
            bail!("switch", e)
        }
        Err(e) => {
            c.close().await;
            bail!("switch", e.to_string())
        }
    }
    kill_point("switched-config");
    step!(Step::Switched);
    kill_point("switched");

    // 5. --remove-old: the old key's line goes, and the old key is refused.
    let mut note = format!(
        "rotated: logs in with {} ({}); IdentityFile {} first, {} kept second",
        s.new_raw,
        keys::fingerprint(&new_pub),
        s.new_raw,
        p.old_raw
    );
    if entry.remove_old {
        let old_pub = p.old_key.public_key().clone();
        let removed = edit_authorized_keys(&c, |content| {
            let (out, n) = keys::remove_key(content, &old_pub);
            (n > 0).then_some(out)
        })
        .await;
        c.close().await;
        if let Err(e) = removed {
            bail!("remove-old", e);
        }
        kill_point("removed-remote");
        let mut c3 = match client::connect(t, s.timeout, true).await {
            Ok(c) => c,
            Err(e) => bail!("remove-old", e.to_string()),
        };
        match c3.authenticate(user, &p.old_key).await {
            Ok(false) => {}
            Ok(true) => bail!(
                "remove-old",
                format!(
                    "the old key's line is gone from ~/.ssh/authorized_keys, yet {who} still accepts {} (another AuthorizedKeysFile?)",
                    tilde(&p.old)
                )
            ),
            Err(e) => bail!("remove-old", e.to_string()),
        }
        c3.close().await;
        step!(Step::OldRemoved);
        kill_point("old-removed");
        note.push_str(&format!("; the server now refuses {}", tilde(&p.old)));
    } else {
        c.close().await;
    }
    if let Err(e) = s.finish(&p.alias) {
        bail!("journal", e);
    }
    kill_point("finished");
    r.ok = true;
    r.step = entry.step;
    r.note = Some(note);
    r
}
