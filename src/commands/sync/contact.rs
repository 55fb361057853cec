//! The first contact with a pod's sshd: a probe whose host key is judged
//! against the fingerprints the pod's start script printed in its log
//! (the evidence `known_hosts::decide` weighs), and the message that says
//! what was pinned, refused or left unverified.

use std::time::Duration;

use crate::api::{self, Pod};
use crate::commands::edit::Session;
use crate::config::{Document, resolve};
use crate::known_hosts::{self, Evidence};
use crate::probe::{self, Options, Stage};

use super::state::is_pinned;
use super::{Contact, entry_of};

/// A pod to contact after the write.
pub(super) struct Due {
    /// Its index in the results.
    pub(super) index: usize,
    pub(super) pin: String,
    pub(super) pod: Pod,
    /// Its entry was closed (`StrictHostKeyChecking yes`) before this run.
    pub(super) was_closed: bool,
}

/// How long to read a pod's log for its host keys.
fn log_wait() -> Duration {
    std::env::var("RUNPOD_SSH_LOG_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis)
}

/// Probe each entry, with the pod log's fingerprints as evidence for the
/// one host-key rule (`known_hosts::decide`).
pub(super) fn contact(
    client: &api::Client,
    doc: &Document,
    s: &Session,
    which: &[Due],
    facts: bool,
) -> Vec<(usize, Contact)> {
    let mut hosts = Vec::new();
    let mut expected = Vec::new();
    let mut log_errors = Vec::new();
    for Due {
        pin,
        pod,
        was_closed,
        ..
    } in which
    {
        let alias = entry_of(doc, &pod.id)
            .and_then(|i| doc.blocks()[i].patterns.first().cloned())
            .unwrap_or_else(|| pin.clone());
        let (fps, log_error) = if is_pinned(pin) {
            (Vec::new(), None)
        } else {
            match client.host_key_fingerprints(&pod.id, pod.started_at.as_deref(), log_wait()) {
                Ok(f) => (f, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        };
        log_errors.push(log_error);
        let mut t = probe::target(&alias, &resolve(doc, &s.path, &alias, &s.ctx));
        if let Ok(t) = &mut t {
            t.evidence = Evidence {
                expected_sha256: fps.clone(),
            };
            if *was_closed {
                // Our own contact runs as the template would (accept-new,
                // with the log as evidence): the file's `yes` is what keeps
                // ssh and VS Code out until this contact verifies the key.
                t.strict = known_hosts::Strict::AcceptNew;
            }
        }
        expected.push(fps);
        hosts.push((alias, t));
    }
    let opts = Options {
        timeout: Duration::from_secs(10),
        deadline: None,
        quick: !facts,
        agent: std::env::var_os("SSH_AUTH_SOCK").map(Into::into),
        interactive: false,
        passphrases: Default::default(),
        record_host_keys: true,
        then_run: None,
    };
    let reports = match probe::probe_all(hosts, &opts, 8, || {}) {
        Ok(r) => r,
        Err(e) => {
            return which
                .iter()
                .map(|d| {
                    (
                        d.index,
                        Contact {
                            result: "failed",
                            verified: false,
                            log_error: None,
                            fingerprint: None,
                            expected: Vec::new(),
                            message: format!("cannot start the probe: {e}"),
                            ok: false,
                            error: Some(e.to_string()),
                            hint: None,
                            check: None,
                            closed: false,
                        },
                    )
                })
                .collect();
        }
    };
    which
        .iter()
        .zip(reports)
        .zip(expected)
        .zip(log_errors)
        .map(|(((d, rep), fps), le)| (d.index, judge(&rep, &d.pin, fps, le)))
        .collect()
}

fn judge(rep: &probe::Report, pin: &str, fps: Vec<String>, log_error: Option<String>) -> Contact {
    let fp = rep.host_key.as_ref().map(|h| h.fingerprint.clone());
    let verified = !fps.is_empty();
    let mut c = Contact {
        result: "failed",
        verified,
        log_error: log_error.clone(),
        fingerprint: fp.clone(),
        expected: fps.clone(),
        message: String::new(),
        ok: rep.ok,
        error: rep.error.clone(),
        hint: rep.hint.clone(),
        check: rep.ok.then(|| {
            let mut t = format!("check passed: tcp → forward in {:.0} ms", rep.total_ms);
            if let Some(f) = &rep.facts {
                if !f.gpus.is_empty() {
                    t.push_str(&format!(", {} GPU", f.gpus.len()));
                }
                if let Some(w) = f.workspace_free {
                    t.push_str(&format!(
                        ", /workspace {:.1} GiB free",
                        w as f64 / (1u64 << 30) as f64
                    ));
                }
            }
            t
        }),
        closed: false,
    };
    let Some(h) = &rep.host_key else {
        c.message = format!(
            "no contact: {}",
            rep.error.as_deref().unwrap_or("the pod did not answer")
        );
        return c;
    };
    let fp = h.fingerprint.as_str();
    if verified && !fps.iter().any(|f| f == fp) {
        c.result = "refused";
        c.message = format!(
            "HOST KEY NOT THE POD'S: the server at the endpoint shows {fp}, but the pod's log lists {}. Not recorded, stopped before logging in: someone may be intercepting, or the endpoint now belongs to another machine. Run `runpod-ssh sync` again; if it persists, do not connect",
            fps.join(", ")
        );
        c.ok = false;
        c.closed = true;
        return c;
    }
    if rep.stage == Some(Stage::Hostkey) {
        c.result = "refused";
        c.message = rep.error.clone().unwrap_or_default();
        return c;
    }
    match (&h.verdict, &h.recorded_in) {
        (known_hosts::Verdict::Known { .. }, _) => {
            c.result = "known";
            c.message = format!("host key {fp} matches the pin {pin}");
        }
        (_, Some(_)) => {
            c.result = "pinned";
            c.message = if verified {
                format!("host key {fp} verified against the pod's log and pinned as {pin}")
            } else if let Some(e) = &log_error {
                format!(
                    "host key {fp} pinned as {pin} WITHOUT verification: the pod's log could not be read ({e}), so first contact trusted it as ssh's accept-new would. Compare {fp} with the \"SSH host keys:\" lines of the pod's log in the RunPod console"
                )
            } else {
                format!(
                    "host key {fp} pinned as {pin} WITHOUT verification: the pod's log has no \"SSH host keys:\" lines (a custom image?), so first contact trusted it as ssh's accept-new would"
                )
            };
        }
        _ => {
            c.result = "failed";
            c.message = format!(
                "host key {fp} accepted but not recorded: {}",
                h.not_recorded.as_deref().unwrap_or("unknown reason")
            );
        }
    }
    c
}
