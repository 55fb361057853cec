//! OpenSSH's wildcard patterns (`match.c`): `*` and `?` only, no classes,
//! no escapes; `!` negates an entry of a comma list.

/// `match_pattern`: does `s` match `pattern` (case-sensitive)?
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    glob(s.as_bytes(), pattern.as_bytes())
}

fn glob(s: &[u8], p: &[u8]) -> bool {
    // Iterative matcher with one backtrack point: linear in practice.
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// `match_pattern_list`: 1 when a positive entry matches and no negated
/// one does, -1 when a negated entry matches, 0 otherwise. With `dolower`
/// the patterns are lowercased first (the string is the caller's business).
pub fn match_pattern_list(s: &str, list: &str, dolower: bool) -> i32 {
    let mut got_positive = false;
    for entry in list.split(',') {
        let (negated, pat) = match entry.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, entry),
        };
        let pat = if dolower {
            pat.to_ascii_lowercase()
        } else {
            pat.to_string()
        };
        if match_pattern(s, &pat) {
            if negated {
                return -1;
            }
            got_positive = true;
        }
    }
    i32::from(got_positive)
}

/// `match_hostname`: the host is lowercased, the list matched lowercased.
pub fn match_hostname(host: &str, list: &str) -> bool {
    match_pattern_list(&host.to_ascii_lowercase(), list, true) == 1
}

/// Whether a `Host` line's patterns select `host` (`readconf.c case oHost`):
/// any matching negated pattern disables the block.
pub fn host_line_matches<'a>(host: &str, patterns: impl IntoIterator<Item = &'a str>) -> bool {
    let mut active = false;
    for p in patterns {
        let (negated, pat) = match p.strip_prefix('!') {
            Some(x) => (true, x),
            None => (false, p),
        };
        if match_pattern(host, pat) {
            if negated {
                return false;
            }
            active = true;
        }
    }
    active
}

/// Whether a pattern holds a wildcard or negation (applies to more than
/// one literal name).
pub fn is_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '!'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(match_pattern("web1", "web?"));
        assert!(!match_pattern("web", "web?"));
        assert!(match_pattern("web", "w*b"));
        assert!(match_pattern("a.example.com", "*.example.com"));
        assert!(!match_pattern("web", "w[ae]b"));
        assert!(match_pattern("", "*"));
        assert!(match_pattern("aXbXc", "*X*c"));
        assert!(!match_pattern("Web", "web"));
    }

    #[test]
    fn lists_and_negation() {
        assert_eq!(match_pattern_list("web", "!web,*", false), -1);
        assert_eq!(match_pattern_list("db", "!web,*", false), 1);
        assert_eq!(match_pattern_list("db", "web", false), 0);
        assert!(match_hostname("WEB", "web"));
        assert!(match_hostname("web", "WEB"));
        assert!(host_line_matches(
            "good.example.com",
            ["*.example.com", "!bad.example.com"]
        ));
        assert!(!host_line_matches(
            "bad.example.com",
            ["!bad.example.com", "*.example.com"]
        ));
        assert!(!host_line_matches("other", ["!bad"]));
    }
}
