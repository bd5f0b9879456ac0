//! Offline look-ahead true-peak limiter for the target stage.
//!
//! The master is limited as a whole buffer, so the gain curve can be computed non-causally:
//! for each sample the gain the 8x-oversampled peak envelope requires (`ceiling / peak`); a
//! minimum over the next `lookahead` samples, so the gain is already down when a peak arrives;
//! an exponential release (recovery only, never attack); then a moving average over the
//! look-ahead window, which turns every step into a ramp (a smooth attack) while keeping the
//! gain at each peak at or below what that peak requires: the average of `W` values that are
//! each no larger than the requirement is no larger than it. Both channels get the same gain
//! (stereo-linked), so the image does not shift.

/// Look-ahead (and attack ramp) of the limiter.
pub const LOOKAHEAD_MS: f64 = 1.5;
/// Release time constant (1 - 1/e recovery).
pub const RELEASE_MS: f64 = 80.0;

/// What the limiter did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterStats {
    /// Largest gain reduction, dB (positive).
    pub max_reduction_db: f64,
    /// Gain reduction averaged over the whole signal, dB (positive).
    pub mean_reduction_db: f64,
}

/// Stereo-linked peak envelope: per frame, the largest of the channels' envelopes.
pub fn linked_envelope(envelopes: &[Vec<f32>]) -> Vec<f32> {
    let n = envelopes.first().map_or(0, Vec::len);
    (0..n)
        .map(|i| envelopes.iter().fold(0.0f32, |m, e| m.max(e[i])))
        .collect()
}

/// Frames on each side of a peak that must already carry its gain, so a peak between samples is
/// rebuilt (by a DAC, or a meter's interpolator) from neighbours that all had the same
/// reduction: a gain that changed right under the peak would shift the rebuilt value.
pub const SPREAD: usize = 16;

/// Sliding minimum of `x` over the window `[i - back, i + ahead]` (monotonic deque, O(n)),
/// written into `out`.
fn sliding_min(x: &[f32], back: usize, ahead: usize, out: &mut [f32]) {
    let n = x.len();
    let mut dq: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut next = 0; // next index to push
    for (i, o) in out.iter_mut().enumerate() {
        while next < n && next <= i + ahead {
            while dq.back().is_some_and(|&j| x[j] >= x[next]) {
                dq.pop_back();
            }
            dq.push_back(next);
            next += 1;
        }
        while dq.front().is_some_and(|&j| j + back < i) {
            dq.pop_front();
        }
        *o = dq.front().map_or(1.0, |&j| x[j]);
    }
}

/// Gain curve (linear, per frame) that keeps `gain * envelope` at or below `ceiling`.
pub fn gain_curve(envelope: &[f32], gain: f64, ceiling: f64, sample_rate: f64) -> Vec<f32> {
    let n = envelope.len();
    let w = ((LOOKAHEAD_MS * 1e-3 * sample_rate).round() as usize).max(1);
    // Required gain per frame (computed in f64, stored in f32: gains are in 0..1, and f32 keeps
    // them to 1e-7, far below anything audible or measurable).
    let mut a: Vec<f32> = envelope
        .iter()
        .map(|&e| {
            let peak = gain * f64::from(e);
            if peak > ceiling {
                (ceiling / peak) as f32
            } else {
                1.0
            }
        })
        .collect();
    let mut b = vec![1.0f32; n];
    // Each peak's requirement holds over the reconstruction filter around it...
    sliding_min(&a, SPREAD, SPREAD, &mut b);
    // ...and is met a look-ahead early.
    sliding_min(&b, 0, w - 1, &mut a);
    // Exponential recovery only (in f64: the recursion must not drift).
    let rel = 1.0 - (-1.0 / (RELEASE_MS * 1e-3 * sample_rate)).exp();
    let mut g = 1.0f64;
    for h in a.iter_mut() {
        g = (g + (1.0 - g) * rel).min(f64::from(*h));
        *h = g as f32;
    }
    // Moving average over the past w frames: a linear ramp into every reduction. Frames
    // before the start count as already reduced to the first frame's level (which is the
    // minimum requirement of the first w frames), so a peak at the very start is covered too.
    let pre = f64::from(a.first().copied().unwrap_or(1.0));
    let mut sum = w as f64 * pre;
    for i in 0..n {
        sum += f64::from(a[i]) - if i >= w { f64::from(a[i - w]) } else { pre };
        b[i] = (sum / w as f64) as f32;
    }
    b
}

/// The output sample of channel `x` at frame `i`: `x * gain * curve`.
#[inline]
pub fn gained(x: f32, gain: f64, c: f32) -> f32 {
    (f64::from(x) * gain * f64::from(c)) as f32
}

/// What the limiter did, from its gain curve.
pub fn stats(curve: &[f32]) -> LimiterStats {
    let min = curve.iter().fold(1.0f32, |m, &c| m.min(c));
    let mean_db = if curve.is_empty() {
        0.0
    } else {
        curve
            .iter()
            .map(|&c| -20.0 * f64::from(c).log10())
            .sum::<f64>()
            / curve.len() as f64
    };
    LimiterStats {
        max_reduction_db: -20.0 * f64::from(min).log10(),
        mean_reduction_db: mean_db,
    }
}

/// Apply `gain` and the limiter's gain curve to planar audio, returning the result and what the
/// limiter did.
pub fn apply(planes: &[Vec<f32>], gain: f64, curve: &[f32]) -> (Vec<Vec<f32>>, LimiterStats) {
    let out = planes
        .iter()
        .map(|p| {
            p.iter()
                .zip(curve)
                .map(|(&x, &c)| gained(x, gain, c))
                .collect()
        })
        .collect();
    (out, stats(curve))
}

/// Look-ahead in frames at `sample_rate` Hz.
pub fn lookahead_frames(sample_rate: f64) -> usize {
    ((LOOKAHEAD_MS * 1e-3 * sample_rate).round() as usize).max(1)
}

/// The gain curve of [`gain_curve`], made one frame at a time from a stream of the detector's
/// windowed maxima: `peaks[i]` is the largest envelope value over frames
/// `i - SPREAD ..= i + lookahead - 1 + SPREAD` (cut to the signal). Requiring the gain at each
/// frame and then taking the sliding minimum over that window (what [`gain_curve`] does) is the
/// same as requiring it of the window's largest peak, since the requirement falls as the peak
/// rises; so the windowed maxima can be computed once and reused for every gain tried. The
/// values are bit-identical to [`gain_curve`]'s. Also gathers [`LimiterStats`].
#[derive(Debug, Clone)]
pub struct Curve {
    gain: f64,
    ceiling: f64,
    rel: f64,
    w: usize,
    /// Release follower (f64: the recursion must not drift).
    g: f64,
    /// The follower's last step, with nothing required of it, left it where it was: with
    /// nothing required the step depends on `g` alone, so it stays there until something is.
    settled: bool,
    /// `frames % w`: where the next value goes in `ring`.
    slot: usize,
    /// The last `w` followed values, for the moving average; `pre` stands in before the start.
    ring: Vec<f32>,
    pre: Option<f64>,
    sum: f64,
    frames: u64,
    min: f32,
    /// Reduction in dB summed over the frames below unity gain, up to the last time
    /// `product` was folded in.
    sum_db: f64,
    /// Product of the gains below unity since then: a `log10` per fold (when the product nears
    /// the bottom of the f64 range) rather than per frame, which is most of a gain trial's cost.
    product: f64,
}

/// The product of gains is folded into the dB sum before it can leave the normal f64 range
/// (one more f32 gain, at least 1e-45, keeps it above 1e-290).
const FOLD_BELOW: f64 = 1e-245;

impl Curve {
    /// A curve for the static `gain` (linear) under the `ceiling` (linear) at `sample_rate`.
    pub fn new(gain: f64, ceiling: f64, sample_rate: f64) -> Self {
        let w = lookahead_frames(sample_rate);
        Curve {
            gain,
            ceiling,
            rel: 1.0 - (-1.0 / (RELEASE_MS * 1e-3 * sample_rate)).exp(),
            w,
            g: 1.0,
            settled: false,
            slot: 0,
            ring: vec![1.0; w],
            pre: None,
            sum: 0.0,
            frames: 0,
            min: 1.0,
            sum_db: 0.0,
            product: 1.0,
        }
    }

    /// The curve for the next windowed maxima `peaks`, into `out` (same length).
    pub fn next(&mut self, peaks: &[f32], out: &mut [f32]) {
        let (w, gain, ceiling, rel) = (self.w, self.gain, self.ceiling, self.rel);
        // The state in locals for the loop: written through `self` it stays in memory, since
        // the stores into `ring` could (for all the compiler knows) land on it.
        let (mut g, mut settled, mut slot, mut pre, mut sum) =
            (self.g, self.settled, self.slot, self.pre, self.sum);
        let (mut frames, mut min, mut sum_db, mut product) =
            (self.frames, self.min, self.sum_db, self.product);
        let ring = &mut self.ring[..];
        for (&e, o) in peaks.iter().zip(out.iter_mut()) {
            let peak = gain * f64::from(e);
            let required = if peak > ceiling {
                (ceiling / peak) as f32
            } else {
                1.0
            };
            // (Skipping the settled step takes its multiply and add off the path from one
            // frame to the next.)
            if !(settled && required == 1.0) {
                let next = (g + (1.0 - g) * rel).min(f64::from(required));
                settled = required == 1.0 && next == g;
                g = next;
            }
            let h = g as f32;
            let first = *pre.get_or_insert_with(|| {
                let p = f64::from(h);
                sum = w as f64 * p;
                p
            });
            let leaving = if frames >= w as u64 {
                f64::from(ring[slot])
            } else {
                first
            };
            sum += f64::from(h) - leaving;
            ring[slot] = h;
            slot = if slot + 1 == w { 0 } else { slot + 1 };
            let c = (sum / w as f64) as f32;
            *o = c;
            frames += 1;
            if c < 1.0 {
                min = min.min(c);
                product *= f64::from(c);
                if product < FOLD_BELOW {
                    sum_db += -20.0 * product.log10();
                    product = 1.0;
                }
            }
        }
        (self.g, self.settled, self.slot, self.pre, self.sum) = (g, settled, slot, pre, sum);
        (self.frames, self.min, self.sum_db, self.product) = (frames, min, sum_db, product);
    }

    /// What the limiter did over the frames so far.
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            // `+ 0.0` turns an untouched -0 dB into 0.
            max_reduction_db: -20.0 * f64::from(self.min).log10() + 0.0,
            mean_reduction_db: if self.frames == 0 {
                0.0
            } else {
                (self.sum_db - 20.0 * self.product.log10()) / self.frames as f64 + 0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_ceiling_nothing_happens() {
        let env = vec![0.5f32; 1000];
        let c = gain_curve(&env, 1.0, 0.9, 48000.0);
        assert!(c.iter().all(|&g| g == 1.0));
    }

    #[test]
    fn every_peak_is_held_at_the_ceiling_with_ramps() {
        let rate = 48000.0;
        let mut env = vec![0.2f32; 48000];
        for &p in &[1000usize, 1010, 5000, 30000] {
            env[p] = 2.0;
        }
        let c = gain_curve(&env, 1.0, 1.0, rate);
        for (i, (&e, &g)) in env.iter().zip(&c).enumerate() {
            assert!(
                f64::from(e) * f64::from(g) <= 1.0 + 1e-6,
                "frame {i}: {}",
                e * g
            );
        }
        // The reduction starts a look-ahead before the peak and ramps (no step).
        let w = (LOOKAHEAD_MS * 1e-3 * rate) as usize;
        assert!(c[1000 - w - SPREAD - 2] > 0.999);
        assert!(c[1000 - w / 2] < 0.9);
        let steps = c
            .windows(2)
            .map(|p| (p[1] - p[0]).abs())
            .fold(0.0f32, f32::max);
        assert!(steps < 0.55 / w as f32 + 1e-3, "largest step {steps}");
        // And it recovers: 63 % of the way back one release time after the peak.
        let r = (RELEASE_MS * 1e-3 * rate) as usize;
        let back = c[30000 + r + w];
        assert!((back - (0.5 + 0.5 * 0.632)).abs() < 0.03, "{back}");
    }

    /// The streamed curve, fed the windowed maxima in pieces, is the whole-signal curve.
    #[test]
    fn streamed_curve_equals_the_whole_one() {
        let rate = 48000.0;
        let n = 400_000;
        // Loud in two stretches, so the gains below limit some parts and not others; between
        // them the follower releases for over six seconds, long enough to come to rest short
        // of unity (its steps then round to nothing) before it is needed again.
        let env: Vec<f32> = crate::testkit::white(n, 9, 1.0)
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let loud = (30_000..40_000).contains(&i) || (370_000..380_000).contains(&i);
                0.3 + v.abs() * if loud { 1.0 } else { 0.4 }
            })
            .collect();
        let w = lookahead_frames(rate);
        let peaks: Vec<f32> = (0..n)
            .map(|i| {
                env[i.saturating_sub(SPREAD)..(i + w + SPREAD).min(n)]
                    .iter()
                    .fold(0.0f32, |a, &b| a.max(b))
            })
            .collect();
        for (gain, ceiling) in [(1.0, 0.9), (2.5, 0.89), (0.5, 1.0)] {
            let want = gain_curve(&env, gain, ceiling, rate);
            let mut c = Curve::new(gain, ceiling, rate);
            let mut got = vec![0.0f32; n];
            for (p, o) in peaks.chunks(777).zip(got.chunks_mut(777)) {
                c.next(p, o);
            }
            assert_eq!(got, want, "gain {gain}");
            let s = stats(&want);
            let t = c.stats();
            assert!((s.max_reduction_db - t.max_reduction_db).abs() < 1e-12);
            assert!((s.mean_reduction_db - t.mean_reduction_db).abs() < 1e-9);
        }
    }
}
