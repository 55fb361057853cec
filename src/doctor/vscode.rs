//! VS Code rules: the settings of VS Code's Remote-SSH extension — a
//! `remote.SSH.configFile` naming another file, RunPod hosts with no
//! `remote.SSH.remotePlatform` (set as a [`SideEffect::VscodePlatform`]),
//! and on Windows the ssh.exe it runs (`remote.SSH.path`, judged from the
//! [`super::WindowsFacts`] `fix` gathers; set as a
//! [`SideEffect::VscodeSshPath`]).

use std::path::PathBuf;

use crate::config::pattern;
use crate::runpod;

use super::windows::ClientSource;
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
        for b in cx.blocks().iter() {
            if !runpod::is_runpod_block(&cx.doc, b) || !cx.in_scope(&b.patterns) {
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

/// F19: VS Code runs a client other than the in-box one, and that client
/// is known to misread the config: an MSYS build (Git's: another `~`,
/// another known_hosts, refuses CRLF keys) or one older than the in-box
/// client. Then `remote.SSH.path` is set to the in-box client. The version
/// VS Code will use is said either way (a note when nothing is wrong).
pub(super) struct VscodeSshPath;
impl Rule for VscodeSshPath {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "vscode-ssh-path",
            title: "VS Code runs another ssh than Windows' own, one that reads the config differently",
            repair: "set remote.SSH.path to C:\\Windows\\System32\\OpenSSH\\ssh.exe",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let Some(w) = cx.windows.clone() else { return };
        let Some(used) = w.vscode_client() else {
            return;
        };
        let version = used
            .version
            .clone()
            .unwrap_or_else(|| "version unknown".into());
        let Some(inbox) = w
            .clients
            .iter()
            .find(|c| c.source == ClientSource::System32)
        else {
            cx.notes
                .push(format!("VS Code runs {} ({version})", used.path.display()));
            return;
        };
        let older = matches!((used.number(), inbox.number()), (Some(a), Some(b)) if a < b);
        // Known to misread: an MSYS build or an older Win32 one. A client
        // whose `-V` could not be read is not known to: left as it is.
        let misreads =
            used.path != inbox.path && used.version.is_some() && (!used.win32() || older);
        if !misreads || cx.vscode.is_empty() {
            cx.notes
                .push(format!("VS Code runs {} ({version})", used.path.display()));
            return;
        }
        let why = if used.win32() {
            "older than Windows' own"
        } else {
            "an MSYS build: its ~ and known_hosts are not Windows', and it refuses keys with CRLF"
        };
        let target = inbox.path.display().to_string();
        cx.side_effects.push(SideEffect::VscodeSshPath {
            path: target.clone(),
        });
        cx.findings.push(Finding {
            rule: self.id(),
            file: cx.vscode[0].0.clone(),
            line: None,
            severity: Severity::Warning,
            message: format!(
                "{}: VS Code runs {} ({version}), {why}; Windows' own is {} ({})",
                self.title(),
                used.path.display(),
                target,
                inbox.version.as_deref().unwrap_or("version unknown")
            ),
            repair: format!("set remote.SSH.path to {target}"),
            auto: self.auto(),
            applied: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::windows::testing::*;
    use super::super::windows::{SshClient, WindowsFacts};
    use super::*;
    use std::path::Path;

    #[test]
    fn vscode_ssh_path_goes_to_the_inbox_client_when_vscode_runs_gits() {
        let home = tempfile::tempdir().unwrap();
        let facts = |first: SshClient| WindowsFacts {
            clients: vec![
                first,
                client(
                    INBOX,
                    ClientSource::System32,
                    "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
                ),
            ],
            agent: None,
            inbox: Some(INBOX.into()),
            ..Default::default()
        };
        // Git's MSYS ssh first on PATH: remote.SSH.path is set to System32's.
        let git = client(
            GIT,
            ClientSource::Path,
            "OpenSSH_9.6p1, OpenSSL 3.2.1 30 Jan 2024",
        );
        let cx = run_windows(&VscodeSshPath, home.path(), POD, facts(git));
        assert_eq!(cx.findings.len(), 1);
        let f = &cx.findings[0];
        assert!(
            f.applied && f.message.contains("OpenSSH_9.6p1") && f.message.contains("MSYS"),
            "{f:?}"
        );
        assert!(
            matches!(&cx.side_effects[..], [SideEffect::VscodeSshPath { path }] if path == INBOX)
        );
        // An older Win32 build from an MSI on PATH: also moved.
        let old = client(
            "C:\\OpenSSH\\ssh.exe",
            ClientSource::Path,
            "OpenSSH_for_Windows_8.1p1, LibreSSL 3.0.2",
        );
        assert_eq!(
            run_windows(&VscodeSshPath, home.path(), POD, facts(old))
                .side_effects
                .len(),
            1
        );
        // VS Code runs the in-box one: nothing to change, the version said.
        let inbox = client(
            INBOX,
            ClientSource::Path,
            "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
        );
        let cx = run_windows(&VscodeSshPath, home.path(), POD, facts(inbox));
        assert!(cx.findings.is_empty() && cx.side_effects.is_empty());
        assert_eq!(
            cx.notes,
            [format!(
                "VS Code runs {INBOX} (OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2)"
            )]
        );
        // The settings edit keeps comments.
        let got = crate::vscode::set_string_setting(
            Path::new("s"),
            "{\n  // mine\n  \"a\": 1\n}",
            "remote.SSH.path",
            INBOX,
        )
        .unwrap()
        .unwrap();
        assert!(got.contains("// mine"), "{got}");
        assert_eq!(crate::vscode::ssh_path(&got).as_deref(), Some(INBOX));
    }

    /// Hostile review: a `remote.SSH.path` whose `-V` could not be read (a
    /// wrapper, a build that prints something else, one that failed to
    /// start) was called "an MSYS build" and replaced with System32's. Not
    /// known to misread the config: the user's setting is kept, and said.
    #[test]
    fn vscode_ssh_path_of_unknown_version_is_not_replaced() {
        let home = tempfile::tempdir().unwrap();
        let mine = SshClient {
            path: "C:\\tools\\ssh-wrapper.exe".into(),
            source: ClientSource::Setting,
            version: None,
        };
        let facts = WindowsFacts {
            clients: vec![
                mine,
                client(INBOX, ClientSource::System32, "OpenSSH_for_Windows_9.5p1"),
            ],
            agent: None,
            inbox: Some(INBOX.into()),
            ..Default::default()
        };
        let cx = run_windows(&VscodeSshPath, home.path(), POD, facts);
        assert!(cx.side_effects.is_empty(), "{:?}", cx.findings);
        assert!(cx.findings.is_empty(), "{:?}", cx.findings);
        assert!(
            cx.notes
                .iter()
                .any(|n| n.contains("ssh-wrapper.exe") && n.contains("version unknown")),
            "{:?}",
            cx.notes
        );
    }
}
