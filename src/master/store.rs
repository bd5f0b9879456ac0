//! Long signals on disk instead of in memory: the premaster, the premaster at each output rate
//! and the limiter's detector run as long as the song, so they are written once, frame by
//! frame, to an anonymous temporary file (deleted by the system when it is closed, even if the
//! process dies) and read back block by block, as often as a pass needs. Memory stays a few
//! blocks whatever the song's length; the operating system's page cache keeps recently used
//! parts in RAM without counting them against the process.

use std::fs::File;
use std::io::Write as _;

/// Bytes gathered before a write.
const WRITE_BUFFER: usize = 1 << 20;
/// Largest read buffer a thread keeps between reads.
const KEEP_READ_BUFFER: usize = 4 << 20;

/// Why a store failed: the temporary file could not be made, written or read.
#[derive(Debug, thiserror::Error)]
#[error("temporary file for the {what}: {source}")]
pub struct StoreError {
    pub what: &'static str,
    pub source: std::io::Error,
}

/// Interleaved `f32` frames of a fixed channel count in a temporary file.
#[derive(Debug)]
pub struct Store {
    what: &'static str,
    file: File,
    channels: usize,
    /// Frames written (or kept, after [`Store::truncate`]).
    frames: usize,
    /// Frames written to the file so far (the rest wait in `pending`).
    flushed: usize,
    pending: Vec<u8>,
}

impl Store {
    /// An empty store of `channels` channels; `what` names it in errors.
    pub fn new(what: &'static str, channels: usize) -> Result<Self, StoreError> {
        let file = tempfile::tempfile().map_err(|source| StoreError { what, source })?;
        Ok(Store {
            what,
            file,
            channels,
            frames: 0,
            flushed: 0,
            pending: Vec::with_capacity(WRITE_BUFFER),
        })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames
    }

    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    fn err(&self, source: std::io::Error) -> StoreError {
        StoreError {
            what: self.what,
            source,
        }
    }

    /// Append planar frames (one slice per channel, equal lengths).
    pub fn push(&mut self, planes: &[&[f32]]) -> Result<(), StoreError> {
        let n = planes.first().map_or(0, |p| p.len());
        let frame_bytes = self.channels * 4;
        let at = self.pending.len();
        self.pending.resize(at + n * frame_bytes, 0);
        let bytes = &mut self.pending[at..];
        match planes {
            // One loop per common layout, so it runs without a branch per sample.
            [mono] if self.channels == 1 => {
                for (b, x) in bytes.chunks_exact_mut(4).zip(&mono[..n]) {
                    b.copy_from_slice(&x.to_le_bytes());
                }
            }
            [l, r] if self.channels == 2 => {
                for (b, (x, y)) in bytes.chunks_exact_mut(8).zip(l[..n].iter().zip(&r[..n])) {
                    b[..4].copy_from_slice(&x.to_le_bytes());
                    b[4..].copy_from_slice(&y.to_le_bytes());
                }
            }
            _ => {
                for (i, frame) in bytes.chunks_exact_mut(frame_bytes).enumerate() {
                    for (b, p) in frame.chunks_exact_mut(4).zip(planes) {
                        b.copy_from_slice(&p[i].to_le_bytes());
                    }
                }
            }
        }
        self.frames += n;
        if self.pending.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let at = (self.flushed * self.channels * 4) as u64;
        write_at(&self.file, &self.pending, at).map_err(|e| self.err(e))?;
        self.flushed += self.pending.len() / (self.channels * 4);
        self.pending.clear();
        Ok(())
    }

    /// Keep only the first `frames` frames.
    pub fn truncate(&mut self, frames: usize) -> Result<(), StoreError> {
        if frames < self.frames {
            self.flush()?;
            self.frames = frames;
            self.flushed = frames;
            self.file
                .set_len((frames * self.channels * 4) as u64)
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Finish writing: everything reaches the file, ready for [`Store::read`].
    pub fn seal(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        self.file.flush().map_err(|e| self.err(e))
    }

    /// Read frames `start..start + out[c].len()` into `out` (one `Vec` per channel, resized to
    /// `len`); frames outside the store read as zeros. The store must be sealed.
    pub fn read(&self, start: isize, len: usize, out: &mut [Vec<f32>]) -> Result<(), StoreError> {
        for o in out.iter_mut() {
            o.clear();
            o.resize(len, 0.0);
        }
        let lo = start.max(0) as usize;
        let hi = ((start + len as isize).max(0) as usize).min(self.flushed);
        if lo >= hi {
            return Ok(());
        }
        let frame_bytes = self.channels * 4;
        // The bytes go through the reading thread's own buffer, kept between reads (a pass
        // reads a long store a block at a time).
        thread_local! {
            static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BYTES.with(|cell| {
            let mut bytes = cell.borrow_mut();
            bytes.resize((hi - lo) * frame_bytes, 0);
            read_at(&self.file, &mut bytes, (lo * frame_bytes) as u64).map_err(|e| self.err(e))?;
            let offset = (lo as isize - start) as usize;
            let f = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            match out {
                // One loop per common layout, so it runs without a branch per sample.
                [mono] if self.channels == 1 => {
                    for (o, b) in mono[offset..].iter_mut().zip(bytes.chunks_exact(4)) {
                        *o = f(b);
                    }
                }
                [l, r] if self.channels == 2 => {
                    let frames = bytes.chunks_exact(8);
                    for ((x, y), b) in l[offset..].iter_mut().zip(&mut r[offset..]).zip(frames) {
                        *x = f(&b[..4]);
                        *y = f(&b[4..]);
                    }
                }
                _ => {
                    for (i, frame) in bytes.chunks_exact(frame_bytes).enumerate() {
                        for (o, b) in out.iter_mut().zip(frame.chunks_exact(4)) {
                            o[offset + i] = f(b);
                        }
                    }
                }
            }
            // A whole-store read (`load`) does not stay behind in memory.
            if bytes.capacity() > KEEP_READ_BUFFER {
                *bytes = Vec::new();
            }
            Ok(())
        })
    }

    /// The whole store in memory, one `Vec` per channel (for the few consumers that need the
    /// whole signal at once: reference matching, plots).
    pub fn load(&self) -> Result<Vec<Vec<f32>>, StoreError> {
        let mut out = vec![Vec::new(); self.channels];
        self.read(0, self.frames, &mut out)?;
        Ok(out)
    }

    /// A sealed store holding `planes`.
    pub fn from_planes(what: &'static str, planes: &[Vec<f32>]) -> Result<Self, StoreError> {
        let mut s = Store::new(what, planes.len())?;
        let refs: Vec<&[f32]> = planes.iter().map(|p| &p[..]).collect();
        s.push(&refs)?;
        s.seal()?;
        Ok(s)
    }
}

#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, at)
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, at)
}

#[cfg(windows)]
fn write_at(f: &File, mut buf: &[u8], mut at: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(f, buf, at)?;
        buf = &buf[n..];
        at += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(f: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(f, buf, at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_zeros_outside() {
        let l: Vec<f32> = (0..3_000_000).map(|i| i as f32).collect();
        let r: Vec<f32> = l.iter().map(|v| -v).collect();
        let mut s = Store::new("test", 2).unwrap();
        for (a, b) in l.chunks(4096).zip(r.chunks(4096)) {
            s.push(&[a, b]).unwrap();
        }
        s.seal().unwrap();
        assert_eq!(s.len(), 3_000_000);
        let mut out = vec![Vec::new(); 2];
        s.read(-2, 5, &mut out).unwrap();
        assert_eq!(out[0], [0.0, 0.0, 0.0, 1.0, 2.0]);
        assert_eq!(out[1], [0.0, 0.0, 0.0, -1.0, -2.0]);
        s.read(2_999_998, 4, &mut out).unwrap();
        assert_eq!(out[0], [2_999_998.0, 2_999_999.0, 0.0, 0.0]);
        s.truncate(10).unwrap();
        assert_eq!(s.load().unwrap(), vec![l[..10].to_vec(), r[..10].to_vec()]);
    }

    /// Mono and three-channel stores (their own conversion loops) keep every channel in place.
    #[test]
    fn mono_and_three_channel_round_trip() {
        for channels in [1usize, 3] {
            let planes: Vec<Vec<f32>> = (0..channels)
                .map(|c| (0..10_000).map(|i| (i * 7 + c) as f32 - 0.5).collect())
                .collect();
            let mut s = Store::new("test", channels).unwrap();
            for start in (0..10_000).step_by(3_333) {
                let end = (start + 3_333).min(10_000);
                let refs: Vec<&[f32]> = planes.iter().map(|p| &p[start..end]).collect();
                s.push(&refs).unwrap();
            }
            s.seal().unwrap();
            assert_eq!(s.load().unwrap(), planes, "{channels} channels");
            let mut out = vec![Vec::new(); channels];
            s.read(9_998, 3, &mut out).unwrap();
            for (o, p) in out.iter().zip(&planes) {
                assert_eq!(o, &[p[9_998], p[9_999], 0.0]);
            }
        }
    }
}
