//! The stages of one probe, one function each, in the order they run:
//! `resolve → tcp → banner → kex → hostkey → auth → exec + forward`, then
//! the caller's command. Each stage times itself into the [`Report`] and,
//! when it fails, records why and what to do and returns `None`: the
//! probe stops at the first failure. [`Run`] carries what the stages
//! share (the target, the options, the report).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::ssh_client;
use crate::ssh_client::client::{self, Handle};
use crate::ssh_client::{ChannelOpenFailure, Disconnect};
use ssh_key::HashAlg;
use tokio::net::TcpStream;

use crate::client::{KeyState, Recorder, Seen, Verifier, lines_of, preferred_host_keys, run};
use crate::known_hosts::{self, Decision};

use super::auth::authenticate;
use super::diagnose::{
    Received, auth_refused, banner_failed, beyond_native_client, hostkey_refused,
};
use super::facts::{FACTS_CMD, parse_facts};
use super::{HostKeyInfo, Options, Report, Stage, Target, extra_for_prompt, ms};

/// What the stages share: the host, how to probe it, and the report they
/// fill in.
struct Run<'a> {
    t: &'a Target,
    opts: &'a Options,
    rep: &'a mut Report,
    /// The per-stage timeout in seconds, for messages.
    secs: f64,
}

/// Run every stage on `t` into `rep`, stopping at the first failure.
pub(super) async fn run_stages(t: &Target, opts: &Options, rep: &mut Report) {
    let secs = opts.timeout.as_secs_f64();
    let mut run = Run { t, opts, rep, secs };
    let Some(addrs) = run.resolve().await else {
        return;
    };
    let Some(stream) = run.tcp(&addrs).await else {
        return;
    };
    let Some(mut handle) = run.handshake(stream).await else {
        return;
    };
    if run.auth(&mut handle).await.is_none() {
        return;
    }
    if run.exec_and_forward(&handle).await.is_none() {
        return;
    }
    run.then_run(&handle).await;
    let _ = handle.disconnect(Disconnect::ByApplication, "", "en").await;
}

impl Report {
    /// [`Report::fail`], as the `None` a failed stage returns.
    fn stop<T>(
        &mut self,
        stage: Stage,
        error: impl Into<String>,
        hint: impl Into<String>,
    ) -> Option<T> {
        self.fail(stage, error, hint);
        None
    }
}

/// What the handshake left for the hostkey stage: russh's result (or a
/// timeout) and the key state the handler filled in.
type Conn = Result<Result<Handle<Verifier>, ssh_client::Error>, tokio::time::error::Elapsed>;

impl Run<'_> {
    /// resolve: the name to addresses.
    async fn resolve(&mut self) -> Option<Vec<SocketAddr>> {
        let (t, secs) = (self.t, self.secs);
        let s = Instant::now();
        let addrs = tokio::time::timeout(
            self.opts.budget(),
            tokio::net::lookup_host((t.hostname.as_str(), t.port)),
        )
        .await;
        self.rep.timings.push((Stage::Resolve, ms(s.elapsed())));
        match addrs {
            Ok(Ok(a)) => Some(a.collect()),
            Ok(Err(e)) => self.rep.stop(
                Stage::Resolve,
                format!("cannot resolve {}: {e}", t.hostname),
                "check the HostName; RunPod gives an IP address in the exposed-TCP command",
            ),
            Err(_) => self.rep.stop(
                Stage::Resolve,
                format!("resolving {} took over {secs}s", t.hostname),
                "check your DNS or use the IP address",
            ),
        }
    }

    /// tcp: the first address that accepts a connection.
    async fn tcp(&mut self, addrs: &[SocketAddr]) -> Option<TcpStream> {
        let (t, secs) = (self.t, self.secs);
        let s = Instant::now();
        let mut last_err = None;
        let mut stream = None;
        for a in addrs {
            match tokio::time::timeout(
                self.opts.budget().saturating_sub(s.elapsed()),
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
        self.rep.timings.push((Stage::Tcp, ms(s.elapsed())));
        let Some(stream) = stream else {
            let restart = format!(
                "paste the pod's current command into `runpod-ssh add --name {} '…'` (Connect tab → SSH over exposed TCP)",
                crate::output::shell_quote(&t.alias)
            );
            return match last_err {
                Some(Ok(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => self.rep.stop(
                    Stage::Tcp,
                    format!("connection refused by {}:{}", t.hostname, t.port),
                    format!("the pod is stopped, or its port changed after a restart: {restart}"),
                ),
                Some(Ok(e)) => self.rep.stop(
                    Stage::Tcp,
                    format!("cannot connect to {}:{}: {e}", t.hostname, t.port),
                    format!("check your network; if the pod restarted, {restart}"),
                ),
                _ => self.rep.stop(
                    Stage::Tcp,
                    format!("no answer from {}:{} within {secs}s", t.hostname, t.port),
                    format!("the pod may be stopped or a firewall drops the port; {restart}"),
                ),
            };
        };
        let _ = stream.set_nodelay(true);
        Some(stream)
    }

    /// The known_hosts entries ssh would consult, `RevokedHostKeys` too.
    fn host_key_entries(&mut self) -> Option<Vec<known_hosts::Entry>> {
        let t = self.t;
        let mut entries: Vec<known_hosts::Entry> = match known_hosts::load(
            &t.user_known_hosts
                .iter()
                .chain(&t.global_known_hosts)
                .cloned()
                .collect::<Vec<_>>(),
        ) {
            Ok(e) => e,
            Err(e) => {
                return self.rep.stop(
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
                    return self.rep.stop(
                        Stage::Hostkey,
                        format!("cannot check the host key against RevokedHostKeys: {e}"),
                        "ssh refuses to connect too; fix or remove the RevokedHostKeys line",
                    );
                }
            }
        }
        Some(entries)
    }

    /// banner + kex + hostkey: one connect_stream over a recording stream,
    /// timed apart by what the recorder and the handler saw.
    async fn handshake(&mut self, stream: TcpStream) -> Option<Handle<Verifier>> {
        let t = self.t;
        let peer = stream.peer_addr().ok();
        let entries = self.host_key_entries()?;
        let lookup = t.lookup(peer);
        // Only what the config allows (HostKeyAlgorithms & co.), known key
        // types first.
        let preferred = t
            .algorithms
            .preferred(preferred_host_keys(&entries, &lookup.name));
        if preferred.key.is_empty() {
            return self.rep.stop(
                Stage::Kex,
                "HostKeyAlgorithms allows no host key type runpod-ssh's client supports",
                "check this host with `ssh` itself, or allow ssh-ed25519 in HostKeyAlgorithms",
            );
        }
        let entries = Arc::new(entries);
        let (handler, state) = Verifier::new(t, entries.clone(), lookup.clone());
        let config = Arc::new(client::Config {
            nodelay: true,
            inactivity_timeout: Some(self.opts.timeout * 2),
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
        let early = wait_for_banner(conn.as_mut(), &seen, &wake, self.opts.budget()).await;
        let (ident_at, bytes) = self.banner(&seen, s, early.as_ref())?;
        let conn = match early {
            Some(r) => Ok(r),
            None => tokio::time::timeout(self.opts.budget(), conn).await,
        };
        self.kex_and_hostkey(conn, &state, ident_at, &bytes, &lookup, &entries)
    }

    /// banner: the server's identification line, and every byte before it.
    /// `early` is russh's result when the connection ended first.
    fn banner(
        &mut self,
        seen: &Mutex<Seen>,
        s: Instant,
        early: Option<&Result<Handle<Verifier>, ssh_client::Error>>,
    ) -> Option<(Instant, Vec<u8>)> {
        let (ident_at, bytes, eof, read_err, reset) = match seen.lock() {
            Ok(g) => (g.ident_at, g.bytes.clone(), g.eof, g.error.clone(), g.reset),
            Err(_) => (None, Vec::new(), false, None, false),
        };
        self.rep.timings.push((
            Stage::Banner,
            ms(ident_at.map_or_else(|| s.elapsed(), |at| at - s)),
        ));
        let Some(ident_at) = ident_at else {
            let timed_out = early.is_none() && !eof && read_err.is_none();
            let russh_err = early.and_then(|r| r.as_ref().err()).map(|e| e.to_string());
            let seen = Received {
                bytes: &bytes,
                read_err,
                reset,
            };
            banner_failed(self.rep, seen, russh_err, timed_out, self.secs);
            return None;
        };
        // ssh speaks protocol 2 only (`SSH-2.0-`, or `SSH-1.99-` for both).
        if let Some(id) = lines_of(&bytes).into_iter().find(|l| l.starts_with("SSH-"))
            && !(id.starts_with("SSH-2.0-") || id.starts_with("SSH-1.99-"))
        {
            let id: String = id.chars().take(60).collect();
            return self.rep.stop(
                Stage::Banner,
                format!("the server speaks an SSH protocol version ssh does not: {id:?}"),
                "this is not a usable SSH server; use the port RunPod lists for SSH (internal port 22)",
            );
        }
        Some((ident_at, bytes))
    }

    /// kex, then hostkey: the key the server showed, our decision on it
    /// (recorded when accept-new allows), and the finished handshake.
    fn kex_and_hostkey(
        &mut self,
        conn: Conn,
        state: &Mutex<KeyState>,
        ident_at: Instant,
        bytes: &[u8],
        lookup: &known_hosts::Lookup,
        entries: &[known_hosts::Entry],
    ) -> Option<Handle<Verifier>> {
        let (t, secs) = (self.t, self.secs);
        let (key, verdict, decision, key_at) = match state.lock() {
            Ok(st) => (st.key.clone(), st.verdict.clone(), st.decision, st.at),
            Err(_) => (None, None, None, None),
        };
        // ssh reads up to 1024 lines before the identification, russh 20 of
        // at most 255 bytes: say so rather than blame the server.
        if key_at.is_none()
            && let Some(why) = beyond_native_client(bytes)
        {
            return self.rep.stop(
                Stage::Banner,
                why,
                "ssh itself accepts this server; check it with `ssh`, or have the server print fewer lines before its SSH banner",
            );
        }
        let kex_ms = key_at.map_or(ms(ident_at.elapsed()), |at| ms(at - ident_at));
        self.rep.timings.push((Stage::Kex, kex_ms));
        let (Some(key), Some(verdict), Some(decision), Some(key_at)) =
            (key, verdict, decision, key_at)
        else {
            return match conn {
                Err(_) => self.rep.stop(Stage::Kex, format!("key exchange did not finish within {secs}s"), "the server is overloaded, or the network drops packets"),
                Ok(Err(e)) => self.rep.stop(
                    Stage::Kex,
                    format!("key exchange failed: {e}"),
                    "no algorithm in common with the server, or it closed the connection (MaxStartups?)",
                ),
                Ok(Ok(_)) => self.rep.stop(Stage::Kex, "the server showed no host key", ""),
            };
        };
        self.rep
            .timings
            .push((Stage::Hostkey, ms(key_at.elapsed())));
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
            self.rep.host_key = Some(info);
            hostkey_refused(self.rep, t, lookup, &verdict, &fingerprint);
            return None;
        }
        let handle = match conn {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                self.rep.host_key = Some(info);
                return self.rep.stop(
                    Stage::Hostkey,
                    format!("the server did not prove it holds its host key: {e}"),
                    "",
                );
            }
            Err(_) => {
                self.rep.host_key = Some(info);
                return self.rep.stop(
                    Stage::Hostkey,
                    format!("the handshake did not finish within {secs}s"),
                    "",
                );
            }
        };
        if decision == Decision::AcceptAndRecord && self.opts.record_host_keys {
            match crate::client::record_accepted(t, lookup, entries, &key) {
                Ok((written, why)) => {
                    info.recorded_in = written;
                    info.not_recorded = why;
                }
                // Another probe or process pinned another key meanwhile: a
                // change, before any authentication.
                Err(v) => {
                    info.verdict = v.clone();
                    self.rep.host_key = Some(info);
                    hostkey_refused(self.rep, t, lookup, &v, &fingerprint);
                    return None;
                }
            }
        }
        self.rep.host_key = Some(info);
        Some(handle)
    }

    /// auth: the identity files, then the agent.
    async fn auth(&mut self, handle: &mut Handle<Verifier>) -> Option<()> {
        let (t, opts, secs) = (self.t, self.opts, self.secs);
        let s = Instant::now();
        let auth = tokio::time::timeout(
            opts.budget() + extra_for_prompt(opts),
            authenticate(handle, t, opts, &mut self.rep.offers),
        )
        .await;
        self.rep.timings.push((Stage::Auth, ms(s.elapsed())));
        match auth {
            Ok(Ok(true)) => Some(()),
            Ok(Ok(false)) => {
                auth_refused(self.rep, t);
                None
            }
            Ok(Err(e)) => self
                .rep
                .stop(Stage::Auth, format!("authentication failed: {e}"), ""),
            Err(_) => self.rep.stop(
                Stage::Auth,
                format!("authentication did not finish within {secs}s"),
                "",
            ),
        }
    }

    /// exec + forward, opened together (one round trip for both channel
    /// opens); the facts run in the same exec as the `true` test, so a
    /// full probe costs no more round trips than a quick one.
    async fn exec_and_forward(&mut self, handle: &Handle<Verifier>) -> Option<()> {
        let opts = self.opts;
        let cmd = if opts.quick { "true" } else { FACTS_CMD };
        let s = Instant::now();
        let budget = opts.budget();
        let exec_fut = async {
            let r = tokio::time::timeout(budget, run(handle, cmd)).await;
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
        self.rep.timings.push((Stage::Exec, exec_ms));
        self.exec(exec)?;
        self.rep.timings.push((Stage::Forward, fwd_ms));
        self.forward(fwd).await
    }

    /// exec: the test command (with the facts, unless `--quick`).
    fn exec(
        &mut self,
        exec: Result<Result<(u32, String), ssh_client::Error>, tokio::time::error::Elapsed>,
    ) -> Option<()> {
        let (t, secs) = (self.t, self.secs);
        match exec {
            // Capped: the command ran and talked past 64 KiB; what came is kept.
            Ok(Ok((code @ (0 | crate::client::CAPPED), out))) => {
                // Neither cut short nor with the `::df` marker: something
                // else answered (a ForceCommand), so nothing is known of
                // the pod's GPUs or disks.
                if !self.opts.quick && (code != 0 || out.contains("::df")) {
                    self.rep.facts = Some(parse_facts(&out));
                }
                Some(())
            }
            Ok(Ok((code, _))) => self.rep.stop(
                Stage::Exec,
                format!("the test command (`true`) exited with status {code}"),
                "the login shell fails: check ~/.bashrc on the pod, or a ForceCommand",
            ),
            Ok(Err(e)) => self.rep.stop(
                Stage::Exec,
                format!("running a command failed: {e}"),
                if t.is_proxy {
                    "RunPod's ssh.runpod.io proxy only gives an interactive shell: use the exposed-TCP command for VS Code"
                } else {
                    "the server refused a command session"
                },
            ),
            Err(_) => self.rep.stop(
                Stage::Exec,
                format!("`true` did not finish within {secs}s"),
                "the pod is overloaded, or the login shell hangs",
            ),
        }
    }

    /// forward: what VS Code needs. Port 22 is the pod's own sshd.
    async fn forward(
        &mut self,
        fwd: Result<
            Result<ssh_client::Channel<client::Msg>, ssh_client::Error>,
            tokio::time::error::Elapsed,
        >,
    ) -> Option<()> {
        let (t, secs) = (self.t, self.secs);
        match fwd {
            Ok(Ok(ch)) => {
                let _ = ch.close().await;
                Some(())
            }
            // The server tried to connect: forwarding is allowed.
            Ok(Err(ssh_client::Error::ChannelOpenFailure(ChannelOpenFailure::ConnectFailed))) => {
                Some(())
            }
            Ok(Err(ssh_client::Error::ChannelOpenFailure(
                ChannelOpenFailure::AdministrativelyProhibited,
            ))) => self.rep.stop(
                Stage::Forward,
                "port forwarding is administratively prohibited",
                if t.is_proxy {
                    "RunPod's ssh.runpod.io proxy does not forward ports; VS Code needs the exposed-TCP command"
                } else {
                    "VS Code Remote-SSH needs it: set `AllowTcpForwarding yes` in the pod's /etc/ssh/sshd_config and restart sshd"
                },
            ),
            Ok(Err(e)) => self.rep.stop(
                Stage::Forward,
                format!("opening a forwarding channel failed: {e}"),
                "VS Code Remote-SSH needs port forwarding",
            ),
            Err(_) => self.rep.stop(
                Stage::Forward,
                format!("no answer to a forwarding request within {secs}s"),
                "",
            ),
        }
    }

    /// After every stage passed: the caller's command ([`Options::then_run`]).
    async fn then_run(&mut self, handle: &Handle<Verifier>) {
        let Some(cmd) = &self.opts.then_run else {
            return;
        };
        let secs = self.secs;
        match tokio::time::timeout(self.opts.budget(), run(handle, cmd)).await {
            Ok(Ok(r)) => self.rep.command = Some(r),
            Ok(Err(e)) => {
                self.rep
                    .fail(Stage::Exec, format!("running the command failed: {e}"), "")
            }
            Err(_) => self.rep.fail(
                Stage::Exec,
                format!("the command did not finish within {secs}s"),
                "",
            ),
        }
    }
}

/// Wait for the server's identification line (or the end of the attempt,
/// or the stage deadline). `Some` with russh's result when the
/// connection ended first.
async fn wait_for_banner<F: Future>(
    mut conn: Pin<&mut F>,
    seen: &Mutex<Seen>,
    wake: &tokio::sync::Notify,
    budget: std::time::Duration,
) -> Option<F::Output> {
    let banner_end = tokio::time::Instant::now() + budget;
    loop {
        let done = seen
            .lock()
            .map(|s| s.ident_at.is_some() || s.eof || s.error.is_some())
            .unwrap_or(true);
        if done {
            return None;
        }
        tokio::select! {
            r = &mut conn => return Some(r),
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(banner_end) => return None,
        }
    }
}
