//! Where console lines go besides the screen model: the in-memory scrollback of recent
//! lines, and the size-rotated plain-text console log. Both get the lines as the screen
//! finally showed them ([`crate::console::lines`]).
//!
//! This is the hot path (every byte Robust prints passes through it), so nothing here
//! allocates per byte or issues a syscall per line: the scrollback recycles the `String`
//! of the line it evicts, and the log is a `BufWriter` flushed by the console worker when
//! output pauses.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The scrollback always keeps at least this many lines, so status can show the
/// last lines before an exit even when `scrollback_lines` is tiny.
pub const MIN_SCROLLBACK: usize = 20;

/// The last `capacity` console lines, plus the line being printed (e.g. the prompt).
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

    /// Adds finished lines (each ends in `\n`, and each is whole: the line builder
    /// hands on a line with the text it showed before, so the line under the cursor is
    /// replaced, never continued — continuing it doubled the `HH:MM:SS - ` that log4net
    /// writes before a coloured category). `on_line` sees every line and its index in
    /// `lines`. Text after the last `\n` becomes the line under the cursor.
    pub fn push(&mut self, lines: &[u8], mut on_line: impl FnMut(usize, &str)) {
        self.partial.clear();
        let mut rest = lines;
        let mut index = 0;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            self.finish_line(&rest[..nl], index, &mut on_line);
            index += 1;
            rest = &rest[nl + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    fn finish_line(&mut self, text: &[u8], index: usize, on_line: &mut impl FnMut(usize, &str)) {
        // Recycle the evicted line's buffer: no allocation once the ring is full.
        let mut line = if self.lines.len() >= self.capacity {
            self.lines.pop_front().unwrap_or_default()
        } else {
            String::new()
        };
        line.clear();
        // Valid UTF-8 (the usual case) is checked by the fast validator and copied once.
        match std::str::from_utf8(text) {
            Ok(text) => line.push_str(text),
            Err(_) => line.push_str(&String::from_utf8_lossy(text)),
        }
        on_line(index, &line);
        self.lines.push_back(line);
    }

    /// Replaces the line being printed with its current content (a prompt being
    /// typed at is redrawn in place, so it is set, not appended to).
    pub fn set_partial(&mut self, pending: &[u8]) {
        self.partial.clear();
        self.partial.extend_from_slice(pending);
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
/// Format: one console line per file line, as the screen finally showed it: cursor
/// moves, carriage returns, erases and backspaces applied, every other ANSI/VT sequence
/// and control byte dropped, trailing blanks removed (Robust's console lines already
/// start with `HH:mm:ss - `). A line is written once the cursor leaves it with a line
/// feed, so keystroke redraws and the pending prompt never reach the file. When writing would pass
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

    /// Appends finished lines, rotating at the line boundary where the file would pass
    /// the size limit. The worker writes a whole batch at once (up to a queue's worth
    /// during a flood), so the batch is split there: every file fills up to the limit.
    pub fn write(&mut self, text: &[u8]) -> io::Result<()> {
        let mut rest = text;
        while !rest.is_empty() {
            let room =
                usize::try_from(self.max_bytes.saturating_sub(self.size)).unwrap_or(usize::MAX);
            if rest.len() <= room {
                return self.append(rest);
            }
            let next_line = |b: &[u8]| {
                b.iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |i| i + 1)
            };
            let take = if !self.at_line_start || self.size == 0 {
                // Finish a half-written line in this file so no line is split across
                // files (the file may pass the limit by that much); a single line
                // longer than the limit goes whole into a file of its own.
                next_line(rest)
            } else {
                // The whole lines that still fit.
                rest[..room]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |i| i + 1)
            };
            if take > 0 {
                self.append(&rest[..take])?;
                rest = &rest[take..];
            } else {
                self.rotate()?;
            }
        }
        Ok(())
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

    #[test]
    fn scrollback_keeps_last_lines_and_partial() {
        let mut sb = Scrollback::new(20);
        let mut seen = Vec::new();
        for i in 0..30 {
            sb.push(format!("line {i}\n").as_bytes(), |_, l| {
                seen.push(l.to_string())
            });
        }
        sb.push(b"", |_, _| {});
        sb.set_partial(b"R.O.B.U.S.T.# ");
        assert_eq!(seen.len(), 30);
        let last = sb.last_lines(3);
        assert_eq!(last, vec!["line 28", "line 29", "R.O.B.U.S.T.# "]);
        assert_eq!(sb.lines.len(), 20);
        assert_eq!(sb.partial(), "R.O.B.U.S.T.# ");
    }

    /// log4net writes `HH:MM:SS - ` before a coloured category in a write of its own, so
    /// a read often ends there: the finished line must not repeat it (status once showed
    /// `16:24:00 - 16:24:00 - [SERVICE BASE]: ...`).
    #[test]
    fn a_line_finished_in_a_later_read_is_not_doubled() {
        let mut builder = crate::console::lines::LineBuilder::new();
        let mut sb = Scrollback::new(20);
        let mut seen = Vec::new();
        for chunk in [
            &b"16:24:00 - "[..],
            b"[\x1b[36mSERVICE BASE\x1b[39;49m]:\x1b[31m Failed to load plugin\x1b[39;49m\r\n",
        ] {
            let mut lines = Vec::new();
            builder.feed(chunk, &mut lines);
            sb.push(&lines, |_, l| seen.push(l.to_string()));
            sb.set_partial(builder.pending());
        }
        let want = "16:24:00 - [SERVICE BASE]: Failed to load plugin";
        assert_eq!(seen, vec![want]);
        assert_eq!(sb.last_lines(1), vec![want]);
    }

    /// The worker writes a flood's lines in big batches: a batch is split where the
    /// file fills up, so files still reach the limit (not a batch short of it).
    #[test]
    fn a_big_batch_fills_each_file_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut log = ConsoleLog::open(&path, 100, 3).unwrap();
        let batch: String = (0..20).map(|i| format!("line number {i:03}\n")).collect();
        log.write(batch.as_bytes()).unwrap();
        log.flush().unwrap();
        let main = fs::read_to_string(&path).unwrap();
        let one = fs::read_to_string(dir.path().join("console.log.1")).unwrap();
        let two = fs::read_to_string(dir.path().join("console.log.2")).unwrap();
        let three = fs::read_to_string(dir.path().join("console.log.3")).unwrap();
        // 16-byte lines: 6 fit in 100 bytes.
        for full in [&three, &two, &one] {
            assert_eq!(full.len(), 96, "{full}");
        }
        assert_eq!(main, "line number 018\nline number 019\n");
        assert_eq!(
            [three, two, one, main].concat(),
            batch,
            "every line, in order, none split"
        );
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
