//! Second-order IIR sections ("biquads"): coefficients apart from state.
//!
//! [`Coeffs`] are plain `Copy` numbers built by constructors named by shape, exactly the formulas
//! of Robert Bristow-Johnson's *Audio EQ Cookbook* (cited per constructor as "Cookbook"), plus
//! first-order bilinear sections and Butterworth cascades built from them. Every set of
//! coefficients can evaluate its own analytic transfer function ([`Coeffs::response`]), which is
//! what tests and the linear-phase EQ design compare against. [`State`] is the per-channel memory
//! of one section (transposed direct form II, f64), so one set of coefficients serves every
//! channel. All frequencies are in Hz, gains in dB.

use std::f64::consts::PI;

use realfft::num_complex::Complex64;

use super::config::ShelfShape;

/// Normalized biquad coefficients (`a0` = 1) of
/// `H(z) = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coeffs {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

/// `cos w0`, `sin w0` and `1 - cos w0` of the Cookbook's `w0 = 2 pi f0 / Fs`.
///
/// `1 - cos w0` is computed as `2 sin^2(w0 / 2)` (the same number) because the direct difference
/// loses about half its digits to cancellation for a 20 Hz corner at 96 kHz.
struct Omega {
    cos: f64,
    sin: f64,
    one_minus_cos: f64,
}

impl Omega {
    fn new(fs: f64, f0: f64) -> Self {
        let w0 = 2.0 * PI * f0 / fs;
        let half = (0.5 * w0).sin();
        Omega {
            cos: w0.cos(),
            sin: w0.sin(),
            one_minus_cos: 2.0 * half * half,
        }
    }

    /// The Cookbook's `alpha = sin(w0) / (2 Q)`.
    fn alpha(&self, q: f64) -> f64 {
        self.sin / (2.0 * q)
    }
}

/// Cookbook amplitude `A = 10^(dBgain / 40)` of peaking and shelving filters.
fn shelf_amplitude(gain_db: f64) -> f64 {
    10f64.powf(gain_db / 40.0)
}

impl Coeffs {
    /// Divide through by `a0` (Cookbook: "the coefficients are normalized").
    fn normalized(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        let inv = 1.0 / a0;
        Coeffs {
            b0: b0 * inv,
            b1: b1 * inv,
            b2: b2 * inv,
            a1: a1 * inv,
            a2: a2 * inv,
        }
    }

    /// The section that passes its input unchanged.
    pub fn identity() -> Self {
        Coeffs {
            b0: 1.0,
            b1: 0.0,
            b2: 0.0,
            a1: 0.0,
            a2: 0.0,
        }
    }

    /// Second-order low-pass, corner `f0` Hz, quality `q` (1/sqrt(2) is Butterworth, -3.01 dB at
    /// `f0`). Cookbook "LPF".
    pub fn lowpass(fs: f64, f0: f64, q: f64) -> Self {
        let w = Omega::new(fs, f0);
        let alpha = w.alpha(q);
        let b = 0.5 * w.one_minus_cos;
        Self::normalized(b, 2.0 * b, b, 1.0 + alpha, -2.0 * w.cos, 1.0 - alpha)
    }

    /// Second-order high-pass, corner `f0` Hz, quality `q`. Cookbook "HPF".
    pub fn highpass(fs: f64, f0: f64, q: f64) -> Self {
        let w = Omega::new(fs, f0);
        let alpha = w.alpha(q);
        let b = 0.5 * (1.0 + w.cos);
        Self::normalized(b, -2.0 * b, b, 1.0 + alpha, -2.0 * w.cos, 1.0 - alpha)
    }

    /// Band-pass centred on `f0` Hz with a constant 0 dB peak gain; `q` sets the -3 dB width.
    /// Cookbook "BPF (constant 0 dB peak gain)".
    pub fn bandpass(fs: f64, f0: f64, q: f64) -> Self {
        let w = Omega::new(fs, f0);
        let alpha = w.alpha(q);
        Self::normalized(alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * w.cos, 1.0 - alpha)
    }

    /// Notch (band-reject) at `f0` Hz: a zero on the unit circle, so the gain at `f0` is 0 (-inf
    /// dB); `q` sets the -3 dB width. Cookbook "notch".
    pub fn notch(fs: f64, f0: f64, q: f64) -> Self {
        let w = Omega::new(fs, f0);
        let alpha = w.alpha(q);
        let b1 = -2.0 * w.cos;
        Self::normalized(1.0, b1, 1.0, 1.0 + alpha, b1, 1.0 - alpha)
    }

    /// Second-order all-pass: unit magnitude everywhere, -180 degrees at `f0` Hz. Cookbook "APF".
    pub fn allpass(fs: f64, f0: f64, q: f64) -> Self {
        let w = Omega::new(fs, f0);
        let alpha = w.alpha(q);
        let b1 = -2.0 * w.cos;
        Self::normalized(1.0 - alpha, b1, 1.0 + alpha, 1.0 + alpha, b1, 1.0 - alpha)
    }

    /// Peaking EQ: `gain_db` dB at `f0` Hz, quality `q`. Cookbook "peakingEQ".
    pub fn peak(fs: f64, f0: f64, q: f64, gain_db: f64) -> Self {
        let w = Omega::new(fs, f0);
        let alpha = w.alpha(q);
        let a = shelf_amplitude(gain_db);
        let b1 = -2.0 * w.cos;
        Self::normalized(
            1.0 + alpha * a,
            b1,
            1.0 - alpha * a,
            1.0 + alpha / a,
            b1,
            1.0 - alpha / a,
        )
    }

    /// Low shelf: `gain_db` dB below `f0` Hz, 0 dB above, `gain_db / 2` at the mid-point `f0`.
    /// Cookbook "lowShelf".
    pub fn low_shelf(fs: f64, f0: f64, gain_db: f64, shape: ShelfShape) -> Self {
        let w = Omega::new(fs, f0);
        let a = shelf_amplitude(gain_db);
        let k = 2.0 * a.sqrt() * shelf_alpha(&w, a, shape);
        let (ap1, am1) = (a + 1.0, a - 1.0);
        Self::normalized(
            a * (ap1 - am1 * w.cos + k),
            2.0 * a * (am1 - ap1 * w.cos),
            a * (ap1 - am1 * w.cos - k),
            ap1 + am1 * w.cos + k,
            -2.0 * (am1 + ap1 * w.cos),
            ap1 + am1 * w.cos - k,
        )
    }

    /// High shelf: `gain_db` dB above `f0` Hz, 0 dB below, `gain_db / 2` at the mid-point `f0`.
    /// Cookbook "highShelf".
    pub fn high_shelf(fs: f64, f0: f64, gain_db: f64, shape: ShelfShape) -> Self {
        let w = Omega::new(fs, f0);
        let a = shelf_amplitude(gain_db);
        let k = 2.0 * a.sqrt() * shelf_alpha(&w, a, shape);
        let (ap1, am1) = (a + 1.0, a - 1.0);
        Self::normalized(
            a * (ap1 + am1 * w.cos + k),
            -2.0 * a * (am1 + ap1 * w.cos),
            a * (ap1 + am1 * w.cos - k),
            ap1 - am1 * w.cos + k,
            2.0 * (am1 - ap1 * w.cos),
            ap1 - am1 * w.cos - k,
        )
    }

    /// First-order low-pass (6 dB/oct), -3.01 dB at `f0` Hz: `1 / (1 + s)` through the
    /// Cookbook's prewarped bilinear transform `s <- (1 - z^-1) / (K (1 + z^-1))`,
    /// `K = tan(pi f0 / Fs)`.
    pub fn lowpass1(fs: f64, f0: f64) -> Self {
        let k = (PI * f0 / fs).tan();
        Self::normalized(k, k, 0.0, k + 1.0, k - 1.0, 0.0)
    }

    /// First-order high-pass (6 dB/oct), -3.01 dB at `f0` Hz: bilinear transform of
    /// `s / (1 + s)`, prewarped like [`Coeffs::lowpass1`].
    pub fn highpass1(fs: f64, f0: f64) -> Self {
        let k = (PI * f0 / fs).tan();
        Self::normalized(1.0, -1.0, 0.0, k + 1.0, k - 1.0, 0.0)
    }

    /// The transfer function `H(e^{jw})` at `f_hz`, for sample rate `fs` Hz.
    pub fn response(&self, f_hz: f64, fs: f64) -> Complex64 {
        let z1 = Complex64::from_polar(1.0, -2.0 * PI * f_hz / fs);
        let z2 = z1 * z1;
        (self.b0 + z1 * self.b1 + z2 * self.b2) / (1.0 + z1 * self.a1 + z2 * self.a2)
    }

    /// `|H(e^{jw})|` at `f_hz` in dB, floored at [`MIN_DB`] (a notch's exact zero stays finite).
    pub fn magnitude_db(&self, f_hz: f64, fs: f64) -> f64 {
        amplitude_to_db(self.response(f_hz, fs).norm())
    }

    /// Largest pole radius (below 1 for a stable section).
    pub fn pole_radius(&self) -> f64 {
        root_radius(self.a1, self.a2)
    }

    /// Largest zero radius: 1 for a zero on the unit circle (a notch's, or a pass filter's at
    /// DC or Nyquist), below 1 for the minimum-phase zeros of peaks and shelves.
    pub fn zero_radius(&self) -> f64 {
        if self.b0 != 0.0 {
            root_radius(self.b1 / self.b0, self.b2 / self.b0)
        } else if self.b1 != 0.0 {
            (self.b2 / self.b1).abs()
        } else {
            0.0
        }
    }

    /// Frames the impulse response takes to decay by 120 dB (the slowest pole's envelope
    /// `r^n` reaching 1e-6); `usize::MAX` for a pole on or outside the unit circle.
    pub fn ring_frames(&self) -> usize {
        let r = self.pole_radius();
        if r >= 1.0 || r.is_nan() {
            usize::MAX
        } else if r < 1e-6 {
            // FIR: the zeros' two frames of memory.
            2
        } else {
            // Saturating float-to-int cast; +2 for the zeros' memory.
            ((1e-6f64).ln() / r.ln()).ceil() as usize + 2
        }
    }
}

/// Largest root radius of `z^2 + c1 z + c2`: a complex pair has `|p|^2 = c2`; real roots are
/// `(-c1 +- sqrt(c1^2 - 4 c2)) / 2`.
fn root_radius(c1: f64, c2: f64) -> f64 {
    let disc = c1 * c1 - 4.0 * c2;
    if disc < 0.0 {
        c2.sqrt()
    } else {
        let r = disc.sqrt();
        (0.5 * (-c1 + r)).abs().max((0.5 * (-c1 - r)).abs())
    }
}

/// Floor of every dB figure this module returns (an exact zero would be -inf).
pub const MIN_DB: f64 = -300.0;

/// Amplitude to dB, floored at [`MIN_DB`].
pub fn amplitude_to_db(a: f64) -> f64 {
    super::gain_to_db(a).max(MIN_DB)
}

/// Cookbook shelf `alpha`: `sin(w0)/2 * sqrt((A + 1/A)(1/S - 1) + 2)` for slope `S`, or
/// `sin(w0)/(2Q)`. The square root's argument is clamped at 0: it goes negative only for `S`
/// above the Cookbook's maximum for that gain, which validation (S <= 1) excludes.
fn shelf_alpha(w: &Omega, a: f64, shape: ShelfShape) -> f64 {
    match shape {
        ShelfShape::Slope(s) => {
            0.5 * w.sin * ((a + 1.0 / a) * (1.0 / s - 1.0) + 2.0).max(0.0).sqrt()
        }
        ShelfShape::Q(q) => w.alpha(q),
    }
}

/// The product of several sections' responses at `f_hz` (sample rate `fs` Hz).
pub fn cascade_response(sections: &[Coeffs], f_hz: f64, fs: f64) -> Complex64 {
    sections
        .iter()
        .fold(Complex64::new(1.0, 0.0), |h, c| h * c.response(f_hz, fs))
}

/// `|H|` of a cascade in dB, floored at [`MIN_DB`].
pub fn cascade_magnitude_db(sections: &[Coeffs], f_hz: f64, fs: f64) -> f64 {
    amplitude_to_db(cascade_response(sections, f_hz, fs).norm())
}

/// Frames a cascade rings for: the sum of its sections' [`Coeffs::ring_frames`], because the
/// cascade's impulse response is the convolution of theirs (saturating).
pub fn cascade_ring_frames(sections: &[Coeffs]) -> usize {
    sections
        .iter()
        .fold(0usize, |n, c| n.saturating_add(c.ring_frames()))
}

/// Butterworth order for a pass-band slope: 6/12/18/24/36/48 dB per octave give 1/2/3/4/6/8.
pub fn butterworth_order(slope_db_oct: u32) -> u32 {
    (slope_db_oct / 6).clamp(1, MAX_BUTTERWORTH_ORDER)
}

/// Highest order the Butterworth constructors build (48 dB/oct).
pub const MAX_BUTTERWORTH_ORDER: u32 = 8;

/// Q of the `k`-th (1-based) second-order section of an order-`n` Butterworth filter:
/// `1 / (2 sin((2k - 1) pi / (2n)))`. The analog Butterworth poles `exp(j pi (2k + n - 1) / (2n))`
/// lie at `(2k - 1) pi / (2n)` from the imaginary axis, and a pole pair at angle `t` from that
/// axis has damping `sin t`, so `Q = 1 / (2 sin t)`. For even `n` this is the familiar
/// `1 / (2 cos((2k - 1) pi / (2n)))` in reverse order; unlike that form it is also right for odd
/// `n` (order 3 has Q = 1, not 0.577).
fn butterworth_q(n: u32, k: u32) -> f64 {
    1.0 / (2.0 * ((2 * k - 1) as f64 * PI / (2 * n) as f64).sin())
}

fn butterworth(fs: f64, f0: f64, order: u32, high: bool) -> Vec<Coeffs> {
    let n = order.clamp(1, MAX_BUTTERWORTH_ORDER);
    // Every section shares the corner: the cascade is the bilinear transform of the analog
    // Butterworth prewarped at f0, so |H(f0)|^2 = 1/2 exactly for every order.
    let mut out: Vec<Coeffs> = (1..=n / 2)
        .map(|k| {
            let q = butterworth_q(n, k);
            if high {
                Coeffs::highpass(fs, f0, q)
            } else {
                Coeffs::lowpass(fs, f0, q)
            }
        })
        .collect();
    if n % 2 == 1 {
        // The real pole of an odd order.
        out.push(if high {
            Coeffs::highpass1(fs, f0)
        } else {
            Coeffs::lowpass1(fs, f0)
        });
    }
    out
}

/// Butterworth low-pass of `order` (1..=8, clamped) at `f0` Hz: `order / 2` Cookbook sections
/// plus a first-order section for odd orders. -3.01 dB at `f0`, `6 * order` dB/oct beyond.
pub fn butterworth_lowpass(fs: f64, f0: f64, order: u32) -> Vec<Coeffs> {
    butterworth(fs, f0, order, false)
}

/// Butterworth high-pass of `order` (1..=8, clamped) at `f0` Hz; see [`butterworth_lowpass`].
pub fn butterworth_highpass(fs: f64, f0: f64, order: u32) -> Vec<Coeffs> {
    butterworth(fs, f0, order, true)
}

/// A section's state is set to zero once both of its variables are below this: 1e-30 is
/// 600 dB below full scale, far under any audible or even f32-resolvable detail, yet far above
/// the f64 subnormals (below 2.2e-308) that make the arithmetic slow, so a ringing filter ends in
/// exact zeros. Both variables are cleared together: clearing each on its own is a
/// nonlinearity that can sustain a limit cycle just above the threshold (seen with a Q 0.51
/// section at 20 kHz, 44.1 kHz), whereas the zero state is a fixed point.
const FLUSH_BELOW: f64 = 1e-30;

pub use super::to_f32;

/// Memory of one section for one channel, transposed direct form II in f64.
///
/// TDF-II keeps only two state variables and, in f64, has ample headroom for low corners
/// (Smith, *Introduction to Digital Filters*, "Transposed Direct-Forms"). A state decayed
/// below 1e-30 is flushed to zero so that ringing ends in exact zeros, never subnormals.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct State {
    s1: f64,
    s2: f64,
}

impl State {
    /// Filter one sample `x` through the section `c`.
    #[inline]
    pub fn process(&mut self, c: &Coeffs, x: f64) -> f64 {
        let y = c.b0 * x + self.s1;
        let s1 = c.b1 * x - c.a1 * y + self.s2;
        let s2 = c.b2 * x - c.a2 * y;
        if s1.abs().max(s2.abs()) < FLUSH_BELOW {
            *self = State::default();
        } else {
            (self.s1, self.s2) = (s1, s2);
        }
        y
    }

    /// Set a state decayed below the flush threshold to exact zeros (both variables
    /// together, see [`FLUSH_BELOW`]).
    #[inline]
    pub fn flush(&mut self) {
        if self.s1.abs().max(self.s2.abs()) < FLUSH_BELOW {
            *self = State::default();
        }
    }

    /// Filter one sample through a cascade: `states` and `coeffs` pair up in order.
    #[inline]
    pub fn process_cascade(states: &mut [State], coeffs: &[Coeffs], x: f64) -> f64 {
        states
            .iter_mut()
            .zip(coeffs)
            .fold(x, |y, (s, c)| s.process(c, y))
    }

    /// Forget the past (silence before the next sample).
    pub fn reset(&mut self) {
        *self = State::default();
    }
}

/// Frames between coefficient updates of a moving filter: the Cookbook coefficients are
/// recomputed for every step of this many frames and the filter states carried over (the EQ,
/// the delay's loop filters, the de-esser's band and the width's crossover all move this way).
pub const GLIDE_STEP: usize = 8;

/// `a` moved a fraction `u` (0..1) of the way to `b` geometrically, i.e. in even steps of
/// octaves: how a moving corner frequency or Q travels. Exactly `b` when they are equal.
#[inline]
pub fn geometric(a: f64, b: f64, u: f64) -> f64 {
    if a == b { b } else { a * (b / a).powf(u) }
}

/// A filter frequency (Hz) under automation: each update is reached over the next block, in
/// steps of [`GLIDE_STEP`] frames, each step at the frequency of its last frame on the
/// geometric way ([`geometric`]) from where the last block ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glide {
    from: f64,
    to: f64,
}

impl Glide {
    /// At rest at `hz`.
    pub fn new(hz: f64) -> Self {
        Glide { from: hz, to: hz }
    }

    /// Move to `hz` over the next block.
    pub fn set(&mut self, hz: f64) {
        self.to = hz;
    }

    /// Whether the next block moves.
    pub fn moving(&self) -> bool {
        self.from != self.to
    }

    /// Where it rests (or will, after the next block).
    pub fn target(&self) -> f64 {
        self.to
    }

    /// The frequency of the step that ends at frame `end` (exclusive) of a block of `n` frames.
    #[inline]
    pub fn at(&self, end: usize, n: usize) -> f64 {
        geometric(self.from, self.to, end as f64 / n.max(1) as f64)
    }

    /// The block is done: rest at the target.
    pub fn settle(&mut self) {
        self.from = self.to;
    }

    /// The steps of a block of `n` frames: `(start, end)` frame ranges of at most
    /// [`GLIDE_STEP`] frames, each with its frequency ([`Glide::at`]).
    pub fn steps(&self, n: usize) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        (0..n).step_by(GLIDE_STEP).map(move |o| {
            let end = (o + GLIDE_STEP).min(n);
            (o, end, self.at(end, n))
        })
    }
}

/// A cascade of sections run over whole blocks of one or two channels.
///
/// The arithmetic is [`State::process_cascade`]'s, except that a state decayed below the flush
/// threshold is cleared every [`FLUSH_PERIOD`] frames instead of at the sample it gets there
/// (so a decaying tail may carry values below 1e-30 for up to that long). A
/// section's recursion is a chain of dependent multiplies and adds, so filtering one sample
/// through one section after another leaves the CPU waiting on each chain. Here the channels
/// run side by side and the sections as a wavefront: at step `t` section `k` filters frame
/// `t - k`, so every section and channel of a step is independent of the others. Cascades
/// longer than [`WAVE`] sections run in groups; between sections samples stay f64.
#[derive(Debug, Clone, Default)]
pub struct Cascade {
    coeffs: Vec<Coeffs>,
    /// One state per section and channel: `states[section][channel]`.
    states: Vec<[State; 2]>,
    /// Frames filtered since the last reset (where the next flush falls).
    pos: u64,
}

/// Sections run as one wavefront.
pub const WAVE: usize = 8;

/// Cascades [`Cascade::process_group`] runs side by side: two fill the time each waits on its
/// own recursion; the states of more do not fit the vector registers.
const PAIR: usize = 2;

impl Cascade {
    /// Silent filters for `coeffs`, for blocks of any length.
    pub fn new(coeffs: Vec<Coeffs>) -> Self {
        let n = coeffs.len();
        Cascade {
            coeffs,
            states: vec![[State::default(); 2]; n],
            pos: 0,
        }
    }

    /// The sections, in order.
    pub fn coeffs(&self) -> &[Coeffs] {
        &self.coeffs
    }

    /// Replace the sections' coefficients (as many as before), keeping every state: a filter
    /// that moves. The transposed direct form II carries its state through the change.
    pub fn set_coeffs(&mut self, coeffs: &[Coeffs]) {
        debug_assert_eq!(coeffs.len(), self.coeffs.len());
        self.coeffs.clear();
        self.coeffs.extend_from_slice(coeffs);
    }

    /// Forget the past on every channel.
    pub fn reset(&mut self) {
        self.states.fill([State::default(); 2]);
        self.pos = 0;
    }

    /// Filter one or two channels of equal length in place, each with its own state (a
    /// second channel uses the second state of every section). Other counts pass through.
    pub fn process(&mut self, chans: &mut [&mut [f32]]) {
        match chans {
            [l, r] => self.run::<2>(&mut [&mut **l, &mut **r]),
            [m] => self.run::<1>(&mut [&mut **m]),
            _ => {}
        }
    }

    fn run<const C: usize>(&mut self, chans: &mut [&mut [f32]; C]) {
        let n = chans[0].len();
        if self.coeffs.is_empty() || n == 0 {
            return;
        }
        // In chunks through an f64 buffer of CHUNK frames on the stack (shared by every
        // cascade a thread runs, rather than one per filter held for the whole render): the
        // filter's output does not depend on where blocks are cut, so the chunks change
        // nothing but memory.
        let mut buf = [[0.0f64; 2]; CHUNK];
        let mut start = 0;
        while start < n {
            let m = (n - start).min(CHUNK);
            for (t, b) in buf[..m].iter_mut().enumerate() {
                for c in 0..C {
                    b[c] = f64::from(chans[c][start + t]);
                }
            }
            self.filter::<C>(&mut buf[..m]);
            for (t, b) in buf[..m].iter().enumerate() {
                for c in 0..C {
                    chans[c][start + t] = to_f32(b[c]);
                }
            }
            start += m;
        }
    }

    /// Filter the stereo `blocks` (one per cascade, all the same length) as [`Cascade::process`]
    /// filters each, bit for bit: pairs of cascades with the same number of sections (2 to
    /// [`WAVE`]) at the same point of their flush period run side by side ([`wave_group`]),
    /// the others alone.
    pub fn process_group(cascades: &mut [&mut Cascade], blocks: &mut [[&mut [f32]; 2]]) {
        let keys: Vec<Option<(usize, u64)>> = cascades.iter().map(|c| c.pair_key()).collect();
        let mut taken = vec![false; cascades.len()];
        for i in 0..cascades.len() {
            if taken[i] {
                continue;
            }
            let mut cs: Vec<&mut Cascade> = Vec::with_capacity(PAIR);
            let mut bs: Vec<&mut [&mut [f32]; 2]> = Vec::with_capacity(PAIR);
            for (j, (c, b)) in cascades
                .iter_mut()
                .zip(blocks.iter_mut())
                .enumerate()
                .skip(i)
            {
                let joins = j == i || (keys[i].is_some() && keys[j] == keys[i]);
                if !taken[j] && joins && cs.len() < PAIR {
                    taken[j] = true;
                    cs.push(c);
                    bs.push(b);
                }
            }
            match cs.len() {
                1 => {
                    let [l, r] = &mut *bs[0];
                    cs[0].process(&mut [&mut **l, &mut **r]);
                }
                _ => Cascade::lanes::<PAIR>(&mut cs, &mut bs),
            }
        }
    }

    /// [`Cascade::process_group`] for `G` cascades of one key: [`Cascade::run`]'s chunks
    /// through `G` f64 buffers.
    fn lanes<const G: usize>(cs: &mut [&mut Cascade], bs: &mut [&mut [&mut [f32]; 2]]) {
        let n = bs
            .iter()
            .map(|b| b[0].len().min(b[1].len()))
            .min()
            .unwrap_or(0);
        let mut bufs = [[[0.0f64; 2]; CHUNK]; G];
        let mut start = 0;
        while start < n {
            let m = (n - start).min(CHUNK);
            // The conversions compiled for the widest vector unit (exact either way).
            for (buf, b) in bufs.iter_mut().zip(bs.iter()) {
                let (l, r) = (&b[0][start..start + m], &b[1][start..start + m]);
                let buf = &mut buf[..m];
                super::simd::wide(
                    #[inline(always)]
                    move || {
                        for ((f, &x), &y) in buf.iter_mut().zip(l).zip(r) {
                            *f = [f64::from(x), f64::from(y)];
                        }
                    },
                );
            }
            Cascade::filter_group::<2, G>(cs, bufs.each_mut().map(|b| &mut b[..m]));
            for (buf, b) in bufs.iter().zip(bs.iter_mut()) {
                let [l, r] = &mut **b;
                let (l, r) = (&mut l[start..start + m], &mut r[start..start + m]);
                let buf = &buf[..m];
                super::simd::wide(
                    #[inline(always)]
                    move || {
                        for ((f, x), y) in buf.iter().zip(l).zip(r) {
                            *x = to_f32(f[0]);
                            *y = to_f32(f[1]);
                        }
                    },
                );
            }
            start += m;
        }
    }

    /// [`Cascade::filter`] for `G` cascades of one key (the same number of sections, the same
    /// point of their flush period), each over its own buffer (all the same length).
    fn filter_group<const C: usize, const G: usize>(
        cs: &mut [&mut Cascade],
        mut bufs: [&mut [[f64; 2]]; G],
    ) {
        let m = bufs[0].len();
        let k = cs[0].coeffs.len();
        let mut pos = cs[0].pos;
        {
            let mut parts = cs.iter_mut().map(|c| {
                let Cascade { coeffs, states, .. } = &mut **c;
                (&coeffs[..], &mut states[..])
            });
            let parts: [(&[Coeffs], &mut [[State; 2]]); G] =
                std::array::from_fn(|_| parts.next().expect("one cascade per buffer"));
            let coeffs: [&[Coeffs]; G] = std::array::from_fn(|g| parts[g].0);
            let mut states = parts.map(|p| p.1);
            let mut start = 0;
            while start < m {
                let left = FLUSH_PERIOD - (pos % FLUSH_PERIOD as u64) as usize;
                let end = (start + left).min(m);
                for first in (0..k).step_by(WAVE) {
                    let last = (first + WAVE).min(k);
                    let co = coeffs.map(|c| &c[first..last]);
                    let st = states.each_mut().map(|s| &mut s[first..last]);
                    let seg = bufs.each_mut().map(|b| &mut b[start..end]);
                    match last - first {
                        1 => wave_group::<1, C, G>(co, st, seg),
                        2 => wave_group::<2, C, G>(co, st, seg),
                        3 => wave_group::<3, C, G>(co, st, seg),
                        4 => wave_group::<4, C, G>(co, st, seg),
                        5 => wave_group::<5, C, G>(co, st, seg),
                        6 => wave_group::<6, C, G>(co, st, seg),
                        7 => wave_group::<7, C, G>(co, st, seg),
                        _ => wave_group::<8, C, G>(co, st, seg),
                    }
                }
                pos += (end - start) as u64;
                if pos.is_multiple_of(FLUSH_PERIOD as u64) {
                    // A state decayed below the threshold becomes exact zeros (both variables
                    // together, see FLUSH_BELOW). Once per period, not per sample: a test per
                    // sample and section costs more than the filtering.
                    for s in states.iter_mut().flat_map(|s| s.iter_mut()).flatten() {
                        s.flush();
                    }
                }
                start = end;
            }
        }
        for c in cs.iter_mut() {
            c.pos = pos;
        }
    }

    /// What two cascades must share to run side by side ([`wave_group`]): the number of
    /// sections (2 to [`WAVE`]) and the point of their flush period; None, to run alone, for
    /// other lengths or on a CPU without AVX2.
    fn pair_key(&self) -> Option<(usize, u64)> {
        let lanes =
            cfg!(target_arch = "x86_64") && super::simd::level() >= super::simd::Level::Avx2;
        let k = self.coeffs.len();
        (lanes && (2..=WAVE).contains(&k)).then_some((k, self.pos % FLUSH_PERIOD as u64))
    }

    /// [`Cascade::process_f64`] of two cascades over their own buffers, bit for bit: side by
    /// side (as [`Cascade::process_group`] pairs them) when both are stereo, of equal length,
    /// with the same number of sections (2 to [`WAVE`]) at the same point of their flush period
    /// on a CPU with AVX2; otherwise one after the other.
    pub fn process_f64_pair(
        a: &mut Cascade,
        b: &mut Cascade,
        bufs: [&mut [[f64; 2]]; 2],
        channels: usize,
    ) {
        let key = a.pair_key();
        let side_by_side =
            channels >= 2 && bufs[0].len() == bufs[1].len() && key.is_some() && key == b.pair_key();
        if side_by_side {
            Cascade::filter_group::<2, 2>(&mut [a, b], bufs);
        } else {
            let [x, y] = bufs;
            a.process_f64(x, channels);
            b.process_f64(y, channels);
        }
    }

    /// Filter f64 frames in place: the first `channels` (1 or 2) lanes of each frame.
    pub fn process_f64(&mut self, buf: &mut [[f64; 2]], channels: usize) {
        if channels >= 2 {
            self.filter::<2>(buf);
        } else if channels == 1 {
            self.filter::<1>(buf);
        }
    }

    /// Runs the sections over `buf` in segments that end on multiples of [`FLUSH_PERIOD`]
    /// frames of the filter's own time, and flushes decayed states there: so where the
    /// flushes fall never depends on how the signal was cut into blocks.
    fn filter<const C: usize>(&mut self, buf: &mut [[f64; 2]]) {
        Cascade::filter_group::<C, 1>(&mut [self], [buf]);
    }
}

/// Frames a [`Cascade`] filters at a time through its f64 buffer (a multiple of
/// [`FLUSH_PERIOD`], so chunks do not cut its flush segments).
const CHUNK: usize = 1024;

/// Frames between the flushes of a [`Cascade`]'s decayed states.
pub const FLUSH_PERIOD: usize = 256;

/// `K` sections (`coeffs[g]`, `states[g]`) over the `C` channels of `bufs[g]`, in place, as a
/// wavefront, for `G` filters over their own buffers (all the same length): at step `t`,
/// section `j` filters frame `t - j`. A step writes frame `t - K + 1`, which was read at an
/// earlier step, so working in place is safe. Where the CPU has AVX2, the filters' vector steps
/// interleave, so one filter's recursion runs while another's waits on its last result; each
/// filter does exactly the operations it does alone, so the results are the same to the bit.
#[inline(always)]
fn wave_group<const K: usize, const C: usize, const G: usize>(
    coeffs: [&[Coeffs]; G],
    states: [&mut [[State; 2]]; G],
    bufs: [&mut [[f64; 2]]; G],
) {
    let n = bufs[0].len();
    debug_assert!(bufs.iter().all(|b| b.len() == n));
    let c: [[Coeffs; K]; G] = std::array::from_fn(|g| std::array::from_fn(|j| coeffs[g][j]));
    let mut st: [[[State; 2]; K]; G] =
        std::array::from_fn(|g| std::array::from_fn(|j| states[g][j]));
    // z[j]: the sample waiting to enter section j (from section j - 1 at the previous step).
    let mut z = [[[0.0f64; 2]; K]; G];
    let ramp = (K - 1).min(n);
    let mut bufs = bufs;
    for g in 0..G {
        for t in 0..ramp {
            wave_step::<K, C, true>(t, n, &c[g], &mut st[g], &mut z[g], bufs[g]);
        }
    }
    #[cfg(target_arch = "x86_64")]
    let vector = C == 2 && K >= 2 && super::simd::level() >= super::simd::Level::Avx2;
    #[cfg(not(target_arch = "x86_64"))]
    let vector = false;
    if vector {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU reported AVX2 (and so AVX).
        unsafe {
            let (c, st, z, b) = (&c, &mut st, &mut z, &mut bufs);
            match K {
                2 => stereo_avx::<K, 1, G>(c, st, z, b, ramp..n),
                3 | 4 => stereo_avx::<K, 2, G>(c, st, z, b, ramp..n),
                5 | 6 => stereo_avx::<K, 3, G>(c, st, z, b, ramp..n),
                _ => stereo_avx::<K, 4, G>(c, st, z, b, ramp..n),
            }
        };
    } else {
        for g in 0..G {
            for t in ramp..n {
                wave_step::<K, C, false>(t, n, &c[g], &mut st[g], &mut z[g], bufs[g]);
            }
        }
    }
    for g in 0..G {
        for t in n.max(ramp)..n + K - 1 {
            wave_step::<K, C, true>(t, n, &c[g], &mut st[g], &mut z[g], bufs[g]);
        }
    }
    for (s, v) in states.into_iter().zip(&st) {
        s[..K].copy_from_slice(v);
    }
}

/// One step `t` of [`wave_group`] for one filter; `CHECK` guards the frames outside 0..n at the ramps of the
/// wavefront.
#[inline(always)]
fn wave_step<const K: usize, const C: usize, const CHECK: bool>(
    t: usize,
    n: usize,
    c: &[Coeffs; K],
    st: &mut [[State; 2]; K],
    z: &mut [[f64; 2]; K],
    buf: &mut [[f64; 2]],
) {
    // Last section first, so each reads its input before the section before replaces it.
    let mut j = K;
    while j > 0 {
        j -= 1;
        if CHECK && (t < j || t - j >= n) {
            continue;
        }
        let x = if j == 0 { buf[t] } else { z[j] };
        let mut y = [0.0f64; 2];
        // State::process's arithmetic without its per-sample flush (see Cascade::filter),
        // written out here: through the method call the compiler keeps the states in memory.
        let cj = &c[j];
        for ch in 0..C {
            let s = &mut st[j][ch];
            let yy = cj.b0 * x[ch] + s.s1;
            s.s1 = cj.b1 * x[ch] - cj.a1 * yy + s.s2;
            s.s2 = cj.b2 * x[ch] - cj.a2 * yy;
            y[ch] = yy;
        }
        if j + 1 == K {
            buf[t - j] = y;
        } else {
            z[j + 1] = y;
        }
    }
}

/// The steps `steps` of [`wave_group`] for `G` filters of `K` sections on two channels (past
/// the opening ramp, before the closing one), each filter's section-channel pairs as the lanes
/// of `V = ceil(K / 2)` 256-bit vectors: vector `v` holds sections `2v` and `2v + 1`,
/// channel-interleaved (an odd `K` leaves the last half to a zero section whose lanes are never
/// read). A step's input is the frame `t` for section 0 and the last step's outputs moved up
/// one section for the others (`z`), so the recursions run side by side instead of one after
/// another, and the `G` filters' steps interleave. Every lane does [`wave_step`]'s operations in its
/// order (a multiply and an add are never fused), so the results are the same to the bit.
/// `c`, `st` and `z` are [`wave_group`]'s.
///
/// # Safety
/// The CPU must have AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn stereo_avx<const K: usize, const V: usize, const G: usize>(
    c: &[[Coeffs; K]; G],
    st: &mut [[[State; 2]; K]; G],
    z: &mut [[[f64; 2]; K]; G],
    bufs: &mut [&mut [[f64; 2]]; G],
    steps: std::ops::Range<usize>,
) {
    use std::arch::x86_64::*;
    // Both channels of sections 2v and 2v + 1 (zero past the last section).
    let pair = |f: &dyn Fn(usize) -> f64, v: usize| {
        let at = |j: usize| if j < K { f(j) } else { 0.0 };
        _mm256_setr_pd(at(2 * v), at(2 * v), at(2 * v + 1), at(2 * v + 1))
    };
    let coeff = |f: fn(&Coeffs) -> f64| -> [[__m256d; V]; G] {
        std::array::from_fn(|g| std::array::from_fn(|v| pair(&|j| f(&c[g][j]), v)))
    };
    let (b0, b1, b2) = (coeff(|c| c.b0), coeff(|c| c.b1), coeff(|c| c.b2));
    let (a1, a2) = (coeff(|c| c.a1), coeff(|c| c.a2));
    // Per lane: section 2v + l / 2, channel l % 2 (zero past the last section).
    let lanes_of = |f: &dyn Fn(usize, usize) -> f64, v: usize| {
        let at = |j: usize, ch: usize| if j < K { f(j, ch) } else { 0.0 };
        _mm256_setr_pd(
            at(2 * v, 0),
            at(2 * v, 1),
            at(2 * v + 1, 0),
            at(2 * v + 1, 1),
        )
    };
    let mut s1: [[__m256d; V]; G] =
        std::array::from_fn(|g| std::array::from_fn(|v| lanes_of(&|j, ch| st[g][j][ch].s1, v)));
    let mut s2: [[__m256d; V]; G] =
        std::array::from_fn(|g| std::array::from_fn(|v| lanes_of(&|j, ch| st[g][j][ch].s2, v)));
    // The last step's outputs; section j's waits to enter section j + 1 (z[j + 1]).
    let mut y: [[__m256d; V]; G] = std::array::from_fn(|g| {
        std::array::from_fn(|v| lanes_of(&|j, ch| if j + 1 < K { z[g][j + 1][ch] } else { 0.0 }, v))
    });
    let half = |v: __m256d, upper: bool| -> [f64; 2] {
        let h = if upper {
            _mm256_extractf128_pd::<1>(v)
        } else {
            _mm256_castpd256_pd128(v)
        };
        [_mm_cvtsd_f64(h), _mm_cvtsd_f64(_mm_unpackhi_pd(h, h))]
    };
    for t in steps {
        for g in 0..G {
            let buf = &mut *bufs[g];
            let frame = _mm_setr_pd(buf[t][0], buf[t][1]);
            // Sections 0 and 1 take the frame and section 0's output; sections 2v and 2v + 1
            // the outputs of sections 2v - 1 and 2v.
            let y = &mut y[g];
            let x: [__m256d; V] = std::array::from_fn(|v| {
                if v == 0 {
                    _mm256_insertf128_pd::<1>(
                        _mm256_castpd128_pd256(frame),
                        _mm256_castpd256_pd128(y[0]),
                    )
                } else {
                    _mm256_permute2f128_pd::<0x21>(y[v - 1], y[v])
                }
            });
            let (s1, s2) = (&mut s1[g], &mut s2[g]);
            let (b0, b1, b2, a1, a2) = (&b0[g], &b1[g], &b2[g], &a1[g], &a2[g]);
            for v in 0..V {
                let yy = _mm256_add_pd(_mm256_mul_pd(b0[v], x[v]), s1[v]);
                s1[v] = _mm256_add_pd(
                    _mm256_sub_pd(_mm256_mul_pd(b1[v], x[v]), _mm256_mul_pd(a1[v], yy)),
                    s2[v],
                );
                s2[v] = _mm256_sub_pd(_mm256_mul_pd(b2[v], x[v]), _mm256_mul_pd(a2[v], yy));
                y[v] = yy;
            }
            buf[t + 1 - K] = half(y[(K - 1) / 2], (K - 1) % 2 == 1);
        }
    }
    for g in 0..G {
        for j in 0..K {
            let (p, q) = (
                half(s1[g][j / 2], j % 2 == 1),
                half(s2[g][j / 2], j % 2 == 1),
            );
            for ch in 0..2 {
                st[g][j][ch] = State {
                    s1: p[ch],
                    s2: q[ch],
                };
            }
        }
        for j in 1..K {
            z[g][j] = half(y[g][(j - 1) / 2], (j - 1) % 2 == 1);
        }
    }
}

/// Test helpers shared by the filter modules' tests.
#[cfg(test)]
pub(crate) mod test_util {
    use realfft::RealFftPlanner;
    use realfft::num_complex::Complex64;

    /// Spectrum of a real signal (bins 0..=len/2). Bin `k` is at `k * fs / len` Hz.
    pub fn spectrum(x: &[f64]) -> Vec<Complex64> {
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(x.len());
        let mut input = x.to_vec();
        let mut out = fft.make_output_vec();
        fft.process(&mut input, &mut out)
            .expect("buffer sizes come from the plan");
        out
    }

    /// The discrete-time Fourier transform of `x` at exactly `f` Hz (sample rate `fs` Hz), for
    /// landmark frequencies that fall between FFT bins.
    pub fn dft_at(x: &[f64], f: f64, fs: f64) -> Complex64 {
        let step = Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * f / fs);
        let mut z = Complex64::new(1.0, 0.0);
        let mut acc = Complex64::new(0.0, 0.0);
        for (n, &v) in x.iter().enumerate() {
            // Re-anchor the rotating phasor now and then so rounding cannot accumulate.
            if n % 1024 == 0 {
                z = Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * f * n as f64 / fs);
            }
            acc += z * v;
            z *= step;
        }
        acc
    }

    /// Bins of a `len`-point FFT at `fs` Hz between `lo` and `hi` Hz, as (bin, frequency).
    pub fn bins(len: usize, fs: f64, lo: f64, hi: f64) -> impl Iterator<Item = (usize, f64)> {
        let df = fs / len as f64;
        ((lo / df).ceil() as usize..=(hi / df).floor() as usize).map(move |k| (k, k as f64 * df))
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::spectrum;
    use super::{
        Cascade, Coeffs, MIN_DB, ShelfShape, State, WAVE, butterworth_highpass,
        butterworth_lowpass, butterworth_order, cascade_magnitude_db, to_f32,
    };
    use std::f64::consts::{FRAC_1_SQRT_2, PI};

    const RATES: [f64; 3] = [44100.0, 48000.0, 96000.0];

    /// The analog prototypes of the Cookbook, `|H(j W)|^2` as closed forms in the normalized
    /// analog frequency `W`. The Cookbook designs are their bilinear transforms with `f0`
    /// prewarped, so a digital frequency `f` sits at `W = tan(pi f / Fs) / tan(pi f0 / Fs)`.
    /// These formulas share no code with the coefficient constructors.
    mod analog {
        pub fn warp(f: f64, f0: f64, fs: f64) -> f64 {
            (std::f64::consts::PI * f / fs).tan() / (std::f64::consts::PI * f0 / fs).tan()
        }
        fn den2(w: f64, q: f64) -> f64 {
            (1.0 - w * w).powi(2) + (w / q).powi(2)
        }
        /// Cookbook: H(s) = 1 / (s^2 + s/Q + 1).
        pub fn lowpass(w: f64, q: f64) -> f64 {
            1.0 / den2(w, q)
        }
        /// H(s) = s^2 / (s^2 + s/Q + 1).
        pub fn highpass(w: f64, q: f64) -> f64 {
            w.powi(4) / den2(w, q)
        }
        /// H(s) = (s/Q) / (s^2 + s/Q + 1).
        pub fn bandpass(w: f64, q: f64) -> f64 {
            (w / q).powi(2) / den2(w, q)
        }
        /// H(s) = (s^2 + 1) / (s^2 + s/Q + 1).
        pub fn notch(w: f64, q: f64) -> f64 {
            (1.0 - w * w).powi(2) / den2(w, q)
        }
        /// H(s) = (s^2 + s (A/Q) + 1) / (s^2 + s/(A Q) + 1).
        pub fn peak(w: f64, q: f64, a: f64) -> f64 {
            ((1.0 - w * w).powi(2) + (w * a / q).powi(2))
                / ((1.0 - w * w).powi(2) + (w / (a * q)).powi(2))
        }
        /// H(s) = A (s^2 + (sqrt(A)/Q) s + A) / (A s^2 + (sqrt(A)/Q) s + 1).
        pub fn low_shelf(w: f64, q: f64, a: f64) -> f64 {
            let k = a.sqrt() / q;
            a * a * ((a - w * w).powi(2) + (k * w).powi(2))
                / ((1.0 - a * w * w).powi(2) + (k * w).powi(2))
        }
        /// H(s) = A (A s^2 + (sqrt(A)/Q) s + 1) / (s^2 + (sqrt(A)/Q) s + A).
        pub fn high_shelf(w: f64, q: f64, a: f64) -> f64 {
            let k = a.sqrt() / q;
            a * a * ((1.0 - a * w * w).powi(2) + (k * w).powi(2))
                / ((a - w * w).powi(2) + (k * w).powi(2))
        }
        /// Butterworth of order n: 1 / (1 + W^2n).
        pub fn butter_lp(w: f64, n: u32) -> f64 {
            1.0 / (1.0 + w.powi(2 * n as i32))
        }
        pub fn butter_hp(w: f64, n: u32) -> f64 {
            butter_lp(1.0 / w, n)
        }
        /// Cookbook: 1/Q = sqrt((A + 1/A)(1/S - 1) + 2) for a shelf slope S.
        pub fn shelf_q(a: f64, s: f64) -> f64 {
            1.0 / ((a + 1.0 / a) * (1.0 / s - 1.0) + 2.0).sqrt()
        }
    }

    fn db_power(p: f64) -> f64 {
        crate::dsp::db::power_to_db(p).max(MIN_DB)
    }

    /// `f0` and octaves -3..=3 around it that lie in 1 Hz .. 0.49 Fs.
    fn octaves(f0: f64, fs: f64) -> impl Iterator<Item = f64> {
        (-3..=3)
            .map(move |k| f0 * 2f64.powi(k))
            .filter(move |&f| f >= 1.0 && f < 0.49 * fs)
    }

    /// Largest |response() - closed form| in dB over octaves around f0, where the closed form
    /// is above -200 dB.
    fn worst(c: &Coeffs, fs: f64, f0: f64, closed: impl Fn(f64) -> f64) -> f64 {
        octaves(f0, fs)
            .map(|f| {
                let want = db_power(closed(analog::warp(f, f0, fs)));
                if want < -200.0 {
                    0.0
                } else {
                    (c.magnitude_db(f, fs) - want).abs()
                }
            })
            .fold(0.0, f64::max)
    }

    const CORNERS: [f64; 5] = [20.0, 120.0, 1000.0, 6500.0, 18000.0];
    const QS: [f64; 4] = [0.3, FRAC_1_SQRT_2, 2.5, 12.0];
    const GAINS: [f64; 4] = [-24.0, -3.0, 6.0, 18.0];

    #[test]
    fn second_order_sections_match_the_cookbook_prototypes_at_octaves() {
        let mut max_err: f64 = 0.0;
        for fs in RATES {
            for f0 in CORNERS {
                for q in QS {
                    let checks: [(Coeffs, &dyn Fn(f64) -> f64); 4] = [
                        (Coeffs::lowpass(fs, f0, q), &|w| analog::lowpass(w, q)),
                        (Coeffs::highpass(fs, f0, q), &|w| analog::highpass(w, q)),
                        (Coeffs::bandpass(fs, f0, q), &|w| analog::bandpass(w, q)),
                        (Coeffs::notch(fs, f0, q), &|w| analog::notch(w, q)),
                    ];
                    for (c, closed) in checks {
                        max_err = max_err.max(worst(&c, fs, f0, closed));
                    }
                    for g in GAINS {
                        let a = 10f64.powf(g / 40.0);
                        let checks: [(Coeffs, &dyn Fn(f64) -> f64); 5] = [
                            (Coeffs::peak(fs, f0, q, g), &|w| analog::peak(w, q, a)),
                            (Coeffs::low_shelf(fs, f0, g, ShelfShape::Q(q)), &|w| {
                                analog::low_shelf(w, q, a)
                            }),
                            (Coeffs::high_shelf(fs, f0, g, ShelfShape::Q(q)), &|w| {
                                analog::high_shelf(w, q, a)
                            }),
                            (
                                Coeffs::low_shelf(fs, f0, g, ShelfShape::Slope(q.min(1.0))),
                                &|w| analog::low_shelf(w, analog::shelf_q(a, q.min(1.0)), a),
                            ),
                            (
                                Coeffs::high_shelf(fs, f0, g, ShelfShape::Slope(q.min(1.0))),
                                &|w| analog::high_shelf(w, analog::shelf_q(a, q.min(1.0)), a),
                            ),
                        ];
                        for (c, closed) in checks {
                            max_err = max_err.max(worst(&c, fs, f0, closed));
                        }
                    }
                }
            }
        }
        // Measured: 1.8e-8 dB (f64 rounding, worst for the 20 Hz corners).
        assert!(max_err < 1e-6, "max deviation {max_err} dB");
    }

    #[test]
    fn landmark_gains_at_f0() {
        for fs in RATES {
            for f0 in CORNERS {
                for q in QS {
                    let bp = Coeffs::bandpass(fs, f0, q).magnitude_db(f0, fs);
                    assert!(bp.abs() < 1e-6, "bandpass {bp} dB at f0");
                    let notch = Coeffs::notch(fs, f0, q).magnitude_db(f0, fs);
                    assert!(notch < -150.0, "notch depth {notch} dB");
                    // -3 dB edges of band-pass and notch, from W - 1/W = +-1/Q.
                    for sign in [-1.0, 1.0] {
                        let w = 0.5 * (sign / q + (1.0 / (q * q) + 4.0).sqrt());
                        let f = fs / PI * (w * (PI * f0 / fs).tan()).atan();
                        for c in [Coeffs::bandpass(fs, f0, q), Coeffs::notch(fs, f0, q)] {
                            let db = c.magnitude_db(f, fs);
                            assert!((db + 3.0103).abs() < 1e-3, "edge {f} Hz: {db} dB");
                        }
                    }
                    for g in GAINS {
                        let pk = Coeffs::peak(fs, f0, q, g).magnitude_db(f0, fs);
                        assert!((pk - g).abs() < 1e-6, "peak {pk} vs {g}");
                        for shape in [ShelfShape::Q(q), ShelfShape::Slope(q.min(1.0))] {
                            for c in [
                                Coeffs::low_shelf(fs, f0, g, shape),
                                Coeffs::high_shelf(fs, f0, g, shape),
                            ] {
                                let db = c.magnitude_db(f0, fs);
                                assert!((db - g / 2.0).abs() < 1e-6, "shelf {db} vs {}", g / 2.0);
                            }
                        }
                        // Far from f0 a shelf reaches its full gain on its side, 0 dB on the other.
                        let lo = Coeffs::low_shelf(fs, f0, g, ShelfShape::Slope(1.0));
                        let hi = Coeffs::high_shelf(fs, f0, g, ShelfShape::Slope(1.0));
                        assert!((lo.magnitude_db(0.0, fs) - g).abs() < 1e-6);
                        assert!(lo.magnitude_db(fs / 2.0, fs).abs() < 1e-6);
                        assert!((hi.magnitude_db(fs / 2.0, fs) - g).abs() < 1e-6);
                        assert!(hi.magnitude_db(0.0, fs).abs() < 1e-6);
                    }
                }
            }
        }
    }

    #[test]
    fn butterworth_is_3db_down_at_f0_for_every_order_and_matches_1_over_1_plus_w2n() {
        let mut max_err: f64 = 0.0;
        for fs in RATES {
            for f0 in CORNERS {
                for slope in [6, 12, 18, 24, 36, 48] {
                    let n = butterworth_order(slope);
                    assert_eq!(n * 6, slope);
                    let lp = butterworth_lowpass(fs, f0, n);
                    let hp = butterworth_highpass(fs, f0, n);
                    assert_eq!(lp.len() as u32, n.div_ceil(2));
                    for s in [&lp, &hp] {
                        let db = cascade_magnitude_db(s, f0, fs);
                        assert!((db + 3.0103).abs() < 1e-4, "order {n}: {db} dB at f0");
                    }
                    for f in octaves(f0, fs) {
                        let w = analog::warp(f, f0, fs);
                        let e_lp =
                            cascade_magnitude_db(&lp, f, fs) - db_power(analog::butter_lp(w, n));
                        let e_hp =
                            cascade_magnitude_db(&hp, f, fs) - db_power(analog::butter_hp(w, n));
                        max_err = max_err.max(e_lp.abs()).max(e_hp.abs());
                    }
                }
            }
        }
        // Measured: 1.2e-7 dB (f64 rounding of the 48 dB/oct skirts).
        assert!(max_err < 1e-6, "max deviation {max_err} dB");
    }

    #[test]
    fn butterworth_slope_is_6n_db_per_octave_far_from_f0() {
        // Far below a high-pass corner, and in a low-pass stop band well below Nyquist (the
        // bilinear warping steepens it by only 0.006 dB per order at 320..640 Hz), each octave
        // adds 6n dB.
        let fs = 48000.0;
        for n in 1..=8 {
            // Three and four octaves down (an order-1 skirt is 0.05 dB short of 6 dB there;
            // further down an order-8 skirt would pass the -300 dB floor).
            let hp = butterworth_highpass(fs, 1000.0, n);
            let drop = cascade_magnitude_db(&hp, 125.0, fs) - cascade_magnitude_db(&hp, 62.5, fs);
            assert!(
                (drop - 6.0206 * n as f64).abs() < 0.06,
                "HP order {n}: {drop}"
            );
            let lp = butterworth_lowpass(fs, 10.0, n);
            let drop = cascade_magnitude_db(&lp, 320.0, fs) - cascade_magnitude_db(&lp, 640.0, fs);
            assert!(
                (drop - 6.0206 * n as f64).abs() < 0.01 * n as f64,
                "LP order {n}: {drop}"
            );
        }
    }

    #[test]
    fn butterworth_q_values_are_the_textbook_ones() {
        let qs = |n: u32| -> Vec<f64> {
            let mut q: Vec<f64> = (1..=n / 2).map(|k| super::butterworth_q(n, k)).collect();
            q.sort_by(f64::total_cmp);
            q
        };
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4);
        assert!(close(&qs(2), &[FRAC_1_SQRT_2]));
        assert!(close(&qs(3), &[1.0]));
        assert!(close(&qs(4), &[0.5412, 1.3066]));
        assert!(close(&qs(5), &[0.6180, 1.6180]));
        assert!(close(&qs(6), &[0.5176, FRAC_1_SQRT_2, 1.9319]));
        assert!(close(&qs(8), &[0.5098, 0.6013, 0.9000, 2.5629]));
    }

    /// Oracle: the `biquad` crate (0.6) implements the same Cookbook formulas independently.
    /// Its band-pass is the "constant skirt gain" variant (peak gain Q), so ours is its / Q.
    #[test]
    fn coefficients_agree_with_the_biquad_crate() {
        use biquad::{Coefficients, ToHertz, Type};
        let close = |ours: Coeffs, theirs: Coefficients<f64>, scale_b: f64, what: &str| {
            let pairs = [
                (ours.b0, theirs.b0 * scale_b),
                (ours.b1, theirs.b1 * scale_b),
                (ours.b2, theirs.b2 * scale_b),
                (ours.a1, theirs.a1),
                (ours.a2, theirs.a2),
            ];
            for (a, b) in pairs {
                assert!(
                    (a - b).abs() <= 1e-12 + 1e-9 * b.abs(),
                    "{what}: {a} vs {b}"
                );
            }
        };
        let theirs = |t: Type<f64>, fs: f64, f0: f64, q: f64| {
            Coefficients::<f64>::from_params(t, fs.hz(), f0.hz(), q).expect("valid params")
        };
        for fs in RATES {
            for f0 in CORNERS {
                close(
                    Coeffs::lowpass1(fs, f0),
                    theirs(Type::SinglePoleLowPass, fs, f0, 1.0),
                    1.0,
                    "lowpass1",
                );
                for q in QS {
                    close(
                        Coeffs::lowpass(fs, f0, q),
                        theirs(Type::LowPass, fs, f0, q),
                        1.0,
                        "lp",
                    );
                    close(
                        Coeffs::highpass(fs, f0, q),
                        theirs(Type::HighPass, fs, f0, q),
                        1.0,
                        "hp",
                    );
                    close(
                        Coeffs::bandpass(fs, f0, q),
                        theirs(Type::BandPass, fs, f0, q),
                        1.0 / q,
                        "bp",
                    );
                    close(
                        Coeffs::notch(fs, f0, q),
                        theirs(Type::Notch, fs, f0, q),
                        1.0,
                        "notch",
                    );
                    close(
                        Coeffs::allpass(fs, f0, q),
                        theirs(Type::AllPass, fs, f0, q),
                        1.0,
                        "ap",
                    );
                    for g in GAINS {
                        close(
                            Coeffs::peak(fs, f0, q, g),
                            theirs(Type::PeakingEQ(g), fs, f0, q),
                            1.0,
                            "peak",
                        );
                        close(
                            Coeffs::low_shelf(fs, f0, g, ShelfShape::Q(q)),
                            theirs(Type::LowShelf(g), fs, f0, q),
                            1.0,
                            "low shelf",
                        );
                        close(
                            Coeffs::high_shelf(fs, f0, g, ShelfShape::Q(q)),
                            theirs(Type::HighShelf(g), fs, f0, q),
                            1.0,
                            "high shelf",
                        );
                        // The crate has no slope form: convert S to the Cookbook's equivalent Q.
                        let s = q.min(1.0);
                        let qs = analog::shelf_q(10f64.powf(g / 40.0), s);
                        close(
                            Coeffs::low_shelf(fs, f0, g, ShelfShape::Slope(s)),
                            theirs(Type::LowShelf(g), fs, f0, qs),
                            1.0,
                            "low shelf S",
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn state_impulse_response_matches_response_by_fft() {
        let fs = 48000.0;
        let c = Coeffs::peak(fs, 1000.0, 4.0, 9.0);
        let mut s = State::default();
        let ir: Vec<f64> = (0..8192)
            .map(|i| s.process(&c, if i == 0 { 1.0 } else { 0.0 }))
            .collect();
        let h = spectrum(&ir);
        for (k, hk) in h.iter().enumerate().step_by(7) {
            let f = k as f64 * fs / ir.len() as f64;
            let want = c.response(f, fs);
            assert!((hk - want).norm() < 1e-9, "bin {k}: {hk} vs {want}");
        }
        s.reset();
        assert_eq!(s, State::default());
    }

    #[test]
    fn allpass_is_flat_and_identity_is_one() {
        for fs in RATES {
            let ap = Coeffs::allpass(fs, 700.0, FRAC_1_SQRT_2);
            for f in [10.0, 700.0, 5000.0, 0.45 * fs] {
                assert!(ap.magnitude_db(f, fs).abs() < 1e-9);
            }
            // -180 degrees at f0.
            assert!((ap.response(700.0, fs).arg().abs() - PI).abs() < 1e-9);
            assert_eq!(Coeffs::identity().response(1234.0, fs).re, 1.0);
        }
    }

    #[test]
    fn pole_radius_and_ring_time() {
        let fs = 48000.0;
        // A first-order section's pole is at -a1.
        let c = Coeffs::lowpass1(fs, 1000.0);
        assert!((c.pole_radius() - c.a1.abs()).abs() < 1e-15);
        // 1000 Hz, Q 0.7071 at 48 kHz: r = sqrt(a2) ~ 0.9116, 120 dB in ~150 frames.
        let c = Coeffs::lowpass(fs, 1000.0, FRAC_1_SQRT_2);
        assert!(c.pole_radius() < 1.0);
        let n = c.ring_frames();
        assert!((100..250).contains(&n), "{n}");
        assert_eq!(Coeffs::identity().ring_frames(), 2);
        // Every validated corner gives a stable section, up to just below Nyquist.
        for f0 in [1.0, 20.0, 20000.0, 22049.0] {
            for c in [
                Coeffs::lowpass(44100.0, f0, 20.0),
                Coeffs::highpass(44100.0, f0, 0.1),
                Coeffs::peak(44100.0, f0, 40.0, 30.0),
                Coeffs::high_shelf(44100.0, f0, -30.0, ShelfShape::Slope(0.1)),
                Coeffs::lowpass1(44100.0, f0),
            ] {
                assert!(c.pole_radius() < 1.0, "{f0} Hz: {c:?}");
            }
        }
    }

    /// Cascades filtered as a group ([`Cascade::process_group`]) compute exactly what each
    /// computes alone: same-length cascades side by side (each with its own coefficients, so a
    /// lane that took another's would differ), a cascade at another point of its flush period,
    /// one too long to group, and a signal that stops so states decay and are flushed.
    #[test]
    fn groups_match_cascades_alone() {
        let fs = 48000.0;
        let eq = |f: f64, g: f64| {
            vec![
                Coeffs::highpass(fs, f, 0.7),
                Coeffs::peak(fs, 10.0 * f, 1.4, g),
                Coeffs::peak(fs, 60.0 * f, 2.0, -g),
                Coeffs::high_shelf(fs, 150.0 * f, g / 2.0, ShelfShape::Q(0.7)),
            ]
        };
        let mut long = butterworth_highpass(fs, 40.0, 8);
        long.extend(butterworth_lowpass(fs, 15000.0, 2));
        let sets = [
            eq(50.0, 3.0),
            eq(70.0, -4.0),
            eq(40.0, 2.0)[..3].to_vec(),
            eq(90.0, 5.0),
            long,
            eq(30.0, -2.0),
            eq(60.0, 1.0)[..2].to_vec(),
            eq(80.0, -1.0)[..2].to_vec(),
        ];
        let n = 12_000;
        let signal = |k: usize| -> [Vec<f32>; 2] {
            let mut x = [
                crate::testkit::white(n, 10 + k as u64, 0.5),
                crate::testkit::white(n, 20 + k as u64, 0.5),
            ];
            // The last track stops early: its states decay to the flush threshold.
            if k == sets.len() - 1 {
                x[0][2000..].fill(0.0);
                x[1][2000..].fill(0.0);
            }
            x
        };
        for block in [1usize, 7, 256, 1500] {
            let fresh = || -> Vec<Cascade> {
                sets.iter()
                    .enumerate()
                    .map(|(k, c)| {
                        let mut cas = Cascade::new(c.clone());
                        // One cascade starts at another point of its flush period.
                        if k == 3 {
                            let mut pre = signal(99);
                            let [l, r] = &mut pre;
                            cas.process(&mut [&mut l[..100], &mut r[..100]]);
                        }
                        cas
                    })
                    .collect()
            };
            let mut alone = fresh();
            let mut want: Vec<[Vec<f32>; 2]> = (0..sets.len()).map(signal).collect();
            for (cas, [l, r]) in alone.iter_mut().zip(&mut want) {
                for (a, b) in l.chunks_mut(block).zip(r.chunks_mut(block)) {
                    cas.process(&mut [a, b]);
                }
            }
            let mut grouped = fresh();
            let mut got: Vec<[Vec<f32>; 2]> = (0..sets.len()).map(signal).collect();
            for start in (0..n).step_by(block) {
                let end = (start + block).min(n);
                let mut cs: Vec<&mut Cascade> = grouped.iter_mut().collect();
                let mut bs: Vec<[&mut [f32]; 2]> = got
                    .iter_mut()
                    .map(|[l, r]| [&mut l[start..end], &mut r[start..end]])
                    .collect();
                Cascade::process_group(&mut cs, &mut bs);
            }
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g, w, "cascade {k}, block {block}");
            }
            for (k, (g, a)) in grouped.iter().zip(&alone).enumerate() {
                assert_eq!(g.states, a.states, "cascade {k} state, block {block}");
                assert_eq!(g.pos, a.pos, "cascade {k} position, block {block}");
            }
        }
    }

    /// The block cascade computes exactly what the per-sample cascade does (while nothing has
    /// decayed to the flush threshold), for any block size and cascade length, mono or stereo
    /// (stereo sections run as vector lanes where the CPU has AVX2).
    #[test]
    fn block_cascade_matches_the_sample_cascade() {
        let fs = 48000.0;
        let mut coeffs = butterworth_highpass(fs, 40.0, 8);
        coeffs.push(Coeffs::peak(fs, 1000.0, 2.0, 6.0));
        coeffs.extend(butterworth_lowpass(fs, 12000.0, 8));
        coeffs.extend(butterworth_lowpass(fs, 15000.0, 8));
        assert!(coeffs.len() > WAVE);
        for n in [1usize, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15] {
            let c = coeffs[..n.min(coeffs.len())].to_vec();
            let x = [
                crate::testkit::white(5000, 1, 0.5),
                crate::testkit::white(5000, 2, 0.5),
            ];
            let mut want = x.clone();
            let mut st = vec![State::default(); 2 * c.len()];
            for (ch, s) in want.iter_mut().zip(st.chunks_exact_mut(c.len())) {
                for v in ch.iter_mut() {
                    *v = to_f32(State::process_cascade(s, &c, f64::from(*v)));
                }
            }
            for block in [1usize, 7, 256, 4096] {
                let mut cas = Cascade::new(c.clone());
                let mut got = x.clone();
                let [l, r] = &mut got;
                for (a, b) in l.chunks_mut(block).zip(r.chunks_mut(block)) {
                    cas.process(&mut [a, b]);
                }
                assert_eq!(got, want, "{n} sections, block {block}");
                let mut mono = Cascade::new(c.clone());
                let mut m = x[0].clone();
                for a in m.chunks_mut(block) {
                    mono.process(&mut [a]);
                }
                assert_eq!(m, want[0], "{n} sections, mono, block {block}");
            }
        }
    }
}
