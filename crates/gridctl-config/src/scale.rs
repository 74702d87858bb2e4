//! `gridctl scale role=N`: the new counts are written back into grid.toml by
//! replacing just the old number (located by toml_edit's parser), so comments,
//! ordering, formatting and line ends survive — including a comment on the same line
//! as the changed count. The edited text is validated (parsed and
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
///
/// An existing count is replaced in place: the new number is spliced over the old
/// value's exact span in the original text, so every other byte — comments, the
/// same-line comment, spacing, CRLF line ends, a missing final newline — stays as it
/// was. Only a role without an `instances` key goes through toml_edit's serializer
/// (which has to insert a line).
pub fn edit_manifest(text: &str, changes: &[(String, u32)]) -> Result<String, String> {
    let doc =
        toml_edit::Document::parse(text).map_err(|e| format!("grid.toml does not parse: {e}"))?;
    let Some(roles) = doc.as_table().get("roles").and_then(Item::as_table_like) else {
        return Err("grid.toml has no [roles]".into());
    };
    let known: Vec<String> = roles.iter().map(|(k, _)| k.to_string()).collect();
    let mut splices: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut inserts: Vec<(String, u32)> = Vec::new();
    for (role, n) in changes {
        let is_simulator = doc
            .as_table()
            .get("simulators")
            .and_then(Item::as_table_like)
            .is_some_and(|s| s.contains_key(role));
        if is_simulator {
            return Err(format!(
                "`{role}` is a simulator: one OpenSim.exe process, never copies; add regions to it, or declare another [simulators.NAME]"
            ));
        }
        let Some(table) = roles.get(role).and_then(Item::as_table_like) else {
            let hint = did_you_mean(role, known.iter().map(String::as_str))
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            return Err(format!(
                "no role named `{role}`{hint} (roles: {})",
                known.join(", ")
            ));
        };
        match table.get("instances") {
            Some(Item::Value(old)) => {
                let Some(span) = old.span() else {
                    return Err(format!(
                        "cannot locate `instances` of role `{role}` in grid.toml"
                    ));
                };
                splices.retain(|(s, _)| *s != span);
                splices.push((span, n.to_string()));
            }
            Some(_) => return Err(format!("`instances` of role `{role}` is not a plain value")),
            None => inserts.push((role.clone(), *n)),
        }
    }
    // Back to front, so earlier spans stay valid.
    splices.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut out = text.to_string();
    for (span, new) in splices {
        out.replace_range(span, &new);
    }
    if inserts.is_empty() {
        return Ok(out);
    }
    insert_counts(&out, &inserts)
}

/// Adds `instances = N` to roles that have no such key, through toml_edit's serializer.
fn insert_counts(text: &str, inserts: &[(String, u32)]) -> Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("grid.toml does not parse: {e}"))?;
    let Some(roles) = doc.get_mut("roles").and_then(Item::as_table_like_mut) else {
        return Err("grid.toml has no [roles]".into());
    };
    for (role, n) in inserts {
        let Some(table) = roles.get_mut(role).and_then(Item::as_table_like_mut) else {
            return Err(format!("no role named `{role}`"));
        };
        table.insert("instances", Item::Value(Value::from(i64::from(*n))));
    }
    let mut out = doc.to_string();
    // The serializer writes `\n`; keep a CRLF file CRLF.
    if text.contains("\r\n") {
        out = out.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# the grid\n[roles.asset]\nservices = [\"asset\"]\ninstances = 2   # busy one\nport = 8300\n\n[roles.inventory] # inv\nservices = [\"inventory\"]\nport = 8400\n";

    #[test]
    fn keeps_comments_including_same_line() {
        let out = edit_manifest(TEXT, &[("asset".into(), 4)]).unwrap();
        assert_eq!(
            out,
            TEXT.replace("instances = 2   # busy one", "instances = 4   # busy one")
        );
    }

    #[test]
    fn inserts_a_missing_count() {
        let out = edit_manifest(TEXT, &[("inventory".into(), 3)]).unwrap();
        assert!(
            out.contains(
                "[roles.inventory] # inv\nservices = [\"inventory\"]\nport = 8400\ninstances = 3\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn only_the_number_changes_whatever_the_layout() {
        for (before, after) in [
            // CRLF line ends and no final newline survive.
            (
                "[roles.asset]\r\ninstances = 2 # c\r\nport = 1",
                "[roles.asset]\r\ninstances = 5 # c\r\nport = 1",
            ),
            (
                "[roles.asset]\ninstances=2#tight",
                "[roles.asset]\ninstances=5#tight",
            ),
            // Inline tables and dotted keys.
            (
                "[roles]\nasset = { port = 1, instances = 2 } # inline\n",
                "[roles]\nasset = { port = 1, instances = 5 } # inline\n",
            ),
            (
                "[roles]\nasset.instances = 0x2 # hex\n",
                "[roles]\nasset.instances = 5 # hex\n",
            ),
        ] {
            assert_eq!(
                edit_manifest(before, &[("asset".into(), 5)]).unwrap(),
                after,
                "{before:?}"
            );
        }
    }

    #[test]
    fn the_last_request_for_a_role_wins() {
        let out = edit_manifest(TEXT, &[("asset".into(), 4), ("asset".into(), 3)]).unwrap();
        assert_eq!(
            out,
            TEXT.replace("instances = 2   # busy one", "instances = 3   # busy one")
        );
    }

    #[test]
    fn an_inserted_count_keeps_crlf() {
        let out =
            edit_manifest("[roles.inv] # inv\r\nport = 8400\r\n", &[("inv".into(), 3)]).unwrap();
        assert_eq!(out, "[roles.inv] # inv\r\nport = 8400\r\ninstances = 3\r\n");
    }

    #[test]
    fn a_simulator_is_never_scaled() {
        let text = "[roles.asset]\ninstances = 1\n[simulators.mainland]\nhttp_port = 9000\n";
        let e = edit_manifest(text, &[("mainland".into(), 2)]).unwrap_err();
        assert!(
            e.starts_with("`mainland` is a simulator: one OpenSim.exe process"),
            "{e}"
        );
    }

    #[test]
    fn unknown_role_is_refused_with_a_suggestion() {
        let e = edit_manifest(TEXT, &[("aset".into(), 3)]).unwrap_err();
        assert_eq!(
            e,
            "no role named `aset`; did you mean `asset`? (roles: asset, inventory)"
        );
    }

    #[test]
    fn requests_are_checked() {
        assert_eq!(parse_request("asset=4").unwrap(), ("asset".into(), 4));
        assert!(parse_request("asset=-1").unwrap_err().contains("negative"));
        assert!(parse_request("asset=many")
            .unwrap_err()
            .contains("not a whole number"));
        assert!(parse_request("asset").unwrap_err().contains("ROLE=COUNT"));
    }
}
