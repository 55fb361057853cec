//! What a failed stage means, in the user's terms: the banner stage's
//! many ways to fail (a busy sshd, another service on the port, a server
//! the native client cannot read), a refused host key (changed, revoked,
//! unknown — and the command that resets a pin), and keys the server
//! refused. Each writes the error and the hint into the [`Report`].

use crate::client::lines_of;
use crate::known_hosts::{self, Verdict};

use super::{Report, Stage, Strict, Target};

/// What the recording stream saw before the banner stage failed.
pub(super) struct Received<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) read_err: Option<String>,
    pub(super) reset: bool,
}

/// A server whose sshd drops new connections (MaxStartups).
pub const BUSY: &str =
    "the server is refusing new connections for now (too many unauthenticated connections)";

pub(super) const BUSY_HINT: &str = "public pod ports are scanned constantly and sshd's MaxStartups (default 10:30:100) then drops new connections; try again in a minute. If it persists, in the pod's web terminal put `MaxStartups 100:30:200` and `LoginGraceTime 20` near the top of /etc/ssh/sshd_config (sshd keeps the first value it reads) and reload sshd: `kill -HUP $(cat /run/sshd.pid)`";

/// The server's identification line came after more (or longer) lines
/// than the native client (russh) accepts before it, though within what
/// ssh accepts (1024 lines): the reason, when so.
pub fn beyond_native_client(bytes: &[u8]) -> Option<String> {
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    let at = lines.iter().position(|l| l.starts_with(b"SSH-"))?;
    let long = lines[..at].iter().any(|l| l.len() > 255);
    (at > 20 || long).then(|| {
        format!(
            "the server sent its SSH- line after {at} other line(s){}; ssh reads up to 1024 lines before it, but runpod-ssh's native client (russh) only 20 of at most 255 bytes",
            if long { ", some over 255 bytes" } else { "" }
        )
    })
}

/// The banner stage failed: say why from what the server sent.
/// `russh_err` is connect_stream's error when it ended first; `timed_out`
/// when the stage deadline passed.
pub(super) fn banner_failed(
    rep: &mut Report,
    seen: Received<'_>,
    russh_err: Option<String>,
    timed_out: bool,
    secs: f64,
) {
    const NOT_SSH_HINT: &str = "this port belongs to another service (HTTP?); use the port RunPod lists for SSH (internal port 22)";
    let Received {
        bytes,
        read_err,
        reset,
    } = seen;
    let lines = lines_of(bytes);
    // sshd's MaxStartups: it writes this line and closes, or the close
    // resets the connection (our identification unread) before we read it.
    let exceeded = lines.iter().any(|l| l.starts_with("Exceeded MaxStartups"));
    if exceeded || (reset && bytes.is_empty()) {
        rep.busy = true;
        return rep.fail(
            Stage::Banner,
            format!(
                "{BUSY}: {}",
                if exceeded {
                    "it answered \"Exceeded MaxStartups\""
                } else {
                    "the connection was reset before its SSH banner"
                }
            ),
            BUSY_HINT,
        );
    }
    let partial = bytes
        .rsplit(|&b| b == b'\n')
        .next()
        .filter(|p| !p.is_empty())
        .map(|p| {
            String::from_utf8_lossy(p)
                .chars()
                .take(60)
                .collect::<String>()
        });
    let first = lines
        .first()
        .map(|l| l.chars().take(60).collect::<String>());
    if bytes.is_empty() {
        if timed_out {
            return rep.fail(
                Stage::Banner,
                format!("the server accepted the connection but sent nothing within {secs}s"),
                "not an SSH server (an HTTP port?), or the pod is overloaded or still starting",
            );
        }
        if let Some(e) = read_err {
            return rep.fail(Stage::Banner, format!("reading the banner failed: {e}"), "");
        }
        return rep.fail(
            Stage::Banner,
            "the connection was closed before the SSH banner",
            "sshd is not running in the pod, or is still starting (RunPod starts it only when a public key is set)",
        );
    }
    if timed_out {
        return match (&first, &partial) {
            (None, Some(p)) => rep.fail(
                Stage::Banner,
                format!("the server started its banner but did not finish the line within {secs}s (received {p:?})"),
                "the pod is overloaded or the network is very slow; try again, or raise --timeout",
            ),
            _ => rep.fail(
                Stage::Banner,
                format!(
                    "no SSH banner within {secs}s; the server sent {} other line(s), the first {:?}",
                    lines.len(),
                    first.unwrap_or_default()
                ),
                NOT_SSH_HINT,
            ),
        };
    }
    let why = russh_err
        .or(read_err)
        .unwrap_or_else(|| "the connection was closed".into());
    match first {
        Some(f) => rep.fail(
            Stage::Banner,
            format!("not an SSH server: it answered {f:?} ({why})"),
            NOT_SSH_HINT,
        ),
        None if !bytes.starts_with(b"SSH-") => rep.fail(
            Stage::Banner,
            format!(
                "not an SSH server: it answered {:?} ({why})",
                partial.unwrap_or_default()
            ),
            NOT_SSH_HINT,
        ),
        None => rep.fail(
            Stage::Banner,
            format!(
                "the connection ended in the middle of the banner (received {:?}): {why}",
                partial.unwrap_or_default()
            ),
            "sshd in the pod may be restarting; try again",
        ),
    }
}

/// The command that resets a changed pin: the caller's (`runpod-ssh add
/// --reset-host-key`) for a key runpod-ssh pinned, else `ssh-keygen -R` on
/// the file that holds it.
fn reset_pin_command(name: &str, file: &std::path::Path, t: &Target) -> String {
    match &t.reset_pin {
        Some(cmd) if file.file_name().is_some_and(|f| f == "known_hosts_runpod") => {
            format!("`{cmd}`")
        }
        _ => format!(
            "`ssh-keygen -R {} -f {}`",
            crate::output::shell_quote(name),
            crate::output::shell_quote(&file.to_string_lossy())
        ),
    }
}

/// The host key was refused: say why and what to do.
pub(super) fn hostkey_refused(
    rep: &mut Report,
    t: &Target,
    lookup: &known_hosts::Lookup,
    verdict: &Verdict,
    fingerprint: &str,
) {
    let name = &lookup.name;
    if let Some(why) = &lookup.unverifiable {
        return rep.fail(
            Stage::Hostkey,
            format!("host key {fingerprint} for {name} not accepted: {why}"),
            format!(
                "verify this host with ssh itself (`ssh {}`); runpod-ssh accepts and records no host key it cannot judge as ssh would",
                crate::output::shell_quote(&t.alias)
            ),
        );
    }
    match verdict {
        Verdict::Changed {
            file,
            line,
            recorded,
            recorded_type,
        } => rep.fail(
            Stage::Hostkey,
            format!(
                "HOST KEY CHANGED for {name}: the server shows {fingerprint}, {}:{line} has {recorded_type} {recorded}. Stopped before logging in",
                file.display()
            ),
            format!(
                "if you restarted or recreated this pod (RunPod makes a new host key on every start, and reuses IP:port pairs), reset the pin with {}; otherwise do not connect: someone may be intercepting",
                reset_pin_command(name, file, t)
            ),
        ),
        Verdict::Revoked { file, line } => rep.fail(
            Stage::Hostkey,
            format!(
                "the server's host key {fingerprint} is marked @revoked at {}:{line}",
                file.display()
            ),
            "do not connect; ask the server's owner",
        ),
        Verdict::IpChanged {
            file,
            line,
            recorded,
        } => rep.fail(
            Stage::Hostkey,
            format!(
                "the host key {fingerprint} for {name} differs from the key {recorded} recorded for its address at {}:{line} (CheckHostIP). Stopped before logging in",
                file.display()
            ),
            "the name now points at another server (DNS change or spoofing); check with the server's owner before connecting",
        ),
        Verdict::Unknown if lookup.known_hosts_command => rep.fail(
            Stage::Hostkey,
            format!("host key {fingerprint} for {name} is not in the known_hosts files, and runpod-ssh never runs the KnownHostsCommand ssh would ask"),
            format!("check it with `ssh {}`, or add the key to a known_hosts file", crate::output::shell_quote(&t.alias)),
        ),
        Verdict::Unknown if lookup.readonly => rep.fail(
            Stage::Hostkey,
            format!("unknown host key {fingerprint} for {name}, and ssh would not record it (no UserKnownHostsFile, or a host name it does not write)"),
            "set a UserKnownHostsFile for this host, or compare the fingerprint with the pod's log and add it yourself",
        ),
        Verdict::Unknown => rep.fail(
            Stage::Hostkey,
            format!(
                "unknown host key {fingerprint} for {name}, and StrictHostKeyChecking is {}",
                match t.strict {
                    Strict::Yes => "yes",
                    _ => "ask (the default)",
                }
            ),
            match t.strict {
                // ssh refuses it too: connecting once would not record it.
                Strict::Yes => "for a pod's entry, `runpod-ssh sync` verifies the key against the pod's log, pins it and reopens the entry; otherwise compare the fingerprint with the pod's log and add it to the known_hosts file yourself".to_string(),
                _ => format!("compare the fingerprint with the pod's log (RunPod prints it at start), then connect once with `ssh {}`, or use an entry from `runpod-ssh add` (StrictHostKeyChecking accept-new)", crate::output::shell_quote(&t.alias)),
            },
        ),
        // Known, yet refused: the key is not the one the evidence expects.
        Verdict::Known { .. } => rep.fail(
            Stage::Hostkey,
            format!("the host key {fingerprint} for {name} is not one the pod reported"),
            "do not connect; compare with the pod's log",
        ),
    }
}

/// Every key was refused (or none could be offered): which were offered,
/// which could not be, and what to do.
pub(super) fn auth_refused(rep: &mut Report, t: &Target) {
    let offered: Vec<String> = rep
        .offers
        .iter()
        .filter(|o| o.result == "rejected")
        .map(|o| format!("{} ({})", o.key, o.fingerprint.clone().unwrap_or_default()))
        .collect();
    let problems: Vec<String> = rep
        .offers
        .iter()
        .filter(|o| o.result != "rejected")
        .map(|o| format!("{}: {}", o.key, o.result))
        .collect();
    let mut error = format!("{}@{} refused every key", t.user, t.hostname);
    if !offered.is_empty() {
        error.push_str(&format!("; offered: {}", offered.join(", ")));
    }
    if !problems.is_empty() {
        error.push_str(&format!("; not offered: {}", problems.join(", ")));
    }
    // An IdentityFile naming a public key with its private key beside it:
    // `fix` points it at that one (a new key would be a long detour).
    let public = t
        .identity_files
        .iter()
        .find(|(raw, path)| raw.ends_with(".pub") && path.with_extension("").is_file());
    let hint = if rep.offers.iter().any(|o| o.result == "encrypted") {
        "the key is encrypted: load it with `ssh-add KEY` (then check again), or run check in a terminal to type its passphrase".to_string()
    } else if let (true, Some((raw, _))) = (offered.is_empty(), public) {
        format!(
            "IdentityFile {raw} is the public key: `runpod-ssh fix` points it at the private key beside it"
        )
    } else if offered.is_empty() {
        "no usable key: create one with `ssh-keygen -t ed25519`, add the .pub in RunPod → Settings → SSH Public Keys, and restart the pod".to_string()
    } else {
        format!(
            "add this public key in RunPod → Settings → SSH Public Keys (`cat {}.pub`); running pods keep the keys they started with, so restart the pod after adding it",
            t.identity_files
                .first()
                .map(|(r, _)| r.as_str())
                .unwrap_or("~/.ssh/id_ed25519")
        )
    };
    rep.fail(Stage::Auth, error, hint);
}
