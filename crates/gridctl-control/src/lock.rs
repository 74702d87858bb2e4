//! The grid lock: two CLI commands changing the same grid are serialized, not
//! interleaved (`<state>/lock`, an advisory flock that the kernel drops when the
//! process dies, so a killed command never leaves the grid locked).

use fs2::FileExt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct GridLock {
    _file: File,
}

/// Takes the lock, waiting up to `timeout` for another command to finish.
pub fn acquire(state_dir: &Path, timeout: Duration) -> io::Result<GridLock> {
    gridctl_config::render::ensure_private_dir(state_dir)?;
    let path = state_dir.join("lock");
    // Rust opens files O_CLOEXEC: holders started by this command never inherit the lock.
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    let start = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock_exclusive() {
            Ok(()) => break,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.raw_os_error() == Some(libc::EWOULDBLOCK) =>
            {
                if start.elapsed() >= timeout {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "another gridctl command holds {} ({})",
                            path.display(),
                            holder.trim()
                        ),
                    ));
                }
                if !told {
                    eprintln!("waiting for another gridctl command on this grid to finish...");
                    told = true;
                }
                // Polling a flock: there is no blocking wait with a timeout in the API.
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
    file.set_len(0)?;
    let _ = writeln!(file, "pid {}", std::process::id());
    Ok(GridLock { _file: file })
}
