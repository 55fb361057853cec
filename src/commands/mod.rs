//! One module per subcommand: each reads the flags, drives the library
//! modules and renders text or JSON. Errors leave as `anyhow` with a
//! [`Failure`] kind attached, which `main` maps to an exit code.

pub mod add;
pub mod check;
pub mod edit;
pub mod fix;
pub mod list;
pub mod remove;
pub mod restore;
pub mod show;

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
            Some(p) => format!("ssh -F {} {alias}", shell_quote(&p.display().to_string())),
            None => format!("ssh {alias}"),
        }
    }

    /// Make every `runpod-ssh …` command quoted in a hint (from the library,
    /// which does not know the command line) carry the given options.
    pub fn carry_options(&self, hint: &str) -> String {
        // A hint that names a file already (`fix --config F`) is left as is.
        if self.global.config.is_none() || hint.contains("--config") {
            return hint.to_string();
        }
        hint.replace("`runpod-ssh ", &format!("`{}", self.command("")))
    }
}

/// A word as a POSIX shell reads it back (quoted only when needed).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-~+:@%,=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The candidate closest to `word` (a typo: at most one edit in four
/// letters, two at most), for "did you mean …?". Edits count insertions,
/// deletions, substitutions and swaps of neighbours (`runpdo`).
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 4).clamp(1, 2);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Optimal string alignment distance (Damerau–Levenshtein without
/// repeated edits of one substring).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=b.len() {
        d[0][j] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The host names a config tree defines (no wildcards, no negations), for
/// typo suggestions.
pub fn defined_aliases(files: &[crate::config::files::ConfigFile]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in files {
        for b in f.doc.blocks() {
            if b.kind != crate::config::BlockKind::Host {
                continue;
            }
            for p in &b.patterns {
                if !p.contains(['*', '?', '!']) && !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
    }
    out
}

/// " (did you mean X?)" for an alias no block names, or "".
pub fn did_you_mean(word: &str, files: &[crate::config::files::ConfigFile]) -> String {
    let names = defined_aliases(files);
    suggest(word, names.iter().map(String::as_str))
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggest_finds_swapped_and_doubled_letters_only_when_close() {
        let names = ["runpod-4090", "gpu", "github.com"];
        assert_eq!(suggest("runpdo-4090", names).as_deref(), Some("runpod-4090"));
        assert_eq!(suggest("gpuu", names).as_deref(), Some("gpu"));
        assert_eq!(suggest("--nmae", ["--name", "--identity"]).as_deref(), Some("--name"));
        assert_eq!(suggest("prod", names), None);
        assert_eq!(suggest("gpu", names), None);
    }
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let style = Style::new(cli.global.quiet, cli.global.verbose);
    let (name, force) = match &cli.command {
        Command::Add(a) => ("add", a.force),
        Command::Check(_) => ("check", false),
        Command::Fix(a) => ("fix", a.force),
        Command::List(_) => ("list", false),
        Command::Remove(a) => ("remove", a.force),
        Command::Restore(a) => ("restore", a.force),
        Command::Show(_) => ("show", false),
    };
    // One backup set per run, named after the command; one meaning of --force.
    crate::fsio::begin_run(name, force);
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
