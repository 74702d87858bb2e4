//! Driving nginx (design.md §5): render → install atomically (keeping a backup) →
//! the manifest's test command → reload. A failed test puts the previous file back
//! and reloads nothing, so the running nginx never sees a broken config.
//!
//! Two membership files live in the state dir:
//! - `upstreams.json`: where gridctl *wants* each copy (`in`, `draining`, `out`), so a
//!   copy that failed to become ready stays out across commands;
//! - `upstreams.installed.json`: where the installed config *puts* each copy. A copy
//!   wanted `in` is only rendered in while its holder reports it ready (see
//!   [`effective`]), so this can differ from the wish; `status` shows this one, so
//!   status and the config on disk always agree.
//!
//! Every reload drops some idle client keep-alive connections (robust.md §0d), so a
//! new config whose only differences are comments or removed `down` servers is
//! installed and tested but not reloaded: nginx already routes exactly as it says.

use gridctl_config::plan::Plan;
use gridctl_config::render::{self, Membership};
use gridctl_config::templates::Templates;
use gridctl_files::atomic;
use gridctl_wire::protocol::InstanceState;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// Installed and tested, not reloaded: it routes exactly like the previous file
    /// (only comments or `down` servers differ), and a reload would only reset clients.
    Quiet,
    /// Installed; no reload command is configured (gridctl only writes the file).
    Written,
    /// Unchanged, but tested and reloaded because that was asked for (`nginx reload`).
    Refreshed,
    /// Unchanged and tested; no reload command is configured.
    Tested,
}

impl Applied {
    /// Whether nginx was told to load a config that takes copies out: a drain must follow.
    pub fn reloaded(&self) -> bool {
        matches!(self, Applied::Reloaded | Applied::Refreshed)
    }
}

/// When to install and reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// Only when the routing changed (the usual case: fewest reloads).
    IfChanged,
    /// Test and reload even if the file is unchanged: nginx may not run what is on disk
    /// (started before the file was written, or reloaded by hand from another file).
    Always,
}

/// Reloads this process has done (for the "nginx: reloaded N times" summaries).
static RELOADS: AtomicUsize = AtomicUsize::new(0);

/// How many times this process has reloaded nginx.
pub fn reloads_done() -> usize {
    RELOADS.load(Ordering::SeqCst)
}

fn membership_path(plan: &Plan) -> PathBuf {
    plan.state_dir.join("upstreams.json")
}

fn installed_path(plan: &Plan) -> PathBuf {
    plan.state_dir.join("upstreams.installed.json")
}

fn read_map(path: &Path) -> Option<BTreeMap<String, Membership>> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Where gridctl wants each copy (instances missing from it are wanted `in`).
pub fn load_desired(plan: &Plan) -> BTreeMap<String, Membership> {
    read_map(&membership_path(plan)).unwrap_or_default()
}

/// Where the installed config puts each copy. Every install records every copy of its
/// plan, so a copy the record lacks (added since, e.g. by a `scale` while nothing ran
/// here) is in no upstream of that config: `out`. Before the first install by this
/// version, the wish is all there is (missing = `in`).
///
/// The installed file itself is the first witness: a command killed between installing
/// it and recording it (issue 19.2) leaves the record behind the file nginx runs.
pub fn load_membership(plan: &Plan) -> BTreeMap<String, Membership> {
    let from_file = plan
        .nginx
        .as_ref()
        .and_then(|n| std::fs::read_to_string(&n.output).ok())
        .map(|text| membership_in(&text))
        .filter(|m| !m.is_empty());
    let Some(mut installed) = from_file.or_else(|| read_map(&installed_path(plan))) else {
        return load_desired(plan);
    };
    for inst in &plan.instances {
        installed
            .entry(inst.name.clone())
            .or_insert(Membership::Out);
    }
    installed
}

/// Each copy a rendered nginx config names, and where it put it: `server …; # NAME` is
/// in (or draining when `down`), `# NAME (ADDR) is out of the upstream` out. Empty for
/// a file gridctl's templates did not shape (a user template may not name copies).
pub fn membership_in(text: &str) -> BTreeMap<String, Membership> {
    let name_of = |s: &str| -> Option<String> {
        let name = s.split([' ', '(']).next()?.trim();
        (!name.is_empty()).then(|| name.to_string())
    };
    let mut m = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("server ") {
            // The placeholder of an empty upstream names no copy.
            if rest.starts_with("127.0.0.1:9 ") {
                continue;
            }
            if let Some((directive, comment)) = rest.split_once("; # ") {
                if let Some(name) = name_of(comment) {
                    let state = if directive.ends_with(" down") {
                        Membership::Draining
                    } else {
                        Membership::In
                    };
                    m.insert(name, state);
                }
            }
        } else if let Some(rest) = line.strip_prefix("# ") {
            if rest.contains(") is out of the upstream") {
                if let Some(name) = name_of(rest) {
                    m.entry(name).or_insert(Membership::Out);
                }
            }
        }
    }
    m
}

fn save_map(
    plan: &Plan,
    path: PathBuf,
    m: &BTreeMap<String, Membership>,
) -> Result<(), NginxError> {
    let text = serde_json::to_vec_pretty(m).map_err(|e| NginxError::Render(e.to_string()))?;
    render::ensure_private_dir(&plan.state_dir).map_err(|source| NginxError::Io {
        path: plan.state_dir.clone(),
        source,
    })?;
    atomic::write_file(&path, &text, 0o600).map_err(|source| NginxError::Io { path, source })
}

pub fn save_membership(plan: &Plan, m: &BTreeMap<String, Membership>) -> Result<(), NginxError> {
    save_map(plan, membership_path(plan), m)
}

/// Records wishes without rendering (e.g. new copies: out until they are ready).
pub fn record(plan: &Plan, changes: &[(&str, Membership)]) -> Result<(), NginxError> {
    if plan.nginx.is_none() {
        return Ok(());
    }
    let m = with_changes(plan, load_desired(plan), changes);
    save_membership(plan, &m)
}

fn with_changes(
    plan: &Plan,
    mut m: BTreeMap<String, Membership>,
    changes: &[(&str, Membership)],
) -> BTreeMap<String, Membership> {
    for (name, state) in changes {
        m.insert(name.to_string(), *state);
    }
    // Forget instances the plan no longer has: they are out of every upstream anyway.
    m.retain(|name, _| plan.instance(name).is_some());
    m
}

/// What a holder reports about its copy, as far as nginx membership is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The holder answered with this state.
    State(InstanceState),
    /// No holder runs this copy.
    NoHolder,
    /// A holder is there but did not answer.
    NoAnswer,
}

impl Health {
    fn why_out(&self) -> String {
        match self {
            Health::State(InstanceState::Ready) => "kept out until `gridctl up`".into(),
            Health::State(s) => format!("not ready: {}", s.as_str()),
            Health::NoHolder => "not running".into(),
            Health::NoAnswer => "its holder does not answer".into(),
        }
    }
}

/// The membership a config is rendered with, and why each copy that is out is out.
///
/// A copy wanted `in` is rendered in only while its holder reports it ready: a crash
/// is seen only by the holder, which restarts the child on its own, so the next render
/// — by any command — takes the copy out, and the first render after it is ready again
/// puts it back. gridctl runs no daemon (design.md §3), so between two commands nginx's
/// own passive check (`max_fails`) steps around a dead copy. `draining` is kept as is:
/// that copy is being stopped or restarted on purpose and is listed `down` anyway.
pub fn effective(
    plan: &Plan,
    desired: &BTreeMap<String, Membership>,
    health: &BTreeMap<String, Health>,
) -> (BTreeMap<String, Membership>, BTreeMap<String, String>) {
    let mut m = BTreeMap::new();
    let mut why = BTreeMap::new();
    for inst in &plan.instances {
        let wanted = desired.get(&inst.name).copied().unwrap_or(Membership::In);
        let h = health.get(&inst.name).cloned().unwrap_or(Health::NoHolder);
        let got = match wanted {
            Membership::In if h == Health::State(InstanceState::Ready) => Membership::In,
            Membership::Draining => Membership::Draining,
            Membership::In => Membership::Out,
            Membership::Out => Membership::Out,
        };
        if got == Membership::Out {
            why.insert(inst.name.clone(), h.why_out());
        }
        m.insert(inst.name.clone(), got);
    }
    (m, why)
}

/// What a re-render of its own does with a copy marked `draining`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drains {
    /// Keep it marked down: the command rendering is the one draining it.
    Keep,
    /// Put it back in (once ready): `nginx sync` and `nginx reload` hold the grid lock
    /// while no command runs, and every command that marks a copy draining puts it back
    /// in or out before it lets the lock go, so one still marked was left by an
    /// interrupted command (a dropped SSH session mid-roll) — kept out, its role could
    /// have nothing else serving it (issue 19.2).
    Stale,
}

fn reconcile_stale(desired: &mut BTreeMap<String, Membership>) {
    for m in desired.values_mut() {
        if *m == Membership::Draining {
            *m = Membership::In;
        }
    }
}

/// Sets wishes and applies the result to nginx, given what the holders report.
pub fn set_membership(
    plan: &Plan,
    t: &Templates,
    changes: &[(&str, Membership)],
    health: &BTreeMap<String, Health>,
    mode: Install,
    drains: Drains,
) -> Result<Applied, NginxError> {
    if plan.nginx.is_none() {
        return Ok(Applied::NotManaged);
    }
    let mut desired = with_changes(plan, load_desired(plan), changes);
    if drains == Drains::Stale {
        reconcile_stale(&mut desired);
    }
    let (m, why) = effective(plan, &desired, health);
    let result = apply(plan, t, &m, &why, mode);
    // The wish and the installed state are recorded once the file is installed (a
    // failed render or test changes nothing on disk).
    if matches!(result, Ok(_) | Err(NginxError::CommandFailed { .. })) {
        save_membership(plan, &desired)?;
        save_map(plan, installed_path(plan), &m)?;
    }
    result
}

/// Renders with `membership` (and the reasons copies are out), installs, tests and reloads.
pub fn apply(
    plan: &Plan,
    t: &Templates,
    membership: &BTreeMap<String, Membership>,
    why_out: &BTreeMap<String, String>,
    mode: Install,
) -> Result<Applied, NginxError> {
    let Some(n) = &plan.nginx else {
        return Ok(Applied::NotManaged);
    };
    let text = render::render_nginx_with(plan, t, membership, why_out)
        .map_err(|d| NginxError::Render(d.to_string()))?;
    install(&n.output, &text, &n.test_command, &n.reload_command, mode)
}

/// The lines nginx routes by: comments and blank lines dropped, and `server … down;`
/// lines dropped (a `down` server gets no request, listed or not).
fn routing(text: &str) -> Vec<&str> {
    text.lines()
        .map(|l| strip_comment(l).trim())
        .filter(|l| !l.is_empty())
        .filter(|l| !(l.starts_with("server ") && l.ends_with(" down;")))
        .collect()
}

/// `line` without its `#` comment (a `#` inside quotes is not one).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (_, '\\') => escaped = true,
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Installs `text` at `output`: backup, atomic write, test, reload; on a failed test
/// the backup is put back. With [`Install::IfChanged`] an identical file is left alone
/// and a file that routes like the previous one is not reloaded.
pub fn install(
    output: &Path,
    text: &str,
    test: &[String],
    reload: &[String],
    mode: Install,
) -> Result<Applied, NginxError> {
    let previous = std::fs::read(output).ok();
    if previous.as_deref() == Some(text.as_bytes()) {
        if mode == Install::IfChanged {
            return Ok(Applied::Unchanged);
        }
        run(test).map_err(|output| NginxError::TestFailed { output })?;
        if reload.is_empty() {
            return Ok(Applied::Tested);
        }
        run_reload(reload)?;
        return Ok(Applied::Refreshed);
    }
    let same_routing = mode == Install::IfChanged
        && previous
            .as_deref()
            .map(String::from_utf8_lossy)
            .is_some_and(|p| routing(&p) == routing(text));
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir).map_err(|source| NginxError::Io {
            path: dir.into(),
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
    // The backup only once the new file passed: a failed test leaves no trace on disk.
    if let Some(prev) = &previous {
        let backup = backup_path(output);
        atomic::write_file(&backup, prev, 0o644).map_err(|source| NginxError::Io {
            path: backup.clone(),
            source,
        })?;
    }
    if same_routing {
        return Ok(Applied::Quiet);
    }
    if reload.is_empty() {
        return Ok(Applied::Written);
    }
    run_reload(reload)?;
    Ok(Applied::Reloaded)
}

fn run_reload(reload: &[String]) -> Result<(), NginxError> {
    run(reload).map_err(|output| NginxError::CommandFailed {
        command: reload.join(" "),
        output,
    })?;
    RELOADS.fetch_add(1, Ordering::SeqCst);
    Ok(())
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

    /// A reload command that appends a line to `log` per reload.
    fn counting(log: &Path) -> Vec<String> {
        sh(&format!("echo reload >> {}", log.display()))
    }

    fn count(log: &Path) -> usize {
        std::fs::read_to_string(log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
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
            Install::IfChanged,
        )
        .unwrap_err();
        assert!(err.to_string().contains("bad directive"), "{err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
        assert!(!marker.exists());
        assert!(!backup_path(&out).exists(), "a failed test wrote a backup");
    }

    #[test]
    fn good_config_is_installed_with_a_backup_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("grid.conf");
        let marker = dir.path().join("reloaded");
        std::fs::write(&out, "old").unwrap();
        let reload = sh(&format!("touch {}", marker.display()));
        assert_eq!(
            install(&out, "new", &sh("true"), &reload, Install::IfChanged).unwrap(),
            Applied::Reloaded
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(backup_path(&out)).unwrap(), "old");
        assert!(marker.exists());
        assert_eq!(
            install(&out, "new", &sh("exit 1"), &reload, Install::IfChanged).unwrap(),
            Applied::Unchanged
        );
    }

    #[test]
    fn without_a_reload_command_the_file_is_only_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("grid.conf");
        assert_eq!(
            install(&out, "new", &[], &[], Install::IfChanged).unwrap(),
            Applied::Written
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
    }

    /// Issue 9: nginx started before the file was written runs an older config, so an
    /// explicit reload must test and reload even when the file is unchanged.
    #[test]
    fn always_tests_and_reloads_an_unchanged_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("grid.conf");
        let log = dir.path().join("reloads");
        std::fs::write(&out, "same").unwrap();
        assert_eq!(
            install(&out, "same", &sh("true"), &counting(&log), Install::Always).unwrap(),
            Applied::Refreshed
        );
        assert_eq!(count(&log), 1);
        // A failing test reloads nothing.
        assert!(matches!(
            install(
                &out,
                "same",
                &sh("exit 1"),
                &counting(&log),
                Install::Always
            ),
            Err(NginxError::TestFailed { .. })
        ));
        assert_eq!(count(&log), 1);
        assert_eq!(
            install(&out, "same", &sh("true"), &[], Install::Always).unwrap(),
            Applied::Tested
        );
    }

    #[test]
    fn comment_or_down_server_changes_are_installed_without_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("grid.conf");
        let log = dir.path().join("reloads");
        let before = "upstream u {\n    server 127.0.0.1:1; # a-1\n    server 127.0.0.1:2 down; # a-2 (draining)\n}\n";
        let after =
            "upstream u {\n    server 127.0.0.1:1; # a-1 still\n    # a-2 is out: stopped\n}\n";
        std::fs::write(&out, before).unwrap();
        assert_eq!(
            install(
                &out,
                after,
                &sh("true"),
                &counting(&log),
                Install::IfChanged
            )
            .unwrap(),
            Applied::Quiet
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), after);
        assert_eq!(count(&log), 0);
        // A server that starts serving is a routing change.
        let serving = after.replace("    # a-2 is out: stopped\n", "    server 127.0.0.1:2;\n");
        assert_eq!(
            install(
                &out,
                &serving,
                &sh("true"),
                &counting(&log),
                Install::IfChanged
            )
            .unwrap(),
            Applied::Reloaded
        );
        assert_eq!(count(&log), 1);
    }

    #[test]
    fn a_hash_inside_quotes_is_not_a_comment() {
        assert_eq!(strip_comment("a \"b # c\" # d"), "a \"b # c\" ");
        assert_eq!(strip_comment("return 200 'x#y';"), "return 200 'x#y';");
        assert_eq!(strip_comment("# all"), "");
    }
}

#[cfg(test)]
mod membership_tests {
    use super::*;

    fn plan() -> Plan {
        crate::test_grid::plan(3, 8100)
    }

    fn ready(plan: &Plan) -> BTreeMap<String, Health> {
        plan.instances
            .iter()
            .map(|i| (i.name.clone(), Health::State(InstanceState::Ready)))
            .collect()
    }

    fn asset_upstream(text: &str) -> &str {
        let start = text.find("upstream gridctl_asset_private {").unwrap();
        &text[start..start + text[start..].find('}').unwrap()]
    }

    fn render(
        plan: &Plan,
        desired: &[(&str, Membership)],
        health: &BTreeMap<String, Health>,
    ) -> String {
        let desired = with_changes(plan, BTreeMap::new(), desired);
        let (m, why) = effective(plan, &desired, health);
        let t = Templates::load(None).unwrap();
        render::render_nginx_with(plan, &t, &m, &why).unwrap()
    }

    /// Issue 9: a crashed copy is seen only by its holder; the next render takes it out
    /// (and says why), and puts it back once the holder reports it ready again.
    #[test]
    fn a_copy_wanted_in_is_in_only_while_its_holder_reports_ready() {
        let plan = plan();
        let mut health = ready(&plan);
        health.insert("asset-2".into(), Health::State(InstanceState::Backoff));
        let text = render(&plan, &[], &health);
        let up = asset_upstream(&text);
        assert!(!up.contains("server 127.0.0.1:8101"), "{up}");
        assert!(
            up.contains("# asset-2 (127.0.0.1:8101) is out of the upstream: not ready: backoff"),
            "{up}"
        );
        health.insert("asset-2".into(), Health::State(InstanceState::Ready));
        let text = render(&plan, &[], &health);
        assert!(
            asset_upstream(&text).contains("server 127.0.0.1:8101 "),
            "{text}"
        );
        // Draining stays listed `down` whatever the holder says; out stays out.
        health.insert("asset-1".into(), Health::State(InstanceState::Starting));
        let text = render(
            &plan,
            &[
                ("asset-1", Membership::Draining),
                ("asset-3", Membership::Out),
            ],
            &health,
        );
        let up = asset_upstream(&text);
        assert!(up.contains("server 127.0.0.1:8100 max_fails"), "{up}");
        assert!(up.contains(" down; # asset-1 (draining)"), "{up}");
        assert!(
            up.contains(
                "# asset-3 (127.0.0.1:8102) is out of the upstream: kept out until `gridctl up`"
            ),
            "{up}"
        );
    }

    /// Issue 19.2: an interrupted single-copy roll left `asset-1 draining` and its surge
    /// copy (no longer in the plan) serving; a re-render of its own (`nginx sync`,
    /// `nginx reload`) put the role at 502. Now it serves again, and the record says so.
    #[test]
    fn a_re_render_puts_a_copy_left_draining_by_an_interrupted_command_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = crate::test_grid::plan(1, 8100);
        plan.state_dir = dir.path().join("state");
        let out = dir.path().join("grid.conf");
        if let Some(n) = plan.nginx.as_mut() {
            n.output = out.clone();
            n.test_command = Vec::new();
            n.reload_command = Vec::new();
        }
        let t = Templates::load(None).unwrap();
        let health = ready(&plan);
        // What the interrupted roll recorded: asset-1 draining (asset-2, its surge copy,
        // is not in grid.toml's plan any more).
        save_membership(
            &plan,
            &[("asset-1".to_string(), Membership::Draining)].into(),
        )
        .unwrap();
        set_membership(&plan, &t, &[], &health, Install::Always, Drains::Stale).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let up = asset_upstream(&text);
        assert!(up.contains("server 127.0.0.1:8100 max_fails"), "{up}");
        assert!(
            !up.contains(" down;"),
            "the role's only copy stayed out: {up}"
        );
        assert_eq!(load_membership(&plan).get("asset-1"), Some(&Membership::In));
        // A command's own change still drains (a roll marks its copy down).
        set_membership(
            &plan,
            &t,
            &[("asset-1", Membership::Draining)],
            &health,
            Install::Always,
            Drains::Keep,
        )
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            asset_upstream(&text).contains(" down; # asset-1 (draining)"),
            "{text}"
        );
    }

    /// The installed file is read back as rendered: in, draining, out; placeholders name
    /// no copy.
    #[test]
    fn membership_is_read_back_from_a_rendered_file() {
        let plan = plan();
        let mut health = ready(&plan);
        health.insert("asset-3".into(), Health::State(InstanceState::Starting));
        let text = render(&plan, &[("asset-2", Membership::Draining)], &health);
        let m = membership_in(&text);
        assert_eq!(m.get("asset-1"), Some(&Membership::In));
        assert_eq!(m.get("asset-2"), Some(&Membership::Draining));
        assert_eq!(m.get("asset-3"), Some(&Membership::Out));
        let none: BTreeMap<String, Health> = BTreeMap::new();
        let empty = render(&plan, &[], &none);
        let m = membership_in(&empty);
        assert!(m.keys().all(|k| k.contains('-')), "{m:?}");
    }

    /// Issue 9: copies that exist but are all out are not "no copies".
    #[test]
    fn an_empty_upstream_says_whether_the_role_has_copies() {
        let plan = plan();
        let mut health = ready(&plan);
        for n in ["asset-1", "asset-2", "asset-3"] {
            health.insert(n.into(), Health::State(InstanceState::Starting));
        }
        let text = render(&plan, &[], &health);
        let up = asset_upstream(&text);
        assert!(
            up.contains("server 127.0.0.1:9 down; # all 3 copies of role `asset` are out of the upstream (not ready: starting)"),
            "{up}"
        );
        assert!(!up.contains("has no copies"), "{up}");
        let health: BTreeMap<String, Health> = BTreeMap::new();
        let text = render(&plan, &[], &health);
        assert!(asset_upstream(&text).contains("(not running)"), "{text}");
    }
}
