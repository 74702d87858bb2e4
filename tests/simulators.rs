//! Simulators in the manifest (issue 18): what `check`, `plan` and `render` make of
//! `[simulator]` and `[simulators.NAME]` — every refusal at file:line:col, the rendered
//! tree (every path under the state dir), the start order, and what `render-simulator`
//! prints for simulators gridctl does not run.

mod common;

use common::{code, manifest, stderr, stdout, Grid};

/// A grid of one Robust role and whatever simulators the test appends (lines 1–25).
const HEAD: &str = "[grid]
name = \"Sim Grid\"
domain = \"grid.test\"

[robust]
bin_dir = \"@BIN@\"
command = [\"@ROBUST@\", \"Robust.dll\"]

[database]
provider = \"mysql\"
connection = \"env:ROBUST_DB\"

[roles.core]
services = [\"grid\", \"gridinfo\", \"auth\", \"useraccount\", \"avatar\", \"griduser\", \"presence\",
            \"friends\", \"agentprefs\", \"mutelist\", \"map\", \"login\", \"asset\", \"inventory\"]
port = 8100
public_port = 8200

[simulator]
command = [\"@ROBUST@\", \"OpenSim.exe\"]
estate_name = \"Sim Estate\"
estate_owner = \"Ada Lovelace\"
external_host = \"127.0.0.1\"
internal_address = \"127.0.0.1\"

";

fn grid(tail: &str) -> Grid {
    let text = format!("{HEAD}{tail}")
        .replace("@BIN@", &common::fake_bin_dir().display().to_string())
        .replace("@ROBUST@", &common::fake_robust_bin().display().to_string());
    manifest(&text)
}

/// `gridctl plan` of the grid fails with exit 3; the normalised stderr.
fn refused(tail: &str) -> String {
    let g = grid(tail);
    let a = g.gridctl(&["plan"]);
    assert_eq!(
        code(&a),
        Some(3),
        "stdout: {}\nstderr: {}",
        stdout(&a),
        stderr(&a)
    );
    g.normalize(&stderr(&a))
}

const TWO: &str = "[simulators.mainland]
http_port = 9000

[[simulators.mainland.regions]]
name = \"Welcome\"
location = \"1000,1000\"
port = 9000

[[simulators.mainland.regions]]
name = \"Sandbox\"
location = \"1001,1000\"
port = 9001
";

#[test]
fn overlapping_locations_are_refused_where_written() {
    let e = refused(
        "[simulators.a]
http_port = 9000

[[simulators.a.regions]]
name = \"One\"
location = \"1000,1000\"
port = 9000

[[simulators.a.regions]]
name = \"Two\"
location = \"1000, 1000\"
port = 9001
",
    );
    assert_eq!(
        e,
        "error: regions `One` and `Two` are both at 1000,1000
  --> grid.toml:36:12
   |
36 | location = \"1000, 1000\"
   |            ^^^^^^^^^^^^ overlaps another region
  ::: grid.toml:31:12
   |
31 | location = \"1000,1000\"
   |            ^^^^^^^^^^^ `One` is here
help: each region needs its own grid location

"
    );
}

#[test]
fn duplicate_region_names_are_refused_whatever_their_case() {
    let e = refused(
        "[simulators.a]
http_port = 9000

[[simulators.a.regions]]
name = \"Welcome\"
location = \"1000,1000\"
port = 9000

[simulators.b]
http_port = 9010

[[simulators.b.regions]]
name = \"welcome\"
location = \"1001,1000\"
port = 9010
",
    );
    assert!(
        e.starts_with("error: region name `welcome` is declared twice\n  --> grid.toml:38:8"),
        "{e}"
    );
    assert!(e.contains("first declared here"), "{e}");
    assert!(e.contains("OpenSim ignores their case"), "{e}");
}

#[test]
fn port_clashes_are_refused() {
    // UDP against UDP, UDP against a Robust port, HTTP against a Robust port.
    let e = refused(
        "[simulators.a]
http_port = 8100

[[simulators.a.regions]]
name = \"One\"
location = \"1000,1000\"
port = 8200

[[simulators.a.regions]]
name = \"Two\"
location = \"1001,1000\"
port = 8200
",
    );
    assert!(
        e.contains("error: port 8100 is used by both core-1 (port) and a (port)"),
        "{e}"
    );
    assert!(e.contains("the HTTP port of simulator `a`"), "{e}");
    assert!(
        e.contains("error: port 8200 is used by both core-1 (public_port) and region `One` (UDP)"),
        "{e}"
    );
    assert!(
        e.contains("error: port 8200 is used by both core-1 (public_port) and region `Two` (UDP)")
            || e.contains("region `One` (UDP) and region `Two` (UDP)"),
        "{e}"
    );
    // A region may share its own simulator's HTTP port number (OpenSim's convention).
    let g = grid(TWO);
    g.gridctl(&["plan"]).success();
}

#[test]
fn a_location_out_of_the_grid_and_bad_values_are_refused() {
    let e = refused(
        "[simulators.a]
http_port = 9000
external_host = \"viewers reach; me\"

[[simulators.a.regions]]
name = \"Bad]Name\"
location = \"70000,5\"
port = 0
uuid = \"not-a-uuid\"
",
    );
    for want in [
        "error: location `70000,5` of region `Bad]Name` is not usable",
        "outside the grid (0..=65535)",
        "error: region name `Bad]Name` cannot be used",
        "only letters, digits, spaces, `-`, `_` and `.` are allowed",
        "error: `port` of region `Bad]Name` is 0, outside 1..=65535",
        "error: `uuid` of region `Bad]Name` is not a UUID",
        "error: `external_host` of simulator `a` `viewers reach; me` is not a host name",
    ] {
        assert!(e.contains(want), "missing `{want}` in:\n{e}");
    }
}

#[test]
fn an_estate_owner_is_required_and_must_be_first_and_last_name() {
    let text = format!("{HEAD}{TWO}").replace("estate_owner = \"Ada Lovelace\"\n", "");
    let g = manifest(
        &text
            .replace("@BIN@", &common::fake_bin_dir().display().to_string())
            .replace("@ROBUST@", &common::fake_robust_bin().display().to_string()),
    );
    let a = g.gridctl(&["check"]);
    assert_eq!(code(&a), Some(3));
    let e = g.normalize(&stderr(&a));
    assert!(
        e.starts_with("error: simulator `mainland` has no estate owner\n  --> grid.toml:25:"),
        "{e}"
    );
    assert!(
        e.contains("its first start would ask for one on the console"),
        "{e}"
    );
    let e = refused(&TWO.replace(
        "http_port = 9000\n",
        "http_port = 9000\nestate_owner = \"Ada\"\n",
    ));
    assert!(
        e.contains("error: `estate_owner` of simulator `mainland` is `Ada`"),
        "{e}"
    );
}

#[test]
fn names_a_simulator_cannot_have() {
    let e = refused(&TWO.replace("mainland", "core"));
    assert!(
        e.contains("error: `core` names both a role and a simulator"),
        "{e}"
    );
    let e = refused(&TWO.replace("mainland", "Main-Land"));
    assert!(
        e.contains("error: simulator name `Main-Land` is not usable as an instance name"),
        "{e}"
    );
    let e = refused("[simulators.empty]\nhttp_port = 9000\nregions = []\n");
    assert!(e.contains("error: simulator `empty` has no region"), "{e}");
}

#[test]
fn plan_puts_simulators_after_every_robust_copy() {
    let g = grid(TWO);
    let out = stdout(&g.gridctl(&["plan"]).success());
    let lines: Vec<&str> = out.lines().collect();
    let sim = lines
        .iter()
        .position(|l| l.starts_with("mainland"))
        .expect("the simulator is planned");
    let core = lines
        .iter()
        .position(|l| l.starts_with("core-1"))
        .expect("core-1");
    assert!(core < sim, "{out}");
    assert!(
        lines[sim].contains("(simulator)")
            && lines[sim].contains("region Welcome (1000,1000 udp 9000)"),
        "{out}"
    );
    assert!(
        out.contains("1 instance(s), 1 role(s), 1 simulator(s)"),
        "{out}"
    );
}

#[test]
fn the_rendered_tree_keeps_every_path_under_the_state_dir() {
    let g = grid(TWO);
    g.gridctl(&["render"]).success();
    let state = g.state_dir().display().to_string();
    let ini = g.read("mainland", "OpenSim.ini");
    for key in [
        "PIDFile",
        "logfile",
        "StatsLogFile",
        "ConsoleHistoryFile",
        "RegistryLocation",
        "DecodedSculptMapPath",
        "crash_dir",
        "regionload_regionsdir",
        "ScriptEnginesPath",
        "Include-Architecture",
    ] {
        let line = ini
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing from OpenSim.ini:\n{ini}"));
        assert!(
            line.contains(&format!("\"{state}/instances/mainland/")),
            "{line}"
        );
    }
    assert!(ini.contains("DefaultEstateName = \"Sim Estate\""), "{ini}");
    assert!(
        ini.contains("DefaultEstateOwnerName = \"Ada Lovelace\""),
        "{ini}"
    );
    assert!(ini.contains("http_listener_port = 9000"), "{ini}");
    let common = g.read("mainland", "config-include/GridCommon.ini");
    assert!(
        common.contains(&format!(
            "ConnectionString = \"URI=file:{state}/instances/mainland/data/OpenSim.db,"
        )),
        "{common}"
    );
    assert!(
        common.contains("AssetCaching = \"FlotsamAssetCache\""),
        "{common}"
    );
    assert!(
        common.contains(&format!(
            "CacheDirectory = \"{state}/instances/mainland/data/assetcache\""
        )),
        "{common}"
    );
    assert!(
        common.contains("GridServerURI = \"http://127.0.0.1:8100\""),
        "without nginx the grid is reached directly: {common}"
    );
    let grid_ini = g.read("mainland", "config-include/Grid.ini");
    assert!(
        grid_ini.contains(&format!(
            "Include-Common = \"{state}/instances/mainland/config-include/GridCommon.ini\""
        )),
        "{grid_ini}"
    );
    let regions = g.read("mainland", "Regions/mainland.ini");
    assert!(
        regions.contains("[Welcome]") && regions.contains("[Sandbox]"),
        "{regions}"
    );
    assert!(regions.contains("Location = \"1001,1000\""), "{regions}");
    assert!(regions.contains("InternalPort = 9001"), "{regions}");
    assert!(
        regions.contains("ExternalHostName = \"127.0.0.1\""),
        "{regions}"
    );
    // The same UUID on every render, derived from the grid's and the region's names.
    let uuid = |text: &str| {
        text.lines()
            .find(|l| l.contains("RegionUUID"))
            .map(str::to_string)
            .unwrap_or_default()
    };
    let again = grid(TWO);
    again.gridctl(&["render"]).success();
    assert_eq!(
        uuid(&regions),
        uuid(&again.read("mainland", "Regions/mainland.ini"))
    );
    // Robust's grid service flags the declared regions, the first one as the default.
    let core = g.read("core-1", "includes/local/grid.ini");
    assert!(
        core.contains("Region_Welcome = \"DefaultRegion, FallbackRegion\""),
        "{core}"
    );
    assert!(
        core.contains("Region_Sandbox = \"FallbackRegion\""),
        "{core}"
    );
    assert!(!core.contains("Welcome_Area"), "{core}");
    // The simulator gets no Robust secret; its readiness is its own.
    let spec: serde_json::Value =
        serde_json::from_str(&g.read("mainland", "holder.json")).expect("holder.json");
    let env = spec["env"].to_string();
    assert!(!env.contains("GRIDCTL_DATABASE_CONNECTION"), "{env}");
    assert_eq!(spec["readiness"]["prompt"], "Region (mainland) # ");
    assert!(
        ini.contains("ConsolePrompt = \"Region (mainland) \""),
        "{ini}"
    );
    assert_eq!(
        spec["readiness"]["expected_lines"][1],
        "INITIALIZATION COMPLETE FOR Sandbox - LOGINS ENABLED"
    );
    assert_eq!(spec["readiness"]["extra_probes"][0]["path"], "/grid");
    assert!(spec["readiness"]["extra_probes"][0]["body"]
        .as_str()
        .unwrap_or_default()
        .contains("NAME=Welcome&METHOD=get_region_by_name"));
}

#[test]
fn render_simulator_includes_the_store_and_the_cache() {
    let g = grid(TWO);
    let out = stdout(&g.gridctl(&["render-simulator"]).success());
    assert!(
        out.contains("[DatabaseService]\n    ; Region data in SQLite files beside OpenSim.exe (OpenSim's own default store).\n    Include-Storage = \"config-include/storage/SQLiteStandalone.ini\""),
        "{out}"
    );
    assert!(
        out.contains("AssetCaching = \"FlotsamAssetCache\""),
        "{out}"
    );
    assert!(out.contains("CacheDirectory = \"./assetcache\""), "{out}");
    assert!(
        out.contains("Save it as bin/config-include/GridCommon.ini"),
        "{out}"
    );
}

#[test]
fn a_region_store_in_a_database_goes_through_the_environment() {
    let g = grid(&TWO.replace(
        "http_port = 9000\n",
        "http_port = 9000\ndatabase = { provider = \"mysql\", connection = \"env:REGIONS_DB\" }\n",
    ));
    let mut cmd = std::process::Command::new(common::gridctl_bin());
    cmd.current_dir(&g.dir)
        .args(["render"])
        .env("ROBUST_DB", "robust-secret")
        .env("REGIONS_DB", "regions-secret")
        .env_remove("GRIDCTL_FILE");
    assert!(cmd.status().expect("gridctl render").success());
    let common = g.read("mainland", "config-include/GridCommon.ini");
    assert!(
        common.contains("StorageProvider = \"OpenSim.Data.MySQL.dll\""),
        "{common}"
    );
    assert!(
        common.contains("ConnectionString = \"${Environment|GRIDCTL_REGION_DATABASE_CONNECTION}\""),
        "{common}"
    );
    assert!(!common.contains("regions-secret"));
    let spec = g.read("mainland", "holder.json");
    assert!(
        spec.contains("regions-secret") && !spec.contains("robust-secret"),
        "{spec}"
    );
}

#[test]
fn a_simulator_is_not_scaled_and_not_exported() {
    let g = grid(TWO);
    let a = g.gridctl(&["scale", "mainland=2"]);
    assert_ne!(code(&a), Some(0));
    assert!(
        stderr(&a).contains("`mainland` is a simulator: one OpenSim.exe process, never copies"),
        "{}",
        stderr(&a)
    );
    let out = g.dir.join("k8s");
    let a = g.gridctl(&["export", "kubernetes", "-o", &out.display().to_string()]);
    assert_eq!(code(&a), Some(3));
    let e = g.normalize(&stderr(&a));
    assert!(
        e.starts_with("error: the export cannot carry simulators (mainland)"),
        "{e}"
    );
    assert!(e.contains("UDP"), "{e}");
    assert!(!out.exists(), "a refused export wrote files");
}

#[test]
fn the_example_whole_grid_checks_clean_but_for_dns() {
    let g = common::example("whole-grid");
    let a = g.gridctl(&["check"]);
    let out = stdout(&a);
    // Its private hostnames resolve only where nginx runs: that is the one warning.
    assert!(
        out.contains("(5 instance(s) in 3 role(s), 2 simulator(s) with 3 region(s), "),
        "{out}{}",
        stderr(&a)
    );
    assert!(!stderr(&a).contains("error"), "{}", stderr(&a));
}

#[test]
fn a_hypergrid_grid_gives_its_simulators_the_hypergrid_keys() {
    let mut text = std::fs::read_to_string(common::repo().join("examples/hypergrid/grid.toml"))
        .expect("the hypergrid example");
    text.push_str(
        "
[simulator]
command = [\"fake\", \"OpenSim.exe\"]
estate_owner = \"Ada Lovelace\"

[simulators.hgsim]
http_port = 19900

[[simulators.hgsim.regions]]
name = \"HG Welcome\"
location = \"2000,2000\"
port = 19900
",
    );
    let g = common::grid_in("hypergrid", &common::localize(&text));
    g.gridctl(&["render"]).success();
    let common_ini = g.read("hgsim", "config-include/GridCommon.ini");
    assert!(
        common_ini.contains("[Hypergrid]\n    HomeURI = \"http://"),
        "{common_ini}"
    );
    assert!(
        common_ini.contains("GatekeeperURI = \"http://hg.localhost:19080\""),
        "{common_ini}"
    );
    let grid_ini = g.read("hgsim", "config-include/Grid.ini");
    for module in [
        "InventoryServices       = \"HGInventoryBroker\"",
        "EntityTransferModule    = \"HGEntityTransferModule\"",
        "WorldMapModule = \"HGWorldMap\"",
    ] {
        assert!(grid_ini.contains(module), "{module} missing:\n{grid_ini}");
    }
}

/// Behind nginx, a simulator's readiness asks the grid through nginx's private
/// listener, at the address it is bound to, with the grid's hostname as `Host`.
#[test]
fn registration_is_asked_where_nginx_listens() {
    let g = grid(&format!(
        "{TWO}
[nginx]
output = \"nginx/gridctl.conf\"
test_command = []
reload_command = []
public_listen = \"127.0.0.2:18080\"
private_listen = \"127.0.0.2:18081\"
"
    ));
    g.gridctl(&["render"]).success();
    let spec: serde_json::Value =
        serde_json::from_str(&g.read("mainland", "holder.json")).expect("holder.json");
    let probe = &spec["readiness"]["extra_probes"][0];
    assert_eq!(probe["address"], "127.0.0.2", "{probe}");
    assert_eq!(probe["port"], 18081, "{probe}");
    assert_eq!(probe["host"], "grid.robust.internal", "{probe}");
}
