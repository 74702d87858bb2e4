//! The poller: about once a second (or when poked) it asks every holder for its
//! status, samples CPU and RSS from /proc, reads the upstream membership, and sends
//! a [`Snapshot`]. It re-reads grid.toml when the file changes (after `scale`).

use super::model::{InstRow, RoleInfo, Snapshot};
use crate::plan::Plan;
use crate::procstat::{self, ProcSample};
use crate::protocol::InstanceState;
use crate::{nginx, reconcile, status};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub const INTERVAL: Duration = Duration::from_secs(1);

/// The poller's memory between rounds.
pub struct Poller {
    file: PathBuf,
    plan: Arc<Plan>,
    modified: Option<SystemTime>,
    /// Last /proc sample per pid, for CPU% over the interval.
    samples: HashMap<u32, (ProcSample, Instant)>,
}

impl Poller {
    pub fn new(file: &Path, plan: Arc<Plan>) -> Poller {
        Poller {
            file: file.to_path_buf(),
            modified: mtime(file),
            plan,
            samples: HashMap::new(),
        }
    }

    /// Runs until `send` returns false; a message on `poke` triggers an early round.
    pub fn run(mut self, poke: Receiver<()>, send: impl Fn(Arc<Plan>, Snapshot) -> bool) {
        loop {
            let (plan, snap) = self.round();
            if !send(plan, snap) {
                return;
            }
            match poke.recv_timeout(INTERVAL) {
                Ok(()) => while poke.try_recv().is_ok() {},
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// One round: the plan (re-read if grid.toml changed) and the snapshot.
    pub fn round(&mut self) -> (Arc<Plan>, Snapshot) {
        let mut error = None;
        let now_mtime = mtime(&self.file);
        if now_mtime != self.modified {
            // Not `app::load_plan`: it prints the plan's warnings, over the TUI.
            let built = crate::manifest::load(&self.file)
                .map_err(|d| vec![d])
                .and_then(|loaded| crate::plan::build(&loaded));
            match built {
                Ok(p) => {
                    self.plan = Arc::new(p);
                    self.modified = now_mtime;
                }
                Err(ds) => {
                    let why = ds
                        .first()
                        .map(|d| first_line(&d.to_string()))
                        .unwrap_or_default();
                    error = Some(format!("grid.toml not re-read: {why}"));
                }
            }
        }
        let plan = self.plan.clone();
        let statuses = reconcile::statuses(&plan);
        let membership = plan.nginx.as_ref().map(|_| nginx::load_membership(&plan));
        let now = Instant::now();
        let mut seen = HashMap::new();
        let mut rows = Vec::new();
        for role in &plan.roles {
            for inst in plan.instances.iter().filter(|i| i.role == role.name) {
                let (st, note) = statuses
                    .iter()
                    .find(|(n, _, _)| n == &inst.name)
                    .map(|(_, s, n)| (s.clone(), n.clone()))
                    .unwrap_or((None, None));
                let ports: Vec<u16> = std::iter::once(inst.private_port)
                    .chain(inst.public_port)
                    .collect();
                let upstream = membership.as_ref().map(|m| {
                    m.get(&inst.name)
                        .copied()
                        .unwrap_or(crate::render::Membership::In)
                });
                let mut row = InstRow {
                    name: inst.name.clone(),
                    role: inst.role.clone(),
                    state: InstanceState::Stopped.as_str().to_string(),
                    detail: note.unwrap_or_default(),
                    pid: None,
                    holder_pid: None,
                    ports,
                    restarts: 0,
                    uptime_secs: None,
                    cpu_percent: None,
                    rss_bytes: None,
                    upstream,
                };
                if let Some(s) = st {
                    row.state = s.state.as_str().to_string();
                    row.detail = match (&s.detail, &s.last_exit) {
                        (d, _) if !d.is_empty() => d.clone(),
                        (_, Some(e)) => format!("last exit: {e}"),
                        _ => String::new(),
                    };
                    row.pid = s.pid;
                    row.holder_pid = Some(s.holder_pid);
                    row.restarts = s.restarts;
                    row.uptime_secs = s
                        .started_at_ms
                        .filter(|_| s.pid.is_some())
                        .map(|t| status::now_ms().saturating_sub(t) / 1000);
                    if let Some(sample) = s.pid.and_then(procstat::sample) {
                        let pid = s.pid.unwrap_or_default();
                        row.rss_bytes = Some(sample.rss_bytes);
                        row.cpu_percent = match self.samples.get(&pid) {
                            // Same process (a reused pid has another start time).
                            Some((prev, at)) if prev.start_ticks == sample.start_ticks => Some(
                                procstat::cpu_percent(prev, &sample, now.duration_since(*at)),
                            ),
                            _ => procstat::lifetime_cpu_percent(&sample),
                        };
                        seen.insert(pid, (sample, now));
                    }
                }
                rows.push(row);
            }
        }
        self.samples = seen;
        let snap = Snapshot {
            grid_name: plan.grid_name.clone(),
            nginx: plan.nginx.is_some(),
            roles: plan
                .roles
                .iter()
                .map(|r| RoleInfo {
                    name: r.name.clone(),
                    copies: r.instances,
                })
                .collect(),
            rows,
            error,
        };
        (plan, snap)
    }
}

fn mtime(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

pub fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}
