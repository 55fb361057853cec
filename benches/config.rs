//! Parse+emit and resolve on a generated config of 10,000 Host blocks.
//!
//! Run through `bench/config.sh`, which runs npm `ssh-config` and paramiko
//! on the same file in the same run and prints ratios. On its own:
//! `cargo bench --bench config` (writes the config to `$BENCH_CONFIG_OUT`
//! when set, the 100,000-block one to `$BENCH_CONFIG_100K_OUT`, and prints one JSON line of medians in milliseconds).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use runpod_ssh::config::{Document, resolve, resolve::Context};

/// A config like a heavy user's: comments, `=`, quotes, tabs, trailing
/// comments, forwards, a Match every 100 blocks and a `Host *` at the end.
fn generate(blocks: usize) -> String {
    let mut s = String::from("# generated benchmark config\nServerAliveInterval 30\n\n");
    for i in 0..blocks {
        if i % 100 == 99 {
            s.push_str(&format!(
                "Match host pod-{i}.internal user root\n    Compression yes\n\n"
            ));
        }
        if i % 10 == 0 {
            s.push_str(&format!("# pods {i} and up\n"));
        }
        s.push_str(&format!("Host runpod-{i} pod-{i}.alias\n"));
        s.push_str(&format!(
            "    HostName 10.{}.{}.{}\n",
            i / 65536 % 256,
            i / 256 % 256,
            i % 256
        ));
        s.push_str(&format!("    Port {}\n", 20000 + i % 40000));
        s.push_str("    User=root\n");
        s.push_str(&format!("\tIdentityFile \"~/.ssh/id key {}\"\n", i % 7));
        s.push_str(&format!(
            "    LocalForward {} localhost:8888   # jupyter\n",
            30000 + i % 30000
        ));
    }
    s.push_str("\nHost *\n    IdentitiesOnly yes\n");
    s
}

fn median_ms(mut f: impl FnMut(), runs: usize) -> f64 {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn main() {
    let text = generate(10_000);
    if let Ok(out) = std::env::var("BENCH_CONFIG_OUT") {
        std::fs::write(&out, &text).expect("write generated config");
    }
    // The same shape at 100,000 blocks, for bench/config.sh's whole-process
    // timings of the edit commands.
    if let Ok(out) = std::env::var("BENCH_CONFIG_100K_OUT") {
        std::fs::write(&out, generate(100_000)).expect("write generated config");
    }
    let bytes = text.as_bytes();
    let lines = text.lines().count();

    let parse_emit = median_ms(
        || {
            let d = Document::parse(black_box(bytes));
            assert_eq!(black_box(d.to_bytes()).len(), bytes.len());
        },
        31,
    );
    let doc = Document::parse(bytes);
    let ctx = Context::current();
    let path = Path::new("bench.conf");
    // The last block: every block before it is evaluated.
    let host = "runpod-9999";
    let r = resolve(&doc, path, host, &ctx);
    assert_eq!(r.hostname().0, "10.0.39.15");
    let resolve_ms = median_ms(
        || {
            black_box(resolve(&doc, path, black_box(host), &ctx));
        },
        31,
    );
    let parse_resolve = median_ms(
        || {
            let d = Document::parse(black_box(bytes));
            black_box(resolve(&d, path, host, &ctx));
        },
        31,
    );
    println!(
        "{{\"tool\":\"runpod-ssh\",\"lines\":{lines},\"parse_emit_ms\":{parse_emit:.3},\"resolve_ms\":{resolve_ms:.3},\"parse_resolve_ms\":{parse_resolve:.3}}}"
    );
}
