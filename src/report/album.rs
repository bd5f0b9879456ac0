//! The album report: every song's loudness, true peak, loudness range, gain and limiting; the
//! album's integrated loudness (BS.1770-4 gating over the blocks of every song, not an average
//! of the songs' figures) and the spread of the songs' loudness; and the album's gates.

use serde::Serialize;
use serde_json::Value;

use crate::analysis::bs1770::integrated_from_blocks;
use crate::master::Mastered;
use crate::session::Session;
use crate::session::album::{Album, Policy};

use super::{Gate, TargetReport, db, shown};

/// Version of the album report's layout.
pub const SCHEMA_VERSION: u32 = 1;
/// The album's gate: with the album policy, the loudest song within the tolerance of the target.
pub const ALBUM_LOUDNESS_GATE: &str = "album_loudness_off_target";

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
    /// Every gate evaluated, the album's first, then every song's, with stable codes
    /// (`album_loudness_off_target` for the album's; a song's as in its own report).
    pub gates: Vec<Value>,
    pub warnings: Vec<String>,
    pub render: AlbumRenderInfo,
}

/// What an album did to one of its songs, as the song's own report tells it.
#[derive(Debug, Clone, Serialize)]
pub struct SongAlbum {
    pub policy: Policy,
    /// The gain that brings this song alone to the target, dB.
    pub own_gain_db: Option<f64>,
    /// The gain applied minus the song's own, dB (0 with the track policy).
    pub offset_db: Option<f64>,
}

impl SongAlbum {
    /// From the song's own gain at its first output's rate (`None` without a target stage) and
    /// its master.
    pub fn new(policy: Policy, own_gain_db: Option<f64>, m: &Mastered) -> SongAlbum {
        let gain = m.target.as_ref().map(|t| t.static_gain_db);
        SongAlbum {
            policy,
            own_gain_db: own_gain_db.and_then(db),
            offset_db: own_gain_db.zip(gain).and_then(|(o, g)| db(g - o)),
        }
    }
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
    /// The song's gates as its report has them.
    #[serde(skip)]
    pub gates: Vec<Value>,
    /// The song's warnings as its report has them.
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// The session's name (for warnings).
    #[serde(skip)]
    pub name: String,
}

/// The album report's entry for song `i` (`s`, as the album set it up) from the song's own
/// report as written (JSON): the one reading of a song report, whether the song was rendered by
/// `mixdown album` or applied from a plan elsewhere and collected. `Err` says what is missing.
pub fn song_entry(
    album: &Album,
    i: usize,
    s: &Session,
    report: &Value,
) -> Result<SongReport, String> {
    let num = |v: &Value| v.as_f64();
    let first = report["outputs"]
        .get(0)
        .ok_or("the report lists no output")?;
    let text = |v: &Value, what: &str| {
        v.as_str()
            .map(str::to_string)
            .ok_or(format!("the report has no {what}"))
    };
    let stage = &report["master"]["stage"];
    let part = &report["album"];
    if part.is_null() {
        return Err("the report is not an album song's: render the song with --plan".into());
    }
    Ok(SongReport {
        track: s.tags.track,
        title: s.tags.title.clone(),
        session: album.songs[i].session_display.clone(),
        report: s.report.as_deref().map(shown),
        output: text(&first["path"], "output path")?,
        sha256: text(&first["sha256"], "output SHA-256")?,
        integrated_lufs: num(&first["integrated_lufs"]),
        true_peak_dbtp: num(&first["true_peak_dbtp"]),
        loudness_range_lu: num(&report["master"]["loudness_range_lu"]),
        own_gain_db: num(&part["own_gain_db"]),
        gain_db: num(&stage["static_gain_db"]),
        offset_db: num(&part["offset_db"]),
        limiter_max_reduction_db: num(&stage["limiter_max_reduction_db"]),
        limiter_mean_reduction_db: num(&stage["limiter_mean_reduction_db"]),
        gate_failures: strings(&report["gate_failures"]),
        gates: report["gates"].as_array().cloned().unwrap_or_default(),
        warnings: strings(&report["warnings"]),
        name: s.name.clone(),
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
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
    jobs: usize,
    wall: f64,
) -> AlbumReport {
    let t = &album.target;
    let levels: Vec<f64> = songs.iter().filter_map(|s| s.integrated_lufs).collect();
    let loudest = levels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let quietest = levels.iter().copied().fold(f64::INFINITY, f64::min);
    let mut failures = Vec::new();
    let mut gates = Vec::new();
    if album.policy == Policy::Album {
        let failed = match songs.iter().find(|s| s.integrated_lufs == Some(loudest)) {
            Some(s) if (loudest - t.lufs).abs() > t.tolerance_lu => Some(format!(
                "album: the loudest song, {}, is {loudest:.2} LUFS, {:.2} LU from the target {} LUFS (tolerance {} LU)",
                s.output,
                (loudest - t.lufs).abs(),
                t.lufs,
                t.tolerance_lu
            )),
            Some(_) => None,
            None => Some(format!(
                "album: every song is silent, so none meets the target {} LUFS",
                t.lufs
            )),
        };
        let gate = Gate {
            code: ALBUM_LOUDNESS_GATE,
            output: None,
            passed: failed.is_none(),
            message: failed.clone(),
        };
        gates.push(serde_json::to_value(gate).unwrap_or(Value::Null));
        failures.extend(failed);
    }
    let mut warnings = Vec::new();
    for (i, s) in songs.iter().enumerate() {
        failures.extend(s.gate_failures.iter().cloned());
        gates.extend(s.gates.iter().cloned());
        warnings.extend(
            s.warnings
                .iter()
                .map(|w| format!("song[{i}] \"{}\": {w}", s.name)),
        );
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
        gate_failures: failures,
        gates,
        warnings,
        render: AlbumRenderInfo {
            jobs,
            wall_time_s: (wall * 1000.0).round() / 1000.0,
        },
    }
}
