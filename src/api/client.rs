//! The HTTP client: the base URL checks (https, or http to loopback only),
//! one request with 429s waited out, and the mapping of a non-2xx answer
//! to an [`ApiError`]. The endpoints live beside it (`pods`, `account`,
//! `logs`), each an `impl Client` block.

use std::time::{Duration, Instant};

use super::{ApiError, ApiKey, KeySource, find_key, problem_text};

/// The production API.
pub const DEFAULT_BASE: &str = "https://api.runpod.io";

/// The client.
pub struct Client {
    pub(super) base: String,
    pub(super) key: ApiKey,
    pub(super) source: KeySource,
    pub(super) agent: ureq::Agent,
    /// At most this long waiting out a 429, in total.
    pub max_rate_wait: Duration,
}

/// The answer to one request: status, body, and the rate-limit headers.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: String,
    pub(super) retry_after: Option<u64>,
}

impl Client {
    /// A client with the key [`find_key`] finds and `RUNPOD_API_URL` (or
    /// the production API).
    pub fn from_env() -> Result<Client, ApiError> {
        let (key, source) = find_key()?;
        let base = std::env::var("RUNPOD_API_URL").unwrap_or_else(|_| DEFAULT_BASE.into());
        Client::new(&base, key, source)
    }

    /// The key goes over https only; plain http is allowed to loopback
    /// (the tests' fake API).
    pub fn new(base: &str, key: ApiKey, source: KeySource) -> Result<Client, ApiError> {
        let base = base.trim_end_matches('/').to_string();
        let uri: Option<ureq::http::Uri> = base.parse().ok();
        let authority = uri.as_ref().and_then(|u| u.authority());
        // By the parsed host, not a prefix: `http://127.0.0.1:x@host` is
        // `host` with a user name. No user info at all: it is never needed.
        if authority.is_none_or(|a| a.as_str().contains('@')) {
            return Err(ApiError::BadBase(base, "not an http(s) URL with a host"));
        }
        let loopback = uri.as_ref().is_some_and(|u| {
            u.scheme_str() == Some("http")
                && matches!(u.host(), Some("127.0.0.1" | "localhost" | "[::1]"))
        });
        if !base.starts_with("https://") && !loopback {
            return Err(ApiError::BadBase(
                base,
                "the API key is only sent over https (plain http only to 127.0.0.1)",
            ));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // The API never redirects; a 3xx is an answer, not a hop to a
            // host whose pods and log fingerprints would then be trusted.
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent(concat!("runpod-ssh/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client {
            base,
            key,
            source,
            agent,
            max_rate_wait: Duration::from_secs(60),
        })
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    pub(super) fn network(&self, e: ureq::Error) -> ApiError {
        ApiError::Network {
            base: self.base.clone(),
            reason: e.to_string(),
        }
    }

    /// One request, waiting out 429s (per `Retry-After` or `RateLimit`,
    /// bounded by `max_rate_wait`).
    pub(super) fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Answer, ApiError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.key.0);
        let started = Instant::now();
        loop {
            let resp = match (method, body) {
                ("GET", _) => self
                    .agent
                    .get(&url)
                    .header("Authorization", &auth)
                    .header("Accept", "application/json")
                    .call(),
                (_, b) => {
                    let req = if method == "PUT" {
                        self.agent.put(&url)
                    } else {
                        self.agent.post(&url)
                    };
                    req.header("Authorization", &auth)
                        .header("Content-Type", "application/json")
                        .header("Accept", "application/json")
                        .send(b.unwrap_or("{}"))
                }
            };
            let mut resp = resp.map_err(|e| self.network(e))?;
            let status = resp.status().as_u16();
            let retry_after = retry_seconds(
                header(&resp, "Retry-After").as_deref(),
                header(&resp, "RateLimit").as_deref(),
            );
            let text = resp
                .body_mut()
                .with_config()
                .limit(16 * 1024 * 1024)
                .read_to_string()
                .map_err(|e| self.network(e))?;
            if status == 429 {
                let wait = retry_after.unwrap_or(5).max(1);
                let waited = started.elapsed();
                // Saturating: a server's `Retry-After: 18446744073709551615`
                // must not overflow the sum.
                if waited.saturating_add(Duration::from_secs(wait)) <= self.max_rate_wait {
                    std::thread::sleep(Duration::from_secs(wait));
                    continue;
                }
                return Err(ApiError::RateLimited {
                    detail: problem_text(&text),
                    waited_s: waited.as_secs(),
                    retry_s: wait,
                });
            }
            return Ok(Answer {
                status,
                body: text,
                retry_after,
            });
        }
    }

    /// The error for a non-2xx answer.
    pub(super) fn status_error(&self, a: &Answer, what: &str, need: &'static str) -> ApiError {
        let detail = problem_text(&a.body);
        match a.status {
            401 => ApiError::Unauthorized {
                detail,
                from: self.source.clone(),
            },
            403 => ApiError::Forbidden { detail, need },
            404 => ApiError::NotFound {
                detail,
                what: what.to_string(),
            },
            409 => ApiError::Conflict {
                action: what.to_string(),
                detail,
            },
            s => ApiError::Status { status: s, detail },
        }
    }
    pub(super) fn parse<T: serde::de::DeserializeOwned>(
        a: &Answer,
        what: &str,
    ) -> Result<T, ApiError> {
        serde_json::from_str(&a.body).map_err(|e| ApiError::Malformed {
            what: what.to_string(),
            reason: e.to_string(),
        })
    }
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Seconds to wait before retrying: `Retry-After`, else the `t` of the
/// first exhausted window (`r=0`) of `RateLimit` (`"minute";r=0;t=12, …`).
pub fn retry_seconds(retry_after: Option<&str>, ratelimit: Option<&str>) -> Option<u64> {
    if let Some(s) = retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(s);
    }
    let rl = ratelimit?;
    let mut best: Option<u64> = None;
    for member in rl.split(',') {
        let mut r = None;
        let mut t = None;
        for param in member.split(';').skip(1) {
            match param.trim().split_once('=') {
                Some(("r", v)) => r = v.trim().parse::<u64>().ok(),
                Some(("t", v)) => t = v.trim().parse::<u64>().ok(),
                _ => {}
            }
        }
        if r == Some(0)
            && let Some(t) = t
        {
            best = Some(best.map_or(t, |b: u64| b.max(t)));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_then_the_exhausted_ratelimit_window() {
        assert_eq!(
            retry_seconds(Some("7"), Some("\"minute\";r=0;t=12")),
            Some(7)
        );
        assert_eq!(
            retry_seconds(None, Some("\"minute\";r=0;t=12, \"hour\";r=2800;t=1812")),
            Some(12)
        );
        assert_eq!(retry_seconds(None, Some("\"minute\";r=3;t=12")), None);
        assert_eq!(retry_seconds(None, None), None);
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let k = ApiKey::new("k").unwrap();
        assert!(Client::new("http://203.0.113.9:80", k.clone(), KeySource::Env).is_err());
        assert!(Client::new("http://127.0.0.1:9", k.clone(), KeySource::Env).is_ok());
        assert!(Client::new("https://api.runpod.io", k.clone(), KeySource::Env).is_ok());
        assert!(Client::new("http://[::1]:9", k.clone(), KeySource::Env).is_ok());
        assert!(Client::new("http://localhost:9", k.clone(), KeySource::Env).is_ok());
    }

    #[test]
    fn a_loopback_prefix_with_user_info_does_not_send_the_key_in_clear() {
        let k = ApiKey::new("k").unwrap();
        // `127.0.0.1:x` is a user name and password here; the host is not loopback.
        for base in [
            "http://127.0.0.1:x@203.0.113.9",
            "http://127.0.0.1:80@203.0.113.9:80/",
            "http://localhost:1@203.0.113.9",
            "http://127.0.0.1.203.0.113.9.nip.example:80",
            "https://user:pw@api.runpod.io",
            "api.runpod.io",
        ] {
            assert!(
                Client::new(base, k.clone(), KeySource::Env).is_err(),
                "{base} accepted"
            );
        }
    }
}
