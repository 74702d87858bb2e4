//! `gridctl check`: everything that can be known before starting anything.
//!
//! Structural problems come from the planner; this adds what depends on the machine
//! (bin_dir, the Robust binary, secrets, hostname resolution) and on the rendered tree
//! (every `${Section|Key}` must resolve, or Robust aborts at startup).

use crate::diagnostic::{Diagnostic, Source};
use crate::ini;
use crate::log4net::{self, TypeName, Unresolved};
use crate::plan::{Plan, DB_ENV};
use crate::render::{self, RenderedInstance};
use crate::templates::Templates;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Everything `gridctl check` knows before starting anything: the plan's warnings, then
/// every check over the rendered trees and the nginx config, and the hostname lookups
/// when given a deadline (the fuzz test runs without the network). `Err`: templates
/// that do not load or render, which stop the check there.
pub fn all(plan: &Plan, dns_deadline: Option<Duration>) -> Result<Vec<Diagnostic>, Diagnostic> {
    let t = Templates::load(plan.templates_dir.as_deref())?;
    let rendered = render::render_instances(plan, &t)?;
    let mut ds = plan.warnings.clone();
    ds.extend(environment(plan));
    ds.extend(references(plan, &rendered));
    ds.extend(log4net_types(plan, &rendered, &t));
    if plan.nginx.is_some() {
        if let Err(d) = render::render_nginx(plan, &t, &Default::default()) {
            ds.push(d);
        }
    }
    ds.extend(topology(plan));
    if let Some(deadline) = dns_deadline {
        ds.extend(hostnames(plan, deadline));
    }
    Ok(ds)
}

/// Machine checks: bin_dir, program, DLLs, database secret.
pub fn environment(plan: &Plan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let origin = &plan.origin;
    if !plan.bin_dir.is_dir() {
        let d = Diagnostic::error(format!(
            "bin_dir `{}` is not a directory",
            plan.bin_dir.display()
        ));
        out.push(
            origin
                .locate(
                    d,
                    &origin.bin_dir,
                    "relative paths start at grid.toml's directory",
                )
                .help("point [robust] bin_dir at the bin/ directory of your OpenSim install"),
        );
        return out;
    }
    if let Some(program) = plan.command.first() {
        if !program_exists(program) {
            let d = Diagnostic::error(format!("the Robust command `{program}` was not found"));
            let label = if program.contains('/') {
                "no such file"
            } else {
                "not found in PATH"
            };
            out.push(
                origin
                    .locate(d, &origin.program, label)
                    .help("install it, or set [robust] command (e.g. [\"dotnet\", \"Robust.dll\"] or [\"mono\", \"Robust.exe\"])"),
            );
        }
        // `dotnet Robust.dll` / `mono Robust.exe`: the assembly is resolved in bin_dir (the cwd).
        if let Some(assembly) = plan
            .command
            .get(1)
            .filter(|a| a.ends_with(".dll") || a.ends_with(".exe"))
        {
            if !plan.bin_dir.join(assembly).exists() {
                let d = Diagnostic::error(format!(
                    "`{assembly}` is not in bin_dir `{}`",
                    plan.bin_dir.display()
                ));
                out.push(
                    origin
                        .locate(d, &origin.program, "run in bin_dir")
                        .help("bin_dir must be the directory that holds Robust's assemblies"),
                );
            }
        }
    }
    if !plan.bin_dir.join(crate::catalog::HANDLERS_DLL).exists() {
        let d = Diagnostic::warning(format!(
            "`{}` is not in bin_dir: every connector would fail to load",
            crate::catalog::HANDLERS_DLL
        ));
        out.push(origin.locate(d, &origin.bin_dir, "bin_dir"));
    }
    out.extend(simulator_environment(plan));
    if let Some(db) = &plan.database {
        if db.connection.0.is_none() {
            let help = match db.source.strip_prefix("env:") {
                Some(var) => format!("export {var}=... before running gridctl (it is passed to each instance as {DB_ENV})"),
                None => "make the secret readable".to_string(),
            };
            let d = Diagnostic::error(format!(
                "the database connection string ({}) is not available",
                db.source
            ));
            out.push(origin.locate(d, &origin.connection, "not set").help(help));
        }
    }
    out
}

/// The simulators' side of [`environment`]: their bin/ (usually Robust's), program,
/// `OpenSim.exe`, and the region store's secret.
fn simulator_environment(plan: &Plan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut reported: Vec<&Path> = Vec::new();
    for (role, sim) in plan.simulators() {
        let Some(inst) = plan.instance(&role.name) else {
            continue;
        };
        if !reported.contains(&sim.bin_dir.as_path()) {
            reported.push(&sim.bin_dir);
            let program = &inst.argv[0];
            if !sim.bin_dir.is_dir() {
                out.push(Diagnostic::error(format!(
                    "the simulators' bin_dir `{}` is not a directory",
                    sim.bin_dir.display()
                )).help("point [simulator] bin_dir (default: [robust] bin_dir) at OpenSim's bin/ directory"));
            } else if !program_exists(program) {
                out.push(
                    Diagnostic::error(format!("the simulator command `{program}` was not found"))
                        .help(
                        "install it, or set [simulator] command (e.g. [\"mono\", \"OpenSim.exe\"])",
                    ),
                );
            } else if let Some(assembly) = inst
                .argv
                .get(1)
                .filter(|a| a.ends_with(".dll") || a.ends_with(".exe"))
            {
                if !sim.bin_dir.join(assembly).exists() {
                    out.push(Diagnostic::error(format!(
                        "`{assembly}` is not in the simulators' bin_dir `{}`",
                        sim.bin_dir.display()
                    )).help("a full OpenSim bin/ holds OpenSim.exe beside Robust.exe; set [simulator] bin_dir to one"));
                }
            }
        }
        if let Some(db) = &sim.database {
            if db.connection.0.is_none() {
                out.push(
                    Diagnostic::error(format!(
                    "the region database connection string of simulator `{}` ({}) is not available",
                    role.name, db.source
                ))
                    .help(format!(
                        "it is passed to the simulator as {}",
                        crate::simulator::REGION_DB_ENV
                    )),
                );
            }
        }
    }
    out
}

fn program_exists(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Loads each rendered instance like Robust would (includes, `[Environment]`, `${}`) and
/// reports every reference that does not resolve. Works on a scratch copy: nothing is written
/// to the state directory.
pub fn references(plan: &Plan, rendered: &[RenderedInstance]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let scratch = match tempfile_dir() {
        Ok(d) => d,
        Err(e) => {
            return vec![Diagnostic::error(format!(
                "cannot create a scratch directory: {e}"
            ))]
        }
    };
    let locator = crate::manifest::Locator::new(
        plan.origin
            .source
            .as_ref()
            .map(|s| s.text.as_str())
            .unwrap_or(""),
    );
    for r in rendered {
        let root = scratch.join(&r.name);
        let real = r.dir.display().to_string();
        let fake = root.display().to_string();
        let mut write_err = None;
        // Only the INI tree is needed; holder.json (it carries the secret) is not copied.
        for (rel, text) in r
            .files
            .iter()
            .filter(|(rel, _)| rel.extension().is_some_and(|e| e == "ini"))
        {
            let p = root.join(rel);
            let res = p
                .parent()
                .map(std::fs::create_dir_all)
                .unwrap_or(Ok(()))
                .and_then(|_| std::fs::write(&p, text.replace(&real, &fake)));
            if let Err(e) = res {
                write_err = Some(e);
            }
        }
        if let Some(e) = write_err {
            out.push(Diagnostic::error(format!(
                "cannot write a scratch copy of `{}`: {}",
                r.name,
                e.kind()
            )));
            continue;
        }
        let env: HashMap<String, String> = plan
            .instance(&r.name)
            .map(|i| plan.spec(i, "").env.into_iter().collect())
            .unwrap_or_default();
        // A simulator's root file and cwd are its own.
        let (root_file, cwd) = match plan.role(&r.name).and_then(|x| x.simulator.as_ref()) {
            Some(sim) => ("OpenSim.ini", sim.bin_dir.as_path()),
            None => ("Robust.ini", plan.bin_dir.as_path()),
        };
        match ini::load_with_includes(&root.join(root_file), cwd) {
            Ok(mut loaded) => {
                loaded
                    .ini
                    .merge_environment(|k| env.get(k).cloned().or_else(|| std::env::var(k).ok()));
                for u in loaded.ini.unresolved_references() {
                    // A reference written in the role's settings points there in grid.toml.
                    let span = plan
                        .instance(&r.name)
                        .and_then(|i| setting_span(plan, &locator, &i.role, &u.section, &u.key));
                    // Scratch paths never reach the user: name the instance's real tree.
                    let u = u.to_string().replace(&fake, &real);
                    let d = Diagnostic::error(format!(
                        "`{}` of instance `{}` does not resolve: {u}",
                        "${...}", r.name
                    ));
                    out.push(
                        plan.origin.locate(d, &span, "in the role's settings")
                            .help("Robust aborts at startup on an unresolved reference; fix the template or the role's settings"),
                    );
                }
            }
            Err(e) => out.push(Diagnostic::error(format!(
                "rendered config of `{}` does not parse: {}",
                r.name,
                e.to_string().replace(&fake, &real)
            ))),
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    out
}

/// Where `[roles.ROLE.settings.SECTION] KEY` is written, matching names without case
/// (as Nini does).
fn setting_span(
    plan: &Plan,
    locator: &crate::manifest::Locator,
    role: &str,
    section: &str,
    key: &str,
) -> Option<std::ops::Range<usize>> {
    let r = plan.role(role)?;
    let (s, keys) = r
        .settings
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(section))?;
    let (k, _) = keys.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?;
    let table = match r.simulator {
        Some(_) => "simulators",
        None => "roles",
    };
    locator.value(&[table, role, "settings", s, k])
}

/// Every type the rendered log4net configs name must load from bin_dir: log4net drops an
/// appender whose type does not load, and without the console appender Robust's console
/// shows no log line, so readiness never sees `loaded successfully` (robust.md 0d).
/// One diagnostic per distinct type, pointing at the template that produced it.
pub fn log4net_types(
    plan: &Plan,
    rendered: &[RenderedInstance],
    templates: &crate::templates::Templates,
) -> Vec<Diagnostic> {
    const TEMPLATE: &str = "log4net.xml";
    // `environment` already reports a missing bin_dir; every type would fail with it.
    if !plan.bin_dir.is_dir() {
        return Vec::new();
    }
    // type value → instances whose config names it, in first-seen order.
    let mut bad: Vec<(String, Unresolved, Vec<&str>)> = Vec::new();
    for r in rendered {
        let Some((_, xml)) = r.files.iter().find(|(p, _)| p == Path::new(TEMPLATE)) else {
            continue;
        };
        for e in log4net::elements(xml) {
            let Some(value) = e.attr("type") else {
                continue;
            };
            let Err(why) = log4net::resolve(&TypeName::parse(value), &plan.bin_dir) else {
                continue;
            };
            // A missing assembly is reported once, at the first type that needs it.
            let same = |(v, w, _): &&mut (String, Unresolved, Vec<&str>)| {
                v == value
                    || matches!((w, &why), (Unresolved::MissingAssembly { assembly: a }, Unresolved::MissingAssembly { assembly: b }) if a == b)
            };
            match bad.iter_mut().find(same) {
                Some((_, _, names)) if !names.contains(&r.name.as_str()) => names.push(&r.name),
                Some(_) => {}
                None => bad.push((value.to_string(), why, vec![&r.name])),
            }
        }
    }
    let origin = templates.origin(TEMPLATE);
    let source = origin.as_ref().map(|(path, text, _)| {
        std::sync::Arc::new(Source {
            path: path.clone(),
            text: text.to_string(),
        })
    });
    let from_user = origin.as_ref().is_some_and(|(_, _, user)| *user);
    bad.into_iter()
        .map(|(value, why, names)| {
            let ty = TypeName::parse(&value);
            let bin = plan.bin_dir.display();
            let (message, fix) = match &why {
                Unresolved::WrongAssembly { assembly, real } => (
                    format!(
                        "log4net type `{value}` does not resolve: `{}` is in assembly `{real}`, not `{assembly}` (bin_dir `{bin}`)",
                        ty.class
                    ),
                    format!("name it `{}, {real}` in {{whose}}", ty.class),
                ),
                Unresolved::MissingAssembly { assembly } => (
                    format!(
                        "log4net type `{value}` does not resolve: neither `{assembly}.dll` nor `{assembly}.exe` is in bin_dir `{bin}`"
                    ),
                    format!(
                        "put `{assembly}.dll` into bin_dir, or fix the assembly name in {{whose}}"
                    ),
                ),
            };
            let mut d = Diagnostic::error(message);
            let label = if names.len() > 1 && names.len() == rendered.len() {
                "rendered into the log4net config of every instance".to_string()
            } else {
                format!("rendered into the log4net config of `{}`", names.join("`, `"))
            };
            // The value as written in the template; a templated value cannot be pointed at.
            let span = source.as_ref().and_then(|s| {
                log4net::elements(&s.text)
                    .iter()
                    .find(|e| e.attr("type") == Some(value.as_str()))
                    .and_then(|e| e.attr_span("type"))
            });
            match (&source, span) {
                (Some(src), Some(span)) => d = d.at(src, span, label),
                (Some(src), None) => {
                    d.message
                        .push_str(&format!(" ({label}, from `{}`)", src.path.display()))
                }
                (None, _) => d.message.push_str(&format!(" ({label})")),
            }
            let whose = if from_user {
                "your templates directory's `log4net.xml` ([grid] templates)"
            } else {
                "the built-in `log4net.xml`"
            };
            d.help(format!(
                "{}; log4net drops an appender it cannot load, and without the console appender Robust's console shows no log line",
                fix.replace("{whose}", whose)
            ))
        })
        .collect()
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    // A fresh name each try, created exclusively (never an existing directory, which
    // another user could have planted in a shared /tmp); owner-only: it is the grid's
    // configuration.
    let mut last = None;
    for attempt in 0..16u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let d = std::env::temp_dir().join(format!(
            "gridctl-check-{}-{nanos:x}-{attempt}",
            std::process::id()
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free scratch name")))
}

/// Hostnames that do not resolve (warnings): Robust's asset, griduser and useraccount
/// connectors resolve their URL's host at startup and fail to load when it does not.
/// Lookups run in parallel with one overall deadline, so a dead resolver cannot hang
/// `check`; a lookup still running at the deadline is reported as a timeout, apart from
/// the names the resolver said do not exist.
pub fn hostnames(plan: &Plan, deadline: Duration) -> Vec<Diagnostic> {
    let mut names: Vec<String> = plan.routes.iter().map(|r| r.hostname.clone()).collect();
    names.sort();
    names.dedup();
    lookups(&names, deadline, system_lookup)
}

/// Test-only knob (for the tests of the `gridctl` binary, which cannot swap the
/// system resolver): a comma-separated list of hostnames whose lookup never answers,
/// as with a DNS server that does not reply. Not for operators.
pub const TEST_DNS_STALL_ENV: &str = "GRIDCTL_TEST_DNS_STALL";

/// The system resolver (getaddrinfo); `Err` says why the name does not resolve.
fn system_lookup(name: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let stalled = std::env::var(TEST_DNS_STALL_ENV).unwrap_or_default();
    if stalled.split(',').any(|s| s.trim() == name) {
        // A resolver that never answers: only the deadline ends the wait.
        loop {
            std::thread::park();
        }
    }
    match (name, 80).to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("no address".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Resolves every name with `lookup`, each on its own thread, waiting at most `deadline`
/// in all: a warning per distinct failure (names grouped), and one for the lookups the
/// deadline cut short.
fn lookups(
    names: &[String],
    deadline: Duration,
    lookup: fn(&str) -> Result<(), String>,
) -> Vec<Diagnostic> {
    let (tx, rx) = std::sync::mpsc::channel();
    for name in names {
        let tx = tx.clone();
        let name = name.clone();
        // Detached: a lookup stuck in the resolver must not keep `check` waiting.
        std::thread::spawn(move || {
            let result = lookup(&name);
            let _ = tx.send((name, result));
        });
    }
    drop(tx);
    let start = std::time::Instant::now();
    let mut answered: HashMap<String, Result<(), String>> = HashMap::new();
    while answered.len() < names.len() {
        let left = deadline.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok((n, result)) => {
                answered.insert(n, result);
            }
            Err(_) => break,
        }
    }
    // Failures grouped by what the resolver said, in name order.
    let mut failed: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    let mut timed_out: Vec<&str> = Vec::new();
    for n in names {
        match answered.get(n) {
            Some(Ok(())) => {}
            Some(Err(why)) => failed.entry(why.as_str()).or_default().push(n),
            None => timed_out.push(n),
        }
    }
    let fix = "add them to DNS or /etc/hosts (pointing at nginx) before starting Robust";
    let mut ds: Vec<Diagnostic> = failed
        .into_iter()
        .map(|(why, names)| {
            let d = match names.as_slice() {
                [one] => Diagnostic::warning(format!("{one} does not resolve: {why}")),
                many => Diagnostic::warning(format!(
                    "{} hostnames do not resolve: {} ({why})",
                    many.len(),
                    many.join(", ")
                )),
            };
            d.help(fix)
        })
        .collect();
    if !timed_out.is_empty() {
        ds.push(
            Diagnostic::warning(format!(
                "timed out after {} s resolving {}",
                deadline.as_secs_f64(),
                timed_out.join(", ")
            ))
            .help(
                "the resolver did not answer in time (check /etc/resolv.conf and the DNS \
                 server): Robust resolves these at startup and would wait the same way",
            ),
        );
    }
    ds
}

/// A grid without nginx reaches only copy 1 of each role from other roles.
pub fn topology(plan: &Plan) -> Vec<Diagnostic> {
    if plan.nginx.is_some() {
        return Vec::new();
    }
    let source = plan.origin.source.as_ref();
    let locator = crate::manifest::Locator::new(source.map(|s| s.text.as_str()).unwrap_or(""));
    plan.roles
        .iter()
        .filter(|r| r.instances > 1)
        .map(|r| {
            let d = Diagnostic::warning(format!(
                "role `{}` runs {} copies but grid.toml has no [nginx]: other roles reach only `{}-1`",
                r.name, r.instances, r.name
            ));
            let span = locator.value(&["roles", &r.name, "instances"]);
            plan.origin
                .locate(d, &span, "more than one copy")
                .help("add an [nginx] table so gridctl renders an upstream for the copies")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// A resolver with every outcome: `ok.*` resolves, `slow.*` never answers,
    /// anything else does not exist.
    fn fake(name: &str) -> Result<(), String> {
        if name.starts_with("ok.") {
            Ok(())
        } else if name.starts_with("slow.") {
            loop {
                std::thread::park();
            }
        } else {
            Err("Name or service not known".into())
        }
    }

    fn text(ds: &[Diagnostic]) -> Vec<String> {
        ds.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn a_timeout_is_told_from_a_failed_lookup() {
        let ds = lookups(
            &names(&["a.invalid", "b.invalid", "ok.x", "slow.x", "slow.y"]),
            Duration::from_millis(300),
            fake,
        );
        let t = text(&ds);
        assert_eq!(ds.len(), 2, "{t:#?}");
        assert!(
            t[0].contains(
                "2 hostnames do not resolve: a.invalid, b.invalid (Name or service not known)"
            ),
            "{t:#?}"
        );
        assert!(
            t[1].contains("timed out after 0.3 s resolving slow.x, slow.y"),
            "{t:#?}"
        );
        assert!(ds.iter().all(|d| !d.is_error()));
    }

    #[test]
    fn one_failure_names_its_host_and_all_resolving_is_silent() {
        let t = text(&lookups(
            &names(&["c.invalid", "ok.y"]),
            Duration::from_secs(5),
            fake,
        ));
        assert_eq!(t.len(), 1, "{t:#?}");
        assert!(
            t[0].contains("c.invalid does not resolve: Name or service not known"),
            "{t:#?}"
        );
        assert!(lookups(&names(&["ok.a", "ok.b"]), Duration::from_secs(5), fake).is_empty());
    }
}
