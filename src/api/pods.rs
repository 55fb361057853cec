//! Pods: the fields runpod-ssh reads, the checks that keep a hostile
//! answer out of URLs, terminals and the config, and the pod endpoints
//! (list, one pod, start/stop).

use serde::{Deserialize, Serialize};

use super::ApiError;
use super::client::Client;

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

impl Client {
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
}

/// Pod ids go into URL paths: letters, digits, `_` and `-` only.
pub(super) fn check_id(id: &str) -> Result<(), ApiError> {
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
