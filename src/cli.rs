//! The command-line interface: clap definitions only. They are also the source of the
//! man pages and shell completions (`gridctl gen-docs`), so help texts matter.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Run an OpenSimulator grid's Robust services as many small supervised instances.
///
/// One manifest (grid.toml) declares roles (sets of Robust services run together), how
/// many copies of each, ports and hostnames. gridctl renders every copy's config tree
/// and the nginx front, runs each copy on its own PTY under a detached holder, and gives
/// screen-like console access.
///
/// Exit status: 0 success; 1 the operation failed (an instance did not become ready,
/// nginx rejected its config, a holder did not answer); 2 bad command-line usage;
/// 3 the manifest or the rendered configuration is invalid (see `gridctl check`).
#[derive(Debug, Parser)]
#[command(name = "gridctl", version, max_term_width = 100)]
pub struct Cli {
    /// The grid manifest.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        default_value = "grid.toml",
        env = "GRIDCTL_FILE"
    )]
    pub file: PathBuf,

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
    /// Generate man pages and shell completions from these definitions.
    #[command(hide = true)]
    GenDocs {
        /// Output directory (man pages go to DIR/, completions to DIR/completions/).
        #[arg(long, default_value = "man")]
        out: PathBuf,
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
    /// Overwrite an existing manifest.
    #[arg(long)]
    pub force: bool,
}
