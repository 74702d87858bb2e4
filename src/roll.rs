//! Changing a live role without dropping a request (design.md §5), with as few nginx
//! reloads as the drain order allows — every reload resets some idle client
//! keep-alive connections (robust.md §0d):
//! - scale up: start the copies → wait ready → all of them in with one reload;
//! - scale down: mark them `down` → one reload → drain → graceful stop (dropping the
//!   stopped `down` servers later needs no reload);
//! - rolling restart: per copy that serves, mark it down → reload → drain → restart →
//!   wait ready → back in, in the same reload that marks the next copy down: n + 1
//!   reloads for n serving copies, the fewest possible without surge copies. A copy
//!   that is not in its upstream (out, degraded, crashed) has nothing to drain: it is
//!   restarted first, without a reload, and joins in the first reload that follows.
//!
//! A copy that does not become ready stops the roll and stays out of its upstream.

use crate::nginx::{self, Applied, Health, NginxError};
use crate::plan::{InstancePlan, Plan};
use crate::protocol::InstanceState;
use crate::reconcile::{self, Action, Progress};
use crate::render::Membership;
use crate::templates::Templates;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RollError {
    #[error("{instance} did not become ready ({state}{detail}); it stays out of its upstream and the roll stopped")]
    NotReady {
        instance: String,
        state: String,
        detail: String,
    },
    #[error("{instance}: {why}")]
    Instance { instance: String, why: String },
    #[error("nginx: {0}")]
    Nginx(#[from] NginxError),
}

/// Reports nginx steps: a one-line notice when nginx is not managed.
pub fn note_nginx(applied: &Applied, what: &str) {
    if let Some(line) = crate::reconcile::print::nginx_line(applied, what) {
        println!("{line}");
    }
}

/// The closing line of a command that drove nginx: how many reloads it cost.
pub fn note_reloads(plan: &Plan) {
    if plan.nginx.is_some() {
        println!("nginx: reloaded {} time(s)", nginx::reloads_done());
    }
}

/// Waits the drain period when nginx is managed.
pub fn drain(plan: &Plan) {
    if let Some(n) = &plan.nginx {
        // Requests already sent to the copy finish; nginx sends it nothing new.
        std::thread::sleep(Duration::from_secs_f64(n.drain_secs));
    }
}

pub use crate::reconcile::upstream::{apply, apply_mode, describe, health};

/// Applies `changes` and drains if nginx was reloaded with copies marked down.
fn apply_and_drain(
    plan: &Plan,
    t: &Templates,
    changes: &[(String, Membership)],
) -> Result<Applied, NginxError> {
    let applied = apply(plan, t, changes)?;
    note_nginx(&applied, &describe(changes));
    let takes_out = changes.iter().any(|(_, m)| *m == Membership::Draining);
    // Unchanged: the copy was marked down already (an interrupted roll): drain anyway.
    if takes_out && (applied.reloaded() || applied == Applied::Unchanged) {
        drain(plan);
    }
    Ok(applied)
}

fn ready_deadline(plan: &Plan, inst: &InstancePlan) -> Duration {
    plan.role(&inst.role)
        .map(|r| r.supervise.ready_timeout)
        .unwrap_or(Duration::from_secs(120))
        + Duration::from_secs(2)
}

/// Waits for `inst` to settle; an error unless it is ready. Changes nothing in nginx.
fn settle(plan: &Plan, inst: &InstancePlan, progress: &mut dyn Progress) -> Result<(), RollError> {
    let s = reconcile::wait_settled(plan, inst, ready_deadline(plan, inst));
    progress.settled(&s);
    if s.state != InstanceState::Ready {
        return Err(RollError::NotReady {
            instance: inst.name.clone(),
            state: s.state.as_str().to_string(),
            detail: if s.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", s.detail)
            },
        });
    }
    Ok(())
}

/// Whether nginx may be sending `inst` requests now: the installed config lists it
/// serving and its process runs. Anything else has nothing to drain.
fn serving(
    installed: &BTreeMap<String, Membership>,
    health: &BTreeMap<String, Health>,
    inst: &InstancePlan,
) -> bool {
    installed.get(&inst.name).copied().unwrap_or(Membership::In) == Membership::In
        && matches!(
            health.get(&inst.name),
            Some(Health::State(
                InstanceState::Ready | InstanceState::Degraded
            ))
        )
}

/// Rolling restart of `instances`, one at a time; stops at the first copy that fails.
///
/// `first` are membership changes the caller wants in the next render (`up`: copies it
/// started and found ready), so they cost no reload of their own.
///
/// Putting a restarted copy back in and marking the next one down is a single reload:
/// every reload makes nginx's old workers close their idle client keep-alive
/// connections (a client that just sent a request on one sees it reset), so a roll of
/// n serving copies reloads n + 1 times rather than 2n. At any moment at most one
/// serving copy is out. Copies not in their upstream are restarted first: they cost no
/// drain and no reload, and join in the reload that marks the first serving copy down.
pub fn rolling_restart(
    plan: &Plan,
    t: &Templates,
    instances: &[&InstancePlan],
    first: Vec<(String, Membership)>,
    progress: &mut dyn Progress,
) -> Result<(), RollError> {
    let (idle, busy): (Vec<&InstancePlan>, Vec<&InstancePlan>) = if plan.nginx.is_some() {
        let installed = nginx::load_membership(plan);
        let health = health(plan);
        instances
            .iter()
            .partition(|i| !serving(&installed, &health, i))
    } else {
        (Vec::new(), instances.to_vec())
    };
    // Changes waiting for the next render: restarted, ready copies to put back in.
    let mut pending = first;
    let managed = plan.nginx.is_some();
    for inst in idle.iter().chain(&busy) {
        let is_busy = busy.iter().any(|b| b.name == inst.name);
        if is_busy && managed {
            let mut changes = std::mem::take(&mut pending);
            changes.push((inst.name.clone(), Membership::Draining));
            apply_and_drain(plan, t, &changes)?;
        } else if managed {
            println!(
                "         nginx: {} is not in its upstream; nothing to drain",
                inst.name
            );
        }
        let a = reconcile::restart(plan, inst);
        progress.action(&inst.name, &a);
        if let Action::Failed(why) = a {
            pending.push((inst.name.clone(), Membership::Out));
            let _ = apply_and_drain(plan, t, &pending);
            return Err(RollError::Instance {
                instance: inst.name.clone(),
                why,
            });
        }
        if let Err(e) = settle(plan, inst, progress) {
            pending.push((inst.name.clone(), Membership::Out));
            apply_and_drain(plan, t, &pending)?;
            return Err(e);
        }
        pending.push((inst.name.clone(), Membership::In));
    }
    if !pending.is_empty() {
        apply_and_drain(plan, t, &pending)?;
    }
    Ok(())
}

/// Scale down: drain then stop each removed copy (highest number first), using the
/// plan from before the change (the only one that still knows those copies). The
/// stopped copies' `down` lines go with the next render, which needs no reload.
pub fn retire(
    old: &Plan,
    t: &Templates,
    removed: &[&InstancePlan],
    progress: &mut dyn Progress,
) -> Result<(), RollError> {
    if removed.is_empty() {
        return Ok(());
    }
    let changes: Vec<(String, Membership)> = removed
        .iter()
        .map(|i| (i.name.clone(), Membership::Draining))
        .collect();
    // Copies that serve nothing are only listed `down`: same routing, no reload, no drain.
    apply_and_drain(old, t, &changes)?;
    for inst in removed {
        let a = reconcile::stop(old, inst);
        progress.action(&inst.name, &a);
        if let Action::Failed(why) = a {
            return Err(RollError::Instance {
                instance: inst.name.clone(),
                why,
            });
        }
    }
    Ok(())
}

/// Scale up: start the new copies (out of their upstream), wait for each, then put all
/// the ready ones in with one reload (and keep the others out).
pub fn add(
    plan: &Plan,
    t: &Templates,
    added: &[&InstancePlan],
    progress: &mut dyn Progress,
) -> Result<(), RollError> {
    if added.is_empty() {
        // The render that drops copies a scale down removed (no reload: they are `down`).
        let applied = apply(plan, t, &[])?;
        note_nginx(&applied, "removed copies dropped from their upstream");
        return Ok(());
    }
    // Recorded out, not rendered: a render now would change nothing nginx routes.
    let out: Vec<(&str, Membership)> = added
        .iter()
        .map(|i| (i.name.as_str(), Membership::Out))
        .collect();
    nginx::record(plan, &out)?;
    for inst in added {
        match reconcile::start(inst) {
            Ok(_) => progress.action(&inst.name, &Action::Started),
            Err(why) => {
                progress.action(&inst.name, &Action::Failed(why.clone()));
                return Err(RollError::Instance {
                    instance: inst.name.clone(),
                    why,
                });
            }
        }
    }
    let mut first_error = None;
    let mut changes = Vec::new();
    for inst in added {
        match settle(plan, inst, progress) {
            Ok(()) => changes.push((inst.name.clone(), Membership::In)),
            Err(e) => {
                changes.push((inst.name.clone(), Membership::Out));
                first_error.get_or_insert(e);
            }
        }
    }
    apply_and_drain(plan, t, &changes)?;
    first_error.map_or(Ok(()), Err)
}
