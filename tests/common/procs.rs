//! Processes through /proc, and killing them: always one pid at a time, and only pids a
//! test started (checked against their command line, since pids get reused).
#![allow(dead_code)] // each test crate uses a different subset

use std::collections::BTreeSet;
use std::sync::Mutex;

/// The command line of a live (non-zombie) process, NUL separators as spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name.
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&raw)
            .replace('\0', " ")
            .trim_end()
            .to_string(),
    )
}

/// Whether `pid` is a live (non-zombie) process.
pub fn alive(pid: u32) -> bool {
    cmdline(pid).is_some()
}

/// Sends `sig` to exactly one pid.
pub fn kill(pid: u32, sig: i32) -> bool {
    let Ok(sig) = nix::sys::signal::Signal::try_from(sig) else {
        return false;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).is_ok()
}

/// SIGKILL to exactly one pid.
pub fn kill_pid(pid: u32) {
    kill(pid, libc::SIGKILL);
}

/// SIGKILL to `pid`, but only while its command line still contains `needle` (never a
/// reused pid). Whether it was sent.
pub fn kill_if_naming(pid: u32, needle: &str) -> bool {
    cmdline(pid).is_some_and(|c| c.contains(needle)) && kill(pid, libc::SIGKILL)
}

/// Live processes (other than this one) whose command line contains `needle`, sorted.
pub fn processes_naming(needle: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Some(cmd) = cmdline(pid) {
            if cmd.contains(needle) {
                out.push((pid, cmd));
            }
        }
    }
    out.sort();
    out
}

/// The direct children of `pid` (every thread's).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    out
}

/// The pids a test has seen start (CLIs, holders, Robust fakes), and the string every
/// process it starts names on its command line (its unique scratch directory). The
/// owner's `Drop` calls [`Pids::kill_recorded`] or [`Pids::kill_all`].
pub struct Pids {
    needle: String,
    set: Mutex<BTreeSet<u32>>,
}

impl Pids {
    pub fn new(needle: impl Into<String>) -> Pids {
        Pids {
            needle: needle.into(),
            set: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn needle(&self) -> &str {
        &self.needle
    }

    pub fn record(&self, pid: u32) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid);
    }

    pub fn recorded(&self) -> Vec<u32> {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect()
    }

    /// Live processes naming the needle.
    pub fn live(&self) -> Vec<(u32, String)> {
        processes_naming(&self.needle)
    }

    /// SIGKILLs every recorded pid that still names the needle.
    pub fn kill_recorded(&self) {
        for pid in self.recorded() {
            kill_if_naming(pid, &self.needle);
        }
    }

    /// [`Pids::kill_recorded`], then SIGKILL of every live process naming the needle.
    pub fn kill_all(&self) {
        self.kill_recorded();
        for (pid, _) in self.live() {
            kill_if_naming(pid, &self.needle);
        }
    }
}
