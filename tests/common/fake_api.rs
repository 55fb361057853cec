//! A fake RunPod REST v2 API on 127.0.0.1, started by the tests: pods in
//! every state, pod actions, the SSE log stream, account keys, and
//! scripted failures (401, 403, 409, 429 with `RateLimit`, a malformed
//! body). Every response it builds is checked against the schemas in
//! `tests/schemas/runpod-api-v2.json` (taken from RunPod's OpenAPI
//! document); a mismatch is recorded and fails the test.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The key tests use; it must never appear in any output.
pub const KEY: &str = "rpa_TESTKEY_never_print_me_0123456789";

/// A scripted answer: (method, path prefix, status, extra headers, body, times).
pub type Forced = (String, String, u16, Vec<(String, String)>, String, usize);
/// A request seen: (method, path with query, authorization header, body).
pub type Seen = (String, String, Option<String>, String);

#[derive(Default)]
pub struct State {
    pub pods: Vec<Value>,
    /// Log lines per pod id.
    pub logs: HashMap<String, Vec<String>>,
    pub keys: Vec<String>,
    /// Scripted answers: (method, path prefix, status, extra headers, body, times).
    pub forced: Vec<Forced>,
    /// (method, path with query, authorization header, body).
    pub requests: Vec<Seen>,
    /// Schema violations in what the fake sent (should stay empty).
    pub violations: Vec<String>,
    /// After `start`: (id, GETs until RUNNING, the direct endpoint, startedAt).
    pub starting: Vec<(String, usize, Value, String)>,
    /// Pods whose log stream is one endless line (a hostile or broken API).
    pub flood: Vec<String>,
}

pub struct FakeApi {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

/// A pod as the API shows it.
pub fn pod(id: &str, name: &str, status: &str, direct: Option<(&str, u16)>, proxy: bool) -> Value {
    let running = status == "RUNNING";
    let actions: Vec<&str> = match status {
        "RUNNING" => vec!["stop", "restart", "terminate"],
        "EXITED" | "ERROR" => vec!["start", "terminate"],
        "PROVISIONING" | "STARTING" => vec!["stop", "terminate"],
        _ => vec![],
    };
    json!({
        "id": id,
        "name": name,
        "status": status,
        "actions": actions,
        "image": "runpod/pytorch:2.8.0",
        "cost": if running { 0.69 } else { 0.0 },
        "gpu": {"id": "NVIDIA GeForce RTX 4090", "count": 1},
        "ssh": {
            "proxy": if proxy { json!({"host": "ssh.runpod.io", "port": 22, "username": format!("{id}-64411eb2"), "command": format!("ssh {id}-64411eb2@ssh.runpod.io")}) } else { Value::Null },
            "direct": match direct {
                Some((h, p)) if running => json!({"host": h, "port": p, "username": "root", "command": format!("ssh root@{h} -p {p}")}),
                _ => Value::Null,
            },
        },
        "startedAt": if status == "EXITED" || status == "TERMINATED" { Value::Null } else { json!("2026-11-28T10:00:00Z") },
        "createdAt": "2026-11-27T10:00:00Z",
        "runtime": if running { json!({"uptime": 3720, "ports": []}) } else { Value::Null },
    })
}

/// The start script's lines for these host key fingerprints.
pub fn start_log(fingerprints: &[&str]) -> Vec<String> {
    let mut v = vec![
        "Starting SSH service...".to_string(),
        "SSH host keys:".to_string(),
    ];
    for f in fingerprints {
        v.push(format!("256 {f} root@5f0c1a2b3c4d (ED25519)"));
    }
    v.push("SSH service started".into());
    v.push("Jupyter Lab started".into());
    v
}

impl FakeApi {
    pub fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake API");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st);
                });
            }
        });
        FakeApi { url, state }
    }

    pub fn set_pods(&self, pods: Vec<Value>) {
        self.state.lock().unwrap().pods = pods;
    }

    pub fn set_log(&self, id: &str, lines: Vec<String>) {
        self.state.lock().unwrap().logs.insert(id.into(), lines);
    }

    /// Answer the next `times` requests matching with this.
    pub fn force(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
        times: usize,
    ) {
        self.state.lock().unwrap().forced.push((
            method.into(),
            path.into(),
            status,
            headers
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            body.into(),
            times,
        ));
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Panics when a response broke the schemas.
    pub fn assert_schemas_held(&self) {
        let v = self.state.lock().unwrap().violations.clone();
        assert!(v.is_empty(), "fake API responses broke the schemas: {v:#?}");
    }

    /// The environment a runpod-ssh run needs to talk to this API.
    pub fn env(&self, c: &mut std::process::Command) {
        c.env("RUNPOD_API_URL", &self.url)
            .env("RUNPOD_API_KEY", KEY)
            .env("RUNPOD_SSH_POLL_MS", "50")
            .env("RUNPOD_SSH_LOG_WAIT_MS", "3000");
    }
}

fn schemas() -> &'static Value {
    static S: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/schemas/runpod-api-v2.json");
        serde_json::from_str(&std::fs::read_to_string(p).expect("schemas")).expect("schema json")
    })
}

/// Check `v` against the named schema; the first problem, or `None`.
pub fn validate(v: &Value, schema: &str) -> Option<String> {
    check(v, &schemas()["schemas"][schema], schema)
}

fn check(v: &Value, s: &Value, at: &str) -> Option<String> {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        let target = &schemas()["schemas"][name];
        assert!(!target.is_null(), "schema {name} missing");
        return check(v, target, at);
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            if let Some(e) = check(v, sub, at) {
                return Some(e);
            }
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|sub| check(v, sub, at).is_none())
    {
        return Some(format!("{at}: {v} matches none of anyOf"));
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            return Some(format!("{at}: {v} is not {types:?}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Some(format!("{at}: {v} not in {e:?}"));
    }
    if let Some(obj) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap_or_default();
            if !obj.contains_key(r) {
                return Some(format!("{at}: missing required {r}"));
            }
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (k, sub) in props {
                if let Some(x) = obj.get(k)
                    && let Some(e) = check(x, sub, &format!("{at}.{k}"))
                {
                    return Some(e);
                }
            }
        }
    }
    if let (Some(a), Some(items)) = (v.as_array(), s.get("items")) {
        for (i, x) in a.iter().enumerate() {
            if let Some(e) = check(x, items, &format!("{at}[{i}]")) {
                return Some(e);
            }
        }
    }
    None
}

fn respond(
    conn: &mut TcpStream,
    status: u16,
    ctype: &str,
    headers: &[(String, String)],
    body: &str,
) {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\nRateLimit: \"minute\";r=58;t=40\r\nRateLimit-Policy: \"minute\";q=60;w=60\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
    let _ = conn.flush();
}

fn problem(status: u16, title: &str, detail: &str) -> String {
    json!({"title": title, "status": status, "detail": detail}).to_string()
}

fn serve(mut conn: TcpStream, st: &Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut auth = None;
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "authorization" => auth = Some(v.trim().to_string()),
                "content-length" => len = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = target.split('?').next().unwrap_or_default().to_string();
    let mut s = st.lock().unwrap();
    s.requests
        .push((method.clone(), target.clone(), auth.clone(), body.clone()));

    // Scripted answers first (not schema-checked: some are malformed on purpose).
    if let Some(i) = s
        .forced
        .iter()
        .position(|f| f.0 == method && path.starts_with(&f.1) && f.5 > 0)
    {
        s.forced[i].5 -= 1;
        let f = s.forced[i].clone();
        drop(s);
        let ctype = if f.2 >= 400 {
            "application/problem+json"
        } else {
            "application/json"
        };
        respond(&mut conn, f.2, ctype, &f.3, &f.4);
        return Ok(());
    }
    if auth.as_deref() != Some(&format!("Bearer {KEY}")) {
        drop(s);
        respond(
            &mut conn,
            401,
            "application/problem+json",
            &[],
            &problem(401, "Unauthorized", "invalid API key"),
        );
        return Ok(());
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (status, out, schema): (u16, Value, &str) = match (method.as_str(), segs.as_slice()) {
        ("GET", ["v2", "pods"]) => (200, json!({"pods": s.pods}), "ListPodsResponse"),
        ("GET", ["v2", "pods", id]) => {
            // A started pod comes up after a few polls.
            let id = id.to_string();
            if let Some(k) = s.starting.iter().position(|x| x.0 == id) {
                if s.starting[k].1 == 0 {
                    let (_, _, direct, started) = s.starting.remove(k);
                    if let Some(p) = s.pods.iter_mut().find(|p| p["id"] == id) {
                        let name = p["name"].as_str().unwrap_or_default().to_string();
                        let h = direct["host"].as_str().unwrap_or_default().to_string();
                        let port = direct["port"].as_u64().unwrap_or(0) as u16;
                        *p = pod(&id, &name, "RUNNING", Some((&h, port)), true);
                        p["startedAt"] = json!(started);
                        if let Some(u) = direct.get("username") {
                            p["ssh"]["direct"]["username"] = u.clone();
                        }
                    }
                } else {
                    s.starting[k].1 -= 1;
                }
            }
            match s.pods.iter().find(|p| p["id"] == id) {
                Some(p) => (200, p.clone(), "Pod"),
                None => (
                    404,
                    serde_json::from_str(&problem(404, "Not Found", "pod not found")).unwrap(),
                    "ErrorResponse",
                ),
            }
        }
        ("GET", ["v2", "pods", id, "logs"]) if s.flood.iter().any(|f| f == id) => {
            drop(s);
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
            conn.write_all(head.as_bytes())?;
            conn.write_all(b"data: {\"line\":\"")?;
            let chunk = vec![b'a'; 64 * 1024];
            let t = std::time::Instant::now();
            // Until the client hangs up (or a minute, for a client that never does).
            while t.elapsed() < std::time::Duration::from_secs(60) {
                conn.write_all(&chunk)?;
            }
            return Ok(());
        }
        ("GET", ["v2", "pods", id, "logs"]) => {
            let lines = s.logs.get(*id).cloned().unwrap_or_default();
            drop(s);
            let mut text = String::new();
            for (i, l) in lines.iter().enumerate() {
                let ev = json!({"ts": "2026-11-28T10:00:01Z", "source": "container", "line": l});
                if let Some(e) = validate(&ev, "PodLogEvent") {
                    st.lock().unwrap().violations.push(e);
                }
                text.push_str(&format!("id: 2026-11-28T10:00:01Z/{i:012}\ndata: {ev}\n\n"));
            }
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
            conn.write_all(head.as_bytes())?;
            conn.write_all(text.as_bytes())?;
            conn.flush()?;
            // A live stream stays open: the client must stop on its own.
            std::thread::sleep(std::time::Duration::from_millis(1500));
            return Ok(());
        }
        ("POST", ["v2", "pods", id, "action"]) => {
            let req: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if let Some(e) = validate(&req, "PodActionRequest") {
                s.violations.push(format!("request: {e}"));
            }
            let action = req["action"].as_str().unwrap_or_default().to_string();
            let id = id.to_string();
            match s.pods.iter().position(|p| p["id"] == id) {
                None => (
                    404,
                    serde_json::from_str(&problem(404, "Not Found", "pod not found")).unwrap(),
                    "ErrorResponse",
                ),
                Some(i) => {
                    let allowed = s.pods[i]["actions"]
                        .as_array()
                        .is_some_and(|a| a.contains(&json!(action)));
                    if !allowed {
                        (
                            409,
                            serde_json::from_str(&problem(
                                409,
                                "Conflict",
                                &format!("cannot {action} a pod in status {}", s.pods[i]["status"]),
                            ))
                            .unwrap(),
                            "ErrorResponse",
                        )
                    } else {
                        let name = s.pods[i]["name"].as_str().unwrap_or_default().to_string();
                        if action == "stop" {
                            s.pods[i] = pod(&id, &name, "EXITED", None, false);
                        } else if action == "start" {
                            s.pods[i] = pod(&id, &name, "STARTING", None, true);
                        }
                        (200, s.pods[i].clone(), "Pod")
                    }
                }
            }
        }
        ("GET", ["v2", "account", "ssh-keys"]) => (200, json!({"keys": s.keys}), "SshKeys"),
        ("PUT", ["v2", "account", "ssh-keys"]) => {
            let req: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if let Some(e) = validate(&req, "UpdateSshKeysRequest") {
                s.violations.push(format!("request: {e}"));
            }
            s.keys = req["keys"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect();
            (200, json!({"keys": s.keys}), "SshKeys")
        }
        _ => (
            404,
            serde_json::from_str(&problem(404, "Not Found", "no such route")).unwrap(),
            "ErrorResponse",
        ),
    };
    if let Some(e) = validate(&out, schema) {
        s.violations.push(e);
    }
    drop(s);
    let ctype = if status >= 400 {
        "application/problem+json"
    } else {
        "application/json"
    };
    respond(&mut conn, status, ctype, &[], &out.to_string());
    Ok(())
}
