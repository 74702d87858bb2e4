//! gridctl: the CLI and dashboard — the top layer over the workspace's crates.
//!
//! Layers, bottom to top (docs/architecture.md draws them):
//! - `gridctl-files` (atomic writes) and `gridctl-wire` (wire protocol, instance spec);
//! - `gridctl-holder`: the small per-instance holder binary;
//! - `gridctl-config`: grid.toml → plan → rendered files;
//! - `gridctl-control`: observe → diff → steps → execute, nginx, the lock;
//! - `gridctl-kube`: `export kubernetes`, the cluster plan as typed Kubernetes objects;
//! - this crate: argument parsing, output, attach and the dashboard.
//!
//! The lower crates' modules are re-exported here under the paths they have always
//! had (`gridctl::plan`, `gridctl::reconcile`, ...), so tests and tools keep one import root.

pub use gridctl_config::{
    catalog, check, cluster, diagnostic, ini, log4net, manifest, plan, planner, render, scale,
    templates, wiring,
};
pub use gridctl_control::{
    client, converge, live, load, lock, nginx, outcome, procstat, reconcile, status,
};
pub use gridctl_files::atomic;
pub use gridctl_holder::{console, holder, readiness, spool, supervise};
pub use gridctl_wire::{protocol, spec};

// The CLI itself.
pub mod app;
pub mod attach;
pub mod cli;
pub mod dashboard;
pub mod docs;
pub mod export;
pub mod operate;
pub mod pod;
pub mod progress;
pub mod stdout;
