//! `runpod-ssh remove ALIAS`: remove a host entry, its pinned host key and
//! its VS Code platform setting.

use super::edit::{self, Session};
use super::{Env, Outcome, bad_input};
use crate::cli::RemoveArgs;
use crate::config::files::load_tree;
use crate::config::{Block, Document};
use crate::{output, runpod};

pub fn run(env: &Env, a: &RemoveArgs) -> anyhow::Result<Outcome> {
    edit::check_alias(&a.alias)?;
    let mut s = Session::open(env)?;
    // Only the blocks naming the alias, with their indices in `blocks()`.
    let found = removable(&s, s.doc.host_blocks_naming_with(&a.alias), a)?;
    // The pins go under the entry's HostKeyAlias (sync: runpod-<podid>).
    let pins_of: Vec<String> = found
        .iter()
        .filter(|(_, b)| b.patterns.len() == 1)
        .filter_map(|(_, b)| s.doc.first_value(b, "hostkeyalias"))
        .collect();
    // The session's own document is edited (no copy of a large file): what
    // is needed of the file as read from here on is in `s.snap`.
    let mut doc = std::mem::replace(&mut s.doc, Document::parse(b""));
    // From the last block up, so earlier indices stay valid.
    for (bi, b) in found.iter().rev() {
        if b.patterns.len() > 1 {
            doc.remove_host_pattern(*bi, &a.alias).map_err(bad_input)?;
        } else {
            doc.remove_block(*bi).map_err(bad_input)?;
        }
    }
    // Made once, for the diff or the write.
    let bytes = doc.to_bytes();
    // Shown by --dry-run and --json only: a diff of a large file is not free.
    let diff = if a.dry_run || env.global.json {
        s.diff_to(&bytes)
    } else {
        String::new()
    };
    let mut backup = None;
    let mut pins;
    let mut warnings = Vec::new();
    if !a.dry_run {
        backup = s.write_bytes(&bytes)?;
        // Written just now under the session's lock: the file holds
        // `doc`, no need to read it back.
        warnings.extend(crate::refusal::strictest_after_own_write(
            &s.path, &doc, &bytes, &s.ctx, true,
        ));
        // In the same backup set as the config: `restore` brings it back.
        pins = edit::forget_pinned_key(&a.alias)?;
        for pin in pins_of.iter().filter(|p| !p.eq_ignore_ascii_case(&a.alias)) {
            pins += edit::forget_pinned_key(pin)?;
        }
    } else {
        pins = edit::pinned_key_count(&a.alias);
        for pin in pins_of.iter().filter(|p| !p.eq_ignore_ascii_case(&a.alias)) {
            pins += edit::pinned_key_count(pin);
        }
    }
    // The process ends soon after: freeing a large file's lines one by one
    // cost more than a tenth of the command.
    std::mem::forget(doc);
    let vscode = if a.no_vscode {
        Vec::new()
    } else {
        edit::set_vscode_platform(&a.alias, None, a.dry_run)
    };
    if env.global.json {
        let v = serde_json::json!({
            "alias": a.alias,
            "dry_run": a.dry_run,
            "blocks_removed": found.len(),
            "config": s.path,
            "backup": backup,
            "diff": diff,
            "pinned_keys_removed": pins,
            "vscode": vscode,
            "warnings": warnings,
        });
        output::out(&output::json(&v)?)?;
        return Ok(Outcome::Ok);
    }
    let text = done_text(env, a, &s, &diff, backup.as_deref(), pins, &vscode);
    output::out(&text)?;
    for w in &warnings {
        output::err(&format!("{} {w}\n", env.style.yellow("warning:")));
    }
    Ok(Outcome::Ok)
}

/// The blocks naming `a.alias` that may be removed; an error when there is
/// none here (with where it is defined, or a suggestion), or one is the
/// user's own or names other hosts too (without `--force`).
fn removable(
    s: &Session,
    found: Vec<(usize, Block)>,
    a: &RemoveArgs,
) -> anyhow::Result<Vec<(usize, Block)>> {
    if found.is_empty() {
        // Defined in an included file? Say where, rather than "not found".
        let files = load_tree(&s.path, &s.doc, &s.ctx.home);
        for f in files.iter().skip(1) {
            if let Some(&bi) = f.doc.host_blocks_naming(&a.alias).first() {
                let line = f.doc.blocks()[bi].header.unwrap_or(0) + 1;
                return Err(bad_input(format!(
                    "{} is defined in {}:{line}, an included file; runpod-ssh only edits {} (use --config to edit that file)",
                    a.alias,
                    f.path.display(),
                    s.path.display()
                )));
            }
        }
        return Err(bad_input(format!(
            "no host entry named {} in {}{}",
            a.alias,
            s.path.display(),
            super::did_you_mean(&a.alias, &files)
        )));
    }
    for (_, b) in &found {
        // Hand-written blocks (`github.com`, `prod`) are the user's own:
        // only a RunPod entry goes without --force.
        if !a.force && !runpod::is_runpod_block(&s.doc, b) {
            return Err(bad_input(format!(
                "{} at {}:{} is not a RunPod entry (no runpod-ssh marker, no \"runpod\" in its name, not ssh.runpod.io, not root at an IPv4 address on a port other than 22); nothing was removed. Use --force to remove it anyway",
                a.alias,
                s.path.display(),
                b.header.unwrap_or(0) + 1
            )));
        }
    }
    for (_, b) in &found {
        if b.patterns.len() > 1 && !a.force {
            return Err(bad_input(format!(
                "the block at {}:{} also names other hosts ({}); nothing was removed. Use --force to drop just {} from that line",
                s.path.display(),
                b.header.unwrap_or(0) + 1,
                b.patterns.join(" "),
                a.alias
            )));
        }
    }
    Ok(found)
}

/// What `remove` tells the user on stdout (nothing with `--quiet`).
fn done_text(
    env: &Env,
    a: &RemoveArgs,
    s: &Session,
    diff: &str,
    backup: Option<&std::path::Path>,
    pins: usize,
    vscode: &[edit::SettingsChange],
) -> String {
    let mut text = String::new();
    if a.dry_run {
        text.push_str(&format!(
            "Would remove {} from {}:\n\n{diff}",
            a.alias,
            edit::tilde(&s.path)
        ));
        if pins > 0 {
            text.push_str(&format!(
                "Would forget its pinned host key in {}\n",
                edit::known_hosts_path()
                    .map(|p| edit::tilde(&p))
                    .unwrap_or_default()
            ));
        }
    } else if !env.global.quiet {
        text.push_str(&format!(
            "{} Removed {} from {}\n",
            env.style.green("✓"),
            a.alias,
            edit::tilde(&s.path)
        ));
        if let Some(b) = &backup {
            text.push_str(&format!(
                "  previous version saved as {} (undo: {})\n",
                edit::tilde(b),
                env.command("restore")
            ));
        }
        if pins > 0 {
            text.push_str(&format!(
                "  forgot its pinned host key (`{}` brings it back with the entry)\n",
                env.command("restore")
            ));
        }
        for c in vscode.iter().filter(|c| c.changed) {
            text.push_str(&format!(
                "  VS Code: removed its platform setting in {}\n",
                edit::tilde(&c.path)
            ));
        }
    }
    text
}
