//! Simulator mode: `fake-robust OpenSim.exe -inifile=… -inidirectory=… -logconfig=…`
//! plays an OpenSim 0.9.2.2 region simulator as docs/simulator.md measured it: the config
//! tree (defaults, the ini and its includes, then the override directory), the PID file,
//! the HTTP listener and `/simstatus/`, the estate and owner questions, each region's
//! registration with the grid (`POST <GridServerURI>/grid`), the `LOGINS ENABLED` lines,
//! the `Region (…) # ` prompt and its commands, and the stop that deregisters.
//!
//! The fake keeps no region database: every start is a first start on an empty one
//! (estates are created anew, so the owner is looked up on the grid each time).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use gridctl::ini::{self, Ini};

use crate::args::Switches;
use crate::client::{self, Resolver};
use crate::commands::{random_uuid, Ask, Outcome};
use crate::console::{self, SimConsole};
use crate::grid::{self, ZERO_UUID};
use crate::http::{self, Request, Response};
use crate::knobs::Knobs;
use crate::{log, logconfig};

/// The simulator's switches (Application.cs `AddSwitch("Startup", …)`): long forms only.
const SWITCHES: [&str; 10] = [
    "background",
    "inifile",
    "inimaster",
    "inidirectory",
    "physics",
    "gui",
    "console",
    "save_crashes",
    "crash_dir",
    "logconfig",
];

/// The tail Mono prints after the reason of a failed registration (two stack frames).
const REGISTRATION_STACK: &str = "   at OpenSim.Region.Framework.Scenes.Scene.RegisterRegionWithGrid () [0x00051] in <6d59aa63bb7a4a4a83fa1f13c6aa0749>:0 \n  at OpenSim.OpenSimBase.CreateRegion (OpenSim.Framework.RegionInfo regionInfo, System.Boolean portadd_flag, System.Boolean do_post_init, OpenSim.Framework.IScene& mscene) [0x00364] in <4d4e263689f04c7ca32dcf6a2806e8c7>:0 ";

const KNOMES: &str = "<HTML><HEAD><TITLE>404 Page not found</TITLE><BODY><BR /><H1>Ooops!</H1><P>The page you requested has been obsconded with by knomes. Find hippos quick!</P></BODY></HTML>";

/// Whether the first argument selects simulator mode (`OpenSim.exe`, or 0.9.3's
/// `OpenSim.dll`, by file name).
pub fn selects(arg0: &str) -> bool {
    matches!(
        Path::new(arg0).file_name().and_then(|n| n.to_str()),
        Some("OpenSim.exe" | "OpenSim.dll")
    )
}

/// One region of a `Regions/*.ini` file.
#[derive(Debug, Clone)]
struct RegionConf {
    name: String,
    uuid: String,
    /// Grid coordinates (regions, not metres).
    x: u32,
    y: u32,
    size_x: u32,
    size_y: u32,
    internal_port: u16,
    external_host: String,
}

/// A region that is up: registered, in its estate.
#[derive(Debug, Clone)]
struct Scene {
    conf: RegionConf,
    estate: String,
}

#[derive(Debug, Clone)]
struct Estate {
    name: String,
    owner: Option<String>,
}

/// What the running simulator is, for the console, the HTTP listener and the stop.
struct Sim {
    knobs: Knobs,
    resolver: Resolver,
    config: Ini,
    pid_file: Option<PathBuf>,
    http_port: u16,
    /// `[GridService] GridServerURI`, as written.
    grid_uri: String,
    prompt_template: String,
    scenes: Mutex<Vec<Scene>>,
    estates: Mutex<Vec<Estate>>,
    /// The region console commands act on; `None` is `root` (all of them).
    selected: Mutex<Option<String>>,
    /// Every region is up: `/simstatus/` answers.
    ready: AtomicBool,
    /// A registration failed: the real one then hangs in `Environment.Exit` (no answer
    /// on HTTP, SIGINT ignored, only SIGTERM/SIGKILL end it).
    hung: AtomicBool,
    stopping: AtomicBool,
}

static SIM: OnceLock<Arc<Sim>> = OnceLock::new();

/// Whether a simulator has started (its shutdown then replaces Robust's).
pub fn started() -> bool {
    SIM.get().is_some()
}

pub fn ignores_sigterm() -> bool {
    SIM.get().is_some_and(|s| s.knobs.ignore_sigterm)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn exit_with(code: i32, line: &str) -> ! {
    println!("{line}");
    std::process::exit(code);
}

/// Runs the simulator; never returns.
pub fn run(argv: &[String]) -> ! {
    let cwd = std::env::current_dir()
        .unwrap_or_else(|e| exit_with(1, &format!("Cannot read the working directory: {e}")));
    let exe = argv.first().map(String::as_str).unwrap_or("OpenSim.exe");
    // Mono itself: the assembly must be in the working directory (exit 2).
    if !cwd.join(exe).is_file() {
        exit_with(
            2,
            &format!("Cannot open assembly '{exe}': No such file or directory."),
        );
    }
    let switches = Switches::parse(argv.get(1..).unwrap_or_default());
    let given = switches.given(&SWITCHES);
    let switch = |name: &str| {
        given
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let logconfig_arg = switch("logconfig").filter(|v| !v.is_empty());

    // The config is read before log4net has its file (the lines are shown after).
    let loaded = load_config(&given, &cwd);
    let sinks = logconfig::load_for(
        "OpenSim.exe.config",
        logconfig_arg.as_deref(),
        loaded
            .as_ref()
            .ok()
            .and_then(|l| l.config.get("Startup", "logfile")),
        &cwd,
    );
    let bright = std::env::var("TERM").is_ok_and(|t| t.contains("256color"));
    log::set_process("OpenSim.OpenSim", bright);
    log::start(&sinks);
    match &logconfig_arg {
        Some(lc) => log::info(&format!(
            "[OPENSIM MAIN]: configured log4net using \"{lc}\" as configuration file"
        )),
        None => log::info("[OPENSIM MAIN]: configured log4net using default OpenSim.exe.config"),
    }
    let loaded = match loaded {
        Ok(l) => l,
        Err((lines, fatal)) => {
            for l in lines {
                log::info(&l);
            }
            log::fatal(&fatal);
            console::sim_close();
            std::process::exit(1);
        }
    };
    for l in &loaded.lines {
        log::info(l);
    }
    let config = loaded.config;
    if !config.has_section("SimulationDataStore") {
        log::fatal("Fatal error: System.Exception: Configuration file is missing the [SimulationDataStore] section.  Have you copied OpenSim.ini.example to OpenSim.ini to reference config-include/ files?");
        console::sim_close();
        std::process::exit(1);
    }
    let (knobs, mut warnings) = Knobs::load(&config, |k| std::env::var(k).ok());
    let (resolver, problems) = Resolver::parse(&knobs.resolve);
    warnings.extend(problems);

    log::info("[STARTUP]: Beginning startup processing");
    log::info("[STARTUP]: version: OpenSim 0.9.2.2 Yeti Release (fake-robust)");
    log::info("====================================================================");
    log::info("========================= STARTING OPENSIM =========================");
    log::info("====================================================================");
    let mut console = SimConsole::open(
        config.get("Startup", "console").unwrap_or_default(),
        knobs.no_cpr,
    );
    log::console_line("Console log level is ALL");
    if let Some(f) = &sinks.file {
        log::info(&format!(
            "[SERVER BASE]: Logging started to file {}",
            f.display()
        ));
    }
    log::info(&format!("[SERVER BASE]: Starting in {}", cwd.display()));
    let pid_file = crate::create_pid_file(&config, &cwd);
    for w in &warnings {
        log::error(w);
    }

    let http_port = config
        .get("Network", "http_listener_port")
        .and_then(|p| p.trim().parse::<u16>().ok())
        .unwrap_or(9000);
    let prompt_template = config
        .get("Startup", "ConsolePrompt")
        .unwrap_or("Region (\\R) ")
        .to_string();
    let sim = Arc::new(Sim {
        grid_uri: config
            .get("GridService", "GridServerURI")
            .unwrap_or_default()
            .to_string(),
        knobs,
        resolver,
        config,
        pid_file,
        http_port,
        prompt_template,
        scenes: Mutex::new(Vec::new()),
        estates: Mutex::new(Vec::new()),
        selected: Mutex::new(None),
        ready: AtomicBool::new(false),
        hung: AtomicBool::new(false),
        stopping: AtomicBool::new(false),
    });
    let _ = SIM.set(Arc::clone(&sim));
    if let Some(ms) = sim.knobs.crash_after_ms {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            log::error(&format!("[FAKE]: simulated crash after {ms} ms"));
            std::process::exit(1);
        });
    }
    sim.listen();
    std::thread::sleep(Duration::from_millis(sim.knobs.start_delay_ms));

    let regions = sim.load_regions(&cwd, &mut console);
    for r in regions {
        sim.create_region(r, &mut console);
        std::thread::sleep(Duration::from_millis(sim.knobs.load_delay_ms));
    }
    if sim.knobs.error_at_start {
        log::error("[FAKE]: simulated failure during startup");
    }
    sim.ready.store(true, Ordering::SeqCst);
    let scenes = lock(&sim.scenes).clone();
    for s in &scenes {
        log::debug(&format!(
            "[RegionReady]: Region \"{}\" is ready: \"server_startup,0,\" on channel -800",
            s.conf.name
        ));
        log::console_line(&format!(
            "INITIALIZATION COMPLETE FOR {} - LOGINS ENABLED",
            s.conf.name
        ));
    }
    for s in &scenes {
        sim.neighbours(&s.conf);
    }
    if let [only] = scenes.as_slice() {
        *lock(&sim.selected) = Some(only.conf.name.clone());
    }
    log::console_line(&format!(
        "Currently selected region is {}",
        sim.selected_name()
    ));
    let prompt = || sim.prompt();
    let handler = |line: &str, ask: &mut Ask| sim.command(line, ask);
    console.run(&prompt, &handler)
}

/// The merged config and the `[CONFIG]` lines reading it printed; or those lines and the
/// fatal error that ends the start.
struct Loaded {
    config: Ini,
    lines: Vec<String>,
}

/// ConfigurationLoader.LoadConfigSettings: `[Startup] inimaster` (default
/// `OpenSimDefaults.ini`), `inifile` (default `OpenSim.ini`), each with its includes, then
/// every `*.ini` of `inidirectory` (default `config`) merged over them, then the
/// environment (`[Environment]`), the command line, and `${…}` expanded. Relative paths
/// are based on the working directory (bin/).
///
/// A missing defaults file is fatal in the real one ("Master ini file … not found"); the
/// fake bin/ has none, so the fake reads it only when it is there.
fn load_config(
    switches: &[(&'static str, String)],
    cwd: &Path,
) -> Result<Loaded, (Vec<String>, String)> {
    let mut argv = Ini::new();
    argv.add_section("Startup");
    for (k, v) in switches {
        argv.set("Startup", k, v);
    }
    let startup = |key: &str, default: &str| {
        argv.get("Startup", key)
            .filter(|v| !v.is_empty())
            .unwrap_or(default)
            .to_string()
    };
    let mut lines = vec!["[CONFIG]: Reading configuration settings".to_string()];
    let mut read_files: Vec<PathBuf> = Vec::new();
    let mut config = Ini::new();
    let mut read_any = false;
    let mut read = |path: &Path, into: &mut Ini, lines: &mut Vec<String>| -> Result<(), String> {
        if read_files.iter().any(|f| f == path) {
            return Ok(());
        }
        let loaded = ini::load_with_includes(path, cwd)
            .map_err(|e| format!("Error reading from config source.  {e}"))?;
        for f in &loaded.files {
            lines.push(format!(
                "[CONFIG]: Reading configuration file {}",
                f.display()
            ));
        }
        lines.extend(loaded.warnings);
        read_files.extend(loaded.files);
        into.merge(&loaded.ini);
        read_any = true;
        Ok(())
    };
    let master = startup("inimaster", "OpenSimDefaults.ini");
    if master != "none" {
        let path = cwd.join(&master);
        if path.is_file() {
            read(&path, &mut config, &mut lines).map_err(|e| (lines.clone(), e))?;
        }
    }
    let inifile = cwd.join(startup("inifile", "OpenSim.ini"));
    if inifile.is_file() {
        read(&inifile, &mut config, &mut lines).map_err(|e| (lines.clone(), e))?;
    }
    let dir = cwd.join(startup("inidirectory", "config"));
    if dir.is_dir() {
        lines.push(format!(
            "[CONFIG]: Searching folder {} for config ini files",
            dir.display()
        ));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("ini"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let mut overrides = Ini::new();
        for f in files {
            read(&f, &mut overrides, &mut lines).map_err(|e| (lines.clone(), e))?;
        }
        config.merge(&overrides);
    }
    if !read_any {
        return Err((lines, "[CONFIG]: Could not load any configuration".into()));
    }
    lines.push("[CONFIG]: Loading environment variables for Config".into());
    config.merge_environment(|k| std::env::var(k).ok());
    config.merge(&argv);
    if let Err(e) = config.resolve_references() {
        return Err((lines, format!("Fatal error: System.ArgumentException: {e}")));
    }
    Ok(Loaded { config, lines })
}

/// ConsoleBase.Prompt: `question [default]: `; an empty answer takes the default; a
/// character of `excluded` is refused with a line of its own and the question again.
fn prompt(
    console: &mut SimConsole,
    question: &str,
    default: Option<&str>,
    excluded: &[char],
) -> String {
    loop {
        let shown = match default {
            Some(d) => format!("{question} [{d}]: "),
            None => format!("{question}: "),
        };
        let answer = console.ask(&shown, false);
        if answer.is_empty() {
            if let Some(d) = default {
                return d.to_string();
            }
        }
        let refused: Vec<char> = excluded
            .iter()
            .copied()
            .filter(|c| answer.contains(*c))
            .collect();
        if refused.is_empty() {
            return answer;
        }
        for c in refused {
            log::console_line(&format!("The character \"{c}\" is not permitted."));
        }
    }
}

/// ConsoleBase.Prompt with options: asked again until the answer is one of them.
fn prompt_options(
    console: &mut SimConsole,
    question: &str,
    default: &str,
    options: &[&str],
) -> String {
    let mut answer = prompt(console, question, Some(default), &[]);
    while !options.contains(&answer.as_str()) {
        log::console_line(&format!("Valid options are {}", options.join(" ")));
        answer = prompt(console, question, Some(default), &[]);
    }
    answer
}

impl Sim {
    /// The region plugin's HTTP listener on `[Network] http_listener_port` (127.0.0.1, or
    /// `FAKE_ROBUST_BIND`): a port in use ends the start (exit 1, the PID file left).
    fn listen(self: &Arc<Self>) {
        let port = self.http_port;
        log::info(&format!(
            "[BASE HTTP SERVER]: Starting HTTP server on port {port}"
        ));
        let bind = std::env::var("FAKE_ROBUST_BIND").unwrap_or_else(|_| "127.0.0.1".into());
        let me = Arc::clone(self);
        let handler = Arc::new(move |req: &Request| me.http(req));
        if let Err(e) = http::listen_with(&bind, port, handler) {
            let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                "Address already in use".to_string()
            } else {
                e.to_string()
            };
            log::error(&format!("[BASE HTTP SERVER]: Error - {why}"));
            log::error(&format!(
                "[BASE HTTP SERVER]: Tip: Do you have permission to listen on port {port}?"
            ));
            log::fatal(&format!(
                "Fatal error: System.Net.Sockets.SocketException (0x80004005): {why}\n  at System.Net.Sockets.Socket.Bind (System.Net.EndPoint localEP) [0x0004c] in <fake-robust>:0 "
            ));
            console::sim_close();
            std::process::exit(1);
        }
    }

    /// What the simulator answers on its HTTP port: nothing but 404 until every region is
    /// up (the handlers are added then), then `/simstatus/` and friends.
    fn http(&self, req: &Request) -> Option<Response> {
        if self.hung.load(Ordering::SeqCst) {
            return None;
        }
        let html = "text/html;charset=UTF-8";
        let mut resp = if !self.ready.load(Ordering::SeqCst) {
            Response::new(404, "text/html", KNOMES)
        } else {
            match req.path.as_str() {
                "/simstatus" | "/simstatus/" => Response::new(200, html, "OK"),
                "/robots.txt" => {
                    Response::new(200, html, "# go away\nUser-agent: *\nDisallow: /\n")
                }
                "/index.php" => {
                    let mut r = Response::new(302, html, "");
                    r.reason = Some("Redirect");
                    r.headers
                        .push(("Location", "http://opensimulator.org".into()));
                    r
                }
                "/" => Response::new(404, html, ""),
                _ => Response::new(404, "text/html", KNOMES),
            }
        };
        if resp.status == 404 {
            resp.reason = Some("NotFound");
        }
        resp.headers.push(("Server", "OSWebServer".into()));
        resp.close = true;
        Some(resp)
    }

    /// RegionLoaderFileSystem: every `*.ini` of `[Startup] regionload_regionsdir`
    /// (default `Regions`, created when missing), one region per section. With none and
    /// no `allow_regionless`, the console asks for one and writes `Regions.ini`.
    fn load_regions(&self, cwd: &Path, console: &mut SimConsole) -> Vec<RegionConf> {
        log::info("[LOAD REGIONS PLUGIN]: Loading region configurations from filesystem");
        let dir = cwd.join(
            self.config
                .get("Startup", "regionload_regionsdir")
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .unwrap_or("Regions"),
        );
        if let Err(e) = std::fs::create_dir_all(&dir) {
            log::error(&format!(
                "[REGION LOADER FILE SYSTEM]: cannot create {}: {e}",
                dir.display()
            ));
        }
        let list = |dir: &Path| -> Vec<PathBuf> {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "ini"))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            files
        };
        let mut files = list(&dir);
        let regionless = self
            .config
            .get("Startup", "allow_regionless")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if files.is_empty() && !regionless {
            self.region_wizard(&dir.join("Regions.ini"), console);
            files = list(&dir);
        }
        log::info(&format!(
            "[REGION LOADER FILE SYSTEM]: Loading config files from {}",
            dir.display()
        ));
        let mut regions = Vec::new();
        for file in files {
            log::info(&format!(
                "[REGION LOADER FILE SYSTEM]: Loading config file {}",
                file.display()
            ));
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let parsed = match ini::parse(&text, &file) {
                Ok(p) => p,
                Err(e) => {
                    log::fatal(&format!("Fatal error: Nini.Ini.IniException: {e}"));
                    console::sim_close();
                    std::process::exit(1);
                }
            };
            for name in parsed.sections() {
                let r = read_region(name, &parsed, false, console);
                log::info(&format!(
                    "[REGION LOADER FILE SYSTEM]: Loaded config for region {}",
                    r.name
                ));
                regions.push(r);
            }
        }
        regions
    }

    /// RegionInfo.ReadNiniConfig for an empty Regions directory: the banner, the name,
    /// then every other question; the answers are saved as `path`.
    fn region_wizard(&self, path: &Path, console: &mut SimConsole) {
        for l in [
            "=====================================",
            "We are now going to ask a couple of questions about your region.",
            "You can press 'enter' without typing anything to use the default",
            "the default is displayed between [ ] brackets.",
            "=====================================",
        ] {
            // Each was written with its own "\n", then the console's: a blank line after.
            log::console_line(l);
            log::console_line("");
        }
        let mut name = String::new();
        while name.trim().is_empty() {
            name = prompt(console, "New region name", Some(""), &[]);
            if name.trim().is_empty() {
                log::console_line("Cannot interactively create region with no name");
            }
        }
        let r = read_region(&name, &Ini::new(), true, console);
        let text = format!(
            "[{}]\nRegionUUID = {}\nLocation = {},{}\nSizeX = {}\nSizeY = {}\nInternalAddress = 0.0.0.0\nInternalPort = {}\nExternalHostName = {}\n",
            r.name, r.uuid, r.x, r.y, r.size_x, r.size_y, r.internal_port, r.external_host
        );
        if let Err(e) = std::fs::write(path, text) {
            log::error(&format!(
                "[REGION INFO]: cannot save {}: {e}",
                path.display()
            ));
        }
    }

    /// One region: estate, owner, registration. A failed registration never returns.
    fn create_region(&self, r: RegionConf, console: &mut SimConsole) {
        log::info(&format!(
            "[LOAD REGIONS PLUGIN]: Creating Region: {} (ThreadID: 1)",
            r.name
        ));
        let estate = self.join_estate(&r, console);
        log::console_line(&format!(
            "Region {} - LOGINS DISABLED DURING INITIALIZATION.",
            r.name
        ));
        // A WARN every normal start shows (Groups are off in the stock config).
        log::warn("[BASIC SEARCH MODULE]: Could not get IGroupsModule");
        while self.estate_owner(estate).is_none() {
            self.set_up_owner(estate, console);
        }
        let name = lock(&self.estates)[estate].name.clone();
        let owner = self.estate_owner(estate).unwrap_or_default();
        if let Err(reason) = self.register(&r, &owner) {
            log::error(&format!(
                "[STARTUP]: Registration of region with grid failed, aborting startup due to {reason}{REGISTRATION_STACK}"
            ));
            self.hang();
        }
        lock(&self.scenes).push(Scene {
            conf: r,
            estate: name,
        });
    }

    fn estate_owner(&self, estate: usize) -> Option<String> {
        lock(&self.estates)
            .get(estate)
            .and_then(|e| e.owner.clone())
    }

    /// OpenSimBase.PopulateRegionEstateInfo on an empty database: `[Estates]
    /// DefaultEstateName` joins or creates that estate; without it the console asks.
    fn join_estate(&self, r: &RegionConf, console: &mut SimConsole) -> usize {
        log::warn(&format!(
            "[ESTATE]: Region {} is not part of an estate.",
            r.name
        ));
        log::debug("[RegionInfo]: Could not locate value for parameter TargetEstate");
        if let Some(default) = self.config.get("Estates", "DefaultEstateName") {
            let found = lock(&self.estates).iter().position(|e| e.name == default);
            match found {
                Some(i) => return i,
                None => {
                    if let Some(i) = self.create_estate(Some(default), console) {
                        return i;
                    }
                    log::error(&format!(
                        "[OPENSIM BASE]: Joining default estate {default} failed"
                    ));
                }
            }
        }
        loop {
            let names: Vec<String> = lock(&self.estates).iter().map(|e| e.name.clone()).collect();
            if names.is_empty() {
                log::info("[ESTATE]: No existing estates found.  You must create a new one.");
                if let Some(i) = self.create_estate(None, console) {
                    return i;
                }
                continue;
            }
            let join = prompt_options(
                console,
                &format!(
                    "Do you wish to join region {} to an existing estate (yes/no)?",
                    r.name
                ),
                "yes",
                &["yes", "no"],
            );
            if join == "no" {
                if let Some(i) = self.create_estate(None, console) {
                    return i;
                }
                continue;
            }
            let wanted = prompt(
                console,
                &format!(
                    "Name of estate to join.  Existing estate names are ({})",
                    names.join(", ")
                ),
                Some(&names[0]),
                &[],
            );
            match names.iter().position(|n| n.eq_ignore_ascii_case(&wanted)) {
                Some(i) => return i,
                None => log::console_line(
                    "The name you have entered matches no known estate.  Please try again.",
                ),
            }
        }
    }

    /// OpenSimBase.CreateEstate: `name`, else asked (default `My Estate`); an existing
    /// name is refused.
    fn create_estate(&self, name: Option<&str>, console: &mut SimConsole) -> Option<usize> {
        // An empty `DefaultEstateName` is asked for too (`string.IsNullOrEmpty`).
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => prompt(console, "New estate name", Some("My Estate"), &[]),
        };
        let mut estates = lock(&self.estates);
        if estates.iter().any(|e| e.name == name) {
            log::console_line(&format!(
                "An estate named {name} already exists.  Please try again."
            ));
            return None;
        }
        estates.push(Estate { name, owner: None });
        Some(estates.len() - 1)
    }

    /// OpenSimBase.SetUpEstateOwner, one round: the owner named by `[Estates]
    /// DefaultEstateOwnerName` (two words) or asked, looked up on the grid's account
    /// service. Not found: an ERROR, and the caller asks again, with no pause when the
    /// name comes from the config (the real one loops about 450 times a second).
    fn set_up_owner(&self, estate: usize, console: &mut SimConsole) {
        let estate_name = lock(&self.estates)[estate].name.clone();
        log::console_line(&format!("Estate {estate_name} has no owner set."));
        let configured = self
            .config
            .get("Estates", "DefaultEstateOwnerName")
            .unwrap_or_default()
            .trim()
            .to_string();
        let words: Vec<&str> = configured.split(' ').collect();
        let (first, last) = match words.as_slice() {
            [first, last, ..] => (first.to_string(), last.to_string()),
            _ => (
                prompt(console, "Estate owner first name", Some("Test"), &[' ']),
                prompt(console, "Estate owner last name", Some("User"), &[' ']),
            ),
        };
        match self.account(&first, &last) {
            Some(id) => lock(&self.estates)[estate].owner = Some(id),
            None => {
                log::error("[OPENSIM]: Unable to store account. If this simulator is connected to a grid, you must create the estate owner account first at the grid level.");
                // The real one's round trip to the account service; keeps a fake whose
                // service is unreachable from spinning faster than the real.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// UserAccountServicesConnector.GetUserAccount by name: `POST <UserAccountServerURI>
    /// /accounts` `METHOD=getaccount`; the PrincipalID when the account exists.
    fn account(&self, first: &str, last: &str) -> Option<String> {
        let base = self
            .config
            .get("UserAccountService", "UserAccountServerURI")
            .unwrap_or_default();
        let url = format!("{base}/accounts");
        let body = grid::form_encode(&[
            ("VERSIONMIN", "1"),
            ("VERSIONMAX", "1"),
            ("METHOD", "getaccount"),
            ("ScopeID", ZERO_UUID),
            ("FirstName", first),
            ("LastName", last),
        ]);
        match client::post_form(&self.resolver, &url, &body) {
            Ok(xml) => {
                if grid::xml_tag(&xml, "result").is_some_and(|r| r == "null") {
                    None
                } else {
                    grid::xml_tag(&xml, "PrincipalID").filter(|id| id != ZERO_UUID)
                }
            }
            Err(f) => {
                log::info(&f.forms_line(&url));
                None
            }
        }
    }

    /// GridServicesConnector: `get_grid_extra_features`, then `register` with the
    /// region's fields in the measured order. `Err` is the reason the start aborts with.
    fn register(&self, r: &RegionConf, owner: &str) -> Result<(), String> {
        let uri = format!("{}/grid", self.grid_uri);
        if let Err(f) = client::post_form(&self.resolver, &uri, "METHOD=get_grid_extra_features") {
            log::info(&f.forms_line(&uri));
            log::debug(&format!(
                "[GRID CONNECTOR]: GetExtraFeatures - Exception when contacting grid server at {uri}: {f}"
            ));
        }
        if let Some(msg) = &self.knobs.register_fail {
            log::error(&format!(
                "[GRID CONNECTOR]: Registration failed: {msg} when contacting {uri}"
            ));
            return Err(msg.clone());
        }
        let (loc_x, loc_y) = ((r.x * 256).to_string(), (r.y * 256).to_string());
        let (size_x, size_y) = (r.size_x.to_string(), r.size_y.to_string());
        let http_port = self.http_port.to_string();
        let server_uri = format!("http://{}:{}/", r.external_host, self.http_port);
        let udp = r.internal_port.to_string();
        let (map, secret) = (random_uuid(), random_uuid());
        let body = grid::form_encode(&[
            ("uuid", &r.uuid),
            ("locX", &loc_x),
            ("locY", &loc_y),
            ("sizeX", &size_x),
            ("sizeY", &size_y),
            ("regionName", &r.name),
            ("serverIP", &r.external_host),
            ("serverHttpPort", &http_port),
            ("serverURI", &server_uri),
            ("serverPort", &udp),
            ("regionMapTexture", &map),
            ("parcelMapTexture", ZERO_UUID),
            ("access", "13"),
            ("regionSecret", &secret),
            ("owner_uuid", owner),
            ("Token", ""),
            ("SCOPEID", ZERO_UUID),
            ("VERSIONMIN", "1"),
            ("VERSIONMAX", "1"),
            ("METHOD", "register"),
        ]);
        let unreachable = format!("Error communicating with the grid service at {uri}");
        let reply = match client::post_form(&self.resolver, &uri, &body) {
            Ok(reply) => reply,
            Err(f) => {
                log::info(&f.forms_line(&uri));
                log::error(&format!(
                    "[GRID CONNECTOR]: Exception when contacting grid server at {uri}: {f}"
                ));
                return Err(unreachable);
            }
        };
        if reply.is_empty() {
            log::error(&format!(
                "[GRID CONNECTOR]: RegisterRegion received null reply when contacting grid server at {uri}"
            ));
            return Err(unreachable);
        }
        match grid::xml_tag(&reply, "Result") {
            Some(res) if res.eq_ignore_ascii_case("success") => {
                log::debug(&format!(
                    "[GRID SERVICE]: Region {} ({}, {}x{}) registered at {},{} with flags RegionOnline",
                    r.name, r.uuid, r.size_x, r.size_y, r.x, r.y
                ));
                Ok(())
            }
            Some(res) if res.eq_ignore_ascii_case("failure") => {
                let msg = grid::xml_tag(&reply, "Message").unwrap_or_default();
                log::error(&format!(
                    "[GRID CONNECTOR]: Registration failed: {msg} when contacting {uri}"
                ));
                Err(msg)
            }
            Some(res) => {
                log::error(&format!(
                    "[GRID CONNECTOR]: unexpected result {res} when contacting {uri}"
                ));
                Err(format!("Unexpected result {res}"))
            }
            None => {
                log::error(&format!(
                    "[GRID CONNECTOR]: reply data does not contain result field when contacting {uri}"
                ));
                Err(unreachable)
            }
        }
    }

    /// `get_neighbours`, as the real one asks once its regions are up (the answer only
    /// matters to the real one).
    fn neighbours(&self, r: &RegionConf) {
        let uri = format!("{}/grid", self.grid_uri);
        let body = grid::form_encode(&[
            ("SCOPEID", ZERO_UUID),
            ("REGIONID", &r.uuid),
            ("METHOD", "get_neighbours"),
        ]);
        if let Err(f) = client::post_form(&self.resolver, &uri, &body) {
            log::info(&f.forms_line(&uri));
            log::debug(&format!(
                "[GRID CONNECTOR]: Exception when contacting grid server at {uri}: {f}"
            ));
        }
    }

    /// After a failed registration the real one calls `Environment.Exit(1)` and hangs
    /// there for good (measured: over a minute, busy): no prompt, no HTTP answer, SIGINT
    /// ignored, the PID file kept. The fake hangs idle.
    fn hang(&self) -> ! {
        self.hung.store(true, Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }

    fn selected_name(&self) -> String {
        lock(&self.selected)
            .clone()
            .unwrap_or_else(|| "root".to_string())
    }

    /// `[Startup] ConsolePrompt` (default `Region (\R) `) with `\R` the selected region,
    /// then LocalConsole's `# `.
    fn prompt(&self) -> String {
        let name = self.selected_name();
        let mut out = String::new();
        let chars: Vec<char> = self.prompt_template.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            // `([^\\])\\(\w)`: a backslash after any other character, then `R`.
            if i + 2 < chars.len()
                && chars[i] != '\\'
                && chars[i + 1] == '\\'
                && chars[i + 2] == 'R'
            {
                out.push(chars[i]);
                out.push_str(&name);
                i += 3;
                continue;
            }
            out.push(chars[i]);
            i += 1;
        }
        format!("{out}# ")
    }

    /// The scenes a command acts on: the selected one, or all of them at `root`.
    fn selected_scenes(&self) -> Vec<Scene> {
        let selected = lock(&self.selected).clone();
        lock(&self.scenes)
            .iter()
            .filter(|s| selected.as_ref().is_none_or(|n| *n == s.conf.name))
            .cloned()
            .collect()
    }

    /// The console commands the fake knows, with the real one's output.
    fn command(&self, line: &str, _ask: &mut Ask) -> Outcome {
        let words: Vec<&str> = line.split_whitespace().collect();
        let out = Outcome::Output;
        match words.as_slice() {
            [] => out(Vec::new()),
            ["shutdown"] | ["quit"] => Outcome::Shutdown,
            ["show", "regions"] => out(self.show_regions()),
            ["show", "users"] | ["show", "users", "full"] => {
                let full = words.len() == 3;
                let mut lines = Vec::new();
                for s in self.selected_scenes() {
                    lines.push(String::new());
                    lines.push(format!(
                        "{} agents in region {}: 0 (root 0, child 0)",
                        if full { "Total" } else { "Root" },
                        s.conf.name
                    ));
                }
                lines.push(String::new());
                out(lines)
            }
            ["alert", message @ ..] => {
                let message: String = message.iter().map(|w| format!("{w} ")).collect();
                for s in self.selected_scenes() {
                    log::info(&format!(
                        "[DIALOG]: Sending general alert in region {} with message {message}",
                        s.conf.name
                    ));
                }
                out(Vec::new())
            }
            ["alert-user", first, last, message @ ..] if !message.is_empty() => {
                let message: String = message.iter().map(|w| format!("{w} ")).collect();
                for s in self.selected_scenes() {
                    log::info(&format!(
                        "[DIALOG]: Sending alert in region {} to {first} {last} with message {message}",
                        s.conf.name
                    ));
                }
                out(Vec::new())
            }
            ["alert-user", ..] => out(self
                .selected_scenes()
                .iter()
                .map(|_| "Usage: alert <message> | alert-user <first> <last> <message>".into())
                .collect()),
            ["change", "region", name @ ..] if !name.is_empty() => {
                let name = name.join(" ");
                let found = match name.as_str() {
                    "root" | ".." | "/" => Some(None),
                    _ => lock(&self.scenes)
                        .iter()
                        .find(|s| s.conf.name == name)
                        .map(|s| Some(s.conf.name.clone())),
                };
                match found {
                    Some(sel) => {
                        *lock(&self.selected) = sel;
                        out(vec![format!(
                            "Currently selected region is {}",
                            self.selected_name()
                        )])
                    }
                    None => out(vec![format!("Couldn't select region {name}")]),
                }
            }
            ["change", "region"] => out(vec!["Usage: change region <region name>".into()]),
            ["help", ..] => out([
                "alert <message> - Send an alert to everyone",
                "alert-user <first> <last> <message> - Send an alert to a user",
                "change region <region name> - Change current console region",
                "quit - Quit the application",
                "show regions - Show region data",
                "show users [full] - Show user data for users currently on the region",
                "shutdown - Quit the application",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()),
            _ => out(vec!["Invalid command".into()]),
        }
    }

    /// `show regions`: a ConsoleDisplayTable (columns padded, two spaces apart), then
    /// the blank line of its final newline.
    fn show_regions(&self) -> Vec<String> {
        let widths = [20, 36, 11, 11, 5, 6, 20];
        let row = |cells: [String; 7]| -> String {
            cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
        };
        let mut lines = vec![row([
            "Name", "ID", "Position", "Size", "Port", "Ready?", "Estate",
        ]
        .map(String::from))];
        for s in lock(&self.scenes).iter() {
            let r = &s.conf;
            lines.push(row([
                r.name.clone(),
                r.uuid.clone(),
                format!("{},{}", r.x, r.y),
                format!("{}x{}", r.size_x, r.size_y),
                r.internal_port.to_string(),
                "Yes".into(),
                s.estate.clone(),
            ]));
        }
        lines.push(String::new());
        lines
    }
}

/// RegionInfo.ReadNiniConfig for section `name` of `file`: a key that is missing is asked
/// on the console (not written back, unlike the real one, except by the wizard).
fn read_region(name: &str, file: &Ini, creating_new: bool, console: &mut SimConsole) -> RegionConf {
    let get = |k: &str| file.get(name, k).map(str::trim).map(str::to_string);
    let mut uuid = get("RegionUUID").unwrap_or_default();
    if !crate::commands::is_uuid(&uuid) || uuid == ZERO_UUID {
        let suggested = random_uuid();
        loop {
            uuid = prompt(console, "RegionUUID", Some(&suggested), &[]);
            if crate::commands::is_uuid(uuid.trim()) && uuid.trim() != ZERO_UUID {
                break;
            }
            log::console_line("RegionUUID must be a valid UUID");
        }
    }
    let location = get("Location")
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| prompt(console, "Region Location", Some("1000,1000"), &[]));
    let coord = |s: Option<&str>| s.and_then(|v| v.trim().parse::<u32>().ok());
    let mut parts = location.split(',');
    let (Some(x), Some(y)) = (coord(parts.next()), coord(parts.next())) else {
        log::fatal(&format!(
            "Fatal error: System.FormatException: Input string was not in a correct format. (Location = {location} in region {name})"
        ));
        console::sim_close();
        std::process::exit(1);
    };
    let size = |k: &str| get(k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(256);
    if get("InternalAddress").is_none() {
        prompt(console, "Internal IP address", Some("0.0.0.0"), &[]);
    }
    let internal_port = get("InternalPort")
        .unwrap_or_else(|| prompt(console, "Internal port", Some("9000"), &[]))
        .parse::<u16>()
        .unwrap_or(9000);
    if creating_new && get("ResolveAddress").is_none() {
        prompt(
            console,
            "Resolve hostname to IP on start (for running inside Docker)",
            Some("False"),
            &[],
        );
    }
    let mut external_host = get("ExternalHostName")
        .unwrap_or_else(|| prompt(console, "External host name", Some("SYSTEMIP"), &[]));
    if external_host == "SYSTEMIP" {
        external_host = "127.0.0.1".into();
        log::info(&format!(
            "[REGIONINFO]: Resolving SYSTEMIP to {external_host} for external hostname of region {name}"
        ));
    }
    RegionConf {
        name: name.to_string(),
        uuid: uuid.trim().to_ascii_lowercase(),
        x,
        y,
        size_x: size("SizeX"),
        size_y: size("SizeY"),
        internal_port,
        external_host,
    }
}

/// `shutdown`, `quit`, Ctrl-C and SIGINT: each region closed and deregistered in turn
/// (the real one takes about 3.5 s a region: the `StopDelayMs` knob), the PID file
/// removed, exit 0. Ignored while hung after a failed registration.
pub fn shutdown() {
    let Some(sim) = SIM.get() else {
        std::process::exit(0);
    };
    if sim.hung.load(Ordering::SeqCst) {
        return;
    }
    log::info("[SHUTDOWN]: Closing all threads");
    if sim.knobs.ignore_shutdown || sim.stopping.swap(true, Ordering::SeqCst) {
        return;
    }
    log::info("[SHUTDOWN]: Killing listener thread");
    log::info("[SHUTDOWN]: Killing clients");
    log::info("[SHUTDOWN]: Closing console and terminating");
    let scenes = lock(&sim.scenes).clone();
    let uri = format!("{}/grid", sim.grid_uri);
    for s in &scenes {
        let r = &s.conf;
        log::info(&format!(
            "[SCENE]: Closing down the single simulator: {}",
            r.name
        ));
        log::debug(&format!(
            "[GRID SERVICE]: Deregistering region {} ({}) at {}-{}",
            r.name, r.uuid, r.x, r.y
        ));
        let body = grid::form_encode(&[("REGIONID", &r.uuid), ("METHOD", "deregister")]);
        let done = match client::post_form(&sim.resolver, &uri, &body) {
            Ok(reply) => {
                grid::xml_tag(&reply, "Result").is_some_and(|x| x.eq_ignore_ascii_case("success"))
            }
            Err(f) => {
                log::info(&f.forms_line(&uri));
                log::debug(&format!(
                    "[GRID CONNECTOR]: Exception when contacting grid server at {uri}: {f}"
                ));
                false
            }
        };
        if !done {
            log::warn(&format!(
                "[SCENE]: Deregister from grid failed for region {}",
                r.name
            ));
        }
        log::info(&format!("[SHUTDOWN]: Shutting down region {}", r.name));
        std::thread::sleep(Duration::from_millis(sim.knobs.stop_delay_ms));
    }
    log::info("[SHUTDOWN]: Shutdown processing on main thread complete.  Exiting...");
    if let Some(p) = &sim.pid_file {
        let _ = std::fs::remove_file(p);
    }
    console::sim_close();
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_argument_selects_the_mode() {
        assert!(selects("OpenSim.exe"));
        assert!(selects("/opt/os/bin/OpenSim.dll"));
        assert!(!selects("Robust.exe"));
        assert!(!selects("-inifile=OpenSim.exe"));
    }
}
