//! scripts/release.sh's packaging, without its cross builds: `cargo` and
//! `rustup` are stand-ins on PATH and the "built" binaries sit in a temp
//! CARGO_TARGET_DIR, so only what the script itself does is judged.
#![cfg(unix)]

mod common;

use common::require_tool;
use std::path::Path;
use std::process::Command;

const WINDOWS: &str = "x86_64-pc-windows-gnu";

/// A folder with stand-ins for the build tools and a target dir holding a
/// "built" Windows binary with the given bytes.
fn fake_build(dir: &Path, exe: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, body) in [
        // Build nothing: the binary is already in the target dir; `run`
        // is the host build printing the man page.
        (
            "cargo",
            "#!/bin/sh\ncase $1 in build) exit 0;; run) echo .TH; exit 0;; esac\nexit 3\n",
        ),
        // A toolchain without the musl target.
        (
            "rustup",
            "#!/bin/sh\ncase $* in *musl*) echo no musl here >&2; exit 1;; esac\nexit 0\n",
        ),
        ("x86_64-w64-mingw32-gcc", "#!/bin/sh\nexit 0\n"),
    ] {
        let p = bin.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = dir.join("target").join(WINDOWS).join("dist");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("runpod-ssh.exe"), exe).unwrap();
    std::fs::set_permissions(
        out.join("runpod-ssh.exe"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

/// Run the release script with `args`, `umask` and `tz`.
fn release(fake: &Path, args: &[&str], out: &Path, umask: &str, tz: &str) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/release.sh");
    let path = format!(
        "{}:{}",
        fake.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .args([
            "-c",
            "umask \"$1\"; shift; exec \"$@\"",
            "sh",
            umask,
            "bash",
        ])
        .arg(&script)
        .args(args)
        .arg("--out")
        .arg(out)
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", fake.join("target"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("TZ", tz)
        .output()
        .expect("run scripts/release.sh")
}

#[test]
fn release_zip_is_the_same_whatever_the_time_zone_or_umask() {
    let (Some(_), Some(unzip), Some(_)) = (
        require_tool("zip"),
        require_tool("unzip"),
        require_tool("bash"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    fake_build(dir.path(), b"MZ stand-in for runpod-ssh.exe");
    let zip = format!("runpod-ssh-{}-{WINDOWS}.zip", env!("CARGO_PKG_VERSION"));
    let mut zips = Vec::new();
    for (i, (umask, tz)) in [("022", "UTC"), ("077", "Asia/Tokyo")].iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let o = release(dir.path(), &["--only", "windows"], &out, umask, tz);
        assert!(
            o.status.success(),
            "release.sh: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // The binary packed is the one this target dir holds.
        let packed = Command::new(&unzip)
            .args(["-p"])
            .arg(out.join(&zip))
            .arg("runpod-ssh.exe")
            .output()
            .unwrap();
        assert_eq!(packed.stdout, b"MZ stand-in for runpod-ssh.exe");
        // Everyone may read what the zip unpacks to; the program runs.
        let listing = Command::new(&unzip)
            .arg("-Z")
            .arg(out.join(&zip))
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        for line in listing.lines().filter(|l| l.contains(" unx ")) {
            let want = if line.ends_with("runpod-ssh.exe") {
                "-rwxr-xr-x"
            } else {
                "-rw-r--r--"
            };
            assert!(line.starts_with(want), "umask {umask}: {line}");
        }
        zips.push(std::fs::read(out.join(&zip)).unwrap());
    }
    assert!(
        zips[0] == zips[1],
        "the zip (and so its SHA256 in the manifests) differs between TZ=UTC, umask 022 and TZ=Asia/Tokyo, umask 077"
    );
}

#[test]
fn a_musl_build_that_failed_leaves_no_older_musl_archive_behind() {
    // Otherwise the listing and SHA256SUMS present the last run's static
    // binary (another commit) as this release's.
    let (Some(_), Some(_), Some(_)) = (
        require_tool("zip"),
        require_tool("unzip"),
        require_tool("bash"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    fake_build(dir.path(), b"MZ");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let old = out.join(format!(
        "runpod-ssh-{}-x86_64-unknown-linux-musl.tar.gz",
        env!("CARGO_PKG_VERSION")
    ));
    std::fs::write(&old, "an earlier run's archive").unwrap();
    let o = release(dir.path(), &[], &out, "022", "UTC");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("musl: NOT BUILT"), "{text}");
    assert!(
        !old.exists(),
        "the earlier musl archive is still there: {text}"
    );
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert!(!sums.contains("musl"), "{sums}");
    assert!(sums.contains("windows-gnu.zip"), "{sums}");
}
