//! Support for `tests/dashboard.rs`: a scratch grid of fake Robust instances on free
//! loopback ports, the real `gridctl` run with deadlines, and `gridctl top` on a PTY
//! this test owns, its screen modelled with vt100.
//!
//! Cleanup is by pid only, and only of processes this test started: [`Grid`]'s drop
//! runs `gridctl down`, then SIGKILLs every pid it recorded and every live process
//! whose command line names this test's (unique) scratch directory.
#![allow(dead_code)] // the idle-cost measurement uses a few helpers the e2e test does not

pub use crate::common::grid::{row_pids, Row};

use crate::common;
use crate::common::grid::{scratch_dir, write_manifest, FAKE_BIN, FAKE_ROBUST, GRIDCTL};
use crate::common::ports::reserve_ports;
use crate::common::procs::Pids;
use crate::common::run::run_to_end;
use portable_pty::CommandBuilder;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// core-1 (base, base+1), `assets` asset copies from base+2, inventory-1 at base+assets+10
/// (room for scaling asset up).
pub fn manifest(base: u16, assets: u16) -> String {
    format!(
        r#"[grid]
name = "Dashboard Test Grid"
domain = "grid.localhost"

[robust]
bin_dir = "{FAKE_BIN}"
command = ["{FAKE_ROBUST}", "Robust.dll"]

[database]
provider = "mysql"
connection = "x"

[supervise]
ready_timeout = "15s"

[roles.core]
services = ["grid", "gridinfo", "auth", "useraccount", "avatar", "griduser", "presence", "friends", "login"]
port = {base}
public_port = {core_pub}

[roles.asset]
services = ["asset"]
instances = {assets}
port = {asset}

[roles.inventory]
services = ["inventory"]
port = {inv}
"#,
        core_pub = base + 1,
        asset = base + 2,
        inv = base + assets + 10,
    )
}

pub struct Grid {
    pub dir: PathBuf,
    pub manifest: PathBuf,
    /// Pids seen; every process this test starts names `<dir>/` on its command line.
    pids: Pids,
    _tmp: tempfile::TempDir,
}

impl Grid {
    pub fn new(assets: u16) -> Grid {
        let (tmp, dir) = scratch_dir("gridctl-top-", None);
        let base = reserve_ports(assets + 12);
        let manifest = write_manifest(&dir, &self::manifest(base, assets));
        Grid {
            pids: Pids::new(format!("{}/", dir.display())),
            dir,
            manifest,
            _tmp: tmp,
        }
    }

    /// Runs `gridctl -f grid.toml ARGS` to completion (killed after `timeout`): (exit code, stdout+stderr).
    pub fn run(&self, args: &[&str], timeout: Duration) -> (Option<i32>, String) {
        let mut cmd = Command::new(GRIDCTL);
        cmd.arg("-f")
            .arg(&self.manifest)
            .args(args)
            .current_dir(&self.dir)
            .env_remove("GRIDCTL_FILE");
        let out = run_to_end(cmd, timeout, |pid| self.record(pid));
        (out.code, out.stdout + &out.stderr)
    }

    pub fn up(&self) {
        let (code, out) = self.run(&["up", "--wait"], Duration::from_secs(30));
        assert_eq!(code, Some(0), "`gridctl up --wait` failed:\n{out}");
        self.status();
    }

    /// `status --json`; every pid in it is recorded for cleanup.
    pub fn status(&self) -> Vec<Row> {
        let (code, out) = self.run(&["status", "--json"], Duration::from_secs(20));
        assert_eq!(code, Some(0), "status failed:\n{out}");
        let rows: Vec<Row> =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json ({e}):\n{out}"));
        for pid in rows.iter().flat_map(row_pids) {
            self.record(pid);
        }
        rows
    }

    pub fn record(&self, pid: u32) {
        self.pids.record(pid);
    }

    /// `gridctl -f grid.toml ARGS` on a new `rows`×`cols` PTY owned by this test.
    pub fn pty(&self, args: &[&str], rows: u16, cols: u16, env: &[(&str, &str)]) -> Pty {
        let mut cmd = CommandBuilder::new(GRIDCTL);
        cmd.arg("-f");
        cmd.arg(&self.manifest);
        cmd.args(args);
        cmd.cwd(&self.dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("GRIDCTL_FILE");
        cmd.env_remove("GRIDCTL_DETACH_KEY");
        cmd.env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Pty(common::pty::Pty::spawn(cmd, rows, cols, |pid| {
            self.record(pid)
        }))
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        let _ = self.run(&["down"], Duration::from_secs(20));
        self.pids.kill_all();
    }
}

/// `gridctl` on a PTY owned by the test (see [`common::pty::Pty`]); killed by pid when
/// dropped.
pub struct Pty(common::pty::Pty);

impl std::ops::Deref for Pty {
    type Target = common::pty::Pty;
    fn deref(&self) -> &common::pty::Pty {
        &self.0
    }
}

impl std::ops::DerefMut for Pty {
    fn deref_mut(&mut self) -> &mut common::pty::Pty {
        &mut self.0
    }
}

impl Pty {
    pub fn keys(&mut self, bytes: &[u8]) {
        self.0.type_bytes(bytes);
    }

    /// Waits for exit, reading output meanwhile and then up to EOF (so the screen holds
    /// everything the process wrote); the exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<u32> {
        let deadline = Instant::now() + timeout;
        let status = self.0.wait_exited(deadline)?;
        // The last bytes (leaving the alternate screen) may still be in flight:
        // read until EOF or a quiet moment.
        self.0
            .drain_until_quiet(Duration::from_millis(300), deadline);
        Some(status.exit_code())
    }
}
