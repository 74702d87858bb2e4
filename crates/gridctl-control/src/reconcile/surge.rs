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
/// the cache; any other gets a surge copy where its port is free, numbered past the
/// declared copies and past `avoid` (copies the state dir still holds).
pub fn shapes(plan: &Plan, selected: &[&InstancePlan], avoid: &[String]) -> Vec<RoleShape> {
    let mut out: Vec<RoleShape> = Vec::new();
    for inst in selected {
        if out.iter().any(|s| s.role == inst.role) {
            continue;
        }
        let Some(role) = plan.role(&inst.role) else {
            continue;
        };
        if role.simulator.is_some() {
            out.push(RoleShape {
                role: role.name.clone(),
                copies: vec![inst.name.clone()],
                alone: Alone::Simulator,
            });
            continue;
        }
        let caches: Vec<&str> = role
            .services
            .iter()
            .filter_map(|s| catalog::get(s))
            .filter(|s| matches!(s.copies, CopyRule::Single(_)))
            .map(|s| s.name)
            .collect();
        let alone = match caches.split_last() {
            Some((last, [])) => Alone::InPlace(format!("{last} cache: a role of one copy")),
            Some((last, rest)) => Alone::InPlace(format!(
                "{} and {last} caches: a role of one copy",
                rest.join(", ")
            )),
            None => match planner::extra_copy(
                plan,
                &role.name,
                planner::next_index(plan, &role.name, avoid),
            ) {
                Ok(copy) => Alone::Surge(copy.name),
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
        let index = instance
            .strip_prefix(&format!("{role}-"))
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| format!("{instance} is not named as a copy of role `{role}`"))?;
        let (next, _) = planner::with_copy(base, &role, index)?;
        out = Some(next);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::step::Reason;

    fn plan(asset_port: u16) -> Plan {
        crate::test_grid::plan(1, asset_port)
    }

    fn all(plan: &Plan) -> Vec<&InstancePlan> {
        plan.instances.iter().collect()
    }

    #[test]
    fn caches_restart_in_place_others_surge_past_leftovers_or_in_place_without_a_port() {
        let p = plan(8100);
        assert_eq!(
            shapes(&p, &all(&p), &["asset-2".into()]),
            [
                RoleShape {
                    role: "core".into(),
                    copies: vec!["core-1".into()],
                    alone: Alone::InPlace(
                        "griduser and presence caches: a role of one copy".into()
                    ),
                },
                RoleShape {
                    role: "asset".into(),
                    copies: vec!["asset-1".into()],
                    // asset-2 is a leftover in the state dir: the surge copy is asset-3.
                    alone: Alone::Surge("asset-3".into()),
                },
            ]
        );
        // asset-2's port would be core-1's public port.
        let p = plan(8001);
        assert_eq!(
            shapes(&p, &all(&p)[1..], &[])[0].alone,
            Alone::InPlace(
                "no second copy: port 8002, which asset-2 would take, is core-1's".into()
            )
        );
    }

    #[test]
    fn the_run_plan_holds_exactly_the_surge_copies_the_steps_start() {
        let p = plan(8100);
        let start = |instance: &str| {
            Step::halting(
                Action::SurgeStart {
                    instance: instance.into(),
                    beside: "asset-1".into(),
                },
                Reason::Surge("asset-1".into()),
            )
        };
        assert!(plan_for(&p, &[]).expect("no surge").is_none());
        let run = plan_for(&p, &[start("asset-3")])
            .expect("surge")
            .expect("a plan");
        let names: Vec<&str> = run.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["core-1", "asset-1", "asset-3"]);
        assert_eq!(run.instance("asset-3").map(|i| i.private_port), Some(8102));
        assert!(plan_for(&p, &[start("core-1")]).is_err());
    }
}
