//! `runpod-ssh check [ALIAS…]`: probe hosts concurrently and report, per
//! host, the first failing stage with what to do about it.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Env, Failure, OrFail, Outcome};
use crate::cli::CheckArgs;
use crate::config::files::load_tree;
use crate::config::{Context, Document, Resolved, resolve};
use crate::probe::{self, Options, Report};
use crate::{fsio, output, refusal, runpod};

pub fn run(env: &Env, a: &CheckArgs) -> anyhow::Result<Outcome> {
    super::check_connect_args(a.timeout, a.jobs, &a.aliases)?;
    let path = env.config_path()?;
    let snap = fsio::read(&path).or_fail(Failure::Io)?;
    let doc = Document::parse(snap.content());
    let ctx = env.context();
    let aliases = aliases_to_check(a, &path, &doc, &ctx);
    if aliases.is_empty() {
        return nothing_to_check(env);
    }
    let opts = probe_options(env, a, aliases.len());
    let targets = targets(env, &path, &doc, &ctx, &aliases);
    let hosts: Vec<_> = aliases.iter().cloned().zip(targets).collect();
    let started = Instant::now();
    let mut reports = probe_with_spinner(env, hosts, &opts, a.jobs)?;
    let wall = started.elapsed();
    suggest_aliases(&mut reports, &path, &doc, &ctx);
    let all_ok = reports.iter().all(|r| r.ok);

    if env.global.json {
        let v: Vec<serde_json::Value> = reports.iter().map(|r| json_of(r, env)).collect();
        output::out(&output::json(&v)?)?;
    } else {
        output::out(&render(env, &reports, wall))?;
    }
    Ok(if all_ok {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

/// The aliases named, or else the RunPod entries (all of them with `--all`).
fn aliases_to_check(a: &CheckArgs, path: &Path, doc: &Document, ctx: &Context) -> Vec<String> {
    if !a.aliases.is_empty() {
        return a.aliases.clone();
    }
    runpod::entries(&load_tree(path, doc, &ctx.home), a.all)
        .into_iter()
        .map(|e| e.alias)
        .collect()
}

/// No alias given and no RunPod entry: say how to add one; `[]` in JSON.
fn nothing_to_check(env: &Env) -> anyhow::Result<Outcome> {
    if !env.global.quiet {
        output::err(&format!(
            "Nothing to check: no RunPod entries. Add one with: {}\n",
            env.command("add 'ssh root@IP -p PORT -i ~/.ssh/id_ed25519'")
        ));
    }
    if env.global.json {
        output::out("[]\n")?;
    }
    Ok(Outcome::Ok)
}

fn probe_options(env: &Env, a: &CheckArgs, hosts: usize) -> Options {
    let interactive =
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !env.global.json;
    // One overall deadline: every stage of every host, queued ones included.
    let per_stage = Duration::from_secs_f64(a.timeout);
    let waves = hosts.div_ceil(a.jobs.min(256)) as u32;
    let deadline = Instant::now() + per_stage * 8 * waves.max(1);
    Options {
        timeout: per_stage,
        deadline: Some(deadline),
        quick: a.quick,
        agent: std::env::var_os("SSH_AUTH_SOCK").map(Into::into),
        interactive,
        passphrases: Default::default(),
        record_host_keys: true,
        then_run: None,
    }
}

type Targets = Vec<Result<probe::Target, probe::ResolveFailure>>;

/// What each alias resolves to, or why it cannot be probed.
fn targets(env: &Env, path: &Path, doc: &Document, ctx: &Context, aliases: &[String]) -> Targets {
    // Entries of this file (not an included one): `add` edits only it.
    let runpod_aliases: Vec<String> = runpod::entries(&load_tree(path, doc, &ctx.home), false)
        .into_iter()
        .filter(|e| e.source.file == path)
        .map(|e| e.alias)
        .collect();
    aliases
        .iter()
        .map(|alias| {
            let r = resolve(doc, path, alias, ctx);
            probe::target(alias, &r)
                .map(|mut t| {
                    if runpod_aliases.contains(alias) && pinned_by_us(doc, alias, &t) {
                        t.reset_pin = Some(env.command(&format!(
                            "add --name {} --reset-host-key",
                            output::shell_quote(alias)
                        )));
                    }
                    t
                })
                .map_err(|f| unresolved_hint(f, &r, path, doc, ctx, alias))
        })
        .collect()
}

/// runpod-ssh pinned this entry's key (under its alias, or under
/// runpod-<podid> for a synced entry): it resets the pin too.
fn pinned_by_us(doc: &Document, alias: &str, t: &probe::Target) -> bool {
    let synced_pin = doc
        .host_blocks_naming(alias)
        .first()
        .and_then(|&bi| runpod::synced_pod_id(doc, &doc.blocks()[bi]))
        .map(|id| runpod::pod_pin_name(&id));
    t.host_key_alias.as_deref() == Some(alias)
        || (synced_pin.is_some() && t.host_key_alias.as_deref() == synced_pin.as_deref())
}

/// A name that did not resolve is most often a mistyped alias: a system
/// config's `Host *` (Debian's) made it look configured, so the probe
/// tried DNS as ssh would. Suggest a near alias (none for a defined one).
fn suggest_aliases(reports: &mut [Report], path: &Path, doc: &Document, ctx: &Context) {
    let mut files = None;
    for r in reports
        .iter_mut()
        .filter(|r| r.stage == Some(probe::Stage::Resolve))
    {
        let files = files.get_or_insert_with(|| load_tree(path, doc, &ctx.home));
        let near = super::did_you_mean(&r.alias, files);
        if let Some(e) = r.error.as_mut() {
            e.push_str(&near);
        }
    }
}

/// An alias that cannot be probed: suggest a near name, or name the `fix`
/// that repairs a config ssh refuses.
fn unresolved_hint(
    mut f: probe::ResolveFailure,
    r: &Resolved,
    path: &Path,
    doc: &Document,
    ctx: &Context,
    alias: &str,
) -> probe::ResolveFailure {
    if f.error.starts_with("no host entry for") {
        let files = load_tree(path, doc, &ctx.home);
        f.error.push_str(&super::did_you_mean(alias, &files));
    }
    if !r.ok() {
        let refused = refusal::Refusal::from_resolved(r);
        if let Some(h) = refusal::hint(refusal::Client::local(), &refused, alias, ctx) {
            f.hint = h;
        }
    }
    f
}

/// Probe every host, `jobs` at a time, with a spinner on a terminal.
fn probe_with_spinner(
    env: &Env,
    hosts: Vec<(String, Result<probe::Target, probe::ResolveFailure>)>,
    opts: &Options,
    jobs: usize,
) -> anyhow::Result<Vec<Report>> {
    let spinner =
        (std::io::stderr().is_terminal() && !env.global.json && !env.global.quiet).then(|| {
            let pb = indicatif::ProgressBar::new(hosts.len() as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{spinner} checking {pos}/{len} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(Duration::from_millis(100));
            pb
        });
    let pb = spinner.clone();
    let reports = probe::probe_all(hosts, opts, jobs, move || {
        if let Some(pb) = &pb {
            pb.inc(1);
        }
    })
    .or_fail(Failure::Io)?;
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    Ok(reports)
}

/// Milliseconds to 0.1 ms: finer digits are noise.
fn tenth(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

fn json_of(r: &Report, env: &Env) -> serde_json::Value {
    let timings: serde_json::Map<String, serde_json::Value> = r
        .timings
        .iter()
        .map(|(s, ms)| (s.name().to_string(), serde_json::json!(tenth(*ms))))
        .collect();
    serde_json::json!({
        "alias": r.alias,
        "endpoint": r.endpoint,
        "ok": r.ok,
        "stage": r.stage,
        "error": r.error,
        "hint": r.hint.as_deref().map(|h| env.carry_options(h)),
        "timings": timings,
        "total_ms": tenth(r.total_ms),
        "host_key": r.host_key,
        "offers": r.offers,
        "facts": r.facts,
        "attempts": r.attempts,
    })
}

/// Server text (and anything else that may carry it) made safe to print.
fn esc(s: &str) -> String {
    output::escape(s, false)
}

fn gib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1024.0 * 1024.0 * 1024.0))
}

fn render(env: &Env, reports: &[Report], wall: Duration) -> String {
    let st = &env.style;
    let mut rows = vec![[
        "ALIAS".to_string(),
        "ENDPOINT".into(),
        "RESULT".into(),
        "SLOWEST".into(),
        "TIME".into(),
    ]];
    for r in reports {
        let result = match r.stage {
            None => "ok".to_string(),
            Some(s) => format!("FAILED at {}", s.name()),
        };
        let slow = r
            .slowest()
            .map(|(s, ms)| format!("{} {ms:.0} ms", s.name()))
            .unwrap_or_default();
        rows.push([
            esc(&r.alias),
            esc(&r.endpoint.clone().unwrap_or_else(|| "-".into())),
            result,
            slow,
            format!("{:.0} ms", r.total_ms),
        ]);
    }
    let mut text = output::table(&rows, |i, c, cell| match (i, c) {
        (1.., 2) if cell.trim_end() == "ok" => st.green(&cell),
        (1.., 2) => st.red(&cell),
        _ => cell,
    });
    for r in reports {
        if let (Some(stage), Some(err)) = (r.stage, &r.error) {
            text.push_str(&format!(
                "\n{} {} failed at {}: {}\n",
                st.red("✗"),
                esc(&r.alias),
                stage.name(),
                esc(err)
            ));
            if let Some(h) = &r.hint {
                text.push_str(&format!("  → {}\n", esc(&env.carry_options(h))));
            }
            if env.global.verbose {
                text.push_str(&offers(r));
            }
        } else if !env.global.quiet {
            let mut facts = Vec::new();
            if let Some(f) = &r.facts {
                facts.push(if f.gpus.is_empty() {
                    "no GPU visible".to_string()
                } else {
                    format!(
                        "{} GPU ({})",
                        f.gpus.len(),
                        esc(f.gpus[0].split(" (UUID").next().unwrap_or_default())
                    )
                });
                if let Some(w) = f.root_free {
                    facts.push(format!("container disk (/) {} free", gib(w)));
                }
                if let Some(w) = f.workspace_free {
                    facts.push(format!("volume (/workspace) {} free", gib(w)));
                }
            }
            if let Some(k) = &r.host_key
                && let Some(f) = &k.recorded_in
            {
                facts.push(format!(
                    "new host key {} recorded in {}",
                    k.fingerprint,
                    super::edit::tilde(f)
                ));
            }
            if let Some(k) = &r.host_key
                && let Some(why) = &k.not_recorded
            {
                facts.push(format!(
                    "new host key {} not recorded: {}",
                    k.fingerprint,
                    esc(why)
                ));
            }
            if !facts.is_empty() {
                text.push_str(&format!(
                    "\n{} {}: {}\n",
                    st.green("✓"),
                    esc(&r.alias),
                    facts.join(", ")
                ));
            }
            if let Some(w) = r.facts.as_ref().and_then(volume_warning) {
                text.push_str(&format!("  {} {w}\n", st.yellow("warning:")));
            }
            if env.global.verbose {
                text.push_str(&offers(r));
            }
        }
    }
    if env.global.verbose {
        text.push_str(&format!(
            "\nchecked {} host{} in {:.0} ms\n",
            reports.len(),
            if reports.len() == 1 { "" } else { "s" },
            wall.as_secs_f64() * 1000.0
        ));
    }
    text
}

/// The keys offered to a host, one line each (`-v`).
fn offers(r: &Report) -> String {
    r.offers
        .iter()
        .map(|o| {
            format!(
                "    key {} {}: {}\n",
                esc(&o.key),
                o.fingerprint.clone().unwrap_or_default(),
                esc(&o.result)
            )
        })
        .collect()
}

/// The setup guide's main warning: without a volume at /workspace,
/// everything on the pod is lost when it stops.
fn volume_warning(f: &probe::Facts) -> Option<String> {
    if f.workspace_missing {
        Some("the pod has no /workspace: no volume is attached, so everything on it is lost when the pod stops (attach a volume, or a network volume, in RunPod)".into())
    } else if f.workspace_on_container_disk {
        Some("/workspace is on the container disk, not a volume: it is lost when the pod stops (attach a volume in RunPod)".into())
    } else {
        None
    }
}
