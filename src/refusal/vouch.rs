//! When `list` may skip the `ssh -G` backstop: every line of the file is
//! one the own check is proven to judge as ssh does, for an ssh the proof
//! covers. Anything else (another keyword, a token or variable to expand,
//! `Include`, `Match`, an encoding other than UTF-8, another ssh) still
//! asks `ssh -G`.

use crate::config::keywords::Keyword;
use crate::config::lexer::LineKind;
use crate::config::{Document, Encoding};

/// Keywords (canonical lowercase names) whose lines the own check judges
/// exactly as OpenSSH 9.x does, in every place a line can stand:
/// `tests/vouch.rs` holds the own check to the real `ssh -G` on a menu of
/// valid, edge and broken values for each.
pub const VOUCHED: &[&str] = &[
    "host",
    "match",
    "hostname",
    "user",
    "port",
    "identityfile",
    "identitiesonly",
    "localforward",
    "remoteforward",
    "dynamicforward",
    "serveraliveinterval",
    "serveralivecountmax",
    "stricthostkeychecking",
    "userknownhostsfile",
    "forwardagent",
    "connecttimeout",
    "loglevel",
    "compression",
    "requesttty",
    "preferredauthentications",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "tcpkeepalive",
    "batchmode",
    "passwordauthentication",
    "pubkeyauthentication",
    "hostkeyalias",
    "forwardx11",
    "forwardx11trusted",
    "exitonforwardfailure",
    "gatewayports",
    "checkhostip",
    "hashknownhosts",
    "updatehostkeys",
    "visualhostkey",
    "identityagent",
    "sendenv",
    "setenv",
];

/// Whether every line of `doc` is one [`VOUCHED`] covers: blank, a
/// comment, or a short vouched line that expands nothing (`%` tokens,
/// `${VAR}`, `~user` and backslash escapes depend on the host, the
/// machine or the version; the proof leaves them to ssh). Limits that span
/// lines or lengths (ssh's 100 identity files, 32 known-hosts files, its
/// forward and path buffers) are kept far away from.
pub fn lines_vouched(doc: &Document) -> bool {
    if doc.encoding() != Encoding::Utf8 {
        return false;
    }
    // IdentityFile lines ssh may count for one host (outside blocks that
    // name plain hosts only): its limit is 100, twice counted with
    // `Match final`.
    let (mut shared_identities, mut plain_block) = (0usize, false);
    let mut known = KnownVouched::default();
    doc.lines().iter().all(|l| match l.kind() {
        LineKind::Blank | LineKind::Comment => true,
        LineKind::Directive(d) => {
            let bytes = l.bytes();
            let vouched = d.error.is_none()
                && d.known.is_some_and(|k| known.vouched(k))
                && expands_nothing(bytes);
            match d.keyword_lc.as_ref() {
                "host" => {
                    plain_block = d
                        .values(bytes)
                        .all(|p| !p.bytes().any(|b| matches!(b, b'*' | b'?' | b'!')));
                    vouched
                }
                "match" => {
                    plain_block = false;
                    vouched && plain_match(&bytes[d.value], d.values(bytes))
                }
                kw => {
                    if kw == "identityfile" && !plain_block {
                        shared_identities += 1;
                    }
                    vouched
                        && bytes.len() <= 100
                        && d.args.as_slice().len() <= 16
                        && shared_identities <= 40
                }
            }
        }
    })
}

/// `VOUCHED.contains(&k.name)`, remembered for the last few table
/// entries seen: a file repeats a handful of keywords, and the list is
/// 39 names compared one by one.
#[derive(Default)]
struct KnownVouched {
    seen: [Option<(&'static Keyword, bool)>; 8],
    next: usize,
}

impl KnownVouched {
    fn vouched(&mut self, k: &'static Keyword) -> bool {
        // Table entries are statics: the same keyword, the same address.
        for (kw, v) in self.seen.iter().flatten() {
            if std::ptr::eq(*kw, k) {
                return *v;
            }
        }
        let v = VOUCHED.contains(&k.name);
        self.seen[self.next] = Some((k, v));
        self.next = (self.next + 1) % self.seen.len();
        v
    }
}

fn expands_nothing(line: &[u8]) -> bool {
    // Most lines hold none of the bytes looked at below (and are ASCII):
    // one branch-free scan per 16 bytes says so.
    let plain = |b: u8| !matches!(b, b'%' | b'$' | b'\\' | b'+' | b'~') && b.is_ascii();
    if line
        .chunks(16)
        .all(|c| c.iter().fold(true, |all, &b| all & plain(b)))
    {
        return true;
    }
    // One pass over the bytes (every line of the file is read here): UTF-8
    // is checked only when a byte is not ASCII.
    let mut ascii = true;
    for (i, &b) in line.iter().enumerate() {
        match b {
            // `+5`: ssh 9.2 reads a sign the own check refuses, 9.8 refuses it.
            b'%' | b'$' | b'\\' | b'+' => return false,
            b'~' if line.get(i + 1) != Some(&b'/') => return false,
            _ => ascii &= b.is_ascii(),
        }
    }
    ascii || std::str::from_utf8(line).is_ok()
}

/// A `Match` line of plain words naming only the criteria the proof
/// covers (never `exec`): no quotes, `=`, comment or backslash in its
/// value, which 9.9 tokenises differently.
fn plain_match<'a>(value: &[u8], mut args: impl Iterator<Item = &'a str>) -> bool {
    if value
        .iter()
        .any(|b| matches!(b, b'"' | b'\'' | b'=' | b'#' | b'\\'))
    {
        return false;
    }
    while let Some(a) = args.next() {
        match a.trim_start_matches('!').to_ascii_lowercase().as_str() {
            "all" | "canonical" | "final" => {}
            "host" | "originalhost" | "user" | "localuser" => {
                args.next();
            }
            _ => return false,
        }
    }
    true
}

/// Whether `ssh -V` names an OpenSSH the proof covers: 9.x (8.5 and 8.6
/// cut a line at any `#`, older ones split lines differently, 8.7 and 8.8
/// know fewer `PubkeyAuthentication` words, 10.0 expands tokens in
/// `User`). Windows' build says `OpenSSH_for_Windows_9.5p1`.
pub fn version_covered(version: &str) -> bool {
    let Some(rest) = version.split("OpenSSH_").nth(1) else {
        return false;
    };
    let rest = rest.strip_prefix("for_Windows_").unwrap_or(rest);
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    major == Some(9) && minor.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `expands_nothing` as it was written before its one-pass form.
    fn expands_nothing_by_passes(line: &[u8]) -> bool {
        std::str::from_utf8(line).is_ok()
            && !line.iter().any(|b| matches!(b, b'%' | b'$' | b'\\' | b'+'))
            && line.windows(2).all(|w| w[0] != b'~' || w[1] == b'/')
            && line.last() != Some(&b'~')
    }

    proptest::proptest! {
        #[test]
        fn expands_nothing_in_one_pass_is_the_three_passes(
            line in proptest::collection::vec(proptest::sample::select(
                b"a~/%$\\+ \t\"#=\xc3\xa9\xff\x80\xe2".to_vec()), 0..40)
        ) {
            proptest::prop_assert_eq!(expands_nothing(&line), expands_nothing_by_passes(&line));
        }
    }

    #[test]
    fn remembered_keywords_are_judged_as_the_list_does() {
        // More keywords than the memory holds, in turns, so entries are
        // replaced and looked up again.
        let names = [
            "host",
            "port",
            "user",
            "hostname",
            "proxycommand",
            "identityfile",
            "include",
            "sendenv",
            "setenv",
            "ciphers",
            "localforward",
            "usekeychain",
            "match",
            "loglevel",
            "pkcs11provider",
            "identitiesonly",
            "controlpath",
            "tag",
        ];
        let mut known = KnownVouched::default();
        for round in 0..5 {
            for i in 0..names.len() {
                // 7 is prime to 18: every name once a round, in a new order.
                let n = names[(i * 7 + round) % names.len()];
                let Some(k) = crate::config::keywords::intern_folded(n.as_bytes()).map(|(_, k)| k)
                else {
                    continue;
                };
                assert_eq!(known.vouched(k), VOUCHED.contains(&k.name), "{n}");
            }
        }
    }

    #[test]
    fn only_openssh_9_x_is_covered() {
        for v in [
            "OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026",
            "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
            "OpenSSH_9.9p2, LibreSSL 3.3.6",
        ] {
            assert!(version_covered(v), "{v}");
        }
        for v in [
            "OpenSSH_8.6p1, OpenSSL 1.1.1k",
            "OpenSSH_8.7p1, OpenSSL 3.0.7",
            "OpenSSH_for_Windows_8.1p1, LibreSSL 3.0.2",
            "OpenSSH_7.7p1",
            "OpenSSH_10.0p2 Debian-7",
            "OpenSSH_",
            "",
            "Sun_SSH_2.4",
        ] {
            assert!(!version_covered(v), "{v}");
        }
    }

    #[test]
    fn only_files_of_vouched_lines_that_expand_nothing_are_vouched() {
        // 10,000 identity files in blocks of plain hosts: ssh counts one host's.
        let many: String = (0..10_000)
            .map(|i| format!("Host h{i}\n  IdentityFile ~/.ssh/k{i}\n"))
            .collect();
        assert!(lines_vouched(&Document::parse(many.as_bytes())));
        let yes = concat!(
            "Match host pod-1.internal !user root\n  Compression yes\nMatch all\n",
            "# pods\nHost runpod-1 pod-1.alias\n    HostName 10.0.0.1\n    Port 20001\n    User=root\n\tIdentityFile \"~/.ssh/id key 1\"\n    LocalForward 30001 localhost:8888   # jupyter\r\nHost *\n  ServerAliveInterval 30\n"
        );
        assert!(lines_vouched(&Document::parse(yes.as_bytes())));
        for extra in [
            "Include other\n",
            "Match exec true\n",
            "Match host=x\n",
            "Match tagged x\n",
            "Match host \"a b\"\n",
            "ProxyCommand nc %h %p\n",
            "Bogus yes\n",
            "IdentityFile %d/.ssh/id\n",
            "IdentityFile ${HOME}/id\n",
            "IdentityFile ~bob/id\n",
            "Port 22 \"unterminated\n",
            "AddKeysToAgent yes\n",
            "ControlPath ~\"bob\"/s\n",
            "ControlPath ~\rbob/s\n",
            "IdentityFile C:\\Users\\me\\id\n",
            "LocalForward 8080 a\\:b:80\n",
            &format!("ControlPath ~/{}\n", "a".repeat(100)),
            &format!("UserKnownHostsFile{}\n", " f".repeat(17)),
            &"IdentityFile ~/.ssh/k\n".repeat(41),
            &format!("Host *\n{}", "IdentityFile ~/.ssh/k\n".repeat(41)),
        ] {
            let text = format!("{yes}{extra}");
            assert!(!lines_vouched(&Document::parse(text.as_bytes())), "{extra}");
        }
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(yes.encode_utf16().flat_map(u16::to_le_bytes));
        assert!(!lines_vouched(&Document::parse(&utf16)));
        let bom = [b"\xEF\xBB\xBF".as_slice(), yes.as_bytes()].concat();
        assert!(!lines_vouched(&Document::parse(&bom)));
    }
}
