//! The limiter's detector over a whole signal, as a stream: blocks of frames go in, and the
//! stereo-linked envelope every meter stays under comes out, chunk by chunk, with only a chunk
//! and its margins in memory.
//!
//! Per channel and frame the envelope is the largest reading of the exact band-limited
//! reconstruction ([`truepeak::block_envelope`], FFT blocks of [`truepeak::CORE`] frames at
//! fixed positions of the signal, so the result does not depend on how the signal was fed) and
//! of the standard meters ([`Meters`], [`SwrMeter`]); linked is the largest over the channels.

use rayon::prelude::*;

use crate::dsp::truepeak::{
    self, CORE, Interpolator, MARGIN, Meters, Scratch, SwrMeter, mirror_start,
};

/// FFT blocks per chunk.
const BLOCKS: usize = 4;
/// Frames per chunk.
pub const CHUNK: usize = CORE * BLOCKS;

/// The detector of one signal, fed in order.
pub struct EnvelopeStream {
    meters: Meters,
    swr: Option<SwrMeter>,
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
        let reach = MARGIN
            .max(meters.reach())
            .max(swr.as_ref().map_or(0, SwrMeter::reach));
        EnvelopeStream {
            meters,
            swr,
            reach,
            buf: vec![vec![0.0; reach]; channels],
            buf_start: -(reach as isize),
            next: 0,
            fed: 0,
            out: Vec::new(),
        }
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
        let envs: Vec<Vec<f32>> = self
            .buf
            .par_iter()
            .map(|b| {
                let window = &b[lead..lead + span];
                let mut env = vec![0.0f32; CHUNK];
                env.par_chunks_mut(CORE)
                    .enumerate()
                    .for_each_init(Scratch::new, |sc, (k, out)| {
                        truepeak::block_envelope(window, reach + k * CORE, out, sc)
                    });
                let mut y = Vec::new();
                meters.max_into(window, reach, &mut env, &mut y);
                if let Some(swr) = swr {
                    if first {
                        let mut w = window.to_vec();
                        mirror_start(&mut w, reach);
                        swr.max_into(&w, reach, &mut env, &mut y);
                    } else {
                        swr.max_into(window, reach, &mut env, &mut y);
                    }
                }
                env
            })
            .collect();
        self.out.clear();
        self.out.extend_from_slice(&envs[0][..len]);
        for e in &envs[1..] {
            for (o, v) in self.out.iter_mut().zip(e) {
                *o = o.max(*v);
            }
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
/// values, in order (monotonic deque, O(1) per value).
pub struct SlidingMax {
    back: usize,
    ahead: usize,
    dq: std::collections::VecDeque<(usize, f32)>,
    pushed: usize,
    emitted: usize,
}

impl SlidingMax {
    pub fn new(back: usize, ahead: usize) -> Self {
        SlidingMax {
            back,
            ahead,
            dq: Default::default(),
            pushed: 0,
            emitted: 0,
        }
    }

    fn out(&mut self, out: &mut Vec<f32>) {
        let i = self.emitted;
        while self.dq.front().is_some_and(|&(j, _)| j + self.back < i) {
            self.dq.pop_front();
        }
        out.push(self.dq.front().map_or(0.0, |&(_, v)| v));
        self.emitted += 1;
    }

    /// Feed values; the maxima that are now complete are appended to `out`.
    pub fn push(&mut self, values: &[f32], out: &mut Vec<f32>) {
        for &v in values {
            while self.dq.back().is_some_and(|&(_, b)| b <= v) {
                self.dq.pop_back();
            }
            self.dq.push_back((self.pushed, v));
            self.pushed += 1;
            if self.pushed > self.ahead {
                self.out(out);
            }
        }
    }

    /// The stream has ended: append the remaining maxima.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        while self.emitted < self.pushed {
            self.out(out);
        }
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

    #[test]
    fn sliding_max_over_a_clipped_window() {
        let v: Vec<f32> = (0..50).map(|i| ((i * 37) % 23) as f32).collect();
        let mut m = SlidingMax::new(3, 5);
        let mut out = Vec::new();
        for c in v.chunks(7) {
            m.push(c, &mut out);
        }
        m.finish(&mut out);
        let want: Vec<f32> = (0..50)
            .map(|i: usize| {
                v[i.saturating_sub(3)..(i + 6).min(50)]
                    .iter()
                    .fold(f32::MIN, |a, &b| a.max(b))
            })
            .collect();
        assert_eq!(out, want);
    }
}
