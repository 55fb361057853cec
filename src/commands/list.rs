//! `runpod-ssh list`: the RunPod entries (or every host), with what ssh
//! will really use for each and where it is defined.

use super::{Env, Failure, OrFail, Outcome};
use crate::cli::ListArgs;
use crate::config::files::{ConfigFile, load_tree_owned};
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::path::Path;

use crate::config::keywords::Fnv;

use crate::config::resolve::Resolver;
use crate::config::{Context, Document};
use crate::{fsio, output, refusal, runpod};

/// A row borrows its alias and file from the config files (no copy per
/// host); serialized as it was with owned ones.
#[derive(Debug, serde::Serialize)]
struct Row<'a> {
    alias: Cow<'a, str>,
    hostname: String,
    port: u16,
    user: String,
    identity_file: Option<String>,
    identity_exists: Option<bool>,
    runpod: bool,
    managed: bool,
    source: RowSource<'a>,
}

/// A [`Source`] borrowed from the files: the same JSON.
#[derive(Debug, serde::Serialize)]
struct RowSource<'a> {
    file: &'a Path,
    line: usize,
}

pub fn run(env: &Env, a: &ListArgs) -> anyhow::Result<Outcome> {
    if a.live {
        return super::live::list(env, a);
    }
    let path = env.config_path()?;
    let snap = fsio::read(&path).or_fail(Failure::Io)?;
    let doc = Document::parse_shared(snap.bytes.as_ref());
    let ctx = env.context();
    // Most files are fine, so the `ssh -G` backstop (asked when the own
    // evaluator finds nothing) starts now and runs beside the rows; when
    // the own evaluator refuses the file, it is dropped (killed) unread.
    // Not asked at all when the own check is proven to judge every line as
    // this ssh does (`refusal::VOUCHED`, tests/vouch.rs).
    let backstop = refusal::ssh_backstop_start_unless_vouched(&path, &doc, &ctx);
    let own = refusal::check(refusal::Client::local(), &path, &doc, &ctx);
    if !own.is_empty() {
        return refused(env, &path, own, &ctx);
    }
    // The tree takes the document (no copy of every line); the root's is
    // the first file.
    let files = load_tree_owned(&path, doc, &ctx.home);
    let rows = rows(&files, &path, &ctx, a.all);
    // What the own evaluator missed, ssh -G still says (when it may be asked).
    let from_ssh = backstop.verdict();
    if !from_ssh.is_empty() {
        return refused(env, &path, from_ssh, &ctx);
    }
    if env.global.json {
        output::out(&output::json(&rows)?)?;
        return Ok(Outcome::Ok);
    }
    if rows.is_empty() {
        if !env.global.quiet {
            output::out(&if a.all {
                "No hosts in the config.\n".to_string()
            } else {
                format!(
                    "No RunPod entries yet. Add one with: {}\n",
                    env.command("add 'ssh root@IP -p PORT -i ~/.ssh/id_ed25519'")
                )
            })?;
        }
        return Ok(Outcome::Ok);
    }
    output::out(&table(&rows))?;
    // Freed by the exit that follows: one by one, a row per host and the
    // lexed lines of every file cost more than the rest of printing.
    std::mem::forget(rows);
    std::mem::forget(files);
    Ok(Outcome::Ok)
}

/// A file ssh refuses has no hosts for ssh: rows would mislead. Says so,
/// with what `refused` holds.
fn refused(
    env: &Env,
    path: &Path,
    refused: refusal::Refusal,
    ctx: &Context,
) -> anyhow::Result<Outcome> {
    let client = refusal::Client::local();
    let hint = refusal::hint(client, &refused, refusal::UNRELATED_HOST, ctx)
        .map(|h| env.carry_options(&h))
        .unwrap_or_else(|| {
            format!(
                "no `runpod-ssh fix` rule repairs it: edit those lines by hand (`{}` lists what it finds)",
                env.command("fix --dry-run")
            )
        });
    if env.global.json {
        let v = serde_json::json!({
            "error": format!("{} refuses the config", client.name()),
            "problems": refused.problems.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "hint": hint,
        });
        output::out(&output::json(&v)?)?;
    }
    output::err(&format!(
        "{} {} refuses {}, so it connects to none of its hosts:\n{}\n{hint}\n",
        env.style.red("error:"),
        client.name(),
        path.display(),
        output::escape(&refusal::render(&refused), true)
    ));
    Ok(Outcome::Problems)
}

/// One row per alias, with what ssh will use for it.
fn rows<'a>(files: &'a [ConfigFile], path: &Path, ctx: &Context, all: bool) -> Vec<Row<'a>> {
    let doc = &files[0].doc;
    // One plan of the file for every alias: each is evaluated over its own
    // blocks, not the whole file (linear, not quadratic, in the hosts).
    // Only what a row shows (the file was judged above).
    let resolver = Resolver::for_values(
        doc,
        path,
        ctx,
        &["hostname", "port", "user", "identityfile"],
    );
    // Few distinct keys: FNV, looked up per row.
    let mut key_exists: HashMap<String, bool, BuildHasherDefault<Fnv>> = HashMap::default();
    let entries = runpod::entry_refs(files, all);
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        let r = resolver.resolve_row(e.alias);
        let exists = r.identity_file.as_deref().map(|i| match key_exists.get(i) {
            Some(&known) => known,
            None => *key_exists
                .entry(i.to_string())
                .or_insert_with(|| ctx.home_path(i).is_file()),
        });
        rows.push(Row {
            alias: Cow::Borrowed(e.alias),
            hostname: r.hostname,
            port: r.port,
            user: r.user,
            identity_exists: exists,
            identity_file: r.identity_file,
            runpod: e.runpod,
            managed: e.managed,
            source: RowSource {
                file: &files[e.file].path,
                line: e.line,
            },
        });
    }
    // Freed by the exit: a name per host.
    std::mem::forget(resolver);
    rows
}

/// The rows as a table, every cell escaped: the layout of
/// [`output::table_plain`], written straight from the rows (a table of
/// cells first cost five copies per host). Each cell is up to three
/// pieces of text; the last column ends in a digit, so no line needs the
/// trailing spaces `table_plain` trims.
fn table(rows: &[Row<'_>]) -> String {
    const HEADER: [&str; 5] = ["ALIAS", "ENDPOINT", "USER", "KEY", "DEFINED AT"];
    // `~/…` of each source file once (finding the home reads the password
    // database: once per row made `list` spend most of its time there).
    let mut shown: HashMap<&Path, String> = HashMap::new();
    let mut last: Option<&Path> = None;
    for r in rows {
        // Rows come file by file: a path hashed per file, not per row.
        if last != Some(r.source.file) {
            last = Some(r.source.file);
            shown
                .entry(r.source.file)
                .or_insert_with(|| super::edit::tilde(r.source.file));
        }
    }
    let mut file = Shown {
        shown: &shown,
        last: None,
    };
    let mut widths = HEADER.map(char_count);
    // Each row's cell widths when none of its cells escapes (most rows):
    // the second pass neither scans nor counts those again.
    let mut plain: Vec<Option<[u32; 5]>> = Vec::with_capacity(rows.len());
    for r in rows {
        let (mut port, mut line) = ([0; 20], [0; 20]);
        let cells = cells(r, file.get(r.source.file), &mut port, &mut line);
        let known = plain_widths(&cells);
        for (c, w) in widths.iter_mut().enumerate() {
            let n = known.map_or_else(|| cell_width(&cells[c]), |k| k[c] as usize);
            *w = (*w).max(n);
        }
        plain.push(known);
    }
    // Every line is at most the widths, 4 gaps of 2 and a newline (in
    // characters: more only when a cell is not ASCII).
    let mut text = String::with_capacity((rows.len() + 1) * (widths.iter().sum::<usize>() + 9));
    push_row(&mut text, &HEADER.map(|h| [h, "", ""]), &widths);
    for (r, known) in rows.iter().zip(plain) {
        let (mut port, mut line) = ([0; 20], [0; 20]);
        let cells = cells(r, file.get(r.source.file), &mut port, &mut line);
        match known {
            Some(k) => push_plain_row(&mut text, &cells, &k, &widths),
            None => push_row(&mut text, &cells, &widths),
        }
    }
    text
}

/// The width of each cell of a row, when no cell needs escaping (the
/// widths fit in u32: a config is read whole into memory, capped).
fn plain_widths(cells: &[[&str; 3]; 5]) -> Option<[u32; 5]> {
    let mut w = [0u32; 5];
    for (w, cell) in w.iter_mut().zip(cells) {
        let mut n = 0;
        for p in cell {
            n += plain_width(p)?;
        }
        *w = u32::try_from(n).ok()?;
    }
    Some(w)
}

/// The width of a piece that needs no escaping. Printable ASCII (most
/// pieces) is said in one pass that needs neither
/// [`output::needs_escape`] nor [`char_count`]: nothing in it is escaped,
/// and each byte is a character.
fn plain_width(p: &str) -> Option<usize> {
    let printable = p.as_bytes().chunks(16).all(|c| {
        c.iter()
            .fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x5f))
    });
    if printable {
        return Some(p.len());
    }
    (!output::needs_escape(p)).then(|| char_count(p))
}

/// [`push_row`] of a row whose cells need no escaping, their widths known.
fn push_plain_row(text: &mut String, cells: &[[&str; 3]; 5], own: &[u32; 5], widths: &[usize; 5]) {
    for (c, cell) in cells.iter().enumerate() {
        cell.iter().for_each(|p| text.push_str(p));
        if c + 1 != cells.len() {
            push_spaces(text, widths[c].saturating_sub(own[c] as usize) + 2);
        }
    }
    text.push('\n');
}

/// `pad` spaces, a slice at a time rather than a char at a time.
fn push_spaces(text: &mut String, mut pad: usize) {
    const SPACES: &str = "                                ";
    while pad > 0 {
        let k = pad.min(SPACES.len());
        text.push_str(&SPACES[..k]);
        pad -= k;
    }
}

/// The `~/…` form of each source file, the last one found kept at hand.
struct Shown<'a> {
    shown: &'a HashMap<&'a Path, String>,
    last: Option<(&'a Path, &'a str)>,
}

impl<'a> Shown<'a> {
    fn get(&mut self, file: &'a Path) -> &'a str {
        match self.last {
            Some((p, s)) if p == file => s,
            _ => {
                let s = self.shown.get(file).map_or("", String::as_str);
                self.last = Some((file, s));
                s
            }
        }
    }
}

/// The pieces of a row's cells, before escaping (`port` and `line` hold
/// the numbers' digits).
fn cells<'a>(
    r: &'a Row<'_>,
    file: &'a str,
    port: &'a mut [u8; 20],
    line: &'a mut [u8; 20],
) -> [[&'a str; 3]; 5] {
    let key = match (&r.identity_file, r.identity_exists) {
        (Some(k), Some(false)) => [k.as_str(), " (missing)", ""],
        (Some(k), _) => [k.as_str(), "", ""],
        (None, _) => ["(ssh defaults)", "", ""],
    };
    [
        [r.alias.as_ref(), "", ""],
        [r.hostname.as_str(), ":", digits(usize::from(r.port), port)],
        [r.user.as_str(), "", ""],
        key,
        [file, ":", digits(r.source.line, line)],
    ]
}

/// One table line: every cell but the last padded to its column's width
/// (in characters) plus two spaces.
fn push_row(text: &mut String, cells: &[[&str; 3]; 5], widths: &[usize; 5]) {
    for (c, cell) in cells.iter().enumerate() {
        // Aliases, paths and values come from the config: escaped, so a
        // `Host` name carrying ESC sequences cannot drive the terminal.
        let n = if cell.iter().any(|p| output::needs_escape(p)) {
            let e = output::escape(&cell.concat(), false);
            text.push_str(&e);
            char_count(&e)
        } else {
            cell.iter().for_each(|p| text.push_str(p));
            cell.iter().map(|p| char_count(p)).sum()
        };
        if c + 1 != cells.len() {
            push_spaces(text, widths[c].saturating_sub(n) + 2);
        }
    }
    text.push('\n');
}

/// The width in characters of a cell once escaped.
fn cell_width(cell: &[&str; 3]) -> usize {
    if cell.iter().any(|p| output::needs_escape(p)) {
        char_count(&output::escape(&cell.concat(), false))
    } else {
        cell.iter().map(|p| char_count(p)).sum()
    }
}

/// `chars().count()`, without decoding an ASCII cell.
fn char_count(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// `n` in decimal, in `buf` (no allocation per row).
fn digits(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The table as it was made before [`table`] wrote it straight from
    /// the rows: a table of escaped cells laid out by `table_plain`.
    fn table_by_cells(rows: &[Row<'_>]) -> String {
        let escaped = |cell: String| {
            if output::needs_escape(&cell) {
                output::escape(&cell, false)
            } else {
                cell
            }
        };
        let mut table = vec![["ALIAS", "ENDPOINT", "USER", "KEY", "DEFINED AT"].map(String::from)];
        for r in rows {
            let key = match (&r.identity_file, r.identity_exists) {
                (Some(k), Some(false)) => [k.as_str(), " (missing)"].concat(),
                (Some(k), _) => k.clone(),
                (None, _) => "(ssh defaults)".into(),
            };
            let file = super::super::edit::tilde(r.source.file);
            table.push([
                escaped(r.alias.to_string()),
                escaped(format!("{}:{}", r.hostname, r.port)),
                escaped(r.user.clone()),
                escaped(key),
                escaped(format!("{file}:{}", r.source.line)),
            ]);
        }
        output::table_plain(&table)
    }

    /// Text a config can hold: ASCII, wide and combining characters, NBSP,
    /// C0/C1 controls, bidi overrides, trailing and ideographic spaces.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "",
            "a",
            "runpod-1",
            "漢",
            "ü",
            "e\u{301}",
            "\u{a0}",
            "\u{85}",
            "\u{1b}[31m",
            "\u{202e}",
            "\u{3000}",
            " ",
            "\t",
            "~/.ssh/id key",
            "\u{7f}",
            "10.0.0.1",
        ]);
        prop::collection::vec(piece, 0..4).prop_map(|v| v.concat())
    }

    fn row() -> impl Strategy<Value = Row<'static>> {
        (
            (text(), text(), any::<u16>(), text()),
            (
                prop::option::of(text()),
                prop::option::of(any::<bool>()),
                prop::sample::select(vec!["/tmp/x/config", "/tmp/y/a\u{1b}b", "/tmp/漢"]),
                0usize..100_000,
            ),
        )
            .prop_map(
                |((alias, hostname, port, user), (key, exists, file, line))| Row {
                    alias: Cow::Owned(alias),
                    hostname,
                    port,
                    user,
                    identity_file: key,
                    identity_exists: exists,
                    runpod: false,
                    managed: false,
                    source: RowSource {
                        file: Path::new(file),
                        line,
                    },
                },
            )
    }

    proptest! {
        #[test]
        fn table_from_rows_is_table_plain_of_escaped_cells(
            rows in prop::collection::vec(row(), 0..6)
        ) {
            prop_assert_eq!(table(&rows), table_by_cells(&rows));
        }
    }

    proptest! {
        #[test]
        fn a_plain_width_is_the_width_of_text_that_needs_no_escape(
            p in prop::collection::vec(text(), 0..8).prop_map(|v| v.concat())
        ) {
            let slow = (!output::needs_escape(&p)).then(|| char_count(&p));
            prop_assert_eq!(plain_width(&p), slow);
        }
    }

    #[test]
    fn digits_are_the_decimal_number() {
        for n in [0, 7, 10, 22, 65535, 100_000, usize::MAX] {
            assert_eq!(digits(n, &mut [0; 20]), n.to_string());
        }
    }
}
