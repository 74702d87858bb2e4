//! The console (robust.md §5): LocalConsole on a TTY, `basic` line reading, and the
//! "Command error" busy loop of LocalConsole without a TTY; and [`SimConsole`], the same
//! console as the simulator drives it (simulator.md §3).

use std::io::{BufRead, IsTerminal};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

use crate::commands::{Commands, Outcome};
use crate::log;

/// LocalConsole caps a typed line at 318 characters; extra keys are ignored.
const MAX_LINE: usize = 318;
/// How long .NET waits for the answer to `ESC[6n`.
const CPR_WAIT: Duration = Duration::from_secs(1);

pub struct Settings {
    /// The full prompt, e.g. `R.O.B.U.S.T.# `.
    pub prompt: String,
    pub no_cpr: bool,
    pub output_lines: u64,
    pub output_line_bytes: usize,
}

/// Terminal settings to put back on exit.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Restores the terminal if this program changed it.
pub fn restore_terminal() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = saved.as_ref() {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, t);
    }
}

/// Runs the console chosen by `-console` / `[Startup] console`; never returns.
pub fn run(kind: &str, settings: &Settings, commands: &Commands) -> ! {
    match kind.to_ascii_lowercase().as_str() {
        "local" if std::io::stdin().is_terminal() => local(settings, commands),
        "local" => redirected_spin(
            "System.InvalidOperationException: Cannot see if a key has been pressed when either application does not have a console or when console input has been redirected from a file. Try Console.In.Peek.",
        ),
        "basic" => basic(settings, commands),
        // `rest` reads no local input; `mock` spins without output. Both just wait here.
        _ => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
}

/// LocalConsole without a TTY: Robust's Run() catches the exception and loops at once.
/// The 1 ms sleep keeps a forgotten fake from eating a core.
fn redirected_spin(exception: &str) -> ! {
    loop {
        log::console_line(&format!(
            "{} - Command error: {exception}",
            log::Clock::now().console_stamp()
        ));
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `-console basic`: a prompt and `ReadLine`; at EOF the null line throws in a loop.
fn basic(settings: &Settings, commands: &Commands) -> ! {
    let stdin = std::io::stdin();
    let mut first = true;
    loop {
        log::show_prompt(&settings.prompt);
        if std::mem::take(&mut first) && settings.output_lines > 0 {
            flood(settings);
            log::show_prompt(&settings.prompt);
        }
        let line = basic_line(&stdin);
        execute(commands, &line, &mut |question, _| {
            log::show_prompt(question);
            basic_line(&stdin)
        });
    }
}

/// One `ReadLine`; at EOF the null line throws in a loop.
fn basic_line(stdin: &std::io::Stdin) -> String {
    let mut line = String::new();
    match stdin.lock().read_line(&mut line) {
        Ok(0) | Err(_) => redirected_spin(
            "System.NullReferenceException: Object reference not set to an instance of an object.",
        ),
        Ok(_) => {}
    }
    log::end_input();
    line.trim_end_matches(['\r', '\n']).to_string()
}

nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);

/// Rows and columns of the terminal on stdin ((0, 0) when it cannot be read).
fn window_size() -> (u16, u16) {
    use std::os::fd::AsRawFd;
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the pointer, valid for the call.
    match unsafe { tiocgwinsz(std::io::stdin().as_raw_fd(), &mut ws) } {
        Ok(_) => (ws.ws_row, ws.ws_col),
        Err(_) => (0, 0),
    }
}

fn window_cols() -> u16 {
    window_size().1
}

fn window_rows() -> u16 {
    window_size().0
}

/// LocalConsole on a TTY: raw keys, our own echo, a cursor query before each prompt.
/// Measured on 0.9.2.2: with `TERM=dumb` Mono's console never shows a prompt nor runs a
/// typed command (the terminal still echoes the keys); with a 0x0 window every prompt
/// throws and Run() loops on "Command error" (43 MB of log in ~10 s).
fn local(settings: &Settings, commands: &Commands) -> ! {
    if std::env::var("TERM").is_ok_and(|t| t == "dumb") {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    if window_cols() == 0 {
        redirected_spin(
            "System.ArgumentOutOfRangeException: Value must be positive and below the buffer width.\nParameter name: left",
        );
    }
    if let Err(e) = enter_raw_mode() {
        log::error(&format!("[CONSOLE]: cannot set raw mode: {e}"));
    }
    let mut input = Input::default();
    let mut first = true;
    loop {
        prompt(settings, &mut input);
        if std::mem::take(&mut first) && settings.output_lines > 0 {
            flood(settings);
            prompt(settings, &mut input);
        }
        let line = input.read_line();
        log::end_input();
        execute(commands, &line, &mut |question, secret| {
            // A question is a prompt of its own: shown, then one line read (no echo for
            // a password), as LocalConsole.CmdPrompt / PasswdPrompt do.
            log::show_prompt(question);
            log::set_echo(!secret);
            let answer = input.read_line();
            log::end_input();
            answer
        });
    }
}

/// `debug http in N` (N > 0 logs every incoming request, as Robust's LOGHTTP does at
/// level 1 and up), so log lines can be made to arrive while a prompt is pending.
/// Kept here rather than in `commands.rs`: the HTTP listeners call its hook.
static HTTP_DEBUG: AtomicU32 = AtomicU32::new(0);
static HTTP_SEEN: AtomicU32 = AtomicU32::new(0);

fn debug_http(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let ["debug", "http", "in", level] = words.as_slice() else {
        return None;
    };
    Some(match level.parse::<u32>() {
        Ok(n) => {
            HTTP_DEBUG.store(n, Ordering::Relaxed);
            format!("IN debug level set to {n}")
        }
        Err(_) => format!("Invalid debug level \"{level}\""),
    })
}

/// Called for each request the fake serves: Robust 0.9.2.2's request log line.
pub fn log_http_in(port: u16, method: &str, path: &str) {
    if HTTP_DEBUG.load(Ordering::Relaxed) > 0 {
        let n = HTTP_SEEN.fetch_add(1, Ordering::Relaxed) + 1;
        log::info(&format!(
            "[LOGHTTP]: HTTP IN {n} :{port} stream handler {method} {path}  from 127.0.0.1"
        ));
    }
}

fn execute(commands: &Commands, line: &str, ask: &mut crate::commands::Ask) {
    if let Some(out) = debug_http(line) {
        log::console_line(&out);
        return;
    }
    match commands.run(line, ask) {
        Outcome::Output(lines) => {
            for l in lines {
                log::console_line(&l);
            }
        }
        Outcome::Shutdown => crate::shutdown(),
    }
}

fn enter_raw_mode() -> nix::Result<()> {
    let stdin = std::io::stdin();
    let mut t = termios::tcgetattr(stdin.as_fd())?;
    {
        let mut saved = SAVED.lock().unwrap_or_else(|e| e.into_inner());
        saved.get_or_insert_with(|| t.clone());
    }
    // No echo and no line editing: like .NET, we echo keys ourselves. ISIG off so a
    // typed Ctrl-C arrives as the byte 0x03 (handled as shutdown, as Robust does).
    t.local_flags
        .remove(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::ISIG | LocalFlags::IEXTEN);
    t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    t.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &t)
}

/// Asks for the cursor position (unless disabled), then shows the prompt.
fn prompt(settings: &Settings, input: &mut Input) {
    if !settings.no_cpr {
        log::console_raw(b"\x1b[6n");
        input.await_cpr(CPR_WAIT);
    }
    log::show_prompt(&settings.prompt);
}

const REDIRECTED: &str = "System.InvalidOperationException: Cannot see if a key has been pressed when either application does not have a console or when console input has been redirected from a file. Try Console.In.Peek.";
const ZERO_WINDOW: &str = "System.ArgumentOutOfRangeException: Value must be positive and below the buffer width.\nParameter name: left";

/// How the simulator's console behaves, by `[Startup] console` and the terminal.
#[derive(Clone, Copy)]
enum SimMode {
    /// LocalConsole on a usable TTY.
    Local,
    /// `-console basic`: lines from stdin.
    Basic,
    /// Never shows a prompt nor reads a line (`TERM=dumb`, `rest`).
    Silent,
    /// Loops on "Command error" at the first prompt or question (no TTY, a 0x0 window).
    Spin(&'static str),
}

/// The simulator's console (simulator.md §3): LocalConsole is created once, early in the
/// start-up, and asks for the cursor position there, once (never again before a prompt;
/// unanswered, it waits a second and draws on the window's last row). Start-up questions
/// (estate, owner, region) are asked on it before the command loop runs.
pub struct SimConsole {
    mode: SimMode,
    input: Input,
}

impl SimConsole {
    /// Creates the console `kind` (`basic`, `rest`, else local): on a TTY, keypad mode
    /// (`ESC[?1h ESC=`) and, unless `no_cpr`, the cursor query.
    pub fn open(kind: &str, no_cpr: bool) -> SimConsole {
        // OpenSim.cs: `basic` and `rest` by name, LocalConsole for anything else.
        let mode = match kind.to_ascii_lowercase().as_str() {
            "basic" => SimMode::Basic,
            "rest" => SimMode::Silent,
            _ if !std::io::stdin().is_terminal() => SimMode::Spin(REDIRECTED),
            _ if std::env::var("TERM").is_ok_and(|t| t == "dumb") => SimMode::Silent,
            _ if window_cols() == 0 => SimMode::Spin(ZERO_WINDOW),
            _ => SimMode::Local,
        };
        let mut console = SimConsole {
            mode,
            input: Input::default(),
        };
        if matches!(mode, SimMode::Local) {
            if let Err(e) = enter_raw_mode() {
                log::error(&format!("[CONSOLE]: cannot set raw mode: {e}"));
            }
            log::console_raw(b"\x1b[?1h\x1b=");
            let answered = !no_cpr && {
                log::console_raw(b"\x1b[6n");
                console.input.await_cpr(CPR_WAIT)
            };
            if !answered {
                log::set_row(window_rows().max(1));
            }
        }
        console
    }

    /// One question (a prompt of its own) and the line typed (`secret`: not echoed).
    pub fn ask(&mut self, question: &str, secret: bool) -> String {
        match self.mode {
            SimMode::Local => {
                log::show_prompt(question);
                log::set_echo(!secret);
                let answer = self.input.read_line();
                log::end_input();
                answer
            }
            SimMode::Basic => {
                log::show_prompt(question);
                basic_line(&std::io::stdin())
            }
            SimMode::Spin(exception) => redirected_spin(exception),
            SimMode::Silent => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
        }
    }

    /// The command loop: `prompt()` shown, a line read, `handler` run; never returns.
    pub fn run(
        mut self,
        prompt: &dyn Fn() -> String,
        handler: &dyn Fn(&str, &mut crate::commands::Ask) -> Outcome,
    ) -> ! {
        loop {
            let line = self.ask(&prompt(), false);
            let mut ask = |question: &str, secret: bool| self.ask(question, secret);
            match handler(&line, &mut ask) {
                Outcome::Output(lines) => {
                    for l in lines {
                        log::console_line(&l);
                    }
                }
                Outcome::Shutdown => crate::shutdown(),
            }
        }
    }
}

/// What the simulator's console writes as it closes: keypad mode off, colours reset.
pub fn sim_close() {
    restore_terminal();
    log::console_raw(b"\x1b[?1l\x1b>\x1b[39;49m");
}

/// `OutputLines` typical log lines written as fast as the console takes them.
fn flood(settings: &Settings) {
    let stamp = log::Clock::now().console_stamp();
    let mut buf = String::new();
    for i in 0..settings.output_lines {
        let mut line = format!("{stamp} - [FAKE OUTPUT]: line {i} ");
        while line.len() < settings.output_line_bytes {
            line.push('x');
        }
        line.truncate(settings.output_line_bytes.max(1));
        buf.push_str(&line);
        buf.push('\n');
        if buf.len() >= 64 * 1024 {
            log::console_raw(buf.as_bytes());
            buf.clear();
        }
    }
    log::console_raw(format!("\r\x1b[K{buf}").as_bytes());
}

/// Raw bytes from stdin, with bytes that arrived while waiting for a cursor report.
#[derive(Default)]
struct Input {
    pending: std::collections::VecDeque<u8>,
    line: String,
    last_was_cr: bool,
}

impl Input {
    /// Reads what is available within `timeout`; `None` on timeout. The console going
    /// away (EOF, EIO) is a hangup: die like Robust does on SIGHUP.
    fn read_some(&mut self, timeout: Option<Duration>) -> Option<Vec<u8>> {
        let stdin = std::io::stdin();
        let t = match timeout {
            Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, t) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Some(Vec::new()),
            Err(_) => hang_up(),
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(stdin.as_fd(), &mut buf) {
            Ok(0) => hang_up(),
            Ok(n) => Some(buf[..n].to_vec()),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => Some(Vec::new()),
            Err(_) => hang_up(),
        }
    }

    /// Waits up to `timeout` for `ESC[row;colR`; other bytes are kept as typed input.
    /// Whether a report came (its row is then the console's).
    fn await_cpr(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut seen: Vec<u8> = Vec::new();
        loop {
            if let Some((start, end)) = find_cpr(&seen) {
                let row = cpr_row(&seen[start..end]);
                if let Some(row) = row {
                    log::set_row(row);
                }
                seen.drain(start..end);
                self.pending.extend(seen);
                return row.is_some();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.read_some(Some(left)) {
                Some(bytes) => seen.extend(bytes),
                None => break,
            }
        }
        self.pending.extend(seen);
        false
    }

    fn next_byte(&mut self) -> u8 {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return b;
            }
            if let Some(bytes) = self.read_some(None) {
                self.pending.extend(bytes);
            }
        }
    }

    /// One command line, echoed as typed; `\r`, `\n` and `\r\n` each end a line.
    fn read_line(&mut self) -> String {
        loop {
            let b = self.next_byte();
            let after_cr = std::mem::replace(&mut self.last_was_cr, b == b'\r');
            match b {
                b'\n' if after_cr => {}
                b'\r' | b'\n' => return std::mem::take(&mut self.line),
                0x03 => crate::shutdown(),
                0x7f | 0x08 => self.backspace(),
                0x1b => self.skip_escape(),
                b if b >= 0x20 && self.line.len() < MAX_LINE => {
                    self.line.push(char::from(b));
                    log::set_input(&self.line, false);
                }
                _ => {}
            }
        }
    }

    fn backspace(&mut self) {
        if self.line.pop().is_some() {
            log::set_input(&self.line, true);
        }
    }

    /// Drops an escape sequence (arrow keys, a late cursor report).
    fn skip_escape(&mut self) {
        if self.next_byte() != b'[' {
            return;
        }
        while !(0x40..=0x7e).contains(&self.next_byte()) {}
    }
}

/// `(start, end)` of the first `ESC [ digits ; digits R` in `buf`.
fn find_cpr(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == 0x1b && buf[i + 1] == b'[' {
            let mut j = i + 2;
            let mut semis = 0;
            while j < buf.len() && (buf[j].is_ascii_digit() || buf[j] == b';') {
                semis += usize::from(buf[j] == b';');
                j += 1;
            }
            if j < buf.len() && buf[j] == b'R' && semis == 1 {
                return Some((i, j + 1));
            }
        }
        i += 1;
    }
    None
}

/// The row of a cursor report `ESC [ row ; col R`.
fn cpr_row(report: &[u8]) -> Option<u16> {
    let digits = report.get(2..)?.split(|&b| b == b';').next()?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The terminal is gone: die by SIGHUP's default action, as Robust does.
fn hang_up() -> ! {
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP);
    std::process::exit(129);
}

#[cfg(test)]
mod tests {
    use super::find_cpr;

    #[test]
    fn cpr_row_is_read() {
        assert_eq!(super::cpr_row(b"\x1b[24;15R"), Some(24));
        assert_eq!(super::cpr_row(b"\x1b[;15R"), None);
    }

    #[test]
    fn cpr_reply_is_found_among_other_bytes() {
        assert_eq!(find_cpr(b"ab\x1b[12;40Rcd"), Some((2, 10)));
        assert_eq!(find_cpr(b"\x1b[A\x1b[1;1R"), Some((3, 9)));
        assert_eq!(find_cpr(b"\x1b[12;40"), None);
        assert_eq!(find_cpr(b"\x1b[12R"), None);
    }
}
