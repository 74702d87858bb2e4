//! The committed man pages and completions in `man/` must match what the clap
//! definitions generate today (style.md, item 9).

mod common;

use std::collections::BTreeMap;

const STALE: &str = "man pages are stale: run `cargo run -- gen-docs --out man`";

#[test]
fn committed_man_pages_and_completions_are_current() {
    let man = common::repo().join("man");
    let generated: BTreeMap<String, Vec<u8>> = gridctl::docs::files()
        .expect("generate docs")
        .into_iter()
        .collect();
    let committed: BTreeMap<String, Vec<u8>> = common::snapshot_dir(&man)
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    let mut problems = Vec::new();
    for (path, bytes) in &generated {
        match committed.get(path) {
            None => problems.push(format!("missing: man/{path}")),
            Some(c) if c != bytes => problems.push(format!("differs: man/{path}")),
            Some(_) => {}
        }
    }
    for path in committed.keys().filter(|p| !generated.contains_key(*p)) {
        problems.push(format!("no longer generated: man/{path}"));
    }
    assert!(problems.is_empty(), "{STALE}\n{}", problems.join("\n"));
}

#[test]
fn gen_docs_writes_exactly_the_generated_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("man");
    common::gridctl(tmp.path(), &["gen-docs", "--out", "man"]).success();
    let written: Vec<(String, Vec<u8>)> = common::snapshot_dir(&out)
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    let mut generated = gridctl::docs::files().unwrap();
    generated.sort();
    assert_eq!(written, generated);
    // Every visible subcommand has a page; the hidden gen-docs has none.
    let names: Vec<&str> = written.iter().map(|(p, _)| p.as_str()).collect();
    for page in [
        "gridctl.1",
        "gridctl-check.1",
        "gridctl-render.1",
        "gridctl-plan.1",
    ] {
        assert!(names.contains(&page), "{page}");
    }
    assert!(!names.iter().any(|n| n.contains("gen-docs")));
}
