//! Templates: the defaults under `templates/` are embedded in the binary; a templates
//! directory named in the manifest overrides any of them file by file.
//!
//! Tera 2 (its errors carry template line and column), autoescape off (these are INI,
//! XML and nginx files, not HTML), undefined variables are errors.

use crate::diagnostic::{Diagnostic, Source};
use std::path::{Path, PathBuf};

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../templates/", $name)))),*]
    };
}

/// Every built-in template, by the name used to render it (its path under `templates/`).
pub static EMBEDDED: &[(&str, &str)] = embedded![
    "Robust.ini",
    "database.ini",
    "overrides.ini",
    "log4net.xml",
    "nginx.conf",
    "simulator.ini",
    "simulator/OpenSim.ini",
    "simulator/Grid.ini",
    "simulator/Regions.ini",
    "simulator/overrides.ini",
    "grid.toml",
    "remote/_connector.ini",
    "local/_service.ini",
    "local/asset.ini",
    "local/bakes.ini",
    "local/fsasset.ini",
    "local/gatekeeper.ini",
    "local/grid.ini",
    "local/gridinfo.ini",
    "local/hgasset.ini",
    "local/hgim.ini",
    "local/hginventory.ini",
    "local/login.ini",
    "local/map.ini",
    "local/offlineim.ini",
    "local/presence.ini",
    "local/profiles.ini",
    "local/useraccount.ini",
    "local/useragent.ini",
];

pub struct Templates {
    tera: tera::Tera,
    /// Every template: name, text, and where it came from (`None` = built in), so an
    /// error can show the failing line of the right file.
    sources: Vec<TemplateSource>,
}

struct TemplateSource {
    name: String,
    text: String,
    path: Option<PathBuf>,
}

impl Templates {
    /// The built-in set, overridden file by file by `dir` when given.
    pub fn load(dir: Option<&Path>) -> Result<Templates, Diagnostic> {
        let mut sources: Vec<TemplateSource> = EMBEDDED
            .iter()
            .map(|(n, t)| TemplateSource {
                name: n.to_string(),
                text: t.to_string(),
                path: None,
            })
            .collect();
        if let Some(dir) = dir {
            for (name, path) in user_files(dir)? {
                let text = crate::manifest::read_text_file(&path).map_err(|e| {
                    Diagnostic::error(format!("cannot read template `{}`: {e}", path.display()))
                        .help("a templates directory holds only text files, each overriding the built-in one of the same name")
                })?;
                let entry = TemplateSource {
                    name: name.clone(),
                    text,
                    path: Some(path),
                };
                match sources.iter_mut().find(|s| s.name == name) {
                    Some(existing) => *existing = entry,
                    None => sources.push(entry),
                }
            }
        }
        let mut tera = tera::Tera::new();
        tera.autoescape_on(Vec::<&str>::new());
        tera.add_raw_templates(sources.iter().map(|s| (s.name.as_str(), s.text.as_str())))
            .map_err(|e| template_error(&e, &sources))?;
        Ok(Templates { tera, sources })
    }

    /// Where template `name` comes from (the user's file, or a `(built-in templates)/`
    /// path) and its text, so a check on rendered output can point at the template.
    pub fn origin(&self, name: &str) -> Option<(PathBuf, &str, bool)> {
        let t = self.sources.iter().find(|s| s.name == name)?;
        let path = t
            .path
            .clone()
            .unwrap_or_else(|| Path::new("(built-in templates)").join(name));
        Some((path, t.text.as_str(), t.path.is_some()))
    }

    pub fn has(&self, name: &str) -> bool {
        self.tera.get_template_names().any(|n| n == name)
    }

    pub fn render(&self, name: &str, ctx: &impl serde::Serialize) -> Result<String, Diagnostic> {
        let context = tera::Context::from_serialize(ctx).map_err(|e| {
            Diagnostic::error(format!(
                "cannot build the context of template `{name}`: {e}"
            ))
        })?;
        self.tera
            .render(name, &context)
            .map_err(|e| template_error(&e, &self.sources))
    }
}

/// Deepest directory nesting and most files read from a templates directory: the
/// built-in set is two levels and 25 files.
const MAX_DEPTH: usize = 16;
const MAX_FILES: usize = 1000;

/// Files under the user's templates directory, named by their relative path. Symlinks
/// are followed, but never back into a directory already on the way down (a loop is an
/// error, not a hang).
fn user_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, Diagnostic> {
    use std::os::unix::fs::MetadataExt;
    let help = "fix or remove `templates` in [grid]";
    let id = |p: &Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
    let root = id(dir).map_err(|e| {
        Diagnostic::error(format!(
            "cannot read templates directory `{}`: {e}",
            dir.display()
        ))
        .help(help)
    })?;
    let mut out = Vec::new();
    // Each entry: a directory and the (device, inode) of every directory above it.
    let mut stack = vec![(dir.to_path_buf(), vec![root])];
    while let Some((d, ancestors)) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| {
            Diagnostic::error(format!(
                "cannot read templates directory `{}`: {e}",
                d.display()
            ))
            .help(help)
        })?;
        for entry in entries {
            let entry = entry
                .map_err(|e| Diagnostic::error(format!("cannot read `{}`: {e}", d.display())))?;
            let path = entry.path();
            // `metadata` follows a symlink; a dangling one is reported when read.
            let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
            if is_dir {
                let me = id(&path).map_err(|e| {
                    Diagnostic::error(format!("cannot read `{}`: {e}", path.display()))
                })?;
                if ancestors.contains(&me) {
                    return Err(Diagnostic::error(format!(
                        "templates directory `{}` loops: `{}` leads back to a directory above it",
                        dir.display(),
                        path.display()
                    ))
                    .help("remove the symlink that points back up"));
                }
                if ancestors.len() >= MAX_DEPTH {
                    return Err(Diagnostic::error(format!(
                        "templates directory `{}` nests deeper than {MAX_DEPTH} levels at `{}`",
                        dir.display(),
                        path.display()
                    ))
                    .help(help));
                }
                let mut below = ancestors.clone();
                below.push(me);
                stack.push((path, below));
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push((rel.to_string_lossy().into_owned(), path));
                if out.len() > MAX_FILES {
                    return Err(Diagnostic::error(format!(
                        "templates directory `{}` holds more than {MAX_FILES} files",
                        dir.display()
                    ))
                    .help(help));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A template error as a diagnostic pointing at the failing line of the template file
/// (the user's file when it was overridden), instead of Tera's own report.
fn template_error(e: &tera::Error, sources: &[TemplateSource]) -> Diagnostic {
    let report = match e.kind() {
        tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => Some(r),
        _ => None,
    };
    let Some(report) = report else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        return Diagnostic::error(format!("template failed: {}", text.trim_end()));
    };
    let name = report.filename();
    let message = report.message().trim_end();
    let d = Diagnostic::error(format!("template `{name}` failed: {message}"));
    let Some(t) = sources.iter().find(|s| s.name == name) else {
        return d;
    };
    let path = t
        .path
        .clone()
        .unwrap_or_else(|| Path::new("(built-in templates)").join(name));
    let source = std::sync::Arc::new(Source {
        path,
        text: t.text.clone(),
    });
    let d = d.at(&source, report.span().range.clone(), "");
    match &t.path {
        Some(_) => d.help(format!(
            "`{name}` comes from your templates directory ([grid] templates); fix it or delete it to use the built-in one"
        )),
        None => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_err(dir: &Path) -> String {
        match Templates::load(Some(dir)) {
            Ok(_) => panic!("loaded"),
            Err(d) => d.to_string(),
        }
    }

    #[test]
    fn a_symlink_loop_is_an_error_not_a_hang() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("local")).unwrap();
        std::os::unix::fs::symlink("..", tmp.path().join("local/up")).unwrap();
        let e = load_err(tmp.path());
        assert!(e.contains("loops"), "{e}");
    }

    #[test]
    fn a_fifo_or_a_huge_file_is_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(
            &tmp.path().join("Robust.ini"),
            nix::sys::stat::Mode::S_IRWXU,
        )
        .unwrap();
        let e = load_err(tmp.path());
        assert!(e.contains("not a regular file"), "{e}");

        let tmp = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(tmp.path().join("Robust.ini")).unwrap();
        f.set_len(crate::manifest::MAX_FILE_BYTES + 1).unwrap();
        let e = load_err(tmp.path());
        assert!(e.contains("more than the"), "{e}");
    }
}
