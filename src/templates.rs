//! Templates: the defaults under `templates/` are embedded in the binary; a templates
//! directory named in the manifest overrides any of them file by file.
//!
//! Tera 2 (its errors carry template line and column), autoescape off (these are INI,
//! XML and nginx files, not HTML), undefined variables are errors.

use crate::diagnostic::Diagnostic;
use std::path::{Path, PathBuf};

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
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
    /// Where each template came from (for error messages): `None` = built in.
    origin: Vec<(String, Option<PathBuf>)>,
}

impl Templates {
    /// The built-in set, overridden file by file by `dir` when given.
    pub fn load(dir: Option<&Path>) -> Result<Templates, Diagnostic> {
        let mut sources: Vec<(String, String, Option<PathBuf>)> = EMBEDDED
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string(), None))
            .collect();
        if let Some(dir) = dir {
            for (name, path) in user_files(dir)? {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Diagnostic::error(format!("cannot read template `{}`: {e}", path.display()))
                })?;
                match sources.iter_mut().find(|(n, _, _)| *n == name) {
                    Some(entry) => *entry = (name, text, Some(path)),
                    None => sources.push((name, text, Some(path))),
                }
            }
        }
        let mut tera = tera::Tera::new();
        tera.autoescape_on(Vec::<&str>::new());
        tera.add_raw_templates(sources.iter().map(|(n, t, _)| (n.as_str(), t.as_str())))
            .map_err(|e| template_error(&e, &sources_origin(&sources)))?;
        Ok(Templates {
            tera,
            origin: sources_origin(&sources),
        })
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
            .map_err(|e| template_error(&e, &self.origin))
    }
}

fn sources_origin(sources: &[(String, String, Option<PathBuf>)]) -> Vec<(String, Option<PathBuf>)> {
    sources
        .iter()
        .map(|(n, _, p)| (n.clone(), p.clone()))
        .collect()
}

/// Files under the user's templates directory, named by their relative path.
fn user_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, Diagnostic> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| {
            Diagnostic::error(format!(
                "cannot read templates directory `{}`: {e}",
                d.display()
            ))
            .help("fix or remove `templates` in [grid]")
        })?;
        for entry in entries {
            let entry = entry
                .map_err(|e| Diagnostic::error(format!("cannot read `{}`: {e}", d.display())))?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push((rel.to_string_lossy().into_owned(), path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Tera's report already names the template, line and column; say where the template lives.
fn template_error(e: &tera::Error, origin: &[(String, Option<PathBuf>)]) -> Diagnostic {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!("\n{s}"));
        source = s.source();
    }
    let overridden: Vec<String> = origin
        .iter()
        .filter_map(|(n, p)| {
            p.as_ref()
                .filter(|_| text.contains(n.as_str()))
                .map(|p| p.display().to_string())
        })
        .collect();
    let d = Diagnostic::error(format!("template failed: {}", text.trim_end()));
    if overridden.is_empty() {
        d
    } else {
        d.help(format!(
            "the template comes from your templates directory: {}",
            overridden.join(", ")
        ))
    }
}
