//! Long-term spectrum of a finished signal (estimation, this file) and its comparison with a
//! reference ([`compare`]).
//!
//! The spectrum is a Welch estimate (P. D. Welch, "The use of fast Fourier transform for the
//! estimation of power spectra", IEEE Trans. Audio Electroacoust. AU-15, 1967): Hann-windowed
//! segments overlapping by half, their periodograms averaged. It is taken of mid ((L+R)/2) and
//! side ((L−R)/2), because that is what a mastering EQ and a width control act on.
//!
//! Calibration (AES17 convention: 0 dBFS is the level of a full-scale sine):
//! - per-bin levels are amplitude-calibrated: a full-scale sine centred on a bin reads 0 dB in
//!   that bin (off-centre it reads up to 1.42 dB less, the Hann window's scalloping loss);
//! - 1/3-octave band levels are power sums, `10·log10(2 · mean square in the band)`, so a
//!   full-scale sine reads 0 dB in its band wherever it falls, white noise rises 3 dB per octave
//!   (the bands widen with frequency) and pink noise (power ∝ 1/f) is flat, since
//!   `∫ df/f` over `[f·2^(-1/6), f·2^(1/6)]` is the same for every band.
//!
//! Levels are floored at [`FLOOR_DB`] so silence stays finite (and JSON-friendly).

pub mod compare;

use std::ops::Range;

use realfft::RealFftPlanner;

use crate::dsp::db::{db_to_power, power_to_db};
use serde::Serialize;

pub use compare::{
    BandDelta, SUMMARY_LINES, SUMMARY_THRESHOLD_DB, band_differences, summarize, width_ratio,
};

/// Lowest level reported, dBFS: silence reads this rather than minus infinity.
pub const FLOOR_DB: f64 = -200.0;

/// Band levels at or below this are treated as silent and left out of comparisons, dBFS.
pub const SILENT_DB: f64 = -120.0;

/// IEC 61260 nominal 1/3-octave centre frequencies from 20 Hz to 20 kHz, Hz. Used as labels;
/// the exact centres are the base-2 ones of IEC 61260:1995, `1000 · 2^(k/3)`, with edges at
/// `2^(±1/6)`, so the bands tile without gaps. (The 2014 edition keeps only base 10,
/// `1000 · 10^(k/10)`; the two differ by at most 1.3 %, at 20 Hz.)
pub const NOMINAL_CENTRES_HZ: [f64; 31] = [
    20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0, 250.0, 315.0, 400.0,
    500.0, 630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0, 2500.0, 3150.0, 4000.0, 5000.0, 6300.0,
    8000.0, 10000.0, 12500.0, 16000.0, 20000.0,
];

/// Index of 1 kHz in [`NOMINAL_CENTRES_HZ`].
const KHZ_INDEX: i32 = 17;

/// Default share of the momentary blocks [`loudest_spectrum`] keeps for reference matching:
/// the louder half.
pub const LOUDEST_FRACTION: f64 = 0.5;

/// One 1/3-octave band (IEC 61260) of a [`Spectrum`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    /// Nominal centre frequency (the label), Hz.
    pub nominal_hz: f64,
    /// Exact centre, `1000 · 2^(k/3)`, Hz.
    pub centre_hz: f64,
    /// Lower edge, `centre · 2^(-1/6)`, Hz.
    pub lo_hz: f64,
    /// Upper edge, `centre · 2^(1/6)`, cut at the Nyquist frequency when it lies above it, Hz.
    pub hi_hz: f64,
    /// Mid level: power sum over the band, dB relative to a full-scale sine.
    pub mid_db: f64,
    /// Side level, as `mid_db`; `None` for mono.
    pub side_db: Option<f64>,
}

/// Long-term spectrum of mid and side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spectrum {
    /// Sample rate of the analysed signal, Hz.
    pub sample_rate: u32,
    /// FFT length, samples.
    pub fft_len: usize,
    /// Number of Welch segments averaged; 0 when the signal was empty or too short, and then
    /// every level is [`FLOOR_DB`].
    pub segments: usize,
    /// Bin spacing, Hz.
    pub bin_hz: f64,
    /// Equivalent noise bandwidth of the window, in bins (1.5 for Hann): converts the
    /// amplitude-calibrated bin levels back to power.
    pub enbw_bins: f64,
    /// Mid level per bin `k` (frequency `k · bin_hz`, `k = 0 ..= fft_len / 2`), dBFS
    /// (a bin-centred full-scale sine reads 0 dB). Not serialized: the bands carry the summary.
    #[serde(skip)]
    pub mid_db: Vec<f64>,
    /// Side level per bin, as `mid_db`; `None` for mono.
    #[serde(skip)]
    pub side_db: Option<Vec<f64>>,
    /// 1/3-octave bands from 20 Hz up to the last one that starts below the Nyquist frequency.
    pub bands: Vec<Band>,
}

impl Spectrum {
    /// Frequency of every bin, Hz.
    pub fn freqs(&self) -> Vec<f64> {
        (0..self.mid_db.len())
            .map(|k| k as f64 * self.bin_hz)
            .collect()
    }

    /// Nyquist frequency, Hz.
    pub fn nyquist(&self) -> f64 {
        f64::from(self.sample_rate) / 2.0
    }

    /// Mid and side spectra smoothed over `fraction` of an octave (see
    /// [`smooth_octave_fraction`]) and evaluated at `at_hz`, dBFS per bin as `mid_db`.
    pub fn smoothed_at(&self, fraction: f64, at_hz: &[f64]) -> (Vec<f64>, Option<Vec<f64>>) {
        let freqs = self.freqs();
        let mid = smooth_at(&freqs, &self.mid_db, fraction, at_hz);
        let side = self
            .side_db
            .as_ref()
            .map(|s| smooth_at(&freqs, s, fraction, at_hz));
        (mid, side)
    }
}

/// FFT length for a sample rate: 8192 at 44.1 and 48 kHz (5.4–5.9 Hz bins, so the 20 Hz band
/// still holds about one bin, and 170 ms segments), scaled by the power of two nearest to
/// `rate / 48 kHz` so the bin spacing stays the same at other rates; 256 to 65 536.
pub fn fft_len_for(sample_rate: u32) -> usize {
    let octaves = (f64::from(sample_rate.max(1)) / 48_000.0)
        .log2()
        .round()
        .clamp(-5.0, 3.0);
    (8192.0 * 2f64.powf(octaves)) as usize
}

/// Shortest signal that gets a spectrum at all, samples.
const MIN_SEGMENT: usize = 16;

/// Welch-averaged long-term spectrum of mid and side, with 1/3-octave bands.
///
/// `planes` holds one `Vec` per channel: one channel is mono (side `None`); with two or more,
/// the first two are left and right. Channels of unequal length are cut to the shortest.
/// Non-finite samples count as silence. A signal shorter than one FFT length is analysed as
/// one zero-padded segment; an empty signal or `sample_rate == 0` gives a floor spectrum with
/// `segments == 0`.
pub fn long_term_spectrum(planes: &[Vec<f32>], sample_rate: u32) -> Spectrum {
    welch(planes, sample_rate, None)
}

/// As [`long_term_spectrum`], but averaging only the segments whose centre lies in one of
/// `ranges` (sample indices). Empty `ranges` select nothing (`segments == 0`).
pub fn long_term_spectrum_in(
    planes: &[Vec<f32>],
    sample_rate: u32,
    ranges: &[Range<usize>],
) -> Spectrum {
    welch(planes, sample_rate, Some(ranges))
}

/// The long-term spectrum of the loudest sections: the 400 ms windows of the loudest
/// `fraction` of the momentary-loudness blocks (see [`loudest_sections`] and
/// [`momentary_ranges`]). For reference matching, so breakdowns and fades of either song do not
/// pull the comparison. Falls back to the whole signal when no block has a loudness (silence,
/// or a file shorter than 400 ms).
pub fn loudest_spectrum(
    planes: &[Vec<f32>],
    sample_rate: u32,
    momentary: &[Option<f64>],
    fraction: f64,
) -> Spectrum {
    let blocks = loudest_sections(momentary, fraction);
    let ranges = momentary_ranges(&blocks, sample_rate);
    let s = long_term_spectrum_in(planes, sample_rate, &ranges);
    if s.segments == 0 {
        long_term_spectrum(planes, sample_rate)
    } else {
        s
    }
}

/// Indices of the loudest `fraction` (0..1) of the 100 ms momentary-loudness blocks that have a
/// loudness (silent blocks, `None`, never count), in ascending order. `fraction = 0.5` keeps the
/// louder half; at least one block is kept when any has a loudness and `fraction > 0`. Ties are
/// broken by position, so the result is deterministic.
pub fn loudest_sections(momentary: &[Option<f64>], fraction: f64) -> Vec<usize> {
    if fraction.is_nan() || fraction <= 0.0 {
        return Vec::new();
    }
    let mut loud: Vec<(usize, f64)> = momentary
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.filter(|v| v.is_finite()).map(|v| (i, v)))
        .collect();
    // The epsilon keeps 0.46 × 100 from rounding up to 47 blocks.
    let keep = ((fraction.min(1.0) * loud.len() as f64 - 1e-9).ceil() as usize).min(loud.len());
    loud.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut idx: Vec<usize> = loud.into_iter().take(keep).map(|(i, _)| i).collect();
    idx.sort_unstable();
    idx
}

/// Sample ranges measured by momentary-loudness blocks: block `i` (as produced by
/// `loudness::analyze_program`, one value per `bs1770::step_frames(rate)` samples) is the
/// 400 ms window ending at the end of 100 ms step `i`. Overlapping windows are merged; ascending.
pub fn momentary_ranges(blocks: &[usize], sample_rate: u32) -> Vec<Range<usize>> {
    let step = super::bs1770::step_frames(sample_rate);
    let mut sorted = blocks.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<Range<usize>> = Vec::new();
    for b in sorted {
        let end = b.saturating_add(1).saturating_mul(step);
        let start = end.saturating_sub(4 * step);
        match out.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => out.push(start..end),
        }
    }
    out
}

fn welch(planes: &[Vec<f32>], sample_rate: u32, ranges: Option<&[Range<usize>]>) -> Spectrum {
    let fft_len = fft_len_for(sample_rate);
    let bins = fft_len / 2 + 1;
    let stereo = planes.len() >= 2;
    let n = if sample_rate == 0 {
        0
    } else {
        planes.iter().take(2).map(Vec::len).min().unwrap_or(0)
    };
    let seg_len = n.min(fft_len);
    let hop = (seg_len / 2).max(1);
    let starts: Vec<usize> = if seg_len < MIN_SEGMENT {
        Vec::new()
    } else {
        (0..=(n - seg_len) / hop)
            .map(|j| j * hop)
            .filter(|&s| {
                let centre = s + seg_len / 2;
                ranges.is_none_or(|r| r.iter().any(|r| r.contains(&centre)))
            })
            .collect()
    };

    // Periodic ("DFT-even") Hann, the form for spectral analysis (F. J. Harris, "On the use of
    // windows for harmonic analysis with the DFT", Proc. IEEE 66(1), 1978): ENBW 1.5 bins.
    let window: Vec<f64> = (0..seg_len)
        .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / seg_len as f64).cos())
        .collect();
    let sum_w: f64 = window.iter().sum();
    let sum_w2: f64 = window.iter().map(|w| w * w).sum();

    let mut mid_acc = vec![0.0; bins];
    let mut side_acc = vec![0.0; if stereo { bins } else { 0 }];
    if !starts.is_empty() && sum_w2 > 0.0 {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(fft_len);
        let mut input = fft.make_input_vec();
        let mut output = fft.make_output_vec();
        let mut scratch = fft.make_scratch_vec();
        let clean = |x: f32| if x.is_finite() { f64::from(x) } else { 0.0 };
        for &s in &starts {
            for pass in 0..if stereo { 2 } else { 1 } {
                input.iter_mut().for_each(|x| *x = 0.0);
                for (i, w) in window.iter().enumerate() {
                    let l = clean(planes[0][s + i]);
                    input[i] = w * if stereo {
                        let r = clean(planes[1][s + i]);
                        if pass == 0 {
                            0.5 * (l + r)
                        } else {
                            0.5 * (l - r)
                        }
                    } else {
                        l
                    };
                }
                // The lengths come from the planner, so this cannot fail.
                if fft
                    .process_with_scratch(&mut input, &mut output, &mut scratch)
                    .is_ok()
                {
                    let acc = if pass == 0 {
                        &mut mid_acc
                    } else {
                        &mut side_acc
                    };
                    for (a, c) in acc.iter_mut().zip(&output) {
                        *a += c.norm_sqr();
                    }
                }
            }
        }
    }
    let segments = if sum_w2 > 0.0 { starts.len() } else { 0 };
    let enbw_bins = if sum_w > 0.0 {
        fft_len as f64 * sum_w2 / (sum_w * sum_w)
    } else {
        1.5
    };
    // One-sided power per bin, summing to the mean square (Parseval): |X|² / (N · Σw²),
    // doubled except at DC and Nyquist. Then the amplitude calibration 2 · ENBW (module doc).
    let to_db = |acc: &[f64]| -> Vec<f64> {
        acc.iter()
            .enumerate()
            .map(|(k, &a)| {
                let one_sided = if k == 0 || k == bins - 1 { 1.0 } else { 2.0 };
                let p = if segments > 0 {
                    one_sided * a / (segments as f64 * fft_len as f64 * sum_w2)
                } else {
                    0.0
                };
                power_db(2.0 * enbw_bins * p)
            })
            .collect()
    };
    let mid_db = to_db(&mid_acc);
    let side_db = stereo.then(|| to_db(&side_acc));
    let bin_hz = f64::from(sample_rate) / fft_len as f64;
    let bands = bands_of(&mid_db, side_db.as_deref(), bin_hz, enbw_bins, sample_rate);
    Spectrum {
        sample_rate,
        fft_len,
        segments,
        bin_hz,
        enbw_bins,
        mid_db,
        side_db,
        bands,
    }
}

pub(crate) fn power_db(p: f64) -> f64 {
    if p > 0.0 && p.is_finite() {
        power_to_db(p).max(FLOOR_DB)
    } else {
        FLOOR_DB
    }
}

pub(crate) fn db_power(db: f64) -> f64 {
    if db <= FLOOR_DB || db.is_nan() {
        0.0
    } else {
        db_to_power(db)
    }
}

/// The running integral of a piecewise-constant function of frequency: value `v[k]` on
/// `[edges[k], edges[k + 1])`. Integrating over fractions of a bin lets narrow bands (the
/// 20 Hz band is narrower than one bin) read the bin they sit in instead of nothing.
struct Cumulative {
    edges: Vec<f64>,
    cum: Vec<f64>,
}

impl Cumulative {
    fn new(edges: Vec<f64>, values: impl Iterator<Item = f64>) -> Self {
        let mut cum = Vec::with_capacity(edges.len());
        cum.push(0.0);
        let mut total = 0.0;
        for (k, v) in values.enumerate().take(edges.len().saturating_sub(1)) {
            total += v * (edges[k + 1] - edges[k]);
            cum.push(total);
        }
        Cumulative { edges, cum }
    }

    fn at(&self, f: f64) -> f64 {
        let (e, c) = (&self.edges, &self.cum);
        if c.len() < 2 || f.is_nan() || f <= e[0] {
            return 0.0;
        }
        let last = c.len() - 1;
        if f >= e[last] {
            return c[last];
        }
        // First edge above f; the interval below it holds f.
        let j = e.partition_point(|&x| x <= f).clamp(1, last);
        let width = e[j] - e[j - 1];
        let t = if width > 0.0 {
            (f - e[j - 1]) / width
        } else {
            1.0
        };
        c[j - 1] + t * (c[j] - c[j - 1])
    }

    fn integral(&self, lo: f64, hi: f64) -> f64 {
        (self.at(hi) - self.at(lo)).max(0.0)
    }

    fn span(&self) -> (f64, f64) {
        (
            self.edges.first().copied().unwrap_or(0.0),
            self.edges.last().copied().unwrap_or(0.0),
        )
    }

    /// Mean of the function over `[lo, hi]` cut to its support; the value at `lo` when the
    /// interval has no width.
    fn mean(&self, lo: f64, hi: f64) -> f64 {
        let (a, b) = self.span();
        let (lo, hi) = (lo.max(a), hi.min(b));
        if hi > lo {
            self.integral(lo, hi) / (hi - lo)
        } else if lo >= a && lo < b {
            let j = self
                .edges
                .partition_point(|&x| x <= lo)
                .clamp(1, self.edges.len() - 1);
            let width = self.edges[j] - self.edges[j - 1];
            if width > 0.0 {
                (self.cum[j] - self.cum[j - 1]) / width
            } else {
                0.0
            }
        } else {
            0.0
        }
    }
}

/// Bin edges of a one-sided spectrum: bin `k` covers `(k ± 1/2) · bin_hz`, cut to
/// `[0, Nyquist]` (so DC and Nyquist bins are half-width).
fn bin_edges(bins: usize, bin_hz: f64) -> Vec<f64> {
    if bins == 0 {
        return Vec::new();
    }
    let nyquist = (bins - 1) as f64 * bin_hz;
    let mut e = Vec::with_capacity(bins + 1);
    e.push(0.0);
    for k in 1..bins {
        e.push((k as f64 - 0.5) * bin_hz);
    }
    e.push(nyquist);
    e
}

/// Edges of arbitrary sorted sample points: midpoints, the ends extended by half a spacing.
fn point_edges(freqs: &[f64]) -> Vec<f64> {
    let n = freqs.len();
    match n {
        0 => Vec::new(),
        1 => vec![freqs[0], freqs[0]],
        _ => {
            let mut e = Vec::with_capacity(n + 1);
            e.push((freqs[0] - 0.5 * (freqs[1] - freqs[0])).max(0.0));
            e.extend(freqs.windows(2).map(|w| 0.5 * (w[0] + w[1])));
            e.push(freqs[n - 1] + 0.5 * (freqs[n - 1] - freqs[n - 2]));
            e
        }
    }
}

fn bands_of(
    mid_db: &[f64],
    side_db: Option<&[f64]>,
    bin_hz: f64,
    enbw_bins: f64,
    sample_rate: u32,
) -> Vec<Band> {
    let nyquist = f64::from(sample_rate) / 2.0;
    if bin_hz <= 0.0 {
        return Vec::new();
    }
    // Back from the amplitude calibration to power per bin, then to power per Hz.
    let density = |db: &[f64]| {
        let edges = bin_edges(db.len(), bin_hz);
        let widths: Vec<f64> = edges.windows(2).map(|w| w[1] - w[0]).collect();
        let values = db.iter().zip(widths).map(move |(&d, w)| {
            if w > 0.0 {
                db_power(d) / (2.0 * enbw_bins) / w
            } else {
                0.0
            }
        });
        Cumulative::new(edges.clone(), values)
    };
    let mid = density(mid_db);
    let side = side_db.map(density);
    let mut bands = Vec::new();
    for (i, &nominal) in NOMINAL_CENTRES_HZ.iter().enumerate() {
        // IEC 61260 base-2 midband frequencies and edges at ±1/6 octave.
        let centre = 1000.0 * 2f64.powf((i as i32 - KHZ_INDEX) as f64 / 3.0);
        let lo = centre * 2f64.powf(-1.0 / 6.0);
        if lo >= nyquist {
            break;
        }
        let hi = (centre * 2f64.powf(1.0 / 6.0)).min(nyquist);
        bands.push(Band {
            nominal_hz: nominal,
            centre_hz: centre,
            lo_hz: lo,
            hi_hz: hi,
            mid_db: power_db(2.0 * mid.integral(lo, hi)),
            side_db: side.as_ref().map(|s| power_db(2.0 * s.integral(lo, hi))),
        });
    }
    bands
}

/// Fractional-octave smoothing (a rectangular window `fraction` of an octave wide, centred on
/// each point in log frequency, as in Hatziantoniou & Mourjopoulos, "Generalized
/// fractional-octave smoothing of audio and acoustic responses", JAES 48(4), 2000).
///
/// `freqs` (Hz, ascending) and `db` (same length) describe a piecewise-constant spectrum; each
/// output value is the mean *power* of that spectrum over `[f·2^(-fraction/2), f·2^(fraction/2)]`,
/// in dB, at the same frequencies. Where the window is narrower than the spacing of the input
/// (low frequencies of an FFT), the result is the value of the point it falls on. Mismatched
/// lengths use the shorter; a non-positive or NaN `fraction` returns `db` unchanged.
pub fn smooth_octave_fraction(freqs: &[f64], db: &[f64], fraction: f64) -> Vec<f64> {
    let n = freqs.len().min(db.len());
    smooth_at(&freqs[..n], &db[..n], fraction, &freqs[..n])
}

fn smooth_at(freqs: &[f64], db: &[f64], fraction: f64, at_hz: &[f64]) -> Vec<f64> {
    let n = freqs.len().min(db.len());
    if n == 0 {
        return vec![FLOOR_DB; at_hz.len()];
    }
    let edges = point_edges(&freqs[..n]);
    let cum = Cumulative::new(edges, db[..n].iter().map(|&d| db_power(d)));
    let half = if fraction > 0.0 { fraction / 2.0 } else { 0.0 };
    let ratio = 2f64.powf(half);
    at_hz
        .iter()
        .map(|&f| {
            if n == 1 {
                return db[0];
            }
            power_db(cum.mean(f / ratio, f * ratio))
        })
        .collect()
}

/// A log-frequency grid from 20 Hz to just past 20 kHz: `20 · 2^(k / points_per_octave)` Hz for
/// `k = 0 ..= ceil(points_per_octave · log2(1000))` (at least one point per octave). For
/// plotting smoothed spectra (`Spectrum::smoothed_at`) without thousands of bins.
pub fn log_grid(points_per_octave: usize) -> Vec<f64> {
    let ppo = points_per_octave.max(1) as f64;
    let last = (ppo * 1000f64.log2()).ceil() as usize;
    (0..=last)
        .map(|k| 20.0 * 2f64.powf(k as f64 / ppo))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{pinked, white};
    use std::f64::consts::TAU;

    fn band(s: &Spectrum, nominal: f64) -> &Band {
        s.bands.iter().find(|b| b.nominal_hz == nominal).unwrap()
    }

    #[test]
    fn fft_length_scales_with_rate() {
        assert_eq!(fft_len_for(44_100), 8192);
        assert_eq!(fft_len_for(48_000), 8192);
        assert_eq!(fft_len_for(96_000), 16_384);
        assert_eq!(fft_len_for(22_050), 4096);
        assert_eq!(fft_len_for(0), 256);
    }

    /// A full-scale 1 kHz sine reads 0 dBFS in its 1/3-octave band (power sum) and within the
    /// Hann scalloping loss in its peak bin; a bin-centred full-scale sine reads 0 dB in its bin.
    #[test]
    fn full_scale_sine_reads_0_dbfs() {
        for rate in [44_100, 48_000] {
            let n = rate as usize * 2;
            let s: Vec<f32> = (0..n)
                .map(|i| (TAU * 1000.0 * i as f64 / f64::from(rate)).sin() as f32)
                .collect();
            let sp = long_term_spectrum(&[s.clone(), s], rate);
            let b = band(&sp, 1000.0);
            assert!(b.mid_db.abs() < 0.1, "band at {rate}: {}", b.mid_db);
            assert!(b.side_db.unwrap() < -150.0);
            let peak = sp.mid_db.iter().copied().fold(FLOOR_DB, f64::max);
            assert!((-1.43..0.01).contains(&peak), "peak bin at {rate}: {peak}");
            // The neighbouring bands hold only window leakage.
            assert!(band(&sp, 800.0).mid_db < -60.0);
            assert!(band(&sp, 1250.0).mid_db < -60.0);

            let centred = 171.0 * f64::from(rate) / sp.fft_len as f64;
            let s: Vec<f32> = (0..n)
                .map(|i| (TAU * centred * i as f64 / f64::from(rate)).sin() as f32)
                .collect();
            let sp = long_term_spectrum(&[s], rate);
            assert!(sp.side_db.is_none());
            assert!(
                sp.mid_db[171].abs() < 0.01,
                "bin at {rate}: {}",
                sp.mid_db[171]
            );
        }
    }

    /// White noise: each band holds its share of the power, 2σ²·(hi − lo)/Nyquist, i.e. a
    /// +3 dB/octave rise (±0.5 dB from 100 Hz to 16 kHz, where the bands hold enough bins).
    #[test]
    fn white_noise_rises_3_db_per_octave() {
        let rate = 48_000;
        let x = white(rate as usize * 30, 1, 1.0);
        let sp = long_term_spectrum(&[x], rate);
        let mut worst: f64 = 0.0;
        for b in sp
            .bands
            .iter()
            .filter(|b| (100.0..=16000.0).contains(&b.nominal_hz))
        {
            let expected = 10.0 * (2.0 / 3.0 * (b.hi_hz - b.lo_hz) / 24_000.0).log10();
            worst = worst.max((b.mid_db - expected).abs());
        }
        assert!(worst < 0.5, "worst band error {worst} dB");
        let slope = (band(&sp, 8000.0).mid_db - band(&sp, 125.0).mid_db) / 6.0;
        assert!((slope - 3.01).abs() < 0.1, "slope {slope} dB/octave");
    }

    /// Pink noise is flat in 1/3-octave bands (±0.5 dB of the mean from 50 Hz to 16 kHz).
    #[test]
    fn pink_noise_is_flat_in_third_octaves() {
        let rate = 44_100;
        let x = pinked(&white(rate as usize * 30, 2, 1.0));
        let sp = long_term_spectrum(&[x], rate);
        let levels: Vec<f64> = sp
            .bands
            .iter()
            .filter(|b| (50.0..=16000.0).contains(&b.nominal_hz))
            .map(|b| b.mid_db)
            .collect();
        let mean = levels.iter().sum::<f64>() / levels.len() as f64;
        let worst = levels.iter().map(|l| (l - mean).abs()).fold(0.0, f64::max);
        assert!(worst < 0.5, "worst deviation {worst} dB around {mean}");
    }

    #[test]
    fn loudest_sections_and_their_ranges() {
        let m = [
            None,
            Some(-20.0),
            Some(-10.0),
            None,
            Some(-30.0),
            Some(-10.0),
        ];
        assert_eq!(loudest_sections(&m, 0.5), [2, 5]);
        assert_eq!(loudest_sections(&m, 1.0), [1, 2, 4, 5]);
        assert_eq!(loudest_sections(&m, 0.01), [2]);
        assert!(loudest_sections(&m, 0.0).is_empty());
        assert!(loudest_sections(&m, f64::NAN).is_empty());
        assert!(loudest_sections(&[None, None], 0.5).is_empty());
        // 100 ms steps at 48 kHz: block 5 measures 0.2..0.6 s, block 6 0.3..0.7 s, block 20 1.7..2.1 s.
        assert_eq!(
            momentary_ranges(&[6, 5, 20], 48_000),
            [9_600..33_600, 81_600..100_800]
        );
        assert_eq!(momentary_ranges(&[1], 48_000), vec![0..9_600]);
    }

    /// Restricted to the loud half, the spectrum of "quiet noise, then a loud sine" is the sine's.
    #[test]
    fn loudest_spectrum_ignores_the_quiet_part() {
        let rate = 48_000;
        let mut x = white(rate as usize * 5, 5, 0.01);
        x.extend(
            (0..rate as usize * 5)
                .map(|i| (0.5 * (TAU * 1000.0 * i as f64 / f64::from(rate)).sin()) as f32),
        );
        let steps = x.len().div_ceil(4800);
        // Momentary-loudness stand-in: -9 LUFS for the 400 ms windows wholly inside the sine
        // (blocks 54.., ending at 5.5 s and later), -50 LUFS before.
        let momentary: Vec<Option<f64>> = (0..steps)
            .map(|i| Some(if i < 54 { -50.0 } else { -9.0 }))
            .collect();
        let all = long_term_spectrum(std::slice::from_ref(&x), rate);
        let loud = loudest_spectrum(&[x], rate, &momentary, 0.46);
        assert!(loud.segments < all.segments);
        let noise = band(&all, 4000.0).mid_db - band(&loud, 4000.0).mid_db;
        // None of the noise gets in: the band holds only the sine's far leakage.
        assert!(noise > 60.0, "noise only {noise} dB lower");
        let sine = band(&loud, 1000.0).mid_db - band(&all, 1000.0).mid_db;
        assert!((2.5..4.0).contains(&sine), "sine {sine} dB louder");
    }

    #[test]
    fn smoothing_preserves_flat_and_averages_power() {
        let freqs: Vec<f64> = (0..1000).map(|k| k as f64 * 10.0).collect();
        let flat = vec![-20.0; 1000];
        let s = smooth_octave_fraction(&freqs, &flat, 1.0 / 3.0);
        assert!(s.iter().skip(1).all(|v| (v + 20.0).abs() < 1e-9));
        // Alternating 0 / -inf-ish bins average to half the power: -3 dB.
        let alt: Vec<f64> = (0..1000)
            .map(|k| if k % 2 == 0 { 0.0 } else { FLOOR_DB })
            .collect();
        let s = smooth_octave_fraction(&freqs, &alt, 1.0 / 3.0);
        assert!((s[500] + 3.01).abs() < 0.05, "{}", s[500]);
        assert_eq!(smooth_octave_fraction(&freqs, &flat, 0.0)[10], -20.0);
        assert!(smooth_octave_fraction(&[], &[], 1.0 / 3.0).is_empty());
    }

    #[test]
    fn log_grid_spans_the_audio_band() {
        let g = log_grid(12);
        assert_eq!(g.len(), 121);
        assert!((g[120] - 20_480.0).abs() < 1e-6);
        assert_eq!(log_grid(0).len(), 11);
    }

    /// No panics and no NaN on degenerate input.
    #[test]
    fn degenerate_inputs() {
        let cases: Vec<(Vec<Vec<f32>>, u32)> = vec![
            (vec![], 48_000),
            (vec![vec![]], 48_000),
            (vec![vec![0.0; 10]], 48_000),
            (vec![vec![0.5; 100], vec![0.5; 60]], 44_100),
            (vec![vec![0.0; 48_000], vec![0.0; 48_000]], 48_000),
            (
                vec![[f32::NAN, 1.0, f32::INFINITY, -1.0].repeat(300)],
                8_000,
            ),
            (vec![vec![0.1; 1000]], 0),
            (vec![vec![0.1; 5000]; 3], 1),
        ];
        for (planes, rate) in cases {
            let s = long_term_spectrum(&planes, rate);
            let all = s
                .mid_db
                .iter()
                .chain(s.side_db.iter().flatten())
                .chain(s.bands.iter().map(|b| &b.mid_db));
            for v in all {
                assert!(v.is_finite(), "{planes:?} {rate}");
            }
            assert!(width_ratio(&s, &s).is_finite());
            let d = band_differences(&s, &s);
            let _ = summarize(&d, 1.0, 5);
            let _ = loudest_spectrum(&planes, rate, &[Some(-10.0); 3], 0.5);
            let backwards = vec![std::ops::Range { start: 5, end: 2 }];
            let _ = long_term_spectrum_in(&planes, rate, &backwards);
            assert!(serde_json::to_string(&s).is_ok());
        }
        let silent = long_term_spectrum(&[vec![0.0; 48_000]], 48_000);
        assert!(band_differences(&silent, &silent).is_empty());
        assert!(summarize(&[], 1.0, 5).is_empty());
    }
}
