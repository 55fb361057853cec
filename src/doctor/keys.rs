//! Key and permission rules: `IdentityFile` lines of RunPod entries that
//! name a public key or nothing, private keys an editor re-encoded (F18:
//! UTF-16, byte-order mark, CRLF, no final newline; rewritten as a
//! [`SideEffect::RewriteKey`]), private keys others can read, and a
//! config others can write. Files are only looked at without following a
//! final symlink; permission repairs are [`SideEffect::Chmod`]s on Unix
//! and [`SideEffect::OwnerOnlyAcl`]s on Windows (F16/F17: the security
//! descriptor read as OpenSSH for Windows judges it), applied at write
//! time (never through a link, only on files the user owns).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::config::document::portable_path;
use crate::hash::Fx;
use crate::runpod;

use super::{Auto, ChmodCheck, Cx, Finding, Meta, Rule, Severity, SideEffect};

/// The identity file lines of RunPod entries in scope: (line, value).
/// Listed again only when the document changed since the last call: four
/// rules in a row read them (each listing walks every block).
pub(super) fn runpod_identity_lines(cx: &mut Cx) -> std::sync::Arc<Vec<(usize, String)>> {
    if let Some(lines) = &cx.memo.of(&cx.doc).identity_lines {
        return lines.clone();
    }
    let mut out = Vec::new();
    for b in cx.blocks().iter() {
        if !runpod::is_runpod_block(&cx.doc, b) || !cx.in_scope(&b.patterns) {
            continue;
        }
        for li in cx.doc.option_line_iter(b, "identityfile") {
            if let Some(v) = super::first_value(&cx.doc.lines()[li]) {
                out.push((li, v.to_string()));
            }
        }
    }
    let out = std::sync::Arc::new(out);
    cx.memo.of(&cx.doc).identity_lines = Some(out.clone());
    out
}

pub(super) struct IdentityPub;
impl Rule for IdentityPub {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "identity-pub",
            title: "IdentityFile points at the public key (.pub): ssh cannot log in with it",
            repair: "point at the private key beside it",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        for i in 0..cx.doc.lines().len() {
            let line = &cx.doc.lines()[i];
            if line.keyword() != Some("identityfile") {
                continue;
            }
            let Some(v) = line.values().first().map(|s| s.to_string()) else {
                continue;
            };
            let Some(private) = v.strip_suffix(".pub") else {
                continue;
            };
            let exists = cx.ctx.home_path(private).is_file();
            let n = cx.line_no(i);
            if exists
                && let Some(rendered) = crate::config::lexer::render_value(&portable_path(private))
            {
                cx.intend(i, "identityfile");
                cx.doc.replace_value(i, &rendered);
                cx.fixed(self, n, Severity::Error);
            } else {
                cx.report(
                    self,
                    n,
                    Severity::Error,
                    format!("{} ({private} does not exist either)", self.title()),
                    "create a key pair with `ssh-keygen -t ed25519` and point IdentityFile at the private key".into(),
                    false,
                );
            }
        }
    }
}

pub(super) struct IdentityMissing;
impl Rule for IdentityMissing {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "identity-missing",
            title: "IdentityFile does not exist: ssh skips it silently and the login fails",
            repair: "create the key (`ssh-keygen -t ed25519 -f PATH`) and add its .pub in RunPod → Settings → SSH Public Keys, or point IdentityFile at the key you use",
            auto: Auto::Manual,
        }
    }
    fn run(&self, cx: &mut Cx) {
        // Each value is looked up once: entries often share a key file.
        // Keys borrowed from the listing, hashed fast: one look-up per line.
        let lines = runpod_identity_lines(cx);
        let mut known: HashMap<&str, Option<String>, Fx> = HashMap::default();
        for &(li, ref v) in lines.iter() {
            if v.ends_with(".pub") || v.contains('%') || v.eq_ignore_ascii_case("none") {
                continue;
            }
            let message = match known.get(v.as_str()) {
                Some(m) => m.clone(),
                None => {
                    let m = self.problem(cx, v);
                    known.insert(v, m.clone());
                    m
                }
            };
            let Some(message) = message else { continue };
            let n = cx.line_no(li);
            cx.report(
                self,
                n,
                Severity::Error,
                message,
                self.repair_text().into(),
                false,
            );
        }
    }
}

impl IdentityMissing {
    /// What is wrong with IdentityFile `v` (`None`: a file ssh can open).
    fn problem(&self, cx: &Cx, v: &str) -> Option<String> {
        let p = cx.ctx.home_path(v);
        match std::fs::metadata(&p) {
            Ok(md) => crate::fsio::special_kind(&md).map(|kind| {
                // It exists: say what it is rather than "missing".
                format!(
                    "IdentityFile {v}: {} is {kind}, not a private key: ssh cannot load it and the login fails",
                    p.display()
                )
            }),
            Err(_) => Some(format!("{}: {v}", self.title())),
        }
    }
}

/// What the permission rules need to know of a path, read without
/// following a final symlink (or, with `follow`, of what it points to).
#[derive(Clone, Copy)]
struct Stat {
    link: bool,
    regular: bool,
    mode: u32,
    /// Owned by the user running us.
    owned: bool,
}

#[cfg(unix)]
fn stat(p: &Path, follow: bool) -> Option<Stat> {
    use std::os::unix::fs::MetadataExt;
    let md = if follow {
        std::fs::metadata(p)
    } else {
        std::fs::symlink_metadata(p)
    }
    .ok()?;
    Some(Stat {
        link: md.file_type().is_symlink(),
        regular: md.file_type().is_file(),
        mode: md.mode() & 0o777,
        // SAFETY: geteuid cannot fail.
        owned: md.uid() == unsafe { libc::geteuid() },
    })
}

#[cfg(not(unix))]
fn stat(_p: &Path, _follow: bool) -> Option<Stat> {
    None
}

/// The start of a regular file (never a FIFO or device: those could block
/// or never end), without following a final symlink.
pub(super) fn read_head(p: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let f = o.open(p).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut b = Vec::new();
    f.take(limit).read_to_end(&mut b).ok()?;
    Some(b)
}

/// Whether `bytes` is a private key ssh can load: the OpenSSH format
/// (encrypted too: only its envelope is parsed) or legacy PEM
/// (`-----BEGIN [RSA |DSA |EC |ENCRYPTED ]PRIVATE KEY-----`).
pub fn is_private_key(bytes: &[u8]) -> bool {
    let Ok(t) = std::str::from_utf8(bytes) else {
        return false;
    };
    let t = t.trim_start_matches('\u{feff}').trim();
    if t.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return ssh_key::PrivateKey::from_openssh(t.replace("\r\n", "\n")).is_ok();
    }
    let mut lines = t.lines().map(str::trim_end);
    let Some(kind) = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("PRIVATE KEY-----"))
    else {
        return false;
    };
    if !["", "RSA ", "DSA ", "EC ", "ENCRYPTED "].contains(&kind) {
        return false;
    }
    let body: Vec<&str> = lines.collect();
    let Some((last, body)) = body.split_last() else {
        return false;
    };
    *last == format!("-----END {kind}PRIVATE KEY-----")
        && body.iter().any(|l| !l.is_empty() && !l.contains(':'))
        && body.iter().all(|l| {
            l.contains(':')
                || l.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        })
}

/// Whether `bytes` is a public key (an `IdentityFile` may name one to pick
/// an agent key): not ours to chmod or complain about.
fn is_public_key(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| t.lines().find(|l| !l.trim().is_empty()))
        .is_some_and(|l| ssh_key::PublicKey::from_openssh(l.trim()).is_ok())
}

/// The icacls commands that give `path` to its owner alone (Windows).
pub fn icacls_commands(path: &str) -> String {
    format!(
        "icacls \"{path}\" /inheritance:r && icacls \"{path}\" /grant:r \"%USERNAME%\":F && icacls \"{path}\" /remove:g \"Authenticated Users\" BUILTIN\\Users Everyone"
    )
}

/// What an editor (Notepad) did to a private key, undone by
/// [`normalise_key`]: the names, in the order they are undone.
pub fn key_mangling(bytes: &[u8]) -> Vec<&'static str> {
    normalise_key(bytes).map(|(_, m)| m).unwrap_or_default()
}

/// A private key saved by Notepad (F18): UTF-16 (with its byte-order
/// mark), a UTF-8 byte-order mark, CRLF line ends, no final newline.
/// Git's ssh and Win32 9.5 refuse such a key ("invalid format", "error in
/// libcrypto"). Returns the key as ASCII with LF and a final newline, and
/// what was undone; `None` when there is nothing to undo or the result
/// would not be a private key ssh loads (then it is not ours to touch:
/// the content must be exactly the key, only its encoding changes).
pub fn normalise_key(bytes: &[u8]) -> Option<(Vec<u8>, Vec<&'static str>)> {
    let mut undone = Vec::new();
    let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        undone.push("UTF-16");
        utf16_text(rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        undone.push("UTF-16");
        utf16_text(rest, u16::from_be_bytes)?
    } else {
        String::from_utf8(bytes.to_vec()).ok()?
    };
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            if undone.is_empty() {
                undone.push("byte-order mark");
            }
            rest.to_string()
        }
        None => text,
    };
    if !text.is_ascii() {
        return None;
    }
    let mut text = if text.contains("\r\n") {
        undone.push("CRLF");
        text.replace("\r\n", "\n")
    } else {
        text
    };
    // CRs left over: `\r\r\n` (line ends converted twice) or CR alone (old
    // Mac). ssh refuses either ("error in libcrypto"); in a key a CR is
    // never content, so each run of them before a LF, or alone, is a LF.
    if text.contains('\r') {
        undone.push("CR line ends");
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\r' {
                out.push(c);
                continue;
            }
            while chars.next_if_eq(&'\r').is_some() {}
            chars.next_if_eq(&'\n');
            out.push('\n');
        }
        text = out;
    }
    if !text.is_empty() && !text.ends_with('\n') {
        undone.push("no final newline");
        text.push('\n');
    }
    if undone.is_empty() || !is_private_key(text.as_bytes()) {
        return None;
    }
    Some((text.into_bytes(), undone))
}

fn utf16_text(b: &[u8], unit: fn([u8; 2]) -> u16) -> Option<String> {
    if !b.len().is_multiple_of(2) {
        return None;
    }
    String::from_utf16(
        &b.chunks_exact(2)
            .map(|c| unit([c[0], c[1]]))
            .collect::<Vec<_>>(),
    )
    .ok()
}

/// A regular file at `p`, not reached through a final symlink (portable:
/// the permission rules' [`stat`] is Unix-only).
pub(super) fn regular_not_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
}

pub(super) struct KeyFormat;
impl Rule for KeyFormat {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "key-format",
            title: "private key saved by an editor (UTF-16, byte-order mark, CRLF or no final newline): Git's ssh and Windows' 9.5 refuse it (invalid format / error in libcrypto)",
            repair: "rewrite it as ASCII with LF line ends and a final newline (the key itself unchanged; backed up; its permissions kept)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        // Each path is looked at once (reported at its first line); a value
        // seen before names a path seen before.
        let lines = runpod_identity_lines(cx);
        let mut values: HashSet<&str, Fx> = HashSet::default();
        let mut seen = HashSet::new();
        for &(li, ref v) in lines.iter() {
            if !values.insert(v.as_str()) {
                continue;
            }
            let p = cx.ctx.home_path(v);
            // A link may point at any file: never rewritten through it.
            if !seen.insert(p.clone()) || !regular_not_link(&p) {
                continue;
            }
            let Some(old) = read_head(&p, 1 << 20) else {
                continue;
            };
            let Some((new, undone)) = normalise_key(&old) else {
                continue;
            };
            let n = cx.line_no(li);
            cx.side_effects.push(SideEffect::RewriteKey {
                path: p.clone(),
                old,
                new,
                finding: cx.findings.len(),
            });
            cx.report(
                self,
                n,
                Severity::Error,
                format!("{} ({}: {})", self.title(), p.display(), undone.join(", ")),
                self.repair_text().into(),
                true,
            );
        }
    }
}

/// Windows (F16/F17): what OpenSSH for Windows refuses in the owner and
/// DACL of `p`, as a finding with an owner-only repair (read back when
/// applied). Elsewhere, and when the descriptor cannot be read, nothing.
fn windows_acl(cx: &mut Cx, rule: &dyn Rule, p: &Path, line: Option<usize>) {
    if let Some((d, me)) = acl_of(p) {
        acl_finding(cx, rule, p, line, &d, &me);
    }
}

/// The finding for `p`'s descriptor `d` (`me`: the user's SID): repaired
/// only when [`crate::winacl::may_repair`] allows (the user's or
/// Administrators' file), else the commands for its owner.
fn acl_finding(
    cx: &mut Cx,
    rule: &dyn Rule,
    p: &Path,
    line: Option<usize>,
    d: &crate::winacl::Descriptor,
    me: &str,
) {
    let problems = crate::winacl::problems(d, me);
    if problems.is_empty() {
        return;
    }
    let shown = p.display().to_string();
    if !crate::winacl::may_repair(d, me) {
        cx.findings.push(Finding {
            rule: rule.id(),
            file: cx.path.clone(),
            line,
            severity: Severity::Error,
            message: format!(
                "{} ({shown}: {}; it belongs to another account, {}: its ACL was left alone)",
                rule.title(),
                problems.join("; "),
                crate::winacl::well_known_name(&d.owner).unwrap_or(&d.owner)
            ),
            repair: format!(
                "if it is yours, in PowerShell as Administrator: takeown /F \"{shown}\" ; then {}",
                icacls_commands(&shown)
            ),
            auto: Auto::Manual,
            applied: false,
        });
        return;
    }
    cx.side_effects.push(SideEffect::OwnerOnlyAcl {
        path: p.to_path_buf(),
        finding: cx.findings.len(),
    });
    cx.report(
        rule,
        line,
        Severity::Error,
        format!("{} ({shown}: {})", rule.title(), problems.join("; ")),
        format!(
            "owner-only ACL: you, SYSTEM and Administrators, inheritance off (by hand: {})",
            icacls_commands(&shown)
        ),
        true,
    );
}

/// The descriptor of a regular file `p` (not a link) and the user's SID.
#[cfg(windows)]
fn acl_of(p: &Path) -> Option<(crate::winacl::Descriptor, String)> {
    if !regular_not_link(p) {
        return None;
    }
    let me = crate::winacl::current_user_sid().ok()?;
    let d = crate::winacl::read(p).ok()?;
    Some((d, me))
}

#[cfg(not(windows))]
fn acl_of(_p: &Path) -> Option<(crate::winacl::Descriptor, String)> {
    None
}

pub(super) struct KeyPermissions;
impl Rule for KeyPermissions {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "key-permissions",
            title: "private key readable by others: ssh ignores it (UNPROTECTED PRIVATE KEY FILE)",
            repair: "chmod 600 (on Windows: owner-only ACL, inheritance off)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cfg!(windows) {
            // The key's DACL, judged as OpenSSH for Windows judges it.
            for &(li, ref v) in runpod_identity_lines(cx).iter() {
                let p = cx.ctx.home_path(v);
                let key = read_head(&p, 1 << 20)
                    .map(|h| normalise_key(&h).map_or(h, |(n, _)| n))
                    .is_some_and(|h| is_private_key(&h));
                if key {
                    let n = cx.line_no(li);
                    windows_acl(cx, self, &p, n);
                }
            }
            return;
        }
        // Each value is looked up and each file read once: entries often
        // share a key file.
        let lines = runpod_identity_lines(cx);
        let mut stats: HashMap<&str, (PathBuf, Option<Stat>), Fx> = HashMap::default();
        let mut heads: HashMap<PathBuf, Option<Vec<u8>>> = HashMap::new();
        for &(li, ref v) in lines.iter() {
            let (p, st) = stats
                .entry(v.as_str())
                .or_insert_with(|| {
                    let p = cx.ctx.home_path(v);
                    let st = stat(&p, false);
                    (p, st)
                })
                .clone();
            // A missing file is identity-missing's business.
            let Some(st) = st else { continue };
            let n = cx.line_no(li);
            let manual = |cx: &mut Cx, message: String, repair: String| {
                cx.findings.push(Finding {
                    rule: self.id(),
                    file: cx.path.clone(),
                    line: n,
                    severity: Severity::Error,
                    message,
                    repair,
                    auto: Auto::Manual,
                    applied: false,
                });
            };
            if st.link {
                // ssh follows the link and checks the target; we never
                // chmod through a link (it may point at any file).
                let Some(t) = stat(&p, true) else { continue };
                let target = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
                let key = read_head(&target, 1 << 20).is_some_and(|b| is_private_key(&b));
                if t.regular && t.owned && key && t.mode & 0o077 != 0 {
                    manual(
                        cx,
                        format!(
                            "{} ({} is a symbolic link to {}, mode {:o}): runpod-ssh does not change permissions through a symbolic link",
                            self.title(),
                            p.display(),
                            target.display(),
                            t.mode
                        ),
                        format!("chmod 600 {}", target.display()),
                    );
                }
                continue;
            }
            if !st.regular {
                // identity-missing says what it is (a folder, a device).
                continue;
            }
            let head = heads.entry(p.clone()).or_insert_with(|| {
                // A Notepad-mangled key is judged as key-format leaves it.
                read_head(&p, 1 << 20).map(|h| normalise_key(&h).map_or(h, |(n, _)| n))
            });
            let Some(head) = head.as_deref() else {
                manual(
                    cx,
                    format!("{v}: not a private key ({} cannot be read)", p.display()),
                    "point IdentityFile at your private key".into(),
                );
                continue;
            };
            if is_public_key(head) {
                continue;
            }
            if !is_private_key(head) {
                manual(
                    cx,
                    format!(
                        "{v}: not a private key ({} is no key format ssh reads); its permissions were left alone",
                        p.display()
                    ),
                    "point IdentityFile at your private key".into(),
                );
                continue;
            }
            // ssh only checks the permissions of keys the user owns.
            if !st.owned || st.mode & 0o077 == 0 {
                continue;
            }
            cx.side_effects.push(SideEffect::Chmod {
                path: p.clone(),
                mode: 0o600,
                finding: cx.findings.len(),
                check: ChmodCheck::PrivateKey,
            });
            cx.report(
                self,
                n,
                Severity::Error,
                format!("{} ({}: mode {:o})", self.title(), p.display(), st.mode),
                format!(
                    "chmod 600 {} (Windows: {})",
                    p.display(),
                    icacls_commands(v)
                ),
                true,
            );
        }
    }
}

pub(super) struct ConfigPermissions;
impl Rule for ConfigPermissions {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "config-permissions",
            title: "config writable by others: ssh refuses it (Bad owner or permissions)",
            repair: "chmod 600 (on Windows: owner-only ACL, inheritance off)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cfg!(windows) {
            let p = cx.path.clone();
            windows_acl(cx, self, &p, None);
            return;
        }
        let Some(st) = stat(&cx.path, false) else {
            return;
        };
        let path = cx.path.display().to_string();
        if st.link {
            // ssh checks the file the link points to; we never chmod
            // through a link.
            let Some(t) = stat(&cx.path, true) else {
                return;
            };
            if t.regular && t.mode & 0o022 != 0 {
                let target = std::fs::canonicalize(&cx.path).unwrap_or_else(|_| cx.path.clone());
                cx.findings.push(Finding {
                    rule: self.id(),
                    file: cx.path.clone(),
                    line: None,
                    severity: Severity::Error,
                    message: format!(
                        "{} ({path} is a symbolic link to {}, mode {:o}): runpod-ssh does not change permissions through a symbolic link",
                        self.title(),
                        target.display(),
                        t.mode
                    ),
                    repair: format!("chmod 600 {}", target.display()),
                    auto: Auto::Manual,
                    applied: false,
                });
            }
            return;
        }
        // A device such as /dev/null reads as an empty config: nothing to chmod.
        if !st.regular || st.mode & 0o022 == 0 {
            return;
        }
        if !st.owned {
            cx.findings.push(Finding {
                rule: self.id(),
                file: cx.path.clone(),
                line: None,
                severity: Severity::Error,
                message: format!(
                    "{} (mode {:o}, and it belongs to another user: its permissions were left alone)",
                    self.title(),
                    st.mode
                ),
                repair: format!("have its owner run chmod 600 {path}"),
                auto: Auto::Manual,
                applied: false,
            });
            return;
        }
        cx.side_effects.push(SideEffect::Chmod {
            path: cx.path.clone(),
            mode: 0o600,
            finding: cx.findings.len(),
            check: ChmodCheck::Config,
        });
        cx.report(
            self,
            None,
            Severity::Error,
            format!("{} (mode {:o})", self.title(), st.mode),
            format!("chmod 600 {path} (Windows: {})", icacls_commands(&path)),
            true,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real key, each Notepad mangling alone and all together: the
    /// result is the key byte for byte as written with LF; a clean key, a
    /// public key and non-key text are never touched.
    #[test]
    fn notepad_mangled_keys_are_normalised_and_nothing_else_is() {
        let key = crate::keys::generate(crate::keys::KeyType::Ed25519, "t").unwrap();
        let clean = key.to_openssh(ssh_key::LineEnding::LF).unwrap().to_string();
        let crlf = clean.replace('\n', "\r\n");
        let utf16 = |t: &str| -> Vec<u8> {
            [0xFF, 0xFE]
                .into_iter()
                .chain(t.encode_utf16().flat_map(u16::to_le_bytes))
                .collect()
        };
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(clean.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        let cases: Vec<(Vec<u8>, &[&str])> = vec![
            (crlf.clone().into_bytes(), &["CRLF"]),
            (
                [&b"\xEF\xBB\xBF"[..], clean.as_bytes()].concat(),
                &["byte-order mark"],
            ),
            (clean.trim_end().as_bytes().to_vec(), &["no final newline"]),
            (utf16(&clean), &["UTF-16"]),
            (utf16be, &["UTF-16"]),
            (
                utf16(crlf.trim_end()),
                &["UTF-16", "CRLF", "no final newline"],
            ),
        ];
        for (bytes, want) in cases {
            let (got, undone) = normalise_key(&bytes).expect("normalised");
            assert_eq!(String::from_utf8(got).unwrap(), clean, "{want:?}");
            assert_eq!(undone, want);
        }
        assert!(
            normalise_key(clean.as_bytes()).is_none(),
            "clean key touched"
        );
        let public = key.public_key().to_openssh().unwrap();
        assert!(normalise_key(public.as_bytes()).is_none());
        assert!(normalise_key(b"not a key\r\n").is_none());
        // A key with one changed character is not a key: left alone.
        let broken = crlf.replacen("b3BlbnNzaC1rZXk", "b3BlbnNzaC1rZXX", 1);
        assert!(normalise_key(broken.as_bytes()).is_none());
    }

    /// Hostile review: `\r\r\n` (line ends converted twice) and CR alone
    /// (old Mac) were "repaired" with CRs left in, a key ssh still refuses
    /// ("error in libcrypto", ssh-keygen -y 9.2) while fix said fixed.
    #[test]
    fn key_format_leaves_no_cr_that_ssh_refuses() {
        let key = crate::keys::generate(crate::keys::KeyType::Ed25519, "t").unwrap();
        let clean = key.to_openssh(ssh_key::LineEnding::LF).unwrap().to_string();
        for (mangled, want) in [
            (clean.replace('\n', "\r\r\n"), &["CRLF", "CR line ends"][..]),
            (clean.replace('\n', "\r"), &["CR line ends"][..]),
        ] {
            let (got, undone) = normalise_key(mangled.as_bytes()).expect("normalised");
            assert_eq!(String::from_utf8(got).unwrap(), clean, "{want:?}");
            assert_eq!(undone, want);
        }
    }

    /// Hostile review: a key or config owned by another account was given
    /// to the user (owner changed, that account cut out). Now it is
    /// reported with the commands, never repaired; the user's own is.
    #[test]
    fn windows_acl_of_a_file_another_account_owns_is_reported_not_repaired() {
        use crate::winacl::{Ace, Descriptor};
        const ME: &str = "S-1-5-21-1-2-3-1001";
        let home = tempfile::tempdir().unwrap();
        let ctx = crate::config::Context {
            home: home.path().to_path_buf(),
            user_home: home.path().to_path_buf(),
            ..crate::config::Context::current()
        };
        let path = home.path().join(".ssh/config");
        let open = |owner: &str| Descriptor {
            owner: owner.into(),
            protected: false,
            aces: vec![Ace {
                sid: "S-1-5-11".into(),
                allow: true,
                mask: crate::winacl::FULL,
                inherited: true,
            }],
        };
        let run = |d: &Descriptor| {
            let mut cx = Cx::new(crate::config::Document::parse(b""), &path, &ctx);
            acl_finding(&mut cx, &ConfigPermissions, &path, None, d, ME);
            (cx.findings, cx.side_effects.len())
        };
        let (f, effects) = run(&open("S-1-5-21-1-2-3-1002"));
        assert_eq!((f.len(), effects), (1, 0), "{f:?}");
        assert!(f[0].auto == Auto::Manual && !f[0].applied, "{f:?}");
        assert!(f[0].message.contains("another account"), "{}", f[0].message);
        assert!(f[0].repair.contains("icacls"), "{}", f[0].repair);
        let (f, effects) = run(&open(ME));
        assert_eq!((f.len(), effects), (1, 1), "{f:?}");
        assert!(f[0].applied, "{f:?}");
    }
}
