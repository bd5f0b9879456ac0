//! Stereo width: scale the side signal, and optionally make the low end mono.
//!
//! The stereo pair is rotated into mid `M = (L + R) / 2` and side `S = (L - R) / 2`, the side is
//! scaled by `amount` (0 mono, 1 as is, 2 twice the side), and `L = M + S'`, `R = M - S'` rebuild
//! the pair. With `mono_below_hz = f`, the pair is in effect split by an LR4 crossover at `f`:
//! the low band is made mono and `amount` applies to the high band only. Written in mid/side,
//! that is `S' = amount * HP(S)` and `M' = AP(M)`, where `HP` is the LR4 high-pass and `AP`
//! the LR4 all-pass (= LP + HP) at `f`.
//!
//! Why the all-pass on the mid: an LR4 high-pass on the side alone (the simplest mono-maker)
//! rotates the side's phase against the mid's by up to 180 degrees around `f` (-6 dB and
//! inverted at `f` itself), so a source panned hard left leaks into the right channel there and
//! in fact lands on the right at `f` (3:1), and still leaks at -9 dB at `4 f`. Giving the mid the
//! same phase as the high-passed side keeps every source on its side: above `f` the output is
//! the input through one all-pass, and a hard-left source's leak into the right is only the LR4
//! low band (-54 dB at `4 f`). Subtracting an LR4 low band from the side instead (`S - LP(S)`)
//! does not remove the low side at all, because `LP` is not in phase with `S` (at `f / 4` it
//! is down only about 3 dB). The mid's magnitude is untouched either way; only its phase turns,
//! as in any crossover. An automated `amount` is ramped per sample; an automated `mono_below_hz`
//! moves geometrically in steps of [`GLIDE_STEP`] frames, the high-pass and the all-pass always
//! recomputed together at the same frequency (so each step is still a crossover whose bands sum
//! to the all-pass) with their states carried over.

use super::biquad::{Coeffs, GLIDE_STEP, Glide, State, cascade_ring_frames, to_f32};
use super::config::WidthConfig;
use super::crossover::{lr4_allpass, lr4_highpass};
use super::envelope::{ParamId, ParamKey, Ramp};
use super::{ProcessSpec, Processor};

/// The `width` processor (stereo only; other channel counts pass through).
#[derive(Debug, Clone)]
pub struct Width {
    /// Side gain: 0 mono, 1 as is, 2 twice the side.
    amount: f64,
    /// `amount` under automation.
    ramp: Ramp,
    /// Side removed below this frequency (Hz), if set.
    mono_below_hz: Option<f64>,
    side_hp: [Coeffs; 2],
    mid_ap: Coeffs,
    side_state: [State; 2],
    mid_state: State,
    tail: usize,
    /// `mono_below_hz` under automation, and the lowest it reaches (the tail covers its
    /// ringing).
    glide: Glide,
    lowest_hz: f64,
    sample_rate: f64,
}

impl Width {
    /// A width stage for the validated `cfg` (`amount` 0..2, `mono_below_hz` 20 Hz..Nyquist).
    pub fn new(cfg: &WidthConfig) -> Self {
        Width {
            amount: cfg.amount,
            ramp: Ramp::new(cfg.amount),
            mono_below_hz: cfg.mono_below_hz,
            side_hp: [Coeffs::identity(); 2],
            mid_ap: Coeffs::identity(),
            side_state: [State::default(); 2],
            mid_state: State::default(),
            tail: 0,
            glide: Glide::new(cfg.mono_below_hz.unwrap_or(0.0)),
            lowest_hz: cfg.mono_below_hz.unwrap_or(0.0),
            sample_rate: 0.0,
        }
    }

    /// Set the crossover at `f` Hz, clamped below Nyquist in case the rate is lower than the
    /// one validated for.
    fn crossover_at(&mut self, f: f64) {
        let fs = self.sample_rate;
        let f = f.clamp(1e-3, 0.499 * fs);
        self.side_hp = lr4_highpass(fs, f);
        self.mid_ap = lr4_allpass(fs, f);
    }

    /// One stereo frame through the crossover (when there is one) and the side gain `a`.
    #[inline]
    fn frame(&mut self, x: &mut f32, y: &mut f32, a: f64) {
        let (xl, xr) = (f64::from(*x), f64::from(*y));
        let (m, s) = match self.mono_below_hz {
            None => (0.5 * (xl + xr), 0.5 * (xl - xr)),
            Some(_) => (
                self.mid_state.process(&self.mid_ap, 0.5 * (xl + xr)),
                State::process_cascade(&mut self.side_state, &self.side_hp, 0.5 * (xl - xr)),
            ),
        };
        *x = to_f32(m + a * s);
        *y = to_f32(m - a * s);
    }

    /// A block while the amount or the crossover moves: the amount per frame, the crossover
    /// per step of [`GLIDE_STEP`] frames.
    fn process_moving(&mut self, l: &mut [f32], r: &mut [f32]) {
        let n = l.len();
        let (start, step) = self.ramp.begin(n);
        let moves = self.glide.moving();
        for (i, (x, y)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
            if moves && i % GLIDE_STEP == 0 {
                self.crossover_at(self.glide.at((i + GLIDE_STEP).min(n), n));
            }
            self.frame(x, y, start + step * (i + 1) as f64);
        }
        self.amount = self.ramp.target();
        self.glide.settle();
    }
}

impl Processor for Width {
    fn name(&self) -> &'static str {
        "width"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        self.sample_rate = spec.sample_rate;
        if let Some(f) = self.mono_below_hz {
            // The lowest crossover an envelope reaches rings longest.
            self.crossover_at(self.lowest_hz.min(f));
            self.tail = cascade_ring_frames(&self.side_hp).max(self.mid_ap.ring_frames());
            self.crossover_at(f);
            self.glide = Glide::new(f);
        }
        self.reset();
    }

    fn reset(&mut self) {
        self.side_state = [State::default(); 2];
        self.mid_state.reset();
    }

    /// Blocks that are not stereo pass through unchanged.
    fn process(&mut self, block: &mut [&mut [f32]]) {
        let [l, r] = block else {
            return;
        };
        if self.ramp.moving() || self.glide.moving() {
            self.process_moving(l, r);
            return;
        }
        let a = self.amount;
        match self.mono_below_hz {
            // The plain rotation is not bit-exact in floating point; unity width must be.
            None if a == 1.0 => {}
            None => {
                for (x, y) in l.iter_mut().zip(r.iter_mut()) {
                    let (xl, xr) = (f64::from(*x), f64::from(*y));
                    let m = 0.5 * (xl + xr);
                    let s = a * 0.5 * (xl - xr);
                    *x = to_f32(m + s);
                    *y = to_f32(m - s);
                }
            }
            Some(_) => {
                for (x, y) in l.iter_mut().zip(r.iter_mut()) {
                    let (xl, xr) = (f64::from(*x), f64::from(*y));
                    let m = self.mid_state.process(&self.mid_ap, 0.5 * (xl + xr));
                    let s = a * State::process_cascade(
                        &mut self.side_state,
                        &self.side_hp,
                        0.5 * (xl - xr),
                    );
                    *x = to_f32(m + s);
                    *y = to_f32(m - s);
                }
            }
        }
    }

    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        match param.key {
            ParamKey::Amount => self.ramp.set(value),
            // Without `mono_below_hz` there is no crossover to move.
            ParamKey::MonoBelowHz if self.mono_below_hz.is_some() => {
                self.mono_below_hz = Some(value);
                self.glide.set(value);
                self.lowest_hz = self.lowest_hz.min(value);
            }
            _ => return false,
        }
        true
    }

    /// Ringing of the crossover filters (0 without `mono_below_hz`).
    fn tail(&self) -> usize {
        self.tail
    }
}

#[cfg(test)]
mod tests {
    use super::Width;
    use crate::dsp::biquad::test_util::{bins, dft_at, spectrum};
    use crate::dsp::config::WidthConfig;
    use crate::dsp::envelope::{ParamId, ParamKey};
    use crate::dsp::{Processor, gain_to_db};
    use crate::testkit::{
        assert_invariants, difference_db, run, run_automated, spec, test_signal, white,
    };

    const FS: f64 = 48000.0;

    fn width(amount: f64, mono_below_hz: Option<f64>) -> Width {
        let mut w = Width::new(&WidthConfig {
            amount,
            mono_below_hz,
        });
        w.prepare(&spec(FS));
        w
    }

    /// Impulse responses of the output mid and side for an input impulse of `l`, `r`.
    fn mid_side_ir(w: &mut Width, l: f32, r: f32, len: usize) -> (Vec<f64>, Vec<f64>) {
        let mut x = vec![vec![0.0f32; len]; 2];
        x[0][0] = l;
        x[1][0] = r;
        let y = run(w, &x, 4096);
        let mid = y[0].iter().zip(&y[1]);
        let m = mid
            .clone()
            .map(|(&a, &b)| 0.5 * (f64::from(a) + f64::from(b)));
        let s = mid.map(|(&a, &b)| 0.5 * (f64::from(a) - f64::from(b)));
        (m.collect(), s.collect())
    }

    #[test]
    fn unity_without_mono_below_is_bit_transparent() {
        let x = test_signal(FS, 0.5, 0.9);
        assert_eq!(run(&mut width(1.0, None), &x, 333), x);
    }

    #[test]
    fn zero_amount_is_mono() {
        let x = test_signal(FS, 0.5, 0.9);
        let y = run(&mut width(0.0, None), &x, 64);
        for i in 0..x[0].len() {
            let want = (0.5 * (f64::from(x[0][i]) + f64::from(x[1][i]))) as f32;
            assert_eq!((y[0][i], y[1][i]), (want, want), "frame {i}");
        }
        // With the low end mono too, both channels still match exactly.
        let y = run(&mut width(0.0, Some(150.0)), &x, 64);
        assert_eq!(y[0], y[1]);
    }

    #[test]
    fn amount_scales_the_side_and_leaves_the_mid() {
        for a in [0.5, 1.5, 2.0] {
            let x = test_signal(FS, 0.3, 0.4);
            let y = run(&mut width(a, None), &x, 4096);
            for i in 0..x[0].len() {
                let (l, r) = (f64::from(x[0][i]), f64::from(x[1][i]));
                let (yl, yr) = (f64::from(y[0][i]), f64::from(y[1][i]));
                assert!(((yl + yr) - (l + r)).abs() < 1e-6, "mid at {i}");
                assert!(((yl - yr) - a * (l - r)).abs() < 1e-6, "side at {i}");
            }
            // A mono input is returned bit for bit.
            let mono = vec![x[0].clone(), x[0].clone()];
            assert_eq!(run(&mut width(a, None), &mono, 4096), mono);
        }
    }

    /// With `mono_below_hz = f` the side is at least 24 dB down at f/4 (LR4: 48 dB) and, for
    /// every amount, within 0.5 dB of `amount` from 4f to 20 kHz; the mid's magnitude is
    /// unchanged (all-pass) everywhere.
    #[test]
    fn mono_below_removes_low_side_only() {
        let len = 1 << 15;
        let mut worst_side_hi: f64 = 0.0;
        let mut worst_side_lo = f64::NEG_INFINITY;
        let mut worst_mid: f64 = 0.0;
        for f in [40.0, 120.0, 300.0] {
            for a in [0.5, 1.0, 2.0] {
                let target = gain_to_db(a);
                // Pure side in: L = 1, R = -1 at frame 0.
                let (m, s) = mid_side_ir(&mut width(a, Some(f)), 1.0, -1.0, len);
                assert!(
                    m.iter().all(|&v| v == 0.0),
                    "side input leaked into the mid"
                );
                let lo = gain_to_db(dft_at(&s, f / 4.0, FS).norm()) - target;
                worst_side_lo = worst_side_lo.max(lo);
                let hs = spectrum(&s);
                for (k, _) in bins(len, FS, 4.0 * f, 20000.0) {
                    worst_side_hi = worst_side_hi.max((gain_to_db(hs[k].norm()) - target).abs());
                }
                // Pure mid in.
                let (m, s) = mid_side_ir(&mut width(a, Some(f)), 1.0, 1.0, len);
                assert!(
                    s.iter().all(|&v| v == 0.0),
                    "mid input leaked into the side"
                );
                let hm = spectrum(&m);
                for (k, _) in bins(len, FS, 20.0, 20000.0) {
                    worst_mid = worst_mid.max(gain_to_db(hm[k].norm()).abs());
                }
            }
        }
        // Measured: side -48.2 dB at f/4, 0.034 dB off above 4f; mid flat within 1.7e-7 dB.
        assert!(
            worst_side_lo < -24.0,
            "side only {worst_side_lo} dB down at f/4"
        );
        assert!(
            worst_side_hi < 0.5,
            "side above 4f off by {worst_side_hi} dB"
        );
        assert!(worst_mid < 0.01, "mid magnitude changed by {worst_mid} dB");
    }

    /// The reason for the all-pass on the mid: a hard-left source stays left. At 4f its leak
    /// into the right channel is half the LR4 low band: measured -54.2 dB at 4f, -78 dB at 8f.
    #[test]
    fn hard_panned_source_stays_on_its_side_above_f() {
        let f = 120.0;
        let mut w = width(1.0, Some(f));
        let mut x = vec![vec![0.0f32; 1 << 15]; 2];
        x[0][0] = 1.0;
        let y = run(&mut w, &x, 4096);
        let ir = |c: usize| -> Vec<f64> { y[c].iter().map(|&v| f64::from(v)).collect() };
        let (l, r) = (ir(0), ir(1));
        for k in [4.0, 8.0, 50.0] {
            let left = gain_to_db(dft_at(&l, k * f, FS).norm());
            let right = gain_to_db(dft_at(&r, k * f, FS).norm());
            assert!(left.abs() < 0.1, "left at {k}f: {left} dB");
            assert!(right - left < -40.0, "right leak at {k}f: {right} dB");
        }
        // Below f the source is centred (mono): -6 dB in each channel.
        let left = gain_to_db(dft_at(&l, f / 8.0, FS).norm());
        let right = gain_to_db(dft_at(&r, f / 8.0, FS).norm());
        assert!((left + 6.02).abs() < 0.1 && (right + 6.02).abs() < 0.1);
    }

    /// `mono_below_hz` swept 40..400 Hz and back in 1.2 s (log), updated every `every` frames.
    fn swept(x: &[Vec<f32>], every: usize, jump: bool) -> Vec<Vec<f32>> {
        let mut w = Width::new(&WidthConfig {
            amount: 1.0,
            mono_below_hz: Some(40.0),
        });
        w.prepare(&spec(FS));
        run_automated(
            &mut w,
            x,
            ParamId::new(ParamKey::MonoBelowHz),
            &sweep,
            every,
            jump,
        )
    }

    fn sweep(i: usize) -> f64 {
        let u = 1.0 - (1.0 - i as f64 / (0.6 * FS)).abs();
        40.0 * 10f64.powf(u.max(0.0))
    }

    fn mid_side(y: &[Vec<f32>]) -> (Vec<f32>, Vec<f32>) {
        let m = y[0].iter().zip(&y[1]).map(|(a, b)| 0.5 * (a + b)).collect();
        let s = y[0].iter().zip(&y[1]).map(|(a, b)| 0.5 * (a - b)).collect();
        (m, s)
    }

    /// While the crossover moves it stays a crossover: a mid input never reaches the side and
    /// keeps its level (the all-pass); on a side input, the high band the processor keeps plus
    /// the LR4 low band at the same frequencies (built here from the same steps) adds up to
    /// the all-pass the mid went through. Both within -40 dB of the sweep recomputed on every
    /// sample, which jumps every 4096 frames are not.
    #[test]
    fn a_moving_crossover_keeps_the_mid_and_sums_flat() {
        use crate::dsp::biquad::{Glide, State};
        use crate::dsp::crossover::lr4_lowpass;
        let n = (1.2 * FS) as usize;
        let x = white(n, 3, 0.5);
        // Mid only: the side stays exactly silent, the mid keeps its energy.
        let y = swept(&[x.clone(), x.clone()], 32, false);
        let (m, s) = mid_side(&y);
        assert!(s.iter().all(|&v| v == 0.0), "the mid leaked into the side");
        let energy = |v: &[f32]| v.iter().map(|&a| f64::from(a).powi(2)).sum::<f64>();
        let level = 10.0 * (energy(&m) / energy(&x)).log10();
        println!("mid level through the moving all-pass: {level:+.4} dB");
        assert!(level.abs() < 0.05, "{level}");
        // Left only: mid and side both x / 2.
        let silent = vec![0.0f32; n];
        let y = swept(&[x.clone(), silent.clone()], 32, false);
        let (m, s) = mid_side(&y);
        let mut glide = Glide::new(40.0);
        let mut st = [State::default(); 2];
        let mut low = vec![0.0f32; n];
        let mut o = 0;
        while o < n {
            let k = 32.min(n - o);
            glide.set(sweep(o + k - 1));
            for (a, b, hz) in glide.steps(k) {
                let c = lr4_lowpass(FS, hz);
                for i in o + a..o + b {
                    low[i] = State::process_cascade(&mut st, &c, 0.5 * f64::from(x[i])) as f32;
                }
            }
            glide.settle();
            o += k;
        }
        let sum: Vec<f32> = s.iter().zip(&low).map(|(a, b)| a + b).collect();
        let flat = difference_db(&sum, &m);
        let ideal = swept(&[x.clone(), silent.clone()], 1, false);
        let fine = difference_db(&y.concat(), &ideal.concat());
        let coarse = difference_db(
            &swept(&[x.clone(), silent], 4096, true).concat(),
            &ideal.concat(),
        );
        println!(
            "moving crossover: high + low vs all-pass {flat:.1} dB; vs per-sample \
             coefficients {fine:.1} dB (jumps every 4096 frames {coarse:.1} dB)"
        );
        assert!(flat < -60.0, "{flat}");
        assert!(fine < -40.0, "{fine}");
        assert!(coarse > -40.0, "{coarse}");
    }

    #[test]
    fn contract_invariants() {
        for (amount, mono) in [
            (1.0, None),
            (0.0, None),
            (1.3, Some(120.0)),
            (0.5, Some(300.0)),
        ] {
            let cfg = WidthConfig {
                amount,
                mono_below_hz: mono,
            };
            assert_invariants(&|| Box::new(Width::new(&cfg)), 48000.0, 0.0);
        }
    }

    #[test]
    fn tail_and_non_stereo_blocks() {
        assert_eq!(width(1.5, None).tail(), 0);
        let w = width(1.5, Some(100.0));
        assert!(w.tail() > 0 && w.tail() < 48000, "{}", w.tail());
        // An envelope reaching down to 30 Hz rings as long as a 30 Hz crossover.
        let mut moved = Width::new(&WidthConfig {
            amount: 1.5,
            mono_below_hz: Some(100.0),
        });
        assert!(moved.set_param(ParamId::new(ParamKey::MonoBelowHz), 30.0));
        assert!(moved.set_param(ParamId::new(ParamKey::MonoBelowHz), 100.0));
        moved.prepare(&spec(FS));
        assert_eq!(moved.tail(), width(1.5, Some(30.0)).tail());
        assert!(moved.tail() > w.tail());
        let mut w = width(0.0, Some(100.0));
        let mut mono = [0.5f32; 8];
        w.process(&mut [&mut mono]);
        assert_eq!(mono, [0.5; 8]);
    }
}
