//! Drives the real `fake-robust` binary, on a PTY (answering `ESC[6n` when asked to)
//! and by plain spawn, against the behaviour robust.md describes.
//!
//! Every wait has a deadline; every child is killed by PID on drop, even when a test
//! fails.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use portable_pty::{native_pty_system, CommandBuilder, PtySize};

const BIN: &str = env!("CARGO_BIN_EXE_fake-robust");
const PROMPT: &str = "R.O.B.U.S.T.# ";
const DEADLINE: Duration = Duration::from_secs(5);

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A scratch grid: `root/bin` made by `--make-bin-dir`.
struct Grid {
    dir: tempfile::TempDir,
}

impl Grid {
    fn new() -> Grid {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new(BIN)
            .arg("--make-bin-dir")
            .arg(dir.path().join("bin"))
            .status()
            .expect("run make-bin-dir");
        assert!(status.success());
        Grid { dir }
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        p
    }

    /// A minimal valid instance ini at `rel` with a PID file next to it.
    fn ini(&self, rel: &str, port: u16, extra: &str) -> PathBuf {
        let pid = self.path(&format!("{rel}.pid"));
        self.write(
            rel,
            &format!(
                "[Startup]\nPIDFile = {}\n[Network]\nport = {port}\n{extra}",
                pid.display()
            ),
        )
    }
}

/// Everything a fake printed so far, filled by a reader thread.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl Output {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("out")).into_owned()
    }

    /// Polls the output until `cond` holds, within the deadline.
    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if cond(&self.text()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("timed out waiting for {what}; output:\n{}", self.text());
    }
}

fn kill_by_pid(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// A fake on a PTY; output collected by a reader thread that answers cursor queries.
struct PtyFake {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    pid: u32,
    out: Output,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    queries: Arc<Mutex<Vec<Instant>>>,
    exited: bool,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl PtyFake {
    /// A fake in `cwd` on `ini` with `-logconfig=xml`, its cursor queries answered.
    fn spawn_with_logconfig(cwd: &Path, ini: &Path, xml: &Path) -> PtyFake {
        let args = [
            format!("-inifile={}", ini.display()),
            format!("-logconfig={}", xml.display()),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        PtyFake::spawn(cwd, &args, &[], true)
    }

    fn spawn(cwd: &Path, args: &[&str], env: &[(&str, &str)], answer_cpr: bool) -> PtyFake {
        PtyFake::spawn_sized(cwd, args, env, answer_cpr, (40, 200))
    }

    /// Like `spawn`, on a window of `(rows, cols)`.
    fn spawn_sized(
        cwd: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        answer_cpr: bool,
        (rows, cols): (u16, u16),
    ) -> PtyFake {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(args);
        cmd.cwd(cwd);
        // A terminal Mono's console works on, whatever the test runner has (TERM=dumb
        // never shows a prompt); a test may override it below.
        cmd.env("TERM", "xterm");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn");
        // Without dropping the slave, EOF never arrives.
        drop(pair.slave);
        let pid = child.process_id().expect("pid");
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = Arc::new(Mutex::new(pair.master.take_writer().expect("writer")));
        let out = Output::default();
        let queries = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(AtomicBool::new(answer_cpr));
        {
            let (out, writer, queries) = (out.clone(), writer.clone(), queries.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut scanned = 0;
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut all = out.0.lock().expect("out");
                    all.extend_from_slice(&buf[..n]);
                    while let Some(i) = find(&all[scanned..], b"\x1b[6n") {
                        scanned += i + 4;
                        queries.lock().expect("q").push(Instant::now());
                        if answer.load(Ordering::Relaxed) {
                            let _ = writer.lock().expect("w").write_all(b"\x1b[12;1R");
                        }
                    }
                    scanned = scanned.max(all.len().saturating_sub(3));
                }
            });
        }
        PtyFake {
            child,
            pid,
            out,
            writer,
            queries,
            exited: false,
            _master: pair.master,
        }
    }

    fn text(&self) -> String {
        self.out.text()
    }

    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) {
        self.out.wait_for(what, cond)
    }

    fn wait_prompts(&self, n: usize) {
        self.wait_for(&format!("{n} prompts"), |t| t.matches(PROMPT).count() >= n);
    }

    fn send(&self, bytes: &[u8]) {
        let mut w = self.writer.lock().expect("w");
        w.write_all(bytes).expect("write to pty");
        w.flush().expect("flush");
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exited = true;
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("fake did not exit; output:\n{}", self.text());
    }
}

impl Drop for PtyFake {
    fn drop(&mut self) {
        if !self.exited {
            kill_by_pid(self.pid, Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// A fake spawned with plain pipes: stdin `/dev/null`, stdout collected.
struct PipeFake {
    child: std::process::Child,
    out: Output,
    readers: Vec<std::thread::JoinHandle<()>>,
    exited: bool,
}

impl PipeFake {
    fn spawn(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> PipeFake {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(cwd)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let out = Output::default();
        let mut readers = Vec::new();
        for mut stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let out = out.clone();
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut all = out.0.lock().expect("out");
                    // Keep memory bounded when the console spins.
                    if all.len() < 4 << 20 {
                        all.extend_from_slice(&buf[..n]);
                    }
                }
            }));
        }
        PipeFake {
            child,
            out,
            readers,
            exited: false,
        }
    }

    fn text(&self) -> String {
        self.out.text()
    }

    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) {
        self.out.wait_for(what, cond)
    }

    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exited = true;
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("fake did not exit; output:\n{}", self.text());
    }

    fn signal(&self, sig: Signal) {
        kill_by_pid(self.child.id(), sig);
    }
}

impl Drop for PipeFake {
    fn drop(&mut self) {
        if !self.exited {
            kill_by_pid(self.child.id(), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Runs a fake that is expected to exit by itself; returns (code, output).
fn run_to_exit(cwd: &Path, args: &[&str]) -> (i32, String) {
    let mut f = PipeFake::spawn(cwd, args, &[]);
    let code = f.wait_exit();
    // The pipes reach EOF once the process is gone: all output is in.
    for r in std::mem::take(&mut f.readers) {
        let _ = r.join();
    }
    (code, f.text())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request with `Connection: close`; returns the whole response.
fn http(port: u16, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let body = if method == "POST" { "<x/>" } else { "" };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

fn status_of(resp: &str) -> &str {
    resp.split(' ').nth(1).unwrap_or("")
}

const GRID_SERVICES: &str = "[ServiceList]\n\
    GridInfo = \"OpenSim.Server.Handlers.dll:GridInfoServerInConnector\"\n\
    Helo = \"OpenSim.Server.Handlers.dll:HeloServiceInConnector\"\n\
    Assets = \"${Const|Priv}/OpenSim.Server.Handlers.dll:AssetServiceConnector\"\n\
    Broken = \"NotThere.dll:GhostConnector\"\n";

#[test]
fn make_bin_dir_creates_placeholder_dlls() {
    let g = Grid::new();
    for f in [
        "Robust.dll",
        "OpenSim.Server.Handlers.dll",
        "OpenSim.Services.GridService.dll",
    ] {
        assert!(g.bin().join(f).is_file(), "{f}");
    }
}

#[test]
fn every_switch_form_reads_the_ini() {
    let g = Grid::new();
    let port = free_port();
    let ini = g.ini("conf/a.ini", port, "[Startup]\nPrompt = form\n");
    let abs = ini.display().to_string();
    let forms: Vec<Vec<String>> = vec![
        vec![format!("-inifile={abs}")],
        vec![format!("--inifile={abs}")],
        vec![format!("/inifile:{abs}")],
        vec!["-i".into(), "../conf/a.ini".into()],
        vec!["Robust.dll".into(), format!("-i={abs}")],
    ];
    for form in forms {
        let args: Vec<&str> = form.iter().map(String::as_str).collect();
        let mut f = PtyFake::spawn(&g.bin(), &args, &[], true);
        f.wait_for("prompt", |t| t.contains("form# "));
        f.send(b"quit\r");
        assert_eq!(f.wait_exit().exit_code(), 0, "{form:?}");
    }
}

#[test]
fn inifile_with_space_before_absolute_path_breaks_like_robust() {
    let g = Grid::new();
    let ini = g.ini("a.ini", free_port(), "");
    let abs = ini.display().to_string();
    let (code, out) = run_to_exit(&g.bin(), &["-inifile", &abs]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Error reading from config source"), "{out}");
}

#[test]
fn missing_default_ini_exits_1() {
    let g = Grid::new();
    let (code, out) = run_to_exit(&g.bin(), &[]);
    assert_eq!(code, 1);
    assert!(out.contains("Error reading from config source"), "{out}");
}

#[test]
fn network_port_missing_or_zero_exits_1_and_missing_startup_crashes() {
    let g = Grid::new();
    for (name, text) in [
        ("nonet.ini", "[Startup]\n"),
        ("noport.ini", "[Startup]\n[Network]\nx = 1\n"),
        ("zero.ini", "[Startup]\n[Network]\nport = 0\n"),
    ] {
        let p = g.write(name, text);
        let (code, out) = run_to_exit(&g.bin(), &[&format!("-inifile={}", p.display())]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains("ERROR"), "{name}: {out}");
    }
    let p = g.write(
        "nostartup.ini",
        &format!("[Network]\nport = {}\n", free_port()),
    );
    let (code, out) = run_to_exit(&g.bin(), &[&format!("-inifile={}", p.display())]);
    assert_ne!(code, 0);
    assert!(out.contains("Startup config section missing"), "{out}");
}

#[test]
fn includes_environment_and_argv_feed_the_config() {
    let g = Grid::new();
    let port = free_port();
    // Relative include globs resolve against the cwd (bin/), not the ini's folder.
    g.write(
        "bin/robust-include/10-net.ini",
        &format!("[Const]\nPub = {port}\n[Network]\nport = ${{Const|Pub}}\n"),
    );
    g.write(
        "bin/robust-include/20-name.ini",
        "[Const]\nInstanceName = ${Environment|FAKE_TEST_NAME}\n",
    );
    let main = g.write(
        "etc/main.ini",
        "[Startup]\nPrompt = fromini\n[Environment]\nFAKE_TEST_NAME = unset\n\
         [Includes]\nInclude-All = robust-include/*.ini\nInclude-Gone = gone.ini\n\
         [ServiceList]\nA = \"OpenSim.Server.Handlers.dll:AvatarServiceConnector\"\n",
    );
    let mut f = PtyFake::spawn(
        &g.bin(),
        &[&format!("-inifile={}", main.display()), "-prompt=fromargv"],
        &[("FAKE_TEST_NAME", "avatar-7")],
        true,
    );
    f.wait_for("prompt", |t| t.contains("fromargv# "));
    assert!(f.text().contains("[CONFIG]: Could not find include file"));
    let resp = http(port, "GET", "/avatar");
    assert_eq!(status_of(&resp), "200", "{resp}");
    assert!(resp.contains("X-Robust-Instance: avatar-7"), "{resp}");
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn unresolved_reference_aborts_before_the_pid_file() {
    let g = Grid::new();
    g.write(
        "bin/inc/x.ini",
        "[Const]\nBaseURL = http://${Const|NoSuchKey}\n",
    );
    let p = g.ini("a.ini", free_port(), "[X]\nInclude-X = inc/x.ini\n");
    let (code, out) = run_to_exit(&g.bin(), &[&format!("-inifile={}", p.display())]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("${Const|NoSuchKey}") && out.contains("BaseURL"),
        "{out}"
    );
    assert!(!g.path("a.ini.pid").exists());
}

#[test]
fn loaded_and_failed_lines_and_the_log_file() {
    let g = Grid::new();
    let (port, priv_port) = (free_port(), free_port());
    let log = g.path("logs/a.log");
    std::fs::create_dir_all(log.parent().expect("parent")).expect("mkdir");
    let p = g.ini(
        "a.ini",
        port,
        &format!("[Const]\nPriv = {priv_port}\n{GRID_SERVICES}\nExtra = \"OpenSim.Server.Handlers.dll:GridServiceConnector\"\n"),
    );
    let mut f = PtyFake::spawn(
        &g.bin(),
        &[
            &format!("-inifile={}", p.display()),
            &format!("-logfile={}", log.display()),
        ],
        &[("FAKE_ROBUST_FAIL_CONNECTOR", "GridServiceConnector")],
        true,
    );
    f.wait_prompts(1);
    let out = f.text();
    for line in [
        "[SERVER]: GridInfoServerInConnector loaded successfully",
        "[SERVER]: HeloServiceInConnector loaded successfully",
        "[SERVER]: AssetServiceConnector loaded successfully",
        "[SERVER]: Failed to load NotThere.dll:GhostConnector",
        "[SERVER]: Failed to load OpenSim.Server.Handlers.dll:GridServiceConnector",
        "[!] ",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let logged = std::fs::read_to_string(&log).expect("log file");
    let first = logged.lines().next().expect("a line");
    // `YYYY-MM-DD HH:MM:SS,mmm INFO  (1) - Logger message`
    assert_eq!(&first[4..5], "-");
    assert_eq!(&first[19..20], ",");
    assert!(first[23..].starts_with(" INFO  (1) - "), "{first}");
    assert!(logged.contains("AssetServiceConnector loaded successfully"));
    // Without -logconfig, Robust.exe.config's appenders open bin/Robust.log and
    // bin/RobustStats.log before -logfile takes over (robust.md 0b).
    assert!(g.bin().join("Robust.log").exists());
    assert!(g.bin().join("RobustStats.log").exists());
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn http_answers_per_port_and_connector() {
    let g = Grid::new();
    let (port, priv_port) = (free_port(), free_port());
    let p = g.ini(
        "asset-2.ini",
        port,
        &format!("[Const]\nPriv = {priv_port}\n[GridInfoService]\ngridname = \"Test <Grid>\"\n{GRID_SERVICES}"),
    );
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);

    let info = http(port, "GET", "/get_grid_info");
    assert_eq!(status_of(&info), "200", "{info}");
    assert!(info.contains("<gridinfo><platform>OpenSim</platform><gridname>Test &lt;Grid&gt;</gridname></gridinfo>"), "{info}");
    let json = http(port, "GET", "/json_grid_info");
    assert!(json.contains("\"gridname\":\"Test <Grid>\""), "{json}");

    let asset = http(priv_port, "POST", "/assets/abc?x=1");
    assert_eq!(status_of(&asset), "200", "{asset}");
    assert!(asset.contains("X-Robust-Instance: asset-2"), "{asset}");
    assert!(
        asset.contains("<INSTANCE>asset-2</INSTANCE>") && asset.contains("/assets/abc"),
        "{asset}"
    );

    // Connectors answer only on their own port.
    assert_eq!(status_of(&http(port, "GET", "/assets/abc")), "404");
    assert_eq!(status_of(&http(priv_port, "GET", "/get_grid_info")), "404");
    assert_eq!(status_of(&http(port, "GET", "/nothing")), "404");
    // The connector that failed to load serves nothing.
    let helo = http(port, "HEAD", "/helo");
    assert_eq!(status_of(&helo), "200");
    assert!(
        helo.contains("X-Handlers-Provided: opensim-robust"),
        "{helo}"
    );

    // Keep-alive: two requests on one connection.
    let mut s = TcpStream::connect(("127.0.0.1", priv_port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(b"POST /get_assets_exist HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /assets/1 HTTP/1.1\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut both = String::new();
    s.read_to_string(&mut both).expect("read");
    assert_eq!(both.matches("HTTP/1.1 200 OK").count(), 2, "{both}");

    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn cursor_query_answered_is_fast_unanswered_stalls_a_second() {
    let g = Grid::new();
    for (answer, port) in [(true, free_port()), (false, free_port())] {
        let p = g.ini(&format!("cpr-{answer}.ini"), port, "");
        let mut f = PtyFake::spawn(
            &g.bin(),
            &[&format!("-inifile={}", p.display())],
            &[],
            answer,
        );
        f.wait_prompts(1);
        // An empty line gives a new prompt, after a new query.
        let sent = Instant::now();
        f.send(b"\r");
        f.wait_prompts(2);
        let waited = sent.elapsed();
        assert_eq!(
            f.queries.lock().expect("q").len(),
            2,
            "one query per prompt"
        );
        if answer {
            assert!(
                waited < Duration::from_millis(500),
                "answered took {waited:?}"
            );
        } else {
            assert!(
                waited >= Duration::from_millis(900),
                "unanswered took {waited:?}"
            );
        }
        f.send(b"shutdown\r");
        assert_eq!(f.wait_exit().exit_code(), 0);
    }
}

#[test]
fn console_commands_echo_and_editing() {
    let g = Grid::new();
    let p = g.ini(
        "a.ini",
        free_port(),
        "[ServiceList]\nL = \"OpenSim.Server.Handlers.dll:LLLoginServiceInConnector\"\n",
    );
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    // Typo fixed with backspace; `\r\n` counts as one line end.
    f.send(b"show infx\x7fo\r\n");
    f.wait_for("info", |t| t.contains("Startup directory: "));
    let bin = g.bin().canonicalize().expect("canon");
    assert!(
        f.text()
            .contains(&format!("Startup directory: {}", bin.display())),
        "{}",
        f.text()
    );
    f.send(b"show version\r");
    f.wait_for("version", |t| {
        t.contains("Version: OpenSim 0.9.3.1 Nessie Dev fake (SIM-0.3/0.8)")
    });
    f.send(b"login level 200\n");
    f.wait_for("login level", |t| t.contains("Login level set to 200"));
    f.send(b"frobnicate\r");
    f.wait_for("invalid", |t| t.contains("Invalid command \"frobnicate\""));
    f.wait_prompts(5);
    f.send(b"shutdown\r");
    f.wait_for("quitting", |t| t.contains("[CONSOLE]: Quitting"));
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn shutdown_exits_0_and_removes_pid_file() {
    let g = Grid::new();
    let p = g.ini("a.ini", free_port(), "");
    let pid = g.path("a.ini.pid");
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    assert_eq!(
        std::fs::read_to_string(&pid).expect("pid file"),
        f.pid.to_string()
    );
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
    assert!(!pid.exists());
}

#[test]
fn sigterm_kills_at_once_and_keeps_pid_file() {
    let g = Grid::new();
    let p = g.ini("a.ini", free_port(), "");
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    kill_by_pid(f.pid, Signal::SIGTERM);
    // Mono has no SIGTERM handler: the process dies of the signal, nothing logged.
    let status = f.wait_exit();
    assert_eq!(status.signal(), Some("Terminated"), "{status:?}");
    assert!(g.path("a.ini.pid").exists());
    assert!(!f.text().contains("Quitting"));
}

#[test]
fn sigint_and_ctrl_c_byte_shut_down_cleanly() {
    let g = Grid::new();
    for how in ["signal", "byte"] {
        let p = g.ini(&format!("{how}.ini"), free_port(), "");
        let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
        f.wait_prompts(1);
        if how == "signal" {
            kill_by_pid(f.pid, Signal::SIGINT);
        } else {
            f.send(b"\x03");
        }
        assert_eq!(f.wait_exit().exit_code(), 0, "{how}");
        assert!(!g.path(&format!("{how}.ini.pid")).exists(), "{how}");
    }
}

#[test]
fn without_a_tty_the_console_spins_on_command_errors() {
    let g = Grid::new();
    let port = free_port();
    let p = g.ini(
        "a.ini",
        port,
        "[ServiceList]\nA = \"OpenSim.Server.Handlers.dll:AuthenticationServiceConnector\"\n",
    );
    let mut f = PipeFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[]);
    f.wait_for("command errors", |t| {
        t.matches("Command error: System.InvalidOperationException")
            .count()
            >= 20
    });
    assert!(f
        .text()
        .contains("AuthenticationServiceConnector loaded successfully"));
    assert_eq!(status_of(&http(port, "GET", "/auth")), "200");
    f.signal(Signal::SIGINT);
    assert_eq!(f.wait_exit(), 0);
}

#[test]
fn port_in_use_exits_1() {
    let g = Grid::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let p = g.ini("a.ini", port, "");
    let started = Instant::now();
    let (code, out) = run_to_exit(&g.bin(), &[&format!("-inifile={}", p.display())]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("in use"), "{out}");
    // Like the real one: fatal, but only after ~1.3 s.
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn knobs_crash_error_and_ignore_shutdown() {
    let g = Grid::new();
    let p = g.ini(
        "crash.ini",
        free_port(),
        "[FakeRobust]\nCrashAfterMs = 300\nErrorAtStart = true\n",
    );
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    // ERROR lines show in red after the category, as OpenSimAppender does.
    assert!(f
        .text()
        .contains("[FAKE]:\x1b[31m simulated failure during startup\x1b[39;49m"));
    f.wait_for("crash line", |t| {
        t.contains("[FAKE]:\x1b[31m simulated crash")
    });
    assert_eq!(f.wait_exit().exit_code(), 1);

    // Ini wins over env: the env says "do not ignore".
    let p = g.ini(
        "stubborn.ini",
        free_port(),
        "[FakeRobust]\nIgnoreShutdown = true\n",
    );
    let mut f = PtyFake::spawn(
        &g.bin(),
        &[&format!("-inifile={}", p.display())],
        &[("FAKE_ROBUST_IGNORE_SHUTDOWN", "false")],
        true,
    );
    f.wait_prompts(1);
    f.send(b"shutdown\r");
    f.wait_for("quitting", |t| t.contains("[CONSOLE]: Quitting"));
    kill_by_pid(f.pid, Signal::SIGINT);
    f.wait_for("second quitting", |t| {
        t.matches("[CONSOLE]: Quitting").count() == 2
    });
    f.send(b"\r");
    f.wait_prompts(2);
    assert!(
        f.child.try_wait().expect("try_wait").is_none(),
        "still running"
    );
    kill_by_pid(f.pid, Signal::SIGTERM);
    assert_eq!(f.wait_exit().signal(), Some("Terminated"));
}

#[test]
fn output_lines_knob_floods_then_prompts_again() {
    let g = Grid::new();
    let p = g.ini("a.ini", free_port(), "");
    let mut f = PtyFake::spawn(
        &g.bin(),
        &[&format!("-inifile={}", p.display())],
        &[
            ("FAKE_ROBUST_OUTPUT_LINES", "2000"),
            ("FAKE_ROBUST_OUTPUT_LINE_BYTES", "80"),
            ("FAKE_ROBUST_NO_CPR", "1"),
        ],
        true,
    );
    f.wait_prompts(2);
    assert_eq!(f.text().matches("[FAKE OUTPUT]: line ").count(), 2000);
    assert!(
        f.queries.lock().expect("q").is_empty(),
        "NoCpr sends no query"
    );
    f.send(b"quit\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

/// A size-rolling `LogFileAppender` rolls like log4net's (measured on 0.9.2.2 with a
/// 2000-byte limit and 3 backups): a file at the limit becomes `.1` before the next line,
/// so each file passes the limit by at most one line; only `maxSizeRollBackups` remain.
#[test]
fn rolling_file_appender_rolls_the_file_log_by_size() {
    let g = Grid::new();
    let log = g.path("inst/robust.log");
    let xml = g.write(
        "inst/log4net.xml",
        &format!(
            "<log4net>\n  <appender name=\"LogFileAppender\" type=\"log4net.Appender.RollingFileAppender\">\n    <file value=\"{}\" />\n    <rollingStyle value=\"Size\" />\n    <maximumFileSize value=\"200\" />\n    <maxSizeRollBackups value=\"2\" />\n  </appender>\n  <root><appender-ref ref=\"LogFileAppender\" /></root>\n</log4net>\n",
            log.display()
        ),
    );
    let p = g.ini("a.ini", free_port(), "");
    let mut f = PtyFake::spawn_with_logconfig(&g.bin(), &p, &xml);
    f.wait_prompts(1);
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
    assert!(!f.text().contains("log4net:ERROR"), "{}", f.text());
    let read = |suffix: &str| std::fs::read_to_string(g.path(&format!("inst/robust.log{suffix}")));
    let main = read("").expect("robust.log");
    assert!(main.ends_with("[CONSOLE]: Quitting\n"), "{main}");
    for suffix in [".1", ".2"] {
        let text = read(suffix).expect("backup");
        let last = text.lines().last().unwrap_or_default().len() + 1;
        assert!(
            text.len() >= 200 && text.len() - last < 200,
            "{suffix}: {text}"
        );
        assert!(
            text.lines().all(|l| l.contains(" - ")),
            "{suffix}: whole lines only"
        );
    }
    assert!(
        read(".3").is_err(),
        "only maxSizeRollBackups backups are kept"
    );
}

#[test]
fn logconfig_file_element_names_the_log_file() {
    let g = Grid::new();
    let log = g.path("inst/robust.log");
    let xml = g.write(
        "inst/log4net.xml",
        &format!(
            "<log4net>\n  <appender name=\"LogFileAppender\" type=\"log4net.Appender.FileAppender\">\n    <file value=\"{}\" />\n  </appender>\n  <root><appender-ref ref=\"LogFileAppender\" /></root>\n</log4net>\n",
            log.display()
        ),
    );
    let p = g.ini("a.ini", free_port(), "");
    let mut f = PtyFake::spawn_with_logconfig(&g.bin(), &p, &xml);
    f.wait_prompts(1);
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
    let text = std::fs::read_to_string(&log).expect("log file from logconfig");
    assert!(text.contains("[CONSOLE]: Quitting"), "{text}");
    assert!(!g.bin().join("Robust.log").exists());
    // No `Console` appender in this config: log lines never reach the console.
    let out = f.text();
    assert!(out.contains("No appender named Console found"), "{out}");
    assert!(!out.contains("Quitting"), "{out}");
}

#[test]
fn basic_console_reads_lines_from_a_pipe() {
    let g = Grid::new();
    let p = g.ini("a.ini", free_port(), "");
    let mut child = Command::new(BIN)
        .args([&format!("-inifile={}", p.display()), "-console=basic"])
        .current_dir(g.bin())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let guard = Watchdog::new(child.id());
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"show version\nshutdown\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    drop(guard);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Version: OpenSim") && text.contains(PROMPT),
        "{text}"
    );
}

/// Kills a PID if the test has not finished with it within the deadline, so a
/// blocking `wait_with_output` cannot hang the test.
struct Watchdog {
    done: Arc<AtomicBool>,
}

impl Watchdog {
    fn new(pid: u32) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + DEADLINE;
            while Instant::now() < deadline {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            kill_by_pid(pid, Signal::SIGKILL);
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------- stricter: as the real 0.9.2.2

const GRID_INFO: &str =
    "[ServiceList]\nGridInfo = \"OpenSim.Server.Handlers.dll:GridInfoServerInConnector\"\n";

/// `examples/fake-bin` and `--make-bin-dir` hold the same files (the real assembly names).
#[test]
fn example_bin_dir_matches_make_bin_dir() {
    let g = Grid::new();
    let list = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != "README.md")
            .collect();
        names.sort();
        names
    };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fake-bin");
    assert_eq!(list(&g.bin()), list(&example));
    for f in [
        "log4net.dll",
        "OpenSim.Framework.Console.dll",
        "Robust.exe",
        "Robust.exe.config",
    ] {
        assert!(g.bin().join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read(g.bin().join("Robust.exe.config")).expect("made"),
        std::fs::read(example.join("Robust.exe.config")).expect("example")
    );
}

/// A log4net config with `log.dir` as the file directory and `assembly` for the console appender.
fn log4net_xml(g: &Grid, assembly: &str) -> PathBuf {
    let dir = g.path("inst");
    g.write(
        "inst/log4net.xml",
        &format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<log4net>
  <appender name="Console" type="OpenSim.Framework.Console.OpenSimAppender, {assembly}">
    <layout type="log4net.Layout.PatternLayout"><conversionPattern value="%date{{HH:mm:ss}} - %message" /></layout>
  </appender>
  <appender name="LogFileAppender" type="log4net.Appender.FileAppender">
    <file value="{}/robust.log" />
  </appender>
  <root>
    <appender-ref ref="Console" />
    <appender-ref ref="LogFileAppender" />
  </root>
</log4net>
"#,
            dir.display()
        ),
    )
}

#[test]
fn a_console_appender_from_the_wrong_assembly_silences_the_console() {
    let g = Grid::new();
    let p = g.ini("a.ini", free_port(), GRID_INFO);
    let xml = log4net_xml(&g, "OpenSim.Framework");
    let mut f = PtyFake::spawn_with_logconfig(&g.bin(), &p, &xml);
    f.wait_prompts(1);
    let out = f.text();
    // What real log4net 2.0.8 on Mono prints (measured on Robust 0.9.2.2; its stack trace trimmed).
    for line in [
        "log4net:ERROR Could not create Appender [Console] of type [OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework]. Reported error follows.\r\n\
         System.TypeLoadException: Could not load type 'OpenSim.Framework.Console.OpenSimAppender' from assembly 'OpenSim.Framework, Version=0.0.0.0, Culture=neutral, PublicKeyToken=null'.\r\n",
        "log4net:ERROR Appender named [Console] not found.\r\n",
        "No appender named Console found (see the log4net config file for this executable)!\r\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("loaded successfully"), "{out}");
    // The file appender still works: services load, only the console is blind.
    let logged = std::fs::read_to_string(g.path("inst/robust.log")).expect("log file");
    assert!(logged.contains("GridInfoServerInConnector loaded successfully"));
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);

    // The right assembly, but its DLL missing from the cwd: the same failure.
    let xml = log4net_xml(&g, "OpenSim.Framework.Console");
    std::fs::remove_file(g.bin().join("OpenSim.Framework.Console.dll")).expect("rm dll");
    let mut f = PtyFake::spawn_with_logconfig(&g.bin(), &p, &xml);
    f.wait_prompts(1);
    assert!(f.text().contains("Could not load type 'OpenSim.Framework.Console.OpenSimAppender' from assembly 'OpenSim.Framework.Console, "));
    assert!(!f.text().contains("loaded successfully"));
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);

    // Both right: log lines on the console again.
    std::fs::write(g.bin().join("OpenSim.Framework.Console.dll"), b"").expect("dll");
    let mut f = PtyFake::spawn_with_logconfig(&g.bin(), &p, &xml);
    f.wait_prompts(1);
    assert!(f
        .text()
        .contains("GridInfoServerInConnector loaded successfully"));
    assert!(!f.text().contains("log4net:ERROR"));
    assert!(xml.is_file());
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn without_logconfig_robust_exe_config_logs_into_bin() {
    let g = Grid::new();
    let p = g.ini("a.ini", free_port(), GRID_INFO);
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    assert!(f
        .text()
        .contains("GridInfoServerInConnector loaded successfully"));
    let logged = std::fs::read_to_string(g.bin().join("Robust.log")).expect("bin/Robust.log");
    assert!(logged.contains("GridInfoServerInConnector loaded successfully"));
    assert!(g.bin().join("RobustStats.log").is_file());
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn without_robust_exe_config_nothing_is_logged() {
    let g = Grid::new();
    std::fs::remove_file(g.bin().join("Robust.exe.config")).expect("rm config");
    let p = g.ini("a.ini", free_port(), GRID_INFO);
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    assert!(!f.text().contains("loaded successfully"), "{}", f.text());
    assert!(!g.bin().join("Robust.log").exists());
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn map_tiles_go_where_tiles_storage_path_says() {
    let g = Grid::new();
    let map = "[ServiceList]\nMap = \"OpenSim.Server.Handlers.dll:MapGetServiceConnector\"\n\
               [MapImageService]\nLocalServiceModule = \"OpenSim.Services.MapImageService.dll:MapImageService\"\n";
    // Relative (or unset): against the cwd, bin/.
    let p = g.ini(
        "rel.ini",
        free_port(),
        &format!("{map}TilesStoragePath = \"maptiles\"\n"),
    );
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    assert!(g.bin().join("maptiles").is_dir());
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
    // Absolute: there, and nothing new in bin/.
    std::fs::remove_dir(g.bin().join("maptiles")).expect("rm maptiles");
    let tiles = g.path("shared/maptiles");
    let p = g.ini(
        "abs.ini",
        free_port(),
        &format!("{map}TilesStoragePath = \"{}\"\n", tiles.display()),
    );
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    assert!(tiles.is_dir());
    assert!(!g.bin().join("maptiles").exists());
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn create_user_asks_each_missing_argument_on_the_console() {
    let g = Grid::new();
    let p = g.ini(
        "a.ini",
        free_port(),
        "[ServiceList]\nAccounts = \"OpenSim.Server.Handlers.dll:UserAccountServiceConnector\"\n",
    );
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    f.send(b"create user\r");
    // The questions of 0.9.2.2's HandleCreateUser, one line each, in this order.
    for (question, answer) in [
        ("First name [Default]: ", &b"Foo\r"[..]),
        ("Last name [User]: ", b"Bar\r"),
        ("Password: ", b"s3cret\r"),
        ("Email []: ", b"foo@example.org\r"),
        ("User ID (enter for random) []: ", b"\r"),
        ("Model name []: ", b"\r"),
    ] {
        f.wait_for(question, |t| t.contains(question));
        assert!(
            !f.text().contains("created successfully"),
            "asked too little"
        );
        f.send(answer);
    }
    f.wait_for("the account", |t| {
        t.contains("[USER ACCOUNT SERVICE]: Account Foo Bar ")
    });
    assert!(f.text().contains(" created successfully"));
    assert!(!f.text().contains("s3cret"), "a password is not echoed");

    // Four arguments given: the first question is the user id.
    f.wait_prompts(2);
    f.send(b"create user A B pw a@b.c\r");
    // (The console redraws its line on every key, so the question is looked for in what
    // follows the last redraw of the command.)
    f.wait_for("user id question", |t| {
        t.rfind("create user A B pw a@b.c").is_some_and(|i| {
            let after = &t[i..];
            after.contains("User ID (enter for random) []: ") && !after.contains("name [")
        })
    });
    f.send(b"00000000-0000-0000-0000-00000000000a\r");
    f.wait_for("model question", |t| {
        t.matches("Model name []: ").count() == 2
    });
    f.send(b"\r");
    f.wait_for("second account", |t| {
        t.contains("Account A B 00000000-0000-0000-0000-00000000000a created successfully")
    });
    f.wait_prompts(3);
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn a_pid_file_left_by_kill_9_is_reported_like_robust() {
    let g = Grid::new();
    let p = g.ini("a.ini", free_port(), "");
    let pid = g.path("a.ini.pid");
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    assert!(!f.text().contains("Previous pid file"));
    kill_by_pid(f.pid, Signal::SIGKILL);
    f.wait_exit();
    assert!(pid.exists());
    let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    // The real console line: ERROR level shows no level word, only red after the category.
    let want = format!(
        " - [SERVER BASE]:\x1b[31m Previous pid file {} still exists on startup.  Possibly previously unclean shutdown.\x1b[39;49m\r\n",
        pid.display()
    );
    assert!(f.text().contains(&want), "{}", f.text());
    assert!(f.text().contains(&format!(
        "[SERVER BASE]: Created pid file {}",
        pid.display()
    )));
    assert_eq!(
        std::fs::read_to_string(&pid).expect("pid"),
        f.pid.to_string()
    );
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn term_dumb_shows_no_prompt_and_runs_no_command() {
    let g = Grid::new();
    let p = g.ini("a.ini", free_port(), GRID_INFO);
    let mut f = PtyFake::spawn(
        &g.bin(),
        &[&format!("-inifile={}", p.display())],
        &[("TERM", "dumb")],
        true,
    );
    f.wait_for("startup logo", |t| t.contains("[!] "));
    f.send(b"shutdown\r");
    // The terminal echoes the keys; the console never acts on them.
    f.wait_for("echo", |t| t.contains("shutdown"));
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        assert!(
            f.child.try_wait().expect("try_wait").is_none(),
            "ran the command"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!f.text().contains(PROMPT));
    assert!(f.queries.lock().expect("q").is_empty());
    kill_by_pid(f.pid, Signal::SIGINT);
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn a_zero_sized_window_loops_on_command_errors() {
    let g = Grid::new();
    let p = g.ini("a.ini", free_port(), "");
    let mut f = PtyFake::spawn_sized(
        &g.bin(),
        &[&format!("-inifile={}", p.display())],
        &[],
        true,
        (0, 0),
    );
    f.wait_for("command errors", |t| {
        t.matches("Command error: System.ArgumentOutOfRangeException: Value must be positive and below the buffer width.")
            .count()
            >= 20
    });
    assert!(!f.text().contains(PROMPT));
    kill_by_pid(f.pid, Signal::SIGINT);
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn outside_bin_every_connector_fails_but_the_process_stays_up() {
    let g = Grid::new();
    let port = free_port();
    let p = g.ini("a.ini", port, GRID_INFO);
    // cwd = the parent of bin/: no connector DLL resolves there. The real Robust loads
    // log4net's assemblies from its exe's directory; the fake has none but its cwd, so
    // those two stand in for it there.
    let xml = log4net_xml(&g, "OpenSim.Framework.Console");
    for dll in ["log4net.dll", "OpenSim.Framework.Console.dll"] {
        std::fs::write(g.path(dll), b"").expect("dll");
    }
    let mut f = PtyFake::spawn_with_logconfig(&g.path(""), &p, &xml);
    f.wait_prompts(1);
    let out = f.text();
    assert!(!out.contains("loaded successfully"), "{out}");
    assert!(
        out.contains(
            "[SERVER]: Failed to load OpenSim.Server.Handlers.dll:GridInfoServerInConnector"
        ),
        "{out}"
    );
    let logged = std::fs::read_to_string(g.path("inst/robust.log")).expect("log");
    assert!(logged.contains(
        "[SERVER]: Failed to load OpenSim.Server.Handlers.dll:GridInfoServerInConnector"
    ));
    assert_eq!(status_of(&http(port, "GET", "/get_grid_info")), "404");
    f.send(b"shutdown\r");
    assert_eq!(f.wait_exit().exit_code(), 0);
}

#[test]
fn a_remote_connector_host_that_does_not_resolve_is_left_out_loudly() {
    let g = Grid::new();
    let ini = |host: &str| {
        format!(
            "[ServiceList]\nA = \"OpenSim.Server.Handlers.dll:UserAccountServiceConnector\"\n\
             [UserAccountService]\nLocalServiceModule = \"OpenSim.Services.UserAccountService.dll:UserAccountService\"\n\
             GridUserService = \"OpenSim.Services.Connectors.dll:GridUserServicesConnector\"\n\
             [GridUserService]\nGridUserServerURI = \"http://{host}:8003\"\n"
        )
    };
    for (name, host, fails) in [
        ("bad", "griduser.nonexistent.invalid", true),
        ("good", "127.0.0.1", false),
    ] {
        let p = g.ini(&format!("{name}.ini"), free_port(), &ini(host));
        let mut f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
        f.wait_prompts(1);
        let out = f.text();
        // Measured on 0.9.2.2: ERROR (red), then the in-connector still "loaded".
        assert_eq!(
            out.contains("[GRIDUSER CONNECTOR]:\x1b[31m Could not resolve GridUserServerURI"),
            fails,
            "{name}: {out}"
        );
        assert_eq!(
            out.contains("Failed to load plugin OpenSim.Services.Interfaces.IGridUserService"),
            fails,
            "{out}"
        );
        assert!(
            out.contains("UserAccountServiceConnector loaded successfully"),
            "{out}"
        );
        f.send(b"shutdown\r");
        assert_eq!(f.wait_exit().exit_code(), 0);
    }
}

// ---------------------------------------------------------------------------------------
// The fake simulator (`fake-robust OpenSim.exe ...`, docs/simulator.md) against a fake
// Robust hosting the grid service, or against a recorder that stands in for one.

const OWNER_ID: &str = "11111111-0000-0000-0000-000000000001";
const GRID_AND_ACCOUNTS: &str = "[ServiceList]\n\
    Grid = \"OpenSim.Server.Handlers.dll:GridServiceConnector\"\n\
    Accounts = \"OpenSim.Server.Handlers.dll:UserAccountServiceConnector\"\n";

/// A fake Robust copy hosting the grid service and accounts, `users` known from the start.
fn grid_robust(g: &Grid, port: u16, users: &str) -> PtyFake {
    let p = g.ini(
        "robust.ini",
        port,
        &format!("{GRID_AND_ACCOUNTS}[FakeRobust]\nUsers = \"{users}\"\n"),
    );
    let f = PtyFake::spawn(&g.bin(), &[&format!("-inifile={}", p.display())], &[], true);
    f.wait_prompts(1);
    f
}

/// A simulator's files laid out as gridctl renders them: `OpenSim.ini` with absolute
/// includes (`Grid.ini` → `GridCommon.ini`), the override directory `config/` (which sets
/// the real HTTP port over the ini's), `Regions/`, and a log4net config.
struct SimSpec<'a> {
    name: &'a str,
    http_port: u16,
    grid_url: String,
    accounts_url: String,
    /// `[Estates]` lines.
    estates: &'a str,
    /// `(name, x, y)`.
    regions: &'a [(&'a str, u32, u32)],
}

impl SimSpec<'_> {
    /// Writes the files under `g`; the simulator's directory.
    fn write(&self, g: &Grid) -> PathBuf {
        let dir = g.path(self.name);
        let d = dir.display();
        g.write(
            &format!("{}/OpenSim.ini", self.name),
            &format!(
                "[Startup]\nPIDFile = \"{d}/OpenSim.pid\"\nregionload_regionsdir = \"{d}/Regions\"\n\
                 [Network]\nhttp_listener_port = 1\n[Estates]\n{}\n\
                 [Architecture]\nInclude-Architecture = \"{d}/config-include/Grid.ini\"\n",
                self.estates
            ),
        );
        g.write(
            &format!("{}/config-include/Grid.ini", self.name),
            &format!(
                "[Includes]\nInclude-Common = \"{d}/config-include/GridCommon.ini\"\n\
                 [SimulationDataStore]\nLocalServiceModule = \"OpenSim.Services.SimulationService.dll:SimulationDataService\"\n"
            ),
        );
        g.write(
            &format!("{}/config-include/GridCommon.ini", self.name),
            &format!(
                "[GridService]\nGridServerURI = \"{}\"\n[UserAccountService]\nUserAccountServerURI = \"{}\"\n",
                self.grid_url, self.accounts_url
            ),
        );
        g.write(
            &format!("{}/config/overrides.ini", self.name),
            &format!("[Network]\nhttp_listener_port = {}\n", self.http_port),
        );
        let mut regions = String::new();
        for (i, (name, x, y)) in self.regions.iter().enumerate() {
            regions.push_str(&format!(
                "[{name}]\nRegionUUID = \"{:08x}-0000-4000-8000-000000000000\"\nLocation = \"{x},{y}\"\n\
                 InternalAddress = \"127.0.0.1\"\nInternalPort = {}\nAllowAlternatePorts = False\nExternalHostName = \"127.0.0.1\"\n",
                i + 1,
                self.http_port as usize + i + 1
            ));
        }
        g.write(&format!("{}/Regions/Regions.ini", self.name), &regions);
        g.write(
            &format!("{}/log4net.xml", self.name),
            &format!(
                r#"<log4net>
  <appender name="Console" type="OpenSim.Framework.Console.OpenSimAppender, OpenSim.Framework.Console">
    <layout type="log4net.Layout.PatternLayout"><conversionPattern value="%date{{HH:mm:ss}} - %message" /></layout>
  </appender>
  <appender name="LogFileAppender" type="log4net.Appender.FileAppender"><file value="{d}/OpenSim.log" /></appender>
  <root><appender-ref ref="Console" /><appender-ref ref="LogFileAppender" /></root>
</log4net>
"#
            ),
        );
        dir
    }

    /// Writes the files and starts the simulator as gridctl does (cwd bin/).
    fn spawn(&self, g: &Grid, env: &[(&str, &str)]) -> (PathBuf, PtyFake) {
        let dir = self.write(g);
        let args = [
            "OpenSim.exe".to_string(),
            format!("-inifile={}/OpenSim.ini", dir.display()),
            format!("-inidirectory={}/config", dir.display()),
            format!("-logconfig={}/log4net.xml", dir.display()),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let f = PtyFake::spawn(&g.bin(), &args, env, true);
        (dir, f)
    }
}

/// A form POST with `Connection: close`; the whole response.
fn post_form(port: u16, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

/// Robust's answer to `get_region_by_name` for `name`.
fn region_by_name(robust_port: u16, name: &str) -> String {
    post_form(
        robust_port,
        "/grid",
        &format!(
            "METHOD=get_region_by_name&SCOPEID=00000000-0000-0000-0000-000000000000&NAME={name}"
        ),
    )
}

const NULL_RESULT: &str =
    "<?xml version=\"1.0\"?><ServerResponse><result>null</result></ServerResponse>";

/// What follows the last occurrence of `marker` in `text` (empty when absent).
fn after<'a>(text: &'a str, marker: &str) -> &'a str {
    text.rfind(marker).map_or("", |i| &text[i + marker.len()..])
}

#[test]
fn simulator_registers_enables_logins_answers_and_deregisters_on_shutdown() {
    let g = Grid::new();
    let robust_port = free_port();
    let robust = grid_robust(&g, robust_port, &format!("Lab Owner={OWNER_ID}"));
    let sim_port = free_port();
    let spec = SimSpec {
        name: "sim",
        http_port: sim_port,
        grid_url: format!("http://127.0.0.1:{robust_port}"),
        accounts_url: format!("http://127.0.0.1:{robust_port}"),
        estates: "DefaultEstateName = \"Lab Estate\"\nDefaultEstateOwnerName = \"Lab Owner\"",
        regions: &[("Lab One", 1000, 1000), ("Lab Two", 1001, 1000)],
    };
    let (dir, mut sim) = spec.spawn(&g, &[]);
    sim.wait_for("the prompt", |t| t.contains("Region (root) # "));
    let out = sim.text();
    // Both regions registered before the first LOGINS ENABLED line, then the prompt.
    let registered = out
        .find("registered at 1001,1000 with flags RegionOnline")
        .expect("Lab Two registered");
    let enabled_one = out
        .find("INITIALIZATION COMPLETE FOR Lab One - LOGINS ENABLED")
        .expect("Lab One enabled");
    let enabled_two = out
        .find("INITIALIZATION COMPLETE FOR Lab Two - LOGINS ENABLED")
        .expect("Lab Two enabled");
    assert!(
        registered < enabled_one && enabled_one < enabled_two,
        "{out}"
    );
    assert!(out.contains("Currently selected region is root"), "{out}");
    // LocalConsole asks for the cursor once, at start-up, before any prompt.
    assert_eq!(sim.queries.lock().expect("q").len(), 1, "{out}");
    assert!(out.find("\x1b[6n") < out.find("Region (root) # "));
    assert!(out.contains("Estate Lab Estate has no owner set."), "{out}");
    assert!(
        !out.contains("\x1b[31m"),
        "no ERROR on a normal start: {out}"
    );
    // The fake Robust knows both regions; the owner is the account from the knob.
    let found = region_by_name(robust_port, "lab one");
    assert!(
        found.contains("<regionName>Lab One</regionName>"),
        "{found}"
    );
    assert!(
        found.contains(&format!("<owner_uuid>{OWNER_ID}</owner_uuid>")),
        "{found}"
    );
    assert!(
        found.contains(&format!(
            "<serverURI>http://127.0.0.1:{sim_port}/</serverURI>"
        )),
        "the port of config/ overrides OpenSim.ini's: {found}"
    );
    assert!(region_by_name(robust_port, "Nowhere").ends_with(NULL_RESULT));
    robust.wait_for("Robust's log line", |t| {
        t.contains("[GRID SERVICE]: Region Lab Two (00000002-0000-4000-8000-000000000000, 256x256) registered at 1001,1000 with flags RegionOnline")
    });
    let status = http(sim_port, "GET", "/simstatus/");
    assert_eq!(status_of(&status), "200");
    assert!(status.ends_with("\r\n\r\nOK"), "{status}");
    let pid = std::fs::read_to_string(dir.join("OpenSim.pid")).expect("pid file");
    assert_eq!(pid.trim(), sim.pid.to_string());

    sim.send(b"alert hello\r");
    sim.wait_for("the alerts", |t| {
        t.contains("[DIALOG]: Sending general alert in region Lab One with message hello \r\n")
            && t.contains(
                "[DIALOG]: Sending general alert in region Lab Two with message hello \r\n",
            )
    });
    sim.send(b"show regions\r");
    sim.wait_for("the region table", |t| {
        t.contains("Name                  ID                                    Position     Size         Port   Ready?  Estate              \r\n")
            && t.contains("Lab Two               00000002-0000-4000-8000-000000000000  1001,1000    256x256      ")
    });
    sim.send(b"show users\r");
    sim.wait_for("the user count", |t| {
        t.contains("\r\nRoot agents in region Lab Two: 0 (root 0, child 0)\r\n")
    });
    sim.send(b"shutdown\r");
    assert_eq!(sim.wait_exit().exit_code(), 0);
    sim.wait_for("the last line", |t| {
        t.contains("[SHUTDOWN]: Shutdown processing on main thread complete.  Exiting...")
    });
    assert!(!dir.join("OpenSim.pid").exists(), "PID file removed");
    assert!(region_by_name(robust_port, "Lab One").ends_with(NULL_RESULT));
    assert!(region_by_name(robust_port, "Lab Two").ends_with(NULL_RESULT));
    robust.wait_for("deregistrations", |t| {
        t.contains("[GRID SERVICE]: Deregistering region Lab One (00000001-0000-4000-8000-000000000000) at 1000-1000")
    });
}

#[test]
fn simulator_asks_for_estate_and_owner_and_asks_again_for_an_unknown_owner() {
    let g = Grid::new();
    let robust_port = free_port();
    let _robust = grid_robust(&g, robust_port, &format!("Lab Owner={OWNER_ID}"));
    let sim_port = free_port();
    let spec = SimSpec {
        name: "sim",
        http_port: sim_port,
        grid_url: format!("http://127.0.0.1:{robust_port}"),
        accounts_url: format!("http://127.0.0.1:{robust_port}"),
        estates: "",
        regions: &[("Asker", 1010, 1000)],
    };
    let (_dir, mut sim) = spec.spawn(&g, &[]);
    sim.wait_for("the estate question", |t| {
        t.contains("[ESTATE]: No existing estates found.  You must create a new one.")
            && after(t, "You must create a new one.").contains("New estate name [My Estate]: ")
    });
    // Waiting on the console: not registered, and the HTTP handlers are not there yet.
    assert!(region_by_name(robust_port, "Asker").ends_with(NULL_RESULT));
    assert_eq!(status_of(&http(sim_port, "GET", "/simstatus/")), "404");
    sim.send(b"Test Estate\r");
    sim.wait_for("the owner question", |t| {
        after(t, "Estate Test Estate has no owner set.")
            .contains("Estate owner first name [Test]: ")
    });
    sim.send(b"No\r");
    sim.wait_for("the last name question", |t| {
        after(t, "Estate owner first name [Test]: No").contains("Estate owner last name [User]: ")
    });
    sim.send(b"Body\r");
    // Not on the grid: an ERROR, then the same questions again.
    sim.wait_for("the owner question again", |t| {
        after(t, "\x1b[31m Unable to store account. If this simulator is connected to a grid, you must create the estate owner account first at the grid level.")
            .contains("Estate owner first name [Test]: ")
    });
    sim.send(b"Lab\r");
    sim.wait_for("the last name question again", |t| {
        after(t, "Estate owner first name [Test]: Lab").contains("Estate owner last name [User]: ")
    });
    sim.send(b"Owner\r");
    sim.wait_for("the prompt", |t| {
        t.contains("INITIALIZATION COMPLETE FOR Asker - LOGINS ENABLED")
            && t.contains("Region (Asker) # ")
    });
    let found = region_by_name(robust_port, "Asker");
    assert!(
        found.contains(&format!("<owner_uuid>{OWNER_ID}</owner_uuid>")),
        "{found}"
    );
    sim.send(b"show regions\r");
    sim.wait_for("the estate in the table", |t| {
        t.contains("  Yes     Test Estate")
    });
    sim.send(b"quit\r");
    assert_eq!(sim.wait_exit().exit_code(), 0);
}

#[test]
fn simulator_with_an_owner_missing_from_the_grid_loops_on_errors_and_never_registers() {
    let g = Grid::new();
    let robust_port = free_port();
    let _robust = grid_robust(&g, robust_port, "");
    let spec = SimSpec {
        name: "sim",
        http_port: free_port(),
        grid_url: format!("http://127.0.0.1:{robust_port}"),
        accounts_url: format!("http://127.0.0.1:{robust_port}"),
        estates: "DefaultEstateName = \"Lab Estate\"\nDefaultEstateOwnerName = \"Nobody Here\"",
        regions: &[("Ghost", 1020, 1000)],
    };
    let (dir, mut sim) = spec.spawn(&g, &[]);
    // No question is asked: the configured name is looked up again and again.
    sim.wait_for("repeated errors", |t| {
        t.matches("\x1b[31m Unable to store account.").count() >= 5
            && t.matches("Estate Lab Estate has no owner set.").count() >= 5
    });
    let out = sim.text();
    assert!(!out.contains("Estate owner first name"), "{out}");
    assert!(!out.contains("LOGINS ENABLED"), "{out}");
    assert!(region_by_name(robust_port, "Ghost").ends_with(NULL_RESULT));
    kill_by_pid(sim.pid, Signal::SIGTERM);
    assert_eq!(sim.wait_exit().signal(), Some("Terminated"));
    assert!(
        dir.join("OpenSim.pid").exists(),
        "SIGTERM leaves the PID file"
    );
}

#[test]
fn simulator_registration_failure_logs_errors_then_hangs_until_sigterm() {
    let g = Grid::new();
    let robust_port = free_port();
    let _robust = grid_robust(&g, robust_port, &format!("Lab Owner={OWNER_ID}"));
    let estates = "DefaultEstateName = \"Lab Estate\"\nDefaultEstateOwnerName = \"Lab Owner\"";
    let unresolvable = "http://grid.nonexistent.invalid:9";
    let reachable = format!("http://127.0.0.1:{robust_port}");
    /// `(case, GridServerURI, environment, the first ERROR expected)`.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], String);
    let cases: [Case; 2] = [
        (
            "unresolvable",
            unresolvable,
            &[],
            format!("[GRID CONNECTOR]:\x1b[31m Exception when contacting grid server at {unresolvable}/grid: Error: NameResolutionFailure"),
        ),
        (
            "refused",
            &reachable,
            &[("FAKE_ROBUST_REGISTER_FAIL", "Region overlaps another region")],
            format!("[GRID CONNECTOR]:\x1b[31m Registration failed: Region overlaps another region when contacting {reachable}/grid"),
        ),
    ];
    for (name, grid_url, env, first_error) in cases {
        let sim_port = free_port();
        let spec = SimSpec {
            name,
            http_port: sim_port,
            grid_url: grid_url.to_string(),
            accounts_url: reachable.clone(),
            estates,
            regions: &[("Lost", 1040, 1000)],
        };
        let (dir, mut sim) = spec.spawn(&g, env);
        sim.wait_for("the abort", |t| {
            t.contains("[STARTUP]:\x1b[31m Registration of region with grid failed, aborting startup due to ")
                && t.contains("  at OpenSim.OpenSimBase.CreateRegion (")
        });
        let out = sim.text();
        assert!(out.contains(&first_error), "{name}: {out}");
        assert!(
            !out.contains("LOGINS ENABLED") && !out.contains("Region (Lost) # "),
            "{out}"
        );
        // Hung: the HTTP port is open, yet nothing answers.
        let mut s = TcpStream::connect(("127.0.0.1", sim_port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        s.write_all(b"GET /simstatus/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut buf = [0u8; 64];
        assert!(
            s.read(&mut buf).is_err(),
            "{name}: a hung simulator answered"
        );
        // SIGINT is ignored (the signals are handled in order: a shutdown it started would
        // exit 0 before SIGTERM is even looked at); SIGTERM kills.
        kill_by_pid(sim.pid, Signal::SIGINT);
        kill_by_pid(sim.pid, Signal::SIGTERM);
        assert_eq!(sim.wait_exit().signal(), Some("Terminated"), "{name}");
        assert!(dir.join("OpenSim.pid").exists());
        assert!(!sim.text().contains("[SHUTDOWN]"), "{name}");
    }
}

#[test]
fn simulator_sigint_deregisters_and_sigterm_leaves_the_region_registered() {
    let g = Grid::new();
    let robust_port = free_port();
    let _robust = grid_robust(&g, robust_port, &format!("Lab Owner={OWNER_ID}"));
    for (name, sig) in [("int", Signal::SIGINT), ("term", Signal::SIGTERM)] {
        let spec = SimSpec {
            name,
            http_port: free_port(),
            grid_url: format!("http://127.0.0.1:{robust_port}"),
            accounts_url: format!("http://127.0.0.1:{robust_port}"),
            estates: "DefaultEstateName = \"E\"\nDefaultEstateOwnerName = \"Lab Owner\"",
            regions: &[(name, 1050, 1000)],
        };
        let (dir, mut sim) = spec.spawn(&g, &[]);
        sim.wait_for("the prompt", |t| t.contains(&format!("Region ({name}) # ")));
        kill_by_pid(sim.pid, sig);
        let status = sim.wait_exit();
        let answer = region_by_name(robust_port, name);
        if sig == Signal::SIGINT {
            assert_eq!(status.exit_code(), 0);
            // (The PTY may still hold the last lines when the exit is seen.)
            sim.wait_for("the deregistration", |t| {
                t.contains(&format!("[GRID SERVICE]: Deregistering region {name} ("))
            });
            assert!(answer.ends_with(NULL_RESULT), "{answer}");
            assert!(!dir.join("OpenSim.pid").exists());
        } else {
            assert_eq!(status.signal(), Some("Terminated"));
            assert!(
                answer.contains(&format!("<regionName>{name}</regionName>")),
                "{answer}"
            );
            assert!(dir.join("OpenSim.pid").exists());
        }
    }
}

/// Stands in for Robust: answers every request (registration succeeds, the owner exists)
/// and keeps each request's bytes.
struct Recorder {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || Recorder::serve(stream, &seen));
            }
        });
        Recorder { port, requests }
    }

    fn serve(mut s: TcpStream, seen: &Mutex<Vec<String>>) {
        let _ = s.set_read_timeout(Some(DEADLINE));
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        // Headers, then as many body bytes as Content-Length says.
        loop {
            let text = String::from_utf8_lossy(&raw).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
                if raw.len() >= end + 4 + length {
                    break;
                }
            }
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
        let request = String::from_utf8_lossy(&raw).into_owned();
        let body = if request.contains("METHOD=getaccount") {
            format!("<?xml version=\"1.0\"?><ServerResponse><result type=\"List\"><FirstName>Lab</FirstName><LastName>Owner</LastName><PrincipalID>{OWNER_ID}</PrincipalID></result></ServerResponse>")
        } else if request.contains("METHOD=register") || request.contains("METHOD=deregister") {
            "<?xml version=\"1.0\"?>\n<ServerResponse>\n  <Result>Success</Result>\n</ServerResponse>".into()
        } else {
            "<?xml version=\"1.0\"?><ServerResponse></ServerResponse>".into()
        };
        seen.lock().expect("requests").push(request);
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }
}

#[test]
fn simulator_sends_the_measured_requests_and_reaches_names_through_the_resolve_knob() {
    let g = Grid::new();
    let rec = Recorder::start();
    let port = rec.port;
    let sim_port = free_port();
    let spec = SimSpec {
        name: "sim",
        http_port: sim_port,
        grid_url: format!("http://grid.robust.internal:{port}"),
        accounts_url: format!("http://accounts.robust.internal:{port}"),
        estates: "DefaultEstateName = \"E\"\nDefaultEstateOwnerName = \"Lab Owner\"",
        regions: &[("Lab One", 1000, 1000)],
    };
    let (_dir, mut sim) = spec.spawn(
        &g,
        &[("FAKE_ROBUST_RESOLVE", "*.robust.internal=127.0.0.1")],
    );
    sim.wait_for("the prompt", |t| t.contains("Region (Lab One) # "));
    let requests = rec.requests();
    let head = |len: usize, host: &str| {
        format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\nConnection: keep-alive\r\nHost: {host}:{port}\r\n\r\n"
        )
    };
    let account = "VERSIONMIN=1&VERSIONMAX=1&METHOD=getaccount&ScopeID=00000000-0000-0000-0000-000000000000&FirstName=Lab&LastName=Owner";
    assert_eq!(
        requests[0],
        format!(
            "POST /accounts HTTP/1.1\r\n{}{account}",
            head(account.len(), "accounts.robust.internal")
        )
    );
    let features = "METHOD=get_grid_extra_features";
    assert_eq!(
        requests[1],
        format!(
            "POST /grid HTTP/1.1\r\n{}{features}",
            head(features.len(), "grid.robust.internal")
        )
    );
    // The register call: the measured keys, in the measured order.
    let register = after(&requests[2], "\r\n\r\n");
    assert!(
        requests[2].starts_with("POST /grid HTTP/1.1\r\n"),
        "{}",
        requests[2]
    );
    assert!(requests[2].contains(&head(register.len(), "grid.robust.internal")));
    let keys: Vec<&str> = register
        .split('&')
        .map(|kv| kv.split('=').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "uuid",
            "locX",
            "locY",
            "sizeX",
            "sizeY",
            "regionName",
            "serverIP",
            "serverHttpPort",
            "serverURI",
            "serverPort",
            "regionMapTexture",
            "parcelMapTexture",
            "access",
            "regionSecret",
            "owner_uuid",
            "Token",
            "SCOPEID",
            "VERSIONMIN",
            "VERSIONMAX",
            "METHOD",
        ]
    );
    for kv in [
        "uuid=00000001-0000-4000-8000-000000000000",
        "locX=256000",
        "locY=256000",
        "regionName=Lab+One",
        &format!("serverHttpPort={sim_port}"),
        &format!("serverURI=http%3a%2f%2f127.0.0.1%3a{sim_port}%2f"),
        &format!("serverPort={}", sim_port as usize + 1),
        &format!("owner_uuid={OWNER_ID}"),
        "&Token&",
        "METHOD=register",
    ] {
        assert!(register.contains(kv), "{kv} in {register}");
    }
    sim.send(b"quit\r");
    assert_eq!(sim.wait_exit().exit_code(), 0);
    let last = rec.requests().pop().expect("a request");
    assert!(
        last.ends_with("\r\n\r\nREGIONID=00000001-0000-4000-8000-000000000000&METHOD=deregister"),
        "{last}"
    );
    assert!(last.contains(&format!("Host: grid.robust.internal:{port}\r\n")));
}

#[test]
fn simulator_mode_needs_opensim_exe_in_the_working_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = run_to_exit(dir.path(), &["OpenSim.exe", "-inifile=/nonexistent.ini"]);
    assert_eq!(code, 2);
    assert_eq!(
        out.trim(),
        "Cannot open assembly 'OpenSim.exe': No such file or directory."
    );
}
