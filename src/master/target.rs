//! The target stage, always last in the master: measure the integrated loudness (BS.1770-4),
//! apply ONE static gain, then the look-ahead true-peak limiter at the ceiling; search the
//! static gain whose limited result is within 0.02 LU of the target (the limiter takes some
//! loudness back as it works harder). The gain never rides the programme dynamically, the way
//! ffmpeg's loudnorm falls back to when its linear mode fails.
//!
//! The stage works on a [`Store`], never on the whole signal in memory, in three steps:
//! [`measure`] (one pass: the loudness, and the limiter's detector reduced to the windowed
//! maxima [`limiter::Curve`] needs, spilled to disk), [`plan`] (the gain search: each trial is
//! one pass that makes the gain curve and meters the result without keeping it), and
//! [`Mastering`], which streams the result out block by block for the output stage. The true
//! peak of what is delivered is checked there; [`apply`] does the whole stage in memory and
//! checks the result itself.

use crate::analysis::bs1770::IntegratedMeter;
use crate::dsp::limiter::{self, Curve, LimiterStats, SPREAD};
use crate::dsp::{db_to_gain, gain_to_db};

use super::detect::{CHUNK, EnvelopeStream, SlidingMax};
use super::store::{Store, StoreError};
use super::{Progress, Step};

/// How close the iteration aims (the stage promises 0.1 LU; aiming tighter leaves margin for
/// resampling and dither at the output).
pub const AIM_LU: f64 = 0.02;
/// Most static gain the stage will apply, dB.
pub const MAX_GAIN_DB: f64 = 60.0;
/// Evaluations one search may spend.
pub const MAX_ITERATIONS: usize = 16;
/// How far under the requested ceiling the limiter works at first, dB.
pub const CEILING_MARGIN_DB: f64 = 0.05;
/// Shortest signal with an integrated loudness: one 400 ms gating block.
pub const MIN_SECONDS: f64 = 0.4;

/// Frames a pass reads at a time.
const BLOCK: usize = 1 << 15;

/// What the target stage did.
#[derive(Debug, Clone)]
pub struct TargetOutcome {
    /// Integrated loudness entering the stage, LUFS.
    pub input_lufs: f64,
    /// The one static gain applied, dB.
    pub static_gain_db: f64,
    /// Integrated loudness after the limiter, LUFS.
    pub achieved_lufs: f64,
    pub limiter: LimiterStats,
    /// The ceiling the limiter used (the target's, or lower after an output check), dBTP.
    pub ceiling_dbtp: f64,
    /// Largest reading of the result by every true-peak meter, dBTP.
    pub true_peak_dbtp: f64,
    /// Gain/limiter evaluations it took.
    pub iterations: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the master is silent: no loudness to bring to {0} LUFS")]
    Silent(f64),
    #[error(
        "the master is {seconds:.2} s long, too short to measure integrated loudness (needs {MIN_SECONDS} s)"
    )]
    TooShort { seconds: f64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the target stage measures on the premaster before deciding anything.
#[derive(Debug)]
pub struct Measurement {
    /// Integrated loudness of the premaster, LUFS (mixdown's BS.1770-4 meter, held to ebur128
    /// within 0.01 LU).
    pub input_lufs: f64,
    /// Per frame, the largest value of the stereo-linked detector (every true-peak meter)
    /// over the window the limiter must protect ([`limiter::Curve`]).
    pub peaks: Store,
    /// Largest detector value, linear.
    pub peak: f32,
    /// Largest sample magnitude, linear.
    pub sample_peak: f32,
    /// Mean-square energy of every 400 ms gating block (as [`IntegratedMeter::blocks`]).
    pub blocks: Vec<f64>,
    pub rate: u32,
}

/// Measure the premaster `pre` at `rate` Hz in one pass. [`TargetError::Silent`] (naming
/// `lufs`, the loudness asked for) when it has no loudness; [`TargetError::TooShort`] when it
/// is shorter than a gating block.
pub fn measure(pre: &Store, rate: u32, lufs: f64) -> Result<Measurement, TargetError> {
    let seconds = pre.len() as f64 / f64::from(rate);
    if seconds < MIN_SECONDS {
        return Err(TargetError::TooShort { seconds });
    }
    let mut meter = IntegratedMeter::new(pre.channels(), rate);
    let mut detector = EnvelopeStream::new(pre.channels(), rate);
    let w = limiter::lookahead_frames(f64::from(rate));
    let mut windowed = SlidingMax::new(SPREAD, w - 1 + SPREAD);
    let mut peaks = Store::new("limiter detector", 1)?;
    let mut maxima = Vec::new();
    let mut failed: Option<StoreError> = None;
    let mut peak = 0.0f32;
    let mut sample_peak = 0.0f32;
    let mut take = |env: &[f32], maxima: &mut Vec<f32>, windowed: &mut SlidingMax| {
        windowed.push(env, maxima);
        if let Err(e) = peaks.push(&[&maxima[..]]) {
            failed.get_or_insert(e);
        }
        peak = maxima.iter().fold(peak, |m, &v| m.max(v));
        maxima.clear();
    };
    // The detector takes block k while block k + 1 is read and the loudness meter takes
    // block k (each sees the blocks in order).
    let channels = pre.channels();
    let (mut buf, mut next) = (vec![Vec::new(); channels], vec![Vec::new(); channels]);
    // (A chunk of the detector's at a time, so each block keeps both halves busy.)
    let mut start = CHUNK.min(pre.len());
    pre.read(0, start, &mut buf)?;
    while !buf[0].is_empty() {
        let n = CHUNK.min(pre.len() - start);
        let (read, ()) = rayon::join(
            || {
                let planes: Vec<&[f32]> = buf.iter().map(|b| &b[..]).collect();
                meter.add(&planes);
                for p in &planes {
                    sample_peak = p.iter().fold(sample_peak, |m, &x| m.max(x.abs()));
                }
                pre.read(start as isize, n, &mut next)
            },
            || {
                let planes: Vec<&[f32]> = buf.iter().map(|b| &b[..]).collect();
                detector.push(&planes, &mut |_, env| take(env, &mut maxima, &mut windowed));
            },
        );
        read?;
        start += n;
        std::mem::swap(&mut buf, &mut next);
    }
    detector.finish(&mut |_, env| take(env, &mut maxima, &mut windowed));
    windowed.finish(&mut maxima);
    take(&[], &mut maxima, &mut windowed);
    if let Some(e) = failed {
        return Err(e.into());
    }
    peaks.seal()?;
    let input_lufs = meter.integrated().ok_or(TargetError::Silent(lufs))?;
    Ok(Measurement {
        input_lufs,
        peaks,
        peak,
        sample_peak,
        blocks: meter.blocks().to_vec(),
        rate,
    })
}

/// The decision of the target stage: one static gain, and the ceiling the limiter holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GainPlan {
    /// The static gain, dB.
    pub gain_db: f64,
    /// The ceiling the limiter holds, dBTP.
    pub ceiling_db: f64,
    /// Integrated loudness of the limited result, LUFS (mixdown's meter).
    pub lufs: f64,
    pub limiter: LimiterStats,
}

/// The premaster under a plan, streamed: the static gain and the limiter's curve applied,
/// block by block.
pub struct Mastering<'a> {
    pre: &'a Store,
    limiting: Option<(&'a Store, Curve, f64)>,
    pos: usize,
    peaks: Vec<Vec<f32>>,
    curve: Vec<f32>,
}

impl<'a> Mastering<'a> {
    /// `pre` as it is (no plan), or under `plan` with the detector of `m`.
    pub fn new(pre: &'a Store, plan: Option<(&'a Measurement, &GainPlan)>) -> Self {
        Mastering {
            pre,
            limiting: plan.map(|(m, p)| {
                let g = db_to_gain(p.gain_db);
                let c = Curve::new(g, db_to_gain(p.ceiling_db), f64::from(m.rate));
                (&m.peaks, c, g)
            }),
            pos: 0,
            peaks: vec![Vec::new()],
            curve: Vec::new(),
        }
    }

    /// Frames in all.
    pub fn len(&self) -> usize {
        self.pre.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pre.is_empty()
    }

    /// The next block (up to `max` frames) into `out` (one `Vec` per channel); 0 at the end.
    pub fn next(&mut self, max: usize, out: &mut [Vec<f32>]) -> Result<usize, StoreError> {
        let n = max.min(self.pre.len() - self.pos);
        self.pre.read(self.pos as isize, n, out)?;
        if let Some((peaks, curve, gain)) = &mut self.limiting {
            peaks.read(self.pos as isize, n, &mut self.peaks)?;
            self.curve.resize(n, 0.0);
            curve.next(&self.peaks[0], &mut self.curve);
            for ch in out.iter_mut() {
                for (x, &c) in ch.iter_mut().zip(&self.curve) {
                    *x = limiter::gained(*x, *gain, c);
                }
            }
        }
        self.pos += n;
        Ok(n)
    }

    /// What the limiter did over the frames so far.
    pub fn limiter(&self) -> LimiterStats {
        self.limiting.as_ref().map_or(
            LimiterStats {
                max_reduction_db: 0.0,
                mean_reduction_db: 0.0,
            },
            |(_, c, _)| c.stats(),
        )
    }
}

/// One trial: the loudness of the premaster under `gain_db` and the limiter at `ceiling_db`,
/// measured block by block without keeping the result, and what the limiter did.
fn evaluate(
    pre: &Store,
    m: &Measurement,
    gain_db: f64,
    ceiling_db: f64,
    lufs: f64,
) -> Result<GainPlan, TargetError> {
    let mut plan = GainPlan {
        gain_db,
        ceiling_db,
        lufs: 0.0,
        limiter: LimiterStats {
            max_reduction_db: 0.0,
            mean_reduction_db: 0.0,
        },
    };
    let mut stream = Mastering::new(pre, Some((m, &plan)));
    let mut meter = IntegratedMeter::new(pre.channels(), m.rate);
    let mut buf = vec![Vec::new(); pre.channels()];
    let mut next = vec![Vec::new(); pre.channels()];
    // Block k is metered while block k + 1 is made (the meter sees the blocks in order).
    let mut n = stream.next(BLOCK, &mut buf)?;
    while n > 0 {
        let ((), made) = rayon::join(
            || {
                let refs: Vec<&[f32]> = buf.iter().map(|b| &b[..]).collect();
                meter.add(&refs);
            },
            || stream.next(BLOCK, &mut next),
        );
        n = made?;
        std::mem::swap(&mut buf, &mut next);
    }
    plan.lufs = meter.integrated().ok_or(TargetError::Silent(lufs))?;
    plan.limiter = stream.limiter();
    Ok(plan)
}

/// Search the static gain whose limited result meets `lufs` at `ceiling_db`, starting from
/// `gain_db`; `iterations` counts the evaluations (shared by every search of one stage), and
/// `progress` is told of each as it starts ([`Step::Planning`]).
///
/// The loudness after the limiter grows monotonically with the gain, so the search brackets
/// the target and uses the secant (Illinois) method, starting from the plain difference.
pub fn plan(
    pre: &Store,
    m: &Measurement,
    lufs: f64,
    gain_db: f64,
    ceiling_db: f64,
    iterations: &mut usize,
    progress: Progress<'_>,
) -> Result<GainPlan, TargetError> {
    progress(Step::Planning(*iterations + 1));
    let mut best = evaluate(pre, m, gain_db, ceiling_db, lufs)?;
    *iterations += 1;
    // The latest evaluation drives the search; the closest one is kept.
    let (mut cur_g, mut cur_l) = (best.gain_db, best.lufs);
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
        progress(Step::Planning(*iterations + 1));
        let p = evaluate(pre, m, next, ceiling_db, lufs)?;
        *iterations += 1;
        (cur_g, cur_l) = (next, p.lufs);
        if (p.lufs - lufs).abs() < (best.lufs - lufs).abs() {
            best = p;
        }
        if next >= MAX_GAIN_DB && p.lufs < lufs {
            break; // unreachable: report what was achieved
        }
    }
    Ok(best)
}

/// The gain a search starts from: the plain difference, capped.
pub fn first_gain(m: &Measurement, lufs: f64) -> f64 {
    (lufs - m.input_lufs).min(MAX_GAIN_DB)
}

/// The whole target stage in memory, with the result checked: bring `planes` to `lufs` with
/// every true-peak meter at or below `ceiling_dbtp`. The gain ramps can lift an inter-sample
/// peak by a hair, so an overshoot lowers the limiter's ceiling by as much and plans again
/// (by at most 1 dB in all: beyond that the overshoot is not the ramps' doing, and the honest
/// outcome is a failed gate, not a master pushed ever lower).
pub fn apply(
    planes: &[Vec<f32>],
    rate: u32,
    lufs: f64,
    ceiling_dbtp: f64,
) -> Result<Applied, TargetError> {
    let pre = Store::from_planes("premaster", planes)?;
    let m = measure(&pre, rate, lufs)?;
    let mut ceiling_db = ceiling_dbtp - CEILING_MARGIN_DB;
    let mut iterations = 0;
    let mut gain_db = first_gain(&m, lufs);
    loop {
        let p = plan(
            &pre,
            &m,
            lufs,
            gain_db,
            ceiling_db,
            &mut iterations,
            &|_| {},
        )?;
        gain_db = p.gain_db;
        let mut stream = Mastering::new(&pre, Some((&m, &p)));
        let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(pre.len()); pre.channels()];
        let mut buf = vec![Vec::new(); pre.channels()];
        while stream.next(BLOCK, &mut buf)? > 0 {
            for (o, b) in out.iter_mut().zip(&buf) {
                o.extend_from_slice(b);
            }
        }
        let tp_db = gain_to_db(f64::from(true_peak_all(&out, rate)));
        if tp_db > ceiling_dbtp
            && iterations < MAX_ITERATIONS * 2
            && ceiling_dbtp - ceiling_db < 1.0
        {
            ceiling_db -= tp_db - ceiling_dbtp + 0.005;
            continue;
        }
        let mut meter = IntegratedMeter::new(out.len(), rate);
        let refs: Vec<&[f32]> = out.iter().map(|p| &p[..]).collect();
        meter.add(&refs);
        return Ok(Applied {
            outcome: TargetOutcome {
                input_lufs: m.input_lufs,
                static_gain_db: gain_db,
                achieved_lufs: meter.integrated().unwrap_or(p.lufs),
                limiter: stream.limiter(),
                ceiling_dbtp: ceiling_db,
                true_peak_dbtp: tp_db,
                iterations,
            },
            planes: out,
        });
    }
}

/// Largest reading of every true-peak meter over planar audio, linear.
pub fn true_peak_all(planes: &[Vec<f32>], rate: u32) -> f32 {
    let mut peak = 0.0f32;
    let mut detector = EnvelopeStream::peak_only(planes.len(), rate);
    let refs: Vec<&[f32]> = planes.iter().map(|p| &p[..]).collect();
    let mut take = |_: usize, env: &[f32]| peak = env.iter().fold(peak, |m, &v| m.max(v));
    detector.push(&refs, &mut take);
    detector.finish(&mut take);
    peak
}

/// The result of [`apply`]: the mastered planes and what the stage did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub planes: Vec<Vec<f32>>,
    pub outcome: TargetOutcome,
}

impl std::ops::Deref for Applied {
    type Target = TargetOutcome;
    fn deref(&self) -> &TargetOutcome {
        &self.outcome
    }
}
