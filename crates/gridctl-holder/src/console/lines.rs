//! The console's lines as the screen finally showed them, for the log and scrollback.
//!
//! Robust's LocalConsole redraws the whole prompt line on every key typed, and puts a
//! log line above a pending prompt by moving the cursor back to column 0 over it. A
//! plain ANSI stripper logs every redraw (`R.O.B.U.S.T.# sR.O.B.U.S.T.# sh…`). This is a
//! one-line terminal instead: text overwrites at the cursor column, and a line is handed
//! on only when the cursor leaves it with a line feed, with its final content.
//!
//! Bytes the real console (0.9.2.2 on Mono, 80 columns) sends, captured on a PTY:
//! - a key typed at the prompt: `ESC[24;1H` `R.O.B.U.S.T.# sh` `ESC[24;17H`;
//! - a backspace: `ESC[24;1HR.O.B.U.S.T.# sho ESC[24;1HR.O.B.U.S.T.# sho ESC[24;18H`;
//! - Enter: `ESC[24;1H ESC[24;1H \r\n`, then the output lines;
//! - a log line while the prompt is pending: `ESC[24;1H` `12:00:00 - … \r\n`
//!   `ESC[24;1H` `R.O.B.U.S.T.# sh` `ESC[24;17H` (the prompt redrawn below it).
//!
//! - a typed line passing the last column at the bottom row (captured on 10 rows):
//!   `ESC[10;1H \r\n` (a blank over the first cell, scrolling) then `ESC[9;1H` and the
//!   whole line redrawn one row up, wrapping.
//!
//! So the row of a cursor position (`ESC[row;colH`) is ignored: Robust only ever moves
//! within the line it is on, and a line ends with its line feed. The one exception is
//! that wrap scroll: a line finished by a blank at column 1 and a line feed is held
//! back, and reopened if the cursor then goes to the row just above. Understood: CR, LF, BS,
//! tab (kept as one character), `ESC[nD`, `ESC[nC`, `ESC[nG`, `ESC[row;colH`/`f`,
//! `ESC[K`/`ESC[nK`; every other sequence and control byte is dropped, as before.
//! Trailing blanks of a finished line are dropped (a screen cannot show them).
//!
//! Colour is dropped from the text but not forgotten: the console pattern has no level
//! (`%date{HH:mm:ss} - %message`), and OpenSimAppender shows the level only as the colour
//! of the message after `[CATEGORY]:` (captured on 0.9.2.2): ERROR `ESC[31m` (red), WARN
//! `ESC[33m` (yellow), each closed by `ESC[39;49m`. Category names are coloured too
//! (`ESC[3xm`: 32–37, never red), so yellow says nothing and only red is reported: the
//! lines of each feed that had text written in red ([`LineBuilder::red_lines`]).
//!
//! Hot path: while output only appends (a log flood), a run of text is copied once,
//! straight into the caller's buffer; only the unfinished last line is carried over.

/// Lines longer than this are cut into several: a console that never prints a newline
/// must not grow the partial line without bound.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    Esc,
    EscIntermediate,
    Csi,
    Osc,
    OscEsc,
    /// DCS, SOS, PM, APC: skipped up to the string terminator.
    Str,
    StrEsc,
}

/// A streaming line discipline over raw console output (see the module docs).
#[derive(Debug, Default)]
pub struct LineBuilder {
    state: State,
    /// The first CSI parameters (0 = absent), and whether the sequence is one
    /// we must not interpret (private marker or intermediate bytes).
    params: [u16; 4],
    nparam: usize,
    private: bool,
    /// The unfinished line, carried between calls.
    pending: Vec<u8>,
    /// Cursor column and the line's length, both in characters.
    col: usize,
    chars: usize,
    /// The line is pure ASCII, so a column is a byte offset.
    ascii: bool,
    /// LocalConsole scrolls a prompt line that wraps at the bottom row with
    /// `ESC[B;1H`, a blank, `\r\n`, then goes back up (`ESC[B-1;1H`) to redraw it:
    /// the line just finished is not done. `wrap`: the row of the last `ESC[row;1H`
    /// while nothing but that blank followed it (and whether the blank came); `held`: a
    /// line finished that way (its row and text), handed on only once the next move
    /// shows it is not reopened.
    wrap: Option<(u16, bool)>,
    held: Option<(u16, Vec<u8>, bool)>,
    /// The foreground is red (SGR 31/91), and the line has text written in red.
    red: bool,
    line_red: bool,
    /// Finished lines of this feed so far, and which of them were red.
    finished: usize,
    red_lines: Vec<usize>,
}

/// Characters in UTF-8 bytes (lead bytes counted; a sequence split across reads still
/// counts once).
fn char_count(bytes: &[u8]) -> usize {
    if bytes.is_ascii() {
        bytes.len()
    } else {
        bytes.iter().filter(|&&b| b & 0xc0 != 0x80).count()
    }
}

/// The length of the leading run of printable bytes (no C0 control, no DEL) and
/// whether the run is all ASCII, in one pass. Every byte of a log flood goes through
/// here, so it looks at 8 bytes at a time (SWAR: a byte below 0x20 or equal to 0x7f
/// sets its high bit in `ctrl`; the test is exact for "any byte in the word").
fn printable_run(bytes: &[u8]) -> (usize, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut high = 0u64;
    let mut i = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let del = w ^ (0x7f * ONES);
        let ctrl = (w.wrapping_sub(0x20 * ONES) & !w) | (del.wrapping_sub(ONES) & !del);
        if ctrl & HIGH != 0 {
            break;
        }
        high |= w;
        i += 8;
    }
    let mut high = u8::from(high & HIGH != 0) << 7;
    while let Some(&b) = bytes.get(i) {
        if b < 0x20 || b == 0x7f {
            break;
        }
        high |= b;
        i += 1;
    }
    (i, high & 0x80 == 0)
}

/// The working line: `out[start..]`, so appending text is a single copy.
struct Line<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl LineBuilder {
    pub fn new() -> LineBuilder {
        LineBuilder {
            ascii: true,
            ..LineBuilder::default()
        }
    }

    /// The line not finished yet (e.g. the prompt, or a question), as shown so far.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// The lines the last [`feed`](Self::feed) finished that had text written in red
    /// (OpenSimAppender's ERROR level), as indexes into its lines: usually empty.
    pub fn red_lines(&self) -> &[usize] {
        &self.red_lines
    }

    /// Appends to `out` every line that `input` finishes, each ending in `\n`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.finished = 0;
        self.red_lines.clear();
        let start = out.len();
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        let mut line = Line { out, start };
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Ground => {
                    let (run, ascii) = printable_run(&input[i..]);
                    if run > 0 {
                        self.text(&mut line, &input[i..i + run], ascii);
                        i += run;
                        continue;
                    }
                    if b == 0x1b {
                        self.state = State::Esc;
                    } else {
                        self.control(&mut line, b);
                    }
                }
                State::Esc => {
                    self.state = match b {
                        b'[' => {
                            self.params = [0; 4];
                            self.nparam = 0;
                            self.private = false;
                            State::Csi
                        }
                        b']' => State::Osc,
                        b'P' | b'X' | b'^' | b'_' => State::Str,
                        0x20..=0x2f => State::EscIntermediate,
                        0x1b => State::Esc,
                        _ => State::Ground,
                    }
                }
                State::EscIntermediate => {
                    if !(0x20..=0x2f).contains(&b) {
                        self.state = State::Ground;
                    }
                }
                State::Csi => match b {
                    b'0'..=b'9' => {
                        if let Some(p) = self.params.get_mut(self.nparam) {
                            *p = p.saturating_mul(10).saturating_add(u16::from(b - b'0'));
                        }
                    }
                    b';' => self.nparam += 1,
                    0x3c..=0x3f | 0x20..=0x2f => self.private = true,
                    0x40..=0x7e => {
                        self.state = State::Ground;
                        if !self.private {
                            self.csi(&mut line, b);
                        }
                    }
                    0x1b => self.state = State::Esc,
                    // A terminal acts on controls inside a sequence.
                    0..=0x1f => self.control(&mut line, b),
                    _ => {}
                },
                State::Osc => match b {
                    0x07 => self.state = State::Ground,
                    0x1b => self.state = State::OscEsc,
                    _ => {}
                },
                State::OscEsc | State::StrEsc => self.state = State::Ground,
                State::Str => {
                    if b == 0x1b {
                        self.state = State::StrEsc;
                    }
                }
            }
            i += 1;
        }
        self.pending.extend_from_slice(&line.out[line.start..]);
        line.out.truncate(line.start);
    }

    fn control(&mut self, line: &mut Line, b: u8) {
        match b {
            b'\n' => {
                self.release(line);
                self.finish(line);
            }
            b'\r' => self.col = 0,
            0x08 => self.col = self.col.saturating_sub(1),
            b'\t' => self.text(line, b"\t", true),
            _ => {}
        }
    }

    fn csi(&mut self, line: &mut Line, fin: u8) {
        let n = usize::from(self.params[0].max(1));
        match fin {
            b'D' | b'C' | b'G' | b'`' | b'K' => {
                self.release(line);
                self.wrap = None;
            }
            _ => {}
        }
        match fin {
            b'D' => self.col = self.col.saturating_sub(n),
            b'C' => self.col = (self.col + n).min(MAX_LINE_BYTES),
            b'G' | b'`' => self.col = (n - 1).min(MAX_LINE_BYTES),
            // Otherwise the row is ignored: Robust positions within the line it is on.
            b'H' | b'f' => {
                let row = self.params[0].max(1);
                match self.held.take() {
                    // Back up to the line the wrap scrolled: it is still being drawn.
                    Some((held_row, text, red)) if row + 1 == held_row => {
                        line.out.truncate(line.start);
                        line.out.extend_from_slice(&text);
                        self.line_red = red;
                        self.recount(line);
                    }
                    other => {
                        self.held = other;
                        self.release(line);
                    }
                }
                self.col = (usize::from(self.params[1].max(1)) - 1).min(MAX_LINE_BYTES);
                self.wrap = (self.col == 0).then_some((row, false));
            }
            b'K' => self.erase(line, self.params[0]),
            b'm' => self.sgr(),
            _ => {}
        }
    }

    /// Follows whether the foreground is red. Only the first parameters are seen,
    /// enough for the single-attribute sequences Mono writes.
    fn sgr(&mut self) {
        let n = (self.nparam + 1).min(self.params.len());
        for &p in &self.params[..n] {
            match p {
                31 | 91 => self.red = true,
                0 | 30..=37 | 39 | 90..=97 => self.red = false,
                // An extended colour: the next parameters are its value, not attributes.
                38 => {
                    self.red = false;
                    break;
                }
                _ => {}
            }
        }
    }

    /// Hands on a held line (see `held`) before whatever comes next.
    fn release(&mut self, line: &mut Line) {
        if let Some((_, text, red)) = self.held.take() {
            let current = line.out.split_off(line.start);
            line.out.extend_from_slice(&text);
            self.finish_at_end(line, red);
            line.out.extend_from_slice(&current);
        }
    }

    /// Byte offset of column `col` in the line (its end if the line is shorter).
    fn offset(&self, line: &Line, col: usize) -> usize {
        let text = &line.out[line.start..];
        if self.ascii {
            return col.min(text.len());
        }
        let mut seen = 0;
        for (i, &b) in text.iter().enumerate() {
            if b & 0xc0 != 0x80 {
                if seen == col {
                    return i;
                }
                seen += 1;
            }
        }
        text.len()
    }

    fn erase(&mut self, line: &mut Line, mode: u16) {
        match mode {
            0 => {
                let at = line.start + self.offset(line, self.col);
                line.out.truncate(at);
                self.chars = self.chars.min(self.col);
            }
            1 => {
                // Blank from the line start through the cursor.
                let end = self.offset(line, self.col + 1);
                let blanks = self.col + 1;
                let tail = line.out.split_off(line.start + end);
                line.out.truncate(line.start);
                line.out.resize(line.start + blanks, b' ');
                line.out.extend_from_slice(&tail);
                self.recount(line);
            }
            2 => {
                line.out.truncate(line.start);
                self.chars = 0;
                self.ascii = true;
                self.line_red = false;
            }
            _ => {}
        }
    }

    fn recount(&mut self, line: &Line) {
        let text = &line.out[line.start..];
        self.ascii = text.is_ascii();
        self.chars = char_count(text);
    }

    /// Writes printable text at the cursor: appends at the end (the common case) or
    /// overwrites, padding with blanks when the cursor is past the end.
    fn text(&mut self, line: &mut Line, run: &[u8], run_ascii: bool) {
        if self.held.is_some() {
            self.release(line);
        }
        self.line_red |= self.red;
        self.wrap = match self.wrap {
            Some((row, false)) if self.col == 0 && run == b" " => Some((row, true)),
            _ => None,
        };
        let n = if run_ascii {
            run.len()
        } else {
            char_count(run)
        };
        if self.col >= self.chars {
            if self.col > self.chars {
                let pad = self.col - self.chars;
                line.out.resize(line.out.len() + pad, b' ');
            }
            line.out.extend_from_slice(run);
            self.ascii &= run_ascii;
            self.col += n;
            self.chars = self.col;
            if line.out.len() - line.start > MAX_LINE_BYTES {
                self.finish(line);
            }
            return;
        }
        if self.ascii && run_ascii {
            let at = line.start + self.col;
            let end = at + run.len();
            if end <= line.out.len() {
                line.out[at..end].copy_from_slice(run);
            } else {
                line.out.truncate(at);
                line.out.extend_from_slice(run);
            }
        } else {
            let from = line.start + self.offset(line, self.col);
            let to = line.start + self.offset(line, self.col + n);
            line.out.splice(from..to, run.iter().copied());
        }
        self.col += n;
        self.recount(line);
    }

    /// The cursor leaves the line with a line feed: hand it on, trailing blanks dropped
    /// (or hold it, when this may be LocalConsole's wrap scroll).
    fn finish(&mut self, line: &mut Line) {
        if let Some((row, true)) = self.wrap.take() {
            self.held = Some((row, line.out[line.start..].to_vec(), self.line_red));
            line.out.truncate(line.start);
        } else {
            self.finish_at_end(line, self.line_red);
        }
        self.line_red = false;
        self.col = 0;
        self.chars = 0;
        self.ascii = true;
    }

    /// Ends the line `out[start..]` with its trailing blanks dropped.
    fn finish_at_end(&mut self, line: &mut Line, red: bool) {
        if red {
            self.red_lines.push(self.finished);
        }
        self.finished += 1;
        // C1 controls (two bytes in UTF-8, so not caught as control bytes above) never
        // reach a line: an operator's terminal would honour them.
        if !line.out[line.start..].is_ascii() {
            if let std::borrow::Cow::Owned(clean) =
                gridctl_wire::terminal::without_c1(&line.out[line.start..])
            {
                line.out.truncate(line.start);
                line.out.extend_from_slice(&clean);
            }
        }
        let keep = line.out[line.start..]
            .iter()
            .rposition(|&b| b != b' ')
            .map_or(0, |i| i + 1);
        line.out.truncate(line.start + keep);
        line.out.push(b'\n');
        line.start = line.out.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19.3: C1 controls (OSC 52 in its C1 form, CSI) never reach a finished line,
    /// even split across reads; other non-ASCII text stays.
    #[test]
    fn c1_controls_never_reach_a_line() {
        let (lines, _) = run(&[b"a\xc2\x9d52;c;aGk=\xc2\x9cb \xc2", b"\x9b2J \xc3\xa9\r\n"]);
        assert_eq!(lines, "a52;c;aGk=b 2J \u{e9}\n");
    }

    /// (finished lines, pending line) after feeding `chunks` one by one.
    fn run(chunks: &[&[u8]]) -> (String, String) {
        let mut b = LineBuilder::new();
        let mut out = Vec::new();
        for c in chunks {
            b.feed(c, &mut out);
        }
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(b.pending().to_vec()).unwrap(),
        )
    }

    /// The real LocalConsole's bytes (Robust 0.9.2.2 on Mono) typing `show uptime` and
    /// Enter, read by read as captured on a PTY.
    const TYPED_SHOW_UPTIME: &[&[u8]] = &[
        b"\x1b[24;1H\x1b[24;1HR.O.B.U.S.T.# \x1b[24;15H",
        b"\x1b[24;1H",
        b"R.O.B.U.S.T.# s\x1b[24;16H",
        b"\x1b[24;1H",
        b"R.O.B.U.S.T.# sh\x1b[24;17H",
        b"\x1b[24;1HR.O.B.U.S.T.# sho\x1b[24;18H",
        b"\x1b[24;1HR.O.B.U.S.T.# show",
        b"\x1b[24;19H",
        b"\x1b[24;1HR.O.B.U.S.T.# show \x1b[24;20H",
        b"\x1b[24;1HR.O.B.U.S.T.# show u\x1b[24;21H",
        b"\x1b[24;1HR.O.B.U.S.T.# show up\x1b[24;22H",
        b"\x1b[24;1HR.O.B.U.S.T.# show upt\x1b[24;23H",
        b"\x1b[24;1HR.O.B.U.S.T.# show upti\x1b[24;24H",
        b"\x1b[24;1HR.O.B.U.S.T.# show uptim\x1b[24;25H",
        b"\x1b[24;1HR.O.B.U.S.T.# show uptime\x1b[24;26H",
        b"\x1b[24;1H",
        b"\x1b[24;1H\r\n",
        b"Time now is 2026-11-29 16:11:37\r\nServer has been running since Sunday, 2026-11-29 16:11:25\r\nThat is an elapsed time of 00:00:11.2708480\r\n\r\n",
        b"\x1b[24;1H\x1b[24;1HR.O.B.U.S.T.# \x1b[24;15H",
    ];

    #[test]
    fn real_keystroke_redraws_log_the_line_once() {
        let (lines, pending) = run(TYPED_SHOW_UPTIME);
        assert_eq!(
            lines,
            "R.O.B.U.S.T.# show uptime\nTime now is 2026-11-29 16:11:37\n\
             Server has been running since Sunday, 2026-11-29 16:11:25\n\
             That is an elapsed time of 00:00:11.2708480\n\n"
        );
        assert_eq!(pending, "R.O.B.U.S.T.# ");
    }

    #[test]
    fn same_result_whatever_the_read_boundaries() {
        let all: Vec<u8> = TYPED_SHOW_UPTIME.concat();
        let whole = run(&[&all]);
        let bytes: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(run(&bytes), whole);
        let threes: Vec<&[u8]> = all.chunks(3).collect();
        assert_eq!(run(&threes), whole);
    }

    #[test]
    fn real_backspace_redraw() {
        // `shox`, backspace, `w`, Enter: the console answered "Invalid command".
        let (lines, pending) = run(&[
            b"\x1b[24;1HR.O.B.U.S.T.# shox\x1b[24;19H",
            b"\x1b[24;1HR.O.B.U.S.T.# sho \x1b[24;1HR.O.B.U.S.T.# sho\x1b[24;18H",
            b"\x1b[24;1HR.O.B.U.S.T.# show\x1b[24;19H",
            b"\x1b[24;1H\x1b[24;1H\r\nInvalid command\r\n\x1b[24;1H\x1b[24;1HR.O.B.U.S.T.# \x1b[24;15H",
        ]);
        assert_eq!(lines, "R.O.B.U.S.T.# show\nInvalid command\n");
        assert_eq!(pending, "R.O.B.U.S.T.# ");
    }

    #[test]
    fn real_log_line_during_pending_prompt_has_no_prompt_glued_in_front() {
        // `sh` typed, then an HTTP request logged (debug http in 3), then the rest.
        let (lines, pending) = run(&[
            b"\x1b[60;1HR.O.B.U.S.T.# sh\x1b[60;17H",
            b"\x1b[60;1H",
            b"16:12:24 - [\x1b[37mLOGHTTP\x1b[39;49m]: HTTP IN 1 :18702 stream handler GET /get_grid_info  from 127.0.0.1:51214\r\n\x1b[60;1HR.O.B.U.S.T.# sh\x1b[60;17H",
        ]);
        assert_eq!(
            lines,
            "16:12:24 - [LOGHTTP]: HTTP IN 1 :18702 stream handler GET /get_grid_info  from 127.0.0.1:51214\n"
        );
        assert_eq!(pending, "R.O.B.U.S.T.# sh");
    }

    #[test]
    fn real_question_is_pending_until_answered() {
        let (lines, pending) = run(&[
            b"\x1b[24;1H\x1b[24;1H\r\n",
            b"\x1b[24;1H\x1b[24;1HUser ID (enter for random) []: \x1b[24;32H",
        ]);
        assert_eq!(lines, "\n");
        assert_eq!(pending, "User ID (enter for random) []: ");
        let (lines, _) = run(&[
            b"\x1b[24;1H\x1b[24;1HFirst name [Default]: \x1b[24;23H",
            b"\x1b[24;1HFirst name [Default]: T\x1b[24;24H",
            b"\x1b[24;1HFirst name [Default]: Te\x1b[24;25H",
            b"\x1b[24;1H\x1b[24;1H\r\n",
        ]);
        assert_eq!(lines, "First name [Default]: Te\n");
    }

    /// Robust 0.9.2.2 on a 10-row screen, a typed line passing column 80 at the bottom
    /// row: the wrap scroll, then the redraw one row up (captured).
    const WRAP_AT_BOTTOM: &[&[u8]] = &[
        b"\x1b[10;1HR.O.B.U.S.T.# show 012345678901234567890123456789012345678901234567890123456789\x1b[10;80H",
        b"\x1b[10;1H \r\n\x1b[9;1HR.O.B.U.S.T.# show 0123456789012345678901234567890123456789012345678901234567890\x1b[10;1H",
        b"\x1b[9;1HR.O.B.U.S.T.# show 01234567890123456789012345678901234567890123456789012345678901",
        b"\x1b[10;2H",
        b"\x1b[9;1H\x1b[9;1H\r\n",
        b"Invalid command",
        b"\r\n\x1b[10;1H\x1b[10;1HR.O.B.U.S.T.# \x1b[10;15H",
    ];

    #[test]
    fn real_wrap_scroll_at_the_bottom_is_not_a_line() {
        let all: Vec<u8> = WRAP_AT_BOTTOM.concat();
        let want = (
            "R.O.B.U.S.T.# show 01234567890123456789012345678901234567890123456789012345678901\n\
             Invalid command\n"
                .to_string(),
            "R.O.B.U.S.T.# ".to_string(),
        );
        assert_eq!(run(WRAP_AT_BOTTOM), want);
        // Whatever the read boundaries, the held line is resolved the same way.
        for size in [1, 2, 5, 7] {
            let chunks: Vec<&[u8]> = all.chunks(size).collect();
            assert_eq!(run(&chunks), want, "chunks of {size}");
        }
    }

    #[test]
    fn real_resize_scroll_stays_on_screen_and_in_the_log() {
        // Shrunk from 24 to 10 rows, then a key: the old prompt line (first cell
        // blanked) scrolls up and stays on screen; the prompt is redrawn below it.
        let (lines, pending) = run(&[
            b"\x1b[24;1HR.O.B.U.S.T.# s\x1b[24;16H",
            b"\x1b[10;1H \r\n\x1b[10;1H",
            b"R.O.B.U.S.T.# sh\x1b[10;17H",
        ]);
        assert_eq!(lines, " .O.B.U.S.T.# s\n");
        assert_eq!(pending, "R.O.B.U.S.T.# sh");
        // A blank line at column 1 followed by ordinary output is an ordinary line.
        assert_eq!(run(&[b"\x1b[5;1H \r\nnext\n"]).0, "\nnext\n");
    }

    #[test]
    fn carriage_return_erase_and_relative_moves() {
        assert_eq!(run(&[b"12345\rab\n"]).0, "ab345\n");
        assert_eq!(run(&[b"12345\r\x1b[Kab\n"]).0, "ab\n");
        assert_eq!(run(&[b"12345\x1b[2D\x1b[Kx\n"]).0, "123x\n");
        assert_eq!(run(&[b"12345\x1b[3G\x1b[1Kx\n"]).0, "  x45\n");
        assert_eq!(run(&[b"12345\x1b[2Kab\n"]).0, "     ab\n");
        assert_eq!(run(&[b"ab\x08\x08xy\n"]).0, "xy\n");
        assert_eq!(run(&[b"a\x1b[3Cb\n"]).0, "a   b\n");
        assert_eq!(run(&[b"abc\x1b[1;1Hz\n"]).0, "zbc\n");
    }

    #[test]
    fn colours_titles_and_private_modes_are_dropped() {
        assert_eq!(
            run(&[b"\x1b[?1h\x1b=\x1b[1;31mred\x1b[0m \x1b]0;title\x07ok\r\n\x1b(Bx\x1b[6n"]),
            ("red ok\n".to_string(), "x".to_string())
        );
    }

    /// Real 0.9.2.2 console bytes (captured on a PTY): an INFO line with a coloured
    /// category, the stale-PID ERROR (red after the category), a WARN (yellow), and a
    /// line printed above the pending prompt.
    const LEVELS: &[u8] = b"16:48:22 - [\x1b[36mSERVER BASE\x1b[39;49m]: Starting in /tmp/rr-h2/bin\r\n\
16:48:22 - [\x1b[36mSERVER BASE\x1b[39;49m]:\x1b[31m Previous pid file /tmp/cap/i1/Robust.pid still exists on startup.  Possibly previously unclean shutdown.\x1b[39;49m\r\n\
16:48:22 - [\x1b[36mSERVER BASE\x1b[39;49m]: Created pid file /tmp/cap/i1/Robust.pid\r\n\
\x1b[24;1H\x1b[24;1HR.O.B.U.S.T.# \x1b[24;15H\x1b[24;1H16:48:44 - [\x1b[33mBASE HTTP SERVER\x1b[39;49m]:\x1b[33m Fail to decode XMLRPC request 127.0.0.1:42682: Data at the root level is invalid. Line 1, position 1.\x1b[39;49m\r\n\
\x1b[24;1HR.O.B.U.S.T.# \x1b[24;15H\x1b[24;1H16:48:45 - \x1b[31mno category\nsecond line of it\x1b[39;49m\r\n\
\x1b[24;1HR.O.B.U.S.T.# \x1b[24;15H";

    /// (red line texts, all lines) whatever the read size.
    fn red_of(chunk: usize) -> (Vec<String>, Vec<String>) {
        let mut b = LineBuilder::new();
        let (mut all, mut red) = (Vec::new(), Vec::new());
        for c in LEVELS.chunks(chunk) {
            let mut out = Vec::new();
            b.feed(c, &mut out);
            let text = String::from_utf8(out).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            red.extend(b.red_lines().iter().map(|&i| lines[i].to_string()));
            all.extend(lines.iter().map(|l| l.to_string()));
        }
        (red, all)
    }

    #[test]
    fn real_error_lines_are_reported_red_and_warn_or_category_colours_are_not() {
        let (red, all) = red_of(LEVELS.len());
        assert_eq!(all.len(), 6, "{all:?}");
        assert_eq!(
            red,
            vec![
                "16:48:22 - [SERVER BASE]: Previous pid file /tmp/cap/i1/Robust.pid still exists on startup.  Possibly previously unclean shutdown.",
                "16:48:45 - no category",
                "second line of it",
            ]
        );
        for size in [1, 2, 3, 7, 64] {
            assert_eq!(red_of(size), (red.clone(), all.clone()), "chunks of {size}");
        }
        // SGR forms: reset by 0, by an empty list, by another colour; bright red counts.
        let red_after = |bytes: &[u8]| {
            let mut b = LineBuilder::new();
            b.feed(bytes, &mut Vec::new());
            b.red_lines().to_vec()
        };
        assert_eq!(red_after(b"\x1b[1;31mx\x1b[m\ny\n"), vec![0]);
        assert_eq!(red_after(b"\x1b[91mx\n\x1b[0my\n"), vec![0]);
        assert_eq!(red_after(b"\x1b[31m\x1b[32mx\n"), Vec::<usize>::new());
        assert_eq!(red_after(b"\x1b[31m\x1b[2Kx\x1b[39m\n"), vec![0]);
        assert_eq!(red_after(b"\x1b[38;5;31mx\n"), Vec::<usize>::new());
    }

    #[test]
    fn utf8_overwrite_counts_characters() {
        assert_eq!(run(&["héllo\r\x1b[2Cy\n".as_bytes()]).0, "héylo\n");
        assert_eq!(run(&["— ok\n".as_bytes()]).0, "— ok\n");
    }

    #[test]
    fn printable_runs_stop_at_controls_and_report_ascii() {
        assert_eq!(printable_run(b""), (0, true));
        assert_eq!(printable_run(b"abc"), (3, true));
        assert_eq!(printable_run(b"0123456789abcdef\r\n"), (16, true));
        assert_eq!(printable_run(b"0123456\x1b[0m"), (7, true));
        assert_eq!(printable_run(b"01234567\x7f"), (8, true));
        assert_eq!(printable_run("0123456789é\n".as_bytes()), (12, false));
        assert_eq!(printable_run("é0123456789\t".as_bytes()), (12, false));
        // Every control byte, at every offset of a word.
        for ctrl in (0u8..0x20).chain([0x7f]) {
            for at in 0..17 {
                let mut v = vec![b'x'; 20];
                v[at] = ctrl;
                assert_eq!(printable_run(&v), (at, true), "{ctrl:#x} at {at}");
            }
        }
        for b in (0x20u8..0x7f).chain(0x80..=0xff) {
            let v = vec![b; 9];
            assert_eq!(printable_run(&v), (9, b < 0x80), "{b:#x}");
        }
    }

    #[test]
    fn endless_line_is_cut() {
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let (lines, pending) = run(&[&long]);
        // Cut once it passes the limit, at the end of the text that passed it.
        assert_eq!(lines.len(), MAX_LINE_BYTES + 11);
        assert!(lines.ends_with('\n') && pending.is_empty());
    }
}
