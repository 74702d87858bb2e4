//! Support for `tests/cli_runtime.rs`: a scratch grid per test (manifest, free
//! loopback ports), the real `gridctl` binary run with deadlines, background CLI
//! processes, a real PTY session for `attach`, and process accounting through /proc.
//!
//! Cleanup is by pid only, and only of processes this test started: the [`Grid`]
//! drop runs `gridctl down`, then SIGKILLs every pid it recorded from `status` and
//! every process whose command line names this test's (unique) scratch directory.
#![allow(dead_code)] // not every helper is used by every test

use serde::Deserialize;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const GRIDCTL: &str = env!("CARGO_BIN_EXE_gridctl");
pub const FAKE_ROBUST: &str = env!("CARGO_BIN_EXE_fake-robust");
pub const DB_SECRET: &str = "Server=db.test;Database=robust;User=robust;Password=runtime-secret";
pub const PROMPT: &str = "R.O.B.U.S.T.# ";

/// Every `gridctl` run is bounded by this unless the test says otherwise.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(20);

pub fn fake_bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fake-bin")
}

// --- ports ------------------------------------------------------------------------

/// Ports handed out in this process (tests run in parallel threads of one process).
static RESERVED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

fn local_port_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|v| v.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// A base port such that `base..base + width` are all free on 127.0.0.1 and not
/// handed to another test of this process. The randomness comes from binding port 0;
/// the range is then moved below the kernel's ephemeral range, so that outgoing
/// connections (readiness probes, clients) can never sit on a port a fake is about
/// to listen on.
pub fn reserve_ports(width: u16) -> u16 {
    let (eph_lo, _) = local_port_range();
    let lo: u32 = 20000;
    let hi: u32 = u32::from(eph_lo)
        .saturating_sub(u32::from(width) + 1)
        .max(lo + 1000);
    for _ in 0..500 {
        let seed = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        let base = (lo + (u32::from(seed) * 7919 + std::process::id()) % (hi - lo)) as u16;
        let range = base..base + width;
        let mut reserved = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
        if range.clone().any(|p| reserved.contains(&p)) {
            continue;
        }
        // Hold every listener until all are bound: the whole range is free at once.
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
        bin = fake_bin_dir().display(),
        fake = FAKE_ROBUST,
        core = base,
        core_pub = base + 1,
        asset = base + 2,
        inv = base + 4,
    )
}

pub const STANDARD: &[&str] = &["core-1", "asset-1", "asset-2", "inventory-1"];

// --- status -------------------------------------------------------------------------

/// One row of `gridctl status --json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Row {
    pub name: String,
    pub role: String,
    pub state: String,
    pub detail: String,
    pub pid: Option<u32>,
    pub holder_pid: Option<u32>,
    pub restarts: u32,
    pub last_exit: Option<String>,
    pub viewers: u32,
    pub holder_rss_bytes: Option<u64>,
    pub rss_bytes: Option<u64>,
}

pub fn row<'a>(rows: &'a [Row], name: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no `{name}` in status: {rows:#?}"))
}

// --- command output -----------------------------------------------------------------

#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:.2}s\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code,
            self.took.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }
}

fn read_all_in_thread(r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut r = r;
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn kill_pid(pid: u32) {
    // SAFETY: kill(2) with a pid this test started; no memory is involved.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

// --- /proc --------------------------------------------------------------------------

/// The command line of a live (non-zombie) process, NUL separators as spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name.
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&raw)
            .replace('\0', " ")
            .trim_end()
            .to_string(),
    )
}

pub fn alive(pid: u32) -> bool {
    cmdline(pid).is_some()
}

/// Live processes whose command line contains `needle`.
pub fn processes_naming(needle: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Some(cmd) = cmdline(pid) {
            if cmd.contains(needle) {
                out.push((pid, cmd));
            }
        }
    }
    out.sort();
    out
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() >= timeout {
            panic!(
                "timed out after {:.1}s waiting for {what}",
                timeout.as_secs_f64()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
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
    /// `<dir>/`: every process this test starts names it on its command line.
    needle: String,
    pids: Mutex<BTreeSet<u32>>,
    // Last: removed after the processes are gone.
    _tmp: tempfile::TempDir,
}

impl Grid {
    /// A scratch directory with `grid.toml` = `make(base port)`.
    pub fn new(ports: u16, make: impl FnOnce(u16) -> String) -> Grid {
        let tmp = tempfile::Builder::new()
            .prefix("gridctl-rt-")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical tempdir");
        let base = reserve_ports(ports);
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).expect("mkdir bin");
        let gridctl = pinned(GRIDCTL, &bin);
        let fake = pinned(FAKE_ROBUST, &bin);
        let manifest = dir.join("grid.toml");
        let text = make(base).replace(FAKE_ROBUST, &fake.display().to_string());
        std::fs::write(&manifest, text).expect("write grid.toml");
        Grid {
            gridctl,
            fake,
            needle: format!("{}/", dir.display()),
            state: dir.join(".gridctl"),
            dir,
            manifest,
            base,
            pids: Mutex::new(BTreeSet::new()),
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
        let start = Instant::now();
        let mut child = self.command(args).spawn().expect("spawn gridctl");
        self.record(child.id());
        let out = read_all_in_thread(child.stdout.take().expect("stdout"));
        let err = read_all_in_thread(child.stderr.take().expect("stderr"));
        let status = wait_child(&mut child, timeout);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        Out {
            code: status.and_then(|s| s.code()),
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
            took: start.elapsed(),
        }
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
        for r in &rows {
            for pid in [r.pid, r.holder_pid].into_iter().flatten() {
                self.record(pid);
            }
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
        self.pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid);
    }

    /// Live processes started by this test (their command line names its directory).
    pub fn processes(&self) -> Vec<(u32, String)> {
        processes_naming(&self.needle)
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
                cmd.starts_with(&*self.gridctl.to_string_lossy()) && cmd.contains(" holder --spec ")
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
        use portable_pty::{native_pty_system, CommandBuilder, PtySize};
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(&self.gridctl);
        cmd.arg("-f");
        cmd.arg(&self.manifest);
        for a in args {
            cmd.arg(a);
        }
        cmd.cwd(&self.dir);
        cmd.env("ROBUST_DB", DB_SECRET);
        cmd.env("TERM", "xterm");
        cmd.env_remove("GRIDCTL_FILE");
        cmd.env_remove("GRIDCTL_DETACH_KEY");
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
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        PtySession {
            child,
            writer,
            rx,
            parser: vt100::Parser::new(rows, cols, 0),
            raw: Vec::new(),
            eof: false,
            _master: pair.master,
        }
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
        let recorded: Vec<u32> = self
            .pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        for pid in recorded {
            // Only if the pid still is one of ours (never a reused pid).
            if cmdline(pid).is_some_and(|c| c.contains(&self.needle)) {
                kill_pid(pid);
            }
        }
        for (pid, _) in self.processes() {
            kill_pid(pid);
        }
    }
}

fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) => {}
            Err(_) => return None,
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
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

/// A process on a PTY owned by the test; its screen modelled with vt100.
pub struct PtySession {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    rx: Receiver<Vec<u8>>,
    pub parser: vt100::Parser,
    /// Every byte the process wrote.
    pub raw: Vec<u8>,
    eof: bool,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl PtySession {
    pub fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Everything written so far, escape sequences removed (for text that scrolled away).
    pub fn text(&self) -> String {
        let stripped = strip_ansi(&self.raw);
        String::from_utf8_lossy(&stripped).replace('\r', "")
    }

    fn pump(&mut self, wait: Duration) {
        match self.rx.recv_timeout(wait) {
            Ok(bytes) => {
                self.parser.process(&bytes);
                self.raw.extend_from_slice(&bytes);
                while let Ok(more) = self.rx.try_recv() {
                    self.parser.process(&more);
                    self.raw.extend_from_slice(&more);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.eof = true;
                std::thread::sleep(wait.min(Duration::from_millis(20)));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }

    /// Waits until the screen satisfies `pred`.
    pub fn wait_screen(&mut self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(&self.screen()) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("timed out waiting for {what}; screen:\n{}", self.screen());
            }
            self.pump(left.min(Duration::from_millis(50)));
        }
    }

    pub fn type_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Waits for the process to exit, reading its output meanwhile (and until EOF after).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<portable_pty::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let drain_until = Instant::now() + Duration::from_secs(2);
                while !self.eof && Instant::now() < drain_until {
                    self.pump(Duration::from_millis(50));
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.pump(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Drops CSI/OSC escape sequences (enough for the text checks here).
pub fn strip_ansi(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0x1b && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'[' => {
                    i += 2;
                    while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                        i += 1;
                    }
                    i += 1;
                    continue;
                }
                b']' => {
                    i += 2;
                    while i < bytes.len() && bytes[i] != 0x07 {
                        i += 1;
                    }
                    i += 1;
                    continue;
                }
                _ => {
                    i += 2;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Seconds from a progress line like `[  0.19s] core-1: ● ready after 0.05s`.
pub fn ready_after(up_stdout: &str, name: &str) -> Option<f64> {
    up_stdout.lines().find_map(|l| {
        let rest = l.split_once(&format!("] {name}: "))?.1;
        let secs = rest.split_once("ready after ")?.1.trim_end_matches('s');
        secs.split_whitespace()
            .next()?
            .trim_end_matches('s')
            .parse()
            .ok()
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
