//! `runpod-ssh check [ALIAS…]`: probe hosts concurrently and report, per
//! host, the first failing stage with what to do about it.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::cli::CheckArgs;
use crate::config::files::load_tree;
use crate::config::{Context, Document, resolve};
use crate::probe::{self, Options, Report};
use crate::{fsio, output, runpod};

pub fn run(env: &Env, a: &CheckArgs) -> anyhow::Result<Outcome> {
    if !(a.timeout > 0.0 && a.timeout <= 3600.0) {
        return Err(bad_input("--timeout must be between 0 and 3600 seconds"));
    }
    if a.jobs == 0 {
        return Err(bad_input("--jobs must be at least 1"));
    }
    for alias in &a.aliases {
        if alias.is_empty() || alias.contains(char::is_whitespace) {
            return Err(bad_input(format!(
                "host alias {alias:?} is not valid: it must be one word"
            )));
        }
    }
    let path = env.config_path()?;
    let snap = fsio::read(&path).or_fail(Failure::Io)?;
    let doc = Document::parse(snap.content());
    let ctx = Context::current();
    let aliases = if a.aliases.is_empty() {
        runpod::entries(&load_tree(&path, &doc, &ctx.home), a.all)
            .into_iter()
            .map(|e| e.alias)
            .collect()
    } else {
        a.aliases.clone()
    };
    if aliases.is_empty() {
        if !env.global.quiet {
            output::err(
                "Nothing to check: no RunPod entries. Add one with: runpod-ssh add 'ssh root@IP -p PORT -i ~/.ssh/id_ed25519'\n",
            );
        }
        if env.global.json {
            output::out("[]\n")?;
        }
        return Ok(Outcome::Ok);
    }

    let interactive =
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !env.global.json;
    // One overall deadline: every stage of every host, queued ones included.
    let per_stage = Duration::from_secs_f64(a.timeout);
    let waves = aliases.len().div_ceil(a.jobs.min(256)) as u32;
    let deadline = Instant::now() + per_stage * 8 * waves.max(1);
    let opts = Options {
        timeout: per_stage,
        deadline: Some(deadline),
        quick: a.quick,
        agent: std::env::var_os("SSH_AUTH_SOCK").map(Into::into),
        interactive,
        passphrases: Default::default(),
        record_host_keys: true,
        then_run: None,
    };
    let targets: Vec<Result<probe::Target, probe::ResolveFailure>> = aliases
        .iter()
        .map(|alias| probe::target(alias, &resolve(&doc, &path, alias, &ctx)))
        .collect();

    let spinner =
        (std::io::stderr().is_terminal() && !env.global.json && !env.global.quiet).then(|| {
            let pb = indicatif::ProgressBar::new(aliases.len() as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{spinner} checking {pos}/{len} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(Duration::from_millis(100));
            pb
        });
    let started = Instant::now();
    let pb = spinner.clone();
    let hosts: Vec<_> = aliases.iter().cloned().zip(targets).collect();
    let reports: Vec<Report> = probe::probe_all(hosts, &opts, a.jobs, move || {
        if let Some(pb) = &pb {
            pb.inc(1);
        }
    })
    .or_fail(Failure::Io)?;
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    let wall = started.elapsed();
    let all_ok = reports.iter().all(|r| r.ok);

    if env.global.json {
        let v: Vec<serde_json::Value> = reports.iter().map(json_of).collect();
        output::out(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
    } else {
        output::out(&render(env, &reports, wall))?;
    }
    Ok(if all_ok {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

fn json_of(r: &Report) -> serde_json::Value {
    let timings: serde_json::Map<String, serde_json::Value> = r
        .timings
        .iter()
        .map(|(s, ms)| (s.name().to_string(), serde_json::json!(ms)))
        .collect();
    serde_json::json!({
        "alias": r.alias,
        "endpoint": r.endpoint,
        "ok": r.ok,
        "stage": r.stage,
        "error": r.error,
        "hint": r.hint,
        "timings": timings,
        "total_ms": r.total_ms,
        "host_key": r.host_key,
        "offers": r.offers,
        "facts": r.facts,
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
                text.push_str(&format!("  → {}\n", esc(h)));
            }
            if env.global.verbose {
                for o in &r.offers {
                    text.push_str(&format!(
                        "    key {} {}: {}\n",
                        esc(&o.key),
                        o.fingerprint.clone().unwrap_or_default(),
                        esc(&o.result)
                    ));
                }
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
                if let Some(w) = f.workspace_free {
                    facts.push(format!("/workspace {} free", gib(w)));
                }
                if let Some(w) = f.root_free {
                    facts.push(format!("/ {} free", gib(w)));
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
        }
    }
    if env.global.verbose {
        text.push_str(&format!(
            "\nchecked {} hosts in {:.0} ms\n",
            reports.len(),
            wall.as_secs_f64() * 1000.0
        ));
    }
    text
}
