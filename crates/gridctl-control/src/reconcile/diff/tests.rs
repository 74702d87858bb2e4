//! Table-driven tests of the diff: observed grid + options → the exact steps and reasons.

use super::{down, restart, up, UpOptions};
use crate::reconcile::observe::{Leftover, Observed, Seen, Want};
use crate::reconcile::step::{Action, Reason};
use gridctl_config::render::Membership;
use gridctl_wire::protocol::InstanceState;

/// `name:index` copies wanted with hash `h1` (file lists name what differs on disk).
fn want(name: &str, index: u32, hash: &str, differs: &[&str]) -> Want {
    Want {
        name: name.into(),
        index,
        config_hash: hash.into(),
        differs_on_disk: differs.iter().map(|s| s.to_string()).collect(),
        routed: true,
    }
}

fn simulator(name: &str, hash: &str) -> Want {
    Want {
        routed: false,
        ..want(name, 1, hash, &[])
    }
}

fn running(state: InstanceState, hash: &str) -> Seen {
    Seen::Running {
        state,
        config_hash: hash.into(),
    }
}

/// The blog's shape: core-1, asset-1..3, inventory-1..2, in start order.
fn blog(hash_of: impl Fn(&str) -> (&'static str, Vec<&'static str>)) -> Vec<Want> {
    [
        ("core-1", 1),
        ("asset-1", 1),
        ("inventory-1", 1),
        ("asset-2", 2),
        ("asset-3", 3),
        ("inventory-2", 2),
    ]
    .iter()
    .map(|(n, i)| {
        let (h, files) = hash_of(n);
        want(n, *i, h, &files)
    })
    .collect()
}

fn all_running(wants: &[Want], state: InstanceState) -> Observed {
    Observed {
        holders: wants
            .iter()
            .map(|w| (w.name.clone(), running(state, "h1")))
            .collect(),
        ..Observed::default()
    }
}

const PLAIN: UpOptions = UpOptions {
    wait: false,
    managed: false,
};
const NGINX: UpOptions = UpOptions {
    wait: false,
    managed: true,
};

struct Case {
    name: &'static str,
    wants: Vec<Want>,
    seen: Observed,
    options: UpOptions,
    steps: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    let same = |_: &str| ("h1", vec![]);
    let asset_changed = |n: &str| {
        if n.starts_with("asset") {
            ("h2", vec!["includes/local/asset.ini"])
        } else {
            ("h1", vec![])
        }
    };
    let mut crashed = all_running(&blog(same), InstanceState::Ready);
    crashed
        .holders
        .insert("asset-2".into(), running(InstanceState::Backoff, "h1"));
    let mut crashed_and_changed = all_running(&blog(same), InstanceState::Ready);
    crashed_and_changed
        .holders
        .insert("asset-3".into(), running(InstanceState::CrashLoop, "h1"));
    let mut silent = all_running(&blog(same), InstanceState::Ready);
    silent.holders.insert("inventory-2".into(), Seen::Silent);
    let mut scaled_down = all_running(&blog(same), InstanceState::Ready);
    scaled_down.undeclared = vec![
        Leftover {
            name: "asset-4".into(),
            running: true,
        },
        Leftover {
            name: "asset-5".into(),
            running: false,
        },
    ];
    let mut out_of_upstream = all_running(&blog(same), InstanceState::Ready);
    out_of_upstream
        .installed
        .insert("asset-1".into(), Membership::Out);
    vec![
        Case {
            name: "fresh grid: first copies alone and waited for, siblings together",
            wants: blog(same),
            seen: Observed::default(),
            options: PLAIN,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "start core-1 — not running",
                "wait until core-1 is ready — first copy: its siblings wait for its migrations",
                "start asset-1 — not running",
                "wait until asset-1 is ready — first copy: its siblings wait for its migrations",
                "start inventory-1 — not running",
                "wait until inventory-1 is ready — first copy: its siblings wait for its migrations",
                "start together asset-2, asset-3, inventory-2 — not running",
            ],
        },
        Case {
            name: "fresh grid behind nginx: every copy waited for, then in with one reload",
            wants: blog(same)[..4].to_vec(),
            seen: Observed::default(),
            options: NGINX,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "start core-1 — not running",
                "wait until core-1 is ready — first copy: its siblings wait for its migrations",
                "start asset-1 — not running",
                "wait until asset-1 is ready — first copy: its siblings wait for its migrations",
                "start inventory-1 — not running",
                "wait until inventory-1 is ready — first copy: its siblings wait for its migrations",
                "start together asset-2 — not running",
                "wait until asset-2 is ready — started by this run",
                "core-1 joins its upstream — in once ready, out otherwise",
                "asset-1 joins its upstream — in once ready, out otherwise",
                "inventory-1 joins its upstream — in once ready, out otherwise",
                "asset-2 joins its upstream — in once ready, out otherwise",
                "nginx: render, reload if routing changed — in once ready, out otherwise",
            ],
        },
        Case {
            name: "nothing changed, no nginx: every copy kept",
            wants: blog(same)[..2].to_vec(),
            seen: all_running(&blog(same), InstanceState::Ready),
            options: PLAIN,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "keep core-1 — running, config unchanged",
                "keep asset-1 — running, config unchanged",
            ],
        },
        Case {
            name: "a changed file rolls the role: out, drain, restart, ready, in with the next out",
            wants: blog(asset_changed)[..4].to_vec(),
            seen: all_running(&blog(same), InstanceState::Ready),
            options: NGINX,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "keep core-1 — running, config unchanged",
                "keep inventory-1 — running, config unchanged",
                "core-1 joins its upstream — in once ready, out otherwise",
                "inventory-1 joins its upstream — in once ready, out otherwise",
                "asset-1 leaves its upstream — config changed: includes/local/asset.ini",
                "nginx: render, reload if routing changed — out before it stops",
                "drain — requests already sent finish",
                "restart asset-1 — config changed: includes/local/asset.ini",
                "wait until asset-1 is ready — config changed: includes/local/asset.ini",
                "asset-1 joins its upstream — in once ready, out otherwise",
                "asset-2 leaves its upstream — config changed: includes/local/asset.ini",
                "nginx: render, reload if routing changed — out before it stops",
                "drain — requests already sent finish",
                "restart asset-2 — config changed: includes/local/asset.ini",
                "wait until asset-2 is ready — config changed: includes/local/asset.ini",
                "asset-2 joins its upstream — in once ready, out otherwise",
                "nginx: render, reload if routing changed — in once ready, out otherwise",
            ],
        },
        Case {
            name: "a changed file without nginx: restarts one at a time",
            wants: blog(asset_changed)[..3].to_vec(),
            seen: all_running(&blog(same), InstanceState::Ready),
            options: PLAIN,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "keep core-1 — running, config unchanged",
                "keep inventory-1 — running, config unchanged",
                "restart asset-1 — config changed: includes/local/asset.ini",
                "wait until asset-1 is ready — config changed: includes/local/asset.ini",
            ],
        },
        Case {
            name: "a crashed copy is waited for and joins only if ready",
            wants: blog(same)[..4].to_vec(),
            seen: crashed,
            options: NGINX,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "keep core-1 — running, config unchanged",
                "keep asset-1 — running, config unchanged",
                "keep inventory-1 — running, config unchanged",
                "keep asset-2 — running, config unchanged",
                "wait until asset-2 is ready — crashed (backoff)",
                "core-1 joins its upstream — in once ready, out otherwise",
                "asset-1 joins its upstream — in once ready, out otherwise",
                "inventory-1 joins its upstream — in once ready, out otherwise",
                "asset-2 joins its upstream — in once ready, out otherwise",
                "nginx: render, reload if routing changed — in once ready, out otherwise",
            ],
        },
        Case {
            name: "a crashed copy whose config changed has nothing to drain: it goes first",
            wants: blog(asset_changed)[..5].to_vec(),
            seen: crashed_and_changed,
            options: NGINX,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "keep core-1 — running, config unchanged",
                "keep inventory-1 — running, config unchanged",
                "core-1 joins its upstream — in once ready, out otherwise",
                "inventory-1 joins its upstream — in once ready, out otherwise",
                "asset-3 is not in its upstream: no drain — config changed: includes/local/asset.ini",
                "restart asset-3 — config changed: includes/local/asset.ini",
                "wait until asset-3 is ready — config changed: includes/local/asset.ini",
                "asset-3 joins its upstream — in once ready, out otherwise",
                "asset-1 leaves its upstream — config changed: includes/local/asset.ini",
                "nginx: render, reload if routing changed — out before it stops",
                "drain — requests already sent finish",
                "restart asset-1 — config changed: includes/local/asset.ini",
                "wait until asset-1 is ready — config changed: includes/local/asset.ini",
                "asset-1 joins its upstream — in once ready, out otherwise",
                "asset-2 leaves its upstream — config changed: includes/local/asset.ini",
                "nginx: render, reload if routing changed — out before it stops",
                "drain — requests already sent finish",
                "restart asset-2 — config changed: includes/local/asset.ini",
                "wait until asset-2 is ready — config changed: includes/local/asset.ini",
                "asset-2 joins its upstream — in once ready, out otherwise",
                "nginx: render, reload if routing changed — in once ready, out otherwise",
            ],
        },
        Case {
            name: "a holder that does not answer is reported and kept out",
            wants: blog(same)[4..].to_vec(),
            seen: silent,
            options: NGINX,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "keep asset-3 — running, config unchanged",
                "cannot reach inventory-2 — holder does not answer on its socket",
                "asset-3 joins its upstream — in once ready, out otherwise",
                "inventory-2 joins its upstream — in once ready, out otherwise",
                "nginx: render, reload if routing changed — in once ready, out otherwise",
            ],
        },
        Case {
            name: "scaled down by hand: undeclared copies leave, stop and retire",
            wants: blog(same)[..2].to_vec(),
            seen: scaled_down,
            options: NGINX,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "keep core-1 — running, config unchanged",
                "keep asset-1 — running, config unchanged",
                "core-1 joins its upstream — in once ready, out otherwise",
                "asset-1 joins its upstream — in once ready, out otherwise",
                "nginx: render, reload if routing changed — undeclared (no longer in grid.toml)",
                "drain — requests already sent finish",
                "stop asset-4 (undeclared) — undeclared (no longer in grid.toml)",
                "retire asset-4 — undeclared (no longer in grid.toml)",
                "retire asset-5 — undeclared (no longer in grid.toml)",
            ],
        },
        Case {
            name: "a roll takes a copy out of nginx's installed config first, undrained",
            wants: blog(asset_changed)[1..2].to_vec(),
            seen: out_of_upstream,
            options: NGINX,
            steps: &[
                "write the instance trees (changed files only) — the plan's config",
                "asset-1 is not in its upstream: no drain — config changed: includes/local/asset.ini",
                "restart asset-1 — config changed: includes/local/asset.ini",
                "wait until asset-1 is ready — config changed: includes/local/asset.ini",
                "asset-1 joins its upstream — in once ready, out otherwise",
                "nginx: render, reload if routing changed — in once ready, out otherwise",
            ],
        },
    ]
}

#[test]
fn up_steps_and_reasons() {
    for c in cases() {
        let got: Vec<String> = up(&c.wants, &c.seen, c.options, &[])
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, c.steps, "case: {}", c.name);
    }
}

#[test]
fn only_roll_steps_halt() {
    let wants = blog(|n| {
        if n == "asset-1" {
            ("h2", vec![])
        } else {
            ("h1", vec![])
        }
    });
    let steps = up(
        &wants,
        &all_running(&wants, InstanceState::Ready),
        NGINX,
        &[],
    );
    let halting: Vec<String> = steps
        .iter()
        .filter(|s| s.halts)
        .map(|s| s.action.to_string())
        .collect();
    assert_eq!(
        halting,
        ["restart asset-1", "wait until asset-1 is ready"],
        "{steps:#?}"
    );
}

#[test]
fn down_steps_and_reasons() {
    let wants = blog(|_| ("h1", vec![]));
    let mut seen = all_running(&wants, InstanceState::Ready);
    seen.holders.insert("asset-3".into(), Seen::Absent);
    seen.undeclared = vec![Leftover {
        name: "asset-4".into(),
        running: true,
    }];
    // core rank 0, asset and inventory rank 1 (they depend on it), in start order.
    let copies: Vec<(String, usize)> = ["core-1", "asset-1", "asset-2", "asset-3"]
        .iter()
        .map(|n| (n.to_string(), usize::from(*n != "core-1")))
        .collect();
    let got: Vec<String> = down(&copies, &seen, true, &[])
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        got,
        [
            "core-1 leaves its upstream — out before it stops",
            "asset-1 leaves its upstream — out before it stops",
            "asset-2 leaves its upstream — out before it stops",
            "asset-3 leaves its upstream — out before it stops",
            "nginx: render, reload if routing changed — out before it stops",
            "drain — requests already sent finish",
            "stop asset-4 (undeclared) — undeclared (no longer in grid.toml)",
            "keep asset-3 — not running",
            "stop together asset-2, asset-1 — operator down",
            "stop together core-1 — operator down",
            "core-1 leaves its upstream once stopped — stopped copies out, any other stays marked down",
            "asset-1 leaves its upstream once stopped — stopped copies out, any other stays marked down",
            "asset-2 leaves its upstream once stopped — stopped copies out, any other stays marked down",
            "asset-3 leaves its upstream once stopped — stopped copies out, any other stays marked down",
            "nginx: render, reload if routing changed — stopped copies out, any other stays marked down",
            "retire asset-4 — undeclared (no longer in grid.toml)",
        ]
    );
    // Without nginx: only the stops, dependants first.
    let plain: Vec<String> = down(&copies[..2], &Observed::default(), false, &[])
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        plain,
        ["keep asset-1 — not running", "keep core-1 — not running"]
    );
}

#[test]
fn restart_steps_and_reasons() {
    let wants = blog(|_| ("h1", vec![]));
    let seen = all_running(&wants, InstanceState::Ready);
    let names = |steps: Vec<crate::reconcile::step::Step>| -> Vec<String> {
        steps.iter().map(|s| s.to_string()).collect()
    };
    assert_eq!(
        names(restart(&wants[1..2], &seen, false, false, &[])),
        [
            "write the instance trees (changed files only) — the plan's config",
            "restart asset-1 — operator restart",
            "wait until asset-1 is ready — operator restart",
        ]
    );
    // --rolling without nginx: halting steps, no nginx steps.
    let rolled = restart(&wants[1..2], &seen, false, true, &[]);
    assert!(rolled.iter().skip(1).all(|s| s.halts), "{rolled:#?}");
    // Behind nginx a restart is always a roll.
    assert_eq!(
        names(restart(&wants[1..2], &seen, true, false, &[])),
        [
            "write the instance trees (changed files only) — the plan's config",
            "asset-1 leaves its upstream — operator restart",
            "nginx: render, reload if routing changed — out before it stops",
            "drain — requests already sent finish",
            "restart asset-1 — operator restart",
            "wait until asset-1 is ready — operator restart",
            "asset-1 joins its upstream — in once ready, out otherwise",
            "nginx: render, reload if routing changed — in once ready, out otherwise",
        ]
    );
}

#[test]
fn scale_steps_and_reasons() {
    let names = |steps: &[crate::reconcile::step::Step]| -> Vec<String> {
        steps.iter().map(|s| s.to_string()).collect()
    };
    let down = super::scale(&["asset-3".into(), "asset-2".into()], &[], true);
    assert_eq!(
        names(&down.before),
        [
            "asset-3 leaves its upstream — scaled away",
            "asset-2 leaves its upstream — scaled away",
            "nginx: render, reload if routing changed — out before it stops",
            "drain — requests already sent finish",
            "stop asset-3 — scaled away",
            "stop asset-2 — scaled away",
        ]
    );
    assert_eq!(
        names(&down.after),
        [
            "write the instance trees (changed files only) — the plan's config",
            "retire asset-3 — scaled away",
            "retire asset-2 — scaled away",
            "nginx: render, reload if routing changed — scaled away",
        ]
    );
    let up = super::scale(&[], &["asset-4".into()], true);
    assert!(up.before.is_empty());
    assert_eq!(
        names(&up.after),
        [
            "write the instance trees (changed files only) — the plan's config",
            "asset-4 is recorded out of its upstream — not running",
            "start asset-4 — scaled up",
            "wait until asset-4 is ready — started by this run",
            "asset-4 joins its upstream — in once ready, out otherwise",
            "nginx: render, reload if routing changed — in once ready, out otherwise",
        ]
    );
}

/// Issue 12: the shapes of the blog's roles as `reconcile::surge` gives them, with
/// `asset` and `presence` (a role hosting a service with a process-wide cache) of
/// `asset_copies` and one copy.
fn shapes(asset_copies: u32) -> Vec<super::RoleShape> {
    vec![
        super::RoleShape {
            role: "asset".into(),
            copies: (1..=asset_copies).map(|n| format!("asset-{n}")).collect(),
            alone: super::Alone::Surge(format!("asset-{}", asset_copies + 1)),
        },
        super::RoleShape {
            role: "presence".into(),
            copies: vec!["presence-1".into()],
            alone: super::Alone::InPlace("presence cache: a role of one copy".into()),
        },
    ]
}

fn texts(steps: &[crate::reconcile::step::Step]) -> Vec<String> {
    steps.iter().map(|s| s.to_string()).collect()
}

/// The surge of asset-1, rolled for `why`, with asset-2 as the temporary copy.
fn surge_of_asset_1(why: &str) -> Vec<String> {
    let surge =
        "asset-1 is its role's only serving copy: a temporary second one serves while it restarts";
    let done = "the temporary copy goes: the role runs as declared";
    [
        format!(
            "start asset-2 beside asset-1 (temporary; out of its upstream until ready) — {surge}"
        ),
        format!("wait until asset-2 is ready (if not: stopped, removed, the roll ends) — {surge}"),
        "asset-2 joins its upstream — in once ready, out otherwise".into(),
        format!("asset-1 leaves its upstream — {why}"),
        "nginx: render, reload if routing changed — out before it stops".into(),
        "drain — requests already sent finish".into(),
        format!("restart asset-1 — {why}"),
        format!("wait until asset-1 is ready — {why}"),
        "asset-1 joins its upstream — in once ready, out otherwise".into(),
        format!("asset-2 leaves its upstream — {done}"),
        "nginx: render, reload if routing changed — out before it stops".into(),
        "drain — requests already sent finish".into(),
        format!("stop asset-2 — {done}"),
        format!("asset-2 leaves the nginx config (not in grid.toml) — {done}"),
        format!("retire asset-2 — {done}"),
    ]
    .to_vec()
}

#[test]
fn a_role_of_one_serving_copy_rolls_with_a_surge_copy() {
    let wants = vec![want("asset-1", 1, "h1", &[])];
    let seen = all_running(&wants, InstanceState::Ready);
    let mut expected =
        vec!["write the instance trees (changed files only) — the plan's config".to_string()];
    expected.extend(surge_of_asset_1("operator restart"));
    let steps = restart(&wants, &seen, true, true, &shapes(1));
    assert_eq!(texts(&steps), expected);
    // Only the surge copy's start and wait, and the old copy's restart and wait, end
    // the run on a failure; the surge copy's removal never does.
    let halting: Vec<String> = steps
        .iter()
        .filter(|s| s.halts)
        .map(|s| s.action.kind().to_string())
        .collect();
    assert_eq!(
        halting,
        ["surge_start", "surge_ready", "restart", "wait_ready"]
    );

    // `up` after an edit of the role: the same surge, for the changed config.
    let changed = vec![want("asset-1", 1, "h2", &["includes/overrides.ini"])];
    let steps = up(&changed, &seen, NGINX, &shapes(1));
    let mut expected =
        vec!["write the instance trees (changed files only) — the plan's config".to_string()];
    expected.extend(surge_of_asset_1("config changed: includes/overrides.ini"));
    assert_eq!(texts(&steps), expected);
}

#[test]
fn the_only_serving_copy_of_a_larger_role_gets_a_surge_copy_too() {
    // asset-2 crashed and is not rolled: asset-1 is the only copy serving.
    let wants = vec![want("asset-1", 1, "h1", &[])];
    let mut seen = all_running(&[want("asset-1", 1, "h1", &[])], InstanceState::Ready);
    seen.holders
        .insert("asset-2".into(), running(InstanceState::Backoff, "h1"));
    let steps = restart(&wants, &seen, true, true, &shapes(2));
    assert!(
        texts(&steps)[1].starts_with("start asset-3 beside asset-1"),
        "{steps:#?}"
    );
}

#[test]
fn a_role_that_must_run_as_one_copy_restarts_in_place_and_says_so() {
    let wants = vec![want("presence-1", 1, "h1", &[])];
    let seen = all_running(&wants, InstanceState::Ready);
    let why = "presence cache: a role of one copy; requests in the meantime fail";
    assert_eq!(
        texts(&restart(&wants, &seen, true, true, &shapes(1))),
        [
            "write the instance trees (changed files only) — the plan's config".to_string(),
            format!("presence-1 restarts in place, listed in nginx throughout — {why}"),
            "restart presence-1 — operator restart".into(),
            "wait until presence-1 is ready — operator restart".into(),
        ]
    );
    // With other copies that changed: their joins still get their reload.
    let mut wants = vec![want("core-1", 1, "h1", &[])];
    wants.push(want("presence-1", 1, "h2", &["includes/overrides.ini"]));
    let seen = all_running(&wants, InstanceState::Ready);
    assert_eq!(
        texts(&up(&wants, &seen, NGINX, &shapes(1))),
        [
            "write the instance trees (changed files only) — the plan's config".to_string(),
            "keep core-1 — running, config unchanged".into(),
            "core-1 joins its upstream — in once ready, out otherwise".into(),
            format!("presence-1 restarts in place, listed in nginx throughout — {why}"),
            "restart presence-1 — config changed: includes/overrides.ini".into(),
            "wait until presence-1 is ready — config changed: includes/overrides.ini".into(),
            "nginx: render, reload if routing changed — in once ready, out otherwise".into(),
        ]
    );
}

#[test]
fn roles_of_two_serving_copies_and_grids_without_nginx_roll_as_before() {
    let wants = vec![want("asset-1", 1, "h1", &[]), want("asset-2", 2, "h1", &[])];
    let seen = all_running(&wants, InstanceState::Ready);
    let plain = |w: &[Want], managed: bool| texts(&restart(w, &seen, managed, true, &[]));
    // Both copies of a role of two, one at a time: no surge.
    assert_eq!(
        texts(&restart(&wants, &seen, true, true, &shapes(2))),
        plain(&wants, true)
    );
    // One copy of two rolled, the other serving: no surge either.
    assert_eq!(
        texts(&restart(&wants[..1], &seen, true, true, &shapes(2))),
        plain(&wants[..1], true)
    );
    // Without nginx the shapes change nothing (the caller passes none, and even if it did).
    assert_eq!(
        texts(&restart(&wants[..1], &seen, false, true, &shapes(1))),
        plain(&wants[..1], false)
    );
    let presence = vec![want("presence-1", 1, "h1", &[])];
    assert_eq!(
        texts(&restart(&presence, &seen, false, true, &shapes(1))),
        plain(&presence, false)
    );
}

#[test]
fn simulators_start_last_and_never_join_an_upstream() {
    let wants = vec![
        want("core-1", 1, "h", &[]),
        simulator("mainland", "s"),
        want("asset-1", 1, "h", &[]),
        want("asset-2", 2, "h", &[]),
        simulator("islands", "s"),
    ];
    let seen = Observed::default();
    let opts = UpOptions {
        wait: true,
        managed: true,
    };
    let steps = up(&wants, &seen, opts, &[]);
    let together = Action::StartTogether {
        instances: vec!["mainland".into(), "islands".into()],
    };
    let start = steps
        .iter()
        .position(|s| s.action == together)
        .expect("the simulators start together");
    assert_eq!(steps[start].reason, Reason::AfterRobust);
    // After every Robust start and wait, and the reload that puts the copies in.
    let last_robust = steps
        .iter()
        .rposition(|s| {
            matches!(s.action, Action::Reload { .. })
                || s.action
                    == Action::StartTogether {
                        instances: vec!["asset-2".into()],
                    }
        })
        .expect("robust steps");
    assert!(start > last_robust, "{steps:#?}");
    let waits: Vec<&Action> = steps[start + 1..].iter().map(|s| &s.action).collect();
    assert_eq!(
        waits,
        vec![
            &Action::WaitReady {
                instance: "mainland".into()
            },
            &Action::WaitReady {
                instance: "islands".into()
            },
        ]
    );
    assert!(!steps.iter().any(|s| matches!(
        &s.action,
        Action::Join { instance } | Action::Leave { instance }
            if instance == "mainland" || instance == "islands"
    )));
}

#[test]
fn a_simulator_restarts_in_place_without_touching_nginx() {
    let wants = vec![simulator("mainland", "s")];
    let mut seen = Observed::default();
    seen.holders
        .insert("mainland".into(), running(InstanceState::Ready, "s"));
    let shapes = vec![super::RoleShape {
        role: "mainland".into(),
        copies: vec!["mainland".into()],
        alone: super::Alone::Simulator,
    }];
    let steps = restart(&wants, &seen, true, true, &shapes);
    let actions: Vec<&Action> = steps.iter().map(|s| &s.action).collect();
    assert_eq!(
        actions,
        vec![
            &Action::Render,
            &Action::InPlace {
                instance: "mainland".into()
            },
            &Action::Restart {
                instance: "mainland".into()
            },
            &Action::WaitReady {
                instance: "mainland".into()
            },
        ]
    );
    assert_eq!(steps[1].reason, Reason::Simulator);
}

#[test]
fn down_stops_simulators_first_with_no_nginx_step() {
    let copies = vec![
        ("core-1".to_string(), 0),
        ("asset-1".to_string(), 1),
        ("mainland".to_string(), 2),
    ];
    let mut seen = Observed::default();
    for (n, _) in &copies {
        seen.holders
            .insert(n.clone(), running(InstanceState::Ready, "h"));
    }
    let steps = down(&copies, &seen, true, &["mainland".to_string()]);
    let first_stop = steps
        .iter()
        .find(|s| matches!(s.action, Action::StopTogether { .. }))
        .expect("a stop");
    assert_eq!(
        first_stop.action,
        Action::StopTogether {
            instances: vec!["mainland".into()]
        }
    );
    assert!(!steps.iter().any(|s| matches!(
        &s.action,
        Action::Leave { instance } | Action::Drop { instance } if instance == "mainland"
    )));
    assert!(steps.iter().any(|s| s.action
        == Action::Leave {
            instance: "core-1".into()
        }));
}
