//! Convolution reverb: an impulse response (a recorded room, plate or spring) applied by
//! uniformly partitioned FFT convolution, with predelay and a dry/wet blend.
//!
//! [`Convolver`] is the engine: uniformly partitioned overlap-save (UPOLS) with a
//! frequency-domain delay line, as described by Wefers, "Partitioned convolution algorithms for
//! real-time auralization" (Logos, 2015), section 5.3. The impulse response is cut into `P`
//! partitions of `B` frames; each is transformed once (FFT size `2B`). Every `B` input frames, the
//! last `2B` inputs are transformed, pushed onto the delay line of input spectra, multiplied
//! with the partition spectra and summed (`P` complex multiply-adds per bin), and one inverse FFT
//! yields `B` output frames. Input arrives in blocks of any length; it is buffered up to a
//! partition, which costs a latency of `B - 1` frames, reported by [`Processor::latency`] so the
//! engine can align parallel paths. Spectra and accumulation are in `f64`, because a long IR sums
//! hundreds of partition products per bin: the result then matches direct convolution to the
//! rounding of the `f32` output (relative error about 4e-8 in the tests).
//!
//! [`ConvolutionReverb`] wraps it for the `reverb` effect with an `ir` file: it adds predelay,
//! delays the dry signal by the same latency so the blend stays aligned, and mixes. The IR's
//! level is kept as recorded (no normalisation), so an IR that is quiet in its file is quiet in
//! the mix, the same as in any convolution plug-in that does not auto-gain.

use std::sync::Arc;

use rayon::prelude::*;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::delay_line::DelayLine;
use super::envelope::{ParamId, ParamKey, Ramp};
use super::predelay::{PredelayGlide, Taps};
use super::{ProcessSpec, Processor};

/// Smallest partition [`Convolver::auto_partition`] chooses, in frames.
const MIN_PARTITION: usize = 64;
/// Largest partition [`Convolver::auto_partition`] chooses, in frames. Larger partitions make
/// long IRs cheaper (fewer spectra to multiply per output frame) but cost latency and memory;
/// 8192 frames (171 ms at 48 kHz) is where the gain flattens out (see the cost figures in the
/// module tests).
const MAX_PARTITION: usize = 8192;

/// Output sample as `f32`, exactly zero below [`super::FLUSH`]: the FFT's rounding can leave
/// tiny values where the exact output is zero, and their subnormal `f32`s are slow on x86.
#[inline]
fn flush(x: f64) -> f32 {
    super::flush(x) as f32
}

/// Per-channel state of a [`Convolver`].
#[derive(Clone, Default)]
struct ChannelState {
    /// Inputs of the partition being filled, `B` frames.
    input: Vec<f64>,
    /// The last `2B` inputs: the overlap-save window.
    window: Vec<f64>,
    /// Frequency-domain delay line: `P` input spectra of `B + 1` bins, real and imaginary parts
    /// kept apart so the multiply-accumulate loop vectorises.
    fdl_re: Vec<f64>,
    fdl_im: Vec<f64>,
    /// Outputs of the last completed partition, `B` frames.
    output: Vec<f32>,
}

/// Uniformly partitioned FFT convolution of every channel of a block with a mono or stereo
/// impulse response. A mono IR applies to every channel; a stereo IR maps channel 0 to channel 0 and
/// channel 1 to channel 1 (and any further channel to the IR's last channel). Latency is
/// `partition - 1` frames.
pub struct Convolver {
    ir: Arc<Vec<Vec<f32>>>,
    /// Partition size `B` in frames; the FFT size is `2B`.
    partition: usize,
    /// Length of the longest IR channel, in frames.
    ir_len: usize,
    /// Number of partitions `P` (0 for an empty IR).
    parts: usize,
    /// Partition spectra per IR channel, `P * (B + 1)` bins, scaled by `1 / 2B` so the inverse
    /// FFT needs no normalisation (realfft is unnormalised).
    h_re: Vec<Vec<f64>>,
    h_im: Vec<Vec<f64>>,
    /// Spectra of the filter [`Convolver::fade_to`] moves to, laid out like `h_re`/`h_im`;
    /// used only while `fading`.
    next_re: Vec<Vec<f64>>,
    next_im: Vec<Vec<f64>>,
    /// The next partition crossfades from `h` to `next` (then `next` becomes `h`).
    fading: bool,
    fft: Option<Arc<dyn RealToComplex<f64>>>,
    ifft: Option<Arc<dyn ComplexToReal<f64>>>,
    channels: Vec<ChannelState>,
    /// Write position in the partition being filled, `0..B`.
    pos: usize,
    /// Slot of the newest spectrum in the frequency-domain delay line.
    head: usize,
    /// Scratch per channel (the channels' partitions are computed in parallel), sized in
    /// `prepare`.
    work: Vec<Work>,
    /// One IR channel in the time domain, `2B` frames, for [`Convolver::fade_to`].
    ir_time: Vec<f64>,
}

/// Scratch of one channel's partition.
#[derive(Clone, Default)]
struct Work {
    time: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    acc_re: Vec<f64>,
    acc_im: Vec<f64>,
    scratch: Vec<Complex<f64>>,
    /// The new filter's output during a fade, `2B` frames (only the second half is used).
    fade_time: Vec<f64>,
}

impl Convolver {
    /// A convolver for `ir` (planar, 1 or 2 channels at the session rate, any level) with a
    /// partition of `partition` frames (at least 1; powers of two are fastest). Nothing is
    /// allocated or transformed until [`Processor::prepare`].
    pub fn new(ir: Arc<Vec<Vec<f32>>>, partition: usize) -> Self {
        let ir_len = ir.iter().map(Vec::len).max().unwrap_or(0);
        let partition = partition.max(1);
        Convolver {
            parts: ir_len.div_ceil(partition),
            ir,
            partition,
            ir_len,
            h_re: Vec::new(),
            h_im: Vec::new(),
            next_re: Vec::new(),
            next_im: Vec::new(),
            fading: false,
            fft: None,
            ifft: None,
            channels: Vec::new(),
            pos: 0,
            head: 0,
            work: Vec::new(),
            ir_time: Vec::new(),
        }
    }

    /// A convolver with the partition [`Convolver::auto_partition`] picks for this IR.
    pub fn with_auto_partition(ir: Arc<Vec<Vec<f32>>>) -> Self {
        let len = ir.iter().map(Vec::len).max().unwrap_or(0);
        Self::new(ir, Self::auto_partition(len))
    }

    /// The partition size (frames) that renders an IR of `ir_len` frames fastest offline within
    /// a latency bound: the IR's length rounded up to a power of two (one partition: plain
    /// overlap-save), clamped to 64..8192 frames. Per output frame the cost is about
    /// `2 log2(2B)` for the FFTs plus `4 P` for the spectra, so long partitions win until the
    /// FFT term dominates (Wefers 2015, section 5.3.3).
    pub fn auto_partition(ir_len: usize) -> usize {
        ir_len
            .max(1)
            .next_power_of_two()
            .clamp(MIN_PARTITION, MAX_PARTITION)
    }

    /// Partition size `B` in frames.
    pub fn partition(&self) -> usize {
        self.partition
    }

    /// Length of the impulse response in frames (its longest channel).
    pub fn ir_len(&self) -> usize {
        self.ir_len
    }

    /// Transform the IR partitions of every IR channel. Allocates.
    fn transform_ir(&mut self, fft: &Arc<dyn RealToComplex<f64>>) {
        let bins = self.partition + 1;
        let mut time = vec![0.0f64; 2 * self.partition];
        let mut spec = vec![Complex::new(0.0, 0.0); bins];
        let mut scratch = fft.make_scratch_vec();
        self.h_re.clear();
        self.h_im.clear();
        for ch in self.ir.iter() {
            let mut re = vec![0.0f64; self.parts * bins];
            let mut im = vec![0.0f64; self.parts * bins];
            let parts = Parts {
                b: self.partition,
                count: self.parts,
            };
            parts.transform(
                fft,
                ch,
                &mut time,
                &mut spec,
                &mut scratch,
                &mut re,
                &mut im,
            );
            self.h_re.push(re);
            self.h_im.push(im);
        }
    }

    /// Frames until the partition being filled completes, counting the frame that completes
    /// it: a filter given to [`Convolver::fade_to`] before that frame is processed fades in
    /// over the `B` output frames from that frame on.
    pub fn frames_to_partition(&self) -> usize {
        self.partition - self.pos
    }

    /// Move to the impulse response `ir` (one channel per IR channel of the one built with,
    /// each at most as long): the next partition computed is an equal-gain linear crossfade,
    /// frame `i` of its `B` output frames `(1 - w) y_old + w y_new` with `w = (i + 1) / B`, where
    /// `y_old` and `y_new` are the old and new filters' outputs, each over the whole input
    /// history (both read the one delay line of input spectra, so the new filter has the full
    /// history from its first frame); from then on the new filter alone. Called again before
    /// that partition, the later `ir` replaces the earlier. Does nothing before `prepare` or
    /// for an empty IR. Allocates only the first time after `prepare`.
    pub fn fade_to(&mut self, ir: &[Vec<f32>]) {
        let Some(fft) = self.fft.clone() else {
            return;
        };
        let b = self.partition;
        let bins = b + 1;
        let (n, len) = (self.h_re.len(), self.parts * bins);
        self.next_re.resize_with(n, || vec![0.0; len]);
        self.next_im.resize_with(n, || vec![0.0; len]);
        self.ir_time.resize(2 * b, 0.0);
        for w in &mut self.work {
            w.fade_time.resize(2 * b, 0.0);
        }
        let Some(work) = self.work.first_mut() else {
            return;
        };
        let parts = Parts {
            b,
            count: self.parts,
        };
        for (c, (re, im)) in self.next_re.iter_mut().zip(&mut self.next_im).enumerate() {
            let Some(ch) = ir.get(c).or(ir.last()) else {
                return;
            };
            let ch = &ch[..ch.len().min(self.parts * b)];
            parts.transform(
                &fft,
                ch,
                &mut self.ir_time,
                &mut work.spectrum,
                &mut work.scratch,
                re,
                im,
            );
        }
        self.fading = true;
    }

    /// Convolve the completed partition of every channel: `B` new outputs per channel. The
    /// channels are independent, so they run in parallel (each with its own scratch).
    fn compute_partition(&mut self, nch: usize) {
        let b = self.partition;
        let bins = b + 1;
        let parts = self.parts;
        let (Some(fft), Some(ifft)) = (self.fft.as_ref(), self.ifft.as_ref()) else {
            return;
        };
        // The newest spectrum goes into the slot after the previous newest, so partition `p`
        // of the IR meets the spectrum `p` slots older.
        let head = if self.head + 1 == parts {
            0
        } else {
            self.head + 1
        };
        let filters = Filters {
            fft: &**fft,
            ifft: &**ifft,
            h: (&self.h_re, &self.h_im),
            next: self
                .fading
                .then_some((&self.next_re[..], &self.next_im[..])),
            product: Product { head, parts, bins },
            b,
        };
        self.channels[..nch]
            .par_iter_mut()
            .zip(self.work[..nch].par_iter_mut())
            .enumerate()
            .for_each(|(c, (st, w))| filters.partition(c, st, w));
        if self.fading {
            std::mem::swap(&mut self.h_re, &mut self.next_re);
            std::mem::swap(&mut self.h_im, &mut self.next_im);
            self.fading = false;
        }
        self.head = head;
    }
}

/// Partition spectra per IR channel, real and imaginary parts.
type Spectra<'a> = (&'a [Vec<f64>], &'a [Vec<f64>]);

/// What every channel's partition reads: the transforms, the filter's partition spectra (and
/// the next filter's during a fade), where the newest input spectrum goes.
struct Filters<'a> {
    fft: &'a dyn RealToComplex<f64>,
    ifft: &'a dyn ComplexToReal<f64>,
    h: Spectra<'a>,
    next: Option<Spectra<'a>>,
    product: Product,
    b: usize,
}

impl Filters<'_> {
    /// The completed partition of channel `c`: `B` new outputs into `st.output`.
    fn partition(&self, c: usize, st: &mut ChannelState, w: &mut Work) {
        let b = self.b;
        let product = self.product;
        // Overlap-save window: the previous partition's inputs, then this one's.
        st.window.copy_within(b.., 0);
        st.window[b..].copy_from_slice(&st.input);
        // realfft clobbers its input, so transform a copy.
        w.time.copy_from_slice(&st.window);
        if self
            .fft
            .process_with_scratch(&mut w.time, &mut w.spectrum, &mut w.scratch)
            .is_err()
        {
            st.output.fill(0.0);
            return;
        }
        let slot = product.head * product.bins;
        for (k, x) in w.spectrum.iter().enumerate() {
            st.fdl_re[slot + k] = x.re;
            st.fdl_im[slot + k] = x.im;
        }
        let hc = c.min(self.h.0.len() - 1);
        let fdl = (&st.fdl_re[..], &st.fdl_im[..]);
        let Work {
            time,
            spectrum,
            acc_re,
            acc_im,
            scratch,
            fade_time,
        } = w;
        // The output of the filter `h` over the input spectra, into `out` (false if the
        // transform failed).
        let mut through = |h: Spectra<'_>, out: &mut [f64]| {
            product.filtered(fdl, (&h.0[hc], &h.1[hc]), (acc_re, acc_im), spectrum);
            self.ifft
                .process_with_scratch(spectrum, out, scratch)
                .is_ok()
        };
        if !through(self.h, time) {
            st.output.fill(0.0);
            return;
        }
        if let Some(next) = self.next {
            // The new filter over the same input spectra, faded in across this partition.
            if !through(next, fade_time) {
                st.output.fill(0.0);
                return;
            }
            let step = 1.0 / b as f64;
            for (i, (o, (&y0, &y1))) in st
                .output
                .iter_mut()
                .zip(time[b..].iter().zip(&fade_time[b..]))
                .enumerate()
            {
                let w = (i + 1) as f64 * step;
                *o = flush((1.0 - w) * y0 + w * y1);
            }
            return;
        }
        // Overlap-save: the first half is circularly aliased, the second half is the valid
        // linear convolution of this partition.
        for (o, &y) in st.output.iter_mut().zip(&time[b..]) {
            *o = flush(y);
        }
    }
}

/// The partitioning of an impulse response: `count` partitions of `b` frames.
#[derive(Clone, Copy)]
struct Parts {
    b: usize,
    count: usize,
}

impl Parts {
    /// The partition spectra of one IR channel `ch` into `re`/`im` (`count * (b + 1)` bins
    /// each), scaled by `1 / 2b` so the inverse FFT needs no normalisation. `time` holds `2b`
    /// frames, `spec` `b + 1` bins, `scratch` the FFT's scratch.
    #[allow(clippy::too_many_arguments)]
    fn transform(
        self,
        fft: &Arc<dyn RealToComplex<f64>>,
        ch: &[f32],
        time: &mut [f64],
        spec: &mut [Complex<f64>],
        scratch: &mut [Complex<f64>],
        re: &mut [f64],
        im: &mut [f64],
    ) {
        let b = self.b;
        let bins = b + 1;
        let scale = 1.0 / (2 * b) as f64;
        for p in 0..self.count {
            time.fill(0.0);
            let start = (p * b).min(ch.len());
            let end = ((p + 1) * b).min(ch.len());
            for (t, &h) in time.iter_mut().zip(&ch[start..end]) {
                *t = f64::from(h) * scale;
            }
            if fft.process_with_scratch(time, spec, scratch).is_ok() {
                for (k, c) in spec.iter().enumerate() {
                    re[p * bins + k] = c.re;
                    im[p * bins + k] = c.im;
                }
            }
        }
    }
}

/// Where the newest input spectrum sits in a frequency-domain delay line of `parts` slots of
/// `bins` bins.
#[derive(Clone, Copy)]
struct Product {
    head: usize,
    parts: usize,
    bins: usize,
}

impl Product {
    /// The spectrum of one partition of output: `sum_p X[head - p] H[p]` over the delay line
    /// `fdl` and the filter's partition spectra `h` (real and imaginary parts apart), summed
    /// in `acc` and written to `out` ready for the inverse FFT.
    fn filtered(
        self,
        fdl: (&[f64], &[f64]),
        h: (&[f64], &[f64]),
        acc: (&mut [f64], &mut [f64]),
        out: &mut [Complex<f64>],
    ) {
        let Product { head, parts, bins } = self;
        let (acc_re, acc_im) = acc;
        acc_re.fill(0.0);
        acc_im.fill(0.0);
        for p in 0..parts {
            let s = if head >= p {
                head - p
            } else {
                head + parts - p
            } * bins;
            let o = p * bins;
            let xr = &fdl.0[s..s + bins];
            let xi = &fdl.1[s..s + bins];
            let hr = &h.0[o..o + bins];
            let hi = &h.1[o..o + bins];
            for k in 0..bins {
                acc_re[k] += xr[k] * hr[k] - xi[k] * hi[k];
                acc_im[k] += xr[k] * hi[k] + xi[k] * hr[k];
            }
        }
        for (y, (&re, &im)) in out.iter_mut().zip(acc_re.iter().zip(acc_im.iter())) {
            *y = Complex::new(re, im);
        }
        // A real signal's DC and Nyquist bins are real; the products above keep them real in
        // exact arithmetic, but realfft's inverse rejects any rounding residue.
        out[0].im = 0.0;
        out[bins - 1].im = 0.0;
    }
}

impl Processor for Convolver {
    fn name(&self) -> &'static str {
        "convolver"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        let b = self.partition;
        let bins = b + 1;
        self.channels = vec![ChannelState::default(); spec.channels];
        if self.parts == 0 || self.ir.is_empty() {
            // An empty IR convolves to silence; nothing to plan.
            self.fft = None;
            self.ifft = None;
            return;
        }
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(2 * b);
        let ifft = planner.plan_fft_inverse(2 * b);
        self.transform_ir(&fft);
        self.fading = false;
        for st in &mut self.channels {
            st.input = vec![0.0; b];
            st.window = vec![0.0; 2 * b];
            st.fdl_re = vec![0.0; self.parts * bins];
            st.fdl_im = vec![0.0; self.parts * bins];
            st.output = vec![0.0; b];
        }
        self.work = vec![
            Work {
                time: vec![0.0; 2 * b],
                spectrum: vec![Complex::new(0.0, 0.0); bins],
                acc_re: vec![0.0; bins],
                acc_im: vec![0.0; bins],
                scratch: vec![
                    Complex::new(0.0, 0.0);
                    fft.get_scratch_len().max(ifft.get_scratch_len())
                ],
                // Sized by the first `fade_to`.
                fade_time: Vec::new(),
            };
            spec.channels
        ];
        self.fft = Some(fft);
        self.ifft = Some(ifft);
        self.reset();
    }

    fn reset(&mut self) {
        for st in &mut self.channels {
            st.input.fill(0.0);
            st.window.fill(0.0);
            st.fdl_re.fill(0.0);
            st.fdl_im.fill(0.0);
            st.output.fill(0.0);
        }
        // With no history to fade across, a filter on its way in takes over at once.
        if self.fading {
            std::mem::swap(&mut self.h_re, &mut self.next_re);
            std::mem::swap(&mut self.h_im, &mut self.next_im);
            self.fading = false;
        }
        self.pos = 0;
        self.head = 0;
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        let nch = block.len().min(self.channels.len());
        if self.fft.is_none() {
            // Empty IR (or not prepared): the wet signal is silence.
            for ch in block.iter_mut() {
                ch.fill(0.0);
            }
            return;
        }
        let n = block.first().map_or(0, |c| c.len());
        let b = self.partition;
        let mut i = 0;
        while i < n {
            let m = (b - self.pos).min(n - i);
            let completes = self.pos + m == b;
            // Output frame t is y[t - (B - 1)]: before the partition completes that is the
            // previous partition's output one slot ahead; the frame that completes it reads the
            // first output of the new partition.
            let old = if completes { m - 1 } else { m };
            for (ch, st) in block.iter_mut().zip(&mut self.channels).take(nch) {
                let x = &mut ch[i..i + m];
                for (d, &s) in st.input[self.pos..self.pos + m].iter_mut().zip(x.iter()) {
                    *d = f64::from(s);
                }
                x[..old].copy_from_slice(&st.output[self.pos + 1..self.pos + 1 + old]);
            }
            if completes {
                self.compute_partition(nch);
                for (ch, st) in block.iter_mut().zip(&self.channels).take(nch) {
                    ch[i + m - 1] = st.output[0];
                }
                self.pos = 0;
            } else {
                self.pos += m;
            }
            i += m;
        }
    }

    /// `partition - 1` frames: the last frame of a partition completes it and is answered at
    /// once, every other frame waits for the partition to fill.
    fn latency(&self) -> usize {
        self.partition - 1
    }

    fn tail(&self) -> usize {
        self.ir_len
    }
}

/// The `reverb` effect with an impulse response: [`Convolver`] + predelay + dry/wet mix.
///
/// Output: `y[t] = (1 - mix) x[t - L] + mix (h * x)[t - L - predelay]`, with `L` =
/// [`Processor::latency`]. The convolver's own latency is absorbed into the predelay where the
/// predelay is long enough, so `L = max(0, partition - 1 - predelay)` frames (and 0 at `mix = 0`,
/// where the IR is not applied at all). The IR is used at its recorded level.
///
/// An automated `predelay_ms` is a moving delay in front of the convolver (whose latency stays
/// fixed): the convolver's latency stands in for as much of the smallest predelay the envelope
/// reaches as it covers, so `L = max(0, partition - 1 - lowest predelay)` for the whole render,
/// and the rest of each predelay is read from the input at the glide's position, between
/// samples while it moves, as the algorithmic reverb reads its predelay
/// ([`super::predelay`]).
pub struct ConvolutionReverb {
    conv: Convolver,
    predelay_ms: f64,
    /// Wet share 0..1.
    mix: f64,
    /// `mix` under automation (then the convolver runs, and its latency counts, at any mix).
    mix_ramp: Option<Ramp>,
    /// Predelay in frames at the prepared rate.
    predelay: usize,
    latency: usize,
    /// One mono delay per channel, so any channel count is handled without building slices.
    wet_delay: Vec<DelayLine>,
    dry_delay: Vec<DelayLine>,
    dry: Vec<Vec<f32>>,
    /// The smallest and largest predelay given before `prepare`, ms (an envelope's points).
    predelay_range_ms: Option<(f64, f64)>,
    /// Sample rate of `prepare` (0 before).
    sample_rate: f64,
    /// Under automation: the moving predelay in front of the convolver.
    moving: Option<MovingPredelay>,
}

/// An automated predelay: each channel's input read at the glide's position
/// ([`PredelayGlide`], [`Taps`], as the algorithmic reverb reads its predelay), less the part of
/// the smallest predelay the envelope reaches that the convolver's latency takes out.
struct MovingPredelay {
    lines: Vec<Taps>,
    glide: PredelayGlide,
    /// Frames of every predelay that the convolver's latency stands in for.
    absorbed: usize,
    /// The predelays the envelope reaches, frames.
    lo: usize,
    hi: usize,
}

impl MovingPredelay {
    /// Delay `block` in place by the predelay less `absorbed`: gliding, read between samples;
    /// at rest, read at the whole frame.
    fn process(&mut self, block: &mut [&mut [f32]]) {
        let n = block.first().map_or(0, |c| c.len());
        let moving = self.glide.moving();
        for i in 0..n {
            if moving {
                self.glide.step();
            }
            let d = self.glide.at() - self.absorbed as f64;
            let whole = self.glide.target() - self.absorbed;
            for (ch, line) in block.iter_mut().zip(&mut self.lines) {
                line.push(f64::from(ch[i]));
                let y = if moving {
                    line.at_frac(d.max(0.0))
                } else {
                    line.at(whole)
                };
                ch[i] = y as f32;
            }
        }
        if moving {
            self.glide.land();
        }
    }
}

impl ConvolutionReverb {
    /// `ir`: planar impulse response, 1 or 2 channels at the session rate (mono feeds both
    /// channels, stereo maps L to L and R to R), used at its recorded level; `predelay_ms`:
    /// 0..500 ms before the IR starts; `mix`: wet share 0..1 (1 for a bus reverb).
    pub fn new(ir: Arc<Vec<Vec<f32>>>, predelay_ms: f64, mix: f64) -> Self {
        Self::with_convolver(Convolver::with_auto_partition(ir), predelay_ms, mix)
    }

    /// As [`ConvolutionReverb::new`], with a chosen partition size in frames.
    pub fn with_partition(
        ir: Arc<Vec<Vec<f32>>>,
        partition: usize,
        predelay_ms: f64,
        mix: f64,
    ) -> Self {
        Self::with_convolver(Convolver::new(ir, partition), predelay_ms, mix)
    }

    fn with_convolver(conv: Convolver, predelay_ms: f64, mix: f64) -> Self {
        ConvolutionReverb {
            conv,
            predelay_ms: predelay_ms.max(0.0),
            mix: mix.clamp(0.0, 1.0),
            mix_ramp: None,
            predelay: 0,
            latency: 0,
            wet_delay: Vec::new(),
            dry_delay: Vec::new(),
            dry: Vec::new(),
            predelay_range_ms: None,
            sample_rate: 0.0,
            moving: None,
        }
    }
}

impl ConvolutionReverb {
    /// Convolve `block` in place (the wet signal, aligned), keeping its dry frames delayed to
    /// match in `self.dry` when `keep_dry`.
    fn wet_and_dry(&mut self, block: &mut [&mut [f32]], n: usize, keep_dry: bool) {
        if keep_dry {
            for ((d, ch), line) in self
                .dry
                .iter_mut()
                .zip(block.iter())
                .zip(&mut self.dry_delay)
            {
                d[..n].copy_from_slice(ch);
                line.process(&mut [&mut d[..n]]);
            }
        }
        if let Some(m) = &mut self.moving {
            m.process(block);
        }
        self.conv.process(block);
        for (ch, line) in block.iter_mut().zip(&mut self.wet_delay) {
            line.process(&mut [&mut ch[..]]);
        }
    }

    /// The block with an automated mix: frame `i` blends at `start + step·(i + 1)`.
    fn process_ramped(&mut self, block: &mut [&mut [f32]], n: usize, start: f64, step: f64) {
        self.wet_and_dry(block, n, true);
        for (ch, d) in block.iter_mut().zip(&self.dry) {
            for (i, (y, &x)) in ch.iter_mut().zip(&d[..n]).enumerate() {
                let wet = start + step * (i + 1) as f64;
                *y = flush((1.0 - wet) * f64::from(x) + wet * f64::from(*y));
            }
        }
    }
}

impl Processor for ConvolutionReverb {
    fn name(&self) -> &'static str {
        "convolution reverb"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        let fs = spec.sample_rate;
        let frames = |ms: f64| (ms * 1e-3 * fs).round() as usize;
        self.sample_rate = fs;
        self.predelay = frames(self.predelay_ms);
        self.moving = None;
        let silent = self.mix == 0.0 && self.mix_ramp.is_none();
        let (wet, lat) = if silent {
            (0, 0)
        } else if let Some((lo_ms, hi_ms)) = self.predelay_range_ms {
            // A moving predelay: the convolver's latency stands in for the part of the
            // smallest predelay it covers, the rest is a moving delay in front of it.
            let conv = self.conv.latency();
            let (lo, hi) = (frames(lo_ms), frames(hi_ms));
            let absorbed = lo.min(conv);
            self.moving = Some(MovingPredelay {
                // Two frames more for the interpolator.
                lines: (0..spec.channels)
                    .map(|_| Taps::new(hi - absorbed + 2))
                    .collect(),
                glide: PredelayGlide::new(self.predelay, fs),
                absorbed,
                lo,
                hi,
            });
            (0, conv - absorbed)
        } else {
            let conv = self.conv.latency();
            (
                self.predelay.saturating_sub(conv),
                conv.saturating_sub(self.predelay),
            )
        };
        self.latency = lat;
        self.wet_delay = (0..spec.channels).map(|_| DelayLine::new(1, wet)).collect();
        self.dry_delay = (0..spec.channels).map(|_| DelayLine::new(1, lat)).collect();
        self.dry = vec![vec![0.0; spec.max_block]; spec.channels];
        if self.mix > 0.0 || self.mix_ramp.is_some() {
            self.conv.prepare(spec);
        }
    }

    fn reset(&mut self) {
        self.conv.reset();
        if let Some(m) = &mut self.moving {
            m.lines.iter_mut().for_each(Taps::clear);
        }
        self.wet_delay.iter_mut().for_each(DelayLine::reset);
        self.dry_delay.iter_mut().for_each(DelayLine::reset);
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        let n = block.first().map_or(0, |c| c.len());
        if let Some(ramp) = &mut self.mix_ramp {
            let (start, step) = ramp.begin(n);
            self.mix = ramp.target();
            self.process_ramped(block, n, start, step);
            return;
        }
        if self.mix == 0.0 {
            // Dry exactly, and no latency to compensate.
            return;
        }
        self.wet_and_dry(block, n, self.mix < 1.0);
        let (wet_g, dry_g) = (self.mix, 1.0 - self.mix);
        if self.mix < 1.0 {
            for (ch, d) in block.iter_mut().zip(&self.dry) {
                for (y, &x) in ch.iter_mut().zip(&d[..n]) {
                    *y = flush(dry_g * f64::from(x) + wet_g * f64::from(*y));
                }
            }
        }
    }

    /// `mix` moves per sample; `predelay_ms` glides (see [`MovingPredelay`]). Predelays given
    /// before `prepare` size the moving delay for the smallest and largest.
    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        match param.key {
            ParamKey::Mix => self.mix_ramp.get_or_insert(Ramp::new(self.mix)).set(value),
            ParamKey::PredelayMs => {
                let v = value.max(0.0);
                if self.sample_rate == 0.0 {
                    let (lo, hi) = self.predelay_range_ms.unwrap_or((v, v));
                    self.predelay_range_ms = Some((lo.min(v), hi.max(v)));
                    self.predelay_ms = v;
                } else if let Some(m) = &mut self.moving {
                    let frames = (v * 1e-3 * self.sample_rate).round() as usize;
                    m.glide.set(frames.clamp(m.lo, m.hi));
                }
            }
            _ => return false,
        }
        true
    }

    fn latency(&self) -> usize {
        self.latency
    }

    /// IR length plus predelay, in frames.
    fn tail(&self) -> usize {
        if self.mix == 0.0 && self.mix_ramp.is_none() {
            0
        } else {
            self.conv.ir_len() + self.moving.as_ref().map_or(self.predelay, |m| m.hi)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    const RATE: f64 = 48000.0;

    /// Deterministic uniform noise in -1..1.
    fn noise(n: usize, seed: u64) -> Vec<f32> {
        testkit::white(n, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, 1.0)
    }

    /// Direct (time-domain) linear convolution in f64, full length.
    fn direct(x: &[f32], h: &[f32]) -> Vec<f64> {
        let mut y = vec![0.0f64; x.len() + h.len() - 1];
        for (i, &xi) in x.iter().enumerate() {
            let xi = f64::from(xi);
            for (yk, &hk) in y[i..].iter_mut().zip(h) {
                *yk += xi * f64::from(hk);
            }
        }
        y
    }

    /// Direct convolution of each channel of `x` with its IR channel.
    fn reference(x: &[Vec<f32>], ir: &[Vec<f32>]) -> Vec<Vec<f64>> {
        x.iter()
            .enumerate()
            .map(|(c, xc)| direct(xc, &ir[c.min(ir.len() - 1)]))
            .collect()
    }

    /// Convolve `x` by `p` in blocks of `block`, and return the largest absolute error against
    /// the direct convolution `want`, with the largest reference magnitude.
    fn max_error(
        p: &mut dyn Processor,
        x: &[Vec<f32>],
        want: &[Vec<f64>],
        block: usize,
    ) -> (f64, f64) {
        let lat = p.latency();
        let padded: Vec<Vec<f32>> = x
            .iter()
            .zip(want)
            .map(|(c, w)| {
                let mut c = c.clone();
                c.resize(w.len() + lat + 1000, 0.0);
                c
            })
            .collect();
        let out = testkit::run(p, &padded, block);
        let (mut err, mut peak) = (0.0f64, 0.0f64);
        for (oc, want) in out.iter().zip(want) {
            assert!(
                oc[..lat].iter().all(|&v| v == 0.0),
                "output before the latency"
            );
            for (k, &w) in want.iter().enumerate() {
                err = err.max((f64::from(oc[lat + k]) - w).abs());
                peak = peak.max(w.abs());
            }
            // Past the end of the linear convolution, only rounding residue of spectra still in
            // the delay line (exact zeros once they have left it).
            for &v in &oc[lat + want.len()..] {
                err = err.max(f64::from(v).abs());
            }
        }
        (err, peak)
    }

    #[test]
    fn matches_direct_convolution_at_partition_edges() {
        const B: usize = 64;
        let spec = testkit::spec(RATE);
        let x = vec![noise(1500, 1), noise(1500, 2)];
        let (mut worst, mut worst_rel) = (0.0f64, 0.0f64);
        for len in [1, B - 1, B, B + 1, 5 * B + 3] {
            let stereo = vec![noise(len, 3), noise(len, 4)];
            let mono = vec![noise(len, 5)];
            for ir in [mono, stereo] {
                let want = reference(&x, &ir);
                let shared = Arc::new(ir.clone());
                for block in [1, 7, 64, 4096] {
                    let mut c = Convolver::new(shared.clone(), B);
                    c.prepare(&spec);
                    assert_eq!(c.latency(), B - 1);
                    let (err, peak) = max_error(&mut c, &x, &want, block);
                    assert!(
                        err <= 1e-5,
                        "IR {len} x {} ch, block {block}: error {err:e}",
                        ir.len()
                    );
                    worst = worst.max(err);
                    worst_rel = worst_rel.max(err / peak);
                }
            }
        }
        println!("B = {B}: max abs error {worst:.2e}, max relative error {worst_rel:.2e}");
    }

    #[test]
    fn two_second_ir_matches_direct_convolution() {
        let spec = testkit::spec(RATE);
        let len = (2.0 * RATE) as usize;
        // A decaying noise tail like a real hall (RT60 1.5 s), peak 1.
        let decay = |c: Vec<f32>| -> Vec<f32> {
            c.iter()
                .enumerate()
                .map(|(i, &v)| v * 10f32.powf(-3.0 * i as f32 / (1.5 * RATE as f32)))
                .collect()
        };
        let ir = vec![decay(noise(len, 7)), decay(noise(len, 8))];
        let shared = Arc::new(ir.clone());
        let x = vec![noise(12_000, 9), noise(12_000, 10)];
        let want = reference(&x, &ir);
        let (mut worst, mut worst_rel) = (0.0f64, 0.0f64);
        for block in [1, 7, 64, 4096] {
            let mut c = Convolver::with_auto_partition(shared.clone());
            c.prepare(&spec);
            assert_eq!(c.partition(), MAX_PARTITION);
            let (err, peak) = max_error(&mut c, &x, &want, block);
            assert!(err <= 1e-5, "2 s IR, block {block}: error {err:e}");
            worst = worst.max(err);
            worst_rel = worst_rel.max(err / peak);
        }
        println!(
            "2 s IR, B = {MAX_PARTITION}: max abs error {worst:.2e}, max relative error {worst_rel:.2e}"
        );
    }

    /// The impulse comes out exactly `latency()` frames late (`predelay` more for the reverb).
    #[test]
    fn latency_equals_impulse_offset() {
        let spec = testkit::spec(RATE);
        let mut x = vec![vec![0.0f32; 20_000]; 2];
        x[0][37] = 1.0;
        x[1][37] = -0.5;
        // Where the impulse lands; every other frame holds at most FFT rounding residue.
        let at = |o: &[Vec<f32>]| {
            let peak = |c: &[f32]| {
                let i = (0..c.len())
                    .max_by(|&a, &b| c[a].abs().total_cmp(&c[b].abs()))
                    .unwrap();
                let rest = c.iter().enumerate().filter(|&(k, _)| k != i);
                assert!(rest.map(|(_, v)| v.abs()).fold(0.0, f32::max) < 1e-9);
                i
            };
            (peak(&o[0]), peak(&o[1]))
        };
        for b in [1, 2, 64, 100, 8192] {
            let mut c = Convolver::new(Arc::new(vec![vec![1.0]]), b);
            c.prepare(&spec);
            let o = testkit::run(&mut c, &x, 64);
            assert_eq!(at(&o), (37 + c.latency(), 37 + c.latency()), "B = {b}");
            assert!((o[1][37 + c.latency()] + 0.5).abs() < 1e-7);
        }
        // Reverb: predelay 10 ms = 480 frames, below and above the convolver's latency.
        for b in [256, 4096] {
            let mut r = ConvolutionReverb::with_partition(Arc::new(vec![vec![0.5]]), b, 10.0, 1.0);
            r.prepare(&spec);
            assert_eq!(r.latency(), (b - 1).saturating_sub(480));
            let o = testkit::run(&mut r, &x, 333);
            assert_eq!(at(&o).0, 37 + r.latency() + 480, "B = {b}");
            assert!((o[0][37 + r.latency() + 480] - 0.5).abs() < 1e-7);
            println!("B = {b}, predelay 480: latency {}", r.latency());
        }
    }

    /// An automated predelay moves the wet onset: a delta IR at 10 ms, then 100 ms once the
    /// glide has landed, with the latency the lowest predelay fixes (the convolver's less
    /// 10 ms) throughout, and the dry path aligned with it.
    #[test]
    fn an_automated_predelay_moves_the_onset() {
        let spec = testkit::spec(RATE);
        for b in [256, 4096] {
            let mut r = ConvolutionReverb::with_partition(Arc::new(vec![vec![0.5]]), b, 10.0, 0.5);
            for v in [10.0, 100.0, 10.0] {
                assert!(r.set_param(ParamId::new(ParamKey::PredelayMs), v));
            }
            r.prepare(&spec);
            let lat = (b - 1).saturating_sub(480);
            assert_eq!(r.latency(), lat);
            let n = 60_000 + lat + 4800 + 100;
            let mut x = vec![vec![0.0f32; n]; 2];
            let (t1, t2) = (37, 60_000);
            for t in [t1, t2] {
                x[0][t] = 1.0;
                x[1][t] = -1.0;
            }
            // 100 ms from frame 2000 on: the glide lands long before t2.
            let y = testkit::run_automated(
                &mut r,
                &x,
                ParamId::new(ParamKey::PredelayMs),
                &|t| if t >= 2000 { 100.0 } else { 10.0 },
                crate::dsp::envelope::AUTO_BLOCK,
                false,
            );
            assert_eq!(r.latency(), lat);
            // Dry halves at the latency, wet halves at the latency plus the predelay, and
            // nothing else (the glide moves while no input is in the line).
            let mut want = vec![0.0f32; n];
            for (t, p) in [(t1, 480), (t2, 4800)] {
                want[t + lat] += 0.5;
                want[t + lat + p] += 0.25;
            }
            for (c, sign) in [(0, 1.0f32), (1, -1.0)] {
                let err = y[c]
                    .iter()
                    .zip(&want)
                    .map(|(a, w)| (a - sign * w).abs())
                    .fold(0.0f32, f32::max);
                assert!(err < 1e-6, "B = {b}, channel {c}: {err}");
            }
        }
    }

    /// A half-wet blend of a delta IR is the input, aligned: dry and wet add up exactly.
    #[test]
    fn dry_is_delayed_to_match_the_wet() {
        let spec = testkit::spec(RATE);
        let x = vec![noise(10_000, 11), noise(10_000, 12)];
        let mut r = ConvolutionReverb::with_partition(Arc::new(vec![vec![1.0]]), 512, 0.0, 0.25);
        r.prepare(&spec);
        assert_eq!(r.latency(), 511);
        let o = testkit::run(&mut r, &x, 100);
        for (xc, oc) in x.iter().zip(&o) {
            for (k, &v) in xc[..10_000 - 511].iter().enumerate() {
                assert!((oc[k + 511] - v).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn mix_zero_is_dry_exactly() {
        let spec = testkit::spec(RATE);
        let x = testkit::test_signal(RATE, 0.5, 0.9);
        let mut r = ConvolutionReverb::new(Arc::new(vec![noise(5000, 13)]), 20.0, 0.0);
        r.prepare(&spec);
        assert_eq!(r.latency(), 0);
        assert_eq!(testkit::run(&mut r, &x, 64), x);
    }

    #[test]
    fn tail_is_ir_plus_predelay() {
        let mut r = ConvolutionReverb::new(Arc::new(vec![noise(30_000, 14); 2]), 100.0, 1.0);
        r.prepare(&testkit::spec(RATE));
        assert_eq!(r.tail(), 30_000 + 4800);
    }

    #[test]
    fn empty_ir_is_silent_wet() {
        let spec = testkit::spec(RATE);
        let mut r = ConvolutionReverb::new(Arc::new(vec![]), 0.0, 1.0);
        r.prepare(&spec);
        let o = testkit::run(&mut r, &testkit::test_signal(RATE, 0.1, 0.5), 64);
        assert!(o.iter().flatten().all(|&v| v == 0.0));
    }

    #[test]
    fn contract_invariants() {
        let ir = Arc::new(vec![noise(20_000, 15), noise(20_000, 16)]);
        let mono = Arc::new(vec![noise(3000, 17)]);
        testkit::assert_invariants(&|| Box::new(Convolver::new(ir.clone(), 1024)), RATE, 0.0);
        testkit::assert_invariants(
            &|| Box::new(ConvolutionReverb::new(ir.clone(), 25.0, 0.7)),
            RATE,
            0.0,
        );
        testkit::assert_invariants(
            &|| Box::new(ConvolutionReverb::new(mono.clone(), 0.0, 1.0)),
            RATE,
            0.0,
        );
    }

    /// Cost per second of stereo audio for a 2 s IR at several partition sizes (run with
    /// `--ignored --nocapture` in release).
    #[test]
    #[ignore]
    fn cost_by_partition() {
        let spec = testkit::spec(RATE);
        let ir = Arc::new(vec![noise(96_000, 18), noise(96_000, 19)]);
        let x = vec![noise(480_000, 20), noise(480_000, 21)];
        for b in [512, 1024, 2048, 4096, 8192, 16384, 32768] {
            let mut c = Convolver::new(ir.clone(), b);
            c.prepare(&spec);
            let t = std::time::Instant::now();
            let _ = testkit::run(&mut c, &x, 1024);
            println!(
                "B = {b:5}: {:.1} ms per second of stereo audio",
                t.elapsed().as_secs_f64() * 100.0
            );
        }
    }
}
