//! Support for `tests/dashboard.rs`: a scratch grid of fake Robust instances on free
//! loopback ports, the real `gridctl` run with deadlines, and `gridctl top` on a PTY
//! this test owns, its screen modelled with vt100.
//!
//! Cleanup is by pid only, and only of processes this test started: [`Grid`]'s drop
//! runs `gridctl down`, then SIGKILLs every pid it recorded and every live process
//! whose command line names this test's (unique) scratch directory.
#![allow(dead_code)] // the idle-cost measurement uses a few helpers the e2e test does not

use serde::Deserialize;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const GRIDCTL: &str = env!("CARGO_BIN_EXE_gridctl");
pub const FAKE_ROBUST: &str = env!("CARGO_BIN_EXE_fake-robust");
const FAKE_BIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fake-bin");

static RESERVED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A base port with `base..base + width` free on 127.0.0.1, below the ephemeral range
/// (so probes' outgoing connections never sit on a port a fake is about to bind).
pub fn reserve_ports(width: u16) -> u16 {
    let eph_lo: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let (lo, hi) = (
        20000u32,
        eph_lo.saturating_sub(u32::from(width) + 1).max(21000),
    );
    for _ in 0..500 {
        let seed = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port();
        let base = (lo + (u32::from(seed) * 7919 + std::process::id()) % (hi - lo)) as u16;
        let range = base..base + width;
        let mut reserved = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
        if range.clone().any(|p| reserved.contains(&p)) {
            continue;
        }
        let held: Vec<_> = range
            .clone()
            .map(|p| TcpListener::bind(("127.0.0.1", p)))
            .collect();
        if held.iter().all(|l| l.is_ok()) {
            reserved.extend(range);
            return base;
        }
    }
    panic!("no free range of {width} loopback ports");
}

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

#[derive(Debug, Clone, Deserialize)]
pub struct Row {
    pub name: String,
    pub state: String,
    pub pid: Option<u32>,
    pub holder_pid: Option<u32>,
    pub restarts: u32,
}

/// The command line of a live (non-zombie) process.
pub fn cmdline(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    (!raw.is_empty()).then(|| String::from_utf8_lossy(&raw).replace('\0', " "))
}

fn kill_pid(pid: u32) {
    // SAFETY: kill(2) on a pid this test started (checked against its command line).
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

pub struct Grid {
    pub dir: PathBuf,
    pub manifest: PathBuf,
    /// `<dir>/`: every process this test starts names it on its command line.
    needle: String,
    pids: Mutex<BTreeSet<u32>>,
    _tmp: tempfile::TempDir,
}

impl Grid {
    pub fn new(assets: u16) -> Grid {
        let tmp = tempfile::Builder::new()
            .prefix("gridctl-top-")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical tempdir");
        let base = reserve_ports(assets + 12);
        let manifest = dir.join("grid.toml");
        std::fs::write(&manifest, self::manifest(base, assets)).expect("write grid.toml");
        Grid {
            needle: format!("{}/", dir.display()),
            dir,
            manifest,
            pids: Mutex::new(BTreeSet::new()),
            _tmp: tmp,
        }
    }

    /// Runs `gridctl -f grid.toml ARGS` to completion (killed after `timeout`): (exit code, stdout+stderr).
    pub fn run(&self, args: &[&str], timeout: Duration) -> (Option<i32>, String) {
        let mut child = Command::new(GRIDCTL)
            .arg("-f")
            .arg(&self.manifest)
            .args(args)
            .current_dir(&self.dir)
            .env_remove("GRIDCTL_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gridctl");
        self.record(child.id());
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            let _ = err.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break Some(s);
            }
            if start.elapsed() >= timeout {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        (
            status.and_then(|s| s.code()),
            reader.join().unwrap_or_default(),
        )
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
        for pid in rows.iter().flat_map(|r| [r.pid, r.holder_pid]).flatten() {
            self.record(pid);
        }
        rows
    }

    pub fn record(&self, pid: u32) {
        self.pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid);
    }

    fn processes(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let me = std::process::id();
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != me && cmdline(pid).is_some_and(|c| c.contains(&self.needle)))
            .collect()
    }

    /// `gridctl -f grid.toml ARGS` on a new `rows`×`cols` PTY owned by this test.
    pub fn pty(&self, args: &[&str], rows: u16, cols: u16, env: &[(&str, &str)]) -> Pty {
        use portable_pty::{native_pty_system, CommandBuilder, PtySize};
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
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
        let child = pair
            .slave
            .spawn_command(cmd)
            .expect("spawn gridctl on a pty");
        // Our copy of the slave must go, or the master never sees EOF.
        drop(pair.slave);
        if let Some(pid) = child.process_id() {
            self.record(pid);
        }
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            child,
            writer,
            rx,
            parser: vt100::Parser::new(rows, cols, 0),
            _master: pair.master,
        }
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        let _ = self.run(&["down"], Duration::from_secs(20));
        let recorded: Vec<u32> = self
            .pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        for pid in recorded.into_iter().chain(self.processes()) {
            // Only if the pid still is one of ours (never a reused pid).
            if cmdline(pid).is_some_and(|c| c.contains(&self.needle)) {
                kill_pid(pid);
            }
        }
    }
}

/// A process on a PTY owned by the test.
pub struct Pty {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    rx: Receiver<Vec<u8>>,
    pub parser: vt100::Parser,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    pub fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Reads what arrives within `wait`; whether anything did.
    fn pump(&mut self, wait: Duration) -> bool {
        match self.rx.recv_timeout(wait) {
            Ok(bytes) => {
                self.parser.process(&bytes);
                while let Ok(more) = self.rx.try_recv() {
                    self.parser.process(&more);
                }
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // EOF: nothing more will come; do not spin.
                std::thread::sleep(wait.min(Duration::from_millis(20)));
                false
            }
        }
    }

    /// Reads output until the screen satisfies `pred`; panics with the screen after `timeout`.
    pub fn wait_screen(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; screen:\n{screen}"
            );
            self.pump(left.min(Duration::from_millis(50)));
        }
    }

    pub fn keys(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Waits for exit, reading output meanwhile and then up to EOF (so the screen holds
    /// everything the process wrote); the exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<u32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The last bytes (leaving the alternate screen) may still be in flight:
                // read until EOF or a quiet moment.
                while Instant::now() < deadline && self.pump(Duration::from_millis(300)) {}
                return Some(status.exit_code());
            }
            self.pump(Duration::from_millis(20));
        }
        None
    }

    /// Resizes the PTY (the process gets SIGWINCH) and the model of its screen.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        use portable_pty::PtySize;
        self._master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize the pty");
        self.parser.screen_mut().set_size(rows, cols);
    }

    /// Whether any cell on the screen has a colour.
    pub fn any_colour(&self) -> bool {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        (0..rows).any(|r| {
            (0..cols).any(|c| {
                screen.cell(r, c).is_some_and(|cell| {
                    cell.fgcolor() != vt100::Color::Default
                        || cell.bgcolor() != vt100::Color::Default
                })
            })
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
