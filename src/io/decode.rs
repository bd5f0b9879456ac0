//! Stem decoding with symphonia: WAV (integer and float, WAVE_FORMAT_EXTENSIBLE), AIFF, FLAC, MP3
//! and Ogg Vorbis, to planar `f32`. Decoding is incremental ([`StemDecoder`]) so a render streams
//! stems from disk; [`scan`] decodes a whole file once to validate it (`mixdown check`).
//!
//! Every command decodes through the one loop in [`StemDecoder::next_into`], with one policy: a
//! packet that does not decode is an error (never skipped), every decoded block is checked for
//! NaN and infinity, and the frame count must be what the header states (no fewer: truncated; no
//! more: the header is wrong or audio was appended). `check` runs it over whole files with
//! [`scan`], `render` streams with it and drains every stem to its end, so both stop at the same
//! packet with the same message.
//!
//! Plain PCM stems (WAV and AIFF integer and float samples, mono or stereo, whose data chunk
//! lies wholly inside the file) have their header parsed by symphonia as every other stem, and
//! their samples read by [`super::pcm`] with a small buffer: the same samples, blocks and errors,
//! a fraction of the memory per open stem. Anything else is decoded by symphonia throughout.
//!
//! symphonia can panic on damaged headers (arithmetic overflow, slicing); every call into it
//! runs under [`guarded`], so a panic there is a [`DecodeError::Panicked`] naming the file, not a
//! crash.

use std::cell::Cell;
use std::fs::File;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use super::files::StemFile;
use super::pcm::{Encoding, PcmReader};

use symphonia::core::codecs::audio::well_known::CODEC_ID_MP3;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, ReadBytes};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::Duration;

/// Lowest and highest stem sample rates accepted, in Hz.
pub const MIN_RATE: u32 = 8000;
pub const MAX_RATE: u32 = 192_000;

/// A sample at or beyond this magnitude sits at digital full scale (within 1 LSB at 16 bits).
pub const FULL_SCALE: f32 = 32767.0 / 32768.0;

/// Most frames a header may promise per byte of file. The densest format read is FLAC: a frame
/// of up to 65535 samples of one constant value per channel takes about 12 bytes (header, two
/// constant subframes, CRC), some 5500 frames per byte; Vorbis stays under 4096 (a silent
/// packet of at least one byte per 8192-sample block), MP3 under 100 and PCM at 1. A promise
/// beyond this comes from a damaged header, and planning a render on it would be absurd.
pub const MAX_FRAMES_PER_BYTE: u64 = 65_536;

/// What the file header says about a stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StemInfo {
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: usize,
    /// Frame count from the header, when the container states it.
    pub frames: Option<u64>,
    /// Container and codec, e.g. `wave pcm_s24le`.
    pub format: String,
}

/// Why a stem cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("file not found")]
    NotFound,
    #[error("cannot read the file: {0}")]
    Io(std::io::Error),
    #[error("not a supported audio file ({0}); mixdown reads WAV, AIFF, FLAC, MP3 and Ogg Vorbis")]
    Unsupported(String),
    #[error("the file has no audio track")]
    NoAudioTrack,
    #[error("{0} channels: stems must be mono or stereo; split or downmix it first")]
    Channels(usize),
    #[error("sample rate {0} Hz is outside the supported 8000..192000 Hz")]
    Rate(u32),
    #[error("the header does not state the sample rate or channel count")]
    MissingParams,
    #[error("corrupt audio data after frame {frame}: {message}")]
    Corrupt { frame: u64, message: String },
    #[error("truncated: the header promises {expected} frames but the file holds {actual}")]
    Truncated { expected: u64, actual: u64 },
    #[error("{what} sample at frame {frame}, channel {channel}; the file is damaged")]
    NonFinite {
        what: &'static str,
        frame: u64,
        channel: usize,
    },
    #[error(
        "the file holds more audio than the {expected} frames its header promises: the header is damaged or other audio was appended"
    )]
    Overlong { expected: u64 },
    #[error(
        "the header promises {frames} frames, more than a file of {bytes} bytes can hold; the header is damaged"
    )]
    Implausible { frames: u64, bytes: u64 },
    #[error("the decoder failed on damaged data ({0}); the file is corrupt")]
    Panicked(String),
    #[error("no decodable audio: the file is empty, cut short or corrupt")]
    NoAudio,
}

impl DecodeError {
    /// The same error again (a failed decoder keeps failing with its first error).
    fn again(&self) -> DecodeError {
        match self {
            DecodeError::NotFound => DecodeError::NotFound,
            DecodeError::Io(e) => DecodeError::Io(std::io::Error::new(e.kind(), e.to_string())),
            DecodeError::Unsupported(m) => DecodeError::Unsupported(m.clone()),
            DecodeError::NoAudioTrack => DecodeError::NoAudioTrack,
            DecodeError::Channels(c) => DecodeError::Channels(*c),
            DecodeError::Rate(r) => DecodeError::Rate(*r),
            DecodeError::MissingParams => DecodeError::MissingParams,
            DecodeError::Corrupt { frame, message } => DecodeError::Corrupt {
                frame: *frame,
                message: message.clone(),
            },
            DecodeError::Truncated { expected, actual } => DecodeError::Truncated {
                expected: *expected,
                actual: *actual,
            },
            DecodeError::NonFinite {
                what,
                frame,
                channel,
            } => DecodeError::NonFinite {
                what,
                frame: *frame,
                channel: *channel,
            },
            DecodeError::Overlong { expected } => DecodeError::Overlong {
                expected: *expected,
            },
            DecodeError::Implausible { frames, bytes } => DecodeError::Implausible {
                frames: *frames,
                bytes: *bytes,
            },
            DecodeError::Panicked(m) => DecodeError::Panicked(m.clone()),
            DecodeError::NoAudio => DecodeError::NoAudio,
        }
    }
}

thread_local! {
    /// Set while this thread runs symphonia code under [`guarded`]: its panics are caught and
    /// reported as errors, so the panic hook keeps quiet about them.
    static IN_DECODER: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` (code that calls into symphonia), turning a panic into [`DecodeError::Panicked`].
/// The first call installs a panic hook that stays silent for panics caught here and passes
/// every other panic to the hook that was there before.
fn guarded<T>(f: impl FnOnce() -> Result<T, DecodeError>) -> Result<T, DecodeError> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_DECODER.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = IN_DECODER.with(|d| d.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    IN_DECODER.with(|d| d.set(outer));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Err(DecodeError::Panicked(message))
    })
}

fn open_reader(path: &Path) -> Result<Box<dyn FormatReader>, DecodeError> {
    // Through the render's open-file budget (`files`): many stems may be open at once.
    let file = StemFile::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DecodeError::NotFound,
        _ => DecodeError::Io(e),
    })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = guarded(|| {
        Ok(symphonia::default::get_probe().probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        ))
    })?;
    probed.map_err(|e| match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            if has_audio_magic(path) {
                DecodeError::NoAudio
            } else {
                DecodeError::Unsupported("the content is not a known audio format".into())
            }
        }
        SymError::IoError(io) => DecodeError::Io(io),
        other => DecodeError::Unsupported(other.to_string()),
    })
}

/// Whether a file starts like one of the containers mixdown reads (to tell a cut-short audio
/// file from something that is not audio at all).
fn has_audio_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    let ok = File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok();
    ok && (matches!(
        &head,
        b"RIFF" | b"RIFX" | b"RF64" | b"FORM" | b"fLaC" | b"OggS"
    ) || head.starts_with(b"ID3")
        || (head[0] == 0xFF && head[1] & 0xE0 == 0xE0))
}

/// An open stem, decoding one packet at a time.
pub struct StemDecoder {
    source: Source,
    info: StemInfo,
    frames_decoded: u64,
    /// The first error: a decoder that failed keeps failing with it (nothing is skipped).
    failed: Option<DecodeError>,
}

/// Where a stem's samples come from.
enum Source {
    Symphonia(Box<Symphonia>),
    /// The data chunk of a plain PCM file, read natively.
    Pcm(PcmReader),
}

/// A stem decoded by symphonia.
struct Symphonia {
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// MP3 with a LAME tag: the frame (in the track's timestamps) where the encoder's padding
    /// ends. A packet starting there or later is audio past the stated length, which symphonia
    /// would trim away silently.
    mp3_end: Option<i64>,
    /// MP3 without a LAME tag: its length is not stated (symphonia estimates one from the
    /// bitrate and trims at the estimate), so nothing is trimmed from the end.
    untrimmed: bool,
    finished: bool,
}

impl std::fmt::Debug for StemDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StemDecoder")
            .field("info", &self.info)
            .field("frames_decoded", &self.frames_decoded)
            .finish()
    }
}

impl StemDecoder {
    /// Open and probe a stem. Fails on missing, unreadable, unsupported, surround or
    /// out-of-range files, and on headers that promise more frames than the file can hold.
    pub fn open(path: &Path) -> Result<Self, DecodeError> {
        Self::open_with(path, true)
    }

    /// Open a stem, reading plain PCM data natively when `native` (see the module docs), or
    /// everything through symphonia.
    pub(crate) fn open_with(path: &Path, native: bool) -> Result<Self, DecodeError> {
        let reader = open_reader(path)?;
        let track = reader
            .default_track(TrackType::Audio)
            .ok_or(DecodeError::NoAudioTrack)?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|c| c.audio())
            .ok_or(DecodeError::NoAudioTrack)?
            .clone();
        let track_id = track.id;
        let mp3 = params.codec == CODEC_ID_MP3;
        // An MP3's length is stated only by a Xing/Info frame count; mixdown trusts it when the
        // LAME tag also gives the encoder delay and padding (gapless). Without it symphonia
        // estimates the length from the first frames' bitrate, which is wrong for VBR files.
        let stated = !mp3 || track.delay.is_some();
        let frames = track.num_frames.filter(|_| stated);
        let mp3_end = match (mp3, frames) {
            (true, Some(n)) => Some(
                i64::try_from(n)
                    .unwrap_or(i64::MAX)
                    .saturating_add(i64::from(track.padding.unwrap_or(0))),
            ),
            _ => None,
        };
        let sample_rate = params.sample_rate.ok_or(DecodeError::MissingParams)?;
        let channels = params
            .channels
            .as_ref()
            .map(|c| c.count())
            .ok_or(DecodeError::MissingParams)?;
        if !(1..=2).contains(&channels) {
            return Err(DecodeError::Channels(channels));
        }
        if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
            return Err(DecodeError::Rate(sample_rate));
        }
        if frames == Some(0) {
            return Err(DecodeError::NoAudio);
        }
        if let Some(frames) = frames {
            let bytes = std::fs::metadata(path).map_err(DecodeError::Io)?.len();
            if frames > bytes.saturating_mul(MAX_FRAMES_PER_BYTE) {
                return Err(DecodeError::Implausible { frames, bytes });
            }
        }
        let decoder = guarded(|| {
            symphonia::default::get_codecs()
                .make_audio_decoder(&params, &AudioDecoderOptions::default())
                .map_err(|e| DecodeError::Unsupported(e.to_string()))
        })?;
        let container = reader.format_info().short_name;
        let format = format!("{container} {}", decoder.codec_info().short_name);
        let info = StemInfo {
            sample_rate,
            channels,
            frames,
            format,
        };
        // Plain PCM: the container states the data's length and every sample is stored in
        // its full width (no bits to shift), so the samples are the bytes as they lie.
        let plain = Encoding::of(params.codec).filter(|e| {
            let full = |b: Option<u32>| b.is_none_or(|b| b == e.bits());
            full(params.bits_per_sample) && full(params.bits_per_coded_sample)
        });
        if native
            && matches!(container, "wave" | "aiff")
            && let (Some(encoding), Some(frames)) = (plain, frames)
        {
            // symphonia's reader stands at the first byte of the data chunk.
            let start = reader.into_inner().pos();
            drop(decoder);
            return match open_pcm(path, start, encoding, channels, frames)? {
                Some(pcm) => Ok(StemDecoder {
                    source: Source::Pcm(pcm),
                    info,
                    frames_decoded: 0,
                    failed: None,
                }),
                // The data chunk runs past the end of the file: symphonia says how.
                None => Self::open_with(path, false),
            };
        }
        Ok(StemDecoder {
            source: Source::Symphonia(Box::new(Symphonia {
                reader,
                decoder,
                track_id,
                mp3_end,
                untrimmed: mp3 && !stated,
                finished: false,
            })),
            info,
            frames_decoded: 0,
            failed: None,
        })
    }

    /// Whether the samples are read natively (not through symphonia).
    #[cfg(test)]
    pub(crate) fn is_native(&self) -> bool {
        matches!(self.source, Source::Pcm(_))
    }

    pub fn info(&self) -> &StemInfo {
        &self.info
    }

    /// Frames decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.frames_decoded
    }

    /// Decode the next packet and append its frames to `out` (one `Vec` per channel).
    /// Returns the number of frames appended; 0 means the stream has ended and was complete.
    /// After an error every further call returns the same error.
    pub fn next_into(&mut self, out: &mut [Vec<f32>]) -> Result<usize, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.again());
        }
        let result = guarded(|| self.step(out));
        if let Err(e) = &result {
            self.failed = Some(e.again());
        }
        result
    }

    /// Decode until everything left in the stem has been checked, discarding the audio;
    /// returns the frames it held.
    pub fn drain(&mut self) -> Result<u64, DecodeError> {
        let mut sink = vec![Vec::new(); self.info.channels];
        let start = self.frames_decoded;
        loop {
            for s in &mut sink {
                s.clear();
            }
            if self.next_into(&mut sink)? == 0 {
                return Ok(self.frames_decoded - start);
            }
        }
    }

    fn step(&mut self, out: &mut [Vec<f32>]) -> Result<usize, DecodeError> {
        let frame = self.frames_decoded;
        let starts: Vec<usize> = out.iter().map(Vec::len).collect();
        let n = match &mut self.source {
            Source::Symphonia(s) => s.packet_into(out, frame, self.info.frames)?,
            Source::Pcm(p) => p.read_into(out, frame)?,
        };
        if n == 0 {
            // End of stream: the header's promise must have been kept.
            if let Some(expected) = self.info.frames
                && self.frames_decoded < expected
            {
                return Err(DecodeError::Truncated {
                    expected,
                    actual: self.frames_decoded,
                });
            }
            if self.frames_decoded == 0 {
                return Err(DecodeError::NoAudio);
            }
            return Ok(0);
        }
        let fail = |out: &mut [Vec<f32>], e| {
            for (o, &at) in out.iter_mut().zip(&starts) {
                o.truncate(at);
            }
            Err(e)
        };
        // Integer PCM converts to finite samples only; anything else is checked.
        let checked = !matches!(&self.source, Source::Pcm(p) if !p.is_float());
        for (ch, (o, &at)) in out.iter().zip(&starts).enumerate().filter(|_| checked) {
            if let Some(i) = first_non_finite(&o[at..]) {
                let what = if o[at + i].is_nan() {
                    "NaN"
                } else {
                    "infinite"
                };
                let e = DecodeError::NonFinite {
                    what,
                    frame: self.frames_decoded + i as u64,
                    channel: ch,
                };
                return fail(out, e);
            }
        }
        let total = self.frames_decoded + n as u64;
        if let Some(expected) = self.info.frames
            && total > expected
        {
            return fail(out, DecodeError::Overlong { expected });
        }
        self.frames_decoded = total;
        Ok(n)
    }
}

/// Index of the first NaN or infinity in `xs`. Each run of [`FINITE_RUN`] samples is tested
/// as a whole first (a vector fold of their exponent fields, no early exit), and searched only
/// when it holds one.
fn first_non_finite(xs: &[f32]) -> Option<usize> {
    const EXPONENT: u32 = 0x7F80_0000;
    xs.chunks(FINITE_RUN).enumerate().find_map(|(k, run)| {
        let top = run.iter().fold(0, |m, x| m.max(x.to_bits() & EXPONENT));
        (top == EXPONENT)
            .then(|| run.iter().position(|x| !x.is_finite()))
            .flatten()
            .map(|i| k * FINITE_RUN + i)
    })
}

/// Samples [`first_non_finite`] tests at a time.
const FINITE_RUN: usize = 512;

/// Open `path` at byte `start`, the first of `frames` frames of plain PCM, when they all lie
/// inside the file; `None` when the file is shorter.
fn open_pcm(
    path: &Path,
    start: u64,
    encoding: Encoding,
    channels: usize,
    frames: u64,
) -> Result<Option<PcmReader>, DecodeError> {
    use std::io::{Seek, SeekFrom};
    let mut file = StemFile::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DecodeError::NotFound,
        _ => DecodeError::Io(e),
    })?;
    let end = (encoding.bytes() as u64 * channels as u64)
        .checked_mul(frames)
        .and_then(|b| b.checked_add(start));
    if end.is_none_or(|end| end > file.len()) {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(start)).map_err(DecodeError::Io)?;
    Ok(Some(PcmReader::new(file, encoding, channels, frames)))
}

impl Symphonia {
    /// Decode the next packet of the track and append its frames to `out`; returns the frames
    /// appended, 0 at the end of the stream. `frame` is the index of the packet's first frame
    /// and `expected` the frame count the header states. On an error `out` is unchanged.
    fn packet_into(
        &mut self,
        out: &mut [Vec<f32>],
        frame: u64,
        expected: Option<u64>,
    ) -> Result<usize, DecodeError> {
        let corrupt = |e: SymError| DecodeError::Corrupt {
            frame,
            message: e.to_string(),
        };
        while !self.finished {
            let mut packet = match self.reader.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => {
                    self.finished = true;
                    break;
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.finished = true;
                    break;
                }
                Err(e) => return Err(corrupt(e)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            if let (Some(end), Some(expected)) = (self.mp3_end, expected)
                && packet.pts.get() >= end
            {
                // A whole MPEG frame after the stated length and the encoder's padding.
                return Err(DecodeError::Overlong { expected });
            }
            if self.untrimmed {
                packet.dur = Duration::new(packet.dur.get().saturating_add(packet.trim_end.get()));
                packet.trim_end = Duration::ZERO;
            }
            let buf = self.decoder.decode(&packet).map_err(corrupt)?;
            let n = buf.frames();
            if n == 0 {
                continue;
            }
            // Straight onto the end of `out` (no copy held per stem): grown by the buffer's
            // plane length and cut back to `n` frames.
            let planes = buf.samples_planar();
            if buf.num_planes() != out.len() || planes < n {
                return Err(DecodeError::Corrupt {
                    frame,
                    message: format!(
                        "the decoder gave {} planes of {planes} samples for {} channels of {n} frames",
                        buf.num_planes(),
                        out.len()
                    ),
                });
            }
            let starts: Vec<usize> = out.iter().map(Vec::len).collect();
            let mut tails: Vec<&mut [f32]> = out
                .iter_mut()
                .zip(&starts)
                .map(|(o, &at)| {
                    o.resize(at + planes, 0.0);
                    &mut o[at..]
                })
                .collect();
            buf.copy_to_slice_planar::<f32, _>(&mut tails);
            for (o, &at) in out.iter_mut().zip(&starts) {
                o.truncate(at + n);
            }
            return Ok(n);
        }
        Ok(0)
    }
}

/// Open a stem just far enough to read its header.
pub fn probe(path: &Path) -> Result<StemInfo, DecodeError> {
    StemDecoder::open(path).map(|d| d.info)
}

/// What a full decode found.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanInfo {
    pub info: StemInfo,
    /// Frames actually decoded.
    pub frames: u64,
    /// Largest absolute sample.
    pub peak: f32,
    /// Samples at or beyond digital full scale.
    pub clipped: u64,
}

/// Decode a whole stem to validate it, without keeping the audio.
pub fn scan(path: &Path) -> Result<ScanInfo, DecodeError> {
    let mut dec = StemDecoder::open(path)?;
    let mut bufs = vec![Vec::new(); dec.info.channels];
    let mut peak = 0.0f32;
    let mut clipped = 0u64;
    loop {
        for b in &mut bufs {
            b.clear();
        }
        let n = dec.next_into(&mut bufs)?;
        if n == 0 {
            break;
        }
        for b in &bufs {
            for &x in b {
                let a = x.abs();
                peak = peak.max(a);
                clipped += u64::from(a >= FULL_SCALE);
            }
        }
    }
    Ok(ScanInfo {
        frames: dec.frames_decoded,
        info: dec.info,
        peak,
        clipped,
    })
}

/// Decode a whole file into memory (impulse responses, references, `analyze`): planar, at the
/// file's own rate.
pub fn decode_all(path: &Path) -> Result<(StemInfo, Vec<Vec<f32>>), DecodeError> {
    let mut dec = StemDecoder::open(path)?;
    let mut bufs = vec![Vec::new(); dec.info.channels];
    while dec.next_into(&mut bufs)? > 0 {}
    Ok((dec.info, bufs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first NaN or infinity wherever it falls (either side of a run boundary, first,
    /// last, after a finite run), and none among the extreme finite values.
    #[test]
    fn the_first_non_finite_sample_is_found_anywhere() {
        let len = 3 * FINITE_RUN + 17;
        let finite: Vec<f32> = (0..len)
            .map(|i| match i % 4 {
                0 => f32::MAX,
                1 => -f32::MAX,
                2 => f32::from_bits(1),
                _ => (i as f32).sin(),
            })
            .collect();
        assert_eq!(first_non_finite(&finite), None);
        assert_eq!(first_non_finite(&[]), None);
        for at in [
            0,
            1,
            FINITE_RUN - 1,
            FINITE_RUN,
            2 * FINITE_RUN + 5,
            len - 1,
        ] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut x = finite.clone();
                x[at] = bad;
                // A later one does not hide it.
                x[len - 1] = f32::NAN;
                assert_eq!(first_non_finite(&x), Some(at), "{bad} at {at}");
            }
        }
    }
}
