//! A real OpenSSH `sshd` on 127.0.0.1, started per test: ephemeral port,
//! temp host key, temp `authorized_keys`, its own `sshd_config`. It never
//! listens anywhere else and never touches a real user's files: as root (as
//! in CI) it logs in a dedicated test user whose home is a temp-like folder;
//! otherwise the current user, whose `authorized_keys` it does not read
//! (`AuthorizedKeysFile` points at the temp file).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::require_tool;

/// The account tests log in as when running as root.
pub const TEST_USER: &str = "runpodsshtest";
const TEST_HOME: &str = "/tmp/runpod-ssh-test-user-home";

pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    pub authorized_keys: PathBuf,
    pub host_key: PathBuf,
    pub user: String,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn current_user() -> String {
    let o = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// As root: a locked-password (but not locked) user with /bin/sh, created once.
fn ensure_test_user() -> String {
    let exists = Command::new("id")
        .arg(TEST_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    std::fs::create_dir_all(TEST_HOME).expect("test user home");
    set_mode(Path::new(TEST_HOME), 0o755);
    if !exists {
        let st = Command::new("useradd")
            .args(["-M", "-d", TEST_HOME, "-s", "/bin/sh", TEST_USER])
            .status()
            .expect("useradd");
        assert!(
            st.success()
                || Command::new("id")
                    .arg(TEST_USER)
                    .status()
                    .is_ok_and(|s| s.success()),
            "useradd {TEST_USER} failed"
        );
        // `*`: no password login, but not "locked" (sshd refuses locked accounts).
        let _ = Command::new("usermod")
            .args(["-p", "*", TEST_USER])
            .status();
    }
    TEST_USER.to_string()
}

pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A free port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("addr")
        .port()
}

/// As root, create the dedicated login users `names` once per machine
/// (/bin/sh, password `*`: not locked, no password login; home
/// `/tmp/runpod-ssh-users/NAME`). An existing user is never modified:
/// rewriting /etc/passwd detaches the bind mount a running `TempHome`
/// program sees its home through (the kernel unmounts a mount point
/// renamed over in another namespace), and that program would then see
/// the real home. Call this before any test of the binary starts a
/// program (a `OnceLock` the tests share). `false` when not root (a
/// skip; under CI a failure).
pub fn create_login_users(names: &[&str]) -> bool {
    if !is_root() {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("tests with several login users must run as root under CI");
        }
        eprintln!("SKIPPED: creating test login users needs root");
        return false;
    }
    std::fs::create_dir_all("/tmp/runpod-ssh-users").expect("users dir");
    set_mode(Path::new("/tmp/runpod-ssh-users"), 0o755);
    for name in names {
        let exists = Command::new("id")
            .arg(name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            let st = Command::new("useradd")
                .args(["-M", "-s", "/bin/sh", "-p", "*", "-d"])
                .arg(Path::new("/tmp/runpod-ssh-users").join(name))
                .arg(name)
                .status()
                .expect("useradd");
            assert!(st.success(), "useradd {name} failed");
        }
    }
    true
}

/// Exclusive use of a login user by this process (an OS lock on
/// `/tmp/runpod-ssh-users/NAME.lock`, released when dropped or when the
/// process dies). The users and their homes are machine-wide: another
/// run of the same tests (another worktree, or the same test twice) would
/// otherwise wipe the home and its `authorized_keys` under a running
/// test's sshd, and that test would see its keys refused.
pub struct UserLock {
    _file: std::fs::File,
}

fn lock_user(name: &str) -> UserLock {
    use std::os::unix::io::AsRawFd;
    let path = Path::new("/tmp/runpod-ssh-users").join(format!("{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .expect("login user lock");
    // SAFETY: flock(2) on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        eprintln!("waiting for another test run to release login user {name}");
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(r, 0, "flock {}", path.display());
    }
    UserLock { _file: file }
}

/// The home of a login user made by [`create_login_users`], made afresh
/// and owned by it, with a 0700 `.ssh` holding `authorized_keys` (0600)
/// = `content`; the user is this process's until the lock is dropped.
pub fn login_user(name: &str, content: &[u8]) -> (PathBuf, UserLock) {
    let lock = lock_user(name);
    let home = user_home(name);
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(home.join(".ssh")).expect("home");
    std::fs::write(home.join(".ssh/authorized_keys"), content).expect("authorized_keys");
    set_mode(&home, 0o755);
    set_mode(&home.join(".ssh"), 0o700);
    set_mode(&home.join(".ssh/authorized_keys"), 0o600);
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{name}:"))
        .arg(&home)
        .status()
        .expect("chown");
    assert!(st.success());
    (home, lock)
}

/// A user's home from the password database (`getent passwd`).
fn user_home(name: &str) -> PathBuf {
    let o = Command::new("getent")
        .args(["passwd", name])
        .output()
        .expect("getent");
    let line = String::from_utf8_lossy(&o.stdout).to_string();
    PathBuf::from(line.trim().split(':').nth(5).expect("passwd entry"))
}

/// `ssh-keygen` a key pair; returns (private key path, public key line).
pub fn keygen(dir: &Path, name: &str, passphrase: &str) -> (PathBuf, String) {
    keygen_typed(dir, name, "ed25519", passphrase)
}

/// `ssh-keygen -t TYPE` a key pair (`ed25519`, `rsa`, `ecdsa`).
pub fn keygen_typed(dir: &Path, name: &str, kind: &str, passphrase: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-C", name, "-N", passphrase, "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(st.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("read .pub");
    (path, public.trim().to_string())
}

impl Sshd {
    /// Start sshd with `extra` config lines. `None` when sshd is missing
    /// and we are not under CI (where a missing sshd fails the test).
    pub fn start(extra: &[&str]) -> Option<Sshd> {
        Sshd::start_with_key("ed25519", extra)
    }

    /// Start sshd whose only host key is of type `kind` (`rsa`: the
    /// impostor of a pod pinned with an ed25519 key).
    pub fn start_with_key(kind: &str, extra: &[&str]) -> Option<Sshd> {
        Sshd::start_inner(kind, None, extra, &[])
    }

    /// Start sshd with `extra` config lines and command-line `args` (the
    /// rtt bench's `-r`: no re-exec per connection).
    pub fn start_with_args(extra: &[&str], args: &[&str]) -> Option<Sshd> {
        Sshd::start_inner("ed25519", None, extra, args)
    }

    /// Start sshd for the dedicated login `user` (see [`login_user`]),
    /// reading that user's own `~/.ssh/authorized_keys` (`%h`).
    pub fn start_for(user: &str, extra: &[&str]) -> Option<Sshd> {
        Sshd::start_inner("ed25519", Some(user), extra, &[])
    }

    fn start_inner(
        kind: &str,
        for_user: Option<&str>,
        extra: &[&str],
        args: &[&str],
    ) -> Option<Sshd> {
        let sshd = require_tool("sshd")?;
        require_tool("ssh-keygen")?;
        let root = is_root();
        let user = match for_user {
            Some(u) => u.to_string(),
            None if root => ensure_test_user(),
            None => current_user(),
        };
        if root {
            std::fs::create_dir_all("/run/sshd").ok();
        }
        let dir = tempfile::Builder::new()
            .prefix("runpod-ssh-sshd-")
            .tempdir()
            .expect("tempdir");
        // sshd reads authorized_keys as the user: the folder must be traversable.
        set_mode(dir.path(), 0o755);
        let (host_key, _) = keygen_typed(dir.path(), "host_key", kind, "");
        let authorized_keys = dir.path().join("authorized_keys");
        std::fs::write(&authorized_keys, "").expect("authorized_keys");
        set_mode(&authorized_keys, 0o644);
        let log = dir.path().join("sshd.log");
        let conf_path = dir.path().join("sshd_config");
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let keys_file = match for_user {
                Some(_) => "%h/.ssh/authorized_keys".to_string(),
                None => authorized_keys.display().to_string(),
            };
            let defaults = format!(
                "ListenAddress 127.0.0.1:{port}\nHostKey {}\nAuthorizedKeysFile {}\nPidFile none\nStrictModes no\nUsePAM no\nLogLevel DEBUG1\nMaxStartups 200\nMaxSessions 50\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nAllowUsers {user}\n",
                host_key.display(),
                keys_file
            );
            // sshd keeps the first value of a keyword: an `extra` line
            // replaces the default of the same keyword.
            let keyword = |l: &str| {
                l.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase()
            };
            let mut conf: String = defaults
                .lines()
                .filter(|d| {
                    let k = keyword(d);
                    k == "listenaddress" || !extra.iter().any(|e| keyword(e) == k)
                })
                .map(|d| format!("{d}\n"))
                .collect();
            for l in extra {
                conf.push_str(l);
                conf.push('\n');
            }
            std::fs::write(&conf_path, conf).expect("sshd_config");
            let _ = std::fs::remove_file(&log);
            let mut child = Command::new(&sshd)
                .arg("-D")
                .arg("-f")
                .arg(&conf_path)
                .arg("-E")
                .arg(&log)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sshd");
            let start = Instant::now();
            let mut up = false;
            while start.elapsed() < Duration::from_secs(5) {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    up = true;
                    break;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if up {
                return Some(Sshd {
                    child,
                    port,
                    dir,
                    log,
                    authorized_keys,
                    host_key,
                    user,
                });
            }
            // The port was taken in between, or sshd refused the config.
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("sshd did not start:\n{last_log}");
    }

    /// The listening sshd's process id (its CPU time, with every
    /// connection's it has reaped, is in `/proc/PID/stat`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Allow a public key line to log in.
    pub fn authorize(&self, public_line: &str) {
        let mut text = std::fs::read_to_string(&self.authorized_keys).unwrap_or_default();
        text.push_str(public_line);
        text.push('\n');
        std::fs::write(&self.authorized_keys, text).expect("authorized_keys");
    }

    /// The server's public host key line.
    pub fn host_public(&self) -> String {
        std::fs::read_to_string(self.host_key.with_extension("pub"))
            .expect("host .pub")
            .trim()
            .to_string()
    }

    pub fn log_path(&self) -> PathBuf {
        self.log.clone()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A client config block for this server.
    pub fn host_block(&self, alias: &str, identity: &Path, extra: &[&str]) -> String {
        let mut b = format!(
            "Host {alias}\n    HostName 127.0.0.1\n    Port {}\n    User {}\n    IdentityFile {}\n",
            self.port,
            self.user,
            identity.display()
        );
        for l in extra {
            b.push_str(&format!("    {l}\n"));
        }
        b
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An ssh-agent on a temp socket, killed on drop.
pub struct Agent {
    child: Child,
    pub sock: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    pub fn start() -> Option<Agent> {
        let agent = require_tool("ssh-agent")?;
        require_tool("ssh-add")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("agent.sock");
        let child = Command::new(agent)
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ssh-agent");
        let start = Instant::now();
        while !sock.exists() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(Agent {
            child,
            sock,
            _dir: dir,
        })
    }

    pub fn add(&self, key: &Path) {
        let st = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("ssh-add");
        assert!(st.success(), "ssh-add failed");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
