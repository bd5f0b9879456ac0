//! The reference-matching EQ curve: the smoothed ratio of a reference's long-term spectrum to
//! the mix's, level-normalised and limited, for mid and for side.

use serde::Serialize;

use crate::analysis::spectrum::compare::median;
use crate::analysis::spectrum::{FLOOR_DB, SILENT_DB, Spectrum, log_grid};

/// Largest correction of the matching curve, dB either way: beyond this a "match" is more
/// likely a different arrangement than a tonal-balance problem, and boosting by more than
/// 12 dB mostly raises noise.
pub const MAX_CORRECTION_DB: f64 = 12.0;

/// A point of the matching curve is trusted only where both smoothed spectra are within this
/// many dB of their own loudest point (and above [`SILENT_DB`]); elsewhere the curve is 0 dB,
/// so an empty region (a low-passed top octave) is not boosted into noise.
pub const MATCH_RANGE_DB: f64 = 80.0;

/// A correction curve: gain in dB at log-spaced frequencies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GainCurve {
    /// Grid frequencies, ascending, Hz.
    pub freqs_hz: Vec<f64>,
    /// Gain at each grid frequency, dB.
    pub gains_db: Vec<f64>,
}

impl GainCurve {
    /// Gain at `f` Hz, dB: linear interpolation in log frequency between grid points, the end
    /// values held beyond the grid (and for `f <= 0` or NaN); 0 for an empty curve.
    pub fn gain_db(&self, f: f64) -> f64 {
        let (fs, gs) = (&self.freqs_hz, &self.gains_db);
        let n = fs.len().min(gs.len());
        if n == 0 {
            return 0.0;
        }
        if f.is_nan() || f <= fs[0] {
            return gs[0];
        }
        if f >= fs[n - 1] {
            return gs[n - 1];
        }
        let j = fs[..n].partition_point(|&x| x <= f).clamp(1, n - 1);
        let (a, b) = (fs[j - 1], fs[j]);
        let t = if b > a && a > 0.0 {
            (f / a).ln() / (b / a).ln()
        } else {
            1.0
        };
        gs[j - 1] + t * (gs[j] - gs[j - 1])
    }
}

/// Reference-matching EQ for mid and side, see [`match_curve`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchCurve {
    /// The `amount` the curve was scaled by, 0..1.
    pub amount: f64,
    /// Mid correction.
    pub mid: GainCurve,
    /// Side correction; `None` when either signal is mono or has a silent side.
    pub side: Option<GainCurve>,
}

impl MatchCurve {
    /// Mid gain at `f` Hz, dB (see [`GainCurve::gain_db`]).
    pub fn gain_db(&self, f: f64) -> f64 {
        self.mid.gain_db(f)
    }

    /// Side gain at `f` Hz, dB; 0 without a side curve.
    pub fn side_gain_db(&self, f: f64) -> f64 {
        self.side.as_ref().map_or(0.0, |s| s.gain_db(f))
    }
}

/// The 1/12-octave grid of the matching curve: `log_grid(12)`, 121 points from 20 Hz to
/// 20.5 kHz.
pub fn match_grid() -> Vec<f64> {
    log_grid(12)
}

/// The EQ that moves the tonal balance of `mix` toward `reference`.
///
/// At each point of [`match_grid`]: both spectra 1/3-octave smoothed, the ratio
/// reference / mix in dB; minus its median over the grid (level normalisation: the broadband
/// level is matched by the loudness stage, so the curve only tilts and shapes); limited to
/// ±[`MAX_CORRECTION_DB`]; times `amount` (clamped to 0..1, NaN as 0). Points above either
/// Nyquist frequency, or where either smoothed spectrum is silent or more than
/// [`MATCH_RANGE_DB`] below its own maximum, get 0 dB. Mid and side are matched separately,
/// each with its own normalisation (the side level is [`width_ratio`]'s job).
pub fn match_curve(mix: &Spectrum, reference: &Spectrum, amount: f64) -> MatchCurve {
    let amount = if amount.is_nan() {
        0.0
    } else {
        amount.clamp(0.0, 1.0)
    };
    let grid = match_grid();
    let (mix_mid, mix_side) = mix.smoothed_at(1.0 / 3.0, &grid);
    let (ref_mid, ref_side) = reference.smoothed_at(1.0 / 3.0, &grid);
    let top = mix.nyquist().min(reference.nyquist());
    let mid = curve(&grid, &mix_mid, &ref_mid, top, amount);
    let side = match (mix_side, ref_side) {
        (Some(m), Some(r)) if is_live(&m) && is_live(&r) => Some(curve(&grid, &m, &r, top, amount)),
        _ => None,
    };
    MatchCurve {
        amount,
        mid: GainCurve {
            freqs_hz: grid,
            gains_db: mid,
        },
        side: side.map(|gains_db| GainCurve {
            freqs_hz: match_grid(),
            gains_db,
        }),
    }
}

fn is_live(db: &[f64]) -> bool {
    db.iter().any(|&d| d > SILENT_DB)
}

fn curve(grid: &[f64], mix: &[f64], reference: &[f64], top_hz: f64, amount: f64) -> Vec<f64> {
    let max = |v: &[f64]| v.iter().copied().fold(FLOOR_DB, f64::max);
    let (mix_max, ref_max) = (max(mix), max(reference));
    let raw: Vec<Option<f64>> = grid
        .iter()
        .zip(mix.iter().zip(reference))
        .map(|(&f, (&m, &r))| {
            let trusted = f < top_hz
                && m > SILENT_DB
                && r > SILENT_DB
                && m > mix_max - MATCH_RANGE_DB
                && r > ref_max - MATCH_RANGE_DB;
            trusted.then_some(r - m)
        })
        .collect();
    let offset = median(raw.iter().flatten().copied().collect());
    raw.iter()
        .map(|d| {
            d.map_or(0.0, |d| {
                amount * (d - offset).clamp(-MAX_CORRECTION_DB, MAX_CORRECTION_DB)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::spectrum::{BandDelta, band_differences, long_term_spectrum, width_ratio};
    use crate::testkit::{pinked, spectral_gain, white};

    /// Matching pink noise to pink noise tilted by −3 dB/octave: applying the curve to the mix
    /// brings the level-matched 1/3-octave difference within 1 dB where the tilt needs no more
    /// than the ±12 dB limit (50 Hz–10 kHz, ±11 dB about the pivot), and halves it at amount 0.5.
    #[test]
    fn matching_a_tilted_reference() {
        let rate = 44_100;
        let n = 1 << 20;
        let mix = pinked(&white(n, 3, 1.0));
        let reference = pinked(&mix);
        let mix_sp = long_term_spectrum(std::slice::from_ref(&mix), rate);
        let ref_sp = long_term_spectrum(std::slice::from_ref(&reference), rate);
        let before = band_differences(&mix_sp, &ref_sp);
        let in_range = |d: &BandDelta| (50.0..=10_000.0).contains(&d.centre_hz);
        let tilt = before
            .iter()
            .filter(|d| in_range(d))
            .fold(0.0f64, |m, d| m.max(d.relative_db.abs()));
        assert!(tilt > 10.0, "the test tilt itself: {tilt}");

        for amount in [1.0, 0.5] {
            let c = match_curve(&mix_sp, &ref_sp, amount);
            assert!(c.side.is_none());
            let matched = spectral_gain(&mix, rate, |f| c.gain_db(f.max(1.0)));
            let after = band_differences(
                &long_term_spectrum(std::slice::from_ref(&matched), rate),
                &ref_sp,
            );
            let mut worst: f64 = 0.0;
            for (b, a) in before.iter().zip(&after).filter(|(b, _)| in_range(b)) {
                let expected = (1.0 - amount) * b.relative_db;
                worst = worst.max((a.relative_db - expected).abs());
            }
            assert!(worst < 1.0, "amount {amount}: worst residual {worst} dB");
            let cmax = c.mid.gains_db.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            assert!(cmax <= MAX_CORRECTION_DB * amount + 1e-9);
        }
    }

    #[test]
    fn match_grid_is_twelfth_octaves() {
        let g = match_grid();
        assert_eq!(g.len(), 121);
        assert!((g[120] - 20_480.0).abs() < 1e-6);
    }

    #[test]
    fn gain_curve_interpolates_in_log_frequency() {
        let c = GainCurve {
            freqs_hz: vec![100.0, 400.0],
            gains_db: vec![0.0, 6.0],
        };
        assert!((c.gain_db(200.0) - 3.0).abs() < 1e-12);
        assert_eq!(c.gain_db(10.0), 0.0);
        assert_eq!(c.gain_db(1e6), 6.0);
        assert_eq!(c.gain_db(f64::NAN), 0.0);
        let empty = GainCurve {
            freqs_hz: vec![],
            gains_db: vec![],
        };
        assert_eq!(empty.gain_db(1000.0), 0.0);
    }

    /// A side curve exists for two stereo spectra with a side; none for mono.
    #[test]
    fn side_curve_only_for_stereo() {
        let rate = 48_000;
        let a = white(rate as usize * 2, 6, 0.3);
        let b = white(rate as usize * 2, 7, 0.3);
        let l: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let r: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        let stereo = long_term_spectrum(&[l, r], rate);
        assert!(match_curve(&stereo, &stereo, 1.0).side.is_some());
        let mono = long_term_spectrum(&[a], rate);
        assert!(match_curve(&mono, &stereo, 1.0).side.is_none());
        assert_eq!(width_ratio(&mono, &stereo), 1.0);
    }

    /// No panics and no NaN on degenerate input.
    #[test]
    fn degenerate_inputs() {
        for (planes, rate) in [
            (vec![], 48_000),
            (vec![vec![0.0; 10]], 48_000),
            (vec![vec![0.0; 48_000], vec![0.0; 48_000]], 48_000),
            (vec![vec![0.1; 1000]], 0),
        ] {
            let s = long_term_spectrum(&planes, rate);
            let c = match_curve(&s, &s, 1.0);
            assert!(c.mid.gains_db.iter().all(|g| g.is_finite()));
            assert!(c.gain_db(1000.0).is_finite());
            let _: Vec<BandDelta> = band_differences(&s, &s);
        }
    }
}
