//! The files and sockets ssh would use for one host, expanded exactly as
//! ssh.c does (`~`, `~user`, `${VAR}`, `%` tokens), and the cases where
//! runpod-ssh cannot know what ssh would do: those fail closed.

use std::path::PathBuf;

use crate::config::resolve::{ExpandError, Resolved};

/// The expanded paths of one evaluated host.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// As written, and expanded.
    pub identity_files: Vec<(String, PathBuf)>,
    pub user_known_hosts: Vec<PathBuf>,
    pub global_known_hosts: Vec<PathBuf>,
    pub revoked_host_keys: Vec<PathBuf>,
    /// `None`: `SSH_AUTH_SOCK` as set; `Some(None)`: no agent.
    pub identity_agent: Option<Option<PathBuf>>,
    /// Why the host key cannot be judged as ssh would.
    pub unverifiable: Option<String>,
}

/// Expand every path the probe uses. `Err` is an error ssh itself stops
/// on before connecting (unset `${VAR}`, unknown `~user`, bad `%` token).
pub fn config_paths(r: &Resolved) -> Result<Paths, ExpandError> {
    let mut unverifiable: Option<String> = None;
    if let Some(src) = &r.runs_commands {
        unverifiable = Some(format!(
            "{src} has `Match exec`, which runpod-ssh never runs, so it cannot know which host-key settings ssh would use"
        ));
    }
    if unverifiable.is_none()
        && let Some(d) = r.not_evaluated.first()
    {
        unverifiable = Some(format!(
            "{}: {} — runpod-ssh cannot evaluate it, so it cannot know which host-key settings ssh would use",
            d.source, d.message
        ));
    }
    let mut expand = |v: &str, tokens: bool| -> Result<Option<PathBuf>, ExpandError> {
        match r.expand_path_checked(v, tokens) {
            Ok(p) => Ok(Some(PathBuf::from(p))),
            Err(ExpandError::Unknown(why)) => {
                unverifiable.get_or_insert(why);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    };
    let mut identity_files = Vec::new();
    for (raw, _) in r.identity_files() {
        if let Some(p) = expand(&raw, true)? {
            identity_files.push((raw, p));
        }
    }
    let mut list =
        |kw: &str, default: &[&str], tokens: bool| -> Result<Vec<PathBuf>, ExpandError> {
            let raw: Vec<String> = match r.get(kw) {
                Some(s) => s
                    .args
                    .iter()
                    .filter(|a| !a.eq_ignore_ascii_case("none"))
                    .cloned()
                    .collect(),
                None => default.iter().map(|d| d.to_string()).collect(),
            };
            let mut out = Vec::new();
            for a in raw {
                if let Some(p) = expand(&a, tokens)? {
                    out.push(p);
                }
            }
            Ok(out)
        };
    let user_known_hosts = list(
        "userknownhostsfile",
        &["~/.ssh/known_hosts", "~/.ssh/known_hosts2"],
        true,
    )?;
    // ssh.c expands only `~` in GlobalKnownHostsFile.
    let global_known_hosts = list(
        "globalknownhostsfile",
        &["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"],
        false,
    )?;
    let revoked_host_keys = list("revokedhostkeys", &[], true)?;
    let identity_agent = match r.get("identityagent").map(|s| s.args[0].clone()) {
        None => None,
        Some(v) if v == "SSH_AUTH_SOCK" => None,
        Some(v) if v == "none" => Some(None),
        // The legacy `$NAME` form: that variable's value, or no agent.
        Some(v) if v.starts_with('$') && !v.starts_with("${") => {
            Some(std::env::var_os(&v[1..]).map(PathBuf::from))
        }
        Some(v) => match expand(&v, true)? {
            Some(p) => Some(Some(p)),
            None => Some(None),
        },
    };
    Ok(Paths {
        identity_files,
        user_known_hosts,
        global_known_hosts,
        revoked_host_keys,
        identity_agent,
        unverifiable,
    })
}

/// `CanonicalizeHostname yes|always` with a host name (not an address):
/// ssh may look the name up under another, canonical, name, which
/// runpod-ssh does not reproduce. The message says why it stops.
pub fn canonicalization(r: &Resolved) -> Option<String> {
    let s = r.get("canonicalizehostname")?;
    let v = s.args[0].to_ascii_lowercase();
    if !matches!(v.as_str(), "yes" | "true" | "always") {
        return None;
    }
    let (host, _) = r.hostname();
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    Some(format!(
        "{} sets CanonicalizeHostname {v}: ssh may rename {host} before looking up its host key, which runpod-ssh does not reproduce",
        s.source
    ))
}
