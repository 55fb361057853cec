//! What can go wrong talking to the API, in the user's words: one
//! [`ApiError`] per HTTP answer runpod-ssh tells apart, with the server's
//! RFC 9457 problem text quoted escaped. No error carries the key.

use serde::Deserialize;

use super::KeySource;

/// Errors talking to the API. None of them carries the key.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "{0}. Set RUNPOD_API_KEY, run `runpod-ssh login`, or `runpodctl config --apiKey …` (create a key in RunPod → Settings → API Keys)"
    )]
    NoKey(String),
    #[error("RUNPOD_API_URL {0:?} is not usable: {1}")]
    BadBase(String, &'static str),
    #[error(
        "the RunPod API refused the API key (401{detail}): it is invalid, revoked or mistyped. Create a new one in RunPod → Settings → API Keys and run `runpod-ssh login` (the key came from {from})"
    )]
    Unauthorized { detail: String, from: KeySource },
    #[error(
        "the API key lacks permission for this (403{detail}): {need}. Give the key that access in RunPod → Settings → API Keys"
    )]
    Forbidden { detail: String, need: &'static str },
    #[error("not found (404{detail}): {what}")]
    NotFound { detail: String, what: String },
    #[error("RunPod refused the {action} (409{detail}): not allowed in the pod's current state")]
    Conflict { action: String, detail: String },
    #[error(
        "RunPod's rate limit was reached (429{detail}); waited {waited_s}s and it still was. Try again in {retry_s}s"
    )]
    RateLimited {
        detail: String,
        waited_s: u64,
        retry_s: u64,
    },
    #[error("the RunPod API answered {status}{detail}")]
    Status { status: u16, detail: String },
    #[error("cannot reach the RunPod API at {base}: {reason}")]
    Network { base: String, reason: String },
    #[error("the RunPod API sent a response runpod-ssh cannot read ({what}): {reason}")]
    Malformed { what: String, reason: String },
}

/// An RFC 9457 problem body (`title`, `status`, `detail`, `errors`).
#[derive(Debug, Clone, Default, Deserialize)]
struct Problem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
}

/// `: title — detail (errors)` from a problem body, escaped for a
/// terminal and bounded; empty when there is none.
pub(super) fn problem_text(body: &str) -> String {
    let Ok(p) = serde_json::from_str::<Problem>(body) else {
        return String::new();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = p.title.filter(|t| !t.is_empty()) {
        parts.push(t);
    }
    if let Some(d) = p.detail.filter(|d| !d.is_empty()) {
        parts.push(d);
    }
    if !p.errors.is_empty() {
        parts.push(p.errors.join("; "));
    }
    if parts.is_empty() {
        return String::new();
    }
    let text: String = parts.join(" — ").chars().take(300).collect();
    format!(": {}", crate::output::escape(&text, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_bodies_are_quoted_escaped() {
        let t = problem_text(
            r#"{"title":"Conflict","status":409,"detail":"pod is \u001b[31mrunning"}"#,
        );
        assert!(t.starts_with(": Conflict — pod is "));
        assert!(!t.contains('\u{1b}'));
        assert_eq!(problem_text("not json"), "");
    }
}
