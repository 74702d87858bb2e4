//! The operator's rough edges, through the real `gridctl` binary on a fake grid: an
//! empty `send`, commands aimed at a stopped copy, `attach` without a terminal, `init`
//! with a wrong `--bin-dir`, `check` telling a DNS timeout from a failed lookup, and
//! `status` in the dashboard's order.

mod common;
mod dashboard_support;

use common::grid::GRIDCTL;
use common::procs::kill_pid;
use common::wait::wait_child;
use dashboard_support::Grid;
use std::io::{Read, Seek, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const SHORT: Duration = Duration::from_secs(10);

/// The output's lines that are diagnostics (`error:`, `warning:`, `help:`, `note:`).
fn diagnostic_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            ["error:", "warning:", "help:", "note:"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

#[test]
fn send_refuses_an_empty_line_and_answers_with_enter_only_when_asked_to() {
    let grid = Grid::new(1);
    // Refused before anything is looked at: a usage error, even for a stopped copy.
    for args in [
        &["send", "core-1"][..],
        &["send", "core-1", ""],
        &["send", "core-1", "  "],
        &["send", "--role", "asset"],
    ] {
        let (code, out) = grid.run(args, SHORT);
        assert_eq!(code, Some(2), "{args:?}: {out}");
        assert!(
            out.contains("error: nothing to send: the line is empty"),
            "{args:?}: {out}"
        );
        assert!(out.contains("--answer ''"), "{args:?} names the way: {out}");
    }

    grid.up();
    // `create user` stops at its first question (exit 4); `--answer ''` with no line is
    // the explicit Enter: it takes the default and the next question shows.
    let (code, out) = grid.run(&["send", "core-1", "create user"], SHORT);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("First name"), "{out}");
    assert!(
        out.contains("(just Enter: `gridctl send core-1 --answer ''`)"),
        "the question's help names the way to press Enter: {out}"
    );
    let (code, out) = grid.run(&["send", "core-1", "--answer", ""], SHORT);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("Last name"), "{out}");
    // Still refused while the console is asking: an empty line is never typed by accident.
    let (code, out) = grid.run(&["send", "core-1", ""], SHORT);
    assert_eq!(code, Some(2), "{out}");
}

#[test]
fn a_stopped_copy_gets_one_line_from_send_and_attach_and_a_note_from_logs_follow() {
    let grid = Grid::new(2);
    let want = "error: asset-2 is not running (stopped); start it with `gridctl up asset-2`";

    let (code, out) = grid.run(&["send", "asset-2", "show uptime"], SHORT);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(diagnostic_lines(&out), [want], "{out}");

    // attach checks for a terminal first, so give it one.
    let mut attach = grid.pty(&["attach", "asset-2"], 24, 80, &[]);
    assert_eq!(attach.wait_exit(SHORT), Some(1), "{}", attach.text());
    assert_eq!(
        diagnostic_lines(&attach.text()),
        [want],
        "{}",
        attach.text()
    );

    // `logs -f` of a copy that never ran says so once, then follows it when it starts.
    let mut logs = grid.pty(&["logs", "-f", "asset-2"], 24, 200, &[]);
    logs.wait_screen("the note", SHORT, |s| {
        s.contains("note: asset-2 is not running (stopped) and has no console log yet")
    });
    let (code, out) = grid.run(&["up", "--wait", "asset-2"], Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}");
    grid.status();
    logs.wait_screen("asset-2's console log", SHORT, |s| {
        s.contains("Starting fake Robust")
    });
    drop(logs); // killed by its pid

    // Sent to a role, each stopped copy has its line, then the summary.
    let (code, out) = grid.run(&["send", "--role", "asset", "show uptime"], SHORT);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        diagnostic_lines(&out),
        [
            "error: asset-1 is not running (stopped); start it with `gridctl up asset-1`",
            "error: not sent to: asset-1",
        ],
        "{out}"
    );
    assert!(out.contains("== asset-2 =="), "{out}");
}

/// `gridctl -f grid.toml attach NAME` with `stdin` and its output in a file; the exit
/// code and the output. Killed by its pid if it outlives the deadline.
fn attach_with_stdin(grid: &Grid, name: &str, stdin: Option<&[u8]>) -> (Option<i32>, String) {
    let mut out = tempfile::tempfile().expect("a file for the output");
    let mut cmd = Command::new(GRIDCTL);
    cmd.arg("-f")
        .arg(&grid.manifest)
        .args(["attach", name])
        .env_remove("GRIDCTL_FILE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(out.try_clone().expect("dup"))
        .stderr(out.try_clone().expect("dup"));
    let mut child = cmd.spawn().expect("run gridctl attach");
    grid.record(child.id());
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The pipe closes when `pipe` drops: the input ends there.
        let _ = pipe.write_all(bytes);
    }
    let status = wait_child(&mut child, SHORT);
    if status.is_none() {
        kill_pid(child.id());
        let _ = child.wait();
    }
    let mut text = String::new();
    let _ = out.rewind().and_then(|()| out.read_to_string(&mut text));
    (status.and_then(|s| s.code()), text)
}

#[test]
fn attach_without_a_terminal_is_refused_and_replays_nothing() {
    let grid = Grid::new(1);
    grid.up();
    for (how, stdin) in [("/dev/null", None), ("a pipe", Some(&b"show uptime\n"[..]))] {
        let (code, out) = attach_with_stdin(&grid, "core-1", stdin);
        assert_eq!(code, Some(2), "stdin from {how}: {out}");
        assert_eq!(
            diagnostic_lines(&out),
            [
                "error: attach needs a terminal (stdin and stdout)",
                "help: use `gridctl send core-1 LINE` to type a line, `gridctl logs -f core-1` to watch",
            ],
            "stdin from {how}: {out}"
        );
        // Not one byte of the console: no replay at all, let alone two.
        assert!(!out.contains("R.O.B.U.S.T."), "stdin from {how}: {out}");
    }
    // Nothing was typed: the console never saw `show uptime`.
    let (code, out) = grid.run(&["logs", "core-1"], SHORT);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("show uptime"), "{out}");
}

#[test]
fn status_lists_roles_in_manifest_order_and_copies_by_number() {
    // 10 asset copies: start order puts every role's first copy first, and name order
    // would put asset-10 before asset-2.
    let grid = Grid::new(10);
    let mut want = vec!["core-1".to_string()];
    want.extend((1..=10).map(|n| format!("asset-{n}")));
    want.push("inventory-1".into());

    let json: Vec<String> = grid.status().into_iter().map(|r| r.name).collect();
    assert_eq!(json, want);
    let (code, out) = grid.run(&["status"], SHORT);
    assert_eq!(code, Some(0), "{out}");
    let table: Vec<String> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert_eq!(table, want, "{out}");
}

#[test]
fn init_checks_bin_dir_and_writes_nothing_when_it_is_wrong() {
    let (_tmp, dir) = common::grid::scratch_dir("gridctl-init-", None);
    let manifest = dir.join("grid.toml");
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").expect("write");
    let init = |bin_dir: &std::path::Path| {
        let mut cmd = Command::new(GRIDCTL);
        cmd.arg("-f")
            .arg(&manifest)
            .args(["init", "--bin-dir"])
            .arg(bin_dir)
            .current_dir(&dir)
            .env_remove("GRIDCTL_FILE");
        let out = common::run::run_to_end(cmd, SHORT, |_| {});
        (out.code, out.stdout + &out.stderr)
    };
    for (bin_dir, why) in [
        (dir.join("missing"), "does not exist"),
        (file.clone(), "is not a directory"),
        (
            empty.clone(),
            "has no Robust.exe (nor Robust.dll): it is not OpenSim's bin/",
        ),
    ] {
        let (code, out) = init(&bin_dir);
        assert_eq!(code, Some(2), "{}: {out}", bin_dir.display());
        assert_eq!(
            diagnostic_lines(&out),
            [
                format!("error: --bin-dir `{}` {why}", bin_dir.display()).as_str(),
                "help: give OpenSim's bin/ directory, the one holding Robust.exe (or Robust.dll)",
            ],
            "{out}"
        );
        assert!(
            !manifest.exists(),
            "nothing written for {}",
            bin_dir.display()
        );
    }
    // The fake bin/ has Robust.exe: init writes a manifest that checks.
    let (code, out) = init(&common::fake_bin_dir());
    assert_eq!(code, Some(0), "{out}");
    assert!(manifest.exists(), "{out}");
}

#[test]
fn check_tells_a_dns_timeout_from_a_name_that_does_not_exist() {
    let grid = Grid::new(1);
    // Public hostnames under `.invalid`, a TLD that never resolves (RFC 6761).
    let text = std::fs::read_to_string(&grid.manifest).expect("grid.toml");
    let text = text.replace("grid.localhost", "does-not-exist.invalid");
    std::fs::write(&grid.manifest, text).expect("write grid.toml");
    let login = "login.does-not-exist.invalid";
    // Test-only knobs: how long check waits, and lookups that never answer (a DNS
    // server that is down).
    let check = |deadline: &str, stall: &str| {
        let mut cmd = Command::new(GRIDCTL);
        cmd.arg("-f")
            .arg(&grid.manifest)
            .arg("check")
            .current_dir(&grid.dir)
            .env_remove("GRIDCTL_FILE")
            .env("GRIDCTL_TEST_DNS_DEADLINE", deadline)
            .env("GRIDCTL_TEST_DNS_STALL", stall);
        let out = common::run::run_to_end(cmd, Duration::from_secs(40), |pid| grid.record(pid));
        (out.code, out.stdout + &out.stderr)
    };
    let failed_line = |out: &str| -> Option<String> {
        diagnostic_lines(out)
            .into_iter()
            .find(|l| {
                (l.contains(" does not resolve: ") || l.contains(" do not resolve: "))
                    && l.contains(login)
            })
            .map(str::to_string)
    };
    let timed_out_line = |out: &str, secs: u64| -> Option<String> {
        let head = format!("warning: timed out after {secs} s resolving ");
        diagnostic_lines(out)
            .into_iter()
            .find(|l| l.starts_with(&head))
            .map(str::to_string)
    };

    // The resolver answers (given all the time it needs): `login` does not exist.
    let (code, out) = check("30", "");
    assert_eq!(code, Some(0), "warnings only: {out}");
    assert!(
        failed_line(&out).is_some(),
        "{login} does not resolve: {out}"
    );
    assert!(
        timed_out_line(&out, 30).is_none_or(|l| !l.contains(login)),
        "{out}"
    );

    // The resolver never answers for `login`: after the default 2 s, a timeout, named
    // apart from the names that do not exist.
    let (code, out) = check("", login);
    assert_eq!(code, Some(0), "warnings only: {out}");
    assert!(
        timed_out_line(&out, 2).is_some_and(|l| l.contains(login)),
        "{out}"
    );
    assert!(failed_line(&out).is_none(), "{out}");
}

#[test]
fn a_copy_in_crash_loop_gets_one_line_naming_restart() {
    let grid = Grid::new(1);
    // inventory-1 crashes 300 ms after each start; two crashes make a crash loop.
    let text = std::fs::read_to_string(&grid.manifest).expect("grid.toml");
    let text = text.replace(
        "ready_timeout = \"15s\"",
        "ready_timeout = \"15s\"\nbackoff_initial = \"100ms\"\ncrash_loop_count = 2\ncrash_loop_window = \"30s\"",
    ) + "\n[roles.inventory.settings.FakeRobust]\nCrashAfterMs = 300\n";
    std::fs::write(&grid.manifest, text).expect("write grid.toml");
    let (_, out) = grid.run(&["up", "--wait"], Duration::from_secs(30));
    common::wait::wait_for("inventory-1 in crash-loop", SHORT, || {
        let rows = grid.status();
        let r = common::grid::row(&rows, "inventory-1");
        (r.state == "crash-loop").then_some(())
    });

    let (code, sent) = grid.run(&["send", "inventory-1", "show uptime"], SHORT);
    assert_eq!(code, Some(1), "{sent}\n(up: {out})");
    assert_eq!(
        diagnostic_lines(&sent),
        ["error: inventory-1 is not running (crash-loop); restart it with `gridctl restart inventory-1`"],
        "{sent}"
    );
}
