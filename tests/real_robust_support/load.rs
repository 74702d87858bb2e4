//! A bounded request loop through nginx to the real asset service: GETs of a stored
//! asset (a new connection each, and one kept-alive connection) and POSTs of new assets,
//! counted per phase. It stops when told, and by itself after [`MAX_RUN`] or
//! [`MAX_REQUESTS`] (network traffic stays on 127.0.0.1).

use crate::common::http::{get_keep_alive, request_once, Conn};
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// GET of the stored asset on a new connection (`Connection: close`).
    Get,
    /// GET of the stored asset on one kept-alive connection.
    GetKeepAlive,
    /// POST of a new asset on a new connection.
    Post,
}

#[derive(Debug, Default, Clone)]
pub struct Phase {
    pub name: String,
    pub ok: u64,
    pub failed: u64,
    /// Kept-alive connections nginx closed before answering (an old worker letting idle
    /// client connections go on reload): the GET is retried once on a new connection, as
    /// RFC 9112 §9.3.1 allows for an idempotent request; counted here, not as a failure.
    pub keepalive_resets: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub failures: Vec<String>,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} requests, {} failed, {} keep-alive resets {:?}",
            self.name,
            self.ok + self.failed,
            self.failed,
            self.keepalive_resets,
            self.by_kind
        )?;
        for e in self.failures.iter().take(5) {
            write!(f, "\n    failure: {e}")?;
        }
        Ok(())
    }
}

struct Shared {
    stop: AtomicBool,
    phase: AtomicUsize,
    total: AtomicU64,
    posts_paused: AtomicBool,
    posts_in_flight: AtomicUsize,
    phases: Mutex<Vec<Phase>>,
}

pub struct Load {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

pub struct Target {
    /// nginx's private listener.
    pub addr: SocketAddr,
    /// The asset service's hostname there.
    pub host: String,
    /// An asset that exists (GETs read it).
    pub asset_id: String,
}

impl Load {
    pub fn start(target: Target, kinds: &[Kind], first_phase: &str) -> Load {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            phase: AtomicUsize::new(0),
            total: AtomicU64::new(0),
            posts_paused: AtomicBool::new(false),
            posts_in_flight: AtomicUsize::new(0),
            phases: Mutex::new(vec![Phase {
                name: first_phase.into(),
                ..Phase::default()
            }]),
        });
        let target = Arc::new(target);
        let threads = kinds
            .iter()
            .enumerate()
            .map(|(n, &kind)| {
                let shared = Arc::clone(&shared);
                let target = Arc::clone(&target);
                std::thread::Builder::new()
                    .name(format!("load-{n}"))
                    .spawn(move || worker(&shared, &target, kind, n))
                    .expect("spawn a load thread")
            })
            .collect();
        Load { shared, threads }
    }

    /// Requests started from now on count in a new phase.
    pub fn phase(&self, name: &str) {
        let mut phases = lock(&self.shared.phases);
        phases.push(Phase {
            name: name.into(),
            ..Phase::default()
        });
        self.shared.phase.store(phases.len() - 1, Ordering::SeqCst);
    }

    /// Stops sending POSTs and waits until none is in flight.
    pub fn pause_posts(&self) {
        self.shared.posts_paused.store(true, Ordering::SeqCst);
        crate::common::wait::wait_for("in-flight POSTs", Duration::from_secs(15), || {
            (self.shared.posts_in_flight.load(Ordering::SeqCst) == 0).then_some(())
        });
    }

    pub fn resume_posts(&self) {
        self.shared.posts_paused.store(false, Ordering::SeqCst);
    }

    /// Waits until the current phase has at least `n` answered requests.
    pub fn wait_requests(&self, n: u64, timeout: Duration) {
        let idx = self.shared.phase.load(Ordering::SeqCst);
        crate::common::wait::wait_for(
            &format!("{n} requests in the current phase"),
            timeout,
            || {
                let phases = lock(&self.shared.phases);
                let p = &phases[idx];
                (p.ok + p.failed >= n).then_some(())
            },
        );
    }

    /// Stops the loop; every phase's figures.
    pub fn finish(mut self) -> Vec<Phase> {
        self.stop_threads();
        lock(&self.shared.phases).clone()
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn worker(shared: &Shared, target: &Target, kind: Kind, n: usize) {
    let started = Instant::now();
    let mut conn: Option<Conn> = None;
    let mut seq: u64 = 0;
    let get_path = format!("/assets/{}", target.asset_id);
    while !shared.stop.load(Ordering::SeqCst)
        && started.elapsed() < MAX_RUN
        && shared.total.fetch_add(1, Ordering::SeqCst) < MAX_REQUESTS
    {
        if kind == Kind::Post {
            if shared.posts_paused.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            shared.posts_in_flight.fetch_add(1, Ordering::SeqCst);
            if shared.posts_paused.load(Ordering::SeqCst) {
                shared.posts_in_flight.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
        }
        seq += 1;
        let phase = shared.phase.load(Ordering::SeqCst);
        let t0 = started.elapsed();
        let (addr, host) = (target.addr, target.host.as_str());
        let (result, reset) = match kind {
            Kind::Get => (
                request_once(addr, host, "GET", &get_path, None, false, &mut None),
                false,
            ),
            Kind::GetKeepAlive => get_keep_alive(addr, host, &get_path, &mut conn),
            Kind::Post => {
                let id = format!("{:08x}-0000-4000-8000-{:012x}", 0x1000 + n, seq);
                let body = asset_xml(&id, "load");
                let r = request_once(
                    addr,
                    host,
                    "POST",
                    "/assets",
                    Some(body.as_bytes()),
                    false,
                    &mut None,
                );
                shared.posts_in_flight.fetch_sub(1, Ordering::SeqCst);
                (r, false)
            }
        };
        let mut phases = lock(&shared.phases);
        let p = &mut phases[phase];
        *p.by_kind.entry(format!("{kind:?}")).or_default() += 1;
        if reset {
            p.keepalive_resets += 1;
        }
        match result {
            Ok(a) if a.status == 200 => p.ok += 1,
            Ok(a) => {
                p.failed += 1;
                p.failures.push(format!(
                    "{kind:?} at {:.3}s: status {}",
                    t0.as_secs_f64(),
                    a.status
                ));
            }
            Err(e) => {
                p.failed += 1;
                p.failures
                    .push(format!("{kind:?} at {:.3}s: {e}", t0.as_secs_f64()));
            }
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
