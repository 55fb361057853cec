//! `fix`'s text report: one entry per rule and message with its lines, the dry run's
//! diff, and what is left for the user.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::super::Env;
use super::super::edit;
use crate::cli::FixArgs;
use crate::doctor::{Auto, Finding, Severity};
use crate::hash::Fx;
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
    // Sized once: the dry run's diff of a large file is megabytes, and
    // growing by doubling copied it again and faulted in fresh pages.
    let mut t = String::with_capacity(diff.len() + 4096);
    if findings.is_empty() {
        if !env.global.quiet {
            t.push_str(&format!("{} nothing to fix\n", st.green("✓")));
        }
        for n in notes {
            t.push_str(&format!("{} {n}\n", st.yellow("note:")));
        }
        return t;
    }
    // `~/…` of each file once: finding the home reads the password
    // database, and a large config has a finding per line.
    let mut shown: HashMap<PathBuf, String> = HashMap::new();
    for entry in entries(findings, env.global.verbose) {
        render_chunk(&mut t, env, a, &entry, &mut shown);
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

/// The report's entries: short by default, one per rule and message (a
/// rule's findings with the same words, their lines listed), rules in the
/// order they first found something, a rule's messages in the order they
/// first appear; `verbose`: one per finding, in the same order.
fn entries(findings: &[Finding], verbose: bool) -> Vec<Vec<&Finding>> {
    let mut rules: Vec<&str> = Vec::new();
    // (rule, message) → its entry; a large config has a finding per line.
    // An entry prints one mark and one repair: findings whose mark,
    // repair or severity differ are never grouped (the same words can
    // name a removable block and one left for the user).
    type Key<'a> = (&'a str, &'a str, &'a str, bool, u8, u8);
    let mut at: HashMap<Key, usize, Fx> = HashMap::default();
    let mut groups: Vec<Vec<Vec<&Finding>>> = Vec::new();
    for f in findings {
        let r = match rules.iter().position(|&r| r == f.rule) {
            Some(r) => r,
            None => {
                rules.push(f.rule);
                groups.push(Vec::new());
                rules.len() - 1
            }
        };
        let rule = &mut groups[r];
        if verbose {
            rule.push(vec![f]);
            continue;
        }
        let next = rule.len();
        let key = (
            f.rule,
            f.message.as_str(),
            f.repair.as_str(),
            f.applied,
            f.auto as u8,
            f.severity as u8,
        );
        let e = *at.entry(key).or_insert(next);
        if e == next {
            rule.push(Vec::new());
        }
        rule[e].push(f);
    }
    groups.into_iter().flatten().collect()
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
        // A message can come from two files (ssh's words, an Include):
        // `:N` alone would name a line of the previous file.
        if i == 0 || f.line.is_none() || f.file != chunk[i - 1].file {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{Auto, Severity};

    fn finding(rule: &'static str, line: usize, message: &str) -> Finding {
        Finding {
            rule,
            file: PathBuf::from("/h/.ssh/config"),
            line: Some(line),
            severity: Severity::Error,
            message: message.into(),
            repair: "r".into(),
            auto: Auto::Manual,
            applied: false,
        }
    }

    fn shape(e: &[Vec<&Finding>]) -> Vec<Vec<usize>> {
        e.iter()
            .map(|g| g.iter().map(|f| f.line.unwrap_or(0)).collect())
            .collect()
    }

    #[test]
    fn entries_group_a_rules_findings_by_message_in_order_of_first_appearance() {
        let f = [
            finding("identity-missing", 1, "k1"),
            finding("trailing-comment", 2, "t"),
            finding("identity-missing", 3, "k2"),
            finding("identity-missing", 4, "k1"),
            finding("trailing-comment", 5, "t"),
            finding("identity-missing", 6, "k3"),
            finding("identity-missing", 7, "k2"),
        ];
        assert_eq!(
            shape(&entries(&f, false)),
            vec![vec![1, 4], vec![3, 7], vec![6], vec![2, 5]]
        );
        // Verbose: one entry per finding, a rule's findings together.
        assert_eq!(
            shape(&entries(&f, true)),
            vec![
                vec![1],
                vec![3],
                vec![4],
                vec![6],
                vec![7],
                vec![2],
                vec![5]
            ]
        );
        // The same message in two rules: two entries.
        let g = [
            finding("a", 1, "m"),
            finding("b", 2, "m"),
            finding("a", 3, "m"),
        ];
        assert_eq!(shape(&entries(&g, false)), vec![vec![1, 3], vec![2]]);
    }

    #[test]
    fn entries_keep_the_old_form_where_a_rules_messages_are_all_alike_or_all_differ() {
        // The previous report: one entry per rule when every message of the
        // rule is the same, else one per finding; grouping by message gives
        // the same entries in both cases.
        let old = |f: &[Finding]| -> Vec<Vec<usize>> {
            let mut order: Vec<&str> = Vec::new();
            for x in f {
                if !order.contains(&x.rule) {
                    order.push(x.rule);
                }
            }
            let mut out = Vec::new();
            for r in order {
                let g: Vec<&Finding> = f.iter().filter(|x| x.rule == r).collect();
                let same = g.iter().all(|x| x.message == g[0].message);
                let size = if same { g.len() } else { 1 };
                for c in g.chunks(size.max(1)) {
                    out.push(c.iter().map(|x| x.line.unwrap_or(0)).collect());
                }
            }
            out
        };
        for seed in 0..200u64 {
            let mut x = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut next = |m: u64| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % m
            };
            let n = 1 + next(30) as usize;
            let alike = next(2) == 0;
            let f: Vec<Finding> = (0..n)
                .map(|i| {
                    let rule = ["a", "b", "c"][next(3) as usize];
                    let message = if alike {
                        format!("m-{rule}")
                    } else {
                        format!("m{i}")
                    };
                    finding(rule, i + 1, &message)
                })
                .collect();
            assert_eq!(shape(&entries(&f, false)), old(&f), "seed {seed}");
        }
    }
}
