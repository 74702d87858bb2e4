//! The commands that look at or talk to the running grid: status, attach, send, logs.
//! (`up`, `down` and `restart` change it: see `converge`.)

use crate::attach::{self, AttachEnd, AttachOptions};
use crate::client::{HolderClient, HolderPresence, SendReply};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::load::load_plan;
use crate::outcome::{Failure, Outcome};
use crate::plan::{InstancePlan, Plan};
use crate::reconcile;
use crate::status;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

fn failed(msg: impl Into<String>) -> Failure {
    Failure::failed(Diagnostic::error(msg))
}

/// The instance named `name`, or an error listing the known ones.
fn instance<'p>(plan: &'p Plan, name: &str) -> Result<&'p InstancePlan, Failure> {
    plan.instance(name).ok_or_else(|| {
        let names: Vec<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
        let mut d = Diagnostic::error(format!("no instance named `{name}`"));
        d = d.help(match did_you_mean(name, names.iter().copied()) {
            Some(h) => format!("{h} (known: {})", names.join(", ")),
            None => format!("known instances: {}", names.join(", ")),
        });
        Failure {
            diagnostics: vec![d],
            code: crate::outcome::EXIT_USAGE,
        }
    })
}

pub fn status(file: &Path, json: bool) -> Outcome {
    let mut plan = load_plan(file)?;
    // Inside a pod only its own copy runs here; the others are other pods'.
    if let Some(own) = crate::pod::own_instance(&plan) {
        plan.instances.retain(|i| i.name == own);
    }
    let statuses = reconcile::statuses(&plan);
    let mut rows = status::rows_for(&plan, &statuses, json);
    let installed = plan
        .nginx
        .as_ref()
        .map(|_| crate::nginx::load_membership(&plan));
    for u in reconcile::undeclared(&plan).iter().filter(|u| u.running) {
        let st = match crate::client::probe_holder(&u.socket, &u.pid_file) {
            HolderPresence::Alive(st) => Some(st),
            _ => None,
        };
        rows.push(status::undeclared_row(
            installed.as_ref(),
            &u.name,
            st.as_ref(),
        ));
    }
    by_role(&plan, &mut rows);
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        crate::out!("{}", status::table(&rows));
    }
    Ok(())
}

/// Orders rows like `gridctl top`: roles in manifest order, copies in number order
/// (the holders answer in start order). A copy no longer declared sorts with its role
/// by its number; one of a role no longer declared comes last.
pub fn by_role(plan: &Plan, rows: &mut [status::Row]) {
    let key = |r: &status::Row| {
        let role = plan
            .roles
            .iter()
            .position(|x| x.name == r.role)
            .unwrap_or(usize::MAX);
        let copy = plan.instance(&r.name).map(|i| i.index).unwrap_or_else(|| {
            r.name
                .rsplit_once('-')
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or(u32::MAX)
        });
        (role, copy)
    };
    rows.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name)));
}

fn usage(d: Diagnostic) -> Failure {
    Failure {
        diagnostics: vec![d],
        code: crate::outcome::EXIT_USAGE,
    }
}

/// One line for an instance that has no console to talk to, with the command that
/// gives it one: `asset-2 is not running (stopped); start it with `gridctl up asset-2``.
fn not_running(name: &str, state: &str) -> Failure {
    failed(format!(
        "{name} is not running ({state}); {}",
        start_hint(name, state)
    ))
}

/// The command that gets a copy in `state` running again.
fn start_hint(name: &str, state: &str) -> String {
    match state {
        // The holder is there but gave up (or waits) restarting: `up` leaves it alone.
        "crash-loop" | "backoff" => format!("restart it with `gridctl restart {name}`"),
        _ => format!("start it with `gridctl up {name}`"),
    }
}

/// A connection to the holder of a running instance; `console` also requires a live
/// console process (for `send`: a holder whose child is gone cannot take a line).
fn connect(plan: &Plan, inst: &InstancePlan, console: bool) -> Result<HolderClient, Failure> {
    match reconcile::presence(plan, inst) {
        HolderPresence::Alive(st) => {
            if console && st.pid.is_none() {
                return Err(not_running(&inst.name, st.state.as_str()));
            }
            HolderClient::connect(&reconcile::socket_of(plan, inst), Duration::from_secs(5))
                .map_err(|e| failed(format!("failed to {e}")))
        }
        HolderPresence::Unresponsive => Err(failed(format!(
            "the holder of `{}` does not answer",
            inst.name
        ))),
        _ => Err(not_running(&inst.name, "stopped")),
    }
}

pub fn attach(
    file: &Path,
    name: &str,
    read_only: bool,
    detach_key: &str,
    allow_queries: bool,
) -> Outcome {
    let plan = load_plan(file)?;
    let inst = instance(&plan, name)?;
    let detach = attach::parse_detach_key(detach_key).map_err(|e| Failure {
        diagnostics: vec![Diagnostic::error(format!("bad --detach-key: {e}"))],
        code: crate::outcome::EXIT_USAGE,
    })?;
    // A console is a screen: without a terminal the holder's replay (scrollback, then
    // the screen redrawn) would land in a file or pipe twice over, and keys could not
    // be read raw. `send` and `logs` are the commands for scripts.
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(usage(
            Diagnostic::error("attach needs a terminal (stdin and stdout)").help(format!(
                "use `gridctl send {name} LINE` to type a line, `gridctl logs -f {name}` to watch"
            )),
        ));
    }
    // Fail before touching the terminal when the instance is not running.
    drop(connect(&plan, inst, false)?);
    let opts = AttachOptions {
        read_only,
        detach,
        allow_queries,
        ..AttachOptions::default()
    };
    match attach::attach(&reconcile::socket_of(&plan, inst), name, &opts) {
        Ok(AttachEnd::Detached) => Ok(()),
        Ok(AttachEnd::HolderClosed) => {
            eprintln!("[gridctl] {name} stopped; connection closed");
            Ok(())
        }
        Ok(AttachEnd::Disconnected(why)) => Err(failed(format!(
            "the holder of `{name}` disconnected this viewer: {why}"
        ))),
        Err(e) => Err(failed(format!("failed to {e}"))),
    }
}

/// The typed line and the answers: `line`'s words joined with spaces, split into lines
/// like a file (a final newline ends the last line, it adds no empty answer), then
/// every `--answer`.
fn send_script(line: &[String], answers: &[String]) -> (String, Vec<String>) {
    let text = line.join(" ");
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let mut lines = body
        .split('\n')
        .map(|l| l.trim_end_matches('\r').to_string());
    let first = lines.next().unwrap_or_default();
    let mut rest: Vec<String> = lines.collect();
    rest.extend(answers.iter().cloned());
    (first, rest)
}

/// What to type first. An empty (or blank) line is refused — `gridctl send NAME` with
/// the line forgotten, or an unset `"$VAR"`, must not press Enter into a console that may
/// be asking a question (Enter takes its default). Pressing only Enter is spelled
/// explicitly as an answer with no line (`send NAME --answer ''`): the console is already
/// asking, so the first answer is typed at once and the rest as it asks again.
fn typed_first(text: String, mut answers: Vec<String>) -> Option<(String, Vec<String>)> {
    if !text.trim().is_empty() {
        return Some((text, answers));
    }
    if text.is_empty() && !answers.is_empty() {
        let first = answers.remove(0);
        return Some((first, answers));
    }
    None
}

pub fn send(
    file: &Path,
    instance_name: Option<&str>,
    role: Option<&str>,
    line: &[String],
    answers: &[String],
    timeout: Duration,
) -> Outcome {
    let (text, answers) = send_script(line, answers);
    let (text, answers) = typed_first(text, answers).ok_or_else(|| {
        let who = match (instance_name, role) {
            (Some(n), _) => n.to_string(),
            (None, Some(r)) => format!("--role {r}"),
            (None, None) => "NAME".to_string(),
        };
        usage(
            Diagnostic::error("nothing to send: the line is empty").help(format!(
                "give the console line, e.g. `gridctl send {who} \"show uptime\"`; to answer a \
                 question the console is asking with just Enter (its default), say so: \
                 `gridctl send {who} --answer ''`"
            )),
        )
    })?;
    let plan = load_plan(file)?;
    let targets: Vec<&InstancePlan> = match (instance_name, role) {
        (Some(n), _) => vec![instance(&plan, n)?],
        (None, Some(r)) => {
            if plan.role(r).is_none() {
                let roles: Vec<&str> = plan.roles.iter().map(|r| r.name.as_str()).collect();
                return Err(Failure {
                    diagnostics: vec![Diagnostic::error(format!("no role named `{r}`"))
                        .help(format!("known roles: {}", roles.join(", ")))],
                    code: crate::outcome::EXIT_USAGE,
                });
            }
            plan.instances.iter().filter(|i| i.role == r).collect()
        }
        (None, None) => return Err(failed("name an instance or --role")),
    };
    let many = targets.len() > 1;
    let mut bad = Vec::new();
    let mut waiting = Vec::new();
    for inst in targets {
        let result = connect(&plan, inst, true).and_then(|mut c| {
            c.send_lines(&text, &answers, Duration::from_millis(300), timeout)
                .map_err(|e| failed(format!("failed to {e}")))
        });
        let print = |out: &str| {
            if many {
                crate::outln!("== {} ==", inst.name);
            }
            crate::out!("{}", gridctl_wire::terminal::text_without_c1(out));
            if !out.is_empty() && !out.ends_with('\n') {
                crate::outln!();
            }
        };
        match result {
            Ok(SendReply::Output {
                text: out,
                unused_answers,
            }) => {
                print(&out);
                if unused_answers > 0 {
                    crate::outcome::print_diagnostics(&[Diagnostic::warning(format!(
                        "`{}` asked no more questions: {unused_answers} of the answers were not typed",
                        inst.name
                    ))
                    .help("answers are typed only when the console asks (never at the prompt)")]);
                }
            }
            Ok(SendReply::Question {
                text: out,
                question,
            }) => {
                print(&out);
                crate::outcome::print_diagnostics(&[Diagnostic::error(format!(
                    "`{}` is waiting for an answer: {question}",
                    inst.name
                ))
                .help(format!(
                    "answer with `gridctl send {0} ANSWER` (just Enter: `gridctl send {0} --answer ''`), \
                     or give every answer at once with --answer",
                    inst.name
                ))]);
                waiting.push(inst.name.clone());
            }
            // One instance: its one error is the whole story.
            Err(f) if !many => return Err(f),
            Err(f) => {
                crate::outcome::print_diagnostics(&f.diagnostics);
                bad.push(inst.name.clone());
            }
        }
    }
    if !bad.is_empty() {
        Err(failed(format!("not sent to: {}", bad.join(", "))))
    } else if !waiting.is_empty() {
        // The diagnostics are printed above, one per instance.
        Err(Failure {
            diagnostics: Vec::new(),
            code: crate::outcome::EXIT_WAITING,
        })
    } else {
        Ok(())
    }
}

pub fn logs(file: &Path, name: &str, follow: bool, lines: usize) -> Outcome {
    let plan = load_plan(file)?;
    if plan.instance(name).is_none() {
        if let Some(outcome) = retired_logs(&plan, name, follow, lines) {
            return outcome;
        }
    }
    let inst = instance(&plan, name)?;
    let path = inst.dir.join("console.log");
    let exists = path.exists();
    if follow {
        // Following a stopped copy is `tail -F`: it waits for the copy to start. Say so
        // once, instead of waiting in silence.
        let state = match reconcile::presence(&plan, inst) {
            HolderPresence::Alive(st) if st.pid.is_none() => Some(st.state.as_str()),
            HolderPresence::Alive(_) | HolderPresence::Unresponsive => None,
            _ => Some("stopped"),
        };
        if let Some(state) = state {
            let log = if exists {
                ""
            } else {
                " and has no console log yet"
            };
            eprintln!(
                "note: {name} is not running ({state}){log}; following until it starts \
                 ({}); Ctrl-C to stop",
                start_hint(name, state)
            );
        }
    }
    let mut f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && follow => wait_for_file(&path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::failed(
                Diagnostic::error(format!("`{name}` has no console log yet: it has never run"))
                    .help(format!("start it with `gridctl up {name}`")),
            ))
        }
        Err(e) => return Err(failed(format!("cannot read `{}`: {e}", path.display()))),
    };
    let tail = last_lines(&mut f, lines)
        .map_err(|e| failed(format!("cannot read `{}`: {e}", path.display())))?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&gridctl_wire::terminal::without_c1(tail.as_bytes()));
    let _ = out.flush();
    if !follow {
        return Ok(());
    }
    follow_file(&path, f)
}

/// The console log of an instance the plan no longer has, kept when it was retired
/// (`None` if there is none). It is not followed: nothing writes to it any more.
fn retired_logs(plan: &Plan, name: &str, follow: bool, lines: usize) -> Option<Outcome> {
    // Only a plain instance name may become a path under the state dir.
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        return None;
    }
    // A copy still in the state dir (a temporary one an interrupted roll left running)
    // is shown before an older, retired copy of the same name (issue 19.2).
    let live = plan.state_dir.join("instances").join(name);
    let (dir, note) = if live.join("console.log").is_file() {
        (
            live,
            "is not in grid.toml (left by an interrupted command; `gridctl up` stops it); its log is",
        )
    } else {
        (
            reconcile::retired_dir(plan, name),
            "is retired (no longer in grid.toml); its logs are kept",
        )
    };
    let path = dir.join("console.log");
    let mut f = std::fs::File::open(&path).ok()?;
    eprintln!(
        "note: `{name}` {note} in {}{}",
        dir.display(),
        if follow { "; not following" } else { "" }
    );
    Some(
        last_lines(&mut f, lines)
            .map_err(|e| failed(format!("cannot read `{}`: {e}", path.display())))
            .map(|tail| {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&gridctl_wire::terminal::without_c1(tail.as_bytes()));
                let _ = out.flush();
            }),
    )
}

fn wait_for_file(path: &Path) -> Result<std::fs::File, Failure> {
    loop {
        if let Ok(f) = std::fs::File::open(path) {
            return Ok(f);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The last `n` lines of a file, reading backwards in blocks (logs can be large).
fn last_lines(f: &mut std::fs::File, n: usize) -> std::io::Result<String> {
    let len = f.seek(SeekFrom::End(0))?;
    let mut pos = len;
    let mut buf: Vec<u8> = Vec::new();
    while pos > 0 && buf.iter().filter(|b| **b == b'\n').count() <= n {
        let step = pos.min(64 * 1024);
        pos -= step;
        f.seek(SeekFrom::Start(pos))?;
        let mut block = vec![0u8; step as usize];
        f.read_exact(&mut block)?;
        block.extend_from_slice(&buf);
        buf = block;
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let all: Vec<&str> = text.split_inclusive('\n').collect();
    let skip = all.len().saturating_sub(n);
    f.seek(SeekFrom::End(0))?;
    Ok(all[skip..].concat())
}

/// `tail -F`: follows appends, and reopens the file when the holder rotates it.
fn follow_file(path: &Path, f: std::fs::File) -> Outcome {
    use std::os::unix::fs::MetadataExt;
    let mut reader = std::io::BufReader::new(f);
    let mut ino = reader.get_ref().metadata().map(|m| m.ino()).unwrap_or(0);
    let mut out = std::io::stdout();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => {
                if let Ok(m) = std::fs::metadata(path) {
                    let pos = reader.stream_position().unwrap_or(0);
                    if m.ino() != ino || m.len() < pos {
                        if let Ok(f) = std::fs::File::open(path) {
                            ino = m.ino();
                            reader = std::io::BufReader::new(f);
                            continue;
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(_) => {
                if out
                    .write_all(line.as_bytes())
                    .and_then(|_| out.flush())
                    .is_err()
                {
                    return Ok(()); // stdout closed (e.g. piped into head)
                }
            }
            Err(e) => return Err(failed(format!("cannot read `{}`: {e}", path.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::send_script;

    fn script(line: &[&str], answers: &[&str]) -> (String, Vec<String>) {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        send_script(&own(line), &own(answers))
    }

    #[test]
    fn words_join_and_further_lines_are_answers() {
        assert_eq!(
            script(&["show", "uptime"], &[]),
            ("show uptime".into(), vec![])
        );
        assert_eq!(
            script(&["create user\nAda\nLovelace\npw\n\n\n\n"], &[]),
            (
                "create user".into(),
                ["Ada", "Lovelace", "pw", "", "", ""]
                    .map(String::from)
                    .to_vec()
            )
        );
        // A final newline ends the last line; --answer values follow the lines.
        assert_eq!(
            script(&["create", "user\r\nAda\n"], &["", "x"]),
            (
                "create user".into(),
                ["Ada", "", "x"].map(String::from).to_vec()
            )
        );
    }
}
