//! `gridctl`: a thin binary over the library (all logic lives in `gridctl::*`).

use clap::Parser;

fn main() {
    // First, before anything is printed: a shell asking for completions (COMPLETE=...)
    // gets them and the process exits here.
    gridctl::cli::complete_from_env();
    let cli = gridctl::cli::Cli::parse();
    std::process::exit(gridctl::app::run(cli));
}
