//! The child process: spawned on its own PTY as a session leader, read, fed and
//! reaped — all from the holder's event loop (one thread), so a keystroke from a viewer
//! is written to the PTY and its echo read back and forwarded without a thread hand-off:
//! - the **reader** task reads the non-blocking master when it is readable and hands
//!   each chunk to the viewers and the console worker (which does everything else:
//!   model, lines, scrollback, log); it pauses while the worker's queue is full;
//! - the **input** task writes what is typed (keystrokes, `send` lines, cursor-position
//!   answers) in order, waiting for room when the child does not read its console;
//! - the **waiter** task wakes on SIGCHLD, checks `waitid(WNOWAIT)` for this pid, marks
//!   the child exited under the hub lock, and only then reaps it, so a signal can never
//!   hit a reaped (reusable) pid.
//!
//! A child counts as stopped only when it is reaped **and** its PTY reached EOF.

use super::startup::readiness_task;
use crate::hub::worker::Work;
use crate::hub::{ChildSlot, Hub, Pty};
use crate::spec::InstanceSpec;
use nix::pty::openpty;
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{mpsc, watch, Notify};

/// The launcher passes its report pipe under this name; children must not inherit it.
pub(crate) const READY_FD_ENV: &str = "GRIDCTL_HOLDER_READY_FD";

/// How long a reaped child's PTY may stay open (a straggler holding the slave)
/// before the holder closes its master to hang them up.
const EOF_GRACE: Duration = Duration::from_secs(3);

/// Keystrokes and answers queued for the child before typists wait.
const INPUT_QUEUE: usize = 256;

/// A spawned child as the supervisor tracks it.
pub(crate) struct RunningChild {
    pub generation: u64,
    pub pid: Pid,
    pub(super) started: Instant,
    exit_rx: watch::Receiver<Option<String>>,
    eof_rx: watch::Receiver<bool>,
    /// Notified when the PTY is to be let go: the reader stops and closes its end.
    abandon: Arc<Notify>,
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
            // The waiter task vanished without a verdict (cannot happen normally).
            Err(_) => Some("unknown exit".into()),
        }
    }

    async fn wait_eof(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.eof_rx.wait_for(|v| *v))
            .await
            .is_ok()
    }
}

/// Spawns the spec's program on a fresh PTY and starts its tasks. Must be called inside
/// the tokio runtime.
pub(crate) fn start_child(hub: &Arc<Hub>) -> io::Result<RunningChild> {
    let spec = hub.spec();
    let (rows, cols) = hub.pty_size();
    // Before the spawn, so an exit can never slip between fork and the first look.
    let sigchld = signal(SignalKind::child())?;
    let (pid, master) = spawn_on_pty(&spec, rows, cols)?;
    let master = match set_nonblocking(&master).and_then(|()| register(master)) {
        Ok(m) => Arc::new(m),
        Err(e) => {
            // Not driven, it would hang on a full PTY forever: take it down at once.
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(pid, None);
            return Err(e);
        }
    };

    let generation = {
        let mut g = hub.lock();
        g.generation += 1;
        g.generation
    };
    let (input_tx, input_rx) = mpsc::channel::<Vec<u8>>(INPUT_QUEUE);
    let (exit_tx, exit_rx) = watch::channel(None);
    let (eof_tx, eof_rx) = watch::channel(false);
    let abandon = Arc::new(Notify::new());

    // The worker starts this child's lines afresh before any of its output.
    hub.work.push(Work::Begin { generation });
    let notify = hub.child_started(
        ChildSlot {
            generation,
            pid,
            exited: false,
        },
        Pty {
            generation,
            input: input_tx,
            master: master.clone(),
        },
    );
    hub.holder_log.log(&format!(
        "started `{}` pid {pid} (generation {generation})",
        spec.program
    ));

    tokio::spawn(reader(
        hub.clone(),
        generation,
        master.clone(),
        abandon.clone(),
        eof_tx,
    ));
    tokio::spawn(waiter(hub.clone(), generation, pid, sigchld, exit_tx));
    tokio::spawn(typist(master, input_rx));
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

/// The master on the event loop's reactor.
fn register(master: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` is a valid open descriptor and returns the same number for
    // as long as it lives, which is as long as the `AsyncFd` that owns it.
    unsafe { AsyncFd::register(master) }.map_err(|e| e.into_parts().1)
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
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
    // nor kills; the waiter task reaps it.
    drop(cmd);
    drop(child);
    Ok((pid, pty.master))
}

/// Reads the PTY while the worker has room, until EOF (every slave fd closed: `EIO`)
/// or until the PTY is abandoned. Only reads and forwards: the worker does the rest.
async fn reader(
    hub: Arc<Hub>,
    generation: u64,
    master: Arc<AsyncFd<OwnedFd>>,
    abandon: Arc<Notify>,
    eof: watch::Sender<bool>,
) {
    let work = hub.work.clone();
    loop {
        // Back-pressure: a worker behind by a full queue pauses reading, as a slow
        // terminal does; the child then blocks in `write`, and no log byte is lost.
        work.room().await;
        let mut guard = tokio::select! {
            biased;
            _ = abandon.notified() => break,
            ready = master.readable() => match ready {
                Ok(guard) => guard,
                Err(_) => break,
            },
        };
        // Gather what is there (a PTY read returns at most ~4 KiB) into one chunk.
        let mut buf = work.buffer();
        let mut end = false;
        loop {
            let spare = buf.spare_capacity_mut();
            // SAFETY: `read` writes at most `spare.len()` bytes into the vector's
            // unused capacity, and exactly the `n` it reports are marked initialized.
            let n = unsafe {
                libc::read(
                    master.get_ref().as_raw_fd(),
                    spare.as_mut_ptr().cast(),
                    spare.len(),
                )
            };
            if n > 0 {
                // SAFETY: see above; `n` ≤ the spare capacity.
                unsafe { buf.set_len(buf.len() + n as usize) };
                if buf.capacity() - buf.len() < 4096 {
                    break;
                }
                continue;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                _ if n == 0 => end = true,
                io::ErrorKind::WouldBlock => guard.clear_ready(),
                io::ErrorKind::Interrupted => continue,
                // EIO: every slave fd is closed — the PTY's end of file.
                _ => end = true,
            }
            break;
        }
        let flooding = buf.capacity() - buf.len() < 4096;
        if !buf.is_empty() {
            hub.output(generation, buf);
        }
        if end {
            break;
        }
        if flooding {
            // More is waiting: let the viewers' tasks send this chunk first, or a
            // flood would be read many chunks ahead of them (each would then lag
            // and be redrawn instead of seeing the output).
            tokio::task::yield_now().await;
        }
    }
    let _ = eof.send(true);
}

/// Waits (without reaping) until `pid` exits, so the pid stays ours until it is
/// marked exited; then reaps it.
async fn waiter(
    hub: Arc<Hub>,
    generation: u64,
    pid: Pid,
    mut sigchld: Signal,
    exit: watch::Sender<Option<String>>,
) {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    loop {
        match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) => {
                // SIGCHLD also comes for hook processes: just look again.
                if sigchld.recv().await.is_none() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                hub.holder_log.log(&format!("waitid({pid}): {e}"));
                break;
            }
        }
    }
    let description = {
        let mut guard = hub.mark_exited(generation);
        match waitpid(pid, None) {
            Ok(status) => {
                guard.last_exit_code = Some(exit_code(status));
                describe_exit(status)
            }
            Err(e) => {
                guard.last_exit_code = None;
                format!("unknown exit ({e})")
            }
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

/// The process exit status that tells how the child ended, as a shell reports it:
/// its own code when it exited (0 after a `shutdown` it obeyed), 128 + the signal
/// when a signal ended it (143 after SIGTERM, 137 after SIGKILL). A foreground
/// holder exits with it, so a container's exit code is Robust's.
pub fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        // Stopped/continued are not ends (waitpid without WUNTRACED never reports them).
        _ => 1,
    }
}

/// Types queued input into the PTY in order, waiting for room when the child does not
/// read its console (the master is non-blocking).
async fn typist(master: Arc<AsyncFd<OwnedFd>>, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(bytes) = rx.recv().await {
        if write_all(&master, &bytes).await.is_err() {
            break;
        }
    }
}

pub(crate) async fn write_all(master: &AsyncFd<OwnedFd>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let mut guard = master.writable().await?;
        match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), bytes).map_err(io::Error::from)) {
            Ok(Ok(0)) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(Ok(n)) => bytes = &bytes[n..],
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => {}
        }
    }
    Ok(())
}

/// Waits for the PTY's EOF after the child was reaped, then records the exit once the
/// worker has taken in (and logged) everything the child printed.
pub(super) async fn finish(hub: &Hub, child: &mut RunningChild, how: &str) {
    if !child.wait_eof(EOF_GRACE).await {
        hub.holder_log
            .log("PTY still open after the child exited; closing it to hang up stragglers");
        child.abandon.notify_one();
        child.wait_eof(Duration::from_secs(2)).await;
    }
    hub.work.sync().await;
    hub.child_finished(child.generation, how);
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn exit_code_is_the_shell_convention() {
        let pid = Pid::from_raw(42);
        // A `shutdown` Robust obeyed: 0; its own failure code passes through.
        assert_eq!(exit_code(WaitStatus::Exited(pid, 0)), 0);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), 3);
        // Ended by the stop sequence's signals: 128 + the signal.
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGINT, false)),
            130
        );
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGTERM, false)),
            143
        );
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, true)),
            137
        );
        assert_eq!(exit_code(WaitStatus::StillAlive), 1);
    }
}
