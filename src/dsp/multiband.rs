//! Multiband compression for the master: split the signal into 2..5 bands with Linkwitz-Riley
//! crossovers, compress each band on its own, and sum the bands.
//!
//! The split is [`Crossover`]: LR4 (24 dB/oct) pairs in a tree, each band given the all-passes
//! of the crossovers above it, so that the bands sum to the input through one all-pass (flat
//! magnitude; Linkwitz, "Active Crossover Networks for Noncoincident Drivers", JAES 24(1), 1976,
//! and the phase compensation of the crossover module). Each band has its own [`Compressor`],
//! stereo-linked within the band (one gain per band, from the louder channel), so a loud bass
//! ducks only the bass and never moves the stereo image. With every compressor idle the stage is
//! that all-pass: nothing but phase changes, and only around the crossovers. Bands are summed in
//! `f64` and rounded once.
//!
//! Automation: each band's compressor keys follow envelopes as a single compressor's do (the
//! band is [`ParamId::band`]), and so do the crossover frequencies (`freq_hz`, the crossover
//! being the band number). A crossover moved as filters usually move, stepping to each update
//! in 8-frame steps with its low-pass, high-pass and the lower bands' all-pass copies retuned
//! together and their states carried over, sums flat while it sweeps (a 1 s sweep 1 kHz ->
//! 8 kHz: 81 dB down against the input through the same moving all-passes, 48 kHz, white
//! noise), but not when it jumps: the filters' states, built up at the old corner, no longer
//! cancel at the new one, and a step 1 kHz -> 8 kHz left an error 35 dB below the input over
//! the worst 1024 frames (30 dB stepping back down, 48 dB for a one-octave step). Envelopes may
//! step, so each crossover glides: it follows its updates (ramped across the block in octaves)
//! through a one-pole smoother in log frequency with [`CROSSOVER_GLIDE_MS`], and the moving
//! crossovers are retuned at the glided frequency every [`GLIDE_STEP`] frames (coefficients
//! in f64), the block split in those pieces. A step is then a sweep of about a hundred
//! milliseconds. Measured by `a_moving_crossover_glides_and_the_bands_sum_flat` (white noise,
//! crossovers at 100 Hz and 1 kHz, the worst 1024 frames' error against the input through the
//! all-passes of the corners each step was split at): the step 1 kHz -> 8 kHz and back stays
//! 54 dB down at 44.1 and 48 kHz, the 1 s sweep 79-80 dB, where the same step without the
//! glide (the corner jumping to each update within one step) is only 14-18 dB down. A
//! multiband whose crossovers do not move splits each block whole, as without automation.

use super::biquad::{GLIDE_STEP, to_f32};
use super::config::MultibandConfig;
use super::crossover::Crossover;
use super::dynamics::Compressor;
use super::envelope::{ParamId, ParamKey};
use super::{ProcessSpec, Processor};

/// Time constant of the glide a moving crossover follows, ms: a corner that jumps (a `step`
/// envelope) sweeps to its new frequency over a few tens of ms instead, which keeps the bands
/// summing flat (see the module docs for the figures).
pub const CROSSOVER_GLIDE_MS: f64 = 30.0;

/// A glided corner is taken as arrived when it is this close to its target, octaves (a change
/// of coefficients far below anything the f32 output can show).
const GLIDE_SNAP_OCT: f64 = 1e-6;

/// One crossover frequency under automation, in log2 Hz: each update is ramped to over the next
/// block (linearly in octaves, at the ends of [`GLIDE_STEP`]-frame steps), and the corner
/// follows that ramp through a one-pole smoother with [`CROSSOVER_GLIDE_MS`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Corner {
    /// The update reached by the last block and the one the next block ramps to, log2 Hz.
    from: f64,
    to: f64,
    /// The glided corner, log2 Hz.
    now: f64,
    /// The latest update in Hz, exactly as given (where the corner comes to rest).
    hz: f64,
}

impl Corner {
    fn new(hz: f64) -> Self {
        let l = hz.log2();
        Corner {
            from: l,
            to: l,
            now: l,
            hz,
        }
    }

    fn set(&mut self, hz: f64) {
        self.hz = hz;
        self.to = hz.log2();
    }

    /// Whether the corner moves in the next block.
    fn moving(&self) -> bool {
        self.from != self.to || self.now != self.to
    }

    /// Advance the glide to frame `end` of a block of `n` frames, `decay` being the smoother's
    /// factor over the frames since the last call: the corner's frequency there, Hz.
    fn advance(&mut self, end: usize, n: usize, decay: f64) -> f64 {
        let target = if end >= n {
            self.to
        } else {
            self.from + (self.to - self.from) * end as f64 / n as f64
        };
        self.now = target + decay * (self.now - target);
        if target == self.to && (self.now - self.to).abs() < GLIDE_SNAP_OCT {
            self.now = self.to;
            return self.hz;
        }
        self.now.exp2()
    }

    /// The block is done: the ramp rests at the latest update.
    fn settle(&mut self) {
        self.from = self.to;
    }
}

/// The `multiband` processor.
#[derive(Debug, Clone)]
pub struct Multiband {
    /// Where the crossovers are set (the latest update of an automated one), Hz.
    crossovers_hz: Vec<f64>,
    /// The lowest frequency each crossover's envelope reaches (its tail rings longest), Hz.
    lowest_hz: Vec<f64>,
    /// The crossovers' glides (at rest unless automated).
    corners: Vec<Corner>,
    /// The glide's one-pole factor over [`GLIDE_STEP`] frames and its time constant in frames.
    step_decay: f64,
    glide_frames: f64,
    compressors: Vec<Compressor>,
    /// Built in `prepare`, when the sample rate and channel count are known.
    crossover: Option<Crossover>,
    /// Band signals, `[band][channel][frame]`, `max_block` frames.
    bands: Vec<Vec<Vec<f32>>>,
    /// Sum of the compressed bands, `[channel][frame]`.
    sum: Vec<Vec<f64>>,
    tail: usize,
}

impl Multiband {
    /// A multiband compressor for the validated `cfg`: ascending `crossovers_hz` (1..4 of them,
    /// below Nyquist) and one compressor per band (`crossovers_hz.len() + 1`). Should the counts
    /// disagree, the bands without a compressor pass uncompressed and surplus compressors are
    /// unused. Splits nothing until `prepare`.
    pub fn new(cfg: &MultibandConfig) -> Self {
        Multiband {
            crossovers_hz: cfg.crossovers_hz.clone(),
            lowest_hz: cfg.crossovers_hz.clone(),
            corners: cfg.crossovers_hz.iter().map(|&f| Corner::new(f)).collect(),
            step_decay: 0.0,
            glide_frames: 1.0,
            compressors: cfg.bands.iter().map(Compressor::new).collect(),
            crossover: None,
            bands: Vec::new(),
            sum: Vec::new(),
            tail: 0,
        }
    }

    /// Number of bands: crossovers + 1.
    pub fn bands(&self) -> usize {
        self.crossovers_hz.len() + 1
    }

    /// Current gain reduction of each band in dB (0 = none), lowest band first, for meters;
    /// read between blocks.
    pub fn gain_reduction_db(&self) -> impl Iterator<Item = f64> + '_ {
        self.compressors
            .iter()
            .take(self.bands())
            .map(Compressor::gain_reduction_db)
    }
}

/// Compress the first `n` frames of every stereo band in place with its compressor, the
/// compressors side by side ([`Compressor::process_group`], the same bits as one by one), on
/// arrays built on the stack (`process` allocates nothing). False, touching nothing, unless
/// there are 2 to 5 bands, each with a compressor and two channels.
fn compress_stereo_bands(comps: &mut [Compressor], bands: &mut [Vec<Vec<f32>>], n: usize) -> bool {
    if comps.len() != bands.len() || bands.iter().any(|b| b.len() < 2 || b[0].len() < n) {
        return false;
    }
    match comps.len() {
        2 => compress_group::<2>(comps, bands, n),
        3 => compress_group::<3>(comps, bands, n),
        4 => compress_group::<4>(comps, bands, n),
        5 => compress_group::<5>(comps, bands, n),
        _ => return false,
    }
    true
}

/// [`compress_stereo_bands`] for `B` bands (as many compressors, each band stereo).
fn compress_group<const B: usize>(comps: &mut [Compressor], bands: &mut [Vec<Vec<f32>>], n: usize) {
    let (Ok(comps), Ok(bands)) = (
        <&mut [Compressor; B]>::try_from(comps),
        <&mut [Vec<Vec<f32>>; B]>::try_from(bands),
    ) else {
        return;
    };
    let mut blocks = bands.each_mut().map(|band| {
        let (l, r) = band.split_at_mut(1);
        [&mut l[0][..n], &mut r[0][..n]]
    });
    Compressor::process_group(&mut comps.each_mut(), &mut blocks);
}

impl Processor for Multiband {
    fn name(&self) -> &'static str {
        "multiband"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        let fs = spec.sample_rate;
        let mut x = Crossover::new(&self.crossovers_hz, fs, spec.channels);
        self.bands = x.buffers(spec.max_block);
        self.sum = vec![vec![0.0; spec.max_block]; spec.channels];
        self.tail = x.ring_frames();
        if self.lowest_hz != self.crossovers_hz {
            // The lowest corners an envelope reaches ring longest.
            let low = Crossover::new(&self.lowest_hz, fs, spec.channels);
            self.tail = self.tail.max(low.ring_frames());
        }
        self.crossover = Some(x);
        self.corners = self.crossovers_hz.iter().map(|&f| Corner::new(f)).collect();
        self.glide_frames = (CROSSOVER_GLIDE_MS * fs / 1000.0).max(1.0);
        self.step_decay = (-(GLIDE_STEP as f64) / self.glide_frames).exp();
        for c in &mut self.compressors {
            c.prepare(spec);
        }
    }

    fn reset(&mut self) {
        if let Some(x) = &mut self.crossover {
            x.reset();
        }
        self.compressors.iter_mut().for_each(Compressor::reset);
    }

    /// Channels beyond the prepared count pass through. A block longer than `max_block`
    /// (outside the contract) or an unprepared processor passes the signal through unchanged.
    fn process(&mut self, block: &mut [&mut [f32]]) {
        let Some(x) = &mut self.crossover else {
            return;
        };
        let n = block.iter().map(|c| c.len()).min().unwrap_or(0);
        let nch = block.len().min(self.sum.len());
        if n == 0 || nch == 0 || n > self.sum[0].len() {
            return;
        }
        let block = &mut block[..nch];
        if self.corners.iter().any(Corner::moving) {
            // Retune the moving crossovers every GLIDE_STEP frames, each at the glided
            // frequency of the step's last frame, and split the step with them.
            for o in (0..n).step_by(GLIDE_STEP) {
                let end = (o + GLIDE_STEP).min(n);
                let decay = if end - o == GLIDE_STEP {
                    self.step_decay
                } else {
                    (-((end - o) as f64) / self.glide_frames).exp()
                };
                for (k, c) in self.corners.iter_mut().enumerate() {
                    if c.moving() {
                        x.retune(k, c.advance(end, n, decay));
                    }
                }
                x.split_range(&*block, &mut self.bands, o..end);
            }
            self.corners.iter_mut().for_each(Corner::settle);
        } else {
            x.split(&*block, &mut self.bands);
        }
        for s in &mut self.sum {
            s[..n].fill(0.0);
        }
        if nch == 2 && compress_stereo_bands(&mut self.compressors, &mut self.bands, n) {
            for band in &self.bands {
                for (s, ch) in self.sum.iter_mut().zip(band) {
                    for (a, &v) in s[..n].iter_mut().zip(&ch[..n]) {
                        *a += f64::from(v);
                    }
                }
            }
        } else {
            // Each band is copied into the block and compressed there: the block is the one
            // `&mut [&mut [f32]]` at hand, and building another per call would allocate.
            for (k, band) in self.bands.iter().enumerate() {
                for (dst, src) in block.iter_mut().zip(band) {
                    dst[..n].copy_from_slice(&src[..n]);
                }
                if let Some(c) = self.compressors.get_mut(k) {
                    c.process(block);
                }
                for (s, ch) in self.sum.iter_mut().zip(block.iter()) {
                    for (a, &v) in s[..n].iter_mut().zip(&ch[..n]) {
                        *a += f64::from(v);
                    }
                }
            }
        }
        for (ch, s) in block.iter_mut().zip(&self.sum) {
            for (y, &v) in ch[..n].iter_mut().zip(&s[..n]) {
                *y = to_f32(v);
            }
        }
    }

    /// A band's compressor key (`param.band`, lowest band 0), as the compressor takes it, or a
    /// crossover's frequency in Hz (`freq_hz`, `param.band` the crossover, lowest 0), which
    /// glides there (see [`CROSSOVER_GLIDE_MS`]).
    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        if param.key == ParamKey::FreqHz {
            let k = param.band;
            if k >= self.crossovers_hz.len() || !value.is_finite() || value <= 0.0 {
                return false;
            }
            self.crossovers_hz[k] = value;
            self.lowest_hz[k] = self.lowest_hz[k].min(value);
            self.corners[k].set(value);
            return true;
        }
        self.compressors
            .get_mut(param.band)
            .is_some_and(|c| c.set_param(param, value))
    }

    /// Ringing of the longest band path through the crossover filters (120 dB decay).
    fn tail(&self) -> usize {
        self.tail
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use super::Multiband;
    use crate::dsp::Processor;
    use crate::dsp::biquad::test_util::{bins, spectrum};
    use crate::dsp::config::{CompressorConfig, Detector, MultibandConfig};
    use crate::dsp::crossover::Crossover;
    use crate::dsp::dynamics::static_gain_db;
    use crate::dsp::{db_to_gain, gain_to_db};
    use crate::testkit::{assert_invariants, run, spec};

    const RATES: [f64; 2] = [44100.0, 48000.0];

    /// A compressor that does nothing: ratio 1, no makeup.
    fn idle() -> CompressorConfig {
        CompressorConfig {
            threshold_db: -30.0,
            ratio: 1.0,
            knee_db: 6.0,
            attack_ms: 5.0,
            release_ms: 100.0,
            makeup_db: 0.0,
            detector: Detector::Peak,
            mix: 1.0,
            sidechain: None,
        }
    }

    fn cfg(crossovers_hz: &[f64], bands: Vec<CompressorConfig>) -> MultibandConfig {
        MultibandConfig {
            crossovers_hz: crossovers_hz.to_vec(),
            bands,
        }
    }

    fn prepared(c: &MultibandConfig, fs: f64) -> Multiband {
        let mut m = Multiband::new(c);
        m.prepare(&spec(fs));
        m
    }

    /// With every compressor idle the stage is the crossovers' all-pass: flat within 0.1 dB
    /// from 20 Hz to 20 kHz (FFT of the impulse response), with the all-pass's phase.
    #[test]
    fn idle_compressors_sum_flat() {
        let sets: [&[f64]; 3] = [&[1000.0], &[120.0, 2500.0], &[60.0, 250.0, 1500.0, 7000.0]];
        let len = 1 << 16;
        let mut worst: f64 = 0.0;
        for fs in RATES {
            for freqs in sets {
                let c = cfg(freqs, vec![idle(); freqs.len() + 1]);
                let mut m = prepared(&c, fs);
                let mut x = vec![vec![0.0f32; len]; 2];
                x[0][0] = 1.0;
                x[1][0] = 1.0;
                let y = run(&mut m, &x, 1000);
                assert_eq!(y[0], y[1]);
                let ir: Vec<f64> = y[0].iter().map(|&v| f64::from(v)).collect();
                let h = spectrum(&ir);
                let xo = Crossover::new(freqs, fs, 2);
                let mut set_worst: f64 = 0.0;
                for (k, f) in bins(len, fs, 20.0, 20000.0) {
                    set_worst = set_worst.max(gain_to_db(h[k].norm()).abs());
                    let d = (h[k] - xo.sum_response(f)).norm();
                    assert!(
                        d < 1e-5,
                        "{freqs:?} at {fs} Hz: {f} Hz off the all-pass by {d}"
                    );
                }
                println!("{fs} Hz, crossovers {freqs:?}: flat within {set_worst:.2e} dB");
                worst = worst.max(set_worst);
            }
        }
        assert!(worst < 0.1, "{worst} dB");
    }

    /// Amplitude of the `f` Hz component of `y[from..from + m]` (correlation; `m` must span
    /// whole cycles).
    fn amplitude(y: &[f32], fs: f64, f: f64, from: usize, m: usize) -> f64 {
        let (mut s, mut c) = (0.0, 0.0);
        for (i, &v) in y[from..from + m].iter().enumerate() {
            let ph = 2.0 * PI * f * (from + i) as f64 / fs;
            s += f64::from(v) * ph.sin();
            c += f64::from(v) * ph.cos();
        }
        2.0 * (s * s + c * c).sqrt() / m as f64
    }

    /// The top band's compressor of the two tests below: RMS detector, -30 dB at 4:1.
    fn loud_top_band() -> CompressorConfig {
        CompressorConfig {
            threshold_db: -30.0,
            ratio: 4.0,
            knee_db: 6.0,
            attack_ms: 5.0,
            release_ms: 200.0,
            makeup_db: 2.0,
            detector: Detector::Rms,
            ..idle()
        }
    }

    /// A loud tone in the top band is compressed by that band's static curve, a quiet tone in
    /// the middle band passes. The expectation is analytic: the top band's detector sees the
    /// tone through that band's filter (RMS of a sine: amplitude / sqrt 2), [`static_gain_db`]
    /// gives the settled gain `g`, and the output at the tone's frequency is
    /// `|g B2 + B1 + B0|` (`Bk` the band responses), the crossover leakage included.
    #[test]
    fn loud_band_follows_static_curve_quiet_band_passes() {
        let top = loud_top_band();
        let other = CompressorConfig {
            threshold_db: -20.0,
            ratio: 3.0,
            makeup_db: 0.0,
            ..top.clone()
        };
        let freqs = [120.0, 2500.0];
        let c = cfg(&freqs, vec![other.clone(), other, top.clone()]);
        for fs in RATES {
            let (f_loud, a_loud) = (8000.0, 0.5);
            let (f_quiet, a_quiet) = (500.0, 0.05);
            let n = (1.5 * fs) as usize;
            let x: Vec<f32> = (0..n)
                .map(|i| {
                    let t = i as f64 / fs;
                    (a_loud * (2.0 * PI * f_loud * t).sin()
                        + a_quiet * (2.0 * PI * f_quiet * t).sin()) as f32
                })
                .collect();
            let mut m = prepared(&c, fs);
            let y = run(&mut m, &[x.clone(), x], 512);
            // The last 0.2 s: whole cycles of both tones at both rates.
            let len = (0.2 * fs) as usize;
            let got_loud = gain_to_db(amplitude(&y[0], fs, f_loud, n - len, len) / a_loud);
            let got_quiet = gain_to_db(amplitude(&y[0], fs, f_quiet, n - len, len) / a_quiet);

            let xo = Crossover::new(&freqs, fs, 2);
            let b: Vec<_> = (0..3).map(|k| xo.band_response(k, f_loud)).collect();
            let level = gain_to_db(a_loud * b[2].norm() / 2f64.sqrt());
            let g_db = static_gain_db(&top, level) + top.makeup_db;
            let g = db_to_gain(g_db);
            let want_loud = gain_to_db((b[2] * g + b[1] + b[0]).norm());
            // The quiet tone leaks into the top band (-56 dB) and is turned down with it there.
            let q: Vec<_> = (0..3).map(|k| xo.band_response(k, f_quiet)).collect();
            let want_quiet = gain_to_db((q[2] * g + q[1] + q[0]).norm());
            let gr: Vec<f64> = m.gain_reduction_db().collect();
            println!(
                "{fs} Hz: loud {f_loud} Hz tone {got_loud:.4} dB (static curve + makeup \
                 {g_db:.4} dB, with leakage {want_loud:.4} dB); quiet {f_quiet} Hz tone \
                 {got_quiet:.4} dB (analytic {want_quiet:.4} dB); gain reduction per band \
                 {gr:.3?} dB"
            );
            assert!(
                (got_loud - want_loud).abs() < 0.2,
                "{got_loud} vs {want_loud}"
            );
            assert!(got_quiet.abs() < 0.2, "{got_quiet}");
            assert!(
                (got_quiet - want_quiet).abs() < 0.01,
                "{got_quiet} vs {want_quiet}"
            );
            assert!(gr[0] == 0.0 && gr[1] == 0.0 && gr[2] > 10.0);
        }
    }

    /// A band's threshold and makeup follow envelopes (named by `band`): the top band's
    /// threshold moves from 0 dB (the tone under it) to -30 dB and its makeup from 0 to 2 dB
    /// over 0.1..0.4 s; the loud tone first passes (within the knee's reach: the crossovers'
    /// all-pass only), then settles on the static curve at the new settings, as the fixed
    /// compressor of `loud_band_follows_static_curve_quiet_band_passes` does, and the other
    /// bands never reduce.
    #[test]
    fn a_band_follows_its_envelopes() {
        use crate::dsp::envelope::{AUTO_BLOCK, ParamId, ParamKey};
        let top = loud_top_band();
        let start = CompressorConfig {
            threshold_db: 0.0,
            makeup_db: 0.0,
            ..top.clone()
        };
        let freqs = [120.0, 2500.0];
        let fs = 48000.0;
        let mut m = Multiband::new(&cfg(&freqs, vec![idle(), idle(), start]));
        let moves = [
            (ParamKey::ThresholdDb, 0.0, top.threshold_db),
            (ParamKey::MakeupDb, 0.0, top.makeup_db),
        ];
        let id = |key| ParamId { key, band: 2 };
        for &(key, from, to) in &moves {
            assert!(m.set_param(id(key), to), "{key:?}");
            assert!(m.set_param(id(key), from));
        }
        m.prepare(&spec(fs));
        let (f, a) = (8000.0, 0.5);
        let n = (1.5 * fs) as usize;
        let x: Vec<f32> = (0..n)
            .map(|i| (a * (2.0 * PI * f * i as f64 / fs).sin()) as f32)
            .collect();
        let (mut l, mut r) = (x.clone(), x);
        let mut gr_before = Vec::new();
        for (k, (pl, pr)) in l
            .chunks_mut(AUTO_BLOCK)
            .zip(r.chunks_mut(AUTO_BLOCK))
            .enumerate()
        {
            let t = ((k + 1) * AUTO_BLOCK - 1) as f64 / fs;
            let u = ((t - 0.1) / 0.3).clamp(0.0, 1.0);
            for &(key, from, to) in &moves {
                assert!(m.set_param(id(key), from + (to - from) * u));
            }
            m.process(&mut [pl, pr]);
            if (k + 1) * AUTO_BLOCK == (0.1 * fs) as usize {
                gr_before = m.gain_reduction_db().collect();
            }
        }
        let len = (0.2 * fs) as usize;
        let got = gain_to_db(amplitude(&l, fs, f, n - len, len) / a);
        let xo = Crossover::new(&freqs, fs, 2);
        let b: Vec<_> = (0..3).map(|k| xo.band_response(k, f)).collect();
        let level = gain_to_db(a * b[2].norm() / 2f64.sqrt());
        let g = db_to_gain(static_gain_db(&top, level) + top.makeup_db);
        let want = gain_to_db((b[2] * g + b[1] + b[0]).norm());
        let gr: Vec<f64> = m.gain_reduction_db().collect();
        println!(
            "top band moved: tone {got:.4} dB (static curve at the new settings {want:.4} dB); \
             reduction per band before {gr_before:.3?}, after {gr:.3?} dB"
        );
        assert!(gr_before.iter().all(|&v| v == 0.0), "{gr_before:?}");
        assert!((got - want).abs() < 0.2, "{got} vs {want}");
        assert!(gr[0] == 0.0 && gr[1] == 0.0 && gr[2] > 10.0, "{gr:?}");
    }

    /// White noise (0.5 peak, a different seed per channel) through idle bands with crossovers
    /// at 100 Hz and `path(frame)` Hz, the upper one set every [`AUTO_BLOCK`] frames to its
    /// value at the update's last frame, as the engine does. The multiband runs in blocks of
    /// one glide step, so the corners each step was split at can be read after it; the
    /// reference is the input through the all-passes of those corners, retuned alike (the band
    /// sum of a crossover that stands still is exactly that). Returns the worst error energy
    /// relative to the reference's over 1024 frames (hop 256), dB. `glide_ms` replaces the
    /// glide's time constant (a tiny one: the corner jumps to each update within a step).
    fn moving_sum_error_db(
        fs: f64,
        n: usize,
        path: &dyn Fn(usize) -> f64,
        glide_ms: Option<f64>,
    ) -> f64 {
        use crate::dsp::biquad::{Cascade, GLIDE_STEP};
        use crate::dsp::crossover::lr4_allpass;
        use crate::dsp::envelope::{AUTO_BLOCK, ParamId, ParamKey};
        use crate::testkit::white;
        let mut m = Multiband::new(&cfg(&[100.0, path(0)], vec![idle(); 3]));
        m.prepare(&spec(fs));
        if let Some(ms) = glide_ms {
            m.glide_frames = ms * fs / 1000.0;
            m.step_decay = (-(GLIDE_STEP as f64) / m.glide_frames).exp();
        }
        let id = ParamId {
            key: ParamKey::FreqHz,
            band: 1,
        };
        let x = [white(n, 11, 0.5), white(n, 12, 0.5)];
        let (mut y, mut r) = (x.clone(), x.clone());
        let mut ap = Cascade::new(vec![lr4_allpass(fs, 100.0), lr4_allpass(fs, path(0))]);
        for o in (0..n).step_by(GLIDE_STEP) {
            let end = (o + GLIDE_STEP).min(n);
            if o % AUTO_BLOCK == 0 {
                assert!(m.set_param(id, path((o + AUTO_BLOCK).min(n) - 1)));
            }
            let [yl, yr] = &mut y;
            m.process(&mut [&mut yl[o..end], &mut yr[o..end]]);
            let f = m.crossover.as_ref().unwrap().freqs();
            ap.set_coeffs(&[lr4_allpass(fs, f[0]), lr4_allpass(fs, f[1])]);
            let [rl, rr] = &mut r;
            ap.process(&mut [&mut rl[o..end], &mut rr[o..end]]);
        }
        let mut worst = f64::NEG_INFINITY;
        for (yc, rc) in y.iter().zip(&r) {
            assert!(yc.iter().all(|v| v.is_finite()));
            for w in (0..n.saturating_sub(1024)).step_by(256) {
                let range = w..w + 1024;
                worst = worst.max(crate::testkit::difference_db(
                    &yc[range.clone()],
                    &rc[range],
                ));
            }
        }
        worst
    }

    /// A crossover that jumps (1 kHz -> 8 kHz at 0.25 s, back at 0.75 s) or sweeps (1 kHz ->
    /// 8 kHz in 1 s, geometrically) glides, and the bands keep summing to the all-pass of the
    /// corners within -40 dB over every 1024 frames. Without the glide the jump would not: the
    /// same measure is checked to exceed -40 dB for it, so the test can tell.
    #[test]
    fn a_moving_crossover_glides_and_the_bands_sum_flat() {
        for fs in RATES {
            let n = fs as usize;
            let (up, down) = (n / 4, 3 * n / 4);
            let step = move |i: usize| {
                if (up..down).contains(&i) {
                    8000.0
                } else {
                    1000.0
                }
            };
            let sweep = move |i: usize| 1000.0 * 8f64.powf(i as f64 / n as f64);
            let glided_step = moving_sum_error_db(fs, n, &step, None);
            let glided_sweep = moving_sum_error_db(fs, n, &sweep, None);
            let unglided_step = moving_sum_error_db(fs, n, &step, Some(1e-6));
            // Each way on its own: the step down rings differently from the step up.
            let glided_up = moving_sum_error_db(fs, down, &step, None);
            println!(
                "{fs} Hz: band-sum error over the worst 1024 frames: step 1k -> 8k -> 1k \
                 {glided_step:.1} dB (up alone {glided_up:.1} dB), 1 s sweep {glided_sweep:.1} dB; \
                 the step unglided {unglided_step:.1} dB"
            );
            assert!(glided_step < -40.0, "{glided_step} dB");
            assert!(glided_up < -40.0, "{glided_up} dB");
            assert!(glided_sweep < -40.0, "{glided_sweep} dB");
            assert!(unglided_step > -40.0, "{unglided_step} dB");
        }
    }

    /// Every crossover swept fast back and forth across the whole range (20 Hz .. 19.95 kHz
    /// together, in 20 ms) for 0.3 s, then jumping between the extremes for 0.1 s: the output stays finite and
    /// bounded, and once the corners rest again the bands sum to the static all-pass.
    #[test]
    fn a_fast_sweep_across_the_range_stays_finite() {
        use crate::dsp::envelope::{AUTO_BLOCK, ParamId, ParamKey};
        use crate::testkit::white;
        let base = [60.0, 250.0, 1500.0, 7000.0];
        for fs in RATES {
            let n = fs as usize;
            let mut m = prepared(&cfg(&base, vec![idle(); 5]), fs);
            let mut reference = prepared(&cfg(&base, vec![idle(); 5]), fs);
            let x = [white(n, 21, 0.5), white(n, 22, 0.5)];
            let mut y = x.clone();
            let period = 0.02 * fs;
            // The factor all corners move by: 1/3 .. 2.85 (60 Hz -> 20 Hz, 7 kHz -> 19.95 kHz).
            let factor = |i: usize| {
                let t = i as f64;
                if t < 0.3 * fs {
                    let u = (t / period).fract();
                    let tri = 1.0 - (2.0 * u - 1.0).abs();
                    (1.0 / 3.0) * (2.85f64 * 3.0).powf(tri)
                } else if t < 0.4 * fs {
                    if ((t / period) as usize).is_multiple_of(2) {
                        2.85
                    } else {
                        1.0 / 3.0
                    }
                } else {
                    1.0
                }
            };
            for o in (0..n).step_by(AUTO_BLOCK) {
                let end = (o + AUTO_BLOCK).min(n);
                for (k, &f) in base.iter().enumerate() {
                    let id = ParamId {
                        key: ParamKey::FreqHz,
                        band: k,
                    };
                    assert!(m.set_param(id, f * factor(end - 1)));
                }
                let [l, r] = &mut y;
                m.process(&mut [&mut l[o..end], &mut r[o..end]]);
            }
            let peak = y.iter().flatten().fold(0.0f32, |a, &v| a.max(v.abs()));
            assert!(y.iter().flatten().all(|v| v.is_finite()));
            // Noise at 0.5 peak through an all-pass: a few times that at most.
            assert!(peak < 4.0, "{fs} Hz: peak {peak}");
            assert_eq!(m.crossover.as_ref().unwrap().freqs(), base);
            // The corners are back at rest by 0.85 s (the glide arrives within 15 time
            // constants of the last jump at 0.4 s): the last 0.15 s are the static
            // multiband's, within -100 dB.
            let want = run(&mut reference, &x, 512);
            let tail = n - (0.15 * fs) as usize..n;
            for (yc, wc) in y.iter().zip(&want) {
                let d = crate::testkit::difference_db(&yc[tail.clone()], &wc[tail.clone()]);
                println!("{fs} Hz: peak {peak:.2}, settled off the static all-pass by {d:.1} dB");
                assert!(d < -100.0, "{d} dB");
            }
        }
    }

    /// A crossover updated to the value it has never moves: the same samples as without the
    /// update, bit for bit.
    #[test]
    fn an_unmoving_crossover_update_changes_nothing() {
        use crate::dsp::envelope::{AUTO_BLOCK, ParamId, ParamKey};
        let c = cfg(&[120.0, 2500.0], vec![idle(), loud_top_band(), idle()]);
        let x = crate::testkit::test_signal(48000.0, 0.5, 0.9);
        let plain = run(&mut prepared(&c, 48000.0), &x, AUTO_BLOCK);
        let mut m = prepared(&c, 48000.0);
        let id = ParamId {
            key: ParamKey::FreqHz,
            band: 1,
        };
        let updated = crate::testkit::run_automated(&mut m, &x, id, &|_| 2500.0, AUTO_BLOCK, false);
        assert_eq!(plain, updated);
        let bad = ParamId {
            key: ParamKey::FreqHz,
            band: 2,
        };
        assert!(!m.set_param(bad, 1000.0) && !m.set_param(id, f64::NAN));
    }

    /// Sidechain keys are not part of the multiband stage: a key is ignored.
    #[test]
    fn key_is_ignored() {
        let c = cfg(
            &[200.0],
            vec![
                CompressorConfig {
                    ratio: 4.0,
                    ..idle()
                };
                2
            ],
        );
        let x = crate::testkit::test_signal(48000.0, 0.3, 0.9);
        let plain = run(&mut prepared(&c, 48000.0), &x, 256);
        let silent = vec![vec![0.0f32; x[0].len()]; 2];
        let keyed = crate::testkit::run_keyed(&mut prepared(&c, 48000.0), &x, Some(&silent), 256);
        assert_eq!(plain, keyed);
    }

    /// A fast, hard-working peak compressor with makeup.
    fn hot() -> CompressorConfig {
        CompressorConfig {
            threshold_db: -24.0,
            ratio: 4.0,
            attack_ms: 2.0,
            release_ms: 80.0,
            makeup_db: 3.0,
            ..idle()
        }
    }

    /// [`hot`] on an RMS detector, mixed in parallel.
    fn parallel_rms() -> CompressorConfig {
        CompressorConfig {
            detector: Detector::Rms,
            mix: 0.6,
            ..hot()
        }
    }

    #[test]
    fn contract_invariants() {
        let (hot, rms) = (hot(), parallel_rms());
        let configs = [
            cfg(
                &[120.0, 2500.0],
                vec![hot.clone(), rms.clone(), hot.clone()],
            ),
            cfg(&[1000.0], vec![idle(), rms.clone()]),
            cfg(&[60.0, 250.0, 1500.0, 7000.0], vec![rms; 5]),
            // Mismatched counts (not produced by validation) must not panic.
            cfg(&[500.0, 5000.0], vec![hot]),
        ];
        for c in &configs {
            for fs in RATES {
                assert_invariants(&|| Box::new(Multiband::new(c)), fs, 0.0);
            }
        }
    }

    /// The stereo output is the definition, bit for bit: every crossover's low- and high-pass
    /// and the bands' all-passes run one filter at a time, each band compressed by its own
    /// compressor alone, the bands summed in f64 in order (for 2 to 5 bands, in blocks).
    #[test]
    fn bands_are_split_compressed_and_summed_as_defined() {
        use crate::dsp::biquad::Cascade;
        use crate::dsp::crossover::{lr4_allpass, lr4_highpass, lr4_lowpass};
        use crate::dsp::dynamics::Compressor;
        use crate::dsp::to_f32;
        let (hot, rms) = (hot(), parallel_rms());
        let sets: [&[f64]; 4] = [
            &[1000.0],
            &[120.0, 2500.0],
            &[80.0, 400.0, 2000.0],
            &[60.0, 250.0, 1500.0, 7000.0],
        ];
        let fs = 48000.0;
        let n = 20_000;
        let mut noise = crate::testkit::Noise::new(31);
        // Noise that gets loud and quiet again, so every compressor works and lets go.
        let level = |i: usize| if (i / 5000) % 2 == 1 { 0.9 } else { 0.05 };
        let x: Vec<Vec<f32>> = (0..2)
            .map(|_| (0..n).map(|i| level(i) * noise.uniform()).collect())
            .collect();
        for freqs in sets {
            let bands: Vec<CompressorConfig> = (0..=freqs.len())
                .map(|b| if b % 2 == 0 { hot.clone() } else { rms.clone() })
                .collect();
            let mut m = prepared(&cfg(freqs, bands.clone()), fs);
            let got = run(&mut m, &x, 3000);
            let nx = freqs.len();
            let mut lp: Vec<Cascade> = freqs
                .iter()
                .map(|&f| Cascade::new(lr4_lowpass(fs, f).to_vec()))
                .collect();
            let mut hp: Vec<Cascade> = freqs
                .iter()
                .map(|&f| Cascade::new(lr4_highpass(fs, f).to_vec()))
                .collect();
            let mut ap: Vec<Cascade> = (0..nx)
                .map(|k| Cascade::new(freqs[k + 1..].iter().map(|&f| lr4_allpass(fs, f)).collect()))
                .collect();
            let mut comps: Vec<Compressor> = bands
                .iter()
                .map(|c| {
                    let mut c = Compressor::new(c);
                    c.prepare(&spec(fs));
                    c
                })
                .collect();
            let mut want = vec![Vec::new(); 2];
            for start in (0..n).step_by(3000) {
                let end = (start + 3000).min(n);
                let mut rest: Vec<[f64; 2]> = (start..end)
                    .map(|i| [f64::from(x[0][i]), f64::from(x[1][i])])
                    .collect();
                let mut split: Vec<Vec<[f64; 2]>> = Vec::new();
                for k in 0..nx {
                    let mut low = rest.clone();
                    lp[k].process_f64(&mut low, 2);
                    hp[k].process_f64(&mut rest, 2);
                    ap[k].process_f64(&mut low, 2);
                    split.push(low);
                }
                split.push(rest);
                let mut sum = vec![[0.0f64; 2]; end - start];
                for (band, c) in split.iter().zip(&mut comps) {
                    let mut l: Vec<f32> = band.iter().map(|v| to_f32(v[0])).collect();
                    let mut r: Vec<f32> = band.iter().map(|v| to_f32(v[1])).collect();
                    c.process(&mut [&mut l[..], &mut r[..]]);
                    for (s, (a, b)) in sum.iter_mut().zip(l.iter().zip(&r)) {
                        s[0] += f64::from(*a);
                        s[1] += f64::from(*b);
                    }
                }
                for (ch, w) in want.iter_mut().enumerate() {
                    w.extend(sum.iter().map(|s| to_f32(s[ch])));
                }
            }
            for ch in 0..2 {
                assert!(
                    got[ch]
                        .iter()
                        .zip(&want[ch])
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{} bands, channel {ch}",
                    nx + 1
                );
            }
        }
    }
}
