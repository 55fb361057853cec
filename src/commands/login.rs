//! `runpod-ssh login`: keep an API key for the commands that use the
//! RunPod API. Read from standard input (never an argument, which would
//! land in shell history and `ps`), written 0600 in the config folder.

use std::io::IsTerminal;

use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::{api, output};

pub fn run(env: &Env) -> anyhow::Result<Outcome> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("RunPod API key (Settings → API Keys; not shown): ")
            .or_fail(Failure::Io)?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).or_fail(Failure::Io)?;
        line
    };
    let key = api::ApiKey::new(&text).map_err(bad_input)?;
    let path = api::save_key(&key).or_fail(Failure::Io)?;
    if !env.global.quiet {
        output::out(&format!(
            "API key saved in {} (readable by you only). RUNPOD_API_KEY, when set, takes precedence.\n",
            super::edit::tilde(&path)
        ))?;
    }
    Ok(Outcome::Ok)
}
