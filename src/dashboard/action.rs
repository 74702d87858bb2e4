//! Actions run as the real `gridctl` binary in the background, so the dashboard stays
//! a viewer: the same lock, rendering and nginx steps as the CLI, and nothing printed
//! over the TUI. The child writes into an unlinked temporary file that this thread
//! tails for progress; quitting the dashboard leaves a running action to finish on its
//! own (it never writes to a closed pipe, and it is in its own process group, so
//! neither the terminal's signals nor our exit interrupt it).

use super::model::Job;
use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often a running action's output is checked.
const TAIL_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub enum JobEvent {
    /// The last line the command printed so far.
    Progress(String),
    /// Exit 0, with its last line.
    Done(String),
    /// Failed (or could not run), with what it said.
    Failed(String),
}

/// Runs `gridctl -f FILE ARGS` on a thread; `send` gets progress and the result.
pub fn spawn(exe: PathBuf, file: PathBuf, job: Job, send: impl Fn(JobEvent) + Send + 'static) {
    std::thread::spawn(move || match run(&exe, &file, &job, &send) {
        Ok(ev) => send(ev),
        Err(e) => send(JobEvent::Failed(format!("cannot run gridctl: {e}"))),
    });
}

fn run(exe: &Path, file: &Path, job: &Job, send: &impl Fn(JobEvent)) -> std::io::Result<JobEvent> {
    let (out, mut reader) = scratch_file()?;
    let mut child = Command::new(exe)
        .arg("-f")
        .arg(file)
        .args(&job.args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()?;
    let mut text = String::new();
    let mut last = String::new();
    let status = loop {
        let done = child.try_wait()?;
        let mut chunk = Vec::new();
        reader.read_to_end(&mut chunk)?;
        if !chunk.is_empty() {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if let Some(l) = last_line(&text) {
                if l != last {
                    last = l.clone();
                    send(JobEvent::Progress(l));
                }
            }
        }
        if let Some(status) = done {
            break status;
        }
        std::thread::sleep(TAIL_EVERY);
    };
    Ok(if status.success() {
        JobEvent::Done(last_line(&text).unwrap_or_else(|| "done".into()))
    } else {
        JobEvent::Failed(failure_text(&text, &status.to_string()))
    })
}

/// A file only this process and the child can reach: created, opened twice, unlinked.
fn scratch_file() -> std::io::Result<(File, File)> {
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "gridctl-top-{}-{}.log",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let write = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let read = File::open(&path);
    std::fs::remove_file(&path)?;
    Ok((write, read?))
}

fn last_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| without_elapsed(l).to_string())
}

/// A progress line without its `[  0.52s] ` stamp: the status line is one short row.
fn without_elapsed(line: &str) -> &str {
    let Some(rest) = line.strip_prefix('[') else {
        return line;
    };
    match rest.split_once("s] ") {
        Some((n, after)) if n.trim().parse::<f64>().is_ok() => after,
        _ => line,
    }
}

/// The `error:` lines of a failed command (its diagnostics), else its last line.
fn failure_text(text: &str, status: &str) -> String {
    let errors: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            l.strip_prefix("error: ")
                .or_else(|| l.strip_prefix("error:"))
        })
        .collect();
    if !errors.is_empty() {
        return errors.join(" · ");
    }
    match last_line(text) {
        Some(l) => format!("{l} ({status})"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_text_prefers_diagnostics() {
        let out = "[ 0.1s] a: started\nerror: restart incomplete: a: degraded\n  help: see logs\n";
        assert_eq!(
            failure_text(out, "exit status: 1"),
            "restart incomplete: a: degraded"
        );
        assert_eq!(
            failure_text("boom\n", "exit status: 2"),
            "boom (exit status: 2)"
        );
        assert_eq!(failure_text("", "exit status: 2"), "exit status: 2");
    }

    #[test]
    fn progress_lines_lose_their_elapsed_stamp() {
        assert_eq!(
            last_line("[  0.05s] a: started\n[  0.52s] a: ● ready after 0.4s\n").as_deref(),
            Some("a: ● ready after 0.4s")
        );
        assert_eq!(without_elapsed("[x] kept"), "[x] kept");
        assert_eq!(without_elapsed("[ 1.0s]no space"), "[ 1.0s]no space");
    }

    #[test]
    fn reports_progress_and_failure_of_a_real_command() {
        let (tx, rx) = std::sync::mpsc::channel();
        let job = Job {
            label: "t".into(),
            args: vec!["echo one; echo 'error: two' >&2; exit 3".into()],
        };
        // `sh -f -c SCRIPT` (noglob, then a command string) stands in for `gridctl -f FILE ARGS`.
        spawn("/bin/sh".into(), "-c".into(), job, move |e| {
            let _ = tx.send(e);
        });
        let mut last = None;
        while let Ok(e) = rx.recv_timeout(Duration::from_secs(10)) {
            let end = !matches!(e, JobEvent::Progress(_));
            last = Some(e);
            if end {
                break;
            }
        }
        match last {
            Some(JobEvent::Failed(why)) => assert_eq!(why, "two"),
            other => panic!("{other:?}"),
        }
    }
}
