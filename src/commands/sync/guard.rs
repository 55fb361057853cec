//! Closing the door after a refused key: an entry whose key was not in the
//! pod's log says `StrictHostKeyChecking yes` until a later contact
//! verifies the key, so plain ssh and VS Code never accept the impostor's
//! key as new.

use std::path::PathBuf;

use crate::commands::bad_input;
use crate::commands::edit::Session;
use crate::fsio;

use super::contact::Due;
use super::{Contact, entry_of};

/// What an entry says while a refused key keeps it closed.
pub(super) const CLOSED: &str = "yes";
/// The template's value, back once a contact verifies the key.
const OPEN: &str = "accept-new";

/// After the contacts: close the entries whose key was refused against the
/// pod's log (so plain ssh and VS Code do not accept it as new), reopen
/// closed ones whose key is now pinned, and say so in each message. One
/// write on top of the file as it is now (see [`Session::reread`]).
pub(super) fn guard_entries(
    s: &mut Session,
    due: &[Due],
    done: Vec<(usize, Contact)>,
    (ours, wrote, run_backup): (&[u8], bool, &mut Option<PathBuf>),
    warnings: &mut Vec<String>,
) -> Vec<(usize, Contact)> {
    let mut changes: Vec<(usize, &str, &'static str)> = Vec::new();
    for (k, (d, (_, c))) in due.iter().zip(&done).enumerate() {
        let value = if c.closed || (d.was_closed && !matches!(c.result, "pinned" | "known")) {
            CLOSED
        } else if d.was_closed {
            OPEN
        } else {
            continue;
        };
        changes.push((k, d.pod.id.as_str(), value));
    }
    if changes.is_empty() {
        return done;
    }
    let outcome = s.reread().and_then(|()| {
        let mut doc = s.doc.clone();
        let mut missing = Vec::new();
        for &(k, id, value) in &changes {
            match entry_of(&doc, id) {
                Some(bi) => {
                    doc.set_option(bi, "StrictHostKeyChecking", value)
                        .map_err(bad_input)?;
                }
                None => missing.push(k),
            }
        }
        if doc.to_bytes() != s.snap.content() {
            // Back up only a version this run did not write itself: the
            // run's first write already saved the user's file (or created
            // it), and restoring the in-between version would reopen the
            // door this write closes.
            let backup = !wrote || s.snap.content() != ours;
            let b = s.write_with(
                &doc,
                fsio::WriteOptions {
                    backup,
                    ..Default::default()
                },
            )?;
            if run_backup.is_none() {
                *run_backup = b;
            }
        }
        Ok(missing)
    });
    let mut done = done;
    for &(k, _, value) in &changes {
        let (_, c) = &mut done[k];
        let was = due[k].was_closed;
        match (&outcome, value) {
            (Ok(missing), _) if missing.contains(&k) => {
                // Removed meanwhile: nothing left that could connect.
                c.closed = false;
            }
            (Ok(_), CLOSED) => {
                c.closed = true;
                c.message.push_str(if was {
                    ". The entry still says StrictHostKeyChecking yes (a key not in the pod's log was refused earlier): ssh and VS Code will refuse this host until `runpod-ssh sync` verifies it"
                } else {
                    ". The entry now says StrictHostKeyChecking yes: ssh and VS Code will refuse this host until `runpod-ssh sync` verifies it"
                });
            }
            (Ok(_), _) => {
                c.closed = false;
                c.message
                    .push_str("; the entry is open again (StrictHostKeyChecking accept-new)");
            }
            (Err(e), CLOSED) => {
                c.closed = false;
                c.message.push_str(&format!(
                    ". COULD NOT switch the entry to StrictHostKeyChecking yes ({e:#}): do not connect with ssh or VS Code until `runpod-ssh sync` verifies this host"
                ));
            }
            (Err(e), _) => {
                c.closed = true;
                warnings.push(format!(
                    "the entry for pod {} stays closed (StrictHostKeyChecking yes) although its key is now pinned: {e:#}; run `runpod-ssh sync` again",
                    due[k].pod.id
                ));
            }
        }
    }
    done
}
