//! One step of a reconcile: what is done to which copy (or to nginx), and why.

use gridctl_wire::protocol::InstanceState;
use std::fmt;

/// What a step does. Copies are named; the executor finds them in the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    /// Write the rendered instance trees of the whole plan (only files whose text changed).
    Render,
    /// Leave a running copy as it is.
    Keep { instance: String },
    /// A copy whose holder does not answer: nothing can be done to it.
    Unreachable { instance: String },
    /// Start a copy's holder.
    Start { instance: String },
    /// Start several copies' holders at once.
    StartTogether { instances: Vec<String> },
    /// Stop several copies at once (the copies of one dependency rank).
    StopTogether { instances: Vec<String> },
    /// Wait until the copy leaves `starting` (ready, degraded, crashed, or the deadline).
    WaitReady { instance: String },
    /// Restart a copy through its holder (it re-reads its spec).
    Restart { instance: String },
    /// Stop a declared copy gracefully.
    Stop { instance: String },
    /// Stop a copy the plan no longer declares, through its socket.
    StopUndeclared { instance: String },
    /// Mark the copy `down` in its upstream (takes effect at the next reload).
    Leave { instance: String },
    /// Put the copy in its upstream if this run saw it ready, out otherwise (next reload).
    Join { instance: String },
    /// Take a stopped copy out of its upstream (next reload); one that failed to stop stays marked down.
    Drop { instance: String },
    /// Record the copy out of its upstream now, without a render (nothing routed changes).
    KeepOut { instance: String },
    /// A copy that is not in its upstream is restarted without a reload or drain.
    NothingToDrain { instance: String },
    /// Render nginx with the membership changes since the last reload; reload if routing changed.
    /// `best_effort`: a refused config is a warning and the run goes on (`down` must stop
    /// the grid even with a broken nginx).
    Reload {
        note: Option<String>,
        best_effort: bool,
    },
    /// Wait the drain period, when the reload before took copies out.
    Drain,
    /// Move a stopped, undeclared copy's logs aside and remove its tree.
    Retire { instance: String },
    /// Write the tree of a temporary extra copy of `beside`'s role, record it out of its
    /// upstream and start it (a surge: the role keeps a serving copy while `beside`
    /// restarts). A failure removes it again and ends the run, `beside` untouched.
    SurgeStart { instance: String, beside: String },
    /// Wait until the surge copy is ready; if it is not, stop and remove it, and end the
    /// run with `beside` still serving.
    SurgeReady { instance: String },
    /// Render nginx from grid.toml alone: the stopped surge copy leaves the config (no
    /// reload: it was `down` already). One that failed to stop stays marked down.
    Unlist { instance: String },
    /// Say, before acting, that a copy restarts where it is, listed in nginx throughout
    /// (no reload, no drain: the shortest outage for a role that must run as one copy).
    InPlace { instance: String },
}

/// Why a step is in the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "why", content = "detail", rename_all = "snake_case")]
pub enum Reason {
    /// The plan's trees are written before anything starts.
    Declared,
    NotRunning,
    /// The rendered config differs from the one the copy runs (files that differ on disk).
    ConfigChanged(Vec<String>),
    Unchanged,
    /// Running with the wanted config but not ready (an interrupted `up`, degraded, …).
    NotReady(String),
    Crashed(String),
    HolderSilent,
    Undeclared,
    ScaledAway,
    ScaledUp,
    OperatorRestart,
    OperatorDown,
    /// A first copy runs its role's migrations: its siblings wait for it.
    FirstCopy,
    /// Started by this run; waited for (`--wait`, or nginx in front).
    JustStarted,
    /// nginx membership follows what this run did.
    Routing,
    /// Requests already sent to the copies marked down finish.
    InFlight,
    Stopping,
    /// Stopped copies leave nginx; one that would not stop stays marked down.
    Stopped,
    /// The copy named is its role's only serving copy: a temporary extra one serves
    /// while it restarts.
    Surge(String),
    /// The temporary extra copy goes once the restarted one is back: the role ends as declared.
    SurgeDone,
    /// Why the role gets no second copy (`presence cache: a role of one copy`): the
    /// copy restarts in place and requests fail meanwhile.
    OneCopy(String),
    /// A simulator starts once the Robust side it calls is up (and in nginx).
    AfterRobust,
    /// A simulator is one process: its regions are offline while it restarts.
    Simulator,
}

impl Reason {
    /// The reason for a copy found running with the wanted config in `state`.
    pub fn for_state(state: InstanceState) -> Reason {
        match state {
            InstanceState::Backoff | InstanceState::CrashLoop => {
                Reason::Crashed(state.as_str().to_string())
            }
            _ => Reason::NotReady(state.as_str().to_string()),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Declared => write!(f, "the plan's config"),
            Reason::NotRunning => write!(f, "not running"),
            Reason::ConfigChanged(files) if files.is_empty() => {
                write!(
                    f,
                    "config changed (the tree on disk is already the new one)"
                )
            }
            Reason::ConfigChanged(files) => {
                // holder.json holds what the copy runs with (command line, environment).
                let named: Vec<String> = files
                    .iter()
                    .map(|f| match f.as_str() {
                        "holder.json" => "holder.json (command line or environment)".to_string(),
                        other => other.to_string(),
                    })
                    .collect();
                write!(f, "config changed: {}", named.join(", "))
            }
            Reason::Unchanged => write!(f, "running, config unchanged"),
            Reason::NotReady(state) => write!(f, "running but {state}"),
            Reason::Crashed(state) => write!(f, "crashed ({state})"),
            Reason::HolderSilent => write!(f, "holder does not answer on its socket"),
            Reason::Undeclared => write!(f, "undeclared (no longer in grid.toml)"),
            Reason::ScaledAway => write!(f, "scaled away"),
            Reason::ScaledUp => write!(f, "scaled up"),
            Reason::OperatorRestart => write!(f, "operator restart"),
            Reason::OperatorDown => write!(f, "operator down"),
            Reason::FirstCopy => write!(f, "first copy: its siblings wait for its migrations"),
            Reason::JustStarted => write!(f, "started by this run"),
            Reason::Routing => write!(f, "in once ready, out otherwise"),
            Reason::InFlight => write!(f, "requests already sent finish"),
            Reason::Stopping => write!(f, "out before it stops"),
            Reason::Stopped => write!(f, "stopped copies out, any other stays marked down"),
            Reason::Surge(copy) => write!(
                f,
                "{copy} is its role's only serving copy: a temporary second one serves while it restarts"
            ),
            Reason::SurgeDone => write!(f, "the temporary copy goes: the role runs as declared"),
            Reason::OneCopy(why) => write!(f, "{why}; requests in the meantime fail"),
            Reason::AfterRobust => write!(f, "a simulator starts once the Robust roles are up"),
            Reason::Simulator => write!(
                f,
                "a simulator is one process: its regions are offline while it restarts"
            ),
        }
    }
}

/// One entry of the ordered list the diff produces and the executor runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub reason: Reason,
    /// A failure here ends the run (a roll: the copy stays out, nothing more is touched).
    pub halts: bool,
}

impl Step {
    pub fn new(action: Action, reason: Reason) -> Step {
        Step {
            action,
            reason,
            halts: false,
        }
    }

    pub fn halting(action: Action, reason: Reason) -> Step {
        Step {
            action,
            reason,
            halts: true,
        }
    }

    /// The copy this step is about, if one.
    pub fn instance(&self) -> Option<&str> {
        match &self.action {
            Action::Keep { instance }
            | Action::Unreachable { instance }
            | Action::Start { instance }
            | Action::WaitReady { instance }
            | Action::Restart { instance }
            | Action::Stop { instance }
            | Action::StopUndeclared { instance }
            | Action::Leave { instance }
            | Action::Join { instance }
            | Action::Drop { instance }
            | Action::KeepOut { instance }
            | Action::NothingToDrain { instance }
            | Action::Retire { instance }
            | Action::SurgeStart { instance, .. }
            | Action::SurgeReady { instance }
            | Action::Unlist { instance }
            | Action::InPlace { instance } => Some(instance),
            Action::Render
            | Action::StartTogether { .. }
            | Action::StopTogether { .. }
            | Action::Reload { .. }
            | Action::Drain => None,
        }
    }
}

impl Action {
    /// A short name for the kind of step (`start`, `wait_ready`, `reload`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Render => "render",
            Action::Keep { .. } => "keep",
            Action::Unreachable { .. } => "unreachable",
            Action::Start { .. } | Action::StartTogether { .. } => "start",
            Action::WaitReady { .. } => "wait_ready",
            Action::Restart { .. } => "restart",
            Action::Stop { .. } | Action::StopTogether { .. } => "stop",
            Action::StopUndeclared { .. } => "stop_undeclared",
            Action::Leave { .. } => "leave",
            Action::Join { .. } => "join",
            Action::Drop { .. } => "drop",
            Action::KeepOut { .. } => "keep_out",
            Action::NothingToDrain { .. } => "no_drain",
            Action::Reload { .. } => "reload",
            Action::Drain => "drain",
            Action::Retire { .. } => "retire",
            Action::SurgeStart { .. } => "surge_start",
            Action::SurgeReady { .. } => "surge_ready",
            Action::Unlist { .. } => "unlist",
            Action::InPlace { .. } => "in_place",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Render => write!(f, "write the instance trees (changed files only)"),
            Action::Keep { instance } => write!(f, "keep {instance}"),
            Action::Unreachable { instance } => write!(f, "cannot reach {instance}"),
            Action::Start { instance } => write!(f, "start {instance}"),
            Action::StartTogether { instances } => {
                write!(f, "start together {}", instances.join(", "))
            }
            Action::StopTogether { instances } => {
                write!(f, "stop together {}", instances.join(", "))
            }
            Action::WaitReady { instance } => write!(f, "wait until {instance} is ready"),
            Action::Restart { instance } => write!(f, "restart {instance}"),
            Action::Stop { instance } => write!(f, "stop {instance}"),
            Action::StopUndeclared { instance } => write!(f, "stop {instance} (undeclared)"),
            Action::Leave { instance } => write!(f, "{instance} leaves its upstream"),
            Action::Join { instance } => write!(f, "{instance} joins its upstream"),
            Action::Drop { instance } => write!(f, "{instance} leaves its upstream once stopped"),
            Action::KeepOut { instance } => write!(f, "{instance} is recorded out of its upstream"),
            Action::NothingToDrain { instance } => {
                write!(f, "{instance} is not in its upstream: no drain")
            }
            Action::Reload { .. } => write!(f, "nginx: render, reload if routing changed"),
            Action::Drain => write!(f, "drain"),
            Action::Retire { instance } => write!(f, "retire {instance}"),
            Action::SurgeStart { instance, beside } => write!(
                f,
                "start {instance} beside {beside} (temporary; out of its upstream until ready)"
            ),
            Action::SurgeReady { instance } => write!(
                f,
                "wait until {instance} is ready (if not: stopped, removed, the roll ends)"
            ),
            Action::Unlist { instance } => {
                write!(f, "{instance} leaves the nginx config (not in grid.toml)")
            }
            Action::InPlace { instance } => {
                write!(
                    f,
                    "{instance} restarts in place, listed in nginx throughout"
                )
            }
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} — {}", self.action, self.reason)
    }
}
