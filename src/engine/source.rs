//! A stem placed on the song's timeline: decoded from disk packet by packet, resampled to the
//! session rate on the fly, preceded by `offset` frames of silence, and handed out in blocks of
//! exactly the requested length (zeros once it has ended). Memory per stem is a few blocks,
//! whatever the stem's length. When the song is done, [`StemSource::finish`] decodes whatever
//! the song did not need, so a render checks every packet of a stem, as `check` does.

use std::path::Path;

use crate::io::decode::{DecodeError, FULL_SCALE, StemDecoder};
use crate::io::resample::{Fifo, ResampleError, StreamResampler};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

pub struct StemSource {
    dec: StemDecoder,
    resampler: Option<StreamResampler>,
    /// Decoded frames waiting when no resampling is needed.
    direct: Fifo,
    scratch: Vec<Vec<f32>>,
    /// Silent frames still to emit before the stem starts.
    lead_in: u64,
    decoded_all: bool,
    /// Largest absolute sample of the decoded stem (before resampling).
    pub source_peak: f32,
    /// Decoded samples at or beyond full scale.
    pub source_clipped: u64,
}

impl StemSource {
    pub fn open(path: &Path, session_rate: u32, offset_frames: u64) -> Result<Self, SourceError> {
        let dec = StemDecoder::open(path)?;
        let info = dec.info().clone();
        let resampler = if info.sample_rate != session_rate {
            Some(StreamResampler::new(
                info.sample_rate,
                session_rate,
                info.channels,
            )?)
        } else {
            None
        };
        Ok(StemSource {
            dec,
            resampler,
            direct: Fifo::new(info.channels),
            scratch: vec![Vec::new(); info.channels],
            lead_in: offset_frames,
            decoded_all: false,
            source_peak: 0.0,
            source_clipped: 0,
        })
    }

    fn ready(&mut self) -> &mut Fifo {
        match &mut self.resampler {
            Some(r) => r.output(),
            None => &mut self.direct,
        }
    }

    /// Fill `out` (two channels of equal length) with the next block; a mono stem is copied to
    /// both channels. After the stem ends the block is zeros.
    pub fn read(&mut self, out: &mut [&mut [f32]; 2]) -> Result<(), SourceError> {
        let n = out[0].len();
        let mono = self.dec.info().channels == 1;
        let mut pos = 0;
        while pos < n {
            if self.lead_in > 0 {
                let k = (self.lead_in.min((n - pos) as u64)) as usize;
                out[0][pos..pos + k].fill(0.0);
                out[1][pos..pos + k].fill(0.0);
                self.lead_in -= k as u64;
                pos += k;
                continue;
            }
            let avail = self.ready().len();
            if avail > 0 {
                let k = avail.min(n - pos);
                let [l, r] = out;
                let got = if mono {
                    let g = self.ready().pop_into(&mut [&mut l[pos..pos + k]], k);
                    r[pos..pos + g].copy_from_slice(&l[pos..pos + g]);
                    g
                } else {
                    self.ready()
                        .pop_into(&mut [&mut l[pos..pos + k], &mut r[pos..pos + k]], k)
                };
                pos += got;
                continue;
            }
            if self.decoded_all {
                out[0][pos..].fill(0.0);
                out[1][pos..].fill(0.0);
                break;
            }
            self.decode_more()?;
        }
        Ok(())
    }

    /// Frames decoded from the stem so far, at its own rate.
    pub fn frames_decoded(&self) -> u64 {
        self.dec.frames_decoded()
    }

    /// Decode the rest of the stem, discarding it: an error anywhere up to its end (a damaged
    /// packet after the last frame the song used, a length other than the header's) fails the
    /// render exactly as it fails `check`.
    pub fn finish(&mut self) -> Result<(), SourceError> {
        if !self.decoded_all {
            self.dec.drain()?;
            self.decoded_all = true;
        }
        Ok(())
    }

    fn decode_more(&mut self) -> Result<(), SourceError> {
        for s in &mut self.scratch {
            s.clear();
        }
        let n = self.dec.next_into(&mut self.scratch)?;
        if n == 0 {
            self.decoded_all = true;
            if let Some(r) = &mut self.resampler {
                r.finish()?;
            }
            return Ok(());
        }
        for s in &self.scratch {
            for &x in s {
                let a = x.abs();
                if a > self.source_peak {
                    self.source_peak = a;
                }
                self.source_clipped += u64::from(a >= FULL_SCALE);
            }
        }
        match &mut self.resampler {
            Some(r) => r.push(&self.scratch, n)?,
            None => self.direct.push(&self.scratch, n),
        }
        Ok(())
    }
}
