//! The keywords OpenSSH 9.2's client knows (`readconf.c` `keywords[]`, plus
//! Debian's GSSAPI additions), how each one accumulates, and how `ssh -G`
//! prints its value.
//!
//! The print tables were read off `ssh -G` (9.2) value by value, not copied
//! from the manual: e.g. `StrictHostKeyChecking yes` prints `true` while
//! `IdentitiesOnly true` prints `yes`.

/// How a keyword's value is validated, stored and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `yes|no|true|false` (any case) → `yes|no`.
    Flag,
    /// A fixed set of words (matched case-insensitively) → the word `ssh -G` prints.
    Enum(&'static [(&'static str, &'static str)]),
    /// A non-negative integer.
    Int,
    /// A time (`30`, `1m`, `1h30m`) → seconds.
    Time,
    /// 1–65535.
    Port,
    /// One argument, printed as given.
    Str,
    /// One argument, printed with `~` and `%` tokens expanded.
    ExpandedPath,
    /// The raw rest of the line.
    Command,
    /// Appended across lines, duplicates dropped (IdentityFile).
    IdentityFile,
    /// Appended across lines (CertificateFile).
    Append,
    /// `LocalForward`/`RemoteForward`: `[bind:]port host:hostport`.
    Forward,
    /// `DynamicForward`: `[bind:]port`.
    DynamicForward,
    /// `SendEnv`: appended, `-NAME` removes.
    SendEnv,
    /// The first line wins; all its arguments kept, printed one per line.
    LineList,
    /// The first line wins; all its arguments kept, printed on one line with
    /// `~` and `%` tokens expanded (known hosts files).
    PathLineList,
    /// The first line wins; all its arguments kept, printed on one line.
    OneLineList,
    /// Special-cased by the evaluator.
    Host,
    Match,
    Include,
    IgnoreUnknown,
    ProxyJump,
    AddKeysToAgent,
    ForwardAgent,
    ControlPersist,
    LogLevel,
    /// `ConnectTimeout`: a time, or `none`.
    ConnectTimeout,
    /// Accepted and ignored by 9.2 (`Deprecated option`, `Unsupported option`).
    Ignored,
    /// Known to 9.2 but not modelled here: the first argument is kept as it is.
    Other,
}

const YESNOASK: &[(&str, &str)] = &[
    ("yes", "true"),
    ("true", "true"),
    ("no", "false"),
    ("false", "false"),
    ("ask", "ask"),
];
const STRICT: &[(&str, &str)] = &[
    ("yes", "true"),
    ("true", "true"),
    ("no", "false"),
    ("false", "false"),
    ("off", "false"),
    ("ask", "ask"),
    ("accept-new", "accept-new"),
];
const CONTROLMASTER: &[(&str, &str)] = &[
    ("yes", "true"),
    ("true", "true"),
    ("no", "false"),
    ("false", "false"),
    ("ask", "ask"),
    ("auto", "auto"),
    ("autoask", "autoask"),
];
const REQUESTTTY: &[(&str, &str)] = &[
    ("yes", "true"),
    ("true", "true"),
    ("no", "false"),
    ("false", "false"),
    ("force", "force"),
    ("auto", "auto"),
];
const CANONICALIZE: &[(&str, &str)] = &[
    ("yes", "true"),
    ("true", "true"),
    ("no", "false"),
    ("false", "false"),
    ("always", "always"),
];
const PUBKEYAUTH: &[(&str, &str)] = &[
    ("yes", "true"),
    ("true", "true"),
    ("no", "false"),
    ("false", "false"),
    ("unbound", "unbound"),
    ("host-bound", "host-bound"),
];
const TUNNEL: &[(&str, &str)] = &[
    ("yes", "point-to-point"),
    ("true", "point-to-point"),
    ("no", "false"),
    ("false", "false"),
    ("ethernet", "ethernet"),
    ("point-to-point", "point-to-point"),
];
const ADDRESSFAMILY: &[(&str, &str)] = &[("inet", "inet"), ("inet6", "inet6"), ("any", "any")];
const SESSIONTYPE: &[(&str, &str)] = &[
    ("none", "none"),
    ("subsystem", "subsystem"),
    ("default", "default"),
];
const COMPRESSION: &[(&str, &str)] = &[("yes", "yes"), ("no", "no")];
const FINGERPRINT: &[(&str, &str)] = &[("md5", "MD5"), ("sha256", "SHA256")];

/// A known keyword: its canonical (printed) name and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword {
    /// The name `ssh -G` prints (aliases map to their target).
    pub name: &'static str,
    pub kind: Kind,
}

macro_rules! kw {
    ($($alias:literal => $name:literal : $kind:expr),* $(,)?) => {
        const TABLE: &[(&str, Keyword)] = &[$(($alias, Keyword { name: $name, kind: $kind })),*];
    };
}

use Kind::*;

kw! {
    "host" => "host": Host,
    "match" => "match": Match,
    "include" => "include": Include,
    "ignoreunknown" => "ignoreunknown": IgnoreUnknown,
    "hostname" => "hostname": Str,
    "user" => "user": Str,
    "port" => "port": Port,
    "identityfile" => "identityfile": IdentityFile,
    "identityfile2" => "identityfile": IdentityFile,
    "certificatefile" => "certificatefile": Append,
    "identitiesonly" => "identitiesonly": Flag,
    "identityagent" => "identityagent": ExpandedPath,
    "addkeystoagent" => "addkeystoagent": AddKeysToAgent,
    "forwardagent" => "forwardagent": ForwardAgent,
    "hostkeyalias" => "hostkeyalias": Str,
    "proxycommand" => "proxycommand": Command,
    "proxyjump" => "proxyjump": ProxyJump,
    "localcommand" => "localcommand": Command,
    "remotecommand" => "remotecommand": Command,
    "knownhostscommand" => "knownhostscommand": Command,
    "localforward" => "localforward": Forward,
    "remoteforward" => "remoteforward": Forward,
    "dynamicforward" => "dynamicforward": DynamicForward,
    "sendenv" => "sendenv": SendEnv,
    "setenv" => "setenv": LineList,
    "userknownhostsfile" => "userknownhostsfile": PathLineList,
    "globalknownhostsfile" => "globalknownhostsfile": PathLineList,
    "canonicaldomains" => "canonicaldomains": OneLineList,
    "canonicalizepermittedcnames" => "canonicalizepermittedcnames": Other,
    "permitremoteopen" => "permitremoteopen": Other,
    "logverbose" => "logverbose": OneLineList,
    "controlpath" => "controlpath": ExpandedPath,
    "controlmaster" => "controlmaster": Enum(CONTROLMASTER),
    "controlpersist" => "controlpersist": ControlPersist,
    "stricthostkeychecking" => "stricthostkeychecking": Enum(STRICT),
    "serveraliveinterval" => "serveraliveinterval": Time,
    "serveralivecountmax" => "serveralivecountmax": Int,
    "connecttimeout" => "connecttimeout": ConnectTimeout,
    "connectionattempts" => "connectionattempts": Int,
    "numberofpasswordprompts" => "numberofpasswordprompts": Int,
    "canonicalizemaxdots" => "canonicalizemaxdots": Int,
    "forwardx11timeout" => "forwardx11timeout": Time,
    "loglevel" => "loglevel": LogLevel,
    "addressfamily" => "addressfamily": Enum(ADDRESSFAMILY),
    "batchmode" => "batchmode": Flag,
    "canonicalizefallbacklocal" => "canonicalizefallbacklocal": Flag,
    "canonicalizehostname" => "canonicalizehostname": Enum(CANONICALIZE),
    "checkhostip" => "checkhostip": Flag,
    "compression" => "compression": Enum(COMPRESSION),
    "enablesshkeysign" => "enablesshkeysign": Flag,
    "clearallforwardings" => "clearallforwardings": Flag,
    "exitonforwardfailure" => "exitonforwardfailure": Flag,
    "fingerprinthash" => "fingerprinthash": Enum(FINGERPRINT),
    "forwardx11" => "forwardx11": Flag,
    "forwardx11trusted" => "forwardx11trusted": Flag,
    "gatewayports" => "gatewayports": Flag,
    "gssapiauthentication" => "gssapiauthentication": Flag,
    "gssapidelegatecredentials" => "gssapidelegatecredentials": Flag,
    "hashknownhosts" => "hashknownhosts": Flag,
    "hostbasedauthentication" => "hostbasedauthentication": Flag,
    "kbdinteractiveauthentication" => "kbdinteractiveauthentication": Flag,
    "challengeresponseauthentication" => "kbdinteractiveauthentication": Flag,
    "skeyauthentication" => "kbdinteractiveauthentication": Flag,
    "tisauthentication" => "kbdinteractiveauthentication": Flag,
    "nohostauthenticationforlocalhost" => "nohostauthenticationforlocalhost": Flag,
    "passwordauthentication" => "passwordauthentication": Flag,
    "permitlocalcommand" => "permitlocalcommand": Flag,
    "proxyusefdpass" => "proxyusefdpass": Flag,
    "pubkeyauthentication" => "pubkeyauthentication": Enum(PUBKEYAUTH),
    "dsaauthentication" => "pubkeyauthentication": Enum(PUBKEYAUTH),
    "requesttty" => "requesttty": Enum(REQUESTTTY),
    "sessiontype" => "sessiontype": Enum(SESSIONTYPE),
    "stdinnull" => "stdinnull": Flag,
    "forkafterauthentication" => "forkafterauthentication": Flag,
    "streamlocalbindunlink" => "streamlocalbindunlink": Flag,
    "tcpkeepalive" => "tcpkeepalive": Flag,
    "keepalive" => "tcpkeepalive": Flag,
    "tunnel" => "tunnel": Enum(TUNNEL),
    "verifyhostkeydns" => "verifyhostkeydns": Enum(YESNOASK),
    "visualhostkey" => "visualhostkey": Flag,
    "updatehostkeys" => "updatehostkeys": Enum(YESNOASK),
    "enableescapecommandline" => "enableescapecommandline": Flag,
    "bindaddress" => "bindaddress": Str,
    "bindinterface" => "bindinterface": Str,
    "ciphers" => "ciphers": Other,
    "macs" => "macs": Other,
    "kexalgorithms" => "kexalgorithms": Other,
    "hostkeyalgorithms" => "hostkeyalgorithms": Other,
    "hostbasedacceptedalgorithms" => "hostbasedacceptedalgorithms": Other,
    "hostbasedkeytypes" => "hostbasedacceptedalgorithms": Other,
    "pubkeyacceptedalgorithms" => "pubkeyacceptedalgorithms": Other,
    "pubkeyacceptedkeytypes" => "pubkeyacceptedalgorithms": Other,
    "casignaturealgorithms" => "casignaturealgorithms": Other,
    "kbdinteractivedevices" => "kbdinteractivedevices": Str,
    "preferredauthentications" => "preferredauthentications": Str,
    "pkcs11provider" => "pkcs11provider": Str,
    "smartcarddevice" => "pkcs11provider": Str,
    "securitykeyprovider" => "securitykeyprovider": Str,
    "revokedhostkeys" => "revokedhostkeys": Str,
    "xauthlocation" => "xauthlocation": Str,
    "escapechar" => "escapechar": Other,
    "ipqos" => "ipqos": Other,
    "rekeylimit" => "rekeylimit": Other,
    "streamlocalbindmask" => "streamlocalbindmask": Other,
    "syslogfacility" => "syslogfacility": Other,
    "tunneldevice" => "tunneldevice": Other,
    "requiredrsasize" => "requiredrsasize": Int,
    "gssapikeyexchange" => "gssapikeyexchange": Other,
    "gssapitrustdns" => "gssapitrustdns": Other,
    "gssapiclientidentity" => "gssapiclientidentity": Other,
    "gssapiserveridentity" => "gssapiserveridentity": Other,
    "gssapirenewalforcesrekey" => "gssapirenewalforcesrekey": Other,
    "gssapikexalgorithms" => "gssapikexalgorithms": Other,
    "protocolkeepalives" => "serveraliveinterval": Time,
    "setuptimeout" => "connecttimeout": ConnectTimeout,
    "protocol" => "protocol": Ignored,
    "cipher" => "cipher": Ignored,
    "fallbacktorsh" => "fallbacktorsh": Ignored,
    "globalknownhostsfile2" => "globalknownhostsfile2": Ignored,
    "rhostsauthentication" => "rhostsauthentication": Ignored,
    "userknownhostsfile2" => "userknownhostsfile2": Ignored,
    "useroaming" => "useroaming": Ignored,
    "usersh" => "usersh": Ignored,
    "useprivilegedport" => "useprivilegedport": Ignored,
    "useblacklistedkeys" => "useblacklistedkeys": Ignored,
    "afstokenpassing" => "afstokenpassing": Ignored,
    "kerberosauthentication" => "kerberosauthentication": Ignored,
    "kerberostgtpassing" => "kerberostgtpassing": Ignored,
    "rsaauthentication" => "rsaauthentication": Ignored,
    "rhostsrsaauthentication" => "rhostsrsaauthentication": Ignored,
    "compressionlevel" => "compressionlevel": Ignored,
}

/// Look a keyword up, case-insensitively. `None`: OpenSSH 9.2 would say
/// "Bad configuration option".
pub fn lookup(keyword: &str) -> Option<Keyword> {
    let map = map();
    if keyword.bytes().any(|b| b.is_ascii_uppercase()) {
        map.get(keyword.to_ascii_lowercase().as_str()).copied()
    } else {
        map.get(keyword).copied()
    }
}

// Fx (eight bytes a step) rather than FNV (one): the lexer looks up the
// keyword of every line of every file parsed.
type Map = std::collections::HashMap<&'static str, Keyword, crate::hash::Fx>;

fn map() -> &'static Map {
    static MAP: std::sync::OnceLock<Map> = std::sync::OnceLock::new();
    MAP.get_or_init(|| TABLE.iter().copied().collect())
}

/// FNV-1a: every config line looks its keyword up (twice), and SipHash's
/// flooding resistance buys nothing for a fixed table of short keys.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Keywords only Apple's build of ssh knows (macOS `/usr/bin/ssh`,
/// `readconf.c` under `__APPLE_KEYCHAIN__`), with the spelling runpod-ssh
/// writes them in. Every other ssh stops at them ("Bad configuration
/// option"), unless an `IgnoreUnknown` met earlier names them.
pub const APPLE_ONLY: &[(&str, Keyword)] = &[(
    "UseKeychain",
    Keyword {
        name: "usekeychain",
        kind: Kind::Flag,
    },
)];

/// An Apple-only keyword (lowercase), for an evaluator judging as Apple's ssh.
pub fn apple_only(keyword_lc: &str) -> Option<Keyword> {
    APPLE_ONLY
        .iter()
        .find(|(_, k)| k.name.eq_ignore_ascii_case(keyword_lc))
        .map(|(_, k)| *k)
}

/// The table's own spelling of `token` lowercased (ASCII, aliases
/// included) and its entry, so the lexer keeps both without allocating:
/// the map's entry for the lowercase copy (the same address), without
/// making that copy and checking it is UTF-8 first — the lexer looks up
/// the keyword of every line of every file it reads. A token that is not
/// ASCII, or not a keyword, finds nothing.
pub fn intern_folded(token: &[u8]) -> Option<(&'static str, &'static Keyword)> {
    let f = folded();
    if token.len() > f.longest {
        return None;
    }
    let mask = f.slots.len() - 1;
    let mut i = fold_hash(token) & mask;
    // The table is at most a quarter full: a run ends at an empty slot.
    loop {
        let (k, v) = f.slots[i]?;
        if k.as_bytes().eq_ignore_ascii_case(token) {
            return Some((k, v));
        }
        i = (i + 1) & mask;
    }
}

/// The map's entries by [`fold_hash`], open addressing.
struct Folded {
    slots: Box<[Option<(&'static str, &'static Keyword)>]>,
    longest: usize,
}

fn folded() -> &'static Folded {
    static FOLDED: std::sync::OnceLock<Folded> = std::sync::OnceLock::new();
    FOLDED.get_or_init(|| {
        let map = map();
        let size = (map.len() * 4).next_power_of_two();
        let mut slots = vec![None; size].into_boxed_slice();
        for (k, v) in map.iter() {
            let mut i = fold_hash(k.as_bytes()) & (size - 1);
            while slots[i].is_some() {
                i = (i + 1) & (size - 1);
            }
            slots[i] = Some((*k, v));
        }
        let longest = map.keys().map(|k| k.len()).max().unwrap_or(0);
        Folded { slots, longest }
    })
}

/// A hash of `b` that ignores ASCII case: the case bit (0x20) is set in
/// every byte first, so `HostName` and `hostname` meet (other bytes that
/// differ only there collide too; the comparison after decides).
fn fold_hash(b: &[u8]) -> usize {
    const CASE: u64 = 0x2020_2020_2020_2020;
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ (w | CASE)).wrapping_mul(0x517c_c1b7_2722_0a95);
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    let mut w = [0u8; 8];
    w[..rest.len()].copy_from_slice(rest);
    h = mix(h, u64::from_le_bytes(w));
    // The low bits pick the slot: fold the high ones in.
    (h ^ (h >> 29) ^ (h >> 47)) as usize
}

/// The canonical spelling used when runpod-ssh writes a keyword.
pub fn canonical_case(name: &str) -> &'static str {
    const CASED: &[&str] = &[
        "Host",
        "Match",
        "Include",
        "HostName",
        "User",
        "Port",
        "IdentityFile",
        "IdentitiesOnly",
        "IdentityAgent",
        "CertificateFile",
        "HostKeyAlias",
        "UserKnownHostsFile",
        "GlobalKnownHostsFile",
        "StrictHostKeyChecking",
        "ServerAliveInterval",
        "ServerAliveCountMax",
        "ConnectTimeout",
        "LocalForward",
        "RemoteForward",
        "DynamicForward",
        "ForwardAgent",
        "AddKeysToAgent",
        "Compression",
        "SetEnv",
        "SendEnv",
        "LogLevel",
        "RequestTTY",
        "RemoteCommand",
        "TCPKeepAlive",
        "PreferredAuthentications",
        "PubkeyAuthentication",
        "PasswordAuthentication",
        "BatchMode",
        "ControlMaster",
        "ControlPath",
        "ControlPersist",
        "ExitOnForwardFailure",
        "ConnectionAttempts",
        "AddressFamily",
    ];
    CASED
        .iter()
        .find(|c| c.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or("")
}

/// Keywords whose values are file paths: written with forward slashes.
pub fn is_path_keyword(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "identityfile"
            | "certificatefile"
            | "userknownhostsfile"
            | "globalknownhostsfile"
            | "identityagent"
            | "controlpath"
            | "include"
            | "revokedhostkeys"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_case() {
        assert_eq!(lookup("HostName").map(|k| k.name), Some("hostname"));
        assert_eq!(
            lookup("ChallengeResponseAuthentication").map(|k| k.name),
            Some("kbdinteractiveauthentication")
        );
        assert!(lookup("Frobnicate").is_none());
        assert_eq!(canonical_case("hostname"), "HostName");
        assert!(is_path_keyword("IdentityFile"));
        assert!(!is_path_keyword("User"));
    }

    #[test]
    fn apple_keywords_are_not_upstream_ones() {
        assert!(lookup("usekeychain").is_none());
        assert_eq!(apple_only("usekeychain").map(|k| k.kind), Some(Kind::Flag));
        assert!(apple_only("hostname").is_none());
        // `add`'s endpoint scan compares the lexer's entry names with
        // these two: no alias may map to them.
        for (alias, k) in TABLE {
            if matches!(k.name, "hostname" | "port") {
                assert_eq!(*alias, k.name);
            }
        }
    }

    /// `intern_folded` finds the map's entry for the lowercase token, the
    /// very same entry, for every keyword in any case, and nothing for the
    /// near misses a case-bit hash lets collide.
    #[test]
    fn folded_lookup_is_the_maps_entry_of_the_lowercase() {
        let same = |t: &[u8]| {
            let lc = t.to_ascii_lowercase();
            let want = (std::str::from_utf8(&lc).ok())
                .and_then(|lc| map().get_key_value(lc))
                .map(|(k, v)| (*k, v));
            let got = intern_folded(t);
            match (want, got) {
                (Some((a, x)), Some((b, y))) => {
                    assert!(a == b && std::ptr::eq(x, y), "{t:?}")
                }
                (None, None) => {}
                (w, g) => panic!("{:?}: {w:?} vs {g:?}", String::from_utf8_lossy(t)),
            }
        };
        for (k, _) in map().iter() {
            let upper = k.to_ascii_uppercase();
            let mixed: String = k
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            for t in [k.to_string(), upper, mixed] {
                same(t.as_bytes());
                assert!(intern_folded(t.as_bytes()).is_some(), "{t}");
                // One byte more, one less, the case bit of a non-letter.
                same(format!("{t}x").as_bytes());
                same(&t.as_bytes()[..t.len() - 1]);
                same(t.replace('a', "A").replace('s', "\x13").as_bytes());
                let mut b = t.clone().into_bytes();
                b[0] ^= 0x20;
                same(&b);
                b[0] = b[0].wrapping_sub(0x20) & 0x7f;
                same(&b);
            }
        }
        for t in [
            &b""[..],
            b"@ost",
            b"HOST\xc3\xa9",
            b"hostname\0",
            b"\xff\xfe",
            &[b'h'; 200],
            "HöstName".as_bytes(),
            b"[OST",
        ] {
            same(t);
        }
    }
}
