//! What the commands print on standard output. A reader that goes away
//! (`gridctl status | head -1`, a closed stdin of the next command) ends a command
//! that only reports quietly, exit 0, as a Unix filter does; `print!` would panic.

use std::io::Write;

/// Writes `text` to standard output; a closed pipe ends the process with exit 0, any
/// other write error is ignored (there is nowhere left to say it).
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// `print!` that never panics (see [`print`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::print(&format!($($arg)*))
    };
}

/// `println!` that never panics (see [`print`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::stdout::print("\n")
    };
    ($($arg:tt)*) => {
        $crate::stdout::print(&format!("{}\n", format_args!($($arg)*)))
    };
}
