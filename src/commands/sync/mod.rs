//! `runpod-ssh sync` and `add --pod`: entries that follow the pods the
//! RunPod API lists, each host key verified on first contact against the
//! fingerprints the pod's start script printed in its log.
//!
//! This module holds the commands, what they report per pod and how a pod
//! finds its entry; the work is in:
//! - `upsert`: one write of every pod's entry (and `--prune`), then the
//!   first contacts;
//! - `state`: what sync remembers per pod beside the pins;
//! - `contact`: the first contact, judged against the pod's log;
//! - `guard`: closing an entry whose key was refused, reopening it once
//!   verified;
//! - `report`: the text and JSON output.

use std::path::PathBuf;

use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::api::{self, Pod};
use crate::cli::{AddArgs, SyncArgs};
use crate::config::{BlockKind, Document};
use crate::{output, runpod};

mod contact;
mod guard;
mod report;
mod state;
mod upsert;

pub use report::render;
use report::report;
pub use upsert::sync_pods;

/// What sync did for one pod.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PodResult {
    pub id: String,
    pub name: String,
    pub status: String,
    pub alias: Option<String>,
    /// `created`, `updated`, `unchanged`, `kept` (not running: entry kept),
    /// `proxy-only`, `no-ssh`, `pruned`.
    pub action: &'static str,
    pub endpoint: Option<String>,
    /// The pinned host key was dropped: the endpoint or `startedAt` changed.
    pub pin_reset: bool,
    pub first_contact: Option<Contact>,
    pub note: Option<String>,
}

/// The first contact with a pod's sshd (or the `up` check).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Contact {
    /// `pinned` (recorded), `known` (already pinned), `refused`, `failed`.
    pub result: &'static str,
    /// The key was checked against the fingerprints in the pod's log.
    pub verified: bool,
    /// Why the pod's log could not be read (then nothing was verified; not
    /// the same as a log without fingerprints).
    pub log_error: Option<String>,
    pub fingerprint: Option<String>,
    pub expected: Vec<String>,
    pub message: String,
    /// The whole check passed (up to exec and forwarding).
    pub ok: bool,
    pub error: Option<String>,
    pub hint: Option<String>,
    /// When the whole check passed: its time and what the pod has.
    pub check: Option<String>,
    /// The entry says `StrictHostKeyChecking yes` after this contact: a key
    /// not in the pod's log was refused (now or by an earlier sync that no
    /// contact has verified since), so ssh and VS Code refuse the host
    /// instead of accepting the impostor's key as new.
    pub closed: bool,
}

/// What sync needs to know.
pub struct SyncOpts {
    pub dry_run: bool,
    pub prune: bool,
    pub no_vscode: bool,
    /// Probe every synced running entry (up: the check), not only first
    /// contacts.
    pub probe_all: bool,
    /// Gather facts (GPU, disk) when probing.
    pub facts: bool,
}

pub struct Synced {
    pub results: Vec<PodResult>,
    pub diff: String,
    pub config: PathBuf,
    pub backup: Option<PathBuf>,
    pub redirect: Option<(PathBuf, PathBuf)>,
    pub warnings: Vec<String>,
}

pub fn run(env: &Env, a: &SyncArgs) -> anyhow::Result<Outcome> {
    let client = api::Client::from_env().or_fail(Failure::Io)?;
    let pods = client.pods().or_fail(Failure::Io)?;
    let s = sync_pods(
        env,
        &client,
        &pods,
        true,
        &SyncOpts {
            dry_run: a.dry_run,
            prune: a.prune,
            no_vscode: a.no_vscode,
            probe_all: false,
            facts: false,
        },
    )?;
    report(env, &s, a.dry_run)
}

/// `add --pod ID|NAME`: sync one pod.
pub fn add_pod(env: &Env, a: &AddArgs) -> anyhow::Result<Outcome> {
    if !a.command.is_empty() {
        return Err(bad_input(
            "--pod takes the endpoint from the RunPod API: give no pasted command with it",
        ));
    }
    if a.name.is_some() || a.identity.is_some() {
        return Err(bad_input(
            "--pod names the entry runpod-<pod name> and keeps its key; use `add --name` with a pasted command to choose",
        ));
    }
    let client = api::Client::from_env().or_fail(Failure::Io)?;
    let pod = find_pod(&client, a.pod.as_deref().unwrap_or_default())?;
    let s = sync_pods(
        env,
        &client,
        std::slice::from_ref(&pod),
        false,
        &SyncOpts {
            dry_run: a.dry_run,
            prune: false,
            no_vscode: a.no_vscode,
            probe_all: false,
            facts: false,
        },
    )?;
    report(env, &s, a.dry_run)
}

/// A pod by id, or by exact name (one match only).
pub fn find_pod(client: &api::Client, which: &str) -> anyhow::Result<Pod> {
    let pods = client.pods().or_fail(Failure::Io)?;
    if let Some(p) = pods.iter().find(|p| p.id == which) {
        return Ok(p.clone());
    }
    let named: Vec<&Pod> = pods.iter().filter(|p| p.name == which).collect();
    match named.as_slice() {
        [p] => Ok((*p).clone()),
        [] => Err(bad_input(format!(
            "no pod with id or name {:?} on this account (`runpod-ssh list --live` shows them)",
            output::escape(which, false)
        ))),
        many => Err(bad_input(format!(
            "{} pods are named {:?}: use the id ({})",
            many.len(),
            output::escape(which, false),
            many.iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `runpod-<name>`, lower case, anything but letters and digits a dash.
pub fn alias_for_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-');
    if t.is_empty() {
        "runpod-pod".into()
    } else if t.starts_with("runpod") {
        t.to_string()
    } else {
        format!("runpod-{t}")
    }
}

/// The entry of a pod: one `sync` created, or a RunPod entry pinned under
/// the pod's name (`HostKeyAlias runpod-<id>`).
pub fn entry_of(doc: &Document, pod_id: &str) -> Option<usize> {
    let pin = runpod::pod_pin_name(pod_id);
    let blocks = doc.blocks();
    (1..blocks.len()).find(|&i| {
        blocks[i].kind == BlockKind::Host
            && blocks[i].patterns.len() == 1
            && (runpod::synced_pod_id(doc, &blocks[i]).as_deref() == Some(pod_id)
                || (runpod::is_runpod_block(doc, &blocks[i])
                    && doc
                        .first_value(&blocks[i], "hostkeyalias")
                        .is_some_and(|v| v.eq_ignore_ascii_case(&pin))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_from_pod_names() {
        assert_eq!(alias_for_name("My Training Pod!"), "runpod-my-training-pod");
        assert_eq!(alias_for_name("runpod-llama"), "runpod-llama");
        assert_eq!(alias_for_name("日本"), "runpod-pod");
    }
}
