//! Parametric EQ: the bands of an `eq` fx item as Cookbook biquads in series, per channel.
//!
//! Each band becomes one or more [`Coeffs`] sections (a Butterworth cascade for a high- or
//! low-pass given as a slope, one section otherwise); every channel runs the whole cascade with
//! its own f64 state (a [`Cascade`]), so no precision is lost between sections. Coefficients
//! depend on the sample rate and are computed in `prepare`. An automated band's frequency, gain
//! or Q, or a shelf's slope, moves to each update (one per [`AUTO_BLOCK`] frames) in steps of
//! [`EQ_STEP`] frames, frequency, Q and slope geometrically, gain in dB linearly: the Cookbook
//! coefficients are recomputed at each step and the filter states carried over.
//! `phase = "linear"` is realised by a separate FIR stage designed from [`magnitude_db`]; this
//! processor always filters minimum-phase.
//!
//! [`AUTO_BLOCK`]: super::envelope::AUTO_BLOCK

use realfft::num_complex::Complex64;

use super::biquad::{
    Cascade, Coeffs, GLIDE_STEP, amplitude_to_db, butterworth_highpass, butterworth_lowpass,
    butterworth_order, cascade_response, cascade_ring_frames, geometric,
};
use super::config::{BandKind, EqBand, EqConfig, PassShape, ShelfShape};
use super::envelope::{ParamId, ParamKey};
use super::{ProcessSpec, Processor};

/// Highest corner used, as a fraction of the sample rate. Validation keeps `freq_hz` below
/// Nyquist at the session rate; the clamp only guards a processor prepared at a lower rate
/// than it was validated for, where `tan(pi f0 / Fs)` would change sign and the section would
/// turn unstable.
const MAX_F0_RATIO: f64 = 0.499;

/// Lowest corner used, in Hz (validation's floor is 1 Hz; a zero corner would put a pole on
/// the unit circle).
const MIN_F0_HZ: f64 = 1e-3;

/// Smallest Q used (validation's floor is 0.1; Q = 0 would divide by zero).
const MIN_Q: f64 = 1e-3;

/// Append the sections of one band at sample rate `fs` Hz to `out`.
fn push_band(band: &EqBand, fs: f64, out: &mut Vec<Coeffs>) {
    let f0 = band.freq_hz.clamp(MIN_F0_HZ, MAX_F0_RATIO * fs);
    let q = band.q.max(MIN_Q);
    match band.kind {
        BandKind::Highpass | BandKind::Lowpass => {
            let high = band.kind == BandKind::Highpass;
            match band.pass {
                PassShape::Slope(s) => {
                    let n = butterworth_order(s);
                    out.extend(if high {
                        butterworth_highpass(fs, f0, n)
                    } else {
                        butterworth_lowpass(fs, f0, n)
                    });
                }
                PassShape::Q(pq) => {
                    let pq = pq.max(MIN_Q);
                    out.push(if high {
                        Coeffs::highpass(fs, f0, pq)
                    } else {
                        Coeffs::lowpass(fs, f0, pq)
                    });
                }
            }
        }
        BandKind::Lowshelf => out.push(Coeffs::low_shelf(fs, f0, band.gain_db, band.shelf)),
        BandKind::Highshelf => out.push(Coeffs::high_shelf(fs, f0, band.gain_db, band.shelf)),
        BandKind::Peak => out.push(Coeffs::peak(fs, f0, q, band.gain_db)),
        BandKind::Notch => out.push(Coeffs::notch(fs, f0, q)),
        BandKind::Bandpass => out.push(Coeffs::bandpass(fs, f0, q)),
    }
}

/// Every section of `cfg` at sample rate `fs` Hz, bands in order. Their product is the EQ's
/// transfer function; evaluate it with [`cascade_response`](super::biquad::cascade_response).
pub fn sections(cfg: &EqConfig, fs: f64) -> Vec<Coeffs> {
    let mut out = Vec::new();
    sections_into(cfg, fs, &mut out);
    out
}

/// [`sections`] into `out` (cleared first; no allocation once it has held as many).
pub fn sections_into(cfg: &EqConfig, fs: f64, out: &mut Vec<Coeffs>) {
    out.clear();
    for band in &cfg.bands {
        push_band(band, fs, out);
    }
}

/// Analytic transfer function of the minimum-phase EQ at `f` Hz (sample rate `fs` Hz).
pub fn response(cfg: &EqConfig, f: f64, fs: f64) -> Complex64 {
    cascade_response(&sections(cfg, fs), f, fs)
}

/// Analytic magnitude of the EQ at `f` Hz (sample rate `fs` Hz) in dB: the product of all
/// bands' `|H|`, floored at [`MIN_DB`](super::biquad::MIN_DB) (-300 dB, so a notch's zero is
/// finite). The linear-phase FIR is designed from this. It builds the sections on each call;
/// to evaluate many frequencies, take [`sections`] once and use
/// [`cascade_magnitude_db`](super::biquad::cascade_magnitude_db).
pub fn magnitude_db(cfg: &EqConfig, f: f64, fs: f64) -> f64 {
    amplitude_to_db(response(cfg, f, fs).norm())
}

/// Frames between coefficient updates of a moving band (the step every moving filter uses).
pub const EQ_STEP: usize = GLIDE_STEP;

/// `a` moved a fraction `u` of the way to `b`: frequencies, Qs and shelf slopes geometrically
/// (frequencies even in octaves), gains linearly in dB.
fn band_between(a: &EqBand, b: &EqBand, u: f64) -> EqBand {
    let geo = |x: f64, y: f64| geometric(x, y, u);
    let lin = |x: f64, y: f64| if x == y { y } else { x + (y - x) * u };
    let mut out = b.clone();
    out.freq_hz = geo(a.freq_hz, b.freq_hz);
    out.gain_db = lin(a.gain_db, b.gain_db);
    out.q = geo(a.q, b.q);
    if let (PassShape::Q(x), PassShape::Q(y)) = (a.pass, b.pass) {
        out.pass = PassShape::Q(geo(x, y));
    }
    match (a.shelf, b.shelf) {
        (ShelfShape::Q(x), ShelfShape::Q(y)) => out.shelf = ShelfShape::Q(geo(x, y)),
        (ShelfShape::Slope(x), ShelfShape::Slope(y)) => out.shelf = ShelfShape::Slope(geo(x, y)),
        _ => {}
    }
    out
}

/// Set the band parameter `param` of `cfg` to `value`: a band's `freq_hz`, `gain_db` or `q`
/// (for a pass or shelf band its `q` form), or a shelf's Cookbook `slope` `S`. `None` if
/// `cfg` has no such band or the key is not a band's; else whether the band changed. Shared by
/// the minimum- and linear-phase EQs, so both take the same keys.
pub fn set_band_param(cfg: &mut EqConfig, param: ParamId, value: f64) -> Option<bool> {
    let band = cfg.bands.get_mut(param.band)?;
    let before = band.clone();
    match param.key {
        ParamKey::FreqHz => band.freq_hz = value,
        ParamKey::GainDb => band.gain_db = value,
        ParamKey::Q => match band.kind {
            BandKind::Highpass | BandKind::Lowpass => band.pass = PassShape::Q(value),
            BandKind::Lowshelf | BandKind::Highshelf => band.shelf = ShelfShape::Q(value),
            _ => band.q = value,
        },
        ParamKey::Slope => match band.kind {
            BandKind::Lowshelf | BandKind::Highshelf => band.shelf = ShelfShape::Slope(value),
            _ => return None,
        },
        _ => return None,
    }
    Some(*band != before)
}

/// Ring-out is capped at this many seconds (the session's automatic tail stops at 30 s).
const MAX_TAIL_S: f64 = 30.0;

/// The `eq` processor: all bands in series on every channel.
#[derive(Debug, Clone)]
pub struct Eq {
    /// The settings the filter runs at (the target of automation).
    cfg: EqConfig,
    /// Under automation: the settings the last block ended at.
    from: Vec<EqBand>,
    /// Bands between `from` and `cfg`, for one step.
    step: Vec<EqBand>,
    cascade: Cascade,
    tail: usize,
    /// Sample rate of `prepare` (0 before).
    fs: f64,
    /// A parameter moved since the coefficients were computed.
    dirty: bool,
    /// Settings an envelope reaches, set before `prepare`: the tail covers the longest ringing.
    reached: Vec<EqConfig>,
    /// Scratch for recomputed sections.
    scratch: Vec<Coeffs>,
}

impl Eq {
    /// An EQ for the validated `cfg`; filters nothing until `prepare` sets the sample rate.
    pub fn new(cfg: &EqConfig) -> Self {
        Eq {
            cfg: cfg.clone(),
            from: cfg.bands.clone(),
            step: Vec::new(),
            cascade: Cascade::default(),
            tail: 0,
            fs: 0.0,
            dirty: false,
            reached: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

impl Processor for Eq {
    fn name(&self) -> &'static str {
        "eq"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        let coeffs = sections(&self.cfg, spec.sample_rate);
        let cap = (MAX_TAIL_S * spec.sample_rate) as usize;
        let reached = self
            .reached
            .iter()
            .map(|c| cascade_ring_frames(&sections(c, spec.sample_rate)))
            .max()
            .unwrap_or(0);
        self.tail = cascade_ring_frames(&coeffs).max(reached).min(cap);
        self.scratch = Vec::with_capacity(coeffs.len());
        self.cascade = Cascade::new(coeffs);
        self.fs = spec.sample_rate;
        self.dirty = false;
        self.from = self.cfg.bands.clone();
        self.step = self.cfg.bands.clone();
    }

    fn reset(&mut self) {
        self.cascade.reset();
    }

    /// One or two channels (more pass through unchanged).
    fn process(&mut self, block: &mut [&mut [f32]]) {
        if !(self.dirty && self.fs > 0.0) {
            self.cascade.process(block);
            return;
        }
        // Moving: EQ_STEP frames at a time, each at the settings of its last frame on the way
        // from where the last block ended to the update.
        let n = block.first().map_or(0, |c| c.len());
        let mut o = 0;
        while o < n {
            let m = EQ_STEP.min(n - o);
            let u = (o + m) as f64 / n as f64;
            for ((s, a), b) in self.step.iter_mut().zip(&self.from).zip(&self.cfg.bands) {
                *s = band_between(a, b, u);
            }
            self.scratch.clear();
            for band in &self.step {
                push_band(band, self.fs, &mut self.scratch);
            }
            self.cascade.set_coeffs(&self.scratch);
            match block {
                [l, r] => self
                    .cascade
                    .process(&mut [&mut l[o..o + m], &mut r[o..o + m]]),
                [c] => self.cascade.process(&mut [&mut c[o..o + m]]),
                _ => {}
            }
            o += m;
        }
        self.from.clone_from(&self.cfg.bands);
        self.dirty = false;
    }

    fn batch(&mut self) -> Option<super::Batch<'_>> {
        // As `process` runs it when nothing moves.
        (!(self.dirty && self.fs > 0.0)).then_some(super::Batch::Cascade(&mut self.cascade))
    }

    /// A band's `freq_hz`, `gain_db` or `q`, or a shelf's `slope` ([`set_band_param`]).
    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        let Some(moved) = set_band_param(&mut self.cfg, param, value) else {
            return false;
        };
        // A value that did not move leaves the coefficients as they are.
        self.dirty |= moved;
        if self.fs == 0.0 {
            self.reached.push(self.cfg.clone());
        }
        true
    }

    /// Frames for the impulse response to fall 120 dB (capped at 30 s).
    fn tail(&self) -> usize {
        self.tail
    }
}

#[cfg(test)]
mod tests {
    use super::{Eq, magnitude_db, sections};
    use crate::dsp::biquad::test_util::{bins, spectrum};
    use crate::dsp::biquad::{cascade_magnitude_db, cascade_ring_frames};
    use crate::dsp::config::{BandKind, EqBand, EqConfig, PassShape, Phase, ShelfShape};
    use crate::dsp::{ProcessSpec, Processor};
    use crate::testkit::{assert_invariants, run, sine_gain_db, spec};

    fn band(kind: BandKind, freq_hz: f64) -> EqBand {
        EqBand::new(kind, freq_hz)
    }

    fn eq(bands: Vec<EqBand>) -> EqConfig {
        EqConfig {
            bands,
            phase: Phase::Minimum,
        }
    }

    /// A mastering-style chain touching every kind but band-pass: an 18 dB/oct (odd order)
    /// high-pass, shelves in both forms, cut and boost peaks, a notch and a Q low-pass.
    fn multi_band() -> EqConfig {
        eq(vec![
            EqBand {
                pass: PassShape::Slope(18),
                ..band(BandKind::Highpass, 30.0)
            },
            EqBand {
                gain_db: 3.0,
                shelf: ShelfShape::Slope(0.7),
                ..band(BandKind::Lowshelf, 110.0)
            },
            EqBand {
                gain_db: -4.5,
                q: 2.0,
                ..band(BandKind::Peak, 420.0)
            },
            EqBand {
                q: 10.0,
                ..band(BandKind::Notch, 3150.0)
            },
            EqBand {
                gain_db: 2.5,
                q: 0.9,
                ..band(BandKind::Peak, 5000.0)
            },
            EqBand {
                gain_db: 1.5,
                shelf: ShelfShape::Q(0.8),
                ..band(BandKind::Highshelf, 10000.0)
            },
            EqBand {
                pass: PassShape::Q(0.9),
                ..band(BandKind::Lowpass, 19000.0)
            },
        ])
    }

    /// Impulse response of a prepared `Eq` (channel 0), `len` frames.
    fn impulse_response(cfg: &EqConfig, fs: f64, len: usize) -> Vec<f64> {
        let mut p = Eq::new(cfg);
        p.prepare(&spec(fs));
        let mut x = vec![vec![0.0f32; len]; 2];
        x[0][0] = 1.0;
        x[1][0] = 1.0;
        let y = run(&mut p, &x, 4096);
        assert_eq!(y[0], y[1], "channels must be processed alike");
        y[0].iter().map(|&v| f64::from(v)).collect()
    }

    /// Largest |FFT of the processor's impulse response - analytic magnitude| in dB over
    /// 20 Hz..min(20 kHz, 0.45 Fs), skipping bins where the analytic magnitude is below
    /// -60 dB (there the f32 output's rounding, -150 dB, is no longer negligible).
    fn worst_fft_error(cfg: &EqConfig, fs: f64) -> f64 {
        let len = 1 << 17;
        let h = spectrum(&impulse_response(cfg, fs, len));
        bins(len, fs, 20.0, 20000f64.min(0.45 * fs))
            .filter_map(|(k, f)| {
                let want = magnitude_db(cfg, f, fs);
                (want > -60.0).then(|| (20.0 * h[k].norm().log10() - want).abs())
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn processor_impulse_response_matches_analytic_magnitude() {
        for fs in [44100.0, 48000.0, 96000.0] {
            let err = worst_fft_error(&multi_band(), fs);
            // Measured: 3.7e-5 dB at 44.1 kHz, 8.7e-5 dB at 48 kHz, 1.2e-5 dB at 96 kHz.
            assert!(err < 0.1, "{fs} Hz: max |EQ - analytic| = {err} dB");
        }
    }

    #[test]
    fn every_slope_and_kind_matches_analytic_magnitude() {
        let fs = 48000.0;
        for slope in [6, 12, 18, 24, 36, 48] {
            for kind in [BandKind::Highpass, BandKind::Lowpass] {
                let cfg = eq(vec![EqBand {
                    pass: PassShape::Slope(slope),
                    ..band(kind, 700.0)
                }]);
                let err = worst_fft_error(&cfg, fs);
                assert!(err < 0.1, "{kind:?} {slope} dB/oct: {err} dB");
                // Measured: at most 2.6e-4 dB (24 dB/oct high-pass).
                let at_f0 = magnitude_db(&cfg, 700.0, fs);
                assert!((at_f0 + 3.0103).abs() < 1e-4, "{at_f0}");
            }
        }
        let bp = eq(vec![EqBand {
            q: 3.0,
            ..band(BandKind::Bandpass, 2000.0)
        }]);
        assert!(worst_fft_error(&bp, fs) < 0.1);
        assert!(magnitude_db(&bp, 2000.0, fs).abs() < 1e-9);
    }

    #[test]
    fn magnitude_is_the_product_of_the_bands() {
        let cfg = multi_band();
        let fs = 44100.0;
        for f in [25.0, 110.0, 420.0, 1000.0, 3150.0, 10000.0, 19000.0] {
            let sum: f64 = cfg
                .bands
                .iter()
                .map(|b| magnitude_db(&eq(vec![b.clone()]), f, fs))
                .sum();
            let whole = magnitude_db(&cfg, f, fs);
            assert!((sum - whole).abs() < 1e-9, "{f} Hz: {sum} vs {whole}");
        }
        // Landmarks: the peak's gain at its centre (other bands are near 0 dB there).
        let peak = eq(vec![cfg.bands[2].clone()]);
        assert!((magnitude_db(&peak, 420.0, fs) + 4.5).abs() < 1e-9);
        assert!(magnitude_db(&eq(vec![cfg.bands[3].clone()]), 3150.0, fs) < -200.0);
        // Sine through the processor agrees too (testkit's independent measurement).
        let mut p = Eq::new(&peak);
        p.prepare(&spec(fs));
        let db = sine_gain_db(&mut p, fs, 420.0, 0.5);
        assert!((db + 4.5).abs() < 0.01, "{db}");
    }

    #[test]
    fn contract_invariants() {
        let configs = [
            multi_band(),
            eq(vec![]),
            eq(vec![EqBand {
                pass: PassShape::Slope(48),
                ..band(BandKind::Highpass, 20.0)
            }]),
            eq(vec![EqBand {
                gain_db: 12.0,
                q: 8.0,
                ..band(BandKind::Peak, 60.0)
            }]),
        ];
        for cfg in configs {
            assert_invariants(&|| Box::new(Eq::new(&cfg)), 48000.0, 0.0);
        }
    }

    #[test]
    fn empty_eq_is_bit_transparent() {
        let mut p = Eq::new(&eq(vec![]));
        p.prepare(&spec(48000.0));
        let x = crate::testkit::test_signal(48000.0, 0.2, 0.9);
        assert_eq!(run(&mut p, &x, 64), x);
    }

    /// A 20 Hz, 48 dB/oct high-pass at 8 kHz (poles crowding z = 1) and bands at 20 kHz at
    /// 44.1 kHz (poles near z = -1) stay stable: finite output for hot noise, an impulse
    /// response that decays, and the analytic response measured.
    #[test]
    fn extreme_corners_stay_stable() {
        let cases = [
            (
                8000.0,
                eq(vec![EqBand {
                    pass: PassShape::Slope(48),
                    ..band(BandKind::Highpass, 20.0)
                }]),
            ),
            (
                44100.0,
                eq(vec![
                    EqBand {
                        gain_db: 12.0,
                        q: 6.0,
                        ..band(BandKind::Peak, 20000.0)
                    },
                    EqBand {
                        gain_db: -6.0,
                        ..band(BandKind::Highshelf, 20000.0)
                    },
                    EqBand {
                        pass: PassShape::Slope(48),
                        ..band(BandKind::Lowpass, 20000.0)
                    },
                    EqBand {
                        q: 30.0,
                        ..band(BandKind::Notch, 20000.0)
                    },
                ]),
            ),
        ];
        for (fs, cfg) in &cases {
            let fs = *fs;
            for c in sections(cfg, fs) {
                assert!(c.pole_radius() < 1.0, "{c:?}");
            }
            let ir = impulse_response(cfg, fs, 1 << 17);
            let late: f64 = ir[ir.len() / 2..].iter().map(|v| v * v).sum();
            assert_eq!(late, 0.0, "impulse response still ringing at {fs} Hz");
            // Measured: 1.9e-7 dB (8 kHz), 2.7e-7 dB (44.1 kHz).
            let err = worst_fft_error(cfg, fs);
            assert!(err < 0.1, "{fs} Hz: {err} dB");
            let mut p = Eq::new(cfg);
            p.prepare(&spec(fs));
            let hot = crate::testkit::test_signal(fs, 1.0, 4.0);
            assert!(
                run(&mut p, &hot, 512)
                    .iter()
                    .flatten()
                    .all(|v| v.is_finite())
            );
        }
        // The high-pass is -3.01 dB at 20 Hz even at 8 kHz.
        let (fs, cfg) = &cases[0];
        let db = cascade_magnitude_db(&sections(cfg, *fs), 20.0, *fs);
        assert!((db + 3.0103).abs() < 1e-4, "{db}");
    }

    #[test]
    fn tail_covers_the_ringing() {
        let fs = 48000.0;
        let cfg = multi_band();
        let mut p = Eq::new(&cfg);
        p.prepare(&ProcessSpec {
            sample_rate: fs,
            max_block: 512,
            channels: 2,
        });
        let tail = p.tail();
        assert_eq!(tail, cascade_ring_frames(&sections(&cfg, fs)));
        let ir = impulse_response(&cfg, fs, tail + 1);
        let peak = ir.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let last = ir[tail - 100..].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(last < 1e-6 * peak, "{last} vs {peak} after {tail} frames");
    }

    /// Noise through a +12 dB, Q 10 peak swept from 20 Hz to 20 kHz in one second (log), its
    /// frequency updated every `every` frames as the engine does (the value of each piece's
    /// last frame), both channels. `jump`: the new frequency applies at once (a one-frame
    /// block takes the new value whole) instead of being ramped across the piece.
    fn swept(x: &[f32], every: usize, jump: bool) -> Vec<f32> {
        use crate::dsp::envelope::{ParamId, ParamKey};
        let fs = 48000.0;
        let cfg = eq(vec![EqBand {
            gain_db: 12.0,
            q: 10.0,
            ..band(BandKind::Peak, 20.0)
        }]);
        let mut p = Eq::new(&cfg);
        p.prepare(&spec(fs));
        let n = x.len();
        let mut l = x.to_vec();
        let mut r = x.to_vec();
        let mut o = 0;
        while o < n {
            let m = every.min(n - o);
            let f = 20.0 * 1000f64.powf((o + m - 1) as f64 / fs);
            assert!(p.set_param(ParamId::new(ParamKey::FreqHz), f));
            let first = if jump { 1 } else { m };
            p.process(&mut [&mut l[o..o + first], &mut r[o..o + first]]);
            p.process(&mut [&mut l[o + first..o + m], &mut r[o + first..o + m]]);
            o += m;
        }
        assert_eq!(l, r, "both channels filter alike");
        l
    }

    #[test]
    fn a_fast_high_q_sweep_stays_finite_bounded_and_click_free() {
        use crate::dsp::envelope::AUTO_BLOCK;
        let x = crate::testkit::white(48000, 7, 0.5);
        let y = swept(&x, AUTO_BLOCK, false);
        assert!(y.iter().all(|v| v.is_finite()), "NaN or infinity");
        // The boost is at most 12 dB (x4); a filter that misbehaves under the sweep rings far
        // beyond the static response's peak.
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak < 0.5 * 4.0 * 2.0, "peak {peak}");
        // Zipper noise is the difference to the same sweep updated on every sample: it must
        // stay 40 dB below the signal. The same sweep in jumps, every 4096 frames (an octave)
        // or every AUTO_BLOCK frames, shows it, so the measure can fail.
        let ideal = swept(&x, 1, false);
        let energy = |v: &[f32]| v.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
        let error_db = |y: &[f32]| {
            let d: Vec<f32> = y.iter().zip(&ideal).map(|(a, b)| a - b).collect();
            10.0 * (energy(&d) / energy(&ideal)).log10()
        };
        let fine = error_db(&y);
        let coarse = error_db(&swept(&x, 4096, true));
        let stepped = error_db(&swept(&x, AUTO_BLOCK, true));
        println!(
            "sweep difference to per-sample updates: {fine:.1} dB (in jumps every 4096 frames: \
             {coarse:.1} dB, every {AUTO_BLOCK}: {stepped:.1} dB)"
        );
        assert!(fine < -40.0, "{fine:.1} dB");
        assert!(
            coarse > -40.0,
            "the measure must see block-rate steps ({coarse:.1} dB)"
        );
        assert!(stepped > fine, "ramping must beat jumps ({stepped:.1} dB)");
    }

    /// Noise through a +12 dB low shelf at 1 kHz whose Cookbook slope `S` sweeps from 0.1 to 1
    /// (geometrically) in one second, updated every `every` frames as the engine does (see
    /// [`swept`] for `jump`); returns the output and the processor, settled at `S` = 1.
    fn slope_swept(x: &[f32], every: usize, jump: bool) -> (Vec<f32>, Eq) {
        use crate::dsp::envelope::{ParamId, ParamKey};
        let fs = 48000.0;
        let cfg = eq(vec![EqBand {
            gain_db: 12.0,
            shelf: ShelfShape::Slope(0.1),
            ..band(BandKind::Lowshelf, 1000.0)
        }]);
        let mut p = Eq::new(&cfg);
        p.prepare(&spec(fs));
        let s = |t: usize| (0.1 * 10f64.powf(t as f64 / fs)).min(1.0);
        let y = crate::testkit::run_automated(
            &mut p,
            &[x.to_vec(), x.to_vec()],
            ParamId::new(ParamKey::Slope),
            &s,
            every,
            jump,
        );
        assert_eq!(y[0], y[1], "both channels filter alike");
        (y[0].clone(), p)
    }

    #[test]
    fn a_shelf_slope_sweep_is_smooth_and_lands_on_the_cookbook_shelf() {
        use crate::dsp::envelope::AUTO_BLOCK;
        let fs = 48000.0;
        let x = crate::testkit::white(48000, 11, 0.5);
        let (y, mut p) = slope_swept(&x, AUTO_BLOCK, false);
        assert!(y.iter().all(|v| v.is_finite()), "NaN or infinity");
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak < 0.5 * 4.0 * 2.0, "peak {peak}");
        // Against the same sweep updated on every sample, as for the frequency sweep.
        let ideal = slope_swept(&x, 1, false).0;
        let fine = crate::testkit::difference_db(&y, &ideal);
        let coarse = crate::testkit::difference_db(&slope_swept(&x, 4096, true).0, &ideal);
        let stepped = crate::testkit::difference_db(&slope_swept(&x, AUTO_BLOCK, true).0, &ideal);
        println!(
            "slope sweep difference to per-sample updates: {fine:.1} dB (in jumps every 4096 \
             frames: {coarse:.1} dB, every {AUTO_BLOCK}: {stepped:.1} dB)"
        );
        assert!(fine < -40.0, "{fine:.1} dB");
        assert!(
            coarse > fine + 10.0,
            "the measure must see steps ({coarse:.1} dB)"
        );
        assert!(stepped > fine, "ramping must beat jumps ({stepped:.1} dB)");
        // Settled at S = 1: the Cookbook shelf's magnitude, here and around its corner.
        let want = eq(vec![EqBand {
            gain_db: 12.0,
            shelf: ShelfShape::Slope(1.0),
            ..band(BandKind::Lowshelf, 1000.0)
        }]);
        for f in [300.0, 700.0, 1000.0, 1500.0, 4000.0] {
            let db = sine_gain_db(&mut p, fs, f, 0.5);
            let cook = magnitude_db(&want, f, fs);
            assert!(
                (db - cook).abs() < 0.01,
                "{f} Hz: {db} dB, Cookbook {cook} dB"
            );
        }
    }

    /// `phase = "linear"` is rendered by a later FIR stage; this processor stays minimum-phase
    /// and its magnitude is the same.
    #[test]
    fn linear_phase_config_filters_minimum_phase() {
        let mut cfg = multi_band();
        let min = impulse_response(&cfg, 48000.0, 4096);
        cfg.phase = Phase::Linear;
        assert_eq!(impulse_response(&cfg, 48000.0, 4096), min);
    }
}
