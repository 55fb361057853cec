//! runpod-ssh: make RunPod GPU pods reachable over SSH from a terminal and
//! from VS Code Remote-SSH.
//!
//! The library holds every concern in its own module; `main.rs` only
//! parses flags and maps results to exit codes.
//!
//! - [`config`]: lossless ssh_config documents and an evaluator that agrees
//!   with `ssh -G`.
//! - [`commands`]: one module per subcommand.

pub mod cli;
pub mod commands;
pub mod config;
pub mod output;
pub mod platform;
