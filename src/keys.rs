//! Key files: create them (private key 0600 from its first byte), read
//! every format OpenSSH writes and explain the ones it does not (PuTTY,
//! legacy PEM, a `.pub` without its type, a pasted fingerprint), the
//! byte-preserving `authorized_keys` edits `key rotate` makes on a server,
//! and the rotation journal (0600, beside the keys in `~/.ssh`; in
//! `keys/journal.rs`).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use ssh_key::{Algorithm, EcdsaCurve, HashAlg, LineEnding, PrivateKey, PublicKey};

mod journal;

pub use journal::{HostEntry, Journal, Step, journal_path};

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0} already exists; runpod-ssh never overwrites a key (choose another PATH)")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: {what}")]
    Format { path: PathBuf, what: String },
    #[error("{0} is encrypted and no passphrase was given")]
    Encrypted(PathBuf),
    #[error("wrong passphrase for {0}")]
    WrongPassphrase(PathBuf),
    #[error("cannot create the key: {0}")]
    Generate(String),
}

/// The key types `key new` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyType {
    Ed25519,
    Ecdsa,
    Rsa,
}

/// A fresh key pair with `comment` (ecdsa: P-256; rsa: 3072 bits, as
/// ssh-keygen makes them).
pub fn generate(kind: KeyType, comment: &str) -> Result<PrivateKey, KeyError> {
    let mut rng = ssh_key::rand_core::UnwrapErr(ssh_key::getrandom::SysRng);
    let gen_err = |e: ssh_key::Error| KeyError::Generate(e.to_string());
    let mut key = match kind {
        KeyType::Ed25519 => PrivateKey::random(&mut rng, Algorithm::Ed25519).map_err(gen_err)?,
        KeyType::Ecdsa => PrivateKey::random(
            &mut rng,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
        )
        .map_err(gen_err)?,
        KeyType::Rsa => {
            let pair = ssh_key::private::RsaKeypair::random(&mut rng, 3072).map_err(gen_err)?;
            PrivateKey::new(ssh_key::private::KeypairData::from(pair), "").map_err(gen_err)?
        }
    };
    key.set_comment(comment);
    Ok(key)
}

/// Create `path` with `mode` (Unix) and write `bytes`; never replaces an
/// existing file (`create_new`), so the mode holds from the first byte.
fn create_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let werr = |source: io::Error| KeyError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = o.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.to_path_buf())
        } else {
            werr(e)
        }
    })?;
    f.write_all(bytes).map_err(werr)?;
    f.sync_all().map_err(werr)
}

/// The `.pub` beside a private key (`id` → `id.pub`, as ssh-keygen names it).
pub fn pub_path(private: &Path) -> PathBuf {
    let mut s = private.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Write a new key pair: the private key (OpenSSH format, encrypted with
/// `passphrase` when given) created 0600, the `.pub` 0644, the folder 0700
/// when created. Nothing is written when either file exists. Returns the
/// public key line.
pub fn write_pair(
    path: &Path,
    key: &PrivateKey,
    passphrase: Option<&str>,
) -> Result<String, KeyError> {
    let public_path = pub_path(path);
    for p in [path, public_path.as_path()] {
        if fs::symlink_metadata(p).is_ok() {
            return Err(KeyError::Exists(p.to_path_buf()));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        crate::fsio::create_private_dir(dir).map_err(|source| KeyError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // The .pub comes from the plain key: encrypting moves the comment
    // into the encrypted part.
    let line = key
        .public_key()
        .to_openssh()
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let stored = match passphrase {
        Some(p) => {
            let mut rng = ssh_key::rand_core::UnwrapErr(ssh_key::getrandom::SysRng);
            key.encrypt(&mut rng, p)
                .map_err(|e| KeyError::Generate(e.to_string()))?
        }
        None => key.clone(),
    };
    let pem = stored
        .to_openssh(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    create_file(path, pem.as_bytes(), 0o600)?;
    if let Err(e) = create_file(&public_path, format!("{line}\n").as_bytes(), 0o644) {
        // Ours, just made: leave nothing half-done behind.
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(line)
}

/// The passphrase-protected key at `path`, opened with `passphrase`.
pub fn open_private(path: &Path, passphrase: Option<&str>) -> Result<PrivateKey, KeyError> {
    let text = read_small(path)?;
    let key = PrivateKey::from_openssh(&text).map_err(|_| KeyError::Format {
        path: path.to_path_buf(),
        what: match classify(&text) {
            // An agent-held key is often named by its .pub alone.
            Kind::Public(_) => "a public key; logging in needs its private key file (a key only an agent holds cannot be used here)".into(),
            Kind::Private(_) => "a private key runpod-ssh cannot read".into(),
            other => describe(&other).0,
        },
    })?;
    if !key.is_encrypted() {
        return Ok(key);
    }
    match passphrase {
        None => Err(KeyError::Encrypted(path.to_path_buf())),
        Some(p) => key
            .decrypt(p)
            .map_err(|_| KeyError::WrongPassphrase(path.to_path_buf())),
    }
}

/// Read a file that should be a key (at most 1 MiB, regular files only).
pub fn read_small(path: &Path) -> Result<Vec<u8>, KeyError> {
    crate::fsio::read_limited(path)
        .map(|c| c.bytes)
        .map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// What a file holds, judged by its content.
#[derive(Debug, Clone)]
pub enum Kind {
    /// An OpenSSH private key (public half readable even when encrypted).
    Private(Box<PrivateKey>),
    /// A public key line (`type base64 [comment]`, options allowed).
    Public(Box<PublicKey>),
    /// PuTTY's `.ppk`.
    Ppk,
    /// `-----BEGIN RSA/EC/DSA PRIVATE KEY-----` or PKCS#8.
    LegacyPem { encrypted: bool },
    /// A `.pub` body without its `ssh-ed25519 ` prefix (the type is known
    /// from the blob).
    BareBase64 { algorithm: String },
    /// A fingerprint (`SHA256:…`, `MD5:…` or hex pairs), not a key.
    Fingerprint,
    /// Nothing key-like.
    Other,
}

/// Classify a file's content.
pub fn classify(bytes: &[u8]) -> Kind {
    let text = String::from_utf8_lossy(bytes);
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return match PrivateKey::from_openssh(t) {
            Ok(k) => Kind::Private(Box::new(k)),
            Err(_) => Kind::Other,
        };
    }
    if t.starts_with("PuTTY-User-Key-File-") {
        return Kind::Ppk;
    }
    for h in [
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN EC PRIVATE KEY-----",
        "-----BEGIN DSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----",
    ] {
        if t.starts_with(h) {
            return Kind::LegacyPem {
                encrypted: t.contains("ENCRYPTED"),
            };
        }
    }
    let first = t.lines().next().unwrap_or("").trim();
    if let Some(k) = public_of_line(first) {
        return Kind::Public(Box::new(k));
    }
    if first.starts_with("AAAA") && !first.contains(' ') {
        use base64::Engine;
        if let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(first)
            && blob.len() > 4
        {
            let n = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
            if let Some(name) = blob.get(4..4 + n)
                && let Ok(name) = std::str::from_utf8(name)
            {
                return Kind::BareBase64 {
                    algorithm: name.to_string(),
                };
            }
        }
    }
    let fp = first
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:") || w.starts_with("MD5:"));
    let hexpairs = first.split(':').count() == 16
        && first
            .split(':')
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if fp.is_some() || hexpairs {
        return Kind::Fingerprint;
    }
    Kind::Other
}

/// The public key a key file holds (its `.pub` beside it when the file
/// itself says nothing): what ssh offers when a config names `path`.
pub fn public_of_file(path: &Path) -> Option<PublicKey> {
    let from = |p: &Path| match read_small(p).map(|b| classify(&b)) {
        Ok(Kind::Private(k)) => Some(k.public_key().clone()),
        Ok(Kind::Public(k)) => Some(*k),
        _ => None,
    };
    from(path).or_else(|| from(&pub_path(path)))
}

/// The public key of one `authorized_keys`/`.pub` line, options allowed.
pub fn public_of_line(line: &str) -> Option<PublicKey> {
    let l = line.trim();
    if l.is_empty() || l.starts_with('#') {
        return None;
    }
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Ok(k) = PublicKey::from_openssh(&norm(l)) {
        return Some(k);
    }
    // `options key…`: the options end at the first whitespace outside
    // quotes; `\"` is a quote inside a quoted value (sshkey.c
    // `sshkey_advance_past_options`), so it neither opens nor closes one.
    let mut quoted = false;
    let mut end = None;
    let mut chars = l.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|&(_, n)| n == '"') => {
                chars.next();
            }
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    PublicKey::from_openssh(&norm(&l[end?..])).ok()
}

/// A short problem and what to do about it, for files that only look like keys.
pub fn describe(k: &Kind) -> (String, String) {
    match k {
        Kind::Ppk => (
            "a PuTTY key (.ppk), which OpenSSH cannot read".into(),
            "convert it: PuTTYgen → Load → Conversions → Export OpenSSH key (or `puttygen KEY.ppk -O private-openssh -o ~/.ssh/id_ed25519`)".into(),
        ),
        Kind::LegacyPem { encrypted } => (
            format!(
                "a legacy PEM private key{}, which runpod-ssh cannot read (ssh can)",
                if *encrypted { " (encrypted)" } else { "" }
            ),
            "rewrite it in the OpenSSH format with `ssh-keygen -p -f PATH` (same key, same passphrase prompt), or make a new one with `runpod-ssh key new`".into(),
        ),
        Kind::BareBase64 { algorithm } => (
            format!("a public key without its type prefix (the key is {algorithm})"),
            format!("put `{algorithm} ` in front of the line, or regenerate it with `ssh-keygen -y -f PRIVATE > PATH`"),
        ),
        Kind::Fingerprint => (
            "a fingerprint, not a key: a fingerprint identifies a key but cannot be used to log in".into(),
            "use the .pub file itself (`runpod-ssh key show`) where a public key is asked for".into(),
        ),
        Kind::Other => ("not a key file OpenSSH can read".into(), String::new()),
        Kind::Private(_) | Kind::Public(_) => (String::new(), String::new()),
    }
}

/// `ssh-keygen -l`'s bit count.
pub fn bits(k: &PublicKey) -> u32 {
    use ssh_key::public::KeyData;
    match k.key_data() {
        KeyData::Rsa(r) => r.key_size(),
        KeyData::Ecdsa(e) => match e.curve() {
            EcdsaCurve::NistP256 => 256,
            EcdsaCurve::NistP384 => 384,
            EcdsaCurve::NistP521 => 521,
        },
        KeyData::SkEcdsaSha2NistP256(_) => 256,
        _ => 256,
    }
}

/// `ssh-keygen -l`'s type name (`ED25519`, `RSA`, `ECDSA`, `ED25519-SK`…).
pub fn type_name(k: &PublicKey) -> String {
    match k.algorithm() {
        Algorithm::Ed25519 => "ED25519".into(),
        Algorithm::Rsa { .. } => "RSA".into(),
        Algorithm::Ecdsa { .. } => "ECDSA".into(),
        Algorithm::SkEd25519 => "ED25519-SK".into(),
        Algorithm::SkEcdsaSha2NistP256 => "ECDSA-SK".into(),
        Algorithm::Dsa => "DSA".into(),
        a => a.as_str().to_ascii_uppercase(),
    }
}

/// `SHA256:…`, as `ssh-keygen -l` prints it.
pub fn fingerprint(k: &PublicKey) -> String {
    k.fingerprint(HashAlg::Sha256).to_string()
}

/// One key (or key-like file) as `key list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub path: PathBuf,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub bits: Option<u32>,
    pub fingerprint: Option<String>,
    pub comment: Option<String>,
    pub encrypted: Option<bool>,
    pub problems: Vec<String>,
    pub used_by: Vec<String>,
    /// On the RunPod account (`key list` with an API key), else unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
}

/// Why ssh would ignore the private key at `path` (authfile.c
/// `sshkey_perm_ok`: group/other bits on a key the user owns; a key owned
/// by someone else is not judged), or `None`.
#[cfg(unix)]
pub fn ssh_refuses_private(path: &Path) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let md = fs::metadata(path).ok()?;
    let mode = md.permissions().mode() & 0o777;
    // SAFETY: getuid cannot fail (ssh compares with the real uid).
    let mine = md.uid() == unsafe { libc::getuid() };
    (mine && mode & 0o077 != 0).then(|| {
        format!(
            "permissions {mode:04o}: ssh refuses it (\"UNPROTECTED PRIVATE KEY FILE\"); run `chmod 600 {}`",
            path.display()
        )
    })
}

/// Windows: ACLs, judged by `fix`, not here.
#[cfg(not(unix))]
pub fn ssh_refuses_private(_path: &Path) -> Option<String> {
    None
}

/// Permission problems of a private key, for `key list`.
#[cfg(unix)]
fn permission_problems(path: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out: Vec<String> = ssh_refuses_private(path).into_iter().collect();
    // SAFETY: geteuid cannot fail.
    if fs::metadata(path).is_ok_and(|md| md.uid() != unsafe { libc::geteuid() }) {
        out.push("owned by another user".into());
    }
    out
}

/// Windows: ACLs, judged by `fix`, not here.
#[cfg(not(unix))]
fn permission_problems(_path: &Path) -> Vec<String> {
    Vec::new()
}

/// Inspect one file: a private key (with its `.pub`), a lone `.pub`, or a
/// file that only looks like a key. `None` when it is nothing key-like.
pub fn inspect(path: &Path) -> Option<KeyInfo> {
    let mut info = KeyInfo {
        path: path.to_path_buf(),
        kind: None,
        bits: None,
        fingerprint: None,
        comment: None,
        encrypted: None,
        problems: Vec::new(),
        used_by: Vec::new(),
        registered: None,
    };
    let bytes = match read_small(path) {
        Ok(b) => b,
        Err(e) => {
            info.problems.push(match &e {
                KeyError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                    "missing: the config names it, but there is no such file".to_string()
                }
                _ => e.to_string(),
            });
            return Some(info);
        }
    };
    let fill = |info: &mut KeyInfo, k: &PublicKey| {
        info.kind = Some(type_name(k));
        info.bits = Some(bits(k));
        info.fingerprint = Some(fingerprint(k));
    };
    match classify(&bytes) {
        Kind::Private(k) => {
            fill(&mut info, k.public_key());
            info.encrypted = Some(k.is_encrypted());
            let c = k.comment().as_str_lossy().to_string();
            info.comment = (!c.is_empty()).then_some(c);
            info.problems.extend(permission_problems(path));
            let pubp = pub_path(path);
            match read_small(&pubp).ok().map(|b| classify(&b)) {
                Some(Kind::Public(p)) => {
                    if p.key_data() != k.public_key().key_data() {
                        info.problems.push(format!(
                            "{} does not match this private key ({}): regenerate it with `runpod-ssh key show {} > {}`",
                            pubp.display(),
                            fingerprint(&p),
                            path.display(),
                            pubp.display()
                        ));
                    } else if info.comment.is_none() {
                        let c = p.comment().as_str_lossy().to_string();
                        info.comment = (!c.is_empty()).then_some(c);
                    }
                }
                Some(other) if pubp.exists() => {
                    let (what, _) = describe(&other);
                    info.problems.push(format!("{} is {what}", pubp.display()));
                }
                _ => {}
            }
        }
        Kind::Public(p) => {
            fill(&mut info, &p);
            let c = p.comment().as_str_lossy().to_string();
            info.comment = (!c.is_empty()).then_some(c);
        }
        Kind::Other => return None,
        other => {
            let (what, todo) = describe(&other);
            info.problems.push(if todo.is_empty() {
                what
            } else {
                format!("{what}: {todo}")
            });
        }
    }
    Some(info)
}

/// The files of `dir` worth listing: key pairs (once, by the private
/// key), lone `.pub` files and key-like files. Config, known_hosts,
/// authorized_keys and our own files are skipped.
pub fn scan_dir(dir: &Path) -> Vec<KeyInfo> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    names.sort();
    let skip = |n: &str| {
        n == "config"
            || n.starts_with("known_hosts")
            || n.starts_with("authorized_keys")
            || n.starts_with("runpod-ssh")
            || n.starts_with('.')
            || n.ends_with(".lock")
    };
    let mut out = Vec::new();
    for p in &names {
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if skip(name) {
            continue;
        }
        if let Some(base) = name.strip_suffix(".pub")
            && names
                .iter()
                .any(|q| q.file_name().and_then(|n| n.to_str()) == Some(base))
            && matches!(
                read_small(&p.with_file_name(base)).map(|b| classify(&b)),
                Ok(Kind::Private(_))
            )
        {
            continue; // listed with its private key
        }
        if let Some(i) = inspect(p) {
            out.push(i);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// authorized_keys edits (computed here, applied on the server atomically)

/// `key`'s line for an `authorized_keys` file: one line whatever its
/// comment holds (a key file's comment may carry a newline and, after it,
/// another key that sshd would then accept too).
pub fn authorized_line(key: &PublicKey) -> Result<String, ssh_key::Error> {
    let mut k = key.clone();
    k.set_comment("");
    let material = k.to_openssh()?.trim().to_string();
    let comment: String = key
        .comment()
        .as_str_lossy()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let comment = comment.trim();
    Ok(if comment.is_empty() {
        material
    } else {
        format!("{material} {comment}")
    })
}

/// The line ending a file uses (CRLF when any line ends so).
fn ending(content: &[u8]) -> &'static [u8] {
    if content.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    }
}

fn lines(content: &[u8]) -> impl Iterator<Item = &[u8]> {
    content.split_inclusive(|&b| b == b'\n')
}

/// Whether the content holds a line for `key` (compared by key material,
/// never by comment).
pub fn has_key(content: &[u8], key: &PublicKey) -> bool {
    lines(content).any(|l| {
        public_of_line(&String::from_utf8_lossy(l)).is_some_and(|k| k.key_data() == key.key_data())
    })
}

/// Add `line` for `key` unless a line already holds that key. Every other
/// byte stays as it was; a last line without its newline gets one (the
/// file's own ending), then the new line follows with the same ending.
/// `None` when nothing changes.
pub fn add_key(content: &[u8], key: &PublicKey, line: &str) -> Option<Vec<u8>> {
    if has_key(content, key) {
        return None;
    }
    let end = ending(content);
    let mut out = content.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(end);
    }
    out.extend_from_slice(line.trim().as_bytes());
    out.extend_from_slice(end);
    Some(out)
}

/// Remove every line holding `key` (by key material); the other lines stay
/// byte for byte. Returns the new content and how many lines went.
pub fn remove_key(content: &[u8], key: &PublicKey) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(content.len());
    let mut n = 0;
    for l in lines(content) {
        if public_of_line(&String::from_utf8_lossy(l))
            .is_some_and(|k| k.key_data() == key.key_data())
        {
            n += 1;
        } else {
            out.extend_from_slice(l);
        }
    }
    (out, n)
}

/// POSIX `cksum` of `data` as the command prints it for stdin (`CRC LEN`):
/// the remote write compares with it that the file is still what was read
/// and that the new content arrived whole.
pub fn cksum(data: &[u8]) -> String {
    let mut crc: u32 = 0;
    let mut feed = |b: u8| {
        crc ^= (b as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    };
    for &b in data {
        feed(b);
    }
    let mut len = data.len() as u64;
    while len > 0 {
        feed((len & 0xff) as u8);
        len >>= 8;
    }
    format!("{} {}", !crc, data.len())
}

/// Read the login user's `~/.ssh/authorized_keys`: prints
/// [`READ_PRESENT`] and the content, or [`READ_MISSING`]; exit 4 for a
/// link or a non-regular file (never edited).
pub const READ_SCRIPT: &str = r#"f="$HOME/.ssh/authorized_keys"; if [ -L "$f" ]; then echo link; exit 4; elif [ -f "$f" ]; then echo runpod-ssh-authorized-keys: present; exec cat "$f"; elif [ -e "$f" ]; then echo special; exit 4; else echo runpod-ssh-authorized-keys: missing; fi"#;

/// The line [`READ_SCRIPT`] prints before the file's content.
pub const READ_PRESENT: &[u8] = b"runpod-ssh-authorized-keys: present\n";
/// The line [`READ_SCRIPT`] prints when there is no file.
pub const READ_MISSING: &[u8] = b"runpod-ssh-authorized-keys: missing\n";

/// What [`READ_SCRIPT`] printed: `Some(Some(content))`, `Some(None)` for
/// no file, `None` for an answer without its marker line. What a login
/// script printed first (a `.bashrc` banner, a title escape without a
/// newline) is skipped: were it to fake the marker, the write still checks
/// the file's real cksum.
pub fn read_answer(out: &[u8]) -> Option<Option<Vec<u8>>> {
    let mut at = 0;
    loop {
        let rest = &out[at..];
        if let Some(body) = rest.strip_prefix(READ_PRESENT) {
            return Some(Some(body.to_vec()));
        }
        if rest == READ_MISSING {
            return Some(None);
        }
        // The next place a marker may start.
        at += 1 + rest.iter().skip(1).position(|&b| b == READ_PRESENT[0])?;
    }
}

/// Replace `~/.ssh/authorized_keys` with stdin, atomically: only when the
/// file is still what was read ($1: its cksum, or `missing`; else exit 3),
/// only when stdin arrived whole ($2: its cksum; else exit 7), through a
/// temp file in the same folder and `mv`. Creates `~/.ssh` 0700 and the
/// file 0600 when missing; an existing file keeps its mode where `chmod
/// --reference` exists (GNU, busybox), else becomes 0600. A dropped
/// connection leaves the old file (and at worst a temp file the next run
/// removes).
pub const WRITE_SCRIPT: &str = r#"umask 077; d="$HOME/.ssh"; f="$d/authorized_keys"; t="$d/.authorized_keys.runpod-ssh-tmp"
rm -f "$t"
if [ ! -d "$d" ]; then mkdir -m 700 "$d" || exit 6; fi
if [ -L "$f" ]; then exit 4; fi
if [ -f "$f" ]; then c=$(cksum < "$f") || exit 5; c=$(echo $c); elif [ -e "$f" ]; then exit 4; else c=missing; fi
if [ "$c" != "$1" ]; then exit 3; fi
cat > "$t" || { rm -f "$t"; exit 5; }
n=$(cksum < "$t"); n=$(echo $n)
if [ "$n" != "$2" ]; then rm -f "$t"; exit 7; fi
if [ -f "$f" ]; then chmod --reference="$f" "$t" 2>/dev/null; fi
mv -f "$t" "$f" || { rm -f "$t"; exit 5; }"#;

/// A script as one `sh -c` command line for any login shell (the script
/// holds no single quote). Its lines are joined with `;`: csh and tcsh
/// end a quoted string at a newline (each line is a whole command).
pub fn sh_command(script: &str, args: &[&str]) -> String {
    debug_assert!(!script.contains('\''));
    let one_line = script.lines().collect::<Vec<_>>().join("; ");
    let mut c = format!("/bin/sh -c '{one_line}' runpod-ssh");
    for a in args {
        c.push_str(&format!(" '{}'", a.replace('\'', "")));
    }
    c
}

#[cfg(test)]
mod tests;
