//! What the commands share on the terminal: progress bars and the mastering step (only when
//! stderr is a terminal), plurals and levels as text.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::master::Step;
use crate::master::target::MIN_SECONDS;
pub use crate::report::shown;

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A progress bar on stderr, hidden when quiet or when stderr is not a terminal.
pub fn progress_bar(quiet: bool, msg: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    styled(
        ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr()),
        msg,
    )
}

/// A progress bar drawn by `multi` (one of several at once; `multi` decides whether anything
/// is drawn).
pub fn bar_in(multi: &MultiProgress, msg: &str) -> ProgressBar {
    multi.add(styled(ProgressBar::hidden(), msg))
}

fn styled(pb: ProgressBar, msg: &str) -> ProgressBar {
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {percent:>3}% {elapsed}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_length(1);
    pb.set_message(msg.to_string());
    pb
}

/// A line on stderr naming the step mastering is at, with a spinner and the time spent,
/// hidden when quiet or when stderr is not a terminal. Set its message with [`step_text`].
pub fn stage_line(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        pb.set_style(style);
    }
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// What a mastering step is called on the terminal.
pub fn step_text(step: Step) -> String {
    match step {
        Step::Matching => "mastering: matching the reference".into(),
        Step::Resampling(rate) => format!("mastering: resampling to {rate} Hz"),
        Step::Measuring(rate) => format!("mastering: measuring at {rate} Hz"),
        Step::Planning(pass) => format!("mastering: planning pass {pass}"),
        Step::Writing(n) => format!("mastering: writing {n} output{}", plural(n)),
    }
}

/// A level with its unit and one decimal, `-inf` for silence.
pub fn fmt_db(x: Option<f64>, unit: &str) -> String {
    match x {
        Some(v) => format!("{v:.1} {unit}"),
        None => format!("-inf {unit}"),
    }
}

/// An integrated loudness of a signal `seconds` long, in LUFS with one decimal. Without one it
/// is `-inf` (silence) when the signal is at least one 400 ms gating block long (BS.1770-4
/// section 5.1); a shorter signal has no integrated loudness, which is not silence.
pub fn fmt_lufs(x: Option<f64>, seconds: f64) -> String {
    match x {
        None if seconds < MIN_SECONDS => {
            format!("no integrated loudness (shorter than {MIN_SECONDS} s)")
        }
        _ => fmt_db(x, "LUFS"),
    }
}
