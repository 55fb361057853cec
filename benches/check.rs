//! `runpod-ssh check` against `ssh`, side by side in one run, against a
//! real sshd on 127.0.0.1 (the test harness's):
//! - one full probe vs `ssh -o BatchMode=yes -F FILE ALIAS true`;
//! - 50 aliases: `check` vs a sequential `ssh` loop vs `xargs -P 50 ssh`;
//! - a silent listener with `--timeout 2`.
//!
//! Run: `cargo bench --bench check` (needs sshd; as root it logs in a
//! dedicated test user). Prints medians and ratios.

#[path = "../tests/common/mod.rs"]
mod common;

// It probes the test harness's sshd: a Unix program.
#[cfg(unix)]
mod unix {

    use std::net::TcpListener;
    use std::process::Stdio;
    use std::time::Instant;

    use super::common::sshd::{Sshd, keygen};
    use super::common::{TempHome, bin};

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    fn time_ms(mut f: impl FnMut() -> bool, runs: usize) -> f64 {
        assert!(f(), "warm-up run failed");
        median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    assert!(f(), "run failed");
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect(),
        )
    }

    pub fn main() {
        let Some(sshd) = Sshd::start(&[]) else {
            eprintln!("sshd not available; benchmark skipped");
            return;
        };
        let ssh = super::common::require_tool("ssh").expect("ssh");
        let home = TempHome::new();
        let (key, public) = keygen(&home.ssh_dir(), "id_ed25519", "");
        sshd.authorize(&public);
        let kh = home.ssh_dir().join("known_hosts_runpod");
        let opts = [
            "IdentitiesOnly yes".to_string(),
            format!("UserKnownHostsFile {}", kh.display()),
            "StrictHostKeyChecking accept-new".to_string(),
            "HostKeyAlias runpod-bench".to_string(),
        ];
        let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
        let mut blocks = vec![sshd.host_block("pod", &key, &refs)];
        for i in 0..50 {
            blocks.push(sshd.host_block(&format!("runpod-{i}"), &key, &refs));
        }
        let cfg = home.ssh_dir().join("config");
        std::fs::write(&cfg, blocks.join("\n")).unwrap();

        let ours = |args: &[&str]| {
            home.cmd(bin())
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let theirs = |alias: &str| {
            home.cmd(&ssh)
                .args(["-o", "BatchMode=yes", "-F"])
                .arg(&cfg)
                .args([alias, "true"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };

        let runs = 15;
        let probe = time_ms(|| ours(&["check", "pod", "--quick"]), runs);
        let probe_full = time_ms(|| ours(&["check", "pod"]), runs);
        let ssh_one = time_ms(|| theirs("pod"), runs);

        let all: Vec<String> = (0..50).map(|i| format!("runpod-{i}")).collect();
        let check50 = time_ms(|| ours(&["check", "--quick"]), 5);
        let seq50 = time_ms(|| all.iter().all(|a| theirs(a)), 3);
        let xargs50 = time_ms(
            || {
                let mut c = home
                    .cmd("sh")
                    .arg("-c")
                    .arg(format!(
                        "printf '%s\\n' {} | xargs -P 50 -I{{}} {} -o BatchMode=yes -F {} {{}} true",
                        all.join(" "),
                        ssh.display(),
                        cfg.display()
                    ))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                c.wait().is_ok_and(|s| s.success())
            },
            3,
        );

        // A listener that accepts and never speaks.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
        });
        let bh = TempHome::new();
        std::fs::write(
            bh.ssh_dir().join("config"),
            format!("Host runpod-blackhole\n  HostName 127.0.0.1\n  Port {port}\n"),
        )
        .unwrap();
        let t = Instant::now();
        let st = bh
            .cmd(bin())
            .args(["check", "--timeout", "2"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        let blackhole = t.elapsed();
        assert_eq!(st.code(), Some(1));

        println!("runpod-ssh check, one host (--quick)     {probe:8.1} ms");
        println!("runpod-ssh check, one host (with facts)  {probe_full:8.1} ms");
        println!("ssh -o BatchMode=yes ALIAS true          {ssh_one:8.1} ms");
        println!(
            "  ratio check/ssh                        {:8.2}x   (target <= 1.0x)",
            probe / ssh_one
        );
        println!("runpod-ssh check, 50 hosts (--quick)     {check50:8.1} ms");
        println!(
            "  ratio to one probe                     {:8.2}x   (target <= 2x)",
            check50 / probe
        );
        println!(
            "ssh loop, 50 hosts in sequence           {seq50:8.1} ms  ({:.1}x check)",
            seq50 / check50
        );
        println!(
            "xargs -P 50 ssh, 50 hosts                {xargs50:8.1} ms  ({:.1}x check)",
            xargs50 / check50
        );
        println!(
            "silent listener, --timeout 2            {:8.1} ms  (target <= 2500 ms)",
            blackhole.as_secs_f64() * 1000.0
        );
    }
}

#[cfg(unix)]
fn main() {
    unix::main()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("the check bench needs sshd and ssh (the Linux lane); skipped");
}
