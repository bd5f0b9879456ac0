//! Atomic file writes: every file is written to a temporary name beside its destination,
//! synced, and renamed into place only when asked, so a failed write never leaves a partial file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// An I/O error while writing `path`.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct StageError {
    /// The file that was being written.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: std::io::Error,
}

/// Write `bytes` to `path` atomically: a temporary file is created in the same directory
/// (`tempfile`, hidden name `.<file name>.<random>.tmp`, permissions 0666 minus the umask on
/// Unix, like a plain new file), written, flushed with `sync_all`, then renamed over `path`.
///
/// On any failure the temporary file is removed, nothing is left at `path` or beside it, and an
/// existing file at `path` is untouched (the rename is the only step that changes it). The
/// directory of `path` must exist; it is not created.
///
/// # Errors
/// [`StageError`] naming `path` when `path` has no file name, the directory does not exist or
/// is not writable, or writing, syncing or renaming fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StageError> {
    stage(path, bytes)?.commit()
}

/// A complete, synced temporary file beside its destination, waiting to be renamed into place.
/// Dropping it without [`Staged::commit`] deletes it, so a failed render leaves nothing behind.
#[derive(Debug)]
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

/// First half of [`write_atomic`]: write and sync `bytes` to a temporary file in `path`'s folder.
/// Staging every output before committing any lets a multi-file render fail as a whole.
pub fn stage(path: &Path, bytes: &[u8]) -> Result<Staged, StageError> {
    let io_err = |source: std::io::Error| StageError {
        path: path.to_path_buf(),
        source,
    };
    let Some(file_name) = path.file_name() else {
        return Err(io_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path does not name a file",
        )));
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = format!(".{}.", file_name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Passed to open(2) as the mode, so the umask applies as for File::create.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    Ok(Staged {
        tmp,
        path: path.to_path_buf(),
    })
}

impl Staged {
    /// Second half of [`write_atomic`]: rename the temporary file onto the destination.
    pub fn commit(self) -> Result<(), StageError> {
        let path = self.path;
        // On failure the PersistError owns the temporary file and deletes it when dropped.
        self.tmp.persist(&path).map_err(|e| StageError {
            path: path.clone(),
            source: e.error,
        })?;
        // Make the rename itself durable. The file is already complete and in place, so a
        // failure here (for example a file system that cannot sync directories) is not an error.
        #[cfg(unix)]
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_atomic_writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("song.wav");
        write_atomic(&path, b"first").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"first");
        write_atomic(&path, b"second, longer").expect("overwrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"second, longer");
        assert_eq!(dir_entries(dir.path()), ["song.wav"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o600, 0o600, "owner can read and write");
        }
    }

    #[test]
    fn write_atomic_into_missing_directory_fails_and_creates_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing").join("song.wav");
        let err = write_atomic(&path, b"x").expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(matches!(err, StageError { path: ref p, .. } if *p == path));
        assert!(dir_entries(dir.path()).is_empty());
    }

    #[test]
    fn write_atomic_failure_leaves_existing_file_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The target is a non-empty directory: the rename fails after the temp file was
        // written; the temp file must be cleaned up and the directory left as it was.
        let target = dir.path().join("out.wav");
        std::fs::create_dir(&target).expect("mkdir");
        std::fs::write(target.join("keep"), b"k").expect("write");
        let err = write_atomic(&target, b"data").expect_err("must fail");
        assert!(matches!(err, StageError { .. }));
        assert_eq!(dir_entries(dir.path()), ["out.wav"]);
        assert_eq!(dir_entries(&target), ["keep"]);
        assert!(write_atomic(Path::new("/"), b"x").is_err(), "no file name");
    }
}
