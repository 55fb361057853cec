//! Values as ssh parses them: validation in ssh's words, times, ports,
//! forwards, hostnames.

use std::net::IpAddr;

use super::super::keywords::Kind;

/// Validate a single-valued argument by kind. The error text is OpenSSH's.
pub fn validate(kind: Kind, v: &str) -> Result<(), String> {
    // Compared without a lowercased copy: every value of every line is
    // checked, in every host's evaluation.
    let is = |w: &str| v.eq_ignore_ascii_case(w);
    let flag = || is("yes") || is("no") || is("true") || is("false");
    match kind {
        Kind::Flag => flag()
            .then_some(())
            .ok_or_else(|| format!("unsupported option \"{v}\".")),
        Kind::Enum(table) => table
            .iter()
            .any(|(k, _)| is(k))
            .then_some(())
            .ok_or_else(|| format!("unsupported option \"{v}\".")),
        Kind::Int => v
            .parse::<u32>()
            .map(|_| ())
            .map_err(|_| "integer value invalid.".into()),
        // `readconf.c` `parse_time`: exactly `none` is accepted and leaves
        // the option unset (a later line still sets it).
        Kind::Time => (v == "none" || convtime(v).is_some())
            .then_some(())
            .ok_or_else(|| "invalid time value.".into()),
        Kind::ConnectTimeout => {
            // `readconf.c`: exactly `none` (strcmp), not `NONE`.
            if v == "none" || convtime(v).is_some() {
                Ok(())
            } else {
                Err("invalid time value.".into())
            }
        }
        Kind::Port => parse_port(v)
            .map(|_| ())
            .ok_or_else(|| format!("Bad port '{v}'.")),
        Kind::ControlPersist => {
            if flag() || convtime(v).is_some() {
                Ok(())
            } else {
                Err("Bad ControlPersist argument.".into())
            }
        }
        Kind::LogLevel => log_level(v)
            .map(|_| ())
            .ok_or_else(|| format!("unsupported log level '{v}'")),
        _ => Ok(()),
    }
}

/// ssh's refusal of a value it parses for a keyword the evaluator keeps
/// as written (`readconf.c`), in its words; `None` when ssh accepts it.
pub fn other_value_error(name: &str, args: &[&str]) -> Option<String> {
    let v = args.first().copied().unwrap_or_default();
    match name {
        "ipqos" => ipqos_error(args),
        "rekeylimit" => rekeylimit_error(v),
        "tunneldevice" => tunneldevice_error(v),
        "canonicaldomains" => canonicaldomains_error(args),
        "permitremoteopen" => permitremoteopen_error(args),
        "streamlocalbindmask" => streamlocalbindmask_error(v),
        "escapechar" => escapechar_error(v),
        _ => None,
    }
}

/// `parse_ipqos`: a name from its table, or a number 0–255 (two at most).
fn ipqos_error(args: &[&str]) -> Option<String> {
    const NAMES: &[&str] = &[
        "af11",
        "af12",
        "af13",
        "af21",
        "af22",
        "af23",
        "af31",
        "af32",
        "af33",
        "af41",
        "af42",
        "af43",
        "cs0",
        "cs1",
        "cs2",
        "cs3",
        "cs4",
        "cs5",
        "cs6",
        "cs7",
        "ef",
        "le",
        "lowdelay",
        "throughput",
        "reliability",
        "none",
    ];
    let ok = |a: &str| {
        NAMES.contains(&a.to_ascii_lowercase().as_str())
            || c_strtol(a).is_some_and(|n| (0..=255).contains(&n))
    };
    args.iter()
        .take(2)
        .find(|a| !ok(a))
        .map(|a| format!("Bad IPQoS value: {a}"))
}

/// `RekeyLimit`: `default`, or `scan_scaled` bytes of at least 16.
fn rekeylimit_error(v: &str) -> Option<String> {
    if v.eq_ignore_ascii_case("default") {
        return None;
    }
    // scan_scaled: digits, an optional fraction, one unit letter.
    let (num, unit) = match v.char_indices().last() {
        Some((i, c)) if "BKMGTPEbkmgtpe".contains(c) => (&v[..i], &v[i..]),
        _ => (v, ""),
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || (!frac.is_empty() && unit.is_empty())
    {
        return Some(format!("Bad number '{v}': Invalid argument"));
    }
    let n: f64 = num.parse().unwrap_or(0.0);
    let scale = match unit.to_ascii_uppercase().as_str() {
        "K" => 1u64 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        "P" => 1 << 50,
        "E" => 1 << 60,
        _ => 1,
    };
    let bytes = n * scale as f64;
    (bytes != 0.0 && bytes < 16.0).then(|| "RekeyLimit too small".into())
}

/// `a2tun`: `any` or a number, optionally `:` and another.
fn tunneldevice_error(v: &str) -> Option<String> {
    let unit = |s: &str| {
        s.eq_ignore_ascii_case("any")
            || (!s.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit())
                && s.parse::<u32>().is_ok_and(|n| n <= 0x7fff_fffd))
    };
    let ok = match v.split_once(':') {
        Some((l, r)) => unit(l) && unit(r),
        None => unit(v),
    };
    (!ok).then(|| "Bad tun device.".into())
}

/// `misc.c:valid_domain`, the checks ssh makes of a name as written.
fn canonicaldomains_error(args: &[&str]) -> Option<String> {
    args.iter().find_map(|d| {
        let why = if !d.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            "starts with invalid character"
        } else if d.contains("..") {
            "contains consecutive separators"
        } else {
            return None;
        };
        Some(format!("domain name \"{d}\" {why}"))
    })
}

/// `PermitRemoteOpen`: `any`, `none`, or `host:port` entries.
fn permitremoteopen_error(args: &[&str]) -> Option<String> {
    args.iter().find_map(|a| {
        if args.len() == 1 && (a.eq_ignore_ascii_case("any") || a.eq_ignore_ascii_case("none")) {
            return None;
        }
        // hpdelim: `[host]:port` or `host:port`; the port `*` or 1–65535.
        let port = if let Some(rest) = a.strip_prefix('[') {
            rest.split_once(']').and_then(|(_, p)| p.strip_prefix(':'))
        } else {
            a.split_once(':').map(|(_, p)| p)
        };
        match port {
            Some(p) if p == "*" || parse_port(p).is_some() => None,
            _ => Some("bad port number in permitremoteopen".into()),
        }
    })
}

/// `StreamLocalBindMask`: an octal mask up to 0777.
fn streamlocalbindmask_error(v: &str) -> Option<String> {
    // strtol(v, &end, 8): at least one octal digit, at most 0777.
    let octal: String = v.chars().take_while(|c| ('0'..='7').contains(c)).collect();
    let ok = !octal.is_empty() && u32::from_str_radix(&octal, 8).is_ok_and(|m| m <= 0o777);
    (!ok).then(|| "Bad mask.".into())
}

/// `EscapeChar`: `none`, one character, or `^` and a letter.
fn escapechar_error(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let ok = v.eq_ignore_ascii_case("none")
        || b.len() == 1
        || (b.len() == 2 && b[0] == b'^' && (64..127).contains(&b[1]));
    (!ok).then(|| "Bad escape character.".into())
}

/// C `strtol(s, &end, 0)` with nothing left over: decimal, `0x` hex or
/// `0` octal.
pub(super) fn c_strtol(s: &str) -> Option<i64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(digits, radix).ok()
}

/// The first `${NAME}` in `v` that ssh cannot expand (unset, or `${`
/// unterminated), as written; `None` when every one expands.
pub(super) fn dollar_unset(v: &str) -> Option<String> {
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Some(rest[i..].to_string());
        };
        let name = &after[..end];
        if std::env::var_os(name).is_none() {
            return Some(format!("${{{name}}}"));
        }
        rest = &after[end + 1..];
    }
    None
}

/// The first `%` token in `v` that is not in `allowed` (`%%` always is),
/// as `%c`; a trailing lone `%` too.
pub(super) fn unknown_percent(v: &str, allowed: &str) -> Option<String> {
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '%' {
            match it.next() {
                Some('%') => {}
                Some(t) if allowed.contains(t) => {}
                Some(t) => return Some(format!("%{t}")),
                None => return Some("%".into()),
            }
        }
    }
    None
}

/// `misc.c:a2port`: 1–65535, digits only.
pub fn parse_port(v: &str) -> Option<u16> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u16>().ok().filter(|p| *p > 0)
}

/// `misc.c:convtime`: `90`, `1m30s`, `1h` → seconds.
pub fn convtime(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let mult = match c {
            's' | 'S' => 1,
            'm' | 'M' => 60,
            'h' | 'H' => 3600,
            'd' | 'D' => 86400,
            'w' | 'W' => 604800,
            _ => return None,
        };
        if num.is_empty() {
            return None;
        }
        total = total.checked_add(num.parse::<u64>().ok()?.checked_mul(mult)?)?;
        num.clear();
    }
    if !num.is_empty() {
        total = total.checked_add(num.parse::<u64>().ok()?)?;
    }
    (total <= i32::MAX as u64).then_some(total)
}

pub(super) fn log_level(v: &str) -> Option<&'static str> {
    const LEVELS: &[(&str, &str)] = &[
        ("quiet", "QUIET"),
        ("fatal", "FATAL"),
        ("error", "ERROR"),
        ("info", "INFO"),
        ("verbose", "VERBOSE"),
        ("debug", "DEBUG"),
        ("debug1", "DEBUG"),
        ("debug2", "DEBUG2"),
        ("debug3", "DEBUG3"),
    ];
    let lc = v.to_ascii_lowercase();
    LEVELS.iter().find(|(k, _)| *k == lc).map(|(_, p)| *p)
}

pub(super) fn addkeys_print(args: &[String]) -> Option<String> {
    let first = args[0].to_ascii_lowercase();
    let word = match first.as_str() {
        "yes" | "true" => Some("true"),
        "no" | "false" => Some("false"),
        "ask" => Some("ask"),
        "confirm" => Some("confirm"),
        _ => None,
    };
    match (word, args.get(1)) {
        (Some(w), None) => Some(w.to_string()),
        (Some(w), Some(t)) if w != "false" => convtime(t).map(|s| {
            if w == "true" {
                format!("{s}")
            } else {
                format!("{w} {s}")
            }
        }),
        (None, None) => convtime(&args[0]).map(|s| s.to_string()),
        _ => None,
    }
}

/// `%h` and `%%` in HostName.
pub fn expand_hostname(value: &str, host: &str) -> String {
    if !value.contains('%') {
        // Nothing to expand (most HostNames): one copy, no scan per char.
        return value.to_string();
    }
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('h') => out.push_str(host),
                Some('%') => out.push('%'),
                Some(o) => {
                    out.push('%');
                    out.push(o);
                }
                None => out.push('%'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `ssh` lowercases the hostname unless it is an address.
pub fn lower_unless_address(h: &str) -> String {
    if h.parse::<IpAddr>().is_ok() {
        h.to_string()
    } else {
        h.to_ascii_lowercase()
    }
}

/// A forward spec split into printable parts.
pub(super) fn parse_forward<S: AsRef<str>>(
    name: &str,
    args: &[S],
) -> Option<(String, Option<String>)> {
    if !forward_ok(name, args) {
        return None;
    }
    let listen = fwd_listen(args[0].as_ref())?;
    if name == "dynamicforward" {
        return Some((listen, None));
    }
    if args.len() == 1 {
        // A remote dynamic (SOCKS) forward.
        return Some((listen, Some("[socks]:0".to_string())));
    }
    let target = fwd_target(args[1].as_ref())?;
    Some((listen, Some(target)))
}

/// Whether [`parse_forward`] takes the spec, without building its parts:
/// every `LocalForward` line is checked, active or not.
pub(super) fn forward_ok<S: AsRef<str>>(name: &str, args: &[S]) -> bool {
    let listen = args[0].as_ref();
    // readconf.c:parse_forward: listen port 0 only for remote forwards
    // (the server picks one), connect port 0 never.
    let port_zero = if listen.contains('/') {
        listen.rsplit(':').next() == Some("0")
    } else {
        match split_hostport(listen) {
            Some((_, port)) => port == 0,
            None => return false,
        }
    };
    if name != "remoteforward" && port_zero {
        return false;
    }
    if name == "dynamicforward" || args.len() == 1 {
        return true;
    }
    let target = args[1].as_ref();
    (target.contains('/') && !target.contains(':'))
        || matches!(split_hostport(target), Some((Some(_), port)) if port != 0)
}

pub(super) fn fwd_listen(s: &str) -> Option<String> {
    if s.contains('/') {
        return Some(s.to_string());
    }
    match split_hostport(s)? {
        (None, port) => Some(port.to_string()),
        (Some(h), port) => Some(format!("[{}]:{port}", any_host(h))),
    }
}

pub(super) fn fwd_target(s: &str) -> Option<String> {
    if s.contains('/') && !s.contains(':') {
        return Some(s.to_string());
    }
    match split_hostport(s)? {
        (Some(_), 0) => None,
        (Some(h), port) => Some(format!("[{}]:{port}", any_host(h))),
        (None, _) => None,
    }
}

/// An empty bind address is every address.
fn any_host(h: &str) -> &str {
    if h.is_empty() { "*" } else { h }
}

/// `[host]:port`, `host:port` or `port`; the port may be 0 only for listens.
pub(super) fn split_hostport(s: &str) -> Option<(Option<&str>, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let h = &rest[..end];
        let p = rest[end + 1..].strip_prefix(':')?;
        (Some(h), p)
    } else if let Some(i) = s.find(':') {
        // ssh splits an unbracketed spec at every `:` (`hpdelim`): a host
        // with a colon of its own makes too many fields.
        (Some(&s[..i]), &s[i + 1..])
    } else {
        (None, s)
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let p: u16 = port.parse().ok()?;
    Some((host, p))
}
