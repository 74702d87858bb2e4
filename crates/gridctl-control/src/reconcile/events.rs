//! What the executor reports as it runs a step: the printer, `--json` and a progress display read these.

use super::holders::Action as Done;
use crate::nginx::Applied;
use gridctl_wire::protocol::InstanceState;
use std::path::PathBuf;
use std::time::Duration;

/// One thing that happened, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Index of the step in the list the executor ran.
    pub step: usize,
    /// The step's kind (`start`, `wait_ready`, `reload`, …).
    pub phase: &'static str,
    pub instance: Option<String>,
    /// Since the command started.
    pub elapsed: Duration,
    pub outcome: Outcome,
    /// Why the step acts on this copy, when the operator did not say so themselves
    /// (`config changed: includes/local/asset.ini`): a restart `up` decided on.
    pub why: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A copy was started, left alone, restarted, stopped — or that failed.
    Acted(Done),
    /// A wait ended: the state the copy settled in, and how long its start took.
    Settled {
        state: InstanceState,
        detail: String,
        took: Duration,
    },
    /// nginx was rendered with these membership changes (`note` says which).
    Nginx {
        applied: Applied,
        note: String,
    },
    /// nginx refused the config; a `warning` when the step was best effort.
    NginxFailed {
        why: String,
        warning: bool,
    },
    /// A copy not in its upstream is restarted without a drain.
    NothingToDrain,
    /// The drain period was waited (or skipped: the reload took nothing out).
    Drained {
        waited: bool,
    },
    /// A membership change was queued for the next reload.
    Queued,
    Rendered,
    Retired {
        logs: PathBuf,
    },
    RetireFailed(String),
    /// Not run: an earlier step ended the run.
    Skipped,
    /// Said before acting: the copy restarts in place, listed in nginx, and requests
    /// fail until it is back (why it gets no second copy).
    InPlace(String),
    /// A step that takes a while began on this copy (start, wait, restart, stop): a live
    /// display opens its line for it.
    Began,
    /// While a step waits on a copy: the holder's state and detail, each time they change
    /// (`starting` / `services loaded 7/13`, `stopping` / `shutdown sent`).
    Waiting {
        state: InstanceState,
        detail: String,
    },
}

/// Where a command's events go: the plain printer, `--json`, or a live display the
/// CLI provides. Called in order, from the thread that runs the steps.
pub trait Sink {
    fn event(&mut self, e: &Event);
    /// The run is over (success or not): a live display clears its lines.
    fn finish(&mut self) {}
}

/// Whether a holder's stop detail is an escalation an operator must always see.
pub fn is_escalation(detail: &str) -> bool {
    ["SIGINT", "SIGTERM", "SIGKILL", "timed out", "did not"]
        .iter()
        .any(|w| detail.contains(w))
}

impl Outcome {
    /// Whether this outcome is a failure of its step.
    pub fn failed(&self) -> bool {
        match self {
            Outcome::Acted(Done::Failed(_))
            | Outcome::NginxFailed { .. }
            | Outcome::RetireFailed(_) => true,
            Outcome::Settled { state, .. } => *state != InstanceState::Ready,
            _ => false,
        }
    }
}
