//! The paste: what RunPod shows on a pod's Connect tab (or any `ssh`
//! command line), turned into an [`Endpoint`]. Every flag and `-o` option
//! is checked against what OpenSSH accepts and what a RunPod entry may
//! carry; anything that runs a command or sends the connection elsewhere
//! is refused by name ([`PasteError`]).

use std::net::IpAddr;

use crate::config::document::portable_path;
use crate::config::keywords;
use crate::config::resolve;

use super::PROXY_HOST;
use super::forward::{forward_value, ssh_accepts_forward_line};

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

pub(super) fn valid_host(h: &str) -> bool {
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
    let tokens = paste_tokens(args)?;
    let mut p = Pasted::default();
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
            if p.dest.is_none() {
                p.dest = Some(t);
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
                p.flag(f)?;
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
            p.flag_value(f, value)?;
        }
    }
    p.endpoint()
}

/// The words of a paste, from the program (`ssh`) on: the whole line
/// quoted as one argument (perhaps followed by more words) is split here,
/// words the shell already split are kept; a shell prompt before it is
/// dropped.
fn paste_tokens(args: &[String]) -> Result<Vec<String>, PasteError> {
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
    Ok(tokens)
}

/// What the flags of a paste said so far.
#[derive(Default)]
struct Pasted {
    user: Option<String>,
    port: Option<u16>,
    identity: Option<String>,
    options: Vec<(String, String)>,
    ignored: Vec<String>,
    dest: Option<String>,
}

impl Pasted {
    /// A flag that takes no value.
    fn flag(&mut self, f: char) -> Result<(), PasteError> {
        match f {
            'A' => self.options.push(("ForwardAgent".into(), "yes".into())),
            'C' => self.options.push(("Compression".into(), "yes".into())),
            '4' => self.options.push(("AddressFamily".into(), "inet".into())),
            '6' => self.options.push(("AddressFamily".into(), "inet6".into())),
            'v' | 'q' | 't' | 'T' | 'N' | 'n' | 'x' | 'a' | 'k' | 'K' | 'g' | 's' | 'y' => {
                self.ignored.push(format!("-{f}"))
            }
            'X' | 'Y' => {
                return Err(PasteError::Unsupported(format!("-{f} (X11 forwarding)")));
            }
            _ => return Err(PasteError::Unsupported(format!("-{f}"))),
        }
        Ok(())
    }

    /// A flag with its value.
    fn flag_value(&mut self, f: char, value: String) -> Result<(), PasteError> {
        match f {
            'p' => self.port = Some(parse_port(&value)?),
            'l' => self.user = Some(checked_user(value)?),
            'i' => self.identity = Some(identity_path(&value)?),
            'L' => self
                .options
                .push(("LocalForward".into(), forward_value('L', &value)?)),
            'R' => self
                .options
                .push(("RemoteForward".into(), forward_value('R', &value)?)),
            'D' => self
                .options
                .push(("DynamicForward".into(), forward_value('D', &value)?)),
            'o' => self.option(&value)?,
            'J' => return Err(PasteError::Dangerous("-J (ProxyJump)".into())),
            'W' => return Err(PasteError::Dangerous("-W (stdio forwarding)".into())),
            'F' => return Err(PasteError::Unsupported("-F (another config file)".into())),
            _ => return Err(PasteError::Unsupported(format!("-{f}"))),
        }
        Ok(())
    }

    /// `-o Keyword=value`: only what a RunPod entry may carry.
    fn option(&mut self, value: &str) -> Result<(), PasteError> {
        let (k, v) = split_option(value)?;
        match k.to_ascii_lowercase().as_str() {
            "port" => self.port = Some(parse_port(&v)?),
            "user" => self.user = Some(checked_user(v)?),
            "identityfile" => self.identity = Some(identity_path(&v)?),
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
                self.options.push((name.to_string(), v));
            }
            lc => {
                if DANGEROUS.contains(&lc) {
                    return Err(PasteError::Dangerous(k));
                }
                if MANAGED.contains(&lc) {
                    return Err(PasteError::Managed(k));
                }
                let Some(name) = HARMLESS.iter().find(|h| h.eq_ignore_ascii_case(lc)) else {
                    return Err(PasteError::Unsupported(format!("-o {k}")));
                };
                no_specials("option value", &v, false)?;
                check_option_value(name, &v)?;
                self.options.retain(|(o, _)| !o.eq_ignore_ascii_case(name));
                self.options.push((name.to_string(), v));
            }
        }
        Ok(())
    }

    /// The endpoint: flags win over what the destination says.
    fn endpoint(self) -> Result<Endpoint, PasteError> {
        let dest = self.dest.ok_or(PasteError::MissingHost)?;
        let (duser, host, dport) = parse_destination(&dest)?;
        let user = self.user.or(duser).unwrap_or_else(|| "root".to_string());
        let port = self.port.or(dport).unwrap_or(22);
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
            identity: self.identity,
            options: self.options,
            ignored: self.ignored,
        })
    }
}

/// A user name from `-l` or `-o User=`.
fn checked_user(value: String) -> Result<String, PasteError> {
    if !valid_user(&value) {
        return Err(PasteError::BadValue {
            what: "user",
            value,
            why: "a user name is letters, digits, '.', '_' and '-'",
        });
    }
    Ok(value)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runpod::default_alias;

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
