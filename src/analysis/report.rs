//! The JSON render report: what was rendered and what was measured, for people and for CI.
//! Levels are rounded to 0.01 dB; silence (minus infinity) is `null`.

use serde::Serialize;

/// Round to 0.01 and map non-finite values to `None` (JSON has no infinity).
pub fn db(x: f64) -> Option<f64> {
    x.is_finite().then(|| (x * 100.0).round() / 100.0)
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub mixdown_version: &'static str,
    pub session: SessionInfo,
    pub tracks: Vec<TrackReport>,
    pub buses: Vec<BusReport>,
    pub mix: MixReport,
    pub master: MasterReport,
    pub outputs: Vec<OutputReport>,
    pub warnings: Vec<String>,
    /// Delivery gates that failed (exit status 3).
    pub gate_failures: Vec<String>,
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

/// Loudness, peak and stereo figures of a finished signal (the master, or a file under
/// `analyze`), rounded for the report.
#[derive(Debug, Serialize)]
pub struct ProgramReport {
    pub integrated_lufs: Option<f64>,
    /// Loudness range (EBU Tech 3342), LU.
    pub loudness_range_lu: Option<f64>,
    pub max_momentary_lufs: Option<f64>,
    pub max_shortterm_lufs: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
    /// BS.1770-4 true peak (4x oversampled, ebur128), dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Peak-to-loudness ratio, dB.
    pub plr_db: Option<f64>,
    pub crest_factor_db: Option<f64>,
    /// Pearson correlation of left and right.
    pub stereo_correlation: Option<f64>,
    /// Loudness lost when folded to mono, LU.
    pub mono_fold_loss_lu: Option<f64>,
}

impl ProgramReport {
    pub fn new(p: &crate::analysis::loudness::Program) -> Self {
        ProgramReport {
            integrated_lufs: p.levels.integrated_lufs.and_then(db),
            loudness_range_lu: p.lra.and_then(db),
            max_momentary_lufs: p.max_momentary.and_then(db),
            max_shortterm_lufs: p.max_shortterm.and_then(db),
            sample_peak_dbfs: db(p.levels.sample_peak_dbfs),
            true_peak_dbtp: db(p.levels.true_peak_dbtp),
            plr_db: p.plr.and_then(db),
            crest_factor_db: p.crest_db.and_then(db),
            stereo_correlation: p.correlation.map(|c| (c * 1000.0).round() / 1000.0),
            mono_fold_loss_lu: p.mono_fold_loss.and_then(db),
        }
    }
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
