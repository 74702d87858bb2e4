//! What the running grid reports, read for the diff: holders, undeclared copies, nginx membership.

use super::holders::{self, holder_pid_file, socket_of};
use crate::client::{probe_holder, HolderPresence};
use gridctl_config::plan::{InstancePlan, Plan};
use gridctl_config::render::{Membership, RenderedInstance};
use gridctl_wire::protocol::InstanceState;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A declared copy as the plan wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub name: String,
    /// Copy number within its role: copy 1 runs the role's migrations.
    pub index: u32,
    pub config_hash: String,
    /// Rendered files whose text differs from the tree on disk (relative paths).
    pub differs_on_disk: Vec<String>,
    /// In an nginx upstream (a Robust copy); a simulator is not.
    pub routed: bool,
}

/// What a copy's holder reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Absent,
    /// Something holds the socket but does not answer.
    Silent,
    Running {
        state: InstanceState,
        config_hash: String,
    },
}

/// A copy the state dir knows and the plan does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub name: String,
    pub running: bool,
}

/// The running grid as the diff sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub holders: BTreeMap<String, Seen>,
    pub undeclared: Vec<Leftover>,
    /// Where the installed nginx config puts each copy (missing = in).
    pub installed: BTreeMap<String, Membership>,
}

/// The selected copies as wanted: their rendered hash, and which files a write would change.
pub fn wants(selected: &[&InstancePlan], rendered: &[RenderedInstance]) -> Vec<Want> {
    // By name, once (a search per copy is quadratic); the files are compared on a few
    // threads (a thousand trees are six thousand reads).
    let by_name: HashMap<&str, &RenderedInstance> =
        rendered.iter().map(|r| (r.name.as_str(), r)).collect();
    holders::par_map(selected, holders::PARALLEL, |inst| {
        let r = by_name.get(inst.name.as_str()).copied();
        Want {
            name: inst.name.clone(),
            index: inst.index,
            config_hash: r.map(|r| r.config_hash.clone()).unwrap_or_default(),
            differs_on_disk: r.map(differs_on_disk).unwrap_or_default(),
            routed: inst.kind == gridctl_config::plan::Kind::Robust,
        }
    })
}

/// The rendered files whose text is not what is on disk, and the stale include files a
/// write would remove.
fn differs_on_disk(r: &RenderedInstance) -> Vec<String> {
    let mut out: Vec<String> = r
        .files
        .iter()
        .filter(|(rel, text)| {
            std::fs::read(r.dir.join(rel)).ok().as_deref() != Some(text.as_bytes())
        })
        .map(|(rel, _)| rel.display().to_string())
        .collect();
    for sub in ["includes/local", "includes/remote"] {
        let Ok(entries) = std::fs::read_dir(r.dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let rel = Path::new(sub).join(e.file_name());
            if !r.files.iter().any(|(p, _)| *p == rel) {
                out.push(format!("{} (removed)", rel.display()));
            }
        }
    }
    // The holder's spec carries the config hash: it changes with any other file, so it
    // is named only when it is all that changed (the command line).
    if out.len() > 1 {
        out.retain(|f| f != SPEC);
    }
    out
}

/// The holder's spec in an instance tree.
const SPEC: &str = "holder.json";

/// Asks the holders of `selected` (and, for a whole-grid command, finds undeclared
/// copies). With `tidy`, a dead holder's stale socket and pid file are removed as they
/// are found; without it (`--dry-run`) nothing on disk changes.
pub fn observe(plan: &Plan, selected: &[&InstancePlan], whole_grid: bool, tidy: bool) -> Observed {
    // Asked on a few threads: one holder after another is most of `up`'s time to
    // find a thousand copies running.
    let holders = holders::par_map(selected, holders::PARALLEL, |inst| {
        let presence = if tidy {
            holders::presence(plan, inst)
        } else {
            probe_holder(&socket_of(plan, inst), &holder_pid_file(inst))
        };
        let seen = match presence {
            HolderPresence::Alive(s) => Seen::Running {
                state: s.state,
                config_hash: s.config_hash,
            },
            HolderPresence::Absent | HolderPresence::Stale => Seen::Absent,
            HolderPresence::Unresponsive => Seen::Silent,
        };
        (inst.name.clone(), seen)
    })
    .into_iter()
    .collect();
    let undeclared = if whole_grid {
        holders::undeclared(plan)
            .into_iter()
            .map(|u| Leftover {
                name: u.name,
                running: u.running,
            })
            .collect()
    } else {
        Vec::new()
    };
    let installed = if plan.nginx.is_some() {
        crate::nginx::load_membership(plan)
    } else {
        BTreeMap::new()
    };
    Observed {
        holders,
        undeclared,
        installed,
    }
}
