//! nginx membership changes as the executor (and `nginx reload`/`sync`) apply them: wishes + holders' health → one render.

use crate::nginx::{self, Applied, Drains, Health, Install, NginxError};
use gridctl_config::plan::Plan;
use gridctl_config::render::Membership;
use gridctl_config::templates::Templates;
use std::collections::BTreeMap;

/// What every holder of the plan reports, read through the client API: a copy is
/// rendered in only while its holder says it is ready (see [`nginx::effective`]).
pub fn health(plan: &Plan) -> BTreeMap<String, Health> {
    super::holders::statuses(plan)
        .into_iter()
        .map(|(name, status, note)| {
            let h = match (status, note) {
                (Some(s), _) => Health::State(s.state),
                (None, Some(n)) if n.contains("does not answer") => Health::NoAnswer,
                (None, _) => Health::NoHolder,
            };
            (name, h)
        })
        .collect()
}

/// Records `changes` (a command's own) and renders the grid's nginx config from the
/// wishes and what the holders report; installs and reloads only if the routing changed.
pub fn apply(
    plan: &Plan,
    t: &Templates,
    changes: &[(String, Membership)],
) -> Result<Applied, NginxError> {
    let changes: Vec<(&str, Membership)> = changes.iter().map(|(n, m)| (n.as_str(), *m)).collect();
    render(plan, t, &changes, Install::IfChanged, Drains::Keep)
}

/// A re-render of its own, under the lock while no command runs (`nginx sync`,
/// `nginx reload`): a copy still marked draining was left by an interrupted command
/// and serves again (`Drains::Stale`).
pub fn rerender(plan: &Plan, t: &Templates, mode: Install) -> Result<Applied, NginxError> {
    render(plan, t, &[], mode, Drains::Stale)
}

fn render(
    plan: &Plan,
    t: &Templates,
    changes: &[(&str, Membership)],
    mode: Install,
    drains: Drains,
) -> Result<Applied, NginxError> {
    if plan.nginx.is_none() {
        return Ok(Applied::NotManaged);
    }
    nginx::set_membership(plan, t, changes, &health(plan), mode, drains)
}

/// "asset-1 in, asset-2 marked down" for the notes.
pub fn describe(changes: &[(String, Membership)]) -> String {
    if changes.len() > 4 {
        let count = |m: Membership| changes.iter().filter(|(_, x)| *x == m).count();
        return format!(
            "{} copies in, {} marked down, {} kept out",
            count(Membership::In),
            count(Membership::Draining),
            count(Membership::Out)
        );
    }
    changes
        .iter()
        .map(|(n, m)| match m {
            Membership::In => format!("{n} in"),
            Membership::Draining => format!("{n} marked down"),
            Membership::Out => format!("{n} kept out"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
