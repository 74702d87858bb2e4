//! The real server decides what is correct, in a container: the pod of
//! `tests/kube_play.rs`, played with `podman kube play`, but its image — built by
//! `podman build` from the Containerfile the export wrote, on a base holding the host's
//! Mono in place of its Debian `FROM` — holds the real OpenSim Robust 0.9.2.2, and
//! `gridctl pod run` runs the copy the
//! cluster plan gives the pod (`GRIDCTL_TARGET=kubernetes`: the role's own port, state in
//! /var/lib/gridctl, `mono Robust.exe` in /opt/opensim/bin, the database connection from
//! the Secret `robust-db`) against a private MariaDB the test starts on 127.0.0.1
//! (`hostNetwork`: the pod reaches the host's loopback). Three pods: `asset-1` (checked
//! in detail), `accounts-1` (user accounts) and `profiles-1`, whose UserAccount
//! connector names the `accounts` Service (`accounts.default.svc.cluster.local`) and
//! resolves it once, at start-up: a marked block of /etc/hosts (the pods share the host's
//! network and hosts file) answers for the cluster's DNS, with 127.0.0.1. Without it
//! profiles-1 never turns ready (measured: not ready after 75 s).
//!
//! It proves, each step under a deadline: (a) the pod renders its tree from the
//! ConfigMap and its name, and the real Robust turns ready — `podman exec … gridctl
//! probe` exits 0 (the holder's verdict: every expected connector `loaded successfully`,
//! the prompt, the asset probe answered) — and the test's own GETs on 127.0.0.1 get the
//! real answers (200 for the default texture asset-1's loader stored, 404 for an asset
//! that does not exist); (b) `podman logs` carries Robust's console; (c) `podman pod stop
//! -t GRACE` (podman 4.3 ignores `terminationGracePeriodSeconds`, see
//! `tests/kube_play.rs`) makes the holder type `shutdown`, Robust says `Quitting` and the
//! container exits 0 within the grace period.
//!
//! Figures (image build time and size, time to ready, stop time, exit code, total) are
//! printed: `--nocapture` shows them.
//!
//! Without `../shared/robust`, Mono, MariaDB or podman (or not as root) the test says why
//! and passes — unless `GRIDCTL_REQUIRE_REAL_ROBUST` is set (`.ci/run` sets it), where
//! that is a failure, as in `tests/real_robust.rs`.

mod common;
mod kube_play_support;
#[allow(unused_imports)] // its re-exports serve `tests/real_robust.rs`
mod real_robust_support;

use common::grid::{gridctl_holder, GRIDCTL};
use common::http::request_once;
use common::ports::reserve_ports;
use common::wait::wait_for;
use kube_play_support::real::*;
use kube_play_support::*;
use real_robust_support::services::{log_problems, service_list_classes};
use real_robust_support::{install_robust, shared_robust, HostsBlock, MariaDb, REQUIRE_ENV};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The default texture the first asset copy's loader stores (the catalog's asset probe).
const DEFAULT_ASSET: &str = "89556747-24cb-43ed-920b-47caed15465f";
/// An asset nobody stored.
const MISSING_ASSET: &str = "0badc0de-0000-4000-8000-00000000f00d";

/// podman, or `None` after saying why the test skips (a failure when it must run).
/// The pods played: asset-1 (checked in detail), accounts-1 and profiles-1, which
/// calls accounts through its Service.
const PODS: [&str; 3] = ["asset-1", "accounts-1", "profiles-1"];

fn prerequisites() -> Option<PathBuf> {
    const TEST: &str = "kube_play_real";
    if let Some(why) = missing_real_prerequisite(&shared_robust()) {
        if must_run(REQUIRE_ENV) {
            panic!("{TEST}: {why} ({REQUIRE_ENV} or CI is set: a failure, not a skip)");
        }
        eprintln!("skipping {TEST}: {why}");
        return None;
    }
    if std::env::var_os(REQUIRE_ENV).is_some()
        && (!nix::unistd::Uid::effective().is_root() || which_podman().is_none())
    {
        panic!("{TEST}: podman (as root) is needed and {REQUIRE_ENV} is set");
    }
    podman_or_skip(TEST)
}

fn which_podman() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("podman"))
        .find(|p| p.is_file())
}

/// GET `path` from the copy on 127.0.0.1:`port`: its status.
fn get(port: u16, path: &str) -> Result<u16, String> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    request_once(addr, "127.0.0.1", "GET", path, None, false, &mut None).map(|a| a.status)
}

#[test]
fn kube_play_runs_the_real_robust_in_a_pod_and_stops_it_gracefully() {
    let t_test = Instant::now();
    let Some(bin) = prerequisites() else {
        return;
    };
    // Short path under /tmp: the unpacked Robust and MariaDB's socket.
    let tmp = tempfile::Builder::new()
        .prefix("gkr")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let scratch = tmp.path().canonicalize().expect("canonical tempdir");
    let base = reserve_ports(5);
    let (db_port, port) = (base, base + 1);
    let ports = RealPorts {
        asset: port,
        accounts: base + 2,
        profiles: base + 3,
        profiles_public: base + 4,
    };

    // The pieces: Robust unpacked, then the image built while MariaDB starts.
    let t0 = Instant::now();
    let robust_bin = install_robust(&scratch.join("robust"));
    eprintln!(
        "kube_play_real: Robust unpacked in {:.2}s ({:.1} MB)",
        t0.elapsed().as_secs_f64(),
        tree_bytes(&robust_bin) as f64 / 1e6
    );
    std::fs::create_dir_all(scratch.join("db")).expect("db dir");
    // Declared before the podman storage: dropped after it (the pod stops first).
    let mut db_slot: Option<MariaDb> = None;
    let p = Podman::new(bin);
    let version = p.ok(&["--version"]).stdout;
    eprintln!("kube_play_real: {}", version.trim());
    let t_prep = Instant::now();
    // The export first: its Containerfile builds the image.
    let pm = pod_manifest(&PODS, IMAGE, &real_grid_toml(&ports));
    let (yaml, grace_secs) = (pm.yaml, pm.grace_secs);
    let built = std::thread::scope(|s| {
        let build = s.spawn(|| {
            build_real_image(
                &p,
                &RealImageFiles {
                    gridctl: PathBuf::from(GRIDCTL),
                    holder: gridctl_holder(),
                    robust_bin: robust_bin.clone(),
                },
                &pm.containerfile,
            )
        });
        db_slot = Some(MariaDb::start(&scratch.join("db"), db_port));
        eprintln!(
            "kube_play_real: MariaDB up in {:.2}s",
            t_prep.elapsed().as_secs_f64()
        );
        build
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    let db = db_slot.as_ref().expect("MariaDB started");
    eprintln!(
        "kube_play_real: image built in {:.2}s ({} files staged); image size {:.1} MB",
        built.took.as_secs_f64(),
        built.files,
        built.size_bytes as f64 / 1e6
    );

    let file = p.base.join("pod.yaml");
    p.create_k8s_secret(DB_SECRET_NAME, &[("connection", &db.connection)]);

    // What a cluster's DNS answers for the Services, for the pods on the host network.
    let names: Vec<String> = SERVICE_NAMES.iter().map(|n| n.to_string()).collect();
    let _hosts = HostsBlock::add(&names);

    // (a) played, rendered, ready: the holder's verdict on the real Robust, in each pod.
    let played = play_until_ready(&p, &file, &yaml, &PODS, SECS(120));
    eprintln!(
        "kube_play_real: kube play returned in {:.2}s; ready {:.2}s after kube play started",
        played.returned.as_secs_f64(),
        played.ready.as_secs_f64()
    );

    // The rendered tree, in the pod's emptyDir (seen from the host): the cluster plan's.
    let inst_dir = state_dir(&p, POD).join("instances/asset-1");
    // profiles-1 reached accounts through its Service's name: the UserAccount
    // connector resolved it at start-up, or profiles would not have loaded (ready).
    let profiles_dir = state_dir(&p, "profiles-1").join("instances/profiles-1");
    let mut profiles_files = Vec::new();
    common::collect_files(&profiles_dir, &mut profiles_files);
    let url = format!(
        "http://accounts.default.svc.cluster.local:{}",
        ports.accounts
    );
    assert!(
        profiles_files
            .iter()
            .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(&url))),
        "profiles-1 does not name {url}"
    );
    let ini_path = inst_dir.join("Robust.ini");
    let ini = std::fs::read_to_string(&ini_path)
        .unwrap_or_else(|e| panic!("no rendered {}: {e}", ini_path.display()));
    assert!(
        ini.contains(&format!("PrivatePort = \"{port}\"")),
        "asset-1 is not on its role's port {port}:\n{ini}"
    );
    // The connection comes from the Secret at run time: no rendered file holds it.
    let mut rendered = Vec::new();
    common::collect_files(&inst_dir, &mut rendered);
    for f in rendered
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "ini"))
    {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        assert!(
            !text.contains("test-only-pw"),
            "the database password was rendered into {}",
            f.display()
        );
    }
    let classes = service_list_classes(&ini_path);
    assert!(!classes.is_empty(), "an empty [ServiceList]:\n{ini}");

    // The real answers, from the test, on 127.0.0.1.
    let texture = format!("/assets/{DEFAULT_ASSET}");
    let status = wait_for("GET of the default texture", SECS(10), || {
        get(port, &texture).ok()
    });
    assert_eq!(status, 200, "GET {texture}");
    let missing = format!("/assets/{MISSING_ASSET}");
    let status = get(port, &missing).unwrap_or_else(|e| panic!("GET {missing}: {e}"));
    assert_eq!(status, 404, "GET {missing}");
    eprintln!("kube_play_real: GET {texture} → 200, GET {missing} → 404 (on 127.0.0.1:{port})");
    let listeners = listeners_on(port);
    assert!(
        !listeners.is_empty() && listeners.iter().all(|a| a == "127.0.0.1"),
        "listeners on {port}: {listeners:?}"
    );
    // The assets the loader stored are in the test's MariaDB.
    let stored = db.query(&format!(
        "SELECT COUNT(*) FROM robust.assets WHERE id = '{DEFAULT_ASSET}'"
    ));
    assert_eq!(stored.trim(), "1", "the default texture is not in MariaDB");

    // What Mono really loaded, for the record (assemblies and native libraries).
    report_mapped(&p);

    // (b) Robust's console on the container's stdout.
    let log = logs(&p, POD);
    let problems = log_problems(&log, &classes);
    assert!(problems.is_empty(), "podman logs: {problems:#?}\n{log}");
    // (The prompt, which ends no line, reaches the log with the next line: the stop.)
    assert!(
        log.contains("OpenSimulator version: OpenSim 0.9.2.2"),
        "not the real Robust 0.9.2.2:\n{log}"
    );
    assert!(
        !log.contains("test-only-pw"),
        "the database password leaked into the logs"
    );

    // (c) a graceful stop: the holder types `shutdown`, Robust quits, exit 0.
    let Stopped {
        took: stop_took,
        code,
        log,
    } = stop_pod(&p, POD, grace_secs);
    eprintln!(
        "kube_play_real: pod stop took {:.2}s (grace {grace_secs}s); container exit code {code}",
        stop_took.as_secs_f64()
    );
    let tail: Vec<&str> = log.lines().rev().take(12).collect();
    eprintln!(
        "kube_play_real: the log's last lines:\n  {}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n  ")
    );
    assert_eq!(code, "0", "logs:\n{log}");
    assert!(stop_took < SECS(grace_secs), "stop took {stop_took:?}");
    assert!(log.contains("R.O.B.U.S.T.# shutdown"), "{log}");
    assert!(log.contains("[CONSOLE]: Quitting"), "{log}");
    assert!(log.contains("stopped: exit 0 after `shutdown`"), "{log}");
    assert!(log.contains("holder exiting with status 0"), "{log}");
    // The real Robust removed its PID file on the way out (its own shutdown, not a kill).
    assert!(
        !inst_dir.join("Robust.pid").exists(),
        "Robust.pid left behind: Robust was not stopped through its console"
    );
    assert!(listeners_on(port).is_empty(), "{:?}", listeners_on(port));

    // The other two stop as gracefully.
    for pod in &PODS[1..] {
        let stopped = stop_pod(&p, pod, grace_secs);
        eprintln!(
            "kube_play_real: {pod} stopped in {:.2}s, exit code {}",
            stopped.took.as_secs_f64(),
            stopped.code
        );
        assert_eq!(stopped.code, "0", "{pod}:\n{}", stopped.log);
        assert!(
            stopped.log.contains("[CONSOLE]: Quitting"),
            "{pod}:\n{}",
            stopped.log
        );
    }

    let down = p.kube_down(&file);
    assert!(down.ok(), "podman kube down: {down}");
    drop(p);
    drop(db_slot);
    eprintln!(
        "kube_play_real: whole test {:.2}s (storage and MariaDB cleaned up)",
        t_test.elapsed().as_secs_f64()
    );
}

/// Prints what the container's Mono process has mapped so far: the pieces of Mono the
/// real Robust needed (its own assemblies in /opt/opensim/bin are only counted).
fn report_mapped(p: &Podman) {
    let pid = p.run(&["inspect", "--format", "{{.State.Pid}}", CONTAINER]);
    let Ok(holder) = pid.stdout.trim().parse::<u32>() else {
        eprintln!("kube_play_real: no pid for {CONTAINER}: {pid}");
        return;
    };
    for child in common::procs::children_of(holder) {
        // Paths as the container sees them (from the host they may carry the rootfs).
        let files: Vec<String> = mapped_files(child)
            .iter()
            .map(|f| {
                ["/usr/", "/opt/", "/etc/", "/lib"]
                    .iter()
                    .find_map(|m| f.find(m).map(|i| f[i..].to_string()))
                    .unwrap_or_else(|| f.clone())
            })
            .collect();
        let robust = files
            .iter()
            .filter(|f| f.starts_with(IMAGE_BIN_DIR))
            .count();
        let mono: Vec<&str> = files
            .iter()
            .filter(|f| f.starts_with("/usr/lib/mono/"))
            .map(|f| f.rsplit('/').next().unwrap_or(f))
            .collect();
        let native: Vec<&str> = files
            .iter()
            .filter(|f| f.contains(".so") && !f.starts_with(IMAGE_BIN_DIR))
            .map(|f| f.rsplit('/').next().unwrap_or(f))
            .collect();
        eprintln!(
            "kube_play_real: Mono (pid {child}) has mapped {robust} files of Robust's bin/, \
             {} class libraries: {}; {} native libraries: {}",
            mono.len(),
            mono.join(" "),
            native.len(),
            native.join(" ")
        );
    }
}
