//! fake-robust: a small stand-in for OpenSimulator's Robust that behaves as
//! `docs/robust.md` describes (switches, config loading, PID file, log lines,
//! connectors per port, the console with its cursor query, signals), for the
//! integration tests, the example grid and the benchmarks.
//!
//! `fake-robust OpenSim.exe -inifile=...` plays a region simulator instead, as
//! `docs/simulator.md` describes (`simulator.rs`); `Robust.dll`/`Robust.exe` or no such
//! first argument is Robust. `fake-robust --make-bin-dir DIR` creates a bin/ with
//! placeholder DLLs.

// A binary's crate root looks for modules next to itself; ours live in fake_robust/.
#[path = "fake_robust/args.rs"]
mod args;
#[path = "fake_robust/client.rs"]
mod client;
#[path = "fake_robust/commands.rs"]
mod commands;
#[path = "fake_robust/console.rs"]
mod console;
#[path = "fake_robust/grid.rs"]
mod grid;
#[path = "fake_robust/http.rs"]
mod http;
#[path = "fake_robust/knobs.rs"]
mod knobs;
#[path = "fake_robust/log.rs"]
mod log;
#[path = "fake_robust/logconfig.rs"]
mod logconfig;
#[path = "fake_robust/migrations.rs"]
mod migrations;
#[path = "fake_robust/remote.rs"]
mod remote;
#[path = "fake_robust/services.rs"]
mod services;
#[path = "fake_robust/simulator.rs"]
mod simulator;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{SigSet, Signal};

use args::Switches;
use gridctl::ini::{self, Ini};
use knobs::Knobs;

/// What a shutdown needs, set once startup has read the config.
struct Shared {
    pid_file: Option<PathBuf>,
    knobs: Knobs,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// How long the real Robust lingers after a port it needs turned out to be in use.
const PORT_IN_USE_EXIT: Duration = Duration::from_millis(1300);

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--make-bin-dir") {
        std::process::exit(make_bin_dir(argv.get(1)));
    }
    // Block SIGINT/SIGTERM before any thread exists, so every thread inherits the
    // mask and only the signal thread sees them (sigwait: no handler, no unsafe).
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    if let Err(e) = signals.thread_block() {
        eprintln!("fake-robust: cannot block signals: {e}");
    }
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || signal_loop(signals));
    if let Err(e) = spawned {
        eprintln!("fake-robust: cannot start signal thread: {e}");
    }
    if argv.first().is_some_and(|a| simulator::selects(a)) {
        simulator::run(&argv);
    }
    run(&argv);
}

fn make_bin_dir(dir: Option<&String>) -> i32 {
    let Some(dir) = dir else {
        eprintln!("usage: fake-robust --make-bin-dir DIR");
        return 2;
    };
    let dir = Path::new(dir);
    let (config_name, config_text) = services::ROBUST_EXE_CONFIG;
    let made = std::fs::create_dir_all(dir)
        .and_then(|()| {
            services::BIN_FILES
                .iter()
                .try_for_each(|f| std::fs::write(dir.join(f), b""))
        })
        .and_then(|()| std::fs::write(dir.join(config_name), config_text));
    match made {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fake-robust: cannot create {}: {e}", dir.display());
            1
        }
    }
}

fn signal_loop(signals: SigSet) {
    loop {
        let Ok(sig) = signals.wait() else { continue };
        let shared = SHARED.get();
        match sig {
            // Console.CancelKeyPress → the same Shutdown() as the command.
            Signal::SIGINT if shared.is_some() || simulator::started() => shutdown(),
            // Before the handler exists the default action applies.
            Signal::SIGINT => std::process::exit(130),
            Signal::SIGTERM if shared.is_some_and(|s| s.knobs.ignore_sigterm) => {}
            Signal::SIGTERM if simulator::ignores_sigterm() => {}
            // Mono 0.9.2.2 (the reference) has no handler: killed by the signal at once,
            // no Robust shutdown, PID file left behind. Re-raised with the default action.
            Signal::SIGTERM => {
                console::restore_terminal();
                let _ = signals.thread_unblock();
                let _ = nix::sys::signal::raise(Signal::SIGTERM);
                std::process::exit(143);
            }
            _ => {}
        }
    }
}

/// Robust's `Shutdown()`: "Quitting", listeners stop, PID file removed, exit 0. A
/// simulator runs its own (`simulator::shutdown`).
pub fn shutdown() {
    if simulator::started() {
        simulator::shutdown();
        return;
    }
    log::info("[CONSOLE]: Quitting");
    let Some(shared) = SHARED.get() else {
        std::process::exit(0);
    };
    if shared.knobs.ignore_shutdown {
        return;
    }
    if let Some(p) = &shared.pid_file {
        let _ = std::fs::remove_file(p);
    }
    console::restore_terminal();
    // Exiting closes every listener at once, as MainServer.Stop() does.
    std::process::exit(0);
}

fn fail(code: i32, msg: &str) -> ! {
    println!("{msg}");
    std::process::exit(code);
}

/// An unhandled .NET exception: the runtime aborts (SIGABRT, 134 in a shell).
fn crash(msg: &str) -> ! {
    println!("Unhandled exception. {msg}");
    console::restore_terminal();
    std::process::exit(134);
}

fn run(argv: &[String]) -> ! {
    let switches = Switches::parse(argv);
    let cwd = std::env::current_dir()
        .unwrap_or_else(|e| fail(1, &format!("Error reading from config source: {e}")));
    let inifile = switches
        .get("inifile", "i")
        .unwrap_or("Robust.ini")
        .to_string();

    // Main ini, includes, [Environment], argv, then ${} — Robust's order (robust.md §1).
    let loaded = ini::load_with_includes(Path::new(&inifile), &cwd)
        .unwrap_or_else(|e| fail(1, &format!("Error reading from config source.  {e}")));
    for w in &loaded.warnings {
        println!("{w}");
    }
    let mut config = loaded.ini;
    config.merge_environment(|k| std::env::var(k).ok());
    let has_startup = config.has_section("Startup");
    for (key, value) in switches.startup_overrides() {
        config.set("Startup", key, &value);
    }
    if let Err(e) = config.resolve_references() {
        fail(
            1,
            &format!("Unhandled exception. System.ArgumentException: {e}"),
        );
    }
    let (knobs, mut knob_warnings) = Knobs::load(&config, |k| std::env::var(k).ok());
    let (resolver, problems) = client::Resolver::parse(&knobs.resolve);
    knob_warnings.extend(problems);
    let (users, problems) = grid::users_from_knob(&knobs.users);
    knob_warnings.extend(problems);

    let sinks = logconfig::load(
        config.get("Startup", "logconfig").filter(|s| !s.is_empty()),
        config.get("Startup", "logfile"),
        &cwd,
    );
    log::start(&sinks);
    log::info("[SERVER]: Starting fake Robust (gridctl test double)");
    for w in &knob_warnings {
        log::error(w);
    }
    let instance = instance_name(&config, &inifile);

    let pid_file = create_pid_file(&config, &cwd);

    if !config.has_section("Network") {
        fail(1, "ERROR: Section [Network] not found, server can't start");
    }
    let port = match config
        .get("Network", "port")
        .map(|p| p.trim().parse::<u16>())
    {
        Some(Ok(p)) if p != 0 => p,
        _ => fail(
            1,
            "ERROR: No 'port' entry found in [Network].  Server can't start",
        ),
    };
    if !has_startup {
        println!("Startup config section missing in .ini file");
        crash("System.Exception: Configuration error");
    }

    let started = Instant::now();
    let started_at = SystemTime::now();
    let crash_after = knobs.crash_after_ms;
    let start_delay = knobs.start_delay_ms;
    let load_delay = knobs.load_delay_ms;
    let fail_connectors = knobs.fail_connectors.clone();
    let error_at_start = knobs.error_at_start;
    let migrations_dir = knobs.migrations_dir.clone().map(|d| cwd.join(d));
    let migration_ms = knobs.migration_ms;
    let settings = console::Settings {
        prompt: format!(
            "{}# ",
            config.get("Startup", "prompt").unwrap_or("R.O.B.U.S.T.")
        ),
        no_cpr: knobs.no_cpr,
        output_lines: knobs.output_lines,
        output_line_bytes: knobs.output_line_bytes,
    };
    let _ = SHARED.set(Shared { pid_file, knobs });
    if let Some(ms) = crash_after {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            log::error(&format!("[FAKE]: simulated crash after {ms} ms"));
            std::process::exit(1);
        });
    }

    let bind = std::env::var("FAKE_ROBUST_BIND").unwrap_or_else(|_| "127.0.0.1".into());
    let grid_info = config.keys("GridInfoService");
    let grid = Arc::new(grid::Grid::new(&config, users));
    let routes = Arc::new(http::Routes::new(instance, grid_info, Arc::clone(&grid)));
    let mut open_ports = BTreeSet::new();
    open_port(&bind, port, &routes, &mut open_ports);

    std::thread::sleep(Duration::from_millis(start_delay));
    let mut has_login = false;
    let mut has_accounts = false;
    for s in services::entry_strings(&config) {
        let entry = services::parse_entry(&s).unwrap_or_else(|e| crash(&e));
        let entry_port = entry.port.unwrap_or(port);
        log::info(&format!(
            "[SERVER]: Loading {} on port {entry_port}",
            entry.class
        ));
        // The port opens before the connector is built, so even if it then fails.
        open_port(&bind, entry_port, &routes, &mut open_ports);
        let dll_present = cwd.join(&entry.dll).is_file();
        if !dll_present || fail_connectors.contains(&entry.class) {
            log::info(&format!("[SERVER]: Failed to load {}", entry.conn));
            continue;
        }
        if let Some(section) = entry
            .config_name
            .as_deref()
            .or_else(|| services::section_of(&entry.class))
        {
            for line in remote::unresolved(&config, section, &resolver) {
                log::error(&line);
            }
        }
        // The service's constructor runs the store's migrations (robust.md §0c).
        if let Some(dir) = &migrations_dir {
            let section = entry
                .config_name
                .as_deref()
                .or_else(|| services::section_of(&entry.class))
                .unwrap_or("");
            if let Some((store, revision, broken)) =
                migrations::store_of(&entry.class, &config, section)
            {
                if !migrations::migrate(dir, store, revision, migration_ms) {
                    routes.break_class(&entry.class, broken);
                }
            }
        }
        routes.add(entry_port, &entry.class);
        has_login |= entry.class == "LLLoginServiceInConnector";
        has_accounts |= entry.class == "UserAccountServiceConnector";
        if matches!(
            entry.class.as_str(),
            "MapGetServiceConnector" | "MapAddServiceConnector"
        ) {
            map_tiles_dir(&config, entry.config_name.as_deref(), &cwd);
        }
        log::info(&format!("[SERVER]: {} loaded successfully", entry.class));
        std::thread::sleep(Duration::from_millis(load_delay));
    }
    if error_at_start {
        log::error("[FAKE]: simulated failure during startup");
    }
    for line in startup_logo(&cwd) {
        log::info(&format!("[!] {line}"));
    }

    let commands = commands::Commands {
        started,
        started_at,
        cwd,
        has_login,
        login_level: AtomicU32::new(0),
        has_accounts,
        grid,
    };
    let kind = config
        .get("Startup", "console")
        .unwrap_or("local")
        .to_string();
    if !matches!(
        kind.to_ascii_lowercase().as_str(),
        "local" | "basic" | "rest" | "mock"
    ) {
        // MainConsole.Instance stays null.
        crash(
            "System.NullReferenceException: Object reference not set to an instance of an object.",
        );
    }
    console::run(&kind, &settings, &commands)
}

/// `[Startup] PIDFile` (relative to the cwd) written as ServerBase.CreatePIDFile does,
/// for Robust and the simulator alike; the path, to remove on a clean exit.
pub fn create_pid_file(config: &Ini, cwd: &Path) -> Option<PathBuf> {
    let p = cwd.join(config.get("Startup", "PIDFile").filter(|p| !p.is_empty())?);
    // Word for word (two spaces before "Possibly").
    if p.exists() {
        log::error(&format!(
            "[SERVER BASE]: Previous pid file {} still exists on startup.  Possibly previously unclean shutdown.",
            p.display()
        ));
    }
    match std::fs::write(&p, std::process::id().to_string()) {
        Ok(()) => log::info(&format!("[SERVER BASE]: Created pid file {}", p.display())),
        Err(e) => log::error(&format!(
            "[SERVER BASE]: Could not create PID file at {}: {e}",
            p.display()
        )),
    }
    Some(p)
}

fn open_port(bind: &str, port: u16, routes: &Arc<http::Routes>, open: &mut BTreeSet<u16>) {
    if !open.insert(port) {
        return;
    }
    if let Err(e) = http::listen(bind, port, Arc::clone(routes)) {
        log::error(&format!(
            "[HTTPD]: Error - Failed to start HTTP server on port {port}: {e}"
        ));
        // The real 0.9.2.2 takes ~1.3 s from the failed bind to its exit (robust.md 0b);
        // a supervisor must not read a fast exit as the only shape of this failure.
        std::thread::sleep(PORT_IN_USE_EXIT);
        fail(
            1,
            "Unhandled exception. System.Net.HttpListenerException: Address already in use",
        );
    }
    log::info(&format!("[HTTPD]: Started HTTP server on port {port}"));
}

/// MapImageService's constructor creates `TilesStoragePath` (default `maptiles`),
/// relative to the cwd: with copies in bin/, that is `bin/maptiles` (robust.md 0d).
fn map_tiles_dir(config: &Ini, config_name: Option<&str>, cwd: &Path) {
    let section = config_name.unwrap_or("MapImageService");
    let dir = cwd.join(
        config
            .get(section, "TilesStoragePath")
            .filter(|p| !p.is_empty())
            .unwrap_or("maptiles"),
    );
    log::info("[MAP IMAGE SERVICE]: Starting MapImage service");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log::error(&format!(
            "[MAP IMAGE SERVICE]: cannot create {}: {e}",
            dir.display()
        ));
    }
}

/// `[Const] InstanceName`, else the ini file's stem.
fn instance_name(config: &Ini, inifile: &str) -> String {
    if let Some(n) = config
        .get("Const", "InstanceName")
        .filter(|n| !n.is_empty())
    {
        return n.to_string();
    }
    Path::new(inifile)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Robust".into())
}

/// The lines of `robuststartuplogo.txt` in the cwd, or a small default logo.
fn startup_logo(cwd: &Path) -> Vec<String> {
    match std::fs::read_to_string(cwd.join("robuststartuplogo.txt")) {
        Ok(text) => text.lines().map(str::to_string).collect(),
        Err(_) => vec![
            String::new(),
            "R.O.B.U.S.T. (fake)".to_string(),
            String::new(),
        ],
    }
}
