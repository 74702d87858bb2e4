//! Typed objects to YAML text: one document per object, `---` between documents, and a
//! header saying where the file came from.

use gridctl_config::diagnostic::Diagnostic;
use serde::Serialize;

pub(crate) const HEADER: &str =
    "# Written by `gridctl export kubernetes` from grid.toml: edit grid.toml and export again.\n";

/// One object as a YAML document.
pub(crate) fn doc<T: Serialize>(object: &T) -> Result<String, Diagnostic> {
    serde_yaml_ng::to_string(object)
        .map_err(|e| Diagnostic::error(format!("cannot write an object as YAML: {e}")))
}

/// A file of documents.
pub(crate) fn file(docs: &[String]) -> String {
    let mut out = String::from(HEADER);
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(d);
        if !d.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
