//! Support for `tests/kube_play.rs`: podman in a storage of the test's own, an image
//! `FROM scratch` holding this test run's binaries (and the shared libraries they link),
//! the grid's manifest, and the Pod the export's StatefulSet template stands for.
//!
//! Isolation: every podman command gets `--root`, `--runroot` and `--tmpdir` under one
//! scratch directory (images, containers, volumes, secrets, events, exit files), its own
//! `CONTAINERS_CONF` and `TMPDIR`, so the system's containers are never seen or touched.
//! The storage driver is `vfs`: as fast as overlay here for an image this small (one
//! layer), it needs no kernel overlay mounts (so it also works where /tmp is itself an
//! overlay, as in a CI container) and leaves no mount behind. cgroupfs and a file event
//! log: no systemd needed.
//! [`Podman`]'s drop takes down what was played, resets that storage, unmounts whatever
//! podman left mounted under it, ends (by pid) any conmon still naming it, and removes it.
#![allow(dead_code)] // a support module: not every helper is used by every test

/// The real Robust's image and grid (`tests/kube_play_real.rs`).
pub mod real;

use crate::common::procs::Pids;
use crate::common::run::{run_to_end, Out};
use portable_pty::CommandBuilder;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Set by CI (GitHub Actions, GitLab, … set `CI=true`): a missing podman is then a
/// failure, not a skip (`.ci/deps.sh` installs it).
pub const CI_ENV: &str = "CI";

/// The image the test builds in its private storage.
pub const IMAGE: &str = "localhost/gridctl-e2e:test";

/// The cluster's `bin_dir` default: where the image holds OpenSim's `bin/` (here the fake).
pub const IMAGE_BIN_DIR: &str = "/opt/opensim/bin";

/// The Secret `[kubernetes] database_secret` defaults to, and its key.
pub const DB_SECRET_NAME: &str = "robust-db";
pub const DB_SECRET_VALUE: &str =
    "Server=127.0.0.1;Database=robust;User=robust;Password=kube-play-secret";

/// Bound on every podman command but the image build.
pub const PODMAN_TIMEOUT: Duration = Duration::from_secs(60);

/// `containers.conf` for the private storage: runc (not crun), and ulimits podman can set
/// inside this machine's limits (its defaults ask for more than the host grants).
const CONTAINERS_CONF: &str = "[containers]\n\
default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n\
[engine]\n\
runtime = \"runc\"\n";

fn in_ci() -> bool {
    std::env::var_os(CI_ENV).is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A program on PATH.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// podman, or why this test cannot run here. A reason is a skip (printed, the test
/// passes) outside CI and a failure under `CI`.
pub fn podman_or_skip(test: &str) -> Option<PathBuf> {
    let why = match which("podman") {
        None => "`podman` is not installed (Debian packages podman runc catatonit; \
                 `bash .ci/deps.sh` installs them)"
            .to_string(),
        Some(_) if !nix::unistd::Uid::effective().is_root() => {
            "podman here runs as root (hostNetwork, a private --root storage); \
             this test is not running as root"
                .to_string()
        }
        Some(p) => return Some(p),
    };
    if in_ci() {
        panic!("{test}: {why}; under {CI_ENV} this is a failure, not a skip");
    }
    eprintln!("skipping {test}: {why}");
    None
}

/// podman on a storage of this test's own; torn down when dropped.
pub struct Podman {
    bin: PathBuf,
    /// The scratch directory: storage, run root, tmp dir, conf, build context.
    pub base: PathBuf,
    conf: PathBuf,
    /// Manifests played (taken down first on drop).
    played: std::sync::Mutex<Vec<PathBuf>>,
    /// Last: removed after the storage is reset.
    _tmp: tempfile::TempDir,
}

impl Podman {
    pub fn new(bin: PathBuf) -> Podman {
        let tmp = tempfile::Builder::new()
            .prefix("gridctl-podman-")
            .tempdir()
            .expect("tempdir");
        let base = tmp.path().canonicalize().expect("canonical tempdir");
        let conf = base.join("containers.conf");
        std::fs::write(&conf, CONTAINERS_CONF).expect("write containers.conf");
        std::fs::create_dir(base.join("tmp")).expect("mkdir tmp");
        Podman {
            bin,
            base,
            conf,
            played: std::sync::Mutex::new(Vec::new()),
            _tmp: tmp,
        }
    }

    /// The global flags that keep podman on this storage.
    fn global_args(&self) -> Vec<String> {
        let b = |sub: &str| self.base.join(sub).display().to_string();
        vec![
            "--root".into(),
            b("root"),
            "--runroot".into(),
            b("runroot"),
            "--tmpdir".into(),
            b("libpod"),
            "--storage-driver".into(),
            "vfs".into(),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
        ]
    }

    fn env(&self) -> [(&'static str, PathBuf); 2] {
        [
            ("CONTAINERS_CONF", self.conf.clone()),
            ("TMPDIR", self.base.join("tmp")),
        ]
    }

    /// `podman <private storage> ARGS`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(self.global_args()).args(args);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd.env_remove("CONTAINER_HOST")
            .env_remove("CONTAINER_CONNECTION");
        cmd
    }

    /// The same command for a PTY (`exec -it`).
    pub fn pty_command(&self, args: &[&str]) -> CommandBuilder {
        let mut cmd = CommandBuilder::new(&self.bin);
        for a in self.global_args() {
            cmd.arg(a);
        }
        for a in args {
            cmd.arg(a);
        }
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd.env_remove("CONTAINER_HOST");
        cmd.env_remove("CONTAINER_CONNECTION");
        cmd.env("TERM", "xterm");
        cmd
    }

    pub fn run_with(&self, args: &[&str], timeout: Duration) -> Out {
        run_to_end(self.command(args), timeout, |_| {})
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, PODMAN_TIMEOUT)
    }

    /// Runs and asserts exit 0.
    pub fn ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert!(out.ok(), "podman {}: {out}", args.join(" "));
        out
    }

    /// `kube play FILE`, remembered for the drop's `kube down`.
    pub fn kube_play(&self, file: &Path) -> Out {
        self.played
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(file.to_path_buf());
        self.run(&["kube", "play", &file.display().to_string()])
    }

    /// `kube down FILE` (then not repeated on drop).
    pub fn kube_down(&self, file: &Path) -> Out {
        self.played
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|f| f != file);
        self.run(&["kube", "down", &file.display().to_string()])
    }

    /// `podman secret create NAME` with the data podman 4.3's `secretKeyRef` reads: a
    /// JSON object of key → base64(value) (see `tests/kube_play.rs` for what does not work).
    pub fn create_k8s_secret(&self, name: &str, entries: &[(&str, &str)]) {
        let body: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{k:?}: {:?}", base64(v.as_bytes())))
            .collect();
        let file = self.base.join(format!("secret-{name}.json"));
        std::fs::write(&file, format!("{{{}}}\n", body.join(", "))).expect("write secret");
        self.ok(&["secret", "create", name, &file.display().to_string()]);
        let _ = std::fs::remove_file(&file);
    }

    /// Mount points podman left under the scratch directory, deepest first.
    fn leftover_mounts(&self) -> Vec<String> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let base = self.base.display().to_string();
        let mut mounts: Vec<String> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&base))
            .map(str::to_string)
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        mounts.dedup();
        mounts
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let played = std::mem::take(&mut *self.played.lock().unwrap_or_else(|e| e.into_inner()));
        for f in played {
            let out = self.run(&["kube", "down", &f.display().to_string()]);
            if !out.ok() && !std::thread::panicking() {
                eprintln!("cleanup: podman kube down: {out}");
            }
        }
        // Everything of this storage: containers (stopped by force), pods, images,
        // volumes, secrets.
        let out = self.run_with(&["system", "reset", "--force"], Duration::from_secs(120));
        if !out.ok() {
            eprintln!("cleanup: podman system reset: {out}");
        }
        // conmon processes still naming the storage (none after a clean reset).
        Pids::new(self.base.display().to_string()).kill_all();
        for m in self.leftover_mounts() {
            let mut umount = Command::new("umount");
            umount.arg("--lazy").arg(&m);
            let out = run_to_end(umount, Duration::from_secs(10), |_| {});
            if !out.ok() {
                eprintln!("cleanup: umount {m}: {out}");
            }
        }
    }
}

/// Standard base64 with padding (the podman secret's values).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// --- the image ----------------------------------------------------------------------

/// The shared libraries `ldd` names for `bin`, and its dynamic loader: absolute paths.
pub fn shared_libraries(bin: &Path) -> Vec<PathBuf> {
    let out = run_to_end(
        {
            let mut c = Command::new("ldd");
            c.arg(bin);
            c
        },
        Duration::from_secs(20),
        |_| {},
    );
    assert!(out.ok(), "ldd {}: {out}", bin.display());
    out.stdout
        .lines()
        .filter_map(|l| {
            // `libc.so.6 => /lib/…/libc.so.6 (0x…)`, `/lib64/ld-linux-x86-64.so.2 (0x…)`,
            // `linux-vdso.so.1 (0x…)` (in the kernel: nothing to copy).
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Puts `src` at `ctx/dest` (a hard link when it can: the binaries are large, and a
/// link also pins the very file cargo built), creating parents.
fn place(src: &Path, ctx: &Path, dest: &Path) {
    let to = ctx.join(dest.strip_prefix("/").unwrap_or(dest));
    std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir in the context");
    if to.exists() {
        return;
    }
    let real = src.canonicalize().unwrap_or_else(|_| src.to_path_buf());
    if std::fs::hard_link(&real, &to).is_err() {
        std::fs::copy(&real, &to)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", real.display(), to.display()));
    }
}

/// What goes into the image, as (host file, path in the image).
pub struct ImageFiles {
    pub gridctl: PathBuf,
    pub holder: PathBuf,
    pub fake_robust: PathBuf,
    /// OpenSim's `bin/` look-alike (`examples/fake-bin`): copied to [`IMAGE_BIN_DIR`].
    pub fake_bin_dir: PathBuf,
}

/// Builds [`IMAGE`] `FROM scratch`: gridctl and gridctl-holder in /usr/local/bin, the
/// fake Robust and the fake `bin/` files in [`IMAGE_BIN_DIR`], their shared libraries at
/// their host paths, a passwd/group with root, /tmp. Returns the build's duration.
pub fn build_image(p: &Podman, files: &ImageFiles) -> Duration {
    let ctx = p.base.join("context");
    std::fs::create_dir_all(&ctx).expect("mkdir context");
    let bins = [
        (&files.gridctl, "/usr/local/bin/gridctl".to_string()),
        (&files.holder, "/usr/local/bin/gridctl-holder".to_string()),
        (&files.fake_robust, format!("{IMAGE_BIN_DIR}/fake-robust")),
    ];
    for (src, dest) in &bins {
        assert!(src.is_file(), "{} was not built", src.display());
        place(src, &ctx, Path::new(dest));
        for lib in shared_libraries(src) {
            place(&lib, &ctx, &lib);
        }
    }
    for e in std::fs::read_dir(&files.fake_bin_dir).expect("read the fake bin dir") {
        let e = e.expect("dir entry");
        if e.path().is_file() {
            place(
                &e.path(),
                &ctx,
                &Path::new(IMAGE_BIN_DIR).join(e.file_name()),
            );
        }
    }
    let etc = ctx.join("etc");
    std::fs::create_dir_all(&etc).expect("mkdir etc");
    std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/nonexistent\n").expect("passwd");
    std::fs::write(etc.join("group"), "root:x:0:\n").expect("group");
    for d in ["tmp", "root", "etc/gridctl", "var/lib/gridctl"] {
        std::fs::create_dir_all(ctx.join(d)).expect("mkdir");
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(ctx.join("tmp"), std::fs::Permissions::from_mode(0o1777))
        .expect("chmod /tmp");
    let containerfile = p.base.join("Containerfile");
    std::fs::write(&containerfile, "FROM scratch\nCOPY . /\n").expect("Containerfile");
    let t0 = std::time::Instant::now();
    let out = p.run_with(
        &[
            "build",
            "--quiet",
            "--network",
            "none",
            "--tag",
            IMAGE,
            "--file",
            &containerfile.display().to_string(),
            &ctx.display().to_string(),
        ],
        Duration::from_secs(180),
    );
    assert!(out.ok(), "podman build: {out}");
    let took = t0.elapsed();
    // The context (hard links and copies) is in the image now.
    let _ = std::fs::remove_dir_all(&ctx);
    took
}

// --- the grid -----------------------------------------------------------------------

/// The grid: role `asset` (2 copies from `port`), the fake Robust inside the image
/// both for the host plan (`[robust]`, what `pod run` uses until the cluster plan
/// lands) and for the cluster (`[kubernetes]`); the state directory is the pod's
/// emptyDir either way.
pub fn grid_toml(port: u16) -> String {
    format!(
        r#"[grid]
name = "Kube Play Test Grid"
domain = "grid.localhost"

[robust]
bin_dir = "{IMAGE_BIN_DIR}"
command = ["{IMAGE_BIN_DIR}/fake-robust", "Robust.exe"]

[database]
provider = "mysql"
connection = "env:ROBUST_DB"

[supervise]
ready_timeout = "20s"

[roles.asset]
services = ["asset"]
instances = 2
port = {port}

[kubernetes]
image = "{IMAGE}"
bin_dir = "{IMAGE_BIN_DIR}"
command = ["{IMAGE_BIN_DIR}/fake-robust", "Robust.exe"]
"#
    )
}

/// What a test plays: the export's ConfigMap and Pods, the grace period the export gave
/// them, and the Containerfile it wrote.
pub struct PodManifest {
    /// Multi-document YAML: the ConfigMap `gridctl-config`, then the Pods.
    pub yaml: String,
    /// `terminationGracePeriodSeconds` of the exported pod template (podman 4.3 does not
    /// apply it: the test passes it to `podman pod stop -t`).
    pub grace_secs: u64,
    /// The exported Containerfile.
    pub containerfile: String,
}

/// Runs the real `gridctl export kubernetes --image IMAGE` on `grid_toml` and turns
/// what it wrote into what `podman kube play` takes: the ConfigMap as exported, and for
/// each of `pods` (named as a StatefulSet names its copies) its role's StatefulSet pod
/// template, unchanged but for `hostNetwork: true` (loopback only, no container network)
/// and the container ports podman cannot map there. The longest grace of them.
pub fn pod_manifest(pods: &[&str], image: &str, grid_toml: &str) -> PodManifest {
    use k8s_openapi::api::core::v1::ConfigMap;

    let dir = tempfile::tempdir().expect("scratch dir for the export");
    std::fs::write(dir.path().join("grid.toml"), grid_toml).expect("write grid.toml");
    let out_dir = dir.path().join("k8s");
    let out = Command::new(crate::common::grid::GRIDCTL)
        .current_dir(dir.path())
        .args(["export", "kubernetes", "-o"])
        .arg(&out_dir)
        .args(["--image", image])
        .env_remove("GRIDCTL_FILE")
        .env_remove("GRIDCTL_TARGET")
        .output()
        .expect("run gridctl export kubernetes");
    assert!(
        out.status.success(),
        "export failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| {
        std::fs::read_to_string(out_dir.join(name))
            .unwrap_or_else(|e| panic!("the export has no {name}: {e}"))
    };
    let config: ConfigMap =
        serde_yaml_ng::from_str(&read("00-configmap.yaml")).expect("00-configmap.yaml parses");
    let mut yaml = serde_yaml_ng::to_string(&config).expect("ConfigMap to YAML");
    let mut grace_secs = 0;
    for pod in pods {
        let (doc, grace) = pod_of_template(&read, pod);
        yaml.push_str("---\n");
        yaml.push_str(&doc);
        grace_secs = grace_secs.max(grace);
    }
    PodManifest {
        yaml,
        grace_secs,
        containerfile: read("Containerfile"),
    }
}

/// The Pod `pod` made of its role's exported StatefulSet template (read through
/// `read`, by file name), as YAML, and its grace period in seconds.
fn pod_of_template(read: &dyn Fn(&str) -> String, pod: &str) -> (String, u64) {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let role = pod.rsplit_once('-').map(|(r, _)| r).unwrap_or(pod);
    let role_yaml = read(&format!("10-{role}.yaml"));
    let set = role_yaml
        .split("\n---\n")
        .filter_map(|doc| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(doc).ok())
        .find(|v| v.get("kind").and_then(|k| k.as_str()) == Some("StatefulSet"))
        .expect("a StatefulSet in the role's file");
    let set: StatefulSet = serde_yaml_ng::from_value(set).expect("the StatefulSet parses");
    let template = set.spec.template;
    let mut spec = template.spec.expect("the pod template has a spec");
    spec.host_network = Some(true);
    // podman 4.3 turns containerPorts into port mappings, which host networking cannot
    // have ("PortMappings can only be used with Bridge or slirp4netns networking"); on
    // the host network every port is the host's anyway.
    for c in &mut spec.containers {
        c.ports = None;
    }
    let grace_secs = spec
        .termination_grace_period_seconds
        .and_then(|s| u64::try_from(s).ok())
        .expect("the export sets terminationGracePeriodSeconds");
    let meta = template.metadata.unwrap_or_default();
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod.to_string()),
            labels: meta.labels,
            annotations: meta.annotations,
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    };
    (
        serde_yaml_ng::to_string(&pod).expect("Pod to YAML"),
        grace_secs,
    )
}

/// The pod both tests play (copy 1 of role `asset`) and its container, as podman names it.
pub const POD: &str = "asset-1";
pub const CONTAINER: &str = "asset-1-robust";

/// The container of `pod`, as podman names the exported template's `robust`.
pub fn container_of(pod: &str) -> String {
    format!("{pod}-robust")
}

/// `podman exec CONTAINER gridctl probe` (the name from `POD_NAME`): exit code, output.
pub fn probe(p: &Podman, pod: &str) -> (Option<i32>, String) {
    let out = p.run_with(
        &["exec", &container_of(pod), "gridctl", "probe"],
        Duration::from_secs(15),
    );
    (out.code, format!("{}{}", out.stdout, out.stderr))
}

pub fn container_state(p: &Podman, pod: &str) -> String {
    let out = p.run(&[
        "inspect",
        "--format",
        "{{.State.Status}}",
        &container_of(pod),
    ]);
    out.stdout.trim().to_string()
}

pub fn logs(p: &Podman, pod: &str) -> String {
    let out = p.run(&["logs", &container_of(pod)]);
    format!("{}{}", out.stdout, out.stderr)
}

/// How long `kube play` took to return, and the pod to turn ready, both from its start.
pub struct Played {
    pub returned: Duration,
    pub ready: Duration,
}

/// Writes `yaml` to `file`, plays it (one `kube play`), and waits (at most `timeout`
/// each) until `gridctl probe` in every pod of `pods` says it is ready; a container that
/// ends first fails at once, with its logs. `ready` is when the last one was.
pub fn play_until_ready(
    p: &Podman,
    file: &Path,
    yaml: &str,
    pods: &[&str],
    timeout: Duration,
) -> Played {
    std::fs::write(file, yaml).expect("write pod.yaml");
    let t_play = std::time::Instant::now();
    let out = p.kube_play(file);
    assert!(
        out.ok(),
        "podman kube play: {out}\n--- pod.yaml ---\n{yaml}"
    );
    let returned = t_play.elapsed();
    for pod in pods {
        let what = format!("{pod}'s probe says ready");
        let ready = crate::common::wait::wait_for(&what, timeout, || {
            let (code, line) = probe(p, pod);
            if code == Some(0) {
                return Some(line);
            }
            // A container that already ended will never turn ready: say why at once.
            let state = container_state(p, pod);
            assert!(
                ["running", "created", "configured", "initialized"].contains(&state.as_str()),
                "{pod}: container {state} before ready; probe: {line}\nlogs:\n{}",
                logs(p, pod)
            );
            None
        });
        assert_eq!(ready.trim(), format!("{pod}: ready"), "{ready}");
    }
    Played {
        returned,
        ready: t_play.elapsed(),
    }
}

/// How the pod's graceful stop went: how long `pod stop` took, the container's exit
/// code, and its logs after it.
pub struct Stopped {
    pub took: Duration,
    pub code: String,
    pub log: String,
}

/// `podman pod stop -t GRACE`: what a kubelet does (SIGTERM, then at most the grace
/// period). Not `kube down`: podman 4.3's stops with no grace at all (see
/// `tests/kube_play.rs`).
pub fn stop_pod(p: &Podman, pod: &str, grace_secs: u64) -> Stopped {
    let t_stop = std::time::Instant::now();
    let stop = p.run_with(
        &["pod", "stop", "-t", &grace_secs.to_string(), pod],
        Duration::from_secs(grace_secs + 30),
    );
    let took = t_stop.elapsed();
    assert!(stop.ok(), "podman pod stop: {stop}");
    let container = container_of(pod);
    let code = p.ok(&["inspect", "--format", "{{.State.ExitCode}}", &container]);
    Stopped {
        took,
        code: code.stdout.trim().to_string(),
        log: logs(p, pod),
    }
}

/// The host directory behind the pod's emptyDir at /var/lib/gridctl (its state).
pub fn state_dir(p: &Podman, pod: &str) -> PathBuf {
    let out = p.ok(&[
        "inspect",
        "--format",
        "{{range .Mounts}}{{if eq .Destination \"/var/lib/gridctl\"}}{{.Source}}{{end}}{{end}}",
        &container_of(pod),
    ]);
    PathBuf::from(out.stdout.trim())
}

/// The loopback addresses listening on `port` (from /proc/net/tcp and tcp6), as text.
pub fn listeners_on(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for l in text.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT; state 0A is LISTEN.
            let (Some(local), Some(state)) = (f.get(1), f.get(3)) else {
                continue;
            };
            let Some((ip, p)) = local.split_once(':') else {
                continue;
            };
            if *state != "0A" || u16::from_str_radix(p, 16).ok() != Some(port) {
                continue;
            }
            out.push(if v6 {
                format!("[{ip}]")
            } else {
                let n = u32::from_str_radix(ip, 16).unwrap_or(0);
                std::net::Ipv4Addr::from(n.swap_bytes()).to_string()
            });
        }
    }
    out
}
