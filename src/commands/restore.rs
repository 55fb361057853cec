//! `runpod-ssh restore [--list] [BACKUP]`: put back an earlier version of
//! the config. The current version is itself backed up first, so a
//! restore can be undone the same way.

use super::edit::{self, Session};
use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::cli::RestoreArgs;
use crate::fsio::{self, WriteOptions};
use crate::output;

pub fn run(env: &Env, a: &RestoreArgs) -> anyhow::Result<Outcome> {
    let s = Session::open(env)?;
    let list = fsio::backups(&s.snap.target);
    if a.list {
        if env.global.json {
            output::out(&format!("{}\n", serde_json::to_string_pretty(&list)?))?;
        } else if list.is_empty() {
            output::out(&format!("No backups of {} yet.\n", edit::tilde(&s.path)))?;
        } else {
            let mut text = format!("Backups of {} (newest last):\n", edit::tilde(&s.path));
            for b in &list {
                text.push_str(&format!("  {}  {}\n", b.stamp, edit::tilde(&b.path)));
            }
            output::out(&text)?;
        }
        return Ok(Outcome::Ok);
    }
    let chosen = match &a.backup {
        Some(stamp) => list
            .iter()
            .find(|b| &b.stamp == stamp || b.path.ends_with(stamp)),
        None => list.last(),
    };
    let Some(b) = chosen else {
        return Err(match &a.backup {
            Some(x) => bad_input(format!(
                "no backup {x:?} of {}; see runpod-ssh restore --list",
                s.path.display()
            )),
            None => fsio::FsError::NoBackup(s.path.clone()).into(),
        });
    };
    let bytes = std::fs::read(&b.path)
        .map_err(|source| fsio::FsError::Read {
            path: b.path.clone(),
            source,
        })
        .or_fail(Failure::Io)?;
    if bytes == s.snap.content() {
        output::out(&format!(
            "{} already matches backup {}.\n",
            edit::tilde(&s.path),
            b.stamp
        ))?;
        return Ok(Outcome::Ok);
    }
    let r = fsio::write(&s.snap, &bytes, WriteOptions::default()).or_fail(Failure::Io)?;
    if env.global.json {
        let v =
            serde_json::json!({ "restored": b, "config": s.path, "backup_of_current": r.backup });
        output::out(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
    } else if !env.global.quiet {
        output::out(&format!(
            "{} Restored {} from backup {}\n",
            env.style.green("✓"),
            edit::tilde(&s.path),
            b.stamp
        ))?;
    }
    Ok(Outcome::Ok)
}
