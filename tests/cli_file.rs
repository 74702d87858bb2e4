//! `-f/--file` through the real binary: before or after the command, `GRIDCTL_FILE`, which
//! one wins, and `logs`, where `-f` keeps meaning --follow.

mod common;

use assert_cmd::Command;
use std::path::Path;
use std::time::Duration;

/// `gridctl ARGS` in `dir` with `GRIDCTL_FILE` set as given (or removed).
fn run(dir: &Path, env_file: Option<&Path>, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut cmd = Command::new(common::gridctl_bin());
    cmd.current_dir(dir)
        .args(args)
        .env("ROBUST_DB", common::DB_SECRET)
        .env_remove("GRIDCTL_FILE")
        .env_remove("RUST_BACKTRACE")
        .timeout(Duration::from_secs(60));
    if let Some(f) = env_file {
        cmd.env("GRIDCTL_FILE", f);
    }
    cmd.assert()
}

/// The last line of `gridctl plan` for the blog-split example.
const PLANNED: &str = "6 instance(s), 3 role(s)";

#[test]
fn file_option_works_before_and_after_the_command() {
    let g = common::example("blog-split");
    // The scratch root holds no grid.toml: only the option can find the manifest.
    let cwd = g.tmp.path();
    let m = g.manifest.display().to_string();
    for args in [
        vec!["-f", &m, "plan"],
        vec!["--file", &m, "plan"],
        vec!["plan", "-f", &m],
        vec!["plan", "--file", &m],
        vec![&format!("--file={m}"), "plan"],
        vec!["plan", &format!("--file={m}")],
        vec!["plan", "--json", "-f", &m],
        vec!["render-nginx", "-f", &m],
    ] {
        let a = run(cwd, None, &args).success();
        let out = common::stdout(&a);
        assert!(
            out.contains("asset-3") || out.contains("upstream"),
            "{args:?}:\n{out}"
        );
    }
    // Two levels down (`nginx reload`) the option is accepted too: it parses, and the
    // error names the missing manifest it was given.
    let a = run(cwd, None, &["nginx", "reload", "-f", "missing.toml"]).failure();
    assert!(
        common::stderr(&a).contains("missing.toml"),
        "{}",
        common::stderr(&a)
    );
}

#[test]
fn file_option_falls_back_to_gridctl_file_and_beats_it() {
    let g = common::example("blog-split");
    let cwd = g.tmp.path();
    let m = g.manifest.display().to_string();
    let a = run(cwd, Some(&g.manifest), &["plan"]).success();
    assert!(common::stdout(&a).contains(PLANNED));
    // An explicit option wins over the environment, wherever it is written.
    let bad = cwd.join("absent.toml");
    for args in [vec!["-f", &m, "plan"], vec!["plan", "-f", &m]] {
        let a = run(cwd, Some(&bad), &args).success();
        assert!(common::stdout(&a).contains(PLANNED), "{args:?}");
    }
    // After the command, it also wins over one given before it.
    let a = run(cwd, None, &["-f", "absent.toml", "plan", "-f", &m]).success();
    assert!(common::stdout(&a).contains(PLANNED));
    // Without either, `./grid.toml` is the default.
    let a = run(&g.dir, None, &["plan"]).success();
    assert!(common::stdout(&a).contains(PLANNED));
}

#[test]
fn after_logs_dash_f_is_follow_and_file_is_long_only() {
    let g = common::example("blog-split");
    let cwd = g.tmp.path();
    let m = g.manifest.display().to_string();
    // `-f` after `logs` is --follow; the manifest comes from before the command. An
    // unknown instance proves the manifest was read (its names are suggested).
    for args in [
        vec!["-f", &m, "logs", "-f", "asset-9"],
        vec!["logs", "--file", &m, "-f", "asset-9"],
        vec!["logs", "asset-9", &format!("--file={m}")],
    ] {
        let a = run(cwd, None, &args).failure();
        let err = common::stderr(&a);
        assert!(
            err.contains("no instance named `asset-9`"),
            "{args:?}:\n{err}"
        );
        assert!(err.contains("asset-1"), "{args:?}:\n{err}");
    }
    // `logs -f FILE` is not a manifest: FILE is taken as the instance, and the manifest
    // is still the default `./grid.toml` (absent in the scratch root).
    let a = run(cwd, None, &["logs", "-f", &m]).failure();
    let err = common::stderr(&a);
    assert!(err.contains("cannot read manifest `grid.toml`"), "{err}");
}
