//! Crash policy: capped exponential backoff between restarts, and the crash-loop
//! verdict that ends automatic restarts.

use crate::spec::RestartPolicy;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Crash bookkeeping: capped exponential backoff and the crash-loop verdict (pure).
#[derive(Debug)]
pub struct CrashHistory {
    policy: RestartPolicy,
    crashes: VecDeque<Instant>,
    streak: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrashDecision {
    RestartAfter(Duration),
    /// Too many crashes in the window; no more automatic restarts.
    CrashLoop {
        crashes: usize,
    },
}

impl CrashHistory {
    pub fn new(policy: RestartPolicy) -> Self {
        CrashHistory {
            policy,
            crashes: VecDeque::new(),
            streak: 0,
        }
    }

    pub fn reset(&mut self) {
        self.crashes.clear();
        self.streak = 0;
    }

    pub fn set_policy(&mut self, policy: RestartPolicy) {
        self.policy = policy;
    }

    /// A crash at `now` after a run of `ran_for`. `crash_loop_count = 0` disables the
    /// crash-loop stop.
    pub fn on_crash(&mut self, now: Instant, ran_for: Duration) -> CrashDecision {
        if ran_for >= Duration::from_millis(self.policy.stable_after_ms) {
            self.reset();
        }
        let window = Duration::from_millis(self.policy.crash_loop_window_ms);
        self.crashes.push_back(now);
        while self
            .crashes
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            self.crashes.pop_front();
        }
        let limit = self.policy.crash_loop_count as usize;
        if limit > 0 && self.crashes.len() >= limit {
            return CrashDecision::CrashLoop {
                crashes: self.crashes.len(),
            };
        }
        let factor = 1u64.checked_shl(self.streak).unwrap_or(u64::MAX);
        let delay = self
            .policy
            .backoff_initial_ms
            .saturating_mul(factor)
            .min(self.policy.backoff_max_ms);
        self.streak = self.streak.saturating_add(1);
        CrashDecision::RestartAfter(Duration::from_millis(delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
            stable_after_ms: 10_000,
            crash_loop_count: 5,
            crash_loop_window_ms: 60_000,
        }
    }

    #[test]
    fn backoff_doubles_caps_and_ends_in_crash_loop() {
        let mut h = CrashHistory::new(policy());
        let t0 = Instant::now();
        let quick = Duration::from_millis(10);
        let delays: Vec<_> = (0..4)
            .map(|i| h.on_crash(t0 + Duration::from_millis(i), quick))
            .collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800].map(|ms| CrashDecision::RestartAfter(Duration::from_millis(ms)))
        );
        assert_eq!(
            h.on_crash(t0 + Duration::from_millis(5), quick),
            CrashDecision::CrashLoop { crashes: 5 }
        );
    }

    #[test]
    fn backoff_is_capped() {
        let mut p = policy();
        p.crash_loop_count = 0;
        let mut h = CrashHistory::new(p);
        let t0 = Instant::now();
        let last = (0..70).map(|_| h.on_crash(t0, Duration::ZERO)).last();
        assert_eq!(
            last,
            Some(CrashDecision::RestartAfter(Duration::from_millis(1000)))
        );
    }

    #[test]
    fn stable_run_resets_backoff_and_count() {
        let mut h = CrashHistory::new(policy());
        let t0 = Instant::now();
        for _ in 0..3 {
            h.on_crash(t0, Duration::ZERO);
        }
        assert_eq!(
            h.on_crash(t0, Duration::from_secs(11)),
            CrashDecision::RestartAfter(Duration::from_millis(100))
        );
    }

    #[test]
    fn old_crashes_leave_the_window() {
        let mut h = CrashHistory::new(policy());
        let t0 = Instant::now();
        for i in 0..4 {
            h.on_crash(t0 + Duration::from_secs(i), Duration::ZERO);
        }
        // 70 s later the first four are outside the 60 s window.
        assert!(matches!(
            h.on_crash(t0 + Duration::from_secs(70), Duration::ZERO),
            CrashDecision::RestartAfter(_)
        ));
    }
}
