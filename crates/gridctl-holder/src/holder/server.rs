//! The holder's socket: one task per connection, `Hello`/`Welcome`, then requests.
//! Nothing a client does can end the holder: every error ends that connection only.
//!
//! Who may connect: the socket is 0600 in a 0700 directory, and on top of that the
//! peer's credentials (`SO_PEERCRED`, taken by the kernel at `connect`) must show the
//! holder's own uid or root. File modes alone fail open when a directory is loosened
//! (a `state_dir` on a shared path, a careless `chmod -R`); the credential check does not.

use crate::hub::{Hub, SendState, ViewerEvent, ViewerQueue};
use crate::protocol::{
    decode_control, ClientMessage, HolderMessage, KIND_CONTROL, KIND_DATA, PROTOCOL_VERSION,
};
use crate::supervise::Control;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn accept_loop(
    hub: Arc<Hub>,
    listener: UnixListener,
    control: mpsc::Sender<Control>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                if let Err(why) = check_peer(&stream) {
                    hub.holder_log.log(&format!("refused a connection: {why}"));
                    tokio::spawn(refuse(stream, why));
                    continue;
                }
                let hub = hub.clone();
                let control = control.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle(hub.clone(), stream, control).await {
                        if !matches!(
                            e.kind(),
                            io::ErrorKind::BrokenPipe
                                | io::ErrorKind::ConnectionReset
                                | io::ErrorKind::UnexpectedEof
                        ) {
                            hub.holder_log.log(&format!("connection: {e}"));
                        }
                    }
                });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                hub.holder_log.log(&format!("accept: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Whether a peer with `peer_uid` may talk to a holder running as `holder_uid`.
pub(crate) fn peer_allowed(peer_uid: u32, holder_uid: u32) -> bool {
    peer_uid == holder_uid || peer_uid == 0
}

/// `Ok` when the peer may connect; else why not, in words for both ends.
fn check_peer(stream: &UnixStream) -> Result<(), String> {
    let holder_uid = nix::unistd::geteuid().as_raw();
    let cred = stream
        .peer_cred()
        .map_err(|e| format!("cannot read the peer's credentials: {e}"))?;
    if peer_allowed(cred.uid(), holder_uid) {
        return Ok(());
    }
    let pid = cred
        .pid()
        .map(|p| format!(" (pid {p})"))
        .unwrap_or_default();
    Err(format!(
        "permission denied: the connection comes from uid {}{pid}; this holder runs as uid {holder_uid} and accepts only that uid or root",
        cred.uid()
    ))
}

/// Answers a refused peer's first frame with the reason, then closes. Reading that frame
/// first matters: closing a Unix socket with unread data resets the peer, which would
/// lose the reason.
async fn refuse(stream: UnixStream, why: String) {
    let (mut rd, mut wr) = stream.into_split();
    let _ = tokio::time::timeout(HELLO_TIMEOUT, read_frame(&mut rd)).await;
    let _ = send(&mut wr, &error(why)).await;
}

async fn read_frame(r: &mut (impl AsyncRead + Unpin)) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 5];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; crate::protocol::payload_len(&header)?];
    r.read_exact(&mut payload).await?;
    Ok(Some((header[0], payload)))
}

async fn write_frame(
    w: &mut (impl AsyncWrite + Unpin),
    kind: u8,
    payload: &[u8],
) -> io::Result<()> {
    w.write_all(&crate::protocol::encode_frame(kind, payload)?)
        .await?;
    w.flush().await
}

async fn send(w: &mut (impl AsyncWrite + Unpin), msg: &HolderMessage) -> io::Result<()> {
    let json = serde_json::to_vec(msg).map_err(io::Error::other)?;
    write_frame(w, KIND_CONTROL, &json).await
}

fn error(message: impl Into<String>) -> HolderMessage {
    HolderMessage::Error {
        message: message.into(),
    }
}

async fn handle(
    hub: Arc<Hub>,
    stream: UnixStream,
    control: mpsc::Sender<Control>,
) -> io::Result<()> {
    let (mut rd, mut wr) = stream.into_split();
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, read_frame(&mut rd)).await {
        Ok(r) => r?,
        Err(_) => return Ok(()),
    };
    let Some((KIND_CONTROL, payload)) = hello else {
        return send(&mut wr, &error("expected `hello` first")).await;
    };
    match decode_control::<ClientMessage>(&payload) {
        Ok(ClientMessage::Hello { version }) if version == PROTOCOL_VERSION => {
            send(
                &mut wr,
                &HolderMessage::Welcome {
                    version: PROTOCOL_VERSION,
                    holder_pid: hub.holder_pid,
                },
            )
            .await?;
        }
        Ok(ClientMessage::Hello { version }) => {
            let msg = format!(
                "protocol version mismatch: the client speaks version {version}, this holder speaks version {PROTOCOL_VERSION}"
            );
            return send(&mut wr, &error(msg)).await;
        }
        Ok(_) => return send(&mut wr, &error("expected `hello` first")).await,
        Err(e) => return send(&mut wr, &error(format!("bad request: {e}"))).await,
    }

    // Several requests may follow on one connection; `attach` and `stop` end it.
    while let Some((kind, payload)) = read_frame(&mut rd).await? {
        if kind != KIND_CONTROL {
            send(
                &mut wr,
                &error("expected a request, got console data (attach first)"),
            )
            .await?;
            continue;
        }
        let msg = match decode_control::<ClientMessage>(&payload) {
            Ok(m) => m,
            Err(e) => {
                send(&mut wr, &error(format!("bad request: {e}"))).await?;
                continue;
            }
        };
        match msg {
            ClientMessage::Hello { .. } => send(&mut wr, &error("already greeted")).await?,
            ClientMessage::Status => send(&mut wr, &HolderMessage::Status(hub.status())).await?,
            ClientMessage::SendLine {
                line,
                quiet_ms,
                timeout_ms,
                answers,
            } => {
                let reply = match send_line(&hub, &line, answers, quiet_ms, timeout_ms).await {
                    Ok(reply) => reply,
                    Err(e) => error(e),
                };
                send(&mut wr, &reply).await?;
            }
            ClientMessage::Stop => {
                let (tx, rx) = oneshot::channel();
                let reply = if control
                    .send(Control::Stop { reply: Some(tx) })
                    .await
                    .is_err()
                {
                    error("the holder is already stopping")
                } else {
                    match rx.await {
                        Ok(Ok(message)) => HolderMessage::Done { message },
                        Ok(Err(e)) => error(e),
                        Err(_) => error("the holder is already stopping"),
                    }
                };
                let done = matches!(reply, HolderMessage::Done { .. });
                let res = send(&mut wr, &reply).await;
                if done {
                    hub.stop_replied.notify_one();
                    return res;
                }
                res?;
            }
            ClientMessage::Restart => {
                let (tx, rx) = oneshot::channel();
                let reply = if control.send(Control::Restart { reply: tx }).await.is_err() {
                    error("the holder is stopping")
                } else {
                    match rx.await {
                        Ok(Ok(message)) => HolderMessage::Done { message },
                        Ok(Err(e)) => error(e),
                        Err(_) => error("the holder is stopping"),
                    }
                };
                send(&mut wr, &reply).await?;
            }
            ClientMessage::Attach {
                read_only,
                rows,
                cols,
            } => {
                return attach(&hub, rd, wr, read_only, rows, cols).await;
            }
            ClientMessage::Resize { .. } => {
                send(&mut wr, &error("`resize` is only valid while attached")).await?
            }
        }
    }
    Ok(())
}

/// Types `line` + `\r` and collects what the console prints until the prompt is back
/// and output has been quiet for `quiet_ms` (or the child went away), or `timeout_ms`.
/// When the console stops at a question (see [`crate::hub::is_question`]) and stays
/// quiet for `quiet_ms`, the next answer is typed; with none left, the reply is
/// `Question` at once instead of waiting out the timeout. Answers are never typed at
/// the prompt: there they would run as commands.
async fn send_line(
    hub: &Hub,
    line: &str,
    answers: Vec<String>,
    quiet_ms: u64,
    timeout_ms: u64,
) -> Result<HolderMessage, String> {
    if std::iter::once(line)
        .chain(answers.iter().map(String::as_str))
        .any(|l| l.contains(['\r', '\n']))
    {
        return Err("the line must not contain a line break".into());
    }
    let (id, input, generation) = hub.begin_capture()?;
    let prompt = hub.spec().readiness.prompt;
    let quiet = Duration::from_millis(quiet_ms);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
    let mut answers = std::collections::VecDeque::from(answers);
    let mut typed = line.to_string();
    let question = loop {
        hub.capture_typing(id);
        let sent =
            tokio::time::timeout_at(deadline, input.send(format!("{typed}\r").into_bytes())).await;
        if !matches!(sent, Ok(Ok(()))) {
            hub.end_capture(id, false);
            return Err("the console does not take input".into());
        }
        let state = loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break SendState::Busy;
            }
            tokio::time::sleep(Duration::from_millis(10).min(deadline - now)).await;
            let peek = hub.peek_capture(id, generation, &prompt);
            if peek.quiet < quiet {
                continue;
            }
            if peek.gone {
                break SendState::Prompt;
            }
            if peek.state != SendState::Busy {
                break peek.state;
            }
        };
        match (state, answers.pop_front()) {
            (SendState::Question(_), Some(answer)) => typed = answer,
            (SendState::Question(q), None) => break Some(q),
            (_, unused) => {
                answers.extend(unused);
                break None;
            }
        }
    };
    let (text, dropped) = hub.end_capture(id, question.is_none());
    let mut text = clean_output(&text, line, &prompt);
    if dropped > 0 {
        text = format!("[gridctl: {dropped} bytes of earlier output not kept]\n{text}");
    }
    Ok(match question {
        Some(question) => HolderMessage::Question { text, question },
        None => HolderMessage::Output {
            text,
            unused_answers: u32::try_from(answers.len()).unwrap_or(u32::MAX),
        },
    })
}

/// Drops the echo of the command line and the trailing prompt; trims blank lines.
fn clean_output(text: &str, line: &str, prompt: &str) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if !lines.is_empty()
        && (lines[0].trim_end().ends_with(line.trim()) || lines[0].trim().is_empty())
    {
        lines.remove(0);
    }
    let prompt = prompt.trim_end();
    if let Some(last) = lines.last_mut() {
        if !prompt.is_empty() {
            if let Some(rest) = last.trim_end().strip_suffix(prompt) {
                *last = rest;
            }
        }
    }
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
    lines
        .iter()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// An attached viewer: replay, then console output out and keystrokes in, until
/// either side closes or the viewer's socket stalls.
async fn attach(
    hub: &Arc<Hub>,
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    read_only: bool,
    rows: u16,
    cols: u16,
) -> io::Result<()> {
    let (id, queue, replay) = hub.add_viewer(read_only, rows, cols);
    let result = async {
        send(
            &mut wr,
            &HolderMessage::Attached {
                detach_hint: String::new(),
            },
        )
        .await?;
        let replay = replay.await.unwrap_or_default();
        write_frame(&mut wr, KIND_DATA, &replay).await?;
        tokio::select! {
            r = viewer_output(hub, id, &mut wr, queue) => r,
            r = viewer_input(hub, id, &mut rd, read_only) => r,
        }
    }
    .await;
    hub.remove_viewer(id);
    result
}

/// A viewer whose socket accepts nothing for this long is stuck and is disconnected.
const VIEWER_STALL: Duration = Duration::from_secs(3);

/// Queued chunks are sent together, up to this much per frame (fewer writes while
/// output floods; a lone small chunk, e.g. an echo, goes out at once).
const FRAME_GATHER: usize = 256 * 1024;

async fn viewer_output(
    hub: &Hub,
    id: u64,
    wr: &mut OwnedWriteHalf,
    mut queue: ViewerQueue,
) -> io::Result<()> {
    let mut frame_buf: Vec<u8> = Vec::new();
    loop {
        // A frame is never abandoned half-written: the kick is looked at between frames.
        // (the event, whether it came from the queue and counts against its bytes)
        let (frame, queued) = tokio::select! {
            biased;
            _ = queue.kick.notified() => {
                // Fell behind: drop what is queued and redraw the screen instead.
                while let Ok(ev) = queue.rx.try_recv() {
                    if let ViewerEvent::Data(bytes) = ev {
                        queue.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
                    }
                }
                match hub.resync_viewer(id) {
                    Some(replay) => {
                        let replay = replay.await.unwrap_or_default();
                        (Some(ViewerEvent::Data(replay.into())), false)
                    }
                    None => return Ok(()),
                }
            }
            ev = queue.rx.recv() => (ev, true),
        };
        let mut exited = None;
        // Queued chunks are gathered straight into one frame (header, then payload):
        // one copy and one write, however many chunks were waiting.
        let data = match frame {
            Some(ViewerEvent::Data(bytes)) => {
                if queued {
                    queue.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
                }
                frame_buf.clear();
                frame_buf.extend_from_slice(&[KIND_DATA, 0, 0, 0, 0]);
                frame_buf.extend_from_slice(&bytes);
                while frame_buf.len() < FRAME_GATHER {
                    match queue.rx.try_recv() {
                        Ok(ViewerEvent::Data(more)) => {
                            queue.queued.fetch_sub(more.len(), Ordering::Relaxed);
                            frame_buf.extend_from_slice(&more);
                        }
                        Ok(ViewerEvent::ChildExited(d)) => {
                            exited = Some(d);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let len = u32::try_from(frame_buf.len() - 5).map_err(io::Error::other)?;
                frame_buf[1..5].copy_from_slice(&len.to_be_bytes());
                true
            }
            Some(ViewerEvent::ChildExited(description)) => {
                exited = Some(description);
                false
            }
            None => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
        };
        let write = async {
            if data {
                wr.write_all(&frame_buf).await?;
            }
            if let Some(description) = exited {
                send(wr, &HolderMessage::ChildExited { description }).await?;
            }
            Ok::<(), io::Error>(())
        };
        match tokio::time::timeout(VIEWER_STALL, write).await {
            Ok(r) => r?,
            // Stuck (it stopped reading): let it go. Its framing may be cut, so no goodbye.
            Err(_) => return Ok(()),
        }
        // A flood grew the buffer: give it back.
        if frame_buf.capacity() > FRAME_GATHER * 2 {
            frame_buf = Vec::new();
        }
    }
}

async fn viewer_input(
    hub: &Hub,
    id: u64,
    rd: &mut OwnedReadHalf,
    read_only: bool,
) -> io::Result<()> {
    while let Some((kind, payload)) = read_frame(rd).await? {
        match kind {
            KIND_DATA if !read_only => {
                // Back-pressure lands on this viewer only; output never waits for input.
                if let Some(input) = hub.input_sender() {
                    let _ = input.send(payload).await;
                }
            }
            KIND_CONTROL => {
                if let Ok(ClientMessage::Resize { rows, cols }) =
                    decode_control::<ClientMessage>(&payload)
                {
                    hub.viewer_resized(id, rows, cols);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "R.O.B.U.S.T.# ";

    #[test]
    fn cleans_echo_and_prompt() {
        let text =
            "show uptime\nTime now is 12:00\nServer has been running since x\nR.O.B.U.S.T.# ";
        assert_eq!(
            clean_output(text, "show uptime", P),
            "Time now is 12:00\nServer has been running since x"
        );
        assert_eq!(
            clean_output(
                "R.O.B.U.S.T.# show uptime\nok\n\nR.O.B.U.S.T.# ",
                "show uptime",
                P
            ),
            "ok"
        );
        assert_eq!(clean_output("x\n", "x", P), "");
    }
}
