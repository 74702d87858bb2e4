//! What a real copy's log must say: one `[SERVER]: <Class> loaded successfully` line per
//! `[ServiceList]` entry of its rendered `Robust.ini`, and no `Failed to load` (robust.md
//! §6). Read independently of gridctl's own INI reader, so the two cannot agree on a
//! mistake.

use std::path::Path;

/// The connector classes of the `[ServiceList]` section of `ini`
/// (`Name = "port/Assembly.dll:Class"` → `Class`).
pub fn service_list_classes(ini: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(ini)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", ini.display()));
    let mut in_list = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_list = line == "[ServiceList]";
            continue;
        }
        if !in_list || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some((_, value)) = line.split_once('=') {
            let value = value.trim().trim_matches('"');
            if let Some((_, class)) = value.rsplit_once(':') {
                out.push(class.to_string());
            }
        }
    }
    out
}

/// The problems of one copy's log against its expected classes (empty when it is right).
pub fn log_problems(log: &str, classes: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for class in classes {
        let loaded = format!("[SERVER]: {class} loaded successfully");
        if !log.contains(&loaded) {
            problems.push(format!("no `{loaded}`"));
        }
    }
    for line in log.lines().filter(|l| l.contains("Failed to load")) {
        problems.push(format!("`{line}`"));
    }
    problems
}
