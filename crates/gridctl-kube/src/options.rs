//! What the command line may override in `[kubernetes]` (`--namespace`, `--image`),
//! checked the way the manifest's values are: a bad value is an error, never exported.

use gridctl_config::diagnostic::Diagnostic;
use gridctl_config::manifest::LoadedManifest;

/// Overrides from the command line; `None` keeps the plan's value.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub namespace: Option<String>,
    pub image: Option<String>,
}

impl Options {
    /// The manifest with the overrides written into its `[kubernetes]` table (layout
    /// kept), read again: the pods plan from the ConfigMap's copy of it, so a namespace
    /// given on the command line must be there too, or their connectors would name the
    /// Services in another namespace. Checked like the manifest's own values.
    pub fn onto(&self, loaded: &LoadedManifest) -> Result<LoadedManifest, Diagnostic> {
        if self.namespace.is_none() && self.image.is_none() {
            return Ok(loaded.clone());
        }
        if let Some(ns) = &self.namespace {
            if let Some(why) = namespace_problem(ns) {
                return Err(Diagnostic::error(format!("--namespace `{}`: {why}", ns.escape_debug()))
                    .help("a namespace is a DNS-1123 label: at most 63 characters, lower-case letters, digits and `-`, starting and ending with a letter or digit"));
            }
        }
        if let Some(image) = &self.image {
            if let Some(why) = image_problem(image) {
                return Err(Diagnostic::error(format!(
                    "--image `{}`: {why}",
                    image.escape_debug()
                ))
                .help("give an image reference like `registry.example/opensim-robust:0.9.2.2`"));
            }
        }
        let path = loaded.path();
        let mut doc: toml_edit::DocumentMut = loaded
            .source
            .text
            .parse()
            .map_err(|e| Diagnostic::error(format!("cannot edit `{}`: {e}", path.display())))?;
        let table = doc
            .entry("kubernetes")
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
            .as_table_like_mut()
            .ok_or_else(|| {
                Diagnostic::error(format!(
                    "`kubernetes` in `{}` is not a table",
                    path.display()
                ))
            })?;
        for (key, value) in [("namespace", &self.namespace), ("image", &self.image)] {
            if let Some(v) = value {
                table.insert(key, toml_edit::value(v.as_str()));
            }
        }
        gridctl_config::manifest::parse(path, doc.to_string())
    }
}

/// The manifest's own checks, so `--namespace` and `--image` accept exactly what
/// `[kubernetes]` does.
pub use gridctl_config::planner::{dns_label_problem as namespace_problem, image_problem};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        assert_eq!(namespace_problem("grid"), None);
        assert_eq!(namespace_problem("grid-2"), None);
        assert!(namespace_problem("Bad_NS").is_some());
        assert!(namespace_problem("-grid").is_some());
        assert!(namespace_problem("").is_some());
        assert!(namespace_problem(&"a".repeat(64)).is_some());
        assert!(namespace_problem("grid\u{0}").is_some());
    }

    #[test]
    fn images() {
        assert_eq!(image_problem("opensim-robust:0.9.2.2"), None);
        assert_eq!(
            image_problem("registry.example:5000/grid/opensim-robust:0.9.2.2"),
            None
        );
        assert_eq!(image_problem("repo/img@sha256:0123abcd"), None);
        assert!(image_problem("bad image").is_some());
        assert!(image_problem("img\n").is_some());
        assert!(image_problem("").is_some());
        assert!(image_problem("img:").is_some());
        assert!(image_problem(":tag").is_some());
        assert!(image_problem("ïmg").is_some());
    }
}
