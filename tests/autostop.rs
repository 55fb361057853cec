//! `autostop` against a real sshd whose login user finds a stub
//! `runpodctl` and a stub `nvidia-smi` on its PATH (sshd `SetEnv`):
//! scheduled, replaced, cancelled, fired after a tiny delay, the
//! deprecated `runpodctl stop pod` form as fallback, and `--idle` fired
//! only once the stub GPU goes quiet. One test: the steps share the pod.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::sshd::{Sshd, keygen, set_mode};
use common::{TempHome, require_tool, stderr, stdout};

fn stub(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    set_mode(&p, 0o755);
}

/// The pod's side: a folder the login user writes (its HOME), stubs.
struct Pod {
    _dir: tempfile::TempDir,
    home: PathBuf,
    bin: PathBuf,
}

fn pod_side() -> Pod {
    let dir = tempfile::Builder::new()
        .prefix("runpod-ssh-pod-")
        .tempdir()
        .unwrap();
    set_mode(dir.path(), 0o755);
    let home = dir.path().join("home");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    set_mode(&home, 0o777);
    set_mode(&bin, 0o755);
    Pod {
        _dir: dir,
        home,
        bin,
    }
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn autostop_schedules_replaces_cancels_fires_and_idles_out() {
    if require_tool("ssh").is_none() {
        return;
    }
    let pod = pod_side();
    let calls = pod.home.join("runpodctl-calls");
    stub(
        &pod.bin,
        "runpodctl",
        &format!(
            "echo \"$*\" >> {c}\nif [ \"$1\" = pod ] && [ -f {h}/old-only ]; then echo 'unknown command \"pod\"' >&2; exit 1; fi\nexit 0",
            c = calls.display(),
            h = pod.home.display()
        ),
    );
    stub(
        &pod.bin,
        "nvidia-smi",
        &format!("cat {}/gpu", pod.home.display()),
    );
    std::fs::write(pod.home.join("gpu"), "0\n").unwrap();
    set_mode(&pod.home.join("gpu"), 0o666);
    let setenv = format!(
        "SetEnv PATH={}:/usr/bin:/bin HOME={} RUNPOD_POD_ID=abc123",
        pod.bin.display(),
        pod.home.display()
    );
    let Some(sshd) = Sshd::start(&[&setenv]) else {
        return;
    };
    let home = TempHome::new();
    let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
    sshd.authorize(&public);
    let kh = home.ssh_dir().join("known_hosts_runpod");
    std::fs::write(
        home.ssh_dir().join("config"),
        sshd.host_block(
            "gpu",
            &key,
            &[
                "IdentitiesOnly yes",
                "HostKeyAlias runpod-abc123",
                &format!("UserKnownHostsFile {}", kh.display()),
                "StrictHostKeyChecking accept-new",
            ],
        ),
    )
    .unwrap();
    let state = pod.home.join(".runpod-ssh-autostop");
    let log = pod.home.join("runpod-ssh-autostop.log");
    let ok = |args: &[&str]| {
        let o = home.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    };

    // Scheduled.
    let out = ok(&["autostop", "gpu", "1h"]);
    assert!(out.contains("gpu stops in 1h00m"), "{out}");
    let first_pid = read(&state).lines().next().unwrap().to_string();
    assert!(alive(&first_pid), "the schedule is not running");
    let out = ok(&["autostop", "gpu", "--status"]);
    assert!(
        out.contains("gpu: stops in 59m") || out.contains("gpu: stops in 1h00m"),
        "{out}"
    );

    // Replaced: the old schedule is gone, one remains.
    let out = ok(&["autostop", "gpu", "2h"]);
    assert!(
        out.contains("stops in 2h00m") && out.contains("replaced"),
        "{out}"
    );
    let second_pid = read(&state).lines().next().unwrap().to_string();
    assert_ne!(first_pid, second_pid);
    wait_for("the old schedule to end", Duration::from_secs(5), || {
        !alive(&first_pid)
    });
    assert!(alive(&second_pid));

    // Cancelled.
    let out = ok(&["autostop", "gpu", "--cancel"]);
    assert!(out.contains("schedule cancelled"), "{out}");
    wait_for(
        "the cancelled schedule to end",
        Duration::from_secs(5),
        || !alive(&second_pid),
    );
    assert!(ok(&["autostop", "gpu", "--status"]).contains("nothing scheduled"));
    assert_eq!(read(&calls), "", "a cancelled schedule stopped the pod");

    // Fired after a tiny delay, with the current form.
    ok(&["autostop", "gpu", "1s"]);
    wait_for("the stop", Duration::from_secs(10), || {
        read(&calls).contains("pod stop abc123")
    });
    wait_for("the log line", Duration::from_secs(5), || {
        read(&log).contains("stopped pod abc123 (runpodctl pod stop)")
    });
    wait_for("the schedule's state to go", Duration::from_secs(5), || {
        !state.exists()
    });

    // An old runpodctl: the deprecated form.
    std::fs::write(&calls, "").unwrap();
    std::fs::write(pod.home.join("old-only"), "").unwrap();
    ok(&["autostop", "gpu", "1s"]);
    wait_for("the old-form stop", Duration::from_secs(10), || {
        read(&calls).contains("stop pod abc123")
    });
    wait_for("the log line", Duration::from_secs(5), || {
        read(&log).contains("deprecated form")
    });
    std::fs::remove_file(pod.home.join("old-only")).unwrap();

    // --idle: a busy GPU keeps the pod up; once quiet, it stops.
    std::fs::write(&calls, "").unwrap();
    std::fs::write(pod.home.join("gpu"), "0\n37\n").unwrap();
    let out = ok(&["autostop", "gpu", "--idle", "2s"]);
    assert!(out.contains("GPU stayed under 5% for 2s"), "{out}");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(read(&calls), "", "stopped while a GPU was busy");
    let out = ok(&["autostop", "gpu", "--status"]);
    assert!(out.contains("stops after 2s idle"), "{out}");
    std::fs::write(pod.home.join("gpu"), "0\n3\n").unwrap();
    wait_for("the idle stop", Duration::from_secs(15), || {
        read(&calls).contains("pod stop abc123")
    });
    assert!(
        read(&log).contains("idle (no SSH session, GPU under 5%)"),
        "{}",
        read(&log)
    );

    // Bad input changes nothing.
    let o = home.run(&["autostop", "gpu", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a duration"), "{}", stderr(&o));
}

#[test]
fn without_runpodctl_on_the_pod_idle_is_refused_with_the_reason() {
    if require_tool("ssh").is_none() {
        return;
    }
    let pod = pod_side();
    let setenv = format!(
        "SetEnv PATH={}:/usr/bin:/bin HOME={}",
        pod.bin.display(),
        pod.home.display()
    );
    let Some(sshd) = Sshd::start(&[&setenv]) else {
        return;
    };
    let home = TempHome::new();
    let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
    sshd.authorize(&public);
    let kh = home.ssh_dir().join("known_hosts_runpod");
    std::fs::write(
        home.ssh_dir().join("config"),
        sshd.host_block(
            "gpu",
            &key,
            &[
                "HostKeyAlias runpod-abc123",
                &format!("UserKnownHostsFile {}", kh.display()),
                "StrictHostKeyChecking accept-new",
            ],
        ),
    )
    .unwrap();
    let o = home.run(&["autostop", "gpu", "--idle", "30m"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("has no runpodctl"), "{}", stderr(&o));
}

/// The schedule's state lives in /workspace, which outlives the container:
/// after a stop and start, the pid it names may be any process (sshd, a
/// training job). `--status`, `--cancel` and a new schedule must see a
/// stale state for what it is and never signal that process (or its group).
#[test]
fn a_stale_schedule_from_before_a_restart_never_kills_another_process() {
    if require_tool("ssh").is_none()
        || require_tool("setsid").is_none()
        || require_tool("setpriv").is_none()
    {
        return;
    }
    let pod = pod_side();
    stub(&pod.bin, "runpodctl", "exit 0");
    let setenv = format!(
        "SetEnv PATH={}:/usr/bin:/bin HOME={} RUNPOD_POD_ID=abc123",
        pod.bin.display(),
        pod.home.display()
    );
    let Some(sshd) = Sshd::start(&[&setenv]) else {
        return;
    };
    let home = TempHome::new();
    let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
    sshd.authorize(&public);
    let kh = home.ssh_dir().join("known_hosts_runpod");
    std::fs::write(
        home.ssh_dir().join("config"),
        sshd.host_block(
            "gpu",
            &key,
            &[
                "IdentitiesOnly yes",
                "HostKeyAlias runpod-abc123",
                &format!("UserKnownHostsFile {}", kh.display()),
                "StrictHostKeyChecking accept-new",
            ],
        ),
    )
    .unwrap();
    // Another process of the login user (on a pod everything is root),
    // leading its own process group, holds the old pid. `setpriv` and
    // `setsid` exec in place: the pid is the sleep's.
    let mut victim = std::process::Command::new("setpriv")
        .arg(format!("--reuid={}", sshd.user))
        .arg(format!("--regid={}", sshd.user))
        .args(["--clear-groups", "setsid", "sleep", "300"])
        .spawn()
        .unwrap();
    let pid = victim.id().to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let state = pod.home.join(".runpod-ssh-autostop");
    std::fs::write(&state, format!("{pid}\nin\n{}\n{now}\n", now + 3600)).unwrap();
    let ok = |args: &[&str]| {
        let o = home.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    };

    let out = ok(&["autostop", "gpu", "--status"]);
    assert!(
        out.contains("nothing scheduled"),
        "a stale state shown: {out}"
    );
    std::fs::write(&state, format!("{pid}\nin\n{}\n{now}\n", now + 3600)).unwrap();
    let out = ok(&["autostop", "gpu", "--cancel"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        victim.try_wait().unwrap().is_none(),
        "--cancel killed another process: {out}"
    );
    assert!(out.contains("nothing scheduled"), "{out}");
    std::fs::write(&state, format!("{pid}\nin\n{}\n{now}\n", now + 3600)).unwrap();
    let out = ok(&["autostop", "gpu", "1h"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        victim.try_wait().unwrap().is_none(),
        "a new schedule killed another process: {out}"
    );
    assert!(!out.contains("replaced"), "{out}");
    // The new schedule is ours and cancels as usual.
    let ours = read(&state).lines().next().unwrap().to_string();
    assert_ne!(ours, pid);
    assert!(ok(&["autostop", "gpu", "--cancel"]).contains("schedule cancelled"));
    wait_for("our schedule to end", Duration::from_secs(5), || {
        !alive(&ours)
    });
    let _ = victim.kill();
    let _ = victim.wait();
}
