//! The target stage, always last in the master: measure integrated loudness (BS.1770-4 via
//! ebur128), apply ONE static gain, then the look-ahead true-peak limiter at the ceiling;
//! re-measure and correct the static gain until the integrated loudness is within 0.1 LU of the
//! target (the limiter takes some loudness back as it works harder). The gain never rides the
//! programme dynamically, the way ffmpeg's loudnorm falls back to when its linear mode fails.

use ebur128::{EbuR128, Mode};

use crate::analysis::bs1770::IntegratedMeter;
use crate::dsp::limiter::{self, LimiterStats};
use crate::dsp::truepeak;
use crate::dsp::{db_to_gain, gain_to_db};

/// How close the iteration aims (the stage promises 0.1 LU; aiming tighter leaves margin for
/// resampling and dither at the output).
pub const AIM_LU: f64 = 0.02;
/// Most static gain the stage will apply, dB.
pub const MAX_GAIN_DB: f64 = 60.0;
const MAX_ITERATIONS: usize = 16;
/// How far under the requested ceiling the limiter works at first, dB.
pub const CEILING_MARGIN_DB: f64 = 0.05;

/// What the target stage did.
#[derive(Debug, Clone)]
pub struct TargetOutcome {
    /// The result (moved out into `Mastered::planes` once the outputs are made).
    pub planes: Vec<Vec<f32>>,
    /// Integrated loudness entering the stage, LUFS.
    pub input_lufs: f64,
    /// The one static gain applied, dB.
    pub static_gain_db: f64,
    /// Integrated loudness after the limiter, LUFS.
    pub achieved_lufs: f64,
    pub limiter: LimiterStats,
    /// The ceiling the limiter used (the target's, or lower after an output check), dBTP.
    pub ceiling_dbtp: f64,
    /// Largest 8x-oversampled true peak of the result, dBTP.
    pub true_peak_dbtp: f64,
    pub iterations: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the master is silent: no loudness to bring to {0} LUFS")]
    Silent(f64),
    #[error("loudness measurement failed: {0}")]
    Meter(String),
}

fn integrated(planes: &[Vec<f32>], rate: u32) -> Result<Option<f64>, TargetError> {
    let m = |e: ebur128::Error| TargetError::Meter(format!("{e:?}"));
    let mut e = EbuR128::new(planes.len() as u32, rate, Mode::I).map_err(m)?;
    let n = planes.first().map_or(0, Vec::len);
    let mut s = 0;
    while s < n {
        let end = (s + (1 << 16)).min(n);
        let sl: Vec<&[f32]> = planes.iter().map(|p| &p[s..end]).collect();
        e.add_frames_planar_f32(&sl).map_err(m)?;
        s = end;
    }
    Ok(e.loudness_global().ok().filter(|l| l.is_finite()))
}

/// Integrated loudness of `planes * gain * curve`, computed block by block without keeping the
/// result. The search runs on mixdown's lean BS.1770-4 meter (held to ebur128 within 0.01 LU by
/// its tests, and twice as fast); the stage's result is then measured with ebur128.
fn integrated_limited(
    planes: &[Vec<f32>],
    gain: f64,
    curve: &[f32],
    rate: u32,
) -> Result<Option<f64>, TargetError> {
    let mut e = IntegratedMeter::new(planes.len(), rate);
    let n = planes.first().map_or(0, Vec::len);
    const CHUNK: usize = 1 << 14;
    let mut buf = vec![vec![0.0f32; CHUNK]; planes.len()];
    let mut s = 0;
    while s < n {
        let end = (s + CHUNK).min(n);
        for (b, p) in buf.iter_mut().zip(planes) {
            for ((o, &x), &c) in b.iter_mut().zip(&p[s..end]).zip(&curve[s..end]) {
                *o = limiter::gained(x, gain, c);
            }
        }
        let sl: Vec<&[f32]> = buf.iter().map(|b| &b[..end - s]).collect();
        e.add(&sl);
        s = end;
    }
    Ok(e.integrated())
}

/// Per-channel true-peak envelopes (computed once; the limiter scales them by the gain).
pub fn envelopes(planes: &[Vec<f32>]) -> Vec<Vec<f32>> {
    planes.iter().map(|p| truepeak::envelope(p)).collect()
}

/// Per-channel envelopes both meters stay under (the limiter's detector).
fn ceiling_envelopes(planes: &[Vec<f32>], rate: u32) -> Vec<Vec<f32>> {
    planes
        .iter()
        .map(|p| truepeak::ceiling_envelope(p, rate))
        .collect()
}

/// The larger of two true-peak readings, dBTP: mixdown's band-limited reconstruction and
/// ebur128's BS.1770-4 4x meter (whose filter can read a little higher on some material). A
/// ceiling is kept only if both agree it is, since the people checking a master use the
/// standard meter.
pub fn true_peak_db(planes: &[Vec<f32>], rate: u32) -> Result<f64, TargetError> {
    let (eight, four) = rayon::join(
        || {
            envelopes(planes)
                .iter()
                .map(|e| e.iter().fold(0.0f32, |m, &v| m.max(v)))
                .fold(0.0f32, f32::max)
        },
        || crate::analysis::loudness::measure(planes, rate).map(|l| l.true_peak_dbtp),
    );
    let four = four.map_err(|e| TargetError::Meter(e.to_string()))?;
    Ok(gain_to_db(f64::from(eight)).max(four))
}

/// What the target stage measures on the premaster before deciding anything.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Integrated loudness of the premaster, LUFS (ebur128).
    pub input_lufs: f64,
    /// Stereo-linked envelope that both true-peak meters stay under (the limiter's detector).
    pub envelope: Vec<f32>,
}

/// Measure the premaster: its integrated loudness and the limiter's detector envelope.
/// [`TargetError::Silent`] (naming `lufs`, the loudness asked for) when it has no loudness.
pub fn measure(planes: &[Vec<f32>], rate: u32, lufs: f64) -> Result<Measurement, TargetError> {
    let input_lufs = integrated(planes, rate)?.ok_or(TargetError::Silent(lufs))?;
    let envelope = limiter::linked_envelope(&ceiling_envelopes(planes, rate));
    Ok(Measurement {
        input_lufs,
        envelope,
    })
}

/// The decision of the target stage: one static gain, and the limiter's gain curve at a
/// ceiling.
#[derive(Debug, Clone)]
pub struct GainPlan {
    /// The static gain, dB.
    pub gain_db: f64,
    /// The ceiling the limiter holds, dBTP.
    pub ceiling_db: f64,
    /// The limiter's gain per frame for this gain and ceiling.
    pub curve: Vec<f32>,
    /// Integrated loudness of the limited result, LUFS (mixdown's lean meter).
    pub lufs: f64,
}

/// Search the static gain whose limited result meets `lufs` at `ceiling_db`, starting from
/// `gain_db`; `iterations` counts the evaluations (shared by every search of one stage).
///
/// The loudness after the limiter grows monotonically with the gain, so the search brackets
/// the target and uses the secant (Illinois) method, starting from the plain difference.
pub fn plan(
    planes: &[Vec<f32>],
    rate: u32,
    m: &Measurement,
    lufs: f64,
    gain_db: f64,
    ceiling_db: f64,
    iterations: &mut usize,
) -> Result<GainPlan, TargetError> {
    let sr = f64::from(rate);
    let ceiling = db_to_gain(ceiling_db);
    // One evaluation: the gain curve for a static gain, and the integrated loudness of the
    // limited result, measured block by block without keeping the whole result.
    let run = |g_db: f64| -> Result<(Vec<f32>, f64), TargetError> {
        let g = db_to_gain(g_db);
        let curve = limiter::gain_curve(&m.envelope, g, ceiling, sr);
        let l = integrated_limited(planes, g, &curve, rate)?.ok_or(TargetError::Silent(lufs))?;
        Ok((curve, l))
    };
    let (mut best_curve, mut best_l) = run(gain_db)?;
    *iterations += 1;
    let mut best_g = gain_db;
    // The latest evaluation drives the search; the closest one is kept.
    let (mut cur_g, mut cur_l) = (best_g, best_l);
    // Bracket ends as (gain dB, loudness miss LU).
    let mut lo: Option<(f64, f64)> = None;
    let mut hi: Option<(f64, f64)> = None;
    // Which end the last step replaced: -1 the low one, 1 the high one.
    let mut side = 0i32;
    // The evaluation before the latest, (gain dB, miss LU).
    let mut prev: Option<(f64, f64)> = None;
    while (cur_l - lufs).abs() > AIM_LU && *iterations < MAX_ITERATIONS {
        let f = cur_l - lufs;
        // Illinois: when the same end moves twice running, halve the other end's value so
        // the bracket shrinks from both sides.
        if f < 0.0 {
            if side == -1
                && let Some(h) = hi.as_mut()
            {
                h.1 /= 2.0;
            }
            lo = Some((cur_g, f));
            side = -1;
        } else {
            if side == 1
                && let Some(l) = lo.as_mut()
            {
                l.1 /= 2.0;
            }
            hi = Some((cur_g, f));
            side = 1;
        }
        let next = match (lo, hi, prev) {
            (Some((g0, f0)), Some((g1, f1)), _) => g0 - f0 * (g1 - g0) / (f1 - f0),
            // Not bracketed yet, but two points: extrapolate along their secant (the
            // limiter's slope), stepping at least the miss and at most four times it.
            (_, _, Some((pg, pf))) if (f - pf).abs() > 1e-9 && cur_g != pg => {
                let step = -f * (cur_g - pg) / (f - pf);
                cur_g + step.abs().clamp(f.abs(), 4.0 * f.abs()) * -f.signum()
            }
            // One point: step by the miss (further when too quiet, because the limiter
            // takes part of any gain back).
            _ => cur_g - f * if f < 0.0 { 1.5 } else { 1.0 },
        }
        .min(MAX_GAIN_DB);
        prev = Some((cur_g, f));
        let (curve, l) = run(next)?;
        *iterations += 1;
        (cur_g, cur_l) = (next, l);
        if (l - lufs).abs() < (best_l - lufs).abs() {
            best_curve = curve;
            best_l = l;
            best_g = next;
        }
        if next >= MAX_GAIN_DB && l < lufs {
            break; // unreachable: report what was achieved
        }
    }
    Ok(GainPlan {
        gain_db: best_g,
        ceiling_db,
        curve: best_curve,
        lufs: best_l,
    })
}

/// Apply a plan: the static gain and the limiter's gain curve.
pub fn apply_plan(planes: &[Vec<f32>], p: &GainPlan) -> (Vec<Vec<f32>>, LimiterStats) {
    limiter::apply(planes, db_to_gain(p.gain_db), &p.curve)
}

/// The whole target stage: bring `planes` to `lufs` with true peaks at or below
/// `ceiling_dbtp`. Measure, plan, apply, and verify the ceiling on the result: the gain ramps
/// can lift an inter-sample peak by a hair, so an overshoot lowers the limiter's ceiling by as
/// much and plans again.
pub fn apply(
    planes: &[Vec<f32>],
    rate: u32,
    lufs: f64,
    ceiling_dbtp: f64,
) -> Result<TargetOutcome, TargetError> {
    let m = measure(planes, rate, lufs)?;
    // Aim a hair under the ceiling: the gain ramps and the standard 4x meter's filter can lift a
    // reading by a few hundredths of a dB, and a first pass that already holds saves a second.
    let mut ceiling_db = ceiling_dbtp - CEILING_MARGIN_DB;
    let mut iterations = 0;
    let mut gain_db = (lufs - m.input_lufs).min(MAX_GAIN_DB);
    loop {
        let p = plan(planes, rate, &m, lufs, gain_db, ceiling_db, &mut iterations)?;
        gain_db = p.gain_db;
        let (out, stats) = apply_plan(planes, &p);
        // The reported loudness is ebur128's reading of the result itself.
        let achieved = integrated(&out, rate)?.unwrap_or(p.lufs);
        let tp_db = true_peak_db(&out, rate)?;
        // (At most 1 dB in all: beyond that the overshoot is not the ramps' doing, and the
        // honest outcome is a failed gate, not a master pushed ever lower.)
        if tp_db > ceiling_dbtp
            && iterations < MAX_ITERATIONS * 2
            && ceiling_dbtp - ceiling_db < 1.0
        {
            ceiling_db -= tp_db - ceiling_dbtp + 0.005;
            continue;
        }
        return Ok(TargetOutcome {
            planes: out,
            input_lufs: m.input_lufs,
            static_gain_db: gain_db,
            achieved_lufs: achieved,
            limiter: stats,
            ceiling_dbtp: ceiling_db,
            true_peak_dbtp: tp_db,
            iterations,
        });
    }
}
