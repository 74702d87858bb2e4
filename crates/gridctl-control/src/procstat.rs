//! Per-process CPU and memory from /proc (Linux), for `status` and the dashboard.

use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
    /// Process start, in clock ticks since boot.
    pub start_ticks: u64,
}

pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Reads /proc/<pid>/stat and statm; `None` when the process is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field numbers from proc(5), minus 3 for pid, comm and the split.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let start: u64 = fields.get(19)?.parse().ok()?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let rss_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(ProcSample {
        cpu_ticks: utime + stime,
        rss_bytes: rss_pages * page_size(),
        start_ticks: start,
    })
}

/// CPU% between two samples taken `elapsed` apart (100 = one full core).
pub fn cpu_percent(before: &ProcSample, after: &ProcSample, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 || after.cpu_ticks < before.cpu_ticks {
        return 0.0;
    }
    (after.cpu_ticks - before.cpu_ticks) as f64 / ticks_per_second() as f64 / secs * 100.0
}

/// Average CPU% over the process's lifetime (what `ps` shows), for one-shot `status`.
pub fn lifetime_cpu_percent(s: &ProcSample) -> Option<f64> {
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let age = uptime - s.start_ticks as f64 / ticks_per_second() as f64;
    (age > 0.0).then(|| s.cpu_ticks as f64 / ticks_per_second() as f64 / age * 100.0)
}

pub fn format_bytes(b: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if b as f64 >= 1024.0 * MIB {
        format!("{:.1}G", b as f64 / (1024.0 * MIB))
    } else {
        format!("{:.1}M", b as f64 / MIB)
    }
}

pub fn format_uptime(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss_bytes > 0);
    }

    #[test]
    fn formats() {
        assert_eq!(format_uptime(Duration::from_secs(75)), "1m15s");
        assert_eq!(format_bytes(3 * 1024 * 1024), "3.0M");
    }
}
