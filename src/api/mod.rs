//! RunPod REST v2 client (`https://api.runpod.io/v2`): pods, pod actions,
//! the pod log stream (Server-Sent Events) and the account's SSH keys.
//!
//! rustls only (ureq with ring). The API key is sent as a Bearer header
//! and never appears in any message, log or `Debug` output: [`ApiKey`]
//! redacts itself, and no error built here quotes a header.
//!
//! - `key`: where the key comes from, and `login`'s file;
//! - `error`: [`ApiError`], with the server's problem text escaped;
//! - `client`: the base URL checks, one request, 429s waited out;
//! - `pods`: [`Pod`] and the pod endpoints, hostile fields refused;
//! - `account`: the account's SSH keys;
//! - `logs`: host key fingerprints from the pod's log stream.

mod account;
mod client;
mod error;
mod key;
mod logs;
mod pods;

pub use client::{Client, DEFAULT_BASE, retry_seconds};
pub use error::ApiError;
use error::problem_text;
pub use key::{
    ApiKey, KEY_FILE, KeySource, config_dir, find_key, login_file, runpodctl_key, save_key,
};
pub use logs::{HostKeyScan, MAX_LOG_BYTES};
pub use pods::{Gpu, Pod, PodSsh, Runtime, SshEndpoint};
