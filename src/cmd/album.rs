//! `mixdown album`: render the songs of an album file (in parallel, within `--jobs`), measure
//! each one's own gain, plan the album's (the loudness policy), deliver every song with it, and
//! write each song's outputs and report and the album report, all or nothing. With `--plan`,
//! combine measurement files made elsewhere into a plan instead (see `master::album`).

use std::time::Instant;

use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::cli::AlbumArgs;
use crate::engine::MixStats;
use crate::error::{AppError, exit};
use crate::io::stage::Staging;
use crate::master::album::{
    self as plans, MeasurementFile, PLAN_KIND, PlanFile, PlannedSong, RateGain,
};
use crate::master::{self, Mastered, Premaster, Prepared, RatePlan};
use crate::report::album::{self as album_report, AlbumReport, SongReport};
use crate::report::{Report, db};
use crate::session::Session;
use crate::session::album::{Album, Policy, load_album};

use super::render::{input_hashes, song_report};
use super::ui::{fmt_db, shown};

pub fn run(args: &AlbumArgs) -> Result<u8, AppError> {
    let started = Instant::now();
    let (album, sessions) = load_album(&args.album, args.report.as_deref())?;
    if !args.plan.is_empty() {
        return plan(args, &album, &sessions);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (jobs, cut) = super::render::worker_threads(args.jobs.map(|n| n.get()), cores);
    if let Some(w) = cut
        && !args.quiet
    {
        eprintln!("warning: {w}");
    }
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
    let stems: usize = sessions.iter().map(|s| s.tracks.len()).sum();
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
    let hidden = ProgressBar::hidden();
    let (pres, mut mastered) = pool.install(|| -> Result<_, AppError> {
        let pres: Vec<(MixStats, Premaster)> = sessions
            .par_iter()
            .map(|s| master::premaster::render(s, &hidden))
            .collect::<Result<_, _>>()?;
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
        let mastered: Vec<(Mastered, Vec<RatePlan>)> = sessions
            .par_iter()
            .zip(prepared)
            .zip(own)
            .map(|((s, p), own)| master::deliver(s, p, false, &|_| {}).map(|m| (m, own)))
            .collect::<Result<_, _>>()?;
        Ok((pres, mastered))
    })?;

    let wall = started.elapsed().as_secs_f64();
    let mut songs = Vec::with_capacity(sessions.len());
    let mut warnings = Vec::new();
    for (i, (s, ((stats, pre), (m, own)))) in sessions
        .iter()
        .zip(pres.iter().zip(mastered.iter_mut()))
        .enumerate()
    {
        let report = song_report(
            s,
            stats,
            pre,
            m,
            args.strict,
            input_hashes(s)?,
            jobs,
            wall,
            &mut files,
        );
        let json = serde_json::to_vec_pretty(&report).map_err(AppError::Json)?;
        if let Some(path) = &s.report {
            files.add(path, &json)?;
        }
        warnings.extend(
            report
                .warnings
                .iter()
                .map(|w| format!("song[{i}] \"{}\": {w}", s.name)),
        );
        songs.push(song_entry(&album, i, s, &report, m, own));
    }
    let blocks: Vec<&[f64]> = mastered
        .iter()
        .map(|(m, _)| &m.deliveries[0].blocks[..])
        .collect();
    let report = album_report::build(&album, songs, &blocks, warnings, jobs, wall);
    let json = serde_json::to_vec_pretty(&report).map_err(AppError::Json)?;
    files.add(&album.report, &json)?;
    files.commit()?;
    if !args.quiet {
        summary(&album, &report, wall);
    }
    Ok(if report.gate_failures.is_empty() {
        exit::OK
    } else {
        exit::GATE
    })
}

/// The album report's entry for song `i`.
fn song_entry(
    album: &Album,
    i: usize,
    s: &Session,
    report: &Report,
    m: &Mastered,
    own: &[RatePlan],
) -> SongReport {
    let first = &report.outputs[0];
    let own_gain = own.first().map(|r| r.plan.gain_db);
    let gain = m.target.as_ref().map(|t| t.static_gain_db);
    SongReport {
        track: s.tags.track,
        title: s.tags.title.clone(),
        session: album.songs[i].session_display.clone(),
        report: s.report.as_deref().map(shown),
        output: first.path.clone(),
        sha256: first.sha256.clone(),
        integrated_lufs: first.integrated_lufs,
        true_peak_dbtp: first.true_peak_dbtp,
        loudness_range_lu: m.program.lra.and_then(db),
        own_gain_db: own_gain.and_then(db),
        gain_db: gain.and_then(db),
        offset_db: own_gain.zip(gain).and_then(|(o, g)| db(g - o)),
        limiter_max_reduction_db: m
            .target
            .as_ref()
            .and_then(|t| db(t.limiter.max_reduction_db)),
        limiter_mean_reduction_db: m
            .target
            .as_ref()
            .and_then(|t| db(t.limiter.mean_reduction_db)),
        gate_failures: report.gate_failures.clone(),
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
    let file = PlanFile {
        schema_version: plans::SCHEMA_VERSION,
        kind: PLAN_KIND.into(),
        mixdown_version: env!("CARGO_PKG_VERSION").into(),
        policy: album.policy,
        target: album.target.clone(),
        songs: measured
            .into_iter()
            .zip(planned)
            .zip(&album.songs)
            .map(|((m, (offset, rates)), song)| PlannedSong {
                session: song.session_display.clone(),
                inputs: m.inputs,
                settings: song.settings.clone(),
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

fn summary(album: &Album, r: &AlbumReport, wall: f64) {
    eprintln!(
        "mixdown: rendered album {} ({} songs, {} policy) in {wall:.2} s",
        album
            .title
            .as_ref()
            .map_or_else(|| shown(&album.file), |t| format!("\"{t}\"")),
        r.songs.len(),
        match album.policy {
            Policy::Album => "album",
            Policy::Track => "track",
        }
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
