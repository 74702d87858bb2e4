//! Roles of one serving copy (issue 12): which may get a temporary extra copy while that
//! copy restarts (a surge), which must restart in place, and the plan a surge runs with.

use super::diff::{Alone, RoleShape};
use super::step::{Action, Step};
use gridctl_config::catalog::{self, CopyRule};
use gridctl_config::plan::{InstancePlan, Plan};
use gridctl_config::planner;

/// The shapes of the roles of `selected`, for the diff: every declared copy of each,
/// and what a roll does when only one of them serves. A role with a service that keeps
/// a process-wide cache (`CopyRule::Single`) restarts in place — two copies would split
/// the cache; any other gets a surge copy where its port is free.
pub fn shapes(plan: &Plan, selected: &[&InstancePlan]) -> Vec<RoleShape> {
    let mut out: Vec<RoleShape> = Vec::new();
    for inst in selected {
        if out.iter().any(|s| s.role == inst.role) {
            continue;
        }
        let Some(role) = plan.role(&inst.role) else {
            continue;
        };
        let single = role
            .services
            .iter()
            .filter_map(|s| catalog::get(s))
            .find(|s| matches!(s.copies, CopyRule::Single(_)));
        let alone = match single {
            Some(svc) => Alone::InPlace(format!("{} cache: a role of one copy", svc.name)),
            None => match planner::with_extra_copy(plan, &role.name) {
                Ok((_, name)) => Alone::Surge(name),
                Err(why) => Alone::InPlace(format!("no second copy: {why}")),
            },
        };
        out.push(RoleShape {
            role: role.name.clone(),
            copies: plan
                .instances
                .iter()
                .filter(|i| i.role == role.name)
                .map(|i| i.name.clone())
                .collect(),
            alone,
        });
    }
    out
}

/// The copies of the roles of `selected` that are not selected: the diff must know
/// whether they serve to tell whether a selected copy is its role's only serving one.
pub fn peers<'p>(plan: &'p Plan, selected: &[&InstancePlan]) -> Vec<&'p InstancePlan> {
    plan.instances
        .iter()
        .filter(|i| selected.iter().any(|s| s.role == i.role))
        .filter(|i| !selected.iter().any(|s| s.name == i.name))
        .collect()
}

/// The plan `steps` run with: `plan` plus the surge copy of every [`Action::SurgeStart`]
/// in them, or `None` when they start none.
pub fn plan_for(plan: &Plan, steps: &[Step]) -> Result<Option<Plan>, String> {
    let mut out: Option<Plan> = None;
    for s in steps {
        let Action::SurgeStart { instance, beside } = &s.action else {
            continue;
        };
        let base = out.as_ref().unwrap_or(plan);
        let role = base
            .instance(beside)
            .map(|i| i.role.clone())
            .ok_or_else(|| format!("the plan has no instance `{beside}`"))?;
        let (next, name) = planner::with_extra_copy(base, &role)?;
        if name != *instance {
            return Err(format!(
                "the temporary copy of role `{role}` would be {name}, not {instance}"
            ));
        }
        out = Some(next);
    }
    Ok(out)
}
