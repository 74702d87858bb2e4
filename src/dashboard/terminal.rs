//! The dashboard's hold on the terminal: raw mode, the alternate screen and a hidden
//! cursor, restored exactly once on every path — normal exit, error, panic (a panic
//! hook shares the guard's flag) — and handed back while a full-screen attach runs.

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// The terminal in dashboard mode while alive.
pub struct TerminalGuard(());

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // Restore first, so the panic message lands on a usable screen.
                restore();
                previous(info);
            }));
        });
        let guard = TerminalGuard(());
        take()?;
        Ok(guard)
    }

    /// Gives the terminal back (for a full-screen attach); `resume` takes it again.
    pub fn suspend(&self) {
        restore();
    }

    pub fn resume(&self) -> io::Result<()> {
        take()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn take() -> io::Result<()> {
    // Set first: if a step below fails, the guard still undoes the others.
    ACTIVE.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, Hide)
}

/// Leaves dashboard mode if (and only if) it is active: safe from any path.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
    }
}
