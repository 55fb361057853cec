//! The sync itself: every pod's entry upserted in one write (pasted
//! entries for the same endpoint adopted, `--prune` removing entries of
//! gone pods), pins reset where the endpoint or `startedAt` changed, then
//! the first contact with each new or changed pod.

use crate::api::{self, Pod};
use crate::commands::add;
use crate::commands::edit::{self, Session};
use crate::commands::{Env, bad_input};
use crate::config::BlockKind;
use crate::runpod::{self, Access, Endpoint};

use super::contact::{Due, contact};
use super::guard::{CLOSED, guard_entries};
use super::state::{PodRecord, is_pinned, load_state, save_state};
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
                    && add::endpoint_of(&doc, &blocks[i]) == (ep.host.clone(), ep.port)
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
        let (next, bi) = add::apply(&doc, existing, &alias, &options, &ep, &[&comment])?;
        let rv = s.resolve(&next, &alias);
        if !rv.ok() {
            let list: Vec<String> = rv.errors.iter().map(|d| format!("  {d}")).collect();
            return Err(bad_input(format!(
                "the entry for pod {} would make a config ssh refuses; nothing was written:\n{}",
                pod.id,
                list.join("\n")
            )));
        }
        let over = add::overrides(&s, &next, bi, &rv, &options, &identity);
        if !over.is_empty() {
            return Err(bad_input(format!(
                "earlier lines of your config override the entry for {alias}, so it would not work; nothing was written:\n{}\nmove those lines below the entry, or into a `Host` block that does not match {alias}",
                over.join("\n")
            )));
        }
        let changed = next.to_bytes() != before;
        doc = next;
        let old = existing.map(|i| add::endpoint_of(&s.doc, &s.doc.blocks()[i]));
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
        add::cross_check(
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
