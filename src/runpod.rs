//! What RunPod hands a user, turned into an [`Endpoint`]; the host entry
//! runpod-ssh writes for it; and what counts as a RunPod entry.
//!
//! Accepted: `ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519` (options
//! in any order, `-p` before the destination too), `ssh://user@host:port`,
//! the proxy form `ssh <podid>-<hex>@ssh.runpod.io -i KEY`, a leading `$ `,
//! the line as one argument or as many. Anything that would run a command
//! or send the connection elsewhere (`ProxyCommand`, `-J`, …) is refused by
//! name, and so is every value that cannot be written back portably.

use std::net::{IpAddr, Ipv4Addr};

use crate::config::document::{Block, BlockKind, Document, portable_path};
use crate::config::files::ConfigFile;
use crate::config::keywords::{self, Kind};
use crate::config::pattern;
use crate::config::resolve::{self, Source};

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

/// Which of RunPod's two commands was pasted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Access {
    /// "SSH over exposed TCP": a public IP and port; what VS Code needs.
    ExposedTcp,
    /// "Basic SSH" through `ssh.runpod.io`; the user names the pod.
    Proxy { pod_id: String },
}

/// A pasted command, understood.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    pub access: Access,
    pub user: String,
    pub host: String,
    pub port: u16,
    /// The `-i` path, written with forward slashes.
    pub identity: Option<String>,
    /// Extra `Keyword value` lines: forwards and harmless `-o` options.
    pub options: Vec<(String, String)>,
    /// Flags that were understood but have no place in a host entry.
    pub ignored: Vec<String>,
}

/// Why a paste was refused. Nothing is written when one occurs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasteError {
    #[error(
        "nothing to parse: paste the ssh command RunPod shows (Connect → SSH over exposed TCP)"
    )]
    Empty,
    #[error("unbalanced quote in the pasted command")]
    UnbalancedQuote,
    #[error("the command must start with `ssh`, not `{0}`")]
    NotSsh(String),
    #[error("no host: the command needs a destination such as root@203.0.113.7")]
    MissingHost,
    #[error("option {0} needs a value")]
    MissingValue(String),
    #[error("port {0:?} is not a number from 1 to 65535")]
    BadPort(String),
    #[error("{what} {value:?} is not allowed: {why}")]
    BadValue {
        what: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(
        "{0} is refused: it runs a command or sends the connection elsewhere, which runpod-ssh never writes into your config"
    )]
    Dangerous(String),
    #[error(
        "{0} is refused: runpod-ssh sets it itself (host keys are pinned per pod, connections are not shared)"
    )]
    Managed(String),
    #[error("option {0} is not supported in a pasted command")]
    Unsupported(String),
    #[error("a command after the host ({0:?}) is not supported: VS Code needs a plain login")]
    RemoteCommand(String),
    #[error("forward {0:?} is not a valid port forwarding spec")]
    BadForward(String),
}

/// `-o` keywords that would run something or redirect the connection.
const DANGEROUS: &[&str] = &[
    "proxycommand",
    "proxyjump",
    "localcommand",
    "permitlocalcommand",
    "knownhostscommand",
    "remotecommand",
    "match",
    "include",
    "host",
    "hostname",
    "bindaddress",
    "bindinterface",
    "canonicalizehostname",
    "canonicaldomains",
    "tunnel",
    "tunneldevice",
    "pkcs11provider",
    "smartcarddevice",
    "securitykeyprovider",
    "xauthlocation",
    "identityagent",
    "forwardx11",
    "forwardx11trusted",
];

/// `-o` keywords runpod-ssh writes itself, or that would make the entry
/// share or skip what it manages.
const MANAGED: &[&str] = &[
    "controlpath",
    "controlmaster",
    "controlpersist",
    "hostkeyalias",
    "userknownhostsfile",
    "globalknownhostsfile",
    "stricthostkeychecking",
];

/// `-o` keywords kept as they are (validated like OpenSSH does).
const HARMLESS: &[&str] = &[
    "ServerAliveInterval",
    "ServerAliveCountMax",
    "ConnectTimeout",
    "ConnectionAttempts",
    "Compression",
    "ForwardAgent",
    "IdentitiesOnly",
    "LogLevel",
    "TCPKeepAlive",
    "RequestTTY",
    "SendEnv",
    "SetEnv",
    "AddKeysToAgent",
    "PubkeyAuthentication",
    "PasswordAuthentication",
    "PreferredAuthentications",
    "AddressFamily",
    "ExitOnForwardFailure",
    "BatchMode",
];

/// Split a pasted line like a shell would for this purpose: whitespace
/// separates, `"…"` and `'…'` group, and backslashes are literal (Windows
/// paths arrive unquoted as often as quoted).
pub fn split_line(line: &str) -> Result<Vec<String>, PasteError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_token = true;
            }
            None if c.is_whitespace() => {
                if in_token {
                    out.push(std::mem::take(&mut cur));
                    in_token = false;
                }
            }
            None => {
                cur.push(c);
                in_token = true;
            }
        }
    }
    if quote.is_some() {
        return Err(PasteError::UnbalancedQuote);
    }
    if in_token {
        out.push(cur);
    }
    Ok(out)
}

/// Characters that look like a space or like nothing but are not ASCII:
/// easy to paste by accident from a web page, and never what ssh splits on.
fn is_unusual_space(c: char) -> bool {
    (c.is_whitespace() && c != ' ')
        || matches!(
            c,
            '\u{180E}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

fn no_specials(what: &'static str, v: &str, allow_space: bool) -> Result<(), PasteError> {
    let why = if v.is_empty() {
        Some("it is empty")
    } else if v.chars().any(is_unusual_space) {
        Some(
            "it contains a non-ASCII space or invisible character (such as a no-break space), which ssh does not treat as a space",
        )
    } else if v.chars().any(char::is_control) {
        Some("it contains control characters")
    } else if v.contains(['"', '\'']) {
        Some("it contains quotes")
    } else if v.contains('#') {
        Some("it contains '#', which older ssh versions cut off")
    } else if v.contains("${") {
        Some(
            "it contains ${…}, which ssh expands from the environment each time it runs (an unset variable breaks every host in the file); write the value itself",
        )
    } else if !allow_space && v.contains(' ') {
        Some("it contains whitespace")
    } else {
        None
    };
    match why {
        Some(why) => Err(PasteError::BadValue {
            what,
            value: v.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

/// The one validator for identity file paths, whether pasted (`-i`,
/// `-o IdentityFile=`) or given with `add --identity`. Returns the path as
/// it is written (forward slashes).
pub fn identity_path(v: &str) -> Result<String, PasteError> {
    no_specials("identity file", v, true)?;
    if v.contains('%') {
        // ssh expands %d, %h, %u… in IdentityFile and refuses unknown ones.
        return Err(PasteError::BadValue {
            what: "identity file",
            value: v.to_string(),
            why: "it contains '%', which ssh expands as a token (%d, %h, …); use the path itself",
        });
    }
    Ok(portable_path(v))
}

fn parse_port(v: &str) -> Result<u16, PasteError> {
    resolve::parse_port(v).ok_or_else(|| PasteError::BadPort(v.to_string()))
}

fn valid_host(h: &str) -> bool {
    h.parse::<IpAddr>().is_ok()
        || (!h.is_empty()
            && h.len() <= 253
            && !h.starts_with(['-', '.'])
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
}

fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 128
        && !u.starts_with('-')
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// One field of a forward spec, split as OpenSSH's `parse_fwd_field` does.
struct FwdField {
    arg: String,
    is_path: bool,
}

/// Split a forward spec into fields like `readconf.c:parse_fwd_field`
/// (a `[…]` field is literal; otherwise up to the next ':'). Backslash
/// escapes are refused earlier, so they need no handling here. `None` when
/// OpenSSH would fail to split it.
fn fwd_fields(spec: &str) -> Option<Vec<FwdField>> {
    let mut out = Vec::new();
    let mut rest = spec;
    while !rest.is_empty() && out.len() < 4 {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let after = &r[end + 1..];
            if !(after.is_empty() || after.starts_with(':')) {
                return None;
            }
            out.push(FwdField {
                arg: r[..end].to_string(),
                is_path: r[..end].contains('/'),
            });
            rest = after.strip_prefix(':').unwrap_or(after);
        } else {
            let (f, r) = match rest.find(':') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            out.push(FwdField {
                arg: f.to_string(),
                is_path: f.contains('/'),
            });
            rest = r;
        }
    }
    // Trailing garbage after four fields.
    if !rest.is_empty() {
        return None;
    }
    Some(out)
}

/// `misc.c:a2port` without the service-name lookup (which depends on the
/// machine's /etc/services): digits only, 0–65535.
fn fwd_port(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|p| *p <= 65535)
}

/// A forward host runpod-ssh will write: `*`, an IP address (IPv6 only in
/// brackets, which the caller has removed) or a DNS name.
fn fwd_host(h: &str) -> bool {
    h == "*" || h.parse::<IpAddr>().is_ok() || valid_host(h)
}

/// A Unix socket path: absolute, plain characters, short enough for every
/// platform's `sun_path` (104 bytes on macOS, 108 on Linux).
fn fwd_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() < 104
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
}

/// Whether OpenSSH's `parse_forward(spec, dynamic, remote)` accepts `spec`
/// (the `-L`/`-R`/`-D` form, or a config line's arguments joined by ':'),
/// and every part is something runpod-ssh writes portably. Stricter than
/// OpenSSH where OpenSSH's answer depends on the machine (service names,
/// `${VAR}`, socket path limits), never looser.
pub fn ssh_accepts_forward(spec: &str, dynamic: bool, remote: bool) -> bool {
    // readconf.c builds the spec in a 256-byte buffer: longer is cut off.
    if spec.is_empty()
        || spec.len() > 255
        || !spec
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:[]*-_/".contains(&b))
    {
        return false;
    }
    let Some(f) = fwd_fields(spec) else {
        return false;
    };
    // (listen host, listen port, listen path, connect host, connect port, connect path)
    type Parts<'a> = (
        Option<&'a str>,
        Option<u32>,
        Option<&'a str>,
        Option<&'a str>,
        Option<u32>,
        Option<&'a str>,
    );
    let a = |i: usize| f[i].arg.as_str();
    let parts: Parts = match f.len() {
        1 if f[0].is_path => (None, None, Some(a(0)), None, None, None),
        1 => (None, fwd_port(a(0)), None, None, None, None),
        2 if f[0].is_path && f[1].is_path => (None, None, Some(a(0)), None, None, Some(a(1))),
        2 if f[1].is_path => (None, fwd_port(a(0)), None, None, None, Some(a(1))),
        2 => (Some(a(0)), fwd_port(a(1)), None, None, None, None),
        3 if f[0].is_path => (None, None, Some(a(0)), Some(a(1)), fwd_port(a(2)), None),
        3 if f[2].is_path => (Some(a(0)), fwd_port(a(1)), None, None, None, Some(a(2))),
        3 => (None, fwd_port(a(0)), None, Some(a(1)), fwd_port(a(2)), None),
        4 => (
            Some(a(0)),
            fwd_port(a(1)),
            None,
            Some(a(2)),
            fwd_port(a(3)),
            None,
        ),
        _ => return false,
    };
    let (lhost, lport, lpath, chost, cport, cpath) = parts;
    if dynamic {
        // `-D [bind:]port`: no paths, no target.
        if !(f.len() == 1 || f.len() == 2) || lpath.is_some() || cpath.is_some() {
            return false;
        }
    } else {
        if !(f.len() == 3 || f.len() == 4) && cpath.is_none() && lpath.is_none() {
            return false;
        }
        if cpath.is_none() && cport.is_none_or(|p| p == 0) {
            return false;
        }
        // A path-to-path or port-to-path forward has no connect host.
        if cpath.is_none() && chost.is_none_or(|h| !fwd_host(h)) {
            return false;
        }
    }
    match (lpath, lport) {
        (Some(p), _) => {
            if !fwd_path(p) {
                return false;
            }
        }
        (None, Some(p)) => {
            // Port 0 (a port the server picks) exists only for -R.
            if p == 0 && !remote {
                return false;
            }
        }
        (None, None) => return false,
    }
    if lhost.is_some_and(|h| !fwd_host(h)) || cpath.is_some_and(|p| !fwd_path(p)) {
        return false;
    }
    true
}

/// Whether ssh accepts `Keyword value` for a forward keyword, as
/// `readconf.c` reads it: `LocalForward` takes two arguments,
/// `RemoteForward` one (a SOCKS forward) or two, `DynamicForward` one.
pub fn ssh_accepts_forward_line(keyword: &str, value: &str) -> bool {
    let args: Vec<&str> = value.split([' ', '\t']).filter(|a| !a.is_empty()).collect();
    match (keyword.to_ascii_lowercase().as_str(), args.as_slice()) {
        ("localforward", [l, t]) => ssh_accepts_forward(&format!("{l}:{t}"), false, false),
        ("remoteforward", [l, t]) => ssh_accepts_forward(&format!("{l}:{t}"), false, true),
        ("remoteforward", [l]) => ssh_accepts_forward(l, true, true),
        ("dynamicforward", [l]) => ssh_accepts_forward(l, true, false),
        _ => false,
    }
}

/// `-L`/`-R`/`-D` spec → the config form (`8888 localhost:8888`), accepted
/// only when ssh would accept both the flag and the line written for it.
fn forward_value(flag: char, spec: &str) -> Result<String, PasteError> {
    let bad = || PasteError::BadForward(spec.to_string());
    let (dynamic, remote) = (flag == 'D', flag == 'R');
    // `ssh -R` tries the spec as a normal forward, then as a SOCKS one.
    let as_dynamic = match flag {
        'D' => true,
        'R' if !ssh_accepts_forward(spec, false, true) => true,
        _ => false,
    };
    if !ssh_accepts_forward(spec, dynamic || as_dynamic, remote) {
        return Err(bad());
    }
    let fields = fwd_fields(spec).ok_or_else(bad)?;
    // Each field as written (brackets kept), so joining the config line's
    // two arguments with ':' gives back the spec.
    let raw: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.arg.contains(':') {
                format!("[{}]", f.arg)
            } else {
                f.arg.clone()
            }
        })
        .collect();
    let (keyword, v) = if as_dynamic {
        (
            if remote {
                "RemoteForward"
            } else {
                "DynamicForward"
            },
            raw.join(":"),
        )
    } else {
        let split = match raw.len() {
            4 => 2,
            3 if fields[2].is_path && !fields[0].is_path => 2,
            _ => 1,
        };
        (
            if remote {
                "RemoteForward"
            } else {
                "LocalForward"
            },
            format!("{} {}", raw[..split].join(":"), raw[split..].join(":")),
        )
    };
    if !ssh_accepts_forward_line(keyword, &v) {
        return Err(bad());
    }
    Ok(v)
}

/// Check a harmless `-o` value against what OpenSSH's parser for that
/// keyword accepts, limited to the spellings every version reads alike.
fn check_option_value(name: &str, v: &str) -> Result<(), PasteError> {
    const INT_MAX: u64 = i32::MAX as u64;
    let lc = v.to_ascii_lowercase();
    let flag = matches!(lc.as_str(), "yes" | "no" | "true" | "false");
    let time = || resolve::convtime(v).is_some_and(|t| t <= INT_MAX);
    let int = || {
        !v.is_empty()
            && v.len() <= 10
            && v.bytes().all(|b| b.is_ascii_digit())
            && v.parse::<u64>().is_ok_and(|n| n <= INT_MAX)
    };
    let (ok, why): (bool, &'static str) = match name.to_ascii_lowercase().as_str() {
        "serveraliveinterval" => (time(), "not a time (e.g. 30, 1m)"),
        "connecttimeout" => (lc == "none" || time(), "not a time (e.g. 30, 1m)"),
        "serveralivecountmax" => (int(), "not a whole number"),
        // ssh.c refuses 0 after reading the config ("Invalid number of
        // ConnectionAttempts"), so every host in the file would break.
        "connectionattempts" => (
            int() && v.bytes().any(|b| b != b'0'),
            "not a whole number of at least 1",
        ),
        "loglevel" => (
            matches!(
                lc.as_str(),
                "quiet"
                    | "fatal"
                    | "error"
                    | "info"
                    | "verbose"
                    | "debug"
                    | "debug1"
                    | "debug2"
                    | "debug3"
            ),
            "not a log level (QUIET, FATAL, ERROR, INFO, VERBOSE, DEBUG1-3)",
        ),
        "requesttty" => (
            flag || matches!(lc.as_str(), "force" | "auto"),
            "not yes, no, force or auto",
        ),
        "addkeystoagent" => (
            flag || matches!(lc.as_str(), "ask" | "confirm"),
            "not yes, no, ask or confirm",
        ),
        "addressfamily" => (
            matches!(lc.as_str(), "any" | "inet" | "inet6"),
            "not any, inet or inet6",
        ),
        "preferredauthentications" => (
            v.split(',').all(|m| {
                matches!(
                    m,
                    "gssapi-with-mic"
                        | "hostbased"
                        | "publickey"
                        | "keyboard-interactive"
                        | "password"
                )
            }),
            "not a comma-separated list of publickey, password, keyboard-interactive, hostbased, gssapi-with-mic",
        ),
        "sendenv" => (
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_*?".contains(&b)),
            "not an environment variable name (letters, digits, '_', '*', '?')",
        ),
        "setenv" => (
            v.split_once('=').is_some_and(|(n, val)| {
                !n.is_empty()
                    && !n.starts_with(|c: char| c.is_ascii_digit())
                    && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && val.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
            }),
            "not NAME=VALUE",
        ),
        // ForwardAgent may name a socket or a variable in OpenSSH; a paste
        // only ever needs yes or no.
        "forwardagent"
        | "compression"
        | "identitiesonly"
        | "tcpkeepalive"
        | "pubkeyauthentication"
        | "passwordauthentication"
        | "exitonforwardfailure"
        | "batchmode" => (flag, "not yes or no"),
        _ => (false, "not a value this option accepts"),
    };
    if ok {
        Ok(())
    } else {
        Err(PasteError::BadValue {
            what: "option value",
            value: format!("{name}={v}"),
            why,
        })
    }
}

/// Parse what the user pasted: the whole line as one argument, or its
/// words as many.
pub fn parse_paste(args: &[String]) -> Result<Endpoint, PasteError> {
    // The whole line quoted as one argument (perhaps followed by more
    // words) is split here; words the shell already split are kept.
    let mut tokens = match args {
        [] => Vec::new(),
        [first, rest @ ..] => {
            let mut t = if first.trim().contains(char::is_whitespace) {
                split_line(first)?
            } else {
                vec![first.trim().to_string()]
            };
            t.extend(rest.iter().map(|s| s.trim().to_string()));
            t
        }
    };
    tokens.retain(|t| !t.is_empty());
    if tokens
        .first()
        .is_some_and(|t| t == "$" || t == ">" || t == "PS>")
    {
        tokens.remove(0);
    }
    if let Some(first) = tokens.first_mut()
        && let Some(rest) = first.strip_prefix('$')
    {
        *first = rest.to_string();
    }
    // A bare `ssh://user@host:port` (what some tools copy) is the
    // destination of an `ssh` command.
    if tokens.first().is_some_and(|t| t.starts_with("ssh://")) {
        tokens.insert(0, "ssh".into());
    }
    let Some(program) = tokens.first() else {
        return Err(PasteError::Empty);
    };
    let base = program.rsplit(['/', '\\']).next().unwrap_or_default();
    if !matches!(base.to_ascii_lowercase().as_str(), "ssh" | "ssh.exe") {
        return Err(PasteError::NotSsh(program.clone()));
    }

    let mut user: Option<String> = None;
    let mut port: Option<u16> = None;
    let mut identity: Option<String> = None;
    let mut options: Vec<(String, String)> = Vec::new();
    let mut ignored = Vec::new();
    let mut dest: Option<String> = None;
    let mut i = 1;
    let mut options_done = false;
    while i < tokens.len() {
        let t = tokens[i].clone();
        i += 1;
        if !options_done && t == "--" {
            options_done = true;
            continue;
        }
        if options_done || !t.starts_with('-') || t == "-" {
            if dest.is_none() {
                dest = Some(t);
                continue;
            }
            return Err(PasteError::RemoteCommand(tokens[i - 1..].join(" ")));
        }
        let flags: Vec<char> = t[1..].chars().collect();
        let mut j = 0;
        while j < flags.len() {
            let f = flags[j];
            j += 1;
            let takes_value = "BbcDEeFIiJLlmOoPpQRSWw".contains(f);
            if !takes_value {
                match f {
                    'A' => options.push(("ForwardAgent".into(), "yes".into())),
                    'C' => options.push(("Compression".into(), "yes".into())),
                    '4' => options.push(("AddressFamily".into(), "inet".into())),
                    '6' => options.push(("AddressFamily".into(), "inet6".into())),
                    'v' | 'q' | 't' | 'T' | 'N' | 'n' | 'x' | 'a' | 'k' | 'K' | 'g' | 's' | 'y' => {
                        ignored.push(format!("-{f}"))
                    }
                    'X' | 'Y' => {
                        return Err(PasteError::Unsupported(format!("-{f} (X11 forwarding)")));
                    }
                    _ => return Err(PasteError::Unsupported(format!("-{f}"))),
                }
                continue;
            }
            // The value is the rest of this token, or the next token.
            let value = if j < flags.len() {
                let v: String = flags[j..].iter().collect();
                j = flags.len();
                v
            } else if i < tokens.len() {
                i += 1;
                tokens[i - 1].clone()
            } else {
                return Err(PasteError::MissingValue(format!("-{f}")));
            };
            match f {
                'p' => port = Some(parse_port(&value)?),
                'l' => {
                    if !valid_user(&value) {
                        return Err(PasteError::BadValue {
                            what: "user",
                            value,
                            why: "a user name is letters, digits, '.', '_' and '-'",
                        });
                    }
                    user = Some(value);
                }
                'i' => identity = Some(identity_path(&value)?),
                'L' => options.push(("LocalForward".into(), forward_value('L', &value)?)),
                'R' => options.push(("RemoteForward".into(), forward_value('R', &value)?)),
                'D' => options.push(("DynamicForward".into(), forward_value('D', &value)?)),
                'o' => {
                    let (k, v) = split_option(&value)?;
                    match k.to_ascii_lowercase().as_str() {
                        "port" => port = Some(parse_port(&v)?),
                        "user" => {
                            if !valid_user(&v) {
                                return Err(PasteError::BadValue {
                                    what: "user",
                                    value: v,
                                    why: "a user name is letters, digits, '.', '_' and '-'",
                                });
                            }
                            user = Some(v);
                        }
                        "identityfile" => identity = Some(identity_path(&v)?),
                        "localforward" | "remoteforward" | "dynamicforward" => {
                            no_specials("forward", &v, true)?;
                            if !ssh_accepts_forward_line(&k, &v) {
                                return Err(PasteError::BadForward(v));
                            }
                            let name = keywords::canonical_case(&k);
                            // One space between the arguments, as ssh reads them.
                            let v = v
                                .split([' ', '\t'])
                                .filter(|a| !a.is_empty())
                                .collect::<Vec<_>>()
                                .join(" ");
                            options.push((name.to_string(), v));
                        }
                        lc => {
                            if DANGEROUS.contains(&lc) {
                                return Err(PasteError::Dangerous(k));
                            }
                            if MANAGED.contains(&lc) {
                                return Err(PasteError::Managed(k));
                            }
                            let Some(name) = HARMLESS.iter().find(|h| h.eq_ignore_ascii_case(lc))
                            else {
                                return Err(PasteError::Unsupported(format!("-o {k}")));
                            };
                            no_specials("option value", &v, false)?;
                            check_option_value(name, &v)?;
                            options.retain(|(o, _)| !o.eq_ignore_ascii_case(name));
                            options.push((name.to_string(), v));
                        }
                    }
                }
                'J' => return Err(PasteError::Dangerous("-J (ProxyJump)".into())),
                'W' => return Err(PasteError::Dangerous("-W (stdio forwarding)".into())),
                'F' => return Err(PasteError::Unsupported("-F (another config file)".into())),
                _ => return Err(PasteError::Unsupported(format!("-{f}"))),
            }
        }
    }

    let dest = dest.ok_or(PasteError::MissingHost)?;
    let (duser, host, dport) = parse_destination(&dest)?;
    let user = user.or(duser).unwrap_or_else(|| "root".to_string());
    let port = port.or(dport).unwrap_or(22);
    let access = if host.eq_ignore_ascii_case(PROXY_HOST) {
        let pod_id = user.split('-').next().unwrap_or_default().to_string();
        Access::Proxy { pod_id }
    } else {
        Access::ExposedTcp
    };
    Ok(Endpoint {
        access,
        user,
        host: host.to_ascii_lowercase(),
        port,
        identity,
        options,
        ignored,
    })
}

fn split_option(v: &str) -> Result<(String, String), PasteError> {
    // As readconf.c's strdelim: the keyword ends at the first blank or
    // '=', then blanks and at most one '=' separate it from the value
    // (`SetEnv A=b` is SetEnv with the value `A=b`).
    let t = v.trim();
    let Some(end) = t.find([' ', '\t', '=']) else {
        return Err(PasteError::MissingValue(format!("-o {v}")));
    };
    let k = &t[..end];
    let rest = t[end..].trim_start_matches([' ', '\t']);
    let val = rest.strip_prefix('=').unwrap_or(rest).trim();
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PasteError::Unsupported(format!("-o {v}")));
    }
    Ok((k.to_string(), val.to_string()))
}

/// `[user@]host`, `ssh://[user@]host[:port]`, IPv6 in brackets.
fn parse_destination(d: &str) -> Result<(Option<String>, String, Option<u16>), PasteError> {
    let (rest, uri) = match d.strip_prefix("ssh://") {
        Some(r) => (r.trim_end_matches('/'), true),
        None => (d, false),
    };
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, rest),
    };
    if let Some(u) = &user
        && !valid_user(u)
    {
        return Err(PasteError::BadValue {
            what: "user",
            value: u.clone(),
            why: "a user name is letters, digits, '.', '_' and '-'",
        });
    }
    let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or(PasteError::MissingHost)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => return Err(PasteError::MissingHost),
        };
        (h.to_string(), port)
    } else if uri {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(parse_port(p)?)),
            None => (hostport.to_string(), None),
        }
    } else {
        (hostport.to_string(), None)
    };
    if host.is_empty() {
        return Err(PasteError::MissingHost);
    }
    if !valid_host(&host) {
        return Err(PasteError::BadValue {
            what: "host",
            value: host,
            why: "a host is an IP address or a DNS name",
        });
    }
    Ok((user, host, port))
}

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
    if block.kind != BlockKind::Host {
        return false;
    }
    if has_marker(doc, block) {
        return true;
    }
    if block
        .patterns
        .iter()
        .any(|p| p.to_ascii_lowercase().contains("runpod"))
    {
        return true;
    }
    let first = |kw: &str| doc.first_value(block, kw);
    let hostname = first("hostname");
    if hostname
        .as_deref()
        .is_some_and(|h| h.eq_ignore_ascii_case(PROXY_HOST))
    {
        return true;
    }
    let ipv4 = hostname
        .as_deref()
        .is_some_and(|h| h.parse::<Ipv4Addr>().is_ok());
    let root = first("user").as_deref() == Some("root");
    let port = first("port").and_then(|p| resolve::parse_port(&p));
    ipv4 && root && port.is_some_and(|p| p != 22)
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
    let mut out: Vec<HostEntry> = Vec::new();
    // Seen aliases: a linear scan of `out` made this quadratic.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for f in files {
        for b in f.doc.blocks() {
            if b.kind != BlockKind::Host {
                continue;
            }
            let runpod = is_runpod_block(&f.doc, &b);
            if !all && !runpod {
                continue;
            }
            for alias in b.patterns.iter().filter(|p| !pattern::is_wildcard(p)) {
                if !seen.insert(alias.clone()) {
                    continue;
                }
                out.push(HostEntry {
                    alias: alias.clone(),
                    source: Source {
                        file: f.path.clone(),
                        line: b.header.unwrap_or(0) + 1,
                    },
                    runpod,
                    managed: has_marker(&f.doc, &b),
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
    let Some(h) = block.header else { return false };
    let mut i = h;
    while i > 0 && doc.lines()[i - 1].is_comment() {
        i -= 1;
        if doc.lines()[i].text().trim() == MARKER {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Endpoint, PasteError> {
        parse_paste(&[s.to_string()])
    }

    #[test]
    fn the_runpod_line() {
        let e = p("ssh root@203.0.113.7 -p 40123 -i ~/.ssh/id_ed25519").unwrap();
        assert_eq!(
            (e.user.as_str(), e.host.as_str(), e.port),
            ("root", "203.0.113.7", 40123)
        );
        assert_eq!(e.identity.as_deref(), Some("~/.ssh/id_ed25519"));
        assert_eq!(default_alias(&e), "runpod-203-0-113-7-40123");
    }

    #[test]
    fn connection_attempts_below_one_are_refused_as_ssh_does() {
        for bad in ["0", "00", "-1", ""] {
            assert!(
                check_option_value("ConnectionAttempts", bad).is_err(),
                "{bad:?}"
            );
        }
        for good in ["1", "01", "2147483647"] {
            assert!(
                check_option_value("ConnectionAttempts", good).is_ok(),
                "{good:?}"
            );
        }
        assert!(check_option_value("ServerAliveCountMax", "0").is_ok());
    }

    #[test]
    fn split_keeps_backslashes() {
        assert_eq!(
            split_line(r#"ssh -i "C:\Users\me\.ssh\id" x"#).unwrap(),
            ["ssh", "-i", r"C:\Users\me\.ssh\id", "x"]
        );
        assert_eq!(split_line(r"-i C:\a\b").unwrap(), ["-i", r"C:\a\b"]);
        assert!(split_line("ssh \"x").is_err());
    }

    #[test]
    fn forwards() {
        assert_eq!(
            forward_value('L', "8888:localhost:8888").unwrap(),
            "8888 localhost:8888"
        );
        assert_eq!(
            forward_value('L', "127.0.0.1:8888:localhost:8888").unwrap(),
            "127.0.0.1:8888 localhost:8888"
        );
        assert_eq!(forward_value('D', "1080").unwrap(), "1080");
        assert!(forward_value('L', "8888").is_err());
        assert!(forward_value('L', "88 88:x:1").is_err());
        // What OpenSSH's parse_forward refuses.
        assert!(forward_value('L', "8888:localhost:0").is_err());
        assert!(forward_value('D', "0").is_err());
        assert!(forward_value('D', "8888:[::1]:8888").is_err());
        assert!(forward_value('L', "8888:::1:22").is_err());
        // Brackets survive the move to the two-argument config form.
        assert_eq!(
            forward_value('L', "[::1]:8888:[::1]:22").unwrap(),
            "[::1]:8888 [::1]:22"
        );
        assert_eq!(
            forward_value('R', "0:localhost:22").unwrap(),
            "0 localhost:22"
        );
        assert_eq!(forward_value('R', "1080").unwrap(), "1080");
    }

    #[test]
    fn one_identity_validator() {
        assert_eq!(identity_path(r"C:\k\id").unwrap(), "C:/k/id");
        assert_eq!(identity_path("~/.ssh/my key").unwrap(), "~/.ssh/my key");
        for bad in [
            "~/my\u{a0}key",
            "~/my\u{3000}key",
            "~/\u{200b}k",
            "${HOME}/k",
            "%d/k",
            "a#b",
            "",
        ] {
            assert!(identity_path(bad).is_err(), "{bad:?}");
        }
    }
}
