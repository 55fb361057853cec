//! The sync itself: every pod's entry upserted in one write (pasted
//! entries for the same endpoint adopted, `--prune` removing entries of
//! gone pods), pins reset where the endpoint or `startedAt` changed, then
//! the first contact with each new or changed pod.
//!
//! [`sync_pods`] runs the steps in order: [`Plan::upsert`] per pod (the
//! endpoint, the alias, the entry checked as ssh reads it, what changed),
//! [`Plan::prune`], then [`write`] and [`first_contacts`]. Nothing is
//! written until every pod's entry is known to be good.

use std::path::{Path, PathBuf};

use crate::api::{self, Pod};
use crate::commands::add;
use crate::commands::edit::{self, Session};
use crate::commands::{Env, bad_input};
use crate::config::{BlockKind, Document};
use crate::runpod::{self, Access, Endpoint};

use super::contact::{Due, contact};
use super::guard::{CLOSED, guard_entries};
use super::state::{PodRecord, State, is_pinned, load_state, save_state};
use super::{PodResult, SyncOpts, Synced, alias_for_name, entry_of};

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
    let mut plan = Plan {
        doc: s.doc.clone(),
        state: load_state(),
        results: Vec::new(),
        contacts: Vec::new(),
        reset_pins: Vec::new(),
        new_aliases: Vec::new(),
    };
    let home = crate::platform::home_dir();
    for pod in pods.iter().filter(|p| p.status != "TERMINATED") {
        plan.upsert(&s, pod, home.as_deref(), o)?;
    }
    if o.prune && complete {
        plan.prune(pods, o.dry_run)?;
    }
    let mut warnings = Vec::new();
    let (diff, backup) = write(&mut s, client, &mut plan, o, &mut warnings)?;
    if let Some((settings, other)) = &redirect {
        warnings.push(format!(
            "VS Code reads {} (remote.SSH.configFile in {}), so that file was synced",
            edit::tilde(other),
            edit::tilde(settings)
        ));
    }
    Ok(Synced {
        results: plan.results,
        diff,
        config: s.path.clone(),
        backup,
        redirect,
        warnings,
    })
}

/// What the per-pod steps build up before anything is written: the
/// config as it will be, and what to do once it is.
struct Plan {
    doc: Document,
    state: State,
    results: Vec<PodResult>,
    /// Pods to contact after the write.
    contacts: Vec<Due>,
    /// Pins to forget: the endpoint or `startedAt` changed, or the pod is
    /// gone.
    reset_pins: Vec<String>,
    /// Entries this run creates (VS Code is told they are Linux).
    new_aliases: Vec<String>,
}

/// One pod's entry as this run writes it.
struct Entry {
    pin: String,
    alias: String,
    ep: Endpoint,
    /// The block it replaces (the pod's own, or one pasted for its endpoint),
    /// as an index into the working copy before this pod's upsert.
    existing: Option<usize>,
    /// That block's endpoint, read then: later indexes shift as entries
    /// are inserted above it.
    old_endpoint: Option<(String, u16)>,
    /// A key is pinned under `pin` already.
    pinned: bool,
    /// Closed by an earlier refusal (`StrictHostKeyChecking yes`).
    was_closed: bool,
}

impl Plan {
    /// One pod: its entry upserted into `doc`, its result and its contact
    /// recorded. An entry ssh would refuse or that earlier lines override
    /// fails the whole sync before anything is written.
    fn upsert(
        &mut self,
        s: &Session,
        pod: &Pod,
        home: Option<&Path>,
        o: &SyncOpts,
    ) -> anyhow::Result<()> {
        let doc = &self.doc;
        let pin = runpod::pod_pin_name(&pod.id);
        let existing = entry_of(doc, &pod.id);
        let mut r = PodResult {
            id: pod.id.clone(),
            name: pod.name.clone(),
            status: pod.status.clone(),
            alias: alias_of(doc, existing),
            action: "kept",
            endpoint: None,
            pin_reset: false,
            first_contact: None,
            note: None,
        };
        let Some(ep) = pod_endpoint(pod, existing.is_some(), &mut r) else {
            self.results.push(r);
            return Ok(());
        };
        // A RunPod entry pasted earlier for this very endpoint becomes the
        // pod's entry (keeping its alias) rather than a second one.
        let existing = existing.or_else(|| pasted_entry(doc, &ep));
        let alias = choose_alias(doc, pod, existing);
        edit::check_alias(&alias)?;
        let identity = existing
            .and_then(|i| doc.first_value(&doc.blocks()[i], "identityfile"))
            .unwrap_or_else(|| runpod::choose_identity(&ep, home).0);
        let pinned = is_pinned(&pin);
        let was_closed = !pinned && stays_closed(doc, pod, existing);
        let old_endpoint = existing.map(|i| add::endpoint_of(doc, &doc.blocks()[i]));
        let e = Entry {
            pin,
            alias,
            ep,
            existing,
            old_endpoint,
            pinned,
            was_closed,
        };
        let (next, changed) = checked_entry(s, doc, pod, &e, &identity)?;
        self.doc = next;
        self.record(pod, &e, changed, r, o);
        Ok(())
    }

    /// What the upsert of `e` means: created, updated or unchanged, a pin
    /// reset, a contact due; and the pod's record for the next run.
    fn record(&mut self, pod: &Pod, e: &Entry, changed: bool, mut r: PodResult, o: &SyncOpts) {
        let Entry { pin, alias, ep, .. } = e;
        let endpoint_changed = e.old_endpoint.as_ref() != Some(&(ep.host.clone(), ep.port));
        let rec = PodRecord {
            started_at: pod.started_at.clone(),
            host: ep.host.clone(),
            port: ep.port,
        };
        let restarted = self
            .state
            .pods
            .get(&pod.id)
            .is_some_and(|old| old.started_at != rec.started_at);
        r.alias = Some(alias.clone());
        r.endpoint = Some(format!("{}:{}", ep.host, ep.port));
        r.action = match (e.existing, changed) {
            (None, _) => "created",
            (Some(_), true) => "updated",
            (Some(_), false) => "unchanged",
        };
        if e.existing.is_none() {
            self.new_aliases.push(alias.clone());
        }
        r.pin_reset = e.existing.is_some() && e.pinned && (endpoint_changed || restarted);
        if r.pin_reset {
            r.note = Some(if endpoint_changed {
                "the endpoint changed: the old host key is forgotten".into()
            } else {
                "the pod restarted (new startedAt): the old host key is forgotten".into()
            });
            self.reset_pins.push(pin.clone());
        }
        let first = !e.pinned || r.pin_reset;
        if pod.status == "RUNNING" && (first || o.probe_all) {
            if o.dry_run {
                let would = contact_would(alias, e.was_closed);
                r.note = Some(match r.note.take() {
                    Some(n) => format!("{n}; {would}"),
                    None => would,
                });
            }
            self.contacts.push(Due {
                index: self.results.len(),
                pin: pin.clone(),
                pod: pod.clone(),
                was_closed: e.was_closed,
            });
        }
        if !o.dry_run {
            self.state.pods.insert(pod.id.clone(), rec);
        }
        self.results.push(r);
    }

    /// `--prune`: remove the entries sync made for pods no longer listed,
    /// and forget their pins.
    fn prune(&mut self, pods: &[Pod], dry_run: bool) -> anyhow::Result<()> {
        let live: Vec<&str> = pods
            .iter()
            .filter(|p| p.status != "TERMINATED")
            .map(|p| p.id.as_str())
            .collect();
        loop {
            let doc = &mut self.doc;
            let blocks = doc.blocks();
            let gone = (1..blocks.len()).rev().find_map(|i| {
                let id = runpod::synced_pod_id(doc, &blocks[i])?;
                (!live.contains(&id.as_str())).then_some((i, id))
            });
            let Some((i, id)) = gone else { break };
            let alias = blocks[i].patterns.first().cloned();
            doc.remove_block(i).map_err(bad_input)?;
            self.reset_pins.push(runpod::pod_pin_name(&id));
            if !dry_run {
                self.state.pods.remove(&id);
            }
            self.results.push(PodResult {
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
        Ok(())
    }
}

/// The alias of block `i` (a pod's entry has exactly one).
fn alias_of(doc: &Document, i: Option<usize>) -> Option<String> {
    i.and_then(|i| doc.blocks()[i].patterns.first().cloned())
}

/// The pod's own sshd as an endpoint; `None` (with `r` saying why) when the
/// API gives none that VS Code could use.
fn pod_endpoint(pod: &Pod, has_entry: bool, r: &mut PodResult) -> Option<Endpoint> {
    let Some(direct) = pod.direct() else {
        if pod.status == "RUNNING" && pod.proxy().is_some() {
            r.action = "proxy-only";
            r.note = Some(
                "only RunPod's ssh.runpod.io proxy reaches it (a terminal, not VS Code, scp or port forwarding): edit the pod, add 22 to \"Expose TCP Ports\" (a public IP is needed), then `runpod-ssh sync` again".to_string(),
            );
        } else if !has_entry {
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
                r.alias.as_deref().unwrap_or(&pod.id)
            ));
        }
        return None;
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
        return None;
    }
    Some(ep)
}

/// A single-alias RunPod entry that sync did not make, for `ep`.
fn pasted_entry(doc: &Document, ep: &Endpoint) -> Option<usize> {
    let blocks = doc.blocks();
    (1..blocks.len()).find(|&i| {
        blocks[i].kind == BlockKind::Host
            && blocks[i].patterns.len() == 1
            && runpod::is_runpod_block(doc, &blocks[i])
            && runpod::synced_pod_id(doc, &blocks[i]).is_none()
            && add::endpoint_of(doc, &blocks[i]) == (ep.host.clone(), ep.port)
    })
}

/// The entry's alias: the existing one's, else `runpod-<name>`, with the
/// pod id appended when that is taken or not a valid alias.
fn choose_alias(doc: &Document, pod: &Pod, existing: Option<usize>) -> String {
    match alias_of(doc, existing) {
        Some(a) => a,
        None => {
            let base = alias_for_name(&pod.name);
            if doc.host_blocks_naming(&base).is_empty() && edit::check_alias(&base).is_ok() {
                base
            } else {
                format!("{base}-{}", pod.id.to_ascii_lowercase())
            }
        }
    }
}

/// Closed by an earlier refusal and not verified since: it stays closed
/// until a contact verifies the key (a sync that cannot reach the pod
/// learns nothing that would reopen it). The caller checks the pin.
fn stays_closed(doc: &Document, pod: &Pod, existing: Option<usize>) -> bool {
    existing.is_some_and(|i| {
        let b = &doc.blocks()[i];
        entry_of(doc, &pod.id) == Some(i)
            && doc
                .first_value(b, "stricthostkeychecking")
                .is_some_and(|v| v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true"))
    })
}

/// `doc` with `e` upserted, and whether that changed it; refused when ssh
/// would refuse the result or earlier lines override the entry.
fn checked_entry(
    s: &Session,
    doc: &Document,
    pod: &Pod,
    e: &Entry,
    identity: &str,
) -> anyhow::Result<(Document, bool)> {
    let alias = &e.alias;
    let mut options = runpod::entry_options_pinned(&e.ep, &e.pin, identity);
    if e.was_closed {
        for o in options.iter_mut() {
            if o.0.eq_ignore_ascii_case("stricthostkeychecking") {
                o.1 = CLOSED.into();
            }
        }
    }
    let comment = format!("{} {}", runpod::SYNC_COMMENT, pod.id);
    let before = doc.to_bytes();
    let (next, bi) = add::apply(doc, e.existing, alias, &options, &e.ep, &[&comment])?;
    let rv = s.resolve(&next, alias);
    if !rv.ok() {
        let list: Vec<String> = rv.errors.iter().map(|d| format!("  {d}")).collect();
        return Err(bad_input(format!(
            "the entry for pod {} would make a config ssh refuses; nothing was written:\n{}",
            pod.id,
            list.join("\n")
        )));
    }
    let over = add::overrides(s, &next, bi, &rv, &options, identity);
    if !over.is_empty() {
        return Err(bad_input(format!(
            "earlier lines of your config override the entry for {alias}, so it would not work; nothing was written:\n{}\nmove those lines below the entry, or into a `Host` block that does not match {alias}",
            over.join("\n")
        )));
    }
    let changed = next.to_bytes() != before;
    Ok((next, changed))
}

/// What a dry run says a sync would do at first contact.
fn contact_would(alias: &str, was_closed: bool) -> String {
    if was_closed {
        format!(
            "{alias} refuses this host (StrictHostKeyChecking yes: an earlier sync refused a key not in the pod's log); a sync would contact it and reopen the entry (accept-new) only if the pod's log lists the key"
        )
    } else {
        format!(
            "a sync would make the first contact and pin the host key only if the pod's log lists it; a key the log does not list would switch {alias} to StrictHostKeyChecking yes"
        )
    }
}

/// The plan made real: the config (cross-checked with `ssh -G`), pins
/// forgotten, the state saved, VS Code told about new entries, then the
/// first contacts. A dry run only computes the diff.
fn write(
    s: &mut Session,
    client: &api::Client,
    plan: &mut Plan,
    o: &SyncOpts,
    warnings: &mut Vec<String>,
) -> anyhow::Result<(String, Option<PathBuf>)> {
    let doc = &plan.doc;
    let changed = doc.to_bytes() != s.snap.content();
    if changed {
        add::cross_check(
            s,
            doc,
            plan.results
                .iter()
                .find_map(|r| r.alias.as_deref())
                .unwrap_or("runpod"),
            warnings,
        )?;
    }
    let diff = s.diff(doc);
    let mut backup = None;
    if o.dry_run {
        return Ok((diff, backup));
    }
    if changed {
        backup = s.write(doc)?;
        warnings.extend(crate::refusal::strictest_after_write(
            &s.path, doc, &s.ctx, true,
        ));
    }
    for pin in &plan.reset_pins {
        edit::forget_pinned_key(pin)?;
    }
    save_state(&plan.state)?;
    if !o.no_vscode {
        for alias in &plan.new_aliases {
            for c in edit::set_vscode_platform(alias, Some("linux"), false) {
                if let Some(e) = c.error {
                    warnings.push(format!("VS Code settings: {e}"));
                }
            }
        }
    }
    first_contacts(s, client, plan, (changed, &mut backup), o.facts, warnings);
    Ok((diff, backup))
}

/// The first contact: ours, so that VS Code never makes an unverified
/// one. Entries whose key was refused are closed afterwards (a second
/// write, whose backup becomes the run's if the first wrote none).
fn first_contacts(
    s: &mut Session,
    client: &api::Client,
    plan: &mut Plan,
    (changed, backup): (bool, &mut Option<PathBuf>),
    facts: bool,
    warnings: &mut Vec<String>,
) {
    if plan.contacts.is_empty() {
        return;
    }
    let done = contact(client, &plan.doc, s, &plan.contacts, facts);
    let done = guard_entries(
        s,
        &plan.contacts,
        done,
        (&plan.doc.to_bytes(), changed, backup),
        warnings,
    );
    for (i, c) in done {
        plan.results[i].first_contact = Some(c);
    }
}
