//! gridctl-config: the configuration layer — grid.toml in, a plan and rendered files out.
//! Pure with respect to processes: nothing here starts, signals or talks to one.
//!
//! Data flows one way: manifest (parse, spans) → planner (+ catalog, wiring, validate)
//! → plan → render (templates, ini, log4net) → files; `check` runs that whole path
//! into a scratch directory and reports what it found.

// Diagnostics first: every layer above reports through them.
pub mod diagnostic;

// What Robust is: services, connectors, and how roles wire to each other.
pub mod catalog;
pub mod wiring;

// grid.toml → plan.
pub mod cluster;
pub mod manifest;
pub mod plan;
pub mod planner;
pub mod scale;
pub mod simulator;

// plan → files.
pub mod ini;
pub mod log4net;
pub mod render;
pub mod templates;

// The whole path, dry.
pub mod check;
