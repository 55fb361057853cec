//! `runpod-ssh add COMMAND…`: paste RunPod's ssh command, get a host entry
//! that ssh and VS Code use as intended; run it again after a restart and
//! the same entry is updated in place.

use std::path::PathBuf;

use super::edit::{self, Session};
use super::{Env, Outcome, bad_input};
use crate::cli::AddArgs;
use crate::config::keywords::{self, Kind};
use crate::config::{BlockKind, Document, pattern};
use crate::oracle::{Oracle, Skip};
use crate::output;
use crate::runpod::{self, Access, Endpoint};

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

    let s = Session::open(env)?;
    let blocks = s.doc.blocks();
    let by_alias = a
        .name
        .as_deref()
        .map(|n| s.doc.host_blocks_naming(n))
        .unwrap_or_default();
    // A hand-written block that is not a RunPod entry is never changed: a
    // `prod` block at the same IP and port gets a new entry beside it.
    let (by_endpoint, same_endpoint_foreign): (Vec<usize>, Vec<usize>) = (1..blocks.len())
        .filter(|&i| blocks[i].kind == BlockKind::Host && points_at(&s.doc, &blocks[i], &ep))
        .partition(|&i| runpod::is_runpod_block(&s.doc, &blocks[i]));
    if let Some(&i) = by_alias.first()
        && !runpod::is_runpod_block(&s.doc, &blocks[i])
    {
        return Err(bad_input(format!(
            "{} at {}:{} is a hand-written block that is not a RunPod entry; runpod-ssh does not change it. Choose another --name",
            a.name.as_deref().unwrap_or_default(),
            s.path.display(),
            blocks[i].header.unwrap_or(0) + 1
        )));
    }
    // Without --name, an entry under the default alias is the same entry.
    let by_default = s.doc.host_blocks_naming(&runpod::default_alias(&ep));
    let existing = by_alias
        .first()
        .or(by_endpoint.first())
        .or(if a.name.is_none() {
            by_default.first()
        } else {
            None
        })
        .copied()
        .filter(|&i| runpod::is_runpod_block(&s.doc, &blocks[i]));
    let alias = match (&a.name, existing) {
        (Some(n), _) => n.clone(),
        (None, Some(i)) if blocks[i].patterns.len() == 1 => blocks[i].patterns[0].clone(),
        _ => runpod::default_alias(&ep),
    };
    edit::check_alias(&alias)?;
    if let Some(i) = existing
        && blocks[i].patterns.len() > 1
    {
        let line = blocks[i].header.unwrap_or(0) + 1;
        return Err(bad_input(format!(
            "the entry at {}:{line} also names other hosts ({}); runpod-ssh will not change their settings. Use --name with an alias of its own",
            s.path.display(),
            blocks[i].patterns.join(" ")
        )));
    }
    // The entry's own comments go on their own lines first (a glued one is
    // repaired rather than refused): what add leaves, Windows' ssh reads.
    let mut base = s.doc.clone();
    let moved = existing.map_or(0, |i| {
        let range = base.blocks()[i].lines.clone();
        crate::doctor::portable_comments(&mut base, range, &s.path, &s.ctx)
    });
    edit::refuse_broken(&s.resolve(&base, &alias))?;

    // A paste without `-i` says nothing about the key: an entry that
    // exists keeps the IdentityFile it has (its first one stays first,
    // the others are left as they are), not a default that may be missing.
    if ep.identity.is_none()
        && let Some(i) = existing
        && let Some(kept) = s.doc.first_value(&blocks[i], "IdentityFile")
    {
        ep.identity = Some(kept);
    }
    let home = crate::platform::home_dir();
    let (identity, identity_found) = runpod::choose_identity(&ep, home.as_deref());
    let options = runpod::entry_options(&ep, &alias, &identity);
    let (mut doc, bi) = apply(&base, existing, &alias, &options, &ep, &[])?;

    // The new entry must be what ssh uses: nothing earlier may override it.
    let r = s.resolve(&doc, &alias);
    if !r.ok() {
        let list: Vec<String> = r.errors.iter().map(|d| format!("  {d}")).collect();
        return Err(bad_input(format!(
            "the edited config would not be accepted by ssh; nothing was written:\n{}",
            list.join("\n")
        )));
    }
    let mut notes = Vec::new();
    cross_check(&s, &doc, &alias, &mut notes)?;
    let overridden = overrides(&s, &doc, bi, &r, &options, &identity);
    if !overridden.is_empty() {
        return Err(bad_input(format!(
            "earlier lines of your config override the entry for {alias}, so it would not work; nothing was written:\n{}\nmove those lines below the entry, or into a `Host` block that does not match {alias}",
            overridden.join("\n")
        )));
    }

    let renamed_from = existing
        .and_then(|i| blocks[i].patterns.first().cloned())
        .filter(|old| *old != alias);
    let old = existing.map(|i| endpoint_of(&s.doc, &blocks[i]));
    let endpoint_changed = old.as_ref() != Some(&(ep.host.clone(), ep.port));
    let action = if existing.is_none() {
        Action::Created
    } else if doc.to_bytes() == s.snap.content() {
        Action::Unchanged
    } else {
        Action::Updated
    };
    // Keep the file's own encoding; a UTF-16 or BOM file was refused above
    // by `refuse_broken` on Linux, so this only matters on Windows.
    doc.set_encoding(s.doc.encoding());

    let mut warnings = key_notes;
    if let Access::Proxy { .. } = ep.access {
        warnings.push(format!(
            "{} is RunPod's SSH proxy: a terminal works, but VS Code, scp, sftp and port forwarding need the \"SSH over exposed TCP\" command (enable a public IP and expose TCP port 22 on the pod, then `runpod-ssh add` that line)",
            runpod::PROXY_HOST
        ));
    }
    if !identity_found || !s.ctx.home_path(&identity).is_file() {
        warnings.push(format!(
            "key {identity} was not found: create one with `ssh-keygen -t ed25519` and add its .pub in RunPod → Settings → SSH Public Keys (pods started before that keep their old keys)"
        ));
    }
    if action == Action::Created && a.name.is_none() {
        let others: Vec<String> = blocks
            .iter()
            .filter(|b| runpod::has_marker(&s.doc, b))
            .filter_map(|b| b.patterns.first().cloned())
            .collect();
        if !others.is_empty() {
            warnings.push(format!(
                "if this is a restarted pod you already have ({}), run the command again with --name THAT-ALIAS to update it in place, then `{}`",
                others.join(", "),
                env.command(&format!("remove {}", output::shell_quote(&alias)))
            ));
        }
    }
    if ep.options.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("ForwardAgent")
            && matches!(v.to_ascii_lowercase().as_str(), "yes" | "true")
    }) {
        warnings.push(
            "agent forwarding (-A / ForwardAgent yes) is on: on a shared GPU host, anyone with root on the pod can use your ssh keys while you are connected. Remove the ForwardAgent line unless you need it".to_string(),
        );
    }
    for &i in &same_endpoint_foreign {
        let b = &blocks[i];
        warnings.push(format!(
            "{} ({}:{}) points at the same endpoint {}:{}; it is not a RunPod entry, so it was left unchanged and {alias} was written beside it",
            b.patterns.join(" "),
            s.path.display(),
            line_as_written(&doc, b),
            ep.host,
            ep.port
        ));
    }
    warnings.extend(notes);
    if let Some((settings, other)) = &redirect {
        warnings.push(format!(
            "VS Code reads {} (remote.SSH.configFile in {}), so the entry was written there",
            edit::tilde(other),
            edit::tilde(settings)
        ));
    }
    for f in &ep.ignored {
        warnings.push(format!("ignored {f}: not a setting of a host entry"));
    }
    let duplicates: Vec<usize> = s
        .doc
        .host_blocks_naming(&alias)
        .into_iter()
        .filter(|&i| Some(i) != existing)
        .collect();
    for i in duplicates {
        warnings.push(format!(
            "{}:{} also defines {alias}; ssh ignores its values (the first block wins)",
            s.path.display(),
            line_as_written(&doc, &blocks[i])
        ));
    }

    let diff = s.diff(&doc);
    let mut backup: Option<PathBuf> = None;
    let mut pins_removed = 0;
    if !a.dry_run && action != Action::Unchanged {
        backup = s.write(&doc)?;
        warnings.extend(crate::refusal::strictest_after_write(
            &s.path, &doc, &s.ctx, true,
        ));
    }
    // A changed endpoint is a new server; --reset-host-key says the same
    // endpoint now has a new key (a restarted pod). Pins go under the
    // entry's HostKeyAlias (the proxy form's is not its alias).
    let pin = options
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("HostKeyAlias"))
        .map_or(alias.as_str(), |(_, v)| v.as_str());
    let drop_pin = endpoint_changed || a.reset_host_key;
    if drop_pin {
        pins_removed = if a.dry_run {
            edit::pinned_key_count(pin)
        } else {
            edit::forget_pinned_key(pin)?
        };
    }
    let vscode = if a.no_vscode {
        Vec::new()
    } else {
        edit::set_vscode_platform(&alias, Some("linux"), a.dry_run)
    };

    if env.global.json {
        let v = serde_json::json!({
            "alias": alias,
            "action": action,
            "dry_run": a.dry_run,
            "endpoint": ep,
            "config": s.path,
            "backup": backup,
            "diff": diff,
            "pinned_keys_removed": pins_removed,
            "renamed_from": renamed_from,
            "comments_moved": moved,
            "vscode": vscode,
            "warnings": warnings,
        });
        output::out(&output::json(&v)?)?;
        return Ok(Outcome::Ok);
    }

    let st = &env.style;
    let mut text = String::new();
    if a.dry_run {
        text.push_str(&if diff.is_empty() {
            format!("{alias} is up to date; nothing would change.\n")
        } else {
            format!(
                "Would {} {alias} in {}:\n\n{diff}",
                verb(action),
                edit::tilde(&s.path)
            )
        });
        if moved > 0 {
            text.push_str(&format!("Would {}\n", moved_line("move", moved, &alias)));
        }
        if let Some(old) = &renamed_from {
            text.push_str(&format!("Would rename {old} to {alias}\n"));
        }
        if pins_removed > 0 {
            text.push_str(&format!(
                "Would forget the pinned host key of {alias} in {}\n",
                edit::known_hosts_path()
                    .map(|p| edit::tilde(&p))
                    .unwrap_or_default()
            ));
        }
        for c in vscode.iter().filter(|c| c.changed) {
            text.push_str(&format!(
                "Would set remote.SSH.remotePlatform[\"{alias}\"] = \"linux\" in {}\n",
                edit::tilde(&c.path)
            ));
        }
    } else if !env.global.quiet {
        match action {
            Action::Unchanged => text.push_str(&format!(
                "{} {alias} is up to date ({}:{} as {}).\n",
                st.green("✓"),
                ep.host,
                ep.port,
                ep.user
            )),
            _ => text.push_str(&format!(
                "{} {} {alias} → {}@{}:{} in {}\n",
                st.green("✓"),
                if action == Action::Created {
                    "Added"
                } else {
                    "Updated"
                },
                ep.user,
                ep.host,
                ep.port,
                edit::tilde(&s.path)
            )),
        }
        if let Some(old) = &renamed_from {
            text.push_str(&format!("  renamed {old} to {alias}\n"));
        }
        if moved > 0 {
            text.push_str(&format!("  {}\n", moved_line("moved", moved, &alias)));
        }
        if let Some(b) = &backup {
            text.push_str(&format!(
                "  previous version saved as {} (undo: {})\n",
                edit::tilde(b),
                env.command("restore")
            ));
        }
        if pins_removed > 0 {
            text.push_str(&format!(
                "  forgot the old host key of {alias} (the pod restarted, so it has a new one)\n"
            ));
        }
        for c in vscode.iter().filter(|c| c.changed) {
            text.push_str(&format!(
                "  VS Code: platform of {alias} set to linux in {}\n",
                edit::tilde(&c.path)
            ));
        }
        text.push_str(&format!(
            "\nConnect:\n  {}\n  VS Code: Remote-SSH: Connect to Host… → {alias} → Open Folder /workspace\n",
            env.ssh(&alias)
        ));
    }
    output::out(&text)?;
    for w in &warnings {
        output::err(&format!("{} {w}\n", st.yellow("warning:")));
    }
    for c in vscode.iter().filter_map(|c| c.error.as_ref()) {
        output::err(&format!(
            "{} VS Code settings: {c}\n",
            st.yellow("warning:")
        ));
    }
    Ok(Outcome::Ok)
}

/// The last line of defence: ask `ssh -G` about the edited config before
/// writing it, and refuse when ssh would refuse it (a refused config
/// breaks every host in the file). Skipped, with a note, when the tree has
/// `Match exec` (ssh -G would run it) or ssh is missing; the own evaluator
/// has already judged the edit then.
pub(crate) fn cross_check(
    s: &Session,
    doc: &Document,
    alias: &str,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let oracle = match Oracle::for_versions(&s.path, &[&s.doc, doc], &s.ctx.home) {
        Ok(o) => o,
        Err(skip @ (Skip::RunsCommands { .. } | Skip::Unprovable { .. })) => {
            notes.push(skip.to_string());
            return Ok(());
        }
        Err(Skip::NoSsh) => return Ok(()),
    };
    // Piped to ssh, never written to disk: `--dry-run` writes nothing.
    let ask = |bytes: &[u8]| -> anyhow::Result<Result<(), String>> {
        Ok(oracle.ssh_g_bytes(bytes, &s.path, alias).map(|_| ()))
    };
    let Err(msg) = ask(&doc.to_utf8())? else {
        return Ok(());
    };
    let msg = msg.trim_end();
    let already = ask(&s.doc.to_utf8())?.is_err();
    Err(bad_input(if already {
        format!(
            "ssh already refuses this config, so a new entry would not work either; nothing was written. ssh says:\n{msg}"
        )
    } else {
        format!(
            "ssh would refuse the edited config (which breaks every host in it); nothing was written. ssh says:\n{msg}"
        )
    }))
}

/// The one line saying the entry's comments moved (issue 13).
fn moved_line(verb: &str, n: usize, alias: &str) -> String {
    format!(
        "{verb} {n} comment{} of {alias} to their own lines: Windows' ssh refuses them after a value",
        if n == 1 { "" } else { "s" }
    )
}

fn verb(a: Action) -> &'static str {
    match a {
        Action::Created => "add",
        _ => "update",
    }
}

/// Apply the entry to a copy of `doc`: update block `existing` in place, or
/// insert a new block before the first block that would also apply to the
/// alias. Returns the document and the entry's block index.
pub(crate) fn apply(
    doc: &Document,
    existing: Option<usize>,
    alias: &str,
    options: &[(String, String)],
    ep: &Endpoint,
    extra_comment: &[&str],
) -> anyhow::Result<(Document, usize)> {
    let mut doc = doc.clone();
    if let Some(bi) = existing {
        if doc.blocks()[bi].patterns.first().map(String::as_str) != Some(alias) {
            doc.rename_host(bi, alias).map_err(bad_input)?;
        }
        for (k, v) in options {
            let multi = keywords::lookup(k).is_some_and(|kw| {
                matches!(
                    kw.kind,
                    Kind::Forward | Kind::DynamicForward | Kind::SendEnv
                )
            });
            if multi {
                let block = doc.blocks()[bi].clone();
                let present = doc
                    .option_lines(&block, k)
                    .iter()
                    .any(|&li| doc.lines()[li].values().join(" ") == *v);
                if !present {
                    doc.add_option(bi, k, v).map_err(bad_input)?;
                }
            } else {
                doc.set_option(bi, k, v).map_err(bad_input)?;
            }
        }
        return Ok((doc, bi));
    }
    let blocks = doc.blocks();
    let first_applying = (1..blocks.len()).find(|&i| match blocks[i].kind {
        BlockKind::Host => {
            pattern::host_line_matches(alias, blocks[i].patterns.iter().map(String::as_str))
        }
        // A Match may apply to anything: stay above it.
        _ => true,
    });
    let at = match first_applying {
        Some(i) => doc.position_before_block(i),
        None => doc.lines().len(),
    };
    let opts: Vec<(&str, &str)> = options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut comment = vec![runpod::MARKER.trim_start_matches("# ")];
    if let Access::Proxy { .. } = ep.access {
        comment.push("ssh.runpod.io proxy: VS Code, scp, sftp and forwarding need the 'SSH over exposed TCP' command");
    }
    comment.extend_from_slice(extra_comment);
    let header = doc
        .insert_host_block(at, &[alias], &opts, &comment)
        .map_err(bad_input)?;
    let bi = doc
        .blocks()
        .iter()
        .position(|b| b.header == Some(header))
        .ok_or_else(|| anyhow::anyhow!("internal error: inserted block not found"))?;
    Ok((doc, bi))
}

/// The 1-based line where the header of `block` (a block of the file as
/// read) is in `doc`, the file as written: the entry grew and its comments
/// moved above their lines, so the lines below it moved down.
fn line_as_written(doc: &Document, block: &crate::config::Block) -> usize {
    let read = block.header.unwrap_or(0) + 1;
    doc.lines()
        .iter()
        .position(|l| l.original_line() == Some(read))
        .map_or(read, |i| i + 1)
}

/// The block's own HostName and Port (22 when unset).
pub(crate) fn endpoint_of(doc: &Document, block: &crate::config::Block) -> (String, u16) {
    let host = doc
        .first_value(block, "hostname")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let port = doc
        .first_value(block, "port")
        .and_then(|p| crate::config::resolve::parse_port(&p))
        .unwrap_or(22);
    (host, port)
}

fn points_at(doc: &Document, block: &crate::config::Block, ep: &Endpoint) -> bool {
    let (h, p) = endpoint_of(doc, block);
    h == ep.host && p == ep.port
}

/// The entry's values that earlier lines of the config override (first
/// value wins), as lines to show; empty when the entry is what ssh uses.
pub(crate) fn overrides(
    s: &Session,
    doc: &Document,
    bi: usize,
    r: &crate::config::Resolved,
    options: &[(String, String)],
    identity: &str,
) -> Vec<String> {
    let range = doc.blocks()[bi].lines.clone();
    let ours = |src: &crate::config::Source| src.file == s.path && range.contains(&(src.line - 1));
    let mut overridden = Vec::new();
    for (k, v) in options {
        let Some(kw) = keywords::lookup(k) else {
            continue;
        };
        match kw.kind {
            Kind::Forward | Kind::DynamicForward | Kind::SendEnv | Kind::LineList => {}
            _ => match r.get(k) {
                Some(got) if !ours(&got.source) => overridden.push(format!(
                    "  {k}: ssh would use {:?} from {} instead of {v:?}",
                    got.args.join(" "),
                    got.source
                )),
                _ => {}
            },
        }
    }
    if overridden.is_empty() {
        // IdentityFile accumulates: ours must be tried first.
        if let Some((first, Some(src))) = r.identity_files().first()
            && !ours(src)
        {
            overridden.push(format!(
                "  IdentityFile: ssh would try {first:?} from {src} before {identity:?}"
            ));
        }
    }
    overridden
}
