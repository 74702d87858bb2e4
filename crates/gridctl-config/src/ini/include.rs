//! Loading a config tree the way Robust's `ServicesServerBase` does: `Include-*`
//! keys in any section, cwd-relative, globbed, nested, each file once.

use super::{parse, Ini, IniError};
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// The prefix that makes a key an include (case-sensitive, any section).
const INCLUDE_PREFIX: &str = "Include-";

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::IniErrorKind;
    use std::fs;

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, text).expect("write");
        path
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
}
