//! Running the child: spawn on a PTY, drain it, reap it, stop it gracefully, and
//! restart it after a crash with capped exponential backoff and a crash-loop stop.
//!
//! Per child there are three plain threads, because PTY and `waitid` calls block:
//! - the **drain** reads the master and feeds model, scrollback, viewers and log;
//! - the **waiter** blocks in `waitid(WNOWAIT)`, marks the child exited under the hub
//!   lock, and only then reaps it, so a signal can never hit a reaped (reusable) pid;
//! - the **input** writer owns the master's write side, fed by a channel, so a child
//!   that stops reading its console never blocks the drain (CPR answers use `try_send`).
//!
//! A child counts as stopped only when it is reaped **and** its PTY reached EOF.

use crate::holder::hub::{ChildSlot, Hub};
use crate::protocol::InstanceState;
use crate::readiness::{probe_once, Verdict};
use crate::spec::{InstanceSpec, RestartPolicy, StopPolicy};
use crate::spool::AnsiStripper;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::openpty;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, Notify};

/// The launcher passes its report pipe under this name; children must not inherit it.
pub(crate) const READY_FD_ENV: &str = "GRIDCTL_HOLDER_READY_FD";

/// How long a reaped child's PTY may stay open (a straggler holding the slave)
/// before the holder closes its master to hang them up.
const EOF_GRACE: Duration = Duration::from_secs(3);

/// Flush the console log at least this often while output trickles.
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(500);

/// A request from a connection (or a signal) to the supervisor.
pub(crate) enum Control {
    Stop {
        reply: Option<oneshot::Sender<Result<String, String>>>,
    },
    Restart {
        reply: oneshot::Sender<Result<String, String>>,
    },
}

/// A spawned child as the supervisor tracks it.
pub(crate) struct RunningChild {
    pub generation: u64,
    pub pid: Pid,
    started: Instant,
    exit_rx: watch::Receiver<Option<String>>,
    eof_rx: watch::Receiver<bool>,
    abandon: Arc<AtomicBool>,
}

impl RunningChild {
    async fn wait_exit(&mut self, limit: Option<Duration>) -> Option<String> {
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
    let abandon = Arc::new(AtomicBool::new(false));

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
        let abandon = abandon.clone();
        spawn(
            "drain",
            Box::new(move || drain_thread(&hub, generation, reader, &input_tx, &abandon, &eof_tx)),
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
    abandon: &AtomicBool,
    eof: &watch::Sender<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut stripped = Vec::with_capacity(64 * 1024);
    let mut stripper = AnsiStripper::new();
    let mut last_flush = Instant::now();
    let mut log_error_reported = false;
    loop {
        // Poll first so the log is flushed whenever output pauses, and so an
        // abandoned PTY (straggler after the child was reaped) can be let go.
        let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(200u16)) {
            Ok(0) => {
                flush_log(hub);
                last_flush = Instant::now();
                if abandon.load(Ordering::Relaxed) {
                    break;
                }
                continue;
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                continue
            }
            // EIO: every slave fd is closed — the PTY's end of file.
            Err(_) => break,
        };
        let chunk = &buf[..n];
        stripped.clear();
        stripper.strip(chunk, &mut stripped);
        if let Some(reply) = hub.drain(generation, chunk, &stripped) {
            // Never block the drain on the input side; a full queue means the child
            // is not reading its console anyway.
            let _ = input.try_send(reply);
        }
        let mut log = hub.log.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = log.as_mut() {
            let mut res = log.write(&stripped);
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
        if writer.write_all(&bytes).is_err() {
            break;
        }
    }
}

async fn readiness_task(hub: Arc<Hub>, generation: u64, spec: InstanceSpec, notify: Arc<Notify>) {
    let timeout = Duration::from_millis(spec.readiness.timeout_ms);
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = |missing: String| {
        format!(
            "not ready after {} ms: {missing}",
            spec.readiness.timeout_ms
        )
    };
    loop {
        match hub.readiness_verdict(generation) {
            None => return,
            Some((Verdict::Failed(line), _)) => {
                hub.settle_startup(generation, InstanceState::Degraded, line);
                return;
            }
            Some((Verdict::ConsoleReady, _)) => break,
            Some((Verdict::Pending, missing)) => {
                if tokio::time::timeout_at(deadline, notify.notified())
                    .await
                    .is_err()
                {
                    let missing = hub
                        .readiness_verdict(generation)
                        .map(|v| v.1)
                        .unwrap_or(missing);
                    hub.settle_startup(generation, InstanceState::Degraded, timed_out(missing));
                    return;
                }
            }
        }
    }
    let Some(probe) = spec.readiness.probe.clone() else {
        hub.settle_startup(generation, InstanceState::Ready, String::new());
        return;
    };
    // Robust may answer its first request slowly; retry a few times, within the deadline.
    let mut last = String::new();
    for _ in 0..10 {
        let p = probe.clone();
        let res = tokio::task::spawn_blocking(move || probe_once(&p, Duration::from_secs(2))).await;
        match res {
            Ok(Ok(())) => {
                hub.settle_startup(generation, InstanceState::Ready, String::new());
                return;
            }
            Ok(Err(e)) => last = e,
            Err(e) => last = e.to_string(),
        }
        if hub.readiness_verdict(generation).is_none()
            || tokio::time::Instant::now() + Duration::from_millis(300) >= deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    hub.settle_startup(
        generation,
        InstanceState::Degraded,
        format!("probe failed: {last}"),
    );
}

/// The graceful stop sequence (spec.stop): console command → SIGINT → SIGTERM →
/// SIGKILL to the process group, each step with its own timeout. Returns how the
/// child ended, once it is reaped and its PTY reached EOF.
pub(crate) async fn stop_child(hub: &Hub, child: &mut RunningChild, policy: &StopPolicy) -> String {
    let ms = Duration::from_millis;
    // (exit description, the step that ended it)
    let mut ended: Option<(String, String)> = None;
    if !policy.command.is_empty() {
        if let Some(input) = hub.input_sender() {
            let line = format!("{}\r", policy.command).into_bytes();
            let _ = tokio::time::timeout(ms(policy.command_timeout_ms), input.send(line)).await;
        }
        if let Some(d) = child.wait_exit(Some(ms(policy.command_timeout_ms))).await {
            ended = Some((d, format!("`{}`", policy.command)));
        }
    }
    if ended.is_none() {
        let steps = [
            (Signal::SIGINT, ms(policy.sigint_timeout_ms)),
            (Signal::SIGTERM, ms(policy.sigterm_timeout_ms)),
            (Signal::SIGKILL, Duration::from_secs(10)),
        ];
        for (sig, wait) in steps {
            hub.signal_child(child.generation, sig);
            if let Some(d) = child.wait_exit(Some(wait)).await {
                ended = Some((d, sig.as_str().to_string()));
                break;
            }
        }
    }
    let (exit, step) = ended.unwrap_or_else(|| {
        hub.holder_log
            .log(&format!("pid {} did not exit after SIGKILL", child.pid));
        ("still running".into(), "SIGKILL".into())
    });
    finish(hub, child, &exit).await;
    format!("{exit} after {step}")
}

/// Waits for the PTY's EOF after the child was reaped, then records the exit.
async fn finish(hub: &Hub, child: &mut RunningChild, how: &str) {
    if !child.wait_eof(EOF_GRACE).await {
        hub.holder_log
            .log("PTY still open after the child exited; closing it to hang up stragglers");
        child.abandon.store(true, Ordering::Relaxed);
        child.wait_eof(Duration::from_secs(2)).await;
    }
    hub.child_finished(child.generation, how);
}

/// Crash bookkeeping: capped exponential backoff and the crash-loop verdict (pure).
#[derive(Debug)]
pub struct CrashHistory {
    policy: RestartPolicy,
    crashes: VecDeque<Instant>,
    streak: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrashDecision {
    RestartAfter(Duration),
    /// Too many crashes in the window; no more automatic restarts.
    CrashLoop {
        crashes: usize,
    },
}

impl CrashHistory {
    pub fn new(policy: RestartPolicy) -> Self {
        CrashHistory {
            policy,
            crashes: VecDeque::new(),
            streak: 0,
        }
    }

    pub fn reset(&mut self) {
        self.crashes.clear();
        self.streak = 0;
    }

    pub fn set_policy(&mut self, policy: RestartPolicy) {
        self.policy = policy;
    }

    /// A crash at `now` after a run of `ran_for`. `crash_loop_count = 0` disables the
    /// crash-loop stop.
    pub fn on_crash(&mut self, now: Instant, ran_for: Duration) -> CrashDecision {
        if ran_for >= Duration::from_millis(self.policy.stable_after_ms) {
            self.reset();
        }
        let window = Duration::from_millis(self.policy.crash_loop_window_ms);
        self.crashes.push_back(now);
        while self
            .crashes
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            self.crashes.pop_front();
        }
        let limit = self.policy.crash_loop_count as usize;
        if limit > 0 && self.crashes.len() >= limit {
            return CrashDecision::CrashLoop {
                crashes: self.crashes.len(),
            };
        }
        let factor = 1u64.checked_shl(self.streak).unwrap_or(u64::MAX);
        let delay = self
            .policy
            .backoff_initial_ms
            .saturating_mul(factor)
            .min(self.policy.backoff_max_ms);
        self.streak = self.streak.saturating_add(1);
        CrashDecision::RestartAfter(Duration::from_millis(delay))
    }
}

/// Whether the supervisor ended on a request that still awaits its written reply.
pub(crate) enum Ended {
    ByRequest,
    BySignal,
}

/// Runs until a `Stop`: crash restarts, backoff, crash loop, restarts on request.
pub(crate) async fn supervise(
    hub: Arc<Hub>,
    first: RunningChild,
    mut rx: mpsc::Receiver<Control>,
) -> Ended {
    let mut history = CrashHistory::new(hub.spec().restart);
    let mut current = Some(first);
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        let control = if let Some(child) = current.as_mut() {
            tokio::select! {
                exit = child.wait_exit(None) => {
                    let how = exit.unwrap_or_else(|| "unknown exit".into());
                    finish(&hub, child, &how).await;
                    hub.holder_log.log(&format!("child pid {} ended unexpectedly: {how}", child.pid));
                    let ran = child.started.elapsed();
                    current = None;
                    retry_at = schedule_restart(&hub, &mut history, ran, &how);
                    continue;
                }
                c = rx.recv() => c,
            }
        } else {
            let sleep = async {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {
                    retry_at = None;
                    match start_child(&hub) {
                        Ok(child) => {
                            hub.lock().restarts += 1;
                            current = Some(child);
                        }
                        Err(e) => {
                            let how = format!("failed to start: {e}");
                            hub.holder_log.log(&how);
                            hub.lock().last_exit = Some(how.clone());
                            retry_at = schedule_restart(&hub, &mut history, Duration::ZERO, &how);
                        }
                    }
                    continue;
                }
                c = rx.recv() => c,
            }
        };

        match control.unwrap_or(Control::Stop { reply: None }) {
            Control::Stop { reply } => {
                let policy = hub.spec().stop;
                hub.set_state(InstanceState::Stopping, "stop requested");
                let how = match current.as_mut() {
                    Some(child) => stop_child(&hub, child, &policy).await,
                    None => "was not running".into(),
                };
                hub.set_state(InstanceState::Stopped, how.clone());
                hub.holder_log.log(&format!("stopped: {how}"));
                crate::holder::remove_runtime_files(&hub);
                return match reply {
                    Some(reply) => {
                        let name = hub.spec().name;
                        let _ = reply.send(Ok(format!("stopped {name} ({how})")));
                        Ended::ByRequest
                    }
                    None => Ended::BySignal,
                };
            }
            Control::Restart { reply } => {
                // Re-read the spec: the config may have been re-rendered since.
                let spec = match InstanceSpec::load(&hub.spec_path) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = reply.send(Err(format!("re-read spec: {e}")));
                        continue;
                    }
                };
                hub.set_state(InstanceState::Stopping, "restart requested");
                let how = match current.as_mut() {
                    Some(child) => stop_child(&hub, child, &spec.stop).await,
                    None => "was not running".into(),
                };
                current = None;
                retry_at = None;
                history.set_policy(spec.restart.clone());
                history.reset();
                hub.lock().spec = spec;
                hub.reset_size_to_spec();
                match start_child(&hub) {
                    Ok(child) => {
                        hub.lock().restarts += 1;
                        let _ = reply.send(Ok(format!(
                            "restarted {} (previous child: {how}; new pid {})",
                            hub.spec().name,
                            child.pid
                        )));
                        current = Some(child);
                    }
                    Err(e) => {
                        let how = format!("failed to start: {e}");
                        hub.lock().last_exit = Some(how.clone());
                        retry_at = schedule_restart(&hub, &mut history, Duration::ZERO, &how);
                        let _ = reply.send(Err(how));
                    }
                }
            }
        }
    }
}

fn schedule_restart(
    hub: &Hub,
    history: &mut CrashHistory,
    ran: Duration,
    how: &str,
) -> Option<tokio::time::Instant> {
    match history.on_crash(Instant::now(), ran) {
        CrashDecision::RestartAfter(delay) => {
            hub.set_state(
                InstanceState::Backoff,
                format!("{how}; restarting in {} ms", delay.as_millis()),
            );
            Some(tokio::time::Instant::now() + delay)
        }
        CrashDecision::CrashLoop { crashes } => {
            let window = hub.spec().restart.crash_loop_window_ms;
            hub.set_state(
                InstanceState::CrashLoop,
                format!(
                    "{crashes} crashes within {window} ms, last: {how}; use restart to try again"
                ),
            );
            hub.holder_log.log("crash loop: no more automatic restarts");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
            stable_after_ms: 10_000,
            crash_loop_count: 5,
            crash_loop_window_ms: 60_000,
        }
    }

    #[test]
    fn backoff_doubles_caps_and_ends_in_crash_loop() {
        let mut h = CrashHistory::new(policy());
        let t0 = Instant::now();
        let quick = Duration::from_millis(10);
        let delays: Vec<_> = (0..4)
            .map(|i| h.on_crash(t0 + Duration::from_millis(i), quick))
            .collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800].map(|ms| CrashDecision::RestartAfter(Duration::from_millis(ms)))
        );
        assert_eq!(
            h.on_crash(t0 + Duration::from_millis(5), quick),
            CrashDecision::CrashLoop { crashes: 5 }
        );
    }

    #[test]
    fn backoff_is_capped() {
        let mut p = policy();
        p.crash_loop_count = 0;
        let mut h = CrashHistory::new(p);
        let t0 = Instant::now();
        let last = (0..70).map(|_| h.on_crash(t0, Duration::ZERO)).last();
        assert_eq!(
            last,
            Some(CrashDecision::RestartAfter(Duration::from_millis(1000)))
        );
    }

    #[test]
    fn stable_run_resets_backoff_and_count() {
        let mut h = CrashHistory::new(policy());
        let t0 = Instant::now();
        for _ in 0..3 {
            h.on_crash(t0, Duration::ZERO);
        }
        assert_eq!(
            h.on_crash(t0, Duration::from_secs(11)),
            CrashDecision::RestartAfter(Duration::from_millis(100))
        );
    }

    #[test]
    fn old_crashes_leave_the_window() {
        let mut h = CrashHistory::new(policy());
        let t0 = Instant::now();
        for i in 0..4 {
            h.on_crash(t0 + Duration::from_secs(i), Duration::ZERO);
        }
        // 70 s later the first four are outside the 60 s window.
        assert!(matches!(
            h.on_crash(t0 + Duration::from_secs(70), Duration::ZERO),
            CrashDecision::RestartAfter(_)
        ));
    }
}
