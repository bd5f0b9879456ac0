//! `mixdown check`: validate a session and decode every stem in full, without rendering; given
//! an album file, the album and every song's session.

use crate::cli::CheckArgs;
use crate::error::{AppError, exit};
use crate::session::album::load_album;
use crate::session::{self, LoadOptions};

use super::ui::{plural, progress_bar};

pub fn run(args: &CheckArgs) -> Result<u8, AppError> {
    if is_album(&args.session) {
        return album(args);
    }
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

/// An album file has `[album]` or `[[song]]` at its top level and no `[[track]]`. (A file that
/// does not parse is checked as a session, which reports where it fails.)
fn is_album(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|t| {
            (t.contains_key("album") || t.contains_key("song")) && !t.contains_key("track")
        })
}

/// `check ALBUM.toml`: the album file and every song's session, stems decoded in full.
fn album(args: &CheckArgs) -> Result<u8, AppError> {
    let pb = progress_bar(args.quiet, "decoding");
    let opts = LoadOptions {
        full_scan: true,
        progress: Some(pb.clone()),
        ..LoadOptions::default()
    };
    let loaded = load_album(&args.session, None, &opts);
    pb.finish_and_clear();
    let (album, sessions) = loaded?;
    for (i, s) in sessions.iter().enumerate() {
        for w in crate::report::gates::session_warnings(s) {
            eprintln!("warning: song[{i}] \"{}\": {w}", s.name);
        }
    }
    if !args.quiet {
        let tracks: usize = sessions.iter().map(|s| s.tracks.len()).sum();
        eprintln!(
            "{}: ok: {}, {} song{} ({} policy), {} track{} in all, {} LUFS at {} dBTP",
            args.session.display(),
            album
                .title
                .as_ref()
                .map_or_else(|| "untitled".to_string(), |t| format!("\"{t}\"")),
            sessions.len(),
            plural(sessions.len()),
            album.policy.name(),
            tracks,
            plural(tracks),
            album.target.lufs,
            album.target.ceiling_dbtp
        );
    }
    Ok(exit::OK)
}
