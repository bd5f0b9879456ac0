//! Linkwitz-Riley crossovers: split a signal into 2..5 bands whose plain sum is an all-pass.
//!
//! Each crossover is a 4th-order Linkwitz-Riley (LR4) pair: the low band is two cascaded
//! Butterworth 2nd-order low-passes (Q = 1/sqrt(2)), the high band two high-passes, both
//! -6.02 dB at the crossover and 24 dB/oct beyond it, in phase with each other at every
//! frequency (Linkwitz, "Active Crossover Networks for Noncoincident Drivers", JAES 1976). Their
//! sum is the 2nd-order all-pass `(s^2 - sqrt(2) s + 1) / (s^2 + sqrt(2) s + 1)`, because
//! `1 + s^4 = (s^2 + sqrt(2) s + 1)(s^2 - sqrt(2) s + 1)`.
//!
//! More bands use the standard tree: split at the lowest crossover, split the high side again
//! at the next, and so on. Band `k` is taken off before the splits at the crossovers above it,
//! whose outputs recombine only through their all-passes, so band `k` is run through the
//! all-passes of crossovers `k+1..` as well. Then the bands sum to the input through the
//! product of all the crossovers' all-passes: flat magnitude (the usual phase compensation of
//! multiband processors). Coefficients are the Cookbook's (see `biquad`); the bilinear
//! transform keeps the identity `LP + HP = AP` exact in the digital domain.
//!
//! A crossover can move ([`Crossover::retune`]): its low-pass, high-pass and every band's copy
//! of its all-pass are recomputed together at the new frequency, states carried over, so that
//! between two retunings the bands still sum to the product of the all-passes. Splitting a block
//! in pieces ([`Crossover::split_range`]) lets the caller retune between them.

use std::f64::consts::FRAC_1_SQRT_2;

use realfft::num_complex::Complex64;

use super::biquad::{Cascade, Coeffs, cascade_response, cascade_ring_frames, to_f32};

/// LR4 low-pass at `f0` Hz (sample rate `fs` Hz): two Butterworth 2nd-order sections.
pub fn lr4_lowpass(fs: f64, f0: f64) -> [Coeffs; 2] {
    [Coeffs::lowpass(fs, f0, FRAC_1_SQRT_2); 2]
}

/// LR4 high-pass at `f0` Hz: two Butterworth 2nd-order sections.
pub fn lr4_highpass(fs: f64, f0: f64) -> [Coeffs; 2] {
    [Coeffs::highpass(fs, f0, FRAC_1_SQRT_2); 2]
}

/// The all-pass equal to the sum of [`lr4_lowpass`] and [`lr4_highpass`] at `f0` Hz: the
/// Cookbook APF with Q = 1/sqrt(2).
pub fn lr4_allpass(fs: f64, f0: f64) -> Coeffs {
    Coeffs::allpass(fs, f0, FRAC_1_SQRT_2)
}

/// Crossover frequencies are kept at or below this fraction of the sample rate, so a
/// frequency validated at a higher rate cannot make a section unstable.
const MAX_F_RATIO: f64 = 0.499;

/// An N-band Linkwitz-Riley splitter for one or two channels.
#[derive(Debug, Clone)]
pub struct Crossover {
    fs: f64,
    /// The crossover frequencies the filters are tuned to, Hz.
    freqs: Vec<f64>,
    lp: Vec<[Coeffs; 2]>,
    hp: Vec<[Coeffs; 2]>,
    ap: Vec<Coeffs>,
    channels: usize,
    /// The filters with their memory: crossover `k`'s low- and high-pass, and band `k`'s
    /// compensation all-passes (those of the crossovers above it).
    lp_f: Vec<Cascade>,
    hp_f: Vec<Cascade>,
    ap_f: Vec<Cascade>,
    /// The signal above the crossovers split so far, and the band being taken off, in f64.
    rest: Vec<[f64; 2]>,
    low: Vec<[f64; 2]>,
}

impl Crossover {
    /// A crossover at `crossovers_hz` (ascending, each below Nyquist; validation allows 1..=4)
    /// for `channels` channels (1 or 2; more are left alone) at `fs` Hz. Allocates;
    /// [`Crossover::split`] does not once [`Crossover::buffers`] has sized it.
    pub fn new(crossovers_hz: &[f64], fs: f64, channels: usize) -> Self {
        let freqs: Vec<f64> = crossovers_hz
            .iter()
            .map(|f| f.clamp(1e-3, MAX_F_RATIO * fs))
            .collect();
        let lp: Vec<[Coeffs; 2]> = freqs.iter().map(|&f| lr4_lowpass(fs, f)).collect();
        let hp: Vec<[Coeffs; 2]> = freqs.iter().map(|&f| lr4_highpass(fs, f)).collect();
        let ap: Vec<Coeffs> = freqs.iter().map(|&f| lr4_allpass(fs, f)).collect();
        let n = freqs.len();
        Crossover {
            fs,
            lp_f: lp.iter().map(|c| Cascade::new(c.to_vec())).collect(),
            hp_f: hp.iter().map(|c| Cascade::new(c.to_vec())).collect(),
            ap_f: (0..n).map(|k| Cascade::new(ap[k + 1..].to_vec())).collect(),
            lp,
            hp,
            ap,
            freqs,
            channels: channels.min(2),
            rest: Vec::new(),
            low: Vec::new(),
        }
    }

    /// Number of bands: crossovers + 1.
    pub fn bands(&self) -> usize {
        self.lp.len() + 1
    }

    /// Channels this crossover filters.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Zeroed output buffers for [`Crossover::split`]: `[band][channel][frame]`, `frames` long;
    /// sizes the crossover's own buffers too. Call in `prepare` with the largest block.
    pub fn buffers(&mut self, frames: usize) -> Vec<Vec<Vec<f32>>> {
        self.rest = vec![[0.0; 2]; frames];
        self.low = vec![[0.0; 2]; frames];
        vec![vec![vec![0.0; frames]; self.channels()]; self.bands()]
    }

    /// Clear all filter memory (no allocation).
    pub fn reset(&mut self) {
        for c in self
            .lp_f
            .iter_mut()
            .chain(&mut self.hp_f)
            .chain(&mut self.ap_f)
        {
            c.reset();
        }
    }

    /// The crossover frequencies in Hz, as the filters are tuned now (clamped below Nyquist).
    pub fn freqs(&self) -> &[f64] {
        &self.freqs
    }

    /// Move crossover `k` to `hz` (clamped as in [`Crossover::new`]): its low- and high-pass and
    /// the all-pass copies of it that the bands below carry are recomputed at `hz` (Cookbook, in
    /// f64), every filter keeping its state. Allocates nothing; an unknown `k` or a frequency
    /// that is not a positive number is ignored.
    pub fn retune(&mut self, k: usize, hz: f64) {
        if k >= self.freqs.len() || !hz.is_finite() || hz <= 0.0 {
            return;
        }
        let f = hz.clamp(1e-3, MAX_F_RATIO * self.fs);
        if f == self.freqs[k] {
            return;
        }
        self.freqs[k] = f;
        self.lp[k] = lr4_lowpass(self.fs, f);
        self.hp[k] = lr4_highpass(self.fs, f);
        self.ap[k] = lr4_allpass(self.fs, f);
        self.lp_f[k].set_coeffs(&self.lp[k]);
        self.hp_f[k].set_coeffs(&self.hp[k]);
        // Band j carries the all-passes of crossovers j+1.. (see `new`).
        for (j, ap) in self.ap_f[..k].iter_mut().enumerate() {
            ap.set_coeffs(&self.ap[j + 1..]);
        }
    }

    /// Split `input` (planar, one slice per channel) into `bands[band][channel][..frames]`,
    /// band 0 lowest; `frames` is the input length.
    ///
    /// `bands` should come from [`Crossover::buffers`] with at least as many frames as the
    /// input; a processor's `block: &mut [&mut [f32]]` can be passed as `input` as it is.
    /// Anything that does not fit is skipped rather than panicking: only the frames, channels
    /// and bands present in every buffer are written (channels beyond those of
    /// [`Crossover::new`] are ignored). Summing the bands gives the input through the all-pass
    /// of [`Crossover::sum_response`]. The whole block runs through one filter after another
    /// ([`Cascade`]), in f64 between them.
    pub fn split<I: AsRef<[f32]>>(&mut self, input: &[I], bands: &mut [Vec<Vec<f32>>]) {
        self.split_range(input, bands, 0..usize::MAX);
    }

    /// [`Crossover::split`] of the frames `range` of the input only, written to the same frames
    /// of `bands` (the rest of `bands` untouched); the range is cut to the frames present. The
    /// filters carry their state from one call to the next, so splitting a block in consecutive
    /// pieces gives exactly what splitting it whole does, unless the crossover is retuned in
    /// between.
    pub fn split_range<I: AsRef<[f32]>>(
        &mut self,
        input: &[I],
        bands: &mut [Vec<Vec<f32>>],
        range: std::ops::Range<usize>,
    ) {
        let nb = self.bands().min(bands.len());
        let mut channels = self.channels.min(input.len());
        let mut frames = input.iter().map(|c| c.as_ref().len()).min().unwrap_or(0);
        for band in &bands[..nb] {
            channels = channels.min(band.len());
            for ch in &band[..channels] {
                frames = frames.min(ch.len());
            }
        }
        let (start, end) = (range.start, range.end.min(frames));
        if channels == 0 || start >= end {
            return;
        }
        let len = end - start;
        if self.rest.len() < len {
            self.rest.resize(len, [0.0; 2]);
            self.low.resize(len, [0.0; 2]);
        }
        let (rest, low) = (&mut self.rest[..len], &mut self.low[..len]);
        for (c, x) in input.iter().take(channels).enumerate() {
            for (r, &v) in rest.iter_mut().zip(&x.as_ref()[start..end]) {
                r[c] = f64::from(v);
            }
        }
        let n = self.lp.len();
        let filters = self.lp_f.iter_mut().zip(&mut self.hp_f).zip(&mut self.ap_f);
        for (k, ((lp, hp), ap)) in filters.enumerate() {
            low.copy_from_slice(rest);
            Cascade::process_f64_pair(lp, hp, [&mut *low, &mut *rest], channels);
            // Give band k the phase of the crossovers above it (see module docs).
            ap.process_f64(low, channels);
            if let Some(band) = bands[..nb].get_mut(k) {
                write_band(low, band, channels, start);
            }
        }
        if n < nb {
            write_band(rest, &mut bands[n], channels, start);
        }
    }

    /// Analytic transfer function of band `band` at `f` Hz (1 for a band that does not exist).
    pub fn band_response(&self, band: usize, f: f64) -> Complex64 {
        let n = self.lp.len();
        if band > n {
            return Complex64::new(1.0, 0.0);
        }
        let mut h = Complex64::new(1.0, 0.0);
        for hp in &self.hp[..band] {
            h *= cascade_response(hp, f, self.fs);
        }
        if band < n {
            h *= cascade_response(&self.lp[band], f, self.fs);
            h *= cascade_response(&self.ap[band + 1..], f, self.fs);
        }
        h
    }

    /// Analytic transfer function of the sum of all bands at `f` Hz: the product of the
    /// crossovers' all-passes (magnitude 1).
    pub fn sum_response(&self, f: f64) -> Complex64 {
        cascade_response(&self.ap, f, self.fs)
    }

    /// Frames the longest band path rings for (120 dB decay), for a processor's `tail`.
    pub fn ring_frames(&self) -> usize {
        (0..self.bands())
            .map(|band| {
                let hp: Vec<Coeffs> = self.hp[..band].iter().flatten().copied().collect();
                let mut frames = cascade_ring_frames(&hp);
                if band < self.lp.len() {
                    frames = frames
                        .saturating_add(cascade_ring_frames(&self.lp[band]))
                        .saturating_add(cascade_ring_frames(&self.ap[band + 1..]));
                }
                frames
            })
            .max()
            .unwrap_or(0)
    }
}

/// One band's f64 frames to its f32 channel buffers, from frame `start` on.
fn write_band(src: &[[f64; 2]], band: &mut [Vec<f32>], channels: usize, start: usize) {
    for (c, out) in band.iter_mut().take(channels).enumerate() {
        for (o, v) in out[start..].iter_mut().zip(src) {
            *o = to_f32(v[c]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Crossover;
    use crate::dsp::biquad::test_util::{bins, dft_at, spectrum};
    use crate::dsp::gain_to_db;

    const RATES: [f64; 2] = [44100.0, 48000.0];
    /// 1..4 crossovers, neighbours at least 5x apart so each crossover's -6.02 dB is
    /// undisturbed by the others (an LR4 five times away adds 0.014 dB).
    const SETS: [&[f64]; 4] = [
        &[1000.0],
        &[120.0, 2500.0],
        &[100.0, 800.0, 5000.0],
        &[60.0, 300.0, 1500.0, 7500.0],
    ];
    const LEN: usize = 1 << 16;

    /// Impulse responses of every band, `[band][frame]` (channel 0; channel 1 is checked equal).
    fn band_irs(freqs: &[f64], fs: f64) -> Vec<Vec<f64>> {
        let mut x = Crossover::new(freqs, fs, 2);
        let mut input = vec![vec![0.0f32; LEN]; 2];
        input[0][0] = 1.0;
        input[1][0] = 1.0;
        let mut bands = x.buffers(LEN);
        // Two calls of uneven length: state carries across blocks.
        let mut out = x.buffers(LEN);
        let cut = 1000;
        let first: Vec<&[f32]> = input.iter().map(|c| &c[..cut]).collect();
        x.split(&first, &mut bands);
        for (o, b) in out.iter_mut().zip(&bands) {
            for (oc, bc) in o.iter_mut().zip(b) {
                oc[..cut].copy_from_slice(&bc[..cut]);
            }
        }
        let second: Vec<&[f32]> = input.iter().map(|c| &c[cut..]).collect();
        x.split(&second, &mut bands);
        for (o, b) in out.iter_mut().zip(&bands) {
            for (oc, bc) in o.iter_mut().zip(b) {
                oc[cut..].copy_from_slice(&bc[..LEN - cut]);
            }
        }
        out.iter()
            .map(|b| {
                assert_eq!(b[0], b[1], "channels must be split alike");
                b[0].iter().map(|&v| f64::from(v)).collect()
            })
            .collect()
    }

    #[test]
    fn band_sum_is_flat() {
        let mut worst: f64 = 0.0;
        for fs in RATES {
            for freqs in SETS {
                let irs = band_irs(freqs, fs);
                let sum: Vec<f64> = (0..LEN).map(|i| irs.iter().map(|b| b[i]).sum()).collect();
                let h = spectrum(&sum);
                let x = Crossover::new(freqs, fs, 2);
                for (k, f) in bins(LEN, fs, 20.0, 20000.0) {
                    worst = worst.max(gain_to_db(h[k].norm()).abs());
                    // And the phase is the all-passes' (the sum is exactly their product).
                    let d = (h[k] - x.sum_response(f)).norm();
                    assert!(
                        d < 1e-5,
                        "{freqs:?} at {fs}: {f} Hz off the all-pass by {d}"
                    );
                }
            }
        }
        // Measured: 4.2e-7 dB (f32 rounding of the band outputs).
        assert!(worst < 0.1, "band sum deviates {worst} dB from flat");
    }

    /// Each band, measured by FFT, follows the product of LR4 closed forms in the warped
    /// analog frequency `W = tan(pi f / Fs) / tan(pi fc / Fs)`: low-pass `1 / (1 + W^4)`,
    /// high-pass `W^4 / (1 + W^4)`, all-pass 1 (independent of the coefficient code).
    #[test]
    fn bands_follow_the_lr4_closed_form() {
        let mut worst: f64 = 0.0;
        for fs in RATES {
            for freqs in SETS {
                let irs = band_irs(freqs, fs);
                for (band, ir) in irs.iter().enumerate() {
                    let h = spectrum(ir);
                    for (k, f) in bins(LEN, fs, 20.0, 20000.0) {
                        let mut want = 1.0;
                        for (j, &fc) in freqs.iter().enumerate() {
                            let w4 = ((std::f64::consts::PI * f / fs).tan()
                                / (std::f64::consts::PI * fc / fs).tan())
                            .powi(4);
                            if j < band {
                                want *= w4 / (1.0 + w4);
                            } else if j == band {
                                want /= 1.0 + w4;
                            }
                        }
                        if gain_to_db(want) > -60.0 {
                            worst = worst.max((gain_to_db(h[k].norm()) - gain_to_db(want)).abs());
                        }
                    }
                }
            }
        }
        // Measured: 2.8e-4 dB.
        assert!(
            worst < 0.1,
            "bands deviate {worst} dB from the LR4 closed form"
        );
    }

    #[test]
    fn adjacent_bands_are_6_db_down_at_each_crossover() {
        let mut worst: f64 = 0.0;
        for fs in RATES {
            for freqs in SETS {
                let irs = band_irs(freqs, fs);
                for (j, &fc) in freqs.iter().enumerate() {
                    for band in [j, j + 1] {
                        let g = gain_to_db(dft_at(&irs[band], fc, fs).norm());
                        worst = worst.max((g + 6.0206).abs());
                    }
                }
            }
        }
        // Measured: 0.028 dB (a middle band at its edge also sees the crossover five times
        // away on its other side, 0.014 dB each).
        assert!(worst < 0.05, "crossover gain off -6.02 dB by {worst} dB");
    }

    /// Skirts fall 24 dB per octave: the drop over one octave, two to three octaves from the
    /// crossover (analog LR4: 24.05 dB), or one to two octaves (23.59 dB) where three would
    /// pass Fs/10 (beyond which the bilinear warping steepens the skirt). Measured on every
    /// low-pass skirt (band k above crossover k, where only that LR4 acts) and on the
    /// high-pass skirt of band 1 below crossover 0. Measured: low-pass skirts 23.98..24.32 dB,
    /// high-pass skirts 24.05 dB per octave.
    #[test]
    fn skirts_fall_24_db_per_octave() {
        for fs in RATES {
            for freqs in SETS {
                let irs = band_irs(freqs, fs);
                for (k, &fc) in freqs.iter().enumerate() {
                    let far = if 8.0 * fc <= fs / 10.0 {
                        4.0
                    } else if 4.0 * fc <= fs / 10.0 {
                        2.0
                    } else {
                        continue;
                    };
                    let drop = gain_to_db(dft_at(&irs[k], far * fc, fs).norm())
                        - gain_to_db(dft_at(&irs[k], 2.0 * far * fc, fs).norm());
                    assert!(
                        (drop - 24.0).abs() < 1.0,
                        "{freqs:?} band {k}: {drop} dB/oct"
                    );
                }
                let fc = freqs[0];
                let drop = gain_to_db(dft_at(&irs[1], fc / 4.0, fs).norm())
                    - gain_to_db(dft_at(&irs[1], fc / 8.0, fs).norm());
                assert!(
                    (drop - 24.05).abs() < 0.1,
                    "{freqs:?} band 1: {drop} dB/oct"
                );
            }
        }
    }

    #[test]
    fn reset_and_analytic_band_response() {
        let fs = 48000.0;
        let freqs = [100.0, 800.0, 5000.0];
        let mut x = Crossover::new(&freqs, fs, 2);
        assert_eq!((x.bands(), x.channels()), (4, 2));
        let sig = crate::testkit::test_signal(fs, 0.5, 0.8);
        let mut a = x.buffers(sig[0].len());
        let mut b = x.buffers(sig[0].len());
        x.split(&sig, &mut a);
        x.reset();
        // A processor's block goes in as it is.
        let (mut l, mut r) = (sig[0].clone(), sig[1].clone());
        let block: &mut [&mut [f32]] = &mut [&mut l, &mut r];
        x.split(block, &mut b);
        assert_eq!(a, b);
        // Impulse responses against band_response (phase included).
        let irs = band_irs(&freqs, fs);
        for (band, ir) in irs.iter().enumerate() {
            for f in [30.0, 100.0, 800.0, 2000.0, 5000.0, 12000.0] {
                let d = (dft_at(ir, f, fs) - x.band_response(band, f)).norm();
                assert!(d < 1e-5, "band {band} at {f} Hz: {d}");
            }
        }
        assert!(x.ring_frames() > 0 && x.ring_frames() < fs as usize);
    }

    /// A block split in uneven pieces is the block split whole, bit for bit; a crossover
    /// retuned before it has heard anything is a crossover built at the new frequencies (its
    /// low- and high-pass and every band's all-pass copy moved together).
    #[test]
    fn pieces_split_as_the_whole_and_retuning_moves_every_copy() {
        let fs = 48000.0;
        let sig = crate::testkit::test_signal(fs, 0.2, 0.8);
        let n = sig[0].len();
        let mut whole = Crossover::new(&[100.0, 800.0, 5000.0], fs, 2);
        let mut a = whole.buffers(n);
        whole.split(&sig, &mut a);
        let mut pieces = Crossover::new(&[100.0, 800.0, 5000.0], fs, 2);
        let mut b = pieces.buffers(n);
        let mut o = 0;
        for len in [1, 7, 8, 300, 1024, 5].iter().cycle() {
            if o >= n {
                break;
            }
            pieces.split_range(&sig, &mut b, o..o + len);
            o += len;
        }
        assert_eq!(a, b);

        let mut moved = Crossover::new(&[100.0, 800.0, 5000.0], fs, 2);
        moved.retune(1, 2000.0);
        moved.retune(2, 9000.0);
        moved.retune(0, 60.0);
        moved.retune(7, 1.0);
        moved.retune(0, f64::NAN);
        assert_eq!(moved.freqs(), [60.0, 2000.0, 9000.0]);
        let mut fresh = Crossover::new(&[60.0, 2000.0, 9000.0], fs, 2);
        let (mut c, mut d) = (moved.buffers(n), fresh.buffers(n));
        moved.split(&sig, &mut c);
        fresh.split(&sig, &mut d);
        assert_eq!(c, d);
    }

    #[test]
    fn mismatched_buffers_do_not_panic() {
        let mut x = Crossover::new(&[200.0, 2000.0], 48000.0, 2);
        let input = vec![vec![0.5f32; 64]; 3];
        let mut short = vec![vec![vec![0.0f32; 16]; 2]; 3];
        x.split(&input, &mut short);
        assert!(short[0][0].iter().all(|v| *v != 0.0));
        let mut few = vec![vec![vec![0.0f32; 64]; 1]; 1];
        x.split(&input, &mut few);
        let mut none: Vec<Vec<Vec<f32>>> = Vec::new();
        x.split(&input, &mut none);
        let empty: [&[f32]; 0] = [];
        x.split(&empty, &mut short);
        // No crossovers: one band, a copy of the input.
        let mut one = Crossover::new(&[], 48000.0, 2);
        let mut bands = one.buffers(64);
        one.split(&input[..2], &mut bands);
        assert_eq!(bands[0], input[..2]);
    }
}
