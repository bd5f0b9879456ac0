//! Orchestration of the commands: load -> validate -> render -> write -> report.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::analysis::file::{self, Analyzed, FileAnalysis};
use crate::analysis::report::*;
use crate::cli::{AnalyzeArgs, CheckArgs, Cli, Command, RenderArgs};
use crate::engine::{self, Mix};
use crate::error::{AppError, exit};
use crate::io::wav::{self, Dither, Encoding};
use crate::master;
use crate::session::{self, LoadOptions, Session, SessionError};

/// Run a parsed command line; returns the exit status.
pub fn run(cli: Cli) -> u8 {
    let (result, rendering) = match cli.command {
        Command::Render(args) => (render_cmd(&args), true),
        Command::Check(args) => (check_cmd(&args), false),
        Command::Analyze(args) => (analyze_cmd(&args), false),
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

    let (mix, mastered) = pool.install(|| -> Result<_, AppError> {
        let pb = progress_bar(args.quiet, "rendering");
        let mix = engine::render(&session, &pb)?;
        let mastered = master::master(&session, &mix)?;
        Ok((mix, mastered))
    })?;

    let (warnings, gates) = verdicts(&session, &mix, &mastered, args.strict);

    // Write: every output to a temporary file beside it, then rename them all.
    let mut pending = Vec::new();
    for d in &mastered.deliveries {
        pending.push(stage(&d.path, &d.encoded.bytes)?);
    }
    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| default_report_path(&session.outputs[0].path));
    let wall = started.elapsed().as_secs_f64();
    let rate = f64::from(session.sample_rate);
    let duration_s = mix.planes[0].len() as f64 / rate;
    let report = build_report(&session, &mix, &mastered, warnings, gates, jobs, wall);
    let json = serde_json::to_vec_pretty(&report).map_err(|e| AppError::Other(e.to_string()))?;
    pending.push(stage(&report_path, &json)?);
    for staged in pending {
        staged.commit()?;
    }
    // Plots last: a failed render writes nothing, plots included.
    if let Some(dir) = &args.plot {
        plot_master(&session, &mix, &mastered, dir, args.quiet)?;
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

/// Plots of the master (at the session rate, after the target stage), with the reference's
/// spectrum when the session matches one.
fn plot_master(
    session: &Session,
    mix: &Mix,
    mastered: &master::Mastered,
    dir: &Path,
    quiet: bool,
) -> Result<(), AppError> {
    let planes = mastered.planes.as_ref().unwrap_or(&mix.planes).clone();
    let a = file::analyze(
        &format!("master of {}", session.name),
        "master",
        planes,
        session.sample_rate,
    )
    .map_err(|e| AppError::Other(e.to_string()))?;
    let r = match &session.master.reference {
        Some(r) => Some(analyze_path(&r.file)?),
        None => None,
    };
    let written = file::write_plots(dir, &a, r.as_ref()).map_err(AppError::Other)?;
    if !quiet {
        for w in written {
            eprintln!("wrote {}", shown(&w));
        }
    }
    Ok(())
}

/// Headroom the mix bus should leave for mastering, dBFS.
const MIX_HEADROOM_DBFS: f64 = -3.0;
/// Limiting beyond this (largest reduction, dB) is worth a warning.
const HEAVY_LIMITING_DB: f64 = 4.0;

/// Warnings and failed delivery gates (SPEC §5). With `strict`, every warning is also a gate.
fn verdicts(
    session: &Session,
    mix: &Mix,
    mastered: &master::Mastered,
    strict: bool,
) -> (Vec<String>, Vec<String>) {
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
    let m = &mix.mix_levels;
    let peak = m.sample_peak_dbfs.max(m.true_peak_dbtp);
    if m.clipped_samples > 0 {
        warnings.push(format!(
            "the mix bus entering the master clips: {} samples at or over full scale (true peak {:+.1} dBTP); trim the mix by at least {:.1} dB (faders or a gain on the master)",
            m.clipped_samples,
            m.true_peak_dbtp,
            peak - MIX_HEADROOM_DBFS
        ));
    } else if peak > MIX_HEADROOM_DBFS {
        warnings.push(format!(
            "the mix bus entering the master peaks at {peak:.1} dB (true peak {:.1} dBTP), above {MIX_HEADROOM_DBFS} dBFS: leave headroom for mastering; trim the mix by {:.1} dB",
            m.true_peak_dbtp,
            peak - MIX_HEADROOM_DBFS
        ));
    }
    if let Some(why) = &mastered.target_skipped {
        warnings.push(why.clone());
    }
    if let (Some(t), Some(o)) = (&session.master.target, &mastered.target)
        && o.limiter.max_reduction_db > HEAVY_LIMITING_DB
    {
        warnings.push(format!(
            "reaching {} LUFS took up to {:.1} dB of limiting ({:.1} dB on average over the song): the master is being squashed; lower the target, or add compression or level in the mix",
            t.lufs, o.limiter.max_reduction_db, o.limiter.mean_reduction_db
        ));
    }
    let target = session.master.target.as_ref();
    for d in &mastered.deliveries {
        let path = shown(&d.path);
        if d.encoded.clipped_samples > 0 {
            gates.push(format!(
                "{path}: {} samples clipped at quantization (peak {:.2} dBFS); lower the mix or set a [master].target",
                d.encoded.clipped_samples, d.levels.sample_peak_dbfs
            ));
        }
        if let Some(t) = target {
            match d.levels.integrated_lufs {
                Some(i) if (i - t.lufs).abs() <= t.tolerance_lu => {}
                Some(i) => gates.push(format!(
                    "{path}: integrated loudness {i:.2} LUFS is {:.2} LU from the target {} LUFS (tolerance {} LU)",
                    (i - t.lufs).abs(),
                    t.lufs,
                    t.tolerance_lu
                )),
                None => gates.push(format!("{path}: silent, so it cannot meet the target {} LUFS", t.lufs)),
            }
            if d.true_peak_dbtp > t.ceiling_dbtp {
                gates.push(format!(
                    "{path}: true peak {:.2} dBTP is over the ceiling {} dBTP",
                    d.true_peak_dbtp, t.ceiling_dbtp
                ));
            }
        }
    }
    if strict {
        gates.extend(warnings.iter().map(|w| format!("--strict: {w}")));
    }
    (warnings, gates)
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

fn build_report(
    session: &Session,
    mix: &Mix,
    mastered: &master::Mastered,
    warnings: Vec<String>,
    gate_failures: Vec<String>,
    jobs: usize,
    wall: f64,
) -> Report {
    let levels = &mix.mix_levels;
    let target = session.master.target.as_ref();
    let p = &mastered.program;
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
        master: MasterReport {
            reference_match: mastered.reference.clone(),
            target: target.map(|t| TargetReport {
                preset: t.preset.clone(),
                lufs: t.lufs,
                ceiling_dbtp: t.ceiling_dbtp,
                tolerance_lu: t.tolerance_lu,
            }),
            stage: mastered.target.as_ref().map(|o| TargetStageReport {
                input_lufs: db(o.input_lufs),
                static_gain_db: db(o.static_gain_db),
                limiter_max_reduction_db: db(o.limiter.max_reduction_db),
                limiter_mean_reduction_db: db(o.limiter.mean_reduction_db),
                limiter_ceiling_dbtp: db(o.ceiling_dbtp),
                passes: o.iterations,
            }),
            levels: ProgramReport::new(p),
        },
        outputs: mastered
            .deliveries
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
                true_peak_dbtp: db(d.true_peak_dbtp),
                integrated_lufs: d.levels.integrated_lufs.and_then(db),
                requested_lufs: target.map(|t| t.lufs),
                requested_ceiling_dbtp: target.map(|t| t.ceiling_dbtp),
                loudness_ok: target.map(|t| {
                    d.levels
                        .integrated_lufs
                        .is_some_and(|i| (i - t.lufs).abs() <= t.tolerance_lu)
                }),
                true_peak_ok: target.map(|t| d.true_peak_dbtp <= t.ceiling_dbtp),
                redone: d.redone,
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

/// Decode and analyse one file for `analyze`.
fn analyze_path(path: &Path) -> Result<Analyzed, AppError> {
    let (info, planes) = crate::io::decode::decode_all(path).map_err(|source| AppError::Input {
        path: path.to_path_buf(),
        source,
    })?;
    file::analyze(&shown(path), &info.format, planes, info.sample_rate)
        .map_err(|e| AppError::Other(e.to_string()))
}

fn analyze_cmd(args: &AnalyzeArgs) -> Result<u8, AppError> {
    let (a, r) = match &args.reference {
        Some(rp) => {
            let (a, r) = rayon::join(|| analyze_path(&args.file), || analyze_path(rp));
            (a?, Some(r?))
        }
        None => (analyze_path(&args.file)?, None),
    };
    if let Some(dir) = &args.plot {
        let written = file::write_plots(dir, &a, r.as_ref()).map_err(AppError::Other)?;
        for w in written {
            eprintln!("wrote {}", shown(&w));
        }
    }
    let comparison = r.map(|r| file::compare(&a, r));
    if args.json {
        let out = file::AnalyzeOutput {
            file: a.report,
            comparison,
        };
        let json =
            serde_json::to_string_pretty(&out).map_err(|e| AppError::Other(e.to_string()))?;
        println!("{json}");
    } else {
        print_analysis(&a.report);
        if let Some(c) = &comparison {
            println!();
            print_analysis(&c.reference);
            println!();
            println!("compared with the reference:");
            for line in &c.summary {
                println!("  - {line}");
            }
            if c.summary.is_empty() {
                println!("  - no difference worth naming");
            }
        }
    }
    Ok(exit::OK)
}

fn print_analysis(a: &FileAnalysis) {
    let v = |x: Option<f64>, unit: &str| fmt_db(x, unit);
    let l = &a.levels;
    println!(
        "{}: {}, {} Hz, {} channel{}, {:.2} s",
        a.file,
        a.format,
        a.sample_rate,
        a.channels,
        plural(a.channels),
        a.duration_s
    );
    println!("  integrated       {}", v(l.integrated_lufs, "LUFS"));
    println!("  loudness range   {}", v(l.loudness_range_lu, "LU"));
    println!("  max momentary    {}", v(l.max_momentary_lufs, "LUFS"));
    println!("  max short-term   {}", v(l.max_shortterm_lufs, "LUFS"));
    println!("  sample peak      {}", v(l.sample_peak_dbfs, "dBFS"));
    println!(
        "  true peak        {} (BS.1770-4 4x), {} reconstructed",
        v(l.true_peak_dbtp, "dBTP"),
        v(a.true_peak_reconstructed_dbtp, "dBTP")
    );
    println!("  PLR              {}", v(l.plr_db, "dB"));
    println!("  crest factor     {}", v(l.crest_factor_db, "dB"));
    let dc: Vec<String> = a.dc_offset.iter().map(|d| format!("{d:+.6}")).collect();
    println!("  DC offset        {}", dc.join(" / "));
    if let Some(c) = l.stereo_correlation {
        println!("  correlation      {c:+.3}");
    }
    if a.channels == 2 {
        println!("  mono fold loss   {}", v(l.mono_fold_loss_lu, "LU"));
    }
}
