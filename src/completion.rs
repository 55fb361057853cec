//! Shell completion through clap_complete's dynamic engine.
//!
//! The script `runpod-ssh completions SHELL` prints only registers a
//! function; at every TAB the shell runs `runpod-ssh` again with
//! [`ENV_VAR`] set and the words typed so far, and the engine answers from
//! the same clap definition the binary parses with. So flags are never out
//! of date, and host aliases come from the user's config as it is now, in
//! every shell clap_complete knows (bash, zsh, fish, PowerShell, elvish).
//!
//! Completing reads the config (and its `Include`s) with the same bounded,
//! non-blocking reads as every command, runs nothing the config names and
//! never asks `ssh -G`; any problem yields no candidates rather than noise.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{CompleteEnv, EnvCompleter};

use crate::cli::{Cli, Shell};

/// The variable that switches the binary into completion mode (clap's
/// default `COMPLETE` is generic enough that a user may have it set).
pub const ENV_VAR: &str = "RUNPOD_SSH_COMPLETE";

/// Positional arguments with these ids take a host alias, in any
/// subcommand (check, show, remove, fix, key rotate, autostop; `target`
/// of open, up and stop is an alias or a pod's id or name).
const ALIAS_ARGS: &[&str] = &["alias", "aliases", "target"];

/// The CLI definition with alias completers attached.
pub fn command() -> clap::Command {
    attach(Cli::command())
}

fn attach(cmd: clap::Command) -> clap::Command {
    let ids: Vec<String> = cmd
        .get_positionals()
        .filter(|a| ALIAS_ARGS.contains(&a.get_id().as_str()))
        .map(|a| a.get_id().to_string())
        .collect();
    let mut cmd = cmd;
    for id in ids {
        cmd = cmd.mut_arg(id, |a| a.add(ArgValueCandidates::new(alias_candidates)));
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in subs {
        cmd = cmd.mut_subcommand(name, attach);
    }
    cmd
}

/// Answer a completion request when [`ENV_VAR`] is set, then exit; return
/// at once otherwise. Call first thing in `main`, before anything prints.
pub fn complete_if_asked() {
    CompleteEnv::with_factory(command).var(ENV_VAR).complete();
}

/// The registration script for `shell`. `completer` is how the script
/// calls the binary back: a bare name is looked up on PATH at each TAB
/// (survives upgrades), a path is made absolute.
pub fn registration(shell: Shell, completer: &OsString) -> std::io::Result<Vec<u8>> {
    let sh = env_completer(shell);
    let mut path = PathBuf::from(completer);
    if path.components().count() > 1
        && path.is_relative()
        && let Ok(cwd) = std::env::current_dir()
    {
        path = cwd.join(path);
    }
    let path = path.to_string_lossy();
    // clap_complete fills its bash, zsh and elvish templates' words (VAR,
    // BIN…) after putting the path in, and bash's double-quotes an already
    // single-quoted path: those get a placeholder that means nothing to
    // either, replaced here by the path quoted for the spot it lands in.
    let quoted = match shell {
        // Inside the template's "…".
        Shell::Bash => Some(path.chars().fold(String::new(), |mut q, c| {
            if matches!(c, '\\' | '"' | '$' | '`') {
                q.push('\\');
            }
            q.push(c);
            q
        })),
        Shell::Zsh => Some(format!("'{}'", path.replace('\'', r"'\''"))),
        Shell::Elvish => Some(format!("'{}'", path.replace('\'', "''"))),
        Shell::Fish | Shell::Powershell => None,
    };
    let mut buf = Vec::new();
    let placeholder = "/runpod-ssh-completer-path";
    let completer = if quoted.is_some() { placeholder } else { &path };
    sh.write_registration(ENV_VAR, "runpod-ssh", "runpod-ssh", completer, &mut buf)?;
    if let Some(q) = quoted {
        let text = String::from_utf8_lossy(&buf).replace(placeholder, &q);
        buf = text.into_bytes();
    }
    Ok(buf)
}

fn env_completer(shell: Shell) -> &'static dyn EnvCompleter {
    use clap_complete::env::{Bash, Elvish, Fish, Powershell, Zsh};
    match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Powershell => &Powershell,
        Shell::Elvish => &Elvish,
    }
}

/// The config the command line being completed names with `--config`
/// (the words follow `--` in our own arguments), else `~/.ssh/config`.
fn config_being_completed(args: &[OsString]) -> Option<PathBuf> {
    let words = match args.iter().position(|a| a == "--") {
        Some(i) => &args[i + 1..],
        None => &[][..],
    };
    let mut found = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i].to_string_lossy();
        if w == "--config" {
            if let Some(v) = words.get(i + 1) {
                found = Some(PathBuf::from(v));
            }
            i += 1;
        } else if let Some(v) = w.strip_prefix("--config=") {
            found = Some(PathBuf::from(v));
        }
        i += 1;
    }
    found.or_else(|| crate::platform::home_dir().map(|h| h.join(".ssh").join("config")))
}

/// Every concrete alias in the config tree, RunPod entries first (with
/// their endpoint as the description shells like zsh and fish show).
fn alias_candidates() -> Vec<CompletionCandidate> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(path) = config_being_completed(&args) else {
        return Vec::new();
    };
    aliases_in(&path)
}

/// The candidates for one config file (and what it includes).
pub fn aliases_in(path: &std::path::Path) -> Vec<CompletionCandidate> {
    use crate::config::{Context, Document, files::load_tree};
    let Ok(content) = crate::fsio::read_limited(path) else {
        return Vec::new();
    };
    let doc = Document::parse(&content.bytes);
    let ctx = Context::current();
    let files = load_tree(path, &doc, &ctx.home);
    let mut entries = crate::runpod::entries(&files, true);
    entries.sort_by_key(|e| !e.runpod);
    entries
        .into_iter()
        .filter(|e| offerable(&e.alias))
        .map(|e| {
            let c = CompletionCandidate::new(&e.alias);
            if e.runpod {
                c.help(Some("RunPod entry".into()))
            } else {
                c
            }
        })
        .collect()
}

/// Whether `alias` may be offered. Shells put a candidate on the command
/// line as it is: bash does not quote it, so an alias such as `$(cmd)` or
/// `a;cmd` from an included file would run at Enter, an escape sequence
/// reaches the terminal when candidates are listed, and clap's bash script
/// splits on \v and globs `[..]`. Only letters, digits and punctuation no
/// shell reads specially pass (a superset of what `add` writes); the rest
/// (ssh refuses most of it as a host name on its command line, and a
/// non-UTF-8 alias arrives here altered) is left to be typed.
fn offerable(alias: &str) -> bool {
    !alias.starts_with(['-', '@'])
        && !alias.is_empty()
        && alias
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '@' | '%' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn config_flag_of_the_line_being_completed_is_used() {
        let a = os(&["rs", "--", "runpod-ssh", "--config", "/x/c", "show", ""]);
        assert_eq!(config_being_completed(&a), Some(PathBuf::from("/x/c")));
        let a = os(&["rs", "--", "runpod-ssh", "show", "--config=/y", "g"]);
        assert_eq!(config_being_completed(&a), Some(PathBuf::from("/y")));
    }

    #[test]
    fn words_before_the_separator_are_not_the_command_line() {
        let a = os(&[
            "rs",
            "--config",
            "/not/this",
            "--",
            "runpod-ssh",
            "show",
            "",
        ]);
        assert_ne!(config_being_completed(&a), Some(PathBuf::from("/not/this")));
    }

    #[test]
    fn only_aliases_no_shell_reads_specially_are_offered() {
        for ok in ["runpod-4090", "gpu.box_2", "a+b@c%d:1", "\u{fc}ber"] {
            assert!(offerable(ok), "{ok}");
        }
        for bad in [
            "",
            "-oX=y",
            "@x",
            "$(id)",
            "`id`",
            "a;b",
            "a b",
            "a\x1bb",
            "a\rb",
            "a\u{b}b",
            "a[1]",
            "~x",
            "{a,b}",
            "a=b",
            "a\u{fffd}",
            "a\u{202e}b",
            "a/b",
            "a\\b",
        ] {
            assert!(!offerable(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_command_with_completers_attached_passes_claps_own_checks() {
        // Every subcommand, as completions and the man page build it.
        command().debug_assert();
    }

    #[test]
    fn alias_arguments_of_every_subcommand_get_the_completer() {
        let cmd = command();
        for (sub, id) in [
            ("show", "alias"),
            ("remove", "alias"),
            ("check", "aliases"),
            ("fix", "aliases"),
            ("open", "target"),
            ("up", "target"),
            ("stop", "target"),
            ("autostop", "alias"),
        ] {
            let s = cmd.find_subcommand(sub).expect(sub);
            let arg = s.get_arguments().find(|a| a.get_id() == id).expect(id);
            assert!(
                arg.get::<ArgValueCandidates>().is_some(),
                "{sub} {id} has no alias completer"
            );
        }
        let rotate = cmd
            .find_subcommand("key")
            .and_then(|k| k.find_subcommand("rotate"))
            .expect("key rotate");
        let arg = rotate.get_arguments().find(|a| a.get_id() == "aliases");
        assert!(arg.is_some_and(|a| a.get::<ArgValueCandidates>().is_some()));
    }
}
