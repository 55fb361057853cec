//! The Apple-keyword rule: `UseKeychain` and the other keywords only
//! Apple's ssh knows make every other ssh refuse the whole file. The
//! repair names them in an `IgnoreUnknown` at the top, and is applied only
//! when no client refuses more than it did before.

use std::path::{Path, PathBuf};

use crate::config::document::Document;

use super::{Auto, Cx, Meta, Rule, Severity};

pub(super) struct AppleKeywords;
impl Rule for AppleKeywords {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "apple-keywords",
            title: "a keyword only Apple's ssh knows (UseKeychain, from GitHub's and Apple's Mac guides): every other ssh refuses the whole file",
            repair: "name it in `IgnoreUnknown` at the top of the file (or in the file's first `IgnoreUnknown`): Apple's ssh still uses it, every other ssh skips it",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        use crate::config::keywords::APPLE_ONLY;
        use crate::refusal::apple_keyword_refused;
        if cx.client.knows_apple_keywords() {
            return;
        }
        // What the client here stops at, anywhere in the tree: the first
        // use of each Apple keyword, by the spelling runpod-ssh writes.
        let refused = cx.refused(cx.client);
        let mut used: Vec<(&'static str, crate::config::Source)> = Vec::new();
        for p in &refused.problems {
            let Some(kw) = apple_keyword_refused(p) else {
                continue;
            };
            let Some((name, _)) = APPLE_ONLY.iter().find(|(_, k)| k.name == kw) else {
                continue;
            };
            if !used.iter().any(|(n, _)| n == name) {
                used.push((name, p.source.clone()));
            }
        }
        let Some((_, first)) = used.first().cloned() else {
            return;
        };
        let names: Vec<&str> = used.iter().map(|(n, _)| *n).collect();
        let line = if first.file == cx.path {
            cx.doc
                .lines()
                .get(first.line.saturating_sub(1))
                .and_then(|l| l.original_line())
        } else {
            None
        };
        let at = match line {
            Some(n) => format!("line {n}"),
            None => first.to_string(),
        };
        let message = format!(
            "{} ({at}) {} only Apple's ssh knows; {}",
            names.join(", "),
            if names.len() == 1 {
                "is a keyword"
            } else {
                "are keywords"
            },
            who_refuses(
                crate::refusal::local_ssh(),
                &cx.vscode,
                &refused_words(&names)
            )
        );
        let applied = ignore_unknown(cx, &names);
        if applied {
            cx.intended.push(("*".into(), "ignoreunknown".into()));
        }
        cx.report(
            self,
            line,
            Severity::Error,
            message,
            self.repair_text().into(),
            applied,
        );
    }
}

/// ssh's own words for each keyword.
fn refused_words(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"Bad configuration option: {}\"", n.to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which clients refuse the file today, and on a Mac whose first ssh on
/// `PATH` is not Apple's, which ssh the terminal and VS Code run.
fn who_refuses(
    local: &crate::refusal::LocalSsh,
    vscode_settings: &[(PathBuf, String)],
    words: &str,
) -> String {
    let here = match (&local.path, &local.version) {
        (Some(p), Some(v)) => format!("{} ({v})", p.display()),
        (Some(p), None) => p.display().to_string(),
        (None, _) => "ssh".into(),
    };
    let mut t = format!(
        "refusing the whole file today ({words}): the ssh here, {here}, and every ssh but Apple's (Linux, WSL, Windows' ssh.exe, Homebrew's or MacPorts' ssh on a Mac)"
    );
    if local.apple_shadowed {
        // VS Code runs `remote.SSH.path`, else the first ssh on the PATH it
        // takes from the login shell: normally the terminal's.
        let vscode = vscode_settings
            .iter()
            .find_map(|(_, text)| crate::vscode::ssh_path(text));
        let vs = match vscode {
            Some(p) if Path::new(&p) == Path::new(crate::refusal::APPLE_SSH) => {
                format!("VS Code runs {p} (remote.SSH.path), Apple's, which reads the file")
            }
            Some(p) => format!("VS Code runs {p} (remote.SSH.path)"),
            None => format!(
                "VS Code runs the first ssh on the PATH it takes from your login shell, normally the same {here} (remote.SSH.path chooses another)"
            ),
        };
        t.push_str(&format!(
            ". On this Mac the terminal runs {here}, not Apple's {}; {vs}",
            crate::refusal::APPLE_SSH
        ));
    }
    t
}

/// Make every ssh skip `names`: add them to the file's first
/// `IgnoreUnknown` when it sits at the top (before any `Host`, `Match` or
/// `Include`: ssh honours only the first one it meets), else put a new one
/// on the first line, keeping the patterns of every later `IgnoreUnknown`
/// line, in this file or one it includes (the new one shadows them all).
/// Applied, and `true`, only when the client here then reads the file past
/// every Apple keyword, and neither it nor Apple's ssh refuses anything it
/// did not refuse before.
fn ignore_unknown(cx: &mut Cx, names: &[&str]) -> bool {
    let lines = cx.doc.lines();
    let top_end = lines
        .iter()
        .position(|l| matches!(l.keyword(), Some("host" | "match" | "include")))
        .unwrap_or(lines.len());
    let quote = |v: String| {
        if v.contains([' ', '\t']) {
            format!("\"{v}\"")
        } else {
            v
        }
    };
    let mut candidates = Vec::new();
    let first = (0..top_end).find(|&i| lines[i].keyword() == Some("ignoreunknown"));
    if let Some(i) = first
        && let Some(old) = lines[i].values().first().map(|v| v.to_string())
    {
        let mut doc = cx.doc.clone();
        let mut v = old;
        for n in names {
            v.push(',');
            v.push_str(n);
        }
        doc.replace_value(i, &quote(v));
        candidates.push(doc);
    }
    // A new first line: needed when there is no top-level one, or when it
    // comes after a use (`UseKeychain yes` then `IgnoreUnknown …`).
    let mut patterns: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    for f in crate::config::files::load_tree(&cx.path, &cx.doc, &cx.ctx.home) {
        for l in f.doc.lines() {
            if l.keyword() != Some("ignoreunknown") {
                continue;
            }
            for p in l.values().first().into_iter().flat_map(|v| v.split(',')) {
                if !p.is_empty() && !patterns.iter().any(|q| q.eq_ignore_ascii_case(p)) {
                    patterns.push(p.to_string());
                }
            }
        }
    }
    // A blank line keeps it apart from a block or a comment that opens
    // the file.
    let apart = lines
        .first()
        .is_some_and(|l| l.is_header() || l.is_comment());
    let mut new = vec![format!("IgnoreUnknown {}", quote(patterns.join(",")))];
    if apart {
        new.push(String::new());
    }
    let mut doc = cx.doc.clone();
    doc.insert_lines(0, new);
    candidates.push(doc);

    // (file, words) of what `client` refuses: lines move with the insert.
    let refused = |client: crate::refusal::Client, doc: &Document| -> Vec<(PathBuf, String)> {
        crate::refusal::check(client, &cx.path, doc, cx.ctx)
            .problems
            .into_iter()
            .map(|p| (p.source.file, p.message))
            .collect()
    };
    let clients = [cx.client, crate::refusal::Client::Apple];
    let before: Vec<Vec<(PathBuf, String)>> =
        clients.iter().map(|&c| refused(c, &cx.doc)).collect();
    let accepted = candidates.into_iter().find(|doc| {
        let apple_left = crate::refusal::check(cx.client, &cx.path, doc, cx.ctx)
            .problems
            .iter()
            .any(|p| crate::refusal::apple_keyword_refused(p).is_some());
        !apple_left
            && clients
                .iter()
                .zip(&before)
                .all(|(&c, old)| refused(c, doc).iter().all(|p| old.contains(p)))
    });
    match accepted {
        Some(doc) => {
            cx.doc = doc;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Context;
    use crate::doctor::Finding;

    #[test]
    fn a_mac_whose_first_ssh_is_homebrews_is_told_which_ssh_each_runs() {
        let brew = crate::refusal::detect_macos(
            Some(PathBuf::from("/opt/homebrew/bin/ssh")),
            Some("OpenSSH_9.9p1, OpenSSL 3.4.0 22 Oct 2024".into()),
            true,
        );
        assert_eq!(brew.client, crate::refusal::Client::OpenSsh);
        let t = who_refuses(&brew, &[], "W");
        assert!(
            t.contains("the terminal runs /opt/homebrew/bin/ssh (OpenSSH_9.9p1, OpenSSL 3.4.0 22 Oct 2024), not Apple's /usr/bin/ssh"),
            "{t}"
        );
        assert!(
            t.contains("VS Code runs the first ssh on the PATH it takes from your login shell"),
            "{t}"
        );
        let vs = vec![(
            PathBuf::from("settings.json"),
            "{\"remote.SSH.path\": \"/usr/bin/ssh\"}".to_string(),
        )];
        let t = who_refuses(&brew, &vs, "W");
        assert!(
            t.contains(
                "VS Code runs /usr/bin/ssh (remote.SSH.path), Apple's, which reads the file"
            ),
            "{t}"
        );
        // Linux: no Mac sentence.
        let linux = crate::refusal::LocalSsh {
            client: crate::refusal::Client::OpenSsh,
            path: Some(PathBuf::from("/usr/bin/ssh")),
            version: None,
            apple_shadowed: false,
            forced: false,
        };
        let t = who_refuses(&linux, &vs, "W");
        assert!(
            t.starts_with("refusing the whole file today (W): the ssh here, /usr/bin/ssh,"),
            "{t}"
        );
        assert!(!t.contains("VS Code"), "{t}");
    }

    fn apple_fix(text: &str) -> (String, Vec<Finding>) {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context {
            local_user: "u".into(),
            home: dir.path().to_path_buf(),
            user_home: dir.path().to_path_buf(),
            uid: 1,
            check_include_permissions: false,
            system_config: None,
        };
        let path = dir.path().join("config");
        let mut cx = Cx::new(Document::parse(text.as_bytes()), &path, &ctx);
        cx.client = crate::refusal::Client::OpenSsh;
        AppleKeywords.run(&mut cx);
        (String::from_utf8(cx.doc.to_bytes()).unwrap(), cx.findings)
    }

    #[test]
    fn ignore_unknown_goes_above_includes_and_keeps_later_patterns() {
        // Before an Include: the included file's own IgnoreUnknown would
        // otherwise be the first ssh meets.
        let (out, f) = apple_fix("Include other\nHost a\n  UseKeychain yes\n");
        assert_eq!(
            out,
            "IgnoreUnknown UseKeychain\nInclude other\nHost a\n  UseKeychain yes\n"
        );
        assert!(f[0].applied);
        // A later IgnoreUnknown (in a block) is shadowed: its patterns move up.
        let (out, _) =
            apple_fix("# mine\nHost *\n  IgnoreUnknown Frob\n  UseKeychain yes\n  Frob 1\n");
        assert!(
            out.starts_with("IgnoreUnknown UseKeychain,Frob\n\n# mine\n"),
            "{out}"
        );
        // Already ignored: nothing to do.
        let (out, f) = apple_fix("IgnoreUnknown use*\nUseKeychain yes\n");
        assert!(f.is_empty());
        assert_eq!(out, "IgnoreUnknown use*\nUseKeychain yes\n");
    }

    #[test]
    fn apples_own_ssh_gets_no_finding() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context {
            local_user: "u".into(),
            home: dir.path().to_path_buf(),
            user_home: dir.path().to_path_buf(),
            uid: 1,
            check_include_permissions: false,
            system_config: None,
        };
        let path = dir.path().join("config");
        let text = "Host *\n  UseKeychain yes\n";
        let mut cx = Cx::new(Document::parse(text.as_bytes()), &path, &ctx);
        cx.client = crate::refusal::Client::Apple;
        AppleKeywords.run(&mut cx);
        assert!(cx.findings.is_empty());
        assert_eq!(cx.doc.to_bytes(), text.as_bytes());
    }
}
