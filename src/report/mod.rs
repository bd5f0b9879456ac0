//! The JSON render report: what was rendered and what was measured, for people and for CI;
//! [`build`] assembles it from a finished render and [`gates`] judges the render. Levels are
//! rounded to 0.01 dB; silence (minus infinity) is `null`.

pub mod album;
pub mod build;
pub mod gates;

use std::path::Path;

use serde::Serialize;

pub use crate::analysis::report::{ProgramReport, db};
pub use build::build;
pub use gates::{Gate, Verdicts, verdicts};

/// Version of the render report's layout; it changes when a field changes meaning or goes.
pub const SCHEMA_VERSION: u32 = 1;

/// A path as the user would write it: relative to the working directory when inside it.
pub fn shown(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf())
        .display()
        .to_string()
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    pub mixdown_version: &'static str,
    pub session: SessionInfo,
    /// Every file the render read (the session, stems, impulse responses, the reference) and
    /// the SHA-256 of its bytes.
    pub inputs: Vec<crate::master::album::InputHash>,
    pub tracks: Vec<TrackReport>,
    pub buses: Vec<BusReport>,
    pub mix: MixReport,
    pub master: MasterReport,
    pub outputs: Vec<OutputReport>,
    pub warnings: Vec<String>,
    /// The stable code of each warning, in the same order.
    pub warning_codes: Vec<&'static str>,
    /// Delivery gates that failed (exit status 3).
    pub gate_failures: Vec<String>,
    /// Every delivery gate evaluated, with its stable code and whether it passed.
    pub gates: Vec<Gate>,
    /// What an album did to this song (`mixdown album`, `render --plan`); `null` otherwise.
    pub album: Option<album::SongAlbum>,
    pub render: RenderInfo,
}

#[derive(Debug, Serialize)]
pub struct SessionInfo {
    pub name: String,
    pub file: String,
    pub sample_rate: u32,
    pub duration_s: f64,
    pub frames: u64,
    /// Frames after the last stem ended (effect tails).
    pub tail_frames: u64,
}

#[derive(Debug, Serialize)]
pub struct TrackReport {
    pub name: String,
    pub file: String,
    pub format: String,
    pub source_sample_rate: u32,
    pub source_channels: usize,
    pub muted: bool,
    /// Peak of the decoded stem, dBFS.
    pub source_peak_dbfs: Option<f64>,
    /// Samples of the stem at or beyond full scale (clipping in the source).
    pub source_clipped_samples: u64,
    /// Peak of the track's contribution (after fader and pan), dBFS.
    pub peak_dbfs: Option<f64>,
    /// Integrated loudness of the track's contribution, LUFS.
    pub integrated_lufs: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct BusReport {
    pub name: String,
    pub muted: bool,
    pub peak_dbfs: Option<f64>,
    pub integrated_lufs: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct MixReport {
    pub sample_peak_dbfs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub integrated_lufs: Option<f64>,
    /// dB between the true peak and 0 dBTP.
    pub headroom_db: Option<f64>,
    /// Samples at or beyond full scale in the float mix bus.
    pub clipped_samples: u64,
}

/// The loudness target as requested.
#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub preset: Option<String>,
    pub lufs: f64,
    pub ceiling_dbtp: f64,
    pub tolerance_lu: f64,
}

/// What the target stage did.
#[derive(Debug, Serialize)]
pub struct TargetStageReport {
    /// Integrated loudness entering the stage, LUFS.
    pub input_lufs: Option<f64>,
    /// The one static gain applied, dB.
    pub static_gain_db: Option<f64>,
    /// Largest and average limiter gain reduction, dB.
    pub limiter_max_reduction_db: Option<f64>,
    pub limiter_mean_reduction_db: Option<f64>,
    /// Limiter ceiling used (may sit below the requested ceiling), dBTP.
    pub limiter_ceiling_dbtp: Option<f64>,
    /// Gain/limiter passes the loudness iteration took.
    pub passes: usize,
}

/// The master at the session rate, after the target stage.
#[derive(Debug, Serialize)]
pub struct MasterReport {
    /// Reference matching: the correction curve, width and level changes, and the band
    /// differences to the reference before and after.
    pub reference_match: Option<crate::master::reference::MatchReport>,
    pub target: Option<TargetReport>,
    pub stage: Option<TargetStageReport>,
    #[serde(flatten)]
    pub levels: ProgramReport,
}

#[derive(Debug, Serialize)]
pub struct OutputReport {
    pub path: String,
    pub format: String,
    pub sample_rate: u32,
    pub bit_depth: u32,
    pub dither: String,
    pub frames: usize,
    pub duration_s: f64,
    /// SHA-256 of the `data` chunk payload (the audio, not the tags).
    pub sha256: String,
    /// Samples clamped at quantization (for float: samples beyond ±1.0).
    pub clipped_samples: u64,
    pub sample_peak_dbfs: Option<f64>,
    /// The larger of the BS.1770-4 (4x) and mixdown's 8x true-peak readings, dBTP.
    pub true_peak_dbtp: Option<f64>,
    pub integrated_lufs: Option<f64>,
    /// With `[master]` fades: the integrated loudness before them, LUFS; the loudness gate
    /// judges this figure (absent without master fades).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrated_lufs_before_fades: Option<f64>,
    /// Requested loudness and ceiling (with a target), and the verdict of each gate.
    pub requested_lufs: Option<f64>,
    pub requested_ceiling_dbtp: Option<f64>,
    pub loudness_ok: Option<bool>,
    pub true_peak_ok: Option<bool>,
    /// Times the output stage was redone with a lower limiter ceiling to keep the true peak.
    pub redone: usize,
}

#[derive(Debug, Serialize)]
pub struct RenderInfo {
    pub jobs: usize,
    pub wall_time_s: f64,
    /// Song duration divided by wall time.
    pub realtime_factor: f64,
}
