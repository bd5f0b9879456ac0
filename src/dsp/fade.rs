//! Fade shapes and the gain of a faded region, frame by frame.
//!
//! A fade-in over `F` frames gives frame `i` (counted from the region's first frame) the gain
//! `g(i / F)`, so the first frame is silent and frame `F` is at unity; a fade-out over `F`
//! frames gives the frame `r` frames before the region's end the gain `g(r / F)`, so the last
//! frame is at `g(1 / F)` and the frame after it would be silent. The two are mirror images.

use std::f64::consts::{FRAC_PI_2, PI};

/// The shape of a fade: its gain `g(t)` from `g(0) = 0` to `g(1) = 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FadeCurve {
    /// `g(t) = t`: amplitude in a straight line (a 6 dB dip where two such fades cross).
    Linear,
    /// `g(t) = sin(pi t / 2)`: constant power where a fade-in crosses a fade-out
    /// (`sin^2 + cos^2 = 1`), the usual choice for crossfades of unrelated material.
    #[default]
    EqualPower,
    /// `g(t) = (1 - cos(pi t)) / 2`: slow at both ends, no corner in level.
    SCurve,
    /// `g(t) = (e^(k t) - 1) / (e^k - 1)`, `k = ln 1000`: even in dB over most of its length
    /// (the last half of the fade covers the top 30 dB), as a level fader moved at a constant
    /// speed sounds.
    Exponential,
}

/// `k` of [`FadeCurve::Exponential`]: `e^k` is 60 dB.
const EXP_K: f64 = 6.907_755_278_982_137; // ln 1000

impl FadeCurve {
    /// The names a session file uses, in the order of the variants.
    pub const NAMES: [&'static str; 4] = ["linear", "equal_power", "s_curve", "exponential"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "linear" => Some(FadeCurve::Linear),
            "equal_power" => Some(FadeCurve::EqualPower),
            "s_curve" => Some(FadeCurve::SCurve),
            "exponential" => Some(FadeCurve::Exponential),
            _ => None,
        }
    }

    /// Gain at `t` (clamped to 0..=1) of a fade-in; a fade-out is `gain(1 - t)`.
    pub fn gain(self, t: f64) -> f64 {
        let t = t.clamp(0.0, 1.0);
        match self {
            FadeCurve::Linear => t,
            FadeCurve::EqualPower => (FRAC_PI_2 * t).sin(),
            FadeCurve::SCurve => 0.5 - 0.5 * (PI * t).cos(),
            FadeCurve::Exponential => (EXP_K * t).exp_m1() / EXP_K.exp_m1(),
        }
    }
}

/// The gain of a region `len` frames long with a fade-in of `fade_in` frames and a fade-out
/// of `fade_out` frames (`fade_in + fade_out <= len`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fades {
    pub len: u64,
    pub fade_in: u64,
    pub fade_out: u64,
    pub curve: FadeCurve,
}

impl Fades {
    /// Whether every frame is at unity.
    pub fn is_flat(&self) -> bool {
        self.fade_in == 0 && self.fade_out == 0
    }

    /// Gain of frame `i` of the region (0 past its end).
    pub fn gain(&self, i: u64) -> f64 {
        if i >= self.len {
            return 0.0;
        }
        let mut g = 1.0;
        if i < self.fade_in {
            g *= self.curve.gain(i as f64 / self.fade_in as f64);
        }
        let left = self.len - i; // 1 ..= len
        if left <= self.fade_out {
            g *= self.curve.gain(left as f64 / self.fade_out as f64);
        }
        g
    }

    /// Multiply `planes` (frames `first ..` of the region) by the region's gain; frames at
    /// unity are left untouched, bit for bit.
    pub fn apply(&self, first: u64, planes: &mut [&mut [f32]]) {
        if self.is_flat() {
            return;
        }
        let n = planes.iter().map(|p| p.len()).min().unwrap_or(0) as u64;
        let ramps = |i: u64| i < self.fade_in || self.len.saturating_sub(i) <= self.fade_out;
        for j in 0..n {
            let i = first + j;
            if !ramps(i) {
                continue;
            }
            let g = self.gain(i);
            for p in planes.iter_mut() {
                let x = &mut p[j as usize];
                *x = (f64::from(*x) * g) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_their_formulas() {
        for c in [
            FadeCurve::Linear,
            FadeCurve::EqualPower,
            FadeCurve::SCurve,
            FadeCurve::Exponential,
        ] {
            assert_eq!(c.gain(0.0), 0.0, "{c:?}");
            assert!((c.gain(1.0) - 1.0).abs() < 1e-15, "{c:?}");
            // Monotonic.
            let mut prev = 0.0;
            for k in 1..=100 {
                let g = c.gain(f64::from(k) / 100.0);
                assert!(g > prev, "{c:?} at {k}");
                prev = g;
            }
        }
        assert_eq!(FadeCurve::Linear.gain(0.25), 0.25);
        // Equal power: a fade-in and the mirrored fade-out sum to constant power.
        for k in 0..=20 {
            let t = f64::from(k) / 20.0;
            let (a, b) = (
                FadeCurve::EqualPower.gain(t),
                FadeCurve::EqualPower.gain(1.0 - t),
            );
            assert!((a * a + b * b - 1.0).abs() < 1e-12);
        }
        assert!((FadeCurve::SCurve.gain(0.5) - 0.5).abs() < 1e-15);
        // Exponential: half-way is (sqrt(1000) - 1) / 999, i.e. about -30.3 dB.
        let half = FadeCurve::Exponential.gain(0.5);
        assert!((half - (1000f64.sqrt() - 1.0) / 999.0).abs() < 1e-12);
    }

    #[test]
    fn region_gain_is_sample_accurate() {
        let f = Fades {
            len: 10,
            fade_in: 4,
            fade_out: 2,
            curve: FadeCurve::Linear,
        };
        let g: Vec<f64> = (0..11).map(|i| f.gain(i)).collect();
        assert_eq!(g, [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0]);
        let mut a = vec![1.0f32; 6];
        let mut b = vec![1.0f32; 6];
        f.apply(4, &mut [&mut a[..], &mut b[..]]);
        assert_eq!(a, [1.0, 1.0, 1.0, 1.0, 1.0, 0.5]);
        assert_eq!(a, b);
    }
}
