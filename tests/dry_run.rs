//! `gridctl up --dry-run` on the blog's split grid after a hand edit of grid.toml: it
//! lists the steps `up` would take, each with its reason, and changes nothing — the same
//! pids, the same files. Then `up` takes those steps. Every process is ended by pid (the
//! support `Grid` drop); every wait has a deadline.

mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `examples/blog-split/grid.toml` on this test's ports, run by the fake Robust.
fn blog_split(base: u16) -> String {
    common::grid::blog_split_on_ports(base, &common::fake_bin_dir())
}

/// Every regular file under `dir` but the logs (the copies write those as they run),
/// with its bytes and modification time.
fn files(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let name = e.file_name().to_string_lossy().into_owned();
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() && !name.ends_with(".log") && !name.contains(".log.") {
                let bytes = std::fs::read(&p).unwrap_or_default();
                let mtime = meta.modified().expect("mtime");
                out.insert(p, (bytes, mtime));
            }
        }
    }
    out
}

fn pids(g: &Grid) -> BTreeMap<String, (Option<u32>, Option<u32>, String)> {
    g.status()
        .into_iter()
        .map(|r| (r.name.clone(), (r.pid, r.holder_pid, r.state.clone())))
        .collect()
}

#[test]
fn up_dry_run_after_a_hand_edit_lists_the_steps_and_changes_nothing() {
    let g = Grid::new(16, blog_split);

    // On a fresh grid a dry run creates nothing, not even the state directory.
    let fresh = g.ok(&["up", "--dry-run"]);
    assert!(
        fresh
            .stdout
            .lines()
            .any(|l| l.contains("start core-1 ") && l.ends_with("# not running")),
        "{fresh}"
    );
    assert!(!g.state.exists(), "a dry run created {}", g.state.display());

    g.up();
    let text = std::fs::read_to_string(&g.manifest).expect("grid.toml");
    // The hand edit: a new welcome for core, one inventory copy fewer.
    let edited = text
        .replace("Welcome to the blog split grid!", "Welcome back!")
        .replace("instances = 2\n", "instances = 1\n");
    assert_ne!(edited, text);
    std::fs::write(&g.manifest, edited).expect("edit grid.toml");

    let pids_before = pids(&g);
    let files_before = files(&g.dir);
    let dry = g.ok(&["up", "--dry-run"]);
    println!("{}", dry.stdout);
    assert_eq!(pids(&g), pids_before, "{dry}");
    assert_eq!(
        files(&g.dir).keys().collect::<Vec<_>>(),
        files_before.keys().collect::<Vec<_>>(),
        "{dry}"
    );
    assert!(files(&g.dir) == files_before, "a file changed\n{dry}");

    let lines: Vec<&str> = dry.stdout.lines().collect();
    let step = |what: &str, why: &str| {
        let found = lines
            .iter()
            .position(|l| l.contains(&format!("{what} ")) && l.contains(&format!("# {why}")));
        found.unwrap_or_else(|| panic!("no step `{what}` because `{why}`:\n{dry}"))
    };
    let keep = step("keep asset-1", "running, config unchanged");
    let stop = step("stop inventory-2 (undeclared)", "undeclared");
    let retire = step("retire inventory-2", "undeclared");
    // core hosts griduser and presence (process-wide caches): a role of one copy that
    // may not get a second one restarts in place, and the list says so (issue 12).
    let leave = step(
        "core-1 restarts in place, listed in nginx throughout",
        "griduser and presence caches: a role of one copy; requests in the meantime fail",
    );
    let restart = step("restart core-1", "config changed: includes/overrides.ini");
    let ready = step("wait until core-1 is ready", "config changed");
    assert!(keep < stop && stop < retire && retire < leave, "{dry}");
    assert!(leave < restart && restart < ready, "{dry}");
    assert!(
        !dry.stdout.contains("restart asset") && !dry.stdout.contains("start together"),
        "{dry}"
    );
    assert!(dry.stdout.contains("step(s), nothing was done"), "{dry}");

    // The same steps as JSON lines, for scripts; and `down --dry-run` touches nothing either.
    let json = g.ok(&["up", "--dry-run", "--json"]);
    let parsed: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(parsed.len() + 1, lines.len(), "{json}");
    assert!(
        parsed.iter().any(|v| v["do"] == "restart"
            && v["instance"] == "core-1"
            && v["reason"]["why"] == "config_changed"
            && v["reason"]["detail"][0] == "includes/overrides.ini"),
        "{json}"
    );
    let down = g.ok(&["down", "--dry-run"]);
    assert!(down.stdout.contains("stop together "), "{down}");
    assert_eq!(pids(&g), pids_before, "{down}");
    assert!(files(&g.dir) == files_before, "a file changed\n{down}");

    // `up` then does what the dry run said.
    let up = g.ok(&["up"]);
    assert!(up.stdout.contains("core-1: restarted"), "{up}");
    assert!(up.stdout.contains("inventory-2: stopped"), "{up}");
    assert!(up.stdout.contains("inventory-2 retired: "), "{up}");
    let after = pids(&g);
    assert_eq!(after.get("asset-1"), pids_before.get("asset-1"), "{up}");
    assert!(!after.contains_key("inventory-2"), "{after:?}");
    // And a dry run now has nothing left to do but keep every copy.
    let again = g.ok(&["up", "--dry-run"]);
    assert!(
        !again.stdout.contains("restart") && !again.stdout.contains("retire"),
        "{again}"
    );

    // Issue 12: inventory now runs one copy behind nginx. A roll of it lists the surge —
    // a temporary inventory-2 started and in before inventory-1 goes out, and removed
    // once inventory-1 is back — and, being a dry run, starts and writes nothing.
    let pids_before = pids(&g);
    let files_before = files(&g.dir);
    let dry = g.ok(&["restart", "--rolling", "inventory", "--dry-run"]);
    println!("{}", dry.stdout);
    assert_eq!(pids(&g), pids_before, "{dry}");
    assert!(files(&g.dir) == files_before, "a file changed\n{dry}");
    let lines: Vec<&str> = dry.stdout.lines().collect();
    let surge = "inventory-1 is its role's only serving copy: a temporary second one serves while it restarts";
    let done = "the temporary copy goes: the role runs as declared";
    let at = |what: &str, why: &str| {
        let found = lines
            .iter()
            .position(|l| l.contains(&format!("{what} ")) && l.contains(&format!("# {why}")));
        found.unwrap_or_else(|| panic!("no step `{what}` because `{why}`:\n{dry}"))
    };
    let order = [
        at("start inventory-2 beside inventory-1", surge),
        at("wait until inventory-2 is ready", surge),
        at("inventory-2 joins its upstream", "in once ready"),
        at("inventory-1 leaves its upstream", "operator restart"),
        at("restart inventory-1", "operator restart"),
        at("wait until inventory-1 is ready", "operator restart"),
        at("inventory-2 leaves its upstream", done),
        at("stop inventory-2", done),
        at("inventory-2 leaves the nginx config", done),
        at("retire inventory-2", done),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{dry}");
    let json = g.ok(&["restart", "--rolling", "inventory", "--dry-run", "--json"]);
    let parsed: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        parsed.iter().any(|v| v["do"] == "surge_start"
            && v["instance"] == "inventory-2"
            && v["beside"] == "inventory-1"
            && v["reason"]["why"] == "surge"
            && v["halts"] == true),
        "{json}"
    );
    assert_eq!(pids(&g), pids_before, "{json}");
    assert!(!g.instance_dir("inventory-2").exists(), "{json}");
}
