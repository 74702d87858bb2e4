//! The CLI's side of a holder's socket: connect with a version check, then ask.

use gridctl_wire::protocol::{
    decode_control, encode_frame, read_frame, write_control, ClientMessage, HolderMessage,
    InstanceStatus, KIND_CONTROL, PROTOCOL_VERSION,
};
use std::io::{self, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `stop` and `restart` wait for the whole stop sequence; this bounds a hung holder.
const LONG_REQUEST: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connect to holder socket {}: {source}", socket.display())]
    Connect { socket: PathBuf, source: io::Error },
    #[error("talk to the holder at {}: {source}", socket.display())]
    Io { socket: PathBuf, source: io::Error },
    #[error("talk to the holder at {}: it closed the connection", socket.display())]
    Closed { socket: PathBuf },
    /// The holder refused or failed the request; `message` is its own words.
    #[error("{message}")]
    Holder { message: String },
    /// The holder welcomed us with another protocol version.
    #[error("talk to the holder at {}: {message}", socket.display())]
    Refused { socket: PathBuf, message: String },
    #[error("understand the holder at {}: unexpected reply {got}", socket.display())]
    Unexpected { socket: PathBuf, got: String },
    #[error("set up the terminal: {0}")]
    Terminal(io::Error),
}

/// How a `send` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendReply {
    /// The prompt came back (or the timeout passed); `unused_answers` were not typed.
    Output { text: String, unused_answers: u32 },
    /// The console waits at `question` for a line of input.
    Question { text: String, question: String },
}

/// A greeted connection to one holder. Requests run one after another.
pub struct HolderClient {
    stream: UnixStream,
    socket: PathBuf,
    holder_pid: u32,
    timeout: Duration,
}

impl HolderClient {
    /// Connects and exchanges `Hello`/`Welcome`; `timeout` bounds every read and write.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<HolderClient, ClientError> {
        let mut client = HolderClient::open(socket, timeout)?;
        client.send(&ClientMessage::Hello {
            version: PROTOCOL_VERSION,
        })?;
        client.greeted()?;
        Ok(client)
    }

    /// Connects and asks for the status in one write, `Hello` and `Status` together (the
    /// holder reads requests as a stream): one round trip instead of two, which is most
    /// of the cost of asking a thousand holders. The outer error is the greeting's,
    /// the inner one the request's; the connection serves further requests.
    pub fn connect_for_status(
        socket: &Path,
        timeout: Duration,
    ) -> Result<(HolderClient, Result<InstanceStatus, ClientError>), ClientError> {
        let mut client = HolderClient::open(socket, timeout)?;
        let mut both = Vec::new();
        for msg in [
            ClientMessage::Hello {
                version: PROTOCOL_VERSION,
            },
            ClientMessage::Status,
        ] {
            let json = serde_json::to_vec(&msg).map_err(|e| client.io(io::Error::other(e)))?;
            both.extend(encode_frame(KIND_CONTROL, &json).map_err(|e| client.io(e))?);
        }
        client
            .stream
            .write_all(&both)
            .map_err(|source| client.io(source))?;
        // Buffered: both answers usually come in one read. Nothing else is sent before
        // the second answer, so nothing is left in the buffer when it is dropped.
        let mut rd = BufReader::new(&client.stream);
        let holder_pid = client.welcomed(client.decode(read_frame(&mut rd))?)?;
        let status = client.decode(read_frame(&mut rd));
        drop(rd);
        client.holder_pid = holder_pid;
        let status = match status {
            Ok(HolderMessage::Status(s)) => Ok(s),
            Ok(other) => Err(client.unexpected(other)),
            Err(e) => Err(e),
        };
        Ok((client, status))
    }

    fn open(socket: &Path, timeout: Duration) -> Result<HolderClient, ClientError> {
        let stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
            socket: socket.into(),
            source,
        })?;
        let client = HolderClient {
            stream,
            socket: socket.into(),
            holder_pid: 0,
            timeout,
        };
        client.set_timeout(Some(timeout))?;
        Ok(client)
    }

    /// Reads the answer to `Hello`.
    fn greeted(&mut self) -> Result<(), ClientError> {
        let reply = self.receive()?;
        self.holder_pid = self.welcomed(reply)?;
        Ok(())
    }

    /// The holder's pid from its answer to `Hello`.
    fn welcomed(&self, reply: HolderMessage) -> Result<u32, ClientError> {
        // Both sides check the version: the holder refuses a client of another version
        // with an `Error` naming both (passed on in its own words, like every refusal of
        // the holder's); a `Welcome` of another version is refused here.
        match reply {
            HolderMessage::Welcome {
                version,
                holder_pid,
            } if version == PROTOCOL_VERSION => Ok(holder_pid),
            HolderMessage::Welcome { version, .. } => Err(ClientError::Refused {
                socket: self.socket.clone(),
                message: format!(
                    "protocol version mismatch: this gridctl speaks version {PROTOCOL_VERSION}, the holder speaks version {version}; restart the instance with this gridctl"
                ),
            }),
            other => Err(self.unexpected(other)),
        }
    }

    pub fn holder_pid(&self) -> u32 {
        self.holder_pid
    }

    pub fn status(&mut self) -> Result<InstanceStatus, ClientError> {
        self.send(&ClientMessage::Status)?;
        match self.receive()? {
            HolderMessage::Status(s) => Ok(s),
            other => Err(self.unexpected(other)),
        }
    }

    /// Types `line` into the console; returns what it printed (ANSI stripped). A
    /// question the console stops at ends the text.
    pub fn send_line(
        &mut self,
        line: &str,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<String, ClientError> {
        Ok(match self.send_lines(line, &[], quiet, timeout)? {
            SendReply::Output { text, .. } => text,
            SendReply::Question { text, question } if text.is_empty() => question,
            SendReply::Question { text, question } => format!("{text}\n{question}"),
        })
    }

    /// Types `line`, then one of `answers` each time the console asks a question.
    pub fn send_lines(
        &mut self,
        line: &str,
        answers: &[String],
        quiet: Duration,
        timeout: Duration,
    ) -> Result<SendReply, ClientError> {
        self.set_timeout(Some(timeout + self.timeout))?;
        self.send(&ClientMessage::SendLine {
            line: line.to_string(),
            quiet_ms: quiet.as_millis() as u64,
            timeout_ms: timeout.as_millis() as u64,
            answers: answers.to_vec(),
        })?;
        let reply = self.receive();
        self.set_timeout(Some(self.timeout))?;
        match reply? {
            HolderMessage::Output {
                text,
                unused_answers,
            } => Ok(SendReply::Output {
                text,
                unused_answers,
            }),
            HolderMessage::Question { text, question } => {
                Ok(SendReply::Question { text, question })
            }
            other => Err(self.unexpected(other)),
        }
    }

    /// Graceful stop; returns once the child is stopped and reaped (the holder then exits).
    pub fn stop(mut self) -> Result<String, ClientError> {
        self.long_request(ClientMessage::Stop)
    }

    /// Re-reads the spec, stops the child gracefully and starts it again.
    pub fn restart(&mut self) -> Result<String, ClientError> {
        let r = self.long_request(ClientMessage::Restart);
        self.set_timeout(Some(self.timeout))?;
        r
    }

    fn long_request(&mut self, msg: ClientMessage) -> Result<String, ClientError> {
        self.set_timeout(Some(LONG_REQUEST))?;
        self.send(&msg)?;
        match self.receive()? {
            HolderMessage::Done { message } => Ok(message),
            other => Err(self.unexpected(other)),
        }
    }

    /// The raw connection, for `attach`.
    pub fn into_stream(self) -> (UnixStream, PathBuf) {
        (self.stream, self.socket)
    }

    /// Sends one control message (attach and the dashboard drive the conversation themselves).
    pub fn send(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        write_control(&mut self.stream, msg).map_err(|source| self.io(source))
    }

    /// Reads the next control message.
    pub fn receive(&mut self) -> Result<HolderMessage, ClientError> {
        let frame = read_frame(&mut self.stream);
        self.decode(frame)
    }

    /// A frame read from the holder, as its message (its `Error` as ours).
    fn decode(
        &self,
        frame: io::Result<Option<(u8, Vec<u8>)>>,
    ) -> Result<HolderMessage, ClientError> {
        match frame {
            Ok(Some((KIND_CONTROL, payload))) => {
                let msg: HolderMessage =
                    decode_control(&payload).map_err(|source| self.io(source))?;
                match msg {
                    HolderMessage::Error { message } => Err(ClientError::Holder { message }),
                    other => Ok(other),
                }
            }
            Ok(Some((kind, _))) => Err(ClientError::Unexpected {
                socket: self.socket.clone(),
                got: format!("a frame of kind {kind}"),
            }),
            Ok(None) => Err(ClientError::Closed {
                socket: self.socket.clone(),
            }),
            Err(source) => Err(self.io(source)),
        }
    }

    fn set_timeout(&self, t: Option<Duration>) -> Result<(), ClientError> {
        self.stream
            .set_read_timeout(t)
            .and_then(|()| self.stream.set_write_timeout(t))
            .map_err(|source| self.io(source))
    }

    fn io(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            socket: self.socket.clone(),
            source,
        }
    }

    fn unexpected(&self, got: HolderMessage) -> ClientError {
        ClientError::Unexpected {
            socket: self.socket.clone(),
            got: format!("{got:?}"),
        }
    }
}

/// Whether a holder serves an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderPresence {
    Alive(InstanceStatus),
    /// Neither socket nor pid file: the instance is not running.
    Absent,
    /// Socket and/or pid file left by a holder that is gone (killed, crashed).
    Stale,
    /// Something accepts connections on the socket but does not answer; never
    /// cleaned up automatically.
    Unresponsive,
}

/// Asks the holder for its status; tells a dead holder's leftovers from a live one.
pub fn probe_holder(socket: &Path, holder_pid_file: &Path) -> HolderPresence {
    // Connect first, stat only when that fails: one syscall fewer per running copy
    // when `status` asks a thousand.
    match HolderClient::connect_for_status(socket, Duration::from_secs(3)) {
        Ok((_, Ok(status))) => return HolderPresence::Alive(status),
        Ok((_, Err(_))) => return HolderPresence::Unresponsive,
        // Accepted but no greeting in time: alive but stuck.
        Err(ClientError::Io { source, .. })
            if matches!(
                source.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            return HolderPresence::Unresponsive
        }
        // Neither socket nor pid file: not running.
        Err(ClientError::Connect { .. })
            if socket.symlink_metadata().is_err() && !holder_pid_file.exists() =>
        {
            return HolderPresence::Absent
        }
        // Refused (nobody listens) or closed: the holder is gone.
        Err(_) => {}
    }
    // A holder binds its socket before writing its pid file and removes the socket
    // first when it exits, so without a listening socket the pid file is a leftover.
    HolderPresence::Stale
}

/// Removes a dead holder's socket and pid file. Returns whether anything was stale;
/// does nothing when a holder answers (or is stuck) on the socket.
pub fn clean_stale(socket: &Path, holder_pid_file: &Path) -> io::Result<bool> {
    if probe_holder(socket, holder_pid_file) != HolderPresence::Stale {
        return Ok(false);
    }
    for path in [socket, holder_pid_file] {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
