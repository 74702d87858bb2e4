//! End-to-end tests of the holder: real processes on real PTYs, loopback only.
//!
//! The holder runs from this very test binary: `holder_process_entry` turns into the
//! holder when `GRIDCTL_TEST_HOLDER_SPEC` is set, so these tests do not depend on the
//! CLI wiring. The Robust stand-in is a small bash script written by each test (it
//! asks `ESC[6n` before each prompt and stalls up to 1 s unanswered, like Robust).
//!
//! Every process a test starts is killed by pid on every path (the `Fixture` drop).

use gridctl::client::{clean_stale, probe_holder, HolderClient, HolderPresence, SendReply};
use gridctl::protocol::{
    decode_control, read_frame, write_control, write_frame, ClientMessage, HolderMessage,
    InstanceState, InstanceStatus, KIND_CONTROL, KIND_DATA, PROTOCOL_VERSION,
};
use gridctl::spec::{InstanceSpec, ReadinessSpec, RestartPolicy, StopPolicy};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const HOLDER_ENTRY_ENV: &str = "GRIDCTL_TEST_HOLDER_SPEC";
const PROMPT: &str = "R.O.B.U.S.T.# ";

/// Not a test: the holder process body when this binary is started as a holder.
#[test]
fn holder_process_entry() {
    if let Ok(spec) = std::env::var(HOLDER_ENTRY_ENV) {
        gridctl::holder::run_holder_command(Path::new(&spec));
    }
}

/// Not a test: a client run as another uid by `other_uid_is_refused_by_peer_credentials`
/// (`GRIDCTL_TEST_PEER_SOCKET`); prints what the holder said.
#[test]
fn peer_client_entry() {
    if let Ok(socket) = std::env::var("GRIDCTL_TEST_PEER_SOCKET") {
        let uid = nix::unistd::geteuid();
        match HolderClient::connect(Path::new(&socket), Duration::from_secs(5)) {
            Ok(mut c) => println!("PEER uid {uid} OK {:?}", c.status().map(|s| s.state)),
            Err(e) => println!("PEER uid {uid} ERR {e}"),
        }
    }
}

/// The Robust stand-in. Knobs via env: CONNECTORS, FAIL, IGNORE_STOP, CRASH, STALE_PID,
/// RED (an ERROR-level line as OpenSimAppender shows it: no level word, red text after a
/// coloured category, the `HH:MM:SS - ` written apart so a read ends after it).
const STAND_IN: &str = r#"#!/bin/bash
echo $$ >> "$PIDS_LOG"
echo $$ > "$ROBUST_PID_FILE"
if [ -n "$IGNORE_STOP" ]; then trap '' INT TERM; else
  trap 'echo "[CONSOLE]: Quitting"; rm -f "$ROBUST_PID_FILE"; exit 0' INT
  trap 'exit 143' TERM
fi
# Like LocalConsole: no tty echo, the console echoes typed lines itself.
stty -echo -icanon min 1 time 0
cpr() {
  printf '\033[6n'
  reply=""
  IFS= read -r -s -d R -n 32 -t 1 reply
}
cpr
echo "[TEST] cpr reply: ${reply#*[}"
if [ -n "$STALE_PID" ]; then printf '12:00:00 - [\033[36mSERVER BASE\033[39;49m]:\033[31m Previous pid file %s still exists on startup.  Possibly previously unclean shutdown.\033[39;49m\r\n' "$ROBUST_PID_FILE"; fi
if [ -n "$RED" ]; then printf '12:00:00 - '; sleep 0.2; printf '[\033[36mSERVICE BASE\033[39;49m]:\033[31m %s\033[39;49m\r\n' "$RED"; fi
for c in $CONNECTORS; do echo "12:00:00 - [SERVER]: $c loaded successfully"; done
if [ -n "$FAIL" ]; then echo "12:00:00 - [SERVER]: Failed to load OpenSim.Server.Handlers.dll:$FAIL"; fi
if [ -n "$CRASH" ]; then echo "12:00:00 - about to crash"; exit 1; fi
while true; do
  cpr
  printf '\033[32mR.O.B.U.S.T.\033[0m# '
  IFS= read -r line || exit 0
  line=${line%$'\r'}
  printf '%s\r\n' "$line"
  case "$line" in
    shutdown|quit) if [ -z "$IGNORE_STOP" ]; then echo "[CONSOLE]: Quitting"; rm -f "$ROBUST_PID_FILE"; exit 0; fi; echo "ignored";;
    size) stty size;;
    "show uptime") echo "Time now is now"; echo "Server has been running since then";;
    spam\ *) seq -f "spam line %g .............................................." "${line#spam }";;
    # Asks like Robust's `create user`: the question stays on the line, the cursor after it.
    ask) printf 'First name [Default]: '; IFS= read -r a; a=${a%$'\r'}; printf '%s\r\n' "$a"
         printf 'Password: '; IFS= read -r p; printf '\r\n'; echo "created ${a:-Default}";;
    # LocalConsole's redraw of the prompt line, as Robust 0.9.2.2 sends it for `ab` typed.
    redraw) printf '\033[40;1HR.O.B.U.S.T.# a\033[40;16H\033[40;1HR.O.B.U.S.T.# ab\033[40;17H\033[40;1H\033[40;1H\r\n';;
    *) echo "Unknown command: $line";;
  esac
done
"#;

struct Fixture {
    dir: tempfile::TempDir,
    spec_path: PathBuf,
    spec: InstanceSpec,
}

impl Fixture {
    fn new(env: &[(&str, &str)], tweak: impl FnOnce(&mut InstanceSpec)) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("gh")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let root = dir.path();
        let script = root.join("robust.sh");
        fs::write(&script, STAND_IN).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let bin = root.join("bin");
        fs::create_dir(&bin).unwrap();
        let mut child_env = vec![
            ("TERM".to_string(), "xterm".to_string()),
            (
                "PIDS_LOG".into(),
                root.join("pids.log").display().to_string(),
            ),
            (
                "ROBUST_PID_FILE".into(),
                root.join("robust.pid").display().to_string(),
            ),
            (
                "CONNECTORS".into(),
                "AssetServiceConnector XInventoryInConnector".into(),
            ),
        ];
        child_env.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut spec = InstanceSpec {
            name: "inventory-3".into(),
            role: "inventory".into(),
            program: "/bin/bash".into(),
            args: vec![script.display().to_string()],
            cwd: bin,
            env: child_env,
            socket: root.join("run/holder.sock"),
            holder_pid_file: root.join("run/holder.pid"),
            console_log: root.join("logs/console.log"),
            log_max_bytes: 1 << 20,
            log_keep: 2,
            scrollback_lines: 500,
            rows: 40,
            cols: 120,
            robust_pid_file: root.join("robust.pid"),
            stop: StopPolicy {
                command: "shutdown".into(),
                command_timeout_ms: 2000,
                sigint_timeout_ms: 2000,
                sigterm_timeout_ms: 2000,
            },
            restart: RestartPolicy {
                backoff_initial_ms: 100,
                backoff_max_ms: 2000,
                stable_after_ms: 10_000,
                crash_loop_count: 5,
                crash_loop_window_ms: 60_000,
            },
            readiness: ReadinessSpec {
                expected_connectors: vec![
                    "AssetServiceConnector".into(),
                    "XInventoryInConnector".into(),
                ],
                prompt: PROMPT.into(),
                probe: None,
                timeout_ms: 5000,
                expected_lines: Vec::new(),
                extra_probes: Vec::new(),
            },
            on_health_change: Vec::new(),
            config_hash: "abc123".into(),
        };
        tweak(&mut spec);
        let spec_path = root.join("holder.json");
        fs::write(&spec_path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        Fixture {
            dir,
            spec_path,
            spec,
        }
    }

    fn launch(&self) -> u32 {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new(exe);
        cmd.args([
            "holder_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER_ENTRY_ENV, &self.spec_path);
        gridctl::holder::launch_command(cmd, &self.spec_path).expect("launch holder")
    }

    fn client(&self) -> HolderClient {
        HolderClient::connect(&self.spec.socket, Duration::from_secs(5)).expect("connect")
    }

    fn status(&self) -> InstanceStatus {
        self.client().status().expect("status")
    }

    fn wait_state(&self, want: InstanceState, within: Duration) -> InstanceStatus {
        wait_for(within, &format!("state {want:?}"), || {
            let s = self.status();
            (s.state == want).then_some(s)
        })
    }

    fn child_pids(&self) -> Vec<i32> {
        fs::read_to_string(self.dir.path().join("pids.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    fn console_log(&self) -> String {
        fs::read_to_string(&self.spec.console_log).unwrap_or_default()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Kill whatever is left, by pid: the holder, then every child ever started.
        if let Some(pid) = fs::read_to_string(&self.spec.holder_pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            kill(pid, libc::SIGKILL);
        }
        for pid in self.child_pids() {
            if alive(pid) {
                kill(-pid, libc::SIGKILL);
                kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Alive and not a zombie.
fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

fn wait_for<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn lifecycle_ready_send_restart_stop() {
    let fx = Fixture::new(&[], |_| {});
    let t0 = Instant::now();
    let holder_pid = fx.launch();
    let ready = fx.wait_state(InstanceState::Ready, secs(5));
    let startup = t0.elapsed();
    eprintln!("launch → ready: {startup:?}");
    // The CPR query was answered (an unanswered one stalls the stand-in 1 s).
    assert!(
        startup < Duration::from_millis(900),
        "startup took {startup:?}"
    );
    let log = wait_for(secs(3), "console log", || {
        let log = fx.console_log();
        log.contains("XInventoryInConnector loaded successfully")
            .then_some(log)
    });
    assert!(log.contains("[TEST] cpr reply: 1;1"), "{log}");
    assert!(!log.contains('\x1b'), "console log must be ANSI stripped");

    assert_eq!(ready.holder_pid, holder_pid);
    assert_eq!(ready.name, "inventory-3");
    assert_eq!(ready.config_hash, "abc123");
    let child = ready.pid.expect("child pid") as i32;
    assert!(alive(child));

    // Owner-only socket in an owner-only directory; pid file written.
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&fx.spec.socket), 0o600);
    assert_eq!(mode(fx.spec.socket.parent().unwrap()), 0o700);
    assert_eq!(
        fs::read_to_string(&fx.spec.holder_pid_file).unwrap().trim(),
        holder_pid.to_string()
    );

    let mut c = fx.client();
    let out = c
        .send_line("show uptime", Duration::from_millis(100), secs(5))
        .unwrap();
    assert_eq!(out, "Time now is now\nServer has been running since then");
    let out = c
        .send_line("frobnicate", Duration::from_millis(100), secs(5))
        .unwrap();
    assert_eq!(out, "Unknown command: frobnicate");

    // A second holder for the same socket is refused and leaves the first alone.
    let err = fx
        .spec_path
        .exists()
        .then(|| {
            let exe = std::env::current_exe().unwrap();
            let mut cmd = Command::new(exe);
            cmd.args([
                "holder_process_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HOLDER_ENTRY_ENV, &fx.spec_path);
            gridctl::holder::launch_command(cmd, &fx.spec_path)
        })
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("another holder"), "{err}");
    assert_eq!(fx.status().state, InstanceState::Ready);

    // Restart: a new child, Ready again.
    let msg = c.restart().unwrap();
    assert!(msg.contains("restarted"), "{msg}");
    let again = fx.wait_state(InstanceState::Ready, secs(5));
    assert_ne!(again.pid, ready.pid);
    assert_eq!((again.restarts, again.crashes), (1, 0));
    assert_eq!(again.last_exit.as_deref(), Some("exit 0"));
    assert!(!alive(child));

    // Stop: graceful via `shutdown`, child exit 0, holder gone, files removed.
    let child = again.pid.unwrap() as i32;
    let msg = fx.client().stop().unwrap();
    assert!(msg.contains("exit 0 after `shutdown`"), "{msg}");
    assert!(!fx.spec.socket.exists(), "socket removed");
    assert!(!fx.spec.holder_pid_file.exists(), "pid file removed");
    assert!(
        !fx.spec.robust_pid_file.exists(),
        "the child removed its own pid file"
    );
    assert!(!alive(child));
    wait_for(secs(3), "holder exit", || {
        (!alive(holder_pid as i32)).then_some(())
    });
    assert_eq!(
        probe_holder(&fx.spec.socket, &fx.spec.holder_pid_file),
        HolderPresence::Absent
    );
}

#[test]
fn stubborn_child_is_killed_within_the_timeouts() {
    let fx = Fixture::new(&[("IGNORE_STOP", "1")], |s| {
        s.stop = StopPolicy {
            command: "shutdown".into(),
            command_timeout_ms: 300,
            sigint_timeout_ms: 300,
            sigterm_timeout_ms: 300,
        };
    });
    let holder_pid = fx.launch();
    let child = fx.wait_state(InstanceState::Ready, secs(5)).pid.unwrap() as i32;
    let t0 = Instant::now();
    let msg = fx.client().stop().unwrap();
    let took = t0.elapsed();
    assert!(msg.contains("signal 9 after SIGKILL"), "{msg}");
    assert!(
        took >= Duration::from_millis(900) && took < secs(4),
        "stop took {took:?}"
    );
    assert!(!alive(child));
    wait_for(secs(3), "holder exit", || {
        (!alive(holder_pid as i32)).then_some(())
    });
}

#[test]
fn crashing_child_backs_off_then_crash_loops() {
    let fx = Fixture::new(&[("CRASH", "1")], |s| {
        s.restart = RestartPolicy {
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
            stable_after_ms: 10_000,
            crash_loop_count: 4,
            crash_loop_window_ms: 30_000,
        };
    });
    fx.launch();
    let mut starts: Vec<u64> = Vec::new();
    let status = wait_for(secs(10), "crash loop", || {
        let s = fx.status();
        if let Some(t) = s.started_at_ms {
            if starts.last() != Some(&t) {
                starts.push(t);
            }
        }
        (s.state == InstanceState::CrashLoop).then_some(s)
    });
    // Four crashes, three automatic restarts between them: none by an operator.
    assert_eq!((status.crashes, status.restarts), (4, 0));
    assert_eq!(status.last_exit.as_deref(), Some("exit 1"));
    assert!(
        status
            .last_lines
            .iter()
            .any(|l| l.contains("about to crash")),
        "{:?}",
        status.last_lines
    );
    assert!(
        status.detail.contains("4 crashes within 30s"),
        "{}",
        status.detail
    );
    assert_eq!(starts.len(), 4, "every start observed: {starts:?}");
    let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[0] >= 100 && gaps[1] >= 200 && gaps[2] >= 400,
        "{gaps:?}"
    );
    assert!(
        gaps[0] < gaps[1] && gaps[1] < gaps[2],
        "delays must grow: {gaps:?}"
    );
    assert_eq!(fx.child_pids().len(), 4);

    // `restart` clears the crash loop (and starts the still-crashing child again).
    let mut c = fx.client();
    c.restart().unwrap();
    wait_for(secs(3), "a fifth start", || {
        (fx.child_pids().len() == 5).then_some(())
    });
    fx.client().stop().unwrap();
}

#[test]
fn send_stops_at_a_question_and_types_answers() {
    let fx = Fixture::new(&[], |_| {});
    fx.launch();
    fx.wait_state(InstanceState::Ready, secs(5));
    let mut c = fx.client();
    let quiet = Duration::from_millis(100);

    // No answer: back at once (well before the timeout) with the question.
    let t0 = Instant::now();
    let asked = c.send_lines("ask", &[], quiet, secs(20)).unwrap();
    assert!(t0.elapsed() < secs(5), "{:?}", t0.elapsed());
    assert_eq!(
        asked,
        SendReply::Question {
            text: String::new(),
            question: "First name [Default]:".into()
        }
    );
    // The question stays open: the next send answers it, its answer the next question.
    let answers = ["pw".to_string()];
    let done = c.send_lines("Ada", &answers, quiet, secs(20)).unwrap();
    assert_eq!(
        done,
        SendReply::Output {
            text: "Password:\ncreated Ada".into(),
            unused_answers: 0
        }
    );
    // Answers left when the prompt is back are never typed (they would run as commands).
    let extra = ["".to_string(), "pw".to_string(), "show uptime".to_string()];
    match c.send_lines("ask", &extra, quiet, secs(20)).unwrap() {
        SendReply::Output {
            text,
            unused_answers,
        } => {
            assert_eq!(unused_answers, 1, "{text}");
            assert!(text.ends_with("created Default"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    let out = c.send_line("show uptime", quiet, secs(5)).unwrap();
    assert!(out.starts_with("Time now is now"), "{out}");

    // The log has lines as shown: the redrawn prompt line once, the question with its
    // answer, no pending prompt.
    c.send_line("redraw", quiet, secs(5)).unwrap();
    let log = wait_for(secs(5), "the redraw in the console log", || {
        let log = fx.console_log();
        log.contains("R.O.B.U.S.T.# ab\n").then_some(log)
    });
    assert!(!log.contains("R.O.B.U.S.T.# aR.O.B.U.S.T."), "{log}");
    assert!(log.contains("\nFirst name [Default]: Ada\n"), "{log}");
    assert!(!log.ends_with("R.O.B.U.S.T.# "), "{log}");
    c.stop().unwrap();
}

#[test]
fn failed_connector_is_degraded() {
    let fx = Fixture::new(&[("FAIL", "GridInfoServerInConnector")], |_| {});
    fx.launch();
    let s = fx.wait_state(InstanceState::Degraded, secs(5));
    assert!(
        s.detail
            .contains("Failed to load OpenSim.Server.Handlers.dll:GridInfoServerInConnector"),
        "{}",
        s.detail
    );
    fx.client().stop().unwrap();
}

/// The real console shows ERROR only as red text (robust.md §6): such a line during
/// startup degrades, and the detail is the line once (its `HH:MM:SS - ` came in an
/// earlier read and was once shown twice); the stale-PID line alone stays harmless.
#[test]
fn red_error_line_during_startup_is_degraded() {
    let fx = Fixture::new(&[("RED", "Could not open the database")], |_| {});
    fx.launch();
    let s = fx.wait_state(InstanceState::Degraded, secs(5));
    let line = "12:00:00 - [SERVICE BASE]: Could not open the database";
    assert_eq!(s.detail, line);
    fx.client().stop().unwrap();
    assert_eq!(
        fx.console_log().matches(line).count(),
        1,
        "{}",
        fx.console_log()
    );
    assert!(!fx.console_log().contains("12:00:00 - 12:00:00"));

    let fx = Fixture::new(&[("STALE_PID", "1")], |_| {});
    fx.launch();
    let s = fx.wait_state(InstanceState::Ready, secs(5));
    assert_eq!(s.detail, "");
    fx.client().stop().unwrap();
}

/// File modes opened up on purpose (as a shared or loosened state directory would be):
/// the peer-credential check alone keeps another uid out, with the reason on both ends.
#[test]
fn other_uid_is_refused_by_peer_credentials() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to run a client as `nobody`");
        return;
    }
    let fx = Fixture::new(&[], |_| {});
    fx.launch();
    fx.wait_state(InstanceState::Ready, secs(5));
    let root = fx.dir.path();
    for (path, mode) in [
        (root.to_path_buf(), 0o755),
        (fx.spec.socket.parent().unwrap().to_path_buf(), 0o755),
        (fx.spec.socket.clone(), 0o666),
    ] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "peer_client_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("GRIDCTL_TEST_PEER_SOCKET", &fx.spec.socket)
    .stdout(std::process::Stdio::piped());
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    std::os::unix::process::CommandExt::gid(&mut cmd, 65534);
    let mut child = cmd.spawn().expect("spawn the client as nobody");
    let pid = child.id() as i32;
    let deadline = Instant::now() + secs(20);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            // Not reaped yet, so the pid is still this child's.
            let _ = child.kill();
            let _ = child.wait();
            panic!("the client run as nobody did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    // libtest prints `test peer_client_entry ... ` before the line.
    let line = out
        .lines()
        .find_map(|l| l.find("PEER ").map(|i| &l[i..]))
        .unwrap_or_default();
    let holder_log = fs::read_to_string(root.join("logs/holder.log")).unwrap_or_default();
    assert_eq!(
        line,
        "PEER uid 65534 ERR permission denied: the connection comes from uid 65534 \
         (pid PID); this holder runs as uid 0 and accepts only that uid or root"
            .replace("PID", &pid.to_string()),
        "{out}"
    );
    assert!(
        holder_log.contains(&format!(
            "refused a connection: permission denied: the connection comes from uid 65534 (pid {pid})"
        )),
        "{holder_log}"
    );
    // The holder's own uid still gets in.
    assert_eq!(fx.status().state, InstanceState::Ready);
    fx.client().stop().unwrap();
}

#[test]
fn missing_connector_times_out_degraded() {
    let fx = Fixture::new(&[], |s| {
        s.readiness
            .expected_connectors
            .push("GatekeeperServiceInConnector".into());
        s.readiness.timeout_ms = 500;
    });
    fx.launch();
    let s = fx.wait_state(InstanceState::Degraded, secs(5));
    assert_eq!(
        s.detail,
        "not ready after 500ms: connectors not loaded: GatekeeperServiceInConnector"
    );
    fx.client().stop().unwrap();
}

#[test]
fn killed_holder_leaves_stale_files_and_its_child_dies() {
    let fx = Fixture::new(&[], |_| {});
    let holder_pid = fx.launch() as i32;
    let child = fx.wait_state(InstanceState::Ready, secs(5)).pid.unwrap() as i32;
    kill(holder_pid, libc::SIGKILL);
    wait_for(secs(3), "holder death", || {
        (!alive(holder_pid)).then_some(())
    });
    // The master closed with the holder: the child got SIGHUP, as Robust would.
    wait_for(secs(3), "child death", || (!alive(child)).then_some(()));
    assert_eq!(
        probe_holder(&fx.spec.socket, &fx.spec.holder_pid_file),
        HolderPresence::Stale
    );
    assert!(clean_stale(&fx.spec.socket, &fx.spec.holder_pid_file).unwrap());
    assert!(!fx.spec.socket.exists() && !fx.spec.holder_pid_file.exists());
    assert_eq!(
        probe_holder(&fx.spec.socket, &fx.spec.holder_pid_file),
        HolderPresence::Absent
    );
    // A new holder can take over the same paths.
    fx.launch();
    fx.wait_state(InstanceState::Ready, secs(5));
    fx.client().stop().unwrap();
}

/// A raw protocol connection, for attach tests.
struct Raw(UnixStream);

impl Raw {
    fn connect(socket: &Path) -> Raw {
        let mut s = UnixStream::connect(socket).unwrap();
        s.set_read_timeout(Some(secs(5))).unwrap();
        write_control(
            &mut s,
            &ClientMessage::Hello {
                version: PROTOCOL_VERSION,
            },
        )
        .unwrap();
        assert!(matches!(Raw::msg(&mut s), HolderMessage::Welcome { .. }));
        Raw(s)
    }

    fn msg(s: &mut UnixStream) -> HolderMessage {
        let (kind, payload) = read_frame(s).unwrap().unwrap();
        assert_eq!(kind, KIND_CONTROL);
        decode_control(&payload).unwrap()
    }

    fn attach(socket: &Path, read_only: bool) -> Raw {
        Raw::attach_sized(socket, read_only, 30, 100)
    }

    fn attach_sized(socket: &Path, read_only: bool, rows: u16, cols: u16) -> Raw {
        let mut r = Raw::connect(socket);
        write_control(
            &mut r.0,
            &ClientMessage::Attach {
                read_only,
                rows,
                cols,
            },
        )
        .unwrap();
        assert!(matches!(Raw::msg(&mut r.0), HolderMessage::Attached { .. }));
        r
    }

    /// Reads data frames until `needle` shows up in the accumulated text.
    fn read_until(&mut self, needle: &str) -> String {
        let mut seen = Vec::new();
        let deadline = Instant::now() + secs(5);
        while Instant::now() < deadline {
            match read_frame(&mut self.0).unwrap() {
                Some((KIND_DATA, bytes)) => seen.extend_from_slice(&bytes),
                Some(_) => {}
                None => break,
            }
            let text = String::from_utf8_lossy(&seen);
            if text.contains(needle) {
                return text.into_owned();
            }
        }
        panic!(
            "`{needle}` not seen in {:?}",
            String::from_utf8_lossy(&seen)
        );
    }
}

#[test]
fn attach_replays_echoes_and_read_only_is_ignored() {
    let fx = Fixture::new(&[], |_| {});
    fx.launch();
    fx.wait_state(InstanceState::Ready, secs(5));

    let mut rw = Raw::attach(&fx.spec.socket, false);
    let replay = rw.read_until("R.O.B.U.S.T.");
    assert!(
        replay.contains("XInventoryInConnector loaded successfully"),
        "{replay:?}"
    );
    assert_eq!(fx.status().viewers, 1);

    write_frame(&mut rw.0, KIND_DATA, b"show uptime\r").unwrap();
    let out = rw.read_until("Server has been running since then");
    assert!(
        out.contains("show uptime"),
        "typed input is echoed: {out:?}"
    );

    // The read-only viewer sees output but its keystrokes go nowhere.
    let mut ro = Raw::attach(&fx.spec.socket, true);
    ro.read_until("Server has been running since then");
    write_frame(&mut ro.0, KIND_DATA, b"from-read-only\r").unwrap();
    write_frame(&mut rw.0, KIND_DATA, b"from-read-write\r").unwrap();
    let out = rw.read_until("Unknown command: from-read-write");
    assert!(!out.contains("from-read-only"), "{out:?}");
    assert!(!fx.console_log().contains("from-read-only"));

    // Resize from the read-write viewer reaches the child's PTY.
    write_control(&mut rw.0, &ClientMessage::Resize { rows: 33, cols: 99 }).unwrap();
    let mut c = fx.client();
    wait_for(secs(3), "resize", || {
        let out = c
            .send_line("size", Duration::from_millis(50), secs(2))
            .unwrap();
        (out == "33 99").then_some(())
    });
    drop(ro);
    drop(rw);
    wait_for(secs(3), "viewers gone", || {
        (fx.status().viewers == 0).then_some(())
    });
    fx.client().stop().unwrap();
}

#[test]
fn stuck_viewer_never_slows_the_console() {
    let fx = Fixture::new(&[], |_| {});
    fx.launch();
    fx.wait_state(InstanceState::Ready, secs(5));
    // Attach and never read again.
    let _stuck = Raw::attach(&fx.spec.socket, false);
    let mut c = fx.client();
    let t0 = Instant::now();
    let out = c
        .send_line("spam 60000", Duration::from_millis(200), secs(15))
        .unwrap();
    let took = t0.elapsed();
    eprintln!("60000 lines (~4 MB) with a stuck viewer: {took:?}");
    assert!(
        out.trim_end()
            .ends_with("spam line 60000 .............................................."),
        "output ends with the last line"
    );
    assert!(took < secs(12), "took {took:?}");
    let out = c
        .send_line("show uptime", Duration::from_millis(100), secs(5))
        .unwrap();
    assert_eq!(out, "Time now is now\nServer has been running since then");
    // The stuck viewer is let go once its socket stalls, never waited for.
    wait_for(secs(5), "the stuck viewer to be dropped", || {
        (fx.status().viewers == 0).then_some(())
    });
    fx.client().stop().unwrap();
}

#[test]
fn slow_viewer_stays_attached_and_gets_a_redraw() {
    let fx = Fixture::new(&[], |_| {});
    fx.launch();
    fx.wait_state(InstanceState::Ready, secs(5));
    // A viewer slower than the flood, but alive: it reads a frame, then naps.
    let mut slow = Raw::attach(&fx.spec.socket, true);
    slow.read_until("R.O.B.U.S.T.");
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let deadline = Instant::now() + secs(20);
        let mut caught_up = false;
        while Instant::now() < deadline {
            match read_frame(&mut slow.0) {
                Ok(Some((KIND_DATA, bytes))) => seen.extend_from_slice(&bytes),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
            let tail =
                String::from_utf8_lossy(&seen[seen.len().saturating_sub(8192)..]).into_owned();
            if tail.contains("spam line 60000") && tail.contains("R.O.B.U.S.T.") {
                caught_up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // The connection goes back with the result: it must stay open for the checks.
        (caught_up, seen.len(), slow)
    });
    let mut c = fx.client();
    c.send_line("spam 60000", Duration::from_millis(200), secs(15))
        .unwrap();
    let (caught_up, bytes, slow) = reader.join().unwrap();
    assert!(
        caught_up,
        "the slow viewer never saw the end of the flood ({bytes} bytes read)"
    );
    // It was never disconnected: skipped output was replaced by a redraw.
    let status = fx.status();
    assert_eq!(status.viewers, 1, "{status:?}");
    eprintln!("slow viewer read {bytes} bytes of a ~4 MB flood");
    drop(slow);
    fx.client().stop().unwrap();
}

#[test]
fn version_mismatch_is_refused_with_both_versions() {
    let fx = Fixture::new(&[], |_| {});
    fx.launch();
    let mut s = UnixStream::connect(&fx.spec.socket).unwrap();
    s.set_read_timeout(Some(secs(5))).unwrap();
    write_control(&mut s, &ClientMessage::Hello { version: 99 }).unwrap();
    match Raw::msg(&mut s) {
        HolderMessage::Error { message } => {
            assert!(
                message.contains("99") && message.contains(&PROTOCOL_VERSION.to_string()),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Garbage does not hurt the holder.
    let mut s = UnixStream::connect(&fx.spec.socket).unwrap();
    use std::io::Write;
    let _ = s.write_all(&[0, 0, 0, 0, 3, b'x', b'y', b'z']);
    drop(s);
    assert_eq!(
        fx.wait_state(InstanceState::Ready, secs(5)).name,
        "inventory-3"
    );
    fx.client().stop().unwrap();
}

const ATTACH_ENTRY_ENV: &str = "GRIDCTL_TEST_ATTACH_SOCKET";

/// Not a test: runs `attach()` when this binary is started as an attach driver.
#[test]
fn attach_driver_entry() {
    if let Ok(socket) = std::env::var(ATTACH_ENTRY_ENV) {
        let opts = gridctl::attach::AttachOptions::default();
        let end = gridctl::attach::attach(Path::new(&socket), "inventory-3", &opts);
        std::process::exit(match end {
            Ok(gridctl::attach::AttachEnd::Detached) => 0,
            Ok(_) => 2,
            Err(_) => 3,
        });
    }
}

#[test]
fn attach_on_a_real_terminal_passes_bytes_and_restores_it() {
    use nix::sys::termios::{tcgetattr, LocalFlags};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    let fx = Fixture::new(&[], |_| {});
    fx.launch();
    fx.wait_state(InstanceState::Ready, secs(5));

    let ws = nix::pty::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(&ws, None).unwrap();
    let before = tcgetattr(&pty.slave).unwrap();
    assert!(before
        .local_flags
        .contains(LocalFlags::ICANON | LocalFlags::ECHO));
    let driver = Command::new(std::env::current_exe().unwrap())
        .args([
            "attach_driver_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ATTACH_ENTRY_ENV, &fx.spec.socket)
        .stdin(pty.slave.try_clone().unwrap())
        .stdout(pty.slave.try_clone().unwrap())
        .stderr(pty.slave.try_clone().unwrap())
        .spawn()
        .unwrap();
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // Killed and reaped on every path; `kill` after a reap is a no-op in std.
    let mut driver = KillOnDrop(driver);

    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut master = fs::File::from(pty.master);
    let mut writer = master.try_clone().unwrap();
    {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
    }
    let wait_text = |needle: &str| {
        wait_for(secs(5), needle, || {
            let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
            text.contains(needle).then_some(())
        })
    };
    wait_text("[gridctl] attached to inventory-3 — detach with Ctrl-]");
    wait_text("XInventoryInConnector loaded successfully");
    wait_for(secs(5), "raw mode", || {
        let t = tcgetattr(&pty.slave).unwrap();
        (!t.local_flags
            .intersects(LocalFlags::ICANON | LocalFlags::ECHO))
        .then_some(())
    });
    writer.write_all(b"show uptime\r").unwrap();
    wait_text("Server has been running since then");
    writer.write_all(&[0x1d]).unwrap();
    let status = wait_for(secs(5), "driver exit", || driver.0.try_wait().unwrap());
    assert_eq!(status.code(), Some(0), "detached cleanly");
    wait_text("[gridctl] detached from inventory-3 (still running)");
    let after = tcgetattr(&pty.slave).unwrap();
    assert_eq!(after.local_flags, before.local_flags, "terminal restored");
    assert_eq!(after.input_flags, before.input_flags);
    assert_eq!(fx.status().state, InstanceState::Ready);
    fx.client().stop().unwrap();
}

/// Resident memory of `pid` in bytes (VmRSS).
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// Issue 19.1: a client's attach or resize of 65535 × 65535 grew a holder to 23 GB (the
/// kernel killed it with Robust inside). Every size is clamped to the console's bounds.
#[test]
fn a_huge_attach_or_resize_is_clamped_and_memory_stays_bounded() {
    let fx = Fixture::new(&[], |_| {});
    fx.launch();
    fx.wait_state(InstanceState::Ready, secs(5));
    let holder = fx.status().holder_pid;
    let before = rss(holder);
    let mut rw = Raw::attach_sized(&fx.spec.socket, false, 65535, 65535);
    rw.read_until("R.O.B.U.S.T.");
    let mut c = fx.client();
    wait_for(secs(3), "the clamped size at the PTY", || {
        let out = c
            .send_line("size", Duration::from_millis(50), secs(2))
            .unwrap();
        (out == "500 1000").then_some(())
    });
    write_control(
        &mut rw.0,
        &ClientMessage::Resize {
            rows: 65535,
            cols: 65535,
        },
    )
    .unwrap();
    write_control(&mut rw.0, &ClientMessage::Resize { rows: 0, cols: 0 }).unwrap();
    write_control(
        &mut rw.0,
        &ClientMessage::Resize {
            rows: 4000,
            cols: 4000,
        },
    )
    .unwrap();
    // The holder still answers, and what it holds stays far below what was asked for.
    assert_eq!(fx.status().state, InstanceState::Ready);
    let peak = rss(holder);
    eprintln!(
        "holder RSS {} MB before, {} MB after a 65535x65535 attach and resizes",
        before / (1 << 20),
        peak / (1 << 20)
    );
    assert!(peak < 200 << 20, "holder grew to {} MB", peak >> 20);
    drop(rw);
    fx.client().stop().unwrap();
}
