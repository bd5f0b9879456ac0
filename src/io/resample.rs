//! Sample-rate conversion with rubato's FFT resampler (synchronous, fixed ratio): its filter and
//! arithmetic, bit for bit, with the filter and FFT plans shared by every stream of the same
//! conversion and the work buffers shared by every stream a thread runs ([`StreamResampler`]
//! holds only its FIFOs and overlap, so a stem costs a few KB, not rubato's 60 to 100).
//!
//! Two uses: [`StreamResampler`] converts a stem block by block while it is decoded, so a render
//! never holds whole decoded stems; [`resample_all`] converts a whole signal (an impulse
//! response, a reference, the premaster to an output rate) through the same code, so both give
//! the same samples. Both give exactly `ceil(n * to / from)` frames with the resampler's delay
//! trimmed, so an impulse at input time t lands centred on output frame `t * to`: no time shift,
//! no stray tail.
//!
//! Quality, for every pair of rates (measured by the tests below): flat within 0.1 dB (in fact
//! within 0.001 dB) up to 20 kHz, or up to 0.907 of the lower Nyquist frequency for rates below
//! 44.1 kHz; anything above the output's Nyquist frequency (a tone 100 Hz above it included)
//! at least 100 dB down (about 135 dB, the f32 floor); images and other by-products of a
//! pass-band tone too.
//!
//! How rubato's `Fft` works decides the parameters (rubato 5.0.1, `synchro.rs`): it cuts the
//! input into blocks of `fft_size_in` frames (`fft_size_out` at the output rate, both integer
//! multiples of `rate / gcd(from, to)`), filters each by a Blackman-Harris²-windowed sinc of
//! `fft_size_in` taps through one FFT of twice the block, and truncates or zero-pads the
//! spectrum to the output rate. Two consequences:
//!
//! - the sinc is centred on tap `fft_size_in / 2`, a delay of `fft_size_out / 2` output frames,
//!   which is a whole frame only when both block sizes are even. `Fft::new` lets rubato pick
//!   blocks of about 256 frames, which for 96 kHz -> 44.1 kHz is 320 -> 147 frames: its
//!   `output_delay()` (rounded down) left every output half a frame late;
//! - the filter's transition band is about 27 / `block` of the lower Nyquist frequency wide
//!   (rubato's `calculate_cutoff` ends it at Nyquist), so a 147-frame block rolled 96 kHz ->
//!   44.1 kHz off by 1.2 dB at 19.5 kHz and 5.6 dB at 20 kHz.
//!
//! So [`block_frames`] picks the block here: an even multiple of the minimum, at least
//! [`MIN_BLOCK`] frames on the lower-rate side.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Shortest FFT block on the lower-rate side of a conversion, frames. 512 puts the 0.1 dB edge
/// of the pass band at about 0.95 of the lower Nyquist frequency (21 kHz at 44.1 kHz), with room
/// to spare over the 0.907 (20 kHz) required. Measured with callgrind on one minute of mono,
/// rubato's work in instructions: 96 kHz -> 44.1 kHz 364 M with rubato's own 320 -> 147 blocks,
/// 355 M at 640 -> 294, 323 M at 1280 -> 588 (this choice), 379 M at 1920 -> 882, 385 M at
/// 2560 -> 1176; 48 kHz -> 44.1 kHz 284 M (320 -> 294 by rubato), 225 M (640 -> 588, this
/// choice), 239 M (1280 -> 1176). Small blocks pay rubato's per-block overhead, large ones the
/// FFTs' log factor and cache misses; power-of-two multiples of the minimum keep the FFT lengths
/// free of extra odd factors.
pub const MIN_BLOCK: usize = 512;

/// Greatest common divisor (Euclid).
fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The FFT block rubato works in for `from` Hz -> `to` Hz, as (input frames, output frames):
/// `k * from / g` and `k * to / g` with `g = gcd(from, to)` and `k` the smallest power of two,
/// at least 2, that makes the lower-rate side at least [`MIN_BLOCK`] frames. `k` even makes both
/// sizes even (`from / g` and `to / g` are coprime, so at least one of them is odd), which puts
/// the filter's centre, and so the delay trimmed, on a whole output frame.
pub fn block_frames(from: u32, to: u32) -> (usize, usize) {
    let (from, to) = (from.max(1) as usize, to.max(1) as usize);
    let g = gcd(from, to);
    let (unit_in, unit_out) = (from / g, to / g);
    let k = MIN_BLOCK
        .div_ceil(unit_in.min(unit_out))
        .next_power_of_two()
        .max(2);
    (k * unit_in, k * unit_out)
}

#[derive(Debug, thiserror::Error)]
#[error("resampling {from} Hz -> {to} Hz failed: {message}")]
pub struct ResampleError {
    pub from: u32,
    pub to: u32,
    pub message: String,
}

/// Planar sample FIFO: push at the back, read from the front, compacting lazily.
#[derive(Debug, Default, Clone)]
pub struct Fifo {
    chans: Vec<Vec<f32>>,
    start: usize,
}

impl Fifo {
    pub fn new(channels: usize) -> Self {
        Fifo {
            chans: vec![Vec::new(); channels],
            start: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.chans.first().map_or(0, |c| c.len() - self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn channels(&self) -> usize {
        self.chans.len()
    }

    /// Append planar frames (every slice the same length).
    pub fn push(&mut self, planes: &[Vec<f32>], frames: usize) {
        for (c, p) in self.chans.iter_mut().zip(planes) {
            c.extend_from_slice(&p[..frames]);
        }
    }

    /// Append the frames `range` of every plane.
    pub fn push_range(&mut self, planes: &[Vec<f32>], range: std::ops::Range<usize>) {
        for (c, p) in self.chans.iter_mut().zip(planes) {
            c.extend_from_slice(&p[range.clone()]);
        }
    }

    /// Copy up to `out[c].len()` frames into `out` (first `n` of each), consuming them.
    pub fn pop_into(&mut self, out: &mut [&mut [f32]], n: usize) -> usize {
        let n = n.min(self.len());
        for (o, c) in out.iter_mut().zip(&self.chans) {
            o[..n].copy_from_slice(&c[self.start..self.start + n]);
        }
        self.consume(n);
        n
    }

    /// Drop `n` frames from the front.
    pub fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start > 0 && self.start * 2 >= self.chans.first().map_or(0, Vec::capacity) {
            for c in &mut self.chans {
                c.drain(..self.start);
            }
            self.start = 0;
        }
    }

    /// The buffered frames (each slice `len()` long).
    pub fn planes(&self) -> Vec<&[f32]> {
        self.chans.iter().map(|c| &c[self.start..]).collect()
    }
}

/// One conversion's filter, shared by every stream of the same FFT block sizes: rubato's
/// `Fft` filter (synchro.rs, `FftResampler::new`) built the same way, so the arithmetic is
/// rubato's to the bit, but once per conversion instead of once per stem. Rubato keeps its
/// filter, its FFT plans and its work buffers in every resampler (about 60 to 100 KB for a
/// stereo stem); here a stream holds only its overlap and FIFOs, the work buffers are the
/// thread's ([`WORK`]).
struct Kernel {
    block_in: usize,
    block_out: usize,
    /// Spectrum of the windowed sinc, `block_in + 1` bins.
    filter: Vec<Complex<f32>>,
    /// Forward FFT of `2 * block_in` frames.
    fft: Arc<dyn RealToComplex<f32>>,
    /// Inverse FFT of `2 * block_out` frames.
    ifft: Arc<dyn ComplexToReal<f32>>,
}

impl Kernel {
    /// Rubato's `FftResampler::new(block_in, block_out, BlackmanHarris2)` filter: a sinc of
    /// `block_in` taps windowed by the squared periodic Blackman-Harris window
    /// (`make_sincs` with one phase), cut off at `calculate_cutoff` of the smaller block,
    /// scaled by `1 / (2 * block_in)` and transformed. Same operations in the same order, in
    /// `f32` as rubato does them.
    fn new(block_in: usize, block_out: usize) -> Self {
        use rubato::{WindowFunction, calculate_cutoff};
        let window = WindowFunction::BlackmanHarris2;
        let cutoff = if block_in > block_out {
            calculate_cutoff::<f32>(block_out, window) * block_out as f32 / block_in as f32
        } else {
            calculate_cutoff::<f32>(block_in, window)
        };
        let taps: Vec<f32> = windowfunctions::window::<f64>(
            block_in,
            windowfunctions::WindowFunction::BlackmanHarris,
            windowfunctions::Symmetry::Periodic,
        )
        .map(|w| {
            let w = w as f32;
            w * w
        })
        .collect();
        let sinc = |v: f32| {
            if v == 0.0 {
                1.0
            } else {
                (v * std::f32::consts::PI).sin() / (v * std::f32::consts::PI)
            }
        };
        let mut sum = 0.0f32;
        let mut y = Vec::with_capacity(block_in);
        for (x, w) in taps.iter().enumerate() {
            // Rubato also divides the argument and the sum by its one phase, 1.0: exact.
            let val = *w * sinc((x as f32 - (block_in / 2) as f32) * cutoff);
            sum += val;
            y.push(val);
        }
        let mut filter_t = vec![0.0f32; 2 * block_in];
        for (f, v) in filter_t.iter_mut().zip(&y) {
            *f = (v / sum) / (2 * block_in) as f32;
        }
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(2 * block_in);
        let ifft = planner.plan_fft_inverse(2 * block_out);
        let mut filter = vec![Complex::new(0.0, 0.0); block_in + 1];
        fft.process(&mut filter_t, &mut filter)
            .expect("buffer sizes come from the plan");
        Kernel {
            block_in,
            block_out,
            filter,
            fft,
            ifft,
        }
    }

    /// The kernel for `block_in -> block_out`, shared with every stream that has it now.
    fn shared(block_in: usize, block_out: usize) -> Arc<Kernel> {
        static KERNELS: Mutex<Vec<Weak<Kernel>>> = Mutex::new(Vec::new());
        let mut kernels = KERNELS.lock().unwrap_or_else(PoisonError::into_inner);
        kernels.retain(|k| k.strong_count() > 0);
        let found = kernels
            .iter()
            .filter_map(Weak::upgrade)
            .find(|k| (k.block_in, k.block_out) == (block_in, block_out));
        found.unwrap_or_else(|| {
            let k = Arc::new(Kernel::new(block_in, block_out));
            kernels.push(Arc::downgrade(&k));
            k
        })
    }

    /// Rubato's `resample_unit`: one block of `block_in` frames (`input`, zero-padded past its
    /// end) through the filter, `block_out` frames appended to `out`, each the new block plus
    /// the `overlap` the previous one left, which the new block's tail then replaces.
    fn unit(&self, work: &mut Work, input: &[f32], overlap: &mut [f32], out: &mut Vec<f32>) {
        let (bi, bo) = (self.block_in, self.block_out);
        work.size(self);
        let Work {
            time_in,
            spec_in,
            spec_out,
            time_out,
            scratch,
        } = work;
        let time_in = &mut time_in[..2 * bi];
        time_in[..input.len()].copy_from_slice(input);
        time_in[input.len()..].fill(0.0);
        let spec_in = &mut spec_in[..bi + 1];
        self.fft
            .process_with_scratch(time_in, spec_in, &mut scratch[..self.fft.get_scratch_len()])
            .expect("buffer sizes come from the plan");
        let new_len = if bi < bo { bi + 1 } else { bo };
        for (s, f) in spec_in[..new_len].iter_mut().zip(&self.filter) {
            *s *= f;
        }
        let spec_out = &mut spec_out[..bo + 1];
        spec_out[..new_len].copy_from_slice(&spec_in[..new_len]);
        spec_out[new_len..].fill(Complex::new(0.0, 0.0));
        let time_out = &mut time_out[..2 * bo];
        self.ifft
            .process_with_scratch(
                spec_out,
                time_out,
                &mut scratch[..self.ifft.get_scratch_len()],
            )
            .expect("buffer sizes come from the plan");
        out.extend(
            time_out[..bo]
                .iter()
                .zip(overlap.iter())
                .map(|(y, o)| y + o),
        );
        overlap.copy_from_slice(&time_out[bo..]);
    }
}

/// A thread's work buffers for [`Kernel::unit`], grown to the largest conversion it has run:
/// every stem a thread resamples uses the same ones.
#[derive(Default)]
struct Work {
    time_in: Vec<f32>,
    spec_in: Vec<Complex<f32>>,
    spec_out: Vec<Complex<f32>>,
    time_out: Vec<f32>,
    scratch: Vec<Complex<f32>>,
}

impl Work {
    fn size(&mut self, k: &Kernel) {
        let grow = |v: &mut Vec<f32>, n: usize| v.resize(v.len().max(n), 0.0);
        grow(&mut self.time_in, 2 * k.block_in);
        grow(&mut self.time_out, 2 * k.block_out);
        let zero = Complex::new(0.0, 0.0);
        let grow = |v: &mut Vec<Complex<f32>>, n: usize| v.resize(v.len().max(n), zero);
        grow(&mut self.spec_in, k.block_in + 1);
        grow(&mut self.spec_out, k.block_out + 1);
        let s = k.fft.get_scratch_len().max(k.ifft.get_scratch_len());
        grow(&mut self.scratch, s);
    }
}

thread_local! {
    static WORK: RefCell<Work> = RefCell::new(Work::default());
}

/// Block-by-block resampler that trims the filter's delay at the start and pads to the exact
/// length at the end.
pub struct StreamResampler {
    kernel: Arc<Kernel>,
    from: u32,
    to: u32,
    input: Fifo,
    output: Fifo,
    /// Per channel, the tail of the previous block's filtered output (`block_out` frames).
    overlaps: Vec<Vec<f32>>,
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
    finished: bool,
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz for `channels` channels; fails (naming both rates)
    /// only for a zero rate or channel count.
    pub fn new(from: u32, to: u32, channels: usize) -> Result<Self, ResampleError> {
        if from == 0 || to == 0 || channels == 0 {
            return Err(ResampleError {
                from,
                to,
                message: format!("rates and channel count must be above 0 ({channels} channels)"),
            });
        }
        let (block_in, block_out) = block_frames(from, to);
        // The sinc is centred on input tap block_in / 2, i.e. output frame block_out / 2: whole,
        // because both are even (see `block_frames`).
        let delay_left = block_out / 2;
        Ok(StreamResampler {
            kernel: Kernel::shared(block_in, block_out),
            from,
            to,
            input: Fifo::new(channels),
            output: Fifo::new(channels),
            overlaps: vec![vec![0.0; block_out]; channels],
            delay_left,
            frames_in: 0,
            frames_out: 0,
            finished: false,
        })
    }

    /// Feed input frames; converted output becomes available through [`Self::output`]. Whole
    /// blocks are filtered straight from `planes`; only a partial block waits in the input
    /// FIFO (so it holds less than a block, not a decoded packet on top).
    pub fn push(&mut self, planes: &[Vec<f32>], frames: usize) -> Result<(), ResampleError> {
        self.frames_in += frames as u64;
        let block = self.kernel.block_in;
        let mut used = 0;
        if !self.input.is_empty() {
            used = (block - self.input.len()).min(frames);
            self.input.push_range(planes, 0..used);
            if self.input.len() < block {
                return Ok(());
            }
            self.run_block();
        }
        while frames - used >= block {
            let piece: Vec<&[f32]> = planes.iter().map(|p| &p[used..used + block]).collect();
            self.filter(&piece);
            used += block;
        }
        self.input.push_range(planes, used..frames);
        Ok(())
    }

    /// The exact output length for the input seen so far: `ceil(n * to / from)`.
    fn target_len(&self) -> u64 {
        (self.frames_in * self.to as u64).div_ceil(self.from as u64)
    }

    /// Signal end of input: flush the last partial block and pump zeros until the output holds
    /// exactly `ceil(n * to / from)` frames in all.
    pub fn finish(&mut self) -> Result<(), ResampleError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        while self.frames_out < self.target_len() || !self.input.is_empty() {
            self.run_block();
        }
        // Drop whatever the last block produced beyond the exact length.
        let excess = (self.frames_out - self.target_len()) as usize;
        if excess > 0 {
            let keep = self.output.start + self.output.len() - excess;
            for c in &mut self.output.chans {
                c.truncate(keep);
            }
            self.frames_out -= excess as u64;
        }
        Ok(())
    }

    /// Filter the next block from the input FIFO: `block_in` frames, or what is left of it
    /// (padded with zeros).
    fn run_block(&mut self) {
        let take = self.input.len().min(self.kernel.block_in);
        let from = self.input.start;
        let chans = std::mem::take(&mut self.input.chans);
        let piece: Vec<&[f32]> = chans.iter().map(|c| &c[from..from + take]).collect();
        self.filter(&piece);
        self.input.chans = chans;
        self.input.consume(take);
    }

    /// Filter one block (`block_in` frames per channel, or fewer at the end, padded with
    /// zeros); the output past the delay goes to the output FIFO.
    fn filter(&mut self, piece: &[&[f32]]) {
        let k = &*self.kernel;
        // The first `delay_left` frames out are the filter's delay.
        let skip = self.delay_left.min(k.block_out);
        WORK.with(|w| {
            let mut w = w.borrow_mut();
            for ((i, o), ov) in piece
                .iter()
                .zip(&mut self.output.chans)
                .zip(&mut self.overlaps)
            {
                let at = o.len();
                k.unit(&mut w, i, ov, o);
                o.drain(at..at + skip);
            }
        });
        self.delay_left -= skip;
        self.frames_out += (k.block_out - skip) as u64;
    }

    /// Converted frames ready to read.
    pub fn output(&mut self) -> &mut Fifo {
        &mut self.output
    }
}

/// Resample a whole planar signal (exact length, delay trimmed). Channels are converted in
/// parallel (rubato treats them independently, so the result is the same). Returns a copy when
/// the rates are equal.
pub fn resample_all(
    planes: &[Vec<f32>],
    from: u32,
    to: u32,
) -> Result<Vec<Vec<f32>>, ResampleError> {
    use rayon::prelude::*;
    if from == to {
        return Ok(planes.to_vec());
    }
    planes
        .par_iter()
        .map(|p| resample_channel(p, from, to))
        .collect()
}

fn resample_channel(plane: &[f32], from: u32, to: u32) -> Result<Vec<f32>, ResampleError> {
    let n = plane.len();
    let mut r = StreamResampler::new(from, to, 1)?;
    // Feed in large slices to bound the FIFO's copy overhead.
    let step = 1 << 16;
    let mut buf = vec![Vec::new()];
    let mut out = Vec::with_capacity((n as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize);
    for chunk in plane.chunks(step) {
        buf[0].clear();
        buf[0].extend_from_slice(chunk);
        r.push(&buf, chunk.len())?;
        drain(r.output(), &mut out);
    }
    r.finish()?;
    drain(r.output(), &mut out);
    Ok(out)
}

fn drain(fifo: &mut Fifo, out: &mut Vec<f32>) {
    out.extend_from_slice(fifo.planes()[0]);
    let n = fifo.len();
    fifo.consume(n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::db::gain_to_db;

    fn impulse(n: usize, at: usize) -> Vec<Vec<f32>> {
        let mut v = vec![0.0f32; n];
        v[at] = 1.0;
        vec![v]
    }

    fn argmax(v: &[f32]) -> usize {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map_or(0, |(i, _)| i)
    }

    #[test]
    fn length_is_exact_ceiling() {
        for &(from, to, n) in &[
            (48000u32, 44100u32, 48000usize),
            (44100, 48000, 44101),
            (96000, 44100, 12345),
            (8000, 48000, 777),
            (22050, 44100, 3),
        ] {
            let out = resample_all(&impulse(n, n / 2), from, to).unwrap();
            let expect = (n as u64 * to as u64).div_ceil(from as u64) as usize;
            assert_eq!(out[0].len(), expect, "{from}->{to} n={n}");
        }
    }

    #[test]
    fn impulse_lands_on_the_right_frame() {
        // 1.000 s at 48 kHz must land on output frame 44100.
        let out = resample_all(&impulse(96000, 48000), 48000, 44100).unwrap();
        assert_eq!(argmax(&out[0]), 44100);
        let out = resample_all(&impulse(44100 * 2, 22050), 44100, 96000).unwrap();
        assert_eq!(argmax(&out[0]), 48000);
    }

    /// Stereo fed in pieces of growing, odd sizes gives the very samples `resample_all` gives
    /// (one channel at a time, in whole-buffer slices).
    #[test]
    fn streaming_in_odd_pieces_equals_whole() {
        for (from, to) in [(44100, 48000), (96000, 44100), (8000, 44100)] {
            let n = from as usize / 2 + 17;
            let sig = vec![
                crate::testkit::white(n, 3, 0.5),
                crate::testkit::pink(n, 4, 0.05),
            ];
            let whole = resample_all(&sig, from, to).unwrap();
            let mut r = StreamResampler::new(from, to, 2).unwrap();
            let mut got = vec![Vec::new(), Vec::new()];
            let (mut i, mut piece) = (0, 1);
            while i < n {
                let end = (i + piece).min(n);
                let planes: Vec<Vec<f32>> = sig.iter().map(|c| c[i..end].to_vec()).collect();
                r.push(&planes, end - i).unwrap();
                let o = r.output();
                for (g, p) in got.iter_mut().zip(o.planes()) {
                    g.extend_from_slice(p);
                }
                let l = o.len();
                o.consume(l);
                i = end;
                piece = piece * 3 + 7;
            }
            r.finish().unwrap();
            for (g, p) in got.iter_mut().zip(r.output().planes()) {
                g.extend_from_slice(p);
            }
            assert!(got == whole, "{from} -> {to}: stream and whole differ");
        }
    }

    #[test]
    fn sine_level_is_preserved() {
        let n = 48000;
        let f = 1000.0;
        let sig: Vec<f32> = (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / 48000.0).sin() as f32 * 0.5)
            .collect();
        let out = resample_all(&[sig], 48000, 44100).unwrap();
        let mid = &out[0][4410..40000];
        let peak = mid.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!((peak - 0.5).abs() < 0.002, "peak {peak}");
    }

    /// Least-squares fit of `a sin + b cos` at `f` Hz to `y` (sample rate `fs`): the sine's
    /// amplitude and the RMS of what is left.
    fn fit_sine(y: &[f32], fs: f64, f: f64) -> (f64, f64) {
        let basis = |i: usize| (std::f64::consts::TAU * f * i as f64 / fs).sin_cos();
        let (mut ss, mut cc, mut sc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, &v) in y.iter().enumerate() {
            let (s, c) = basis(i);
            let v = f64::from(v);
            (ss, cc, sc, ys, yc) = (ss + s * s, cc + c * c, sc + s * c, ys + v * s, yc + v * c);
        }
        let det = ss * cc - sc * sc;
        let (a, b) = ((ys * cc - yc * sc) / det, (yc * ss - ys * sc) / det);
        let residual = y
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let (s, c) = basis(i);
                (f64::from(v) - a * s - b * c).powi(2)
            })
            .sum::<f64>();
        (a.hypot(b), (residual / y.len() as f64).sqrt())
    }

    /// A 0.5 s sine of amplitude 0.5 at `f` Hz through `from` -> `to`: (gain of the tone in dB,
    /// everything else in dB relative to the input's RMS), over the middle 60 % of the output
    /// (the ends hold the filter's start and end, at most 0.064 s long).
    fn tone_through(from: u32, to: u32, f: f64) -> (f64, f64) {
        let n = from as usize / 2;
        let x = crate::testkit::sine(n, f64::from(from), f, 0.5);
        let y = resample_all(&[x], from, to).unwrap().swap_remove(0);
        let mid = &y[y.len() / 5..y.len() - y.len() / 5];
        let rms_in = 0.5 / std::f64::consts::SQRT_2;
        if f >= f64::from(to) / 2.0 {
            // Above the output's Nyquist frequency: all of it must go.
            let rms =
                (mid.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
            (f64::NEG_INFINITY, gain_to_db(rms / rms_in))
        } else {
            let (amp, rest) = fit_sine(mid, f64::from(to), f);
            (gain_to_db(amp / 0.5), gain_to_db(rest / rms_in))
        }
    }

    /// Where the output of an impulse at input frame `at` is centred, in output frames: the
    /// phase slope at `f` Hz of the response taken about `at * to / from` (zero phase there
    /// for a response symmetric about that point), added to it. Exact for fractional centres,
    /// where the peak sample cannot be.
    fn impulse_centre(from: u32, to: u32, at: usize, f: f64) -> f64 {
        let y = resample_all(&impulse(at + from as usize / 4, at), from, to).unwrap();
        let t0 = at as f64 * f64::from(to) / f64::from(from);
        let h: Vec<f64> = y[0].iter().map(|&v| f64::from(v)).collect();
        let z = crate::dsp::biquad::test_util::dft_at(&h, f, f64::from(to))
            * realfft::num_complex::Complex64::from_polar(
                1.0,
                std::f64::consts::TAU * f * t0 / f64::from(to),
            );
        t0 - z.arg() * f64::from(to) / (std::f64::consts::TAU * f)
    }

    /// The pairs stems most often need: high-rate stems to 44.1 and 48 kHz, and 44.1 <-> 48 kHz.
    const PAIRS: [(u32, u32); 8] = [
        (88200, 44100),
        (96000, 44100),
        (192000, 44100),
        (88200, 48000),
        (96000, 48000),
        (192000, 48000),
        (44100, 48000),
        (48000, 44100),
    ];

    /// Every rate from 8 kHz to 192 kHz a stem or output commonly has.
    const RATES: [u32; 11] = [
        8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000,
    ];

    /// Pass band flat within 0.1 dB up to 20 kHz, by-products (images, aliases, noise) more
    /// than 100 dB down, and a tone 100 Hz above the output's Nyquist frequency, or at 23 and
    /// 30 kHz, more than 100 dB down.
    #[test]
    fn pass_band_is_flat_to_20_khz_and_the_stop_band_is_100_db_down() {
        for (from, to) in PAIRS {
            let mut worst: f64 = 0.0;
            let mut junk = f64::NEG_INFINITY;
            for f in [1000.0, 10000.0, 15000.0, 18000.0, 19000.0, 19500.0, 20000.0] {
                let (gain, rest) = tone_through(from, to, f);
                assert!(gain.abs() < 0.1, "{from} -> {to}: {gain:+.3} dB at {f} Hz");
                assert!(
                    rest < -100.0,
                    "{from} -> {to}: by-products {rest:.1} dB at {f} Hz"
                );
                worst = worst.max(gain.abs());
                junk = junk.max(rest);
            }
            let mut stop = f64::NEG_INFINITY;
            let nyquist = f64::from(to) / 2.0;
            for f in [nyquist + 100.0, 23000.0, 30000.0] {
                if f > nyquist && f < f64::from(from) / 2.0 {
                    let (_, left) = tone_through(from, to, f);
                    assert!(
                        left < -100.0,
                        "{from} -> {to}: {f} Hz only {left:.1} dB down"
                    );
                    stop = stop.max(left);
                }
            }
            println!(
                "{from} -> {to}: pass band within {worst:.4} dB to 20 kHz, by-products \
                 {junk:.1} dB, stop band {stop:.1} dB"
            );
        }
    }

    /// An impulse at input frame t lands centred on output frame t * to / from: on the very
    /// frame when that is whole (peak there, parabolic peak within 0.05 frame), and the
    /// response's centre within 0.05 frame of it when it is not.
    #[test]
    fn impulse_lands_centred_without_a_shift() {
        for (from, to) in PAIRS {
            let unit = (from / gcd(from as usize, to as usize) as u32) as usize;
            for at in [from as usize, from as usize + unit, 3 * unit] {
                let want = at * to as usize / from as usize;
                let y = resample_all(&impulse(at + from as usize / 4, at), from, to).unwrap();
                let y = &y[0];
                let k = argmax(y);
                let (a, b, c) = (f64::from(y[k - 1]), f64::from(y[k]), f64::from(y[k + 1]));
                let peak = k as f64 + 0.5 * (a - c) / (a - 2.0 * b + c);
                assert!(
                    k == want && (peak - want as f64).abs() < 0.05,
                    "{from} -> {to}: impulse at {at} peaks at {peak:.3}, not {want}"
                );
            }
            for at in [from as usize + 1, from as usize + 7, from as usize / 3 + 11] {
                let want = at as f64 * f64::from(to) / f64::from(from);
                let got = impulse_centre(from, to, at, 1000.0);
                assert!(
                    (got - want).abs() < 0.05,
                    "{from} -> {to}: impulse at {at} centred on {got:.3}, not {want:.3}"
                );
            }
        }
    }

    /// Every pair of common rates from 8 to 192 kHz: flat within 0.1 dB to 20 kHz or 0.907 of
    /// the lower Nyquist frequency (the same share of the band), and no time shift.
    #[test]
    fn every_rate_pair_is_flat_and_unshifted() {
        for from in RATES {
            for to in RATES.into_iter().filter(|&t| t != from) {
                let edge = 20000f64.min(0.907 * f64::from(from.min(to)) / 2.0);
                for f in [0.05 * edge, 0.5 * edge, 0.9 * edge, edge] {
                    let (gain, rest) = tone_through(from, to, f);
                    assert!(
                        gain.abs() < 0.1 && rest < -100.0,
                        "{from} -> {to}: {gain:+.3} dB, by-products {rest:.1} dB at {f:.0} Hz"
                    );
                }
                let at = from as usize / 3 + 11;
                let want = at as f64 * f64::from(to) / f64::from(from);
                let got = impulse_centre(from, to, at, 0.1 * edge);
                assert!(
                    (got - want).abs() < 0.05,
                    "{from} -> {to}: impulse at {at} centred on {got:.3}, not {want:.3}"
                );
            }
        }
    }

    /// Even blocks at least `MIN_BLOCK` long on the lower-rate side, for common and odd rates.
    #[test]
    fn blocks_are_even_and_long_enough() {
        for (from, to) in [
            (96000, 44100),
            (44100, 48000),
            (88200, 44100),
            (44100, 44101),
        ] {
            let (bi, bo) = block_frames(from, to);
            assert!(
                bi % 2 == 0 && bo % 2 == 0 && bi.min(bo) >= MIN_BLOCK,
                "{bi} {bo}"
            );
            assert_eq!(bi * to as usize, bo * from as usize);
            let r = StreamResampler::new(from, to, 2).unwrap();
            assert_eq!(r.delay_left * 2, bo);
        }
        assert_eq!(block_frames(96000, 44100), (1280, 588));
        assert!(StreamResampler::new(0, 44100, 2).is_err());
    }

    /// What rubato's own `Fft` gives for `sig` (FixedSync::Input, one block per call, the last
    /// block partial, then zeros), with the delay trimmed and cut to the exact length: the
    /// reference this module's shared filter is held to.
    fn through_rubato(sig: &[Vec<f32>], from: u32, to: u32) -> Vec<Vec<f32>> {
        use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
        use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};
        let (bi, bo) = block_frames(from, to);
        let ch = sig.len();
        let mut r = Fft::<f32>::new_custom(
            from as usize,
            to as usize,
            bi,
            1,
            ch,
            WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .unwrap();
        let n = sig[0].len();
        let want = (n as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
        let mut out = vec![Vec::new(); ch];
        let mut buf = vec![vec![0.0f32; bo]; ch];
        let mut pos = 0;
        while out[0].len() < want + bo / 2 {
            let take = n.saturating_sub(pos).min(bi);
            let piece: Vec<Vec<f32>> = sig.iter().map(|c| c[pos..pos + take].to_vec()).collect();
            let piece = if take == 0 {
                vec![vec![0.0]; ch]
            } else {
                piece
            };
            let input = SequentialSliceOfVecs::new(&piece, ch, piece[0].len()).unwrap();
            let mut output = SequentialSliceOfVecs::new_mut(&mut buf, ch, bo).unwrap();
            let idx = Indexing::new().partial_len(take);
            let (_, produced) = r
                .process_into_buffer(&input, &mut output, Some(&idx))
                .unwrap();
            for (o, b) in out.iter_mut().zip(&buf) {
                o.extend_from_slice(&b[..produced]);
            }
            pos += take;
        }
        out.iter()
            .map(|o| o[bo / 2..bo / 2 + want].to_vec())
            .collect()
    }

    /// The shared-filter resampler gives rubato's `Fft` samples bit for bit, mono and stereo,
    /// up and down, for lengths that end on, before and after a block boundary.
    #[test]
    fn samples_are_rubatos_to_the_bit() {
        for (from, to) in [
            (44100, 48000),
            (96000, 48000),
            (88200, 48000),
            (48000, 44100),
            (8000, 44100),
            (192000, 44100),
        ] {
            let (bi, _) = block_frames(from, to);
            for (n, ch) in [(3 * bi, 2), (3 * bi + 1, 1), (2 * bi - 1, 2), (5, 1)] {
                let sig: Vec<Vec<f32>> = (0..ch)
                    .map(|c| crate::testkit::white(n, 7 + c as u64, 0.5))
                    .collect();
                let want = through_rubato(&sig, from, to);
                let got = resample_all(&sig, from, to).unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.len(), w.len(), "{from} -> {to}, {n} frames");
                    let same = g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{from} -> {to}, {n} frames, {ch} channels");
                }
            }
        }
    }

    /// Streams of the same conversion share one filter; another conversion has its own.
    #[test]
    fn streams_of_one_conversion_share_the_filter() {
        let a = StreamResampler::new(44100, 48000, 2).unwrap();
        let b = StreamResampler::new(88200, 96000, 1).unwrap();
        let c = StreamResampler::new(96000, 48000, 2).unwrap();
        assert!(Arc::ptr_eq(&a.kernel, &b.kernel), "same 588 -> 640 blocks");
        assert!(!Arc::ptr_eq(&a.kernel, &c.kernel));
    }

    /// Cost of a 10-minute stereo conversion (run with `--ignored --nocapture`).
    #[test]
    #[ignore]
    fn ten_minutes_of_stereo() {
        for (from, to) in [(96000, 44100), (48000, 44100), (44100, 48000)] {
            let n = from as usize * 600;
            let sig = vec![
                crate::testkit::white(n, 1, 0.5),
                crate::testkit::white(n, 2, 0.5),
            ];
            let t = std::time::Instant::now();
            let out = resample_all(&sig, from, to).unwrap();
            println!(
                "{from} -> {to}: 10 min stereo in {:.3} s ({} frames out)",
                t.elapsed().as_secs_f64(),
                out[0].len()
            );
        }
    }
}
