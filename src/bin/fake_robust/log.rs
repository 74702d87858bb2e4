//! Log lines to the console and the log file, in Robust's log4net formats (robust.md §6),
//! and every other console write, so output never tears a prompt apart.
//!
//! Times are UTC: close enough for a test double, and it needs no time zone database.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::logconfig::Roll;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

/// The logger name in the file log (`%logger`): Robust's, or the simulator's.
static LOGGER_NAME: OnceLock<&'static str> = OnceLock::new();
/// Mono picks the colour from terminfo: 16-colour terminals (`*-256color`) get the
/// bright codes (`ESC[91m` red, `ESC[93m` yellow), `xterm` the plain ones (31, 33).
static BRIGHT: AtomicBool = AtomicBool::new(false);

/// Names the process in the file log and picks the colour codes (simulator.md §3).
pub fn set_process(logger: &'static str, bright_colours: bool) {
    let _ = LOGGER_NAME.set(logger);
    BRIGHT.store(bright_colours, Ordering::Relaxed);
}

/// What the console shows at its bottom line, so a log line can be put above it.
struct View {
    prompt: Option<String>,
    input: String,
    /// The 1-based screen row of the prompt line, once a cursor report told it. Then
    /// the prompt line is redrawn the way LocalConsole does (see [`redraw`]).
    row: Option<u16>,
    /// Typed keys are shown (false while a password is typed).
    echo: bool,
}

struct Logger {
    /// Log lines reach the console only through log4net's `Console` appender.
    console: bool,
    file: Option<Mutex<LogFile>>,
}

/// The file log, rolled by size as log4net's RollingFileAppender does: before a line is
/// written, a file already at the limit becomes `.1` (so a file passes the limit by at
/// most one line, as measured on 0.9.2.2).
struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    roll: Option<Roll>,
}

impl LogFile {
    fn open(path: &Path, roll: Option<Roll>) -> std::io::Result<LogFile> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            roll,
        })
    }

    fn write_line(&mut self, line: &[u8]) {
        if let Some(roll) = self.roll {
            if self.size > 0 && self.size >= u64::try_from(roll.max_bytes).unwrap_or(0) {
                // A failed roll keeps appending to the old file, as log4net does.
                let _ = self.roll_over(roll.keep);
            }
        }
        if self.file.write_all(line).is_ok() {
            self.size += line.len() as u64;
        }
    }

    fn roll_over(&mut self, keep: i32) -> std::io::Result<()> {
        let numbered = |n: i64| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        if keep == 0 {
            self.file.set_len(0)?;
        } else {
            // A negative count keeps every backup: shift as many as there are.
            let last = if keep > 0 {
                i64::from(keep)
            } else {
                (1..).find(|&n| !numbered(n).exists()).unwrap_or(1)
            };
            let _ = std::fs::remove_file(numbered(last));
            for n in (1..last).rev() {
                if numbered(n).exists() {
                    std::fs::rename(numbered(n), numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
            *self = LogFile::open(&self.path, self.roll)?;
        }
        self.size = 0;
        Ok(())
    }
}

static LOGGER: OnceLock<Logger> = OnceLock::new();
static VIEW: Mutex<View> = Mutex::new(View {
    prompt: None,
    input: String::new(),
    row: None,
    echo: true,
});

/// Starts logging as log4net does with the sinks a config gave: its own messages on the
/// console first, then the appenders (an appender that cannot open says so, as log4net).
pub fn start(sinks: &crate::logconfig::Sinks) {
    for m in &sinks.messages {
        console_line(m);
    }
    if let Err(e) = init(
        sinks.console,
        sinks.file.as_deref(),
        sinks.roll,
        &sinks.opened,
    ) {
        println!("log4net:ERROR {e}");
    }
}

/// Opens (appends to) every file log4net opened and keeps `path` for the log lines,
/// rolled as `roll` says; `console` says whether log lines are shown on the console.
pub fn init(
    console: bool,
    path: Option<&Path>,
    roll: Option<Roll>,
    opened: &[PathBuf],
) -> Result<(), String> {
    let mut err = Ok(());
    for p in opened.iter().filter(|p| Some(p.as_path()) != path) {
        if let Err(e) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            err = Err(format!("cannot open log file {}: {e}", p.display()));
        }
    }
    let file = path.and_then(|p| match LogFile::open(p, roll) {
        Ok(f) => Some(Mutex::new(f)),
        Err(e) => {
            err = Err(format!("cannot open log file {}: {e}", p.display()));
            None
        }
    });
    let _ = LOGGER.set(Logger { console, file });
    err
}

fn logger() -> &'static str {
    LOGGER_NAME
        .get()
        .copied()
        .unwrap_or("OpenSim.Server.RobustServer")
}

pub fn debug(msg: &str) {
    log(Level::Debug, logger(), msg);
}

pub fn info(msg: &str) {
    log(Level::Info, logger(), msg);
}

pub fn warn(msg: &str) {
    log(Level::Warn, logger(), msg);
}

pub fn error(msg: &str) {
    log(Level::Error, logger(), msg);
}

/// FATAL: no colour on the console (OpenSimAppender colours only ERROR and WARN).
pub fn fatal(msg: &str) {
    log(Level::Fatal, logger(), msg);
}

pub fn log(level: Level, logger: &str, msg: &str) {
    let now = Clock::now();
    let sink = LOGGER.get();
    if let Some(Logger { file: Some(f), .. }) = sink {
        let lvl = match level {
            Level::Debug => "DEBUG",
            Level::Info => "INFO ",
            Level::Warn => "WARN ",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        };
        let line = format!("{} {lvl} (1) - {logger} {msg}\n", now.file_stamp());
        if let Ok(mut f) = f.lock() {
            f.write_line(line.as_bytes());
        }
    }
    // Before init (nothing configured yet) lines still show, as the fake always did.
    if sink.is_none_or(|l| l.console) {
        console_line(&format!(
            "{} - {}",
            now.console_stamp(),
            console_message(level, msg)
        ));
    }
}

/// The message as OpenSimAppender shows it: the console pattern has no level, an ERROR
/// is only red and a WARN yellow (after the `[CATEGORY]:`), as measured on 0.9.2.2:
/// `[SERVER BASE]:\e[31m Previous pid file ...\e[39;49m`. Category colours are left out.
fn console_message(level: Level, msg: &str) -> String {
    let bright = BRIGHT.load(Ordering::Relaxed);
    let colour = match (level, bright) {
        (Level::Error, false) => "31",
        (Level::Error, true) => "91",
        (Level::Warn, false) => "33",
        (Level::Warn, true) => "93",
        (Level::Debug | Level::Info | Level::Fatal, _) => return msg.to_string(),
    };
    match msg.split_once("]:") {
        Some((category, rest)) if category.starts_with('[') => {
            format!("{category}]:\x1b[{colour}m{rest}\x1b[39;49m")
        }
        _ => format!("\x1b[{colour}m{msg}\x1b[39;49m"),
    }
}

/// Writes one line to the console above the prompt (redrawing prompt and input).
pub fn console_line(line: &str) {
    let mut view = lock_view();
    let mut out = String::new();
    match (&view.prompt, view.row) {
        // LocalConsole: back to column 0 over the prompt, the line, then the prompt
        // redrawn on the row below (captured from Robust 0.9.2.2 on Mono).
        (Some(_), Some(row)) => {
            out.push_str(&format!("\x1b[{row};1H{line}\n"));
            view.row = Some(next_row(row));
            out.push_str(&redraw(&view));
        }
        (Some(p), None) => {
            out.push_str(&format!("\r\x1b[K{line}\n{p}{}", view.input));
        }
        (None, row) => {
            out.push_str(line);
            out.push('\n');
            view.row = row.map(next_row);
        }
    }
    write_stdout(out.as_bytes());
}

/// Raw console bytes (queries, echo) with nothing redrawn.
pub fn console_raw(bytes: &[u8]) {
    let _view = lock_view();
    write_stdout(bytes);
}

/// The cursor report said the cursor is on `row` (1-based): redraws use it.
pub fn set_row(row: u16) {
    lock_view().row = Some(row.max(1));
}

/// Shows the prompt (or a question); typed input starts empty.
pub fn show_prompt(prompt: &str) {
    let mut view = lock_view();
    view.prompt = Some(prompt.to_string());
    view.input.clear();
    match view.row {
        // Mono sets the row and the column separately: two cursor moves.
        Some(row) => {
            let out = format!("\x1b[{row};1H{}", redraw(&view));
            write_stdout(out.as_bytes());
        }
        None => write_stdout(prompt.as_bytes()),
    }
}

/// Whether typed keys are shown (off while a password is typed).
pub fn set_echo(echo: bool) {
    lock_view().echo = echo;
}

/// Records the typed line and shows it: LocalConsole redraws the whole prompt line
/// on every key; a backspace first writes the line with a blank over the erased
/// character. Without a known row, the plain echo of a terminal.
pub fn set_input(input: &str, erased: bool) {
    let mut view = lock_view();
    view.input = input.to_string();
    let out = match view.row {
        Some(row) if erased => {
            let (prompt, shown) = shown(&view);
            format!("\x1b[{row};1H{prompt}{shown} {}", redraw(&view))
        }
        Some(_) => redraw(&view),
        None if erased => "\x08 \x08".to_string(),
        None if view.echo => input.chars().last().map(String::from).unwrap_or_default(),
        None => String::new(),
    };
    write_stdout(out.as_bytes());
}

/// The line was entered: the prompt is gone until the next `show_prompt`.
pub fn end_input() {
    let mut view = lock_view();
    view.prompt = None;
    view.input.clear();
    view.echo = true;
    match view.row {
        Some(row) => {
            view.row = Some(next_row(row));
            write_stdout(format!("\x1b[{row};1H\x1b[{row};1H\n").as_bytes());
        }
        None => write_stdout(b"\n"),
    }
}

/// The prompt and the typed text as the console shows them.
fn shown(view: &View) -> (&str, &str) {
    let prompt = view.prompt.as_deref().unwrap_or_default();
    (prompt, if view.echo { &view.input } else { "" })
}

/// LocalConsole's `Show()`: `ESC[row;1H`, prompt and input, then the cursor put after
/// the input with `ESC[row;colH` (it moves even when a password is not echoed).
fn redraw(view: &View) -> String {
    let row = view.row.unwrap_or(1);
    let (prompt, shown) = shown(view);
    let col = prompt.chars().count() + view.input.chars().count() + 1;
    format!("\x1b[{row};1H{prompt}{shown}\x1b[{row};{col}H")
}

/// The row below `row`, the last row scrolling.
fn next_row(row: u16) -> u16 {
    let ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let mut ws = ws;
    // SAFETY: TIOCGWINSZ writes a `winsize` through the pointer, valid for the call.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    let rows = if rc == 0 && ws.ws_row > 0 {
        ws.ws_row
    } else {
        u16::MAX
    };
    row.saturating_add(1).min(rows)
}

fn lock_view() -> std::sync::MutexGuard<'static, View> {
    // A panic while holding the lock leaves the view usable.
    VIEW.lock().unwrap_or_else(|e| e.into_inner())
}

fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    // A console that went away is not an error for a log line.
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// A broken-down UTC time.
pub struct Clock {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub millis: u32,
}

impl Clock {
    pub fn now() -> Clock {
        Clock::at(SystemTime::now())
    }

    pub fn at(t: SystemTime) -> Clock {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs() as i64;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Clock {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            min: (rem % 3600 / 60) as u32,
            sec: (rem % 60) as u32,
            millis: d.subsec_millis(),
        }
    }

    pub fn console_stamp(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.min, self.sec)
    }

    pub fn date_time(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.min, self.sec
        )
    }

    pub fn file_stamp(&self) -> String {
        format!("{},{:03}", self.date_time(), self.millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn civil_dates() {
        let c = Clock::at(UNIX_EPOCH + Duration::from_millis(1_709_210_096_123));
        assert_eq!(c.file_stamp(), "2024-02-29 12:34:56,123");
        assert_eq!(Clock::at(UNIX_EPOCH).date_time(), "1970-01-01 00:00:00");
    }
}
