//! Command dispatch: each subcommand reads the manifest, builds the plan and acts.
//! Errors surface as diagnostics with an exit code (documented in `gridctl --help`).

use crate::cli::{Cli, Command, InitArgs};
use crate::diagnostic::Diagnostic;
use crate::plan::Plan;
use crate::reconcile::events::Sink;
use crate::render;
use crate::templates::Templates;
use crate::{check, manifest, plan};
use std::path::Path;
use std::time::Duration;

// The commands import these from `load` and `outcome` (below `app`, so no command
// imports the dispatcher back); the names stay here for code written against them.
pub use crate::load::{
    build_plan, load_plan, locked_plan, locked_plan_within, templates, LOCK_TIMEOUT,
};
pub use crate::outcome::{
    print_diagnostics, Failure, Outcome, EXIT_FAILED, EXIT_INVALID, EXIT_USAGE, EXIT_WAITING,
};

pub fn run(cli: Cli) -> i32 {
    if let Some(d) = crate::pod::refused_in_pod(&cli.command) {
        print_diagnostics(&[d]);
        return EXIT_USAGE;
    }
    if matches!(
        cli.command,
        Command::Up { .. } | Command::Down { .. } | Command::Restart { .. } | Command::Scale { .. }
    ) {
        finish_on_hangup();
    }
    let result = match &cli.command {
        Command::Init(args) => init(&cli.file, args),
        Command::Check => cmd_check(&cli.file),
        Command::Plan { json } => cmd_plan(&cli.file, *json),
        Command::Render => cmd_render(&cli.file),
        Command::RenderNginx { output } => cmd_render_nginx(&cli.file, output.as_deref()),
        Command::RenderSimulator => cmd_render_simulator(&cli.file),
        Command::Up {
            wait,
            dry_run,
            json,
            names,
        } => crate::converge::up(&cli.file, names, *wait, mode(&cli, *dry_run, *json)),
        Command::Down {
            dry_run,
            json,
            names,
        } => crate::converge::down(&cli.file, names, mode(&cli, *dry_run, *json)),
        Command::Status { json } => crate::operate::status(&cli.file, *json),
        Command::Attach {
            instance,
            read_only,
            detach_key,
            allow_terminal_queries,
        } => crate::operate::attach(
            &cli.file,
            instance,
            *read_only,
            detach_key,
            *allow_terminal_queries,
        ),
        Command::Send {
            instance,
            line,
            role,
            timeout,
            answers,
        } => {
            // With --role, the first positional word belongs to the line, not an instance name.
            let (instance, line) = match (role, instance) {
                (Some(_), Some(first)) => (
                    None,
                    std::iter::once(first.clone())
                        .chain(line.iter().cloned())
                        .collect(),
                ),
                _ => (instance.clone(), line.clone()),
            };
            crate::operate::send(
                &cli.file,
                instance.as_deref(),
                role.as_deref(),
                &line,
                answers,
                *timeout,
            )
        }
        Command::Logs {
            instance,
            follow,
            lines,
        } => crate::operate::logs(&cli.file, instance, *follow, *lines),
        Command::Restart {
            rolling,
            notify,
            dry_run,
            json,
            names,
        } => crate::converge::restart(
            &cli.file,
            names,
            *rolling,
            *notify,
            mode(&cli, *dry_run, *json),
        ),
        Command::Top => crate::dashboard::run(&cli.file),
        Command::Scale { requests, dry_run } => {
            crate::live::scale(&cli.file, requests, mode(&cli, *dry_run, false))
        }
        Command::Pod {
            action: crate::cli::PodAction::Run { instance },
        } => crate::pod::run(&cli.file, instance.as_deref()),
        Command::Probe { instance } => return crate::pod::probe(&cli.file, instance.as_deref()),
        Command::Export {
            target:
                crate::cli::ExportTarget::Kubernetes {
                    output,
                    namespace,
                    image,
                    force,
                },
        } => crate::export::kubernetes(
            &cli.file,
            output,
            namespace.as_deref(),
            image.as_deref(),
            *force,
            cli.quiet,
        ),
        Command::Nginx {
            action: crate::cli::NginxAction::Reload,
        } => crate::live::nginx_reload(&cli.file),
        Command::Nginx {
            action: crate::cli::NginxAction::Sync { lock_wait },
        } => crate::live::nginx_sync(&cli.file, Duration::from_secs(*lock_wait)),
        Command::GenDocs { out } => crate::docs::generate(out)
            .map_err(|e| Failure::failed(Diagnostic::error(format!("cannot write docs: {e}")))),
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            print_diagnostics(&f.diagnostics);
            f.code
        }
    }
}

/// How a changing command reports: `--json`, `--quiet`, or progress — live on a
/// terminal (unless `--no-progress`), plain lines otherwise.
fn mode(cli: &Cli, dry_run: bool, json: bool) -> crate::converge::Mode {
    let live = !cli.no_progress && crate::progress::wanted();
    crate::converge::Mode {
        dry_run,
        json,
        quiet: cli.quiet,
        live: live.then_some(crate::progress::boxed as fn() -> Box<dyn Sink>),
    }
}

/// A command that changes the grid runs to its end when its terminal goes away (a
/// dropped SSH session): killed by SIGHUP half-way through a roll it would leave a copy
/// marked down and a temporary copy serving (issue 19.2). Its output then goes nowhere.
fn finish_on_hangup() {
    // SAFETY: SIG_IGN installs no handler code; nothing else in gridctl handles SIGHUP.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGHUP,
            nix::sys::signal::SigHandler::SigIgn,
        )
    };
}

fn init(file: &Path, args: &InitArgs) -> Outcome {
    check_bin_dir(&args.bin_dir)?;
    if file.exists() && !args.force {
        return Err(Failure::failed(
            Diagnostic::error(format!("`{}` already exists", file.display()))
                .help("pass --force to overwrite it, or -f to name another file"),
        ));
    }
    let t = Templates::load(None)?;
    let bin_dir = std::path::absolute(&args.bin_dir).unwrap_or_else(|_| args.bin_dir.clone());
    let text = t.render(
        "grid.toml",
        &serde_json::json!({
            "name": args.name,
            "domain": args.domain,
            "bin_dir": bin_dir.display().to_string(),
            "estate_owner": args.estate_owner,
            "simulators": (1..=args.simulators)
                .map(|n| serde_json::json!({
                    "name": format!("sim{n}"),
                    "region": format!("Region {n}"),
                    "x": 999 + n,
                    "port": 9000 + 10 * (n - 1),
                }))
                .collect::<Vec<_>>(),
        }),
    )?;
    // What init writes must itself be a valid manifest.
    let loaded = manifest::parse(file, text.clone())?;
    crate::planner::build(&loaded).map_err(Failure::invalid)?;
    crate::atomic::write_file(file, text.as_bytes(), 0o644).map_err(|e| {
        Failure::failed(Diagnostic::error(format!(
            "cannot write `{}`: {e}",
            file.display()
        )))
    })?;
    let sims = match loaded.manifest.simulators.len() {
        0 => String::new(),
        n => format!(", {n} simulator(s)"),
    };
    crate::outln!(
        "wrote {} ({} roles{sims}); next: `gridctl check`, then `gridctl plan`",
        file.display(),
        loaded.manifest.roles.len()
    );
    Ok(())
}

/// `init --bin-dir`: OpenSim's `bin/`, holding `Robust.exe` (mono) or `Robust.dll`
/// (dotnet). Checked before anything is written, so a typo never leaves a manifest
/// pointing nowhere. A usage error: the argument is wrong.
fn check_bin_dir(dir: &Path) -> Outcome {
    let usage = |d: Diagnostic| Failure {
        diagnostics: vec![d],
        code: EXIT_USAGE,
    };
    let shown = dir.display();
    let help = "give OpenSim's bin/ directory, the one holding Robust.exe (or Robust.dll)";
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(usage(
                Diagnostic::error(format!("--bin-dir `{shown}` does not exist")).help(help),
            ))
        }
        Err(e) => {
            return Err(usage(
                Diagnostic::error(format!("--bin-dir `{shown}` cannot be read: {e}")).help(help),
            ))
        }
        Ok(m) if !m.is_dir() => {
            return Err(usage(
                Diagnostic::error(format!("--bin-dir `{shown}` is not a directory")).help(help),
            ))
        }
        Ok(_) => {}
    }
    if ["Robust.exe", "Robust.dll"]
        .iter()
        .any(|f| dir.join(f).is_file())
    {
        return Ok(());
    }
    Err(usage(
        Diagnostic::error(format!(
            "--bin-dir `{shown}` has no Robust.exe (nor Robust.dll): it is not OpenSim's bin/"
        ))
        .help(help),
    ))
}

/// How long `check` waits for its hostname lookups: 2 s. Test-only knob (like
/// `check::TEST_DNS_STALL_ENV`, not for operators): `GRIDCTL_TEST_DNS_DEADLINE` seconds,
/// so a test that wants the resolver's real answer still gets it from a slow resolver.
fn dns_deadline() -> Duration {
    std::env::var("GRIDCTL_TEST_DNS_DEADLINE")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(2), Duration::from_secs)
}

fn cmd_check(file: &Path) -> Outcome {
    let plan = build_plan(file)?;
    let ds = check::all(&plan, Some(dns_deadline()))?;
    let errors = ds.iter().filter(|d| d.is_error()).count();
    let warnings = ds.len() - errors;
    print_diagnostics(&ds);
    if errors > 0 {
        return Err(Failure {
            diagnostics: vec![Diagnostic::error(format!(
                "`{}` has {errors} error(s) and {warnings} warning(s)",
                file.display()
            ))],
            code: EXIT_INVALID,
        });
    }
    let simulators = plan.simulators().count();
    let regions: usize = plan.simulators().map(|(_, s)| s.regions.len()).sum();
    let sims = match simulators {
        0 => String::new(),
        n => format!(", {n} simulator(s) with {regions} region(s)"),
    };
    crate::outln!(
        "ok: {} ({} instance(s) in {} role(s){sims}, {warnings} warning(s))",
        file.display(),
        plan.instances.len() - simulators,
        plan.roles.len() - simulators
    );
    Ok(())
}

fn cmd_plan(file: &Path, json: bool) -> Outcome {
    let plan = load_plan(file)?;
    if json {
        let instances: Vec<serde_json::Value> = plan
            .start_order()
            .iter()
            .map(|i| {
                let spec = plan.spec(i, "");
                let env: Vec<(String, String)> = spec
                    .env
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            if k == plan::DB_ENV || k == gridctl_config::simulator::REGION_DB_ENV {
                                "<secret>".to_string()
                            } else {
                                v.clone()
                            },
                        )
                    })
                    .collect();
                serde_json::json!({
                    "name": i.name, "role": i.role, "kind": i.kind, "index": i.index,
                    "private_port": i.private_port, "public_port": i.public_port,
                    "address": i.address, "dir": i.dir, "cwd": spec.cwd,
                    "argv": i.argv, "env": env, "socket": spec.socket,
                    "expected_connectors": i.expected_connectors,
                    "readiness_probe": spec.readiness.probe,
                    "readiness_lines": spec.readiness.expected_lines,
                    "readiness_extra_probes": spec.readiness.extra_probes,
                })
            })
            .collect();
        let out = serde_json::json!({
            "grid": plan.grid_name,
            "manifest": plan.manifest_path,
            "state_dir": plan.state_dir,
            "bin_dir": plan.bin_dir,
            "command": plan.command,
            "database": plan.database,
            "roles": plan.roles,
            "instances": instances,
            "routes": plan.routes,
            "nginx": plan.nginx,
        });
        crate::outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    crate::outln!("{}", plan_table(&plan));
    Ok(())
}

/// The human table of `gridctl plan`, in start order. Long service and hostname
/// lists wrap onto continuation lines so the table stays readable in 100 columns.
pub fn plan_table(plan: &Plan) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "INSTANCE".into(),
        "ROLE".into(),
        "PORTS".into(),
        "SERVICES".into(),
        "HOSTNAMES".into(),
    ]];
    for i in plan.start_order() {
        let ports = match i.public_port {
            Some(p) => format!("{} pub {p}", i.private_port),
            None => i.private_port.to_string(),
        };
        // A simulator's "services" are its regions.
        let services: Vec<String> = match plan.role(&i.role) {
            Some(r) => match &r.simulator {
                Some(sim) => sim
                    .regions
                    .iter()
                    .map(|g| format!("region {} ({},{} udp {})", g.name, g.x, g.y, g.port))
                    .collect(),
                None => r.services.clone(),
            },
            None => Vec::new(),
        };
        let hosts: Vec<String> = plan
            .routes
            .iter()
            .filter(|r| r.role == i.role)
            .map(|r| r.hostname.clone())
            .collect();
        let services = wrap_list(&services, 34);
        let hosts = wrap_list(&hosts, 30);
        for line in 0..services.len().max(hosts.len()).max(1) {
            let first = line == 0;
            rows.push([
                if first { i.name.clone() } else { String::new() },
                match (first, i.kind) {
                    (false, _) => String::new(),
                    (true, plan::Kind::Simulator) => "(simulator)".into(),
                    (true, plan::Kind::Robust) => i.role.clone(),
                },
                if first { ports.clone() } else { String::new() },
                services.get(line).cloned().unwrap_or_default(),
                hosts.get(line).cloned().unwrap_or_default(),
            ]);
        }
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = (0..5)
            .map(|c| format!("{:w$}", r[c], w = widths[c]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    let simulators = plan.simulators().count();
    let sims = match simulators {
        0 => String::new(),
        n => format!(", {n} simulator(s)"),
    };
    out.push_str(&format!(
        "{} instance(s), {} role(s){sims}; state in {}",
        plan.instances.len() - simulators,
        plan.roles.len() - simulators,
        plan.state_dir.display()
    ));
    if let Some(c) = &plan.cluster {
        out.push_str(&format!(
            "; planned for Kubernetes (namespace {}, {}=kubernetes)",
            c.namespace,
            crate::cluster::TARGET_ENV
        ));
    }
    out
}

/// Joins items with `, ` into lines of at most `width` characters (an item longer than that gets its own line).
fn wrap_list(items: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (n, item) in items.iter().enumerate() {
        let piece = if n + 1 < items.len() {
            format!("{item},")
        } else {
            item.clone()
        };
        if !cur.is_empty() && cur.len() + 1 + piece.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&piece);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn cmd_render(file: &Path) -> Outcome {
    // Rendered once before the lock, so a render that fails leaves nothing on disk (not
    // even the lock file); then again under the lock from a fresh read, so a concurrent
    // `scale` or `up` is never interleaved with the write.
    let first = build_plan(file)?;
    render::render_instances(&first, &templates(&first)?)?;
    let (_lock, plan) = locked_plan(file)?;
    let t = templates(&plan)?;
    let rendered = render::render_instances(&plan, &t)?;
    let report = render::write_instances(&rendered).map_err(|e| {
        Failure::failed(Diagnostic::error(format!(
            "cannot write the rendered tree: {e}"
        )))
    })?;
    crate::outln!(
        "rendered {} instance(s) into {} ({} changed, {} unchanged)",
        rendered.len(),
        plan.state_dir.join("instances").display(),
        report.changed.len(),
        report.unchanged.len()
    );
    Ok(())
}

fn cmd_render_nginx(file: &Path, output: Option<&Path>) -> Outcome {
    let plan = load_plan(file)?;
    let t = templates(&plan)?;
    let text = render::render_nginx(&plan, &t, &Default::default())?;
    match output {
        None => crate::out!("{text}"),
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Failure::failed(Diagnostic::error(format!(
                        "cannot create `{}`: {e}",
                        parent.display()
                    )))
                })?;
            }
            crate::atomic::write_file(path, text.as_bytes(), 0o644).map_err(|e| {
                Failure::failed(Diagnostic::error(format!(
                    "cannot write `{}`: {e}",
                    path.display()
                )))
            })?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn cmd_render_simulator(file: &Path) -> Outcome {
    let plan = load_plan(file)?;
    let t = templates(&plan)?;
    crate::out!("{}", render::render_simulator(&plan, &t)?);
    Ok(())
}
