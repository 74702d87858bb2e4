//! The poller: about once a second (or when poked) it asks every holder for its
//! status, samples CPU and RSS from /proc, reads the upstream membership, and sends
//! a [`Snapshot`]. It re-reads grid.toml when the file changes (after `scale`).

use super::model::{RoleInfo, Snapshot};
use crate::plan::Plan;
use crate::procstat::{self, ProcSample};
use crate::{reconcile, status};
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
                .and_then(|loaded| crate::planner::build(&loaded));
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
        let now = Instant::now();
        let mut seen = HashMap::new();
        // The same rows as `gridctl status`, in the same order (roles as declared, copies
        // by number), with CPU% measured over the refresh interval instead of the
        // process lifetime.
        let mut rows = status::rows(&plan, &statuses);
        crate::operate::by_role(&plan, &mut rows);
        for row in &mut rows {
            let Some(pid) = row.pid else { continue };
            if let Some(sample) = procstat::sample(pid) {
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
