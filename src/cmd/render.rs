//! `mixdown render`: render, master, judge, and write every output, the report and the plots.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::analysis::file;
use crate::cli::RenderArgs;
use crate::error::{AppError, exit};
use crate::io::stage::{self, Staged};
use crate::master::{self, Mastered};
use crate::report::{self, Report};
use crate::session::{self, LoadOptions, Session};

use super::analyze::{analyze_path, write_plots};
use super::ui::{fmt_db, progress_bar, shown};

pub fn run(args: &RenderArgs) -> Result<u8, AppError> {
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
        .map_err(|source| AppError::Threads { jobs, source })?;

    let (stats, pre, mastered) = pool.install(|| -> Result<_, AppError> {
        let pb = progress_bar(args.quiet, "rendering");
        let (stats, pre) = master::premaster::render(&session, &pb)?;
        let mastered = master::master(&session, &pre)?;
        Ok((stats, pre, mastered))
    })?;

    let verdicts = report::verdicts(&session, &stats, &pre, &mastered, args.strict);

    // Write: every output to a temporary file beside it, then rename them all.
    let mut pending = Vec::new();
    for d in &mastered.deliveries {
        pending.push(stage_file(&d.path, &d.encoded.bytes)?);
    }
    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| default_report_path(&session.outputs[0].path));
    let wall = started.elapsed().as_secs_f64();
    let duration_s = pre.frames() as f64 / f64::from(session.sample_rate);
    let report = report::build(&session, &stats, &pre, &mastered, verdicts, jobs, wall);
    let json = serde_json::to_vec_pretty(&report).map_err(AppError::Json)?;
    pending.push(stage_file(&report_path, &json)?);
    for staged in pending {
        staged.commit()?;
    }
    // Plots last: a failed render writes nothing, plots included.
    if let Some(dir) = &args.plot {
        plot_master(&session, &pre, &mastered, dir, args.quiet)?;
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
    pre: &master::Premaster,
    mastered: &Mastered,
    dir: &Path,
    quiet: bool,
) -> Result<(), AppError> {
    let planes = mastered.planes.as_ref().unwrap_or(&pre.planes).clone();
    let what = format!("master of {}", session.name);
    let a = file::analyze(&what, "master", planes, session.sample_rate)
        .map_err(|source| AppError::Measure { what, source })?;
    let r = match &session.master.reference {
        Some(r) => Some(analyze_path(&r.file)?),
        None => None,
    };
    let written = write_plots(dir, &a, r.as_ref())?;
    if !quiet {
        for w in written {
            eprintln!("wrote {}", shown(&w));
        }
    }
    Ok(())
}

fn default_report_path(first_output: &Path) -> PathBuf {
    let stem = first_output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mixdown".into());
    first_output.with_file_name(format!("{stem}.report.json"))
}

/// Stage bytes beside their destination (creating its folder), to be committed later.
fn stage_file(path: &Path, bytes: &[u8]) -> Result<Staged, AppError> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| AppError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    stage::stage(path, bytes).map_err(AppError::from)
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
