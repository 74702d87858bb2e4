//! gridctl: run an OpenSimulator grid's Robust services as many small supervised
//! instances, from one manifest (`grid.toml`).
//!
//! Pipeline (design.md §2): manifest → plan → rendered files → processes.
//! Each instance runs under its own detached holder process that owns its PTY.

// Manifest → plan → files.
pub use gridctl_holder::atomic;
pub mod catalog;
pub mod diagnostic;
pub mod ini;
pub mod log4net;
pub mod manifest;
pub mod nginx;
pub mod plan;
pub mod planner;
pub mod render;
pub mod templates;
pub mod wiring;

// Processes: the holder side, in its own crates (crates/gridctl-wire, crates/gridctl-holder),
// re-exported under their old paths.
pub use gridctl_holder::{console, holder, readiness, spool, supervise};
pub use gridctl_wire::{protocol, spec};

// Processes: the CLI side.
pub mod app;
pub mod attach;
pub mod check;
pub mod cli;
pub mod client;
pub mod converge;
pub mod dashboard;
pub mod docs;
pub mod live;
pub mod load;
pub mod lock;
pub mod operate;
pub mod outcome;
pub mod procstat;
pub mod reconcile;
pub mod scale;
pub mod status;
