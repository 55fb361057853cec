//! Helpers shared by the integration tests: finding real OpenSSH tools,
//! temp homes, running our binary.
#![allow(dead_code)]

#[cfg(unix)]
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where a tool is, or `None`. Under CI (`CI=true`) a missing tool is a
/// failure, never a silent skip.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!(
                "`{name}` is required for this test under CI but was not found (install openssh-client/openssh-server)"
            );
        }
        eprintln!("SKIPPED: `{name}` not found; install it to run this test");
    }
    found
}

/// The built `runpod-ssh` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_runpod-ssh"))
}

/// A temp HOME with an empty `.ssh`, so no test touches the real one.
pub struct TempHome {
    pub dir: tempfile::TempDir,
    /// The temp dir holding `dir` when it sits deeper (see
    /// [`TempHome::at`]); dropped after it.
    _root: Option<tempfile::TempDir>,
}

impl TempHome {
    pub fn new() -> TempHome {
        let dir = tempfile::Builder::new()
            .prefix("runpod-ssh-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join(".ssh")).expect("mkdir .ssh");
        TempHome { dir, _root: None }
    }

    /// A temp HOME at `PARENTS/NAME` inside a fresh temp dir, e.g.
    /// `at("Users", "홍길동")`: a Windows-style profile path with a
    /// non-ASCII user name.
    pub fn at(parents: &str, name: &str) -> TempHome {
        let root = tempfile::Builder::new()
            .prefix("runpod-ssh-test-")
            .tempdir()
            .expect("temp dir");
        let parent = root.path().join(parents);
        std::fs::create_dir_all(&parent).expect("mkdir parents");
        let dir = tempfile::Builder::new()
            .prefix(name)
            .rand_bytes(0)
            .tempdir_in(&parent)
            .expect("temp home");
        std::fs::create_dir_all(dir.path().join(".ssh")).expect("mkdir .ssh");
        TempHome {
            dir,
            _root: Some(root),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn ssh_dir(&self) -> PathBuf {
        self.dir.path().join(".ssh")
    }

    /// A command with HOME (and the XDG/VS Code locations) pointed here.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join(".config"))
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        c
    }

    /// Run `runpod-ssh ARGS…`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(bin()).args(args).output().expect("run runpod-ssh")
    }
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copy a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `ssh -G -F FILE HOST` output as (keyword, value) lines, or `Err(stderr)`
/// when ssh refuses the config.
pub fn ssh_g(
    home: &TempHome,
    ssh: &Path,
    file: &Path,
    host: &str,
) -> Result<Vec<(String, String)>, String> {
    let o = home
        .cmd(ssh)
        .arg("-G")
        .arg("-F")
        .arg(file)
        .arg(host)
        .output()
        .expect("run ssh -G");
    if !o.status.success() {
        return Err(stderr(&o));
    }
    Ok(stdout(&o)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect())
}

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
