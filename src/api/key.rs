//! The API key: where it comes from (`RUNPOD_API_KEY`, the `login` file,
//! runpodctl's config), how it is kept private (`Debug` redacts it; the
//! `login` file is 0600), and how `runpod-ssh login` saves it.

use std::path::PathBuf;

use serde::Serialize;

use super::ApiError;

/// The file `runpod-ssh login` writes, in the config folder.
pub const KEY_FILE: &str = "api-key";

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone)]
// `pub(super)`: the client sends it as the Bearer header; nothing else reads it.
pub struct ApiKey(pub(super) String);

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
}
