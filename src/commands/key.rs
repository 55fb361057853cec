//! `runpod-ssh key new|list|show|rotate`: create, inspect and rotate keys.
//!
//! Rotation never locks anyone out: per host the new key is added to the
//! server's `authorized_keys` (over a connection made with the current key),
//! proven on a fresh connection that offers only the new key, and only then
//! does the config switch to it (the old key stays as a second
//! `IdentityFile` until RunPod's account holds the new key, since a
//! restarted pod gets only the account's keys). A journal beside the keys
//! records each host's step so a killed run resumes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ssh_key::{PrivateKey, PublicKey};

use super::edit::tilde;
use super::{Env, Failure, OrFail, Outcome, bad_input, fail};
use crate::cli::{KeyArgs, KeyCommand, KeyNewArgs, KeyPushArgs, KeyRotateArgs, KeyShowArgs};
use crate::client::{self, Connection};
use crate::config::files::load_tree;
use crate::config::{Context, Document, resolve};
use crate::keys::{self, HostEntry, Journal, KeyError, KeyInfo, Kind, Step};
use crate::probe::{self, Target};
use crate::{account_keys, api, fsio, output, runpod};

pub fn run(env: &Env, a: &KeyArgs) -> anyhow::Result<Outcome> {
    match &a.command {
        KeyCommand::New(n) => new(env, n),
        KeyCommand::List => list(env),
        KeyCommand::Show(s) => show(env, s),
        KeyCommand::Rotate(r) => rotate(env, r),
        KeyCommand::Push(p) => push(env, p),
    }
}

// ---------------------------------------------------------------------------
// key push (the RunPod account, issue 11)

/// The public key line of `path` (a private key's `.pub` beside it).
fn public_line_of(path: &Path) -> anyhow::Result<String> {
    let pubp = if path.extension().is_some_and(|e| e == "pub") {
        path.to_path_buf()
    } else {
        keys::pub_path(path)
    };
    let c = fsio::read_limited(&pubp).map_err(|e| {
        bad_input(format!(
            "cannot read {}: {e}. Create a key with `runpod-ssh key new`",
            tilde(&pubp)
        ))
    })?;
    account_keys::public_line(&String::from_utf8_lossy(&c.bytes))
        .map_err(|e| bad_input(format!("{}: {e}", tilde(&pubp))))
}

fn push(env: &Env, a: &KeyPushArgs) -> anyhow::Result<Outcome> {
    let path = match &a.file {
        Some(p) => expand(p)?,
        None => home()?.join(".ssh").join("id_ed25519.pub"),
    };
    let line = public_line_of(&path)?;
    let client = api::Client::from_env().or_fail(Failure::Io)?;
    let r = account_keys::push(&client, &line).or_fail(Failure::Io)?;
    let fp = account_keys::material(&line)
        .and_then(|m| ssh_key::PublicKey::from_openssh(&m).ok())
        .map(|k| keys::fingerprint(&k))
        .unwrap_or_default();
    if env.global.json {
        output::out(&format!(
            "{}\n",
            serde_json::json!({"key": tilde(&path), "fingerprint": fp, "added": r.added, "account_keys": r.total})
        ))?;
    } else if !env.global.quiet {
        output::out(&if r.added {
            format!(
                "{} {fp} ({}) is registered on your RunPod account ({} keys there, every earlier one kept). Pods started or restarted from now on get it; running pods keep the keys they started with.\n",
                env.style.green("✓"),
                tilde(&path),
                r.total
            )
        } else {
            format!(
                "{fp} ({}) is already registered on your RunPod account; nothing changed.\n",
                tilde(&path)
            )
        })?;
    }
    Ok(Outcome::Ok)
}

fn home() -> anyhow::Result<PathBuf> {
    crate::platform::home_dir().ok_or_else(|| bad_input("cannot find your home folder"))
}

/// `~/x` under the account's home (as ssh expands IdentityFile).
fn expand(p: &Path) -> anyhow::Result<PathBuf> {
    match p.to_str().and_then(|s| s.strip_prefix("~/")) {
        Some(rest) => Ok(home()?.join(rest)),
        None => Ok(p.to_path_buf()),
    }
}

fn key_err(e: KeyError) -> anyhow::Error {
    match e {
        KeyError::Exists(_)
        | KeyError::Format { .. }
        | KeyError::Encrypted(_)
        | KeyError::WrongPassphrase(_) => fail(Failure::BadInput, e),
        _ => fail(Failure::Io, e),
    }
}

/// The passphrase: typed on the terminal (twice when `confirm`), else the
/// first line of the file `RUNPOD_SSH_PASSPHRASE_FILE` names.
fn read_passphrase(confirm: bool, what: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let p =
            rpassword::prompt_password(format!("Passphrase for {what}: ")).or_fail(Failure::Io)?;
        if confirm {
            let again =
                rpassword::prompt_password("Same passphrase again: ").or_fail(Failure::Io)?;
            if again != p {
                return Err(bad_input("the passphrases differ; nothing was written"));
            }
        }
        if p.is_empty() && confirm {
            return Err(bad_input(
                "an empty passphrase: leave out --passphrase for an unencrypted key",
            ));
        }
        return Ok(p);
    }
    let Some(file) = std::env::var_os("RUNPOD_SSH_PASSPHRASE_FILE") else {
        return Err(bad_input(format!(
            "a passphrase is needed for {what}, and there is no terminal to type it: set RUNPOD_SSH_PASSPHRASE_FILE to a file whose first line is the passphrase"
        )));
    };
    let c = fsio::read_limited(Path::new(&file)).or_fail(Failure::Io)?;
    let text = String::from_utf8(c.bytes)
        .map_err(|_| bad_input("RUNPOD_SSH_PASSPHRASE_FILE is not UTF-8 text"))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(bad_input(
            "the first line of RUNPOD_SSH_PASSPHRASE_FILE is empty",
        ));
    }
    Ok(line.to_string())
}

/// Open a private key, asking for its passphrase when it is encrypted.
fn open_key(path: &Path) -> anyhow::Result<PrivateKey> {
    match keys::open_private(path, None) {
        Err(KeyError::Encrypted(_)) => {
            let p = read_passphrase(false, &path.display().to_string())?;
            keys::open_private(path, Some(&p)).map_err(key_err)
        }
        r => r.map_err(key_err),
    }
}

// ---------------------------------------------------------------------------
// key new

fn new(env: &Env, a: &KeyNewArgs) -> anyhow::Result<Outcome> {
    let path = match &a.path {
        Some(p) => expand(p)?,
        None => home()?.join(".ssh").join("id_ed25519"),
    };
    if a.comment.contains(['\n', '\r']) {
        return Err(bad_input("the comment must be one line"));
    }
    // Refuse before asking anything: nothing is ever overwritten.
    for p in [path.clone(), keys::pub_path(&path)] {
        if std::fs::symlink_metadata(&p).is_ok() {
            return Err(key_err(KeyError::Exists(p)));
        }
    }
    let pass = if a.passphrase {
        Some(read_passphrase(true, &path.display().to_string())?)
    } else {
        None
    };
    let key = keys::generate(a.kind, &a.comment).map_err(key_err)?;
    let line = keys::write_pair(&path, &key, pass.as_deref()).map_err(key_err)?;
    let fp = keys::fingerprint(key.public_key());
    if env.global.json {
        output::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "path": path,
                "public_path": keys::pub_path(&path),
                "public_key": line,
                "fingerprint": fp,
                "encrypted": pass.is_some(),
            }))?
        ))?;
        return Ok(Outcome::Ok);
    }
    if env.global.quiet {
        output::out(&format!("{line}\n"))?;
        return Ok(Outcome::Ok);
    }
    let shown = tilde(&path);
    output::out(&format!(
        "Created {shown} (private key, mode 0600{}) and {shown}.pub\nFingerprint: {fp}\n\nPaste this line into RunPod → Settings → SSH Public Keys:\n{line}\n\nPods started after that get it. Then add a pod with the command from its Connect tab:\n  runpod-ssh add --identity {} 'ssh root@IP -p PORT'\n",
        if pass.is_some() { ", encrypted" } else { "" },
        super::hints::shell_quote(&shown)
    ))?;
    Ok(Outcome::Ok)
}

// ---------------------------------------------------------------------------
// key list

/// Identity files and the aliases that name them.
type Users = Vec<(PathBuf, Vec<String>)>;

/// Which aliases name each identity file (only configured ones), and why
/// the config could not be read, if it could not.
fn identity_users(env: &Env) -> anyhow::Result<(Users, Option<String>)> {
    let mut out: Users = Vec::new();
    let ctx = Context::current();
    let path = env.config_path()?;
    let snap = match fsio::read(&path) {
        Ok(s) => s,
        Err(e) => return Ok((out, Some(e.to_string()))),
    };
    let doc = Document::parse(snap.content());
    for e in runpod::entries(&load_tree(&path, &doc, &ctx.home), true) {
        let r = resolve(&doc, &path, &e.alias, &ctx);
        if r.all("identityfile").is_empty() {
            continue;
        }
        for (raw, _) in r.identity_files() {
            let p = PathBuf::from(r.expand_path(&raw));
            match out.iter_mut().find(|(q, _)| *q == p) {
                Some((_, v)) => {
                    if !v.contains(&e.alias) {
                        v.push(e.alias.clone())
                    }
                }
                None => out.push((p, vec![e.alias.clone()])),
            }
        }
    }
    Ok((out, None))
}

/// SHA256 fingerprints of the account's keys, when an API key is set up
/// (`None` without one; an API error is said once and the column left out).
fn account_fingerprints(env: &Env) -> Option<Vec<String>> {
    let client = api::Client::from_env().ok()?;
    match account_keys::registered(&client) {
        Ok(m) => Some(
            m.iter()
                .filter_map(|l| ssh_key::PublicKey::from_openssh(l).ok())
                .map(|k| keys::fingerprint(&k))
                .collect(),
        ),
        Err(e) => {
            if !env.global.quiet && !env.global.json {
                output::err(&format!(
                    "note: the RunPod account's keys were not read: {e}\n"
                ));
            }
            None
        }
    }
}

fn list(env: &Env) -> anyhow::Result<Outcome> {
    let ssh_dir = home()?.join(".ssh");
    let mut found: Vec<KeyInfo> = keys::scan_dir(&ssh_dir);
    let (users, config_problem) = identity_users(env)?;
    for (p, aliases) in users {
        let pubp = keys::pub_path(&p);
        match found.iter_mut().find(|k| k.path == p || k.path == pubp) {
            Some(k) => k.used_by = aliases,
            None => {
                let mut k = keys::inspect(&p).unwrap_or(KeyInfo {
                    path: p.clone(),
                    kind: None,
                    bits: None,
                    fingerprint: None,
                    comment: None,
                    encrypted: None,
                    problems: vec!["not a key file OpenSSH can read".into()],
                    used_by: Vec::new(),
                    registered: None,
                });
                k.used_by = aliases;
                found.push(k);
            }
        }
    }
    if let Some(w) = config_problem
        && !env.global.quiet
        && !env.global.json
    {
        output::err(&format!("note: the config was not read: {w}\n"));
    }
    // With an API key: which of them the RunPod account holds.
    let account = account_fingerprints(env);
    if let Some(reg) = &account {
        for k in found.iter_mut() {
            k.registered = Some(k.fingerprint.as_ref().is_some_and(|f| reg.contains(f)));
        }
    }
    if env.global.json {
        output::out(&format!("{}\n", serde_json::to_string_pretty(&found)?))?;
        return Ok(Outcome::Ok);
    }
    if found.is_empty() {
        output::out("No keys in ~/.ssh. Create one with: runpod-ssh key new\n")?;
        return Ok(Outcome::Ok);
    }
    let mut rows = vec![[
        "PATH".to_string(),
        "TYPE".into(),
        "BITS".into(),
        "FINGERPRINT".into(),
        "COMMENT".into(),
        "ENCRYPTED".into(),
        "RUNPOD".into(),
        "USED BY".into(),
    ]];
    let esc = |s: &str| output::escape(s, false);
    for k in &found {
        rows.push([
            esc(&tilde(&k.path)),
            k.kind.clone().unwrap_or_else(|| "?".into()),
            k.bits.map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
            k.fingerprint.clone().unwrap_or_else(|| "-".into()),
            esc(k.comment.as_deref().unwrap_or("")),
            match k.encrypted {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "-".into(),
            },
            match k.registered {
                Some(true) => "registered".into(),
                Some(false) => "no".into(),
                None => "-".into(),
            },
            esc(&k.used_by.join(",")),
        ]);
    }
    let mut text = output::table(&rows, |_, _, c| c);
    for k in &found {
        for p in &k.problems {
            text.push_str(&format!(
                "{} {}: {}\n",
                env.style.yellow("!"),
                esc(&tilde(&k.path)),
                esc(p)
            ));
        }
    }
    output::out(&text)?;
    Ok(Outcome::Ok)
}

// ---------------------------------------------------------------------------
// key show

fn show(env: &Env, a: &KeyShowArgs) -> anyhow::Result<Outcome> {
    let path = match &a.key {
        None => home()?.join(".ssh").join("id_ed25519"),
        Some(k) => {
            let p = expand(Path::new(k))?;
            if p.exists() || k.contains(['/', '\\']) || k.starts_with('~') {
                p
            } else {
                // A host alias: its first configured key that exists.
                let cfg = env.config_path()?;
                let snap = fsio::read(&cfg).or_fail(Failure::Io)?;
                let doc = Document::parse(snap.content());
                let r = resolve(&doc, &cfg, k, &Context::current());
                let t = probe::target(k, &r).map_err(|f| bad_input(f.error))?;
                t.identity_files
                    .iter()
                    .map(|(_, p)| p.clone())
                    .find(|p| p.is_file())
                    .ok_or_else(|| {
                        bad_input(format!(
                            "{k} is neither a key file nor a host with a key file that exists"
                        ))
                    })?
            }
        }
    };
    let bytes = keys::read_small(&path).map_err(key_err)?;
    let line = match keys::classify(&bytes) {
        Kind::Private(k) => {
            // The public half only; the comment from the .pub when it matches.
            let mut public: PublicKey = k.public_key().clone();
            if let Ok(b) = keys::read_small(&keys::pub_path(&path))
                && let Kind::Public(p) = keys::classify(&b)
            {
                if p.key_data() == public.key_data() {
                    if public.comment().is_empty() {
                        public.set_comment(p.comment().clone());
                    }
                } else {
                    output::err(&format!(
                        "warning: {}.pub holds another key ({}); this is the private key's own public half\n",
                        tilde(&path),
                        keys::fingerprint(&p)
                    ));
                }
            }
            public
                .to_openssh()
                .map_err(|e| bad_input(format!("{}: {e}", path.display())))?
        }
        Kind::Public(p) => p
            .to_openssh()
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))?,
        other => {
            let (what, todo) = keys::describe(&other);
            return Err(bad_input(format!(
                "{} is {what}{}",
                tilde(&path),
                if todo.is_empty() {
                    String::new()
                } else {
                    format!("; {todo}")
                }
            )));
        }
    };
    if env.global.json {
        let k = keys::public_of_line(&line);
        output::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "path": path,
                "public_key": line,
                "fingerprint": k.as_ref().map(keys::fingerprint),
            }))?
        ))?;
    } else {
        output::out(&format!("{}\n", output::escape(&line, false)))?;
    }
    Ok(Outcome::Ok)
}

// ---------------------------------------------------------------------------
// key rotate

/// One host's plan.
struct Plan {
    alias: String,
    target: Target,
    old_raw: String,
    old: PathBuf,
    old_key: Arc<PrivateKey>,
    entry: HostEntry,
}

/// One host's outcome.
#[derive(Debug, Clone, serde::Serialize)]
struct HostResult {
    alias: String,
    ok: bool,
    /// The last step reached (`started` when nothing changed).
    step: Step,
    /// Where it failed.
    failed_at: Option<&'static str>,
    error: Option<String>,
    note: Option<String>,
    old: Option<PathBuf>,
    new: PathBuf,
}

/// Shared by the hosts of one run.
struct Shared {
    journal: Mutex<Journal>,
    journal_path: PathBuf,
    config: PathBuf,
    ctx: Context,
    config_lock: Mutex<()>,
    /// The config's backup for this run is written.
    backed_up: std::sync::atomic::AtomicBool,
    new_key: Arc<PrivateKey>,
    new_line: String,
    new_raw: String,
    timeout: Duration,
    /// One `authorized_keys` edit at a time per login (user@host:port):
    /// two aliases of one account share the file and the server script's
    /// temp file.
    logins: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Shared {
    /// The edit lock of `t`'s login.
    fn login_lock(&self, t: &Target) -> Arc<tokio::sync::Mutex<()>> {
        let key = format!("{}@{}:{}", t.user, t.hostname, t.port);
        let mut m = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(key).or_default().clone()
    }

    fn save(&self, e: &HostEntry) -> Result<(), String> {
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        j.put(e.clone());
        j.save(&self.journal_path).map_err(|e| e.to_string())
    }

    fn finish(&self, alias: &str) -> Result<(), String> {
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        j.remove(alias);
        j.save(&self.journal_path).map_err(|e| e.to_string())
    }
}

/// The form of `p` to write in the config: `~/…` under the home.
fn raw_path(p: &Path) -> String {
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

fn rotate(env: &Env, a: &KeyRotateArgs) -> anyhow::Result<Outcome> {
    if !(a.timeout > 0.0 && a.timeout <= 3600.0) {
        return Err(bad_input("--timeout must be between 0 and 3600 seconds"));
    }
    if a.jobs == 0 {
        return Err(bad_input("--jobs must be at least 1"));
    }
    for alias in &a.aliases {
        if alias.is_empty() || alias.contains(char::is_whitespace) {
            return Err(bad_input(format!(
                "host alias {alias:?} is not valid: it must be one word"
            )));
        }
    }
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

    // The new key: --new, else the one an unfinished run was rotating to.
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
    if let Err(why) = config_names(&new_raw, &new_path, &config, &ctx) {
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

    // Plans: the key each host logs in with now.
    let mut results: Vec<HostResult> = Vec::new();
    let mut plans: Vec<Plan> = Vec::new();
    let mut opened: Vec<(PathBuf, Arc<PrivateKey>)> = Vec::new();
    for alias in &aliases {
        let failed = |at: &'static str, e: String| HostResult {
            alias: alias.clone(),
            ok: false,
            step: Step::Started,
            failed_at: Some(at),
            error: Some(e),
            note: None,
            old: None,
            new: new_path.clone(),
        };
        let r = resolve(&doc, &config, alias, &ctx);
        let t = match probe::target(alias, &r) {
            Ok(t) => t,
            Err(f) => {
                results.push(failed("resolve", format!("{}; {}", f.error, f.hint)));
                continue;
            }
        };
        let from_journal = journal
            .get(alias)
            .filter(|h| h.new == new_path && h.old.is_file());
        // Already rotated (the config names the new key first) and nothing
        // left to do: no network at all.
        if from_journal.is_none()
            && !a.remove_old
            && t.identity_files
                .first()
                .is_some_and(|(_, p)| *p == new_path)
        {
            results.push(HostResult {
                alias: alias.clone(),
                ok: true,
                step: Step::Switched,
                failed_at: None,
                error: None,
                note: Some(format!("already uses {}", tilde(&new_path))),
                old: None,
                new: new_path.clone(),
            });
            continue;
        }
        let (old_raw, old) = match from_journal {
            Some(h) => (h.old_raw.clone(), h.old.clone()),
            None => match t
                .identity_files
                .iter()
                .find(|(_, p)| *p != new_path && p.is_file())
            {
                Some((raw, p)) => (raw.clone(), p.clone()),
                None if t.identity_files.iter().any(|(_, p)| *p == new_path) => {
                    results.push(HostResult {
                        note: Some(format!("already uses {}", tilde(&new_path))),
                        ..failed("", String::new())
                    });
                    let last = results.last_mut().expect("just pushed");
                    last.ok = true;
                    last.failed_at = None;
                    last.error = None;
                    continue;
                }
                None => {
                    results.push(failed(
                        "resolve",
                        "the config names no key file that exists for it".into(),
                    ));
                    continue;
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
                Err(e) => {
                    results.push(failed("resolve", super::render(&e)));
                    continue;
                }
            },
        };
        if let Some(n) = &new_key
            && n.public_key().key_data() == old_key.public_key().key_data()
        {
            results.push(failed(
                "resolve",
                format!("{} is the same key as {}", tilde(&new_path), tilde(&old)),
            ));
            continue;
        }
        let entry = journal
            .get(alias)
            .filter(|h| h.new == new_path)
            .cloned()
            .unwrap_or(HostEntry {
                alias: alias.clone(),
                old_raw: old_raw.clone(),
                old: old.clone(),
                new: new_path.clone(),
                remove_old: a.remove_old,
                step: Step::Started,
            });
        plans.push(Plan {
            alias: alias.clone(),
            target: t,
            old_raw,
            old,
            old_key,
            entry,
        });
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .or_fail(Failure::Io)?;
    let timeout = Duration::from_secs_f64(a.timeout);

    if a.dry_run {
        let checked: Vec<HostResult> = rt.block_on(async {
            let sem = Arc::new(tokio::sync::Semaphore::new(a.jobs.min(64)));
            let mut tasks = Vec::new();
            for p in plans {
                let sem = sem.clone();
                let new_path = new_path.clone();
                let new_pub = new_key.as_ref().map(|k| k.public_key().clone());
                let remove_old = a.remove_old;
                tasks.push(tokio::spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    dry_run_host(p, new_path, new_pub, remove_old, timeout).await
                }));
            }
            let mut out = Vec::new();
            for t in tasks {
                if let Ok(r) = t.await {
                    out.push(r);
                }
            }
            out
        });
        results.extend(checked);
        results.sort_by_key(|r| aliases.iter().position(|a| *a == r.alias));
        let head = if new_key.is_none() {
            format!(
                "Dry run: would create {} (ed25519), then:\n",
                tilde(&new_path)
            )
        } else {
            format!("Dry run, rotating to {}:\n", tilde(&new_path))
        };
        return report(env, &results, &head, "", true);
    }

    let Some(new_key) = new_key else {
        return Err(bad_input("no new key"));
    };
    // One line, whatever the key file's comment holds: it goes into every
    // server's authorized_keys (and the account's keys).
    let new_line = keys::authorized_line(new_key.public_key()).or_fail(Failure::Io)?;
    // The keys being replaced, for --account --remove-old.
    let old_lines: Vec<String> = plans
        .iter()
        .filter_map(|p| p.old_key.public_key().to_openssh().ok())
        .collect();
    // Asked before any host changes: a missing API key stops here.
    let account = if a.account {
        let client = api::Client::from_env().or_fail(Failure::Io)?;
        Some(client)
    } else {
        None
    };
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
    let done: Vec<HostResult> = rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(a.jobs.min(64)));
        let mut tasks = Vec::new();
        for p in plans {
            let (sem, shared) = (sem.clone(), shared.clone());
            let remove_old = a.remove_old;
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                rotate_host(p, shared, remove_old).await
            }));
        }
        let mut out = Vec::new();
        let mut switched = Vec::new();
        for t in tasks {
            match t.await {
                Ok((p, r, entry)) if !r.ok && r.failed_at.is_none() => switched.push((p, r, entry)),
                Ok((_, r, _)) => out.push(r),
                Err(_) => {}
            }
        }
        // Only once every host of the run has switched (or failed): an
        // alias on the same login then names the new key, or says why not.
        let mut tasks = Vec::new();
        for (p, r, entry) in switched {
            let (sem, shared) = (sem.clone(), shared.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                remove_old_host(p, shared, entry, r).await
            }));
        }
        for t in tasks {
            if let Ok(r) = t.await {
                out.push(r);
            }
        }
        out
    });
    results.extend(done);
    results.sort_by_key(|r| aliases.iter().position(|a| *a == r.alias));

    let head = if created {
        format!(
            "Created {} (ed25519, 0600) and its .pub; rotating to it:\n",
            tilde(&new_path)
        )
    } else {
        format!("Rotating to {}:\n", tilde(&new_path))
    };
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
    // The comment is a file's text: escaped like anything else shown.
    let shown_line = output::escape(&new_line, false);
    let mut tail = format!(
        "\nRunPod next: paste the new public key into RunPod → Settings → SSH Public Keys\n  {shown_line}\n  ({fp}): a pod started or restarted later gets only the account's keys.\nUntil then each rotated entry keeps its old key as a second IdentityFile, so a restarted pod still lets you in.\n"
    );
    if a.remove_old {
        tail.push_str(
            "After that, remove the old key from the account settings too. The old private key was not deleted.\n",
        );
    }
    if results.iter().any(|r| !r.ok) {
        tail.push_str("Hosts that failed keep their old key and config; run the same command again to finish them.\n");
    }
    report(env, &results, &head, &tail, false)
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

async fn dry_run_host(
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

async fn rotate_host(p: Plan, s: Arc<Shared>, remove_old: bool) -> (Plan, HostResult, HostEntry) {
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
    let login = s.login_lock(t);
    let edited = {
        let _one = login.lock().await;
        edit_authorized_keys(&c, |content| keys::add_key(content, &new_pub, &line)).await
    };
    if let Err(e) = edited {
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

    c.close().await;
    let note = format!(
        "rotated: logs in with {} ({}); IdentityFile {} first, {} kept second",
        s.new_raw,
        keys::fingerprint(&new_pub),
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
async fn remove_old_host(
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
