//! A small HTTP/1.1 client for the load loops of the live-grid tests: one request on a
//! new or kept-alive connection, with a stale kept-alive connection (closed by nginx
//! before any byte of an answer, as an old worker does on reload) told apart from other
//! failures, so an idempotent GET can be retried once (RFC 9112 §9.3.1).
#![allow(dead_code)] // each test crate uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connect, each write and each read.
pub const REQ_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    used: bool,
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The fake Robust names the copy that answered (`X-Robust-Instance`).
    pub instance: Option<String>,
}

pub enum ReqError {
    /// Nothing came back on a connection that had served requests before.
    Stale(String),
    Other(String),
}

pub fn get_keep_alive(
    addr: SocketAddr,
    host: &str,
    path: &str,
    conn: &mut Option<Conn>,
) -> (Result<Answer, String>, bool) {
    match request(addr, host, "GET", path, None, true, conn) {
        Ok(a) => (Ok(a), false),
        Err(ReqError::Stale(_)) => {
            *conn = None;
            (
                request_once(addr, host, "GET", path, None, true, conn),
                true,
            )
        }
        Err(ReqError::Other(e)) => {
            *conn = None;
            (Err(e), false)
        }
    }
}

pub fn request_once(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    keep_alive: bool,
    conn: &mut Option<Conn>,
) -> Result<Answer, String> {
    let r = request(addr, host, method, path, body, keep_alive, conn).map_err(|e| match e {
        ReqError::Stale(s) | ReqError::Other(s) => s,
    });
    if r.is_err() || !keep_alive {
        *conn = None;
    }
    r
}

pub fn request(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    keep_alive: bool,
    conn: &mut Option<Conn>,
) -> Result<Answer, ReqError> {
    if conn.is_none() {
        let s = TcpStream::connect_timeout(&addr, REQ_TIMEOUT)
            .map_err(|e| ReqError::Other(format!("connect: {e}")))?;
        s.set_read_timeout(Some(REQ_TIMEOUT)).ok();
        s.set_write_timeout(Some(REQ_TIMEOUT)).ok();
        s.set_nodelay(true).ok();
        let reader = BufReader::new(s.try_clone().map_err(|e| ReqError::Other(e.to_string()))?);
        *conn = Some(Conn {
            reader,
            writer: s,
            used: false,
        });
    }
    let c = conn.as_mut().expect("connection");
    let reused = c.used;
    c.used = true;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gridctl-test\r\n");
    if !keep_alive {
        req.push_str("Connection: close\r\n");
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: text/xml\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    let early = |what: String| {
        if reused {
            ReqError::Stale(what)
        } else {
            ReqError::Other(what)
        }
    };
    c.writer
        .write_all(&bytes)
        .map_err(|e| early(format!("write: {e}")))?;
    // Status line: nothing at all on a reused connection = closed under us.
    let mut line = String::new();
    match c.reader.read_line(&mut line) {
        Ok(0) => return Err(early("connection closed before any answer".into())),
        Ok(_) => {}
        Err(e)
            if line.is_empty()
                && e.kind() != std::io::ErrorKind::WouldBlock
                && e.kind() != std::io::ErrorKind::TimedOut =>
        {
            return Err(early(format!("read: {e}")))
        }
        Err(e) => return Err(ReqError::Other(format!("read status line: {e}"))),
    }
    let other = |s: String| ReqError::Other(s);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| other(format!("bad status line {line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = !keep_alive;
    let mut instance = None;
    loop {
        let mut h = String::new();
        let n = c
            .reader
            .read_line(&mut h)
            .map_err(|e| other(format!("read headers: {e}")))?;
        if n == 0 {
            return Err(other("eof in headers".into()));
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.parse().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "connection" => close |= v.eq_ignore_ascii_case("close"),
                "x-robust-instance" => instance = Some(v.to_string()),
                _ => {}
            }
        }
    }
    if chunked {
        loop {
            let mut size = String::new();
            c.reader
                .read_line(&mut size)
                .map_err(|e| other(format!("read chunk: {e}")))?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| other(format!("bad chunk size {size:?}")))?;
            let mut buf = vec![0; n + 2];
            c.reader
                .read_exact(&mut buf)
                .map_err(|e| other(format!("read chunk: {e}")))?;
            if n == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        let mut buf = vec![0; n];
        c.reader
            .read_exact(&mut buf)
            .map_err(|e| other(format!("read body: {e}")))?;
    } else {
        let mut sink = Vec::new();
        c.reader
            .read_to_end(&mut sink)
            .map_err(|e| other(format!("read body: {e}")))?;
        close = true;
    }
    if close {
        *conn = None;
    }
    Ok(Answer { status, instance })
}
