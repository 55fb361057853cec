//! Helpers for hints that lead somewhere: shell-quoted command lines and
//! "did you mean …?" for typos in flags and aliases.

/// A word as a POSIX shell reads it back (quoted only when needed): the
/// one helper in [`crate::output::shell_quote`].
pub fn shell_quote(s: &str) -> String {
    crate::output::shell_quote(s)
}

/// The candidate closest to `word` (a typo: at most one edit in four
/// letters, two at most), for "did you mean …?". Edits count insertions,
/// deletions, substitutions and swaps of neighbours (`runpdo`).
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 4).clamp(1, 2);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Optimal string alignment distance (Damerau–Levenshtein without
/// repeated edits of one substring).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, v) in d[0].iter_mut().enumerate() {
        *v = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The host names a config tree defines (no wildcards, no negations), for
/// typo suggestions.
pub fn defined_aliases(files: &[crate::config::files::ConfigFile]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in files {
        for b in f.doc.blocks() {
            if b.kind != crate::config::BlockKind::Host {
                continue;
            }
            for p in &b.patterns {
                if !p.contains(['*', '?', '!']) && !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
    }
    out
}

/// " (did you mean X?)" for an alias no block names, or "".
pub fn did_you_mean(word: &str, files: &[crate::config::files::ConfigFile]) -> String {
    let names = defined_aliases(files);
    suggest(word, names.iter().map(String::as_str))
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggest_finds_swapped_and_doubled_letters_only_when_close() {
        let names = ["runpod-4090", "gpu", "github.com"];
        assert_eq!(
            suggest("runpdo-4090", names).as_deref(),
            Some("runpod-4090")
        );
        assert_eq!(suggest("gpuu", names).as_deref(), Some("gpu"));
        assert_eq!(
            suggest("--nmae", ["--name", "--identity"]).as_deref(),
            Some("--name")
        );
        assert_eq!(suggest("prod", names), None);
        assert_eq!(suggest("gpu", names), None);
    }
}
