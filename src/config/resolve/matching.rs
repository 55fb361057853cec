//! `Match` and `Include`: which blocks apply, and the files they read.

use std::path::Path;

use super::super::document::decode;
use super::super::pattern;
use super::{Diagnostic, Evaluator, Input, MAX_INCLUDE_DEPTH, Source};

impl<'c> Evaluator<'c> {
    /// `readconf.c:match_cfg_line`. `None` is "Bad Match condition".
    pub(super) fn match_line(&mut self, args: &[&str], file: &Path, line: usize) -> Option<bool> {
        let host = self.match_host_value();
        let ruser = self
            .first("user")
            .map(|s| s.args[0].clone())
            .unwrap_or_else(|| self.ctx.local_user.clone());
        let mut result = true;
        let mut attributes = 0;
        let mut it = args.iter().peekable();
        while let Some(oattrib) = it.next() {
            let (negate, attrib) = match oattrib.strip_prefix('!') {
                Some(a) => (true, a),
                None => (false, *oattrib),
            };
            let a = attrib.to_ascii_lowercase();
            if a == "all" {
                if attributes > 1 || it.peek().is_some() {
                    return None;
                }
                return Some(result && !negate);
            }
            attributes += 1;
            if a == "canonical" || a == "final" {
                if a == "final" {
                    self.want_final = true;
                }
                if self.final_pass == negate {
                    result = false;
                }
                continue;
            }
            let arg = match it.next() {
                Some(x) if !x.is_empty() && !x.starts_with('#') => x.to_string(),
                _ => return None,
            };
            let matched = match a.as_str() {
                "host" => pattern::match_hostname(&host, &arg),
                "originalhost" => pattern::match_hostname(&self.original_host, &arg),
                "user" => pattern::match_pattern_list(&ruser, &arg, false) == 1,
                "localuser" => pattern::match_pattern_list(&self.ctx.local_user, &arg, false) == 1,
                "exec" | "localnetwork" | "tagged" => {
                    if result {
                        self.not_evaluated.push(Diagnostic {
                            source: Source {
                                file: file.to_path_buf(),
                                line,
                            },
                            message: format!(
                                "Match {a} {arg:?} was not evaluated (taken as false)"
                            ),
                        });
                        result = false;
                    }
                    continue;
                }
                _ => return None,
            };
            if matched == negate {
                result = false;
            }
        }
        if attributes == 0 {
            return None;
        }
        Some(result)
    }

    pub(super) fn include(
        &mut self,
        args: &[&str],
        file: &Path,
        line: usize,
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) {
        for arg in args {
            if arg.is_empty() {
                return self.error(file, line, "keyword include empty argument".into());
            }
            let path = if self.system && !arg.starts_with('~') && !is_absolute(arg) {
                system_include_path(arg, file)
            } else {
                include_path(arg, &self.ctx.home)
            };
            // An argument that is not valid UTF-8 cannot be handed to glob
            // as ssh hands its bytes: don't guess which files it names.
            if arg.contains('\u{FFFD}') {
                return self.error(
                    file,
                    line,
                    format!("Include {arg}: the path is not valid UTF-8, so runpod-ssh cannot follow it as ssh does"),
                );
            }
            let matches = match super::super::files::include_glob(&path) {
                Ok(m) => m,
                Err(e) => return self.error(file, line, e),
            };
            let oactive = *active;
            for p in matches {
                if depth + 1 > MAX_INCLUDE_DEPTH {
                    return self.error(
                        file,
                        line,
                        "Too many recursive configuration includes".into(),
                    );
                }
                let bytes = match crate::fsio::read_limited(&p) {
                    Ok(c) => c.bytes,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => continue,
                    Err(e) => {
                        return self.error(
                            file,
                            line,
                            format!("Can't open user config file {}: {e}", p.display()),
                        );
                    }
                };
                if self.ctx.check_include_permissions
                    && let Some(msg) = crate::platform::unsafe_config_permissions(&p, self.ctx.uid)
                {
                    return self.error(file, line, msg);
                }
                let (encoding, text) = decode(&bytes);
                let errors_before = self.errors.len();
                let input = Input::Text(encoding, &text);
                self.read_input(input, &p, active, never_match || !oactive, depth + 1);
                *active = oactive;
                if self.errors.len() > errors_before {
                    // OpenSSH stops at the end of a bad included file.
                    return;
                }
            }
        }
    }
}

/// Where `Include ARG` points: `~` is `$HOME`, relative paths live in `~/.ssh`.
pub fn include_path(arg: &str, home: &Path) -> String {
    let home = home.to_string_lossy();
    if let Some(rest) = arg.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else if arg == "~" {
        home.into_owned()
    } else if arg.starts_with('~') || is_absolute(arg) {
        // `~user/…` is glob(3)'s to expand (GLOB_TILDE), as in ssh.
        arg.to_string()
    } else {
        format!("{home}/.ssh/{arg}")
    }
}

/// A relative `Include` in the system config: beside it (`/etc/ssh`).
pub(super) fn system_include_path(arg: &str, system_file: &Path) -> String {
    let dir = system_file.parent().unwrap_or(Path::new("/etc/ssh"));
    format!("{}/{arg}", dir.to_string_lossy())
}

pub(super) fn is_absolute(p: &str) -> bool {
    p.starts_with('/')
        || (cfg!(windows) && (p.as_bytes().get(1) == Some(&b':') || p.starts_with('\\')))
}
