//! The small split grid the unit tests plan (a core with the caches, an asset role
//! behind nginx): one manifest, so the tests of nginx membership and of surge shapes
//! agree on what they test against.

use gridctl_config::plan::Plan;

/// The plan of that grid with `asset_instances` asset copies on port base `asset_port`.
pub(crate) fn plan(asset_instances: u32, asset_port: u16) -> Plan {
    let text = format!(
        r#"
[grid]
name = "T"
domain = "grid.localhost"

[robust]
bin_dir = "/opt/opensim/bin"
command = ["robust"]

[database]
provider = "mysql"
connection = "x"

[nginx]
output = "nginx/grid.conf"

[roles.core]
services = ["grid", "gridinfo", "auth", "useraccount", "avatar", "griduser", "presence",
            "inventory", "login"]
port = 8000
public_port = 8002

[roles.asset]
services = ["asset"]
instances = {asset_instances}
port = {asset_port}
"#
    );
    let loaded = gridctl_config::manifest::parse(std::path::Path::new("/srv/g/grid.toml"), text)
        .expect("manifest");
    gridctl_config::planner::build(&loaded).expect("plan")
}
