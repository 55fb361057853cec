//! `runpod-ssh completions SHELL` and `runpod-ssh man`: what a shell or
//! `man` needs, printed to stdout.

use super::{Env, Failure, OrFail, Outcome};
use crate::cli::CompletionsArgs;
use crate::output;

pub fn run(_env: &Env, a: &CompletionsArgs) -> anyhow::Result<Outcome> {
    // The script calls the binary back as it was called now: a bare
    // `runpod-ssh` stays a PATH lookup, a path becomes absolute.
    let me = std::env::args_os()
        .next()
        .unwrap_or_else(|| "runpod-ssh".into());
    let script = crate::completion::registration(a.shell, &me).or_fail(Failure::Io)?;
    output::out(&String::from_utf8_lossy(&script))?;
    Ok(Outcome::Ok)
}

/// The man page, from the same definition the binary parses with.
pub fn man(_env: &Env) -> anyhow::Result<Outcome> {
    let mut page = Vec::new();
    clap_mangen::Man::new(crate::completion::command())
        .render(&mut page)
        .or_fail(Failure::Io)?;
    output::out(&String::from_utf8_lossy(&page))?;
    Ok(Outcome::Ok)
}
