//! The pod log stream (Server-Sent Events), read only for the host key
//! fingerprints the pod's start script prints: the evidence a first
//! contact is checked against.

use std::io::{BufRead, Read};
use std::time::Duration;

use serde::Deserialize;

use super::ApiError;
use super::client::{Answer, Client};
use super::pods::check_id;

/// One event of the log stream.
#[derive(Debug, Deserialize)]
struct LogEvent {
    #[serde(default)]
    line: String,
}

impl Client {
    /// The host key fingerprints the pod's start script printed since
    /// `since` (its `startedAt`): the `SSH host keys:` block of the log
    /// stream. Reads until that block ends, the stream ends, or `wait`
    /// passes (the stream stays open on a live pod).
    pub fn host_key_fingerprints(
        &self,
        id: &str,
        since: Option<&str>,
        wait: Duration,
    ) -> Result<Vec<String>, ApiError> {
        check_id(id)?;
        let mut url = format!("{}/v2/pods/{id}/logs?source=container", self.base);
        match since {
            Some(s)
                if s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":.-+".contains(&b)) =>
            {
                url.push_str("&since=");
                url.push_str(&s.replace('+', "%2B").replace(':', "%3A"));
            }
            _ => url.push_str("&tail=5000"),
        }
        let resp = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.key.0))
            .header("Accept", "text/event-stream")
            .config()
            .timeout_global(Some(wait))
            .build()
            .call()
            .map_err(|e| self.network(e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let mut resp = resp;
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            let a = Answer {
                status,
                body,
                retry_after: None,
            };
            let _ = a.retry_after;
            return Err(self.status_error(&a, &format!("the log of pod {id}"), "reading pods"));
        }
        // Bounded: the start script's block sits near the start of the
        // stream, and a stream that never ends (or one endless line) must
        // not grow memory until `wait` passes.
        let reader = std::io::BufReader::new(resp.into_body().into_reader().take(MAX_LOG_BYTES));
        let mut scan = HostKeyScan::default();
        for line in reader.lines() {
            // A timeout or a dropped stream ends the read with what we have.
            let Ok(line) = line else { break };
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let Ok(ev) = serde_json::from_str::<LogEvent>(data.trim_start()) else {
                continue;
            };
            if scan.push(&ev.line) {
                break;
            }
        }
        Ok(scan.found)
    }
}

/// At most this much of a pod's log stream is read for its host keys.
pub const MAX_LOG_BYTES: u64 = 16 * 1024 * 1024;

/// Reads log lines for the `SSH host keys:` block: the header, then one
/// `ssh-keygen -lf` line per key (`256 SHA256:… root@… (ED25519)`).
#[derive(Debug, Default)]
pub struct HostKeyScan {
    in_block: bool,
    pub found: Vec<String>,
}

impl HostKeyScan {
    /// Feed one log line; true once a block has ended. A later block (sshd
    /// restarted) replaces an earlier one.
    pub fn push(&mut self, line: &str) -> bool {
        let t = line.trim();
        if t == "SSH host keys:" {
            self.in_block = true;
            self.found.clear();
            return false;
        }
        if !self.in_block {
            return false;
        }
        let mut w = t.split_whitespace();
        match (w.next(), w.next()) {
            (Some(bits), Some(fp))
                if bits.chars().all(|c| c.is_ascii_digit())
                    && fp.starts_with("SHA256:")
                    && fp.len() > 7 =>
            {
                self.found.push(fp.to_string());
                false
            }
            _ => {
                self.in_block = false;
                !self.found.is_empty()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_block_of_the_start_script() {
        let mut s = HostKeyScan::default();
        for l in [
            "Starting SSH service...",
            "SSH host keys:",
            "256 SHA256:AAAA root@abc (ED25519)",
            "3072 SHA256:BBBB root@abc (RSA)",
        ] {
            assert!(!s.push(l));
        }
        assert!(s.push("SSH service started"));
        assert_eq!(s.found, vec!["SHA256:AAAA", "SHA256:BBBB"]);
        // No block at all: nothing.
        let mut s = HostKeyScan::default();
        assert!(!s.push("256 SHA256:CCCC root@x (ED25519)"));
        assert!(s.found.is_empty());
    }
}
