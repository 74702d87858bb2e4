//! `restart --notify DURATION`: before simulators restart, OpenSim's own `alert` command
//! is typed into their consoles as a countdown, as operators do by hand, so the users in
//! their regions see it coming.

use crate::client::HolderClient;
use gridctl_config::plan::{InstancePlan, Plan};
use gridctl_wire::human;
use std::time::{Duration, Instant};

/// Points of the countdown (time left) at which an alert goes out: the whole duration,
/// then each of these below it.
const MARKS: [Duration; 7] = [
    Duration::from_secs(30 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(2 * 60),
    Duration::from_secs(60),
    Duration::from_secs(30),
    Duration::from_secs(10),
];

/// The times left at which to alert, longest first: `total`, then every mark below it.
pub fn marks(total: Duration) -> Vec<Duration> {
    let mut out = vec![total];
    out.extend(MARKS.iter().copied().filter(|m| *m < total));
    out
}

/// The line typed into the console for `left` time left. OpenSim sends the text after
/// `alert ` to every user in the simulator's regions (at the console's root).
pub fn alert_line(left: Duration) -> String {
    format!(
        "alert This region restarts in {}. Please finish what you are doing.",
        human::duration(left)
    )
}

/// Runs the countdown on `simulators` (those that run): an alert at every mark, then
/// returns when the time is up. `said` hears what was typed where, or why it could not be.
pub fn countdown(
    plan: &Plan,
    simulators: &[&InstancePlan],
    total: Duration,
    said: &mut dyn FnMut(&str),
) {
    if simulators.is_empty() || total.is_zero() {
        return;
    }
    let start = Instant::now();
    for left in marks(total) {
        let at = total.saturating_sub(left);
        if let Some(wait) = at.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        let line = alert_line(left);
        for sim in simulators {
            match alert(plan, sim, &line) {
                Ok(()) => said(&format!("{}: {line}", sim.name)),
                Err(e) => said(&format!("{}: could not alert: {e}", sim.name)),
            }
        }
    }
    if let Some(rest) = total.checked_sub(start.elapsed()) {
        std::thread::sleep(rest);
    }
}

fn alert(plan: &Plan, sim: &InstancePlan, line: &str) -> Result<(), String> {
    let socket = plan.sockets_dir().join(&sim.name);
    let mut client =
        HolderClient::connect(&socket, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    client
        .send_line(line, Duration::from_millis(300), Duration::from_secs(5))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_count_down_from_the_whole_duration() {
        let s = Duration::from_secs;
        assert_eq!(marks(s(90)), vec![s(90), s(60), s(30), s(10)]);
        assert_eq!(marks(s(5)), vec![s(5)]);
        assert_eq!(marks(s(60)), vec![s(60), s(30), s(10)]);
    }

    #[test]
    fn the_alert_is_one_console_line() {
        let l = alert_line(Duration::from_secs(120));
        assert_eq!(
            l,
            "alert This region restarts in 2m. Please finish what you are doing."
        );
        assert!(!l.contains('\n'));
    }
}
