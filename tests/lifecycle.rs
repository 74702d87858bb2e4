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
use std::collections::BTreeSet;
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

/// The grid as the race test models it: the two counts in grid.toml and which copies
/// run (every running copy is ready and in its upstream).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct World {
    asset: u32,
    inventory: u32,
    running: BTreeSet<String>,
}

impl World {
    fn declared(&self) -> BTreeSet<String> {
        std::iter::once("core-1".to_string())
            .chain(names("asset", self.asset))
            .chain(names("inventory", self.inventory))
            .collect()
    }

    /// What one command does when it runs alone.
    fn apply(&mut self, cmd: &[String]) {
        match cmd.first().map(String::as_str) {
            Some("scale") => {
                let (role, n) = cmd[1].split_once('=').expect("ROLE=N");
                let n: u32 = n.parse().expect("N");
                let count = if role == "asset" {
                    &mut self.asset
                } else {
                    &mut self.inventory
                };
                let old = std::mem::replace(count, n);
                // Nothing of the grid runs here: only grid.toml changes.
                if self.running.is_empty() {
                    return;
                }
                // Removed copies stop, added copies start, the others are left alone.
                for i in n + 1..=old {
                    self.running.remove(&format!("{role}-{i}"));
                }
                for i in old + 1..=n {
                    self.running.insert(format!("{role}-{i}"));
                }
            }
            Some("up") => self.running = self.declared(),
            Some("down") => self.running.clear(),
            // A restart starts a stopped copy too.
            Some("restart") if cmd[1] == "--rolling" => {
                let prefix = format!("{}-", cmd[2]);
                let role: Vec<String> = self
                    .declared()
                    .into_iter()
                    .filter(|n| n.starts_with(&prefix))
                    .collect();
                self.running.extend(role);
            }
            Some("restart") => {
                if self.declared().contains(&cmd[1]) {
                    self.running.insert(cmd[1].clone());
                }
            }
            other => panic!("the model does not know {other:?}"),
        }
    }
}

/// Every world some serial order of `cmds` leaves, starting from `from`.
fn serial_outcomes(from: &World, cmds: &[Vec<String>]) -> BTreeSet<World> {
    fn go(w: &World, left: &mut Vec<Vec<String>>, out: &mut BTreeSet<World>) {
        if left.is_empty() {
            out.insert(w.clone());
            return;
        }
        for i in 0..left.len() {
            let cmd = left.remove(i);
            let mut next = w.clone();
            next.apply(&cmd);
            go(&next, left, out);
            left.insert(i, cmd);
        }
    }
    let mut out = BTreeSet::new();
    go(from, &mut cmds.to_vec(), &mut out);
    out
}

/// The grid as it is: counts from grid.toml, running copies from `status` (each must
/// be ready), and a list of what disagrees with the running set (nginx, status).
fn observe(g: &Grid) -> Result<(World, Vec<String>), String> {
    let text = std::fs::read_to_string(&g.manifest).map_err(|e| e.to_string())?;
    let (Some(asset), Some(inventory)) = (count_of(&text, "asset"), count_of(&text, "inventory"))
    else {
        return Err(format!("grid.toml lost its counts:\n{text}"));
    };
    let rows = g.status();
    let mut problems = Vec::new();
    let running: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.state != "stopped")
        .map(|r| r.name.clone())
        .collect();
    for r in &rows {
        let running = r.state != "stopped";
        if running && r.state != "ready" {
            problems.push(format!("{} is {}", r.name, r.state));
        }
        let is_in = r.upstream == Some(gridctl::render::Membership::In);
        if running != is_in {
            problems.push(format!(
                "{} is {} but {:?} in status",
                r.name, r.state, r.upstream
            ));
        }
    }
    let conf = std::fs::read_to_string(&g.output).unwrap_or_default();
    for role in ["asset", "inventory"] {
        let serving: BTreeSet<String> = serving_in(&conf, &format!("gridctl_{role}_private"))
            .into_iter()
            .collect();
        let want: BTreeSet<String> = running
            .iter()
            .filter(|n| n.starts_with(&format!("{role}-")))
            .cloned()
            .collect();
        if serving != want {
            problems.push(format!(
                "nginx serves {serving:?} of {role}, running {want:?}"
            ));
        }
    }
    let world = World {
        asset,
        inventory,
        running,
    };
    Ok((world, problems))
}

/// Issue 10, item 1: batches of `scale` (two of one role, one of another), `up`, and
/// one of `restart --rolling`, `down`, `restart NAME`, all started at once. After each
/// batch grid.toml, the running copies and nginx must be what some serial order of the
/// batch leaves (checked against every order). `GRIDCTL_RACE_BIN` runs the race
/// against another build, to measure it.
#[test]
fn concurrent_commands_lose_no_update_and_leave_the_grid_as_declared() {
    let g = two_role_grid();
    let bin = std::env::var("GRIDCTL_RACE_BIN").unwrap_or_else(|_| GRIDCTL.to_string());
    let manifest = g.manifest.display().to_string();
    let batches = 15u32;
    let mut lost = Vec::new();
    let mut mismatched = Vec::new();
    let mut failed = Vec::new();
    let mut commands = 0;
    let started = Instant::now();
    let (mut world, problems) = observe(&g).expect("the started grid");
    assert!(problems.is_empty(), "{problems:?}");
    for b in 0..batches {
        // Deterministic, varied counts: 1..=3 for each request.
        let a1 = 1 + b % 3;
        let a2 = 1 + (b + 1) % 3;
        let inv = 1 + (b * 2 + 1) % 3;
        let last: Vec<String> = match b % 3 {
            0 => vec!["restart".into(), "--rolling".into(), "asset".into()],
            1 => vec!["down".into()],
            _ => vec!["restart".into(), "inventory-1".into()],
        };
        let batch: Vec<Vec<String>> = vec![
            vec!["scale".into(), format!("asset={a1}")],
            vec!["scale".into(), format!("inventory={inv}")],
            vec!["up".into()],
            vec!["scale".into(), format!("asset={a2}")],
            last,
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
        let outcomes = serial_outcomes(&world, &batch);
        let (seen, problems) = observe(&g).unwrap_or_else(|e| panic!("batch {b}: {e}"));
        if !outcomes
            .iter()
            .any(|w| (w.asset, w.inventory) == (seen.asset, seen.inventory))
        {
            lost.push(format!(
                "batch {b}: grid.toml says asset={} inventory={} after {batch:?}",
                seen.asset, seen.inventory
            ));
        }
        if !outcomes.contains(&seen) || !problems.is_empty() {
            mismatched.push(format!(
                "batch {b}: {seen:?} is no serial order's outcome of {batch:?} \
                 (or: {problems:?})"
            ));
        }
        world = seen;
    }
    println!(
        "race: {batches} batches, {commands} commands, {} lost update(s), {} batch(es) \
         whose copies or nginx match no serial order, {} failed command(s), {:.1}s",
        lost.len(),
        mismatched.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failed.is_empty(), "failed commands:\n{}", failed.join("\n"));
    assert!(lost.is_empty(), "lost updates:\n{}", lost.join("\n"));
    assert!(
        mismatched.is_empty(),
        "grid not as any serial order leaves it:\n{}",
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
