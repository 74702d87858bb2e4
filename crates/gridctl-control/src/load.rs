//! Manifest → plan for a command: read and validated, under the grid lock when the command acts.

use crate::outcome::{print_diagnostics, Failure};
use gridctl_config::cluster::Target;
use gridctl_config::diagnostic::Diagnostic;
use gridctl_config::manifest;
use gridctl_config::plan::Plan;
use gridctl_config::planner;
use gridctl_config::templates::Templates;
use std::path::Path;
use std::time::Duration;

/// Manifest → plan, or the diagnostics that stop it.
pub fn load_plan(file: &Path) -> Result<Plan, Failure> {
    let plan = build_plan(file)?;
    print_diagnostics(&plan.warnings);
    Ok(plan)
}

/// Like [`load_plan`], leaving the plan's warnings to the caller.
///
/// Inside a pod (`GRIDCTL_TARGET=kubernetes`, set by the exported pod template) the
/// plan is the cluster's, so `attach`, `send`, `status` and `probe` find the pod's
/// own state dir and ports.
pub fn build_plan(file: &Path) -> Result<Plan, Failure> {
    let loaded = manifest::load(file)?;
    planner::build_for(&loaded, Target::from_env()).map_err(Failure::invalid)
}

/// How long a command waits for another one on the same grid.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(600);

/// Takes the grid lock, then reads the manifest and builds the plan under it.
///
/// The lock lives in the state dir, which only the manifest names: a first read finds
/// it, and the plan used is the one read again once the lock is held, so a command
/// never acts on a manifest that another command changed while it waited. Should the
/// state dir itself have changed meanwhile, the lock is taken again there.
pub fn locked_plan(file: &Path) -> Result<(crate::lock::GridLock, Plan), Failure> {
    locked_plan_within(file, LOCK_TIMEOUT)
}

/// [`locked_plan`], waiting at most `timeout` for the lock.
pub fn locked_plan_within(
    file: &Path,
    timeout: Duration,
) -> Result<(crate::lock::GridLock, Plan), Failure> {
    let mut state_dir = build_plan(file)?.state_dir;
    for _ in 0..3 {
        let lock = crate::lock::acquire(&state_dir, timeout).map_err(|e| {
            Failure::failed(Diagnostic::error(format!("cannot lock the grid: {e}")))
        })?;
        let plan = load_plan(file)?;
        if plan.state_dir == state_dir {
            return Ok((lock, plan));
        }
        state_dir = plan.state_dir.clone();
    }
    Err(Failure::failed(Diagnostic::error(format!(
        "the state directory named in `{}` keeps changing; try again",
        file.display()
    ))))
}

pub fn templates(plan: &Plan) -> Result<Templates, Failure> {
    Templates::load(plan.templates_dir.as_deref()).map_err(|d| Failure::invalid(vec![d]))
}
