//! The printer: events as progress lines (`[  0.01s] asset-1: started`), and steps as a `--dry-run` listing.

use super::events::{is_escalation, Event, Outcome, Sink};
use super::holders::Action as Done;
use super::step::Step;
use crate::nginx::Applied;
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

/// The line for an nginx render, or none when nginx is not managed or nothing changed.
pub fn nginx_line(applied: &Applied, what: &str) -> Option<String> {
    match applied {
        Applied::NotManaged | Applied::Unchanged => None,
        Applied::Reloaded | Applied::Refreshed => Some(format!("         nginx: {what}; reloaded")),
        Applied::Quiet => Some(format!(
            "         nginx: {what}; config written, no reload needed"
        )),
        Applied::Written | Applied::Tested => Some(format!(
            "         nginx: {what}; config written (no reload_command)"
        )),
    }
}

/// Writes `text` to stdout. A closed stdout (`gridctl up | head`) must not stop a
/// command halfway through the grid: the line is dropped, the steps go on.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|_| o.flush());
}

/// The closing line of a command that drove nginx: how many reloads it cost.
pub fn note_reloads(plan: &gridctl_config::plan::Plan) {
    if plan.nginx.is_some() {
        out(&format!(
            "nginx: reloaded {} time(s)\n",
            crate::nginx::reloads_done()
        ));
    }
}

/// The progress line of one event (none for events that only feed a display).
pub fn line(e: &Event) -> Option<String> {
    let t = e.elapsed.as_secs_f64();
    let name = e.instance.as_deref().unwrap_or("");
    match &e.outcome {
        // Copies the plan no longer has say so.
        Outcome::Acted(done) if e.phase == "stop_undeclared" => Some(match done {
            Done::Failed(why) => format!("[{t:6.2}s] {name}: FAILED: {why}"),
            _ => format!("[{t:6.2}s] {name}: stopped (undeclared)"),
        }),
        // The temporary extra copy of a role of one copy says what it is.
        Outcome::Acted(Done::Started) if e.phase == "surge_start" => Some(format!(
            "[{t:6.2}s] {name}: started (temporary copy: serves while its role's only copy restarts)"
        )),
        Outcome::Acted(done) => Some(match done {
            Done::Started => format!("[{t:6.2}s] {name}: started"),
            // Nothing to stop: say so, `unchanged` reads as if it were still running.
            Done::AlreadyStopped => format!("[{t:6.2}s] {name}: already stopped"),
            Done::Unchanged if e.phase.starts_with("stop") => {
                format!("[{t:6.2}s] {name}: already stopped")
            }
            Done::Unchanged => format!("[{t:6.2}s] {name}: unchanged"),
            Done::Restarted => match &e.why {
                Some(why) => format!("[{t:6.2}s] {name}: restarted ({why})"),
                None => format!("[{t:6.2}s] {name}: restarted"),
            },
            Done::Stopped => format!("[{t:6.2}s] {name}: stopped"),
            Done::Failed(why) => format!("[{t:6.2}s] {name}: FAILED: {why}"),
        }),
        Outcome::Settled {
            state,
            detail,
            took,
        } => {
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            };
            Some(format!(
                "[{t:6.2}s] {name}: {} {} after {}{detail}",
                crate::status::symbol(state.as_str()),
                state.as_str(),
                gridctl_wire::human::duration(*took)
            ))
        }
        Outcome::Nginx { applied, note } => nginx_line(applied, note),
        Outcome::InPlace(why) => Some(format!(
            "[{t:6.2}s] {name}: restarted in place ({why}); requests in the meantime fail"
        )),
        Outcome::NothingToDrain => Some(format!(
            "         nginx: {name} is not in its upstream; nothing to drain"
        )),
        Outcome::Retired { logs } => Some(format!(
            "{name} retired: config removed, logs kept in {} (`gridctl logs {name}`)",
            logs.display()
        )),
        Outcome::NginxFailed { .. }
        | Outcome::RetireFailed(_)
        | Outcome::Drained { .. }
        | Outcome::Queued
        | Outcome::Rendered
        | Outcome::Skipped
        | Outcome::Began => None,
        Outcome::Waiting { state, detail } => Some(format!(
            "[{t:6.2}s] {name}: {} {}{}",
            crate::status::symbol(state.as_str()),
            state.as_str(),
            if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            }
        )),
    }
}

/// How long a wait goes before plain output reports it, and how often after that: a
/// fast start prints nothing extra, a slow one is never silent for long.
const QUIET_WAIT: Duration = Duration::from_secs(2);
const REPEAT_WAIT: Duration = Duration::from_secs(5);

/// The printer for output that is not a terminal (or `--no-progress`): timestamped
/// lines; waits show up only once they last, escalations always.
#[derive(Default)]
pub struct Lines {
    began: HashMap<String, Duration>,
    shown: HashMap<String, Duration>,
    escalations: Escalations,
}

impl Sink for Lines {
    fn event(&mut self, e: &Event) {
        let name = e.instance.clone().unwrap_or_default();
        match &e.outcome {
            Outcome::Began => {
                self.began.insert(name.clone(), e.elapsed);
                self.shown.remove(&name);
            }
            Outcome::Waiting { detail, .. } => {
                let since = self.began.get(&name).copied().unwrap_or_default();
                let last = self.shown.get(&name).copied();
                let due = e.elapsed.saturating_sub(since) >= QUIET_WAIT
                    && last.is_none_or(|l| e.elapsed.saturating_sub(l) >= REPEAT_WAIT);
                if self.escalations.is_new(&name, detail) || due {
                    self.shown.insert(name, e.elapsed);
                    print(e);
                }
            }
            _ => print(e),
        }
    }
}

/// The escalations already told, per copy: each is printed once, when it happens
/// (a wait that goes on repeats its detail; the output must not).
#[derive(Default)]
pub struct Escalations(HashMap<String, String>);

impl Escalations {
    /// Whether `detail` is an escalation of `name` not told before (and now it is).
    pub fn is_new(&mut self, name: &str, detail: &str) -> bool {
        if !is_escalation(detail) || self.0.get(name).is_some_and(|d| d == detail) {
            return false;
        }
        self.0.insert(name.to_string(), detail.to_string());
        true
    }
}

/// `--quiet`: nothing on stdout; a failure or an escalation still goes to stderr.
#[derive(Default)]
pub struct Quiet {
    escalations: Escalations,
}

impl Sink for Quiet {
    fn event(&mut self, e: &Event) {
        let name = e.instance.as_deref().unwrap_or("");
        let loud = e.outcome.failed()
            || matches!(&e.outcome, Outcome::Waiting { detail, .. } if self.escalations.is_new(name, detail));
        if loud {
            if let Some(l) = line(e) {
                let _ = writeln!(std::io::stderr().lock(), "{l}");
            }
        }
    }
}

/// `--json`: one object per event.
pub struct Json;

impl Sink for Json {
    fn event(&mut self, e: &Event) {
        out(&format!("{}\n", super::json::event(e)));
    }
}

/// Prints events as they come: progress on stdout, a best-effort nginx refusal as a
/// warning on stderr (failures that end the run, and failed retirements, are in the
/// report the caller closes with).
pub fn print(e: &Event) {
    if let Some(l) = line(e) {
        out(&format!("{l}\n"));
    }
    use gridctl_config::diagnostic::Diagnostic;
    let problem = match &e.outcome {
        Outcome::NginxFailed { why, warning: true } => Some(Diagnostic::warning(why.clone())),
        // A refusal that ends the run is in the report the command closes with.
        _ => None,
    };
    if let Some(d) = problem {
        let _ = writeln!(std::io::stderr().lock(), "{d}\n");
    }
}

/// The `--dry-run` listing: one numbered line per step with its reason.
pub fn steps(steps: &[Step]) -> String {
    let width = steps
        .iter()
        .map(|s| s.action.to_string().chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        let action = s.action.to_string();
        let pad = width.saturating_sub(action.chars().count());
        out.push_str(&format!(
            "{:>3}. {action}{}  # {}{}\n",
            i + 1,
            " ".repeat(pad),
            s.reason,
            if s.halts {
                " (a failure stops here)"
            } else {
                ""
            }
        ));
    }
    out
}

#[cfg(test)]
mod escalation_tests {
    use super::Escalations;

    #[test]
    fn each_escalation_is_told_once_per_copy() {
        let mut told = Escalations::default();
        assert!(!told.is_new("inv-1", "stop requested: shutdown sent"));
        assert!(told.is_new("inv-1", "stop requested: SIGINT after 10s"));
        assert!(!told.is_new("inv-1", "stop requested: SIGINT after 10s"));
        assert!(told.is_new("inv-2", "stop requested: SIGINT after 10s"));
        assert!(told.is_new("inv-1", "stop requested: SIGTERM after 20s"));
    }
}
