//! A stem placed on the song's timeline: decoded from disk packet by packet, resampled to the
//! session rate on the fly, preceded by `offset` frames of silence, and handed out in blocks of
//! exactly the requested length (zeros once it has ended). Memory per stem is a few blocks,
//! whatever the stem's length. When the song is done, [`StemSource::finish`] decodes whatever
//! the song did not need, so a render checks every packet of a stem, as `check` does.
//!
//! The file is opened only when the render reaches the stem's offset and closed as soon as it
//! has been decoded to the end, so a session of many stems placed one after another never has
//! them all open at once (and `io::files` bounds how many stay open when they do overlap).

use std::path::{Path, PathBuf};

use crate::dsp::fade::Fades;
use crate::io::decode::{DecodeError, FULL_SCALE, StemDecoder, StemInfo};
use crate::io::resample::{Fifo, ResampleError, StreamResampler};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Resample(#[from] ResampleError),
    #[error(
        "the file changed during the render: it now holds {now}, but {was} when the render started"
    )]
    Changed { was: String, now: String },
}

/// Where a track's stem sits in the song, in session frames: the frames of silence before it,
/// and the frames of the stem it plays (its region, faded).
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub offset: u64,
    /// Frames of the resampled stem skipped before the region starts.
    pub skip: u64,
    pub fades: Fades,
    /// Frames of the stem played at most: the region's length when it ends before the stem
    /// does or fades out, otherwise unbounded (whatever the resampler delivers).
    pub limit: u64,
}

impl Placed {
    /// The whole stem, unfaded, `offset` frames into the song.
    pub fn whole(offset: u64) -> Self {
        Placed {
            offset,
            skip: 0,
            fades: Fades {
                len: u64::MAX,
                fade_in: 0,
                fade_out: 0,
                curve: Default::default(),
            },
            limit: u64::MAX,
        }
    }
}

pub struct StemSource {
    path: PathBuf,
    /// What the header said when the session was loaded.
    info: StemInfo,
    /// Open from the stem's offset until it has been decoded to the end.
    dec: Option<StemDecoder>,
    /// Frames the decoder had decoded when it was closed.
    closed_at: u64,
    resampler: Option<StreamResampler>,
    /// Decoded frames waiting when no resampling is needed.
    direct: Fifo,
    scratch: Vec<Vec<f32>>,
    /// Silent frames still to emit before the stem starts.
    lead_in: u64,
    /// Frames of the resampled stem still to skip before its region starts.
    skip: u64,
    /// The region's length and fades.
    fades: Fades,
    /// Frames of the region emitted so far.
    played: u64,
    limit: u64,
    decoded_all: bool,
    /// Largest absolute sample of the decoded stem (before resampling).
    pub source_peak: f32,
    /// Decoded samples at or beyond full scale.
    pub source_clipped: u64,
}

fn describe(info: &StemInfo) -> String {
    format!(
        "{} channel{} at {} Hz",
        info.channels,
        if info.channels == 1 { "" } else { "s" },
        info.sample_rate
    )
}

impl StemSource {
    /// The stem at `path`, whose header says `info`, placed in a song at `session_rate` as
    /// `placed` says. Nothing is opened yet.
    pub fn new(
        path: &Path,
        info: &StemInfo,
        session_rate: u32,
        placed: Placed,
    ) -> Result<Self, SourceError> {
        let info = info.clone();
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
            path: path.to_path_buf(),
            dec: None,
            closed_at: 0,
            resampler,
            direct: Fifo::new(info.channels),
            scratch: vec![Vec::new(); info.channels],
            lead_in: placed.offset,
            skip: placed.skip,
            fades: placed.fades,
            played: 0,
            limit: placed.limit,
            decoded_all: false,
            source_peak: 0.0,
            source_clipped: 0,
            info,
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
        let mono = self.info.channels == 1;
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
            if avail > 0 && self.skip > 0 {
                let k = (self.skip.min(avail as u64)) as usize;
                self.ready().consume(k);
                self.skip -= k as u64;
                continue;
            }
            let left = self.limit.saturating_sub(self.played);
            if left == 0 {
                // The region has played: silence from here (the rest is decoded by `finish`).
                out[0][pos..].fill(0.0);
                out[1][pos..].fill(0.0);
                break;
            }
            if avail > 0 {
                let k = avail
                    .min(n - pos)
                    .min(usize::try_from(left).unwrap_or(usize::MAX));
                let [l, r] = out;
                let got = if mono {
                    let g = self.ready().pop_into(&mut [&mut l[pos..pos + k]], k);
                    r[pos..pos + g].copy_from_slice(&l[pos..pos + g]);
                    g
                } else {
                    self.ready()
                        .pop_into(&mut [&mut l[pos..pos + k], &mut r[pos..pos + k]], k)
                };
                self.fades.apply(
                    self.played,
                    &mut [&mut l[pos..pos + got], &mut r[pos..pos + got]],
                );
                self.played += got as u64;
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
        self.dec
            .as_ref()
            .map_or(self.closed_at, StemDecoder::frames_decoded)
    }

    /// Close the decoder (the stem is decoded to its end), keeping its count of frames.
    fn close(&mut self) {
        if let Some(d) = self.dec.take() {
            self.closed_at = d.frames_decoded();
        }
        self.decoded_all = true;
    }

    /// Decode the rest of the stem, discarding it: an error anywhere up to its end (a damaged
    /// packet after the last frame the song used, a length other than the header's) fails the
    /// render exactly as it fails `check`.
    pub fn finish(&mut self) -> Result<(), SourceError> {
        if !self.decoded_all {
            Self::decoder(&mut self.dec, &self.path, &self.info)?.drain()?;
            self.close();
        }
        Ok(())
    }

    /// The stem's decoder in `dec`, opening the file at `path` (and checking it still holds what
    /// its header said when the session was loaded, `info`) on first use.
    fn decoder<'a>(
        dec: &'a mut Option<StemDecoder>,
        path: &Path,
        info: &StemInfo,
    ) -> Result<&'a mut StemDecoder, SourceError> {
        if let Some(d) = dec {
            return Ok(d);
        }
        let d = StemDecoder::open(path)?;
        let now = d.info();
        if (now.sample_rate, now.channels) != (info.sample_rate, info.channels) {
            return Err(SourceError::Changed {
                was: describe(info),
                now: describe(now),
            });
        }
        Ok(dec.insert(d))
    }

    fn decode_more(&mut self) -> Result<(), SourceError> {
        for s in &mut self.scratch {
            s.clear();
        }
        let n =
            Self::decoder(&mut self.dec, &self.path, &self.info)?.next_into(&mut self.scratch)?;
        if n == 0 {
            // Decoded to the end: close the file.
            self.close();
            if let Some(r) = &mut self.resampler {
                r.finish()?;
            }
            return Ok(());
        }
        // In locals, as folds: the loops vectorise (through `self` the peak would be loaded
        // and stored sample by sample).
        let (mut peak, mut clipped) = (self.source_peak, 0u64);
        let scratch = &self.scratch;
        crate::dsp::simd::wide(
            #[inline(always)]
            || {
                for s in scratch {
                    peak = s.iter().fold(peak, |m, x| m.max(x.abs()));
                    clipped += s
                        .iter()
                        .map(|x| u64::from(x.abs() >= FULL_SCALE))
                        .sum::<u64>();
                }
            },
        );
        (self.source_peak, self.source_clipped) = (peak, self.source_clipped + clipped);
        match &mut self.resampler {
            Some(r) => r.push(&self.scratch, n)?,
            None => self.direct.push(&self.scratch, n),
        }
        Ok(())
    }
}

/// Why a track's source failed, and in which of its files.
#[derive(Debug)]
pub struct ClipError {
    /// The file as written in the session.
    pub file: String,
    pub source: SourceError,
}

/// One region of a track, ready to play.
pub struct ClipPlan {
    pub path: PathBuf,
    /// The file as written in the session (for messages).
    pub display: String,
    pub info: StemInfo,
    pub placed: Placed,
    /// The region's own gain (linear).
    pub gain: f32,
}

enum Stage {
    /// Not reached yet: nothing allocated, nothing open.
    Waiting,
    /// Boxed: a waiting or finished region of a long list costs a word, not a decoder's worth.
    Playing(Box<StemSource>),
    /// Played and decoded to the end of its file; closed.
    Done,
}

/// What a track plays, block by block: one stem, or several regions summed where they overlap
/// (their fades make the crossfades).
///
/// A region's source (decoder, resampler) is made only when the song reaches the region, and
/// the region's file is decoded to its end (checked, as `check` does) and closed as soon as the
/// region has played, so a track of a hundred regions in a row holds one file open at a time,
/// two across a crossfade.
pub struct TrackSource {
    clips: Vec<(ClipPlan, Stage)>,
    rate: u32,
    /// A single region at unity gain, read straight into the block (bit for bit what a track
    /// with `file` gives).
    direct: bool,
    /// Song frame of the next block.
    frame: u64,
    scratch: [Vec<f32>; 2],
    /// Largest absolute sample of the decoded files (before resampling).
    pub source_peak: f32,
    /// Decoded samples at or beyond full scale.
    pub source_clipped: u64,
}

impl TrackSource {
    /// The regions `clips` of a track in a song at `session_rate`, in the order they are
    /// summed. A single region at unity gain gets its source at once (its file still opens
    /// only when the song reaches it); the others wait for the song to reach them.
    pub fn new(clips: Vec<ClipPlan>, session_rate: u32) -> Result<Self, ClipError> {
        let direct = clips.len() == 1 && clips[0].gain == 1.0;
        let mut out = Vec::with_capacity(clips.len());
        for c in clips {
            let stage = if direct {
                Stage::Playing(Box::new(Self::open(&c, session_rate, c.placed.offset)?))
            } else {
                Stage::Waiting
            };
            out.push((c, stage));
        }
        Ok(TrackSource {
            clips: out,
            rate: session_rate,
            direct,
            frame: 0,
            scratch: [Vec::new(), Vec::new()],
            source_peak: 0.0,
            source_clipped: 0,
        })
    }

    fn open(c: &ClipPlan, rate: u32, lead_in: u64) -> Result<StemSource, ClipError> {
        StemSource::new(
            &c.path,
            &c.info,
            rate,
            Placed {
                offset: lead_in,
                ..c.placed
            },
        )
        .map_err(|source| ClipError {
            file: c.display.clone(),
            source,
        })
    }

    /// Decode what is left of a region's file, close it and keep its figures.
    fn retire(&mut self, k: usize) -> Result<(), ClipError> {
        let (c, stage) = &mut self.clips[k];
        let mut src = match std::mem::replace(stage, Stage::Done) {
            Stage::Playing(s) => *s,
            Stage::Waiting => Self::open(c, self.rate, 0)?,
            Stage::Done => return Ok(()),
        };
        src.finish().map_err(|source| ClipError {
            file: c.display.clone(),
            source,
        })?;
        self.source_peak = self.source_peak.max(src.source_peak);
        self.source_clipped += src.source_clipped;
        Ok(())
    }

    /// Fill `out` (two channels of equal length) with the next block of the track.
    pub fn read(&mut self, out: &mut [&mut [f32]; 2]) -> Result<(), ClipError> {
        let n = out[0].len();
        let (from, to) = (self.frame, self.frame + n as u64);
        self.frame = to;
        if self.direct {
            let (c, stage) = &mut self.clips[0];
            if let Stage::Playing(src) = stage {
                // (Its peak and clipped samples are taken when it is retired, as every
                // region's are.)
                return src.read(out).map_err(|source| ClipError {
                    file: c.display.clone(),
                    source,
                });
            }
            out[0].fill(0.0);
            out[1].fill(0.0);
            return Ok(());
        }
        out[0].fill(0.0);
        out[1].fill(0.0);
        for s in &mut self.scratch {
            s.resize(n, 0.0);
        }
        for k in 0..self.clips.len() {
            let (c, stage) = &mut self.clips[k];
            let (start, end) = (c.placed.offset, c.placed.offset + c.placed.fades.len);
            if start >= to || matches!(stage, Stage::Done) {
                continue;
            }
            if matches!(stage, Stage::Waiting) {
                let lead_in = start.saturating_sub(from);
                *stage = Stage::Playing(Box::new(Self::open(c, self.rate, lead_in)?));
            }
            let Stage::Playing(src) = stage else {
                continue;
            };
            let [sl, sr] = &mut self.scratch;
            src.read(&mut [&mut sl[..n], &mut sr[..n]])
                .map_err(|source| ClipError {
                    file: c.display.clone(),
                    source,
                })?;
            let g = c.gain;
            let [ol, or] = out;
            for (o, s) in [(&mut **ol, &sl[..n]), (&mut **or, &sr[..n])] {
                for (o, &x) in o.iter_mut().zip(s) {
                    *o += g * x;
                }
            }
            if end <= to {
                self.retire(k)?;
            }
        }
        Ok(())
    }

    /// Decode every file to its end (regions the song never reached included), as `check`
    /// does: a damaged packet after the last frame the song used fails the render too.
    pub fn finish(&mut self) -> Result<(), ClipError> {
        for k in 0..self.clips.len() {
            self.retire(k)?;
        }
        Ok(())
    }
}
