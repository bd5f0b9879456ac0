//! Long-term spectrum of a finished signal, its comparison with a reference, and the
//! reference-matching EQ curve.
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

use std::ops::Range;

use realfft::RealFftPlanner;
use serde::Serialize;

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

/// Largest correction of the matching curve, dB either way: beyond this a "match" is more
/// likely a different arrangement than a tonal-balance problem, and boosting by more than
/// 12 dB mostly raises noise.
pub const MAX_CORRECTION_DB: f64 = 12.0;

/// A point of the matching curve is trusted only where both smoothed spectra are within this
/// many dB of their own loudest point (and above [`SILENT_DB`]); elsewhere the curve is 0 dB,
/// so an empty region (a low-passed top octave) is not boosted into noise.
pub const MATCH_RANGE_DB: f64 = 80.0;

/// Default share of the momentary blocks [`loudest_spectrum`] keeps for reference matching:
/// the louder half.
pub const LOUDEST_FRACTION: f64 = 0.5;

/// Default threshold of [`summarize`]: band differences smaller than this are not findings, dB.
pub const SUMMARY_THRESHOLD_DB: f64 = 1.0;

/// Default number of lines of [`summarize`].
pub const SUMMARY_LINES: usize = 5;

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
/// `loudness::analyze_program`, one value per `ceil(rate / 10)` samples) is the 400 ms window
/// ending at the end of 100 ms step `i`. Overlapping windows are merged; ascending.
pub fn momentary_ranges(blocks: &[usize], sample_rate: u32) -> Vec<Range<usize>> {
    let step = (sample_rate as usize).div_ceil(10);
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

fn power_db(p: f64) -> f64 {
    if p > 0.0 && p.is_finite() {
        (10.0 * p.log10()).max(FLOOR_DB)
    } else {
        FLOOR_DB
    }
}

fn db_power(db: f64) -> f64 {
    if db <= FLOOR_DB || db.is_nan() {
        0.0
    } else {
        10f64.powf(db / 10.0)
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

/// The difference of one 1/3-octave band between a signal and a reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandDelta {
    /// Nominal centre (IEC 61260), Hz.
    pub centre_hz: f64,
    /// Band edges, Hz.
    pub lo_hz: f64,
    pub hi_hz: f64,
    /// Mid level of the signal and of the reference, dBFS (see [`Band`]).
    pub level_db: f64,
    pub reference_db: f64,
    /// `level_db − reference_db`, dB.
    pub delta_db: f64,
    /// `delta_db` minus the overall level difference (the median of `delta_db` over the
    /// compared bands), dB: the tonal-balance difference, so a louder file does not read as
    /// "more everything". The median rather than the mean, so a deficit in a few bands does
    /// not shift the others.
    pub relative_db: f64,
}

/// Band-by-band mid difference of `a` relative to the reference `b`. Bands are compared where
/// both spectra have them with the same edges (a band cut by a lower Nyquist frequency is left
/// out) and neither is silent (at or below [`SILENT_DB`]).
pub fn band_differences(a: &Spectrum, b: &Spectrum) -> Vec<BandDelta> {
    let mut out: Vec<BandDelta> = a
        .bands
        .iter()
        .filter_map(|x| {
            let y = b.bands.iter().find(|y| y.nominal_hz == x.nominal_hz)?;
            let same_edges = (x.hi_hz - y.hi_hz).abs() <= 1e-9 * x.hi_hz;
            (same_edges && x.mid_db > SILENT_DB && y.mid_db > SILENT_DB).then_some(BandDelta {
                centre_hz: x.nominal_hz,
                lo_hz: x.lo_hz,
                hi_hz: x.hi_hz,
                level_db: x.mid_db,
                reference_db: y.mid_db,
                delta_db: x.mid_db - y.mid_db,
                relative_db: 0.0,
            })
        })
        .collect();
    let offset = median(out.iter().map(|d| d.delta_db).collect());
    for d in &mut out {
        d.relative_db = d.delta_db - offset;
    }
    out
}

/// Median of finite values; 0 for none.
fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

/// Plain-language findings from [`band_differences`], largest first, at most `max_lines`:
/// adjacent bands whose level-normalised difference (`relative_db`) has the same sign and is at
/// least `threshold_db` form one range, reported as the energy ratio of the range (power sums of
/// its bands, less the same overall offset), e.g. "2.1 dB less energy 63–125 Hz than the
/// reference". With nothing over the threshold the one line says so; with no comparable bands
/// the result is empty. See [`SUMMARY_THRESHOLD_DB`] and [`SUMMARY_LINES`] for defaults.
pub fn summarize(deltas: &[BandDelta], threshold_db: f64, max_lines: usize) -> Vec<String> {
    if deltas.is_empty() {
        return Vec::new();
    }
    let threshold = if threshold_db.is_finite() {
        threshold_db.abs()
    } else {
        SUMMARY_THRESHOLD_DB
    };
    let offset = median(deltas.iter().map(|d| d.delta_db).collect());
    let band_index = |d: &BandDelta| NOMINAL_CENTRES_HZ.iter().position(|&c| c == d.centre_hz);
    // Runs of adjacent bands over the threshold with the same sign.
    let mut runs: Vec<Vec<&BandDelta>> = Vec::new();
    for d in deltas {
        if d.relative_db.abs() < threshold || !d.relative_db.is_finite() {
            continue;
        }
        let joins = runs.last().and_then(|run| run.last()).is_some_and(|p| {
            p.relative_db.signum() == d.relative_db.signum()
                && matches!((band_index(p), band_index(d)), (Some(i), Some(j)) if j == i + 1)
        });
        if joins {
            if let Some(run) = runs.last_mut() {
                run.push(d);
            }
        } else {
            runs.push(vec![d]);
        }
    }
    if runs.is_empty() {
        return vec![format!(
            "no band differs from the reference by {threshold:.1} dB or more (level-matched)"
        )];
    }
    let mut findings: Vec<(f64, String)> = runs
        .iter()
        .map(|run| {
            let own: f64 = run.iter().map(|d| db_power(d.level_db)).sum();
            let reference: f64 = run.iter().map(|d| db_power(d.reference_db)).sum();
            let delta = power_db(own) - power_db(reference) - offset;
            let range = match (run.first(), run.last()) {
                (Some(a), Some(b)) if run.len() > 1 => freq_range(a.centre_hz, b.centre_hz),
                (Some(a), _) => format!("around {}", freq_label(a.centre_hz)),
                _ => String::new(),
            };
            let word = if delta < 0.0 { "less" } else { "more" };
            (
                delta,
                format!(
                    "{:.1} dB {word} energy {range} than the reference",
                    delta.abs()
                ),
            )
        })
        .collect();
    findings.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    findings
        .into_iter()
        .take(max_lines)
        .map(|(_, s)| s)
        .collect()
}

/// "63 Hz", "31.5 Hz", "1.25 kHz", "10 kHz".
fn freq_label(hz: f64) -> String {
    if hz >= 1000.0 {
        format!("{} kHz", trim(hz / 1000.0))
    } else {
        format!("{} Hz", trim(hz))
    }
}

fn freq_range(lo: f64, hi: f64) -> String {
    match (lo >= 1000.0, hi >= 1000.0) {
        (false, false) => format!("{}–{} Hz", trim(lo), trim(hi)),
        (true, true) => format!("{}–{} kHz", trim(lo / 1000.0), trim(hi / 1000.0)),
        _ => format!("{}–{}", freq_label(lo), freq_label(hi)),
    }
}

/// Up to two decimals, trailing zeros dropped.
fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A correction curve: gain in dB at log-spaced frequencies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GainCurve {
    /// Grid frequencies, ascending, Hz.
    pub freqs_hz: Vec<f64>,
    /// Gain at each grid frequency, dB.
    pub gains_db: Vec<f64>,
}

impl GainCurve {
    /// Gain at `f` Hz, dB: linear interpolation in log frequency between grid points, the end
    /// values held beyond the grid (and for `f <= 0` or NaN); 0 for an empty curve.
    pub fn gain_db(&self, f: f64) -> f64 {
        let (fs, gs) = (&self.freqs_hz, &self.gains_db);
        let n = fs.len().min(gs.len());
        if n == 0 {
            return 0.0;
        }
        if f.is_nan() || f <= fs[0] {
            return gs[0];
        }
        if f >= fs[n - 1] {
            return gs[n - 1];
        }
        let j = fs[..n].partition_point(|&x| x <= f).clamp(1, n - 1);
        let (a, b) = (fs[j - 1], fs[j]);
        let t = if b > a && a > 0.0 {
            (f / a).ln() / (b / a).ln()
        } else {
            1.0
        };
        gs[j - 1] + t * (gs[j] - gs[j - 1])
    }
}

/// Reference-matching EQ for mid and side, see [`match_curve`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchCurve {
    /// The `amount` the curve was scaled by, 0..1.
    pub amount: f64,
    /// Mid correction.
    pub mid: GainCurve,
    /// Side correction; `None` when either signal is mono or has a silent side.
    pub side: Option<GainCurve>,
}

impl MatchCurve {
    /// Mid gain at `f` Hz, dB (see [`GainCurve::gain_db`]).
    pub fn gain_db(&self, f: f64) -> f64 {
        self.mid.gain_db(f)
    }

    /// Side gain at `f` Hz, dB; 0 without a side curve.
    pub fn side_gain_db(&self, f: f64) -> f64 {
        self.side.as_ref().map_or(0.0, |s| s.gain_db(f))
    }
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

/// The 1/12-octave grid of the matching curve: `log_grid(12)`, 121 points from 20 Hz to
/// 20.5 kHz.
pub fn match_grid() -> Vec<f64> {
    log_grid(12)
}

/// The EQ that moves the tonal balance of `mix` toward `reference`.
///
/// At each point of [`match_grid`]: both spectra 1/3-octave smoothed, the ratio
/// reference / mix in dB; minus its median over the grid (level normalisation: the broadband
/// level is matched by the loudness stage, so the curve only tilts and shapes); limited to
/// ±[`MAX_CORRECTION_DB`]; times `amount` (clamped to 0..1, NaN as 0). Points above either
/// Nyquist frequency, or where either smoothed spectrum is silent or more than
/// [`MATCH_RANGE_DB`] below its own maximum, get 0 dB. Mid and side are matched separately,
/// each with its own normalisation (the side level is [`width_ratio`]'s job).
pub fn match_curve(mix: &Spectrum, reference: &Spectrum, amount: f64) -> MatchCurve {
    let amount = if amount.is_nan() {
        0.0
    } else {
        amount.clamp(0.0, 1.0)
    };
    let grid = match_grid();
    let (mix_mid, mix_side) = mix.smoothed_at(1.0 / 3.0, &grid);
    let (ref_mid, ref_side) = reference.smoothed_at(1.0 / 3.0, &grid);
    let top = mix.nyquist().min(reference.nyquist());
    let mid = curve(&grid, &mix_mid, &ref_mid, top, amount);
    let side = match (mix_side, ref_side) {
        (Some(m), Some(r)) if is_live(&m) && is_live(&r) => Some(curve(&grid, &m, &r, top, amount)),
        _ => None,
    };
    MatchCurve {
        amount,
        mid: GainCurve {
            freqs_hz: grid,
            gains_db: mid,
        },
        side: side.map(|gains_db| GainCurve {
            freqs_hz: match_grid(),
            gains_db,
        }),
    }
}

fn is_live(db: &[f64]) -> bool {
    db.iter().any(|&d| d > SILENT_DB)
}

fn curve(grid: &[f64], mix: &[f64], reference: &[f64], top_hz: f64, amount: f64) -> Vec<f64> {
    let max = |v: &[f64]| v.iter().copied().fold(FLOOR_DB, f64::max);
    let (mix_max, ref_max) = (max(mix), max(reference));
    let raw: Vec<Option<f64>> = grid
        .iter()
        .zip(mix.iter().zip(reference))
        .map(|(&f, (&m, &r))| {
            let trusted = f < top_hz
                && m > SILENT_DB
                && r > SILENT_DB
                && m > mix_max - MATCH_RANGE_DB
                && r > ref_max - MATCH_RANGE_DB;
            trusted.then_some(r - m)
        })
        .collect();
    let offset = median(raw.iter().flatten().copied().collect());
    raw.iter()
        .map(|d| {
            d.map_or(0.0, |d| {
                amount * (d - offset).clamp(-MAX_CORRECTION_DB, MAX_CORRECTION_DB)
            })
        })
        .collect()
}

/// Side-to-mid energy ratio of `reference` over that of `mix` (energies summed over the
/// 1/3-octave bands, 18 Hz–22 kHz): the factor by which the mix's side energy should be scaled
/// to match the reference's width (side gain `sqrt(ratio)`). Limited to 1/16..16 (±12 dB of side
/// level); 1 (no change) when it is undefined: either signal mono, silent, or a mix without side
/// to scale.
pub fn width_ratio(mix: &Spectrum, reference: &Spectrum) -> f64 {
    let side_over_mid = |s: &Spectrum| -> Option<f64> {
        let mid: f64 = s.bands.iter().map(|b| db_power(b.mid_db)).sum();
        let side: f64 = s
            .bands
            .iter()
            .map(|b| b.side_db.map(db_power))
            .sum::<Option<f64>>()?;
        (mid > 0.0 && s.segments > 0).then_some(side / mid)
    };
    match (side_over_mid(mix), side_over_mid(reference)) {
        (Some(m), Some(r)) if m > 0.0 && (m / r).is_finite() => (r / m).clamp(1.0 / 16.0, 16.0),
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    /// xorshift64*: a deterministic noise source for the tests.
    struct Rng(u64);
    impl Rng {
        /// Uniform in [-1, 1): variance 1/3.
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
            (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    fn white(n: usize, seed: u64) -> Vec<f64> {
        let mut r = Rng(seed);
        (0..n).map(|_| r.uniform()).collect()
    }

    /// Paul Kellett's "refined" pinking filter (a −3 dB/octave slope within ±0.05 dB above
    /// 9.2 Hz at 44.1 kHz; musicdsp.org, 1999).
    fn pinking(x: &[f64]) -> Vec<f64> {
        let mut b = [0.0f64; 7];
        x.iter()
            .map(|&w| {
                b[0] = 0.99886 * b[0] + w * 0.0555179;
                b[1] = 0.99332 * b[1] + w * 0.0750759;
                b[2] = 0.96900 * b[2] + w * 0.1538520;
                b[3] = 0.86650 * b[3] + w * 0.3104856;
                b[4] = 0.55000 * b[4] + w * 0.5329522;
                b[5] = -0.7616 * b[5] - w * 0.0168980;
                let y = b.iter().sum::<f64>() + w * 0.5362;
                b[6] = w * 0.115926;
                0.1 * y
            })
            .collect()
    }

    fn f32s(x: &[f64]) -> Vec<f32> {
        x.iter().map(|&v| v as f32).collect()
    }

    /// Multiply the whole signal's spectrum by `gain_db(f)` (one circular FFT).
    fn apply(x: &[f64], rate: u32, gain_db: impl Fn(f64) -> f64) -> Vec<f64> {
        let n = x.len();
        let mut planner = RealFftPlanner::<f64>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let mut input = x.to_vec();
        let mut spec = fwd.make_output_vec();
        fwd.process(&mut input, &mut spec).unwrap();
        for (k, c) in spec.iter_mut().enumerate() {
            let f = k as f64 * f64::from(rate) / n as f64;
            *c *= 10f64.powf(gain_db(f) / 20.0) / n as f64;
        }
        // The imaginary parts at DC and Nyquist must be zero for the inverse real FFT.
        spec[0].im = 0.0;
        if let Some(last) = spec.last_mut() {
            last.im = 0.0;
        }
        let mut out = inv.make_output_vec();
        inv.process(&mut spec, &mut out).unwrap();
        out
    }

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
        let x = f32s(&white(rate as usize * 30, 1));
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
        let x = f32s(&pinking(&white(rate as usize * 30, 2)));
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

    /// Matching pink noise to pink noise tilted by −3 dB/octave: applying the curve to the mix
    /// brings the level-matched 1/3-octave difference within 1 dB where the tilt needs no more
    /// than the ±12 dB limit (50 Hz–10 kHz, ±11 dB about the pivot), and halves it at amount 0.5.
    #[test]
    fn matching_a_tilted_reference() {
        let rate = 44_100;
        let n = 1 << 20;
        let mix = pinking(&white(n, 3));
        let reference = pinking(&mix);
        let mix_sp = long_term_spectrum(&[f32s(&mix)], rate);
        let ref_sp = long_term_spectrum(&[f32s(&reference)], rate);
        let before = band_differences(&mix_sp, &ref_sp);
        let in_range = |d: &BandDelta| (50.0..=10_000.0).contains(&d.centre_hz);
        let tilt = before
            .iter()
            .filter(|d| in_range(d))
            .fold(0.0f64, |m, d| m.max(d.relative_db.abs()));
        assert!(tilt > 10.0, "the test tilt itself: {tilt}");

        for amount in [1.0, 0.5] {
            let c = match_curve(&mix_sp, &ref_sp, amount);
            assert!(c.side.is_none());
            let matched = apply(&mix, rate, |f| c.gain_db(f.max(1.0)));
            let after = band_differences(&long_term_spectrum(&[f32s(&matched)], rate), &ref_sp);
            let mut worst: f64 = 0.0;
            for (b, a) in before.iter().zip(&after).filter(|(b, _)| in_range(b)) {
                let expected = (1.0 - amount) * b.relative_db;
                worst = worst.max((a.relative_db - expected).abs());
            }
            assert!(worst < 1.0, "amount {amount}: worst residual {worst} dB");
            let cmax = c.mid.gains_db.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            assert!(cmax <= MAX_CORRECTION_DB * amount + 1e-9);
        }
    }

    fn synthetic(levels: impl Fn(f64) -> f64) -> Spectrum {
        let mut s = long_term_spectrum(&[vec![0.0; 48_000]], 48_000);
        for b in &mut s.bands {
            b.mid_db = levels(b.nominal_hz);
        }
        s
    }

    /// A 3 dB bass deficit over 63–125 Hz reads as one finding, and a uniformly louder file
    /// reads as no finding at all.
    #[test]
    fn summary_of_a_bass_deficit() {
        let reference = synthetic(|_| -30.0);
        let mix = synthetic(|f| {
            if (60.0..130.0).contains(&f) {
                -27.0
            } else {
                -24.0
            }
        });
        let lines = summarize(
            &band_differences(&mix, &reference),
            SUMMARY_THRESHOLD_DB,
            SUMMARY_LINES,
        );
        assert_eq!(lines, ["3.0 dB less energy 63–125 Hz than the reference"]);

        let louder = synthetic(|_| -20.0);
        let lines = summarize(&band_differences(&louder, &reference), 1.0, 5);
        assert_eq!(
            lines,
            ["no band differs from the reference by 1.0 dB or more (level-matched)"]
        );
    }

    /// Several findings: largest first, single bands named by their centre, at most `max_lines`.
    #[test]
    fn summary_orders_and_limits_findings() {
        let reference = synthetic(|_| -30.0);
        let mix = synthetic(|f| match f {
            40.0 => -34.0,
            f if (2000.0..=5000.0).contains(&f) => -28.0,
            12_500.0 => -31.5,
            _ => -30.0,
        });
        let d = band_differences(&mix, &reference);
        assert_eq!(
            summarize(&d, 1.0, 5),
            [
                "4.0 dB less energy around 40 Hz than the reference",
                "2.0 dB more energy 2–5 kHz than the reference",
                "1.5 dB less energy around 12.5 kHz than the reference",
            ]
        );
        assert_eq!(summarize(&d, 1.0, 1).len(), 1);
    }

    /// The summary from real signals: pink noise against a copy with 6 dB less from 56 to
    /// 141 Hz (the 63–125 Hz bands). The inner bands read the full 6 dB; the edge bands lose
    /// 0.7–1.2 dB to the Hann main lobe (±2 bins, ±12 Hz, against the 15 Hz width of the 63 Hz
    /// band), so the range reads 5.5 dB: the resolution of an 8192-point FFT at 48 kHz.
    #[test]
    fn summary_from_signals() {
        let rate = 48_000;
        let reference = pinking(&white(1 << 20, 4));
        let lo = 63.0 * 2f64.powf(-1.0 / 6.0);
        let hi = 125.0 * 2f64.powf(1.0 / 6.0);
        let mix = apply(&reference, rate, |f| {
            if (lo..hi).contains(&f) { -6.0 } else { 0.0 }
        });
        let d = band_differences(
            &long_term_spectrum(&[f32s(&mix)], rate),
            &long_term_spectrum(&[f32s(&reference)], rate),
        );
        for x in d
            .iter()
            .filter(|x| x.centre_hz == 80.0 || x.centre_hz == 100.0)
        {
            assert!((x.relative_db + 6.0).abs() < 0.1, "{x:?}");
        }
        let lines = summarize(&d, 1.0, 5);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let db: f64 = lines[0].split(' ').next().unwrap().parse().unwrap();
        assert!((5.0..=6.0).contains(&db), "{lines:?}");
        assert!(lines[0].ends_with("dB less energy 63–125 Hz than the reference"));
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
        let quiet: Vec<f64> = white(rate as usize * 5, 5)
            .iter()
            .map(|x| x * 0.01)
            .collect();
        let mut x = f32s(&quiet);
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
    fn grids() {
        let g = match_grid();
        assert_eq!(g.len(), 121);
        assert!((g[120] - 20_480.0).abs() < 1e-6);
        assert_eq!(log_grid(0).len(), 11);
    }

    #[test]
    fn gain_curve_interpolates_in_log_frequency() {
        let c = GainCurve {
            freqs_hz: vec![100.0, 400.0],
            gains_db: vec![0.0, 6.0],
        };
        assert!((c.gain_db(200.0) - 3.0).abs() < 1e-12);
        assert_eq!(c.gain_db(10.0), 0.0);
        assert_eq!(c.gain_db(1e6), 6.0);
        assert_eq!(c.gain_db(f64::NAN), 0.0);
        let empty = GainCurve {
            freqs_hz: vec![],
            gains_db: vec![],
        };
        assert_eq!(empty.gain_db(1000.0), 0.0);
    }

    #[test]
    fn width_ratio_of_side_energy() {
        let rate = 48_000;
        let a = white(rate as usize * 4, 6);
        let b = white(rate as usize * 4, 7);
        // mix: L = a + 0.5 b, R = a − 0.5 b (side/mid = 0.25); reference: side/mid = 1.
        let mix = [
            f32s(
                &a.iter()
                    .zip(&b)
                    .map(|(x, y)| 0.3 * (x + 0.5 * y))
                    .collect::<Vec<_>>(),
            ),
            f32s(
                &a.iter()
                    .zip(&b)
                    .map(|(x, y)| 0.3 * (x - 0.5 * y))
                    .collect::<Vec<_>>(),
            ),
        ];
        let reference = [
            f32s(
                &a.iter()
                    .zip(&b)
                    .map(|(x, y)| 0.3 * (x + y))
                    .collect::<Vec<_>>(),
            ),
            f32s(
                &a.iter()
                    .zip(&b)
                    .map(|(x, y)| 0.3 * (x - y))
                    .collect::<Vec<_>>(),
            ),
        ];
        let m = long_term_spectrum(&mix, rate);
        let r = long_term_spectrum(&reference, rate);
        let w = width_ratio(&m, &r);
        assert!((w - 4.0).abs() < 0.2, "{w}");
        let mono = long_term_spectrum(&[f32s(&a)], rate);
        assert_eq!(width_ratio(&mono, &r), 1.0);
        // Side curve exists for two stereo spectra.
        assert!(match_curve(&m, &r, 1.0).side.is_some());
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
            let c = match_curve(&s, &s, 1.0);
            assert!(c.mid.gains_db.iter().all(|g| g.is_finite()));
            assert!(c.gain_db(1000.0).is_finite());
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
