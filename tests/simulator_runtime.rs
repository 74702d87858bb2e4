//! Simulators run by the real `gridctl` on the fake (which plays `OpenSim.exe` as measured,
//! docs/simulator.md §8): the order of `up` and `down`, the estate owner check, readiness
//! from `LOGINS ENABLED` and the grid's registration, `restart --notify`, a start that asks
//! a question, and a failed registration reported at once. The real run is
//! `tests/real_robust.rs`.

mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use std::time::{Duration, Instant};

/// Two simulators on top of the standard grid (ports base+6.., a region's UDP port the
/// same number as its simulator's HTTP port, as OpenSim does).
fn simulators(base: u16, owner: &str, more: &str) -> String {
    format!(
        r#"[simulator]
command = ["{fake}", "OpenSim.exe"]
estate_name = "Test Estate"
estate_owner = "{owner}"
external_host = "127.0.0.1"
internal_address = "127.0.0.1"

[simulators.mainland]
http_port = {a}

[[simulators.mainland.regions]]
name = "Welcome"
location = "1000,1000"
port = {a}

[[simulators.mainland.regions]]
name = "Sandbox"
location = "1001,1000"
port = {a1}

[simulators.islands]
http_port = {b}

[[simulators.islands.regions]]
name = "Island One"
location = "1010,1010"
port = {b}
{more}
"#,
        fake = FAKE_ROBUST,
        a = base + 6,
        a1 = base + 7,
        b = base + 8,
    )
}

fn grid(owner: &str, more: &str) -> Grid {
    Grid::new(16, |base| {
        manifest(base, "", &simulators(base, owner, more))
    })
}

fn create_ada(g: &Grid) {
    let made = g.run(&[
        "send",
        "core-1",
        "create user Ada Lovelace pw ada@example.org",
        "-a",
        "",
        "-a",
        "",
    ]);
    assert!(made.ok(), "create user: {made}");
}

#[test]
fn simulators_start_after_robust_once_their_owner_exists_and_stop_first() {
    let g = grid("Ada Lovelace", "");
    // A fresh grid: Robust starts, the simulators are refused with the fix.
    let up = g.run_with(&["up", "--wait"], Duration::from_secs(60));
    assert!(
        !up.ok(),
        "simulators started without their estate owner: {up}"
    );
    let said = format!("{}{}", up.stdout, up.stderr);
    assert!(
        said.contains("estate owner `Ada Lovelace` is not a user of the grid")
            && said.contains("gridctl send core-1 \"create user Ada Lovelace"),
        "{up}"
    );
    let rows = g.status();
    for n in STANDARD {
        assert_eq!(row(&rows, n).state, "ready", "{n}: {rows:#?}");
    }
    for n in ["mainland", "islands"] {
        assert_eq!(row(&rows, n).state, "stopped", "{n}");
    }

    create_ada(&g);
    let up = g.run_with(&["up", "--wait"], Duration::from_secs(60));
    assert!(up.ok(), "up --wait: {up}");
    // Started after every Robust copy was up (the copies were already: nothing else ran).
    let rows = g.status();
    for (n, region) in [
        ("mainland", "Sandbox (1001,1000"),
        ("islands", "Island One"),
    ] {
        let r = row(&rows, n);
        assert_eq!(r.state, "ready", "{n}: {r:#?}");
        assert_eq!(r.kind, gridctl::plan::Kind::Simulator);
        assert!(r.detail.contains(region), "{n}: {r:#?}");
        let log = g.console_log(n);
        assert!(log.contains("LOGINS ENABLED"), "{n}:\n{log}");
    }
    let table = g.ok(&["status"]).stdout;
    assert!(
        table.starts_with("INSTANCE     KIND       STATE"),
        "{table}"
    );
    assert!(table.contains("mainland     simulator  ● ready"), "{table}");
    // The grid knows every region (asked as gridctl's readiness asks it).
    let regions = g.ok(&["send", "mainland", "show regions"]).stdout;
    assert!(
        regions.contains("Welcome") && regions.contains("Sandbox"),
        "{regions}"
    );

    // down: the simulators first, then Robust.
    let down = g.run_with(&["down"], Duration::from_secs(60));
    assert!(down.ok(), "down: {down}");
    let at = |name: &str| {
        down.stdout
            .lines()
            .position(|l| l.contains(&format!("{name}: stopped")))
            .unwrap_or_else(|| panic!("{name} not stopped:\n{}", down.stdout))
    };
    assert!(
        at("mainland") < at("core-1") && at("islands") < at("asset-1"),
        "{}",
        down.stdout
    );
    for n in ["mainland", "islands"] {
        assert!(
            !g.instance_dir(n).join("OpenSim.pid").exists(),
            "{n} left its PID file"
        );
        assert!(
            g.holder_log(n).contains("stopped: exit 0 after `shutdown`"),
            "{n}: {}",
            g.holder_log(n)
        );
    }
}

#[test]
fn restart_notify_types_the_alert_countdown_then_restarts_in_place() {
    let g = grid("Ada Lovelace", "");
    let _ = g.run_with(&["up", "--wait"], Duration::from_secs(60));
    create_ada(&g);
    g.ok(&["up", "--wait"]);
    let before = row(&g.status(), "mainland").pid;
    let dry = g
        .ok(&["restart", "--dry-run", "--notify", "2s", "mainland"])
        .stdout;
    assert!(
        dry.contains("first: an alert countdown of 2s in mainland"),
        "{dry}"
    );
    assert!(
        !dry.contains("nginx"),
        "a simulator restart touches nginx:\n{dry}"
    );
    let started = Instant::now();
    let out = g.run_with(
        &["restart", "--notify", "2s", "mainland"],
        Duration::from_secs(60),
    );
    assert!(out.ok(), "{out}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "no countdown: {out}"
    );
    assert!(
        out.stdout
            .contains("mainland: alert This region restarts in 2s."),
        "{out}"
    );
    let log = g.console_log("mainland");
    assert!(
        log.contains("[DIALOG]: Sending general alert in region Welcome with message This region restarts in 2s."),
        "{log}"
    );
    let rows = g.status();
    let r = row(&rows, "mainland");
    assert_eq!(r.state, "ready");
    assert_ne!(r.pid, before, "not restarted");
    assert_eq!(r.restarts, 1);
}

#[test]
fn a_start_that_asks_shows_the_question_and_a_failed_registration_shows_at_once() {
    // An estate owner blanked by a setting: the simulator asks for one on its console.
    let g = grid(
        "Ada Lovelace",
        r#"
[simulators.islands.settings.Estates]
DefaultEstateOwnerName = ""

[simulators.mainland.settings.FakeRobust]
RegisterFail = "Region overlaps another region"

# It hangs for good, as the real one (simulator.md): no need to wait 20s for `shutdown`.
[simulators.mainland.supervise]
stop_timeout = "2s"
sigint_timeout = "1s"
"#,
    );
    let _ = g.run_with(&["up", "--wait"], Duration::from_secs(60));
    create_ada(&g);
    let started = Instant::now();
    // Without --wait (and without nginx) `up` starts them and returns.
    let _ = g.run_with(&["up"], Duration::from_secs(60));
    let rows = g.wait_status("islands to ask", Duration::from_secs(20), |rows| {
        row(rows, "islands")
            .detail
            .starts_with("waiting for an answer: ")
    });
    let asking = row(&rows, "islands").detail.clone();
    assert!(
        asking.contains("Estate owner first name"),
        "the question is not shown: {asking}"
    );
    // Answered through `send`, the start goes on to ready.
    let answered = g.run(&["send", "islands", "Ada", "-a", "Lovelace"]);
    assert!(answered.ok(), "{answered}");
    g.wait_status("islands ready", Duration::from_secs(20), |rows| {
        row(rows, "islands").state == "ready"
    });
    // mainland's registration is refused: degraded at once with the ERROR line, not
    // after the readiness timeout (the real simulator hangs for good then).
    let rows = g.wait_status("mainland degraded", Duration::from_secs(20), |rows| {
        row(rows, "mainland").state == "degraded"
    });
    let detail = row(&rows, "mainland").detail.clone();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        detail.contains("Registration of region with grid failed")
            || detail.contains("Region overlaps"),
        "{detail}"
    );
    let down = g.run_with(&["down"], Duration::from_secs(90));
    assert!(down.ok(), "a hung simulator must still stop: {down}");
}
