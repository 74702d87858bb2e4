//! Dynamic completion through the real binary, speaking bash's side of clap_complete's
//! `COMPLETE=bash` protocol: instance and role names from the manifest, never a hidden
//! command, and silence (no names, no error text) when the manifest is broken.

mod common;

use assert_cmd::Command;
use std::path::Path;
use std::time::Duration;

/// The words the bash registration script passes for `words`, completing the last one.
fn complete_in(dir: &Path, env_file: Option<&Path>, words: &[&str]) -> (Vec<String>, String) {
    let mut cmd = Command::new(common::gridctl_bin());
    cmd.current_dir(dir)
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .env("_CLAP_IFS", "\n")
        .env_remove("GRIDCTL_FILE")
        .env_remove("ROBUST_DB")
        .env_remove("RUST_BACKTRACE")
        .arg("--")
        .args(words)
        .timeout(Duration::from_secs(30));
    if let Some(f) = env_file {
        cmd.env("GRIDCTL_FILE", f);
    }
    let a = cmd.assert().success();
    let out = common::stdout(&a);
    let words = out
        .split('\n')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    (words, common::stderr(&a))
}

fn complete(dir: &Path, words: &[&str]) -> Vec<String> {
    let (out, err) = complete_in(dir, None, words);
    assert_eq!(err, "", "completion wrote to stderr for {words:?}");
    out
}

const INSTANCES: [&str; 6] = [
    "core-1",
    "asset-1",
    "asset-2",
    "asset-3",
    "inventory-1",
    "inventory-2",
];
const ROLES: [&str; 3] = ["core", "asset", "inventory"];

fn has_all(got: &[String], want: &[&str], what: &str) {
    for w in want {
        assert!(
            got.iter().any(|g| g == w),
            "{what}: `{w}` missing from {got:?}"
        );
    }
}

#[test]
fn instance_names_complete_for_commands_that_take_instances() {
    let g = common::example("blog-split");
    for cmd in ["attach", "logs", "send"] {
        let got = complete(&g.dir, &["gridctl", cmd, ""]);
        has_all(&got, &INSTANCES, cmd);
        assert!(
            !got.iter().any(|w| w == "core"),
            "{cmd}: a role offered: {got:?}"
        );
    }
    // Commands taking roles or instances offer both; what was typed filters them.
    for cmd in ["up", "down", "restart"] {
        let got = complete(&g.dir, &["gridctl", cmd, ""]);
        has_all(&got, &INSTANCES, cmd);
        has_all(&got, &ROLES, cmd);
    }
    let got = complete(&g.dir, &["gridctl", "restart", "--rolling", "as"]);
    assert_eq!(got, ["asset", "asset-1", "asset-2", "asset-3"]);
    // `send --role` takes a role.
    let got = complete(&g.dir, &["gridctl", "send", "--role", ""]);
    assert_eq!(got, ROLES);
    // Every copy already named stays on offer for a further name.
    let got = complete(&g.dir, &["gridctl", "down", "asset-1", "inv"]);
    assert_eq!(got, ["inventory", "inventory-1", "inventory-2"]);
}

#[test]
fn scale_offers_role_equals() {
    let g = common::example("blog-split");
    let got = complete(&g.dir, &["gridctl", "scale", ""]);
    has_all(&got, &["core=", "asset=", "inventory="], "scale");
    let got = complete(&g.dir, &["gridctl", "scale", "asset=4", "in"]);
    assert_eq!(got, ["inventory="]);
}

#[test]
fn the_manifest_comes_from_file_option_or_gridctl_file() {
    let g = common::example("blog-split");
    // The scratch root has no grid.toml of its own.
    let root = g.tmp.path();
    let m = g.manifest.display().to_string();
    for words in [
        vec!["gridctl", "-f", &m, "attach", ""],
        vec!["gridctl", "attach", "-f", &m, ""],
        vec!["gridctl", "--file", &m, "logs", "-f", ""],
        vec!["gridctl", "logs", "--file", &m, ""],
    ] {
        has_all(&complete(root, &words), &INSTANCES, &format!("{words:?}"));
    }
    let (got, err) = complete_in(root, Some(&g.manifest), &["gridctl", "attach", ""]);
    has_all(&got, &INSTANCES, "GRIDCTL_FILE");
    assert_eq!(err, "");
    // Without any, nothing is found, and nothing is said.
    let got = complete(root, &["gridctl", "attach", ""]);
    assert!(!got.iter().any(|w| w.starts_with("asset")), "{got:?}");
}

#[test]
fn hidden_commands_never_complete() {
    let g = common::example("blog-split");
    let top = complete(&g.dir, &["gridctl", ""]);
    has_all(
        &top,
        &["up", "down", "status", "attach", "scale", "nginx"],
        "top",
    );
    for (words, hidden) in [
        (vec!["gridctl", ""], "gen-docs"),
        (vec!["gridctl", "ge"], "gen-docs"),
        (vec!["gridctl", "help", ""], "gen-docs"),
        (vec!["gridctl", "nginx", ""], "sync"),
        (vec!["gridctl", "nginx", "s"], "sync"),
        (vec!["gridctl", "-f", "grid.toml", "nginx", "sy"], "sync"),
    ] {
        let got = complete(&g.dir, &words);
        assert!(
            !got.iter().any(|w| w == hidden),
            "{words:?} offered `{hidden}`: {got:?}"
        );
    }
    assert_eq!(
        complete(&g.dir, &["gridctl", "nginx", ""]),
        [
            "reload",
            "help",
            "--file",
            "--quiet",
            "--no-progress",
            "--help"
        ]
    );
    // Nothing hidden below a hidden command either: `nginx sync --lock-wait`.
    let got = complete(&g.dir, &["gridctl", "nginx", "sync", "--lock"]);
    assert!(!got.iter().any(|w| w.contains("lock-wait")), "{got:?}");
}

#[test]
fn a_broken_or_missing_manifest_completes_nothing_silently() {
    let g = common::manifest("this is [not toml\n");
    for words in [
        vec!["gridctl", "attach", ""],
        vec!["gridctl", "scale", ""],
        vec!["gridctl", "up", "a"],
        vec!["gridctl", "-f", "missing.toml", "attach", ""],
        vec!["gridctl", "-f", "/", "attach", ""],
    ] {
        let got = complete(&g.dir, &words);
        assert!(
            got.iter().all(|w| w.starts_with("--")),
            "{words:?}: {got:?}"
        );
    }
    // A manifest that parses but does not plan (an unknown service) is no different.
    let g = common::manifest("[grid]\nname = \"x\"\ndomain = \"x\"\n[robust]\nbin_dir = \".\"\n[roles.a]\nservices = [\"nope\"]\nport = 1\n");
    let got = complete(&g.dir, &["gridctl", "attach", ""]);
    assert!(got.iter().all(|w| w.starts_with("--")), "{got:?}");
}

#[test]
fn complete_prints_each_shells_registration_script() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -o nospace -o bashdefault"),
        ("zsh", "compdef"),
        (
            "fish",
            "complete --keep-order --exclusive --command gridctl",
        ),
    ] {
        let a = Command::new(common::gridctl_bin())
            .current_dir(dir.path())
            .env("COMPLETE", shell)
            .timeout(Duration::from_secs(30))
            .assert()
            .success();
        let script = common::stdout(&a);
        assert!(script.contains(marker), "{shell}:\n{script}");
    }
}
