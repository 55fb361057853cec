//! `runpod-ssh autostop`: placeholder replaced below.
use super::{Env, Outcome};
use crate::cli::AutostopArgs;
pub fn run(_env: &Env, _a: &AutostopArgs) -> anyhow::Result<Outcome> {
    Ok(Outcome::Ok)
}
