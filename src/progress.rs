//! The live progress of `up`, `down`, `restart` and `scale` on a terminal: a line per
//! copy being worked on, with its phase and elapsed time, drawn by indicatif.
//!
//! It is one more consumer of the reconciler's events (`reconcile::events::Sink`), like
//! the plain printer and `--json`: finished work becomes the same permanent lines the
//! printer writes, so a scrolled-back terminal reads like a log.

use gridctl_control::reconcile::events::{is_escalation, Event, Outcome, Sink};
use gridctl_control::reconcile::print;
use gridctl_wire::protocol::InstanceState;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

/// How often the spinners and elapsed times are redrawn.
const TICK: Duration = Duration::from_millis(120);

/// Whether the live display should be used: stdout is a terminal that can move its
/// cursor. Anything else (a pipe, a file, `TERM=dumb`) gets the plain lines.
pub fn wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

pub struct Live {
    multi: MultiProgress,
    /// The open line of each copy (the key "" is work on no copy: drain, reload).
    bars: HashMap<String, ProgressBar>,
    style: ProgressStyle,
}

impl Live {
    pub fn new() -> Live {
        Live::with_target(ProgressDrawTarget::stdout())
    }

    fn with_target(target: ProgressDrawTarget) -> Live {
        // `{wide_msg}` takes what the terminal leaves, so an 80-column line never wraps.
        let style =
            ProgressStyle::with_template("{spinner:.cyan} {prefix:<14} {wide_msg} {elapsed:>4}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
        Live {
            multi: MultiProgress::with_draw_target(target),
            bars: HashMap::new(),
            style,
        }
    }

    fn bar(&mut self, key: &str) -> &ProgressBar {
        let (multi, style) = (&self.multi, &self.style);
        self.bars.entry(key.to_string()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(if key.is_empty() {
                "nginx".to_string()
            } else {
                key.to_string()
            });
            bar.enable_steady_tick(TICK);
            bar
        })
    }

    fn close(&mut self, key: &str) {
        if let Some(bar) = self.bars.remove(key) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// A permanent line above the live ones (what the plain printer would write).
    fn println(&self, line: &str) {
        let _ = self.multi.println(colour(line));
    }
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

/// What a copy is doing while a step of this kind runs, before its holder says more.
fn doing(phase: &str) -> &'static str {
    match phase {
        "start" | "start_together" => "starting",
        "wait_ready" => "waiting until ready",
        "restart" => "restarting",
        "stop" | "stop_together" | "stop_undeclared" => "stopping",
        "drain" => "draining: requests in flight finish",
        "reload" => "reloading",
        "retire" => "retiring",
        _ => "working",
    }
}

/// The open line's text for a holder's report.
fn waiting(state: InstanceState, detail: &str) -> String {
    if detail.is_empty() {
        state.as_str().to_string()
    } else {
        format!("{} · {detail}", state.as_str())
    }
}

/// Colours the state words of a finished line (console leaves them plain when colour
/// is off: NO_COLOR, CLICOLOR=0, or not a terminal).
fn colour(line: &str) -> String {
    use console::style;
    type Paint = fn(&str) -> String;
    let words: [(&str, Paint); 6] = [
        ("FAILED", |w| style(w).red().bold().to_string()),
        ("crash-loop", |w| style(w).red().to_string()),
        ("degraded", |w| style(w).yellow().to_string()),
        ("stopped", |w| style(w).dim().to_string()),
        ("ready", |w| style(w).green().to_string()),
        ("started", |w| style(w).cyan().to_string()),
    ];
    for (word, paint) in words {
        if let Some(i) = line.find(word) {
            return format!("{}{}{}", &line[..i], paint(word), &line[i + word.len()..]);
        }
    }
    line.to_string()
}

impl Sink for Live {
    fn event(&mut self, e: &Event) {
        let key = e.instance.clone().unwrap_or_default();
        match &e.outcome {
            Outcome::Began => {
                let text = doing(e.phase);
                self.bar(&key).set_message(text);
            }
            Outcome::Waiting { state, detail } => {
                let text = waiting(*state, detail);
                self.bar(&key).set_message(text);
                if is_escalation(detail) {
                    if let Some(line) = print::line(e) {
                        self.println(&line);
                    }
                }
            }
            // A queued membership change, a render: nothing to show, the line stays.
            Outcome::Queued | Outcome::Rendered => {}
            _ => {
                self.close(&key);
                if let Some(line) = print::line(e) {
                    self.println(&line);
                }
                if let Outcome::NginxFailed { why, warning: true } = &e.outcome {
                    let d = gridctl_config::diagnostic::Diagnostic::warning(why.clone());
                    self.multi.suspend(|| eprintln!("{d}\n"));
                }
            }
        }
    }

    fn finish(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_paints_only_the_state_word() {
        console::set_colors_enabled(true);
        let painted = colour("[  1.00s] asset-1: ● ready after 1.00s");
        assert!(painted.contains("\u{1b}["), "{painted:?}");
        assert!(painted.starts_with("[  1.00s] asset-1: ● "));
        console::set_colors_enabled(false);
        assert_eq!(colour("asset-1: ready"), "asset-1: ready");
    }

    #[test]
    fn waiting_text_joins_state_and_detail() {
        assert_eq!(waiting(InstanceState::Starting, ""), "starting");
        assert_eq!(
            waiting(InstanceState::Stopping, "shutdown sent"),
            "stopping · shutdown sent"
        );
    }

    #[test]
    fn a_hidden_display_takes_every_event() {
        let mut live = Live::with_target(ProgressDrawTarget::hidden());
        let at = |outcome| Event {
            step: 0,
            phase: "wait_ready",
            instance: Some("asset-1".into()),
            elapsed: Duration::from_millis(10),
            outcome,
        };
        live.event(&at(Outcome::Began));
        assert!(live.bars.contains_key("asset-1"));
        live.event(&at(Outcome::Waiting {
            state: InstanceState::Starting,
            detail: "services loaded 7/13".into(),
        }));
        live.event(&at(Outcome::Settled {
            state: InstanceState::Ready,
            detail: String::new(),
            took: Duration::from_secs(1),
        }));
        assert!(live.bars.is_empty(), "a settled copy's line is closed");
        live.finish();
    }
}
