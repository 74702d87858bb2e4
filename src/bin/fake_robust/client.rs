//! The fake simulator's HTTP client: a form POST to a Robust URL as OpenSim 0.9.2.2's
//! `SynchronousRestFormsRequester` sends it (simulator.md §4): `Host` from the URL, the
//! body in one write, failures worded as Mono's `WebException`s. The `Resolve` knob
//! (`FAKE_ROBUST_RESOLVE`) stands in for DNS, so a test can reach a hostname-based URL
//! through a local nginx while the `Host` header keeps the name.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// HttpWebRequest's default timeout.
const TIMEOUT: Duration = Duration::from_secs(100);

/// An `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// The path as written after the authority (`/` when there is none).
    pub path: String,
    /// What .NET sends as `Host`: the port only when it is not the scheme's default.
    pub host_header: String,
}

/// Parses an `http://` URL; anything else (https included: the fake speaks no TLS) is
/// `None`.
pub fn parse_url(url: &str) -> Option<Url> {
    let (scheme, rest) = url.trim().split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 literal's colons are inside brackets.
        Some((h, p)) if !p.contains(']') => (h, p.parse::<u16>().ok()?),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    let shown = if authority.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Some(Url {
        host: host.to_string(),
        port,
        path: path.to_string(),
        host_header: if port == 80 {
            shown
        } else {
            format!("{shown}:{port}")
        },
    })
}

/// Names answered without DNS: `name=ip` and `*.suffix=ip`, comma-separated.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    entries: Vec<(String, IpAddr)>,
}

impl Resolver {
    /// Reads the `Resolve` knob; entries that do not parse are returned as problems.
    pub fn parse(spec: &str) -> (Resolver, Vec<String>) {
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        for entry in spec
            .split([',', ' ', '\t', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match entry
                .split_once('=')
                .map(|(n, ip)| (n.trim(), ip.trim().parse::<IpAddr>()))
            {
                Some((name, Ok(ip))) if !name.is_empty() => {
                    entries.push((name.to_ascii_lowercase(), ip))
                }
                _ => problems.push(format!(
                    "[FAKE]: ignoring resolve entry `{entry}`: want `name=IP` or `*.domain=IP`"
                )),
            }
        }
        (Resolver { entries }, problems)
    }

    /// The address the knob gives `host`, if any (the first matching entry).
    pub fn lookup(&self, host: &str) -> Option<IpAddr> {
        let host = host.to_ascii_lowercase();
        self.entries.iter().find_map(|(name, ip)| {
            let hit = match name.strip_prefix('*') {
                Some(suffix) => suffix.starts_with('.') && host.ends_with(suffix),
                None => *name == host,
            };
            hit.then_some(*ip)
        })
    }

    /// Where to connect for `host:port`: the knob first, then the system resolver.
    pub fn resolve(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        if let Some(ip) = self.lookup(host) {
            return Some(vec![SocketAddr::new(ip, port)]);
        }
        let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().ok()?.collect();
        (!addrs.is_empty()).then_some(addrs)
    }
}

/// Why a request got no answer, as Mono words it after `Error: `.
#[derive(Debug)]
pub enum Failure {
    /// Not an `http://` URL the fake can reach.
    BadUrl,
    NameResolution,
    Connect(String),
    Receive(String),
    /// A status other than 200.
    Status(u16, String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadUrl => write!(
                f,
                "Invalid URI: The format of the URI could not be determined."
            ),
            Failure::NameResolution => write!(f, "Error: NameResolutionFailure"),
            Failure::Connect(why) => write!(f, "Error: ConnectFailure ({why})"),
            Failure::Receive(why) => write!(f, "Error: ReceiveFailure ({why})"),
            Failure::Status(code, reason) => {
                write!(f, "The remote server returned an error: ({code}) {reason}.")
            }
        }
    }
}

impl Failure {
    /// The INFO line `SynchronousRestFormsRequester` logs before it rethrows.
    pub fn forms_line(&self, url: &str) -> String {
        match self {
            Failure::BadUrl => {
                format!("[FORMS]: Error creating POST request to : {url}. Request: {self}")
            }
            Failure::NameResolution | Failure::Connect(_) => {
                format!("[FORMS]: Error sending POST request to: {url}. {self}")
            }
            Failure::Receive(_) | Failure::Status(..) => {
                format!("[FORMS]: Error receiving response from {url}: {self}.")
            }
        }
    }
}

/// An OS error without Rust's ` (os error N)` suffix, as Mono shows it.
fn os_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `POST url` with a form body; the response body on a 200.
pub fn post_form(resolver: &Resolver, url: &str, body: &str) -> Result<String, Failure> {
    let u = parse_url(url).ok_or(Failure::BadUrl)?;
    let addrs = resolver
        .resolve(&u.host, u.port)
        .ok_or(Failure::NameResolution)?;
    let mut last = None;
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(mut stream) = stream else {
        let why = last.map_or_else(|| "no address".to_string(), |e| os_text(&e));
        return Err(Failure::Connect(why));
    };
    let receive = |e: io::Error| Failure::Receive(os_text(&e));
    stream.set_read_timeout(Some(TIMEOUT)).map_err(receive)?;
    // Headers as measured on 0.9.2.2 (a new connection says keep-alive).
    let request = format!(
        "POST {} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: keep-alive\r\nHost: {}\r\n\r\n{body}",
        u.path,
        body.len(),
        u.host_header
    );
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(receive)?;
    let mut reader = BufReader::new(stream);
    let (status, reason, text) = read_response(&mut reader).map_err(receive)?;
    if status != 200 {
        return Err(Failure::Status(status, reason));
    }
    Ok(text)
}

fn line(r: &mut impl BufRead) -> io::Result<String> {
    let mut s = String::new();
    if r.take(64 * 1024).read_line(&mut s)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

/// `(status, reason, body)` of one response: by `Content-Length`, chunked, or to EOF.
fn read_response(r: &mut impl BufRead) -> io::Result<(u16, String, String)> {
    let status_line = line(r)?;
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut length: Option<u64> = None;
    let mut chunked = false;
    loop {
        let h = line(r)?;
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().ok(),
                "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let size = u64::from_str_radix(line(r)?.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk"))?;
            if size == 0 {
                break;
            }
            r.take(size).read_to_end(&mut body)?;
            line(r)?;
        }
    } else if let Some(n) = length {
        r.take(n).read_to_end(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok((status, reason, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_host_headers() {
        let u = parse_url("http://127.0.0.1:31520").expect("url");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 31520, "/")
        );
        assert_eq!(u.host_header, "127.0.0.1:31520");
        let u = parse_url("http://grid.robust.internal/grid").expect("url");
        assert_eq!(
            (u.port, u.host_header.as_str()),
            (80, "grid.robust.internal")
        );
        let u = parse_url("http://g.x:80/a").expect("url");
        assert_eq!(u.host_header, "g.x");
        let u = parse_url("http://[::1]:9/").expect("url");
        assert_eq!(
            (u.host.as_str(), u.host_header.as_str()),
            ("::1", "[::1]:9")
        );
        assert!(parse_url("https://g.x/").is_none());
        assert!(parse_url("g.x:1").is_none());
        assert!(parse_url("http://g.x:port/").is_none());
    }

    #[test]
    fn resolve_knob_names_and_wildcards() {
        let (r, problems) =
            Resolver::parse("grid.example=127.0.0.2, *.robust.internal=127.0.0.1,bad,=1.2.3.4");
        assert_eq!(problems.len(), 2);
        assert_eq!(
            r.lookup("GRID.example"),
            Some("127.0.0.2".parse().expect("ip"))
        );
        assert_eq!(
            r.lookup("a.b.robust.internal"),
            Some("127.0.0.1".parse().expect("ip"))
        );
        assert_eq!(r.lookup("robust.internal"), None);
        assert_eq!(r.lookup("other"), None);
        let addrs = r.resolve("x.robust.internal", 7).expect("resolved");
        assert_eq!(
            addrs,
            vec!["127.0.0.1:7".parse::<SocketAddr>().expect("addr")]
        );
        assert!(r.resolve("nothing.nonexistent.invalid", 7).is_none());
    }

    #[test]
    fn failures_read_like_mono() {
        assert_eq!(
            Failure::NameResolution.to_string(),
            "Error: NameResolutionFailure"
        );
        assert_eq!(
            Failure::Connect("Connection refused".into()).to_string(),
            "Error: ConnectFailure (Connection refused)"
        );
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(!os_text(&refused).contains("os error"));
    }
}
