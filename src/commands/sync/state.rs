//! What sync remembers per pod beside the pins (`~/.ssh/runpod-ssh-pods.json`):
//! the endpoint and `startedAt` each pin was made for, so a restart on the
//! same host and port resets the pin.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::commands::edit;
use crate::commands::{Failure, OrFail};
use crate::{fsio, known_hosts};

/// What sync remembers per pod, beside the pins: the endpoint and
/// `startedAt` the pin was made for (a restart on the same host and port
/// brings new host keys).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct PodRecord {
    #[serde(default)]
    pub(super) started_at: Option<String>,
    pub(super) host: String,
    pub(super) port: u16,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct State {
    #[serde(default)]
    pub(super) pods: BTreeMap<String, PodRecord>,
}

fn state_path() -> Option<PathBuf> {
    crate::platform::home_dir().map(|h| h.join(".ssh").join("runpod-ssh-pods.json"))
}

pub(super) fn load_state() -> State {
    state_path()
        .and_then(|p| fsio::read_limited(&p).ok())
        .and_then(|c| serde_json::from_slice(&c.bytes).ok())
        .unwrap_or_default()
}

pub(super) fn save_state(state: &State) -> anyhow::Result<()> {
    let Some(p) = state_path() else {
        return Ok(());
    };
    if let Some(dir) = p.parent() {
        fsio::create_private_dir(dir).or_fail(Failure::Io)?;
    }
    let _lock = fsio::Lock::for_file(&p).or_fail(Failure::Io)?;
    let snap = fsio::read(&p).or_fail(Failure::Io)?;
    let mut text = serde_json::to_string_pretty(state)?;
    text.push('\n');
    if snap.content() != text.as_bytes() {
        fsio::write(
            &snap,
            text.as_bytes(),
            fsio::WriteOptions {
                backup: false,
                new_mode: 0o600,
            },
        )
        .or_fail(Failure::Io)?;
    }
    Ok(())
}

/// Whether a key is pinned under `pin` in runpod-ssh's known_hosts file.
pub(super) fn is_pinned(pin: &str) -> bool {
    edit::known_hosts_path()
        .and_then(|p| known_hosts::load(&[p]).ok())
        .is_some_and(|e| e.iter().any(|e| e.marker.is_none() && e.names(pin)))
}
