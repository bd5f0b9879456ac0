//! `mixdown album`: render the songs of an album file (in parallel, within `--jobs`), measure
//! each one's own gain, plan the album's (the loudness policy), deliver every song with it, and
//! write each song's outputs and report and the album report, all or nothing. With `--plan`,
//! combine measurement files made elsewhere into a plan instead (see `master::album`).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar};
use rayon::prelude::*;

use crate::analysis::bs1770::IntegratedMeter;
use crate::cli::AlbumArgs;
use crate::engine::MixStats;
use crate::error::{AppError, exit};
use crate::io::stage::Staging;
use crate::io::wav::read_back;
use crate::master::album::{
    self as plans, MeasurementFile, PLAN_KIND, PlanFile, PlannedSong, RateGain,
};
use crate::master::{self, Mastered, Premaster, Prepared, RatePlan};
use crate::report::album::{self as album_report, AlbumReport, SongAlbum};
use crate::session::Session;
use crate::session::album::{Album, Policy, load_album};

use super::render::{input_hashes, song_report};
use super::ui::{bar_in, fmt_db, shown, stage_line};

pub fn run(args: &AlbumArgs) -> Result<u8, AppError> {
    let started = Instant::now();
    let (album, sessions) = load_album(&args.album, args.report.as_deref(), &Default::default())?;
    if !args.plan.is_empty() {
        return plan(args, &album, &sessions);
    }
    if args.collect {
        return collect(args, &album, &sessions, started);
    }
    let jobs = super::render::jobs_here(args.jobs, args.quiet);
    // Every file the album writes is locked until it is done, as a render locks its own; the
    // songs render at once, so the file budget is the sum of theirs.
    let written: Vec<&std::path::Path> = sessions
        .iter()
        .flat_map(|s| {
            s.outputs
                .iter()
                .map(|o| o.path.as_path())
                .chain(s.report.as_deref())
        })
        .chain([album.report.as_path()])
        .collect();
    let _locks = crate::io::lock::Locks::acquire(written.iter().copied())?;
    let scratch: usize = sessions.iter().map(|s| 3 + s.outputs.len()).sum();
    let stems: usize = sessions
        .iter()
        .flat_map(|s| &s.tracks)
        .map(|t| t.files_at_once())
        .sum();
    crate::io::files::plan(written.len(), scratch, jobs, stems)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|source| AppError::Threads { jobs, source })?;
    let mut files = Staging::new();
    for s in &sessions {
        for o in &s.outputs {
            files.make_dir(&o.path)?;
        }
    }
    let mut bars = Bars::new(args.quiet, &sessions);
    let (pres, mut mastered) = pool.install(|| -> Result<_, AppError> {
        let pres: Vec<(MixStats, Premaster)> = sessions
            .par_iter()
            .zip(&bars.songs)
            .map(|(s, pb)| master::premaster::render(s, pb))
            .collect::<Result<_, _>>()?;
        bars.step("measuring every song");
        let mut prepared: Vec<Prepared<'_>> = sessions
            .par_iter()
            .zip(&pres)
            .map(|(s, (_, pre))| master::prepare(s, pre, true, &|_| {}))
            .collect::<Result<_, _>>()?;
        let own: Vec<Vec<RatePlan>> = prepared.iter().map(Prepared::rate_plans).collect();
        for (p, (_, rates)) in prepared
            .iter_mut()
            .zip(plans::plan_gains(album.policy, &own))
        {
            for r in &rates {
                p.set_plan(r, album.policy == Policy::Album);
            }
        }
        bars.step("writing every song");
        let mastered: Vec<(Mastered, Vec<RatePlan>)> = sessions
            .par_iter()
            .zip(prepared)
            .zip(own)
            .map(|((s, p), own)| master::deliver(s, p, false, &|_| {}).map(|m| (m, own)))
            .collect::<Result<_, _>>()?;
        Ok((pres, mastered))
    })?;
    bars.finish();

    let wall = started.elapsed().as_secs_f64();
    let mut songs = Vec::with_capacity(sessions.len());
    for (i, (s, ((stats, pre), (m, own)))) in sessions
        .iter()
        .zip(pres.iter().zip(mastered.iter_mut()))
        .enumerate()
    {
        let mut report = song_report(
            s,
            stats,
            pre,
            m,
            args.strict,
            pool.install(|| input_hashes(s))?,
            jobs,
            wall,
            &mut files,
        );
        report.album = Some(SongAlbum::new(
            album.policy,
            own.first().map(|r| r.plan.gain_db),
            m,
        ));
        let json = serde_json::to_vec_pretty(&report).map_err(AppError::Json)?;
        if let Some(path) = &s.report {
            files.add(path, &json)?;
        }
        // The album reads the song's report as written, as `--collect` does.
        let value = serde_json::from_slice(&json).map_err(AppError::Json)?;
        songs.push(
            album_report::song_entry(&album, i, s, &value).map_err(|message| AppError::Plan {
                path: s.file.clone(),
                message,
            })?,
        );
    }
    let blocks: Vec<&[f64]> = mastered
        .iter()
        .map(|(m, _)| &m.deliveries[0].blocks[..])
        .collect();
    let report = album_report::build(&album, songs, &blocks, jobs, wall);
    finish(args, &album, report, files, wall)
}

/// Write the album report with the songs' files, all or nothing, and tell how it went.
fn finish(
    args: &AlbumArgs,
    album: &Album,
    report: AlbumReport,
    mut files: Staging,
    wall: f64,
) -> Result<u8, AppError> {
    let json = serde_json::to_vec_pretty(&report).map_err(AppError::Json)?;
    files.add(&album.report, &json)?;
    files.commit()?;
    if args.json {
        println!("{}", String::from_utf8_lossy(&json));
    }
    if !args.quiet {
        let verb = if args.collect {
            "collected"
        } else {
            "rendered"
        };
        summary(album, &report, verb, wall);
    }
    Ok(if report.gate_failures.is_empty() {
        exit::OK
    } else {
        exit::GATE
    })
}

/// `--collect`: the album report from songs delivered elsewhere (`render --plan`), each file
/// checked against its report and measured again.
fn collect(
    args: &AlbumArgs,
    album: &Album,
    sessions: &[Session],
    started: Instant,
) -> Result<u8, AppError> {
    let _lock = crate::io::lock::Locks::acquire([album.report.as_path()])?;
    let mut songs = Vec::with_capacity(sessions.len());
    let mut blocks = Vec::with_capacity(sessions.len());
    for (i, s) in sessions.iter().enumerate() {
        let song = format!("song[{i}] \"{}\"", album.songs[i].session_display);
        let Some(path) = &s.report else {
            return Err(AppError::Plan {
                path: s.file.clone(),
                message: format!("{song} writes no report, so it cannot be collected"),
            });
        };
        let err = |message: String| AppError::Plan {
            path: path.clone(),
            message: format!("{song}: {message}"),
        };
        let text = std::fs::read_to_string(path).map_err(|source| AppError::Read {
            path: path.clone(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| err(format!("not a mixdown report: {e}")))?;
        let session_sha = plans::sha256_file(&s.file).map_err(|source| AppError::Read {
            path: s.file.clone(),
            source,
        })?;
        if value["inputs"][0]["sha256"] != session_sha.as_str() {
            return Err(err(format!(
                "rendered from another version of {} (the report has sha256 {}, the file now {session_sha}): render the song again",
                shown(&s.file),
                value["inputs"][0]["sha256"]
            )));
        }
        let entry = album_report::song_entry(album, i, s, &value).map_err(err)?;
        let out = &s.outputs[0].path;
        let mut meter: Option<IntegratedMeter> = None;
        let back = read_back(out, &mut |planes| {
            meter
                .get_or_insert_with(|| IntegratedMeter::new(planes.len(), s.outputs[0].sample_rate))
                .add(planes)
        })
        .map_err(|source| AppError::Read {
            path: out.clone(),
            source,
        })?;
        if back.data_sha256 != entry.sha256 {
            return Err(err(format!(
                "{} is not the file its report describes (audio sha256 {}, the report says {}): collect the outputs with their reports",
                shown(out),
                back.data_sha256,
                entry.sha256
            )));
        }
        blocks.push(meter.map(|m| m.blocks().to_vec()).unwrap_or_default());
        songs.push(entry);
    }
    let blocks: Vec<&[f64]> = blocks.iter().map(|b| &b[..]).collect();
    let wall = started.elapsed().as_secs_f64();
    let report = album_report::build(album, songs, &blocks, 1, wall);
    finish(args, album, report, Staging::new(), wall)
}

/// The album's progress on the terminal: one bar per song while the songs render, then a
/// line naming the mastering step.
struct Bars {
    multi: Option<MultiProgress>,
    songs: Vec<ProgressBar>,
    line: ProgressBar,
}

impl Bars {
    fn new(quiet: bool, sessions: &[Session]) -> Bars {
        if quiet || !std::io::stderr().is_terminal() {
            return Bars {
                multi: None,
                songs: sessions.iter().map(|_| ProgressBar::hidden()).collect(),
                line: ProgressBar::hidden(),
            };
        }
        let multi = MultiProgress::new();
        let songs = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| bar_in(&multi, &format!("{:>2}. {}", i + 1, s.name)))
            .collect();
        Bars {
            multi: Some(multi),
            songs,
            line: ProgressBar::hidden(),
        }
    }

    /// The songs are rendered; mastering is at `what`.
    fn step(&mut self, what: &str) {
        if let Some(m) = &self.multi {
            for pb in &self.songs {
                pb.finish_and_clear();
            }
            if self.line.is_hidden() {
                self.line = m.add(stage_line(false));
            }
            self.line.set_message(format!("album: {what}"));
        }
    }

    fn finish(&self) {
        self.line.finish_and_clear();
        if let Some(m) = &self.multi {
            m.clear().ok();
        }
    }
}

/// `--plan`: combine measurement files into the album's plan.
fn plan(args: &AlbumArgs, album: &Album, sessions: &[Session]) -> Result<u8, AppError> {
    let mut measured: Vec<Option<(MeasurementFile, &std::path::Path)>> = vec![None; sessions.len()];
    let hashes: Vec<String> = sessions
        .iter()
        .map(|s| {
            plans::sha256_file(&s.file).map_err(|source| AppError::Read {
                path: s.file.clone(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;
    for path in &args.plan {
        let err = |message: String| AppError::Plan {
            path: path.clone(),
            message,
        };
        let m: MeasurementFile = super::read_interchange(path)?;
        let session_sha = m.inputs.first().map_or("", |i| i.sha256.as_str());
        let Some(i) = hashes.iter().position(|h| h == session_sha) else {
            return Err(err(format!(
                "measured from a session (sha256 {session_sha}) that is none of the album's songs as they are now: measure it again"
            )));
        };
        let t = &album.target;
        if m.target.lufs != t.lufs || m.target.ceiling_dbtp != t.ceiling_dbtp {
            return Err(err(format!(
                "song[{i}] was measured for {} LUFS at {} dBTP, but the album's target is {} LUFS at {} dBTP: set the session's [master].target to the album's and measure it again",
                m.target.lufs, m.target.ceiling_dbtp, t.lufs, t.ceiling_dbtp
            )));
        }
        if let Some((_, first)) = &measured[i] {
            return Err(err(format!(
                "song[{i}] was measured already, in {}",
                first.display()
            )));
        }
        measured[i] = Some((m, path));
    }
    let missing: Vec<String> = measured
        .iter()
        .enumerate()
        .filter(|(_, m)| m.is_none())
        .map(|(i, _)| format!("song[{i}] \"{}\"", album.songs[i].session_display))
        .collect();
    if !missing.is_empty() {
        return Err(AppError::Plan {
            path: album.file.clone(),
            message: format!("no measurement file for {}", missing.join(", ")),
        });
    }
    let measured: Vec<MeasurementFile> = measured.into_iter().flatten().map(|m| m.0).collect();
    let own: Vec<Vec<RatePlan>> = measured
        .iter()
        .map(|m| m.rates.iter().map(RatePlan::from).collect())
        .collect();
    let planned = plans::plan_gains(album.policy, &own);
    let levels: Vec<(&plans::PremasterLevels, f64)> = measured
        .iter()
        .zip(&planned)
        .filter_map(|(m, (_, rates))| Some((&m.premaster, rates.first()?.plan.gain_db)))
        .collect();
    let file = PlanFile {
        album_lufs_before_limiter: plans::album_lufs_before_limiter(&levels),
        schema_version: plans::SCHEMA_VERSION,
        kind: PLAN_KIND.into(),
        mixdown_version: env!("CARGO_PKG_VERSION").into(),
        policy: album.policy,
        target: album.target.clone(),
        songs: measured
            .into_iter()
            .zip(planned)
            .zip(&album.songs)
            .zip(&own)
            .map(|(((m, (offset, rates)), song), own)| PlannedSong {
                session: song.session_display.clone(),
                inputs: m.inputs,
                settings: song.settings.clone(),
                own_gain_db: own.first().map(|r| r.plan.gain_db),
                offset_db: offset,
                rates: rates.iter().map(RateGain::from).collect(),
            })
            .collect(),
    };
    let json = serde_json::to_string_pretty(&file).map_err(AppError::Json)?;
    match &args.output {
        Some(p) => crate::io::stage::write_atomic(p, format!("{json}\n").as_bytes())?,
        None => println!("{json}"),
    }
    Ok(exit::OK)
}

fn summary(album: &Album, r: &AlbumReport, verb: &str, wall: f64) {
    eprintln!(
        "mixdown: {verb} album {} ({} songs, {} policy) in {wall:.2} s",
        album
            .title
            .as_ref()
            .map_or_else(|| shown(&album.file), |t| format!("\"{t}\"")),
        r.songs.len(),
        album.policy.name()
    );
    for s in &r.songs {
        eprintln!(
            "  {:>2}. {} ({}, {}, gain {}, sha256 {}…)",
            s.track.unwrap_or(0),
            s.output,
            fmt_db(s.integrated_lufs, "LUFS"),
            fmt_db(s.true_peak_dbtp, "dBTP"),
            fmt_db(s.gain_db, "dB"),
            &s.sha256[..s.sha256.len().min(12)]
        );
    }
    eprintln!(
        "  album: {}, spread {}, true peak {}",
        fmt_db(r.integrated_lufs, "LUFS"),
        fmt_db(r.loudness_spread_lu, "LU"),
        fmt_db(r.true_peak_dbtp, "dBTP")
    );
    eprintln!("  report {}", shown(&album.report));
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    for g in &r.gate_failures {
        eprintln!("gate failed: {g}");
    }
}
