//! The `--json` consumer: steps and events as JSON lines (one object per line, in order).

use super::events::{Event, Outcome};
use super::execute::Report;
use super::holders::Action as Done;
use super::step::Step;
use serde_json::{json, Value};

/// One line per step: what (`do`, `instance`), why (`reason`), whether a failure halts,
/// and the same in words (`text`).
pub fn steps(steps: &[Step]) -> String {
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("step".into(), json!(i + 1));
            m.insert("text".into(), json!(s.to_string()));
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// One line per event: step number, phase, instance, seconds since the start, outcome.
pub fn event(e: &Event) -> String {
    let (outcome, detail) = outcome(&e.outcome);
    json!({
        "step": e.step + 1,
        "phase": e.phase,
        "instance": e.instance,
        "elapsed_s": e.elapsed.as_secs_f64(),
        "outcome": outcome,
        "detail": detail,
        "why": e.why,
    })
    .to_string()
}

fn outcome(o: &Outcome) -> (&'static str, Value) {
    match o {
        Outcome::Acted(Done::Started) => ("started", Value::Null),
        Outcome::Acted(Done::Unchanged) => ("unchanged", Value::Null),
        Outcome::Acted(Done::AlreadyStopped) => ("already_stopped", Value::Null),
        Outcome::Acted(Done::Restarted) => ("restarted", Value::Null),
        Outcome::Acted(Done::Stopped) => ("stopped", Value::Null),
        Outcome::Acted(Done::Failed(why)) => ("failed", json!(why)),
        Outcome::Settled {
            state,
            detail,
            took,
        } => (
            "settled",
            json!({"state": state.as_str(), "detail": detail, "took_s": took.as_secs_f64()}),
        ),
        Outcome::Nginx { applied, note } => (
            "nginx",
            json!({"applied": format!("{applied:?}").to_lowercase(), "reloaded": applied.reloaded(), "note": note}),
        ),
        Outcome::NginxFailed { why, warning } => {
            ("nginx_failed", json!({"why": why, "warning": warning}))
        }
        Outcome::NothingToDrain => ("nothing_to_drain", Value::Null),
        Outcome::Drained { waited } => ("drained", json!({ "waited": waited })),
        Outcome::Queued => ("queued", Value::Null),
        Outcome::Rendered => ("rendered", Value::Null),
        Outcome::Retired { logs } => ("retired", json!({"logs": logs.display().to_string()})),
        Outcome::RetireFailed(why) => ("retire_failed", json!(why)),
        Outcome::Skipped => ("skipped", Value::Null),
        Outcome::Began => ("began", Value::Null),
        Outcome::Waiting { state, detail } => (
            "waiting",
            json!({"state": state.as_str(), "detail": detail}),
        ),
        Outcome::InPlace(why) => ("in_place", json!({ "why": why })),
    }
}

/// The last line: the copies that did not end ready, and nginx's reload count.
pub fn summary(report: &Report, reloads: Option<usize>) -> String {
    let failures: Vec<Value> = report
        .failures
        .iter()
        .map(|f| json!({"instance": f.name, "state": f.state.as_str(), "detail": f.detail}))
        .collect();
    json!({
        "done": report.failures.is_empty(),
        "failures": failures,
        "unretired": report.unretired,
        "nginx_reloads": reloads,
    })
    .to_string()
}
