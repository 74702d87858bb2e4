//! gridctl-holder: one detached process per instance that owns the instance's PTY,
//! child, console log and control socket (design.md §3). Small on purpose: nothing
//! of templates, the manifest, the planner or the dashboard lives here.

// The wire types and atomic writes, under the paths the holder modules have always used.
pub use gridctl_files::atomic;
pub use gridctl_wire::{protocol, spec};

pub mod console;
pub mod holder;
pub(crate) mod hub;
pub mod readiness;
pub mod spool;
pub mod supervise;

/// The `gridctl-holder` binary: `gridctl-holder --spec <path>`, started by the CLI
/// (`holder::launch`), never by hand. Returns the process exit code.
pub fn main() -> i32 {
    let mut args = std::env::args_os().skip(1);
    match (args.next(), args.next(), args.next()) {
        (Some(flag), Some(path), None) if flag == "--spec" => {
            holder::run_holder_command(std::path::Path::new(&path))
        }
        _ => {
            eprintln!(
                "error: usage: gridctl-holder --spec <holder.json> (started by `gridctl up`, not by hand)"
            );
            2
        }
    }
}
