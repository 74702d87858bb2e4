//! Changing a live role without dropping a request (design.md §5):
//! - scale up: start the copy → wait ready → add it to the upstream → reload;
//! - scale down: mark it `down` → reload → drain → graceful stop → remove it → reload;
//! - rolling restart: per copy, drain as above → restart → wait ready → back in, in the
//!   same reload that marks the next copy down.
//!   A copy that does not become ready stops the roll and stays out of its upstream.

use crate::nginx::{self, Applied, NginxError};
use crate::plan::{InstancePlan, Plan};
use crate::protocol::InstanceState;
use crate::reconcile::{self, Action, Progress};
use crate::render::Membership;
use crate::templates::Templates;
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
    match applied {
        Applied::NotManaged => {}
        Applied::Unchanged => {}
        Applied::Reloaded => println!("         nginx: {what}; reloaded"),
        Applied::Written => println!("         nginx: {what}; config written (no reload_command)"),
    }
}

/// Waits the drain period when nginx is managed.
pub fn drain(plan: &Plan) {
    if let Some(n) = &plan.nginx {
        // Requests already sent to the copy finish; nginx sends it nothing new.
        std::thread::sleep(Duration::from_secs_f64(n.drain_secs));
    }
}

fn ready_deadline(plan: &Plan, inst: &InstancePlan) -> Duration {
    plan.role(&inst.role)
        .map(|r| r.supervise.ready_timeout)
        .unwrap_or(Duration::from_secs(120))
        + Duration::from_secs(2)
}

/// Takes `inst` out of its upstream gracefully (mark down, reload, drain).
pub fn take_out(plan: &Plan, t: &Templates, inst: &InstancePlan) -> Result<(), RollError> {
    let applied = nginx::set_membership(plan, t, &[(&inst.name, Membership::Draining)])?;
    note_nginx(&applied, &format!("{} marked down", inst.name));
    if applied == Applied::Reloaded || applied == Applied::Unchanged {
        drain(plan);
    }
    Ok(())
}

/// Waits for `inst` to be ready; if it is not, keeps it out of its upstream and fails.
fn wait_ready(
    plan: &Plan,
    t: &Templates,
    inst: &InstancePlan,
    progress: &mut dyn Progress,
) -> Result<(), RollError> {
    let s = reconcile::wait_settled(plan, inst, ready_deadline(plan, inst));
    progress.settled(&s);
    if s.state != InstanceState::Ready {
        let applied = nginx::set_membership(plan, t, &[(&inst.name, Membership::Out)])?;
        note_nginx(&applied, &format!("{} kept out", inst.name));
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

/// Waits for `inst` to be ready, then puts it (back) in its upstream; keeps it out otherwise.
pub fn bring_in(
    plan: &Plan,
    t: &Templates,
    inst: &InstancePlan,
    progress: &mut dyn Progress,
) -> Result<(), RollError> {
    wait_ready(plan, t, inst, progress)?;
    let applied = nginx::set_membership(plan, t, &[(&inst.name, Membership::In)])?;
    note_nginx(&applied, &format!("{} in", inst.name));
    Ok(())
}

/// Rolling restart of `instances`, one at a time; stops at the first copy that fails.
///
/// Putting a restarted copy back in and marking the next one down is a single reload:
/// every reload makes nginx's old workers close their idle client keep-alive
/// connections (a client that just sent a request on one sees it reset), so a roll of
/// n copies reloads n + 1 times rather than 2n. At any moment at most one copy is out.
pub fn rolling_restart(
    plan: &Plan,
    t: &Templates,
    instances: &[&InstancePlan],
    progress: &mut dyn Progress,
) -> Result<(), RollError> {
    // A restarted, ready copy not yet back in its upstream.
    let mut ready: Option<&InstancePlan> = None;
    for inst in instances {
        let mut changes = vec![(inst.name.as_str(), Membership::Draining)];
        let mut what = format!("{} marked down", inst.name);
        if let Some(prev) = ready.take() {
            changes.insert(0, (prev.name.as_str(), Membership::In));
            what = format!("{} in, {what}", prev.name);
        }
        let applied = nginx::set_membership(plan, t, &changes)?;
        note_nginx(&applied, &what);
        if applied == Applied::Reloaded || applied == Applied::Unchanged {
            drain(plan);
        }
        let a = reconcile::restart(plan, inst);
        progress.action(&inst.name, &a);
        if let Action::Failed(why) = a {
            let _ = nginx::set_membership(plan, t, &[(&inst.name, Membership::Out)]);
            return Err(RollError::Instance {
                instance: inst.name.clone(),
                why,
            });
        }
        wait_ready(plan, t, inst, progress)?;
        ready = Some(inst);
    }
    if let Some(last) = ready {
        let applied = nginx::set_membership(plan, t, &[(&last.name, Membership::In)])?;
        note_nginx(&applied, &format!("{} in", last.name));
    }
    Ok(())
}

/// Scale down: drain then stop each removed copy (highest number first), using the
/// plan from before the change (the only one that still knows those copies).
pub fn retire(
    old: &Plan,
    t: &Templates,
    removed: &[&InstancePlan],
    progress: &mut dyn Progress,
) -> Result<(), RollError> {
    if removed.is_empty() {
        return Ok(());
    }
    let changes: Vec<(&str, Membership)> = removed
        .iter()
        .map(|i| (i.name.as_str(), Membership::Draining))
        .collect();
    let applied = nginx::set_membership(old, t, &changes)?;
    let names: Vec<&str> = removed.iter().map(|i| i.name.as_str()).collect();
    note_nginx(&applied, &format!("{} marked down", names.join(", ")));
    if applied == Applied::Reloaded || applied == Applied::Unchanged {
        drain(old);
    }
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

/// Scale up: start the new copies (out of their upstream), wait for each, put the ready ones in.
pub fn add(
    plan: &Plan,
    t: &Templates,
    added: &[&InstancePlan],
    progress: &mut dyn Progress,
) -> Result<(), RollError> {
    if added.is_empty() {
        return Ok(());
    }
    let changes: Vec<(&str, Membership)> = added
        .iter()
        .map(|i| (i.name.as_str(), Membership::Out))
        .collect();
    nginx::set_membership(plan, t, &changes)?;
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
    for inst in added {
        if let Err(e) = bring_in(plan, t, inst, progress) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
