//! `runpod-ssh autostop ALIAS (IN | --idle D | --cancel | --status)`: a
//! stop scheduled on the pod itself, over the native client (the same
//! probe and host-key rule as `check`). `shutdown -h` cannot stop a
//! container; `runpodctl pod stop $RUNPOD_POD_ID` (installed on every pod
//! with a pod-scoped key) can. The schedule runs detached on the pod, so it
//! survives the session, and a new one replaces the old.

use std::time::Duration;

use super::{Env, Failure, OrFail, Outcome, bad_input};
use crate::cli::AutostopArgs;
use crate::config::{Context, Document, resolve};
use crate::probe::{self, Options};
use crate::{api, fsio, output, runpod};

/// `3h`, `90m`, `45s`, `1h30m`, `2d` → seconds (1 s to 7 days).
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad =
        || format!("{s:?} is not a duration: use a number with a unit, like 3h, 90m, 45s or 1h30m");
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(bad()),
        };
        total = total.saturating_add(n.saturating_mul(unit));
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    if total == 0 || total > 7 * 86400 {
        return Err(format!("{s:?} must be between 1 second and 7 days"));
    }
    Ok(total)
}

/// The pod-side script. `$1` mode (in|idle|cancel|status), `$2` seconds,
/// `$3` check interval, `$4` pod id known to the laptop (the pod's own
/// `RUNPOD_POD_ID` wins). Prints one `RESULT …` line.
const SCRIPT: &str = r#"
set -u
mode=$1; secs=$2; iv=$3; podid=$4
d=/workspace; { [ -d "$d" ] && [ -w "$d" ]; } || d="$HOME"
log="$d/runpod-ssh-autostop.log"; state="$d/.runpod-ssh-autostop"; worker="$d/.runpod-ssh-autostop.sh"
# Non-interactive shells do not source it; RUNPOD_POD_ID and the pod's PATH live there.
[ -r /etc/rp_environment ] && . /etc/rp_environment
say() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >> "$log"; }
# The state sits in /workspace, which outlives the container: after a stop
# and start its pid may name any process (sshd, a training job). Only a pid
# still running our worker is ours to signal.
ours() {
  case "$1" in ''|*[!0-9]*) return 1 ;; esac
  a=$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline") || a=$(ps -o args= -p "$1" 2>/dev/null)
  case "$a" in *.runpod-ssh-autostop.sh*) return 0 ;; esac
  return 1
}
cancel() {
  [ -f "$state" ] || return 1
  pid=$(sed -n 1p "$state")
  rm -f "$state" "$state.idle" "$state.idle.new"
  ours "$pid" || return 1
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  return 0
}
case "$mode" in
status)
  if [ -f "$state" ]; then
    kind=$(sed -n 2p "$state"); val=$(sed -n 3p "$state"); pid=$(sed -n 1p "$state")
    if ! ours "$pid"; then echo "RESULT none"; exit 0; fi
    if [ "$kind" = in ]; then echo "RESULT status in $(( val - $(date +%s) ))";
    else so=$(cat "$state.idle" 2>/dev/null); echo "RESULT status idle $val ${so:-0}"; fi
  else echo "RESULT none"; fi
  exit 0 ;;
cancel)
  if cancel; then say "cancelled the schedule"; echo "RESULT cancelled"; else echo "RESULT none"; fi
  exit 0 ;;
esac
if ! command -v runpodctl >/dev/null 2>&1; then echo "RESULT no-runpodctl"; exit 0; fi
id=${RUNPOD_POD_ID:-$podid}
if [ -z "$id" ]; then echo "RESULT no-pod-id"; exit 0; fi
# The sshd serving this session: sessions are counted under it only.
p=$$; s=
for _ in 1 2 3 4 5 6 7 8; do
  p=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' '); [ -n "$p" ] && [ "$p" != 0 ] || break
  case "$(ps -o args= -p "$p" 2>/dev/null)" in sshd:*@*|sshd-session:*@*) s=$p; break ;; esac
done
listener=
if [ -n "$s" ]; then pr=$(ps -o ppid= -p "$s" | tr -d ' '); listener=$(ps -o ppid= -p "$pr" | tr -d ' '); fi
replaced=no; cancel && replaced=yes
cat > "$worker" <<'WORKER'
set -u
mode=$1; secs=$2; iv=$3; id=$4; listener=$5; log=$6; state=$7; val=$8; now=$9
# The state is ours from the first moment: written before any waiting.
printf '%s\n%s\n%s\n%s\n' "$$" "$mode" "$val" "$now" > "$state"
[ -r /etc/rp_environment ] && . /etc/rp_environment
say() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >> "$log"; }
stop_pod() {
  if runpodctl pod stop "$id" >> "$log" 2>&1; then say "stopped pod $id (runpodctl pod stop)"
  elif runpodctl stop pod "$id" >> "$log" 2>&1; then say "stopped pod $id (runpodctl stop pod, the deprecated form)"
  else say "runpodctl could not stop pod $id"; fi
  # Only our own schedule's state (a newer one may have replaced it).
  [ "$(sed -n 1p "$state" 2>/dev/null)" = "$$" ] && rm -f "$state" "$state.idle" "$state.idle.new"
}
sessions() {
  ps -eo pid=,ppid=,args= 2>/dev/null | awk -v L="$listener" '
    { pp[$1]=$2; a=$0; sub(/^ *[0-9]+ +[0-9]+ +/, "", a); args[$1]=a }
    END { n=0; for (p in args) if (args[p] ~ /^sshd(-session)?: [^ ]+@/ && (L=="" || pp[pp[p]]==L)) n++; print n }'
}
busy() {
  [ "$(sessions)" -gt 0 ] && return 0
  if command -v nvidia-smi >/dev/null 2>&1; then
    for u in $(nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits 2>/dev/null); do
      [ "$u" -ge 5 ] 2>/dev/null && return 0
    done
  fi
  return 1
}
if [ "$mode" = in ]; then
  sleep "$secs"; say "time is up"; stop_pod; exit 0
fi
idle=0
while :; do
  sleep "$iv"
  if busy; then idle=0; else idle=$((idle + iv)); fi
  # Written aside then renamed: a status read never sees it empty.
  echo "$idle" > "$state.idle.new" && mv -f "$state.idle.new" "$state.idle"
  if [ "$idle" -ge "$secs" ]; then say "idle (no SSH session, GPU under 5%) for ${idle}s"; stop_pod; exit 0; fi
done
WORKER
now=$(date +%s)
if [ "$mode" = in ]; then val=$((now + secs)); else val=$secs; fi
setsid sh "$worker" "$mode" "$secs" "$iv" "$id" "$listener" "$log" "$state" "$val" "$now" < /dev/null > /dev/null 2>&1 &
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do [ -s "$state" ] && break; sleep 0.1; done
if [ "$mode" = in ]; then say "scheduled: stop pod $id in ${secs}s (replaced an earlier schedule: $replaced)"
else say "scheduled: stop pod $id after ${secs}s idle (replaced an earlier schedule: $replaced)"; fi
echo "RESULT scheduled $mode $secs $replaced $d"
"#;

/// The command line that runs [`SCRIPT`] with its arguments (all digits,
/// words we chose, or a checked pod id: nothing needs quoting).
fn command(mode: &str, secs: u64, iv: u64, pod_id: &str) -> String {
    format!(
        "sh -c '{}' runpod-ssh-autostop {mode} {secs} {iv} {}",
        SCRIPT.replace('\'', r#"'"'"'"#),
        if pod_id.is_empty() { "''" } else { pod_id }
    )
}

fn human(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

pub fn run(env: &Env, a: &AutostopArgs) -> anyhow::Result<Outcome> {
    super::edit::check_alias(&a.alias)?;
    let (mode, secs) = match (&a.delay, &a.idle) {
        (Some(d), _) => ("in", parse_duration(d).map_err(bad_input)?),
        (_, Some(d)) => ("idle", parse_duration(d).map_err(bad_input)?),
        _ if a.cancel => ("cancel", 0),
        _ => ("status", 0),
    };
    let iv = (secs / 10).clamp(1, 60);
    let (env2, _) = super::edit::follow_vscode(env);
    let path = env2.config_path()?;
    let snap = fsio::read(&path).or_fail(Failure::Io)?;
    let doc = Document::parse(snap.content());
    if doc.host_blocks_naming(&a.alias).is_empty() {
        return Err(bad_input(format!(
            "no entry {} in {}: `runpod-ssh sync` or `runpod-ssh add` first",
            a.alias,
            path.display()
        )));
    }
    let pod_id = pod_id(&doc, &a.alias).unwrap_or_default();
    let ctx = Context::current();
    let target = probe::target(&a.alias, &resolve(&doc, &path, &a.alias, &ctx));
    let opts = Options {
        timeout: Duration::from_secs(15),
        deadline: None,
        quick: true,
        agent: std::env::var_os("SSH_AUTH_SOCK").map(Into::into),
        interactive: false,
        passphrases: Default::default(),
        record_host_keys: true,
        then_run: Some(command(mode, secs, iv, &pod_id)),
    };
    let rep = probe::probe_all(vec![(a.alias.clone(), target)], &opts, 1, || {})
        .or_fail(Failure::Io)?
        .remove(0);
    let Some((_, out)) = rep.command.clone().filter(|_| rep.ok) else {
        return Err(super::fail(
            Failure::Io,
            anyhow::anyhow!(
                "cannot reach {} to {}: {}{}",
                a.alias,
                if mode == "status" { "ask" } else { "schedule" },
                rep.error.as_deref().unwrap_or("unknown error"),
                rep.hint.map(|h| format!("\n  → {h}")).unwrap_or_default()
            ),
        ));
    };
    let result = out
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or("")
        .to_string();
    let words: Vec<&str> = result.split_whitespace().collect();
    let text = match words.as_slice() {
        ["scheduled", m, s, replaced, dir] => {
            let s: i64 = s.parse().unwrap_or(0);
            let what = if *m == "in" {
                format!("stops in {}", human(s))
            } else {
                format!(
                    "stops once no SSH session has been open and every GPU stayed under 5% for {}",
                    human(s)
                )
            };
            format!(
                "{} {} {what} (runpodctl on the pod; it survives this session{}). Log: {}/runpod-ssh-autostop.log\n",
                env.style.green("✓"),
                a.alias,
                if *replaced == "yes" {
                    "; the earlier schedule was replaced"
                } else {
                    ""
                },
                output::escape(dir, false)
            )
        }
        ["cancelled"] => format!("{} {}: schedule cancelled\n", env.style.green("✓"), a.alias),
        ["none"] => format!("{}: nothing scheduled\n", a.alias),
        ["status", "in", left] => format!(
            "{}: stops in {}\n",
            a.alias,
            human(left.parse().unwrap_or(0))
        ),
        ["status", "idle", s, so_far] => format!(
            "{}: stops after {} idle (idle for {} so far)\n",
            a.alias,
            human(s.parse().unwrap_or(0)),
            human(so_far.parse().unwrap_or(0))
        ),
        ["no-pod-id"] => {
            return Err(bad_input(format!(
                "{} has no RUNPOD_POD_ID (not in its environment nor /etc/rp_environment), and this entry was not made by `runpod-ssh sync`: cannot tell which pod to stop",
                a.alias
            )));
        }
        ["no-runpodctl"] => return laptop_fallback(env, a, mode, secs, &pod_id),
        _ => {
            return Err(super::fail(
                Failure::Io,
                anyhow::anyhow!(
                    "the pod answered something unexpected: {}",
                    output::escape(out.trim(), true)
                ),
            ));
        }
    };
    if env.global.json {
        output::out(&format!(
            "{}\n",
            serde_json::json!({"alias": a.alias, "result": result})
        ))?;
    } else {
        output::out(&text)?;
    }
    Ok(Outcome::Ok)
}

/// The pod id of an entry (sync's comment, or `HostKeyAlias runpod-<id>`).
fn pod_id(doc: &Document, alias: &str) -> Option<String> {
    let &bi = doc.host_blocks_naming(alias).first()?;
    let b = &doc.blocks()[bi];
    let id = runpod::synced_pod_id(doc, b).or_else(|| {
        doc.first_value(b, "hostkeyalias")?
            .strip_prefix("runpod-")
            .filter(|id| !id.starts_with("proxy-") && !id.contains('.'))
            .map(str::to_string)
    })?;
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        .then_some(id)
}

/// No runpodctl on the pod: stop it through the API from here, which only
/// works while this computer is awake and this command runs.
fn laptop_fallback(
    env: &Env,
    a: &AutostopArgs,
    mode: &str,
    secs: u64,
    pod_id: &str,
) -> anyhow::Result<Outcome> {
    if mode != "in" || pod_id.is_empty() {
        return Err(bad_input(format!(
            "{} has no runpodctl, so the pod cannot stop itself{}",
            a.alias,
            if mode == "in" {
                "; and the entry names no pod id for the API (use `runpod-ssh sync`)"
            } else {
                "; --idle needs it (the GPU and sessions are only visible on the pod)"
            }
        )));
    }
    let client = api::Client::from_env().or_fail(Failure::Io)?;
    output::err(&format!(
        "{} {} has no runpodctl: this computer will stop pod {pod_id} through the RunPod API in {}. It must stay awake and this command must keep running (Ctrl-C cancels)\n",
        env.style.yellow("warning:"),
        a.alias,
        human(secs as i64)
    ));
    std::thread::sleep(Duration::from_secs(secs));
    client.action(pod_id, "stop").or_fail(Failure::Io)?;
    output::out(&format!("{} pod {pod_id} stopped\n", env.style.green("✓")))?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `status` while the worker is between truncating and writing its
    /// idle count: the count reads as 0, never as a missing word (a CI run
    /// saw "RESULT status idle 2" and failed the command).
    #[cfg(unix)]
    #[test]
    fn status_reads_an_idle_count_being_written_as_zero() {
        let home = tempfile::tempdir().unwrap();
        // A process whose command line names the worker, as `ours` asks.
        let mut worker = std::process::Command::new("sh")
            .args(["-c", "sleep 30; :", "x/.runpod-ssh-autostop.sh"])
            .spawn()
            .unwrap();
        let state = home.path().join(".runpod-ssh-autostop");
        std::fs::write(&state, format!("{}\nidle\n120\n0\n", worker.id())).unwrap();
        std::fs::write(home.path().join(".runpod-ssh-autostop.idle"), "").unwrap();
        // Never the machine's /workspace: the state lives in the temp home.
        let script = SCRIPT.replace("d=/workspace", "d=/nonexistent-runpod-ssh-test");
        let out = std::process::Command::new("sh")
            .args(["-c", &script, "sh", "status", "0", "0", "x"])
            .env("HOME", home.path())
            .output()
            .unwrap();
        let _ = worker.kill();
        let _ = worker.wait();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("RESULT status idle 120 0"), "{text}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3h"), Ok(10800));
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("2s"), Ok(2));
        for bad in ["", "3", "h", "3x", "0s", "8d", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
