//! Renders that do not end well: interrupted (SIGINT, SIGTERM), killed (SIGKILL), run twice at
//! once on the same files, asked for absurd thread counts, or short of open files. Each runs the
//! binary as a black box and checks what is left on disk.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A song long enough (20 s, two stems, a target) that a render takes a second or more, so a
/// signal or a second render can arrive while it runs. `gain_db` sets the first track's fader.
fn long_song(sb: &Sandbox, file: &str, gain_db: f64) {
    if !sb.path("stems/a.wav").exists() {
        let frames = 20 * 44100;
        sb.stem_i16("stems/a.wav", 44100, 2, frames, |c, n| {
            0.2 * (n as f32 * if c == 0 { 0.031 } else { 0.029 }).sin()
        });
        sb.stem_i16("stems/b.wav", 44100, 1, frames, |_, n| {
            0.15 * (n as f32 * 0.0113).sin() * (n as f32 * 0.00007).cos()
        });
    }
    sb.write(
        file,
        &format!(
            r#"[session]
name = "Long"

[[track]]
name = "a"
file = "stems/a.wav"
gain_db = {gain_db:.1}

[[track]]
name = "b"
file = "stems/b.wav"
pan = 0.4

[master]
target = {{ lufs = -16.0 }}

[[output]]
path = "out/song.wav"
"#
        ),
    );
}

/// Start `mixdown ARGS` in the sandbox without waiting for it, with its temporary folder
/// (`TMPDIR`, where the master keeps its long signals) at `tmp/` in the sandbox, so that
/// whatever it leaves there shows in [`snapshot`].
fn spawn(sb: &Sandbox, args: &[&str]) -> Child {
    std::fs::create_dir_all(sb.path("tmp")).expect("tmp folder");
    Command::new(env!("CARGO_BIN_EXE_mixdown"))
        .current_dir(sb.dir.path())
        .env("TMPDIR", sb.path("tmp"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mixdown")
}

fn send(child: &Child, signal: i32) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill");
}

/// Poll `cond` every millisecond until it holds (true) or `child` has exited or 30 s have
/// passed (false).
fn wait_until(child: &mut Child, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if cond() {
            return true;
        }
        if child.try_wait().expect("try_wait").is_some() {
            return cond();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// Hidden files beside `dest` that a render stages for it (`.NAME.*.tmp`, whatever their
/// naming scheme).
fn staged_beside(dest: &Path) -> Vec<PathBuf> {
    let name = dest.file_name().unwrap().to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(dest.parent().unwrap()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let f = p.file_name().unwrap().to_string_lossy();
            f.starts_with(&format!(".{name}.")) && f.ends_with(".tmp")
        })
        .collect()
}

/// Every file under the sandbox with its bytes.
fn snapshot(sb: &Sandbox) -> Vec<(String, Vec<u8>)> {
    sb.files()
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(sb.path(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

/// SHA-256 of the `data` chunk of a WAV file (what the report's `sha256` covers).
fn data_sha(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if &bytes[at..at + 4] == b"data" {
            return mixdown::io::wav::sha256_hex(&bytes[at + 8..at + 8 + size]);
        }
        at += 8 + size + size % 2;
    }
    panic!("{}: no data chunk", path.display());
}

/// Run `mixdown ARGS` in the sandbox with the resource limits `limits` (`RLIMIT_*`, soft and
/// hard value) set in the child before it starts, as `ulimit` would.
fn run_limited(sb: &Sandbox, limits: &[(Resource, u64)], args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt as _;
    let limits = limits.to_vec();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mixdown"));
    cmd.current_dir(sb.dir.path()).args(args);
    // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
    unsafe {
        cmd.pre_exec(move || {
            for &(resource, value) in &limits {
                let rl = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                if libc::setrlimit(resource, &rl) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.output().expect("start mixdown")
}

/// A resource of setrlimit(2), as the libc of this platform types it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

fn text(o: &Output) -> String {
    stderr(o)
}

/// SIGINT while the output is staged (written to its temporary file, not yet renamed): the
/// render removes its temporary and lock files and the folders it made, leaves nothing in its
/// temporary folder (the master's long signals), says so, exits 130, and the previous
/// render's files are untouched.
#[test]
fn sigint_while_the_outputs_are_staged_removes_them_and_exits_130() {
    let sb = Sandbox::new();
    long_song(&sb, "song.toml", -3.0);
    sb.write("out/song.wav", "previous render");
    sb.write("out/song.report.json", "previous report");
    std::fs::create_dir_all(sb.path("tmp")).unwrap();
    let before = snapshot(&sb);
    let dest = sb.path("out/song.wav");
    // With plots the render stages the output, then draws the plots, then commits.
    let mut child = spawn(&sb, &["render", "song.toml", "--plot", "plots"]);
    assert!(
        wait_until(&mut child, || !staged_beside(&dest).is_empty()),
        "the render never staged its output"
    );
    send(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let err = text(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("mixdown: interrupted by SIGINT"), "{err}");
    assert!(
        err.contains("no output was written and no existing file was changed"),
        "{err}"
    );
    assert!(snapshot(&sb) == before, "{:?}", sb.files());
    assert!(!sb.path("plots").exists(), "the plot folder it made");
}

/// SIGTERM while the mix renders: exit 143, nothing written, nothing changed, nothing left in
/// the temporary folder.
#[test]
fn sigterm_while_rendering_exits_143_and_changes_nothing() {
    let sb = Sandbox::new();
    long_song(&sb, "song.toml", -3.0);
    sb.write("out/song.wav", "previous render");
    std::fs::create_dir_all(sb.path("tmp")).unwrap();
    let before = snapshot(&sb);
    let mut child = spawn(&sb, &["render", "song.toml"]);
    // Once the render holds its locks (or, without locks, a moment after it starts) it is
    // rendering for a second or more.
    let started = Instant::now();
    let lock = sb.path("out/.song.wav.mixdown-lock");
    wait_until(&mut child, || {
        lock.exists() || started.elapsed() > Duration::from_millis(300)
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the render ended first"
    );
    send(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let err = text(&out);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("mixdown: interrupted by SIGTERM"), "{err}");
    assert!(snapshot(&sb) == before, "{:?}", sb.files());
}

/// SIGKILL cannot be handled: the killed render leaves its temporary file. The next render
/// of the same destination recognises it (mixdown's name, a process that is gone), removes it
/// and says so; a file of a render that is still running is left alone.
#[test]
fn the_next_render_removes_what_a_killed_render_left() {
    let sb = Sandbox::new();
    long_song(&sb, "song.toml", -3.0);
    let dest = sb.path("out/song.wav");
    let mut child = spawn(&sb, &["render", "song.toml", "--plot", "plots"]);
    assert!(
        wait_until(&mut child, || !staged_beside(&dest).is_empty()),
        "the render never staged its output"
    );
    send(&child, libc::SIGKILL);
    child.wait().unwrap();
    let left = staged_beside(&dest);
    assert!(!left.is_empty(), "SIGKILL leaves the temporary file");
    // A temporary file of a render that is running (this test's process stands in for it).
    let alive = sb.path(&format!(
        "out/.song.wav.mixdown-{}.Ab12Cd.tmp",
        std::process::id()
    ));
    std::fs::write(&alive, "another render's").unwrap();

    let out = sb.run(&["render", "song.toml"]);
    let err = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("left by an interrupted render"),
        "the removal is reported: {err}"
    );
    for f in &left {
        assert!(!f.exists(), "{} is still there", f.display());
    }
    assert!(alive.exists(), "a live render's file was removed");
    std::fs::remove_file(&alive).unwrap();
    // What is left is the render's own files, and the output is the report's.
    assert_eq!(
        sb.files().iter().filter(|f| f.starts_with("out/")).count(),
        2
    );
    let r = report(&sb.path("out/song.report.json"));
    assert_eq!(r["outputs"][0]["sha256"].as_str().unwrap(), data_sha(&dest));
}

/// Two renders to the same files at once: the second fails at once (exit 1) naming the first,
/// the first finishes, and its output and report belong together.
#[test]
fn a_second_render_of_the_same_files_fails_while_the_first_runs() {
    let sb = Sandbox::new();
    long_song(&sb, "first.toml", -3.0);
    long_song(&sb, "second.toml", -9.0);
    let mut first = spawn(&sb, &["render", "first.toml"]);
    let started = Instant::now();
    let lock = sb.path("out/.song.wav.mixdown-lock");
    wait_until(&mut first, || {
        lock.exists() || started.elapsed() > Duration::from_millis(300)
    });
    let second = sb.run(&["render", "second.toml"]);
    let err = text(&second);
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first render ended before the second was refused"
    );
    assert_eq!(second.status.code(), Some(1), "{err}");
    let want = format!(
        "out/song.wav is being written by another mixdown render (process {})",
        first.id()
    );
    assert!(err.contains(&want), "expected {want:?} in {err}");
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&sb.path("out/song.report.json"));
    assert_eq!(
        r["outputs"][0]["sha256"].as_str().unwrap(),
        data_sha(&sb.path("out/song.wav"))
    );
    assert_eq!(
        r["session"]["file"]
            .as_str()
            .map(|f| f.ends_with("first.toml")),
        Some(true),
        "{}",
        r["session"]
    );
    assert_eq!(
        sb.files().iter().filter(|f| f.starts_with("out/")).count(),
        2,
        "{:?}",
        sb.files()
    );
}

/// `--jobs` far beyond the cores is cut to 4 threads per core with a warning, and gives the
/// same bytes as one thread. (Address space and CPU time are capped so that a regression,
/// which starts thousands of threads and runs away, fails instead of hanging.)
#[test]
fn absurd_thread_counts_are_cut_with_a_warning() {
    let sb = Sandbox::new();
    sb.stem_i16("a.wav", 44100, 2, 22050, |c, n| {
        0.1 * (n as f32 * if c == 0 { 0.05 } else { 0.07 }).sin()
    });
    sb.write(
        "s.toml",
        "[[track]]\nname = \"a\"\nfile = \"a.wav\"\n[[output]]\npath = \"out/s.wav\"\n",
    );
    let out = sb.run(&["render", "s.toml", "-j", "1", "-o", "one.wav", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let cores = std::thread::available_parallelism().unwrap().get();
    let out = run_limited(
        &sb,
        &[(libc::RLIMIT_AS, 4 << 30), (libc::RLIMIT_CPU, 30)],
        &["render", "s.toml", "--jobs", "100000"],
    );
    let err = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "warning: --jobs 100000 is more than 4 threads per core ({cores} core"
        )) && err.contains(&format!("using {}", 4 * cores)),
        "{err}"
    );
    let r = report(&sb.path("out/s.report.json"));
    assert_eq!(r["render"]["jobs"].as_u64(), Some(4 * cores as u64));
    assert_eq!(
        data_sha(&sb.path("out/s.wav")),
        data_sha(&sb.path("one.wav"))
    );
}

/// 200 stems under a limit of 64 open files: stems beyond what the limit allows are opened for
/// each read and closed again, and the output is the same bytes as with every stem open. Under
/// a limit too low for any render, the message says how many files it needs.
#[test]
fn two_hundred_stems_render_under_a_low_open_file_limit() {
    let sb = Sandbox::new();
    let mut session = String::from("[session]\nname = \"Many\"\n");
    for i in 0..200 {
        // 0.2 s each, starting together; small enough that 200 of them do not clip.
        let f = 0.01 + 0.0003 * i as f32;
        sb.stem_i16(&format!("stems/{i}.wav"), 44100, 1, 8820, move |_, n| {
            0.003 * (n as f32 * f).sin()
        });
        session.push_str(&format!(
            "[[track]]\nname = \"t{i}\"\nfile = \"stems/{i}.wav\"\n"
        ));
    }
    session.push_str("[[output]]\npath = \"out/many.wav\"\n");
    sb.write("many.toml", &session);

    let out = sb.run(&["render", "many.toml", "-o", "all-open.wav", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run_limited(
        &sb,
        &[(libc::RLIMIT_NOFILE, 64)],
        &["render", "many.toml", "-q"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        data_sha(&sb.path("out/many.wav")),
        data_sha(&sb.path("all-open.wav"))
    );

    let before = snapshot(&sb);
    let out = run_limited(
        &sb,
        &[(libc::RLIMIT_NOFILE, 12)],
        &["render", "many.toml", "-j", "2", "-o", "low.wav"],
    );
    let err = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let needs: u32 = err
        .split("mixdown needs ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number of files needed in {err}"));
    assert!(needs > 12, "{err}");
    assert!(
        err.contains("the limit is 12; raise it (`ulimit -n"),
        "{err}"
    );
    assert!(snapshot(&sb) == before, "{:?}", sb.files());
}

/// Silence before the stem in [`a_long_mostly_silent_session_renders_in_little_memory`]: ten
/// minutes at 8 kHz, long enough that holding the song in memory shows (38 MB per stereo float
/// copy, and the master before it streamed from disk peaked at about 330 MiB), short enough to
/// render in a few seconds.
const SILENCE_S: u32 = 600;
/// The address space the render may use (RLIMIT_AS, set in the child): room for the threads'
/// stacks and the allocator's arenas, not for many copies of a long song.
const ADDRESS_SPACE: u64 = 1 << 30;
/// The peak resident memory allowed. A render whose memory does not grow with the song's
/// length peaks near 23 MiB whatever the length (22 to 24 MiB measured at 5, 15 and 30 minutes).
const MAX_RSS: u64 = 64 << 20;

/// A 1 s stem ten minutes into the song: the mix is silence until then (no storage for it) and
/// the master keeps its long signals on disk, so the render completes under the address-space
/// limit and peaks under [`MAX_RSS`] resident, where holding the song in memory would not.
#[test]
fn a_long_mostly_silent_session_renders_in_little_memory() {
    use std::os::unix::process::CommandExt as _;
    let sb = Sandbox::new();
    sb.stem_i16("one.wav", 8000, 1, 8000, |_, n| {
        0.3 * (n as f32 * 0.05).sin()
    });
    sb.write(
        "long.toml",
        &format!(
            "[session]\nname = \"Long\"\nsample_rate = 8000\n\n[[track]]\nname = \"late\"\nfile = \"one.wav\"\noffset_s = {SILENCE_S}.0\n\n[[output]]\npath = \"out/long.wav\"\nsample_rate = 8000\nbit_depth = 16\n"
        ),
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mixdown"));
    cmd.current_dir(sb.dir.path())
        .args(["render", "long.toml", "-q", "-j", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            let rl = libc::rlimit {
                rlim_cur: ADDRESS_SPACE as libc::rlim_t,
                rlim_max: ADDRESS_SPACE as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Reaped by wait4 below, which Child does not know about.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().expect("start mixdown");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    // wait4 rather than Child::wait: it gives this child's own peak resident memory.
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing only `status` and `usage`.
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}: {err}"
    );
    // ru_maxrss is in KiB on Linux, in bytes on macOS.
    let peak = if cfg!(target_os = "macos") {
        usage.ru_maxrss as u64
    } else {
        usage.ru_maxrss as u64 * 1024
    };
    assert!(
        peak < MAX_RSS,
        "peak resident memory {} MiB, more than {} MiB",
        peak >> 20,
        MAX_RSS >> 20
    );
    let r = report(&sb.path("out/long.report.json"));
    let frames = u64::from(SILENCE_S + 1) * 8000;
    let bytes = std::fs::metadata(sb.path("out/long.wav")).unwrap().len();
    assert!(bytes >= frames * 4, "{bytes} bytes for {frames} frames");
    assert!(r["outputs"][0]["sha256"].is_string(), "{r}");
}
