//! The terminal model of one console (vt100), and the terminal's side of the
//! conversation: Robust's .NET console asks for the cursor position (`ESC[6n`)
//! around every prompt and waits about a second for the answer (robust.md §5).
//! The holder plays the terminal, so it answers from the model's cursor.

/// Collects the answers the model owes the program (cursor position reports).
#[derive(Debug, Default)]
struct Responder {
    replies: Vec<u8>,
}

impl vt100::Callbacks for Responder {
    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        _i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        if c != 'n' || i1.is_some() {
            return;
        }
        match params.first().and_then(|p| p.first()) {
            // Device status report: "terminal OK".
            Some(5) => self.replies.extend_from_slice(b"\x1b[0n"),
            // Cursor position report, 1-based.
            Some(6) => {
                let (row, col) = screen.cursor_position();
                let answer = format!("\x1b[{};{}R", u32::from(row) + 1, u32::from(col) + 1);
                self.replies.extend_from_slice(answer.as_bytes());
            }
            _ => {}
        }
    }
}

mod backlog;
pub mod lines;

/// A console's screen as a terminal would show it.
pub struct Console {
    parser: vt100::Parser<Responder>,
    /// Output not yet fed to the model (see [`backlog`]).
    pending: Vec<u8>,
    /// The last byte fed was a line feed: a compacted feed may start here.
    at_line_start: bool,
    /// The latest bytes received, to spot a query split across reads.
    seen: Vec<u8>,
}

impl Console {
    /// A zero size is raised to 1: Robust's console misbehaves on 0x0 (robust.md §0b).
    pub fn new(rows: u16, cols: u16) -> Console {
        Console {
            parser: vt100::Parser::new_with_callbacks(
                rows.max(1),
                cols.max(1),
                0,
                Responder::default(),
            ),
            pending: Vec::new(),
            at_line_start: true,
            seen: Vec::new(),
        }
    }

    /// Feeds output bytes. The model keeps the state of a sequence split across calls,
    /// so a query split between two reads is still answered.
    pub fn process(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        let query = backlog::may_query(&self.seen, bytes);
        let keep_from = bytes.len().saturating_sub(backlog::SEEN_KEEP);
        self.seen.extend_from_slice(&bytes[keep_from..]);
        let excess = self.seen.len().saturating_sub(backlog::SEEN_KEEP);
        self.seen.drain(..excess);
        if query {
            self.catch_up();
        } else if self.pending.len() >= backlog::MAX_PENDING {
            self.feed_complete_lines();
        }
    }

    /// Feeds the whole backlog (the screen is about to be looked at).
    fn catch_up(&mut self) {
        let all = self.pending.len();
        self.feed(all);
    }

    /// Feeds the backlog up to its last line feed, so the next feed starts at a line
    /// start and can be compacted.
    fn feed_complete_lines(&mut self) {
        if let Some(nl) = self.pending.iter().rposition(|&b| b == b'\n') {
            self.feed(nl + 1);
        } else if self.pending.len() >= 4 * backlog::MAX_PENDING {
            // One endless line: feed it anyway rather than grow without bound.
            self.catch_up();
        }
    }

    /// Feeds `pending[..upto]` to the model, compacted when that gives the same screen.
    fn feed(&mut self, upto: usize) {
        if upto == 0 {
            return;
        }
        let (rows, _) = self.parser.screen().size();
        let head = &self.pending[..upto];
        match backlog::compact(head, rows, self.at_line_start) {
            Some(short) => self.parser.process(&short),
            None => self.parser.process(head),
        }
        self.at_line_start = head.last() == Some(&b'\n');
        self.pending.drain(..upto);
    }

    /// Answers owed to the program (`ESC[<row>;<col>R`), to be written to the PTY master.
    pub fn take_replies(&mut self) -> Option<Vec<u8>> {
        let replies = &mut self.parser.callbacks_mut().replies;
        (!replies.is_empty()).then(|| std::mem::take(replies))
    }

    /// Shrinking keeps the cursor's line visible, as xterm does: the top lines scroll
    /// away first (vt100 alone would cut the bottom rows, prompt included).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.catch_up();
        let (rows, cols) = (rows.max(1), cols.max(1));
        let (old_rows, _) = self.parser.screen().size();
        let (row, col) = self.parser.screen().cursor_position();
        if rows < old_rows && row >= rows {
            let scroll = row + 1 - rows;
            let mut seq = format!("\x1b[{old_rows};1H").into_bytes();
            seq.extend(std::iter::repeat_n(b'\n', usize::from(scroll)));
            seq.extend(format!("\x1b[{};{}H", row - scroll + 1, col + 1).into_bytes());
            self.parser.process(&seq);
        }
        self.parser.screen_mut().set_size(rows, cols);
    }

    pub fn size(&self) -> (u16, u16) {
        self.parser.screen().size()
    }

    /// Bytes that redraw the current screen on a fresh terminal: clear, contents with
    /// attributes, input modes, then the cursor where the program left it.
    pub fn replay(&mut self) -> Vec<u8> {
        self.catch_up();
        let screen = self.parser.screen();
        let mut out = screen.state_formatted();
        out.extend_from_slice(&screen.cursor_state_formatted());
        out
    }

    /// Whether the line under the cursor shows `prompt` (trailing spaces ignored).
    pub fn prompt_visible(&mut self, prompt: &str) -> bool {
        self.catch_up();
        let prompt = prompt.trim_end();
        if prompt.is_empty() {
            return true;
        }
        let screen = self.parser.screen();
        let (row, _) = screen.cursor_position();
        let (_, cols) = screen.size();
        screen
            .rows(0, cols)
            .nth(usize::from(row))
            .is_some_and(|text| text.contains(prompt))
    }

    /// The visible screen as plain text (for tests and diagnostics).
    pub fn contents(&mut self) -> String {
        self.catch_up();
        self.parser.screen().contents()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_cursor_position_query_one_based() {
        let mut c = Console::new(24, 80);
        c.process(b"hello\r\nR.O.B.U.S.T.# \x1b[6n");
        assert_eq!(c.take_replies().unwrap(), b"\x1b[2;15R");
        assert!(c.take_replies().is_none());
    }

    #[test]
    fn answers_query_split_across_reads() {
        let mut c = Console::new(24, 80);
        c.process(b"ab\x1b[");
        assert!(c.take_replies().is_none());
        c.process(b"6");
        c.process(b"n");
        assert_eq!(c.take_replies().unwrap(), b"\x1b[1;3R");
    }

    #[test]
    fn each_query_is_answered_at_its_own_position() {
        let mut c = Console::new(24, 80);
        c.process(b"\x1b[6nxy\x1b[6n");
        assert_eq!(c.take_replies().unwrap(), b"\x1b[1;1R\x1b[1;3R");
    }

    #[test]
    fn prompt_visible_on_cursor_line() {
        let mut c = Console::new(5, 40);
        c.process(b"loading\r\n");
        assert!(!c.prompt_visible("R.O.B.U.S.T.# "));
        c.process(b"R.O.B.U.S.T.# ");
        assert!(c.prompt_visible("R.O.B.U.S.T.# "));
    }

    #[test]
    fn replay_redraws_screen() {
        let mut c = Console::new(5, 40);
        c.process(b"\x1b[31mred\x1b[0m line\r\nsecond");
        let mut other = vt100::Parser::new(5, 40, 0);
        other.process(&c.replay());
        assert_eq!(other.screen().contents(), "red line\nsecond");
        assert_eq!(other.screen().cursor_position(), (1, 6));
    }

    #[test]
    fn shrinking_keeps_the_prompt_line() {
        let mut c = Console::new(10, 40);
        for i in 0..9 {
            c.process(format!("line {i}\r\n").as_bytes());
        }
        c.process(b"R.O.B.U.S.T.# ");
        c.resize(4, 40);
        assert_eq!(c.contents(), "line 6\nline 7\nline 8\nR.O.B.U.S.T.# ");
        assert_eq!(c.size(), (4, 40));
        assert!(c.prompt_visible("R.O.B.U.S.T.# "));
        c.process(b"\x1b[6n");
        assert_eq!(c.take_replies().unwrap(), b"\x1b[4;15R");
    }

    #[test]
    fn zero_size_is_raised() {
        assert_eq!(Console::new(0, 0).size(), (1, 1));
    }
}
