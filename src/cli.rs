//! The command-line interface: the clap definitions, which are also the source of the man
//! pages and static completions (`gridctl gen-docs`), so help texts matter; and the entry
//! point of dynamic completion, whose name candidates live in `cli/complete.rs`.

use clap::{Args, CommandFactory, Parser, Subcommand, ValueHint};
use std::path::PathBuf;

mod complete;

/// Answers a shell's completion request (`COMPLETE=bash gridctl -- gridctl attach a`:
/// the protocol of clap_complete's `CompleteEnv`, whose registration script
/// `COMPLETE=bash gridctl` prints) and exits; on a normal run it returns at once.
pub fn complete_from_env() {
    clap_complete::CompleteEnv::with_factory(completion_command).complete();
}

/// The command as completions (dynamic and static) see it: hidden commands and options
/// (`gen-docs`, `nginx sync`) are not there at all.
pub fn completion_command() -> clap::Command {
    complete::visible_only(&Cli::command())
}

/// Run an OpenSimulator grid's Robust services as many small supervised instances.
///
/// One manifest (grid.toml) declares roles (sets of Robust services run together), how
/// many copies of each, ports and hostnames. gridctl renders every copy's config tree
/// and the nginx front, runs each copy on its own PTY under a detached holder, and gives
/// screen-like console access.
///
/// Exit status: 0 success; 1 the operation failed (an instance did not become ready,
/// nginx rejected its config, a holder did not answer); 2 bad command-line usage;
/// 3 the manifest or the rendered configuration is invalid (see `gridctl check`);
/// 4 `send`: the console is waiting for an answer to a question.
#[derive(Debug, Parser)]
#[command(
    name = "gridctl",
    version,
    max_term_width = 100,
    mut_subcommand("logs", logs_file_option)
)]
pub struct Cli {
    /// The grid manifest; before or after the command (`gridctl -f grid.toml up`,
    /// `gridctl up -f grid.toml`; after `logs`, `-f` means --follow: use --file there).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        default_value = "grid.toml",
        env = "GRIDCTL_FILE",
        global = true,
        value_hint = ValueHint::FilePath
    )]
    pub file: PathBuf,

    /// Print nothing but errors (failures and stop escalations still go to stderr).
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,

    /// Plain timestamped progress lines even on a terminal (no live display).
    #[arg(long, global = true)]
    pub no_progress: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented grid.toml with a sensible split (core + asset + inventory copies).
    Init(InitArgs),
    /// Validate grid.toml and the configuration it renders; print diagnostics.
    Check,
    /// Show every instance: role, services, ports, hostnames (and the exact command line with --json).
    Plan {
        /// Machine-readable output, including each instance's command line and environment (secrets redacted).
        #[arg(long)]
        json: bool,
    },
    /// Write every instance's config tree into the state directory.
    Render,
    /// Print the nginx config of the whole grid (or write it atomically with -o).
    RenderNginx {
        /// Write to this file instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Print the GridCommon.ini-style snippet simulators use to reach this grid.
    RenderSimulator,
    /// Start what is missing, leave healthy instances alone, restart copies whose config changed.
    ///
    /// The first copy of every role starts alone and is waited for (dependencies first) before
    /// its siblings, so copies never race on an empty database's migrations.
    Up {
        /// Wait until every started instance is ready; exit 1 naming those that are not.
        #[arg(long)]
        wait: bool,
        /// Print the steps (each with its reason) without acting: nothing starts, stops or is written.
        #[arg(long)]
        dry_run: bool,
        /// Steps (with --dry-run) or events as JSON lines instead of progress lines.
        #[arg(long)]
        json: bool,
        /// Roles or instances (default: the whole grid, and undeclared instances are stopped).
        #[arg(add = complete::targets())]
        names: Vec<String>,
    },
    /// Stop instances gracefully (console `shutdown`, then signals), dependants first.
    Down {
        /// Print the steps (each with its reason) without acting.
        #[arg(long)]
        dry_run: bool,
        /// Steps (with --dry-run) or events as JSON lines instead of progress lines.
        #[arg(long)]
        json: bool,
        /// Roles or instances (default: the whole grid).
        #[arg(add = complete::targets())]
        names: Vec<String>,
    },
    /// Every instance: state, pid, ports, operator restarts and crashes, uptime, CPU%, RSS, what it is doing.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// The live console of an instance; detach with the detach key, the instance keeps running.
    ///
    /// Needs a terminal on stdin and stdout; scripts use `gridctl send` and `gridctl logs -f`.
    Attach {
        /// Instance name, e.g. inventory-2.
        #[arg(add = complete::instances())]
        instance: String,
        /// Watch only: typed keys are not sent to the console.
        #[arg(long)]
        read_only: bool,
        /// Detach sequence: `ctrl-]` (default), `ctrl-a d`, `ctrl-X`; press it twice to send it.
        #[arg(long, default_value = "ctrl-]", env = "GRIDCTL_DETACH_KEY")]
        detach_key: String,
        /// Pass the console's clipboard writes (OSC 52) and terminal queries (an OSC
        /// ending in `?`, DCS) to this terminal; by default they are dropped, as are C1
        /// controls always.
        #[arg(long)]
        allow_terminal_queries: bool,
    },
    /// Type a line into a console and print what it answered.
    ///
    /// Some commands ask questions (`create user` without its arguments asks for a
    /// first name, a password, ...). The console counts as waiting at a question when
    /// the line under its cursor ends in `: ` or `? `, is not the prompt and not a log
    /// line, and nothing more is printed for 300 ms. Each time it asks, the next answer
    /// is typed: answers are the lines after the first of LINE ("create user\nTest\nUser")
    /// and then every --answer, in order. With no answer left, send stops at once,
    /// prints the question and exits 4; the question stays open, so a later
    /// `gridctl send INSTANCE ANSWER` answers it. Answers are never typed at the prompt
    /// (they would run as commands): unused ones are reported. An empty LINE is
    /// refused; with no LINE, the first --answer is typed at once (`--answer ''` takes a
    /// question's default with just Enter).
    Send {
        /// Instance name (or use --role).
        #[arg(required_unless_present = "role", add = complete::instances())]
        instance: Option<String>,
        /// The console line, e.g. "show uptime" (words are joined with spaces; further
        /// lines, after newlines, are answers).
        line: Vec<String>,
        /// An answer to type when the console asks a question; repeat it for each
        /// question, in order ("" answers with just Enter).
        #[arg(short = 'a', long = "answer", value_name = "TEXT")]
        answers: Vec<String>,
        /// Send to every copy of this role (then every positional word is the line).
        #[arg(long, add = complete::roles())]
        role: Option<String>,
        /// Give up waiting for the answer after this long.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
    /// Print an instance's console log (ANSI stripped); -f follows it.
    Logs {
        /// Instance name, e.g. asset-2.
        #[arg(add = complete::instances())]
        instance: String,
        /// Keep printing new lines as they come.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Lines from the end to show first.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
    },
    /// Graceful stop + start of instances (re-reading their rendered config).
    Restart {
        /// One copy at a time: out of its upstream, drain, restart, ready, back in; the role
        /// keeps serving. A role's only serving copy gets a temporary second copy first
        /// (surge); a role that must run as one copy (presence, griduser caches) restarts
        /// in place, and says so before acting.
        #[arg(long)]
        rolling: bool,
        /// Before restarting simulators, type OpenSim's `alert` into their consoles as a
        /// countdown of this length (e.g. "5m": at 5m, 2m, 1m, 30s and 10s left), so
        /// the users in their regions see it coming.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        notify: Option<std::time::Duration>,
        /// Print the steps (each with its reason) without acting.
        #[arg(long)]
        dry_run: bool,
        /// Steps (with --dry-run) or events as JSON lines instead of progress lines.
        #[arg(long)]
        json: bool,
        /// Roles, instances or simulators.
        #[arg(required = true, add = complete::targets())]
        names: Vec<String>,
    },
    /// Set how many copies roles run (written into grid.toml, comments kept); start or stop only those copies.
    ///
    /// Scale up: start the copy, wait ready, add it to the upstream, reload nginx.
    /// Scale down: mark it down, reload, drain, stop it gracefully, remove it. Copies are
    /// never renumbered: 4 -> 2 removes the copies 4 and 3. When nothing of the grid runs
    /// on this host (it runs on a cluster, or is down), only grid.toml changes.
    Scale {
        /// Print the steps (each with its reason) without acting; grid.toml is not written.
        #[arg(long)]
        dry_run: bool,
        /// ROLE=COUNT, e.g. asset=4 inventory=2.
        #[arg(required = true, add = complete::scale_requests())]
        requests: Vec<String>,
    },
    /// Live dashboard: every instance by role, its console, keys to restart, stop, start, scale.
    Top,
    /// Inside a container: run one copy as the container's main process.
    Pod {
        #[command(subcommand)]
        action: PodAction,
    },
    /// Readiness probe: exit 0 when the instance's holder says `ready`, 1 otherwise (one line why).
    ///
    /// Asks the holder on its socket and gives up after 2 s, so it never hangs a
    /// kubelet's probe. Exit 3 for a name the manifest does not have.
    Probe {
        /// Instance name, e.g. core-1; default `$POD_NAME`, else the hostname (as `pod run`),
        /// so one probe command serves every pod of a StatefulSet.
        #[arg(add = complete::instances())]
        instance: Option<String>,
    },
    /// Write the grid as Kubernetes objects (and a Containerfile) for `kubectl apply`.
    Export {
        #[command(subcommand)]
        target: ExportTarget,
    },
    /// Drive the nginx front.
    Nginx {
        #[command(subcommand)]
        action: NginxAction,
    },
    /// Generate man pages and shell completions from these definitions.
    #[command(hide = true)]
    GenDocs {
        /// Output directory (man pages go to DIR/, completions to DIR/completions/).
        #[arg(long, default_value = "man")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum NginxAction {
    /// Render the nginx config, test it, install it atomically (keeping the previous one) and reload.
    Reload,
    /// Re-render membership from what the holders report; install and reload if it changed
    /// (run by a holder when its copy crashes or is ready again; not for direct use).
    #[command(hide = true)]
    Sync {
        /// Give up after this many seconds waiting for another command's grid lock.
        #[arg(long, default_value_t = 60)]
        lock_wait: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportTarget {
    /// Per role a StatefulSet (one pod per copy), a ClusterIP and a headless Service;
    /// one ConfigMap (grid.toml and templates); Ingresses; a Containerfile.
    ///
    /// Values come from grid.toml's [kubernetes] table; --namespace and --image override
    /// it. The database connection is read from a Secret by reference (create it with
    /// `kubectl create secret generic robust-db --from-literal=connection=...`); its value
    /// is never written. Only files an export writes are replaced; role files of roles no
    /// longer in grid.toml are removed. Output is deterministic, so it diffs in git.
    Kubernetes {
        /// Output directory (created when missing).
        #[arg(short = 'o', long = "output", value_name = "DIR", value_hint = ValueHint::DirPath)]
        output: PathBuf,
        /// Namespace of every object (a DNS-1123 label); overrides [kubernetes] namespace.
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
        /// Image the pods run; overrides [kubernetes] image.
        #[arg(long, value_name = "IMAGE")]
        image: Option<String>,
        /// Overwrite files of the same names that an export did not write (a
        /// Containerfile of your own, say); without it such a file stops the export.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PodAction {
    /// Render only this instance's tree, then exec its holder in the foreground (PID 1).
    ///
    /// The holder runs Robust on a PTY, prints the console on stdout (ANSI stripped, as
    /// the console log has it), serves its socket (attach, send, status and probe work
    /// through `kubectl exec`), stops Robust gracefully on SIGTERM and exits with how
    /// Robust ended: 0 after a `shutdown` it obeyed, its own code, or 128 + the signal
    /// that ended it (143 after SIGTERM, 137 after SIGKILL); 1 if it never ran.
    Run {
        /// Instance name, e.g. core-1 (default: $POD_NAME, else the hostname).
        #[arg(add = complete::instances())]
        instance: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The Robust bin/ directory of your OpenSim install.
    #[arg(long)]
    pub bin_dir: PathBuf,
    /// The grid's name.
    #[arg(long, default_value = "My Grid")]
    pub name: String,
    /// Public base domain: services answer on <service>.<domain>.
    #[arg(long, default_value = "grid.example.org")]
    pub domain: String,
    /// Also declare this many region simulators, one region each (ports 9000, 9010, ...).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub simulators: u32,
    /// The simulators' estate owner, "First Last": an existing user of the grid.
    #[arg(long, default_value = "Grid Owner")]
    pub estate_owner: String,
    /// Overwrite an existing manifest.
    #[arg(long)]
    pub force: bool,
}

/// `logs` keeps `-f` for --follow (as `tail -f`), so the global `-f/--file` cannot reach
/// it; it gets a `--file` of its own instead. It has the global option's id, so clap
/// skips propagating the global there and hands its value up to [`Cli::file`] all the same.
fn logs_file_option(logs: clap::Command) -> clap::Command {
    logs.arg(
        clap::Arg::new("file")
            .long("file")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .value_hint(ValueHint::FilePath)
            .help("The grid manifest (as gridctl -f; here -f is --follow)"),
    )
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::manifest::parse_duration(s)
}
