//! Running the child: spawn on a PTY, drain it, reap it, stop it gracefully, and
//! restart it after a crash with capped exponential backoff and a crash-loop stop.
//!
//! The child itself (PTY, reader/typist/waiter tasks) is in `supervise/child.rs`, its startup
//! verdict in `supervise/startup.rs`, the backoff and crash-loop bookkeeping in
//! `supervise/crash.rs`; this file holds the stop sequence and the control loop.
//!
//! A child counts as stopped only when it is reaped **and** its PTY reached EOF.

use crate::hub::{BeforeCommand, Hub};
use crate::protocol::InstanceState;
use crate::spec::{InstanceSpec, StopPolicy};
use gridctl_wire::human;
use nix::sys::signal::Signal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

mod child;
mod crash;
mod hook;
mod startup;

use child::finish;
pub use child::{describe_exit, exit_code};
pub(crate) use child::{start_child, RunningChild, READY_FD_ENV};
pub use crash::{CrashDecision, CrashHistory};

/// A request from a connection (or a signal) to the supervisor.
pub(crate) enum Control {
    Stop {
        reply: Option<oneshot::Sender<Result<String, String>>>,
    },
    Restart {
        reply: oneshot::Sender<Result<String, String>>,
    },
}

/// The graceful stop sequence (spec.stop): console command → SIGINT → SIGTERM →
/// SIGKILL to the process group, each step with its own timeout. Returns how the
/// child ended, once it is reaped and its PTY reached EOF.
///
/// Each phase is the status detail as it happens (`why` first, e.g. `stop requested:
/// shutdown sent`, then `...: SIGINT after 10s`, time since the stop began), so a
/// client polling `Status` sees where a slow stop stands.
pub(crate) async fn stop_child(
    hub: &Hub,
    child: &mut RunningChild,
    policy: &StopPolicy,
    why: &str,
) -> String {
    let ms = Duration::from_millis;
    let began = Instant::now();
    let phase = |what: String| {
        let detail = format!("{why}: {what}");
        hub.holder_log.log(&detail);
        hub.set_state(InstanceState::Stopping, detail);
    };
    // (exit description, the step that ended it)
    let mut ended: Option<(String, String)> = None;
    let mut command_sent = false;
    // Judge the line under the cursor from everything read so far.
    hub.work.sync().await;
    let before = hub.console_before_command();
    if let BeforeCommand::AtQuestion(q) = &before {
        // Typed at a question (one `send` left open), the command would be its answer
        // and the stop would wait out the whole command timeout. SIGINT runs Robust's
        // same shutdown (robust.md §5).
        hub.holder_log.log(&format!(
            "console waits at a question ({q}): stopping with SIGINT"
        ));
    } else if !policy.command.is_empty() {
        if let Some(input) = hub.input_sender() {
            // Half-typed input is erased first (DEL, as a terminal's backspace key sends).
            let erase = match before {
                BeforeCommand::Erase(n) => n,
                BeforeCommand::AtQuestion(_) => 0,
            };
            let mut line = vec![0x7f; erase];
            line.extend_from_slice(format!("{}\r", policy.command).as_bytes());
            let _ = tokio::time::timeout(ms(policy.command_timeout_ms), input.send(line)).await;
            phase(format!("{} sent", policy.command));
            command_sent = true;
        }
        if let Some(d) = child.wait_exit(Some(ms(policy.command_timeout_ms))).await {
            ended = Some((d, format!("`{}`", policy.command)));
        }
    }
    if ended.is_none() {
        let steps = [
            (Signal::SIGINT, ms(policy.sigint_timeout_ms)),
            (Signal::SIGTERM, ms(policy.sigterm_timeout_ms)),
            (Signal::SIGKILL, Duration::from_secs(10)),
        ];
        for (i, (sig, wait)) in steps.into_iter().enumerate() {
            // The first step of a stop without a console command is no escalation.
            if i == 0 && !command_sent {
                phase(format!("{} sent", sig.as_str()));
            } else {
                phase(format!(
                    "{} after {}",
                    sig.as_str(),
                    human::duration(began.elapsed())
                ));
            }
            hub.signal_child(child.generation, sig);
            if let Some(d) = child.wait_exit(Some(wait)).await {
                ended = Some((d, sig.as_str().to_string()));
                break;
            }
        }
    }
    let (exit, step) = ended.unwrap_or_else(|| {
        hub.holder_log
            .log(&format!("pid {} did not exit after SIGKILL", child.pid));
        ("still running".into(), "SIGKILL".into())
    });
    finish(hub, child, &exit).await;
    format!("{exit} after {step}")
}

/// Whether the supervisor ended on a request that still awaits its written reply.
pub(crate) enum Ended {
    ByRequest,
    BySignal,
    /// A foreground holder gave up after a crash loop: the container ends, so its
    /// runtime restarts it with its own backoff and shows it (`CrashLoopBackOff`).
    CrashLoop,
}

/// Runs until a `Stop`: crash restarts, backoff, crash loop, restarts on request.
/// With `end_on_crash_loop` (the foreground holder) a crash loop ends it too; a
/// detached holder waits for an operator's `restart` instead.
pub(crate) async fn supervise(
    hub: Arc<Hub>,
    first: RunningChild,
    mut rx: mpsc::Receiver<Control>,
    end_on_crash_loop: bool,
) -> Ended {
    let mut history = CrashHistory::new(hub.spec().restart);
    let mut current = Some(first);
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        let control = if let Some(child) = current.as_mut() {
            tokio::select! {
                exit = child.wait_exit(None) => {
                    let how = exit.unwrap_or_else(|| "unknown exit".into());
                    finish(&hub, child, &how).await;
                    hub.holder_log.log(&format!("child pid {} ended unexpectedly: {how}", child.pid));
                    let ran = child.started.elapsed();
                    current = None;
                    retry_at = schedule_restart(&hub, &mut history, ran, &how);
                    hook::run(&hub, "child crashed");
                    if retry_at.is_none() && end_on_crash_loop {
                        crate::hub::remove_runtime_files(&hub);
                        return Ended::CrashLoop;
                    }
                    continue;
                }
                c = rx.recv() => c,
            }
        } else {
            let sleep = async {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {
                    retry_at = None;
                    match start_child(&hub) {
                        Ok(child) => {
                            // An automatic restart: counted as the crash before it.
                            current = Some(child);
                            hook::when_ready(hub.clone());
                        }
                        Err(e) => {
                            let how = format!("failed to start: {e}");
                            hub.holder_log.log(&how);
                            hub.lock().last_exit = Some(how.clone());
                            retry_at = schedule_restart(&hub, &mut history, Duration::ZERO, &how);
                            if retry_at.is_none() && end_on_crash_loop {
                                crate::hub::remove_runtime_files(&hub);
                                return Ended::CrashLoop;
                            }
                        }
                    }
                    continue;
                }
                c = rx.recv() => c,
            }
        };

        match control.unwrap_or(Control::Stop { reply: None }) {
            Control::Stop { reply } => {
                let policy = hub.spec().stop;
                hub.set_state(InstanceState::Stopping, "stop requested");
                let how = match current.as_mut() {
                    Some(child) => stop_child(&hub, child, &policy, "stop requested").await,
                    None => "was not running".into(),
                };
                hub.set_state(InstanceState::Stopped, how.clone());
                hub.holder_log.log(&format!("stopped: {how}"));
                crate::hub::remove_runtime_files(&hub);
                return match reply {
                    Some(reply) => {
                        let name = hub.spec().name;
                        let _ = reply.send(Ok(format!("stopped {name} ({how})")));
                        Ended::ByRequest
                    }
                    None => Ended::BySignal,
                };
            }
            Control::Restart { reply } => {
                // Re-read the spec: the config may have been re-rendered since.
                let spec = match InstanceSpec::load(&hub.spec_path) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = reply.send(Err(format!("re-read spec: {e}")));
                        continue;
                    }
                };
                hub.set_state(InstanceState::Stopping, "restart requested");
                let how = match current.as_mut() {
                    Some(child) => stop_child(&hub, child, &spec.stop, "restart requested").await,
                    None => "was not running".into(),
                };
                current = None;
                retry_at = None;
                history.set_policy(spec.restart.clone());
                history.reset();
                hub.lock().spec = spec;
                hub.reset_size_to_spec();
                hub.lock().restarts += 1;
                match start_child(&hub) {
                    Ok(child) => {
                        let _ = reply.send(Ok(format!(
                            "restarted {} (previous child: {how}; new pid {})",
                            hub.spec().name,
                            child.pid
                        )));
                        current = Some(child);
                    }
                    Err(e) => {
                        let how = format!("failed to start: {e}");
                        hub.lock().last_exit = Some(how.clone());
                        retry_at = schedule_restart(&hub, &mut history, Duration::ZERO, &how);
                        let _ = reply.send(Err(how));
                    }
                }
            }
        }
    }
}

fn schedule_restart(
    hub: &Hub,
    history: &mut CrashHistory,
    ran: Duration,
    how: &str,
) -> Option<tokio::time::Instant> {
    hub.lock().crashes += 1;
    match history.on_crash(Instant::now(), ran) {
        CrashDecision::RestartAfter(delay) => {
            hub.set_state(
                InstanceState::Backoff,
                format!("{how}; restarting in {}", human::duration(delay)),
            );
            Some(tokio::time::Instant::now() + delay)
        }
        CrashDecision::CrashLoop { crashes } => {
            let window = human::duration(Duration::from_millis(
                hub.spec().restart.crash_loop_window_ms,
            ));
            hub.set_state(
                InstanceState::CrashLoop,
                format!("{crashes} crashes within {window}, last: {how}; use restart to try again"),
            );
            hub.holder_log.log("crash loop: no more automatic restarts");
            None
        }
    }
}
