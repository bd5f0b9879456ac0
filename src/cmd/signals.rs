//! SIGINT (Ctrl-C) and SIGTERM: the command stops at once, removes what it had staged (see
//! `io::cleanup`), says so, and exits with 128 + the signal's number (130, 143), as shells do.
//!
//! Both signals are blocked in every thread (the mask is set before any thread starts, and
//! threads inherit it) and taken by one thread waiting in `sigwait(3)`, so no code runs in a
//! signal handler: the waiting thread is an ordinary thread that may lock, remove files and
//! print. It does not wait for the render to notice: the work runs in rayon threads that may be
//! deep in a long loop, and nothing they do needs to finish once the temporary files are gone.
//! A commit in progress is the exception: the clean-up waits for it, so the outputs are either
//! all in place or all as they were.

use crate::io::cleanup::{self, Interruption};

/// Exit status of a process ended by `signal`: 128 + its number.
pub fn exit_status(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

fn name(signal: i32) -> String {
    #[cfg(unix)]
    match signal {
        libc::SIGINT => return "SIGINT".into(),
        libc::SIGTERM => return "SIGTERM".into(),
        _ => {}
    }
    format!("signal {signal}")
}

/// What to say once the clean-up is done.
fn message(signal: i32, what: &Interruption) -> String {
    let sig = name(signal);
    if what.committed {
        return format!(
            "mixdown: interrupted by {sig} after the render's files were in place; they are complete"
        );
    }
    let n = what.removed.len();
    if n == 0 {
        format!(
            "mixdown: interrupted by {sig}; no output was written and no existing file was changed"
        )
    } else {
        format!(
            "mixdown: interrupted by {sig}; removed its {n} temporary file{}; no output was written and no existing file was changed",
            if n == 1 { "" } else { "s" },
        )
    }
}

/// Take SIGINT and SIGTERM from now on. Call before any other thread starts (threads started
/// earlier would still get the signals' default action). Does nothing where it cannot be done.
pub fn install() {
    #[cfg(unix)]
    {
        // SAFETY: sigset_t is plain data that sigemptyset initialises; pthread_sigmask only
        // changes this thread's mask (inherited by the threads it starts).
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return;
            }
            set
        };
        let started = std::thread::Builder::new()
            .name("mixdown-signals".into())
            .spawn(move || {
                loop {
                    let mut sig: libc::c_int = 0;
                    // SAFETY: `set` is initialised and outlives the call; sigwait writes `sig`.
                    if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                        stop(sig);
                    }
                }
            });
        if started.is_err() {
            // Nobody would take the signals: give them back their default action.
            // SAFETY: as above.
            unsafe {
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            }
        }
    }
}

/// Clean up after `signal`, say so, and end the process.
fn stop(signal: i32) -> ! {
    let what = cleanup::interrupt(signal);
    eprintln!("{}", message(signal, &what));
    // _exit: no atexit handlers or destructors, which could race the threads still running.
    #[cfg(unix)]
    // SAFETY: _exit ends the process; it is safe to call from any thread.
    unsafe {
        libc::_exit(i32::from(exit_status(signal)))
    }
    #[cfg(not(unix))]
    std::process::exit(i32::from(exit_status(signal)))
}

/// When a signal has interrupted the command, park this thread: the signal thread is cleaning
/// up and will end the process with the right status and message (the error this thread got
/// is a consequence of the clean-up, not worth reporting).
pub fn wait_if_interrupted() {
    if cleanup::interrupted().is_some() {
        loop {
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_happened() {
        assert_eq!(exit_status(2), 130);
        assert_eq!(exit_status(15), 143);
        let removed = Interruption {
            removed: vec!["a".into(), "b".into()],
            committed: false,
        };
        let m = message(2, &removed);
        assert!(
            m.contains("interrupted by SIGINT; removed its 2 temporary files"),
            "{m}"
        );
        assert!(m.contains("no output was written"), "{m}");
        let done = Interruption {
            removed: Vec::new(),
            committed: true,
        };
        assert!(message(15, &done).contains("SIGTERM after the render's files were in place"));
    }
}
