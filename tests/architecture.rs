//! The layering of docs/architecture.md, checked: crate dependencies point down only,
//! no module cycle inside a crate, and every source file says what it is for.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Each crate, with its sources and the gridctl crates and heavy crates it may not use.
const CRATES: &[(&str, &str, &[&str])] = &[
    (
        "crates/gridctl-files",
        "src",
        &[
            "gridctl-wire",
            "gridctl-holder",
            "gridctl-config",
            "gridctl-control",
            "gridctl-kube",
        ],
    ),
    (
        "crates/gridctl-wire",
        "src",
        &[
            "gridctl-files",
            "gridctl-holder",
            "gridctl-config",
            "gridctl-control",
            "gridctl-kube",
            "tokio",
        ],
    ),
    (
        "crates/gridctl-holder",
        "src",
        &[
            "gridctl-config",
            "gridctl-control",
            "gridctl-kube",
            "tera",
            "toml",
            "toml_edit",
            "clap",
            "ratatui",
            "crossterm",
        ],
    ),
    (
        "crates/gridctl-config",
        "src",
        &[
            "gridctl-holder",
            "gridctl-control",
            "gridctl-kube",
            "clap",
            "ratatui",
            "crossterm",
            "tokio",
        ],
    ),
    // Beside gridctl-control, over gridctl-config: the export reads a plan and knows
    // nothing of processes, holders or the command line.
    (
        "crates/gridctl-kube",
        "src",
        &[
            "gridctl-holder",
            "gridctl-control",
            "clap",
            "ratatui",
            "crossterm",
            "tokio",
        ],
    ),
    (
        "crates/gridctl-control",
        "src",
        &["gridctl-kube", "clap", "ratatui", "crossterm"],
    ),
    (".", "src", &[]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn crates_depend_only_on_the_layers_below() {
    for (dir, _, forbidden) in CRATES {
        let path = Path::new(ROOT).join(dir).join("Cargo.toml");
        let text = fs::read_to_string(&path).expect("Cargo.toml");
        let doc: toml::Table = toml::from_str(&text).expect("Cargo.toml parses");
        let deps = doc
            .get("dependencies")
            .and_then(|d| d.as_table())
            .cloned()
            .unwrap_or_default();
        for name in *forbidden {
            assert!(
                !deps.contains_key(*name),
                "{} depends on {name}, which docs/architecture.md puts out of its reach",
                path.display()
            );
        }
    }
}

/// Top-level module of each file of one crate → the crate's modules it names via `crate::`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("a component");
        let top = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(top.as_str(), "lib" | "main" | "bin") || rel.ends_with("tests.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).expect("source");
        // Unit tests may reach anywhere in their crate; only the code proper counts.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let edges = graph.entry(top.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                if i > 0 && line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue; // `gridctl_crate::`, not ours
                }
                let rest = &line[i + "crate::".len()..];
                let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                    let group = group.split('}').next().unwrap_or("");
                    group
                        .split(',')
                        .map(|s| s.trim().split("::").next().unwrap_or(""))
                        .collect()
                } else {
                    vec![rest
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or("")]
                };
                for name in names.into_iter().filter(|n| !n.is_empty() && *n != top) {
                    edges.insert(name.to_string());
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if any (depth-first search over the module graph).
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if graph.contains_key(next) && seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn no_module_cycle_inside_a_crate() {
    for (dir, src, _) in CRATES {
        let src = Path::new(ROOT).join(dir).join(src);
        let graph = module_graph(&src);
        assert!(
            graph.len() > 1 || *dir == "crates/gridctl-files",
            "{}: no modules found",
            src.display()
        );
        for start in graph.keys() {
            if let Some(cycle) = cycle_from(&graph, start) {
                panic!("{}: import cycle {}", src.display(), cycle.join(" → "));
            }
        }
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
        ("c".to_string(), BTreeSet::from(["a".to_string()])),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        cycle_from(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
    assert_eq!(cycle_from(&graph, "c"), None);
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let mut files = Vec::new();
    for (dir, src, _) in CRATES {
        rust_files(&Path::new(ROOT).join(dir).join(src), &mut files);
    }
    rust_files(&Path::new(ROOT).join("tests"), &mut files);
    let silent: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = fs::read_to_string(f).unwrap_or_default();
            let first = text.lines().next().unwrap_or("");
            !(first.starts_with("//!") || first.starts_with("// ")) || first.trim().len() < 12
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        silent.is_empty(),
        "files whose first line does not say what they are for: {silent:#?}"
    );
}
