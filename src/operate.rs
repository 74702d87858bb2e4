//! The commands that operate the running grid: up, down, status, attach, send, logs,
//! restart. Each reads the manifest, asks the holders, and reports.

use crate::app::{load_plan, locked_plan, templates, Failure, Outcome};
use crate::attach::{self, AttachEnd, AttachOptions};
use crate::client::{HolderClient, HolderPresence, SendReply};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::plan::{InstancePlan, Plan};
use crate::protocol::InstanceState;
use crate::reconcile::{self, diff, execute, observe, print, Action, Progress, Settled};
use crate::render::Membership;
use crate::{render, roll, status};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

fn failed(msg: impl Into<String>) -> Failure {
    Failure::failed(Diagnostic::error(msg))
}

fn select<'p>(plan: &'p Plan, names: &[String]) -> Result<Vec<&'p InstancePlan>, Failure> {
    plan.select(names).map_err(|e| Failure {
        diagnostics: vec![Diagnostic::error(e)],
        code: crate::app::EXIT_USAGE,
    })
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
            code: crate::app::EXIT_USAGE,
        }
    })
}

/// Prints progress lines; time since the command started on each.
pub struct Printer {
    start: Instant,
}

impl Printer {
    pub fn new() -> Printer {
        Printer {
            start: Instant::now(),
        }
    }
}

impl Default for Printer {
    fn default() -> Printer {
        Printer::new()
    }
}

impl Progress for Printer {
    fn action(&mut self, name: &str, action: &Action) {
        let t = self.start.elapsed().as_secs_f64();
        match action {
            Action::Started => println!("[{t:6.2}s] {name}: started"),
            Action::Unchanged => println!("[{t:6.2}s] {name}: unchanged"),
            Action::Restarted => println!("[{t:6.2}s] {name}: restarted"),
            Action::Stopped => println!("[{t:6.2}s] {name}: stopped"),
            Action::Failed(e) => println!("[{t:6.2}s] {name}: FAILED: {e}"),
        }
    }
    fn settled(&mut self, s: &Settled) {
        let t = self.start.elapsed().as_secs_f64();
        let detail = if s.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.detail)
        };
        println!(
            "[{t:6.2}s] {}: {} {} after {:.2}s{detail}",
            s.name,
            status::symbol(s.state.as_str()),
            s.state.as_str(),
            s.took.as_secs_f64()
        );
    }
}

/// Writes rendered trees (only after every template succeeded) and the socket dir.
pub fn install_tree(plan: &Plan, rendered: &[render::RenderedInstance]) -> Outcome {
    render::write_instances(rendered)
        .map_err(|e| failed(format!("cannot write the rendered tree: {e}")))?;
    render::ensure_private_dir(&plan.sockets_dir())
        .map_err(|e| failed(format!("cannot create the socket directory: {e}")))
}

/// `up`: plan → observe → diff → steps → execute (or, with `dry_run`, print the steps).
pub fn up(file: &Path, names: &[String], wait: bool, dry_run: bool) -> Outcome {
    let started = Instant::now();
    // The lock is taken before the manifest is read, so the plan is the one acted on.
    // A dry run only reads: it takes no lock and creates nothing, not even the state dir.
    let (_lock, plan) = if dry_run {
        (None, load_plan(file)?)
    } else {
        let (lock, plan) = locked_plan(file)?;
        (Some(lock), plan)
    };
    let t = templates(&plan)?;
    let mut env_errors: Vec<Diagnostic> = crate::check::environment(&plan)
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    if !env_errors.is_empty() {
        env_errors.push(
            Diagnostic::error("nothing was started").help("`gridctl check` shows every problem"),
        );
        return Err(Failure::invalid(env_errors));
    }
    let rendered = render::render_instances(&plan, &t)?;
    let selected = select(&plan, names)?;
    let seen = observe::observe(&plan, &selected, names.is_empty(), !dry_run);
    let options = diff::UpOptions {
        wait,
        managed: plan.nginx.is_some(),
    };
    let steps = diff::up(&observe::wants(&selected, &rendered), &seen, options);
    if dry_run {
        print!("{}", print::steps(&steps));
        println!("dry run: {} step(s), nothing was done", steps.len());
        return Ok(());
    }
    let cx = execute::Context {
        plan: &plan,
        templates: &t,
        rendered: &rendered,
        started,
    };
    let report = execute::run(&cx, &steps, &mut |e| print::print(&e)).map_err(|e| failed(e.0))?;
    roll::note_reloads(&plan);
    let failures = report.failures;
    if failures.is_empty() {
        println!(
            "{} instance(s) up in {:.2}s",
            selected.len(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let list: Vec<String> = failures
        .iter()
        .map(|f| {
            format!(
                "{} ({}{})",
                f.name,
                f.state.as_str(),
                if f.detail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", f.detail)
                }
            )
        })
        .collect();
    Err(failed(format!(
        "{} instance(s) not ready: {}",
        failures.len(),
        list.join(", ")
    ))
    .help("see `gridctl status` and `gridctl logs INSTANCE`"))
}

trait WithHelp {
    fn help(self, h: &str) -> Failure;
}

impl WithHelp for Failure {
    fn help(mut self, h: &str) -> Failure {
        if let Some(d) = self.diagnostics.pop() {
            self.diagnostics.push(d.help(h));
        }
        self
    }
}

pub fn down(file: &Path, names: &[String]) -> Outcome {
    let (_lock, plan) = locked_plan(file)?;
    let selected = select(&plan, names)?;
    let mut printer = Printer::new();
    // A whole-grid `down` also stops copies that grid.toml no longer declares.
    let undeclared: Vec<reconcile::Undeclared> = if names.is_empty() {
        reconcile::undeclared(&plan)
    } else {
        Vec::new()
    };
    // nginx first: the copies leave their upstreams (and are drained) before they stop,
    // so no request reaches a copy that is shutting down.
    let t = if plan.nginx.is_some() {
        Some(templates(&plan)?)
    } else {
        None
    };
    if let Some(t) = &t {
        let changes: Vec<(String, Membership)> = selected
            .iter()
            .map(|i| (i.name.clone(), Membership::Draining))
            .collect();
        // A broken nginx must not keep the grid from stopping: warn and go on.
        match roll::apply(&plan, t, &changes) {
            Ok(applied) => {
                roll::note_nginx(&applied, "copies to stop marked down");
                if applied.reloaded() {
                    roll::drain(&plan);
                }
            }
            Err(e) => nginx_warning(&e),
        }
    }
    let mut failures = Vec::new();
    for u in undeclared.iter().filter(|u| u.running) {
        match reconcile::stop_socket(&u.socket) {
            Ok(()) => printer.action(&format!("{} (undeclared)", u.name), &Action::Stopped),
            Err(e) => {
                printer.action(&u.name, &Action::Failed(e.clone()));
                failures.push((u.name.clone(), e));
            }
        }
    }
    failures.extend(reconcile::down(&plan, &selected, &mut printer));
    if let Some(t) = &t {
        // Stopped copies are out (the `down` lines go, which needs no reload); a copy
        // that failed to stop stays marked down.
        let changes: Vec<(String, Membership)> = selected
            .iter()
            .filter(|i| !failures.iter().any(|(n, _)| *n == i.name))
            .map(|i| (i.name.clone(), Membership::Out))
            .collect();
        match roll::apply(&plan, t, &changes) {
            Ok(applied) => roll::note_nginx(&applied, "stopped copies out of their upstreams"),
            Err(e) => nginx_warning(&e),
        }
        roll::note_reloads(&plan);
    }
    if let Err(f) = crate::live::retire_all(
        &plan,
        undeclared
            .iter()
            .filter(|u| !failures.iter().any(|(n, _)| *n == u.name))
            .map(|u| u.name.as_str()),
    ) {
        crate::app::print_diagnostics(&f.diagnostics);
    }
    if failures.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = failures.iter().map(|(n, e)| format!("{n}: {e}")).collect();
    Err(failed(format!("could not stop: {}", list.join("; "))))
}

fn nginx_warning(e: &crate::nginx::NginxError) {
    crate::app::print_diagnostics(&[Diagnostic::warning(format!("nginx: {e}"))]);
}

pub fn restart(file: &Path, names: &[String]) -> Outcome {
    let (_lock, plan) = locked_plan(file)?;
    let t = templates(&plan)?;
    let rendered = render::render_instances(&plan, &t)?;
    install_tree(&plan, &rendered)?;
    let selected = select(&plan, names)?;
    let mut printer = Printer::new();
    if plan.nginx.is_some() {
        // Behind nginx a restart is a roll: each copy leaves its upstream before it
        // stops and returns once ready, so nginx never routes to a stopping copy.
        let rolled = roll::rolling_restart(&plan, &t, &selected, Vec::new(), &mut printer)
            .map_err(|e| failed(format!("restart incomplete: {e}")));
        roll::note_reloads(&plan);
        return rolled;
    }
    let mut bad = Vec::new();
    for inst in selected {
        let a = reconcile::restart(&plan, inst);
        let a = if a == Action::Restarted {
            Action::Started
        } else {
            a
        };
        printer.action(&inst.name, &a);
        if let Action::Failed(e) = a {
            bad.push(format!("{}: {e}", inst.name));
            continue;
        }
        let deadline = plan
            .role(&inst.role)
            .map(|r| r.supervise.ready_timeout)
            .unwrap_or(Duration::from_secs(120));
        let s = reconcile::wait_settled(&plan, inst, deadline + Duration::from_secs(2));
        printer.settled(&s);
        if s.state != InstanceState::Ready {
            bad.push(format!("{}: {}", inst.name, s.state.as_str()));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(failed(format!("restart incomplete: {}", bad.join("; "))))
    }
}

pub fn status(file: &Path, json: bool) -> Outcome {
    let plan = load_plan(file)?;
    let statuses = reconcile::statuses(&plan);
    let mut rows = status::rows(&plan, &statuses);
    for u in reconcile::undeclared(&plan).iter().filter(|u| u.running) {
        let st = match crate::client::probe_holder(&u.socket, &u.pid_file) {
            HolderPresence::Alive(st) => Some(st),
            _ => None,
        };
        rows.push(status::undeclared_row(&plan, &u.name, st.as_ref()));
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        print!("{}", status::table(&rows));
    }
    Ok(())
}

fn connect(plan: &Plan, inst: &InstancePlan) -> Result<HolderClient, Failure> {
    match reconcile::presence(plan, inst) {
        HolderPresence::Alive(_) => {
            HolderClient::connect(&reconcile::socket_of(plan, inst), Duration::from_secs(5))
                .map_err(|e| failed(format!("failed to {e}")))
        }
        HolderPresence::Unresponsive => Err(failed(format!(
            "the holder of `{}` does not answer",
            inst.name
        ))),
        _ => Err(Failure::failed(
            Diagnostic::error(format!("`{}` is not running", inst.name))
                .help(format!("start it with `gridctl up {}`", inst.name)),
        )),
    }
}

pub fn attach(file: &Path, name: &str, read_only: bool, detach_key: &str) -> Outcome {
    let plan = load_plan(file)?;
    let inst = instance(&plan, name)?;
    let detach = attach::parse_detach_key(detach_key).map_err(|e| Failure {
        diagnostics: vec![Diagnostic::error(format!("bad --detach-key: {e}"))],
        code: crate::app::EXIT_USAGE,
    })?;
    // Fail before touching the terminal when the instance is not running.
    drop(connect(&plan, inst)?);
    let opts = AttachOptions { read_only, detach };
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

pub fn send(
    file: &Path,
    instance_name: Option<&str>,
    role: Option<&str>,
    line: &[String],
    answers: &[String],
    timeout: Duration,
) -> Outcome {
    let plan = load_plan(file)?;
    let (text, answers) = send_script(line, answers);
    let targets: Vec<&InstancePlan> = match (instance_name, role) {
        (Some(n), _) => vec![instance(&plan, n)?],
        (None, Some(r)) => {
            if plan.role(r).is_none() {
                let roles: Vec<&str> = plan.roles.iter().map(|r| r.name.as_str()).collect();
                return Err(Failure {
                    diagnostics: vec![Diagnostic::error(format!("no role named `{r}`"))
                        .help(format!("known roles: {}", roles.join(", ")))],
                    code: crate::app::EXIT_USAGE,
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
        let result = connect(&plan, inst).and_then(|mut c| {
            c.send_lines(&text, &answers, Duration::from_millis(300), timeout)
                .map_err(|e| failed(format!("failed to {e}")))
        });
        let print = |out: &str| {
            if many {
                println!("== {} ==", inst.name);
            }
            print!("{out}");
            if !out.is_empty() && !out.ends_with('\n') {
                println!();
            }
        };
        match result {
            Ok(SendReply::Output {
                text: out,
                unused_answers,
            }) => {
                print(&out);
                if unused_answers > 0 {
                    crate::app::print_diagnostics(&[Diagnostic::warning(format!(
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
                crate::app::print_diagnostics(&[Diagnostic::error(format!(
                    "`{}` is waiting for an answer: {question}",
                    inst.name
                ))
                .help(format!(
                    "answer with `gridctl send {} ANSWER`, or give every answer at once with --answer",
                    inst.name
                ))]);
                waiting.push(inst.name.clone());
            }
            Err(f) => {
                crate::app::print_diagnostics(&f.diagnostics);
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
            code: crate::app::EXIT_WAITING,
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
    let _ = out.write_all(tail.as_bytes());
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
    let dir = reconcile::retired_dir(plan, name);
    let path = dir.join("console.log");
    let mut f = std::fs::File::open(&path).ok()?;
    eprintln!(
        "note: `{name}` is retired (no longer in grid.toml); its logs are kept in {}{}",
        dir.display(),
        if follow { "; not following" } else { "" }
    );
    Some(
        last_lines(&mut f, lines)
            .map_err(|e| failed(format!("cannot read `{}`: {e}", path.display())))
            .map(|tail| {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(tail.as_bytes());
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
