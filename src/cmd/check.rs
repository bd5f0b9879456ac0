//! `mixdown check`: validate a session and decode every stem in full, without rendering.

use crate::cli::CheckArgs;
use crate::error::{AppError, exit};
use crate::session::{self, LoadOptions};

use super::ui::{plural, progress_bar};

pub fn run(args: &CheckArgs) -> Result<u8, AppError> {
    let pb = progress_bar(args.quiet, "decoding");
    let opts = LoadOptions {
        full_scan: true,
        output_override: None,
        report_override: None,
        plot_dir: None,
        progress: Some(pb.clone()),
    };
    let loaded = session::load(&args.session, &opts);
    pb.finish_and_clear();
    let s = loaded?;
    for w in crate::report::gates::session_warnings(&s) {
        eprintln!("warning: {w}");
    }
    if !args.quiet {
        eprintln!(
            "{}: ok: \"{}\", {} track{}, {} bus{}, {} output{}, {} Hz",
            args.session.display(),
            s.name,
            s.tracks.len(),
            plural(s.tracks.len()),
            s.buses.len(),
            if s.buses.len() == 1 { "" } else { "es" },
            s.outputs.len(),
            plural(s.outputs.len()),
            s.sample_rate
        );
    }
    Ok(exit::OK)
}
