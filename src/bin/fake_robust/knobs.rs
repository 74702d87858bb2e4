//! Test knobs: each from an env var, overridden by a key in `[FakeRobust]` so a
//! manifest can set them per role. This is the list of every knob; most apply to both
//! modes (Robust, and the simulator of `simulator.rs`), as each one's doc says.
//!
//! | `[FakeRobust]` key | env var | mode |
//! |---|---|---|
//! | StartDelayMs | FAKE_ROBUST_START_DELAY_MS | both: before the connectors / the regions load |
//! | LoadDelayMs | FAKE_ROBUST_LOAD_DELAY_MS | both: after each connector / each region |
//! | CrashAfterMs | FAKE_ROBUST_CRASH_AFTER_MS | both |
//! | FailConnector | FAKE_ROBUST_FAIL_CONNECTOR | Robust |
//! | ErrorAtStart | FAKE_ROBUST_ERROR_AT_START | both |
//! | IgnoreShutdown | FAKE_ROBUST_IGNORE_SHUTDOWN | both |
//! | IgnoreSigterm | FAKE_ROBUST_IGNORE_SIGTERM | both |
//! | OutputLines, OutputLineBytes | FAKE_ROBUST_OUTPUT_LINES, _LINE_BYTES | Robust |
//! | NoCpr | FAKE_ROBUST_NO_CPR | both |
//! | MigrationsDir, MigrationMs | FAKE_ROBUST_MIGRATIONS_DIR, _MIGRATION_MS | Robust |
//! | RegisterFail | FAKE_ROBUST_REGISTER_FAIL | simulator |
//! | StopDelayMs | FAKE_ROBUST_STOP_DELAY_MS | simulator |
//! | Resolve | FAKE_ROBUST_RESOLVE | both |
//! | Users | FAKE_ROBUST_USERS | Robust |

use gridctl::ini::Ini;

#[derive(Debug, Clone, Default)]
pub struct Knobs {
    /// Sleep before loading connectors.
    pub start_delay_ms: u64,
    /// Sleep after each connector loads (a startup whose progress can be watched).
    pub load_delay_ms: u64,
    /// Exit 1 with an ERROR line this long after start (a crash).
    pub crash_after_ms: Option<u64>,
    /// Connector classes that fail to load.
    pub fail_connectors: Vec<String>,
    /// Log an ERROR line during startup, then carry on.
    pub error_at_start: bool,
    /// `shutdown`/`quit`/SIGINT log "Quitting" but do not exit.
    pub ignore_shutdown: bool,
    /// SIGTERM does nothing.
    pub ignore_sigterm: bool,
    /// After the first prompt, write this many log lines to the console at full speed.
    pub output_lines: u64,
    /// Length of each of those lines (without the newline).
    pub output_line_bytes: usize,
    /// Do not send the cursor-position query before prompts.
    pub no_cpr: bool,
    /// A directory standing for the database: connectors that own a store migrate it
    /// there at load and can lose the race on it (see `migrations.rs`). Off when unset.
    pub migrations_dir: Option<String>,
    /// How long a migration holds its store (the window in which another copy loses).
    pub migration_ms: u64,
    /// Simulator: every region's registration fails as if the grid answered `Failure`
    /// with this message (nothing is sent); the real then logs two ERRORs and hangs.
    pub register_fail: Option<String>,
    /// Simulator: time each region takes to close at shutdown (the real: about 3.5 s).
    pub stop_delay_ms: u64,
    /// Names answered without DNS: `name=IP` or `*.domain=IP`, comma-separated. The
    /// simulator connects there, keeping the URL's name in `Host`; Robust's start-up
    /// check that connector hosts resolve accepts them too.
    pub resolve: String,
    /// Robust: accounts that exist from the start, `First Last[=UUID]`, comma-separated
    /// (as if created earlier with `create user`), e.g. a simulator's estate owner.
    pub users: String,
}

/// `(ini key, env var)` for each knob.
const NAMES: [(&str, &str); 16] = [
    ("StartDelayMs", "FAKE_ROBUST_START_DELAY_MS"),
    ("LoadDelayMs", "FAKE_ROBUST_LOAD_DELAY_MS"),
    ("CrashAfterMs", "FAKE_ROBUST_CRASH_AFTER_MS"),
    ("FailConnector", "FAKE_ROBUST_FAIL_CONNECTOR"),
    ("ErrorAtStart", "FAKE_ROBUST_ERROR_AT_START"),
    ("IgnoreShutdown", "FAKE_ROBUST_IGNORE_SHUTDOWN"),
    ("IgnoreSigterm", "FAKE_ROBUST_IGNORE_SIGTERM"),
    ("OutputLines", "FAKE_ROBUST_OUTPUT_LINES"),
    ("OutputLineBytes", "FAKE_ROBUST_OUTPUT_LINE_BYTES"),
    ("NoCpr", "FAKE_ROBUST_NO_CPR"),
    ("MigrationsDir", "FAKE_ROBUST_MIGRATIONS_DIR"),
    ("MigrationMs", "FAKE_ROBUST_MIGRATION_MS"),
    ("RegisterFail", "FAKE_ROBUST_REGISTER_FAIL"),
    ("StopDelayMs", "FAKE_ROBUST_STOP_DELAY_MS"),
    ("Resolve", "FAKE_ROBUST_RESOLVE"),
    ("Users", "FAKE_ROBUST_USERS"),
];

impl Knobs {
    /// Reads every knob; problems (a value that does not parse) are returned as
    /// warnings to log, and the knob keeps its default.
    pub fn load(ini: &Ini, env: impl Fn(&str) -> Option<String>) -> (Knobs, Vec<String>) {
        let mut k = Knobs {
            output_line_bytes: 100,
            migration_ms: 300,
            ..Knobs::default()
        };
        let mut warnings = Vec::new();
        for (key, var) in NAMES {
            let Some(raw) = ini
                .get("FakeRobust", key)
                .map(str::to_string)
                .or_else(|| env(var))
            else {
                continue;
            };
            let raw = raw.trim();
            let num = || raw.parse::<u64>().ok();
            let flag = || parse_bool(raw);
            let ok = match key {
                "StartDelayMs" => num().map(|v| k.start_delay_ms = v),
                "LoadDelayMs" => num().map(|v| k.load_delay_ms = v),
                "CrashAfterMs" => num().map(|v| k.crash_after_ms = Some(v)),
                "FailConnector" => {
                    k.fail_connectors = raw
                        .split([',', ' '])
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                    Some(())
                }
                "ErrorAtStart" => flag().map(|v| k.error_at_start = v),
                "IgnoreShutdown" => flag().map(|v| k.ignore_shutdown = v),
                "IgnoreSigterm" => flag().map(|v| k.ignore_sigterm = v),
                "OutputLines" => num().map(|v| k.output_lines = v),
                "OutputLineBytes" => num().map(|v| k.output_line_bytes = v as usize),
                "NoCpr" => flag().map(|v| k.no_cpr = v),
                "MigrationsDir" => {
                    k.migrations_dir = Some(raw.to_string()).filter(|d| !d.is_empty());
                    Some(())
                }
                "MigrationMs" => num().map(|v| k.migration_ms = v),
                "RegisterFail" => {
                    k.register_fail = Some(raw.to_string()).filter(|m| !m.is_empty());
                    Some(())
                }
                "StopDelayMs" => num().map(|v| k.stop_delay_ms = v),
                "Resolve" => {
                    k.resolve = raw.to_string();
                    Some(())
                }
                "Users" => {
                    k.users = raw.to_string();
                    Some(())
                }
                _ => None,
            }
            .is_some();
            if !ok {
                warnings.push(format!(
                    "[FAKE]: ignoring knob {key} / {var}: cannot read `{raw}`"
                ));
            }
        }
        (k, warnings)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn ini_wins_over_env() {
        let ini = gridctl::ini::parse(
            "[FakeRobust]\nStartDelayMs = 5\nNoCpr = true\nOutputLines = x\n",
            Path::new("t"),
        )
        .expect("parse");
        let env = |v: &str| match v {
            "FAKE_ROBUST_START_DELAY_MS" => Some("9".to_string()),
            "FAKE_ROBUST_FAIL_CONNECTOR" => Some("A, B".to_string()),
            "FAKE_ROBUST_MIGRATIONS_DIR" => Some("/db".to_string()),
            _ => None,
        };
        let (k, warnings) = Knobs::load(&ini, env);
        assert_eq!(k.start_delay_ms, 5);
        assert!(k.no_cpr);
        assert_eq!(k.fail_connectors, vec!["A", "B"]);
        assert_eq!(k.output_lines, 0);
        assert_eq!(k.migrations_dir.as_deref(), Some("/db"));
        assert_eq!(k.migration_ms, 300);
        assert_eq!(warnings.len(), 1);
    }
}
