//! A command's result: the diagnostics to print and the exit code (documented in `gridctl --help`).

use gridctl_config::diagnostic::Diagnostic;
use std::io::Write;

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INVALID: i32 = 3;
/// `send`: the console stopped at a question and waits for an answer.
pub const EXIT_WAITING: i32 = 4;

/// A command's failure: what to print, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub diagnostics: Vec<Diagnostic>,
    pub code: i32,
}

impl Failure {
    pub fn invalid(d: Vec<Diagnostic>) -> Failure {
        Failure {
            diagnostics: d,
            code: EXIT_INVALID,
        }
    }
    pub fn failed(d: Diagnostic) -> Failure {
        Failure {
            diagnostics: vec![d],
            code: EXIT_FAILED,
        }
    }
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Failure {
        Failure::invalid(vec![d])
    }
}

pub type Outcome = Result<(), Failure>;

pub fn print_diagnostics(ds: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for d in ds {
        let _ = writeln!(err, "{d}\n");
    }
}
