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
//! The sshd the hosts sit behind runs with `-r` (no re-exec of sshd and its
//! ~25 libraries per connection) and `LogLevel INFO`: 50 pods' sshds each
//! run on their own machine, here they share the client's 2 cores, and
//! neither changes a byte on the wire. The 50 hosts are also measured
//! behind the harness's stock sshd (re-exec, `LogLevel DEBUG1`) to show
//! what that costs.
//!
//! Run: `cargo bench --bench rtt` (needs sshd and ssh; as root it logs in
//! a dedicated test user). `RTT_MS=200 cargo bench --bench rtt` for
//! another delay (the proxy adds half of it each way). `RTT_ALT=PATH` (or
//! several, comma-separated) measures other runpod-ssh builds in the same
//! run, in columns beside this one: README "The russh-rtt-patch feature"
//! builds one with the patched russh.

#[path = "../tests/common/mod.rs"]
mod common;
#[cfg(unix)]
mod support;

// The delay proxy fronts the test harness's sshd: a Unix program.
#[cfg(unix)]
mod unix {

    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::common;
    use super::support::{Login, start_sshd, time_ms};
    use common::bin;
    use common::sshd::Sshd;

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

    /// One runpod-ssh build's figures (milliseconds, medians).
    struct Figures {
        full: (f64, f64),
        quick: (f64, f64),
        fifty: f64,
        fifty_direct: f64,
        fifty_stock: f64,
        client_cpu_ms: f64,
        sshd_cpu_ms: f64,
        stock_sshd_cpu_ms: f64,
    }

    /// Where the bench's hosts are: one sshd (trimmed: `-r`, INFO) and a
    /// stock one (the harness's defaults), each behind its own delay proxy.
    struct Rig {
        login: Login,
        cfg: std::path::PathBuf,
        sshd: Sshd,
        stock: Sshd,
        far50: Vec<String>,
        near50: Vec<String>,
        stock50: Vec<String>,
    }

    const RUNS: usize = 9;

    fn rig(rtt_ms: f64) -> Option<Rig> {
        let sshd = start_sshd(&["LogLevel INFO"], &["-r"])?;
        let stock = start_sshd(&[], &[])?;
        let one_way = Duration::from_secs_f64(rtt_ms / 2000.0);
        let (proxy, stock_proxy) = (
            delay_proxy(sshd.port, one_way),
            delay_proxy(stock.port, one_way),
        );
        let login = Login::new(&[&sshd, &stock]);
        let refs = login.opt_refs();
        let block = |d: &Sshd, alias: &str, port: u16, pin: &str| {
            let mut b = d.host_block(alias, &login.key, &refs);
            b = b.replace(&format!("Port {}\n", d.port), &format!("Port {port}\n"));
            format!("{b}    HostKeyAlias {pin}\n")
        };
        let names = |p: &str| {
            (0..50)
                .map(|i| format!("runpod-{p}-{i}"))
                .collect::<Vec<_>>()
        };
        let (far50, near50, stock50) = (names("far"), names("near"), names("stock"));
        let mut blocks = vec![
            block(&sshd, "direct", sshd.port, "runpod-bench"),
            block(&sshd, "far", proxy, "runpod-bench"),
        ];
        blocks.extend(far50.iter().map(|a| block(&sshd, a, proxy, "runpod-bench")));
        blocks.extend(
            near50
                .iter()
                .map(|a| block(&sshd, a, sshd.port, "runpod-bench")),
        );
        blocks.extend(
            stock50
                .iter()
                .map(|a| block(&stock, a, stock_proxy, "runpod-stock")),
        );
        let cfg = login.home.ssh_dir().join("config");
        std::fs::write(&cfg, blocks.join("\n")).unwrap();
        Some(Rig {
            login,
            cfg,
            sshd,
            stock,
            far50,
            near50,
            stock50,
        })
    }

    impl Rig {
        fn ours(&self, exe: &std::path::Path, args: &[&str]) -> bool {
            self.login.ok(exe, args)
        }

        /// `check --jobs 50` of `hosts`, medians of 3.
        fn fifty(&self, exe: &std::path::Path, hosts: &[String]) -> f64 {
            let mut args = vec!["check", "--jobs", "50"];
            args.extend(hosts.iter().map(String::as_str));
            time_ms(|| self.ours(exe, &args), 3)
        }

        fn measure(&self, exe: &std::path::Path) -> Figures {
            let one = |args: &[&str]| {
                let with = |alias: &'static str| {
                    let mut v = args.to_vec();
                    v.push(alias);
                    v
                };
                let (far, direct) = (with("far"), with("direct"));
                (
                    time_ms(|| self.ours(exe, &far), RUNS),
                    time_ms(|| self.ours(exe, &direct), RUNS),
                )
            };
            let full = one(&["check"]);
            let quick = one(&["check", "--quick"]);
            let (cpu0, sshd0) = (children_cpu(), sshd_cpu(self.sshd.pid()));
            let fifty = self.fifty(exe, &self.far50);
            // Per host and run (a warm-up and 3 timed runs): where the time
            // goes besides the round trips, all on this machine's cores.
            let per = |d: f64| d * 1000.0 / (4.0 * 50.0);
            let client_cpu_ms = per(children_cpu() - cpu0);
            let sshd_cpu_ms = per(sshd_cpu(self.sshd.pid()) - sshd0);
            let fifty_direct = self.fifty(exe, &self.near50);
            let stock0 = sshd_cpu(self.stock.pid());
            let fifty_stock = self.fifty(exe, &self.stock50);
            Figures {
                full,
                quick,
                fifty,
                fifty_direct,
                fifty_stock,
                client_cpu_ms,
                sshd_cpu_ms,
                stock_sshd_cpu_ms: per(sshd_cpu(self.stock.pid()) - stock0),
            }
        }

        fn ssh_true(&self, ssh: &std::path::Path, alias: &str) -> bool {
            self.login.ssh_true(ssh, &self.cfg, alias)
        }

        fn xargs_ssh(&self, ssh: &std::path::Path) -> bool {
            self.login.xargs_ssh(ssh, &self.cfg, &self.far50)
        }
    }

    pub fn main() {
        let rtt_ms: f64 = std::env::var("RTT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100.0);
        let Some(rig) = rig(rtt_ms) else {
            return;
        };
        let ssh = common::require_tool("ssh").expect("ssh");
        let this = if cfg!(feature = "russh-rtt-patch") {
            "patched"
        } else {
            "upstream"
        };
        let mut builds = vec![(format!("this ({this})"), bin())];
        if let Some(alt) = std::env::var_os("RTT_ALT") {
            for p in alt.to_string_lossy().split(',').filter(|p| !p.is_empty()) {
                builds.push((p.to_string(), std::path::PathBuf::from(p)));
            }
        }
        println!(
            "{rtt_ms} ms RTT delay proxies -> sshd -r (LogLevel INFO) 127.0.0.1:{} and stock sshd 127.0.0.1:{}; medians of {RUNS} (50 hosts: of 3); load {}",
            rig.sshd.port,
            rig.stock.port,
            load()
        );
        for (i, (label, exe)) in builds.iter().enumerate() {
            println!("[{i}] {label}: {}", exe.display());
        }
        let figs: Vec<Figures> = builds.iter().map(|(_, exe)| rig.measure(exe)).collect();
        let row = |name: &str, f: &dyn Fn(&Figures) -> String| {
            let cols: Vec<String> = figs.iter().map(|g| format!("{:>12}", f(g))).collect();
            println!("{name:<44}{}", cols.join(""));
        };
        let head: Vec<String> = (0..figs.len())
            .map(|i| format!("{:>12}", format!("[{i}]")))
            .collect();
        println!("{:<44}{}", "", head.join(""));
        let rtt = |(far, _): (f64, f64)| format!("{:.2}", far / rtt_ms);
        let net = |(far, direct): (f64, f64)| format!("{:.2}", (far - direct) / rtt_ms);
        row("check ALIAS: RTT (wall / RTT)", &|g| rtt(g.full));
        row("check ALIAS: RTT (net: far - direct)", &|g| net(g.full));
        row("check --quick ALIAS: RTT", &|g| rtt(g.quick));
        row("check --quick ALIAS: RTT (net)", &|g| net(g.quick));
        row("check --jobs 50, 50 hosts: ms", &|g| {
            format!("{:.0}", g.fifty)
        });
        row("  x one host (target <= 1.5)", &|g| {
            format!("{:.2}", g.fifty / g.full.0)
        });
        row("  the same 50 direct: ms", &|g| {
            format!("{:.0}", g.fifty_direct)
        });
        row("  RTT (net) of the 50, x one host's", &|g| {
            format!("{:.2}", (g.fifty - g.fifty_direct) / (g.full.0 - g.full.1))
        });
        row("  CPU ms per host: runpod-ssh", &|g| {
            format!("{:.1}", g.client_cpu_ms)
        });
        row("  CPU ms per host: sshd + login shell", &|g| {
            format!("{:.1}", g.sshd_cpu_ms)
        });
        row("50 hosts, stock sshd: x one host", &|g| {
            format!("{:.2}", g.fifty_stock / g.full.0)
        });
        row("  CPU ms per host: stock sshd + shell", &|g| {
            format!("{:.1}", g.stock_sshd_cpu_ms)
        });

        let ssh_far = time_ms(|| rig.ssh_true(&ssh, "far"), RUNS);
        let ssh_direct = time_ms(|| rig.ssh_true(&ssh, "direct"), RUNS);
        println!(
            "ssh -o BatchMode=yes ALIAS true: RTT {:.2}, RTT (net) {:.2}",
            ssh_far / rtt_ms,
            (ssh_far - ssh_direct) / rtt_ms
        );
        let xargs50 = time_ms(|| rig.xargs_ssh(&ssh), 3);
        println!(
            "xargs -P 50 ssh … true, 50 hosts: {xargs50:.0} ms, {:.2}x one ssh",
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
