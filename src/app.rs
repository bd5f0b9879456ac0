//! Orchestration of the commands: load -> validate -> render -> write -> report.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::analysis::loudness::{self, Levels};
use crate::analysis::report::*;
use crate::cli::{CheckArgs, Cli, Command, RenderArgs};
use crate::engine::{self, Mix};
use crate::error::{AppError, exit};
use crate::io::resample::resample_all;
use crate::io::wav::{self, Dither, Encoded, Encoding};
use crate::session::{self, LoadOptions, Session, SessionError};

/// Run a parsed command line; returns the exit status.
pub fn run(cli: Cli) -> u8 {
    let (result, rendering) = match cli.command {
        Command::Render(args) => (render_cmd(&args), true),
        Command::Check(args) => (check_cmd(&args), false),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            if rendering && !matches!(e, AppError::Session(_)) {
                eprintln!("mixdown: the render failed; no output was written");
            }
            e.exit_code()
        }
    }
}

fn print_error(e: &AppError) {
    let mut err = std::io::stderr().lock();
    match e {
        AppError::Session(SessionError::Invalid { path, diagnostics }) => {
            for d in diagnostics {
                let _ = writeln!(err, "error: {d}");
            }
            let n = diagnostics.len();
            let _ = writeln!(
                err,
                "mixdown: {n} problem{} in {}; nothing was rendered",
                if n == 1 { "" } else { "s" },
                path.display()
            );
        }
        other => {
            let _ = writeln!(err, "error: {other}");
        }
    }
}

fn check_cmd(args: &CheckArgs) -> Result<u8, AppError> {
    let pb = progress_bar(args.quiet, "decoding");
    let opts = LoadOptions {
        full_scan: true,
        output_override: None,
        progress: Some(pb.clone()),
    };
    let loaded = session::load(&args.session, &opts);
    pb.finish_and_clear();
    let s = loaded?;
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn progress_bar(quiet: bool, msg: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {percent:>3}% {elapsed}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg.to_string());
    pb
}

/// One delivery file, encoded in memory.
struct Delivery {
    path: PathBuf,
    encoded: Encoded,
    levels: Levels,
    sample_rate: u32,
    encoding: Encoding,
    dither: Dither,
}

fn render_cmd(args: &RenderArgs) -> Result<u8, AppError> {
    let started = Instant::now();
    let opts = LoadOptions {
        full_scan: false,
        output_override: args.output.clone(),
        progress: None,
    };
    let session = session::load(&args.session, &opts)?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n.get(),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| AppError::Other(format!("cannot start {jobs} worker threads: {e}")))?;

    let (mix, mix_levels, deliveries) = pool.install(|| -> Result<_, AppError> {
        let pb = progress_bar(args.quiet, "rendering");
        let mix = engine::render(&session, &pb)?;
        let mix_levels = mix.mix_levels.clone();
        let deliveries = deliver(&session, &mix)?;
        Ok((mix, mix_levels, deliveries))
    })?;

    // Gates and warnings.
    let mut warnings = Vec::new();
    let mut gates = Vec::new();
    for (t, st) in session.tracks.iter().zip(&mix.stems) {
        if st.source_clipped > 0 {
            warnings.push(format!(
                "track \"{}\": the stem {} holds {} samples at full scale: it was clipped before mixdown saw it",
                t.name, t.file_display, st.source_clipped
            ));
        }
    }
    let headroom_limit = -3.0;
    if mix_levels.clipped_samples > 0 {
        warnings.push(format!(
            "the mix bus clips: {} samples at or over full scale (true peak {:+.1} dBTP); lower the faders by at least {:.1} dB",
            mix_levels.clipped_samples,
            mix_levels.true_peak_dbtp,
            mix_levels.true_peak_dbtp - headroom_limit
        ));
    } else if mix_levels.sample_peak_dbfs > headroom_limit
        || mix_levels.true_peak_dbtp > headroom_limit
    {
        let peak = mix_levels.sample_peak_dbfs.max(mix_levels.true_peak_dbtp);
        warnings.push(format!(
            "the mix bus peaks at {peak:.1} dB (true peak {:.1} dBTP), above {headroom_limit} dBFS: leave headroom for mastering; trim the mix by {:.1} dB",
            mix_levels.true_peak_dbtp,
            peak - headroom_limit
        ));
    }
    for d in &deliveries {
        if d.encoded.clipped_samples > 0 {
            gates.push(format!(
                "{}: {} samples clipped at quantization (peak {:.2} dBFS); lower the mix or set a [master].target",
                shown(&d.path),
                d.encoded.clipped_samples,
                d.levels.sample_peak_dbfs
            ));
        }
    }

    // Write: every output to a temporary file beside it, then rename them all.
    let mut pending = Vec::new();
    for d in &deliveries {
        pending.push(stage(&d.path, &d.encoded.bytes)?);
    }
    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| default_report_path(&session.outputs[0].path));
    let wall = started.elapsed().as_secs_f64();
    let rate = f64::from(session.sample_rate);
    let duration_s = mix.planes[0].len() as f64 / rate;
    let report = build_report(
        &session,
        &mix,
        &mix_levels,
        &deliveries,
        warnings,
        gates,
        jobs,
        wall,
    );
    let json = serde_json::to_vec_pretty(&report).map_err(|e| AppError::Other(e.to_string()))?;
    pending.push(stage(&report_path, &json)?);
    for staged in pending {
        staged.commit()?;
    }

    if !args.quiet {
        summary(&session, &report, &report_path, duration_s, wall);
    }
    Ok(if report.gate_failures.is_empty() {
        exit::OK
    } else {
        exit::GATE
    })
}

/// A path as the user would write it: relative to the working directory when inside it.
fn shown(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf())
        .display()
        .to_string()
}

fn default_report_path(first_output: &Path) -> PathBuf {
    let stem = first_output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mixdown".into());
    first_output.with_file_name(format!("{stem}.report.json"))
}

/// Stage bytes beside their destination (creating its folder), to be committed later.
fn stage(path: &Path, bytes: &[u8]) -> Result<wav::Staged, AppError> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| AppError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    wav::stage(path, bytes).map_err(AppError::from)
}

/// Resample, quantize and encode every output (in parallel; each is independent).
fn deliver(session: &Session, mix: &Mix) -> Result<Vec<Delivery>, AppError> {
    session
        .outputs
        .par_iter()
        .enumerate()
        .map(|(i, o)| {
            let planes = resample_all(&mix.planes, mix.sample_rate, o.sample_rate)
                .map_err(|e| AppError::Other(e.to_string()))?;
            // Each output gets its own dither stream, derived from the session.
            let seed = session.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let encoded = wav::encode(
                &planes,
                o.sample_rate,
                o.encoding,
                o.dither,
                seed,
                &session.tags,
            )
            .map_err(|e| AppError::Other(format!("{}: {e}", o.path.display())))?;
            drop(planes);
            let levels = loudness::measure_encoded(&encoded, o.sample_rate)
                .map_err(|e| AppError::Other(e.to_string()))?;
            Ok(Delivery {
                path: o.path.clone(),
                encoded,
                levels,
                sample_rate: o.sample_rate,
                encoding: o.encoding,
                dither: o.dither,
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    session: &Session,
    mix: &Mix,
    levels: &Levels,
    deliveries: &[Delivery],
    warnings: Vec<String>,
    gate_failures: Vec<String>,
    jobs: usize,
    wall: f64,
) -> Report {
    let rate = f64::from(session.sample_rate);
    let frames = mix.planes[0].len() as u64;
    Report {
        mixdown_version: env!("CARGO_PKG_VERSION"),
        session: SessionInfo {
            name: session.name.clone(),
            file: shown(&session.file),
            sample_rate: session.sample_rate,
            duration_s: frames as f64 / rate,
            frames,
            tail_frames: frames.saturating_sub(mix.content_frames),
        },
        tracks: session
            .tracks
            .iter()
            .zip(&mix.tracks)
            .zip(&mix.stems)
            .map(|((t, st), stem)| TrackReport {
                name: t.name.clone(),
                file: t.file_display.clone(),
                format: t.stem.format.clone(),
                source_sample_rate: t.stem.sample_rate,
                source_channels: t.stem.channels,
                muted: st.muted,
                source_peak_dbfs: stem.source_peak_dbfs.and_then(db),
                source_clipped_samples: stem.source_clipped,
                peak_dbfs: db(st.peak_dbfs),
                integrated_lufs: st.integrated_lufs.and_then(db),
            })
            .collect(),
        buses: mix
            .buses
            .iter()
            .map(|b| BusReport {
                name: b.name.clone(),
                muted: b.muted,
                peak_dbfs: db(b.peak_dbfs),
                integrated_lufs: b.integrated_lufs.and_then(db),
            })
            .collect(),
        mix: MixReport {
            sample_peak_dbfs: db(levels.sample_peak_dbfs),
            true_peak_dbtp: db(levels.true_peak_dbtp),
            integrated_lufs: levels.integrated_lufs.and_then(db),
            headroom_db: db(-levels.true_peak_dbtp),
            clipped_samples: levels.clipped_samples,
        },
        outputs: deliveries
            .iter()
            .map(|d| OutputReport {
                path: shown(&d.path),
                format: match d.encoding {
                    Encoding::Pcm16 | Encoding::Pcm24 => "wav-pcm".into(),
                    Encoding::Float32 => "wav-float".into(),
                },
                sample_rate: d.sample_rate,
                bit_depth: match d.encoding {
                    Encoding::Pcm16 => 16,
                    Encoding::Pcm24 => 24,
                    Encoding::Float32 => 32,
                },
                dither: match (d.encoding, d.dither) {
                    (Encoding::Float32, _) | (_, Dither::None) => "none".into(),
                    (_, Dither::Tpdf) => "tpdf".into(),
                    (_, Dither::Shaped) => "shaped".into(),
                },
                frames: d.encoded.frames,
                duration_s: d.encoded.frames as f64 / f64::from(d.sample_rate),
                sha256: d.encoded.data_sha256.clone(),
                clipped_samples: d.encoded.clipped_samples,
                sample_peak_dbfs: db(d.levels.sample_peak_dbfs),
                true_peak_dbtp: db(d.levels.true_peak_dbtp),
                integrated_lufs: d.levels.integrated_lufs.and_then(db),
            })
            .collect(),
        warnings,
        gate_failures,
        render: RenderInfo {
            jobs,
            wall_time_s: (wall * 1000.0).round() / 1000.0,
            realtime_factor: ((frames as f64 / rate) / wall.max(1e-9) * 10.0).round() / 10.0,
        },
    }
}

fn fmt_db(x: Option<f64>, unit: &str) -> String {
    match x {
        Some(v) => format!("{v:.1} {unit}"),
        None => format!("-inf {unit}"),
    }
}

fn summary(session: &Session, r: &Report, report_path: &Path, duration_s: f64, wall: f64) {
    let mins = (duration_s / 60.0).floor();
    let secs = duration_s - mins * 60.0;
    eprintln!(
        "mixdown: rendered \"{}\" ({}:{:04.1}, {} Hz, {} tracks, {} buses) in {:.2} s ({:.1}x real time)",
        session.name,
        mins as u64,
        secs,
        session.sample_rate,
        session.tracks.len(),
        session.buses.len(),
        wall,
        duration_s / wall.max(1e-9)
    );
    eprintln!(
        "  mix bus: peak {}, true peak {}, {}",
        fmt_db(r.mix.sample_peak_dbfs, "dBFS"),
        fmt_db(r.mix.true_peak_dbtp, "dBTP"),
        fmt_db(r.mix.integrated_lufs, "LUFS")
    );
    for o in &r.outputs {
        eprintln!(
            "  wrote {} ({}-bit, {} Hz, {}, sha256 {}…, {} clipped)",
            o.path,
            o.bit_depth,
            o.sample_rate,
            fmt_db(o.integrated_lufs, "LUFS"),
            &o.sha256[..o.sha256.len().min(12)],
            o.clipped_samples
        );
    }
    eprintln!("  report {}", shown(report_path));
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    for g in &r.gate_failures {
        eprintln!("gate failed: {g}");
    }
}
