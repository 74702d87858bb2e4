//! The cluster plan (issue 13): the same manifest planned for Kubernetes. Every copy
//! listens on its role's own ports in its own pod, connectors name role Services by
//! DNS, nothing rendered points at a loopback address, the pod's paths are used; and
//! `[kubernetes]` is checked like the rest of grid.toml, with file:line:col.

mod common;

use common::{code, example, manifest, repo, stderr, EXAMPLES};
use gridctl::cluster::Target;
use gridctl::plan::Plan;
use gridctl::{manifest as mf, planner, render, templates::Templates};

fn plan_of(text: &str, target: Target) -> Result<Plan, String> {
    let loaded = mf::parse(&repo().join("examples/x/grid.toml"), text.to_string())
        .map_err(|d| d.to_string())?;
    planner::build_for(&loaded, target).map_err(|ds| {
        ds.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn example_text(name: &str) -> String {
    std::fs::read_to_string(repo().join("examples").join(name).join("grid.toml"))
        .expect("example manifest")
}

/// Every rendered file of every instance of the cluster plan, `(instance, path, text)`.
fn rendered(plan: &Plan) -> Vec<(String, String, String)> {
    let t = Templates::load(None).expect("built-in templates");
    let mut out = Vec::new();
    for inst in &plan.instances {
        let r = render::render_instance(plan, &t, inst).expect("render");
        for (path, text) in r.files {
            out.push((inst.name.clone(), path.display().to_string(), text));
        }
    }
    out
}

#[test]
fn every_copy_has_its_roles_ports_and_its_own_pod_address() {
    let plan = plan_of(&example_text("blog-split"), Target::Cluster).expect("plan");
    let c = plan.cluster.as_ref().expect("a cluster plan");
    assert_eq!(c.namespace, "default");
    for inst in &plan.instances {
        let role = plan.role(&inst.role).expect("role");
        assert_eq!(inst.private_port, role.port, "{}", inst.name);
        assert_eq!(inst.public_port, role.public_port, "{}", inst.name);
        assert_eq!(
            inst.address,
            format!(
                "{}-{}.{}-pods.default.svc.cluster.local",
                inst.role, inst.index, inst.role
            )
        );
        assert!(inst.dir.starts_with("/var/lib/gridctl"), "{:?}", inst.dir);
        assert_eq!(
            inst.argv[..2],
            ["mono".to_string(), "Robust.exe".to_string()]
        );
    }
    assert_eq!(plan.bin_dir, std::path::Path::new("/opt/opensim/bin"));
    assert!(
        plan.nginx.is_none(),
        "the Ingress and Services take nginx's place"
    );
    // On this host the same manifest still gives each copy its own port.
    let host = plan_of(&example_text("blog-split"), Target::Host).expect("plan");
    assert!(host.cluster.is_none());
    let ports: Vec<u16> = host
        .instances
        .iter()
        .filter(|i| i.role == "asset")
        .map(|i| i.private_port)
        .collect();
    assert_eq!(ports, [18300, 18301, 18302]);
}

#[test]
fn connectors_name_role_services_and_nothing_points_at_loopback() {
    for ex in EXAMPLES {
        let plan = plan_of(&example_text(ex), Target::Cluster).expect("plan");
        for r in plan
            .routes
            .iter()
            .filter(|r| r.side == gridctl::catalog::Side::Private)
        {
            let role = plan.role(&r.role).expect("role");
            assert_eq!(
                r.url,
                format!("http://{}.default.svc.cluster.local:{}", r.role, role.port),
                "{ex}: {}",
                r.service
            );
        }
        for (inst, path, text) in rendered(&plan) {
            for loopback in ["127.0.0.1", "[::1]", "//localhost", "\"localhost\""] {
                assert!(
                    !text.contains(loopback),
                    "{ex}: {inst}/{path} names {loopback}:\n{text}"
                );
            }
        }
    }
}

#[test]
fn a_remote_service_is_reached_through_its_roles_service() {
    let plan = plan_of(&example_text("blog-split"), Target::Cluster).expect("plan");
    let files = rendered(&plan);
    let core_1: String = files
        .iter()
        .filter(|(i, _, _)| i == "core-1")
        .map(|(_, _, t)| t.as_str())
        .collect();
    // Login (in core) calls inventory through inventory's Service.
    let url = "http://inventory.default.svc.cluster.local:18400";
    assert!(core_1.contains(url), "{url} missing:\n{core_1}");
    // Public URLs are the public hostnames, without the single host's port 18080.
    let core = plan.role("core").expect("core");
    let login = plan
        .routes
        .iter()
        .find(|r| r.service == "login" && r.side == gridctl::catalog::Side::Public)
        .expect("login route");
    assert_eq!(login.url, "http://login.grid.localhost");
    assert_eq!(core.address, "core.default.svc.cluster.local");
}

#[test]
fn kubernetes_settings_are_used() {
    let text = format!(
        "{}\n[kubernetes]\nnamespace = \"grid\"\nimage = \"registry.example.org/robust:1\"\n\
         cluster_domain = \"k8s.example\"\nbin_dir = \"/srv/opensim/bin\"\n\
         command = [\"dotnet\", \"Robust.dll\"]\npublic_port = 8443\n\
         ingress_class = \"public\"\ninternal_ingress_class = \"internal\"\n\
         [kubernetes.resources]\ncpu = \"250m\"\nmemory = \"512Mi\"\n\
         [kubernetes.roles.asset]\nmemory = \"1Gi\"\nmemory_limit = \"2Gi\"\n",
        example_text("blog-split")
    );
    let plan = plan_of(&text, Target::Cluster).expect("plan");
    let c = plan.cluster.as_ref().expect("cluster");
    assert_eq!(c.namespace, "grid");
    assert_eq!(c.image, "registry.example.org/robust:1");
    assert_eq!(c.ingress_class.as_deref(), Some("public"));
    assert_eq!(c.internal_ingress_class.as_deref(), Some("internal"));
    let asset = c.resources_of("asset");
    assert_eq!(asset.memory.as_deref(), Some("1Gi"));
    assert_eq!(
        asset.cpu.as_deref(),
        Some("250m"),
        "inherited from [kubernetes.resources]"
    );
    assert_eq!(c.resources_of("core").memory.as_deref(), Some("512Mi"));
    assert_eq!(plan.bin_dir, std::path::Path::new("/srv/opensim/bin"));
    assert_eq!(
        plan.instances[0].argv[..2],
        ["dotnet".to_string(), "Robust.dll".to_string()]
    );
    let login = plan
        .routes
        .iter()
        .find(|r| r.service == "login" && r.side == gridctl::catalog::Side::Public)
        .expect("login");
    assert_eq!(login.url, "http://login.grid.localhost:8443");
    assert_eq!(
        plan.roles[0].address,
        format!("{}.grid.svc.k8s.example", plan.roles[0].name)
    );
}

#[test]
fn the_connection_comes_from_the_secrets_variable() {
    // Inline in grid.toml: on a cluster the pods read ROBUST_DB (from the Secret).
    let plan = plan_of(&example_text("blog-split"), Target::Cluster).expect("plan");
    let c = plan.cluster.as_ref().expect("cluster");
    assert_eq!(c.database_env, "ROBUST_DB");
    assert_eq!(c.database_secret, "robust-db");
    let db = plan.database.as_ref().expect("db");
    assert_eq!(db.source, "env:ROBUST_DB");
    // `env:NAME` in grid.toml: that name.
    let text = example_text("blog-split").replace(
        "connection = \"Data Source=localhost;Database=robust;User ID=opensim;Password=FAKE-demo-only;\"",
        "connection = \"env:GRID_DB\"",
    );
    assert!(text.contains("env:GRID_DB"));
    let plan = plan_of(&text, Target::Cluster).expect("plan");
    assert_eq!(
        plan.cluster.as_ref().map(|c| c.database_env.as_str()),
        Some("GRID_DB")
    );
}

/// `gridctl plan` on a manifest with one bad `[kubernetes]` line: exit 3, and the
/// message names the file, line and column and what is expected.
fn refused(extra: &str, line: usize, expect: &str) {
    // Localized first: it rewrites every `bin_dir` line, the [kubernetes] one too.
    let text = format!("{}\n{extra}", common::localize(&example_text("single")));
    let g = manifest(&text);
    let a = g.gridctl(&["plan"]);
    let err = stderr(&a);
    assert_eq!(code(&a), Some(3), "{extra}\n{err}");
    assert!(err.contains(expect), "{extra}: wanted {expect:?} in\n{err}");
    let at = format!("grid.toml:{line}:");
    assert!(err.contains(&at), "{extra}: wanted {at} in\n{err}");
}

#[test]
fn bad_kubernetes_values_are_refused_with_their_place() {
    let base = common::localize(&example_text("single")).lines().count() + 2;
    let cases: &[(&str, usize, &str)] = &[
        (
            "[kubernetes]\nnamespace = \"Grid_1\"",
            2,
            "`namespace` of [kubernetes] is `Grid_1`",
        ),
        (
            "[kubernetes]\nimage = \"robust:1 --privileged\"",
            2,
            "`image` of [kubernetes]",
        ),
        (
            "[kubernetes]\ndatabase_secret = \"db..x\"",
            2,
            "`database_secret` of [kubernetes]",
        ),
        (
            "[kubernetes]\ningress_class = \"a\"\ninternal_ingress_class = \"a\"",
            3,
            "is the public `ingress_class`",
        ),
        (
            "[kubernetes]\npublic_port = 70000",
            2,
            "`public_port` of [kubernetes] is 70000",
        ),
        (
            "[kubernetes]\nbin_dir = \"opensim/bin\"",
            2,
            "expected an absolute path",
        ),
        // Issue 19.6: written into the Containerfile's COPY, a space split it and `$`
        // expanded there.
        (
            "[kubernetes]\nbin_dir = \"/opt/my bin\"",
            2,
            "`bin_dir` of [kubernetes] is `/opt/my bin`",
        ),
        (
            "[kubernetes]\nbin_dir = \"/opt/$HOME\"",
            2,
            "the Containerfile copies bin/ there",
        ),
        ("[kubernetes]\ncommand = []", 2, "`command` of [kubernetes]"),
        (
            "[kubernetes.resources]\nmemory = \"1GB\"",
            2,
            "`memory` of [kubernetes.resources]",
        ),
        (
            "[kubernetes.resources]\ncpu = \"-1\"",
            2,
            "`cpu` of [kubernetes.resources]",
        ),
        (
            "[kubernetes.roles.nosuch]\ncpu = \"1\"",
            1,
            "[kubernetes.roles.nosuch] names no role",
        ),
        (
            "[kubernetes]\nnamspace = \"grid\"",
            2,
            "unknown key `namspace`",
        ),
    ];
    for (extra, line, expect) in cases {
        refused(extra, base + line - 1, expect);
    }
}

#[test]
fn a_request_above_its_limit_is_refused() {
    let text = format!(
        "{}\n[kubernetes.resources]\nmemory = \"2Gi\"\nmemory_limit = \"1Gi\"\n",
        example_text("single")
    );
    let err = plan_of(&text, Target::Host).expect_err("refused");
    assert!(
        err.contains("requests memory 2Gi, more than its limit 1Gi"),
        "{err}"
    );
}

#[test]
fn a_role_name_a_statefulset_cannot_carry_is_refused_only_for_a_cluster() {
    let long = "a".repeat(53);
    let text = example_text("single").replace("[roles.robust]", &format!("[roles.{long}]"));
    assert!(text.contains(&long), "the example's role table moved");
    plan_of(&text, Target::Host).expect("fine on one host");
    let err = plan_of(&text, Target::Cluster).expect_err("refused on a cluster");
    assert!(err.contains("cannot name a StatefulSet"), "{err}");
}

#[test]
fn inside_a_pod_commands_use_the_cluster_plan() {
    let g = example("blog-split");
    let a = g.gridctl(&["plan"]);
    assert!(
        common::stdout(&a).contains("18301"),
        "host plan: copy 2 on 18301"
    );
    let out = std::process::Command::new(common::gridctl_bin())
        .current_dir(&g.dir)
        .args(["plan"])
        .env("GRIDCTL_TARGET", "kubernetes")
        .env_remove("GRIDCTL_FILE")
        .output()
        .expect("run gridctl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("18301"), "{text}");
    assert!(text.contains("state in /var/lib/gridctl"), "{text}");
}

/// `gridctl ARGS` as inside a pod named `pod`.
fn in_pod(g: &common::Grid, pod: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::gridctl_bin())
        .current_dir(&g.dir)
        .args(args)
        .env("GRIDCTL_TARGET", "kubernetes")
        .env("POD_NAME", pod)
        .env("ROBUST_DB", common::DB_SECRET)
        .env_remove("GRIDCTL_FILE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run gridctl")
}

#[test]
fn inside_a_pod_whole_grid_commands_are_refused_with_what_to_run_instead() {
    let g = example("blog-split");
    for (args, instead) in [
        (&["up"][..], "kubectl apply -f k8s/"),
        (&["down"][..], "kubectl scale statefulset"),
        (
            &["restart", "--rolling", "asset"][..],
            "kubectl rollout restart",
        ),
        (&["scale", "asset=4"][..], "gridctl export kubernetes"),
        (&["top"][..], "kubectl get pods"),
        (&["render"][..], "pod run"),
        (&["render-nginx"][..], "Ingress"),
    ] {
        let out = in_pod(&g, "asset-2", args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("does not run inside a pod"), "{args:?}: {err}");
        assert!(err.contains(instead), "{args:?}: {err}");
    }
    // Nothing was touched: no state dir, grid.toml as it was.
    assert!(!g.state_dir().exists());
    let text = std::fs::read_to_string(&g.manifest).expect("grid.toml");
    assert!(text.contains("instances = 3"), "{text}");
}

#[test]
fn inside_a_pod_status_shows_its_own_copy() {
    let g = example("blog-split");
    let out = in_pod(&g, "asset-2", &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("-1") || l.contains("-2") || l.contains("-3"))
        .collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(rows[0].starts_with("asset-2"), "{text}");
}

#[test]
fn a_directory_several_pods_share_needs_a_shared_claim() {
    // hypergrid: two FSAssets copies share their data on one host.
    let text = example_text("hypergrid");
    let plan = plan_of(&text, Target::Cluster).expect("plan");
    let warned: Vec<String> = plan.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("2 pods use /var/lib/gridctl/fsassets"),
        "{warned:?}"
    );
    assert!(warned[0].contains("shared_claim"), "{warned:?}");
    // Named: no warning, and the plan carries it for the export.
    let plan = plan_of(
        &format!("{text}\n[kubernetes]\nshared_claim = \"robust-shared\"\n"),
        Target::Cluster,
    )
    .expect("plan");
    assert!(plan.warnings.is_empty());
    assert_eq!(
        plan.cluster
            .as_ref()
            .and_then(|c| c.shared_claim.as_deref()),
        Some("robust-shared")
    );
    // One host shares its state dir: nothing to say.
    assert!(plan_of(&text, Target::Host)
        .expect("plan")
        .warnings
        .is_empty());
}

#[test]
fn sqlite_on_a_cluster_is_warned_about() {
    let text = example_text("single");
    assert!(
        text.contains("provider = \"sqlite\""),
        "the single example changed"
    );
    let plan = plan_of(&text, Target::Cluster).expect("plan");
    let warned: Vec<String> = plan.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warned
            .iter()
            .any(|w| w.contains("SQLite on a cluster") && w.contains("grid.toml:")),
        "{warned:?}"
    );
    // On one host SQLite's file stays: nothing to say.
    assert!(plan_of(&text, Target::Host)
        .expect("plan")
        .warnings
        .is_empty());
}
