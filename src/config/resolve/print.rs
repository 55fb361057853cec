//! What a [`Resolved`] says: accessors, path expansion as ssh does it,
//! and the `ssh -G` dump.

use super::super::keywords::{self, Kind};
use super::values::{
    addkeys_print, convtime, expand_hostname, log_level, lower_unless_address, parse_forward,
    parse_port,
};
use super::{DEFAULT_IDENTITY_FILES, ExpandError, Printed, Resolved, Setting, Source};

/// [`Resolved::into_row`]: the values a `list` row shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowValues {
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub identity_file: Option<String>,
}

impl RowValues {
    /// The row of `host` from the first value of each setting it shows
    /// (as the accessors read them): HostName with `%h` expanded and
    /// lowercased unless an address, the port as ssh parses it.
    pub(super) fn from_first(
        host: &str,
        hostname: Option<String>,
        port: Option<String>,
        user: Option<String>,
        identity_file: Option<String>,
        local_user: &str,
    ) -> RowValues {
        let hostname = match hostname {
            Some(h) if h.contains('%') => expand_hostname(&h, host),
            Some(h) => h,
            None => host.to_string(),
        };
        RowValues {
            // `lower_unless_address`, in place (nothing to lower: the
            // same either way, no address to parse).
            hostname: if !hostname.bytes().any(|b| b.is_ascii_uppercase())
                || hostname.parse::<std::net::IpAddr>().is_ok()
            {
                hostname
            } else {
                let mut h = hostname;
                h.make_ascii_lowercase();
                h
            },
            port: port.as_deref().and_then(parse_port).unwrap_or(22),
            user: user.unwrap_or_else(|| local_user.to_string()),
            identity_file,
        }
    }
}

impl Resolved {
    /// Whether OpenSSH would accept this config.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Every evaluated setting, in the order they were set.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// The winning setting for `keyword` (canonical lowercase name).
    pub fn get(&self, keyword: &str) -> Option<&Setting> {
        let name = keywords::lookup(keyword).map_or(keyword, |k| k.name);
        self.settings.iter().find(|s| s.keyword == name)
    }

    /// All settings for an accumulating keyword, in order.
    pub fn all(&self, keyword: &str) -> Vec<&Setting> {
        let name = keywords::lookup(keyword).map_or(keyword, |k| k.name);
        self.settings.iter().filter(|s| s.keyword == name).collect()
    }

    /// The hostname ssh connects to (HostName with `%h`, lowercased unless
    /// an address), and where it came from.
    pub fn hostname(&self) -> (String, Option<Source>) {
        (
            self.hostname_value(),
            self.get("hostname").map(|s| s.source.clone()),
        )
    }

    /// [`Resolved::hostname`] without its source (`list`: a row per host,
    /// no copy of a path it does not print).
    pub fn hostname_value(&self) -> String {
        match self.get("hostname") {
            Some(s) => lower_unless_address(&expand_hostname(&s.args[0], &self.host)),
            None => lower_unless_address(&self.host),
        }
    }

    /// What a `list` row shows, moved out in one pass over the settings
    /// (no look-up per keyword, no copy): [`Resolved::hostname_value`],
    /// [`Resolved::port_value`], [`Resolved::user_value`] and the first
    /// IdentityFile.
    pub fn into_row(self) -> RowValues {
        let (mut hostname, mut port, mut user, mut identity) = (None, None, None, None);
        for s in self.settings {
            let slot = match s.keyword {
                "hostname" => &mut hostname,
                "port" => &mut port,
                "user" => &mut user,
                "identityfile" => &mut identity,
                _ => continue,
            };
            // The first setting of each wins, as in `get`.
            if slot.is_none() {
                *slot = Some(s.args.into_iter().next());
            }
        }
        RowValues::from_first(
            &self.host,
            hostname.flatten(),
            port.flatten(),
            user.flatten(),
            identity.flatten(),
            &self.ctx.local_user,
        )
    }

    pub fn port(&self) -> (u16, Option<Source>) {
        match self
            .get("port")
            .and_then(|s| parse_port(&s.args[0]).map(|p| (p, s)))
        {
            Some((p, s)) => (p, Some(s.source.clone())),
            None => (22, None),
        }
    }

    /// [`Resolved::port`] without its source.
    pub fn port_value(&self) -> u16 {
        self.get("port")
            .and_then(|s| parse_port(&s.args[0]))
            .unwrap_or(22)
    }

    pub fn user(&self) -> (String, Option<Source>) {
        (
            self.user_value().to_string(),
            self.get("user").map(|s| s.source.clone()),
        )
    }

    /// [`Resolved::user`] without its source.
    pub fn user_value(&self) -> &str {
        match self.get("user") {
            Some(s) => &s.args[0],
            None => &self.ctx.local_user,
        }
    }

    /// Identity files in the order ssh tries them (unexpanded), or the
    /// defaults when none is configured.
    pub fn identity_files(&self) -> Vec<(String, Option<Source>)> {
        let set = self.all("identityfile");
        if set.is_empty() {
            DEFAULT_IDENTITY_FILES
                .iter()
                .map(|p| (p.to_string(), None))
                .collect()
        } else {
            set.iter()
                .map(|s| (s.args[0].clone(), Some(s.source.clone())))
                .collect()
        }
    }

    /// Expand `~`, `${VAR}` and `%` tokens in a path for display (`show`):
    /// as ssh would, or the value as written when ssh would not expand it.
    pub fn expand_path(&self, value: &str) -> String {
        self.expand_path_checked(value, true)
            .unwrap_or_else(|_| value.to_string())
    }

    /// `~` as ssh's `tilde_expand` (misc.c) does it: `~` and `~/…` are the
    /// account's home from the password database, `~user/…` that user's
    /// home; an unknown user is an error ssh stops on.
    pub fn tilde_expand(&self, value: &str) -> Result<String, ExpandError> {
        let Some(rest) = value.strip_prefix('~') else {
            return Ok(value.to_string());
        };
        let (home, path) = match rest.strip_prefix('/') {
            Some(p) => (self.ctx.user_home.to_string_lossy().into_owned(), p),
            None if rest.is_empty() => (self.ctx.user_home.to_string_lossy().into_owned(), ""),
            None => {
                let (user, path) = rest.split_once('/').unwrap_or((rest, ""));
                match crate::platform::home_of(user) {
                    Some(h) => (h.to_string_lossy().into_owned(), path),
                    None => {
                        return Err(ExpandError::Ssh(format!(
                            "tilde_expand: No such user {user} (in {value:?})"
                        )));
                    }
                }
            }
        };
        let path = path.trim_start_matches('/');
        let slash = if home.ends_with('/') { "" } else { "/" };
        Ok(format!("{home}{slash}{path}"))
    }

    /// A path as ssh expands it for `UserKnownHostsFile`, `IdentityFile`,
    /// `IdentityAgent`, `RevokedHostKeys` (ssh.c: `tilde_expand_filename`,
    /// then `default_client_percent_dollar_expand` with
    /// `DEFAULT_CLIENT_PERCENT_EXPAND_ARGS`). `tokens` false: `~` only, as
    /// for `GlobalKnownHostsFile`.
    pub fn expand_path_checked(&self, value: &str, tokens: bool) -> Result<String, ExpandError> {
        let tilde = self.tilde_expand(value)?;
        if !tokens {
            return Ok(tilde);
        }
        let mut out = String::new();
        let mut missing = None;
        let mut rest = tilde.as_str();
        while let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
            if c == '$' && rest.starts_with('{') {
                let body = &rest[1..];
                let Some(end) = body.find('}') else {
                    return Err(ExpandError::Ssh(format!(
                        "environment variable '{body}' missing closing '}}' in {value:?}"
                    )));
                };
                let name = &body[..end];
                if name.is_empty() {
                    return Err(ExpandError::Ssh(format!(
                        "zero-length environment variable in {value:?}"
                    )));
                }
                match std::env::var_os(name) {
                    Some(v) => out.push_str(&v.to_string_lossy()),
                    None => missing = missing.or(Some(name.to_string())),
                }
                rest = &body[end + 1..];
                continue;
            }
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(t) = rest.chars().next() else {
                return Err(ExpandError::Ssh(format!(
                    "percent_expand: invalid format (a % at the end of {value:?})"
                )));
            };
            rest = &rest[t.len_utf8()..];
            out.push_str(&self.token(t, value)?);
        }
        match missing {
            Some(name) => Err(ExpandError::Ssh(format!(
                "env var ${{{name}}} has no value: invalid environment variable expansion in {value:?}"
            ))),
            None => Ok(out),
        }
    }

    /// One `%` token of `DEFAULT_CLIENT_PERCENT_EXPAND_ARGS`.
    fn token(&self, t: char, value: &str) -> Result<String, ExpandError> {
        let (hostname, _) = self.hostname();
        let thishost = || {
            crate::platform::local_hostname().ok_or_else(|| {
                ExpandError::Unknown(format!(
                    "%{t} in {value:?} is this machine's host name, which runpod-ssh could not read"
                ))
            })
        };
        Ok(match t {
            '%' => "%".into(),
            'h' => hostname,
            'p' => self.port().0.to_string(),
            'r' => {
                let u = self.user().0;
                if u.contains('%') || u.contains("${") {
                    return Err(ExpandError::Unknown(format!(
                        "%r in {value:?} is the User after ssh expands its own tokens, which runpod-ssh does not reproduce"
                    )));
                }
                u
            }
            'u' => self.ctx.local_user.clone(),
            'd' => self.ctx.user_home.to_string_lossy().into_owned(),
            'n' => self.host.clone(),
            // ssh lowercases HostKeyAlias; without one, the alias as typed.
            'k' => self
                .get("hostkeyalias")
                .map(|s| s.args[0].to_ascii_lowercase())
                .unwrap_or_else(|| self.host.clone()),
            'i' => self.ctx.uid.to_string(),
            'l' => thishost()?,
            'L' => {
                let h = thishost()?;
                h.split('.').next().unwrap_or_default().to_string()
            }
            'C' => {
                if self
                    .get("proxyjump")
                    .is_some_and(|s| !s.args[0].eq_ignore_ascii_case("none"))
                {
                    return Err(ExpandError::Unknown(format!(
                        "%C in {value:?} hashes the ProxyJump host as ssh parsed it, which runpod-ssh does not reproduce"
                    )));
                }
                let r = self.token('r', value)?;
                use sha1::Digest;
                let mut h = sha1::Sha1::new();
                for part in [thishost()?, hostname, self.port().0.to_string(), r] {
                    h.update(part.as_bytes());
                }
                h.finalize().iter().map(|b| format!("{b:02x}")).collect()
            }
            // %j arrived in OpenSSH 9.5; older clients refuse it.
            'j' => {
                return Err(ExpandError::Unknown(format!(
                    "%j in {value:?} means different things to different ssh versions (unknown before 9.5)"
                )));
            }
            o => {
                return Err(ExpandError::Ssh(format!(
                    "percent_expand: unknown key %{o} in {value:?}"
                )));
            }
        })
    }

    /// The evaluation in `ssh -G`'s form: `host`, `user`, `hostname`,
    /// `port`, then every keyword the config set, each with its source.
    pub fn print(&self) -> Vec<Printed> {
        let mut out = Vec::new();
        let mut put = |k: &str, v: String, s: Option<Source>| {
            out.push(Printed {
                keyword: k.to_string(),
                value: v,
                source: s,
            })
        };
        put("host", self.host.clone(), None);
        let (u, us) = self.user();
        put("user", u, us);
        let (h, hs) = self.hostname();
        put("hostname", h, hs);
        let (p, ps) = self.port();
        put("port", p.to_string(), ps);
        let mut seen: Vec<&'static str> = Vec::new();
        for s in &self.settings {
            if !seen.contains(&s.keyword) {
                seen.push(s.keyword);
            }
        }
        if !seen.contains(&"identityfile") {
            seen.push("identityfile");
        }
        for kw in seen {
            if matches!(kw, "hostname" | "port" | "user") {
                continue;
            }
            let Some(k) = keywords::lookup(kw) else {
                continue;
            };
            if kw == "identityfile" {
                for (f, s) in self.identity_files() {
                    put(kw, f, s);
                }
                continue;
            }
            for s in self.all(kw) {
                let src = Some(s.source.clone());
                match k.kind {
                    Kind::Append | Kind::SendEnv => put(kw, s.args[0].clone(), src),
                    Kind::LineList => {
                        for a in &s.args {
                            put(kw, a.clone(), src.clone());
                        }
                    }
                    Kind::PathLineList => {
                        let v: Vec<String> = s
                            .args
                            .iter()
                            .map(|a| {
                                if a.eq_ignore_ascii_case("none") {
                                    a.clone()
                                } else {
                                    self.expand_path(a)
                                }
                            })
                            .collect();
                        put(kw, v.join(" "), src);
                    }
                    Kind::OneLineList | Kind::Other => put(kw, s.args.join(" "), src),
                    Kind::Forward | Kind::DynamicForward => {
                        if let Some((l, t)) = parse_forward(kw, &s.args) {
                            put(kw, t.map_or(l.clone(), |t| format!("{l} {t}")), src);
                        }
                    }
                    _ => put(kw, print_single(k.kind, kw, &s.args, self), src),
                }
            }
        }
        out
    }
}

fn print_single(kind: Kind, kw: &str, args: &[String], r: &Resolved) -> String {
    let v = &args[0];
    let lc = v.to_ascii_lowercase();
    match kind {
        Kind::Flag => match lc.as_str() {
            "yes" | "true" => "yes".into(),
            _ => "no".into(),
        },
        Kind::Enum(t) => t
            .iter()
            .find(|(k, _)| *k == lc)
            .map_or(v.clone(), |(_, p)| p.to_string()),
        Kind::Time => convtime(v).map_or(v.clone(), |s| s.to_string()),
        Kind::ConnectTimeout => {
            if lc == "none" {
                "none".into()
            } else {
                convtime(v).map_or(v.clone(), |s| s.to_string())
            }
        }
        Kind::ControlPersist => match lc.as_str() {
            "yes" | "true" => "yes".into(),
            "no" | "false" => "no".into(),
            _ => match convtime(v) {
                Some(0) => "yes".into(),
                Some(s) => s.to_string(),
                None => v.clone(),
            },
        },
        Kind::LogLevel => log_level(v).unwrap_or("INFO").to_string(),
        Kind::AddKeysToAgent => addkeys_print(args).unwrap_or_else(|| v.clone()),
        Kind::ForwardAgent => match lc.as_str() {
            "yes" | "true" => "yes".into(),
            "no" | "false" => "no".into(),
            _ => r.expand_path(v),
        },
        Kind::ExpandedPath => {
            if kw == "identityagent" && (lc == "none" || lc == "ssh_auth_sock") {
                v.clone()
            } else {
                r.expand_path(v)
            }
        }
        Kind::ProxyJump => print_proxyjump(v),
        // ssh lowercases the alias it looks host keys up under.
        _ if kw == "hostkeyalias" => v.to_ascii_lowercase(),
        _ => v.clone(),
    }
}

/// `ssh -G` prints the last hop of ProxyJump normalised: a numeric host in
/// brackets, the port only when given.
fn print_proxyjump(v: &str) -> String {
    if v.eq_ignore_ascii_case("none") {
        return "none".into();
    }
    let (extra, last) = match v.rfind(',') {
        Some(i) if i > 0 => (Some(&v[..i]), &v[i + 1..]),
        _ => (None, v),
    };
    let last = last.strip_prefix("ssh://").unwrap_or(last);
    let (user, hp) = match last.rfind('@') {
        Some(i) => (Some(&last[..i]), &last[i + 1..]),
        None => (None, last),
    };
    let (host, port) = if let Some(rest) = hp.strip_prefix('[') {
        match rest.find(']') {
            Some(e) => (
                &rest[..e],
                rest[e + 1..].strip_prefix(':').and_then(parse_port),
            ),
            None => (hp, None),
        }
    } else {
        match hp.rfind(':') {
            Some(i) if hp[..i].find(':').is_none() => (&hp[..i], parse_port(&hp[i + 1..])),
            _ => (hp, None),
        }
    };
    let numeric = host.contains(':') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let mut out = String::new();
    if let Some(e) = extra {
        out.push_str(e);
        out.push(',');
    }
    if let Some(u) = user {
        out.push_str(u);
        out.push('@');
    }
    if numeric {
        out.push_str(&format!("[{host}]"));
    } else {
        out.push_str(host);
    }
    if let Some(p) = port {
        out.push_str(&format!(":{p}"));
    }
    out
}
