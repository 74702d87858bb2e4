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

/// Reads /proc/<pid>/stat (one read: `status` samples a thousand copies); `None` when
/// the process is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = read_proc(&format!("/proc/{pid}/stat"))?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field numbers from proc(5), minus 3 for pid, comm and the split.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let start: u64 = fields.get(19)?.parse().ok()?;
    // rss (24): the same count of pages as statm's second field.
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    Some(ProcSample {
        cpu_ticks: utime + stime,
        rss_bytes: rss_pages * page_size(),
        start_ticks: start,
    })
}

/// Resident set size alone, from /proc/<pid>/statm (cheaper than the whole stat).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = read_proc(&format!("/proc/{pid}/statm"))?;
    let rss_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(rss_pages * page_size())
}

/// A small /proc file in one read: open, read, close. (`fs::read_to_string` also
/// stats the file and reads again to see the end: two syscalls more, per process.)
/// A /proc record shorter than the buffer comes whole in the first read.
fn read_proc(path: &str) -> Option<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1024];
    let mut len = 0;
    loop {
        let n = f.read(&mut buf[len..]).ok()?;
        len += n;
        if n == 0 || len < buf.len() {
            break;
        }
        buf.resize(buf.len() * 2, 0);
    }
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

/// Seconds since boot (/proc/uptime), read once per `status` rather than per row.
pub fn uptime_secs() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
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
    lifetime_cpu_percent_at(s, uptime_secs()?)
}

/// [`lifetime_cpu_percent`] with the system's uptime already read.
pub fn lifetime_cpu_percent_at(s: &ProcSample, uptime: f64) -> Option<f64> {
    let age = uptime - s.start_ticks as f64 / ticks_per_second() as f64;
    (age > 0.0).then(|| s.cpu_ticks as f64 / ticks_per_second() as f64 / age * 100.0)
}

/// `180.5M`, `1.2G`: at most six characters below 100 GiB (from 1000 MiB on in GiB).
pub fn format_bytes(b: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if b as f64 >= 1000.0 * MIB {
        format!("{:.1}G", b as f64 / (1024.0 * MIB))
    } else {
        format!("{:.1}M", b as f64 / MIB)
    }
}

/// Uptime for a narrow column: humantime's words (as `gridctl_wire::human` writes
/// every duration), whole seconds, the largest unit and the next one while that fits
/// in six characters: `45s`, `1m 15s`, `59m`, `1h 2m`, `12h`, `3days`.
pub fn format_uptime(d: Duration) -> String {
    let full = gridctl_wire::human::duration(Duration::from_secs(d.as_secs()));
    let mut parts = full.split(' ');
    let mut out = parts.next().unwrap_or_default().to_string();
    if let Some(next) = parts.next() {
        if out.len() + 1 + next.len() <= UPTIME_WIDTH {
            out.push(' ');
            out.push_str(next);
        }
    }
    out
}

/// The widest [`format_uptime`] with two units (top's column).
const UPTIME_WIDTH: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss_bytes > 0);
        // stat's rss and statm's are the same count of pages.
        let statm = rss_bytes(std::process::id()).expect("own statm");
        assert!(statm > 0);
        assert!(uptime_secs().expect("/proc/uptime") > 0.0);
    }

    #[test]
    fn formats() {
        assert_eq!(format_uptime(Duration::from_secs(45)), "45s");
        assert_eq!(format_uptime(Duration::from_secs(75)), "1m 15s");
        assert_eq!(format_uptime(Duration::from_secs(3_599)), "59m");
        assert_eq!(format_uptime(Duration::from_secs(3_725)), "1h 2m");
        assert_eq!(format_uptime(Duration::from_secs(45_000)), "12h");
        assert_eq!(
            format_uptime(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3days"
        );
        assert_eq!(format_bytes(3 * 1024 * 1024), "3.0M");
        assert_eq!(format_bytes(1010 * 1024 * 1024), "1.0G");
    }
}
