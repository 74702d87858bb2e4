//! `up`, `down` and `restart [--rolling]`: small callers of the reconciler (observe → diff → steps → execute).
//!
//! Each takes the grid lock before it reads the manifest (a dry run takes none and
//! writes nothing), asks the diff for the steps, and either prints them (`--dry-run`)
//! or hands them to the executor, whose events the printer turns into progress lines.

use crate::load::{load_plan, locked_plan, templates};
use crate::lock::GridLock;
use crate::outcome::{Failure, Outcome};
use crate::reconcile::events::Sink;
use crate::reconcile::execute::{self, Context, Report};
use crate::reconcile::step::Step;
use crate::reconcile::{diff, observe, print, surge};
use gridctl_config::diagnostic::Diagnostic;
use gridctl_config::plan::{InstancePlan, Plan};
use gridctl_config::render::{self, RenderedInstance};
use gridctl_config::templates::Templates;
use gridctl_wire::human;
use std::path::Path;
use std::time::Instant;

fn failed(msg: impl Into<String>) -> Failure {
    Failure::failed(Diagnostic::error(msg))
}

fn select<'p>(plan: &'p Plan, names: &[String]) -> Result<Vec<&'p InstancePlan>, Failure> {
    plan.select(names).map_err(|e| Failure {
        diagnostics: vec![Diagnostic::error(e)],
        code: crate::outcome::EXIT_USAGE,
    })
}

/// The plan, under the grid lock unless this is a dry run.
fn plan_for(file: &Path, dry_run: bool) -> Result<(Option<GridLock>, Plan), Failure> {
    if dry_run {
        return Ok((None, load_plan(file)?));
    }
    let (lock, plan) = locked_plan(file)?;
    Ok((Some(lock), plan))
}

/// How a command was asked to run.
#[derive(Clone, Copy, Default)]
pub struct Mode {
    /// `--dry-run`: print the steps, act on nothing.
    pub dry_run: bool,
    /// `--json`: steps or events as JSON lines instead of progress lines.
    pub json: bool,
    /// `--quiet`: nothing on stdout; failures and escalations still reach stderr.
    pub quiet: bool,
    /// The live display the CLI offers on a terminal (the control layer never draws).
    pub live: Option<fn() -> Box<dyn Sink>>,
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mode")
            .field("dry_run", &self.dry_run)
            .field("json", &self.json)
            .field("quiet", &self.quiet)
            .field("live", &self.live.is_some())
            .finish()
    }
}

impl Mode {
    /// Whether progress and summaries go to stdout (not `--json`, not `--quiet`).
    pub fn talks(&self) -> bool {
        !self.json && !self.quiet
    }

    /// Where this run's events go.
    fn sink(&self) -> Box<dyn Sink> {
        match (self.json, self.quiet, self.live) {
            (true, _, _) => Box::new(print::Json),
            (false, true, _) => Box::new(print::Quiet::default()),
            (false, false, Some(live)) => live(),
            (false, false, None) => Box::new(print::Lines::default()),
        }
    }
}

/// The closing line of a command that worked: `6 instance(s) up in 1s 200ms`.
fn summary(mode: Mode, count: usize, what: &str, started: Instant) {
    if mode.talks() {
        print::out(&format!(
            "{count} instance(s) {what} in {}\n",
            human::duration(started.elapsed())
        ));
    }
}

/// Prints the steps of a dry run.
pub(crate) fn print_dry_run(steps: &[Step], json: bool) {
    if json {
        print::out(&crate::reconcile::json::steps(steps));
        return;
    }
    print::out(&print::steps(steps));
    print::out(&format!(
        "dry run: {} step(s), nothing was done\n",
        steps.len()
    ));
}

/// Runs the steps, each event to the mode's sink as it comes.
pub(crate) fn execute(cx: &Context, steps: &[Step], mode: Mode) -> Result<Report, Failure> {
    let mut sink = mode.sink();
    let result = execute::run(cx, steps, &mut |e| sink.event(&e));
    sink.finish();
    result.map_err(|e| failed(e.0))
}

/// Refuses to start copies without what reaches their environment (the database
/// secret): every path that may start a copy (up, restart, scale, top's actions, which
/// run these, and `pod run`) checks it the same way, before acting.
pub fn check_can_start(plan: &Plan) -> Result<(), Failure> {
    let mut errors: Vec<Diagnostic> = gridctl_config::check::environment(plan)
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    errors.push(
        Diagnostic::error("nothing was started or restarted")
            .help("`gridctl check` shows every problem"),
    );
    Err(Failure::invalid(errors))
}

/// Prints the steps (dry run) or runs them; `None` after a dry run. Undeclared copies
/// that could not be retired are reported, not failed: the next command retries.
fn converge(run: &Context, steps: &[Step], mode: Mode) -> Result<Option<Report>, Failure> {
    if mode.dry_run {
        print_dry_run(steps, mode.json);
        return Ok(None);
    }
    let report = execute(run, steps, mode)?;
    if !report.unretired.is_empty() {
        crate::outcome::print_diagnostics(&[Diagnostic::error(format!(
            "could not retire {}",
            report.unretired.join("; ")
        ))]);
    }
    if mode.quiet {
    } else if mode.json {
        let reloads = run
            .plan
            .nginx
            .as_ref()
            .map(|_| crate::nginx::reloads_done());
        print::out(&format!(
            "{}\n",
            crate::reconcile::json::summary(&report, reloads)
        ));
    } else {
        print::note_reloads(run.plan);
    }
    Ok(Some(report))
}

/// "name (state: detail)" for the closing error of `up`.
fn state_list(report: &Report) -> String {
    report
        .failures
        .iter()
        .map(|f| {
            let detail = if f.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", f.detail)
            };
            format!("{} ({}{detail})", f.name, f.state.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `up`: start what is missing, keep what runs, roll what changed, drop what is undeclared.
pub fn up(file: &Path, names: &[String], wait: bool, mode: Mode) -> Outcome {
    let dry_run = mode.dry_run;
    let started = Instant::now();
    let (_lock, plan) = plan_for(file, dry_run)?;
    let t = templates(&plan)?;
    check_can_start(&plan)?;
    let rendered = render::render_instances(&plan, &t)?;
    let selected = select(&plan, names)?;
    let mut seen = observe::observe(&plan, &selected, names.is_empty(), !dry_run);
    let options = diff::UpOptions {
        wait,
        managed: plan.nginx.is_some(),
    };
    let roles = role_shapes(&plan, &selected, &mut seen);
    let steps = diff::up(
        &observe::wants(&selected, &rendered),
        &seen,
        options,
        &roles,
    );
    let Some((report, left)) = converge_surged(&plan, &t, &rendered, &steps, started, mode)? else {
        return Ok(());
    };
    if report.failures.is_empty() {
        summary(mode, selected.len(), "up", started);
        return Ok(());
    }
    Err(Failure::failed(
        Diagnostic::error(format!(
            "{} instance(s) not ready: {}{}",
            report.failures.len(),
            state_list(&report),
            left
        ))
        .help("see `gridctl status` and `gridctl logs INSTANCE`"),
    ))
}

/// `down`: out of nginx, drained, stopped (dependants first), undeclared copies retired.
pub fn down(file: &Path, names: &[String], mode: Mode) -> Outcome {
    let dry_run = mode.dry_run;
    let started = Instant::now();
    let (_lock, plan) = plan_for(file, dry_run)?;
    let selected = select(&plan, names)?;
    let t = match plan.nginx {
        Some(_) => Some(templates(&plan)?),
        None => None,
    };
    let seen = observe::observe(&plan, &selected, names.is_empty(), !dry_run);
    let copies: Vec<(String, usize)> = selected
        .iter()
        .map(|i| {
            let rank = plan.role(&i.role).map(|r| r.start_rank).unwrap_or(0);
            (i.name.clone(), rank)
        })
        .collect();
    let unrouted: Vec<String> = selected
        .iter()
        .filter(|i| i.kind == gridctl_config::plan::Kind::Simulator)
        .map(|i| i.name.clone())
        .collect();
    let steps = diff::down(&copies, &seen, plan.nginx.is_some(), &unrouted);
    let run = Context {
        plan: &plan,
        templates: t.as_ref(),
        rendered: &[],
        started,
    };
    let Some(report) = converge(&run, &steps, mode)? else {
        return Ok(());
    };
    if report.failures.is_empty() {
        summary(mode, selected.len(), "down", started);
        return Ok(());
    }
    let list: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.name, f.detail))
        .collect();
    Err(failed(format!("could not stop: {}", list.join("; "))))
}

/// `restart [--rolling]`: behind nginx (or `--rolling`) one copy at a time, out of its
/// upstream while it restarts; otherwise each copy restarts and is waited for.
/// `notify`: first an `alert` countdown of that length in the selected simulators.
pub fn restart(
    file: &Path,
    names: &[String],
    rolling: bool,
    notify: Option<std::time::Duration>,
    mode: Mode,
) -> Outcome {
    let dry_run = mode.dry_run;
    let started = Instant::now();
    let (_lock, plan) = plan_for(file, dry_run)?;
    let t = templates(&plan)?;
    check_can_start(&plan)?;
    let rendered = render::render_instances(&plan, &t)?;
    let selected = select(&plan, names)?;
    let managed = plan.nginx.is_some();
    if rolling && !managed && !dry_run && mode.talks() {
        print::out(
            "note: grid.toml has no [nginx]; copies restart one at a time without draining\n",
        );
    }
    let mut seen = observe::observe(&plan, &selected, false, !dry_run);
    let roles = role_shapes(&plan, &selected, &mut seen);
    let steps = diff::restart(
        &observe::wants(&selected, &rendered),
        &seen,
        managed,
        rolling,
        &roles,
    );
    if let Some(total) = notify {
        // Only simulators that run have users to tell.
        let running: Vec<&InstancePlan> = selected
            .iter()
            .copied()
            .filter(|i| i.kind == gridctl_config::plan::Kind::Simulator)
            .filter(|i| {
                matches!(
                    seen.holders.get(&i.name),
                    Some(observe::Seen::Running { .. })
                )
            })
            .collect();
        if dry_run {
            if !running.is_empty() && mode.talks() {
                print::out(&format!(
                    "first: an alert countdown of {} in {}\n",
                    human::duration(total),
                    running
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        } else {
            crate::notify::countdown(&plan, &running, total, &mut |line| {
                if mode.talks() {
                    print::out(&format!("{line}\n"));
                }
            });
        }
    }
    let Some((report, left)) = converge_surged(&plan, &t, &rendered, &steps, started, mode)? else {
        return Ok(());
    };
    if report.failures.is_empty() {
        summary(mode, selected.len(), "restarted", started);
        return Ok(());
    }
    // A roll's failure says what happened to the roll; a plain restart's, per copy.
    let list: Vec<String> = report
        .failures
        .iter()
        .map(|f| match f.name.as_str() {
            "rolling restart" => f.detail.clone(),
            _ if f.state == gridctl_wire::protocol::InstanceState::Stopped
                && !f.detail.is_empty() =>
            {
                format!("{}: {}", f.name, f.detail)
            }
            _ => format!("{}: {}", f.name, f.state.as_str()),
        })
        .collect();
    let text = list.join("; ");
    let text = format!("{text}{}", left);
    Err(failed(if rolling {
        text
    } else {
        format!("restart incomplete: {text}")
    }))
}

/// Behind nginx, the shapes of the selected copies' roles for a roll (issue 12), with
/// their unselected copies observed (read only) so the diff sees whether they serve.
/// Without nginx none: a roll there is unchanged.
fn role_shapes(
    plan: &Plan,
    selected: &[&InstancePlan],
    seen: &mut observe::Observed,
) -> Vec<diff::RoleShape> {
    if plan.nginx.is_none() {
        return Vec::new();
    }
    let peers = surge::peers(plan, selected);
    if !peers.is_empty() {
        let more = observe::observe(plan, &peers, false, false);
        for (name, s) in more.holders {
            seen.holders.entry(name).or_insert(s);
        }
    }
    // A copy an interrupted command left in the state dir keeps its name: the surge
    // copy takes the next free one.
    let leftovers: Vec<String> = crate::reconcile::holders::undeclared(plan)
        .into_iter()
        .map(|u| u.name)
        .collect();
    surge::shapes(plan, selected, &leftovers)
}

/// Runs `steps` (or lists them, `--dry-run`) with the plan the steps need — grid.toml's,
/// plus any temporary copies they start; with the report, what a failed run left of
/// those copies (empty when nothing). `None` after a dry run.
fn converge_surged(
    plan: &Plan,
    templates: &Templates,
    rendered: &[RenderedInstance],
    steps: &[Step],
    started: Instant,
    mode: Mode,
) -> Result<Option<(Report, String)>, Failure> {
    let surged = surge_plan(plan, steps)?;
    let run = Context {
        plan: surged.as_ref().unwrap_or(plan),
        templates: Some(templates),
        rendered,
        started,
    };
    let Some(report) = converge(&run, steps, mode)? else {
        return Ok(None);
    };
    Ok(Some((report, surge_left(plan, surged.as_ref()))))
}

/// The plan with the temporary copies the steps start (the executor finds them there
/// and renders nginx with them), or `None` when they start none.
fn surge_plan(plan: &Plan, steps: &[Step]) -> Result<Option<Plan>, Failure> {
    surge::plan_for(plan, steps).map_err(|e| failed(format!("cannot plan the temporary copy: {e}")))
}

/// After a failed run: the temporary copies still there (the run stopped before it
/// removed them, e.g. the copy they stood in for did not come back), said plainly — such
/// a copy may be what still serves its role.
fn surge_left(plan: &Plan, surged: Option<&Plan>) -> String {
    let Some(surged) = surged else {
        return String::new();
    };
    let left: Vec<String> = surged
        .instances
        .iter()
        .filter(|i| plan.instance(&i.name).is_none() && i.dir.exists())
        .map(|i| format!("{} (role {})", i.name, i.role))
        .collect();
    if left.is_empty() {
        return String::new();
    }
    format!(
        "; {} still run(s): the temporary copy may be its role's only serving one; the next `gridctl up` stops and removes it",
        left.join(", ")
    )
}
