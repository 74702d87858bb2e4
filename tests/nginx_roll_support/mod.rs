//! Support for `tests/nginx_roll.rs`: a scratch grid of fake Robust copies behind a
//! real nginx of its own (own prefix, config, pid file, error log, loopback ports), the
//! `gridctl` binary run with deadlines, and a small threaded HTTP/1.1 load generator
//! that counts successes, failures and which copy answered.
//!
//! Cleanup is by pid only, and only of processes this test started: the [`Grid`] drop
//! stops nginx (SIGQUIT, then SIGKILL of the master and the workers it recorded), runs
//! `gridctl down`, then SIGKILLs every holder and fake pid it saw in `status --json`
//! whose command line still names this grid's scratch directory.
#![allow(dead_code)] // not every helper is used by every test

pub use crate::common::grid::{FAKE_BIN as BIN_DIR, FAKE_ROBUST, GRIDCTL};
pub use crate::common::ports::reserve_ports;
pub use crate::common::procs::kill;
pub use crate::common::run::Out as Run;
pub use crate::common::wait::wait_for;

use crate::common::grid::{row_pids, write_manifest, Row};
use crate::common::procs::{children_of, kill_if_naming, Pids};
use crate::common::run::run_to_end;
use crate::common::wait::wait_child;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BUILTIN_NGINX_TEMPLATE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/templates/nginx.conf");
pub const NGINX: &str = "nginx";
/// The hostname nginx routes to the asset upstream on the private listener.
pub const ASSET_HOST: &str = "asset.robust.internal";

/// Every `gridctl` run is bounded by this.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(25);

// --- running commands ----------------------------------------------------------------

/// Runs a program in `dir` to completion, killing it by pid if it outlives `timeout`.
pub fn run_with_deadline(dir: &Path, program: &str, args: &[&str], timeout: Duration) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir).env_remove("GRIDCTL_FILE");
    run_to_end(cmd, timeout, |_| {})
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Connections to `127.0.0.1:port` that the peer closed but whose owner (here: nginx
/// holding them in its upstream keep-alive cache) has not closed yet: TCP state
/// CLOSE_WAIT in /proc/net/tcp.
pub fn close_wait_to(port: u16) -> usize {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3
                && f[3] == "08"
                && f[2]
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                    == Some(port)
        })
        .count()
}

// --- the grid ---------------------------------------------------------------------------

pub struct Grid {
    pub dir: tempfile::TempDir,
    pub manifest: PathBuf,
    /// nginx's prefix (`-p`), with the trailing slash nginx wants.
    pub prefix: String,
    pub nginx_conf: PathBuf,
    pub nginx_pid_file: PathBuf,
    pub error_log: PathBuf,
    /// The rendered include file (`[nginx] output`).
    pub output: PathBuf,
    pub private_listen: SocketAddr,
    pub public_listen: SocketAddr,
    pub asset_port: u16,
    nginx: Option<Child>,
    /// Holder and fake pids seen in `status --json`, killed by pid on drop if they still
    /// name the scratch directory.
    seen_pids: Pids,
}

pub struct GridOptions {
    pub asset_copies: u32,
    pub supervise: &'static str,
    /// `[nginx] drain`.
    pub drain: &'static str,
    /// Appended to grid.toml (e.g. `[roles.asset.settings.FakeRobust]`).
    pub extra: &'static str,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            asset_copies: 3,
            supervise: "",
            drain: "300ms",
            extra: "",
        }
    }
}

impl Grid {
    /// Writes grid.toml and a main nginx.conf into a fresh scratch directory.
    pub fn new(opts: GridOptions) -> Grid {
        // Short path under /tmp: holder sockets live beneath it (sun_path is 108 bytes).
        let dir = tempfile::Builder::new()
            .prefix("gnr")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let root = dir.path().to_path_buf();
        // core private, core public, asset 1..6, nginx public, nginx private
        let base = reserve_ports(10);
        let core = base;
        let core_pub = base + 1;
        let asset = base + 2;
        let public_listen: SocketAddr = format!("127.0.0.1:{}", base + 8).parse().unwrap();
        let private_listen: SocketAddr = format!("127.0.0.1:{}", base + 9).parse().unwrap();
        let prefix = format!("{}/", root.display());
        let nginx_conf = root.join("nginx.conf");
        let error_log = root.join("logs/error.log");
        let nginx_pid_file = root.join("logs/nginx.pid");
        let output = root.join("nginx/grid.conf");
        let q = |s: &str| format!("{s:?}");
        // Every nginx command of the test names its own prefix, config and error log.
        let own_files: Vec<String> = vec![
            "-p".into(),
            prefix.clone(),
            "-c".into(),
            nginx_conf.display().to_string(),
            "-e".into(),
            error_log.display().to_string(),
        ];
        let nginx_args = |extra: &[&str]| -> String {
            let mut v: Vec<String> = vec![q(NGINX)];
            v.extend(extra.iter().map(|s| q(s)));
            v.extend(own_files.iter().map(|s| q(s)));
            format!("[{}]", v.join(", "))
        };
        let reload_command = format!(
            "[\"bash\", {}]",
            q(&root.join("reload.sh").display().to_string())
        );
        let manifest_text = format!(
            r#"# gridctl end-to-end test grid: fake Robust copies behind a real nginx.
[grid]
name = "Nginx Roll Test"
domain = "grid.localhost"

[robust]
bin_dir = {bin}
command = [{fake}, "Robust.dll"]

[database]
provider = "mysql"
connection = "x"

[nginx]
output = "nginx/grid.conf"
test_command = {test}
reload_command = {reload}
public_listen = "{public_listen}"
private_listen = "{private_listen}"
drain = "{drain}"

[supervise]
ready_timeout = "10s"
stop_timeout = "3s"
sigint_timeout = "1s"
sigterm_timeout = "1s"
{supervise}

[roles.core]
services = ["grid", "gridinfo", "auth", "useraccount", "avatar", "griduser", "presence",
            "inventory", "login"]
port = {core}
public_port = {core_pub}

[roles.asset]
services = ["asset"]
instances = {copies}   # spread over copies by nginx
port = {asset}
{extra}"#,
            bin = q(BIN_DIR),
            fake = q(FAKE_ROBUST),
            test = nginx_args(&["-t", "-q"]),
            reload = reload_command,
            supervise = opts.supervise,
            copies = opts.asset_copies,
            drain = opts.drain,
            extra = opts.extra,
        );
        let manifest = write_manifest(&root, &manifest_text);
        // The reload command: `nginx -s reload` with our -p/-c/-e, after recording the
        // config being loaded and checking that every server it lists as serving (not
        // `down`) accepts connections at that moment.
        let reload_args: Vec<String> = ["-s", "reload"]
            .into_iter()
            .map(str::to_string)
            .chain(own_files.iter().cloned())
            .map(|s| shell_quote(&s))
            .collect();
        let reload_sh = format!(
            r#"#!/bin/bash
# gridctl's reload command in this test (written by tests/nginx_roll_support).
conf={conf}
audit={audit}
n=$(date +%s%N)
cp "$conf" "$audit/$n.conf"
awk '/^upstream /{{u=$2}} /^ *server 127\.0\.0\.1:[0-9]+ / && !/ down;/ {{split($2,a,":"); sub(/;$/,"",a[2]); print u, a[2], $NF}}' "$conf" |
while read -r up port name; do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "reload $n: $name (port $port) is in $up but does not accept connections" >> "$audit/violations"
  fi
done
exec {nginx} {args}
"#,
            conf = shell_quote(&output.display().to_string()),
            audit = shell_quote(&root.join("reloads").display().to_string()),
            nginx = NGINX,
            args = reload_args.join(" "),
        );
        std::fs::write(root.join("reload.sh"), reload_sh).expect("write reload.sh");
        for d in ["logs", "tmp", "nginx", "reloads"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        let r = root.display();
        let main_conf = format!(
            "# The test's own nginx: nothing outside {r}.\n\
             daemon off;\n\
             master_process on;\n\
             worker_processes 1;\n\
             pid {pid};\n\
             error_log {err} error;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             \x20   access_log off;\n\
             \x20   client_body_temp_path {r}/tmp/body;\n\
             \x20   proxy_temp_path {r}/tmp/proxy;\n\
             \x20   fastcgi_temp_path {r}/tmp/fastcgi;\n\
             \x20   uwsgi_temp_path {r}/tmp/uwsgi;\n\
             \x20   scgi_temp_path {r}/tmp/scgi;\n\
             \x20   include {out};\n\
             }}\n",
            pid = nginx_pid_file.display(),
            err = error_log.display(),
            out = output.display(),
        );
        std::fs::write(&nginx_conf, main_conf).expect("write nginx.conf");
        Grid {
            dir,
            manifest,
            prefix,
            nginx_conf,
            nginx_pid_file,
            error_log,
            output,
            private_listen,
            public_listen,
            asset_port: asset,
            nginx: None,
            seen_pids: Pids::new(root.display().to_string()),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `gridctl -f grid.toml ARGS...`
    pub fn gridctl(&self, args: &[&str]) -> Run {
        let manifest = self.manifest.display().to_string();
        let mut all = vec!["-f", manifest.as_str()];
        all.extend_from_slice(args);
        let run = run_with_deadline(self.root(), GRIDCTL, &all, CMD_TIMEOUT);
        // Whatever a command did, remember who runs now.
        self.record_pids();
        run
    }

    pub fn gridctl_ok(&self, args: &[&str]) -> Run {
        let run = self.gridctl(args);
        assert!(run.ok(), "gridctl {args:?} failed: {}", run.describe());
        run
    }

    pub fn status(&self) -> Vec<Row> {
        let manifest = self.manifest.display().to_string();
        let run = run_with_deadline(
            self.root(),
            GRIDCTL,
            &["-f", &manifest, "status", "--json"],
            CMD_TIMEOUT,
        );
        assert!(run.ok(), "status --json failed: {}", run.describe());
        let rows: Vec<Row> = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {}", run.stdout));
        for pid in rows.iter().flat_map(row_pids) {
            self.seen_pids.record(pid);
        }
        rows
    }

    pub fn record_pids(&self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.status()));
    }

    pub fn row(&self, name: &str) -> Option<Row> {
        self.status().into_iter().find(|r| r.name == name)
    }

    /// Render the nginx include, start nginx on it, then `up --wait` (which drives
    /// nginx itself: every copy joins its upstream once ready, and nginx is reloaded).
    pub fn start(&mut self) {
        let out = self.output.display().to_string();
        self.gridctl_ok(&["render-nginx", "-o", &out]);
        self.start_nginx();
        self.gridctl_ok(&["up", "--wait"]);
    }

    fn nginx_args(&self) -> Vec<String> {
        vec![
            "-p".into(),
            self.prefix.clone(),
            "-c".into(),
            self.nginx_conf.display().to_string(),
            "-e".into(),
            self.error_log.display().to_string(),
        ]
    }

    /// Like [`Grid::start`], but `up --wait` may fail (copies that do not become ready).
    pub fn start_allowing_failure(&mut self) -> Run {
        let out = self.output.display().to_string();
        self.gridctl_ok(&["render-nginx", "-o", &out]);
        self.start_nginx();
        self.gridctl(&["up", "--wait"])
    }

    /// nginx started on an empty include (the file gridctl writes later), as an
    /// operator does who creates the include first: nothing listens on the grid's ports.
    pub fn start_nginx_on_an_empty_include(&mut self) {
        std::fs::write(&self.output, "").expect("write the empty include");
        self.spawn_nginx();
    }

    pub fn start_nginx(&mut self) {
        self.spawn_nginx();
        wait_for(
            "nginx to accept on the private listener",
            Duration::from_secs(10),
            || TcpStream::connect_timeout(&self.private_listen, Duration::from_millis(200)).ok(),
        );
    }

    fn spawn_nginx(&mut self) {
        let t = run_with_deadline(
            self.root(),
            NGINX,
            &self
                .nginx_args()
                .iter()
                .map(String::as_str)
                .chain(["-t", "-q"])
                .collect::<Vec<_>>(),
            Duration::from_secs(10),
        );
        assert!(
            t.ok(),
            "nginx -t of the test's config failed: {}",
            t.describe()
        );
        let child = Command::new(NGINX)
            .args(self.nginx_args())
            .current_dir(self.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let master = child.id();
        self.nginx = Some(child);
        // The pid file is written once the listeners are open.
        let pid = wait_for("nginx's pid file", Duration::from_secs(10), || {
            std::fs::read_to_string(&self.nginx_pid_file)
                .ok()?
                .trim()
                .parse::<u32>()
                .ok()
        });
        assert_eq!(pid, master, "nginx's pid file names another process");
    }

    /// How many times the reload command has run so far.
    pub fn reloads(&self) -> usize {
        self.reload_audit().0
    }

    /// Runs `gridctl ARGS` (which must succeed) and returns it with the number of nginx
    /// reloads it did, checked against the "nginx: reloaded N time(s)" line it prints.
    pub fn counted(&self, args: &[&str]) -> (Run, usize) {
        let before = self.reloads();
        let run = self.gridctl_ok(args);
        let n = self.reloads() - before;
        assert!(
            run.stdout
                .contains(&format!("nginx: reloaded {n} time(s)\n")),
            "gridctl {args:?} reloaded {n} times but says otherwise:\n{}",
            run.describe()
        );
        (run, n)
    }

    /// The copies the installed config lists as serving in `upstream`, and the copies
    /// `status` shows `in` for `role`: they must be the same.
    pub fn serving(&self, upstream: &str, role: &str) -> (Vec<String>, Vec<String>) {
        let conf = std::fs::read_to_string(&self.output).unwrap_or_default();
        let listed = serving_in(&conf, upstream);
        let shown = self
            .status()
            .into_iter()
            .filter(|r| r.role == role)
            .filter(|r| r.upstream == Some(gridctl::render::Membership::In))
            .map(|r| r.name)
            .collect();
        (listed, shown)
    }

    /// nginx's master pid, from its pid file.
    pub fn nginx_master(&self) -> u32 {
        std::fs::read_to_string(&self.nginx_pid_file)
            .expect("nginx pid file")
            .trim()
            .parse()
            .expect("pid")
    }

    /// The master's current worker pids.
    pub fn nginx_workers(&self) -> BTreeSet<u32> {
        let Some(child) = &self.nginx else {
            return BTreeSet::new();
        };
        children_of(child.id()).into_iter().collect()
    }

    /// How many times gridctl reloaded nginx, and the problems the reload audit found.
    pub fn reload_audit(&self) -> (usize, String) {
        let dir = self.root().join("reloads");
        let reloads = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "conf"))
                    .count()
            })
            .unwrap_or(0);
        (
            reloads,
            std::fs::read_to_string(dir.join("violations")).unwrap_or_default(),
        )
    }

    pub fn error_log_text(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }

    fn stop_nginx(&mut self) {
        let Some(mut child) = self.nginx.take() else {
            return;
        };
        let master = child.id();
        kill(master, libc::SIGQUIT);
        if wait_child(&mut child, Duration::from_secs(5)).is_none() {
            // Its workers, as they are this instant: after the master's SIGKILL they
            // would be orphans nobody stops.
            let workers = children_of(master);
            kill(master, libc::SIGKILL);
            let _ = child.wait();
            for pid in workers {
                kill_if_naming(pid, "nginx");
            }
        }
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        self.stop_nginx();
        let manifest = self.manifest.display().to_string();
        self.record_pids();
        let _ = run_with_deadline(
            self.root(),
            GRIDCTL,
            &["-f", &manifest, "down"],
            Duration::from_secs(20),
        );
        self.seen_pids.kill_recorded();
    }
}

// --- load generator ----------------------------------------------------------------------

// Not every test crate that includes this module runs a load (`expect` would fail there).
#[allow(unused_imports)]
pub use crate::common::load::{summary, Kind, Load, PhaseStats, Target};

/// The load's target: the asset hostname on nginx's private listener `addr`, a new asset
/// id per GET (the fake answers any), each thread pausing `pace` between requests.
pub fn asset_target(addr: SocketAddr, pace: Duration) -> Target {
    Target {
        addr,
        host: ASSET_HOST.into(),
        asset_id: None,
        pace,
    }
}

/// The copies a rendered config lists as serving (not `down`) in `upstream`.
pub fn serving_in(conf: &str, upstream: &str) -> Vec<String> {
    let Some(start) = conf.find(&format!("upstream {upstream} {{")) else {
        return Vec::new();
    };
    let end = conf[start..].find('}').map_or(conf.len(), |e| start + e);
    conf[start..end]
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("server ") && !l.contains(" down;"))
        .map(|l| l.rsplit("# ").next().unwrap_or("").trim().to_string())
        .collect()
}

/// The copies of `role` and their pids per `status --json`.
pub fn pids_of(rows: &[Row], role: &str) -> BTreeMap<String, Option<u32>> {
    rows.iter()
        .filter(|r| r.role == role)
        .map(|r| (r.name.clone(), r.pid))
        .collect()
}
