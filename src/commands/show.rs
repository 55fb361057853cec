//! `runpod-ssh show ALIAS`: the evaluated options, as `ssh -G` prints them,
//! with where each value came from.

use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::cli::ShowArgs;
use crate::config;
use crate::output;

pub fn run(env: &Env, args: &ShowArgs) -> anyhow::Result<Outcome> {
    if args.alias.is_empty() || args.alias.contains(char::is_whitespace) {
        return Err(bad_input(format!(
            "host alias {:?} is not valid: it must be one word",
            args.alias
        )));
    }
    let path = env.config_path()?;
    if env.global.config.is_some() && !path.exists() {
        return Err(bad_input(format!("no config file at {}", path.display())));
    }
    let ctx = env.context();
    let resolved = config::resolve_file(&path, &args.alias, &ctx).or_fail(Failure::Io)?;
    let printed = resolved.print();

    if env.global.json {
        let v = serde_json::json!({
            "host": args.alias,
            "config": path,
            "ok": resolved.ok(),
            "options": printed,
            "errors": resolved.errors,
            "warnings": resolved.warnings,
            "not_evaluated": resolved.not_evaluated,
        });
        output::out(&output::json(&v)?)?;
    } else if resolved.ok() {
        let mut text = String::new();
        for p in &printed {
            text.push_str(&format!("{} {}", p.keyword, p.value));
            if env.global.verbose
                && let Some(s) = &p.source
            {
                text.push_str(&format!("  {}", env.style.dim(&format!("# {s}"))));
            }
            text.push('\n');
        }
        output::out(&text)?;
    }
    let st = &env.style;
    for d in &resolved.errors {
        output::err(&format!("{} {d}\n", st.red("error:")));
    }
    if !env.global.quiet {
        for d in resolved.warnings.iter().chain(&resolved.not_evaluated) {
            output::err(&format!("{} {d}\n", st.yellow("warning:")));
        }
    }
    Ok(if resolved.ok() {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}
