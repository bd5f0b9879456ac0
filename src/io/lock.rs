//! One render at a time per destination. Before a render writes anything it locks every file it
//! will write: an exclusive advisory lock (`File::try_lock`, `flock(2)` on Unix) on a lock file
//! `.NAME.mixdown-lock` beside it, which holds the process id of its owner. A second render that
//! would write one of those files fails at once, before it renders, instead of racing the first
//! to the renames (which could leave an output beside the other render's report).
//!
//! Failing rather than waiting: two renders of one destination at once are a mistake in the
//! caller's set-up (the second would overwrite the first anyway); waiting would hide it, could
//! hang a CI job, and two renders locking overlapping sets in different orders could wait for
//! each other forever.
//!
//! The operating system drops the lock when its process ends, however it ends, so a killed
//! render never blocks the next one; the lock file is removed when the render is done (or
//! interrupted). Because a lock file can be removed between another process opening it and
//! locking it, a lock counts only if the file locked is still the one at the lock's path.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::cleanup::{self, Tracked};

/// Why a destination cannot be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{} is being written by another mixdown render{}; wait for it to finish, or write to another path (lock file {})",
        dest.display(),
        pid.map_or_else(String::new, |p| format!(" (process {p})")),
        lock.display()
    )]
    Busy {
        /// The destination.
        dest: PathBuf,
        /// The process holding the lock, when its lock file says.
        pid: Option<u32>,
        /// The lock file.
        lock: PathBuf,
    },
    #[error("cannot lock {} (lock file {}): {source}", dest.display(), lock.display())]
    Io {
        dest: PathBuf,
        lock: PathBuf,
        source: std::io::Error,
    },
}

/// The lock file of `dest`: `.NAME.mixdown-lock` in the same folder.
pub fn lock_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    dir.join(format!(".{name}.mixdown-lock"))
}

/// An exclusive lock on one destination, held until dropped.
#[derive(Debug)]
pub struct DestinationLock {
    /// Removed (while still locked) when the lock is dropped.
    path: PathBuf,
    /// Dropped after the lock file is removed: closing it releases the lock.
    _file: File,
    _tracked: Tracked,
}

impl Drop for DestinationLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Locks on every file a render writes, and the folders made for their lock files (removed
/// again when the locks are dropped, if nothing was written into them).
#[derive(Debug, Default)]
pub struct Locks {
    locks: Vec<DestinationLock>,
    dirs: Vec<(PathBuf, Tracked)>,
}

impl Drop for Locks {
    fn drop(&mut self) {
        while self.locks.pop().is_some() {}
        for (d, _) in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

impl Locks {
    /// Lock every one of `dests` (creating their folders), or none: on failure the locks taken
    /// so far are released and the folders made are removed.
    pub fn acquire<'a>(dests: impl IntoIterator<Item = &'a Path>) -> Result<Locks, LockError> {
        let mut locks = Locks::default();
        for dest in dests {
            let lock = lock_path(dest);
            let io = |source: std::io::Error| LockError::Io {
                dest: dest.to_path_buf(),
                lock: lock.clone(),
                source: super::files::explain(source),
            };
            if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                locks
                    .dirs
                    .extend(cleanup::create_dirs_tracked(dir).map_err(io)?);
            }
            locks.locks.push(lock_one(dest, &lock).map_err(|e| match e {
                Locked::Busy(pid) => LockError::Busy {
                    dest: dest.to_path_buf(),
                    pid,
                    lock: lock.clone(),
                },
                Locked::Io(e) => io(e),
            })?);
        }
        Ok(locks)
    }
}

enum Locked {
    Busy(Option<u32>),
    Io(std::io::Error),
}

impl From<std::io::Error> for Locked {
    fn from(e: std::io::Error) -> Self {
        Locked::Io(e)
    }
}

/// Whether `file` is the file at `path` now.
fn is_at(file: &File, path: &Path) -> std::io::Result<bool> {
    let held = file.metadata()?;
    let now = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Ok(held.dev() == now.dev() && held.ino() == now.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (held, now);
        Ok(true)
    }
}

fn lock_one(dest: &Path, lock: &Path) -> Result<DestinationLock, Locked> {
    // A few rounds at most: each retry means another render removed the lock file between our
    // opening it and locking it, which it does only once it is done.
    for _ in 0..100 {
        let created = cleanup::create_tracked(|| {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(lock)?;
            Ok((f, lock.to_path_buf()))
        });
        let (mut file, tracked) = match created {
            Ok((f, t)) => (f, Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match OpenOptions::new().read(true).write(true).open(lock) {
                    Ok(f) => (f, None),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(Locked::Busy(text.trim().parse().ok()));
            }
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        if !is_at(&file, lock)? {
            continue;
        }
        let tracked = match tracked {
            Some(t) => t,
            None => cleanup::create_tracked(|| Ok(((), lock.to_path_buf())))?.1,
        };
        file.set_len(0)?;
        writeln!(file, "{}", std::process::id())?;
        return Ok(DestinationLock {
            path: lock.to_path_buf(),
            _file: file,
            _tracked: tracked,
        });
    }
    Err(std::io::Error::other(format!(
        "the lock file of {} keeps being replaced",
        dest.display()
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_is_locked_once_and_the_lock_file_goes_with_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("new/deeper/a.wav");
        let b = dir.path().join("new/b.json");
        let held = Locks::acquire([a.as_path(), b.as_path()]).expect("lock");
        assert!(lock_path(&a).is_file());
        assert_eq!(
            std::fs::read_to_string(lock_path(&a)).expect("read").trim(),
            std::process::id().to_string()
        );
        // A second lock on `b` (as another render would take it: flock locks belong to the
        // open file, so this conflicts within one process too) is refused and names us.
        match Locks::acquire([b.as_path()]) {
            Err(LockError::Busy { pid, dest, .. }) => {
                assert_eq!(pid, Some(std::process::id()));
                assert_eq!(dest, b);
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(held);
        // The lock files and the folders made for them are gone; the lock is free again.
        assert!(!dir.path().join("new").exists());
        let again = Locks::acquire([b.as_path()]).expect("lock again");
        drop(again);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    /// A lock file left by a render that was killed (nobody holds its lock) is taken over.
    #[test]
    fn a_stale_lock_file_is_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.wav");
        std::fs::write(lock_path(&a), "999999\n").expect("write");
        let held = Locks::acquire([a.as_path()]).expect("lock");
        assert_eq!(
            std::fs::read_to_string(lock_path(&a)).expect("read").trim(),
            std::process::id().to_string()
        );
        drop(held);
        assert!(!lock_path(&a).exists());
    }
}
