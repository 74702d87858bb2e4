//! The holder: one detached process per instance that owns the instance's PTY and
//! child, like a `screen` session per instance (design.md §3).
//!
//! Life of a holder:
//! 1. [`launch`] (in the CLI) starts `gridctl-holder --spec <path>` with a pipe
//!    (posix_spawn: the CLI is not forked);
//! 2. [`run_holder_command`] detaches (fork, setsid, fork, stdio to `/dev/null`)
//!    **before** any tokio runtime exists, binds the socket, writes its pid file,
//!    spawns the child, and reports `ok <pid>` (or `error <why>`) on the pipe;
//! 3. it serves its socket until a `Stop`, then removes socket and pid file and exits.
//!
//! Killing or upgrading the CLI never touches a running holder. If the holder itself
//! is killed, its PTY master closes and the child gets SIGHUP — like Robust in a
//! closed terminal; the CLI's `client::probe_holder` then reports the files as stale.

mod server;

use crate::hub::{open_console_log, remove_runtime_files, worker, HolderLog, Hub};
use crate::protocol::{self, ClientMessage, HolderMessage, PROTOCOL_VERSION};
use crate::spec::InstanceSpec;
use crate::supervise::{self, Control, Ended, READY_FD_ENV};
use nix::fcntl::{FcntlArg, FdFlag};
use nix::unistd::{fork, setsid, ForkResult};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Held while a report pipe is inheritable (see [`launch_command`]).
static INHERITABLE: Mutex<()> = Mutex::new(());

/// How long [`launch`] waits for the holder's report.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum HolderError {
    #[error("read instance spec {}: {source}", path.display())]
    Spec { path: PathBuf, source: io::Error },
    #[error("start holder process {}: {source}", program.display())]
    Spawn { program: PathBuf, source: io::Error },
    #[error(
        "start holder: `{}` is missing (install it next to `gridctl`; `cargo build --workspace` builds both)",
        program.display()
    )]
    Missing { program: PathBuf },
    #[error("create the holder's report pipe: {0}")]
    Pipe(io::Error),
    #[error("start holder: {0}")]
    Reported(String),
    #[error("start holder: it exited without reporting (see {})", log.display())]
    NoReport { log: PathBuf },
    #[error("start holder: no report within {}", gridctl_wire::human::duration(*.0))]
    Timeout(Duration),
}

/// The holder binary's file name; it is installed next to `gridctl`.
pub const HOLDER_BIN: &str = "gridctl-holder";

/// Where the holder binary is: next to the running executable (`gridctl`, or a test
/// binary's sibling in `target/*/`).
pub fn holder_program() -> Result<PathBuf, HolderError> {
    let exe = std::env::current_exe().map_err(|source| HolderError::Spawn {
        program: HOLDER_BIN.into(),
        source,
    })?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    // `current_exe` names `... (deleted)` when the CLI was replaced on disk mid-run;
    // its directory is still the right one.
    Ok(dir.join(HOLDER_BIN))
}

/// Starts the holder for the spec at `spec_path` as `gridctl-holder --spec <path>`
/// (the binary next to the running executable) and returns its pid once its socket is
/// served and its child spawned.
///
/// No fallback to running the CLI itself as the holder: that would silently bring back
/// the heavy holder this split removed. A missing binary is a clear error instead, and
/// a holder of another protocol version is refused on its first connection.
pub fn launch(spec_path: &Path) -> Result<u32, HolderError> {
    let program = holder_program()?;
    if !program.is_file() {
        return Err(HolderError::Missing { program });
    }
    let mut cmd = Command::new(program);
    cmd.arg("--spec").arg(spec_path);
    launch_command(cmd, spec_path)
}

/// Like [`launch`], with the command that runs [`run_holder_command`] given by the
/// caller (tests run the holder from their own binary).
pub fn launch_command(mut cmd: Command, spec_path: &Path) -> Result<u32, HolderError> {
    let spec = InstanceSpec::load(spec_path).map_err(|source| HolderError::Spec {
        path: spec_path.into(),
        source,
    })?;
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| HolderError::Pipe(e.into()))?;
    let write_fd: RawFd = write_end.as_raw_fd();
    cmd.env(READY_FD_ENV, write_fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let program = PathBuf::from(cmd.get_program());
    // No code between fork and exec (`pre_exec`), so std spawns with posix_spawn
    // (vfork-like: no copy of this process's page tables, which a fork costs at every
    // one of a thousand launches). The report pipe is created close-on-exec and made
    // inheritable only for this spawn, under a lock and closed right after it, so no
    // other launch inherits it; a holder closes whatever else it inherited
    // (`Reporter::from_env`).
    let spawned = {
        let _one_at_a_time = INHERITABLE.lock().unwrap_or_else(|e| e.into_inner());
        let spawned = nix::fcntl::fcntl(&write_end, FcntlArg::F_SETFD(FdFlag::empty()))
            .map_err(|e| HolderError::Pipe(e.into()))
            .and_then(|_| {
                cmd.spawn()
                    .map_err(|source| HolderError::Spawn { program, source })
            });
        // Our copy must be closed, or the pipe never reaches EOF.
        drop(write_end);
        spawned
    };
    let mut child = spawned?;

    let report = read_report(&read_end, LAUNCH_TIMEOUT);
    // The intermediate process exits right after forking; reap it (no zombie).
    if report.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    match report? {
        Some(line) => match line.strip_prefix("ok ") {
            Some(pid) => pid
                .trim()
                .parse()
                .map_err(|_| HolderError::Reported(format!("bad report `{line}`"))),
            None => Err(HolderError::Reported(
                line.strip_prefix("error ").unwrap_or(&line).to_string(),
            )),
        },
        None => Err(HolderError::NoReport {
            log: HolderLog::path_for(&spec),
        }),
    }
}

/// Reads one line from the report pipe; `None` on EOF without a line.
fn read_report(fd: &OwnedFd, limit: Duration) -> Result<Option<String>, HolderError> {
    let deadline = Instant::now() + limit;
    let mut file = File::from(fd.try_clone().map_err(HolderError::Pipe)?);
    let mut buf = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HolderError::Timeout(limit));
        }
        let mut fds = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(HolderError::Pipe(e.into())),
        }
        let mut chunk = [0u8; 1024];
        match file.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                    return Ok(Some(String::from_utf8_lossy(&buf[..nl]).into_owned()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(HolderError::Pipe(e)),
        }
    }
}

/// The launcher's pipe, as seen by the holder.
struct Reporter(Option<File>);

impl Reporter {
    fn from_env() -> Reporter {
        let fd = std::env::var(READY_FD_ENV)
            .ok()
            .and_then(|v| v.parse::<RawFd>().ok());
        // Only adopt an fd that is really open and not stdio.
        // SAFETY: F_GETFD on any integer is harmless; ownership is taken only when the
        // launcher documented that it passed us this fd.
        let file = fd
            .filter(|&fd| fd > 2 && unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
            .map(|fd| unsafe { File::from_raw_fd(fd) });
        close_inherited(fd);
        if let Some(f) = &file {
            // Robust must not inherit it (the launcher would wait for its EOF).
            let _ = nix::fcntl::fcntl(
                f,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            );
        }
        Reporter(file)
    }

    fn send(&mut self, line: &str) {
        if let Some(mut f) = self.0.take() {
            let _ = f.write_all(format!("{}\n", line.replace('\n', " ")).as_bytes());
        }
    }
}

/// Closes every descriptor above stdio but `keep`: what a launcher's other threads
/// had open when it spawned us (a holder lives for weeks; it must not hold its
/// launcher's pipes or files). Called first thing, before the holder opens anything.
fn close_inherited(keep: Option<RawFd>) {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory's own descriptor is among them and closed by now: harmless EBADF.
    for fd in fds.into_iter().filter(|&fd| fd > 2 && Some(fd) != keep) {
        // SAFETY: closing a descriptor nothing in this process uses yet.
        unsafe {
            libc::close(fd);
        }
    }
}

/// The body of `gridctl holder --spec <path>`: detaches, then runs the holder until
/// it is stopped. Never returns.
pub fn run_holder_command(spec_path: &Path) -> ! {
    let mut reporter = Reporter::from_env();
    let spec_path = std::path::absolute(spec_path).unwrap_or_else(|_| spec_path.to_path_buf());
    let spec = match InstanceSpec::load(&spec_path) {
        Ok(spec) => spec,
        Err(e) => {
            reporter.send(&format!(
                "error read instance spec {}: {e}",
                spec_path.display()
            ));
            std::process::exit(1);
        }
    };
    if let Err(e) = daemonize() {
        reporter.send(&format!("error detach from the terminal: {e}"));
        std::process::exit(1);
    }
    let code = serve(spec, spec_path, reporter, false);
    std::process::exit(code)
}

/// The body of `gridctl-holder --foreground --spec <path>`: the same holder without
/// detaching, for PID 1 of a container (`gridctl pod run`). Its stdout carries the
/// console lines as the console log has them, its stderr the holder log's lines;
/// SIGTERM/SIGINT run the spec's stop sequence. It reaps every child, its own and any
/// orphan re-parented to it: as PID 1 it is their reaper anyway; elsewhere it makes
/// itself a child subreaper so it behaves the same.
///
/// Returns the exit status: how Robust ended (`supervise::exit_code`: 0 after a
/// `shutdown` it obeyed, its own code, or 128 + the signal that ended it), 1 when no
/// child ever ran or the holder itself could not start.
pub fn run_foreground_command(spec_path: &Path) -> i32 {
    // Nothing is reported on a pipe here, but what a parent left open is closed all the same.
    let reporter = Reporter::from_env();
    let spec_path = std::path::absolute(spec_path).unwrap_or_else(|_| spec_path.to_path_buf());
    let spec = match InstanceSpec::load(&spec_path) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!(
                "gridctl-holder: error: read instance spec {}: {e}",
                spec_path.display()
            );
            return 1;
        }
    };
    if std::process::id() != 1 {
        // SAFETY: prctl with integer arguments only sets a flag of this process.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            eprintln!(
                "gridctl-holder: cannot become a child subreaper ({}); orphans are reaped by init",
                io::Error::last_os_error()
            );
        }
    }
    serve(spec, spec_path, reporter, true)
}

/// fork → setsid → fork, stdio to /dev/null, cwd `/`. Must run while the process
/// is still single-threaded (before any runtime).
fn daemonize() -> io::Result<()> {
    // SAFETY: called before any thread is started by this module; the parent side
    // only calls `_exit`.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => unsafe { libc::_exit(0) },
        ForkResult::Child => {}
    }
    setsid()?;
    // The second fork makes sure the holder is not a session leader, so opening a
    // terminal can never make it the holder's controlling terminal.
    // SAFETY: as above.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => unsafe { libc::_exit(0) },
        ForkResult::Child => {}
    }
    std::env::set_current_dir("/")?;
    let null = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&null)?;
    nix::unistd::dup2_stderr(&null)?;
    Ok(())
}

fn serve(spec: InstanceSpec, spec_path: PathBuf, mut reporter: Reporter, foreground: bool) -> i32 {
    // One malloc arena for the process: the worker thread would otherwise get an
    // arena of its own, resident memory for nothing at this allocation rate.
    // SAFETY: mallopt only sets an allocator parameter; no thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let log_path = HolderLog::path_for(&spec);
    if let Some(dir) = log_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = fs::create_dir_all(dir);
    }
    let mut holder_log = HolderLog::open(&log_path);
    holder_log.echo_to_stderr = foreground;
    holder_log.log(&format!(
        "holder {} starting for `{}`",
        std::process::id(),
        spec.name
    ));

    let fail = |reporter: &mut Reporter, log: &HolderLog, msg: String| {
        // A foreground holder's log lines go to stderr as well (echo_to_stderr).
        log.log(&format!("error: {msg}"));
        reporter.send(&format!("error {msg}"));
        1
    };
    let listener = match bind_socket(&spec.socket) {
        Ok(l) => l,
        Err(e) => {
            return fail(
                &mut reporter,
                &holder_log,
                format!("serve socket {}: {e}", spec.socket.display()),
            )
        }
    };
    if let Err(e) = write_pid_file(&spec.holder_pid_file) {
        let _ = fs::remove_file(&spec.socket);
        return fail(
            &mut reporter,
            &holder_log,
            format!("write pid file {}: {e}", spec.holder_pid_file.display()),
        );
    }
    // One event loop on this thread: PTY, sockets, timers and signals (design.md §3).
    let work = Arc::new(worker::WorkQueue::default());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .on_thread_park({
            let work = work.clone();
            move || work.wake_deferred()
        })
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                &mut reporter,
                &holder_log,
                format!("build the runtime: {e}"),
            )
        }
    };
    let console_log = open_console_log(&spec, &holder_log);
    let hub = Arc::new(Hub::new(spec, spec_path, holder_log, work));
    let stdout = if foreground {
        match worker::StdoutTee::start() {
            Ok(tee) => Some(tee),
            Err(e) => {
                remove_runtime_files(&hub);
                return fail(
                    &mut reporter,
                    &hub.holder_log,
                    format!("start the stdout writer: {e}"),
                );
            }
        }
    } else {
        None
    };
    if let Err(e) = worker::spawn(hub.clone(), console_log, stdout) {
        remove_runtime_files(&hub);
        return fail(
            &mut reporter,
            &hub.holder_log,
            format!("start the console worker: {e}"),
        );
    }
    runtime.block_on(async move {
        // The handlers exist before the child does: a SIGTERM the moment it appears
        // (`kubectl delete` as a pod starts) runs the stop sequence instead of killing
        // the holder by the default action and leaving the child without its stop.
        let signals = Signals::install();
        let first = match supervise::start_child(&hub) {
            Ok(child) => child,
            Err(e) => {
                remove_runtime_files(&hub);
                return fail(
                    &mut reporter,
                    &hub.holder_log,
                    format!("start the child: {e}"),
                );
            }
        };
        reporter.send(&format!("ok {}", std::process::id()));
        let (control_tx, control_rx) = tokio::sync::mpsc::channel(16);
        let listener = match tokio::net::UnixListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                hub.holder_log.log(&format!("socket: {e}"));
                return 1;
            }
        };
        tokio::spawn(server::accept_loop(
            hub.clone(),
            listener,
            control_tx.clone(),
        ));
        tokio::spawn(stop_on_signals(hub.clone(), signals, control_tx));
        if foreground {
            tokio::spawn(reap_orphans(hub.clone()));
        }
        let ended = supervise::supervise(hub.clone(), first, control_rx, foreground).await;
        let crash_loop = matches!(ended, Ended::CrashLoop);
        match ended {
            Ended::ByRequest => {
                // Let the connection write `Done` before the process goes away.
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), hub.stop_replied.notified()).await;
            }
            Ended::BySignal => {}
            Ended::CrashLoop => {
                hub.holder_log
                    .log("crash loop: ending the container so its runtime restarts it");
            }
        }
        if foreground {
            // Orphans that ended during the stop; the rest go with the container.
            reap_orphans_now(&hub);
            let code = hub.lock().last_exit_code.unwrap_or(1);
            // A crash loop is a failure even if Robust's last end said 0.
            let code = if crash_loop && code == 0 { 1 } else { code };
            hub.holder_log
                .log(&format!("holder exiting with status {code}"));
            return code;
        }
        hub.holder_log.log("holder exiting");
        0
    })
}

/// A foreground holder's reaper of orphans: processes re-parented to it (it is PID 1 or
/// a child subreaper) are reaped when they end, so none stays a zombie. Looked for at
/// every SIGCHLD and every few seconds (a signal can merge with another).
async fn reap_orphans(hub: Arc<Hub>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigchld = signal(SignalKind::child()).ok();
    loop {
        let tick = tokio::time::sleep(Duration::from_secs(5));
        match sigchld.as_mut() {
            Some(s) => {
                tokio::select! {
                    _ = s.recv() => {}
                    _ = tick => {}
                }
            }
            None => tick.await,
        }
        reap_orphans_now(&hub);
    }
}

/// Reaps this process's zombie children but the Robust child, which its own waiter
/// reaps (it must read that exit status). Runs on the event loop's thread, where
/// `start_child` records a new child before anything else runs, so a child just
/// spawned is never mistaken for an orphan. A hook process reaped here first only
/// makes its waiting thread see ECHILD, which it ignores.
fn reap_orphans_now(hub: &Hub) {
    let me = std::process::id();
    let robust = hub.lock().child.as_ref().map(|c| c.pid.as_raw());
    for pid in zombie_children(me) {
        if Some(pid) == robust {
            continue;
        }
        if let Ok(status) = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            hub.holder_log.log(&format!(
                "reaped orphan pid {pid}: {}",
                supervise::describe_exit(status)
            ));
        }
    }
}

/// The pids of `parent`'s children that are zombies, from /proc (`state` and `ppid`
/// follow the command name, which may itself hold spaces and parentheses).
fn zombie_children(parent: u32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace();
        let state = fields.next()?;
        let ppid: u32 = fields.next()?.parse().ok()?;
        (state == "Z" && ppid == parent).then_some(pid)
    })
    .collect()
}

/// The holder's handlers of SIGTERM, SIGINT and SIGHUP, installed at once (a signal
/// from then on is kept until [`stop_on_signals`] reads it).
struct Signals(
    io::Result<(
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
    )>,
);

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals((|| {
            Ok((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
                signal(SignalKind::hangup())?,
            ))
        })())
    }
}

/// SIGTERM/SIGINT to the holder stop the child gracefully first; SIGHUP is ignored.
async fn stop_on_signals(
    hub: Arc<Hub>,
    signals: Signals,
    control: tokio::sync::mpsc::Sender<Control>,
) {
    let Ok((mut term, mut int, mut hup)) = signals.0 else {
        hub.holder_log.log("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => continue,
        }
        hub.holder_log.log("signalled: stopping");
        let _ = control.send(Control::Stop { reply: None }).await;
    }
}

/// Binds the control socket: a new directory 0700, socket 0600, and a leftover socket file
/// is removed only when no live holder answers on it.
fn bind_socket(path: &Path) -> io::Result<std::os::unix::net::UnixListener> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Created 0700 when missing; an existing directory keeps its mode (never chmod
    // what may be shared on purpose): the socket's 0600 and the peer-credential check
    // guard it either way.
    if !dir.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        match fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
        {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            other => other?,
        }
    }
    if fs::symlink_metadata(path).is_ok() {
        match holder_answers(path) {
            Some(pid) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("another holder (pid {pid}) is serving it"),
                ))
            }
            None => fs::remove_file(path)?,
        }
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The pid of a live holder answering on `path`, if any. A listener that accepts but
/// does not answer counts as alive too (its pid unknown, reported as 0).
fn holder_answers(path: &Path) -> Option<u32> {
    let mut stream = UnixStream::connect(path).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if protocol::write_control(
        &mut stream,
        &ClientMessage::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .is_err()
    {
        return None;
    }
    match protocol::read_frame(&mut stream) {
        Ok(Some((_, payload))) => match protocol::decode_control::<HolderMessage>(&payload) {
            Ok(HolderMessage::Welcome { holder_pid, .. }) => Some(holder_pid),
            _ => Some(0),
        },
        Ok(None) => None,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Some(0)
        }
        Err(_) => None,
    }
}

fn write_pid_file(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    crate::atomic::write_file(path, format!("{}\n", std::process::id()).as_bytes(), 0o644)
}
