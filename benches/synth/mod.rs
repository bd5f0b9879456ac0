//! Synthetic multitrack session files for benchmarks: N stems of D seconds in a mix of sample rates
//! (44.1, 48, 88.2, 96 kHz), containers and sample formats (WAV 16/24-bit integer and 32-bit
//! float, AIFF 16/24-bit), mono and stereo. Stems are written sample by sample, so generating
//! hours of audio needs almost no memory. Two kinds of session use the same stems:
//!
//! - [`Kind::Gain`] ([`generate`]): tracks with only a `gain` processor, routed through four
//!   buses with sends. It measures decoding, resampling, routing and the master stages.
//! - [`Kind::Real`] ([`generate_realistic`]): the real job. Every track has a 4-band EQ
//!   (high-pass, two peaks, high shelf), a peak compressor and a pan, and a post-fader send to a
//!   bus "verb" that convolves with a 2 s stereo impulse response (written beside the session as
//!   `ir/hall.wav`); the master has a shelving EQ, a 3-band multiband compressor and a
//!   compressor, then the -14 LUFS / -1 dBTP target. `scripts/bench-compare.sh` runs the same
//!   job with SoX, ffmpeg and pedalboard from the generated session file's parameters.
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

/// Which session [`generate_kind`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Gain-only tracks through four buses ([`generate`]).
    Gain,
    /// EQ, compressor, pan and a convolution-reverb send on every track; a mastering chain
    /// ([`generate_realistic`]).
    Real,
}

impl Kind {
    /// `"gain"` or `"real"` (also `"realistic"`).
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "gain" => Some(Kind::Gain),
            "real" | "realistic" => Some(Kind::Real),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Gain => "gain",
            Kind::Real => "real",
        }
    }
}

/// Write a session of `kind`; returns the session file.
pub fn generate_kind(
    kind: Kind,
    dir: &Path,
    stems: usize,
    seconds: f64,
    seed: u64,
) -> std::io::Result<PathBuf> {
    match kind {
        Kind::Gain => generate(dir, stems, seconds, seed),
        Kind::Real => generate_realistic(dir, stems, seconds, seed),
    }
}

/// Rate of the realistic session and of its impulse response, in Hz.
pub const REAL_RATE: u32 = 48_000;
/// Length of the generated impulse response in seconds; it decays by 60 dB over this time.
pub const IR_SECONDS: f64 = 2.0;
/// Tail rendered after the stems end in the realistic session, in seconds. Fixed rather than
/// `"auto"` so that every tool in `scripts/bench-compare.sh` renders exactly the same length
/// (`SECONDS + REAL_TAIL_S`); it covers the impulse response.
pub const REAL_TAIL_S: f64 = 2.0;
/// Impulse response file, relative to the session.
pub const IR_PATH: &str = "ir/hall.wav";

/// A deterministic stereo "hall": independent uniform noise per channel under an exponential
/// decay of 60 dB over [`IR_SECONDS`], with a 5 ms fade-in, as 32-bit float WAV at
/// [`REAL_RATE`]. The amplitude (0.01) gives the IR an energy of about -6 dB, so the reverb
/// return sits where a mixing engineer would put it.
fn write_ir(path: &Path, seed: u64) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let rate = f64::from(REAL_RATE);
    let frames = (IR_SECONDS * rate).round() as u64;
    let channels = 2u16;
    let data_len = frames * u64::from(channels) * 4;
    let mut w = BufWriter::new(File::create(path)?);
    wav_header(&mut w, channels, REAL_RATE, 32, true, data_len as u32)?;
    let mut rng = Rng(seed ^ 0x1234_5678_9ABC_DEF0);
    let fade = 0.005 * rate;
    // exp(-ln(1000) t / T60): -60 dB at T60.
    let k = -(1000f64).ln() / (IR_SECONDS * rate);
    for n in 0..frames {
        let t = n as f64;
        let env = 0.01 * (k * t).exp() * (t / fade).min(1.0);
        for _ in 0..channels {
            let x = (2.0 * rng.unit() - 1.0) * env;
            w.write_all(&(x as f32).to_le_bytes())?;
        }
    }
    w.flush()
}

/// Uniform in `[lo, hi)`.
fn between(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.unit()
}

/// Write `stems` stems of `seconds` each (the same stems as [`generate`]), the impulse response
/// [`IR_PATH`] and a session with the processing of a real mix (see the module docs). Track
/// parameters vary per track but depend only on `seed` and the track's index. Returns the
/// session file.
pub fn generate_realistic(
    dir: &Path,
    stems: usize,
    seconds: f64,
    seed: u64,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    write_ir(&dir.join(IR_PATH), seed)?;
    let mut toml = String::new();
    toml.push_str(&format!(
        "# Realistic benchmark session: {stems} stems x {seconds} s (generated by benches/synth; do not edit).\n\
         # Every track: EQ, compressor, pan, post-fader send to a convolution reverb; master: EQ,\n\
         # multiband, compressor, -14 LUFS / -1 dBTP. scripts/bench-compare.sh reads these parameters.\n\
         [session]\nname = \"bench real {stems}x{seconds}\"\nsample_rate = {REAL_RATE}\ntail = {REAL_TAIL_S:.1}\n\n"
    ));
    // Faders scale with 1/sqrt(N) so the sum of uncorrelated stems stays near -15 dBFS RMS.
    let fader = -10.0 * (stems.max(1) as f64).log10() + 3.0;
    for i in 0..stems {
        let file = write_stem(dir, i, seconds, seed)?;
        let mut r = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ ((i as u64 + 1) * 0x9E37_79B9));
        let pan = ((i as f64 * 0.37) % 2.0) - 1.0;
        let hp = between(&mut r, 30.0, 150.0);
        let (p1f, p1g, p1q) = (
            between(&mut r, 150.0, 800.0),
            between(&mut r, -4.0, 3.0),
            between(&mut r, 0.7, 2.0),
        );
        let (p2f, p2g, p2q) = (
            between(&mut r, 1500.0, 6000.0),
            between(&mut r, -3.0, 4.0),
            between(&mut r, 0.8, 2.5),
        );
        let (hsf, hsg) = (between(&mut r, 6000.0, 12000.0), between(&mut r, -3.0, 3.0));
        let threshold = between(&mut r, -30.0, -16.0);
        let ratio = between(&mut r, 2.0, 6.0);
        let knee = between(&mut r, 3.0, 8.0);
        let attack = between(&mut r, 2.0, 20.0);
        let release = between(&mut r, 60.0, 250.0);
        let makeup = between(&mut r, 0.0, 4.0);
        let send = between(&mut r, -18.0, -10.0);
        toml.push_str(&format!(
            "[[track]]\nname = \"t{i:02}\"\nfile = \"{file}\"\ngain_db = {fader:.2}\npan = {pan:.2}\n\
             sends = [{{ bus = \"verb\", level_db = {send:.1} }}]\n\
             fx = [\n  \
             {{ type = \"eq\", bands = [\n      \
             {{ kind = \"highpass\", freq_hz = {hp:.1}, slope_db_oct = 12 }},\n      \
             {{ kind = \"peak\", freq_hz = {p1f:.1}, gain_db = {p1g:.2}, q = {p1q:.2} }},\n      \
             {{ kind = \"peak\", freq_hz = {p2f:.1}, gain_db = {p2g:.2}, q = {p2q:.2} }},\n      \
             {{ kind = \"highshelf\", freq_hz = {hsf:.1}, gain_db = {hsg:.2}, q = 0.7071 }} ] }},\n  \
             {{ type = \"compressor\", threshold_db = {threshold:.1}, ratio = {ratio:.2}, knee_db = {knee:.1}, \
             attack_ms = {attack:.1}, release_ms = {release:.1}, makeup_db = {makeup:.1}, detector = \"peak\" }},\n]\n\n"
        ));
    }
    toml.push_str(&format!(
        "[[bus]]\nname = \"verb\"\nfx = [{{ type = \"reverb\", ir = \"{IR_PATH}\", mix = 1.0 }}]\n\n"
    ));
    toml.push_str(
        "[master]\nfx = [\n  \
         { type = \"eq\", phase = \"minimum\", bands = [\n      \
         { kind = \"lowshelf\", freq_hz = 100.0, gain_db = 1.0, q = 0.7071 },\n      \
         { kind = \"highshelf\", freq_hz = 10000.0, gain_db = 1.5, q = 0.7071 } ] },\n  \
         { type = \"multiband\", crossovers_hz = [200.0, 3000.0], bands = [\n      \
         { threshold_db = -30.0, ratio = 2.0, knee_db = 6.0, attack_ms = 20.0, release_ms = 200.0, detector = \"peak\" },\n      \
         { threshold_db = -28.0, ratio = 1.8, knee_db = 6.0, attack_ms = 10.0, release_ms = 150.0, detector = \"peak\" },\n      \
         { threshold_db = -32.0, ratio = 2.2, knee_db = 6.0, attack_ms = 5.0, release_ms = 100.0, detector = \"peak\" } ] },\n  \
         { type = \"compressor\", threshold_db = -18.0, ratio = 2.0, knee_db = 6.0, attack_ms = 10.0, release_ms = 120.0, detector = \"peak\" },\n]\n\
         target = { lufs = -14.0, ceiling_dbtp = -1.0 }\n\n",
    );
    toml.push_str("[[output]]\npath = \"out/bench.wav\"\nsample_rate = 44100\nbit_depth = 16\ndither = \"tpdf\"\n");
    let path = dir.join("session.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}
