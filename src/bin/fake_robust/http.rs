//! HTTP/1.1 listeners: one thread per listener and per connection, keep-alive with
//! `Content-Length` (or chunked) request bodies, `Connection: close` honoured. Robust's
//! routes (connectors per port, the grid service and accounts of `grid.rs`) and, through
//! [`listen_with`], any other handler (the fake simulator's).

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::grid::Grid;
use crate::migrations::Broken;
use crate::services;

/// Request bodies up to this size are kept for the handler; longer ones are read and
/// dropped (no fake call needs one: map tiles and assets are never looked at).
const MAX_KEPT_BODY: u64 = 4 << 20;

/// What every listener answers; connectors are added per port as they load.
pub struct Routes {
    pub instance: String,
    /// `[GridInfoService]` keys, already `${}`-expanded.
    pub grid_info: Vec<(String, String)>,
    loaded: RwLock<HashMap<u16, Vec<String>>>,
    /// Connectors that lost the migrations race: loaded, yet answering wrongly.
    broken: RwLock<HashMap<String, Broken>>,
    /// Regions and accounts, for the grid and user account connectors.
    grid: Arc<Grid>,
}

impl Routes {
    pub fn new(instance: String, grid_info: Vec<(String, String)>, grid: Arc<Grid>) -> Routes {
        Routes {
            instance,
            grid_info,
            loaded: RwLock::new(HashMap::new()),
            broken: RwLock::new(HashMap::new()),
            grid,
        }
    }

    /// Marks `class` broken (the migrations race, robust.md §0c) on every port.
    pub fn break_class(&self, class: &str, how: Broken) {
        let mut map = self.broken.write().unwrap_or_else(|e| e.into_inner());
        map.insert(class.to_string(), how);
    }

    fn broken(&self, class: &str) -> Option<Broken> {
        let map = self.broken.read().unwrap_or_else(|e| e.into_inner());
        map.get(class).copied()
    }

    pub fn add(&self, port: u16, class: &str) {
        let mut map = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        map.entry(port).or_default().push(class.to_string());
    }

    fn classes(&self, port: u16) -> Vec<String> {
        let map = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        map.get(&port).cloned().unwrap_or_default()
    }
}

/// Answers one request; `None` holds the connection without an answer (a hung process).
pub type Handler = dyn Fn(&Request) -> Option<Response> + Send + Sync;

/// Binds `addr:port` and serves Robust's routes on a background thread.
pub fn listen(addr: &str, port: u16, routes: Arc<Routes>) -> io::Result<()> {
    listen_with(
        addr,
        port,
        Arc::new(move |req: &Request| Some(route(req, port, &routes))),
    )
}

/// Binds `addr:port` and serves `handler` on a background thread.
pub fn listen_with(addr: &str, port: u16, handler: Arc<Handler>) -> io::Result<()> {
    let listener = TcpListener::bind((addr, port))?;
    std::thread::Builder::new()
        .name(format!("http-{port}"))
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = Arc::clone(&handler);
                // Too many threads only fails this one connection.
                let _ = std::thread::Builder::new().spawn(move || {
                    let _ = serve(stream, port, handler.as_ref());
                });
            }
        })?;
    Ok(())
}

pub struct Request {
    pub method: String,
    /// The target without its query string.
    pub path: String,
    pub keep_alive: bool,
    /// The body, when it is at most [`MAX_KEPT_BODY`] bytes (else empty).
    pub body: Vec<u8>,
}

impl Request {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Response {
    pub status: u16,
    /// The reason phrase, when not the usual one for the status.
    pub reason: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Close the connection after this answer, whatever the client asked.
    pub close: bool,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            reason: None,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
            close: false,
        }
    }
}

fn serve(stream: TcpStream, port: u16, handler: &Handler) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(req) = read_request(&mut reader)? {
        crate::console::log_http_in(port, &req.method, &req.path);
        let Some(resp) = handler(&req) else {
            // Never answered: the connection stays open until the process ends.
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        };
        let close = resp.close;
        write_response(&mut writer, &req, resp)?;
        if !req.keep_alive || close {
            break;
        }
    }
    Ok(())
}

fn read_line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = String::new();
    // Cap a line so a garbage client cannot grow it without bound.
    if r.take(16 * 1024).read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn read_request(r: &mut impl BufRead) -> io::Result<Option<Request>> {
    let line = loop {
        match read_line(r)? {
            None => return Ok(None),
            // Stray CRLFs between requests are allowed.
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(bad("bad request line"));
    };
    let version = parts.next().unwrap_or("HTTP/1.0");
    let mut length = 0u64;
    let mut chunked = false;
    let mut connection = String::new();
    loop {
        let Some(h) = read_line(r)? else {
            return Err(bad("eof in headers"));
        };
        if h.is_empty() {
            break;
        }
        let Some((name, value)) = h.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().map_err(|_| bad("bad length"))?,
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => connection = value.to_ascii_lowercase(),
            _ => {}
        }
    }
    // The body is kept for the handler while it is small, else read and dropped.
    let mut body = Vec::new();
    let keep = |r: &mut dyn Read, size: u64, body: &mut Vec<u8>| -> io::Result<u64> {
        if body.len() as u64 + size <= MAX_KEPT_BODY {
            r.take(size).read_to_end(body).map(|n| n as u64)
        } else {
            body.clear();
            io::copy(&mut r.take(size), &mut io::sink())
        }
    };
    if chunked {
        loop {
            let size_line = read_line(r)?.ok_or_else(|| bad("eof in chunk"))?;
            let size_hex = size_line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk"))?;
            if keep(r, size, &mut body)? != size {
                return Err(bad("short chunk"));
            }
            if size == 0 {
                // Trailers until the empty line.
                while read_line(r)?.is_some_and(|l| !l.is_empty()) {}
                break;
            }
            read_line(r)?;
        }
    } else if keep(r, length, &mut body)? != length {
        return Err(bad("short body"));
    }
    let keep_alive = if version == "HTTP/1.0" {
        connection == "keep-alive"
    } else {
        connection != "close"
    };
    let path = target.split('?').next().unwrap_or("/").to_string();
    Ok(Some(Request {
        method: method.to_string(),
        path,
        keep_alive,
        body,
    }))
}

fn route(req: &Request, port: u16, routes: &Routes) -> Response {
    let classes = routes.classes(port);
    let has = |c: &str| classes.iter().any(|x| x == c);
    let method = if req.method == "HEAD" {
        "GET"
    } else {
        req.method.as_str()
    };
    let mut resp = Response {
        status: 200,
        reason: None,
        headers: vec![("X-Robust-Instance", routes.instance.clone())],
        body: Vec::new(),
        close: false,
    };
    let grid_info = matches!(req.path.as_str(), "/get_grid_info" | "/json_grid_info");
    if grid_info && has("GridInfoServerInConnector") {
        if method != "GET" {
            resp.status = 405;
            return resp;
        }
        if req.path == "/get_grid_info" {
            let mut xml =
                String::from("<?xml version=\"1.0\"?>\n<gridinfo><platform>OpenSim</platform>");
            for (k, v) in &routes.grid_info {
                xml.push_str(&format!("<{k}>{}</{k}>", escape(v)));
            }
            xml.push_str("</gridinfo>\n");
            resp.headers.push(("Content-Type", "text/xml".into()));
            resp.body = xml.into_bytes();
        } else {
            let mut obj = serde_json::Map::new();
            obj.insert("platform".into(), "OpenSim".into());
            for (k, v) in &routes.grid_info {
                obj.insert(k.clone(), v.clone().into());
            }
            resp.headers
                .push(("Content-Type", "application/json".into()));
            resp.body = serde_json::Value::Object(obj).to_string().into_bytes();
        }
        return resp;
    }
    if req.path == "/helo" && has("HeloServiceInConnector") {
        resp.headers
            .push(("X-Handlers-Provided", "opensim-robust".into()));
        return resp;
    }
    if let Some(class) = classes
        .iter()
        .find(|c| services::serves(c, method, &req.path))
    {
        let broken = routes.broken(class);
        if broken == Some(Broken::AssetNotFound) && method == "GET" {
            resp.status = 404;
            return resp;
        }
        // The services a simulator talks to while it starts and stops (grid.rs).
        let answer = match (class.as_str(), method, req.path.as_str()) {
            _ if broken.is_some() => None,
            ("GridServiceConnector", "POST", "/grid") => {
                Some(routes.grid.handle_grid(&req.body_text()))
            }
            ("UserAccountServiceConnector", "POST", "/accounts") => {
                routes.grid.handle_accounts(&req.body_text())
            }
            _ => None,
        };
        if let Some(xml) = answer {
            resp.headers.push(("X-Robust-Connector", class.clone()));
            resp.headers
                .push(("Content-Type", "application/xml".into()));
            resp.body = xml.into_bytes();
            return resp;
        }
        let result = if broken == Some(Broken::ResultFalse) {
            "False"
        } else {
            "True"
        };
        resp.headers.push(("X-Robust-Connector", class.clone()));
        resp.headers.push(("Content-Type", "text/xml".into()));
        resp.body = format!(
            "<?xml version=\"1.0\"?><ServerResponse><RESULT>{result}</RESULT><INSTANCE>{}</INSTANCE><METHOD>{}</METHOD><PATH>{}</PATH><CONNECTOR>{class}</CONNECTOR></ServerResponse>",
            escape(&routes.instance),
            escape(&req.method),
            escape(&req.path),
        )
        .into_bytes();
        return resp;
    }
    resp.status = 404;
    resp.headers.push(("Content-Type", "text/html".into()));
    resp.body = b"<html><head><title>Page not found</title></head><body><p>We are very sorry, the page you requested was not found. (The knomes ate it.)</p></body></html>\n".to_vec();
    resp
}

fn write_response(w: &mut impl Write, req: &Request, resp: Response) -> io::Result<()> {
    let reason = resp.reason.unwrap_or(match resp.status {
        200 => "OK",
        302 => "Found",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    });
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", resp.status);
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    if !req.keep_alive || resp.close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if req.method != "HEAD" {
        out.extend_from_slice(&resp.body);
    }
    w.write_all(&out)?;
    w.flush()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
