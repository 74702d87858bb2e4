//! gridctl-files: the bottom layer — how every gridctl process writes a file (atomically).
//! Shared by the holder (pid files) and the configuration layer (rendered trees), which
//! must not depend on each other.

pub mod atomic;
