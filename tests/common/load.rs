//! A bounded request loop through nginx to the asset service, for the live-grid tests:
//! GETs on new or kept-alive connections and POSTs of new assets, counted per phase (the
//! test names phases around the operations it measures), with which copy answered when
//! the server says so (the fake Robust's `X-Robust-Instance`). It stops when told, and by
//! itself after [`MAX_RUN`] or [`MAX_REQUESTS`] (traffic stays on 127.0.0.1).
#![allow(dead_code)] // each test crate uses a different subset

use super::http::{get_keep_alive, request_once, Answer, Conn};
use super::wait::wait_for;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The loop stops by itself after this long, whatever the test does.
pub const MAX_RUN: Duration = Duration::from_secs(240);
/// ... or after this many requests in all.
pub const MAX_REQUESTS: u64 = 400_000;

/// Where the requests go.
#[derive(Clone, Debug)]
pub struct Target {
    /// nginx's private listener.
    pub addr: SocketAddr,
    /// The asset service's hostname there.
    pub host: String,
    /// The asset every GET reads; `None`: a new id per request (the fake answers any).
    pub asset_id: Option<String>,
    /// Each thread's pause between its requests.
    pub pace: Duration,
}

#[derive(Debug, Default, Clone)]
pub struct PhaseStats {
    pub name: String,
    pub ok: u64,
    pub failed: u64,
    pub gets: u64,
    pub posts: u64,
    /// Keep-alive GETs whose reused connection was closed by nginx before any byte of an
    /// answer (an old worker closing idle connections on reload): retried once on a new
    /// connection, as RFC 9112 §9.3.1 allows for idempotent requests. Never a POST.
    pub stale_retries: u64,
    pub by_instance: BTreeMap<String, u64>,
    pub failures: Vec<String>,
    pub took: Duration,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    total: AtomicU64,
    phase: AtomicUsize,
    posts_paused: AtomicBool,
    posts_in_flight: AtomicUsize,
    phases: Mutex<Vec<PhaseStats>>,
    started: Mutex<Vec<Instant>>,
}

pub struct Load {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    GetKeepAlive,
    GetClose,
    PostClose,
}

impl Load {
    /// Starts one thread per kind against `target`.
    pub fn start(target: Target, kinds: &[Kind], first_phase: &str) -> Load {
        let target = Arc::new(target);
        let shared = Arc::new(Shared::default());
        shared
            .phases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(PhaseStats {
                name: first_phase.into(),
                ..Default::default()
            });
        shared
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Instant::now());
        let threads = kinds
            .iter()
            .enumerate()
            .map(|(n, kind)| {
                let shared = Arc::clone(&shared);
                let target = Arc::clone(&target);
                let kind = *kind;
                std::thread::Builder::new()
                    .name(format!("load-{n}"))
                    .spawn(move || worker(&shared, &target, kind, n))
                    .expect("spawn load thread")
            })
            .collect();
        Load { shared, threads }
    }

    /// Requests started from now on count in a new phase.
    pub fn phase(&self, name: &str) {
        let mut phases = self.shared.phases.lock().unwrap_or_else(|e| e.into_inner());
        phases.push(PhaseStats {
            name: name.into(),
            ..Default::default()
        });
        self.shared
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Instant::now());
        self.shared.phase.store(phases.len() - 1, Ordering::SeqCst);
    }

    /// Stops sending POSTs and waits until none is in flight.
    pub fn pause_posts(&self) {
        self.shared.posts_paused.store(true, Ordering::SeqCst);
        wait_for("in-flight POSTs to finish", Duration::from_secs(10), || {
            (self.shared.posts_in_flight.load(Ordering::SeqCst) == 0).then_some(())
        });
    }

    pub fn resume_posts(&self) {
        self.shared.posts_paused.store(false, Ordering::SeqCst);
    }

    /// Waits until the current phase has at least `n` answered requests (ok or failed).
    pub fn wait_requests(&self, n: u64, timeout: Duration) {
        let idx = self.shared.phase.load(Ordering::SeqCst);
        wait_for(
            &format!("{n} requests in the current phase"),
            timeout,
            || {
                let phases = self.shared.phases.lock().unwrap_or_else(|e| e.into_inner());
                let p = &phases[idx];
                (p.ok + p.failed >= n).then_some(())
            },
        );
    }

    /// Waits until every instance in `names` answered at least one request in the current phase.
    pub fn wait_served_by(&self, names: &[&str], timeout: Duration) {
        let idx = self.shared.phase.load(Ordering::SeqCst);
        wait_for(
            &format!("requests answered by each of {names:?}"),
            timeout,
            || {
                let phases = self.shared.phases.lock().unwrap_or_else(|e| e.into_inner());
                names
                    .iter()
                    .all(|n| phases[idx].by_instance.contains_key(*n))
                    .then_some(())
            },
        );
    }

    pub fn snapshot(&self) -> Vec<PhaseStats> {
        self.shared
            .phases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops the threads and returns every phase's numbers.
    pub fn finish(mut self) -> Vec<PhaseStats> {
        self.stop_threads();
        let mut phases = self
            .shared
            .phases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let started = self
            .shared
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let end = Instant::now();
        for (i, p) in phases.iter_mut().enumerate() {
            let next = started.get(i + 1).copied().unwrap_or(end);
            p.took = next.saturating_duration_since(started[i]);
        }
        phases
    }

    fn stop_threads(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.posts_paused.store(false, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

pub fn summary(phases: &[PhaseStats]) -> String {
    let mut s = String::new();
    for p in phases {
        s.push_str(&format!(
            "{:<22} {:>6.2}s ok {:>6} failed {:>3} (GET {} POST {}; stale keep-alive retries {}) by copy {:?}\n",
            p.name,
            p.took.as_secs_f64(),
            p.ok,
            p.failed,
            p.gets,
            p.posts,
            p.stale_retries,
            p.by_instance
        ));
        for f in p.failures.iter().take(10) {
            s.push_str(&format!("    failure: {f}\n"));
        }
    }
    s
}

fn worker(shared: &Shared, target: &Target, kind: Kind, n: usize) {
    let mut conn: Option<Conn> = None;
    let mut seq: u64 = 0;
    let started = Instant::now();
    let (addr, host) = (target.addr, target.host.as_str());
    while !shared.stop.load(Ordering::SeqCst)
        && started.elapsed() < MAX_RUN
        && shared.total.fetch_add(1, Ordering::SeqCst) < MAX_REQUESTS
    {
        seq += 1;
        let is_post = matches!(kind, Kind::PostClose);
        if is_post {
            if shared.posts_paused.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            shared.posts_in_flight.fetch_add(1, Ordering::SeqCst);
            if shared.posts_paused.load(Ordering::SeqCst) {
                shared.posts_in_flight.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
        }
        let phase = shared.phase.load(Ordering::SeqCst);
        let id = format!("{n:08x}-0000-4000-8000-{seq:012x}");
        let get_path = format!("/assets/{}", target.asset_id.as_deref().unwrap_or(&id));
        let t0 = Instant::now();
        let (result, stale) = match kind {
            Kind::GetKeepAlive => get_keep_alive(addr, host, &get_path, &mut conn),
            Kind::GetClose => (
                request_once(addr, host, "GET", &get_path, None, false, &mut None),
                false,
            ),
            Kind::PostClose => {
                let body = asset_xml(&id, "load");
                let post = Some(body.as_bytes());
                (
                    request_once(addr, host, "POST", "/assets", post, false, &mut None),
                    false,
                )
            }
        };
        if is_post {
            shared.posts_in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        {
            let mut phases = shared.phases.lock().unwrap_or_else(|e| e.into_inner());
            let p = &mut phases[phase];
            if is_post {
                p.posts += 1;
            } else {
                p.gets += 1;
            }
            if stale {
                p.stale_retries += 1;
            }
            match result {
                Ok(Answer {
                    status: 200,
                    instance,
                }) => {
                    p.ok += 1;
                    if let Some(inst) = instance {
                        *p.by_instance.entry(inst).or_default() += 1;
                    }
                }
                Ok(a) => {
                    p.failed += 1;
                    p.failures.push(format!(
                        "{kind:?} at {:.3}s: status {} from {:?}",
                        (t0 - started).as_secs_f64(),
                        a.status,
                        a.instance
                    ));
                }
                Err(e) => {
                    p.failed += 1;
                    p.failures.push(format!(
                        "{kind:?} at {:.3}s: {e}",
                        (t0 - started).as_secs_f64()
                    ));
                }
            }
        }
        if !target.pace.is_zero() {
            std::thread::sleep(target.pace);
        }
    }
}

/// An `AssetBase` as Robust's asset connector reads it (a 5-byte text asset).
pub fn asset_xml(id: &str, name: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><AssetBase><Data>SGVsbG8=</Data>\
         <FullID><Guid>{id}</Guid></FullID><ID>{id}</ID><Name>{name}</Name>\
         <Description>gridctl test</Description><Type>7</Type><Local>false</Local>\
         <Temporary>false</Temporary><CreatorID>00000000-0000-0000-0000-000000000000</CreatorID>\
         <Flags>Normal</Flags></AssetBase>"
    )
}
