//! The album report: every song's loudness, true peak, loudness range, gain and limiting; the
//! album's integrated loudness (BS.1770-4 gating over the blocks of every song, not an average
//! of the songs' figures) and the spread of the songs' loudness; and the album's gates.

use serde::Serialize;

use crate::analysis::bs1770::integrated_from_blocks;
use crate::session::album::{Album, Policy};

use super::{TargetReport, db};

/// Version of the album report's layout.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct AlbumReport {
    pub schema_version: u32,
    pub mixdown_version: &'static str,
    pub album: AlbumInfo,
    pub songs: Vec<SongReport>,
    /// Integrated loudness of the album as delivered (each song's first output, seams
    /// included): the BS.1770-4 gates applied to every song's 400 ms blocks together, LUFS.
    pub integrated_lufs: Option<f64>,
    /// The loudest song's integrated loudness minus the quietest's, LU.
    pub loudness_spread_lu: Option<f64>,
    /// Largest true peak of any song, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Failed gates, the album's and every song's (exit status 3).
    pub gate_failures: Vec<String>,
    pub warnings: Vec<String>,
    pub render: AlbumRenderInfo,
}

#[derive(Debug, Serialize)]
pub struct AlbumInfo {
    pub title: Option<String>,
    pub file: String,
    pub policy: Policy,
    pub target: TargetReport,
}

/// One song as delivered.
#[derive(Debug, Clone, Serialize)]
pub struct SongReport {
    pub track: Option<u32>,
    pub title: Option<String>,
    pub session: String,
    /// The song's own render report.
    pub report: Option<String>,
    /// The first output: path and SHA-256 of its audio data.
    pub output: String,
    pub sha256: String,
    pub integrated_lufs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    /// Loudness range (EBU Tech 3342), LU.
    pub loudness_range_lu: Option<f64>,
    /// The gain that brings this song alone to the target, dB.
    pub own_gain_db: Option<f64>,
    /// The static gain applied, dB (the album's with the album policy).
    pub gain_db: Option<f64>,
    /// `gain_db - own_gain_db`, dB.
    pub offset_db: Option<f64>,
    pub limiter_max_reduction_db: Option<f64>,
    pub limiter_mean_reduction_db: Option<f64>,
    pub gate_failures: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct AlbumRenderInfo {
    pub jobs: usize,
    pub wall_time_s: f64,
}

/// The album's integrated loudness from the songs' 400 ms block energies: BS.1770-4 §2.8
/// gating over all of them at once, LUFS.
pub fn album_loudness(songs: &[&[f64]]) -> Option<f64> {
    let all: Vec<f64> = songs.iter().flat_map(|b| b.iter().copied()).collect();
    integrated_from_blocks(&all)
}

/// The album report from its songs' reports and block energies. Gates: every song's own, and
/// with the album policy, the loudest song within the tolerance of the target.
pub fn build(
    album: &Album,
    songs: Vec<SongReport>,
    blocks: &[&[f64]],
    warnings: Vec<String>,
    jobs: usize,
    wall: f64,
) -> AlbumReport {
    let t = &album.target;
    let levels: Vec<f64> = songs.iter().filter_map(|s| s.integrated_lufs).collect();
    let loudest = levels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let quietest = levels.iter().copied().fold(f64::INFINITY, f64::min);
    let mut gates = Vec::new();
    if album.policy == Policy::Album {
        match songs.iter().find(|s| s.integrated_lufs == Some(loudest)) {
            Some(s) if (loudest - t.lufs).abs() > t.tolerance_lu => gates.push(format!(
                "album: the loudest song, {}, is {loudest:.2} LUFS, {:.2} LU from the target {} LUFS (tolerance {} LU)",
                s.output,
                (loudest - t.lufs).abs(),
                t.lufs,
                t.tolerance_lu
            )),
            Some(_) => {}
            None => gates.push(format!(
                "album: every song is silent, so none meets the target {} LUFS",
                t.lufs
            )),
        }
    }
    for s in &songs {
        gates.extend(s.gate_failures.iter().cloned());
    }
    AlbumReport {
        schema_version: SCHEMA_VERSION,
        mixdown_version: env!("CARGO_PKG_VERSION"),
        album: AlbumInfo {
            title: album.title.clone(),
            file: super::shown(&album.file),
            policy: album.policy,
            target: TargetReport {
                preset: t.preset.clone(),
                lufs: t.lufs,
                ceiling_dbtp: t.ceiling_dbtp,
                tolerance_lu: t.tolerance_lu,
            },
        },
        integrated_lufs: album_loudness(blocks).and_then(db),
        loudness_spread_lu: (!levels.is_empty())
            .then(|| db(loudest - quietest))
            .flatten(),
        true_peak_dbtp: songs
            .iter()
            .filter_map(|s| s.true_peak_dbtp)
            .reduce(f64::max),
        songs,
        gate_failures: gates,
        warnings,
        render: AlbumRenderInfo {
            jobs,
            wall_time_s: (wall * 1000.0).round() / 1000.0,
        },
    }
}
