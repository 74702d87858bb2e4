//! Rendering the examples: full-tree snapshots, nginx and simulator output, `plan`, and
//! the wiring facts of robust.md §0/§4 asserted on the rendered files themselves.

mod common;

use common::{code, example, stderr, stdout, Grid, EXAMPLES};
use gridctl::ini;
use gridctl::spec::InstanceSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn rendered(name: &str) -> Grid {
    let g = example(name);
    g.gridctl(&["render"]).success();
    g
}

/// Instance names of a rendered grid, sorted.
fn instances(g: &Grid) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(g.state_dir().join("instances"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn spec(g: &Grid, instance: &str) -> InstanceSpec {
    InstanceSpec::load(&g.instance_dir(instance).join("holder.json")).unwrap()
}

/// The instance's config as Robust would see it: includes read, `[Environment]` filled
/// from the spec's env; references are left unexpanded.
fn load_ini(g: &Grid, instance: &str) -> ini::Ini {
    let spec = spec(g, instance);
    let env: HashMap<String, String> = spec.env.iter().cloned().collect();
    let main = g.instance_dir(instance).join("Robust.ini");
    let mut loaded =
        ini::load_with_includes(&main, &spec.cwd).unwrap_or_else(|e| panic!("{instance}: {e}"));
    loaded.ini.merge_environment(|k| env.get(k).cloned());
    loaded.ini
}

fn get(ini: &ini::Ini, section: &str, key: &str) -> String {
    ini.get(section, key)
        .unwrap_or_else(|| panic!("[{section}] {key} is missing"))
        .to_string()
}

// ---------------------------------------------------------------- snapshots

#[test]
fn rendered_tree_single() {
    insta::assert_snapshot!("tree_single", rendered("single").rendered_tree());
}

#[test]
fn rendered_tree_blog_split() {
    insta::assert_snapshot!("tree_blog_split", rendered("blog-split").rendered_tree());
}

#[test]
fn rendered_tree_hypergrid() {
    insta::assert_snapshot!("tree_hypergrid", rendered("hypergrid").rendered_tree());
}

fn nginx_output(name: &str) -> String {
    let g = example(name);
    let a = g.gridctl(&["render-nginx"]);
    if code(&a) == Some(0) {
        g.normalize(&stdout(&a))
    } else {
        format!("exit {:?}\n{}", code(&a), g.normalize(&stderr(&a)))
    }
}

#[test]
fn render_nginx_single() {
    insta::assert_snapshot!("nginx_single", nginx_output("single"));
}

#[test]
fn render_nginx_blog_split() {
    insta::assert_snapshot!("nginx_blog_split", nginx_output("blog-split"));
}

#[test]
fn render_nginx_hypergrid() {
    insta::assert_snapshot!("nginx_hypergrid", nginx_output("hypergrid"));
}

#[test]
fn render_nginx_without_nginx_table_is_an_error() {
    let g = example("single");
    let a = g.gridctl(&["render-nginx"]);
    assert_eq!(code(&a), Some(3));
    assert_eq!(
        stderr(&a),
        "error: grid.toml has no [nginx] table\nhelp: add [nginx] with at least output = \"nginx/gridctl.conf\"\n\n"
    );
}

#[test]
fn render_nginx_to_a_file_writes_what_stdout_shows() {
    let g = example("blog-split");
    let shown = stdout(&g.gridctl(&["render-nginx"]).success());
    let a = g
        .gridctl(&["render-nginx", "-o", "out/nginx.conf"])
        .success();
    assert!(stdout(&a).is_empty());
    let written = std::fs::read_to_string(g.dir.join("out/nginx.conf")).unwrap();
    assert_eq!(written, shown);
}

fn simulator_output(name: &str) -> String {
    let g = example(name);
    let out = stdout(&g.gridctl(&["render-simulator"]).success());
    assert!(out.ends_with("\"\n"), "{name}: one final newline");
    g.normalize(&out)
}

#[test]
fn render_simulator_single() {
    insta::assert_snapshot!("simulator_single", simulator_output("single"));
}

#[test]
fn render_simulator_blog_split() {
    insta::assert_snapshot!("simulator_blog_split", simulator_output("blog-split"));
}

#[test]
fn render_simulator_hypergrid() {
    insta::assert_snapshot!("simulator_hypergrid", simulator_output("hypergrid"));
}

#[test]
fn plan_table_blog_split() {
    let g = example("blog-split");
    let out = stdout(&g.gridctl(&["plan"]).success());
    insta::assert_snapshot!("plan_blog_split", g.normalize(&out));
}

#[test]
fn plan_json_blog_split() {
    let g = example("blog-split");
    let out = stdout(&g.gridctl(&["plan", "--json"]).success());
    assert!(
        !out.contains("test-secret"),
        "plan --json must never print the database secret"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["instances"].as_array().unwrap().len(), 6);
    insta::assert_snapshot!("plan_json_blog_split", g.normalize(&out));
}

// ---------------------------------------------------------------- references

#[test]
fn hypergrid_tree_resolves_every_reference() {
    let g = rendered("hypergrid");
    let names = instances(&g);
    assert_eq!(names.len(), 6);
    for name in &names {
        let ini = load_ini(&g, name);
        let unresolved = ini.unresolved_references();
        assert!(
            unresolved.is_empty(),
            "{name}: {}",
            unresolved
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        // The secret arrives through the environment, expanded only at load time.
        let mut expanded = ini.clone();
        expanded.resolve_references().unwrap();
        assert_eq!(
            get(&expanded, "DatabaseService", "ConnectionString"),
            common::DB_SECRET
        );
    }
}

#[test]
fn check_passes_on_every_example() {
    for name in EXAMPLES {
        let g = example(name);
        let a = g.gridctl(&["check"]);
        assert_eq!(code(&a), Some(0), "{name}: {}", stderr(&a));
        assert!(stdout(&a).starts_with("ok: grid.toml ("), "{name}");
        assert!(!stderr(&a).contains("error"), "{name}: {}", stderr(&a));
    }
}

#[test]
fn no_secret_in_any_rendered_ini() {
    for name in EXAMPLES {
        let g = rendered(name);
        let mut files = Vec::new();
        common::collect_files(&g.state_dir(), &mut files);
        for f in files {
            if f.file_name().is_some_and(|n| n == "holder.json") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(!text.contains("test-secret"), "{}", f.display());
        }
    }
}

// ---------------------------------------------------------------- wiring (robust.md §4)

#[test]
fn blog_split_core_hosts_presence_and_griduser_and_calls_copies_through_nginx() {
    let g = rendered("blog-split");
    let core = load_ini(&g, "core-1");
    // Single-copy services live in the core, as local modules.
    assert_eq!(
        get(&core, "PresenceService", "LocalServiceModule"),
        "OpenSim.Services.PresenceService.dll:PresenceService"
    );
    assert_eq!(
        get(&core, "GridUserService", "LocalServiceModule"),
        "OpenSim.Services.UserAccountService.dll:GridUserService"
    );
    assert_eq!(
        get(&core, "LoginService", "PresenceService"),
        "OpenSim.Services.PresenceService.dll:PresenceService"
    );
    assert_eq!(
        get(&core, "LoginService", "GridUserService"),
        "OpenSim.Services.UserAccountService.dll:GridUserService"
    );
    // Inventory is another role's: both dependants use the remote connector, and its URL
    // is the private nginx hostname (all copies), from includes/remote/.
    for section in ["LoginService", "UserAccountService"] {
        assert_eq!(
            get(&core, section, "InventoryService"),
            "OpenSim.Services.Connectors.dll:XInventoryServicesConnector"
        );
    }
    assert_eq!(
        get(&core, "InventoryService", "InventoryServerURI"),
        "http://inventory.robust.internal:18081"
    );
    assert!(g
        .read("core-1", "includes/remote/inventory.ini")
        .contains("InventoryServerURI = \"http://inventory.robust.internal:18081\""));
    assert!(core.get("InventoryService", "LocalServiceModule").is_none());
    // The core neither hosts nor loads assets or inventory itself.
    let core_dir = g.instance_dir("core-1");
    for f in ["includes/local/asset.ini", "includes/local/inventory.ini"] {
        assert!(!core_dir.join(f).exists(), "{f}");
    }
    let services = g.read("core-1", "Robust.ini");
    assert!(!services.contains("AssetServiceConnector"));
    assert!(!services.contains("XInventoryInConnector"));
    // nginx fronts that hostname on the private listener with every inventory copy.
    let nginx = common::stdout(&g.gridctl(&["render-nginx"]).success());
    assert!(
        nginx.contains("    listen 127.0.0.1:18081;\n    server_name inventory.robust.internal;")
    );
    assert!(nginx.contains("server 127.0.0.1:18400 "));
    assert!(nginx.contains("server 127.0.0.1:18401 "));
    // The copies of asset and inventory host their service and call nothing remote.
    for n in [
        "asset-1",
        "asset-2",
        "asset-3",
        "inventory-1",
        "inventory-2",
    ] {
        assert!(!g.instance_dir(n).join("includes/remote").exists(), "{n}");
    }
}

#[test]
fn blog_split_only_the_first_asset_copy_loads_default_assets() {
    let g = rendered("blog-split");
    for (n, want) in [
        ("asset-1", "true"),
        ("asset-2", "false"),
        ("asset-3", "false"),
    ] {
        let ini = load_ini(&g, n);
        assert_eq!(get(&ini, "AssetService", "AssetLoaderEnabled"), want, "{n}");
        assert_eq!(
            get(&ini, "AssetService", "LocalServiceModule"),
            "OpenSim.Services.AssetService.dll:AssetService"
        );
    }
}

#[test]
fn hypergrid_has_exactly_one_fsassets_primary() {
    let g = rendered("hypergrid");
    for (n, want) in [("asset-1", "false"), ("asset-2", "true")] {
        let ini = load_ini(&g, n);
        assert_eq!(get(&ini, "AssetService", "SecondaryInstance"), want, "{n}");
        // Copies share the FSAssets directories: one absolute per-grid place, not bin/.
        assert_eq!(
            Path::new(&get(&ini, "AssetService", "BaseDirectory")),
            g.state_dir().join("fsassets/data")
        );
    }
}

#[test]
fn hypergrid_front_uses_remote_presence_and_griduser() {
    let g = rendered("hypergrid");
    let hg = load_ini(&g, "hg-1");
    let presence = "OpenSim.Services.Connectors.dll:PresenceServicesConnector";
    let griduser = "OpenSim.Services.Connectors.dll:GridUserServicesConnector";
    for section in [
        "GatekeeperService",
        "UserAgentService",
        "HGFriendsService",
        "HGInstantMessageService",
    ] {
        assert_eq!(get(&hg, section, "PresenceService"), presence, "{section}");
    }
    for section in ["GatekeeperService", "UserAgentService"] {
        assert_eq!(get(&hg, section, "GridUserService"), griduser, "{section}");
    }
    assert_eq!(
        get(&hg, "PresenceService", "PresenceServerURI"),
        "http://presence.robust.internal:19081"
    );
    assert_eq!(
        get(&hg, "GridUserService", "GridUserServerURI"),
        "http://griduser.robust.internal:19081"
    );
    // No local Presence/GridUser module (and so no second process-wide cache) in the front.
    assert!(hg.get("PresenceService", "LocalServiceModule").is_none());
    assert!(hg.get("GridUserService", "LocalServiceModule").is_none());
    let dir = g.instance_dir("hg-1");
    assert!(!dir.join("includes/local/presence.ini").exists());
    assert!(!dir.join("includes/local/griduser.ini").exists());
    // The gatekeeper's UserAgent lives in the same process: a local module.
    assert_eq!(
        get(&hg, "GatekeeperService", "UserAgentService"),
        "OpenSim.Services.HypergridService.dll:UserAgentService"
    );
}

#[test]
fn startup_paths_are_distinct_across_instances() {
    const KEYS: [&str; 5] = [
        "PIDFile",
        "RegistryLocation",
        "ConsoleHistoryFile",
        "logfile",
        "StatsLogFile",
    ];
    for name in EXAMPLES {
        let g = rendered(name);
        let mut seen: HashMap<String, String> = HashMap::new();
        for inst in instances(&g) {
            let ini = load_ini(&g, &inst);
            let dir = g.instance_dir(&inst);
            for key in KEYS {
                let v = get(&ini, "Startup", key);
                assert!(
                    Path::new(&v).starts_with(&dir),
                    "{name}/{inst}: {key} = {v} is not in the instance dir"
                );
                if let Some(other) = seen.insert(v.clone(), format!("{inst} {key}")) {
                    panic!("{name}: {v} shared by {other} and {inst} {key}");
                }
            }
            // The per-instance log4net config writes into the instance dir too.
            let log4net = g.read(&inst, "log4net.xml");
            for line in log4net.lines().filter(|l| l.contains("<file value=")) {
                assert!(line.contains(&dir.display().to_string()), "{inst}: {line}");
            }
        }
    }
}

#[test]
fn argv_and_environment_follow_robust_rules() {
    for name in EXAMPLES {
        let g = rendered(name);
        for inst in instances(&g) {
            let spec = spec(&g, &inst);
            assert_eq!(
                spec.program,
                common::fake_robust_bin().display().to_string()
            );
            assert_eq!(spec.cwd, common::fake_bin_dir(), "cwd = Robust's bin/");
            let dir = g.instance_dir(&inst);
            // `-inifile=/abs` with `=`: a separate value starting with `/` is read as a switch.
            let ini = format!("-inifile={}", dir.join("Robust.ini").display());
            let logconfig = format!("-logconfig={}", dir.join("log4net.xml").display());
            assert_eq!(spec.args, vec!["Robust.dll".to_string(), ini, logconfig]);
            assert!(!spec
                .args
                .iter()
                .any(|a| a == "-inifile" || a == "-logconfig"));
            let env: HashMap<_, _> = spec.env.iter().cloned().collect();
            assert_eq!(env.get("TERM").map(String::as_str), Some("xterm"), "{inst}");
            // From `env:ROBUST_DB` (hypergrid) or inline (single; blog-split, the demo,
            // carries an obviously fake string so its first run needs no secret).
            let want = match *name {
                "single" => "URI=file:robust.db,version=3",
                "blog-split" => {
                    "Data Source=localhost;Database=robust;User ID=opensim;Password=FAKE-demo-only;"
                }
                _ => common::DB_SECRET,
            };
            assert_eq!(
                env.get(gridctl::plan::DB_ENV).map(String::as_str),
                Some(want)
            );
            // The spec carries the secret: only its owner may read it.
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("holder.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{inst}/holder.json");
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{inst}/");
        }
    }
}

// ---------------------------------------------------------------- writing the tree

/// Adds `templates = "<dir>"` to `[grid]`.
fn use_templates(g: &Grid, dir: &str) {
    let text = std::fs::read_to_string(&g.manifest).unwrap();
    let text = text.replacen("[grid]\n", &format!("[grid]\ntemplates = \"{dir}\"\n"), 1);
    std::fs::write(&g.manifest, text).unwrap();
}

fn write_template(g: &Grid, rel: &str, text: &str) -> PathBuf {
    let p = g.dir.join("tpl").join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn failed_render_reports_the_template_line_and_changes_nothing() {
    let g = rendered("blog-split");
    let before = common::snapshot_dir(&g.state_dir());
    use_templates(&g, "tpl");
    write_template(
        &g,
        "local/asset.ini",
        "{% include \"local/_service.ini\" %}\n    A = 1\n    B = {{ instance.nmae }}\n",
    );
    let a = g.gridctl(&["render"]);
    assert_eq!(code(&a), Some(3));
    assert!(stdout(&a).is_empty());
    assert_eq!(
        g.normalize(&stderr(&a)),
        "error: template `local/asset.ini` failed: Field `nmae` is not defined. Available fields: \
         dir, index, name, private_port, public_port\n \
         --> $DIR/blog-split/tpl/local/asset.ini:3:21\n  |\n3 |     B = {{ instance.nmae }}\n  \
         |                     ^^^^\nhelp: `local/asset.ini` comes from your templates directory \
         ([grid] templates); fix it or delete it to use the built-in one\n\n"
    );
    assert_eq!(common::snapshot_dir(&g.state_dir()), before);
}

#[test]
fn template_syntax_error_names_the_file_and_line() {
    let g = example("blog-split");
    use_templates(&g, "tpl");
    write_template(&g, "nginx.conf", "# ok\nupstream {{ x \n");
    let a = g.gridctl(&["render"]);
    assert_eq!(code(&a), Some(3));
    let err = g.normalize(&stderr(&a));
    assert!(
        err.starts_with("error: template `nginx.conf` failed: "),
        "{err}"
    );
    assert!(
        err.contains(" --> $DIR/blog-split/tpl/nginx.conf:2:"),
        "{err}"
    );
    assert!(!g.state_dir().exists(), "nothing rendered");
}

/// The state directory's files, without the grid lock's file: `render` takes the lock
/// before it writes, and the lock file records the pid of the last command that took it
/// (coordination between commands, not rendered output).
fn rendered_state(g: &common::Grid) -> Vec<(PathBuf, Vec<u8>)> {
    common::snapshot_dir(&g.state_dir())
        .into_iter()
        .filter(|(p, _)| p != Path::new("lock"))
        .collect()
}

#[test]
fn second_render_changes_nothing() {
    let g = rendered("blog-split");
    let before = rendered_state(&g);
    let out = stdout(&g.gridctl(&["render"]).success());
    assert_eq!(
        g.normalize(&out),
        "rendered 6 instance(s) into $DIR/blog-split/.gridctl/instances (0 changed, 6 unchanged)\n"
    );
    assert_eq!(rendered_state(&g), before);
}

#[test]
fn a_user_template_overrides_only_its_own_output() {
    let g = rendered("blog-split");
    let before: HashMap<PathBuf, Vec<u8>> = rendered_state(&g).into_iter().collect();
    use_templates(&g, "tpl");
    write_template(
        &g,
        "local/asset.ini",
        "{% include \"local/_service.ini\" %}\n    AssetLoaderEnabled = false ; custom\n",
    );
    let out = stdout(&g.gridctl(&["render"]).success());
    assert_eq!(
        g.normalize(&out),
        "rendered 6 instance(s) into $DIR/blog-split/.gridctl/instances (3 changed, 3 unchanged)\n"
    );
    let after: HashMap<PathBuf, Vec<u8>> = rendered_state(&g).into_iter().collect();
    assert_eq!(
        before.keys().collect::<std::collections::BTreeSet<_>>(),
        after.keys().collect()
    );
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(p, b)| before.get(*p) != Some(b))
        .map(|(p, _)| p.display().to_string())
        .collect();
    changed.sort();
    let mut want = Vec::new();
    for n in 1..=3 {
        want.push(format!("instances/asset-{n}/holder.json"));
        want.push(format!("instances/asset-{n}/includes/local/asset.ini"));
    }
    assert_eq!(changed, want);
    // holder.json changes only by its config hash (which makes `up` restart the copy).
    for n in 1..=3 {
        let p = PathBuf::from(format!("instances/asset-{n}/holder.json"));
        let strip = |b: &Vec<u8>| {
            String::from_utf8_lossy(b)
                .lines()
                .filter(|l| !l.contains("\"config_hash\""))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(strip(&before[&p]), strip(&after[&p]));
    }
    assert_eq!(
        g.read("asset-2", "includes/local/asset.ini"),
        "; asset: asset storage in the database\n[AssetService]\n    LocalServiceModule = \
         \"OpenSim.Services.AssetService.dll:AssetService\"\n    AssetLoaderEnabled = false ; custom\n"
    );
}

#[test]
fn stale_include_files_are_removed() {
    let g = rendered("blog-split");
    let stray = g.instance_dir("core-1").join("includes/remote/asset.ini");
    std::fs::write(
        &stray,
        "[AssetService]\n    AssetServerURI = \"http://old\"\n",
    )
    .unwrap();
    let out = stdout(&g.gridctl(&["render"]).success());
    assert!(out.contains("(1 changed, 5 unchanged)"), "{out}");
    assert!(!stray.exists());
}

// ---------------------------------------------------------------- writable paths

/// `(section, key)` of every directory a Robust service writes into that the templates set.
const WRITABLE_DIRS: &[(&str, &str)] = &[
    ("MapImageService", "TilesStoragePath"),
    ("GridService", "MapTileDirectory"),
    ("BakedTextureService", "BaseDirectory"),
    ("AssetService", "BaseDirectory"),
    ("AssetService", "SpoolDirectory"),
];

/// Robust resolves relative paths against its cwd, the shared bin/ (robust.md 0d): every
/// writable directory the templates render must be absolute and inside the state dir, and
/// `render` creates it (owner-only) so no copy creates it under bin/.
#[test]
fn writable_directories_are_absolute_per_grid_and_created() {
    let blog = std::fs::read_to_string(common::repo().join("examples/blog-split/grid.toml"))
        .expect("example");
    let with_bakes = common::grid_in(
        "bakes",
        &common::localize(&format!(
            "{blog}\n[roles.bakes]\nservices = [\"bakes\"]\ninstances = 2\nport = 18700\n"
        )),
    );
    with_bakes.gridctl(&["render"]).success();
    let mut grids: Vec<Grid> = EXAMPLES.iter().map(|n| rendered(n)).collect();
    grids.push(with_bakes);
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for g in &grids {
        for n in instances(g) {
            let ini = load_ini(g, &n);
            for &(section, key) in WRITABLE_DIRS {
                let Some(value) = ini.get(section, key) else {
                    continue;
                };
                let path = Path::new(value);
                assert!(path.is_absolute(), "{n}: [{section}] {key} = {value}");
                assert!(
                    path.starts_with(g.state_dir()),
                    "{n}: [{section}] {key} = {value}"
                );
                assert!(path.is_dir(), "{n}: [{section}] {key}: {value} not created");
                if !seen.contains(&(section, key)) {
                    seen.push((section, key));
                }
            }
        }
    }
    assert_eq!(
        seen.len(),
        WRITABLE_DIRS.len(),
        "every key rendered somewhere: {seen:?}"
    );
    // One tiles directory for the grid, created owner-only.
    let g = &grids[1];
    let tiles = g.state_dir().join("maptiles");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&tiles)
        .expect("maptiles")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// A directory the operator made (and may share on purpose) keeps its mode.
#[test]
fn an_existing_shared_directory_is_not_chmodded() {
    use std::os::unix::fs::PermissionsExt;
    let g = example("blog-split");
    let tiles = g.state_dir().join("maptiles");
    std::fs::create_dir_all(&tiles).expect("mkdir");
    std::fs::set_permissions(&tiles, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    g.gridctl(&["render"]).success();
    let mode = std::fs::metadata(&tiles)
        .expect("maptiles")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

/// Every assembly a rendered tree names (connectors, modules, loaders, storage providers,
/// log4net types) is in `examples/fake-bin`, under its real name: the fake loads only
/// what is there, like Robust does, so a missing name would fail where the real one does.
#[test]
fn every_assembly_the_examples_name_is_in_fake_bin() {
    let bin = common::fake_bin_dir();
    for name in EXAMPLES {
        let g = rendered(name);
        let mut stack = vec![g.state_dir().join("instances")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.')) {
                    if word.ends_with(".dll") {
                        assert!(
                            bin.join(word).is_file(),
                            "{name}: {} names {word}",
                            p.display()
                        );
                    }
                }
                // log4net types: `Class, Assembly`.
                if p.extension().is_some_and(|x| x == "xml") {
                    for e in gridctl::log4net::elements(&text) {
                        if let Some(t) = e.attr("type") {
                            let ty = gridctl::log4net::TypeName::parse(t);
                            assert!(
                                gridctl::log4net::resolve(&ty, &bin).is_ok(),
                                "{name}: {} names {t}",
                                p.display()
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn render_waits_for_the_grid_lock_before_it_writes() {
    use fs2::FileExt;
    use std::io::Read;
    let g = example("blog-split");
    // Another command holds the grid lock (as `scale` or `up` would).
    std::fs::create_dir_all(g.state_dir()).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(g.state_dir().join("lock"))
        .unwrap();
    lock.lock_exclusive().unwrap();
    let mut child = std::process::Command::new(common::gridctl_bin())
        .current_dir(&g.dir)
        .arg("render")
        .env("ROBUST_DB", common::DB_SECRET)
        .env_remove("GRIDCTL_FILE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It says it waits, and writes nothing while it does.
    let mut err = child.stderr.take().unwrap();
    let mut said = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&said).contains("waiting for another gridctl command") {
        match err.read(&mut byte) {
            Ok(1) => said.push(byte[0]),
            _ => panic!(
                "render ended without waiting: {}",
                String::from_utf8_lossy(&said)
            ),
        }
    }
    assert!(
        !g.state_dir().join("instances").exists(),
        "render wrote while another command held the lock"
    );
    FileExt::unlock(&lock).unwrap();
    let status = common::wait::wait_for(
        "render to finish",
        std::time::Duration::from_secs(30),
        || child.try_wait().ok().flatten(),
    );
    assert!(status.success());
    assert_eq!(instances(&g).len(), 6);
}

/// The copy's environment is part of its config hash (a copy started with another
/// database secret, or none, is restarted by `up`), while neither the INI tree nor the
/// hash shows the secret.
#[test]
fn the_environment_is_part_of_the_config_hash() {
    // hypergrid reads its secret from ROBUST_DB (blog-split carries a fake inline one).
    let g = example("hypergrid");
    let render_with = |secret: &str| {
        assert_cmd::Command::new(common::gridctl_bin())
            .current_dir(&g.dir)
            .args(["render"])
            .env("ROBUST_DB", secret)
            .env_remove("GRIDCTL_FILE")
            .assert()
            .success();
        let first = instances(&g).into_iter().next().expect("an instance");
        let ini = g.read(&first, "Robust.ini");
        (spec(&g, &first).config_hash, ini)
    };
    let (first, ini_first) = render_with("Data Source=a;Password=one");
    let (again, _) = render_with("Data Source=a;Password=one");
    let (second, ini_second) = render_with("Data Source=a;Password=two");
    assert_eq!(first, again, "the same environment gives the same hash");
    assert_ne!(first, second, "another secret must change the hash");
    assert_eq!(
        ini_first, ini_second,
        "the secret never lands in the INI tree"
    );
    assert!(!second.contains("two") && !ini_second.contains("Password=two"));
}
