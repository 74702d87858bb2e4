//! The holder's shared state, behind two locks that are never held together:
//! - `inner`: scrollback, readiness, `send` captures, the instance status — written
//!   by the console worker once per batch of output, read by requests;
//! - `io`: what only the event loop touches on its hot paths — the viewers, the
//!   running child's PTY and input queue, the size — so forwarding a chunk or typing a
//!   key never waits for the worker.
//!
//! No file or socket I/O ever happens under either lock.

pub(crate) mod worker;

use crate::console::Console;
use crate::protocol::{InstanceState, InstanceStatus};
use crate::readiness::{ReadinessTracker, Verdict};
use crate::spec::InstanceSpec;
use crate::spool::{ConsoleLog, Scrollback};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot, Notify};
use worker::{Work, WorkQueue};

/// Events queued per viewer (bounded by bytes, see [`VIEWER_QUEUE_BYTES`]).
#[derive(Debug)]
pub(crate) enum ViewerEvent {
    Data(Arc<[u8]>),
    ChildExited(String),
}

/// Output a viewer may lag behind. Output is never held for a viewer: past this it
/// stops receiving chunks (`lagging`), and once it has caught up it gets a fresh
/// redraw of the screen instead of the skipped bytes (which would corrupt it), so an
/// operator attached during a log flood stays attached.
pub(crate) const VIEWER_QUEUE_BYTES: usize = 2 * 1024 * 1024;

/// Text a `send` capture keeps: the last this-many bytes (the end holds the prompt).
const CAPTURE_MAX: usize = 4 * 1024 * 1024;

/// How many lines of scrollback precede the screen in an attach replay.
const REPLAY_LINES: usize = 200;

/// A viewer's end of its queue.
pub(crate) struct ViewerQueue {
    pub rx: mpsc::UnboundedReceiver<ViewerEvent>,
    /// Bytes of output queued (the sender adds, the receiver subtracts).
    pub queued: Arc<AtomicUsize>,
    /// Signalled when the viewer fell behind and must be redrawn.
    pub kick: Arc<Notify>,
}

struct Viewer {
    id: u64,
    tx: mpsc::UnboundedSender<ViewerEvent>,
    queued: Arc<AtomicUsize>,
    kick: Arc<Notify>,
    read_only: bool,
    size: Option<(u16, u16)>,
    /// Fell behind: gets no chunks until it asks for a redraw ([`Hub::resync_viewer`]).
    lagging: bool,
}

struct Capture {
    id: u64,
    /// Finished console lines since the capture began.
    text: Vec<u8>,
    dropped: usize,
    /// End of the first line (the echo of the command), once seen.
    echo_end: Option<usize>,
    last_output: Instant,
    /// A line was finished since input was last typed, so the line under the cursor
    /// is the console's reaction to it (prompt back, or a question), not stale.
    answered: bool,
}

/// Where a `send` stands, judged from the line under the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendState {
    /// Still working (or the typed line has not been taken yet).
    Busy,
    /// The prompt is back.
    Prompt,
    /// The console asks something and waits for a line (the question's text).
    Question(String),
}

/// What the stop sequence finds on the console before typing its stop command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BeforeCommand {
    /// This many typed characters follow the prompt: erase them first (0: none).
    Erase(usize),
    /// A question waits for an answer (e.g. left by `send`): the command would only
    /// answer it, so stop by signal instead.
    AtQuestion(String),
}

/// What [`Hub::peek_capture`] sees.
pub(crate) struct CapturePeek {
    pub state: SendState,
    /// Time since the console last printed anything.
    pub quiet: Duration,
    /// The child that got the line is gone.
    pub gone: bool,
}

/// The running child, as the status knows it.
pub(crate) struct ChildSlot {
    pub generation: u64,
    pub pid: Pid,
    /// Set (under the lock) before the pid is reaped: from then on it is never signalled.
    pub exited: bool,
}

/// The running child's terminal, as the event loop drives it.
pub(crate) struct Pty {
    pub generation: u64,
    /// Bytes to type (keystrokes, `send` lines, answers), written in order by the
    /// child's input task.
    pub input: mpsc::Sender<Vec<u8>>,
    pub master: Arc<AsyncFd<OwnedFd>>,
}

struct Readiness {
    generation: u64,
    tracker: ReadinessTracker,
    notify: Arc<Notify>,
}

pub(crate) struct Inner {
    pub spec: InstanceSpec,
    scrollback: Scrollback,
    captures: Vec<Capture>,
    next_id: u64,
    readiness: Option<Readiness>,
    pub state: InstanceState,
    pub detail: String,
    /// Operator restarts ([`crate::supervise`]'s `Control::Restart`).
    pub restarts: u32,
    /// Unexpected ends of the child (and failed starts).
    pub crashes: u32,
    pub started_at_ms: Option<u64>,
    pub last_exit: Option<String>,
    /// How the last child ended as a process exit status (`supervise::exit_code`):
    /// what a foreground holder exits with.
    pub last_exit_code: Option<i32>,
    pub last_lines: Vec<String>,
    pub child: Option<ChildSlot>,
    pub generation: u64,
}

/// The event loop's side: viewers, the PTY and its size.
struct Io {
    viewers: Vec<Viewer>,
    next_viewer: u64,
    size_owner: Option<u64>,
    size: (u16, u16),
    pty: Option<Pty>,
}

/// Errors and lifecycle events of the holder itself, beside the console log.
pub(crate) struct HolderLog {
    file: Option<File>,
    /// A foreground holder also writes each line to stderr (the container's log).
    pub echo_to_stderr: bool,
}

impl HolderLog {
    pub fn open(path: &Path) -> HolderLog {
        let file = OpenOptions::new().create(true).append(true).open(path).ok();
        HolderLog {
            file,
            echo_to_stderr: false,
        }
    }

    pub fn path_for(spec: &InstanceSpec) -> PathBuf {
        match spec.console_log.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join("holder.log"),
            _ => PathBuf::from("holder.log"),
        }
    }

    pub fn log(&self, msg: &str) {
        if self.echo_to_stderr {
            eprintln!("gridctl-holder: {msg}");
        }
        if let Some(mut f) = self.file.as_ref() {
            // One write per line: O_APPEND keeps lines whole without a lock.
            let _ = f.write_all(
                format!(
                    "{} {msg}\n",
                    gridctl_wire::human::timestamp(SystemTime::now())
                )
                .as_bytes(),
            );
        }
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Opens the spec's console log; without one the holder still runs (logged).
pub(crate) fn open_console_log(spec: &InstanceSpec, holder_log: &HolderLog) -> Option<ConsoleLog> {
    match ConsoleLog::open(&spec.console_log, spec.log_max_bytes, spec.log_keep) {
        Ok(log) => Some(log),
        Err(e) => {
            holder_log.log(&format!(
                "cannot open console log {}: {e}",
                spec.console_log.display()
            ));
            None
        }
    }
}

pub(crate) struct Hub {
    inner: Mutex<Inner>,
    io: Mutex<Io>,
    /// Output and model requests for the console worker, in stream order.
    pub work: Arc<WorkQueue>,
    pub holder_log: HolderLog,
    pub holder_pid: u32,
    pub spec_path: PathBuf,
    /// Signalled once the reply to `Stop` has been written, so the holder can exit.
    pub stop_replied: Notify,
}

impl Hub {
    pub fn new(
        spec: InstanceSpec,
        spec_path: PathBuf,
        holder_log: HolderLog,
        work: Arc<WorkQueue>,
    ) -> Hub {
        let io = Io {
            viewers: Vec::new(),
            next_viewer: 1,
            size_owner: None,
            // A zero size is raised to 1, as the model does (robust.md §0b).
            size: crate::spec::bounded_size(spec.rows, spec.cols),
            pty: None,
        };
        let inner = Inner {
            scrollback: Scrollback::new(spec.scrollback_lines),
            captures: Vec::new(),
            next_id: 1,
            readiness: None,
            state: InstanceState::Starting,
            detail: String::new(),
            restarts: 0,
            crashes: 0,
            started_at_ms: None,
            last_exit: None,
            last_exit_code: None,
            last_lines: Vec::new(),
            child: None,
            generation: 0,
            spec,
        };
        Hub {
            inner: Mutex::new(inner),
            io: Mutex::new(io),
            work,
            holder_log,
            holder_pid: std::process::id(),
            spec_path,
            stop_replied: Notify::new(),
        }
    }

    /// A panic elsewhere must not take the holder down with a poisoned lock.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn io(&self) -> MutexGuard<'_, Io> {
        self.io.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn spec(&self) -> InstanceSpec {
        self.lock().spec.clone()
    }

    // --- output (event loop) -------------------------------------------------------

    /// One chunk read from the PTY: to every viewer, then to the worker. Both in one
    /// step of the event loop, so a replay queued between two chunks matches exactly
    /// what a new viewer gets afterwards.
    pub fn output(&self, generation: u64, chunk: Vec<u8>) {
        {
            let mut io = self.io();
            if !io.viewers.is_empty() {
                // One allocation per chunk, shared by every viewer.
                let data: Arc<[u8]> = Arc::from(chunk.as_slice());
                let len = data.len();
                io.viewers.retain_mut(|v| {
                    if v.lagging {
                        return true;
                    }
                    if v.queued.load(Ordering::Relaxed) + len > VIEWER_QUEUE_BYTES {
                        v.lagging = true;
                        v.kick.notify_one();
                        return true;
                    }
                    v.queued.fetch_add(len, Ordering::Relaxed);
                    v.tx.send(ViewerEvent::Data(data.clone())).is_ok()
                });
            }
        }
        self.work.push(Work::Output {
            generation,
            bytes: chunk,
        });
    }

    // --- derived state (console worker) -------------------------------------------

    /// A batch of output as the worker saw it: the lines it finished (as the screen
    /// finally showed them), which of those were red (ERROR level, indexes into
    /// `lines`) and the unfinished line under the cursor.
    pub fn absorb(
        &self,
        generation: u64,
        lines: &[u8],
        red: &[usize],
        pending: &[u8],
        console: &mut Console,
    ) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        match inner
            .readiness
            .as_mut()
            .filter(|r| r.generation == generation && r.tracker.is_pending())
        {
            Some(r) => {
                let tracker = &mut r.tracker;
                inner
                    .scrollback
                    .push(lines, |i, line| tracker.feed_line(line, red.contains(&i)));
                if tracker.is_pending() && console.prompt_visible(tracker.prompt()) {
                    tracker.set_prompt_seen();
                }
                // Startup progress, live in the status while it waits.
                let current = inner
                    .child
                    .as_ref()
                    .is_some_and(|c| c.generation == generation);
                if current && inner.state == InstanceState::Starting && tracker.is_pending() {
                    let progress = tracker.progress();
                    if inner.detail != progress {
                        inner.detail = progress;
                    }
                }
                if !tracker.is_pending() {
                    r.notify.notify_one();
                }
            }
            None => inner.scrollback.push(lines, |_, _| {}),
        }
        // A start that asks something on the console (a simulator without its estate
        // settings) waits for an answer: say so, with the question, instead of a
        // silent `starting`.
        // Bytes first: this runs for every chunk of a starting console.
        let asking = (pending.ends_with(b": ") || pending.ends_with(b"? "))
            && inner.state == InstanceState::Starting
            && inner
                .readiness
                .as_ref()
                .is_some_and(|r| r.generation == generation && r.tracker.is_pending());
        if asking {
            let text = String::from_utf8_lossy(pending);
            if is_question(&text) {
                inner.detail = format!(
                    "waiting for an answer: {}",
                    gridctl_wire::terminal::text_without_c1(text.trim_end())
                );
            }
        }
        inner.scrollback.set_partial(pending);

        if !inner.captures.is_empty() {
            let now = Instant::now();
            for c in &mut inner.captures {
                if !lines.is_empty() {
                    c.answered = true;
                    if c.echo_end.is_none() {
                        c.echo_end = lines
                            .iter()
                            .position(|&b| b == b'\n')
                            .map(|i| c.text.len() + i + 1);
                    }
                }
                c.text.extend_from_slice(lines);
                // Trim the front in big steps so the copy is amortized.
                if c.text.len() > 2 * CAPTURE_MAX {
                    let cut = c.text.len() - CAPTURE_MAX;
                    c.text.drain(..cut);
                    c.dropped += cut;
                    c.echo_end = Some(c.echo_end.map_or(0, |e| e.saturating_sub(cut)));
                }
                c.last_output = now;
            }
        }
    }

    /// Answers the model owes the program (cursor position reports): typed at once.
    pub fn answer(&self, generation: u64, reply: Vec<u8>) {
        let io = self.io();
        if let Some(pty) = io.pty.as_ref().filter(|p| p.generation == generation) {
            // Never block on the input side; a full queue means the child is not
            // reading its console anyway.
            let _ = pty.input.try_send(reply);
        }
    }

    /// The last lines of scrollback an attach replay starts with (the unfinished line
    /// is left out: the screen that follows shows it).
    pub fn replay_lines(&self) -> Vec<u8> {
        let g = self.lock();
        let mut replay = Vec::new();
        let lines = g.scrollback.last_lines(REPLAY_LINES + 1);
        let complete = lines
            .len()
            .saturating_sub(usize::from(!g.scrollback.partial().trim().is_empty()));
        for line in &lines[..complete] {
            replay.extend_from_slice(line.as_bytes());
            replay.extend_from_slice(b"\r\n");
        }
        replay
    }

    // --- child lifecycle -------------------------------------------------------

    /// Records a freshly spawned child and resets readiness for it.
    pub fn child_started(&self, slot: ChildSlot, pty: Pty) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        {
            let mut g = self.lock();
            let tracker = ReadinessTracker::new(&g.spec.readiness);
            g.detail = tracker.progress();
            g.readiness = Some(Readiness {
                generation: slot.generation,
                tracker,
                notify: notify.clone(),
            });
            g.state = InstanceState::Starting;
            g.started_at_ms = Some(unix_ms());
            g.child = Some(slot);
        }
        // The PTY was opened at the current size (the latest viewer's, or the spec's).
        self.io().pty = Some(pty);
        notify
    }

    /// The size a new PTY should have: the latest read-write viewer's, else the spec's.
    pub fn pty_size(&self) -> (u16, u16) {
        self.io().size
    }

    /// Called just before `pid` is reaped: from now on the pid must never be signalled.
    pub fn mark_exited(&self, generation: u64) -> MutexGuard<'_, Inner> {
        let mut g = self.lock();
        if let Some(c) = g.child.as_mut().filter(|c| c.generation == generation) {
            c.exited = true;
        }
        g
    }

    /// Signals the child's process group unless the child has already exited.
    pub fn signal_child(&self, generation: u64, signal: Signal) -> bool {
        let g = self.lock();
        match g
            .child
            .as_ref()
            .filter(|c| c.generation == generation && !c.exited)
        {
            Some(c) => killpg(c.pid, signal).is_ok(),
            None => false,
        }
    }

    /// The child is gone and its PTY closed: record how it ended, tell viewers.
    pub fn child_finished(&self, generation: u64, description: &str) {
        {
            let mut g = self.lock();
            if g.child.as_ref().is_some_and(|c| c.generation == generation) {
                g.child = None;
            }
            g.last_exit = Some(description.to_string());
            g.last_lines = g.scrollback.last_lines(20);
        }
        let mut io = self.io();
        if io.pty.as_ref().is_some_and(|p| p.generation == generation) {
            io.pty = None;
        }
        io.viewers.retain(|v| {
            v.tx.send(ViewerEvent::ChildExited(description.to_string()))
                .is_ok()
        });
    }

    pub fn set_state(&self, state: InstanceState, detail: impl Into<String>) {
        let mut g = self.lock();
        g.state = state;
        g.detail = detail.into();
    }

    /// Changes state only while `generation` is the current child and still starting.
    pub fn settle_startup(&self, generation: u64, state: InstanceState, detail: String) {
        let mut g = self.lock();
        let current = g.child.as_ref().is_some_and(|c| c.generation == generation);
        if current && g.state == InstanceState::Starting {
            g.state = state;
            g.detail = detail;
        }
    }

    /// A new detail while `generation` is the current child and still starting.
    pub fn starting_detail(&self, generation: u64, detail: String) {
        let mut g = self.lock();
        let current = g.child.as_ref().is_some_and(|c| c.generation == generation);
        if current && g.state == InstanceState::Starting {
            g.detail = detail;
        }
    }

    /// The startup verdict for `generation`, or `None` once that child is gone.
    pub fn readiness_verdict(&self, generation: u64) -> Option<(Verdict, String)> {
        let g = self.lock();
        if g.child.as_ref().is_none_or(|c| c.generation != generation) {
            return None;
        }
        g.readiness
            .as_ref()
            .filter(|r| r.generation == generation)
            .map(|r| (r.tracker.verdict(), r.tracker.missing()))
    }

    /// What the stop sequence must do before typing its command, judged from the line
    /// under the cursor.
    pub fn console_before_command(&self) -> BeforeCommand {
        let g = self.lock();
        let pending = g.scrollback.partial();
        let prompt = g.spec.readiness.prompt.as_str();
        if is_question(&pending) {
            return BeforeCommand::AtQuestion(pending.trim_end().to_string());
        }
        // Half-typed input after the prompt would be glued to the command.
        match pending.strip_prefix(prompt).filter(|_| !prompt.is_empty()) {
            Some(typed) => BeforeCommand::Erase(typed.chars().count()),
            None => BeforeCommand::Erase(0),
        }
    }

    pub fn input_sender(&self) -> Option<mpsc::Sender<Vec<u8>>> {
        self.io().pty.as_ref().map(|p| p.input.clone())
    }

    pub fn status(&self) -> InstanceStatus {
        let viewers = self.io().viewers.len() as u32;
        let g = self.lock();
        InstanceStatus {
            name: g.spec.name.clone(),
            role: g.spec.role.clone(),
            state: g.state,
            detail: g.detail.clone(),
            holder_pid: self.holder_pid,
            pid: g
                .child
                .as_ref()
                .filter(|c| !c.exited)
                .map(|c| c.pid.as_raw() as u32),
            restarts: g.restarts,
            crashes: g.crashes,
            started_at_ms: g.started_at_ms,
            last_exit: g.last_exit.clone(),
            last_lines: g.last_lines.clone(),
            config_hash: g.spec.config_hash.clone(),
            viewers,
        }
    }

    // --- send captures ---------------------------------------------------------

    pub fn begin_capture(&self) -> Result<(u64, mpsc::Sender<Vec<u8>>, u64), String> {
        let pty = self
            .io()
            .pty
            .as_ref()
            .map(|p| (p.input.clone(), p.generation));
        let mut g = self.lock();
        let running = g.child.as_ref().filter(|c| !c.exited).map(|c| c.generation);
        let Some((input, generation)) = pty.filter(|(_, gen)| Some(*gen) == running) else {
            return Err(format!(
                "`{}` is not running ({})",
                g.spec.name,
                g.state.as_str()
            ));
        };
        let id = g.next_id;
        g.next_id += 1;
        g.captures.push(Capture {
            id,
            text: Vec::new(),
            dropped: 0,
            echo_end: None,
            last_output: Instant::now(),
            answered: false,
        });
        Ok((id, input, generation))
    }

    /// Input is about to be typed for capture `id`: what is under the cursor now is
    /// stale until the console finishes a line again.
    pub fn capture_typing(&self, id: u64) {
        let mut g = self.lock();
        if let Some(c) = g.captures.iter_mut().find(|c| c.id == id) {
            c.answered = false;
        }
    }

    /// Where capture `id` stands. Looks only at the line under the cursor: cheap under
    /// the lock.
    pub fn peek_capture(&self, id: u64, generation: u64, prompt: &str) -> CapturePeek {
        let g = self.lock();
        let gone = !g
            .child
            .as_ref()
            .is_some_and(|c| c.generation == generation && !c.exited);
        match g.captures.iter().find(|c| c.id == id) {
            Some(c) => CapturePeek {
                state: if c.answered {
                    send_state(&g.scrollback.partial(), prompt)
                } else {
                    SendState::Busy
                },
                quiet: c.last_output.elapsed(),
                gone,
            },
            None => CapturePeek {
                state: SendState::Busy,
                quiet: Duration::ZERO,
                gone: true,
            },
        }
    }

    /// Ends capture `id`: its finished lines, then (with `with_pending`) the line under
    /// the cursor, and how many bytes were dropped from the front.
    pub fn end_capture(&self, id: u64, with_pending: bool) -> (String, usize) {
        let mut g = self.lock();
        match g.captures.iter().position(|c| c.id == id) {
            Some(i) => {
                let c = g.captures.swap_remove(i);
                let mut text = String::from_utf8_lossy(&c.text).into_owned();
                if with_pending {
                    text.push_str(&g.scrollback.partial());
                }
                (text, c.dropped)
            }
            None => (String::new(), 0),
        }
    }

    // --- viewers -----------------------------------------------------------------

    /// Registers a viewer; returns its id, its queue and the replay it starts with.
    /// Registration and the replay request happen in one step of the event loop, so no
    /// output is lost or duplicated between the replay and the queue.
    pub fn add_viewer(
        &self,
        read_only: bool,
        rows: u16,
        cols: u16,
    ) -> (u64, ViewerQueue, oneshot::Receiver<Vec<u8>>) {
        let mut io = self.io();
        let id = io.next_viewer;
        io.next_viewer += 1;
        let size = (rows > 0 && cols > 0).then_some((rows, cols));
        if let (false, Some((r, c))) = (read_only, size) {
            io.size_owner = Some(id);
            self.apply_size(&mut io, r, c);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let kick = Arc::new(Notify::new());
        io.viewers.push(Viewer {
            id,
            tx,
            queued: queued.clone(),
            kick: kick.clone(),
            read_only,
            size,
            lagging: false,
        });
        let replay = self.work.replay(true);
        (id, ViewerQueue { rx, queued, kick }, replay)
    }

    /// A lagging viewer caught up with its queue: the screen to redraw it with, and it
    /// receives chunks again from here on (in one step with the replay request:
    /// nothing is lost or duplicated). `None` if the viewer is gone.
    pub fn resync_viewer(&self, id: u64) -> Option<oneshot::Receiver<Vec<u8>>> {
        let mut io = self.io();
        let v = io.viewers.iter_mut().find(|v| v.id == id)?;
        v.lagging = false;
        Some(self.work.replay(false))
    }

    /// Resize policy: the most recent read-write viewer's size wins (its attach or its
    /// latest resize); read-only viewers never change the size; when the owner
    /// leaves, the previous read-write viewer's size applies, else the spec's.
    pub fn viewer_resized(&self, id: u64, rows: u16, cols: u16) {
        let mut io = self.io();
        let Some(v) = io.viewers.iter_mut().find(|v| v.id == id) else {
            return;
        };
        if v.read_only || rows == 0 || cols == 0 {
            return;
        }
        v.size = Some((rows, cols));
        io.size_owner = Some(id);
        self.apply_size(&mut io, rows, cols);
    }

    pub fn remove_viewer(&self, id: u64) {
        let spec_size = {
            let g = self.lock();
            (g.spec.rows, g.spec.cols)
        };
        let mut io = self.io();
        io.viewers.retain(|v| v.id != id);
        if io.size_owner == Some(id) {
            let next = io
                .viewers
                .iter()
                .rev()
                .find(|v| !v.read_only)
                .and_then(|v| v.size.map(|s| (v.id, s)));
            let (owner, (rows, cols)) = match next {
                Some((vid, s)) => (Some(vid), s),
                None => (None, spec_size),
            };
            io.size_owner = owner;
            self.apply_size(&mut io, rows, cols);
        }
    }

    /// Back to the spec's size (a restart may have changed it).
    pub fn reset_size_to_spec(&self) {
        let (rows, cols) = {
            let g = self.lock();
            (g.spec.rows, g.spec.cols)
        };
        let mut io = self.io();
        if io.size_owner.is_none() {
            self.apply_size(&mut io, rows, cols);
        }
    }

    /// The model follows at this point of the stream; the kernel delivers SIGWINCH to
    /// the child's foreground group.
    /// Every size that reaches the terminal model and the PTY passes here, bounded
    /// whatever a client asked for (memory stays bounded).
    fn apply_size(&self, io: &mut Io, rows: u16, cols: u16) {
        let (rows, cols) = crate::spec::bounded_size(rows, cols);
        io.size = (rows, cols);
        self.work.push(Work::Resize { rows, cols });
        if let Some(p) = io.pty.as_ref() {
            let _ = set_winsize(p.master.get_ref(), rows, cols);
        }
    }
}

/// Where a `send` stands, from the line under the cursor (see [`is_question`]).
/// With no prompt configured, any line finished after the input counts as done.
pub(crate) fn send_state(pending: &str, prompt: &str) -> SendState {
    let prompt = prompt.trim_end();
    let shown = pending.trim_end();
    if prompt.is_empty() || shown.ends_with(prompt) {
        SendState::Prompt
    } else if is_question(pending) {
        SendState::Question(shown.to_string())
    } else {
        SendState::Busy
    }
}

/// The rule for "the console waits at a question": the unfinished line under the
/// cursor ends in `: ` or `? ` (Robust asks `Question [default]: ` and leaves the
/// cursor after the blank) and is not a log line (`HH:MM:SS - ...`, which log4net may
/// write in pieces). The caller also requires the console to be quiet for a while and
/// a line finished since the last input, so a line caught mid-print does not count.
pub(crate) fn is_question(pending: &str) -> bool {
    let b = pending.as_bytes();
    let asks = b.ends_with(b": ") || b.ends_with(b"? ");
    let stamp = |b: &[u8]| {
        b.len() >= 11
            && b[..8].iter().enumerate().all(|(i, c)| {
                if i % 3 == 2 {
                    *c == b':'
                } else {
                    c.is_ascii_digit()
                }
            })
            && &b[8..11] == b" - "
    };
    asks && !pending.trim().is_empty() && !stamp(b)
}

pub(crate) fn set_winsize(fd: &impl AsRawFd, rows: u16, cols: u16) -> std::io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a `winsize` from the pointer, which is valid for the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Removes the socket and pid file (before the final reply, so a client that got
/// `Done` finds them gone).
pub(crate) fn remove_runtime_files(hub: &Hub) {
    let spec = hub.spec();
    let _ = std::fs::remove_file(&spec.socket);
    let _ = std::fs::remove_file(&spec.holder_pid_file);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_question_or_busy() {
        let p = "R.O.B.U.S.T.# ";
        assert_eq!(send_state("R.O.B.U.S.T.# ", p), SendState::Prompt);
        assert_eq!(send_state("", p), SendState::Busy);
        assert_eq!(send_state("Loading", p), SendState::Busy);
        assert_eq!(
            send_state("User ID (enter for random) []: ", p),
            SendState::Question("User ID (enter for random) []:".into())
        );
        assert_eq!(
            send_state("Password: ", p),
            SendState::Question("Password:".into())
        );
        assert_eq!(
            send_state("Really? ", p),
            SendState::Question("Really?".into())
        );
        // log4net writes a line in pieces: a stamped line is never a question.
        assert_eq!(send_state("16:11:58 - [SERVER]: ", p), SendState::Busy);
        assert_eq!(send_state("Time: 12:00", p), SendState::Busy);
        assert_eq!(send_state("anything", ""), SendState::Prompt);
    }
}
