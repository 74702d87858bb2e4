//! gridctl-wire: what the CLI and a holder share, and nothing else — the framed,
//! versioned socket protocol ([`protocol`]), the instance spec ([`spec`]), and the one
//! way both write durations and times for people ([`human`]).
//!
//! Both sides check [`protocol::PROTOCOL_VERSION`] on every connection (`Hello` →
//! `Welcome` or an `Error` naming both versions), so a CLI and a holder of different
//! versions refuse each other instead of misreading each other.

pub mod human;
pub mod protocol;
pub mod spec;
pub mod terminal;
