//! The executor: runs a list of steps in order, emitting an event per outcome; it never decides.
//!
//! The only judgement left here is mechanical and stated on [`Step::halts`]: after a
//! halting step fails, the copy is kept out of its upstream, the membership changes
//! queued so far are applied, and every later step is skipped.

use super::events::{Event, Outcome};
use super::holders::{self, Action as Done, Change, Settled, Update};
use super::step::{Action, Reason, Step};
use super::upstream;
use crate::nginx::Applied;
use gridctl_config::plan::{InstancePlan, Plan};
use gridctl_config::render::{self, Membership, RenderedInstance};
use gridctl_config::templates::Templates;
use gridctl_wire::protocol::InstanceState;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// What the executor works with.
pub struct Context<'a> {
    pub plan: &'a Plan,
    /// Needed only when nginx is managed (`down` of a grid without it loads none).
    pub templates: Option<&'a Templates>,
    pub rendered: &'a [RenderedInstance],
    /// When the command started (events carry the time since).
    pub started: Instant,
}

/// What a run left: the copies that did not end ready (or failed), in the order seen.
#[derive(Debug, Default)]
pub struct Report {
    pub failures: Vec<Settled>,
    /// Undeclared copies that could not be retired, and why (the caller says how bad).
    pub unretired: Vec<String>,
}

/// A failure that stops the run before its steps could be tried (the tree not written).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

struct Run<'a, 'e> {
    cx: &'a Context<'a>,
    emit: &'e mut dyn FnMut(Event),
    step: usize,
    phase: &'static str,
    /// Why the current step acts, when `up` decided it (see [`Event::why`]).
    why: Option<String>,
    /// Membership changes waiting for the next reload.
    pending: Vec<(String, Membership)>,
    /// The last reload, and whether it marked copies down (a drain must follow).
    last_reload: Option<(Applied, bool)>,
    failed: BTreeSet<String>,
    report: Report,
}

/// Runs `steps` in order; every outcome goes to `emit` as it happens.
pub fn run(cx: &Context, steps: &[Step], emit: &mut dyn FnMut(Event)) -> Result<Report, Fatal> {
    let mut r = Run {
        cx,
        emit,
        step: 0,
        phase: "",
        why: None,
        pending: Vec::new(),
        last_reload: None,
        failed: BTreeSet::new(),
        report: Report::default(),
    };
    let mut halted = false;
    let mut i = 0;
    while i < steps.len() {
        let s = &steps[i];
        r.step = i;
        r.phase = s.action.kind();
        r.why = match &s.reason {
            Reason::ConfigChanged(_) => Some(s.reason.to_string()),
            _ => None,
        };
        if halted {
            r.emit(s.instance(), Outcome::Skipped);
            i += 1;
            continue;
        }
        // Copies started together are waited for together (in order of the list).
        let group = steps[i..]
            .iter()
            .take_while(|s| matches!(s.action, Action::WaitReady { .. }) && !s.halts)
            .count();
        if group > 1 {
            r.wait_together(i, &steps[i..i + group])?;
            i += group;
            continue;
        }
        i += 1;
        let ok = r.one(s)?;
        // nginx refusing a config ends the run too (every later step assumes it), unless
        // the step says it is best effort.
        let nginx_failed = matches!(
            s.action,
            Action::Reload {
                best_effort: false,
                ..
            }
        );
        if !ok && (s.halts || nginx_failed) {
            halted = true;
            if !nginx_failed {
                r.halt(s);
            }
        }
    }
    Ok(r.report)
}

impl Run<'_, '_> {
    fn emit(&mut self, instance: Option<&str>, outcome: Outcome) {
        let e = Event {
            step: self.step,
            phase: self.phase,
            instance: instance.map(str::to_string),
            elapsed: self.cx.started.elapsed(),
            outcome,
            why: self.why.clone(),
        };
        (self.emit)(e);
    }

    fn fail(&mut self, name: &str, state: InstanceState, detail: String, took: Duration) {
        self.failed.insert(name.to_string());
        self.report.failures.push(Settled {
            name: name.to_string(),
            state,
            detail,
            took,
        });
    }

    /// Runs one step; `false` when it failed.
    fn one(&mut self, s: &Step) -> Result<bool, Fatal> {
        let cx = self.cx;
        match &s.action {
            Action::Render => {
                // Every file is read and compared before it is written: a thousand
                // trees on a few threads, a slice each (the trees share nothing but
                // directories, whose creation tolerates a race).
                let slices: Vec<&[RenderedInstance]> = cx.rendered.chunks(32).collect();
                holders::par_map(&slices, holders::PARALLEL, |s| render::write_instances(s))
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| Fatal(format!("cannot write the rendered tree: {e}")))?;
                render::ensure_private_dir(&cx.plan.sockets_dir())
                    .map_err(|e| Fatal(format!("cannot create the socket directory: {e}")))?;
                self.emit(None, Outcome::Rendered);
            }
            Action::Keep { instance } => {
                // `down` keeps what is not running: say it is stopped, not "unchanged".
                let done = match s.reason {
                    Reason::NotRunning => Done::AlreadyStopped,
                    _ => Done::Unchanged,
                };
                self.emit(Some(instance), Outcome::Acted(done));
            }
            Action::Unreachable { instance } => {
                let why = s.reason.to_string();
                self.emit(Some(instance), Outcome::Acted(Done::Failed(why.clone())));
                self.fail(instance, InstanceState::Stopped, why, Duration::ZERO);
                return Ok(false);
            }
            Action::Start { instance } => {
                let inst = find(cx.plan, instance)?;
                self.emit(Some(instance), Outcome::Began);
                if let Err(why) = before_start(cx.plan, inst) {
                    return Ok(self.acted(instance, Done::Failed(why)));
                }
                let done = match holders::start(inst) {
                    Ok(_) => Done::Started,
                    Err(e) => Done::Failed(e),
                };
                return Ok(self.acted(instance, done));
            }
            Action::StartTogether { instances } => return self.start_together(instances),
            Action::WaitReady { instance } => {
                let st = self.wait_ready(find(cx.plan, instance)?);
                if st.state != InstanceState::Ready {
                    if s.halts {
                        // The roll's report names the copy; it is not counted twice.
                        self.failed.insert(instance.clone());
                        let detail = if st.detail.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", st.detail)
                        };
                        let state = st.state.as_str();
                        self.halted_with(
                            "rolling restart",
                            format!(
                                "{instance} did not become ready ({state}{detail}); \
                                 it stays out of its upstream and the roll stopped"
                            ),
                        );
                    } else {
                        self.failed.insert(instance.clone());
                        self.report.failures.push(st);
                    }
                    return Ok(false);
                }
            }
            Action::Restart { instance } => {
                let inst = find(cx.plan, instance)?;
                let done = self.watch_one(inst, |inst, changed| {
                    holders::watched(cx.plan, inst, changed, || holders::restart(cx.plan, inst))
                });
                if let (Done::Failed(why), true) = (&done, s.halts) {
                    let why = why.clone();
                    self.emit(Some(instance), Outcome::Acted(done));
                    self.failed.insert(instance.clone());
                    self.halted_with("rolling restart", format!("{instance}: {why}"));
                    return Ok(false);
                }
                return Ok(self.acted(instance, done));
            }
            Action::Stop { instance } => {
                let inst = find(cx.plan, instance)?;
                let done = self.watch_one(inst, |inst, changed| {
                    holders::watched(cx.plan, inst, changed, || holders::stop(cx.plan, inst))
                });
                return Ok(self.acted(instance, done));
            }
            Action::StopTogether { instances } => return self.stop_together(instances),
            Action::StopUndeclared { instance } => {
                let done = match holders::stop_socket(&cx.plan.sockets_dir().join(instance)) {
                    Ok(()) => Done::Stopped,
                    Err(e) => Done::Failed(e),
                };
                return Ok(self.acted(instance, done));
            }
            Action::Leave { instance } => {
                self.pending.push((instance.clone(), Membership::Draining));
                self.emit(Some(instance), Outcome::Queued);
            }
            Action::Join { instance } => {
                let m = if self.failed.contains(instance) {
                    Membership::Out
                } else {
                    Membership::In
                };
                self.pending.push((instance.clone(), m));
                self.emit(Some(instance), Outcome::Queued);
            }
            Action::Drop { instance } => {
                // A copy that failed to stop stays marked down: it may still answer.
                if !self.failed.contains(instance) {
                    self.pending.push((instance.clone(), Membership::Out));
                }
                self.emit(Some(instance), Outcome::Queued);
            }
            Action::KeepOut { instance } => {
                crate::nginx::record(cx.plan, &[(instance.as_str(), Membership::Out)])
                    .map_err(|e| Fatal(format!("nginx: {e}")))?;
                self.emit(Some(instance), Outcome::Queued);
            }
            Action::NothingToDrain { instance } => {
                self.emit(Some(instance), Outcome::NothingToDrain);
            }
            Action::Reload { note, best_effort } => {
                return Ok(self.reload(note.clone(), *best_effort))
            }
            Action::Drain => {
                let waited = match &self.last_reload {
                    // Unchanged with copies marked down: an interrupted roll marked them
                    // already; nginx may still be sending them requests.
                    Some((a, takes_out)) => {
                        a.reloaded() || (*a == Applied::Unchanged && *takes_out)
                    }
                    None => false,
                };
                if waited {
                    if let Some(n) = &cx.plan.nginx {
                        self.emit(None, Outcome::Began);
                        std::thread::sleep(Duration::from_secs_f64(n.drain_secs));
                    }
                }
                self.emit(None, Outcome::Drained { waited });
            }
            // A copy this run failed to stop still owns its files.
            Action::Retire { instance } if self.failed.contains(instance) => {
                self.emit(Some(instance), Outcome::Skipped);
            }
            Action::Retire { instance } => match holders::retire(cx.plan, instance) {
                Ok(logs) => self.emit(Some(instance), Outcome::Retired { logs }),
                Err(e) => {
                    self.report.unretired.push(format!("{instance}: {e}"));
                    self.emit(Some(instance), Outcome::RetireFailed(e));
                    return Ok(false);
                }
            },
            Action::SurgeStart { instance, beside } => {
                return self.surge_start(instance, beside);
            }
            Action::SurgeReady { instance } => return self.surge_ready(instance, &s.reason),
            // A surge copy that did not stop may still answer: it stays marked down.
            Action::Unlist { instance } if self.failed.contains(instance) => {
                self.emit(Some(instance), Outcome::Skipped);
            }
            Action::Unlist { instance } => self.unlist(instance),
            Action::InPlace { instance } => {
                let why = match &s.reason {
                    Reason::OneCopy(why) => why.clone(),
                    other => other.to_string(),
                };
                self.emit(Some(instance), Outcome::InPlace(why));
            }
        }
        Ok(true)
    }

    /// Emits what was done to a copy; a failure is counted. `false` when it failed.
    fn acted(&mut self, instance: &str, done: Done) -> bool {
        let failed = match &done {
            Done::Failed(why) => Some(why.clone()),
            _ => None,
        };
        self.emit(Some(instance), Outcome::Acted(done));
        match failed {
            Some(why) => {
                self.fail(instance, InstanceState::Stopped, why, Duration::ZERO);
                false
            }
            None => true,
        }
    }

    /// Runs `f` for each copy on up to `workers` threads: each copy's `Began` first, its
    /// holder's changes as `Waiting` while `f` runs, its result to `done` in list order.
    fn watch<R: Send>(
        &mut self,
        insts: &[&InstancePlan],
        workers: usize,
        f: impl Fn(&InstancePlan, Change) -> R + Sync,
        mut done: impl FnMut(&mut Self, usize, R),
    ) {
        for inst in insts {
            self.emit(Some(&inst.name), Outcome::Began);
        }
        holders::par_for_each_watched(
            insts,
            workers,
            |inst, changed| f(inst, changed),
            |k, update| match update {
                Update::Changed(state, detail) => {
                    // A holder's detail can quote a console line: no C1 control in
                    // any progress line (printed, live or JSON).
                    let detail = gridctl_wire::terminal::text_without_c1(&detail).into_owned();
                    self.emit(Some(&insts[k].name), Outcome::Waiting { state, detail })
                }
                Update::Done(r) => done(self, k, r),
            },
        );
    }

    /// Waits for one copy to settle, watched, and reports how it settled.
    fn wait_ready(&mut self, inst: &InstancePlan) -> Settled {
        let plan = self.cx.plan;
        let st = self.watch_one(inst, |inst, changed| {
            holders::wait_settled(plan, inst, ready_deadline(plan, inst), changed)
        });
        self.emit(
            Some(&inst.name),
            Outcome::Settled {
                state: st.state,
                detail: st.detail.clone(),
                took: st.took,
            },
        );
        st
    }

    /// [`Run::watch`] of one copy, its result returned.
    fn watch_one<R: Send>(
        &mut self,
        inst: &InstancePlan,
        f: impl Fn(&InstancePlan, Change) -> R + Sync,
    ) -> R {
        let mut out = None;
        self.watch(&[inst], 1, f, |_, _, r| out = Some(r));
        match out {
            Some(r) => r,
            // par_for_each_watched hands back every item's result (a panic is raised again).
            None => unreachable!("a watched step always hands back its result"),
        }
    }

    /// What a wait ended in, reported; a copy not ready is counted (the run goes on).
    fn settled(&mut self, instance: &str, st: Settled) -> bool {
        self.emit(
            Some(instance),
            Outcome::Settled {
                state: st.state,
                detail: st.detail.clone(),
                took: st.took,
            },
        );
        if st.state == InstanceState::Ready {
            return true;
        }
        self.failed.insert(instance.to_string());
        self.report.failures.push(st);
        false
    }

    /// Consecutive (non-halting) waits, from `first`, on a few threads: a thousand copies
    /// started together are mostly ready by now, and asking them one after another was
    /// most of the wait. Each is reported in list order as soon as it settles.
    fn wait_together(&mut self, first: usize, steps: &[Step]) -> Result<(), Fatal> {
        let cx = self.cx;
        let mut insts = Vec::new();
        for s in steps {
            if let Action::WaitReady { instance } = &s.action {
                insts.push(find(cx.plan, instance)?);
            }
        }
        self.watch(
            &insts,
            holders::PARALLEL,
            |inst, changed| {
                holders::wait_settled(cx.plan, inst, ready_deadline(cx.plan, inst), changed)
            },
            |run, k, st| {
                run.step = first + k;
                run.settled(&insts[k].name, st);
            },
        );
        Ok(())
    }

    /// Holders are launched on a few threads: each launch waits for its holder's report.
    fn start_together(&mut self, names: &[String]) -> Result<bool, Fatal> {
        let cx = self.cx;
        let mut insts = Vec::new();
        for n in names {
            insts.push(find(cx.plan, n)?);
        }
        for inst in &insts {
            self.emit(Some(&inst.name), Outcome::Began);
        }
        let mut launched = Vec::with_capacity(insts.len());
        holders::par_for_each(
            &insts,
            holders::PARALLEL,
            |inst| before_start(cx.plan, inst).and_then(|()| holders::start(inst)),
            |k, r| launched.push((insts[k], r)),
        );
        let mut all = true;
        for (inst, result) in launched {
            let done = match result {
                Ok(_) => Done::Started,
                Err(e) => Done::Failed(e),
            };
            all &= self.acted(&inst.name, done);
        }
        Ok(all)
    }

    /// Copies of one rank stop in parallel; each is reported once all have.
    fn stop_together(&mut self, names: &[String]) -> Result<bool, Fatal> {
        let cx = self.cx;
        let mut insts = Vec::new();
        for n in names {
            insts.push(find(cx.plan, n)?);
        }
        // A stop mostly waits for the copy to exit: many at once, but not a thread and
        // a socket per copy (a thousand of each ran into the fd limit).
        let mut stopped = Vec::with_capacity(insts.len());
        self.watch(
            &insts,
            holders::PARALLEL_STOPS,
            |inst, changed| {
                holders::watched(cx.plan, inst, changed, || holders::stop(cx.plan, inst))
            },
            |_, k, done| stopped.push((k, done)),
        );
        let mut all = true;
        for (k, done) in stopped {
            all &= self.acted(&insts[k].name, done);
        }
        Ok(all)
    }

    /// Applies the queued membership changes with one render (a reload only if routing changed).
    fn reload(&mut self, note: Option<String>, best_effort: bool) -> bool {
        let changes = std::mem::take(&mut self.pending);
        let note = note.unwrap_or_else(|| upstream::describe(&changes));
        let takes_out = changes.iter().any(|(_, m)| *m == Membership::Draining);
        let applied = match self.cx.templates {
            Some(t) => upstream::apply(self.cx.plan, t, &changes),
            None => Ok(Applied::NotManaged),
        };
        match applied {
            Ok(applied) => {
                self.last_reload = Some((applied.clone(), takes_out));
                self.emit(None, Outcome::Nginx { applied, note });
                true
            }
            Err(e) => {
                self.last_reload = None;
                let why = format!("nginx: {e}");
                self.emit(
                    None,
                    Outcome::NginxFailed {
                        why: why.clone(),
                        warning: best_effort,
                    },
                );
                if best_effort {
                    return true;
                }
                self.halted_with("nginx", why);
                false
            }
        }
    }

    /// A failure that stopped the run: the roll's, or nginx's (`what`).
    fn halted_with(&mut self, what: &str, detail: String) {
        self.report.failures.push(Settled {
            name: what.into(),
            state: InstanceState::Stopped,
            detail,
            took: Duration::ZERO,
        });
    }

    /// After a halting failure: the copy stays out; what was queued is applied.
    fn halt(&mut self, s: &Step) {
        if self.cx.plan.nginx.is_none() {
            return;
        }
        // A surge copy that failed was removed, and nginx rendered without it (with
        // what was queued), by its own step.
        if matches!(
            s.action,
            Action::SurgeStart { .. } | Action::SurgeReady { .. }
        ) {
            return;
        }
        if let Some(name) = s.instance() {
            self.pending.push((name.to_string(), Membership::Out));
        }
        let changes = std::mem::take(&mut self.pending);
        let Some(t) = self.cx.templates else {
            return;
        };
        if let Ok(applied) = upstream::apply(self.cx.plan, t, &changes) {
            let note = upstream::describe(&changes);
            self.emit(s.instance(), Outcome::Nginx { applied, note });
        }
    }
}

/// The surge: a temporary extra copy of a role whose only serving copy restarts. The
/// run's plan is the declared one plus that copy (see `reconcile::surge`), so every
/// other step finds it and renders nginx with it; only [`Action::Unlist`] renders from
/// the declared plan alone.
impl Run<'_, '_> {
    /// Writes the surge copy's tree, records it out of its upstream, starts it. On a
    /// failure it is removed again and the run ends (`beside` was not touched).
    fn surge_start(&mut self, name: &str, beside: &str) -> Result<bool, Fatal> {
        let cx = self.cx;
        let inst = find(cx.plan, name)?;
        let Some(t) = cx.templates else {
            return Err(Fatal(format!("cannot render {name}: no templates loaded")));
        };
        let started = render::render_instance(cx.plan, t, inst)
            .map_err(|d| format!("cannot render its tree: {}", d.message))
            .and_then(|r| {
                render::write_instances(std::slice::from_ref(&r))
                    .map_err(|e| format!("cannot write its tree: {e}"))
            })
            .and_then(|_| {
                crate::nginx::record(cx.plan, &[(name, Membership::Out)])
                    .map_err(|e| format!("nginx: {e}"))
            })
            .and_then(|_| holders::start(inst));
        match started {
            Ok(_) => {
                self.emit(Some(name), Outcome::Acted(Done::Started));
                Ok(true)
            }
            Err(why) => {
                self.emit(Some(name), Outcome::Acted(Done::Failed(why.clone())));
                self.remove_surge(
                    name,
                    format!(
                        "{name}, a temporary copy to serve while {beside} restarts, could not \
                         start ({why}); it was removed, {beside} keeps serving and was not restarted"
                    ),
                );
                Ok(false)
            }
        }
    }

    /// Waits for the surge copy; one that does not become ready is removed and ends the run.
    fn surge_ready(&mut self, name: &str, reason: &Reason) -> Result<bool, Fatal> {
        let cx = self.cx;
        let st = self.wait_ready(find(cx.plan, name)?);
        if st.state == InstanceState::Ready {
            return Ok(true);
        }
        let beside = match reason {
            Reason::Surge(beside) => beside.clone(),
            _ => "the copy it stood in for".into(),
        };
        let detail = if st.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", st.detail)
        };
        self.remove_surge(
            name,
            format!(
                "{name}, a temporary copy to serve while {beside} restarts, did not become \
                 ready ({}{detail}); it was stopped and removed, {beside} keeps serving and \
                 was not restarted",
                st.state.as_str()
            ),
        );
        Ok(false)
    }

    /// Stops a surge copy that failed, retires its tree, renders nginx without it (and
    /// with what was queued), and records why the run ends.
    fn remove_surge(&mut self, name: &str, why: String) {
        let cx = self.cx;
        self.failed.insert(name.to_string());
        if let Some(inst) = cx.plan.instance(name) {
            let done = holders::stop(cx.plan, inst);
            if done != Done::Unchanged {
                self.emit(Some(name), Outcome::Acted(done));
            }
        }
        match holders::retire(cx.plan, name) {
            Ok(logs) => self.emit(Some(name), Outcome::Retired { logs }),
            Err(e) => {
                self.report.unretired.push(format!("{name}: {e}"));
                self.emit(Some(name), Outcome::RetireFailed(e));
            }
        }
        self.unlist(name);
        self.halted_with("rolling restart", why);
    }

    /// Renders nginx from the declared plan (the run's without `name`), applying what
    /// was queued: the surge copy leaves the config. A refusal is a warning: the copy
    /// stays listed `down`, and the next render drops it.
    fn unlist(&mut self, name: &str) {
        let Some(t) = self.cx.templates else {
            return;
        };
        let declared = gridctl_config::planner::without_copy(self.cx.plan, name);
        let changes = std::mem::take(&mut self.pending);
        let mut note = upstream::describe(&changes);
        if !note.is_empty() {
            note.push_str(", ");
        }
        note.push_str(&format!("{name} removed"));
        match upstream::apply(&declared, t, &changes) {
            Ok(applied) => self.emit(Some(name), Outcome::Nginx { applied, note }),
            Err(e) => self.emit(
                Some(name),
                Outcome::NginxFailed {
                    why: format!("nginx: {e}"),
                    warning: true,
                },
            ),
        }
    }
}

/// What must hold before a copy starts: a simulator's estate owner is a user of the grid
/// (`estate::check_owner`); a Robust copy needs nothing.
fn before_start(plan: &Plan, inst: &InstancePlan) -> Result<(), String> {
    match plan.role(&inst.role).and_then(|r| r.simulator.as_ref()) {
        Some(sim) => super::estate::check_owner(plan, sim),
        None => Ok(()),
    }
}

fn find<'p>(plan: &'p Plan, name: &str) -> Result<&'p InstancePlan, Fatal> {
    plan.instance(name)
        .ok_or_else(|| Fatal(format!("the plan has no instance `{name}`")))
}

fn ready_deadline(plan: &Plan, inst: &InstancePlan) -> Duration {
    plan.role(&inst.role)
        .map(|r| r.supervise.ready_timeout)
        .unwrap_or(Duration::from_secs(120))
        + Duration::from_secs(2)
}
