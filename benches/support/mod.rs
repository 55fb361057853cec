//! What the `check` and `rtt` benches share (each includes it with
//! `mod support;`, beside `tests/common`): the timing (a warm-up run, then
//! the median of timed runs), the sshd start, the client's login (a key in
//! a temp home, authorized on each real sshd) and the commands timed
//! beside runpod-ssh (`ssh … true` one at a time, or 50 through
//! `xargs -P 50`). A folder, not `benches/support.rs`: Cargo would take
//! that for a bench of its own.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use crate::common::TempHome;
use crate::common::sshd::{Sshd, keygen};

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Milliseconds `f` takes, median of `runs` after a warm-up; `f` says
/// whether the run succeeded (a failed run stops the bench).
pub fn time_ms(mut f: impl FnMut() -> bool, runs: usize) -> f64 {
    assert!(f(), "warm-up run failed");
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                assert!(f(), "run failed");
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

/// The test harness's sshd on 127.0.0.1 with `conf` lines added, started
/// with `args`; `None`, said once, when sshd is not available.
pub fn start_sshd(conf: &[&str], args: &[&str]) -> Option<Sshd> {
    let s = Sshd::start_with_args(conf, args);
    if s.is_none() {
        eprintln!("sshd not available; benchmark skipped");
    }
    s
}

/// The client side: a temp home whose key is authorized on each server,
/// and the options every bench host carries (only that key; pins in a
/// known_hosts of the bench's own; a first contact accepted).
pub struct Login {
    pub home: TempHome,
    pub key: PathBuf,
    pub opts: Vec<String>,
}

impl Login {
    pub fn new(servers: &[&Sshd]) -> Login {
        let home = TempHome::new();
        let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
        for s in servers {
            s.authorize(&public);
        }
        let kh = home.ssh_dir().join("known_hosts_runpod");
        let opts = vec![
            "IdentitiesOnly yes".to_string(),
            format!("UserKnownHostsFile {}", kh.display()),
            "StrictHostKeyChecking accept-new".to_string(),
        ];
        Login { home, key, opts }
    }

    /// `opts`, as `Sshd::host_block` takes them.
    pub fn opt_refs(&self) -> Vec<&str> {
        self.opts.iter().map(String::as_str).collect()
    }

    /// Run `program args` in the temp home, output discarded: whether it
    /// succeeded.
    pub fn ok<S: AsRef<OsStr>>(&self, program: &Path, args: &[S]) -> bool {
        self.home
            .cmd(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `ssh -o BatchMode=yes -F CFG ALIAS true`.
    pub fn ssh_true(&self, ssh: &Path, cfg: &Path, alias: &str) -> bool {
        let cfg = cfg.as_os_str();
        self.ok(
            ssh,
            &[
                OsStr::new("-o"),
                OsStr::new("BatchMode=yes"),
                OsStr::new("-F"),
                cfg,
                OsStr::new(alias),
                OsStr::new("true"),
            ],
        )
    }

    /// `ssh … true` to every alias at once (`xargs -P 50`).
    pub fn xargs_ssh(&self, ssh: &Path, cfg: &Path, aliases: &[String]) -> bool {
        let script = format!(
            "printf '%s\\n' {} | xargs -P 50 -I{{}} {} -o BatchMode=yes -F {} {{}} true",
            aliases.join(" "),
            ssh.display(),
            cfg.display()
        );
        self.ok(Path::new("sh"), &["-c", script.as_str()])
    }
}
