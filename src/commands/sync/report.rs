//! What sync prints: one line per pod (and its first contact), the diff of
//! a dry run, the backup of a write; or all of it as JSON.

use crate::commands::edit;
use crate::commands::{Env, Outcome};
use crate::output;

use super::Synced;

pub(super) fn report(env: &Env, s: &Synced, dry_run: bool) -> anyhow::Result<Outcome> {
    let bad = s.results.iter().any(|r| {
        r.first_contact
            .as_ref()
            .is_some_and(|c| c.result == "refused" || c.result == "failed")
    });
    if env.global.json {
        let v = serde_json::json!({
            "dry_run": dry_run,
            "config": s.config,
            "backup": s.backup,
            "diff": s.diff,
            "pods": s.results,
            "warnings": s.warnings,
        });
        output::out(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
    } else {
        output::out(&render(env, s, dry_run))?;
        for w in &s.warnings {
            output::err(&format!("{} {w}\n", env.style.yellow("warning:")));
        }
    }
    Ok(if bad { Outcome::Problems } else { Outcome::Ok })
}

pub fn render(env: &Env, s: &Synced, dry_run: bool) -> String {
    let st = &env.style;
    let mut text = String::new();
    if s.results.is_empty() {
        text.push_str("No pods on this account.\n");
    }
    for r in &s.results {
        let name = output::escape(&r.name, false);
        let alias = r.alias.as_deref().unwrap_or("-");
        let ep = r.endpoint.as_deref().unwrap_or("");
        let would = if dry_run { "would be " } else { "" };
        let line = match r.action {
            "created" | "updated" => format!(
                "{} {alias} {would}{} → {ep} (pod {} \"{name}\", {})",
                st.green("✓"),
                r.action,
                r.id,
                r.status
            ),
            "unchanged" => format!(
                "{} {alias} up to date → {ep} (pod {} \"{name}\", {})",
                st.green("✓"),
                r.id,
                r.status
            ),
            "pruned" => format!(
                "{} {alias} {would}removed (pod {} no longer exists)",
                st.yellow("-"),
                r.id
            ),
            "proxy-only" => format!("{} pod {} \"{name}\" has no entry", st.yellow("!"), r.id),
            _ if r.alias.is_none() => format!("• pod {} \"{name}\" is {}", r.id, r.status),
            _ => format!("• {alias} (pod {} \"{name}\") is {}", r.id, r.status),
        };
        text.push_str(&line);
        text.push('\n');
        if let Some(n) = &r.note {
            text.push_str(&format!("  {n}\n"));
        }
        if let Some(c) = &r.first_contact {
            let mark = match c.result {
                "pinned" if c.verified => st.green("✓"),
                "known" => st.green("✓"),
                "pinned" => st.yellow("!"),
                _ => st.red("✗"),
            };
            text.push_str(&format!("  {mark} {}\n", output::escape(&c.message, false)));
            if let Some(ch) = &c.check {
                text.push_str(&format!("  {} {ch}\n", st.green("✓")));
            }
            if c.result != "refused"
                && !c.ok
                && let Some(e) = &c.error
            {
                text.push_str(&format!("    check failed: {}\n", output::escape(e, false)));
                if let Some(h) = &c.hint {
                    text.push_str(&format!("    → {}\n", output::escape(h, false)));
                }
            }
        }
    }
    if dry_run {
        if s.diff.is_empty() {
            text.push_str(&format!("\n{} would not change.\n", edit::tilde(&s.config)));
        } else {
            text.push_str(&format!(
                "\nWould change {}:\n\n{}",
                edit::tilde(&s.config),
                s.diff
            ));
        }
    } else if let Some(b) = &s.backup {
        text.push_str(&format!(
            "\n{} written; previous version saved as {}\n",
            edit::tilde(&s.config),
            edit::tilde(b)
        ));
    }
    text
}
