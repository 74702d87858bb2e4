//! Durations and times as people read them, written one way by every gridctl process
//! (humantime): `500ms`, `2s`, `1m 30s`, `2026-11-29T18:00:00.123Z`.
//!
//! It lives with the wire types because the holder writes these into the status
//! details the CLI shows (`restarting in 2s`, `5 crashes within 5m`).

use std::time::{Duration, SystemTime};

/// A duration rounded to what matters at its size: milliseconds under a second, tenths
/// of a second under ten, whole seconds under an hour, minutes above.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let rounded = match ms {
        0..=999 => Duration::from_millis(ms as u64),
        1_000..=9_999 => Duration::from_millis((ms as u64 + 50) / 100 * 100),
        10_000..=3_599_999 => Duration::from_secs((ms as u64 + 500) / 1000),
        _ => Duration::from_secs(d.as_secs().saturating_add(30) / 60 * 60),
    };
    humantime::format_duration(rounded).to_string()
}

/// A moment in UTC, RFC 3339 with milliseconds (log lines).
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_to_their_size() {
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_micros(1_500)), "1ms");
        assert_eq!(duration(Duration::from_millis(520)), "520ms");
        assert_eq!(duration(Duration::from_millis(2_000)), "2s");
        assert_eq!(duration(Duration::from_millis(1_549)), "1s 500ms");
        assert_eq!(duration(Duration::from_millis(90_400)), "1m 30s");
        assert_eq!(duration(Duration::from_secs(300)), "5m");
        assert_eq!(duration(Duration::from_secs(3_725)), "1h 2m");
        assert!(!duration(Duration::MAX).is_empty(), "never panics");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_780_000_000_123);
        assert_eq!(timestamp(t), "2026-05-28T20:26:40.123Z");
    }
}
