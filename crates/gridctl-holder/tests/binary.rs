//! The `gridctl-holder` binary itself: its usage error, and a real holder started from
//! it that refuses a client of another protocol version and welcomes its own.
//! (Also what makes `cargo test` build the binary the CLI's integration tests launch.)

use gridctl_holder::holder::launch_command;
use gridctl_holder::protocol::{
    decode_control, read_frame, write_control, ClientMessage, HolderMessage, PROTOCOL_VERSION,
};
use gridctl_holder::spec::{InstanceSpec, ReadinessSpec, RestartPolicy, StopPolicy};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const HOLDER: &str = env!("CARGO_BIN_EXE_gridctl-holder");

#[test]
fn without_a_spec_it_prints_its_usage_and_exits_2() {
    let out = Command::new(HOLDER).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("usage: gridctl-holder --spec"), "{err}");
}

fn spec(root: &Path) -> InstanceSpec {
    InstanceSpec {
        name: "asset-1".into(),
        role: "asset".into(),
        program: "/bin/cat".into(),
        args: Vec::new(),
        cwd: root.into(),
        env: vec![("TERM".into(), "xterm".into())],
        socket: root.join("run/holder.sock"),
        holder_pid_file: root.join("run/holder.pid"),
        console_log: root.join("logs/console.log"),
        log_max_bytes: 1 << 20,
        log_keep: 1,
        scrollback_lines: 100,
        rows: 24,
        cols: 80,
        robust_pid_file: root.join("robust.pid"),
        stop: StopPolicy {
            command: "shutdown".into(),
            command_timeout_ms: 200,
            sigint_timeout_ms: 1000,
            sigterm_timeout_ms: 1000,
        },
        restart: RestartPolicy {
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
            stable_after_ms: 10_000,
            crash_loop_count: 5,
            crash_loop_window_ms: 60_000,
        },
        readiness: ReadinessSpec {
            expected_connectors: Vec::new(),
            prompt: "# ".into(),
            probe: None,
            timeout_ms: 5000,
            expected_lines: Vec::new(),
            extra_probes: Vec::new(),
        },
        config_hash: "test".into(),
        on_health_change: Vec::new(),
    }
}

fn hello(socket: &Path, version: u32) -> HolderMessage {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write_control(&mut s, &ClientMessage::Hello { version }).unwrap();
    let (_, payload) = read_frame(&mut s).unwrap().expect("a reply");
    let reply = decode_control::<HolderMessage>(&payload).unwrap();
    if matches!(reply, HolderMessage::Welcome { .. }) && version == PROTOCOL_VERSION {
        write_control(&mut s, &ClientMessage::Stop).unwrap();
        let (_, payload) = read_frame(&mut s).unwrap().expect("stop reply");
        let done = decode_control::<HolderMessage>(&payload).unwrap();
        assert!(matches!(done, HolderMessage::Done { .. }), "{done:?}");
    }
    reply
}

#[test]
fn the_binary_refuses_another_protocol_version_and_welcomes_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path());
    let spec_path = dir.path().join("holder.json");
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let mut cmd = Command::new(HOLDER);
    cmd.arg("--spec").arg(&spec_path);
    let pid = launch_command(cmd, &spec_path).expect("launch the holder binary");
    assert!(pid > 0);

    match hello(&spec.socket, PROTOCOL_VERSION + 1) {
        HolderMessage::Error { message } => assert!(
            message.contains(&format!("client speaks version {}", PROTOCOL_VERSION + 1))
                && message.contains(&format!("this holder speaks version {PROTOCOL_VERSION}")),
            "{message}"
        ),
        other => panic!("a client of another version was not refused: {other:?}"),
    }
    match hello(&spec.socket, PROTOCOL_VERSION) {
        HolderMessage::Welcome {
            version,
            holder_pid,
        } => {
            assert_eq!((version, holder_pid), (PROTOCOL_VERSION, pid));
        }
        other => panic!("{other:?}"),
    }
    // After `Stop` the holder removes its socket and exits.
    for _ in 0..100 {
        if !spec.socket.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the holder kept its socket after `Stop`");
}
