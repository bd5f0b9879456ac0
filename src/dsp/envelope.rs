//! Automation: envelopes (a value over song time, from breakpoints and a curve), the
//! parameters of a processor that can follow one, and the per-sample ramp processors use so a
//! parameter updated every [`AUTO_BLOCK`] frames moves smoothly instead of in steps.
//!
//! Between two points `(t0, v0)` and `(t1, v1)`, with `u = (t - t0) / (t1 - t0)`:
//! - `linear`: `v0 + (v1 - v0)·u`;
//! - `smooth`: `v0 + (v1 - v0)·(1 - cos(π u))/2` (raised cosine: no corner at either point);
//! - `step`: `v0` until `t1`, then `v1`.
//!
//! Before the first point the value is the first point's, after the last the last's. Times may
//! repeat (never decrease): two points at one time make a jump there, and at that instant the
//! later point's value holds.

use std::f64::consts::PI;

/// Frames between updates of an automated processor parameter. Processors reach the value of
/// the update's last frame at that frame, ramping gains per sample on the way.
pub const AUTO_BLOCK: usize = 32;

/// How an envelope moves between two points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Curve {
    #[default]
    Linear,
    /// Raised cosine between points.
    Smooth,
    /// Hold each value until the next point.
    Step,
}

impl Curve {
    /// The names a session file uses, in the order of the variants.
    pub const NAMES: [&'static str; 3] = ["linear", "smooth", "step"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "linear" => Some(Curve::Linear),
            "smooth" => Some(Curve::Smooth),
            "step" => Some(Curve::Step),
            _ => None,
        }
    }
}

/// A value over song time: breakpoints `(seconds, value)` with non-decreasing times (at least
/// one), joined by `curve`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub points: Vec<(f64, f64)>,
    pub curve: Curve,
}

impl Envelope {
    /// The value at song time `t` seconds (see the module documentation for the formulas).
    pub fn value_at(&self, t: f64) -> f64 {
        let p = &self.points;
        // The first point later than t; the one before it is at or before t.
        let i = p.partition_point(|&(pt, _)| pt <= t);
        if i == 0 {
            return p.first().map_or(0.0, |&(_, v)| v);
        }
        let (t0, v0) = p[i - 1];
        let Some(&(t1, v1)) = p.get(i) else {
            return v0;
        };
        // t0 <= t < t1, so t1 > t0.
        let u = (t - t0) / (t1 - t0);
        match self.curve {
            Curve::Linear => v0 + (v1 - v0) * u,
            Curve::Smooth => v0 + (v1 - v0) * 0.5 * (1.0 - (PI * u).cos()),
            Curve::Step => v0,
        }
    }

    /// The value before the first point (what a processor is built with).
    pub fn first(&self) -> f64 {
        self.points.first().map_or(0.0, |&(_, v)| v)
    }

    /// The value at each frame of `out`: frame `i` is at song frame `start + i`, at `rate` Hz.
    pub fn fill(&self, start: i64, rate: f64, out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.value_at((start + i as i64) as f64 / rate);
        }
    }
}

/// A processor parameter that can follow an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKey {
    GainDb,
    FreqHz,
    Q,
    ThresholdDb,
    Ratio,
    MakeupDb,
    Mix,
    DriveDb,
    OutputDb,
    Feedback,
    RateHz,
    DepthMs,
    Amount,
}

impl ParamKey {
    /// The key's name in the session file.
    pub fn name(self) -> &'static str {
        match self {
            ParamKey::GainDb => "gain_db",
            ParamKey::FreqHz => "freq_hz",
            ParamKey::Q => "q",
            ParamKey::ThresholdDb => "threshold_db",
            ParamKey::Ratio => "ratio",
            ParamKey::MakeupDb => "makeup_db",
            ParamKey::Mix => "mix",
            ParamKey::DriveDb => "drive_db",
            ParamKey::OutputDb => "output_db",
            ParamKey::Feedback => "feedback",
            ParamKey::RateHz => "rate_hz",
            ParamKey::DepthMs => "depth_ms",
            ParamKey::Amount => "amount",
        }
    }
}

/// Which parameter of a processor: the key, and for an EQ the band (0 otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamId {
    pub key: ParamKey,
    pub band: usize,
}

impl ParamId {
    pub fn new(key: ParamKey) -> Self {
        ParamId { key, band: 0 }
    }
}

/// An automated parameter: which one, and the envelope it follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Automation {
    pub param: ParamId,
    pub envelope: Envelope,
}

/// A parameter moved by updates: each update is reached linearly over the next block, per
/// sample (gains, mixes), so a value updated every [`AUTO_BLOCK`] frames has no steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    current: f64,
    target: f64,
}

impl Ramp {
    /// At rest at `v`.
    pub fn new(v: f64) -> Self {
        Ramp {
            current: v,
            target: v,
        }
    }

    /// Move to `v` over the next block.
    pub fn set(&mut self, v: f64) {
        self.target = v;
    }

    /// Whether the next block moves.
    pub fn moving(&self) -> bool {
        self.current != self.target
    }

    /// Where it rests (or will, after the next block).
    pub fn target(&self) -> f64 {
        self.target
    }

    /// Start the next block of `n` frames: the value at frame `i` is `start + step·(i + 1)`,
    /// so the last frame is at the target. Afterwards the ramp rests at the target.
    pub fn begin(&mut self, n: usize) -> (f64, f64) {
        let start = self.current;
        let step = if n == 0 {
            0.0
        } else {
            (self.target - start) / n as f64
        };
        self.current = self.target;
        (start, step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(points: &[(f64, f64)], curve: Curve) -> Envelope {
        Envelope {
            points: points.to_vec(),
            curve,
        }
    }

    #[test]
    fn linear_smooth_and_step_follow_their_formulas() {
        let pts = [(1.0, -6.0), (3.0, 0.0), (4.0, -12.0)];
        for (curve, f) in [
            (Curve::Linear, (|u: f64| u) as fn(f64) -> f64),
            (Curve::Smooth, |u: f64| (1.0 - (PI * u).cos()) / 2.0),
            (Curve::Step, |_| 0.0),
        ] {
            let e = env(&pts, curve);
            for k in 0..=40 {
                let t = 1.0 + k as f64 * 0.05; // 1.0 ..= 3.0
                let u = (t - 1.0) / 2.0;
                let want = if t >= 3.0 { 0.0 } else { -6.0 + 6.0 * f(u) };
                assert!(
                    (e.value_at(t) - want).abs() < 1e-12,
                    "{curve:?} at {t}: {} vs {want}",
                    e.value_at(t)
                );
            }
            // Between the second and third points.
            let u: f64 = 0.25;
            let want = 0.0 - 12.0 * f(u);
            assert!((e.value_at(3.25) - want).abs() < 1e-12, "{curve:?}");
            // Before the first point and after the last.
            assert_eq!(e.value_at(-5.0), -6.0);
            assert_eq!(e.value_at(0.999), -6.0);
            assert_eq!(e.value_at(4.0), -12.0);
            assert_eq!(e.value_at(1e9), -12.0);
        }
        // Smooth at the middle is half way, a quarter of the way at u = 1/3 (1 - cos 60°)/2.
        let s = env(&[(0.0, 0.0), (1.0, 4.0)], Curve::Smooth);
        assert!((s.value_at(0.5) - 2.0).abs() < 1e-12);
        assert!((s.value_at(1.0 / 3.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn repeated_times_jump_and_the_later_point_holds() {
        let e = env(&[(0.0, 0.0), (2.0, 1.0), (2.0, 5.0), (4.0, 5.0)], Curve::Linear);
        assert!((e.value_at(1.999_999) - 1.0).abs() < 1e-5);
        assert_eq!(e.value_at(2.0), 5.0);
        assert_eq!(e.value_at(3.0), 5.0);
        let one = env(&[(7.0, 3.0)], Curve::Smooth);
        assert_eq!(one.value_at(0.0), 3.0);
        assert_eq!(one.value_at(100.0), 3.0);
    }

    #[test]
    fn fill_samples_song_frames() {
        let e = env(&[(0.0, 0.0), (1.0, 48000.0)], Curve::Linear);
        let mut out = [0.0; 4];
        e.fill(-2, 48000.0, &mut out);
        assert_eq!(out, [0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn ramp_reaches_the_target_on_the_last_frame() {
        let mut r = Ramp::new(1.0);
        assert!(!r.moving());
        r.set(3.0);
        assert!(r.moving());
        let (s, d) = r.begin(4);
        assert_eq!((s + d * 4.0), 3.0);
        assert_eq!(s + d, 1.5);
        assert!(!r.moving());
        assert_eq!(r.begin(4), (3.0, 0.0));
    }
}
