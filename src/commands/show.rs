//! `runpod-ssh show ALIAS`: the evaluated options, as `ssh -G` prints them,
//! with where each value came from.

use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::cli::ShowArgs;
use crate::config::{self, Context};
use crate::config::{BlockKind, Document, pattern};
use crate::{fsio, output, refusal};

/// "no block names ALIAS" (with a suggestion) when no `Host` block but a
/// bare `Host *` matches it: ssh -G still prints its defaults, which look
/// like an answer.
fn unnamed_note(path: &std::path::Path, alias: &str, ctx: &Context) -> Option<String> {
    let doc = Document::parse(fsio::read_limited(path).ok()?.bytes.as_slice());
    let files = crate::config::files::load_tree(path, &doc, &ctx.home);
    let named = files.iter().any(|f| {
        f.doc.blocks().iter().any(|b| {
            b.kind == BlockKind::Host
                && b.patterns.iter().any(|p| p != "*")
                && pattern::host_line_matches(alias, b.patterns.iter().map(String::as_str))
        })
    });
    (!named).then(|| {
        format!(
            "no Host block in {} names {alias}; this is what ssh uses for an unknown host{}",
            path.display(),
            super::did_you_mean(alias, &files)
        )
    })
}

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
            // Config-derived text: control characters shown, not obeyed.
            text.push_str(&format!(
                "{} {}",
                p.keyword,
                output::escape(&p.value, false)
            ));
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
        output::err(&format!(
            "{} {}\n",
            st.red("error:"),
            output::escape(&d.to_string(), false)
        ));
    }
    if !resolved.ok() {
        let refused = refusal::Refusal::from_resolved(&resolved);
        if let Some(h) = refusal::hint(refusal::Client::local(), &refused, &args.alias, &ctx) {
            output::err(&format!(
                "{} {}\n",
                st.yellow("hint:"),
                env.carry_options(&h)
            ));
        }
    }
    // Only when nothing set a HostName is it worth reading the tree again.
    if resolved.ok()
        && resolved.hostname().1.is_none()
        && !env.global.quiet
        && let Some(note) = unnamed_note(&path, &args.alias, &ctx)
    {
        output::err(&format!(
            "{} {}\n",
            st.yellow("note:"),
            output::escape(&note, false)
        ));
    }
    if !env.global.quiet {
        for d in resolved.warnings.iter().chain(&resolved.not_evaluated) {
            output::err(&format!(
                "{} {}\n",
                st.yellow("warning:"),
                output::escape(&d.to_string(), false)
            ));
        }
    }
    Ok(if resolved.ok() {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}
