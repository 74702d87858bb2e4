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

/// The blog-split example's plan: its instance and role names.
fn blog_split_names() -> (Vec<String>, Vec<String>) {
    let path = common::repo().join("examples/blog-split/grid.toml");
    let loaded = gridctl::manifest::load(&path).expect("the example manifest loads");
    let plan = gridctl::planner::build(&loaded).expect("the example manifest plans");
    (
        plan.instances.iter().map(|i| i.name.clone()).collect(),
        plan.roles.iter().map(|r| r.name.clone()).collect(),
    )
}

/// Every instance (`asset-2`) and `role=N` a command line names, checked against the
/// example's plan; the problems found.
fn unknown_names(line: &str, instances: &[String], roles: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for word in line.split_whitespace() {
        let word = word.trim_matches(|c| c == '"' || c == '\'' || c == '`');
        if let Some((role, count)) = word.split_once('=') {
            if count.parse::<u32>().is_ok() && !roles.iter().any(|r| r == role) {
                problems.push(format!("role `{role}` in `{line}`"));
            }
        } else if let Some((role, n)) = word.rsplit_once('-') {
            let is_instance_like = n.parse::<u32>().is_ok() && roles.iter().any(|r| r == role);
            if is_instance_like && !instances.iter().any(|i| i == word) {
                problems.push(format!("instance `{word}` in `{line}`"));
            }
        }
    }
    problems
}

#[test]
fn every_man_page_has_examples_naming_real_instances() {
    let (instances, roles) = blog_split_names();
    let mut problems = Vec::new();
    for (path, bytes) in gridctl::docs::files().unwrap() {
        if !path.ends_with(".1") {
            continue;
        }
        let page = String::from_utf8(bytes).unwrap();
        let Some((_, examples)) = page.split_once("\n.SH EXAMPLES\n") else {
            problems.push(format!("{path}: no EXAMPLES section"));
            continue;
        };
        let examples = examples.split("\n.SH ").next().unwrap_or("");
        let lines: Vec<String> = examples
            .lines()
            .filter_map(|l| l.strip_prefix("\\fB")?.strip_suffix("\\fR"))
            .map(|l| l.replace("\\-", "-").replace("\\*(Aq", "'"))
            .collect();
        if lines.is_empty() {
            problems.push(format!("{path}: EXAMPLES has no command"));
        }
        for line in &lines {
            if !line.starts_with("gridctl ") && !line.starts_with("export GRIDCTL_FILE=") {
                problems.push(format!("{path}: `{line}` is not a gridctl command"));
            }
            problems.extend(unknown_names(line, &instances, &roles));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
