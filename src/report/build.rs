//! Assembling the report from a finished render.

use crate::engine::MixStats;
use crate::io::wav::{Dither, Encoding};
use crate::master::album::InputHash;
use crate::master::{Mastered, Premaster};
use crate::session::Session;

use super::{
    BusReport, MasterReport, MixReport, OutputReport, ProgramReport, RenderInfo, Report,
    SessionInfo, TargetReport, TargetStageReport, TrackReport, Verdicts, db, shown,
};

/// The report of a render: `jobs` worker threads, `wall` seconds from start to finish.
#[allow(clippy::too_many_arguments)] // the parts of a finished render, each used once
pub fn build(
    session: &Session,
    stats: &MixStats,
    pre: &Premaster,
    mastered: &Mastered,
    verdicts: Verdicts,
    inputs: Vec<InputHash>,
    jobs: usize,
    wall: f64,
) -> Report {
    let Verdicts {
        warnings,
        gate_failures,
        warning_codes,
        gates,
    } = verdicts;
    let levels = &pre.mix_levels;
    let target = session.master.target.as_ref();
    let p = &mastered.program;
    let rate = f64::from(session.sample_rate);
    let frames = pre.frames() as u64;
    Report {
        schema_version: super::SCHEMA_VERSION,
        mixdown_version: env!("CARGO_PKG_VERSION"),
        inputs,
        session: SessionInfo {
            name: session.name.clone(),
            file: shown(&session.file),
            sample_rate: session.sample_rate,
            duration_s: frames as f64 / rate,
            frames,
            tail_frames: frames.saturating_sub(pre.content_frames),
        },
        tracks: session
            .tracks
            .iter()
            .zip(&stats.tracks)
            .zip(&stats.stems)
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
        buses: stats
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
                frames: d.encoded.frames as usize,
                duration_s: d.encoded.frames as f64 / f64::from(d.sample_rate),
                sha256: d.encoded.data_sha256.clone(),
                clipped_samples: d.encoded.clipped_samples,
                sample_peak_dbfs: db(d.levels.sample_peak_dbfs),
                true_peak_dbtp: db(d.true_peak_dbtp),
                integrated_lufs: d.levels.integrated_lufs.and_then(db),
                requested_lufs: target.map(|t| t.lufs),
                requested_ceiling_dbtp: target.map(|t| t.ceiling_dbtp),
                integrated_lufs_before_fades: d.before_fades_lufs.and_then(db),
                loudness_ok: target.map(|t| {
                    d.gated_lufs()
                        .is_some_and(|i| super::gates::loudness_ok(session, t, i))
                }),
                true_peak_ok: target.map(|t| d.true_peak_dbtp <= t.ceiling_dbtp),
                redone: d.redone,
            })
            .collect(),
        warnings,
        warning_codes,
        gate_failures,
        gates,
        album: None,
        render: RenderInfo {
            jobs,
            wall_time_s: (wall * 1000.0).round() / 1000.0,
            realtime_factor: ((frames as f64 / rate) / wall.max(1e-9) * 10.0).round() / 10.0,
        },
    }
}
