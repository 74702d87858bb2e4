//! End-to-end tests of the running grid (issue 3): the real `gridctl` binary drives
//! holders that run the fake Robust on real PTYs, from manifests written into scratch
//! directories, on free loopback ports.
//!
//! Every process a test starts is ended by pid, on every path: the `Grid` drop runs
//! `gridctl down`, then SIGKILLs what is left of the pids it saw (only those whose
//! command line still names the test's own scratch directory).
//! Waiting is always polling a condition with a deadline.

mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use gridctl::protocol::{
    decode_control, read_frame, write_control, ClientMessage, HolderMessage, KIND_CONTROL,
    PROTOCOL_VERSION,
};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// Exactly one fake Robust and one holder per standard instance: nothing duplicated, nothing missing.
fn assert_one_fake_and_one_holder_each(g: &Grid) {
    assert_eq!(
        per_instance(&g.fakes()),
        one_each(STANDARD),
        "{:?}",
        g.processes()
    );
    assert_eq!(
        per_instance(&g.holders()),
        one_each(STANDARD),
        "{:?}",
        g.processes()
    );
}

fn all_in_state(rows: &[Row], state: &str) -> bool {
    rows.iter().all(|r| r.state == state)
}

/// Counts live processes per instance name.
fn per_instance(procs: &[(u32, String)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (_, name) in procs {
        *m.entry(name.clone()).or_insert(0) += 1;
    }
    m
}

fn one_each(names: &[&str]) -> BTreeMap<String, usize> {
    names.iter().map(|n| (n.to_string(), 1)).collect()
}

// 1 -------------------------------------------------------------------------------

#[test]
fn up_status_down_round_trip() {
    let g = Grid::standard("", "");
    let up = g.up();
    for name in STANDARD {
        assert!(up.stdout.contains(&format!("{name}: started")), "{up}");
        assert!(
            ready_after(&up.stdout, name).is_some(),
            "{name} not reported ready: {up}"
        );
    }
    let rows = g.status();
    assert_eq!(rows.len(), STANDARD.len(), "{rows:#?}");
    assert!(all_in_state(&rows, "ready"), "{rows:#?}");
    let mut holders = Vec::new();
    let mut children = Vec::new();
    for r in &rows {
        let (pid, hpid) = (r.pid.expect("child pid"), r.holder_pid.expect("holder pid"));
        assert!(alive(pid) && alive(hpid), "{r:?}");
        holders.push(hpid);
        children.push(pid);
        assert!(g.socket(&r.name).exists());
        assert!(g.instance_dir(&r.name).join("holder.pid").exists());
    }
    assert_eq!(per_instance(&g.fakes()), one_each(STANDARD));
    assert_eq!(per_instance(&g.holders()), one_each(STANDARD));

    let down = g.ok(&["down"]);
    for name in STANDARD {
        assert!(down.stdout.contains(&format!("{name}: stopped")), "{down}");
    }
    let rows = g.status();
    assert!(all_in_state(&rows, "stopped"), "{rows:#?}");
    assert!(
        rows.iter()
            .all(|r| r.pid.is_none() && r.holder_pid.is_none()),
        "{rows:#?}"
    );
    // `down` returns once each child is reaped; the holder exits right after replying.
    wait_for("holders and children to be gone", SECS(5), || {
        holders
            .iter()
            .chain(&children)
            .all(|p| !alive(*p))
            .then_some(())
    });
    assert!(g.processes().is_empty(), "left behind: {:?}", g.processes());
    let socks: Vec<_> = std::fs::read_dir(g.state.join("sock"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(socks.is_empty(), "sockets left: {socks:?}");
    for name in STANDARD {
        assert!(
            !g.instance_dir(name).join("holder.pid").exists(),
            "{name}: holder.pid left"
        );
    }
    // A second `down` has nothing to do and still succeeds.
    g.ok(&["down"]);
}

// 2 -------------------------------------------------------------------------------

#[test]
fn up_twice_is_a_no_op() {
    let g = Grid::standard("", "");
    g.up();
    let before = g.status();
    let again = g.up();
    for name in STANDARD {
        assert!(
            again.stdout.contains(&format!("{name}: unchanged")),
            "{again}"
        );
    }
    assert!(
        !again.stdout.contains("started") && !again.stdout.contains("restarting"),
        "{again}"
    );
    let after = g.status();
    for b in &before {
        let a = row(&after, &b.name);
        assert_eq!(
            (a.pid, a.holder_pid, a.restarts),
            (b.pid, b.holder_pid, b.restarts),
            "{}",
            b.name
        );
        assert_eq!(a.state, "ready");
    }
    assert_eq!(per_instance(&g.fakes()), one_each(STANDARD));
}

// 3 -------------------------------------------------------------------------------

#[test]
fn attach_through_a_real_pty() {
    let g = Grid::standard("", "");
    g.up();
    let before = row(&g.status(), "core-1").clone();

    let mut s = g.attach_pty(&["attach", "core-1"], 60, 200);
    s.wait_screen("the replayed startup", SECS(10), |scr| {
        scr.contains("loaded successfully") && scr.contains(PROMPT.trim_end())
    });
    // The banner comes before the replay (which redraws the whole screen).
    assert!(
        s.text()
            .contains("[gridctl] attached to core-1 — detach with Ctrl-]"),
        "{}",
        s.text()
    );
    let screen = s.screen();
    assert!(
        screen.contains("[SERVER]: Starting fake Robust"),
        "replay lacks startup lines:\n{screen}"
    );
    assert!(
        screen.contains("LLLoginServiceInConnector loaded successfully"),
        "{screen}"
    );
    assert_eq!(row(&g.status(), "core-1").viewers, 1);

    s.type_bytes(b"show version\r");
    s.wait_screen("the answer to `show version`", SECS(5), |scr| {
        scr.contains("Version: OpenSim 0.9.3.1")
    });
    s.type_bytes(&[0x1d]);
    let status = s
        .wait_exit(SECS(5))
        .expect("attach did not exit after Ctrl-]");
    assert!(status.success(), "attach exited {status:?}: {}", s.text());
    assert!(
        s.text()
            .contains("[gridctl] detached from core-1 (still running)"),
        "{}",
        s.text()
    );

    let after = g.wait_status("the viewer to be gone", SECS(5), |rows| {
        row(rows, "core-1").viewers == 0
    });
    let a = row(&after, "core-1");
    assert_eq!(
        (a.state.as_str(), a.pid, a.holder_pid),
        ("ready", before.pid, before.holder_pid)
    );
    assert!(g.console_log("core-1").contains("Version: OpenSim 0.9.3.1"));

    // Read-only: typed keys never reach the console. A later `send` goes through the
    // same console input in order, so once its answer is on this viewer's screen the
    // typed line would have been executed already.
    let mut ro = g.attach_pty(&["attach", "--read-only", "core-1"], 60, 200);
    ro.wait_screen("the replay", SECS(10), |scr| {
        scr.contains(PROMPT.trim_end())
    });
    assert!(
        ro.text().contains("attached to core-1 (read-only)"),
        "{}",
        ro.text()
    );
    ro.type_bytes(b"show info\r");
    let sent = g.ok(&["send", "core-1", "show", "uptime"]);
    assert!(
        sent.stdout.contains("Server has been running since"),
        "{sent}"
    );
    ro.wait_screen(
        "the send's answer on the read-only viewer",
        SECS(5),
        |scr| scr.contains("Which is "),
    );
    assert!(
        !ro.screen().contains("Startup directory"),
        "read-only input reached the console:\n{}",
        ro.screen()
    );
    assert!(!g.console_log("core-1").contains("Startup directory"));
    ro.type_bytes(&[0x1d]);
    let status = ro
        .wait_exit(SECS(5))
        .expect("read-only attach did not exit");
    assert!(status.success());

    // An unknown instance: usage error naming the known ones, before touching the terminal.
    let bad = g.run(&["attach", "nope-7"]);
    assert_eq!(bad.code, Some(2), "{bad}");
    for name in STANDARD {
        assert!(
            bad.stderr.contains(name),
            "known instance {name} not listed: {bad}"
        );
    }
}

// 4 -------------------------------------------------------------------------------

#[test]
fn send_to_one_instance_and_to_a_role() {
    let g = Grid::standard("", "");
    g.up();
    let out = g.ok(&["send", "core-1", "show", "uptime"]);
    assert!(
        out.stdout.contains("Server has been running since"),
        "{out}"
    );
    assert!(out.stdout.contains("Which is 00:00:"), "{out}");
    assert!(
        !out.stdout.contains(PROMPT.trim_end()),
        "prompt not cleaned: {out}"
    );

    let out = g.ok(&["send", "--role", "asset", "show", "version"]);
    assert_eq!(
        out.stdout.matches("Version: OpenSim 0.9.3.1").count(),
        2,
        "{out}"
    );
    let (a1, a2) = (
        out.stdout.find("== asset-1 ==").expect("asset-1 header"),
        out.stdout.find("== asset-2 ==").expect("asset-2 header"),
    );
    assert!(a1 < a2, "{out}");
    assert!(
        !out.stdout.contains("core-1") && !out.stdout.contains("inventory-1"),
        "{out}"
    );

    // Errors: unknown instance (usage), unknown role (usage).
    let bad = g.run(&["send", "core-9", "show", "uptime"]);
    assert_eq!(bad.code, Some(2), "{bad}");
    let bad = g.run(&["send", "--role", "nope", "show", "uptime"]);
    assert_eq!(bad.code, Some(2), "{bad}");
}

// 5 -------------------------------------------------------------------------------

/// Runs the fake alone on a PTY that never answers `ESC[6n`, with the instance's own
/// spec (command line, cwd, environment); returns how long it takes to show a prompt.
fn unanswered_prompt_delay(g: &Grid, name: &str) -> Duration {
    use portable_pty::{native_pty_system, CommandBuilder, PtySize};
    let spec: gridctl::spec::InstanceSpec =
        gridctl::spec::InstanceSpec::load(&g.instance_dir(name).join("holder.json"))
            .expect("holder.json");
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("openpty");
    let mut cmd = CommandBuilder::new(&spec.program);
    cmd.args(&spec.args);
    cmd.cwd(&spec.cwd);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = pair.slave.spawn_command(cmd).expect("spawn the fake");
    drop(pair.slave);
    if let Some(pid) = child.process_id() {
        g.record(pid);
    }
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let took = loop {
        if let Ok(b) = rx.recv_timeout(Duration::from_millis(20)) {
            seen.extend(b);
        }
        if String::from_utf8_lossy(&seen).contains(PROMPT) {
            break start.elapsed();
        }
        if start.elapsed() > SECS(10) {
            break start.elapsed();
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        String::from_utf8_lossy(&seen).contains("\x1b[6n"),
        "the fake sent no cursor query"
    );
    took
}

#[test]
fn cursor_position_queries_are_answered() {
    let g = Grid::standard("", "");
    let up = g.up();
    // Unanswered, the first prompt alone would take a second (robust.md §5).
    for name in STANDARD {
        let t = ready_after(&up.stdout, name).unwrap_or_else(|| panic!("{name}: {up}"));
        assert!(
            t < 0.8,
            "{name} took {t}s to get ready: is ESC[6n answered? {up}"
        );
    }
    // Every prompt asks again: three commands straight through the holder's socket.
    let mut c =
        gridctl::client::HolderClient::connect(&g.socket("core-1"), SECS(5)).expect("connect");
    for _ in 0..3 {
        let t0 = Instant::now();
        let out = c
            .send_line("show version", Duration::from_millis(50), SECS(5))
            .expect("send_line");
        let took = t0.elapsed();
        assert!(out.contains("Version: OpenSim"), "{out}");
        assert!(
            took < Duration::from_millis(900),
            "`show version` took {took:?}: the prompt stalled"
        );
    }
    drop(c);
    // The control: the same fake, same command line, on a PTY that does not answer,
    // does stall — so the checks above would fail if the holder stopped answering.
    g.ok(&["down", "core-1"]);
    let stalled = unanswered_prompt_delay(&g, "core-1");
    assert!(
        stalled >= Duration::from_millis(900),
        "the fake did not stall unanswered ({stalled:?}); the test proves nothing"
    );
}

// 6 -------------------------------------------------------------------------------

#[test]
fn graceful_stop_removes_the_pid_file() {
    let g = Grid::standard("", "");
    g.up();
    let rows = g.status();
    let pidfile = g.instance_dir("asset-1").join("Robust.pid");
    let pid = row(&rows, "asset-1").pid.expect("pid");
    assert_eq!(
        std::fs::read_to_string(&pidfile)
            .expect("Robust.pid while running")
            .trim(),
        pid.to_string()
    );

    let t0 = Instant::now();
    let out = g.ok(&["down", "asset-1"]);
    assert!(
        t0.elapsed() < SECS(3),
        "graceful stop took {:?}",
        t0.elapsed()
    );
    assert!(out.stdout.contains("asset-1: stopped"), "{out}");
    assert!(!pidfile.exists(), "Robust.pid left after a graceful stop");
    assert!(!alive(pid));
    assert!(
        g.holder_log("asset-1")
            .contains("stopped: exit 0 after `shutdown`"),
        "{}",
        g.holder_log("asset-1")
    );
    assert!(g.console_log("asset-1").contains("[CONSOLE]: Quitting"));
    // The others were not touched.
    let rows = g.status();
    assert_eq!(row(&rows, "asset-1").state, "stopped");
    for name in ["core-1", "asset-2", "inventory-1"] {
        assert_eq!(row(&rows, name).state, "ready", "{name}");
    }
}

// 7 -------------------------------------------------------------------------------

#[test]
fn a_child_that_ignores_every_polite_stop_is_killed() {
    let g = Grid::new(16, |base| {
        manifest(
            base,
            "stop_timeout = \"300ms\"\nsigint_timeout = \"300ms\"\nsigterm_timeout = \"300ms\"",
            &format!(
                "[roles.stubborn]\nservices = [\"agentprefs\"]\nport = {}\n\n\
                 [roles.stubborn.settings.FakeRobust]\nIgnoreShutdown = true\nIgnoreSigterm = true\n",
                base + 6
            ),
        )
    });
    g.ok(&["up", "--wait", "stubborn"]);
    let r = row(&g.status(), "stubborn-1").clone();
    let pid = r.pid.expect("pid");
    let t0 = Instant::now();
    let out = g.ok(&["down", "stubborn"]);
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(3000),
        "down took {took:?}: {out}"
    );
    assert!(
        took >= Duration::from_millis(900),
        "down was too quick ({took:?}) to have waited each step"
    );
    assert!(!alive(pid), "child {pid} survived");
    let log = g.holder_log("stubborn-1");
    assert!(log.contains("stopped: signal 9 after SIGKILL"), "{log}");
    // It did hear the polite requests: `shutdown` and SIGINT both log "Quitting".
    assert!(
        g.console_log("stubborn-1")
            .matches("[CONSOLE]: Quitting")
            .count()
            >= 2,
        "{}",
        g.console_log("stubborn-1")
    );
    wait_for("the holder to exit", SECS(5), || {
        (!alive(r.holder_pid.unwrap())).then_some(())
    });
}

/// Each phase of a stop is the status detail while it happens (issue 12): a client
/// polling `Status` sees the command, then every escalation with its time.
#[test]
fn status_detail_shows_each_phase_of_an_escalated_stop() {
    let g = Grid::new(16, |base| {
        manifest(
            base,
            "stop_timeout = \"700ms\"\nsigint_timeout = \"700ms\"\nsigterm_timeout = \"700ms\"",
            &format!(
                "[roles.stubborn]\nservices = [\"agentprefs\"]\nport = {}\n\n\
                 [roles.stubborn.settings.FakeRobust]\nIgnoreShutdown = true\nIgnoreSigterm = true\n",
                base + 6
            ),
        )
    });
    g.ok(&["up", "--wait", "stubborn"]);
    let r = row(&g.status(), "stubborn-1").clone();
    let mut down = g.spawn(&["down", "stubborn"]);
    // Until the holder is gone.
    let seen = watch_details(&g.socket("stubborn-1"), SECS(15), |_| false);
    assert!(
        down.wait(SECS(10)).is_some_and(|s| s.success()),
        "down failed"
    );
    // SIGKILL ends the child at once, so its phase is up for a moment only: the
    // holder log, which records every phase, shows it below.
    let phases = [
        "stopping: stop requested: shutdown sent",
        "stopping: stop requested: SIGINT after ",
        "stopping: stop requested: SIGTERM after ",
    ];
    let mut at = 0;
    for phase in phases {
        let found = seen[at..].iter().position(|d| d.starts_with(phase));
        assert!(found.is_some(), "no `{phase}` after {at} in {seen:#?}");
        at += found.unwrap_or_default();
    }
    // The times are humantime's, since the stop began: 700ms, then 1.4s, then 2.1s.
    let after = |sig: &str| {
        seen.iter()
            .find_map(|d| human_ms(d.split_once(&format!("{sig} after "))?.1))
            .map(Duration::from_millis)
            .unwrap_or_else(|| panic!("no {sig} time in {seen:#?}"))
    };
    assert!(after("SIGINT") >= Duration::from_millis(700), "{seen:#?}");
    assert!(after("SIGTERM") >= Duration::from_millis(1400), "{seen:#?}");
    assert!(!alive(r.pid.expect("pid")), "the child survived");
    let log = g.holder_log("stubborn-1");
    let killed = log
        .lines()
        .find_map(|l| human_ms(l.split_once("stop requested: SIGKILL after ")?.1))
        .unwrap_or_else(|| panic!("no SIGKILL phase in the holder log: {log}"));
    assert!(killed >= 2100, "{log}");
}

/// Startup progress is the status detail while a copy starts (issue 12): connectors
/// counted as they load, then the wait for the prompt.
#[test]
fn status_detail_shows_startup_progress() {
    let g = Grid::standard("", "[roles.core.settings.FakeRobust]\nLoadDelayMs = 250\n");
    let mut up = g.spawn(&["up", "--wait", "core"]);
    let seen = watch_details(&g.socket("core-1"), SECS(30), |s| {
        s.state != gridctl::protocol::InstanceState::Starting
    });
    assert!(
        up.wait(SECS(20)).is_some_and(|s| s.success()),
        "up failed: {seen:#?}"
    );
    let counts: Vec<(u32, u32)> = seen
        .iter()
        .filter_map(|d| {
            let (k, n) = d
                .strip_prefix("starting: services loaded ")?
                .split_once('/')?;
            Some((k.parse().ok()?, n.parse().ok()?))
        })
        .collect();
    let n = counts.first().map(|c| c.1).unwrap_or_default();
    assert!(n >= 5, "core expects its connectors: {seen:#?}");
    assert!(
        counts.iter().any(|&(k, m)| k > 0 && k < n && m == n),
        "no partial count seen: {seen:#?}"
    );
    assert!(
        counts.windows(2).all(|w| w[0].0 < w[1].0),
        "counts only grow: {seen:#?}"
    );
    let prompt = seen
        .iter()
        .position(|d| d == "starting: waiting for the prompt")
        .unwrap_or_else(|| panic!("no prompt wait: {seen:#?}"));
    // Then, at most, the probe (when the role has one), and ready.
    assert_eq!(
        seen.last().map(String::as_str),
        Some("ready: "),
        "{seen:#?}"
    );
    assert!(
        seen[prompt + 1..seen.len() - 1]
            .iter()
            .all(|d| d.starts_with("starting: probing ") || d == "starting: console ready"),
        "{seen:#?}"
    );
    eprintln!("details seen: {seen:#?}");
}

/// Milliseconds in a duration as `gridctl_wire::human` writes it (`700ms`, `1s 400ms`).
fn human_ms(text: &str) -> Option<u64> {
    text.split(' ').try_fold(0, |total, part| {
        let split = part.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = part.split_at(split);
        let n: u64 = n.parse().ok()?;
        let scale = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            _ => return None,
        };
        Some(total + n * scale)
    })
}

/// Polls a holder's `Status` (every 20 ms) until `until` holds or the holder is gone
/// (after it answered once); returns each `state: detail` it saw, repeats dropped.
fn watch_details(
    socket: &std::path::Path,
    within: Duration,
    until: impl Fn(&gridctl::protocol::InstanceStatus) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let status =
            gridctl::client::HolderClient::connect(socket, SECS(2)).and_then(|mut c| c.status());
        match status {
            Ok(s) => {
                let line = format!("{}: {}", s.state.as_str(), s.detail);
                if seen.last() != Some(&line) {
                    seen.push(line);
                }
                if until(&s) {
                    return seen;
                }
            }
            Err(_) if !seen.is_empty() => return seen,
            Err(_) => {}
        }
        assert!(Instant::now() < deadline, "timed out; saw {seen:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// 8 -------------------------------------------------------------------------------

#[test]
fn a_crashing_instance_backs_off_then_stops_in_crash_loop() {
    let g = Grid::new(16, |base| {
        manifest(
            base,
            "backoff_initial = \"100ms\"\ncrash_loop_count = 4\ncrash_loop_window = \"30s\"",
            &format!(
                "[roles.crashy]\nservices = [\"agentprefs\"]\nport = {}\n\n\
                 [roles.crashy.settings.FakeRobust]\nCrashAfterMs = 300\n",
                base + 6
            ),
        )
    });
    // It does get ready before each crash.
    g.ok(&["up", "--wait", "crashy"]);
    let rows = g.wait_status("crash-loop", SECS(10), |rows| {
        row(rows, "crashy-1").state == "crash-loop"
    });
    let r = row(&rows, "crashy-1");
    // Four crashes (three automatic restarts, then the crash loop), no operator restart.
    assert_eq!((r.crashes, r.restarts), (4, 0), "{r:?}");
    assert!(r.pid.is_none(), "{r:?}");
    assert!(
        r.detail.contains("4 crashes") && r.detail.contains("restart"),
        "{r:?}"
    );
    assert_eq!(r.last_exit.as_deref(), Some("exit 1"), "{r:?}");
    let table = g.ok(&["status"]);
    assert!(
        table.stdout.lines().any(|l| l.starts_with("crashy-1")
            && l.contains("crash-loop")
            && l.split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .any(|w| w == ["0", "4"])),
        "RESTARTS 0, CRASH 4: {table}"
    );
    assert!(
        table
            .stdout
            .lines()
            .next()
            .is_some_and(|h| h.contains("RESTARTS  CRASH  UPTIME")),
        "{table}"
    );
    assert!(r.detail.contains("4 crashes within 30s"), "{r:?}");

    // Growing delays: from each unexpected end to the next start.
    let log = g.holder_log("crashy-1");
    let ends = holder_log_times(&log, "ended unexpectedly");
    let starts = holder_log_times(&log, "started `");
    assert_eq!((ends.len(), starts.len()), (4, 4), "{log}");
    let gaps: Vec<u64> = (0..3).map(|i| starts[i + 1] - ends[i]).collect();
    for (gap, want) in gaps.iter().zip([100u64, 200, 400]) {
        assert!(
            *gap >= want && *gap < want + 1000,
            "restart gaps {gaps:?} (want ~100, 200, 400 ms): {log}"
        );
    }
    assert!(
        gaps[0] < gaps[1] && gaps[1] < gaps[2],
        "restart delays do not grow: {gaps:?}"
    );
    assert!(
        log.contains("crash loop: no more automatic restarts"),
        "{log}"
    );
    // Nothing is running for it any more.
    assert!(!per_instance(&g.fakes()).contains_key("crashy-1"));

    // `restart` clears the crash loop: a fresh child, ready again.
    let out = g.ok(&["restart", "crashy-1"]);
    assert!(out.stdout.contains("crashy-1: ● ready"), "{out}");
    let r = row(&g.status(), "crashy-1").clone();
    assert_ne!(r.state, "crash-loop", "{r:?}");
    assert!(r.restarts == 1 && r.crashes >= 4, "{r:?}");
}

// 9 -------------------------------------------------------------------------------

#[test]
fn a_failed_connector_means_degraded_and_up_fails() {
    let g = Grid::standard(
        "",
        "[roles.inventory.settings.FakeRobust]\nFailConnector = \"XInventoryInConnector\"\n",
    );
    let out = g.run(&["up", "--wait"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.contains("inventory-1: ▲ degraded"), "{out}");
    assert!(
        out.stderr
            .contains("1 instance(s) not ready: inventory-1 (degraded"),
        "{out}"
    );
    assert!(out.stderr.contains("Failed to load"), "{out}");
    let rows = g.status();
    let r = row(&rows, "inventory-1");
    assert_eq!(r.state, "degraded");
    assert!(
        r.detail.contains("Failed to load") && r.pid.is_some(),
        "{r:?}"
    );
    for name in ["core-1", "asset-1", "asset-2"] {
        assert_eq!(row(&rows, name).state, "ready", "{name}");
    }
    // Running `up --wait` again does not make a degraded instance pass for ready.
    let again = g.run(&["up", "--wait"]);
    assert_eq!(again.code, Some(1), "{again}");
    assert!(again.stdout.contains("inventory-1: unchanged"), "{again}");
    assert!(
        again.stderr.contains("not ready: inventory-1 (degraded"),
        "{again}"
    );
    assert_eq!(
        row(&g.status(), "inventory-1").pid,
        r.pid,
        "a degraded instance is left running as it is"
    );
}

// 10 ------------------------------------------------------------------------------

#[test]
fn killing_the_cli_mid_up_then_up_again_converges_without_duplicates() {
    let g = Grid::new(16, |base| {
        manifest(base, "", "").replace(
            "[roles.core]",
            "[robust.env]\nFAKE_ROBUST_START_DELAY_MS = \"600\"\n\n[roles.core]",
        )
    });
    let mut up = g.spawn(&["up", "--wait"]);
    let first = up
        .wait_line(SECS(10), |l| l.contains(": started"))
        .unwrap_or_else(|| panic!("no `started` line: {:?}", up.seen));
    up.kill9();
    let (out, _) = up.rest();
    assert!(
        !out.contains("instance(s) up"),
        "up finished before it was killed: {out}"
    );
    let first_name = first
        .split("] ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .unwrap()
        .to_string();

    let again = g.up();
    // The instance the killed `up` started was adopted, not started twice.
    assert!(
        again.stdout.contains(&format!("{first_name}: unchanged")),
        "{again}"
    );
    let rows = g.status();
    assert!(all_in_state(&rows, "ready"), "{rows:#?}");
    assert_one_fake_and_one_holder_each(&g);
    // Every running fake is the one its holder reports.
    for (pid, name) in g.fakes() {
        assert_eq!(row(&rows, &name).pid, Some(pid), "{name}");
    }
}

/// An `up` killed while an instance was still starting leaves it to the next `up --wait`,
/// which must wait for it like for one it started itself: exit 0 means every selected
/// instance is ready.
#[test]
fn up_wait_waits_for_an_instance_an_interrupted_up_left_starting() {
    let g = Grid::standard(
        "",
        "[roles.core.settings.FakeRobust]\nStartDelayMs = 1500\n",
    );
    let mut up = g.spawn(&["up", "--wait"]);
    up.wait_line(SECS(10), |l| l.contains("core-1: started"))
        .unwrap_or_else(|| panic!("no `core-1: started` line: {:?}", up.seen));
    up.kill9();
    assert_eq!(row(&g.status(), "core-1").state, "starting");

    let again = g.up();
    assert!(again.stdout.contains("core-1: unchanged"), "{again}");
    assert!(
        again.stdout.contains("core-1: ● ready"),
        "up --wait did not wait for core-1: {again}"
    );
    let rows = g.status();
    assert!(
        all_in_state(&rows, "ready"),
        "`up --wait` succeeded with: {rows:#?}"
    );
    assert_eq!(per_instance(&g.fakes()), one_each(STANDARD));
}

// 11 ------------------------------------------------------------------------------

#[test]
fn killing_one_holder_affects_only_its_instance() {
    let g = Grid::standard("", "");
    g.up();
    let before = g.status();
    let victim = row(&before, "asset-2").clone();
    let (hpid, cpid) = (victim.holder_pid.unwrap(), victim.pid.unwrap());
    kill_by_pid(hpid, libc::SIGKILL);
    // Its PTY master closed with it: the child is hung up.
    wait_for("the orphaned child to die", SECS(5), || {
        (!alive(hpid) && !alive(cpid)).then_some(())
    });
    let rows = g.status();
    assert_eq!(row(&rows, "asset-2").state, "stopped");
    for b in before.iter().filter(|r| r.name != "asset-2") {
        let a = row(&rows, &b.name);
        assert_eq!(
            (a.state.as_str(), a.pid, a.holder_pid),
            ("ready", b.pid, b.holder_pid),
            "{}",
            b.name
        );
    }
    let again = g.up();
    assert!(again.stdout.contains("asset-2: started"), "{again}");
    for name in ["core-1", "asset-1", "inventory-1"] {
        assert!(
            again.stdout.contains(&format!("{name}: unchanged")),
            "{again}"
        );
    }
    let rows = g.status();
    assert!(all_in_state(&rows, "ready"), "{rows:#?}");
    let r = row(&rows, "asset-2");
    assert!(
        r.pid.is_some() && r.pid != Some(cpid) && r.holder_pid != Some(hpid),
        "{r:?}"
    );
    assert_eq!(per_instance(&g.fakes()), one_each(STANDARD));
}

fn kill_by_pid(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test's grid started (read from its status).
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
}

// 12 ------------------------------------------------------------------------------

#[test]
fn a_viewer_that_stops_reading_does_not_slow_the_instance() {
    const LINES: u64 = 60_000;
    const BYTES: u64 = 100;
    let g = Grid::new(16, |base| {
        manifest(
            base,
            "log_max_bytes = 67108864",
            &format!(
                "[roles.chatty]\nservices = [\"agentprefs\"]\nport = {}\n\n\
                 [roles.chatty.settings.FakeRobust]\nOutputLines = {LINES}\nOutputLineBytes = {BYTES}\n",
                base + 6
            ),
        )
    });
    g.ok(&["up", "--wait", "chatty"]);
    let last_line = format!("[FAKE OUTPUT]: line {} ", LINES - 1);
    wait_for("the first flood in the log", SECS(10), || {
        g.console_log("chatty-1").contains(&last_line).then_some(())
    });

    // A viewer that attaches and then never reads a byte.
    let mut stuck = UnixStream::connect(g.socket("chatty-1")).expect("connect");
    stuck.set_read_timeout(Some(SECS(5))).unwrap();
    write_control(
        &mut stuck,
        &ClientMessage::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .unwrap();
    let welcome = read_frame(&mut stuck).unwrap().expect("welcome");
    assert!(matches!(
        decode_control::<HolderMessage>(&welcome.1).unwrap(),
        HolderMessage::Welcome { .. }
    ));
    write_control(
        &mut stuck,
        &ClientMessage::Attach {
            read_only: true,
            rows: 24,
            cols: 80,
        },
    )
    .unwrap();
    let (kind, payload) = read_frame(&mut stuck).unwrap().expect("attached");
    assert_eq!(kind, KIND_CONTROL);
    assert!(matches!(
        decode_control::<HolderMessage>(&payload).unwrap(),
        HolderMessage::Attached { .. }
    ));
    assert_eq!(row(&g.status(), "chatty-1").viewers, 1);

    // A new child floods ~6 MB again while the viewer reads nothing.
    let t0 = Instant::now();
    g.ok(&["restart", "chatty-1"]);
    wait_for("the second flood to reach the log", SECS(10), || {
        (g.console_log("chatty-1").matches(&last_line).count() >= 2).then_some(())
    });
    let flood_took = t0.elapsed();
    assert!(
        flood_took < SECS(8),
        "the flood took {flood_took:?} with a stuck viewer"
    );
    let log_len = std::fs::metadata(g.instance_dir("chatty-1").join("console.log"))
        .unwrap()
        .len();
    assert!(
        log_len >= 2 * LINES * BYTES,
        "console.log is only {log_len} bytes"
    );

    let t1 = Instant::now();
    let out = g.ok(&["send", "chatty-1", "show", "version"]);
    assert!(out.stdout.contains("Version: OpenSim"), "{out}");
    assert!(
        t1.elapsed() < SECS(2),
        "send took {:?} after the flood",
        t1.elapsed()
    );
    // The viewer that fell behind was let go rather than holding output back.
    let rows = g.wait_status("the stuck viewer to be dropped", SECS(5), |rows| {
        row(rows, "chatty-1").viewers == 0
    });
    assert_eq!(row(&rows, "chatty-1").state, "ready");
    drop(stuck);
}

// 13 ------------------------------------------------------------------------------

#[test]
fn socket_permissions_and_concurrent_ups_are_serialized() {
    let g = Grid::new(16, |base| {
        manifest(base, "", "").replace(
            "[roles.core]",
            "[robust.env]\nFAKE_ROBUST_START_DELAY_MS = \"150\"\n\n[roles.core]",
        )
    });
    let mut a = g.spawn(&["up", "--wait"]);
    let mut b = g.spawn(&["up", "--wait"]);
    let (sa, sb) = (a.wait(SECS(20)), b.wait(SECS(20)));
    let (oa, ea) = a.rest();
    let (ob, eb) = b.rest();
    assert!(
        sa.is_some_and(|s| s.success()),
        "first up: {sa:?}\n{oa}\n{ea}"
    );
    assert!(
        sb.is_some_and(|s| s.success()),
        "second up: {sb:?}\n{ob}\n{eb}"
    );
    // One of them waited for the other and then found everything running.
    let (waiter_out, waiter_err) = if oa.contains("unchanged") {
        (&oa, &ea)
    } else {
        (&ob, &eb)
    };
    for name in STANDARD {
        assert!(
            waiter_out.contains(&format!("{name}: unchanged")),
            "{oa}\n---\n{ob}"
        );
    }
    assert!(
        waiter_err.contains("waiting for another gridctl command"),
        "{waiter_err}"
    );
    assert_one_fake_and_one_holder_each(&g);
    assert!(all_in_state(&g.status(), "ready"));

    let sock_dir = g.state.join("sock");
    let mode =
        |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sock_dir), 0o700, "socket directory mode");
    for name in STANDARD {
        assert_eq!(mode(&g.socket(name)), 0o600, "{name} socket mode");
    }
}

// 14 ------------------------------------------------------------------------------

#[test]
fn logs_tail_and_follow() {
    let g = Grid::standard("", "");
    g.up();
    // The holder flushes its console log once output pauses (~200 ms): wait for the lines.
    let deadline = std::time::Instant::now() + SECS(5);
    while g.console_log("asset-1").lines().count() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "console.log of asset-1 stayed short"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = g.ok(&["logs", "-n", "5", "asset-1"]);
    assert_eq!(out.stdout.lines().count(), 5, "{out}");
    let log = g.console_log("asset-1");
    let want: Vec<&str> = log
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), want, "{out}");

    let mut follow = g.spawn(&["logs", "-f", "-n", "2", "asset-1"]);
    // What was there already comes first...
    follow
        .wait_line(SECS(5), |_| true)
        .expect("logs -f printed nothing");
    // ...then what the console prints later.
    let marker = format!("marker-{}", std::process::id());
    let sent = g.ok(&["send", "asset-1", &marker]);
    assert!(sent.stdout.contains("Invalid command"), "{sent}");
    let line = follow
        .wait_line(SECS(5), |l| {
            l.contains(&marker) && l.contains("Invalid command")
        })
        .unwrap_or_else(|| panic!("logs -f did not show the new output: {:?}", follow.seen));
    assert!(
        line.contains(&format!("Invalid command \"{marker}\"")),
        "{line}"
    );
    let pid = follow.pid;
    follow.kill9();
    assert!(!alive(pid));

    let bad = g.run(&["logs", "nope-1"]);
    assert_eq!(bad.code, Some(2), "{bad}");
}
