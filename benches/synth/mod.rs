//! Synthetic multitrack sessions for benchmarks: N stems of D seconds in a mix of sample rates
//! (44.1, 48, 88.2, 96 kHz), containers and sample formats (WAV 16/24-bit integer and 32-bit
//! float, AIFF 16/24-bit), mono and stereo, routed through buses with sends. Stems are written
//! sample by sample, so generating hours of audio needs almost no memory.
//!
//! Shared by `benches/render.rs` and `examples/gen_session.rs` through `#[path]`.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy)]
pub enum Format {
    Wav16,
    Wav24,
    WavF32,
    Aiff16,
    Aiff24,
}

/// (rate, channels, format) cycled over the stems.
const VARIANTS: &[(u32, u16, Format)] = &[
    (44100, 2, Format::Wav16),
    (48000, 1, Format::Wav24),
    (96000, 2, Format::WavF32),
    (44100, 1, Format::Aiff16),
    (48000, 2, Format::Wav16),
    (88200, 1, Format::Aiff24),
    (44100, 2, Format::Wav24),
    (48000, 2, Format::WavF32),
];

/// splitmix64: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A stem's sound: notes of a few partials on a beat grid, with decaying envelopes and a little
/// noise, so decoders, resamplers and meters see music-like signals rather than silence.
struct Voice {
    rng: Rng,
    rate: f64,
    beat: usize,
    pos: usize,
    freq: f64,
    phase: [f64; 3],
    env: f64,
    decay: f64,
    level: f64,
    noise: f64,
    pan: f64,
}

impl Voice {
    fn new(seed: u64, rate: u32) -> Self {
        let mut rng = Rng(seed);
        let level = 0.15 + 0.2 * rng.unit();
        let pan = rng.unit();
        Voice {
            rng,
            rate: f64::from(rate),
            beat: (f64::from(rate) * 60.0 / 120.0 / 2.0) as usize,
            pos: 0,
            freq: 110.0,
            phase: [0.0; 3],
            env: 0.0,
            decay: 0.9999,
            level,
            noise: 0.02,
            pan,
        }
    }

    fn frame(&mut self) -> [f64; 2] {
        if self.pos.is_multiple_of(self.beat) && self.rng.unit() < 0.8 {
            let semis = (self.rng.unit() * 36.0).floor();
            self.freq = 55.0 * 2f64.powf(semis / 12.0);
            self.env = 1.0;
            let t60 = 0.1 + 0.6 * self.rng.unit();
            self.decay = (-6.9 / (t60 * self.rate)).exp();
        }
        self.pos += 1;
        let mut x = 0.0;
        for (k, ph) in self.phase.iter_mut().enumerate() {
            let h = (k + 1) as f64;
            *ph += 2.0 * std::f64::consts::PI * self.freq * h / self.rate;
            if *ph > std::f64::consts::TAU {
                *ph -= std::f64::consts::TAU;
            }
            x += ph.sin() / h;
        }
        x = x * self.env * self.level + (self.rng.unit() - 0.5) * self.noise * self.env;
        self.env *= self.decay;
        [x * (1.0 - 0.5 * self.pan), x * (0.5 + 0.5 * self.pan)]
    }
}

/// Write one stem; returns its file name.
fn write_stem(dir: &Path, i: usize, seconds: f64, seed: u64) -> std::io::Result<String> {
    let (rate, channels, format) = VARIANTS[i % VARIANTS.len()];
    let frames = (seconds * f64::from(rate)).round() as u64;
    let mut voice = Voice::new(seed.wrapping_add(i as u64 * 7919), rate);
    let (name, bits, float, aiff) = match format {
        Format::Wav16 => (format!("stem{i:02}.wav"), 16, false, false),
        Format::Wav24 => (format!("stem{i:02}.wav"), 24, false, false),
        Format::WavF32 => (format!("stem{i:02}.wav"), 32, true, false),
        Format::Aiff16 => (format!("stem{i:02}.aiff"), 16, false, true),
        Format::Aiff24 => (format!("stem{i:02}.aiff"), 24, false, true),
    };
    let mut w = BufWriter::new(File::create(dir.join(&name))?);
    let bytes_per = bits / 8;
    let data_len = frames * u64::from(channels) * bytes_per as u64;
    if aiff {
        aiff_header(
            &mut w,
            channels,
            frames as u32,
            bits as u16,
            rate,
            data_len as u32,
        )?;
    } else {
        wav_header(&mut w, channels, rate, bits as u16, float, data_len as u32)?;
    }
    for _ in 0..frames {
        let f = voice.frame();
        for c in 0..channels as usize {
            let x = if channels == 1 {
                0.5 * (f[0] + f[1])
            } else {
                f[c]
            };
            if float {
                w.write_all(&(x as f32).to_le_bytes())?;
            } else {
                let scale = f64::from(1u32 << (bits - 1));
                let v = (x * scale).round().clamp(-scale, scale - 1.0) as i32;
                let b = v.to_le_bytes();
                if aiff {
                    // AIFF is big-endian.
                    let be = v.to_be_bytes();
                    w.write_all(&be[4 - bytes_per..])?;
                } else {
                    w.write_all(&b[..bytes_per])?;
                }
            }
        }
    }
    if data_len % 2 == 1 {
        w.write_all(&[0])?;
    }
    w.flush()?;
    Ok(name)
}

fn wav_header(
    w: &mut impl Write,
    ch: u16,
    rate: u32,
    bits: u16,
    float: bool,
    data: u32,
) -> std::io::Result<()> {
    let block = ch * bits / 8;
    w.write_all(b"RIFF")?;
    w.write_all(&(36 + data + data % 2).to_le_bytes())?;
    w.write_all(b"WAVEfmt ")?;
    w.write_all(&16u32.to_le_bytes())?;
    w.write_all(&(if float { 3u16 } else { 1u16 }).to_le_bytes())?;
    w.write_all(&ch.to_le_bytes())?;
    w.write_all(&rate.to_le_bytes())?;
    w.write_all(&(rate * u32::from(block)).to_le_bytes())?;
    w.write_all(&block.to_le_bytes())?;
    w.write_all(&bits.to_le_bytes())?;
    w.write_all(b"data")?;
    w.write_all(&data.to_le_bytes())
}

/// IEEE 754 80-bit extended encoding of an integer sample rate (AIFF's COMM chunk).
fn extended(rate: u32) -> [u8; 10] {
    let mut out = [0u8; 10];
    let exp = 31 - rate.leading_zeros();
    let biased = 16383 + exp as u16;
    out[..2].copy_from_slice(&biased.to_be_bytes());
    let mantissa = u64::from(rate) << (63 - exp);
    out[2..].copy_from_slice(&mantissa.to_be_bytes());
    out
}

fn aiff_header(
    w: &mut impl Write,
    ch: u16,
    frames: u32,
    bits: u16,
    rate: u32,
    data: u32,
) -> std::io::Result<()> {
    let pad = data % 2;
    w.write_all(b"FORM")?;
    w.write_all(&(4 + 26 + 16 + data + pad).to_be_bytes())?;
    w.write_all(b"AIFFCOMM")?;
    w.write_all(&18u32.to_be_bytes())?;
    w.write_all(&ch.to_be_bytes())?;
    w.write_all(&frames.to_be_bytes())?;
    w.write_all(&bits.to_be_bytes())?;
    w.write_all(&extended(rate))?;
    w.write_all(b"SSND")?;
    w.write_all(&(8 + data).to_be_bytes())?;
    w.write_all(&0u32.to_be_bytes())?;
    w.write_all(&0u32.to_be_bytes())
}

/// Write `stems` stems of `seconds` each and a session routing them through four buses.
/// Returns the session file.
pub fn generate(dir: &Path, stems: usize, seconds: f64, seed: u64) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut toml = String::new();
    toml.push_str(&format!(
        "# Synthetic benchmark session: {stems} stems x {seconds} s (generated; do not edit)\n[session]\nname = \"bench {stems}x{seconds}\"\nsample_rate = 48000\n\n"
    ));
    // Faders scale with 1/sqrt(N) so the sum of uncorrelated stems stays near -15 dBFS RMS.
    let fader = -10.0 * (stems.max(1) as f64).log10() + 3.0;
    let buses = ["drums", "music", "vox", "fx"];
    for i in 0..stems {
        let file = write_stem(dir, i, seconds, seed)?;
        let (_, channels, _) = VARIANTS[i % VARIANTS.len()];
        let pan = ((i as f64 * 0.37) % 2.0) - 1.0;
        toml.push_str(&format!(
            "[[track]]\nname = \"t{i:02}\"\nfile = \"{file}\"\ngain_db = {fader:.2}\npan = {pan:.2}\n"
        ));
        if channels == 2 {
            toml.push_str("width = 0.9\n");
        }
        toml.push_str(&format!("output = \"{}\"\n", buses[i % 3]));
        if i % 2 == 0 {
            toml.push_str("sends = [{ bus = \"fx\", level_db = -12.0 }]\n");
        }
        toml.push_str("fx = [{ type = \"gain\", gain_db = -1.0 }]\n\n");
    }
    for b in &buses {
        toml.push_str(&format!(
            "[[bus]]\nname = \"{b}\"\nfx = [{{ type = \"gain\", gain_db = -1.0 }}]\n\n"
        ));
    }
    toml.push_str("[master]\ntarget = { preset = \"spotify\" }\n\n");
    toml.push_str("[[output]]\npath = \"out/bench.wav\"\nsample_rate = 44100\nbit_depth = 16\ndither = \"tpdf\"\n");
    let path = dir.join("session.toml");
    let mut f = File::create(&path)?;
    f.write_all(toml.as_bytes())?;
    f.seek(SeekFrom::End(0))?;
    Ok(path)
}
