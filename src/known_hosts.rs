//! `known_hosts` files: find and remove the entries for one host name,
//! plain or hashed (`|1|salt|hash`, HMAC-SHA1), keeping every other byte.
//!
//! `@cert-authority` and `@revoked` lines are never removed: dropping a
//! revocation would weaken the user's security.

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
