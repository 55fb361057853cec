//! What `add` tells the user: the warnings about the entry (printed on
//! stderr, or in the JSON) and the report of what was (or, with
//! `--dry-run`, would be) done.

use std::path::PathBuf;

use super::super::Env;
use super::super::edit::{self, Session};
use super::entry::line_as_written;
use super::{Action, Done, Plan};
use crate::cli::AddArgs;
use crate::output;
use crate::runpod::{self, Access};

impl Plan {
    /// Everything the user should know about the entry (printed on
    /// stderr, or in the JSON), in a fixed order.
    pub(super) fn warnings(
        &self,
        env: &Env,
        a: &AddArgs,
        s: &Session,
        redirect: Option<&(PathBuf, PathBuf)>,
    ) -> Vec<String> {
        let (ep, alias) = (&self.ep, &self.alias);
        let mut warnings = Vec::new();
        if let Access::Proxy { .. } = ep.access {
            warnings.push(format!(
                "{} is RunPod's SSH proxy: a terminal works, but VS Code, scp, sftp and port forwarding need the \"SSH over exposed TCP\" command (enable a public IP and expose TCP port 22 on the pod, then `runpod-ssh add` that line)",
                runpod::PROXY_HOST
            ));
        }
        if !self.identity_found || !s.ctx.home_path(&self.identity).is_file() {
            warnings.push(format!(
                "key {} was not found: create one with `ssh-keygen -t ed25519` and add its .pub in RunPod → Settings → SSH Public Keys (pods started before that keep their old keys)",
                self.identity
            ));
        }
        if self.action == Action::Created && a.name.is_none() {
            // Listed by `find_entry` from the file as read.
            let others = &self.others;
            if !others.shown.is_empty() {
                let mut names = others.shown.join(", ");
                if others.more > 0 {
                    names += &format!(" and {} more: `{}`", others.more, env.command("list"));
                }
                warnings.push(format!(
                    "if this is a restarted pod you already have ({names}), run the command again with --name THAT-ALIAS to update it in place, then `{}`",
                    env.command(&format!("remove {}", output::shell_quote(alias)))
                ));
            }
        }
        if ep.options.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("ForwardAgent")
                && matches!(v.to_ascii_lowercase().as_str(), "yes" | "true")
        }) {
            warnings.push(
                "agent forwarding (-A / ForwardAgent yes) is on: on a shared GPU host, anyone with root on the pod can use your ssh keys while you are connected. Remove the ForwardAgent line unless you need it".to_string(),
            );
        }
        for b in &self.same_endpoint_foreign {
            warnings.push(format!(
                "{} ({}:{}) points at the same endpoint {}:{}; it is not a RunPod entry, so it was left unchanged and {alias} was written beside it",
                b.patterns.join(" "),
                s.path.display(),
                line_as_written(&self.doc, b),
                ep.host,
                ep.port
            ));
        }
        warnings.extend(self.notes.iter().cloned());
        if let Some((settings, other)) = redirect {
            warnings.push(format!(
                "VS Code reads {} (remote.SSH.configFile in {}), so the entry was written there",
                edit::tilde(other),
                edit::tilde(settings)
            ));
        }
        for f in &ep.ignored {
            warnings.push(format!("ignored {f}: not a setting of a host entry"));
        }
        // Blocks of the file as read (`s.doc`), listed by `find_entry`.
        for b in &self.duplicates {
            warnings.push(format!(
                "{}:{} also defines {alias}; ssh ignores its values (the first block wins)",
                s.path.display(),
                line_as_written(&self.doc, b)
            ));
        }
        warnings
    }

    /// What `--dry-run` would do.
    pub(super) fn dry_run_text(&self, s: &Session, diff: &str, done: &Done) -> String {
        let (alias, moved) = (&self.alias, self.moved);
        let mut text = if diff.is_empty() {
            format!("{alias} is up to date; nothing would change.\n")
        } else {
            format!(
                "Would {} {alias} in {}:\n\n{diff}",
                verb(self.action),
                edit::tilde(&s.path)
            )
        };
        if moved > 0 {
            text.push_str(&format!("Would {}\n", moved_line("move", moved, alias)));
        }
        if let Some(old) = &self.renamed_from {
            text.push_str(&format!("Would rename {old} to {alias}\n"));
        }
        if done.pins_removed > 0 {
            text.push_str(&format!(
                "Would forget the pinned host key of {alias} in {}\n",
                edit::known_hosts_path()
                    .map(|p| edit::tilde(&p))
                    .unwrap_or_default()
            ));
        }
        for c in done.vscode.iter().filter(|c| c.changed) {
            text.push_str(&format!(
                "Would set remote.SSH.remotePlatform[\"{alias}\"] = \"linux\" in {}\n",
                edit::tilde(&c.path)
            ));
        }
        text
    }

    /// What was done, and how to connect.
    pub(super) fn done_text(&self, env: &Env, s: &Session, done: &Done) -> String {
        let (ep, alias, moved, st) = (&self.ep, &self.alias, self.moved, &env.style);
        let mut text = match self.action {
            Action::Unchanged => format!(
                "{} {alias} is up to date ({}:{} as {}).\n",
                st.green("✓"),
                ep.host,
                ep.port,
                ep.user
            ),
            _ => format!(
                "{} {} {alias} → {}@{}:{} in {}\n",
                st.green("✓"),
                if self.action == Action::Created {
                    "Added"
                } else {
                    "Updated"
                },
                ep.user,
                ep.host,
                ep.port,
                edit::tilde(&s.path)
            ),
        };
        if let Some(old) = &self.renamed_from {
            text.push_str(&format!("  renamed {old} to {alias}\n"));
        }
        if moved > 0 {
            text.push_str(&format!("  {}\n", moved_line("moved", moved, alias)));
        }
        if let Some(b) = &done.backup {
            text.push_str(&format!(
                "  previous version saved as {} (undo: {})\n",
                edit::tilde(b),
                env.command("restore")
            ));
        }
        if done.pins_removed > 0 {
            text.push_str(&format!(
                "  forgot the old host key of {alias} (the pod restarted, so it has a new one)\n"
            ));
        }
        for c in done.vscode.iter().filter(|c| c.changed) {
            text.push_str(&format!(
                "  VS Code: platform of {alias} set to linux in {}\n",
                edit::tilde(&c.path)
            ));
        }
        text.push_str(&format!(
            "\nConnect:\n  {}\n  VS Code: Remote-SSH: Connect to Host… → {alias} → Open Folder /workspace\n",
            env.ssh(alias)
        ));
        text
    }
}

/// The one line saying the entry's comments moved (issue 13).
fn moved_line(verb: &str, n: usize, alias: &str) -> String {
    format!(
        "{verb} {n} comment{} of {alias} to their own lines: Windows' ssh refuses them after a value",
        if n == 1 { "" } else { "s" }
    )
}

fn verb(a: Action) -> &'static str {
    match a {
        Action::Created => "add",
        _ => "update",
    }
}
