//! Where console output goes besides the screen model: an ANSI stripper, the in-memory
//! scrollback of recent lines, and the size-rotated plain-text console log.
//!
//! This is the hot path (every byte Robust prints passes through it), so nothing here
//! allocates per byte or issues a syscall per line: the stripper appends runs of plain
//! text into a caller-owned buffer, the scrollback recycles the `String` of the line it
//! evicts, and the log is a `BufWriter` flushed by the drain thread when output pauses.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Lines longer than this are cut into several: a console that never prints a newline
/// must not grow the partial line without bound.
const MAX_LINE_BYTES: usize = 16 * 1024;

/// The scrollback always keeps at least this many lines, so status can show the
/// last lines before an exit even when `scrollback_lines` is tiny.
pub const MIN_SCROLLBACK: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum StripState {
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

/// Streaming ANSI/VT stripper: keeps printable text, `\n` and `\t`; drops escape
/// sequences, `\r` and other control bytes. State survives across chunks, so a
/// sequence split between two reads is still removed.
#[derive(Debug, Default)]
pub struct AnsiStripper {
    state: StripState,
}

impl AnsiStripper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the plain text of `input` to `out`.
    pub fn strip(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                StripState::Ground => {
                    // Copy the run of plain bytes in one go.
                    let run = input[i..]
                        .iter()
                        .position(|&b| b < 0x20 || b == 0x7f)
                        .unwrap_or(input.len() - i);
                    out.extend_from_slice(&input[i..i + run]);
                    i += run;
                    if i < input.len() {
                        match input[i] {
                            0x1b => self.state = StripState::Esc,
                            b'\n' | b'\t' => out.push(input[i]),
                            _ => {}
                        }
                        i += 1;
                    }
                    continue;
                }
                StripState::Esc => {
                    self.state = match input[i] {
                        b'[' => StripState::Csi,
                        b']' => StripState::Osc,
                        b'P' | b'X' | b'^' | b'_' => StripState::Str,
                        0x20..=0x2f => StripState::EscIntermediate,
                        0x1b => StripState::Esc,
                        _ => StripState::Ground,
                    }
                }
                StripState::EscIntermediate => {
                    if !(0x20..=0x2f).contains(&input[i]) {
                        self.state = StripState::Ground;
                    }
                }
                StripState::Csi => match input[i] {
                    0x40..=0x7e => self.state = StripState::Ground,
                    0x1b => self.state = StripState::Esc,
                    _ => {}
                },
                StripState::Osc => match input[i] {
                    0x07 => self.state = StripState::Ground,
                    0x1b => self.state = StripState::OscEsc,
                    _ => {}
                },
                StripState::OscEsc | StripState::StrEsc => self.state = StripState::Ground,
                StripState::Str => {
                    if input[i] == 0x1b {
                        self.state = StripState::StrEsc;
                    }
                }
            }
            i += 1;
        }
    }
}

/// Strips a whole string at once (for short texts such as `send` output).
pub fn strip_ansi(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    AnsiStripper::new().strip(input, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The last `capacity` lines of stripped console text, plus the line being printed.
#[derive(Debug)]
pub struct Scrollback {
    lines: VecDeque<String>,
    capacity: usize,
    partial: Vec<u8>,
}

impl Scrollback {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(MIN_SCROLLBACK);
        Scrollback {
            lines: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            partial: Vec::new(),
        }
    }

    /// Adds stripped text; `on_line` sees every line completed by it.
    pub fn push(&mut self, stripped: &[u8], mut on_line: impl FnMut(&str)) {
        let mut rest = stripped;
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    self.partial.extend_from_slice(&rest[..nl]);
                    self.finish_line(&mut on_line);
                    rest = &rest[nl + 1..];
                }
                None => {
                    self.partial.extend_from_slice(rest);
                    if self.partial.len() > MAX_LINE_BYTES {
                        self.finish_line(&mut on_line);
                    }
                    rest = &[];
                }
            }
        }
    }

    fn finish_line(&mut self, on_line: &mut impl FnMut(&str)) {
        // Recycle the evicted line's buffer: no allocation once the ring is full.
        let mut line = if self.lines.len() >= self.capacity {
            self.lines.pop_front().unwrap_or_default()
        } else {
            String::new()
        };
        line.clear();
        line.push_str(&String::from_utf8_lossy(&self.partial));
        self.partial.clear();
        on_line(&line);
        self.lines.push_back(line);
    }

    /// The line being printed (no newline yet), e.g. the prompt.
    pub fn partial(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.partial)
    }

    /// The last `n` lines, the unfinished one included when it has text.
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        let partial = self.partial();
        let extra = usize::from(!partial.trim().is_empty());
        let take = n.saturating_sub(extra).min(self.lines.len());
        let mut out: Vec<String> = self
            .lines
            .iter()
            .skip(self.lines.len() - take)
            .cloned()
            .collect();
        if extra == 1 {
            out.push(partial.into_owned());
        }
        out
    }
}

/// The plain-text console log.
///
/// Format: the console output with every ANSI/VT sequence, `\r` and other control
/// bytes stripped, one console line per file line, exactly as Robust printed it
/// (Robust's console lines already start with `HH:mm:ss - `). When writing would pass
/// `max_bytes` the file is rotated at the next line boundary: `console.log` → `console.log.1`
/// → … → `console.log.<keep>`, the oldest dropped; `keep = 0` simply truncates.
#[derive(Debug)]
pub struct ConsoleLog {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: BufWriter<File>,
    size: u64,
    dirty: bool,
    at_line_start: bool,
}

impl ConsoleLog {
    pub fn open(path: &Path, max_bytes: u64, keep: u32) -> io::Result<ConsoleLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(ConsoleLog {
            path: path.to_path_buf(),
            max_bytes: max_bytes.max(1),
            keep,
            file: BufWriter::with_capacity(64 * 1024, file),
            size,
            dirty: false,
            at_line_start: true,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends stripped text, rotating first when it would pass the size limit.
    pub fn write(&mut self, text: &[u8]) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let mut rest = text;
        if self.size > 0 && self.size + rest.len() as u64 > self.max_bytes {
            // Finish a half-written line in the old file so no line is split
            // across files (the old file may pass the limit by that much).
            if !self.at_line_start {
                if let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                    self.append(&rest[..=nl])?;
                    rest = &rest[nl + 1..];
                }
            }
            self.rotate()?;
        }
        self.append(rest)
    }

    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.size += data.len() as u64;
        if let Some(&last) = data.last() {
            self.at_line_start = last == b'\n';
            self.dirty = true;
        }
        Ok(())
    }

    /// Writes buffered text to the file if there is any (called when output pauses).
    pub fn flush(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.flush()?;
            self.dirty = false;
        }
        Ok(())
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            self.file.get_ref().set_len(0)?;
        } else {
            let numbered = |n: u32| {
                let mut p = self.path.clone().into_os_string();
                p.push(format!(".{n}"));
                PathBuf::from(p)
            };
            let _ = fs::remove_file(numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    fs::rename(&from, numbered(n + 1))?;
                }
            }
            fs::rename(&self.path, numbered(1))?;
            self.file = BufWriter::with_capacity(64 * 1024, open_append(&self.path)?);
        }
        self.size = 0;
        self.dirty = false;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(chunks: &[&[u8]]) -> String {
        let mut s = AnsiStripper::new();
        let mut out = Vec::new();
        for c in chunks {
            s.strip(c, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strips_csi_osc_and_controls() {
        assert_eq!(
            stripped(&[b"\x1b[1;31mred\x1b[0m \x1b]0;title\x07ok\r\n\x1b(Bx\x1b[6n"]),
            "red ok\nx"
        );
    }

    #[test]
    fn strips_sequences_split_across_chunks() {
        assert_eq!(
            stripped(&[b"a\x1b", b"[3", b"2mb\x1b]2;t", b"\x1b\\c"]),
            "abc"
        );
    }

    #[test]
    fn keeps_utf8() {
        assert_eq!(stripped(&["héllo — ok\n".as_bytes()]), "héllo — ok\n");
    }

    #[test]
    fn scrollback_keeps_last_lines_and_partial() {
        let mut sb = Scrollback::new(20);
        let mut seen = Vec::new();
        for i in 0..30 {
            sb.push(format!("line {i}\n").as_bytes(), |l| {
                seen.push(l.to_string())
            });
        }
        sb.push(b"R.O.B.U.S.T.# ", |_| {});
        assert_eq!(seen.len(), 30);
        let last = sb.last_lines(3);
        assert_eq!(last, vec!["line 28", "line 29", "R.O.B.U.S.T.# "]);
        assert_eq!(sb.lines.len(), 20);
        assert_eq!(sb.partial(), "R.O.B.U.S.T.# ");
    }

    #[test]
    fn log_rotates_at_line_boundaries_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut log = ConsoleLog::open(&path, 100, 2).unwrap();
        for i in 0..40 {
            log.write(format!("line number {i:03}\n").as_bytes())
                .unwrap();
        }
        log.flush().unwrap();
        let main = fs::read_to_string(&path).unwrap();
        let one = fs::read_to_string(dir.path().join("console.log.1")).unwrap();
        assert!(dir.path().join("console.log.2").exists());
        assert!(!dir.path().join("console.log.3").exists());
        assert!(main.len() <= 100 && one.len() <= 100);
        assert!(main.ends_with("line number 039\n"), "{main}");
        for content in [&main, &one] {
            assert!(content.lines().all(|l| l.starts_with("line number ")));
        }
    }
}
