//! The WAV writer: an own RIFF/WAVE encoder that quantizes (with the dither of
//! [`crate::io::dither`]) and places the metadata chunks of [`crate::io::tags`] *before* `data`.
//!
//! [`encode`] turns planar float samples (nominal full scale ±1.0) into the complete bytes of a
//! WAV file: `RIFF`/`WAVE`, `fmt ` (`WAVE_FORMAT_PCM` for 16/24-bit, `WAVE_FORMAT_IEEE_FLOAT`
//! plus a `fact` chunk for 32-bit float), `CSET` (only for non-ASCII INFO text), `LIST`/`INFO`,
//! `id3 `, `data`. Integer quantization scales by 2^(bits-1) (the `i / 32768` convention hound
//! and symphonia use when reading), so -1.0 is the most negative code and +1.0 is one LSB above
//! the largest positive code. The dither
//! comes from a seeded PCG32 generator (one stream per channel), so the same input and seed give
//! the same bytes on every run and machine. Files reach the disk through [`crate::io::stage`].

use std::fmt::Write as _;
use std::ops::Range;

use sha2::{Digest, Sha256};

pub use crate::io::dither::Dither;
use crate::io::dither::Quantizer;
use crate::io::tags::{self, Tags};

/// Sample format of the delivered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 16-bit signed integer PCM (`WAVE_FORMAT_PCM`), 2 bytes per sample.
    Pcm16,
    /// 24-bit signed integer PCM (`WAVE_FORMAT_PCM`), 3 bytes per sample, little-endian.
    Pcm24,
    /// 32-bit IEEE 754 float (`WAVE_FORMAT_IEEE_FLOAT`), 4 bytes per sample, written unquantized.
    Float32,
}

impl Encoding {
    /// Bits per sample written in the `fmt ` chunk (16, 24 or 32).
    pub fn bits_per_sample(self) -> u16 {
        match self {
            Encoding::Pcm16 => 16,
            Encoding::Pcm24 => 24,
            Encoding::Float32 => 32,
        }
    }

    /// Bytes per sample of one channel (2, 3 or 4).
    fn bytes_per_sample(self) -> usize {
        usize::from(self.bits_per_sample() / 8)
    }

    /// Integer full scale 2^(bits-1) in LSB (32768 or 8388608); `None` for float.
    fn full_scale(self) -> Option<f64> {
        match self {
            Encoding::Pcm16 => Some(32_768.0),
            Encoding::Pcm24 => Some(8_388_608.0),
            Encoding::Float32 => None,
        }
    }
}

/// A complete encoded WAV file and facts about its audio data.
#[derive(Debug)]
pub struct Encoded {
    /// The complete WAV file, bytes.
    pub bytes: Vec<u8>,
    /// Byte range of the `data` chunk payload inside `bytes` (without the chunk header and
    /// without the pad byte that follows an odd-sized payload).
    pub data_range: Range<usize>,
    /// Lowercase hex SHA-256 (64 characters) of `bytes[data_range]`.
    pub data_sha256: String,
    /// Number of samples (counted per channel and summed over channels) whose signal value lay
    /// outside the representable range and was clamped. Integer PCM: the undithered value
    /// `x · 2^(bits-1)` rounds outside [-2^(bits-1), 2^(bits-1) - 1] (so +1.0 counts, -1.0 does
    /// not). A signal in range that only the dither (at most 1 LSB) or the noise-shaping
    /// feedback (at most about 4 LSB more) pushes past a rail is clamped too but not counted:
    /// it is not clipping of the signal, and counting it would make the result depend on the
    /// seed. Float32: |x| > 1.0 (such samples are written as they are, not clamped).
    pub clipped_samples: u64,
    /// Number of sample frames (samples per channel).
    pub frames: usize,
    /// Number of channels (1..=8).
    pub channels: usize,
    /// Sample format of the data.
    pub encoding: Encoding,
}

impl Encoded {
    /// Decode the `data` payload back to planar f32 samples, one `Vec` per channel, each
    /// `frames` long: integer PCM as `i / 2^(bits-1)` (in [-1, 1)), float as written. Used to
    /// check the true peak of the samples actually delivered. Returns empty channels if
    /// `data_range` does not lie inside `bytes`.
    pub fn planar_f32(&self) -> Vec<Vec<f32>> {
        let mut out = vec![Vec::with_capacity(self.frames); self.channels];
        self.decode_range(0..self.frames, &mut out);
        out
    }

    /// Decode frames `range` of the data payload into `out` (one `Vec` per channel, cleared
    /// first), so long files can be checked block by block without a second full copy.
    pub fn decode_range(&self, range: std::ops::Range<usize>, out: &mut [Vec<f32>]) {
        for ch in out.iter_mut() {
            ch.clear();
        }
        let bps = self.encoding.bytes_per_sample();
        let frame_len = bps * self.channels;
        if frame_len == 0 || out.len() != self.channels {
            return;
        }
        let end = range.end.min(self.frames);
        let start = range.start.min(end);
        let Some(data) = self.bytes.get(
            self.data_range.start + start * frame_len..self.data_range.start + end * frame_len,
        ) else {
            return;
        };
        for frame in data.chunks_exact(frame_len) {
            for (ch, s) in out.iter_mut().zip(frame.chunks_exact(bps)) {
                ch.push(match *s {
                    [a, b] => f32::from(i16::from_le_bytes([a, b])) / 32_768.0,
                    // Sign-extend 24 bits by placing them in the top of an i32.
                    [a, b, c] => (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 / 8_388_608.0,
                    [a, b, c, d] => f32::from_le_bytes([a, b, c, d]),
                    _ => 0.0,
                });
            }
        }
    }
}

/// Errors of [`encode`].
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The input has no channels.
    #[error("no audio channels to write")]
    NoChannels,
    /// More channels than the writer supports.
    #[error("{channels} channels requested; at most {max} are supported")]
    TooManyChannels {
        /// Channels requested.
        channels: usize,
        /// Largest supported channel count.
        max: usize,
    },
    /// Channels of different lengths (lengths in samples).
    #[error("channel {channel} has {found} samples but channel 0 has {expected}")]
    ChannelLengthMismatch {
        /// Zero-based index of the first channel whose length differs.
        channel: usize,
        /// Length of channel 0, samples.
        expected: usize,
        /// Length of the offending channel, samples.
        found: usize,
    },
    /// Sample rate 0 Hz, or so high that the byte rate (rate × channels × bytes per sample)
    /// does not fit the u32 field of the `fmt ` chunk.
    #[error("sample rate {sample_rate} Hz cannot be written to a WAV file")]
    InvalidSampleRate {
        /// The rejected sample rate, Hz.
        sample_rate: u32,
    },
    /// A NaN or infinite sample (an upstream processor blew up).
    #[error("sample {frame} of channel {channel} is not finite ({value})")]
    NonFinite {
        /// Zero-based channel index.
        channel: usize,
        /// Zero-based frame index.
        frame: usize,
        /// The offending value.
        value: f32,
    },
    /// The file would exceed the 4 GiB (u32 size field) limit of RIFF.
    #[error(
        "WAV file would be {bytes} bytes; RIFF allows at most 4294967295 bytes after the header"
    )]
    TooLarge {
        /// Size the complete file would have, bytes.
        bytes: u64,
    },
    /// A streaming writer was given more or fewer frames than its header announced.
    #[error("the WAV header announced {announced} frames but {given} were written")]
    FrameCount { announced: u64, given: u64 },
    /// Writing the file failed.
    #[error(transparent)]
    Io(std::io::Error),
}

/// Largest channel count [`encode`] accepts.
pub const MAX_CHANNELS: usize = 8;

/// Lowercase hex SHA-256 (64 characters) of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    let mut hex = String::with_capacity(2 * digest.len());
    for b in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// What [`read_back`] found in a delivered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBack {
    /// Lowercase hex SHA-256 of the `data` payload, as [`Written::data_sha256`].
    pub data_sha256: String,
    pub channels: usize,
    pub sample_rate: u32,
    pub frames: u64,
}

/// Read a WAV file this module wrote (16/24-bit integer or 32-bit float PCM) back in blocks:
/// `block` gets planar frames holding exactly the values the writer delivered (`i / 2^(bits-1)`
/// for integers), and the result carries the SHA-256 of the `data` payload, so a file can be
/// checked against the report that describes it and measured again, in constant memory.
pub fn read_back(
    path: &std::path::Path,
    block: &mut dyn FnMut(&[&[f32]]),
) -> std::io::Result<ReadBack> {
    use std::io::{Error, ErrorKind, Read, Seek, SeekFrom};
    let bad = |m: &str| Error::new(ErrorKind::InvalidData, m.to_string());
    let mut f = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut head = [0u8; 12];
    f.read_exact(&mut head)?;
    if &head[..4] != b"RIFF" || &head[8..] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let mut fmt: Option<(u16, usize, u32, u16)> = None;
    loop {
        let mut ch = [0u8; 8];
        f.read_exact(&mut ch).map_err(|_| bad("no data chunk"))?;
        let size = u64::from(u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]));
        match &ch[..4] {
            b"fmt " => {
                let mut b = vec![0u8; size as usize];
                f.read_exact(&mut b)?;
                if b.len() < 16 {
                    return Err(bad("fmt chunk too short"));
                }
                let tag = u16::from_le_bytes([b[0], b[1]]);
                let channels = usize::from(u16::from_le_bytes([b[2], b[3]]));
                let rate = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                let bits = u16::from_le_bytes([b[14], b[15]]);
                // WAVE_FORMAT_EXTENSIBLE: the sub-format's tag is the GUID's first two bytes.
                let tag = if tag == 0xFFFE && b.len() >= 26 {
                    u16::from_le_bytes([b[24], b[25]])
                } else {
                    tag
                };
                fmt = Some((tag, channels, rate, bits));
                if size % 2 == 1 {
                    f.seek(SeekFrom::Current(1))?;
                }
            }
            b"data" => {
                let (tag, channels, rate, bits) = fmt.ok_or_else(|| bad("data before fmt"))?;
                let width = match (tag, bits) {
                    (1, 16) => 2,
                    (1, 24) => 3,
                    (3, 32) => 4,
                    _ => return Err(bad("not 16/24-bit integer or 32-bit float PCM")),
                };
                if channels == 0 || channels > MAX_CHANNELS {
                    return Err(bad("unsupported channel count"));
                }
                let frame = width * channels;
                let scale = 1.0 / (1u32 << (bits - 1)) as f32;
                let mut sha = Sha256::new();
                let mut left = size - size % frame as u64;
                let mut buf = vec![0u8; frame * 4096];
                let mut planes = vec![Vec::with_capacity(4096); channels];
                let mut frames = 0;
                while left > 0 {
                    let n = (buf.len() as u64).min(left) as usize;
                    f.read_exact(&mut buf[..n])?;
                    sha.update(&buf[..n]);
                    left -= n as u64;
                    for p in &mut planes {
                        p.clear();
                    }
                    for fr in buf[..n].chunks_exact(frame) {
                        for (p, s) in planes.iter_mut().zip(fr.chunks_exact(width)) {
                            p.push(match width {
                                2 => f32::from(i16::from_le_bytes([s[0], s[1]])) * scale,
                                3 => {
                                    (i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) as f32 * scale
                                }
                                _ => f32::from_le_bytes([s[0], s[1], s[2], s[3]]),
                            });
                        }
                    }
                    frames += (n / frame) as u64;
                    let refs: Vec<&[f32]> = planes.iter().map(|p| &p[..]).collect();
                    block(&refs);
                }
                // A partial frame at the end is hashed too (the writer never leaves one).
                let mut rest = vec![0u8; (size % frame as u64) as usize];
                f.read_exact(&mut rest)?;
                sha.update(&rest);
                return Ok(ReadBack {
                    data_sha256: hex(&sha.finalize()),
                    channels,
                    sample_rate: rate,
                    frames,
                });
            }
            _ => {
                f.seek(SeekFrom::Current((size + size % 2) as i64))?;
            }
        }
    }
}

/// RIFF chunk size (file length - 8) and `data` payload size, bytes, for `frames` frames of
/// `block_align` bytes after `head_len` bytes of header chunks; [`WavError::TooLarge`] when
/// either does not fit the u32 size fields.
fn riff_sizes(frames: u64, block_align: u64, head_len: u64) -> Result<(u32, u32), WavError> {
    let data_len = frames.saturating_mul(block_align);
    // "WAVE" + header chunks + data chunk header + payload + pad byte.
    let riff = (4 + 8 + data_len % 2)
        .saturating_add(head_len)
        .saturating_add(data_len);
    let too_large = || WavError::TooLarge {
        bytes: riff.saturating_add(8),
    };
    Ok((
        u32::try_from(riff).map_err(|_| too_large())?,
        u32::try_from(data_len).map_err(|_| too_large())?,
    ))
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn push_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Quantize planar float samples and build the complete WAV file.
///
/// `planar`: one slice per channel (1..=[`MAX_CHANNELS`]), all the same length, nominal full
/// scale ±1.0, finite. `sample_rate` in Hz (> 0). `encoding`: output sample format. `dither`:
/// applied for 16/24-bit, ignored for float. `seed`: seeds the dither generator (channel `c` uses
/// PCG32 stream `c`), so equal input and seed give identical bytes and another seed gives
/// different dither. `tags`: written as `LIST`/`INFO` and `id3 ` chunks when not empty.
///
/// Integer PCM: `x · 2^(bits-1)` plus dither (LSB), rounded to nearest (ties to even), clamped to
/// [-2^(bits-1), 2^(bits-1) - 1], all in f64. Chunk order: `fmt ` (16-byte PCMWAVEFORMAT with
/// format 1 for PCM; 18-byte WAVEFORMATEX with format 3 and cbSize 0 for float), `fact` (float
/// only: frames per channel), `CSET` (code page UTF-8, only when an INFO value is not ASCII),
/// `LIST` (INFO), `id3 `, `data`; the `data` payload is followed by
/// a pad byte when its length is odd (24-bit mono with an odd frame count), as RIFF requires.
///
/// # Errors
/// [`WavError::NoChannels`], [`WavError::TooManyChannels`], [`WavError::ChannelLengthMismatch`],
/// [`WavError::InvalidSampleRate`], [`WavError::NonFinite`], [`WavError::TooLarge`].
pub fn encode(
    planar: &[Vec<f32>],
    sample_rate: u32,
    encoding: Encoding,
    dither: Dither,
    seed: u64,
    tags: &Tags,
) -> Result<Encoded, WavError> {
    let channels = planar.len();
    let frames = planar.first().map_or(0, Vec::len);
    if let Some((channel, ch)) = planar.iter().enumerate().find(|(_, c)| c.len() != frames) {
        return Err(WavError::ChannelLengthMismatch {
            channel,
            expected: frames,
            found: ch.len(),
        });
    }
    let format = Format {
        channels,
        sample_rate,
        encoding,
        dither,
        seed,
    };
    let mut w = Writer::new(Vec::new(), &format, tags, frames as u64)?;
    let data_start = w.data_start;
    let refs: Vec<&[f32]> = planar.iter().map(|p| &p[..]).collect();
    w.write(&refs, None)?;
    let (bytes, info) = w.finish()?;
    Ok(Encoded {
        data_range: data_start..data_start + info.data_len,
        data_sha256: info.data_sha256,
        clipped_samples: info.clipped_samples,
        frames,
        channels,
        encoding,
        bytes,
    })
}

/// Everything about a delivery file's samples except the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// 1..=[`MAX_CHANNELS`].
    pub channels: usize,
    /// Hz, > 0.
    pub sample_rate: u32,
    pub encoding: Encoding,
    /// Applied for 16/24-bit, ignored for float.
    pub dither: Dither,
    /// Seeds the dither (channel `c` uses PCG32 stream `c`).
    pub seed: u64,
}

/// What [`Writer::finish`] knows about the data it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Lowercase hex SHA-256 of the `data` payload (no pad byte).
    pub data_sha256: String,
    /// Bytes of the `data` payload.
    pub data_len: usize,
    /// As [`Encoded::clipped_samples`].
    pub clipped_samples: u64,
    pub frames: u64,
}

/// A WAV file written frame block by frame block: the header (with the sizes of `frames`
/// frames, announced up front) first, then the samples, quantized and dithered exactly as
/// [`encode`] does (which is this writer into memory), hashed as they go.
pub struct Writer<W: std::io::Write> {
    out: W,
    format: Format,
    quantizers: Vec<Quantizer>,
    frames: u64,
    written: u64,
    clipped: u64,
    sha: Sha256,
    data_len: usize,
    /// Where the `data` payload starts in the file, bytes.
    pub data_start: usize,
    buf: Vec<u8>,
    /// Each channel's integer codes of the block being written.
    codes: Vec<Vec<i32>>,
}

impl<W: std::io::Write> Writer<W> {
    /// Write the header of a file of `frames` frames in `format`, with `tags`.
    pub fn new(mut out: W, format: &Format, tags: &Tags, frames: u64) -> Result<Self, WavError> {
        let Format {
            channels,
            sample_rate,
            encoding,
            dither,
            seed,
        } = *format;
        if channels == 0 {
            return Err(WavError::NoChannels);
        }
        if channels > MAX_CHANNELS {
            return Err(WavError::TooManyChannels {
                channels,
                max: MAX_CHANNELS,
            });
        }
        let bps = encoding.bytes_per_sample();
        // channels <= 8 and bps <= 4, so these fit u16.
        let block_align = (channels * bps) as u16;
        let byte_rate = sample_rate
            .checked_mul(u32::from(block_align))
            .filter(|_| sample_rate > 0)
            .ok_or(WavError::InvalidSampleRate { sample_rate })?;

        // Header chunks (everything between "WAVE" and the data chunk header), each of even
        // length.
        let mut head = Vec::with_capacity(64);
        head.extend_from_slice(b"fmt ");
        let is_float = encoding == Encoding::Float32;
        push_u32(&mut head, if is_float { 18 } else { 16 });
        push_u16(&mut head, if is_float { 3 } else { 1 });
        push_u16(&mut head, channels as u16);
        push_u32(&mut head, sample_rate);
        push_u32(&mut head, byte_rate);
        push_u16(&mut head, block_align);
        push_u16(&mut head, encoding.bits_per_sample());
        if is_float {
            push_u16(&mut head, 0); // cbSize: no extension
            head.extend_from_slice(b"fact");
            push_u32(&mut head, 4);
            // Samples per channel; data_len <= u32::MAX is checked below, so frames fits too.
            push_u32(&mut head, u32::try_from(frames).unwrap_or(u32::MAX));
        }
        if let Some(cset) = tags::cset_chunk(tags) {
            head.extend_from_slice(&cset);
        }
        if let Some(info) = tags::info_chunk(tags) {
            head.extend_from_slice(&info);
        }
        if let Some(id3) = tags::id3_chunk(tags) {
            head.extend_from_slice(&id3);
        }
        let (riff_size, data_len) = riff_sizes(frames, u64::from(block_align), head.len() as u64)?;
        let mut bytes = Vec::with_capacity(head.len() + 20);
        bytes.extend_from_slice(b"RIFF");
        push_u32(&mut bytes, riff_size);
        bytes.extend_from_slice(b"WAVE");
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(b"data");
        push_u32(&mut bytes, data_len);
        out.write_all(&bytes).map_err(WavError::Io)?;
        let quantizers = match encoding.full_scale() {
            None => Vec::new(),
            Some(scale) => (0..channels)
                .map(|c| Quantizer::new(scale, dither, seed, c))
                .collect(),
        };
        Ok(Writer {
            out,
            format: *format,
            quantizers,
            frames,
            written: 0,
            clipped: 0,
            sha: Sha256::new(),
            data_len: 0,
            data_start: bytes.len(),
            buf: Vec::new(),
            codes: Vec::new(),
        })
    }

    /// Quantize and write the next frames (one slice per channel, equal lengths, finite).
    /// With `delivered`, also return the values the file now holds (`i / 2^(bits-1)` for
    /// integer PCM, the floats for float), one `Vec` per channel.
    pub fn write(
        &mut self,
        planar: &[&[f32]],
        mut delivered: Option<&mut [Vec<f32>]>,
    ) -> Result<(), WavError> {
        let channels = self.format.channels;
        let n = planar.first().map_or(0, |p| p.len());
        if planar.len() != channels {
            return Err(WavError::TooManyChannels {
                channels: planar.len(),
                max: channels,
            });
        }
        if let Some((channel, ch)) = planar.iter().enumerate().find(|(_, c)| c.len() != n) {
            return Err(WavError::ChannelLengthMismatch {
                channel,
                expected: n,
                found: ch.len(),
            });
        }
        for (channel, ch) in planar.iter().enumerate() {
            if let Some((i, &value)) = ch.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                return Err(WavError::NonFinite {
                    channel,
                    frame: self.written as usize + i,
                    value,
                });
            }
        }
        if self.written + n as u64 > self.frames {
            return Err(WavError::FrameCount {
                announced: self.frames,
                given: self.written + n as u64,
            });
        }
        if let Some(d) = delivered.as_deref_mut() {
            for c in d.iter_mut() {
                c.clear();
            }
        }
        let bps = self.format.encoding.bytes_per_sample();
        self.buf.clear();
        self.buf.reserve(n * channels * bps);
        match self.format.encoding.full_scale() {
            None => {
                for f in 0..n {
                    for (c, ch) in planar.iter().enumerate() {
                        let x = ch[f];
                        if x.abs() > 1.0 {
                            self.clipped += 1;
                        }
                        self.buf.extend_from_slice(&x.to_le_bytes());
                        if let Some(d) = delivered.as_deref_mut() {
                            d[c].push(x);
                        }
                    }
                }
            }
            Some(scale) => {
                let inv = (1.0 / scale) as f32;
                // Each channel's codes in one pass (its quantizer's state in registers), then
                // interleaved.
                self.codes.resize_with(channels, Vec::new);
                for ((ch, qz), codes) in
                    planar.iter().zip(&mut self.quantizers).zip(&mut self.codes)
                {
                    codes.resize(n, 0);
                    self.clipped += qz.quantize_block(ch, codes);
                }
                self.buf.resize(n * channels * bps, 0);
                // (Integer encodings are 16- or 24-bit.)
                match bps {
                    2 => interleave::<2>(&self.codes, &mut self.buf),
                    _ => interleave::<3>(&self.codes, &mut self.buf),
                }
                if let Some(d) = delivered {
                    for (d, codes) in d.iter_mut().zip(&self.codes) {
                        d.extend(codes.iter().map(|&q| q as f32 * inv));
                    }
                }
            }
        }
        self.sha.update(&self.buf);
        self.data_len += self.buf.len();
        self.out.write_all(&self.buf).map_err(WavError::Io)?;
        self.written += n as u64;
        Ok(())
    }

    /// Frames written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// End the file (the pad byte after an odd-sized `data` payload); every announced frame
    /// must have been written. Returns the writer's output and what was written.
    pub fn finish(mut self) -> Result<(W, Written), WavError> {
        if self.written != self.frames {
            return Err(WavError::FrameCount {
                announced: self.frames,
                given: self.written,
            });
        }
        if self.data_len % 2 == 1 {
            self.out.write_all(&[0]).map_err(WavError::Io)?;
        }
        self.out.flush().map_err(WavError::Io)?;
        let digest = self.sha.finalize();
        Ok((
            self.out,
            Written {
                data_sha256: hex(&digest),
                data_len: self.data_len,
                clipped_samples: self.clipped,
                frames: self.written,
            },
        ))
    }
}

/// The channels' codes as `B`-byte little-endian samples, frame by frame, into `out` (sized to
/// hold them all).
fn interleave<const B: usize>(codes: &[Vec<i32>], out: &mut [u8]) {
    let frames = out.chunks_exact_mut(codes.len() * B);
    for (f, frame) in frames.enumerate() {
        for (sample, ch) in frame.chunks_exact_mut(B).zip(codes) {
            sample.copy_from_slice(&ch[f].to_le_bytes()[..B]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::dither::Pcg32;
    use std::io::Cursor;

    fn tags_full() -> Tags {
        Tags {
            title: Some("Night Drive".into()),
            artist: Some("The Mixers".into()),
            album: Some("Stems".into()),
            album_artist: None,
            track: Some(3),
            year: Some(2026),
            genre: Some("Electronic".into()),
            isrc: Some("USABC2600003".into()),
            upc: Some("012345678905".into()),
            comment: Some("mastered by mixdown".into()),
            copyright: Some("2026 The Mixers".into()),
        }
    }

    fn le32(b: &[u8], at: usize) -> usize {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
    }

    /// Walk the RIFF chunk list by the rules (uncounted pad byte after odd chunks) and return
    /// (id, payload offset, size) of every top-level chunk; asserts the RIFF header.
    fn chunks(bytes: &[u8]) -> Vec<([u8; 4], usize, usize)> {
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(le32(bytes, 4), bytes.len() - 8, "RIFF size == file len - 8");
        assert_eq!(&bytes[8..12], b"WAVE");
        let mut out = Vec::new();
        let mut pos = 12;
        while pos + 8 <= bytes.len() {
            let id = [bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]];
            let size = le32(bytes, pos + 4);
            out.push((id, pos + 8, size));
            pos += 8 + size + size % 2;
        }
        assert_eq!(pos, bytes.len(), "chunks fill the file exactly");
        out
    }

    fn hound_read(enc: &Encoded) -> (hound::WavSpec, Vec<Vec<f64>>) {
        let mut r = hound::WavReader::new(Cursor::new(&enc.bytes)).expect("hound opens");
        let spec = r.spec();
        let ch = usize::from(spec.channels);
        let mut planar = vec![Vec::new(); ch];
        match spec.sample_format {
            hound::SampleFormat::Int => {
                for (i, s) in r.samples::<i32>().enumerate() {
                    planar[i % ch].push(f64::from(s.expect("sample")));
                }
            }
            hound::SampleFormat::Float => {
                for (i, s) in r.samples::<f32>().enumerate() {
                    planar[i % ch].push(f64::from(s.expect("sample")));
                }
            }
        }
        (spec, planar)
    }

    /// Deterministic test signal of exact LSB multiples `k / 2^(bits-1)`.
    fn lsb_ramp(frames: usize, channel: usize, full_scale: f64) -> Vec<f32> {
        (0..frames)
            .map(|i| {
                let k = ((i * 7919 + channel * 104_729) % 20_001) as f64 - 10_000.0;
                (k / full_scale) as f32
            })
            .collect()
    }

    #[test]
    fn sha256_known_vectors() {
        // FIPS 180-2 appendix B.1 and the empty message.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn round_trip_pcm16_and_pcm24_exact_through_hound() {
        for (encoding, fs) in [(Encoding::Pcm16, 32_768.0), (Encoding::Pcm24, 8_388_608.0)] {
            for channels in [1, 2] {
                let frames = 1001;
                let planar: Vec<Vec<f32>> =
                    (0..channels).map(|c| lsb_ramp(frames, c, fs)).collect();
                let enc = encode(&planar, 48_000, encoding, Dither::None, 1, &Tags::default())
                    .expect("encode");
                assert_eq!(enc.frames, frames);
                assert_eq!(enc.clipped_samples, 0);
                let (spec, got) = hound_read(&enc);
                assert_eq!(spec.channels as usize, channels);
                assert_eq!(spec.sample_rate, 48_000);
                assert_eq!(spec.bits_per_sample, encoding.bits_per_sample());
                assert_eq!(spec.sample_format, hound::SampleFormat::Int);
                for (c, (want, got)) in planar.iter().zip(&got).enumerate() {
                    assert_eq!(got.len(), frames);
                    for (i, (&w, &g)) in want.iter().zip(got).enumerate() {
                        assert_eq!(g, f64::from(w) * fs, "{encoding:?} ch {c} frame {i}");
                    }
                }
                // planar_f32 uses the same i / 2^(bits-1) convention.
                let back = enc.planar_f32();
                assert_eq!(back, planar);
            }
        }
    }

    #[test]
    fn pcm24_rounds_to_nearest_lsb() {
        // An arbitrary signal comes back within half an LSB (24-bit precision).
        let x: Vec<f32> = (0..4000)
            .map(|i| (0.9 * (i as f64 * 0.0123).sin()) as f32)
            .collect();
        let enc = encode(
            std::slice::from_ref(&x),
            44_100,
            Encoding::Pcm24,
            Dither::None,
            0,
            &Tags::default(),
        )
        .expect("encode");
        let (_, got) = hound_read(&enc);
        for (&w, &g) in x.iter().zip(&got[0]) {
            assert!((f64::from(w) * 8_388_608.0 - g).abs() <= 0.5);
        }
    }

    #[test]
    fn round_trip_float32_is_bit_exact_and_has_fact() {
        let planar = vec![
            vec![0.0, -1.0, 0.999_999_9, 1.0e-30, -0.123_456_78, 0.5],
            vec![1.5, -2.0, 0.25, -0.0, 0.1, -0.75],
        ];
        let enc = encode(
            &planar,
            96_000,
            Encoding::Float32,
            Dither::Tpdf,
            9,
            &tags_full(),
        )
        .expect("encode");
        // 1.5 and -2.0 exceed full scale: written as is and counted.
        assert_eq!(enc.clipped_samples, 2);
        let (spec, got) = hound_read(&enc);
        assert_eq!(spec.sample_format, hound::SampleFormat::Float);
        assert_eq!(spec.bits_per_sample, 32);
        for (want, got) in planar.iter().zip(&got) {
            let got: Vec<f32> = got.iter().map(|&g| g as f32).collect();
            assert_eq!(
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
        assert_eq!(enc.planar_f32(), planar);
        let list = chunks(&enc.bytes);
        let fmt = list.iter().find(|c| &c.0 == b"fmt ").expect("fmt");
        assert_eq!(fmt.2, 18, "WAVEFORMATEX for a non-PCM format");
        assert_eq!(&enc.bytes[fmt.1..fmt.1 + 2], &3u16.to_le_bytes());
        assert_eq!(&enc.bytes[fmt.1 + 16..fmt.1 + 18], &[0, 0], "cbSize 0");
        let fact = list.iter().find(|c| &c.0 == b"fact").expect("fact");
        assert_eq!(fact.2, 4);
        assert_eq!(le32(&enc.bytes, fact.1), 6, "fact = frames per channel");
    }

    #[test]
    fn fmt_fields_follow_the_spec() {
        let enc = encode(
            &[vec![0.0; 10], vec![0.0; 10]],
            44_100,
            Encoding::Pcm24,
            Dither::None,
            0,
            &Tags::default(),
        )
        .expect("encode");
        let list = chunks(&enc.bytes);
        let (id, at, size) = list[0];
        assert_eq!((&id, size), (b"fmt ", 16));
        let b = &enc.bytes;
        let u16_at = |i: usize| u16::from_le_bytes([b[at + i], b[at + i + 1]]);
        assert_eq!(u16_at(0), 1, "WAVE_FORMAT_PCM");
        assert_eq!(u16_at(2), 2, "channels");
        assert_eq!(le32(b, at + 4), 44_100, "sample rate");
        assert_eq!(le32(b, at + 8), 44_100 * 6, "byte rate");
        assert_eq!(u16_at(12), 6, "block align");
        assert_eq!(u16_at(14), 24, "bits");
        assert!(!list.iter().any(|c| &c.0 == b"fact"), "no fact for PCM");
        assert_eq!(list.len(), 2, "no tag chunks for empty tags");
    }

    #[test]
    fn pcm24_mono_odd_frames_is_padded_and_readable() {
        let frames = 7;
        let x = lsb_ramp(frames, 0, 8_388_608.0);
        let enc = encode(
            std::slice::from_ref(&x),
            44_100,
            Encoding::Pcm24,
            Dither::None,
            0,
            &tags_full(),
        )
        .expect("encode");
        assert_eq!(enc.data_range.len(), 21);
        assert_eq!(enc.bytes.len(), enc.data_range.end + 1, "one pad byte");
        assert_eq!(enc.bytes[enc.data_range.end], 0);
        let list = chunks(&enc.bytes);
        let data = list.last().expect("data");
        assert_eq!((&data.0, data.2), (b"data", 21), "size excludes the pad");
        let (_, got) = hound_read(&enc);
        assert_eq!(got[0].len(), frames);
        assert_eq!(enc.planar_f32(), vec![x]);
    }

    #[test]
    fn chunk_order_sizes_and_no_isrc_in_info() {
        for encoding in [Encoding::Pcm16, Encoding::Pcm24, Encoding::Float32] {
            let enc = encode(
                &[vec![0.25; 5]],
                44_100,
                encoding,
                Dither::None,
                0,
                &tags_full(),
            )
            .expect("encode");
            let list = chunks(&enc.bytes);
            let ids: Vec<&[u8; 4]> = list.iter().map(|c| &c.0).collect();
            let want: Vec<&[u8; 4]> = if encoding == Encoding::Float32 {
                vec![b"fmt ", b"fact", b"LIST", b"id3 ", b"data"]
            } else {
                vec![b"fmt ", b"LIST", b"id3 ", b"data"]
            };
            assert_eq!(ids, want, "{encoding:?}");
            // Every chunk before data has an even counted size (no uncounted pad bytes).
            for (id, _, size) in &list[..list.len() - 1] {
                assert_eq!(size % 2, 0, "{}", String::from_utf8_lossy(id));
            }
            let (_, at, size) = list[list.len() - 3];
            assert_eq!(&enc.bytes[at..at + 4], b"INFO");
            let mut pos = at + 4;
            while pos < at + size {
                let key = &enc.bytes[pos..pos + 4];
                assert_ne!(key, b"ISRC", "INFO ISRC means 'source'");
                let sub = le32(&enc.bytes, pos + 4);
                assert_eq!(sub % 2, 0);
                pos += 8 + sub;
            }
            assert_eq!(pos, at + size);
            let data = list[list.len() - 1];
            assert_eq!(data.1..data.1 + data.2, enc.data_range);
            assert_eq!(
                enc.data_sha256,
                sha256_hex(&enc.bytes[enc.data_range.clone()])
            );
            assert_eq!(enc.data_sha256.len(), 64);
            // hound reads through LIST and id3 before data.
            let (_, got) = hound_read(&enc);
            assert_eq!(got[0].len(), 5);
        }
    }

    #[test]
    fn lofty_reads_info_and_id3() {
        use lofty::config::ParseOptions;
        use lofty::file::AudioFile;
        use lofty::id3::v2::{FrameId, Id3v2Version};
        use lofty::iff::wav::WavFile;
        use lofty::tag::Accessor;

        let mut tags = tags_full();
        let enc = encode(
            &[vec![0.1; 11], vec![-0.1; 11]],
            48_000,
            Encoding::Pcm16,
            Dither::Tpdf,
            5,
            &tags,
        )
        .expect("encode");
        let wav = WavFile::read_from(&mut Cursor::new(&enc.bytes), ParseOptions::new())
            .expect("lofty reads");
        let info = wav.riff_info().expect("INFO");
        assert_eq!(info.get("INAM"), Some("Night Drive"));
        assert_eq!(info.get("IART"), Some("The Mixers"));
        assert_eq!(info.get("IPRD"), Some("Stems"));
        assert_eq!(info.get("ITRK"), Some("3"));
        assert_eq!(info.get("ICRD"), Some("2026"));
        assert_eq!(info.get("IGNR"), Some("Electronic"));
        assert_eq!(info.get("ICMT"), Some("mastered by mixdown"));
        assert_eq!(info.get("ICOP"), Some("2026 The Mixers"));
        assert_eq!(info.get("ISRC"), None);
        let id3 = wav.id3v2().expect("ID3");
        assert_eq!(id3.original_version(), Id3v2Version::V3);
        assert_eq!(id3.title().as_deref(), Some("Night Drive"));
        assert_eq!(id3.artist().as_deref(), Some("The Mixers"));
        assert_eq!(id3.album().as_deref(), Some("Stems"));
        assert_eq!(id3.track(), Some(3));
        assert_eq!(id3.date().map(|d| d.year), Some(2026));
        assert_eq!(id3.genre().as_deref(), Some("Electronic"));
        assert_eq!(id3.comment().as_deref(), Some("mastered by mixdown"));
        let text = |id: &'static str| id3.get_text(&FrameId::new(id).expect("frame id"));
        assert_eq!(text("TCOP"), Some("2026 The Mixers"));
        assert_eq!(text("TSRC"), Some("USABC2600003"));
        assert_eq!(id3.get_user_text("BARCODE"), Some("012345678905"));
        let props = wav.properties();
        assert_eq!(props.sample_rate(), 48_000);
        assert_eq!(props.channels(), 2);

        // Accents, CJK and an emoji survive in both chunks (INFO as UTF-8, ID3 as UTF-16).
        let (title, artist, album) = ("Café Noché – 夜のドライブ 🚗", "Zoë & 東京 🎧", "Été 夜");
        tags.title = Some(title.into());
        tags.artist = Some(artist.into());
        tags.album = Some(album.into());
        tags.upc = Some("4006381333931".into());
        let enc = encode(
            &[vec![0.0; 3]],
            44_100,
            Encoding::Pcm24,
            Dither::None,
            0,
            &tags,
        )
        .expect("encode");
        // Non-ASCII INFO text: a CSET chunk declares it UTF-8, before LIST.
        let ids: Vec<[u8; 4]> = chunks(&enc.bytes).iter().map(|c| c.0).collect();
        assert_eq!(ids, [*b"fmt ", *b"CSET", *b"LIST", *b"id3 ", *b"data"]);
        let wav = WavFile::read_from(&mut Cursor::new(&enc.bytes), ParseOptions::new())
            .expect("lofty reads");
        let info = wav.riff_info().expect("INFO");
        assert_eq!(info.get("INAM"), Some(title));
        assert_eq!(info.get("IART"), Some(artist));
        assert_eq!(info.get("IPRD"), Some(album));
        assert_eq!(info.get("ICMT"), Some("mastered by mixdown"));
        let id3 = wav.id3v2().expect("ID3");
        assert_eq!(id3.title().as_deref(), Some(title));
        assert_eq!(id3.artist().as_deref(), Some(artist));
        assert_eq!(id3.album().as_deref(), Some(album));
        assert_eq!(id3.get_user_text("BARCODE"), Some("4006381333931"));
        let (_, got) = hound_read(&enc);
        assert_eq!(got[0].len(), 3);
    }

    #[test]
    fn tpdf_error_statistics() {
        // Constant mid-LSB value 1000.5 LSB: without dither the error would be a constant
        // -0.5 or +0.5; with TPDF the total error has mean 0 and variance 1/6 + 1/12 = 1/4 LSB².
        let n = 100_000;
        for offset in [0.5, 0.3] {
            let v = 1000.0 + offset;
            let x = vec![(v / 32_768.0) as f32; n];
            let v = f64::from(x[0]) * 32_768.0;
            let enc = encode(
                &[x],
                44_100,
                Encoding::Pcm16,
                Dither::Tpdf,
                1234,
                &Tags::default(),
            )
            .expect("encode");
            let got = &enc.planar_f32()[0];
            let err: Vec<f64> = got.iter().map(|&q| f64::from(q) * 32_768.0 - v).collect();
            let mean = err.iter().sum::<f64>() / n as f64;
            let var = err.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            // Standard error of the mean is sqrt(0.25 / 1e5) = 0.0016; of the variance ~0.001.
            assert!(mean.abs() < 0.01, "offset {offset}: mean {mean}");
            assert!((var - 0.25).abs() < 0.01, "offset {offset}: variance {var}");
            // Dither within ±1 LSB plus rounding within ±0.5 LSB.
            assert!(err.iter().all(|e| e.abs() <= 1.5 + 1e-9));
            assert_eq!(enc.clipped_samples, 0);
        }
        // Independent per channel: the dither errors of two channels fed the same constant are
        // uncorrelated (standard error of r is 1/sqrt(n) = 0.003).
        let x = vec![(1000.5 / 32_768.0) as f32; n];
        let enc = encode(
            &[x.clone(), x],
            44_100,
            Encoding::Pcm16,
            Dither::Tpdf,
            1234,
            &Tags::default(),
        )
        .expect("encode");
        let back = enc.planar_f32();
        let e: Vec<Vec<f64>> = back
            .iter()
            .map(|c| {
                c.iter()
                    .map(|&q| f64::from(q) * 32_768.0 - 1000.5)
                    .collect()
            })
            .collect();
        let r = e[0].iter().zip(&e[1]).map(|(a, b)| a * b).sum::<f64>()
            / (e[0].iter().map(|a| a * a).sum::<f64>() * e[1].iter().map(|b| b * b).sum::<f64>())
                .sqrt();
        assert!(r.abs() < 0.015, "inter-channel correlation {r}");

        let mut rng = Pcg32::new(7, 3);
        let d: Vec<f64> = (0..200_000).map(|_| rng.tpdf()).collect();
        assert!(
            d.iter().all(|&d| (-1.0..1.0).contains(&d)),
            "|dither| <= 1 LSB"
        );
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / d.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0 / 6.0).abs() < 0.005,
            "{mean} {var}"
        );
    }

    #[test]
    fn silence_is_dithered_with_tpdf_but_not_without() {
        let x = vec![vec![0.0_f32; 1000]; 2];
        let none = encode(
            &x,
            44_100,
            Encoding::Pcm16,
            Dither::None,
            0,
            &Tags::default(),
        )
        .expect("encode");
        assert!(none.bytes[none.data_range.clone()].iter().all(|&b| b == 0));
        let tpdf = encode(
            &x,
            44_100,
            Encoding::Pcm16,
            Dither::Tpdf,
            0,
            &Tags::default(),
        )
        .expect("encode");
        let back = tpdf.planar_f32();
        assert!(back[0].iter().any(|&s| s != 0.0));
        assert!(back.iter().flatten().all(|&s| s.abs() <= 1.0 / 32_768.0));
        // Channels use independent streams.
        assert_ne!(back[0], back[1]);
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let x: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                (0..5000)
                    .map(|i| 0.3 * ((i + c * 17) as f32 * 0.01).sin())
                    .collect()
            })
            .collect();
        for dither in [Dither::Tpdf, Dither::Shaped] {
            for encoding in [Encoding::Pcm16, Encoding::Pcm24] {
                let a = encode(&x, 44_100, encoding, dither, 42, &tags_full()).expect("a");
                let b = encode(&x, 44_100, encoding, dither, 42, &tags_full()).expect("b");
                let c = encode(&x, 44_100, encoding, dither, 43, &tags_full()).expect("c");
                assert_eq!(a.bytes, b.bytes);
                assert_eq!(a.data_sha256, b.data_sha256);
                assert_ne!(a.bytes, c.bytes);
                assert_ne!(a.data_sha256, c.data_sha256);
            }
        }
    }

    #[test]
    fn clipping_is_clamped_and_counted() {
        let n = 1000;
        let over: Vec<f32> = (0..n)
            .map(|i| if i % 2 == 0 { 1.2 } else { -1.2 })
            .collect();
        for encoding in [Encoding::Pcm16, Encoding::Pcm24] {
            let fs = encoding.full_scale().expect("int");
            for dither in [Dither::None, Dither::Tpdf, Dither::Shaped] {
                let enc = encode(
                    &[over.clone(), vec![0.5; n]],
                    44_100,
                    encoding,
                    dither,
                    3,
                    &Tags::default(),
                )
                .expect("encode");
                assert_eq!(enc.clipped_samples, n as u64, "{encoding:?} {dither:?}");
                let back = enc.planar_f32();
                for (i, &s) in back[0].iter().enumerate() {
                    let want = if i % 2 == 0 { (fs - 1.0) / fs } else { -1.0 };
                    assert_eq!(f64::from(s), want);
                }
                // A ramp over -1.0 ..= 0.99 is in range: nothing counted.
                let ramp: Vec<f32> = (0..n)
                    .map(|i| (-1.0 + 1.99 * i as f64 / (n - 1) as f64) as f32)
                    .collect();
                let enc =
                    encode(&[ramp], 44_100, encoding, dither, 3, &Tags::default()).expect("encode");
                assert_eq!(enc.clipped_samples, 0, "{encoding:?} {dither:?}");
            }
            // +1.0 itself is one LSB above the largest code: clamped and counted; -1.0 is not.
            let enc = encode(
                &[vec![1.0, -1.0]],
                44_100,
                encoding,
                Dither::None,
                0,
                &Tags::default(),
            )
            .expect("encode");
            assert_eq!(enc.clipped_samples, 1);
        }
    }

    /// Noise power of `e` in [lo, hi) Hz at rate `fs` by a naive DFT (sum of |X_k|² over bins).
    fn band_power(e: &[f64], fs: f64, lo: f64, hi: f64) -> f64 {
        let n = e.len();
        let k0 = (lo * n as f64 / fs).ceil() as usize;
        let k1 = (hi * n as f64 / fs).ceil() as usize;
        let mut total = 0.0;
        for k in k0..k1 {
            let w = 2.0 * std::f64::consts::PI * k as f64 / n as f64;
            let (mut re, mut im) = (0.0, 0.0);
            for (i, &x) in e.iter().enumerate() {
                let (s, c) = (w * i as f64).sin_cos();
                re += x * c;
                im -= x * s;
            }
            total += re * re + im * im;
        }
        total / n as f64
    }

    #[test]
    fn shaped_dither_moves_noise_out_of_the_midrange() {
        let fs = 44_100.0;
        let n = 4096;
        // Low-level 1 kHz sine at about -60 dBFS (33 LSB peak).
        let x: Vec<f32> = (0..n)
            .map(|i| (0.001 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / fs).sin()) as f32)
            .collect();
        let noise = |dither: Dither| -> Vec<f64> {
            let enc = encode(
                std::slice::from_ref(&x),
                44_100,
                Encoding::Pcm16,
                dither,
                77,
                &Tags::default(),
            )
            .expect("encode");
            enc.planar_f32()[0]
                .iter()
                .zip(&x)
                .map(|(&q, &s)| (f64::from(q) - f64::from(s)) * 32_768.0)
                .collect()
        };
        let tpdf = noise(Dither::Tpdf);
        let shaped = noise(Dither::Shaped);
        let low = |e: &[f64]| band_power(e, fs, 0.0, 4000.0);
        let high = |e: &[f64]| band_power(e, fs, 15_000.0, 20_000.0);
        let (lt, ls) = (low(&tpdf), low(&shaped));
        let (ht, hs) = (high(&tpdf), high(&shaped));
        // The NTF predicts about -14 dB in 0–4 kHz and +10 dB in 15–20 kHz; demand 6 dB.
        assert!(ls < lt / 4.0, "0-4 kHz: shaped {ls} vs tpdf {lt}");
        assert!(hs > ht * 4.0, "15-20 kHz: shaped {hs} vs tpdf {ht}");
        // White TPDF: total noise power 1/4 LSB² per sample, spread evenly (Parseval).
        let total: f64 = tpdf.iter().map(|e| e * e).sum::<f64>() / n as f64;
        assert!((total - 0.25).abs() < 0.03, "{total}");
    }

    #[test]
    fn shaped_feedback_stays_bounded_when_clipping() {
        // Full-scale square wave: every sample clamps; the shaper must not run away.
        let x: Vec<f32> = (0..10_000)
            .map(|i| if (i / 50) % 2 == 0 { 1.5 } else { -1.5 })
            .collect();
        let quiet = vec![0.001_f32; 1000];
        let mut y = x.clone();
        y.extend_from_slice(&quiet);
        let enc = encode(
            &[y],
            44_100,
            Encoding::Pcm16,
            Dither::Shaped,
            1,
            &Tags::default(),
        )
        .expect("encode");
        assert_eq!(enc.clipped_samples, 10_000);
        // After the overload the quiet part is reproduced within the shaper's bounded error.
        let back = &enc.planar_f32()[0][10_000..];
        for &s in back {
            let err = (f64::from(s) - 0.001) * 32_768.0;
            assert!(
                err.abs() < 1.5 * (1.0 + 1.623 + 0.982 + 0.109) + 1.0,
                "{err}"
            );
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let t = Tags::default();
        let e = |p: &[Vec<f32>], rate| encode(p, rate, Encoding::Pcm16, Dither::None, 0, &t);
        assert!(matches!(e(&[], 44_100), Err(WavError::NoChannels)));
        assert!(matches!(
            e(&vec![vec![0.0; 4]; 9], 44_100),
            Err(WavError::TooManyChannels { channels: 9, .. })
        ));
        assert!(matches!(
            e(&[vec![0.0; 4], vec![0.0; 3]], 44_100),
            Err(WavError::ChannelLengthMismatch {
                channel: 1,
                expected: 4,
                found: 3
            })
        ));
        assert!(matches!(
            e(&[vec![0.0; 4]], 0),
            Err(WavError::InvalidSampleRate { sample_rate: 0 })
        ));
        assert!(matches!(
            e(&vec![vec![0.0; 4]; 2], u32::MAX),
            Err(WavError::InvalidSampleRate { .. })
        ));
        assert!(matches!(
            e(&[vec![0.0, f32::NAN]], 44_100),
            Err(WavError::NonFinite {
                channel: 0,
                frame: 1,
                ..
            })
        ));
        assert!(matches!(
            e(&[vec![f32::INFINITY]], 44_100),
            Err(WavError::NonFinite { .. })
        ));
        // 8 channels are fine; zero frames give a valid empty file.
        let enc = e(&vec![Vec::new(); 8], 44_100).expect("empty");
        assert_eq!(enc.frames, 0);
        assert!(enc.data_range.is_empty());
        let (spec, got) = hound_read(&enc);
        assert_eq!(spec.channels, 8);
        assert!(got.iter().all(Vec::is_empty));
    }

    #[test]
    fn too_large_for_riff_is_an_error() {
        // Checked on the size arithmetic (allocating 4 GiB of input in a test is not an option).
        // 2^30 frames x 4 bytes = 4 GiB of data > u32::MAX.
        let err = riff_sizes(1 << 30, 4, 100);
        assert!(matches!(err, Err(WavError::TooLarge { bytes }) if bytes == (1 << 32) + 120));
        assert!(matches!(
            riff_sizes(u64::MAX, 32, 0),
            Err(WavError::TooLarge { bytes: u64::MAX })
        ));
        // The largest payload that fits: RIFF size exactly u32::MAX - 1 (even data).
        let max_data = u64::from(u32::MAX) - 4 - 8 - 1 - 100;
        let (riff, data) = riff_sizes(max_data / 2, 2, 100).expect("fits");
        assert_eq!(u64::from(data), max_data / 2 * 2);
        assert_eq!(u64::from(riff), 4 + 100 + 8 + u64::from(data));
        // Odd payload: the pad byte is part of the RIFF size.
        assert_eq!(riff_sizes(7, 3, 10).expect("small"), (4 + 10 + 8 + 22, 21));
    }

    #[test]
    fn read_back_returns_what_a_reader_of_the_file_sees_and_the_data_hash() {
        let n = 10_001; // odd: 24-bit mono leaves a pad byte after the data
        for (encoding, channels) in [
            (Encoding::Pcm16, 2),
            (Encoding::Pcm24, 1),
            (Encoding::Float32, 2),
        ] {
            let planar: Vec<Vec<f32>> = (0..channels)
                .map(|c| crate::testkit::signals::white(n, 7 + c as u64, 0.5))
                .collect();
            let enc =
                encode(&planar, 44_100, encoding, Dither::Tpdf, 3, &tags_full()).expect("encode");
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("x.wav");
            std::fs::write(&path, &enc.bytes).expect("write");
            let mut got = vec![Vec::new(); channels];
            let back = read_back(&path, &mut |planes| {
                for (g, p) in got.iter_mut().zip(planes) {
                    g.extend_from_slice(p);
                }
            })
            .expect("read back");
            assert_eq!(back.data_sha256, enc.data_sha256, "{encoding:?}");
            assert_eq!(
                (back.channels, back.sample_rate, back.frames),
                (channels, 44_100, n as u64)
            );
            // hound, an independent reader: integers over 2^(bits-1), floats as written.
            let mut r = hound::WavReader::new(Cursor::new(&enc.bytes)).expect("hound");
            let bits = r.spec().bits_per_sample;
            let want: Vec<f32> = match encoding {
                Encoding::Float32 => r.samples::<f32>().map(|x| x.expect("sample")).collect(),
                _ => r
                    .samples::<i32>()
                    .map(|x| x.expect("sample") as f32 / (1i64 << (bits - 1)) as f32)
                    .collect(),
            };
            for (i, w) in want.iter().enumerate() {
                assert_eq!(
                    got[i % channels][i / channels].to_bits(),
                    w.to_bits(),
                    "{i}"
                );
            }
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("not.wav");
        std::fs::write(&path, b"RIFF\0\0\0\0AIFF").expect("write");
        assert!(read_back(&path, &mut |_| {}).is_err());
    }
}
