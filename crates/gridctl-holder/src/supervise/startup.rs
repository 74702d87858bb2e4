//! The startup verdict of a fresh child: `Ready` once its console says so (expected
//! connectors and prompt) and the readiness probe, if any, answers; `Degraded` on a
//! failure line, a failing probe or the readiness timeout.

use crate::hub::Hub;
use crate::protocol::InstanceState;
use crate::readiness::{judge_response, probe_request, Verdict, PROBE_READ_MAX};
use crate::spec::InstanceSpec;
use crate::spec::Probe;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
            "not ready after {}: {missing}",
            gridctl_wire::human::duration(timeout)
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
    // The role's probe, then every extra one (a simulator: each region known to the
    // grid service). The role's probe gets a few tries (Robust may answer its first
    // request slowly); an extra one is retried until the deadline, since a simulator's
    // registration may lag its console.
    let probes: Vec<(Probe, bool)> = spec
        .readiness
        .probe
        .iter()
        .map(|p| (p.clone(), false))
        .chain(
            spec.readiness
                .extra_probes
                .iter()
                .map(|p| (p.clone(), true)),
        )
        .collect();
    let count = probes.len();
    for (n, (probe, patient)) in probes.into_iter().enumerate() {
        let of = if count > 1 {
            format!(" ({}/{count})", n + 1)
        } else {
            String::new()
        };
        hub.starting_detail(
            generation,
            format!("probing {} {}{of}", probe_method(&probe), probe.path),
        );
        if let Err(last) = probe_until(&hub, generation, &probe, patient, deadline).await {
            hub.settle_startup(
                generation,
                InstanceState::Degraded,
                format!("probe failed: {last}"),
            );
            return;
        }
    }
    // The lines that made it ready are in the console log before anyone is told it is
    // (`gridctl logs` right after `up --wait` shows them; the log is flushed every 500 ms).
    hub.work.sync().await;
    hub.settle_startup(generation, InstanceState::Ready, String::new());
}

/// Sends `probe` until it answers well: 10 tries, or (`patient`) until `deadline`.
async fn probe_until(
    hub: &Hub,
    generation: u64,
    probe: &Probe,
    patient: bool,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    let mut tries = 0;
    loop {
        let last = match probe_async(probe, Duration::from_secs(2)).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        tries += 1;
        if hub.readiness_verdict(generation).is_none()
            || (!patient && tries >= 10)
            || tokio::time::Instant::now() + Duration::from_millis(300) >= deadline
        {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The method a probe sends (GET when the spec leaves it empty).
fn probe_method(probe: &Probe) -> &str {
    if probe.method.is_empty() {
        "GET"
    } else {
        &probe.method
    }
}

/// `readiness::probe_once` on the event loop: no thread is started for a probe (an
/// extra thread would stay resident in an otherwise idle holder).
async fn probe_async(probe: &Probe, timeout: Duration) -> Result<(), String> {
    let addr = probe.target();
    let mut stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect to {addr}: timed out"))?
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    tokio::time::timeout(timeout, stream.write_all(probe_request(probe).as_bytes()))
        .await
        .map_err(|_| "send request: timed out".to_string())?
        .map_err(|e| format!("send request: {e}"))?;
    // Until the server closes (Connection: close) or the time is up, capped.
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        timeout,
        (&mut stream)
            .take(PROBE_READ_MAX)
            .read_to_end(&mut response),
    )
    .await;
    judge_response(probe, &response)
}
