//! After a write: what the strictest client would still refuse or
//! misread in the file just written, and which `runpod-ssh fix` repairs it.

use std::path::Path;

use super::old_client::{Judged, OldAt};
use super::{
    Client, Repair, UNRELATED_HOST, apple_keyword_refused, check, fix_command, fix_repairs,
    line_repair, repairs_of,
};
use crate::config::{Context, Document};

/// After a write: what the strictest client ([`Client::OpenSsh77`]) would
/// still refuse or misread in `doc`, just written to `path` (or in a file
/// it includes), as a message naming each file:line and the
/// `runpod-ssh fix` that repairs it; `None` when it reads every line.
/// `with_local`: include what the local ssh refuses as well (`fix` reports
/// those itself, as findings).
pub fn strictest_after_write(
    path: &Path,
    doc: &Document,
    ctx: &Context,
    with_local: bool,
) -> Option<String> {
    strictest_after(path, doc, Written::Check, ctx, with_local)
}

/// [`strictest_after_write`] when the caller has just written `bytes`
/// (`doc.to_bytes()`) to `path` itself, under the lock it still holds:
/// the file holds them, and is not read back to see.
pub fn strictest_after_own_write(
    path: &Path,
    doc: &Document,
    bytes: &[u8],
    ctx: &Context,
    with_local: bool,
) -> Option<String> {
    strictest_after(path, doc, Written::Holds(bytes), ctx, with_local)
}

/// What the caller of [`strictest_after`] knows of the file on disk.
enum Written<'a> {
    /// It holds `doc`'s bytes, these (the caller wrote them under its
    /// lock).
    Holds(&'a [u8]),
    /// Unknown: compare it with `doc.to_bytes()`.
    Check,
}

fn strictest_after(
    path: &Path,
    doc: &Document,
    disk: Written,
    ctx: &Context,
    with_local: bool,
) -> Option<String> {
    let client = Client::OpenSsh77;
    let j = Judged::new(client, doc, path, UNRELATED_HOST, ctx);
    // Which problems are held against the file: on a Mac whose ssh is
    // Apple's, Apple's own keywords are that ssh's business (this note is
    // about how old clients split lines); without `with_local`, what the
    // local ssh refuses is reported elsewhere. An older client's own words
    // are never a bad option's.
    let apple = Client::local().knows_apple_keywords();
    let local = (!with_local).then(|| check(Client::OpenSsh, path, doc, ctx));
    let known: std::collections::HashSet<(&Path, usize)> = local
        .iter()
        .flat_map(|l| l.problems.iter())
        .map(|q| (q.source.file.as_path(), q.source.line))
        .collect();
    let kept: Vec<Place> = (j.eval.problems.iter().enumerate())
        .filter(|(_, p)| {
            !(known.contains(&(p.source.file.as_path(), p.source.line))
                || apple && apple_keyword_refused(p).is_some())
        })
        .map(|(i, _)| Place::Eval(i))
        .chain(
            (j.old.iter())
                .filter(|o| !known.contains(&(j.old_path(**o), o.line)))
                .map(|&o| Place::Old(o)),
        )
        .collect();
    if kept.is_empty() {
        return None;
    }
    // `fix_repairs` of the file just written would read, parse and judge
    // it again: when the disk holds exactly `doc`, this judgement (all of
    // it, before the filter above) is that one (the whole file again, on
    // a large config, was most of an edit's time).
    let root_kept = kept.iter().any(|&p| place_path(&j, p) == path);
    let root_repair = root_kept.then(|| written(path, doc, &disk, &j)).flatten();
    // Per file, in order: which `runpod-ssh fix` repairs it, or that no
    // rule does.
    let mut files: Vec<&Path> = Vec::new();
    for &p in &kept {
        let f = place_path(&j, p);
        if !files.contains(&f) {
            files.push(f);
        }
    }
    let hint = files
        .iter()
        .map(|&f| {
            let cmd = fix_command(f, ctx);
            let which = if files.len() > 1 {
                format!(" in {}", f.display())
            } else {
                String::new()
            };
            let repair = root_repair
                .filter(|_| f == path)
                .unwrap_or_else(|| fix_repairs(client, f, UNRELATED_HOST, ctx));
            match repair {
                Repair::All => format!("`{cmd}` repairs the lines{which}"),
                Repair::Some => {
                    format!("`{cmd}` repairs some of the lines{which}; the rest is for you")
                }
                Repair::None => {
                    format!("no `runpod-ssh fix` rule repairs the lines{which}: edit them by hand")
                }
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    Some(format!(
        "{} would still refuse or misread these lines (VS Code on Windows uses it):\n{}\n{hint}",
        client.name(),
        listing(&j, &kept, &files, ctx)
    ))
}

/// A problem of a [`Judged`]: the evaluator's (its index), or one only
/// the older client finds.
#[derive(Clone, Copy)]
enum Place {
    Eval(usize),
    Old(OldAt),
}

fn place_path<'j>(j: &'j Judged, p: Place) -> &'j Path {
    match p {
        Place::Eval(i) => &j.eval.problems[i].source.file,
        Place::Old(o) => j.old_path(o),
    }
}

/// At most this many lines of one file are listed after a write; `fix
/// --dry-run` lists them all (a large config may have a comment after a
/// value on each of 10,000 lines).
pub const LISTED_PER_FILE: usize = 10;

/// `  file:line: words` for the first [`LISTED_PER_FILE`] problems of each
/// file (in `files`, in order), then per file how many more there are and
/// the command that lists them all. Words are made for the listed only.
fn listing(j: &Judged, kept: &[Place], files: &[&Path], ctx: &Context) -> String {
    let mut shown = vec![0usize; files.len()];
    let mut out = String::new();
    for &p in kept {
        let f = place_path(j, p);
        let k = files.iter().position(|&x| x == f).unwrap_or(0);
        shown[k] += 1;
        if shown[k] > LISTED_PER_FILE {
            continue;
        }
        let d = match p {
            Place::Eval(i) => Some(std::borrow::Cow::Borrowed(&j.eval.problems[i])),
            Place::Old(o) => j.old_diagnostic(o).map(std::borrow::Cow::Owned),
        };
        if let Some(d) = d {
            if !out.is_empty() {
                out.push('\n');
            }
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("  {d}"));
        }
    }
    for (f, n) in files.iter().zip(shown) {
        if let Some(more) = n.checked_sub(LISTED_PER_FILE).filter(|&m| m > 0) {
            let _ = std::fmt::Write::write_fmt(
                &mut out,
                format_args!(
                    "\n  … and {more} more {} (`{} --dry-run` lists them all)",
                    if more == 1 { "line" } else { "lines" },
                    fix_command(f, ctx)
                ),
            );
        }
    }
    out
}

/// What `fix` repairs in `path` when the disk holds `doc` (just written,
/// `j` its judgement), decided without reading and judging the file
/// again; `None` when the disk may hold something else.
fn written(path: &Path, doc: &Document, disk: &Written, j: &Judged) -> Option<Repair> {
    if !doc.reparses_identically() {
        return None;
    }
    let made;
    let (holds, ours): (bool, &[u8]) = match disk {
        Written::Holds(bytes) => (true, bytes),
        Written::Check => {
            let on_disk = crate::fsio::read(path).ok()?;
            made = doc.to_bytes();
            (on_disk.content() == made.as_slice(), &made)
        }
    };
    holds.then(|| {
        // Decided from the refused lines alone when they are all comments
        // after a value (running every rule over a copy of the file was
        // most of an edit's time).
        let eval_here = j.eval.problems.iter().any(|p| p.source.file == path);
        let lines = (j.old.iter())
            .filter(|&&o| j.old_path(o) == path)
            .map(|o| o.line);
        line_repair::comments_only_at(path, doc, Some(ours), eval_here, lines, j.ctx())
            .unwrap_or_else(|| {
                let before = (j.eval.problems.iter().cloned())
                    .chain(j.old.iter().filter_map(|&o| j.old_diagnostic(o)))
                    .filter(|p| p.source.file == path)
                    .map(|p| p.message)
                    .collect();
                repairs_of(
                    Client::OpenSsh77,
                    path,
                    UNRELATED_HOST,
                    j.ctx(),
                    doc.clone(),
                    Some(before),
                )
            })
    })
}
