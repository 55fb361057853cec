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
#[cfg(unix)]
mod support;

// It probes the test harness's sshd: a Unix program.
#[cfg(unix)]
mod unix {

    use std::net::TcpListener;
    use std::process::Stdio;
    use std::time::Instant;

    use super::common::{TempHome, bin};
    use super::support::{Login, start_sshd, time_ms};

    pub fn main() {
        let Some(sshd) = start_sshd(&[], &[]) else {
            return;
        };
        let ssh = super::common::require_tool("ssh").expect("ssh");
        let login = Login::new(&[&sshd]);
        let mut refs = login.opt_refs();
        refs.push("HostKeyAlias runpod-bench");
        let mut blocks = vec![sshd.host_block("pod", &login.key, &refs)];
        for i in 0..50 {
            blocks.push(sshd.host_block(&format!("runpod-{i}"), &login.key, &refs));
        }
        let cfg = login.home.ssh_dir().join("config");
        std::fs::write(&cfg, blocks.join("\n")).unwrap();

        let exe = bin();
        let ours = |args: &[&str]| login.ok(&exe, args);
        let theirs = |alias: &str| login.ssh_true(&ssh, &cfg, alias);

        let runs = 15;
        let probe = time_ms(|| ours(&["check", "pod", "--quick"]), runs);
        let probe_full = time_ms(|| ours(&["check", "pod"]), runs);
        let ssh_one = time_ms(|| theirs("pod"), runs);

        let all: Vec<String> = (0..50).map(|i| format!("runpod-{i}")).collect();
        let check50 = time_ms(|| ours(&["check", "--quick"]), 5);
        let seq50 = time_ms(|| all.iter().all(|a| theirs(a)), 3);
        let xargs50 = time_ms(|| login.xargs_ssh(&ssh, &cfg, &all), 3);

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
