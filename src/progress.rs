//! The live progress of `up`, `down`, `restart` and `scale` on a terminal: a line per
//! copy being worked on, with its phase and elapsed time, drawn by indicatif.
//!
//! It is one more consumer of the reconciler's events (`reconcile::events::Sink`), like
//! the plain printer and `--json`: finished work becomes the same permanent lines the
//! printer writes, so a scrolled-back terminal reads like a log.

use gridctl_control::reconcile::events::{Event, Outcome, Sink};
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

/// The live display as the control layer takes it (`converge::Mode::live`).
pub fn boxed() -> Box<dyn Sink> {
    Box::new(Live::new())
}

/// At most this many copies get a line of their own; the rest share one summary line,
/// so `up` of a thousand copies draws a screenful, not a thousand lines.
const MAX_LINES: usize = 12;

pub struct Live {
    multi: MultiProgress,
    /// The open line of each copy (the key "" is work on no copy: drain, reload).
    bars: HashMap<String, ProgressBar>,
    /// Copies at work without a line of their own, and the summary line for them.
    others: HashMap<String, String>,
    others_bar: Option<ProgressBar>,
    /// Stop escalations already printed (each stays on screen once).
    escalations: print::Escalations,
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
            others: HashMap::new(),
            others_bar: None,
            escalations: print::Escalations::default(),
            style,
        }
    }

    fn spinner(&self, prefix: String) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(self.style.clone());
        bar.set_prefix(prefix);
        bar.enable_steady_tick(TICK);
        bar
    }

    /// Shows what `key` is doing: on its own line while there is room, else in the summary.
    fn show(&mut self, key: &str, text: String) {
        if let Some(bar) = self.bars.get(key) {
            bar.set_message(text);
            return;
        }
        if self.bars.len() < MAX_LINES && !self.others.contains_key(key) {
            let prefix = if key.is_empty() { "nginx" } else { key };
            let bar = self.spinner(prefix.to_string());
            bar.set_message(text);
            self.bars.insert(key.to_string(), bar);
            return;
        }
        self.others.insert(key.to_string(), text);
        self.update_others();
    }

    /// The summary line: how many copies are at work off screen, by what they do.
    fn update_others(&mut self) {
        if self.others.is_empty() {
            if let Some(bar) = self.others_bar.take() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
            return;
        }
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for text in self.others.values() {
            let phase = text.split(" · ").next().unwrap_or(text);
            *counts.entry(phase).or_default() += 1;
        }
        let what: Vec<String> = counts.iter().map(|(p, n)| format!("{n} {p}")).collect();
        let text = what.join(", ");
        let prefix = format!("+{} more", self.others.len());
        match &self.others_bar {
            Some(bar) => {
                bar.set_prefix(prefix);
                bar.set_message(text);
            }
            None => {
                let bar = self.spinner(prefix);
                bar.set_message(text);
                self.others_bar = Some(bar);
            }
        }
    }

    fn close(&mut self, key: &str) {
        if let Some(bar) = self.bars.remove(key) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        } else if self.others.remove(key).is_some() {
            self.update_others();
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
            Outcome::Began => self.show(&key, doing(e.phase).to_string()),
            Outcome::Waiting { state, detail } => {
                self.show(&key, waiting(*state, detail));
                if self.escalations.is_new(&key, detail) {
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
        self.others.clear();
        self.update_others();
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
            why: None,
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

    #[test]
    fn many_copies_share_one_summary_line() {
        let mut live = Live::with_target(ProgressDrawTarget::hidden());
        for i in 0..100 {
            live.event(&Event {
                step: 0,
                phase: "start_together",
                instance: Some(format!("asset-{i}")),
                elapsed: Duration::ZERO,
                outcome: Outcome::Began,
                why: None,
            });
        }
        assert_eq!(live.bars.len(), MAX_LINES);
        assert_eq!(live.others.len(), 100 - MAX_LINES);
        let summary = live.others_bar.as_ref().map(|b| b.message());
        assert_eq!(summary.as_deref(), Some("88 starting"));
        live.finish();
        assert!(live.others_bar.is_none());
    }
}
