//! The host entry itself, shared with `sync` and `live`: write it into a
//! copy of the config ([`apply`]), read an entry's endpoint, and prove the
//! edit — nothing earlier overrides it ([`overrides`]) and `ssh -G`
//! accepts the file ([`cross_check`]).

use std::sync::Arc;

use super::super::bad_input;
use super::super::edit::Session;
use crate::config::keywords::{self, Kind};
use crate::config::{BlockKind, Document, pattern};
use crate::oracle::{Oracle, Skip};
use crate::runpod::{self, Access, Endpoint};

/// The last line of defence: ask `ssh -G` about the edited config before
/// writing it, and refuse when ssh would refuse it (a refused config
/// breaks every host in the file). Skipped, with a note, when the tree has
/// `Match exec` (ssh -G would run it) or ssh is missing; the own evaluator
/// has already judged the edit then.
pub(crate) fn cross_check(
    s: &Session,
    doc: &Document,
    alias: &str,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let oracle = Oracle::for_versions(&s.path, &[&s.doc, doc], &s.ctx.home);
    ask_ssh(
        oracle,
        s,
        alias,
        notes,
        || Arc::new(utf8_bytes(doc)),
        || Arc::new(utf8_bytes(&s.doc)),
    )
}

/// [`cross_check`] of two UTF-8 versions of the config given as their
/// bytes (`old`: the session's document, `new`: the edit), which `add`
/// has made once for the proof, the question to ssh and the write. The
/// session's snapshot is the file as ssh would read it from disk.
pub(super) fn cross_check_bytes(
    s: &Session,
    old: &Arc<Vec<u8>>,
    new: &Arc<Vec<u8>>,
    alias: &str,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let oracle = Oracle::for_buffers(
        &s.path,
        Some(s.snap.content()),
        &[old.as_slice(), new.as_slice()],
        &s.ctx.home,
    );
    ask_ssh(
        oracle,
        s,
        alias,
        notes,
        || Arc::clone(new),
        || Arc::clone(old),
    )
}

/// The question of [`cross_check`] to an oracle (or the note why there is
/// none): `new` is what ssh reads of the edit, `old` of the file as read.
fn ask_ssh(
    oracle: Result<Oracle, Skip>,
    s: &Session,
    alias: &str,
    notes: &mut Vec<String>,
    new: impl FnOnce() -> Arc<Vec<u8>>,
    old: impl FnOnce() -> Arc<Vec<u8>>,
) -> anyhow::Result<()> {
    let oracle = match oracle {
        Ok(o) => o,
        Err(skip @ (Skip::RunsCommands { .. } | Skip::Unprovable { .. })) => {
            notes.push(skip.to_string());
            return Ok(());
        }
        Err(Skip::NoSsh) => return Ok(()),
    };
    // Piped to ssh, never written to disk: `--dry-run` writes nothing.
    let ask = |bytes: &Arc<Vec<u8>>| -> anyhow::Result<Result<(), String>> {
        Ok(oracle.ssh_g_bytes(bytes, &s.path, alias).map(|_| ()))
    };
    let Err(msg) = ask(&new())? else {
        return Ok(());
    };
    let msg = msg.trim_end();
    let already = ask(&old())?.is_err();
    Err(bad_input(if already {
        format!(
            "ssh already refuses this config, so a new entry would not work either; nothing was written. ssh says:\n{msg}"
        )
    } else {
        format!(
            "ssh would refuse the edited config (which breaks every host in it); nothing was written. ssh says:\n{msg}"
        )
    }))
}

/// What ssh should read of `doc`: [`Document::to_utf8`], without its copy
/// of the whole document when the text is UTF-8 already (then the two are
/// the same bytes).
fn utf8_bytes(doc: &Document) -> Vec<u8> {
    if doc.encoding() == crate::config::Encoding::Utf8 {
        doc.to_bytes()
    } else {
        doc.to_utf8()
    }
}

/// Apply the entry to a copy of `doc`: update block `existing` in place, or
/// insert a new block before the first block that would also apply to the
/// alias. Returns the document and the entry's block index.
pub(crate) fn apply(
    doc: &Document,
    existing: Option<usize>,
    alias: &str,
    options: &[(String, String)],
    ep: &Endpoint,
    extra_comment: &[&str],
) -> anyhow::Result<(Document, usize)> {
    apply_owned(
        doc.clone(),
        None,
        existing,
        alias,
        options,
        ep,
        extra_comment,
    )
}

/// [`apply`] to `doc` itself (a caller done with the version before the
/// edit saves a copy of the whole document); `blocks`: `doc.blocks_at()`
/// when the caller has them.
pub(super) fn apply_owned(
    mut doc: Document,
    blocks: Option<&[crate::config::BlockAt]>,
    existing: Option<usize>,
    alias: &str,
    options: &[(String, String)],
    ep: &Endpoint,
    extra_comment: &[&str],
) -> anyhow::Result<(Document, usize)> {
    if let Some(bi) = existing {
        if doc.blocks()[bi].patterns.first().map(String::as_str) != Some(alias) {
            doc.rename_host(bi, alias).map_err(bad_input)?;
        }
        for (k, v) in options {
            let multi = keywords::lookup(k).is_some_and(|kw| {
                matches!(
                    kw.kind,
                    Kind::Forward | Kind::DynamicForward | Kind::SendEnv
                )
            });
            if multi {
                let block = doc.blocks()[bi].clone();
                let present = doc
                    .option_lines(&block, k)
                    .iter()
                    .any(|&li| doc.lines()[li].values().join(" ") == *v);
                if !present {
                    doc.add_option(bi, k, v).map_err(bad_input)?;
                }
            } else {
                doc.set_option(bi, k, v).map_err(bad_input)?;
            }
        }
        return Ok((doc, bi));
    }
    let listed;
    let blocks = match blocks {
        Some(b) => b,
        None => {
            listed = doc.blocks_at();
            &listed
        }
    };
    let first_applying = (1..blocks.len()).find(|&i| match blocks[i].kind {
        BlockKind::Host => pattern::host_line_matches(alias, doc.patterns_at(&blocks[i])),
        // A Match may apply to anything: stay above it.
        _ => true,
    });
    // `Document::position_before_block(i)` without listing the blocks
    // again: above the comments attached to the block's header.
    let at = match first_applying.and_then(|i| blocks[i].header) {
        Some(header) => {
            let lines = doc.lines();
            let mut at = header;
            while at > 0 && lines[at - 1].is_comment() {
                at -= 1;
            }
            at
        }
        None => doc.lines().len(),
    };
    let opts: Vec<(&str, &str)> = options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut comment = vec![runpod::MARKER.trim_start_matches("# ")];
    if let Access::Proxy { .. } = ep.access {
        comment.push("ssh.runpod.io proxy: VS Code, scp, sftp and forwarding need the 'SSH over exposed TCP' command");
    }
    comment.extend_from_slice(extra_comment);
    let header = doc
        .insert_host_block(at, &[alias], &opts, &comment)
        .map_err(bad_input)?;
    // Its index in `doc.blocks()` (one block per header line, after the
    // global one), without building them all again.
    let lines = doc.lines();
    if !lines.get(header).is_some_and(|l| l.is_header()) {
        return Err(anyhow::anyhow!("internal error: inserted block not found"));
    }
    let bi = 1 + lines[..header].iter().filter(|l| l.is_header()).count();
    Ok((doc, bi))
}

/// The 1-based line where the header of `block` (a block of the file as
/// read) is in `doc`, the file as written: the entry grew and its comments
/// moved above their lines, so the lines below it moved down.
pub(super) fn line_as_written(doc: &Document, block: &crate::config::Block) -> usize {
    let read = block.header.unwrap_or(0) + 1;
    doc.lines()
        .iter()
        .position(|l| l.original_line() == Some(read))
        .map_or(read, |i| i + 1)
}

/// The block's own HostName and Port (22 when unset): the first line of
/// each (as `Document::first_value`), found in one pass over the block.
pub(crate) fn endpoint_of(doc: &Document, block: &crate::config::Block) -> (String, u16) {
    let (host, port) = endpoint_words(doc, block.header, block.lines.clone());
    (host.unwrap_or_default().to_ascii_lowercase(), port)
}

/// [`endpoint_of`] borrowed from the document (the host as written): a
/// `String` per block was most of finding an entry by its endpoint.
/// `header`, `range`: the block's.
fn endpoint_words(
    doc: &Document,
    header: Option<usize>,
    range: std::ops::Range<usize>,
) -> (Option<&str>, u16) {
    // The first line naming the keyword decides, even with no value.
    let (mut host, mut port): (Option<Option<&str>>, Option<Option<&str>>) = (None, None);
    let lines = doc.lines();
    for i in range.filter(|&i| Some(i) != header) {
        if host.is_some() && port.is_some() {
            break;
        }
        let l = &lines[i];
        // `known`: the lexer's look-up of the keyword (no hashing again);
        // its name is the table's, which no alias shares for these two.
        let Some(got) = l.directive().and_then(|d| d.known).map(|kw| kw.name) else {
            continue;
        };
        let first = || l.directive().and_then(|d| d.values(l.bytes()).next());
        if host.is_none() && got == "hostname" {
            host = Some(first());
        } else if port.is_none() && got == "port" {
            port = Some(first());
        }
    }
    let port = port
        .flatten()
        .and_then(crate::config::resolve::parse_port)
        .unwrap_or(22);
    (host.flatten(), port)
}

pub(super) fn points_at(doc: &Document, block: &crate::config::BlockAt, ep: &Endpoint) -> bool {
    let (h, p) = endpoint_words(doc, block.header, block.lines.clone());
    // `endpoint_of`'s lowercased host equal to `ep.host`, without the copy.
    p == ep.port
        && h.unwrap_or_default()
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .eq(ep.host.bytes())
}

/// The entry's values that earlier lines of the config override (first
/// value wins), as lines to show; empty when the entry is what ssh uses.
pub(crate) fn overrides(
    s: &Session,
    doc: &Document,
    bi: usize,
    r: &crate::config::Resolved,
    options: &[(String, String)],
    identity: &str,
) -> Vec<String> {
    overrides_in(s, doc.blocks()[bi].lines.clone(), r, options, identity)
}

/// [`overrides`] of the entry whose lines are `range`.
pub(super) fn overrides_in(
    s: &Session,
    range: std::ops::Range<usize>,
    r: &crate::config::Resolved,
    options: &[(String, String)],
    identity: &str,
) -> Vec<String> {
    let ours = |src: &crate::config::Source| src.file == s.path && range.contains(&(src.line - 1));
    let mut overridden = Vec::new();
    for (k, v) in options {
        let Some(kw) = keywords::lookup(k) else {
            continue;
        };
        match kw.kind {
            Kind::Forward | Kind::DynamicForward | Kind::SendEnv | Kind::LineList => {}
            _ => match r.get(k) {
                Some(got) if !ours(&got.source) => overridden.push(format!(
                    "  {k}: ssh would use {:?} from {} instead of {v:?}",
                    got.args.join(" "),
                    got.source
                )),
                _ => {}
            },
        }
    }
    if overridden.is_empty() {
        // IdentityFile accumulates: ours must be tried first.
        if let Some((first, Some(src))) = r.identity_files().first()
            && !ours(src)
        {
            overridden.push(format!(
                "  IdentityFile: ssh would try {first:?} from {src} before {identity:?}"
            ));
        }
    }
    overridden
}
