//! The console pane: a read-only attach to the selected instance's holder, fed into a
//! local vt100 model. The holder's replay (scrollback + screen) arrives first, so the
//! pane shows the screen as the holder sees it, then follows live output.

use crate::client::HolderClient;
use crate::protocol::{
    decode_control, read_frame, ClientMessage, HolderMessage, KIND_CONTROL, KIND_DATA,
};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Lines of history the pane can scroll back through (beyond the replay's 200).
const SCROLLBACK: usize = 2000;

/// What a console feed reports to the UI thread.
#[derive(Debug)]
pub enum FeedEvent {
    /// Attached: the replay and live output follow as `Data`.
    Connected,
    Data(Vec<u8>),
    /// A line for the pane's title (e.g. "console process ended (exit 0)").
    Note(String),
    /// The connection ended, and why.
    Ended(String),
}

/// The selected instance's console as a terminal model.
pub struct ConsoleView {
    pub name: String,
    parser: vt100::Parser,
    /// Shown in the pane's title: "connecting", "not running", an end reason.
    pub note: String,
    pub connected: bool,
}

impl ConsoleView {
    /// A blank console of the holder's size (rows × cols of the role's `[supervise]`).
    pub fn new(name: &str, rows: u16, cols: u16) -> ConsoleView {
        ConsoleView {
            name: name.to_string(),
            parser: vt100::Parser::new(rows.max(1), cols.max(1), SCROLLBACK),
            note: String::new(),
            connected: false,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    /// Clears the model (a new connection replays everything).
    pub fn reset(&mut self) {
        let (rows, cols) = self.parser.screen().size();
        self.parser = vt100::Parser::new(rows, cols, SCROLLBACK);
    }

    /// Screen rows in use: up to the cursor or the last non-blank row.
    fn used_rows(&self) -> usize {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        let cursor = usize::from(screen.cursor_position().0) + 1;
        let last = (0..rows)
            .rev()
            .find(|&r| (0..cols).any(|c| screen.cell(r, c).is_some_and(|cell| cell.has_contents())))
            .map_or(0, |r| usize::from(r) + 1);
        cursor.max(last)
    }

    /// Lines of history above the screen.
    fn history_len(&mut self) -> usize {
        let screen = self.parser.screen_mut();
        screen.set_scrollback(usize::MAX);
        let n = screen.scrollback();
        screen.set_scrollback(0);
        n
    }

    /// The furthest the pane can scroll back with `height` rows visible.
    pub fn max_scroll(&mut self, height: usize) -> usize {
        (self.history_len() + self.used_rows()).saturating_sub(height)
    }

    /// `height` lines ending `scroll` lines above the live bottom, `width` columns wide.
    pub fn lines(
        &mut self,
        height: usize,
        width: u16,
        scroll: usize,
        color: bool,
    ) -> Vec<Line<'static>> {
        let (rows, _) = self.parser.screen().size();
        let height = height.min(usize::from(rows));
        let history = self.history_len();
        let total = history + self.used_rows();
        let scroll = scroll.min(total.saturating_sub(height));
        let end = total - scroll;
        let start = end.saturating_sub(height);
        // With the view scrolled back by `k`, visible row r is virtual line history - k + r.
        let k = history - start.min(history);
        let screen = self.parser.screen_mut();
        screen.set_scrollback(k);
        let first_row = start - (history - k);
        let screen = self.parser.screen();
        let mut out = Vec::with_capacity(height);
        for r in first_row..first_row + (end - start) {
            out.push(row_line(screen, r as u16, width, color));
        }
        self.parser.screen_mut().set_scrollback(0);
        out
    }
}

/// One screen row as styled spans (runs of equal style merged).
fn row_line(screen: &vt100::Screen, row: u16, width: u16, color: bool) -> Line<'static> {
    let (_, cols) = screen.size();
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut style = Style::default();
    for col in 0..cols.min(width) {
        let Some(cell) = screen.cell(row, col) else {
            break;
        };
        if cell.is_wide_continuation() {
            continue;
        }
        let s = if color {
            cell_style(cell)
        } else {
            Style::default()
        };
        if s != style && !text.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut text), style));
        }
        style = s;
        if cell.has_contents() {
            text.push_str(cell.contents());
        } else {
            text.push(' ');
        }
    }
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    if !text.is_empty() {
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

fn cell_style(cell: &vt100::Cell) -> Style {
    let mut s = Style::default()
        .fg(vt_color(cell.fgcolor()))
        .bg(vt_color(cell.bgcolor()));
    if cell.bold() {
        s = s.add_modifier(Modifier::BOLD);
    }
    if cell.underline() {
        s = s.add_modifier(Modifier::UNDERLINED);
    }
    if cell.inverse() {
        s = s.add_modifier(Modifier::REVERSED);
    }
    s
}

fn vt_color(c: vt100::Color) -> Color {
    match c {
        vt100::Color::Default => Color::Reset,
        vt100::Color::Idx(i) => Color::Indexed(i),
        vt100::Color::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

/// A running read-only attach; dropping it closes the connection and ends its thread.
pub struct Feed {
    stream: Arc<Mutex<Option<UnixStream>>>,
    cancelled: Arc<AtomicBool>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(s) = self.stream.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Starts a read-only attach to `socket` on its own thread; `send` gets its events and
/// returns false once nobody listens.
pub fn spawn_feed(socket: PathBuf, send: impl Fn(FeedEvent) -> bool + Send + 'static) -> Feed {
    let stream: Arc<Mutex<Option<UnixStream>>> = Arc::new(Mutex::new(None));
    let cancelled = Arc::new(AtomicBool::new(false));
    let feed = Feed {
        stream: stream.clone(),
        cancelled: cancelled.clone(),
    };
    std::thread::spawn(move || {
        let mut reader = match connect(&socket) {
            Ok(s) => s,
            Err(e) => {
                send(FeedEvent::Ended(e));
                return;
            }
        };
        match reader.try_clone() {
            Ok(clone) => *stream.lock().unwrap_or_else(|e| e.into_inner()) = Some(clone),
            Err(e) => {
                send(FeedEvent::Ended(format!("cannot watch the console: {e}")));
                return;
            }
        }
        // Dropped while connecting: the Drop above found no stream to close.
        if cancelled.load(Ordering::SeqCst) {
            return;
        }
        if !send(FeedEvent::Connected) {
            return;
        }
        let why = loop {
            match read_frame(&mut reader) {
                Ok(Some((KIND_DATA, bytes))) => {
                    if !send(FeedEvent::Data(bytes)) {
                        return;
                    }
                }
                Ok(Some((KIND_CONTROL, payload))) => {
                    match decode_control::<HolderMessage>(&payload) {
                        Ok(HolderMessage::ChildExited { description }) => {
                            send(FeedEvent::Note(format!(
                                "console process ended ({description})"
                            )));
                        }
                        Ok(HolderMessage::Error { message }) => break message,
                        _ => {}
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break "the holder closed the connection".to_string(),
                Err(e) => break format!("console connection lost: {e}"),
            }
        };
        if !cancelled.load(Ordering::SeqCst) {
            send(FeedEvent::Ended(why));
        }
    });
    feed
}

fn connect(socket: &std::path::Path) -> Result<UnixStream, String> {
    let mut client = HolderClient::connect(socket, Duration::from_secs(3))
        .map_err(|e| format!("failed to {e}"))?;
    // Size 0×0: a watcher never resizes the console.
    client
        .send(&ClientMessage::Attach {
            read_only: true,
            rows: 0,
            cols: 0,
        })
        .map_err(|e| format!("failed to {e}"))?;
    match client.receive() {
        Ok(HolderMessage::Attached { .. }) => {}
        Ok(other) => return Err(format!("unexpected answer to attach: {other:?}")),
        Err(e) => return Err(format!("failed to {e}")),
    }
    let (stream, _) = client.into_stream();
    stream
        .set_read_timeout(None)
        .map_err(|e| format!("cannot watch the console: {e}"))?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn follows_the_bottom_and_scrolls_back_through_history() {
        let mut v = ConsoleView::new("x", 5, 20);
        for i in 1..=12 {
            v.feed(format!("line {i}\r\n").as_bytes());
        }
        v.feed(b"R# ");
        // Live: the last 3 lines up to the prompt.
        assert_eq!(text(&v.lines(3, 20, 0, true)), ["line 11", "line 12", "R#"]);
        // Two lines back, into history.
        assert_eq!(
            text(&v.lines(3, 20, 2, true)),
            ["line 9", "line 10", "line 11"]
        );
        // Clamped at the oldest line.
        assert_eq!(
            text(&v.lines(3, 20, 999, true)),
            ["line 1", "line 2", "line 3"]
        );
        assert_eq!(v.max_scroll(3), 10);
    }

    #[test]
    fn short_screen_shows_only_used_rows() {
        let mut v = ConsoleView::new("x", 10, 20);
        v.feed(b"hello\r\nR# ");
        assert_eq!(text(&v.lines(6, 20, 0, false)), ["hello", "R#"]);
    }
}
