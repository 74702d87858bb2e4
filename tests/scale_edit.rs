//! `gridctl scale` edits grid.toml in place: only the number changes (comments, the
//! comment on the same line, spacing, line ends and the file mode survive), and a
//! refused request leaves the file byte-identical — not even rewritten — with a clear
//! message and a non-zero exit.

mod common;
mod nginx_roll_support;

use common::procs::kill_if_naming;
use nginx_roll_support::{
    reserve_ports, run_with_deadline, Run, BIN_DIR, CMD_TIMEOUT, FAKE_ROBUST, GRIDCTL,
};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Same-line comments everywhere, odd spacing, a comment after `instances`.
fn manifest(base: u16) -> String {
    format!(
        r#"# Scale-edit test grid.   Keep this header exactly.
#
[grid]
name   = "Scale Edit"      # the grid's name
domain = "grid.localhost"

[robust]
bin_dir = "{bin}"   # fake bin/
command = ["{fake}", "Robust.dll"]

[database]
provider = "mysql"  # split grids need a server database
connection = "x"

# Single-copy services: GridUser and Presence keep process-wide caches.
[roles.core]
services = ["grid", "gridinfo", "auth", "useraccount", "avatar", "griduser",
            "login"]      # no presence here
instances = 1 # exactly one
port = {core}
public_port = {core_pub}

[roles.presence]   # alone in its role
services = ["presence"]
port = {presence}

[roles.inventory]
services = ["inventory"]
port = {inventory}

[roles.asset]
# Assets scale out; asset-1 loads the default assets.
services = ["asset"]
instances   =   3     # three copies; asset-1 loads defaults
port = {asset}  # base port: copy n on port + n - 1

# trailing comment
"#,
        bin = BIN_DIR,
        fake = FAKE_ROBUST,
        core = base,
        core_pub = base + 1,
        presence = base + 2,
        asset = base + 3,
        inventory = base + 7,
    )
}

const ASSET_LINE: &str = "instances   =   3     # three copies; asset-1 loads defaults\n";

struct Scratch {
    dir: tempfile::TempDir,
    file: PathBuf,
}

impl Scratch {
    fn new(text: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("gse")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let file = dir.path().join("grid.toml");
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        // A fixed mtime in the past: a rewrite, even with the same bytes, would show.
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(past)
            .unwrap();
        Scratch { dir, file }
    }

    fn gridctl(&self, args: &[&str]) -> Run {
        let f = self.file.display().to_string();
        let mut all = vec!["-f", f.as_str()];
        all.extend_from_slice(args);
        run_with_deadline(self.dir.path(), GRIDCTL, &all, CMD_TIMEOUT)
    }

    fn snapshot(&self) -> (Vec<u8>, u64, SystemTime) {
        let m = std::fs::metadata(&self.file).unwrap();
        (
            std::fs::read(&self.file).unwrap(),
            m.ino(),
            m.modified().unwrap(),
        )
    }
}

impl Drop for Scratch {
    /// `down`, then SIGKILL of any holder or fake still naming this directory.
    fn drop(&mut self) {
        let root = self.dir.path().display().to_string();
        let status = self.gridctl(&["status", "--json"]);
        let _ = self.gridctl(&["down"]);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).unwrap_or_default();
        for r in rows {
            for key in ["pid", "holder_pid"] {
                if let Some(pid) = r[key].as_u64().map(|p| p as u32) {
                    // Only if it still names this directory (pids get reused).
                    kill_if_naming(pid, &root);
                }
            }
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn scale_down_changes_only_the_number() {
    let text = manifest(reserve_ports(8));
    let s = Scratch::new(&text);
    let run = s.gridctl(&["scale", "asset=2"]);
    assert!(run.ok(), "{}", run.describe());
    assert!(
        run.stdout.contains("grid.toml: asset instances = 2"),
        "{}",
        run.describe()
    );
    let expected = text.replacen(ASSET_LINE, &ASSET_LINE.replacen('3', "2", 1), 1);
    assert_ne!(expected, text);
    assert_eq!(std::fs::read_to_string(&s.file).unwrap(), expected);
    assert_eq!(mode(&s.file), 0o640, "the file mode is kept");
}

/// (name, pid) of every copy that is not stopped, from `status --json`.
fn running(s: &Scratch) -> Vec<(String, u64)> {
    let status = s.gridctl(&["status", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).expect("status --json");
    rows.iter()
        .filter(|r| r["state"] != "stopped")
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                r["pid"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn scale_up_changes_only_the_number_and_starts_only_the_new_copy() {
    let text = manifest(reserve_ports(8));
    let s = Scratch::new(&text);
    let up = s.gridctl(&["up", "--wait"]);
    assert!(up.ok(), "{}", up.describe());
    let before = running(&s);
    let run = s.gridctl(&["scale", "asset=4"]);
    assert!(run.ok(), "{}", run.describe());
    let expected = text.replacen(ASSET_LINE, &ASSET_LINE.replacen('3', "4", 1), 1);
    assert_eq!(std::fs::read_to_string(&s.file).unwrap(), expected);
    let after = running(&s);
    // Every copy that ran runs on with the same pid; asset-4 is the only new one.
    let new: Vec<&str> = after
        .iter()
        .filter(|a| !before.contains(a))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(new, ["asset-4"], "before {before:?}, after {after:?}");
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
}

#[test]
fn scale_of_a_grid_that_does_not_run_here_only_edits_grid_toml() {
    // The grid runs elsewhere (a cluster: scale, export, apply) or is down: the edit is
    // all there is to do, and nothing starts on this host.
    let text = manifest(reserve_ports(8));
    let s = Scratch::new(&text);
    let dry = s.gridctl(&["scale", "--dry-run", "asset=4"]);
    assert!(dry.ok(), "{}", dry.describe());
    assert!(
        dry.stdout
            .contains("nothing of this grid runs on this host"),
        "{}",
        dry.describe()
    );
    assert_eq!(
        std::fs::read_to_string(&s.file).unwrap(),
        text,
        "a dry run writes nothing"
    );
    let run = s.gridctl(&["scale", "asset=4"]);
    assert!(run.ok(), "{}", run.describe());
    assert!(
        run.stdout.contains("grid.toml: asset instances = 4"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout
            .contains("nothing of this grid runs on this host, so no copy was started or stopped"),
        "{}",
        run.describe()
    );
    let expected = text.replacen(ASSET_LINE, &ASSET_LINE.replacen('3', "4", 1), 1);
    assert_eq!(std::fs::read_to_string(&s.file).unwrap(), expected);
    assert!(running(&s).is_empty(), "{:?}", running(&s));
}

#[test]
fn crlf_and_a_missing_final_newline_survive() {
    let text = manifest(reserve_ports(8)).replace('\n', "\r\n");
    let text = text.trim_end_matches("\r\n").to_string(); // ends in "# trailing comment"
    let s = Scratch::new(&text);
    let run = s.gridctl(&["scale", "asset=1", "core=1"]);
    assert!(run.ok(), "{}", run.describe());
    let line = ASSET_LINE.replace('\n', "\r\n");
    let expected = text.replacen(&line, &line.replacen('3', "1", 1), 1);
    assert_eq!(std::fs::read_to_string(&s.file).unwrap(), expected);
}

#[test]
fn refused_requests_leave_the_file_byte_identical() {
    let text = manifest(reserve_ports(8));
    let s = Scratch::new(&text);
    let before = s.snapshot();
    // (request words, exit code, what the message must say)
    let cases: &[(&[&str], i32, &[&str])] = &[
        (
            &["aset=2"],
            2,
            &[
                "no role named `aset`",
                "did you mean `asset`?",
                "roles: core, presence, inventory, asset",
            ],
        ),
        (
            &["asset=-1"],
            2,
            &["`asset=-1`: a count cannot be negative"],
        ),
        (&["asset=x"], 2, &["`asset=x`: `x` is not a whole number"]),
        (&["asset"], 2, &["`asset` is not ROLE=COUNT"]),
        // One bad request refuses the whole command: asset stays at 3.
        (&["asset=2", "aset=3"], 2, &["no role named `aset`"]),
        (
            &["presence=2"],
            3,
            &[
                "service `presence` cannot run as 2 copies (role `presence`)",
                "allow_unsafe_copies",
                "scale refused: `",
                "grid.toml` is unchanged",
            ],
        ),
    ];
    for (words, code, says) in cases {
        let mut args = vec!["scale"];
        args.extend_from_slice(words);
        let run = s.gridctl(&args);
        assert_eq!(run.code, Some(*code), "scale {words:?}: {}", run.describe());
        for text in *says {
            assert!(
                run.stderr.contains(text),
                "scale {words:?} should say {text:?}: {}",
                run.describe()
            );
        }
        assert!(
            !run.stdout.contains("instances ="),
            "scale {words:?} claims a change: {}",
            run.describe()
        );
        let after = s.snapshot();
        assert!(
            after.0 == before.0,
            "scale {words:?} changed the bytes:\n{}",
            String::from_utf8_lossy(&after.0)
        );
        assert_eq!(String::from_utf8_lossy(&after.0), text, "scale {words:?}");
        assert_eq!(
            (after.1, after.2),
            (before.1, before.2),
            "scale {words:?} rewrote the file"
        );
    }
    // Nothing else happened either: no state directory, no instance.
    assert!(
        !s.dir.path().join(".gridctl").exists(),
        "a refused scale created state"
    );
}

/// Issue 9, item 6: a copy scaled away (or no longer declared when `up` runs) is
/// retired: its rendered tree and socket go, its logs stay where `gridctl logs` finds
/// them, and the command says so. Scaling back up starts a fresh copy of that name.
#[test]
fn scaled_away_copies_are_retired_and_their_logs_kept() {
    let text = manifest(reserve_ports(8));
    let s = Scratch::new(&text);
    let up = s.gridctl(&["up", "--wait"]);
    assert!(up.ok(), "{}", up.describe());
    let state = s.dir.path().join(".gridctl");
    let dir = state.join("instances/asset-3");
    let kept = state.join("retired/asset-3");
    assert!(dir.join("Robust.ini").exists());
    // Something of this run of asset-3 in its console log, to find again later.
    let marker = "retire-me-please";
    let sent = s.gridctl(&["send", "asset-3", marker]);
    assert!(sent.ok(), "{}", sent.describe());

    let down = s.gridctl(&["scale", "asset=2"]);
    assert!(down.ok(), "{}", down.describe());
    assert!(
        down.stdout.contains(&format!(
            "asset-3 retired: config removed, logs kept in {}",
            kept.display()
        )),
        "{}",
        down.describe()
    );
    assert!(!dir.exists(), "asset-3's directory is left behind");
    assert!(!state.join("sock/asset-3").exists(), "its socket is left");
    let console = std::fs::read_to_string(kept.join("console.log")).expect("kept console.log");
    assert!(console.contains(marker), "{console}");
    assert!(kept.join("holder.log").exists());
    let logs = s.gridctl(&["logs", "asset-3"]);
    assert!(logs.ok(), "{}", logs.describe());
    assert!(logs.stdout.contains(marker), "{}", logs.describe());
    assert!(
        logs.stderr.contains("`asset-3` is retired"),
        "{}",
        logs.describe()
    );

    // Back to 3: a fresh asset-3, whose logs are its own.
    let again = s.gridctl(&["scale", "asset=3"]);
    assert!(again.ok(), "{}", again.describe());
    let status = s.gridctl(&["status", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).expect("status --json");
    let row = rows
        .iter()
        .find(|r| r["name"] == "asset-3")
        .expect("asset-3");
    assert_eq!(row["state"], "ready", "{}", status.stdout);
    assert_eq!(row["restarts"], 0, "{}", status.stdout);
    let logs = s.gridctl(&["logs", "asset-3"]);
    assert!(logs.ok(), "{}", logs.describe());
    assert!(!logs.stdout.contains(marker), "{}", logs.describe());
    assert!(!logs.stderr.contains("retired"), "{}", logs.describe());

    // `up` after an edit that drops asset-3 retires it the same way.
    let edited = std::fs::read_to_string(&s.file).unwrap().replacen(
        ASSET_LINE,
        &ASSET_LINE.replacen('3', "2", 1),
        1,
    );
    std::fs::write(&s.file, edited).unwrap();
    let up = s.gridctl(&["up"]);
    assert!(up.ok(), "{}", up.describe());
    assert!(up.stdout.contains("asset-3: stopped"), "{}", up.describe());
    assert!(
        up.stdout
            .contains("asset-3 retired: config removed, logs kept in"),
        "{}",
        up.describe()
    );
    assert!(!dir.exists(), "asset-3's directory is left behind by `up`");
    assert!(kept.join("console.log").exists());

    // A directory an older gridctl left behind (no holder) is retired by the next `up`.
    let leftover = state.join("instances/asset-7");
    std::fs::create_dir_all(leftover.join("includes")).unwrap();
    std::fs::write(leftover.join("console.log"), "old run\n").unwrap();
    std::fs::write(leftover.join("Robust.ini"), "; old\n").unwrap();
    let up = s.gridctl(&["up"]);
    assert!(up.ok(), "{}", up.describe());
    assert!(
        up.stdout
            .contains("asset-7 retired: config removed, logs kept in"),
        "{}",
        up.describe()
    );
    assert!(!leftover.exists());
    let logs = s.gridctl(&["logs", "asset-7"]);
    assert_eq!(logs.stdout, "old run\n", "{}", logs.describe());
}

/// Issue 10, item 6: `scale` through a symlinked grid.toml edits the link's target and
/// keeps the link (an atomic rename over the link would have replaced it with a file).
#[test]
fn scale_through_a_symlink_edits_the_target_and_keeps_the_link() {
    let text = manifest(reserve_ports(8));
    let s = Scratch::new(&text);
    let conf = s.dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    let real = conf.join("grid.toml");
    std::fs::rename(&s.file, &real).unwrap();
    std::os::unix::fs::symlink("conf/grid.toml", &s.file).unwrap();
    let run = s.gridctl(&["scale", "asset=2"]);
    assert!(run.ok(), "{}", run.describe());
    let meta = std::fs::symlink_metadata(&s.file).unwrap();
    assert!(meta.file_type().is_symlink(), "the link was replaced");
    assert_eq!(
        std::fs::read_link(&s.file).unwrap(),
        Path::new("conf/grid.toml")
    );
    let expected = text.replacen(ASSET_LINE, &ASSET_LINE.replacen('3', "2", 1), 1);
    assert_eq!(std::fs::read_to_string(&real).unwrap(), expected);
    assert_eq!(mode(&real), 0o640, "the target's mode is kept");
    // No temp file is left beside the target.
    let names: Vec<String> = std::fs::read_dir(&conf)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["grid.toml"]);
}

/// Issue 10, item 6: an existing state directory keeps its mode — `state_dir = "."`
/// (the manifest's own directory) and a shared 1777 directory are never made 0700 —
/// a group- or world-writable one gets a warning, and a new one is created 0700.
#[test]
fn existing_state_dirs_keep_their_mode_and_new_ones_are_private() {
    let cases: [(&str, Option<u32>, bool); 3] = [
        (".", Some(0o755), false),
        ("shared", Some(0o1777), true),
        ("fresh/state", None, false),
    ];
    for (state_dir, before, warns) in cases {
        let text = manifest(reserve_ports(8)).replacen(
            "[robust]",
            &format!("state_dir = {state_dir:?}\n\n[robust]"),
            1,
        );
        let s = Scratch::new(&text);
        let dir = s.dir.path().join(state_dir);
        if let Some(m) = before {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m)).unwrap();
        }
        let run = s.gridctl(&["scale", "asset=1"]);
        assert!(run.ok(), "state_dir {state_dir}: {}", run.describe());
        assert_eq!(
            mode(&dir),
            before.unwrap_or(0o700),
            "state_dir {state_dir}: {}",
            run.describe()
        );
        assert_eq!(
            run.stderr.contains("-writable"),
            warns,
            "state_dir {state_dir}: {}",
            run.describe()
        );
        let _ = s.gridctl(&["down"]);
    }
}
