//! The limiter's detector over a whole signal, as a stream: blocks of frames go in, and the
//! stereo-linked envelope every meter stays under comes out, chunk by chunk, with only a chunk
//! and its margins in memory.
//!
//! Per channel and frame the envelope is the largest reading of the exact band-limited
//! reconstruction ([`truepeak::block_envelope`], FFT blocks of [`truepeak::CORE`] frames at
//! fixed positions of the signal, so the result does not depend on how the signal was fed) and
//! of the standard meters ([`Meters`], [`SwrMeter`]); linked is the largest over the channels.

use rayon::prelude::*;

use crate::dsp::truepeak::{self, CORE, Interpolator, MARGIN, Meters, SwrMeter, mirror_start};

/// FFT blocks per chunk.
const BLOCKS: usize = 4;
/// Frames per chunk.
pub const CHUNK: usize = CORE * BLOCKS;

/// Frames the peak-only mode judges at a time.
const SPAN: usize = 32;

/// The detector of one signal, fed in order.
pub struct EnvelopeStream {
    meters: Meters,
    swr: Option<SwrMeter>,
    /// Peak only ([`EnvelopeStream::peak_only`]): the largest reading so far, below which
    /// the standard meters are not run.
    floor: Option<f32>,
    /// Bound on every standard meter's reading over the largest sample magnitude it reads.
    gain_bound: f32,
    /// Frames each side of a frame that the standard meters read.
    meter_reach: usize,
    /// Spans of [`SPAN`] frames whose standard meters were skipped (peak-only mode).
    skipped: usize,
    /// Frames of margin every chunk needs on both sides.
    reach: usize,
    /// Per channel: frames from `buf_start` on (the margin before the next chunk included).
    buf: Vec<Vec<f32>>,
    /// Signal frame of `buf[c][0]` (negative while the leading margin of zeros is in front).
    buf_start: isize,
    /// First frame of the next chunk to emit.
    next: usize,
    /// Frames fed.
    fed: usize,
    out: Vec<f32>,
}

impl EnvelopeStream {
    pub fn new(channels: usize, rate: u32) -> Self {
        let meters = Meters::new(rate);
        let swr = SwrMeter::new(rate);
        let meter_reach = meters.reach().max(swr.as_ref().map_or(0, SwrMeter::reach));
        let reach = MARGIN.max(meter_reach);
        // Rounding in the f32 sums (at most 33 terms) stays far inside this margin.
        let gain_bound = meters
            .gain_bound()
            .max(swr.as_ref().map_or(0.0, SwrMeter::gain_bound))
            * 1.001;
        EnvelopeStream {
            meters,
            swr,
            floor: None,
            gain_bound,
            meter_reach,
            skipped: 0,
            reach,
            buf: vec![vec![0.0; reach]; channels],
            buf_start: -(reach as isize),
            next: 0,
            fed: 0,
            out: Vec::new(),
        }
    }

    /// A detector for the largest reading only (the output check): the emitted chunks hold
    /// the exact reconstruction everywhere, but the standard meters run only on spans of
    /// [`SPAN`] frames where they could read above the largest value found so far (their
    /// [`Meters::gain_bound`] times the largest sample they read). The maximum over all the
    /// chunks is bit for bit the full detector's; frame by frame it may be lower.
    pub fn peak_only(channels: usize, rate: u32) -> Self {
        let mut s = EnvelopeStream::new(channels, rate);
        s.floor = Some(0.0);
        s
    }

    /// Spans of [`SPAN`] frames whose standard meters the peak-only mode skipped so far.
    pub fn skipped_spans(&self) -> usize {
        self.skipped
    }

    /// Feed the next frames (one slice per channel); `emit(start, env)` receives every chunk
    /// of the linked envelope that is complete.
    pub fn push(&mut self, planes: &[&[f32]], emit: &mut dyn FnMut(usize, &[f32])) {
        for (b, p) in self.buf.iter_mut().zip(planes) {
            b.extend_from_slice(p);
        }
        self.fed += planes.first().map_or(0, |p| p.len());
        while self.fed >= self.next + CHUNK + self.reach {
            self.chunk(CHUNK, emit);
        }
    }

    /// The signal has ended: emit what is left.
    pub fn finish(&mut self, emit: &mut dyn FnMut(usize, &[f32])) {
        while self.next < self.fed {
            let len = CHUNK.min(self.fed - self.next);
            let want =
                (self.next as isize + (CHUNK + self.reach) as isize - self.buf_start) as usize;
            for b in &mut self.buf {
                b.resize(want, 0.0);
            }
            self.chunk(len, emit);
        }
    }

    /// Compute the chunk at `self.next` (its window fully buffered), emit `len` frames of it.
    fn chunk(&mut self, len: usize, emit: &mut dyn FnMut(usize, &[f32])) {
        let lead = (self.next as isize - self.buf_start) as usize - self.reach;
        let span = CHUNK + 2 * self.reach;
        let (meters, swr, reach) = (&self.meters, &self.swr, self.reach);
        let first = self.next == 0;
        let (floor, bound, meter_reach) = (self.floor, self.gain_bound, self.meter_reach);
        // The first chunk in full (its ffmpeg reading starts from a mirrored window).
        let floor = floor.filter(|_| !first);
        let results: Vec<(Vec<f32>, usize)> = self
            .buf
            .par_iter()
            .map(|b| {
                let window = &b[lead..lead + span];
                let mut env = vec![0.0f32; CHUNK];
                env.par_chunks_mut(CORE).enumerate().for_each(|(k, out)| {
                    truepeak::block_envelope(window, reach + k * CORE, out, floor)
                });
                let mut y = Vec::new();
                let mut standard = |from: usize, to: usize, env: &mut [f32]| {
                    let out = &mut env[from..to];
                    meters.max_into(window, reach + from, out, &mut y);
                    if let Some(swr) = swr {
                        if first {
                            let mut w = window.to_vec();
                            mirror_start(&mut w, reach);
                            swr.max_into(&w, reach + from, out, &mut y);
                        } else {
                            swr.max_into(window, reach + from, out, &mut y);
                        }
                    }
                };
                // Peak only: the meters run on the spans that could beat the largest value
                // known, itself a reading, so skipping never lowers the maximum.
                let Some(floor) = floor else {
                    standard(0, len, &mut env);
                    return (env, 0);
                };
                let floor = env[..len].iter().fold(floor, |m, &v| m.max(v));
                let mut skipped = 0;
                let mut run: Option<usize> = None;
                for s in (0..len).step_by(SPAN) {
                    let e = (s + SPAN).min(len);
                    let read = &window[reach + s - meter_reach..reach + e + meter_reach];
                    let loud = read.iter().fold(0.0f32, |m, x| m.max(x.abs())) * bound > floor;
                    match (loud, run) {
                        (true, None) => run = Some(s),
                        (false, Some(r)) => {
                            standard(r, s, &mut env);
                            run = None;
                        }
                        _ => {}
                    }
                    skipped += usize::from(!loud);
                }
                if let Some(r) = run {
                    standard(r, len, &mut env);
                }
                (env, skipped)
            })
            .collect();
        let mut envs = Vec::with_capacity(results.len());
        for (env, skipped) in results {
            self.skipped += skipped;
            envs.push(env);
        }
        self.out.clear();
        self.out.extend_from_slice(&envs[0][..len]);
        for e in &envs[1..] {
            for (o, v) in self.out.iter_mut().zip(e) {
                *o = o.max(*v);
            }
        }
        if let Some(f) = &mut self.floor {
            *f = self.out.iter().fold(*f, |m, &v| m.max(v));
        }
        emit(self.next, &self.out);
        self.next += len;
        // Keep the margin before the next chunk.
        let keep_from = (self.next as isize - self.reach as isize - self.buf_start) as usize;
        for b in &mut self.buf {
            b.drain(..keep_from.min(b.len()));
        }
        self.buf_start += keep_from as isize;
    }
}

/// Sliding maximum over the window `[i - back, i + ahead]` (cut to the signal) of a stream of
/// values, in order. The values are magnitudes (at least 0), so zeros stand in beyond both ends
/// of the signal without changing any maximum; each maximum is the plain maximum of its window,
/// taken for [`SLIDE`] frames at a time as vector operations (the window is short: a look-ahead
/// and a few frames each side).
pub struct SlidingMax {
    back: usize,
    ahead: usize,
    /// The values from frame `emitted - back` on (zeros before the first).
    buf: Vec<f32>,
    pushed: usize,
    emitted: usize,
}

/// Maxima [`SlidingMax`] takes at a time.
const SLIDE: usize = 256;

impl SlidingMax {
    pub fn new(back: usize, ahead: usize) -> Self {
        SlidingMax {
            back,
            ahead,
            buf: vec![0.0; back],
            pushed: 0,
            emitted: 0,
        }
    }

    /// Append the maxima of every frame before `upto` not emitted yet (their windows are in
    /// `buf`).
    fn emit(&mut self, upto: usize, out: &mut Vec<f32>) {
        let count = upto.saturating_sub(self.emitted);
        if count == 0 {
            return;
        }
        let width = self.back + self.ahead + 1;
        let at = out.len();
        out.resize(at + count, 0.0);
        let (buf, maxima) = (&self.buf, &mut out[at..]);
        crate::dsp::simd::wide(
            #[inline(always)]
            || {
                for (c, part) in maxima.chunks_mut(SLIDE).enumerate() {
                    // Frame `emitted + j` reads buf[j ..= j + back + ahead].
                    let from = &buf[c * SLIDE..];
                    for k in 0..width {
                        for (m, &v) in part.iter_mut().zip(&from[k..]) {
                            *m = m.max(v);
                        }
                    }
                }
            },
        );
        self.emitted += count;
        self.buf.drain(..count);
    }

    /// Feed values; the maxima that are now complete are appended to `out`.
    pub fn push(&mut self, values: &[f32], out: &mut Vec<f32>) {
        self.buf.extend_from_slice(values);
        self.pushed += values.len();
        self.emit(self.pushed.saturating_sub(self.ahead), out);
    }

    /// The stream has ended: append the remaining maxima.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        self.buf.resize(self.buf.len() + self.ahead, 0.0);
        self.emit(self.pushed, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::truepeak::{envelope, standard_envelope};

    /// Fed in any pieces, the stream gives what the whole-signal envelopes give.
    #[test]
    fn streamed_envelope_equals_the_whole_signal_one() {
        let n = CHUNK * 2 + 12_345;
        let l = crate::testkit::white(n, 1, 0.7);
        let r = crate::testkit::pink(n, 2, 0.05);
        let whole: Vec<f32> = [&l, &r]
            .iter()
            .map(|x| {
                envelope(x)
                    .into_iter()
                    .zip(standard_envelope(x, 48000))
                    .map(|(a, b)| a.max(b))
                    .collect::<Vec<f32>>()
            })
            .fold(vec![0.0f32; n], |acc, e| {
                acc.iter().zip(&e).map(|(a, b)| a.max(*b)).collect()
            });
        for piece in [4096usize, 1000, CHUNK + 1] {
            let mut s = EnvelopeStream::new(2, 48000);
            let mut got = vec![f32::NAN; n];
            let mut emit = |start: usize, env: &[f32]| {
                got[start..start + env.len()].copy_from_slice(env);
            };
            let mut i = 0;
            while i < n {
                let e = (i + piece).min(n);
                s.push(&[&l[i..e], &r[i..e]], &mut emit);
                i = e;
            }
            s.finish(&mut emit);
            assert_eq!(got, whole, "pieces of {piece}");
        }
    }

    /// The peak-only detector finds the full detector's maximum to the bit while skipping
    /// the standard meters where they cannot reach it: on loud bursts among quieter music
    /// (their abrupt edges make a standard meter read above the exact reconstruction, so the
    /// maximum is a standard meter's), on near-Nyquist content, and with the loudest moment
    /// late in the song.
    #[test]
    fn peak_only_finds_the_same_maximum() {
        let n = CHUNK * 3 + 5_000;
        let quiet = |seed: u64, amp: f32| crate::testkit::pink(n, seed, amp);
        // Pink noise with short bursts near full scale.
        let mut a = quiet(3, 0.1);
        for k in 0..12 {
            let at = 20_000 + k * 13_337;
            for (j, x) in a[at..at + 300].iter_mut().enumerate() {
                *x = 0.89 * ((j as f32) * 0.7).sin();
            }
        }
        // Near Nyquist: alternating samples, where the interpolators ring hardest.
        let mut b = quiet(4, 0.05);
        for (j, x) in b[CHUNK + 777..CHUNK + 2_000].iter_mut().enumerate() {
            *x = if j % 2 == 0 { 0.6 } else { -0.6 } * (1.0 - j as f32 / 1300.0);
        }
        // The loudest frame in the last chunk.
        let mut c = quiet(5, 0.2);
        c[n - 1_000] = 0.95;
        let mut total_skipped = 0;
        for (i, sig) in [&a, &b, &c].into_iter().enumerate() {
            let other = quiet(9, 0.03);
            let planes: [&[f32]; 2] = [sig, &other];
            let max_of = |mut s: EnvelopeStream| {
                let mut m = 0.0f32;
                let mut take = |_: usize, env: &[f32]| m = env.iter().fold(m, |a, &v| a.max(v));
                for (x, y) in planes[0].chunks(10_000).zip(planes[1].chunks(10_000)) {
                    s.push(&[x, y], &mut take);
                }
                s.finish(&mut take);
                (m, s.skipped_spans())
            };
            let (full, none) = max_of(EnvelopeStream::new(2, 44100));
            let (peak, skipped) = max_of(EnvelopeStream::peak_only(2, 44100));
            assert_eq!(none, 0);
            assert_eq!(full.to_bits(), peak.to_bits(), "{full} vs {peak}");
            let exact = envelope(sig).into_iter().fold(0.0f32, f32::max);
            if i == 0 {
                assert!(
                    full > exact,
                    "a standard meter holds the maximum: {full} vs {exact}"
                );
            }
            total_skipped += skipped;
        }
        assert!(total_skipped > 1000, "skipped {total_skipped} spans");
    }

    /// Every maximum is the plain maximum of its window cut to the signal, whatever pieces the
    /// values come in: the look-ahead's window and a small one, signals shorter and longer
    /// than the window.
    #[test]
    fn sliding_max_over_a_clipped_window() {
        let noise: Vec<f32> = crate::testkit::white(5_000, 11, 1.0)
            .iter()
            .map(|x| x.abs())
            .collect();
        let steps: Vec<f32> = (0..50).map(|i: usize| ((i * 37) % 23) as f32).collect();
        for (v, back, ahead) in [
            (&steps[..], 3, 5),
            (&noise[..], 16, 81),
            (&noise[..60], 16, 81),
        ] {
            let n = v.len();
            let want: Vec<f32> = (0..n)
                .map(|i: usize| {
                    v[i.saturating_sub(back)..(i + ahead + 1).min(n)]
                        .iter()
                        .fold(f32::MIN, |a, &b| a.max(b))
                })
                .collect();
            for piece in [7, 1000, SLIDE + 1] {
                let mut m = SlidingMax::new(back, ahead);
                let mut out = Vec::new();
                for c in v.chunks(piece) {
                    m.push(c, &mut out);
                }
                m.finish(&mut out);
                assert_eq!(
                    out, want,
                    "{n} values, window -{back}..+{ahead}, pieces {piece}"
                );
            }
        }
    }
}
