//! `gridctl scale role=N`: the new counts are written back into grid.toml through
//! toml_edit, so comments, ordering and formatting survive — including a comment on
//! the same line as the changed count. The edited text is validated (parsed and
//! planned) before anything is written; a refused request leaves the file byte-identical.

use crate::diagnostic::did_you_mean;
use toml_edit::{DocumentMut, Item, Value};

/// `asset=4` → (`asset`, 4), with a message fit for the user otherwise.
pub fn parse_request(s: &str) -> Result<(String, u32), String> {
    let Some((role, count)) = s.split_once('=') else {
        return Err(format!("`{s}` is not ROLE=COUNT (e.g. asset=4)"));
    };
    let role = role.trim();
    let count = count.trim();
    if role.is_empty() {
        return Err(format!("`{s}` names no role"));
    }
    if count.starts_with('-') {
        return Err(format!("`{s}`: a count cannot be negative"));
    }
    let n: u32 = count
        .parse()
        .map_err(|_| format!("`{s}`: `{count}` is not a whole number"))?;
    if n > 1000 {
        return Err(format!("`{s}`: at most 1000 copies per role"));
    }
    Ok((role.to_string(), n))
}

/// Returns grid.toml's text with each role's `instances` set, keeping every comment.
pub fn edit_manifest(text: &str, changes: &[(String, u32)]) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("grid.toml does not parse: {e}"))?;
    let Some(roles) = doc.get_mut("roles").and_then(Item::as_table_like_mut) else {
        return Err("grid.toml has no [roles]".into());
    };
    let known: Vec<String> = roles.iter().map(|(k, _)| k.to_string()).collect();
    for (role, n) in changes {
        let Some(table) = roles.get_mut(role).and_then(Item::as_table_like_mut) else {
            let hint = did_you_mean(role, known.iter().map(String::as_str))
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            return Err(format!("no role named `{role}`{hint} (roles: {})", known.join(", ")));
        };
        let new = Value::from(i64::from(*n));
        match table.get_mut("instances") {
            Some(Item::Value(old)) => {
                // Keep the old value's decor: its spacing and any same-line comment.
                let decor = old.decor().clone();
                *old = new;
                *old.decor_mut() = decor;
            }
            Some(_) => return Err(format!("`instances` of role `{role}` is not a plain value")),
            None => {
                table.insert("instances", Item::Value(new));
            }
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# the grid\n[roles.asset]\nservices = [\"asset\"]\ninstances = 2   # busy one\nport = 8300\n\n[roles.inventory] # inv\nservices = [\"inventory\"]\nport = 8400\n";

    #[test]
    fn keeps_comments_including_same_line() {
        let out = edit_manifest(TEXT, &[("asset".into(), 4)]).unwrap();
        assert_eq!(out, TEXT.replace("instances = 2   # busy one", "instances = 4   # busy one"));
    }

    #[test]
    fn inserts_a_missing_count() {
        let out = edit_manifest(TEXT, &[("inventory".into(), 3)]).unwrap();
        assert!(out.contains("[roles.inventory] # inv\nservices = [\"inventory\"]\nport = 8400\ninstances = 3\n"), "{out}");
    }

    #[test]
    fn unknown_role_is_refused_with_a_suggestion() {
        let e = edit_manifest(TEXT, &[("aset".into(), 3)]).unwrap_err();
        assert_eq!(e, "no role named `aset`; did you mean `asset`? (roles: asset, inventory)");
    }

    #[test]
    fn requests_are_checked() {
        assert_eq!(parse_request("asset=4").unwrap(), ("asset".into(), 4));
        assert!(parse_request("asset=-1").unwrap_err().contains("negative"));
        assert!(parse_request("asset=many").unwrap_err().contains("not a whole number"));
        assert!(parse_request("asset").unwrap_err().contains("ROLE=COUNT"));
    }
}
