//! Issue 9 on the real grid, end to end with the real `gridctl` and the fake Robust
//! (whose LocalConsole redraws the prompt line on every key, with the cursor moves the
//! real Robust 0.9.2.2 sends):
//! - `gridctl logs` shows console lines as the screen finally showed them: a command
//!   typed key by key appears once, a log line printed while a prompt is pending has
//!   no prompt glued in front, the pending prompt itself is not logged;
//! - `gridctl send` of a command that asks questions stops at the question (exit 4)
//!   instead of waiting out its timeout, and carries the answers.
//!
//! Every process is ended by pid when the `Grid` drops; waits poll with deadlines.

// Shared with cli_runtime.rs, which uses more of it than this file does.
mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// `GET path` on 127.0.0.1:`port`; the status line.
fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(SECS(5))).expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("write request");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.lines().next().unwrap_or_default().to_string()
}

/// Waits until `gridctl logs` shows a line with `needle`; returns the whole output.
fn logs_with(g: &Grid, name: &str, needle: &str) -> String {
    wait_for(
        &format!("`{needle}` in `gridctl logs {name}`"),
        SECS(10),
        || {
            let out = g.ok(&["logs", "-n", "500", name]);
            out.stdout.contains(needle).then_some(out.stdout)
        },
    )
}

#[test]
fn logs_show_each_line_once_as_the_screen_finally_showed_it() {
    let g = Grid::standard("", "");
    g.up();
    let mut s = g.attach_pty(&["attach", "core-1"], 24, 80);
    s.wait_screen("the prompt", SECS(10), |scr| {
        scr.trim_end().ends_with(PROMPT.trim_end())
    });

    // Key by key, each echoed (a redraw of the whole prompt line) before the next.
    let mut typed = String::new();
    for key in "show uptime".chars() {
        typed.push(key);
        s.type_bytes(key.to_string().as_bytes());
        let want = format!("{PROMPT}{typed}");
        s.wait_screen(&format!("the echo of `{typed}`"), SECS(5), |scr| {
            scr.contains(&want)
        });
    }
    // A typo fixed with backspace.
    s.type_bytes(b"x");
    s.wait_screen("the typo", SECS(5), |scr| scr.contains("uptimex"));
    s.type_bytes(b"\x7f");
    s.wait_screen("the typo erased", SECS(5), |scr| !scr.contains("uptimex"));
    s.type_bytes(b"\r");
    s.wait_screen("the answer", SECS(5), |scr| scr.contains("Which is "));
    // The fake redraws like the real console, so this test reproduces the defect.
    let raw = String::from_utf8_lossy(&s.raw).into_owned();
    assert!(
        raw.contains(&format!("1H{PROMPT}show upt")),
        "the fake did not redraw the prompt line per key: {raw:?}"
    );

    // Request logging on, then a request logged while `sh` is typed at the prompt.
    s.type_bytes(b"debug http in 1\r");
    s.wait_screen("debug on", SECS(5), |scr| {
        scr.contains("IN debug level set to 1")
    });
    s.type_bytes(b"sh");
    s.wait_screen("`sh` typed", SECS(5), |scr| {
        scr.contains(&format!("{PROMPT}sh"))
    });
    let status = http_get(g.base + 1, "/get_grid_info");
    assert!(status.contains("200"), "{status}");
    s.wait_screen("the request logged", SECS(5), |scr| {
        scr.contains("[LOGHTTP]")
    });

    let log = logs_with(&g, "core-1", "[LOGHTTP]");
    let lines: Vec<&str> = log.lines().collect();
    let typed_lines: Vec<&&str> = lines.iter().filter(|l| l.contains("show upt")).collect();
    assert_eq!(
        typed_lines,
        vec![&"R.O.B.U.S.T.# show uptime"],
        "the typed command must be logged once, as shown:\n{log}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.matches("R.O.B.U.S.T.#").count() <= 1),
        "keystroke redraws reached the log:\n{log}"
    );
    let http = lines
        .iter()
        .find(|l| l.contains("[LOGHTTP]"))
        .expect("the request line");
    assert!(
        http.len() > 11
            && http.as_bytes()[2] == b':'
            && http[8..].starts_with(" - [LOGHTTP]: HTTP IN"),
        "a prompt is glued in front of the log line: {http:?}\n{log}"
    );
    // The pending prompt (with `sh` typed) is not a finished line.
    assert!(
        !log.contains(&format!("{PROMPT}sh\n")) && !log.ends_with(&format!("{PROMPT}sh")),
        "the pending prompt was logged:\n{log}"
    );
    assert!(lines.contains(&"IN debug level set to 1"), "{log}");
    s.type_bytes(b"\x1d");
    s.wait_exit(SECS(5)).expect("detached");

    // `sh` is still typed at the prompt: the stop erases it before typing `shutdown`
    // (glued to it, the command would not parse and the stop would wait 30 s).
    let down = g.run(&["down", "core-1"]);
    assert!(down.ok() && down.took < SECS(10), "{down}");
    assert!(
        g.holder_log("core-1").contains("after `shutdown`"),
        "{}",
        g.holder_log("core-1")
    );
    let log = g.console_log("core-1");
    assert!(log.contains("\nR.O.B.U.S.T.# shutdown\n"), "{log}");
}

#[test]
fn send_stops_at_a_question_and_carries_answers() {
    let g = Grid::standard("", "");
    g.up();

    // No answers: it returns at once (not after the 20 s timeout) with exit 4.
    let t0 = Instant::now();
    let asked = g.run(&["send", "--timeout", "20s", "core-1", "create", "user"]);
    let took = t0.elapsed();
    assert_eq!(asked.code, Some(4), "{asked}");
    assert!(took < SECS(10), "send waited {took:?}: {asked}");
    assert!(
        asked
            .stderr
            .contains("`core-1` is waiting for an answer: First name [Default]:"),
        "{asked}"
    );
    // The question stays open; a plain `send` answers it and stops at the next one.
    let next = g.run(&["send", "core-1", "Test"]);
    assert_eq!(next.code, Some(4), "{next}");
    assert!(
        next.stderr
            .contains("waiting for an answer: Last name [User]:"),
        "{next}"
    );
    // Then the rest in one go: newline-separated lines and --answer, in order.
    let done = g.run(&[
        "send", "core-1", "User\npw", "--answer", "", "--answer", "", "-a", "",
    ]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(
        done.stdout
            .contains("[USER ACCOUNT SERVICE]: Account Test User"),
        "{done}"
    );
    assert!(done.stdout.contains("created successfully"), "{done}");
    // The password is not echoed; each question shows its answer.
    assert!(done.stdout.contains("Password:"), "{done}");
    assert!(!done.stdout.contains("pw"), "{done}");
    assert!(done.stdout.contains("Email []:"), "{done}");

    // Everything in one command; answers left over are never typed at the prompt.
    let all = g.run(&[
        "send",
        "core-1",
        "create user\nAda\nLovelace\nsecret\n\n\n\nshow uptime",
    ]);
    assert_eq!(all.code, Some(0), "{all}");
    assert!(all.stdout.contains("Account Ada Lovelace"), "{all}");
    assert!(
        all.stderr.contains("1 of the answers were not typed"),
        "{all}"
    );
    assert!(!all.stdout.contains("Server has been running"), "{all}");

    // A command that asks nothing still works as before.
    let plain = g.run(&["send", "core-1", "show", "uptime"]);
    assert_eq!(plain.code, Some(0), "{plain}");
    assert!(plain.stdout.contains("Which is "), "{plain}");

    // The console log shows the questions with their answers, once each.
    let log = logs_with(&g, "core-1", "Account Ada Lovelace");
    assert_eq!(
        log.lines()
            .filter(|l| *l == "First name [Default]: Ada")
            .count(),
        1,
        "{log}"
    );
    assert!(!log.contains("secret"), "{log}");

    // A question left open: `shutdown` would only answer it, so the stop uses SIGINT
    // (Robust's same shutdown) at once instead of waiting out the command timeout.
    let asked = g.run(&["send", "core-1", "create user"]);
    assert_eq!(asked.code, Some(4), "{asked}");
    let down = g.run(&["down", "core-1"]);
    assert!(down.ok() && down.took < SECS(10), "{down}");
    let holder_log = g.holder_log("core-1");
    assert!(
        holder_log
            .contains("console waits at a question (First name [Default]:): stopping with SIGINT")
            && holder_log.contains("exit 0 after SIGINT"),
        "{holder_log}"
    );
}
