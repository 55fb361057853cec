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
  HOME       where `Include ~/…` looks, as for ssh; every other ~ (the
             default config, keys, known_hosts) is the account's home
             from the password database, as ssh uses it";

/// Parse the command line as clap does, except that a usage error under
/// `--json` is also JSON on stdout, shaped as every other failure
/// (`{"error", "exit_code"}`); clap's own words still go to stderr and its
/// exit code is kept.
pub fn parse() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let json = args
                .iter()
                .skip(1)
                .take_while(|a| *a != "--")
                .any(|a| a == "--json");
            if json && e.use_stderr() {
                let text = e.render().to_string();
                // The message, without clap's usage and --help lines.
                let msg = text.split("\n\nUsage:").next().unwrap_or_default();
                let msg = msg.strip_prefix("error: ").unwrap_or(msg);
                // One line: paragraphs (clap's "tip: …") joined by "; ".
                let msg: Vec<String> = msg
                    .split("\n\n")
                    .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|p| !p.is_empty())
                    .collect();
                let v = serde_json::json!({
                    "error": msg.join("; "),
                    "exit_code": e.exit_code(),
                });
                if let Ok(j) = crate::output::json(&v) {
                    let _ = crate::output::out(&j);
                }
            }
            e.exit()
        }
    }
}

/// runpod-ssh: make your RunPod pod connect, from a terminal or VS Code.
#[derive(Debug, Parser)]
#[command(name = "runpod-ssh", version = crate::VERSION, about, after_help = AFTER_HELP)]
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
    /// Add or update a host entry from the ssh command RunPod shows
    /// (Connect → "SSH over exposed TCP")
    #[command(after_help = "\
Examples:
  runpod-ssh add 'ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519'
  runpod-ssh add --name gpu ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519
  runpod-ssh add --dry-run 'ssh root@203.0.113.7 -p 40123 -L 8888:localhost:8888'

After a pod restart, paste the new command with the same --name: the entry
is updated in place and its old pinned host key is dropped. When the pod
came back on the same IP and port, its new host key needs
  runpod-ssh add --name gpu --reset-host-key

The default alias is runpod-<ip-with-dashes>-<port> (runpod-<podid> for the
ssh.runpod.io proxy form); an entry already pointing at the same IP and port
keeps its alias.")]
    Add(AddArgs),
    /// Prove a host is reachable step by step (tcp, banner, kex, host key,
    /// auth, exec, forwarding) and say what to do when a step fails
    #[command(after_help = "\
Examples:
  runpod-ssh check                  # every RunPod entry, concurrently
  runpod-ssh check gpu --timeout 5
  runpod-ssh check --all --json

Stages, in order: resolve, tcp, banner, kex, hostkey, auth, exec, forward.
A changed host key stops the check before any key is offered.
Exit status: 0 all passed, 1 a host failed, 2 bad input.")]
    Check(CheckArgs),
    /// Find and repair what breaks VS Code Remote-SSH hosts: trailing and
    /// glued comments, BOM/UTF-16, odd spaces, key paths and permissions,
    /// duplicates, a `Host *` above the entry, VS Code settings
    #[command(after_help = "\
Examples:
  runpod-ssh fix --dry-run          # findings and the diff, nothing written
  runpod-ssh fix                    # apply the safe repairs (backup kept)
  runpod-ssh fix --yes              # also the ones that change which values win
  runpod-ssh fix gpu --probe        # one host, and what only the network can tell
  runpod-ssh fix --rules            # the rule catalogue

Exit status: 0 nothing left to do; 1 something needs repair (with --dry-run)
or was left for you to decide; 2 bad input.")]
    Fix(FixArgs),
    /// List RunPod host entries (or every host with --all)
    #[command(after_help = "Examples:\n  runpod-ssh list\n  runpod-ssh list --all --json")]
    List(ListArgs),
    /// Remove a host entry, its pinned host key and its VS Code platform setting
    #[command(
        after_help = "Examples:\n  runpod-ssh remove runpod-203-0-113-7-40123\n  runpod-ssh remove gpu --dry-run"
    )]
    Remove(RemoveArgs),
    /// Put back an earlier version of the config from runpod-ssh's backups
    #[command(
        after_help = "Examples:\n  runpod-ssh restore --list\n  runpod-ssh restore            # the most recent backup\n  runpod-ssh restore 20261128-101500.123456789"
    )]
    Restore(RestoreArgs),
    /// Create or update an entry for every RunPod pod with SSH over exposed
    /// TCP (RunPod API), verifying each new host key against the pod's log
    #[command(after_help = "\
Examples:
  runpod-ssh sync --dry-run       # what would change, nothing written or contacted
  runpod-ssh sync                 # write entries, verify host keys on first contact
  runpod-ssh sync --prune         # also remove entries of pods that no longer exist

Needs an API key: RUNPOD_API_KEY, `runpod-ssh login`, or runpodctl's
~/.runpod/config.toml. Exit status: 0 done, 1 a host key was refused or a
first contact failed, 2 bad input, 3 API or file error.")]
    Sync(SyncArgs),
    /// Save a RunPod API key for sync, list --live, up, open, stop (read
    /// from standard input, stored 0600 in runpod-ssh's config folder)
    #[command(after_help = "Example:\n  runpod-ssh login              # paste the key, then Enter")]
    Login,
    /// Start a stopped pod, wait until SSH is up, update its entry, verify
    /// its host key and check it
    #[command(after_help = "Examples:\n  runpod-ssh up runpod-my-pod\n  runpod-ssh up 7h9k2m4n6p")]
    Up(UpArgs),
    /// `up`, then open the pod's folder in VS Code (or Cursor, Windsurf, …)
    #[command(
        after_help = "Examples:\n  runpod-ssh open runpod-my-pod\n  runpod-ssh open gpu --editor cursor --folder /workspace/project"
    )]
    Open(OpenArgs),
    /// Stop a pod (RunPod API): the volume is kept, and still billed
    #[command(after_help = "Example:\n  runpod-ssh stop runpod-my-pod")]
    Stop(StopArgs),
    /// Stop the pod later, from the pod itself: after a time, or once idle
    #[command(after_help = "\
Examples:
  runpod-ssh autostop gpu 3h          # stop in 3 hours
  runpod-ssh autostop gpu --idle 30m  # stop once no SSH session and GPU under 5% for 30 min
  runpod-ssh autostop gpu --status
  runpod-ssh autostop gpu --cancel

The schedule runs on the pod (detached, it survives your session) and uses
runpodctl there; a new schedule replaces the old one. It logs to
/workspace/runpod-ssh-autostop.log.")]
    Autostop(AutostopArgs),
    /// Show what ssh will use for a host, as `ssh -G` prints it, with where
    /// each value comes from
    #[command(
        after_help = "Example:\n  runpod-ssh show runpod-4090\n  runpod-ssh show runpod-4090 --json --config ./my_config"
    )]
    Show(ShowArgs),
    /// Create, inspect and rotate SSH keys (rotation adds the new key on
    /// every pod before the config switches to it)
    #[command(after_help = "\
Examples:
  runpod-ssh key new                         # ~/.ssh/id_ed25519, comment runpod-key
  runpod-ssh key list --json
  runpod-ssh key show gpu                    # the public key line to paste
  runpod-ssh key rotate --dry-run
  runpod-ssh key rotate gpu --new ~/.ssh/id_ed25519_2027 --remove-old")]
    Key(KeyArgs),
    /// Print the shell completion script (host aliases are completed from
    /// your config)
    #[command(after_help = "\
Install (the script asks runpod-ssh for your aliases as you type):
  bash:        runpod-ssh completions bash > ~/.local/share/bash-completion/completions/runpod-ssh
  zsh:         source <(runpod-ssh completions zsh)                # in ~/.zshrc, after compinit
  fish:        runpod-ssh completions fish > ~/.config/fish/completions/runpod-ssh.fish
  PowerShell:  runpod-ssh completions powershell | Out-String | Invoke-Expression   # in $PROFILE
  elvish:      eval (runpod-ssh completions elvish | slurp)        # in rc.elv")]
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout: runpod-ssh man > runpod-ssh.1
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Shells `completions` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// The `key` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key pair (private key 0600, never overwriting a file) and
    /// print the public key to paste into RunPod
    New(KeyNewArgs),
    /// Every key in ~/.ssh and every IdentityFile the config names: type,
    /// bits, fingerprint, comment, problems, which hosts use it
    List,
    /// Print the public key line of a key file or of a host's key
    Show(KeyShowArgs),
    /// Put a new key on every RunPod host, prove it logs in, then switch
    /// the config to it (the old key stays as a fallback)
    #[command(after_help = "\
Per host: log in with the current key (host key checked as `check` does) →
add the new public key to the login user's ~/.ssh/authorized_keys → log in
afresh with only the new key → switch the entry's IdentityFile (the old key
stays second until RunPod's account holds the new one) → with --remove-old,
remove the old key's line and prove the old key is refused.
A killed run resumes where it stopped (journal: ~/.ssh/runpod-ssh-rotate.json).
Exit status: 0 all rotated, 1 a host failed (it keeps its old key), 2 bad input.")]
    Rotate(KeyRotateArgs),
    /// Register a public key on your RunPod account (RunPod API), keeping
    /// every key already there; pods get it when they start
    #[command(
        after_help = "Examples:\n  runpod-ssh key push                       # ~/.ssh/id_ed25519.pub\n  runpod-ssh key push ~/.ssh/id_ed25519_runpod-20261128.pub"
    )]
    Push(KeyPushArgs),
}

#[derive(Debug, Args)]
pub struct KeyPushArgs {
    /// The public key file (a private key's path means its .pub)
    /// [default: ~/.ssh/id_ed25519.pub]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeyNewArgs {
    /// Where to write the private key [default: ~/.ssh/id_ed25519]
    pub path: Option<PathBuf>,
    /// The key's comment
    #[arg(short = 'C', long, default_value = "runpod-key")]
    pub comment: String,
    /// The key type
    #[arg(short = 't', long = "type", value_enum, default_value = "ed25519")]
    pub kind: crate::keys::KeyType,
    /// Encrypt the key: the passphrase is read twice from the terminal, or
    /// from the first line of the file $RUNPOD_SSH_PASSPHRASE_FILE names
    #[arg(long)]
    pub passphrase: bool,
}

#[derive(Debug, Args)]
pub struct KeyShowArgs {
    /// A key file (private or .pub) or a host alias [default: ~/.ssh/id_ed25519]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeyRotateArgs {
    /// Hosts to rotate [default: every RunPod entry]
    pub aliases: Vec<String>,
    /// The new private key; created (ed25519) when missing
    /// [default: ~/.ssh/id_ed25519_runpod-YYYYMMDD]
    #[arg(long, value_name = "PATH")]
    pub new: Option<PathBuf>,
    /// Also remove the old key from each host and prove it is refused
    /// (with --account, from the RunPod account too)
    #[arg(long)]
    pub remove_old: bool,
    /// Also register the new key on the RunPod account (RunPod API), so
    /// restarted pods get it
    #[arg(long)]
    pub account: bool,
    /// Say what would happen; change nothing anywhere
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds each network step may take
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    /// How many hosts to rotate at once
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub jobs: usize,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The host alias, as you would type it after `ssh`
    pub alias: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The alias to use (letters, digits, '.', '_', '-')
    #[arg(long, short = 'n', value_name = "ALIAS")]
    pub name: Option<String>,
    /// The private key to use instead of the pasted -i (or the default key)
    #[arg(long, value_name = "PATH")]
    pub identity: Option<String>,
    /// Show what would change (a unified diff) and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write even a read-only, foreign-owned or hard-linked file (the
    /// refusal names which)
    #[arg(long)]
    pub force: bool,
    /// Do not touch VS Code settings
    #[arg(long)]
    pub no_vscode: bool,
    /// Inside WSL: also write the entry to the Windows user's config (the
    /// one VS Code on Windows reads) and copy its key there
    #[arg(long)]
    pub windows: bool,
    /// Take the endpoint from the RunPod API for this pod (id or name)
    /// instead of a pasted command
    #[arg(long, value_name = "ID|NAME")]
    pub pod: Option<String>,
    /// Forget the pinned host key of the entry even when its IP and port
    /// did not change (a restarted pod on the same endpoint has a new key).
    /// With --name and no command, only the pin is reset
    #[arg(long)]
    pub reset_host_key: bool,
    /// The pasted command: quoted as one argument, or as its words
    #[arg(required_unless_present_any = ["reset_host_key", "pod"], num_args = 1.., allow_hyphen_values = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List every host, not only RunPod entries
    #[arg(long)]
    pub all: bool,
    /// Ask the RunPod API: status, GPU, $/h, uptime, endpoint, and which
    /// entries are stale
    #[arg(long, alias = "pods")]
    pub live: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Show what would change (a unified diff); write and contact nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove entries sync created for pods that no longer exist
    #[arg(long)]
    pub prune: bool,
    /// Write even a read-only, foreign-owned or hard-linked file (the
    /// refusal names which)
    #[arg(long)]
    pub force: bool,
    /// Do not touch VS Code settings
    #[arg(long)]
    pub no_vscode: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The entry's alias, or the pod's id or name
    pub target: String,
    /// Seconds to wait for the pod to be running with SSH
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub wait: u64,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The entry's alias, or the pod's id or name
    pub target: String,
    /// Which editor's command-line launcher to use
    #[arg(long, default_value = "code", value_parser = ["code", "code-insiders", "cursor", "codium", "windsurf"])]
    pub editor: String,
    /// The folder on the pod to open
    #[arg(long, default_value = "/workspace", value_name = "PATH")]
    pub folder: String,
    /// Seconds to wait for the pod to be running with SSH
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub wait: u64,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The entry's alias, or the pod's id or name
    pub target: String,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["delay", "idle", "cancel", "status"])))]
pub struct AutostopArgs {
    /// The entry's alias
    // Explicit indices: the completion walker re-inserts `alias`, which
    // would otherwise move it behind the optional IN.
    #[arg(index = 1)]
    pub alias: String,
    /// Stop after this long (e.g. 3h, 90m, 45s)
    #[arg(index = 2, value_name = "IN")]
    pub delay: Option<String>,
    /// Stop once no SSH session has been open and every GPU has stayed
    /// under 5% for this long
    #[arg(long, value_name = "DURATION")]
    pub idle: Option<String>,
    /// Cancel the schedule
    #[arg(long)]
    pub cancel: bool,
    /// Show what is scheduled and the time left
    #[arg(long)]
    pub status: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The alias to remove
    pub alias: String,
    /// Show what would change and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Override a refusal the message names: remove a block that is not a
    /// RunPod entry; when the Host line also names other hosts, drop just
    /// this alias from it; write a read-only, foreign-owned or hard-linked
    /// config
    #[arg(long)]
    pub force: bool,
    /// Do not touch VS Code settings
    #[arg(long)]
    pub no_vscode: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// List the backups instead of restoring
    #[arg(long)]
    pub list: bool,
    /// Write even a read-only, foreign-owned or hard-linked file (the
    /// refusal names which)
    #[arg(long)]
    pub force: bool,
    /// Which backup (its timestamp, as `--list` shows); default: the newest
    pub backup: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Hosts to check [default: every RunPod entry]
    pub aliases: Vec<String>,
    /// Check every host in the config, not only RunPod entries
    #[arg(long)]
    pub all: bool,
    /// Seconds each stage may take
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    /// Skip the GPU and disk facts (one command less per host)
    #[arg(long)]
    pub quick: bool,
    /// How many hosts to probe at once
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub jobs: usize,
    /// Record a new host key even into a known_hosts file runpod-ssh would
    /// otherwise refuse to write (read-only, foreign-owned or hard-linked);
    /// the refusal names it
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// Only the entries for these aliases (file-wide problems are still fixed)
    pub aliases: Vec<String>,
    /// Show findings and the diff; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also apply repairs that change which values win (duplicates, moved Includes)
    #[arg(long)]
    pub yes: bool,
    /// Also probe the RunPod hosts (stale endpoints, changed host keys, forwarding)
    #[arg(long)]
    pub probe: bool,
    /// Print the rule catalogue and exit
    #[arg(long)]
    pub rules: bool,
    /// Do not touch VS Code settings
    #[arg(long, conflicts_with = "vscode")]
    pub no_vscode: bool,
    /// Repair VS Code settings even when --config names a file VS Code
    /// does not read
    #[arg(long)]
    pub vscode: bool,
    /// Inside WSL: copy RunPod entries the Windows user's config lacks
    /// (VS Code on Windows reads that one) there, with their keys
    #[arg(long)]
    pub windows: bool,
    /// Write even a read-only, foreign-owned or hard-linked file (the
    /// refusal names which)
    #[arg(long)]
    pub force: bool,
}
