//! The docs stay true: the committed man pages and completions in `man/` match what the
//! clap definitions generate today; man EXAMPLES, the README and the examples name only
//! what the shipped example grid has, and point nowhere outside the repository.

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

/// README.md, every file under examples/ and docs/ that is text: (repo-relative path, text).
fn user_facing_texts() -> Vec<(String, String)> {
    let repo = common::repo();
    let mut files = vec![repo.join("README.md")];
    for dir in ["examples", "docs"] {
        common::collect_files(&repo.join(dir), &mut files);
    }
    files
        .into_iter()
        .filter(|f| {
            !f.components()
                .any(|c| c.as_os_str() == ".gridctl" || c.as_os_str() == "nginx")
        })
        .filter_map(|f| {
            let text = String::from_utf8(std::fs::read(&f).ok()?).ok()?;
            let rel = f.strip_prefix(&repo).ok()?.display().to_string();
            Some((rel, text))
        })
        .collect()
}

#[test]
fn readme_examples_and_docs_never_point_outside_the_repository() {
    let texts = user_facing_texts();
    assert!(
        texts.iter().any(|(p, _)| p == "docs/design.md"),
        "docs/design.md is missing"
    );
    let mut problems = Vec::new();
    for (path, text) in &texts {
        for (n, line) in text.lines().enumerate() {
            for outside in ["../shared", "shared/seeds", "shared/docs", "shared/robust"] {
                if line.contains(outside) {
                    problems.push(format!("{path}:{}: `{outside}`: {line}", n + 1));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn readme_commands_name_what_the_example_really_has() {
    let (instances, roles) = blog_split_names();
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for line in readme.lines().filter(|l| l.contains("gridctl ")) {
        checked += 1;
        problems.extend(unknown_names(line, &instances, &roles));
    }
    assert!(
        checked > 20,
        "only {checked} README lines name gridctl commands"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The two set-up commands: one line each, the first needing nothing exported.
#[test]
fn readme_set_up_is_two_commands_and_the_first_needs_no_secret() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let setup = readme
        .split("\n## Set up")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("a `## Set up` section");
    let blocks: Vec<&str> = setup
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("\n```").next())
        .collect();
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert!(blocks.iter().all(|b| !b.contains('\n')), "{blocks:?}");
    assert!(
        blocks[0].contains("examples/blog-split/grid.toml up"),
        "{}",
        blocks[0]
    );
    assert!(
        !blocks[0].contains("ROBUST_DB") && !blocks[0].contains("Password"),
        "{}",
        blocks[0]
    );
    assert!(blocks[1].contains("cargo test"), "{}", blocks[1]);
}

/// Public URLs written in an example (grid info keys) and the ones gridctl renders carry
/// the port that example's nginx public listener really uses.
#[test]
fn example_public_urls_use_the_port_nginx_listens_on() {
    for name in ["blog-split", "hypergrid"] {
        let path = common::repo().join("examples").join(name).join("grid.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let listen = doc["nginx"]["public_listen"].as_str().unwrap();
        let port: u16 = listen.rsplit(':').next().unwrap().parse().unwrap();
        assert_eq!(
            doc["grid"].get("public_port").and_then(|p| p.as_integer()),
            Some(i64::from(port)),
            "{name}: [grid] public_port must be nginx's public port {port}"
        );
        if let Some(info) = doc["grid"].get("info").and_then(|i| i.as_table()) {
            for (key, value) in info {
                let url = value.as_str().unwrap_or("");
                if url.starts_with("http") {
                    assert!(
                        url.contains(&format!(":{port}/")),
                        "{name}: info.{key} = {url}"
                    );
                }
            }
        }
        // What simulators are told (GridCommon.ini): public URLs through nginx's port.
        let g = common::example(name);
        let a = g.gridctl(&["render-simulator"]).success();
        let out = common::stdout(&a);
        let public: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("URI = \"http") && !l.contains(".robust.internal"))
            .collect();
        assert!(!public.is_empty(), "{name}:\n{out}");
        for line in public {
            assert!(line.contains(&format!(":{port}\"")), "{name}: {line}");
        }
    }
}

/// The README's install line names packages that exist and put `gridctl` and
/// `gridctl-holder` side by side (gridctl starts the holder from its own directory).
#[test]
fn readme_install_line_installs_gridctl_and_its_holder() {
    let repo = common::repo();
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo install "))
        .expect("a `cargo install` line");
    let installs: Vec<&str> = line.split("&&").map(str::trim).collect();
    assert_eq!(installs.len(), 2, "{line}");
    for (install, bin) in installs.iter().zip(["gridctl", "gridctl-holder"]) {
        let words: Vec<&str> = install.split_whitespace().collect();
        let path = words
            .iter()
            .position(|w| *w == "--path")
            .and_then(|i| words.get(i + 1))
            .unwrap_or_else(|| panic!("no --path in `{install}`"));
        let manifest = std::fs::read_to_string(repo.join(path).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{bin}\"")),
            "`{install}` does not build `{bin}`"
        );
        assert!(words.contains(&"--locked"), "{install}");
    }
}

/// The static completion scripts offer no hidden command (`gen-docs`, `nginx sync`).
#[test]
fn static_completions_offer_no_hidden_command() {
    for (path, bytes) in gridctl::docs::files().unwrap() {
        if !path.starts_with("completions/") {
            continue;
        }
        let text = String::from_utf8(bytes).unwrap();
        for hidden in ["gen-docs", "sync", "lock-wait"] {
            assert!(!text.contains(hidden), "{path} offers `{hidden}`");
        }
        assert!(text.contains("attach") && text.contains("reload"), "{path}");
    }
}
