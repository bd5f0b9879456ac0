//! What a render has on disk that is not (yet) one of its outputs, so that nothing of it stays
//! behind when the render is interrupted or killed.
//!
//! * While it runs, every such file (a staged temporary file, a destination's lock file) and
//!   every folder made for them is *tracked* here; [`interrupt`] (called when SIGINT or SIGTERM
//!   arrives) removes them all. Tracking and creating happen under one lock, and nothing new is
//!   created once a render is interrupted, so no file can slip past the clean-up.
//! * Committing a set of files (renaming them into place) runs under a gate ([`commit_gate`])
//!   that [`interrupt`] also takes: a signal never lands in the middle of a commit, so a set of
//!   outputs is either all in place or all as it was.
//! * A render that is killed outright (SIGKILL, a power cut) cannot clean up. Its files carry
//!   `mixdown` and its process id in their names ([`temp_prefix`], [`backup_name`]), so the next
//!   render of the same destination recognises them ([`leftover_pid`]) and removes those whose
//!   process is gone.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Files and folders on disk that belong to the running render and are not outputs yet, in the
/// order they were made.
static TRACKED: Mutex<Vec<(u64, Entry)>> = Mutex::new(Vec::new());
/// Serial number of the last tracked entry.
static LAST_ID: AtomicU64 = AtomicU64::new(0);
/// Held while a tracked file or folder is created, and by [`interrupt`] (apart from
/// [`TRACKED`], so that dropping a [`Tracked`] while creating cannot deadlock).
static CREATING: Mutex<()> = Mutex::new(());
/// Held while a set of files is renamed into place.
static COMMIT: Mutex<()> = Mutex::new(());
/// The signal that interrupted the render, 0 while none has.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);
/// Whether a set of files has been committed (the render's outputs are in place).
static COMMITTED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone)]
enum Entry {
    File(PathBuf),
    Dir(PathBuf),
}

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    // A panic elsewhere must not stop the clean-up: the data is a plain list.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The signal that interrupted this process (for example `libc::SIGINT`), if one has.
pub fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

fn interrupted_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        "the render was interrupted",
    )
}

/// A file or folder that [`interrupt`] will remove; dropping the `Tracked` forgets it (the
/// owner has removed the file, or renamed it into place).
#[derive(Debug)]
#[must_use = "the path is forgotten when this is dropped"]
pub struct Tracked(u64);

impl Drop for Tracked {
    fn drop(&mut self) {
        lock(&TRACKED).retain(|(id, _)| *id != self.0);
    }
}

fn track(entry: Entry) -> Tracked {
    let id = LAST_ID.fetch_add(1, Ordering::SeqCst) + 1;
    lock(&TRACKED).push((id, entry));
    Tracked(id)
}

/// Create a file with `create` (which returns what it made and the path of the new file) and
/// track the path, both under the tracking lock so that [`interrupt`] sees either nothing or
/// the file. Refuses (`ErrorKind::Interrupted`) once the render has been interrupted.
pub fn create_tracked<T>(
    create: impl FnOnce() -> std::io::Result<(T, PathBuf)>,
) -> std::io::Result<(T, Tracked)> {
    let _g = lock(&CREATING);
    if interrupted().is_some() {
        return Err(interrupted_error());
    }
    let (made, path) = create()?;
    Ok((made, track(Entry::File(path))))
}

/// Create `dir` and any missing parents, tracking each folder this call made (outermost
/// first) so that [`interrupt`] removes them again (only while they are empty).
pub fn create_dirs_tracked(dir: &Path) -> std::io::Result<Vec<(PathBuf, Tracked)>> {
    let _g = lock(&CREATING);
    if interrupted().is_some() {
        return Err(interrupted_error());
    }
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(x) = d.filter(|x| !x.as_os_str().is_empty() && !x.exists()) {
        missing.push(x.to_path_buf());
        d = x.parent();
    }
    let mut made = Vec::new();
    for x in missing.into_iter().rev() {
        match std::fs::create_dir(&x) {
            Ok(()) => {
                let t = track(Entry::Dir(x.clone()));
                made.push((x, t));
            }
            // Made by someone else in the meantime: not ours to remove.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && x.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(made)
}

/// Hold this while renaming a set of files into place. Refuses (`ErrorKind::Interrupted`)
/// once the render has been interrupted, so an interrupted render never starts a commit.
pub fn commit_gate() -> std::io::Result<MutexGuard<'static, ()>> {
    let g = lock(&COMMIT);
    if interrupted().is_some() {
        return Err(interrupted_error());
    }
    Ok(g)
}

/// Note that a set of files has been committed (call before releasing the gate).
pub fn mark_committed() {
    COMMITTED.store(true, Ordering::SeqCst);
}

/// What [`interrupt`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    /// Files and folders it removed.
    pub removed: Vec<PathBuf>,
    /// Whether the render had already put its files in place before the signal.
    pub committed: bool,
}

/// The render is interrupted by `signal`: from now on nothing new is staged or committed; wait
/// for a commit in progress to finish, then remove every tracked file, and every tracked folder
/// that is empty. The caller exits right after (the gate stays closed).
pub fn interrupt(signal: i32) -> Interruption {
    INTERRUPTED.store(signal, Ordering::SeqCst);
    let gate = lock(&COMMIT);
    let creating = lock(&CREATING);
    let entries: Vec<Entry> = lock(&TRACKED).iter().map(|(_, e)| e.clone()).collect();
    let mut removed = Vec::new();
    for e in &entries {
        if let Entry::File(p) = e
            && std::fs::remove_file(p).is_ok()
        {
            removed.push(p.clone());
        }
    }
    for e in entries.iter().rev() {
        if let Entry::Dir(p) = e
            && std::fs::remove_dir(p).is_ok()
        {
            removed.push(p.clone());
        }
    }
    // The process is about to exit: keep both locks so nothing else is created or committed.
    std::mem::forget(creating);
    std::mem::forget(gate);
    Interruption {
        removed,
        committed: COMMITTED.load(Ordering::SeqCst),
    }
}

/// Start of the name of a temporary file staged for the destination named `file_name`:
/// `.NAME.mixdown-PID.` (a random part and `.tmp` follow).
pub fn temp_prefix(file_name: &str) -> String {
    format!(".{file_name}.mixdown-{}.", std::process::id())
}

/// Name of the `k`th backup of the destination named `file_name`, kept while a set of files is
/// committed: `.NAME.PID-K.mixdown-old`.
pub fn backup_name(file_name: &str, k: u32) -> String {
    format!(".{file_name}.{}-{k}.mixdown-old", std::process::id())
}

/// If `entry` (a name in the destination's folder) is a temporary file or a backup that a
/// mixdown render made for the destination named `file_name`, the id of that render's process.
pub fn leftover_pid(file_name: &str, entry: &str) -> Option<u32> {
    let rest = entry.strip_prefix('.')?.strip_prefix(file_name)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // `.NAME.mixdown-PID.RANDOM.tmp`
    if let Some(t) = rest
        .strip_prefix(".mixdown-")
        .and_then(|t| t.strip_suffix(".tmp"))
        && let Some((pid, random)) = t.split_once('.')
        && digits(pid)
        && !random.is_empty()
        && !random.contains('.')
    {
        return pid.parse().ok();
    }
    // `.NAME.PID-K.mixdown-old`
    if let Some(t) = rest
        .strip_prefix('.')
        .and_then(|t| t.strip_suffix(".mixdown-old"))
        && let Some((pid, k)) = t.split_once('-')
        && digits(pid)
        && digits(k)
    {
        return pid.parse().ok();
    }
    None
}

/// Whether the process `pid` is running (on this machine). Where this cannot be known, it is
/// taken to be running, so its files are left alone.
pub fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(p) = libc::pid_t::try_from(pid) else {
            return true;
        };
        // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
        let r = unsafe { libc::kill(p, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Remove what renders that no longer run left beside `dest` (temporary files and backups
/// named by [`temp_prefix`] and [`backup_name`] with the id of a process that is gone).
/// Returns the removed paths. Call while holding the destination's lock.
pub fn remove_leftovers(dest: &Path) -> Vec<PathBuf> {
    let Some(name) = dest.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let entry = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = leftover_pid(&name, &entry) else {
            continue;
        };
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        if is_file && !process_alive(pid) && std::fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed.sort();
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_names_are_recognised_for_their_destination_only() {
        let me = std::process::id();
        let tmp = format!("{}abc123.tmp", temp_prefix("song.wav"));
        assert_eq!(leftover_pid("song.wav", &tmp), Some(me));
        assert_eq!(
            leftover_pid("song.wav", &backup_name("song.wav", 3)),
            Some(me)
        );
        assert_eq!(
            leftover_pid("song.wav", ".song.wav.mixdown-77.Xy9.tmp"),
            Some(77)
        );
        assert_eq!(
            leftover_pid("song.wav", ".song.wav.4242-0.mixdown-old"),
            Some(4242)
        );
        for other in [
            "song.wav",
            ".song.wav.abc123.tmp",           // someone else's temporary file
            ".song.wav.mixdown-lock",         // a lock, not a leftover
            ".song.wav.mixdown-x1.abc.tmp",   // no process id
            ".song.wav.mixdown-12..tmp",      // no random part
            ".other.wav.mixdown-12.abc.tmp",  // another destination
            ".song.wav.x.mixdown-12.abc.tmp", // the destination song.wav.x
            ".song.wav.12-.mixdown-old",      // no backup number
        ] {
            assert_eq!(leftover_pid("song.wav", other), None, "{other}");
        }
    }

    #[test]
    fn only_leftovers_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("a.wav");
        // A pid that cannot be running: above the kernel's pid_max (at most 2^22 on Linux).
        let dead = 1 << 30;
        let names = [
            format!(".a.wav.mixdown-{dead}.q1w2e3.tmp"),
            format!(".a.wav.{dead}-0.mixdown-old"),
            format!("{}r4t5y6.tmp", temp_prefix("a.wav")), // ours: alive
            format!(".b.wav.mixdown-{dead}.q1w2e3.tmp"),   // another destination
        ];
        for n in &names {
            std::fs::write(dir.path().join(n), b"x").expect("write");
        }
        let removed = remove_leftovers(&dest);
        let mut want = vec![dir.path().join(&names[0]), dir.path().join(&names[1])];
        want.sort();
        assert_eq!(removed, want);
        assert!(dir.path().join(&names[2]).exists());
        assert!(dir.path().join(&names[3]).exists());
    }
}
