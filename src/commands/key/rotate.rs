//! `key rotate`: the run as a whole — the new key (created or resumed from
//! the journal), one plan per host (the key it logs in with now), the
//! hosts rotated a few at a time (see `host`), then the report and, with
//! `--account`, the new key onto the RunPod account.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ssh_key::PrivateKey;

use super::super::edit::tilde;
use super::super::{Env, Failure, OrFail, Outcome, bad_input};
use super::host::{dry_run_host, remove_old_host, rotate_host};
use super::{expand, home, key_err, open_key};
use crate::cli::KeyRotateArgs;
use crate::config::files::load_tree;
use crate::config::{Context, Document, resolve};
use crate::keys::{self, HostEntry, Journal, Step};
use crate::probe::{self, Target};
use crate::{account_keys, api, fsio, output, runpod};

// ---------------------------------------------------------------------------
// key rotate

/// One host's plan.
pub(super) struct Plan {
    pub(super) alias: String,
    pub(super) target: Target,
    pub(super) old_raw: String,
    pub(super) old: PathBuf,
    pub(super) old_key: Arc<PrivateKey>,
    pub(super) entry: HostEntry,
}

/// One host's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct HostResult {
    pub(super) alias: String,
    pub(super) ok: bool,
    /// The last step reached (`started` when nothing changed).
    pub(super) step: Step,
    /// Where it failed.
    pub(super) failed_at: Option<&'static str>,
    pub(super) error: Option<String>,
    pub(super) note: Option<String>,
    pub(super) old: Option<PathBuf>,
    pub(super) new: PathBuf,
}

/// Shared by the hosts of one run.
pub(super) struct Shared {
    pub(super) journal: Mutex<Journal>,
    pub(super) journal_path: PathBuf,
    pub(super) config: PathBuf,
    pub(super) ctx: Context,
    pub(super) config_lock: Mutex<()>,
    /// The config's backup for this run is written.
    pub(super) backed_up: std::sync::atomic::AtomicBool,
    pub(super) new_key: Arc<PrivateKey>,
    pub(super) new_line: String,
    pub(super) new_raw: String,
    pub(super) timeout: Duration,
    /// One `authorized_keys` edit at a time per login (user@host:port):
    /// two aliases of one account share the file and the server script's
    /// temp file.
    pub(super) logins: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Shared {
    /// The edit lock of `t`'s login.
    pub(super) fn login_lock(&self, t: &Target) -> Arc<tokio::sync::Mutex<()>> {
        let key = format!("{}@{}:{}", t.user, t.hostname, t.port);
        let mut m = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(key).or_default().clone()
    }

    pub(super) fn save(&self, e: &HostEntry) -> Result<(), String> {
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        j.put(e.clone());
        j.save(&self.journal_path).map_err(|e| e.to_string())
    }

    pub(super) fn finish(&self, alias: &str) -> Result<(), String> {
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        j.remove(alias);
        j.save(&self.journal_path).map_err(|e| e.to_string())
    }
}

/// The form of `p` to write in the config: `~/…` under the home.
pub(super) fn raw_path(p: &Path) -> String {
    let s = tilde(p);
    s.replace('\\', "/")
}

/// Whether `IdentityFile RAW` in the config makes ssh read `path`: it can
/// be written (no quotes, `#`, backslashes), and ssh's expansion (`~`,
/// `%` tokens, `${VAR}`) leads back to the same file.
fn config_names(raw: &str, path: &Path, config: &Path, ctx: &Context) -> Result<(), String> {
    const PROBE: &str = "runpod-ssh-identity-check";
    let mut doc = Document::parse(format!("Host {PROBE}\n").as_bytes());
    let bi = *doc
        .host_blocks_naming(PROBE)
        .first()
        .ok_or("no block to try it in")?;
    doc.add_option(bi, "IdentityFile", raw)
        .map_err(|e| e.to_string())?;
    let r = resolve(&doc, config, PROBE, ctx);
    let named = r
        .identity_files()
        .first()
        .map(|(raw, _)| PathBuf::from(r.expand_path(raw)));
    if named.as_deref() == Some(path) {
        Ok(())
    } else {
        Err(format!(
            "ssh would read `IdentityFile {raw}` as {}",
            named
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "nothing".into())
        ))
    }
}

fn today() -> String {
    fsio::timestamp(std::time::SystemTime::now())[..8].to_string()
}

pub(super) fn rotate(env: &Env, a: &KeyRotateArgs) -> anyhow::Result<Outcome> {
    crate::commands::check_connect_args(a.timeout, a.jobs, &a.aliases)?;
    let home = home()?;
    let ssh_dir = home.join(".ssh");
    let journal_path = keys::journal_path(&ssh_dir);
    // One rotation at a time (a dry run writes nothing, not even a lock).
    let _lock = if a.dry_run {
        None
    } else {
        Some(fsio::Lock::for_file(&journal_path).or_fail(Failure::Io)?)
    };
    let journal = Journal::load(&journal_path).map_err(key_err)?;

    let (config, doc, ctx, aliases) = rotate_targets(env, a)?;
    let (new_path, new_raw, new_key, created) =
        new_key_for(a, &journal, &aliases, &ssh_dir, &config, &ctx)?;

    // Plans: the key each host logs in with now.
    let cx = PlanCx {
        doc: &doc,
        config: &config,
        ctx: &ctx,
        journal: &journal,
        new_path: &new_path,
        new_key: new_key.as_ref(),
        remove_old: a.remove_old,
    };
    let (plans, mut results) = plan_hosts(&aliases, &cx);

    let rt = runtime()?;
    let timeout = Duration::from_secs_f64(a.timeout);

    if a.dry_run {
        let checked = dry_run_hosts(&rt, a, plans, &new_path, new_key.as_ref(), timeout);
        results.extend(checked);
        results.sort_by_key(|r| aliases.iter().position(|a| *a == r.alias));
        return report(env, &results, &dry_run_head(&new_path, &new_key), "", true);
    }

    let Some(new_key) = new_key else {
        return Err(bad_input("no new key"));
    };
    // One line, whatever the key file's comment holds: it goes into every
    // server's authorized_keys (and the account's keys).
    let new_line = keys::authorized_line(new_key.public_key()).or_fail(Failure::Io)?;
    // The keys being replaced, for --account --remove-old.
    let old_lines = old_lines(&plans);
    // Asked before any host changes: a missing API key stops here.
    let account = account_client(a)?;
    let shared = Arc::new(Shared {
        journal: Mutex::new(journal),
        journal_path,
        config: config.clone(),
        ctx,
        config_lock: Mutex::new(()),
        backed_up: Default::default(),
        new_key: Arc::new(new_key),
        new_line: new_line.clone(),
        new_raw,
        timeout,
        logins: Default::default(),
    });
    let done = rotate_hosts(&rt, a.jobs, plans, &shared, a.remove_old);
    results.extend(done);
    results.sort_by_key(|r| aliases.iter().position(|a| *a == r.alias));

    let head = rotating_head(&new_path, created);
    let fp = keys::fingerprint(shared.new_key.public_key());
    if let Some(client) = &account {
        return rotate_account(
            env,
            client,
            &results,
            &head,
            &new_line,
            &fp,
            &old_lines,
            a.remove_old,
        );
    }
    let any_failed = results.iter().any(|r| !r.ok);
    let tail = rotate_tail(&new_line, &fp, a.remove_old, any_failed);
    report(env, &results, &head, &tail, false)
}

/// Every host's plan (the key it logs in with now, each key file opened
/// once), and the results of the hosts that need or allow no rotation.
fn plan_hosts(aliases: &[String], cx: &PlanCx) -> (Vec<Plan>, Vec<HostResult>) {
    let mut results: Vec<HostResult> = Vec::new();
    let mut plans: Vec<Plan> = Vec::new();
    let mut opened: Vec<(PathBuf, Arc<PrivateKey>)> = Vec::new();
    for alias in aliases {
        match plan_host(alias, cx, &mut opened) {
            Ok(p) => plans.push(p),
            Err(r) => results.push(*r),
        }
    }
    (plans, results)
}

/// The public keys the plans replace, as OpenSSH lines.
fn old_lines(plans: &[Plan]) -> Vec<String> {
    plans
        .iter()
        .filter_map(|p| p.old_key.public_key().to_openssh().ok())
        .collect()
}

/// The RunPod API client `--account` needs (none without it).
fn account_client(a: &KeyRotateArgs) -> anyhow::Result<Option<api::Client>> {
    if a.account {
        let client = api::Client::from_env().or_fail(Failure::Io)?;
        Ok(Some(client))
    } else {
        Ok(None)
    }
}

/// The runtime the hosts are rotated (or checked) on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .or_fail(Failure::Io)
}

/// A dry run: what each planned host would do, checked without a change.
fn dry_run_hosts(
    rt: &tokio::runtime::Runtime,
    a: &KeyRotateArgs,
    plans: Vec<Plan>,
    new_path: &Path,
    new_key: Option<&PrivateKey>,
    timeout: Duration,
) -> Vec<HostResult> {
    let remove_old = a.remove_old;
    let new_pub = new_key.map(|k| k.public_key().clone());
    run_hosts(rt, a.jobs, plans, |p| {
        dry_run_host(
            p,
            new_path.to_path_buf(),
            new_pub.clone(),
            remove_old,
            timeout,
        )
    })
}

/// The first line of a dry run's report.
fn dry_run_head(new_path: &Path, new_key: &Option<PrivateKey>) -> String {
    if new_key.is_none() {
        format!(
            "Dry run: would create {} (ed25519), then:\n",
            tilde(new_path)
        )
    } else {
        format!("Dry run, rotating to {}:\n", tilde(new_path))
    }
}

/// The first line of a rotation's report.
fn rotating_head(new_path: &Path, created: bool) -> String {
    if created {
        format!(
            "Created {} (ed25519, 0600) and its .pub; rotating to it:\n",
            tilde(new_path)
        )
    } else {
        format!("Rotating to {}:\n", tilde(new_path))
    }
}

/// The config and the hosts to rotate: those named (each once), else
/// every RunPod entry (none is an error).
fn rotate_targets(
    env: &Env,
    a: &KeyRotateArgs,
) -> anyhow::Result<(PathBuf, Document, Context, Vec<String>)> {
    let config = env.config_path()?;
    let snap = fsio::read(&config).or_fail(Failure::Io)?;
    let doc = Document::parse(snap.content());
    let ctx = Context::current();
    let aliases: Vec<String> = if a.aliases.is_empty() {
        runpod::entries(&load_tree(&config, &doc, &ctx.home), false)
            .into_iter()
            .map(|e| e.alias)
            .collect()
    } else {
        // An alias named twice is rotated once (two runs of one host
        // raced on its journal entry and reported it twice).
        let mut v: Vec<String> = Vec::new();
        for x in &a.aliases {
            if !v.contains(x) {
                v.push(x.clone());
            }
        }
        v
    };
    if aliases.is_empty() {
        return Err(bad_input(
            "no RunPod entries to rotate; name the hosts, or add one with `runpod-ssh add`",
        ));
    }
    Ok((config, doc, ctx, aliases))
}

/// The new key: --new, else the one an unfinished run was rotating to,
/// else a new dated file; refused when the config cannot name it or ssh
/// would not use it. Created now (unless a dry run): (its path, its path
/// as written in the config, the key when it exists, whether it was
/// created).
fn new_key_for(
    a: &KeyRotateArgs,
    journal: &Journal,
    aliases: &[String],
    ssh_dir: &Path,
    config: &Path,
    ctx: &Context,
) -> anyhow::Result<(PathBuf, String, Option<PrivateKey>, bool)> {
    let pending: Vec<&HostEntry> = journal
        .hosts
        .iter()
        .filter(|h| aliases.contains(&h.alias))
        .collect();
    let new_path = match &a.new {
        // ssh reads a relative IdentityFile from whatever folder it runs
        // in: the config names the key by its full path.
        Some(p) => std::path::absolute(expand(p)?).or_fail(Failure::Io)?,
        None => match pending.first() {
            Some(h) if pending.iter().all(|x| x.new == h.new) => h.new.clone(),
            _ => ssh_dir.join(format!("id_ed25519_runpod-{}", today())),
        },
    };
    let new_raw = raw_path(&new_path);
    // Refused before any host changes: a key the config cannot name, or
    // one ssh ignores, would be proven with our client and then fail ssh
    // (and with --remove-old leave it no key at all).
    if let Err(why) = config_names(&new_raw, &new_path, config, ctx) {
        return Err(bad_input(format!(
            "{} cannot be named in the config: {why}; choose another --new path",
            tilde(&new_path)
        )));
    }
    if let Some(why) = keys::ssh_refuses_private(&new_path) {
        return Err(bad_input(format!(
            "ssh would not use {}: {why}",
            tilde(&new_path)
        )));
    }
    let mut created = false;
    let new_key = if new_path.exists() {
        Some(open_key(&new_path)?)
    } else if a.dry_run {
        None
    } else {
        let k = keys::generate(keys::KeyType::Ed25519, "runpod-key").map_err(key_err)?;
        keys::write_pair(&new_path, &k, None).map_err(key_err)?;
        created = true;
        Some(k)
    };
    Ok((new_path, new_raw, new_key, created))
}

/// What every host's plan is made from.
struct PlanCx<'a> {
    doc: &'a Document,
    config: &'a Path,
    ctx: &'a Context,
    journal: &'a Journal,
    new_path: &'a PathBuf,
    new_key: Option<&'a PrivateKey>,
    remove_old: bool,
}

/// One host's plan: the key it logs in with now (opened once per file,
/// in `opened`). `Err` with the host's result when there is nothing to
/// do (it already uses the new key) or it cannot be rotated.
fn plan_host(
    alias: &str,
    cx: &PlanCx,
    opened: &mut Vec<(PathBuf, Arc<PrivateKey>)>,
) -> Result<Plan, Box<HostResult>> {
    let new_path = cx.new_path;
    let failed = |at: &'static str, e: String| HostResult {
        alias: alias.to_string(),
        ok: false,
        step: Step::Started,
        failed_at: Some(at),
        error: Some(e),
        note: None,
        old: None,
        new: new_path.clone(),
    };
    let r = resolve(cx.doc, cx.config, alias, cx.ctx);
    let t = match probe::target(alias, &r) {
        Ok(t) => t,
        Err(f) => {
            return Err(Box::new(failed(
                "resolve",
                format!("{}; {}", f.error, f.hint),
            )));
        }
    };
    let from_journal = cx
        .journal
        .get(alias)
        .filter(|h| h.new == *new_path && h.old.is_file());
    // Already rotated (the config names the new key first) and nothing
    // left to do: no network at all.
    if from_journal.is_none()
        && !cx.remove_old
        && t.identity_files.first().is_some_and(|(_, p)| p == new_path)
    {
        return Err(Box::new(HostResult {
            alias: alias.to_string(),
            ok: true,
            step: Step::Switched,
            failed_at: None,
            error: None,
            note: Some(format!("already uses {}", tilde(new_path))),
            old: None,
            new: new_path.clone(),
        }));
    }
    let (old_raw, old) = match from_journal {
        Some(h) => (h.old_raw.clone(), h.old.clone()),
        None => match t
            .identity_files
            .iter()
            .find(|(_, p)| p != new_path && p.is_file())
        {
            Some((raw, p)) => (raw.clone(), p.clone()),
            None if t.identity_files.iter().any(|(_, p)| p == new_path) => {
                let mut done = HostResult {
                    note: Some(format!("already uses {}", tilde(new_path))),
                    ..failed("", String::new())
                };
                done.ok = true;
                done.failed_at = None;
                done.error = None;
                return Err(Box::new(done));
            }
            None => {
                return Err(Box::new(failed(
                    "resolve",
                    "the config names no key file that exists for it".into(),
                )));
            }
        },
    };
    let old_key = match opened.iter().find(|(p, _)| *p == old) {
        Some((_, k)) => k.clone(),
        None => match open_key(&old) {
            Ok(k) => {
                let k = Arc::new(k);
                opened.push((old.clone(), k.clone()));
                k
            }
            Err(e) => return Err(Box::new(failed("resolve", super::super::render(&e)))),
        },
    };
    if let Some(n) = cx.new_key
        && n.public_key().key_data() == old_key.public_key().key_data()
    {
        return Err(Box::new(failed(
            "resolve",
            format!("{} is the same key as {}", tilde(new_path), tilde(&old)),
        )));
    }
    let entry = cx
        .journal
        .get(alias)
        .filter(|h| h.new == *new_path)
        .cloned()
        .unwrap_or(HostEntry {
            alias: alias.to_string(),
            old_raw: old_raw.clone(),
            old: old.clone(),
            new: new_path.clone(),
            remove_old: cx.remove_old,
            step: Step::Started,
        });
    Ok(Plan {
        alias: alias.to_string(),
        target: t,
        old_raw,
        old,
        old_key,
        entry,
    })
}

/// Rotate every planned host, then (once all have switched or failed)
/// finish those that switched: their results, in that order.
fn rotate_hosts(
    rt: &tokio::runtime::Runtime,
    jobs: usize,
    plans: Vec<Plan>,
    shared: &Arc<Shared>,
    remove_old: bool,
) -> Vec<HostResult> {
    let first = run_hosts(rt, jobs, plans, |p| {
        rotate_host(p, shared.clone(), remove_old)
    });
    let mut results = Vec::new();
    let mut switched = Vec::new();
    for (p, r, entry) in first {
        if !r.ok && r.failed_at.is_none() {
            switched.push((p, r, entry));
        } else {
            results.push(r);
        }
    }
    // Only once every host of the run has switched (or failed): an
    // alias on the same login then names the new key, or says why not.
    let done = run_hosts(rt, jobs, switched, |(p, r, entry)| {
        remove_old_host(p, shared.clone(), entry, r)
    });
    results.extend(done);
    results
}

/// Run `host` on every item, at most `jobs` (and 64) at once; the results
/// of the tasks that finished, in the order given.
fn run_hosts<I, T, F, Fut>(
    rt: &tokio::runtime::Runtime,
    jobs: usize,
    items: Vec<I>,
    host: F,
) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(jobs.min(64)));
        let mut tasks = Vec::new();
        for item in items {
            let sem = sem.clone();
            let fut = host(item);
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                fut.await
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            if let Ok(r) = t.await {
                out.push(r);
            }
        }
        out
    })
}

/// What to do on RunPod's side after a rotation without --account.
fn rotate_tail(new_line: &str, fp: &str, remove_old: bool, any_failed: bool) -> String {
    // The comment is a file's text: escaped like anything else shown.
    let shown_line = output::escape(new_line, false);
    let mut tail = format!(
        "\nRunPod next: paste the new public key into RunPod → Settings → SSH Public Keys\n  {shown_line}\n  ({fp}): a pod started or restarted later gets only the account's keys.\nUntil then each rotated entry keeps its old key as a second IdentityFile, so a restarted pod still lets you in.\n"
    );
    if remove_old {
        tail.push_str(
            "After that, remove the old key from the account settings too. The old private key was not deleted.\n",
        );
    }
    if any_failed {
        tail.push_str("Hosts that failed keep their old key and config; run the same command again to finish them.\n");
    }
    tail
}

fn report(
    env: &Env,
    results: &[HostResult],
    head: &str,
    tail: &str,
    dry: bool,
) -> anyhow::Result<Outcome> {
    let all_ok = results.iter().all(|r| r.ok);
    if env.global.json {
        output::out(&format!("{}\n", serde_json::to_string_pretty(results)?))?;
    } else {
        let esc = |s: &str| output::escape(s, false);
        let mut text = head.to_string();
        for r in results {
            if r.ok {
                text.push_str(&format!(
                    "{} {}: {}\n",
                    env.style.green("✓"),
                    esc(&r.alias),
                    esc(r.note.as_deref().unwrap_or("ok"))
                ));
            } else {
                text.push_str(&format!(
                    "{} {}: failed at {}: {}\n",
                    env.style.red("✗"),
                    esc(&r.alias),
                    r.failed_at.unwrap_or("?"),
                    esc(r.error.as_deref().unwrap_or(""))
                ));
                if !dry && r.step >= Step::Switched {
                    text.push_str(&format!(
                        "  → its config names {} first and {} second\n",
                        tilde(&r.new),
                        r.old
                            .as_deref()
                            .map(tilde)
                            .unwrap_or_else(|| "its old key".into()),
                    ));
                } else if !dry {
                    text.push_str(&format!(
                        "  → it keeps {} and its config entry{}\n",
                        r.old
                            .as_deref()
                            .map(tilde)
                            .unwrap_or_else(|| "its key".into()),
                        if r.step >= Step::Added {
                            " (the new key is already on the server too)"
                        } else {
                            ""
                        }
                    ));
                }
            }
        }
        if !env.global.quiet {
            text.push_str(tail);
        }
        output::out(&text)?;
    }
    Ok(if all_ok {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

/// `key rotate --account`: the new key onto the RunPod account (kept keys
/// verified by read-back); with --remove-old, the replaced keys off it once
/// every host was rotated.
#[allow(clippy::too_many_arguments)]
fn rotate_account(
    env: &Env,
    client: &api::Client,
    results: &[HostResult],
    head: &str,
    new_line: &str,
    fp: &str,
    old_lines: &[String],
    remove_old: bool,
) -> anyhow::Result<Outcome> {
    let mut tail = String::new();
    match account_keys::push(client, new_line) {
        Ok(r) => tail.push_str(&format!(
            "\nRunPod account: {fp} {} ({} keys there); pods started or restarted from now on get it.\n",
            if r.added { "registered" } else { "was already registered" },
            r.total
        )),
        Err(e) => {
            tail.push_str(&format!(
                "\nRunPod account: the new key could not be registered: {e}\nEach rotated entry keeps its old key as a second IdentityFile until `runpod-ssh key push` succeeds.\n"
            ));
            let _ = report(env, results, head, &tail, false);
            return Err(super::fail(Failure::Io, anyhow::anyhow!("the RunPod account does not hold the new key")));
        }
    }
    if remove_old {
        if results.iter().all(|r| r.ok) {
            let mut seen = Vec::new();
            for l in old_lines {
                let m = account_keys::material(l);
                if seen.contains(&m) || m.as_deref() == account_keys::material(new_line).as_deref()
                {
                    continue;
                }
                seen.push(m);
                match account_keys::remove(client, l) {
                    Ok(true) => tail.push_str("RunPod account: the old key was removed.\n"),
                    Ok(false) => {
                        tail.push_str("RunPod account: the old key was not registered there.\n")
                    }
                    Err(e) => tail.push_str(&format!(
                        "RunPod account: the old key could not be removed: {e}\n"
                    )),
                }
            }
        } else {
            tail.push_str("RunPod account: the old key stays registered until every host is rotated (run the same command again).\n");
        }
    }
    tail.push_str("The old private key was not deleted.\n");
    report(env, results, head, &tail, false)
}
