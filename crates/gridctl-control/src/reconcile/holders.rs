//! One copy's operations through its holder: find, start, wait for, restart, stop, retire.
//!
//! These act; they never decide. Instances are found through their holders' sockets,
//! never through memory of a previous run, so every command is safe to re-run after any
//! interruption.

use crate::client::{clean_stale, probe_holder, HolderClient, HolderPresence};
pub use crate::parallel::{
    par_for_each, par_for_each_watched, par_map, unwatched, Change, Update, PARALLEL,
    PARALLEL_STOPS,
};
use gridctl_config::plan::{InstancePlan, Plan};
use gridctl_holder::holder;
use gridctl_wire::protocol::{InstanceState, InstanceStatus};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What happened to one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Started,
    Unchanged,
    /// Nothing to stop: the copy was not running.
    AlreadyStopped,
    Restarted,
    Stopped,
    Failed(String),
}

/// The result of waiting for an instance.
#[derive(Debug, Clone)]
pub struct Settled {
    pub name: String,
    pub state: InstanceState,
    pub detail: String,
    pub took: Duration,
}

pub fn socket_of(plan: &Plan, inst: &InstancePlan) -> PathBuf {
    plan.sockets_dir().join(&inst.name)
}

pub fn spec_path(inst: &InstancePlan) -> PathBuf {
    inst.dir.join("holder.json")
}

pub fn holder_pid_file(inst: &InstancePlan) -> PathBuf {
    inst.dir.join("holder.pid")
}

/// The presence of an instance's holder (socket + pid file), cleaning a dead one's files.
pub fn presence(plan: &Plan, inst: &InstancePlan) -> HolderPresence {
    let socket = socket_of(plan, inst);
    let pid = holder_pid_file(inst);
    match probe_holder(&socket, &pid) {
        HolderPresence::Stale => {
            let _ = clean_stale(&socket, &pid);
            HolderPresence::Absent
        }
        other => other,
    }
}

/// Starts a holder for `inst` (its spec must be rendered).
pub fn start(inst: &InstancePlan) -> Result<u32, String> {
    holder::launch(&spec_path(inst)).map_err(|e| format!("failed to {e}"))
}

/// Polls the holder until the instance leaves `starting` (or `deadline` passes);
/// `changed` hears every new (state, detail) on the way.
pub fn wait_settled(
    plan: &Plan,
    inst: &InstancePlan,
    deadline: Duration,
    changed: Change,
) -> Settled {
    let socket = socket_of(plan, inst);
    let start = Instant::now();
    let mut last = (InstanceState::Starting, String::new());
    let mut told = Instant::now();
    let mut started_at_ms = None;
    // One connection for all the polls (a holder serves many requests after one Hello).
    let mut conn: Option<HolderClient> = None;
    while start.elapsed() < deadline {
        let answer = match conn.as_mut() {
            Some(c) => Some(c.status()),
            // Greeting and first question in one round trip.
            None => match HolderClient::connect_for_status(&socket, Duration::from_secs(2)) {
                Ok((c, status)) => {
                    conn = Some(c);
                    Some(status)
                }
                Err(_) => None,
            },
        };
        match answer {
            Some(Ok(s)) => {
                // Only the states a wait goes through: how it ends is the caller's report.
                let waiting = matches!(
                    s.state,
                    InstanceState::Starting | InstanceState::Backoff | InstanceState::Stopping
                );
                let new = (s.state, s.detail.as_str()) != (last.0, last.1.as_str());
                if waiting && (new || told.elapsed() >= RETELL) {
                    changed(s.state, &s.detail);
                    told = Instant::now();
                }
                last = (s.state, s.detail.clone());
                started_at_ms = s.started_at_ms;
                if !matches!(
                    s.state,
                    InstanceState::Starting | InstanceState::Backoff | InstanceState::Stopping
                ) {
                    break;
                }
            }
            Some(Err(_)) => conn = None,
            None if !socket.exists() => {
                last = (InstanceState::Stopped, "holder exited".into());
                break;
            }
            None => {}
        }
        // Readiness is a state of the holder, not an event it pushes: poll briefly.
        std::thread::sleep(Duration::from_millis(20));
    }
    if last.0 == InstanceState::Starting && start.elapsed() >= deadline {
        last.1 = format!("not ready after {} s", deadline.as_secs());
    }
    // Report the child's own start-to-settled time when the holder knows its start.
    let took = started_at_ms
        .map(|t| Duration::from_millis(crate::status::now_ms().saturating_sub(t)))
        .unwrap_or_else(|| start.elapsed());
    Settled {
        name: inst.name.clone(),
        state: last.0,
        detail: last.1,
        took,
    }
}

/// A wait that goes on is told again this often even when nothing changed, so plain
/// output of a slow start or stop is never silent for long.
const RETELL: Duration = Duration::from_secs(2);

/// How often a long request's copy is asked what it is doing (stop phases are seconds apart).
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Runs `work` (a long request: stop, restart) while a second connection asks the
/// holder what it is doing, so `changed` hears `shutdown sent`, `SIGINT after 10s`, …
pub fn watched<R: Send>(
    plan: &Plan,
    inst: &InstancePlan,
    changed: Change,
    work: impl FnOnce() -> R + Send,
) -> R {
    let done = std::sync::atomic::AtomicBool::new(false);
    let watcher = std::thread::current();
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = work();
            done.store(true, Ordering::Release);
            // The watcher sleeps between questions: wake it, the step is over.
            watcher.unpark();
            r
        });
        let socket = socket_of(plan, inst);
        let mut conn: Option<HolderClient> = None;
        let mut last: Option<(InstanceState, String)> = None;
        let mut told = Instant::now();
        while !done.load(Ordering::Acquire) {
            std::thread::park_timeout(WATCH_EVERY);
            if done.load(Ordering::Acquire) {
                break;
            }
            let answer = match conn.as_mut() {
                Some(c) => c.status().ok(),
                None => HolderClient::connect_for_status(&socket, Duration::from_secs(1))
                    .ok()
                    .map(|(c, st)| {
                        conn = Some(c);
                        st
                    })
                    .and_then(Result::ok),
            };
            match answer {
                Some(st)
                    if last.as_ref() != Some(&(st.state, st.detail.clone()))
                        || told.elapsed() >= RETELL =>
                {
                    changed(st.state, &st.detail);
                    told = Instant::now();
                    last = Some((st.state, st.detail));
                }
                Some(_) => {}
                None => conn = None,
            }
        }
        match worker.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Stops one instance gracefully (console `shutdown`, then signals); the holder exits.
pub fn stop(plan: &Plan, inst: &InstancePlan) -> Action {
    match presence(plan, inst) {
        HolderPresence::Absent => Action::Unchanged,
        HolderPresence::Unresponsive => {
            Action::Failed("holder does not answer on its socket".into())
        }
        HolderPresence::Alive(_) | HolderPresence::Stale => {
            match HolderClient::connect(&socket_of(plan, inst), Duration::from_secs(5))
                .and_then(|c| c.stop())
            {
                Ok(_) => Action::Stopped,
                Err(e) => Action::Failed(format!("failed to {e}")),
            }
        }
    }
}

/// Restarts one instance through its holder (re-reading its spec), or starts it.
pub fn restart(plan: &Plan, inst: &InstancePlan) -> Action {
    match presence(plan, inst) {
        HolderPresence::Absent => match start(inst) {
            Ok(_) => Action::Started,
            Err(e) => Action::Failed(e),
        },
        HolderPresence::Unresponsive => {
            Action::Failed("holder does not answer on its socket".into())
        }
        HolderPresence::Alive(_) | HolderPresence::Stale => {
            match HolderClient::connect(&socket_of(plan, inst), Duration::from_secs(5))
                .and_then(|mut c| c.restart())
            {
                Ok(_) => Action::Restarted,
                // A holder started by an older gridctl cannot read a spec with fields it
                // does not know (e.g. `on_health_change`): replace it, stop then start.
                Err(e) if e.to_string().contains("unknown field") => match stop(plan, inst) {
                    Action::Failed(why) => Action::Failed(why),
                    _ => match start(inst) {
                        Ok(_) => Action::Restarted,
                        Err(e) => Action::Failed(e),
                    },
                },
                Err(e) => Action::Failed(format!("failed to {e}")),
            }
        }
    }
}

/// An instance the state dir knows but the plan no longer declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeclared {
    pub name: String,
    pub socket: PathBuf,
    pub pid_file: PathBuf,
    /// Its holder still runs (it must be drained and stopped before it is retired).
    pub running: bool,
}

/// Instances with a directory in the state dir that the plan no longer declares:
/// running ones, and the leftovers of copies stopped before they were retired.
pub fn undeclared(plan: &Plan) -> Vec<Undeclared> {
    let Ok(entries) = std::fs::read_dir(plan.state_dir.join("instances")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if plan.instance(&name).is_some() || !e.path().is_dir() {
            continue;
        }
        let socket = plan.sockets_dir().join(&name);
        let pid_file = e.path().join("holder.pid");
        let running = !matches!(
            probe_holder(&socket, &pid_file),
            HolderPresence::Absent | HolderPresence::Stale
        );
        out.push(Undeclared {
            name,
            socket,
            pid_file,
            running,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Where the logs of a retired instance are kept: `<state>/retired/<name>/`.
pub fn retired_dir(plan: &Plan, name: &str) -> PathBuf {
    plan.state_dir.join("retired").join(name)
}

/// Whether a file of an instance dir is a log worth keeping (`console.log`,
/// `holder.log`, `robust.log`, `robust-stats.log` and their rotations).
fn is_log(file_name: &str) -> bool {
    file_name.ends_with(".log") || file_name.contains(".log.")
}

/// Retires a stopped instance the plan no longer declares: its logs move to
/// [`retired_dir`] (replacing those of an earlier retirement of the same name), its
/// rendered tree and runtime files are removed, and so is its socket. A later copy of
/// the same name then starts from a fresh directory. Returns where the logs are.
///
/// Refused while its holder still runs: the holder owns those files until it exits.
pub fn retire(plan: &Plan, name: &str) -> Result<PathBuf, String> {
    let dir = plan.state_dir.join("instances").join(name);
    let socket = plan.sockets_dir().join(name);
    let pid_file = dir.join("holder.pid");
    // A stopped holder removes its socket and pid file as it exits: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match probe_holder(&socket, &pid_file) {
            HolderPresence::Absent => break,
            HolderPresence::Stale => {
                clean_stale(&socket, &pid_file)
                    .map_err(|e| format!("cannot remove its stale socket: {e}"))?;
                break;
            }
            _ if Instant::now() >= deadline => {
                return Err("its holder still runs; its directory is kept".into())
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let keep = retired_dir(plan, name);
    let io =
        |what: &str, p: &Path, e: std::io::Error| format!("cannot {what} {}: {e}", p.display());
    if keep.exists() {
        std::fs::remove_dir_all(&keep).map_err(|e| io("replace", &keep, e))?;
    }
    gridctl_config::render::ensure_private_dir(&keep).map_err(|e| io("create", &keep, e))?;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let file_name = e.file_name().to_string_lossy().into_owned();
            if is_log(&file_name) && e.path().is_file() {
                // A rename keeps the inode: nothing is copied, nothing half-written.
                std::fs::rename(e.path(), keep.join(&file_name))
                    .map_err(|err| io("keep", &e.path(), err))?;
            }
        }
    }
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove", &dir, e)),
    }
    match std::fs::remove_file(&socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove", &socket, e)),
    }
    Ok(keep)
}

/// Stops a holder by socket (for instances no longer in the plan).
pub fn stop_socket(socket: &Path) -> Result<(), String> {
    HolderClient::connect(socket, Duration::from_secs(5))
        .and_then(|c| c.stop())
        .map(|_| ())
        .map_err(|e| format!("failed to {e}"))
}

/// Status of every instance: the holder's answer, or `stopped` when there is none.
pub fn statuses(plan: &Plan) -> Vec<(String, Option<InstanceStatus>, Option<String>)> {
    par_map(&plan.start_order(), PARALLEL, |inst| {
        let socket = socket_of(plan, inst);
        match probe_holder(&socket, &holder_pid_file(inst)) {
            HolderPresence::Alive(st) => (inst.name.clone(), Some(st), None),
            HolderPresence::Absent => (inst.name.clone(), None, None),
            HolderPresence::Stale => (
                inst.name.clone(),
                None,
                Some("holder gone (stale files)".to_string()),
            ),
            HolderPresence::Unresponsive => (
                inst.name.clone(),
                None,
                Some("holder does not answer".to_string()),
            ),
        }
    })
}
