//! True-peak measurement: the largest magnitude of the band-limited waveform the samples
//! describe, between as well as at the samples.
//!
//! ITU-R BS.1770-4 Annex 2 specifies 4x oversampling with a short filter; such meters under-read
//! content close to Nyquist (hi-hats, dither, bright masters) and, depending on their filter,
//! over-read mid-high frequencies (ffmpeg's `ebur128` reads a 15 kHz sine 0.8 dB hot). For a
//! ceiling that holds on any meter and any DAC, mixdown reconstructs the waveform exactly: each
//! block is interpolated 8x in the frequency domain (zero-padding its spectrum, i.e. ideal sinc
//! interpolation), with overlapping margins so the block edges do not ring into the result, and
//! every local maximum of the 8x sequence is refined with a parabola, which closes the last
//! 1 - cos(pi/16) (up to 0.17 dB) that eight points per sample can miss.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::fir::bessel_i0;
use super::simd;

/// Oversampling factor.
pub const FACTOR: usize = 8;
/// Samples per FFT block, margins included.
const BLOCK: usize = 16384;
/// Samples on each side of a block that are interpolated but not reported (edge ringing of
/// the periodic block decays as 1/distance: at 1024 samples it is below 0.001 dB).
pub const MARGIN: usize = 1024;
/// Frames each FFT block reports.
pub const CORE: usize = BLOCK - 2 * MARGIN;

/// FFT plans, made once per process and shared by every thread (plans are immutable).
struct Plans {
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

fn plans() -> &'static Plans {
    static PLANS: std::sync::OnceLock<Plans> = std::sync::OnceLock::new();
    PLANS.get_or_init(|| {
        let mut p = RealFftPlanner::<f32>::new();
        Plans {
            forward: p.plan_fft_forward(BLOCK),
            inverse: p.plan_fft_inverse(BLOCK * FACTOR),
        }
    })
}

/// Working buffers of one block (one set per thread, reused across its blocks).
struct Scratch {
    seg: Vec<f32>,
    spec: Vec<realfft::num_complex::Complex<f32>>,
    up: Vec<realfft::num_complex::Complex<f32>>,
    y: Vec<f32>,
    fwd_scratch: Vec<realfft::num_complex::Complex<f32>>,
    inv_scratch: Vec<realfft::num_complex::Complex<f32>>,
}

impl Scratch {
    fn new() -> Self {
        let p = plans();
        Scratch {
            seg: p.forward.make_input_vec(),
            spec: p.forward.make_output_vec(),
            up: p.inverse.make_input_vec(),
            y: p.inverse.make_output_vec(),
            fwd_scratch: p.forward.make_scratch_vec(),
            inv_scratch: p.inverse.make_scratch_vec(),
        }
    }
}

/// Magnitude at the vertex of the parabola through `(-1, a)`, `(0, b)`, `(1, c)`, where `b` is a
/// local maximum of the magnitude; `|b|` when the three do not bend like a peak.
#[inline]
#[cfg(test)]
fn parabolic_peak(a: f64, b: f64, c: f64) -> f64 {
    let (a, b, c) = if b < 0.0 { (-a, -b, -c) } else { (a, b, c) };
    let curve = 2.0 * b - a - c;
    if curve <= 0.0 {
        return b;
    }
    // Vertex value b + (a - c)^2 / (8 (2b - a - c)); near a true peak the lift is tiny.
    b + ((a - c) * (a - c) / (8.0 * curve)).min(0.05 * b)
}

/// What the point `b` (between its neighbours `a` and `c` of the oversampled sequence) adds
/// to the envelope: `|b|`, or where `|b|` is a local maximum of the magnitude, the vertex of
/// [`parabolic_peak`] (which is at least `|b|`). The same arithmetic as `parabolic_peak`
/// written with selects instead of branches, so a loop over points vectorises; the values are
/// identical.
#[inline(always)]
fn refined(a: f32, b: f32, c: f32) -> f32 {
    let (aa, ba, ca) = (a.abs(), b.abs(), c.abs());
    let flip = if b < 0.0 { -1.0 } else { 1.0 };
    let (a, b, c) = (
        f64::from(a) * flip,
        f64::from(b) * flip,
        f64::from(c) * flip,
    );
    let curve = 2.0 * b - a - c;
    let lifted = b + ((a - c) * (a - c) / (8.0 * curve)).min(0.05 * b);
    let vertex = if curve <= 0.0 { b } else { lifted } as f32;
    if ba >= aa && ba >= ca {
        ba.max(vertex)
    } else {
        ba
    }
}

/// `out[j] = max(out[j], the refined points of frame j)` for a sequence `y` oversampled `P`
/// times whose frame `j` has the points `y[first + j * P .. first + (j + 1) * P]` (the first
/// at the frame itself); `y` must hold one point more on each side. The plain maximum first
/// (it vectorises), then the local maxima refined (rare at 8 points per sample): the same
/// values as [`refined`] point by point, without its division where it cannot matter.
///
/// With a `floor` (a value the largest reading is known to reach), frames whose plain maximum
/// cannot be lifted above the floor or the block's own plain maximum are not refined: a
/// parabola lifts a point by at most 5 %, so their values may then be low but the block's
/// maximum is unchanged.
#[inline(always)]
fn max_refined_interleaved<const P: usize>(
    y: &[f32],
    first: usize,
    out: &mut [f32],
    floor: Option<f32>,
) {
    for (j, o) in out.iter_mut().enumerate() {
        let base = first + j * P;
        let w: &[f32; P] = y[base..base + P].try_into().expect("P points");
        *o = w.iter().fold(*o, |m, v| m.max(v.abs()));
    }
    // (1.0501: a hair over the 5 % so that f32 rounding cannot tip a skipped frame over.)
    let skip_below = floor.map(|f| out.iter().fold(f, |m, &v| m.max(v)) / 1.0501);
    for (j, o) in out.iter_mut().enumerate() {
        if skip_below.is_some_and(|s| *o <= s) {
            continue;
        }
        let base = first + j * P;
        // The points of this interval and one on each side.
        for k in 0..P {
            let (a, b, c) = (y[base + k - 1], y[base + k], y[base + k + 1]);
            if (b.abs() >= a.abs()) & (b.abs() >= c.abs()) {
                *o = o.max(refined(a, b, c));
            }
        }
    }
}

/// `out[j] = max(out[j], the refined points of frame j)` for a sequence oversampled `P` times
/// held phase by phase: `rows[p * len + 1 + j]` is the point `p / P` after frame `j` (for
/// `j = -1 ..= n`, so `len = n + 2`). The plain maxima vectorised over frames, one phase at a
/// time, then the local maxima refined.
#[inline(always)]
fn max_refined_phases<const P: usize>(rows: &[f32], out: &mut [f32]) {
    let n = out.len();
    let len = n + 2;
    // The k-th point of frame j's sequence (k = 0 the last point of frame j - 1, k = P + 1
    // the first of frame j + 1), as a slice over j.
    let seq = |k: usize| -> &[f32] {
        if k == 0 {
            &rows[(P - 1) * len..][..n]
        } else if k <= P {
            &rows[(k - 1) * len + 1..][..n]
        } else {
            &rows[2..][..n]
        }
    };
    for k in 1..=P {
        for (o, v) in out.iter_mut().zip(seq(k)) {
            *o = o.max(v.abs());
        }
    }
    for k in 1..=P {
        let (a, b, c) = (seq(k - 1), seq(k), seq(k + 1));
        // Eight frames at a time: which hold a local maximum at this point, first (a vector
        // test where the CPU has AVX), then only those refined.
        let mut j = 0;
        while j + 8 <= n {
            let mask = local_maxima_8(&a[j..j + 8], &b[j..j + 8], &c[j..j + 8]);
            let mut m = mask;
            while m != 0 {
                let i = j + m.trailing_zeros() as usize;
                m &= m - 1;
                out[i] = out[i].max(refined(a[i], b[i], c[i]));
            }
            j += 8;
        }
        for i in j..n {
            let (a, b, c) = (a[i], b[i], c[i]);
            if (b.abs() >= a.abs()) & (b.abs() >= c.abs()) {
                out[i] = out[i].max(refined(a, b, c));
            }
        }
    }
}

/// Bit `i` set where `|b[i]|` is at least `|a[i]|` and `|c[i]|` (a local maximum of the
/// magnitude), for eight points.
#[inline(always)]
fn local_maxima_8(a: &[f32], b: &[f32], c: &[f32]) -> u32 {
    let (a, b, c): (&[f32; 8], &[f32; 8], &[f32; 8]) = (
        a.try_into().expect("8 points"),
        b.try_into().expect("8 points"),
        c.try_into().expect("8 points"),
    );
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SSE2, which every x86-64 CPU has: two halves of four, compared and their signs
        // gathered into bits (the compiler does not find this for the plain loop).
        // SAFETY: each load reads four of the eight points the arrays hold.
        unsafe {
            let magnitude = _mm_castsi128_ps(_mm_set1_epi32(0x7FFF_FFFF));
            let half = |o: usize| {
                let at = |x: &[f32; 8]| _mm_and_ps(_mm_loadu_ps(x.as_ptr().add(o)), magnitude);
                let (a, b, c) = (at(a), at(b), at(c));
                _mm_movemask_ps(_mm_and_ps(_mm_cmpge_ps(b, a), _mm_cmpge_ps(b, c))) as u32
            };
            half(0) | (half(4) << 4)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut mask = 0u32;
        for i in 0..8 {
            let (a, b, c) = (a[i].abs(), b[i].abs(), c[i].abs());
            mask |= u32::from((b >= a) & (b >= c)) << i;
        }
        mask
    }
}

/// Envelope of one block: `out[j]` for input samples `start .. start + out.len()`.
///
/// With a `floor` (a value the largest reading is known to reach), only the block's maximum
/// is exact: frames that cannot reach it are not refined (see [`max_refined_interleaved`]).
///
/// The FFT buffers are the calling thread's own [`Scratch`], made on its first block and
/// kept: a scratch set is over a megabyte, and making one per block of work costs more in
/// zeroed memory than its FFTs save by running in parallel.
pub fn block_envelope(x: &[f32], start: usize, out: &mut [f32], floor: Option<f32>) {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
    }
    SCRATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        block_reading(x, start, out, slot.get_or_insert_with(Scratch::new), floor);
    });
}

/// [`block_envelope`] with the buffers `sc`.
fn block_reading(x: &[f32], start: usize, out: &mut [f32], sc: &mut Scratch, floor: Option<f32>) {
    let plans = plans();
    let n = x.len();
    for (k, s) in sc.seg.iter_mut().enumerate() {
        let i = start as i64 - MARGIN as i64 + k as i64;
        *s = if i >= 0 && (i as usize) < n {
            x[i as usize]
        } else {
            0.0
        };
    }
    // Only fails on wrong buffer lengths, which are fixed here.
    if plans
        .forward
        .process_with_scratch(&mut sc.seg, &mut sc.spec, &mut sc.fwd_scratch)
        .is_err()
    {
        return;
    }
    let half = BLOCK / 2;
    let scale = FACTOR as f32 / (BLOCK * FACTOR) as f32;
    for (u, s) in sc.up[..half].iter_mut().zip(&sc.spec[..half]) {
        *u = s * scale;
    }
    // The Nyquist bin of the short block is shared by both halves of the long spectrum.
    sc.up[half] = sc.spec[half] * (0.5 * scale);
    sc.up[half + 1..].fill(realfft::num_complex::Complex::new(0.0, 0.0));
    let last = sc.up.len() - 1;
    sc.up[0].im = 0.0;
    sc.up[last].im = 0.0;
    if plans
        .inverse
        .process_with_scratch(&mut sc.up, &mut sc.y, &mut sc.inv_scratch)
        .is_err()
    {
        return;
    }
    for (o, &v) in out.iter_mut().zip(&x[start..]) {
        *o = v.abs();
    }
    #[cfg(target_arch = "x86_64")]
    if simd::level() >= simd::Level::Avx2 {
        // SAFETY: the CPU reported AVX2 (and so AVX); `y` holds a point before the first
        // frame's and after the last frame's (MARGIN on each side).
        unsafe { max_refined_8_avx(&sc.y, MARGIN * FACTOR, out, floor) };
        return;
    }
    max_refined_interleaved::<FACTOR>(&sc.y, MARGIN * FACTOR, out, floor);
}

/// [`max_refined_interleaved`] for 8 points per frame, the same values: a frame's eight
/// points are one 256-bit vector, so its plain maximum and the test for local maxima of the
/// magnitude take a few vector operations instead of a loop of scalar compares and branches;
/// only the local maxima found (rare at 8 points per sample) are refined, one by one, as there.
///
/// # Safety
/// The CPU must have AVX; `y` must hold the points `first - 1 .. first + 8 * out.len() + 1`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn max_refined_8_avx(y: &[f32], first: usize, out: &mut [f32], floor: Option<f32>) {
    use std::arch::x86_64::*;
    const P: usize = 8;
    assert!(first >= 1 && y.len() > first + P * out.len());
    let magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF));
    // The 8 points from y[i] on, as magnitudes.
    let abs_at = |i: usize| {
        // SAFETY: the caller's bounds (asserted above) cover i - 1 ..= i + 8 for every frame.
        unsafe { _mm256_and_ps(_mm256_loadu_ps(y.as_ptr().add(i)), magnitude) }
    };
    for (j, o) in out.iter_mut().enumerate() {
        let v = abs_at(first + j * P);
        // The largest of the eight (max is exact: any order gives the same value).
        let h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        let h = _mm_max_ss(h, _mm_shuffle_ps::<1>(h, h));
        *o = o.max(_mm_cvtss_f32(h));
    }
    let skip_below = floor.map(|f| out.iter().fold(f, |m, &v| m.max(v)) / 1.0501);
    for (j, o) in out.iter_mut().enumerate() {
        if skip_below.is_some_and(|s| *o <= s) {
            continue;
        }
        let base = first + j * P;
        let (a, b, c) = (abs_at(base - 1), abs_at(base), abs_at(base + 1));
        let peaks = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GE_OQ>(b, a),
            _mm256_cmp_ps::<_CMP_GE_OQ>(b, c),
        );
        let mut mask = _mm256_movemask_ps(peaks) as u32;
        while mask != 0 {
            let k = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            *o = o.max(refined(y[base + k - 1], y[base + k], y[base + k + 1]));
        }
    }
}

/// Per-sample true-peak envelope of `x`: `env[n]` is the largest magnitude of the band-limited
/// reconstruction over the interval from sample `n` to the next (and at least `|x[n]|`).
/// Blocks are processed in parallel on the current rayon pool; the result does not depend on
/// the thread count.
pub fn envelope(x: &[f32]) -> Vec<f32> {
    let mut env = vec![0.0f32; x.len()];
    env.par_chunks_mut(CORE)
        .enumerate()
        .for_each(|(b, chunk)| block_envelope(x, b * CORE, chunk, None));
    env
}

/// A polyphase interpolator as a meter runs it: phase `p` estimates the waveform at time
/// `i + position` as `sum_k taps[k] * x[i + offset - k]` (taps newest first, summed in that
/// order, in f32).
#[derive(Debug, Clone)]
struct Phase {
    offset: isize,
    taps: Vec<f32>,
}

/// Frames an FIR output block holds in registers.
const LANES: usize = 32;

/// `y[j] = sum over k of taps[k] * x[j + at(k)]` for `j < y.len()`, each sum formed in f32
/// from zero in the order of `taps`, exactly as a tap-by-tap loop forms it. `LANES` outputs
/// at a time stay in registers while the taps pass, so the values are the same and memory is
/// touched once per output rather than once per tap.
#[inline(always)]
fn fir_into(taps: &[f32], at: impl Fn(usize) -> usize, x: &[f32], y: &mut [f32]) {
    let n = y.len();
    let mut j = 0;
    while j + LANES <= n {
        let mut acc = [0.0f32; LANES];
        for (k, &w) in taps.iter().enumerate() {
            let from = j + at(k);
            let xs: &[f32; LANES] = x[from..from + LANES]
                .try_into()
                .expect("slice of LANES frames");
            for (a, &v) in acc.iter_mut().zip(xs) {
                *a += w * v;
            }
        }
        y[j..j + LANES].copy_from_slice(&acc);
        j += LANES;
    }
    for (jj, o) in y.iter_mut().enumerate().skip(j) {
        let mut a = 0.0f32;
        for (k, &w) in taps.iter().enumerate() {
            a += w * x[jj + at(k)];
        }
        *o = a;
    }
}

/// The interpolators of the true-peak meters people check masters with, each exactly as its
/// meter computes it. A master's ceiling is held under every one of them and under the exact
/// reconstruction of [`envelope`].
#[derive(Debug, Clone)]
pub struct Meters {
    phases: Vec<Phase>,
    /// Frames of `x` the phases read before and after the frame they interpolate.
    before: usize,
    after: usize,
}

/// Oversampling a BS.1770-4 meter uses at `rate`: 4x below 96 kHz, 2x below 192 kHz, none above.
fn standard_factor(rate: u32) -> usize {
    if rate < 96_000 {
        4
    } else if rate < 192_000 {
        2
    } else {
        1
    }
}

/// ITU-R BS.1770-4 Annex 2, the example 48-tap interpolator for 4x, as four 12-tap phases
/// (phase 0 and 3, 1 and 2 are mirror images; they estimate the points 1/8, 3/8, 5/8 and 7/8
/// of a sample period after the sample six taps back).
const ANNEX2: [[f32; 12]; 4] = [
    [
        0.001_708_984_4,
        0.010_986_328,
        -0.019_653_32,
        0.033_203_125,
        -0.059_448_242,
        0.137_329_1,
        0.972_167_97,
        -0.102_294_92,
        0.047_607_422,
        -0.026_611_328,
        0.014_892_578,
        -0.008_300_781,
    ],
    [
        -0.029_174_805,
        0.029_296_875,
        -0.051_757_813,
        0.089_111_33,
        -0.166_503_9,
        0.465_087_9,
        0.779_785_16,
        -0.200_317_38,
        0.101_562_5,
        -0.058_227_54,
        0.033_081_055,
        -0.018_920_898,
    ],
    [
        -0.018_920_898,
        0.033_081_055,
        -0.058_227_54,
        0.101_562_5,
        -0.200_317_38,
        0.779_785_16,
        0.465_087_9,
        -0.166_503_9,
        0.089_111_33,
        -0.051_757_813,
        0.029_296_875,
        -0.029_174_805,
    ],
    [
        -0.008_300_781,
        0.014_892_578,
        -0.026_611_328,
        0.047_607_422,
        -0.102_294_92,
        0.972_167_97,
        0.137_329_1,
        -0.059_448_242,
        0.033_203_125,
        -0.019_653_32,
        0.010_986_328,
        0.001_708_984_4,
    ],
];

impl Meters {
    /// The meters at `rate` Hz:
    /// - libebur128's 48-tap Hann-windowed sinc (4x below 96 kHz, 2x below 192 kHz), what
    ///   ebur128, ffmpeg-based tools and most loudness libraries report;
    /// - the example interpolator of ITU-R BS.1770-4 Annex 2 (4x; every other phase at 2x;
    ///   none from 192 kHz);
    /// - a Kaiser-windowed sinc 4x interpolator as scientific Python's `resample_poly(x, 4, 1)`
    ///   builds it (81 taps, cutoff at the input's Nyquist frequency, Kaiser beta 5): a common
    ///   check in scripts and notebooks.
    pub fn new(rate: u32) -> Self {
        let mut phases = libebur128_phases(rate);
        phases.extend(annex2_phases(rate));
        phases.extend(kaiser_phases(rate));
        Meters::from_phases(phases)
    }

    fn from_phases(phases: Vec<Phase>) -> Self {
        let after = phases.iter().map(|p| p.offset.max(0)).max().unwrap_or(0) as usize;
        let before = phases
            .iter()
            .map(|p| (p.taps.len() as isize - 1 - p.offset).max(0))
            .max()
            .unwrap_or(0) as usize;
        Meters {
            phases,
            before,
            after,
        }
    }

    /// Frames each side of a frame that the meters read.
    pub fn reach(&self) -> usize {
        self.before.max(self.after)
    }

    /// Largest sum of tap magnitudes of any phase: no interpolated value exceeds this times
    /// the largest sample magnitude the phase reads (the triangle inequality).
    pub fn gain_bound(&self) -> f32 {
        largest_tap_sum(self.phases.iter().map(|p| &p.taps[..]))
    }

    /// `out[j] = max(out[j], |x[lead + j]|, every meter's interpolated values from frame
    /// lead + j to the next)`. `window` must hold [`Meters::reach`] frames before `lead` and
    /// after `lead + out.len()` (zeros where the signal has none). `y` is scratch.
    #[inline(always)]
    fn interpolate_max(&self, window: &[f32], lead: usize, out: &mut [f32], y: &mut Vec<f32>) {
        let n = out.len();
        for (o, x) in out.iter_mut().zip(&window[lead..lead + n]) {
            *o = o.max(x.abs());
        }
        y.resize(n, 0.0);
        for ph in &self.phases {
            // Frame lead + j reads window[lead + j + offset - k] for tap k.
            let last = ph.taps.len() - 1;
            let first = (lead as isize + ph.offset - last as isize) as usize;
            fir_into(&ph.taps, |k| last - k, &window[first..], y);
            for (o, yy) in out.iter_mut().zip(y.iter()) {
                *o = o.max(yy.abs());
            }
        }
    }
}

/// libebur128's interpolator: `h[j] = hann(j) * sinc((j - 24) / factor)`, `j = 0..48`; phase `p`
/// (time `i + p/factor`) weights `x[i + 6 - k]` by `h[k * factor + p]`.
fn libebur128_phases(rate: u32) -> Vec<Phase> {
    const TAPS: usize = 48;
    let factor = standard_factor(rate);
    if factor == 1 {
        return Vec::new();
    }
    let h: Vec<f32> = (0..TAPS)
        .map(|j| {
            let j = j as f64;
            let w = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * j / TAPS as f64).cos());
            let m = j - TAPS as f64 / 2.0;
            let arg = m * std::f64::consts::PI / factor as f64;
            (if m.abs() > 1e-9 {
                w * arg.sin() / arg
            } else {
                w
            }) as f32
        })
        .collect();
    let delay = (TAPS / 2 / factor) as isize;
    (0..factor)
        .map(|p| Phase {
            offset: delay,
            taps: (0..TAPS / factor).map(|k| h[k * factor + p]).collect(),
        })
        .collect()
}

/// The true peak `ebur128` reports (`Mode::TRUE_PEAK`, libebur128's meter), for one channel fed
/// in blocks, bit for bit: the largest magnitude of its interpolator's outputs, each formed in
/// f32 from zero tap by tap as it forms them, over the outputs it makes (one set per sample
/// fed, from silence before the first; none after the last). Its FIR runs a block at a time on
/// the widest vector unit instead of a sample at a time. From 192 kHz up, where ebur128 does not
/// oversample, the largest sample.
#[derive(Debug, Clone)]
pub struct Ebur128Peak {
    /// Taps per phase, newest sample first.
    phases: Vec<Vec<f32>>,
    /// The last `taps - 1` samples fed (zeros before the first), then the block.
    window: Vec<f32>,
    y: Vec<f32>,
    peak: f32,
}

impl Ebur128Peak {
    pub fn new(rate: u32) -> Self {
        let phases: Vec<Vec<f32>> = libebur128_phases(rate)
            .into_iter()
            .map(|p| p.taps)
            .collect();
        let history = phases.first().map_or(0, |t| t.len() - 1);
        Ebur128Peak {
            phases,
            window: vec![0.0; history],
            y: Vec::new(),
            peak: 0.0,
        }
    }

    /// Feed the next samples.
    pub fn add(&mut self, x: &[f32]) {
        let Some(history) = self.phases.first().map(|t| t.len() - 1) else {
            // No oversampling from 192 kHz up: ebur128 reads the samples.
            self.peak = x.iter().fold(self.peak, |m, v| m.max(v.abs()));
            return;
        };
        self.window.extend_from_slice(x);
        let n = x.len();
        self.y.resize(n, 0.0);
        let (phases, window, y) = (&self.phases, &self.window, &mut self.y);
        self.peak = simd::wide(
            #[inline(always)]
            || {
                let mut peak = self.peak;
                for taps in phases {
                    // Output j (after sample j is fed) weights sample j - k by tap k.
                    fir_into(taps, |k| history - k, window, y);
                    peak = y.iter().fold(peak, |m, v| m.max(v.abs()));
                }
                peak
            },
        );
        self.window.drain(..n);
    }

    /// Largest reading so far (0 with none).
    pub fn peak(&self) -> f32 {
        self.peak
    }
}

/// BS.1770-4 Annex 2: phase `p` weights `x[i + 6 - k]` by its `k`-th tap; at 2x every other
/// phase.
fn annex2_phases(rate: u32) -> Vec<Phase> {
    let factor = standard_factor(rate);
    if factor == 1 {
        return Vec::new();
    }
    (0..4)
        .step_by(4 / factor)
        .map(|p| Phase {
            offset: 6,
            taps: ANNEX2[p].to_vec(),
        })
        .collect()
}

/// `resample_poly(x, 4, 1)`: `h = 4 * firwin(81, 1/4, window=("kaiser", 5))`, output
/// `4i + p = sum_j h[4(i - j) + p + 40] x[j]`. firwin scales its taps to unit gain at DC (their
/// sum is 1), so the 4x filter's taps sum to 4. Used below 96 kHz.
fn kaiser_phases(rate: u32) -> Vec<Phase> {
    if standard_factor(rate) != 4 {
        return Vec::new();
    }
    const KN: usize = 81;
    let beta = 5.0;
    let centre = (KN - 1) as f64 / 2.0;
    let raw: Vec<f64> = (0..KN)
        .map(|n| {
            let m = n as f64 - centre;
            let r = m / centre;
            let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta);
            let sinc = if m == 0.0 {
                1.0
            } else {
                let a = std::f64::consts::PI * m / 4.0;
                a.sin() / a
            };
            w * sinc
        })
        .collect();
    let sum: f64 = raw.iter().sum();
    let h: Vec<f64> = raw.iter().map(|v| 4.0 * v / sum).collect();
    (0..4isize)
        .map(|p| {
            // Taps of phase p: x[i - d] for 0 <= 4d + p + 40 < 81, newest (most negative d)
            // first.
            let ds: Vec<isize> = (-20..=20)
                .filter(|d| (0..KN as isize).contains(&(4 * d + p + 40)))
                .collect();
            Phase {
                offset: -ds[0],
                taps: ds
                    .iter()
                    .map(|&d| h[(4 * d + p + 40) as usize] as f32)
                    .collect(),
            }
        })
        .collect()
}

/// The largest sum of tap magnitudes over `phases`.
fn largest_tap_sum<'a>(phases: impl Iterator<Item = &'a [f32]>) -> f32 {
    phases
        .map(|taps| taps.iter().map(|t| t.abs()).sum::<f32>())
        .fold(0.0, f32::max)
}

/// ffmpeg's `ebur128` filter measures true peak by resampling to 192 kHz with libswresample's
/// default filter: a Kaiser-windowed sinc (beta 9) of 33 taps (`filter_size` 32 over a cutoff
/// of 0.97 of the input's Nyquist frequency), each phase normalised to unit DC gain. Its
/// output points fall at fractions of a sample that depend on the rate ratio; [`SwrMeter`]
/// reads the same filter's reconstruction at [`SWR_PHASES`] points per sample and refines each
/// local maximum with a parabola, which covers any point it would land on.
#[derive(Debug, Clone)]
pub struct SwrMeter {
    /// `taps[p][i]` weights `x[n - SWR_CENTRE + i]` for the point `n + p / SWR_PHASES`.
    taps: Vec<Vec<f32>>,
}

/// Points per sample at which [`SwrMeter`] evaluates the reconstruction.
pub const SWR_PHASES: usize = 8;
const SWR_TAPS: usize = 33;
const SWR_CENTRE: usize = 16;

impl SwrMeter {
    /// ffmpeg's meter at `rate` Hz; `None` from 192 kHz (it does not resample there).
    pub fn new(rate: u32) -> Option<Self> {
        if rate >= 192_000 {
            return None;
        }
        let factor = 0.97;
        let beta = 9.0;
        let taps = (0..SWR_PHASES)
            .map(|p| {
                let phase = p as f64 / SWR_PHASES as f64;
                let raw: Vec<f64> = (0..SWR_TAPS)
                    .map(|i| {
                        let x = std::f64::consts::PI
                            * ((i as f64 - SWR_CENTRE as f64) - phase)
                            * factor;
                        let sinc = if x == 0.0 { 1.0 } else { x.sin() / x };
                        let w = 2.0 * x / (factor * SWR_TAPS as f64 * std::f64::consts::PI);
                        sinc * bessel_i0(beta * (1.0 - w * w).max(0.0).sqrt())
                    })
                    .collect();
                let norm: f64 = raw.iter().sum();
                raw.iter().map(|v| (v / norm) as f32).collect()
            })
            .collect();
        Some(SwrMeter { taps })
    }

    /// Frames each side of a frame that the meter reads (one more frame each side for the
    /// parabolas at the edges).
    pub fn reach(&self) -> usize {
        SWR_TAPS - SWR_CENTRE + 1
    }

    /// Bound on the meter's reading over the largest sample magnitude within
    /// [`SwrMeter::reach`]: the largest sum of tap magnitudes of any phase, times 1.05 for the
    /// parabola's lift (at most 5 % of the point it refines).
    pub fn gain_bound(&self) -> f32 {
        largest_tap_sum(self.taps.iter().map(|t| &t[..])) * 1.05
    }

    /// `out[j] = max(out[j], the reconstruction's largest magnitude from frame lead + j to the
    /// next)`; `window` must hold [`SwrMeter::reach`] frames before `lead` and after
    /// `lead + out.len()`. `y` is scratch.
    #[inline(always)]
    fn interpolate_max(&self, window: &[f32], lead: usize, out: &mut [f32], y: &mut Vec<f32>) {
        let n = out.len();
        // y[p * (n + 2) + j + 1]: the point frame lead + j + p/P, for j = -1 ..= n.
        let len = n + 2;
        y.clear();
        y.resize(SWR_PHASES * len, 0.0);
        for (taps, row) in self.taps.iter().zip(y.chunks_exact_mut(len)) {
            // Point lead + j' (j' = j - 1 = -1 ..= n) reads x[lead + j' - CENTRE + i].
            fir_into(taps, |i| i, &window[lead - 1 - SWR_CENTRE..], row);
        }
        max_refined_phases::<SWR_PHASES>(y, out);
    }
}

/// A standard meter's interpolator, run on the widest vector unit the CPU has ([`simd`]).
pub trait Interpolator {
    /// The meter's reading folded into `out` (see each meter's `interpolate_max`); always
    /// inlined, so [`Interpolator::max_into_at`] compiles it for each vector unit.
    fn interpolate_into(&self, window: &[f32], lead: usize, out: &mut [f32], y: &mut Vec<f32>);

    /// [`Interpolator::interpolate_into`] on the widest vector unit [`simd::level`] allows.
    fn max_into(&self, window: &[f32], lead: usize, out: &mut [f32], y: &mut Vec<f32>) {
        self.max_into_at(simd::level(), window, lead, out, y);
    }

    /// [`Interpolator::interpolate_into`] compiled for the vector unit `at` (the same values
    /// on any).
    fn max_into_at(
        &self,
        at: simd::Level,
        window: &[f32],
        lead: usize,
        out: &mut [f32],
        y: &mut Vec<f32>,
    ) {
        // A span at a time, so the interpolated points stay in the core's own caches between
        // being made and being read (each frame's reading depends only on the window).
        simd::wide_at(
            at,
            #[inline(always)]
            || {
                for (k, part) in out.chunks_mut(METER_SPAN).enumerate() {
                    self.interpolate_into(window, lead + k * METER_SPAN, part, y);
                }
            },
        );
    }
}

/// Frames a standard meter interpolates at a time.
const METER_SPAN: usize = 2048;

impl Interpolator for Meters {
    #[inline(always)]
    fn interpolate_into(&self, window: &[f32], lead: usize, out: &mut [f32], y: &mut Vec<f32>) {
        self.interpolate_max(window, lead, out, y);
    }
}

impl Interpolator for SwrMeter {
    #[inline(always)]
    fn interpolate_into(&self, window: &[f32], lead: usize, out: &mut [f32], y: &mut Vec<f32>) {
        self.interpolate_max(window, lead, out, y);
    }
}

/// Per-sample envelope of `x` as the standard meters see it ([`Meters`] and [`SwrMeter`]): the
/// largest of their interpolated values between each frame and the next, and of the sample.
pub fn standard_envelope(x: &[f32], sample_rate: u32) -> Vec<f32> {
    let meters = Meters::new(sample_rate);
    let swr = SwrMeter::new(sample_rate);
    let r = meters.reach().max(swr.as_ref().map_or(0, SwrMeter::reach));
    let mut window = vec![0.0f32; r];
    window.extend_from_slice(x);
    window.resize(r + x.len() + r, 0.0);
    let mut out = vec![0.0f32; x.len()];
    let mut y = Vec::new();
    meters.max_into(&window, r, &mut out, &mut y);
    if let Some(swr) = swr {
        mirror_start(&mut window, r);
        swr.max_into(&window, r, &mut out, &mut y);
    }
    out
}

/// libswresample starts a stream by mirroring its first samples before it (`x[-n] = x[n]`),
/// where the other meters see silence; ffmpeg's true peak at the very start of a file is read
/// from that. `window[lead]` is the signal's first frame.
pub fn mirror_start(window: &mut [f32], lead: usize) {
    for n in 1..=lead {
        window[lead - n] = window.get(lead + n).copied().unwrap_or(0.0);
    }
}

/// Per-sample envelope that both the exact reconstruction and the standard meters stay under:
/// the larger of [`envelope`] and [`standard_envelope`].
pub fn ceiling_envelope(x: &[f32], sample_rate: u32) -> Vec<f32> {
    let (exact, standard) = rayon::join(|| envelope(x), || standard_envelope(x, sample_rate));
    exact
        .into_iter()
        .zip(standard)
        .map(|(a, b)| a.max(b))
        .collect()
}

/// Largest true peak (linear) of planar audio.
pub fn true_peak(planes: &[Vec<f32>]) -> f32 {
    planes
        .iter()
        .map(|p| envelope(p).into_iter().fold(0.0f32, f32::max))
        .fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standard-meter envelope reads what ebur128 reads (same filter), sample for sample
    /// in aggregate: the maxima agree within float rounding.
    #[test]
    fn standard_envelope_matches_ebur128() {
        use ebur128::{EbuR128, Mode};
        let mut noise = crate::testkit::Noise::new(5);
        let sig: Vec<f32> = (0..48000)
            .map(|i| {
                let w = 0.5 * noise.uniform();
                let beat = (i % 12000) as f32 / 12000.0;
                0.8 * w * (-beat * 8.0).exp()
            })
            .collect();
        for rate in [44100u32, 96000] {
            let mut e = EbuR128::new(1, rate, Mode::TRUE_PEAK).unwrap();
            e.add_frames_f32(&sig).unwrap();
            let reference = e.true_peak(0).unwrap() as f32;
            let meters = Meters::from_phases(libebur128_phases(rate));
            let r = meters.reach();
            let mut window = vec![0.0f32; r];
            window.extend_from_slice(&sig);
            window.resize(r + sig.len() + r, 0.0);
            let mut out = vec![0.0f32; sig.len()];
            meters.max_into(&window, r, &mut out, &mut Vec::new());
            let ours = out.into_iter().fold(0.0f32, f32::max);
            assert!(
                (ours - reference).abs() < 1e-4,
                "{rate}: {ours} vs {reference}"
            );
        }
    }

    /// The streamed libebur128 meter reads what ebur128 reads, to the bit, whatever the block
    /// cuts, at 4x, 2x and none (192 kHz).
    #[test]
    fn ebur128_peak_is_bit_identical() {
        use ebur128::{EbuR128, Mode};
        let mut noise = crate::testkit::Noise::new(11);
        let sig: Vec<f32> = (0..30_011)
            .map(|i| {
                let beat = (i % 7000) as f32 / 7000.0;
                0.9 * noise.uniform() * (-beat * 6.0).exp()
            })
            .collect();
        for rate in [44100u32, 48000, 96000, 192000] {
            let mut e = EbuR128::new(1, rate, Mode::TRUE_PEAK).unwrap();
            for piece in sig.chunks(4097) {
                e.add_frames_f32(piece).unwrap();
            }
            let want = e.true_peak(0).unwrap();
            for cut in [1usize, 777, 4096, 30_011] {
                let mut ours = Ebur128Peak::new(rate);
                for piece in sig.chunks(cut) {
                    ours.add(piece);
                }
                assert_eq!(f64::from(ours.peak()), want, "{rate} Hz in pieces of {cut}");
            }
        }
    }

    /// The gain bounds are the worst case, and reached: for each phase, the window whose
    /// samples have its taps' signs reads the sum of tap magnitudes (within rounding), never
    /// more than the bound.
    #[test]
    fn gain_bounds_are_reached_by_the_worst_window() {
        let a = 0.5f32;
        for rate in [44100u32, 96000] {
            let all = Meters::new(rate);
            let bound = all.gain_bound();
            let r = all.reach();
            let mut best = 0.0f32;
            for ph in &all.phases {
                let one = Meters::from_phases(vec![ph.clone()]);
                let lead = r + 1;
                let mut window = vec![0.0f32; 2 * r + 3];
                let last = ph.taps.len() as isize - 1;
                for (k, t) in ph.taps.iter().enumerate() {
                    // Tap k reads window[lead + offset - k].
                    let at = lead as isize + ph.offset - k as isize;
                    window[at as usize] = a * t.signum();
                    assert!(ph.offset - last <= r as isize);
                }
                let mut out = [0.0f32];
                one.max_into(&window, lead, &mut out, &mut Vec::new());
                let l1: f32 = ph.taps.iter().map(|t| t.abs()).sum();
                assert!(
                    out[0] >= l1 * a * 0.9999,
                    "{rate}: {} vs {}",
                    out[0],
                    l1 * a
                );
                assert!(out[0] <= bound * a * 1.0001);
                best = best.max(out[0]);
            }
            assert!(
                best >= bound * a * 0.9999,
                "{rate}: the bound is reached: {best}"
            );
        }
        let swr = SwrMeter::new(44100).unwrap();
        let lead = swr.reach() + 1;
        for taps in &swr.taps {
            let mut window = vec![0.0f32; 2 * lead + 2];
            for (i, t) in taps.iter().enumerate() {
                // Phase p at frame lead reads x[lead - CENTRE + i].
                window[lead - SWR_CENTRE + i] = a * t.signum();
            }
            let mut out = [0.0f32];
            swr.max_into(&window, lead, &mut out, &mut Vec::new());
            let l1: f32 = taps.iter().map(|t| t.abs()).sum();
            assert!(out[0] >= l1 * a * 0.9999, "swr: {} vs {}", out[0], l1 * a);
            assert!(out[0] <= swr.gain_bound() * a * 1.0001);
        }
    }

    fn sine(freq: f64, phase: f64, amp: f64, rate: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate + phase).sin()) as f32
            })
            .collect()
    }

    /// fs/4 sampled at 45 degrees: every sample is at 0.707 of the true peak.
    #[test]
    fn finds_the_peak_between_samples() {
        let x = sine(12000.0, std::f64::consts::FRAC_PI_4, 1.0, 48000.0, 40000);
        let sp = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((sp - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4);
        // Away from the abrupt start and end (whose ringing is real overshoot).
        let env = envelope(&x);
        let tp = env[2000..38000].iter().fold(0.0f32, |m, v| m.max(*v));
        assert!((20.0 * tp.log10()).abs() < 0.005, "{tp}");
    }

    /// Sines of known peak at many frequencies (up to 21 kHz at 44.1 kHz) and phases read within
    /// 0.01 dB below to 0.025 dB above their amplitude (BS.1770-4 allows +0.2/-0.4 dB for its 4x meters).
    #[test]
    fn reads_sines_within_a_fortieth_of_a_db() {
        for &rate in &[44100.0, 48000.0] {
            for &f in &[997.0, 5000.0, 11025.0, 15000.0, 19000.0, 20000.0, 21000.0] {
                for &ph in &[0.0, 0.3, 1.1] {
                    let x = sine(f, ph, 0.5, rate, 40000);
                    let env = envelope(&x);
                    let tp = env[2000..38000].iter().fold(0.0f32, |m, v| m.max(*v));
                    let err = 20.0 * (f64::from(tp) / 0.5).log10();
                    // The parabola can over-read a hair near Nyquist (never under-read: the safe
                    // side for a ceiling).
                    assert!(
                        (-0.01..0.025).contains(&err),
                        "{rate} Hz rate, {f} Hz, phase {ph}: {err} dB"
                    );
                }
            }
        }
    }

    #[test]
    fn envelope_is_aligned_and_block_edges_are_seamless() {
        // An impulse on each side of a block boundary lands on its own frame.
        for at in [500usize, CORE - 1, CORE, CORE + 1, 3 * CORE + 7] {
            let mut x = vec![0.0f32; 4 * CORE];
            x[at] = 1.0;
            let env = envelope(&x);
            let peak = env
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap();
            assert_eq!(peak, at);
            assert!((env[at] - 1.0).abs() < 1e-3, "{}", env[at]);
        }
        // A steady sine: two consecutive envelope values cover the 8x positions from frame i to
        // i + 15/8 (plus the parabola's reach), and must equal the analytic maximum of |sine|
        // there, on both sides of every block boundary.
        let (f, ph, rate) = (3000.0, 0.2, 48000.0);
        let x = sine(f, ph, 0.5, rate, 3 * CORE);
        let env = envelope(&x);
        let exact = |from: f64, to: f64| {
            (0..=600)
                .map(|k| {
                    let t = (from + (to - from) * k as f64 / 600.0) / rate;
                    (0.5 * (2.0 * std::f64::consts::PI * f * t + ph).sin()).abs()
                })
                .fold(0.0f64, f64::max)
        };
        let near_edge = |i: usize| i % CORE < 40 || i % CORE > CORE - 40 || i.is_multiple_of(997);
        for i in (1000..3 * CORE - 1000).filter(|&i| near_edge(i)) {
            let v = f64::from(env[i].max(env[i + 1]));
            let (lo, hi) = (
                exact(i as f64, i as f64 + 1.875),
                exact(i as f64 - 0.0625, i as f64 + 2.0),
            );
            assert!(
                v >= lo - 2e-4 && v <= hi + 2e-4,
                "frame {i}: {v} not in [{lo}, {hi}]"
            );
        }
    }

    /// The branch-free refinement computes what the branching reference does, for every kind
    /// of triple: peaks of either sign, flat or bending the wrong way, and ties.
    #[test]
    fn refined_equals_the_parabola_reference() {
        let reference = |a: f32, b: f32, c: f32| {
            if b.abs() >= a.abs() && b.abs() >= c.abs() {
                b.abs()
                    .max(parabolic_peak(f64::from(a), f64::from(b), f64::from(c)) as f32)
            } else {
                b.abs()
            }
        };
        let mut noise = crate::testkit::Noise::new(11);
        let mut triples: Vec<(f32, f32, f32)> = (0..200_000)
            .map(|_| (noise.uniform(), noise.uniform(), noise.uniform()))
            .collect();
        triples.extend([
            (0.5, 0.5, 0.5),
            (-0.5, -0.5, 0.5),
            (0.0, 0.0, 0.0),
            (0.2, -0.9, 0.3),
            (0.9, 0.9, -0.9),
            (-0.0, 0.0, -0.0),
        ]);
        for (a, b, c) in triples {
            assert_eq!(
                refined(a, b, c).to_bits(),
                reference(a, b, c).to_bits(),
                "({a}, {b}, {c})"
            );
        }
    }

    /// The AVX reading of 8x-oversampled frames gives the portable one's values bit for bit,
    /// with and without a floor: on noise (local maxima everywhere), on a smooth sine (few),
    /// and on plateaus and sign flips where neighbours tie.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx_frame_reading_matches_the_portable_one() {
        if simd::level() < simd::Level::Avx2 {
            return;
        }
        let frames = 3000;
        let len = FACTOR * frames + 2 * FACTOR;
        let mut noise = crate::testkit::Noise::new(5);
        let signals: Vec<Vec<f32>> = vec![
            (0..len).map(|_| noise.uniform()).collect(),
            (0..len).map(|i| (i as f32 * 0.013).sin() * 0.9).collect(),
            (0..len)
                .map(|i| [0.5, 0.5, -0.5, 0.25, -0.0, 0.0, 0.5, -0.5, 0.3][i % 9])
                .collect(),
        ];
        for y in &signals {
            let start: Vec<f32> = (0..frames).map(|j| (j % 7) as f32 * 0.1).collect();
            for floor in [None, Some(0.0), Some(0.6), Some(2.0)] {
                let (mut want, mut got) = (start.clone(), start.clone());
                max_refined_interleaved::<FACTOR>(y, FACTOR, &mut want, floor);
                // SAFETY: AVX2 checked above; y holds a frame of points before and after.
                unsafe { max_refined_8_avx(y, FACTOR, &mut got, floor) };
                assert!(
                    want.iter()
                        .zip(&got)
                        .all(|(p, q)| p.to_bits() == q.to_bits()),
                    "floor {floor:?}"
                );
            }
        }
    }

    /// Reading a phase-major oversampled sequence gives, frame by frame, the largest refined
    /// point as the point-by-point definition does: on noise, a sine, and plateaus with ties
    /// and signed zeros, for lengths that leave a remainder after the eight-frame steps.
    #[test]
    fn phase_rows_read_as_the_point_by_point_definition() {
        const P: usize = 8;
        let mut noise = crate::testkit::Noise::new(8);
        for n in [1usize, 7, 8, 9, 100, 1003] {
            let len = n + 2;
            let points = P * (n + 2);
            let seqs: Vec<Vec<f32>> = vec![
                (0..points).map(|_| noise.uniform()).collect(),
                (0..points).map(|i| (i as f32 * 0.05).sin()).collect(),
                (0..points)
                    .map(|i| [0.5, 0.5, -0.5, 0.25, -0.0, 0.0, 0.5, -0.5, 0.3][i % 9])
                    .collect(),
            ];
            for seq in &seqs {
                // The sequence in time order: point p of frame j (j = -1 ..= n) is seq[(j + 1) * P + p].
                let rows: Vec<f32> = (0..P)
                    .flat_map(|p| (0..len).map(move |j| (p, j)))
                    .map(|(p, j)| seq[j * P + p])
                    .collect();
                let start: Vec<f32> = (0..n).map(|j| (j % 5) as f32 * 0.1).collect();
                let mut got = start.clone();
                max_refined_phases::<P>(&rows, &mut got);
                for (j, (g, s)) in got.iter().zip(&start).enumerate() {
                    // Frame j's points and one on each side, in time order.
                    let at = |k: usize| seq[(j + 1) * P + k - 1];
                    let mut want = s.abs().max(*s);
                    for k in 1..=P {
                        want = want.max(at(k).abs());
                    }
                    for k in 1..=P {
                        let (a, b, c) = (at(k - 1), at(k), at(k + 1));
                        if b.abs() >= a.abs() && b.abs() >= c.abs() {
                            want = want.max(refined(a, b, c));
                        }
                    }
                    assert_eq!(g.to_bits(), want.to_bits(), "n {n}, frame {j}");
                }
            }
        }
    }

    /// The meters compiled for the widest vector unit this CPU has give the baseline copy's
    /// values bit for bit (on a CPU without AVX both are the baseline copy).
    #[test]
    fn meters_give_the_same_bits_on_every_vector_unit() {
        let mut noise = crate::testkit::Noise::new(3);
        let x: Vec<f32> = (0..20_000).map(|_| 0.7 * noise.uniform()).collect();
        for rate in [44100, 48000, 96000] {
            let meters = Meters::new(rate);
            let swr = SwrMeter::new(rate).expect("below 192 kHz");
            let r = meters.reach().max(swr.reach());
            let n = x.len() - 2 * r;
            let run = |at: simd::Level| {
                let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
                let mut y = Vec::new();
                meters.max_into_at(at, &x, r, &mut a, &mut y);
                swr.max_into_at(at, &x, r, &mut b, &mut y);
                (a, b)
            };
            let (base, wide) = (run(simd::Level::Baseline), run(simd::level()));
            assert!(
                base.0
                    .iter()
                    .zip(&wide.0)
                    .all(|(p, q)| p.to_bits() == q.to_bits())
            );
            assert!(
                base.1
                    .iter()
                    .zip(&wide.1)
                    .all(|(p, q)| p.to_bits() == q.to_bits())
            );
        }
    }
}
