//! Port forwards in a paste (`-L`, `-R`, `-D`, `-o LocalForward=…`):
//! split and checked field by field as OpenSSH's `parse_forward` does, and
//! accepted only when ssh would read both the flag and the config line
//! written for it.

use std::net::IpAddr;

use super::paste::{PasteError, valid_host};

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
pub(super) fn forward_value(flag: char, spec: &str) -> Result<String, PasteError> {
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
