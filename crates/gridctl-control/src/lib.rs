//! gridctl-control: the control layer — the running grid compared with the plan, and
//! the steps that bring one to the other.
//!
//! Data flows one way: `load` (lock + plan) → `reconcile::observe` (holders via
//! `client`, nginx membership) → `reconcile::diff` → steps → `reconcile::execute`
//! (holders, `nginx`) → events → printer / `--json`. `converge` (up, down, restart)
//! and `live` (scale, nginx sync) are the small callers; `status` reads the same
//! observations for display.

// Shared results and the lock every changing command holds.
pub mod lock;
pub mod outcome;

// Reading the running grid (many copies at once).
pub mod client;
pub mod parallel;
pub mod procstat;
pub mod status;

// nginx: render the front, test it, reload it.
pub mod nginx;

// What simulators' users are told before a restart.
pub mod notify;

// Plan → diff → steps → execute, and its callers.
pub mod converge;
pub mod live;
pub mod load;
pub mod reconcile;
#[cfg(test)]
mod test_grid;
