//! A native reader for the sample data of plain PCM stems (WAV and AIFF), so that a stem being
//! streamed holds an 8 KiB read buffer instead of symphonia's 64 KiB stream buffer and its
//! packet buffer.
//!
//! The header is still parsed by symphonia (in [`super::decode`]), so what is accepted, what is
//! refused and every message stay exactly as they were; only the data chunk is read here, and
//! only when the header states its length and the whole chunk lies inside the file. Samples come
//! out bit for bit as symphonia 0.6's PCM decoder and sample conversion give them: an integer
//! sample of `b` bits is `v / 2^(b-1)` (for 32 bits computed in f64, then rounded to f32 once),
//! unsigned 8-bit is `v / 128 - 1`, f64 is rounded to f32, f32 is copied. Blocks are 1152
//! frames, like symphonia's PCM packets, so a NaN is reported at the same frame with the same
//! block discarded.

use std::io::Read;

use symphonia::core::codecs::audio::AudioCodecId;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_PCM_F32BE, CODEC_ID_PCM_F32LE, CODEC_ID_PCM_F64BE, CODEC_ID_PCM_F64LE,
    CODEC_ID_PCM_S8, CODEC_ID_PCM_S16BE, CODEC_ID_PCM_S16LE, CODEC_ID_PCM_S24BE,
    CODEC_ID_PCM_S24LE, CODEC_ID_PCM_S32BE, CODEC_ID_PCM_S32LE, CODEC_ID_PCM_U8,
};
use symphonia::core::errors::Error as SymError;

use super::decode::DecodeError;
use super::files::StemFile;

/// Frames per block: symphonia's WAV and AIFF readers cut PCM data into packets of this many
/// frames (`MAX_FRAMES_PER_PACKET` in symphonia-format-riff).
pub const BLOCK_FRAMES: usize = 1152;

/// Bytes read from the file at once (rounded down to whole frames).
pub const READ_BYTES: usize = 8192;

/// How one sample is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    U8,
    S8,
    S16 { big: bool },
    S24 { big: bool },
    S32 { big: bool },
    F32 { big: bool },
    F64 { big: bool },
}

impl Encoding {
    /// The encoding symphonia decodes `codec` from, when it is one read here.
    pub fn of(codec: AudioCodecId) -> Option<Encoding> {
        Some(match codec {
            CODEC_ID_PCM_U8 => Encoding::U8,
            CODEC_ID_PCM_S8 => Encoding::S8,
            CODEC_ID_PCM_S16LE => Encoding::S16 { big: false },
            CODEC_ID_PCM_S16BE => Encoding::S16 { big: true },
            CODEC_ID_PCM_S24LE => Encoding::S24 { big: false },
            CODEC_ID_PCM_S24BE => Encoding::S24 { big: true },
            CODEC_ID_PCM_S32LE => Encoding::S32 { big: false },
            CODEC_ID_PCM_S32BE => Encoding::S32 { big: true },
            CODEC_ID_PCM_F32LE => Encoding::F32 { big: false },
            CODEC_ID_PCM_F32BE => Encoding::F32 { big: true },
            CODEC_ID_PCM_F64LE => Encoding::F64 { big: false },
            CODEC_ID_PCM_F64BE => Encoding::F64 { big: true },
            _ => return None,
        })
    }

    /// Bits of one stored sample.
    pub fn bits(self) -> u32 {
        match self {
            Encoding::U8 | Encoding::S8 => 8,
            Encoding::S16 { .. } => 16,
            Encoding::S24 { .. } => 24,
            Encoding::S32 { .. } | Encoding::F32 { .. } => 32,
            Encoding::F64 { .. } => 64,
        }
    }

    /// Whether the samples are floating point (the only ones that can hold NaN or infinity).
    pub fn is_float(self) -> bool {
        matches!(self, Encoding::F32 { .. } | Encoding::F64 { .. })
    }

    /// Bytes of one stored sample.
    pub fn bytes(self) -> usize {
        self.bits() as usize / 8
    }

    /// `dst[i]` = the sample at byte `offset` of frame `i` of `bytes` (frames of
    /// `frame_bytes`), as [`Encoding::sample`] converts it: the encoding is matched once per
    /// call, so each loop is one encoding's conversion.
    fn convert(self, bytes: &[u8], frame_bytes: usize, offset: usize, dst: &mut [f32]) {
        #[inline(always)]
        fn each(
            bytes: &[u8],
            frame_bytes: usize,
            offset: usize,
            width: usize,
            dst: &mut [f32],
            f: impl Fn(&[u8]) -> f32,
        ) {
            for (d, frame) in dst.iter_mut().zip(bytes.chunks_exact(frame_bytes)) {
                *d = f(&frame[offset..offset + width]);
            }
        }
        let w = self.bytes();
        // `big` stays one value over the loop: a branch that always goes the same way.
        match self {
            Encoding::U8 => each(bytes, frame_bytes, offset, w, dst, |b| {
                Encoding::U8.sample(b)
            }),
            Encoding::S8 => each(bytes, frame_bytes, offset, w, dst, |b| {
                Encoding::S8.sample(b)
            }),
            Encoding::S16 { big } => each(bytes, frame_bytes, offset, w, dst, |b| {
                Encoding::S16 { big }.sample(b)
            }),
            Encoding::S24 { big } => each(bytes, frame_bytes, offset, w, dst, |b| {
                Encoding::S24 { big }.sample(b)
            }),
            Encoding::S32 { big } => each(bytes, frame_bytes, offset, w, dst, |b| {
                Encoding::S32 { big }.sample(b)
            }),
            Encoding::F32 { big } => each(bytes, frame_bytes, offset, w, dst, |b| {
                Encoding::F32 { big }.sample(b)
            }),
            Encoding::F64 { big } => each(bytes, frame_bytes, offset, w, dst, |b| {
                Encoding::F64 { big }.sample(b)
            }),
        }
    }

    /// The sample stored in `b` (exactly [`Encoding::bytes`] long), as symphonia converts it.
    #[inline(always)]
    fn sample(self, b: &[u8]) -> f32 {
        match self {
            Encoding::U8 => f32::from(b[0]) / 128.0 - 1.0,
            Encoding::S8 => f32::from(b[0] as i8) / 128.0,
            Encoding::S16 { big } => {
                let a = [b[0], b[1]];
                let v = if big {
                    i16::from_be_bytes(a)
                } else {
                    i16::from_le_bytes(a)
                };
                f32::from(v) / 32_768.0
            }
            Encoding::S24 { big } => {
                // Into the top three bytes of an i32, then an arithmetic shift to sign-extend.
                let a = if big {
                    [b[0], b[1], b[2], 0]
                } else {
                    [0, b[0], b[1], b[2]]
                };
                let v = if big {
                    i32::from_be_bytes(a)
                } else {
                    i32::from_le_bytes(a)
                } >> 8;
                // |v| < 2^23: exact in f32, and the division by a power of two is exact.
                v as f32 / 8_388_608.0
            }
            Encoding::S32 { big } => {
                let a = [b[0], b[1], b[2], b[3]];
                let v = if big {
                    i32::from_be_bytes(a)
                } else {
                    i32::from_le_bytes(a)
                };
                (f64::from(v) / 2_147_483_648.0) as f32
            }
            Encoding::F32 { big } => {
                let a = [b[0], b[1], b[2], b[3]];
                if big {
                    f32::from_be_bytes(a)
                } else {
                    f32::from_le_bytes(a)
                }
            }
            Encoding::F64 { big } => {
                let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
                (if big {
                    f64::from_be_bytes(a)
                } else {
                    f64::from_le_bytes(a)
                }) as f32
            }
        }
    }
}

/// The data chunk of an open PCM stem, positioned at its next frame.
pub struct PcmReader {
    file: StemFile,
    encoding: Encoding,
    channels: usize,
    /// Frames not read yet.
    left: u64,
    buf: Vec<u8>,
}

impl PcmReader {
    /// Whether the file's samples are floating point.
    pub fn is_float(&self) -> bool {
        self.encoding.is_float()
    }

    /// Read `frames` frames of `channels` interleaved samples from `file`, which is positioned
    /// at the first of them.
    pub fn new(file: StemFile, encoding: Encoding, channels: usize, frames: u64) -> Self {
        let frame_bytes = encoding.bytes() * channels;
        let per_read = (READ_BYTES / frame_bytes).max(1);
        PcmReader {
            file,
            encoding,
            channels,
            left: frames,
            buf: vec![0; per_read * frame_bytes],
        }
    }

    /// Append the next block (at most [`BLOCK_FRAMES`] frames) to `out`, one `Vec` per channel;
    /// returns the frames appended, 0 at the end of the data or when the file ends early (the
    /// cut block is dropped, as symphonia drops a packet it cannot read whole). `frame` is the
    /// index of the block's first frame, for the error message. On an error `out` is unchanged.
    pub fn read_into(&mut self, out: &mut [Vec<f32>], frame: u64) -> Result<usize, DecodeError> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = usize::try_from(self.left).map_or(BLOCK_FRAMES, |l| l.min(BLOCK_FRAMES));
        let frame_bytes = self.encoding.bytes() * self.channels;
        let per_read = self.buf.len() / frame_bytes;
        let starts: Vec<usize> = out.iter().map(Vec::len).collect();
        for (o, &at) in out.iter_mut().zip(&starts) {
            o.resize(at + n, 0.0);
        }
        let mut done = 0;
        while done < n {
            let k = per_read.min(n - done);
            let bytes = &mut self.buf[..k * frame_bytes];
            if let Err(e) = self.file.read_exact(bytes) {
                for (o, &at) in out.iter_mut().zip(&starts) {
                    o.truncate(at);
                }
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    self.left = 0;
                    return Ok(0);
                }
                return Err(DecodeError::Corrupt {
                    frame,
                    message: SymError::IoError(e).to_string(),
                });
            }
            let w = self.encoding.bytes();
            for (ch, (o, &at)) in out.iter_mut().zip(&starts).enumerate() {
                let dst = &mut o[at + done..at + done + k];
                self.encoding.convert(bytes, frame_bytes, ch * w, dst);
            }
            done += k;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    //! The native reader against symphonia itself: every file is decoded both ways (symphonia
    //! forced with `StemDecoder::open_with(path, false)`) and everything the decoder reports,
    //! call by call, must be the same, samples compared bit for bit.

    use std::path::Path;

    use crate::io::decode::{StemDecoder, scan};
    use crate::testkit::Noise;

    /// What decoding a file to its end reported: the header, then each call's outcome with
    /// the bits of the samples it appended, as text so errors compare by their message.
    fn run(path: &Path, native: bool) -> (Vec<String>, bool) {
        let mut dec = match StemDecoder::open_with(path, native) {
            Ok(d) => d,
            Err(e) => return (vec![format!("open: {e}")], false),
        };
        let is_native = dec.is_native();
        let mut log = vec![format!("{:?}", dec.info())];
        let mut out = vec![Vec::new(); dec.info().channels];
        // Twice past the end: a finished or failed decoder keeps saying so.
        let mut ended = 0;
        while ended < 2 {
            for o in &mut out {
                o.clear();
                // Something already in `out`: blocks are appended, an error leaves it alone.
                o.push(0.25);
            }
            let r = dec.next_into(&mut out);
            let bits: Vec<Vec<u32>> = out
                .iter()
                .map(|o| o.iter().map(|x| x.to_bits()).collect())
                .collect();
            match r {
                Ok(n) => {
                    log.push(format!("ok {n} {bits:?}"));
                    ended += usize::from(n == 0);
                }
                Err(e) => {
                    log.push(format!("err {e} {bits:?}"));
                    ended += 1;
                }
            }
        }
        log.push(format!("frames {}", dec.frames_decoded()));
        (log, is_native)
    }

    /// Decode `bytes` both ways; assert they agree, and that the native reader was used
    /// exactly when `native`. Returns the log.
    fn agree(name: &str, bytes: &[u8], native: bool) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let (want, sym_native) = run(&path, false);
        assert!(!sym_native, "{name}: symphonia was not forced");
        let (got, was_native) = run(&path, true);
        assert_eq!(
            was_native, native,
            "{name}: native reader used: {was_native}: {:.300}",
            want[0]
        );
        assert_eq!(
            got.len(),
            want.len(),
            "{name}: {:?} vs {:?}",
            got.last(),
            want.last()
        );
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                g == w,
                "{name}: call {i} differs:\n native: {g:.300}\n symph.: {w:.300}"
            );
        }
        // `scan` (what `check` runs) goes the native way too and finds the same.
        match scan(&path) {
            Ok(s) => {
                assert!(
                    want.iter()
                        .all(|l| !l.starts_with("err") && !l.starts_with("open"))
                );
                assert_eq!(format!("{:?}", s.info), want[0], "{name}");
                assert_eq!(
                    want.last().map(String::as_str),
                    Some(format!("frames {}", s.frames).as_str()),
                    "{name}"
                );
            }
            Err(e) => assert!(
                want.iter().any(|l| l.contains(&e.to_string())),
                "{name}: scan said {e}"
            ),
        }
        want
    }

    /// A chunk: id, length, body, and the pad byte that keeps the next chunk at an even offset.
    fn chunk(id: &[u8; 4], body: &[u8], big: bool) -> Vec<u8> {
        chunk_len(id, body, body.len() as u32, big)
    }

    fn chunk_len(id: &[u8; 4], body: &[u8], len: u32, big: bool) -> Vec<u8> {
        let mut c = id.to_vec();
        c.extend(if big {
            len.to_be_bytes()
        } else {
            len.to_le_bytes()
        });
        c.extend(body);
        if body.len() % 2 == 1 {
            c.push(0);
        }
        c
    }

    fn riff(form: &[u8; 4], chunks: &[Vec<u8>], big: bool) -> Vec<u8> {
        let body: Vec<u8> = form.iter().copied().chain(chunks.concat()).collect();
        chunk(if big { b"FORM" } else { b"RIFF" }, &body, big)
    }

    const PCM: u16 = 1;
    const FLOAT: u16 = 3;
    const EXTENSIBLE: u16 = 0xFFFE;

    /// A `fmt ` chunk. For WAVE_FORMAT_EXTENSIBLE `sub` is the sub-format (1 PCM, 3 float) and
    /// `valid` the valid bits per sample.
    fn fmt(tag: u16, channels: u16, bits: u16, sub: u16, valid: u16) -> Vec<u8> {
        let rate = 48_000u32;
        let align = channels * bits / 8;
        let mut b = Vec::new();
        b.extend(tag.to_le_bytes());
        b.extend(channels.to_le_bytes());
        b.extend(rate.to_le_bytes());
        b.extend((rate * u32::from(align)).to_le_bytes());
        b.extend(align.to_le_bytes());
        b.extend(bits.to_le_bytes());
        match tag {
            FLOAT => b.extend(0u16.to_le_bytes()),
            EXTENSIBLE => {
                b.extend(22u16.to_le_bytes());
                b.extend(valid.to_le_bytes());
                b.extend((if channels == 1 { 4u32 } else { 3 }).to_le_bytes());
                b.extend(sub.to_le_bytes());
                b.extend([
                    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b,
                    0x71,
                ]);
            }
            _ => {}
        }
        chunk(b"fmt ", &b, false)
    }

    /// Interleaved sample bytes: random integers over the whole range (every bit pattern the
    /// conversion can meet), or random finite floats with zeros, full scale and beyond, tiny
    /// and subnormal values among them.
    fn data(frames: usize, channels: usize, bytes: usize, float: bool, seed: u64) -> Vec<u8> {
        let mut r = Noise::new(seed);
        let mut out = Vec::new();
        for i in 0..frames * channels {
            let u = r.next_u64();
            let x = (u >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0;
            let x = match i % 7 {
                0 => x * 1e-40,
                1 => [0.0, -0.0, 1.0, -1.0, 1.0 + 1e-9][(u % 5) as usize],
                2 => x * 1e-30,
                _ => x,
            };
            match (float, bytes) {
                (true, 4) => out.extend((x as f32).to_le_bytes()),
                (true, 8) => out.extend(x.to_le_bytes()),
                _ => out.extend(&u.to_le_bytes()[..bytes]),
            }
        }
        out
    }

    /// Big-endian copy of little-endian samples of `bytes` bytes.
    fn swapped(d: &[u8], bytes: usize) -> Vec<u8> {
        d.chunks(bytes)
            .flat_map(|s| s.iter().rev().copied())
            .collect()
    }

    /// IEEE 754 80-bit extended for an AIFF sample rate (integer rates only).
    fn extended(rate: u32) -> [u8; 10] {
        let e = 31 - rate.leading_zeros();
        let mantissa = u64::from(rate) << (63 - e);
        let mut b = [0u8; 10];
        b[..2].copy_from_slice(&(16383 + e as u16).to_be_bytes());
        b[2..].copy_from_slice(&mantissa.to_be_bytes());
        b
    }

    /// An AIFF (no `compression`) or AIFF-C file; `offset` bytes of padding open the sound data.
    fn aiff(
        channels: u16,
        bits: u16,
        frames: u32,
        compression: Option<&[u8; 4]>,
        offset: u32,
        samples: &[u8],
    ) -> Vec<u8> {
        let mut comm = Vec::new();
        comm.extend(channels.to_be_bytes());
        comm.extend(frames.to_be_bytes());
        comm.extend(bits.to_be_bytes());
        comm.extend(extended(44_100));
        let mut chunks = Vec::new();
        if let Some(c) = compression {
            comm.extend(c);
            comm.extend([4, b'n', b'a', b'm', b'e', 0]);
            chunks.push(chunk(b"FVER", &0xA280_5140u32.to_be_bytes(), true));
        }
        chunks.push(chunk(b"COMM", &comm, true));
        let mut ssnd = offset.to_be_bytes().to_vec();
        ssnd.extend(0u32.to_be_bytes());
        ssnd.extend(vec![0x55; offset as usize]);
        ssnd.extend(samples);
        chunks.push(chunk(b"SSND", &ssnd, true));
        riff(
            if compression.is_some() {
                b"AIFC"
            } else {
                b"AIFF"
            },
            &chunks,
            true,
        )
    }

    const LENGTHS: [usize; 6] = [0, 1, 1151, 1152, 1153, 3001];

    #[test]
    fn wave_samples_match_symphonia_bit_for_bit() {
        // (format tag, bits, extensible sub-format, float)
        let formats = [
            (PCM, 8, 0, false),
            (PCM, 16, 0, false),
            (PCM, 24, 0, false),
            (PCM, 32, 0, false),
            (FLOAT, 32, 0, true),
            (FLOAT, 64, 0, true),
            (EXTENSIBLE, 8, PCM, false),
            (EXTENSIBLE, 16, PCM, false),
            (EXTENSIBLE, 24, PCM, false),
            (EXTENSIBLE, 32, PCM, false),
            (EXTENSIBLE, 32, FLOAT, true),
            (EXTENSIBLE, 64, FLOAT, true),
        ];
        for (tag, bits, sub, float) in formats {
            for channels in [1u16, 2] {
                for frames in LENGTHS {
                    let name = format!("t{tag}-b{bits}-s{sub}-c{channels}-n{frames}.wav");
                    let d = data(frames, channels.into(), bits / 8, float, frames as u64 + 7);
                    let mut chunks = vec![fmt(tag, channels, bits as u16, sub, bits as u16)];
                    if float {
                        // A `fact` chunk that disagrees: the data chunk's length decides.
                        chunks.push(chunk(b"fact", &(frames as u32 + 5).to_le_bytes(), false));
                    }
                    chunks.push(chunk(b"data", &d, false));
                    let log = agree(&name, &riff(b"WAVE", &chunks, false), frames > 0);
                    if frames > 0 {
                        assert_eq!(log.last(), Some(&format!("frames {frames}")), "{name}");
                    }
                }
            }
        }
    }

    #[test]
    fn aiff_samples_match_symphonia_bit_for_bit() {
        // (bits, AIFF-C compression, float, little-endian samples)
        let formats: [(usize, Option<&[u8; 4]>, bool, bool); 10] = [
            (8, None, false, false),
            (16, None, false, false),
            (24, None, false, false),
            (32, None, false, false),
            (16, Some(b"NONE"), false, false),
            (16, Some(b"twos"), false, false),
            (16, Some(b"sowt"), false, true),
            (32, Some(b"fl32"), true, false),
            (64, Some(b"fl64"), true, false),
            (24, Some(b"in24"), false, false),
        ];
        for (bits, compression, float, little) in formats {
            for channels in [1u16, 2] {
                for frames in LENGTHS {
                    let c =
                        compression.map_or("-".into(), |c| String::from_utf8_lossy(c).into_owned());
                    let name = format!("b{bits}-{c}-c{channels}-n{frames}.aiff");
                    let d = data(frames, channels.into(), bits / 8, float, frames as u64 + 11);
                    let d = if little { d } else { swapped(&d, bits / 8) };
                    // COMM's frame count is wrong on purpose: the sound data's length decides.
                    let bytes = aiff(channels, bits as u16, frames as u32 + 3, compression, 0, &d);
                    let log = agree(&name, &bytes, frames > 0);
                    if frames > 0 {
                        assert_eq!(log.last(), Some(&format!("frames {frames}")), "{name}");
                    }
                }
            }
        }
    }

    #[test]
    fn odd_layouts_match_symphonia() {
        let d = data(2000, 2, 3, false, 3);
        // Odd-length unknown chunks (with their pad bytes) and a LIST that is not INFO before
        // the data, more chunks after it.
        let list = [
            b"adtl".as_slice(),
            &chunk(b"labl", &[1, 0, 0, 0, b'x'], false),
        ]
        .concat();
        let bytes = riff(
            b"WAVE",
            &[
                chunk(b"junk", &[9; 3], false),
                fmt(PCM, 2, 24, 0, 24),
                chunk(b"bext", &[7; 5], false),
                chunk(b"LIST", &list, false),
                chunk(b"data", &d, false),
                chunk(b"cue ", &[1; 4], false),
            ],
            false,
        );
        agree("chunks.wav", &bytes, true);
        // A data chunk with half a frame at its end: the half frame is not audio.
        let mut odd = d[..3 * 2 * 1500].to_vec();
        odd.extend([1, 2, 3]);
        let bytes = riff(
            b"WAVE",
            &[fmt(PCM, 2, 24, 0, 24), chunk(b"data", &odd, false)],
            false,
        );
        let log = agree("half-frame.wav", &bytes, true);
        assert_eq!(log.last().map(String::as_str), Some("frames 1500"));
        // AIFF sound data behind an offset.
        let s = swapped(&data(1500, 2, 2, false, 4), 2);
        agree("offset.aiff", &aiff(2, 16, 1500, None, 6, &s), true);
        // 20 valid bits in 24: left to symphonia (and decoded as before).
        let bytes = riff(
            b"WAVE",
            &[fmt(EXTENSIBLE, 2, 24, PCM, 20), chunk(b"data", &d, false)],
            false,
        );
        agree("20-in-24.wav", &bytes, false);
        let s = swapped(&d, 3);
        agree("20-in-24.aiff", &aiff(2, 20, 2000, None, 0, &s), false);
    }

    #[test]
    fn cut_short_files_fail_as_before() {
        let d = data(3000, 2, 2, false, 5);
        let full = riff(
            b"WAVE",
            &[fmt(PCM, 2, 16, 0, 16), chunk(b"data", &d, false)],
            false,
        );
        for cut in [1, 2, 4, 3000, 2 * 2 * 1152, 2 * 2 * 1152 + 1, d.len() - 100] {
            // The headers promise 3000 frames; the file ends `cut` bytes early.
            let log = agree(&format!("cut-{cut}.wav"), &full[..full.len() - cut], false);
            assert!(
                log.iter()
                    .any(|l| l.contains("truncated: the header promises 3000")),
                "{cut}: {:?}",
                log.last()
            );
        }
        // The data chunk states more than the RIFF chunk holds.
        let mut bytes = full.clone();
        let at = bytes.len() - d.len() - 4;
        bytes[at..at + 4].copy_from_slice(&(d.len() as u32 + 400).to_le_bytes());
        agree("past-riff.wav", &bytes, false);
        let s = swapped(&d, 2);
        let a = aiff(2, 16, 3000, None, 0, &s);
        agree("cut.aiff", &a[..a.len() - 1001], false);
    }

    #[test]
    fn non_finite_samples_fail_as_before() {
        let nan32 = f32::from_bits(0x7fc0_0001).to_le_bytes().to_vec();
        let inf32 = f32::NEG_INFINITY.to_le_bytes().to_vec();
        let nan64 = f64::from_bits(0xfff8_0000_0000_0001).to_le_bytes().to_vec();
        // Finite in f64, infinite once rounded to f32.
        let big64 = 1e300f64.to_le_bytes().to_vec();
        for (bits, bad, what) in [
            (32usize, nan32, "NaN"),
            (32, inf32, "infinite"),
            (64, nan64, "NaN"),
            (64, big64, "infinite"),
        ] {
            for at in [0usize, 100, 1151, 1152, 2500] {
                let mut d = data(3000, 2, bits / 8, true, 6);
                // Right channel of frame `at`.
                let p = (at * 2 + 1) * bits / 8;
                d[p..p + bits / 8].copy_from_slice(&bad);
                let bytes = riff(
                    b"WAVE",
                    &[
                        fmt(FLOAT, 2, bits as u16, 0, bits as u16),
                        chunk(b"data", &d, false),
                    ],
                    false,
                );
                let log = agree(&format!("bad-{bits}-{at}.wav"), &bytes, true);
                let want = format!("{what} sample at frame {at}, channel 1");
                assert!(
                    log.iter().any(|l| l.contains(&want)),
                    "{want}: {:?}",
                    log.last()
                );
            }
        }
    }
}
