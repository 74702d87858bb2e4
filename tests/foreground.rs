//! Issue 13, part 1: `gridctl pod run` (the holder in the foreground, as a container's
//! PID 1) and `gridctl probe`, end to end with the real binaries and the fake Robust:
//! the console on stdout, the probe turning ready, status/send through the socket, a
//! graceful stop on SIGTERM with exit status 0, and 128 + SIGTERM when Robust ignores
//! `shutdown` and SIGINT. Every process is ended by pid (the `Grid` drop and
//! [`Foreground`]'s own drop); every wait has a deadline.

mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// `gridctl pod run NAME` as a child of the test, stdout and stderr read by threads.
struct Foreground {
    child: Child,
    pid: u32,
    out: Receiver<String>,
    err: Receiver<String>,
    seen: Vec<String>,
}

impl Foreground {
    fn start(g: &Grid, name: &str) -> Foreground {
        let mut child = g
            .command(&["pod", "run", name])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gridctl pod run");
        let pid = child.id();
        g.record(pid);
        let lines = |r: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let out = lines(Box::new(child.stdout.take().expect("stdout")));
        let err = lines(Box::new(child.stderr.take().expect("stderr")));
        Foreground {
            child,
            pid,
            out,
            err,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `text`; every line read is kept in `seen`.
    fn wait_stdout(&mut self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        if self.seen.iter().any(|l| l.contains(text)) {
            return true;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(text);
                    self.seen.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    fn stderr_so_far(&self) -> String {
        self.err.try_iter().collect::<Vec<_>>().join("\n")
    }

    fn sigterm(&self) {
        assert!(
            common::procs::kill(self.pid, libc::SIGTERM),
            "SIGTERM to {}",
            self.pid
        );
    }

    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        common::wait::wait_child(&mut self.child, timeout)
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        // On a failed assertion: the holder (this pid, after the exec) goes first; the
        // Grid's drop then ends whatever still names the grid's directory.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `gridctl probe NAME`: (exit code, stdout), within a deadline.
fn probe(g: &Grid, name: &str) -> (Option<i32>, String) {
    let t0 = Instant::now();
    let out = g.run_with(&["probe", name], SECS(10));
    // A probe must never hang: its own limit is 2 s.
    assert!(t0.elapsed() < SECS(5), "probe took {:?}", t0.elapsed());
    (out.code, out.stdout.clone())
}

/// Only the instance's own processes are left of the grid: none.
fn assert_nothing_left(g: &Grid) {
    wait_for("no process of the grid left", SECS(5), || {
        g.processes().is_empty().then_some(())
    });
}

#[test]
fn pod_run_shows_the_console_answers_probes_and_stops_gracefully_on_sigterm() {
    let g = Grid::standard("", "");
    // Before any holder: not ready, said in one line.
    let (code, line) = probe(&g, "core-1");
    assert_eq!(code, Some(1), "{line}");
    assert!(line.starts_with("core-1: "), "{line}");

    let mut fg = Foreground::start(&g, "core-1");
    // The console on stdout, ANSI stripped: Robust's startup log lines.
    assert!(
        fg.wait_stdout("loaded successfully", SECS(20)),
        "no console on stdout: {:?}\nstderr: {}",
        fg.seen,
        fg.stderr_so_far()
    );
    assert!(fg.seen.iter().all(|l| !l.contains('\x1b')), "{:?}", fg.seen);
    wait_for("probe says ready", SECS(20), || {
        (probe(&g, "core-1").0 == Some(0)).then_some(())
    });
    assert_eq!(probe(&g, "core-1").1.trim(), "core-1: ready");

    // The socket serves the usual commands; only core-1 runs.
    let status = g.ok(&["status"]);
    let rows = g.status();
    assert_eq!(row(&rows, "core-1").state, "ready", "{status}");
    assert_eq!(row(&rows, "core-1").holder_pid, Some(fg.pid), "{status}");
    let sent = g.ok(&["send", "core-1", "show uptime"]);
    assert!(
        sent.stdout.contains("uptime") || sent.stdout.contains("Time"),
        "{sent}"
    );
    // Only this instance's tree was rendered.
    assert!(g.instance_dir("core-1").join("holder.json").is_file());
    assert!(!g.instance_dir("asset-1").exists());

    fg.sigterm();
    let status = fg
        .wait(SECS(15))
        .expect("pod run did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr: {}", fg.stderr_so_far());
    // Robust's own graceful shutdown, on stdout and in the console log.
    assert!(fg.wait_stdout("Quitting", SECS(5)), "{:?}", fg.seen);
    assert!(g.console_log("core-1").contains("Quitting"));
    let log = g.holder_log("core-1");
    assert!(log.contains("stopped: exit 0 after `shutdown`"), "{log}");
    assert!(log.contains("holder exiting with status 0"), "{log}");
    assert_nothing_left(&g);
    assert!(!g.socket("core-1").exists(), "socket left behind");
}

#[test]
fn pod_run_exit_status_tells_a_stop_that_needed_sigterm() {
    let g = Grid::standard(
        "stop_timeout = \"300ms\"\nsigint_timeout = \"300ms\"\nsigterm_timeout = \"3s\"",
        "[roles.core.settings.FakeRobust]\nIgnoreShutdown = true\n",
    );
    let mut fg = Foreground::start(&g, "core-1");
    wait_for("probe says ready", SECS(20), || {
        (probe(&g, "core-1").0 == Some(0)).then_some(())
    });
    fg.sigterm();
    let status = fg
        .wait(SECS(15))
        .expect("pod run did not exit after SIGTERM");
    // `shutdown` and SIGINT were heard (Quitting) but not obeyed: SIGTERM ended it.
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{:?}", status);
    let log = g.holder_log("core-1");
    assert!(log.contains("after SIGTERM"), "{log}");
    assert!(log.contains("holder exiting with status 143"), "{log}");
    assert_nothing_left(&g);
}

#[test]
fn pod_run_and_probe_refuse_an_unknown_instance_with_exit_3() {
    let g = Grid::standard("", "");
    let out = g.run(&["pod", "run", "nope-1"]);
    assert_eq!(out.code, Some(3), "{out}");
    assert!(out.stderr.contains("no instance named `nope-1`"), "{out}");
    assert!(!g.state.join("instances").join("nope-1").exists());
    let (code, _) = probe(&g, "nope-1");
    assert_eq!(code, Some(3));
    assert_nothing_left(&g);
}

/// Zombie children of `parent`, from /proc.
fn zombie_children(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        let mut f = rest.split_whitespace();
        let state = f.next()?;
        let ppid: u32 = f.next()?.parse().ok()?;
        (state == "Z" && ppid == parent).then_some(pid)
    })
    .collect()
}

#[test]
fn pod_run_reaps_orphans_re_parented_to_it() {
    // Robust started through a shell that leaves an orphan behind: `(sleep 0.3 &)`
    // forks the sleep from a subshell that exits at once, so the sleep is re-parented
    // to the holder (a child subreaper here, PID 1 in a container) and must be reaped
    // by it when it ends.
    let g = Grid::new(16, |base| {
        let plain = format!("command = [\"{FAKE_ROBUST}\", \"Robust.dll\"]");
        let text = manifest(base, "", "");
        assert!(text.contains(&plain), "the standard manifest changed");
        text.replace(
            &plain,
            &format!(
                "command = [\"/bin/sh\", \"-c\", \"(sleep 0.3 &); exec {FAKE_ROBUST} \\\"$@\\\"\", \"sh\", \"Robust.dll\"]"
            ),
        )
    });
    let mut fg = Foreground::start(&g, "core-1");
    wait_for("probe says ready", SECS(20), || {
        (probe(&g, "core-1").0 == Some(0)).then_some(())
    });
    wait_for("the orphan reaped", SECS(10), || {
        g.holder_log("core-1")
            .contains("reaped orphan pid")
            .then_some(())
    });
    assert!(
        zombie_children(fg.pid).is_empty(),
        "{:?}",
        zombie_children(fg.pid)
    );
    fg.sigterm();
    let status = fg
        .wait(SECS(15))
        .expect("pod run did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr: {}", fg.stderr_so_far());
    assert_nothing_left(&g);
}

#[test]
fn pod_run_ends_after_a_crash_loop_so_the_container_runtime_restarts_it() {
    // A detached holder waits in `crash-loop` for an operator; in a container nobody
    // would see that, so the foreground holder ends and the kubelet's own backoff
    // (CrashLoopBackOff, a restart count) takes over.
    let g = Grid::new(16, |base| {
        manifest(
            base,
            "backoff_initial = \"100ms\"\ncrash_loop_count = 3\ncrash_loop_window = \"30s\"",
            &format!(
                "[roles.crashy]\nservices = [\"agentprefs\"]\nport = {}\n\n\
                 [roles.crashy.settings.FakeRobust]\nCrashAfterMs = 200\n",
                base + 6
            ),
        )
    });
    let mut fg = Foreground::start(&g, "crashy-1");
    let status = fg
        .wait(SECS(20))
        .expect("pod run did not end after its crash loop");
    // The fake's crash is `exit 1`: the container says so.
    assert_eq!(status.code(), Some(1), "stderr: {}", fg.stderr_so_far());
    let log = g.holder_log("crashy-1");
    assert!(log.contains("ending the container"), "{log}");
    assert_eq!(log.matches("ended unexpectedly").count(), 3, "{log}");
    assert_nothing_left(&g);
}

/// The children of `pid` (`/proc/PID/task/PID/children`).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Issue 19.10: a SIGTERM the moment the child appears killed the foreground holder by
/// the default action (15 of 15), leaving the child without its stop sequence. The
/// handlers now exist before the child: the stop runs, and the exit status says how
/// the child ended.
#[test]
fn pod_run_stops_gracefully_on_a_sigterm_as_its_child_appears() {
    use std::os::unix::process::ExitStatusExt;
    for round in 0..3 {
        let g = Grid::standard("", "");
        let mut fg = Foreground::start(&g, "core-1");
        let child = wait_for("the holder's child", SECS(20), || {
            children(fg.pid).first().copied()
        });
        fg.sigterm();
        let status = fg
            .wait(SECS(20))
            .expect("pod run did not exit after SIGTERM");
        assert_eq!(
            status.signal(),
            None,
            "round {round}: the holder was killed by the signal itself: {}",
            fg.stderr_so_far()
        );
        assert!(status.code().is_some(), "round {round}: {status:?}");
        let log = g.holder_log("core-1");
        assert!(log.contains("signalled: stopping"), "round {round}: {log}");
        wait_for("the child gone", SECS(10), || {
            (!common::procs::alive(child)).then_some(())
        });
        assert_nothing_left(&g);
    }
}
