//! What RunPod hands a user, turned into an [`Endpoint`]; the host entry
//! runpod-ssh writes for it; and what counts as a RunPod entry.
//!
//! Accepted: `ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519` (options
//! in any order, `-p` before the destination too), `ssh://user@host:port`,
//! the proxy form `ssh <podid>-<hex>@ssh.runpod.io -i KEY`, a leading `$ `,
//! the line as one argument or as many. Anything that would run a command
//! or send the connection elsewhere (`ProxyCommand`, `-J`, …) is refused by
//! name, and so is every value that cannot be written back portably.
//!
//! The paste is parsed in `paste` (its forwards checked in `forward`);
//! this module holds RunPod's constants, the entry runpod-ssh writes for
//! an endpoint, and what counts as a RunPod entry in a config.

use std::net::Ipv4Addr;

use crate::config::document::{Block, BlockKind, Document};
use crate::config::files::ConfigFile;
use crate::config::keywords::{self, Kind};
use crate::config::pattern;
use crate::config::resolve::{self, Source};

mod forward;
mod paste;

pub use forward::{ssh_accepts_forward, ssh_accepts_forward_line};
pub use paste::{Access, Endpoint, PasteError, identity_path, parse_paste, split_line};

/// RunPod's SSH proxy ("Basic SSH"): no scp, sftp, port forwarding or VS Code.
pub const PROXY_HOST: &str = "ssh.runpod.io";

/// The comment line runpod-ssh puts above the blocks it writes.
pub const MARKER: &str = "# managed by runpod-ssh";

/// Where runpod-ssh pins pod host keys (under each entry's `HostKeyAlias`),
/// so a recycled IP:port never collides with the main known_hosts.
pub const KNOWN_HOSTS_FILE: &str = "~/.ssh/known_hosts_runpod";

/// Keepalives: RunPod's proxy and NATs drop idle connections.
pub const SERVER_ALIVE_INTERVAL: &str = "30";
pub const SERVER_ALIVE_COUNT_MAX: &str = "4";

/// The alias runpod-ssh proposes when none is given: `runpod-<pod id>` for
/// the proxy form, `runpod-<ip with dashes>-<port>` for exposed TCP (one
/// per pod and port, readable in VS Code's list).
pub fn default_alias(e: &Endpoint) -> String {
    match &e.access {
        Access::Proxy { pod_id } => format!("runpod-{}", pod_id.to_ascii_lowercase()),
        Access::ExposedTcp => {
            let h: String = e
                .host
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            format!("runpod-{}-{}", h.trim_matches('-'), e.port)
        }
    }
}

/// The identity file to write: the pasted one, else the first of the usual
/// keys that exists, else `~/.ssh/id_ed25519` (and a warning from the caller).
pub fn choose_identity(e: &Endpoint, home: Option<&std::path::Path>) -> (String, bool) {
    if let Some(i) = &e.identity {
        return (i.clone(), true);
    }
    for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
        if home.is_some_and(|h| h.join(".ssh").join(name).is_file()) {
            return (format!("~/.ssh/{name}"), true);
        }
    }
    ("~/.ssh/id_ed25519".to_string(), false)
}

/// The options of the entry for `e` under `alias`, in the order written.
pub fn entry_options(e: &Endpoint, alias: &str, identity: &str) -> Vec<(String, String)> {
    entry_options_pinned(e, &pin_name(e, alias), identity)
}

/// The name a pasted entry's host key is pinned under: the alias for the
/// pod's own sshd; for the `ssh.runpod.io` proxy a name of its own
/// (`runpod-proxy-<podid>`), never the `runpod-<podid>` that `sync` pins
/// the pod's sshd under (two different servers, two different keys).
pub fn pin_name(e: &Endpoint, alias: &str) -> String {
    match &e.access {
        Access::Proxy { pod_id } => format!("runpod-proxy-{}", pod_id.to_ascii_lowercase()),
        Access::ExposedTcp => alias.to_string(),
    }
}

/// The pin name `sync` uses for a pod's own sshd: stable across restarts,
/// IP:port reuse and renames.
pub fn pod_pin_name(pod_id: &str) -> String {
    format!("runpod-{}", pod_id.to_ascii_lowercase())
}

/// The entry's options with host keys pinned under `pin`.
pub fn entry_options_pinned(e: &Endpoint, pin: &str, identity: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![
        ("HostName".into(), e.host.clone()),
        ("Port".into(), e.port.to_string()),
        ("User".into(), e.user.clone()),
        ("IdentityFile".into(), identity.to_string()),
        ("IdentitiesOnly".into(), "yes".into()),
        ("ServerAliveInterval".into(), SERVER_ALIVE_INTERVAL.into()),
        ("ServerAliveCountMax".into(), SERVER_ALIVE_COUNT_MAX.into()),
        ("HostKeyAlias".into(), pin.to_string()),
        ("UserKnownHostsFile".into(), KNOWN_HOSTS_FILE.into()),
        ("StrictHostKeyChecking".into(), "accept-new".into()),
    ];
    for (k, val) in &e.options {
        let single = keywords::lookup(k).is_some_and(|kw| {
            !matches!(
                kw.kind,
                Kind::Forward | Kind::DynamicForward | Kind::SendEnv | Kind::LineList
            )
        });
        if single && let Some(slot) = v.iter_mut().find(|(x, _)| x.eq_ignore_ascii_case(k)) {
            slot.1 = val.clone();
        } else {
            v.push((k.clone(), val.clone()));
        }
    }
    v
}

/// Whether a block is a RunPod entry: written by runpod-ssh, or an alias
/// containing "runpod", or HostName `ssh.runpod.io`, or a bare IPv4
/// HostName with `User root` and a Port other than 22.
pub fn is_runpod_block(doc: &Document, block: &Block) -> bool {
    match block.header {
        Some(h) if block.kind == BlockKind::Host => is_runpod_host(doc, h, block.lines.end),
        _ => false,
    }
}

/// [`is_runpod_block`] of the block at `at`.
pub fn is_runpod_at(doc: &Document, at: &crate::config::BlockAt) -> bool {
    match at.header {
        Some(h) if at.kind == BlockKind::Host => is_runpod_host(doc, h, at.lines.end),
        _ => false,
    }
}

/// [`is_runpod_block`] of the `Host` block whose header is line `header`
/// and whose lines end before `end`, read from the lines themselves (no
/// block, no copy of its patterns).
fn is_runpod_host(doc: &Document, header: usize, end: usize) -> bool {
    if has_marker_above(doc, header) {
        return true;
    }
    let l = &doc.lines()[header];
    let patterns = l.directive().into_iter().flat_map(|d| d.values(l.bytes()));
    // `to_ascii_lowercase().contains("runpod")`, without a copy per pattern.
    if patterns.into_iter().any(|p| {
        p.as_bytes()
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(b"runpod"))
    }) {
        return true;
    }
    let first = |kw: &str| first_value(doc, header + 1..end, kw);
    let hostname = first("hostname");
    if hostname.is_some_and(|h| h.eq_ignore_ascii_case(PROXY_HOST)) {
        return true;
    }
    let ipv4 = hostname.is_some_and(|h| h.parse::<Ipv4Addr>().is_ok());
    let root = first("user") == Some("root");
    let port = first("port").and_then(resolve::parse_port);
    ipv4 && root && port.is_some_and(|p| p != 22)
}

/// [`Document::first_value`] over `lines` (a block without its header),
/// borrowed: the first value of the first line that sets `keyword` (a
/// canonical name), none when that line has none.
fn first_value<'d>(
    doc: &'d Document,
    lines: std::ops::Range<usize>,
    keyword: &str,
) -> Option<&'d str> {
    let l = doc.lines()[lines]
        .iter()
        .find(|l| l.keyword().and_then(keywords::lookup).map(|k| k.name) == Some(keyword))?;
    l.directive()?.values(l.bytes()).next()
}

/// A host alias found in the config files.
#[derive(Debug, Clone)]
pub struct HostEntry {
    pub alias: String,
    /// Where its `Host` line is.
    pub source: Source,
    /// A RunPod entry (see [`is_runpod_block`]).
    pub runpod: bool,
    /// Written by runpod-ssh.
    pub managed: bool,
}

/// The aliases `list`, `check` and `fix --probe` cover: the literal patterns
/// of RunPod entries (of every `Host` block with `all`), each once, in file
/// order.
pub fn entries(files: &[ConfigFile], all: bool) -> Vec<HostEntry> {
    entry_refs(files, all)
        .into_iter()
        .map(|e| HostEntry {
            alias: e.alias.to_string(),
            source: Source {
                file: files[e.file].path.clone(),
                line: e.line,
            },
            runpod: e.runpod,
            managed: e.managed,
        })
        .collect()
}

/// A [`HostEntry`] borrowed from the files: `file` indexes them.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub alias: &'a str,
    pub file: usize,
    /// The 1-based line of its `Host` line.
    pub line: usize,
    pub runpod: bool,
    pub managed: bool,
}

/// [`entries`] without a copy of each alias and path (`list` of 10,000
/// hosts): read from the header lines, not from [`Document::blocks`].
pub fn entry_refs(files: &[ConfigFile], all: bool) -> Vec<EntryRef<'_>> {
    let mut out: Vec<EntryRef> = Vec::new();
    // Seen aliases (a linear scan of `out` made this quadratic), borrowed
    // from the documents; FNV: one look-up per alias of the user's own
    // file.
    let mut seen: std::collections::HashSet<&str, std::hash::BuildHasherDefault<keywords::Fnv>> =
        Default::default();
    for (fi, f) in files.iter().enumerate() {
        let lines = f.doc.lines();
        // Block bounds as `Document::blocks` has them: a header up to the
        // next one.
        let headers: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].is_header()).collect();
        seen.reserve(headers.len() * 2);
        out.reserve(headers.len() * 2);
        for (k, &h) in headers.iter().enumerate() {
            let l = &lines[h];
            let Some(d) = l.directive().filter(|d| d.keyword_lc == "host") else {
                continue;
            };
            let end = headers.get(k + 1).copied().unwrap_or(lines.len());
            let runpod = is_runpod_host(&f.doc, h, end);
            if !all && !runpod {
                continue;
            }
            let managed = has_marker_above(&f.doc, h);
            for alias in d.values(l.bytes()) {
                if pattern::is_wildcard(alias) || !seen.insert(alias) {
                    continue;
                }
                out.push(EntryRef {
                    alias,
                    file: fi,
                    line: h + 1,
                    runpod,
                    managed,
                });
            }
        }
    }
    out
}

/// The comment `sync` writes above an entry it created for a pod.
pub const SYNC_COMMENT: &str = "runpod-ssh sync: pod";

/// The pod id of an entry `sync` (or `add --pod`) created: its marker and
/// the `# runpod-ssh sync: pod ID` comment right above the header.
pub fn synced_pod_id(doc: &Document, block: &Block) -> Option<String> {
    if !has_marker(doc, block) {
        return None;
    }
    let h = block.header?;
    let mut i = h;
    while i > 0 && doc.lines()[i - 1].is_comment() {
        i -= 1;
        let t = doc.lines()[i].text();
        if let Some(id) = t
            .trim()
            .trim_start_matches('#')
            .trim()
            .strip_prefix(SYNC_COMMENT)
        {
            let id = id.trim();
            if !id.is_empty() {
                return Some(id.to_string());
            }
        }
    }
    None
}

/// Whether runpod-ssh wrote this block (its marker comment sits right above
/// the header).
pub fn has_marker(doc: &Document, block: &Block) -> bool {
    block.header.is_some_and(|h| has_marker_above(doc, h))
}

/// [`has_marker`] of the block at `at`.
pub fn has_marker_at(doc: &Document, at: &crate::config::BlockAt) -> bool {
    at.header.is_some_and(|h| has_marker_above(doc, h))
}

/// [`has_marker`] of the block whose header is line `h`.
fn has_marker_above(doc: &Document, h: usize) -> bool {
    let mut i = h;
    while i > 0 && doc.lines()[i - 1].is_comment() {
        i -= 1;
        // `text().trim() == MARKER` without a copy: a line that is not
        // UTF-8 reads with U+FFFD, never the (ASCII) marker.
        if std::str::from_utf8(doc.lines()[i].bytes()).is_ok_and(|t| t.trim() == MARKER) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod entries_tests;
