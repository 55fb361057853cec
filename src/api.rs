//! RunPod REST v2 client (`https://api.runpod.io/v2`): pods, pod actions,
//! the pod log stream (Server-Sent Events) and the account's SSH keys.
//!
//! rustls only (ureq with ring). The API key is sent as a Bearer header
//! and never appears in any message, log or `Debug` output: [`ApiKey`]
//! redacts itself, and no error built here quotes a header.

use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The production API.
pub const DEFAULT_BASE: &str = "https://api.runpod.io";

/// The file `runpod-ssh login` writes, in the config folder.
pub const KEY_FILE: &str = "api-key";

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl ApiKey {
    /// A key as typed or read (surrounding whitespace dropped). Refused
    /// when empty or when it holds characters a header cannot carry.
    pub fn new(text: &str) -> Result<ApiKey, ApiError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(ApiError::NoKey("the API key is empty".into()));
        }
        if !t.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ApiError::NoKey(
                "the API key holds spaces or characters an API key never has".into(),
            ));
        }
        Ok(ApiKey(t.to_string()))
    }
}

/// Where the key came from (shown to the user; never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum KeySource {
    Env,
    LoginFile(PathBuf),
    Runpodctl(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str("RUNPOD_API_KEY"),
            KeySource::LoginFile(p) | KeySource::Runpodctl(p) => write!(f, "{}", p.display()),
        }
    }
}

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
fn problem_text(body: &str) -> String {
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

/// Where the key is, in order: `RUNPOD_API_KEY`, the `login` file, then
/// runpodctl's `~/.runpod/config.toml` (read only).
pub fn find_key() -> Result<(ApiKey, KeySource), ApiError> {
    if let Some(v) = std::env::var_os("RUNPOD_API_KEY")
        && !v.is_empty()
    {
        let s = v
            .into_string()
            .map_err(|_| ApiError::NoKey("RUNPOD_API_KEY is not valid text".into()))?;
        return Ok((ApiKey::new(&s)?, KeySource::Env));
    }
    if let Some(p) = login_file() {
        match crate::fsio::read_limited(&p) {
            Ok(c) => {
                let s = String::from_utf8_lossy(&c.bytes).into_owned();
                return Ok((ApiKey::new(&s)?, KeySource::LoginFile(p)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ApiError::NoKey(format!("cannot read {}: {e}", p.display())));
            }
        }
    }
    if let Some(home) = crate::platform::home_dir() {
        let p = home.join(".runpod").join("config.toml");
        if let Ok(c) = crate::fsio::read_limited(&p)
            && let Some(k) = runpodctl_key(&String::from_utf8_lossy(&c.bytes))
        {
            return Ok((ApiKey::new(&k)?, KeySource::Runpodctl(p)));
        }
    }
    Err(ApiError::NoKey("no RunPod API key found".into()))
}

/// The `apikey = "…"` of runpodctl's config.toml (a flat file of
/// `key = "value"` lines; no TOML parser needed for one string).
pub fn runpodctl_key(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        let k = k.trim().to_ascii_lowercase();
        if k != "apikey" && k != "api_key" {
            return None;
        }
        let v = v.trim().trim_matches(['"', '\'']).trim();
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// runpod-ssh's config folder (`~/.config/runpod-ssh` on Linux, the
/// platform's config folder elsewhere).
pub fn config_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("runpod-ssh"))
}

/// Where `runpod-ssh login` keeps the key.
pub fn login_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join(KEY_FILE))
}

/// A pod, with the fields runpod-ssh reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    pub id: String,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub cost: Option<f64>,
    #[serde(default)]
    pub gpu: Option<Gpu>,
    #[serde(default)]
    pub ssh: Option<PodSsh>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub runtime: Option<Runtime>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gpu {
    pub id: String,
    #[serde(default)]
    pub count: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodSsh {
    #[serde(default)]
    pub proxy: Option<SshEndpoint>,
    #[serde(default)]
    pub direct: Option<SshEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshEndpoint {
    pub host: String,
    pub port: u16,
    pub username: String,
    #[serde(default)]
    pub command: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Runtime {
    #[serde(default)]
    pub uptime: Option<u64>,
}

impl Pod {
    pub fn direct(&self) -> Option<&SshEndpoint> {
        self.ssh.as_ref()?.direct.as_ref()
    }
    pub fn proxy(&self) -> Option<&SshEndpoint> {
        self.ssh.as_ref()?.proxy.as_ref()
    }
    /// `1× RTX 4090` style.
    pub fn gpu_text(&self) -> String {
        match &self.gpu {
            Some(g) => format!(
                "{}×{}",
                g.count.unwrap_or(1),
                crate::output::escape(
                    g.id.trim_start_matches("NVIDIA ")
                        .trim_start_matches("GeForce "),
                    false
                )
            ),
            None => "cpu".into(),
        }
    }
}

#[derive(Deserialize)]
struct PodList {
    pods: Vec<Pod>,
}

#[derive(Serialize, Deserialize)]
struct Keys {
    keys: Vec<String>,
}

/// One event of the log stream.
#[derive(Debug, Deserialize)]
struct LogEvent {
    #[serde(default)]
    line: String,
}

/// The client.
pub struct Client {
    base: String,
    key: ApiKey,
    source: KeySource,
    agent: ureq::Agent,
    /// At most this long waiting out a 429, in total.
    pub max_rate_wait: Duration,
}

/// The answer to one request: status, body, and the rate-limit headers.
struct Answer {
    status: u16,
    body: String,
    retry_after: Option<u64>,
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

    fn network(&self, e: ureq::Error) -> ApiError {
        ApiError::Network {
            base: self.base.clone(),
            reason: e.to_string(),
        }
    }

    /// One request, waiting out 429s (per `Retry-After` or `RateLimit`,
    /// bounded by `max_rate_wait`).
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<Answer, ApiError> {
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
    fn status_error(&self, a: &Answer, what: &str, need: &'static str) -> ApiError {
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

    /// A pod whose fields runpod-ssh prints, puts in URLs and writes into
    /// the config must look like RunPod's: ids and statuses are words,
    /// endpoints a host name or address and a user name. Anything else (an
    /// escape sequence, a newline, a leading `-`) is refused here, once,
    /// instead of being escaped in every place that shows it.
    fn checked(p: Pod, what: &str) -> Result<Pod, ApiError> {
        let bad = |field: &str, v: &str| ApiError::Malformed {
            what: what.to_string(),
            reason: format!(
                "pod {field} {:?} is not one RunPod gives",
                crate::output::escape(&v.chars().take(80).collect::<String>(), false)
            ),
        };
        let word = |v: &str, extra: &[u8]| {
            !v.is_empty()
                && v.len() <= 253
                && !v.starts_with('-')
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        };
        if check_id(&p.id).is_err() {
            return Err(bad("id", &p.id));
        }
        if !word(&p.status, b"_") {
            return Err(bad("status", &p.status));
        }
        for e in [p.direct(), p.proxy()].into_iter().flatten() {
            if !word(&e.host, b".-:") {
                return Err(bad("ssh host", &e.host));
            }
            if !word(&e.username, b"._-") {
                return Err(bad("ssh username", &e.username));
            }
        }
        Ok(p)
    }

    fn parse<T: serde::de::DeserializeOwned>(a: &Answer, what: &str) -> Result<T, ApiError> {
        serde_json::from_str(&a.body).map_err(|e| ApiError::Malformed {
            what: what.to_string(),
            reason: e.to_string(),
        })
    }

    /// `GET /v2/pods`, cluster members included (the API leaves them out
    /// by default, and `sync --prune` must not take a listed-elsewhere pod
    /// for a gone one).
    pub fn pods(&self) -> Result<Vec<Pod>, ApiError> {
        let a = self.request("GET", "/v2/pods?includeClusterPods=true", None)?;
        if a.status != 200 {
            return Err(self.status_error(&a, "the pod list", "reading pods"));
        }
        Self::parse::<PodList>(&a, "GET /v2/pods")?
            .pods
            .into_iter()
            .map(|p| Self::checked(p, "GET /v2/pods"))
            .collect()
    }

    /// `GET /v2/pods/{id}`.
    pub fn pod(&self, id: &str) -> Result<Pod, ApiError> {
        check_id(id)?;
        let a = self.request("GET", &format!("/v2/pods/{id}"), None)?;
        if a.status != 200 {
            return Err(self.status_error(
                &a,
                &format!("pod {id} (terminated, or on another account)"),
                "reading pods",
            ));
        }
        Self::checked(Self::parse(&a, "GET /v2/pods/{id}")?, "GET /v2/pods/{id}")
    }

    /// `POST /v2/pods/{id}/action` with `start` or `stop`.
    pub fn action(&self, id: &str, action: &str) -> Result<Option<Pod>, ApiError> {
        check_id(id)?;
        let body = serde_json::json!({ "action": action }).to_string();
        let a = self.request("POST", &format!("/v2/pods/{id}/action"), Some(&body))?;
        match a.status {
            200 => Ok(Self::parse(&a, "POST /v2/pods/{id}/action")
                .ok()
                .and_then(|p| Self::checked(p, "POST /v2/pods/{id}/action").ok())),
            204 => Ok(None),
            409 => Err(self.status_error(&a, &format!("{action} of pod {id}"), "")),
            _ => Err(self.status_error(
                &a,
                &format!("pod {id}"),
                "starting and stopping pods (a read-only key cannot)",
            )),
        }
    }

    /// `GET /v2/account/ssh-keys`.
    pub fn ssh_keys(&self) -> Result<Vec<String>, ApiError> {
        let a = self.request("GET", "/v2/account/ssh-keys", None)?;
        if a.status != 200 {
            return Err(self.status_error(&a, "the account's SSH keys", "reading the account"));
        }
        Ok(Self::parse::<Keys>(&a, "GET /v2/account/ssh-keys")?.keys)
    }

    /// `PUT /v2/account/ssh-keys`: replaces the whole set.
    pub fn put_ssh_keys(&self, keys: &[String]) -> Result<(), ApiError> {
        let body = serde_json::to_string(&Keys {
            keys: keys.to_vec(),
        })
        .map_err(|e| ApiError::Malformed {
            what: "the key list".into(),
            reason: e.to_string(),
        })?;
        let a = self.request("PUT", "/v2/account/ssh-keys", Some(&body))?;
        if !(200..300).contains(&a.status) {
            return Err(self.status_error(
                &a,
                "the account's SSH keys",
                "changing the account's SSH keys (a read-only key cannot)",
            ));
        }
        Ok(())
    }

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

/// Pod ids go into URL paths: letters, digits, `_` and `-` only.
fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ApiError::NotFound {
            detail: String::new(),
            what: format!("{:?} is not a pod id", crate::output::escape(id, false)),
        });
    }
    Ok(())
}

/// Write the key for later runs (`runpod-ssh login`): 0600, atomically.
pub fn save_key(key: &ApiKey) -> Result<PathBuf, crate::fsio::FsError> {
    let path = login_file().ok_or_else(|| crate::fsio::FsError::Write {
        path: PathBuf::from("~/.config/runpod-ssh"),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no config folder"),
    })?;
    if let Some(dir) = path.parent() {
        crate::fsio::create_private_dir(dir).map_err(|source| crate::fsio::FsError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let snap = crate::fsio::read(&path)?;
    // An existing file keeps its mode on write, and the path may be a
    // symlink: make the file actually written private first, or refuse,
    // so the key is never written into a file others can read.
    if snap.bytes.is_some() {
        crate::fsio::set_mode_owned(&snap.target, 0o600).map_err(|e| {
            crate::fsio::FsError::Write {
                path: snap.target.clone(),
                source: std::io::Error::other(format!(
                    "{e}; the API key was not written there (it could stay readable by others)"
                )),
            }
        })?;
    }
    crate::fsio::write(
        &snap,
        format!("{}\n", key.0).as_bytes(),
        crate::fsio::WriteOptions {
            backup: false,
            new_mode: 0o600,
        },
    )?;
    Ok(path)
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
    fn the_key_never_shows_in_debug() {
        let k = ApiKey::new("  rpa_SECRET123 \n").unwrap();
        assert!(!format!("{k:?}").contains("SECRET"));
        assert!(ApiKey::new("a b").is_err());
        assert!(ApiKey::new("").is_err());
    }

    #[test]
    fn runpodctl_config_key() {
        assert_eq!(
            runpodctl_key("apiUrl = \"https://api.runpod.io/graphql\"\napikey = \"rpa_X\"\n"),
            Some("rpa_X".into())
        );
        assert_eq!(runpodctl_key("apikey = \"\"\n"), None);
    }

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
