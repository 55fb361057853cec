//! The commands that act on pods through the RunPod API: `list --live`,
//! `up`, `open`, `stop`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::sync::{self, SyncOpts};
use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::api::{self, Pod};
use crate::cli::{ListArgs, OpenArgs, StopArgs, UpArgs};
use crate::config::Document;
use crate::{fsio, output, runpod};

/// The config `sync` writes (VS Code's, when it reads another), parsed.
fn config_doc(env: &Env) -> anyhow::Result<(PathBuf, Document)> {
    let (env, _) = super::edit::follow_vscode(env);
    let path = env.config_path()?;
    let snap = fsio::read(&path).or_fail(Failure::Io)?;
    Ok((path, Document::parse(snap.content())))
}

/// The pod id an entry is for: the sync comment, else `HostKeyAlias
/// runpod-<id>`.
fn pod_id_of(doc: &Document, alias: &str) -> Option<String> {
    let &bi = doc.host_blocks_naming(alias).first()?;
    let b = &doc.blocks()[bi];
    runpod::synced_pod_id(doc, b).or_else(|| {
        doc.first_value(b, "hostkeyalias")?
            .strip_prefix("runpod-")
            .filter(|id| !id.starts_with("proxy-"))
            .map(str::to_string)
    })
}

/// The pod an alias, id or name means.
fn resolve_pod(env: &Env, client: &api::Client, target: &str) -> anyhow::Result<Pod> {
    let (_, doc) = config_doc(env)?;
    if let Some(id) = pod_id_of(&doc, target) {
        return client.pod(&id).or_fail(Failure::Io);
    }
    sync::find_pod(client, target)
}

fn uptime(secs: Option<u64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) if s < 3600 => format!("{}m", s / 60),
        Some(s) if s < 86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        Some(s) => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

/// `list --live`: the account's pods beside the entries.
pub fn list(env: &Env, _a: &ListArgs) -> anyhow::Result<Outcome> {
    let client = api::Client::from_env().or_fail(Failure::Io)?;
    let pods = client.pods().or_fail(Failure::Io)?;
    let (_, doc) = config_doc(env)?;
    let mut rows = Vec::new();
    let mut seen = Vec::new();
    for p in &pods {
        let entry = sync::entry_of(&doc, &p.id);
        let alias = entry.and_then(|i| doc.blocks()[i].patterns.first().cloned());
        let entry_ep = entry.map(|i| super::add::endpoint_of(&doc, &doc.blocks()[i]));
        if let Some(i) = entry {
            seen.push(i);
        }
        let api_ep = p.direct().map(|d| (d.host.to_ascii_lowercase(), d.port));
        let state = match (&entry_ep, &api_ep) {
            (None, _) if p.status == "TERMINATED" => "",
            (None, Some(_)) => "no entry: runpod-ssh sync",
            (None, None) if p.status == "RUNNING" && p.proxy().is_some() => {
                "proxy only: expose TCP 22"
            }
            (None, None) => "",
            (Some(_), _) if p.status == "TERMINATED" => "stale: pod terminated",
            (Some(e), Some(a)) if e != a => "stale: runpod-ssh sync",
            (Some(_), Some(_)) => "ok",
            (Some(_), None) => "stopped: runpod-ssh up",
        };
        rows.push(serde_json::json!({
            "id": p.id,
            "name": p.name,
            "status": p.status,
            "gpu": p.gpu_text(),
            "cost_per_hour": p.cost,
            "uptime_s": p.runtime.as_ref().and_then(|r| r.uptime),
            "endpoint": api_ep.as_ref().map(|(h, port)| format!("{h}:{port}")),
            "alias": alias,
            "state": state,
            "stale": state.starts_with("stale"),
        }));
    }
    // Entries sync made for pods the account no longer has.
    let blocks = doc.blocks();
    for (i, b) in blocks.iter().enumerate() {
        if seen.contains(&i) {
            continue;
        }
        if let Some(id) = runpod::synced_pod_id(&doc, b) {
            rows.push(serde_json::json!({
                "id": id, "name": "", "status": "GONE", "gpu": "", "cost_per_hour": null,
                "uptime_s": null, "endpoint": null, "alias": b.patterns.first(),
                "state": "stale: pod gone (sync --prune)", "stale": true,
            }));
        }
    }
    if env.global.json {
        output::out(&format!("{}\n", serde_json::to_string_pretty(&rows)?))?;
        return Ok(Outcome::Ok);
    }
    let s = |v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::String(s) => output::escape(s, false),
            serde_json::Value::Null => "-".into(),
            v => v.to_string(),
        }
    };
    let mut table = vec![
        [
            "POD", "NAME", "STATUS", "GPU", "$/H", "UPTIME", "ENDPOINT", "ALIAS", "STATE",
        ]
        .map(String::from),
    ];
    for r in &rows {
        table.push([
            s(&r["id"]),
            s(&r["name"]),
            s(&r["status"]),
            s(&r["gpu"]),
            r["cost_per_hour"]
                .as_f64()
                .map_or("-".into(), |c| format!("{c:.2}")),
            uptime(r["uptime_s"].as_u64()),
            s(&r["endpoint"]),
            s(&r["alias"]),
            s(&r["state"]),
        ]);
    }
    if rows.is_empty() {
        output::out("No pods on this account.\n")?;
    } else {
        output::out(&output::table(&table, |_, _, c| c))?;
    }
    Ok(Outcome::Ok)
}

fn poll_interval() -> Duration {
    std::env::var("RUNPOD_SSH_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(3), Duration::from_millis)
}

/// Start the pod when stopped and wait until it runs with `ssh.direct`;
/// then sync its entry (first contact verified) and check it. Returns the
/// alias and whether everything passed.
fn bring_up(env: &Env, target: &str, wait: u64) -> anyhow::Result<(Option<String>, bool)> {
    let client = api::Client::from_env().or_fail(Failure::Io)?;
    let mut pod = resolve_pod(env, &client, target)?;
    let quiet = env.global.quiet || env.global.json;
    let say = |m: &str| {
        if !quiet {
            output::err(m);
        }
    };
    match pod.status.as_str() {
        "TERMINATED" => {
            return Err(bad_input(format!(
                "pod {} was terminated: it cannot be started again",
                pod.id
            )));
        }
        "EXITED" | "ERROR" => {
            say(&format!(
                "Starting pod {} \"{}\"…\n",
                pod.id,
                output::escape(&pod.name, false)
            ));
            if let Some(p) = client.action(&pod.id, "start").or_fail(Failure::Io)? {
                pod = p;
            }
        }
        _ => {}
    }
    let started = Instant::now();
    let spinner = (std::io::stderr().is_terminal() && !quiet).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.enable_steady_tick(Duration::from_millis(100));
        pb
    });
    while !(pod.status == "RUNNING" && pod.direct().is_some()) {
        if started.elapsed() > Duration::from_secs(wait) {
            if let Some(pb) = &spinner {
                pb.finish_and_clear();
            }
            let why = if pod.status == "RUNNING" {
                "it runs, but has no SSH over exposed TCP: add 22 to the pod's \"Expose TCP Ports\""
                    .to_string()
            } else {
                format!("it is still {}", pod.status)
            };
            return Err(super::fail(
                Failure::Io,
                anyhow::anyhow!(
                    "pod {} was not reachable over SSH after {wait}s: {why}",
                    pod.id
                ),
            ));
        }
        if let Some(pb) = &spinner {
            pb.set_message(format!(
                "waiting for pod {}: {} ({}s)",
                pod.id,
                pod.status,
                started.elapsed().as_secs()
            ));
        }
        std::thread::sleep(poll_interval());
        pod = client.pod(&pod.id).or_fail(Failure::Io)?;
    }
    if let Some(pb) = &spinner {
        pb.finish_and_clear();
    }
    let s = sync::sync_pods(
        env,
        &client,
        std::slice::from_ref(&pod),
        false,
        &SyncOpts {
            dry_run: false,
            prune: false,
            no_vscode: false,
            probe_all: true,
            facts: true,
        },
    )?;
    let r = s.results.first();
    let alias = r.and_then(|r| r.alias.clone());
    let ok = r
        .and_then(|r| r.first_contact.as_ref())
        .is_some_and(|c| c.ok);
    if env.global.json {
        output::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "pod": pod.id,
                "status": pod.status,
                "alias": alias,
                "ok": ok,
                "result": r,
                "warnings": s.warnings,
            }))?
        ))?;
    } else if !env.global.quiet {
        output::out(&sync::render(env, &s, false))?;
        if ok && let Some(a) = &alias {
            output::out(&format!(
                "\n{} {a} is up: ssh {a}   (VS Code: runpod-ssh open {a})\n",
                env.style.green("✓")
            ))?;
        }
        for w in &s.warnings {
            output::err(&format!("{} {w}\n", env.style.yellow("warning:")));
        }
    }
    Ok((alias, ok))
}

pub fn up(env: &Env, a: &UpArgs) -> anyhow::Result<Outcome> {
    let (_, ok) = bring_up(env, &a.target, a.wait)?;
    Ok(if ok { Outcome::Ok } else { Outcome::Problems })
}

/// Where `name` is on PATH (with Windows' launcher extensions).
fn which(name: &str) -> Option<PathBuf> {
    let exts: &[&str] = if cfg!(windows) {
        &[".cmd", ".exe", ".bat", ""]
    } else {
        &[""]
    };
    std::env::split_paths(&std::env::var_os("PATH")?).find_map(|d| {
        exts.iter()
            .map(|e| d.join(format!("{name}{e}")))
            .find(|p| p.is_file())
    })
}

/// `vscode-remote://ssh-remote+ALIAS/FOLDER`, the folder percent-encoded.
pub fn folder_uri(alias: &str, folder: &str) -> Result<String, String> {
    if !folder.starts_with('/') {
        return Err(format!(
            "--folder must be an absolute path on the pod, not {folder:?}"
        ));
    }
    if folder.chars().any(char::is_control) {
        return Err("--folder holds control characters".into());
    }
    let mut enc = String::new();
    for b in folder.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(format!("vscode-remote://ssh-remote+{alias}{enc}"))
}

pub fn open(env: &Env, a: &OpenArgs) -> anyhow::Result<Outcome> {
    // Before starting (and paying for) a pod: is the editor there?
    let Some(editor) = which(&a.editor) else {
        return Err(bad_input(format!(
            "`{}` is not on PATH. In the editor, run the command \"Shell Command: Install '{}' command in PATH\" (Command Palette), or pick another with --editor code|code-insiders|cursor|codium|windsurf",
            a.editor, a.editor
        )));
    };
    // The URI is checked before anything starts.
    folder_uri("x", &a.folder).map_err(bad_input)?;
    let (alias, ok) = bring_up(env, &a.target, a.wait)?;
    let Some(alias) = alias else {
        return Err(bad_input("the pod has no entry to open"));
    };
    if !ok {
        output::err(&format!(
            "{} not opening {alias} in {}: the check failed (above)\n",
            env.style.red("✗"),
            a.editor
        ));
        return Ok(Outcome::Problems);
    }
    // remotePlatform is set by sync for a new entry; make sure of it.
    for c in super::edit::set_vscode_platform(&alias, Some("linux"), false) {
        if let Some(e) = c.error {
            output::err(&format!(
                "{} VS Code settings: {e}\n",
                env.style.yellow("warning:")
            ));
        }
    }
    let uri = folder_uri(&alias, &a.folder).map_err(bad_input)?;
    let status = std::process::Command::new(&editor)
        .arg("--folder-uri")
        .arg(&uri)
        .status()
        .or_fail(Failure::Io)?;
    if !status.success() {
        return Err(super::fail(
            Failure::Io,
            anyhow::anyhow!("{} --folder-uri {uri} failed ({status})", editor.display()),
        ));
    }
    if !env.global.quiet && !env.global.json {
        output::out(&format!("Opened {uri} in {}\n", a.editor))?;
    }
    Ok(Outcome::Ok)
}

pub fn stop(env: &Env, a: &StopArgs) -> anyhow::Result<Outcome> {
    let client = api::Client::from_env().or_fail(Failure::Io)?;
    let pod = resolve_pod(env, &client, &a.target)?;
    if pod.status == "EXITED" {
        output::out(&format!("Pod {} is already stopped.\n", pod.id))?;
        return Ok(Outcome::Ok);
    }
    if !env.global.quiet && !env.global.json {
        output::err(&format!(
            "Stopping pod {} \"{}\" ({}, ${:.2}/h). Stop keeps the pod and its /workspace volume, which is still billed while stopped; the container disk (everything outside /workspace) is wiped. Terminate (RunPod console only; runpod-ssh never does it) would delete the pod and its volume for good.\n",
            pod.id,
            output::escape(&pod.name, false),
            pod.gpu_text(),
            pod.cost.unwrap_or(0.0)
        ));
    }
    let after = client.action(&pod.id, "stop").or_fail(Failure::Io)?;
    let status = after.as_ref().map_or("EXITED", |p| p.status.as_str());
    if env.global.json {
        output::out(&format!(
            "{}\n",
            serde_json::json!({"pod": pod.id, "action": "stop", "status": status})
        ))?;
    } else if !env.global.quiet {
        output::out(&format!(
            "{} pod {} stopped (now {status}). Start it again with `runpod-ssh up {}`.\n",
            env.style.green("✓"),
            pod.id,
            a.target
        ))?;
    }
    Ok(Outcome::Ok)
}
