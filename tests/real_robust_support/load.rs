//! A bounded request loop through nginx to the real asset service: GETs of a stored
//! asset (a new connection each, and one kept-alive connection) and POSTs of new assets,
//! counted per phase. It stops when told, and by itself after [`MAX_RUN`] or
//! [`MAX_REQUESTS`] (network traffic stays on 127.0.0.1).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The loop stops by itself after this long, whatever the test does.
pub const MAX_RUN: Duration = Duration::from_secs(240);
/// ... or after this many requests in all.
pub const MAX_REQUESTS: u64 = 400_000;
/// Connect, write and read timeout of one request.
const REQ_TIMEOUT: Duration = Duration::from_secs(5);

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
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut seq: u64 = 0;
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
        let mut reset = false;
        let result = match kind {
            Kind::Get => request(target, "GET", &asset_path(target), None, false, &mut None),
            Kind::GetKeepAlive => {
                let reused = conn.is_some();
                match request(target, "GET", &asset_path(target), None, true, &mut conn) {
                    Err(Failure::ClosedBeforeAnswer) if reused => {
                        reset = true;
                        conn = None;
                        request(target, "GET", &asset_path(target), None, true, &mut conn)
                    }
                    other => other,
                }
            }
            Kind::Post => {
                let id = format!("{:08x}-0000-4000-8000-{:012x}", 0x1000 + n, seq);
                let body = asset_xml(&id, "load");
                let r = request(
                    target,
                    "POST",
                    "/assets",
                    Some(body.as_bytes()),
                    false,
                    &mut None,
                );
                shared.posts_in_flight.fetch_sub(1, Ordering::SeqCst);
                r
            }
        };
        let mut phases = lock(&shared.phases);
        let p = &mut phases[phase];
        *p.by_kind.entry(format!("{kind:?}")).or_default() += 1;
        if reset {
            p.keepalive_resets += 1;
        }
        match result {
            Ok(200) => p.ok += 1,
            Ok(status) => {
                p.failed += 1;
                p.failures.push(format!(
                    "{kind:?} at {:.3}s: status {status}",
                    t0.as_secs_f64()
                ));
            }
            Err(e) => {
                p.failed += 1;
                p.failures
                    .push(format!("{kind:?} at {:.3}s: {e:?}", t0.as_secs_f64()));
            }
        }
    }
}

fn asset_path(target: &Target) -> String {
    format!("/assets/{}", target.asset_id)
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

#[derive(Debug)]
pub enum Failure {
    /// A kept-alive connection closed before any byte of the answer.
    ClosedBeforeAnswer,
    Io(String),
}

/// One request and its HTTP status. With `keep_alive`, the connection in `conn` is used
/// (a new one when empty) and put back there after a complete answer; without it, a new
/// connection is closed after the answer.
pub fn request(
    target: &Target,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    keep_alive: bool,
    conn: &mut Option<BufReader<TcpStream>>,
) -> Result<u16, Failure> {
    let io = |e: std::io::Error| Failure::Io(e.to_string());
    let mut stream = match conn.take() {
        Some(c) => c,
        None => {
            let s = TcpStream::connect_timeout(&target.addr, REQ_TIMEOUT).map_err(io)?;
            s.set_read_timeout(Some(REQ_TIMEOUT)).map_err(io)?;
            s.set_write_timeout(Some(REQ_TIMEOUT)).map_err(io)?;
            BufReader::new(s)
        }
    };
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        target.host,
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    let sent = stream
        .get_mut()
        .write_all(head.as_bytes())
        .and_then(|()| stream.get_mut().write_all(body));
    if let Err(e) = sent {
        return Err(Failure::Io(e.to_string()));
    }
    let mut status_line = String::new();
    match stream.read_line(&mut status_line) {
        Ok(0) => return Err(Failure::ClosedBeforeAnswer),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            return Err(Failure::ClosedBeforeAnswer)
        }
        Err(e) => return Err(io(e)),
    }
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Failure::Io(format!("bad status line {status_line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = false;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).map_err(io)? == 0 {
            return Err(Failure::Io("closed in the headers".into()));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => length = v.parse().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    if chunked {
        loop {
            let mut size = String::new();
            stream.read_line(&mut size).map_err(io)?;
            let n = usize::from_str_radix(size.trim(), 16)
                .map_err(|_| Failure::Io(format!("bad chunk size {size:?}")))?;
            let mut chunk = vec![0; n + 2];
            stream.read_exact(&mut chunk).map_err(io)?;
            if n == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        let mut buf = vec![0; n];
        stream.read_exact(&mut buf).map_err(io)?;
    } else {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).map_err(io)?;
        close = true;
    }
    if keep_alive && !close {
        *conn = Some(stream);
    }
    Ok(status)
}
