//! The native SSH client both `check` (via [`crate::probe`]) and `key
//! rotate` use: connect under deadlines, verify the host key with our own
//! known_hosts logic ([`known_hosts::decide`], never russh's), authenticate
//! with chosen keys, run a command.
//!
//! [`crate::probe`] walks the pieces stage by stage to time and diagnose
//! them; [`connect`] is the plain path for callers that only need a
//! verified, authenticated session or a clear reason why not.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ssh_client;
use crate::ssh_client::client::{self, Handle};
use crate::ssh_client::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use crate::ssh_client::{ChannelMsg, Disconnect};
use ssh_key::{HashAlg, PublicKey};
use tokio::net::TcpStream;

use crate::known_hosts::{self, Decision, Strict, Verdict};
use crate::probe::Target;

/// Host key state shared with the russh handler.
#[derive(Default)]
pub(crate) struct KeyState {
    pub(crate) key: Option<PublicKey>,
    pub(crate) verdict: Option<Verdict>,
    pub(crate) decision: Option<Decision>,
    pub(crate) at: Option<Instant>,
}

/// The russh handler: the host key decision is ours ([`known_hosts::decide`]).
pub(crate) struct Verifier {
    pub(crate) state: Arc<Mutex<KeyState>>,
    pub(crate) entries: Arc<Vec<known_hosts::Entry>>,
    pub(crate) lookup: known_hosts::Lookup,
    pub(crate) strict: Strict,
    pub(crate) evidence: known_hosts::Evidence,
}

impl Verifier {
    /// The handler for `t`, over `entries`, and the state it fills in as
    /// the server shows its key (read after the handshake). One place for
    /// `check` and `key rotate`, so both pass the target's evidence.
    pub(crate) fn new(
        t: &Target,
        entries: Arc<Vec<known_hosts::Entry>>,
        lookup: known_hosts::Lookup,
    ) -> (Verifier, Arc<Mutex<KeyState>>) {
        let state = Arc::new(Mutex::new(KeyState::default()));
        let v = Verifier {
            state: state.clone(),
            entries,
            lookup,
            strict: t.strict,
            // A pod log's fingerprints, when the caller read them.
            evidence: t.evidence.clone(),
        };
        (v, state)
    }
}

impl client::Handler for Verifier {
    type Error = ssh_client::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let k = key.public_key();
        let verdict = known_hosts::check_lookup(&self.entries, &self.lookup, &k);
        let fp = k.fingerprint(HashAlg::Sha256).to_string();
        // The one host-key rule (known_hosts::decide); a refusal ends the
        // handshake here, before any authentication.
        let decision = known_hosts::decide(
            &verdict,
            &fp,
            self.strict,
            self.lookup.readonly || self.lookup.known_hosts_command,
            &self.evidence,
        );
        // What ssh would decide is unknown: accept nothing.
        let decision = if self.lookup.unverifiable.is_some() {
            Decision::Refuse
        } else {
            decision
        };
        if let Ok(mut s) = self.state.lock() {
            s.key = Some(k);
            s.verdict = Some(verdict);
            s.decision = Some(decision);
            s.at = Some(Instant::now());
        }
        Ok(decision != Decision::Refuse)
    }
}

/// What the server sent before the SSH handshake proper, recorded by
/// [`Recorder`] as russh reads it.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The first bytes, up to [`SEEN_CAP`].
    pub(crate) bytes: Vec<u8>,
    /// When a line starting `SSH-` was complete.
    pub(crate) ident_at: Option<Instant>,
    /// The server closed the connection before that.
    pub(crate) eof: bool,
    /// A read failed before that.
    pub(crate) error: Option<String>,
    /// That failure was a reset (sshd's MaxStartups drop closes a socket
    /// with our identification unread, which resets it).
    pub(crate) reset: bool,
}

/// Enough for RFC 4253's pre-banner lines and the identification line.
const SEEN_CAP: usize = 8 * 1024;

impl Seen {
    fn push(&mut self, data: &[u8]) {
        if self.ident_at.is_some() {
            return;
        }
        let room = SEEN_CAP.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
        if self
            .bytes
            .split_inclusive(|&b| b == b'\n')
            .any(|l| l.starts_with(b"SSH-") && l.ends_with(b"\n"))
        {
            self.ident_at = Some(Instant::now());
        }
    }
}

/// The complete lines of what the server sent.
pub(crate) fn lines_of(bytes: &[u8]) -> Vec<String> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .collect()
}

/// The stream handed to `russh::client::connect_stream`: passes every byte
/// through and records what the server sends until its identification line
/// is complete, so a banner failure can be diagnosed and the banner stage
/// timed without a `peek` (which delays our own identification by a round
/// trip).
pub(crate) struct Recorder<S> {
    pub(crate) inner: S,
    pub(crate) seen: Arc<Mutex<Seen>>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Recorder<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(res) = &r
            && let Ok(mut s) = self.seen.lock()
            && s.ident_at.is_none()
        {
            match res {
                Ok(()) if buf.filled().len() == before => s.eof = true,
                Ok(()) => s.push(&buf.filled()[before..]),
                Err(e) => {
                    s.error = Some(e.to_string());
                    s.reset = e.kind() == std::io::ErrorKind::ConnectionReset;
                }
            }
            if s.ident_at.is_some() || s.eof || s.error.is_some() {
                self.wake.notify_one();
            }
        }
        r
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Recorder<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Host key algorithms with the types already known for the name first,
/// as OpenSSH's `order_hostkeyalgs` does: a server with several host keys
/// then shows the pinned one, not a "change" of type.
pub(crate) fn preferred_host_keys(
    entries: &[known_hosts::Entry],
    name: &str,
) -> Vec<ssh_key::Algorithm> {
    let default = ssh_client::Preferred::DEFAULT.key.to_vec();
    let known: Vec<ssh_key::Algorithm> = entries
        .iter()
        .filter(|e| e.marker.is_none() && e.names(name))
        .map(|e| e.key.algorithm())
        .collect();
    let same_type = |a: &ssh_key::Algorithm, k: &ssh_key::Algorithm| match (a, k) {
        (ssh_key::Algorithm::Rsa { .. }, ssh_key::Algorithm::Rsa { .. }) => true,
        _ => a == k,
    };
    let (mut first, rest): (Vec<_>, Vec<_>) = default
        .into_iter()
        .partition(|a| known.iter().any(|k| same_type(a, k)));
    first.extend(rest);
    first
}

pub(crate) fn hash_for(alg: &ssh_key::Algorithm, rsa: Option<HashAlg>) -> Option<HashAlg> {
    if matches!(alg, ssh_key::Algorithm::Rsa { .. }) {
        rsa
    } else {
        None
    }
}

#[cfg(unix)]
pub(crate) async fn connect_agent(
    sock: &std::path::Path,
) -> Option<ssh_client::keys::agent::client::AgentClient<tokio::net::UnixStream>> {
    ssh_client::keys::agent::client::AgentClient::connect_uds(sock)
        .await
        .ok()
}

#[cfg(not(unix))]
pub(crate) async fn connect_agent(
    _sock: &std::path::Path,
) -> Option<ssh_client::keys::agent::client::AgentClient<tokio::net::TcpStream>> {
    // Windows' agent speaks over a named pipe; not probed here yet.
    None
}

/// The most of a command's output the probe reads: a pod that prints
/// without end must not fill our memory.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// The status [`exec`] reports when it stopped reading at the cap: not an
/// exit status (those are 0–255); the command ran and kept talking.
pub const CAPPED: u32 = 256;

/// Run a command, feeding it `input` on stdin (then EOF); its exit status
/// and stdout, at most `cap` bytes (past that the channel is closed and
/// nothing more is kept, and the status is [`CAPPED`]).
pub(crate) async fn exec(
    handle: &Handle<Verifier>,
    cmd: &str,
    input: &[u8],
    cap: usize,
) -> Result<(u32, Vec<u8>), ssh_client::Error> {
    let ch = handle.channel_open_session().await?;
    ch.exec(true, cmd).await?;
    if !input.is_empty() {
        ch.data(input).await?;
    }
    ch.eof().await?;
    let mut ch = ch;
    let mut status = None;
    let mut out = Vec::new();
    // Data may arrive after the exit status: read until the channel closes.
    while let Some(msg) = ch.wait().await {
        match msg {
            ChannelMsg::Data { data } => {
                let room = cap - out.len();
                out.extend_from_slice(&data[..data.len().min(room)]);
                if out.len() >= cap {
                    let _ = ch.close().await;
                    return Ok((CAPPED, out));
                }
            }
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            _ => {}
        }
    }
    Ok((status.unwrap_or(255), out))
}

/// Run a command; its exit status and stdout (at most [`OUTPUT_CAP`]
/// bytes).
pub(crate) async fn run(
    handle: &Handle<Verifier>,
    cmd: &str,
) -> Result<(u32, String), ssh_client::Error> {
    let (status, out) = exec(handle, cmd, &[], OUTPUT_CAP).await?;
    Ok((status, String::from_utf8_lossy(&out).into_owned()))
}

/// Every known_hosts entry ssh would consult for `t`: the user and global
/// files, then the `RevokedHostKeys` files (ssh refuses every host key when
/// it cannot read one of those).
pub(crate) fn known_host_entries(t: &Target) -> Result<Vec<known_hosts::Entry>, String> {
    let mut entries = known_hosts::load(
        &t.user_known_hosts
            .iter()
            .chain(&t.global_known_hosts)
            .cloned()
            .collect::<Vec<_>>(),
    )?;
    for f in &t.revoked_host_keys {
        entries.extend(known_hosts::load_revoked(f).map_err(|e| format!("RevokedHostKeys: {e}"))?);
    }
    Ok(entries)
}

/// Record a newly accepted host key as ssh would (accept-new): under
/// HostKeyAlias when set, with the address too under CheckHostIP when it
/// is new. Returns where it went, or why it was not written; `Err` with
/// the verdict when the file, read again under its lock, now pins another
/// key for one of the names (a change: stop before authenticating).
pub(crate) fn record_accepted(
    t: &Target,
    lookup: &known_hosts::Lookup,
    entries: &[known_hosts::Entry],
    key: &PublicKey,
) -> Result<(Option<PathBuf>, Option<String>), Verdict> {
    let mut names = vec![lookup.name.as_str()];
    names.extend(
        lookup
            .ip
            .as_deref()
            .filter(|ip| known_hosts::check(entries, ip, key) == Verdict::Unknown),
    );
    let Some(file) = t.user_known_hosts.first() else {
        return Ok((None, None));
    };
    Ok(
        match known_hosts::record(file, &names, key, t.hash_known_hosts) {
            Ok(known_hosts::Recorded::Written) => (Some(file.clone()), None),
            Ok(known_hosts::Recorded::Present) => (None, None),
            Ok(known_hosts::Recorded::Changed(v)) => return Err(v),
            Ok(known_hosts::Recorded::Discarded) => (
                None,
                Some(format!(
                    "{} is a device: nothing recorded, as with ssh",
                    file.display()
                )),
            ),
            // ssh too goes on when it cannot add the key.
            Err(e) => (None, Some(e.to_string())),
        },
    )
}

/// Why [`connect`] or a step on its [`Connection`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("cannot connect to {endpoint}: {reason}")]
    Tcp { endpoint: String, reason: String },
    #[error("cannot check the host key: {0}")]
    KnownHosts(String),
    #[error(
        "the host key {fingerprint} of {name} is refused ({verdict}); `runpod-ssh check {alias}` says why and what to do"
    )]
    HostKey {
        alias: String,
        name: String,
        fingerprint: String,
        verdict: String,
    },
    #[error("the SSH handshake with {endpoint} failed: {reason}")]
    Handshake { endpoint: String, reason: String },
    #[error("{what} did not finish within {secs}s")]
    Timeout { what: String, secs: f64 },
    #[error("{what} failed: {source}")]
    Ssh {
        what: String,
        #[source]
        source: ssh_client::Error,
    },
}

/// A verified SSH session, not yet (or already) authenticated.
pub struct Connection {
    handle: Handle<Verifier>,
    timeout: Duration,
    /// The server's host key, `SHA256:…`.
    pub host_key: String,
    /// Where a new host key was recorded (accept-new), if it was.
    pub recorded_in: Option<PathBuf>,
}

fn short(v: &Verdict) -> String {
    match v {
        Verdict::Changed { file, line, .. } => {
            format!("HOST KEY CHANGED, {}:{line} has another", file.display())
        }
        Verdict::Revoked { file, line } => format!("@revoked at {}:{line}", file.display()),
        Verdict::IpChanged { file, line, .. } => {
            format!("its address has another key at {}:{line}", file.display())
        }
        Verdict::Unknown => "unknown, and ssh would not accept it without asking".into(),
        Verdict::Known { .. } => "not the one the pod reported".into(),
    }
}

/// Connect to `t` and verify its host key exactly as `check` does; every
/// step under `timeout`. With `record`, a key accepted as new
/// (accept-new) is written to known_hosts as ssh would.
pub async fn connect(
    t: &Target,
    timeout: Duration,
    record: bool,
) -> Result<Connection, ClientError> {
    let secs = timeout.as_secs_f64();
    let endpoint = format!("{}:{}", t.hostname, t.port);
    let tmo = |what: &str| ClientError::Timeout {
        what: what.to_string(),
        secs,
    };
    let addrs: Vec<std::net::SocketAddr> = tokio::time::timeout(
        timeout,
        tokio::net::lookup_host((t.hostname.as_str(), t.port)),
    )
    .await
    .map_err(|_| tmo("resolving the host name"))?
    .map_err(|e| ClientError::Resolve {
        host: t.hostname.clone(),
        reason: e.to_string(),
    })?
    .collect();
    let mut last = String::from("no address");
    let mut stream = None;
    for a in &addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(a)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer within {secs}s"),
        }
    }
    let stream = stream.ok_or_else(|| ClientError::Tcp {
        endpoint: endpoint.clone(),
        reason: last,
    })?;
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let entries = known_host_entries(t).map_err(ClientError::KnownHosts)?;
    let lookup = t.lookup(peer);
    // Only what the config allows (HostKeyAlgorithms & co.).
    let preferred = t
        .algorithms
        .preferred(preferred_host_keys(&entries, &lookup.name));
    if preferred.key.is_empty() {
        return Err(ClientError::Handshake {
            endpoint,
            reason: "HostKeyAlgorithms allows no host key type runpod-ssh's client supports".into(),
        });
    }
    let entries = Arc::new(entries);
    let (handler, state) = Verifier::new(t, entries.clone(), lookup.clone());
    let config = Arc::new(client::Config {
        nodelay: true,
        inactivity_timeout: Some(timeout * 2),
        preferred,
        ..Default::default()
    });
    let conn = tokio::time::timeout(timeout * 2, client::connect_stream(config, stream, handler))
        .await
        .map_err(|_| tmo("the SSH handshake"))?;
    let (key, verdict, decision) = match state.lock() {
        Ok(s) => (s.key.clone(), s.verdict.clone(), s.decision),
        Err(_) => (None, None, None),
    };
    if let (Some(key), Some(verdict), Some(Decision::Refuse)) = (&key, &verdict, decision) {
        return Err(ClientError::HostKey {
            alias: crate::output::shell_quote(&t.alias),
            name: lookup.name.clone(),
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
            verdict: short(verdict),
        });
    }
    let handle = conn.map_err(|e| ClientError::Handshake {
        endpoint: endpoint.clone(),
        reason: e.to_string(),
    })?;
    let Some(key) = key else {
        return Err(ClientError::Handshake {
            endpoint,
            reason: "the server showed no host key".into(),
        });
    };
    let recorded_in = if decision == Some(Decision::AcceptAndRecord) && record {
        record_accepted(t, &lookup, &entries, &key)
            .map_err(|v| ClientError::HostKey {
                alias: crate::output::shell_quote(&t.alias),
                name: lookup.name.clone(),
                fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
                verdict: short(&v),
            })?
            .0
    } else {
        None
    };
    Ok(Connection {
        handle,
        timeout,
        host_key: key.fingerprint(HashAlg::Sha256).to_string(),
        recorded_in,
    })
}

impl Connection {
    fn timeout_err(&self, what: &str) -> ClientError {
        ClientError::Timeout {
            what: what.to_string(),
            secs: self.timeout.as_secs_f64(),
        }
    }

    /// Offer `key` (and only it) for `user`: `Ok(true)` when accepted.
    pub async fn authenticate(
        &mut self,
        user: &str,
        key: &ssh_key::PrivateKey,
    ) -> Result<bool, ClientError> {
        let hash = if matches!(key.algorithm(), ssh_key::Algorithm::Rsa { .. }) {
            // Only RSA needs it; asking can wait for a server without EXT_INFO.
            self.handle
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten()
        } else {
            None
        };
        let fut = self.handle.authenticate_publickey(
            user,
            PrivateKeyWithHashAlg::new(Arc::new(key.clone()), hash),
        );
        let res = tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| self.timeout_err("authentication"))?
            .map_err(|source| ClientError::Ssh {
                what: "authentication".into(),
                source,
            })?;
        Ok(res.success())
    }

    /// Run `cmd` with `input` on its stdin; its exit status and at most
    /// `cap` bytes of stdout.
    pub async fn exec(
        &self,
        cmd: &str,
        input: &[u8],
        cap: usize,
    ) -> Result<(u32, Vec<u8>), ClientError> {
        tokio::time::timeout(self.timeout, exec(&self.handle, cmd, input, cap))
            .await
            .map_err(|_| self.timeout_err("a remote command"))?
            .map_err(|source| ClientError::Ssh {
                what: "running a remote command".into(),
                source,
            })
    }

    /// Say goodbye (best effort).
    pub async fn close(self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.handle.disconnect(Disconnect::ByApplication, "", "en"),
        )
        .await;
    }
}
