//! One directive line, as `readconf.c:process_config_line_depth` reads
//! it: the keyword looked up, then one step per kind of value. Every step
//! checks the value whether or not the block applies (ssh refuses a bad
//! value anywhere) and keeps it only when the block is active.

use std::path::Path;

use super::super::keywords::{self, Keyword, Kind};
use super::super::lexer::{Directive, LexError};
use super::super::pattern;
use super::values::{addkeys_print, dollar_unset, forward_ok, other_value_error, validate};
use super::{Evaluator, Source};

/// Where a line is and how its keyword was written: what its diagnostics
/// name and what a kept value's source is.
pub(super) struct At<'l> {
    pub(super) file: &'l Path,
    pub(super) line: usize,
    /// The keyword lowercased as written (ssh's messages use it).
    pub(super) keyword: &'l str,
}

impl At<'_> {
    fn source(&self) -> Source {
        Source {
            file: self.file.to_path_buf(),
            line: self.line,
        }
    }
}

impl<'c> Evaluator<'c> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn process_line(
        &mut self,
        d: &Directive,
        bytes: &[u8],
        file: &Path,
        line: usize,
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) {
        if let Some(LexError::NoArgument(k)) = d.error.as_deref() {
            return self.error(file, line, format!("no argument after keyword \"{k}\""));
        }
        let known = d
            .known
            .copied()
            .or_else(|| self.known_keyword(&d.keyword_lc, file, line));
        let Some(kw) = known else {
            return;
        };
        if d.error.as_deref() == Some(&LexError::InvalidQuotes) {
            return self.error(file, line, "invalid quotes".into());
        }
        // Most lines have one or two arguments: keep them off the heap.
        let mut inline: [&str; 8] = [""; 8];
        let heap: Vec<&str>;
        let args: &[&str] = if d.args.len() <= inline.len() {
            for (slot, v) in inline.iter_mut().zip(d.values(bytes)) {
                *slot = v;
            }
            &inline[..d.args.len()]
        } else {
            heap = d.values(bytes).collect();
            &heap
        };
        let at = At {
            file,
            line,
            keyword: &d.keyword_lc,
        };
        self.by_kind(kw, &at, args, active, never_match, depth);
    }

    /// The keyword's table entry; an unknown one is ssh's "Bad
    /// configuration option" unless `IgnoreUnknown` names it.
    fn known_keyword(&mut self, keyword_lc: &str, file: &Path, line: usize) -> Option<Keyword> {
        let apple = || {
            self.client
                .knows_apple_keywords()
                .then(|| keywords::apple_only(keyword_lc))
                .flatten()
        };
        if let Some(kw) = keywords::lookup(keyword_lc).or_else(apple) {
            return Some(kw);
        }
        let ignored = self
            .first("ignoreunknown")
            .is_some_and(|s| pattern::match_pattern_list(keyword_lc, &s.args[0], true) == 1);
        if !ignored {
            self.error(
                file,
                line,
                format!("Bad configuration option: {keyword_lc}"),
            );
        }
        None
    }

    fn by_kind(
        &mut self,
        kw: Keyword,
        at: &At,
        args: &[&str],
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) {
        let name = kw.name;
        match kw.kind {
            Kind::Host => self.host_line(at, args, active, never_match),
            Kind::Match => match self.match_line(args, at.file, at.line) {
                None => self.error(at.file, at.line, "Bad Match condition".into()),
                Some(v) => *active = !never_match && v,
            },
            Kind::Include => self.include(args, at.file, at.line, active, never_match, depth),
            Kind::Ignored => self.ignored(at, name),
            Kind::IdentityFile | Kind::Append => self.append(at, name, args, *active),
            Kind::Forward | Kind::DynamicForward => self.forward(at, kw, args, *active),
            Kind::SendEnv => self.send_env(at, name, args, *active),
            Kind::LineList => self.set_env(at, name, args, *active),
            Kind::PathLineList | Kind::OneLineList => self.line_list(at, name, args, *active),
            Kind::Command => self.command(at, name, args, *active),
            Kind::ProxyJump => self.proxy_jump(at, name, args, *active),
            Kind::Other => self.other(at, name, args, *active),
            Kind::AddKeysToAgent => self.add_keys_to_agent(at, name, args, *active),
            _ => self.single(at, kw, args, *active),
        }
    }

    fn at_error(&mut self, at: &At, message: String) {
        self.error(at.file, at.line, message);
    }

    /// The first argument; a missing one is OpenSSH's "Missing argument".
    fn first_arg<'a>(&mut self, at: &At, args: &[&'a str]) -> Option<&'a str> {
        match args.first() {
            Some(a) if !a.is_empty() => Some(a),
            _ => {
                self.at_error(at, "Missing argument.".into());
                None
            }
        }
    }

    /// More than one argument, reported after the value itself is checked,
    /// as OpenSSH does.
    fn extra_args(&mut self, at: &At, args: &[&str]) -> bool {
        if args.len() > 1 {
            self.at_error(
                at,
                format!("keyword {} extra arguments at end of line", at.keyword),
            );
            return true;
        }
        false
    }

    fn host_line(&mut self, at: &At, args: &[&str], active: &mut bool, never_match: bool) {
        *active = false;
        if never_match {
            return;
        }
        if args.iter().any(|a| a.is_empty()) {
            return self.at_error(at, format!("keyword {} empty argument", at.keyword));
        }
        *active = pattern::host_line_matches(&self.host, args.iter().copied());
    }

    fn ignored(&mut self, at: &At, name: &str) {
        if matches!(
            name,
            "afstokenpassing"
                | "kerberosauthentication"
                | "kerberostgtpassing"
                | "rsaauthentication"
                | "rhostsrsaauthentication"
                | "compressionlevel"
        ) {
            self.warn(
                at.file,
                at.line,
                format!("Unsupported option \"{}\"", at.keyword),
            );
        }
    }

    /// `IdentityFile`, `CertificateFile` and the like: every value kept
    /// once, in order.
    fn append(&mut self, at: &At, name: &'static str, args: &[&str], active: bool) {
        let Some(v) = self.first_arg(at, args) else {
            return;
        };
        if self.extra_args(at, args) {
            return;
        }
        if active {
            let dup = self
                .index
                .get(name)
                .is_some_and(|ix| ix.iter().any(|&i| self.settings[i].args[0] == v));
            if !dup {
                // Read back by the duplicate check above.
                self.store(name, &[v], at.file, at.line, true);
            }
        }
    }

    fn forward(&mut self, at: &At, kw: Keyword, args: &[&str], active: bool) {
        let name = kw.name;
        let need = if kw.kind == Kind::DynamicForward {
            1
        } else {
            2
        };
        let ok = match args.len() {
            n if n == need => true,
            1 if name == "remoteforward" => true,
            0 => false,
            n if n > need => {
                return self.at_error(
                    at,
                    format!("keyword {} extra arguments at end of line", at.keyword),
                );
            }
            _ => false,
        };
        if !ok || !forward_ok(name, args) {
            return self.at_error(
                at,
                if args.is_empty() || (need == 2 && args.len() == 1) {
                    "Missing target argument.".into()
                } else {
                    "Bad forwarding specification.".into()
                },
            );
        }
        if active {
            self.store(name, args, at.file, at.line, false);
        }
    }

    /// `SendEnv NAME…`; `-PATTERN` drops the names sent so far that match.
    fn send_env(&mut self, at: &At, name: &'static str, args: &[&str], active: bool) {
        if args.iter().any(|a| a.is_empty() || a.contains('=')) {
            return self.at_error(at, "Invalid environment name.".into());
        }
        if !active {
            return;
        }
        for a in args {
            if let Some(pat) = a.strip_prefix('-') {
                let keep: Vec<usize> = self
                    .index
                    .get(name)
                    .map(|ix| {
                        ix.iter()
                            .copied()
                            .filter(|&i| !pattern::match_pattern(&self.settings[i].args[0], pat))
                            .collect()
                    })
                    .unwrap_or_default();
                self.index.insert(name, keep.into());
                self.dropped = true;
            } else {
                self.push(name, vec![a.to_string()], at.source());
            }
        }
    }

    /// `SetEnv NAME=VALUE…`, duplicates within the line dropped.
    fn set_env(&mut self, at: &At, name: &'static str, args: &[&str], active: bool) {
        let mut vals: Vec<String> = Vec::new();
        for a in args {
            if !a.contains('=') {
                return self.at_error(at, "Invalid SetEnv.".into());
            }
            let key = a.split('=').next().unwrap_or_default().to_string();
            if !vals
                .iter()
                .any(|v| v.split('=').next() == Some(key.as_str()))
            {
                vals.push(a.to_string());
            }
        }
        if active && !self.has(name) {
            self.push(name, vals, at.source());
        }
    }

    /// A list on one line (`UserKnownHostsFile a b`, `CanonicalDomains`):
    /// no empty entry, `none` alone.
    fn line_list(&mut self, at: &At, name: &'static str, args: &[&str], active: bool) {
        for (i, a) in args.iter().enumerate() {
            if a.is_empty() {
                return self.at_error(at, format!("keyword {} empty argument", at.keyword));
            }
            if a.eq_ignore_ascii_case("none") && (i > 0 || args.len() > 1) {
                return self.at_error(
                    at,
                    format!(
                        "keyword {} \"none\" argument must appear alone.",
                        at.keyword
                    ),
                );
            }
        }
        self.keep_checked(at, name, args, active);
    }

    /// The arguments as written, once ssh's value checks pass: the first
    /// active occurrence wins.
    fn keep_checked(&mut self, at: &At, name: &'static str, args: &[&str], active: bool) {
        if let Some(m) = other_value_error(name, args) {
            return self.at_error(at, m);
        }
        if active && !self.has(name) {
            self.store(name, args, at.file, at.line, false);
        }
    }

    /// `ProxyCommand` and the like: the raw rest of the line.
    fn command(&mut self, at: &At, name: &'static str, args: &[&str], active: bool) {
        let raw = args.first().map(|s| s.to_string()).unwrap_or_default();
        if raw.is_empty() {
            return self.at_error(at, "Missing argument.".into());
        }
        if name == "proxycommand" && self.has("proxyjump") {
            return;
        }
        if active && !self.has(name) {
            self.push(name, vec![raw], at.source());
        }
    }

    /// `ProxyJump`: the first of it and `ProxyCommand` wins.
    fn proxy_jump(&mut self, at: &At, name: &'static str, args: &[&str], active: bool) {
        let Some(v) = self.first_arg(at, args) else {
            return;
        };
        if self.extra_args(at, args) {
            return;
        }
        if active && !self.has("proxyjump") && !self.has("proxycommand") {
            self.store(name, &[v], at.file, at.line, false);
        }
    }

    /// Known but not modelled: kept as written once ssh would accept it.
    fn other(&mut self, at: &At, name: &'static str, args: &[&str], active: bool) {
        if args.is_empty() || args[0].is_empty() {
            return self.at_error(at, "Missing argument.".into());
        }
        // Algorithm lists: refused by name, whichever block they are in.
        if let Some(m) = self.client.bad_value(name, args[0]) {
            return self.at_error(at, m);
        }
        self.keep_checked(at, name, args, active);
    }

    fn add_keys_to_agent(&mut self, at: &At, name: &'static str, args: &[&str], active: bool) {
        let owned = || -> Vec<String> { args.iter().map(|s| s.to_string()).collect() };
        if args.is_empty() || args.len() > 2 {
            return self.at_error(at, "Missing argument.".into());
        }
        if addkeys_print(&owned()).is_none() {
            return self.at_error(at, format!("unsupported option \"{}\".", args[0]));
        }
        if active && !self.has(name) {
            self.push(name, owned(), at.source());
        }
    }

    /// Single-valued kinds: one argument, validated even when the block is
    /// inactive.
    fn single(&mut self, at: &At, kw: Keyword, args: &[&str], active: bool) {
        let name = kw.name;
        let Some(v) = self.first_arg(at, args) else {
            return;
        };
        if let Err(msg) = validate(kw.kind, v) {
            return self.at_error(at, msg);
        }
        // readconf.c expands an agent path while parsing, in any block.
        let agent_path = name == "identityagent"
            || (name == "forwardagent"
                && !["yes", "no", "true", "false"]
                    .iter()
                    .any(|w| v.eq_ignore_ascii_case(w)));
        if agent_path && v.contains("${") && dollar_unset(v).is_some() {
            return self.at_error(at, format!("Invalid environment expansion {v}."));
        }
        if self.extra_args(at, args) {
            return;
        }
        if name == "ignoreunknown" && !active {
            return;
        }
        // A time of `none` stores "unset" (`parse_time`): a later line wins.
        let unset = matches!(kw.kind, Kind::Time | Kind::ConnectTimeout) && v == "none";
        if active && !unset && !self.has(name) {
            self.store(name, &[v], at.file, at.line, false);
        }
    }
}
