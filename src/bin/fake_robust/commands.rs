//! Console commands the fake knows (robust.md §5).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Instant, SystemTime};

use crate::log::Clock;

pub enum Outcome {
    Output(Vec<String>),
    Shutdown,
}

pub struct Commands {
    pub started: Instant,
    pub started_at: SystemTime,
    pub cwd: PathBuf,
    /// `login level` exists only where the login connector loaded.
    pub has_login: bool,
    pub login_level: AtomicU32,
}

pub const VERSION: &str = "OpenSim 0.9.3.1 Nessie Dev fake (SIM-0.3/0.8)";

impl Commands {
    pub fn run(&self, line: &str) -> Outcome {
        let words: Vec<&str> = line.split_whitespace().collect();
        let out = |lines: Vec<String>| Outcome::Output(lines);
        match words.as_slice() {
            [] => out(Vec::new()),
            ["shutdown"] | ["quit"] => Outcome::Shutdown,
            ["show", "uptime"] => {
                let up = self.started.elapsed().as_secs_f64();
                out(vec![
                    format!("Time now is {}", Clock::now().date_time()),
                    format!(
                        "Server has been running since {}",
                        Clock::at(self.started_at).date_time()
                    ),
                    format!(
                        "Which is {:02}:{:02}:{:06.3}",
                        (up / 3600.0) as u64,
                        (up / 60.0) as u64 % 60,
                        up % 60.0
                    ),
                ])
            }
            ["show", "version"] => out(vec![format!("Version: {VERSION}")]),
            ["show", "info"] => out(vec![
                format!("Version: {VERSION}"),
                format!("Startup directory: {}", self.cwd.display()),
            ]),
            ["help", ..] => {
                let mut lines: Vec<String> = [
                    "help [<item>] - Display help on a particular command or on a list of commands in a category",
                    "quit - Quit the application",
                    "shutdown - Quit the application",
                    "show info - Show general information about the server",
                    "show uptime - Show server uptime",
                    "show version - Show server version",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                if self.has_login {
                    lines.push("login level <level> - Set the minimum user level to log in".into());
                    lines.push("login reset - Reset the login level to allow all users".into());
                }
                out(lines)
            }
            ["login", "level", n] if self.has_login => match n.parse::<u32>() {
                Ok(level) => {
                    self.login_level.store(level, Ordering::Relaxed);
                    out(vec![format!(
                        "[LLOGIN SERVICE]: Login level set to {level}"
                    )])
                }
                Err(_) => out(vec![format!("Invalid login level \"{n}\"")]),
            },
            ["login", "reset"] if self.has_login => {
                self.login_level.store(0, Ordering::Relaxed);
                out(vec!["[LLOGIN SERVICE]: Login level reset to 0".into()])
            }
            _ => out(vec![format!(
                "Invalid command \"{line}\". Type \"help\" for a list of commands"
            )]),
        }
    }
}
