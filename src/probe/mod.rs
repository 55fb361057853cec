//! The staged reachability probe behind `runpod-ssh check`: a native SSH
//! client (russh, no `ssh` subprocess) that walks
//! `resolve → tcp → banner → kex → hostkey → auth → exec → forward`,
//! times every stage, stops at the first failure and says what to do.
//!
//! Every stage runs under our own deadline: russh has no connect timeout
//! and does not fail fast on a peer that never speaks. The host key
//! decision is ours ([`crate::known_hosts`]), never russh's: a changed key
//! stops the probe before any authentication is attempted.
//!
//! This module holds the probe's types (targets, options, reports), the
//! runner that probes many hosts and retries a busy one; the stages
//! themselves are in `stages`, what their failures mean in `diagnose`,
//! key authentication in `auth`, and the pod's facts in `facts`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::resolve::{Resolved, Source};
use crate::known_hosts::{self, Verdict};

mod auth;
mod diagnose;
mod facts;
mod stages;

pub use diagnose::{BUSY, beyond_native_client};
pub use facts::parse_facts;
use stages::run_stages;

/// The stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Resolve,
    Tcp,
    Banner,
    Kex,
    Hostkey,
    Auth,
    Exec,
    Forward,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Resolve,
        Stage::Tcp,
        Stage::Banner,
        Stage::Kex,
        Stage::Hostkey,
        Stage::Auth,
        Stage::Exec,
        Stage::Forward,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Resolve => "resolve",
            Stage::Tcp => "tcp",
            Stage::Banner => "banner",
            Stage::Kex => "kex",
            Stage::Hostkey => "hostkey",
            Stage::Auth => "auth",
            Stage::Exec => "exec",
            Stage::Forward => "forward",
        }
    }
}

pub use crate::known_hosts::Strict;

/// Everything the probe needs about one host, taken from the evaluated config.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub alias: String,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    /// As written, and expanded.
    pub identity_files: Vec<(String, PathBuf)>,
    /// Whether the identity files were configured (not OpenSSH's defaults).
    pub identities_configured: bool,
    pub identities_only: bool,
    pub user_known_hosts: Vec<PathBuf>,
    pub global_known_hosts: Vec<PathBuf>,
    pub host_key_alias: Option<String>,
    pub strict: Strict,
    pub hash_known_hosts: bool,
    /// `CheckHostIP yes` (off by default since OpenSSH 8.5).
    pub check_host_ip: bool,
    /// `RevokedHostKeys` files.
    pub revoked_host_keys: Vec<PathBuf>,
    /// A `KnownHostsCommand` is set. It is never run; a key only it could
    /// vouch for is not trusted.
    pub known_hosts_command: bool,
    pub is_proxy: bool,
    /// What the pod's own log says its host keys are (RunPod's start
    /// script prints them): fed to `known_hosts::decide`, which then
    /// refuses any other key. Empty: the config alone decides.
    #[serde(skip)]
    pub evidence: known_hosts::Evidence,
    /// The command that resets a changed pin, when runpod-ssh pinned it
    /// (set by the caller, which knows the entry and the command line);
    /// otherwise the hint names `ssh-keygen -R`.
    pub reset_pin: Option<String>,
    /// Why runpod-ssh cannot know what ssh would decide about the host
    /// key (a `Match exec` it never runs, a path token it cannot
    /// reproduce): no key is accepted or recorded then.
    pub unverifiable: Option<String>,
    /// `IdentityAgent` as ssh applies it: `None` = `SSH_AUTH_SOCK` as
    /// set; `Some(None)` = no agent; `Some(Some(path))` = that socket.
    pub identity_agent: Option<Option<PathBuf>>,
    /// The algorithms the config allows (`HostKeyAlgorithms`,
    /// `KexAlgorithms`, `Ciphers`, `MACs`), when it restricts them.
    pub algorithms: crate::algorithms::Allowed,
}

impl Target {
    /// The name host keys are recorded under.
    pub fn key_name(&self) -> String {
        match &self.host_key_alias {
            Some(a) => a.to_ascii_lowercase(),
            None => known_hosts::host_key_name(&self.hostname.to_ascii_lowercase(), self.port),
        }
    }

    /// The names ssh looks the key up under, for a connection to `peer`
    /// (sshconnect.c `check_host_key`).
    pub fn lookup(&self, peer: Option<std::net::SocketAddr>) -> known_hosts::Lookup {
        let host = self.hostname.to_ascii_lowercase();
        let portless = (self.host_key_alias.is_none() && self.port != 22).then(|| host.clone());
        // CheckHostIP is off for loopback, and when the host is its address.
        // sshconnect.c compares the hostname with the address *name*
        // (`[ip]:port` off port 22), so an IP HostName on another port
        // keeps the check.
        let ip = peer.filter(|_| self.check_host_ip).and_then(|a| {
            let ip = known_hosts::host_key_name(&a.ip().to_string(), self.port);
            (!a.ip().is_loopback() && ip != host).then_some(ip)
        });
        // ssh never writes a name holding these, and fails a new key then.
        let bad_name = self
            .hostname
            .contains(['@', '?', '*', '#', '[', ']', '|', '\'', '"', '\\']);
        known_hosts::Lookup {
            name: self.key_name(),
            portless,
            ip,
            readonly: self.user_known_hosts.is_empty() || bad_name,
            known_hosts_command: self.known_hosts_command,
            unverifiable: self.unverifiable.clone(),
        }
    }
}

/// Why the `resolve` stage failed.
#[derive(Debug, Clone)]
pub struct ResolveFailure {
    pub error: String,
    pub hint: String,
}

/// Build the target for `alias` from the evaluated config.
pub fn target(alias: &str, r: &Resolved) -> Result<Target, ResolveFailure> {
    if !r.ok() {
        let first = r.errors.first().map(|d| d.to_string()).unwrap_or_default();
        return Err(ResolveFailure {
            error: format!("ssh refuses the config: {first}"),
            hint: format!(
                "run `runpod-ssh show {}` to see every problem, and fix those lines",
                crate::output::shell_quote(alias)
            ),
        });
    }
    let from_config = r.settings().iter().any(|s| s.keyword != "ignoreunknown");
    let (hostname, hsrc) = r.hostname();
    if hsrc.is_none() && !from_config && !looks_like_address(alias) {
        return Err(ResolveFailure {
            error: format!("no host entry for {alias} in the config"),
            hint: "add it: `runpod-ssh add 'ssh root@IP -p PORT -i ~/.ssh/id_ed25519'` (the line from RunPod's Connect tab)".into(),
        });
    }
    for k in ["proxycommand", "proxyjump"] {
        if let Some(s) = r.get(k)
            && !s.args[0].eq_ignore_ascii_case("none")
        {
            return Err(ResolveFailure {
                error: format!(
                    "{alias} goes through {k} ({}), which the native probe does not follow",
                    s.source
                ),
                hint: format!(
                    "check it with `ssh -v {} true`; RunPod pods need no proxy with the exposed-TCP command",
                    crate::output::shell_quote(alias)
                ),
            });
        }
    }
    let paths = crate::sshpaths::config_paths(r).map_err(|e| ResolveFailure {
        error: format!("ssh refuses the config: {e}"),
        hint: format!(
            "fix that path in the config; `ssh {}` stops with the same error",
            crate::output::shell_quote(alias)
        ),
    })?;
    if let Some(why) = crate::sshpaths::canonicalization(r) {
        return Err(ResolveFailure {
            error: why,
            hint: format!(
                "check this host with `ssh {}` itself, or set `CanonicalizeHostname no` for it",
                crate::output::shell_quote(alias)
            ),
        });
    }
    let algorithms = crate::algorithms::allowed(r).map_err(|e| ResolveFailure {
        error: format!("ssh refuses the config: {e}"),
        hint: "fix the algorithm list in the config".into(),
    })?;
    let flag = |kw: &str| {
        r.get(kw)
            .is_some_and(|s| matches!(s.args[0].to_ascii_lowercase().as_str(), "yes" | "true"))
    };
    let strict = match r
        .get("stricthostkeychecking")
        .map(|s| s.args[0].to_ascii_lowercase())
    {
        Some(v) if v == "yes" || v == "true" => Strict::Yes,
        Some(v) if v == "accept-new" => Strict::AcceptNew,
        Some(v) if v == "no" || v == "false" || v == "off" => Strict::No,
        _ => Strict::Ask,
    };
    Ok(Target {
        reset_pin: None,
        alias: alias.to_string(),
        is_proxy: hostname.eq_ignore_ascii_case(crate::runpod::PROXY_HOST),
        evidence: Default::default(),
        hostname,
        port: r.port().0,
        user: r.user().0,
        identities_configured: !r.all("identityfile").is_empty(),
        identity_files: paths.identity_files,
        identities_only: flag("identitiesonly"),
        user_known_hosts: paths.user_known_hosts,
        global_known_hosts: paths.global_known_hosts,
        host_key_alias: r.get("hostkeyalias").map(|s| s.args[0].clone()),
        strict,
        hash_known_hosts: flag("hashknownhosts"),
        check_host_ip: flag("checkhostip"),
        revoked_host_keys: paths.revoked_host_keys,
        known_hosts_command: r
            .get("knownhostscommand")
            .is_some_and(|s| !s.args[0].eq_ignore_ascii_case("none")),
        unverifiable: paths.unverifiable,
        identity_agent: paths.identity_agent,
        algorithms,
    })
}

fn looks_like_address(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok() || s.contains('.')
}

/// Passphrases typed this run, per key file (`None`: the user gave none).
pub type Passphrases = Arc<tokio::sync::Mutex<Vec<(PathBuf, Option<String>)>>>;

/// How to probe.
#[derive(Debug, Clone)]
pub struct Options {
    /// The deadline of every stage.
    pub timeout: Duration,
    /// When the whole run must end: a stage gets what is left, if less.
    pub deadline: Option<Instant>,
    /// Skip the remote facts (GPU, disk).
    pub quick: bool,
    /// `SSH_AUTH_SOCK`, when set.
    pub agent: Option<PathBuf>,
    /// A terminal is attached: encrypted keys may prompt for a passphrase.
    pub interactive: bool,
    /// Only one passphrase prompt at a time, and each key asked once.
    pub passphrases: Passphrases,
    /// Write newly accepted host keys to known_hosts (accept-new). Off for
    /// a dry run, which writes nothing anywhere.
    pub record_host_keys: bool,
    /// After every stage passed, run this command and keep its exit status
    /// and output in [`Report::command`] (`autostop`).
    pub then_run: Option<String>,
}

/// One key offered at the `auth` stage.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    /// The identity file, or `agent: COMMENT`.
    pub key: String,
    pub fingerprint: Option<String>,
    /// `accepted`, `rejected`, `missing`, `unreadable`, `encrypted`, `wrong passphrase`.
    pub result: String,
}

/// What a successful login tells about the pod.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    /// `nvidia-smi -L` lines.
    pub gpus: Vec<String>,
    /// Free bytes on `/workspace` (the volume that survives restarts).
    pub workspace_free: Option<u64>,
    /// Free bytes on `/` (the container disk, wiped on stop).
    pub root_free: Option<u64>,
    /// `/workspace` does not exist: the pod has no volume, so everything
    /// is lost when it stops (the setup guide's main warning).
    pub workspace_missing: bool,
    /// `/workspace` exists but is a folder on the container disk, not a
    /// volume of its own: wiped on stop as well.
    pub workspace_on_container_disk: bool,
}

/// The host key the server showed, and what we made of it.
#[derive(Debug, Clone, Serialize)]
pub struct HostKeyInfo {
    pub fingerprint: String,
    pub algorithm: String,
    pub recorded_as: String,
    pub verdict: Verdict,
    /// Newly written to this file (accept-new).
    pub recorded_in: Option<PathBuf>,
    /// Why an accepted new key was not written (a device such as
    /// `/dev/null`, or a file that is not regular).
    pub not_recorded: Option<String>,
}

/// The outcome for one host.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub alias: String,
    pub endpoint: Option<String>,
    pub ok: bool,
    /// The failing stage, or `None` when all passed.
    pub stage: Option<Stage>,
    pub error: Option<String>,
    pub hint: Option<String>,
    /// Milliseconds per completed (or failed) stage, in order.
    pub timings: Vec<(Stage, f64)>,
    pub total_ms: f64,
    pub host_key: Option<HostKeyInfo>,
    pub offers: Vec<Offer>,
    pub facts: Option<Facts>,
    /// Connections made: more than 1 when a busy server was tried again.
    pub attempts: u32,
    /// The server refused new connections for now (MaxStartups).
    #[serde(skip)]
    pub busy: bool,
    /// The exit status and output of [`Options::then_run`].
    pub command: Option<(u32, String)>,
    #[serde(skip)]
    pub source: Option<Source>,
}

impl Report {
    fn new(alias: &str) -> Report {
        Report {
            alias: alias.to_string(),
            endpoint: None,
            ok: false,
            stage: None,
            error: None,
            hint: None,
            timings: Vec::new(),
            total_ms: 0.0,
            host_key: None,
            offers: Vec::new(),
            facts: None,
            attempts: 1,
            busy: false,
            command: None,
            source: None,
        }
    }

    /// The slowest stage and its time.
    pub fn slowest(&self) -> Option<(Stage, f64)> {
        self.timings
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn fail(&mut self, stage: Stage, error: impl Into<String>, hint: impl Into<String>) {
        self.stage = Some(stage);
        self.error = Some(error.into());
        let h = hint.into();
        self.hint = (!h.is_empty()).then_some(h);
    }
}

/// Report a `resolve` failure without probing.
pub fn resolve_failed(alias: &str, f: ResolveFailure) -> Report {
    let mut r = Report::new(alias);
    r.timings.push((Stage::Resolve, 0.0));
    r.fail(Stage::Resolve, f.error, f.hint);
    r
}

/// Probe many hosts, at most `jobs` at once, on a runtime of our own.
/// `done` is called as each host finishes (for a progress display).
/// Reports come back in the order given.
pub fn probe_all(
    hosts: Vec<(String, Result<Target, ResolveFailure>)>,
    opts: &Options,
    jobs: usize,
    done: impl Fn() + Send + Sync + 'static,
) -> std::io::Result<Vec<Report>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let done = Arc::new(done);
    Ok(rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(jobs.clamp(1, 256)));
        let mut tasks = Vec::new();
        for (alias, t) in hosts {
            let (sem, opts, done, name) = (sem.clone(), opts.clone(), done.clone(), alias.clone());
            let task = tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                let r = match t {
                    Ok(t) => probe(&t, &opts).await,
                    Err(f) => resolve_failed(&name, f),
                };
                done();
                r
            });
            tasks.push((alias, task));
        }
        let mut out = Vec::new();
        for (alias, task) in tasks {
            out.push(task.await.unwrap_or_else(|e| {
                resolve_failed(
                    &alias,
                    ResolveFailure {
                        error: format!("internal error: {e}"),
                        hint: String::new(),
                    },
                )
            }));
        }
        out
    }))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// Probe one host. Never panics, never hangs past the per-stage deadlines.
/// A busy server (sshd's MaxStartups) is tried again after a jittered
/// pause, [`BUSY_TRIES`] times in all, within the first try's timeout: a
/// later try's stages share what is left of it.
pub async fn probe(t: &Target, opts: &Options) -> Report {
    let started = Instant::now();
    let mut attempt = 1;
    let mut was_busy = None;
    let mut retry: Option<Options> = None;
    loop {
        let mut rep = Report::new(&t.alias);
        rep.endpoint = Some(format!("{}:{}", t.hostname, t.port));
        rep.attempts = attempt;
        run_stages(t, retry.as_ref().unwrap_or(opts), &mut rep).await;
        rep.ok = rep.stage.is_none();
        if rep.busy {
            was_busy = rep.error.clone();
        } else if rep.stage == Some(Stage::Banner)
            && let (Some(e), Some(busy)) = (rep.error.as_mut(), &was_busy)
        {
            // The last try heard nothing it could read, but an earlier one
            // was sshd saying it is busy: not "another service".
            e.push_str(&format!(" (try {attempt}; an earlier try: {busy})"));
            rep.hint = Some(diagnose::BUSY_HINT.into());
        }
        if rep.busy && attempt < BUSY_TRIES {
            let pause = busy_pause(attempt);
            let left = opts
                .timeout
                .saturating_sub(started.elapsed())
                .min(opts.budget());
            if pause + MIN_TRY < left {
                tokio::time::sleep(pause).await;
                attempt += 1;
                // Whole tenths, rounded down: messages say "within 1.4s"
                // and stay true.
                let rest = opts.timeout.saturating_sub(started.elapsed());
                let rest = Duration::from_millis(rest.as_millis() as u64 / 100 * 100);
                retry = Some(Options {
                    timeout: rest.max(MIN_TRY),
                    ..opts.clone()
                });
                continue;
            }
        }
        if rep.busy
            && let Some(e) = rep.error.as_mut()
        {
            e.push_str(&format!(
                " ({attempt} {} within {}s)",
                if attempt == 1 { "try" } else { "tries" },
                opts.timeout.as_secs_f64()
            ));
        }
        rep.total_ms = ms(started.elapsed());
        return rep;
    }
}

impl Options {
    /// The time the next stage may take.
    fn budget(&self) -> Duration {
        match self.deadline {
            Some(d) => self
                .timeout
                .min(d.saturating_duration_since(Instant::now())),
            None => self.timeout,
        }
    }
}

fn extra_for_prompt(opts: &Options) -> Duration {
    // A person typing a passphrase is not a slow server.
    if opts.interactive {
        Duration::from_secs(120)
    } else {
        Duration::ZERO
    }
}

/// How many times a busy server (see [`BUSY`]) is tried in all.
const BUSY_TRIES: u32 = 3;

/// The least time worth a busy server's next try.
const MIN_TRY: Duration = Duration::from_millis(100);

/// The pause before try `n + 1` after a busy answer: `n` × 200–600 ms,
/// jittered so many probes (or many users) do not come back in step.
fn busy_pause(n: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(n);
    Duration::from_millis((200 + h.finish() % 400) * u64::from(n))
}
