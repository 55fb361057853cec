//! `known_hosts` files: look a host key up the way OpenSSH does (plain and
//! hashed `|1|salt|hash` names, `[host]:port`, comma lists, `*`/`?`/`!`
//! patterns, `@revoked`, several keys per host, tabs and odd spacing),
//! record a new key, and remove a host's entries keeping every other byte.
//!
//! Entries are parsed line by line with `ssh-key`'s parser after the
//! whitespace is normalised, so one bad line is skipped, not fatal.
//! `@cert-authority` and `@revoked` lines are never removed: dropping a
//! revocation would weaken the user's security.

use std::path::{Path, PathBuf};

use ssh_key::PublicKey;

use crate::config::pattern;
use crate::fsio;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// The name OpenSSH records for `host` on `port`: `[host]:port` unless 22.
pub fn host_key_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Whether a hashed host field (`|1|salt|hash`) is `name`.
pub fn hashed_matches(field: &str, name: &str) -> bool {
    let Some(rest) = field.strip_prefix("|1|") else {
        return false;
    };
    let Some((salt, hash)) = rest.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (B64.decode(salt), B64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Whether a known_hosts line's host field names `name` literally (case
/// insensitive) or by hash. Marker lines never match.
fn line_names(line: &str, name: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t']);
    if t.is_empty() || t.starts_with('#') || t.starts_with('@') {
        return false;
    }
    let hosts = t.split([' ', '\t']).next().unwrap_or_default();
    if hosts.starts_with("|1|") {
        return hashed_matches(hosts, name);
    }
    hosts.split(',').any(|h| h.eq_ignore_ascii_case(name))
}

/// A marker before the host names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    CertAuthority,
    Revoked,
}

/// One usable known_hosts line.
#[derive(Debug, Clone)]
pub struct Entry {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    pub marker: Option<Marker>,
    /// The host field as written (patterns or `|1|…`).
    pub hosts: String,
    pub key: PublicKey,
}

impl Entry {
    /// Whether this entry is about `name` (`host`, `[host]:port` or an alias).
    pub fn names(&self, name: &str) -> bool {
        if self.hosts.starts_with("|1|") {
            return hashed_matches(&self.hosts, name);
        }
        pattern::match_hostname(name, &self.hosts)
    }
}

/// Parse one line; `None` for comments, blanks and lines that do not parse.
pub fn parse_line(file: &Path, line_no: usize, line: &str) -> Option<Entry> {
    let mut words = line.split_whitespace();
    let mut first = words.next()?;
    if first.starts_with('#') {
        return None;
    }
    let marker = match first {
        "@cert-authority" => Some(Marker::CertAuthority),
        "@revoked" => Some(Marker::Revoked),
        m if m.starts_with('@') => return None,
        _ => None,
    };
    if marker.is_some() {
        first = words.next()?;
    }
    let (kind, data) = (words.next()?, words.next()?);
    let key = PublicKey::from_openssh(&format!("{kind} {data}")).ok()?;
    Some(Entry {
        file: file.to_path_buf(),
        line: line_no,
        marker,
        hosts: first.to_string(),
        key,
    })
}

/// Every usable entry of the files that exist.
pub fn load(files: &[PathBuf]) -> Vec<Entry> {
    let mut out = Vec::new();
    for f in files {
        let Ok(crate::fsio::Content { bytes, .. }) = crate::fsio::read_limited(f) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for (i, l) in text.lines().enumerate() {
            if let Some(e) = parse_line(f, i + 1, l) {
                out.push(e);
            }
        }
    }
    out
}

/// What the known_hosts files say about a server's key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "verdict")]
pub enum Verdict {
    /// This key is recorded for the name.
    Known { file: PathBuf, line: usize },
    /// Nothing of this key type is recorded; `other_types` lists key types
    /// that are.
    Unknown { other_types: Vec<String> },
    /// A different key of the same type is recorded: possibly an attack,
    /// or (on RunPod) a recycled IP:port or a restarted pod.
    Changed {
        file: PathBuf,
        line: usize,
        recorded: String,
    },
    /// The key is marked `@revoked`.
    Revoked { file: PathBuf, line: usize },
}

/// Check `key` for `name` against `entries`, as OpenSSH does: a revoked
/// key is refused, a matching key is known, a different key of the same
/// type is a change.
pub fn check(entries: &[Entry], name: &str, key: &PublicKey) -> Verdict {
    let same = |e: &Entry| e.key.key_data() == key.key_data();
    for e in entries {
        if e.marker == Some(Marker::Revoked) && same(e) {
            return Verdict::Revoked {
                file: e.file.clone(),
                line: e.line,
            };
        }
    }
    let named: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.marker.is_none() && e.names(name))
        .collect();
    if let Some(e) = named.iter().find(|e| same(e)) {
        return Verdict::Known {
            file: e.file.clone(),
            line: e.line,
        };
    }
    if let Some(e) = named.iter().find(|e| e.key.algorithm() == key.algorithm()) {
        return Verdict::Changed {
            file: e.file.clone(),
            line: e.line,
            recorded: e.key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
        };
    }
    let mut other_types: Vec<String> = named
        .iter()
        .map(|e| e.key.algorithm().as_str().to_string())
        .collect();
    other_types.dedup();
    Verdict::Unknown { other_types }
}

/// The line recording `key` for `name` (hashed when `hash` is set).
pub fn entry_line(name: &str, key: &PublicKey, hash: bool) -> Result<String, ssh_key::Error> {
    let mut k = key.clone();
    k.set_comment("");
    let body = k.to_openssh()?;
    let host = if hash {
        let mut salt = [0u8; 20];
        ssh_key::getrandom::fill(&mut salt).map_err(|_| ssh_key::Error::Crypto)?;
        let mut m = Hmac::<Sha1>::new_from_slice(&salt).map_err(|_| ssh_key::Error::Crypto)?;
        m.update(name.as_bytes());
        format!(
            "|1|{}|{}",
            B64.encode(salt),
            B64.encode(m.finalize().into_bytes())
        )
    } else {
        name.to_string()
    };
    Ok(format!("{host} {}", body.trim_end()))
}

/// Errors recording a key.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Fs(#[from] fsio::FsError),
    #[error("cannot encode the host key: {0}")]
    Key(#[from] ssh_key::Error),
}

/// Append `key` for `name` to `path` (created 0600, and its folder 0700,
/// when absent), keeping every existing byte.
pub fn record(path: &Path, name: &str, key: &PublicKey, hash: bool) -> Result<(), RecordError> {
    // Probes run concurrently: one writer at a time in this process, and
    // the runpod-ssh lock against other processes.
    static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let _lock = fsio::Lock::for_file(path)?;
    let line = entry_line(name, key, hash)?;
    if let Some(dir) = path.parent() {
        fsio::create_private_dir(dir).map_err(|source| fsio::FsError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let snap = fsio::read(path)?;
    let mut bytes = snap.content().to_vec();
    let ending: &[u8] = if bytes.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        bytes.extend_from_slice(ending);
    }
    bytes.extend_from_slice(line.as_bytes());
    bytes.extend_from_slice(ending);
    // A known_hosts change is small and frequent: no backup copy.
    fsio::write(
        &snap,
        &bytes,
        fsio::WriteOptions {
            backup: false,
            new_mode: 0o600,
        },
    )?;
    Ok(())
}

/// Remove every line recording `name` (what `ssh-keygen -R name` does),
/// keeping all other bytes. Returns the new content and how many lines went.
pub fn remove_host(content: &[u8], name: &str) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(content.len());
    let mut removed = 0;
    for line in content.split_inclusive(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        if line_names(text.trim_end_matches(['\n', '\r']), name) {
            removed += 1;
        } else {
            out.extend_from_slice(line);
        }
    }
    (out, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(name: &str, salt: &[u8]) -> String {
        let mut m = Hmac::<Sha1>::new_from_slice(salt).unwrap();
        m.update(name.as_bytes());
        format!(
            "|1|{}|{}",
            B64.encode(salt),
            B64.encode(m.finalize().into_bytes())
        )
    }

    const ED1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMKJmzwNgmaKc5AZ6g0h9lqs4j2Xpv0cC0gYRKh3ZnY8";
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL3zTIp5Wo1U3ddW4WfXGkGdpWFqTLyjMzX4q9Gdj0bB";

    fn entries(text: &str) -> Vec<Entry> {
        text.lines()
            .enumerate()
            .filter_map(|(i, l)| parse_line(Path::new("kh"), i + 1, l))
            .collect()
    }

    #[test]
    fn verdicts() {
        let k1 = PublicKey::from_openssh(ED1).unwrap();
        let k2 = PublicKey::from_openssh(ED2).unwrap();
        let h = hash("[1.2.3.4]:2222", b"salt-salt-salt-salt!");
        let text = format!(
            "# c\n\n[1.2.3.4]:2222\t{ED1}\n{h}   {ED1}\nweb,*.example.com {ED2}\n!bad.example.com,*.example.com {ED1}\nbroken line here\n"
        );
        let e = entries(&text);
        assert_eq!(e.len(), 4);
        assert!(matches!(
            check(&e, "[1.2.3.4]:2222", &k1),
            Verdict::Known { line: 3, .. }
        ));
        assert!(matches!(
            check(&e, "[1.2.3.4]:2222", &k2),
            Verdict::Changed { line: 3, .. }
        ));
        assert!(matches!(check(&e, "1.2.3.4", &k1), Verdict::Unknown { .. }));
        assert!(matches!(
            check(&e, "a.example.com", &k2),
            Verdict::Known { line: 5, .. }
        ));
        assert!(matches!(
            check(&e, "a.example.com", &k1),
            Verdict::Known { line: 6, .. }
        ));
        // A negated pattern excludes the line.
        assert!(matches!(
            check(&e, "bad.example.com", &k2),
            Verdict::Known { line: 5, .. }
        ));
        let revoked = entries(&format!("@revoked * {ED1}\nweb {ED1}\n"));
        assert!(matches!(
            check(&revoked, "web", &k1),
            Verdict::Revoked { line: 1, .. }
        ));
    }

    #[test]
    fn record_appends_and_matches() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/known_hosts");
        let k1 = PublicKey::from_openssh(ED1).unwrap();
        record(&p, "runpod-a", &k1, false).unwrap();
        record(&p, "runpod-b", &k1, true).unwrap();
        let e = load(std::slice::from_ref(&p));
        assert!(matches!(
            check(&e, "runpod-a", &k1),
            Verdict::Known { line: 1, .. }
        ));
        assert!(matches!(
            check(&e, "runpod-b", &k1),
            Verdict::Known { line: 2, .. }
        ));
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("runpod-a ssh-ed25519 "));
        assert!(text.lines().nth(1).unwrap().starts_with("|1|"));
    }

    #[test]
    fn names() {
        assert_eq!(host_key_name("1.2.3.4", 22), "1.2.3.4");
        assert_eq!(host_key_name("1.2.3.4", 40123), "[1.2.3.4]:40123");
    }

    #[test]
    fn removes_plain_and_hashed_only_for_that_name() {
        let h = hash("runpod-a", b"0123456789abcdefghij");
        let other = hash("runpod-b", b"0123456789abcdefghij");
        let content = format!(
            "# keep\r\nrunpod-a ssh-ed25519 AAAA1\r\n{h} ssh-ed25519 AAAA2\n{other} ssh-ed25519 AAAA3\nx,RUNPOD-A ssh-rsa AAAA4\n@revoked runpod-a ssh-ed25519 AAAA5\nrunpod-ab ssh-ed25519 AAAA6"
        );
        let (out, n) = remove_host(content.as_bytes(), "runpod-a");
        assert_eq!(n, 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "# keep\r\n{other} ssh-ed25519 AAAA3\n@revoked runpod-a ssh-ed25519 AAAA5\nrunpod-ab ssh-ed25519 AAAA6"
            )
        );
    }
}
