//! A Robust/Nini-compatible INI reader (robust.md §2).
//!
//! Used by the fake Robust and by `gridctl check`, so both read a config tree the way
//! real Robust does: `Include-*` keys in any section (cwd-relative, globbed, nested,
//! each file once, later files win), `[Environment]` filled from the OS environment,
//! then every `${Section|Key}` / `${Key}` expanded, an unresolved one being fatal.
//!
//! Section and key lookups are case-insensitive, as in Nini; the spelling first seen is
//! kept for display.

use std::fmt;
use std::path::{Path, PathBuf};

mod include;
mod references;

pub use include::{load_with_includes, Loaded};
pub use references::{UnresolvedReason, UnresolvedReference};

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

    fn p(text: &str) -> Ini {
        parse(text, Path::new("t.ini")).expect("parse")
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
    fn display_round_trips() {
        let ini = p("[A]\nk = v\nq = \"a;b\"\n[B]\n");
        assert_eq!(p(&ini.to_string()), ini);
    }
}
