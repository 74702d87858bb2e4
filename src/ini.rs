//! A Robust/Nini-compatible INI reader (robust.md §2).
//!
//! Used by the fake Robust and by `gridctl check`, so both read a config tree the way
//! real Robust does: `Include-*` keys in any section (cwd-relative, globbed, nested,
//! each file once, later files win), `[Environment]` filled from the OS environment,
//! then every `${Section|Key}` / `${Key}` expanded, an unresolved one being fatal.
//!
//! Section and key lookups are case-insensitive, as in Nini; the spelling first seen is
//! kept for display.

use std::collections::HashSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// The prefix that makes a key an include (case-sensitive, any section).
const INCLUDE_PREFIX: &str = "Include-";

/// What went wrong reading an INI file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IniErrorKind {
    /// The file could not be read (missing, unreadable, not UTF-8).
    Io,
    /// The file was read but is not valid INI.
    Syntax,
}

/// An error reading or parsing one INI file. `line` is 1-based; 0 means the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct IniError {
    pub kind: IniErrorKind,
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl IniError {
    fn syntax(file: &Path, line: usize, message: impl Into<String>) -> Self {
        IniError {
            kind: IniErrorKind::Syntax,
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    fn io(file: &Path, err: &std::io::Error) -> Self {
        IniError {
            kind: IniErrorKind::Io,
            file: file.to_path_buf(),
            line: 0,
            message: format!("could not read file: {err}"),
        }
    }

    fn render(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file.display(), self.message)
        } else {
            format!("{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Why a `${...}` reference could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnresolvedReason {
    /// `${Section|Key}` names a section that does not exist.
    MissingSection(String),
    /// The referenced key does not exist in the (existing) section.
    MissingKey { section: String, key: String },
    /// The reference leads back to a key that is being expanded.
    Cycle(Vec<String>),
}

/// A `${...}` reference that cannot be expanded; real Robust aborts at startup on this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct UnresolvedReference {
    /// Section of the value that contains the reference.
    pub section: String,
    /// Key of the value that contains the reference.
    pub key: String,
    /// The reference text, e.g. `${Const|BaseURL}`.
    pub reference: String,
    pub reason: UnresolvedReason,
}

impl UnresolvedReference {
    fn render(&self) -> String {
        let why = match &self.reason {
            UnresolvedReason::MissingSection(s) => format!("section `[{s}]` does not exist"),
            UnresolvedReason::MissingKey { section, key } => {
                format!("key `{key}` does not exist in section `[{section}]`")
            }
            UnresolvedReason::Cycle(chain) => {
                format!("reference cycle: {}", chain.join(" -> "))
            }
        };
        format!(
            "[{}] {}: cannot expand `{}`: {}",
            self.section, self.key, self.reference, why
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    name: String,
    entries: Vec<(String, String)>,
}

impl Section {
    fn position(&self, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(key))
    }
}

/// An ordered INI document: sections in first-seen order, keys in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    sections: Vec<Section>,
}

impl Ini {
    pub fn new() -> Self {
        Ini::default()
    }

    fn section_index(&self, section: &str) -> Option<usize> {
        self.sections
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(section))
    }

    fn section_mut(&mut self, section: &str) -> &mut Section {
        let idx = match self.section_index(section) {
            Some(i) => i,
            None => {
                self.sections.push(Section {
                    name: section.to_string(),
                    entries: Vec::new(),
                });
                self.sections.len() - 1
            }
        };
        &mut self.sections[idx]
    }

    /// The value of `key` in `section` (both case-insensitive).
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        let s = &self.sections[self.section_index(section)?];
        s.position(key).map(|i| s.entries[i].1.as_str())
    }

    /// Whether the section exists (it may be empty).
    pub fn has_section(&self, section: &str) -> bool {
        self.section_index(section).is_some()
    }

    /// Sets a value, creating the section and key as needed; an existing key keeps its
    /// place and spelling.
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        let s = self.section_mut(section);
        match s.position(key) {
            Some(i) => s.entries[i].1 = value.to_string(),
            None => s.entries.push((key.to_string(), value.to_string())),
        }
    }

    /// Creates an empty section if it does not exist yet (a `[Section]` header alone
    /// counts in Robust, e.g. for the `[Startup]` check).
    pub fn add_section(&mut self, section: &str) {
        self.section_mut(section);
    }

    /// Section names in order.
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|s| s.name.as_str())
    }

    /// The `(key, value)` pairs of a section in order; empty if it does not exist.
    pub fn keys(&self, section: &str) -> Vec<(String, String)> {
        self.section_index(section)
            .map(|i| self.sections[i].entries.clone())
            .unwrap_or_default()
    }

    /// Merges `other` into `self`; values of `other` override.
    pub fn merge(&mut self, other: &Ini) {
        for s in &other.sections {
            self.add_section(&s.name);
            for (k, v) in &s.entries {
                self.set(&s.name, k, v);
            }
        }
    }

    /// Fills every key listed in `[Environment]` from the environment variable of the
    /// same name (Robust's `Util.MergeEnvironmentToConfig`). A variable that is not set
    /// leaves the value from the files.
    pub fn merge_environment(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        let Some(idx) = self.section_index("Environment") else {
            return;
        };
        for (key, value) in self.sections[idx].entries.iter_mut() {
            if let Some(v) = lookup(key) {
                *value = v;
            }
        }
    }

    /// Expands every `${Section|Key}` and `${Key}` (same section) in place, as Nini's
    /// `ReplaceKeyValues` does after all sources are merged. Stops at the first value
    /// that cannot be expanded, which is where Robust aborts.
    ///
    /// Difference from Nini, on purpose: a short `${Key}` found inside a referenced
    /// value resolves in that value's own section (Nini re-reads it in the section of
    /// the outer key), and every cycle is reported instead of looping.
    pub fn resolve_references(&mut self) -> Result<(), UnresolvedReference> {
        let mut resolver = Resolver::new(self);
        let mut resolved = Vec::new();
        for (si, s) in self.sections.iter().enumerate() {
            for ki in 0..s.entries.len() {
                resolved.push((si, ki, resolver.resolve(si, ki)?));
            }
        }
        for (si, ki, v) in resolved {
            self.sections[si].entries[ki].1 = v;
        }
        Ok(())
    }

    /// Every reference that cannot be expanded (each root cause once), for diagnostics.
    pub fn unresolved_references(&self) -> Vec<UnresolvedReference> {
        let mut resolver = Resolver::new(self);
        let mut out: Vec<UnresolvedReference> = Vec::new();
        for (si, s) in self.sections.iter().enumerate() {
            for ki in 0..s.entries.len() {
                if let Err(e) = resolver.resolve(si, ki) {
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
            }
        }
        out
    }
}

/// Memoizing `${}` expander; `stack` holds the keys being expanded, to find cycles.
struct Resolver<'a> {
    ini: &'a Ini,
    memo: Vec<Vec<Option<Result<String, UnresolvedReference>>>>,
    stack: Vec<(usize, usize)>,
}

impl<'a> Resolver<'a> {
    fn new(ini: &'a Ini) -> Self {
        let memo = ini
            .sections
            .iter()
            .map(|s| vec![None; s.entries.len()])
            .collect();
        Resolver {
            ini,
            memo,
            stack: Vec::new(),
        }
    }

    fn name(&self, si: usize, ki: usize) -> String {
        let s = &self.ini.sections[si];
        format!("[{}] {}", s.name, s.entries[ki].0)
    }

    fn resolve(&mut self, si: usize, ki: usize) -> Result<String, UnresolvedReference> {
        if let Some(done) = &self.memo[si][ki] {
            return done.clone();
        }
        self.stack.push((si, ki));
        let result = self.expand(si, ki);
        self.stack.pop();
        self.memo[si][ki] = Some(result.clone());
        result
    }

    fn expand(&mut self, si: usize, ki: usize) -> Result<String, UnresolvedReference> {
        // Copy the `&'a Ini` out so borrows of it do not hold `self`.
        let ini = self.ini;
        let section = &ini.sections[si];
        let (key, value) = &section.entries[ki];
        let mut out = String::new();
        let mut rest = value.as_str();
        // Like Nini: a reference is `${` up to the first `}`; an unclosed `${` is literal.
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            let inner = &rest[start + 2..start + 2 + len];
            let reference = format!("${{{inner}}}");
            let fail = |reason| UnresolvedReference {
                section: section.name.clone(),
                key: key.clone(),
                reference: reference.clone(),
                reason,
            };
            let (tsec, tkey) = match inner.split_once('|') {
                // Nini ignores anything after a second `|`.
                Some((s, k)) => (s, k.split('|').next().unwrap_or(k)),
                None => (section.name.as_str(), inner),
            };
            let Some(tsi) = ini.section_index(tsec) else {
                return Err(fail(UnresolvedReason::MissingSection(tsec.to_string())));
            };
            let Some(tki) = ini.sections[tsi].position(tkey) else {
                return Err(fail(UnresolvedReason::MissingKey {
                    section: ini.sections[tsi].name.clone(),
                    key: tkey.to_string(),
                }));
            };
            if let Some(pos) = self.stack.iter().position(|&p| p == (tsi, tki)) {
                let mut chain: Vec<String> = self.stack[pos..]
                    .iter()
                    .map(|&(a, b)| self.name(a, b))
                    .collect();
                chain.push(self.name(tsi, tki));
                return Err(fail(UnresolvedReason::Cycle(chain)));
            }
            let replacement = self.resolve(tsi, tki)?;
            out.push_str(&rest[..start]);
            out.push_str(&replacement);
            rest = &rest[start + 2 + len + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Parses one INI text. `origin` is only used in error messages.
///
/// Nini's rules: `[Section]` headers; `key = value`; whole-line `;` and `#` comments;
/// an unquoted value ends at a `;` (inline comment); a value in double quotes is taken
/// literally up to the closing quote (so `;` inside quotes is kept) and the quotes are
/// stripped; whitespace around keys and values is trimmed.
pub fn parse(text: &str, origin: &Path) -> Result<Ini, IniError> {
    let mut ini = Ini::new();
    let mut current: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(IniError::syntax(
                    origin,
                    lineno,
                    "expected `]` to close the section name",
                ));
            };
            let name = rest[..end].trim();
            if name.is_empty() {
                return Err(IniError::syntax(origin, lineno, "empty section name"));
            }
            ini.add_section(name);
            current = Some(name.to_string());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(IniError::syntax(
                origin,
                lineno,
                format!("expected `key = value`, found `{line}`"),
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(IniError::syntax(origin, lineno, "missing key before `=`"));
        }
        let Some(section) = &current else {
            return Err(IniError::syntax(
                origin,
                lineno,
                format!("key `{key}` appears before any [Section]"),
            ));
        };
        let value =
            parse_value(value.trim()).map_err(|msg| IniError::syntax(origin, lineno, msg))?;
        ini.set(section, key, &value);
    }
    Ok(ini)
}

fn parse_value(v: &str) -> Result<String, String> {
    if let Some(inner) = v.strip_prefix('"') {
        return match inner.find('"') {
            // Anything after the closing quote is a comment to Nini.
            Some(end) => Ok(inner[..end].to_string()),
            None => Err("expected closing quote (\")".to_string()),
        };
    }
    let v = match v.find(';') {
        Some(i) => &v[..i],
        None => v,
    };
    Ok(v.trim().to_string())
}

/// A config tree read with includes.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Everything merged, in read order (later files override).
    pub ini: Ini,
    /// Every file read, main first, in read order.
    pub files: Vec<PathBuf>,
    /// Non-fatal problems, worded as Robust prints them.
    pub warnings: Vec<String>,
}

/// Reads `main` and its includes like Robust's `ServicesServerBase` (robust.md §2).
///
/// `main` and relative include paths are resolved against `cwd` (Robust's bin/).
/// An error is returned only for an unreadable or invalid file that was found; a
/// missing include is a warning, as in Robust.
pub fn load_with_includes(main: &Path, cwd: &Path) -> Result<Loaded, IniError> {
    let mut sources = vec![absolute(cwd, main)];
    let mut seen_urls: HashSet<String> = HashSet::new();
    let mut warnings = Vec::new();
    let mut ini = Ini::new();
    let mut i = 0;
    while i < sources.len() {
        let path = sources[i].clone();
        let text = std::fs::read_to_string(&path).map_err(|e| IniError::io(&path, &e))?;
        ini.merge(&parse(&text, &path)?);
        // Robust rescans the whole merged config after every file, so an include seen
        // earlier is not added again and new ones are appended in config order.
        for s in &ini.sections {
            for (k, v) in &s.entries {
                if !k.starts_with(INCLUDE_PREFIX) {
                    continue;
                }
                let lower = v.to_ascii_lowercase();
                if lower.starts_with("http://") || lower.starts_with("https://") {
                    if seen_urls.insert(v.clone()) {
                        warnings.push(format!(
                            "[CONFIG]: include {v} is a URL; http(s) includes are not supported here"
                        ));
                    }
                    continue;
                }
                let (found, pattern, has_wildcard) = expand_include(cwd, v);
                if !has_wildcard && found.is_empty() {
                    warnings.push(format!(
                        "[CONFIG]: Could not find include file {}",
                        pattern.display()
                    ));
                }
                for f in found {
                    if !sources.contains(&f) {
                        sources.push(f);
                    }
                }
            }
        }
        i += 1;
    }
    Ok(Loaded {
        ini,
        files: sources,
        warnings,
    })
}

/// Expands one include value to existing files, sorted; also returns the absolute
/// pattern (for the warning) and whether it had a wildcard.
fn expand_include(cwd: &Path, value: &str) -> (Vec<PathBuf>, PathBuf, bool) {
    let pattern = absolute(cwd, Path::new(value));
    let has_wildcard = value.contains(['*', '?']);
    if !has_wildcard {
        let found = if pattern.is_file() {
            vec![pattern.clone()]
        } else {
            Vec::new()
        };
        return (found, pattern, false);
    }
    let text = pattern.to_string_lossy().into_owned();
    // Only `*` and `?` are wildcards in Robust's Util.Glob; escape `[` so a literal
    // bracket in a path cannot start a glob class.
    let escaped = text.replace('[', "[[]");
    let mut found: Vec<PathBuf> = match glob::glob(&escaped) {
        Ok(paths) => paths.flatten().filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    (found, pattern, true)
}

/// `p` made absolute against `cwd`, with `.` and `..` folded lexically (like .NET's
/// `Path.GetFullPath`), so the same file reached two ways is read once.
fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl fmt::Display for Ini {
    /// Writes the document back as INI text (values quoted when they need it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.sections {
            writeln!(f, "[{}]", s.name)?;
            for (k, v) in &s.entries {
                if v.contains(';') || v.starts_with(' ') || v.ends_with(' ') {
                    writeln!(f, "{k} = \"{v}\"")?;
                } else {
                    writeln!(f, "{k} = {v}")?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn p(text: &str) -> Ini {
        parse(text, Path::new("t.ini")).expect("parse")
    }

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn parses_sections_keys_comments_and_quotes() {
        let ini = p("; top\n# hash\n[Const]\n  BaseURL = http://x  \nQ = \"a;b \" ; c\nInline = v ; comment\nEmpty =\n[Startup]\nPIDFile=/tmp/r.pid\n");
        assert_eq!(ini.get("Const", "BaseURL"), Some("http://x"));
        assert_eq!(ini.get("const", "baseurl"), Some("http://x"));
        assert_eq!(ini.get("Const", "Q"), Some("a;b "));
        assert_eq!(ini.get("Const", "Inline"), Some("v"));
        assert_eq!(ini.get("Const", "Empty"), Some(""));
        assert_eq!(ini.get("STARTUP", "pidfile"), Some("/tmp/r.pid"));
        assert_eq!(ini.sections().collect::<Vec<_>>(), vec!["Const", "Startup"]);
        assert_eq!(ini.keys("Const")[0], ("BaseURL".into(), "http://x".into()));
    }

    #[test]
    fn duplicate_sections_merge_and_later_keys_win() {
        let ini = p("[A]\nk = 1\nx = 0\n[B]\n[a]\nK = 2\n");
        assert_eq!(ini.get("A", "k"), Some("2"));
        assert_eq!(ini.keys("A").len(), 2);
        assert!(ini.has_section("B"));
        assert_eq!(ini.sections().count(), 2);
    }

    #[test]
    fn syntax_errors_carry_file_and_line() {
        let e = parse("k = v\n", Path::new("/x/r.ini")).unwrap_err();
        assert_eq!(e.kind, IniErrorKind::Syntax);
        assert_eq!(e.line, 1);
        assert_eq!(
            e.to_string(),
            "/x/r.ini:1: key `k` appears before any [Section]"
        );
        let e = parse("[A]\n\nno equals\n", Path::new("r.ini")).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().starts_with("r.ini:3: expected `key = value`"));
        let e = parse("[A\n", Path::new("r.ini")).unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse("[A]\nk = \"open\n", Path::new("r.ini")).unwrap_err();
        assert!(e.message.contains("closing quote"));
    }

    #[test]
    fn set_and_merge_override() {
        let mut a = p("[S]\nk = 1\nm = a\n");
        a.set("s", "K", "2");
        assert_eq!(a.keys("S")[0], ("k".into(), "2".into()));
        let b = p("[S]\nm = b\n[T]\nz = 9\n");
        a.merge(&b);
        assert_eq!(a.get("S", "m"), Some("b"));
        assert_eq!(a.get("T", "z"), Some("9"));
    }

    #[test]
    fn environment_fills_listed_keys_only() {
        let mut ini = p("[Environment]\nDB_PASS = default\nUNSET = keep\n[X]\nDB_PASS = no\n");
        ini.merge_environment(|k| (k == "DB_PASS").then(|| "secret".to_string()));
        assert_eq!(ini.get("Environment", "DB_PASS"), Some("secret"));
        assert_eq!(ini.get("Environment", "UNSET"), Some("keep"));
        assert_eq!(ini.get("X", "DB_PASS"), Some("no"));
        let mut ini = p("[Const]\nx = ${Environment|DB_PASS}\n[Environment]\nDB_PASS =\n");
        ini.merge_environment(|_| Some("pw".into()));
        ini.resolve_references().expect("resolves");
        assert_eq!(ini.get("Const", "x"), Some("pw"));
    }

    #[test]
    fn references_expand_long_short_and_nested() {
        let mut ini = p(concat!(
            "[Const]\nBaseHostname = grid.example\nBaseURL = http://${Const|BaseHostname}\n",
            "PublicPort = 8002\n",
            "[GridInfoService]\nlogin = ${Const|BaseURL}:${Const|PublicPort}/\n",
            "a = ${b}\nb = x${const|publicport}\n",
        ));
        ini.resolve_references().expect("resolves");
        assert_eq!(
            ini.get("GridInfoService", "login"),
            Some("http://grid.example:8002/")
        );
        assert_eq!(ini.get("GridInfoService", "a"), Some("x8002"));
        assert!(ini.unresolved_references().is_empty());
    }

    #[test]
    fn unclosed_reference_is_literal() {
        let mut ini = p("[A]\nk = ${oops\n");
        ini.resolve_references().expect("literal");
        assert_eq!(ini.get("A", "k"), Some("${oops"));
    }

    #[test]
    fn missing_section_and_key_are_named() {
        let mut ini = p("[A]\nk = ${Nope|x}\n[B]\nm = ${A|missing}\nn = ${alsomissing}\n");
        let e = ini.clone().resolve_references().unwrap_err();
        assert_eq!(e.section, "A");
        assert_eq!(e.key, "k");
        assert_eq!(e.reference, "${Nope|x}");
        assert_eq!(e.reason, UnresolvedReason::MissingSection("Nope".into()));
        assert_eq!(
            e.to_string(),
            "[A] k: cannot expand `${Nope|x}`: section `[Nope]` does not exist"
        );
        let all = ini.unresolved_references();
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[1].reason,
            UnresolvedReason::MissingKey {
                section: "A".into(),
                key: "missing".into()
            }
        );
        assert_eq!(all[2].reference, "${alsomissing}");
        // Nothing is changed on failure.
        assert!(ini.resolve_references().is_err());
        assert_eq!(ini.get("A", "k"), Some("${Nope|x}"));
    }

    #[test]
    fn nested_failure_reports_the_root_cause_once() {
        let ini = p("[A]\nx = ${y}\ny = ${z}\n");
        let all = ini.unresolved_references();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].key.as_str(), all[0].reference.as_str()),
            ("y", "${z}")
        );
    }

    #[test]
    fn self_and_cyclic_references_are_errors() {
        let mut ini = p("[A]\nself = ${self}\n");
        let e = ini.resolve_references().unwrap_err();
        assert!(matches!(e.reason, UnresolvedReason::Cycle(_)));
        let ini = p("[A]\nx = ${B|y}\n[B]\ny = ${A|x}\nz = ${y}\n");
        let all = ini.unresolved_references();
        assert!(!all.is_empty());
        assert!(all
            .iter()
            .all(|e| matches!(e.reason, UnresolvedReason::Cycle(_))));
        let msg = all[0].to_string();
        assert!(msg.contains("[A] x -> [B] y -> [A] x"), "{msg}");
    }

    #[test]
    fn includes_relative_to_cwd_with_globs_nested_and_deduped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        let main = write(
            &bin,
            "Robust.ini",
            "[Startup]\nv = main\nonly_main = 1\n[Includes]\nInclude-Parts = parts/*.ini\nInclude-Again = parts/b.ini\n",
        );
        // Globs expand sorted; b includes c (nested) and a again (deduped).
        write(
            &bin,
            "parts/b.ini",
            "[Startup]\nv = b\n[X]\nInclude-Nested = ../extra/c.ini\nInclude-A = ./parts/a.ini\n",
        );
        write(&bin, "parts/a.ini", "[Startup]\nv = a\nfrom_a = 1\n");
        write(&bin, "parts/skip.txt", "not ini\n");
        write(&dir.path().join("extra"), "c.ini", "[Startup]\nv = c\n");
        let loaded = load_with_includes(Path::new("Robust.ini"), &bin).expect("load");
        let names: Vec<_> = loaded
            .files
            .iter()
            .map(|f| f.strip_prefix(dir.path()).expect("inside").to_path_buf())
            .collect();
        assert_eq!(
            names,
            vec![
                PathBuf::from("bin/Robust.ini"),
                PathBuf::from("bin/parts/a.ini"),
                PathBuf::from("bin/parts/b.ini"),
                PathBuf::from("extra/c.ini"),
            ]
        );
        assert_eq!(loaded.files[0], main);
        // Later files override earlier values.
        assert_eq!(loaded.ini.get("Startup", "v"), Some("c"));
        assert_eq!(loaded.ini.get("Startup", "from_a"), Some("1"));
        assert_eq!(loaded.ini.get("Startup", "only_main"), Some("1"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn include_prefix_is_case_sensitive_and_any_section_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "Robust.ini",
            "[Z]\ninclude-lower = x.ini\n[Y]\nInclude-ok = y.ini\n",
        );
        write(dir.path(), "x.ini", "[A]\nx = 1\n");
        write(dir.path(), "y.ini", "[A]\ny = 1\n");
        let loaded = load_with_includes(Path::new("Robust.ini"), dir.path()).expect("load");
        assert_eq!(loaded.ini.get("A", "x"), None);
        assert_eq!(loaded.ini.get("A", "y"), Some("1"));
    }

    #[test]
    fn missing_include_warns_and_empty_glob_is_silent() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "Robust.ini",
            "[S]\nInclude-Gone = gone.ini\nInclude-None = none/*.ini\nInclude-Web = https://example.org/x.xml\n",
        );
        let loaded = load_with_includes(Path::new("Robust.ini"), dir.path()).expect("load");
        assert_eq!(loaded.files.len(), 1);
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert_eq!(
            loaded.warnings[0],
            format!(
                "[CONFIG]: Could not find include file {}",
                dir.path().join("gone.ini").display()
            )
        );
        assert!(loaded.warnings[1].contains("not supported"));
    }

    #[test]
    fn missing_main_and_bad_include_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = load_with_includes(Path::new("Robust.ini"), dir.path()).unwrap_err();
        assert_eq!(e.kind, IniErrorKind::Io);
        write(dir.path(), "Robust.ini", "[S]\nInclude-Bad = bad.ini\n");
        write(dir.path(), "bad.ini", "[S]\n\nbroken\n");
        let e = load_with_includes(Path::new("Robust.ini"), dir.path()).unwrap_err();
        assert_eq!(e.kind, IniErrorKind::Syntax);
        assert_eq!(e.file, dir.path().join("bad.ini"));
        assert_eq!(e.line, 3);
    }

    #[test]
    fn includes_are_not_expanded_before_loading() {
        // Robust expands ${} only after all includes are read.
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "Robust.ini",
            "[Const]\nd = sub\n[S]\nInclude-X = ${Const|d}/x.ini\n",
        );
        let loaded = load_with_includes(Path::new("Robust.ini"), dir.path()).expect("load");
        assert_eq!(loaded.files.len(), 1);
        assert!(loaded.warnings[0].contains("${Const|d}/x.ini"));
    }

    #[test]
    fn display_round_trips() {
        let ini = p("[A]\nk = v\nq = \"a;b\"\n[B]\n");
        assert_eq!(p(&ini.to_string()), ini);
    }
}
