//! Figures of a finished signal as reports show them: levels in dB rounded to 0.01, silence
//! (minus infinity) as `null`.

use serde::Serialize;

/// Round to 0.01 and map non-finite values to `None` (JSON has no infinity).
pub fn db(x: f64) -> Option<f64> {
    x.is_finite().then(|| (x * 100.0).round() / 100.0)
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
