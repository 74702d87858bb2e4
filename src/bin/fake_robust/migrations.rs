//! The migrations race on an empty database (robust.md §0c), opt-in through the
//! `MigrationsDir` knob: the directory stands for the database, `<Store>.done` for a
//! store whose migrations table is at its last revision, `<Store>.migrating` (holding a
//! pid) for a copy creating it right now.
//!
//! Real copies started at the same moment on an empty database race on creating the
//! migrations table, and the loser still logs `loaded successfully` and reaches its
//! prompt with a broken service. The fake loses the same way, so gridctl's start order
//! (each role's first copy alone) and its readiness probes are tested against it.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gridctl::ini::Ini;

use crate::log;

/// How a copy that lost the race answers (measured on the real 0.9.2.2, §0c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// The asset service: 404 for every asset GET.
    AssetNotFound,
    /// XInventory: 200 with `<RESULT>False</RESULT>` for every call.
    ResultFalse,
}

/// The store a connector migrates at load, its last revision (from the 0.9.2.2
/// `OpenSim.Data.MySQL.dll` resources) and how it breaks. Only the stores whose broken
/// shape was measured are modelled; FSAssets keeps its own store and is left out.
pub fn store_of(class: &str, config: &Ini, section: &str) -> Option<(&'static str, u32, Broken)> {
    match class {
        "AssetServiceConnector" => {
            let module = config.get(section, "LocalServiceModule").unwrap_or("");
            (!module.contains("FSAsset")).then_some(("AssetStore", 10, Broken::AssetNotFound))
        }
        "XInventoryInConnector" => Some(("InventoryStore", 7, Broken::ResultFalse)),
        _ => None,
    }
}

/// Migrates `store` in `dir`; `false` if another live copy was migrating it at that
/// moment (this copy lost the race and its service is broken until it restarts).
pub fn migrate(dir: &Path, store: &str, revision: u32, ms: u64) -> bool {
    let done = dir.join(format!("{store}.done"));
    let lock = dir.join(format!("{store}.migrating"));
    if done.exists() {
        up_to_date(store, revision);
        return true;
    }
    if let Err(e) = fs::create_dir_all(dir) {
        log::error(&format!(
            "[MIGRATIONS]: cannot create {}: {e}",
            dir.display()
        ));
        return false;
    }
    // Three tries: a stale lock is taken over, then the create is tried again.
    for _ in 0..3 {
        match take(&lock) {
            Taken::Mine => {
                // Another copy may have finished between the `.done` check and our
                // create: then the table is there and this copy only reads it.
                if done.exists() {
                    up_to_date(store, revision);
                } else {
                    log::info(&format!(
                        "[MIGRATIONS]: Upgrading {store} to revision {revision}"
                    ));
                    std::thread::sleep(Duration::from_millis(ms));
                    if let Err(e) = fs::write(&done, revision.to_string()) {
                        log::error(&format!(
                            "[MIGRATIONS]: cannot write {}: {e}",
                            done.display()
                        ));
                    }
                }
                let _ = fs::remove_file(&lock);
                return true;
            }
            // The real loser logs nothing about it: the race shows only in its answers.
            Taken::ByLive => return false,
            Taken::Stale => continue,
            Taken::Error(e) => {
                log::error(&format!(
                    "[MIGRATIONS]: cannot create {}: {e}",
                    lock.display()
                ));
                return false;
            }
        }
    }
    false
}

fn up_to_date(store: &str, revision: u32) {
    log::info(&format!(
        "[MIGRATIONS]: {store} data tables already up to date at revision {revision}"
    ));
}

enum Taken {
    Mine,
    ByLive,
    /// The holder's pid is dead: its file was moved aside, try again.
    Stale,
    Error(std::io::Error),
}

/// Creates `lock` exclusively with our pid inside. The pid is written to a private file
/// first and hard-linked into place: link(2) fails with EEXIST exactly like O_EXCL, but
/// a reader never sees the lock empty (between an O_EXCL create and its write it would
/// not know whether the holder is alive).
fn take(lock: &Path) -> Taken {
    let me = std::process::id();
    let private = sibling(lock, &format!("{me}.tmp"));
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&private)
        .and_then(|mut f| f.write_all(me.to_string().as_bytes()));
    if let Err(e) = written {
        return Taken::Error(e);
    }
    let linked = fs::hard_link(&private, lock);
    let _ = fs::remove_file(&private);
    match linked {
        Ok(()) => Taken::Mine,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => match holder(lock) {
            Some(pid) if alive(pid) => Taken::ByLive,
            _ => take_over(lock),
        },
        Err(e) => Taken::Error(e),
    }
}

/// Moves a stale lock aside. The rename is atomic, so of two copies finding the same
/// stale lock only one moves it; if what was moved turns out to be a live copy's fresh
/// lock (it took over first), it is put back and that copy keeps it.
fn take_over(lock: &Path) -> Taken {
    let aside = sibling(lock, &format!("{}.stale", std::process::id()));
    match fs::rename(lock, &aside) {
        Ok(()) => {}
        // Gone meanwhile (its holder finished or another copy moved it): try again.
        Err(e) if e.kind() == ErrorKind::NotFound => return Taken::Stale,
        Err(e) => return Taken::Error(e),
    }
    let moved = holder(&aside);
    if moved.is_some_and(alive) {
        let _ = fs::hard_link(&aside, lock);
        let _ = fs::remove_file(&aside);
        return Taken::ByLive;
    }
    let _ = fs::remove_file(&aside);
    Taken::Stale
}

fn sibling(lock: &Path, suffix: &str) -> PathBuf {
    let mut name = lock.as_os_str().to_os_string();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn holder(lock: &Path) -> Option<u32> {
    fs::read_to_string(lock).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live process (a zombie counts as dead: it migrates nothing).
fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_wins_live_lock_loses_stale_lock_is_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        // A live holder (this test process): the copy loses.
        fs::write(
            d.join("AssetStore.migrating"),
            std::process::id().to_string(),
        )
        .expect("w");
        assert!(!migrate(d, "AssetStore", 10, 0));
        assert!(!d.join("AssetStore.done").exists());
        // A dead holder (no pid is that large): taken over and migrated.
        fs::write(d.join("AssetStore.migrating"), "4294967295").expect("w");
        assert!(migrate(d, "AssetStore", 10, 0));
        assert!(d.join("AssetStore.done").exists());
        assert!(!d.join("AssetStore.migrating").exists());
        // Done: up to date even with a live lock around.
        fs::write(
            d.join("AssetStore.migrating"),
            std::process::id().to_string(),
        )
        .expect("w");
        assert!(migrate(d, "AssetStore", 10, 0));
        let left: Vec<_> = fs::read_dir(d)
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
