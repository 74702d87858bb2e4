//! Issue 13, end to end in a container: the pod the Kubernetes export describes (the
//! real `gridctl export kubernetes` output: its ConfigMap, and its StatefulSet's pod
//! template as the Pod `asset-1`, with host networking and without the container ports
//! podman cannot map there), played with `podman kube play` from an image `FROM scratch`
//! holding this test run's `gridctl`, `gridctl-holder` and fake Robust. It proves, each step under a deadline:
//! (a) `gridctl pod run` renders the copy's tree and the pod turns ready
//! (`podman exec … gridctl probe` exits 0, the name from `POD_NAME`, the database secret
//! from the Secret, the manifest from the ConfigMap); (b) `podman exec -it … gridctl
//! attach` on a real PTY shows the live console, runs a command, and detaches on Ctrl-]
//! with exit 0 and the pod still running, and `gridctl send` / `gridctl status` work
//! through `podman exec` (status: the pod's own copy only); (c) `podman logs` carries
//! the console;
//! (d) stopping the pod makes the holder type `shutdown`, Robust quits gracefully and the
//! container exits 0 within the grace period. The fake listens on 127.0.0.1 only
//! (`hostNetwork`): the test reaches it there.
//!
//! podman runs on a storage of the test's own (`kube_play_support::Podman`), torn down
//! even on failure. Without podman (or not as root) the test says why and passes — unless
//! `CI` is set, where that is a failure (`.ci/deps.sh` installs podman).
//!
//! What podman 4.3 does with the pod's references, as measured: the ConfigMap document
//! becomes a volume mounted as a directory holding `grid.toml`; `fieldRef:
//! metadata.name` gives the pod's name; `secretKeyRef` reads a podman secret whose data
//! is a JSON object of key → base64(value). A `kind: Secret` document in the played YAML
//! is stored re-marshalled as YAML, which 4.3's `secretKeyRef` then fails to read as
//! JSON ("secret robust-db is not valid JSON"), and a whole Kubernetes Secret as JSON
//! fails on its non-base64 fields; so the test creates the secret with
//! `podman secret create`, as an operator creates `robust-db` beside the export.
//! `terminationGracePeriodSeconds` does not become the container's stop timeout (it stays
//! podman's 10 s), and `startupProbe`/`readinessProbe` make no healthcheck (4.3 maps only
//! `livenessProbe`): the test runs `gridctl probe` itself and passes the grace period to
//! `podman pod stop -t`.
//!
//! Figures (time to ready, stop time, exit code) are printed: `--nocapture` shows them.

mod common;
mod kube_play_support;

use common::grid::{gridctl_holder, FAKE_BIN, FAKE_ROBUST, GRIDCTL};
use common::http::request_once;
use common::ports::reserve_ports;
use common::pty::Pty;
use common::wait::wait_for;
use kube_play_support::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn kube_play_runs_a_ready_pod_with_a_live_console_and_stops_it_gracefully() {
    let t_test = Instant::now();
    let Some(bin) = podman_or_skip("kube_play") else {
        return;
    };
    let p = Podman::new(bin);
    let version = p.ok(&["--version"]).stdout;
    eprintln!("kube_play: {}", version.trim());

    let build = build_image(
        &p,
        &ImageFiles {
            gridctl: PathBuf::from(GRIDCTL),
            holder: gridctl_holder(),
            fake_robust: PathBuf::from(FAKE_ROBUST),
            fake_bin_dir: PathBuf::from(FAKE_BIN),
        },
    );
    eprintln!("kube_play: image built in {:.2}s", build.as_secs_f64());

    // asset-1 on `port`, asset-2 on the next (never started here).
    let port = reserve_ports(2);
    let pm = pod_manifest(&[POD], IMAGE, &grid_toml(port));
    let (yaml, grace_secs) = (pm.yaml, pm.grace_secs);
    let file = p.base.join("pod.yaml");
    p.create_k8s_secret(DB_SECRET_NAME, &[("connection", DB_SECRET_VALUE)]);

    // (a) played, rendered, ready.
    let played = play_until_ready(&p, &file, &yaml, &[POD], SECS(30));
    eprintln!(
        "kube_play: kube play returned in {:.2}s; ready {:.2}s after kube play started",
        played.returned.as_secs_f64(),
        played.ready.as_secs_f64()
    );

    // Only asset-1's tree was rendered, into the pod's emptyDir (seen from the host).
    let state = state_dir(&p, POD);
    let instances = state.join("instances");
    assert!(
        instances.join("asset-1").join("holder.json").is_file(),
        "no asset-1 tree in the emptyDir {}",
        state.display()
    );
    assert!(!instances.join("asset-2").exists(), "asset-2 was rendered");

    // What podman made of the grace period and the probes.
    let cfg = p.ok(&[
        "inspect",
        "--format",
        "stop timeout {{.Config.StopTimeout}}s; stop signal {{.Config.StopSignal}}; healthcheck {{json .Config.Healthcheck}}",
        CONTAINER,
    ]);
    eprintln!("kube_play: podman's container: {}", cfg.stdout.trim());

    // The fake answers on 127.0.0.1 (hostNetwork) and listens nowhere else.
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let answer = wait_for("an HTTP answer from asset-1 on 127.0.0.1", SECS(10), || {
        request_once(addr, "127.0.0.1", "GET", "/", None, false, &mut None).ok()
    });
    assert_eq!(answer.instance.as_deref(), Some("asset-1"), "{answer:?}");
    let listeners = listeners_on(port);
    assert!(
        !listeners.is_empty() && listeners.iter().all(|a| a == "127.0.0.1"),
        "listeners on {port}: {listeners:?}"
    );

    // (c) the console on the container's stdout.
    let log = wait_for("console lines in podman logs", SECS(10), || {
        let l = logs(&p, POD);
        l.contains("loaded successfully").then_some(l)
    });
    assert!(
        !log.contains(DB_SECRET_VALUE),
        "the secret leaked into the logs"
    );

    // (b) attach through `podman exec -it` on a real PTY: the live console, a command,
    // Ctrl-] detaches with exit 0; the pod runs on.
    let mut pty = Pty::spawn(
        p.pty_command(&["exec", "-it", CONTAINER, "gridctl", "attach", POD]),
        30,
        120,
        |_| {},
    );
    pty.wait_screen("the console's prompt", SECS(20), |s| {
        s.contains("R.O.B.U.S.T.#")
    });
    assert!(
        pty.text()
            .contains("[gridctl] attached to asset-1 — detach with Ctrl-]"),
        "{}",
        pty.text()
    );
    pty.type_bytes(b"show info\r");
    let screen = pty.wait_screen("`show info` answered", SECS(10), |s| {
        s.contains("Startup directory:")
    });
    assert!(screen.contains("Version:"), "{screen}");
    pty.type_bytes(&[0x1d]);
    let status = pty
        .wait_exited(Instant::now() + SECS(15))
        .unwrap_or_else(|| panic!("attach did not end on Ctrl-]; screen:\n{}", pty.screen()));
    pty.drain_to_eof(SECS(2));
    assert!(
        status.success(),
        "attach exit {status:?}; output:\n{}",
        pty.text()
    );
    assert!(
        pty.text().contains("detached from asset-1"),
        "{}",
        pty.text()
    );
    drop(pty);
    assert_eq!(container_state(&p, POD), "running");
    assert_eq!(probe(&p, POD).0, Some(0), "not ready after the detach");

    // `send` and `status` through `podman exec` (no TTY), as through `kubectl exec`:
    // the command's output comes back; status shows the pod's own copy only.
    let sent = p.ok(&["exec", CONTAINER, "gridctl", "send", POD, "show info"]);
    assert!(sent.stdout.contains("Startup directory:"), "{sent}");
    let status = p.ok(&["exec", CONTAINER, "gridctl", "status"]);
    let rows: Vec<&str> = status
        .stdout
        .lines()
        .filter(|l| l.starts_with("asset-"))
        .collect();
    assert_eq!(rows.len(), 1, "{status}");
    assert!(
        rows[0].starts_with("asset-1") && rows[0].contains("ready"),
        "{status}"
    );

    // (d) a graceful stop: the holder types `shutdown`, Robust quits, exit 0. Through
    // `podman pod stop -t GRACE`, then `kube down`: podman 4.3's `kube down` stops the
    // pod with no grace at all (measured: the infra container and then ours died 137,
    // 13 ms and 47 ms after the pod's `stop` event, and the holder logged nothing), so
    // no process in a container can stop gracefully on it; a kubelet sends SIGTERM and
    // waits terminationGracePeriodSeconds, which is what `pod stop -t` does.
    let Stopped {
        took: stop_took,
        code,
        log,
    } = stop_pod(&p, POD, grace_secs);
    eprintln!(
        "kube_play: pod stop took {:.2}s (grace {grace_secs}s); container exit code {code}",
        stop_took.as_secs_f64()
    );
    assert_eq!(code, "0", "logs:\n{log}");
    assert!(stop_took < SECS(grace_secs), "stop took {stop_took:?}");
    assert!(log.contains("[CONSOLE]: Quitting"), "{log}");
    assert!(log.contains("stopped: exit 0 after `shutdown`"), "{log}");
    assert!(log.contains("holder exiting with status 0"), "{log}");
    // Nothing listens on the port any more.
    assert!(listeners_on(port).is_empty(), "{:?}", listeners_on(port));

    let down = p.kube_down(&file);
    assert!(down.ok(), "podman kube down: {down}");
    assert!(down.stdout.contains("Pods removed"), "{down}");
    eprintln!(
        "kube_play: whole test {:.2}s",
        t_test.elapsed().as_secs_f64()
    );
}
