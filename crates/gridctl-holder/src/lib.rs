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
/// (`holder::launch`), never by hand; or `gridctl-holder --foreground --spec <path>`,
/// exec'd by `gridctl pod run` as a container's PID 1. Returns the process exit code.
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let spec = |i: usize| std::path::Path::new(&args[i]);
    match args.len() {
        2 if args[0] == "--spec" => holder::run_holder_command(spec(1)),
        3 if args[0] == "--foreground" && args[1] == "--spec" => {
            holder::run_foreground_command(spec(2))
        }
        3 if args[0] == "--spec" && args[2] == "--foreground" => {
            holder::run_foreground_command(spec(1))
        }
        _ => {
            eprintln!(
                "error: usage: gridctl-holder --spec <holder.json> (started by `gridctl up`, not by hand)\n       gridctl-holder --foreground --spec <holder.json> (exec'd by `gridctl pod run` in a container)"
            );
            2
        }
    }
}
