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
//!
//! This module holds what every rule shares: the [`Rule`] trait and its
//! [`Meta`] (id, what it detects, what its repair does — the catalogue is
//! built from them), the state rules work on ([`Cx`]), the registry
//! ([`RULES`]) and the runner. The rules live one family per file, each
//! rule's metadata beside its code:
//! - `encoding`: UTF-16, byte-order marks, Unicode spaces;
//! - `comments`: comments after, glued to or quoted in a value;
//! - `paths`: Windows paths ssh splits or reads differently;
//! - `apple`: keywords only Apple's ssh knows;
//! - `keys`: identity files and file permissions;
//! - `blocks`: duplicate aliases, overriding wildcard blocks, `Include`
//!   placement, proxy entries;
//! - `vscode`: VS Code's Remote-SSH settings;
//! - `windows`: what only Windows users meet — Notepad's `config.txt`, no
//!   ssh client, a disabled ssh-agent service, a non-ASCII profile — and
//!   the facts `fix` gathers there ([`WindowsFacts`]);
//! - `verify`: the before/after check of a repair.
//!
//! The other Windows rows live with their family: `legacy-code-page` in
//! `encoding`, `key-format` and the owner-only ACLs in `keys`,
//! `vscode-ssh-path` in `vscode`, the version note on `trailing-comment`
//! in `comments`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::config::Context;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::document::{Block, Document};

mod apple;
mod blocks;
mod comments;
mod encoding;
mod keys;
mod paths;
mod profile;
mod verify;
mod vscode;
mod windows;

pub use comments::portable_comments;
pub(crate) use encoding::is_odd_space;
pub use keys::{icacls_commands, is_private_key, key_mangling, normalise_key};
pub use profile::{AsciiMove, MoveError, folder_name};
pub use verify::{Verification, regression, verify};
pub use windows::{
    AgentService, ClientSource, INSTALL_OPENSSH, SshClient, WindowsFacts, agent_commands,
};

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
    /// F20 with `--yes`: config, keys and known_hosts copied to an ASCII
    /// folder and VS Code's `remote.SSH.configFile` pointed at it.
    AsciiFolder(Box<AsciiMove>),
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
    pub doc: Versioned,
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
    /// Results worked out from the document as it was at [`Memo::doc`]:
    /// several rules (and `fix`'s closing check) need the same ones, and
    /// on a large file each is a pass over every block.
    pub(crate) memo: Memo,
}

/// What [`Cx`] remembers of one version of the document.
#[derive(Default)]
pub(crate) struct Memo {
    /// The [`Versioned::version`] these results are of.
    version: Option<u64>,
    /// The last [`Cx::refused`] judgement.
    refusal: Option<(crate::refusal::Client, crate::refusal::Refusal)>,
    /// [`keys::runpod_identity_lines`].
    pub(crate) identity_lines: Option<Arc<Vec<(usize, String)>>>,
    /// [`Cx::blocks`].
    blocks: Option<Arc<Vec<Block>>>,
}

impl Memo {
    /// Whether the results held are of `doc`; when not, they are dropped
    /// and `doc` becomes the version remembered.
    pub(crate) fn of(&mut self, doc: &Versioned) -> &mut Memo {
        if self.version != Some(doc.version) {
            *self = Memo {
                version: Some(doc.version),
                ..Memo::default()
            };
        }
        self
    }
}

/// The document the rules work on. Every `&mut` access to it takes a new
/// version number (process-wide, never reused), so results worked out
/// from one version are known to be stale without comparing documents:
/// on a large file each comparison was a pass over every line.
#[derive(Debug, Clone)]
pub struct Versioned {
    doc: Document,
    version: u64,
}

static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

impl Versioned {
    pub fn new(doc: Document) -> Versioned {
        Versioned {
            doc,
            version: NEXT_VERSION.fetch_add(1, Ordering::Relaxed),
        }
    }

    pub fn into_inner(self) -> Document {
        self.doc
    }
}

impl std::ops::Deref for Versioned {
    type Target = Document;
    fn deref(&self) -> &Document {
        &self.doc
    }
}

impl std::ops::DerefMut for Versioned {
    fn deref_mut(&mut self) -> &mut Document {
        // Taken before the change: whatever is read next is of the new one.
        self.version = NEXT_VERSION.fetch_add(1, Ordering::Relaxed);
        &mut self.doc
    }
}

impl<'a> Cx<'a> {
    /// A context for the rules over `doc` (read from `path`), with no
    /// `--yes`, every alias, and nothing found yet.
    pub fn new(doc: Document, path: &Path, ctx: &'a Context) -> Cx<'a> {
        Cx {
            doc: Versioned::new(doc),
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
            memo: Memo::default(),
        }
    }

    /// What `client` refuses in `self.doc` ([`crate::refusal::check`]),
    /// judged again only when the document changed since the last time.
    pub fn refused(&mut self, client: crate::refusal::Client) -> crate::refusal::Refusal {
        if let Some((c, r)) = &self.memo.of(&self.doc).refusal
            && *c == client
        {
            return r.clone();
        }
        let r = crate::refusal::check(client, &self.path, &self.doc, self.ctx);
        self.memo.of(&self.doc).refusal = Some((client, r.clone()));
        r
    }

    /// `self.doc.blocks()`, listed again only when the document changed:
    /// most rules walk the blocks, and listing them allocates per block.
    pub(crate) fn blocks(&mut self) -> Arc<Vec<Block>> {
        let doc = &self.doc;
        self.memo
            .of(doc)
            .blocks
            .get_or_insert_with(|| Arc::new(doc.blocks()))
            .clone()
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
    /// The header of the block holding line `i` (`None` in the global
    /// section): the nearest header at or above it, found without listing
    /// every block (rules call this once per line they repair).
    fn header_of_line(&self, i: usize) -> Option<usize> {
        let lines = self.doc.lines();
        (0..=i.min(lines.len().saturating_sub(1)))
            .rev()
            .find(|&k| lines[k].is_header())
    }

    fn aliases_of_line(&self, i: usize) -> Vec<String> {
        if i >= self.doc.lines().len() {
            return Vec::new();
        }
        self.header_of_line(i)
            .map(|h| {
                self.doc.lines()[h]
                    .values()
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn intend(&mut self, line: usize, keyword: &str) {
        for a in self.aliases_of_line(line) {
            self.intended.push((a, keyword.to_string()));
        }
        // Global lines affect every host.
        if line < self.doc.lines().len() && self.header_of_line(line).is_none() {
            self.intended.push(("*".into(), keyword.to_string()));
        }
    }

    fn in_scope(&self, patterns: &[String]) -> bool {
        self.only.is_empty() || patterns.iter().any(|p| self.only.contains(p))
    }
}

/// `line.values().first()` without collecting every value.
pub(crate) fn first_value(line: &crate::config::document::Line) -> Option<&str> {
    line.directive()?.values(line.bytes()).next()
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
    &windows::ConfigTxt,
    &encoding::Utf16,
    &encoding::Bom,
    &encoding::LegacyCodePage,
    &encoding::NonAsciiSpace,
    &comments::QuotedComment,
    &comments::GluedComment,
    &comments::TrailingComment,
    &paths::UnquotedSpacePath,
    &paths::BackslashPath,
    &apple::AppleKeywords,
    &keys::IdentityPub,
    &keys::IdentityMissing,
    &keys::KeyFormat,
    &keys::KeyPermissions,
    &keys::ConfigPermissions,
    &blocks::DuplicateAlias,
    &blocks::CatchAllOverride,
    &blocks::IncludeAfterHost,
    &blocks::ProxyEntry,
    &vscode::VscodeConfigFile,
    &vscode::VscodePlatform,
    &vscode::VscodeSshPath,
    &windows::NoSshClient,
    &windows::AgentDisabled,
    &windows::NonAsciiProfile,
];

/// Run every rule on `cx`.
pub fn run_all(cx: &mut Cx) {
    for r in RULES {
        r.run(cx);
    }
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

    #[test]
    fn catalogue_ids_are_unique() {
        let c = catalogue();
        let mut ids: Vec<&str> = c.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), c.len());
        assert!(c.len() >= 15);
    }

    /// What the memo hands out after every rule (each may edit the
    /// document) is what working it out afresh gives, on every fixture.
    #[test]
    fn memo_results_match_a_fresh_look_after_every_rule() {
        // A home of its own: the key rules look at the files entries name.
        let home = tempfile::tempdir().unwrap();
        let ctx = crate::config::Context {
            home: home.path().to_path_buf(),
            user_home: home.path().to_path_buf(),
            ..crate::config::Context::current()
        };
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut dirs = vec![root];
        let mut checked = 0;
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                    continue;
                }
                let bytes = std::fs::read(&p).unwrap();
                for yes in [false, true] {
                    let mut cx = Cx::new(Document::parse(&bytes), &p, &ctx);
                    cx.yes = yes;
                    cx.vscode.clear();
                    for r in RULES {
                        // A stale memo must be seen as stale: read it first.
                        let _ = cx.blocks();
                        let _ = keys::runpod_identity_lines(&mut cx);
                        r.run(&mut cx);
                        assert_eq!(*cx.blocks(), cx.doc.blocks(), "{} {}", p.display(), r.id());
                        let memo = keys::runpod_identity_lines(&mut cx);
                        cx.memo = Memo::default();
                        let fresh = keys::runpod_identity_lines(&mut cx);
                        assert_eq!(memo, fresh, "{} {}", p.display(), r.id());
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "{checked}");
    }

    /// The document's `option_line_iter` (which the rules use) lists what a
    /// keyword look-up per line does, for every keyword the table knows (and
    /// unknown ones) in every block of every fixture.
    #[test]
    fn option_lines_from_known_matches_the_documents() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut dirs = vec![root];
        let mut checked = 0;
        let mut extra = b"Host a\n  HOSTNAME x\n  Hostname y\n  host z\n  IdentityFile k\n  identityfile=l\n  Bogus 1\n  bogus 2\n".to_vec();
        extra.extend_from_slice(
            "Host b\n  IdentitÿFile k\n  DSAAuthentication yes\n  PubkeyAuthentication no\n"
                .as_bytes(),
        );
        let mut docs = vec![Document::parse(&extra)];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    docs.push(Document::parse(&std::fs::read(&p).unwrap()));
                }
            }
        }
        for doc in &docs {
            let mut kws: Vec<String> = doc
                .lines()
                .iter()
                .filter_map(|l| l.keyword().map(str::to_string))
                .collect();
            kws.extend(
                [
                    "hostname",
                    "identityfile",
                    "HostName",
                    "bogus",
                    "dsaauthentication",
                ]
                .map(String::from),
            );
            kws.sort();
            kws.dedup();
            for b in doc.blocks() {
                for k in &kws {
                    let ours: Vec<usize> = doc.option_line_iter(&b, k).collect();
                    let want = crate::config::keywords::lookup(k).map(|x| x.name);
                    let per_line: Vec<usize> = b
                        .lines
                        .clone()
                        .filter(|&i| Some(i) != b.header && want.is_some())
                        .filter(|&i| {
                            doc.lines()[i]
                                .keyword()
                                .and_then(crate::config::keywords::lookup)
                                .map(|x| x.name)
                                == want
                        })
                        .collect();
                    assert_eq!(ours, per_line, "{k}");
                    assert_eq!(doc.option_lines(&b, k), per_line, "{k}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    #[test]
    fn every_mutable_access_takes_a_new_version() {
        let mut d = Versioned::new(Document::parse(b"Host a\n    Port 1\n"));
        let v0 = d.version;
        let same = d.clone();
        assert_eq!(same.version, v0);
        d.insert_lines(0, vec!["Host b".into()]);
        assert_ne!(d.version, v0);
        let v1 = d.version;
        let _ = d.lines();
        assert_eq!(d.version, v1);
        // A replaced document is a new version even with the same bytes.
        *d = Document::parse(b"Host a\n    Port 1\n");
        assert!(d.version != v1 && d.version != v0);
    }
}
