//! A process on a PTY the test owns, its screen modelled with vt100; killed (by its
//! pid, through portable-pty) when dropped.
#![allow(dead_code)] // each test crate uses a different subset

use portable_pty::{native_pty_system, CommandBuilder, ExitStatus, PtySize};
use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

pub struct Pty {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    rx: Receiver<Vec<u8>>,
    pub parser: vt100::Parser,
    /// Every byte the process wrote.
    pub raw: Vec<u8>,
    /// The reader saw EOF: nothing more will come.
    eof: bool,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    /// Starts `cmd` on a new `rows`×`cols` PTY; `on_spawn` gets its pid at once.
    pub fn spawn(cmd: CommandBuilder, rows: u16, cols: u16, on_spawn: impl FnOnce(u32)) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let child = pair
            .slave
            .spawn_command(cmd)
            .expect("spawn a command on a pty");
        // Our copy of the slave must go, or the master never sees EOF.
        drop(pair.slave);
        if let Some(pid) = child.process_id() {
            on_spawn(pid);
        }
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            child,
            writer,
            rx,
            parser: vt100::Parser::new(rows, cols, 0),
            raw: Vec::new(),
            eof: false,
            master: pair.master,
        }
    }

    pub fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Everything written so far, escape sequences removed (for text that scrolled away).
    pub fn text(&self) -> String {
        let stripped = strip_ansi(&self.raw);
        String::from_utf8_lossy(&stripped).replace('\r', "")
    }

    /// Reads what arrives within `wait`; whether anything did.
    pub fn pump(&mut self, wait: Duration) -> bool {
        match self.rx.recv_timeout(wait) {
            Ok(bytes) => {
                self.take(&bytes);
                while let Ok(more) = self.rx.try_recv() {
                    self.take(&more);
                }
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // EOF: nothing more will come; do not spin.
                self.eof = true;
                std::thread::sleep(wait.min(Duration::from_millis(20)));
                false
            }
        }
    }

    fn take(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
        self.raw.extend_from_slice(bytes);
    }

    /// Reads output until the screen satisfies `pred`; panics with the screen after `timeout`.
    pub fn wait_screen(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; screen:\n{screen}"
            );
            self.pump(left.min(Duration::from_millis(50)));
        }
    }

    pub fn type_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Waits until the process exits or `deadline` passes, reading its output meanwhile.
    pub fn wait_exited(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.pump(Duration::from_millis(20));
        }
    }

    /// Reads until EOF, for at most `max`.
    pub fn drain_to_eof(&mut self, max: Duration) {
        let until = Instant::now() + max;
        while !self.eof && Instant::now() < until {
            self.pump(Duration::from_millis(50));
        }
    }

    /// Reads until EOF, a `quiet` moment, or `deadline`.
    pub fn drain_until_quiet(&mut self, quiet: Duration, deadline: Instant) {
        while Instant::now() < deadline && self.pump(quiet) {}
    }

    /// Resizes the PTY (the process gets SIGWINCH) and the model of its screen.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize the pty");
        self.parser.screen_mut().set_size(rows, cols);
    }

    /// Whether any cell on the screen has a colour.
    pub fn any_colour(&self) -> bool {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        (0..rows).any(|r| {
            (0..cols).any(|c| {
                screen.cell(r, c).is_some_and(|cell| {
                    cell.fgcolor() != vt100::Color::Default
                        || cell.bgcolor() != vt100::Color::Default
                })
            })
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Drops CSI/OSC escape sequences (enough for the text checks here).
pub fn strip_ansi(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0x1b && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'[' => {
                    i += 2;
                    while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                        i += 1;
                    }
                    i += 1;
                    continue;
                }
                b']' => {
                    i += 2;
                    while i < bytes.len() && bytes[i] != 0x07 {
                        i += 1;
                    }
                    i += 1;
                    continue;
                }
                _ => {
                    i += 2;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
}
