//! The dashboard's hold on the terminal: raw mode, the alternate screen and a hidden
//! cursor, restored exactly once on every path — normal exit, error, panic (a panic
//! hook shares the guard's flag) — and raw mode handed back while a full-screen attach
//! runs (on the alternate screen still, so the shell's screen never shows it).

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static ACTIVE: AtomicBool = AtomicBool::new(false);
/// On the alternate screen while suspended (an attach from the dashboard is running).
static ALTERNATE: AtomicBool = AtomicBool::new(false);
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

    /// Gives raw mode and the cursor back for a full-screen attach; `resume` takes them
    /// again. The alternate screen stays: the attached console is drawn there, so
    /// nothing from inside the dashboard lands on the shell's screen.
    pub fn suspend(&self) {
        if ACTIVE.swap(false, Ordering::SeqCst) {
            let _ = execute!(io::stdout(), Show);
            let _ = disable_raw_mode();
            // Still on the alternate screen: the final restore must leave it.
            ALTERNATE.store(true, Ordering::SeqCst);
        }
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
    if ALTERNATE.swap(false, Ordering::SeqCst) {
        // Back from an attach: already on the alternate screen (entering it again
        // would save the cursor over the shell's).
        execute!(io::stdout(), Hide)
    } else {
        execute!(io::stdout(), EnterAlternateScreen, Hide)
    }
}

/// Leaves dashboard mode if (and only if) it is active, or the alternate screen a
/// suspended dashboard stayed on: safe from any path.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
    } else if ALTERNATE.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
    }
}
