//! The console worker: the one thread that turns raw console output into everything
//! derived from it (vt100 model, cursor-position answers, finished lines, scrollback,
//! readiness, `send` captures, the console log), so the event loop only reads the PTY
//! and forwards bytes.
//!
//! The event loop hands output over through [`WorkQueue`], bounded by bytes. When the
//! worker falls behind, the loop stops reading the PTY (as a terminal that cannot keep
//! up does), so no console-log byte is ever dropped; the child simply blocks in `write`.
//! Whatever piled up meanwhile is taken as one batch: every byte still goes through the
//! line builder and the log, while the model is fed through its backlog, which skips
//! text that scrolls off before anybody could see it (`console::backlog`).
//!
//! Requests that need the model at an exact point of the stream (an attach's replay, a
//! lagging viewer's redraw, a resize) travel in the same queue, so they see precisely
//! the output the event loop had forwarded when it queued them.

use crate::console::lines::LineBuilder;
use crate::console::Console;
use crate::hub::Hub;
use crate::spool::ConsoleLog;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

/// Output the event loop may queue ahead of the worker before it pauses PTY reads.
pub(crate) const QUEUE_BYTES: usize = 1024 * 1024;

/// Read buffers kept for reuse (each up to [`READ_BUF`] bytes).
const SPARE_BUFFERS: usize = 4;

/// One read cycle gathers up to this much output (PTY reads return ≤ 4 KiB each).
pub(crate) const READ_BUF: usize = 64 * 1024;

/// Flush the console log at least this often while output trickles…
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(500);
/// …and this long after output pauses.
const LOG_FLUSH_IDLE: Duration = Duration::from_millis(200);

/// One item of work, in stream order.
pub(crate) enum Work {
    /// A fresh child: its output starts at a line start for the line builder.
    Begin {
        generation: u64,
    },
    Output {
        generation: u64,
        bytes: Vec<u8>,
    },
    Resize {
        rows: u16,
        cols: u16,
    },
    /// The bytes that redraw the screen as of this point: with the last scrollback
    /// lines first (an attach) or the screen alone (a lagging viewer's redraw).
    Replay {
        with_lines: bool,
        reply: oneshot::Sender<Vec<u8>>,
    },
    /// Answered once everything queued before it is processed and the log flushed.
    Sync {
        reply: oneshot::Sender<()>,
    },
}

/// Queued output that wakes the worker at once; less waits until the event loop has
/// nothing else to do ([`WorkQueue::wake_deferred`]), so an echo is forwarded to the
/// viewer before the worker competes with it for a CPU.
const WAKE_AT: usize = 16 * 1024;

#[derive(Default)]
struct Queue {
    items: VecDeque<Work>,
    bytes: usize,
    spare: Vec<Vec<u8>>,
    /// The worker sleeps on `ready`.
    waiting: bool,
}

/// The hand-over between the event loop (producer) and the worker (consumer).
#[derive(Default)]
pub(crate) struct WorkQueue {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Signalled whenever the worker takes a batch: room for more output.
    room: Notify,
    /// Work was queued for the sleeping worker without waking it.
    deferred: AtomicBool,
}

impl WorkQueue {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, work: Work) {
        let mut q = self.lock();
        if let Work::Output { bytes, .. } = &work {
            q.bytes += bytes.len();
        }
        q.items.push_back(work);
        if !q.waiting {
            return;
        }
        // Wake now for a large backlog, or when output was already waiting since the
        // loop last parked (a loop kept busy must not delay, say, a cursor-position
        // answer for long); else when the loop parks.
        if q.bytes >= WAKE_AT || self.deferred.swap(true, Ordering::AcqRel) {
            self.deferred.store(false, Ordering::Release);
            q.waiting = false;
            drop(q);
            self.ready.notify_one();
        }
    }

    /// Wakes the worker for work queued since it slept. The event loop calls this
    /// before it parks (tokio's `on_thread_park`): whatever a wake-up brought in has
    /// been read and forwarded by then.
    pub fn wake_deferred(&self) {
        if self.deferred.swap(false, Ordering::AcqRel) {
            let mut q = self.lock();
            if q.waiting && !q.items.is_empty() {
                q.waiting = false;
                drop(q);
                self.ready.notify_one();
            }
        }
    }

    /// Waits until the queue has room for more output (back-pressure on PTY reads).
    pub async fn room(&self) {
        while self.lock().bytes >= QUEUE_BYTES {
            self.room.notified().await;
        }
    }

    /// An empty read buffer of [`READ_BUF`] capacity, recycled when possible.
    pub fn buffer(&self) -> Vec<u8> {
        self.lock()
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(READ_BUF))
    }

    fn recycle(&self, mut buf: Vec<u8>) {
        if buf.capacity() == READ_BUF {
            buf.clear();
            let mut q = self.lock();
            if q.spare.len() < SPARE_BUFFERS {
                q.spare.push(buf);
            }
        }
    }

    /// Waits until everything queued so far is processed and the console log flushed.
    pub async fn sync(&self) {
        let (reply, rx) = oneshot::channel();
        self.push(Work::Sync { reply });
        let _ = rx.await;
    }

    /// The replay as of now (see [`Work::Replay`]); empty if the worker is gone.
    pub fn replay(&self, with_lines: bool) -> oneshot::Receiver<Vec<u8>> {
        let (reply, rx) = oneshot::channel();
        self.push(Work::Replay { with_lines, reply });
        rx
    }

    /// The next batch, or `None` when `timeout` passed with nothing queued.
    fn take(&self, timeout: Option<Duration>) -> Option<VecDeque<Work>> {
        let mut q = self.lock();
        while q.items.is_empty() {
            q.waiting = true;
            match timeout {
                Some(t) => {
                    let (guard, res) = self
                        .ready
                        .wait_timeout(q, t)
                        .unwrap_or_else(|e| e.into_inner());
                    q = guard;
                    if res.timed_out() && q.items.is_empty() {
                        q.waiting = false;
                        return None;
                    }
                }
                None => q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner()),
            }
        }
        q.waiting = false;
        q.bytes = 0;
        let batch = std::mem::take(&mut q.items);
        drop(q);
        self.room.notify_one();
        Some(batch)
    }
}

/// The worker's own state: nothing here is touched by any other thread.
struct Worker {
    hub: Arc<Hub>,
    console: Console,
    builder: LineBuilder,
    log: Option<ConsoleLog>,
    log_error_reported: bool,
    /// A foreground holder's copy of the log lines for its stdout (`StdoutTee`).
    stdout: Option<StdoutTee>,
    last_flush: Instant,
    /// Finished lines of the output processed since the last commit, and which of
    /// them were red (indexes into them).
    lines: Vec<u8>,
    red: Vec<usize>,
    generation: u64,
    /// Output was processed since the last commit.
    uncommitted: bool,
}

/// Starts the worker thread. It runs as long as the holder does.
pub(crate) fn spawn(
    hub: Arc<Hub>,
    log: Option<ConsoleLog>,
    stdout: Option<StdoutTee>,
) -> std::io::Result<()> {
    let (rows, cols) = hub.pty_size();
    let mut worker = Worker {
        hub,
        console: Console::new(rows, cols),
        builder: LineBuilder::new(),
        log,
        log_error_reported: false,
        stdout,
        last_flush: Instant::now(),
        lines: Vec::new(),
        red: Vec::new(),
        generation: 0,
        uncommitted: false,
    };
    std::thread::Builder::new()
        .name("console".into())
        .spawn(move || worker.run())
        .map(|_| ())
}

impl Worker {
    fn run(&mut self) {
        let queue = self.hub.work.clone();
        loop {
            // Idle with a clean log: sleep until work arrives (no wake-ups at all).
            let timeout = self
                .log
                .as_ref()
                .is_some_and(|l| l.is_dirty())
                .then_some(LOG_FLUSH_IDLE);
            let Some(batch) = queue.take(timeout) else {
                self.flush_log();
                // Output paused: hand freed heap pages back (start-up, a flood's
                // batches), so an idle holder stays small.
                // SAFETY: malloc_trim only releases free memory of the allocator.
                unsafe {
                    libc::malloc_trim(0);
                }
                continue;
            };
            for work in batch {
                // A bug in the model must not stop the draining of the console (the
                // child would block on a full PTY): start the model afresh instead.
                let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.handle(work, &queue)
                }));
                if handled.is_err() {
                    self.hub
                        .holder_log
                        .log("console worker: a panic while processing output; screen model reset");
                    let (rows, cols) = self.console.size();
                    self.console = Console::new(rows, cols);
                }
            }
            self.commit();
            if self.last_flush.elapsed() >= LOG_FLUSH_EVERY {
                self.flush_log();
            }
        }
    }

    fn handle(&mut self, work: Work, queue: &WorkQueue) {
        match work {
            Work::Output { generation, bytes } => {
                if generation != self.generation {
                    self.commit();
                    self.generation = generation;
                }
                self.output(&bytes);
                queue.recycle(bytes);
            }
            Work::Begin { generation } => {
                self.commit();
                self.generation = generation;
                self.builder = LineBuilder::new();
            }
            Work::Resize { rows, cols } => {
                self.commit();
                self.console.resize(rows, cols);
            }
            Work::Replay { with_lines, reply } => {
                self.commit();
                let replay = if with_lines {
                    self.hub.replay_lines()
                } else {
                    Vec::new()
                };
                let mut replay = replay;
                replay.extend_from_slice(&self.console.replay());
                let _ = reply.send(replay);
            }
            Work::Sync { reply } => {
                self.commit();
                self.flush_log();
                let _ = reply.send(());
            }
        }
    }

    /// One chunk: lines for log and scrollback, the model, and any answer it owes.
    fn output(&mut self, bytes: &[u8]) {
        let before = self.lines.len();
        self.builder.feed(bytes, &mut self.lines);
        if !self.builder.red_lines().is_empty() {
            // Rare (ERROR lines): index them across the whole uncommitted batch.
            let offset = self.lines[..before].iter().filter(|&&b| b == b'\n').count();
            self.red
                .extend(self.builder.red_lines().iter().map(|i| i + offset));
        }
        self.uncommitted = true;
        self.console.process(bytes);
        if let Some(reply) = self.console.take_replies() {
            // Robust waits for this answer at every prompt: straight to the PTY.
            self.hub.answer(self.generation, reply);
        }
    }

    /// Hands the finished lines of the batch to scrollback, readiness, captures and log.
    fn commit(&mut self) {
        if !self.uncommitted {
            return;
        }
        self.uncommitted = false;
        self.hub.absorb(
            self.generation,
            &self.lines,
            &self.red,
            self.builder.pending(),
            &mut self.console,
        );
        if let Some(log) = self.log.as_mut() {
            match log.write(&self.lines) {
                Err(e) if !self.log_error_reported => {
                    self.log_error_reported = true;
                    self.hub
                        .holder_log
                        .log(&format!("console log {}: {e}", log.path().display()));
                }
                Ok(()) => self.log_error_reported = false,
                Err(_) => {}
            }
        }
        if let Some(tee) = self.stdout.as_mut() {
            tee.send(&self.lines);
        }
        self.lines.clear();
        self.red.clear();
        // A flood grows this buffer; give it back once it is over.
        if self.lines.capacity() > 4 * READ_BUF {
            self.lines = Vec::new();
        }
    }

    fn flush_log(&mut self) {
        self.last_flush = Instant::now();
        if let Some(log) = self.log.as_mut().filter(|l| l.is_dirty()) {
            let _ = log.flush();
        }
    }
}

/// The console lines a foreground holder also prints on its stdout (for `kubectl logs`),
/// written by a thread of their own through a bounded queue: a reader of stdout that
/// stalls must never stall the worker, and through it Robust's console. Lines that do
/// not fit are dropped and counted, and the count is printed once there is room.
pub(crate) struct StdoutTee {
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    dropped: u64,
}

/// Batches queued for stdout before lines are dropped.
const STDOUT_QUEUE: usize = 1024;

impl StdoutTee {
    pub fn start() -> std::io::Result<StdoutTee> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(STDOUT_QUEUE);
        std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || {
                use std::io::Write;
                let out = std::io::stdout();
                while let Ok(batch) = rx.recv() {
                    let mut out = out.lock();
                    // A closed stdout (EPIPE: SIGPIPE is ignored in Rust programs) ends
                    // the copy; the console log and the holder go on.
                    if out.write_all(&batch).and_then(|()| out.flush()).is_err() {
                        return;
                    }
                }
            })?;
        Ok(StdoutTee { tx, dropped: 0 })
    }

    fn send(&mut self, lines: &[u8]) {
        if lines.is_empty() {
            return;
        }
        let mut batch = Vec::new();
        if self.dropped > 0 {
            batch.extend_from_slice(
                format!(
                    "[gridctl-holder: {} console line(s) not shown here: stdout was not read fast enough; see the console log]\n",
                    self.dropped
                )
                .as_bytes(),
            );
        }
        batch.extend_from_slice(lines);
        match self.tx.try_send(batch) {
            Ok(()) => self.dropped = 0,
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                self.dropped += memchr::memchr_iter(b'\n', lines).count() as u64;
            }
            // The writer is gone (stdout closed): nothing more to do.
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {}
        }
    }
}
