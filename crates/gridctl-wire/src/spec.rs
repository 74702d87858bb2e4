//! The instance spec: everything a holder needs to run one Robust copy.
//!
//! The CLI derives it from the plan and writes it as JSON into the instance's
//! directory (`<state>/instances/<name>/holder.json`); the holder reads it at start
//! and again on `restart`, so a restarted copy picks up a re-rendered config.
//! The holder never reads the manifest: this file is the whole contract.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    /// `<role>-<n>`, e.g. `inventory-3`.
    pub name: String,
    pub role: String,
    /// The program to execute (e.g. `dotnet`, `mono`, or the fake Robust's path).
    pub program: String,
    /// Arguments after the program: `Robust.dll -inifile=/abs/Robust.ini -logconfig=/abs/log4net.xml ...`.
    pub args: Vec<String>,
    /// The Robust `bin/` directory: connector DLLs and includes resolve against it.
    pub cwd: PathBuf,
    /// Extra environment for the child (TERM is always among them).
    pub env: Vec<(String, String)>,
    /// The holder's control socket (0600, in a 0700 directory).
    pub socket: PathBuf,
    /// Where the holder writes its own pid (for stale-socket detection).
    pub holder_pid_file: PathBuf,
    /// Plain-text console log, rotated by size.
    pub console_log: PathBuf,
    /// Rotate `console_log` when it passes this many bytes.
    pub log_max_bytes: u64,
    /// How many rotated files to keep (`console.log.1` .. `.N`).
    pub log_keep: u32,
    /// Lines of scrollback kept in memory for attach replay and `send`.
    pub scrollback_lines: usize,
    /// PTY window size; Robust's console misbehaves on 0x0.
    pub rows: u16,
    pub cols: u16,
    /// Robust's own `[Startup] PIDFile` (informational; Robust removes it on a clean stop).
    pub robust_pid_file: PathBuf,
    pub stop: StopPolicy,
    pub restart: RestartPolicy,
    pub readiness: ReadinessSpec,
    /// Content hash of the rendered config tree this spec was written for.
    pub config_hash: String,
    /// gridctl arguments the holder runs (`<dir of gridctl-holder>/gridctl ARGS`, detached, output to
    /// its log) when its child crashes and when the restarted child settles, so nginx
    /// membership follows at once: `-f MANIFEST nginx sync`. Empty when nginx is not
    /// managed (and then not written, so such specs read as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_health_change: Vec<String>,
}

/// Graceful stop: console command, then signals to the process group, each with its own timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopPolicy {
    /// Typed into the console followed by `\r` (Robust: `shutdown`).
    pub command: String,
    pub command_timeout_ms: u64,
    pub sigint_timeout_ms: u64,
    pub sigterm_timeout_ms: u64,
}

/// Crash restarts: capped exponential backoff, reset after a stable run, and a crash-loop stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// A run longer than this resets the backoff and the crash count.
    pub stable_after_ms: u64,
    /// This many crashes within `crash_loop_window_ms` ends in `crash-loop` (no more retries).
    pub crash_loop_count: u32,
    pub crash_loop_window_ms: u64,
}

/// How this instance tells it is ready (robust.md §0b–0c, §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessSpec {
    /// Connector class names expected in `[SERVER]: <Class> loaded successfully` lines,
    /// one per ServiceList entry (e.g. `AssetServiceConnector`).
    pub expected_connectors: Vec<String>,
    /// The console prompt that marks the end of startup, e.g. `R.O.B.U.S.T.# `.
    pub prompt: String,
    /// A real service request that must answer before the instance counts as ready.
    pub probe: Option<Probe>,
    /// Give up waiting (state `degraded`) after this long.
    pub timeout_ms: u64,
    /// Console lines (substrings) that must each appear before the instance is ready:
    /// a simulator's `INITIALIZATION COMPLETE FOR <region> - LOGINS ENABLED`, one per region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_lines: Vec<String>,
    /// Requests that must each answer after `probe` (a simulator: every region found by
    /// the grid service).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_probes: Vec<Probe>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub port: u16,
    /// `GET` or `POST`.
    pub method: String,
    pub path: String,
    /// Body sent with a POST (form-encoded, as Robust's connectors expect).
    pub body: String,
    /// Any status below 500 counts as an answer unless `expect_status` is set.
    pub expect_status: Option<u16>,
    /// The body must not contain this text (Robust answers `<RESULT>False</RESULT>` when broken).
    pub reject_body: Option<String>,
    /// The `Host` header, when the request goes through nginx to a hostname it routes
    /// (default `127.0.0.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The IPv4 address to connect to, when it is not this host's loopback (nginx's
    /// private listener bound to one address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<std::net::Ipv4Addr>,
}

impl Probe {
    /// Where the probe connects: `address`, else 127.0.0.1, at `port`.
    pub fn target(&self) -> std::net::SocketAddr {
        let ip = self.address.unwrap_or(std::net::Ipv4Addr::LOCALHOST);
        std::net::SocketAddr::from((ip, self.port))
    }
}

/// The largest console a holder keeps: what `check` allows for `console_rows` and
/// `console_cols`, and what any client's attach or resize is clamped to. The terminal
/// model holds rows × cols cells: a 65535 × 65535 request grew a holder to 23 GB before.
pub const MAX_ROWS: u16 = 500;
pub const MAX_COLS: u16 = 1000;

/// `rows` × `cols` within 1..=[`MAX_ROWS`] × 1..=[`MAX_COLS`].
pub fn bounded_size(rows: u16, cols: u16) -> (u16, u16) {
    (rows.clamp(1, MAX_ROWS), cols.clamp(1, MAX_COLS))
}

impl InstanceSpec {
    pub fn load(path: &std::path::Path) -> std::io::Result<InstanceSpec> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_a_client_can_send_is_bounded() {
        // The whole u16 × u16 square, sampled densely at the edges.
        let edges = [
            0u16, 1, 2, 9, 10, 499, 500, 501, 999, 1000, 1001, 4000, 65534, 65535,
        ];
        for r in edges.iter().copied().chain((0..=u16::MAX).step_by(97)) {
            for c in edges {
                let (br, bc) = bounded_size(r, c);
                assert!((1..=MAX_ROWS).contains(&br) && (1..=MAX_COLS).contains(&bc));
                if (1..=MAX_ROWS).contains(&r) {
                    assert_eq!(br, r);
                }
            }
        }
    }
}
