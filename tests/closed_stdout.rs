//! A reader that goes away (`gridctl status | head -1`, `send … | head -2`, a next
//! command that closed its stdin) ends a reporting command quietly with exit 0; on
//! issue 19's main they panicked with exit 101 ("failed printing to stdout: Broken pipe").

mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use std::process::Stdio;
use std::time::Duration;

/// Runs `gridctl ARGS` with its stdout a pipe whose reading end is already closed: its
/// exit code and what it said on stderr.
fn into_closed_pipe(g: &Grid, args: &[&str]) -> (Option<i32>, String) {
    use std::io::{Read, Seek};
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    let mut err = tempfile::tempfile().expect("a file for stderr");
    let mut child = g
        .command(args)
        .stdout(Stdio::from(write))
        .stderr(err.try_clone().expect("dup"))
        .spawn()
        .expect("run gridctl");
    g.record(child.id());
    let status = common::wait::wait_child(&mut child, Duration::from_secs(20));
    if status.is_none() {
        common::procs::kill_pid(child.id());
        let _ = child.wait();
    }
    let mut text = String::new();
    let _ = err.rewind().and_then(|()| err.read_to_string(&mut text));
    (status.and_then(|s| s.code()), text)
}

#[test]
fn reporting_commands_end_quietly_when_their_reader_is_gone() {
    let g = Grid::standard("", "");
    g.up();
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["plan"],
        &["send", "core-1", "show info"],
        &["logs", "-n", "50", "core-1"],
    ] {
        let (code, stderr) = into_closed_pipe(&g, args);
        assert_eq!(code, Some(0), "gridctl {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "gridctl {args:?}: {stderr}");
    }
}

/// Issue 19.3: a console log holding C1 controls (written before the holder dropped
/// them, or by another build) reaches the operator's terminal without them.
#[test]
fn logs_never_print_a_c1_control() {
    let g = Grid::standard("", "");
    g.ok(&["render"]);
    let log = g.instance_dir("core-1").join("console.log");
    std::fs::write(
        &log,
        b"12:00:00 - [X]: a\xc2\x9d52;c;aGk=\xc2\x9cb\n12:00:01 - \xc2\x9b2J caf\xc3\xa9\n",
    )
    .unwrap();
    let out = g.ok(&["logs", "core-1"]);
    assert_eq!(
        out.stdout,
        "12:00:00 - [X]: a52;c;aGk=b\n12:00:01 - 2J caf\u{e9}\n"
    );
}
