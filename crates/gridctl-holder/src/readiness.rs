//! When a Robust copy counts as ready (robust.md §0c, §6): every expected connector
//! logged `loaded successfully`, nothing `Failed to load` or ERROR-level during startup
//! (on the console an ERROR has no level word, only red text: see `console::lines`),
//! the prompt is on the screen, and (if configured) a real request answers.
//! A process that is merely alive, or a port that is merely bound, proves nothing.
//!
//! The line matching is a pure function ([`classify_line`]) fed by the console worker; the
//! probe is a tiny HTTP/1.1 client ([`probe_once`], blocking; the holder sends the same
//! request from its event loop, `supervise::startup`).

use crate::spec::{Probe, ReadinessSpec};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What one console line (ANSI stripped) says about startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind<'a> {
    /// `[SERVER]: <Class> loaded successfully`: the class name.
    Loaded(&'a str),
    /// `[SERVER]: Failed to load ...`: the instance runs without that connector.
    FailedToLoad,
    /// A line logged at ERROR level (shown red, or `ERROR` as a word, `[ERROR]`).
    Error,
    Other,
}

/// ERROR-level lines Robust logs at every start after an unclean stop, that say nothing
/// about this start: after a `kill -9` (or a SIGTERM) the PID file is still there and
/// ServerBase logs "Previous pid file … still exists on startup.  Possibly previously
/// unclean shutdown." before writing its own (robust.md 0d).
const HARMLESS: &[(&str, &str)] = &[("Previous pid file ", " still exists on startup.")];

fn is_harmless(line: &str) -> bool {
    HARMLESS.iter().any(|(start, end)| {
        line.find(start)
            .is_some_and(|i| line[i + start.len()..].contains(end))
    })
}

/// `[ACCOUNT CONNECTOR]: Could not resolve UserAccountServerURI` (measured on 0.9.2.2):
/// a remote connector whose host does not resolve is left out, yet the service hosting it
/// still logs `loaded successfully`, and the ERROR level shows only as colour.
fn is_unresolved_uri(line: &str) -> bool {
    line.split_once("]: Could not resolve ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|key| key.ends_with("URI"))
}

/// What one console line says; `red`: it was shown in red, OpenSimAppender's only
/// sign of the ERROR level on the console (`HH:MM:SS - [CATEGORY]:ESC[31m text`).
pub fn classify(line: &str, red: bool) -> LineKind<'_> {
    match classify_line(line) {
        LineKind::Other if red && !is_harmless(line) => LineKind::Error,
        kind => kind,
    }
}

/// What one line says from its text alone (the file log's `ERROR` level word included).
pub fn classify_line(line: &str) -> LineKind<'_> {
    if is_harmless(line) {
        return LineKind::Other;
    }
    if line.contains("Failed to load") || is_unresolved_uri(line) {
        return LineKind::FailedToLoad;
    }
    if let Some(idx) = line.find(" loaded successfully") {
        if let Some(word) = line[..idx].split_whitespace().last() {
            // Robust logs the class; accept `Dll:Class` too.
            let class = word.rsplit(':').next().unwrap_or(word);
            return LineKind::Loaded(class);
        }
    }
    if has_error_word(line) {
        return LineKind::Error;
    }
    LineKind::Other
}

/// `ERROR` as a whole word: `[ERROR]`, ` ERROR `, `ERROR:`, but not `ERRORS` or `NO_ERROR`.
fn has_error_word(line: &str) -> bool {
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices("ERROR").any(|(i, m)| {
        let before = line[..i].chars().next_back();
        let after = line[i + m.len()..].chars().next();
        !before.is_some_and(word_char) && !after.is_some_and(word_char)
    })
}

/// Where startup stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Still waiting for connectors and/or the prompt.
    Pending,
    /// A startup line proves the instance is degraded (the line is the detail).
    Failed(String),
    /// Console says ready; the probe (if any) decides.
    ConsoleReady,
}

/// Tracks one child's startup from its console lines.
#[derive(Debug, Clone)]
pub struct ReadinessTracker {
    expected: Vec<String>,
    seen: Vec<bool>,
    /// Console lines that must appear (a simulator's `LOGINS ENABLED`, per region).
    lines: Vec<String>,
    lines_seen: Vec<bool>,
    prompt: String,
    prompt_seen: bool,
    failure: Option<String>,
}

impl ReadinessTracker {
    pub fn new(spec: &ReadinessSpec) -> Self {
        ReadinessTracker {
            expected: spec.expected_connectors.clone(),
            seen: vec![false; spec.expected_connectors.len()],
            lines: spec.expected_lines.clone(),
            lines_seen: vec![false; spec.expected_lines.len()],
            prompt: spec.prompt.clone(),
            prompt_seen: spec.prompt.trim().is_empty(),
            failure: None,
        }
    }

    /// Whether the verdict can still change (the worker stops feeding lines after that).
    pub fn is_pending(&self) -> bool {
        self.verdict() == Verdict::Pending
    }

    pub fn prompt(&self) -> &str {
        &self.prompt
    }

    /// One finished console line; `red`: shown in red (ERROR level).
    pub fn feed_line(&mut self, line: &str, red: bool) {
        if self.failure.is_some() {
            return;
        }
        for (want, seen) in self.lines.iter().zip(self.lines_seen.iter_mut()) {
            if !*seen && line.contains(want.as_str()) {
                *seen = true;
            }
        }
        match classify(line, red) {
            LineKind::Loaded(class) => {
                for (name, seen) in self.expected.iter().zip(self.seen.iter_mut()) {
                    if name == class || name.rsplit(':').next() == Some(class) {
                        *seen = true;
                    }
                }
            }
            LineKind::FailedToLoad | LineKind::Error => {
                self.failure = Some(line.trim().to_string())
            }
            LineKind::Other => {}
        }
    }

    pub fn set_prompt_seen(&mut self) {
        self.prompt_seen = true;
    }

    pub fn verdict(&self) -> Verdict {
        if let Some(line) = &self.failure {
            return Verdict::Failed(line.clone());
        }
        if self.prompt_seen && self.seen.iter().all(|s| *s) && self.lines_seen.iter().all(|s| *s) {
            Verdict::ConsoleReady
        } else {
            Verdict::Pending
        }
    }

    /// Where startup stands, for the status detail while `starting`:
    /// `services loaded 7/13` until every expected connector logged `loaded
    /// successfully`, then `waiting for the prompt`; `console ready` after both.
    pub fn progress(&self) -> String {
        let loaded = self.seen.iter().filter(|s| **s).count();
        let lines = self.lines_seen.iter().filter(|s| **s).count();
        if loaded < self.expected.len() {
            format!("services loaded {loaded}/{}", self.expected.len())
        } else if lines < self.lines.len() {
            format!("regions with logins enabled {lines}/{}", self.lines.len())
        } else if !self.prompt_seen {
            "waiting for the prompt".to_string()
        } else {
            "console ready".to_string()
        }
    }

    /// What is still missing, for the timeout message.
    pub fn missing(&self) -> String {
        let mut parts = Vec::new();
        let missing: Vec<&str> = self
            .expected
            .iter()
            .zip(&self.seen)
            .filter(|(_, s)| !**s)
            .map(|(n, _)| n.as_str())
            .collect();
        if !missing.is_empty() {
            parts.push(format!("connectors not loaded: {}", missing.join(", ")));
        }
        let lines: Vec<&str> = self
            .lines
            .iter()
            .zip(&self.lines_seen)
            .filter(|(_, s)| !**s)
            .map(|(n, _)| n.as_str())
            .collect();
        if !lines.is_empty() {
            parts.push(format!("not seen on the console: {}", lines.join("; ")));
        }
        if !self.prompt_seen {
            parts.push(format!("prompt `{}` not seen", self.prompt.trim_end()));
        }
        parts.join("; ")
    }
}

/// One HTTP request to `127.0.0.1:<port>`; `Ok` when the answer counts as healthy.
pub fn probe_once(probe: &Probe, timeout: Duration) -> Result<(), String> {
    let addr = probe.target();
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(probe_request(probe).as_bytes())
        .map_err(|e| format!("send request: {e}"))?;

    // Read until the server closes (Connection: close), capped: we only need the
    // status line and enough body to look for `reject_body`.
    let mut response = Vec::new();
    let _ = stream.take(PROBE_READ_MAX).read_to_end(&mut response);
    judge_response(probe, &response)
}

/// How much of a probe's answer is read.
pub const PROBE_READ_MAX: u64 = 1024 * 1024;

/// The HTTP request a probe sends (`Connection: close`).
pub fn probe_request(probe: &Probe) -> String {
    let method = if probe.method.is_empty() {
        "GET"
    } else {
        probe.method.as_str()
    };
    let host = probe.host.as_deref().unwrap_or("127.0.0.1");
    let mut request =
        format!(
        "{method} {} HTTP/1.1\r\nHost: {host}:{}\r\nConnection: close\r\nUser-Agent: gridctl\r\n",
        if probe.path.is_empty() { "/" } else { probe.path.as_str() },
        probe.port
    );
    if method.eq_ignore_ascii_case("POST") || !probe.body.is_empty() {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", probe.body.len()));
    }
    request.push_str("\r\n");
    request.push_str(&probe.body);
    request
}

/// Pure judgement of a raw HTTP response (status line, headers, body).
pub fn judge_response(probe: &Probe, response: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(response);
    let status_line = text.lines().next().unwrap_or_default();
    let status: u16 = status_line
        .strip_prefix("HTTP/")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            if text.is_empty() {
                "no answer".to_string()
            } else {
                format!(
                    "not an HTTP answer: `{}`",
                    status_line.chars().take(80).collect::<String>()
                )
            }
        })?;
    let ok_status = match probe.expect_status {
        Some(want) => status == want,
        None => status < 500,
    };
    if !ok_status {
        return Err(format!("{} {} answered {status}", probe.method, probe.path));
    }
    if let Some(reject) = probe.reject_body.as_deref().filter(|r| !r.is_empty()) {
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        if body.contains(reject) {
            return Err(format!(
                "{} {} answered `{reject}`",
                probe.method, probe.path
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(connectors: &[&str]) -> ReadinessSpec {
        ReadinessSpec {
            expected_connectors: connectors.iter().map(|s| s.to_string()).collect(),
            prompt: "R.O.B.U.S.T.# ".into(),
            probe: None,
            timeout_ms: 1000,
            expected_lines: Vec::new(),
            extra_probes: Vec::new(),
        }
    }

    #[test]
    fn expected_lines_gate_readiness() {
        let mut spec = spec(&[]);
        spec.prompt = "Region (root) # ".into();
        spec.expected_lines = vec![
            "INITIALIZATION COMPLETE FOR A - LOGINS ENABLED".into(),
            "INITIALIZATION COMPLETE FOR B - LOGINS ENABLED".into(),
        ];
        let mut t = ReadinessTracker::new(&spec);
        t.feed_line("Region A - LOGINS DISABLED DURING INITIALIZATION.", false);
        t.set_prompt_seen();
        t.feed_line(
            "12:00:01 - INITIALIZATION COMPLETE FOR A - LOGINS ENABLED",
            false,
        );
        assert_eq!(t.verdict(), Verdict::Pending);
        assert_eq!(t.progress(), "regions with logins enabled 1/2");
        assert!(t.missing().contains("FOR B - LOGINS ENABLED"));
        t.feed_line("INITIALIZATION COMPLETE FOR B - LOGINS ENABLED", false);
        assert_eq!(t.verdict(), Verdict::ConsoleReady);
        // A simulator's start has no ERROR line unless it is stuck for good
        // (simulator.md §0): one settles it as degraded at once.
        let mut t = ReadinessTracker::new(&spec);
        t.feed_line(
            "12:00:00 - [GRID SERVICE]: Region registration for A failed",
            true,
        );
        assert!(matches!(t.verdict(), Verdict::Failed(_)));
    }

    #[test]
    fn probe_sends_the_host_it_is_given() {
        let mut p = probe(Some(200), None);
        assert!(probe_request(&p).contains("Host: 127.0.0.1:1\r\n"));
        p.host = Some("grid.robust.internal".into());
        assert!(probe_request(&p).contains("Host: grid.robust.internal:1\r\n"));
    }

    #[test]
    fn classifies_robust_lines() {
        assert_eq!(
            classify_line("12:00:01 - [SERVER]: AssetServiceConnector loaded successfully"),
            LineKind::Loaded("AssetServiceConnector")
        );
        assert_eq!(
            classify_line(
                "[SERVER]: OpenSim.Server.Handlers.dll:XInventoryInConnector loaded successfully"
            ),
            LineKind::Loaded("XInventoryInConnector")
        );
        assert_eq!(
            classify_line("12:00:01 - [SERVER]: Failed to load OpenSim.Server.Handlers.dll:GridInfoServerInConnector"),
            LineKind::FailedToLoad
        );
        assert_eq!(
            classify_line("2024-01-01 12:00:01 ERROR (1) - Migration failed"),
            LineKind::Error
        );
        assert_eq!(classify_line("[ERROR]: boom"), LineKind::Error);
        assert_eq!(
            classify_line("no ERRORS here, NO_ERROR either"),
            LineKind::Other
        );
        assert_eq!(
            classify_line("[SERVER]: Loading AssetServiceConnector on port 8003"),
            LineKind::Other
        );
    }

    #[test]
    fn an_unresolved_connector_host_is_a_failed_start() {
        for line in [
            "16:28:53 - [ACCOUNT CONNECTOR]: Could not resolve UserAccountServerURI",
            "16:28:32 - [GRIDUSER CONNECTOR]: Could not resolve GridUserServerURI",
        ] {
            assert_eq!(classify_line(line), LineKind::FailedToLoad, "{line}");
        }
        assert_eq!(
            classify_line("12:00 - [X]: Could not resolve this for now"),
            LineKind::Other
        );
    }

    #[test]
    fn a_stale_pid_file_line_is_not_a_failed_start() {
        // As the real 0.9.2.2 shows it on the console (`%date{HH:mm:ss} - %message`) and
        // writes it to the file log (`%date %-5level (%thread) - %logger %message`).
        for line in [
            "16:11:07 - [SERVER BASE]: Previous pid file /g/.gridctl/instances/core-1/robust.pid still exists on startup.  Possibly previously unclean shutdown.",
            "2026-11-29 16:11:07,309 ERROR (1) - OpenSim.Framework.Servers.ServerBase [SERVER BASE]: Previous pid file /g/robust.pid still exists on startup.  Possibly previously unclean shutdown.",
        ] {
            assert_eq!(classify_line(line), LineKind::Other, "{line}");
            let mut t = ReadinessTracker::new(&spec(&["A"]));
            t.feed_line(line, false);
            t.feed_line("[SERVER]: A loaded successfully", false);
            t.set_prompt_seen();
            assert_eq!(t.verdict(), Verdict::ConsoleReady);
        }
        // Only that line: other ERROR lines about the PID file still count.
        assert_eq!(
            classify_line(
                "2026-11-29 16:11:07,309 ERROR (1) - [SERVER BASE]: Could not create PID file"
            ),
            LineKind::Error
        );
    }

    #[test]
    fn ready_needs_every_connector_and_the_prompt() {
        let mut t = ReadinessTracker::new(&spec(&["A", "B"]));
        assert_eq!(t.progress(), "services loaded 0/2");
        t.feed_line("[SERVER]: A loaded successfully", false);
        assert_eq!(t.progress(), "services loaded 1/2");
        t.set_prompt_seen();
        assert_eq!(t.verdict(), Verdict::Pending);
        assert_eq!(t.missing(), "connectors not loaded: B");
        t.feed_line("[SERVER]: B loaded successfully", false);
        assert_eq!(t.verdict(), Verdict::ConsoleReady);
        assert_eq!(t.progress(), "console ready");
        let mut t = ReadinessTracker::new(&spec(&["A"]));
        t.feed_line("[SERVER]: A loaded successfully", false);
        assert_eq!(t.progress(), "waiting for the prompt");
    }

    #[test]
    fn failed_connector_or_error_degrades() {
        let mut t = ReadinessTracker::new(&spec(&["A"]));
        t.feed_line("[SERVER]: Failed to load x.dll:A", false);
        t.feed_line("[SERVER]: A loaded successfully", false);
        t.set_prompt_seen();
        assert_eq!(
            t.verdict(),
            Verdict::Failed("[SERVER]: Failed to load x.dll:A".into())
        );
        let mut t = ReadinessTracker::new(&spec(&[]));
        t.feed_line("12:00 - [ERROR] table migrations exists", false);
        assert!(matches!(t.verdict(), Verdict::Failed(_)));
    }

    /// On the real console an ERROR has no level word: only its colour says so.
    #[test]
    fn a_red_line_during_startup_degrades_except_the_stale_pid_file() {
        let error = "16:24:00 - [SERVICE BASE]: Failed to open the database";
        assert_eq!(classify(error, false), LineKind::Other);
        assert_eq!(classify(error, true), LineKind::Error);
        let stale = "16:11:07 - [SERVER BASE]: Previous pid file /g/robust.pid still exists on startup.  Possibly previously unclean shutdown.";
        assert_eq!(classify(stale, true), LineKind::Other);
        // Red does not hide what the line says.
        assert_eq!(
            classify("12:00 - [SERVER]: Failed to load x.dll:A", true),
            LineKind::FailedToLoad
        );
        let mut t = ReadinessTracker::new(&spec(&["A"]));
        t.feed_line(stale, true);
        t.feed_line("[SERVER]: A loaded successfully", false);
        t.feed_line(error, true);
        t.set_prompt_seen();
        assert_eq!(t.verdict(), Verdict::Failed(error.into()));
    }

    #[test]
    fn missing_mentions_prompt() {
        let t = ReadinessTracker::new(&spec(&[]));
        assert_eq!(t.missing(), "prompt `R.O.B.U.S.T.#` not seen");
    }

    fn probe(expect: Option<u16>, reject: Option<&str>) -> Probe {
        Probe {
            port: 1,
            method: "GET".into(),
            path: "/get_grid_info".into(),
            body: String::new(),
            expect_status: expect,
            reject_body: reject.map(str::to_string),
            host: None,
            address: None,
        }
    }

    #[test]
    fn judges_responses() {
        let ok = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
        assert!(judge_response(&probe(None, None), ok).is_ok());
        assert!(judge_response(&probe(Some(200), None), ok).is_err());
        let broken = b"HTTP/1.1 200 OK\r\n\r\n<RESULT>False</RESULT>";
        assert!(judge_response(&probe(None, Some("<RESULT>False</RESULT>")), broken).is_err());
        assert!(judge_response(&probe(None, None), b"HTTP/1.0 503 Busy\r\n\r\n").is_err());
        assert_eq!(
            judge_response(&probe(None, None), b"").unwrap_err(),
            "no answer"
        );
    }
}
