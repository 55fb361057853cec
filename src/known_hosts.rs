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
pub fn load(files: &[PathBuf]) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for f in files {
        let bytes = match crate::fsio::read_limited(f) {
            Ok(c) => c.bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            // A file we cannot read (a FIFO, over the size cap, no
            // permission) might hold the key that makes this one a change:
            // treating it as empty could accept an impostor as "new".
            Err(e) => return Err(format!("cannot read {}: {e}", f.display())),
        };
        out.extend(parse_all(f, &bytes));
    }
    Ok(out)
}

/// A line as ssh's C code sees it: it ends at the first NUL.
fn until_nul(l: &str) -> &str {
    l.split('\0').next().unwrap_or_default()
}

/// Every usable entry of one file's content.
fn parse_all(f: &Path, bytes: &[u8]) -> Vec<Entry> {
    String::from_utf8_lossy(bytes)
        .lines()
        .enumerate()
        .filter_map(|(i, l)| parse_line(f, i + 1, until_nul(l)))
        .collect()
}

/// The keys a `RevokedHostKeys` file lists, as `@revoked *` entries. ssh
/// refuses every host key when it cannot check the file (missing,
/// unreadable, or a binary KRL, which we do not parse): so do we, with the
/// reason as the error.
pub fn load_revoked(path: &Path) -> Result<Vec<Entry>, String> {
    let snap = fsio::read(path).map_err(|e| e.to_string())?;
    let Some(bytes) = snap.bytes.as_deref() else {
        return Err(format!("RevokedHostKeys {} does not exist", path.display()));
    };
    if bytes.starts_with(b"SSHKRL\n") {
        return Err(format!(
            "RevokedHostKeys {} is a key revocation list (KRL), which runpod-ssh cannot check",
            path.display()
        ));
    }
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let t = until_nul(l).trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let key = PublicKey::from_openssh(t)
            .map_err(|_| format!("{}:{}: not a public key", path.display(), i + 1))?;
        out.push(Entry {
            file: path.to_path_buf(),
            line: i + 1,
            marker: Some(Marker::Revoked),
            hosts: "*".into(),
            key,
        });
    }
    Ok(out)
}

/// What the known_hosts files say about a server's key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "verdict")]
pub enum Verdict {
    /// This key is recorded for the name.
    Known { file: PathBuf, line: usize },
    /// No key of any type is recorded for the name.
    Unknown,
    /// Another key is recorded for the name, of this type or any other
    /// (OpenSSH's HOST_CHANGED): possibly an attack, or (on RunPod) a
    /// recycled IP:port or a restarted pod.
    Changed {
        file: PathBuf,
        line: usize,
        /// SHA256 fingerprint of the recorded key.
        recorded: String,
        /// Its type, e.g. `ssh-ed25519`.
        recorded_type: String,
    },
    /// The key is marked `@revoked`.
    Revoked { file: PathBuf, line: usize },
    /// `CheckHostIP`: the key is fine for the name, but the server's address
    /// has another key recorded.
    IpChanged {
        file: PathBuf,
        line: usize,
        recorded: String,
    },
}

/// Check `key` for `name` against `entries`, as OpenSSH's
/// `check_key_in_hostkeys` does (hostfile.c): a matching plain entry is
/// known; any other plain entry for the name, whatever its type, makes it a
/// change; none is unknown. `@cert-authority` lines only vouch for
/// certificates (russh is never offered one: we do not advertise
/// certificate host key algorithms), so they are skipped like OpenSSH skips
/// them for a plain key. A key `@revoked` anywhere, for any name, is
/// refused: stricter than OpenSSH, which only reads the revocations whose
/// host field matches.
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
    // OpenSSH reports the last non-matching entry it met.
    match named.last() {
        Some(e) => Verdict::Changed {
            file: e.file.clone(),
            line: e.line,
            recorded: e.key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
            recorded_type: e.key.algorithm().as_str().to_string(),
        },
        None => Verdict::Unknown,
    }
}

/// Where the server's key is being checked: the names OpenSSH looks it up
/// under, as sshconnect.c `check_host_key` builds them.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// `HostKeyAlias`, else `host` or `[host]:port`.
    pub name: String,
    /// The bare host when the port is not 22 and there is no alias: a key
    /// recorded there (and only a match) is accepted too.
    pub portless: Option<String>,
    /// `CheckHostIP`: the address name (`ip` or `[ip]:port`), when ssh
    /// would check it (not loopback, not when the host is the address).
    pub ip: Option<String>,
    /// ssh would not record a new key: no `UserKnownHostsFile` (`none`),
    /// or a host name it refuses to write.
    pub readonly: bool,
    /// A `KnownHostsCommand` is set: ssh would ask it about a key the
    /// files do not know; runpod-ssh never runs it, so such a key is not
    /// trusted.
    pub known_hosts_command: bool,
    /// Why runpod-ssh cannot know what ssh would decide (a `Match exec`,
    /// a path it cannot expand as ssh would): every key is refused.
    pub unverifiable: Option<String>,
}

/// The verdict for `key`, with OpenSSH's port-less retry and CheckHostIP.
pub fn check_lookup(entries: &[Entry], l: &Lookup, key: &PublicKey) -> Verdict {
    let v = check(entries, &l.name, key);
    let v = match (&v, &l.portless) {
        (Verdict::Unknown, Some(bare)) => match check(entries, bare, key) {
            k @ Verdict::Known { .. } => k,
            _ => v,
        },
        _ => v,
    };
    if let (Verdict::Known { .. } | Verdict::Unknown, Some(ip)) = (&v, &l.ip)
        && let Verdict::Changed {
            file,
            line,
            recorded,
            ..
        } = check(entries, ip, key)
    {
        return Verdict::IpChanged {
            file,
            line,
            recorded,
        };
    }
    v
}

/// `StrictHostKeyChecking`, as the config sets it (`ask` when unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strict {
    Yes,
    AcceptNew,
    No,
    Ask,
}

/// Evidence about the key from outside the known_hosts files. Empty today;
/// the seam for a pod's log: RunPod prints the pod's host key fingerprints
/// at start, and a caller that read them puts them here.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// SHA256 fingerprints (`SHA256:…`) the server is expected to show.
    /// When not empty, any other key is refused.
    pub expected_sha256: Vec<String>,
}

/// What to do with the server's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Trust it; nothing to write.
    Accept,
    /// Trust it and record it (accept-new / no on an unknown key).
    AcceptAndRecord,
    /// Stop before any authentication.
    Refuse,
}

/// The one place a host key is trusted or not. Never accepts what OpenSSH
/// refuses, and is stricter in three places: a changed, revoked or
/// address-changed key is refused even with `StrictHostKeyChecking no`
/// (ssh goes on without passwords or forwarding), and `ask` is a refusal
/// (nobody to ask).
pub fn decide(
    verdict: &Verdict,
    fingerprint: &str,
    strict: Strict,
    readonly: bool,
    ev: &Evidence,
) -> Decision {
    if !ev.expected_sha256.is_empty() && !ev.expected_sha256.iter().any(|f| f == fingerprint) {
        return Decision::Refuse;
    }
    match verdict {
        Verdict::Known { .. } => Decision::Accept,
        // ssh fails a new key when it could not record it (sshconnect.c:
        // `if (readonly || want_cert) goto fail`).
        Verdict::Unknown if readonly => Decision::Refuse,
        Verdict::Unknown => match strict {
            Strict::AcceptNew | Strict::No => Decision::AcceptAndRecord,
            Strict::Yes | Strict::Ask => Decision::Refuse,
        },
        Verdict::Changed { .. } | Verdict::Revoked { .. } | Verdict::IpChanged { .. } => {
            Decision::Refuse
        }
    }
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
    #[error("{} is not a regular file: nothing is written to it", .0.display())]
    NotRegular(PathBuf),
    #[error("folder {} does not exist: the host key was not added (ssh: \"Failed to add the host to the list of known hosts\")", .0.display())]
    NoFolder(PathBuf),
}

/// What [`record`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The key was appended.
    Written,
    /// The file is a character device such as `/dev/null`: "record
    /// nothing", as ssh's append to it does.
    Discarded,
    /// The file already records this key for every name (another probe
    /// in this run, or another process, got there first): nothing added.
    Present,
    /// Meanwhile the file got another key for one of the names: nothing
    /// added, and the key is a change (OpenSSH's HOST_CHANGED).
    Changed(Verdict),
}

/// What kind of file `path` is (through symlinks, as ssh opens it).
fn target_kind(path: &Path) -> Result<Option<std::fs::FileType>, fsio::FsError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.file_type())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(fsio::FsError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(unix)]
fn is_char_device(t: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    t.is_char_device()
}

#[cfg(not(unix))]
fn is_char_device(_t: &std::fs::FileType) -> bool {
    false
}

/// Append `key` for `names` (`host` and, with CheckHostIP, the address) to
/// `path` (created 0600 when absent; of missing folders only `~/.ssh`
/// itself is created, 0700, as ssh does), keeping every existing byte.
/// Under the lock the file is read again: a key now recorded for any of
/// the names makes this one a change (nothing written), the same key
/// already there is not written twice. Only a regular file is ever written: a character device
/// (`UserKnownHostsFile /dev/null`) records nothing, anything else
/// non-regular is an error.
pub fn record(
    path: &Path,
    names: &[&str],
    key: &PublicKey,
    hash: bool,
) -> Result<Recorded, RecordError> {
    match target_kind(path)? {
        Some(t) if is_char_device(&t) => return Ok(Recorded::Discarded),
        Some(t) if !t.is_file() => return Err(RecordError::NotRegular(path.to_path_buf())),
        _ => {}
    }
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        // sshconnect.c hostfile_create_user_ssh_dir: only ~/.ssh, one level.
        let user_dir = crate::platform::home_dir().map(|h| h.join(".ssh"));
        if user_dir.as_deref() != Some(dir) {
            return Err(RecordError::NoFolder(dir.to_path_buf()));
        }
        fsio::create_private_dir_one(dir).map_err(|source| fsio::FsError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // Probes run concurrently: one writer at a time in this process, and
    // the runpod-ssh lock against other processes.
    static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let _lock = fsio::Lock::for_file(path)?;
    let snap = fsio::read(path)?;
    let now = parse_all(path, snap.content());
    let mut missing = Vec::new();
    for (i, n) in names.iter().enumerate() {
        match check(&now, n, key) {
            Verdict::Known { .. } => {}
            Verdict::Unknown => missing.push(i),
            v => return Ok(Recorded::Changed(v)),
        }
    }
    if missing.is_empty() {
        return Ok(Recorded::Present);
    }
    // As ssh writes it: hashed names each on a line, plain ones joined.
    let names: Vec<&str> = missing.iter().map(|&i| names[i]).collect();
    let lines: Vec<String> = if hash {
        names
            .iter()
            .map(|n| entry_line(n, key, true))
            .collect::<Result<_, _>>()?
    } else {
        vec![entry_line(&names.join(","), key, false)?]
    };
    let mut bytes = snap.content().to_vec();
    let ending: &[u8] = if bytes.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        bytes.extend_from_slice(ending);
    }
    for line in lines {
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(ending);
    }
    // A known_hosts change is small and frequent: no backup copy.
    fsio::write(
        &snap,
        &bytes,
        fsio::WriteOptions {
            backup: false,
            new_mode: 0o600,
        },
    )?;
    Ok(Recorded::Written)
}

/// Remove every line recording `name` (what `ssh-keygen -R name` does),
/// keeping all other bytes. Returns the new content and how many lines went.
pub fn remove_host(content: &[u8], name: &str) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(content.len());
    let mut removed = 0;
    for line in content.split_inclusive(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        if line_names(until_nul(text.trim_end_matches(['\n', '\r'])), name) {
            removed += 1;
        } else {
            out.extend_from_slice(line);
        }
    }
    (out, removed)
}

/// Put the lines that pin keys for `old` under `new` instead (an entry
/// renamed at the same endpoint keeps its pin): a hashed line is hashed
/// afresh for `new`, a plain list has `old` replaced and keeps its other
/// names. Other lines stay byte-identical. Returns how many lines changed.
pub fn rename_host(content: &[u8], old: &str, new: &str) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(content.len());
    let mut renamed = 0;
    for line in content.split_inclusive(|&b| b == b'\n') {
        // A line that is not UTF-8 is kept as it is (it names no alias we write).
        let text = std::str::from_utf8(line).unwrap_or_default();
        let body = until_nul(text.trim_end_matches(['\n', '\r']));
        let end = &line[body.len()..];
        let fresh = line_names(body, old)
            .then(|| parse_line(Path::new(""), 0, body))
            .flatten()
            .and_then(|e| {
                let t = body.trim_start_matches([' ', '\t']);
                let rest = &t[e.hosts.len()..];
                if e.hosts.starts_with("|1|") {
                    let hashed = entry_line(new, &e.key, true).ok()?;
                    let field = hashed.split(' ').next()?.to_string();
                    Some(format!("{field}{rest}"))
                } else {
                    let names: Vec<&str> = e
                        .hosts
                        .split(',')
                        .map(|h| if h.eq_ignore_ascii_case(old) { new } else { h })
                        .collect();
                    Some(format!("{}{rest}", names.join(",")))
                }
            });
        match fresh {
            Some(f) => {
                out.extend_from_slice(f.as_bytes());
                out.extend_from_slice(end);
                renamed += 1;
            }
            None => out.extend_from_slice(line),
        }
    }
    (out, renamed)
}

#[cfg(test)]
mod tests;
