//! `HostKeyAlgorithms`, `KexAlgorithms`, `Ciphers` and `MACs` as ssh
//! assembles them (kex.c `kex_assemble_names`): a list replaces the
//! default, `+` appends to it, `-` removes from it, `^` puts first; each
//! entry may be a wildcard pattern, expanded against the supported names.
//! The probe offers only what the config allows, so it never accepts a
//! host key type ssh would not.

use crate::ssh_client;
use serde::Serialize;

use crate::config::pattern::match_pattern;
use crate::config::resolve::Resolved;

/// The plain host key types the native client verifies (no certificates:
/// they are never advertised).
const HOST_KEY_TYPES: &[ssh_key::Algorithm] = &[
    ssh_key::Algorithm::Ed25519,
    ssh_key::Algorithm::Ecdsa {
        curve: ssh_key::EcdsaCurve::NistP256,
    },
    ssh_key::Algorithm::Ecdsa {
        curve: ssh_key::EcdsaCurve::NistP384,
    },
    ssh_key::Algorithm::Ecdsa {
        curve: ssh_key::EcdsaCurve::NistP521,
    },
    ssh_key::Algorithm::Rsa {
        hash: Some(ssh_key::HashAlg::Sha512),
    },
    ssh_key::Algorithm::Rsa {
        hash: Some(ssh_key::HashAlg::Sha256),
    },
    ssh_key::Algorithm::Rsa { hash: None },
    ssh_key::Algorithm::Dsa,
];

/// What the config allows, per category; `None` = not configured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Allowed {
    pub host_key: Option<Vec<String>>,
    pub kex: Option<Vec<String>>,
    pub cipher: Option<Vec<String>>,
    pub mac: Option<Vec<String>>,
}

/// `value` assembled over `default` and `all`, in ssh's order.
pub fn assemble(value: &str, default: &[String], all: &[String]) -> Vec<String> {
    let list = |s: &str| -> Vec<String> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    let tmp: Vec<String> = match value.chars().next() {
        Some('+') => default.iter().cloned().chain(list(&value[1..])).collect(),
        Some('-') => {
            let deny = list(&value[1..]);
            default
                .iter()
                .filter(|d| !deny.iter().any(|p| match_pattern(d, p)))
                .cloned()
                .collect()
        }
        Some('^') => list(&value[1..])
            .into_iter()
            .chain(default.iter().cloned())
            .collect(),
        _ => list(value),
    };
    let mut out: Vec<String> = Vec::new();
    for pat in &tmp {
        for name in all {
            if match_pattern(name, pat) && !out.contains(name) {
                out.push(name.clone());
            }
        }
    }
    out
}

/// The allowed lists for the evaluated host, against what the native
/// client supports. `Err` when a configured list leaves nothing.
pub fn allowed(r: &Resolved) -> Result<Allowed, String> {
    let d = ssh_client::Preferred::DEFAULT;
    let names = |v: Vec<&str>| -> Vec<String> { v.into_iter().map(str::to_string).collect() };
    let one =
        |kw: &str, default: Vec<String>, all: Vec<String>| -> Result<Option<Vec<String>>, String> {
            let Some(s) = r.get(kw) else { return Ok(None) };
            let got = assemble(&s.args[0], &default, &all);
            if got.is_empty() {
                return Err(format!(
                    "{}: {} {} leaves no algorithm runpod-ssh's client supports",
                    s.source, s.keyword, s.args[0]
                ));
            }
            Ok(Some(got))
        };
    Ok(Allowed {
        host_key: one(
            "hostkeyalgorithms",
            names(d.key.iter().map(|a| a.as_str()).collect()),
            names(HOST_KEY_TYPES.iter().map(|a| a.as_str()).collect()),
        )?,
        kex: one(
            "kexalgorithms",
            names(d.kex.iter().map(|n| n.as_ref()).collect()),
            names(
                ssh_client::kex::ALL_KEX_ALGORITHMS
                    .iter()
                    .map(|n| n.as_ref())
                    .collect(),
            ),
        )?,
        cipher: one(
            "ciphers",
            names(d.cipher.iter().map(|n| n.as_ref()).collect()),
            names(
                ssh_client::cipher::ALL_CIPHERS
                    .iter()
                    .map(|n| n.as_ref())
                    .collect(),
            ),
        )?,
        mac: one(
            "macs",
            names(d.mac.iter().map(|n| n.as_ref()).collect()),
            names(
                ssh_client::mac::ALL_MAC_ALGORITHMS
                    .iter()
                    .map(|n| n.as_ref())
                    .collect(),
            ),
        )?,
    })
}

impl Allowed {
    /// russh's preferences restricted to what the config allows, keeping
    /// `hostkeys` (already ordered known-types-first) in that order.
    pub fn preferred(&self, hostkeys: Vec<ssh_key::Algorithm>) -> ssh_client::Preferred {
        let d = ssh_client::Preferred::DEFAULT;
        let key: Vec<ssh_key::Algorithm> = match &self.host_key {
            Some(ok) => {
                // Configured: every allowed type the client supports, in
                // the given order first, then the config's order.
                let mut v: Vec<ssh_key::Algorithm> = hostkeys
                    .into_iter()
                    .filter(|a| ok.iter().any(|n| n == a.as_str()))
                    .collect();
                for n in ok {
                    if let Some(a) = HOST_KEY_TYPES.iter().find(|a| a.as_str() == n)
                        && !v.contains(a)
                    {
                        v.push(a.clone());
                    }
                }
                v
            }
            None => hostkeys,
        };
        let kex = match &self.kex {
            Some(ok) => {
                let mut v: Vec<ssh_client::kex::Name> = ok
                    .iter()
                    .filter_map(|n| ssh_client::kex::Name::try_from(n.as_str()).ok())
                    .collect();
                // The protocol extensions are not algorithms: keep them.
                for n in d.kex.iter() {
                    let s = n.as_ref();
                    if (s.starts_with("ext-info-") || s.starts_with("kex-strict-"))
                        && !v.contains(n)
                    {
                        v.push(*n);
                    }
                }
                v.into()
            }
            None => d.kex.clone(),
        };
        let cipher = match &self.cipher {
            Some(ok) => ok
                .iter()
                .filter_map(|n| ssh_client::cipher::Name::try_from(n.as_str()).ok())
                .collect::<Vec<_>>()
                .into(),
            None => d.cipher.clone(),
        };
        let mac = match &self.mac {
            Some(ok) => ok
                .iter()
                .filter_map(|n| ssh_client::mac::Name::try_from(n.as_str()).ok())
                .collect::<Vec<_>>()
                .into(),
            None => d.mac.clone(),
        };
        ssh_client::Preferred {
            kex,
            key: key.into(),
            cipher,
            mac,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::assemble;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn host_key_algorithms_plus_minus_caret_and_wildcards_as_ssh_assembles_them() {
        let all = v(&[
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "rsa-sha2-512",
            "rsa-sha2-256",
            "ssh-rsa",
        ]);
        let def = v(&[
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "rsa-sha2-512",
            "rsa-sha2-256",
        ]);
        assert_eq!(assemble("ssh-ed25519", &def, &all), v(&["ssh-ed25519"]));
        assert_eq!(assemble("+ssh-rsa", &def, &all).last().unwrap(), "ssh-rsa");
        assert_eq!(
            assemble("-rsa-*", &def, &all),
            v(&["ssh-ed25519", "ecdsa-sha2-nistp256"])
        );
        assert_eq!(assemble("^rsa-sha2-256", &def, &all)[0], "rsa-sha2-256");
        assert_eq!(
            assemble("rsa-*", &def, &all),
            v(&["rsa-sha2-512", "rsa-sha2-256"])
        );
        assert!(assemble("sk-*", &def, &all).is_empty());
    }
}
