//! The RunPod account's SSH public keys (`GET`/`PUT /v2/account/ssh-keys`).
//! `PUT` replaces the whole list, so every change is a read–modify–write,
//! deduplicated by key material (type and base64, never the comment), and
//! verified by reading the list back: a key that was there before and is
//! missing afterwards is reported, never silently lost. Pods get the
//! account's keys only when they start.

use crate::api::{ApiError, Client};

/// Errors changing the account's keys.
#[derive(Debug, thiserror::Error)]
pub enum AccountKeyError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    NotAPublicKey(String),
    #[error(
        "the account's key list read back after the update is not what was written: {0}. Check RunPod → Settings → SSH Public Keys"
    )]
    Verify(String),
}

/// `type base64` of an authorized_keys-style line, when it parses as an
/// OpenSSH public key.
pub fn material(line: &str) -> Option<String> {
    let mut w = line.split_whitespace();
    let (kind, data) = (w.next()?, w.next()?);
    ssh_key::PublicKey::from_openssh(&format!("{kind} {data}")).ok()?;
    Some(format!("{kind} {data}"))
}

/// The line to register for a `.pub` file's text, or why it is not one
/// (a private key, a PuTTY or RFC 4716 file, a bare fingerprint, …).
pub fn public_line(text: &str) -> Result<String, AccountKeyError> {
    let t = text.trim_start_matches('\u{feff}').trim();
    let bad = |why: &str| Err(AccountKeyError::NotAPublicKey(why.to_string()));
    if t.contains("PRIVATE KEY") || t.starts_with("PuTTY-User-Key-File") {
        return bad("this is a PRIVATE key: never upload it. Register the .pub file beside it");
    }
    if t.starts_with("---- BEGIN SSH2 PUBLIC KEY") {
        return bad(
            "this is a PuTTY/RFC 4716 public key: convert it with `ssh-keygen -i -f FILE` (or PuTTYgen → \"Public key for pasting into OpenSSH authorized_keys\")",
        );
    }
    if t.starts_with("SHA256:") || t.starts_with("MD5:") {
        return bad("this is a fingerprint, not a key: register the whole .pub line");
    }
    let line = t.lines().next().unwrap_or_default().trim();
    if t.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
        return bad("the file holds more than one line: give one public key");
    }
    if material(line).is_none() {
        return bad("not an OpenSSH public key line (`ssh-ed25519 AAAA… comment`)");
    }
    // RunPod's own pattern for an entry.
    let ok_prefix = ["ssh-", "ecdsa-", "sk-"]
        .iter()
        .any(|p| line.starts_with(p));
    if !ok_prefix || line.contains(['\r', '\n']) {
        return bad("RunPod accepts ssh-*, ecdsa-* and sk-* keys only");
    }
    Ok(line.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// What [`push`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pushed {
    /// The key was not on the account and now is.
    pub added: bool,
    /// Keys on the account afterwards.
    pub total: usize,
}

/// Register `line` on the account, keeping every key already there.
pub fn push(client: &Client, line: &str) -> Result<Pushed, AccountKeyError> {
    let line = public_line(line)?;
    let want = material(&line).unwrap_or_default();
    let before = client.ssh_keys()?;
    if before
        .iter()
        .any(|k| material(k).as_deref() == Some(want.as_str()))
    {
        return Ok(Pushed {
            added: false,
            total: before.len(),
        });
    }
    let mut next = before.clone();
    next.push(line);
    client.put_ssh_keys(&next)?;
    let after = client.ssh_keys()?;
    verify(&before, &after, Some(&want), None)?;
    Ok(Pushed {
        added: true,
        total: after.len(),
    })
}

/// Remove the key with this material from the account, keeping the others.
/// Returns whether it was there.
pub fn remove(client: &Client, line: &str) -> Result<bool, AccountKeyError> {
    let Some(gone) = material(line) else {
        return Err(AccountKeyError::NotAPublicKey(
            "not an OpenSSH public key line".into(),
        ));
    };
    let before = client.ssh_keys()?;
    let next: Vec<String> = before
        .iter()
        .filter(|k| material(k).as_deref() != Some(gone.as_str()))
        .cloned()
        .collect();
    if next.len() == before.len() {
        return Ok(false);
    }
    client.put_ssh_keys(&next)?;
    let after = client.ssh_keys()?;
    let kept: Vec<String> = next.clone();
    verify(&kept, &after, None, Some(&gone))?;
    Ok(true)
}

/// The key materials registered on the account.
pub fn registered(client: &Client) -> Result<Vec<String>, AccountKeyError> {
    Ok(client
        .ssh_keys()?
        .iter()
        .filter_map(|k| material(k))
        .collect())
}

fn verify(
    kept: &[String],
    after: &[String],
    added: Option<&str>,
    removed: Option<&str>,
) -> Result<(), AccountKeyError> {
    let have: Vec<String> = after.iter().filter_map(|k| material(k)).collect();
    let lost: Vec<String> = kept
        .iter()
        .filter_map(|k| material(k))
        .filter(|m| Some(m.as_str()) != removed && !have.contains(m))
        .collect();
    if !lost.is_empty() {
        return Err(AccountKeyError::Verify(format!(
            "{} earlier key(s) are missing ({})",
            lost.len(),
            lost.iter()
                .map(|m| m.chars().take(40).collect::<String>() + "…")
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some(a) = added
        && !have.iter().any(|m| m == a)
    {
        return Err(AccountKeyError::Verify("the new key is not there".into()));
    }
    if let Some(r) = removed
        && have.iter().any(|m| m == r)
    {
        return Err(AccountKeyError::Verify(
            "the removed key is still there".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMKJmzwNgmaKc5AZ6g0h9lqs4j2Xpv0cC0gYRKh3ZnY8";

    #[test]
    fn only_one_openssh_public_key_line_is_accepted() {
        assert_eq!(
            public_line(&format!("{ED}  me@laptop\n")).unwrap(),
            format!("{ED} me@laptop")
        );
        for bad in [
            "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n",
            "PuTTY-User-Key-File-3: ssh-ed25519\n",
            "---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----\n",
            "SHA256:abcdef",
            "AAAAC3NzaC1lZDI1NTE5AAAAIMKJmzwNgmaKc5AZ6g0h9lqs4j2Xpv0cC0gYRKh3ZnY8",
            "",
        ] {
            assert!(public_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn material_ignores_comments() {
        assert_eq!(material(&format!("{ED} a")), material(&format!("{ED} b")));
        assert_eq!(material("ssh-ed25519 notbase64"), None);
    }
}
