//! What of a console's raw output reaches the attached terminal. Robust's (or a
//! script's) output must not drive the operator's terminal beyond drawing: clipboard
//! writes (OSC 52), terminal queries (an OSC ending in `?`, DCS such as `+q`, whose
//! answers the terminal would type into the console) and every C1 control (the
//! two-byte UTF-8 forms of CSI, OSC, DCS, ST, which ESC-only filters miss) are dropped.
//! `attach --allow-terminal-queries` passes the OSC and DCS ones for an operator who
//! wants them. The filter is streaming: a sequence split across reads is judged whole.

/// The longest OSC kept while waiting for its end: a longer one is dropped whole (a
/// clipboard write can be megabytes; nothing drawn needs that much).
const MAX_OSC: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    /// ESC seen.
    Esc,
    /// 0xC2 seen: a C1 control if the next byte is 0x80..=0x9F.
    Lead,
    /// In an OSC (ESC `]`), collecting it; `esc`: an ESC inside (ST may follow).
    Osc { esc: bool, lead: bool },
    /// In a DCS, SOS, PM or APC, collecting it (dropped unless allowed).
    Str { esc: bool, lead: bool },
}

#[derive(Debug, Default)]
pub struct OutputFilter {
    state: State,
    /// The sequence being collected, from its introducer on.
    held: Vec<u8>,
    /// Too long to keep: dropped whole when it ends.
    overflow: bool,
    /// Pass clipboard writes and terminal queries.
    allow: bool,
}

impl OutputFilter {
    pub fn new(allow_queries: bool) -> OutputFilter {
        OutputFilter {
            allow: allow_queries,
            ..OutputFilter::default()
        }
    }

    /// Appends to `out` what of `input` may reach the terminal.
    pub fn filter(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            self.byte(b, out);
        }
    }

    fn hold(&mut self, b: u8) {
        if self.held.len() < MAX_OSC {
            self.held.push(b);
        } else {
            self.overflow = true;
        }
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        match self.state {
            State::Ground => match b {
                0x1b => self.state = State::Esc,
                0xc2 => self.state = State::Lead,
                _ => out.push(b),
            },
            State::Esc => match b {
                b']' => self.start(
                    State::Osc {
                        esc: false,
                        lead: false,
                    },
                    b"\x1b]",
                ),
                b'P' | b'X' | b'^' | b'_' => self.start(
                    State::Str {
                        esc: false,
                        lead: false,
                    },
                    &[0x1b, b],
                ),
                _ => {
                    out.extend_from_slice(&[0x1b, b]);
                    self.state = State::Ground;
                }
            },
            State::Lead => {
                self.state = State::Ground;
                match b {
                    // C1 OSC / DCS, SOS, PM, APC: their content is dropped with them.
                    0x9d => self.start(
                        State::Osc {
                            esc: false,
                            lead: false,
                        },
                        b"",
                    ),
                    0x90 | 0x98 | 0x9e | 0x9f => self.start(
                        State::Str {
                            esc: false,
                            lead: false,
                        },
                        b"",
                    ),
                    // Any other C1 control (CSI, ST, NEL, ...) alone.
                    0x80..=0x9f => {}
                    _ => out.extend_from_slice(&[0xc2, b]),
                }
            }
            State::Osc { esc, lead } => {
                let end = b == 0x07 || (esc && b == b'\\') || (lead && b == 0x9c);
                if end {
                    self.hold(b);
                    self.finish_osc(out);
                } else {
                    self.hold(b);
                    self.state = State::Osc {
                        esc: b == 0x1b,
                        lead: b == 0xc2,
                    };
                }
            }
            State::Str { esc, lead } => {
                self.hold(b);
                if (esc && b == b'\\') || (lead && b == 0x9c) {
                    if self.allow && !self.overflow && self.held.first() == Some(&0x1b) {
                        out.extend_from_slice(&self.held);
                    }
                    self.reset();
                } else {
                    self.state = State::Str {
                        esc: b == 0x1b,
                        lead: b == 0xc2,
                    };
                }
            }
        }
    }

    fn start(&mut self, state: State, introducer: &[u8]) {
        self.held.clear();
        self.held.extend_from_slice(introducer);
        self.overflow = false;
        self.state = state;
    }

    fn reset(&mut self) {
        self.held.clear();
        self.overflow = false;
        self.state = State::Ground;
    }

    /// A whole OSC: passed when it is drawing (a title, a hyperlink) in its ESC form;
    /// a clipboard write or a query only when allowed; a C1-form one never.
    fn finish_osc(&mut self, out: &mut Vec<u8>) {
        let esc_form = self.held.starts_with(b"\x1b]");
        let body = self.held.get(2..).unwrap_or_default();
        let payload: &[u8] = body
            .strip_suffix(b"\x07")
            .or_else(|| body.strip_suffix(b"\x1b\\"))
            .unwrap_or(body);
        let clipboard = payload.starts_with(b"52;");
        let query = payload.ends_with(b"?");
        let pass = esc_form && !self.overflow && (self.allow || !(clipboard || query));
        if pass {
            out.extend_from_slice(&self.held);
        }
        self.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[&[u8]], allow: bool) -> Vec<u8> {
        let mut f = OutputFilter::new(allow);
        let mut out = Vec::new();
        for chunk in input {
            f.filter(chunk, &mut out);
        }
        out
    }

    #[test]
    fn clipboard_writes_queries_and_c1_controls_are_dropped() {
        let osc52 = b"a\x1b]52;c;aGVsbG8=\x07b";
        assert_eq!(run(&[osc52], false), b"ab");
        assert_eq!(run(&[osc52], true), osc52.to_vec());
        assert_eq!(run(&[b"a\x1b]52;c;?\x1b\\b"], false), b"ab");
        assert_eq!(run(&[b"x\xc2\x9d52;c;aGk=\xc2\x9cy"], false), b"xy");
        assert_eq!(run(&[b"\xc2\x9b2J"], false), b"2J");
        assert_eq!(run(&[b"a\x1bP+q544e\x1b\\b"], false), b"ab");
        assert_eq!(
            run(&[b"a\x1bP+q544e\x1b\\b"], true),
            b"a\x1bP+q544e\x1b\\b".to_vec()
        );
        assert_eq!(run(&[b"\x1b]11;?\x07"], false), b"");
        // Drawing passes: colours, cursor moves, a title, a hyperlink, UTF-8 text.
        let drawn = "\x1b[31mred\x1b[0m\x1b[2;1H\x1b]0;title\x07\x1b]8;;http://x\x1b\\l\x1b]8;;\x1b\\ é\u{a0}";
        assert_eq!(run(&[drawn.as_bytes()], false), drawn.as_bytes().to_vec());
    }

    #[test]
    fn a_sequence_split_anywhere_is_judged_whole() {
        let text: &[u8] =
            b"before\x1b]52;c;aGVsbG8=\x07mid\xc2\x9d52;c;x\xc2\x9cafter\x1bP+q\x1b\\end";
        for cut in 0..text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(run(&[a, b], false), b"beforemidafterend", "cut at {cut}");
        }
    }

    #[test]
    fn random_streams_never_leak_a_clipboard_write_or_a_c1_control() {
        let pieces: [&[u8]; 9] = [
            b"text ",
            b"\x1b]52;c;aGk=\x07",
            b"\x1b]52;c;?\x1b\\",
            b"\xc2\x9d52;c;x\xc2\x9c",
            b"\xc2\x9b2J",
            b"\x1bP+q544e\x1b\\",
            b"\x1b[1;31m",
            "é".as_bytes(),
            b"\x1b]0;t\x07",
        ];
        let mut rng = fastrand::Rng::with_seed(19);
        for _ in 0..2000 {
            let mut stream = Vec::new();
            for _ in 0..rng.usize(1..12) {
                stream.extend_from_slice(pieces[rng.usize(..pieces.len())]);
            }
            let mut f = OutputFilter::new(false);
            let mut out = Vec::new();
            let mut rest = stream.as_slice();
            while !rest.is_empty() {
                let n = rng.usize(1..=rest.len());
                f.filter(&rest[..n], &mut out);
                rest = &rest[n..];
            }
            let shown = String::from_utf8_lossy(&out);
            assert!(!shown.contains("52;c"), "{stream:?} -> {shown:?}");
            assert!(!shown.contains("+q"), "{stream:?} -> {shown:?}");
            assert!(
                !shown.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
                "{stream:?} -> {shown:?}"
            );
        }
    }
}
