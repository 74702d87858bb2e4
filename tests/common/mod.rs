//! Helpers shared by the integration tests: the built binaries, example manifests copied
//! into scratch directories, a `gridctl` runner and an output normaliser.
//!
//! The live-grid tests share the submodules: free loopback [`ports`], processes through
//! /proc and kills by pid ([`procs`]), deadlines ([`wait`]), running a program to the end
//! under one ([`run`]), a process on a PTY of its own ([`pty`]), and a test grid's
//! binaries, scratch directory and status rows ([`grid`]), and an HTTP/1.1 client
//! ([`http`]) under a bounded request loop through nginx ([`load`]).
//!
//! Every test crate includes this module with `mod common;` and uses only part of it.
#![allow(dead_code)] // each test crate uses a different subset; `expect` would fail in the others

pub mod grid;
pub mod http;
pub mod load;
pub mod ports;
pub mod procs;
pub mod pty;
pub mod run;
pub mod wait;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// The database secret every test passes through `ROBUST_DB` (as the examples expect).
pub const DB_SECRET: &str = "Server=db.test;Database=robust;User=robust;Password=test-secret";

/// The `gridctl` binary built for this test run.
pub fn gridctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gridctl"))
}

/// The fake Robust built for this test run (debug profile, never the release build).
pub fn fake_robust_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-robust"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/fake-bin`: a directory that looks like Robust's `bin/`.
pub fn fake_bin_dir() -> PathBuf {
    repo().join("examples/fake-bin")
}

/// The example names, in the order tests iterate them.
pub const EXAMPLES: &[&str] = &["single", "blog-split", "hypergrid"];

/// A scratch directory holding one manifest; removed when dropped.
pub struct Grid {
    pub tmp: tempfile::TempDir,
    /// The directory holding `grid.toml` (the cwd of every `gridctl` run).
    pub dir: PathBuf,
    pub manifest: PathBuf,
}

impl Grid {
    /// `<dir>/.gridctl`, the default state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(".gridctl")
    }

    pub fn instance_dir(&self, name: &str) -> PathBuf {
        self.state_dir().join("instances").join(name)
    }

    /// Reads a file of an instance's rendered tree.
    pub fn read(&self, instance: &str, rel: &str) -> String {
        let p = self.instance_dir(instance).join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    }

    /// Runs `gridctl` in this grid's directory.
    pub fn gridctl(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        gridctl(&self.dir, args)
    }

    /// Replaces this grid's paths (and the repo's) with `$DIR` / `$REPO`.
    pub fn normalize(&self, text: &str) -> String {
        normalize(text, self.tmp.path())
    }

    /// Every file under the state directory's `instances/`, sorted, each under a
    /// `--- path ---` header, normalised.
    pub fn rendered_tree(&self) -> String {
        let root = self.state_dir();
        let mut files = Vec::new();
        collect_files(&root.join("instances"), &mut files);
        files.sort();
        let mut out = String::new();
        for f in files {
            let rel = f.strip_prefix(&root).unwrap_or(&f);
            let text = std::fs::read_to_string(&f)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()));
            out.push_str(&format!("--- {} ---\n{}", rel.display(), text));
            if !text.ends_with('\n') {
                out.push_str("\n<no final newline>\n");
            }
        }
        self.normalize(&out)
    }
}

/// Every regular file under `dir`, recursively (unsorted).
pub fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Reads every file under `dir` as (relative path, bytes), sorted.
pub fn snapshot_dir(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f.strip_prefix(dir).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

/// Copies `examples/<name>/grid.toml` into a fresh scratch directory (as
/// `<tmp>/<name>/grid.toml`), pointing `bin_dir` at the absolute `examples/fake-bin` and
/// the command at the debug `fake-robust`, so no test depends on a release build.
pub fn example(name: &str) -> Grid {
    let src = repo().join("examples").join(name).join("grid.toml");
    let text = std::fs::read_to_string(&src)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()));
    grid_in(name, &localize(&text))
}

/// Rewrites the `bin_dir` and `command` lines of a manifest to this checkout's fake Robust.
pub fn localize(text: &str) -> String {
    let mut out = String::new();
    // `[simulator]`'s command runs the fake as OpenSim.exe.
    let mut section = String::new();
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        if line.starts_with('[') {
            section = line.trim().to_string();
        }
        if key == "bin_dir" {
            out.push_str(&format!(
                "bin_dir = {:?}",
                fake_bin_dir().display().to_string()
            ));
        } else if key == "command" {
            let assembly = if section == "[simulator]" {
                "OpenSim.exe"
            } else {
                "Robust.dll"
            };
            out.push_str(&format!(
                "command = [{:?}, {assembly:?}]",
                fake_robust_bin().display().to_string()
            ));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Writes `text` as `<tmp>/<sub>/grid.toml` in a fresh scratch directory.
pub fn grid_in(sub: &str, text: &str) -> Grid {
    let tmp = tempfile::tempdir().expect("create a temp dir");
    let dir = tmp.path().join(sub);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("grid.toml");
    std::fs::write(&manifest, text).unwrap();
    Grid { tmp, dir, manifest }
}

/// Writes an inline manifest (used as is) into a fresh scratch directory.
pub fn manifest(text: &str) -> Grid {
    grid_in("grid", text)
}

/// `gridctl ARGS` in `dir`, with `ROBUST_DB` set and no inherited `GRIDCTL_FILE`.
pub fn gridctl(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut cmd = Command::new(gridctl_bin());
    cmd.current_dir(dir)
        .args(args)
        .env("ROBUST_DB", DB_SECRET)
        .env_remove("GRIDCTL_FILE")
        .env_remove("GRIDCTL_TARGET")
        .env_remove("RUST_BACKTRACE");
    cmd.assert()
}

/// Like [`gridctl`] but without `ROBUST_DB` in the environment.
pub fn gridctl_without_db(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut cmd = Command::new(gridctl_bin());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("ROBUST_DB")
        .env_remove("GRIDCTL_FILE")
        .env_remove("GRIDCTL_TARGET");
    cmd.assert()
}

pub fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

pub fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

pub fn code(a: &assert_cmd::assert::Assert) -> Option<i32> {
    a.get_output().status.code()
}

/// Replaces machine-specific parts of an output: the scratch dir (`$DIR`), the fake
/// Robust binary (`$FAKE_ROBUST`), the repository (`$REPO`), and the config hash (it
/// covers absolute paths, so it differs per scratch dir).
pub fn normalize(text: &str, tmp: &Path) -> String {
    let mut out = text.to_string();
    let mut dirs = vec![tmp.to_path_buf()];
    if let Ok(c) = tmp.canonicalize() {
        if c != tmp {
            dirs.push(c);
        }
    }
    for d in dirs {
        out = out.replace(&d.display().to_string(), "$DIR");
    }
    out = out.replace(&fake_robust_bin().display().to_string(), "$FAKE_ROBUST");
    out = out.replace(&repo().display().to_string(), "$REPO");
    out.lines()
        .map(|l| match l.find("\"config_hash\": \"") {
            Some(i) => format!("{}\"config_hash\": \"<hash>\"", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if out.ends_with('\n') { "\n" } else { "" }
}
