//! The child process: spawned on its own PTY as a session leader, drained, fed and
//! reaped.
//!
//! Per child there are three plain threads, because PTY and `waitid` calls block:
//! - the **drain** reads the master and feeds model, scrollback, viewers and log (the
//!   last two get finished lines from a [`LineBuilder`], never keystroke redraws);
//! - the **waiter** blocks in `waitid(WNOWAIT)`, marks the child exited under the hub
//!   lock, and only then reaps it, so a signal can never hit a reaped (reusable) pid;
//! - the **input** writer owns the master's write side, fed by a channel, so a child
//!   that stops reading its console never blocks the drain (CPR answers use `try_send`).
//!
//! A child counts as stopped only when it is reaped **and** its PTY reached EOF.

use super::startup::readiness_task;
use crate::console::lines::LineBuilder;
use crate::holder::hub::{ChildSlot, Hub};
use crate::spec::InstanceSpec;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::openpty;
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The launcher passes its report pipe under this name; children must not inherit it.
pub(crate) const READY_FD_ENV: &str = "GRIDCTL_HOLDER_READY_FD";

/// How long a reaped child's PTY may stay open (a straggler holding the slave)
/// before the holder closes its master to hang them up.
const EOF_GRACE: Duration = Duration::from_secs(3);

/// Flush the console log at least this often while output trickles.
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(500);

/// A spawned child as the supervisor tracks it.
pub(crate) struct RunningChild {
    pub generation: u64,
    pub pid: Pid,
    pub(super) started: Instant,
    exit_rx: watch::Receiver<Option<String>>,
    eof_rx: watch::Receiver<bool>,
    /// Written to when the PTY is to be let go: wakes the drain thread's `poll`.
    abandon: OwnedFd,
}

impl RunningChild {
    pub(super) async fn wait_exit(&mut self, limit: Option<Duration>) -> Option<String> {
        let wait = self.exit_rx.wait_for(|v| v.is_some());
        let res = match limit {
            Some(d) => tokio::time::timeout(d, wait).await.ok()?,
            None => wait.await,
        };
        match res {
            Ok(v) => v.clone(),
            // The waiter thread vanished without a verdict (cannot happen normally).
            Err(_) => Some("unknown exit".into()),
        }
    }

    async fn wait_eof(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.eof_rx.wait_for(|v| *v))
            .await
            .is_ok()
    }
}

/// Spawns the spec's program on a fresh PTY and starts its threads and readiness task.
/// Must be called inside the tokio runtime.
pub(crate) fn start_child(hub: &Arc<Hub>) -> io::Result<RunningChild> {
    let spec = hub.spec();
    let (rows, cols) = hub.pty_size();
    let (pid, master) = spawn_on_pty(&spec, rows, cols)?;
    let master = Arc::new(master);
    let reader = File::from(master.try_clone()?);
    let writer = File::from(master.try_clone()?);

    let generation = {
        let mut g = hub.lock();
        g.generation += 1;
        g.generation
    };
    let (input_tx, input_rx) = mpsc::channel::<Vec<u8>>(256);
    let (exit_tx, exit_rx) = watch::channel(None);
    let (eof_tx, eof_rx) = watch::channel(false);
    // Close-on-exec: the child must not inherit the holder's wake pipe.
    let (abandon_rx, abandon) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;

    let notify = hub.child_started(ChildSlot {
        generation,
        pid,
        input: input_tx.clone(),
        master,
        exited: false,
    });
    hub.holder_log.log(&format!(
        "started `{}` pid {pid} (generation {generation})",
        spec.program
    ));

    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map(|_| ())
    };
    {
        let hub = hub.clone();
        spawn(
            "drain",
            Box::new(move || {
                drain_thread(&hub, generation, reader, &input_tx, &abandon_rx, &eof_tx)
            }),
        )?;
    }
    {
        let hub = hub.clone();
        spawn(
            "waiter",
            Box::new(move || waiter_thread(&hub, generation, pid, &exit_tx)),
        )?;
    }
    spawn("input", Box::new(move || input_thread(writer, input_rx)))?;
    tokio::spawn(readiness_task(hub.clone(), generation, spec, notify));

    Ok(RunningChild {
        generation,
        pid,
        started: Instant::now(),
        exit_rx,
        eof_rx,
        abandon,
    })
}

/// Opens a PTY of `rows`×`cols` and starts the program on it as a session leader
/// with the PTY as its controlling terminal. The slave is closed here before return,
/// otherwise the master would never see EOF.
fn spawn_on_pty(spec: &InstanceSpec, rows: u16, cols: u16) -> io::Result<(Pid, OwnedFd)> {
    if !spec.cwd.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("working directory {} does not exist", spec.cwd.display()),
        ));
    }
    let ws = nix::pty::Winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(&ws, None).map_err(io::Error::from)?;
    for fd in [&pty.master, &pty.slave] {
        // Neither end may leak into this or any later child.
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(io::Error::from)?;
    }
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .env_remove(READY_FD_ENV)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::from(pty.slave.try_clone()?))
        .stdout(Stdio::from(pty.slave.try_clone()?))
        .stderr(Stdio::from(pty.slave));
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // functions (signal, sigprocmask, setsid, ioctl) without allocating.
    unsafe {
        cmd.pre_exec(|| {
            // Robust must die on SIGHUP when its master closes and obey SIGINT/SIGTERM,
            // whatever dispositions the holder had.
            for sig in [
                libc::SIGHUP,
                libc::SIGINT,
                libc::SIGTERM,
                libc::SIGQUIT,
                libc::SIGCHLD,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY as _, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("run `{}`: {e}", spec.program)))?;
    let pid = Pid::from_raw(child.id() as i32);
    // `cmd` holds the slave copies: close them now. Dropping `child` neither waits
    // nor kills; the waiter thread reaps it.
    drop(cmd);
    drop(child);
    Ok((pid, pty.master))
}

fn drain_thread(
    hub: &Hub,
    generation: u64,
    mut reader: File,
    input: &mpsc::Sender<Vec<u8>>,
    abandon: &OwnedFd,
    eof: &watch::Sender<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    // Finished lines of each chunk, as the screen finally showed them.
    let mut lines = Vec::with_capacity(64 * 1024);
    let mut builder = LineBuilder::new();
    let mut last_flush = Instant::now();
    let mut log_error_reported = false;
    // Non-blocking reads: while output flows, one syscall per chunk; `poll` only when
    // the PTY is empty, so the log is flushed whenever output pauses and an abandoned
    // PTY (straggler after the child was reaped) can be let go.
    let nonblocking = nix::fcntl::fcntl(&reader, nix::fcntl::FcntlArg::F_GETFL)
        .map(nix::fcntl::OFlag::from_bits_truncate)
        .and_then(|fl| {
            nix::fcntl::fcntl(
                &reader,
                nix::fcntl::FcntlArg::F_SETFL(fl | nix::fcntl::OFlag::O_NONBLOCK),
            )
        })
        .is_ok();
    let mut ready = false;
    loop {
        if !ready || !nonblocking {
            // While the log holds unflushed lines, wake to flush them once output
            // pauses; otherwise sleep until output or the abandon pipe (an idle holder
            // costs no wake-ups).
            let timeout = if log_dirty(hub) {
                PollTimeout::from(200u16)
            } else {
                PollTimeout::NONE
            };
            let mut fds = [
                PollFd::new(reader.as_fd(), PollFlags::POLLIN),
                PollFd::new(abandon.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Ok(0) => {
                    flush_log(hub);
                    last_flush = Instant::now();
                    continue;
                }
                Ok(_) if fds[1].revents().is_some_and(|r| !r.is_empty()) => break,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                ready = false;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO: every slave fd is closed — the PTY's end of file.
            Err(_) => break,
        };
        ready = true;
        let chunk = &buf[..n];
        lines.clear();
        builder.feed(chunk, &mut lines);
        if let Some(reply) = hub.drain(
            generation,
            chunk,
            &lines,
            builder.red_lines(),
            builder.pending(),
        ) {
            // Never block the drain on the input side; a full queue means the child
            // is not reading its console anyway.
            let _ = input.try_send(reply);
        }
        let mut log = hub.log.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = log.as_mut() {
            let mut res = log.write(&lines);
            if last_flush.elapsed() >= LOG_FLUSH_EVERY {
                res = res.and_then(|()| log.flush());
                last_flush = Instant::now();
            }
            match res {
                Err(e) if !log_error_reported => {
                    log_error_reported = true;
                    hub.holder_log
                        .log(&format!("console log {}: {e}", log.path().display()));
                }
                Ok(()) => log_error_reported = false,
                Err(_) => {}
            }
        }
    }
    flush_log(hub);
    let _ = eof.send(true);
}

fn log_dirty(hub: &Hub) -> bool {
    let log = hub.log.lock().unwrap_or_else(|e| e.into_inner());
    log.as_ref().is_some_and(|l| l.is_dirty())
}

fn flush_log(hub: &Hub) {
    let mut log = hub.log.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(log) = log.as_mut().filter(|l| l.is_dirty()) {
        let _ = log.flush();
    }
}

fn waiter_thread(hub: &Hub, generation: u64, pid: Pid, exit: &watch::Sender<Option<String>>) {
    // Wait without reaping, so the pid stays ours until it is marked exited.
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                hub.holder_log.log(&format!("waitid({pid}): {e}"));
                break;
            }
        }
    }
    let description = {
        let _guard = hub.mark_exited(generation);
        match waitpid(pid, None) {
            Ok(status) => describe_exit(status),
            Err(e) => format!("unknown exit ({e})"),
        }
    };
    let _ = exit.send(Some(description));
}

/// `exit 1`, `signal 9`.
pub fn describe_exit(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("signal {}", sig as i32),
        other => format!("{other:?}"),
    }
}

fn input_thread(mut writer: File, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(bytes) = rx.blocking_recv() {
        if write_all_waiting(&mut writer, &bytes).is_err() {
            break;
        }
    }
}

/// `write_all` on the PTY master, whose open file is non-blocking (the drain thread's
/// reads share it): waits for room instead of failing on `EAGAIN`.
fn write_all_waiting(writer: &mut File, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match writer.write(bytes) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut fds = [PollFd::new(writer.as_fd(), PollFlags::POLLOUT)];
                match poll(&mut fds, PollTimeout::from(1000u16)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits for the PTY's EOF after the child was reaped, then records the exit.
pub(super) async fn finish(hub: &Hub, child: &mut RunningChild, how: &str) {
    if !child.wait_eof(EOF_GRACE).await {
        hub.holder_log
            .log("PTY still open after the child exited; closing it to hang up stragglers");
        let _ = nix::unistd::write(&child.abandon, b"x");
        child.wait_eof(Duration::from_secs(2)).await;
    }
    hub.child_finished(child.generation, how);
}
