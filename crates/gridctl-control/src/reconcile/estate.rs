//! Before a simulator starts, its estate owner must be a user of the grid: OpenSim 0.9.2.2
//! asks nothing in grid mode when `DefaultEstateOwnerName` names no account, it logs
//! "Unable to store account" and creates an estate nobody owns. Asked through the grid's
//! own private route to the user account service, as the simulator would.

use gridctl_config::plan::Plan;
use gridctl_config::plan::SimulatorPlan;
use gridctl_config::simulator::NULL_RESULT;
use gridctl_wire::spec::Probe;
use std::time::Duration;

/// `Ok` when the owner exists (or the grid hosts no user account service to ask), else
/// why the simulator must not start, with the fix.
pub fn check_owner(plan: &Plan, sim: &SimulatorPlan) -> Result<(), String> {
    let Some(probe) = owner_probe(plan, &sim.estate_owner) else {
        return Ok(());
    };
    let owner = &sim.estate_owner;
    match gridctl_holder::readiness::probe_once(&probe, Duration::from_secs(5)) {
        Ok(()) => Ok(()),
        Err(e) if e.contains(NULL_RESULT) => {
            let creator = plan
                .routes
                .iter()
                .find(|r| r.service == "useraccount")
                .map(|r| format!("{}-1", r.role))
                .unwrap_or_else(|| "the core copy".into());
            Err(format!(
                "estate owner `{owner}` is not a user of the grid, so the simulator would create an estate nobody owns; create the user first (`gridctl send {creator} \"create user {owner} PASSWORD EMAIL\" -a \"\" -a \"\"`), then run `gridctl up` again"
            ))
        }
        Err(e) => Err(format!(
            "cannot ask the grid whether estate owner `{owner}` exists: {e}"
        )),
    }
}

/// `getaccount` by name to the user account service's private route (nginx's private
/// listener with the hostname as `Host`, or the copy itself without nginx).
fn owner_probe(plan: &Plan, owner: &str) -> Option<Probe> {
    let (first, last) = owner.split_once(' ')?;
    plan.private_post(
        "useraccount",
        "/accounts",
        format!(
            "METHOD=getaccount&ScopeID=00000000-0000-0000-0000-000000000000&FirstName={}&LastName={}",
            gridctl_config::plan::form_encode(first),
            gridctl_config::plan::form_encode(last)
        ),
    )
}
