//! Issue 10, items 1, 5 and 8, end to end with fake Robust copies behind a real nginx:
//!
//! - commands started at once are serialized by the grid lock: after every batch of
//!   concurrent `scale`, `up` and `restart` the manifest equals a serial order of them
//!   (no lost update), and the running copies and nginx membership match it;
//! - `down NAME` takes the copy out of its upstream before it stops it, and `status`
//!   shows it `out`;
//! - a copy still running but no longer declared is listed `undeclared` and `down`
//!   stops it.
//!
//! Synchronisation is by deadlines on observable facts, never by sleeping.

mod common;
mod nginx_roll_support;

use common::procs::alive;
use nginx_roll_support::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Every command of a race batch is bounded by this (they queue on the lock).
const RACE_TIMEOUT: Duration = Duration::from_secs(120);

/// The copies of `role` whose rows say `want` (`status --json`).
fn rows_in(g: &Grid, role: &str, state: &str) -> Vec<String> {
    g.status()
        .into_iter()
        .filter(|r| r.role == role && r.state == state)
        .map(|r| r.name)
        .collect()
}

fn names(role: &str, n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("{role}-{i}")).collect()
}

/// `instances = N` of `[roles.ROLE]` in the manifest text.
fn count_of(text: &str, role: &str) -> Option<u32> {
    let doc: toml::Table = text.parse().ok()?;
    let n = doc
        .get("roles")?
        .get(role)?
        .get("instances")?
        .as_integer()?;
    u32::try_from(n).ok()
}

/// The grid with a second scalable role: `inventory` leaves core for a role of its own.
fn two_role_grid() -> Grid {
    let mut g = Grid::new(GridOptions {
        asset_copies: 1,
        ..GridOptions::default()
    });
    let inv = reserve_ports(4);
    let text = std::fs::read_to_string(&g.manifest).expect("grid.toml");
    let text = text.replacen("\"inventory\", \"login\"]", "\"login\"]", 1)
        + &format!(
            "\n[roles.inventory]\nservices = [\"inventory\"]\ninstances = 1\nport = {inv}\n"
        );
    std::fs::write(&g.manifest, text).expect("write grid.toml");
    g.start();
    g
}

/// Issue 10, item 1: batches of concurrent commands, each batch checked against the
/// serial orders. Two `scale`s of different roles commute, so both counts must be in
/// the file; two of the same role leave one of their values; `up` and `restart` change
/// no count. `GRIDCTL_RACE_BIN` runs the race against another build (to measure one).
#[test]
fn concurrent_commands_lose_no_update_and_leave_the_grid_as_declared() {
    let g = two_role_grid();
    let bin = std::env::var("GRIDCTL_RACE_BIN").unwrap_or_else(|_| GRIDCTL.to_string());
    let manifest = g.manifest.display().to_string();
    let batches = 16u32;
    let mut lost = Vec::new();
    let mut mismatched = Vec::new();
    let mut failed = Vec::new();
    let mut commands = 0;
    let started = Instant::now();
    for b in 0..batches {
        // Deterministic, varied counts: 1..=3 for each request.
        let a1 = 1 + b % 3;
        let a2 = 1 + (b + 1) % 3;
        let inv = 1 + (b * 2 + 1) % 3;
        let batch: Vec<Vec<String>> = vec![
            vec!["scale".into(), format!("asset={a1}")],
            vec!["scale".into(), format!("inventory={inv}")],
            vec!["up".into()],
            vec!["scale".into(), format!("asset={a2}")],
            if b % 2 == 0 {
                vec!["restart".into(), "--rolling".into(), "asset".into()]
            } else {
                vec!["restart".into(), "inventory-1".into()]
            },
        ];
        commands += batch.len();
        let runs: Vec<(Vec<String>, Run)> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|args| {
                    let (bin, manifest, root) = (&bin, &manifest, g.root());
                    s.spawn(move || {
                        let mut all = vec!["-f", manifest.as_str()];
                        all.extend(args.iter().map(String::as_str));
                        let run = run_with_deadline(root, bin, &all, RACE_TIMEOUT);
                        (args.clone(), run)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a race thread panicked"))
                .collect()
        });
        g.record_pids();
        for (args, run) in &runs {
            if !run.ok() {
                failed.push(format!("batch {b}: gridctl {args:?}: {}", run.describe()));
            }
        }
        let text = std::fs::read_to_string(&g.manifest).expect("grid.toml");
        let asset = count_of(&text, "asset");
        let inventory = count_of(&text, "inventory");
        if inventory != Some(inv) || !(asset == Some(a1) || asset == Some(a2)) {
            lost.push(format!(
                "batch {b}: asset={asset:?} (wanted {a1} or {a2}), inventory={inventory:?} (wanted {inv})"
            ));
        }
        // Whatever the file says, the processes and nginx must match it.
        let (Some(asset), Some(inventory)) = (asset, inventory) else {
            panic!("batch {b}: grid.toml lost its counts:\n{text}");
        };
        let rows = g.status();
        let mut got: Vec<String> = rows
            .iter()
            .filter(|r| r.state != "stopped")
            .map(|r| format!("{} {}", r.name, r.state))
            .collect();
        let mut want: Vec<String> = ["core-1".to_string()]
            .into_iter()
            .chain(names("asset", asset))
            .chain(names("inventory", inventory))
            .map(|n| format!("{n} ready"))
            .collect();
        want.sort();
        got.sort();
        let conf = std::fs::read_to_string(&g.output).expect("nginx include");
        let serving = (
            serving_in(&conf, "gridctl_asset_private"),
            serving_in(&conf, "gridctl_inventory_private"),
        );
        let membership: BTreeMap<String, Option<gridctl::render::Membership>> =
            rows.iter().map(|r| (r.name.clone(), r.upstream)).collect();
        let all_in = membership
            .values()
            .all(|m| *m == Some(gridctl::render::Membership::In));
        if got != want
            || serving != (names("asset", asset), names("inventory", inventory))
            || !all_in
        {
            mismatched.push(format!(
                "batch {b}: grid.toml asset={asset} inventory={inventory}; running {got:?}; \
                 nginx serving {serving:?}; status membership {membership:?}"
            ));
        }
    }
    println!(
        "race: {batches} batches, {commands} commands, {} lost update(s), {} batch(es) with \
         processes or nginx not matching grid.toml, {} failed command(s), {:.1}s",
        lost.len(),
        mismatched.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failed.is_empty(), "failed commands:\n{}", failed.join("\n"));
    assert!(lost.is_empty(), "lost updates:\n{}", lost.join("\n"));
    assert!(
        mismatched.is_empty(),
        "grid not as declared:\n{}",
        mismatched.join("\n")
    );
    let (_, violations) = g.reload_audit();
    assert!(violations.is_empty(), "{violations}");
}

/// Issue 10, item 8: `down NAME` (what `top`'s stop runs) marks the copy down and
/// reloads nginx while it still serves, then stops it; `status` shows it `out`.
#[test]
fn down_name_takes_the_copy_out_of_nginx_before_it_stops() {
    let mut g = Grid::new(GridOptions::default());
    g.start();
    let victim = g.row("asset-2").expect("asset-2");
    let pid = victim.pid.expect("asset-2 runs");
    let before = g.reloads();
    let run = g.gridctl_ok(&["down", "asset-2"]);
    assert!(!alive(pid), "asset-2 still runs: {}", run.describe());
    // The reload that took it out ran while it still accepted connections: the audit
    // (which checks every serving server as nginx loads the config) saw it `down`.
    assert_eq!(g.reloads(), before + 1, "{}", run.describe());
    let audits: Vec<_> = std::fs::read_dir(g.root().join("reloads"))
        .expect("reload audit")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    let newest = audits.iter().max().expect("an audited reload");
    let loaded = std::fs::read_to_string(newest).expect("audited conf");
    let port = format!("127.0.0.1:{} ", victim.ports[0]);
    assert!(
        loaded
            .lines()
            .any(|l| l.contains(&port) && l.contains(" down; # asset-2")),
        "the reload before the stop did not mark asset-2 down:\n{loaded}"
    );
    let (listed, shown) = g.serving("gridctl_asset_private", "asset");
    assert_eq!(listed, ["asset-1", "asset-3"]);
    assert_eq!(shown, ["asset-1", "asset-3"]);
    let row = g.row("asset-2").expect("asset-2");
    assert_eq!(row.state, "stopped");
    assert_eq!(row.upstream, Some(gridctl::render::Membership::Out));
    let (_, violations) = g.reload_audit();
    assert!(violations.is_empty(), "{violations}");
    // `up` brings it back in.
    g.gridctl_ok(&["up"]);
    let (listed, shown) = g.serving("gridctl_asset_private", "asset");
    assert_eq!(listed, ["asset-1", "asset-2", "asset-3"]);
    assert_eq!(shown, listed);
}

/// Issue 10, item 5: a copy that runs although grid.toml no longer declares it (the
/// file edited by hand) is listed `undeclared`, and `down` stops it too.
#[test]
fn undeclared_copies_are_listed_and_stopped_by_down() {
    let mut g = Grid::new(GridOptions::default());
    g.start();
    let asset3 = g.row("asset-3").expect("asset-3");
    let (pid, holder) = (asset3.pid.expect("pid"), asset3.holder_pid.expect("holder"));
    let text = std::fs::read_to_string(&g.manifest).expect("grid.toml");
    let edited = text.replacen("instances = 3", "instances = 2", 1);
    assert_ne!(edited, text);
    std::fs::write(&g.manifest, edited).expect("write grid.toml");
    let run = g.gridctl_ok(&["status"]);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("asset-3"))
        .unwrap_or_else(|| panic!("status does not list asset-3:\n{}", run.stdout));
    assert!(line.contains("undeclared"), "{line}");
    let row = g.row("asset-3").expect("asset-3 in status --json");
    assert_eq!(row.state, "undeclared");
    assert_eq!(row.holder_pid, Some(holder));
    let down = g.gridctl_ok(&["down"]);
    wait_for("asset-3's holder to exit", Duration::from_secs(10), || {
        (!alive(holder) && !alive(pid)).then_some(())
    });
    assert!(down.stdout.contains("asset-3"), "{}", down.describe());
    assert!(g.row("asset-3").is_none(), "asset-3 still listed");
    assert!(rows_in(&g, "asset", "ready").is_empty());
}
