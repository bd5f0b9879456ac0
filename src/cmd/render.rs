//! `mixdown render`: render, master, judge, and write every output, the report and the plots;
//! with `--measure-only`, only measure (the first step of an album rendered on many machines);
//! with `--plan`, apply an album plan's gain instead of searching one.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use crate::analysis::file;
use crate::cli::RenderArgs;
use crate::engine::MixStats;
use crate::error::{AppError, exit};
use crate::io::lock::Locks;
use crate::io::stage::Staging;
use crate::io::{cleanup, files};
use crate::master::album::{
    self as plans, MEASUREMENT_KIND, MeasurementFile, PlanFile, PlannedSong, PremasterLevels,
    RateGain,
};
use crate::master::{self, Mastered, Premaster, Prepared, RatePlan};
use crate::report::album::SongAlbum;
use crate::report::{self, Report};
use crate::session::album::{Policy, apply_song};
use crate::session::outputs::STDOUT;
use crate::session::{self, LoadOptions, Session};

use super::analyze::analyze_path;
use super::ui::{fmt_db, fmt_lufs, progress_bar, shown, stage_line, step_text};

/// Most worker threads per core that `--jobs` starts. A render is CPU-bound, so threads beyond
/// the cores buy nothing, and each costs a stack and its buffers; a few per core are allowed
/// so that oversubscribing stays possible, and the output is the same for any number.
pub const MAX_JOBS_PER_CORE: usize = 4;

/// Worker threads for `--jobs` on this machine ([`worker_threads`]), saying on stderr (unless
/// quiet) when the request was cut.
pub(super) fn jobs_here(requested: Option<std::num::NonZeroUsize>, quiet: bool) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (jobs, cut) = worker_threads(requested.map(|n| n.get()), cores);
    if let Some(w) = cut
        && !quiet
    {
        eprintln!("warning: {w}");
    }
    jobs
}

/// Worker threads for `--jobs requested` on a machine with `cores` cores: one per core by
/// default, at most [`MAX_JOBS_PER_CORE`] per core; with a warning when the request was cut.
pub fn worker_threads(requested: Option<usize>, cores: usize) -> (usize, Option<String>) {
    let cores = cores.max(1);
    let most = cores * MAX_JOBS_PER_CORE;
    match requested {
        None => (cores, None),
        Some(n) if n > most => (
            most,
            Some(format!(
                "--jobs {n} is more than {MAX_JOBS_PER_CORE} threads per core ({cores} core{}); using {most} (the output is the same for any number of threads)",
                super::ui::plural(cores)
            )),
        ),
        Some(n) => (n, None),
    }
}

pub fn run(args: &RenderArgs) -> Result<u8, AppError> {
    let started = Instant::now();
    if args.output.as_deref() == Some(Path::new(STDOUT)) && std::io::stdout().is_terminal() {
        return Err(AppError::Usage(
            "-o - writes WAV audio to standard output, which is a terminal; redirect or pipe it (> song.wav, | player -)".into(),
        ));
    }
    if args.json && args.output.as_deref() == Some(Path::new(STDOUT)) {
        return Err(AppError::Usage(
            "--json prints its summary on standard output, so -o - cannot send the audio there too; write the audio to a file".into(),
        ));
    }
    let opts = LoadOptions {
        full_scan: false,
        output_override: args.output.clone(),
        report_override: args.report.clone(),
        plot_dir: args.plot.clone(),
        progress: None,
    };
    let mut session = session::load(&args.session, &opts)?;
    let jobs = jobs_here(args.jobs, args.quiet);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|source| AppError::Threads { jobs, source })?;
    let planned = match &args.plan {
        Some(p) => Some(pool.install(|| planned_song(&mut session, p))?),
        None => None,
    };
    // What the render reads, hashed before it reads it (the report's `inputs`), on the
    // render's threads.
    let inputs = pool.install(|| input_hashes(&session))?;
    if args.measure_only {
        let m = pool.install(|| measure(&session, inputs, args.quiet))?;
        let json = serde_json::to_string_pretty(&m).map_err(AppError::Json)?;
        println!("{json}");
        return Ok(exit::OK);
    }

    // Every file this render writes is locked until it is done (another render of any of
    // them fails now instead of mixing its files with ours), and what killed renders left
    // beside them is removed.
    // (An output to standard output is no file.)
    let written: Vec<&Path> = session
        .outputs
        .iter()
        .filter(|o| !o.stdout)
        .map(|o| o.path.as_path())
        .chain(session.plots.iter().map(|p| p.as_path()))
        .chain(session.report.as_deref())
        .collect();
    let _locks = Locks::acquire(written.iter().copied())?;
    let leftovers: Vec<_> = written
        .iter()
        .flat_map(|p| cleanup::remove_leftovers(p))
        .collect();
    if !leftovers.is_empty() && !args.quiet {
        let list: Vec<String> = leftovers.iter().map(|p| shown(p)).collect();
        eprintln!(
            "mixdown: removed {} file{} left by an interrupted render: {}",
            leftovers.len(),
            super::ui::plural(leftovers.len()),
            list.join(", ")
        );
    }
    // The master's temporary files (master::store): the premaster, a reference-matched
    // premaster, the limiter's detector, and the premaster at each output rate.
    let scratch = 3 + session.outputs.len();
    let stems = session.tracks.iter().map(|t| t.files_at_once()).sum();
    files::plan(written.len(), scratch, jobs, stems)?;

    // Every file is staged first (outputs, plots, then the report) and the set is committed
    // at the end, whole or not at all.
    let mut files = Staging::new();
    for o in session.outputs.iter().filter(|o| !o.stdout) {
        files.make_dir(&o.path)?;
    }
    let plotting = !session.plots.is_empty();
    let (stats, pre, mut mastered) = pool.install(|| -> Result<_, AppError> {
        let pb = progress_bar(args.quiet, "rendering");
        let (stats, pre) = master::premaster::render(&session, &pb)?;
        let line = stage_line(args.quiet);
        let progress = |s| line.set_message(step_text(s));
        let mastered = match &planned {
            None => master::master(&session, &pre, plotting, &progress).map_err(AppError::from),
            Some((song, policy)) => (|| -> Result<_, AppError> {
                let mut prepared = master::prepare(&session, &pre, false, &progress)?;
                set_planned(&mut prepared, song, *policy, args.plan.as_deref())?;
                Ok(master::deliver(&session, prepared, plotting, &progress)?)
            })(),
        };
        line.finish_and_clear();
        let mastered = mastered?;
        Ok((stats, pre, mastered))
    })?;

    let verdicts = report::verdicts(&session, &stats, &pre, &mastered, args.strict);

    // An output to standard output cannot be renamed into place: it is sent only once every
    // file is (so a failed render sends nothing).
    let mut to_stdout = None;
    for (d, o) in mastered.deliveries.iter_mut().zip(&session.outputs) {
        if let Some(staged) = d.staged.take() {
            if o.stdout {
                to_stdout = Some(staged);
            } else {
                files.push(staged);
            }
        }
    }
    if plotting {
        for (path, bytes) in session.plots.iter().zip(plot_master(&session, &mastered)?) {
            files.add(path, &bytes)?;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let duration_s = pre.frames() as f64 / f64::from(session.sample_rate);
    let mut report = report::build(
        &session, &stats, &pre, &mastered, verdicts, inputs, jobs, wall,
    );
    if let Some((song, policy)) = &planned {
        report.album = Some(SongAlbum::new(*policy, song.own_gain_db, &mastered));
    }
    let json = serde_json::to_vec_pretty(&report).map_err(AppError::Json)?;
    if let Some(path) = &session.report {
        files.add(path, &json)?;
    }
    files.commit()?;
    if let Some(staged) = to_stdout {
        staged
            .copy_to(&mut std::io::stdout().lock())
            .map_err(|source| AppError::Write {
                path: "standard output".into(),
                source,
            })?;
    }

    if args.json {
        let json = serde_json::to_string_pretty(&JsonSummary::new(&report, &session))
            .map_err(AppError::Json)?;
        println!("{json}");
    }
    if !args.quiet {
        summary(
            &session,
            &report,
            session.report.as_deref(),
            duration_s,
            wall,
        );
        for p in &session.plots {
            eprintln!("  plot {}", shown(p));
        }
    }
    Ok(if report.gate_failures.is_empty() {
        exit::OK
    } else {
        exit::GATE
    })
}

/// Judge a mastered song, stage its outputs into `files` and build its report (the caller
/// stages the report itself).
#[allow(clippy::too_many_arguments)]
pub(super) fn song_report(
    session: &Session,
    stats: &MixStats,
    pre: &Premaster,
    mastered: &mut Mastered,
    strict: bool,
    inputs: Vec<plans::InputHash>,
    jobs: usize,
    wall: f64,
    files: &mut Staging,
) -> Report {
    let verdicts = report::verdicts(session, stats, pre, mastered, strict);
    for d in &mut mastered.deliveries {
        if let Some(staged) = d.staged.take() {
            files.push(staged);
        }
    }
    report::build(session, stats, pre, mastered, verdicts, inputs, jobs, wall)
}

/// `--measure-only`: render the premaster, measure it and search the song's own gain at each
/// output rate.
fn measure(
    session: &Session,
    inputs: Vec<plans::InputHash>,
    quiet: bool,
) -> Result<MeasurementFile, AppError> {
    let Some(target) = &session.master.target else {
        return Err(AppError::Plan {
            path: session.file.clone(),
            message: "--measure-only needs a [master].target: there is no gain to plan without one"
                .into(),
        });
    };
    let pb = progress_bar(quiet, "measuring");
    let (_, pre) = master::premaster::render(session, &pb)?;
    let prepared = master::prepare(session, &pre, true, &|_| {})?;
    let measured = match (&prepared.target_skipped, prepared.first_measurement()) {
        (None, Some(m)) => m,
        (why, _) => {
            return Err(AppError::Plan {
                path: session.file.clone(),
                message: format!(
                    "cannot be measured for an album: {}",
                    why.as_deref().unwrap_or("the target stage did not run")
                ),
            });
        }
    };
    Ok(MeasurementFile {
        schema_version: plans::SCHEMA_VERSION,
        kind: MEASUREMENT_KIND.into(),
        mixdown_version: env!("CARGO_PKG_VERSION").into(),
        name: session.name.clone(),
        inputs,
        target: target.clone(),
        rates: prepared.rate_plans().iter().map(RateGain::from).collect(),
        premaster: PremasterLevels::from(measured),
    })
}

/// The SHA-256 of every input of a session.
pub(super) fn input_hashes(session: &Session) -> Result<Vec<plans::InputHash>, AppError> {
    plans::input_hashes(session).map_err(|source| AppError::Read {
        path: session.file.clone(),
        source,
    })
}

/// Read a plan, find the song rendered from `session` in it (by the SHA-256 of the session
/// file), check that every input is still what was measured, and apply what the album sets.
fn planned_song(session: &mut Session, path: &Path) -> Result<(PlannedSong, Policy), AppError> {
    let err = |message: String| AppError::Plan {
        path: path.to_path_buf(),
        message,
    };
    let plan: PlanFile = super::read_interchange(path)?;
    let inputs = input_hashes(session)?;
    let Some(song) = plan.song(&inputs[0].sha256) else {
        return Err(err(format!(
            "no song of this plan was measured from {} (sha256 {}): the session changed since it was measured, or it is not in the album; measure it again and make the plan again",
            shown(&session.file),
            inputs[0].sha256
        )));
    };
    if song.inputs != inputs {
        let changed: Vec<String> = inputs
            .iter()
            .filter(|i| !song.inputs.contains(i))
            .map(|i| i.path.clone())
            .chain(
                song.inputs
                    .iter()
                    .filter(|i| !inputs.iter().any(|j| j.path == i.path))
                    .map(|i| format!("{} (gone)", i.path)),
            )
            .collect();
        return Err(err(format!(
            "the inputs of {} are not what was measured: {} changed; measure it again and make the plan again",
            shown(&session.file),
            changed.join(", ")
        )));
    }
    apply_song(session, &song.settings);
    Ok((song.clone(), plan.policy))
}

/// Give a prepared master the planned gains (an album's gain is fixed).
fn set_planned(
    prepared: &mut Prepared<'_>,
    song: &PlannedSong,
    policy: Policy,
    path: Option<&Path>,
) -> Result<(), AppError> {
    let err = |message: String| AppError::Plan {
        path: path.unwrap_or(Path::new("plan")).to_path_buf(),
        message,
    };
    let rates = prepared.rates();
    let planned: Vec<u32> = song.rates.iter().map(|r| r.rate).collect();
    if rates != planned {
        return Err(err(format!(
            "the plan has gains for {planned:?} Hz, the session delivers at {rates:?} Hz"
        )));
    }
    for r in &song.rates {
        if !prepared.set_plan(&RatePlan::from(r), policy == Policy::Album) {
            return Err(err(format!(
                "the master cannot take the plan's gain at {} Hz: {}",
                r.rate,
                prepared.target_skipped.as_deref().unwrap_or("no target")
            )));
        }
    }
    Ok(())
}

/// Plots of the master (at the session rate, after the target stage), with the reference's
/// spectrum when the session matches one: the bytes of each of `session.plots`, in order.
fn plot_master(session: &Session, mastered: &Mastered) -> Result<Vec<Vec<u8>>, AppError> {
    let planes = mastered.planes.clone().unwrap_or_default();
    let what = format!("master of {}", session.name);
    let a = file::analyze(&what, "master", planes, mastered.master_rate)
        .map_err(|source| AppError::Measure { what, source })?;
    let r = match &session.master.reference {
        Some(r) => Some(analyze_path(&r.file)?),
        None => None,
    };
    let plots = file::plots(&a, r.as_ref()).map_err(AppError::Plot)?;
    Ok(plots.into_iter().map(|(_, bytes)| bytes).collect())
}

fn summary(session: &Session, r: &Report, report_path: Option<&Path>, duration_s: f64, wall: f64) {
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
        fmt_lufs(r.mix.integrated_lufs, duration_s)
    );
    for o in &r.outputs {
        let path = if o.path == STDOUT {
            "standard output"
        } else {
            &o.path
        };
        eprintln!(
            "  wrote {path} ({}-bit, {} Hz, {}, sha256 {}…, {} clipped)",
            o.bit_depth,
            o.sample_rate,
            fmt_lufs(o.integrated_lufs, o.duration_s),
            &o.sha256[..o.sha256.len().min(12)],
            o.clipped_samples
        );
    }
    if let Some(p) = report_path {
        eprintln!("  report {}", shown(p));
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    for g in &r.gate_failures {
        eprintln!("gate failed: {g}");
    }
}

/// `render --json`: the render in one object, for CI.
#[derive(serde::Serialize)]
struct JsonSummary<'a> {
    schema_version: u32,
    session: &'a str,
    report: Option<String>,
    /// True when every gate passed (exit status 0).
    passed: bool,
    master: JsonLevels,
    outputs: Vec<JsonOutput<'a>>,
    gates: &'a [report::Gate],
    warnings: Vec<JsonWarning<'a>>,
}

#[derive(serde::Serialize)]
struct JsonLevels {
    integrated_lufs: Option<f64>,
    true_peak_dbtp: Option<f64>,
}

#[derive(serde::Serialize)]
struct JsonOutput<'a> {
    path: &'a str,
    sha256: &'a str,
    integrated_lufs: Option<f64>,
    true_peak_dbtp: Option<f64>,
    clipped_samples: u64,
}

#[derive(serde::Serialize)]
struct JsonWarning<'a> {
    code: &'a str,
    message: &'a str,
}

impl<'a> JsonSummary<'a> {
    fn new(r: &'a Report, session: &'a Session) -> Self {
        JsonSummary {
            schema_version: report::SCHEMA_VERSION,
            session: &session.name,
            report: session.report.as_deref().map(shown),
            passed: r.gate_failures.is_empty(),
            master: JsonLevels {
                integrated_lufs: r.master.levels.integrated_lufs,
                true_peak_dbtp: r.master.levels.true_peak_dbtp,
            },
            outputs: r
                .outputs
                .iter()
                .map(|o| JsonOutput {
                    path: &o.path,
                    sha256: &o.sha256,
                    integrated_lufs: o.integrated_lufs,
                    true_peak_dbtp: o.true_peak_dbtp,
                    clipped_samples: o.clipped_samples,
                })
                .collect(),
            gates: &r.gates,
            warnings: r
                .warning_codes
                .iter()
                .zip(&r.warnings)
                .map(|(code, message)| JsonWarning { code, message })
                .collect(),
        }
    }
}
