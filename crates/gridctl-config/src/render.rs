//! Rendering: plan → per-instance config trees, nginx config, simulator snippet.
//!
//! Everything is rendered in memory first; only when every template succeeded is
//! anything written (each file atomically), so a failed render changes nothing.

use crate::catalog::{self, Side};
use crate::diagnostic::Diagnostic;
use crate::plan::{InstancePlan, Plan, RolePlan, DB_ENV};
use crate::templates::Templates;
use gridctl_files::atomic;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod simulator;

/// One instance's rendered files, relative to its directory.
#[derive(Debug, Clone)]
pub struct RenderedInstance {
    pub name: String,
    pub dir: PathBuf,
    pub files: Vec<(PathBuf, String)>,
    /// Hash of the files, the command line and the environment: changes exactly when a
    /// restart is needed.
    pub config_hash: String,
    /// Writable directories shared by copies (map tiles, bakes, fsassets) that this
    /// instance's config names; created before it starts so no copy writes into bin/.
    pub shared_dirs: Vec<PathBuf>,
}

/// Files of the tree that gridctl owns (others in the instance dir are runtime state).
const SPEC_FILE: &str = "holder.json";

#[derive(Serialize)]
struct GridCtx<'a> {
    name: &'a str,
    nick: &'a str,
    domain: String,
    base_url: &'a str,
}

#[derive(Serialize)]
struct InstanceCtx<'a> {
    name: &'a str,
    index: u32,
    private_port: u16,
    public_port: Option<u16>,
    dir: String,
}

#[derive(Serialize)]
struct RoleCtx<'a> {
    name: &'a str,
    services: &'a [String],
}

#[derive(Serialize)]
struct Common<'a> {
    manifest: String,
    grid: GridCtx<'a>,
    instance: InstanceCtx<'a>,
    role: RoleCtx<'a>,
    prompt: &'a str,
    hypergrid: Option<&'a crate::plan::HypergridPlan>,
    nginx: bool,
    grid_info: &'a [(String, String)],
    region_flags: &'a [(String, String)],
    database: Option<DatabaseCtx<'a>>,
    login_address: String,
    shared: SharedCtx,
    log: LogCtx,
}

/// Robust's own logs (log4net's RollingFileAppender) roll at the console log's size and
/// count. log4net reads them as a long and an Int32 and drops the appender on a larger
/// count, so they are capped at what it reads.
#[derive(Serialize)]
struct LogCtx {
    max_bytes: i64,
    keep: i32,
    /// The log files' names in the instance dir (Robust's or the simulator's).
    file: &'static str,
    stats_file: &'static str,
}

/// Absolute paths of the per-grid directories copies share. Robust resolves relative
/// ones against its cwd, bin/ (robust.md 0d), so every copy would write into bin_dir.
#[derive(Serialize)]
struct SharedCtx {
    maptiles: String,
    bakes: String,
    fsassets_data: String,
    fsassets_spool: String,
}

#[derive(Serialize)]
struct DatabaseCtx<'a> {
    storage_provider: &'a str,
    env: &'a str,
}

#[derive(Serialize)]
struct ServiceListEntry {
    label: String,
    entry: String,
}

#[derive(Serialize)]
struct Includes {
    database: String,
    local: String,
    remote: String,
    overrides: String,
}

fn common<'a>(plan: &'a Plan, role: &'a RolePlan, inst: &'a InstancePlan) -> Common<'a> {
    Common {
        manifest: plan.manifest_path.display().to_string(),
        grid: GridCtx {
            name: &plan.grid_name,
            nick: &plan.grid_nick,
            domain: domain_of(&plan.public_base_url),
            base_url: &plan.public_base_url,
        },
        instance: InstanceCtx {
            name: &inst.name,
            index: inst.index,
            private_port: inst.private_port,
            public_port: inst.public_port,
            dir: inst.dir.display().to_string(),
        },
        role: RoleCtx {
            name: &role.name,
            services: &role.services,
        },
        prompt: &plan.prompt,
        hypergrid: plan.hypergrid.as_ref(),
        nginx: plan.nginx.is_some(),
        grid_info: &plan.grid_info,
        region_flags: &plan.region_flags,
        database: plan.database.as_ref().map(|d| DatabaseCtx {
            storage_provider: &d.storage_provider,
            env: DB_ENV,
        }),
        login_address: plan
            .routes
            .iter()
            .find(|r| r.service == "login")
            .and_then(|r| plan.role(&r.role))
            .map(|r| r.address.clone())
            .unwrap_or_else(|| "127.0.0.1".into()),
        shared: SharedCtx {
            maptiles: plan.maptiles_dir().display().to_string(),
            bakes: plan.bakes_dir().display().to_string(),
            fsassets_data: plan.fsassets_dir().join("data").display().to_string(),
            fsassets_spool: plan.fsassets_dir().join("tmp").display().to_string(),
        },
        log: LogCtx {
            max_bytes: i64::try_from(role.supervise.log_max_bytes).unwrap_or(i64::MAX),
            keep: i32::try_from(role.supervise.log_keep).unwrap_or(i32::MAX),
            file: match role.simulator {
                Some(_) => "OpenSim.log",
                None => "robust.log",
            },
            stats_file: match role.simulator {
                Some(_) => "OpenSimStats.log",
                None => "robust-stats.log",
            },
        },
    }
}

/// The shared directories the local services of `role` write into (on a cluster: what
/// a `shared_claim` must hold when more than one pod uses one of them).
pub fn shared_dirs(plan: &Plan, role: &RolePlan) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for section in &role.wiring.local {
        let wanted = match section.service.as_str() {
            "map" | "grid" => vec![plan.maptiles_dir()],
            "bakes" => vec![plan.bakes_dir()],
            "fsasset" => vec![
                plan.fsassets_dir(),
                plan.fsassets_dir().join("data"),
                plan.fsassets_dir().join("tmp"),
            ],
            _ => Vec::new(),
        };
        for d in wanted {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    dirs
}

fn domain_of(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split([':', '/']).next().unwrap_or(rest).to_string()
}

/// Renders every instance of the plan (nothing is written).
pub fn render_instances(plan: &Plan, t: &Templates) -> Result<Vec<RenderedInstance>, Diagnostic> {
    plan.instances
        .iter()
        .map(|inst| render_instance(plan, t, inst))
        .collect()
}

pub fn render_instance(
    plan: &Plan,
    t: &Templates,
    inst: &InstancePlan,
) -> Result<RenderedInstance, Diagnostic> {
    let role = plan.role(&inst.role).ok_or_else(|| {
        Diagnostic::error(format!("instance `{}` has no role in the plan", inst.name))
    })?;
    if let Some(sim) = &role.simulator {
        return simulator::render_instance(plan, t, role, inst, sim);
    }
    let base = common(plan, role, inst);
    let dir = &inst.dir;
    let mut files: Vec<(PathBuf, String)> = Vec::new();

    let service_list = service_list(role);
    let includes = Includes {
        database: dir.join("includes/database.ini").display().to_string(),
        local: dir.join("includes/local/*.ini").display().to_string(),
        remote: dir.join("includes/remote/*.ini").display().to_string(),
        overrides: dir.join("includes/overrides.ini").display().to_string(),
    };
    files.push((
        "Robust.ini".into(),
        t.render(
            "Robust.ini",
            &with(
                &base,
                [
                    ("service_list", json(&service_list)),
                    ("includes", json(&includes)),
                ],
            ),
        )?,
    ));
    files.push(("log4net.xml".into(), t.render("log4net.xml", &base)?));
    if base.database.is_some() {
        files.push((
            "includes/database.ini".into(),
            t.render("database.ini", &base)?,
        ));
    } else {
        files.push((
            "includes/database.ini".into(),
            "; no [database] in grid.toml\n".into(),
        ));
    }
    for section in &role.wiring.local {
        let Some(svc) = catalog::get(&section.service) else {
            continue;
        };
        let name = format!("local/{}.ini", svc.name);
        let template = if t.has(&name) {
            name
        } else {
            "local/_service.ini".to_string()
        };
        let service = serde_json::json!({
            "name": svc.name,
            "summary": svc.summary,
            "section": svc.section,
            "local_module": svc.local_module,
        });
        let ctx = with(&base, [("service", service), ("section", json(section))]);
        files.push((
            format!("includes/local/{}.ini", svc.name).into(),
            t.render(&template, &ctx)?,
        ));
    }
    for remote in &role.wiring.remote {
        let ctx = with(&base, [("remote", json(remote))]);
        files.push((
            format!("includes/remote/{}.ini", remote.service).into(),
            t.render("remote/_connector.ini", &ctx)?,
        ));
    }
    let ctx = with(&base, [("settings", json(&role.settings))]);
    files.push((
        "includes/overrides.ini".into(),
        t.render("overrides.ini", &ctx)?,
    ));

    let health_hook = plan.nginx.is_some().then(|| {
        vec![
            "-f".into(),
            plan.manifest_path.display().to_string(),
            "nginx".into(),
            "sync".into(),
        ]
    });
    let shared = shared_dirs(plan, role);
    finish(plan, inst, files, health_hook, shared)
}

/// An instance's tree with its spec: every text ends in a newline, the config hash covers
/// the files, the command line and the environment, and `holder.json` is the spec.
/// `health_hook`: what the holder runs when the copy's health changes (nginx sync).
fn finish(
    plan: &Plan,
    inst: &InstancePlan,
    mut files: Vec<(PathBuf, String)>,
    health_hook: Option<Vec<String>>,
    shared_dirs: Vec<PathBuf>,
) -> Result<RenderedInstance, Diagnostic> {
    for (_, text) in files.iter_mut() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    // What reaches the copy's environment (the database secret among it) counts as
    // config: a copy started without it must be restarted once it is there. Only the
    // hash of the values is kept, never the values.
    let mut spec = plan.spec(inst, "");
    let config_hash = hash_files(&files, &inst.argv, &spec.env);
    spec.config_hash = config_hash.clone();
    spec.on_health_change = health_hook.unwrap_or_default();
    let spec_json = serde_json::to_string_pretty(&spec).map_err(|e| {
        Diagnostic::error(format!("cannot encode the spec of `{}`: {e}", inst.name))
    })?;
    files.push((SPEC_FILE.into(), spec_json + "\n"));
    Ok(RenderedInstance {
        name: inst.name.clone(),
        dir: inst.dir.clone(),
        files,
        config_hash,
        shared_dirs,
    })
}

/// `[ServiceList]` entries: `[ConfigName@]${Const|Port}/Dll:Class`, labelled uniquely.
fn service_list(role: &RolePlan) -> Vec<ServiceListEntry> {
    let mut out: Vec<ServiceListEntry> = Vec::new();
    for svc in role.services.iter().filter_map(|s| catalog::get(s)) {
        for c in svc.connectors {
            let port = match c.side {
                Side::Public => "${Const|PublicPort}",
                Side::Private => "${Const|PrivatePort}",
            };
            let prefix = c.config_name.map(|n| format!("{n}@")).unwrap_or_default();
            let mut label = c
                .config_name
                .map(str::to_string)
                .unwrap_or_else(|| c.class_name().to_string());
            if out.iter().any(|e| e.label == label) {
                label = format!("{}-{}", svc.name, label);
            }
            out.push(ServiceListEntry {
                label,
                entry: format!("{prefix}{port}/{}", c.class),
            });
        }
    }
    out
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The common context plus extra top-level keys.
fn with<const N: usize>(base: &Common, extra: [(&str, serde_json::Value); N]) -> serde_json::Value {
    let mut v = json(base);
    if let serde_json::Value::Object(map) = &mut v {
        for (k, x) in extra {
            map.insert(k.to_string(), x);
        }
    }
    v
}

fn hash_files(files: &[(PathBuf, String)], argv: &[String], env: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (path, text) in files {
        h.update(path.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    for a in argv {
        h.update(a.as_bytes());
        h.update([0]);
    }
    for (k, v) in env {
        h.update(k.as_bytes());
        h.update([b'=']);
        h.update(v.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Which instances' trees changed on disk when written.
#[derive(Debug, Default)]
pub struct WriteReport {
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Writes rendered trees: each file atomically; the instance dir 0700 (its spec carries
/// the database secret); include files no longer rendered are removed.
pub fn write_instances(rendered: &[RenderedInstance]) -> std::io::Result<WriteReport> {
    let mut report = WriteReport::default();
    for r in rendered {
        let mut changed = false;
        ensure_private_dir(&r.dir)?;
        for d in &r.shared_dirs {
            create_dir_if_missing(d)?;
        }
        for (rel, text) in &r.files {
            let path = r.dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if std::fs::read(&path).ok().as_deref() == Some(text.as_bytes()) {
                continue;
            }
            let mode = if rel == Path::new(SPEC_FILE) {
                0o600
            } else {
                0o644
            };
            atomic::write_file(&path, text.as_bytes(), mode)?;
            changed = true;
        }
        for sub in ["includes/local", "includes/remote"] {
            let d = r.dir.join(sub);
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let rel = Path::new(sub).join(e.file_name());
                if !r.files.iter().any(|(p, _)| *p == rel) {
                    std::fs::remove_file(e.path())?;
                    changed = true;
                }
            }
        }
        if changed {
            report.changed.push(r.name.clone());
        } else {
            report.unchanged.push(r.name.clone());
        }
    }
    Ok(report)
}

/// Creates `dir` (and its parents) 0700 when missing; an existing directory keeps its
/// mode, since the operator may have shared it on purpose.
pub fn create_dir_if_missing(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// Creates `dir` 0700 when missing. An existing directory is never chmod-ed (a
/// `state_dir` of `.` or a shared 1777 directory belongs to someone else's choices);
/// one that others may write to gets a warning, once per directory per command.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    create_dir_if_missing(dir)?;
    warn_if_shared(dir);
    Ok(())
}

/// Warns (on stderr) when `dir` is group- or world-writable: others could then
/// replace what gridctl writes there.
pub fn warn_if_shared(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Mutex, OnceLock};
    static WARNED: OnceLock<Mutex<std::collections::BTreeSet<PathBuf>>> = OnceLock::new();
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 == 0 {
        return;
    }
    let mut warned = WARNED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if !warned.insert(dir.to_path_buf()) {
        return;
    }
    let who = if mode & 0o002 != 0 { "world" } else { "group" };
    let d = Diagnostic::warning(format!(
        "`{}` is {who}-writable (mode {mode:04o}): others can create or replace files in it",
        dir.display()
    ))
    .help("use a state_dir of its own (gridctl creates it 0700), or `chmod go-w` it");
    eprintln!("{d}\n");
}

/// Where a copy stands in its upstream (design.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Membership {
    In,
    /// Marked `down`: nginx sends it nothing new while it drains.
    Draining,
    /// Not listed at all.
    Out,
}

#[derive(Serialize)]
struct UpstreamServer {
    instance: String,
    address: String,
    port: u16,
    down: bool,
    state: &'static str,
}

/// A copy of the role that is not in the upstream, listed as a comment.
#[derive(Serialize)]
struct OutServer {
    instance: String,
    address: String,
    port: u16,
    why: String,
}

#[derive(Serialize)]
struct Upstream {
    name: String,
    role: String,
    servers: Vec<UpstreamServer>,
    out: Vec<OutServer>,
    /// How many copies the role has (in, draining or out).
    copies: usize,
    /// Why the copies that are out are out (distinct reasons, joined).
    why_out: String,
}

#[derive(Serialize)]
struct NginxRoute {
    service: String,
    side: &'static str,
    role: String,
    hostname: String,
    listen: String,
    upstream: String,
    tries: u32,
    /// A POST that met a copy dying may go to the next one (`catalog::replays_posts`).
    replay: bool,
}

pub fn upstream_name(role: &str, side: Side) -> String {
    match side {
        Side::Public => format!("gridctl_{role}_public"),
        Side::Private => format!("gridctl_{role}_private"),
    }
}

/// The nginx config of the whole grid. `membership` marks copies draining or out
/// (missing instances are `in`).
pub fn render_nginx(
    plan: &Plan,
    t: &Templates,
    membership: &BTreeMap<String, Membership>,
) -> Result<String, Diagnostic> {
    render_nginx_with(plan, t, membership, &BTreeMap::new())
}

/// [`render_nginx`], with why each copy that is out is out (default: "not ready"), so
/// the config says what is true of a role whose copies exist but serve nothing.
pub fn render_nginx_with(
    plan: &Plan,
    t: &Templates,
    membership: &BTreeMap<String, Membership>,
    why_out: &BTreeMap<String, String>,
) -> Result<String, Diagnostic> {
    let Some(n) = &plan.nginx else {
        return Err(Diagnostic::error("grid.toml has no [nginx] table")
            .help("add [nginx] with at least output = \"nginx/gridctl.conf\""));
    };
    let mut upstreams = Vec::new();
    for role in &plan.roles {
        for side in [Side::Public, Side::Private] {
            let serves_side = plan
                .routes
                .iter()
                .any(|r| r.role == role.name && r.side == side);
            if !serves_side {
                continue;
            }
            let mut servers = Vec::new();
            let mut out = Vec::new();
            for i in plan.instances.iter().filter(|i| i.role == role.name) {
                let m = membership.get(&i.name).copied().unwrap_or(Membership::In);
                let port = match side {
                    Side::Public => i.public_port,
                    Side::Private => Some(i.private_port),
                };
                let Some(port) = port else { continue };
                if m == Membership::Out {
                    out.push(OutServer {
                        instance: i.name.clone(),
                        address: i.address.clone(),
                        port,
                        why: why_out
                            .get(&i.name)
                            .cloned()
                            .unwrap_or_else(|| "not ready".into()),
                    });
                    continue;
                }
                servers.push(UpstreamServer {
                    instance: i.name.clone(),
                    address: i.address.clone(),
                    port,
                    down: m == Membership::Draining,
                    state: if m == Membership::Draining {
                        "draining"
                    } else {
                        "in"
                    },
                });
            }
            let mut reasons: Vec<&str> = Vec::new();
            for o in &out {
                if !reasons.contains(&o.why.as_str()) {
                    reasons.push(&o.why);
                }
            }
            let why_out = reasons.join("; ");
            upstreams.push(Upstream {
                name: upstream_name(&role.name, side),
                role: role.name.clone(),
                copies: servers.len() + out.len(),
                servers,
                out,
                why_out,
            });
        }
    }
    let routes: Vec<NginxRoute> = plan
        .routes
        .iter()
        .map(|r| NginxRoute {
            service: r.service.clone(),
            side: match r.side {
                Side::Public => "public",
                Side::Private => "private",
            },
            role: r.role.clone(),
            hostname: r.hostname.clone(),
            listen: match r.side {
                Side::Public => n.public_listen.clone(),
                Side::Private => n.private_listen.clone(),
            },
            upstream: upstream_name(&r.role, r.side),
            replay: catalog::replays_posts(&r.service),
            // As many tries as copies serve (at most 3): the count then changes only
            // with the membership, in renders that reload anyway, never on its own
            // (a scale down would otherwise cost a second reload after the stop).
            tries: plan
                .instances
                .iter()
                .filter(|i| i.role == r.role)
                .filter(|i| {
                    membership.get(&i.name).copied().unwrap_or(Membership::In) == Membership::In
                })
                .count()
                .clamp(1, 3) as u32,
        })
        .collect();
    let ctx = serde_json::json!({
        "manifest": plan.manifest_path.display().to_string(),
        "grid": { "name": plan.grid_name },
        "nginx": n,
        "upstreams": upstreams,
        "routes": routes,
        "private_listen": plan.routes.iter().any(|r| r.side == Side::Private).then(|| n.private_listen.clone()),
    });
    t.render("nginx.conf", &ctx).map(with_final_newline)
}

/// The GridCommon.ini simulators gridctl does not run use to reach this grid (the
/// same text gridctl renders for its own simulators, with paths relative to bin/).
pub fn render_simulator(plan: &Plan, t: &Templates) -> Result<String, Diagnostic> {
    simulator::grid_common(plan, t, None).map(with_final_newline)
}

/// Tera drops the template's last newline; a text file (and a terminal prompt after
/// `render-simulator`) wants exactly one.
fn with_final_newline(mut text: String) -> String {
    while text.ends_with("\n\n") {
        text.pop();
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::ensure_private_dir;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn existing_dirs_keep_their_mode_new_ones_are_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        ensure_private_dir(&shared).unwrap();
        assert_eq!(mode(&shared), 0o1777);
        let fresh = shared.join("a/b");
        ensure_private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&shared.join("a")), 0o700);
    }
}
