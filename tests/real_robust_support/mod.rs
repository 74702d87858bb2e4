//! Support for `tests/real_robust.rs`: the real OpenSim Robust 0.9.2.2 from
//! `../shared/robust` unpacked into a scratch directory, a private MariaDB and a private
//! nginx (own data dir / prefix, free loopback ports, stopped by pid), the service
//! hostnames in a marked block of `/etc/hosts` (the request loop is `common::load`).
//!
//! Everything here is started by the test and ended by the test, by pid, on every path
//! (the guards' `Drop`s run when an assertion fails too).
#![allow(dead_code)] // not every helper is used by every step

pub mod services;

pub use crate::common::ports::reserve_ports;
pub use crate::common::procs::{kill, Pids};
pub use crate::common::run::{run_to_end, Out};
pub use crate::common::wait::{wait_child, wait_for};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Set by `.ci/run`: a missing real Robust (or Mono, MariaDB, nginx) is then a failure,
/// not a skip.
pub const REQUIRE_ENV: &str = "GRIDCTL_REQUIRE_REAL_ROBUST";

/// `../shared/robust` beside the repository: the runnable Robust 0.9.2.2 archive.
pub fn shared_robust() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/robust")
}

/// `../shared/opensim` beside the repository: the full OpenSim 0.9.2.2 `bin/` (the
/// simulator `OpenSim.exe`, `Robust.exe` and the viewer library), a superset of
/// `../shared/robust`.
pub fn shared_opensim() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/opensim")
}

/// Why the real Robust suite cannot run here, if it cannot: a missing archive or tool.
pub fn missing_prerequisite() -> Option<String> {
    missing(&shared_robust(), &[])
}

/// Why the whole real grid (Robust, simulators, logins) cannot run here, if it cannot.
pub fn missing_grid_prerequisite() -> Option<String> {
    missing(&shared_opensim(), &[("mcs", "mono-complete")])
}

fn missing(shared: &Path, more: &[(&str, &str)]) -> Option<String> {
    if !shared.join("install.sh").is_file() {
        return Some(format!(
            "{} is missing (a plain clone has no ../shared)",
            shared.display()
        ));
    }
    for (tool, package) in more {
        if which(tool).is_none() {
            return Some(format!(
                "`{tool}` is not installed (Debian package {package}; `bash .ci/deps.sh` installs it)"
            ));
        }
    }
    for (tool, package) in [
        ("mono", "mono-complete"),
        ("mariadbd", "mariadb-server"),
        ("mariadb-install-db", "mariadb-server"),
        ("mariadb", "mariadb-client"),
        ("nginx", "nginx-light"),
    ] {
        if which(tool).is_none() {
            return Some(format!(
                "`{tool}` is not installed (Debian package {package}; `bash .ci/deps.sh` installs it)"
            ));
        }
    }
    if !hosts_writable() {
        return Some("/etc/hosts is not writable (the test adds its hostnames there)".into());
    }
    None
}

/// The path of `tool` on PATH or in /usr/sbin, /usr/bin.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn hosts_writable() -> bool {
    std::fs::OpenOptions::new()
        .append(true)
        .open("/etc/hosts")
        .is_ok()
}

/// Runs a program to the end under a deadline (killed by pid past it).
pub fn run(program: &Path, args: &[&str], cwd: &Path, timeout: Duration) -> Out {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd);
    run_to_end(cmd, timeout, |_| {})
}

// --- the real Robust ----------------------------------------------------------------------

/// Unpacks the real Robust into `dest` with the shared `install.sh`; its `bin/`.
pub fn install_robust(dest: &Path) -> PathBuf {
    install_from(&shared_robust(), dest)
}

/// Unpacks the full OpenSim (simulator, Robust, viewer library) into `dest`; its `bin/`.
pub fn install_opensim(dest: &Path) -> PathBuf {
    let bin = install_from(&shared_opensim(), dest);
    assert!(
        bin.join("OpenSim.exe").is_file(),
        "no OpenSim.exe in {}",
        bin.display()
    );
    bin
}

fn install_from(shared: &Path, dest: &Path) -> PathBuf {
    std::fs::create_dir_all(dest).expect("create the OpenSim install dir");
    let script = shared.join("install.sh");
    let out = run(
        Path::new("bash"),
        &[&script.display().to_string(), &dest.display().to_string()],
        dest,
        Duration::from_secs(300),
    );
    assert!(out.ok(), "install.sh failed: {out}");
    let bin = dest.join("bin");
    assert!(
        bin.join("Robust.exe").is_file(),
        "no Robust.exe in {}",
        bin.display()
    );
    bin
}

/// Every path under `dir` with its size and modification time: what "nothing new in
/// bin/" compares.
pub fn tree_listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    out.push(format!("{rel}/"));
                    walk(&p, root, out);
                }
                Ok(m) => out.push(format!("{rel} {} {:?}", m.len(), m.modified().ok())),
                Err(_) => out.push(format!("{rel} <gone>")),
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

// --- MariaDB --------------------------------------------------------------------------------

/// A private MariaDB: its own data directory and socket under the scratch dir, bound to
/// 127.0.0.1 on a free port, stopped by pid when dropped.
pub struct MariaDb {
    pub port: u16,
    pub socket: PathBuf,
    pub connection: String,
    child: Option<std::process::Child>,
}

impl MariaDb {
    pub fn start(dir: &Path, port: u16) -> MariaDb {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).expect("mariadb data dir");
        let socket = dir.join("mysqld.sock");
        let install = which("mariadb-install-db").expect("mariadb-install-db");
        let mut args = vec![
            "--no-defaults".to_string(),
            format!("--datadir={}", data.display()),
            "--auth-root-authentication-method=normal".into(),
            "--skip-test-db".into(),
        ];
        let as_root = nix::unistd::geteuid().is_root();
        if as_root {
            // mariadbd refuses to run as root unless told to; it is our own data dir.
            args.push("--user=root".into());
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&install, &argv, dir, Duration::from_secs(120));
        assert!(out.ok(), "mariadb-install-db failed: {out}");
        let mut cmd = Command::new(which("mariadbd").expect("mariadbd"));
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .arg("--skip-name-resolve")
            .arg("--innodb-buffer-pool-size=64M")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if as_root {
            cmd.arg("--user=root");
        }
        let child = cmd.spawn().expect("start mariadbd");
        let mut db = MariaDb {
            port,
            socket,
            connection: String::new(),
            child: Some(child),
        };
        let client = which("mariadb").expect("mariadb client");
        let sql = "CREATE DATABASE robust; \
                   CREATE USER 'opensim'@'127.0.0.1' IDENTIFIED BY 'test-only-pw'; \
                   GRANT ALL ON robust.* TO 'opensim'@'127.0.0.1';";
        let error_log = dir.join("error.log");
        wait_for(
            "mariadbd to accept connections",
            Duration::from_secs(60),
            || {
                if let Some(c) = db.child.as_mut() {
                    if let Ok(Some(status)) = c.try_wait() {
                        panic!(
                            "mariadbd exited ({status}): {}",
                            std::fs::read_to_string(&error_log).unwrap_or_default()
                        );
                    }
                }
                db.socket.exists().then_some(())
            },
        );
        let sock = format!("--socket={}", db.socket.display());
        let out = run(
            &client,
            &["--no-defaults", &sock, "-uroot", "-e", sql],
            dir,
            Duration::from_secs(30),
        );
        assert!(out.ok(), "creating the robust database failed: {out}");
        // The connection string measured on 0.9.2.2's MySQL connector (robust.md §0d).
        db.connection = format!(
            "Data Source=127.0.0.1;Port={port};Database=robust;User ID=opensim;Password=test-only-pw;Old Guids=true;SslMode=None;"
        );
        db
    }

    /// Runs one SQL statement as root; its output (tab-separated, no headers).
    pub fn query(&self, sql: &str) -> String {
        let client = which("mariadb").expect("mariadb client");
        let sock = format!("--socket={}", self.socket.display());
        let out = run(
            &client,
            &["--no-defaults", &sock, "-uroot", "-N", "-B", "-e", sql],
            Path::new("/"),
            Duration::from_secs(30),
        );
        assert!(out.ok(), "query {sql:?} failed: {out}");
        out.stdout
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM is mariadbd's clean shutdown; SIGKILL if it outlives the deadline.
        kill(child.id(), libc::SIGTERM);
        if wait_child(&mut child, Duration::from_secs(30)).is_none() {
            kill(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
    }
}

// --- nginx ------------------------------------------------------------------------------------

/// A private nginx: its own prefix, main config (which includes gridctl's rendered
/// file), pid file and logs. The access log records which upstream answered each request.
pub struct Nginx {
    pub prefix: PathBuf,
    pub conf: PathBuf,
    pub access_log: PathBuf,
    child: Option<std::process::Child>,
}

impl Nginx {
    /// Writes the main config; `include` is gridctl's rendered file.
    pub fn configure(prefix: &Path, include: &Path) -> Nginx {
        for d in ["logs", "tmp"] {
            std::fs::create_dir_all(prefix.join(d)).expect("nginx prefix dirs");
        }
        let conf = prefix.join("nginx.conf");
        let text = format!(
            "# The real-Robust test's own nginx: everything under its prefix.\n\
             worker_processes 1;\n\
             pid logs/nginx.pid;\n\
             error_log logs/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             \x20 log_format upstream '$host \"$request\" $status $upstream_addr';\n\
             \x20 access_log logs/access.log upstream;\n\
             \x20 client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;\n\
             \x20 uwsgi_temp_path tmp; scgi_temp_path tmp;\n\
             \x20 include {};\n\
             }}\n",
            include.display()
        );
        std::fs::write(&conf, text).expect("write nginx.conf");
        Nginx {
            prefix: prefix.to_path_buf(),
            access_log: prefix.join("logs/access.log"),
            conf,
            child: None,
        }
    }

    /// `-p PREFIX -c CONF` plus `extra`, as the manifest's nginx commands name them.
    pub fn command(&self, extra: &[&str]) -> Vec<String> {
        let mut v = vec![
            which("nginx").expect("nginx").display().to_string(),
            "-p".into(),
            format!("{}/", self.prefix.display()),
            "-c".into(),
            self.conf.display().to_string(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    pub fn start(&mut self, listen: std::net::SocketAddr) {
        let argv = self.command(&[]);
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&self.prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        self.child = Some(child);
        wait_for("nginx to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect_timeout(&listen, Duration::from_millis(200)).ok()
        });
    }

    /// The upstream address of every access-log line whose host is `host`.
    pub fn upstreams_for(&self, host: &str) -> Vec<String> {
        std::fs::read_to_string(&self.access_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with(&format!("{host} ")))
            .filter_map(|l| l.rsplit(' ').next().map(str::to_string))
            .collect()
    }

    /// Empties the access log (nginx keeps appending to the same file).
    pub fn clear_access_log(&self) {
        let _ = std::fs::write(&self.access_log, b"");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // A reload just before the stop may still be forking workers: keep collecting
        // the master's children until it is gone, so none is orphaned unseen.
        let mut workers = std::collections::BTreeSet::new();
        workers.extend(crate::common::procs::children_of(child.id()));
        kill(child.id(), libc::SIGQUIT);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            workers.extend(crate::common::procs::children_of(child.id()));
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(child.try_wait(), Ok(None)) {
            kill(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
        // Workers still working in this nginx's prefix (never a reused pid): the ones
        // seen, and any forked for a reload the master was still acting on as it went.
        let in_prefix = |pid: u32| {
            std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd.starts_with(&self.prefix))
        };
        let orphans = crate::common::procs::processes_naming("nginx: ")
            .into_iter()
            .map(|(pid, _)| pid);
        for w in workers.into_iter().chain(orphans) {
            if in_prefix(w) {
                kill(w, libc::SIGKILL);
            }
        }
    }
}

// --- /etc/hosts -------------------------------------------------------------------------------

/// The grid's hostnames pointing at 127.0.0.1 in a marked block of `/etc/hosts`, removed
/// when dropped (Robust's connectors resolve them at startup, robust.md §0d). Blocks left
/// by a killed earlier run are removed first. /etc/hosts is edited in place: in a
/// container it is often a bind mount that a rename cannot replace.
pub struct HostsBlock {
    marker: String,
}

const HOSTS_MARK: &str = "# gridctl real-robust test";

impl HostsBlock {
    pub fn add(names: &[String]) -> HostsBlock {
        let marker = format!("{HOSTS_MARK} {}", std::process::id());
        let kept = strip_blocks(&read_hosts(), |m| {
            // A block whose test process is gone is stale.
            m.rsplit(' ')
                .next()
                .and_then(|p| p.parse::<u32>().ok())
                .is_none_or(|pid| !crate::common::procs::alive(pid))
        });
        let mut text = kept;
        if !text.ends_with('\n') && !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "{marker} BEGIN\n127.0.0.1 {}\n{marker} END\n",
            names.join(" ")
        ));
        std::fs::write("/etc/hosts", text).expect("write /etc/hosts");
        HostsBlock { marker }
    }
}

impl Drop for HostsBlock {
    fn drop(&mut self) {
        let marker = self.marker.clone();
        let text = strip_blocks(&read_hosts(), |m| m == marker);
        let _ = std::fs::write("/etc/hosts", text);
    }
}

fn read_hosts() -> String {
    std::fs::read_to_string("/etc/hosts").unwrap_or_default()
}

/// `text` without the test blocks whose marker `drop_it` accepts.
fn strip_blocks(text: &str, drop_it: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if let Some(m) = line.strip_suffix(" BEGIN") {
            if m.starts_with(HOSTS_MARK) && drop_it(m) {
                skipping = true;
                continue;
            }
        }
        if skipping {
            if line
                .strip_suffix(" END")
                .is_some_and(|m| m.starts_with(HOSTS_MARK))
            {
                skipping = false;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
