//! The diff: the plan's copies against what the holders and nginx report → ordered steps (pure).
//!
//! Nothing here acts or reads the system: every function maps its arguments to a list
//! of [`Step`]s, so each decision is unit-tested without a process.

use super::observe::{Observed, Seen, Want};
use super::step::{Action, Reason, Step};
use gridctl_config::render::Membership;
use gridctl_wire::protocol::InstanceState;

/// How `up` was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpOptions {
    /// `--wait`: every started copy is waited for.
    pub wait: bool,
    /// nginx is in front: copies join their upstream once ready, so `up` always waits.
    pub managed: bool,
}

/// A role whose copies a roll may restart: its declared copies, and what is done when
/// the copy being restarted is the only one serving (issue 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleShape {
    pub role: String,
    /// Every copy the plan declares for the role.
    pub copies: Vec<String>,
    pub alone: Alone,
}

/// What a roll does to a role's only serving copy behind nginx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alone {
    /// Start this temporary extra copy (the next index, as a scale-up gives it) first,
    /// and remove it once the restarted copy is back.
    Surge(String),
    /// The role may not run two copies (why, e.g. `presence cache: a role of one
    /// copy`): restart in place, listed in nginx throughout, no drain.
    InPlace(String),
    /// A simulator: in no upstream, restarted in place with no nginx step at all.
    Simulator,
}

/// Whether `name` is a simulator, by the shapes the caller gave.
fn is_simulator(roles: &[RoleShape], name: &str) -> bool {
    shape_of(roles, name).is_some_and(|s| s.alone == Alone::Simulator)
}

/// The shape of `name`'s role, when the caller gave one.
fn shape_of<'r>(roles: &'r [RoleShape], name: &str) -> Option<&'r RoleShape> {
    roles.iter().find(|r| r.copies.iter().any(|c| c == name))
}

/// What to do with `name` when no other copy of its role serves now or comes back in
/// this roll (`rolled`: every copy the roll restarts); `None`: another one serves.
fn alone<'r>(
    roles: &'r [RoleShape],
    seen: &Observed,
    rolled: &[(&str, Reason)],
    name: &str,
) -> Option<&'r Alone> {
    let shape = shape_of(roles, name)?;
    let others_serve = shape
        .copies
        .iter()
        .filter(|c| *c != name)
        .any(|c| serving(seen, c) || rolled.iter().any(|(r, _)| r == c));
    (!others_serve).then_some(&shape.alone)
}

fn copy(a: impl FnOnce(String) -> Action, name: &str) -> Action {
    a(name.to_string())
}

/// `up`: start what is missing (first copies alone, then their siblings together),
/// leave healthy copies alone, drop undeclared copies, roll copies whose config changed.
/// `roles`: the shapes of the roles a roll may touch (see [`roll`]).
pub fn up(wants: &[Want], seen: &Observed, opts: UpOptions, roles: &[RoleShape]) -> Vec<Step> {
    let wait = opts.wait || opts.managed;
    let mut steps = vec![Step::new(Action::Render, Reason::Declared)];
    let mut changed: Vec<&Want> = Vec::new();
    let mut adopted: Vec<(&Want, InstanceState)> = Vec::new();
    let mut to_start: Vec<&Want> = Vec::new();
    let mut simulators: Vec<&Want> = Vec::new();
    for w in wants {
        match seen.holders.get(&w.name).unwrap_or(&Seen::Absent) {
            Seen::Running { config_hash, .. } if *config_hash != w.config_hash => changed.push(w),
            Seen::Running { state, .. } => {
                steps.push(Step::new(
                    copy(|instance| Action::Keep { instance }, &w.name),
                    Reason::Unchanged,
                ));
                if *state != InstanceState::Ready {
                    adopted.push((w, *state));
                }
            }
            Seen::Absent if !w.routed => simulators.push(w),
            Seen::Absent => to_start.push(w),
            Seen::Silent => steps.push(Step::new(
                copy(|instance| Action::Unreachable { instance }, &w.name),
                Reason::HolderSilent,
            )),
        }
    }
    // Copies an interrupted `up` left starting are waited for first, as that `up` would
    // have: a first copy may still be running its role's migrations.
    for (w, state) in adopted {
        if w.index == 1 || wait {
            steps.push(Step::new(
                copy(|instance| Action::WaitReady { instance }, &w.name),
                Reason::for_state(state),
            ));
        }
    }
    // First copies alone, dependencies first: copies racing on an empty database
    // corrupt their migrations (robust.md §0c).
    let (firsts, rest): (Vec<&Want>, Vec<&Want>) = to_start.iter().partition(|w| w.index == 1);
    for w in firsts {
        steps.push(Step::new(
            copy(|instance| Action::Start { instance }, &w.name),
            Reason::NotRunning,
        ));
        steps.push(Step::new(
            copy(|instance| Action::WaitReady { instance }, &w.name),
            Reason::FirstCopy,
        ));
    }
    if !rest.is_empty() {
        steps.push(Step::new(
            Action::StartTogether {
                instances: rest.iter().map(|w| w.name.clone()).collect(),
            },
            Reason::NotRunning,
        ));
        if wait {
            for w in &rest {
                steps.push(Step::new(
                    copy(|instance| Action::WaitReady { instance }, &w.name),
                    Reason::JustStarted,
                ));
            }
        }
    }
    // Copies not rolled: in once ready, out otherwise (applied with the next reload).
    let mut joins_pending = false;
    if opts.managed {
        for w in wants.iter().filter(|w| w.routed && !changed.contains(w)) {
            steps.push(Step::new(
                copy(|instance| Action::Join { instance }, &w.name),
                Reason::Routing,
            ));
            joins_pending = true;
        }
    }
    let running: Vec<&str> = seen
        .undeclared
        .iter()
        .filter(|u| u.running)
        .map(|u| u.name.as_str())
        .collect();
    if !running.is_empty() {
        if opts.managed {
            steps.push(Step::new(
                Action::Reload {
                    note: Some("upstreams updated, undeclared copies dropped".into()),
                    best_effort: false,
                },
                Reason::Undeclared,
            ));
            steps.push(Step::new(Action::Drain, Reason::InFlight));
            joins_pending = false;
        }
        for name in &running {
            steps.push(Step::new(
                copy(|instance| Action::StopUndeclared { instance }, name),
                Reason::Undeclared,
            ));
        }
    }
    for u in &seen.undeclared {
        steps.push(Step::new(
            copy(|instance| Action::Retire { instance }, &u.name),
            Reason::Undeclared,
        ));
    }
    let changed: Vec<(&str, Reason)> = changed
        .iter()
        .map(|w| {
            (
                w.name.as_str(),
                Reason::ConfigChanged(w.differs_on_disk.clone()),
            )
        })
        .collect();
    roll(
        &mut steps,
        &changed,
        seen,
        opts.managed,
        joins_pending,
        roles,
    );
    // Simulators last: they register with the grid service and fetch assets through
    // nginx's hostnames as they start, so every Robust copy is up and in first. They
    // share nothing with each other (each its own region store): together.
    match simulators.as_slice() {
        [] => {}
        [one] => steps.push(Step::new(
            copy(|instance| Action::Start { instance }, &one.name),
            Reason::AfterRobust,
        )),
        many => steps.push(Step::new(
            Action::StartTogether {
                instances: many.iter().map(|w| w.name.clone()).collect(),
            },
            Reason::AfterRobust,
        )),
    }
    if wait {
        for w in &simulators {
            steps.push(Step::new(
                copy(|instance| Action::WaitReady { instance }, &w.name),
                Reason::JustStarted,
            ));
        }
    }
    steps
}

/// Whether nginx may be sending `name` requests now: the installed config lists it
/// serving and its process runs. Anything else has nothing to drain.
fn serving(seen: &Observed, name: &str) -> bool {
    seen.installed.get(name).copied().unwrap_or(Membership::In) == Membership::In
        && matches!(
            seen.holders.get(name),
            Some(Seen::Running {
                state: InstanceState::Ready | InstanceState::Degraded,
                ..
            })
        )
}

/// A rolling restart of `copies`, one at a time, with the fewest reloads: copies not in
/// their upstream first (no reload, no drain), then per serving copy: out (in the same
/// reload that puts the previous one back) → drain → restart → ready → back in. n + 1
/// reloads for n serving copies. A restart or wait that fails ends the run there.
/// `joins_pending`: membership changes already in the list wait for the next reload.
///
/// Behind nginx, a copy that is its role's only serving one (per `roles`) is not taken
/// out with nothing left to answer: a temporary extra copy serves while it restarts
/// ([`Alone::Surge`]), or, for a role that must run as one copy, it restarts in place
/// ([`Alone::InPlace`]).
pub fn roll(
    steps: &mut Vec<Step>,
    copies: &[(&str, Reason)],
    seen: &Observed,
    managed: bool,
    joins_pending: bool,
    roles: &[RoleShape],
) {
    type Copies<'c> = Vec<&'c (&'c str, Reason)>;
    let (idle, busy): (Copies, Copies) = if managed {
        copies.iter().partition(|(n, _)| !serving(seen, n))
    } else {
        (Vec::new(), copies.iter().collect())
    };
    let mut pending = joins_pending;
    // Simulators first, in place and out of nginx's sight.
    let (simulators, idle): (Copies, Copies) =
        idle.into_iter().partition(|(n, _)| is_simulator(roles, n));
    let (more, busy): (Copies, Copies) =
        busy.into_iter().partition(|(n, _)| is_simulator(roles, n));
    for (name, reason) in simulators.iter().chain(&more) {
        steps.push(Step::new(
            copy(|instance| Action::InPlace { instance }, name),
            Reason::Simulator,
        ));
        restart_and_wait(steps, name, reason, false);
    }
    for (name, reason) in &idle {
        steps.push(Step::new(
            copy(|instance| Action::NothingToDrain { instance }, name),
            reason.clone(),
        ));
        restart_and_wait(steps, name, reason, managed);
        pending = managed;
    }
    for (name, reason) in &busy {
        match alone(roles, seen, copies, name).filter(|_| managed) {
            Some(Alone::Surge(extra)) => {
                surge(steps, name, reason, extra);
                pending = false;
                continue;
            }
            Some(Alone::Simulator) => continue,
            Some(Alone::InPlace(why)) => {
                steps.push(Step::new(
                    copy(|instance| Action::InPlace { instance }, name),
                    Reason::OneCopy(why.clone()),
                ));
                restart_and_wait(steps, name, reason, false);
                continue;
            }
            None => {}
        }
        if managed {
            steps.push(Step::new(
                copy(|instance| Action::Leave { instance }, name),
                reason.clone(),
            ));
            steps.push(Step::new(reload(), Reason::Stopping));
            steps.push(Step::new(Action::Drain, Reason::InFlight));
        }
        restart_and_wait(steps, name, reason, managed);
        pending = managed;
    }
    if pending {
        steps.push(Step::new(reload(), Reason::Routing));
    }
}

/// The surge of `name`, its role's only serving copy: `extra` starts and is waited for
/// (out of its upstream), goes in as `name` goes out (one reload, so the upstream always
/// has a ready copy), `name` is drained, restarted, waited for, and goes back in as
/// `extra` goes out (one reload); `extra` is drained, stopped, leaves the nginx config
/// and is retired. Two reloads, as for any one copy rolled; no request meets an empty
/// upstream.
fn surge(steps: &mut Vec<Step>, name: &str, reason: &Reason, extra: &str) {
    let why = Reason::Surge(name.to_string());
    steps.push(Step::halting(
        Action::SurgeStart {
            instance: extra.to_string(),
            beside: name.to_string(),
        },
        why.clone(),
    ));
    steps.push(Step::halting(
        copy(|instance| Action::SurgeReady { instance }, extra),
        why,
    ));
    steps.push(Step::new(
        copy(|instance| Action::Join { instance }, extra),
        Reason::Routing,
    ));
    steps.push(Step::new(
        copy(|instance| Action::Leave { instance }, name),
        reason.clone(),
    ));
    steps.push(Step::new(reload(), Reason::Stopping));
    steps.push(Step::new(Action::Drain, Reason::InFlight));
    restart_and_wait(steps, name, reason, true);
    steps.push(Step::new(
        copy(|instance| Action::Leave { instance }, extra),
        Reason::SurgeDone,
    ));
    steps.push(Step::new(reload(), Reason::Stopping));
    steps.push(Step::new(Action::Drain, Reason::InFlight));
    let last: [fn(String) -> Action; 3] = [
        |instance| Action::Stop { instance },
        |instance| Action::Unlist { instance },
        |instance| Action::Retire { instance },
    ];
    for a in last {
        steps.push(Step::new(copy(a, extra), Reason::SurgeDone));
    }
}

fn reload() -> Action {
    Action::Reload {
        note: None,
        best_effort: false,
    }
}

fn restart_and_wait(steps: &mut Vec<Step>, name: &str, reason: &Reason, managed: bool) {
    steps.push(Step::halting(
        copy(|instance| Action::Restart { instance }, name),
        reason.clone(),
    ));
    steps.push(Step::halting(
        copy(|instance| Action::WaitReady { instance }, name),
        reason.clone(),
    ));
    if managed {
        steps.push(Step::new(
            copy(|instance| Action::Join { instance }, name),
            Reason::Routing,
        ));
    }
}

/// `restart [--rolling]`: behind nginx (or asked to roll) a roll; otherwise each copy
/// restarts and is waited for in turn, a failure of one not stopping the others.
/// `roles`: the shapes of the roles of `wants` (see [`roll`]).
pub fn restart(
    wants: &[Want],
    seen: &Observed,
    managed: bool,
    rolling: bool,
    roles: &[RoleShape],
) -> Vec<Step> {
    let mut steps = vec![Step::new(Action::Render, Reason::Declared)];
    if rolling || managed {
        let copies: Vec<(&str, Reason)> = wants
            .iter()
            .map(|w| (w.name.as_str(), Reason::OperatorRestart))
            .collect();
        roll(&mut steps, &copies, seen, managed, false, roles);
        return steps;
    }
    for w in wants {
        steps.push(Step::new(
            copy(|instance| Action::Restart { instance }, &w.name),
            Reason::OperatorRestart,
        ));
        steps.push(Step::new(
            copy(|instance| Action::WaitReady { instance }, &w.name),
            Reason::OperatorRestart,
        ));
    }
    steps
}

/// `down`: behind nginx every copy leaves first (one reload, drain); copies the plan no
/// longer declares stop; then the rest, dependants first (the copies of one rank
/// together); the stopped ones leave nginx (no reload: they were `down` already);
/// undeclared copies are retired. `copies`: name and start rank, in start order;
/// `unrouted`: those in no upstream (simulators), which get no nginx step.
pub fn down(
    copies: &[(String, usize)],
    seen: &Observed,
    managed: bool,
    unrouted: &[String],
) -> Vec<Step> {
    let routed = |name: &String| !unrouted.contains(name);
    let mut steps = Vec::new();
    let best_effort = |note: &str| Action::Reload {
        note: Some(note.to_string()),
        best_effort: true,
    };
    if managed {
        for (name, _) in copies.iter().filter(|(n, _)| routed(n)) {
            steps.push(Step::new(
                copy(|instance| Action::Leave { instance }, name),
                Reason::Stopping,
            ));
        }
        steps.push(Step::new(
            best_effort("copies to stop marked down"),
            Reason::Stopping,
        ));
        steps.push(Step::new(Action::Drain, Reason::InFlight));
    }
    for u in seen.undeclared.iter().filter(|u| u.running) {
        steps.push(Step::new(
            copy(|instance| Action::StopUndeclared { instance }, &u.name),
            Reason::Undeclared,
        ));
    }
    let mut by_rank: Vec<(usize, Vec<&str>)> = Vec::new();
    for (name, rank) in copies.iter().rev() {
        match by_rank.iter_mut().find(|(r, _)| r == rank) {
            Some((_, v)) => v.push(name),
            None => by_rank.push((*rank, vec![name])),
        }
    }
    by_rank.sort_by_key(|(r, _)| std::cmp::Reverse(*r));
    for (_, group) in by_rank {
        let mut stop = Vec::new();
        for name in group {
            match seen.holders.get(name).unwrap_or(&Seen::Absent) {
                Seen::Absent => steps.push(Step::new(
                    copy(|instance| Action::Keep { instance }, name),
                    Reason::NotRunning,
                )),
                Seen::Running { .. } | Seen::Silent => stop.push(name.to_string()),
            }
        }
        if !stop.is_empty() {
            steps.push(Step::new(
                Action::StopTogether { instances: stop },
                Reason::OperatorDown,
            ));
        }
    }
    if managed {
        for (name, _) in copies.iter().filter(|(n, _)| routed(n)) {
            steps.push(Step::new(
                copy(|instance| Action::Drop { instance }, name),
                Reason::Stopped,
            ));
        }
        steps.push(Step::new(
            best_effort("stopped copies out of their upstreams"),
            Reason::Stopped,
        ));
    }
    for u in &seen.undeclared {
        steps.push(Step::new(
            copy(|instance| Action::Retire { instance }, &u.name),
            Reason::Undeclared,
        ));
    }
    steps
}

/// `scale`'s steps in two runs: `before` with the plan from before the edit (the only
/// one that still knows the removed copies), `after` with the edited plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleSteps {
    pub before: Vec<Step>,
    pub after: Vec<Step>,
}

impl ScaleSteps {
    /// Both runs' steps in order (for a listing).
    pub fn all(&self) -> Vec<Step> {
        self.before.iter().chain(&self.after).cloned().collect()
    }
}

/// `scale`: removed copies (highest number first) are marked down with one reload,
/// drained, stopped and retired; added copies start out of their upstream, are waited
/// for, and all the ready ones go in with one reload — the render that also drops the
/// removed copies' `down` lines (which needs no reload of its own).
pub fn scale(removed: &[String], added: &[String], managed: bool) -> ScaleSteps {
    let mut before = Vec::new();
    if !removed.is_empty() {
        if managed {
            for name in removed {
                before.push(Step::new(
                    copy(|instance| Action::Leave { instance }, name),
                    Reason::ScaledAway,
                ));
            }
            before.push(Step::new(reload(), Reason::Stopping));
            before.push(Step::new(Action::Drain, Reason::InFlight));
        }
        for name in removed {
            before.push(Step::new(
                copy(|instance| Action::Stop { instance }, name),
                Reason::ScaledAway,
            ));
        }
    }
    let mut after = vec![Step::new(Action::Render, Reason::Declared)];
    for name in removed {
        after.push(Step::new(
            copy(|instance| Action::Retire { instance }, name),
            Reason::ScaledAway,
        ));
    }
    if added.is_empty() {
        if managed {
            after.push(Step::new(
                Action::Reload {
                    note: Some("removed copies dropped from their upstream".into()),
                    best_effort: false,
                },
                Reason::ScaledAway,
            ));
        }
        return ScaleSteps { before, after };
    }
    if managed {
        for name in added {
            after.push(Step::new(
                copy(|instance| Action::KeepOut { instance }, name),
                Reason::NotRunning,
            ));
        }
    }
    for name in added {
        after.push(Step::halting(
            copy(|instance| Action::Start { instance }, name),
            Reason::ScaledUp,
        ));
    }
    for name in added {
        after.push(Step::new(
            copy(|instance| Action::WaitReady { instance }, name),
            Reason::JustStarted,
        ));
    }
    if managed {
        for name in added {
            after.push(Step::new(
                copy(|instance| Action::Join { instance }, name),
                Reason::Routing,
            ));
        }
        after.push(Step::new(reload(), Reason::Routing));
    }
    ScaleSteps { before, after }
}

#[cfg(test)]
mod tests;
