//! gridctl: run an OpenSimulator grid's Robust services as many small supervised
//! instances, from one manifest (`grid.toml`).
//!
//! Pipeline (design.md §2): manifest → plan → rendered files → processes.
//! Each instance runs under its own detached holder process that owns its PTY.

// Manifest → plan → files.
pub mod atomic;
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

// Processes: the holder side.
pub mod console;
pub mod holder;
pub mod protocol;
pub mod readiness;
pub mod spec;
pub mod spool;
pub mod supervise;

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
