//! When `list` may skip the `ssh -G` backstop: every line of the file is
//! one the own check is proven to judge as ssh does, for an ssh the proof
//! covers. Anything else (another keyword, a token or variable to expand,
//! `Include`, `Match`, an encoding other than UTF-8, another ssh) still
//! asks `ssh -G`.

use crate::config::lexer::LineKind;
use crate::config::{Document, Encoding};

/// Keywords (canonical lowercase names) whose lines the own check judges
/// exactly as OpenSSH 8.7–9.x does, in every place a line can stand:
/// `tests/vouch.rs` holds the own check to the real `ssh -G` on a menu of
/// valid, edge and broken values for each.
pub const VOUCHED: &[&str] = &[
    "host",
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
    "addkeystoagent",
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
/// comment, or a vouched keyword whose line expands nothing (`%` tokens,
/// `${VAR}`, `~user` depend on the host and the machine; the proof leaves
/// them to ssh).
pub fn lines_vouched(doc: &Document) -> bool {
    doc.encoding() == Encoding::Utf8
        && doc.lines().iter().all(|l| match l.kind() {
            LineKind::Blank | LineKind::Comment => true,
            LineKind::Directive(d) => {
                d.error.is_none()
                    && d.known.is_some_and(|k| VOUCHED.contains(&k.name))
                    && expands_nothing(l.bytes())
            }
        })
}

fn expands_nothing(line: &[u8]) -> bool {
    std::str::from_utf8(line).is_ok()
        && !line.iter().any(|b| matches!(b, b'%' | b'$'))
        && line
            .windows(2)
            .all(|w| w[0] != b'~' || matches!(w[1], b'/' | b' ' | b'\t' | b'"' | b'\r'))
}

/// Whether `ssh -V` names an OpenSSH the proof covers: 8.7 to 9.x (8.5
/// and 8.6 cut a line at any `#`, older ones split lines differently,
/// 10.0 expands tokens in `User`). Windows' build says
/// `OpenSSH_for_Windows_9.5p1`.
pub fn version_covered(version: &str) -> bool {
    let Some(rest) = version.split("OpenSSH_").nth(1) else {
        return false;
    };
    let rest = rest.strip_prefix("for_Windows_").unwrap_or(rest);
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    matches!((major, minor), (Some(8), Some(7..)) | (Some(9), Some(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_8_7_to_9_x_are_covered_others_are_not() {
        for v in [
            "OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026",
            "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
            "OpenSSH_8.7p1, OpenSSL 3.0.7",
            "OpenSSH_9.9p2, LibreSSL 3.3.6",
        ] {
            assert!(version_covered(v), "{v}");
        }
        for v in [
            "OpenSSH_8.6p1, OpenSSL 1.1.1k",
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
        let yes = "# pods\nHost runpod-1 pod-1.alias\n    HostName 10.0.0.1\n    Port 20001\n    User=root\n\tIdentityFile \"~/.ssh/id key 1\"\n    LocalForward 30001 localhost:8888   # jupyter\r\nHost *\n  ServerAliveInterval 30\n";
        assert!(lines_vouched(&Document::parse(yes.as_bytes())));
        for extra in [
            "Include other\n",
            "Match host x\n",
            "ProxyCommand nc %h %p\n",
            "Bogus yes\n",
            "IdentityFile %d/.ssh/id\n",
            "IdentityFile ${HOME}/id\n",
            "IdentityFile ~bob/id\n",
            "Port 22 \"unterminated\n",
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
