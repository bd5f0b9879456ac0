//! Sample-rate conversion with rubato's FFT resampler (synchronous, fixed ratio).
//!
//! Two uses: [`StreamResampler`] converts a stem block by block while it is decoded, so a render
//! never holds whole decoded stems; [`resample_all`] converts a finished master to an output rate.
//! Both give exactly `ceil(n * to / from)` frames with the resampler's delay trimmed, so an
//! impulse at input time t lands on output frame `round(t * to)`: no time shift, no stray tail.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Indexing, Resampler};

/// Chunk size given to rubato: 4096 keeps the passband flat to 21.5 kHz (CRATES.md §4).
const CHUNK: usize = 4096;

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

/// Block-by-block resampler that trims rubato's delay at the start and pads to the exact length
/// at the end.
pub struct StreamResampler {
    inner: Fft<f32>,
    from: u32,
    to: u32,
    input: Fifo,
    output: Fifo,
    scratch_out: Vec<Vec<f32>>,
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
    finished: bool,
}

impl StreamResampler {
    pub fn new(from: u32, to: u32, channels: usize) -> Result<Self, ResampleError> {
        let inner = Fft::<f32>::new(
            from as usize,
            to as usize,
            CHUNK,
            channels,
            FixedSync::Input,
        )
        .map_err(|e| ResampleError {
            from,
            to,
            message: e.to_string(),
        })?;
        let delay_left = inner.output_delay();
        let max_out = inner.output_frames_max();
        Ok(StreamResampler {
            inner,
            from,
            to,
            input: Fifo::new(channels),
            output: Fifo::new(channels),
            scratch_out: vec![vec![0.0; max_out]; channels],
            delay_left,
            frames_in: 0,
            frames_out: 0,
            finished: false,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> ResampleError {
        ResampleError {
            from: self.from,
            to: self.to,
            message: e.to_string(),
        }
    }

    /// Feed input frames; converted output becomes available through [`Self::output`].
    pub fn push(&mut self, planes: &[Vec<f32>], frames: usize) -> Result<(), ResampleError> {
        self.input.push(planes, frames);
        self.frames_in += frames as u64;
        while self.input.len() >= self.inner.input_frames_next() {
            self.run_chunk(None)?;
        }
        Ok(())
    }

    /// The exact output length for the input seen so far: `ceil(n * to / from)`.
    fn target_len(&self) -> u64 {
        (self.frames_in * self.to as u64).div_ceil(self.from as u64)
    }

    /// Signal end of input: flush the last partial chunk and pump zeros until the output holds
    /// exactly `ceil(n * to / from)` frames in all.
    pub fn finish(&mut self) -> Result<(), ResampleError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let left = self.input.len();
        if left > 0 {
            self.run_chunk(Some(left))?;
        }
        while self.frames_out < self.target_len() {
            self.run_chunk(Some(0))?;
        }
        // Drop whatever the last chunk produced beyond the exact length.
        let excess = (self.frames_out - self.target_len()) as usize;
        if excess > 0 {
            let keep = self.output.len() - excess;
            let planes: Vec<Vec<f32>> = self
                .output
                .planes()
                .iter()
                .map(|p| p[..keep].to_vec())
                .collect();
            self.output = Fifo::new(planes.len());
            self.output.push(&planes, keep);
            self.frames_out -= excess as u64;
        }
        Ok(())
    }

    fn run_chunk(&mut self, partial: Option<usize>) -> Result<(), ResampleError> {
        let need = self.inner.input_frames_next();
        let avail = self.input.len();
        let channels = self.input.channels();
        // rubato wants `Vec`s; the FIFO keeps consumed frames at the front, so give it the
        // whole backing vectors and an input offset.
        let dummy;
        let (consumed, produced) = {
            let mut planes = &self.input.chans;
            let mut total = planes.first().map_or(0, Vec::len);
            if total == 0 {
                // Only zeros are being pumped; rubato still wants a non-empty buffer.
                dummy = vec![vec![0.0f32; 1]; channels];
                planes = &dummy;
                total = 1;
            }
            let input =
                SequentialSliceOfVecs::new(planes, channels, total).map_err(|e| self.err(e))?;
            let max_out = self.scratch_out.first().map_or(0, Vec::len);
            let mut output =
                SequentialSliceOfVecs::new_mut(&mut self.scratch_out, channels, max_out).map_err(
                    |e| ResampleError {
                        from: self.from,
                        to: self.to,
                        message: e.to_string(),
                    },
                )?;
            let mut idx = Indexing::new().input_offset(self.input.start);
            if let Some(p) = partial {
                idx = idx.partial_len(p.min(need));
            }
            self.inner
                .process_into_buffer(&input, &mut output, Some(&idx))
                .map_err(|e| ResampleError {
                    from: self.from,
                    to: self.to,
                    message: e.to_string(),
                })?
        };
        let consumed = if partial.is_some() {
            avail.min(consumed)
        } else {
            consumed
        };
        self.input.consume(consumed);
        let skip = self.delay_left.min(produced);
        self.delay_left -= skip;
        let usable = produced - skip;
        if usable > 0 {
            for (o, s) in self.output.chans.iter_mut().zip(&self.scratch_out) {
                o.extend_from_slice(&s[skip..produced]);
            }
            self.frames_out += usable as u64;
        }
        Ok(())
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

    #[test]
    fn streaming_in_odd_pieces_equals_whole() {
        let n = 30000;
        let sig: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.01).sin() * 0.5).collect();
        let whole = resample_all(std::slice::from_ref(&sig), 44100, 48000).unwrap();
        let mut r = StreamResampler::new(44100, 48000, 1).unwrap();
        let mut got = Vec::new();
        let mut i = 0;
        let mut piece = 1;
        while i < n {
            let end = (i + piece).min(n);
            r.push(&[sig[i..end].to_vec()], end - i).unwrap();
            let o = r.output();
            got.extend_from_slice(o.planes()[0]);
            let l = o.len();
            o.consume(l);
            i = end;
            piece = piece * 3 + 7;
        }
        r.finish().unwrap();
        got.extend_from_slice(r.output().planes()[0]);
        assert_eq!(got.len(), whole[0].len());
        for (a, b) in got.iter().zip(&whole[0]) {
            assert!((a - b).abs() < 1e-6);
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
}
