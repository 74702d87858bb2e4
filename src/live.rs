//! Commands that change a serving grid: `scale`, `restart --rolling`, `nginx reload`.

use crate::app::{load_plan, templates, Failure, Outcome};
use crate::diagnostic::Diagnostic;
use crate::operate::Printer;
use crate::plan::{InstancePlan, Plan};
use crate::render::Membership;
use crate::{atomic, lock, manifest, nginx, plan, render, roll, scale};
use std::path::Path;
use std::time::Duration;

fn failed(msg: impl Into<String>) -> Failure {
    Failure::failed(Diagnostic::error(msg))
}

fn usage(msg: impl Into<String>) -> Failure {
    Failure {
        diagnostics: vec![Diagnostic::error(msg)],
        code: crate::app::EXIT_USAGE,
    }
}

fn take_lock(plan: &Plan) -> Result<lock::GridLock, Failure> {
    lock::acquire(&plan.state_dir, Duration::from_secs(600))
        .map_err(|e| failed(format!("cannot lock the grid: {e}")))
}

fn write_tree(plan: &Plan) -> Outcome {
    let t = templates(plan)?;
    let rendered = render::render_instances(plan, &t)?;
    crate::operate::install_tree(plan, &rendered)
}

pub fn scale(file: &Path, requests: &[String]) -> Outcome {
    let mut changes = Vec::new();
    for r in requests {
        changes.push(scale::parse_request(r).map_err(usage)?);
    }
    let old = load_plan(file)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| failed(format!("cannot read `{}`: {e}", file.display())))?;
    let new_text = scale::edit_manifest(&text, &changes).map_err(usage)?;
    // Validate the edited manifest completely before anything changes.
    // The excerpts of these diagnostics show the edited text, which is not on disk.
    let refused = |mut f: Failure| {
        f.diagnostics.push(Diagnostic::error(format!(
            "scale refused: `{}` is unchanged (the lines shown above are the requested edit)",
            file.display()
        )));
        f
    };
    let loaded = manifest::parse(file, new_text.clone()).map_err(|d| refused(d.into()))?;
    let new = plan::build(&loaded).map_err(|d| refused(Failure::invalid(d)))?;
    let t = templates(&new)?;
    render::render_instances(&new, &t).map_err(|d| refused(d.into()))?;

    let _lock = take_lock(&old)?;
    let mut printer = Printer::new();
    let removed: Vec<&InstancePlan> = old
        .instances
        .iter()
        .rev()
        .filter(|i| new.instance(&i.name).is_none())
        .collect();
    roll::retire(&old, &t, &removed, &mut printer).map_err(|e| failed(e.to_string()))?;
    atomic::write_file(file, new_text.as_bytes(), file_mode(file))
        .map_err(|e| failed(format!("cannot write `{}`: {e}", file.display())))?;
    for (role, n) in &changes {
        println!("grid.toml: {role} instances = {n}");
    }
    write_tree(&new)?;
    let added: Vec<&InstancePlan> = new
        .start_order()
        .into_iter()
        .filter(|i| old.instance(&i.name).is_none())
        .collect();
    // Removed copies leave the upstreams for good. Added copies are recorded `out` in
    // the same step: a copy missing from upstreams.json counts as `in`, so without this
    // the new plan would put copies that are not even started into their upstream.
    let pending: Vec<(&str, Membership)> = added
        .iter()
        .map(|i| (i.name.as_str(), Membership::Out))
        .collect();
    let applied =
        nginx::set_membership(&new, &t, &pending).map_err(|e| failed(format!("nginx: {e}")))?;
    if !removed.is_empty() {
        roll::note_nginx(&applied, "removed copies dropped from their upstream");
    }
    roll::add(&new, &t, &added, &mut printer).map_err(|e| failed(e.to_string()))?;
    if new.nginx.is_none() {
        println!("note: grid.toml has no [nginx]; no upstream was changed");
    }
    Ok(())
}

fn file_mode(file: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644)
}

pub fn rolling_restart(file: &Path, names: &[String]) -> Outcome {
    let plan = load_plan(file)?;
    let selected = plan.select(names).map_err(usage)?;
    let _lock = take_lock(&plan)?;
    write_tree(&plan)?;
    let t = templates(&plan)?;
    let mut printer = Printer::new();
    if plan.nginx.is_none() {
        println!("note: grid.toml has no [nginx]; copies restart one at a time without draining");
    }
    roll::rolling_restart(&plan, &t, &selected, &mut printer).map_err(|e| failed(e.to_string()))
}

pub fn nginx_reload(file: &Path) -> Outcome {
    let plan = load_plan(file)?;
    let t = templates(&plan)?;
    let _lock = take_lock(&plan)?;
    let membership = nginx::load_membership(&plan);
    match nginx::apply(&plan, &t, &membership).map_err(|e| failed(format!("nginx: {e}")))? {
        nginx::Applied::NotManaged => println!("note: grid.toml has no [nginx]; nothing to do"),
        nginx::Applied::Unchanged => println!("nginx config unchanged"),
        nginx::Applied::Written => {
            let out = plan
                .nginx
                .as_ref()
                .map(|n| n.output.display().to_string())
                .unwrap_or_default();
            println!("nginx config written to {out} (no reload_command configured)")
        }
        nginx::Applied::Reloaded => {
            let out = plan
                .nginx
                .as_ref()
                .map(|n| n.output.display().to_string())
                .unwrap_or_default();
            println!("nginx config installed at {out} and reloaded")
        }
    }
    Ok(())
}
