//! VS Code-family `settings.json` files: where they are, and lossless edits
//! of `remote.SSH.remotePlatform` (comments, trailing commas and formatting
//! kept, through `jsonc-parser`'s CST).

use std::path::{Path, PathBuf};

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{
    CstContainerNode, CstInputValue, CstNode, CstObject, CstObjectProp, CstRootNode,
};

/// The per-alias platform map Remote-SSH reads before asking "Select the
/// platform of the remote host".
pub const REMOTE_PLATFORM: &str = "remote.SSH.remotePlatform";

/// Products that share VS Code's Remote-SSH settings, by their folder name
/// under the user config folder.
pub const PRODUCTS: &[&str] = &["Code", "Code - Insiders", "Cursor", "VSCodium", "Windsurf"];

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{path} is not valid JSON with comments ({message}); it was left alone")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {what} is not an object; it was left alone")]
    NotObject { path: PathBuf, what: String },
}

/// The user settings folders of the VS Code-family products, under
/// `config_dir` (`~/.config` on Linux, `~/Library/Application Support` on
/// macOS, `%APPDATA%` on Windows).
pub fn settings_candidates(config_dir: &Path) -> Vec<PathBuf> {
    PRODUCTS
        .iter()
        .map(|p| config_dir.join(p).join("User").join("settings.json"))
        .collect()
}

/// Where VS Code keeps its `User` folders: Electron's `appData`, which is
/// `%APPDATA%` on Windows (the known folder only when the variable is
/// unset), `dirs::config_dir()` elsewhere.
fn config_dir() -> Option<PathBuf> {
    #[cfg(windows)]
    if let Some(d) = std::env::var_os("APPDATA").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    dirs::config_dir()
}

/// The settings files to edit: those whose product is installed for this
/// user (its `User` folder exists).
pub fn settings_files() -> Vec<PathBuf> {
    let Some(dir) = config_dir() else {
        return Vec::new();
    };
    settings_candidates(&dir)
        .into_iter()
        .filter(|p| p.parent().is_some_and(Path::is_dir))
        .collect()
}

/// Set (`Some`) or remove (`None`) `remote.SSH.remotePlatform[alias]` in
/// the settings text. Returns the new text, or `None` when nothing changes.
pub fn set_remote_platform(
    path: &Path,
    text: &str,
    alias: &str,
    platform: Option<&str>,
) -> Result<Option<String>, SettingsError> {
    let root =
        CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| SettingsError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let not_object = |what: &str| SettingsError::NotObject {
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    let obj = match root.object_value() {
        Some(o) => Some(o),
        None if platform.is_none() => return Ok(None),
        None => Some(
            root.object_value_or_create()
                .ok_or_else(|| not_object("the settings file"))?,
        ),
    };
    let Some(obj) = obj else { return Ok(None) };
    // VS Code reads the LAST of duplicate keys; that is the one to edit.
    // Copies of the alias elsewhere (an earlier `remotePlatform`, or the
    // alias twice in the map) are dead but would contradict it: they go.
    let maps = props_named(&obj, REMOTE_PLATFORM);
    let live = match maps.last() {
        Some(prop) => match prop.value() {
            Some(CstNode::Container(CstContainerNode::Object(m))) => Some(m),
            _ => return Err(not_object(REMOTE_PLATFORM)),
        },
        None => None,
    };
    let mut dead: Vec<CstObjectProp> = maps[..maps.len().saturating_sub(1)]
        .iter()
        .filter_map(|m| m.object_value())
        .flat_map(|m| props_named(&m, alias))
        .collect();
    let in_live = live
        .as_ref()
        .map(|m| props_named(m, alias))
        .unwrap_or_default();
    if let Some((_, earlier)) = in_live.split_last() {
        dead.extend(earlier.iter().cloned());
    }
    let current = in_live.last().and_then(string_value);
    if current.as_deref() == platform && dead.is_empty() {
        return Ok(None);
    }
    match platform {
        Some(p) => match in_live.last() {
            Some(prop) => prop.set_value(CstInputValue::String(p.to_string())),
            None => {
                let map = match live {
                    Some(m) => m,
                    None => obj
                        .object_value_or_create(REMOTE_PLATFORM)
                        .ok_or_else(|| not_object(REMOTE_PLATFORM))?,
                };
                map.append(alias, CstInputValue::String(p.to_string()));
            }
        },
        None => {
            if let Some(prop) = in_live.last() {
                prop.clone().remove();
            }
        }
    }
    for d in dead {
        d.remove();
    }
    Ok(Some(root.to_string()))
}

/// Every property of `obj` named `name`, in file order.
fn props_named(obj: &CstObject, name: &str) -> Vec<CstObjectProp> {
    obj.properties()
        .into_iter()
        .filter(|p| p.decoded_name().as_deref() == Some(name))
        .collect()
}

fn string_value(prop: &CstObjectProp) -> Option<String> {
    let value: CstNode = prop.value()?;
    value.as_string_lit()?.decoded_value().ok()
}

/// Set the top-level string setting `key` (the last of duplicate keys, as
/// VS Code reads it; comments and layout kept). `None`: already so.
pub fn set_string_setting(
    path: &Path,
    text: &str,
    key: &str,
    value: &str,
) -> Result<Option<String>, SettingsError> {
    let root =
        CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| SettingsError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let obj = root
        .object_value_or_create()
        .ok_or_else(|| SettingsError::NotObject {
            path: path.to_path_buf(),
            what: "the settings file".into(),
        })?;
    match props_named(&obj, key).last() {
        Some(prop) if string_value(prop).as_deref() == Some(value) => return Ok(None),
        Some(prop) => prop.set_value(CstInputValue::String(value.to_string())),
        None => {
            obj.append(key, CstInputValue::String(value.to_string()));
        }
    }
    Ok(Some(root.to_string()))
}

/// The file `remote.SSH.configFile` points VS Code at, if set.
pub fn config_file(text: &str) -> Option<String> {
    string_setting(text, "remote.SSH.configFile")
}

/// The ssh `remote.SSH.path` tells VS Code to run, if set.
pub fn ssh_path(text: &str) -> Option<String> {
    string_setting(text, "remote.SSH.path")
}

/// A non-empty string setting.
fn string_setting(text: &str, key: &str) -> Option<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = CstRootNode::parse(text, &ParseOptions::default()).ok()?;
    let value: CstNode = root.object_value()?.get(key)?.value()?;
    value
        .as_string_lit()?
        .decoded_value()
        .ok()
        .filter(|s| !s.is_empty())
}

/// The platform recorded for `alias`, if any.
pub fn remote_platform(text: &str, alias: &str) -> Option<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = CstRootNode::parse(text, &ParseOptions::default()).ok()?;
    remote_platform_of(&root, alias)
}

/// What VS Code reads: the last `remotePlatform`, the last entry for the
/// alias in it.
fn remote_platform_of(root: &CstRootNode, alias: &str) -> Option<String> {
    let obj = root.object_value()?;
    let map = props_named(&obj, REMOTE_PLATFORM).last()?.object_value()?;
    string_value(props_named(&map, alias).last()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "settings.json";

    #[test]
    fn adds_keeping_comments_and_trailing_commas() {
        let text = "{\r\n  // my font\r\n  \"editor.fontSize\": 14, /* keep */\r\n  \"remote.SSH.remotePlatform\": {\r\n    \"old\": \"linux\",\r\n  },\r\n}\r\n";
        let out = set_remote_platform(Path::new(P), text, "runpod-a", Some("linux"))
            .unwrap()
            .unwrap();
        assert!(out.contains("// my font"), "{out}");
        assert!(out.contains("/* keep */"), "{out}");
        assert!(out.contains("\"old\": \"linux\""), "{out}");
        assert_eq!(remote_platform(&out, "runpod-a").as_deref(), Some("linux"));
        // Only the map changed: the text before it is byte-identical.
        let head = &text[..text.find("\"old\"").unwrap()];
        assert!(out.starts_with(head), "{out}");
        // Idempotent.
        assert!(
            set_remote_platform(Path::new(P), &out, "runpod-a", Some("linux"))
                .unwrap()
                .is_none()
        );
        // Removing gives the original back.
        let back = set_remote_platform(Path::new(P), &out, "runpod-a", None)
            .unwrap()
            .unwrap();
        assert_eq!(remote_platform(&back, "runpod-a"), None);
        assert!(back.contains("// my font"));
    }

    #[test]
    fn empty_and_missing_files() {
        let out = set_remote_platform(Path::new(P), "", "a", Some("linux"))
            .unwrap()
            .unwrap();
        assert_eq!(remote_platform(&out, "a").as_deref(), Some("linux"));
        let out = set_remote_platform(Path::new(P), "{}", "a", Some("linux"))
            .unwrap()
            .unwrap();
        assert_eq!(remote_platform(&out, "a").as_deref(), Some("linux"));
    }

    #[test]
    fn refuses_what_it_cannot_edit_safely() {
        assert!(set_remote_platform(Path::new(P), "{ \"a\": ", "x", Some("linux")).is_err());
        assert!(set_remote_platform(Path::new(P), "[1]", "x", Some("linux")).is_err());
        assert!(
            set_remote_platform(
                Path::new(P),
                "{\"remote.SSH.remotePlatform\": 3}",
                "x",
                Some("linux")
            )
            .is_err()
        );
    }

    #[test]
    fn duplicate_remote_platform_edits_the_last_and_drops_contradictions() {
        // VS Code (like JSON.parse) takes the last of duplicate keys.
        let text = "{\n  \"remote.SSH.remotePlatform\": {\"a\": \"windows\", \"b\": \"linux\"},\n  \"x\": 1,\n  \"remote.SSH.remotePlatform\": {\"a\": \"macOS\", \"c\": \"linux\"}\n}\n";
        let out = set_remote_platform(Path::new(P), text, "a", Some("linux"))
            .unwrap()
            .unwrap();
        let v: Vec<&str> = out.matches("remote.SSH.remotePlatform").collect();
        assert_eq!(v.len(), 2, "{out}");
        // The last map holds the new value; the first no longer names "a".
        let last = &out[out.rfind("remote.SSH.remotePlatform").unwrap()..];
        assert!(last.contains("\"a\": \"linux\""), "{out}");
        assert!(last.contains("\"c\": \"linux\""), "{out}");
        let first = &out[..out.rfind("remote.SSH.remotePlatform").unwrap()];
        assert!(!first.contains("\"a\""), "{out}");
        assert!(first.contains("\"b\": \"linux\""), "{out}");
        assert_eq!(remote_platform(&out, "a").as_deref(), Some("linux"));
        // Idempotent once consistent.
        assert!(
            set_remote_platform(Path::new(P), &out, "a", Some("linux"))
                .unwrap()
                .is_none()
        );
        // The alias twice inside one map: the last is set, the first goes.
        let text = "{\"remote.SSH.remotePlatform\": {\"a\": \"linux\", \"a\": \"windows\"}}";
        assert_eq!(remote_platform(text, "a").as_deref(), Some("windows"));
        let out = set_remote_platform(Path::new(P), text, "a", Some("linux"))
            .unwrap()
            .unwrap();
        assert_eq!(out.matches("\"a\"").count(), 1, "{out}");
        assert_eq!(remote_platform(&out, "a").as_deref(), Some("linux"));
        // Removal clears every copy.
        let text = "{\"remote.SSH.remotePlatform\": {\"a\": \"linux\"}, \"remote.SSH.remotePlatform\": {\"a\": \"linux\"}}";
        let out = set_remote_platform(Path::new(P), text, "a", None)
            .unwrap()
            .unwrap();
        assert!(!out.contains("\"a\""), "{out}");
    }

    #[test]
    fn candidates_cover_every_product() {
        let c = settings_candidates(Path::new("/home/u/.config"));
        assert_eq!(c.len(), 5);
        assert!(c.contains(&PathBuf::from("/home/u/.config/Code/User/settings.json")));
        let w = settings_candidates(Path::new(r"C:\Users\me\AppData\Roaming"));
        assert!(
            w[3].ends_with("VSCodium/User/settings.json")
                || w[3].to_string_lossy().contains("VSCodium")
        );
    }
}
