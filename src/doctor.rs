//! The repair rules behind `runpod-ssh fix`: each rule finds problems in the
//! lossless config document (and the files it names) and repairs them as
//! edits that touch only the lines at fault.
//!
//! Rules run in [`RULES`] order on a working copy. A rule's repair is
//! [`Auto::Safe`] (applied by default: the meaning the user intended is
//! kept), [`Auto::WithYes`] (changes which values win, so only with
//! `--yes`) or [`Auto::Manual`] (we explain; the user decides).
//!
//! Not failures, never touched: CRLF, tabs, `Key=Value`, keyword case,
//! comments on their own lines.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::document::{Document, Encoding, portable_path, valid_alias};
use crate::config::keywords::{self, Kind};
use crate::config::lexer::COMMAND_KEYWORDS;
use crate::config::{BlockKind, Context, Resolved, pattern, resolve};
use crate::runpod;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// ssh refuses the file, or this host cannot work.
    Error,
    /// Works here, breaks elsewhere (older Windows ssh, VS Code's writer).
    Warning,
}

/// Whether a repair is applied without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auto {
    Safe,
    WithYes,
    Manual,
}

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub file: PathBuf,
    /// 1-based, as in the file that was read.
    pub line: Option<usize>,
    pub severity: Severity,
    pub message: String,
    /// What the repair does (or what the user should do).
    pub repair: String,
    pub auto: Auto,
    /// Whether the repair is in the result.
    pub applied: bool,
}

/// Something to do outside the config when the repair is written.
#[derive(Debug, Clone, Serialize)]
pub enum SideEffect {
    /// chmod a regular file the user owns, never through a symlink (Unix);
    /// `finding` is the index in [`Cx::findings`] that reports it, so a
    /// refusal at write time can take back its "fixed".
    Chmod {
        path: PathBuf,
        mode: u32,
        finding: usize,
        /// What the open file must hold when it is chmodded.
        check: ChmodCheck,
    },
    /// Set `remote.SSH.remotePlatform[alias] = "linux"` in VS Code settings.
    VscodePlatform { alias: String },
    /// Set `remote.SSH.path` in VS Code settings (F19).
    VscodeSshPath { path: String },
    /// Rewrite a private key an editor mangled (F18) with `new`, only while
    /// it still holds `old` (atomic, backed up, mode and owner kept; on
    /// Windows the owner-only ACL is put back, see [`crate::platform`]).
    RewriteKey {
        path: PathBuf,
        old: Vec<u8>,
        new: Vec<u8>,
        finding: usize,
    },
    /// Windows: give a regular file the owner-only ACL (the user, SYSTEM,
    /// Administrators; inheritance off), read back to confirm (F16/F17).
    OwnerOnlyAcl { path: PathBuf, finding: usize },
}

/// What a file must hold, read from the very file descriptor that is
/// chmodded (see [`crate::fsio::set_mode_owned_if`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChmodCheck {
    /// A private key ssh can load.
    PrivateKey,
    /// The config exactly as this run wrote (or left) it.
    Config,
}

/// The state rules work on.
pub struct Cx<'a> {
    pub doc: Document,
    pub path: PathBuf,
    pub ctx: &'a Context,
    /// The ssh that reads the file here ([`crate::refusal::Client::local`]).
    pub client: crate::refusal::Client,
    /// `--yes`: apply [`Auto::WithYes`] repairs too.
    pub yes: bool,
    /// Only these aliases' entries (empty: all).
    pub only: Vec<String>,
    pub findings: Vec<Finding>,
    /// (alias, keyword) pairs whose evaluated value a repair means to change.
    pub intended: Vec<(String, String)>,
    pub side_effects: Vec<SideEffect>,
    /// VS Code settings texts: (path, text).
    pub vscode: Vec<(PathBuf, String)>,
    /// The ANSI code page a config that is not UTF-8 was probably saved in
    /// (the system's on Windows, none elsewhere; tests inject one).
    pub ansi: Option<crate::platform::CodePage>,
    /// The ssh clients VS Code may run and the ssh-agent service (gathered
    /// by `fix` on Windows, [`WindowsFacts::gather`]; `None` elsewhere).
    pub windows: Option<WindowsFacts>,
    /// Advice that is no finding (printed with the result).
    pub notes: Vec<String>,
}

impl<'a> Cx<'a> {
    /// A context for the rules over `doc` (read from `path`), with no
    /// `--yes`, every alias, and nothing found yet.
    pub fn new(doc: Document, path: &Path, ctx: &'a Context) -> Cx<'a> {
        Cx {
            doc,
            path: path.to_path_buf(),
            ctx,
            client: crate::refusal::Client::local(),
            yes: false,
            only: Vec::new(),
            findings: Vec::new(),
            intended: Vec::new(),
            side_effects: Vec::new(),
            vscode: Vec::new(),
            ansi: crate::platform::ansi_code_page(),
            windows: None,
            notes: Vec::new(),
        }
    }

    fn line_no(&self, i: usize) -> Option<usize> {
        self.doc.lines().get(i).and_then(|l| l.original_line())
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        rule: &dyn Rule,
        line: Option<usize>,
        severity: Severity,
        message: String,
        repair: String,
        applied: bool,
    ) {
        self.findings.push(Finding {
            rule: rule.id(),
            file: self.path.clone(),
            line,
            severity,
            message,
            repair,
            auto: rule.auto(),
            applied,
        });
    }

    /// Report a finding of `rule` whose repair was applied, in the rule's words.
    fn fixed(&mut self, rule: &dyn Rule, line: Option<usize>, severity: Severity) {
        self.report(
            rule,
            line,
            severity,
            rule.title().into(),
            rule.repair_text().into(),
            true,
        );
    }

    /// Whether a repair of this kind may be applied now.
    fn may(&self, auto: Auto) -> bool {
        match auto {
            Auto::Safe => true,
            Auto::WithYes => self.yes,
            Auto::Manual => false,
        }
    }

    /// The aliases a block's repair affects.
    fn aliases_of_line(&self, i: usize) -> Vec<String> {
        self.doc
            .blocks()
            .into_iter()
            .find(|b| b.lines.contains(&i))
            .map(|b| b.patterns)
            .unwrap_or_default()
    }

    fn intend(&mut self, line: usize, keyword: &str) {
        for a in self.aliases_of_line(line) {
            self.intended.push((a, keyword.to_string()));
        }
        // Global lines affect every host.
        if self
            .doc
            .blocks()
            .first()
            .is_some_and(|g| g.lines.contains(&line))
        {
            self.intended.push(("*".into(), keyword.to_string()));
        }
    }

    fn in_scope(&self, patterns: &[String]) -> bool {
        self.only.is_empty() || patterns.iter().any(|p| self.only.contains(p))
    }
}

/// What a rule is, for reports and the catalogue.
#[derive(Debug)]
pub struct Meta {
    pub id: &'static str,
    /// What it detects, in a few words.
    pub title: &'static str,
    /// What its repair does.
    pub repair: &'static str,
    pub auto: Auto,
}

/// A repair rule.
pub trait Rule: Sync {
    fn meta(&self) -> &'static Meta;
    /// Find and (when allowed) repair, on `cx.doc`.
    fn run(&self, cx: &mut Cx);

    fn id(&self) -> &'static str {
        self.meta().id
    }
    fn title(&self) -> &'static str {
        self.meta().title
    }
    fn repair_text(&self) -> &'static str {
        self.meta().repair
    }
    fn auto(&self) -> Auto {
        self.meta().auto
    }
}

/// Every rule, in the order they run: encoding first (so the rest can read
/// the text), then rules that edit within lines, then those that add, move
/// or remove lines.
pub static RULES: &[&dyn Rule] = &[
    &ConfigTxt,
    &Utf16,
    &Bom,
    &LegacyCodePage,
    &NonAsciiSpace,
    &QuotedComment,
    &GluedComment,
    &TrailingComment,
    &UnquotedSpacePath,
    &BackslashPath,
    &AppleKeywords,
    &IdentityPub,
    &IdentityMissing,
    &KeyFormat,
    &KeyPermissions,
    &ConfigPermissions,
    &DuplicateAlias,
    &CatchAllOverride,
    &IncludeAfterHost,
    &ProxyEntry,
    &VscodeConfigFile,
    &VscodePlatform,
    &VscodeSshPath,
    &NoSshClient,
    &AgentDisabled,
    &NonAsciiProfile,
];

/// Run every rule on `cx`.
pub fn run_all(cx: &mut Cx) {
    for r in RULES {
        r.run(cx);
    }
}

// ---------------------------------------------------------------- config.txt

/// The non-wildcard aliases `Host` blocks of `doc` define.
fn host_aliases(doc: &Document) -> Vec<String> {
    doc.blocks()
        .into_iter()
        .filter(|b| b.kind == BlockKind::Host)
        .flat_map(|b| b.patterns)
        .filter(|p| !pattern::is_wildcard(p) && !p.starts_with('!'))
        .collect()
}

/// F15: Notepad's "Save as" made `~/.ssh/config.txt`; ssh and VS Code read
/// only `config`. Decided: when `config` is absent or holds nothing but
/// blanks and comments, `config.txt`'s content becomes the config (written
/// as every repair is: lock, backup, atomic, checked with `ssh -G`) and the
/// later rules repair it too (Notepad's BOM, UTF-16); `config.txt` itself
/// is left as it was (never delete a user's file). When both hold hosts,
/// `--yes` appends `config.txt`'s `Host` blocks whose aliases the config
/// lacks (its global lines and `Match` blocks are reported, never moved:
/// appended after other blocks they would change meaning). Once every
/// alias of `config.txt` is in the config, nothing is reported.
struct ConfigTxt;
impl Rule for ConfigTxt {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "config-txt",
            title: "config.txt beside the config (Notepad's \"Save as\" adds .txt): ssh and VS Code never read it",
            repair: "config absent or empty: config.txt's content becomes the config (config.txt is left as it was); both hold hosts: with --yes, its Host blocks for aliases the config lacks are appended",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.path.file_name().is_none_or(|n| n != "config") {
            return;
        }
        let txt = cx.path.with_file_name("config.txt");
        if !regular_not_link(&txt) {
            return;
        }
        let Ok(content) = crate::fsio::read_limited(&txt) else {
            return;
        };
        let theirs = Document::parse(&content.bytes);
        // Absent, empty or blank: config.txt's content becomes the config
        // (a config with comments takes the merge below, comments kept).
        if cx.doc.lines().iter().all(|l| l.is_blank()) {
            if theirs
                .lines()
                .iter()
                .all(|l| l.is_blank() || l.is_comment())
            {
                return;
            }
            let missing = !cx.path.exists();
            cx.doc = theirs;
            cx.intended.push(("*".into(), "*".into()));
            cx.report(
                self,
                None,
                Severity::Error,
                format!(
                    "{} ({}; the config is {})",
                    self.title(),
                    txt.display(),
                    if missing { "missing" } else { "empty" }
                ),
                format!(
                    "its content becomes {} ({} is left as it was: delete it when you like)",
                    cx.path.display(),
                    txt.display()
                ),
                true,
            );
            return;
        }
        let ours = host_aliases(&cx.doc);
        let mut lines = Vec::new();
        let mut added = Vec::new();
        let mut skipped = 0;
        for b in theirs.blocks() {
            let header_only = b.header.is_none();
            if header_only || b.kind != BlockKind::Host {
                // Global lines and Match blocks: reported, not moved.
                skipped += b
                    .lines
                    .clone()
                    .filter(|&i| !theirs.lines()[i].is_blank() && !theirs.lines()[i].is_comment())
                    .count();
                continue;
            }
            let new: Vec<&String> = b
                .patterns
                .iter()
                .filter(|p| !pattern::is_wildcard(p) && !p.starts_with('!'))
                .filter(|p| !ours.contains(p))
                .collect();
            if new.is_empty() {
                continue;
            }
            added.extend(new.into_iter().cloned());
            lines.extend(b.lines.clone().map(|i| theirs.lines()[i].text()));
        }
        if added.is_empty() {
            return;
        }
        let apply = cx.may(Auto::WithYes);
        if apply {
            let at = cx.doc.lines().len();
            let mut texts = vec![
                String::new(),
                format!("# from {} (runpod-ssh fix --yes)", txt.display()),
            ];
            texts.extend(
                lines
                    .into_iter()
                    .map(|l| l.trim_end_matches(['\r', '\n']).to_string()),
            );
            cx.doc.insert_lines(at, texts);
            for a in &added {
                cx.intended.push((a.clone(), "*".into()));
            }
        }
        cx.findings.push(Finding {
            rule: self.id(),
            file: cx.path.clone(),
            line: None,
            severity: Severity::Warning,
            message: format!(
                "{} ({} defines {} that the config does not{})",
                self.title(),
                txt.display(),
                added.join(", "),
                if skipped > 0 {
                    format!("; {skipped} line(s) outside Host blocks are not merged")
                } else {
                    String::new()
                }
            ),
            repair: format!(
                "append its Host blocks for {} to the config (config.txt is left as it was)",
                added.join(", ")
            ),
            auto: Auto::WithYes,
            applied: apply,
        });
    }
}

// ---------------------------------------------------------------- encoding

/// Keywords whose value is a local file: a decoded one that exists shows
/// the decoding is right.
const PATH_KEYWORDS: &[&str] = &[
    "identityfile",
    "certificatefile",
    "userknownhostsfile",
    "globalknownhostsfile",
    "include",
    "identityagent",
];

/// A config saved in the legacy ANSI code page (Notepad before 2019 on
/// Korean Windows: CP949) holding a non-ASCII path: not UTF-8, so Windows'
/// ssh looks for a file that does not exist, and VS Code shows (and may
/// write back) U+FFFD. Decided: re-encode only when decoding with the
/// system's code page makes a path value name an existing file (the proof
/// that this is the right code page); otherwise report and change nothing.
struct LegacyCodePage;
impl Rule for LegacyCodePage {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "legacy-code-page",
            title: "config is not UTF-8 (saved in the Windows ANSI code page, e.g. CP949): ssh cannot find the non-ASCII path it names",
            repair: "re-encode as UTF-8 when decoding with the system's code page names an existing file; otherwise re-save it as UTF-8 yourself",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.doc.encoding() != Encoding::Utf8 {
            return;
        }
        let bad: Vec<usize> = (0..cx.doc.lines().len())
            .filter(|&i| std::str::from_utf8(cx.doc.lines()[i].bytes()).is_err())
            .collect();
        let Some(&first) = bad.first() else {
            return;
        };
        let n = cx.line_no(first);
        let manual = |cx: &mut Cx, why: String| {
            cx.findings.push(Finding {
                rule: "legacy-code-page",
                file: cx.path.clone(),
                line: n,
                severity: Severity::Error,
                message: format!("config is not UTF-8 ({} line(s)): {why}", bad.len()),
                repair: "open it in an editor that shows the names right, save it as UTF-8, and run fix again".into(),
                auto: Auto::Manual,
                applied: false,
            });
        };
        let Some(cp) = cx.ansi else {
            manual(
                cx,
                "no Windows code page here to decode it with (run fix on the Windows side)".into(),
            );
            return;
        };
        let mut decoded = Vec::new();
        for &i in &bad {
            match (cp.decode)(cp.id, cx.doc.lines()[i].bytes()) {
                Some(t) => decoded.push((i, t)),
                None => {
                    manual(
                        cx,
                        format!(
                            "line {} is not valid in code page {} either",
                            cx.line_no(i).unwrap_or(i + 1),
                            cp.id
                        ),
                    );
                    return;
                }
            }
        }
        let mut proof = None;
        for (_, t) in &decoded {
            let d = Document::parse(t.as_bytes());
            let Some(l) = d.lines().first() else { continue };
            if l.keyword().is_some_and(|k| PATH_KEYWORDS.contains(&k))
                && let Some(v) = l.values().first()
                && cx.ctx.home_path(v).exists()
            {
                proof = Some(v.to_string());
                break;
            }
        }
        let Some(proof) = proof else {
            let sample = decoded
                .first()
                .map(|(_, t)| t.trim().to_string())
                .unwrap_or_default();
            manual(
                cx,
                format!(
                    "decoded as code page {} it reads `{sample}`, which names no existing file, so it was not re-encoded",
                    cp.id
                ),
            );
            return;
        };
        for (i, t) in decoded {
            if let Some(k) = cx.doc.lines()[i].keyword().map(str::to_string) {
                cx.intend(i, &k);
            }
            if let Some(l) = cx.doc.line_mut(i) {
                l.set_bytes(t.into_bytes());
            }
        }
        cx.report(
            self,
            n,
            Severity::Error,
            format!(
                "{} (decoded as code page {}, {proof} exists)",
                self.title(),
                cp.id
            ),
            "re-encoded as UTF-8 (backed up)".into(),
            true,
        );
    }
}

struct Utf16;
impl Rule for Utf16 {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "utf16",
            title: "file is UTF-16 (PowerShell `>`): no ssh can read it",
            repair: "re-encode as UTF-8 without BOM, line endings kept",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if matches!(cx.doc.encoding(), Encoding::Utf16Le | Encoding::Utf16Be) {
            cx.doc.set_encoding(Encoding::Utf8);
            cx.fixed(self, Some(1), Severity::Error);
        }
    }
}

struct Bom;
impl Rule for Bom {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "bom",
            title: "file starts with a UTF-8 byte-order mark: Linux and macOS ssh refuse it (VS Code still lists the hosts)",
            repair: "remove the byte-order mark",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.doc.encoding() == Encoding::Utf8Bom {
            cx.doc.set_encoding(Encoding::Utf8);
            cx.fixed(self, Some(1), Severity::Error);
            return;
        }
        // Two stray UTF-16 byte-order mark bytes before text that is not
        // UTF-16 (the document kept them as raw bytes): drop them, as the
        // UTF-8 mark is dropped; ssh refuses only line 1 because of them.
        if cx.doc.encoding() == Encoding::Utf8
            && let Some(first) = cx.doc.line_mut(0)
            && let Some(rest) = first
                .bytes()
                .strip_prefix(&[0xFF, 0xFE])
                .or_else(|| first.bytes().strip_prefix(&[0xFE, 0xFF]))
        {
            let rest = rest.to_vec();
            first.set_bytes(rest);
            cx.report(
                self,
                Some(1),
                Severity::Error,
                "file starts with two stray bytes (a UTF-16 byte-order mark before text that is not UTF-16): ssh refuses line 1".into(),
                "remove the two bytes".into(),
                true,
            );
        }
    }
}

/// Unicode spaces that look like spaces but are not to OpenSSH.
pub(crate) fn is_odd_space(c: char) -> bool {
    matches!(
        c,
        '\u{a0}' | '\u{2000}'..='\u{200b}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

struct NonAsciiSpace;
impl Rule for NonAsciiSpace {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "non-ascii-space",
            title: "non-breaking or ideographic spaces (pasted from a web page): ssh sees them as letters",
            repair: "replace each with an ASCII space",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        for i in 0..cx.doc.lines().len() {
            let line = &cx.doc.lines()[i];
            if line.is_comment() {
                continue;
            }
            let Ok(text) = std::str::from_utf8(line.bytes()) else {
                continue;
            };
            if !text.chars().any(is_odd_space) {
                continue;
            }
            // Within a trailing comment they are harmless: only fix the code part.
            let code_end = line
                .directive()
                .and_then(|d| d.comment.as_ref().map(|c| c.gap.start))
                .unwrap_or(text.len());
            let (code, rest) = text.split_at(code_end.min(text.len()));
            if !code.chars().any(is_odd_space) {
                continue;
            }
            let fixed: String = code
                .chars()
                .map(|c| if is_odd_space(c) { ' ' } else { c })
                .collect();
            // A path value naming a file that exists as written is what the
            // user meant: keep it, repair only the rest of the line.
            let kept = keep_existing_path(cx.ctx, code, &fixed);
            let fixed = kept.clone().unwrap_or(fixed);
            if fixed == code {
                continue;
            }
            let n = cx.line_no(i);
            let new = format!("{fixed}{rest}");
            if let Some(l) = cx.doc.line_mut(i) {
                l.set_bytes(new.into_bytes());
            }
            // The repaired line's keyword is what the repair changes.
            if let Some(kw) = cx.doc.lines()[i].keyword().map(str::to_string) {
                cx.intend(i, &kw);
            }
            if kept.is_some() {
                cx.report(
                    self,
                    n,
                    Severity::Error,
                    format!(
                        "{} (the path value names a file that exists as written, so it was kept)",
                        self.title()
                    ),
                    self.repair_text().into(),
                    true,
                );
            } else {
                cx.fixed(self, n, Severity::Error);
            }
        }
    }
}

/// `fixed` (the code part of a line with every odd space made ASCII) with
/// its path value put back as in `code`, when that value has odd spaces
/// and names a file that exists as written.
fn keep_existing_path(ctx: &Context, code: &str, fixed: &str) -> Option<String> {
    use crate::config::lexer::{LineKind, lex_line};
    let LineKind::Directive(d) = lex_line(fixed.as_bytes()) else {
        return None;
    };
    if !keywords::is_path_keyword(&d.keyword_lc) || d.value.is_empty() {
        return None;
    }
    // Odd spaces became one ASCII space each: count characters, not bytes.
    let start = fixed.get(..d.value.start)?.chars().count();
    let len = fixed.get(d.value.clone())?.chars().count();
    let original: String = code.chars().skip(start).take(len).collect();
    if !original.chars().any(is_odd_space) {
        return None;
    }
    let candidate = format!(
        "{}{original}{}",
        fixed.get(..d.value.start)?,
        fixed.get(d.value.end..)?
    );
    let LineKind::Directive(d2) = lex_line(candidate.as_bytes()) else {
        return None;
    };
    let [arg] = d2.args.as_slice() else {
        return None;
    };
    let v = arg.value(candidate.as_bytes());
    (v.chars().any(is_odd_space) && ctx.home_path(v).exists()).then_some(candidate)
}

// ---------------------------------------------------------------- comments

/// Put `comment` (starting with `#`) on its own line above line `i`, with
/// that line's indentation, and set line `i`'s value to `value`
/// (already rendered), dropping the comment from it.
/// Returns the comment line to insert above line `i` (the caller inserts
/// them all in one pass: one at a time made the rule quadratic).
fn split_comment(cx: &mut Cx, i: usize, value: &[u8], comment: &[u8]) -> Option<Vec<u8>> {
    let line = &cx.doc.lines()[i];
    let d = line.directive()?;
    let b = line.bytes();
    let indent = &b[d.indent.clone()];
    let indent = if indent.iter().all(|&c| c == b' ' || c == b'\t') {
        indent.to_vec()
    } else {
        Vec::new()
    };
    let mut new = b[..d.value.start].to_vec();
    new.extend_from_slice(value);
    // Bytes, not text: a config in a Windows code page keeps its letters.
    let comment = comment.trim_ascii_end();
    if let Some(l) = cx.doc.line_mut(i) {
        l.set_bytes(new);
    }
    // An empty comment (`40123#`) is just dropped.
    let words = comment
        .iter()
        .position(|&c| c != b'#')
        .map_or(&[][..], |k| &comment[k..]);
    if words.trim_ascii().is_empty() {
        return None;
    }
    let mut text = indent;
    text.extend_from_slice(comment);
    Some(text)
}

/// For each directive line where `split` finds (new value text, comment):
/// put the comment on its own line above and keep the value. `changes`:
/// the value's meaning changes (so the verification expects it).
fn split_lines(
    cx: &mut Cx,
    rule: &dyn Rule,
    severity: Severity,
    changes: bool,
    split: impl Fn(&crate::config::lexer::Directive, &[u8]) -> Option<(Vec<u8>, Vec<u8>)>,
) {
    let mut inserts = Vec::new();
    for i in 0..cx.doc.lines().len() {
        let line = &cx.doc.lines()[i];
        let found = line
            .directive()
            .and_then(|d| split(d, line.bytes()).map(|vc| (vc, d.keyword_lc.to_string())));
        let Some(((value, comment), kw)) = found else {
            continue;
        };
        let n = cx.line_no(i);
        if changes {
            cx.intend(i, &kw);
        }
        if let Some(text) = split_comment(cx, i, &value, &comment) {
            inserts.push((i, text));
        }
        cx.fixed(rule, n, severity);
    }
    cx.doc.insert_lines_before(inserts);
}

/// Make lines `range` of `doc` portable as the comment rules do (quoted,
/// glued, then trailing comments, each moved to its own line above),
/// touching no other line: for `add` updating an entry, whose lines must
/// come out readable by Windows' ssh too (issue 13). Returns how many
/// comments were moved.
pub fn portable_comments(
    doc: &mut Document,
    range: std::ops::Range<usize>,
    path: &Path,
    ctx: &Context,
) -> usize {
    let mut cx = Cx::new(doc.part(range.clone()), path, ctx);
    let rules: [&dyn Rule; 3] = [&QuotedComment, &GluedComment, &TrailingComment];
    for r in rules {
        r.run(&mut cx);
    }
    let moved = cx.findings.iter().filter(|f| f.applied).count();
    if moved > 0 {
        doc.splice_part(range, &cx.doc);
    }
    moved
}

struct TrailingComment;
impl Rule for TrailingComment {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "trailing-comment",
            title: "comment after a value: Windows' built-in ssh (7.7, 8.1) refuses the whole file, and VS Code's writer later glues it to the value",
            repair: "move the comment to its own line above, words kept",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let start = cx.findings.len();
        split_lines(cx, self, Severity::Warning, false, |d, b| {
            let c = d.comment.as_ref()?;
            if COMMAND_KEYWORDS.contains(&d.keyword_lc.as_ref()) || d.args.is_empty() {
                return None;
            }
            Some((b[d.value.clone()].to_vec(), b[c.text.clone()].to_vec()))
        });
        // Every ssh VS Code can run reads the comment (8.7+): say so, and
        // why it is still moved.
        if let Some(note) = cx.windows.as_ref().and_then(trailing_comment_note) {
            for f in &mut cx.findings[start..] {
                f.message = format!("{} ({note})", f.message);
            }
        }
    }
}

struct GluedComment;
impl Rule for GluedComment {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "glued-comment",
            title: "a comment glued to its value (`40123# the port`, as VS Code's writer leaves it): ssh reads it as part of the value",
            repair: "split the value from the comment, which goes on its own line above",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        split_lines(cx, self, Severity::Error, true, |d, b| {
            let kw = d.keyword_lc.as_ref();
            if COMMAND_KEYWORDS.contains(&kw) {
                return None;
            }
            // The first argument with a '#' after its first character.
            let (ai, at) = d.args.iter().enumerate().find_map(|(ai, a)| {
                let raw = &b[a.span.clone()];
                raw.iter()
                    .skip(1)
                    .position(|&c| c == b'#')
                    .map(|p| (ai, a.span.start + 1 + p))
            })?;
            let raw_arg = &b[d.args[ai].span.clone()];
            if raw_arg.contains(&b'"') || raw_arg.contains(&b'\'') {
                return None;
            }
            // Only where the line is broken as it stands, or the value is
            // clearly value+comment (a Host pattern with '#' matches nothing
            // anyone types), and the repaired line is acceptable.
            let host_line = kw == "host";
            let value = b[d.value.start..at].trim_ascii_end();
            let text = String::from_utf8_lossy(value);
            let broken = line_is_broken(kw, &d.values(b).collect::<Vec<_>>());
            let fixed_ok =
                host_line || !line_is_broken(kw, &text.split_whitespace().collect::<Vec<_>>());
            if (!broken && !host_line) || value.is_empty() || !fixed_ok {
                return None;
            }
            let mut comment = b"# ".to_vec();
            comment.extend_from_slice(b[at + 1..].trim_ascii());
            Some((value.to_vec(), comment))
        });
    }
}

/// Whether OpenSSH refuses `keyword args…` as a line on its own.
fn line_is_broken(keyword: &str, args: &[&str]) -> bool {
    let Some(kw) = keywords::lookup(keyword) else {
        return true;
    };
    let single = !matches!(
        kw.kind,
        Kind::Host
            | Kind::Match
            | Kind::Include
            | Kind::SendEnv
            | Kind::LineList
            | Kind::PathLineList
            | Kind::OneLineList
            | Kind::Forward
            | Kind::DynamicForward
            | Kind::Other
            | Kind::Ignored
            | Kind::AddKeysToAgent
    );
    if args.is_empty() || (single && args.len() > 1) {
        return true;
    }
    single && resolve::validate(kw.kind, args[0]).is_err()
}

struct QuotedComment;
impl Rule for QuotedComment {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "quoted-comment",
            title: "a comment inside quotes (`User \"root   # account\"`, as older VS Code writers left it): ssh uses it as part of the value",
            repair: "keep the value, move the comment to its own line above",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let ctx = cx.ctx;
        split_lines(cx, self, Severity::Error, true, |d, b| {
            let kw = d.keyword_lc.as_ref();
            if d.args.len() != 1
                || COMMAND_KEYWORDS.contains(&kw)
                || !b[d.args[0].span.clone()].starts_with(b"\"")
            {
                return None;
            }
            // Not UTF-8 (a Windows code page): the value is known only as
            // lossy text, so the line stays as it is rather than lose bytes.
            std::str::from_utf8(&b[d.args[0].span.clone()]).ok()?;
            let value = d.args[0].value(b);
            // A path that names a file as written is that file
            // (`"~/.ssh/my key #2"`), not a path and a comment.
            if keywords::is_path_keyword(kw) && ctx.home_path(value).exists() {
                return None;
            }
            let (v, c) = value.split_at(find_space_hash(value)?);
            let v = v.trim_end();
            let v = if keywords::is_path_keyword(kw) {
                portable_path(v)
            } else {
                v.to_string()
            };
            let rendered = crate::config::lexer::render_value(&v)?;
            Some((
                rendered.into_bytes(),
                format!("# {}", c.trim_start().trim_start_matches('#').trim()).into_bytes(),
            ))
        });
    }
}

/// Byte position of whitespace followed by `#` in `v`.
fn find_space_hash(v: &str) -> Option<usize> {
    let b = v.as_bytes();
    (1..b.len())
        .find(|&k| b[k] == b'#' && (b[k - 1] == b' ' || b[k - 1] == b'\t'))
        .map(|k| {
            let mut s = k;
            while s > 0 && (b[s - 1] == b' ' || b[s - 1] == b'\t') {
                s -= 1;
            }
            s
        })
}

// ---------------------------------------------------------------- paths

/// For each directive line where `rewrite` gives a new (rendered) value,
/// put it in place of the old one; the value's meaning changes on purpose.
fn rewrite_values(
    cx: &mut Cx,
    rule: &dyn Rule,
    severity: Severity,
    rewrite: impl Fn(&crate::config::lexer::Directive, &[u8]) -> Option<String>,
) {
    for i in 0..cx.doc.lines().len() {
        let line = &cx.doc.lines()[i];
        let found = line
            .directive()
            .and_then(|d| rewrite(d, line.bytes()).map(|v| (v, d.keyword_lc.to_string())));
        let Some((rendered, kw)) = found else {
            continue;
        };
        let n = cx.line_no(i);
        cx.intend(i, &kw);
        cx.doc.replace_value(i, &rendered);
        cx.fixed(rule, n, severity);
    }
}

// ---------------------------------------------------------------- Apple

struct AppleKeywords;
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
        use crate::refusal::{self, apple_keyword_refused};
        if cx.client.knows_apple_keywords() {
            return;
        }
        // What the client here stops at, anywhere in the tree: the first
        // use of each Apple keyword, by the spelling runpod-ssh writes.
        let refused = refusal::check(cx.client, &cx.path, &cx.doc, cx.ctx);
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

struct UnquotedSpacePath;
impl Rule for UnquotedSpacePath {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "unquoted-space-path",
            title: "a path with spaces and no quotes (`C:\\Users\\John Doe\\…`): ssh reads two values and refuses the whole file",
            repair: "quote the path (forward slashes)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        rewrite_values(cx, self, Severity::Error, |d, b| {
            let kw = d.keyword_lc.as_ref();
            let path_kw = matches!(
                kw,
                "identityfile" | "certificatefile" | "identityagent" | "controlpath"
            );
            if !path_kw || d.args.len() < 2 {
                return None;
            }
            let joined = String::from_utf8_lossy(&b[d.value.clone()]).into_owned();
            if joined.contains(['"', '\'', '#']) {
                return None;
            }
            crate::config::lexer::render_value(&portable_path(&joined))
        });
    }
}

struct BackslashPath;
impl Rule for BackslashPath {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "backslash-path",
            title: "a Windows path with doubled backslashes or a quoted trailing backslash: OpenSSH 8.1 and 9.x read it differently",
            repair: "write it with forward slashes, which every version reads the same",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        rewrite_values(cx, self, Severity::Warning, |d, b| {
            let kw = d.keyword_lc.as_ref();
            if !keywords::is_path_keyword(kw) || kw == "include" || d.args.len() != 1 {
                return None;
            }
            let raw = String::from_utf8_lossy(&b[d.args[0].span.clone()]).into_owned();
            let value = d.args[0].value(b);
            // `C:\\Users` (8.1 keeps both), `\\server` (9.x drops one).
            if !raw.contains("\\\\") || d.error.is_some() {
                return None;
            }
            let fixed = portable_path(value).replace("//", "/");
            let fixed = if value.starts_with("\\\\") || raw.starts_with("\\\\\\\\") {
                format!("/{fixed}")
            } else {
                fixed
            };
            crate::config::lexer::render_value(&fixed).filter(|r| *r != raw)
        });
    }
}

/// The identity file lines of RunPod entries in scope: (line, value).
fn runpod_identity_lines(cx: &Cx) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for b in cx.doc.blocks() {
        if !runpod::is_runpod_block(&cx.doc, &b) || !cx.in_scope(&b.patterns) {
            continue;
        }
        for li in cx.doc.option_lines(&b, "identityfile") {
            if let Some(v) = cx.doc.lines()[li].values().first() {
                out.push((li, v.to_string()));
            }
        }
    }
    out
}

struct IdentityPub;
impl Rule for IdentityPub {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "identity-pub",
            title: "IdentityFile points at the public key (.pub): ssh cannot log in with it",
            repair: "point at the private key beside it",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        for i in 0..cx.doc.lines().len() {
            let line = &cx.doc.lines()[i];
            if line.keyword() != Some("identityfile") {
                continue;
            }
            let Some(v) = line.values().first().map(|s| s.to_string()) else {
                continue;
            };
            let Some(private) = v.strip_suffix(".pub") else {
                continue;
            };
            let exists = cx.ctx.home_path(private).is_file();
            let n = cx.line_no(i);
            if exists
                && let Some(rendered) = crate::config::lexer::render_value(&portable_path(private))
            {
                cx.intend(i, "identityfile");
                cx.doc.replace_value(i, &rendered);
                cx.fixed(self, n, Severity::Error);
            } else {
                cx.report(
                    self,
                    n,
                    Severity::Error,
                    format!("{} ({private} does not exist either)", self.title()),
                    "create a key pair with `ssh-keygen -t ed25519` and point IdentityFile at the private key".into(),
                    false,
                );
            }
        }
    }
}

struct IdentityMissing;
impl Rule for IdentityMissing {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "identity-missing",
            title: "IdentityFile does not exist: ssh skips it silently and the login fails",
            repair: "create the key (`ssh-keygen -t ed25519 -f PATH`) and add its .pub in RunPod → Settings → SSH Public Keys, or point IdentityFile at the key you use",
            auto: Auto::Manual,
        }
    }
    fn run(&self, cx: &mut Cx) {
        for (li, v) in runpod_identity_lines(cx) {
            if v.ends_with(".pub") || v.contains('%') || v.eq_ignore_ascii_case("none") {
                continue;
            }
            let p = cx.ctx.home_path(&v);
            let message = match std::fs::metadata(&p) {
                Ok(md) => match crate::fsio::special_kind(&md) {
                    None => continue,
                    // It exists: say what it is rather than "missing".
                    Some(kind) => format!(
                        "IdentityFile {v}: {} is {kind}, not a private key: ssh cannot load it and the login fails",
                        p.display()
                    ),
                },
                Err(_) => format!("{}: {v}", self.title()),
            };
            let n = cx.line_no(li);
            cx.report(
                self,
                n,
                Severity::Error,
                message,
                self.repair_text().into(),
                false,
            );
        }
    }
}

/// What the permission rules need to know of a path, read without
/// following a final symlink (or, with `follow`, of what it points to).
struct Stat {
    link: bool,
    regular: bool,
    mode: u32,
    /// Owned by the user running us.
    owned: bool,
}

#[cfg(unix)]
fn stat(p: &Path, follow: bool) -> Option<Stat> {
    use std::os::unix::fs::MetadataExt;
    let md = if follow {
        std::fs::metadata(p)
    } else {
        std::fs::symlink_metadata(p)
    }
    .ok()?;
    Some(Stat {
        link: md.file_type().is_symlink(),
        regular: md.file_type().is_file(),
        mode: md.mode() & 0o777,
        // SAFETY: geteuid cannot fail.
        owned: md.uid() == unsafe { libc::geteuid() },
    })
}

#[cfg(not(unix))]
fn stat(_p: &Path, _follow: bool) -> Option<Stat> {
    None
}

/// The start of a regular file (never a FIFO or device: those could block
/// or never end), without following a final symlink.
fn read_head(p: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let f = o.open(p).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut b = Vec::new();
    f.take(limit).read_to_end(&mut b).ok()?;
    Some(b)
}

/// Whether `bytes` is a private key ssh can load: the OpenSSH format
/// (encrypted too: only its envelope is parsed) or legacy PEM
/// (`-----BEGIN [RSA |DSA |EC |ENCRYPTED ]PRIVATE KEY-----`).
pub fn is_private_key(bytes: &[u8]) -> bool {
    let Ok(t) = std::str::from_utf8(bytes) else {
        return false;
    };
    let t = t.trim_start_matches('\u{feff}').trim();
    if t.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return ssh_key::PrivateKey::from_openssh(t.replace("\r\n", "\n")).is_ok();
    }
    let mut lines = t.lines().map(str::trim_end);
    let Some(kind) = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("PRIVATE KEY-----"))
    else {
        return false;
    };
    if !["", "RSA ", "DSA ", "EC ", "ENCRYPTED "].contains(&kind) {
        return false;
    }
    let body: Vec<&str> = lines.collect();
    let Some((last, body)) = body.split_last() else {
        return false;
    };
    *last == format!("-----END {kind}PRIVATE KEY-----")
        && body.iter().any(|l| !l.is_empty() && !l.contains(':'))
        && body.iter().all(|l| {
            l.contains(':')
                || l.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        })
}

/// Whether `bytes` is a public key (an `IdentityFile` may name one to pick
/// an agent key): not ours to chmod or complain about.
fn is_public_key(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| t.lines().find(|l| !l.trim().is_empty()))
        .is_some_and(|l| ssh_key::PublicKey::from_openssh(l.trim()).is_ok())
}

/// The icacls commands that give `path` to its owner alone (Windows).
pub fn icacls_commands(path: &str) -> String {
    format!(
        "icacls \"{path}\" /inheritance:r && icacls \"{path}\" /grant:r \"%USERNAME%\":F && icacls \"{path}\" /remove:g \"Authenticated Users\" BUILTIN\\Users Everyone"
    )
}

/// What an editor (Notepad) did to a private key, undone by
/// [`normalise_key`]: the names, in the order they are undone.
pub fn key_mangling(bytes: &[u8]) -> Vec<&'static str> {
    normalise_key(bytes).map(|(_, m)| m).unwrap_or_default()
}

/// A private key saved by Notepad (F18): UTF-16 (with its byte-order
/// mark), a UTF-8 byte-order mark, CRLF line ends, no final newline.
/// Git's ssh and Win32 9.5 refuse such a key ("invalid format", "error in
/// libcrypto"). Returns the key as ASCII with LF and a final newline, and
/// what was undone; `None` when there is nothing to undo or the result
/// would not be a private key ssh loads (then it is not ours to touch:
/// the content must be exactly the key, only its encoding changes).
pub fn normalise_key(bytes: &[u8]) -> Option<(Vec<u8>, Vec<&'static str>)> {
    let mut undone = Vec::new();
    let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        undone.push("UTF-16");
        utf16_text(rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        undone.push("UTF-16");
        utf16_text(rest, u16::from_be_bytes)?
    } else {
        String::from_utf8(bytes.to_vec()).ok()?
    };
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            if undone.is_empty() {
                undone.push("byte-order mark");
            }
            rest.to_string()
        }
        None => text,
    };
    if !text.is_ascii() {
        return None;
    }
    let mut text = if text.contains("\r\n") {
        undone.push("CRLF");
        text.replace("\r\n", "\n")
    } else {
        text
    };
    if !text.is_empty() && !text.ends_with('\n') {
        undone.push("no final newline");
        text.push('\n');
    }
    if undone.is_empty() || !is_private_key(text.as_bytes()) {
        return None;
    }
    Some((text.into_bytes(), undone))
}

fn utf16_text(b: &[u8], unit: fn([u8; 2]) -> u16) -> Option<String> {
    if !b.len().is_multiple_of(2) {
        return None;
    }
    String::from_utf16(
        &b.chunks_exact(2)
            .map(|c| unit([c[0], c[1]]))
            .collect::<Vec<_>>(),
    )
    .ok()
}

/// A regular file at `p`, not reached through a final symlink (portable:
/// the permission rules' [`stat`] is Unix-only).
fn regular_not_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
}

struct KeyFormat;
impl Rule for KeyFormat {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "key-format",
            title: "private key saved by an editor (UTF-16, byte-order mark, CRLF or no final newline): Git's ssh and Windows' 9.5 refuse it (invalid format / error in libcrypto)",
            repair: "rewrite it as ASCII with LF line ends and a final newline (the key itself unchanged; backed up; its permissions kept)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let mut seen = Vec::new();
        for (li, v) in runpod_identity_lines(cx) {
            let p = cx.ctx.home_path(&v);
            // A link may point at any file: never rewritten through it.
            if seen.contains(&p) || !regular_not_link(&p) {
                continue;
            }
            let Some(old) = read_head(&p, 1 << 20) else {
                continue;
            };
            let Some((new, undone)) = normalise_key(&old) else {
                continue;
            };
            seen.push(p.clone());
            let n = cx.line_no(li);
            cx.side_effects.push(SideEffect::RewriteKey {
                path: p.clone(),
                old,
                new,
                finding: cx.findings.len(),
            });
            cx.report(
                self,
                n,
                Severity::Error,
                format!("{} ({}: {})", self.title(), p.display(), undone.join(", ")),
                self.repair_text().into(),
                true,
            );
        }
    }
}

/// Windows (F16/F17): what OpenSSH for Windows refuses in the owner and
/// DACL of `p`, as a finding with an owner-only repair (read back when
/// applied). Elsewhere, and when the descriptor cannot be read, nothing.
fn windows_acl(cx: &mut Cx, rule: &dyn Rule, p: &Path, line: Option<usize>) {
    let Some(problems) = acl_problems(p) else {
        return;
    };
    if problems.is_empty() {
        return;
    }
    cx.side_effects.push(SideEffect::OwnerOnlyAcl {
        path: p.to_path_buf(),
        finding: cx.findings.len(),
    });
    let shown = p.display().to_string();
    cx.report(
        rule,
        line,
        Severity::Error,
        format!("{} ({shown}: {})", rule.title(), problems.join("; ")),
        format!(
            "owner-only ACL: you, SYSTEM and Administrators, inheritance off (by hand: {})",
            icacls_commands(&shown)
        ),
        true,
    );
}

#[cfg(windows)]
fn acl_problems(p: &Path) -> Option<Vec<String>> {
    if !regular_not_link(p) {
        return None;
    }
    let me = crate::winacl::current_user_sid().ok()?;
    let d = crate::winacl::read(p).ok()?;
    Some(crate::winacl::problems(&d, &me))
}

#[cfg(not(windows))]
fn acl_problems(_p: &Path) -> Option<Vec<String>> {
    None
}

struct KeyPermissions;
impl Rule for KeyPermissions {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "key-permissions",
            title: "private key readable by others: ssh ignores it (UNPROTECTED PRIVATE KEY FILE)",
            repair: "chmod 600 (on Windows: owner-only ACL, inheritance off)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cfg!(windows) {
            // The key's DACL, judged as OpenSSH for Windows judges it.
            for (li, v) in runpod_identity_lines(cx) {
                let p = cx.ctx.home_path(&v);
                let key = read_head(&p, 1 << 20)
                    .map(|h| normalise_key(&h).map_or(h, |(n, _)| n))
                    .is_some_and(|h| is_private_key(&h));
                if key {
                    let n = cx.line_no(li);
                    windows_acl(cx, self, &p, n);
                }
            }
            return;
        }
        for (li, v) in runpod_identity_lines(cx) {
            let p = cx.ctx.home_path(&v);
            // A missing file is identity-missing's business.
            let Some(st) = stat(&p, false) else { continue };
            let n = cx.line_no(li);
            let manual = |cx: &mut Cx, message: String, repair: String| {
                cx.findings.push(Finding {
                    rule: self.id(),
                    file: cx.path.clone(),
                    line: n,
                    severity: Severity::Error,
                    message,
                    repair,
                    auto: Auto::Manual,
                    applied: false,
                });
            };
            if st.link {
                // ssh follows the link and checks the target; we never
                // chmod through a link (it may point at any file).
                let Some(t) = stat(&p, true) else { continue };
                let target = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
                let key = read_head(&target, 1 << 20).is_some_and(|b| is_private_key(&b));
                if t.regular && t.owned && key && t.mode & 0o077 != 0 {
                    manual(
                        cx,
                        format!(
                            "{} ({} is a symbolic link to {}, mode {:o}): runpod-ssh does not change permissions through a symbolic link",
                            self.title(),
                            p.display(),
                            target.display(),
                            t.mode
                        ),
                        format!("chmod 600 {}", target.display()),
                    );
                }
                continue;
            }
            if !st.regular {
                // identity-missing says what it is (a folder, a device).
                continue;
            }
            let head = read_head(&p, 1 << 20);
            // A Notepad-mangled key is judged as key-format leaves it.
            let head = head.map(|h| normalise_key(&h).map_or(h, |(n, _)| n));
            let Some(head) = head else {
                manual(
                    cx,
                    format!("{v}: not a private key ({} cannot be read)", p.display()),
                    "point IdentityFile at your private key".into(),
                );
                continue;
            };
            if is_public_key(&head) {
                continue;
            }
            if !is_private_key(&head) {
                manual(
                    cx,
                    format!(
                        "{v}: not a private key ({} is no key format ssh reads); its permissions were left alone",
                        p.display()
                    ),
                    "point IdentityFile at your private key".into(),
                );
                continue;
            }
            // ssh only checks the permissions of keys the user owns.
            if !st.owned || st.mode & 0o077 == 0 {
                continue;
            }
            cx.side_effects.push(SideEffect::Chmod {
                path: p.clone(),
                mode: 0o600,
                finding: cx.findings.len(),
                check: ChmodCheck::PrivateKey,
            });
            cx.report(
                self,
                n,
                Severity::Error,
                format!("{} ({}: mode {:o})", self.title(), p.display(), st.mode),
                format!(
                    "chmod 600 {} (Windows: {})",
                    p.display(),
                    icacls_commands(&v)
                ),
                true,
            );
        }
    }
}

struct ConfigPermissions;
impl Rule for ConfigPermissions {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "config-permissions",
            title: "config writable by others: ssh refuses it (Bad owner or permissions)",
            repair: "chmod 600 (on Windows: owner-only ACL, inheritance off)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cfg!(windows) {
            let p = cx.path.clone();
            windows_acl(cx, self, &p, None);
            return;
        }
        let Some(st) = stat(&cx.path, false) else {
            return;
        };
        let path = cx.path.display().to_string();
        if st.link {
            // ssh checks the file the link points to; we never chmod
            // through a link.
            let Some(t) = stat(&cx.path, true) else {
                return;
            };
            if t.regular && t.mode & 0o022 != 0 {
                let target = std::fs::canonicalize(&cx.path).unwrap_or_else(|_| cx.path.clone());
                cx.findings.push(Finding {
                    rule: self.id(),
                    file: cx.path.clone(),
                    line: None,
                    severity: Severity::Error,
                    message: format!(
                        "{} ({path} is a symbolic link to {}, mode {:o}): runpod-ssh does not change permissions through a symbolic link",
                        self.title(),
                        target.display(),
                        t.mode
                    ),
                    repair: format!("chmod 600 {}", target.display()),
                    auto: Auto::Manual,
                    applied: false,
                });
            }
            return;
        }
        // A device such as /dev/null reads as an empty config: nothing to chmod.
        if !st.regular || st.mode & 0o022 == 0 {
            return;
        }
        if !st.owned {
            cx.findings.push(Finding {
                rule: self.id(),
                file: cx.path.clone(),
                line: None,
                severity: Severity::Error,
                message: format!(
                    "{} (mode {:o}, and it belongs to another user: its permissions were left alone)",
                    self.title(),
                    st.mode
                ),
                repair: format!("have its owner run chmod 600 {path}"),
                auto: Auto::Manual,
                applied: false,
            });
            return;
        }
        cx.side_effects.push(SideEffect::Chmod {
            path: cx.path.clone(),
            mode: 0o600,
            finding: cx.findings.len(),
            check: ChmodCheck::Config,
        });
        cx.report(
            self,
            None,
            Severity::Error,
            format!("{} (mode {:o})", self.title(), st.mode),
            format!("chmod 600 {path} (Windows: {})", icacls_commands(&path)),
            true,
        );
    }
}

// ---------------------------------------------------------------- blocks

struct DuplicateAlias;
impl Rule for DuplicateAlias {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "duplicate-alias",
            title: "the same alias in more than one Host block: ssh takes each value from the first block that sets it, VS Code lists one entry",
            repair: "with --yes: remove a later block when runpod-ssh's evaluator proves ssh uses none of its values; the first block is kept",
            auto: Auto::WithYes,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let blocks = cx.doc.blocks();
        // Alias → first block naming it (a map: a list made this quadratic).
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        // (block, line of the first block naming the alias, alias)
        let mut later: Vec<(usize, usize, String)> = Vec::new();
        for (bi, b) in blocks.iter().enumerate() {
            if b.kind != BlockKind::Host {
                continue;
            }
            for p in b.patterns.iter().filter(|p| !pattern::is_wildcard(p)) {
                if !cx.in_scope(std::slice::from_ref(p)) {
                    continue;
                }
                match seen.get(p.as_str()) {
                    None => {
                        seen.insert(p, bi);
                    }
                    Some(&first) => {
                        let first_line = blocks[first]
                            .header
                            .and_then(|h| cx.line_no(h))
                            .unwrap_or(0);
                        if later.last().is_none_or(|(l, _, _)| *l != bi) {
                            later.push((bi, first_line, p.clone()));
                        }
                    }
                }
            }
        }
        // Last block first, so the indices of earlier ones stay valid; each
        // removal is proven against the document as it is at that point.
        let mut found = Vec::new();
        for (bi, first_line, p) in later.into_iter().rev() {
            let b = &blocks[bi];
            let this = b.header.and_then(|h| cx.line_no(h));
            let mut repair = format!(
                "with --yes: remove this block, keeping line {first_line}'s; or rename one with `runpod-ssh add --name`"
            );
            let mut auto = self.auto();
            let mut message =
                format!("{p} is defined again here; ssh uses the block at line {first_line} first");
            let mut apply = false;
            if b.patterns.len() != 1 {
                repair = "this block names other hosts too: edit it by hand".into();
                auto = Auto::Manual;
            } else {
                match unused_block(cx, bi) {
                    Ok(()) => apply = cx.may(self.auto()),
                    Err(used) => {
                        message = format!(
                            "{message}, but ssh still uses values of this block: {}",
                            used.join(", ")
                        );
                        repair = format!(
                            "move those lines into the block at line {first_line} and remove this one, or rename one with `runpod-ssh add --name`"
                        );
                        auto = Auto::Manual;
                    }
                }
            }
            if apply {
                let _ = cx.doc.remove_block(bi);
            }
            found.push(Finding {
                rule: self.id(),
                file: cx.path.clone(),
                line: this,
                severity: Severity::Warning,
                message,
                repair,
                auto,
                applied: apply,
            });
        }
        found.reverse();
        cx.findings.extend(found);
    }
}

/// Hosts whose evaluation block `bi` could change: its own patterns (a
/// sample name for a wildcard one), every alias whose `HostName` it
/// matches (the final pass matches `Host` against the hostname), and a
/// host no block names.
fn hosts_matching_block(doc: &Document, bi: usize) -> Vec<String> {
    let blocks = doc.blocks();
    let b = &blocks[bi];
    let mut hosts: Vec<String> = Vec::new();
    let mut add = |h: String| {
        if !h.is_empty() && !hosts.contains(&h) {
            hosts.push(h);
        }
    };
    for p in b.patterns.iter().filter(|p| !p.starts_with('!')) {
        add(p.replace(['*', '?'], "x"));
        add(p.replace('*', "").replace('?', "x"));
    }
    let matches = |h: &str| pattern::host_line_matches(h, b.patterns.iter().map(String::as_str));
    let aliases: Vec<&String> = blocks
        .iter()
        .filter(|o| o.kind == BlockKind::Host)
        .flat_map(|o| o.patterns.iter().filter(|p| !pattern::is_wildcard(p)))
        .collect();
    let hostnames: Vec<&str> = doc
        .lines()
        .iter()
        .filter(|l| l.keyword() == Some("hostname"))
        .filter_map(|l| l.values().first().copied())
        .collect();
    for v in hostnames {
        // Without a token the hostname is the same for every alias.
        if !v.contains('%') && !matches(&resolve::lower_unless_address(v)) {
            continue;
        }
        for alias in &aliases {
            let h = resolve::lower_unless_address(&resolve::expand_hostname(v, alias));
            if matches(&h) {
                add((*alias).clone());
            }
        }
    }
    add(crate::refusal::UNRELATED_HOST.into());
    hosts
}

/// `Ok` when removing block `bi` changes nothing our evaluator resolves
/// for any host that block could apply to; else the values of the block
/// that ssh still uses (`keyword value (line N)`).
fn unused_block(cx: &Cx, bi: usize) -> Result<(), Vec<String>> {
    let Some(range) = cx.doc.blocks().get(bi).map(|b| b.lines.clone()) else {
        return Err(Vec::new());
    };
    let mut without = cx.doc.clone();
    if without.remove_block(bi).is_err() {
        return Err(Vec::new());
    }
    let printed = |r: &Resolved| -> Vec<(String, String)> {
        r.print()
            .into_iter()
            .map(|p| (p.keyword, p.value))
            .collect()
    };
    let mut used: Vec<String> = Vec::new();
    let mut differs = false;
    for host in hosts_matching_block(&cx.doc, bi) {
        let before = resolve(&cx.doc, &cx.path, &host, cx.ctx);
        let after = resolve(&without, &cx.path, &host, cx.ctx);
        let errs = |r: &Resolved| {
            r.errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
        };
        if printed(&before) == printed(&after) && errs(&before) == errs(&after) {
            continue;
        }
        differs = true;
        for s in before.settings() {
            if s.source.file == cx.path && range.contains(&(s.source.line - 1)) {
                let line = cx.line_no(s.source.line - 1).unwrap_or(s.source.line);
                let v = format!("{} {} (line {line})", s.keyword, s.args.join(" "));
                if !used.contains(&v) {
                    used.push(v);
                }
            }
        }
    }
    if !differs {
        return Ok(());
    }
    if used.is_empty() {
        used.push("the evaluation of the hosts it matches changes without it".into());
    }
    Err(used)
}

struct CatchAllOverride;
impl Rule for CatchAllOverride {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "catch-all-override",
            title: "a `Host *` (or other wildcard) block above a RunPod entry overrides its values: first value wins",
            repair: "move the entry above the first block that also applies to it",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let mut done: std::collections::HashSet<String> = std::collections::HashSet::new();
        let ended_blank = cx.doc.lines().last().is_some_and(|l| l.is_blank());
        loop {
            let blocks = cx.doc.blocks();
            // One plan of the file for every entry, and the first block
            // naming each alias: per-entry scans of the whole file made
            // this quadratic. The snapshot lets findings be reported while
            // it is in use.
            let snapshot = cx.doc.clone();
            let (path, ctx) = (cx.path.clone(), cx.ctx);
            let resolver = crate::config::resolve::Resolver::new(&snapshot, &path, ctx);
            let mut first_naming: std::collections::HashMap<&str, usize> =
                std::collections::HashMap::new();
            for (bi, b) in blocks
                .iter()
                .enumerate()
                .filter(|(_, b)| b.kind == BlockKind::Host)
            {
                for p in &b.patterns {
                    first_naming.entry(p.as_str()).or_insert(bi);
                }
            }
            let mut moved = false;
            for (bi, b) in blocks.iter().enumerate() {
                if !runpod::is_runpod_block(&cx.doc, b)
                    || !cx.in_scope(&b.patterns)
                    || b.patterns.len() != 1
                {
                    continue;
                }
                let alias = b.patterns[0].clone();
                // Only the block ssh uses for the alias (duplicates are
                // another rule's business), and each alias once.
                if !valid_alias(&alias)
                    || done.contains(&alias)
                    || first_naming.get(alias.as_str()) != Some(&bi)
                {
                    continue;
                }
                let catch_all = |k: usize| match blocks[k].kind {
                    BlockKind::Host => {
                        blocks[k].patterns.iter().any(|p| pattern::is_wildcard(p))
                            && pattern::host_line_matches(
                                &alias,
                                blocks[k].patterns.iter().map(String::as_str),
                            )
                    }
                    BlockKind::Match => true,
                    BlockKind::Global => false,
                };
                // Keywords this entry sets that an earlier block sets first.
                let r = resolver.resolve(&alias);
                if !r.ok() {
                    continue;
                }
                let header = b.header.unwrap_or(0);
                let mut overridden = Vec::new();
                let mut from_global = false;
                for li in b.lines.clone().filter(|&l| l != header) {
                    let Some(kw) = cx.doc.lines()[li].keyword().and_then(keywords::lookup) else {
                        continue;
                    };
                    if matches!(
                        kw.kind,
                        Kind::Forward
                            | Kind::DynamicForward
                            | Kind::SendEnv
                            | Kind::IdentityFile
                            | Kind::Append
                    ) {
                        continue;
                    }
                    if let Some(s) = r.get(kw.name)
                        && s.source.file == cx.path
                        && s.source.line - 1 < header
                    {
                        let src = s.source.line - 1;
                        let in_global = blocks[0].lines.contains(&src);
                        let in_catch_all =
                            (1..bi).any(|k| blocks[k].lines.contains(&src) && catch_all(k));
                        if !(in_global || in_catch_all) {
                            continue;
                        }
                        from_global |= in_global;
                        overridden.push(format!(
                            "{} (line {})",
                            kw.name,
                            cx.line_no(src).unwrap_or(0)
                        ));
                    }
                }
                if overridden.is_empty() {
                    continue;
                }
                done.insert(alias.clone());
                let first = (1..bi).find(|&k| catch_all(k));
                let n = cx.line_no(header);
                let msg = format!(
                    "{alias}: {} set first by an earlier block",
                    overridden.join(", ")
                );
                match (first, from_global) {
                    (Some(k), false) => {
                        let to = cx.doc.position_before_block(k);
                        let start = cx.doc.position_before_block(bi);
                        cx.doc.move_lines(start..b.lines.end, to);
                        // Keep a blank line after the moved block.
                        let moved_len = b.lines.end - start;
                        if let Some(after) = cx.doc.lines().get(to + moved_len)
                            && !after.is_blank()
                            && !cx.doc.lines()[to + moved_len - 1].is_blank()
                        {
                            cx.doc.insert_lines(to + moved_len, vec![String::new()]);
                        }
                        cx.intended.push((alias.clone(), "*".into()));
                        cx.report(
                            self,
                            n,
                            Severity::Error,
                            msg,
                            self.repair_text().into(),
                            true,
                        );
                        moved = true;
                        break;
                    }
                    _ => {
                        cx.report(
                            self,
                            n,
                            Severity::Error,
                            format!("{msg}, in the global section at the top of the file"),
                            "move those global lines into a `Host *` block at the end of the file"
                                .into(),
                            false,
                        );
                    }
                }
            }
            if !moved {
                break;
            }
        }
        // A blank line that separated blocks may now end the file.
        let n = cx.doc.lines().len();
        if !ended_blank && n > 0 && cx.doc.lines()[n - 1].is_blank() && !done.is_empty() {
            cx.doc.remove_lines(n - 1..n);
        }
    }
}

struct IncludeAfterHost;
impl Rule for IncludeAfterHost {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "include-after-host",
            title: "an unindented `Include` after a Host block: it only applies to that block, not to every host",
            repair: "with --yes: move it to the top of the file, where it applies to every host",
            auto: Auto::WithYes,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let blocks = cx.doc.blocks();
        let mut moves = Vec::new();
        for b in blocks.iter().skip(1) {
            let Some(h) = b.header else { continue };
            let indented_block = b.lines.clone().filter(|&l| l != h).any(|l| {
                cx.doc.lines()[l]
                    .directive()
                    .is_some_and(|d| !d.indent.is_empty())
            });
            for li in b.lines.clone().filter(|&l| l != h) {
                let Some(d) = cx.doc.lines()[li].directive() else {
                    continue;
                };
                if d.keyword_lc == "include" && d.indent.is_empty() && indented_block {
                    let apply = cx.may(self.auto());
                    let n = cx.line_no(li);
                    cx.report(
                        self,
                        n,
                        Severity::Warning,
                        self.title().into(),
                        self.repair_text().into(),
                        apply,
                    );
                    if apply {
                        moves.push(li);
                    }
                }
            }
        }
        let global_end = cx.doc.position_before_block(0).min(
            cx.doc
                .blocks()
                .get(1)
                .and_then(|b| b.header)
                .unwrap_or(cx.doc.lines().len()),
        );
        for li in moves.into_iter().rev() {
            cx.doc.move_lines(li..li + 1, global_end.min(li));
            cx.intended.push(("*".into(), "*".into()));
        }
    }
}

struct ProxyEntry;
impl Rule for ProxyEntry {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "proxy-entry",
            title: "entry uses RunPod's ssh.runpod.io proxy: a terminal works, VS Code, scp, sftp and port forwarding do not",
            repair: "enable \"SSH over exposed TCP\" on the pod and run `runpod-ssh add --name ALIAS '<that command>'`",
            auto: Auto::Manual,
        }
    }
    fn run(&self, cx: &mut Cx) {
        for b in cx.doc.blocks() {
            if b.kind != BlockKind::Host || !cx.in_scope(&b.patterns) {
                continue;
            }
            for li in cx.doc.option_lines(&b, "hostname") {
                let proxy = cx.doc.lines()[li]
                    .values()
                    .first()
                    .is_some_and(|h| h.eq_ignore_ascii_case(runpod::PROXY_HOST));
                if proxy {
                    let n = cx.line_no(li);
                    let alias = b.patterns.first().cloned().unwrap_or_default();
                    cx.report(
                        self,
                        n,
                        Severity::Warning,
                        format!("{alias}: {}", self.title()),
                        self.repair_text().replace("ALIAS", &alias),
                        false,
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------- VS Code

struct VscodeConfigFile;
impl Rule for VscodeConfigFile {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "vscode-config-file",
            title: "VS Code reads another ssh config file (remote.SSH.configFile)",
            repair: "fix repairs the file VS Code reads instead of ~/.ssh/config, and says so (unless --config names a file)",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let found: Vec<(PathBuf, String)> = cx
            .vscode
            .iter()
            .filter_map(|(p, text)| Some((p.clone(), crate::vscode::config_file(text)?)))
            .collect();
        for (settings, other) in found {
            let other_path = cx.ctx.home_path(&other.replace('\\', "/"));
            if other_path != cx.path {
                cx.findings.push(Finding {
                    rule: self.id(),
                    file: settings.clone(),
                    line: None,
                    severity: Severity::Warning,
                    message: format!(
                        "{}: {other}; this run repaired {}",
                        self.title(),
                        cx.path.display()
                    ),
                    repair: format!("runpod-ssh fix --config {other}"),
                    auto: self.auto(),
                    applied: false,
                });
            }
        }
    }
}

struct VscodePlatform;
impl Rule for VscodePlatform {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "vscode-platform",
            title: "VS Code does not know the RunPod host runs Linux: it asks every time, and a wrong answer breaks the connection",
            repair: "set remote.SSH.remotePlatform for it to \"linux\"",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.vscode.is_empty() {
            return;
        }
        for b in cx.doc.blocks() {
            if !runpod::is_runpod_block(&cx.doc, &b) || !cx.in_scope(&b.patterns) {
                continue;
            }
            for alias in b.patterns.iter().filter(|p| !pattern::is_wildcard(p)) {
                let missing: Vec<PathBuf> = cx
                    .vscode
                    .iter()
                    .filter(|(_, t)| {
                        crate::vscode::remote_platform(t, alias).as_deref() != Some("linux")
                    })
                    .map(|(p, _)| p.clone())
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                cx.side_effects.push(SideEffect::VscodePlatform {
                    alias: alias.clone(),
                });
                cx.findings.push(Finding {
                    rule: self.id(),
                    file: missing[0].clone(),
                    line: None,
                    severity: Severity::Warning,
                    message: format!("{alias}: {}", self.title()),
                    repair: self.repair_text().into(),
                    auto: self.auto(),
                    applied: true,
                });
            }
        }
    }
}

// ---------------------------------------------------------------- Windows clients

/// Where VS Code Remote-SSH finds an ssh (F19), in the order it tries them
/// after `remote.SSH.path`: `ssh` on PATH, System32, Git's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientSource {
    Setting,
    Path,
    System32,
    Git,
}

/// An ssh.exe VS Code may run.
#[derive(Debug, Clone, Serialize)]
pub struct SshClient {
    pub path: PathBuf,
    pub source: ClientSource,
    /// The first line `ssh -V` printed (`None`: it did not run).
    pub version: Option<String>,
}

impl SshClient {
    /// Win32-OpenSSH (the in-box client or its MSI): `OpenSSH_for_Windows_…`.
    /// Git's is an MSYS build: its `~` and known_hosts are MSYS's, and it
    /// refuses CRLF keys (F18, F26).
    pub fn win32(&self) -> bool {
        self.version
            .as_deref()
            .is_some_and(|v| v.starts_with("OpenSSH_for_Windows_"))
    }

    /// (major, minor) of `OpenSSH_9.5p1` / `OpenSSH_for_Windows_8.1p1`.
    pub fn number(&self) -> Option<(u32, u32)> {
        let v = self.version.as_deref()?;
        let v = v
            .strip_prefix("OpenSSH_for_Windows_")
            .or_else(|| v.strip_prefix("OpenSSH_"))?;
        let (major, rest) = v.split_once('.')?;
        let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((major.parse().ok()?, minor.parse().ok()?))
    }
}

/// The ssh-agent service's start type (F40).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AgentService {
    Disabled,
    Manual,
    Automatic,
    /// No such service (no OpenSSH client installed).
    Missing,
}

/// What `fix` learns about the Windows side: the clients VS Code may run
/// and the agent service.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowsFacts {
    /// In VS Code's order, the setting first; each path once.
    pub clients: Vec<SshClient>,
    pub agent: Option<AgentService>,
    /// `%SystemRoot%\System32\OpenSSH\ssh.exe`.
    pub inbox: Option<PathBuf>,
}

impl WindowsFacts {
    /// The ssh VS Code runs: `remote.SSH.path`, else the first it finds.
    pub fn vscode_client(&self) -> Option<&SshClient> {
        self.clients.first()
    }

    /// Look: `remote.SSH.path` from the settings texts, `ssh.exe` on PATH,
    /// System32's and Git's default; `-V` on each (ssh itself, nothing a
    /// config names); the agent service's start type. Windows only.
    pub fn gather(settings: &[(PathBuf, String)]) -> WindowsFacts {
        let root = std::env::var_os("SystemRoot").map(PathBuf::from);
        let inbox = root.map(|r| r.join("System32").join("OpenSSH").join("ssh.exe"));
        let mut candidates: Vec<(PathBuf, ClientSource)> = Vec::new();
        if let Some(p) = settings
            .iter()
            .find_map(|(_, t)| crate::vscode::ssh_path(t))
        {
            candidates.push((PathBuf::from(p), ClientSource::Setting));
        }
        if let Some(path) = std::env::var_os("PATH")
            && let Some(p) = std::env::split_paths(&path)
                .map(|d| d.join("ssh.exe"))
                .find(|p| p.is_file())
        {
            candidates.push((p, ClientSource::Path));
        }
        if let Some(p) = &inbox {
            candidates.push((p.clone(), ClientSource::System32));
        }
        if let Some(pf) = std::env::var_os("ProgramFiles") {
            let git = PathBuf::from(pf)
                .join("Git")
                .join("usr")
                .join("bin")
                .join("ssh.exe");
            candidates.push((git, ClientSource::Git));
        }
        let mut clients: Vec<SshClient> = Vec::new();
        for (path, source) in candidates {
            if !path.is_file() || clients.iter().any(|c| c.path == path) {
                continue;
            }
            let version = std::process::Command::new(&path)
                .arg("-V")
                .stdin(std::process::Stdio::null())
                .output()
                .ok()
                .and_then(|o| {
                    let t = String::from_utf8_lossy(&o.stderr).into_owned()
                        + &String::from_utf8_lossy(&o.stdout);
                    t.lines().next().map(|l| l.trim().to_string())
                })
                .filter(|l| l.starts_with("OpenSSH"));
            clients.push(SshClient {
                path,
                source,
                version,
            });
        }
        WindowsFacts {
            clients,
            agent: crate::platform::ssh_agent_service(),
            inbox: inbox.filter(|p| p.is_file()),
        }
    }
}

/// The trailing-comment finding's note when every ssh VS Code can run is
/// 8.7 or newer (those read `value # comment` as value and comment).
fn trailing_comment_note(w: &WindowsFacts) -> Option<String> {
    let c = w.vscode_client()?;
    if w.clients
        .iter()
        .all(|c| c.number().is_some_and(|n| n >= (8, 7)))
    {
        Some(format!(
            "VS Code's ssh here, {}, reads it as a comment; moved anyway: VS Code's own writer glues it to the value on its next edit",
            c.version.as_deref().unwrap_or("?")
        ))
    } else {
        None
    }
}

/// F19: VS Code runs a client other than the in-box one, and that client
/// is known to misread the config: an MSYS build (Git's: another `~`,
/// another known_hosts, refuses CRLF keys) or one older than the in-box
/// client. Then `remote.SSH.path` is set to the in-box client. The version
/// VS Code will use is said either way (a note when nothing is wrong).
struct VscodeSshPath;
impl Rule for VscodeSshPath {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "vscode-ssh-path",
            title: "VS Code runs another ssh than Windows' own, one that reads the config differently",
            repair: "set remote.SSH.path to C:\\Windows\\System32\\OpenSSH\\ssh.exe",
            auto: Auto::Safe,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let Some(w) = cx.windows.clone() else { return };
        let Some(used) = w.vscode_client() else {
            return;
        };
        let version = used
            .version
            .clone()
            .unwrap_or_else(|| "version unknown".into());
        let Some(inbox) = w
            .clients
            .iter()
            .find(|c| c.source == ClientSource::System32)
        else {
            cx.notes
                .push(format!("VS Code runs {} ({version})", used.path.display()));
            return;
        };
        let older = matches!((used.number(), inbox.number()), (Some(a), Some(b)) if a < b);
        let misreads = used.path != inbox.path && (!used.win32() || older);
        if !misreads || cx.vscode.is_empty() {
            cx.notes
                .push(format!("VS Code runs {} ({version})", used.path.display()));
            return;
        }
        let why = if used.win32() {
            "older than Windows' own"
        } else {
            "an MSYS build: its ~ and known_hosts are not Windows', and it refuses keys with CRLF"
        };
        let target = inbox.path.display().to_string();
        cx.side_effects.push(SideEffect::VscodeSshPath {
            path: target.clone(),
        });
        cx.findings.push(Finding {
            rule: self.id(),
            file: cx.vscode[0].0.clone(),
            line: None,
            severity: Severity::Warning,
            message: format!(
                "{}: VS Code runs {} ({version}), {why}; Windows' own is {} ({})",
                self.title(),
                used.path.display(),
                target,
                inbox.version.as_deref().unwrap_or("version unknown")
            ),
            repair: format!("set remote.SSH.path to {target}"),
            auto: self.auto(),
            applied: true,
        });
    }
}

/// The PowerShell that installs Windows' OpenSSH client (F39), as
/// Microsoft documents it. runpod-ssh never runs it.
pub const INSTALL_OPENSSH: &str = "Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0";

/// F39: no ssh.exe VS Code could run. The exact PowerShell, never run.
/// A finding when VS Code is set up here (its "An SSH installation
/// couldn't be found"); otherwise the same advice as a note.
struct NoSshClient;
impl Rule for NoSshClient {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "no-ssh-client",
            title: "no ssh client found (remote.SSH.path, PATH, System32\\OpenSSH, Git): VS Code says \"An SSH installation couldn't be found\"",
            repair: "in PowerShell as Administrator: Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0 (runpod-ssh never runs it)",
            auto: Auto::Manual,
        }
    }
    fn run(&self, cx: &mut Cx) {
        let Some(w) = &cx.windows else { return };
        if !w.clients.is_empty() {
            return;
        }
        let advice = format!(
            "in PowerShell as Administrator (Start → type PowerShell → Run as administrator): {INSTALL_OPENSSH} ; then open a new terminal and check with: ssh -V"
        );
        if cx.vscode.is_empty() {
            cx.notes.push(format!("no ssh client found: {advice}"));
            return;
        }
        cx.report(
            self,
            None,
            Severity::Error,
            self.title().into(),
            advice,
            false,
        );
    }
}

/// Whether the private key at `p` asks for a passphrase.
fn key_is_encrypted(p: &Path) -> bool {
    let Some(head) = read_head(p, 1 << 20) else {
        return false;
    };
    let head = normalise_key(&head).map_or(head, |(n, _)| n);
    let Ok(t) = std::str::from_utf8(&head) else {
        return false;
    };
    if t.contains("Proc-Type: 4,ENCRYPTED") || t.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        return true;
    }
    ssh_key::PrivateKey::from_openssh(t.trim_start_matches('\u{feff}'))
        .is_ok_and(|k| k.is_encrypted())
}

/// The PowerShell that enables and starts the agent (F40, admin), then
/// loads the key (as the user). runpod-ssh never runs either.
pub fn agent_commands(key: &str) -> String {
    format!(
        "in PowerShell as Administrator: Get-Service ssh-agent | Set-Service -StartupType Automatic; Start-Service ssh-agent ; then in your own PowerShell: ssh-add \"{key}\" (or set \"remote.SSH.showLoginTerminal\": true in VS Code to type the passphrase there)"
    )
}

/// F40: a RunPod entry's key has a passphrase and the ssh-agent service
/// is disabled (Windows' default): VS Code waits on a hidden prompt.
struct AgentDisabled;
impl Rule for AgentDisabled {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "agent-disabled",
            title: "the key has a passphrase and the ssh-agent service is disabled: VS Code waits on a hidden passphrase prompt, then times out",
            repair: "enable and start ssh-agent (PowerShell as Administrator), then ssh-add the key; runpod-ssh never runs these",
            auto: Auto::Manual,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.windows.as_ref().and_then(|w| w.agent) != Some(AgentService::Disabled) {
            return;
        }
        let mut seen = Vec::new();
        for (li, v) in runpod_identity_lines(cx) {
            let p = cx.ctx.home_path(&v);
            if seen.contains(&p) || !key_is_encrypted(&p) {
                continue;
            }
            seen.push(p.clone());
            let n = cx.line_no(li);
            let shown = p.display().to_string();
            cx.report(
                self,
                n,
                Severity::Error,
                format!("{} ({shown})", self.title()),
                agent_commands(&shown),
                false,
            );
        }
    }
}

/// F20: a non-ASCII Windows profile path (`C:\\Users\\홍길동`). Older
/// Win32 ssh builds and VS Code (vscode-remote-release#11029) fail to read
/// `C:/Users/<name>/.ssh/config`; whether inbox 9.5 still does is not
/// known (failures.md §8), so this is a note with the way out, not a
/// finding. The `--yes` move to an ASCII folder is not built yet.
struct NonAsciiProfile;
impl Rule for NonAsciiProfile {
    fn meta(&self) -> &'static Meta {
        &Meta {
            id: "non-ascii-profile",
            title: "Windows profile path is not ASCII: some ssh builds and VS Code fail to read the config under it",
            repair: "if VS Code cannot read it: copy config, key and known_hosts to an ASCII folder (e.g. C:\\ssh), use absolute IdentityFile/UserKnownHostsFile paths there, and set remote.SSH.configFile to it",
            auto: Auto::Manual,
        }
    }
    fn run(&self, cx: &mut Cx) {
        if cx.windows.is_none() {
            return;
        }
        let home = cx.ctx.user_home.display().to_string();
        if home.is_ascii() {
            return;
        }
        cx.notes
            .push(format!("{} ({home}); {}", self.title(), self.repair_text()));
    }
}

// ---------------------------------------------------------------- verification

/// The result of comparing the config before and after a repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Why the result is worse: a new error, or a value changed that no
    /// rule meant to change.
    pub worse: Option<String>,
    /// Why `ssh -G` was not asked (our own evaluator was the only judge).
    pub skipped: Option<crate::oracle::Skip>,
}

/// Compare the config before and after: by our evaluator and, when `ssh`
/// is installed and the config runs no command (`Match exec`), by
/// `ssh -G` itself. `Some(reason)` when the result is worse.
pub fn regression(
    path: &Path,
    old: &[u8],
    new: &[u8],
    intended: &[(String, String)],
    ctx: &Context,
) -> Option<String> {
    verify(path, old, new, intended, ctx).worse
}

/// At most this many aliases are asked of `ssh -G` after a repair (every
/// alias the edit changes, then others), this many at a time.
const SSH_G_ASKS: usize = 256;
const SSH_G_PARALLEL: usize = 8;

/// [`regression`], also saying when the `ssh -G` cross-check was skipped.
pub fn verify(
    path: &Path,
    old: &[u8],
    new: &[u8],
    intended: &[(String, String)],
    ctx: &Context,
) -> Verification {
    let old_doc = Document::parse(old);
    let new_doc = Document::parse(new);
    let mut aliases: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in [&old_doc, &new_doc] {
        for b in d.blocks() {
            if b.kind == BlockKind::Host {
                for p in b.patterns.iter().filter(|p| !pattern::is_wildcard(p)) {
                    if seen.insert(p.clone()) {
                        aliases.push(p.clone());
                    }
                }
            }
        }
    }
    aliases.push(crate::refusal::UNRELATED_HOST.into());
    let meant = |alias: &str, kw: &str| {
        intended
            .iter()
            .any(|(a, k)| (a == alias || a == "*") && (k == kw || k == "*"))
    };
    let worse = |why: String| Verification {
        worse: Some(why),
        skipped: None,
    };
    let (old_r, new_r) = (
        crate::config::resolve::Resolver::new(&old_doc, path, ctx),
        crate::config::resolve::Resolver::new(&new_doc, path, ctx),
    );
    // Aliases whose evaluation the edit changes are asked of ssh first.
    let mut changed: Vec<String> = Vec::new();
    let mut unchanged: Vec<String> = Vec::new();
    for alias in &aliases {
        let before = old_r.resolve(alias);
        let after = new_r.resolve(alias);
        if before.ok() && !after.ok() {
            return worse(format!(
                "{alias}: {}",
                after
                    .errors
                    .first()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            ));
        }
        if before.print() == after.print() {
            unchanged.push(alias.clone());
        } else {
            changed.push(alias.clone());
        }
    }
    // `ssh -G` evaluates `Match exec`: never asked about a tree that has one.
    let oracle = match crate::oracle::Oracle::for_versions(path, &[&old_doc, &new_doc], &ctx.home) {
        Ok(o) => o,
        Err(skip) => {
            return Verification {
                worse: None,
                skipped: Some(skip),
            };
        }
    };
    let ok = Verification {
        worse: None,
        skipped: None,
    };
    let Ok(tmp) = tempfile::Builder::new()
        .prefix("runpod-ssh-before-")
        .tempfile()
    else {
        return ok;
    };
    if std::fs::write(tmp.path(), old).is_err() {
        return ok;
    }
    // Bounded: every changed alias, then others up to SSH_G_ASKS, asked a
    // few at a time (two `ssh -G` each), so a large config stays quick.
    let mut asked = changed;
    let room = SSH_G_ASKS.saturating_sub(asked.len());
    asked.extend(unchanged.into_iter().take(room));
    let compare = |alias: &String| -> Option<String> {
        let before = oracle.ssh_g(tmp.path(), alias);
        let after = oracle.ssh_g(path, alias);
        match (before, after) {
            (Ok(_), Err(e)) => Some(format!(
                "ssh -G {alias} now fails: {}",
                e.lines().next().unwrap_or_default()
            )),
            (Ok(b), Ok(a)) => {
                // Both ways: a repair that drops a keyword counts too.
                let keys = a.keys().chain(b.keys());
                for k in keys {
                    if b.get(k) != a.get(k) && !meant(alias, k) {
                        return Some(format!(
                            "ssh -G {alias}: {k} changed from {:?} to {:?}",
                            b.get(k),
                            a.get(k)
                        ));
                    }
                }
                None
            }
            _ => None,
        }
    };
    for chunk in asked.chunks(SSH_G_PARALLEL) {
        let found = std::thread::scope(|sc| {
            let handles: Vec<_> = chunk.iter().map(|a| sc.spawn(|| compare(a))).collect();
            handles.into_iter().find_map(|h| h.join().ok().flatten())
        });
        if let Some(why) = found {
            return worse(why);
        }
    }
    ok
}

/// One row of the rule catalogue, for `fix --rules` and the docs.
#[derive(Debug, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub detects: &'static str,
    pub repair: &'static str,
    pub auto: Auto,
}

/// The catalogue.
pub fn catalogue() -> Vec<RuleInfo> {
    RULES
        .iter()
        .map(|r| RuleInfo {
            id: r.id(),
            detects: r.title(),
            repair: r.repair_text(),
            auto: r.auto(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Context;

    /// CP949 for the fixture's three syllables: the decision logic runs the
    /// same on every platform with an injected code page (Windows decodes
    /// with the system's, tested in the Windows lane).
    fn fake_cp949(cp: u32, b: &[u8]) -> Option<String> {
        assert_eq!(cp, 949);
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] < 0x80 {
                out.push(b[i] as char);
                i += 1;
                continue;
            }
            out.push(match b.get(i..i + 2)? {
                [0xC8, 0xAB] => '홍',
                [0xB1, 0xE6] => '길',
                [0xB5, 0xBF] => '동',
                _ => return None,
            });
            i += 2;
        }
        Some(out)
    }

    fn cp949_cx(home: &Path, cp: Option<crate::platform::CodePage>) -> Vec<(Finding, Vec<u8>)> {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cp949");
        let bytes = std::fs::read(fixtures.join("config")).unwrap();
        let ctx = Context {
            home: home.to_path_buf(),
            user_home: home.to_path_buf(),
            ..Context::current()
        };
        let path = home.join(".ssh/config");
        let mut cx = Cx {
            ansi: cp,
            ..Cx::new(Document::parse(&bytes), &path, &ctx)
        };
        LegacyCodePage.run(&mut cx);
        let out = cx.doc.to_bytes();
        cx.findings.into_iter().map(|f| (f, out.clone())).collect()
    }

    #[test]
    fn cp949_config_is_reencoded_only_when_the_decoded_path_exists() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cp949");
        let original = std::fs::read(fixtures.join("config")).unwrap();
        let expected = std::fs::read(fixtures.join("expected.conf")).unwrap();
        let cp = Some(crate::platform::CodePage {
            id: 949,
            decode: fake_cp949,
        });
        let home = tempfile::tempdir().unwrap();
        // The key is not there: reported with what the decoding reads, unchanged.
        let got = cp949_cx(home.path(), cp);
        assert_eq!(got.len(), 1);
        let (f, out) = &got[0];
        assert!(!f.applied && f.auto == Auto::Manual, "{f:?}");
        assert!(
            f.message.contains("~/.ssh/홍길동/id_ed25519"),
            "{}",
            f.message
        );
        assert_eq!(out, &original);
        // No code page to decode with (Linux, macOS): reported, unchanged.
        std::fs::create_dir_all(home.path().join(".ssh/홍길동")).unwrap();
        std::fs::write(home.path().join(".ssh/홍길동/id_ed25519"), "k").unwrap();
        let got = cp949_cx(home.path(), None);
        assert!(!got[0].0.applied && got[0].1 == original);
        // A page the bytes are not valid in: reported, unchanged.
        let latin = |_: u32, b: &[u8]| -> Option<String> {
            b.is_ascii().then(|| String::from_utf8(b.to_vec()).unwrap())
        };
        let got = cp949_cx(
            home.path(),
            Some(crate::platform::CodePage {
                id: 949,
                decode: latin,
            }),
        );
        assert!(!got[0].0.applied && got[0].1 == original);
        // The decoded path names the key: the file is re-encoded as UTF-8.
        let got = cp949_cx(home.path(), cp);
        assert_eq!(got.len(), 1);
        assert!(got[0].0.applied, "{:?}", got[0].0);
        assert_eq!(
            String::from_utf8_lossy(&got[0].1),
            String::from_utf8_lossy(&expected)
        );
        assert_eq!(got[0].1, expected);
    }

    fn client(path: &str, source: ClientSource, version: &str) -> SshClient {
        SshClient {
            path: PathBuf::from(path),
            source,
            version: Some(version.into()),
        }
    }

    const GIT: &str = "C:\\Program Files\\Git\\usr\\bin\\ssh.exe";
    const INBOX: &str = "C:\\Windows\\System32\\OpenSSH\\ssh.exe";

    /// Run `rule` on `config` with the Windows facts `w` and a VS Code
    /// settings file; `home` is `~`.
    fn run_windows(rule: &dyn Rule, home: &Path, config: &str, w: WindowsFacts) -> Cx<'static> {
        let ctx = Box::leak(Box::new(Context {
            home: home.to_path_buf(),
            user_home: home.to_path_buf(),
            ..Context::current()
        }));
        let mut cx = Cx {
            windows: Some(w),
            vscode: vec![(home.join("settings.json"), "{}".into())],
            ..Cx::new(
                Document::parse(config.as_bytes()),
                &home.join(".ssh/config"),
                ctx,
            )
        };
        rule.run(&mut cx);
        cx
    }

    const POD: &str = "Host runpod-a\n  HostName 203.0.113.7\n  Port 40123\n  User root\n  IdentityFile ~/.ssh/id_ed25519\n";

    #[test]
    fn vscode_ssh_path_goes_to_the_inbox_client_when_vscode_runs_gits() {
        let home = tempfile::tempdir().unwrap();
        let facts = |first: SshClient| WindowsFacts {
            clients: vec![
                first,
                client(
                    INBOX,
                    ClientSource::System32,
                    "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
                ),
            ],
            agent: None,
            inbox: Some(INBOX.into()),
        };
        // Git's MSYS ssh first on PATH: remote.SSH.path is set to System32's.
        let git = client(
            GIT,
            ClientSource::Path,
            "OpenSSH_9.6p1, OpenSSL 3.2.1 30 Jan 2024",
        );
        let cx = run_windows(&VscodeSshPath, home.path(), POD, facts(git));
        assert_eq!(cx.findings.len(), 1);
        let f = &cx.findings[0];
        assert!(
            f.applied && f.message.contains("OpenSSH_9.6p1") && f.message.contains("MSYS"),
            "{f:?}"
        );
        assert!(
            matches!(&cx.side_effects[..], [SideEffect::VscodeSshPath { path }] if path == INBOX)
        );
        // An older Win32 build from an MSI on PATH: also moved.
        let old = client(
            "C:\\OpenSSH\\ssh.exe",
            ClientSource::Path,
            "OpenSSH_for_Windows_8.1p1, LibreSSL 3.0.2",
        );
        assert_eq!(
            run_windows(&VscodeSshPath, home.path(), POD, facts(old))
                .side_effects
                .len(),
            1
        );
        // VS Code runs the in-box one: nothing to change, the version said.
        let inbox = client(
            INBOX,
            ClientSource::Path,
            "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
        );
        let cx = run_windows(&VscodeSshPath, home.path(), POD, facts(inbox));
        assert!(cx.findings.is_empty() && cx.side_effects.is_empty());
        assert_eq!(
            cx.notes,
            [format!(
                "VS Code runs {INBOX} (OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2)"
            )]
        );
        // The settings edit keeps comments.
        let got = crate::vscode::set_string_setting(
            Path::new("s"),
            "{\n  // mine\n  \"a\": 1\n}",
            "remote.SSH.path",
            INBOX,
        )
        .unwrap()
        .unwrap();
        assert!(got.contains("// mine"), "{got}");
        assert_eq!(crate::vscode::ssh_path(&got).as_deref(), Some(INBOX));
    }

    #[test]
    fn no_ssh_client_gives_the_exact_powershell_and_runs_nothing() {
        let home = tempfile::tempdir().unwrap();
        let cx = run_windows(&NoSshClient, home.path(), POD, WindowsFacts::default());
        assert_eq!(cx.findings.len(), 1);
        let f = &cx.findings[0];
        assert_eq!(f.auto, Auto::Manual);
        assert!(!f.applied && cx.side_effects.is_empty());
        assert!(
            f.repair.contains("PowerShell as Administrator"),
            "{}",
            f.repair
        );
        assert!(
            f.repair
                .contains("Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0"),
            "{}",
            f.repair
        );
        // A client found: nothing.
        let one = WindowsFacts {
            clients: vec![client(
                INBOX,
                ClientSource::System32,
                "OpenSSH_for_Windows_9.5p1",
            )],
            ..Default::default()
        };
        assert!(
            run_windows(&NoSshClient, home.path(), POD, one)
                .findings
                .is_empty()
        );
    }

    #[test]
    fn encrypted_key_and_disabled_agent_get_the_exact_agent_commands() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
        let key = crate::keys::generate(crate::keys::KeyType::Ed25519, "t").unwrap();
        let path = home.path().join(".ssh/id_ed25519");
        std::fs::write(
            &path,
            key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        let facts = |agent| WindowsFacts {
            agent: Some(agent),
            ..Default::default()
        };
        // No passphrase: nothing, whatever the agent.
        assert!(
            run_windows(
                &AgentDisabled,
                home.path(),
                POD,
                facts(AgentService::Disabled)
            )
            .findings
            .is_empty()
        );
        let mut rng = ssh_key::rand_core::UnwrapErr(ssh_key::getrandom::SysRng);
        let enc = key.encrypt(&mut rng, "pw").unwrap();
        std::fs::write(
            &path,
            enc.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        assert!(
            run_windows(
                &AgentDisabled,
                home.path(),
                POD,
                facts(AgentService::Automatic)
            )
            .findings
            .is_empty()
        );
        let cx = run_windows(
            &AgentDisabled,
            home.path(),
            POD,
            facts(AgentService::Disabled),
        );
        assert_eq!(cx.findings.len(), 1);
        let f = &cx.findings[0];
        assert!(!f.applied && f.auto == Auto::Manual && cx.side_effects.is_empty());
        assert!(
            f.repair.contains("PowerShell as Administrator: Get-Service ssh-agent | Set-Service -StartupType Automatic; Start-Service ssh-agent"),
            "{}",
            f.repair
        );
        assert!(
            f.repair
                .contains(&format!("ssh-add \"{}\"", path.display())),
            "{}",
            f.repair
        );
    }

    #[test]
    fn trailing_comment_note_only_when_every_client_vscode_can_run_is_8_7_or_newer() {
        let home = tempfile::tempdir().unwrap();
        let cfg = "Host runpod-a\n  HostName 203.0.113.7 # pod\n";
        let new = WindowsFacts {
            clients: vec![client(
                INBOX,
                ClientSource::System32,
                "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
            )],
            ..Default::default()
        };
        let cx = run_windows(&TrailingComment, home.path(), cfg, new.clone());
        assert_eq!(cx.findings.len(), 1);
        assert!(cx.findings[0].applied, "still repaired");
        assert!(
            cx.findings[0]
                .message
                .contains("OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2, reads it as a comment"),
            "{}",
            cx.findings[0].message
        );
        // An 8.1 anywhere VS Code may run it: no such note.
        let mut mixed = new;
        mixed
            .clients
            .push(client(GIT, ClientSource::Git, "OpenSSH_8.1p1"));
        let cx = run_windows(&TrailingComment, home.path(), cfg, mixed);
        assert!(!cx.findings[0].message.contains("reads it as a comment"));
        assert_eq!(
            client(INBOX, ClientSource::Path, "OpenSSH_for_Windows_8.10p1").number(),
            Some((8, 10))
        );
    }

    #[test]
    fn non_ascii_profile_is_a_note_with_the_way_out_on_windows_only() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("홍길동");
        std::fs::create_dir_all(&home).unwrap();
        let cx = run_windows(&NonAsciiProfile, &home, POD, WindowsFacts::default());
        assert!(cx.findings.is_empty());
        assert_eq!(cx.notes.len(), 1);
        assert!(cx.notes[0].contains("홍길동") && cx.notes[0].contains("remote.SSH.configFile"));
        let ascii = root.path().join("hong");
        std::fs::create_dir_all(&ascii).unwrap();
        assert!(
            run_windows(&NonAsciiProfile, &ascii, POD, WindowsFacts::default())
                .notes
                .is_empty()
        );
    }

    /// A real key, each Notepad mangling alone and all together: the
    /// result is the key byte for byte as written with LF; a clean key, a
    /// public key and non-key text are never touched.
    #[test]
    fn notepad_mangled_keys_are_normalised_and_nothing_else_is() {
        let key = crate::keys::generate(crate::keys::KeyType::Ed25519, "t").unwrap();
        let clean = key.to_openssh(ssh_key::LineEnding::LF).unwrap().to_string();
        let crlf = clean.replace('\n', "\r\n");
        let utf16 = |t: &str| -> Vec<u8> {
            [0xFF, 0xFE]
                .into_iter()
                .chain(t.encode_utf16().flat_map(u16::to_le_bytes))
                .collect()
        };
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(clean.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        let cases: Vec<(Vec<u8>, &[&str])> = vec![
            (crlf.clone().into_bytes(), &["CRLF"]),
            (
                [&b"\xEF\xBB\xBF"[..], clean.as_bytes()].concat(),
                &["byte-order mark"],
            ),
            (clean.trim_end().as_bytes().to_vec(), &["no final newline"]),
            (utf16(&clean), &["UTF-16"]),
            (utf16be, &["UTF-16"]),
            (
                utf16(crlf.trim_end()),
                &["UTF-16", "CRLF", "no final newline"],
            ),
        ];
        for (bytes, want) in cases {
            let (got, undone) = normalise_key(&bytes).expect("normalised");
            assert_eq!(String::from_utf8(got).unwrap(), clean, "{want:?}");
            assert_eq!(undone, want);
        }
        assert!(
            normalise_key(clean.as_bytes()).is_none(),
            "clean key touched"
        );
        let public = key.public_key().to_openssh().unwrap();
        assert!(normalise_key(public.as_bytes()).is_none());
        assert!(normalise_key(b"not a key\r\n").is_none());
        // A key with one changed character is not a key: left alone.
        let broken = crlf.replacen("b3BlbnNzaC1rZXk", "b3BlbnNzaC1rZXX", 1);
        assert!(normalise_key(broken.as_bytes()).is_none());
    }

    #[test]
    fn space_hash() {
        assert_eq!(find_space_hash("root   # account"), Some(4));
        assert_eq!(find_space_hash("a#b"), None);
        assert_eq!(find_space_hash("~/.ssh/id  # path"), Some(9));
    }

    #[test]
    fn broken_lines() {
        assert!(line_is_broken("port", &["40123#"]));
        assert!(line_is_broken("hostname", &["1.2.3.4#", "the", "IP"]));
        assert!(!line_is_broken("hostname", &["1.2.3.4"]));
        assert!(!line_is_broken("identityfile", &["~/.ssh/id#1"]));
        assert!(!line_is_broken("sendenv", &["A", "B"]));
    }

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

    #[test]
    fn catalogue_ids_are_unique() {
        let c = catalogue();
        let mut ids: Vec<&str> = c.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), c.len());
        assert!(c.len() >= 15);
    }
}
