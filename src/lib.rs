//! runpod-ssh: make RunPod GPU pods reachable over SSH from a terminal and
//! from VS Code Remote-SSH.
//!
//! The library holds every concern in its own module; `main.rs` only
//! parses flags and maps results to exit codes.
//!
//! - [`config`]: lossless ssh_config documents and an evaluator that agrees
//!   with `ssh -G`.
//! - [`fsio`]: atomic, backed-up, lock-protected writes of user files.
//! - [`runpod`]: what RunPod hands a user, and the entry we write for it.
//! - [`known_hosts`]: pinned host keys.
//! - [`vscode`]: VS Code-family settings, edited losslessly.
//! - [`client`]: the native SSH client (deadlines, our host-key verdicts,
//!   chosen keys, commands).
//! - [`ssh_client`]: which russh the client is built on (upstream, or the
//!   patched copy behind the `russh-rtt-patch` feature).
//! - [`probe`]: the staged native reachability probe.
//! - [`keys`]: key files: create, inspect, authorized_keys edits, the rotation journal.
//! - [`doctor`]: the repair rules behind `fix`.
//! - [`oracle`]: `ssh -G`, asked only when the config runs no command.
//! - [`refusal`]: whether an ssh client would refuse a config, in its words.
//! - [`commands`]: one module per subcommand.
//! - [`completion`]: shell completion, aliases offered from the config.

pub mod account_keys;
pub mod algorithms;
pub mod api;
pub mod cli;
pub mod client;
pub mod commands;
pub mod completion;
pub mod config;
pub mod doctor;
pub mod fsio;
mod hash;
pub mod keys;
pub mod known_hosts;
pub mod oracle;
pub mod output;
pub mod platform;
pub mod probe;
pub mod refusal;
pub mod runpod;
pub mod ssh_client;
pub mod sshpaths;
pub mod vscode;
pub mod winacl;
pub mod wsl;

/// `--version`: the package version and the commit it was built from
/// (see build.rs; "unknown" when neither git nor the package knew it).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("RUNPOD_SSH_COMMIT"),
    ")"
);
