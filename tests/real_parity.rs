//! Where the fake once let gridctl get away with what the real Robust 0.9.2.2 punishes
//! (issue 9, robust.md 0b–0d): whole grids run by the real `gridctl` on the stricter
//! fake. Every process is ended by pid (the support `Grid` drop); every wait has a deadline.

mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::grid::blog_split_on_ports as blog_split;

/// Every path under `dir` (relative), recursively.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.insert(p.strip_prefix(dir).expect("under dir").to_path_buf());
        }
    }
    out
}

/// A private copy of `examples/fake-bin`, so a file a copy writes into its cwd shows up.
fn copy_of_fake_bin() -> tempfile::TempDir {
    let bin = tempfile::Builder::new()
        .prefix("gridctl-bin-")
        .tempdir()
        .expect("tempdir");
    for e in std::fs::read_dir(common::fake_bin_dir())
        .expect("fake-bin")
        .flatten()
    {
        std::fs::copy(e.path(), bin.path().join(e.file_name())).expect("copy");
    }
    bin
}

/// All five copies of the blog's split grid share one bin/ (their cwd): after `up --wait`
/// and `down`, bin/ holds exactly what it held before — map tiles, logs, PID files and
/// every other writable path live in the grid's state directory.
#[test]
fn blog_split_up_and_down_leave_bin_dir_untouched() {
    let bin = copy_of_fake_bin();
    let before = tree(bin.path());
    let g = Grid::new(16, |base| blog_split(base, bin.path()));
    let up = g.up();
    let rows = g.status();
    assert!(rows.len() >= 5, "{rows:#?}");
    assert!(rows.iter().all(|r| r.state == "ready"), "{up}\n{rows:#?}");
    // The console saw log lines at all: the console appender loaded (robust.md 0d).
    // The holder writes console.log behind the readiness verdict: poll it.
    wait_for("core-1's console log", Duration::from_secs(5), || {
        g.console_log("core-1")
            .contains("loaded successfully")
            .then_some(())
    });
    assert!(g.state.join("maptiles").is_dir());
    g.ok(&["down"]);
    let after = tree(bin.path());
    let new: Vec<&PathBuf> = after.difference(&before).collect();
    assert!(new.is_empty(), "written into bin_dir: {new:?}");
}

/// After a `kill -9` the PID file stays; the restarted copy logs Robust's "Previous pid
/// file … still exists on startup" (an ERROR in the real log) and must still be ready.
#[test]
fn a_copy_restarted_after_kill_9_is_ready_despite_the_stale_pid_file_line() {
    let g = Grid::standard("backoff_initial = \"100ms\"", "");
    g.up();
    let before = row(&g.status(), "asset-1").clone();
    let pid = before.pid.expect("asset-1 runs");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    wait_for(
        "the killed child to be gone",
        Duration::from_secs(5),
        || (!alive(pid)).then_some(()),
    );
    // Settled = a new child that logged the stale-PID line and has a startup verdict
    // (either verdict needs the prompt; the log holds finished lines only, so the
    // pending prompt itself is not in it).
    let rows = g.wait_status(
        "asset-1 restarted and settled",
        Duration::from_secs(15),
        |rows| {
            let r = row(rows, "asset-1");
            g.console_log("asset-1").contains("Previous pid file ")
                && r.pid.is_some_and(|p| p != pid)
                && matches!(r.state.as_str(), "ready" | "degraded")
        },
    );
    let r = row(&rows, "asset-1");
    let console = g.console_log("asset-1");
    assert!(
        console.contains("[SERVER BASE]: Previous pid file ")
            && console.contains(" still exists on startup.  Possibly previously unclean shutdown."),
        "{console}\n--- holder log ---\n{}",
        g.holder_log("asset-1")
    );
    assert_eq!(r.state, "ready", "{r:?}\n{console}");
    assert!(r.crashes >= 1 && r.restarts == 0, "{r:?}");
}

/// A role that reaches another role's user accounts through a hostname that does not
/// resolve: the real connector logs "Could not resolve …URI" and is left out while its
/// host still says `loaded successfully` (robust.md 0d). gridctl must call it degraded.
#[test]
fn an_unresolvable_connector_hostname_means_degraded() {
    let g = Grid::new(16, |base| {
        manifest(
            base,
            "",
            &format!(
                "[roles.front]\nservices = [\"login\"]\nport = {}\npublic_port = {}\n\n\
                 # With nginx, other roles are reached by hostname (without, by 127.0.0.1).\n\
                 [nginx]\noutput = \"nginx/gridctl.conf\"\ntest_command = []\n\
                 reload_command = []\npublic_listen = \"127.0.0.1:{}\"\n\
                 private_listen = \"127.0.0.1:{}\"\n",
                base + 6,
                base + 7,
                base + 10,
                base + 11
            ),
        )
        .replace("\"friends\", \"login\"]", "\"friends\"]")
        .replace(
            "domain = \"grid.localhost\"\n",
            "domain = \"grid.localhost\"\n\n[grid.hostnames]\n\
             useraccount = \"useraccount.nonexistent.invalid\"\n\
             griduser = \"griduser.nonexistent.invalid\"\n",
        )
    });
    let out = g.run(&["up", "--wait"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.contains("front-1: ▲ degraded"), "{out}");
    assert!(out.stdout.contains("Could not resolve"), "{out}");
    let rows = g.status();
    assert_eq!(row(&rows, "core-1").state, "ready", "{rows:#?}");
}

// --- the migrations race on an empty database (robust.md §0c) -----------------------

/// The GET gridctl's asset probe sends (`catalog.rs`): 200 from every working copy.
const ASSET_PROBE_PATH: &str = "/assets/89556747-24cb-43ed-920b-47caed15465f";

/// The status `GET <ASSET_PROBE_PATH>` gets from 127.0.0.1:`port`.
fn asset_probe_status(port: u16) -> u16 {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    common::http::request_once(
        addr,
        "127.0.0.1",
        "GET",
        ASSET_PROBE_PATH,
        None,
        false,
        &mut None,
    )
    .unwrap_or_else(|e| panic!("GET on port {port}: {e}"))
    .status
}

/// A fake Robust started directly (basic console, stdin kept open, output into a file);
/// SIGKILLed by its pid when dropped, whatever the test did.
struct DirectFake {
    child: std::process::Child,
    out: PathBuf,
    port: u16,
}

impl DirectFake {
    /// One asset connector on a free port, migrating into `migrations` for `ms`.
    fn asset(bin: &Path, scratch: &Path, name: &str, migrations: &Path, ms: u64) -> DirectFake {
        let port = reserve_ports(1);
        let ini = scratch.join(format!("{name}.ini"));
        std::fs::write(
            &ini,
            format!(
                "[Startup]\nPIDFile = {pid}\n[Network]\nport = {port}\n\
                 [ServiceList]\nAssetServiceConnector = \"OpenSim.Server.Handlers.dll:AssetServiceConnector\"\n\
                 [AssetService]\nLocalServiceModule = \"OpenSim.Services.AssetService.dll:AssetService\"\n\
                 [FakeRobust]\nMigrationsDir = {dir}\nMigrationMs = {ms}\n",
                pid = scratch.join(format!("{name}.pid")).display(),
                dir = migrations.display(),
            ),
        )
        .expect("write ini");
        let out = scratch.join(format!("{name}.out"));
        let file = std::fs::File::create(&out).expect("output file");
        let child = std::process::Command::new(FAKE_ROBUST)
            .arg(format!("-inifile={}", ini.display()))
            .arg("-console=basic")
            .current_dir(bin)
            .stdin(std::process::Stdio::piped())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .spawn()
            .expect("spawn fake-robust");
        DirectFake { child, out, port }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for DirectFake {
    fn drop(&mut self) {
        common::procs::kill_pid(self.child.id());
        let _ = self.child.wait();
    }
}

/// Control, on the fake alone: two asset copies started at the same moment on one fresh
/// "database" race on its migrations. Both log `loaded successfully` and reach their
/// prompt, and exactly one of them — the loser — answers 404 for the default texture.
#[test]
fn two_asset_copies_started_together_on_an_empty_database_break_one() {
    let bin = copy_of_fake_bin();
    let (_tmp, scratch) = common::grid::scratch_dir("gridctl-race-", None);
    let migrations = scratch.join("db");
    // 1.5 s of migration: the second copy reaches its store long before the first is done,
    // even on a loaded machine.
    let fakes = [
        DirectFake::asset(bin.path(), &scratch, "a", &migrations, 1500),
        DirectFake::asset(bin.path(), &scratch, "b", &migrations, 1500),
    ];
    for f in &fakes {
        wait_for(
            "both copies at their prompt",
            Duration::from_secs(20),
            || {
                let out = f.output();
                (out.contains("AssetServiceConnector loaded successfully") && out.contains(PROMPT))
                    .then_some(())
            },
        );
    }
    let answers: Vec<u16> = fakes.iter().map(|f| asset_probe_status(f.port)).collect();
    let outputs: Vec<String> = fakes.iter().map(DirectFake::output).collect();
    let mut sorted = answers.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 404], "{answers:?}\n{outputs:#?}");
    let (winner, loser) = if answers[0] == 200 { (0, 1) } else { (1, 0) };
    assert!(
        outputs[winner].contains("[MIGRATIONS]: Upgrading AssetStore to revision 10"),
        "{}",
        outputs[winner]
    );
    // The loser says nothing about the race, as the real one: only its answers show it.
    assert!(
        !outputs[loser].contains("[MIGRATIONS]"),
        "{}",
        outputs[loser]
    );
    assert!(!outputs[loser].contains("ERROR"), "{}", outputs[loser]);
    assert!(migrations.join("AssetStore.done").is_file());
    assert!(!migrations.join("AssetStore.migrating").exists());
    eprintln!(
        "race: copy {} lost (GET {ASSET_PROBE_PATH} → {}), copy {} won (→ {})",
        ["a", "b"][loser],
        answers[loser],
        ["a", "b"][winner],
        answers[winner]
    );
}

/// The blog's split grid on a fresh "database" with the race modelled: `up --wait`
/// starts each role's first copy alone (it runs the migrations), then the rest, so
/// every copy is ready and every asset copy serves the default texture.
#[test]
fn blog_split_on_an_empty_database_starts_first_copies_alone_and_all_are_ready() {
    let bin = copy_of_fake_bin();
    let (_db_tmp, db_parent) = common::grid::scratch_dir("gridctl-db-", None);
    let db = db_parent.join("db");
    let knob = format!("MigrationsDir = {:?}\n", db.display().to_string());
    let g = Grid::new(16, |base| {
        format!(
            "{}\n[roles.asset.settings.FakeRobust]\n{knob}\n\
             [roles.inventory.settings.FakeRobust]\n{knob}",
            blog_split(base, bin.path())
        )
    });
    let up = g.run_with(&["up", "--wait"], Duration::from_secs(60));
    let rows = g.status();
    assert!(up.ok(), "{up}\n{rows:#?}");
    assert_eq!(rows.len(), 6, "{rows:#?}");
    assert!(rows.iter().all(|r| r.state == "ready"), "{up}\n{rows:#?}");
    let assets: Vec<&Row> = rows.iter().filter(|r| r.role == "asset").collect();
    assert_eq!(assets.len(), 3, "{rows:#?}");
    for r in assets {
        let port = *r.ports.first().expect("a port");
        assert_eq!(asset_probe_status(port), 200, "{} on {port}", r.name);
    }
    // The first copies migrated; their siblings found the tables there.
    for (first, sibling, store) in [
        ("asset-1", "asset-2", "AssetStore"),
        ("inventory-1", "inventory-2", "InventoryStore"),
    ] {
        wait_for("the console logs", Duration::from_secs(5), || {
            g.console_log(sibling)
                .contains("loaded successfully")
                .then_some(())
        });
        let log = g.console_log(first);
        assert!(
            log.contains(&format!("Upgrading {store} to revision")),
            "{log}"
        );
        let log = g.console_log(sibling);
        assert!(
            log.contains(&format!("{store} data tables already up to date")),
            "{log}"
        );
        assert!(db.join(format!("{store}.done")).is_file());
    }
}

/// A copy that lost the race (made certain: its store's lock holds a live pid, this
/// test's own) logs `loaded successfully` and reaches its prompt, and gridctl's asset
/// probe still calls it degraded — `up --wait` fails and `status` gives the reason.
#[test]
fn a_copy_that_lost_the_migrations_race_is_degraded() {
    let (_db_tmp, db_parent) = common::grid::scratch_dir("gridctl-db-", None);
    let db = db_parent.join("db");
    std::fs::create_dir(&db).expect("mkdir db");
    std::fs::write(
        db.join("AssetStore.migrating"),
        std::process::id().to_string(),
    )
    .expect("lock");
    let g = Grid::new(16, |base| {
        manifest(
            base,
            "",
            &format!(
                "[roles.asset.settings.FakeRobust]\nMigrationsDir = {:?}\n",
                db.display().to_string()
            ),
        )
        .replace("instances = 2", "instances = 1")
    });
    let out = g.run_with(&["up", "--wait"], Duration::from_secs(40));
    assert_ne!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("asset-1: ▲ degraded"), "{out}");
    let rows = g.status();
    let r = row(&rows, "asset-1");
    assert_eq!(r.state, "degraded", "{rows:#?}");
    assert!(
        r.detail
            .contains(&format!("GET {ASSET_PROBE_PATH} answered 404")),
        "{r:?}"
    );
    let console = g.console_log("asset-1");
    assert!(
        console.contains("AssetServiceConnector loaded successfully") && !console.contains("ERROR"),
        "{console}"
    );
    for name in ["core-1", "inventory-1"] {
        assert_eq!(row(&rows, name).state, "ready", "{rows:#?}");
    }
    assert!(!db.join("AssetStore.done").exists());
    eprintln!("lost race: asset-1 {} — {}", r.state, r.detail);
}
