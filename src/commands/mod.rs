//! One module per subcommand: each reads the flags, drives the library
//! modules and renders text or JSON. Errors leave as `anyhow` with a
//! [`Failure`] kind attached, which `main` maps to an exit code.

pub mod add;
pub mod autostop;
pub mod check;
pub mod completions;
pub mod edit;
pub mod fix;
pub mod hints;
pub mod key;
pub mod list;
pub mod live;
pub mod login;
pub mod remove;
pub mod restore;
pub mod show;
pub mod sync;
pub mod wsl;

pub use hints::{defined_aliases, did_you_mean, shell_quote, suggest};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::output::Style;
use std::path::PathBuf;

/// Why a command failed, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Bad input or a refused edit: exit 2.
    BadInput,
    /// A file could not be read or written: exit 3.
    Io,
}

/// An error tagged with its [`Failure`] kind. It displays as the error it
/// wraps, so the user sees one clear sentence.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(error))]
pub struct Tagged {
    pub kind: Failure,
    pub error: anyhow::Error,
}

/// Tag an error (or a message) with its kind.
pub fn fail(kind: Failure, error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Tagged {
        kind,
        error: error.into(),
    })
}

/// An error and its causes as one line, each cause once: a message that
/// already quotes its cause (`cannot read X: Permission denied (os error
/// 13)`) does not get it appended a second time.
pub fn render(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// Shorthand for a bad-input error with a message.
pub fn bad_input(msg: impl std::fmt::Display) -> anyhow::Error {
    fail(Failure::BadInput, anyhow::anyhow!("{msg}"))
}

/// The arguments every command that connects takes alike (`check`, `key
/// rotate`), refused before anything is read.
pub fn check_connect_args(timeout: f64, jobs: usize, aliases: &[String]) -> anyhow::Result<()> {
    if !(timeout > 0.0 && timeout <= 3600.0) {
        return Err(bad_input(format!(
            "--timeout must be more than 0 and at most 3600 seconds (got {timeout})"
        )));
    }
    if jobs == 0 {
        return Err(bad_input("--jobs must be at least 1"));
    }
    for alias in aliases {
        if alias.is_empty() || alias.contains(char::is_whitespace) {
            return Err(bad_input(format!(
                "host alias {alias:?} is not valid: it must be one word"
            )));
        }
    }
    Ok(())
}

/// Tag the error of a `Result`.
pub trait OrFail<T> {
    fn or_fail(self, kind: Failure) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> OrFail<T> for Result<T, E> {
    fn or_fail(self, kind: Failure) -> anyhow::Result<T> {
        self.map_err(|e| fail(kind, e))
    }
}

/// A command's verdict: 0 fine, 1 it found problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Problems,
}

/// Shared state for commands.
pub struct Env {
    pub global: GlobalArgs,
    pub style: Style,
}

impl Env {
    /// The config file to use: `--config`, else `~/.ssh/config`.
    pub fn config_path(&self) -> anyhow::Result<PathBuf> {
        match &self.global.config {
            Some(p) => Ok(p.clone()),
            None => crate::platform::home_dir()
                .map(|h| h.join(".ssh").join("config"))
                .ok_or_else(|| bad_input("cannot find your home folder; pass --config PATH")),
        }
    }

    /// A runpod-ssh command line to print in a hint, carrying the options
    /// that were given (`runpod-ssh --config F restore`), so it works when
    /// run as printed.
    pub fn command(&self, rest: &str) -> String {
        match &self.global.config {
            Some(p) => format!(
                "runpod-ssh --config {} {rest}",
                shell_quote(&p.display().to_string())
            ),
            None => format!("runpod-ssh {rest}"),
        }
    }

    /// The ssh command line that connects to `alias` with this config.
    pub fn ssh(&self, alias: &str) -> String {
        match &self.global.config {
            Some(p) => format!(
                "ssh -F {} {}",
                shell_quote(&p.display().to_string()),
                shell_quote(alias)
            ),
            None => format!("ssh {}", shell_quote(alias)),
        }
    }

    /// Make every `runpod-ssh …` and `ssh …` command quoted in a hint (from
    /// the library, which does not know the command line) carry the given
    /// options: `ssh ALIAS` alone would read another file's entry.
    pub fn carry_options(&self, hint: &str) -> String {
        let Some(p) = &self.global.config else {
            return hint.to_string();
        };
        let mut hint = hint.to_string();
        // A hint that names a file already (`fix --config F`) is left as is.
        if !hint.contains("--config") {
            hint = hint.replace("`runpod-ssh ", &format!("`{}", self.command("")));
        }
        if !hint.contains("`ssh -F") {
            let f = shell_quote(&p.display().to_string());
            hint = hint.replace("`ssh ", &format!("`ssh -F {f} "));
        }
        hint
    }
}

impl Env {
    /// Who is asking: the user's context, with the system config
    /// (`/etc/ssh/ssh_config`) read after the user's when no `--config` is
    /// given, as `ssh` without `-F` does.
    pub fn context(&self) -> crate::config::Context {
        let mut ctx = crate::config::Context::current();
        if self.global.config.is_none() {
            ctx.system_config = crate::platform::system_config();
        }
        ctx
    }
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let style = Style::new(cli.global.quiet, cli.global.verbose);
    let (name, force) = match &cli.command {
        Command::Add(a) => ("add", a.force),
        Command::Check(a) => ("check", a.force),
        Command::Fix(a) => ("fix", a.force),
        Command::List(_) => ("list", false),
        Command::Remove(a) => ("remove", a.force),
        Command::Restore(a) => ("restore", a.force),
        Command::Show(_) => ("show", false),
        Command::Sync(a) => ("sync", a.force),
        Command::Login => ("login", false),
        Command::Up(_) => ("up", false),
        Command::Open(_) => ("open", false),
        Command::Stop(_) => ("stop", false),
        Command::Autostop(_) => ("autostop", false),
        Command::Key(_) => ("key", false),
        Command::Completions(_) => ("completions", false),
        Command::Man => ("man", false),
    };
    // One backup set per run, named after the command; one meaning of --force.
    crate::fsio::begin_run(name, force);
    crate::fsio::set_dry_run(match &cli.command {
        Command::Add(a) => a.dry_run,
        Command::Fix(a) => a.dry_run,
        Command::Remove(a) => a.dry_run,
        _ => false,
    });
    let env = Env {
        global: cli.global,
        style,
    };
    match cli.command {
        Command::Add(a) => add::run(&env, &a),
        Command::Check(a) => check::run(&env, &a),
        Command::Fix(a) => fix::run(&env, &a),
        Command::List(a) => list::run(&env, &a),
        Command::Remove(a) => remove::run(&env, &a),
        Command::Restore(a) => restore::run(&env, &a),
        Command::Show(a) => show::run(&env, &a),
        Command::Sync(a) => sync::run(&env, &a),
        Command::Login => login::run(&env),
        Command::Up(a) => live::up(&env, &a),
        Command::Open(a) => live::open(&env, &a),
        Command::Stop(a) => live::stop(&env, &a),
        Command::Autostop(a) => autostop::run(&env, &a),
        Command::Key(a) => key::run(&env, &a),
        Command::Completions(a) => completions::run(&env, &a),
        Command::Man => completions::man(&env),
    }
}

/// The exit code for an error chain.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(t) = cause.downcast_ref::<Tagged>() {
            return match t.kind {
                Failure::BadInput => 2,
                Failure::Io => 3,
            };
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return 3;
        }
    }
    2
}
