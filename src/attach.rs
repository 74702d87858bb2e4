//! `attach`: the operator's terminal wired to an instance's console through its
//! holder, raw bytes both ways, like `screen -r`.
//!
//! The terminal is in raw mode behind [`RawModeGuard`], restored exactly once on
//! every path (normal end, error, panic: the guard's `Drop` and a panic hook share
//! one flag). Window size changes are forwarded on SIGWINCH. The detach sequence is
//! configurable; pressing its first key twice sends that key to the console.

mod filter;

use crate::client::{ClientError, HolderClient};
use crate::protocol::{
    decode_control, read_frame, write_control, write_frame, ClientMessage, HolderMessage,
    KIND_CONTROL, KIND_DATA,
};
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::Duration;

/// After a one-key detach sequence, wait this long for a second press (which sends
/// the key literally) before detaching.
const SINGLE_KEY_WAIT: Duration = Duration::from_millis(400);

/// A one- or two-key detach sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKey {
    bytes: Vec<u8>,
    label: String,
}

impl DetachKey {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Human form, e.g. `Ctrl-]` or `Ctrl-A d`.
    pub fn label(&self) -> &str {
        &self.label
    }
}

impl Default for DetachKey {
    fn default() -> Self {
        DetachKey {
            bytes: vec![0x1d],
            label: "Ctrl-]".into(),
        }
    }
}

/// Parses `ctrl-]`, `ctrl-a d`, `C-b`, `^A x`: one or two keys, a control key first.
pub fn parse_detach_key(s: &str) -> Result<DetachKey, String> {
    let keys: Vec<&str> = s.split_whitespace().collect();
    if keys.is_empty() || keys.len() > 2 {
        return Err(format!(
            "detach key `{s}` must be one or two keys, e.g. `ctrl-]` or `ctrl-a d`"
        ));
    }
    let mut bytes = Vec::new();
    let mut labels = Vec::new();
    for key in &keys {
        let (byte, label) = parse_key(key).ok_or_else(|| {
            format!("unknown key `{key}` in detach key `{s}` (use `ctrl-<letter>`, `ctrl-]`, or a single character)")
        })?;
        bytes.push(byte);
        labels.push(label);
    }
    if bytes[0] >= 0x20 {
        return Err(format!(
            "detach key `{s}` must start with a control key, e.g. `ctrl-]`"
        ));
    }
    Ok(DetachKey {
        bytes,
        label: labels.join(" "),
    })
}

fn parse_key(key: &str) -> Option<(u8, String)> {
    let lower = key.to_ascii_lowercase();
    let ctrl = ["ctrl-", "ctrl+", "c-", "^"]
        .iter()
        .find_map(|p| lower.strip_prefix(p).map(|_| &key[p.len()..]));
    match ctrl {
        Some(rest) => {
            let mut chars = rest.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return None;
            };
            let upper = c.to_ascii_uppercase();
            match upper {
                '@' | 'A'..='Z' | '[' | '\\' | ']' | '^' | '_' => {
                    Some((upper as u8 & 0x1f, format!("Ctrl-{upper}")))
                }
                _ => None,
            }
        }
        None => {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_graphic() => Some((c as u8, c.to_string())),
                _ => None,
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    pub read_only: bool,
    /// Pass the console's clipboard writes and terminal queries (`filter`).
    pub allow_queries: bool,
    pub detach: DetachKey,
    /// Do not print how the session ended (`detached from …`): the dashboard says it
    /// in its own status line, so nothing is written outside its screen.
    pub quiet_end: bool,
}

/// How an attach session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachEnd {
    /// The operator pressed the detach sequence (or stdin ended); the instance runs on.
    Detached,
    /// The holder closed the connection (the instance was stopped).
    HolderClosed,
    /// The holder disconnected this viewer with a reason (e.g. it fell behind).
    Disconnected(String),
}

static RAW_ACTIVE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// Raw mode on the controlling terminal while alive.
pub struct RawModeGuard(());

impl RawModeGuard {
    pub fn enable() -> io::Result<RawModeGuard> {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // Restore first so the panic message is readable.
                restore_terminal();
                previous(info);
            }));
        });
        crossterm::terminal::enable_raw_mode()?;
        RAW_ACTIVE.store(true, Ordering::SeqCst);
        Ok(RawModeGuard(()))
    }
}

impl Drop for RawModeGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Leaves raw mode if (and only if) it is still active: safe to call from any path.
fn restore_terminal() {
    if RAW_ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

enum End {
    Detach,
    Holder(AttachEnd),
}

/// Attaches the calling terminal (stdin/stdout) to the instance behind `socket`.
pub fn attach(socket: &Path, name: &str, opts: &AttachOptions) -> Result<AttachEnd, ClientError> {
    let mut client = HolderClient::connect(socket, Duration::from_secs(5))?;
    let tty = io::stdin().is_terminal();
    let (rows, cols) = if io::stdout().is_terminal() {
        crossterm::terminal::size()
            .map(|(c, r)| (r, c))
            .unwrap_or((0, 0))
    } else {
        (0, 0)
    };
    client.send(&ClientMessage::Attach {
        read_only: opts.read_only,
        rows,
        cols,
    })?;
    match client.receive()? {
        HolderMessage::Attached { .. } => {}
        other => {
            return Err(ClientError::Unexpected {
                socket: socket.into(),
                got: format!("{other:?}"),
            })
        }
    }
    let (stream, _) = client.into_stream();
    let io_err = |source| ClientError::Io {
        socket: socket.into(),
        source,
    };
    stream.set_read_timeout(None).map_err(io_err)?;
    stream.set_write_timeout(None).map_err(io_err)?;

    let mode = if opts.read_only { " (read-only)" } else { "" };
    eprint!(
        "[gridctl] attached to {name}{mode} — detach with {}\r\n",
        opts.detach.label()
    );
    let guard = if tty {
        Some(RawModeGuard::enable().map_err(ClientError::Terminal)?)
    } else {
        None
    };

    let writer = Arc::new(Mutex::new(stream.try_clone().map_err(io_err)?));
    let (end_tx, end_rx) = mpsc::channel::<End>();

    // Console output → stdout.
    {
        let mut reader = stream.try_clone().map_err(io_err)?;
        let end_tx = end_tx.clone();
        let name = name.to_string();
        let allow = opts.allow_queries;
        std::thread::spawn(move || {
            let end = pump_output(&mut reader, &name, allow);
            let _ = end_tx.send(End::Holder(end));
        });
    }
    // Keystrokes → console. The wake pipe stops this thread when the session ends
    // otherwise, so it never swallows a key meant for whoever reads stdin next (the dashboard).
    let (wake_rx, wake_tx) = nix::unistd::pipe().map_err(|e| io_err(e.into()))?;
    let input_thread = {
        let writer = writer.clone();
        let end_tx = end_tx.clone();
        let key = opts.detach.bytes.clone();
        std::thread::spawn(move || {
            pump_input(&writer, &key, &wake_rx);
            let _ = end_tx.send(End::Detach);
        })
    };
    // Window size → holder.
    let signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGWINCH]).ok();
    let signals_handle = signals.as_ref().map(|s| s.handle());
    if let Some(mut signals) = signals.filter(|_| tty) {
        let writer = writer.clone();
        std::thread::spawn(move || {
            for _ in signals.forever() {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = write_control(&mut *w, &ClientMessage::Resize { rows, cols });
                }
            }
        });
    }

    let end = end_rx
        .recv()
        .unwrap_or(End::Holder(AttachEnd::HolderClosed));
    if let Some(h) = signals_handle {
        h.close();
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = nix::unistd::write(&wake_tx, b"x");
    let _ = input_thread.join();
    drop(guard);
    let _ = io::stdout().flush();
    let (end, line) = match end {
        End::Detach => (
            AttachEnd::Detached,
            format!("detached from {name} (still running)"),
        ),
        End::Holder(AttachEnd::Disconnected(why)) => (
            AttachEnd::Disconnected(why.clone()),
            format!("disconnected from {name}: {why}"),
        ),
        End::Holder(other) => (other, format!("{name}: the holder closed the connection")),
    };
    if !opts.quiet_end {
        eprintln!("\r\n[gridctl] {line}");
    }
    Ok(end)
}

fn pump_output(reader: &mut UnixStream, name: &str, allow_queries: bool) -> AttachEnd {
    let mut out = io::stdout().lock();
    let mut filter = filter::OutputFilter::new(allow_queries);
    let mut shown = Vec::new();
    loop {
        match read_frame(reader) {
            Ok(Some((KIND_DATA, bytes))) => {
                shown.clear();
                filter.filter(&bytes, &mut shown);
                if out.write_all(&shown).and_then(|()| out.flush()).is_err() {
                    return AttachEnd::Detached;
                }
            }
            Ok(Some((KIND_CONTROL, payload))) => match decode_control::<HolderMessage>(&payload) {
                Ok(HolderMessage::ChildExited { description }) => {
                    let _ = write!(
                        out,
                        "\r\n[gridctl] {name}: console process ended ({description})\r\n"
                    );
                    let _ = out.flush();
                }
                Ok(HolderMessage::Error { message }) => return AttachEnd::Disconnected(message),
                _ => {}
            },
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return AttachEnd::HolderClosed,
        }
    }
}

/// Reads stdin and forwards it, watching for the detach sequence. Returns on detach,
/// end of input, or a dead connection.
fn pump_input(writer: &Mutex<UnixStream>, key: &[u8], wake: &std::os::fd::OwnedFd) {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut buf = [0u8; 4096];
    let mut det = Detacher::new(key);
    loop {
        // Wait for a key or for the session to end (the wake pipe).
        let ms: nix::poll::PollTimeout = if det.waiting_single() {
            nix::poll::PollTimeout::from(SINGLE_KEY_WAIT.as_millis() as u16)
        } else {
            nix::poll::PollTimeout::NONE
        };
        let mut fds = [
            nix::poll::PollFd::new(stdin.as_fd(), nix::poll::PollFlags::POLLIN),
            nix::poll::PollFd::new(wake.as_fd(), nix::poll::PollFlags::POLLIN),
        ];
        match nix::poll::poll(&mut fds, ms) {
            Ok(0) => return, // a single detach key and no second press: detach
            Ok(_) => {
                if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                    return; // the session ended elsewhere
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        let n = match input.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let (forward, detach) = det.feed(&buf[..n]);
        if !forward.is_empty() {
            let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
            if write_frame(&mut *w, KIND_DATA, &forward).is_err() {
                return;
            }
        }
        if detach {
            return;
        }
    }
}

/// The detach-sequence state machine (pure, tested).
struct Detacher {
    key: Vec<u8>,
    armed: bool,
}

impl Detacher {
    fn new(key: &[u8]) -> Self {
        Detacher {
            key: key.to_vec(),
            armed: false,
        }
    }

    /// A one-key sequence was pressed once: wait briefly for a second press.
    fn waiting_single(&self) -> bool {
        self.armed && self.key.len() == 1
    }

    /// Bytes to forward, and whether to detach (after forwarding them).
    fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let first = self.key[0];
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.armed {
                self.armed = false;
                if b == first {
                    out.push(first); // pressed twice: send it literally
                    continue;
                }
                match self.key.get(1) {
                    Some(&second) if b == second => return (out, true),
                    Some(_) => out.extend_from_slice(&[first, b]),
                    // One-key sequence followed by another key: detach.
                    None => return (out, true),
                }
            } else if b == first {
                self.armed = true;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_detach_keys() {
        assert_eq!(parse_detach_key("ctrl-]").unwrap().bytes(), [0x1d]);
        let k = parse_detach_key("ctrl-a d").unwrap();
        assert_eq!((k.bytes(), k.label()), (&[0x01, b'd'][..], "Ctrl-A d"));
        assert_eq!(parse_detach_key("C-b").unwrap().bytes(), [0x02]);
        assert_eq!(parse_detach_key("^X").unwrap().bytes(), [0x18]);
        assert_eq!(parse_detach_key("Ctrl-Q").unwrap().label(), "Ctrl-Q");
        assert!(parse_detach_key("d").is_err());
        assert!(parse_detach_key("ctrl-a b c").is_err());
        assert!(parse_detach_key("ctrl-é").is_err());
        assert!(parse_detach_key("").is_err());
        assert_eq!(DetachKey::default(), parse_detach_key("ctrl-]").unwrap());
    }

    #[test]
    fn two_key_sequence() {
        let mut d = Detacher::new(&[0x01, b'd']);
        assert_eq!(d.feed(b"ab\x01x"), (b"ab\x01x".to_vec(), false));
        assert_eq!(d.feed(b"\x01\x01"), (b"\x01".to_vec(), false));
        assert_eq!(d.feed(b"z\x01"), (b"z".to_vec(), false));
        assert_eq!(d.feed(b"d"), (vec![], true));
    }

    #[test]
    fn one_key_sequence() {
        let mut d = Detacher::new(&[0x1d]);
        assert_eq!(d.feed(b"ls\x1d"), (b"ls".to_vec(), false));
        assert!(d.waiting_single());
        assert_eq!(d.feed(b"\x1d"), (b"\x1d".to_vec(), false));
        assert!(!d.waiting_single());
        assert_eq!(d.feed(b"\x1dq"), (vec![], true));
    }
}
