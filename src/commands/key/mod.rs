//! `runpod-ssh key new|list|show|rotate`: create, inspect and rotate keys.
//!
//! Rotation never locks anyone out: per host the new key is added to the
//! server's `authorized_keys` (over a connection made with the current key),
//! proven on a fresh connection that offers only the new key, and only then
//! does the config switch to it (the old key stays as a second
//! `IdentityFile` until RunPod's account holds the new key, since a
//! restarted pod gets only the account's keys). A journal beside the keys
//! records each host's step so a killed run resumes.
//!
//! This module holds `key new|list|show|push`; the rotation is in
//! `rotate` (the run) and `host` (one host's steps).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use ssh_key::{PrivateKey, PublicKey};

use super::edit::tilde;
use super::{Env, Failure, OrFail, Outcome, bad_input, fail};
use crate::cli::{KeyArgs, KeyCommand, KeyNewArgs, KeyPushArgs, KeyShowArgs};

use crate::config::files::load_tree;
use crate::config::{Context, Document, resolve};
use crate::keys::{self, KeyError, KeyInfo, Kind};
use crate::probe;
use crate::{account_keys, api, fsio, output, runpod};

mod host;
mod rotate;

pub use host::KILL_POINTS;
use rotate::rotate;

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
