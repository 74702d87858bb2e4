//! The dashboard's state and its pure update logic: snapshots in, keys in, effects out.
//! Nothing here does I/O, so every state can be built and rendered in tests.

use super::console::ConsoleView;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One instance as the dashboard shows it: the same row as `gridctl status`.
pub type InstRow = crate::status::Row;

/// A role and its declared number of copies.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleInfo {
    pub name: String,
    pub copies: u32,
}

/// The poller's view of the grid at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub grid_name: String,
    pub nginx: bool,
    pub roles: Vec<RoleInfo>,
    /// Grouped by role, in the roles' order.
    pub rows: Vec<InstRow>,
    /// Set when grid.toml could not be re-read (the last good plan is shown).
    pub error: Option<String>,
}

/// A gridctl command run in the background on the user's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// What the status line calls it, e.g. `restart asset-2`.
    pub label: String,
    /// Arguments after `gridctl -f FILE`.
    pub args: Vec<String>,
}

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    Attach(String),
    Run(Job),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Busy,
    Good,
    Bad,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a filter.
    Filter,
    Help,
    /// Waiting for `y` to run the job.
    Confirm(Job),
}

pub struct Model {
    pub snap: Snapshot,
    pub selected: Option<String>,
    pub filter: String,
    pub mode: Mode,
    pub status: (Tone, String),
    pub console: Option<ConsoleView>,
    /// Lines scrolled back from the live bottom (0 = following).
    pub scroll: usize,
    pub color: bool,
    /// Jobs still running.
    pub running: usize,
    /// Rows of the console pane at the last draw (PgUp/PgDn move by this much).
    pub console_height: usize,
}

impl Model {
    pub fn new(color: bool) -> Model {
        Model {
            snap: Snapshot::default(),
            selected: None,
            filter: String::new(),
            mode: Mode::Normal,
            status: (Tone::Info, "press ? for help".into()),
            console: None,
            scroll: 0,
            color,
            running: 0,
            console_height: 8,
        }
    }

    pub fn set_status(&mut self, tone: Tone, text: impl Into<String>) {
        self.status = (tone, text.into());
    }

    /// Takes a new snapshot; keeps the selection on the same instance when it still shows.
    pub fn apply(&mut self, snap: Snapshot) {
        self.snap = snap;
        self.fix_selection();
    }

    /// Rows that pass the filter (a substring of the name).
    pub fn visible(&self) -> Vec<&InstRow> {
        self.snap
            .rows
            .iter()
            .filter(|r| r.name.contains(self.filter.as_str()))
            .collect()
    }

    pub fn selected_row(&self) -> Option<&InstRow> {
        let name = self.selected.as_deref()?;
        self.visible().into_iter().find(|r| r.name == name)
    }

    fn fix_selection(&mut self) {
        let visible = self.visible();
        let keep = self
            .selected
            .as_ref()
            .is_some_and(|s| visible.iter().any(|r| &r.name == s));
        if !keep {
            self.selected = visible.first().map(|r| r.name.clone());
        }
    }

    fn move_selection(&mut self, delta: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let at = self
            .selected
            .as_ref()
            .and_then(|s| visible.iter().position(|r| &r.name == s))
            .unwrap_or(0);
        let next = (at as isize + delta).clamp(0, visible.len() as isize - 1) as usize;
        self.selected = Some(visible[next].name.clone());
    }

    /// Handles one key press.
    pub fn key(&mut self, k: KeyEvent) -> Option<Effect> {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(k.code, KeyCode::Char('c')) {
            return Some(Effect::Quit);
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Help => None, // any key closes the overlay
            Mode::Confirm(job) => {
                if matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    return Some(Effect::Run(job));
                }
                self.set_status(Tone::Info, format!("{}: cancelled", job.label));
                None
            }
            Mode::Filter => {
                self.filter_key(k);
                None
            }
            Mode::Normal => self.normal_key(k),
        }
    }

    fn filter_key(&mut self, k: KeyEvent) {
        match k.code {
            KeyCode::Enter => {}
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Backspace => {
                self.filter.pop();
                self.mode = Mode::Filter;
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter.push(c);
                self.mode = Mode::Filter;
            }
            _ => self.mode = Mode::Filter,
        }
        self.fix_selection();
    }

    fn normal_key(&mut self, k: KeyEvent) -> Option<Effect> {
        let page = self.console_height.max(1);
        match k.code {
            KeyCode::Char('q') => return Some(Effect::Quit),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Home => self.move_selection(isize::MIN / 2),
            KeyCode::End => self.scroll = 0,
            KeyCode::PageUp => self.scroll = self.scroll.saturating_add(page),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(page),
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Char('/') => {
                self.mode = Mode::Filter;
            }
            KeyCode::Esc => {
                self.filter.clear();
                self.fix_selection();
            }
            KeyCode::Enter => {
                let row = self.selected_row()?;
                if row.holder_pid.is_none() {
                    self.set_status(
                        Tone::Bad,
                        format!("{} is not running (u starts it)", row.name),
                    );
                    return None;
                }
                return Some(Effect::Attach(row.name.clone()));
            }
            KeyCode::Char('r') => {
                return self.on_selected("restart", |n| vec!["restart".into(), n])
            }
            KeyCode::Char('s') => return self.on_selected("stop", |n| vec!["down".into(), n]),
            KeyCode::Char('u') => {
                return self.on_selected("start", |n| vec!["up".into(), "--wait".into(), n])
            }
            KeyCode::Char('R') => {
                let role = self.selected_row()?.role.clone();
                return Some(Effect::Run(Job {
                    label: format!("rolling restart of {role}"),
                    args: vec!["restart".into(), "--rolling".into(), role],
                }));
            }
            KeyCode::Char('+') => self.ask_scale(1),
            KeyCode::Char('-') => self.ask_scale(-1),
            _ => {}
        }
        None
    }

    fn on_selected(&self, verb: &str, args: impl FnOnce(String) -> Vec<String>) -> Option<Effect> {
        let name = self.selected_row()?.name.clone();
        Some(Effect::Run(Job {
            label: format!("{verb} {name}"),
            args: args(name),
        }))
    }

    fn ask_scale(&mut self, delta: i64) {
        let Some(role) = self.selected_row().map(|r| r.role.clone()) else {
            return;
        };
        let Some(info) = self.snap.roles.iter().find(|r| r.name == role) else {
            return;
        };
        let to = i64::from(info.copies) + delta;
        if to < 1 {
            self.set_status(Tone::Bad, format!("{role} already runs a single copy"));
            return;
        }
        let job = Job {
            label: format!("scale {role} {} → {to}", info.copies),
            args: vec!["scale".into(), format!("{role}={to}")],
        };
        self.set_status(
            Tone::Info,
            format!("{}? press y to confirm, any other key cancels", job.label),
        );
        self.mode = Mode::Confirm(job);
    }

    /// Instances per state, in a fixed order (ready first, stopped last).
    pub fn counts(&self) -> Vec<(&str, usize)> {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for r in &self.snap.rows {
            match counts.iter_mut().find(|(s, _)| *s == r.state) {
                Some((_, n)) => *n += 1,
                None => counts.push((r.state.as_str(), 1)),
            }
        }
        let order = [
            "ready",
            "starting",
            "degraded",
            "stopping",
            "backoff",
            "crash-loop",
            "stopped",
        ];
        counts.sort_by_key(|(s, _)| order.iter().position(|o| o == s).unwrap_or(order.len()));
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, role: &str, running: bool) -> InstRow {
        InstRow {
            name: name.into(),
            role: role.into(),
            kind: gridctl_config::plan::Kind::Robust,
            state: if running { "ready" } else { "stopped" }.into(),
            detail: String::new(),
            pid: running.then_some(10),
            holder_pid: running.then_some(9),
            ports: vec![1],
            restarts: 0,
            crashes: 0,
            uptime_secs: None,
            cpu_percent: None,
            rss_bytes: None,
            holder_rss_bytes: None,
            last_exit: None,
            viewers: 0,
            upstream: None,
        }
    }

    fn model() -> Model {
        let mut m = Model::new(true);
        m.apply(Snapshot {
            grid_name: "g".into(),
            nginx: false,
            roles: vec![
                RoleInfo {
                    name: "a".into(),
                    copies: 2,
                },
                RoleInfo {
                    name: "b".into(),
                    copies: 1,
                },
            ],
            rows: vec![
                row("a-1", "a", true),
                row("a-2", "a", true),
                row("b-1", "b", false),
            ],
            error: None,
        });
        m
    }

    fn press(m: &mut Model, code: KeyCode) -> Option<Effect> {
        m.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn selection_moves_and_survives_snapshots() {
        let mut m = model();
        assert_eq!(m.selected.as_deref(), Some("a-1"));
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Down);
        assert_eq!(m.selected.as_deref(), Some("b-1"));
        let snap = m.snap.clone();
        m.apply(snap);
        assert_eq!(m.selected.as_deref(), Some("b-1"));
    }

    #[test]
    fn filter_narrows_and_escape_clears() {
        let mut m = model();
        press(&mut m, KeyCode::Char('/'));
        press(&mut m, KeyCode::Char('b'));
        assert_eq!(m.visible().len(), 1);
        assert_eq!(m.selected.as_deref(), Some("b-1"));
        press(&mut m, KeyCode::Enter);
        assert_eq!(m.mode, Mode::Normal);
        assert_eq!(press(&mut m, KeyCode::Char('q')), Some(Effect::Quit));
        press(&mut m, KeyCode::Esc);
        assert_eq!(m.visible().len(), 3);
    }

    #[test]
    fn actions_and_scale_confirmation() {
        let mut m = model();
        let Some(Effect::Run(job)) = press(&mut m, KeyCode::Char('r')) else {
            panic!()
        };
        assert_eq!(job.args, ["restart", "a-1"]);
        assert_eq!(press(&mut m, KeyCode::Char('+')), None);
        let Some(Effect::Run(job)) = press(&mut m, KeyCode::Char('y')) else {
            panic!()
        };
        assert_eq!(job.args, ["scale", "a=3"]);
        press(&mut m, KeyCode::Char('-'));
        assert_eq!(press(&mut m, KeyCode::Char('n')), None);
        assert!(m.status.1.contains("cancelled"));
        press(&mut m, KeyCode::End);
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Down);
        assert_eq!(press(&mut m, KeyCode::Enter), None, "b-1 is not running");
        assert_eq!(m.status.0, Tone::Bad);
    }
}
