//! Support for the CLI suites (cli_runtime, console_log, dry_run, progress, real_parity):
//! a scratch grid per test (manifest, free
//! loopback ports), the real `gridctl` binary run with deadlines, background CLI
//! processes, a real PTY session for `attach`, and process accounting through /proc.
//!
//! Cleanup is by pid only, and only of processes this test started: the [`Grid`]
//! drop runs `gridctl down`, then SIGKILLs every pid it recorded from `status` and
//! every process whose command line names this test's (unique) scratch directory.
#![allow(dead_code, unused_imports)] // not every helper is used by every test crate

pub use crate::common::grid::{row, row_pids, Row, FAKE_ROBUST, GRIDCTL};
pub use crate::common::ports::reserve_ports;
pub use crate::common::procs::alive;
pub use crate::common::run::Out;
pub use crate::common::wait::wait_for;

use crate::common::grid::{gridctl_holder, scratch_dir, write_manifest, FAKE_BIN};
use crate::common::procs::Pids;
use crate::common::pty::Pty;
use crate::common::run::run_to_end;
use crate::common::wait::wait_child;
use portable_pty::CommandBuilder;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

pub const DB_SECRET: &str = "Server=db.test;Database=robust;User=robust;Password=runtime-secret";
pub const PROMPT: &str = "R.O.B.U.S.T.# ";

/// Every `gridctl` run is bounded by this unless the test says otherwise.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(20);

// --- manifests ----------------------------------------------------------------------

/// The standard test grid: core-1 (ports base, base+1), asset-1/asset-2 (base+2..),
/// inventory-1 (base+4). `supervise` lines go into `[supervise]`; `extra` is appended
/// (extra roles use ports from base+6 on).
pub fn manifest(base: u16, supervise: &str, extra: &str) -> String {
    format!(
        r#"[grid]
name = "Runtime Test Grid"
domain = "grid.localhost"

[robust]
bin_dir = "{bin}"
command = ["{fake}", "Robust.dll"]

[database]
provider = "mysql"
connection = "env:ROBUST_DB"

[supervise]
ready_timeout = "15s"
{supervise}

[roles.core]
services = ["grid", "gridinfo", "auth", "useraccount", "avatar", "griduser", "presence",
            "friends", "login"]
port = {core}
public_port = {core_pub}

[roles.asset]
services = ["asset"]
instances = 2
port = {asset}

[roles.inventory]
services = ["inventory"]
port = {inv}

{extra}
"#,
        bin = FAKE_BIN,
        fake = FAKE_ROBUST,
        core = base,
        core_pub = base + 1,
        asset = base + 2,
        inv = base + 4,
    )
}

pub const STANDARD: &[&str] = &["core-1", "asset-1", "asset-2", "inventory-1"];

// --- command output -----------------------------------------------------------------

fn read_all_in_thread(r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut r = r;
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

// --- the grid -----------------------------------------------------------------------

/// A link (or copy) of `src` in `dir`: other work rebuilding `target/` while the tests
/// run replaces the binaries there, and a CLI whose own file was replaced cannot start
/// holders (`current_exe` then names a deleted file). The link keeps this test's
/// binaries, the very ones cargo built, in place for its whole life.
fn pinned(src: &str, dir: &Path) -> PathBuf {
    let name = Path::new(src).file_name().expect("binary name");
    let dst = dir.join(name);
    if std::fs::hard_link(src, &dst).is_ok() || std::fs::copy(src, &dst).is_ok() {
        dst
    } else {
        PathBuf::from(src)
    }
}

pub struct Grid {
    pub dir: PathBuf,
    /// This test's `gridctl` and fake Robust (see [`pinned`]).
    pub gridctl: PathBuf,
    pub fake: PathBuf,
    pub manifest: PathBuf,
    pub state: PathBuf,
    pub base: u16,
    /// Pids seen; every process this test starts names `<dir>/` on its command line.
    pids: Pids,
    // Last: removed after the processes are gone.
    _tmp: tempfile::TempDir,
}

impl Grid {
    /// A scratch directory with `grid.toml` = `make(base port)`.
    pub fn new(ports: u16, make: impl FnOnce(u16) -> String) -> Grid {
        let (tmp, dir) = scratch_dir("gridctl-rt-", None);
        let base = reserve_ports(ports);
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).expect("mkdir bin");
        let gridctl = pinned(GRIDCTL, &bin);
        // Where the pinned CLI looks for it (and the holder for the CLI it runs on a crash).
        pinned(&gridctl_holder().display().to_string(), &bin);
        let fake = pinned(FAKE_ROBUST, &bin);
        let text = make(base).replace(FAKE_ROBUST, &fake.display().to_string());
        let manifest = write_manifest(&dir, &text);
        Grid {
            gridctl,
            fake,
            pids: Pids::new(format!("{}/", dir.display())),
            state: dir.join(".gridctl"),
            dir,
            manifest,
            base,
            _tmp: tmp,
        }
    }

    /// The standard grid with extra `[supervise]` lines and extra TOML.
    pub fn standard(supervise: &str, extra: &str) -> Grid {
        Grid::new(16, |base| manifest(base, supervise, extra))
    }

    pub fn instance_dir(&self, name: &str) -> PathBuf {
        self.state.join("instances").join(name)
    }

    pub fn socket(&self, name: &str) -> PathBuf {
        self.state.join("sock").join(name)
    }

    pub fn console_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.instance_dir(name).join("console.log")).unwrap_or_default()
    }

    pub fn holder_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.instance_dir(name).join("holder.log")).unwrap_or_default()
    }

    /// `gridctl -f <abs manifest> ARGS` in the grid's directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.gridctl);
        cmd.arg("-f")
            .arg(&self.manifest)
            .args(args)
            .current_dir(&self.dir)
            .env("ROBUST_DB", DB_SECRET)
            .env_remove("GRIDCTL_FILE")
            .env_remove("GRIDCTL_DETACH_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `gridctl ARGS` to completion (killed after `timeout`).
    pub fn run_with(&self, args: &[&str], timeout: Duration) -> Out {
        run_to_end(self.command(args), timeout, |pid| self.record(pid))
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, CMD_TIMEOUT)
    }

    /// Runs and asserts exit 0.
    pub fn ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert!(out.ok(), "`gridctl {}` failed: {out}", args.join(" "));
        out
    }

    /// `up --wait`, asserted successful; records the pids.
    pub fn up(&self) -> Out {
        let out = self.ok(&["up", "--wait"]);
        self.status();
        out
    }

    /// `status --json`, parsed; every holder and child pid is recorded for cleanup.
    pub fn status(&self) -> Vec<Row> {
        let out = self.run(&["status", "--json"]);
        assert!(out.ok(), "status failed: {out}");
        let rows: Vec<Row> = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json does not parse ({e}): {out}"));
        for pid in rows.iter().flat_map(row_pids) {
            self.record(pid);
        }
        rows
    }

    /// Polls `status` until `pred` holds.
    pub fn wait_status(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[Row]) -> bool,
    ) -> Vec<Row> {
        let start = Instant::now();
        loop {
            let rows = self.status();
            if pred(&rows) {
                return rows;
            }
            if start.elapsed() >= timeout {
                panic!("timed out waiting for {what}; last status: {rows:#?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn record(&self, pid: u32) {
        self.pids.record(pid);
    }

    /// Live processes started by this test (their command line names its directory).
    pub fn processes(&self) -> Vec<(u32, String)> {
        self.pids.live()
    }

    /// Live fake Robust processes of this grid: (pid, instance name).
    pub fn fakes(&self) -> Vec<(u32, String)> {
        self.processes()
            .into_iter()
            .filter(|(_, cmd)| cmd.starts_with(&*self.fake.to_string_lossy()))
            .map(|(pid, cmd)| (pid, self.instance_named_in(&cmd)))
            .collect()
    }

    /// Live holder processes of this grid: (pid, instance name).
    pub fn holders(&self) -> Vec<(u32, String)> {
        self.processes()
            .into_iter()
            .filter(|(_, cmd)| {
                // `gridctl-holder --spec ...`, the binary next to `gridctl`.
                cmd.starts_with(&format!(
                    "{}-holder --spec ",
                    self.gridctl.to_string_lossy()
                ))
            })
            .map(|(pid, cmd)| (pid, self.instance_named_in(&cmd)))
            .collect()
    }

    fn instance_named_in(&self, cmd: &str) -> String {
        let prefix = format!("{}/", self.state.join("instances").display());
        cmd.split_once(&prefix)
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or("?")
            .to_string()
    }

    /// Starts `gridctl ARGS` in the background, stdout read line by line.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        let mut child = self.command(args).spawn().expect("spawn gridctl");
        let pid = child.id();
        self.record(pid);
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = read_all_in_thread(child.stderr.take().expect("stderr"));
        Spawned {
            child,
            pid,
            lines: rx,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// `gridctl ARGS` on a new PTY of `rows`×`cols` that this test owns.
    pub fn attach_pty(&self, args: &[&str], rows: u16, cols: u16) -> PtySession {
        self.pty_with(args, rows, cols, &[("TERM", Some("xterm"))])
    }

    /// [`Grid::attach_pty`] with environment changes (`None` removes the variable).
    pub fn pty_with(
        &self,
        args: &[&str],
        rows: u16,
        cols: u16,
        env: &[(&str, Option<&str>)],
    ) -> PtySession {
        let mut cmd = CommandBuilder::new(&self.gridctl);
        cmd.arg("-f");
        cmd.arg(&self.manifest);
        for a in args {
            cmd.arg(a);
        }
        cmd.cwd(&self.dir);
        cmd.env("ROBUST_DB", DB_SECRET);
        cmd.env_remove("GRIDCTL_FILE");
        cmd.env_remove("GRIDCTL_DETACH_KEY");
        for (k, v) in env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            }
        }
        PtySession(Pty::spawn(cmd, rows, cols, |pid| self.record(pid)))
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        if self.state.exists() {
            let out = self.run_with(&["down"], Duration::from_secs(20));
            if !out.ok() && !std::thread::panicking() {
                eprintln!("cleanup: `gridctl down` failed: {out}");
            }
        }
        self.pids.kill_all();
    }
}

/// A `gridctl` running in the background; killed (by pid) when dropped.
pub struct Spawned {
    child: Child,
    pub pid: u32,
    lines: Receiver<String>,
    pub seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Spawned {
    /// Waits for a stdout line matching `pred`; every line read is kept in `seen`.
    pub fn wait_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_child(&mut self.child, timeout)
    }

    /// Everything left on stdout and stderr (after the process ended).
    pub fn rest(&mut self) -> (String, String) {
        let mut out = self.seen.join("\n");
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            out.push('\n');
            out.push_str(&l);
        }
        let err = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        (out, err)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// `gridctl` on a PTY owned by the test (see [`Pty`]); killed by pid when dropped.
pub struct PtySession(Pty);

impl std::ops::Deref for PtySession {
    type Target = Pty;
    fn deref(&self) -> &Pty {
        &self.0
    }
}

impl std::ops::DerefMut for PtySession {
    fn deref_mut(&mut self) -> &mut Pty {
        &mut self.0
    }
}

impl PtySession {
    /// Waits for the process to exit, reading its output meanwhile (and until EOF after).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<portable_pty::ExitStatus> {
        let status = self.0.wait_exited(Instant::now() + timeout)?;
        self.0.drain_to_eof(Duration::from_secs(2));
        Some(status)
    }
}

/// Seconds from a progress line like `[  0.19s] core-1: ● ready after 50ms`.
pub fn ready_after(up_stdout: &str, name: &str) -> Option<f64> {
    up_stdout.lines().find_map(|l| {
        let rest = l.split_once(&format!("] {name}: "))?.1;
        let took = rest.split_once("ready after ")?.1;
        let took = took.split(" (").next()?.trim();
        humantime::parse_duration(took)
            .ok()
            .map(|d| d.as_secs_f64())
    })
}

/// The timestamps (ms since midnight UTC) of holder.log lines containing `needle`.
pub fn holder_log_times(log: &str, needle: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| {
            // 2026-05-01T12:00:00.123Z ...
            let t = l
                .split_whitespace()
                .next()?
                .split_once('T')?
                .1
                .trim_end_matches('Z');
            let (hms, ms) = t.split_once('.')?;
            let mut it = hms.split(':').map(|v| v.parse::<u64>().ok());
            let (h, m, s) = (it.next()??, it.next()??, it.next()??);
            Some(((h * 60 + m) * 60 + s) * 1000 + ms.parse::<u64>().ok()?)
        })
        .collect()
}
