//! Running a program (usually `gridctl`) to completion under a deadline.
#![allow(dead_code)] // each test crate uses a different subset

use super::procs::kill_pid;
use super::wait::wait_child;
use std::io::{Read, Seek};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished (or killed) run left.
#[derive(Debug)]
pub struct Out {
    /// `None`: killed at the deadline (or by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The whole run, for a failure message.
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:.2}s\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            self.took.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `cmd` with stdin from /dev/null and its output going to (unnamed) files — not
/// pipes: a detached holder may inherit whatever the CLI had, and a pipe it holds would
/// keep the reader waiting. `on_spawn` gets the pid at once; past `timeout` the process
/// is SIGKILLed by that pid.
pub fn run_to_end(mut cmd: Command, timeout: Duration, on_spawn: impl FnOnce(u32)) -> Out {
    let mut out = tempfile::tempfile().expect("a file for stdout");
    let mut err = tempfile::tempfile().expect("a file for stderr");
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup the stdout file"))
        .stderr(err.try_clone().expect("dup the stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    on_spawn(child.id());
    let status = wait_child(&mut child, timeout);
    if status.is_none() {
        kill_pid(child.id());
        let _ = child.wait();
    }
    let took = start.elapsed();
    let read = |f: &mut std::fs::File| {
        let mut buf = Vec::new();
        let _ = f.rewind().and_then(|()| f.read_to_end(&mut buf));
        String::from_utf8_lossy(&buf).into_owned()
    };
    Out {
        code: status.and_then(|s| s.code()),
        stdout: read(&mut out),
        stderr: read(&mut err),
        took,
    }
}
