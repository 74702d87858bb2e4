//! `gridctl top`: the live dashboard (being written).

use crate::app::{Failure, Outcome};
use crate::diagnostic::Diagnostic;
use std::path::Path;

pub fn run(_file: &Path) -> Outcome {
    Err(Failure::failed(Diagnostic::error("the dashboard is not built yet")))
}
