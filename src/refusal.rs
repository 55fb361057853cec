//! "Would ssh refuse this file?": one check, aware of which ssh client reads
//! the file, used by `fix` (to report what it cannot repair) and by the
//! editing commands (to refuse editing a config ssh already refuses).
//!
//! The words are ssh's own: the evaluator's diagnostics mirror
//! `readconf.c`, and the algorithm lists below are what `ssh -Q` prints.
//! When a `fix` rule repairs what ssh refuses, the hint names the
//! `runpod-ssh fix` command line that does it.

use std::path::{Path, PathBuf};

use crate::config::resolve::Diagnostic;
use crate::config::{Context, Document, Resolved, resolve};

/// Which ssh reads the config. Only upstream OpenSSH for now; later
/// flavours (Apple's ssh with `UseKeychain`, Windows' in-box 7.7 and 8.1,
/// particular versions) become variants here, each answering the same
/// questions ([`Client::bad_value`], [`Client::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Client {
    /// Upstream OpenSSH (portable), as the evaluator models it (9.x). The
    /// algorithm lists are the union over recent releases: a false "ssh
    /// refuses this" would be worse than a missed one.
    #[default]
    OpenSsh,
}

const CIPHERS: &[&str] = &[
    "3des-cbc",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
];

const MACS: &[&str] = &[
    "hmac-sha1",
    "hmac-sha1-96",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-md5",
    "hmac-md5-96",
    "umac-64@openssh.com",
    "umac-128@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha1-96-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-md5-etm@openssh.com",
    "hmac-md5-96-etm@openssh.com",
    "umac-64-etm@openssh.com",
    "umac-128-etm@openssh.com",
];

const KEX: &[&str] = &[
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group-exchange-sha256",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
    "mlkem768x25519-sha256",
];

const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-512-cert-v01@openssh.com",
];

impl Client {
    /// The client's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Client::OpenSsh => "ssh",
        }
    }

    /// ssh's own words when this client refuses `value` for `keyword`
    /// (canonical lowercase name), for the values the evaluator keeps as
    /// written: the algorithm lists (`readconf.c`: `ciphers_valid`,
    /// `mac_valid`, `kex_names_valid`, `sshkey_names_valid2`).
    pub fn bad_value(&self, keyword: &str, value: &str) -> Option<String> {
        let (known, wildcards, words): (&[&str], bool, &str) = match keyword {
            "ciphers" => (CIPHERS, false, "Bad SSH2 cipher spec"),
            "macs" => (MACS, false, "Bad SSH2 MAC spec"),
            "kexalgorithms" => (KEX, false, "Bad SSH2 KexAlgorithms"),
            "hostkeyalgorithms"
            | "hostbasedacceptedalgorithms"
            | "pubkeyacceptedalgorithms"
            | "casignaturealgorithms" => (KEY_TYPES, true, "Bad key types"),
            _ => return None,
        };
        // `-list` removes names and is not checked; `+` and `^` are.
        if value.starts_with('-') {
            return None;
        }
        let list = value.strip_prefix(['+', '^']).unwrap_or(value);
        // strsep stops at the first empty name, as OpenSSH's loops do.
        let ok = list.split(',').take_while(|n| !n.is_empty()).all(|n| {
            known.contains(&n)
                || (wildcards
                    && n.contains(['*', '?'])
                    && known
                        .iter()
                        .any(|k| crate::config::pattern::match_pattern_list(k, n, false) != 0))
        });
        (!ok).then(|| format!("{words} '{value}'."))
    }
}

/// A host no config names: evaluating for it reads every line without
/// activating any `Host` block, which is what the whole-file check needs.
pub const UNRELATED_HOST: &str = "runpod-ssh-unrelated-host";

/// What ssh refuses in a config, in its words, each with file:line.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    pub problems: Vec<Diagnostic>,
}

impl Refusal {
    /// The problems of an evaluation that are tied to a line (the
    /// "terminating, N bad configuration options" summaries are dropped
    /// unless nothing else is left).
    pub fn from_resolved(r: &Resolved) -> Refusal {
        let lined: Vec<Diagnostic> = r
            .errors
            .iter()
            .filter(|d| d.source.line > 0)
            .cloned()
            .collect();
        let mut problems = if lined.is_empty() {
            r.errors.clone()
        } else {
            lined
        };
        problems.dedup();
        Refusal { problems }
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// The files holding a problem, each once, in order.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = Vec::new();
        for d in &self.problems {
            if !v.contains(&d.source.file) {
                v.push(d.source.file.clone());
            }
        }
        v
    }
}

/// Whether `client` refuses `doc` (read from `path`) or anything it
/// includes. Evaluated for a host no block names, so the verdict is about
/// the file, not one host.
pub fn check(client: Client, path: &Path, doc: &Document, ctx: &Context) -> Refusal {
    let _ = client; // Every flavour so far is judged by the one evaluator.
    Refusal::from_resolved(&resolve(doc, path, UNRELATED_HOST, ctx))
}

/// How much of a refusal `runpod-ssh fix` repairs in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    All,
    Some,
    None,
}

/// Whether the safe `fix` rules repair what `client` refuses in `file`
/// (read from disk; the evaluation is for `host`).
pub fn fix_repairs(client: Client, file: &Path, host: &str, ctx: &Context) -> Repair {
    let Ok(bytes) = crate::fsio::read(file).map(|s| s.content().to_vec()) else {
        return Repair::None;
    };
    let doc = Document::parse(&bytes);
    let in_file = |d: &Document| {
        Refusal::from_resolved(&resolve(d, file, host, ctx))
            .problems
            .into_iter()
            .filter(|p| p.source.file == file)
            .count()
    };
    let before = in_file(&doc);
    if before == 0 {
        return Repair::None;
    }
    let mut cx = crate::doctor::Cx {
        doc: doc.clone(),
        path: file.to_path_buf(),
        ctx,
        yes: false,
        only: Vec::new(),
        findings: Vec::new(),
        intended: Vec::new(),
        side_effects: Vec::new(),
        vscode: Vec::new(),
    };
    crate::doctor::run_all(&mut cx);
    let _ = client;
    match in_file(&cx.doc) {
        0 => Repair::All,
        n if n < before => Repair::Some,
        _ => Repair::None,
    }
}

/// The command that repairs `file`: `runpod-ssh fix`, with `--config FILE`
/// unless it is the default `~/.ssh/config`.
pub fn fix_command(file: &Path, ctx: &Context) -> String {
    let default = ctx.home.join(".ssh").join("config");
    if file == default {
        "runpod-ssh fix".into()
    } else {
        format!(
            "runpod-ssh fix --config {}",
            shell_quote(&file.display().to_string())
        )
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-~+:@%,=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The hint for a refusal: which `runpod-ssh fix` repairs which file, or
/// `None` when no rule repairs any of it.
pub fn hint(client: Client, refusal: &Refusal, host: &str, ctx: &Context) -> Option<String> {
    let mut parts = Vec::new();
    for f in refusal.files() {
        match fix_repairs(client, &f, host, ctx) {
            Repair::All => parts.push(format!("`{}` repairs this", fix_command(&f, ctx))),
            Repair::Some => parts.push(format!(
                "`{}` repairs some of it; the rest is for you",
                fix_command(&f, ctx)
            )),
            Repair::None => {}
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `file:line: words` lines, indented, for a message.
pub fn render(refusal: &Refusal) -> String {
    refusal
        .problems
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_lists_refuse_unknown_names_in_ssh_words() {
        let c = Client::OpenSsh;
        assert_eq!(
            c.bad_value("ciphers", "bogus").as_deref(),
            Some("Bad SSH2 cipher spec 'bogus'.")
        );
        assert_eq!(c.bad_value("ciphers", "+aes128-cbc,aes256-ctr"), None);
        assert_eq!(c.bad_value("ciphers", "-whatever"), None);
        assert!(c.bad_value("macs", "hmac-sha9").is_some());
        assert!(c.bad_value("kexalgorithms", "^nope").is_some());
        assert_eq!(
            c.bad_value("hostkeyalgorithms", "ssh-ed25519*,rsa-sha2-*"),
            None
        );
        assert!(c.bad_value("pubkeyacceptedalgorithms", "nokey*").is_some());
        assert_eq!(c.bad_value("user", "bogus"), None);
    }

    #[test]
    fn fix_command_names_the_file_unless_default() {
        let ctx = Context {
            local_user: "u".into(),
            home: PathBuf::from("/h"),
            user_home: PathBuf::from("/h"),
            uid: 1,
            check_include_permissions: false,
        };
        assert_eq!(
            fix_command(Path::new("/h/.ssh/config"), &ctx),
            "runpod-ssh fix"
        );
        assert_eq!(
            fix_command(Path::new("/tmp/my config"), &ctx),
            "runpod-ssh fix --config '/tmp/my config'"
        );
    }
}
