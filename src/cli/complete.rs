//! Dynamic shell completion (`COMPLETE=bash gridctl`): instance and role names read from
//! the manifest that `-f`/`--file`, `GRIDCTL_FILE` or `./grid.toml` names, on every TAB.
//!
//! clap_complete runs the completers with no view of the other words typed, so the manifest
//! is found by scanning the words the shell passed. Whatever goes wrong (no manifest, a
//! broken one, a panic in the planner), a completer offers nothing and prints nothing: a
//! TAB must never spill errors into the user's terminal.

use crate::plan::Plan;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use std::ffi::OsString;
use std::path::PathBuf;

/// Instance names (`asset-1`), for arguments that name one instance.
pub(super) fn instances() -> ArgValueCandidates {
    ArgValueCandidates::new(|| with_plan(instance_candidates))
}

/// Role names, for `--role`.
pub(super) fn roles() -> ArgValueCandidates {
    ArgValueCandidates::new(|| with_plan(role_candidates))
}

/// Roles then instances, for arguments that take either (`up`, `down`, `restart`).
pub(super) fn targets() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        with_plan(|plan| {
            let mut all = role_candidates(plan);
            all.extend(instance_candidates(plan));
            all
        })
    })
}

/// `role=` for `scale ROLE=COUNT` (the shell adds no space after the `=`).
pub(super) fn scale_requests() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        with_plan(|plan| {
            plan.roles
                .iter()
                .map(|r| {
                    CompletionCandidate::new(format!("{}=", r.name))
                        .help(Some(format!("now {} copies", r.instances).into()))
                })
                .collect()
        })
    })
}

fn instance_candidates(plan: &Plan) -> Vec<CompletionCandidate> {
    plan.instances
        .iter()
        .map(|i| {
            CompletionCandidate::new(&i.name)
                .help(Some(format!("copy {} of role {}", i.index, i.role).into()))
        })
        .collect()
}

fn role_candidates(plan: &Plan) -> Vec<CompletionCandidate> {
    plan.roles
        .iter()
        .map(|r| {
            CompletionCandidate::new(&r.name)
                .help(Some(format!("role, {} copies", r.instances).into()))
        })
        .collect()
}

/// `f(plan)` for the manifest the command line names, or nothing at all.
fn with_plan(f: impl Fn(&Plan) -> Vec<CompletionCandidate>) -> Vec<CompletionCandidate> {
    let words: Vec<OsString> = std::env::args_os().collect();
    let file = manifest_path(&words, std::env::var_os("GRIDCTL_FILE"));
    quietly(|| {
        let loaded = crate::manifest::load(&file).ok()?;
        let plan = crate::planner::build(&loaded).ok()?;
        Some(f(&plan))
    })
    .unwrap_or_default()
}

/// Runs `f` with panics caught and the panic message suppressed (the completion process
/// does nothing else, so swapping the process-wide hook for this moment is harmless).
/// Nothing `f` touched is looked at after a panic, so asserting unwind safety is sound.
fn quietly<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .ok()
        .flatten();
    std::panic::set_hook(hook);
    result
}

/// The manifest a command line names, as the real parse would choose it: the last
/// `-f FILE`, `-fFILE`, `--file FILE` or `--file=FILE`, else `$GRIDCTL_FILE`, else
/// `grid.toml`. `words` is the process's argv; in completion mode the shell's words
/// follow a `--`. After `logs`, `-f` is --follow and only `--file` counts.
pub(crate) fn manifest_path(words: &[OsString], env: Option<OsString>) -> PathBuf {
    let words: Vec<&OsString> = match words.iter().position(|w| w == "--") {
        Some(i) => words[i + 1..].iter().collect(),
        None => words.iter().collect(),
    };
    let mut found: Option<OsString> = None;
    let mut after_logs = false;
    // Word 0 is the program name.
    let mut rest = words.iter().skip(1);
    while let Some(word) = rest.next() {
        let Some(w) = word.to_str() else { continue };
        if w == "--" {
            break;
        }
        if w == "logs" {
            after_logs = true;
        } else if w == "--file" || (w == "-f" && !after_logs) {
            if let Some(value) = rest.next() {
                found = Some((*value).clone());
            }
        } else if let Some(v) = w.strip_prefix("--file=") {
            found = Some(v.into());
        } else if let Some(v) = w.strip_prefix("-f").filter(|_| !after_logs) {
            // `-fFILE`; `-f=FILE` is clap's spelling of the same.
            if !v.is_empty() && !w.starts_with("--") {
                found = Some(v.strip_prefix('=').unwrap_or(v).into());
            }
        }
    }
    found
        .or(env.filter(|e| !e.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("grid.toml"))
}

/// The command as completion sees it: hidden subcommands and options removed outright.
/// (clap_complete still offers a hidden name when it is the only one matching what was
/// typed, so `gridctl nginx s<TAB>` would otherwise give the internal `sync`.)
pub(super) fn visible_only(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_string())
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(visible_only),
        );
    if let Some(v) = cmd.get_version() {
        out = out.version(v.to_string());
    }
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(about) = cmd.get_long_about() {
        out = out.long_about(about.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::manifest_path;
    use std::path::PathBuf;

    fn path(line: &str, env: Option<&str>) -> PathBuf {
        let words: Vec<std::ffi::OsString> = line.split(' ').map(Into::into).collect();
        manifest_path(&words, env.map(Into::into))
    }

    #[test]
    fn the_manifest_is_found_where_the_parser_would_find_it() {
        let cases = [
            ("gridctl -- gridctl attach ", None, "grid.toml"),
            ("gridctl -- gridctl attach ", Some("env.toml"), "env.toml"),
            (
                "gridctl -- gridctl -f a.toml attach ",
                Some("env.toml"),
                "a.toml",
            ),
            ("gridctl -- gridctl attach -f a.toml ", None, "a.toml"),
            ("gridctl -- gridctl --file=a.toml up ", None, "a.toml"),
            ("gridctl -- gridctl up --file a.toml ", None, "a.toml"),
            ("gridctl -- gridctl -fa.toml up ", None, "a.toml"),
            ("gridctl -- gridctl -f=a.toml up ", None, "a.toml"),
            ("gridctl -- gridctl -f a.toml up -f b.toml ", None, "b.toml"),
            ("gridctl -- gridctl -f a.toml logs -f ", None, "a.toml"),
            ("gridctl -- gridctl logs -f --file b.toml ", None, "b.toml"),
            ("gridctl -- gridctl -f", None, "grid.toml"),
            ("gridctl -- gridctl up -- -f a.toml", None, "grid.toml"),
            ("gridctl -- gridctl up", Some(""), "grid.toml"),
        ];
        for (line, env, want) in cases {
            assert_eq!(path(line, env), PathBuf::from(want), "{line:?} {env:?}");
        }
    }
}
