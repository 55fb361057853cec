//! Helpers shared by the integration tests: finding real OpenSSH tools,
//! temp homes, running our binary.
#![allow(dead_code)]

#[cfg(unix)]
pub mod fake_api;
#[cfg(unix)]
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where a tool is, or `None`. Under CI (`CI=true`) a missing tool is a
/// failure, never a silent skip.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    // The Windows lane (Wine, see .ci/run) has no OpenSSH: the tests that
    // compare with ssh/sshd are the Linux lane's; here they skip, saying so.
    #[cfg(windows)]
    {
        eprintln!("SKIPPED on Windows: `{name}` (OpenSSH) is not run by the Windows lane");
        None
    }
    #[cfg(not(windows))]
    {
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
}

/// A config context for in-process calls that depends on nothing of this
/// process: `home` as the home, a fixed user and uid, no system config.
pub fn test_ctx(home: &Path) -> runpod_ssh::config::Context {
    runpod_ssh::config::Context {
        local_user: "tester".into(),
        home: home.to_path_buf(),
        user_home: home.to_path_buf(),
        uid: 4242,
        check_include_permissions: false,
        system_config: None,
    }
}

/// The built `runpod-ssh` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_runpod-ssh"))
}

/// The shell that makes the temp dir the account's home: in a private
/// mount namespace, an overlay over `/etc` (upper layer on a private
/// tmpfs) takes a copy of `/etc/passwd` whose entry for our uid names the
/// temp dir, then the program runs. ssh and runpod-ssh both take `~` from
/// the password database (getpwuid), so `HOME` alone would not keep them
/// out of the real home. Not a bind mount over `/etc/passwd`: `useradd`
/// elsewhere renames a new file over it, which detaches such a mount and
/// would silently give the real home back; `/etc` itself is never
/// renamed. The system client config (`/etc/ssh/ssh_config`, which both
/// read without `-F`) is the home's `.ssh_config_system` (empty unless a
/// test writes it; see [`TempHome::system_config`]), so the machine's own
/// settings (Debian's `HashKnownHosts yes`) do not leak into a test.
const ISOLATE: &str = r#"t="$1/.isolate.$$" && mkdir -p "$t" && mount -t tmpfs none "$t" && mkdir "$t/u" "$t/w" && mount -t overlay overlay -o "lowerdir=/etc,upperdir=$t/u,workdir=$t/w" /etc && awk -F: -v OFS=: -v u="$(id -u)" -v h="$1" '$3==u{$6=h}1' /etc/passwd > "$t/p" && cat "$t/p" > /etc/passwd && { [ ! -d /etc/ssh ] || { if [ -e "$1/.ssh_config_system" ]; then cat "$1/.ssh_config_system"; fi > /etc/ssh/ssh_config; }; } && shift && exec "$@""#;

/// How to enter a private mount namespace here: `unshare -m` as root,
/// `unshare -rm` (a user namespace) otherwise; `None` when neither works.
#[cfg(unix)]
fn namespace_flags() -> Option<&'static str> {
    static FLAGS: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *FLAGS.get_or_init(|| {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let candidates: &[&'static str] = if root { &["-m", "-rm"] } else { &["-rm"] };
        candidates.iter().copied().find(|f| {
            Command::new("unshare")
                .args([f, "--", "true"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    })
}

/// Without a way to isolate (Unix), a test cannot run safely: under CI
/// that is a failure; otherwise the test binary stops here with a message
/// (a skip), never touching the real home.
fn ensure_isolation() {
    #[cfg(unix)]
    if namespace_flags().is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!(
                "tests need a private mount namespace (unshare -m as root, or unshare -rm) to give runpod-ssh and ssh a temporary home; none could be made"
            );
        }
        eprintln!(
            "SKIPPED: no private mount namespace (unshare -m / -rm) here, so runpod-ssh and ssh cannot be given a temporary home; not running against the real one"
        );
        std::process::exit(0);
    }
}

/// A temp home with an empty `.ssh`, so no test touches the real one: the
/// programs [`TempHome::cmd`] starts see it as `$HOME` and as the
/// account's home in the password database.
pub struct TempHome {
    pub dir: tempfile::TempDir,
    /// The temp dir holding `dir` when it sits deeper (see
    /// [`TempHome::at`]); dropped after it.
    _root: Option<tempfile::TempDir>,
}

impl TempHome {
    /// Without a way to isolate (Unix), the test cannot run safely: under CI that
    /// is a failure; otherwise the test binary stops here with a message
    /// (a skip), never touching the real home.
    pub fn new() -> TempHome {
        ensure_isolation();
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
        ensure_isolation();
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

    /// The file programs started with [`TempHome::cmd`] see as
    /// `/etc/ssh/ssh_config` (when the machine has one).
    pub fn system_config(&self) -> PathBuf {
        self.path().join(".ssh_config_system")
    }

    /// VS Code's `User` folder for this home: `$XDG_CONFIG_HOME/Code/User`,
    /// which on Windows is `%APPDATA%\Code\User` (see [`TempHome::cmd`]).
    pub fn vscode_user_dir(&self) -> PathBuf {
        self.path().join(".config").join("Code").join("User")
    }

    pub fn ssh_dir(&self) -> PathBuf {
        self.dir.path().join(".ssh")
    }

    /// A command that runs `program` with this dir as its home: in the
    /// password database (a private mount namespace, see [`ISOLATE`]) and
    /// in HOME and the XDG/VS Code locations. Callers append arguments
    /// with `.arg`/`.args` as usual.
    #[cfg(unix)]
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let flags = namespace_flags().expect("TempHome::new checked for a namespace");
        let mut c = Command::new("unshare");
        c.args([flags, "--", "sh", "-c", ISOLATE, "sh"])
            .arg(self.path())
            .arg(program);
        self.env(&mut c);
        c
    }

    /// On Windows ssh and runpod-ssh take the home from %USERPROFILE%.
    #[cfg(windows)]
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        // %APPDATA% is the home's `.config`, so one fixture tree (VS Code's
        // `.config/Code/User`) serves both lanes.
        c.env("USERPROFILE", self.path())
            .env("APPDATA", self.path().join(".config"));
        self.env(&mut c);
        c
    }

    fn env(&self, c: &mut Command) {
        c.env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join(".config"))
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .env_remove("SSH_AUTH_SOCK")
            // Never the real RunPod API: only a test's fake API (set after).
            .env_remove("RUNPOD_API_KEY")
            .env("RUNPOD_API_URL", "http://127.0.0.1:9")
            .stdin(Stdio::null());
    }

    /// Run `runpod-ssh ARGS…`.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(bin()).args(args).output();
        // Under Wine (the Windows lane), starting a process now and then
        // fails with ERROR_INTERNAL_ERROR when the machine is busy (seen
        // once in a full lane, never in 15 runs of the same test alone):
        // nothing was started, so start it once more.
        #[cfg(windows)]
        let out = match out {
            Err(e) if e.raw_os_error() == Some(1359) => self.cmd(bin()).args(args).output(),
            r => r,
        };
        out.expect("run runpod-ssh")
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
