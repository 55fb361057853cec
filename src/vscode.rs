//! VS Code-family `settings.json` files: where they are, and lossless edits
//! of `remote.SSH.remotePlatform` (comments, trailing commas and formatting
//! kept, through `jsonc-parser`'s CST).

use std::path::{Path, PathBuf};

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstNode, CstRootNode};

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

/// The settings files to edit: those whose product is installed for this
/// user (its `User` folder exists).
pub fn settings_files() -> Vec<PathBuf> {
    let Some(dir) = dirs::config_dir() else {
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
    let current = remote_platform_of(&root, alias);
    if current.as_deref() == platform {
        return Ok(None);
    }
    match platform {
        Some(p) => {
            let obj = root
                .object_value_or_create()
                .ok_or_else(|| not_object("the settings file"))?;
            let map = obj
                .object_value_or_create(REMOTE_PLATFORM)
                .ok_or_else(|| not_object(REMOTE_PLATFORM))?;
            match map.get(alias) {
                Some(prop) => prop.set_value(CstInputValue::String(p.to_string())),
                None => {
                    map.append(alias, CstInputValue::String(p.to_string()));
                }
            }
        }
        None => {
            if let Some(prop) = root
                .object_value()
                .and_then(|o| o.object_value(REMOTE_PLATFORM))
                .and_then(|m| m.get(alias))
            {
                prop.remove();
            }
        }
    }
    Ok(Some(root.to_string()))
}

/// The file `remote.SSH.configFile` points VS Code at, if set.
pub fn config_file(text: &str) -> Option<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = CstRootNode::parse(text, &ParseOptions::default()).ok()?;
    let value: CstNode = root.object_value()?.get("remote.SSH.configFile")?.value()?;
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

fn remote_platform_of(root: &CstRootNode, alias: &str) -> Option<String> {
    let prop = root
        .object_value()?
        .object_value(REMOTE_PLATFORM)?
        .get(alias)?;
    let value: CstNode = prop.value()?;
    value.as_string_lit()?.decoded_value().ok()
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
