//! How many files a render keeps open, so that a session of hundreds of stems renders under a
//! low limit on open files (`ulimit -n`, often 256 on macOS and 1024 on Linux).
//!
//! A stem is read through a [`StemFile`]: it keeps its file open while the render's budget
//! allows ([`plan`]), and otherwise opens it for each read at the position it had reached and
//! closes it again (at most one such read per worker thread at a time, and the decoder reads up
//! to 32 KiB at once, so this costs a few system calls per stem and block). The decoder never
//! notices: the position, length and content of the file are the same either way.
//!
//! When the limit is too low even for that, [`plan`] refuses the render before it starts, and
//! [`explain`] turns a "too many open files" that happens all the same into a message that says
//! how many files the render needs and how to allow them.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Files kept free for what opens a file for a moment outside the worker threads: the
/// reference while it is decoded, a backup copied and a folder synced during the commit, the
/// listing of open files. (Impulse responses are decoded by the worker threads, one at a time
/// each, like stems.)
const MARGIN: usize = 4;

/// How many stems may keep their file open (`usize::MAX` until [`plan`] sets it).
static BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);
/// How many stems keep their file open now.
static KEPT: AtomicUsize = AtomicUsize::new(0);
/// The figures of the current render, for [`explain`].
static NEEDS: Mutex<Option<Needs>> = Mutex::new(None);

/// What a render needs open at once, and what the system allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The soft limit on open files (`RLIMIT_NOFILE`), if there is one.
    pub limit: Option<u64>,
    /// Files the process had open below the limit when the render was planned (standard
    /// streams, the destinations' locks...).
    pub open: usize,
    /// Files the render writes (each has a temporary file while it is written).
    pub written: usize,
    /// Anonymous temporary files the master keeps its long signals in (`master::store`).
    pub scratch: usize,
    /// Worker threads (each reads at most one stem file at a time).
    pub jobs: usize,
    /// Stems of the session.
    pub stems: usize,
}

impl Needs {
    /// The fewest open files the render can work with: what is open, a temporary file per
    /// written file, the master's temporary files, one stem per worker thread and the main
    /// thread, and [`MARGIN`].
    pub fn least(&self) -> usize {
        self.open + self.written + self.scratch + self.jobs + 1 + MARGIN
    }

    /// Open files with every stem kept open (the fastest way to render).
    pub fn all(&self) -> usize {
        self.least() + self.stems
    }

    /// How many stems may keep their file open under the limit.
    pub fn budget(&self) -> usize {
        match self.limit {
            Some(l) => usize::try_from(l)
                .unwrap_or(usize::MAX)
                .saturating_sub(self.least()),
            None => usize::MAX,
        }
    }
}

/// The soft limit on open files of this process (`RLIMIT_NOFILE`), `None` when unlimited or
/// unknown.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the limits into the struct we pass and nothing else.
        let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        // rlim_t is u64 on Linux and macOS but signed on some BSDs.
        #[allow(clippy::unnecessary_cast)]
        let cur = rl.rlim_cur as u64;
        (r == 0 && rl.rlim_cur != libc::RLIM_INFINITY).then_some(cur)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Files this process has open now with a descriptor below `limit` (those above it, inherited
/// from a parent with a higher limit, take no place below it). From `/proc/self/fd` or
/// `/dev/fd`; 3, the standard streams, where neither can be listed.
pub fn open_files(limit: Option<u64>) -> usize {
    for dir in ["/proc/self/fd", "/dev/fd"] {
        if let Ok(d) = std::fs::read_dir(dir) {
            let below = d
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
                .filter(|&fd| limit.is_none_or(|l| fd < l))
                .count();
            // The listing itself holds one of them.
            return below.saturating_sub(1);
        }
    }
    3
}

/// The limit on open files is below what a render needs.
#[derive(Debug, thiserror::Error)]
#[error(
    "mixdown needs {} open files at once ({} already open, {} for the files it writes, {} for the master's temporary files, {} for the stems its {} worker threads read, {MARGIN} spare) and the limit is {}; raise it (`ulimit -n {}` also keeps all {} stems open) or lower --jobs",
    needs.least(),
    needs.open,
    needs.written,
    needs.scratch,
    needs.jobs + 1,
    needs.jobs,
    needs.limit.unwrap_or(0),
    needs.all(),
    needs.stems
)]
pub struct TooFewFiles {
    pub needs: Needs,
}

/// Plan a render that writes `written` files, keeps `scratch` temporary files, and reads
/// `stems` stems with `jobs` worker threads (call once the destinations are locked): set how
/// many stems keep their file open, and remember the figures for [`explain`].
///
/// # Errors
/// [`TooFewFiles`] when the limit is below [`Needs::least`].
pub fn plan(
    written: usize,
    scratch: usize,
    jobs: usize,
    stems: usize,
) -> Result<Needs, TooFewFiles> {
    let limit = open_file_limit();
    let needs = Needs {
        limit,
        open: open_files(limit),
        written,
        scratch,
        jobs,
        stems,
    };
    *NEEDS.lock().unwrap_or_else(|e| e.into_inner()) = Some(needs);
    if limit.is_some_and(|l| l < needs.least() as u64) {
        return Err(TooFewFiles { needs });
    }
    BUDGET.store(needs.budget(), Ordering::SeqCst);
    Ok(needs)
}

fn too_many(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// `e`, or, when it is "too many open files", an error of the same kind that says how many
/// files the render needs at once and how to allow them.
pub fn explain(e: std::io::Error) -> std::io::Error {
    if !too_many(&e) {
        return e;
    }
    let needs = *NEEDS.lock().unwrap_or_else(|p| p.into_inner());
    let limit = needs.and_then(|n| n.limit).or_else(open_file_limit);
    let limit = limit.map_or_else(|| "no limit".to_string(), |l| format!("the limit is {l}"));
    let text = match needs {
        Some(n) => format!(
            "{e} ({limit}; mixdown needs at least {} open files at once, {} to keep all {} stems open); raise the limit (ulimit -n {}) or lower --jobs",
            n.least(),
            n.all(),
            n.stems,
            n.all()
        ),
        None => format!("{e} ({limit}); raise the limit (ulimit -n)"),
    };
    std::io::Error::new(e.kind(), text)
}

/// A stem's file, open only while the budget allows (see the module documentation).
#[derive(Debug)]
pub struct StemFile {
    path: PathBuf,
    /// Open and counted in [`KEPT`], or closed.
    file: Option<File>,
    pos: u64,
    len: u64,
}

impl StemFile {
    /// Open `path` (so a missing or unreadable file fails here) and keep it open if the budget
    /// allows.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path).map_err(explain)?;
        let len = file.metadata()?.len();
        let mut s = StemFile {
            path: path.to_path_buf(),
            file: None,
            pos: 0,
            len,
        };
        if take_slot() {
            s.file = Some(file);
        }
        Ok(s)
    }

    /// The file's length in bytes when it was opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the file is held open now.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    fn reopen(&self) -> std::io::Result<File> {
        let mut f = File::open(&self.path).map_err(explain)?;
        f.seek(SeekFrom::Start(self.pos))?;
        Ok(f)
    }
}

/// Take a place among the stems kept open, if one is free.
fn take_slot() -> bool {
    KEPT.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| {
        (k < BUDGET.load(Ordering::SeqCst)).then_some(k + 1)
    })
    .is_ok()
}

impl Read for StemFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.file.is_none() && take_slot() {
            match self.reopen() {
                Ok(f) => self.file = Some(f),
                Err(e) => {
                    KEPT.fetch_sub(1, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
        let n = match &mut self.file {
            Some(f) => f.read(buf)?,
            // Open for this read only.
            None => self.reopen()?.read(buf)?,
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for StemFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        if let Some(f) = &mut self.file {
            self.pos = f.seek(to)?;
            return Ok(self.pos);
        }
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "invalid seek to a negative or overflowing position",
            )
        })?;
        Ok(self.pos)
    }
}

impl symphonia::core::io::MediaSource for StemFile {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

impl Drop for StemFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            KEPT.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file read through a closed `StemFile` (reopened for every read, with seeks between)
    /// gives the same bytes as the file itself.
    #[test]
    fn a_closed_stem_file_reads_like_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x.bin");
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&p, &bytes).expect("write");
        let mut s = StemFile::open(&p).expect("open");
        // Close it by hand, as if the budget were spent.
        if s.file.take().is_some() {
            KEPT.fetch_sub(1, Ordering::SeqCst);
        }
        let budget = BUDGET.swap(0, Ordering::SeqCst);
        let mut got = vec![0u8; 300];
        s.read_exact(&mut got).expect("read");
        assert_eq!(got, bytes[..300]);
        assert_eq!(s.seek(SeekFrom::Current(100)).expect("seek"), 400);
        s.read_exact(&mut got).expect("read");
        assert_eq!(got, bytes[400..700]);
        assert_eq!(s.seek(SeekFrom::End(-50)).expect("seek"), 9950);
        let mut tail = Vec::new();
        s.read_to_end(&mut tail).expect("read");
        assert_eq!(tail, bytes[9950..]);
        assert!(s.seek(SeekFrom::Current(-20_000)).is_err());
        assert!(!s.is_open());
        BUDGET.store(budget, Ordering::SeqCst);
    }

    #[test]
    fn the_budget_leaves_room_for_everything_else() {
        let n = Needs {
            limit: Some(64),
            open: 5,
            written: 2,
            scratch: 4,
            jobs: 2,
            stems: 200,
        };
        assert_eq!(n.least(), 5 + 2 + 4 + 3 + MARGIN);
        assert_eq!(n.budget(), 64 - n.least());
        assert_eq!(n.all(), n.least() + 200);
        let tight = Needs {
            limit: Some(10),
            ..n
        };
        assert_eq!(tight.budget(), 0);
        assert_eq!(
            Needs { limit: None, ..n }.budget(),
            usize::MAX,
            "no limit, no budget"
        );
    }
}
