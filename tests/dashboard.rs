//! `gridctl top`: frames of every state rendered with ratatui's TestBackend (insta
//! snapshots at 80×24 and a wide size), and the real dashboard on a PTY against a
//! running fake grid, driven with keys.

mod common;
mod dashboard_support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dashboard_support::{Grid, Pty};
use gridctl::dashboard::console::ConsoleView;
use gridctl::dashboard::model::{InstRow, Model, RoleInfo, Snapshot, Tone};
use gridctl::dashboard::view;
use gridctl::render::Membership;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;
use std::time::{Duration, Instant};

// --- frames -------------------------------------------------------------------------

fn row(name: &str, role: &str, state: &str, port: u16) -> InstRow {
    let running = !matches!(state, "stopped" | "crash-loop" | "backoff");
    InstRow {
        name: name.into(),
        role: role.into(),
        kind: gridctl::plan::Kind::Robust,
        state: state.into(),
        detail: match state {
            "degraded" => "Failed to load OpenSim.Services.InventoryService.dll".into(),
            "crash-loop" => "5 crashes within 5m; `r` restarts it".into(),
            "backoff" => "last exit: exit 1".into(),
            _ => String::new(),
        },
        pid: running.then_some(4000 + u32::from(port % 100)),
        holder_pid: (state != "stopped").then_some(3000 + u32::from(port % 100)),
        ports: if role == "core" {
            vec![port, port + 100]
        } else {
            vec![port]
        },
        restarts: u32::from(port % 3),
        crashes: if state == "crash-loop" {
            5
        } else {
            u32::from(port % 2)
        },
        uptime_secs: running.then_some(3725),
        cpu_percent: running.then_some(1.5),
        rss_bytes: running.then_some(48 * 1024 * 1024),
        holder_rss_bytes: (state != "stopped").then_some(5 * 1024 * 1024),
        last_exit: None,
        viewers: 0,
        upstream: Some(match state {
            "stopping" => Membership::Draining,
            "stopped" | "crash-loop" | "backoff" => Membership::Out,
            _ => Membership::In,
        }),
    }
}

/// One instance in every state the holder reports, nginx managed.
fn every_state(color: bool) -> Model {
    let mut m = Model::new(color);
    m.apply(Snapshot {
        grid_name: "Dashboard Test Grid".into(),
        nginx: true,
        roles: vec![
            RoleInfo {
                name: "core".into(),
                copies: 1,
            },
            RoleInfo {
                name: "asset".into(),
                copies: 4,
            },
            RoleInfo {
                name: "inventory".into(),
                copies: 3,
            },
        ],
        rows: vec![
            row("core-1", "core", "ready", 18100),
            row("asset-1", "asset", "ready", 18300),
            row("asset-2", "asset", "starting", 18301),
            row("asset-3", "asset", "stopping", 18302),
            row("asset-4", "asset", "stopped", 18303),
            row("inventory-1", "inventory", "degraded", 18400),
            row("inventory-2", "inventory", "crash-loop", 18401),
            row("inventory-3", "inventory", "backoff", 18402),
        ],
        error: None,
    });
    let mut c = ConsoleView::new("core-1", 50, 200);
    c.feed(b"Robust starting\r\n\x1b[32m[GRID SERVICE]\x1b[0m: Starting...\r\nconnectors loaded successfully\r\nR.O.B.U.S.T.# show uptime\r\nTime now is 2026-05-01 12:00:00\r\nServer has been running since 2026-05-01 10:58:15\r\nR.O.B.U.S.T.# ");
    c.connected = true;
    m.console = Some(c);
    m.set_status(
        Tone::Good,
        "restart asset-2: done — asset-2: ● ready after 0.52s",
    );
    m
}

fn frame(m: &mut Model, cols: u16, rows: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(cols, rows)).expect("test terminal");
    t.draw(|f| view::render(f, m)).expect("draw");
    t
}

fn press(m: &mut Model, code: KeyCode) {
    let _ = m.key(KeyEvent::new(code, KeyModifiers::NONE));
}

#[test]
fn every_state_80x24() {
    insta::assert_snapshot!(frame(&mut every_state(true), 80, 24).backend());
}

#[test]
fn every_state_wide() {
    insta::assert_snapshot!(frame(&mut every_state(true), 160, 40).backend());
}

#[test]
fn help_overlay_80x24() {
    let mut m = every_state(true);
    press(&mut m, KeyCode::Char('?'));
    insta::assert_snapshot!(frame(&mut m, 80, 24).backend());
    // Any key closes it.
    press(&mut m, KeyCode::Char('x'));
    assert!(!frame(&mut m, 80, 24)
        .backend()
        .to_string()
        .contains("gridctl top · keys"));
}

#[test]
fn help_overlay_wide() {
    let mut m = every_state(true);
    press(&mut m, KeyCode::Char('?'));
    insta::assert_snapshot!(frame(&mut m, 160, 40).backend());
}

#[test]
fn filter_while_typing() {
    let mut m = every_state(true);
    for k in ['/', 'i', 'n', 'v'] {
        press(&mut m, KeyCode::Char(k));
    }
    insta::assert_snapshot!(frame(&mut m, 80, 24).backend());
}

#[test]
fn scale_confirmation_and_failure() {
    let mut m = every_state(true);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Char('+'));
    insta::assert_snapshot!("scale_confirmation", frame(&mut m, 80, 24).backend());
    m.set_status(
        Tone::Bad,
        "scale asset 4 → 5 failed: port 18304 is used by both asset-5 (port) and inventory-1 (port)",
    );
    insta::assert_snapshot!("action_failed", frame(&mut m, 80, 24).backend());
}

#[test]
fn console_scrolled_back() {
    let mut m = every_state(true);
    let c = m.console.as_mut().expect("console");
    for i in 1..=60 {
        c.feed(format!("line {i}\r\n").as_bytes());
    }
    press(&mut m, KeyCode::PageUp);
    insta::assert_snapshot!(frame(&mut m, 80, 24).backend());
}

#[test]
fn many_instances_keep_the_selection_in_view() {
    let mut m = Model::new(true);
    let rows: Vec<InstRow> = (1..=20)
        .map(|i| row(&format!("asset-{i}"), "asset", "ready", 18300 + i))
        .collect();
    m.apply(Snapshot {
        grid_name: "Big".into(),
        nginx: false,
        roles: vec![RoleInfo {
            name: "asset".into(),
            copies: 20,
        }],
        rows,
        error: Some("grid.toml not re-read: error: bad".into()),
    });
    for _ in 0..17 {
        press(&mut m, KeyCode::Down);
    }
    let text = frame(&mut m, 80, 24).backend().to_string();
    assert!(text.contains("▶ asset-18"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn too_small_says_so() {
    insta::assert_snapshot!(frame(&mut every_state(true), 30, 8).backend());
}

#[test]
fn no_color_means_no_colour() {
    let t = frame(&mut every_state(false), 80, 24);
    let buf = t.backend().buffer();
    for c in buf.content() {
        assert_eq!(
            (c.fg, c.bg),
            (Color::Reset, Color::Reset),
            "coloured cell {c:?}"
        );
    }
    // With colour, states and console colours are there.
    let t = frame(&mut every_state(true), 80, 24);
    assert!(t
        .backend()
        .buffer()
        .content()
        .iter()
        .any(|c| c.fg == Color::Green));
}

// --- the real thing on a PTY ---------------------------------------------------------

const SHORT: Duration = Duration::from_secs(10);

fn table_has(screen: &str, name: &str) -> bool {
    screen
        .lines()
        .any(|l| l.starts_with(&format!("  {name} ")) || l.starts_with(&format!("▶ {name} ")))
}

#[test]
fn top_on_a_pty_restarts_filters_attaches_and_quits_without_changing_anything() {
    let started = Instant::now();
    let grid = Grid::new(2);
    grid.up();
    let before = grid.status();
    let pid_of = |rows: &[dashboard_support::Row], n: &str| {
        rows.iter().find(|r| r.name == n).and_then(|r| r.pid)
    };

    let mut top: Pty = grid.pty(&["top"], 24, 80, &[]);
    top.wait_screen("the table with 4 ready instances", SHORT, |s| {
        s.contains("4 instances: 4 ready") && table_has(s, "inventory-1")
    });
    // The selected instance's console as its holder sees it (the prompt is on its screen).
    top.wait_screen("core-1's console", SHORT, |s| {
        s.contains("core-1 console · following") && s.contains("R.O.B.U.S.T.#")
    });

    // `r` on asset-2: a graceful restart, reported in the status line.
    top.keys(b"jj");
    top.wait_screen("asset-2 selected", SHORT, |s| {
        s.contains("▶ asset-2") && s.contains("asset-2 console")
    });
    top.keys(b"r");
    top.wait_screen("the restart's result", Duration::from_secs(15), |s| {
        s.lines()
            .any(|l| l.contains("restart asset-2: done") && l.contains("1 instance(s) restarted"))
    });
    let after = grid.status();
    assert_ne!(
        pid_of(&after, "asset-2"),
        pid_of(&before, "asset-2"),
        "asset-2 got a new process"
    );
    assert_eq!(
        pid_of(&after, "asset-1"),
        pid_of(&before, "asset-1"),
        "asset-1 untouched"
    );

    // `/inv` + Enter: only inventory-1 is left in the table.
    top.keys(b"/inv\r");
    top.wait_screen("the filtered table", SHORT, |s| {
        table_has(s, "inventory-1")
            && !table_has(s, "asset-1")
            && !table_has(s, "core-1")
            && s.contains("filter “inv”")
    });

    // Enter attaches full-screen to inventory-1; Ctrl-] detaches back to the dashboard.
    top.keys(b"\r");
    top.wait_screen("the attached console", SHORT, |s| {
        !s.contains("gridctl top ·") && s.contains("R.O.B.U.S.T.#")
    });
    top.keys(b"show uptime\r");
    top.wait_screen("the console's answer", SHORT, |s| {
        s.contains("Server has been running since")
    });
    top.keys(b"\x1d");
    top.wait_screen("the dashboard again", SHORT, |s| {
        s.contains("detached from inventory-1") && table_has(s, "inventory-1")
    });

    // `q` quits; every instance still runs, on the same processes.
    top.keys(b"q");
    assert_eq!(
        top.wait_exit(SHORT),
        Some(0),
        "top exits 0; screen:\n{}",
        top.screen()
    );
    let end = grid.status();
    assert!(end.iter().all(|r| r.state == "ready"), "{end:#?}");
    for r in &end {
        assert_eq!(
            r.pid,
            pid_of(&after, &r.name),
            "{} untouched by quitting",
            r.name
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn top_stops_starts_and_scales_resizes_and_respects_no_color() {
    let started = Instant::now();
    let grid = Grid::new(1);
    grid.up();
    let mut top = grid.pty(&["top"], 30, 120, &[("NO_COLOR", "1")]);
    top.wait_screen("the wide table", SHORT, |s| {
        s.contains("3 instances: 3 ready")
            && s.contains("R rolling restart")
            && table_has(s, "inventory-1")
    });
    assert!(
        !top.any_colour(),
        "NO_COLOR: no colour at all; screen:\n{}",
        top.screen()
    );

    // `s` stops inventory-1, `u` starts it again.
    top.keys(b"jj");
    top.wait_screen("inventory-1 selected", SHORT, |s| {
        s.contains("▶ inventory-1")
    });
    top.keys(b"s");
    top.wait_screen("inventory-1 stopped", SHORT, |s| {
        s.contains("stop inventory-1: done")
            && s.lines()
                .any(|l| l.starts_with("▶ inventory-1") && l.contains("○ stopped"))
    });
    top.keys(b"u");
    top.wait_screen("inventory-1 ready again", SHORT, |s| {
        s.contains("start inventory-1: done")
            && s.lines()
                .any(|l| l.starts_with("▶ inventory-1") && l.contains("● ready"))
    });

    // Resized to 80×24: the narrow footer.
    top.resize(24, 80);
    top.wait_screen("the narrow layout", SHORT, |s| {
        s.contains("R roll +- scale") && table_has(s, "asset-1")
    });

    // `+` on asset asks first; `y` scales 1 → 2 (written into grid.toml).
    top.keys(b"k+");
    top.wait_screen("the confirmation", SHORT, |s| {
        s.contains("scale asset 1 → 2? press y")
    });
    top.keys(b"y");
    top.wait_screen("asset-2 running", Duration::from_secs(15), |s| {
        s.contains("scale asset 1 → 2: done")
            && s.lines()
                .any(|l| l.starts_with("  asset-2") && l.contains("● ready"))
    });
    let text = std::fs::read_to_string(&grid.manifest).expect("grid.toml");
    assert!(text.contains("instances = 2"), "{text}");
    grid.status();

    // Ctrl-C quits like `q`, leaving the alternate screen and raw mode.
    top.keys(b"\x03");
    assert_eq!(top.wait_exit(SHORT), Some(0), "screen:\n{}", top.screen());
    assert!(
        !top.parser.screen().alternate_screen(),
        "alternate screen left"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn top_follows_holders_coming_and_going_and_restores_the_terminal_on_sigterm() {
    let grid = Grid::new(1);
    let mut top = grid.pty(&["top"], 24, 80, &[]);
    top.wait_screen("a stopped grid", SHORT, |s| {
        s.contains("3 instances: 3 stopped")
            && s.contains("core-1 console · following · not running")
    });
    grid.up();
    top.wait_screen("the grid up, core-1's console live", SHORT, |s| {
        s.contains("3 instances: 3 ready")
            && s.contains("R.O.B.U.S.T.#")
            && !s.contains("not running")
    });
    let (code, out) = grid.run(&["down"], SHORT);
    assert_eq!(code, Some(0), "{out}");
    top.wait_screen("the grid down again", SHORT, |s| {
        s.contains("3 instances: 3 stopped")
    });
    let pid = top.pid().expect("pid of top");
    // SAFETY: kill(2) on the pid of the dashboard this test started.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    assert!(top.wait_exit(SHORT).is_some(), "top ends on SIGTERM");
    assert!(
        !top.parser.screen().alternate_screen(),
        "alternate screen left"
    );
}

/// Whether a screen line looks like a gridctl command's own output (`[  0.52s] …`,
/// `[gridctl] …`, a diagnostic): what an action would leave if it printed over the TUI.
fn stray_output(screen: &str) -> Option<&str> {
    screen.lines().find(|l| {
        let t = l.trim_start();
        t.starts_with("[gridctl]")
            || t.starts_with("error:")
            || t.starts_with("warning:")
            || t.strip_prefix('[').is_some_and(|r| {
                r.split_once("s]")
                    .is_some_and(|(n, _)| n.trim().parse::<f64>().is_ok())
            })
    })
}

/// The row of the screen holding `text`, and how many rows hold it.
fn rows_with(screen: &str, text: &str) -> (Option<usize>, usize) {
    let rows: Vec<usize> = screen
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(text))
        .map(|(n, _)| n)
        .collect();
    (rows.first().copied(), rows.len())
}

#[test]
fn top_keeps_the_messages_of_its_actions_in_its_status_line() {
    let grid = Grid::new(1);
    grid.up();
    let mut top = grid.pty(&["top"], 24, 80, &[]);
    top.wait_screen("the table", SHORT, |s| {
        s.contains("3 instances: 3 ready") && table_has(s, "asset-1")
    });
    top.keys(b"j");
    top.wait_screen("asset-1 selected", SHORT, |s| s.contains("▶ asset-1"));

    // Each action's result shows on the status line (the row above the footer), once,
    // and nothing the command printed is anywhere else on the screen.
    let status_row = 22;
    for (key, done, state) in [
        (
            b"r",
            "restart asset-1: done — 1 instance(s) restarted",
            "● ready",
        ),
        (b"s", "stop asset-1: done", "○ stopped"),
        (b"u", "start asset-1: done — 1 instance(s) up", "● ready"),
    ] {
        top.keys(key);
        // The result, and the row in its new state (the next key acts on that row).
        let screen = top.wait_screen(done, Duration::from_secs(15), |s| {
            s.contains(done)
                && s.lines()
                    .any(|l| l.starts_with("▶ asset-1") && l.contains(state))
        });
        assert_eq!(
            rows_with(&screen, done),
            (Some(status_row), 1),
            "{done}, on the status line only:\n{screen}"
        );
        assert_eq!(stray_output(&screen), None, "{screen}");
        assert!(top.parser.screen().alternate_screen(), "{screen}");
    }

    // Attached from top, the console is drawn on top's own (alternate) screen; the
    // detach is reported on the status line, not printed.
    top.keys(b"\r");
    top.wait_screen("the attached console", SHORT, |s| {
        !s.contains("gridctl top ·") && s.contains("R.O.B.U.S.T.#")
    });
    assert!(top.parser.screen().alternate_screen(), "attach stays on it");
    top.keys(b"\x1d");
    let screen = top.wait_screen("the dashboard again", SHORT, |s| {
        s.contains("detached from asset-1 (still running)") && table_has(s, "asset-1")
    });
    assert_eq!(
        rows_with(&screen, "detached from asset-1").0,
        Some(status_row),
        "{screen}"
    );
    assert_eq!(stray_output(&screen), None, "{screen}");

    // Quitting leaves the shell's screen as it was: empty, nothing printed over it.
    top.keys(b"q");
    assert_eq!(top.wait_exit(SHORT), Some(0), "{}", top.screen());
    assert!(!top.parser.screen().alternate_screen());
    assert_eq!(top.screen().trim(), "", "the shell's screen after top");
    assert!(!top.text().contains("[gridctl] detached"), "{}", top.text());
}

#[test]
fn top_shows_the_manifest_warnings_in_its_status_line_not_behind_its_screen() {
    // Two copies of single-copy `presence`, allowed: the plan carries a warning.
    let grid = Grid::new(1);
    let text = std::fs::read_to_string(&grid.manifest).expect("grid.toml");
    let text = text.replace("\"presence\", ", "").replace(
        "services = [\"inventory\"]",
        "services = [\"inventory\", \"presence\"]\ninstances = 2\nallow_unsafe_copies = true",
    );
    std::fs::write(&grid.manifest, text).expect("write grid.toml");
    let mut top = grid.pty(&["top"], 24, 100, &[]);
    let screen = top.wait_screen("the warning", SHORT, |s| {
        s.contains("grid.toml: 1 warning(s): role `inventory` runs 2 copies of single-copy")
    });
    assert_eq!(stray_output(&screen), None, "{screen}");
    top.keys(b"q");
    assert_eq!(top.wait_exit(SHORT), Some(0), "{}", top.screen());
    assert_eq!(top.screen().trim(), "", "the shell's screen after top");
}

#[test]
fn top_without_a_terminal_refuses_cleanly() {
    let grid = Grid::new(1);
    let (code, out) = grid.run(&["top"], SHORT);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("`gridctl top` needs a terminal"), "{out}");
}

/// The dashboard's own cost: CPU% of `gridctl top` idling over 20 running instances,
/// from /proc over 10 s. Run with `cargo test --test dashboard -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement (about 20 s), not a check"]
fn idle_cost_with_20_instances() {
    let grid = Grid::new(18);
    grid.up();
    let mut top = grid.pty(&["top"], 24, 80, &[]);
    top.wait_screen("20 ready", Duration::from_secs(15), |s| {
        s.contains("20 instances: 20 ready")
    });
    let pid = top.pid().expect("pid of top");
    let ticks = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let (t0, c0) = (Instant::now(), ticks(pid));
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        // Keep reading the PTY so the dashboard never blocks on a full buffer.
        let _ = top.wait_exit(Duration::from_millis(200));
    }
    let cpu = (ticks(pid) - c0) as f64 / hz / t0.elapsed().as_secs_f64() * 100.0;
    eprintln!("gridctl top idle CPU with 20 instances: {cpu:.2}%");
    top.keys(b"q");
    assert_eq!(top.wait_exit(SHORT), Some(0));
}
