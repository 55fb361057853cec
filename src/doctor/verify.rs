//! Verification of a repair: the config before and after is evaluated by
//! runpod-ssh's evaluator and, when ssh is installed and the tree runs no
//! command, by `ssh -G` itself (bounded and a few at a time). A value no
//! rule meant to change, or a new error, makes the result worse.

use std::path::Path;

use crate::config::document::Document;
use crate::config::{BlockKind, Context, pattern};

/// The result of comparing the config before and after a repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Why the result is worse: a new error, or a value changed that no
    /// rule meant to change.
    pub worse: Option<String>,
    /// Why `ssh -G` was not asked (our own evaluator was the only judge).
    pub skipped: Option<crate::oracle::Skip>,
}

/// Compare the config before and after: by our evaluator and, when `ssh`
/// is installed and the config runs no command (`Match exec`), by
/// `ssh -G` itself. `Some(reason)` when the result is worse.
pub fn regression(
    path: &Path,
    old: &[u8],
    new: &[u8],
    intended: &[(String, String)],
    ctx: &Context,
) -> Option<String> {
    verify(path, old, new, intended, ctx).worse
}

/// At most this many aliases are asked of `ssh -G` after a repair (every
/// alias the edit changes, then others), this many at a time.
const SSH_G_ASKS: usize = 256;
const SSH_G_PARALLEL: usize = 8;

/// [`regression`], also saying when the `ssh -G` cross-check was skipped.
pub fn verify(
    path: &Path,
    old: &[u8],
    new: &[u8],
    intended: &[(String, String)],
    ctx: &Context,
) -> Verification {
    let old_doc = Document::parse(old);
    let new_doc = Document::parse(new);
    let aliases = host_aliases(&[&old_doc, &new_doc]);
    let worse = |why: String| Verification {
        worse: Some(why),
        skipped: None,
    };
    let (changed, unchanged) = match evaluate(path, ctx, &old_doc, &new_doc, &aliases) {
        Ok(split) => split,
        Err(why) => return worse(why),
    };
    // `ssh -G` evaluates `Match exec`: never asked about a tree that has one.
    let oracle = match crate::oracle::Oracle::for_versions(path, &[&old_doc, &new_doc], &ctx.home) {
        Ok(o) => o,
        Err(skip) => {
            return Verification {
                worse: None,
                skipped: Some(skip),
            };
        }
    };
    let ok = Verification {
        worse: None,
        skipped: None,
    };
    let Ok(tmp) = tempfile::Builder::new()
        .prefix("runpod-ssh-before-")
        .tempfile()
    else {
        return ok;
    };
    if std::fs::write(tmp.path(), old).is_err() {
        return ok;
    }
    // Bounded: every changed alias, then others up to SSH_G_ASKS, asked a
    // few at a time (two `ssh -G` each), so a large config stays quick.
    let mut asked = changed;
    let room = SSH_G_ASKS.saturating_sub(asked.len());
    asked.extend(unchanged.into_iter().take(room));
    match ask_ssh_g(&oracle, tmp.path(), path, &asked, intended) {
        Some(why) => worse(why),
        None => ok,
    }
}

/// Every alias a `Host` block names in any of `docs` (once, in order),
/// then a host no block names.
fn host_aliases(docs: &[&Document]) -> Vec<String> {
    let mut aliases: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in docs {
        for b in d.blocks() {
            if b.kind == BlockKind::Host {
                for p in b.patterns.iter().filter(|p| !pattern::is_wildcard(p)) {
                    if seen.insert(p.clone()) {
                        aliases.push(p.clone());
                    }
                }
            }
        }
    }
    aliases.push(crate::refusal::UNRELATED_HOST.into());
    aliases
}

/// Our evaluator's verdict: `Err(why)` when an alias that resolved before
/// no longer does; else the aliases split into (changed, unchanged) by
/// what the evaluator prints for them — the changed ones are asked of ssh
/// first.
fn evaluate(
    path: &Path,
    ctx: &Context,
    old_doc: &Document,
    new_doc: &Document,
    aliases: &[String],
) -> Result<(Vec<String>, Vec<String>), String> {
    let (old_r, new_r) = (
        crate::config::resolve::Resolver::new(old_doc, path, ctx),
        crate::config::resolve::Resolver::new(new_doc, path, ctx),
    );
    let mut changed: Vec<String> = Vec::new();
    let mut unchanged: Vec<String> = Vec::new();
    for alias in aliases {
        let before = old_r.resolve(alias);
        let after = new_r.resolve(alias);
        if before.ok() && !after.ok() {
            return Err(format!(
                "{alias}: {}",
                after
                    .errors
                    .first()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            ));
        }
        if before.print() == after.print() {
            unchanged.push(alias.clone());
        } else {
            changed.push(alias.clone());
        }
    }
    Ok((changed, unchanged))
}

/// Ask `ssh -G` about each of `asked` with the config before (`old_path`)
/// and after (`new_path`), [`SSH_G_PARALLEL`] at a time: the first value
/// that changed without a rule meaning it (or a new failure), if any.
fn ask_ssh_g(
    oracle: &crate::oracle::Oracle,
    old_path: &Path,
    new_path: &Path,
    asked: &[String],
    intended: &[(String, String)],
) -> Option<String> {
    let meant = |alias: &str, kw: &str| {
        intended
            .iter()
            .any(|(a, k)| (a == alias || a == "*") && (k == kw || k == "*"))
    };
    let compare = |alias: &String| -> Option<String> {
        let before = oracle.ssh_g(old_path, alias);
        let after = oracle.ssh_g(new_path, alias);
        match (before, after) {
            (Ok(_), Err(e)) => Some(format!(
                "ssh -G {alias} now fails: {}",
                e.lines().next().unwrap_or_default()
            )),
            (Ok(b), Ok(a)) => {
                // Both ways: a repair that drops a keyword counts too.
                let keys = a.keys().chain(b.keys());
                for k in keys {
                    if b.get(k) != a.get(k) && !meant(alias, k) {
                        return Some(format!(
                            "ssh -G {alias}: {k} changed from {:?} to {:?}",
                            b.get(k),
                            a.get(k)
                        ));
                    }
                }
                None
            }
            _ => None,
        }
    };
    for chunk in asked.chunks(SSH_G_PARALLEL) {
        let found = std::thread::scope(|sc| {
            let handles: Vec<_> = chunk.iter().map(|a| sc.spawn(|| compare(a))).collect();
            handles.into_iter().find_map(|h| h.join().ok().flatten())
        });
        if found.is_some() {
            return found;
        }
    }
    None
}
