//! Evaluate a config for one host the way `ssh -G` does (OpenSSH 9.2
//! semantics, `readconf.c`): first value wins, accumulating keywords,
//! `Host` and `Match`, `Include`, the final pass, and where every value
//! came from.
//!
//! Nothing here runs a command: `Match exec` and `Match localnetwork` are
//! reported in [`Resolved::not_evaluated`] and treated as not matching.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::document::{Document, Encoding, decode};

mod eval;
mod lines;
mod matching;
mod plan;
mod print;
mod values;

use eval::Evaluator;
pub use matching::include_path;
pub use plan::Resolver;
pub use print::RowValues;
pub use values::{
    convtime, expand_hostname, lower_unless_address, other_value_error, parse_port, validate,
};

/// OpenSSH's `READCONF_MAX_DEPTH`.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Source {
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // A whole-file message ("terminating, N bad options").
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// A problem OpenSSH reports while reading the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub source: Source,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// Who is asking, and where their files are.
#[derive(Debug, Clone)]
pub struct Context {
    /// The local login name (`%u`, `Match localuser`, the default `User`).
    pub local_user: String,
    /// `$HOME`: what `Include ~/…` and relative Includes (`~/.ssh/…`) use.
    pub home: PathBuf,
    /// The account's home from the password database: what `~` in
    /// `UserKnownHostsFile`, `ControlPath` and `IdentityAgent` means.
    pub user_home: PathBuf,
    /// The local uid (`%i`).
    pub uid: u32,
    /// Check included files' owner and mode as OpenSSH does.
    pub check_include_permissions: bool,
    /// The system-wide config ssh reads after the user's when no `-F` is
    /// given (`/etc/ssh/ssh_config`); `None` for `--config FILE`, as with
    /// `ssh -F FILE`.
    pub system_config: Option<PathBuf>,
}

impl Context {
    /// The current user's context.
    pub fn current() -> Context {
        // `Include ~/…` goes through glob(3) GLOB_TILDE, which reads $HOME;
        // every other `~` is the password database's (see platform::home_dir).
        // OpenSSH for Windows has one `~`, %USERPROFILE%, for both.
        let home = if cfg!(windows) {
            crate::platform::home_dir()
        } else {
            dirs::home_dir()
        }
        .unwrap_or_else(|| PathBuf::from("."));
        let account = crate::platform::account();
        Context {
            local_user: account.name,
            user_home: crate::platform::home_dir().unwrap_or_else(|| home.clone()),
            home,
            uid: account.uid,
            check_include_permissions: cfg!(unix),
            system_config: None,
        }
    }
}

impl Context {
    /// Where a path from the config is on disk: `~/rest` under the
    /// account's home, exactly as ssh's tilde_expand does for
    /// `IdentityFile`, `UserKnownHostsFile` and the like (never `$HOME`:
    /// one home for every command); other paths as written.
    pub fn home_path(&self, p: &str) -> PathBuf {
        match p.strip_prefix("~/") {
            Some(rest) => crate::platform::join_written(&self.user_home, rest),
            None if p == "~" => self.user_home.clone(),
            None => PathBuf::from(p),
        }
    }
}

/// One evaluated value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// Canonical lowercase keyword (what `ssh -G` prints).
    pub keyword: &'static str,
    /// The arguments as read (quotes removed), before any printing form.
    pub args: Vec<String>,
    pub source: Source,
}

/// The result of evaluating a config for one host.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    /// The host as typed.
    pub host: String,
    settings: Vec<Setting>,
    /// Problems that make OpenSSH refuse the config (`ssh` exits 255).
    pub errors: Vec<Diagnostic>,
    /// Problems OpenSSH only logs.
    pub warnings: Vec<Diagnostic>,
    /// `Match` criteria that were not evaluated (`exec`, `localnetwork`):
    /// taken as not matching.
    pub not_evaluated: Vec<Diagnostic>,
    /// The first `Match … exec` line in the files read (the same broad
    /// test as [`crate::oracle::runs_commands`]): what ssh would decide
    /// there is unknown to us, since we never run it.
    #[serde(skip)]
    pub runs_commands: Option<Source>,
    /// Shared, not cloned, across the hosts a [`Resolver`] evaluates.
    #[serde(skip)]
    ctx: std::sync::Arc<Context>,
}

/// Why a path from the config could not be expanded as ssh would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// ssh itself stops with this error (exit 255) before connecting.
    #[error("{0}")]
    Ssh(String),
    /// ssh's result depends on something runpod-ssh cannot reproduce
    /// exactly: never guess a file that decides host-key trust.
    #[error("{0}")]
    Unknown(String),
}

/// A file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("can't open config file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Evaluate `doc` (read from `path`) for `host`, as the ssh this machine
/// runs reads it ([`Client::local`](crate::refusal::Client::local)).
pub fn resolve(doc: &Document, path: &Path, host: &str, ctx: &Context) -> Resolved {
    resolve_as(crate::refusal::Client::local(), doc, path, host, ctx)
}

/// [`resolve`] as `client` reads the file: which keywords it knows (Apple's
/// `UseKeychain`) and which algorithm names.
pub fn resolve_as(
    client: crate::refusal::Client,
    doc: &Document,
    path: &Path,
    host: &str,
    ctx: &Context,
) -> Resolved {
    resolve_input(client, Input::Doc(doc), path, host, ctx)
}

/// What a pass reads: a parsed document, or a file's text lexed line by
/// line as it is read (nothing kept: what `show` and Includes need).
#[derive(Clone, Copy)]
enum Input<'a> {
    Doc(&'a Document),
    /// The encoding the file had and its text as UTF-8 ([`decode`]).
    Text(Encoding, &'a [u8]),
}

impl Input<'_> {
    fn encoding(&self) -> Encoding {
        match self {
            Input::Doc(d) => d.encoding(),
            Input::Text(e, _) => *e,
        }
    }
}

fn resolve_input(
    client: crate::refusal::Client,
    input: Input,
    path: &Path,
    host: &str,
    ctx: &Context,
) -> Resolved {
    let mut ev = Evaluator::new(host, ctx);
    ev.client = client;
    // ssh without -F reads the system config after the user's (first
    // value wins); a missing one is empty. Relative Includes in it are
    // under /etc/ssh, as readconf.c does for a non-user config.
    let system: Option<(PathBuf, Vec<u8>)> =
        ctx.system_config
            .as_ref()
            .and_then(|p| match crate::fsio::read_limited(p) {
                Ok(c) => Some((p.clone(), c.bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    ev.error(
                        p,
                        0,
                        format!("Can't open system config file {}: {e}", p.display()),
                    );
                    None
                }
            });
    let system = system.as_ref().map(|(p, b)| (p, decode(b)));
    let run = |ev: &mut Evaluator, quiet: bool| {
        ev.run_pass(input, path, quiet);
        if let Some((p, (encoding, text))) = &system {
            ev.system = true;
            ev.run_pass(Input::Text(*encoding, text), p, quiet);
            ev.system = false;
        }
    };
    run(&mut ev, false);
    let canon = matches!(
        ev.first("canonicalizehostname").map(|s| s.args[0].to_ascii_lowercase()),
        Some(ref v) if v == "yes" || v == "true" || v == "always"
    );
    if ev.errors.is_empty() && (ev.want_final || canon) {
        // The final pass matches `Host` against the expanded hostname.
        ev.host = ev.final_hostname();
        ev.final_pass = true;
        run(&mut ev, true);
    }
    ev.finish(host)
}

/// Read `path` and evaluate it for `host`. A missing file is an empty config.
pub fn resolve_file(path: &Path, host: &str, ctx: &Context) -> Result<Resolved, ResolveError> {
    let bytes = match crate::fsio::read_limited(path) {
        Ok(c) => c.bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(ResolveError::Open {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // Lexed line by line as evaluated: no document is built.
    let (encoding, text) = decode(&bytes);
    let input = Input::Text(encoding, &text);
    Ok(resolve_input(
        crate::refusal::Client::local(),
        input,
        path,
        host,
        ctx,
    ))
}

/// Default identity files of OpenSSH 9.2–10.0 when none is configured.
pub const DEFAULT_IDENTITY_FILES: &[&str] = &[
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
];

/// One printed line of the `ssh -G`-style dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Printed {
    pub keyword: String,
    pub value: String,
    /// `None` for defaults.
    pub source: Option<Source>,
}

#[cfg(test)]
mod row_tests;
