//! A live test grid's pieces: the binaries cargo built, a scratch directory with its
//! `grid.toml`, and the rows of `gridctl status --json`.
#![allow(dead_code)] // each test crate uses a different subset

use std::path::{Path, PathBuf};

/// The `gridctl` binary built for this test run.
pub const GRIDCTL: &str = env!("CARGO_BIN_EXE_gridctl");
/// The `gridctl-holder` binary built for this test run: next to `gridctl`, where the CLI
/// looks for it (a root-package test cannot name another package's binary with
/// `CARGO_BIN_EXE_*`; `cargo test` builds it with the holder crate's own tests).
pub fn gridctl_holder() -> PathBuf {
    Path::new(GRIDCTL).with_file_name("gridctl-holder")
}
/// The fake Robust built for this test run (debug profile, never the release build).
pub const FAKE_ROBUST: &str = env!("CARGO_BIN_EXE_fake-robust");
/// `examples/fake-bin`: a directory that looks like Robust's `bin/`.
pub const FAKE_BIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fake-bin");

/// A fresh scratch directory named `<prefix>…` under `parent` (the system temp dir if
/// `None`), and its canonical path. Removed when the `TempDir` drops.
pub fn scratch_dir(prefix: &str, parent: Option<&Path>) -> (tempfile::TempDir, PathBuf) {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    let tmp = match parent {
        Some(p) => b.tempdir_in(p),
        None => b.tempdir(),
    }
    .expect("tempdir");
    let dir = tmp.path().canonicalize().expect("canonical tempdir");
    (tmp, dir)
}

/// Writes `text` as `<dir>/grid.toml`; its path.
pub fn write_manifest(dir: &Path, text: &str) -> PathBuf {
    let manifest = dir.join("grid.toml");
    std::fs::write(&manifest, text).expect("write grid.toml");
    manifest
}

/// One row of `gridctl status --json`: the product's own type, so the two cannot drift.
pub use gridctl::status::Row;

/// The child's and the holder's pid of a row, where known.
pub fn row_pids(r: &Row) -> impl Iterator<Item = u32> {
    [r.pid, r.holder_pid].into_iter().flatten()
}

/// The row named `name`; panics with every row if there is none.
pub fn row<'a>(rows: &'a [Row], name: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no `{name}` in status: {rows:#?}"))
}

/// `examples/blog-split/grid.toml` on the ports from `base` (width 12) and with `bin_dir`,
/// run by this test run's fake Robust. The example's fixed ports are rewritten so parallel
/// tests (and other checkouts) never collide.
pub fn blog_split_on_ports(base: u16, bin_dir: &Path) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/blog-split/grid.toml");
    let text = std::fs::read_to_string(path).expect("the blog-split example");
    let ports = [
        ("18100", base),
        ("18200", base + 1),
        ("18300", base + 2),
        ("18400", base + 6),
        ("18080", base + 10),
        ("18081", base + 11),
    ];
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        let line = match key {
            "bin_dir" => format!("bin_dir = {:?}", bin_dir.display().to_string()),
            "command" => format!("command = [{FAKE_ROBUST:?}, \"Robust.dll\"]"),
            _ => ports.iter().fold(line.to_string(), |l, (from, to)| {
                l.replace(from, &to.to_string())
            }),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
