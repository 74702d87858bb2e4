//! The reconciler: plan + what the holders (and nginx) report → ordered steps → execution.
//!
//! Data flows one way: [`observe`] reads the running grid (acting on nothing), [`diff`]
//! turns plan and observation into [`step::Step`]s with a reason each (pure), and
//! [`execute`] runs them, emitting [`events::Event`]s that [`print`] (or `--json`, or a
//! progress display) consumes. [`holders`] and [`upstream`] are the single-copy and nginx
//! operations the executor calls.

pub mod diff;
pub mod estate;
pub mod events;
pub mod execute;
pub mod holders;
pub mod json;
pub mod observe;
pub mod print;
pub mod step;
pub mod surge;
pub mod upstream;

pub use holders::*;
