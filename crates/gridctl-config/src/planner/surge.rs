//! The plan with one temporary extra copy of a role (a "surge" copy), numbered and
//! ported exactly as a scale-up by one would give it, for restarting a role of one copy
//! without an outage. Pure: the caller decides when such a copy may run.

use super::ports::listen_port;
use crate::plan::{InstancePlan, Plan};

/// `plan` with one more copy of `role` at the next index: see [`with_copy`].
pub fn with_extra_copy(plan: &Plan, role: &str) -> Result<(Plan, String), String> {
    with_copy(plan, role, next_index(plan, role, &[]))
}

/// The next copy number of `role` after its declared ones whose name is not in `avoid`
/// (copies the state dir still holds, e.g. left by an interrupted command).
pub fn next_index(plan: &Plan, role: &str, avoid: &[String]) -> u32 {
    let mut index = plan
        .instances
        .iter()
        .filter(|i| i.role == role)
        .map(|i| i.index)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    while avoid.contains(&format!("{role}-{index}")) && index < u32::MAX {
        index += 1;
    }
    index
}

/// `plan` with one more copy of `role`, number `index`: the role's port base + index - 1
/// (and its public port base + index - 1), its own directory, the same command line
/// pointing at its own INI and log config — what a scale-up gives copy `index`.
/// Refused (with why, for the operator) when the role is unknown or has no copy to
/// model it on, when the plan has that copy already, or when one of its ports is
/// already some other copy's or an nginx listener's.
pub fn with_copy(plan: &Plan, role: &str, index: u32) -> Result<(Plan, String), String> {
    let copy = extra_copy(plan, role, index)?;
    let name = copy.name.clone();
    let mut out = plan.clone();
    if let Some(r) = out.roles.iter_mut().find(|x| x.name == role) {
        r.instances = r.instances.saturating_add(1);
    }
    // After the role's last copy, as the planner orders them.
    let at = out
        .instances
        .iter()
        .rposition(|i| i.role == role)
        .map_or(out.instances.len(), |p| p + 1);
    out.instances.insert(at, copy);
    Ok((out, name))
}

/// Copy `index` of `role` as [`with_copy`] would add it, without copying the plan (to
/// learn whether a surge is possible, and its name).
pub fn extra_copy(plan: &Plan, role: &str, index: u32) -> Result<InstancePlan, String> {
    let Some(r) = plan.role(role) else {
        return Err(format!("the plan has no role `{role}`"));
    };
    if r.simulator.is_some() {
        return Err(format!(
            "`{role}` is a simulator: one process, its regions' ports are its own"
        ));
    }
    let Some(model) = plan.instances.iter().find(|i| i.role == role) else {
        return Err(format!(
            "role `{role}` has no copy to model a second one on"
        ));
    };
    let name = format!("{role}-{index}");
    if index == 0 || plan.instance(&name).is_some() {
        return Err(format!(
            "{name} cannot be a temporary copy: the plan declares it"
        ));
    }
    let offset = |base: u16| -> Result<u16, String> {
        u16::try_from(u32::from(base) + index - 1)
            .map_err(|_| format!("{name} would need a port above 65535"))
    };
    let private_port = offset(r.port)?;
    let public_port = r.public_port.map(offset).transpose()?;
    for port in std::iter::once(private_port).chain(public_port) {
        if let Some(other) = plan.instances.iter().find(|i| {
            i.address == model.address && (i.private_port == port || i.public_port == Some(port))
        }) {
            return Err(format!(
                "port {port}, which {name} would take, is {}'s",
                other.name
            ));
        }
        if let Some(n) = &plan.nginx {
            let listeners = [&n.public_listen, &n.private_listen];
            if listeners.iter().any(|l| listen_port(l) == Some(port)) {
                return Err(format!(
                    "port {port}, which {name} would take, is an nginx listener's"
                ));
            }
        }
    }
    let dir = plan.state_dir.join("instances").join(&name);
    let ini_path = dir.join("Robust.ini");
    let logconfig_path = dir.join("log4net.xml");
    // The planner gives every copy the same argv but for these two arguments.
    let argv = model
        .argv
        .iter()
        .map(|a| {
            if *a == format!("-inifile={}", model.ini_path.display()) {
                format!("-inifile={}", ini_path.display())
            } else if *a == format!("-logconfig={}", model.logconfig_path.display()) {
                format!("-logconfig={}", logconfig_path.display())
            } else {
                a.clone()
            }
        })
        .collect();
    Ok(InstancePlan {
        name,
        role: role.to_string(),
        kind: model.kind,
        index,
        private_port,
        public_port,
        address: model.address.clone(),
        log_path: dir.join("robust.log"),
        dir,
        ini_path,
        logconfig_path,
        argv,
        expected_connectors: model.expected_connectors.clone(),
    })
}

/// `plan` without the copy `name` (the inverse of [`with_extra_copy`]): what grid.toml
/// declares once a surge copy is gone.
pub fn without_copy(plan: &Plan, name: &str) -> Plan {
    let mut out = plan.clone();
    let Some(at) = out.instances.iter().position(|i| i.name == name) else {
        return out;
    };
    let gone = out.instances.remove(at);
    if let Some(r) = out.roles.iter_mut().find(|r| r.name == gone.role) {
        r.instances = r.instances.saturating_sub(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;

    /// The plan of `text` as if it were `/srv/grid/grid.toml` (nothing is read).
    fn plan(text: &str) -> Plan {
        let path = std::path::Path::new("/srv/grid/grid.toml");
        let loaded = manifest::parse(path, text.to_string()).expect("manifest");
        crate::planner::build(&loaded).expect("plan")
    }

    const GRID: &str = r#"
[grid]
name = "Surge"
domain = "grid.localhost"

[robust]
bin_dir = "/opt/opensim/bin"
command = ["mono", "Robust.exe"]

[database]
provider = "mysql"
connection = "x"

[roles.core]
services = ["grid", "gridinfo", "auth", "useraccount", "avatar", "griduser", "presence", "inventory", "login"]
port = 8100
public_port = 8200

[roles.asset]
services = ["asset"]
port = 8300
"#;

    #[test]
    fn the_extra_copy_is_what_a_scale_up_by_one_gives() {
        let base = plan(GRID);
        let (surged, name) = with_extra_copy(&base, "asset").expect("surge");
        assert_eq!(name, "asset-2");
        let scaled = plan(&GRID.replace("port = 8300\n", "port = 8300\ninstances = 2\n"));
        let want = scaled.instance("asset-2").expect("scaled copy");
        let got = surged.instance("asset-2").expect("surge copy");
        assert_eq!(format!("{got:?}"), format!("{want:?}"));
        assert_eq!(surged.role("asset").map(|r| r.instances), Some(2));
        // Nothing else moved.
        assert_eq!(surged.instances.len(), base.instances.len() + 1);
        assert_eq!(
            format!("{:?}", surged.instance("asset-1")),
            format!("{:?}", base.instance("asset-1"))
        );
        // And without it, the plan is the declared one again.
        let back = without_copy(&surged, &name);
        assert_eq!(
            format!("{:?}", back.instances),
            format!("{:?}", base.instances)
        );
        assert_eq!(format!("{:?}", back.roles), format!("{:?}", base.roles));
    }

    #[test]
    fn a_port_taken_by_another_copy_refuses_the_extra_copy() {
        let base = plan(&GRID.replace("port = 8300\n", "port = 8199\n"));
        let why = with_extra_copy(&base, "asset").expect_err("8200 is core-1's public port");
        assert_eq!(why, "port 8200, which asset-2 would take, is core-1's");
        assert!(with_extra_copy(&base, "nope").is_err());
        assert!(with_copy(&base, "core", 1).is_err(), "core-1 is declared");
    }

    #[test]
    fn copies_left_in_the_state_dir_are_skipped() {
        let base = plan(GRID);
        let avoid = ["asset-2".to_string(), "asset-3".to_string()];
        assert_eq!(next_index(&base, "asset", &avoid), 4);
        let (surged, name) = with_copy(&base, "asset", 4).expect("asset-4");
        assert_eq!(name, "asset-4");
        assert_eq!(
            surged.instance("asset-4").map(|i| i.private_port),
            Some(8303)
        );
    }
}
