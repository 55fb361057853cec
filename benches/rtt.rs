//! Round trips of `runpod-ssh check` and of `ssh … true`, side by side in
//! one run, through a delay proxy this bench starts on 127.0.0.1 (50 ms
//! each way: 100 ms RTT, as for a pod an ocean away) in front of a real
//! sshd (the test harness's). The TCP handshake with the proxy is not
//! delayed (the kernel answers it), as in deps.md §10's `ssh` figure.
//!
//! - one host: `check` (full: exec, forward and facts), `check --quick`,
//!   `ssh -o BatchMode=yes -F FILE ALIAS true`; each as wall time / RTT,
//!   and as (wall time through the proxy − wall time direct) / RTT, the
//!   round trips alone;
//! - 50 hosts behind the proxy: `check --jobs 50` (one wave) against one
//!   host (target ≤ 1.5×), and `xargs -P 50 ssh … true` for scale; the
//!   same 50 direct, the CPU per host of runpod-ssh and of sshd with its
//!   login shells (all on this machine, where a real pod's are its own),
//!   and the round trips of the 50 (through the proxy minus direct)
//!   against one host's.
//!
//! Run: `cargo bench --bench rtt` (needs sshd and ssh; as root it logs in
//! a dedicated test user). `RTT_MS=200 cargo bench --bench rtt` for
//! another delay (the proxy adds half of it each way); `RTT_BIN=PATH` to
//! measure another runpod-ssh build (one against upstream russh, as the
//! crates.io package builds, see README "The patched russh").

#[path = "../tests/common/mod.rs"]
mod common;

// The delay proxy fronts the test harness's sshd: a Unix program.
#[cfg(unix)]
mod unix {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::common::sshd::{Sshd, keygen};
    use super::common::{TempHome, bin};

    /// Forward `from` → `to`, each chunk `delay` after it was read. The
    /// reader never waits for the writer, so the delay is added once per
    /// direction whatever the traffic (a pipe with latency, not a queue).
    fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0
                    || tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for (due, data) in rx {
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                if to.write_all(&data).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    }

    /// A proxy on 127.0.0.1 adding `one_way` each way in front of
    /// 127.0.0.1:`upstream`; its port.
    fn delay_proxy(upstream: u16, one_way: Duration) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(client, server, one_way);
                pipe(s2, c2, one_way);
            }
        });
        port
    }

    /// CPU seconds (user + system) of the children this process has waited
    /// for: the runpod-ssh or ssh runs.
    fn children_cpu() -> f64 {
        // SAFETY: getrusage fills the struct it is given.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) } != 0 {
            return 0.0;
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(ru.ru_utime) + secs(ru.ru_stime)
    }

    /// CPU seconds of sshd and every connection process it has reaped (the
    /// per-connection sshd, the login shell and its commands).
    fn sshd_cpu(pid: u32) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name (which may hold spaces): utime is the
        // 14th field, stime, cutime, cstime follow.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<f64> = rest
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|v| v.parse().ok())
            .collect();
        let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        f.iter().sum::<f64>() / tick.max(1.0)
    }

    /// The 1-minute load average, for the record.
    fn load() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?")
            .to_string()
    }

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
        let rtt_ms: f64 = std::env::var("RTT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100.0);
        let Some(sshd) = Sshd::start(&[]) else {
            eprintln!("sshd not available; benchmark skipped");
            return;
        };
        let ssh = super::common::require_tool("ssh").expect("ssh");
        let proxy = delay_proxy(sshd.port, Duration::from_secs_f64(rtt_ms / 2000.0));

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
        let via_proxy = |alias: &str| {
            sshd.host_block(alias, &key, &refs)
                .replace(&format!("Port {}\n", sshd.port), &format!("Port {proxy}\n"))
        };
        let mut blocks = vec![sshd.host_block("direct", &key, &refs), via_proxy("far")];
        let all: Vec<String> = (0..50).map(|i| format!("runpod-far-{i}")).collect();
        blocks.extend(all.iter().map(|a| via_proxy(a)));
        let near: Vec<String> = (0..50).map(|i| format!("runpod-near-{i}")).collect();
        blocks.extend(near.iter().map(|a| sshd.host_block(a, &key, &refs)));
        let cfg = home.ssh_dir().join("config");
        std::fs::write(&cfg, blocks.join("\n")).unwrap();

        // RTT_BIN: another runpod-ssh build to measure (e.g. one against
        // upstream russh, as the crates.io package builds).
        let exe = std::env::var_os("RTT_BIN").map_or_else(bin, std::path::PathBuf::from);
        let ours = |args: &[&str]| {
            home.cmd(&exe)
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

        let runs = 9;
        let rows = [
            ("runpod-ssh check ALIAS", vec!["check"]),
            ("runpod-ssh check --quick ALIAS", vec!["check", "--quick"]),
        ];
        println!(
            "{}\ndelay proxy 127.0.0.1:{proxy} -> sshd 127.0.0.1:{}, {rtt_ms} ms RTT; medians of {runs}; load {}",
            exe.display(),
            sshd.port,
            load()
        );
        println!(
            "{:<36} {:>10} {:>10} {:>8} {:>10}",
            "", "far ms", "direct ms", "RTT", "RTT (net)"
        );
        let line = |name: &str, far: f64, direct: f64| {
            println!(
                "{name:<36} {far:>10.1} {direct:>10.1} {:>8.2} {:>10.2}",
                far / rtt_ms,
                (far - direct) / rtt_ms
            )
        };
        let (mut one_full, mut one_full_direct) = (0.0, 0.0);
        for (name, args) in &rows {
            let with = |alias: &str| {
                let mut a = args.clone();
                a.push(alias);
                a.iter().map(|s| s.to_string()).collect::<Vec<String>>()
            };
            let far_args = with("far");
            let direct_args = with("direct");
            let far = time_ms(
                || ours(&far_args.iter().map(String::as_str).collect::<Vec<_>>()),
                runs,
            );
            let direct = time_ms(
                || ours(&direct_args.iter().map(String::as_str).collect::<Vec<_>>()),
                runs,
            );
            if one_full == 0.0 {
                (one_full, one_full_direct) = (far, direct);
            }
            line(name, far, direct);
        }
        let ssh_far = time_ms(|| theirs("far"), runs);
        let ssh_direct = time_ms(|| theirs("direct"), runs);
        line("ssh -o BatchMode=yes ALIAS true", ssh_far, ssh_direct);

        let mut check50 = vec!["check", "--jobs", "50"];
        check50.extend(all.iter().map(String::as_str));
        let (cpu0, sshd0) = (children_cpu(), sshd_cpu(sshd.pid()));
        let fifty = time_ms(|| ours(&check50), 3);
        // Per host and run (a warm-up and 3 timed runs): where the time goes
        // besides the round trips, all on this machine's cores.
        let per = |d: f64| d * 1000.0 / (4.0 * 50.0);
        let (client_ms, server_ms) = (
            per(children_cpu() - cpu0),
            per(sshd_cpu(sshd.pid()) - sshd0),
        );
        let mut near50 = vec!["check", "--jobs", "50"];
        near50.extend(near.iter().map(String::as_str));
        let fifty_direct = time_ms(|| ours(&near50), 3);
        let xargs50 = time_ms(
            || {
                home.cmd("sh")
                .arg("-c")
                .arg(format!(
                    "printf '%s\\n' {} | xargs -P 50 -I{{}} {} -o BatchMode=yes -F {} {{}} true",
                    all.join(" "),
                    ssh.display(),
                    cfg.display()
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            },
            3,
        );
        println!(
            "runpod-ssh check --jobs 50, 50 hosts  {fifty:>10.1} ms  {:>5.2}x one host   (target <= 1.5x)",
            fifty / one_full
        );
        println!(
            "  the same 50 without the proxy       {fifty_direct:>10.1} ms   CPU per host: runpod-ssh {client_ms:.1} ms, sshd + login shell {server_ms:.1} ms"
        );
        // The sshd and login shells of all 50 "hosts" run on this machine's
        // cores, a real pod's on its own: the round trips alone (through the
        // proxy minus direct) tell whether the 50 overlap.
        println!(
            "  round trips (net), 50 hosts vs one  {:>10.2} RTT {:>5.2}x one host",
            (fifty - fifty_direct) / rtt_ms,
            (fifty - fifty_direct) / (one_full - one_full_direct)
        );
        println!(
            "xargs -P 50 ssh … true, 50 hosts      {xargs50:>10.1} ms  {:>5.2}x one ssh",
            xargs50 / ssh_far
        );
        println!("load at the end {}", load());
    }
}

#[cfg(unix)]
fn main() {
    unix::main()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("the rtt bench needs sshd and ssh (the Linux lane); skipped");
}
