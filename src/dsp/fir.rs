//! Linear-phase FIR filters: design by frequency sampling, filtering by partitioned FFT
//! convolution, and the `phase = "linear"` EQ built from them.
//!
//! [`design_linear_phase`] turns any magnitude curve into a symmetric (type I, odd-length) FIR:
//! the curve is sampled on a dense FFT grid with zero phase, the inverse FFT gives the zero-phase
//! impulse response, which is cut to the requested length around its centre, windowed, and
//! delayed by half its length to make it causal: the frequency-sampling method (Oppenheim &
//! Schafer, *Discrete-Time Signal Processing*, 3rd ed.: section 8.4 on sampling the DTFT,
//! section 7.5 on design by windowing). A symmetric odd-length FIR is their type I generalized
//! linear-phase system (section 5.7.3): a constant group delay of `(taps - 1) / 2` frames, so
//! every frequency is delayed alike and only the magnitude is shaped.
//!
//! [`Fir`] runs such a filter on every channel through [`Convolver`] (uniformly partitioned
//! overlap-save), whose cost per frame grows with the logarithm of the length rather than the
//! length, and reports the exact latency so the engine can align it. [`LinearPhaseEq`] designs
//! one from the analytic magnitude of the minimum-phase EQ ([`eq::sections`]), so both phase
//! modes have the same magnitude (within [`EQ_BAR_DB`] above [`EQ_BAR_LOW_HZ`]).
//!
//! [`design_eq`] sizes that filter from the bands: the zero-phase impulse response of a band
//! decays like its slowest pole or zero, `r^n` (a +12 dB Q 10 peak at 40 Hz has `r` = 0.99987 at
//! 48 kHz, a 0.16 s time constant; a broad shelf 2 ms), and whatever lies beyond the filter's
//! ends is lost. So it starts from four time constants, designs, measures the result against
//! the Cookbook curve on a grid fine enough for the narrowest band, and doubles the length
//! until it is within [`EQ_DESIGN_TOL_DB`] or reaches [`eq_max_taps`]. [`eq_misses`] names the
//! bands the capped filter still misses, for the session's warnings.

use std::f64::consts::PI;
use std::sync::Arc;

use realfft::RealFftPlanner;
use realfft::num_complex::Complex64;

use super::biquad::{Coeffs, amplitude_to_db, cascade_magnitude_db};
use super::config::{BandKind, EqConfig, PassShape, ShelfShape};
use super::convolution::Convolver;
use super::envelope::ParamId;
use super::eq;
use super::{ProcessSpec, Processor};

/// Span of the filter [`taps_for`] gives for a curve known only by its samples (reference
/// matching), in seconds; [`taps_for`] rounds the length up to a power of two minus one. The
/// span, not the window, bounds the accuracy: the zero-phase impulse response of a curve with a
/// narrow low feature rings for a long time, and whatever lies beyond the filter's ends is lost.
/// Measured at 48 kHz against the analytic curve (40 Hz..20 kHz, curve above -60 dB), a +12 dB
/// Q 4 peak at 30 or 40 Hz is off by 0.35 dB with a 0.34 s span (16383 taps), 0.10 dB with
/// 0.51 s and 0.026 dB with 0.68 s (32767 taps); matching curves are smoother than that. The
/// linear-phase EQ, whose curve is analytic, is sized from its bands instead ([`design_eq`]).
pub const MIN_SPAN_S: f64 = 0.65;

/// Longest filter [`taps_for`] returns (2^20 - 1 frames, 5.5 s at 192 kHz): a guard against a
/// nonsensical rate, far above any validated one.
const MAX_TAPS: usize = (1 << 20) - 1;

/// Share of each half of the filter that the window tapers (the rest is left untouched).
///
/// The window is a Tukey (tapered cosine) window: flat over the middle 75 % of the filter,
/// raised-cosine over the outer 12.5 % at each end (Harris, "On the use of windows for harmonic
/// analysis with the discrete Fourier transform", Proc. IEEE 66(1), 1978). Why not Kaiser or
/// Blackman-Harris: windowing multiplies the impulse response, which smooths the frequency
/// response with the window's spectrum. The curves here are smooth analytic responses whose
/// impulse responses decay exponentially, so the truncation leakage that those windows suppress
/// is already small; what matters is not to disturb the part of the response that carries the
/// energy. A window tapering from the centre does: measured with 8191 taps at 48 kHz, a Kaiser
/// (beta 8) misses a 48 dB/oct high-pass at 100 Hz by 3.2 dB and a +6 dB Q 4 peak at 40 Hz by
/// 2.0 dB, Blackman-Harris by 4.7 and 2.4 dB, this Tukey window by 0.015 and 0.65 dB (the rest
/// is the span's, see [`MIN_SPAN_S`]). At the chosen span, tapering 20..40 % of each half
/// changes the worst error by less than 0.02 dB.
const TAPER: f64 = 0.25;

/// Dense-grid oversampling: the magnitude is sampled at `GRID * taps` (rounded up to a power of
/// two) points. The inverse FFT of the sampled curve is the true zero-phase response plus copies
/// of it shifted by the grid length (time aliasing, Oppenheim & Schafer section 8.4); at 8 times
/// the filter length the copies land where the response has long decayed.
const GRID: usize = 8;

/// Coefficients smaller than this are written as exact zeros: they are 600 dB down, and an `f32`
/// subnormal coefficient would only slow the FFTs' inputs down.
const FLUSH: f64 = 1e-30;

/// Design a linear-phase FIR of `taps` coefficients (an even count is rounded up to the next odd
/// one; at least 1) whose magnitude follows `magnitude_db(f)` (dB, `f` in Hz from 0 to
/// `sample_rate / 2`) at `sample_rate` Hz.
///
/// The result is symmetric (`c[i] == c[taps - 1 - i]`, bit for bit), so its phase is exactly
/// linear with a delay of `(taps - 1) / 2` frames. Non-finite or absurd dB values are treated
/// as silence (-inf, NaN) or clamped (+200 dB), so a bad curve cannot produce NaN coefficients.
/// Allocates (call it when preparing, never per block; [`Designer`] designs again without
/// allocating).
pub fn design_linear_phase(
    magnitude_db: &dyn Fn(f64) -> f64,
    sample_rate: f64,
    taps: usize,
) -> Vec<f32> {
    let mut c = Vec::new();
    Designer::new(taps).design_into(magnitude_db, sample_rate, &mut c);
    c
}

/// [`design_linear_phase`] for one length, again and again: the inverse FFT is planned and its
/// buffers made once, so a running processor can design a new filter without allocating.
#[derive(Clone)]
pub struct Designer {
    taps: usize,
    ifft: Arc<dyn realfft::ComplexToReal<f64>>,
    spectrum: Vec<Complex64>,
    h: Vec<f64>,
    scratch: Vec<Complex64>,
}

impl std::fmt::Debug for Designer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Designer")
            .field("taps", &self.taps)
            .finish()
    }
}

impl Designer {
    /// A designer of `taps`-coefficient filters (rounded as [`design_linear_phase`] rounds).
    /// Allocates.
    pub fn new(taps: usize) -> Self {
        let taps = taps.clamp(1, MAX_TAPS) | 1;
        let m = (GRID * taps).next_power_of_two();
        let ifft = RealFftPlanner::<f64>::new().plan_fft_inverse(m);
        Designer {
            taps,
            spectrum: ifft.make_input_vec(),
            h: ifft.make_output_vec(),
            scratch: ifft.make_scratch_vec(),
            ifft,
        }
    }

    /// The filter of [`design_linear_phase`] into `c` (resized to the length on first use
    /// only).
    pub fn design_into(
        &mut self,
        magnitude_db: &dyn Fn(f64) -> f64,
        sample_rate: f64,
        c: &mut Vec<f32>,
    ) {
        let taps = self.taps;
        let half = (taps - 1) / 2;
        let m = self.h.len();
        c.resize(taps, 0.0);
        // Zero phase: a real, non-negative spectrum. Bin k sits at k * fs / m Hz.
        for (k, s) in self.spectrum.iter_mut().enumerate() {
            let f = k as f64 * sample_rate / m as f64;
            *s = Complex64::new(db_to_amplitude(magnitude_db(f)), 0.0);
        }
        let h = &mut self.h;
        if self
            .ifft
            .process_with_scratch(&mut self.spectrum, h, &mut self.scratch)
            .is_err()
        {
            // Cannot happen: the buffers come from the plan's length, and every bin is real.
            // A filter that passes nothing is the safe answer should it ever.
            c.fill(0.0);
            return;
        }

        // h is the zero-phase response, h[n] = h[m - n] up to rounding; averaging the two makes
        // the filter symmetric to the last bit. realfft is unnormalised: divide by m.
        let scale = 1.0 / m as f64;
        for j in 0..=half {
            let v = if j == 0 {
                h[0]
            } else {
                0.5 * (h[j] + h[m - j])
            };
            let v = v * scale * tukey(j, half);
            let v = if v.abs() < FLUSH { 0.0 } else { v as f32 };
            c[half + j] = v;
            c[half - j] = v;
        }
    }
}

/// dB to amplitude for the design grid: -inf and NaN give 0, very large values are capped.
fn db_to_amplitude(db: f64) -> f64 {
    if db.is_nan() {
        0.0
    } else {
        super::db_to_gain(db.min(200.0))
    }
}

/// The Tukey window at `j` frames from the centre of a filter with `half` frames on each side:
/// 1 up to `(1 - TAPER)` of the way out, then half a cosine period down towards 0 (reached one
/// frame beyond the end, so the outermost coefficients are not wasted on zeros).
fn tukey(j: usize, half: usize) -> f64 {
    let x = j as f64 / (half + 1) as f64;
    let flat = 1.0 - TAPER;
    if x <= flat {
        1.0
    } else {
        0.5 * (1.0 + (PI * (x - flat) / TAPER).cos())
    }
}

/// Filter length for a sampled curve (reference matching) at `sample_rate` Hz: the smallest
/// `2^k - 1` frames spanning at least [`MIN_SPAN_S`] (32767 at 44.1 and 48 kHz, 65535 at 88.2
/// and 96 kHz), odd as type I requires. One less than a power of two fills the convolver's
/// power-of-two partitions exactly.
pub fn taps_for(sample_rate: f64) -> usize {
    span_taps(sample_rate, MIN_SPAN_S)
}

/// The smallest `2^k - 1` frames spanning `seconds` at `sample_rate` Hz (at least 1, at most
/// [`MAX_TAPS`]; a nonsensical rate gives a short filter rather than a panic).
fn span_taps(sample_rate: f64, seconds: f64) -> usize {
    let span = (sample_rate * seconds).max(2.0).min(MAX_TAPS as f64);
    (span.ceil() as usize).next_power_of_two() - 1
}

/// The linear-phase EQ's accuracy bar: within 0.2 dB of the Cookbook
/// response from [`EQ_BAR_LOW_HZ`] up to 20 kHz (or 0.45 of the sample rate, if lower).
pub const EQ_BAR_DB: f64 = 0.2;

/// Where the bar starts, Hz. Below it the filter's length would have to grow without bound to
/// resolve a kink at DC (a 6 dB/oct high-pass) or a band at a few Hz.
pub const EQ_BAR_LOW_HZ: f64 = 40.0;

/// Where the bar ends, Hz, at rates from 44.4 kHz up.
const EQ_BAR_HIGH_HZ: f64 = 20000.0;

/// Where the bar ends below 44.4 kHz, as a share of the sample rate (0.9 of Nyquist).
const EQ_BAR_HIGH_SHARE: f64 = 0.45;

/// Frequencies where the Cookbook curve is below this (dB) are left out of the bar, as in the
/// tests: a 48 dB/oct high-pass 1.3 octaves below its corner, a notch's bottom. There a dB
/// figure measures only how far down the stop band is, which no finite filter follows to -inf.
pub const EQ_BAR_FLOOR_DB: f64 = -60.0;

/// What [`design_eq`] aims for, dB: half the bar, so that the grid's sampling and the f32
/// coefficients (both far below 0.01 dB) never push a design that met the aim over the bar.
pub const EQ_DESIGN_TOL_DB: f64 = 0.1;

/// Longest linear-phase EQ filter, seconds: [`eq_max_taps`] is the smallest `2^k - 1` frames
/// spanning it (131071 at 44.1 and 48 kHz, 262143 at 88.2 and 96 kHz, 524287 at 176.4 and
/// 192 kHz). Why 2.5 s: the filter's latency is half its length (1.4..1.5 s at 44.1..48 kHz),
/// which every parallel path is delayed by, and its pre-ringing before each note is as long; a
/// band that needs more rings for seconds either way (a +12 dB Q 40 peak at 50 Hz decays with
/// a 0.51 s time constant), and the minimum-phase EQ follows it exactly, without pre-ringing.
/// Within the cap: peaks at 40 Hz Q 10 (+-12 dB) and 50 Hz Q 40 (+-6 dB). Beyond it, in
/// realistic use, only very narrow low bands and notches' bottoms, which [`eq_misses`] names.
pub const EQ_MAX_SPAN_S: f64 = 2.5;

/// Shortest linear-phase EQ filter [`design_eq`] tries, frames.
const EQ_MIN_TAPS: usize = 63;

/// The cap on the linear-phase EQ's length at `sample_rate` Hz (see [`EQ_MAX_SPAN_S`]).
pub fn eq_max_taps(sample_rate: f64) -> usize {
    span_taps(sample_rate, EQ_MAX_SPAN_S)
}

/// The FIR of a linear-phase EQ, sized for its bands by [`design_eq`].
#[derive(Debug, Clone)]
pub struct EqFir {
    /// Symmetric, odd-length coefficients (see [`design_linear_phase`]).
    pub coeffs: Vec<f32>,
    /// Largest |FIR - Cookbook| in dB over the bar's range (see [`EQ_BAR_FLOOR_DB`]).
    pub worst_db: f64,
    /// Where that is, Hz.
    pub worst_hz: f64,
    /// The bands asked for more than [`eq_max_taps`].
    pub capped: bool,
}

/// Design the linear-phase FIR of `cfg` at `fs` Hz, as short as meets [`EQ_DESIGN_TOL_DB`]:
/// the smallest `2^k - 1` frames from four of the bands' longest time constant upwards (at
/// least [`EQ_MIN_TAPS`]) that does, or [`eq_max_taps`] if none does. Every candidate is
/// measured, not estimated: lengths double, so the work is at most about twice that of the
/// final design. The time constant only skips candidates that are surely too short: over
/// high-passes of 6..48 dB/oct at 30..100 Hz, peaks and shelves, starting from 63 taps gave
/// the same lengths, in up to twice the time. Allocates (call it when preparing).
pub fn design_eq(cfg: &EqConfig, fs: f64) -> EqFir {
    let sections = eq::sections(cfg, fs);
    let curve = |f: f64| cascade_magnitude_db(&sections, f, fs);
    let cap = eq_max_taps(fs);
    let start = (4.0 * time_constant(&sections)).min(cap as f64);
    let mut taps = (start as usize + 1)
        .max(EQ_MIN_TAPS + 1)
        .next_power_of_two()
        .min(cap + 1)
        - 1;
    let resolution = grid_resolution(cfg);
    loop {
        let coeffs = design_linear_phase(&curve, fs, taps);
        let (worst_db, worst_hz) = deviation(&coeffs, &sections, fs, resolution);
        let capped = taps >= cap;
        if worst_db <= EQ_DESIGN_TOL_DB || capped {
            return EqFir {
                coeffs,
                worst_db,
                worst_hz,
                capped: capped && worst_db > EQ_DESIGN_TOL_DB,
            };
        }
        taps = (2 * taps + 1).min(cap);
    }
}

/// The slowest decay, in frames, among the poles and the zeros off the unit circle of
/// `sections`: `-1 / ln r`. The zero-phase impulse response of `|H|` decays like that, because
/// `|H|` has singularities at both (a zero on the circle, a notch's, is a kink instead, which
/// no length resolves; the measuring in [`design_eq`] covers it).
fn time_constant(sections: &[Coeffs]) -> f64 {
    sections
        .iter()
        .flat_map(|c| [c.pole_radius(), c.zero_radius()])
        .filter(|&r| r > 0.0 && r < 1.0 - 1e-6)
        .map(|r| -1.0 / r.ln())
        .fold(0.0, f64::max)
}

/// Grid spacing (Hz) fine enough to catch the narrowest band's extreme: an eighth of its
/// bandwidth `f0 / Q` (Q at least 1; Butterworth and shelf slopes count as Q 1), and no more
/// than an eighth of [`EQ_BAR_LOW_HZ`].
fn grid_resolution(cfg: &EqConfig) -> f64 {
    let narrowest = cfg
        .bands
        .iter()
        .map(|b| {
            let q = match b.kind {
                BandKind::Peak | BandKind::Notch | BandKind::Bandpass => b.q,
                BandKind::Highpass | BandKind::Lowpass => match b.pass {
                    PassShape::Q(q) => q,
                    PassShape::Slope(_) => 1.0,
                },
                BandKind::Lowshelf | BandKind::Highshelf => match b.shelf {
                    ShelfShape::Q(q) => q,
                    ShelfShape::Slope(_) => 1.0,
                },
            };
            b.freq_hz / q.max(1.0)
        })
        .fold(EQ_BAR_LOW_HZ, f64::min);
    narrowest / 8.0
}

/// Largest FFT the measuring grid uses (2^22 points: 0.011 Hz at 48 kHz).
const MAX_GRID: usize = 1 << 22;

/// Largest |FIR - Cookbook| in dB, and where (Hz), over the bar's range, on a grid no coarser
/// than `resolution` Hz nor than a quarter of the filter's own resolution.
fn deviation(coeffs: &[f32], sections: &[Coeffs], fs: f64, resolution: f64) -> (f64, f64) {
    let half = coeffs.len() / 2;
    // Filters are at most MAX_TAPS long, so 4 * len never exceeds MAX_GRID.
    let n = ((fs / resolution).ceil() as usize)
        .max(4 * coeffs.len())
        .next_power_of_two()
        .min(MAX_GRID);
    // The zero-phase response: the filter with its delay removed, wrapped around frame 0, has a
    // real spectrum, the amplitude response.
    let mut z = vec![0.0f64; n];
    for j in 0..=half {
        z[j] = f64::from(coeffs[half + j]);
        if j > 0 {
            z[n - j] = f64::from(coeffs[half - j]);
        }
    }
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n);
    let mut spec = fft.make_output_vec();
    if fft.process(&mut z, &mut spec).is_err() {
        // Cannot happen: the buffers come from the plan. Report a miss rather than a pass.
        return (f64::INFINITY, 0.0);
    }
    let hi = EQ_BAR_HIGH_HZ.min(EQ_BAR_HIGH_SHARE * fs);
    let df = fs / n as f64;
    let lo_bin = (EQ_BAR_LOW_HZ / df).ceil() as usize;
    let hi_bin = ((hi / df).floor() as usize).min(n / 2);
    let mut worst = (0.0, 0.0);
    for (k, h) in spec.iter().enumerate().take(hi_bin + 1).skip(lo_bin) {
        let f = k as f64 * df;
        let want = cascade_magnitude_db(sections, f, fs);
        if want > EQ_BAR_FLOOR_DB {
            let err = (amplitude_to_db(h.norm()) - want).abs();
            if err > worst.0 {
                worst = (err, f);
            }
        }
    }
    worst
}

/// The amplitude response of a symmetric FIR at `f` Hz (delay removed): `c[h] + 2 sum c[h + j]
/// cos(2 pi f j / fs)`, signed (negative where the filter flips polarity).
pub fn zero_phase_response(coeffs: &[f32], f: f64, fs: f64) -> f64 {
    let half = coeffs.len() / 2;
    let w = 2.0 * PI * f / fs;
    coeffs[half..]
        .iter()
        .enumerate()
        .map(|(j, &c)| {
            let c = f64::from(c);
            if j == 0 {
                c
            } else {
                2.0 * c * (w * j as f64).cos()
            }
        })
        .sum()
}

/// A band the linear-phase EQ's filter does not meet within [`EQ_BAR_DB`].
#[derive(Debug, Clone, PartialEq)]
pub struct BandMiss {
    /// Index of the band in [`EqConfig::bands`].
    pub band: usize,
    /// Where it is measured, Hz: the band's centre (or corner), or the worst frequency when the
    /// miss lies away from every band's centre.
    pub freq_hz: f64,
    /// The Cookbook EQ's magnitude there, dB (floored at
    /// [`MIN_DB`](super::biquad::MIN_DB), which a notch's centre is).
    pub cookbook_db: f64,
    /// The designed filter's magnitude there, dB.
    pub fir_db: f64,
}

impl BandMiss {
    /// How far off the filter is, dB (positive: short of a boost or of a cut's depth).
    pub fn miss_db(&self) -> f64 {
        (self.fir_db - self.cookbook_db).abs()
    }

    /// The Cookbook curve is below [`EQ_BAR_FLOOR_DB`] there (a notch's centre, where it is
    /// silent).
    pub fn cookbook_silent(&self) -> bool {
        self.cookbook_db < EQ_BAR_FLOOR_DB
    }
}

/// The bands of `cfg` that `fir` (designed by [`design_eq`] at `fs` Hz) misses by more than
/// [`EQ_BAR_DB`], measured from its coefficients at each band's centre within the bar's range;
/// if the worst deviation lies away from every centre, the band nearest to it (in octaves) is
/// named with the figures there. Empty when the filter meets the bar.
pub fn eq_misses(cfg: &EqConfig, fs: f64, fir: &EqFir) -> Vec<BandMiss> {
    let sections = eq::sections(cfg, fs);
    let at = |band: usize, f: f64| BandMiss {
        band,
        freq_hz: f,
        cookbook_db: cascade_magnitude_db(&sections, f, fs),
        fir_db: amplitude_to_db(zero_phase_response(&fir.coeffs, f, fs).abs()),
    };
    let hi = EQ_BAR_HIGH_HZ.min(EQ_BAR_HIGH_SHARE * fs);
    let mut misses: Vec<BandMiss> = cfg
        .bands
        .iter()
        .enumerate()
        .filter(|(_, b)| (EQ_BAR_LOW_HZ..=hi).contains(&b.freq_hz))
        .map(|(i, b)| at(i, b.freq_hz))
        .filter(|m| m.miss_db() > EQ_BAR_DB)
        .collect();
    if misses.is_empty()
        && fir.worst_db > EQ_BAR_DB
        && let Some(nearest) = (0..cfg.bands.len()).min_by(|&a, &b| {
            let d = |i: usize| (cfg.bands[i].freq_hz / fir.worst_hz).log2().abs();
            d(a).total_cmp(&d(b))
        })
    {
        misses.push(at(nearest, fir.worst_hz));
    }
    misses
}

/// A fixed FIR filter applied to every channel alike, by uniformly partitioned FFT convolution
/// ([`Convolver`], partition chosen by [`Convolver::auto_partition`]: up to 8192 frames).
///
/// Latency is exact: the centre of the filter (`(taps - 1) / 2`, the group delay of a symmetric
/// filter) plus the convolver's buffering (`partition - 1`). An impulse at frame `t` comes out
/// centred on frame `t + latency()`.
pub struct Fir {
    conv: Convolver,
    taps: usize,
}

impl Fir {
    /// A filter with coefficients `coeffs` (any length; symmetric and odd for linear phase,
    /// as [`design_linear_phase`] makes them). Copies them once for the convolver, which
    /// transforms them in `prepare`; filters nothing until then.
    pub fn new(coeffs: Arc<Vec<f32>>) -> Self {
        let taps = coeffs.len();
        Fir {
            conv: Convolver::with_auto_partition(Arc::new(vec![coeffs.to_vec()])),
            taps,
        }
    }

    /// Number of coefficients.
    pub fn taps(&self) -> usize {
        self.taps
    }

    /// The convolver's partition size, frames.
    pub fn partition(&self) -> usize {
        self.conv.partition()
    }
}

impl Processor for Fir {
    fn name(&self) -> &'static str {
        "fir"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        self.conv.prepare(spec);
    }

    fn reset(&mut self) {
        self.conv.reset();
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        self.conv.process(block);
    }

    /// `(taps - 1) / 2 + partition - 1` frames (the centre rounds down for an even length).
    fn latency(&self) -> usize {
        self.taps.saturating_sub(1) / 2 + self.conv.latency()
    }

    /// The filter's length, frames.
    fn tail(&self) -> usize {
        self.taps
    }
}

/// The `eq` processor with `phase = "linear"`: the magnitude of the minimum-phase EQ (every
/// band's analytic response, [`eq::sections`]) with linear phase, as one FIR designed in
/// `prepare` by [`design_eq`], as long as the bands need and no longer.
///
/// Latency is `(taps - 1) / 2 + partition - 1` frames: 766 frames (16 ms at 48 kHz) for a pair
/// of broad shelves (511 taps), 40958 (0.85 s) for a +12 dB Q 10 peak at 40 Hz (65535 taps),
/// at most 73726 (1.5 s) at 48 kHz, when a band asks for the cap ([`EQ_MAX_SPAN_S`]). The
/// engine compensates it. An EQ without bands passes the signal through exactly, with no
/// latency.
///
/// Automated bands (`freq_hz`, `gain_db`, `q`, as the minimum-phase EQ takes them): the values
/// given before `prepare` (every point of each envelope) fix the filter's length, and so the
/// latency, for good: the longest [`design_eq`] asks for at any of them or at the most
/// demanding corner of their ranges (each band at its lowest frequency, highest Q and largest
/// gain in either direction). While a band moves, the FIR is designed again at that length
/// ([`design_linear_phase`]) once per convolver partition, at the values of the partition's
/// last input frame, and [`Convolver::fade_to`] crossfades from the old filter's output to the
/// new one's over the next partition's `B` output frames (equal-gain linear fade), both over
/// the whole input history. An EQ that is not automated runs exactly as it would without this.
pub struct LinearPhaseEq {
    cfg: EqConfig,
    /// `None` before `prepare` and for an EQ without bands.
    fir: Option<Fir>,
    /// Settings an envelope reaches, given before `prepare` (empty: not automated).
    reached: Vec<EqConfig>,
    /// Sample rate of `prepare` (0 before).
    fs: f64,
    /// A band moved since the filter was last designed.
    dirty: bool,
    /// The length every design of an automated EQ has, frames (0 when not automated).
    fixed_taps: usize,
    /// An automated EQ's designer at `fixed_taps`, made in `prepare`.
    redesign: Option<EqRedesign>,
}

/// What an automated [`LinearPhaseEq`] designs with while it runs: the designer at its fixed
/// length, the sections of the current settings and the coefficients, all made once so that
/// designing again allocates nothing.
#[derive(Debug, Clone)]
struct EqRedesign {
    designer: Designer,
    sections: Vec<Coeffs>,
    coeffs: Vec<f32>,
}

impl EqRedesign {
    fn new(taps: usize) -> Self {
        EqRedesign {
            designer: Designer::new(taps),
            sections: Vec::new(),
            coeffs: Vec::new(),
        }
    }

    /// The FIR of `cfg` at `fs` Hz (what [`design_linear_phase`] makes of its Cookbook curve).
    fn design(&mut self, cfg: &EqConfig, fs: f64) -> &Vec<f32> {
        eq::sections_into(cfg, fs, &mut self.sections);
        let sections = &self.sections;
        self.designer.design_into(
            &|f| cascade_magnitude_db(sections, f, fs),
            fs,
            &mut self.coeffs,
        );
        &self.coeffs
    }
}

impl LinearPhaseEq {
    /// A linear-phase EQ for the validated `cfg` (its `phase` field is not consulted); filters
    /// nothing until `prepare` sets the sample rate.
    pub fn new(cfg: &EqConfig) -> Self {
        LinearPhaseEq {
            cfg: cfg.clone(),
            fir: None,
            reached: Vec::new(),
            fs: 0.0,
            dirty: false,
            fixed_taps: 0,
            redesign: None,
        }
    }

    /// The designed filter's coefficient count (0 before `prepare` or without bands).
    pub fn taps(&self) -> usize {
        self.fir.as_ref().map_or(0, Fir::taps)
    }

    /// The convolver's partition, frames: a moving band is redesigned once per partition
    /// (0 before `prepare` or without bands).
    pub fn partition(&self) -> usize {
        self.fir.as_ref().map_or(0, Fir::partition)
    }
}

/// The most demanding corner of the settings in `reached` (all of one EQ's bands): each band
/// at the lowest frequency, the highest Q (of whichever form it has) and the gain farthest from
/// 0 dB it takes in any of them. The zero-phase response of a band rings longest there (its
/// slowest pole has radius about `exp(-pi f0 / (Q fs))`), so the length that serves it serves
/// the settings in between.
fn most_demanding(reached: &[EqConfig]) -> Option<EqConfig> {
    let mut out = reached.first()?.clone();
    for cfg in &reached[1..] {
        for (o, b) in out.bands.iter_mut().zip(&cfg.bands) {
            o.freq_hz = o.freq_hz.min(b.freq_hz);
            o.q = o.q.max(b.q);
            if b.gain_db.abs() > o.gain_db.abs() {
                o.gain_db = b.gain_db;
            }
            if let (PassShape::Q(x), PassShape::Q(y)) = (o.pass, b.pass) {
                o.pass = PassShape::Q(x.max(y));
            }
            if let (ShelfShape::Q(x), ShelfShape::Q(y)) = (o.shelf, b.shelf) {
                o.shelf = ShelfShape::Q(x.max(y));
            }
        }
    }
    Some(out)
}

/// The linear-phase FIR of `cfg` at `fs` Hz with exactly `taps` coefficients (see
/// [`design_linear_phase`]): the tests' reference for what the running EQ designs.
#[cfg(test)]
fn design_eq_at(cfg: &EqConfig, fs: f64, taps: usize) -> Vec<f32> {
    let sections = eq::sections(cfg, fs);
    design_linear_phase(&|f| cascade_magnitude_db(&sections, f, fs), fs, taps)
}

impl Processor for LinearPhaseEq {
    fn name(&self) -> &'static str {
        "eq"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        self.fs = spec.sample_rate;
        self.dirty = false;
        if self.cfg.bands.is_empty() {
            self.fir = None;
            return;
        }
        let fs = spec.sample_rate;
        let coeffs = if self.reached.is_empty() {
            design_eq(&self.cfg, fs).coeffs
        } else {
            // Automated: the longest any setting needs, then the start at that length.
            let mut settings = std::mem::take(&mut self.reached);
            settings.extend(most_demanding(&settings));
            settings.push(self.cfg.clone());
            let mut distinct: Vec<EqConfig> = Vec::with_capacity(settings.len());
            for c in settings {
                if !distinct.contains(&c) {
                    distinct.push(c);
                }
            }
            self.fixed_taps = distinct
                .iter()
                .map(|c| design_eq(c, fs).coeffs.len())
                .max()
                .unwrap_or(1);
            self.reached = distinct;
            let redesign = self.redesign.insert(EqRedesign::new(self.fixed_taps));
            redesign.design(&self.cfg, fs).clone()
        };
        let mut fir = Fir::new(Arc::new(coeffs));
        fir.prepare(spec);
        self.fir = Some(fir);
    }

    fn reset(&mut self) {
        if let Some(fir) = &mut self.fir {
            fir.reset();
        }
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        let Some(fir) = &mut self.fir else {
            return;
        };
        if !self.dirty {
            fir.process(block);
            return;
        }
        // Moving: redesign just before the frame that completes a partition, so the new filter
        // fades in over that partition's output.
        let n = block.first().map_or(0, |c| c.len());
        let mut o = 0;
        while o < n {
            let left = fir.conv.frames_to_partition();
            let m = left.min(n - o);
            if m == left
                && self.dirty
                && let Some(redesign) = &mut self.redesign
            {
                let coeffs = redesign.design(&self.cfg, self.fs);
                fir.conv.fade_to(std::slice::from_ref(coeffs));
                self.dirty = false;
            }
            match block {
                [l, r] => fir.process(&mut [&mut l[o..o + m], &mut r[o..o + m]]),
                _ => {
                    let mut piece: Vec<&mut [f32]> =
                        block.iter_mut().map(|c| &mut c[o..o + m]).collect();
                    fir.process(&mut piece);
                }
            }
            o += m;
        }
    }

    /// A band's `freq_hz`, `gain_db` or `q`, as the minimum-phase EQ takes them.
    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        let Some(moved) = eq::set_band_param(&mut self.cfg, param, value) else {
            return false;
        };
        if self.fs == 0.0 {
            self.reached.push(self.cfg.clone());
        } else {
            self.dirty |= moved;
        }
        true
    }

    fn latency(&self) -> usize {
        self.fir.as_ref().map_or(0, Fir::latency)
    }

    fn tail(&self) -> usize {
        self.fir.as_ref().map_or(0, Fir::tail)
    }
}

/// Modified Bessel function of the first kind, order 0, by its power series (for Kaiser
/// windows).
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let q = 0.25 * x * x;
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..500 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{
        EQ_BAR_DB, EQ_DESIGN_TOL_DB, EQ_MAX_SPAN_S, Fir, LinearPhaseEq, design_eq,
        design_linear_phase, eq_max_taps, eq_misses, taps_for,
    };
    use crate::dsp::Processor;
    use crate::dsp::biquad::Coeffs;
    use crate::dsp::biquad::test_util::{bins, dft_at, spectrum};
    use crate::dsp::config::{BandKind, EqBand, EqConfig, PassShape, Phase, ShelfShape};
    use crate::dsp::convolution::Convolver;
    use crate::dsp::envelope::{AUTO_BLOCK, ParamId, ParamKey};
    use crate::dsp::eq;
    use crate::testkit::{assert_invariants, run, run_automated, spec, test_signal};

    const RATES: [f64; 3] = [44100.0, 48000.0, 96000.0];

    fn band(kind: BandKind, freq_hz: f64) -> EqBand {
        EqBand::new(kind, freq_hz)
    }

    fn hp(freq_hz: f64, slope: u32) -> EqBand {
        EqBand {
            pass: PassShape::Slope(slope),
            ..band(BandKind::Highpass, freq_hz)
        }
    }

    fn peak(freq_hz: f64, gain_db: f64, q: f64) -> EqBand {
        EqBand {
            gain_db,
            q,
            ..band(BandKind::Peak, freq_hz)
        }
    }

    fn eq_cfg(bands: Vec<EqBand>) -> EqConfig {
        EqConfig {
            bands,
            phase: Phase::Linear,
        }
    }

    /// Realistic settings: a vocal chain (high-pass, presence peak, air shelf); a mastering
    /// chain of shelves and wide peaks; narrow Q 4 peaks low and high; and high-passes of
    /// 12..48 dB/oct at 30..100 Hz, alone and under a bass peak.
    fn realistic() -> Vec<(&'static str, EqConfig)> {
        let mut out = vec![
            (
                "vocal",
                eq_cfg(vec![
                    hp(90.0, 24),
                    peak(3200.0, 2.0, 1.2),
                    EqBand {
                        gain_db: 1.5,
                        ..band(BandKind::Highshelf, 10000.0)
                    },
                ]),
            ),
            (
                "master",
                eq_cfg(vec![
                    EqBand {
                        gain_db: 3.0,
                        shelf: ShelfShape::Slope(0.7),
                        ..band(BandKind::Lowshelf, 110.0)
                    },
                    peak(420.0, -4.5, 2.0),
                    peak(5000.0, 2.5, 0.9),
                    EqBand {
                        gain_db: 1.5,
                        shelf: ShelfShape::Q(0.8),
                        ..band(BandKind::Highshelf, 10000.0)
                    },
                    EqBand {
                        pass: PassShape::Q(0.9),
                        ..band(BandKind::Lowpass, 19000.0)
                    },
                ]),
            ),
            (
                "narrow",
                eq_cfg(vec![
                    hp(30.0, 48),
                    peak(50.0, 6.0, 4.0),
                    peak(120.0, -9.0, 4.0),
                    peak(2500.0, 6.0, 4.0),
                    peak(12000.0, -6.0, 4.0),
                ]),
            ),
            ("peak 40 Hz Q 4 +12", eq_cfg(vec![peak(40.0, 12.0, 4.0)])),
            ("peak 30 Hz Q 4 +12", eq_cfg(vec![peak(30.0, 12.0, 4.0)])),
            ("peak 40 Hz Q 4 -15", eq_cfg(vec![peak(40.0, -15.0, 4.0)])),
        ];
        for f in [30.0, 60.0, 100.0] {
            for slope in [12, 24, 36, 48] {
                out.push(("high-pass", eq_cfg(vec![hp(f, slope)])));
            }
            out.push((
                "high-pass + low peak",
                eq_cfg(vec![hp(f, 24), peak(1.5 * f, 4.0, 4.0)]),
            ));
        }
        out
    }

    /// A prepared linear-phase EQ.
    fn prepared(cfg: &EqConfig, fs: f64) -> LinearPhaseEq {
        let mut p = LinearPhaseEq::new(cfg);
        p.prepare(&spec(fs));
        p
    }

    /// The processor's impulse response (channel 0, channel 1 checked equal), `len` frames.
    fn impulse_response(p: &mut dyn Processor, len: usize) -> Vec<f64> {
        let mut x = vec![vec![0.0f32; len]; 2];
        x[0][0] = 1.0;
        x[1][0] = 1.0;
        let y = run(p, &x, 4096);
        assert_eq!(y[0], y[1], "channels must be filtered alike");
        y[0].iter().map(|&v| f64::from(v)).collect()
    }

    /// A prepared processor's whole impulse response (latency, half the filter and 2000 frames
    /// more), checked to be silent before and after the filter's span.
    fn checked_ir(p: &mut LinearPhaseEq) -> Vec<f64> {
        let lat = p.latency();
        let half = (p.taps() - 1) / 2;
        let ir = impulse_response(p, lat + half + 2000);
        assert!(ir[..lat - half].iter().all(|&v| v.abs() < 1e-9), "pre-ring");
        assert!(ir[lat + half + 1..].iter().all(|&v| v.abs() < 1e-9), "tail");
        ir
    }

    /// The impulse response `ir` of a filter of `taps` with the latency `lat` removed: the
    /// output from `lat - half` to `lat + half` placed zero-phase (frame `lat + n` at index
    /// `n mod len`) in a buffer of `len` frames, so its spectrum is the filter's amplitude, real
    /// if the phase is linear.
    fn zero_phase_ir(ir: &[f64], lat: usize, taps: usize, len: usize) -> Vec<f64> {
        let half = (taps - 1) / 2;
        let mut z = vec![0.0f64; len];
        for j in 0..=half {
            z[j] = ir[lat + j];
            if j > 0 {
                z[len - j] = ir[lat - j];
            }
        }
        z
    }

    /// Largest |measured - analytic| in dB from 40 Hz to min(20 kHz, 0.45 fs), over bins where
    /// the analytic curve is above `floor_db`; with the frequency where it occurs. The grid is
    /// 0.5 Hz or finer, so no band of these settings (the narrowest is 7.5 Hz wide) slips
    /// between bins, however short the filter.
    fn worst_deviation(cfg: &EqConfig, fs: f64, floor_db: f64) -> (f64, f64) {
        let mut p = prepared(cfg, fs);
        let sections = eq::sections(cfg, fs);
        let ir = checked_ir(&mut p);
        measured_deviation(&ir, &p, fs, 0.5, floor_db, &|f| {
            crate::dsp::biquad::cascade_magnitude_db(&sections, f, fs)
        })
    }

    /// Largest |measured - `cookbook_db`| over the grid of [`worst_deviation`], `grid_hz` Hz or
    /// finer, measured on the impulse response `ir` of the prepared processor `p`.
    fn measured_deviation(
        ir: &[f64],
        p: &LinearPhaseEq,
        fs: f64,
        grid_hz: f64,
        floor_db: f64,
        cookbook_db: &dyn Fn(f64) -> f64,
    ) -> (f64, f64) {
        let len = (4 * p.taps())
            .max((fs / grid_hz) as usize)
            .next_power_of_two();
        let h = spectrum(&zero_phase_ir(ir, p.latency(), p.taps(), len));
        bins(len, fs, 40.0, 20000f64.min(0.45 * fs))
            .filter_map(|(k, f)| {
                let want = cookbook_db(f);
                (want > floor_db).then(|| ((20.0 * h[k].norm().log10() - want).abs(), f))
            })
            .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
    }

    #[test]
    fn magnitude_follows_the_analytic_eq_within_0_2_db() {
        let mut overall: f64 = 0.0;
        for fs in RATES {
            let mut worst = (0.0, 0.0, "");
            for (name, cfg) in realistic() {
                let (err, f) = worst_deviation(&cfg, fs, -60.0);
                assert!(err < 0.2, "{name} at {fs} Hz: {err} dB off at {f} Hz");
                if err > worst.0 {
                    worst = (err, f, name);
                }
            }
            println!(
                "{fs} Hz: worst deviation {:.4} dB at {:.1} Hz ({})",
                worst.0, worst.1, worst.2
            );
            overall = overall.max(worst.0);
        }
        println!("worst deviation over all rates and settings: {overall:.4} dB");
    }

    /// Deep stop-bands are followed too: a 48 dB/oct high-pass at 100 Hz is 64 dB down at
    /// 40 Hz, below the -60 dB floor of the other tests; here every bin from 40 Hz counts.
    #[test]
    fn deep_stop_band_is_followed() {
        let cfg = eq_cfg(vec![hp(100.0, 48)]);
        for fs in RATES {
            let (err, f) = worst_deviation(&cfg, fs, f64::NEG_INFINITY);
            println!(
                "{fs} Hz: 48 dB/oct high-pass at 100 Hz, every bin: {err:.4} dB off at {f:.1} Hz"
            );
            assert!(err < 0.2);
        }
    }

    /// The measured magnitude (dB) at `f` Hz of a whole impulse response.
    fn measured_db(ir: &[f64], f: f64, fs: f64) -> f64 {
        20.0 * dft_at(ir, f, fs).norm().log10()
    }

    /// `|H|` in dB of Cookbook sections built straight from the biquad constructors (the
    /// oracle: `Coeffs::response`, itself checked against the analog prototypes).
    fn cookbook_db(sections: &[Coeffs], f: f64, fs: f64) -> f64 {
        let h = sections
            .iter()
            .fold(realfft::num_complex::Complex64::new(1.0, 0.0), |h, c| {
                h * c.response(f, fs)
            });
        20.0 * h.norm().log10()
    }

    /// Narrow low peaks (Q 10 at 40 Hz, Q 40 at 50 Hz) and broad shelves,
    /// with their Cookbook sections at `fs`.
    fn narrow_low_cases(fs: f64) -> Vec<(&'static str, EqConfig, Vec<Coeffs>)> {
        let mut out: Vec<(&'static str, EqConfig, Vec<Coeffs>)> = Vec::new();
        for (name, f0, q, g) in [
            ("peak 40 Hz Q 10 +12 dB", 40.0, 10.0, 12.0),
            ("peak 40 Hz Q 10 -12 dB", 40.0, 10.0, -12.0),
            ("peak 50 Hz Q 40 +6 dB", 50.0, 40.0, 6.0),
            ("peak 50 Hz Q 40 -6 dB", 50.0, 40.0, -6.0),
        ] {
            out.push((
                name,
                eq_cfg(vec![peak(f0, g, q)]),
                vec![Coeffs::peak(fs, f0, q, g)],
            ));
        }
        out.push((
            "shelves 110 Hz +3 dB, 10 kHz +1.5 dB",
            eq_cfg(vec![
                EqBand {
                    gain_db: 3.0,
                    shelf: ShelfShape::Slope(0.7),
                    ..band(BandKind::Lowshelf, 110.0)
                },
                EqBand {
                    gain_db: 1.5,
                    shelf: ShelfShape::Q(0.8),
                    ..band(BandKind::Highshelf, 10000.0)
                },
            ]),
            vec![
                Coeffs::low_shelf(fs, 110.0, 3.0, ShelfShape::Slope(0.7)),
                Coeffs::high_shelf(fs, 10000.0, 1.5, ShelfShape::Q(0.8)),
            ],
        ));
        out
    }

    /// Narrow low peaks and a pair of broad shelves meet the Cookbook within
    /// 0.2 dB at their centres and across 40 Hz..20 kHz (0.1 Hz grid) at `fs`; the shelves
    /// with a short filter.
    fn narrow_low_cases_meet_the_cookbook(fs: f64) {
        for (name, cfg, sections) in narrow_low_cases(fs) {
            let mut p = prepared(&cfg, fs);
            let ir = checked_ir(&mut p);
            let (err, f) =
                measured_deviation(&ir, &p, fs, 0.1, -60.0, &|f| cookbook_db(&sections, f, fs));
            let centre_err = cfg
                .bands
                .iter()
                .map(|b| {
                    (measured_db(&ir, b.freq_hz, fs) - cookbook_db(&sections, b.freq_hz, fs)).abs()
                })
                .fold(0.0, f64::max);
            println!(
                "{fs} Hz, {name}: {} taps ({:.3} s latency), within {err:.3} dB (worst at \
                 {f:.1} Hz), {centre_err:.3} dB at the centres",
                p.taps(),
                p.latency() as f64 / fs
            );
            assert!(
                err < EQ_BAR_DB && centre_err < EQ_BAR_DB,
                "{name} at {fs} Hz: {err} dB off at {f} Hz, {centre_err} dB at the centre"
            );
            assert!(
                eq_misses(&cfg, fs, &design_eq(&cfg, fs)).is_empty(),
                "{name}"
            );
            if name.starts_with("shelves") {
                // 2^k - 1 spanning at most about 21 ms: a tiny share of the old 0.68 s.
                assert!(p.taps() as f64 / fs < 0.022, "{} taps", p.taps());
            }
        }
    }

    #[test]
    fn narrow_low_peaks_and_broad_shelves_meet_the_cookbook_at_44_1_khz() {
        narrow_low_cases_meet_the_cookbook(44100.0);
    }

    #[test]
    fn narrow_low_peaks_and_broad_shelves_meet_the_cookbook_at_48_khz() {
        narrow_low_cases_meet_the_cookbook(48000.0);
    }

    #[test]
    fn narrow_low_peaks_and_broad_shelves_meet_the_cookbook_at_96_khz() {
        narrow_low_cases_meet_the_cookbook(96000.0);
    }

    /// Largest |FIR - Cookbook| in dB over 40 Hz..min(20 kHz, 0.45 fs) where the Cookbook is
    /// above -60 dB, from the coefficients (0.1 Hz grid or finer).
    fn coeff_deviation(c: &[f32], sections: &[Coeffs], fs: f64) -> f64 {
        let half = c.len() / 2;
        let len = (4 * c.len()).max((fs / 0.1) as usize).next_power_of_two();
        let mut z = vec![0.0f64; len];
        for j in 0..=half {
            z[j] = f64::from(c[half + j]);
            if j > 0 {
                z[len - j] = f64::from(c[half - j]);
            }
        }
        let h = spectrum(&z);
        bins(len, fs, 40.0, 20000f64.min(0.45 * fs))
            .filter_map(|(k, f)| {
                let want = cookbook_db(sections, f, fs);
                (want > -60.0).then(|| (20.0 * h[k].norm().log10() - want).abs())
            })
            .fold(0.0, f64::max)
    }

    /// No longer than needed: the next shorter candidate (half the length) misses the design
    /// aim, unless the filter is already the shortest tried.
    #[test]
    fn length_is_no_longer_than_needed() {
        for fs in [48000.0, 96000.0] {
            for (name, cfg, sections) in narrow_low_cases(fs) {
                let taps = design_eq(&cfg, fs).coeffs.len();
                if taps <= super::EQ_MIN_TAPS {
                    continue;
                }
                let shorter =
                    design_linear_phase(&|f| cookbook_db(&sections, f, fs), fs, (taps - 1) / 2);
                let err = coeff_deviation(&shorter, &sections, fs);
                assert!(
                    err > EQ_DESIGN_TOL_DB,
                    "{name} at {fs} Hz: {} taps would do ({err} dB)",
                    (taps - 1) / 2
                );
            }
        }
    }

    /// A notch's bottom is beyond any finite filter: the filter is the longest allowed, follows
    /// the notch within 0.2 dB where it is above -12 dB (nearer the bottom, the window's
    /// smoothing of the kink shows), and `eq_misses` names the band with the depth the filter
    /// actually reaches at its centre (about -33 dB).
    #[test]
    fn notch_bottom_is_reported_with_the_depth_reached() {
        for fs in RATES {
            let cfg = eq_cfg(vec![EqBand {
                q: 8.0,
                ..band(BandKind::Notch, 60.0)
            }]);
            let sections = [Coeffs::notch(fs, 60.0, 8.0)];
            let mut p = prepared(&cfg, fs);
            assert_eq!(p.taps(), eq_max_taps(fs));
            let ir = checked_ir(&mut p);
            let (err, f) =
                measured_deviation(&ir, &p, fs, 0.1, -12.0, &|f| cookbook_db(&sections, f, fs));
            let depth = measured_db(&ir, 60.0, fs);
            let misses = eq_misses(&cfg, fs, &design_eq(&cfg, fs));
            println!(
                "{fs} Hz: notch 60 Hz Q 8: {} taps, depth {depth:.1} dB, within {err:.3} dB \
                 (worst at {f:.1} Hz) where the Cookbook is above -12 dB; reported {misses:?}",
                p.taps()
            );
            assert!(
                err < EQ_BAR_DB && depth < -25.0,
                "{err} dB at {f} Hz, depth {depth}"
            );
            assert_eq!(misses.len(), 1);
            let m = &misses[0];
            assert!(m.band == 0 && m.freq_hz == 60.0 && m.cookbook_silent());
            assert!((m.fir_db - depth).abs() < 0.05, "{} vs {depth}", m.fir_db);
        }
    }

    /// A band too narrow for the cap (+12 dB Q 40 at 50 Hz, behind a broad shelf) is named by
    /// its index, with the miss the filter actually has at its centre.
    #[test]
    fn too_narrow_a_band_is_reported_with_its_miss() {
        for fs in RATES {
            let cfg = eq_cfg(vec![
                EqBand {
                    gain_db: 2.0,
                    ..band(BandKind::Highshelf, 8000.0)
                },
                peak(50.0, 12.0, 40.0),
            ]);
            let sections = [
                Coeffs::high_shelf(fs, 8000.0, 2.0, ShelfShape::Slope(1.0)),
                Coeffs::peak(fs, 50.0, 40.0, 12.0),
            ];
            let design = design_eq(&cfg, fs);
            assert!(design.capped && design.coeffs.len() == eq_max_taps(fs));
            let misses = eq_misses(&cfg, fs, &design);
            let mut p = prepared(&cfg, fs);
            let measured = measured_db(&checked_ir(&mut p), 50.0, fs);
            let want = cookbook_db(&sections, 50.0, fs);
            println!("{fs} Hz: +12 dB Q 40 at 50 Hz: {measured:.2} dB for {want:.2}: {misses:?}");
            assert_eq!(misses.len(), 1);
            let m = &misses[0];
            assert!(m.band == 1 && m.freq_hz == 50.0);
            assert!((m.cookbook_db - want).abs() < 1e-9);
            assert!(
                (m.fir_db - measured).abs() < 0.01,
                "{} vs {measured}",
                m.fir_db
            );
            assert!(m.miss_db() > EQ_BAR_DB);
        }
    }

    /// The cap: the smallest 2^k - 1 frames spanning 2.5 s.
    #[test]
    fn the_cap_spans_2_5_seconds() {
        for (fs, want) in [
            (44100.0, 131071),
            (48000.0, 131071),
            (96000.0, 262143),
            (192000.0, 524287),
        ] {
            let n = eq_max_taps(fs);
            assert_eq!(n, want, "{fs}");
            assert!(n as f64 / fs >= EQ_MAX_SPAN_S && (n / 2) as f64 / fs < EQ_MAX_SPAN_S);
        }
    }

    /// The old check of the notch at 3150 Hz Q 10 and 60 Hz Q 4: followed away from the bottom
    /// (the curve above -30 and -6 dB) and deep at the centre.
    #[test]
    fn notch_depth_is_limited_by_the_length() {
        for (f0, q, floor) in [(3150.0, 10.0, -30.0), (60.0, 4.0, -6.0)] {
            let cfg = eq_cfg(vec![EqBand {
                q,
                ..band(BandKind::Notch, f0)
            }]);
            let fs = 48000.0;
            let (err, f) = worst_deviation(&cfg, fs, floor);
            let mut p = prepared(&cfg, fs);
            let depth = measured_db(&checked_ir(&mut p), f0, fs);
            println!(
                "notch {f0} Hz Q {q}: depth {depth:.1} dB; within {err:.4} dB (worst at {f:.1} Hz) \
                 where the curve is above {floor} dB"
            );
            assert!(err < 0.2 && depth < -20.0);
        }
    }

    #[test]
    fn phase_is_linear_and_delay_is_latency() {
        let cfg = realistic().swap_remove(2).1;
        for fs in RATES {
            let mut p = prepared(&cfg, fs);
            let taps = p.taps();
            assert_eq!(
                p.latency(),
                (taps - 1) / 2 + Convolver::auto_partition(taps) - 1
            );
            let lat = p.latency();
            let half = (taps - 1) / 2;
            let ir = impulse_response(&mut p, lat + half + 100);
            // Symmetric about latency(), to the convolver's rounding.
            let peak = ir.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let asym = (1..=half)
                .map(|j| (ir[lat + j] - ir[lat - j]).abs())
                .fold(0.0, f64::max);
            assert!(asym < 1e-6 * peak, "asymmetry {asym:e} (peak {peak})");
            // Group delay -d(phase)/d(omega), by a central difference, at several frequencies.
            let mut worst: f64 = 0.0;
            for f in [60.0, 250.0, 1000.0, 2500.0, 8000.0, 15000.0] {
                let d = 0.05;
                let ratio = dft_at(&ir, f + d, fs) / dft_at(&ir, f - d, fs);
                let gd = -ratio.arg() / (2.0 * std::f64::consts::PI * 2.0 * d / fs);
                worst = worst.max((gd - lat as f64).abs());
                // Zero phase once the latency is removed, and positive: no polarity flip.
                let z = dft_at(&ir, f, fs)
                    * realfft::num_complex::Complex64::from_polar(
                        1.0,
                        2.0 * std::f64::consts::PI * f * lat as f64 / fs,
                    );
                assert!(z.re > 0.0 && z.im.abs() < 1e-5 * z.re, "{f} Hz: {z}");
            }
            println!(
                "{fs} Hz: {taps} taps, latency {lat} frames ({:.3} s), asymmetry {:.1e} of peak, \
                 group delay within {worst:.2e} frames of latency",
                lat as f64 / fs,
                asym / peak
            );
            assert!(worst < 1e-3, "group delay off latency by {worst} frames");
        }
    }

    #[test]
    fn design_is_symmetric_odd_and_follows_a_smooth_curve() {
        let fs = 48000.0;
        // A tilt, +-6 dB over the audio band.
        let tilt = |f: f64| 6.0 * ((f.max(20.0) / 1000.0).log2() / 5.0).clamp(-1.0, 1.0);
        for taps in [1000usize, 1001, 4095] {
            let c = design_linear_phase(&tilt, fs, taps);
            assert_eq!(c.len(), taps | 1);
            assert!(c.iter().zip(c.iter().rev()).all(|(a, b)| a == b));
        }
        let c = design_linear_phase(&tilt, fs, 4095);
        let h: Vec<f64> = c.iter().map(|&v| f64::from(v)).collect();
        let worst = [100.0, 300.0, 1000.0, 3000.0, 10000.0]
            .iter()
            .map(|&f| (20.0 * dft_at(&h, f, fs).norm().log10() - tilt(f)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 0.05, "{worst}");
        // A flat curve is a delayed unit impulse; silence and NaN are nothing at all.
        let c = design_linear_phase(&|_| 0.0, fs, 11);
        assert!((c[5] - 1.0).abs() < 1e-6 && c.iter().map(|v| v.abs()).sum::<f32>() < 1.0 + 1e-5);
        assert!(design_linear_phase(&|_| f64::NEG_INFINITY, fs, 11) == vec![0.0; 11]);
        assert!(design_linear_phase(&|_| f64::NAN, fs, 11) == vec![0.0; 11]);
        assert!(
            design_linear_phase(&|_| f64::INFINITY, fs, 11)
                .iter()
                .all(|v| v.is_finite())
        );
        assert_eq!(design_linear_phase(&|_| 0.0, fs, 0), vec![1.0]);
    }

    #[test]
    fn taps_scale_with_rate_and_are_odd() {
        for (fs, want) in [
            (22050.0, 16383),
            (44100.0, 32767),
            (48000.0, 32767),
            (88200.0, 65535),
            (96000.0, 65535),
            (192000.0, 131071),
        ] {
            let n = taps_for(fs);
            assert_eq!(n, want, "{fs}");
            assert!(n as f64 / fs >= super::MIN_SPAN_S);
        }
        for fs in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let n = taps_for(fs);
            assert!(n % 2 == 1 && n <= super::MAX_TAPS, "{fs}: {n}");
        }
    }

    /// `Fir` is direct convolution delayed by its latency.
    #[test]
    fn fir_is_delayed_convolution() {
        let fs = 48000.0;
        let coeffs = vec![0.25f32, -0.5, 1.0, -0.5, 0.25];
        let mut f = Fir::new(Arc::new(coeffs.clone()));
        f.prepare(&spec(fs));
        let lat = f.latency();
        assert_eq!(lat, 2 + f.partition() - 1);
        assert_eq!(f.tail(), 5);
        let x = test_signal(fs, 0.2, 0.5);
        let y = run(&mut f, &x, 100);
        for (xc, yc) in x.iter().zip(&y) {
            for t in 0..xc.len() - lat {
                // Output frame t + latency is centred on input frame t.
                let want: f64 = (0..5)
                    .filter_map(|k| {
                        let i = (t + 2).checked_sub(k)?;
                        xc.get(i).map(|&v| f64::from(v) * f64::from(coeffs[k]))
                    })
                    .sum();
                assert!((f64::from(yc[t + lat]) - want).abs() < 1e-6, "frame {t}");
            }
        }
    }

    #[test]
    fn no_bands_is_exact_and_immediate() {
        let mut p = prepared(&eq_cfg(vec![]), 48000.0);
        assert_eq!((p.latency(), p.tail(), p.taps()), (0, 0, 0));
        let x = test_signal(48000.0, 0.2, 0.9);
        assert_eq!(run(&mut p, &x, 64), x);
    }

    #[test]
    fn contract_invariants() {
        let cfg = realistic().swap_remove(0).1;
        for fs in [44100.0, 48000.0] {
            assert_invariants(&|| Box::new(LinearPhaseEq::new(&cfg)), fs, 0.0);
        }
        assert_invariants(
            &|| Box::new(Fir::new(Arc::new(vec![0.5, 1.0, 0.5]))),
            48000.0,
            0.0,
        );
    }

    /// An automated linear-phase EQ as the engine builds it: every point's value set before
    /// `prepare`, then the first.
    fn automated(cfg: &EqConfig, key: ParamKey, values: &[f64], fs: f64) -> LinearPhaseEq {
        let mut p = LinearPhaseEq::new(cfg);
        for &v in values.iter().chain(&values[..1]) {
            assert!(p.set_param(ParamId { key, band: 0 }, v));
        }
        p.prepare(&spec(fs));
        p
    }

    /// A fixed filter of `taps` coefficients for `cfg`, as the automated EQ designs it.
    fn fixed(cfg: &EqConfig, fs: f64, taps: usize) -> Fir {
        let mut f = Fir::new(Arc::new(super::design_eq_at(cfg, fs, taps)));
        f.prepare(&spec(fs));
        f
    }

    /// Gain in dB of the steady sine `y` over `x` at `f` Hz, over frames `from..from + len`
    /// of `y` against `from - lat..` of `x`.
    fn sine_gain(x: &[f32], y: &[f32], lat: usize, from: usize, len: usize, f: f64) -> f64 {
        let to64 = |v: &[f32]| v.iter().map(|&s| f64::from(s)).collect::<Vec<_>>();
        let a = dft_at(&to64(&y[from..from + len]), f, 48000.0).norm();
        let b = dft_at(&to64(&x[from - lat..from - lat + len]), f, 48000.0).norm();
        20.0 * (a / b).log10()
    }

    /// A band's gain steps from -6 to +9 dB under a steady 1 kHz sine. Until the first
    /// partition completed after the step, the output is the -6 dB filter's; over the next
    /// partition's `B` frames it is the linear crossfade `(1 - w) y_old + w y_new`, `w = (i + 1)
    /// / B`, of the two fixed filters run separately on the same input; after it, the +9 dB
    /// filter's, whose sine gain is the Cookbook peak's within the design's tolerance.
    #[test]
    fn a_gain_step_crossfades_over_one_partition_to_the_cookbook_magnitude() {
        let fs = 48000.0;
        let f = 1000.0;
        let from = eq_cfg(vec![peak(f, -6.0, 1.0)]);
        let to = eq_cfg(vec![peak(f, 9.0, 1.0)]);
        let mut p = automated(&from, ParamKey::GainDb, &[-6.0, 9.0], fs);
        let (taps, b, lat) = (p.taps(), p.partition(), p.latency());
        // The length is the longest either setting needs, fixed for the whole render.
        let need = [&from, &to].map(|c| design_eq(c, fs).coeffs.len());
        assert_eq!(taps, need[0].max(need[1]));
        // The step comes once the sine is steady through the first filter, off a partition's
        // edge.
        let step_at = (lat + taps + 4800).next_multiple_of(b) + 3 * AUTO_BLOCK;
        let n = step_at + 4 * b + lat + taps + 4800;
        let x = vec![crate::testkit::sine(n, fs, f, 0.5); 2];
        let value = |t: usize| if t >= step_at { 9.0 } else { -6.0 };
        let y = run_automated(
            &mut p,
            &x,
            ParamId::new(ParamKey::GainDb),
            &value,
            AUTO_BLOCK,
            false,
        );
        assert_eq!(y[0], y[1]);
        let y_old = run(&mut fixed(&from, fs, taps), &x, 64);
        let y_new = run(&mut fixed(&to, fs, taps), &x, 64);
        // The frame that completes the first partition after the step.
        let fade = (step_at + 1).next_multiple_of(b) - 1;
        let mut worst: f64 = 0.0;
        for t in 0..n {
            let want = if t < fade {
                f64::from(y_old[0][t])
            } else if t < fade + b {
                let w = (t - fade + 1) as f64 / b as f64;
                (1.0 - w) * f64::from(y_old[0][t]) + w * f64::from(y_new[0][t])
            } else {
                f64::from(y_new[0][t])
            };
            worst = worst.max((f64::from(y[0][t]) - want).abs());
        }
        println!("{taps} taps, partition {b}: fade at {fade}, largest |y - mix| {worst:.2e}");
        assert!(worst < 1e-6, "{worst}");
        // The two ends differ, so the mix check above could fail.
        let apart = (fade..fade + b)
            .map(|t| (y_old[0][t] - y_new[0][t]).abs())
            .fold(0.0f32, f32::max);
        assert!(apart > 0.1, "{apart}");
        // Sine gains against the Cookbook, before the step and once the fade is done (100
        // periods each).
        let before = sine_gain(&x[0], &y[0], lat, lat + taps, 4800, f);
        let after = sine_gain(&x[0], &y[0], lat, fade + b, 4800, f);
        let cook = |c: &EqConfig| eq::magnitude_db(c, f, fs);
        println!(
            "before {before:.4} dB (Cookbook {:.4}), after {after:.4} dB (Cookbook {:.4})",
            cook(&from),
            cook(&to)
        );
        assert!((before - cook(&from)).abs() < EQ_DESIGN_TOL_DB, "{before}");
        assert!((after - cook(&to)).abs() < EQ_DESIGN_TOL_DB, "{after}");
    }

    /// The filter's length, and so its latency, is fixed at build for the most demanding
    /// corner of what the envelopes reach (80 Hz from one, Q 6 from the other, a setting no
    /// single point has): an impulse before and one after a move from 2 kHz to 80 Hz (Q 1)
    /// both peak `latency()` frames later, and both are the filters' impulse responses.
    #[test]
    fn latency_stays_put_while_a_band_moves() {
        let fs = 48000.0;
        let from = eq_cfg(vec![peak(2000.0, 6.0, 1.0)]);
        let to = eq_cfg(vec![peak(80.0, 6.0, 1.0)]);
        let demanding = eq_cfg(vec![peak(80.0, 6.0, 6.0)]);
        let mut p = LinearPhaseEq::new(&from);
        let id = |key| ParamId { key, band: 0 };
        for (key, a, z) in [(ParamKey::FreqHz, 2000.0, 80.0), (ParamKey::Q, 1.0, 6.0)] {
            for v in [a, z, a] {
                assert!(p.set_param(id(key), v));
            }
        }
        p.prepare(&spec(fs));
        let (taps, lat) = (p.taps(), p.latency());
        let need = |c: &EqConfig| design_eq(c, fs).coeffs.len();
        println!(
            "taps {taps} (2 kHz Q 1 needs {}, 80 Hz Q 1 {}), latency {lat}",
            need(&from),
            need(&to)
        );
        assert_eq!(taps, need(&demanding));
        assert!(taps > need(&to));
        let (t1, t2) = (100, 100 + 2 * (lat + taps));
        let n = t2 + lat + taps;
        let mut x = vec![vec![0.0f32; n]; 2];
        for t in [t1, t2] {
            x[0][t] = 1.0;
            x[1][t] = 1.0;
        }
        // The move happens between the two impulses' responses.
        let moved = t1 + lat + taps;
        let y = crate::testkit::run_automated(
            &mut p,
            &x,
            id(ParamKey::FreqHz),
            &|t| if t >= moved { 80.0 } else { 2000.0 },
            AUTO_BLOCK,
            false,
        );
        assert_eq!(p.latency(), lat);
        let argmax = |v: &[f32]| {
            (0..v.len())
                .max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()))
                .unwrap()
        };
        let half = t1 + (t2 - t1) / 2;
        assert_eq!(argmax(&y[0][..half]), t1 + lat);
        assert_eq!(half + argmax(&y[0][half..]), t2 + lat);
        for (t, cfg) in [(t1, &from), (t2, &to)] {
            let h = super::design_eq_at(cfg, fs, taps);
            let c = t + lat - (taps - 1) / 2;
            let err = h
                .iter()
                .zip(&y[0][c..c + taps])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-6, "impulse at {t}: {err}");
        }
    }

    /// A +12 dB Q 4 peak swept from 40 Hz to 16 kHz and back in one second over noise stays
    /// finite and within the boost.
    #[test]
    fn an_automated_sweep_on_noise_stays_finite_and_bounded() {
        let fs = 48000.0;
        let cfg = eq_cfg(vec![peak(40.0, 12.0, 4.0)]);
        let mut p = automated(&cfg, ParamKey::FreqHz, &[40.0, 16000.0], fs);
        let n = 48000 + p.latency();
        let x = vec![crate::testkit::white(n, 5, 0.5); 2];
        let sweep = |t: usize| {
            let u = (t as f64 / 24000.0).min(2.0);
            let u = if u > 1.0 { 2.0 - u } else { u };
            40.0 * 400f64.powf(u)
        };
        let y = crate::testkit::run_automated(
            &mut p,
            &x,
            ParamId::new(ParamKey::FreqHz),
            &sweep,
            AUTO_BLOCK,
            false,
        );
        assert!(y.iter().flatten().all(|v| v.is_finite()));
        let peak = y[0].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        println!("sweep: peak {peak} for noise of peak 0.5 and a +12 dB (x4) band");
        assert!(peak < 0.5 * 4.0 * 2.0, "{peak}");
    }

    /// An EQ whose bands are given the values they already have runs as an unautomated one.
    #[test]
    fn unmoved_automation_filters_as_the_fixed_design() {
        let fs = 48000.0;
        let cfg = eq_cfg(vec![peak(700.0, 4.0, 2.0)]);
        let mut a = automated(&cfg, ParamKey::GainDb, &[4.0], fs);
        let mut b = prepared(&cfg, fs);
        assert_eq!(a.taps(), b.taps());
        let x = test_signal(fs, 0.3, 0.8);
        assert_eq!(run(&mut a, &x, 100), run(&mut b, &x, 100));
    }

    /// A designer used again and again gives each curve exactly the coefficients a fresh
    /// design does, whatever it designed before.
    #[test]
    fn a_reused_designer_designs_what_a_fresh_one_does() {
        let fs = 48000.0;
        let mut d = super::Designer::new(4095);
        let mut c = Vec::new();
        for (f0, g, q) in [(100.0, 6.0, 1.0), (2000.0, -9.0, 4.0), (40.0, 12.0, 0.7)] {
            let cfg = eq_cfg(vec![peak(f0, g, q)]);
            let sections = eq::sections(&cfg, fs);
            d.design_into(
                &|f| crate::dsp::biquad::cascade_magnitude_db(&sections, f, fs),
                fs,
                &mut c,
            );
            assert_eq!(c, super::design_eq_at(&cfg, fs, 4095), "{f0} Hz");
        }
    }
}
