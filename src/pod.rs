//! Running one copy inside a container (issue 13): `gridctl pod run` renders only its
//! instance's tree and execs the holder in the foreground as the container's PID 1;
//! `gridctl probe` answers a readiness/startup probe from the holder's socket.

use crate::client::HolderClient;
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::load::{build_plan, templates};
use crate::outcome::{print_diagnostics, Failure, Outcome, EXIT_FAILED, EXIT_INVALID};
use crate::plan::{InstancePlan, Plan};
use crate::protocol::InstanceState;
use crate::render;
use gridctl_config::cluster::Target;
use std::path::Path;
use std::time::Duration;

/// How long `probe` waits for the holder's answer: a probe must never hang.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The instance a pod runs: NAME when given, else `$POD_NAME` (the downward API),
/// else the hostname (a StatefulSet pod's hostname is its name).
fn pod_instance_name(name: Option<&str>) -> Option<String> {
    if let Some(n) = name {
        return Some(n.to_string());
    }
    let nonempty = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    std::env::var("POD_NAME")
        .ok()
        .and_then(nonempty)
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .and_then(nonempty)
        })
}

/// On a cluster plan, the instance this pod runs (from `$POD_NAME` or the hostname).
pub fn own_instance(plan: &Plan) -> Option<String> {
    plan.cluster.as_ref()?;
    let pod = pod_instance_name(None)?;
    let names = plan.instances.iter().map(|i| i.name.as_str());
    gridctl_config::cluster::instance_for_pod(names, &pod).map(str::to_string)
}

/// Inside a pod (`GRIDCTL_TARGET=kubernetes`) the commands that would start, stop or
/// re-render copies of the whole grid are refused: the pod runs one copy, and the
/// cluster owns the rest. Says what to run instead.
pub fn refused_in_pod(cmd: &crate::cli::Command) -> Option<Diagnostic> {
    use crate::cli::Command as C;
    if Target::from_env() != Target::Cluster {
        return None;
    }
    let (what, instead) = match cmd {
        C::Up { .. } => ("up", "the cluster starts the pods: `kubectl apply -f k8s/`"),
        C::Down { .. } => (
            "down",
            "`kubectl scale statefulset ROLE --replicas=0`, or `kubectl delete -f k8s/`",
        ),
        C::Restart { .. } => (
            "restart",
            "`kubectl rollout restart statefulset ROLE` (one pod at a time, each ready before the next)",
        ),
        C::Scale { .. } => (
            "scale",
            "on your workstation: `gridctl scale ROLE=N && gridctl export kubernetes -o k8s/ && kubectl apply -f k8s/`",
        ),
        C::Top => (
            "top",
            "`gridctl status` shows this pod's copy; `kubectl get pods -l app.kubernetes.io/managed-by=gridctl` every pod",
        ),
        C::Render | C::RenderNginx { .. } | C::Nginx { .. } => (
            "render and nginx",
            "`gridctl pod run` renders this pod's tree at start; the Services and the Ingress take nginx's place",
        ),
        _ => return None,
    };
    Some(
        Diagnostic::error(format!(
            "`gridctl {what}` does not run inside a pod ({}={})",
            crate::cluster::TARGET_ENV,
            crate::cluster::TARGET_CLUSTER
        ))
        .help(instead.to_string()),
    )
}

fn no_name() -> Diagnostic {
    Diagnostic::error(
        "no instance name: give NAME, or set POD_NAME (the hostname could not be read)",
    )
}

/// The instance named `name`, or exit 3 with the known names.
fn find<'p>(plan: &'p Plan, name: &str) -> Result<&'p InstancePlan, Failure> {
    // A pod's name is the instance's with `_` as `-` (DNS names): `user-agent-1`.
    let pod_name = gridctl_config::cluster::instance_for_pod(
        plan.instances.iter().map(|i| i.name.as_str()),
        name,
    );
    pod_name.and_then(|n| plan.instance(n)).ok_or_else(|| {
        let names: Vec<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
        let d = Diagnostic::error(format!("no instance named `{name}` in the manifest"));
        let d = d.help(match did_you_mean(name, names.iter().copied()) {
            Some(h) => format!("{h} (known: {})", names.join(", ")),
            None => format!("known instances: {}", names.join(", ")),
        });
        Failure {
            diagnostics: vec![d],
            code: EXIT_INVALID,
        }
    })
}

/// `gridctl pod run [NAME]`: render NAME's tree, then become its foreground holder.
/// Returns only on failure (the exec replaces this process otherwise).
///
/// No grid lock: in a container the instance's directory is the pod's own, and every
/// file is written atomically; a lock on shared storage would only let one stuck pod
/// hold every other pod's start.
pub fn run(file: &Path, name: Option<&str>) -> Outcome {
    let plan = build_plan(file)?;
    let Some(name) = pod_instance_name(name) else {
        return Err(Failure {
            diagnostics: vec![no_name()],
            code: EXIT_INVALID,
        });
    };
    let inst = find(&plan, &name)?;
    let t = templates(&plan)?;
    // The same environment check as every other path that starts a copy (the
    // database secret, from the pod's Secret): a pod without it must not start Robust.
    crate::converge::check_can_start(&plan)?;
    let rendered = render::render_instance(&plan, &t, inst)?;
    render::write_instances(std::slice::from_ref(&rendered)).map_err(|e| {
        Failure::failed(Diagnostic::error(format!(
            "cannot write {}'s rendered tree: {e}",
            inst.name
        )))
    })?;
    let spec_path = crate::reconcile::holders::spec_path(inst);
    let program = crate::holder::holder_program()
        .map_err(|e| Failure::failed(Diagnostic::error(e.to_string())))?;
    if !program.is_file() {
        let e = crate::holder::HolderError::Missing { program };
        return Err(Failure::failed(Diagnostic::error(e.to_string())));
    }
    use std::os::unix::process::CommandExt;
    // exec, not spawn: the holder must be PID 1 itself, so the container's SIGTERM
    // reaches it and its exit status is the container's.
    let err = std::process::Command::new(&program)
        .arg("--foreground")
        .arg("--spec")
        .arg(&spec_path)
        .exec();
    Err(Failure::failed(Diagnostic::error(format!(
        "cannot exec {}: {err}",
        program.display()
    ))))
}

/// `gridctl probe NAME`: 0 when the holder says `ready`, 1 otherwise, one line why;
/// 3 for a name the manifest does not have.
pub fn probe(file: &Path, name: Option<&str>) -> i32 {
    let plan = match build_plan(file) {
        Ok(p) => p,
        Err(f) => {
            print_diagnostics(&f.diagnostics);
            return f.code;
        }
    };
    let Some(name) = pod_instance_name(name) else {
        print_diagnostics(&[no_name()]);
        return EXIT_INVALID;
    };
    let name = name.as_str();
    let inst = match find(&plan, name) {
        Ok(i) => i,
        Err(f) => {
            print_diagnostics(&f.diagnostics);
            return f.code;
        }
    };
    let spec = plan.spec(inst, "");
    let (code, line) = match HolderClient::connect_for_status(&spec.socket, PROBE_TIMEOUT) {
        Ok((_, Ok(st))) => {
            let detail = if st.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", st.detail)
            };
            let code = if st.state == InstanceState::Ready {
                0
            } else {
                EXIT_FAILED
            };
            (code, format!("{name}: {}{detail}", st.state.as_str()))
        }
        Ok((_, Err(e))) | Err(e) => (
            EXIT_FAILED,
            format!("{name}: no answer from its holder: {e}"),
        ),
    };
    crate::outln!("{line}");
    code
}
