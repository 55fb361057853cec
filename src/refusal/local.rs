//! Which ssh this machine runs (its flavour decides which keywords it
//! reads): found once per process, on macOS from `PATH` and `ssh -V`.

use std::path::{Path, PathBuf};

use super::Client;

/// The ssh a terminal on this machine runs: the first `ssh` on `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSsh {
    pub client: Client,
    /// The first `ssh` on `PATH`, if any.
    pub path: Option<PathBuf>,
    /// What `ssh -V` said (asked on macOS only, where it decides the flavour).
    pub version: Option<String>,
    /// macOS: Apple's `/usr/bin/ssh` is installed but another ssh comes
    /// first on `PATH` (Homebrew's, MacPorts').
    pub apple_shadowed: bool,
    /// The flavour was forced by the test hook (debug builds only): the
    /// `ssh` on `PATH` is not that flavour, so it cannot be the oracle.
    pub forced: bool,
}

/// Where Apple's ssh lives on every Mac (a sealed system volume: nothing
/// else can be there).
pub const APPLE_SSH: &str = "/usr/bin/ssh";

/// The ssh this machine runs, found once per process. Elsewhere than
/// macOS it is upstream OpenSSH (Linux, WSL, Windows' build: no extra
/// keywords) and no program is run. On macOS it is Apple's build when
/// `/usr/bin/ssh` is first on `PATH` or the first one's `ssh -V` reports
/// Apple's build (LibreSSL; Homebrew's and MacPorts' link OpenSSL).
pub fn local_ssh() -> &'static LocalSsh {
    static LOCAL: std::sync::OnceLock<LocalSsh> = std::sync::OnceLock::new();
    LOCAL.get_or_init(|| {
        let path = crate::oracle::find_ssh();
        if let Some(client) = forced_client() {
            return LocalSsh {
                client,
                path,
                version: None,
                apple_shadowed: false,
                forced: true,
            };
        }
        if cfg!(target_os = "macos") {
            let version = path
                .as_deref()
                .filter(|p| *p != Path::new(APPLE_SSH))
                .and_then(ssh_version);
            let apple_installed = Path::new(APPLE_SSH).is_file();
            detect_macos(path, version, apple_installed)
        } else {
            LocalSsh {
                client: Client::OpenSsh,
                path,
                version: None,
                apple_shadowed: false,
                forced: false,
            }
        }
    })
}

/// The macOS decision, apart from the machine so it can be tested anywhere.
pub fn detect_macos(
    path: Option<PathBuf>,
    version: Option<String>,
    apple_installed: bool,
) -> LocalSsh {
    let apple_first = path.as_deref() == Some(Path::new(APPLE_SSH))
        || version.as_deref().is_some_and(|v| v.contains("LibreSSL"));
    // No ssh on PATH at all: VS Code and a terminal find none either, but
    // the file was written for the Mac's own ssh.
    let apple = apple_first || (path.is_none() && apple_installed);
    LocalSsh {
        client: if apple {
            Client::Apple
        } else {
            Client::OpenSsh
        },
        apple_shadowed: !apple && apple_installed,
        path,
        version,
        forced: false,
    }
}

/// The test hook: `RUNPOD_SSH_TEST_CLIENT=apple` forces Apple's flavour.
/// Compiled into debug builds only (what `cargo test` runs), so no shipped
/// binary changes its judgement because of the environment it inherits.
#[cfg(debug_assertions)]
fn forced_client() -> Option<Client> {
    match std::env::var("RUNPOD_SSH_TEST_CLIENT").ok()?.as_str() {
        "apple" => Some(Client::Apple),
        "openssh" => Some(Client::OpenSsh),
        _ => None,
    }
}

#[cfg(not(debug_assertions))]
fn forced_client() -> Option<Client> {
    None
}

/// The first line of `ssh -V` (it prints to stderr), or `None` when it
/// does not answer within two seconds. `-V` reads no config.
pub(super) fn ssh_version(ssh: &Path) -> Option<String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(ssh)
        .arg("-V")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut text = String::new();
    child.stderr.take()?.read_to_string(&mut text).ok()?;
    text.lines().next().map(|l| l.trim().to_string())
}
