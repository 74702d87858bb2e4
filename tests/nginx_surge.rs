//! Issue 12, item 5, end to end with the real nginx and the fake Robust: a role of ONE
//! copy behind nginx is restarted (`restart --rolling`, and `up` after an edit of the
//! role) under a steady load with no failed request — a temporary second copy (the
//! surge copy) serves while it restarts, and is gone afterwards (status, nginx config,
//! state dir, processes). A surge copy that cannot start is removed and the old copy
//! keeps serving; a role that must run as one copy (a process-wide cache) restarts in
//! place and says so before acting.
//!
//! Synchronisation is by deadlines on observable facts (requests answered, `status`),
//! never by sleeping; every process is ended by pid (the support `Grid` drop, and the
//! surge copy's own processes by pid if one were left).

mod common;
mod nginx_roll_support;

use common::http::request_once;
use common::procs::{kill_pid, processes_naming};
use nginx_roll_support::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Two keep-alive GET streams, one GET and two POST streams on fresh connections.
const LOAD: &[Kind] = &[
    Kind::GetKeepAlive,
    Kind::GetKeepAlive,
    Kind::GetClose,
    Kind::PostClose,
    Kind::PostClose,
];
const PACE: Duration = Duration::from_millis(2);
const WAIT: Duration = Duration::from_secs(10);

fn one_asset_copy() -> Grid {
    Grid::new(GridOptions {
        asset_copies: 1,
        ..GridOptions::default()
    })
}

/// The surge copy's directory in the grid's state dir.
fn surge_dir(g: &Grid) -> std::path::PathBuf {
    g.root().join(".gridctl/instances/asset-2")
}

/// Processes whose command line names the surge copy's directory (its holder, its
/// fake Robust): none must be left. Any found is ended by pid so the test leaves
/// nothing behind, and reported.
fn surge_processes(g: &Grid) -> Vec<(u32, String)> {
    let found = processes_naming(&surge_dir(g).display().to_string());
    for (pid, _) in &found {
        kill_pid(*pid);
    }
    found
}

/// What declares the grid "as declared" after a surge: one asset copy in status, the
/// nginx config lists only it (no trace of the surge copy, not even a comment), no
/// surge copy directory, no surge process.
fn assert_back_to_one_copy(g: &Grid, context: &str) {
    let names: Vec<String> = g
        .status()
        .into_iter()
        .filter(|r| r.role == "asset")
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["asset-1"], "status after {context}");
    let conf = std::fs::read_to_string(&g.output).unwrap_or_default();
    assert_eq!(
        serving_in(&conf, "gridctl_asset_private"),
        ["asset-1"],
        "{context}:\n{conf}"
    );
    assert!(
        !conf.contains("asset-2"),
        "the nginx config still names the surge copy after {context}:\n{conf}"
    );
    assert!(
        !surge_dir(g).exists(),
        "{} is left after {context}",
        surge_dir(g).display()
    );
    let left = surge_processes(g);
    assert!(
        left.is_empty(),
        "surge processes left after {context}: {left:?}"
    );
}

#[test]
fn a_role_of_one_copy_restarts_behind_a_surge_copy_without_a_failed_request() {
    let mut g = one_asset_copy();
    g.start();
    let first = g.row("asset-1").and_then(|r| r.pid).expect("asset-1 runs");

    let load = Load::start(asset_target(g.private_listen, PACE), LOAD, "steady");
    load.wait_served_by(&["asset-1"], WAIT);
    load.wait_requests(300, WAIT);

    load.phase("restart --rolling asset");
    let (roll, roll_reloads) = g.counted(&["restart", "--rolling", "asset"]);
    println!("{}", roll.stdout);
    assert!(
        roll.stdout.contains("asset-2: started (temporary copy"),
        "{}",
        roll.describe()
    );
    let after_roll = g.row("asset-1").expect("asset-1");
    assert_eq!(after_roll.state, "ready", "{}", roll.describe());
    assert_ne!(after_roll.pid, Some(first), "asset-1 was not restarted");
    assert_back_to_one_copy(&g, "restart --rolling asset");
    load.phase("after the roll");
    load.wait_served_by(&["asset-1"], WAIT);
    load.wait_requests(300, WAIT);

    // An edit of the role: `up` rolls its only copy the same way.
    let manifest = std::fs::read_to_string(&g.manifest).expect("grid.toml");
    std::fs::write(
        &g.manifest,
        format!("{manifest}\n[roles.asset.settings.FakeRobust]\nStartDelayMs = 20\n"),
    )
    .expect("edit grid.toml");
    let before_up = g.row("asset-1").and_then(|r| r.pid);
    load.phase("up after an edit of asset");
    let (up, up_reloads) = g.counted(&["up"]);
    assert!(
        up.stdout.contains("asset-2: started (temporary copy"),
        "{}",
        up.describe()
    );
    assert_ne!(g.row("asset-1").and_then(|r| r.pid), before_up);
    assert_back_to_one_copy(&g, "up after an edit");
    // Nothing left to do: the copy runs the edited config.
    let again = g.gridctl_ok(&["up", "--dry-run"]);
    assert!(
        again
            .stdout
            .lines()
            .any(|l| l.contains("keep asset-1 ") && l.ends_with("# running, config unchanged")),
        "{}",
        again.describe()
    );
    load.phase("after up");
    load.wait_served_by(&["asset-1"], WAIT);
    load.wait_requests(300, WAIT);

    let phases = load.finish();
    let report = summary(&phases);
    eprintln!("{report}");
    let sent: u64 = phases.iter().map(|p| p.ok + p.failed).sum();
    let failed: u64 = phases.iter().map(|p| p.failed).sum();
    println!("surge: {sent} requests sent, {failed} failed");
    assert_eq!(failed, 0, "requests failed:\n{report}");
    // The surge copy really carried requests while asset-1 restarted.
    for p in [&phases[1], &phases[3]] {
        assert!(
            p.by_instance.contains_key("asset-2"),
            "the surge copy answered nothing in `{}`:\n{report}",
            p.name
        );
        assert!(p.gets > 0 && p.posts > 0, "{report}");
    }
    // Two reloads each: surge copy in with the old one out; old one back with the
    // surge copy out (its removal from the config routes nothing and reloads nothing).
    assert_eq!((roll_reloads, up_reloads), (2, 2), "reloads: roll, up");
    let (_, violations) = g.reload_audit();
    assert!(
        violations.is_empty(),
        "a copy was in its upstream while not listening:\n{violations}"
    );
}

#[test]
fn a_surge_copy_that_cannot_start_is_removed_and_the_old_copy_keeps_serving() {
    let mut g = one_asset_copy();
    g.start();
    let first = g.row("asset-1").and_then(|r| r.pid).expect("asset-1 runs");
    // The surge copy's port is taken: it fails to bind and exits.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", g.asset_port + 1))
        .expect("bind the surge copy's port");

    let load = Load::start(asset_target(g.private_listen, PACE), LOAD, "steady");
    load.wait_served_by(&["asset-1"], WAIT);
    load.phase("failed surge");
    let run = g.gridctl(&["restart", "--rolling", "asset"]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains(
            "asset-2, a temporary copy to serve while asset-1 restarts, did not become ready"
        ) && run
            .stderr
            .contains("it was stopped and removed, asset-1 keeps serving and was not restarted"),
        "{}",
        run.describe()
    );
    let row = g.row("asset-1").expect("asset-1");
    assert_eq!((row.state.as_str(), row.pid), ("ready", Some(first)));
    assert_back_to_one_copy(&g, "a failed surge");
    load.wait_requests(300, WAIT);
    drop(squatter);
    let phases = load.finish();
    let report = summary(&phases);
    eprintln!("{report}");
    assert_eq!(
        phases.iter().map(|p| p.failed).sum::<u64>(),
        0,
        "requests failed:\n{report}"
    );
}

/// `GET /get_grid_info` through nginx's public listener on a fresh connection every
/// few milliseconds, each answer (2xx or not) recorded with when it came: how long a
/// restart in place really leaves the role unanswered.
struct GridInfoPoll {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<(Instant, bool)>>>,
    thread: Option<JoinHandle<()>>,
}

impl GridInfoPoll {
    fn start(addr: SocketAddr) -> GridInfoPoll {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let (s, a) = (Arc::clone(&stop), Arc::clone(&answers));
        let thread = std::thread::spawn(move || {
            // Bounded whatever the test does.
            let until = Instant::now() + Duration::from_secs(60);
            while !s.load(Ordering::SeqCst) && Instant::now() < until {
                let mut conn = None;
                let r = request_once(
                    addr,
                    "gridinfo.grid.localhost",
                    "GET",
                    "/get_grid_info",
                    None,
                    false,
                    &mut conn,
                );
                let ok = r.is_ok_and(|a| (200..300).contains(&a.status));
                a.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((Instant::now(), ok));
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        GridInfoPoll {
            stop,
            answers,
            thread: Some(thread),
        }
    }

    fn answers(&self) -> Vec<(Instant, bool)> {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn wait_answers(&self, n: usize, after: Instant) {
        wait_for("grid info answers", WAIT, || {
            let got = self.answers().iter().filter(|(t, _)| *t > after).count();
            (got >= n).then_some(())
        });
    }
}

impl Drop for GridInfoPoll {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_role_that_must_run_as_one_copy_restarts_in_place_and_says_so_first() {
    let mut g = one_asset_copy();
    g.start();
    let first = g.row("core-1").and_then(|r| r.pid).expect("core-1 runs");
    let line = "core-1: restarted in place (griduser and presence caches: a role of one copy); requests in the meantime fail";

    let dry = g.gridctl_ok(&["restart", "--rolling", "core", "--dry-run"]);
    println!("{}", dry.stdout);
    assert!(
        dry.stdout.contains(
            "core-1 restarts in place, listed in nginx throughout  # griduser and presence caches: a role of one copy; requests in the meantime fail"
        ),
        "{}",
        dry.describe()
    );
    assert!(
        !dry.stdout.contains("leaves its upstream"),
        "{}",
        dry.describe()
    );
    let json = g.gridctl_ok(&["restart", "--rolling", "core", "--dry-run", "--json"]);
    let steps: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(serde_json::Value::Null))
        .collect();
    let in_place = steps.iter().find(|s| s["do"] == "in_place");
    assert!(
        in_place.is_some_and(|s| s["instance"] == "core-1"
            && s["reason"]["why"] == "one_copy"
            && s["reason"]["detail"] == "griduser and presence caches: a role of one copy"),
        "{}",
        json.describe()
    );

    let poll = GridInfoPoll::start(g.public_listen);
    poll.wait_answers(50, Instant::now());
    assert!(
        poll.answers().iter().all(|(_, ok)| *ok),
        "grid info fails before the restart"
    );
    let began = Instant::now();
    let (run, reloads) = g.counted(&["restart", "--rolling", "core"]);
    println!("{}", run.stdout);
    let ended = Instant::now();
    // Once `restart` returns the copy is ready, and nginx listed it throughout: the very
    // next requests are answered, no reload needed.
    poll.wait_answers(50, ended);
    let answers = poll.answers();
    drop(poll);
    let during: Vec<bool> = answers
        .iter()
        .filter(|(t, _)| *t > began && *t <= ended)
        .map(|(_, ok)| *ok)
        .collect();
    let failed = during.iter().filter(|ok| !**ok).count();
    println!(
        "in place: {} get_grid_info requests during the {} ms restart, {failed} failed",
        during.len(),
        (ended - began).as_millis()
    );
    let after: Vec<bool> = answers
        .iter()
        .filter(|(t, _)| *t > ended)
        .map(|(_, ok)| *ok)
        .collect();
    assert!(
        after.iter().all(|ok| *ok),
        "requests failed after the copy was back: {after:?}"
    );
    let said = run.stdout.find(line);
    let restarted = run.stdout.find("core-1: restarted\n");
    assert!(
        said.is_some() && restarted.is_some() && said < restarted,
        "said before acting:\n{}",
        run.describe()
    );
    // In place: no reload, no drain; nginx kept it listed throughout.
    assert_eq!(reloads, 0, "{}", run.describe());
    let row = g.row("core-1").expect("core-1");
    assert_eq!(row.state, "ready");
    assert_ne!(row.pid, Some(first));
    let names: Vec<String> = g.status().into_iter().map(|r| r.name).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("core-")).count(), 1);
}

/// Takes `port` the moment it is free (polling every 200 µs) and holds it until told:
/// the restarted copy then cannot bind it. `won()` says whether it got the port.
struct Squatter {
    stop: Arc<AtomicBool>,
    won: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Squatter {
    fn start(port: u16) -> Squatter {
        let stop = Arc::new(AtomicBool::new(false));
        let won = Arc::new(AtomicBool::new(false));
        let (s, w) = (Arc::clone(&stop), Arc::clone(&won));
        let thread = std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(30);
            while !s.load(Ordering::SeqCst) && Instant::now() < until {
                if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                    w.store(true, Ordering::SeqCst);
                    while !s.load(Ordering::SeqCst) && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    drop(listener);
                    return;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        Squatter {
            stop,
            won,
            thread: Some(thread),
        }
    }

    fn won(&self) -> bool {
        self.won.load(Ordering::SeqCst)
    }
}

impl Drop for Squatter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn when_the_old_copy_does_not_come_back_the_surge_copy_keeps_serving_and_is_named() {
    let mut g = one_asset_copy();
    g.start();
    // asset-1's port is taken the moment its restart frees it: it cannot come back.
    let squatter = Squatter::start(g.asset_port);
    let load = Load::start(asset_target(g.private_listen, PACE), LOAD, "steady");
    load.wait_served_by(&["asset-1"], WAIT);

    load.phase("roll, asset-1 does not come back");
    let run = g.gridctl(&["restart", "--rolling", "asset"]);
    assert!(
        squatter.won(),
        "asset-1 got its port back first:\n{}",
        run.describe()
    );
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains("asset-1 did not become ready")
            && run.stderr.contains(
                "asset-2 (role asset) still run(s): the temporary copy may be its role's only serving one"
            ),
        "{}",
        run.describe()
    );
    let conf = std::fs::read_to_string(&g.output).unwrap_or_default();
    assert_eq!(
        serving_in(&conf, "gridctl_asset_private"),
        ["asset-2"],
        "{conf}"
    );
    load.wait_served_by(&["asset-2"], WAIT);
    load.wait_requests(300, WAIT);

    // Fixed: the port is free again; asset-1 restarts (nothing to drain: it is out),
    // then `up` drains the temporary copy out and removes it.
    drop(squatter);
    load.phase("recovery");
    g.gridctl_ok(&["restart", "asset-1"]);
    load.wait_served_by(&["asset-1"], WAIT);
    // That reload rendered grid.toml's upstream, which has no asset-2: it is out, but an
    // old nginx worker may still hand it requests until it exits. `up` below stops
    // asset-2 without a drain of its own (its reload changes nothing), so the test lets
    // the old worker finish first, as an operator's pause between the two would.
    wait_for("the old nginx worker to exit", WAIT, || {
        (g.nginx_workers().len() == 1).then_some(())
    });
    let up = g.gridctl_ok(&["up"]);
    assert!(
        up.stdout.contains("asset-2: stopped (undeclared)"),
        "{}",
        up.describe()
    );
    assert_back_to_one_copy(&g, "the recovery");
    load.wait_requests(300, WAIT);
    let phases = load.finish();
    let report = summary(&phases);
    eprintln!("{report}");
    assert_eq!(
        phases.iter().map(|p| p.failed).sum::<u64>(),
        0,
        "requests failed:\n{report}"
    );
}

/// Issue 19.2: `restart --rolling` of a one-copy role killed half-way (a dropped SSH
/// session, or worse, SIGKILL) left asset-1 marked down and the surge copy serving; the
/// next re-render (`nginx reload`, a crash hook's `nginx sync`) then took the serving
/// copy out and kept asset-1 down: every request answered 502 until `up`. Now the
/// re-render puts asset-1 back, status agrees with the installed file throughout, and
/// `up` removes the surge copy.
#[test]
fn an_interrupted_surge_never_leaves_its_role_without_a_serving_copy() {
    let mut g = one_asset_copy();
    g.start();
    // A first roll that completes: its surge copy's logs are retired under `asset-2`.
    let done = g.gridctl(&["restart", "--rolling", "asset"]);
    assert!(done.ok(), "{}", done.describe());
    // Then a drain long enough to kill the next roll while asset-1 is marked down.
    let text = std::fs::read_to_string(&g.manifest).expect("grid.toml");
    assert!(text.contains("drain = \"300ms\""), "{text}");
    std::fs::write(
        &g.manifest,
        text.replace("drain = \"300ms\"", "drain = \"30s\""),
    )
    .expect("edit grid.toml");
    let manifest = g.manifest.display().to_string();
    let mut roll = std::process::Command::new(GRIDCTL)
        .args(["-f", &manifest, "restart", "--rolling", "asset"])
        .current_dir(g.root())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the roll");
    // The surge copy in, asset-1 marked down: the roll drains for 30 s now.
    let conf = wait_for("asset-1 marked down, asset-2 serving", WAIT, || {
        let conf = std::fs::read_to_string(&g.output).ok()?;
        let serving = serving_in(&conf, "gridctl_asset_private");
        (serving == ["asset-2"]).then_some(conf)
    });
    kill(roll.id(), libc::SIGKILL);
    let _ = roll.wait();
    g.record_pids();
    assert!(conf.contains("# asset-1 (draining)"), "{conf}");
    let (listed, shown) = g.serving("gridctl_asset_private", "asset");
    assert_eq!(
        listed, shown,
        "status disagrees with the installed nginx file"
    );
    // `logs asset-2` is the copy that serves now, not the retired one of the first roll.
    let logs = g.gridctl_ok(&["logs", "asset-2"]);
    assert!(
        logs.stderr
            .contains("is not in grid.toml (left by an interrupted command"),
        "{}",
        logs.describe()
    );

    // The re-render an operator (or a crash hook) does next: asset-1 serves again.
    g.gridctl_ok(&["nginx", "reload"]);
    let conf = std::fs::read_to_string(&g.output).expect("nginx config");
    assert_eq!(
        serving_in(&conf, "gridctl_asset_private"),
        ["asset-1"],
        "the role's copy stayed out:\n{conf}"
    );
    let target = asset_target(g.private_listen, PACE);
    for _ in 0..20 {
        let answer = request_once(
            target.addr,
            &target.host,
            "GET",
            "/assets/00000000-0000-0000-0000-000000000000",
            None,
            false,
            &mut None,
        )
        .expect("a request through nginx");
        assert_ne!(answer.status, 502, "the role answers 502");
    }
    // `up` retires the temporary copy the roll left: the grid is as declared.
    g.gridctl_ok(&["up"]);
    assert_back_to_one_copy(&g, "up after an interrupted roll");
}
