//! `runpod-ssh add COMMAND…`: paste RunPod's ssh command, get a host entry
//! that ssh and VS Code use as intended; run it again after a restart and
//! the same entry is updated in place.
//!
//! `run` goes in named steps: the paste as an endpoint, the entry it is
//! ([`find_entry`]), the edited config proven before anything is written
//! ([`plan`]), then the write. What the user is told is in `report`; the
//! entry itself (shared with `sync` and `live`) in `entry`.

use std::path::PathBuf;
use std::sync::Arc;

use super::edit::{self, Session};
use super::{Env, Outcome, bad_input};
use crate::cli::AddArgs;
use crate::config::{Block, BlockAt, BlockKind, Document};
use crate::output;
use crate::runpod::{self, Endpoint};

mod entry;
mod report;
#[cfg(test)]
mod tests;

use entry::points_at;
pub(crate) use entry::{apply, cross_check, endpoint_of, overrides};
use entry::{apply_owned, cross_check_bytes, overrides_in};

/// What `add` did to the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Action {
    Created,
    Updated,
    Unchanged,
}

/// Our own long options written after the pasted command (`add 'ssh …'
/// --dry-run`) are taken out of it: ssh has no long options, so this is
/// never ambiguous.
fn take_trailing_flags(env: &Env, a: &AddArgs) -> anyhow::Result<(Env, AddArgs)> {
    let mut global = env.global.clone();
    let mut out = AddArgs {
        name: a.name.clone(),
        identity: a.identity.clone(),
        dry_run: a.dry_run,
        force: a.force,
        no_vscode: a.no_vscode,
        windows: a.windows,
        pod: a.pod.clone(),
        reset_host_key: a.reset_host_key,
        command: Vec::new(),
    };
    let mut it = a.command.iter();
    while let Some(t) = it.next() {
        if !t.starts_with("--") {
            out.command.push(t.clone());
            continue;
        }
        let (flag, inline) = match t.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (t.as_str(), None),
        };
        let mut value = |name: &str| -> anyhow::Result<String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| bad_input(format!("{name} needs a value")))
        };
        match flag {
            "--name" => out.name = Some(value("--name")?),
            "--pod" => out.pod = Some(value("--pod")?),
            "--identity" => out.identity = Some(value("--identity")?),
            "--config" => global.config = Some(value("--config")?.into()),
            "--dry-run" => {
                out.dry_run = true;
                crate::fsio::set_dry_run(true);
            }
            "--no-vscode" => out.no_vscode = true,
            "--windows" => out.windows = true,
            "--reset-host-key" => out.reset_host_key = true,
            "--force" => {
                out.force = true;
                crate::fsio::begin_run("add", true);
            }
            "--json" => global.json = true,
            "--quiet" => global.quiet = true,
            "--verbose" => global.verbose = true,
            _ => {
                let hint = super::suggest(flag, OWN_FLAGS.iter().copied())
                    .map(|s| format!("; did you mean {s}?"))
                    .unwrap_or_default();
                return Err(bad_input(format!(
                    "unknown option {t} (ssh has no long options){hint}"
                )));
            }
        }
    }
    let style = crate::output::Style::new(global.quiet, global.verbose);
    Ok((Env { global, style }, out))
}

/// `add`'s long options, for "did you mean" on a typo.
const OWN_FLAGS: &[&str] = &[
    "--name",
    "--identity",
    "--config",
    "--dry-run",
    "--no-vscode",
    "--windows",
    "--reset-host-key",
    "--force",
    "--json",
    "--quiet",
    "--verbose",
];

pub fn run(env: &Env, a: &AddArgs) -> anyhow::Result<Outcome> {
    let json = env.global.json || a.command.iter().any(|t| t == "--json");
    let r = take_trailing_flags(env, a).and_then(|(env, a)| run_parsed(&env, &a));
    if json && let Err(e) = &r {
        // With --json the answer on stdout is JSON, failures included.
        let v = serde_json::json!({
            "error": super::render(e),
            "exit_code": super::exit_code(e),
        });
        output::out(&output::json(&v)?)?;
    }
    r
}

/// `-i KEY.pub`: ssh needs the private key. Use the one beside it (with a
/// note), or refuse when there is none.
fn private_key_for(identity: &str, notes: &mut Vec<String>) -> anyhow::Result<String> {
    let Some(private) = identity.strip_suffix(".pub") else {
        return Ok(identity.to_string());
    };
    let ctx = crate::config::Context::current();
    if ctx.home_path(private).is_file() {
        notes.push(format!(
            "{identity} is a public key; using the private key {private} beside it (ssh offers the private one)"
        ));
        Ok(private.to_string())
    } else {
        Err(bad_input(format!(
            "{identity} is a public key, and there is no private key {private} beside it; ssh needs the private key: pass -i with its path"
        )))
    }
}

/// `add --name ALIAS --reset-host-key` without a command: forget the pin of
/// an existing entry (a pod restarted on the same IP and port), change
/// nothing else.
fn reset_pin_only(env: &Env, a: &AddArgs) -> anyhow::Result<Outcome> {
    let Some(alias) = a.name.as_deref() else {
        return Err(bad_input(
            "--reset-host-key without a pasted command needs --name ALIAS (the entry whose pin to reset)",
        ));
    };
    edit::check_alias(alias)?;
    let s = Session::open(env)?;
    let Some(&bi) = s.doc.host_blocks_naming(alias).first() else {
        let files = crate::config::files::load_tree(&s.path, &s.doc, &s.ctx.home);
        return Err(bad_input(format!(
            "no host entry named {alias} in {}{}",
            s.path.display(),
            super::did_you_mean(alias, &files)
        )));
    };
    if !runpod::is_runpod_block(&s.doc, &s.doc.blocks()[bi]) {
        return Err(bad_input(format!(
            "{alias} is not a RunPod entry; its host key is not pinned by runpod-ssh (use `ssh-keygen -R`)"
        )));
    }
    // The pin goes by the entry's HostKeyAlias (sync: runpod-<podid>).
    let pin = s
        .doc
        .first_value(&s.doc.blocks()[bi], "hostkeyalias")
        .unwrap_or_else(|| alias.to_string());
    let n = if a.dry_run {
        edit::pinned_key_count(&pin)
    } else {
        edit::forget_pinned_key(&pin)?
    };
    if n == 0
        && let Some((file, name)) = pin_elsewhere(&s, alias)
    {
        // ssh recorded it in a file of its own: that is the user's record
        // of trust (a line may name other hosts too), left to ssh's tool.
        return Err(bad_input(format!(
            "the host key of {alias} is pinned in {} (as {name}), not by runpod-ssh, which leaves that file to ssh: reset it with `ssh-keygen -R {} -f {}`",
            edit::tilde(&file),
            output::shell_quote(&name),
            output::shell_quote(&file.to_string_lossy())
        )));
    }
    if env.global.json {
        let v = serde_json::json!({
            "alias": alias,
            "action": "reset_host_key",
            "dry_run": a.dry_run,
            "pinned_keys_removed": n,
        });
        output::out(&output::json(&v)?)?;
    } else if !env.global.quiet {
        output::out(&match (n, a.dry_run) {
            (0, _) => {
                format!("No host key is pinned for {alias}; the next connection records one.\n")
            }
            (_, true) => format!("Would forget the pinned host key of {alias}.\n"),
            // No undo hint: `restore` puts configs back, and this run wrote
            // only the pin file.
            (_, false) => format!(
                "{} Forgot the pinned host key of {alias}; the next connection records the new one\n",
                env.style.green("✓"),
            ),
        })?;
    }
    Ok(Outcome::Ok)
}

/// A pin of `alias` that ssh recorded in one of its known_hosts files
/// other than runpod-ssh's: the file, and the name the key is under.
fn pin_elsewhere(s: &Session, alias: &str) -> Option<(PathBuf, String)> {
    let r = crate::config::resolve(&s.doc, &s.path, alias, &s.ctx);
    let t = crate::probe::target(alias, &r).ok()?;
    let name = t.lookup(None).name;
    let ours = edit::known_hosts_path();
    let file = t
        .user_known_hosts
        .iter()
        .chain(&t.global_known_hosts)
        .filter(|f| ours.as_deref() != Some(f.as_path()))
        .find(|f| {
            crate::fsio::read(f)
                .ok()
                .and_then(|snap| snap.bytes)
                .is_some_and(|b| crate::known_hosts::remove_host(b.as_slice(), &name).1 > 0)
        })?;
    Some((file.clone(), name))
}

fn run_parsed(env: &Env, a: &AddArgs) -> anyhow::Result<Outcome> {
    if a.pod.is_some() {
        return super::sync::add_pod(env, a);
    }
    // VS Code reads another config (remote.SSH.configFile): write that one.
    let (env, redirect) = edit::follow_vscode(env);
    let env = &env;
    if a.command.is_empty() && a.reset_host_key {
        return reset_pin_only(env, a);
    }
    let (ep, key_notes) = pasted_endpoint(a)?;
    let mut s = Session::open(env)?;
    let found = find_entry(&s, a, &ep)?;
    let p = plan(&mut s, found, ep)?;
    // From here on the session's document may be gone (moved into the
    // edit): what is needed of the file as read is in `p` and `s.snap`.
    let mut warnings = key_notes;
    warnings.extend(p.warnings(env, a, &s, redirect.as_ref()));
    // Shown by --dry-run and --json only: a diff of a large file is not free.
    let diff = if a.dry_run || env.global.json {
        s.diff_to(&p.bytes)
    } else {
        String::new()
    };
    let done = p.write(a, &s, &mut warnings)?;
    // WSL: VS Code runs on Windows and reads the Windows user's config.
    let windows = super::wsl::after_add(
        env,
        a.windows,
        a.dry_run,
        a.no_vscode,
        &p.doc,
        &p.alias,
        &mut warnings,
    );
    let outcome = if windows.as_ref().is_some_and(|w| !w.failed.is_empty()) {
        Outcome::Problems
    } else {
        Outcome::Ok
    };
    if env.global.json {
        let v = serde_json::json!({
            "alias": p.alias,
            "action": p.action,
            "dry_run": a.dry_run,
            "endpoint": p.ep,
            "config": s.path,
            "backup": done.backup,
            "diff": diff,
            "pinned_keys_removed": done.pins_removed,
            "renamed_from": p.renamed_from,
            "comments_moved": p.moved,
            "vscode": done.vscode,
            "windows": windows,
            "warnings": warnings,
        });
        output::out(&output::json(&v)?)?;
        leak(p);
        return Ok(outcome);
    }
    let text = if a.dry_run {
        p.dry_run_text(&s, &diff, &done)
    } else if !env.global.quiet {
        p.done_text(env, &s, &done)
    } else {
        String::new()
    };
    output::out(&text)?;
    if let Some(w) = &windows
        && !env.global.quiet
    {
        output::out(&super::wsl::render(w, a.dry_run))?;
    }
    let st = &env.style;
    for w in &warnings {
        output::err(&format!("{} {w}\n", st.yellow("warning:")));
    }
    for c in done.vscode.iter().filter_map(|c| c.error.as_ref()) {
        output::err(&format!(
            "{} VS Code settings: {c}\n",
            st.yellow("warning:")
        ));
    }
    leak(p);
    Ok(outcome)
}

/// The process ends soon after `add`: freeing a large file's lines one by
/// one cost more than a twentieth of the command, so the plan (holding the
/// edited document) is left to the exit.
fn leak(p: Plan) {
    std::mem::forget(p);
}

/// The pasted command as an endpoint, with `--identity` applied and a
/// `.pub` key replaced by the private one beside it (the notes say so).
fn pasted_endpoint(a: &AddArgs) -> anyhow::Result<(Endpoint, Vec<String>)> {
    let mut key_notes = Vec::new();
    let mut ep = runpod::parse_paste(&a.command).map_err(bad_input)?;
    if let Some(id) = &a.identity {
        // The same validator as the pasted `-i`.
        ep.identity = Some(runpod::identity_path(id).map_err(bad_input)?);
    }
    if let Some(id) = ep.identity.clone() {
        ep.identity = Some(private_key_for(&id, &mut key_notes)?);
    }
    if let Some(n) = &a.name {
        edit::check_alias(n)?;
    }
    Ok((ep, key_notes))
}

/// Which entry the paste is: found by `--name`, by endpoint, or by the
/// default alias.
struct Found {
    /// Where the file's blocks are (their patterns are read from the lines
    /// for the few blocks that need them).
    blocks: Vec<BlockAt>,
    /// The RunPod entry to update, if any.
    existing: Option<usize>,
    /// `existing`'s block.
    existing_block: Option<Block>,
    alias: String,
    /// Hand-written blocks at the same endpoint (left alone).
    same_endpoint_foreign: Vec<Block>,
    /// Other `Host` blocks of the file as read that name the alias (ssh
    /// ignores their values).
    duplicates: Vec<Block>,
    /// For a new entry without `--name`: the RunPod entries already
    /// there (one may be the same pod, restarted).
    others: Others,
}

/// The RunPod entries already in the file, as the "restarted pod?"
/// warning names them: the first few aliases, and how many more there are
/// (a file of a thousand entries made that one line a thousand aliases long).
#[derive(Default)]
struct Others {
    shown: Vec<String>,
    more: usize,
}

impl Others {
    const SHOWN: usize = 5;
}

/// Find the entry to update (or none: a new one) and its alias; refuse a
/// `--name` that names a hand-written block or an entry shared with other
/// hosts.
fn find_entry(s: &Session, a: &AddArgs, ep: &Endpoint) -> anyhow::Result<Found> {
    // The blocks once: each listing is a pass over the whole file.
    let doc = &s.doc;
    let blocks = doc.blocks_at();
    let by_alias = a
        .name
        .as_deref()
        .map(|n| naming(doc, &blocks, n))
        .unwrap_or_default();
    // A hand-written block that is not a RunPod entry is never changed: a
    // `prod` block at the same IP and port gets a new entry beside it.
    let (by_endpoint, same_endpoint_foreign): (Vec<usize>, Vec<usize>) = (1..blocks.len())
        .filter(|&i| blocks[i].kind == BlockKind::Host && points_at(doc, &blocks[i], ep))
        .partition(|&i| runpod::is_runpod_at(doc, &blocks[i]));
    if let Some(&i) = by_alias.first()
        && !runpod::is_runpod_at(doc, &blocks[i])
    {
        return Err(bad_input(format!(
            "{} at {}:{} is a hand-written block that is not a RunPod entry; runpod-ssh does not change it. Choose another --name",
            a.name.as_deref().unwrap_or_default(),
            s.path.display(),
            blocks[i].header.unwrap_or(0) + 1
        )));
    }
    // Without --name, an entry under the default alias is the same entry.
    let by_default = naming(doc, &blocks, &runpod::default_alias(ep));
    let existing = by_alias
        .first()
        .or(by_endpoint.first())
        .or(if a.name.is_none() {
            by_default.first()
        } else {
            None
        })
        .copied()
        .filter(|&i| runpod::is_runpod_at(doc, &blocks[i]));
    let existing_block = existing.map(|i| doc.block_at(&blocks[i]));
    let alias = match (&a.name, &existing_block) {
        (Some(n), _) => n.clone(),
        (None, Some(b)) if b.patterns.len() == 1 => b.patterns[0].clone(),
        _ => runpod::default_alias(ep),
    };
    edit::check_alias(&alias)?;
    let mut others = Others::default();
    if existing.is_none() && a.name.is_none() {
        let aliases = blocks
            .iter()
            .filter(|b| runpod::has_marker_at(doc, b))
            .filter_map(|b| doc.patterns_at(b).next());
        for alias in aliases {
            if others.shown.len() < Others::SHOWN {
                others.shown.push(alias.to_string());
            } else {
                others.more += 1;
            }
        }
    }
    if let Some(b) = &existing_block
        && b.patterns.len() > 1
    {
        let line = b.header.unwrap_or(0) + 1;
        return Err(bad_input(format!(
            "the entry at {}:{line} also names other hosts ({}); runpod-ssh will not change their settings. Use --name with an alias of its own",
            s.path.display(),
            b.patterns.join(" ")
        )));
    }
    let duplicates = naming(doc, &blocks, &alias)
        .into_iter()
        .filter(|&i| Some(i) != existing)
        .map(|i| doc.block_at(&blocks[i]))
        .collect();
    let same_endpoint_foreign = same_endpoint_foreign
        .into_iter()
        .map(|i| doc.block_at(&blocks[i]))
        .collect();
    Ok(Found {
        blocks,
        existing,
        existing_block,
        alias,
        same_endpoint_foreign,
        duplicates,
        others,
    })
}

/// The `Host` blocks among `blocks` (`doc`'s) that name `alias`:
/// `Document::host_blocks_naming` over blocks already at hand.
fn naming(doc: &Document, blocks: &[BlockAt], alias: &str) -> Vec<usize> {
    (0..blocks.len())
        .filter(|&i| {
            blocks[i].kind == BlockKind::Host && doc.patterns_at(&blocks[i]).any(|p| p == alias)
        })
        .collect()
}

/// The edited config and everything decided on the way, before anything
/// is written.
struct Plan {
    ep: Endpoint,
    alias: String,
    /// Blocks of the file as read, for the warnings (see [`Found`]).
    same_endpoint_foreign: Vec<Block>,
    duplicates: Vec<Block>,
    others: Others,
    doc: Document,
    /// `doc.to_bytes()`, made once for the proof, the diff and the write
    /// (shared with the thread that pipes it to `ssh -G`).
    bytes: Arc<Vec<u8>>,
    identity: String,
    identity_found: bool,
    options: Vec<(String, String)>,
    /// Comments of the entry moved to their own lines.
    moved: usize,
    /// What the `ssh -G` cross-check had to say.
    notes: Vec<String>,
    action: Action,
    renamed_from: Option<String>,
    endpoint_changed: bool,
}

/// Write the entry into the config and prove it: ssh must accept the
/// result, and nothing earlier may override the entry. A new entry in a
/// UTF-8 file is written into the session's own document (no copy of a
/// large file): `s.doc` is left empty then.
fn plan(s: &mut Session, found: Found, mut ep: Endpoint) -> anyhow::Result<Plan> {
    let Found {
        blocks,
        existing,
        existing_block,
        alias,
        same_endpoint_foreign,
        duplicates,
        others,
    } = found;
    // The entry's own comments go on their own lines first (a glued one is
    // repaired rather than refused): what add leaves, Windows' ssh reads.
    let mut moved = 0;
    let base = match existing {
        Some(i) => {
            let mut base = s.doc.clone();
            let range = blocks[i].lines.clone();
            moved = crate::doctor::portable_comments(&mut base, range, &s.path, &s.ctx);
            Some(base)
        }
        None => None,
    };
    let utf8 = s.doc.encoding() == crate::config::Encoding::Utf8;
    let in_place = base.is_none() && utf8;
    // A new entry in a UTF-8 file: the file as read is judged only when
    // the edit fails or the edited file has problems (below), which saves
    // a whole evaluation of a large file. Its errors are then the ones
    // reported, as before.
    if !in_place {
        edit::refuse_broken(&s.resolve(base.as_ref().unwrap_or(&s.doc), &alias))?;
    }

    // A paste without `-i` says nothing about the key: an entry that
    // exists keeps the IdentityFile it has (its first one stays first,
    // the others are left as they are), not a default that may be missing.
    if ep.identity.is_none()
        && let Some(b) = &existing_block
        && let Some(kept) = s.doc.first_value(b, "IdentityFile")
    {
        ep.identity = Some(kept);
    }
    let home = crate::platform::home_dir();
    let (identity, identity_found) = runpod::choose_identity(&ep, home.as_deref());
    let options = runpod::entry_options(&ep, &alias, &identity);
    let old_endpoint = existing_block.as_ref().map(|b| endpoint_of(&s.doc, b));
    // What ssh reads of the file as read, when `s.doc` is about to become
    // the edit (UTF-8: the bytes ssh reads are the document's own).
    // A parsed UTF-8 document's bytes are the snapshot's own (the
    // document is lossless): no copy of them is made.
    let (doc, bi) = match base {
        Some(base) => apply_owned(base, None, existing, &alias, &options, &ep, &[])?,
        None if in_place => {
            let doc = std::mem::replace(&mut s.doc, Document::parse(b""));
            match apply_owned(doc, Some(&blocks), None, &alias, &options, &ep, &[]) {
                Ok(applied) => applied,
                Err(e) => {
                    refuse_broken_as_read(s, &alias)?;
                    return Err(e);
                }
            }
        }
        None => apply(&s.doc, None, &alias, &options, &ep, &[])?,
    };
    let bytes = Arc::new(doc.to_bytes());
    let mut notes = Vec::new();
    let old = in_place.then(|| s.snap.bytes.clone().unwrap_or_default());
    let r = s.resolve(&doc, &alias);
    if in_place && !r.ok() {
        refuse_broken_as_read(s, &alias)?;
    }
    let r = prove(s, &doc, r, &alias, old, &bytes, &mut notes)?;
    let range = entry_lines(&doc, bi, existing);
    let overridden = overrides_in(s, range, &r, &options, &identity);
    if !overridden.is_empty() {
        return Err(bad_input(format!(
            "earlier lines of your config override the entry for {alias}, so it would not work; nothing was written:\n{}\nmove those lines below the entry, or into a `Host` block that does not match {alias}",
            overridden.join("\n")
        )));
    }

    let renamed_from = existing_block
        .as_ref()
        .and_then(|b| b.patterns.first().cloned())
        .filter(|old| *old != alias);
    let endpoint_changed = old_endpoint.as_ref() != Some(&(ep.host.clone(), ep.port));
    let action = if existing.is_none() {
        Action::Created
    } else if bytes.as_slice() == s.snap.content() {
        Action::Unchanged
    } else {
        Action::Updated
    };
    // `doc` keeps the file's own encoding: it is the session's document,
    // or a copy of it. A UTF-16 or BOM file was refused above by
    // `refuse_broken` on Linux, so that only matters on Windows.
    Ok(Plan {
        ep,
        alias,
        same_endpoint_foreign,
        duplicates,
        others,
        doc,
        bytes,
        identity,
        identity_found,
        options,
        moved,
        notes,
        action,
        renamed_from,
        endpoint_changed,
    })
}

/// [`edit::refuse_broken`] of the file as read, for a new entry whose
/// edit took the session's document (a UTF-8 file, so the snapshot's
/// bytes parse back to it).
fn refuse_broken_as_read(s: &Session, alias: &str) -> anyhow::Result<()> {
    edit::refuse_broken(&s.resolve(&Document::parse(s.snap.content()), alias))
}

/// The edited config is one ssh accepts: the own evaluator's verdict for
/// `alias` (`r`, returned for [`overrides_in`]), then `ssh -G`'s. `old`:
/// what ssh reads of the file as read, when the caller has it (then
/// `s.doc` may be gone); `bytes`: `doc.to_bytes()`.
fn prove(
    s: &Session,
    doc: &Document,
    r: crate::config::Resolved,
    alias: &str,
    old: Option<Arc<Vec<u8>>>,
    bytes: &Arc<Vec<u8>>,
    notes: &mut Vec<String>,
) -> anyhow::Result<crate::config::Resolved> {
    // The new entry must be what ssh uses: nothing earlier may override it.
    if !r.ok() {
        let list: Vec<String> = r.errors.iter().map(|d| format!("  {d}")).collect();
        return Err(bad_input(format!(
            "the edited config would not be accepted by ssh; nothing was written:\n{}",
            list.join("\n")
        )));
    }
    match old {
        Some(old) if doc.encoding() == crate::config::Encoding::Utf8 => {
            cross_check_bytes(s, &old, bytes, alias, notes)?
        }
        _ => cross_check(s, doc, alias, notes)?,
    }
    Ok(r)
}

/// The lines of block `bi` of `doc`: for a new entry, from its header to
/// the next header (`Document::blocks()[bi].lines`, without listing
/// every block of a large file).
fn entry_lines(doc: &Document, bi: usize, existing: Option<usize>) -> std::ops::Range<usize> {
    if existing.is_some() {
        return doc.blocks()[bi].lines.clone();
    }
    let lines = doc.lines();
    let mut headers = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_header())
        .map(|(i, _)| i);
    // Block 0 is the lines before the first header.
    let Some(header) = bi.checked_sub(1).and_then(|n| headers.nth(n)) else {
        return doc.blocks()[bi].lines.clone();
    };
    let end = (header + 1..lines.len())
        .find(|&i| lines[i].is_header())
        .unwrap_or(lines.len());
    header..end
}

/// What writing did: the backup, the pins forgotten, VS Code's settings.
struct Done {
    backup: Option<PathBuf>,
    pins_removed: usize,
    vscode: Vec<edit::SettingsChange>,
}

impl Plan {
    /// Write the config (unless `--dry-run` or unchanged), forget the
    /// pin a new endpoint or `--reset-host-key` makes stale, and set VS
    /// Code's platform. What ssh now says of the file joins `warnings`.
    fn write(&self, a: &AddArgs, s: &Session, warnings: &mut Vec<String>) -> anyhow::Result<Done> {
        let mut backup: Option<PathBuf> = None;
        let mut pins_removed = 0;
        if !a.dry_run && self.action != Action::Unchanged {
            backup = s.write_bytes(&self.bytes)?;
            // Written just now under the session's lock: the file holds
            // `self.doc`, no need to read it back.
            warnings.extend(crate::refusal::strictest_after_own_write(
                &s.path,
                &self.doc,
                &self.bytes,
                &s.ctx,
                true,
            ));
        }
        // A changed endpoint is a new server; --reset-host-key says the same
        // endpoint now has a new key (a restarted pod). Pins go under the
        // entry's HostKeyAlias (the proxy form's is not its alias).
        let pin = self
            .options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("HostKeyAlias"))
            .map_or(self.alias.as_str(), |(_, v)| v.as_str());
        let drop_pin = self.endpoint_changed || a.reset_host_key;
        if drop_pin {
            pins_removed = if a.dry_run {
                edit::pinned_key_count(pin)
            } else {
                edit::forget_pinned_key(pin)?
            };
        } else if let Some(old) = self.renamed_from.as_deref().filter(|_| !a.dry_run) {
            // Same endpoint, new name: the pin follows, or the entry would
            // be unpinned (accept-new would take any key next time).
            edit::rename_pinned_key(old, pin)?;
        }
        let vscode = if a.no_vscode {
            Vec::new()
        } else {
            edit::set_vscode_platform(&self.alias, Some("linux"), a.dry_run)
        };
        Ok(Done {
            backup,
            pins_removed,
            vscode,
        })
    }
}
