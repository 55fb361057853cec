//! OpenSSH as the oracle: `ssh -G -F FILE HOST`, run only when it is safe.
//!
//! `ssh -G` evaluates `Match exec`, which runs a command named by the
//! config. runpod-ssh never runs anything a config names, so two layers
//! keep ssh from doing it for us:
//! 1. Before asking, the file and everything it includes are read as raw
//!    bytes, the way ssh reads them, and any line mentioning `match` and
//!    `exec` in any spelling (quotes, escapes, case, stray bytes) skips
//!    the cross-check;
//!    so does an `Include` we cannot follow exactly as glob(3) would, or a
//!    file we cannot read. The caller says so; our evaluator then judges.
//! 2. `ssh -G` runs with `SHELL` naming no program: ssh refuses to run a
//!    `Match exec` command then ("Shell … is not executable"), so a file
//!    swapped in between the check and ssh's read still runs nothing.
//!
//! `-F` keeps the system `ssh_config` out, `--` keeps the host from being
//! read as an option, and a deadline keeps a stuck `ssh` from stalling us.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Document;
use crate::config::resolve::{MAX_INCLUDE_DEPTH, include_path};

/// How long one `ssh -G` may take before it is killed.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// What `SHELL` is set to for `ssh -G`: no program, so ssh runs no
/// `Match exec` command (it stops with "Shell … is not executable").
const NO_SHELL: &str = "/nonexistent/runpod-ssh-runs-no-commands";

/// `ssh -G` output: keyword → values, in the order printed.
pub type Printed = BTreeMap<String, Vec<String>>;

/// Why the `ssh -G` cross-check was not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// No `ssh` on `PATH`.
    NoSsh,
    /// The config (or a file it includes) has a line mentioning `match`
    /// and `exec` (a `Match exec`, which `ssh -G` would run, or something
    /// that could be one).
    RunsCommands { file: PathBuf, line: usize },
    /// Something in the tree cannot be followed exactly as ssh follows it
    /// (an `Include` pattern glob(3) reads differently, a file we cannot
    /// read), so it cannot be proven free of `Match exec`.
    Unprovable {
        file: PathBuf,
        line: usize,
        why: String,
    },
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NoSsh => write!(f, "`ssh` is not installed, so `ssh -G` was not asked"),
            Skip::RunsCommands { file, line } => write!(
                f,
                "{}:{line} has `Match exec`, which `ssh -G` would run: the `ssh -G` cross-check was skipped (runpod-ssh never runs commands from a config)",
                file.display()
            ),
            Skip::Unprovable { file, line, why } => write!(
                f,
                "{}:{line}: {why}, so runpod-ssh cannot prove that `ssh -G` would run no command: the `ssh -G` cross-check was skipped (runpod-ssh never runs commands from a config)",
                file.display()
            ),
        }
    }
}

/// A way to ask `ssh -G` about one config tree, proven free of `Match exec`.
#[derive(Debug, Clone)]
pub struct Oracle {
    ssh: PathBuf,
}

impl Oracle {
    /// The oracle for `root` (whose content is `doc`) and every file it
    /// includes; `home` is where `~` in `Include` points.
    pub fn for_config(root: &Path, doc: &Document, home: &Path) -> Result<Oracle, Skip> {
        prove(root, doc, home)?;
        Ok(Oracle { ssh: oracle_ssh()? })
    }

    /// Like [`Oracle::for_config`], and also for a second version of the
    /// same file (an edit about to be written, or the one before it).
    pub fn for_versions(root: &Path, docs: &[&Document], home: &Path) -> Result<Oracle, Skip> {
        prove_versions(root, docs, home)?;
        Ok(Oracle { ssh: oracle_ssh()? })
    }

    /// [`Oracle::for_versions`] of versions given as bytes
    /// ([`prove_buffers`]).
    pub fn for_buffers(
        root: &Path,
        on_disk: Option<&[u8]>,
        versions: &[&[u8]],
        home: &Path,
    ) -> Result<Oracle, Skip> {
        prove_buffers(root, on_disk, versions, home)?;
        Ok(Oracle { ssh: oracle_ssh()? })
    }

    /// `ssh -G -F file host`: the printed settings, or ssh's own error
    /// text when it refuses the config. `file` must be the root this
    /// oracle was made for (or a copy of one of its proven versions).
    pub fn ssh_g(&self, file: &Path, host: &str) -> Result<Printed, String> {
        run_ssh_g(&self.ssh, file, host)
    }

    /// [`Oracle::ssh_g`] started now and read later ([`Running::finish`]),
    /// so the caller's own work runs beside it.
    pub fn spawn_ssh_g(&self, file: &Path, host: &str) -> Result<Running, String> {
        Running::spawn(&self.ssh, file, host, false)
    }

    /// `ssh -G` on a version of the config that is not on disk: piped in as
    /// `-F /dev/stdin` on Unix (no temp file), a private temp file
    /// elsewhere. ssh's words name `shown` instead.
    pub fn ssh_g_bytes(
        &self,
        bytes: &Arc<Vec<u8>>,
        shown: &Path,
        host: &str,
    ) -> Result<Printed, String> {
        let shown = shown.display().to_string();
        #[cfg(unix)]
        {
            run_ssh_g_with(
                &self.ssh,
                Path::new("/dev/stdin"),
                host,
                Some(Arc::clone(bytes)),
            )
            .map_err(|e| e.replace("/dev/stdin", &shown))
        }
        #[cfg(not(unix))]
        {
            let mut tmp = tempfile::Builder::new()
                .prefix("runpod-ssh-check-")
                .tempfile()
                .map_err(|e| e.to_string())?;
            std::io::Write::write_all(&mut tmp, bytes.as_slice()).map_err(|e| e.to_string())?;
            run_ssh_g(&self.ssh, tmp.path(), host)
                .map_err(|e| e.replace(&tmp.path().display().to_string(), &shown))
        }
    }
}

/// `Ok` when `root` (content `doc`) and every file it includes provably
/// hold no `Match exec`; otherwise why not. Deliberately broad: it reads
/// raw bytes as ssh does (whatever encoding we would decode them as),
/// drops quotes, backslashes and NULs, folds case, and any `exec` left
/// anywhere counts. A false alarm only skips the cross-check.
pub fn prove(root: &Path, doc: &Document, home: &Path) -> Result<(), Skip> {
    prove_versions(root, &[doc], home)
}

/// [`prove`] for each of `docs` (versions of the file `root`), in order:
/// the file on disk is read once, and a version whose bytes were already
/// proven to hold neither `exec` nor an `Include` is not scanned again
/// (`fix` proves the file as read and as repaired: mostly the same bytes).
pub fn prove_versions(root: &Path, docs: &[&Document], home: &Path) -> Result<(), Skip> {
    let on_disk = crate::fsio::read_limited(root).ok().map(|c| c.bytes);
    let versions: Vec<Vec<u8>> = docs.iter().map(|d| d.to_bytes()).collect();
    let versions: Vec<&[u8]> = versions.iter().map(Vec::as_slice).collect();
    prove_buffers(root, on_disk.as_deref(), &versions, home)
}

/// [`prove_versions`] of versions the caller has as bytes, `on_disk`
/// being what `root` holds (the caller's read of it, `None` when there
/// is none): no version made again, no second read of the file.
pub fn prove_buffers(
    root: &Path,
    on_disk: Option<&[u8]>,
    versions: &[&[u8]],
    home: &Path,
) -> Result<(), Skip> {
    // Root-level bytes with nothing in them that could make a Skip
    // (borrowed: a copy of a large file each was not free).
    let mut clean: Vec<&[u8]> = Vec::new();
    for &bytes in versions {
        let mut queue: Vec<(PathBuf, Cow<[u8]>, usize)> = Vec::new();
        // The document as given and the same file as ssh reads its bytes.
        let differs = on_disk.filter(|d| *d != bytes);
        queue.push((root.to_path_buf(), Cow::Borrowed(bytes), 0));
        if let Some(d) = differs {
            queue.push((root.to_path_buf(), Cow::Borrowed(d), 0));
        }
        prove_queue(queue, home, &mut clean)?;
    }
    Ok(())
}

/// The walk of [`prove`] from the buffers in `queue` through what they
/// include; `clean` collects (and skips) root-level bytes proven to have
/// neither `exec` nor an `Include`: proving them again would find nothing.
fn prove_queue<'a>(
    mut queue: Vec<(PathBuf, Cow<'a, [u8]>, usize)>,
    home: &Path,
    clean: &mut Vec<&'a [u8]>,
) -> Result<(), Skip> {
    let mut seen: Vec<PathBuf> = Vec::new();
    while let Some((path, bytes, depth)) = queue.pop() {
        if depth == 0 && clean.iter().any(|c| **c == *bytes) {
            continue;
        }
        if let Some(line) = mentions_exec(&bytes) {
            return Err(Skip::RunsCommands { file: path, line });
        }
        if depth >= MAX_INCLUDE_DEPTH {
            continue;
        }
        let includes = include_args(&bytes);
        // Root-level buffers are the caller's (borrowed); an owned one,
        // were there any, is only not remembered.
        if let (0, true, Cow::Borrowed(b)) = (depth, includes.is_empty(), &bytes) {
            clean.push(b);
        }
        for (line, arg) in includes {
            let unprovable = |why: &str| Skip::Unprovable {
                file: path.clone(),
                line,
                why: why.to_string(),
            };
            // glob(3) with GLOB_TILDE reads `\`, `[`, `{` and `~user`
            // differently from the glob we can run: don't guess.
            if arg.contains('\u{FFFD}')
                || (!crate::config::files::GLOB3
                    && (arg.contains(['\\', '[', ']', '{', '}'])
                        || (arg.starts_with('~') && !arg.starts_with("~/") && arg != "~")))
            {
                return Err(unprovable(&format!(
                    "`Include {arg}` is a pattern runpod-ssh does not expand exactly as ssh does"
                )));
            }
            let pattern = include_path(&arg, home);
            let paths: Vec<PathBuf> = match crate::config::files::include_glob(&pattern) {
                Ok(g) => g,
                Err(_) => {
                    return Err(unprovable(&format!(
                        "`Include {arg}` is a pattern runpod-ssh cannot expand"
                    )));
                }
            };
            for p in paths {
                if seen.contains(&p) {
                    continue;
                }
                seen.push(p.clone());
                match crate::fsio::read_limited(&p) {
                    Ok(c) => queue.push((p, Cow::Owned(c.bytes), depth + 1)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(unprovable(&format!(
                            "the included {} cannot be read ({e})",
                            p.display()
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The first raw line (1-based) that mentions both `match` and `exec`
/// once quotes, backslashes and NULs are dropped and case is folded (ssh
/// splits lines on `\n` only, as this does).
fn mentions_exec(bytes: &[u8]) -> Option<usize> {
    // One buffer for every line, not an allocation per line.
    let mut folded: Vec<u8> = Vec::new();
    // `exec` needs an `x` (only `X` lowercases to it): only the lines that
    // hold one are looked at, found by a scan of the whole buffer rather
    // than line by line (most lines of a large config have none).
    let (mut start, mut number) = (0, 1);
    while let Some(at) = find_folded(bytes, start, b'x') {
        let line_start = bytes[start..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(start, |k| start + k + 1);
        number += bytes[start..line_start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let line_end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |k| at + k);
        folded.clear();
        folded.extend(
            bytes[line_start..line_end]
                .iter()
                .filter(|b| !matches!(b, b'"' | b'\'' | b'\\' | 0))
                .map(u8::to_ascii_lowercase),
        );
        if folded.windows(5).any(|w| w == b"match") && folded.windows(4).any(|w| w == b"exec") {
            return Some(number);
        }
        start = line_end + 1;
        number += 1;
        if start >= bytes.len() {
            break;
        }
    }
    None
}

/// The first index at or after `from` where `hay[i] | 0x20 == folded`
/// (`folded` a lowercase ASCII letter: the letter in either case), eight
/// bytes at a time: these scans of a large config were a twentieth of
/// `add`.
fn find_folded(hay: &[u8], from: usize, folded: u8) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let hay_from = hay.get(from..)?;
    let pattern = u64::from_ne_bytes([folded; 8]);
    let fold = u64::from_ne_bytes([0x20; 8]);
    let mut chunks = hay_from.chunks_exact(8);
    let mut at = from;
    for c in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        // A zero byte of `t` is a match; this test for one is exact.
        let t = (u64::from_ne_bytes(word) | fold) ^ pattern;
        if t.wrapping_sub(ONES) & !t & HIGHS != 0
            && let Some(k) = c.iter().position(|&b| b | 0x20 == folded)
        {
            return Some(at + k);
        }
        at += 8;
    }
    let rest = chunks.remainder();
    rest.iter()
        .position(|&b| b | 0x20 == folded)
        .map(|k| at + k)
}

/// Whether `hay` holds `needle` (lowercase ASCII) in any case: candidates
/// are found by their first letter, so a large buffer is one quick scan.
fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(at) = find_folded(hay, from, first) {
        if hay.len() - at < needle.len() {
            return false;
        }
        if hay[at + 1..at + needle.len()].eq_ignore_ascii_case(rest) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// `Include` arguments with their 1-based lines, read both as the bytes
/// are (ssh's view: any leading byte-order mark bytes and NULs dropped)
/// and as we would decode them.
fn include_args(bytes: &[u8]) -> Vec<(usize, String)> {
    let mut raw = bytes;
    for bom in [&b"\xEF\xBB\xBF"[..], b"\xFF\xFE", b"\xFE\xFF"] {
        if let Some(rest) = raw.strip_prefix(bom) {
            raw = rest;
        }
    }
    // Without NULs (most files) the plain reading is the bytes themselves.
    let plain: std::borrow::Cow<[u8]> = if raw.contains(&0) {
        raw.iter()
            .copied()
            .filter(|&b| b != 0)
            .collect::<Vec<u8>>()
            .into()
    } else {
        raw.into()
    };
    let mut out = Vec::new();
    // An `Include` keyword is one run of bytes in the line (quotes end a
    // token, they are not removed from inside it), and in either reading
    // those bytes are in `plain` (UTF-16's ASCII units lose their NULs
    // there): without the word anywhere, neither reading has one, and
    // the file need not be lexed at all.
    if !contains_ignore_case(&plain, b"include") {
        return out;
    }
    for doc in [Document::parse(&plain), Document::parse(bytes)] {
        for (i, l) in doc.lines().iter().enumerate() {
            if l.keyword() == Some("include") {
                for v in l.values() {
                    let entry = (l.original_line().unwrap_or(i + 1), v.to_string());
                    if !out.contains(&entry) {
                        out.push(entry);
                    }
                }
            }
        }
    }
    out
}

/// The first place (file, 1-based line) in `root` or anything it includes
/// that keeps `ssh -G` from being asked (see [`prove`]).
pub fn runs_commands(root: &Path, doc: &Document, home: &Path) -> Option<(PathBuf, usize)> {
    match prove(root, doc, home) {
        Ok(()) => None,
        Err(Skip::RunsCommands { file, line } | Skip::Unprovable { file, line, .. }) => {
            Some((file, line))
        }
        Err(Skip::NoSsh) => None,
    }
}

/// `ssh` on `PATH`.
/// The ssh to ask: the one on `PATH`, unless the client flavour was forced
/// by the test hook (that ssh is then not the client being judged).
fn oracle_ssh() -> Result<PathBuf, Skip> {
    if crate::refusal::local_ssh().forced {
        return Err(Skip::NoSsh);
    }
    find_ssh().ok_or(Skip::NoSsh)
}

pub fn find_ssh() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    let names: &[&str] = if cfg!(windows) {
        &["ssh.exe", "ssh"]
    } else {
        &["ssh"]
    };
    std::env::split_paths(&paths)
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

fn run_ssh_g(ssh: &Path, file: &Path, host: &str) -> Result<Printed, String> {
    run_ssh_g_with(ssh, file, host, None)
}

/// `ssh -G -F FILE HOST`, or with `input` the config piped in as
/// `-F /dev/stdin` (nothing written to disk, as a dry run requires).
fn run_ssh_g_with(
    ssh: &Path,
    file: &Path,
    host: &str,
    input: Option<Arc<Vec<u8>>>,
) -> Result<Printed, String> {
    let mut running = Running::spawn(ssh, file, host, input.is_some())?;
    let stdin = running.child.as_mut().and_then(|c| c.stdin.take());
    if let (Some(bytes), Some(mut stdin)) = (input, stdin) {
        // Written on a thread, so a config larger than the pipe cannot
        // block us, and never joined: `finish` returns at the deadline
        // even when something holds the pipe unread (a wrapper's child).
        // The thread owns a share of the bytes, not a copy of them.
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &bytes);
        });
    }
    running.finish()
}

/// An `ssh -G` started and not yet read: [`Running::finish`] waits for it
/// (within [`DEADLINE`]); dropped unread, it is killed and reaped.
pub struct Running {
    child: Option<std::process::Child>,
    out: Option<std::thread::JoinHandle<Vec<u8>>>,
    err: Option<std::thread::JoinHandle<Vec<u8>>>,
    start: Instant,
}

impl Running {
    /// `input`: ssh's stdin is a pipe the caller writes to (taken from
    /// the child), else nothing.
    fn spawn(ssh: &Path, file: &Path, host: &str, input: bool) -> Result<Running, String> {
        let mut child = Command::new(ssh)
            // ssh runs `Match exec` through $SHELL and refuses when it is not
            // executable: a command the scan missed is never run.
            .env("SHELL", NO_SHELL)
            .arg("-G")
            .arg("-F")
            .arg(file)
            .arg("--")
            .arg(host)
            .stdin(if input { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", ssh.display()))?;
        // Read both pipes on threads so a chatty ssh cannot block on a full
        // pipe while we wait for it.
        let out = child.stdout.take().map(|o| drain(o, 16 << 20));
        let err = child.stderr.take().map(|e| drain(e, 1 << 20));
        Ok(Running {
            child: Some(child),
            out,
            err,
            start: Instant::now(),
        })
    }

    /// The printed settings, or ssh's own error text when it refuses.
    pub fn finish(mut self) -> Result<Printed, String> {
        let Some(mut child) = self.child.take() else {
            return Err("`ssh -G` was not started".to_string());
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if self.start.elapsed() < DEADLINE => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "`ssh -G` did not finish within {}s",
                        DEADLINE.as_secs()
                    ));
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        let joined = |t: Option<std::thread::JoinHandle<Vec<u8>>>| {
            t.and_then(|t| t.join().ok()).unwrap_or_default()
        };
        let stdout = joined(self.out.take());
        let stderr = joined(self.err.take());
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        if stderr.contains(NO_SHELL) {
            // The scan let a `Match exec` through; ssh refused to run it.
            return Err(
                "ssh -G wanted to run a command (`Match exec`) that runpod-ssh did not foresee; nothing was run and the cross-check is void"
                    .to_string(),
            );
        }
        if !status.success() {
            return Err(stderr);
        }
        let mut m = Printed::new();
        for l in String::from_utf8_lossy(&stdout).lines() {
            if let Some((k, v)) = l.split_once(' ') {
                m.entry(k.to_string()).or_default().push(v.to_string());
            }
        }
        Ok(m)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Not wanted any more (the answer came from elsewhere): no ssh left
        // running, no zombie.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads `r` to its end (at most `cap` bytes) on a thread of its own.
fn drain(r: impl Read + Send + 'static, cap: u64) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = r.take(cap).read_to_end(&mut b);
        b
    })
}

#[cfg(test)]
mod tests {
    /// The word-at-a-time scan finds what a byte-by-byte scan finds, on
    /// buffers of every byte value, length and start.
    #[test]
    fn find_folded_agrees_with_a_byte_scan() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000 {
            let len = (next() % 40) as usize;
            // Mostly letters near the target, sometimes any byte.
            let hay: Vec<u8> = (0..len)
                .map(|_| match next() % 4 {
                    0 => (next() % 256) as u8,
                    1 => b"xXiIhH\0\x7f\xf8\xd8X"[(next() % 11) as usize],
                    _ => b'a' + (next() % 26) as u8,
                })
                .collect();
            let folded = [b'x', b'i'][round % 2];
            for from in 0..=len {
                let want = hay[from..]
                    .iter()
                    .position(|&b| b | 0x20 == folded)
                    .map(|k| from + k);
                assert_eq!(
                    super::find_folded(&hay, from, folded),
                    want,
                    "{hay:?} {from}"
                );
            }
        }
    }

    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn an_unread_ssh_g_is_killed_and_reaped_when_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A stand-in `ssh` that would run for a minute.
        let slow = dir.path().join("ssh");
        std::fs::write(&slow, "#!/bin/sh\nexec sleep 60\n").unwrap();
        std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
        let running = Running::spawn(&slow, Path::new("/dev/null"), "h", false).unwrap();
        let pid = running.child.as_ref().unwrap().id();
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        let t = Instant::now();
        drop(running);
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "ssh left behind"
        );
    }

    /// The 10 s deadline bounds `ssh -G` on piped input even when the
    /// `ssh` found on PATH is a wrapper whose child keeps the pipe open
    /// without reading it: the writer is never joined. (From the hostile
    /// review: a scoped writer made `add` wait for that child.)
    #[cfg(target_os = "linux")]
    #[test]
    fn piped_ssh_g_returns_at_the_deadline_when_a_grandchild_holds_stdin() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // Not `exec`: sh forks sleep, which inherits the stdin pipe.
        let slow = dir.path().join("ssh");
        std::fs::write(&slow, "#!/bin/sh\nsleep 30\ntrue\n").unwrap();
        std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Larger than any pipe buffer.
        let big = Arc::new(vec![b'#'; 1 << 20]);
        let t = Instant::now();
        let r = run_ssh_g_with(&slow, Path::new("/dev/stdin"), "h", Some(big));
        assert!(r.is_err());
        assert!(
            t.elapsed() < DEADLINE + Duration::from_secs(5),
            "took {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn spellings_ssh_joins_into_exec_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("config");
        for text in [
            &b"Match ex\"ec\" \"touch /tmp/x\"\n"[..],
            b"Match=ex\"ec\" \"touch /tmp/x\"\n",
            b"\"Ma\"tch EXEC true\n",
            b"Match ex\\ec true\n",
            // Stray UTF-16 byte-order mark bytes before an ASCII file: ssh
            // reads the bytes, we might decode them as UTF-16.
            b"\xff\xfe\nHost a\n  Port 1\nMatch exec \"touch /tmp/x\"\n",
        ] {
            std::fs::write(&root, text).unwrap();
            let doc = Document::parse(text);
            assert!(
                matches!(
                    prove(&root, &doc, dir.path()),
                    Err(Skip::RunsCommands { .. })
                ),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn match_exec_is_found_on_its_own_line_number_among_lines_with_and_without_x() {
        let text = b"Host box\n  HostName x.example\n\n# max\nHost a\n  Port 1\nMatch host y EXEC true\nHost z\n";
        assert_eq!(mentions_exec(text), Some(7));
        assert_eq!(mentions_exec(b"Match exec"), Some(1));
        assert_eq!(mentions_exec(b"\n\nmatch\nexec\nx\n"), None);
        assert_eq!(mentions_exec(b"Host x\nProxyCommand exec nc %h %p\n"), None);
        assert_eq!(mentions_exec(b""), None);
    }

    #[test]
    fn include_is_found_in_any_case_and_only_whole() {
        assert!(contains_ignore_case(b"Host a\n  INCLUDE b\n", b"include"));
        assert!(contains_ignore_case(b"iinclude", b"include"));
        assert!(!contains_ignore_case(b"Host i\n  inclu", b"include"));
        assert!(!contains_ignore_case(b"", b"include"));
    }

    #[test]
    fn includes_ssh_would_expand_differently_are_not_guessed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("config");
        // Files glob(3) finds for these patterns (`\n` is `n`, an unclosed
        // `[` and braces are literal), each with a Match exec: found with
        // the C library's glob, never guessed without it.
        for name in ["inc", "in[c", "a{b,c}"] {
            std::fs::write(dir.path().join(name), "Match exec \"touch /tmp/x\"\n").unwrap();
        }
        for inc in ["i\\nc", "in[c", "[[:alpha:]]nc", "a{b,c}"] {
            let text = format!("Include {}/{inc}\nHost a\n  Port 1\n", dir.path().display());
            let doc = Document::parse(text.as_bytes());
            let r = prove(&root, &doc, dir.path());
            if crate::config::files::GLOB3 {
                assert!(matches!(r, Err(Skip::RunsCommands { .. })), "{inc}: {r:?}");
            } else {
                assert!(matches!(r, Err(Skip::Unprovable { .. })), "{inc}: {r:?}");
            }
        }
        // An included file we cannot read (a folder here) is not assumed clean.
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let text = format!("Include {}\n", dir.path().join("sub").display());
        let doc = Document::parse(text.as_bytes());
        assert!(matches!(
            prove(&root, &doc, dir.path()),
            Err(Skip::Unprovable { .. })
        ));
        // Everyday lines mentioning exec without Match stay provable.
        let doc = Document::parse(b"Host exec-box\n  ProxyCommand exec nc %h %p\n");
        assert_eq!(prove(&root, &doc, dir.path()), Ok(()));
    }

    #[cfg(unix)]
    #[test]
    fn ssh_g_runs_no_command_even_when_asked_directly() {
        let Some(ssh) = find_ssh() else {
            assert!(
                std::env::var("CI").is_err(),
                "ssh is required for this test under CI"
            );
            eprintln!("SKIPPED: no ssh");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let conf = dir.path().join("config");
        std::fs::write(
            &conf,
            format!("Match exec \"touch {}\"\n  User x\n", marker.display()),
        )
        .unwrap();
        let r = run_ssh_g(&ssh, &conf, "host");
        assert!(!marker.exists(), "ssh -G ran the Match exec command");
        assert!(r.is_err_and(|e| e.contains("did not foresee")));
    }

    #[test]
    fn match_exec_anywhere_in_the_tree_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        std::fs::write(&inc, "Host a\n  Port 2\nmatch !EXEC \"true\"\n  Port 3\n").unwrap();
        let root = dir.path().join("config");
        // Forward slashes: a `\` in an Include is refused as unprovable
        // (glob(3) reads it as an escape), which a Windows temp path has.
        let inc_arg = inc.display().to_string().replace('\\', "/");
        let text = format!("Include {inc_arg}\nHost b\n  Port 1\n");
        let doc = Document::parse(text.as_bytes());
        assert_eq!(
            runs_commands(&root, &doc, dir.path()),
            Some((inc.clone(), 3))
        );
        let clean = Document::parse(b"Match host x\n  Port 1\nHost exec\n  Port 2\n");
        assert_eq!(runs_commands(&root, &clean, dir.path()), None);
        assert!(matches!(
            Oracle::for_config(&root, &doc, dir.path()),
            Err(Skip::RunsCommands { .. })
        ));
    }
}
