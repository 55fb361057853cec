//! Crash safety: `runpod-ssh add` killed with SIGKILL at random moments
//! leaves the config exactly old or exactly new, never a mix, never a temp
//! file in its place; the next run cleans up what a killed run left.
#![cfg(unix)]

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{TempHome, bin};

const OLD: &[u8] = b"# my config\r\nHost web\r\n\tHostName web.example.com   # keep me\r\n\r\nHost *\r\n  ServerAliveInterval 60\r\n";
const PASTE: &str = "ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519";

/// Write the config with an mtime in the past: these runs are about
/// kills, not about settling a file an editor is still writing (which
/// costs a re-read ~100 ms later).
fn write_settled(path: &std::path::Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
}

/// A small deterministic generator (no extra dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn sigkill_at_random_moments_leaves_old_or_new() {
    // The content a completed run writes.
    let reference = TempHome::new();
    write_settled(&reference.ssh_dir().join("config"), OLD);
    let o = reference.run(&["add", "--no-vscode", PASTE]);
    assert!(o.status.success());
    let new = std::fs::read(reference.ssh_dir().join("config")).unwrap();
    assert_ne!(new, OLD);

    // How long a run takes, to spread the kills over all of it.
    write_settled(&reference.ssh_dir().join("config"), &new);
    let t = Instant::now();
    reference.run(&["add", "--no-vscode", "--name", "x", PASTE]);
    let span = (t.elapsed().as_micros() as u64).max(2000) * 3 / 2;

    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}, kill window {span} µs");
    let mut rng = Lcg(seed);
    let home = TempHome::new();
    let cfg = home.ssh_dir().join("config");
    let (mut saw_old, mut saw_new) = (0, 0);
    for run in 0..240 {
        write_settled(&cfg, OLD);
        let mut child = home
            .cmd(bin())
            .args(["add", "--no-vscode", PASTE])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % span));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = std::fs::read(&cfg).unwrap();
        if now == OLD {
            saw_old += 1;
        } else if now == new {
            saw_new += 1;
        } else {
            panic!(
                "run {run} (seed {seed}): config is neither old nor new:\n{}",
                String::from_utf8_lossy(&now)
            );
        }
        assert!(std::fs::symlink_metadata(&cfg).unwrap().is_file());
    }
    eprintln!("old {saw_old}, new {saw_new}");
    // Kills landed both before and after the rename (the window is wide
    // enough to be meaningful).
    assert!(saw_old > 0 && saw_new > 0, "old {saw_old}, new {saw_new}");
    // A completed run cleans up temp files killed runs left behind.
    std::fs::write(&cfg, OLD).unwrap();
    assert!(home.run(&["add", "--no-vscode", PASTE]).status.success());
    let leftovers: Vec<String> = std::fs::read_dir(home.ssh_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    assert_eq!(std::fs::read(&cfg).unwrap(), new);
}
