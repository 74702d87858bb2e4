//! `grid.toml`: the raw manifest, parsed with spans so every problem can point at its line.
//!
//! This is the "raw arguments" half of the ripgrep split: the planner resolves it
//! into the validated, derived form every command works from.

use crate::diagnostic::{did_you_mean, Diagnostic, Source};
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub grid: GridSection,
    pub robust: RobustSection,
    pub database: Option<Spanned<DatabaseSection>>,
    pub nginx: Option<NginxSection>,
    #[serde(default)]
    pub supervise: SuperviseSection,
    /// Machines roles can be placed on (design.md §7); without it everything is local.
    #[serde(default)]
    pub hosts: IndexMap<String, HostSection>,
    pub roles: IndexMap<String, Spanned<RoleSection>>,
    /// How the grid runs on a Kubernetes cluster (`gridctl export kubernetes`, `pod run`);
    /// ignored on a single host. Every key has a default.
    pub kubernetes: Option<Spanned<KubernetesSection>>,
    /// The region simulator binary and what every simulator shares (design.md §8).
    pub simulator: Option<Spanned<SimulatorDefaults>>,
    /// Region simulators: one `OpenSim.exe` process each, serving its regions.
    #[serde(default)]
    pub simulators: IndexMap<String, Spanned<SimulatorSection>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSection {
    pub name: String,
    /// Short name viewers show (`gridnick`); defaults to a slug of `name`.
    pub nick: Option<String>,
    /// Public base domain: a public service's hostname defaults to `<service>.<domain>`.
    pub domain: Spanned<String>,
    /// Private base domain for private services, reached by Robust instances and simulators.
    #[serde(default = "default_private_domain")]
    pub private_domain: String,
    /// Scheme of the public URLs (what viewers and other grids use): `http` or `https`.
    #[serde(default = "default_scheme")]
    pub public_scheme: Spanned<String>,
    /// Port in public URLs; omitted from URLs when it is the scheme's default.
    pub public_port: Option<u16>,
    /// Per-service hostname overrides: `login = "login.example.org"`.
    #[serde(default)]
    pub hostnames: IndexMap<String, Spanned<String>>,
    /// Extra `[GridInfoService]` keys (welcome, about, register, economy, ...). Never put secrets here:
    /// every key is published by /get_grid_info.
    #[serde(default)]
    pub info: IndexMap<String, String>,
    /// Where rendered trees, sockets and logs live; default `.gridctl` beside the manifest.
    pub state_dir: Option<PathBuf>,
    /// A directory whose files override the built-in templates file by file.
    pub templates: Option<Spanned<PathBuf>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobustSection {
    /// The Robust `bin/` directory: the cwd of every instance.
    pub bin_dir: Spanned<PathBuf>,
    /// Program and leading args; default `dotnet Robust.dll` when bin_dir has Robust.dll, else `mono Robust.exe`.
    pub command: Option<Spanned<Vec<String>>>,
    /// Extra arguments appended to every instance's command line.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment for every instance.
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// TERM for the console; Robust needs a real terminal type (`dumb` never shows a prompt).
    #[serde(default = "default_term")]
    pub term: String,
    /// Console prompt text without the trailing `# ` (Robust's default `R.O.B.U.S.T.`).
    #[serde(default = "default_prompt")]
    pub prompt: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// `mysql`, `pgsql` or `sqlite`.
    pub provider: Spanned<String>,
    /// The connection string, or `env:NAME` / `file:PATH` so grid.toml can be committed.
    pub connection: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NginxSection {
    /// Where `render-nginx`/`nginx reload` install the rendered config (an include file).
    pub output: PathBuf,
    #[serde(default = "default_nginx_test")]
    pub test_command: Vec<String>,
    #[serde(default = "default_nginx_reload")]
    pub reload_command: Vec<String>,
    /// Listener for public services (viewers, simulators, other grids).
    #[serde(default = "default_public_listen")]
    pub public_listen: Spanned<String>,
    /// Listener for private services; must not be reachable from outside.
    #[serde(default = "default_private_listen")]
    pub private_listen: Spanned<String>,
    #[serde(default = "default_max_fails")]
    pub max_fails: u32,
    #[serde(default = "default_fail_timeout", with = "duration")]
    pub fail_timeout: Duration,
    #[serde(default = "default_keepalive")]
    pub keepalive: u32,
    /// How long a copy stays marked `down` before it is stopped (scale down, rolling restart).
    #[serde(default = "default_drain", with = "duration")]
    pub drain: Duration,
}

/// Supervision policy; every field may be overridden per role.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperviseSection {
    /// Typed into the console to stop gracefully.
    pub stop_command: Option<String>,
    #[serde(default, with = "opt_duration")]
    pub stop_timeout: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub sigint_timeout: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub sigterm_timeout: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub ready_timeout: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub backoff_initial: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub backoff_max: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub stable_after: Option<Duration>,
    pub crash_loop_count: Option<u32>,
    #[serde(default, with = "opt_duration")]
    pub crash_loop_window: Option<Duration>,
    pub scrollback_lines: Option<usize>,
    pub log_max_bytes: Option<u64>,
    pub log_keep: Option<u32>,
    pub console_rows: Option<u16>,
    pub console_cols: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    /// Address other machines (nginx, other roles) use to reach this host's instances.
    pub address: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSection {
    /// Catalog names of the services this role's process hosts.
    pub services: Vec<Spanned<String>>,
    #[serde(default = "default_instances")]
    pub instances: Spanned<i64>,
    /// Private (main) port base: copy n listens on `port + n - 1`.
    pub port: Spanned<i64>,
    /// Public port base for roles with public services; default `port + 1000`.
    pub public_port: Option<Spanned<i64>>,
    /// Hostname for a role that hosts exactly one routed service.
    pub hostname: Option<Spanned<String>>,
    /// Host from `[hosts]` this role runs on (default: this machine).
    pub host: Option<Spanned<String>>,
    /// Loud override: run a single-copy service (presence, griduser, ...) as several copies anyway.
    #[serde(default)]
    pub allow_unsafe_copies: bool,
    /// Raw INI keys per section, rendered last so they override everything: `[roles.core.settings.LoginService]`.
    #[serde(default)]
    pub settings: IndexMap<String, IndexMap<String, toml::Value>>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    #[serde(default)]
    pub supervise: SuperviseSection,
}

/// `[simulator]`: the simulator binary (like `[robust]` for Robust) and defaults every
/// `[simulators.NAME]` may override.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorDefaults {
    /// OpenSim's `bin/` holding `OpenSim.exe`; default `[robust] bin_dir` (a full OpenSim
    /// `bin/` has both).
    pub bin_dir: Option<Spanned<PathBuf>>,
    /// Program and leading args; default `dotnet OpenSim.dll` when bin_dir has it, else
    /// `mono OpenSim.exe`.
    pub command: Option<Spanned<Vec<String>>>,
    /// Extra arguments appended to every simulator's command line.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// Console prompt without the trailing `# ` (OpenSim's `Region (root)`).
    pub prompt: Option<String>,
    /// The estate new regions join (`[Estates] DefaultEstateName`).
    pub estate_name: Option<Spanned<String>>,
    /// "First Last" of an existing grid user (`[Estates] DefaultEstateOwnerName`): with
    /// it and the estate name, the first start asks nothing on the console.
    pub estate_owner: Option<Spanned<String>>,
    /// Where region data lives: absent = an SQLite file per simulator in its state dir.
    pub database: Option<Spanned<DatabaseSection>>,
    /// The address viewers reach the regions' UDP ports at (`ExternalHostName`); default
    /// the grid's `domain`.
    pub external_host: Option<Spanned<String>>,
    /// The address the regions' UDP listeners bind (`InternalAddress`, default `0.0.0.0`).
    pub internal_address: Option<Spanned<String>>,
}

/// `[simulators.NAME]`: one simulator process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorSection {
    /// The simulator's HTTP port (`[Network] http_listener_port`): capabilities,
    /// agent transfers, what the grid calls.
    pub http_port: Spanned<i64>,
    pub regions: Vec<Spanned<RegionSection>>,
    // Each of these overrides `[simulator]`'s.
    /// The estate new regions join (`[Estates] DefaultEstateName`).
    pub estate_name: Option<Spanned<String>>,
    /// "First Last" of an existing grid user (`[Estates] DefaultEstateOwnerName`): with
    /// it and the estate name, the first start asks nothing on the console.
    pub estate_owner: Option<Spanned<String>>,
    /// Where region data lives: absent = an SQLite file per simulator in its state dir.
    pub database: Option<Spanned<DatabaseSection>>,
    /// The address viewers reach the regions' UDP ports at (`ExternalHostName`); default
    /// the grid's `domain`.
    pub external_host: Option<Spanned<String>>,
    /// The address the regions' UDP listeners bind (`InternalAddress`, default `0.0.0.0`).
    pub internal_address: Option<Spanned<String>>,
    /// Raw INI keys per section, rendered last (`[simulators.x.settings.Startup]`).
    #[serde(default)]
    pub settings: IndexMap<String, IndexMap<String, toml::Value>>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    #[serde(default)]
    pub supervise: SuperviseSection,
}

/// `[[simulators.NAME.regions]]`: one region of a simulator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSection {
    pub name: Spanned<String>,
    /// Grid coordinates in regions, `"X,Y"` (e.g. `"1000,1000"`).
    pub location: Spanned<String>,
    /// The region's UDP port (`InternalPort`).
    pub port: Spanned<i64>,
    /// The region's UUID; default derived from the grid's and the region's names.
    pub uuid: Option<Spanned<String>>,
    /// Logins without a start region land here (Robust's `DefaultRegion` flag); default
    /// the first region declared.
    #[serde(default)]
    pub default: bool,
}

/// `[kubernetes]`: what a cluster needs that a single host does not. Resolved and
/// checked by the planner into `plan::ClusterPlan`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSection {
    /// Namespace of every exported object (default `default`).
    pub namespace: Option<Spanned<String>>,
    /// Image holding OpenSim's `bin/` and gridctl (default `opensim-robust:0.9.2.2`).
    pub image: Option<Spanned<String>>,
    /// IngressClass of the public Ingress (default: the cluster's default class).
    pub ingress_class: Option<Spanned<String>>,
    /// IngressClass for the private services; without it they get no Ingress at all
    /// (other Robust copies reach them through their Services).
    pub internal_ingress_class: Option<Spanned<String>>,
    /// Secret with the database connection string under key `connection` (default `robust-db`).
    pub database_secret: Option<Spanned<String>>,
    /// The cluster's DNS domain (default `cluster.local`).
    pub cluster_domain: Option<Spanned<String>>,
    /// OpenSim's `bin/` inside the image (default `/opt/opensim/bin`).
    pub bin_dir: Option<Spanned<PathBuf>>,
    /// Program and leading args inside the image (default `mono Robust.exe`).
    pub command: Option<Spanned<Vec<String>>>,
    /// Port in public URLs behind the Ingress (default: the scheme's own).
    pub public_port: Option<Spanned<i64>>,
    /// A ReadWriteMany PersistentVolumeClaim for what copies share on one host (map
    /// tiles, baked textures, FSAssets): needed when more than one pod uses them.
    pub shared_claim: Option<Spanned<String>>,
    /// Requests and limits for every role's pods.
    #[serde(default)]
    pub resources: ResourcesSection,
    /// Per-role overrides of `resources`: `[kubernetes.roles.asset] memory = "1Gi"`.
    #[serde(default)]
    pub roles: IndexMap<String, Spanned<ResourcesSection>>,
}

/// Kubernetes quantities (`"250m"`, `"512Mi"`), checked by the planner.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSection {
    pub cpu: Option<Spanned<String>>,
    pub memory: Option<Spanned<String>>,
    pub cpu_limit: Option<Spanned<String>>,
    pub memory_limit: Option<Spanned<String>>,
}

fn default_private_domain() -> String {
    "robust.internal".into()
}
fn default_scheme() -> Spanned<String> {
    Spanned::new(0..0, "http".into())
}
fn default_term() -> String {
    "xterm".into()
}
fn default_prompt() -> String {
    "R.O.B.U.S.T.".into()
}
fn default_nginx_test() -> Vec<String> {
    vec!["nginx".into(), "-t".into()]
}
fn default_nginx_reload() -> Vec<String> {
    vec!["nginx".into(), "-s".into(), "reload".into()]
}
fn default_public_listen() -> Spanned<String> {
    Spanned::new(0..0, "80".into())
}
fn default_private_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8003".into())
}
fn default_max_fails() -> u32 {
    3
}
fn default_fail_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_keepalive() -> u32 {
    32
}
fn default_drain() -> Duration {
    Duration::from_secs(5)
}
fn default_instances() -> Spanned<i64> {
    Spanned::new(0..0, 1)
}

/// The longest duration grid.toml may name; anything longer is a typo (and the
/// arithmetic on it could overflow further down).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Durations in grid.toml and on the command line: anything humantime reads (`"500ms"`,
/// `"30s"`, `"2m"`, `"1h 30m"`), or a bare number of seconds. At most [`MAX_DURATION`];
/// never panics (`from_secs_f64` does on huge or negative input).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let shown = crate::diagnostic::escape(s);
    let parsed = if s.chars().all(|c| c.is_ascii_digit() || c == '.') && !s.is_empty() {
        let secs: f64 = s
            .parse()
            .map_err(|_| format!("`{shown}` is not a duration (try \"500ms\", \"30s\", \"2m\")"))?;
        Duration::try_from_secs_f64(secs).ok()
    } else {
        match humantime::parse_duration(s) {
            Ok(d) => Some(d),
            Err(humantime::DurationError::NumberOverflow) => None,
            Err(humantime::DurationError::UnknownUnit { unit, .. }) => {
                return Err(format!(
                    "unknown duration unit `{}` (use ms, s, m or h, e.g. \"1m 30s\")",
                    crate::diagnostic::escape(&unit)
                ))
            }
            Err(_) => {
                return Err(format!(
                    "`{shown}` is not a duration (try \"500ms\", \"30s\", \"2m\")"
                ))
            }
        }
    };
    match parsed {
        Some(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(format!("duration `{shown}` is longer than a day (24h)")),
    }
}

mod duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(i64),
        Float(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Secs(s) => super::parse_duration(&s.to_string()).map_err(serde::de::Error::custom),
            Raw::Float(f) => {
                super::parse_duration(&f.to_string()).map_err(serde::de::Error::custom)
            }
            Raw::Text(t) => super::parse_duration(&t).map_err(serde::de::Error::custom),
        }
    }
}

mod opt_duration {
    use serde::Deserializer;
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }
}

/// A manifest read from disk, with its source kept for diagnostics.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    pub manifest: Manifest,
    pub source: Arc<Source>,
    /// The directory relative paths in the manifest are resolved against.
    pub dir: PathBuf,
}

impl LoadedManifest {
    pub fn path(&self) -> &Path {
        &self.source.path
    }
}

/// The largest manifest (or secret, or template) gridctl reads: far above any real one,
/// small enough that a wrong path (a disk image, `/dev/zero`) cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a small text file the manifest names: regular files only (a FIFO or a device is
/// opened non-blocking and refused, a directory refused), at most [`MAX_FILE_BYTES`], UTF-8.
/// The error reads after "cannot read `PATH`: ".
pub fn read_text_file(path: &Path) -> Result<String, String> {
    String::from_utf8(read_capped(path)?).map_err(|e| {
        format!(
            "it is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// The bytes of a regular file of at most [`MAX_FILE_BYTES`], never blocking.
pub fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO without a writer would otherwise block forever.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err("it is a directory".into());
    }
    if !ft.is_file() {
        return Err("it is not a regular file (a FIFO, socket or device)".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "it is {} bytes, more than the {MAX_FILE_BYTES} gridctl reads",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    // `take`: the file may grow between the size check and the read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "it is more than the {MAX_FILE_BYTES} bytes gridctl reads"
        ));
    }
    Ok(bytes)
}

/// Reads and parses `path`. Errors are diagnostics pointing into the file.
pub fn load(path: &Path) -> Result<LoadedManifest, Diagnostic> {
    let bytes = read_capped(path).map_err(|e| {
        let d = Diagnostic::error(format!("cannot read manifest `{}`: {e}", path.display()));
        if !path.exists() {
            d.help("create one with `gridctl init`, or name another with `-f FILE`")
        } else {
            d
        }
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => parse(path, text),
        Err(e) => {
            // Point at the first bad byte in a lossy copy of the text (TOML is UTF-8 only).
            let at = e.utf8_error().valid_up_to();
            let good = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let source = Arc::new(Source {
                path: path.to_path_buf(),
                text,
            });
            let start = good.len();
            Err(Diagnostic::error("the manifest is not valid UTF-8")
                .at(
                    &source,
                    start..start + '\u{FFFD}'.len_utf8(),
                    "invalid byte here",
                )
                .help("TOML files are UTF-8; re-save grid.toml as UTF-8"))
        }
    }
}

pub fn parse(path: &Path, text: String) -> Result<LoadedManifest, Diagnostic> {
    let source = Arc::new(Source {
        path: path.to_path_buf(),
        text,
    });
    let manifest: Manifest = toml::from_str(&source.text).map_err(|e| toml_error(&source, &e))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    Ok(LoadedManifest {
        manifest,
        source,
        dir,
    })
}

/// Turns a toml/serde error into a diagnostic, adding "did you mean" for unknown keys.
fn toml_error(source: &Arc<Source>, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().to_string();
    let (headline, label, help) = explain_toml_message(&message);
    let d = Diagnostic::error(headline);
    // Serde errors about the whole document have no span: point at its start.
    let span = e.span().unwrap_or(0..0);
    let d = d.at(source, span, label);
    match help {
        Some(h) => d.help(h),
        None => d,
    }
}

/// Rewrites serde's wording into ours: `unknown field `x`, expected one of `a`, `b``.
fn explain_toml_message(message: &str) -> (String, String, Option<String>) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, tail)) = rest.split_once('`') {
            let expected: Vec<&str> = tail
                .split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            let help = did_you_mean(field, expected.iter().copied()).or_else(|| {
                (!expected.is_empty()).then(|| {
                    format!(
                        "expected one of {}",
                        expected
                            .iter()
                            .map(|e| format!("`{e}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            });
            return (
                format!("unknown key `{field}`"),
                "not a known key here".into(),
                help,
            );
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some((field, _)) = rest.split_once('`') {
            return (
                format!("missing required key `{field}`"),
                "in this table".into(),
                None,
            );
        }
    }
    let first_line = message.lines().next().unwrap_or(message).to_string();
    (
        format!("invalid manifest: {first_line}"),
        String::new(),
        None,
    )
}

/// Where a key or value read without `Spanned` is written in the manifest text, found
/// by walking a span-keeping parse of the same text: `["roles", "core", "env", "X"]`.
/// Array elements are named by their index. Falls back to the nearest enclosing item
/// that has a span (an implicit table has none).
pub struct Locator {
    doc: Option<toml_edit::Document<String>>,
}

impl Locator {
    pub fn new(text: &str) -> Locator {
        Locator {
            doc: toml_edit::Document::parse(text.to_string()).ok(),
        }
    }

    /// The span of the value at `path` (or of the nearest ancestor that has one).
    pub fn value(&self, path: &[&str]) -> Option<std::ops::Range<usize>> {
        self.find(path, false)
    }

    /// The span of the last key of `path` (its value's, when the key has none).
    pub fn key(&self, path: &[&str]) -> Option<std::ops::Range<usize>> {
        self.find(path, true)
    }

    fn find(&self, path: &[&str], want_key: bool) -> Option<std::ops::Range<usize>> {
        use toml_edit::{Item, Value};
        let doc = self.doc.as_ref()?;
        let mut item: &Item = doc.as_item();
        let mut best = None;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            let next: Option<(Option<std::ops::Range<usize>>, &Item)> =
                if let Some(t) = item.as_table_like() {
                    t.get_key_value(seg).map(|(k, v)| (k.span(), v))
                } else {
                    None
                };
            match next {
                Some((key_span, v)) => {
                    let span = if last && want_key {
                        key_span.or_else(|| v.span())
                    } else {
                        v.span().or(key_span)
                    };
                    best = span.or(best);
                    item = v;
                }
                None => {
                    // An array element, or an inline table's key.
                    let idx: Option<usize> = seg.parse().ok();
                    let found = match (item, idx) {
                        (Item::Value(Value::Array(a)), Some(n)) => a.get(n).and_then(|v| v.span()),
                        (Item::ArrayOfTables(a), Some(n)) => a.get(n).and_then(|t| t.span()),
                        _ => None,
                    };
                    return found.or(best);
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("1m 30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("3 fortnights")
            .unwrap_err()
            .contains("unknown duration unit `fortnights`"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_never_panic() {
        for bad in [
            "1e300",
            "-1",
            "NaN",
            "inf",
            "99999999999999999999h",
            "25h",
            "1.5.2",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("24h").unwrap(), MAX_DURATION);
    }

    #[test]
    fn locator_finds_keys_and_values() {
        let text =
            "[grid]\nname = \"x\"\n[roles.core.env]\nA = \"b\"\n[robust]\nargs = [\"p\", \"q\"]\n";
        let l = Locator::new(text);
        let v = l.value(&["roles", "core", "env", "A"]).unwrap();
        assert_eq!(&text[v], "\"b\"");
        let k = l.key(&["roles", "core", "env", "A"]).unwrap();
        assert_eq!(&text[k], "A");
        let a = l.value(&["robust", "args", "1"]).unwrap();
        assert_eq!(&text[a], "\"q\"");
    }

    #[test]
    fn unknown_field_gets_did_you_mean() {
        let (h, _, help) = explain_toml_message(
            "unknown field `instnces`, expected one of `services`, `instances`, `port`",
        );
        assert_eq!(h, "unknown key `instnces`");
        assert_eq!(help.as_deref(), Some("did you mean `instances`?"));
    }
}
