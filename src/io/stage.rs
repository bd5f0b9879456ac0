//! Atomic file writes: every file is written to a temporary name beside its destination,
//! synced, and renamed into place only when asked, so a failed write never leaves a partial file.
//! A [`Staging`] set goes further: all of its files land, or none do (what was there before is
//! put back), so a render's outputs, report and plots always belong together.
//!
//! Temporary files are named `.NAME.mixdown-PID.RANDOM.tmp` and tracked by [`super::cleanup`]
//! while they exist, so an interrupted render removes them and a later render recognises those
//! of a render that was killed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::cleanup::{self, Tracked};

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
/// (`tempfile`, hidden name `.<file name>.mixdown-<pid>.<random>.tmp`, permissions 0666 minus
/// the umask on Unix, like a plain new file), written, flushed with `sync_all`, then renamed
/// over `path`.
///
/// On any failure the temporary file is removed, nothing is left at `path` or beside it, and an
/// existing file at `path` is untouched (the rename is the only step that changes it). The
/// directory of `path` must exist; it is not created.
///
/// # Errors
/// [`StageError`] naming `path` when `path` has no file name, the directory does not exist or
/// is not writable, or writing, syncing or renaming fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StageError> {
    let staged = stage(path, bytes)?;
    let _gate = cleanup::commit_gate().map_err(|source| StageError {
        path: path.to_path_buf(),
        source,
    })?;
    staged.commit()
}

/// A complete, synced temporary file beside its destination, waiting to be renamed into place.
/// Dropping it without [`Staged::commit`] deletes it, so a failed render leaves nothing behind.
#[derive(Debug)]
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    /// Dropped after `tmp` (which deletes the file), or once it is renamed into place.
    _tracked: Tracked,
}

/// First half of [`write_atomic`]: write and sync `bytes` to a temporary file in `path`'s folder.
/// Staging every output before committing any lets a multi-file render fail as a whole.
pub fn stage(path: &Path, bytes: &[u8]) -> Result<Staged, StageError> {
    let (mut tmp, tracked) = temp_beside(path)?;
    let io_err = |source: std::io::Error| StageError {
        path: path.to_path_buf(),
        source,
    };
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    Ok(Staged {
        tmp,
        path: path.to_path_buf(),
        _tracked: tracked,
    })
}

/// A new temporary file in `path`'s folder, named after it and this process
/// (`.NAME.mixdown-PID.RANDOM.tmp`, see [`cleanup::temp_prefix`]), with the permissions a plain
/// new file would get, tracked until it is dropped or renamed into place.
fn temp_beside(path: &Path) -> Result<(tempfile::NamedTempFile, Tracked), StageError> {
    let io_err = |source: std::io::Error| StageError {
        path: path.to_path_buf(),
        source: super::files::explain(source),
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
    let prefix = cleanup::temp_prefix(&file_name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Passed to open(2) as the mode, so the umask applies as for File::create.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    cleanup::create_tracked(|| {
        let tmp = builder.tempfile_in(dir)?;
        let p = tmp.path().to_path_buf();
        Ok((tmp, p))
    })
    .map_err(io_err)
}

/// A file being written under a temporary name beside its destination (buffered); finish it
/// into a [`Staged`] file, or drop it to delete it.
#[derive(Debug)]
pub struct StagedWriter {
    out: std::io::BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
    /// Dropped after `out` (which deletes the file), or handed on to the [`Staged`] file.
    tracked: Tracked,
}

/// Start writing a file for `path` (its folder must exist): see [`stage`].
pub fn stage_writer(path: &Path) -> Result<StagedWriter, StageError> {
    let (tmp, tracked) = temp_beside(path)?;
    Ok(StagedWriter {
        out: std::io::BufWriter::with_capacity(1 << 20, tmp),
        path: path.to_path_buf(),
        tracked,
    })
}

/// Start writing a file that goes to a stream (standard output) rather than to a path: a
/// temporary file in the system's temporary folder, deleted when dropped, whose bytes
/// [`Staged::copy_to`] sends on once everything else is in place. `name` names it in messages.
pub fn spool_writer(name: &Path) -> Result<StagedWriter, StageError> {
    let (tmp, tracked) = cleanup::create_tracked(|| {
        let tmp = tempfile::Builder::new()
            .prefix(".mixdown-spool.")
            .suffix(".tmp")
            .tempfile()?;
        let p = tmp.path().to_path_buf();
        Ok((tmp, p))
    })
    .map_err(|source| StageError {
        path: name.to_path_buf(),
        source,
    })?;
    Ok(StagedWriter {
        out: std::io::BufWriter::with_capacity(1 << 20, tmp),
        path: name.to_path_buf(),
        tracked,
    })
}

impl std::io::Write for StagedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl StagedWriter {
    /// The destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush and sync the file: it is complete, waiting to be renamed into place.
    pub fn finish(self) -> Result<Staged, StageError> {
        let path = self.path;
        let io_err = |source: std::io::Error| StageError {
            path: path.clone(),
            source,
        };
        let tracked = self.tracked;
        let tmp = self.out.into_inner().map_err(|e| io_err(e.into_error()))?;
        tmp.as_file().sync_all().map_err(io_err)?;
        Ok(Staged {
            tmp,
            path,
            _tracked: tracked,
        })
    }
}

impl Staged {
    /// Copy the complete file to `out` (a stream such as standard output) instead of renaming
    /// it into place; the temporary file is deleted afterwards. Returns the bytes copied.
    pub fn copy_to(self, out: &mut dyn std::io::Write) -> std::io::Result<u64> {
        let mut file = self.tmp.reopen()?;
        let n = std::io::copy(&mut file, out)?;
        out.flush()?;
        Ok(n)
    }

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

/// Why a [`Staging`] set could not be committed, and what is on disk afterwards.
#[derive(Debug, thiserror::Error)]
#[error("{source}{}", leftover_text(.leftovers))]
pub struct CommitError {
    /// The rename (or backup) that failed.
    pub source: StageError,
    /// Files of the set that could not be put back as they were (empty when the rollback
    /// succeeded, which is the normal case: then nothing was written).
    pub leftovers: Vec<PathBuf>,
}

fn leftover_text(leftovers: &[PathBuf]) -> String {
    if leftovers.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = leftovers.iter().map(|p| p.display().to_string()).collect();
        format!(
            "; these files could not be restored and hold this render's version: {}",
            list.join(", ")
        )
    }
}

/// Files written together: each is staged (complete and synced under a temporary name beside
/// its destination) as it is added; [`Staging::commit`] then renames them all into place. If
/// any step of the commit fails, the files already renamed are rolled back (a previous version
/// is restored from a hard link, or copy, taken just before; a new file is removed) and the
/// folders the set created are removed again, so the set lands whole or not at all. Dropping
/// an uncommitted set deletes its temporary files and folders.
#[derive(Debug, Default)]
pub struct Staging {
    files: Vec<Staged>,
    /// Folders created for the set, outermost first.
    created_dirs: Vec<(PathBuf, Tracked)>,
    committed: bool,
}

/// A destination as it was before the commit.
enum Before {
    Absent,
    /// Kept under this name beside the destination.
    Kept(PathBuf),
}

impl Staging {
    pub fn new() -> Self {
        Staging::default()
    }

    /// Stage `bytes` for `path`, creating its folder (and remembering what it created).
    pub fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<(), StageError> {
        self.make_dir(path)?;
        self.files.push(stage(path, bytes)?);
        Ok(())
    }

    /// Add a file staged elsewhere (its folder made with [`Staging::make_dir`]).
    pub fn push(&mut self, file: Staged) {
        self.files.push(file);
    }

    /// Create `path`'s folder if it is missing, remembering what was created so a failed (or
    /// interrupted) set removes it again.
    pub fn make_dir(&mut self, path: &Path) -> Result<(), StageError> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let made = cleanup::create_dirs_tracked(dir).map_err(|source| StageError {
                path: dir.to_path_buf(),
                source,
            })?;
            self.created_dirs.extend(made);
        }
        Ok(())
    }

    /// Destinations of the staged files, in the order they were added.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// Rename every staged file into place, all or nothing.
    pub fn commit(mut self) -> Result<(), CommitError> {
        // An interrupted render commits nothing, and a signal waits for a commit to finish.
        let _gate = match cleanup::commit_gate() {
            Ok(g) => g,
            Err(source) => {
                let path = self.paths().next().unwrap_or(Path::new("")).to_path_buf();
                return Err(CommitError {
                    source: StageError { path, source },
                    leftovers: Vec::new(),
                });
            }
        };
        let files = std::mem::take(&mut self.files);
        let mut done: Vec<(PathBuf, Before)> = Vec::new();
        let mut failure = None;
        for f in files {
            let path = f.path.clone();
            let before = match keep_previous(&path) {
                Ok(b) => b,
                Err(source) => {
                    failure = Some(source);
                    break;
                }
            };
            match f.commit() {
                Ok(()) => done.push((path, before)),
                Err(source) => {
                    // This one did not land: what was there is still there; drop its backup.
                    if let Before::Kept(b) = before {
                        let _ = std::fs::remove_file(b);
                    }
                    failure = Some(source);
                    break;
                }
            }
        }
        let Some(source) = failure else {
            for (_, before) in done {
                if let Before::Kept(b) = before {
                    let _ = std::fs::remove_file(b);
                }
            }
            self.committed = true;
            cleanup::mark_committed();
            return Ok(());
        };
        let mut leftovers = Vec::new();
        for (path, before) in done.into_iter().rev() {
            let restored = match before {
                Before::Kept(b) => std::fs::rename(&b, &path).is_ok(),
                Before::Absent => match std::fs::remove_file(&path) {
                    Ok(()) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::NotFound,
                },
            };
            if !restored {
                leftovers.push(path);
            }
        }
        Err(CommitError { source, leftovers })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Temporary files go with their `Staged`; remove the folders made for them.
        self.files.clear();
        if !self.committed {
            for (d, _) in self.created_dirs.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

/// Keep what is at `path` (a regular file) under a temporary name beside it, by hard link
/// where the file system allows (no copy, and `path` never disappears), else by copy.
fn keep_previous(path: &Path) -> Result<Before, StageError> {
    let err = |source: std::io::Error| StageError {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Before::Absent),
        Err(e) => return Err(err(e)),
        Ok(m) if !m.is_file() => {
            return Err(err(std::io::Error::other(
                "something other than a file is in the way",
            )));
        }
        Ok(_) => {}
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    for k in 0..1000u32 {
        let backup = dir.join(cleanup::backup_name(&name, k));
        if backup.exists() {
            continue;
        }
        let kept =
            std::fs::hard_link(path, &backup).or_else(|_| std::fs::copy(path, &backup).map(|_| ()));
        return kept.map(|()| Before::Kept(backup)).map_err(err);
    }
    Err(err(std::io::Error::other("no free name for a backup")))
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

    #[test]
    fn a_set_lands_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.wav");
        std::fs::write(&a, b"old a").expect("write");
        let b = dir.path().join("sub/deeper/b.json");
        let mut set = Staging::new();
        set.add(&a, b"new a").expect("stage a");
        set.add(&b, b"new b").expect("stage b");
        set.commit().expect("commit");
        assert_eq!(std::fs::read(&a).expect("a"), b"new a");
        assert_eq!(std::fs::read(&b).expect("b"), b"new b");
        assert_eq!(dir_entries(dir.path()), ["a.wav", "sub"]);
    }

    /// The second rename fails (a folder is in the way): the first file gets its old content
    /// back, a new file is removed, and the folders the set made are gone.
    #[test]
    fn a_failed_commit_puts_everything_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.wav");
        std::fs::write(&a, b"old a").expect("write");
        let n = dir.path().join("new/n.wav");
        let blocked = dir.path().join("c.json");
        let mut set = Staging::new();
        set.add(&a, b"new a").expect("stage a");
        set.add(&n, b"new n").expect("stage n");
        set.add(&blocked, b"c").expect("stage c");
        // Something puts a folder where the third file goes, after staging.
        std::fs::create_dir(&blocked).expect("mkdir");
        std::fs::write(blocked.join("keep"), b"k").expect("write");
        let err = set.commit().expect_err("must fail");
        assert!(err.leftovers.is_empty(), "{err}");
        assert!(err.to_string().contains("c.json"), "{err}");
        assert_eq!(std::fs::read(&a).expect("a"), b"old a");
        assert!(!n.exists());
        assert_eq!(dir_entries(dir.path()), ["a.wav", "c.json"]);
        assert_eq!(dir_entries(&blocked), ["keep"]);
    }

    #[test]
    fn an_uncommitted_set_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut set = Staging::new();
        set.add(&dir.path().join("x/y/z.wav"), b"z").expect("stage");
        assert_eq!(set.paths().count(), 1);
        drop(set);
        assert!(dir_entries(dir.path()).is_empty());
    }
}
