//! `runpod-ssh fix`: find what breaks VS Code Remote-SSH hosts, apply the
//! safe repairs with a backup, check the result against ssh itself, and
//! roll back if it got worse.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod render;

use super::edit::{self, Session};
use super::{Env, Failure, OrFail, Outcome};
use crate::cli::FixArgs;
use crate::config::Document;
use crate::doctor::{self, Auto, ChmodCheck, Cx, Finding, Severity, SideEffect};
use crate::fsio::{self, WriteOptions};
use crate::known_hosts::{self, Verdict};
use crate::probe::{self, Stage};
use crate::{output, refusal, runpod, vscode};

pub fn run(env: &Env, a: &FixArgs) -> anyhow::Result<Outcome> {
    if a.rules {
        return print_rules(env);
    }
    for alias in &a.aliases {
        edit::check_alias(alias)?;
    }
    let mut vs = vscode_settings();
    let redirect = redirect(env, &vs);
    let (env, redirected) = match &redirect {
        Some((switched, r)) => (switched, Some(r.clone())),
        None => (env, None),
    };
    let mut s = Session::open(env)?;
    check_aliases_exist(&s, a)?;
    let vscode_note = scope_vscode(env, a, &s, &mut vs, redirected.is_some());
    // Windows: which ssh VS Code runs (F19), whether there is one (F39),
    // the agent service (F40).
    let windows = cfg!(windows).then(|| doctor::WindowsFacts::gather(&vs));
    // The file as read, as bytes, for the closing `Match exec` proof: the
    // session's document then moves into the rules' context rather than
    // being copied (on a large file a copy is tens of MB).
    let old_bytes = doc_bytes(&s.doc, s.snap.content());
    let doc = std::mem::replace(&mut s.doc, Document::parse(b""));
    let mut cx = Cx {
        yes: a.yes,
        only: a.aliases.clone(),
        vscode: vs,
        windows,
        ..Cx::new(doc, &s.path, &s.ctx)
    };
    if let Some((settings, other)) = &redirected {
        // First, before the rules run: side effects refer to findings by index.
        cx.findings.push(Finding {
            rule: "vscode-config-file",
            file: settings.clone(),
            line: None,
            severity: Severity::Warning,
            message: format!(
                "VS Code reads {} (remote.SSH.configFile), so that is the file repaired here",
                other.display()
            ),
            repair: "nothing more: pass --config to repair another file".into(),
            auto: Auto::Safe,
            applied: true,
        });
    }
    doctor::run_all(&mut cx);
    if redirected.is_some() {
        // Handled: this run repairs the file VS Code reads.
        for f in cx
            .findings
            .iter_mut()
            .filter(|f| f.rule == "vscode-config-file")
        {
            f.applied = true;
        }
    }
    if a.probe {
        // Probing resolves hosts as ssh would: with the system config
        // unless a file was named (`-F`).
        let system = env.context().system_config;
        probe_findings(&mut cx, a, system, env)?;
    }
    // What ssh still refuses once the rules did what they can: its words,
    // the file and line, left to the user.
    refusal_findings(&mut cx);
    let new_bytes = cx.doc.to_bytes();
    let changed = new_bytes != s.snap.content();
    // Printed by a dry run and in JSON only: a real run in text skips it.
    let diff = if changed && (a.dry_run || env.global.json) {
        diff_of(&s, &cx.doc, &new_bytes)
    } else {
        String::new()
    };

    let mut notes: Vec<String> = vscode_note.into_iter().collect();
    notes.append(&mut cx.notes);
    let cross_check_skipped = cross_check_skipped(&s, &old_bytes, &new_bytes);
    notes.extend(cross_check_skipped.clone());
    let (backup, rolled_back) = if a.dry_run {
        (None, false)
    } else {
        write_and_verify(&s, &mut cx, &new_bytes, changed, &mut notes)?
    };
    if rolled_back {
        for f in &mut cx.findings {
            f.applied = false;
        }
    } else if !a.dry_run {
        // What the strictest client still refuses beyond what the local
        // ssh does (those are findings already): a note, exit status as is.
        notes.extend(refusal::strictest_after_write(
            &s.path, &cx.doc, &s.ctx, false,
        ));
    }

    // WSL: VS Code runs on Windows and reads the Windows user's config.
    if !rolled_back {
        super::wsl::fix_findings(env, a, &cx.doc, &mut cx.findings, &mut notes);
    }
    let result = FixResult {
        path: &s.path,
        findings: &cx.findings,
        diff: &diff,
        changed,
        rolled_back,
        backup: backup.as_deref(),
        cross_check_skipped: cross_check_skipped.as_deref(),
        notes: &notes,
    };
    let outcome = print_result(env, a, &result);
    // The process ends after this command: freeing the working document
    // and the findings one allocation at a time (tens of thousands on a
    // large config) is work nobody sees. The session (its lock) drops.
    std::mem::forget(cx);
    outcome
}

/// `ssh -G` would run a `Match exec` command: why the cross-check is
/// skipped, said whether or not this run writes. `oracle::prove_versions`
/// of the file as read (`old`) and as repaired (`new`), from the bytes
/// this run already has.
fn cross_check_skipped(s: &Session, old: &[u8], new: &[u8]) -> Option<String> {
    let on_disk = fsio::read_limited(&s.path).ok().map(|c| c.bytes);
    let runs = crate::oracle::prove_buffers(&s.path, on_disk.as_deref(), &[old, new], &s.ctx.home);
    runs.err()
        .map(|skip| skip.to_string() + "; runpod-ssh's own evaluator judged the result")
}

/// `doc.to_bytes()` (`doc` parsed from `read`): `read` when the document is UTF-8 (with or
/// without a byte-order mark, both parsed losslessly), else made again.
fn doc_bytes<'a>(doc: &Document, read: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    use crate::config::document::Encoding;
    match doc.encoding() {
        Encoding::Utf8 | Encoding::Utf8Bom => std::borrow::Cow::Borrowed(read),
        Encoding::Utf16Le | Encoding::Utf16Be => std::borrow::Cow::Owned(doc.to_bytes()),
    }
}

/// The unified diff from the file read to `doc` (whose bytes are `new`):
/// from the lines the rules kept when that provably gives `similar`'s
/// text ([`fsio::unified_diff_anchored`]), else `similar`'s diff.
fn diff_of(s: &Session, doc: &Document, new: &[u8]) -> String {
    let origins: Vec<Option<usize>> = doc
        .lines()
        .iter()
        .map(|l| l.original_line().map(|n| n - 1))
        .collect();
    fsio::unified_diff_anchored(s.snap.content(), new, &origins, &edit::tilde(&s.path))
        .unwrap_or_else(|| s.diff_to(new))
}

/// The VS Code settings files and their texts. Non-blocking and capped:
/// a FIFO settings.json must not hang fix.
fn vscode_settings() -> Vec<(PathBuf, String)> {
    vscode::settings_files()
        .into_iter()
        .filter_map(|p| {
            let text = String::from_utf8(crate::fsio::read_limited(&p).ok()?.bytes).ok()?;
            Some((p, text))
        })
        .collect()
}

/// VS Code may read another file (remote.SSH.configFile): repair that one.
/// The environment naming it, and (settings file, that file).
fn redirect(env: &Env, vs: &[(PathBuf, String)]) -> Option<(Env, (PathBuf, PathBuf))> {
    if env.global.config.is_none()
        && let Some((settings, other)) = vs
            .iter()
            .find_map(|(p, t)| Some((p.clone(), vscode::config_file(t)?)))
        && let other = crate::config::Context::current().home_path(&other.replace('\\', "/"))
        && Some(&other) != env.config_path().ok().as_ref()
        && other.is_file()
    {
        let mut global = env.global.clone();
        global.config = Some(other.clone());
        let switched = Env {
            global,
            style: env.style,
        };
        Some((switched, (settings, other)))
    } else {
        None
    }
}

/// Typos in the aliases get a suggestion rather than "nothing to fix".
fn check_aliases_exist(s: &Session, a: &FixArgs) -> anyhow::Result<()> {
    if !a.aliases.is_empty() {
        let files = crate::config::files::load_tree(&s.path, &s.doc, &s.ctx.home);
        let known = super::defined_aliases(&files);
        if let Some(alias) = a.aliases.iter().find(|al| !known.contains(al)) {
            return Err(super::bad_input(format!(
                "no host entry named {alias} in {}{}",
                s.path.display(),
                super::did_you_mean(alias, &files)
            )));
        }
    }
    Ok(())
}

/// Which VS Code settings this run may repair (`vs` is emptied when
/// none), and the note that says why they are left alone.
fn scope_vscode(
    env: &Env,
    a: &FixArgs,
    s: &Session,
    vs: &mut Vec<(PathBuf, String)>,
    redirected: bool,
) -> Option<String> {
    if a.no_vscode {
        vs.clear();
    } else if !a.vscode
        && env.global.config.is_some()
        && !redirected
        && !vscode_reads(vs, &s.path, &s.ctx)
    {
        // `--config` names a file VS Code does not read: its settings are
        // not about this file, so they are left alone unless asked.
        vs.clear();
        return Some(format!(
            "VS Code settings left alone: VS Code does not read {} (pass --vscode to repair them anyway)",
            s.path.display()
        ));
    }
    None
}

/// A real run: write the repaired config (when it changed), check it
/// against the old one, put the old one back when it is worse, else do
/// the side effects. (backup, rolled back).
fn write_and_verify(
    s: &Session,
    cx: &mut Cx,
    new_bytes: &[u8],
    changed: bool,
    notes: &mut Vec<String>,
) -> anyhow::Result<(Option<PathBuf>, bool)> {
    let mut rolled_back = false;
    let mut backup = None;
    if changed {
        backup = s.write(&cx.doc)?;
        let v = doctor::verify(&s.path, s.snap.content(), new_bytes, &cx.intended, &s.ctx);
        if v.skipped == Some(crate::oracle::Skip::NoSsh) {
            notes.push(format!(
                "{}; runpod-ssh's own evaluator judged the result",
                crate::oracle::Skip::NoSsh
            ));
        }
        if let Some(why) = v.worse {
            // Put the previous version back: the repair made things worse.
            let now = fsio::read(&s.path).or_fail(Failure::Io)?;
            fsio::write(
                &now,
                s.snap.content(),
                WriteOptions {
                    backup: false,
                    new_mode: 0o600,
                },
            )
            .or_fail(Failure::Io)?;
            rolled_back = true;
            notes.push(format!(
                "the repaired file was worse ({why}); the original was put back, nothing changed"
            ));
        }
    }
    if !rolled_back {
        apply_side_effects(&cx.side_effects, new_bytes, &mut cx.findings, notes);
    }
    Ok((backup, rolled_back))
}

/// What a run found and did, for printing.
struct FixResult<'a> {
    path: &'a Path,
    findings: &'a [Finding],
    diff: &'a str,
    changed: bool,
    rolled_back: bool,
    backup: Option<&'a Path>,
    cross_check_skipped: Option<&'a str>,
    notes: &'a [String],
}

/// Print the result (text or JSON) and say whether problems are left.
fn print_result(env: &Env, a: &FixArgs, r: &FixResult) -> anyhow::Result<Outcome> {
    let findings = r.findings;
    let left: Vec<&Finding> = findings.iter().filter(|f| !f.applied).collect();
    if env.global.json {
        let v = serde_json::json!({
            "config": r.path,
            "dry_run": a.dry_run,
            "findings": findings,
            "diff": r.diff,
            "written": !a.dry_run && r.changed && !r.rolled_back,
            "backup": r.backup,
            "rolled_back": r.rolled_back,
            "cross_check_skipped": r.cross_check_skipped,
            "notes": r.notes,
        });
        output::out(&output::json(&v)?)?;
    } else {
        output::out(&render::render(
            env,
            findings,
            r.diff,
            a,
            r.changed,
            r.rolled_back,
            r.backup,
            r.notes,
        ))?;
    }
    let problems = if a.dry_run {
        !findings.is_empty()
    } else {
        !left.is_empty() || r.rolled_back
    };
    Ok(if problems {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}

fn print_rules(env: &Env) -> anyhow::Result<Outcome> {
    let c = doctor::catalogue();
    if env.global.json {
        output::out(&output::json(&c)?)?;
    } else {
        let mut t = String::new();
        for r in c {
            let auto = match r.auto {
                Auto::Safe => "automatic",
                Auto::WithYes => "with --yes",
                Auto::Manual => "explained",
            };
            t.push_str(&format!(
                "{:<22} [{auto}]\n    detects: {}\n    repair:  {}\n",
                r.id, r.detects, r.repair
            ));
        }
        output::out(&t)?;
    }
    Ok(Outcome::Ok)
}

/// Apply what lies outside the config. A chmod the filesystem layer
/// refuses (a symlink, a device, another user's file, swapped in since the
/// rule looked) takes back its finding's "fixed".
fn apply_side_effects(
    effects: &[SideEffect],
    config_bytes: &[u8],
    findings: &mut [Finding],
    notes: &mut Vec<String>,
) {
    for e in effects {
        match e {
            SideEffect::Chmod {
                path,
                mode,
                finding,
                check,
            } => {
                // The content is judged on the descriptor that is chmodded.
                let res = match check {
                    ChmodCheck::PrivateKey => {
                        fsio::set_mode_owned_if(path, *mode, 1 << 20, |head| {
                            if doctor::is_private_key(head) {
                                Ok(())
                            } else {
                                Err("not a private key")
                            }
                        })
                    }
                    ChmodCheck::Config => fsio::set_mode_owned_if(
                        path,
                        *mode,
                        config_bytes.len() as u64 + 1,
                        |head| {
                            if head == config_bytes {
                                Ok(())
                            } else {
                                Err("not the config this run read")
                            }
                        },
                    ),
                };
                if let Err(err) = res {
                    notes.push(err.to_string());
                    if let Some(f) = findings.get_mut(*finding) {
                        f.applied = false;
                        f.auto = Auto::Manual;
                        f.message = format!("{} ({err})", f.message);
                    }
                }
            }
            SideEffect::RewriteKey {
                path,
                old,
                new,
                finding,
            } => {
                if let Err(err) = rewrite_key(path, old, new) {
                    notes.push(format!("{}: {err}", path.display()));
                    if let Some(f) = findings.get_mut(*finding) {
                        f.applied = false;
                        f.auto = Auto::Manual;
                        f.message = format!("{} ({err})", f.message);
                    }
                }
            }
            SideEffect::OwnerOnlyAcl { path, finding } => {
                #[cfg(windows)]
                let res = crate::platform::set_owner_only(path);
                #[cfg(not(windows))]
                let res: std::io::Result<()> = Err(std::io::Error::other("no ACLs here"));
                if let Err(err) = res {
                    notes.push(format!("{}: {err}", path.display()));
                    if let Some(f) = findings.get_mut(*finding) {
                        f.applied = false;
                        f.auto = Auto::Manual;
                        f.message = format!("{} (the ACL could not be set: {err})", f.message);
                    }
                }
            }
            SideEffect::AsciiFolder(m) => {
                if let Err(err) = m.apply() {
                    notes.push(format!("{}: {err}", m.folder.display()));
                    if let Some(f) = findings.get_mut(m.finding) {
                        f.applied = false;
                        f.auto = Auto::Manual;
                        f.message = format!("{} (not done: {err})", f.message);
                    }
                }
            }
            SideEffect::VscodeSshPath { path } => {
                for p in vscode::settings_files() {
                    if let Err(err) = set_vscode_ssh_path(&p, path) {
                        notes.push(format!("VS Code settings {}: {err}", p.display()));
                    }
                }
            }
            SideEffect::VscodePlatform { alias } => {
                for c in edit::set_vscode_platform(alias, Some("linux"), false) {
                    if let Some(err) = c.error {
                        notes.push(format!("VS Code settings: {err}"));
                    }
                }
            }
        }
    }
}

/// `remote.SSH.path` = `ssh` in one settings file (JSONC kept, backed up).
fn set_vscode_ssh_path(settings: &Path, ssh: &str) -> anyhow::Result<()> {
    let snap = fsio::read(settings)?;
    let text = std::str::from_utf8(snap.content())
        .map_err(|_| anyhow::anyhow!("not UTF-8; left alone"))?;
    let bom = text.starts_with('\u{feff}');
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(new) = vscode::set_string_setting(settings, text, "remote.SSH.path", ssh)? {
        let bytes = [if bom { "\u{feff}" } else { "" }, new.as_str()].concat();
        fsio::write(&snap, bytes.as_bytes(), WriteOptions::default())?;
    }
    Ok(())
}

/// Rewrite a key `key-format` found mangled: only while the file still
/// holds what the rule read (fsio refuses a change, a link, another
/// user's or a hard-linked file), backed up, mode kept; on Windows the
/// owner-only ACL goes back on (the new file would inherit the folder's).
fn rewrite_key(path: &Path, old: &[u8], new: &[u8]) -> anyhow::Result<()> {
    let _lock = fsio::Lock::for_file(path)?;
    let snap = fsio::read(path)?;
    if snap.target != path || snap.content() != old {
        anyhow::bail!("the key changed since it was read (or is a link); left alone");
    }
    // fsio keeps an owner-only ACL on Windows (F16), the mode on Unix.
    fsio::write(&snap, new, WriteOptions::default())?;
    Ok(())
}

/// One finding per line ssh refuses in the repaired config (or what it
/// includes), in ssh's words, with the line as read.
fn refusal_findings(cx: &mut Cx) {
    let mut refused = cx.refused(refusal::Client::local());
    if refused.is_empty() && cx.findings.is_empty() {
        // Nothing found and nothing changed (the file on disk is the one
        // judged): before "nothing to fix", ask ssh -G itself once.
        refused = refusal::ssh_backstop(&cx.path, &cx.doc, cx.ctx);
    }
    // A file this one includes is repaired by `fix --config` on it: judged
    // once per file.
    let mut other: Vec<(PathBuf, refusal::Repair)> = Vec::new();
    for d in refused.problems {
        let line = match d.source.line {
            0 => None,
            n if d.source.file == cx.path => cx
                .doc
                .lines()
                .get(n - 1)
                .and_then(|l| l.original_line())
                .or(Some(n)),
            n => Some(n),
        };
        cx.findings.push(Finding {
            rule: "ssh-refuses",
            file: d.source.file.clone(),
            line,
            severity: Severity::Error,
            message: d.message.clone(),
            repair: included_repair(cx, &d.source.file, &mut other),
            auto: Auto::Manual,
            applied: false,
        });
    }
}

/// The repair of a line ssh refuses: by hand, or, in a file the config
/// includes, the `runpod-ssh fix --config FILE` that repairs it.
fn included_repair(cx: &Cx, file: &Path, seen: &mut Vec<(PathBuf, refusal::Repair)>) -> String {
    let client = refusal::Client::local();
    let repair = if file == cx.path {
        refusal::Repair::None
    } else if let Some((_, r)) = seen.iter().find(|(f, _)| f == file) {
        *r
    } else {
        let r = refusal::fix_repairs(client, file, refusal::UNRELATED_HOST, cx.ctx);
        seen.push((file.to_path_buf(), r));
        r
    };
    let cmd = refusal::fix_command(file, cx.ctx);
    let whole = format!("{} refuses the whole file until then", client.name());
    match repair {
        refusal::Repair::All => format!("`{cmd}` repairs this ({whole})"),
        refusal::Repair::Some => {
            format!("`{cmd}` repairs some of it; the rest is for you ({whole})")
        }
        refusal::Repair::None => format!("no rule repairs this line: edit it by hand ({whole})"),
    }
}

/// What only the network can tell, for the RunPod entries in scope.
fn probe_findings(
    cx: &mut Cx,
    a: &FixArgs,
    system_config: Option<std::path::PathBuf>,
    env: &Env,
) -> anyhow::Result<()> {
    let ctx = crate::config::Context {
        system_config,
        ..cx.ctx.clone()
    };
    let file = crate::config::files::ConfigFile {
        path: cx.path.clone(),
        doc: (*cx.doc).clone(),
    };
    let aliases: Vec<String> = runpod::entries(&[file], false)
        .into_iter()
        .map(|e| e.alias)
        .filter(|al| a.aliases.is_empty() || a.aliases.contains(al))
        .collect();
    // Hosts the probe cannot reach by itself (proxies, refused configs)
    // are other rules' business.
    let hosts: Vec<_> = aliases
        .iter()
        .filter_map(|al| {
            let t = probe::target(al, &crate::config::resolve(&cx.doc, &cx.path, al, &ctx)).ok()?;
            Some((al.clone(), Ok(t)))
        })
        .collect();
    let opts = probe::Options {
        timeout: Duration::from_secs(10),
        deadline: None,
        quick: true,
        agent: std::env::var_os("SSH_AUTH_SOCK").map(Into::into),
        interactive: false,
        passphrases: Default::default(),
        // A dry run writes nothing anywhere, known_hosts included.
        record_host_keys: !a.dry_run,
        then_run: None,
    };
    let reports = probe::probe_all(hosts, &opts, 32, || {}).or_fail(Failure::Io)?;
    for mut r in reports {
        let Some(stage) = r.stage else { continue };
        // The error and hint may quote the server: safe to print.
        r.error = r.error.map(|e| crate::output::escape(&e, false));
        // Its commands carry --config as given (`ssh -F F`, item 5).
        r.hint = r
            .hint
            .map(|h| crate::output::escape(&env.carry_options(&h), false));
        let mut f = Finding {
            rule: "probe",
            file: cx.path.clone(),
            line: None,
            severity: Severity::Error,
            message: format!("{}: {}", r.alias, r.error.clone().unwrap_or_default()),
            repair: r.hint.clone().unwrap_or_default(),
            auto: Auto::Manual,
            applied: false,
        };
        match stage {
            Stage::Tcp => {
                f.message = format!(
                    "{}: endpoint stale ({})",
                    r.alias,
                    r.error.clone().unwrap_or_default()
                )
            }
            Stage::Hostkey => {
                if let Some(k) = &r.host_key
                    && let Verdict::Changed { file, .. } = &k.verdict
                {
                    f.rule = "probe-host-key-changed";
                    f.auto = Auto::WithYes;
                    f.repair = format!(
                        "with --yes: remove just the pinned entry for {} from {} (RunPod gives pods a new host key on every start)",
                        k.recorded_as,
                        file.display()
                    );
                    if a.yes && !a.dry_run {
                        let snap = fsio::read(file).or_fail(Failure::Io)?;
                        let (new, n) = known_hosts::remove_host(snap.content(), &k.recorded_as);
                        if n > 0 {
                            fsio::write(&snap, &new, WriteOptions::default())
                                .or_fail(Failure::Io)?;
                            f.applied = true;
                        }
                    } else if a.yes {
                        f.applied = true;
                    }
                }
            }
            _ => {}
        }
        cx.findings.push(f);
    }
    Ok(())
}

/// For tests and callers that only want the findings of a file.
pub fn findings_of(path: &Path, bytes: &[u8], ctx: &crate::config::Context) -> Vec<Finding> {
    let mut cx = Cx::new(Document::parse(bytes), path, ctx);
    doctor::run_all(&mut cx);
    cx.findings
}

/// Whether VS Code reads `path`: the file its `remote.SSH.configFile`
/// names, else `~/.ssh/config`.
fn vscode_reads(vs: &[(PathBuf, String)], path: &Path, ctx: &crate::config::Context) -> bool {
    let theirs = vs
        .iter()
        .find_map(|(_, t)| vscode::config_file(t))
        .map(|f| ctx.home_path(&f.replace('\\', "/")))
        .unwrap_or_else(|| ctx.home.join(".ssh").join("config"));
    let real = |p: &Path| fsio::real_path(p).unwrap_or_else(|_| p.to_path_buf());
    real(&theirs) == real(path)
}
