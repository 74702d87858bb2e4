//! Console commands the fake knows (robust.md §5).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
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
    /// `create user` exists only where the user account service loaded.
    pub has_accounts: bool,
    /// The accounts (and regions) this process serves: `create user` adds to it.
    pub grid: Arc<crate::grid::Grid>,
}

/// Asks one question on the console and returns the typed line (`true`: do not echo).
pub type Ask<'a> = dyn FnMut(&str, bool) -> String + 'a;

pub const VERSION: &str = "OpenSim 0.9.3.1 Nessie Dev fake (SIM-0.3/0.8)";

impl Commands {
    pub fn run(&self, line: &str, ask: &mut Ask) -> Outcome {
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
                if self.has_accounts {
                    lines.push("create user [<first> [<last> [<pass> [<email> [<user id> [<model>]]]]]] - Create a new user".into());
                }
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
            ["create", "user", args @ ..] if self.has_accounts => out(self.create_user(args, ask)),
            ["login", "reset"] if self.has_login => {
                self.login_level.store(0, Ordering::Relaxed);
                out(vec!["[LLOGIN SERVICE]: Login level reset to 0".into()])
            }
            _ => out(vec![format!(
                "Invalid command \"{line}\". Type \"help\" for a list of commands"
            )]),
        }
    }

    /// UserAccountService.HandleCreateUser (0.9.2.2): each missing argument is asked for,
    /// in this order and with these defaults, one console line per question.
    fn create_user(&self, args: &[&str], ask: &mut Ask) -> Vec<String> {
        let mut arg = |i: usize, question: &str, default: &str, secret: bool| -> String {
            if let Some(a) = args.get(i) {
                return a.to_string();
            }
            let prompt = if secret {
                format!("{question}: ")
            } else {
                format!("{question} [{default}]: ")
            };
            let answer = ask(&prompt, secret);
            if answer.is_empty() {
                default.to_string()
            } else {
                answer
            }
        };
        let first = arg(0, "First name", "Default", false);
        let last = arg(1, "Last name", "User", false);
        let _password = arg(2, "Password", "", true);
        let email = arg(3, "Email", "", false);
        let raw_id = arg(4, "User ID (enter for random)", "", false);
        let _model = arg(5, "Model name", "", false);
        let id = if raw_id.is_empty() {
            random_uuid()
        } else if is_uuid(&raw_id) {
            raw_id.to_ascii_lowercase()
        } else {
            return vec![format!("Invalid UUID {raw_id}")];
        };
        let user = crate::grid::User {
            first: first.clone(),
            last: last.clone(),
            id: id.clone(),
            email,
            created: crate::grid::now_secs(),
        };
        if !self.grid.add_user(user) {
            crate::log::error(&format!(
                "[USER ACCOUNT SERVICE]: A user with the name {first} {last} already exists!"
            ));
            return Vec::new();
        }
        crate::log::info(&format!(
            "[USER ACCOUNT SERVICE]: Account {first} {last} {id} created successfully"
        ));
        Vec::new()
    }
}

pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A version-4-shaped UUID from the clock and pid: unique enough for a test double.
pub fn random_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let a = h.finish();
    h.write_u32(std::process::id());
    let b = h.finish();
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
