//! Commands that change a serving grid: `scale`, `nginx reload`, `nginx sync`.

use crate::converge::{execute, print_dry_run, Mode};
use crate::load::{locked_plan, templates};
use crate::nginx;
use crate::outcome::{Failure, Outcome};
use crate::reconcile::execute::Context;
use crate::reconcile::{diff, print, upstream};
use gridctl_config::diagnostic::Diagnostic;
use gridctl_config::plan::Plan;
use gridctl_config::{manifest, planner, render, scale};
use gridctl_files::atomic;
use std::path::Path;

fn failed(msg: impl Into<String>) -> Failure {
    Failure::failed(Diagnostic::error(msg))
}

fn usage(msg: impl Into<String>) -> Failure {
    Failure {
        diagnostics: vec![Diagnostic::error(msg)],
        code: crate::outcome::EXIT_USAGE,
    }
}

pub fn scale(file: &Path, requests: &[String], mode: Mode) -> Outcome {
    let dry_run = mode.dry_run;
    let started = std::time::Instant::now();
    let mut changes = Vec::new();
    for r in requests {
        changes.push(scale::parse_request(r).map_err(usage)?);
    }
    // A request refused by the file as it is now is refused before anything (even the
    // state dir for the lock) is created.
    let current = crate::load::build_plan(file)?;
    let target = std::fs::canonicalize(file)
        .map_err(|e| failed(format!("cannot read `{}`: {e}", file.display())))?;
    let checked = edited(file, &target, &changes)?;
    if dry_run {
        let (_, new, _) = checked;
        if !runs_here(&current) {
            for (role, n) in &changes {
                crate::reconcile::print::out(&format!("grid.toml: {role} instances = {n}\n"));
            }
            crate::reconcile::print::out(&format!(
                "dry run: {NOT_HERE}; grid.toml was not written\n"
            ));
            return Ok(());
        }
        print_dry_run(&scale_steps(&current, &new).all(), false);
        return Ok(());
    }
    // The real edit: one read-modify-write under the grid lock. The text edited is the
    // text read under it, so two `scale` commands can never both start from the same
    // file (each one's change survives the other).
    let (_lock, old) = locked_plan(file)?;
    let (new_text, new, t) = edited(file, &target, &changes)?;
    // Nothing of the grid on this host (it runs on a cluster, or is down): the edit is
    // all there is to do; the next `up` here, or the next export, carries it.
    let here = runs_here(&old);
    // A scale-up starts copies: refuse before grid.toml changes, not halfway.
    if here
        && new
            .instances
            .iter()
            .any(|i| old.instance(&i.name).is_none())
    {
        crate::converge::check_can_start(&new)?;
    }

    // The manifest first: a failed write has stopped and started nothing, and a command
    // interrupted after it leaves a grid that the next `up` converges to the file.
    atomic::write_file(&target, new_text.as_bytes(), file_mode(&target))
        .map_err(|e| failed(format!("cannot write `{}`: {e}", file.display())))?;
    if mode.talks() {
        for (role, n) in &changes {
            crate::reconcile::print::out(&format!("grid.toml: {role} instances = {n}\n"));
        }
        if !here {
            crate::reconcile::print::out(&format!("{NOT_HERE}\n"));
        }
    }
    if !here {
        return Ok(());
    }
    let steps = scale_steps(&old, &new);
    // Removed copies leave and stop under the old plan, the only one that knows them.
    let before = Context {
        plan: &old,
        templates: Some(&t),
        rendered: &[],
        started,
    };
    let report = execute(&before, &steps.before, mode)?;
    if let Some(f) = report.failures.first() {
        return Err(failed(format!("{}: {}", f.name, f.detail)));
    }
    let rendered = render::render_instances(&new, &t)?;
    let after = Context {
        plan: &new,
        templates: Some(&t),
        rendered: &rendered,
        started,
    };
    let report = execute(&after, &steps.after, mode)?;
    if mode.talks() {
        if new.nginx.is_none() {
            crate::reconcile::print::out(
                "note: grid.toml has no [nginx]; no upstream was changed\n",
            );
        }
        print::note_reloads(&new);
    }
    if let Some(f) = report.failures.first() {
        let detail = if f.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", f.detail)
        };
        return Err(failed(match f.state {
            gridctl_wire::protocol::InstanceState::Stopped if !f.detail.is_empty() => {
                format!("{}: {}", f.name, f.detail)
            }
            state => format!(
                "{} did not become ready ({}{detail}); it stays out of its upstream",
                f.name,
                state.as_str()
            ),
        }));
    }
    if !report.unretired.is_empty() {
        return Err(failed(format!(
            "could not retire {}",
            report.unretired.join("; ")
        )));
    }
    Ok(())
}

/// The steps from `old` to `new`: copies are never renumbered, so the removed ones are
/// the highest numbers of their role.
/// What `scale` says when no copy of the grid has a holder on this host.
const NOT_HERE: &str = "nothing of this grid runs on this host, so no copy was started or stopped \
(`gridctl up` starts it here; `gridctl export kubernetes` writes it for a cluster)";

/// Whether any copy of `plan` (or one no longer declared) has a holder on this host,
/// answering or not (the first one found settles it).
fn runs_here(plan: &Plan) -> bool {
    use crate::client::{probe_holder, HolderPresence};
    use crate::reconcile::holders::{holder_pid_file, socket_of};
    let declared = plan.instances.iter().any(|i| {
        !matches!(
            probe_holder(&socket_of(plan, i), &holder_pid_file(i)),
            HolderPresence::Absent | HolderPresence::Stale
        )
    });
    declared || crate::reconcile::undeclared(plan).iter().any(|u| u.running)
}

fn scale_steps(old: &Plan, new: &Plan) -> diff::ScaleSteps {
    let removed: Vec<String> = old
        .instances
        .iter()
        .rev()
        .filter(|i| new.instance(&i.name).is_none())
        .map(|i| i.name.clone())
        .collect();
    let added: Vec<String> = new
        .start_order()
        .into_iter()
        .filter(|i| old.instance(&i.name).is_none())
        .map(|i| i.name.clone())
        .collect();
    diff::scale(&removed, &added, new.nginx.is_some())
}

/// The manifest's text with `changes` made, its plan and templates; refused (the file
/// unchanged) unless the edited text is a valid manifest that renders. Through a
/// symlinked `grid.toml` the link's target is read (and later written; the link stays).
fn edited(
    file: &Path,
    target: &Path,
    changes: &[(String, u32)],
) -> Result<(String, Plan, gridctl_config::templates::Templates), Failure> {
    let text = std::fs::read_to_string(target)
        .map_err(|e| failed(format!("cannot read `{}`: {e}", file.display())))?;
    let new_text = scale::edit_manifest(&text, changes).map_err(usage)?;
    // The excerpts of these diagnostics show the edited text, which is not on disk.
    let refused = |mut f: Failure| {
        f.diagnostics.push(Diagnostic::error(format!(
            "scale refused: `{}` is unchanged (the lines shown above are the requested edit)",
            file.display()
        )));
        f
    };
    let loaded = manifest::parse(file, new_text.clone()).map_err(|d| refused(d.into()))?;
    let new = planner::build(&loaded).map_err(|d| refused(Failure::invalid(d)))?;
    let t = templates(&new)?;
    render::render_instances(&new, &t).map_err(|d| refused(d.into()))?;
    Ok((new_text, new, t))
}

fn file_mode(file: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644)
}

/// Always tests and reloads, even when the file is unchanged: nginx may have been
/// started (or reloaded by hand) before gridctl wrote the file, so "unchanged on disk"
/// says nothing about what nginx runs. Copies are in only while their holders report
/// them ready, so this also takes crashed copies out (and ready ones back in).
pub fn nginx_reload(file: &Path) -> Outcome {
    let (_lock, plan) = locked_plan(file)?;
    let t = templates(&plan)?;
    let out = plan
        .nginx
        .as_ref()
        .map(|n| n.output.display().to_string())
        .unwrap_or_default();
    let applied = upstream::rerender(&plan, &t, nginx::Install::Always)
        .map_err(|e| failed(format!("nginx: {e}")))?;
    match applied {
        nginx::Applied::NotManaged => {
            crate::reconcile::print::out("note: grid.toml has no [nginx]; nothing to do\n")
        }
        nginx::Applied::Refreshed => {
            crate::reconcile::print::out("nginx config unchanged; tested and reloaded\n")
        }
        nginx::Applied::Tested => crate::reconcile::print::out(
            "nginx config unchanged; tested (no reload_command configured)\n",
        ),
        nginx::Applied::Written | nginx::Applied::Quiet | nginx::Applied::Unchanged => {
            crate::reconcile::print::out(&format!(
                "nginx config written to {out} (no reload_command configured)\n"
            ))
        }
        nginx::Applied::Reloaded => {
            crate::reconcile::print::out(&format!("nginx config installed at {out} and reloaded\n"))
        }
    }
    Ok(())
}

/// `nginx sync` (hidden): what a holder runs when its copy crashed or became ready
/// again after a crash. Copies are rendered in only while their holders report them
/// ready (see [`nginx::effective`]), so re-rendering from the holders' states takes a
/// crashed copy out, and puts it back once ready, at once rather than at the next
/// command. No wish changes; the lock wait is bounded, as no one waits for this.
pub fn nginx_sync(file: &Path, lock_wait: std::time::Duration) -> Outcome {
    let (_lock, plan) = crate::load::locked_plan_within(file, lock_wait)?;
    let t = templates(&plan)?;
    let applied = upstream::rerender(&plan, &t, nginx::Install::IfChanged)
        .map_err(|e| failed(format!("nginx: {e}")))?;
    let what = match applied {
        nginx::Applied::NotManaged => "grid.toml has no [nginx]; nothing to do",
        nginx::Applied::Unchanged => "membership unchanged",
        nginx::Applied::Reloaded => "membership changed; installed and reloaded",
        nginx::Applied::Quiet => "config written; routing unchanged, no reload",
        _ => "config written (no reload_command)",
    };
    crate::reconcile::print::out(&format!("nginx sync: {what}\n"));
    Ok(())
}
