//! Builds a [`Plan`] from a parsed manifest, collecting every structural problem as a
//! diagnostic that points into grid.toml (unknown services, port collisions, unsafe
//! copies, missing dependencies, ...), instead of stopping at the first one.
//!
//! The role, instance and grid-wide parts are here; hostnames and URLs are derived in
//! `planner/routes.rs`, ports checked in `planner/ports.rs`, and the `[database]` and
//! `[nginx]` tables read in `planner/sections.rs`.

use crate::catalog::{self, Service, Side};
use crate::cluster::{ClusterPlan, Target, CONFIG_DIR, STATE_DIR, TEMPLATES_SUBDIR};
use crate::diagnostic::{did_you_mean, Diagnostic, Source};
use crate::manifest::{LoadedManifest, Manifest, RoleSection};
use crate::plan::{
    absolutize, copies_problem, slug, HypergridPlan, InstancePlan, Origin, Plan, RolePlan,
    Supervise,
};
use crate::wiring::wire_role;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use toml::Spanned;

mod cluster;
mod ports;
mod routes;
mod secrets;
mod sections;
mod simulators;
mod surge;
mod validate;

pub use cluster::{dns_label_problem, image_problem, parse_quantity};
pub use validate::{dns_name_problem, ini_text_problem, parse_listen, MAX_INSTANCES};

pub use ports::listen_port;
pub use surge::{extra_copy, next_index, with_copy, with_extra_copy, without_copy};

/// What wiring a role needs from the whole grid: Hypergrid or not, where each service
/// lives, and the URL of each service's private route.
type WiringInputs<'a> = (
    bool,
    &'a dyn Fn(&str) -> bool,
    &'a dyn Fn(&str) -> Option<String>,
);

/// Builds the plan for this machine; structural problems come back as diagnostics
/// pointing into grid.toml.
pub fn build(loaded: &LoadedManifest) -> Result<Plan, Vec<Diagnostic>> {
    Planner::new(loaded).build()
}

/// Builds the plan for `target`. For a cluster every copy listens on its role's own
/// ports in its own pod, connectors name role Services by DNS, paths are the pod's
/// (`/var/lib/gridctl`, the image's `bin/`, templates under `/etc/gridctl`), and the
/// database connection is read from the variable the pod's Secret fills.
pub fn build_for(loaded: &LoadedManifest, target: Target) -> Result<Plan, Vec<Diagnostic>> {
    let mut p = Planner::new(loaded);
    p.target = target;
    p.build()
}

pub struct Planner<'a> {
    loaded: &'a LoadedManifest,
    m: &'a Manifest,
    src: Arc<Source>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    target: Target,
    /// Set while planning for a cluster, before routes and addresses need it.
    cluster: Option<ClusterPlan>,
}

impl<'a> Planner<'a> {
    pub fn new(loaded: &'a LoadedManifest) -> Planner<'a> {
        Planner {
            loaded,
            m: &loaded.manifest,
            src: loaded.source.clone(),
            errors: Vec::new(),
            warnings: Vec::new(),
            target: Target::Host,
            cluster: None,
        }
    }

    fn err(&mut self, d: Diagnostic) {
        self.errors.push(d);
    }

    fn at(
        &self,
        msg: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::error(msg).at(&self.src, span, label)
    }

    pub fn build(mut self) -> Result<Plan, Vec<Diagnostic>> {
        let dir = self.loaded.dir.clone();
        let m = self.m;
        self.validate();
        self.inline_secrets();
        self.cluster = self.resolve_cluster();
        let (state_dir, bin_dir, templates_dir, command) = match self.target {
            Target::Host => {
                let state_dir = absolutize(
                    &dir,
                    m.grid.state_dir.as_deref().unwrap_or(".gridctl".as_ref()),
                );
                let bin_dir = absolutize(&dir, m.robust.bin_dir.get_ref());
                let templates_dir = m
                    .grid
                    .templates
                    .as_ref()
                    .map(|t| absolutize(&dir, t.get_ref()));
                let command = self.command(&dir, &bin_dir);
                (state_dir, bin_dir, templates_dir, command)
            }
            // The pod's own paths: the export mounts the manifest and the user's
            // templates under /etc/gridctl, whatever they are called on the workstation.
            Target::Cluster => {
                let k = m.kubernetes.as_ref().map(|k| k.get_ref());
                let bin_dir = k
                    .and_then(|k| k.bin_dir.as_ref())
                    .map(|b| b.get_ref().clone())
                    .unwrap_or_else(|| cluster::DEFAULT_BIN_DIR.into());
                let command = k
                    .and_then(|k| k.command.as_ref())
                    .map(|c| c.get_ref().clone())
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| cluster::DEFAULT_COMMAND.map(String::from).to_vec());
                let templates_dir = m
                    .grid
                    .templates
                    .as_ref()
                    .map(|_| PathBuf::from(CONFIG_DIR).join(TEMPLATES_SUBDIR));
                (PathBuf::from(STATE_DIR), bin_dir, templates_dir, command)
            }
        };
        let manifest_path = dir.join(self.loaded.path().file_name().unwrap_or_default());
        self.validate_resolved_paths(&[
            ("the manifest's path", &[], &manifest_path),
            ("state_dir", &["grid", "state_dir"], &state_dir),
            ("bin_dir", &["robust", "bin_dir"], &bin_dir),
        ]);

        // Which role hosts each service (a service lives in exactly one role).
        let mut host_of: HashMap<&'static str, String> = HashMap::new();
        let mut role_services: Vec<(String, Vec<&'static Service>)> = Vec::new();
        for (role_name, role) in &m.roles {
            let services = self.role_services(role_name, role, &mut host_of);
            role_services.push((role_name.clone(), services));
        }

        let routes = self.routes(&role_services);
        let url_of = |service: &str| -> Option<String> {
            let private = routes
                .iter()
                .find(|r| r.service == service && r.side == Side::Private);
            private.map(|r| r.url.clone())
        };
        let hosted_anywhere = |service: &str| host_of.contains_key(service);
        let hypergrid = host_of
            .keys()
            .any(|s| catalog::get(s).is_some_and(|c| c.hypergrid));

        let mut roles = Vec::new();
        for (role_name, services) in &role_services {
            let Some(role) = m.roles.get(role_name) else {
                continue;
            };
            let wiring = (
                hypergrid,
                &hosted_anywhere as &dyn Fn(&str) -> bool,
                &url_of as &dyn Fn(&str) -> Option<String>,
            );
            roles.push(self.role_plan(role_name, role, services, wiring));
        }
        self.start_ranks(&mut roles, &host_of);
        let mut instances = self.instances(&roles, &state_dir, &command);
        let (sim_roles, sim_instances) = self.simulators(&dir, &state_dir, &bin_dir, roles.len());
        roles.extend(sim_roles);
        instances.extend(sim_instances);
        self.check_ports(&roles, &instances);
        self.check_region_ports(&instances);
        let region_flags = region_flags(&roles);
        let database = self.database(&dir, instances.len());
        let nginx = self.nginx(&dir);
        // On a cluster the Services and the Ingress take nginx's place.
        let nginx = nginx.filter(|_| self.target == Target::Host);

        let public_base_url = self.public_url(m.grid.domain.get_ref());
        let route_url = |svc: &str| {
            routes
                .iter()
                .find(|r| r.service == svc && r.side == Side::Public)
                .map(|r| r.url.clone())
        };
        let hypergrid = hypergrid.then(|| HypergridPlan {
            home_uri: route_url("useragent").unwrap_or_else(|| public_base_url.clone()),
            gatekeeper_uri: route_url("gatekeeper").unwrap_or_else(|| public_base_url.clone()),
        });
        let grid_nick = m.grid.nick.clone().unwrap_or_else(|| slug(&m.grid.name));
        let mut grid_info = vec![
            ("gridname".to_string(), m.grid.name.clone()),
            ("gridnick".to_string(), grid_nick.clone()),
        ];
        if let Some(login) = route_url("login") {
            grid_info.push(("login".into(), format!("{login}/")));
        }
        if let Some(hg) = &hypergrid {
            grid_info.push(("gatekeeper".into(), format!("{}/", hg.gatekeeper_uri)));
            grid_info.push(("uas".into(), format!("{}/", hg.home_uri)));
        }
        for (k, v) in &m.grid.info {
            match grid_info.iter_mut().find(|(key, _)| key == k) {
                Some(entry) => entry.1 = v.clone(),
                None => grid_info.push((k.clone(), v.clone())),
            }
        }

        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let mut plan = Plan {
            warnings: std::mem::take(&mut self.warnings),
            grid_name: m.grid.name.clone(),
            grid_nick,
            manifest_path: absolutize(
                &dir,
                self.loaded
                    .path()
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .as_path(),
            ),
            state_dir,
            bin_dir,
            templates_dir,
            command,
            roles,
            instances,
            routes,
            database,
            nginx,
            grid_info,
            hypergrid,
            public_base_url,
            term: m.robust.term.clone(),
            prompt: m.robust.prompt.clone(),
            env: m
                .robust
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            cluster: self.cluster.take(),
            region_flags,
            simulator_env: m
                .simulator
                .as_ref()
                .map(|d| {
                    d.get_ref()
                        .env
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            simulator_prompt: m
                .simulator
                .as_ref()
                .and_then(|d| d.get_ref().prompt.clone()),
            origin: Origin {
                source: Some(self.src.clone()),
                bin_dir: Some(m.robust.bin_dir.span()),
                // The program as written; without a `command`, the `[robust]` table
                // that would hold it (so "not found" still names a place).
                program: {
                    let loc = crate::manifest::Locator::new(&self.src.text);
                    loc.value(&["robust", "command", "0"])
                        .filter(|_| m.robust.command.is_some())
                        .or_else(|| loc.key(&["robust"]))
                },
                connection: m.database.as_ref().map(|d| d.get_ref().connection.span()),
            },
        };
        let warnings = self.cluster_warnings(&plan);
        plan.warnings.extend(warnings);
        Ok(plan)
    }

    fn command(&mut self, dir: &std::path::Path, bin_dir: &std::path::Path) -> Vec<String> {
        let given = self.m.robust.command.clone();
        self.program(given.as_ref(), "`command`", dir, bin_dir, "Robust")
    }

    /// A command line from grid.toml (`[robust]`'s or `[simulator]`'s), its program made
    /// absolute; without one, `dotnet ASSEMBLY.dll` where bin_dir has the .dll, else
    /// `mono ASSEMBLY.exe`.
    fn program(
        &mut self,
        given: Option<&Spanned<Vec<String>>>,
        what: &str,
        dir: &std::path::Path,
        bin_dir: &std::path::Path,
        assembly: &str,
    ) -> Vec<String> {
        match given {
            Some(c) if c.get_ref().is_empty() => {
                let d = self.at(
                    format!("{what} is empty"),
                    c.span(),
                    "needs at least a program",
                );
                self.err(d.help(format!("e.g. command = [\"mono\", \"{assembly}.exe\"]")));
                Vec::new()
            }
            Some(c) => {
                let mut cmd = c.get_ref().clone();
                // A relative program path with a slash is relative to the manifest, like every other path in it.
                if cmd[0].contains('/') && !cmd[0].starts_with('/') {
                    cmd[0] = absolutize(dir, cmd[0].as_ref()).display().to_string();
                }
                cmd
            }
            None if bin_dir.join(format!("{assembly}.dll")).exists() => {
                vec!["dotnet".into(), format!("{assembly}.dll")]
            }
            None => vec!["mono".into(), format!("{assembly}.exe")],
        }
    }

    fn role_services(
        &mut self,
        role_name: &str,
        role: &Spanned<RoleSection>,
        host_of: &mut HashMap<&'static str, String>,
    ) -> Vec<&'static Service> {
        let mut out: Vec<&'static Service> = Vec::new();
        if !valid_name(role_name) {
            let d = self.at(
                format!("role name `{role_name}` is not usable in instance names"),
                role.span(),
                "this role",
            );
            self.err(
                d.help("use lowercase letters, digits and `_` (instances are named `<role>-<n>`)"),
            );
        }
        if role.get_ref().services.is_empty() {
            let d = self.at(
                format!("role `{role_name}` hosts no service"),
                role.span(),
                "this role",
            );
            self.err(d.help(format!(
                "add services, e.g. services = [\"asset\"]; known: {}",
                catalog::names().join(", ")
            )));
        }
        for s in &role.get_ref().services {
            let Some(svc) = catalog::get(s.get_ref()) else {
                let mut d = self.at(
                    format!("unknown service `{}`", s.get_ref()),
                    s.span(),
                    "not in the service catalog",
                );
                d = d.help(
                    did_you_mean(s.get_ref(), catalog::names()).unwrap_or_else(|| {
                        format!("known services: {}", catalog::names().join(", "))
                    }),
                );
                self.err(d);
                continue;
            };
            if let Some(other) = host_of.get(svc.name) {
                let mut d = self.at(
                    format!(
                        "service `{}` is hosted by two roles, `{other}` and `{role_name}`",
                        svc.name
                    ),
                    s.span(),
                    "second role hosting it",
                );
                let first = self.m.roles.get(other).and_then(|r| {
                    r.get_ref()
                        .services
                        .iter()
                        .find(|x| x.get_ref() == svc.name)
                        .map(|x| x.span())
                });
                if let Some(span) = first {
                    d = d.note_at(&self.src, span, format!("first hosted by role `{other}`"));
                }
                self.err(d.help(
                    "a service lives in one role; raise that role's `instances` to run more copies",
                ));
                continue;
            }
            if let Some(c) = out.iter().find(|o| svc.conflicts.contains(&o.name)) {
                let d = self.at(
                    format!(
                        "services `{}` and `{}` cannot share a process: both configure [{}]",
                        c.name,
                        svc.name,
                        svc.section.unwrap_or("")
                    ),
                    s.span(),
                    "conflicts with an earlier service of this role",
                );
                self.err(d.help("keep only one of them"));
                continue;
            }
            host_of.insert(svc.name, role_name.to_string());
            out.push(svc);
        }
        out
    }

    fn address(&self, role_name: &str, role: &RoleSection) -> String {
        if let Some(c) = &self.cluster {
            return c.service_host(role_name);
        }
        role.host
            .as_ref()
            .and_then(|h| self.m.hosts.get(h.get_ref()))
            .map(|h| h.address.clone())
            .unwrap_or_else(|| "127.0.0.1".into())
    }

    fn role_plan(
        &mut self,
        name: &str,
        role: &Spanned<RoleSection>,
        services: &[&'static Service],
        (hypergrid, hosted_anywhere, url_of): WiringInputs<'_>,
    ) -> RolePlan {
        let r = role.get_ref();
        let instances = match u32::try_from(*r.instances.get_ref()) {
            Ok(n) if n <= MAX_INSTANCES => n,
            _ => {
                let d = self.at(
                    format!("`instances` of role `{name}` must be a whole number from 0 to 1000"),
                    r.instances.span(),
                    "out of range",
                );
                self.err(d);
                1
            }
        };
        if let Some((svc, why)) = copies_problem(services, instances) {
            if r.allow_unsafe_copies {
                let w = Diagnostic::warning(format!(
                    "role `{name}` runs {instances} copies of single-copy service `{svc}` (allow_unsafe_copies)"
                ))
                .at(&self.src, r.instances.span(), "more than one copy")
                .help(why);
                self.warnings.push(w);
            } else {
                let d = self.at(
                    format!("service `{svc}` cannot run as {instances} copies (role `{name}`)"),
                    r.instances.span(),
                    "more than one copy",
                );
                self.err(d.help(format!(
                    "{why}. Keep `{svc}` in a role with instances = 1, or set allow_unsafe_copies = true in [roles.{name}] to run it anyway"
                )));
            }
        }
        // On a cluster every copy has the role's own ports, in its own pod.
        let copies_per_host = if self.cluster.is_some() { 1 } else { instances };
        let port = self.port(name, "port", &r.port, copies_per_host);
        let needs_public = services.iter().any(|s| s.has_side(Side::Public));
        let public_port = match (&r.public_port, needs_public) {
            (Some(p), _) => Some(self.port(name, "public_port", p, copies_per_host)),
            (None, true) => {
                // The default base is port + 1000: its whole range must fit too.
                let base = i64::from(port) + 1000;
                let last = base + i64::from(copies_per_host.max(1)) - 1;
                if last > 65535 {
                    let d = self.at(
                        format!("default `public_port` of role `{name}` (port + 1000) gives ports {base}..={last}, outside 1..=65535"),
                        r.port.span(),
                        "port base",
                    );
                    self.err(d.help("set `public_port` of the role explicitly"));
                }
                Some(port.saturating_add(1000))
            }
            (None, false) => None,
        };
        if let (Some(h), Some(_)) = (&r.host, &self.cluster) {
            let w = Diagnostic::warning(format!(
                "role `{name}` names host `{}`, which a cluster ignores",
                h.get_ref()
            ))
            .at(
                &self.src,
                h.span(),
                "placement is the scheduler's on a cluster",
            );
            self.warnings.push(w);
        }
        if let Some(h) = &r.host {
            if !self.m.hosts.contains_key(h.get_ref()) {
                let d = self.at(
                    format!("unknown host `{}`", h.get_ref()),
                    h.span(),
                    "not declared in [hosts]",
                );
                let help = did_you_mean(h.get_ref(), self.m.hosts.keys().map(String::as_str))
                    .unwrap_or_else(|| "declare it as [hosts.NAME] address = \"...\"".into());
                self.err(d.help(help));
            }
        }
        let wiring = wire_role(services, hypergrid, hosted_anywhere, url_of);
        for (dependant, dep) in &wiring.missing {
            let span = r
                .services
                .iter()
                .find(|s| s.get_ref() == dependant)
                .map(|s| s.span())
                .unwrap_or(role.span());
            let d = self.at(
                format!("service `{dependant}` (role `{name}`) needs `{dep}`, which no role hosts"),
                span,
                format!("`{dependant}` needs `{dep}`"),
            );
            self.err(d.help(format!("add \"{dep}\" to the services of a role")));
        }
        let settings = r
            .settings
            .iter()
            .map(|(section, keys)| {
                let kv = keys
                    .iter()
                    .map(|(k, v)| (k.clone(), ini_value(v)))
                    .collect();
                (section.clone(), kv)
            })
            .collect();
        RolePlan {
            name: name.to_string(),
            services: services.iter().map(|s| s.name.to_string()).collect(),
            instances,
            port,
            public_port,
            address: self.address(name, r),
            host: r.host.as_ref().map(|h| h.get_ref().clone()),
            start_rank: 0,
            settings,
            env: r.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            wiring,
            supervise: Supervise::resolve(&self.m.supervise, &r.supervise),
            simulator: None,
        }
    }

    /// Dependencies first: a role that calls another role's service starts after it.
    fn start_ranks(&self, roles: &mut [RolePlan], host_of: &HashMap<&'static str, String>) {
        let names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
        let mut needs: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in roles.iter() {
            let deps: Vec<String> = r
                .wiring
                .remote
                .iter()
                .filter_map(|u| host_of.get(u.service.as_str()).cloned())
                .filter(|d| d != &r.name)
                .collect();
            needs.insert(
                names
                    .iter()
                    .find(|n| **n == r.name)
                    .map(String::as_str)
                    .unwrap_or(""),
                deps,
            );
        }
        let mut order: Vec<String> = Vec::new();
        while order.len() < names.len() {
            let next = names
                .iter()
                .find(|n| {
                    !order.contains(n)
                        && needs
                            .get(n.as_str())
                            .is_none_or(|d| d.iter().all(|x| order.contains(x)))
                })
                // A dependency cycle: fall back to declaration order.
                .or_else(|| names.iter().find(|n| !order.contains(n)));
            match next {
                Some(n) => order.push(n.clone()),
                None => break,
            }
        }
        for r in roles.iter_mut() {
            r.start_rank = order.iter().position(|n| *n == r.name).unwrap_or(0);
        }
    }

    fn instances(
        &self,
        roles: &[RolePlan],
        state_dir: &std::path::Path,
        command: &[String],
    ) -> Vec<InstancePlan> {
        let mut out = Vec::new();
        for r in roles {
            let connectors: Vec<String> = role_connectors(r);
            for n in 1..=r.instances {
                let name = format!("{}-{n}", r.name);
                let dir = state_dir.join("instances").join(&name);
                let ini_path = dir.join("Robust.ini");
                let logconfig_path = dir.join("log4net.xml");
                let mut argv: Vec<String> = command.to_vec();
                argv.push(format!("-inifile={}", ini_path.display()));
                argv.push(format!("-logconfig={}", logconfig_path.display()));
                argv.extend(self.m.robust.args.iter().cloned());
                // Copy n's ports on one host; on a cluster each pod has the role's own.
                let offset = match &self.cluster {
                    Some(_) => 0,
                    None => (n - 1) as u16,
                };
                let address = match &self.cluster {
                    Some(c) => c.pod_host(&r.name, n),
                    None => r.address.clone(),
                };
                out.push(InstancePlan {
                    kind: crate::plan::Kind::Robust,
                    private_port: r.port.saturating_add(offset),
                    public_port: r.public_port.map(|p| p.saturating_add(offset)),
                    address,
                    log_path: dir.join("robust.log"),
                    name,
                    role: r.name.clone(),
                    index: n,
                    dir,
                    ini_path,
                    logconfig_path,
                    argv,
                    expected_connectors: connectors.clone(),
                });
            }
        }
        out
    }
}

/// Robust's `[GridService] Region_<name>` flags for the declared regions: the default
/// one `DefaultRegion, FallbackRegion` (logins without a start region go there), every
/// other `FallbackRegion` (where a login goes when its region is down). A grid without
/// simulators keeps the flags for OpenSim's own first region, `Welcome Area`.
fn region_flags(roles: &[RolePlan]) -> Vec<(String, String)> {
    let regions: Vec<&crate::plan::RegionPlan> = roles
        .iter()
        .filter_map(|r| r.simulator.as_ref())
        .flat_map(|s| &s.regions)
        .collect();
    if regions.is_empty() {
        return vec![(
            "Region_Welcome_Area".into(),
            "DefaultRegion, FallbackRegion".into(),
        )];
    }
    regions
        .iter()
        .map(|r| {
            let flags = if r.default {
                "DefaultRegion, FallbackRegion"
            } else {
                "FallbackRegion"
            };
            (r.flags_key(), flags.to_string())
        })
        .collect()
}

/// The connector class names of a role, in ServiceList order.
pub fn role_connectors(r: &RolePlan) -> Vec<String> {
    r.services
        .iter()
        .filter_map(|s| catalog::get(s))
        .flat_map(|s| s.connectors.iter().map(|c| c.class_name().to_string()))
        .collect()
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A TOML value as Robust expects it in an INI file.
fn ini_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Boolean(b) => {
            if *b {
                "true".into()
            } else {
                "false".into()
            }
        }
        other => other.to_string(),
    }
}
