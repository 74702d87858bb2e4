//! The wire format between the CLI (and dashboard) and a holder, over its Unix socket.
//!
//! Every message is a frame: `kind: u8`, `len: u32` big-endian, then `len` bytes.
//! - `KIND_CONTROL`: a JSON [`ClientMessage`] (client → holder) or [`HolderMessage`] (holder → client).
//! - `KIND_DATA`: raw console bytes: input typed by a viewer, or console output sent to a viewer.
//!
//! A connection starts with the client's `Hello` carrying [`PROTOCOL_VERSION`]; the holder
//! answers `Welcome` or an `Error` naming both versions, so a CLI upgrade never talks
//! past an older holder. Then one request; `Attach` turns the connection into a
//! stream of data frames both ways until either side closes it.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// 2: `InstanceStatus` has `crashes`, and `restarts` counts only operator restarts.
pub const PROTOCOL_VERSION: u32 = 2;
pub const KIND_CONTROL: u8 = 0;
pub const KIND_DATA: u8 = 1;
/// Frames larger than this are refused: a confused peer must not make us allocate gigabytes.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Hello {
        version: u32,
    },
    Status,
    /// Type `line` + `\r` into the console and collect what it prints until the output
    /// has been quiet for `quiet_ms` after the prompt came back, or `timeout_ms` passed.
    /// Each time the console stops at a question, the next of `answers` is typed; with
    /// none left the reply is `Question`. (Added in place: a holder that predates it
    /// ignores `answers`, so the field is left out when empty.)
    SendLine {
        line: String,
        quiet_ms: u64,
        timeout_ms: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        answers: Vec<String>,
    },
    /// Graceful stop of the child; the holder exits afterwards.
    Stop,
    /// Re-read the spec file, graceful stop, start again; clears `crash-loop`.
    Restart,
    Attach {
        read_only: bool,
        rows: u16,
        cols: u16,
    },
    /// Viewer's window changed (attach only).
    Resize {
        rows: u16,
        cols: u16,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HolderMessage {
    Welcome {
        version: u32,
        holder_pid: u32,
    },
    Status(InstanceStatus),
    /// Answer to `SendLine`: console output as the screen showed it (no ANSI sequences,
    /// no keystroke redraws). `unused_answers`: answers never typed because the prompt
    /// came back first (they would have run as commands).
    Output {
        text: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        unused_answers: u32,
    },
    /// Answer to `SendLine`: the console stopped at `question` (e.g. `Password: `) and
    /// waits for a line of input; `text` is what it printed before the question.
    Question {
        text: String,
        question: String,
    },
    /// The request was carried out (`Stop`: the child is stopped and reaped).
    Done {
        message: String,
    },
    Error {
        message: String,
    },
    /// Attach accepted; data frames follow. The replay (screen + scrollback) comes first.
    Attached {
        detach_hint: String,
    },
    /// The child exited while a viewer was attached (the holder may restart it).
    ChildExited {
        description: String,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Starting,
    Ready,
    /// Running but a connector failed, an ERROR was logged at startup, or the probe never answered.
    Degraded,
    Stopping,
    Stopped,
    /// Crashed; waiting for the backoff delay before the next start.
    Backoff,
    /// Too many crashes in the window: no more automatic restarts until `restart`.
    CrashLoop,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Starting => "starting",
            InstanceState::Ready => "ready",
            InstanceState::Degraded => "degraded",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::Backoff => "backoff",
            InstanceState::CrashLoop => "crash-loop",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub role: String,
    pub state: InstanceState,
    /// What the holder is doing or why the state is what it is: startup progress
    /// (`services loaded 7/13`, `waiting for the prompt`), each phase of a stop
    /// (`shutdown sent`, `SIGINT after 10s`, ...), a failure (`Failed to load ...`);
    /// empty when ready.
    pub detail: String,
    pub holder_pid: u32,
    /// The Robust child's pid while it runs.
    pub pid: Option<u32>,
    /// Operator restarts (`gridctl restart`, top's `r`) since the holder started.
    pub restarts: u32,
    /// Times the child ended unexpectedly (or failed to start) since the holder
    /// started; each is followed by an automatic restart unless in a crash loop.
    pub crashes: u32,
    /// Unix time (ms) the current child started.
    pub started_at_ms: Option<u64>,
    /// How the last child ended, e.g. `exit 1`, `signal 9`.
    pub last_exit: Option<String>,
    /// The last console lines before the last exit (ANSI stripped).
    pub last_lines: Vec<String>,
    pub config_hash: String,
    pub viewers: u32,
}

/// A frame as bytes: header and payload in one buffer, so it goes out in one write
/// (one syscall per keystroke and per chunk on the attach path).
pub fn encode_frame(kind: u8, payload: &[u8]) -> io::Result<Vec<u8>> {
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(kind);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    w.write_all(&encode_frame(kind, payload)?)?;
    w.flush()
}

/// The payload length a frame header announces, refused above [`MAX_FRAME`]
/// (shared by the blocking reader here and the holder's async one).
pub fn payload_len(header: &[u8; 5]) -> io::Result<usize> {
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME} byte limit"),
        ));
    }
    Ok(len)
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a header.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 5];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; payload_len(&header)?];
    r.read_exact(&mut payload)?;
    Ok(Some((header[0], payload)))
}

pub fn write_control<T: Serialize>(w: &mut impl Write, msg: &T) -> io::Result<()> {
    let json = serde_json::to_vec(msg).map_err(io::Error::other)?;
    write_frame(w, KIND_CONTROL, &json)
}

pub fn decode_control<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> io::Result<T> {
    serde_json::from_slice(payload).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_control(&mut buf, &ClientMessage::Hello { version: 1 }).unwrap();
        write_frame(&mut buf, KIND_DATA, b"show uptime\r").unwrap();
        let mut r = &buf[..];
        let (k, p) = read_frame(&mut r).unwrap().unwrap();
        assert_eq!(k, KIND_CONTROL);
        assert_eq!(
            decode_control::<ClientMessage>(&p).unwrap(),
            ClientMessage::Hello { version: 1 }
        );
        let (k, p) = read_frame(&mut r).unwrap().unwrap();
        assert_eq!((k, &p[..]), (KIND_DATA, &b"show uptime\r"[..]));
        assert!(read_frame(&mut r).unwrap().is_none());
    }

    #[test]
    fn oversized_frame_is_refused() {
        let mut buf = vec![KIND_DATA];
        buf.extend_from_slice(&(MAX_FRAME as u32 + 1).to_be_bytes());
        assert!(read_frame(&mut &buf[..]).is_err());
    }
}
