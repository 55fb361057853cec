//! The staged reachability probe behind `runpod-ssh check`: a native SSH
//! client (russh, no `ssh` subprocess) that walks
//! `resolve → tcp → banner → kex → hostkey → auth → exec → forward`,
//! times every stage, stops at the first failure and says what to do.
//!
//! Every stage runs under our own deadline: russh has no connect timeout
//! and does not fail fast on a peer that never speaks. The host key
//! decision is ours ([`crate::known_hosts`]), never russh's: a changed key
//! stops the probe before any authentication is attempted.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, AuthResult, Handle};
use russh::keys::PrivateKeyWithHashAlg;
use russh::{ChannelOpenFailure, Disconnect};
use serde::Serialize;
use ssh_key::{HashAlg, PublicKey};
use tokio::net::TcpStream;

use crate::client::{
    Recorder, Seen, Verifier, connect_agent, hash_for, lines_of, preferred_host_keys, run,
};
use crate::config::resolve::{Resolved, Source};
use crate::known_hosts::{self, Decision, Verdict};

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
            hint: "add it: runpod-ssh add 'ssh root@IP -p PORT -i ~/.ssh/id_ed25519' (the line from RunPod's Connect tab)".into(),
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
/// pause, [`BUSY_TRIES`] times in all, while the timeout allows.
pub async fn probe(t: &Target, opts: &Options) -> Report {
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let mut rep = Report::new(&t.alias);
        rep.endpoint = Some(format!("{}:{}", t.hostname, t.port));
        rep.attempts = attempt;
        run_stages(t, opts, &mut rep).await;
        rep.ok = rep.stage.is_none();
        if rep.busy && attempt < BUSY_TRIES {
            let pause = busy_pause(attempt);
            let left = opts
                .timeout
                .saturating_sub(started.elapsed())
                .min(opts.budget());
            if pause < left {
                tokio::time::sleep(pause).await;
                attempt += 1;
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

async fn run_stages(t: &Target, opts: &Options, rep: &mut Report) {
    let to = opts.timeout;
    let secs = to.as_secs_f64();

    // resolve: the name to addresses.
    let s = Instant::now();
    let addrs = tokio::time::timeout(
        opts.budget(),
        tokio::net::lookup_host((t.hostname.as_str(), t.port)),
    )
    .await;
    rep.timings.push((Stage::Resolve, ms(s.elapsed())));
    let addrs: Vec<std::net::SocketAddr> = match addrs {
        Ok(Ok(a)) => a.collect(),
        Ok(Err(e)) => {
            return rep.fail(
                Stage::Resolve,
                format!("cannot resolve {}: {e}", t.hostname),
                "check the HostName; RunPod gives an IP address in the exposed-TCP command",
            );
        }
        Err(_) => {
            return rep.fail(
                Stage::Resolve,
                format!("resolving {} took over {secs}s", t.hostname),
                "check your DNS or use the IP address",
            );
        }
    };

    // tcp
    let s = Instant::now();
    let mut last_err = None;
    let mut stream = None;
    for a in &addrs {
        match tokio::time::timeout(
            opts.budget().saturating_sub(s.elapsed()),
            TcpStream::connect(a),
        )
        .await
        {
            Ok(Ok(st)) => {
                stream = Some(st);
                break;
            }
            Ok(Err(e)) => last_err = Some(Ok(e)),
            Err(_) => last_err = Some(Err(())),
        }
    }
    rep.timings.push((Stage::Tcp, ms(s.elapsed())));
    let Some(stream) = stream else {
        let restart = format!(
            "paste the pod's current command into `runpod-ssh add --name {} '…'` (Connect tab → SSH over exposed TCP)",
            crate::output::shell_quote(&t.alias)
        );
        return match last_err {
            Some(Ok(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => rep.fail(
                Stage::Tcp,
                format!("connection refused by {}:{}", t.hostname, t.port),
                format!("the pod is stopped, or its port changed after a restart: {restart}"),
            ),
            Some(Ok(e)) => rep.fail(
                Stage::Tcp,
                format!("cannot connect to {}:{}: {e}", t.hostname, t.port),
                format!("check your network; if the pod restarted, {restart}"),
            ),
            _ => rep.fail(
                Stage::Tcp,
                format!("no answer from {}:{} within {secs}s", t.hostname, t.port),
                format!("the pod may be stopped or a firewall drops the port; {restart}"),
            ),
        };
    };
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();

    // banner + kex + hostkey: one connect_stream over a recording stream.
    let mut entries: Vec<known_hosts::Entry> = match known_hosts::load(
        &t.user_known_hosts
            .iter()
            .chain(&t.global_known_hosts)
            .cloned()
            .collect::<Vec<_>>(),
    ) {
        Ok(e) => e,
        Err(e) => {
            return rep.fail(
                Stage::Hostkey,
                format!("cannot check the host key: {e}"),
                "a known_hosts file that cannot be read might hold this host's key; fix or remove that file (or its UserKnownHostsFile line)",
            );
        }
    };
    for f in &t.revoked_host_keys {
        match known_hosts::load_revoked(f) {
            Ok(e) => entries.extend(e),
            // ssh refuses every host key when it cannot check this file.
            Err(e) => {
                return rep.fail(
                    Stage::Hostkey,
                    format!("cannot check the host key against RevokedHostKeys: {e}"),
                    "ssh refuses to connect too; fix or remove the RevokedHostKeys line",
                );
            }
        }
    }
    let lookup = t.lookup(peer);
    // Only what the config allows (HostKeyAlgorithms & co.), known key
    // types first.
    let preferred = t
        .algorithms
        .preferred(preferred_host_keys(&entries, &lookup.name));
    if preferred.key.is_empty() {
        return rep.fail(
            Stage::Kex,
            "HostKeyAlgorithms allows no host key type runpod-ssh's client supports",
            "check this host with `ssh` itself, or allow ssh-ed25519 in HostKeyAlgorithms",
        );
    }
    let entries = Arc::new(entries);
    let (handler, state) = Verifier::new(t, entries.clone(), lookup.clone());
    let config = Arc::new(client::Config {
        nodelay: true,
        inactivity_timeout: Some(to * 2),
        preferred,
        ..Default::default()
    });
    let seen = Arc::new(Mutex::new(Seen::default()));
    let wake = Arc::new(tokio::sync::Notify::new());
    let wrapped = Recorder {
        inner: stream,
        seen: seen.clone(),
        wake: wake.clone(),
    };
    let s = Instant::now();
    let conn = client::connect_stream(config, wrapped, handler);
    tokio::pin!(conn);
    let banner_end = tokio::time::Instant::now() + opts.budget();
    // Wait for the identification line (or the end of the attempt).
    let early = loop {
        let done = seen
            .lock()
            .map(|s| s.ident_at.is_some() || s.eof || s.error.is_some())
            .unwrap_or(true);
        if done {
            break None;
        }
        tokio::select! {
            r = &mut conn => break Some(r),
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(banner_end) => break None,
        }
    };
    let (ident_at, bytes, eof, read_err, reset) = match seen.lock() {
        Ok(g) => (g.ident_at, g.bytes.clone(), g.eof, g.error.clone(), g.reset),
        Err(_) => (None, Vec::new(), false, None, false),
    };
    rep.timings.push((
        Stage::Banner,
        ms(ident_at.map_or_else(|| s.elapsed(), |at| at - s)),
    ));
    let Some(ident_at) = ident_at else {
        let timed_out = early.is_none() && !eof && read_err.is_none();
        let russh_err = early.and_then(|r| r.err()).map(|e| e.to_string());
        let seen = Received {
            bytes: &bytes,
            read_err,
            reset,
        };
        return banner_failed(rep, seen, russh_err, timed_out, secs);
    };
    // ssh speaks protocol 2 only (`SSH-2.0-`, or `SSH-1.99-` for both).
    if let Some(id) = lines_of(&bytes).into_iter().find(|l| l.starts_with("SSH-"))
        && !(id.starts_with("SSH-2.0-") || id.starts_with("SSH-1.99-"))
    {
        let id: String = id.chars().take(60).collect();
        return rep.fail(
            Stage::Banner,
            format!("the server speaks an SSH protocol version ssh does not: {id:?}"),
            "this is not a usable SSH server; use the port RunPod lists for SSH (internal port 22)",
        );
    }
    let conn = match early {
        Some(r) => Ok(r),
        None => tokio::time::timeout(opts.budget(), conn).await,
    };
    let (key, verdict, decision, key_at) = match state.lock() {
        Ok(st) => (st.key.clone(), st.verdict.clone(), st.decision, st.at),
        Err(_) => (None, None, None, None),
    };
    // ssh reads up to 1024 lines before the identification, russh 20 of
    // at most 255 bytes: say so rather than blame the server.
    if key_at.is_none()
        && let Some(why) = beyond_native_client(&bytes)
    {
        return rep.fail(
            Stage::Banner,
            why,
            "ssh itself accepts this server; check it with `ssh`, or have the server print fewer lines before its SSH banner",
        );
    }
    let kex_ms = key_at.map_or(ms(ident_at.elapsed()), |at| ms(at - ident_at));
    rep.timings.push((Stage::Kex, kex_ms));
    let (Some(key), Some(verdict), Some(decision), Some(key_at)) = (key, verdict, decision, key_at)
    else {
        return match conn {
            Err(_) => rep.fail(Stage::Kex, format!("key exchange did not finish within {secs}s"), "the server is overloaded, or the network drops packets"),
            Ok(Err(e)) => rep.fail(
                Stage::Kex,
                format!("key exchange failed: {e}"),
                "no algorithm in common with the server, or it closed the connection (MaxStartups?)",
            ),
            Ok(Ok(_)) => rep.fail(Stage::Kex, "the server showed no host key", ""),
        };
    };
    rep.timings.push((Stage::Hostkey, ms(key_at.elapsed())));
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    let mut info = HostKeyInfo {
        fingerprint: fingerprint.clone(),
        algorithm: key.algorithm().as_str().to_string(),
        recorded_as: lookup.name.clone(),
        verdict: verdict.clone(),
        recorded_in: None,
        not_recorded: None,
    };
    if decision == Decision::Refuse {
        rep.host_key = Some(info);
        return hostkey_refused(rep, t, &lookup, &verdict, &fingerprint);
    }
    let mut handle = match conn {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            rep.host_key = Some(info);
            return rep.fail(
                Stage::Hostkey,
                format!("the server did not prove it holds its host key: {e}"),
                "",
            );
        }
        Err(_) => {
            rep.host_key = Some(info);
            return rep.fail(
                Stage::Hostkey,
                format!("the handshake did not finish within {secs}s"),
                "",
            );
        }
    };
    if decision == Decision::AcceptAndRecord && opts.record_host_keys {
        match crate::client::record_accepted(t, &lookup, &entries, &key) {
            Ok((written, why)) => {
                info.recorded_in = written;
                info.not_recorded = why;
            }
            // Another probe or process pinned another key meanwhile: a
            // change, before any authentication.
            Err(v) => {
                info.verdict = v.clone();
                rep.host_key = Some(info);
                return hostkey_refused(rep, t, &lookup, &v, &fingerprint);
            }
        }
    }
    rep.host_key = Some(info);

    // auth
    let s = Instant::now();
    let auth = tokio::time::timeout(
        opts.budget() + extra_for_prompt(opts),
        authenticate(&mut handle, t, opts, &mut rep.offers),
    )
    .await;
    rep.timings.push((Stage::Auth, ms(s.elapsed())));
    match auth {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            let offered: Vec<String> = rep
                .offers
                .iter()
                .filter(|o| o.result == "rejected")
                .map(|o| format!("{} ({})", o.key, o.fingerprint.clone().unwrap_or_default()))
                .collect();
            let problems: Vec<String> = rep
                .offers
                .iter()
                .filter(|o| o.result != "rejected")
                .map(|o| format!("{}: {}", o.key, o.result))
                .collect();
            let mut error = format!("{}@{} refused every key", t.user, t.hostname);
            if !offered.is_empty() {
                error.push_str(&format!("; offered: {}", offered.join(", ")));
            }
            if !problems.is_empty() {
                error.push_str(&format!("; not offered: {}", problems.join(", ")));
            }
            let hint = if rep.offers.iter().any(|o| o.result == "encrypted") {
                "the key is encrypted: load it with `ssh-add KEY` (then check again), or run check in a terminal to type its passphrase".to_string()
            } else if offered.is_empty() {
                "no usable key: create one with `ssh-keygen -t ed25519`, add the .pub in RunPod → Settings → SSH Public Keys, and restart the pod".to_string()
            } else {
                format!(
                    "add this public key in RunPod → Settings → SSH Public Keys (`cat {}.pub`); running pods keep the keys they started with, so restart the pod after adding it",
                    t.identity_files
                        .first()
                        .map(|(r, _)| r.as_str())
                        .unwrap_or("~/.ssh/id_ed25519")
                )
            };
            return rep.fail(Stage::Auth, error, hint);
        }
        Ok(Err(e)) => return rep.fail(Stage::Auth, format!("authentication failed: {e}"), ""),
        Err(_) => {
            return rep.fail(
                Stage::Auth,
                format!("authentication did not finish within {secs}s"),
                "",
            );
        }
    }

    // exec + forward, opened together (one round trip for both channel
    // opens); the facts run in the same exec as the `true` test, so a
    // full probe costs no more round trips than a quick one.
    let cmd = if opts.quick { "true" } else { FACTS_CMD };
    let s = Instant::now();
    let budget = opts.budget();
    let exec_fut = async {
        let r = tokio::time::timeout(budget, run(&handle, cmd)).await;
        (r, ms(s.elapsed()))
    };
    let fwd_fut = async {
        let r = tokio::time::timeout(
            budget,
            handle.channel_open_direct_tcpip("127.0.0.1", 22, "127.0.0.1", 0),
        )
        .await;
        (r, ms(s.elapsed()))
    };
    let ((exec, exec_ms), (fwd, fwd_ms)) = tokio::join!(exec_fut, fwd_fut);
    // Both stages ran at once: each time is from the common start.
    rep.timings.push((Stage::Exec, exec_ms));
    match exec {
        // Capped: the command ran and talked past 64 KiB; what came is kept.
        Ok(Ok((0 | crate::client::CAPPED, out))) => {
            if !opts.quick {
                rep.facts = Some(parse_facts(&out));
            }
        }
        Ok(Ok((code, _))) => {
            return rep.fail(
                Stage::Exec,
                format!("the test command (`true`) exited with status {code}"),
                "the login shell fails: check ~/.bashrc on the pod, or a ForceCommand",
            );
        }
        Ok(Err(e)) => {
            return rep.fail(
                Stage::Exec,
                format!("running a command failed: {e}"),
                if t.is_proxy {
                    "RunPod's ssh.runpod.io proxy only gives an interactive shell: use the exposed-TCP command for VS Code"
                } else {
                    "the server refused a command session"
                },
            );
        }
        Err(_) => {
            return rep.fail(
                Stage::Exec,
                format!("`true` did not finish within {secs}s"),
                "the pod is overloaded, or the login shell hangs",
            );
        }
    }

    // forward: what VS Code needs. Port 22 is the pod's own sshd.
    rep.timings.push((Stage::Forward, fwd_ms));
    match fwd {
        Ok(Ok(ch)) => {
            let _ = ch.close().await;
        }
        // The server tried to connect: forwarding is allowed.
        Ok(Err(russh::Error::ChannelOpenFailure(ChannelOpenFailure::ConnectFailed))) => {}
        Ok(Err(russh::Error::ChannelOpenFailure(
            ChannelOpenFailure::AdministrativelyProhibited,
        ))) => {
            return rep.fail(
                Stage::Forward,
                "port forwarding is administratively prohibited",
                if t.is_proxy {
                    "RunPod's ssh.runpod.io proxy does not forward ports; VS Code needs the exposed-TCP command"
                } else {
                    "VS Code Remote-SSH needs it: set `AllowTcpForwarding yes` in the pod's /etc/ssh/sshd_config and restart sshd"
                },
            );
        }
        Ok(Err(e)) => {
            return rep.fail(
                Stage::Forward,
                format!("opening a forwarding channel failed: {e}"),
                "VS Code Remote-SSH needs port forwarding",
            );
        }
        Err(_) => {
            return rep.fail(
                Stage::Forward,
                format!("no answer to a forwarding request within {secs}s"),
                "",
            );
        }
    }
    if let Some(cmd) = &opts.then_run {
        match tokio::time::timeout(opts.budget(), run(&handle, cmd)).await {
            Ok(Ok(r)) => rep.command = Some(r),
            Ok(Err(e)) => rep.fail(Stage::Exec, format!("running the command failed: {e}"), ""),
            Err(_) => rep.fail(
                Stage::Exec,
                format!("the command did not finish within {secs}s"),
                "",
            ),
        }
    }
    let _ = handle.disconnect(Disconnect::ByApplication, "", "en").await;
}

/// The exec stage's command for a full probe: the pod's facts, ending in
/// `true` so its status is the login shell's (a shell that cannot run a
/// command fails before). `/` and `/workspace` apart: a missing
/// /workspace prints no row, one on the container disk shows `/` as its
/// mount point.
const FACTS_CMD: &str = "nvidia-smi -L 2>/dev/null | head -n 16; echo ::df; df -Pk / 2>/dev/null; echo ::ws; test -d /workspace && df -Pk /workspace 2>/dev/null; true";

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

/// What the recording stream saw before the banner stage failed.
struct Received<'a> {
    bytes: &'a [u8],
    read_err: Option<String>,
    reset: bool,
}

/// A server whose sshd drops new connections (MaxStartups).
pub const BUSY: &str =
    "the server is refusing new connections for now (too many unauthenticated connections)";

const BUSY_HINT: &str = "public pod ports are scanned constantly and sshd's MaxStartups (default 10:30:100) then drops new connections; try again in a minute. If it persists, in the pod's web terminal put `MaxStartups 100:30:200` and `LoginGraceTime 20` near the top of /etc/ssh/sshd_config (sshd keeps the first value it reads) and reload sshd: `kill -HUP $(cat /run/sshd.pid)`";

/// How many times a busy server (see [`BUSY`]) is tried in all.
const BUSY_TRIES: u32 = 3;

/// The pause before try `n + 1` after a busy answer: `n` × 200–600 ms,
/// jittered so many probes (or many users) do not come back in step.
fn busy_pause(n: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(n);
    Duration::from_millis((200 + h.finish() % 400) * u64::from(n))
}

/// The server's identification line came after more (or longer) lines
/// than the native client (russh) accepts before it, though within what
/// ssh accepts (1024 lines): the reason, when so.
pub fn beyond_native_client(bytes: &[u8]) -> Option<String> {
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    let at = lines.iter().position(|l| l.starts_with(b"SSH-"))?;
    let long = lines[..at].iter().any(|l| l.len() > 255);
    (at > 20 || long).then(|| {
        format!(
            "the server sent its SSH- line after {at} other line(s){}; ssh reads up to 1024 lines before it, but runpod-ssh's native client (russh) only 20 of at most 255 bytes",
            if long { ", some over 255 bytes" } else { "" }
        )
    })
}

/// The banner stage failed: say why from what the server sent.
/// `russh_err` is connect_stream's error when it ended first; `timed_out`
/// when the stage deadline passed.
fn banner_failed(
    rep: &mut Report,
    seen: Received<'_>,
    russh_err: Option<String>,
    timed_out: bool,
    secs: f64,
) {
    const NOT_SSH_HINT: &str = "this port belongs to another service (HTTP?); use the port RunPod lists for SSH (internal port 22)";
    let Received {
        bytes,
        read_err,
        reset,
    } = seen;
    let lines = lines_of(bytes);
    // sshd's MaxStartups: it writes this line and closes, or the close
    // resets the connection (our identification unread) before we read it.
    let exceeded = lines.iter().any(|l| l.starts_with("Exceeded MaxStartups"));
    if exceeded || (reset && bytes.is_empty()) {
        rep.busy = true;
        return rep.fail(
            Stage::Banner,
            format!(
                "{BUSY}: {}",
                if exceeded {
                    "it answered \"Exceeded MaxStartups\""
                } else {
                    "the connection was reset before its SSH banner"
                }
            ),
            BUSY_HINT,
        );
    }
    let partial = bytes
        .rsplit(|&b| b == b'\n')
        .next()
        .filter(|p| !p.is_empty())
        .map(|p| {
            String::from_utf8_lossy(p)
                .chars()
                .take(60)
                .collect::<String>()
        });
    let first = lines
        .first()
        .map(|l| l.chars().take(60).collect::<String>());
    if bytes.is_empty() {
        if timed_out {
            return rep.fail(
                Stage::Banner,
                format!("the server accepted the connection but sent nothing within {secs}s"),
                "not an SSH server (an HTTP port?), or the pod is overloaded or still starting",
            );
        }
        if let Some(e) = read_err {
            return rep.fail(Stage::Banner, format!("reading the banner failed: {e}"), "");
        }
        return rep.fail(
            Stage::Banner,
            "the connection was closed before the SSH banner",
            "sshd is not running in the pod, or is still starting (RunPod starts it only when a public key is set)",
        );
    }
    if timed_out {
        return match (&first, &partial) {
            (None, Some(p)) => rep.fail(
                Stage::Banner,
                format!("the server started its banner but did not finish the line within {secs}s (received {p:?})"),
                "the pod is overloaded or the network is very slow; try again, or raise --timeout",
            ),
            _ => rep.fail(
                Stage::Banner,
                format!(
                    "no SSH banner within {secs}s; the server sent {} other line(s), the first {:?}",
                    lines.len(),
                    first.unwrap_or_default()
                ),
                NOT_SSH_HINT,
            ),
        };
    }
    let why = russh_err
        .or(read_err)
        .unwrap_or_else(|| "the connection was closed".into());
    match first {
        Some(f) => rep.fail(
            Stage::Banner,
            format!("not an SSH server: it answered {f:?} ({why})"),
            NOT_SSH_HINT,
        ),
        None if !bytes.starts_with(b"SSH-") => rep.fail(
            Stage::Banner,
            format!(
                "not an SSH server: it answered {:?} ({why})",
                partial.unwrap_or_default()
            ),
            NOT_SSH_HINT,
        ),
        None => rep.fail(
            Stage::Banner,
            format!(
                "the connection ended in the middle of the banner (received {:?}): {why}",
                partial.unwrap_or_default()
            ),
            "sshd in the pod may be restarting; try again",
        ),
    }
}

/// The command that resets a changed pin: the caller's (`runpod-ssh add
/// --reset-host-key`) for a key runpod-ssh pinned, else `ssh-keygen -R` on
/// the file that holds it.
fn reset_pin_command(name: &str, file: &std::path::Path, t: &Target) -> String {
    match &t.reset_pin {
        Some(cmd) if file.file_name().is_some_and(|f| f == "known_hosts_runpod") => {
            format!("`{cmd}`")
        }
        _ => format!(
            "`ssh-keygen -R {} -f {}`",
            crate::output::shell_quote(name),
            crate::output::shell_quote(&file.to_string_lossy())
        ),
    }
}

/// The host key was refused: say why and what to do.
fn hostkey_refused(
    rep: &mut Report,
    t: &Target,
    lookup: &known_hosts::Lookup,
    verdict: &Verdict,
    fingerprint: &str,
) {
    let name = &lookup.name;
    if let Some(why) = &lookup.unverifiable {
        return rep.fail(
            Stage::Hostkey,
            format!("host key {fingerprint} for {name} not accepted: {why}"),
            format!(
                "verify this host with ssh itself (`ssh {}`); runpod-ssh accepts and records no host key it cannot judge as ssh would",
                crate::output::shell_quote(&t.alias)
            ),
        );
    }
    match verdict {
        Verdict::Changed {
            file,
            line,
            recorded,
            recorded_type,
        } => rep.fail(
            Stage::Hostkey,
            format!(
                "HOST KEY CHANGED for {name}: the server shows {fingerprint}, {}:{line} has {recorded_type} {recorded}. Stopped before logging in",
                file.display()
            ),
            format!(
                "if you restarted or recreated this pod (RunPod makes a new host key on every start, and reuses IP:port pairs), reset the pin with {}; otherwise do not connect: someone may be intercepting",
                reset_pin_command(name, file, t)
            ),
        ),
        Verdict::Revoked { file, line } => rep.fail(
            Stage::Hostkey,
            format!(
                "the server's host key {fingerprint} is marked @revoked at {}:{line}",
                file.display()
            ),
            "do not connect; ask the server's owner",
        ),
        Verdict::IpChanged {
            file,
            line,
            recorded,
        } => rep.fail(
            Stage::Hostkey,
            format!(
                "the host key {fingerprint} for {name} differs from the key {recorded} recorded for its address at {}:{line} (CheckHostIP). Stopped before logging in",
                file.display()
            ),
            "the name now points at another server (DNS change or spoofing); check with the server's owner before connecting",
        ),
        Verdict::Unknown if lookup.known_hosts_command => rep.fail(
            Stage::Hostkey,
            format!("host key {fingerprint} for {name} is not in the known_hosts files, and runpod-ssh never runs the KnownHostsCommand ssh would ask"),
            format!("check it with `ssh {}`, or add the key to a known_hosts file", crate::output::shell_quote(&t.alias)),
        ),
        Verdict::Unknown if lookup.readonly => rep.fail(
            Stage::Hostkey,
            format!("unknown host key {fingerprint} for {name}, and ssh would not record it (no UserKnownHostsFile, or a host name it does not write)"),
            "set a UserKnownHostsFile for this host, or compare the fingerprint with the pod's log and add it yourself",
        ),
        Verdict::Unknown => rep.fail(
            Stage::Hostkey,
            format!(
                "unknown host key {fingerprint} for {name}, and StrictHostKeyChecking is {}",
                match t.strict {
                    Strict::Yes => "yes",
                    _ => "ask (the default)",
                }
            ),
            match t.strict {
                // ssh refuses it too: connecting once would not record it.
                Strict::Yes => "for a pod's entry, `runpod-ssh sync` verifies the key against the pod's log, pins it and reopens the entry; otherwise compare the fingerprint with the pod's log and add it to the known_hosts file yourself".to_string(),
                _ => format!("compare the fingerprint with the pod's log (RunPod prints it at start), then connect once with `ssh {}`, or use an entry from `runpod-ssh add` (StrictHostKeyChecking accept-new)", crate::output::shell_quote(&t.alias)),
            },
        ),
        // Known, yet refused: the key is not the one the evidence expects.
        Verdict::Known { .. } => rep.fail(
            Stage::Hostkey,
            format!("the host key {fingerprint} for {name} is not one the pod reported"),
            "do not connect; compare with the pod's log",
        ),
    }
}

/// Try the identity files in order, then the agent unless IdentitiesOnly.
/// `Ok(true)` when a key was accepted.
async fn authenticate(
    handle: &mut Handle<Verifier>,
    t: &Target,
    opts: &Options,
    offers: &mut Vec<Offer>,
) -> Result<bool, russh::Error> {
    // Only RSA keys need the server's hash choice, and asking can wait up
    // to a second on a server that sends no EXT_INFO: ask once, lazily.
    let mut rsa_hash: Option<Option<HashAlg>> = None;
    let sock = match &t.identity_agent {
        Some(choice) => choice.as_ref(),
        None => opts.agent.as_ref(),
    };
    let mut agent = match sock {
        Some(sock) => connect_agent(sock).await,
        None => None,
    };
    let agent_ids = match agent.as_mut() {
        Some(a) => a.request_identities().await.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut tried: Vec<PublicKey> = Vec::new();

    for (raw, path) in &t.identity_files {
        if !path.is_file() {
            if t.identities_configured {
                offers.push(Offer {
                    key: raw.clone(),
                    fingerprint: None,
                    result: "missing".into(),
                });
            }
            continue;
        }
        let key = match russh::keys::load_secret_key(path, None) {
            Ok(k) => k,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                // The agent may hold it already; else ask for the passphrase.
                let public = ssh_key::PublicKey::read_openssh_file(path.with_extension("pub")).ok();
                if let (Some(p), Some(a)) = (&public, agent.as_mut())
                    && let Some(id) = agent_ids
                        .iter()
                        .find(|i| i.public_key().key_data() == p.key_data())
                {
                    let hash = rsa_hash_for(handle, &p.algorithm(), &mut rsa_hash).await;
                    let res = handle
                        .authenticate_publickey_with(&t.user, id.public_key().into_owned(), hash, a)
                        .await;
                    tried.push(p.clone());
                    let ok = matches!(res, Ok(AuthResult::Success));
                    offers.push(Offer {
                        key: format!("{raw} (via agent)"),
                        fingerprint: Some(p.fingerprint(HashAlg::Sha256).to_string()),
                        result: if ok { "accepted" } else { "rejected" }.into(),
                    });
                    if ok {
                        return Ok(true);
                    }
                    continue;
                }
                match passphrase_key(path, opts).await {
                    Some(Ok(k)) => k,
                    Some(Err(())) => {
                        offers.push(Offer {
                            key: raw.clone(),
                            fingerprint: None,
                            result: "wrong passphrase".into(),
                        });
                        continue;
                    }
                    None => {
                        offers.push(Offer {
                            key: raw.clone(),
                            fingerprint: public.map(|p| p.fingerprint(HashAlg::Sha256).to_string()),
                            result: "encrypted".into(),
                        });
                        continue;
                    }
                }
            }
            Err(e) => {
                offers.push(Offer {
                    key: raw.clone(),
                    fingerprint: None,
                    result: format!("unreadable ({e})"),
                });
                continue;
            }
        };
        let public = key.public_key().clone();
        let fp = public.fingerprint(HashAlg::Sha256).to_string();
        let hash = rsa_hash_for(handle, &public.algorithm(), &mut rsa_hash).await;
        let res = handle
            .authenticate_publickey(&t.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await?;
        tried.push(public);
        let ok = res.success();
        offers.push(Offer {
            key: raw.clone(),
            fingerprint: Some(fp),
            result: if ok { "accepted" } else { "rejected" }.into(),
        });
        if ok {
            return Ok(true);
        }
    }

    if !t.identities_only
        && let Some(a) = agent.as_mut()
    {
        for id in &agent_ids {
            let public = id.public_key().into_owned();
            if tried.iter().any(|k| k.key_data() == public.key_data()) {
                continue;
            }
            let hash = rsa_hash_for(handle, &public.algorithm(), &mut rsa_hash).await;
            let res = handle
                .authenticate_publickey_with(&t.user, public.clone(), hash, a)
                .await;
            let ok = matches!(res, Ok(AuthResult::Success));
            let comment = match id {
                russh::keys::agent::AgentIdentity::PublicKey { comment, .. } => comment.clone(),
                _ => String::new(),
            };
            offers.push(Offer {
                key: format!("agent: {comment}"),
                fingerprint: Some(public.fingerprint(HashAlg::Sha256).to_string()),
                result: if ok { "accepted" } else { "rejected" }.into(),
            });
            if ok {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The signature hash for a key of type `alg`: `None` unless RSA; the
/// server's choice is asked once (`cache`).
async fn rsa_hash_for(
    handle: &Handle<Verifier>,
    alg: &ssh_key::Algorithm,
    cache: &mut Option<Option<HashAlg>>,
) -> Option<HashAlg> {
    if !matches!(alg, ssh_key::Algorithm::Rsa { .. }) {
        return None;
    }
    if cache.is_none() {
        *cache = Some(
            handle
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten(),
        );
    }
    hash_for(alg, cache.flatten())
}

/// Ask for the passphrase of an encrypted key on the terminal, once per
/// key. `None` without a terminal; `Some(Err)` for a wrong passphrase.
async fn passphrase_key(
    path: &std::path::Path,
    opts: &Options,
) -> Option<Result<ssh_key::PrivateKey, ()>> {
    if !opts.interactive {
        return None;
    }
    let mut cache = opts.passphrases.lock().await;
    let known = cache
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, pass)| pass.clone());
    let pass = match known {
        Some(p) => p,
        None => {
            let prompt = format!("Passphrase for {}: ", path.display());
            let p = tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt).ok())
                .await
                .ok()
                .flatten();
            cache.push((path.to_path_buf(), p.clone()));
            p
        }
    };
    let pass = pass?;
    Some(russh::keys::load_secret_key(path, Some(&pass)).map_err(|_| ()))
}

/// Parse the facts command's output.
pub fn parse_facts(out: &str) -> Facts {
    let (gpu, df) = out.split_once("::df").unwrap_or((out, ""));
    if let Some((root, ws)) = df.split_once("::ws") {
        let gpus = gpu
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("GPU "))
            .map(str::to_string)
            .collect();
        let root = df_rows(root);
        let ws = df_rows(ws);
        let on_root = ws.first().is_some_and(|(m, _)| m == "/");
        return Facts {
            gpus,
            root_free: root.iter().find(|(m, _)| m == "/").and_then(|r| r.1),
            workspace_free: ws.first().filter(|_| !on_root).and_then(|r| r.1),
            workspace_missing: ws.is_empty(),
            workspace_on_container_disk: on_root,
        };
    }
    let gpus = gpu
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("GPU "))
        .map(str::to_string)
        .collect();
    let mut f = Facts {
        gpus,
        ..Default::default()
    };
    for l in df
        .lines()
        .skip_while(|l| !l.starts_with("Filesystem"))
        .skip(1)
    {
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.len() >= 6 {
            let avail = cols[3].parse::<u64>().ok().map(|k| k.saturating_mul(1024));
            match cols[5] {
                "/workspace" => f.workspace_free = avail,
                "/" => f.root_free = avail,
                _ => {}
            }
        }
    }
    f
}

/// `(mount point, free bytes)` per row of `df -Pk`.
fn df_rows(out: &str) -> Vec<(String, Option<u64>)> {
    out.lines()
        .skip_while(|l| !l.starts_with("Filesystem"))
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() >= 6).then(|| {
                (
                    cols[5..].join(" "),
                    cols[3].parse::<u64>().ok().map(|k| k.saturating_mul(1024)),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_tell_a_missing_workspace_and_one_on_the_container_disk_apart() {
        let head = "Filesystem 1024-blocks Used Available Capacity Mounted on\n";
        let root = format!("{head}overlay 20971520 1048576 19922944 5% /\n");
        let volume = format!("::df\n{root}::ws\n{head}mfs 104857600 0 104857600 0% /workspace\n");
        let f = parse_facts(&volume);
        assert_eq!(f.root_free, Some(19922944 * 1024));
        assert_eq!(f.workspace_free, Some(104857600 * 1024));
        assert!(!f.workspace_missing && !f.workspace_on_container_disk);

        let missing = parse_facts(&format!("::df\n{root}::ws\n"));
        assert!(missing.workspace_missing);
        assert_eq!(missing.workspace_free, None);
        assert_eq!(missing.root_free, Some(19922944 * 1024));

        let on_disk = parse_facts(&format!("::df\n{root}::ws\n{root}"));
        assert!(on_disk.workspace_on_container_disk && !on_disk.workspace_missing);
        assert_eq!(on_disk.workspace_free, None);
    }

    #[test]
    fn facts() {
        let out = "GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-1)\n::df\nFilesystem 1024-blocks Used Available Capacity Mounted on\noverlay 20971520 1048576 19922944 5% /\nmfs 104857600 0 104857600 0% /workspace\n";
        let f = parse_facts(out);
        assert_eq!(f.gpus, ["GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-1)"]);
        assert_eq!(f.root_free, Some(19922944 * 1024));
        assert_eq!(f.workspace_free, Some(104857600 * 1024));
        let none = parse_facts(
            "::df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 100 50 50 50% /\n",
        );
        assert!(none.gpus.is_empty());
        assert_eq!(none.workspace_free, None);
    }
}
