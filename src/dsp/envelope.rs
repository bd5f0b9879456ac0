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
        self.between(v0, v1, (t - t0) / (t1 - t0))
    }

    /// The value just before song time `t` (the limit from the left): where two points share
    /// a time, or a `step` curve reaches its next point, the value the envelope jumps from;
    /// elsewhere [`Envelope::value_at`].
    pub fn value_before(&self, t: f64) -> f64 {
        let p = &self.points;
        // The first point at or after t; the one before it is earlier than t.
        let i = p.partition_point(|&(pt, _)| pt < t);
        if i == 0 {
            return self.first();
        }
        let (t0, v0) = p[i - 1];
        let Some(&(t1, v1)) = p.get(i) else {
            return v0;
        };
        // t0 < t <= t1.
        self.between(v0, v1, (t - t0) / (t1 - t0))
    }

    /// The curve from `v0` to `v1` at the fraction `u` (0..=1) of the way between two points.
    fn between(&self, v0: f64, v1: f64, u: f64) -> f64 {
        match self.curve {
            Curve::Linear => v0 + (v1 - v0) * u,
            Curve::Smooth => v0 + (v1 - v0) * 0.5 * (1.0 - (PI * u).cos()),
            Curve::Step => v0,
        }
    }

    /// The value, when it does not change from `t0` to `t1` seconds (`t0 <= t1`): both lie
    /// before the first point, after the last, or between two points it does not move between.
    pub fn constant_over(&self, t0: f64, t1: f64) -> Option<f64> {
        let p = &self.points;
        let i = p.partition_point(|&(pt, _)| pt <= t0);
        if i != p.partition_point(|&(pt, _)| pt <= t1) {
            return None;
        }
        match (i.checked_sub(1).map(|k| p[k]), p.get(i)) {
            (None, _) => Some(self.first()),
            (Some((_, v0)), None) => Some(v0),
            (Some((_, v0)), Some(&(_, v1))) if v0 == v1 || self.curve == Curve::Step => Some(v0),
            _ => None,
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
    KneeDb,
    AttackMs,
    ReleaseMs,
    RangeDb,
    HoldMs,
    TimeMs,
    HighcutHz,
    LowcutHz,
    MonoBelowHz,
    DecayS,
    Damping,
    Width,
    PredelayMs,
    /// A shelf's Cookbook slope `S`.
    Slope,
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
            ParamKey::KneeDb => "knee_db",
            ParamKey::AttackMs => "attack_ms",
            ParamKey::ReleaseMs => "release_ms",
            ParamKey::RangeDb => "range_db",
            ParamKey::HoldMs => "hold_ms",
            ParamKey::TimeMs => "time_ms",
            ParamKey::HighcutHz => "highcut_hz",
            ParamKey::LowcutHz => "lowcut_hz",
            ParamKey::MonoBelowHz => "mono_below_hz",
            ParamKey::DecayS => "decay_s",
            ParamKey::Damping => "damping",
            ParamKey::Width => "width",
            ParamKey::PredelayMs => "predelay_ms",
            ParamKey::Slope => "slope",
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

    /// The value just before a time is the limit from the left: the value a jump starts from
    /// (two points at one time, a step reaching its next point), elsewhere the value there.
    #[test]
    fn the_value_before_a_jump_is_where_it_jumps_from() {
        let jump = env(
            &[(0.0, 0.0), (2.0, 1.0), (2.0, 5.0), (4.0, 7.0)],
            Curve::Linear,
        );
        assert_eq!(jump.value_before(2.0), 1.0);
        assert_eq!(jump.value_at(2.0), 5.0);
        assert_eq!(jump.value_before(3.0), jump.value_at(3.0));
        assert_eq!(jump.value_before(0.0), 0.0);
        assert_eq!(jump.value_before(9.0), 7.0);
        let step = env(&[(1.0, 3.0), (2.0, 6.0)], Curve::Step);
        assert_eq!((step.value_before(2.0), step.value_at(2.0)), (3.0, 6.0));
        assert_eq!(step.value_before(1.5), 3.0);
        let smooth = env(&[(0.0, 0.0), (1.0, 4.0)], Curve::Smooth);
        assert!((smooth.value_before(1.0) - 4.0).abs() < 1e-12);
        assert!((smooth.value_before(0.5) - smooth.value_at(0.5)).abs() < 1e-12);
    }

    #[test]
    fn repeated_times_jump_and_the_later_point_holds() {
        let e = env(
            &[(0.0, 0.0), (2.0, 1.0), (2.0, 5.0), (4.0, 5.0)],
            Curve::Linear,
        );
        assert!((e.value_at(1.999_999) - 1.0).abs() < 1e-5);
        assert_eq!(e.value_at(2.0), 5.0);
        assert_eq!(e.value_at(3.0), 5.0);
        let one = env(&[(7.0, 3.0)], Curve::Smooth);
        assert_eq!(one.value_at(0.0), 3.0);
        assert_eq!(one.value_at(100.0), 3.0);
    }

    #[test]
    fn constant_stretches_are_found() {
        let e = env(
            &[(1.0, 0.0), (2.0, 4.0), (3.0, 4.0), (4.0, 1.0)],
            Curve::Linear,
        );
        assert_eq!(e.constant_over(-1.0, 0.999), Some(0.0));
        assert_eq!(e.constant_over(0.5, 1.0), None);
        assert_eq!(e.constant_over(1.2, 1.3), None);
        assert_eq!(e.constant_over(2.0, 2.9), Some(4.0));
        assert_eq!(e.constant_over(2.9, 3.0), None);
        assert_eq!(e.constant_over(4.0, 1e6), Some(1.0));
        let s = Envelope {
            curve: Curve::Step,
            ..e
        };
        assert_eq!(s.constant_over(1.2, 1.3), Some(0.0));
        // Wherever it says constant, every value in between agrees.
        for k in 0..500 {
            let t0 = -0.5 + k as f64 * 0.01;
            let t1 = t0 + 0.05;
            for v in [
                &s,
                &env(&[(1.0, 0.0), (2.0, 4.0), (3.0, 4.0)], Curve::Smooth),
            ] {
                if let Some(c) = v.constant_over(t0, t1) {
                    for j in 0..=10 {
                        assert_eq!(v.value_at(t0 + (t1 - t0) * j as f64 / 10.0), c);
                    }
                }
            }
        }
    }

    #[test]
    fn fill_samples_song_frames() {
        let e = env(&[(0.0, 0.0), (1.0, 48000.0)], Curve::Linear);
        let mut out = [0.0; 4];
        e.fill(-2, 48000.0, &mut out);
        assert_eq!(out, [0.0, 0.0, 0.0, 1.0]);
    }

    /// Every parameter the session file lets an envelope drive (README, "Automation") is
    /// taken by its processor, and moving all of them at once on loud noise stays finite;
    /// parameters that fix a processor's structure are refused.
    #[test]
    fn processors_take_every_automatable_parameter() {
        use crate::dsp::config::*;
        use crate::dsp::{Resources, construct};
        use ParamKey::*;
        let band = |kind, f| EqBand {
            gain_db: 3.0,
            q: 2.0,
            ..EqBand::new(kind, f)
        };
        let mut q_pass = EqBand::new(BandKind::Lowpass, 8000.0);
        q_pass.pass = PassShape::Q(0.9);
        let eq = FxConfig::Eq(EqConfig {
            bands: vec![
                band(BandKind::Peak, 1000.0),
                band(BandKind::Highshelf, 8000.0),
                q_pass,
            ],
            phase: Phase::Minimum,
        });
        let comp = CompressorConfig {
            ratio: 4.0,
            ..comp_default()
        };
        let p = ParamId::new;
        let b = |key, band| ParamId { key, band };
        // (config, parameters with the two values each moves between)
        type Swing = Vec<(ParamId, f64, f64)>;
        let cases: Vec<(FxConfig, Swing)> = vec![
            (
                FxConfig::Gain(GainConfig { gain_db: 0.0 }),
                vec![(p(GainDb), -40.0, 12.0)],
            ),
            (
                eq,
                vec![
                    (b(FreqHz, 0), 20.0, 20000.0),
                    (b(GainDb, 0), -30.0, 30.0),
                    (b(Q, 0), 0.1, 40.0),
                    (b(FreqHz, 1), 100.0, 16000.0),
                    (b(Q, 1), 0.1, 10.0),
                    (b(Slope, 1), 0.1, 1.0),
                    (b(FreqHz, 2), 30.0, 20000.0),
                    (b(Q, 2), 0.1, 20.0),
                ],
            ),
            (
                FxConfig::Eq(EqConfig {
                    bands: vec![
                        band(BandKind::Peak, 1000.0),
                        band(BandKind::Lowshelf, 300.0),
                    ],
                    phase: Phase::Linear,
                }),
                vec![
                    (b(FreqHz, 0), 200.0, 5000.0),
                    (b(GainDb, 0), -12.0, 12.0),
                    (b(Q, 0), 0.5, 4.0),
                    (b(Slope, 1), 0.3, 1.0),
                ],
            ),
            (
                FxConfig::Compressor(comp.clone()),
                vec![
                    (p(ThresholdDb), -80.0, 0.0),
                    (p(Ratio), 1.0, 100.0),
                    (p(MakeupDb), -24.0, 24.0),
                    (p(Mix), 0.0, 1.0),
                    (p(KneeDb), 0.0, 24.0),
                    (p(AttackMs), 0.01, 500.0),
                    (p(ReleaseMs), 1.0, 5000.0),
                ],
            ),
            (
                FxConfig::Deesser(DeesserConfig {
                    freq_hz: 6500.0,
                    threshold_db: -30.0,
                    range_db: 6.0,
                }),
                vec![
                    (p(ThresholdDb), -80.0, 0.0),
                    (p(RangeDb), 0.0, 24.0),
                    (p(FreqHz), 1000.0, 23000.0),
                ],
            ),
            (
                FxConfig::Gate(GateConfig {
                    threshold_db: -40.0,
                    range_db: 60.0,
                    attack_ms: 1.0,
                    hold_ms: 20.0,
                    release_ms: 100.0,
                }),
                vec![
                    (p(ThresholdDb), -100.0, 0.0),
                    (p(RangeDb), 0.0, 100.0),
                    (p(AttackMs), 0.01, 100.0),
                    (p(HoldMs), 0.0, 2000.0),
                    (p(ReleaseMs), 1.0, 5000.0),
                ],
            ),
            (
                FxConfig::Saturation(SaturationConfig {
                    model: SaturationModel::Tube,
                    drive_db: 6.0,
                    mix: 1.0,
                    output_db: 0.0,
                }),
                vec![
                    (p(DriveDb), 0.0, 36.0),
                    (p(Mix), 0.0, 1.0),
                    (p(OutputDb), -24.0, 24.0),
                ],
            ),
            (
                FxConfig::Delay(DelayConfig {
                    time_ms: 50.0,
                    feedback: 0.3,
                    mix: 0.25,
                    ping_pong: true,
                    highcut_hz: Some(5000.0),
                    lowcut_hz: Some(100.0),
                }),
                vec![
                    (p(Feedback), 0.0, 0.95),
                    (p(Mix), 0.0, 1.0),
                    (p(TimeMs), 0.1, 5000.0),
                    (p(HighcutHz), 20.0, 23000.0),
                    (p(LowcutHz), 10.0, 23000.0),
                ],
            ),
            (
                FxConfig::Chorus(ChorusConfig {
                    rate_hz: 0.8,
                    depth_ms: 3.0,
                    mix: 0.5,
                }),
                vec![
                    (p(RateHz), 0.01, 10.0),
                    (p(DepthMs), 0.0, 20.0),
                    (p(Mix), 0.0, 1.0),
                ],
            ),
            (
                FxConfig::Reverb(ReverbConfig {
                    kind: ReverbKind::Algorithmic {
                        model: ReverbModel::Room,
                        decay_s: 0.8,
                        damping: 0.5,
                        width: 1.0,
                    },
                    predelay_ms: 0.0,
                    mix: 0.0,
                }),
                vec![
                    (p(Mix), 0.0, 1.0),
                    (p(DecayS), 0.1, 20.0),
                    (p(Damping), 0.0, 1.0),
                    (p(Width), 0.0, 2.0),
                    (p(PredelayMs), 0.0, 500.0),
                ],
            ),
            (
                FxConfig::Reverb(ReverbConfig {
                    kind: ReverbKind::Convolution {
                        ir: "ir.wav".into(),
                    },
                    predelay_ms: 20.0,
                    mix: 0.5,
                }),
                vec![(p(Mix), 0.0, 1.0), (p(PredelayMs), 0.0, 500.0)],
            ),
            (
                FxConfig::Multiband(MultibandConfig {
                    crossovers_hz: vec![200.0, 3000.0],
                    bands: vec![comp.clone(); 3],
                }),
                [(b(FreqHz, 0), 50.0, 400.0), (b(FreqHz, 1), 1000.0, 20000.0)]
                    .into_iter()
                    .chain([0, 1, 2].into_iter().flat_map(|k| {
                        [
                            (b(ThresholdDb, k), -80.0, 0.0),
                            (b(Ratio, k), 1.0, 100.0),
                            (b(MakeupDb, k), -24.0, 24.0),
                            (b(Mix, k), 0.0, 1.0),
                            (b(KneeDb, k), 0.0, 24.0),
                            (b(AttackMs, k), 0.01, 500.0),
                            (b(ReleaseMs, k), 1.0, 5000.0),
                        ]
                    }))
                    .collect(),
            ),
            (
                FxConfig::Width(WidthConfig {
                    amount: 1.0,
                    mono_below_hz: Some(120.0),
                }),
                vec![(p(Amount), 0.0, 2.0), (p(MonoBelowHz), 20.0, 23000.0)],
            ),
        ];
        let spec = crate::testkit::spec(48000.0);
        let x = crate::testkit::white(48000, 3, 0.9);
        let mut res = Resources::default();
        let ir = crate::testkit::white(4800, 9, 0.1);
        res.impulse_responses
            .insert("ir.wav".into(), std::sync::Arc::new(vec![ir]));
        for (cfg, params) in cases {
            let mut proc = construct(&cfg, &res).unwrap();
            for &(id, lo, hi) in &params {
                assert!(proc.set_param(id, lo), "{cfg:?} refuses {id:?}");
                assert!(proc.set_param(id, hi));
            }
            proc.prepare(&spec);
            let (mut l, mut r) = (x.clone(), x.clone());
            for (k, (pl, pr)) in l
                .chunks_mut(AUTO_BLOCK)
                .zip(r.chunks_mut(AUTO_BLOCK))
                .enumerate()
            {
                // Every parameter swings between its extremes, a few times a second.
                let u = 0.5 - 0.5 * (k as f64 * 0.02).cos();
                for &(id, lo, hi) in &params {
                    proc.set_param(id, lo + (hi - lo) * u);
                }
                proc.process(&mut [pl, pr]);
            }
            let peak = l.iter().chain(&r).fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(
                peak.is_finite() && peak < 1e3,
                "{}: peak {peak}",
                proc.name()
            );
        }
        // Structure cannot move: a multiband's band or crossover it does not have, a key its
        // compressors do not take; a filter the session file leaves out.
        let mb = FxConfig::Multiband(MultibandConfig {
            crossovers_hz: vec![200.0],
            bands: vec![comp_default(); 2],
        });
        let mut m = construct(&mb, &Resources::default()).unwrap();
        assert!(!m.set_param(b(ThresholdDb, 2), -40.0));
        assert!(!m.set_param(b(FreqHz, 1), 300.0));
        let no_cuts = FxConfig::Delay(DelayConfig {
            time_ms: 50.0,
            feedback: 0.3,
            mix: 0.25,
            ping_pong: false,
            highcut_hz: None,
            lowcut_hz: None,
        });
        let mut d = construct(&no_cuts, &Resources::default()).unwrap();
        assert!(!d.set_param(p(HighcutHz), 1000.0));
        assert!(!d.set_param(p(LowcutHz), 1000.0));
        let flat = FxConfig::Width(WidthConfig {
            amount: 1.0,
            mono_below_hz: None,
        });
        let mut w = construct(&flat, &Resources::default()).unwrap();
        assert!(!w.set_param(p(MonoBelowHz), 100.0));
    }

    fn comp_default() -> crate::dsp::config::CompressorConfig {
        crate::dsp::config::CompressorConfig {
            threshold_db: -20.0,
            ratio: 2.0,
            knee_db: 6.0,
            attack_ms: 10.0,
            release_ms: 100.0,
            makeup_db: 0.0,
            detector: crate::dsp::config::Detector::Peak,
            mix: 1.0,
            sidechain: None,
        }
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
