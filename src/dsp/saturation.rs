//! Saturation: a memoryless waveshaper (tape, tube, soft clip, hard clip) run at 8x the session
//! rate with first-order antiderivative anti-aliasing, blended with the phase-aligned dry signal.
//!
//! Aliasing is the whole difficulty. A hard-clipped sine's harmonics fall only as 1/n, so no
//! practical oversampling factor alone keeps the ones that fold back below -60 dBc. Two measures
//! combine: the shaper runs at 8x (three 2x stages of linear-phase Kaiser-windowed FIRs), and it
//! is evaluated by antiderivative anti-aliasing (ADAA: Parker, Zavalishin & Le Bihan, "Reducing
//! the aliasing of nonlinear waveshaping using continuous-time convolution", DAFx 2016; Bilbao,
//! Esqueda, Parker & Välimäki, "Antiderivative antialiasing for memoryless nonlinearities", IEEE
//! SPL 24(7), 2017). ADAA outputs the mean of the shaper over each sampling interval,
//! `(F(x[n]) - F(x[n-1])) / (x[n] - x[n-1])` with `F' = f`: a box filter applied before
//! sampling, which is what attenuates the harmonics that would fold back from near the 8x rate.
//!
//! The round trip (up, ADAA's half-sample, down) is designed to be an integer number of
//! session-rate frames, reported by [`Processor::latency`]; the dry path is delayed by the same
//! amount so a `mix` blend is phase-aligned.
//!
//! # Cost
//!
//! The factor and the first-order ADAA stay: 8x is what first-order ADAA needs (at 4x a 5 kHz
//! sine clipped with 36 dB of drive aliases at about -49 dBc at 44.1 kHz, the ADAA floor itself
//! whatever the filters; at 8x that floor is -70 dBc). What was cut is the price of each step,
//! about 5 to 7 times in all (release build, 44.1 kHz stereo: from 340-490 ns to 50-85 ns per
//! sample and channel, depending on the model):
//!
//! - The filters' stopband is 80 dB, not 100: what they must remove is at most a -9.5 dBc
//!   harmonic (the third of a square wave) above the session Nyquist, left at -89.5 dBc, far
//!   below the ADAA floor. Kaiser's length formula is linear in the attenuation, so every filter
//!   is about a fifth shorter, and the latency too.
//! - The resampling runs chunk-wise in `f32`: each polyphase branch is a plain correlation over
//!   a contiguous history, computed for 32 outputs at once (eight 4-lane SSE2 vectors of
//!   independent sums), never touching the zero-stuffed samples or a half-band's zero taps. A
//!   vector holds twice as many `f32` as `f64`, and `f32` rounding (1e-7 relative) stays far
//!   below the filters' 80 dB. Every output is still one sum in a fixed order, so the result
//!   does not depend on how the input is split into blocks.
//! - The shaper stays in `f64` (ADAA's difference quotient cancels digits), but `ln cosh`, the
//!   antiderivative of the tanh curves, is a table of quintic Hermite pieces instead of `exp`
//!   and `log1p` per oversampled sample, and the curve is the table's exact derivative, within
//!   4e-8 of `tanh`. The quotients are computed in a separate pass, where they vectorize.

use std::sync::LazyLock;

use super::config::{SaturationConfig, SaturationModel};
use super::envelope::{ParamId, ParamKey, Ramp};
use super::fir::bessel_i0;
use super::{ProcessSpec, Processor, db_to_gain};
use super::{flush, to_f32};

/// Stopband attenuation of every resampling filter, dB. Harmonics above the session Nyquist
/// reach about -9.5 dBc (the third harmonic of a hard-clipped sine), so 80 dB leaves them near
/// -90 dBc, 20 dB under the ADAA residue at 8x and 30 dB under the -60 dBc bar.
const STOPBAND_DB: f64 = 80.0;

/// Top of the band kept flat by the oversampling filters, Hz; at rates below 44.1 kHz, 45.35 %
/// of the rate instead (the same proportion as 20 kHz at 44.1 kHz). The stopband starts at the
/// session Nyquist frequency, so nothing above it folds back.
const PASSBAND_HZ: f64 = 20_000.0;

/// Asymmetry of the tube curve: the bias added before `tanh`. 0.2 gives clipping levels of
/// +0.83 and -1.25 (ratio 1.5); a -6 dBFS sine driven 12 dB gets a -23 dBc second harmonic.
const TUBE_BIAS: f64 = 0.2;

/// Corner of the DC blocker after the tube shaper, Hz: low enough to leave the bass in phase
/// with the dry path (14 degrees at 20 Hz), high enough to settle in about 0.3 s.
const DC_BLOCK_HZ: f64 = 5.0;

/// Tape record pre-emphasis time constant, s: the NAB 50 us curve (3.18 kHz corner), shelved
/// at +6 dB (second corner at 25 us) so it stays gentle.
const TAPE_TAU_ZERO_S: f64 = 50e-6;
const TAPE_TAU_POLE_S: f64 = 25e-6;

/// Below this step between successive shaper inputs ADAA's difference quotient loses precision
/// to cancellation, and the shaper at the midpoint (the quotient's limit) is used instead.
const ADAA_EPS: f64 = 1e-5;

/// Session-rate frames run through the oversampler at a time: the scratch buffers (8 x 256
/// `f32` at the top rate) stay in the L1 cache, and the per-chunk history copies are small
/// next to the filtering.
const CHUNK: usize = 256;

/// Waveshaping saturation with 8x oversampling and ADAA.
///
/// Signal flow per channel: `drive_db` gain, (tape: pre-emphasis), 8x up, shaper, 8x down,
/// (tape: de-emphasis; tube: DC blocker), `output_db` gain, then `mix` blends this wet signal
/// with the dry input delayed by [`Processor::latency`]. `output_db` trims the wet path only,
/// so `mix = 0` returns the dry signal exactly.
#[derive(Debug, Clone)]
pub struct Saturation {
    shape: Shape,
    /// Linear drive factor.
    drive: f64,
    /// Wet share, 0..1.
    mix: f64,
    /// Linear wet output factor.
    out_gain: f64,
    os: Oversampler,
    emphasis: Option<Emphasis>,
    /// DC blocker (tube only).
    dc_block: Option<FirstOrder>,
    chans: Vec<ChannelState>,
    scratch: Scratch,
    latency: usize,
    tail: usize,
    /// `drive_db`, `mix` and `output_db` under automation, ramped per sample.
    drive_db: Ramp,
    mix_ramp: Ramp,
    output_db: Ramp,
    /// Per-frame drive (linear), mix and output gain (linear) of a ramped block.
    ramped: Vec<[f64; 3]>,
}

impl Saturation {
    /// Build from validated settings: `drive_db` 0..36 dB, `mix` 0..1 (wet share), `output_db`
    /// -24..24 dB. Call [`Processor::prepare`] before processing.
    pub fn new(cfg: &SaturationConfig) -> Self {
        Saturation {
            shape: Shape::new(cfg.model),
            drive: db_to_gain(cfg.drive_db),
            mix: cfg.mix.clamp(0.0, 1.0),
            out_gain: db_to_gain(cfg.output_db),
            os: Oversampler::default(),
            emphasis: None,
            dc_block: None,
            chans: Vec::new(),
            scratch: Scratch::default(),
            latency: 0,
            tail: 0,
            drive_db: Ramp::new(cfg.drive_db),
            mix_ramp: Ramp::new(cfg.mix.clamp(0.0, 1.0)),
            output_db: Ramp::new(cfg.output_db),
            ramped: Vec::new(),
        }
    }

    /// The wet path of one channel for up to [`CHUNK`] frames: `x` in, `y` out (before
    /// `output_db`), both at the session rate.
    /// `drive`: the drive of each frame when it moves (else the fixed one).
    fn wet_chunk(
        &self,
        st: &mut ChannelState,
        sc: &mut Scratch,
        x: &[f32],
        y: &mut [f64],
        drive: Option<&[[f64; 3]]>,
    ) {
        let m = x.len();
        let os = &self.os;
        let [up0, up1, up2] = &mut st.up;
        let [down0, down1, down2] = &mut st.down;
        let (e, o) = (&mut sc.even[..4 * m], &mut sc.odd[..4 * m]);

        // Drive (and tape pre-emphasis) at the session rate, in f64 like the IIR state; `y`
        // serves as scratch until the output is written to it.
        let y = &mut y[..m];
        match drive {
            None => {
                for (v, &s) in y.iter_mut().zip(x) {
                    *v = f64::from(s) * self.drive;
                }
            }
            Some(d) => {
                for ((v, &s), d) in y.iter_mut().zip(x).zip(d) {
                    *v = f64::from(s) * d[0];
                }
            }
        }
        if let Some(em) = &self.emphasis {
            em.pre.run(&mut st.pre, y);
        }
        for (v, &s) in up0.input(m).iter_mut().zip(y.iter()) {
            *v = s as f32;
        }
        // Up: each stage's two phases, interleaved into the next stage's input.
        os.up[0].run(up0, m, e, o);
        interleave(&e[..m], &o[..m], up1.input(2 * m));
        os.up[1].run(up1, 2 * m, e, o);
        interleave(&e[..2 * m], &o[..2 * m], up2.input(4 * m));
        os.up[2].run(up2, 4 * m, e, o);
        // The 8x signal is e[0], o[0], e[1], o[1], ...; the last decimator wants exactly that
        // split into even and odd samples, so the shaper reads and writes the two halves.
        {
            let [de, dd] = &mut down2.lines;
            self.shape
                .adaa_run(&mut st.adaa, e, o, de.input(4 * m), dd.input(4 * m));
        }
        // Down: each stage's output, split into the next stage's even and odd inputs.
        let d = &mut sc.down[..4 * m];
        os.down[2].run(down2, &mut d[..4 * m]);
        {
            let [de, dd] = &mut down1.lines;
            deinterleave(&d[..4 * m], de.input(2 * m), dd.input(2 * m));
        }
        os.down[1].run(down1, &mut d[..2 * m]);
        {
            let [de, dd] = &mut down0.lines;
            deinterleave(&d[..2 * m], de.input(m), dd.input(m));
        }
        os.down[0].run(down0, &mut d[..m]);

        for (out, &v) in y.iter_mut().zip(&d[..m]) {
            *out = f64::from(v);
        }
        if let Some(em) = &self.emphasis {
            em.de.run(&mut st.de, y);
        }
        if let Some(dc) = &self.dc_block {
            dc.run(&mut st.dc, y);
        }
    }
}

impl Processor for Saturation {
    fn name(&self) -> &'static str {
        "saturation"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        let fs = spec.sample_rate;
        self.os = Oversampler::design(fs);
        self.latency = self.os.latency;
        self.emphasis = matches!(self.shape, Shape::Tape).then(|| Emphasis::tape(fs));
        // First-order highpass, bilinear form: y = k (x - x1) + p y1 (unity gain at Nyquist).
        let p = (-2.0 * std::f64::consts::PI * DC_BLOCK_HZ / fs).exp();
        let k = 0.5 * (1.0 + p);
        self.dc_block =
            matches!(self.shape, Shape::Tube { .. }).then(|| FirstOrder::new([k, -k], [1.0, -p]));
        // After latency compensation the FIRs ring for about as long again (their responses are
        // symmetric). The tube's DC blocker then decays from at most full scale to -90 dBFS in
        // ln(10^4.5) = 10.4 time constants; the tape emphasis filters settle within 64 frames.
        let mut tail = self.latency + 64;
        if self.dc_block.is_some() {
            tail += (10.4 / -p.ln()).ceil() as usize;
        }
        self.tail = tail;
        self.scratch = Scratch::new();
        let st = ChannelState::new(&self.os, &self.shape, self.latency);
        self.chans = vec![st; spec.channels];
        self.ramped = vec![[0.0; 3]; spec.max_block];
    }

    fn reset(&mut self) {
        for st in &mut self.chans {
            st.reset(&self.shape);
        }
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        if self.drive_db.moving() || self.mix_ramp.moving() || self.output_db.moving() {
            self.process_ramped(block);
            return;
        }
        let mut chans = std::mem::take(&mut self.chans);
        let mut sc = std::mem::take(&mut self.scratch);
        let (dry_share, wet_share) = (1.0 - self.mix, self.mix);
        let mut wet = [0.0f64; CHUNK];
        for (ch, st) in block.iter_mut().zip(chans.iter_mut()) {
            for xs in ch.chunks_mut(CHUNK) {
                let wet = &mut wet[..xs.len()];
                self.wet_chunk(st, &mut sc, xs, wet, None);
                for (x, &w) in xs.iter_mut().zip(wet.iter()) {
                    let dry = st.dry_delay(*x);
                    *x = to_f32(dry_share * f64::from(dry) + wet_share * (w * self.out_gain));
                }
            }
        }
        self.scratch = sc;
        self.chans = chans;
    }

    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        match param.key {
            ParamKey::DriveDb => self.drive_db.set(value),
            ParamKey::Mix => self.mix_ramp.set(value),
            ParamKey::OutputDb => self.output_db.set(value),
            _ => return false,
        }
        true
    }

    fn latency(&self) -> usize {
        self.latency
    }

    fn tail(&self) -> usize {
        self.tail
    }
}

impl Saturation {
    /// A block with drive, mix or output moving: each frame `i` at `start + step·(i + 1)`
    /// (the gains in dB, then converted).
    fn process_ramped(&mut self, block: &mut [&mut [f32]]) {
        let n = block.first().map_or(0, |c| c.len());
        let mut ramped = std::mem::take(&mut self.ramped);
        if ramped.len() < n {
            ramped.resize(n, [0.0; 3]);
        }
        let (d0, dd) = self.drive_db.begin(n);
        let (m0, dm) = self.mix_ramp.begin(n);
        let (o0, dout) = self.output_db.begin(n);
        for (i, r) in ramped[..n].iter_mut().enumerate() {
            let k = (i + 1) as f64;
            *r = [
                db_to_gain(d0 + dd * k),
                m0 + dm * k,
                db_to_gain(o0 + dout * k),
            ];
        }
        self.drive = db_to_gain(self.drive_db.target());
        self.mix = self.mix_ramp.target();
        self.out_gain = db_to_gain(self.output_db.target());
        let mut chans = std::mem::take(&mut self.chans);
        let mut sc = std::mem::take(&mut self.scratch);
        let mut wet = [0.0f64; CHUNK];
        for (ch, st) in block.iter_mut().zip(chans.iter_mut()) {
            for (c, xs) in ch.chunks_mut(CHUNK).enumerate() {
                let frames = &ramped[c * CHUNK..c * CHUNK + xs.len()];
                let wet = &mut wet[..xs.len()];
                self.wet_chunk(st, &mut sc, xs, wet, Some(frames));
                for ((x, &w), r) in xs.iter_mut().zip(wet.iter()).zip(frames) {
                    let dry = st.dry_delay(*x);
                    *x = to_f32((1.0 - r[1]) * f64::from(dry) + r[1] * (w * r[2]));
                }
            }
        }
        self.scratch = sc;
        self.chans = chans;
        self.ramped = ramped;
    }
}

/// The transfer curve, with the antiderivative ADAA needs. Every curve has unity slope at 0 and
/// maps 0 to 0, so a quiet signal passes at its own level.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `tanh`: smooth, symmetric (odd harmonics), saturating at +-1.
    Tape,
    /// `(tanh(x + b) - tanh b) / sech^2 b`: a biased `tanh`, asymmetric (even harmonics).
    Tube {
        b: f64,
        /// `tanh b` (as [`LnCosh::tanh`] gives it, so that 0 maps to exactly 0).
        t: f64,
        /// `1 / sech^2 b = 1 / (1 - tanh^2 b)`, the gain for unity slope at 0 (a product, not
        /// a division, per oversampled sample).
        k: f64,
    },
    /// Cubic `x - 4x^3/27`, reaching +-1 with zero slope at +-1.5 and flat beyond.
    SoftClip,
    /// `clamp(x, -1, 1)`.
    HardClip,
}

impl Shape {
    fn new(model: SaturationModel) -> Self {
        match model {
            SaturationModel::Tape => Shape::Tape,
            SaturationModel::Tube => {
                let t = LN_COSH.tanh(TUBE_BIAS);
                Shape::Tube {
                    b: TUBE_BIAS,
                    t,
                    k: 1.0 / (1.0 - t * t),
                }
            }
            SaturationModel::SoftClip => Shape::SoftClip,
            SaturationModel::HardClip => Shape::HardClip,
        }
    }

    /// The curve itself (the processing uses [`Shape::curve`]).
    #[cfg(test)]
    fn f(&self, x: f64) -> f64 {
        self.curve(&LN_COSH, x)
    }

    /// An antiderivative of [`Shape::f`] (any constant; only differences are used).
    fn antiderivative(&self, x: f64) -> f64 {
        self.integral(&LN_COSH, x)
    }

    /// [`Shape::f`] with the `ln cosh` table at hand (the hot loop fetches it once).
    #[inline(always)]
    fn curve(&self, lc: &LnCosh, x: f64) -> f64 {
        match *self {
            Shape::Tape => lc.tanh(x),
            Shape::Tube { b, t, k } => (lc.tanh(x + b) - t) * k,
            Shape::SoftClip => {
                if x.abs() <= 1.5 {
                    x - (4.0 / 27.0) * x * x * x
                } else {
                    x.signum()
                }
            }
            Shape::HardClip => x.clamp(-1.0, 1.0),
        }
    }

    /// [`Shape::antiderivative`] with the `ln cosh` table at hand.
    #[inline(always)]
    fn integral(&self, lc: &LnCosh, x: f64) -> f64 {
        match *self {
            Shape::Tape => lc.ln_cosh(x),
            Shape::Tube { b, t, k } => (lc.ln_cosh(x + b) - t * x) * k,
            Shape::SoftClip => {
                // Branch-free: the cubic's antiderivative up to the knee at |x| = 1.5 (where it
                // is 1.125 - 0.1875 = 0.9375), then slope 1 beyond.
                let c = x.clamp(-1.5, 1.5);
                let c2 = c * c;
                (0.5 * c2 - c2 * c2 / 27.0) + (x.abs() - c.abs())
            }
            Shape::HardClip => {
                // Branch-free: x^2 / 2 inside +-1, |x| - 1/2 outside (c x - c^2 / 2 with c the
                // clamped x gives both).
                let c = x.clamp(-1.0, 1.0);
                c * x - 0.5 * c * c
            }
        }
    }

    /// First-order ADAA over one chunk at 8x: inputs alternate between `e` and `o` (e[0], o[0],
    /// e[1], ...) and so do the outputs (`ye`, `yo`). It delays by half a sample (of the 8x
    /// rate), which the oversampler's latency accounts for.
    fn adaa_run(&self, st: &mut Adaa, e: &[f32], o: &[f32], ye: &mut [f32], yo: &mut [f32]) {
        let lc: &LnCosh = &LN_COSH;
        // One copy of the loop per model: in each the model is known, so the curve is inlined
        // rather than matched per sample.
        match *self {
            sh @ Shape::Tape => adaa_loop(sh, lc, st, e, o, ye, yo),
            sh @ Shape::Tube { .. } => adaa_loop(sh, lc, st, e, o, ye, yo),
            sh @ Shape::SoftClip => adaa_loop(sh, lc, st, e, o, ye, yo),
            sh @ Shape::HardClip => adaa_loop(sh, lc, st, e, o, ye, yo),
        }
    }
}

/// Samples per pass of [`adaa_loop`]: its scratch arrays stay on the stack.
const ADAA_SUB: usize = 64;

/// The body of [`Shape::adaa_run`], in passes over short runs of samples: the antiderivatives,
/// then the difference quotients (independent of one another, so they vectorize: the division
/// was the single largest cost when interleaved with the rest), then the few samples whose
/// step is too small for the quotient.
#[inline(always)]
fn adaa_loop(
    sh: Shape,
    lc: &LnCosh,
    st: &mut Adaa,
    e: &[f32],
    o: &[f32],
    ye: &mut [f32],
    yo: &mut [f32],
) {
    const PAIRS: usize = ADAA_SUB / 2;
    // x[0] and fx[0] are the previous input and its antiderivative.
    let mut x = [0.0f64; ADAA_SUB + 1];
    let mut fx = [0.0f64; ADAA_SUB + 1];
    let mut q = [0.0f64; ADAA_SUB];
    let runs = e.chunks(PAIRS).zip(o.chunks(PAIRS));
    for ((e, o), (ye, yo)) in runs.zip(ye.chunks_mut(PAIRS).zip(yo.chunks_mut(PAIRS))) {
        let n = 2 * e.len();
        x[0] = st.x1;
        fx[0] = st.f1;
        for ((pair, &a), &b) in x[1..=n].chunks_exact_mut(2).zip(e).zip(o) {
            pair[0] = f64::from(a);
            pair[1] = f64::from(b);
        }
        for (v, &xi) in fx[1..=n].iter_mut().zip(&x[1..=n]) {
            *v = sh.integral(lc, xi);
        }
        let steps = x[1..=n].iter().zip(&x[..n]);
        for ((q, (&f, &f1)), (&xi, &x1)) in
            q.iter_mut().zip(fx[1..=n].iter().zip(&fx[..n])).zip(steps)
        {
            *q = (f - f1) / (xi - x1);
        }
        for ((q, &xi), &x1) in q[..n].iter_mut().zip(&x[1..=n]).zip(&x[..n]) {
            // The quotient's condition negated, NaN included.
            let d = xi - x1;
            if d.abs() <= ADAA_EPS || d.is_nan() {
                *q = sh.curve(lc, 0.5 * (xi + x1));
            }
        }
        for ((pair, a), b) in q[..n].chunks_exact(2).zip(ye.iter_mut()).zip(yo.iter_mut()) {
            *a = pair[0] as f32;
            *b = pair[1] as f32;
        }
        *st = Adaa {
            x1: x[n],
            f1: fx[n],
        };
    }
}

/// Pieces of the `ln cosh` table per unit of `|x|`: a power of two, so locating a piece is
/// exact.
const LN_COSH_PIECES_PER_UNIT: f64 = 8.0;

/// End of the `ln cosh` table: beyond it `ln cosh u = |u| - ln 2` to within `e^-32 = 1.3e-14`.
const LN_COSH_END: f64 = 16.0;

/// Pieces in the `ln cosh` table.
const LN_COSH_PIECES: usize = 128;

/// `ln cosh u = |u| + g(|u|)` with `g(a) = ln(1 + e^(-2a)) - ln 2`, `g` as quintic Hermite
/// pieces (Hermite interpolation: e.g. Burden & Faires, "Numerical Analysis", chapter 3). Each
/// piece matches `g`, `g' = tanh a - 1` and `g'' = sech^2 a` exactly at both of its ends, so the
/// table is twice continuously differentiable and its derivative, the curve `tanh`, once. With
/// eight pieces per unit the error is about 1e-9 in `ln cosh` and 4e-8 in `tanh` (1e-5 dB); the
/// last piece ends on the asymptote (`g = -ln 2`, `g' = g'' = 0`) so the tail joins smoothly.
///
/// Why: ADAA needs `ln cosh` at every oversampled sample, and `exp` plus `log1p` made up a
/// sixth of the whole processor's time. A piece costs one table row and a degree-5 polynomial,
/// and `tanh` is the table's exact derivative, so ADAA's difference quotient and its fallback
/// agree.
struct LnCosh {
    /// Per piece, coefficients of `g` in the local variable `s` in 0..1, lowest first.
    g: [[f64; 6]; LN_COSH_PIECES],
    /// Per piece, coefficients of `g'` (per unit of `a`, not of `s`), lowest first.
    dg: [[f64; 5]; LN_COSH_PIECES],
}

/// Built on first use, shared by every instance.
static LN_COSH: LazyLock<LnCosh> = LazyLock::new(LnCosh::new);

impl LnCosh {
    fn new() -> Self {
        let h = 1.0 / LN_COSH_PIECES_PER_UNIT;
        let pieces = LN_COSH_PIECES;
        debug_assert_eq!(pieces as f64, LN_COSH_END * LN_COSH_PIECES_PER_UNIT);
        // g and its first two derivatives at a knot, scaled to the local variable
        // (d/ds = h d/da).
        let knot = |i: usize| -> [f64; 3] {
            if i == pieces {
                return [-std::f64::consts::LN_2, 0.0, 0.0];
            }
            let a = i as f64 * h;
            let t = a.tanh();
            [
                (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2,
                h * (t - 1.0),
                h * h * (1.0 - t * t),
            ]
        };
        let mut g = [[0.0; 6]; LN_COSH_PIECES];
        let mut dg = [[0.0; 5]; LN_COSH_PIECES];
        for (i, (g, dg)) in g.iter_mut().zip(dg.iter_mut()).enumerate() {
            let ([p0, v0, a0], [p1, v1, a1]) = (knot(i), knot(i + 1));
            // The quintic with these values, slopes and curvatures at s = 0 and s = 1.
            let dp = p1 - p0;
            let c = [
                p0,
                v0,
                0.5 * a0,
                10.0 * dp - 6.0 * v0 - 4.0 * v1 - 0.5 * (3.0 * a0 - a1),
                -15.0 * dp + 8.0 * v0 + 7.0 * v1 + 0.5 * (3.0 * a0 - 2.0 * a1),
                6.0 * dp - 3.0 * (v0 + v1) - 0.5 * (a0 - a1),
            ];
            *g = c;
            *dg = [1, 2, 3, 4, 5].map(|k| k as f64 * c[k] / h);
        }
        LnCosh { g, dg }
    }

    /// Which piece `a >= 0` falls in, and where in it (0..1), by exact arithmetic; `None` past
    /// the table (and for NaN).
    #[inline(always)]
    fn piece(a: f64) -> Option<(usize, f64)> {
        if a < LN_COSH_END {
            let u = a * LN_COSH_PIECES_PER_UNIT;
            // Through i32: one instruction each way, where usize takes a dozen. The remainder
            // (a no-op: 0 <= u < 128) lets the compiler drop the bounds check.
            let i = u as i32;
            Some((i as usize % LN_COSH_PIECES, u - f64::from(i)))
        } else {
            None
        }
    }

    /// `ln cosh u`.
    #[inline(always)]
    fn ln_cosh(&self, u: f64) -> f64 {
        let a = u.abs();
        match Self::piece(a) {
            Some((i, s)) => {
                // Estrin's scheme: a shorter dependency chain than Horner's, so more samples
                // are in flight at once.
                let c = &self.g[i];
                let s2 = s * s;
                let hi = (c[2] + s * c[3]) + s2 * (c[4] + s * c[5]);
                a + ((c[0] + s * c[1]) + s2 * hi)
            }
            None => a - std::f64::consts::LN_2,
        }
    }

    /// `tanh u`, as the exact derivative of [`LnCosh::ln_cosh`]: within 4e-8 of the true
    /// `tanh`, odd, and exactly 0 at 0 (the first piece's slope there is `g'(0) = -1`).
    #[inline(always)]
    fn tanh(&self, u: f64) -> f64 {
        let t = match Self::piece(u.abs()) {
            Some((i, s)) => {
                let c = &self.dg[i];
                let s2 = s * s;
                1.0 + ((c[0] + s * c[1]) + s2 * ((c[2] + s * c[3]) + s2 * c[4]))
            }
            None => 1.0,
        };
        t.copysign(u)
    }
}

/// ADAA memory: the previous input and its antiderivative.
#[derive(Debug, Clone, Copy)]
struct Adaa {
    x1: f64,
    f1: f64,
}

impl Adaa {
    fn new(shape: &Shape) -> Self {
        Adaa {
            x1: 0.0,
            f1: shape.antiderivative(0.0),
        }
    }
}

/// Tape pre-/de-emphasis: a first-order high shelf before the shaper and its exact inverse
/// after, so loud treble saturates earlier (tape's high-frequency compression) while a quiet
/// signal comes out unchanged.
#[derive(Debug, Clone, Copy)]
struct Emphasis {
    pre: FirstOrder,
    de: FirstOrder,
}

impl Emphasis {
    fn tape(fs: f64) -> Self {
        // H(s) = (1 + s tau_z) / (1 + s tau_p) by the bilinear transform s = 2 fs (1 - 1/z) / (1 + 1/z).
        // Both the zero and the pole lie inside the unit circle, so the inverse is stable too.
        let k = 2.0 * fs;
        let (nz, np) = (k * TAPE_TAU_ZERO_S, k * TAPE_TAU_POLE_S);
        let pre = FirstOrder::new([1.0 + nz, 1.0 - nz], [1.0 + np, 1.0 - np]);
        let de = FirstOrder::new([1.0 + np, 1.0 - np], [1.0 + nz, 1.0 - nz]);
        Emphasis { pre, de }
    }
}

/// `y = b0 x + b1 x1 - a1 y1`, normalized from `(b, a)`.
#[derive(Debug, Clone, Copy)]
struct FirstOrder {
    b0: f64,
    b1: f64,
    a1: f64,
}

impl FirstOrder {
    fn new(b: [f64; 2], a: [f64; 2]) -> Self {
        FirstOrder {
            b0: b[0] / a[0],
            b1: b[1] / a[0],
            a1: a[1] / a[0],
        }
    }

    /// Filter `buf` in place; `st` holds the previous input and output. The state lives in
    /// locals during the loop, so the recursion is not lengthened by a store and reload.
    #[inline]
    fn run(&self, st: &mut [f64; 2], buf: &mut [f64]) {
        let [mut x1, mut y1] = *st;
        for v in buf {
            let x = *v;
            let y = self.b0 * x + self.b1 * x1 - self.a1 * y1;
            x1 = x;
            y1 = flush(y);
            *v = y;
        }
        *st = [x1, y1];
    }
}

/// Coefficients of the three 2x stages each way (index 0: fs <-> 2fs, 1: 2fs <-> 4fs,
/// 2: 4fs <-> 8fs) and the resulting round-trip latency in session frames.
#[derive(Debug, Clone, Default)]
struct Oversampler {
    up: [Up2; 3],
    down: [Down2; 3],
    latency: usize,
}

impl Oversampler {
    /// Kaiser-windowed sinc designs (Kaiser's length and beta formulas; e.g. Oppenheim &
    /// Schafer, "Discrete-Time Signal Processing", 3rd ed., section 7.6).
    ///
    /// Stage 0 (the steep one) passes up to `PASSBAND_HZ` and stops at the session Nyquist.
    /// Stages 1 and 2 pass up to the session Nyquist `fs/2` and stop at `r - fs/2`, `r` being
    /// the lower rate of the stage: exactly the band that folds onto 0..fs/2 when decimating,
    /// and the band holding the images when interpolating. Both are therefore half-band filters
    /// (symmetric about `r/2`).
    fn design(fs: f64) -> Self {
        let fp = PASSBAND_HZ.min(0.4535 * fs);
        let nyq = 0.5 * fs;
        // (rate of the filter, pass edge, stop edge), all in Hz.
        let stages = [
            (2.0 * fs, fp, nyq),
            (4.0 * fs, nyq, 2.0 * fs - nyq),
            (8.0 * fs, nyq, 4.0 * fs - nyq),
        ];
        let mut taps = stages.map(|(rate, pass, stop)| {
            let mut n = kaiser_len(STOPBAND_DB, (stop - pass) / rate);
            if n.is_multiple_of(2) {
                n += 1;
            }
            (n, (pass + stop) / (2.0 * rate))
        });
        // The half-bands get length 4m + 3: the centre tap is then at an odd index, so the
        // interpolator's odd phase is a pure delay and the other taps are all non-zero.
        for t in &mut taps[1..] {
            while t.0 % 4 != 3 {
                t.0 += 1;
            }
        }
        let beta = kaiser_beta(STOPBAND_DB);
        let h: Vec<Vec<f64>> = taps
            .iter()
            .map(|&(n, fc)| kaiser_lowpass(n, fc, beta))
            .collect();
        // Round trip in units of 1/16 session frame (half a sample at 8x): an odd-length FIR
        // of length n delays (n - 1)/2 samples of its rate, so stage k (rate 2^(k+1) fs)
        // contributes (n - 1) * 8 / 2^(k+1) units each way; ADAA adds 1 unit. The last
        // decimator is designed one tap longer (even length, half a sample more) to cancel
        // ADAA's half sample, then padded with leading zeros (whole 8x samples) up to an
        // integer number of session frames.
        let [n0, n1, n2] = taps.map(|t| t.0);
        let n2_down = n2 + 1;
        let units = 8 * (n0 - 1) + 4 * (n1 - 1) + (n2 - 1) + 1 + (n2_down - 1);
        let pad = (16 - units % 16) % 16 / 2;
        let h2_down = {
            let mut v = vec![0.0; pad];
            v.extend(kaiser_lowpass(n2_down, taps[2].1, beta));
            v
        };
        Oversampler {
            up: [Up2::new(&h[0]), Up2::new(&h[1]), Up2::new(&h[2])],
            down: [Down2::new(&h[0]), Down2::new(&h[1]), Down2::new(&h2_down)],
            latency: (units + 2 * pad) / 16,
        }
    }
}

/// Kaiser window beta for `atten_db` of stopband attenuation (valid above 50 dB).
fn kaiser_beta(atten_db: f64) -> f64 {
    0.1102 * (atten_db - 8.7)
}

/// Kaiser's length estimate for `atten_db` and a transition `width` in cycles per sample.
fn kaiser_len(atten_db: f64, width: f64) -> usize {
    ((atten_db - 7.95) / (14.36 * width)).ceil() as usize + 1
}

/// Windowed-sinc lowpass of `n` taps with cutoff `fc` (cycles per sample), unity gain at DC.
fn kaiser_lowpass(n: usize, fc: f64, beta: f64) -> Vec<f64> {
    let m = (n - 1) as f64 / 2.0;
    let i0b = bessel_i0(beta);
    let mut h: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 - m;
            let arg = 2.0 * fc * t;
            // Exact zeros where the ideal response has them (every other tap of a half-band),
            // so the polyphase branches can skip them.
            let sinc = if arg == 0.0 {
                1.0
            } else if arg.fract() == 0.0 {
                0.0
            } else {
                (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
            };
            let r = if m > 0.0 { t / m } else { 0.0 };
            let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0b;
            2.0 * fc * sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    for c in &mut h {
        *c /= sum;
    }
    h
}

/// Polyphase 2x interpolator: `y[2n + p] = 2 sum_k h[2k + p] x[n - k]`, delay `(len - 1)/2`
/// samples of the output rate. Each phase is a filter at the input rate, so the zero-stuffed
/// samples of the textbook form are never multiplied.
#[derive(Debug, Clone, Default)]
struct Up2 {
    phases: [Branch; 2],
}

impl Up2 {
    fn new(h: &[f64]) -> Self {
        let phase = |p: usize| Branch::new(h.iter().skip(p).step_by(2).map(|c| 2.0 * c), 0);
        Up2 {
            phases: [phase(0), phase(1)],
        }
    }

    /// History its input line needs.
    fn history(&self) -> usize {
        self.phases[0].span().max(self.phases[1].span())
    }

    /// The even (`e`) and odd (`o`) output samples for the `m` new samples of `line`.
    fn run(&self, line: &mut Line, m: usize, e: &mut [f32], o: &mut [f32]) {
        self.phases[0].run(line, &mut e[..m], false);
        self.phases[1].run(line, &mut o[..m], false);
        line.advance(m);
    }
}

/// Polyphase 2x decimator keeping the even outputs of the full-rate convolution:
/// `y[n] = sum_i h[i] v[2n - i]`, delay `(len - 1)/2` samples of the input rate. Its input is
/// split into the even samples `v[2n]` and the odd ones `v[2n + 1]`.
#[derive(Debug, Clone, Default)]
struct Down2 {
    /// `h[0], h[2], ...` against `v[2n], v[2n - 2], ...`.
    even: Branch,
    /// `h[1], h[3], ...` against `v[2n - 1], v[2n - 3], ...`: the odd samples one step back.
    odd: Branch,
}

impl Down2 {
    fn new(h: &[f64]) -> Self {
        Down2 {
            even: Branch::new(h.iter().step_by(2).copied(), 0),
            odd: Branch::new(h.iter().skip(1).step_by(2).copied(), 1),
        }
    }

    /// Filter the `y.len()` new samples of each of the even and odd input lines into `y`.
    fn run(&self, st: &mut DownState, y: &mut [f32]) {
        let [le, lo] = &mut st.lines;
        self.even.run(le, y, false);
        self.odd.run(lo, y, true);
        le.advance(y.len());
        lo.advance(y.len());
    }
}

/// One polyphase branch, with its leading and trailing zero taps dropped (a half-band's centre
/// branch is a single tap, and the decimator's latency padding costs nothing). Output `j` of a
/// chunk is `sum_k taps[k] x[j - skip - k]`, `x[j]` being the chunk's `j`-th new input.
#[derive(Debug, Clone, Default)]
struct Branch {
    /// The non-zero span of the taps, reversed (oldest input first) and in `f32`.
    rev: Vec<f32>,
    /// Delay before the first non-zero tap, in samples of the branch's rate.
    skip: usize,
}

impl Branch {
    fn new(taps: impl Iterator<Item = f64>, delay: usize) -> Self {
        let full: Vec<f64> = taps.collect();
        let start = full.iter().position(|&c| c != 0.0).unwrap_or(full.len());
        let end = full
            .iter()
            .rposition(|&c| c != 0.0)
            .map_or(start, |e| e + 1);
        let mut rev: Vec<f32> = full[start..end].iter().map(|&c| c as f32).collect();
        rev.reverse();
        if rev.is_empty() {
            rev.push(0.0);
        }
        Branch {
            rev,
            skip: start + delay,
        }
    }

    /// Past samples the branch reads.
    fn span(&self) -> usize {
        self.skip + self.rev.len() - 1
    }

    /// Outputs for the first `out.len()` new samples of `line`, stored or (`add`) added.
    #[inline]
    fn run(&self, line: &Line, out: &mut [f32], add: bool) {
        let base = line.hist - self.span();
        let x = &line.buf[base..base + out.len() + self.rev.len() - 1];
        correlate(&self.rev, x, out, add);
    }
}

/// Outputs computed together by [`correlate`]: eight 4-lane `f32` vectors (SSE2, the x86-64
/// baseline), enough independent sums to keep the adders busy despite their latency (with four
/// the loop waits on them).
const BLOCK: usize = 32;

/// `out[j] (+)= sum_k taps[k] x[j + k]`, requiring `x.len() >= out.len() + taps.len() - 1`.
///
/// Vectorized across outputs rather than taps: every output is one sum in the same order,
/// whether it is computed in a vector lane or in the scalar remainder, so the result does not
/// depend on the block boundaries (the contract demands bit-identical output for any block
/// size), and no horizontal reduction is needed.
#[inline]
fn correlate(taps: &[f32], x: &[f32], out: &mut [f32], add: bool) {
    let n = taps.len();
    let mut blocks = out.chunks_exact_mut(BLOCK);
    let mut start = 0;
    for o in &mut blocks {
        let mut acc = [0.0f32; BLOCK];
        for (&c, w) in taps
            .iter()
            .zip(x[start..start + n - 1 + BLOCK].windows(BLOCK))
        {
            let w: &[f32; BLOCK] = w.try_into().expect("window of BLOCK samples");
            for (a, &v) in acc.iter_mut().zip(w) {
                *a += c * v;
            }
        }
        let o: &mut [f32; BLOCK] = o.try_into().expect("chunk of BLOCK samples");
        if add {
            for (y, a) in o.iter_mut().zip(acc) {
                *y += a;
            }
        } else {
            *o = acc;
        }
        start += BLOCK;
    }
    for (j, y) in blocks.into_remainder().iter_mut().enumerate() {
        let w = &x[start + j..start + j + n];
        let s = taps.iter().zip(w).fold(0.0f32, |s, (&c, &v)| s + c * v);
        if add {
            *y += s;
        } else {
            *y = s;
        }
    }
}

/// `out = e[0], o[0], e[1], o[1], ...`
#[inline]
fn interleave(e: &[f32], o: &[f32], out: &mut [f32]) {
    for ((pair, &a), &b) in out.chunks_exact_mut(2).zip(e).zip(o) {
        pair[0] = a;
        pair[1] = b;
    }
}

/// The inverse of [`interleave`].
#[inline]
fn deinterleave(v: &[f32], e: &mut [f32], o: &mut [f32]) {
    for ((pair, a), b) in v.chunks_exact(2).zip(e.iter_mut()).zip(o.iter_mut()) {
        *a = pair[0];
        *b = pair[1];
    }
}

/// One FIR input signal: `hist` past samples, oldest first, followed by room for a chunk of new
/// ones, so every output's window is one contiguous slice.
#[derive(Debug, Clone, Default)]
struct Line {
    buf: Vec<f32>,
    hist: usize,
}

impl Line {
    /// A line keeping `hist` past samples and taking up to `room` new ones at a time.
    fn new(hist: usize, room: usize) -> Self {
        Line {
            buf: vec![0.0; hist + room],
            hist,
        }
    }

    fn clear(&mut self) {
        self.buf.fill(0.0);
    }

    /// Where the next `m` new samples go.
    #[inline]
    fn input(&mut self, m: usize) -> &mut [f32] {
        &mut self.buf[self.hist..self.hist + m]
    }

    /// After filtering `m` new samples, keep the newest `hist` as the history.
    #[inline]
    fn advance(&mut self, m: usize) {
        self.buf.copy_within(m..m + self.hist, 0);
    }
}

/// A decimator's even and odd input lines.
#[derive(Debug, Clone, Default)]
struct DownState {
    lines: [Line; 2],
}

/// Scratch buffers shared by the channels: the interpolators' two phases (up to 4 x CHUNK
/// samples each at the last stage) and the decimators' outputs.
#[derive(Debug, Clone, Default)]
struct Scratch {
    even: Vec<f32>,
    odd: Vec<f32>,
    down: Vec<f32>,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            even: vec![0.0; 4 * CHUNK],
            odd: vec![0.0; 4 * CHUNK],
            down: vec![0.0; 4 * CHUNK],
        }
    }
}

/// Everything one channel remembers.
#[derive(Debug, Clone)]
struct ChannelState {
    /// Input lines of the interpolators (at fs, 2fs and 4fs).
    up: [Line; 3],
    /// Input lines of the decimators (at 2fs, 4fs and 8fs, each split in two).
    down: [DownState; 3],
    adaa: Adaa,
    /// Previous input and output of the tape pre- and de-emphasis and of the DC blocker.
    pre: [f64; 2],
    de: [f64; 2],
    dc: [f64; 2],
    /// Dry input delayed by the latency, so the blend is phase-aligned.
    dry: Vec<f32>,
    dry_pos: usize,
}

impl ChannelState {
    fn new(os: &Oversampler, shape: &Shape, latency: usize) -> Self {
        // New samples per chunk at each stage's input rate (per line of a decimator).
        let room = [CHUNK, 2 * CHUNK, 4 * CHUNK];
        let up = [0, 1, 2].map(|k| Line::new(os.up[k].history(), room[k]));
        let down = [0, 1, 2].map(|k| DownState {
            lines: [
                Line::new(os.down[k].even.span(), room[k]),
                Line::new(os.down[k].odd.span(), room[k]),
            ],
        });
        ChannelState {
            up,
            down,
            adaa: Adaa::new(shape),
            pre: [0.0; 2],
            de: [0.0; 2],
            dc: [0.0; 2],
            dry: vec![0.0; latency],
            dry_pos: 0,
        }
    }

    fn reset(&mut self, shape: &Shape) {
        let downs = self.down.iter_mut().flat_map(|d| d.lines.iter_mut());
        for line in self.up.iter_mut().chain(downs) {
            line.clear();
        }
        self.adaa = Adaa::new(shape);
        self.pre = [0.0; 2];
        self.de = [0.0; 2];
        self.dc = [0.0; 2];
        self.dry.fill(0.0);
        self.dry_pos = 0;
    }

    /// Push `x` into the dry delay and return the sample `latency` frames old.
    #[inline]
    fn dry_delay(&mut self, x: f32) -> f32 {
        if self.dry.is_empty() {
            return x;
        }
        let out = std::mem::replace(&mut self.dry[self.dry_pos], x);
        self.dry_pos += 1;
        if self.dry_pos == self.dry.len() {
            self.dry_pos = 0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;
    use realfft::RealFftPlanner;
    use std::f64::consts::PI;

    const MODELS: [SaturationModel; 4] = [
        SaturationModel::Tape,
        SaturationModel::Tube,
        SaturationModel::SoftClip,
        SaturationModel::HardClip,
    ];

    fn cfg(model: SaturationModel, drive_db: f64, mix: f64) -> SaturationConfig {
        SaturationConfig {
            model,
            drive_db,
            mix,
            output_db: 0.0,
        }
    }

    fn prepared(c: &SaturationConfig, fs: f64) -> Saturation {
        let mut s = Saturation::new(c);
        s.prepare(&testkit::spec(fs));
        s
    }

    fn sine(fs: f64, freq: f64, amp: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / fs).sin()) as f32)
            .collect()
    }

    /// 4-term Blackman-Harris window (Harris 1978, "On the use of windows for harmonic
    /// analysis with the DFT", Proc. IEEE 66(1)): -92 dB sidelobes.
    fn blackman_harris(n: usize) -> Vec<f64> {
        let a = [0.35875, 0.48829, 0.14128, 0.01168];
        (0..n)
            .map(|i| {
                let x = 2.0 * PI * i as f64 / n as f64;
                a[0] - a[1] * x.cos() + a[2] * (2.0 * x).cos() - a[3] * (3.0 * x).cos()
            })
            .collect()
    }

    /// Magnitude spectrum of the last `fs` samples (1 s, so bins are 1 Hz apart).
    fn spectrum_1s(x: &[f32], fs: usize) -> Vec<f64> {
        let seg = &x[x.len() - fs..];
        let w = blackman_harris(fs);
        let mut buf: Vec<f64> = seg
            .iter()
            .zip(&w)
            .map(|(&s, &w)| f64::from(s) * w)
            .collect();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(fs);
        let mut out = fft.make_output_vec();
        fft.process(&mut buf, &mut out).unwrap();
        out.iter().map(|c| c.norm()).collect()
    }

    /// Worst non-harmonic component relative to the fundamental, dBc. Harmonic bins are the
    /// multiples of `f0` below Nyquist (and DC), each with the window's main lobe (+-4 bins).
    /// Folded images of harmonics above Nyquist are exactly the aliasing being measured, so
    /// they count against it: with f0 = 5 kHz, multiples folded at 44.1 kHz reach every
    /// multiple of 100 Hz, so counting them as harmonic would excuse any alias.
    fn worst_alias_dbc(mag: &[f64], f0: usize) -> (f64, usize) {
        let fund = mag[f0];
        let mut worst = (f64::NEG_INFINITY, 0);
        for (bin, &m) in mag.iter().enumerate() {
            let nearest = ((bin + f0 / 2) / f0) * f0;
            if bin.abs_diff(nearest) <= 4 {
                continue;
            }
            let db = 20.0 * (m / fund).log10();
            if db > worst.0 {
                worst = (db, bin);
            }
        }
        worst
    }

    #[test]
    fn aliases_stay_60_db_below_a_hard_driven_5khz_sine() {
        for fs in [44_100usize, 48_000] {
            for model in MODELS {
                // -6 dBFS driven 24 dB (the requirement), and the full 36 dB of drive.
                for drive in [24.0, 36.0] {
                    let mut s = prepared(&cfg(model, drive, 1.0), fs as f64);
                    let x = sine(fs as f64, 5000.0, 0.5, fs + fs / 2);
                    let y = testkit::run(&mut s, &[x], 4096);
                    let mag = spectrum_1s(&y[0], fs);
                    let (db, bin) = worst_alias_dbc(&mag, 5000);
                    println!(
                        "{model:?} at {fs} Hz, drive {drive} dB: worst alias {db:.1} dBc at {bin} Hz"
                    );
                    assert!(
                        db < -60.0,
                        "{model:?} at {fs} Hz: alias {db:.1} dBc at {bin} Hz"
                    );
                }
            }
        }
    }

    #[test]
    fn the_alias_measure_sees_a_naive_clipper_alias() {
        // The classifier must not excuse aliasing: clipping at the session rate, with neither
        // oversampling nor ADAA, aliases strongly.
        let fs = 44_100;
        let x = sine(fs as f64, 5000.0, 0.5 * db_to_gain(24.0), fs);
        let y: Vec<f32> = x.iter().map(|v| v.clamp(-1.0, 1.0)).collect();
        let (db, bin) = worst_alias_dbc(&spectrum_1s(&y, fs), 5000);
        println!("naive hard clip at {fs} Hz: worst alias {db:.1} dBc at {bin} Hz");
        assert!(db > -30.0, "{db}");
    }

    /// Harmonic distortion of a 1 kHz sine by correlation over whole cycles: sqrt(sum of
    /// harmonics 2..10 squared) / fundamental.
    fn thd(y: &[f32], fs: f64, f0: f64) -> f64 {
        let m = fs as usize; // 1 s: 1000 whole cycles.
        let seg = &y[y.len() - m..];
        let start = y.len() - m;
        let amp = |h: f64| {
            let (mut s, mut c) = (0.0, 0.0);
            for (k, &v) in seg.iter().enumerate() {
                let ph = 2.0 * PI * f0 * h * (start + k) as f64 / fs;
                s += f64::from(v) * ph.sin();
                c += f64::from(v) * ph.cos();
            }
            2.0 * (s * s + c * c).sqrt() / m as f64
        };
        let fund = amp(1.0);
        let harm: f64 = (2..=10).map(|h| amp(f64::from(h)).powi(2)).sum();
        harm.sqrt() / fund
    }

    #[test]
    fn zero_drive_on_a_quiet_sine_is_nearly_linear() {
        let fs = 48_000.0;
        for model in MODELS {
            let mut s = prepared(&cfg(model, 0.0, 1.0), fs);
            let y = testkit::run(&mut s, &[sine(fs, 1000.0, 0.01, 72_000)], 4096);
            let d = thd(&y[0], fs, 1000.0);
            println!("{model:?}: THD at -40 dBFS, 0 dB drive: {:.4} %", 100.0 * d);
            assert!(d < 0.01, "{model:?}: THD {d}");
        }
    }

    #[test]
    fn latency_is_the_exact_integer_delay_of_the_linear_path() {
        // Below clipping the hard clipper is the identity, so the wet path is just the
        // resampling filters: a band-limited signal must come out delayed by exactly
        // latency() frames, and +-1 frame must be far worse.
        for fs in [44_100.0, 48_000.0, 96_000.0] {
            let mut s = prepared(&cfg(SaturationModel::HardClip, 0.0, 1.0), fs);
            let lat = s.latency();
            let n = 20_000;
            let x: Vec<f32> = sine(fs, 997.0, 0.2, n)
                .iter()
                .zip(sine(fs, 3001.0, 0.2, n))
                .map(|(a, b)| a + b)
                .collect();
            let y = testkit::run(&mut s, std::slice::from_ref(&x), 512);
            let err = |shift: usize| {
                (5000..n)
                    .map(|i| (y[0][i] - x[i - shift]).abs())
                    .fold(0.0f32, f32::max)
            };
            let (e0, em, ep) = (err(lat), err(lat - 1), err(lat + 1));
            println!(
                "{fs} Hz: latency {lat} frames, error {e0:.2e} (+-1 frame: {em:.2e}, {ep:.2e})"
            );
            assert!(e0 < 1e-3, "{fs}: error {e0} at latency {lat}");
            assert!(em > 20.0 * e0 && ep > 20.0 * e0, "{fs}: {em} {ep} vs {e0}");
        }
    }

    #[test]
    fn mix_zero_is_the_dry_signal_delayed_by_latency_exactly() {
        let fs = 44_100.0;
        let x = testkit::test_signal(fs, 0.5, 0.9);
        for model in MODELS {
            let mut c = cfg(model, 18.0, 0.0);
            c.output_db = 6.0;
            let mut s = prepared(&c, fs);
            let lat = s.latency();
            let y = testkit::run(&mut s, &x, 333);
            for (yc, xc) in y.iter().zip(&x) {
                assert!(yc[..lat].iter().all(|&v| v == 0.0));
                assert_eq!(&yc[lat..], &xc[..xc.len() - lat], "{model:?}");
            }
        }
    }

    #[test]
    fn mix_blends_wet_and_dry_in_phase() {
        // Quiet and undriven, wet equals delayed dry, so any blend must too: a misaligned dry
        // path would comb-filter the 3 kHz partial.
        let fs = 48_000.0;
        let mut s = prepared(&cfg(SaturationModel::SoftClip, 0.0, 0.5), fs);
        let lat = s.latency();
        let x = sine(fs, 3000.0, 0.01, 20_000);
        let y = testkit::run(&mut s, std::slice::from_ref(&x), 4096);
        let err = (5000..20_000)
            .map(|i| (y[0][i] - x[i - lat]).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-5, "{err}");
    }

    #[test]
    fn tube_is_asymmetric_but_leaves_no_dc() {
        let fs = 48_000.0;
        let mut s = prepared(&cfg(SaturationModel::Tube, 12.0, 1.0), fs);
        let y = testkit::run(&mut s, &[sine(fs, 1000.0, 0.5, 96_000)], 4096);
        let tail = &y[0][48_000..];
        let mean = tail.iter().map(|&v| f64::from(v)).sum::<f64>() / tail.len() as f64;
        // Even harmonics prove the asymmetry (which would otherwise leave a DC offset).
        let mag = spectrum_1s(&y[0], 48_000);
        let h2 = 20.0 * (mag[2000] / mag[1000]).log10();
        println!("tube: DC {mean:.2e}, 2nd harmonic {h2:.1} dBc");
        assert!(h2 > -30.0, "{h2}");
        assert!(mean.abs() < 1e-5, "{mean}");
        // Zero maps to zero: silence stays exactly silent (also in the invariants).
        assert_eq!(Shape::new(SaturationModel::Tube).f(0.0), 0.0);
    }

    #[test]
    fn antiderivatives_match_their_curves() {
        for model in MODELS {
            let sh = Shape::new(model);
            for i in -400..=400 {
                let x = f64::from(i) * 0.01;
                let h = 1e-4;
                let num = (sh.antiderivative(x + h) - sh.antiderivative(x - h)) / (2.0 * h);
                // Central differences err by O(h^2) on smooth parts and by up to h/4 at the
                // clippers' corners.
                assert!(
                    (num - sh.f(x)).abs() < 1e-4,
                    "{model:?} at {x}: {num} vs {}",
                    sh.f(x)
                );
            }
        }
    }

    #[test]
    fn output_db_trims_the_wet_path() {
        let fs = 48_000.0;
        let mut c = cfg(SaturationModel::HardClip, 0.0, 1.0);
        c.output_db = -6.0;
        let mut s = prepared(&c, fs);
        let db = testkit::sine_gain_db(&mut s, fs, 1000.0, 0.1);
        assert!((db + 6.0).abs() < 0.01, "{db}");
    }

    #[test]
    fn contract_invariants() {
        for model in MODELS {
            let c = cfg(model, 12.0, 0.7);
            testkit::assert_invariants(&|| Box::new(Saturation::new(&c)), 44_100.0, 0.0);
        }
    }
    #[test]
    fn the_ln_cosh_table_keeps_the_tanh_curves() {
        // The table (see LnCosh) against the library functions over +-20, in steps finer than
        // its pieces: the tanh curve within 1e-7 absolute and 1e-4 dB relative, ln cosh within
        // 1e-8.
        let lc: &LnCosh = &LN_COSH;
        let (mut abs_t, mut rel_db, mut abs_l) = (0.0f64, 0.0f64, 0.0f64);
        for i in -200_000..=200_000 {
            let x = f64::from(i) * 1e-4;
            let t = x.tanh();
            abs_t = abs_t.max((lc.tanh(x) - t).abs());
            if x != 0.0 {
                rel_db = rel_db.max((20.0 * (lc.tanh(x) / t).log10()).abs());
            }
            let a = x.abs();
            let exact = a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2;
            abs_l = abs_l.max((lc.ln_cosh(x) - exact).abs());
        }
        println!("tanh: {abs_t:.1e} ({rel_db:.1e} dB), ln cosh: {abs_l:.1e}");
        assert!(
            abs_t < 1e-7 && rel_db < 1e-4 && abs_l < 1e-8,
            "{abs_t} {rel_db} {abs_l}"
        );
        // Odd, and exactly zero at zero.
        assert_eq!(lc.tanh(0.0), 0.0);
        assert_eq!(lc.tanh(-0.7), -lc.tanh(0.7));
    }
}
