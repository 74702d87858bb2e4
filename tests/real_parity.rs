//! Where the fake once let gridctl get away with what the real Robust 0.9.2.2 punishes
//! (issue 9, robust.md 0b–0d): whole grids run by the real `gridctl` on the stricter
//! fake. Every process is ended by pid (the support `Grid` drop); every wait has a deadline.

mod cli_runtime_support;
mod common;

use cli_runtime_support::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `examples/blog-split/grid.toml` on this test's ports and `bin_dir`, run by `fake`.
/// Fixed example ports are rewritten so parallel tests (and other checkouts) never collide.
fn blog_split(base: u16, bin_dir: &Path) -> String {
    let text = std::fs::read_to_string(common::repo().join("examples/blog-split/grid.toml"))
        .expect("example");
    let ports = [
        ("18100", base),
        ("18200", base + 1),
        ("18300", base + 2),
        ("18400", base + 6),
        ("18080", base + 10),
        ("18081", base + 11),
    ];
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        let line = match key {
            "bin_dir" => format!("bin_dir = {:?}", bin_dir.display().to_string()),
            "command" => format!("command = [{:?}, \"Robust.dll\"]", FAKE_ROBUST),
            _ => ports.iter().fold(line.to_string(), |l, (from, to)| {
                l.replace(from, &to.to_string())
            }),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

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
    assert!(r.restarts >= 1, "{r:?}");
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
