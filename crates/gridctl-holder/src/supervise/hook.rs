//! The health hook: when the child crashes, and when the child restarted after a crash
//! is ready again, the holder runs the spec's `on_health_change` (gridctl's hidden
//! `nginx sync`), so a crashed copy leaves its nginx upstream at once instead of at the
//! next command. Spawn and forget: the command takes the grid lock and renders on its
//! own; the holder only starts it (detached, output to the holder log) and reaps it.

use crate::hub::{HolderLog, Hub};
use crate::protocol::InstanceState;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// Runs the hook now, if the spec has one; `why` goes to the holder log.
pub(super) fn run(hub: &Hub, why: &str) {
    let spec = hub.spec();
    if spec.on_health_change.is_empty() {
        return;
    }
    let exe = cli_program();
    let log = || {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(HolderLog::path_for(&spec))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    };
    let spawned = Command::new(exe)
        .args(&spec.on_health_change)
        .stdin(Stdio::null())
        .stdout(log())
        .stderr(log())
        // Its own group: a signal meant for the holder does not cut a render short.
        .process_group(0)
        .spawn();
    match spawned {
        Ok(mut child) => {
            hub.holder_log
                .log(&format!("{why}: nginx sync started (pid {})", child.id()));
            // Reaped on a plain thread: the holder never waits for it.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        Err(e) => hub
            .holder_log
            .log(&format!("{why}: cannot start nginx sync: {e}")),
    }
}

/// The `gridctl` CLI the hook runs: the one installed next to this holder binary
/// (`holder::launch` starts `gridctl-holder` from the CLI's own directory, so they are
/// one install). The spec does not carry the path: it stays the same on every machine.
fn cli_program() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    match exe.parent() {
        Some(dir) => dir.join("gridctl"),
        None => PathBuf::from("gridctl"),
    }
}

/// After a crash restart: runs the hook once the new child is ready (nothing if it
/// settles otherwise — it is out already — or crashes again, which runs the hook anew).
pub(super) fn when_ready(hub: Arc<Hub>) {
    if hub.spec().on_health_change.is_empty() {
        return;
    }
    tokio::spawn(async move {
        loop {
            // Readiness is a state, not an event the hub pushes: poll it briefly.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let state = hub.lock().state;
            match state {
                InstanceState::Starting => continue,
                InstanceState::Ready => return run(&hub, "ready after a crash"),
                _ => return,
            }
        }
    });
}
