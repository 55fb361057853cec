//! `runpod-ssh restore [--list] [BACKUP]`: put back an earlier version of
//! the config, and with it the other files the same command run backed up
//! (pinned host keys, VS Code settings): one backup set per run. The
//! current versions are themselves backed up first, so a restore can be
//! undone the same way.

use std::path::PathBuf;

use super::edit::{self, Session};
use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::cli::RestoreArgs;
use crate::fsio::{self, Backup, WriteOptions};
use crate::output;

/// The set's base stamp: `-N` marks a second save of one file in a run.
fn set_stamp(stamp: &str) -> &str {
    stamp.get(..25).unwrap_or(stamp)
}

/// The other files runpod-ssh backs up, with their backup from the set
/// `stamp` (the newest save of each in that run).
fn companions(stamp: &str) -> Vec<(PathBuf, Backup)> {
    let mut files: Vec<PathBuf> = edit::known_hosts_path().into_iter().collect();
    files.extend(crate::vscode::settings_files());
    files
        .into_iter()
        .filter_map(|f| {
            let b = fsio::backups(&f)
                .into_iter()
                .rfind(|b| set_stamp(&b.stamp) == stamp)?;
            Some((f, b))
        })
        .collect()
}

pub fn run(env: &Env, a: &RestoreArgs) -> anyhow::Result<Outcome> {
    let s = Session::open(env)?;
    let list = fsio::backups(&s.snap.target);
    if a.list {
        if env.global.json {
            output::out(&output::json(&list)?)?;
        } else if list.is_empty() {
            output::out(&format!("No backups of {} yet.\n", edit::tilde(&s.path)))?;
        } else {
            let mut text = format!(
                "Backups of {} (newest last): when, the command that replaced it, the file:\n",
                edit::tilde(&s.path)
            );
            for b in &list {
                text.push_str(&format!(
                    "  {}  {}  {:<8} {}\n",
                    b.stamp,
                    when(&b.stamp),
                    b.command.as_deref().unwrap_or("-"),
                    edit::tilde(&b.path)
                ));
            }
            output::out(&text)?;
        }
        return Ok(Outcome::Ok);
    }
    let chosen = match a.backup.as_deref() {
        Some(x) if x.trim().is_empty() => {
            return Err(bad_input(
                "no backup named \"\"; give a stamp as runpod-ssh restore --list shows it, or none for the newest",
            ));
        }
        // The stamp, or the backup's file name, exactly.
        Some(x) => list
            .iter()
            .find(|b| b.stamp == x || b.path.file_name().is_some_and(|n| n.to_string_lossy() == x)),
        None => list.last(),
    };
    let Some(b) = chosen else {
        return Err(match &a.backup {
            Some(x) => bad_input(format!(
                "no backup {x:?} of {} that runpod-ssh wrote; see runpod-ssh restore --list",
                s.path.display()
            )),
            None => fsio::FsError::NoBackup(s.path.clone()).into(),
        });
    };
    let bytes = fsio::read_backup(b).or_fail(Failure::Io)?;
    // Read every file of the set first: a bad one stops the restore before
    // anything is written.
    let mut others = Vec::new();
    if b.command.is_some() {
        for (file, ob) in companions(set_stamp(&b.stamp)) {
            let content = fsio::read_backup(&ob).or_fail(Failure::Io)?;
            let snap = fsio::read(&file).or_fail(Failure::Io)?;
            if snap.content() != content.as_slice() {
                others.push((snap, content));
            }
        }
    }
    if bytes == s.snap.content() && others.is_empty() {
        output::out(&format!(
            "{} already matches backup {}.\n",
            edit::tilde(&s.path),
            b.stamp
        ))?;
        return Ok(Outcome::Ok);
    }
    let mut backup_of_current = None;
    if bytes != s.snap.content() {
        let r = fsio::write(&s.snap, &bytes, WriteOptions::default()).or_fail(Failure::Io)?;
        backup_of_current = r.backup;
    }
    let mut restored_also = Vec::new();
    for (snap, content) in &others {
        fsio::write(snap, content, WriteOptions::default()).or_fail(Failure::Io)?;
        restored_also.push(snap.path.clone());
    }
    if env.global.json {
        let v = serde_json::json!({
            "restored": b,
            "undoes_restore": b.command.as_deref() == Some("restore"),
            "config": s.path,
            "backup_of_current": backup_of_current,
            "also_restored": restored_also,
        });
        output::out(&output::json(&v)?)?;
    } else if !env.global.quiet {
        let mut text = format!(
            "{} Restored {} from backup {} ({}{})\n",
            env.style.green("✓"),
            edit::tilde(&s.path),
            b.stamp,
            when(&b.stamp),
            b.command
                .as_deref()
                .map(|c| format!(", saved by {c}"))
                .unwrap_or_default()
        );
        if b.command.as_deref() == Some("restore") {
            // The newest backup was the version a restore replaced.
            text.push_str("  this undoes the previous restore\n");
        }
        for p in &restored_also {
            text.push_str(&format!("  and {} from the same run\n", edit::tilde(p)));
        }
        output::out(&text)?;
    }
    Ok(Outcome::Ok)
}

/// The stamp `YYYYMMDD-HHMMSS.nnn…` (UTC) as `YYYY-MM-DD HH:MM:SS UTC`.
fn when(stamp: &str) -> String {
    let d = stamp.as_bytes();
    if stamp.len() < 15 || !stamp.is_ascii() || d[8] != b'-' {
        return "-".into();
    }
    format!(
        "{}-{}-{} {}:{}:{} UTC",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn when_reads_the_backup_stamp_as_utc_time() {
        assert_eq!(
            super::when("20261128-101500.123456789"),
            "2026-11-28 10:15:00 UTC"
        );
        assert_eq!(super::when("junk"), "-");
    }
}
