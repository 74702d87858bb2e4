//! End to end with the real nginx (design.md §5): fake Robust copies behind an nginx
//! this test starts on loopback ports with its own prefix, config and pid file, and a
//! steady stream of GETs and POSTs through it while gridctl changes the grid.
//!
//! - `restart --rolling`, `scale` up and `scale` down drop no request, and every copy
//!   serves (the load is really balanced);
//! - a copy killed with `kill -9` costs no request either (nginx fails over to the
//!   other copies) and its holder brings it back;
//! - an nginx template that nginx rejects leaves the installed config, and the running
//!   nginx, untouched.
//!
//! Synchronisation is by deadlines on observable facts (requests answered, `status`),
//! never by sleeping; only the load threads pace themselves.

mod common;
mod nginx_roll_support;

use common::procs::alive;
use nginx_roll_support::*;
use std::collections::BTreeSet;
use std::time::Duration;

/// Two keep-alive GET streams, one GET and two POST streams on fresh connections.
const LOAD: &[Kind] = &[
    Kind::GetKeepAlive,
    Kind::GetKeepAlive,
    Kind::GetClose,
    Kind::PostClose,
    Kind::PostClose,
];
const PACE: Duration = Duration::from_millis(2);
const WAIT: Duration = Duration::from_secs(10);

fn total_failed(phases: &[PhaseStats]) -> u64 {
    phases.iter().map(|p| p.failed).sum()
}

fn served(phases: &[PhaseStats]) -> BTreeSet<String> {
    phases
        .iter()
        .flat_map(|p| p.by_instance.keys().cloned())
        .collect()
}

/// nginx's error log lines that mean a request met a dead or missing copy.
fn upstream_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("upstream") || l.contains("connect() failed"))
        .collect()
}

fn upstream_servers(conf: &str, upstream: &str) -> Vec<String> {
    let start = conf
        .find(&format!("upstream {upstream} {{"))
        .unwrap_or_else(|| panic!("no upstream {upstream} in:\n{conf}"));
    let block = &conf[start..start + conf[start..].find('}').expect("end of upstream")];
    block
        .lines()
        .filter(|l| l.trim_start().starts_with("server "))
        .map(|l| l.rsplit("# ").next().unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn rolling_restart_and_scale_up_and_down_under_load_drop_no_request() {
    let mut g = Grid::new(GridOptions::default());
    g.start();
    let first_pids = pids_of(&g.status(), "asset");
    assert_eq!(first_pids.len(), 3, "{first_pids:?}");

    let load = Load::start(g.private_listen, LOAD, PACE, "steady");
    load.wait_served_by(&["asset-1", "asset-2", "asset-3"], WAIT);
    load.wait_requests(300, WAIT);

    load.phase("restart --rolling asset");
    let roll = g.gridctl_ok(&["restart", "--rolling", "asset"]);
    let rows = g.status();
    for (name, pid) in pids_of(&rows, "asset") {
        let row = rows.iter().find(|r| r.name == name).unwrap();
        assert_eq!(
            row.state,
            "ready",
            "{name} after the roll:\n{}",
            roll.describe()
        );
        assert_ne!(
            pid,
            first_pids[&name],
            "{name} was not restarted:\n{}",
            roll.describe()
        );
    }
    // Every restarted copy is back in its upstream and serving.
    load.phase("after the roll");
    load.wait_served_by(&["asset-1", "asset-2", "asset-3"], WAIT);

    load.phase("scale asset=4");
    let up = g.gridctl_ok(&["scale", "asset=4"]);
    assert_eq!(
        g.row("asset-4").map(|r| r.state),
        Some("ready".into()),
        "{}",
        up.describe()
    );
    load.phase("after scale up");
    load.wait_served_by(&["asset-1", "asset-2", "asset-3", "asset-4"], WAIT);

    let doomed: Vec<u32> = ["asset-3", "asset-4"]
        .iter()
        .filter_map(|n| g.row(n)?.pid)
        .collect();
    assert_eq!(doomed.len(), 2);
    load.phase("scale asset=2");
    let down = g.gridctl_ok(&["scale", "asset=2"]);
    load.phase("after scale down");
    load.wait_requests(300, WAIT);
    let phases = load.finish();
    let report = summary(&phases);
    eprintln!("{report}");

    assert_eq!(total_failed(&phases), 0, "requests failed:\n{report}");
    for p in &phases {
        assert!(p.ok > 0, "phase `{}` answered nothing:\n{report}", p.name);
        assert!(
            p.posts > 0 && p.gets > 0,
            "phase `{}` lacks GETs or POSTs:\n{report}",
            p.name
        );
    }
    let all: BTreeSet<String> = ["asset-1", "asset-2", "asset-3", "asset-4"]
        .map(String::from)
        .into();
    assert_eq!(served(&phases), all, "every copy serves:\n{report}");
    let last = phases.last().unwrap();
    assert!(
        last.by_instance
            .keys()
            .all(|k| k == "asset-1" || k == "asset-2"),
        "removed copies still answer after `scale asset=2`:\n{report}\n{}",
        down.describe()
    );

    // The removed copies are gone, the front lists exactly the remaining ones.
    for pid in doomed {
        assert!(!alive(pid), "pid {pid} of a removed copy still runs");
    }
    let conf = std::fs::read_to_string(&g.output).unwrap();
    assert_eq!(
        upstream_servers(&conf, "gridctl_asset_private"),
        ["asset-1", "asset-2"],
        "{conf}"
    );
    let names: Vec<String> = g.status().into_iter().map(|r| r.name).collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("asset-")).count(),
        2,
        "{names:?}"
    );
    let manifest = std::fs::read_to_string(&g.manifest).unwrap();
    assert!(
        manifest.contains("instances = 2   # spread over copies by nginx\n"),
        "{manifest}"
    );

    // At every reload gridctl made, each copy the new config lists as serving was
    // listening (start → ready → in), and a copy was only stopped after leaving.
    let (reloads, violations) = g.reload_audit();
    // Roll of 3: 4 reloads (the next copy goes down as the previous one comes back);
    // scale up: 1 (in once ready); scale down: 2 (marked down, then removed).
    assert!(
        reloads >= 4 + 1 + 2,
        "gridctl reloaded nginx only {reloads} times"
    );
    assert!(
        violations.is_empty(),
        "a copy was in its upstream while not listening:\n{violations}"
    );

    // nginx never had to step around a copy: no refused or cut connection at all, so
    // no copy was ever in an upstream while it could not answer (start → ready → in;
    // out → drain → stop).
    let log = g.error_log_text();
    let errors = upstream_errors(&log);
    assert!(
        errors.is_empty(),
        "nginx met unavailable copies:\n{}\n{report}",
        errors.join("\n")
    );
}

#[test]
fn kill_9_of_one_copy_fails_over_until_its_holder_restarts_it() {
    // A 1 s backoff keeps the copy dead long enough for nginx to meet it.
    let mut g = Grid::new(GridOptions {
        supervise: "backoff_initial = \"1s\"\ncrash_loop_count = 10",
        ..GridOptions::default()
    });
    g.start();
    let load = Load::start(g.private_listen, LOAD, PACE, "steady");
    load.wait_served_by(&["asset-1", "asset-2", "asset-3"], WAIT);
    load.wait_requests(300, WAIT);

    let victim = g.row("asset-2").expect("asset-2");
    let pid = victim.pid.expect("asset-2 runs");
    let port = victim.ports[0];
    load.phase("asset-2 killed");
    // A POST that reached a copy is never replayed by nginx (it may have been
    // processed), so a POST the copy is handling when it dies, or one nginx writes on
    // a kept-alive connection to it before noticing that connection was closed, is
    // lost — inherent, not a gridctl matter. The POST streams therefore hold off from
    // just before the kill until nginx has closed every connection the dead copy left
    // (none in CLOSE_WAIT). GETs run throughout, including through those instants.
    load.pause_posts();
    assert!(kill(pid, libc::SIGKILL), "kill -9 {pid}");
    wait_for("the killed copy to be gone", WAIT, || {
        (!alive(pid)).then_some(())
    });
    wait_for(
        "nginx to close its connections to the dead copy",
        WAIT,
        || (close_wait_to(port) == 0).then_some(()),
    );
    load.resume_posts();

    let back = wait_for(
        "the holder to restart asset-2",
        Duration::from_secs(15),
        || {
            let r = g.row("asset-2")?;
            (r.state == "ready" && r.pid.is_some() && r.pid != Some(pid)).then_some(r)
        },
    );
    assert!(back.restarts >= 1, "{back:?}");
    load.phase("after the restart");
    load.wait_requests(300, WAIT);
    let phases = load.finish();
    let report = summary(&phases);
    eprintln!("{report}");

    assert_eq!(total_failed(&phases), 0, "requests failed:\n{report}");
    let during = &phases[1];
    assert!(during.gets > 0 && during.posts > 0, "{report}");
    assert!(
        during.by_instance.contains_key("asset-1") && during.by_instance.contains_key("asset-3"),
        "the other copies carried the load:\n{report}"
    );
    // And nginx did meet the dead copy (refused), then passed the request on.
    let log = g.error_log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("connect() failed") && l.contains(&format!(":{port}/"))),
        "nginx never tried the dead copy on port {port}:\n{log}"
    );
}

#[test]
fn a_template_nginx_rejects_leaves_the_old_config_serving() {
    let mut g = Grid::new(GridOptions::default());
    g.start();
    let ok = g.gridctl_ok(&["nginx", "reload"]);
    assert!(ok.stdout.contains("unchanged"), "{}", ok.describe());
    let installed = std::fs::read(&g.output).unwrap();
    let master = g.nginx_master();
    let workers = g.nginx_workers();
    assert!(!workers.is_empty());

    let load = Load::start(g.private_listen, LOAD, PACE, "steady");
    load.wait_served_by(&["asset-1", "asset-2", "asset-3"], WAIT);

    // A template override with a directive nginx does not know.
    let builtin = std::fs::read_to_string(BUILTIN_NGINX_TEMPLATE).unwrap();
    let anchor = "    server_name {{ r.hostname }};\n";
    assert!(
        builtin.contains(anchor),
        "the built-in template changed shape"
    );
    let broken = builtin.replacen(anchor, &format!("{anchor}    bogus_directive on;\n"), 1);
    std::fs::create_dir_all(g.root().join("tpl")).unwrap();
    std::fs::write(g.root().join("tpl/nginx.conf"), broken).unwrap();
    let manifest = std::fs::read_to_string(&g.manifest).unwrap();
    let with_templates = manifest.replacen(
        "domain = \"grid.localhost\"\n",
        "domain = \"grid.localhost\"\ntemplates = \"tpl\"\n",
        1,
    );
    assert_ne!(with_templates, manifest);
    std::fs::write(&g.manifest, &with_templates).unwrap();

    load.phase("rejected reload");
    let run = g.gridctl(&["nginx", "reload"]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains("unknown directive \"bogus_directive\""),
        "nginx's message is shown:\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("previous one stays installed"),
        "{}",
        run.describe()
    );
    assert_eq!(
        std::fs::read(&g.output).unwrap(),
        installed,
        "the installed config changed"
    );
    // No reload happened: the same master with the same workers.
    assert_eq!(g.nginx_master(), master);
    assert_eq!(g.nginx_workers(), workers, "nginx was reloaded");
    load.wait_requests(300, WAIT);
    load.wait_served_by(&["asset-1", "asset-2", "asset-3"], WAIT);
    let phases = load.finish();
    let report = summary(&phases);
    eprintln!("{report}");
    assert_eq!(total_failed(&phases), 0, "requests failed:\n{report}");

    // The built-in template back: what is installed is what it renders.
    std::fs::write(&g.manifest, &manifest).unwrap();
    let again = g.gridctl_ok(&["nginx", "reload"]);
    assert!(again.stdout.contains("unchanged"), "{}", again.describe());
    assert_eq!(std::fs::read(&g.output).unwrap(), installed);
}
