//! The startup verdict of a fresh child: `Ready` once its console says so (expected
//! connectors and prompt) and the readiness probe, if any, answers; `Degraded` on a
//! failure line, a failing probe or the readiness timeout.

use crate::holder::hub::Hub;
use crate::protocol::InstanceState;
use crate::readiness::{probe_once, Verdict};
use crate::spec::InstanceSpec;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub(super) async fn readiness_task(
    hub: Arc<Hub>,
    generation: u64,
    spec: InstanceSpec,
    notify: Arc<Notify>,
) {
    let timeout = Duration::from_millis(spec.readiness.timeout_ms);
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = |missing: String| {
        format!(
            "not ready after {} ms: {missing}",
            spec.readiness.timeout_ms
        )
    };
    loop {
        match hub.readiness_verdict(generation) {
            None => return,
            Some((Verdict::Failed(line), _)) => {
                hub.settle_startup(generation, InstanceState::Degraded, line);
                return;
            }
            Some((Verdict::ConsoleReady, _)) => break,
            Some((Verdict::Pending, missing)) => {
                if tokio::time::timeout_at(deadline, notify.notified())
                    .await
                    .is_err()
                {
                    let missing = hub
                        .readiness_verdict(generation)
                        .map(|v| v.1)
                        .unwrap_or(missing);
                    hub.settle_startup(generation, InstanceState::Degraded, timed_out(missing));
                    return;
                }
            }
        }
    }
    let Some(probe) = spec.readiness.probe.clone() else {
        hub.settle_startup(generation, InstanceState::Ready, String::new());
        return;
    };
    // Robust may answer its first request slowly; retry a few times, within the deadline.
    let mut last = String::new();
    for _ in 0..10 {
        let p = probe.clone();
        let res = tokio::task::spawn_blocking(move || probe_once(&p, Duration::from_secs(2))).await;
        match res {
            Ok(Ok(())) => {
                hub.settle_startup(generation, InstanceState::Ready, String::new());
                return;
            }
            Ok(Err(e)) => last = e,
            Err(e) => last = e.to_string(),
        }
        if hub.readiness_verdict(generation).is_none()
            || tokio::time::Instant::now() + Duration::from_millis(300) >= deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    hub.settle_startup(
        generation,
        InstanceState::Degraded,
        format!("probe failed: {last}"),
    );
}
