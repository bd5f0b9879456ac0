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
    pub true_peak_dbtp: Option<f64>,
    pub integrated_lufs: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct RenderInfo {
    pub jobs: usize,
    pub wall_time_s: f64,
    /// Song duration divided by wall time.
    pub realtime_factor: f64,
}
