//! Atomic file writes: write a temp file beside the target, fsync, rename.
//! No command ever leaves a half-written file behind.
//!
//! The temp file's name is unpredictable and it is created exclusively (`O_EXCL`,
//! retried on a clash), so nobody can plant a file or symlink under the name a write
//! will use. Temp files left by a killed writer are removed by the next write of the
//! same file once they are clearly stale.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A temp file older than this belongs to no running write (writes take milliseconds).
const STALE_AFTER: Duration = Duration::from_secs(600);

/// Writes `contents` to `path` atomically with the given permission bits.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    clean_stale(path);
    let (tmp, mut f) = create_temp(path, mode)?;
    let result = (|| {
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes several files as one: every temp file is written and synced first, and only
/// then are they renamed into place. A failure while writing (a full disk, a directory
/// that cannot be written) leaves every target as it was; only a rename failing half way
/// (which needs the directory to change under the write) can leave some of them new.
pub fn write_files(files: &[(PathBuf, Vec<u8>)], mode: u32) -> io::Result<()> {
    let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
    let mut renamed = 0;
    let result = (|| {
        for (path, contents) in files {
            clean_stale(path);
            let (tmp, mut f) = create_temp(path, mode)?;
            staged.push((tmp, path));
            f.write_all(contents)?;
            f.sync_all()?;
        }
        for (tmp, path) in &staged {
            fs::rename(tmp, path)?;
            renamed += 1;
            sync_dir(path)?;
        }
        Ok(())
    })();
    for (tmp, _) in staged.iter().skip(renamed) {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// `.NAME.tmp-` — the prefix of every temp file of `path`.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.tmp-")
}

/// Creates a fresh temp file beside `path` with `O_EXCL` under a random name.
fn create_temp(path: &Path, mode: u32) -> io::Result<(PathBuf, File)> {
    let prefix = temp_prefix(path);
    let mut last = None;
    for _ in 0..16 {
        let tmp = path.with_file_name(format!("{prefix}{}", random_suffix()?));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temp name")))
}

/// 16 hex digits from the kernel's random source.
fn random_suffix() -> io::Result<String> {
    let mut buf = [0u8; 8];
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        filled += n as usize;
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Removes temp files of `path` that a killed writer left (only stale ones: another
/// process may be writing the same file right now). Best effort.
fn clean_stale(path: &Path) {
    let prefix = temp_prefix(path);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        // symlink_metadata: a link is judged (and removed) itself, never followed.
        let old = e
            .path()
            .symlink_metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_batch_that_cannot_be_written_changes_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        write_file(&a, b"old", 0o644).unwrap();
        // The second target's directory does not exist: its temp file cannot be made.
        let batch = vec![
            (a.clone(), b"new".to_vec()),
            (dir.path().join("missing/b.yaml"), b"new".to_vec()),
        ];
        assert!(write_files(&batch, 0o644).is_err());
        assert_eq!(fs::read(&a).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["a.yaml"], "no temp file left");
        // Written whole when it can be.
        let b = dir.path().join("b.yaml");
        write_files(
            &[(a.clone(), b"new".to_vec()), (b.clone(), b"b".to_vec())],
            0o644,
        )
        .unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"new");
        assert_eq!(fs::read(&b).unwrap(), b"b");
        assert_eq!(names(dir.path()), ["a.yaml", "b.yaml"]);
    }

    #[test]
    fn replaces_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.ini");
        write_file(&p, b"one", 0o644).unwrap();
        write_file(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["a.ini"]);
    }

    #[test]
    fn temp_names_are_unpredictable_and_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("grid.toml");
        let (a, _fa) = create_temp(&p, 0o600).unwrap();
        let (b, _fb) = create_temp(&p, 0o600).unwrap();
        assert_ne!(a, b);
        let an = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(an.starts_with(".grid.toml.tmp-"), "{an}");
        // Not derived from the pid (the old, guessable scheme).
        assert!(!an.ends_with(&std::process::id().to_string()), "{an}");
        assert_eq!(an.len(), ".grid.toml.tmp-".len() + 16);
    }

    #[test]
    fn a_planted_symlink_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let p = dir.path().join("a.ini");
        // Whatever name an attacker guesses, O_EXCL refuses to open through it; here
        // every old-style (pid) name is planted.
        let planted = p.with_file_name(format!(".a.ini.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        write_file(&p, b"new", 0o644).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert_eq!(fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn stale_temps_are_cleaned_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.ini");
        let stale = dir.path().join(".a.ini.tmp-0123456789abcdef");
        let fresh = dir.path().join(".a.ini.tmp-fedcba9876543210");
        let other = dir.path().join(".b.ini.tmp-0123456789abcdef");
        for f in [&stale, &fresh, &other] {
            fs::write(f, b"x").unwrap();
        }
        let long_ago = SystemTime::now() - Duration::from_secs(3600);
        for f in [&stale, &other] {
            File::options()
                .write(true)
                .open(f)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        write_file(&p, b"v", 0o644).unwrap();
        assert_eq!(
            names(dir.path()),
            [
                ".a.ini.tmp-fedcba9876543210",
                ".b.ini.tmp-0123456789abcdef",
                "a.ini"
            ]
        );
    }
}
