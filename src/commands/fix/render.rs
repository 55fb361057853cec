//! `fix`'s text report: one entry per rule with its lines, the dry run's
//! diff, and what is left for the user.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::super::Env;
use super::super::edit;
use crate::cli::FixArgs;
use crate::doctor::{Auto, Finding, Severity};
use crate::output::{escape, escape_into};

#[allow(clippy::too_many_arguments)]
pub(super) fn render(
    env: &Env,
    findings: &[Finding],
    diff: &str,
    a: &FixArgs,
    changed: bool,
    rolled_back: bool,
    backup: Option<&Path>,
    notes: &[String],
) -> String {
    let st = &env.style;
    let mut t = String::new();
    if findings.is_empty() {
        if !env.global.quiet {
            t.push_str(&format!("{} nothing to fix\n", st.green("✓")));
        }
        for n in notes {
            t.push_str(&format!("{} {n}\n", st.yellow("note:")));
        }
        return t;
    }
    // Short by default: one entry per rule, its lines listed; -v: each finding.
    let mut order: Vec<&str> = Vec::new();
    for f in findings {
        if !order.contains(&f.rule) {
            order.push(f.rule);
        }
    }
    // `~/…` of each file once: finding the home reads the password
    // database, and a large config has a finding per line.
    let mut shown: HashMap<PathBuf, String> = HashMap::new();
    for rule in order {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.rule == rule).collect();
        let same_message = group.iter().all(|f| f.message == group[0].message);
        let size = if same_message && !env.global.verbose {
            group.len()
        } else {
            1
        };
        for chunk in group.chunks(size.max(1)) {
            render_chunk(&mut t, env, a, chunk, &mut shown);
        }
    }
    if a.dry_run && !diff.is_empty() {
        t.push('\n');
        escape_into(&mut t, diff, true);
    }
    if !a.dry_run && changed && !rolled_back {
        t.push_str(&format!(
            "\nRepaired {} (previous version: {}; undo with `{}`).\n",
            edit::tilde(&findings[0].file),
            backup.map(edit::tilde).unwrap_or_default(),
            env.command("restore")
        ));
    }
    for n in notes {
        t.push_str(&format!("{} {}\n", st.yellow("note:"), escape(n, true)));
    }
    let left = findings.iter().filter(|f| !f.applied).count();
    if left > 0 && !a.dry_run {
        t.push_str(&format!(
            "\n{left} finding(s) left for you (see → above).\n"
        ));
    }
    t
}

/// One entry of [`render`]: findings of one rule with one message, their
/// lines listed. Written straight into `t` (a large config has a finding
/// per line: no strings of their own).
fn render_chunk(
    t: &mut String,
    env: &Env,
    a: &FixArgs,
    chunk: &[&Finding],
    shown: &mut HashMap<PathBuf, String>,
) {
    let st = &env.style;
    let f = chunk[0];
    let mark = if f.applied && !a.dry_run {
        st.green("fixed")
    } else if f.applied {
        st.yellow("would fix")
    } else if f.auto == Auto::WithYes {
        st.yellow("needs --yes")
    } else {
        st.red("for you")
    };
    let name = match f.severity {
        Severity::Error => st.red(f.rule),
        Severity::Warning => st.yellow(f.rule),
    };
    // Findings quote the config, which may hold terminal sequences.
    t.push_str(&name);
    t.push(' ');
    for (i, f) in chunk.iter().enumerate() {
        if i > 0 {
            t.push_str(", ");
        }
        if i == 0 || f.line.is_none() {
            if !shown.contains_key(&f.file) {
                shown.insert(f.file.clone(), edit::tilde(&f.file));
            }
            escape_into(t, &shown[&f.file], false);
        }
        if let Some(l) = f.line {
            let _ = write!(t, ":{l}");
        }
    }
    let _ = write!(t, " [{mark}]\n  ");
    escape_into(t, &f.message, true);
    t.push('\n');
    if env.global.verbose || !f.applied {
        t.push_str("  → ");
        escape_into(t, &f.repair, true);
        t.push('\n');
    }
}
