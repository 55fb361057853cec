//! Windows rules: what only a Windows user meets, and the facts `fix`
//! gathers there to judge it ([`WindowsFacts`]: the ssh.exe clients VS
//! Code may run, with their `-V`, and the ssh-agent service). The rules:
//! Notepad's `config.txt` beside a missing or empty config (F15), no ssh
//! client at all (F39) and a passphrase key with the agent service
//! disabled (F40) — both answered with the exact PowerShell, never run —
//! and a non-ASCII profile folder (F20: a note, or with `--yes` the move
//! to an ASCII folder in `profile`). Without facts (Linux,
//! macOS, WSL) the fact-driven rules say nothing. The Windows rows that
//! belong to a family live there: `legacy-code-page` in `encoding`,
//! `key-format` and owner-only ACLs in `keys`, `vscode-ssh-path` in
//! `vscode`, the version note on `trailing-comment` in `comments`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::document::Document;
use crate::config::{BlockKind, pattern};

use super::keys::{normalise_key, read_head, regular_not_link, runpod_identity_lines};
use super::{Auto, Cx, Finding, Meta, Rule, Severity};

// ---------------------------------------------------------------- facts

/// Where VS Code Remote-SSH finds an ssh (F19), in the order it tries them
/// after `remote.SSH.path`: `ssh` on PATH, System32, Git's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientSource {
    Setting,
    Path,
    System32,
    Git,
}

/// An ssh.exe VS Code may run.
#[derive(Debug, Clone, Serialize)]
pub struct SshClient {
    pub path: PathBuf,
    pub source: ClientSource,
    /// The first line `ssh -V` printed (`None`: it did not run).
    pub version: Option<String>,
}

impl SshClient {
    /// Win32-OpenSSH (the in-box client or its MSI): `OpenSSH_for_Windows_…`.
    /// Git's is an MSYS build: its `~` and known_hosts are MSYS's, and it
    /// refuses CRLF keys (F18, F26).
    pub fn win32(&self) -> bool {
        self.version
            .as_deref()
            .is_some_and(|v| v.starts_with("OpenSSH_for_Windows_"))
    }

    /// (major, minor) of `OpenSSH_9.5p1` / `OpenSSH_for_Windows_8.1p1`.
    pub fn number(&self) -> Option<(u32, u32)> {
        let v = self.version.as_deref()?;
        let v = v
            .strip_prefix("OpenSSH_for_Windows_")
            .or_else(|| v.strip_prefix("OpenSSH_"))?;
        let (major, rest) = v.split_once('.')?;
        let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((major.parse().ok()?, minor.parse().ok()?))
    }
}

/// The ssh-agent service's start type (F40).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AgentService {
    Disabled,
    Manual,
    Automatic,
    /// No such service (no OpenSSH client installed).
    Missing,
}

/// What `fix` learns about the Windows side: the clients VS Code may run
/// and the agent service.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowsFacts {
    /// In VS Code's order, the setting first; each path once.
    pub clients: Vec<SshClient>,
    pub agent: Option<AgentService>,
    /// `%SystemRoot%\System32\OpenSSH\ssh.exe`.
    pub inbox: Option<PathBuf>,
    /// `%ProgramData%`: where F20's ASCII folder goes.
    pub program_data: Option<PathBuf>,
    /// `%USERNAME%`: names that folder.
    pub user: Option<String>,
}

impl WindowsFacts {
    /// The ssh VS Code runs: `remote.SSH.path`, else the first it finds.
    pub fn vscode_client(&self) -> Option<&SshClient> {
        self.clients.first()
    }

    /// Look: `remote.SSH.path` from the settings texts, `ssh.exe` on PATH,
    /// System32's and Git's default; `-V` on each (ssh itself, nothing a
    /// config names); the agent service's start type. Windows only.
    pub fn gather(settings: &[(PathBuf, String)]) -> WindowsFacts {
        let root = std::env::var_os("SystemRoot").map(PathBuf::from);
        let inbox = root.map(|r| r.join("System32").join("OpenSSH").join("ssh.exe"));
        let mut candidates: Vec<(PathBuf, ClientSource)> = Vec::new();
        if let Some(p) = settings
            .iter()
            .find_map(|(_, t)| crate::vscode::ssh_path(t))
        {
            candidates.push((PathBuf::from(p), ClientSource::Setting));
        }
        if let Some(path) = std::env::var_os("PATH")
            && let Some(p) = std::env::split_paths(&path)
                .map(|d| d.join("ssh.exe"))
                .find(|p| p.is_file())
        {
            candidates.push((p, ClientSource::Path));
        }
        if let Some(p) = &inbox {
            candidates.push((p.clone(), ClientSource::System32));
        }
        if let Some(pf) = std::env::var_os("ProgramFiles") {
            let git = PathBuf::from(pf)
                .join("Git")
                .join("usr")
                .join("bin")
                .join("ssh.exe");
            candidates.push((git, ClientSource::Git));
        }
        let mut clients: Vec<SshClient> = Vec::new();
        for (path, source) in candidates {
            if !path.is_file() || clients.iter().any(|c| c.path == path) {
                continue;
            }
            let version = std::process::Command::new(&path)
                .arg("-V")
                .stdin(std::process::Stdio::null())
                .output()
                .ok()
                .and_then(|o| {
                    let t = String::from_utf8_lossy(&o.stderr).into_owned()
                        + &String::from_utf8_lossy(&o.stdout);
                    t.lines().next().map(|l| l.trim().to_string())
                })
                .filter(|l| l.starts_with("OpenSSH"));
            clients.push(SshClient {
                path,
                source,
                version,
            });
        }
        WindowsFacts {
            clients,
            agent: crate::platform::ssh_agent_service(),
            inbox: inbox.filter(|p| p.is_file()),
            program_data: std::env::var_os("ProgramData").map(PathBuf::from),
            user: std::env::var("USERNAME").ok(),
        }
    }
}

/// The trailing-comment finding's note when every ssh VS Code can run is
/// 8.7 or newer (those read `value # comment` as value and comment).
pub(super) fn trailing_comment_note(w: &WindowsFacts) -> Option<String> {
    let c = w.vscode_client()?;
    if w.clients
        .iter()
        .all(|c| c.number().is_some_and(|n| n >= (8, 7)))
    {
        Some(format!(
            "VS Code's ssh here, {}, reads it as a comment; moved anyway: VS Code's own writer glues it to the value on its next edit",
            c.version.as_deref().unwrap_or("?")
        ))
    } else {
        None
    }
}

// ---------------------------------------------------------------- config.txt

/// The non-wildcard aliases `Host` blocks of `doc` define.
fn host_aliases(doc: &Document) -> Vec<String> {
    doc.blocks()
        .into_iter()
        .filter(|b| b.kind == BlockKind::Host)
        .flat_map(|b| b.patterns)
        .filter(|p| !pattern::is_wildcard(p) && !p.starts_with('!'))
        .collect()
}

/// F15: Notepad's "Save as" made `~/.ssh/config.txt`; ssh and VS Code read
/// only `config`. Decided: when `config` is absent or holds nothing but
/// blank lines, `config.txt`'s content becomes the config (written
/// as every repair is: lock, backup, atomic, checked with `ssh -G`) and the
/// later rules repair it too (Notepad's BOM, UTF-16); `config.txt` itself
/// is left as it was (never delete a user's file). When both hold hosts,
/// `--yes` appends `config.txt`'s `Host` blocks whose aliases are all
/// plain and new to the config's tree (global lines, `Match` blocks and
/// blocks that also name a wildcard or a known host are reported, never
/// moved: appended after other blocks they would change those hosts; see
/// [`merge_plan`]). Once every alias of `config.txt` is in the config,
/// nothing is reported.
pub(super) struct ConfigTxt;
impl Rule for ConfigTxt {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "config-txt",
            title: "config.txt beside the config (Notepad's \"Save as\" adds .txt): ssh and VS Code never read it",
            repair: "config absent or empty: config.txt's content becomes the config (config.txt is left as it was); both hold hosts: with --yes, its Host blocks for aliases the config lacks are appended",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.path.file_name().is_none_or(|n| n != "config") {
            return;
        }
        let txt = cx.path.with_file_name("config.txt");
        if !regular_not_link(&txt) {
            return;
        }
        let Ok(content) = crate::fsio::read_limited(&txt) else {
            return;
        };
        let theirs = Document::parse(&content.bytes);
        // Absent, empty or blank: config.txt's content becomes the config
        // (a config with comments takes the merge below, comments kept).
        if cx.doc.lines().iter().all(|l| l.is_blank()) {
            if theirs
                .lines()
                .iter()
                .all(|l| l.is_blank() || l.is_comment())
            {
                return;
            }
            let missing = !cx.path.exists();
            *cx.doc = theirs;
            cx.intended.push(("*".into(), "*".into()));
            cx.report(
                self,
                None,
                Severity::Error,
                format!(
                    "{} ({}; the config is {})",
                    self.title(),
                    txt.display(),
                    if missing { "missing" } else { "empty" }
                ),
                format!(
                    "its content becomes {} ({} is left as it was: delete it when you like)",
                    cx.path.display(),
                    txt.display()
                ),
                true,
            );
            return;
        }
        let plan = merge_plan(cx, &theirs);
        if plan.added.is_empty() && plan.missed.is_empty() {
            // Every host of config.txt is in the config already.
            return;
        }
        let not_merged = if plan.skipped > 0 {
            format!(
                "; {} line(s) not merged (options outside Host blocks, Match blocks, Host blocks that also name a wildcard or a host the config has{}): appended, they would change the config's hosts",
                plan.skipped,
                if plan.missed.is_empty() {
                    String::new()
                } else {
                    format!(", among them {}", plan.missed.join(", "))
                }
            )
        } else {
            String::new()
        };
        if plan.added.is_empty() {
            cx.findings.push(Finding {
                rule: self.id(),
                file: cx.path.clone(),
                line: None,
                severity: Severity::Warning,
                message: format!("{} ({}{not_merged})", self.title(), txt.display()),
                repair: format!(
                    "copy what {} needs into the config by hand",
                    plan.missed.join(", ")
                ),
                auto: Auto::Manual,
                applied: false,
            });
            return;
        }
        let apply = cx.may(Auto::WithYes);
        if apply {
            let at = cx.doc.lines().len();
            let mut texts = vec![
                Vec::new(),
                format!("# from {} (runpod-ssh fix --yes)", txt.display()).into_bytes(),
            ];
            texts.extend(plan.lines);
            cx.doc
                .insert_lines_before(texts.into_iter().map(|t| (at, t)).collect());
            for a in &plan.added {
                cx.intended.push((a.clone(), "*".into()));
            }
        }
        cx.findings.push(Finding {
            rule: self.id(),
            file: cx.path.clone(),
            line: None,
            severity: Severity::Warning,
            message: format!(
                "{} ({} defines {} that the config does not{not_merged})",
                self.title(),
                txt.display(),
                plan.added.join(", "),
            ),
            repair: format!(
                "append its Host blocks for {} to the config (config.txt is left as it was)",
                plan.added.join(", ")
            ),
            auto: Auto::WithYes,
            applied: apply,
        });
    }
}

/// What of config.txt can be appended to the config without changing
/// any host the config already has.
struct MergePlan {
    /// The lines to append, as read (bytes, never lossy text: a path in a
    /// Windows code page stays for `legacy-code-page`).
    lines: Vec<Vec<u8>>,
    /// The aliases they define.
    added: Vec<String>,
    /// New plain aliases in blocks that cannot move.
    missed: Vec<String>,
    /// Option lines left in config.txt.
    skipped: usize,
}

/// Only `Host` blocks whose every pattern is a plain alias that the
/// config's tree (its includes too) does not name move: appended after the
/// config's blocks, a block that also names a known host or a wildcard
/// would give those hosts its options, and global lines and `Match`
/// blocks would apply to every host.
fn merge_plan(cx: &Cx, theirs: &Document) -> MergePlan {
    let ours: std::collections::HashSet<String> =
        crate::config::files::load_tree(&cx.path, &cx.doc, &cx.ctx.home)
            .iter()
            .flat_map(|f| host_aliases(&f.doc))
            .collect();
    let plain_new =
        |p: &String| !pattern::is_wildcard(p) && !p.starts_with('!') && !ours.contains(p);
    let mut plan = MergePlan {
        lines: Vec::new(),
        added: Vec::new(),
        missed: Vec::new(),
        skipped: 0,
    };
    for b in theirs.blocks() {
        let host = b.kind == BlockKind::Host && b.header.is_some();
        if host && b.patterns.iter().all(plain_new) {
            plan.added.extend(b.patterns.iter().cloned());
            plan.lines
                .extend(b.lines.clone().map(|i| theirs.lines()[i].bytes().to_vec()));
            continue;
        }
        // A Match block's words are criteria, not aliases.
        let missed: Vec<String> = if host {
            b.patterns
                .iter()
                .filter(|p| plain_new(p))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        if host && missed.is_empty() {
            // Its hosts are all in the config already.
            continue;
        }
        plan.missed.extend(missed);
        plan.skipped += b
            .lines
            .clone()
            .filter(|&i| !theirs.lines()[i].is_blank() && !theirs.lines()[i].is_comment())
            .count();
    }
    plan
}

// ---------------------------------------------------------------- client, agent, profile

/// The PowerShell that installs Windows' OpenSSH client (F39), as
/// Microsoft documents it. runpod-ssh never runs it.
pub const INSTALL_OPENSSH: &str = "Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0";

/// F39: no ssh.exe VS Code could run. The exact PowerShell, never run.
/// A finding when VS Code is set up here (its "An SSH installation
/// couldn't be found"); otherwise the same advice as a note.
pub(super) struct NoSshClient;
impl Rule for NoSshClient {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "no-ssh-client",
            title: "no ssh client found (remote.SSH.path, PATH, System32\\OpenSSH, Git): VS Code says \"An SSH installation couldn't be found\"",
            repair: "in PowerShell as Administrator: Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0 (runpod-ssh never runs it)",
            auto: Auto::Manual,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let Some(w) = &cx.windows else { return };
        if !w.clients.is_empty() {
            return;
        }
        let advice = format!(
            "in PowerShell as Administrator (Start → type PowerShell → Run as administrator): {INSTALL_OPENSSH} ; then open a new terminal and check with: ssh -V"
        );
        if cx.vscode.is_empty() {
            cx.notes.push(format!("no ssh client found: {advice}"));
            return;
        }
        cx.report(
            self,
            None,
            Severity::Error,
            self.title().into(),
            advice,
            false,
        );
    }
}

/// Whether the private key at `p` asks for a passphrase.
fn key_is_encrypted(p: &Path) -> bool {
    let Some(head) = read_head(p, 1 << 20) else {
        return false;
    };
    let head = normalise_key(&head).map_or(head, |(n, _)| n);
    let Ok(t) = std::str::from_utf8(&head) else {
        return false;
    };
    if t.contains("Proc-Type: 4,ENCRYPTED") || t.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        return true;
    }
    ssh_key::PrivateKey::from_openssh(t.trim_start_matches('\u{feff}'))
        .is_ok_and(|k| k.is_encrypted())
}

/// The PowerShell that enables and starts the agent (F40, admin), then
/// loads the key (as the user). runpod-ssh never runs either.
pub fn agent_commands(key: &str) -> String {
    format!(
        "in PowerShell as Administrator: Get-Service ssh-agent | Set-Service -StartupType Automatic; Start-Service ssh-agent ; then in your own PowerShell: ssh-add \"{key}\" (or set \"remote.SSH.showLoginTerminal\": true in VS Code to type the passphrase there)"
    )
}

/// F40: a RunPod entry's key has a passphrase and the ssh-agent service
/// is disabled (Windows' default): VS Code waits on a hidden prompt.
pub(super) struct AgentDisabled;
impl Rule for AgentDisabled {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "agent-disabled",
            title: "the key has a passphrase and the ssh-agent service is disabled: VS Code waits on a hidden passphrase prompt, then times out",
            repair: "enable and start ssh-agent (PowerShell as Administrator), then ssh-add the key; runpod-ssh never runs these",
            auto: Auto::Manual,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.windows.as_ref().and_then(|w| w.agent) != Some(AgentService::Disabled) {
            return;
        }
        let mut seen = Vec::new();
        for &(li, ref v) in runpod_identity_lines(cx).iter() {
            let p = cx.ctx.home_path(v);
            if seen.contains(&p) || !key_is_encrypted(&p) {
                continue;
            }
            seen.push(p.clone());
            let n = cx.line_no(li);
            let shown = p.display().to_string();
            cx.report(
                self,
                n,
                Severity::Error,
                format!("{} ({shown})", self.title()),
                agent_commands(&shown),
                false,
            );
        }
    }
}

/// F20: a non-ASCII Windows profile path (`C:\\Users\\홍길동`). Older
/// Win32 ssh builds and VS Code (vscode-remote-release#11029) fail to read
/// `C:/Users/<name>/.ssh/config`; whether inbox 9.5 still does is not
/// known (failures.md §8), so without `--yes` this is a note saying
/// exactly what `--yes` does; with it, config, keys and known_hosts are
/// copied to an ASCII folder and `remote.SSH.configFile` points there
/// (see `profile`).
pub(super) struct NonAsciiProfile;
impl Rule for NonAsciiProfile {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "non-ascii-profile",
            title: "Windows profile path is not ASCII: some ssh builds and VS Code fail to read the config under it",
            repair: "with --yes: copy config, keys and known_hosts to %ProgramData%\\ssh-<name> (owner-only), with absolute paths there, and set remote.SSH.configFile to it; by hand: the same in any ASCII folder only you can read",
            auto: Auto::WithYes,
        }
    }
    fn run(&self, cx: &mut Cx) {
        super::profile::offer(self, cx);
    }
}

/// What the Windows rules' tests (here and in `vscode`, `comments`) share:
/// clients, a RunPod entry and a run of one rule with given facts.
#[cfg(test)]
pub(super) mod testing {
    use super::*;
    use crate::config::Context;

    pub(in crate::doctor) fn client(path: &str, source: ClientSource, version: &str) -> SshClient {
        SshClient {
            path: PathBuf::from(path),
            source,
            version: Some(version.into()),
        }
    }

    pub(in crate::doctor) const GIT: &str = "C:\\Program Files\\Git\\usr\\bin\\ssh.exe";
    pub(in crate::doctor) const INBOX: &str = "C:\\Windows\\System32\\OpenSSH\\ssh.exe";

    /// Run `rule` on `config` with the Windows facts `w` and a VS Code
    /// settings file; `home` is `~`.
    pub(in crate::doctor) fn run_windows(
        rule: &dyn Rule,
        home: &Path,
        config: &str,
        w: WindowsFacts,
    ) -> Cx<'static> {
        let ctx = Box::leak(Box::new(Context {
            home: home.to_path_buf(),
            user_home: home.to_path_buf(),
            ..Context::current()
        }));
        let mut cx = Cx {
            windows: Some(w),
            vscode: vec![(home.join("settings.json"), "{}".into())],
            ..Cx::new(
                Document::parse(config.as_bytes()),
                &home.join(".ssh/config"),
                ctx,
            )
        };
        rule.run(&mut cx);
        cx
    }

    pub(in crate::doctor) const POD: &str = "Host runpod-a\n  HostName 203.0.113.7\n  Port 40123\n  User root\n  IdentityFile ~/.ssh/id_ed25519\n";
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::doctor::comments::TrailingComment;

    #[test]
    fn no_ssh_client_gives_the_exact_powershell_and_runs_nothing() {
        let home = tempfile::tempdir().unwrap();
        let cx = run_windows(&NoSshClient, home.path(), POD, WindowsFacts::default());
        assert_eq!(cx.findings.len(), 1);
        let f = &cx.findings[0];
        assert_eq!(f.auto, Auto::Manual);
        assert!(!f.applied && cx.side_effects.is_empty());
        assert!(
            f.repair.contains("PowerShell as Administrator"),
            "{}",
            f.repair
        );
        assert!(
            f.repair
                .contains("Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0"),
            "{}",
            f.repair
        );
        // A client found: nothing.
        let one = WindowsFacts {
            clients: vec![client(
                INBOX,
                ClientSource::System32,
                "OpenSSH_for_Windows_9.5p1",
            )],
            ..Default::default()
        };
        assert!(
            run_windows(&NoSshClient, home.path(), POD, one)
                .findings
                .is_empty()
        );
    }

    #[test]
    fn encrypted_key_and_disabled_agent_get_the_exact_agent_commands() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
        let key = crate::keys::generate(crate::keys::KeyType::Ed25519, "t").unwrap();
        let path = home.path().join(".ssh").join("id_ed25519");
        std::fs::write(
            &path,
            key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        let facts = |agent| WindowsFacts {
            agent: Some(agent),
            ..Default::default()
        };
        // No passphrase: nothing, whatever the agent.
        assert!(
            run_windows(
                &AgentDisabled,
                home.path(),
                POD,
                facts(AgentService::Disabled)
            )
            .findings
            .is_empty()
        );
        let mut rng = ssh_key::rand_core::UnwrapErr(ssh_key::getrandom::SysRng);
        let enc = key.encrypt(&mut rng, "pw").unwrap();
        std::fs::write(
            &path,
            enc.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        assert!(
            run_windows(
                &AgentDisabled,
                home.path(),
                POD,
                facts(AgentService::Automatic)
            )
            .findings
            .is_empty()
        );
        let cx = run_windows(
            &AgentDisabled,
            home.path(),
            POD,
            facts(AgentService::Disabled),
        );
        assert_eq!(cx.findings.len(), 1);
        let f = &cx.findings[0];
        assert!(!f.applied && f.auto == Auto::Manual && cx.side_effects.is_empty());
        assert!(
            f.repair.contains("PowerShell as Administrator: Get-Service ssh-agent | Set-Service -StartupType Automatic; Start-Service ssh-agent"),
            "{}",
            f.repair
        );
        // One separator style (issue 12 part 2): on Windows
        // `C:\…\.ssh\id_ed25519`, never `…\.ssh/id_ed25519`.
        assert!(
            f.repair
                .contains(&format!("ssh-add \"{}\"", path.display())),
            "{}",
            f.repair
        );
        let shown = path.display().to_string();
        assert!(
            !shown.contains(if cfg!(windows) { '/' } else { '\\' }),
            "{shown}"
        );
    }

    #[test]
    fn trailing_comment_note_only_when_every_client_vscode_can_run_is_8_7_or_newer() {
        let home = tempfile::tempdir().unwrap();
        let cfg = "Host runpod-a\n  HostName 203.0.113.7 # pod\n";
        let new = WindowsFacts {
            clients: vec![client(
                INBOX,
                ClientSource::System32,
                "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
            )],
            ..Default::default()
        };
        let cx = run_windows(&TrailingComment, home.path(), cfg, new.clone());
        assert_eq!(cx.findings.len(), 1);
        assert!(cx.findings[0].applied, "still repaired");
        assert!(
            cx.findings[0]
                .message
                .contains("OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2, reads it as a comment"),
            "{}",
            cx.findings[0].message
        );
        // An 8.1 anywhere VS Code may run it: no such note.
        let mut mixed = new;
        mixed
            .clients
            .push(client(GIT, ClientSource::Git, "OpenSSH_8.1p1"));
        let cx = run_windows(&TrailingComment, home.path(), cfg, mixed);
        assert!(!cx.findings[0].message.contains("reads it as a comment"));
        assert_eq!(
            client(INBOX, ClientSource::Path, "OpenSSH_for_Windows_8.10p1").number(),
            Some((8, 10))
        );
    }

    #[test]
    fn non_ascii_profile_is_a_note_with_the_way_out_on_windows_only() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("홍길동");
        std::fs::create_dir_all(&home).unwrap();
        let cx = run_windows(&NonAsciiProfile, &home, POD, WindowsFacts::default());
        assert!(cx.findings.is_empty());
        assert_eq!(cx.notes.len(), 1);
        assert!(cx.notes[0].contains("홍길동") && cx.notes[0].contains("remote.SSH.configFile"));
        let ascii = root.path().join("hong");
        std::fs::create_dir_all(&ascii).unwrap();
        assert!(
            run_windows(&NonAsciiProfile, &ascii, POD, WindowsFacts::default())
                .notes
                .is_empty()
        );
    }
}
