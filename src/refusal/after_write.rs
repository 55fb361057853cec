//! After a write: what the strictest client would still refuse or
//! misread in the file just written, and which `runpod-ssh fix` repairs it.

use std::path::Path;

use super::{
    Client, Diagnostic, Repair, UNRELATED_HOST, apple_keyword_refused, check, fix_command,
    fix_repairs, judge_split, line_repair, render, repairs_of,
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
    strictest_after_writing(path, doc, None, ctx, with_local)
}

/// [`strictest_after_write`] when the caller has what it wrote, `bytes`
/// (`doc.to_bytes()`): not made again to compare with the disk.
pub fn strictest_after_writing(
    path: &Path,
    doc: &Document,
    bytes: Option<&[u8]>,
    ctx: &Context,
    with_local: bool,
) -> Option<String> {
    strictest_after(path, doc, Written::Check(bytes), ctx, with_local)
}

/// [`strictest_after_writing`] when the caller has just written
/// `doc.to_bytes()` to `path` itself, under the lock it still holds: the
/// file holds them, and is not read back to see.
pub fn strictest_after_own_write(
    path: &Path,
    doc: &Document,
    ctx: &Context,
    with_local: bool,
) -> Option<String> {
    strictest_after(path, doc, Written::Holds, ctx, with_local)
}

/// What the caller of [`strictest_after`] knows of the file on disk.
enum Written<'a> {
    /// It holds `doc`'s bytes (the caller wrote them under its lock).
    Holds,
    /// Unknown: compare it with these bytes (`doc.to_bytes()`, made
    /// when `None`).
    Check(Option<&'a [u8]>),
}

fn strictest_after(
    path: &Path,
    doc: &Document,
    disk: Written,
    ctx: &Context,
    with_local: bool,
) -> Option<String> {
    let client = Client::OpenSsh77;
    let (mut r, evaluated) = judge_split(client, doc, path, UNRELATED_HOST, ctx);
    // Which problems are held against the file: on a Mac whose ssh is
    // Apple's, Apple's own keywords are that ssh's business (this note is
    // about how old clients split lines); without `with_local`, what the
    // local ssh refuses is reported elsewhere.
    let apple = Client::local().knows_apple_keywords();
    let local = (!with_local).then(|| check(Client::OpenSsh, path, doc, ctx));
    let known: std::collections::HashSet<&crate::config::Source> = local
        .iter()
        .flat_map(|l| l.problems.iter().map(|q| &q.source))
        .collect();
    let keep: Vec<bool> = r
        .problems
        .iter()
        .map(|p| !(known.contains(&p.source) || apple && apple_keyword_refused(p).is_some()))
        .collect();
    // `fix_repairs` of the file just written would read, parse and judge
    // it again: when the disk holds exactly `doc`, this judgement (all of
    // it, before the filter above) is that one (the whole file again, on
    // a large config, was most of an edit's time).
    let root_kept = r
        .problems
        .iter()
        .zip(&keep)
        .any(|(p, &k)| k && p.source.file == path);
    let root_repair = root_kept
        .then(|| written(path, doc, &disk, &r.problems, evaluated, ctx))
        .flatten();
    let mut k = keep.iter();
    r.problems.retain(|_| k.next().copied().unwrap_or(true));
    if r.is_empty() {
        return None;
    }
    // Per file: which `runpod-ssh fix` repairs it, or that no rule does.
    let files = r.files();
    let hint = files
        .iter()
        .map(|f| {
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
        render(&r)
    ))
}

/// What `fix` repairs in `path` when the disk holds `doc` (just written,
/// `judged` its judgement), decided without reading and judging the file
/// again; `None` when the disk may hold something else.
fn written(
    path: &Path,
    doc: &Document,
    disk: &Written,
    judged: &[Diagnostic],
    evaluated: usize,
    ctx: &Context,
) -> Option<Repair> {
    if !doc.reparses_identically() {
        return None;
    }
    let holds = match disk {
        Written::Holds => true,
        Written::Check(bytes) => {
            let on_disk = crate::fsio::read(path).ok()?;
            let ours = bytes.map_or_else(|| std::borrow::Cow::Owned(doc.to_bytes()), Into::into);
            on_disk.content() == &*ours
        }
    };
    holds.then(|| {
        // Decided from the refused lines alone when they are all comments
        // after a value (running every rule over a copy of the file was
        // most of an edit's time).
        line_repair::comments_only(path, doc, judged, evaluated, ctx).unwrap_or_else(|| {
            let before = judged
                .iter()
                .filter(|p| p.source.file == path)
                .map(|p| p.message.clone())
                .collect();
            repairs_of(
                Client::OpenSsh77,
                path,
                UNRELATED_HOST,
                ctx,
                doc.clone(),
                Some(before),
            )
        })
    })
}
