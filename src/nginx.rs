//! Driving nginx (design.md §5): render → install atomically (keeping a backup) →
//! the manifest's test command → reload. A failed test puts the previous file back
//! and reloads nothing, so the running nginx never sees a broken config.
//!
//! Which copies are in their upstream is persisted in `<state>/upstreams.json`, so a
//! copy that failed to become ready stays out across commands.

use crate::atomic;
use crate::plan::Plan;
use crate::render::{self, Membership};
use crate::templates::Templates;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum NginxError {
    #[error("{0}")]
    Render(String),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("nginx rejected the new config (the previous one stays installed):\n{output}")]
    TestFailed { output: String },
    #[error("the new config is installed and passed its test, but `{command}` failed: {output}\n(is nginx running with this file included? start it, then run `gridctl nginx reload`)")]
    CommandFailed { command: String, output: String },
}

/// What one `apply` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// grid.toml has no [nginx]: nothing to do.
    NotManaged,
    /// The rendered config is what is installed already.
    Unchanged,
    /// Installed and reloaded.
    Reloaded,
    /// Installed; no reload command is configured (gridctl only writes the file).
    Written,
}

fn membership_path(plan: &Plan) -> PathBuf {
    plan.state_dir.join("upstreams.json")
}

/// The persisted upstream membership (instances missing from it are `in`).
pub fn load_membership(plan: &Plan) -> BTreeMap<String, Membership> {
    std::fs::read(membership_path(plan))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub fn save_membership(plan: &Plan, m: &BTreeMap<String, Membership>) -> Result<(), NginxError> {
    let path = membership_path(plan);
    let text = serde_json::to_vec_pretty(m).map_err(|e| NginxError::Render(e.to_string()))?;
    render::ensure_private_dir(&plan.state_dir).map_err(|source| NginxError::Io {
        path: plan.state_dir.clone(),
        source,
    })?;
    atomic::write_file(&path, &text, 0o600).map_err(|source| NginxError::Io { path, source })
}

/// Sets one instance's membership and applies the result to nginx.
pub fn set_membership(
    plan: &Plan,
    t: &Templates,
    changes: &[(&str, Membership)],
) -> Result<Applied, NginxError> {
    if plan.nginx.is_none() {
        return Ok(Applied::NotManaged);
    }
    let mut m = load_membership(plan);
    for (name, state) in changes {
        m.insert(name.to_string(), *state);
    }
    // Forget instances the plan no longer has: they are out of every upstream anyway.
    m.retain(|name, _| plan.instance(name).is_some());
    save_membership(plan, &m)?;
    apply(plan, t, &m)
}

/// Renders with `membership`, installs, tests and reloads.
pub fn apply(
    plan: &Plan,
    t: &Templates,
    membership: &BTreeMap<String, Membership>,
) -> Result<Applied, NginxError> {
    let Some(n) = &plan.nginx else {
        return Ok(Applied::NotManaged);
    };
    let text =
        render::render_nginx(plan, t, membership).map_err(|d| NginxError::Render(d.to_string()))?;
    install(&n.output, &text, &n.test_command, &n.reload_command)
}

/// Installs `text` at `output` if it differs: backup, atomic write, test, reload; on a
/// failed test the backup is put back.
pub fn install(
    output: &Path,
    text: &str,
    test: &[String],
    reload: &[String],
) -> Result<Applied, NginxError> {
    let previous = std::fs::read(output).ok();
    if previous.as_deref() == Some(text.as_bytes()) {
        return Ok(Applied::Unchanged);
    }
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir).map_err(|source| NginxError::Io {
            path: dir.into(),
            source,
        })?;
    }
    let backup = backup_path(output);
    if let Some(prev) = &previous {
        atomic::write_file(&backup, prev, 0o644).map_err(|source| NginxError::Io {
            path: backup.clone(),
            source,
        })?;
    }
    atomic::write_file(output, text.as_bytes(), 0o644).map_err(|source| NginxError::Io {
        path: output.into(),
        source,
    })?;
    if let Err(output_text) = run(test) {
        // Put the previous config back (or remove ours if there was none): nginx keeps running the old one.
        let restored = match &previous {
            Some(prev) => atomic::write_file(output, prev, 0o644),
            None => std::fs::remove_file(output),
        };
        if let Err(source) = restored {
            return Err(NginxError::Io {
                path: output.into(),
                source,
            });
        }
        return Err(NginxError::TestFailed {
            output: output_text,
        });
    }
    if reload.is_empty() {
        return Ok(Applied::Written);
    }
    run(reload).map_err(|output| NginxError::CommandFailed {
        command: reload.join(" "),
        output,
    })?;
    Ok(Applied::Reloaded)
}

pub fn backup_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!("{name}.previous"))
}

/// Runs a configured command (empty = nothing to run); its output on failure.
fn run(cmd: &[String]) -> Result<(), String> {
    let Some((program, args)) = cmd.split_first() else {
        return Ok(());
    };
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stdout));
            Err(format!("{} ({})", text.trim_end(), out.status))
        }
        Err(e) => Err(format!("cannot run `{}`: {e}", cmd.join(" "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn failed_test_keeps_the_previous_file_and_skips_reload() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("grid.conf");
        let marker = dir.path().join("reloaded");
        std::fs::write(&out, "old").unwrap();
        let reload = sh(&format!("touch {}", marker.display()));
        let err = install(
            &out,
            "new",
            &sh("echo 'bad directive' >&2; exit 1"),
            &reload,
        )
        .unwrap_err();
        assert!(err.to_string().contains("bad directive"), "{err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
        assert!(!marker.exists());
    }

    #[test]
    fn good_config_is_installed_with_a_backup_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("grid.conf");
        let marker = dir.path().join("reloaded");
        std::fs::write(&out, "old").unwrap();
        let reload = sh(&format!("touch {}", marker.display()));
        assert_eq!(
            install(&out, "new", &sh("true"), &reload).unwrap(),
            Applied::Reloaded
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(backup_path(&out)).unwrap(), "old");
        assert!(marker.exists());
        assert_eq!(
            install(&out, "new", &sh("exit 1"), &reload).unwrap(),
            Applied::Unchanged
        );
    }

    #[test]
    fn without_a_reload_command_the_file_is_only_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("grid.conf");
        assert_eq!(install(&out, "new", &[], &[]).unwrap(), Applied::Written);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
    }
}
