//! `gridctl`: a thin binary over the library (all logic lives in `gridctl::*`).

use clap::Parser;

fn main() {
    let cli = gridctl::cli::Cli::parse();
    std::process::exit(gridctl::app::run(cli));
}
