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
use crate::config::files::load_tree;
use crate::config::{Document, resolve};
use crate::keys::{self, HostEntry, Step};
use crate::probe::{self, Target};
use crate::{fsio, runpod};

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
    keys::read_answer(&out).ok_or_else(|| {
        "unexpected answer while reading ~/.ssh/authorized_keys (a login script that prints?)"
            .into()
    })
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

/// One host's rotation: each step below runs only after the one before
/// was recorded in the journal, so a killed run resumes where it stopped
/// and no state leaves the host reachable with neither key.
pub(super) async fn rotate_host(
    p: Plan,
    s: Arc<Shared>,
    remove_old: bool,
) -> (Plan, HostResult, HostEntry) {
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
            return (p, r, entry);
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

    // 1. Log in with the current key (after --remove-old only the new one works).
    let c = match log_in_to_rotate(&p, &s).await {
        Ok(c) => c,
        Err(e) => bail!("connect", e),
    };

    // 2. Add the new key (idempotent).
    if let Err(e) = add_new_key(&c, &p.target, &s).await {
        c.close().await;
        bail!("add", e);
    }
    kill_point("added-remote");
    c.close().await;
    step!(Step::Added);
    kill_point("added");

    // 3. A fresh connection that offers only the new key, and `true`.
    let c = match prove_new_key(&p.target, &s).await {
        Ok(c) => c,
        Err(e) => bail!("verify", e),
    };
    step!(Step::Verified);
    kill_point("verified");

    // 4. Only now the config names the new key (the old one second).
    if let Err(e) = switch_config_blocking(&p, &s).await {
        c.close().await;
        bail!("switch", e);
    }
    kill_point("switched-config");
    step!(Step::Switched);
    kill_point("switched");

    c.close().await;
    let note = format!(
        "rotated: logs in with {} ({}); IdentityFile {} first, {} kept second",
        s.new_raw,
        keys::fingerprint(s.new_key.public_key()),
        s.new_raw,
        p.old_raw
    );
    r.step = entry.step;
    r.note = Some(note);
    if entry.remove_old {
        // Phase two (after every host of the run switched) removes the
        // old key's line.
        return (p, r, entry);
    }
    if let Err(e) = s.finish(&p.alias) {
        bail!("journal", e);
    }
    kill_point("finished");
    r.ok = true;
    (p, r, entry)
}

/// `user@host:port`, as messages name a login.
fn who(t: &Target) -> String {
    format!("{}@{}:{}", t.user, t.hostname, t.port)
}

/// Step 1: a logged-in connection, with the current key or, when the
/// server refuses it (a run killed after `--remove-old` took its line
/// off), with the new key.
async fn log_in_to_rotate(p: &Plan, s: &Shared) -> Result<Connection, String> {
    let t = &p.target;
    let user = &t.user;
    let mut c = client::connect(t, s.timeout, true)
        .await
        .map_err(|e| e.to_string())?;
    let with_old = c
        .authenticate(user, &p.old_key)
        .await
        .map_err(|e| e.to_string())?;
    if !with_old {
        // A fresh connection: a server may stop after the first refusal.
        c.close().await;
        c = client::connect(t, s.timeout, true)
            .await
            .map_err(|e| e.to_string())?;
        match c.authenticate(user, &s.new_key).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(format!(
                    "{} refuses {} (the key the config names) and the new key",
                    who(t),
                    tilde(&p.old)
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(c)
}

/// Step 2: the new key's line in the server's `authorized_keys` (kept
/// when already there). One edit per login at a time: two aliases of the
/// same account must not write over each other's edit.
async fn add_new_key(c: &Connection, t: &Target, s: &Shared) -> Result<(), String> {
    let new_pub = s.new_key.public_key().clone();
    let line = s.new_line.clone();
    let login = s.login_lock(t);
    let _one = login.lock().await;
    edit_authorized_keys(c, |content| keys::add_key(content, &new_pub, &line))
        .await
        .map(|_| ())
}

/// Step 3: the proof: a fresh connection that offers only the new key
/// logs in and runs `true`. The connection stays open for step 4.
async fn prove_new_key(t: &Target, s: &Shared) -> Result<Connection, String> {
    let mut c = client::connect(t, s.timeout, true)
        .await
        .map_err(|e| e.to_string())?;
    match c.authenticate(&t.user, &s.new_key).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "the new key is in ~/.ssh/authorized_keys, yet {} refuses it (does sshd read another AuthorizedKeysFile?)",
                who(t)
            ));
        }
        Err(e) => return Err(e.to_string()),
    }
    match c.exec("true", &[], 4096).await {
        Ok((0, _)) => Ok(c),
        Ok((st, _)) => Err(format!("`true` exited with status {st} on {}", who(t))),
        Err(e) => Err(e.to_string()),
    }
}

/// Step 4: [`switch_config`] off the async threads (it reads, locks and
/// writes files).
async fn switch_config_blocking(p: &Plan, s: &Arc<Shared>) -> Result<(), String> {
    let (s2, alias, old_raw, old) = (s.clone(), p.alias.clone(), p.old_raw.clone(), p.old.clone());
    match tokio::task::spawn_blocking(move || switch_config(&s2, &alias, &old_raw, &old)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(e.to_string()),
    }
}

/// Other aliases of the config that log in to the same account (User,
/// Port, and HostName alike or reaching the same address) with the old key
/// and do not name the new one: taking the old key's line off would lock
/// them out. Keys are told by their material (a symlink, a copy or
/// another spelling of the path is the same key).
fn same_login_with_old_key(s: &Shared, p: &Plan) -> Result<Vec<String>, String> {
    let snap = fsio::read(&s.config).map_err(|e| e.to_string())?;
    let doc = Document::parse(snap.content());
    let new_path = s.new_key_path();
    let old_pub = p.old_key.public_key().key_data().clone();
    let new_pub = s.new_key.public_key().key_data().clone();
    let addrs = |host: &str, port: u16| -> Vec<std::net::IpAddr> {
        use std::net::ToSocketAddrs;
        (host, port)
            .to_socket_addrs()
            .map(|a| a.map(|a| a.ip()).collect())
            .unwrap_or_default()
    };
    let mut ours: Option<Vec<std::net::IpAddr>> = None;
    let mut out = Vec::new();
    for e in runpod::entries(&load_tree(&s.config, &doc, &s.ctx.home), true) {
        if e.alias == p.alias {
            continue;
        }
        let r = resolve(&doc, &s.config, &e.alias, &s.ctx);
        let Ok(t) = probe::target(&e.alias, &r) else {
            continue;
        };
        if t.port != p.target.port || t.user != p.target.user {
            continue;
        }
        let names = |path: &Path, key: &ssh_key::public::KeyData| {
            t.identity_files.iter().any(|(_, q)| {
                q == path || keys::public_of_file(q).is_some_and(|k| k.key_data() == key)
            })
        };
        if !names(&p.old, &old_pub) || names(&new_path, &new_pub) {
            continue;
        }
        let same = t.hostname == p.target.hostname || {
            let ours = ours.get_or_insert_with(|| addrs(&p.target.hostname, p.target.port));
            addrs(&t.hostname, t.port).iter().any(|a| ours.contains(a))
        };
        if same {
            out.push(e.alias);
        }
    }
    Ok(out)
}

/// Whether `t` lets `user` in with a key made just now.
async fn accepts_a_throwaway_key(t: &Target, user: &str, timeout: Duration) -> bool {
    let Ok(k) = keys::generate(keys::KeyType::Ed25519, "runpod-ssh-throwaway") else {
        return false;
    };
    let Ok(mut c) = client::connect(t, timeout, false).await else {
        return false;
    };
    let ok = c.authenticate(user, &k).await.unwrap_or(false);
    c.close().await;
    ok
}

/// `--remove-old` for a host phase one switched: its old key's line goes
/// from the server, and a fresh connection proves the old key refused.
pub(super) async fn remove_old_host(
    p: Plan,
    s: Arc<Shared>,
    mut entry: HostEntry,
    mut r: HostResult,
) -> HostResult {
    let p = Arc::new(p);
    let t = &p.target;
    let user = &t.user;
    let who = format!("{user}@{}:{}", t.hostname, t.port);
    macro_rules! bail {
        ($e:expr) => {{
            r.failed_at = Some("remove-old");
            r.error = Some($e);
            r.step = entry.step;
            return r;
        }};
    }
    // Blocking: it reads files and resolves host names.
    let (s2, p2) = (s.clone(), p.clone());
    let others = tokio::task::spawn_blocking(move || same_login_with_old_key(&s2, &p2))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    match others {
        Ok(v) if v.is_empty() => {}
        Ok(v) => bail!(format!(
            "{} also log{} in to {who} with {} and do{} not name {}: the old key's line stays until {} rotated too (`runpod-ssh key rotate {} --new {}`), then run this again",
            v.join(", "),
            if v.len() == 1 { "s" } else { "" },
            tilde(&p.old),
            if v.len() == 1 { "es" } else { "" },
            s.new_raw,
            if v.len() == 1 { "it is" } else { "they are" },
            v.join(" "),
            s.new_raw
        )),
        Err(e) => bail!(e),
    }
    let mut c = match client::connect(t, s.timeout, true).await {
        Ok(c) => c,
        Err(e) => bail!(e.to_string()),
    };
    match c.authenticate(user, &s.new_key).await {
        Ok(true) => {}
        Ok(false) => bail!(format!(
            "{who} now refuses the new key; the old key's line stays"
        )),
        Err(e) => bail!(e.to_string()),
    }
    let old_pub = p.old_key.public_key().clone();
    let login = s.login_lock(t);
    let removed = {
        let _one = login.lock().await;
        edit_authorized_keys(&c, |content| {
            let (out, n) = keys::remove_key(content, &old_pub);
            (n > 0).then_some(out)
        })
        .await
    };
    c.close().await;
    if let Err(e) = removed {
        bail!(e);
    }
    kill_point("removed-remote");
    let mut c3 = match client::connect(t, s.timeout, true).await {
        Ok(c) => c,
        Err(e) => bail!(e.to_string()),
    };
    match c3.authenticate(user, &p.old_key).await {
        Ok(false) => {}
        Ok(true) => {
            c3.close().await;
            // A key nobody ever installed tells a server that vouches for
            // every key from one that reads another file.
            let any = accepts_a_throwaway_key(t, user, s.timeout).await;
            bail!(if any {
                format!(
                    "the old key's line is gone from ~/.ssh/authorized_keys, but {who} accepts any key (a freshly made one too): that the old key is refused cannot be proven there"
                )
            } else {
                format!(
                    "the old key's line is gone from ~/.ssh/authorized_keys, yet {who} still accepts {} (another AuthorizedKeysFile?)",
                    tilde(&p.old)
                )
            })
        }
        Err(e) => bail!(e.to_string()),
    }
    c3.close().await;
    entry.step = Step::OldRemoved;
    if let Err(e) = s.save(&entry) {
        r.failed_at = Some("journal");
        r.error = Some(e);
        return r;
    }
    kill_point("old-removed");
    if let Err(e) = s.finish(&p.alias) {
        r.failed_at = Some("journal");
        r.error = Some(e);
        return r;
    }
    kill_point("finished");
    if let Some(n) = r.note.as_mut() {
        n.push_str(&format!("; the server now refuses {}", tilde(&p.old)));
    }
    r.ok = true;
    r.step = entry.step;
    r
}
