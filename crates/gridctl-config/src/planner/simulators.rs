//! `[simulator]` and `[simulators.NAME]`: each simulator planned as a one-copy entry of
//! its own kind (design.md §8), started after every Robust role, with its regions,
//! estate and region store checked where grid.toml writes them.

use super::validate::{dns_name_problem, ini_text_problem};
use super::Planner;
use crate::manifest::{Locator, RegionSection, SimulatorSection};
use crate::plan::{absolutize, InstancePlan, Kind, RolePlan, Supervise};
use crate::plan::{RegionPlan, SimulatorPlan};
use crate::simulator::region_uuid;
use crate::wiring::RoleWiring;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// Grid coordinates a region may have, in regions: OpenSim keeps a region's corner in
/// meters in 32 bits (`x * 256`), and viewers' maps stop far below that.
const MAX_COORDINATE: u32 = 65_535;

/// The files of a simulator's tree, relative to its directory.
pub const OPENSIM_INI: &str = "OpenSim.ini";
/// `-inidirectory`: every `.ini` here is merged last (grid.toml's `settings`).
pub const OVERRIDES_DIR: &str = "config";
pub const LOG_CONFIG: &str = "log4net.xml";

impl Planner<'_> {
    /// The simulators as roles of one copy each and their instances. `first_rank`: the
    /// rank after every Robust role (simulators start last and stop first).
    pub(super) fn simulators(
        &mut self,
        dir: &Path,
        state_dir: &Path,
        robust_bin_dir: &Path,
        first_rank: usize,
    ) -> (Vec<RolePlan>, Vec<InstancePlan>) {
        let m = self.m;
        let loc = Locator::new(&self.src.text);
        let defaults = m.simulator.as_ref().map(|d| d.get_ref());
        if m.simulators.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let bin_dir = defaults
            .and_then(|d| d.bin_dir.as_ref())
            .map(|b| absolutize(dir, b.get_ref()))
            .unwrap_or_else(|| robust_bin_dir.to_path_buf());
        let command = self.simulator_command(dir, &bin_dir);
        if let Some(d) = defaults {
            self.simulator_defaults(&loc, d);
        }
        let mut roles = Vec::new();
        let mut instances = Vec::new();
        // Region names (lowercase: OpenSim finds regions by name without case) and
        // locations seen so far, with where each was declared.
        let mut names: HashMap<String, Range<usize>> = HashMap::new();
        let mut locations: HashMap<(u32, u32), (String, Range<usize>)> = HashMap::new();
        let mut any_default = false;
        for (i, (name, sim)) in m.simulators.iter().enumerate() {
            let s = sim.get_ref();
            // A value from [simulator] is checked once, with the first simulator.
            let first = i == 0;
            let whose = format!("simulator `{name}`");
            self.simulator_name(name, sim.span());
            let http_port =
                self.sim_port(&s.http_port, &format!("`http_port` of simulator `{name}`"));
            let mut regions = Vec::new();
            if s.regions.is_empty() {
                let d = self.at(
                    format!("simulator `{name}` has no region"),
                    sim.span(),
                    "this simulator",
                );
                self.err(d.help(format!(
                    "add one: [[simulators.{name}.regions]] with name, location = \"X,Y\" and port"
                )));
            }
            for region in &s.regions {
                if let Some(r) = self.region(region, &mut names, &mut locations) {
                    any_default |= r.default;
                    regions.push(r);
                }
            }
            let plan = SimulatorPlan {
                bin_dir: bin_dir.clone(),
                http_port,
                regions,
                estate_name: self.estate_name(&whose, s, first),
                estate_owner: self.estate_owner(name, &whose, sim, first),
                database: self.region_database(dir, s, first),
                external_host: self.external_host(&whose, s, first),
                internal_address: self.internal_address(&whose, s, first),
                prompt: defaults
                    .and_then(|d| d.prompt.clone())
                    .unwrap_or_else(|| crate::simulator::default_prompt(name)),
            };
            self.simulator_section(&loc, name, s);
            let inst_dir = state_dir.join("instances").join(name);
            let mut argv = command.clone();
            argv.push(format!("-inifile={}", inst_dir.join(OPENSIM_INI).display()));
            argv.push(format!(
                "-inidirectory={}",
                inst_dir.join(OVERRIDES_DIR).display()
            ));
            argv.push(format!(
                "-logconfig={}",
                inst_dir.join(LOG_CONFIG).display()
            ));
            argv.extend(defaults.map(|d| d.args.clone()).unwrap_or_default());
            instances.push(InstancePlan {
                name: name.clone(),
                role: name.clone(),
                kind: Kind::Simulator,
                index: 1,
                private_port: http_port,
                public_port: None,
                address: "127.0.0.1".into(),
                ini_path: inst_dir.join(OPENSIM_INI),
                logconfig_path: inst_dir.join(LOG_CONFIG),
                log_path: inst_dir.join("OpenSim.log"),
                dir: inst_dir,
                argv,
                expected_connectors: Vec::new(),
            });
            roles.push(RolePlan {
                name: name.clone(),
                services: Vec::new(),
                instances: 1,
                port: http_port,
                public_port: None,
                address: "127.0.0.1".into(),
                host: None,
                // After every Robust role: simulators start last and stop first, together.
                start_rank: first_rank,
                settings: s
                    .settings
                    .iter()
                    .map(|(section, keys)| {
                        let kv = keys
                            .iter()
                            .map(|(k, v)| (k.clone(), super::ini_value(v)))
                            .collect();
                        (section.clone(), kv)
                    })
                    .collect(),
                env: s.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                wiring: RoleWiring::default(),
                supervise: {
                    let mut sup = Supervise::resolve(&m.supervise, &s.supervise);
                    // `shutdown` closes the regions one after the other, about 3.5 s each
                    // (simulator.md §0): unless grid.toml says, wait for all of them.
                    if s.supervise.stop_timeout.is_none() && m.supervise.stop_timeout.is_none() {
                        let regions = u32::try_from(plan.regions.len()).unwrap_or(u32::MAX);
                        let needed = std::time::Duration::from_secs(10).saturating_add(
                            std::time::Duration::from_secs(5).saturating_mul(regions),
                        );
                        sup.stop_timeout = sup.stop_timeout.max(needed);
                    }
                    sup
                },
                simulator: Some(plan),
            });
        }
        // Logins without a start region need a default one: the first region declared.
        if !any_default {
            if let Some(first) = roles
                .iter_mut()
                .filter_map(|r| r.simulator.as_mut())
                .find_map(|s| s.regions.first_mut())
            {
                first.default = true;
            }
        }
        (roles, instances)
    }

    /// `dotnet OpenSim.dll` where bin_dir has it, else `mono OpenSim.exe`.
    fn simulator_command(&mut self, dir: &Path, bin_dir: &Path) -> Vec<String> {
        let given = self
            .m
            .simulator
            .as_ref()
            .and_then(|d| d.get_ref().command.clone());
        self.program(
            given.as_ref(),
            "`command` of [simulator]",
            dir,
            bin_dir,
            "OpenSim",
        )
    }

    fn simulator_name(&mut self, name: &str, span: Range<usize>) {
        if !super::valid_name(name) {
            let d = self.at(
                format!(
                    "simulator name `{}` is not usable as an instance name",
                    esc(name)
                ),
                span.clone(),
                "this simulator",
            );
            self.err(d.help("use lowercase letters, digits and `_`"));
        } else if self.m.roles.contains_key(name) {
            let d = self.at(
                format!("`{name}` names both a role and a simulator"),
                span,
                "this simulator",
            );
            self.err(d.help("commands take either name: give the simulator another one"));
        }
    }

    fn sim_port(&mut self, p: &Spanned<i64>, what: &str) -> u16 {
        match u16::try_from(*p.get_ref()) {
            Ok(n) if n > 0 => n,
            _ => {
                let d = self.at(
                    format!("{what} is {}, outside 1..=65535", p.get_ref()),
                    p.span(),
                    "not a port",
                );
                self.err(d);
                1
            }
        }
    }

    fn region(
        &mut self,
        region: &Spanned<RegionSection>,
        names: &mut HashMap<String, Range<usize>>,
        locations: &mut HashMap<(u32, u32), (String, Range<usize>)>,
    ) -> Option<RegionPlan> {
        let r = region.get_ref();
        let name = r.name.get_ref();
        let mut ok = true;
        let problem = if name.trim().is_empty() {
            Some("it is empty")
        } else if name.trim() != name {
            Some("it starts or ends with a space (OpenSim trims it, the grid would not)")
        } else if name.len() > 64 {
            Some("it is longer than 64 characters (viewers and Robust's regions table stop there)")
        } else if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
        {
            // The name is an INI section header in Regions/*.ini and part of a key
            // (`Region_<name>`) in Robust's [GridService]: `]`, `=` or `;` would cut it.
            Some("only letters, digits, spaces, `-`, `_` and `.` are allowed")
        } else {
            None
        };
        if let Some(why) = problem {
            let d = self.at(
                format!("region name `{}` cannot be used", esc(name)),
                r.name.span(),
                why,
            );
            self.err(d);
            ok = false;
        } else if let Some(first) = names.get(&name.to_lowercase()) {
            let d = self
                .at(
                    format!("region name `{}` is declared twice", esc(name)),
                    r.name.span(),
                    "second region of this name",
                )
                .note_at(&self.src, first.clone(), "first declared here");
            self.err(d.help("region names are unique in a grid (OpenSim ignores their case)"));
            ok = false;
        } else {
            names.insert(name.to_lowercase(), r.name.span());
        }
        let location = match parse_location(r.location.get_ref()) {
            Ok(xy) => Some(xy),
            Err(why) => {
                let d = self.at(
                    format!(
                        "location `{}` of region `{}` is not usable",
                        esc(r.location.get_ref()),
                        esc(name)
                    ),
                    r.location.span(),
                    why,
                );
                self.err(d.help("write it as \"X,Y\" in regions, e.g. \"1000,1000\""));
                ok = false;
                None
            }
        };
        if let Some(xy) = location {
            if let Some((other, span)) = locations.get(&xy) {
                let d = self
                    .at(
                        format!(
                            "regions `{}` and `{}` are both at {},{}",
                            esc(other),
                            esc(name),
                            xy.0,
                            xy.1
                        ),
                        r.location.span(),
                        "overlaps another region",
                    )
                    .note_at(&self.src, span.clone(), format!("`{}` is here", esc(other)));
                self.err(d.help("each region needs its own grid location"));
                ok = false;
            } else {
                locations.insert(xy, (name.clone(), r.location.span()));
            }
        }
        let port = self.sim_port(&r.port, &format!("`port` of region `{}`", esc(name)));
        let uuid = match &r.uuid {
            Some(u) => match uuid::Uuid::parse_str(u.get_ref()) {
                Ok(parsed) if !parsed.is_nil() => parsed.hyphenated().to_string(),
                _ => {
                    let d = self.at(
                        format!("`uuid` of region `{}` is not a UUID", esc(name)),
                        u.span(),
                        "expected e.g. \"5f9e1c2a-3b4d-4e6f-8a7b-9c0d1e2f3a4b\" (not all zeros)",
                    );
                    self.err(d.help("or leave it out: gridctl derives a stable one from the grid's and the region's names"));
                    ok = false;
                    String::new()
                }
            },
            None => region_uuid(&self.m.grid.name, name),
        };
        let (x, y) = location?;
        ok.then(|| RegionPlan {
            name: name.clone(),
            uuid,
            x,
            y,
            port,
            default: r.default,
        })
    }

    fn estate_name(&mut self, whose: &str, s: &SimulatorSection, first: bool) -> String {
        let whose = owner_of(whose, s.estate_name.is_some());
        let given = or_default(s.estate_name.as_ref(), self.m, |d| d.estate_name.as_ref());
        match given {
            Some(e) => {
                let check = first || s.estate_name.is_some();
                if let Some(why) = ini_text_problem(e.get_ref())
                    .or_else(|| e.get_ref().trim().is_empty().then_some("it is empty"))
                    .filter(|_| check)
                {
                    let d = self.at(
                        format!(
                            "`estate_name` of {whose} cannot be used: `{}`",
                            esc(e.get_ref())
                        ),
                        e.span(),
                        why,
                    );
                    self.err(d);
                }
                e.get_ref().clone()
            }
            None => format!("{} Estate", self.m.grid.name),
        }
    }

    /// The owner is an existing grid user, "First Last": without one OpenSim asks on the
    /// console, and a grid gridctl starts must not wait for a typed answer.
    fn estate_owner(
        &mut self,
        name: &str,
        whose: &str,
        sim: &Spanned<SimulatorSection>,
        first: bool,
    ) -> String {
        let own = sim.get_ref().estate_owner.is_some();
        let whose = owner_of(whose, own);
        let given = or_default(sim.get_ref().estate_owner.as_ref(), self.m, |d| {
            d.estate_owner.as_ref()
        });
        let Some(owner) = given else {
            let d = self.at(
                format!("simulator `{name}` has no estate owner"),
                sim.span(),
                "its first start would ask for one on the console",
            );
            self.err(d.help(
                "set estate_owner = \"First Last\" (an existing user of the grid) in [simulator] or in this simulator",
            ));
            return String::new();
        };
        let words: Vec<&str> = owner.get_ref().split(' ').collect();
        let why = if let Some(why) = ini_text_problem(owner.get_ref()) {
            Some(why)
        } else if words.len() != 2 || words.iter().any(|w| w.is_empty()) {
            Some("expected a first and a last name separated by one space")
        } else {
            None
        };
        if let Some(why) = why.filter(|_| first || own) {
            let d = self.at(
                format!("`estate_owner` of {whose} is `{}`", esc(owner.get_ref())),
                owner.span(),
                why,
            );
            self.err(d.help("e.g. estate_owner = \"Ada Lovelace\""));
        }
        owner.get_ref().clone()
    }

    fn region_database(
        &mut self,
        dir: &Path,
        s: &SimulatorSection,
        first: bool,
    ) -> Option<crate::plan::DatabasePlan> {
        let db = or_default(s.database.as_ref(), self.m, |d| d.database.as_ref())?;
        // [simulator]'s is checked once; each simulator still gets its connection.
        let errors = self.errors.len();
        let plan = self.database_section(db.get_ref(), dir, 1);
        if !first && s.database.is_none() {
            self.errors.truncate(errors);
        }
        plan
    }

    fn external_host(&mut self, whose: &str, s: &SimulatorSection, first: bool) -> String {
        let check = first || s.external_host.is_some();
        let whose = owner_of(whose, s.external_host.is_some());
        let given = or_default(s.external_host.as_ref(), self.m, |d| {
            d.external_host.as_ref()
        });
        match given {
            Some(h) => {
                if let Some(why) = dns_name_problem(h.get_ref()).filter(|_| check) {
                    let d = self.at(
                        format!(
                            "`external_host` of {whose} `{}` is not a host name",
                            esc(h.get_ref())
                        ),
                        h.span(),
                        &why,
                    );
                    self.err(d.help("viewers connect to it: a DNS name or an IPv4 address"));
                }
                h.get_ref().clone()
            }
            None => self.m.grid.domain.get_ref().clone(),
        }
    }

    fn internal_address(&mut self, whose: &str, s: &SimulatorSection, first: bool) -> String {
        let check = first || s.internal_address.is_some();
        let whose = owner_of(whose, s.internal_address.is_some());
        let given = or_default(s.internal_address.as_ref(), self.m, |d| {
            d.internal_address.as_ref()
        });
        match given {
            Some(a) => {
                if check && a.get_ref().parse::<std::net::Ipv4Addr>().is_err() {
                    let d = self.at(
                        format!(
                            "`internal_address` of {whose} `{}` is not an IPv4 address",
                            esc(a.get_ref())
                        ),
                        a.span(),
                        "the regions' UDP listeners bind it",
                    );
                    self.err(d.help("e.g. \"0.0.0.0\" (every address) or \"127.0.0.1\""));
                }
                a.get_ref().clone()
            }
            None => "0.0.0.0".into(),
        }
    }

    /// What `[simulator]` holds beyond the estate and addresses each simulator reads.
    fn simulator_defaults(&mut self, loc: &Locator, d: &crate::manifest::SimulatorDefaults) {
        if let Some(c) = &d.command {
            for (i, a) in c.get_ref().iter().enumerate() {
                self.arg(
                    loc,
                    &["simulator", "command", &i.to_string()],
                    a,
                    "[simulator] command",
                );
            }
        }
        for (i, a) in d.args.iter().enumerate() {
            self.arg(
                loc,
                &["simulator", "args", &i.to_string()],
                a,
                "[simulator] args",
            );
        }
        self.env(loc, &["simulator", "env"], &d.env);
        if let Some(p) = &d.prompt {
            self.plain_text(loc, &["simulator", "prompt"], p, "`prompt` of [simulator]");
            if p.contains('\\') {
                self.bad(
                    loc.value(&["simulator", "prompt"]),
                    "`prompt` of [simulator] holds a `\\`".into(),
                    "OpenSim replaces `\\R` with the selected region: the prompt would change",
                    Some("gridctl finds the prompt on the screen; keep it fixed, e.g. \"Region (main) \""),
                );
            }
        }
        if let Some(b) = &d.bin_dir {
            self.path(loc, &["simulator", "bin_dir"], b.get_ref(), "bin_dir");
        }
    }

    fn simulator_section(&mut self, loc: &Locator, name: &str, s: &SimulatorSection) {
        self.settings(loc, &["simulators", name, "settings"], &s.settings);
        self.env(loc, &["simulators", name, "env"], &s.env);
        let what = format!("[simulators.{}.supervise]", esc(name));
        self.supervise(loc, &["simulators", name, "supervise"], &s.supervise, &what);
    }

    /// The regions' UDP ports against each other and every TCP port of the grid but
    /// their own simulator's HTTP port (OpenSim's own convention: 9000 for both): an
    /// operator reads one port list, and any other shared number is almost always a
    /// typo.
    pub(super) fn check_region_ports(&mut self, instances: &[InstancePlan]) {
        let mut used: HashMap<u16, String> = HashMap::new();
        for inst in instances.iter().filter(|i| i.address == "127.0.0.1") {
            used.insert(inst.private_port, format!("{} (port)", inst.name));
            if let Some(p) = inst.public_port {
                used.insert(p, format!("{} (public_port)", inst.name));
            }
        }
        if let Some(n) = &self.m.nginx {
            for l in [&n.public_listen, &n.private_listen] {
                if let Some(p) = super::listen_port(l.get_ref()) {
                    used.entry(p).or_insert_with(|| "nginx".into());
                }
            }
        }
        for (sim_name, sim) in &self.m.simulators {
            for region in &sim.get_ref().regions {
                let r = region.get_ref();
                let Ok(port) = u16::try_from(*r.port.get_ref()) else {
                    continue;
                };
                let me = format!("region `{}` (UDP)", esc(r.name.get_ref()));
                let own_http = u16::try_from(*sim.get_ref().http_port.get_ref()) == Ok(port);
                let other = used
                    .get(&port)
                    .filter(|o| !own_http || o.ends_with("(UDP)"));
                if let Some(other) = other {
                    let d = self.at(
                        format!("port {port} is used by both {other} and {me}"),
                        r.port.span(),
                        format!("region of simulator `{sim_name}`"),
                    );
                    self.err(d.help(
                        "give every region its own UDP port, apart from the grid's TCP ports",
                    ));
                } else {
                    used.insert(port, me);
                }
            }
        }
    }
}

/// `"X,Y"` in regions, each within 0..=[`MAX_COORDINATE`].
fn parse_location(s: &str) -> Result<(u32, u32), &'static str> {
    let (x, y) = s.split_once(',').ok_or("expected \"X,Y\"")?;
    let parse = |v: &str| -> Result<u32, &'static str> {
        let n: u32 = v
            .trim()
            .parse()
            .map_err(|_| "X and Y must be whole numbers")?;
        if n > MAX_COORDINATE {
            return Err("outside the grid (0..=65535)");
        }
        Ok(n)
    };
    Ok((parse(x)?, parse(y)?))
}

/// A simulator's own value, else `[simulator]`'s.
fn or_default<'m, T>(
    own: Option<&'m T>,
    m: &'m crate::manifest::Manifest,
    pick: impl Fn(&'m crate::manifest::SimulatorDefaults) -> Option<&'m T>,
) -> Option<&'m T> {
    own.or_else(|| m.simulator.as_ref().and_then(|d| pick(d.get_ref())))
}

/// Who a value belongs to in a message: the simulator's own, or `[simulator]`'s.
fn owner_of(whose: &str, own: bool) -> String {
    if own {
        whose.to_string()
    } else {
        "[simulator]".to_string()
    }
}

fn esc(s: &str) -> String {
    crate::diagnostic::escape(s)
}

#[cfg(test)]
mod tests {
    use super::parse_location;

    #[test]
    fn locations() {
        assert_eq!(parse_location("1000,1000"), Ok((1000, 1000)));
        assert_eq!(parse_location(" 1, 2"), Ok((1, 2)));
        assert!(parse_location("1000").is_err());
        assert!(parse_location("-1,5").is_err());
        assert!(parse_location("70000,5").is_err());
        assert!(parse_location("a,b").is_err());
    }
}
