//! No copy starts without its environment: `up`, `up NAMES`, `restart`, `scale` (and
//! `top`, which runs these) and a container's `pod run` refuse alike when the database secret is missing, change
//! nothing, and a copy running with another secret is restarted by `up`, which says why.

mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use common::run::{run_to_end, Out};
use std::time::Duration;

/// `gridctl ARGS` with `ROBUST_DB` set to `secret`, or unset.
fn with_secret(g: &Grid, args: &[&str], secret: Option<&str>) -> Out {
    let mut cmd = g.command(args);
    match secret {
        Some(s) => cmd.env("ROBUST_DB", s),
        None => cmd.env_remove("ROBUST_DB"),
    };
    run_to_end(cmd, Duration::from_secs(30), |pid| g.record(pid))
}

fn pids(g: &Grid) -> Vec<(String, Option<u32>)> {
    g.status().into_iter().map(|r| (r.name, r.pid)).collect()
}

#[test]
fn every_path_that_starts_a_copy_refuses_without_the_secret() {
    let g = Grid::standard("", "");
    g.up();
    let before = pids(&g);
    let manifest = std::fs::read_to_string(&g.manifest).expect("grid.toml");

    for args in [
        vec!["up"],
        vec!["up", "asset-1"],
        vec!["restart", "asset-1"],
        vec!["restart", "--rolling", "asset"],
        vec!["scale", "inventory=2"],
        vec!["pod", "run", "core-1"],
    ] {
        let out = with_secret(&g, &args, None);
        assert_eq!(out.code, Some(3), "`gridctl {}`: {out}", args.join(" "));
        assert!(
            out.stderr.contains("ROBUST_DB"),
            "`gridctl {}` names the missing variable: {out}",
            args.join(" ")
        );
        assert!(
            out.stderr.contains("nothing was started or restarted"),
            "{out}"
        );
        assert_eq!(
            pids(&g),
            before,
            "`gridctl {}` changed a copy",
            args.join(" ")
        );
    }
    assert_eq!(
        std::fs::read_to_string(&g.manifest).expect("grid.toml"),
        manifest,
        "a refused scale leaves grid.toml as it was"
    );
}

#[test]
fn up_restarts_a_copy_running_with_another_secret_and_says_why() {
    let g = Grid::standard("", "");
    g.up();
    let before = pids(&g);
    let out = with_secret(&g, &["up"], Some("Server=db.test;Password=rotated"));
    assert!(out.ok(), "{out}");
    for (name, pid) in &before {
        assert!(
            out.stdout.contains(&format!(
                "{name}: restarted (config changed: holder.json (command line or environment))"
            )),
            "{name} restarted with its reason: {out}"
        );
        let now = pids(&g)
            .into_iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, p)| p);
        assert_ne!(now, *pid, "{name} runs a new process");
    }
    assert!(
        !out.stdout.contains("rotated"),
        "the secret is never printed: {out}"
    );
    // The same secret again: nothing to do.
    let again = with_secret(&g, &["up"], Some("Server=db.test;Password=rotated"));
    assert!(again.ok() && !again.stdout.contains("restarted"), "{again}");
}
