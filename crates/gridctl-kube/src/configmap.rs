//! The one ConfigMap: grid.toml (its database connection pointed at the Secret's
//! variable) and the user's templates, with the volume items that lay them out under
//! `/etc/gridctl` in every pod.

use crate::labels::Labels;
use gridctl_config::cluster::{ClusterPlan, MANIFEST_NAME, TEMPLATES_SUBDIR};
use gridctl_config::diagnostic::Diagnostic;
use gridctl_config::manifest::{read_text_file, LoadedManifest};
use gridctl_config::plan::Plan;
use k8s_openapi::api::core::v1::{ConfigMap, KeyToPath};
use std::collections::BTreeMap;
use std::path::Path;

/// The ConfigMap's name.
pub(crate) const NAME: &str = "gridctl-config";

/// A ConfigMap holds at most 1 MiB.
pub(crate) const MAX_BYTES: usize = 1024 * 1024;

/// Deepest directory nesting read from a templates directory (as the renderer's walk).
const MAX_DEPTH: usize = 16;

pub(crate) struct ConfigData {
    pub(crate) map: ConfigMap,
    /// How the keys map to files in the volume; `None`: every key as its own name.
    pub(crate) items: Option<Vec<KeyToPath>>,
    pub(crate) notes: Vec<String>,
}

pub(crate) fn build(
    loaded: &LoadedManifest,
    plan: &Plan,
    cluster: &ClusterPlan,
    labels: &Labels,
    templates_on_disk: Option<&Path>,
) -> Result<ConfigData, Diagnostic> {
    let mut notes = Vec::new();
    let manifest = manifest_text(loaded, plan, cluster, &mut notes)?;
    let mut data = BTreeMap::from([(MANIFEST_NAME.to_string(), manifest)]);
    let mut items = None;
    if let Some(dir) = templates_on_disk {
        let mut list = vec![KeyToPath {
            key: MANIFEST_NAME.to_string(),
            path: MANIFEST_NAME.to_string(),
            ..KeyToPath::default()
        }];
        for (rel, text) in templates(dir)? {
            let key = template_key(&rel).ok_or_else(|| {
                Diagnostic::error(format!(
                    "template `{}` in `{}` has a name a ConfigMap key cannot carry",
                    rel,
                    dir.display()
                ))
                .help("name templates with letters, digits, `.`, `_` and `-` only")
            })?;
            if data.contains_key(&key) {
                return Err(Diagnostic::error(format!(
                    "templates `{rel}` and another one in `{}` both become ConfigMap key `{key}`",
                    dir.display()
                ))
                .help("rename one of them (`__` stands for `/` in a key)"));
            }
            list.push(KeyToPath {
                key: key.clone(),
                path: format!("{TEMPLATES_SUBDIR}/{rel}"),
                ..KeyToPath::default()
            });
            data.insert(key, text);
        }
        items = Some(list);
    }
    let total: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_BYTES {
        return Err(Diagnostic::error(format!(
            "grid.toml and the templates are {total} bytes together, more than a ConfigMap holds ({MAX_BYTES})"
        ))
        .help("keep only the templates that differ from the built-in ones in the templates directory"));
    }
    let map = ConfigMap {
        metadata: labels.meta(NAME, &cluster.namespace, labels.common()),
        data: Some(data),
        ..ConfigMap::default()
    };
    Ok(ConfigData { map, items, notes })
}

/// grid.toml as the pods read it: the same text, but a connection string that is not
/// `env:NAME` (inline, or a file the pod does not have) becomes `env:<database_env>`,
/// so the secret never reaches the ConfigMap.
fn manifest_text(
    loaded: &LoadedManifest,
    plan: &Plan,
    cluster: &ClusterPlan,
    notes: &mut Vec<String>,
) -> Result<String, Diagnostic> {
    let text = loaded.source.text.clone();
    let Some(db) = loaded.manifest.database.as_ref() else {
        return Ok(text);
    };
    let conn = db.get_ref().connection.get_ref();
    let env = conn.starts_with("env:");
    if plan.database.is_none() {
        return Ok(text);
    }
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| {
        Diagnostic::error(format!(
            "cannot edit `{}` for the ConfigMap: {e}",
            loaded.path().display()
        ))
    })?;
    let value = doc
        .get_mut("database")
        .and_then(|d| d.get_mut("connection"))
        .and_then(|c| c.as_value_mut())
        .ok_or_else(|| {
            Diagnostic::error(format!(
                "cannot find [database] connection in `{}` to keep it out of the ConfigMap",
                loaded.path().display()
            ))
        })?;
    // A comment on the connection's line may quote the secret (`# was: Password=…`):
    // the ConfigMap's copy keeps none.
    let had_comment = value
        .decor()
        .suffix()
        .and_then(|s| s.as_str())
        .is_some_and(|s| s.contains('#'));
    if env && !had_comment {
        return Ok(text);
    }
    let prefix = value.decor().prefix().cloned();
    if !env {
        *value = toml_edit::Value::from(format!("env:{}", cluster.database_env));
    }
    value.decor_mut().clear();
    if let Some(p) = prefix {
        value.decor_mut().set_prefix(p);
    }
    if env {
        return Ok(doc.to_string());
    }
    let how = if conn.starts_with("file:") {
        "is read from a file"
    } else {
        "is written inline"
    };
    notes.push(format!(
        "[database] connection {how} in grid.toml; the ConfigMap's copy reads it from ${} instead, which the pods get from Secret `{}` (key `{}`): kubectl create secret generic {} --from-literal={}='<connection string>'",
        cluster.database_env,
        cluster.database_secret,
        gridctl_config::cluster::SECRET_KEY,
        cluster.database_secret,
        gridctl_config::cluster::SECRET_KEY,
    ));
    Ok(doc.to_string())
}

/// Every file under `dir`, as (relative path with `/`, text), sorted by path.
fn templates(dir: &Path) -> Result<Vec<(String, String)>, Diagnostic> {
    let help = "fix or remove `templates` in [grid]";
    let mut out = Vec::new();
    let mut total = 0usize;
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .max_depth(MAX_DEPTH + 1)
        .sort_by_file_name();
    for entry in walk {
        let entry = entry.map_err(|e| {
            Diagnostic::error(format!(
                "cannot read templates directory `{}`: {e}",
                dir.display()
            ))
            .help(help)
        })?;
        if entry.depth() > MAX_DEPTH {
            return Err(Diagnostic::error(format!(
                "templates directory `{}` nests deeper than {MAX_DEPTH} levels at `{}`",
                dir.display(),
                entry.path().display()
            ))
            .help(help));
        }
        if entry.file_type().is_dir() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(dir) else {
            continue;
        };
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let text = read_text_file(entry.path()).map_err(|e| {
            Diagnostic::error(format!(
                "cannot read template `{}`: {e}",
                entry.path().display()
            ))
            .help(help)
        })?;
        total += text.len();
        if total > MAX_BYTES {
            return Err(Diagnostic::error(format!(
                "templates directory `{}` holds more than {MAX_BYTES} bytes, more than a ConfigMap holds",
                dir.display()
            ))
            .help("keep only the templates that differ from the built-in ones"));
        }
        out.push((parts.join("/"), text));
    }
    Ok(out)
}

/// `local/login.ini` → `templates__local__login.ini`: a valid ConfigMap key, or `None`.
fn template_key(rel: &str) -> Option<String> {
    let key = format!("{TEMPLATES_SUBDIR}__{}", rel.replace('/', "__"));
    let valid = key.len() <= 253
        && rel
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains("__"))
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    valid.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_keys() {
        assert_eq!(
            template_key("local/login.ini").as_deref(),
            Some("templates__local__login.ini")
        );
        assert_eq!(
            template_key("Robust.ini").as_deref(),
            Some("templates__Robust.ini")
        );
        assert_eq!(template_key("a b.ini"), None);
        assert_eq!(template_key("a__b.ini"), None);
        assert_eq!(template_key("ü.ini"), None);
    }

    #[test]
    fn the_template_walk_is_sorted_and_refuses_loops() {
        let tmp = std::env::temp_dir().join(format!("gridctl-kube-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("remote")).unwrap();
        std::fs::create_dir_all(tmp.join("local")).unwrap();
        std::fs::write(tmp.join("remote/_connector.ini"), "r\n").unwrap();
        std::fs::write(tmp.join("local/login.ini"), "l\n").unwrap();
        std::fs::write(tmp.join("Robust.ini"), "R\n").unwrap();
        let names: Vec<String> = templates(&tmp)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            ["Robust.ini", "local/login.ini", "remote/_connector.ini"]
        );
        std::os::unix::fs::symlink(&tmp, tmp.join("local/up")).unwrap();
        let err = templates(&tmp).unwrap_err();
        assert!(
            err.to_string().contains("cannot read templates directory"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
