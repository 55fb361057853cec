//! `runpod-ssh list`: the RunPod entries (or every host), with what ssh
//! will really use for each and where it is defined.

use super::{Env, Failure, OrFail, Outcome};
use crate::cli::ListArgs;
use crate::config::files::{ConfigFile, load_tree_owned};
use std::collections::HashMap;
use std::path::Path;

use crate::config::resolve::Resolver;
use crate::config::{Context, Document, Source};
use crate::{fsio, output, refusal, runpod};

#[derive(Debug, serde::Serialize)]
struct Row {
    alias: String,
    hostname: String,
    port: u16,
    user: String,
    identity_file: Option<String>,
    identity_exists: Option<bool>,
    runpod: bool,
    managed: bool,
    source: Source,
}

pub fn run(env: &Env, a: &ListArgs) -> anyhow::Result<Outcome> {
    if a.live {
        return super::live::list(env, a);
    }
    let path = env.config_path()?;
    let snap = fsio::read(&path).or_fail(Failure::Io)?;
    let doc = Document::parse(snap.content());
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
fn rows(files: &[ConfigFile], path: &Path, ctx: &Context, all: bool) -> Vec<Row> {
    let doc = &files[0].doc;
    let mut rows = Vec::with_capacity(files.iter().map(|f| f.doc.lines().len() / 4).sum());
    // One plan of the file for every alias: each is evaluated over its own
    // blocks, not the whole file (linear, not quadratic, in the hosts).
    let resolver = Resolver::new(doc, path, ctx);
    let mut key_exists: HashMap<String, bool> = HashMap::new();
    for e in runpod::entries(files, all) {
        // Only what a row shows (the file was judged above).
        let r = resolver.resolve_values(&e.alias, &["hostname", "port", "user", "identityfile"]);
        let identity = r.get("identityfile").map(|s| s.args[0].clone());
        let exists = identity.as_deref().map(|i| match key_exists.get(i) {
            Some(&known) => known,
            None => *key_exists
                .entry(i.to_string())
                .or_insert_with(|| ctx.home_path(i).is_file()),
        });
        rows.push(Row {
            alias: e.alias,
            hostname: r.hostname_value(),
            port: r.port_value(),
            user: r.user_value().to_string(),
            identity_exists: exists,
            identity_file: identity,
            runpod: e.runpod,
            managed: e.managed,
            source: e.source,
        });
    }
    rows
}

/// The rows as a table, every cell escaped.
fn table(rows: &[Row]) -> String {
    let mut table = Vec::with_capacity(rows.len() + 1);
    table.push(["ALIAS", "ENDPOINT", "USER", "KEY", "DEFINED AT"].map(String::from));
    // `~/…` of each source file once (finding the home reads the password
    // database: once per row made `list` spend most of its time there).
    let mut shown: HashMap<&std::path::Path, String> = HashMap::new();
    for r in rows {
        let file: &str = shown
            .entry(r.source.file.as_path())
            .or_insert_with(|| super::edit::tilde(&r.source.file));
        let key = match (&r.identity_file, r.identity_exists) {
            (Some(k), Some(false)) => [k.as_str(), " (missing)"].concat(),
            (Some(k), _) => k.clone(),
            (None, _) => "(ssh defaults)".into(),
        };
        // Joined by hand: a row per host, and `format!` is the slow way.
        let port = r.port.to_string();
        let line = r.source.line.to_string();
        // Aliases, paths and values come from the config: escaped, so a
        // `Host` name carrying ESC sequences cannot drive the terminal.
        table.push([
            escaped(r.alias.clone()),
            escaped([r.hostname.as_str(), ":", &port].concat()),
            escaped(r.user.clone()),
            escaped(key),
            escaped([file, ":", &line].concat()),
        ]);
    }
    output::table_plain(&table)
}

/// [`output::escape`] of a cell, without a second copy of the (usual)
/// cell that holds no byte escape would change.
fn escaped(cell: String) -> String {
    if output::needs_escape(&cell) {
        output::escape(&cell, false)
    } else {
        cell
    }
}
