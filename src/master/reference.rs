//! Reference matching: move the master's tonal balance, width and level part of the way towards
//! a reference track, before the target stage.
//!
//! The loudest sections of both (the louder half of their 100 ms momentary-loudness blocks, so
//! intros and breakdowns do not pull the comparison) are analysed in mid and side; the smoothed
//! ratio of their long-term spectra on a log-frequency grid ([`super::matching::match_curve`]:
//! 1/3-octave smoothing, level-normalised, limited to ±12 dB, scaled by `amount`) becomes a
//! linear-phase FIR for mid and one for side; width follows the side-to-mid energy ratio; and,
//! when the session has no loudness target (which would set the level anyway), the level moves
//! by `amount` of the integrated-loudness difference.

use std::sync::Arc;

use serde::Serialize;

use crate::analysis::loudness;
use crate::analysis::spectrum::{self, BandDelta, Spectrum};
use crate::dsp::db::{db_to_gain, power_to_db};
use crate::dsp::fir::{self, Fir};
use crate::dsp::{ProcessSpec, Processor};
use crate::session::model::Reference;

use super::matching::{self, MatchCurve};

/// What reference matching did (for the report).
#[derive(Debug, Clone, Serialize)]
pub struct MatchReport {
    pub reference: String,
    pub amount: f64,
    /// Correction applied to mid and side, dB, on a 1/12-octave grid (empty when `eq` is not
    /// matched).
    pub curve: Vec<CurvePoint>,
    /// Side gain applied for width, dB (0 when `width` is not matched or a signal is mono).
    pub width_gain_db: f64,
    /// Level change applied, dB (0 when `loudness` is not matched or a target sets it).
    pub loudness_gain_db: f64,
    /// Why a requested dimension was not applied.
    pub notes: Vec<String>,
    /// Band-by-band mid difference to the reference before and after matching.
    pub before: Vec<BandDelta>,
    pub after: Vec<BandDelta>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct CurvePoint {
    pub hz: f64,
    pub mid_db: f64,
    pub side_db: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error("reference {file}: {message}")]
    Reference { file: String, message: String },
}

/// The loudest-sections spectrum of a signal and its integrated loudness.
fn profile(planes: &[Vec<f32>], rate: u32) -> Result<(Spectrum, Option<f64>), String> {
    let p = loudness::analyze_program(planes, rate).map_err(|e| e.to_string())?;
    let sp = spectrum::loudest_spectrum(planes, rate, &p.momentary, spectrum::LOUDEST_FRACTION);
    Ok((sp, p.levels.integrated_lufs))
}

/// Filter one channel offline through a linear-phase FIR, latency removed (same length).
fn filter(x: &[f32], coeffs: Arc<Vec<f32>>, rate: u32) -> Vec<f32> {
    const BLOCK: usize = 4096;
    let mut fir = Fir::new(coeffs);
    fir.prepare(&ProcessSpec {
        sample_rate: f64::from(rate),
        max_block: BLOCK,
        channels: 1,
    });
    let latency = fir.latency();
    let mut out = Vec::with_capacity(x.len() + latency);
    let mut buf = vec![0.0f32; BLOCK];
    let total = x.len() + latency;
    let mut pos = 0;
    while pos < total {
        let n = BLOCK.min(total - pos);
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = x.get(pos + k).copied().unwrap_or(0.0);
        }
        fir.process(&mut [&mut buf[..n]]);
        out.extend_from_slice(&buf[..n]);
        pos += n;
    }
    out.drain(..latency);
    out.truncate(x.len());
    out
}

/// Match `planes` (stereo, at `rate`) to the reference. `target_sets_level` skips the level
/// step (the target stage decides the level).
pub fn apply(
    planes: &[Vec<f32>],
    rate: u32,
    r: &Reference,
    target_sets_level: bool,
) -> Result<(Vec<Vec<f32>>, MatchReport), MatchError> {
    let file = r.file.display().to_string();
    let err = |message: String| MatchError::Reference {
        file: file.clone(),
        message,
    };
    let (info, ref_planes) =
        crate::io::decode::decode_all(&r.file).map_err(|e| err(e.to_string()))?;
    let ref_planes = crate::io::resample::resample_all(&ref_planes, info.sample_rate, rate)
        .map_err(|e| err(e.to_string()))?;
    let ((mix_sp, mix_i), (ref_sp, ref_i)) = {
        let (a, b) = rayon::join(|| profile(planes, rate), || profile(&ref_planes, rate));
        (a.map_err(&err)?, b.map_err(&err)?)
    };
    let mut notes = Vec::new();
    let before = spectrum::band_differences(&mix_sp, &ref_sp);

    // Mid and side.
    let n = planes[0].len();
    let (mut mid, mut side): (Vec<f32>, Vec<f32>) = planes[0]
        .iter()
        .zip(&planes[1])
        .map(|(&l, &r)| (0.5 * (l + r), 0.5 * (l - r)))
        .unzip();

    let mut curve = Vec::new();
    if r.eq {
        let m: MatchCurve = matching::match_curve(&mix_sp, &ref_sp, r.amount);
        let taps = fir::taps_for(f64::from(rate));
        let mid_fir = Arc::new(fir::design_linear_phase(
            &|f| m.gain_db(f),
            f64::from(rate),
            taps,
        ));
        let side_fir = m.side.as_ref().map(|_| {
            Arc::new(fir::design_linear_phase(
                &|f| m.side_gain_db(f),
                f64::from(rate),
                taps,
            ))
        });
        let (fm, fs) = rayon::join(
            || filter(&mid, mid_fir, rate),
            || side_fir.map(|c| filter(&side, c, rate)),
        );
        mid = fm;
        if let Some(fs) = fs {
            side = fs;
        }
        curve = matching::match_grid()
            .into_iter()
            .map(|hz| CurvePoint {
                hz: (hz * 10.0).round() / 10.0,
                mid_db: (m.gain_db(hz) * 100.0).round() / 100.0,
                side_db: (m.side_gain_db(hz) * 100.0).round() / 100.0,
            })
            .collect();
    }

    let mut width_gain_db = 0.0;
    if r.width {
        if info.channels == 2 {
            let ratio = spectrum::width_ratio(&mix_sp, &ref_sp);
            // An energy ratio: the side's amplitude moves by its square root, scaled by amount.
            width_gain_db = power_to_db(ratio) * r.amount;
            let g = db_to_gain(width_gain_db) as f32;
            side.iter_mut().for_each(|s| *s *= g);
        } else {
            notes.push("width not matched: the reference is mono".into());
        }
    }

    let mut loudness_gain_db = 0.0;
    if r.loudness {
        match (target_sets_level, mix_i, ref_i) {
            (true, _, _) => {
                notes.push("loudness not matched: the target stage sets the level".into())
            }
            (false, Some(a), Some(b)) => loudness_gain_db = (b - a) * r.amount,
            _ => notes.push("loudness not matched: a signal is silent".into()),
        }
    }
    let g = db_to_gain(loudness_gain_db) as f32;
    let out = vec![
        (0..n).map(|i| g * (mid[i] + side[i])).collect::<Vec<f32>>(),
        (0..n).map(|i| g * (mid[i] - side[i])).collect::<Vec<f32>>(),
    ];
    let (after_sp, _) = profile(&out, rate).map_err(&err)?;
    let after = spectrum::band_differences(&after_sp, &ref_sp);
    Ok((
        out,
        MatchReport {
            reference: file.clone(),
            amount: r.amount,
            curve,
            width_gain_db: (width_gain_db * 100.0).round() / 100.0,
            loudness_gain_db: (loudness_gain_db * 100.0).round() / 100.0,
            notes,
            before,
            after,
        },
    ))
}
