//! `gridctl export kubernetes` through the real binary: snapshots of every example's
//! export, determinism, every document read back into its typed k8s-openapi object,
//! no secret in any file, replicas, Ingress sides, config-hash scope, refusals.

mod common;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::Ingress;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every object of an export, typed.
#[derive(Default)]
struct Objects {
    sets: Vec<StatefulSet>,
    services: Vec<Service>,
    maps: Vec<ConfigMap>,
    ingresses: Vec<Ingress>,
}

impl Objects {
    fn set(&self, name: &str) -> &StatefulSet {
        self.sets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no StatefulSet {name}"))
    }

    fn ingress(&self, name: &str) -> Option<&Ingress> {
        self.ingresses
            .iter()
            .find(|i| i.metadata.name.as_deref() == Some(name))
    }

    fn hash(&self, name: &str) -> String {
        self.set(name)
            .spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get("gridctl.io/config-hash"))
            .cloned()
            .unwrap_or_else(|| panic!("{name} has no config hash"))
    }
}

fn hosts(i: &Ingress) -> Vec<String> {
    i.spec
        .as_ref()
        .and_then(|s| s.rules.as_ref())
        .map(|rules| rules.iter().filter_map(|r| r.host.clone()).collect())
        .unwrap_or_default()
}

/// Exports `manifest` into `out`; panics unless it succeeds. Returns stdout.
fn export(manifest: &Path, out: &Path, extra: &[&str]) -> String {
    common::stdout(&export_attempt(manifest, out, extra).success())
}

/// `gridctl -f MANIFEST export kubernetes -o OUT EXTRA...`, whatever it ends with.
fn export_attempt(manifest: &Path, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut args = vec![
        "-f",
        manifest.to_str().unwrap(),
        "export",
        "kubernetes",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    common::gridctl(dir, &args)
}

/// (file name, text) of every file in `dir`, sorted.
fn files(dir: &Path) -> Vec<(String, String)> {
    common::snapshot_dir(dir)
        .into_iter()
        .map(|(p, b)| {
            (
                p.display().to_string(),
                String::from_utf8(b).expect("UTF-8"),
            )
        })
        .collect()
}

/// Reads every YAML document back into its typed object, by `kind`.
fn objects(dir: &Path) -> Objects {
    let mut out = Objects::default();
    for (name, text) in files(dir) {
        if !name.ends_with(".yaml") {
            continue;
        }
        for doc in text.split("\n---\n") {
            let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(doc)
                .unwrap_or_else(|e| panic!("{name}: not YAML: {e}\n{doc}"));
            let kind = value["kind"].as_str().unwrap_or("").to_string();
            macro_rules! typed {
                () => {
                    serde_yaml_ng::from_str(doc)
                        .unwrap_or_else(|e| panic!("{name}: {kind} does not parse: {e}"))
                };
            }
            match kind.as_str() {
                "StatefulSet" => out.sets.push(typed!()),
                "Service" => out.services.push(typed!()),
                "ConfigMap" => out.maps.push(typed!()),
                "Ingress" => out.ingresses.push(typed!()),
                other => panic!("{name}: unexpected kind `{other}`"),
            }
        }
    }
    out
}

fn example_manifest(name: &str) -> PathBuf {
    common::repo().join("examples").join(name).join("grid.toml")
}

/// The export of an example as one normalised text. The config hashes stay: they do not
/// depend on where the checkout is (`the_export_is_deterministic` checks that).
fn snapshot_text(dir: &Path, tmp: &Path) -> String {
    let mut out = String::new();
    for (name, text) in files(dir) {
        out.push_str(&format!("=== {name} ===\n{text}"));
    }
    common::normalize(&out, tmp)
}

#[test]
fn every_example_exports_as_its_snapshot() {
    for name in common::EXAMPLES {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("k8s");
        let stdout = export(&example_manifest(name), &out, &[]);
        assert!(stdout.contains("Containerfile"), "{stdout}");
        insta::assert_snapshot!(format!("export_{name}"), snapshot_text(&out, tmp.path()));
        insta::assert_snapshot!(
            format!("export_{name}_stdout"),
            common::normalize(&stdout, tmp.path())
        );
    }
}

#[test]
fn the_export_is_deterministic() {
    for name in common::EXAMPLES {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        export(&example_manifest(name), &a, &[]);
        export(&example_manifest(name), &b, &[]);
        assert_eq!(files(&a), files(&b), "{name}");
        // Again into the same directory: the same files, nothing added.
        export(&example_manifest(name), &a, &[]);
        assert_eq!(files(&a), files(&b), "{name}");
        // From a copy of the manifest elsewhere: the same files (the config hash is
        // what the pods render, not where this checkout is).
        let copy = tmp.path().join("elsewhere/deeper/grid.toml");
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(example_manifest(name), &copy).unwrap();
        let c = tmp.path().join("c");
        export(&copy, &c, &[]);
        assert_eq!(files(&c), files(&b), "{name}");
    }
}

#[test]
fn every_document_is_a_typed_object_and_replicas_are_the_instances() {
    for name in common::EXAMPLES {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("k8s");
        export(&example_manifest(name), &out, &[]);
        let o = objects(&out);
        let loaded = gridctl::manifest::load(&example_manifest(name)).unwrap();
        let plan =
            gridctl::planner::build_for(&loaded, gridctl_config::cluster::Target::Cluster).unwrap();
        assert_eq!(o.sets.len(), plan.roles.len(), "{name}");
        assert_eq!(o.services.len(), 2 * plan.roles.len(), "{name}");
        assert_eq!(o.maps.len(), 1, "{name}");
        for role in &plan.roles {
            let set = o.set(&role.name.replace('_', "-"));
            let spec = &set.spec;
            assert_eq!(
                spec.replicas,
                Some(role.instances as i32),
                "{name}/{}",
                role.name
            );
            assert_eq!(spec.ordinals.as_ref().and_then(|o| o.start), Some(1));
            assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
            assert_eq!(
                spec.service_name.as_deref(),
                Some(format!("{}-pods", role.name.replace('_', "-")).as_str())
            );
            let pod = spec.template.spec.as_ref().unwrap();
            let c = &pod.containers[0];
            assert_eq!(c.name, "robust");
            assert_eq!(
                c.command.as_deref(),
                Some(&["gridctl".to_string(), "pod".into(), "run".into()][..])
            );
            assert!(c.liveness_probe.is_none());
            assert!(c.readiness_probe.is_some() && c.startup_probe.is_some());
            let sup = &role.supervise;
            let grace = (sup.stop_timeout + sup.sigint_timeout + sup.sigterm_timeout)
                .as_secs_f64()
                .ceil() as i64
                + 10;
            assert_eq!(pod.termination_grace_period_seconds, Some(grace));
            // The connection comes from the Secret by reference, never as a value.
            let env = c.env.as_ref().unwrap();
            let db = env.iter().find(|e| e.name == "ROBUST_DB").expect("db env");
            assert!(db.value.is_none());
            let secret = db
                .value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.as_ref())
                .expect("secretKeyRef");
            assert_eq!(
                (secret.name.as_str(), secret.key.as_str()),
                ("robust-db", "connection")
            );
            for m in [&set.metadata, spec.template.metadata.as_ref().unwrap()] {
                let labels = m.labels.as_ref().unwrap();
                assert_eq!(labels["app.kubernetes.io/managed-by"], "gridctl");
            }
            assert_eq!(set.metadata.namespace.as_deref(), Some("default"));
        }
    }
}

#[test]
fn single_copy_roles_stay_single_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("k8s");
    export(&example_manifest("blog-split"), &out, &[]);
    let o = objects(&out);
    assert_eq!(o.set("core").spec.replicas, Some(1));
    assert_eq!(o.set("asset").spec.replicas, Some(3));
    assert_eq!(o.set("inventory").spec.replicas, Some(2));
}

#[test]
fn no_secret_value_is_written_anywhere() {
    // The blog example's connection string is inline; the hypergrid's comes from
    // $ROBUST_DB, which common::gridctl sets to DB_SECRET.
    for name in ["blog-split", "hypergrid", "single"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("k8s");
        let stdout = export(&example_manifest(name), &out, &[]);
        for secret in ["FAKE-demo-only", common::DB_SECRET, "test-secret"] {
            assert!(!stdout.contains(secret), "{name}: stdout holds the secret");
            for (file, text) in files(&out) {
                assert!(!text.contains(secret), "{name}: {file} holds the secret");
            }
        }
    }
    // The inline string was replaced in the ConfigMap's copy, and the operator told.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("k8s");
    let stdout = export(&example_manifest("blog-split"), &out, &[]);
    assert!(
        stdout.contains("note: [database] connection is written inline"),
        "{stdout}"
    );
    let o = objects(&out);
    let toml = &o.maps[0].data.as_ref().unwrap()["grid.toml"];
    assert!(toml.contains("connection = \"env:ROBUST_DB\""), "{toml}");
}

/// The hypergrid example with `extra` appended to its manifest, in a scratch dir.
fn hypergrid_with(extra: &str) -> common::Grid {
    let text = std::fs::read_to_string(example_manifest("hypergrid")).unwrap();
    common::grid_in("hypergrid", &format!("{text}\n{extra}"))
}

#[test]
fn private_hostnames_never_reach_the_public_ingress() {
    for extra in ["", "[kubernetes]\ninternal_ingress_class = \"internal\"\n"] {
        let grid = hypergrid_with(extra);
        let out = grid.dir.join("k8s");
        export(&grid.manifest, &out, &[]);
        let o = objects(&out);
        let loaded = gridctl::manifest::load(&grid.manifest).unwrap();
        let plan =
            gridctl::planner::build_for(&loaded, gridctl_config::cluster::Target::Cluster).unwrap();
        let side = |s: gridctl::catalog::Side| -> Vec<String> {
            let mut v: Vec<String> = plan
                .routes
                .iter()
                .filter(|r| r.side == s)
                .map(|r| r.hostname.clone())
                .collect();
            v.dedup();
            v
        };
        let private = side(gridctl::catalog::Side::Private);
        let public = side(gridctl::catalog::Side::Public);
        assert!(!private.is_empty() && !public.is_empty());
        let public_ingress = o.ingress("gridctl-public").expect("public ingress");
        let public_hosts = hosts(public_ingress);
        for h in &private {
            if !public.contains(h) {
                assert!(
                    !public_hosts.contains(h),
                    "private {h} on the public Ingress"
                );
            }
        }
        let mut unique = public_hosts.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), public_hosts.len(), "duplicate hosts");
        match extra {
            "" => assert!(o.ingress("gridctl-private").is_none()),
            _ => {
                let ing = o.ingress("gridctl-private").expect("private ingress");
                let spec = ing.spec.as_ref().unwrap();
                assert_eq!(spec.ingress_class_name.as_deref(), Some("internal"));
                let mut want = private.clone();
                want.sort();
                want.dedup();
                let mut got = hosts(ing);
                got.sort();
                assert_eq!(got, want);
            }
        }
    }
}

#[test]
fn a_changed_role_setting_changes_only_that_roles_hash() {
    let grid = hypergrid_with("");
    let out = grid.dir.join("k8s");
    let roles = ["core", "hg", "asset", "inventory"];
    let hashes = || -> BTreeMap<&str, String> {
        export(&grid.manifest, &out, &[]);
        let o = objects(&out);
        roles.iter().map(|r| (*r, o.hash(r))).collect()
    };
    let before = hashes();
    let text = std::fs::read_to_string(&grid.manifest).unwrap();
    std::fs::write(
        &grid.manifest,
        format!("{text}\n[roles.inventory.settings.InventoryService]\nAllowDelete = \"false\"\n"),
    )
    .unwrap();
    let after = hashes();
    for role in ["core", "hg", "asset"] {
        assert_eq!(before[role], after[role], "{role} changed");
    }
    assert_ne!(
        before["inventory"], after["inventory"],
        "inventory did not change"
    );
    // Half a sha256 in hex: podman 4.3 refuses annotation values over 63 characters.
    assert_eq!(before["inventory"].len(), 32, "128 bits in hex");
}

#[test]
fn a_bad_namespace_or_image_exits_3_and_writes_nothing() {
    for args in [
        &["--namespace", "Bad_NS"][..],
        &["--namespace", ""][..],
        &["--image", "bad image"][..],
        &["--image", "img\u{7}"][..],
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("k8s");
        let manifest = example_manifest("blog-split");
        let mut full = vec![
            "-f",
            manifest.to_str().unwrap(),
            "export",
            "kubernetes",
            "-o",
            out.to_str().unwrap(),
        ];
        full.extend_from_slice(args);
        let a = common::gridctl(tmp.path(), &full).code(3);
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(err.contains(args[0]), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}

#[test]
fn flags_override_namespace_and_image() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("k8s");
    export(
        &example_manifest("blog-split"),
        &out,
        &[
            "--namespace",
            "grid",
            "--image",
            "registry.example/opensim-robust:0.9.2.2",
        ],
    );
    let o = objects(&out);
    for s in &o.sets {
        assert_eq!(s.metadata.namespace.as_deref(), Some("grid"));
        let c = &s.spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(
            c.image.as_deref(),
            Some("registry.example/opensim-robust:0.9.2.2")
        );
    }
    for s in &o.services {
        assert_eq!(s.metadata.namespace.as_deref(), Some("grid"));
    }
    assert_eq!(o.maps[0].metadata.namespace.as_deref(), Some("grid"));
    for i in &o.ingresses {
        assert_eq!(i.metadata.namespace.as_deref(), Some("grid"));
    }
    // The pods plan from the ConfigMap's grid.toml: it carries the overrides, so their
    // connectors name the Services in `grid`, where they are.
    let toml = o.maps[0].data.as_ref().unwrap()["grid.toml"].clone();
    let loaded = gridctl::manifest::parse(Path::new("/etc/gridctl/grid.toml"), toml)
        .expect("the ConfigMap's grid.toml parses");
    let plan = gridctl::planner::build_for(&loaded, gridctl::cluster::Target::Cluster)
        .expect("the pods' plan");
    let c = plan.cluster.as_ref().unwrap();
    assert_eq!(c.namespace, "grid");
    assert_eq!(c.image, "registry.example/opensim-robust:0.9.2.2");
    let private: Vec<&str> = plan
        .routes
        .iter()
        .filter(|r| r.side == gridctl::catalog::Side::Private)
        .map(|r| r.url.as_str())
        .collect();
    assert!(!private.is_empty());
    for url in private {
        assert!(url.contains(".grid.svc.cluster.local:"), "{url}");
    }
}

#[test]
fn stale_role_files_of_an_earlier_export_are_removed_and_others_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("k8s");
    export(&example_manifest("blog-split"), &out, &[]);
    // A role file an export wrote for a role that is gone, and one of the user's.
    let ours = std::fs::read_to_string(out.join("10-asset.yaml")).unwrap();
    std::fs::write(out.join("10-old.yaml"), &ours).unwrap();
    std::fs::write(out.join("10-mine.yaml"), "kind: Secret\n").unwrap();
    std::fs::write(out.join("notes.txt"), "mine\n").unwrap();
    let stdout = export(&example_manifest("blog-split"), &out, &[]);
    assert!(!out.join("10-old.yaml").exists());
    assert!(stdout.contains("10-old.yaml"), "{stdout}");
    assert!(out.join("10-mine.yaml").exists());
    assert!(out.join("notes.txt").exists());
}

/// A one-role grid with a user templates directory holding `files`.
fn templated_grid(files: &[(&str, &str)]) -> common::Grid {
    let grid = common::manifest(
        "[grid]\nname = \"T\"\ndomain = \"grid.test\"\ntemplates = \"tpl\"\n\n\
         [robust]\nbin_dir = \"bin\"\ncommand = [\"robust\"]\n\n\
         [database]\nprovider = \"mysql\"\nconnection = \"env:ROBUST_DB\"\n\n\
         [roles.core]\nservices = [\"grid\", \"gridinfo\", \"auth\", \"useraccount\", \"avatar\", \"griduser\", \"presence\", \"friends\", \"agentprefs\", \"mutelist\", \"map\", \"login\", \"inventory\"]\nport = 9100\npublic_port = 9200\n\n\
         [roles.asset]\nservices = [\"asset\"]\ninstances = 2\nport = 9300\n",
    );
    for (rel, text) in files {
        let p = grid.dir.join("tpl").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::create_dir_all(grid.dir.join("bin")).unwrap();
    grid
}

fn builtin(name: &str) -> String {
    std::fs::read_to_string(common::repo().join("templates").join(name)).unwrap()
}

#[test]
fn user_templates_go_into_the_configmap_and_roll_only_their_roles() {
    let login = builtin("local/login.ini");
    let grid = templated_grid(&[("local/login.ini", &login)]);
    let out = grid.dir.join("k8s");
    export(&grid.manifest, &out, &[]);
    let o = objects(&out);
    let data = o.maps[0].data.clone().unwrap();
    assert_eq!(
        data.keys().cloned().collect::<Vec<_>>(),
        ["grid.toml", "templates__local__login.ini"]
    );
    assert_eq!(data["templates__local__login.ini"], login);
    let volume = o
        .set("core")
        .spec
        .template
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .clone()
        .unwrap();
    let items = volume[0]
        .config_map
        .as_ref()
        .unwrap()
        .items
        .clone()
        .unwrap();
    let paths: Vec<(String, String)> = items.into_iter().map(|i| (i.key, i.path)).collect();
    assert_eq!(
        paths,
        [
            ("grid.toml".to_string(), "grid.toml".to_string()),
            (
                "templates__local__login.ini".to_string(),
                "templates/local/login.ini".to_string()
            ),
        ]
    );
    let (core, asset) = (o.hash("core"), o.hash("asset"));
    // A changed login template rolls core (which hosts login) and nothing else.
    std::fs::write(
        grid.dir.join("tpl/local/login.ini"),
        format!("{login}; changed\n"),
    )
    .unwrap();
    export(&grid.manifest, &out, &[]);
    let o = objects(&out);
    assert_ne!(o.hash("core"), core);
    assert_eq!(o.hash("asset"), asset);
}

/// `gridctl export kubernetes -o k8s` on `grid`, which must exit 3: its stderr.
fn refused_export(grid: &common::Grid) -> String {
    let manifest = grid.manifest.to_str().expect("a UTF-8 path");
    let args = ["-f", manifest, "export", "kubernetes", "-o", "k8s"];
    let a = common::gridctl(&grid.dir, &args).code(3);
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

#[test]
fn a_template_set_larger_than_a_configmap_is_refused_and_nothing_written() {
    let big = format!("; {}\n", "x".repeat(1024 * 1024));
    let grid = templated_grid(&[("extra/big.ini", &big)]);
    let out = grid.dir.join("k8s");
    let err = refused_export(&grid);
    assert!(err.contains("ConfigMap"), "{err}");
    assert!(!out.exists());
}

#[test]
fn the_shared_claim_is_mounted_over_the_shared_directories_of_the_roles_that_write_them() {
    let mounts = |o: &Objects, role: &str| -> Vec<(String, Option<String>)> {
        let pod = o.set(role).spec.template.spec.clone().unwrap();
        pod.containers[0]
            .volume_mounts
            .clone()
            .unwrap()
            .into_iter()
            .filter(|m| m.name == "shared")
            .map(|m| (m.mount_path, m.sub_path))
            .collect()
    };
    let claims = |o: &Objects, role: &str| -> Vec<String> {
        let pod = o.set(role).spec.template.spec.clone().unwrap();
        pod.volumes
            .unwrap()
            .into_iter()
            .filter_map(|v| v.persistent_volume_claim.map(|c| c.claim_name))
            .collect()
    };
    // Without a claim: no shared volume anywhere.
    let grid = hypergrid_with("");
    let out = grid.dir.join("k8s");
    export(&grid.manifest, &out, &[]);
    let o = objects(&out);
    for role in ["core", "hg", "asset", "inventory"] {
        assert!(
            mounts(&o, role).is_empty() && claims(&o, role).is_empty(),
            "{role}"
        );
    }
    // With one: FSAssets copies share their store, core its map tiles; inventory nothing.
    let grid = hypergrid_with("[kubernetes]\nshared_claim = \"grid-shared\"\n");
    let out = grid.dir.join("k8s");
    export(&grid.manifest, &out, &[]);
    let o = objects(&out);
    assert_eq!(claims(&o, "asset"), ["grid-shared"]);
    assert!(mounts(&o, "asset").contains(&(
        "/var/lib/gridctl/fsassets".to_string(),
        Some("fsassets".to_string())
    )));
    assert!(mounts(&o, "core").contains(&(
        "/var/lib/gridctl/maptiles".to_string(),
        Some("maptiles".to_string())
    )));
    assert!(mounts(&o, "inventory").is_empty() && claims(&o, "inventory").is_empty());
}

#[test]
fn a_bad_kubernetes_value_in_the_manifest_is_reported_and_nothing_written() {
    let grid = hypergrid_with("[kubernetes]\nnamespace = \"Bad_NS\"\n");
    let err = refused_export(&grid);
    assert!(err.contains("Bad_NS") && err.contains("grid.toml"), "{err}");
    assert!(!grid.dir.join("k8s").exists());
}

#[test]
fn scaling_a_role_changes_its_replicas_but_rolls_nothing() {
    let text = std::fs::read_to_string(example_manifest("blog-split")).unwrap();
    let grid = common::grid_in("blog-split", &text);
    let out = grid.dir.join("k8s");
    let roles = ["core", "asset", "inventory"];
    let state = || -> BTreeMap<&str, (Option<i32>, String)> {
        export(&grid.manifest, &out, &[]);
        let o = objects(&out);
        roles
            .iter()
            .map(|r| (*r, (o.set(r).spec.replicas, o.hash(r))))
            .collect()
    };
    let before = state();
    let scaled = text.replace("instances = 3 ", "instances = 4 ");
    assert_ne!(scaled, text);
    std::fs::write(&grid.manifest, scaled).unwrap();
    let after = state();
    assert_eq!(before["asset"].0, Some(3));
    assert_eq!(after["asset"].0, Some(4));
    for role in roles {
        assert_eq!(before[role].1, after[role].1, "{role} would roll");
    }
}

/// `kubectl apply -f DIR` applies the files in name order, each file's documents in
/// order: every Service must come before every StatefulSet, since Robust's Asset,
/// GridUser and UserAccount connectors resolve their Service's name once, at start-up.
#[test]
fn in_apply_order_every_service_comes_before_every_statefulset() {
    for example in common::EXAMPLES {
        let grid = common::example(example);
        let out = grid.dir.join("k8s");
        export(&grid.manifest, &out, &[]);
        let kinds: Vec<String> = files(&out)
            .iter()
            .filter(|(name, _)| name.ends_with(".yaml"))
            .flat_map(|(_, text)| {
                text.split("\n---\n")
                    .filter_map(|doc| {
                        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(doc).ok()?;
                        v["kind"].as_str().map(str::to_string)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let last_service = kinds.iter().rposition(|k| k == "Service");
        let first_set = kinds.iter().position(|k| k == "StatefulSet");
        assert!(
            matches!((last_service, first_set), (Some(s), Some(f)) if s < f),
            "{example}: {kinds:?}"
        );
    }
}

/// Issue 19.7: an uppercase domain gave Ingress hosts Kubernetes rejects (RFC 1123).
#[test]
fn an_uppercase_domain_is_refused_before_anything_is_exported() {
    let text = std::fs::read_to_string(example_manifest("blog-split"))
        .unwrap()
        .replace("domain = \"grid.localhost\"", "domain = \"Grid.Localhost\"");
    let g = common::grid_in("upper", &common::localize(&text));
    let out = g.dir.join("k8s");
    let a = g.gridctl(&["export", "kubernetes", "-o", &out.display().to_string()]);
    assert_eq!(common::code(&a), Some(3));
    let e = g.normalize(&common::stderr(&a));
    assert!(
        e.contains("error: `domain` of [grid] `Grid.Localhost` is not a DNS name"),
        "{e}"
    );
    assert!(e.contains("hostnames are written in lowercase"), "{e}");
    assert!(!out.exists());
}

/// Issue 19.5: `env:NAME` is checked where it is written: an empty name, one that is no
/// variable name, or one gridctl sets itself (the pod's POD_NAME would have become the
/// connection string).
#[test]
fn a_connection_from_an_unusable_variable_is_refused() {
    let original = std::fs::read_to_string(example_manifest("blog-split")).unwrap();
    let line = original
        .lines()
        .find(|l| l.starts_with("connection = "))
        .expect("a connection line")
        .to_string();
    for (var, why) in [
        ("env:POD_NAME", "gridctl sets this variable itself"),
        ("env:A B=$(x)", "only letters, digits and `_` are allowed"),
        ("env:", "`env:` names no variable"),
    ] {
        let text = original.replace(&line, &format!("connection = {var:?}"));
        let g = common::grid_in("envvar", &common::localize(&text));
        let out = g.dir.join("k8s");
        let a = g.gridctl(&["export", "kubernetes", "-o", &out.display().to_string()]);
        assert_eq!(common::code(&a), Some(3), "{var}");
        let e = g.normalize(&common::stderr(&a));
        assert!(
            e.contains(&format!(
                "error: `{var}` cannot name the variable holding the connection string"
            )) && e.contains(why)
                && e.contains("grid.toml:"),
            "{var}: {e}"
        );
        assert!(!out.exists(), "{var}: files were exported");
    }
}

/// Issue 19.8: a file of the user's with an export's name (`-o .` in a repository with
/// its own Containerfile) is never overwritten unless `--force` says so; nothing at all
/// is written then.
#[test]
fn a_file_the_export_did_not_write_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("k8s");
    std::fs::create_dir_all(&out).unwrap();
    let mine = "FROM scratch\n# my own image\n";
    std::fs::write(out.join("Containerfile"), mine).unwrap();
    let manifest = example_manifest("blog-split");
    let a = export_attempt(&manifest, &out, &[]);
    assert_ne!(common::code(&a), Some(0));
    let e = common::stderr(&a);
    assert!(
        e.contains("Containerfile` exists and was not written by an export; nothing was written"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("Containerfile")).unwrap(),
        mine
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "something was written"
    );
    // Asked to: overwritten, and a second export over its own files needs no --force.
    export(&manifest, &out, &["--force"]);
    assert_ne!(
        std::fs::read_to_string(out.join("Containerfile")).unwrap(),
        mine
    );
    export(&manifest, &out, &[]);
}

/// Issue 19.4: secrets outside `[database] connection` were exported in the clear: a
/// settings ConnectionString with a password, a password variable in [robust.env], a
/// comment on the connection's line. The first two are refused for the export (and
/// warned about by `check`); the comment never reaches the ConfigMap.
#[test]
fn secrets_outside_the_connection_are_refused_and_comments_dropped() {
    let original = std::fs::read_to_string(example_manifest("blog-split")).unwrap();
    for (extra, what) in [
        (
            "\n[roles.core.settings.DatabaseService]\nConnectionString = \"Data Source=db;Password=s3cret\"\n",
            "`ConnectionString` in [roles.core.settings.DatabaseService] holds a secret written inline",
        ),
        (
            "\n[roles.asset.env]\nSMTP_PASSWORD = \"s3cret\"\n",
            "`SMTP_PASSWORD` in [roles.asset.env] holds a secret written inline",
        ),
    ] {
        let g = common::grid_in("secret", &common::localize(&format!("{original}{extra}")));
        let out = g.dir.join("k8s");
        let a = g.gridctl(&["export", "kubernetes", "-o", &out.display().to_string()]);
        assert_eq!(common::code(&a), Some(3), "{extra}");
        let e = g.normalize(&common::stderr(&a));
        assert!(e.contains(&format!("error: {what}")) && e.contains("grid.toml:"), "{e}");
        assert!(!out.exists(), "{extra}: files were exported");
        let check = g.gridctl(&["check"]);
        let warned = common::stderr(&check);
        assert!(warned.contains(&format!("warning: {what}")), "{warned}");
    }
    // A comment on the connection's line stays out of the ConfigMap.
    let line = original
        .lines()
        .find(|l| l.starts_with("connection = "))
        .unwrap()
        .to_string();
    let commented = original.replace(
        &line,
        "connection = \"env:ROBUST_DB\" # was: Password=old-s3cret",
    );
    let g = common::grid_in("comment", &common::localize(&commented));
    let out = g.dir.join("k8s");
    export(&g.manifest, &out, &[]);
    let all: String = files(&out).into_iter().map(|(_, t)| t).collect();
    assert!(!all.contains("old-s3cret"), "the comment was exported");
    assert!(all.contains("connection = \"env:ROBUST_DB\""), "{all}");
}
