//! VS Code rules: the settings of VS Code's Remote-SSH extension — a
//! `remote.SSH.configFile` naming another file, and RunPod hosts with no
//! `remote.SSH.remotePlatform` (set as a [`SideEffect::VscodePlatform`]).

use std::path::PathBuf;

use crate::config::pattern;
use crate::runpod;

use super::{Auto, Cx, Finding, Meta, Rule, Severity, SideEffect};

pub(super) struct VscodeConfigFile;
impl Rule for VscodeConfigFile {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "vscode-config-file",
            title: "VS Code reads another ssh config file (remote.SSH.configFile)",
            repair: "fix repairs the file VS Code reads instead of ~/.ssh/config, and says so (unless --config names a file)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let found: Vec<(PathBuf, String)> = cx
            .vscode
            .iter()
            .filter_map(|(p, text)| Some((p.clone(), crate::vscode::config_file(text)?)))
            .collect();
        for (settings, other) in found {
            let other_path = cx.ctx.home_path(&other.replace('\\', "/"));
            if other_path != cx.path {
                cx.findings.push(Finding {
                    rule: self.id(),
                    file: settings.clone(),
                    line: None,
                    severity: Severity::Warning,
                    message: format!(
                        "{}: {other}; this run repaired {}",
                        self.title(),
                        cx.path.display()
                    ),
                    repair: format!("runpod-ssh fix --config {other}"),
                    auto: self.auto(),
                    applied: false,
                });
            }
        }
    }
}

pub(super) struct VscodePlatform;
impl Rule for VscodePlatform {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "vscode-platform",
            title: "VS Code does not know the RunPod host runs Linux: it asks every time, and a wrong answer breaks the connection",
            repair: "set remote.SSH.remotePlatform for it to \"linux\"",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.vscode.is_empty() {
            return;
        }
        for b in cx.doc.blocks() {
            if !runpod::is_runpod_block(&cx.doc, &b) || !cx.in_scope(&b.patterns) {
                continue;
            }
            for alias in b.patterns.iter().filter(|p| !pattern::is_wildcard(p)) {
                let missing: Vec<PathBuf> = cx
                    .vscode
                    .iter()
                    .filter(|(_, t)| {
                        crate::vscode::remote_platform(t, alias).as_deref() != Some("linux")
                    })
                    .map(|(p, _)| p.clone())
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                cx.side_effects.push(SideEffect::VscodePlatform {
                    alias: alias.clone(),
                });
                cx.findings.push(Finding {
                    rule: self.id(),
                    file: missing[0].clone(),
                    line: None,
                    severity: Severity::Warning,
                    message: format!("{alias}: {}", self.title()),
                    repair: self.repair_text().into(),
                    auto: self.auto(),
                    applied: true,
                });
            }
        }
    }
}
