//! The live progress of `up` and `down` through a real PTY at 80 columns (with and
//! without colour), and the plain, quiet and `--json` outputs off a terminal.

mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The standard grid whose core copy takes 1.5 s to start (long enough to be seen live).
fn slow_core() -> Grid {
    Grid::standard(
        "",
        "[roles.core.settings.FakeRobust]\nStartDelayMs = 1500\n",
    )
}

/// `gridctl ARGS` on a 24×80 PTY, `NO_COLOR` set or not.
fn on_terminal(g: &Grid, args: &[&str], colour: bool) -> PtySession {
    let no_color = if colour { None } else { Some("1") };
    g.pty_with(
        args,
        24,
        80,
        &[
            ("TERM", Some("xterm-256color")),
            ("NO_COLOR", no_color),
            ("CLICOLOR", None),
        ],
    )
}

/// The screen's rows (a full-width row is one row, not joined to the next).
fn rows(p: &PtySession) -> Vec<String> {
    p.parser.screen().rows(0, 80).collect()
}

/// The screen row holding `needle`, if any.
fn row_with(rows: &[String], needle: &str) -> Option<String> {
    rows.iter().find(|l| l.contains(needle)).cloned()
}

fn live_up_then_down(colour: bool) {
    let g = slow_core();
    let mut up = on_terminal(&g, &["up", "--wait"], colour);
    // While core-1 starts, its own line says what it does, with its elapsed time.
    let live_line = |rows: &[String]| {
        rows.iter()
            .find(|r| {
                r.contains("core-1")
                    && (r.contains("starting") || r.contains("waiting until ready"))
                    && r.trim_end().ends_with('s')
            })
            .cloned()
    };
    let deadline = std::time::Instant::now() + SECS(15);
    let live = loop {
        if let Some(l) = live_line(&rows(&up)) {
            break l;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no live line for core-1:\n{}",
            up.text()
        );
        up.pump(Duration::from_millis(50));
    };
    // One row of 80 columns: a spinner, the copy, what it does, its elapsed time.
    assert!(
        live.trim_start()
            .chars()
            .next()
            .is_some_and(|c| !c.is_ascii()),
        "a spinner first: {live:?}"
    );
    let status = up.wait_exited(std::time::Instant::now() + SECS(30));
    up.drain_to_eof(SECS(2));
    assert!(
        status.is_some_and(|s| s.success()),
        "up failed:\n{}",
        up.text()
    );
    let text = up.text();
    assert!(text.contains("core-1: ● ready after"), "{text}");
    assert!(text.contains("instance(s) up in"), "{text}");
    // Nothing live is left behind: the last screen holds only finished lines.
    let last = rows(&up);
    assert!(
        row_with(&last, "waiting until ready").is_none() && row_with(&last, "starting ·").is_none(),
        "a live line was left on the screen:\n{last:#?}"
    );
    let raw = String::from_utf8_lossy(&up.raw).into_owned();
    if colour {
        assert!(
            raw.contains("\u{1b}[32m"),
            "ready is green on a colour terminal"
        );
    } else {
        assert!(
            !raw.contains("\u{1b}[3") && !up.any_colour(),
            "NO_COLOR: no colour at all:\n{raw:?}"
        );
    }

    let mut down = on_terminal(&g, &["down"], colour);
    let status = down.wait_exited(std::time::Instant::now() + SECS(30));
    down.drain_to_eof(SECS(2));
    assert!(
        status.is_some_and(|s| s.success()),
        "down failed:\n{}",
        down.text()
    );
    let text = down.text();
    assert!(text.contains("core-1: stopped"), "{text}");
    assert!(text.contains("instance(s) down in"), "{text}");
}

#[test]
fn up_and_down_on_a_colour_terminal_show_each_copy_live() {
    live_up_then_down(true);
}

#[test]
fn up_and_down_with_no_color_show_the_same_without_colour() {
    live_up_then_down(false);
}

#[test]
fn off_a_terminal_output_is_plain_quiet_is_silent_and_json_is_json() {
    let g = slow_core();
    let up = g.ok(&["up", "--wait"]);
    assert!(
        !up.stdout.contains('\u{1b}'),
        "no escape codes in a pipe: {up}"
    );
    assert!(up.stdout.contains("] core-1: ● ready after"), "{up}");

    // A second down finds nothing running and says so.
    let quiet = g.ok(&["down", "--quiet"]);
    assert_eq!(quiet.stdout, "", "--quiet prints nothing: {quiet}");
    let again = g.ok(&["down"]);
    assert!(again.stdout.contains("already stopped"), "{again}");

    let json = g.ok(&["up", "--wait", "--json"]);
    for line in json.stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    assert!(json.stdout.contains("\"outcome\":\"began\""), "{json}");
}
