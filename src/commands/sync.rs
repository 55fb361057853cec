//! `runpod-ssh sync` and `add --pod`: entries that follow the pods the
//! RunPod API lists, each host key verified on first contact against the
//! fingerprints the pod's start script printed in its log.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::edit::{self, Session};
use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::api::{self, Pod};
use crate::cli::{AddArgs, SyncArgs};
use crate::config::{BlockKind, Document, resolve};
use crate::known_hosts::{self, Evidence};
use crate::probe::{self, Options, Stage};
use crate::runpod::{self, Access, Endpoint};
use crate::{fsio, output};

/// What sync did for one pod.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PodResult {
    pub id: String,
    pub name: String,
    pub status: String,
    pub alias: Option<String>,
    /// `created`, `updated`, `unchanged`, `kept` (not running: entry kept),
    /// `proxy-only`, `no-ssh`, `pruned`.
    pub action: &'static str,
    pub endpoint: Option<String>,
    /// The pinned host key was dropped: the endpoint or `startedAt` changed.
    pub pin_reset: bool,
    pub first_contact: Option<Contact>,
    pub note: Option<String>,
}

/// The first contact with a pod's sshd (or the `up` check).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Contact {
    /// `pinned` (recorded), `known` (already pinned), `refused`, `failed`.
    pub result: &'static str,
    /// The key was checked against the fingerprints in the pod's log.
    pub verified: bool,
    /// Why the pod's log could not be read (then nothing was verified; not
    /// the same as a log without fingerprints).
    pub log_error: Option<String>,
    pub fingerprint: Option<String>,
    pub expected: Vec<String>,
    pub message: String,
    /// The whole check passed (up to exec and forwarding).
    pub ok: bool,
    pub error: Option<String>,
    pub hint: Option<String>,
    /// When the whole check passed: its time and what the pod has.
    pub check: Option<String>,
    /// The entry says `StrictHostKeyChecking yes` after this contact: a key
    /// not in the pod's log was refused (now or by an earlier sync that no
    /// contact has verified since), so ssh and VS Code refuse the host
    /// instead of accepting the impostor's key as new.
    pub closed: bool,
}

/// What an entry says while a refused key keeps it closed.
const CLOSED: &str = "yes";
/// The template's value, back once a contact verifies the key.
const OPEN: &str = "accept-new";

/// What sync needs to know.
pub struct SyncOpts {
    pub dry_run: bool,
    pub prune: bool,
    pub no_vscode: bool,
    /// Probe every synced running entry (up: the check), not only first
    /// contacts.
    pub probe_all: bool,
    /// Gather facts (GPU, disk) when probing.
    pub facts: bool,
}

pub struct Synced {
    pub results: Vec<PodResult>,
    pub diff: String,
    pub config: PathBuf,
    pub backup: Option<PathBuf>,
    pub redirect: Option<(PathBuf, PathBuf)>,
    pub warnings: Vec<String>,
}

pub fn run(env: &Env, a: &SyncArgs) -> anyhow::Result<Outcome> {
    let client = api::Client::from_env().or_fail(Failure::Io)?;
    let pods = client.pods().or_fail(Failure::Io)?;
    let s = sync_pods(
        env,
        &client,
        &pods,
        true,
        &SyncOpts {
            dry_run: a.dry_run,
            prune: a.prune,
            no_vscode: a.no_vscode,
            probe_all: false,
            facts: false,
        },
    )?;
    report(env, &s, a.dry_run)
}

/// `add --pod ID|NAME`: sync one pod.
pub fn add_pod(env: &Env, a: &AddArgs) -> anyhow::Result<Outcome> {
    if !a.command.is_empty() {
        return Err(bad_input(
            "--pod takes the endpoint from the RunPod API: give no pasted command with it",
        ));
    }
    if a.name.is_some() || a.identity.is_some() {
        return Err(bad_input(
            "--pod names the entry runpod-<pod name> and keeps its key; use `add --name` with a pasted command to choose",
        ));
    }
    let client = api::Client::from_env().or_fail(Failure::Io)?;
    let pod = find_pod(&client, a.pod.as_deref().unwrap_or_default())?;
    let s = sync_pods(
        env,
        &client,
        std::slice::from_ref(&pod),
        false,
        &SyncOpts {
            dry_run: a.dry_run,
            prune: false,
            no_vscode: a.no_vscode,
            probe_all: false,
            facts: false,
        },
    )?;
    report(env, &s, a.dry_run)
}

/// A pod by id, or by exact name (one match only).
pub fn find_pod(client: &api::Client, which: &str) -> anyhow::Result<Pod> {
    let pods = client.pods().or_fail(Failure::Io)?;
    if let Some(p) = pods.iter().find(|p| p.id == which) {
        return Ok(p.clone());
    }
    let named: Vec<&Pod> = pods.iter().filter(|p| p.name == which).collect();
    match named.as_slice() {
        [p] => Ok((*p).clone()),
        [] => Err(bad_input(format!(
            "no pod with id or name {:?} on this account (`runpod-ssh list --live` shows them)",
            output::escape(which, false)
        ))),
        many => Err(bad_input(format!(
            "{} pods are named {:?}: use the id ({})",
            many.len(),
            output::escape(which, false),
            many.iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `runpod-<name>`, lower case, anything but letters and digits a dash.
pub fn alias_for_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-');
    if t.is_empty() {
        "runpod-pod".into()
    } else if t.starts_with("runpod") {
        t.to_string()
    } else {
        format!("runpod-{t}")
    }
}

/// The entry of a pod: one `sync` created, or a RunPod entry pinned under
/// the pod's name (`HostKeyAlias runpod-<id>`).
pub fn entry_of(doc: &Document, pod_id: &str) -> Option<usize> {
    let pin = runpod::pod_pin_name(pod_id);
    let blocks = doc.blocks();
    (1..blocks.len()).find(|&i| {
        blocks[i].kind == BlockKind::Host
            && blocks[i].patterns.len() == 1
            && (runpod::synced_pod_id(doc, &blocks[i]).as_deref() == Some(pod_id)
                || (runpod::is_runpod_block(doc, &blocks[i])
                    && doc
                        .first_value(&blocks[i], "hostkeyalias")
                        .is_some_and(|v| v.eq_ignore_ascii_case(&pin))))
    })
}

/// What sync remembers per pod, beside the pins: the endpoint and
/// `startedAt` the pin was made for (a restart on the same host and port
/// brings new host keys).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct PodRecord {
    #[serde(default)]
    started_at: Option<String>,
    host: String,
    port: u16,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    #[serde(default)]
    pods: BTreeMap<String, PodRecord>,
}

fn state_path() -> Option<PathBuf> {
    crate::platform::home_dir().map(|h| h.join(".ssh").join("runpod-ssh-pods.json"))
}

fn load_state() -> State {
    state_path()
        .and_then(|p| fsio::read_limited(&p).ok())
        .and_then(|c| serde_json::from_slice(&c.bytes).ok())
        .unwrap_or_default()
}

fn save_state(state: &State) -> anyhow::Result<()> {
    let Some(p) = state_path() else {
        return Ok(());
    };
    if let Some(dir) = p.parent() {
        fsio::create_private_dir(dir).or_fail(Failure::Io)?;
    }
    let _lock = fsio::Lock::for_file(&p).or_fail(Failure::Io)?;
    let snap = fsio::read(&p).or_fail(Failure::Io)?;
    let mut text = serde_json::to_string_pretty(state)?;
    text.push('\n');
    if snap.content() != text.as_bytes() {
        fsio::write(
            &snap,
            text.as_bytes(),
            fsio::WriteOptions {
                backup: false,
                new_mode: 0o600,
            },
        )
        .or_fail(Failure::Io)?;
    }
    Ok(())
}

/// Whether a key is pinned under `pin` in runpod-ssh's known_hosts file.
fn is_pinned(pin: &str) -> bool {
    edit::known_hosts_path()
        .and_then(|p| known_hosts::load(&[p]).ok())
        .is_some_and(|e| e.iter().any(|e| e.marker.is_none() && e.names(pin)))
}

/// Upsert entries for `pods` in one write, then make the first contact
/// with each new or changed one. `complete`: `pods` is the whole account
/// (so `--prune` may remove entries of pods not in it).
pub fn sync_pods(
    env: &Env,
    client: &api::Client,
    pods: &[Pod],
    complete: bool,
    o: &SyncOpts,
) -> anyhow::Result<Synced> {
    let (env, redirect) = edit::follow_vscode(env);
    let mut s = Session::open(&env)?;
    let mut doc = s.doc.clone();
    let mut state = load_state();
    let home = crate::platform::home_dir();
    let mut results = Vec::new();
    let mut warnings = Vec::new();
    let mut contacts: Vec<Due> = Vec::new();
    let mut reset_pins: Vec<String> = Vec::new();
    let mut new_aliases: Vec<String> = Vec::new();

    for pod in pods.iter().filter(|p| p.status != "TERMINATED") {
        let pin = runpod::pod_pin_name(&pod.id);
        let existing = entry_of(&doc, &pod.id);
        let existing_alias = existing.and_then(|i| doc.blocks()[i].patterns.first().cloned());
        let mut r = PodResult {
            id: pod.id.clone(),
            name: pod.name.clone(),
            status: pod.status.clone(),
            alias: existing_alias.clone(),
            action: "kept",
            endpoint: None,
            pin_reset: false,
            first_contact: None,
            note: None,
        };
        let Some(direct) = pod.direct() else {
            if pod.status == "RUNNING" && pod.proxy().is_some() {
                r.action = "proxy-only";
                r.note = Some(
                    "only RunPod's ssh.runpod.io proxy reaches it (a terminal, not VS Code, scp or port forwarding): edit the pod, add 22 to \"Expose TCP Ports\" (a public IP is needed), then `runpod-ssh sync` again".to_string(),
                );
            } else if existing.is_none() {
                r.action = "no-ssh";
                r.note = Some(if pod.status == "RUNNING" {
                    "no SSH endpoint: the pod exposes no TCP port 22".into()
                } else {
                    format!(
                        "{}: no entry until it runs (`runpod-ssh up {}`)",
                        pod.status.to_ascii_lowercase(),
                        pod.id
                    )
                });
            } else {
                r.note = Some(format!(
                    "{}: entry kept (`runpod-ssh up {}` starts it)",
                    pod.status.to_ascii_lowercase(),
                    existing_alias.as_deref().unwrap_or(&pod.id)
                ));
            }
            results.push(r);
            continue;
        };
        let ep = Endpoint {
            access: Access::ExposedTcp,
            user: direct.username.clone(),
            host: direct.host.to_ascii_lowercase(),
            port: direct.port,
            identity: None,
            options: Vec::new(),
            ignored: Vec::new(),
        };
        if ep.user.is_empty() || ep.host.is_empty() || ep.port == 0 {
            r.action = "no-ssh";
            r.note = Some("the API gave an incomplete SSH endpoint".into());
            results.push(r);
            continue;
        }
        // A RunPod entry pasted earlier for this very endpoint becomes the
        // pod's entry (keeping its alias) rather than a second one.
        let existing = existing.or_else(|| {
            let blocks = doc.blocks();
            (1..blocks.len()).find(|&i| {
                blocks[i].kind == BlockKind::Host
                    && blocks[i].patterns.len() == 1
                    && runpod::is_runpod_block(&doc, &blocks[i])
                    && runpod::synced_pod_id(&doc, &blocks[i]).is_none()
                    && super::add::endpoint_of(&doc, &blocks[i]) == (ep.host.clone(), ep.port)
            })
        });
        let existing_alias = existing.and_then(|i| doc.blocks()[i].patterns.first().cloned());
        let alias = match &existing_alias {
            Some(a) => a.clone(),
            None => {
                let base = alias_for_name(&pod.name);
                if doc.host_blocks_naming(&base).is_empty() && edit::check_alias(&base).is_ok() {
                    base
                } else {
                    format!("{base}-{}", pod.id.to_ascii_lowercase())
                }
            }
        };
        edit::check_alias(&alias)?;
        let identity = existing
            .and_then(|i| doc.first_value(&doc.blocks()[i], "identityfile"))
            .unwrap_or_else(|| runpod::choose_identity(&ep, home.as_deref()).0);
        let pinned = is_pinned(&pin);
        // Closed by an earlier refusal and not verified since: it stays
        // closed until a contact verifies the key (a sync that cannot reach
        // the pod learns nothing that would reopen it).
        let was_closed = !pinned
            && existing.is_some_and(|i| {
                let b = &doc.blocks()[i];
                entry_of(&doc, &pod.id) == Some(i)
                    && doc
                        .first_value(b, "stricthostkeychecking")
                        .is_some_and(|v| {
                            v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true")
                        })
            });
        let mut options = runpod::entry_options_pinned(&ep, &pin, &identity);
        if was_closed {
            for o in options.iter_mut() {
                if o.0.eq_ignore_ascii_case("stricthostkeychecking") {
                    o.1 = CLOSED.into();
                }
            }
        }
        let comment = format!("{} {}", runpod::SYNC_COMMENT, pod.id);
        let before = doc.to_bytes();
        let (next, bi) = super::add::apply(&doc, existing, &alias, &options, &ep, &[&comment])?;
        let rv = s.resolve(&next, &alias);
        if !rv.ok() {
            let list: Vec<String> = rv.errors.iter().map(|d| format!("  {d}")).collect();
            return Err(bad_input(format!(
                "the entry for pod {} would make a config ssh refuses; nothing was written:\n{}",
                pod.id,
                list.join("\n")
            )));
        }
        let over = super::add::overrides(&s, &next, bi, &rv, &options, &identity);
        if !over.is_empty() {
            return Err(bad_input(format!(
                "earlier lines of your config override the entry for {alias}, so it would not work; nothing was written:\n{}\nmove those lines below the entry, or into a `Host` block that does not match {alias}",
                over.join("\n")
            )));
        }
        let changed = next.to_bytes() != before;
        doc = next;
        let old = existing.map(|i| super::add::endpoint_of(&s.doc, &s.doc.blocks()[i]));
        let endpoint_changed = old.as_ref() != Some(&(ep.host.clone(), ep.port));
        let rec = PodRecord {
            started_at: pod.started_at.clone(),
            host: ep.host.clone(),
            port: ep.port,
        };
        let restarted = state
            .pods
            .get(&pod.id)
            .is_some_and(|old| old.started_at != rec.started_at);
        r.alias = Some(alias.clone());
        r.endpoint = Some(format!("{}:{}", ep.host, ep.port));
        r.action = match (existing, changed) {
            (None, _) => "created",
            (Some(_), true) => "updated",
            (Some(_), false) => "unchanged",
        };
        if existing.is_none() {
            new_aliases.push(alias.clone());
        }
        r.pin_reset = existing.is_some() && pinned && (endpoint_changed || restarted);
        if r.pin_reset {
            r.note = Some(if endpoint_changed {
                "the endpoint changed: the old host key is forgotten".into()
            } else {
                "the pod restarted (new startedAt): the old host key is forgotten".into()
            });
            reset_pins.push(pin.clone());
        }
        let first = !pinned || r.pin_reset;
        if pod.status == "RUNNING" && (first || o.probe_all) {
            if o.dry_run {
                let would = if was_closed {
                    format!(
                        "{alias} refuses this host (StrictHostKeyChecking yes: an earlier sync refused a key not in the pod's log); a sync would contact it and reopen the entry (accept-new) only if the pod's log lists the key"
                    )
                } else {
                    format!(
                        "a sync would make the first contact and pin the host key only if the pod's log lists it; a key the log does not list would switch {alias} to StrictHostKeyChecking yes"
                    )
                };
                r.note = Some(match r.note.take() {
                    Some(n) => format!("{n}; {would}"),
                    None => would,
                });
            }
            contacts.push(Due {
                index: results.len(),
                pin: pin.clone(),
                pod: pod.clone(),
                was_closed,
            });
        }
        if !o.dry_run {
            state.pods.insert(pod.id.clone(), rec);
        }
        results.push(r);
    }

    if o.prune && complete {
        let live: Vec<&str> = pods
            .iter()
            .filter(|p| p.status != "TERMINATED")
            .map(|p| p.id.as_str())
            .collect();
        loop {
            let blocks = doc.blocks();
            let gone = (1..blocks.len()).rev().find_map(|i| {
                let id = runpod::synced_pod_id(&doc, &blocks[i])?;
                (!live.contains(&id.as_str())).then_some((i, id))
            });
            let Some((i, id)) = gone else { break };
            let alias = blocks[i].patterns.first().cloned();
            doc.remove_block(i).map_err(bad_input)?;
            reset_pins.push(runpod::pod_pin_name(&id));
            if !o.dry_run {
                state.pods.remove(&id);
            }
            results.push(PodResult {
                name: pods
                    .iter()
                    .find(|p| p.id == id)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                id,
                status: "TERMINATED".into(),
                alias,
                action: "pruned",
                endpoint: None,
                pin_reset: false,
                first_contact: None,
                note: Some("the pod no longer exists: entry removed".into()),
            });
        }
    }

    let changed = doc.to_bytes() != s.snap.content();
    if changed {
        super::add::cross_check(
            &s,
            &doc,
            results
                .iter()
                .find_map(|r| r.alias.as_deref())
                .unwrap_or("runpod"),
            &mut warnings,
        )?;
    }
    let diff = s.diff(&doc);
    let mut backup = None;
    if !o.dry_run {
        if changed {
            backup = s.write(&doc)?;
            warnings.extend(crate::refusal::strictest_after_write(
                &s.path, &doc, &s.ctx, true,
            ));
        }
        for pin in &reset_pins {
            edit::forget_pinned_key(pin)?;
        }
        save_state(&state)?;
        if !o.no_vscode {
            for alias in &new_aliases {
                for c in edit::set_vscode_platform(alias, Some("linux"), false) {
                    if let Some(e) = c.error {
                        warnings.push(format!("VS Code settings: {e}"));
                    }
                }
            }
        }
        // The first contact: ours, so that VS Code never makes an
        // unverified one.
        if !contacts.is_empty() {
            let done = contact(client, &doc, &s, &contacts, o.facts);
            let done = guard_entries(
                &mut s,
                &contacts,
                done,
                (&doc.to_bytes(), changed, &mut backup),
                &mut warnings,
            );
            for (i, c) in done {
                results[i].first_contact = Some(c);
            }
        }
    }
    if let Some((settings, other)) = &redirect {
        warnings.push(format!(
            "VS Code reads {} (remote.SSH.configFile in {}), so that file was synced",
            edit::tilde(other),
            edit::tilde(settings)
        ));
    }
    Ok(Synced {
        results,
        diff,
        config: s.path.clone(),
        backup,
        redirect,
        warnings,
    })
}

/// A pod to contact after the write.
struct Due {
    /// Its index in the results.
    index: usize,
    pin: String,
    pod: Pod,
    /// Its entry was closed (`StrictHostKeyChecking yes`) before this run.
    was_closed: bool,
}

/// After the contacts: close the entries whose key was refused against the
/// pod's log (so plain ssh and VS Code do not accept it as new), reopen
/// closed ones whose key is now pinned, and say so in each message. One
/// write on top of the file as it is now (see [`Session::reread`]).
fn guard_entries(
    s: &mut Session,
    due: &[Due],
    done: Vec<(usize, Contact)>,
    (ours, wrote, run_backup): (&[u8], bool, &mut Option<PathBuf>),
    warnings: &mut Vec<String>,
) -> Vec<(usize, Contact)> {
    let mut changes: Vec<(usize, &str, &'static str)> = Vec::new();
    for (k, (d, (_, c))) in due.iter().zip(&done).enumerate() {
        let value = if c.closed || (d.was_closed && !matches!(c.result, "pinned" | "known")) {
            CLOSED
        } else if d.was_closed {
            OPEN
        } else {
            continue;
        };
        changes.push((k, d.pod.id.as_str(), value));
    }
    if changes.is_empty() {
        return done;
    }
    let outcome = s.reread().and_then(|()| {
        let mut doc = s.doc.clone();
        let mut missing = Vec::new();
        for &(k, id, value) in &changes {
            match entry_of(&doc, id) {
                Some(bi) => {
                    doc.set_option(bi, "StrictHostKeyChecking", value)
                        .map_err(bad_input)?;
                }
                None => missing.push(k),
            }
        }
        if doc.to_bytes() != s.snap.content() {
            // Back up only a version this run did not write itself: the
            // run's first write already saved the user's file (or created
            // it), and restoring the in-between version would reopen the
            // door this write closes.
            let backup = !wrote || s.snap.content() != ours;
            let b = s.write_with(
                &doc,
                fsio::WriteOptions {
                    backup,
                    ..Default::default()
                },
            )?;
            if run_backup.is_none() {
                *run_backup = b;
            }
        }
        Ok(missing)
    });
    let mut done = done;
    for &(k, _, value) in &changes {
        let (_, c) = &mut done[k];
        let was = due[k].was_closed;
        match (&outcome, value) {
            (Ok(missing), _) if missing.contains(&k) => {
                // Removed meanwhile: nothing left that could connect.
                c.closed = false;
            }
            (Ok(_), CLOSED) => {
                c.closed = true;
                c.message.push_str(if was {
                    ". The entry still says StrictHostKeyChecking yes (a key not in the pod's log was refused earlier): ssh and VS Code will refuse this host until `runpod-ssh sync` verifies it"
                } else {
                    ". The entry now says StrictHostKeyChecking yes: ssh and VS Code will refuse this host until `runpod-ssh sync` verifies it"
                });
            }
            (Ok(_), _) => {
                c.closed = false;
                c.message
                    .push_str("; the entry is open again (StrictHostKeyChecking accept-new)");
            }
            (Err(e), CLOSED) => {
                c.closed = false;
                c.message.push_str(&format!(
                    ". COULD NOT switch the entry to StrictHostKeyChecking yes ({e:#}): do not connect with ssh or VS Code until `runpod-ssh sync` verifies this host"
                ));
            }
            (Err(e), _) => {
                c.closed = true;
                warnings.push(format!(
                    "the entry for pod {} stays closed (StrictHostKeyChecking yes) although its key is now pinned: {e:#}; run `runpod-ssh sync` again",
                    due[k].pod.id
                ));
            }
        }
    }
    done
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
fn contact(
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

fn report(env: &Env, s: &Synced, dry_run: bool) -> anyhow::Result<Outcome> {
    let bad = s.results.iter().any(|r| {
        r.first_contact
            .as_ref()
            .is_some_and(|c| c.result == "refused" || c.result == "failed")
    });
    if env.global.json {
        let v = serde_json::json!({
            "dry_run": dry_run,
            "config": s.config,
            "backup": s.backup,
            "diff": s.diff,
            "pods": s.results,
            "warnings": s.warnings,
        });
        output::out(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
    } else {
        output::out(&render(env, s, dry_run))?;
        for w in &s.warnings {
            output::err(&format!("{} {w}\n", env.style.yellow("warning:")));
        }
    }
    Ok(if bad { Outcome::Problems } else { Outcome::Ok })
}

pub fn render(env: &Env, s: &Synced, dry_run: bool) -> String {
    let st = &env.style;
    let mut text = String::new();
    if s.results.is_empty() {
        text.push_str("No pods on this account.\n");
    }
    for r in &s.results {
        let name = output::escape(&r.name, false);
        let alias = r.alias.as_deref().unwrap_or("-");
        let ep = r.endpoint.as_deref().unwrap_or("");
        let would = if dry_run { "would be " } else { "" };
        let line = match r.action {
            "created" | "updated" => format!(
                "{} {alias} {would}{} → {ep} (pod {} \"{name}\", {})",
                st.green("✓"),
                r.action,
                r.id,
                r.status
            ),
            "unchanged" => format!(
                "{} {alias} up to date → {ep} (pod {} \"{name}\", {})",
                st.green("✓"),
                r.id,
                r.status
            ),
            "pruned" => format!(
                "{} {alias} {would}removed (pod {} no longer exists)",
                st.yellow("-"),
                r.id
            ),
            "proxy-only" => format!("{} pod {} \"{name}\" has no entry", st.yellow("!"), r.id),
            _ if r.alias.is_none() => format!("• pod {} \"{name}\" is {}", r.id, r.status),
            _ => format!("• {alias} (pod {} \"{name}\") is {}", r.id, r.status),
        };
        text.push_str(&line);
        text.push('\n');
        if let Some(n) = &r.note {
            text.push_str(&format!("  {n}\n"));
        }
        if let Some(c) = &r.first_contact {
            let mark = match c.result {
                "pinned" if c.verified => st.green("✓"),
                "known" => st.green("✓"),
                "pinned" => st.yellow("!"),
                _ => st.red("✗"),
            };
            text.push_str(&format!("  {mark} {}\n", output::escape(&c.message, false)));
            if let Some(ch) = &c.check {
                text.push_str(&format!("  {} {ch}\n", st.green("✓")));
            }
            if c.result != "refused"
                && !c.ok
                && let Some(e) = &c.error
            {
                text.push_str(&format!("    check failed: {}\n", output::escape(e, false)));
                if let Some(h) = &c.hint {
                    text.push_str(&format!("    → {}\n", output::escape(h, false)));
                }
            }
        }
    }
    if dry_run {
        if s.diff.is_empty() {
            text.push_str(&format!("\n{} would not change.\n", edit::tilde(&s.config)));
        } else {
            text.push_str(&format!(
                "\nWould change {}:\n\n{}",
                edit::tilde(&s.config),
                s.diff
            ));
        }
    } else if let Some(b) = &s.backup {
        text.push_str(&format!(
            "\n{} written; previous version saved as {}\n",
            edit::tilde(&s.config),
            edit::tilde(b)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_from_pod_names() {
        assert_eq!(alias_for_name("My Training Pod!"), "runpod-my-training-pod");
        assert_eq!(alias_for_name("runpod-llama"), "runpod-llama");
        assert_eq!(alias_for_name("日本"), "runpod-pod");
    }
}
