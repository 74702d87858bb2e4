//! Support for the whole-grid part of `tests/real_robust.rs`: real logins. `GridBot` (a
//! small viewer on the real viewer library OpenSim ships, `bot/GridBot.cs`) is compiled
//! with Debian's `mcs` and run as loops of full logins; an XML-RPC `login_to_simulator`
//! is sent as a viewer sends it. Every bot process is started here and ended by pid.
#![allow(dead_code)] // not every helper is used by every step

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The bot's C# source, beside this file.
pub fn bot_source() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/real_grid_support/bot/GridBot.cs")
}

/// Compiles GridBot against the viewer library in `bin` into `out_dir`; the exe's path.
pub fn compile_bot(bin: &Path, out_dir: &Path) -> PathBuf {
    std::fs::create_dir_all(out_dir).expect("bot dir");
    let exe = out_dir.join("GridBot.exe");
    let reference = |dll: &str| format!("-r:{}", bin.join(dll).display());
    let out = Command::new("mcs")
        .arg(format!("-out:{}", exe.display()))
        .arg(reference("OpenMetaverse.dll"))
        .arg(reference("OpenMetaverseTypes.dll"))
        .arg(reference("OpenMetaverse.StructuredData.dll"))
        .arg(bot_source())
        .current_dir(out_dir)
        .stdin(Stdio::null())
        .output()
        .expect("run mcs");
    assert!(
        out.status.success() && exe.is_file(),
        "mcs could not compile GridBot: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// One login attempt as the bot reports it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub ok: bool,
    pub login_ms: u64,
    pub inventory_ms: u64,
    pub inventory_entries: u64,
    pub texture_bytes: u64,
    pub error: Option<String>,
    pub alerts: Vec<String>,
    /// When the line reached the test (the attempt ended just before).
    pub at: Instant,
    pub raw: String,
}

impl Attempt {
    fn parse(line: &str, at: Instant) -> Attempt {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("GridBot printed a line that is not JSON ({e}): {line}"));
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        Attempt {
            ok: v["ok"].as_bool().unwrap_or(false),
            login_ms: n("login_ms"),
            inventory_ms: n("inventory_ms"),
            inventory_entries: n("inventory_entries"),
            texture_bytes: n("texture_bytes"),
            error: v["error"].as_str().map(str::to_string),
            alerts: v["alerts"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            at,
            raw: line.to_string(),
        }
    }
}

/// A running GridBot process: its attempts as they are reported.
pub struct Bot {
    child: Child,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    stderr: PathBuf,
    pub user: String,
}

/// What a bot is asked to do.
pub struct BotArgs<'a> {
    pub login_uri: &'a str,
    pub first: &'a str,
    pub last: &'a str,
    pub password: &'a str,
    pub start: Option<&'a str>,
    pub times: Option<u32>,
    /// Upper bound of a loop (it ends by itself).
    pub seconds: Option<u32>,
    pub stop_file: Option<&'a Path>,
    pub hold_ms: u32,
}

impl Bot {
    /// Starts `exe` with the viewer library from `bin`, in the scratch directory `cwd`
    /// (the bot writes nothing; nothing may land in bin/).
    pub fn start(exe: &Path, bin: &Path, cwd: &Path, a: &BotArgs) -> Bot {
        std::fs::create_dir_all(cwd).expect("bot cwd");
        let stderr = cwd.join(format!("bot-{}-{}.stderr", a.first, a.last));
        let mut cmd = Command::new("mono");
        cmd.arg(exe)
            .args(["--login", a.login_uri, "--first", a.first, "--last", a.last])
            .args(["--password", a.password, "--timeout-ms", "20000"])
            .args(["--hold-ms", &a.hold_ms.to_string()]);
        if let Some(s) = a.start {
            cmd.args(["--start", s]);
        }
        if let Some(n) = a.times {
            cmd.args(["--times", &n.to_string()]);
        }
        if let Some(s) = a.seconds {
            cmd.args(["--seconds", &s.to_string()]);
        }
        if let Some(f) = a.stop_file {
            cmd.arg("--stop-file").arg(f);
        }
        let err = std::fs::File::create(&stderr).expect("bot stderr file");
        let mut child = cmd
            .env("MONO_PATH", bin)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("start GridBot under mono");
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("bot stdout");
        let sink = attempts.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.trim().is_empty() {
                    continue;
                }
                let a = Attempt::parse(&line, Instant::now());
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(a);
            }
        });
        Bot {
            child,
            attempts,
            reader: Some(reader),
            stderr,
            user: format!("{} {}", a.first, a.last),
        }
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits (bounded) for the bot to end by itself; its attempts and exit code.
    pub fn finish(mut self, timeout: Duration) -> (Vec<Attempt>, Option<i32>) {
        let status = crate::common::wait::wait_child(&mut self.child, timeout);
        if status.is_none() {
            crate::common::procs::kill_pid(self.child.id());
            let _ = self.child.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (self.attempts(), status.and_then(|s| s.code()))
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            crate::common::procs::kill_pid(self.child.id());
            let _ = self.child.wait();
        }
    }
}

/// The `p`-th percentile (0..=100) of `v`, nearest rank.
pub fn percentile(v: &[u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

/// `$1$` + md5 of the password, as viewers send it in `passwd`.
pub fn viewer_password(password: &str) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run md5sum");
    child
        .stdin
        .take()
        .expect("md5sum stdin")
        .write_all(password.as_bytes())
        .expect("write to md5sum");
    let out = child.wait_with_output().expect("md5sum output");
    let hex = String::from_utf8_lossy(&out.stdout);
    format!("$1${}", hex.split_whitespace().next().unwrap_or_default())
}

/// What a `login_to_simulator` answered: the struct's members as text.
#[derive(Debug)]
pub struct LoginReply {
    pub body: String,
    pub took: Duration,
}

impl LoginReply {
    /// The value of member `name` (`login`, `sim_port`, `region_x`, `message`, ...).
    pub fn member(&self, name: &str) -> Option<String> {
        let key = format!("<name>{name}</name>");
        let at = self.body.find(&key)? + key.len();
        let rest = &self.body[at..];
        let value = rest.find("<value>")? + "<value>".len();
        let rest = &rest[value..];
        // <value><string>x</string></value>, <value><i4>1</i4></value> or <value>x</value>
        let inner = match rest.strip_prefix('<') {
            Some(tagged) => {
                let close = tagged.find('>')?;
                let tag = &tagged[..close];
                let end = tagged.find(&format!("</{tag}>"))?;
                tagged[close + 1..end].to_string()
            }
            None => rest[..rest.find("</value>")?].to_string(),
        };
        Some(inner)
    }
}

/// An XML-RPC `login_to_simulator` as a viewer sends it, to `addr` with `Host: host`
/// (nginx's public listener and the login hostname).
pub fn xmlrpc_login(
    addr: SocketAddr,
    host: &str,
    first: &str,
    last: &str,
    password: &str,
    start: &str,
) -> Result<LoginReply, String> {
    let member = |name: &str, value: &str| {
        format!("<member><name>{name}</name><value><string>{value}</string></value></member>")
    };
    let body = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>login_to_simulator</methodName><params><param><value><struct>{}{}{}{}{}{}{}{}{}{}<member><name>options</name><value><array><data><value><string>inventory-root</string></value><value><string>inventory-skeleton</string></value></data></array></value></member></struct></value></param></params></methodCall>",
        member("first", first),
        member("last", last),
        member("passwd", &viewer_password(password)),
        member("start", start),
        member("channel", "gridctl test"),
        member("version", "0.1.0"),
        member("platform", "Lin"),
        member("mac", "00:00:00:00:00:00"),
        member("id0", "00000000000000000000000000000000"),
        member("viewer_digest", "00000000-0000-0000-0000-000000000000"),
    );
    let started = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut response = String::new();
    s.read_to_string(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    let status = response.lines().next().unwrap_or_default().to_string();
    if !status.contains(" 200 ") {
        return Err(format!("login answered `{status}`"));
    }
    Ok(LoginReply {
        body: response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
        took: started.elapsed(),
    })
}
