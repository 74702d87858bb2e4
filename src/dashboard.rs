//! `gridctl top`: the live dashboard. A viewer: every instance by role with its state,
//! resources and upstream membership, the selected instance's live console, and keys
//! that run the ordinary gridctl commands in the background.
//!
//! Threads talk to the UI thread over one channel: the poller (snapshots about once a
//! second), the console feed of the selected instance, and one thread per action. The
//! UI thread only reads keys, updates the [`model::Model`] and draws, so a long action
//! never freezes it. Quitting changes nothing: the grid, and any action still
//! running, carry on.

pub mod action;
pub mod console;
pub mod model;
pub mod poll;
pub mod terminal;
pub mod view;

use crate::attach::{self, AttachEnd, AttachOptions};
use crate::diagnostic::Diagnostic;
use crate::load::build_plan;
use crate::outcome::{Failure, Outcome};
use crate::plan::Plan;
use action::JobEvent;
use console::{ConsoleView, Feed, FeedEvent};
use crossterm::event::{self, Event as TermEvent, KeyEventKind};
use model::{Effect, Model, Snapshot, Tone};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use terminal::TerminalGuard;

/// How long the UI waits for a key before looking at the channel: bounds the
/// console's latency, and is the dashboard's only idle wake-up besides the poller.
const TICK: Duration = Duration::from_millis(100);

/// After a console connection drops while the holder lives, wait this long before retrying.
const FEED_RETRY: Duration = Duration::from_secs(2);

enum Event {
    Snapshot(Arc<Plan>, Snapshot),
    Feed(u64, FeedEvent),
    Job(String, JobEvent),
}

fn failed(msg: String) -> Failure {
    Failure::failed(Diagnostic::error(msg))
}

pub fn run(file: &Path) -> Outcome {
    // Not `load_plan`: it prints the warnings, which the alternate screen would hide at
    // once; the status line shows them instead.
    let plan = Arc::new(build_plan(file)?);
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(failed(
            "`gridctl top` needs a terminal; `gridctl status` prints the same table once".into(),
        ));
    }
    let exe = std::env::current_exe()
        .map_err(|e| failed(format!("cannot find the gridctl executable: {e}")))?;
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());

    // SIGTERM, SIGHUP (the SSH session went away) and SIGINT end the loop cleanly, so
    // the terminal is restored; Ctrl-C itself arrives as a key in raw mode.
    let stop = Arc::new(AtomicBool::new(false));
    let mut signal_ids = Vec::new();
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        if let Ok(id) = signal_hook::flag::register(sig, stop.clone()) {
            signal_ids.push(id);
        }
    }

    let (tx, rx) = mpsc::channel::<Event>();
    let (poke_tx, poke_rx) = mpsc::channel::<()>();
    {
        let tx = tx.clone();
        let poller = poll::Poller::new(file, plan.clone());
        std::thread::spawn(move || {
            poller.run(poke_rx, move |p, s| tx.send(Event::Snapshot(p, s)).is_ok())
        });
    }

    let guard =
        TerminalGuard::enter().map_err(|e| failed(format!("cannot set up the terminal: {e}")))?;
    let mut ui = Ui {
        file: file.to_path_buf(),
        exe,
        plan,
        model: Model::new(color),
        tx,
        poke: poke_tx,
        feed: None,
        feed_gen: 0,
        feed_holder: None,
        feed_ended: None,
        console_pid: None,
    };
    if let Some(first) = ui.plan.warnings.first() {
        let n = ui.plan.warnings.len();
        ui.model.set_status(
            Tone::Info,
            format!(
                "grid.toml: {n} warning(s): {} (`gridctl check` lists them)",
                poll::first_line(&first.to_string()).trim_start_matches("warning: ")
            ),
        );
    }
    let result = ui.event_loop(&guard, &rx, &stop);
    drop(guard);
    for id in signal_ids {
        signal_hook::low_level::unregister(id);
    }
    if ui.model.running > 0 {
        eprintln!(
            "note: {} action(s) still running in the background",
            ui.model.running
        );
    }
    result.map_err(|e| failed(format!("terminal error: {e}")))
}

/// Clears the screen and forgets what is on it, so the next draw paints everything.
/// (`Terminal::clear` would ask the terminal for its cursor position: a round trip
/// over SSH, and a hang on terminals that never answer.)
fn full_redraw(terminal: &mut Terminal<CrosstermBackend<io::Stdout>>) -> io::Result<()> {
    let size = terminal.size()?;
    terminal.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))
}

struct Ui {
    file: PathBuf,
    exe: PathBuf,
    plan: Arc<Plan>,
    model: Model,
    tx: Sender<Event>,
    poke: Sender<()>,
    feed: Option<Feed>,
    feed_gen: u64,
    /// The holder the current feed is attached to.
    feed_holder: Option<u32>,
    /// When the current feed's connection ended (it is retried after [`FEED_RETRY`]).
    feed_ended: Option<Instant>,
    /// The selected instance's process at the last snapshot.
    console_pid: Option<u32>,
}

impl Ui {
    fn event_loop(
        &mut self,
        guard: &TerminalGuard,
        rx: &Receiver<Event>,
        stop: &AtomicBool,
    ) -> io::Result<()> {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        full_redraw(&mut terminal)?;
        let mut dirty = true;
        loop {
            if dirty {
                terminal.draw(|f| view::render(f, &mut self.model))?;
                dirty = false;
            }
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            if event::poll(TICK)? {
                // Everything already typed, so a burst of keys costs one redraw.
                loop {
                    match event::read()? {
                        TermEvent::Key(k) if k.kind == KeyEventKind::Press => {
                            match self.model.key(k) {
                                Some(Effect::Quit) => return Ok(()),
                                Some(Effect::Attach(name)) => {
                                    self.attach(guard, &name);
                                    full_redraw(&mut terminal)?;
                                }
                                Some(Effect::Run(job)) => self.start_job(job),
                                None => {}
                            }
                        }
                        _ => {}
                    }
                    dirty = true;
                    if !event::poll(Duration::ZERO)? {
                        break;
                    }
                }
            }
            while let Ok(ev) = rx.try_recv() {
                self.handle(ev);
                dirty = true;
            }
            if dirty {
                self.sync_console();
            }
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Snapshot(plan, snap) => {
                self.plan = plan;
                self.model.apply(snap);
                // A new process is running: "console process ended" is old news.
                let pid = self.model.selected_row().and_then(|r| r.pid);
                if let (Some(view), Some(_)) = (self.model.console.as_mut(), pid) {
                    if pid != self.console_pid && view.connected {
                        view.note.clear();
                    }
                }
                self.console_pid = pid;
            }
            Event::Feed(gen, ev) if gen == self.feed_gen => {
                let Some(view) = self.model.console.as_mut() else {
                    return;
                };
                match ev {
                    FeedEvent::Connected => {
                        view.reset();
                        view.connected = true;
                        view.note.clear();
                    }
                    FeedEvent::Data(bytes) => view.feed(&bytes),
                    FeedEvent::Note(n) => view.note = n,
                    FeedEvent::Ended(why) => {
                        view.connected = false;
                        view.note = why;
                        self.feed = None;
                        self.feed_ended = Some(Instant::now());
                    }
                }
            }
            Event::Feed(..) => {} // from a feed that was replaced
            Event::Job(label, ev) => match ev {
                JobEvent::Progress(line) => {
                    // A failure stays visible until the user acts again.
                    if self.model.status.0 != Tone::Bad {
                        self.model
                            .set_status(Tone::Busy, format!("{label}: {line}"));
                    }
                    let _ = self.poke.send(());
                }
                JobEvent::Done(line) => {
                    self.model.running = self.model.running.saturating_sub(1);
                    self.model
                        .set_status(Tone::Good, format!("{label}: done — {line}"));
                    let _ = self.poke.send(());
                }
                JobEvent::Failed(why) => {
                    self.model.running = self.model.running.saturating_sub(1);
                    self.model
                        .set_status(Tone::Bad, format!("{label} failed: {why}"));
                    let _ = self.poke.send(());
                }
            },
        }
    }

    fn start_job(&mut self, job: model::Job) {
        self.model.running += 1;
        self.model.set_status(Tone::Busy, format!("{}…", job.label));
        let tx = self.tx.clone();
        let label = job.label.clone();
        action::spawn(self.exe.clone(), self.file.clone(), job, move |ev| {
            let _ = tx.send(Event::Job(label.clone(), ev));
        });
    }

    /// Points the console pane at the selected instance, (re)connecting its feed when the
    /// selection or its holder changed.
    fn sync_console(&mut self) {
        let target = self
            .model
            .selected_row()
            .map(|r| (r.name.clone(), r.role.clone(), r.holder_pid));
        let Some((name, role, holder)) = target else {
            self.feed = None;
            self.model.console = None;
            return;
        };
        let same = self.model.console.as_ref().is_some_and(|c| c.name == name);
        if !same {
            let (rows, cols) = self
                .plan
                .role(&role)
                .map(|r| (r.supervise.console_rows, r.supervise.console_cols))
                .unwrap_or((50, 200));
            self.model.console = Some(ConsoleView::new(&name, rows, cols));
            self.model.scroll = 0;
            self.connect_feed(&name, holder);
            return;
        }
        let retry =
            self.feed.is_none() && self.feed_ended.is_none_or(|t| t.elapsed() >= FEED_RETRY);
        if holder != self.feed_holder || (holder.is_some() && retry) {
            self.connect_feed(&name, holder);
        }
    }

    fn connect_feed(&mut self, name: &str, holder: Option<u32>) {
        self.feed_gen += 1;
        self.feed = None;
        self.feed_holder = holder;
        self.feed_ended = None;
        let Some(view) = self.model.console.as_mut() else {
            return;
        };
        if holder.is_none() {
            view.connected = false;
            view.note = "not running".into();
            // Nothing to retry until a holder shows up.
            self.feed_ended = Some(Instant::now());
            return;
        }
        view.note = "connecting".into();
        let gen = self.feed_gen;
        let tx = self.tx.clone();
        let socket = self.plan.sockets_dir().join(name);
        self.feed = Some(console::spawn_feed(socket, move |ev| {
            tx.send(Event::Feed(gen, ev)).is_ok()
        }));
    }

    /// Full-screen attach; the dashboard comes back when the operator detaches.
    fn attach(&mut self, guard: &TerminalGuard, name: &str) {
        let socket = self.plan.sockets_dir().join(name);
        guard.suspend();
        let opts = AttachOptions {
            quiet_end: true,
            ..AttachOptions::default()
        };
        let result = attach::attach(&socket, name, &opts);
        if let Err(e) = guard.resume() {
            self.model
                .set_status(Tone::Bad, format!("cannot take the terminal back: {e}"));
        }
        match result {
            Ok(AttachEnd::Detached) => self
                .model
                .set_status(Tone::Good, format!("detached from {name} (still running)")),
            Ok(AttachEnd::HolderClosed) => self
                .model
                .set_status(Tone::Info, format!("{name} stopped; attach ended")),
            Ok(AttachEnd::Disconnected(why)) => {
                self.model.set_status(Tone::Bad, format!("{name}: {why}"))
            }
            Err(e) => self
                .model
                .set_status(Tone::Bad, format!("attach to {name} failed to {e}")),
        }
        // The holder resized the console for the attach: start from a fresh replay.
        self.feed_holder = None;
        self.feed = None;
        self.feed_ended = None;
        let _ = self.poke.send(());
    }
}
