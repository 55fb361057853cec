//! Command-line flags (clap derive). Only flags live here; what they do
//! lives in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  a check or repair found problems
  2  bad input, or an edit was refused (nothing was written)
  3  a file could not be read or written

Environment:
  NO_COLOR   disables colour
  HOME       where ~/.ssh lives";

/// runpod-ssh: make your RunPod pod connect, from a terminal or VS Code.
#[derive(Debug, Parser)]
#[command(name = "runpod-ssh", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after its name.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The ssh config file to read and edit [default: ~/.ssh/config]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Machine-readable output
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what ssh will use for a host, as `ssh -G` prints it, with where
    /// each value comes from
    #[command(
        after_help = "Example:\n  runpod-ssh show runpod-4090\n  runpod-ssh show runpod-4090 --json --config ./my_config"
    )]
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The host alias, as you would type it after `ssh`
    pub alias: String,
}
