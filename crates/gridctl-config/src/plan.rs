//! The plan: the manifest resolved into instances, ports, routes and wiring.
//!
//! Pure function of the manifest (plus the existence of `Robust.dll` for the default
//! command), so the same grid.toml always gives the same plan, and `plan`/`render`
//! show exactly what `up` would run.

use crate::catalog::{self, CopyRule, Service, Side};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::manifest::SuperviseSection;
use crate::wiring::RoleWiring;
use gridctl_wire::spec::{InstanceSpec, Probe, ReadinessSpec, RestartPolicy, StopPolicy};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable that carries the database connection string to each instance, so the
/// secret never lands in a rendered INI file (`ConnectionString = ${Environment|...}`).
pub const DB_ENV: &str = "GRIDCTL_DATABASE_CONNECTION";

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub grid_name: String,
    pub grid_nick: String,
    pub manifest_path: PathBuf,
    pub state_dir: PathBuf,
    pub bin_dir: PathBuf,
    pub templates_dir: Option<PathBuf>,
    /// Program and leading arguments (`dotnet Robust.dll`).
    pub command: Vec<String>,
    pub roles: Vec<RolePlan>,
    pub instances: Vec<InstancePlan>,
    /// One entry per hosted service and side: the hostname nginx routes on.
    pub routes: Vec<Route>,
    pub database: Option<DatabasePlan>,
    pub nginx: Option<NginxPlan>,
    /// `[GridInfoService]` keys, in order.
    pub grid_info: Vec<(String, String)>,
    /// Set when any Hypergrid service is hosted.
    pub hypergrid: Option<HypergridPlan>,
    pub public_base_url: String,
    /// TERM for every console.
    pub term: String,
    /// Prompt text without `# `.
    pub prompt: String,
    /// `[robust] env`, for every instance.
    pub env: Vec<(String, String)>,
    /// Set when planned for a Kubernetes cluster (`crate::cluster`).
    pub cluster: Option<crate::cluster::ClusterPlan>,
    /// Robust's `[GridService] Region_<name>` flags: the declared regions' (default and
    /// fallback), or OpenSim's own `Welcome Area` when the grid declares no simulator.
    pub region_flags: Vec<(String, String)>,
    /// `[simulator] env`, for every simulator.
    pub simulator_env: Vec<(String, String)>,
    /// `[simulator] prompt`: every simulator's console prompt, without `# `; by default
    /// each has its own ([`SimulatorPlan::prompt`]).
    pub simulator_prompt: Option<String>,
    /// Where a few values were written in grid.toml, so `check`'s machine checks can point there.
    #[serde(skip)]
    pub origin: Origin,
    /// Problems that do not stop anything (e.g. `allow_unsafe_copies`); every command shows them.
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
}

/// Spans in grid.toml of the values `check` verifies against the machine.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub source: Option<std::sync::Arc<crate::diagnostic::Source>>,
    pub bin_dir: Option<std::ops::Range<usize>>,
    /// The program (first element of `[robust] command`), when given.
    pub program: Option<std::ops::Range<usize>>,
    pub connection: Option<std::ops::Range<usize>>,
}

impl Origin {
    /// `d` pointing at `span` when both the source and the span are known.
    pub fn locate(
        &self,
        d: Diagnostic,
        span: &Option<std::ops::Range<usize>>,
        label: &str,
    ) -> Diagnostic {
        match (&self.source, span) {
            (Some(src), Some(span)) => d.at(src, span.clone(), label),
            _ => d,
        }
    }
}

/// What kind of process an instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A copy of a Robust role.
    Robust,
    /// A region simulator (`OpenSim.exe`).
    Simulator,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Robust => "robust",
            Kind::Simulator => "simulator",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RolePlan {
    pub name: String,
    pub services: Vec<String>,
    pub instances: u32,
    pub port: u16,
    pub public_port: Option<u16>,
    /// Address other processes use for this role's instances (127.0.0.1 when local).
    pub address: String,
    /// Name from `[hosts]`, `None` for this machine.
    pub host: Option<String>,
    /// Position in the start order: dependencies first.
    pub start_rank: usize,
    /// Raw INI overrides: section → (key, value), rendered last.
    pub settings: Vec<(String, Vec<(String, String)>)>,
    pub env: Vec<(String, String)>,
    pub wiring: RoleWiring,
    #[serde(skip)]
    pub supervise: Supervise,
    /// Set for a simulator (`[simulators.NAME]`): one copy, no services, no upstream.
    pub simulator: Option<SimulatorPlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstancePlan {
    pub name: String,
    /// The role, or for a simulator its own name.
    pub role: String,
    pub kind: Kind,
    /// Copy number, from 1.
    pub index: u32,
    pub private_port: u16,
    pub public_port: Option<u16>,
    pub address: String,
    /// The instance's directory in the state dir (rendered tree, logs, pid files).
    pub dir: PathBuf,
    pub ini_path: PathBuf,
    pub logconfig_path: PathBuf,
    pub log_path: PathBuf,
    /// Full command line (program first), as the holder runs it.
    pub argv: Vec<String>,
    /// Connector class names expected in `loaded successfully` lines.
    pub expected_connectors: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub service: String,
    pub role: String,
    pub side: Side,
    pub hostname: String,
    /// URL other Robust instances and simulators use (through nginx when it is managed).
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabasePlan {
    pub provider: String,
    /// `OpenSim.Data.MySQL.dll` etc.
    pub storage_provider: String,
    /// Where the connection string comes from (`env:NAME`, `file:PATH`, `inline`); never the secret.
    pub source: String,
    #[serde(skip)]
    pub connection: Secret,
}

/// A value that must never be printed.
#[derive(Clone, Default)]
pub struct Secret(pub Option<String>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NginxPlan {
    pub output: PathBuf,
    pub test_command: Vec<String>,
    pub reload_command: Vec<String>,
    pub public_listen: String,
    pub private_listen: String,
    /// The IPv4 address `private_listen` is bound to, when it names one (not every
    /// address): where requests to a private route connect.
    pub private_address: Option<std::net::Ipv4Addr>,
    pub max_fails: u32,
    pub fail_timeout_secs: u64,
    pub keepalive: u32,
    pub drain_secs: f64,
}

/// A region simulator (`[simulators.NAME]`): one `OpenSim.exe` process serving its regions.
#[derive(Debug, Clone, Serialize)]
pub struct SimulatorPlan {
    /// OpenSim's `bin/`: the simulator's cwd (nothing is written there).
    pub bin_dir: PathBuf,
    /// `[Network] http_listener_port`.
    pub http_port: u16,
    pub regions: Vec<RegionPlan>,
    /// `[Estates] DefaultEstateName`.
    pub estate_name: String,
    /// `[Estates] DefaultEstateOwnerName`, "First Last".
    pub estate_owner: String,
    /// Region data: `None` = SQLite files in the simulator's own data directory.
    pub database: Option<DatabasePlan>,
    /// Where viewers reach the regions (`ExternalHostName`).
    pub external_host: String,
    /// What the regions' UDP listeners bind (`InternalAddress`).
    pub internal_address: String,
    /// `[Startup] ConsolePrompt`, without `# `.
    pub prompt: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionPlan {
    pub name: String,
    pub uuid: String,
    /// Grid coordinates, in regions.
    pub x: u32,
    pub y: u32,
    /// UDP port (`InternalPort`).
    pub port: u16,
    /// Logins without a start region land here (Robust's `DefaultRegion`).
    pub default: bool,
}

impl RegionPlan {
    /// The console line OpenSim's RegionReady module prints once the region takes logins.
    pub fn logins_enabled_line(&self) -> String {
        format!("INITIALIZATION COMPLETE FOR {} - LOGINS ENABLED", self.name)
    }

    /// The key Robust's `[GridService]` reads this region's flags from: `Region_` and
    /// the name with spaces as `_` (GridService.cs).
    pub fn flags_key(&self) -> String {
        format!("Region_{}", self.name.replace(' ', "_"))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HypergridPlan {
    pub home_uri: String,
    pub gatekeeper_uri: String,
}

/// Supervision policy resolved for one role.
#[derive(Debug, Clone)]
pub struct Supervise {
    pub stop_command: String,
    pub stop_timeout: Duration,
    pub sigint_timeout: Duration,
    pub sigterm_timeout: Duration,
    pub ready_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub stable_after: Duration,
    pub crash_loop_count: u32,
    pub crash_loop_window: Duration,
    pub scrollback_lines: usize,
    pub log_max_bytes: u64,
    pub log_keep: u32,
    pub console_rows: u16,
    pub console_cols: u16,
}

impl Supervise {
    pub(crate) fn resolve(grid: &SuperviseSection, role: &SuperviseSection) -> Supervise {
        macro_rules! pick {
            ($f:ident, $d:expr) => {
                role.$f.clone().or(grid.$f.clone()).unwrap_or($d)
            };
        }
        Supervise {
            stop_command: pick!(stop_command, "shutdown".to_string()),
            stop_timeout: pick!(stop_timeout, Duration::from_secs(30)),
            sigint_timeout: pick!(sigint_timeout, Duration::from_secs(10)),
            sigterm_timeout: pick!(sigterm_timeout, Duration::from_secs(10)),
            ready_timeout: pick!(ready_timeout, Duration::from_secs(120)),
            backoff_initial: pick!(backoff_initial, Duration::from_secs(1)),
            backoff_max: pick!(backoff_max, Duration::from_secs(60)),
            stable_after: pick!(stable_after, Duration::from_secs(60)),
            crash_loop_count: pick!(crash_loop_count, 5),
            crash_loop_window: pick!(crash_loop_window, Duration::from_secs(300)),
            scrollback_lines: pick!(scrollback_lines, 5000),
            log_max_bytes: pick!(log_max_bytes, 10 * 1024 * 1024),
            log_keep: pick!(log_keep, 5),
            console_rows: pick!(console_rows, 50).max(1),
            console_cols: pick!(console_cols, 200).max(1),
        }
    }
}

impl Plan {
    pub fn instance(&self, name: &str) -> Option<&InstancePlan> {
        self.instances.iter().find(|i| i.name == name)
    }

    pub fn role(&self, name: &str) -> Option<&RolePlan> {
        self.roles.iter().find(|r| r.name == name)
    }

    pub fn sockets_dir(&self) -> PathBuf {
        self.state_dir.join("sock")
    }

    /// Map tiles shared by the copies that serve the map (`[MapImageService]
    /// TilesStoragePath`, `[GridService] MapTileDirectory`): absolute, never under bin/.
    pub fn maptiles_dir(&self) -> PathBuf {
        self.state_dir.join("maptiles")
    }

    /// Baked textures shared by every bakes copy (`[BakedTextureService] BaseDirectory`).
    pub fn bakes_dir(&self) -> PathBuf {
        self.state_dir.join("bakes")
    }

    /// FSAssets data and spool, shared by the primary and its secondaries.
    pub fn fsassets_dir(&self) -> PathBuf {
        self.state_dir.join("fsassets")
    }

    /// Resolves names given on the command line (roles or instances) into instances,
    /// in start order. An empty selection means every instance.
    pub fn select(&self, names: &[String]) -> Result<Vec<&InstancePlan>, String> {
        if names.is_empty() {
            return Ok(self.start_order());
        }
        let mut picked: Vec<&InstancePlan> = Vec::new();
        for n in names {
            let matched: Vec<&InstancePlan> = self
                .instances
                .iter()
                .filter(|i| &i.name == n || &i.role == n)
                .collect();
            if matched.is_empty() {
                let candidates = self
                    .instances
                    .iter()
                    .map(|i| i.name.as_str())
                    .chain(self.roles.iter().map(|r| r.name.as_str()));
                let hint = did_you_mean(n, candidates)
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                return Err(format!(
                    "no role or instance named `{n}`{hint} (known: {})",
                    self.instances
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for m in matched {
                if !picked.iter().any(|p| p.name == m.name) {
                    picked.push(m);
                }
            }
        }
        let order = self.start_order();
        picked.sort_by_key(|p| order.iter().position(|o| o.name == p.name));
        Ok(picked)
    }

    /// Start order: every role's first copy, dependencies first, then the other copies
    /// (copies racing on an empty database corrupt their migrations, robust.md §0c),
    /// then the simulators.
    pub fn start_order(&self) -> Vec<&InstancePlan> {
        let rank = |i: &InstancePlan| {
            self.role(&i.role)
                .map(|r| r.start_rank)
                .unwrap_or(usize::MAX)
        };
        let mut all: Vec<&InstancePlan> = self.instances.iter().collect();
        // Simulators after every Robust copy: they call the grid as they start.
        all.sort_by_key(|i| (i.kind == Kind::Simulator, i.index > 1, rank(i), i.index));
        all
    }

    /// The spec a holder runs this instance with (config hash filled in by render).
    pub fn spec(&self, inst: &InstancePlan, config_hash: &str) -> InstanceSpec {
        let role = self.role(&inst.role);
        let sup = role
            .map(|r| r.supervise.clone())
            .unwrap_or_else(|| Supervise::resolve(&Default::default(), &Default::default()));
        let simulator = role.and_then(|r| r.simulator.as_ref());
        let mut env = vec![("TERM".to_string(), self.term.clone())];
        // Each process gets only its own secret: a simulator never sees Robust's.
        let (db, db_env) = match simulator {
            Some(sim) => (sim.database.as_ref(), crate::simulator::REGION_DB_ENV),
            None => (self.database.as_ref(), DB_ENV),
        };
        if let Some(conn) = db.and_then(|d| d.connection.0.as_ref()) {
            env.push((db_env.to_string(), conn.clone()));
        }
        match simulator {
            Some(_) => env.extend(self.simulator_env.iter().cloned()),
            None => env.extend(self.env.iter().cloned()),
        }
        if let Some(r) = role {
            env.extend(r.env.iter().cloned());
        }
        let (prompt, expected_lines, extra_probes) = match simulator {
            Some(sim) => (
                self.simulator_prompt
                    .clone()
                    .unwrap_or_else(|| sim.prompt.clone()),
                sim.regions
                    .iter()
                    .map(|r| r.logins_enabled_line())
                    .collect(),
                sim.regions
                    .iter()
                    .filter_map(|r| self.registration_probe(&r.name))
                    .collect(),
            ),
            None => (self.prompt.clone(), Vec::new(), Vec::new()),
        };
        InstanceSpec {
            name: inst.name.clone(),
            role: inst.role.clone(),
            program: inst.argv[0].clone(),
            args: inst.argv[1..].to_vec(),
            cwd: simulator
                .map(|s| s.bin_dir.clone())
                .unwrap_or_else(|| self.bin_dir.clone()),
            env,
            socket: self.sockets_dir().join(&inst.name),
            holder_pid_file: inst.dir.join("holder.pid"),
            console_log: inst.dir.join("console.log"),
            log_max_bytes: sup.log_max_bytes,
            log_keep: sup.log_keep,
            scrollback_lines: sup.scrollback_lines,
            rows: sup.console_rows,
            cols: sup.console_cols,
            robust_pid_file: inst.dir.join(match simulator {
                Some(_) => "OpenSim.pid",
                None => "Robust.pid",
            }),
            stop: StopPolicy {
                command: sup.stop_command.clone(),
                command_timeout_ms: ms(sup.stop_timeout),
                sigint_timeout_ms: ms(sup.sigint_timeout),
                sigterm_timeout_ms: ms(sup.sigterm_timeout),
            },
            restart: RestartPolicy {
                backoff_initial_ms: ms(sup.backoff_initial),
                backoff_max_ms: ms(sup.backoff_max),
                stable_after_ms: ms(sup.stable_after),
                crash_loop_count: sup.crash_loop_count,
                crash_loop_window_ms: ms(sup.crash_loop_window),
            },
            readiness: ReadinessSpec {
                expected_connectors: inst.expected_connectors.clone(),
                prompt: format!("{prompt}# "),
                probe: self.probe_for(inst),
                timeout_ms: ms(sup.ready_timeout),
                expected_lines,
                extra_probes,
            },
            config_hash: config_hash.to_string(),
            // Filled in by render (it knows whether nginx is managed).
            on_health_change: Vec::new(),
        }
    }

    /// The first hosted service with a real request to prove it works.
    fn probe_for(&self, inst: &InstancePlan) -> Option<Probe> {
        let role = self.role(&inst.role)?;
        for name in &role.services {
            let svc = catalog::get(name)?;
            if let Some(p) = svc.probe {
                let side = svc.connectors.first().map(|c| c.side)?;
                let port = match side {
                    Side::Public => inst.public_port?,
                    Side::Private => inst.private_port,
                };
                return Some(Probe {
                    port,
                    method: p.method.into(),
                    path: p.path.into(),
                    body: p.body.into(),
                    expect_status: p.expect_status,
                    reject_body: p.reject_body.map(Into::into),
                    host: None,
                    address: None,
                });
            }
        }
        None
    }
}

impl Plan {
    /// The request that tells whether the grid service knows region `name`, sent where
    /// simulators send theirs: the grid's private route (through nginx: its private
    /// listener, with the hostname as `Host`), so it also proves that route works.
    pub fn registration_probe(&self, name: &str) -> Option<Probe> {
        self.private_post(
            "grid",
            "/grid",
            format!(
                "SCOPEID=00000000-0000-0000-0000-000000000000&NAME={}&METHOD=get_region_by_name",
                form_encode(name)
            ),
        )
    }

    /// A POST to `service` as a simulator sends it: to its private route's URL (through
    /// nginx: its private listener, the hostname as `Host`), answered 200 and not
    /// Robust's `null`. `None` when no role hosts the service.
    pub fn private_post(&self, service: &str, path: &str, body: String) -> Option<Probe> {
        let route = self
            .routes
            .iter()
            .find(|r| r.service == service && r.side == Side::Private)?;
        let rest = route.url.split_once("://").map(|(_, r)| r)?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = authority.rsplit_once(':')?;
        // nginx's private listener may be bound to one address only; a URL naming an
        // address is connected to there.
        let address = match &self.nginx {
            Some(n) => n.private_address,
            None => host.parse().ok(),
        };
        Some(Probe {
            port: port.parse().ok()?,
            method: "POST".into(),
            path: path.into(),
            body,
            expect_status: Some(200),
            reject_body: Some(crate::simulator::NULL_RESULT.into()),
            host: Some(host.to_string()),
            address,
        })
    }

    /// The simulators of the plan, with their own sections.
    pub fn simulators(&self) -> impl Iterator<Item = (&RolePlan, &SimulatorPlan)> {
        self.roles
            .iter()
            .filter_map(|r| r.simulator.as_ref().map(|s| (r, s)))
    }
}

/// `application/x-www-form-urlencoded` for one value (what Robust's connectors parse).
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// Lower-case, dash-separated form of a name (for `gridnick` and default slugs).
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Absolute form of `p` against `base`, lexically (no symlink resolution: the file may not exist yet).
pub fn absolutize(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Whether a role's services allow `n` copies, and why not.
pub fn copies_problem(
    services: &[&'static Service],
    n: u32,
) -> Option<(&'static str, &'static str)> {
    if n <= 1 {
        return None;
    }
    services.iter().find_map(|s| match s.copies {
        CopyRule::Single(why) => Some((s.name, why)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_key_replaces_spaces() {
        let r = RegionPlan {
            name: "Welcome Area".into(),
            uuid: String::new(),
            x: 1000,
            y: 1000,
            port: 9000,
            default: true,
        };
        assert_eq!(r.flags_key(), "Region_Welcome_Area");
    }

    #[test]
    fn form_encoding_of_region_names() {
        assert_eq!(form_encode("Island One"), "Island+One");
        assert_eq!(form_encode("a&b=c"), "a%26b%3Dc");
    }
}
