//! Generates the stems of the mixdown demo song, "First Light": 104 BPM, A minor,
//! Am-F-C-G | Am-F-G | Am, about 17.8 s.
//!
//! Every sound is synthesised here from oscillators, envelopes, state-variable filters and a
//! fixed-seed noise generator; there are no sample tables. The output is deterministic, so
//! `make-stems.sh` recreates the committed stems exactly.
//!
//! Usage: `cargo run --release --example generate-demo -- OUTDIR`
//! Writes OUTDIR/{drums,bass,keys,lead,vox}.wav; make-stems.sh encodes drums and keys to FLAC and
//! vox to Ogg Vorbis.

use std::f32::consts::{PI, TAU};
use std::path::Path;

const BPM: f32 = 104.0;
const BEAT: f32 = 60.0 / BPM;
/// Seven bars of groove, then one final chord left to ring for `RING` seconds.
const BARS: u32 = 7;
const RING: f32 = 1.6;
const SONG_S: f32 = BARS as f32 * 4.0 * BEAT + RING;
const SR: u32 = 44_100;
/// The keys are rendered at 48 kHz on purpose, so mixdown has a stem to resample.
const SR_KEYS: u32 = 48_000;

/// Position in beats from the start of the song.
const fn at(bar: u32, beat: f32) -> f32 {
    bar as f32 * 4.0 + beat
}

/// One chord per bar (bar 7 is the final hit): the bass root and a close keys voicing around
/// middle C, voice-led so that the hands barely move (MIDI note numbers).
const CHORDS: [(u8, [u8; 3]); 8] = [
    (33, [57, 60, 64]), // Am: A1 | A3 C4 E4
    (29, [57, 60, 65]), // F:  F1 | A3 C4 F4
    (36, [55, 60, 64]), // C:  C2 | G3 C4 E4
    (31, [55, 59, 62]), // G:  G1 | G3 B3 D4
    (33, [57, 60, 64]), // Am
    (29, [57, 60, 65]), // F
    (31, [55, 59, 62]), // G: bVI-bVII-i, the Aeolian cadence back home
    (33, [57, 60, 64]), // Am, final hit
];

/// Bass riff for one bar: (beat, length in beats, semitones above the root).
#[rustfmt::skip]
const BASS_RIFF: [(f32, f32, f32); 6] =
    [(0.0, 0.9, 0.0), (1.0, 0.4, 0.0), (1.5, 0.4, 12.0), (2.0, 0.9, 0.0), (3.0, 0.4, 7.0), (3.5, 0.4, 0.0)];

/// Lead melody from bar 4 (halfway): (start in beats, length in beats, MIDI note).
#[rustfmt::skip]
const LEAD: [(f32, f32, u8); 18] = [
    (at(4, 0.0), 1.0, 76), (at(4, 1.0), 0.5, 74), (at(4, 1.5), 0.5, 72), (at(4, 2.0), 1.5, 69), (at(4, 3.5), 0.5, 72),
    (at(5, 0.0), 1.0, 72), (at(5, 1.0), 0.5, 74), (at(5, 1.5), 0.5, 72), (at(5, 2.0), 1.0, 69), (at(5, 3.0), 0.5, 67),
    (at(5, 3.5), 0.5, 69),
    (at(6, 0.0), 1.0, 71), (at(6, 1.0), 0.5, 67), (at(6, 1.5), 0.5, 71), (at(6, 2.0), 1.0, 74), (at(6, 3.0), 0.5, 72),
    (at(6, 3.5), 0.5, 71),
    (at(7, 0.0), 2.4, 69),
];

/// Vowels as formant frequencies F1..F3 in Hz (Peterson & Barney 1952, women's averages).
const VOWELS: [[f32; 3]; 4] = [
    [850.0, 1220.0, 2810.0], // 0: "a" as in father
    [590.0, 920.0, 2710.0],  // 1: "o" as in law
    [610.0, 2330.0, 2990.0], // 2: "e" as in bed
    [310.0, 2790.0, 3310.0], // 3: "i" as in beet
];
const FORMANT_BW: [f32; 3] = [90.0, 110.0, 170.0];

/// Voice melody: (start in beats, length in beats, MIDI note, vowel). Notes that touch are sung
/// legato as one phrase; the gaps between phrases are breaths.
#[rustfmt::skip]
const VOX: [(f32, f32, u8, usize); 11] = [
    (at(1, 0.0), 1.0, 57, 0), (at(1, 1.0), 0.5, 60, 1), (at(1, 1.5), 1.5, 57, 2),
    (at(2, 0.0), 1.0, 64, 3), (at(2, 1.0), 0.5, 62, 0), (at(2, 1.5), 1.25, 60, 1),
    (at(3, 0.0), 1.0, 62, 0), (at(3, 1.0), 2.0, 59, 1),
    (at(6, 0.0), 2.0, 62, 1), (at(6, 2.0), 2.0, 59, 0), (at(7, 0.0), 2.4, 57, 0),
];

/// xorshift64*: tiny and identical on every platform, so the noise is reproducible.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// White noise, uniform in [-1, 1).
    fn noise(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Topology-preserving state-variable filter (Zavalishin/Simper). It stays stable while its
/// cutoff is swept every sample, which the bass, lead and formant filters all do.
#[derive(Default)]
struct Svf {
    ic1: f32,
    ic2: f32,
}

struct SvfOut {
    low: f32,
    /// Band-pass normalised to 0 dB at the centre frequency.
    band: f32,
    high: f32,
}

impl Svf {
    fn run(&mut self, x: f32, fc: f32, q: f32, sr: f32) -> SvfOut {
        let g = (PI * fc.min(0.45 * sr) / sr).tan();
        let k = 1.0 / q;
        let a1 = 1.0 / (1.0 + g * (g + k));
        let (a2, a3) = (g * a1, g * g * a1);
        let v3 = x - self.ic2;
        let v1 = a1 * self.ic1 + a2 * v3;
        let v2 = self.ic2 + a2 * self.ic1 + a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        SvfOut {
            low: v2,
            band: k * v1,
            high: x - k * v1 - v2,
        }
    }
}

fn hz(midi: f32) -> f32 {
    440.0 * 2f32.powf((midi - 69.0) / 12.0)
}

fn frames(seconds: f32, sr: u32) -> usize {
    (seconds * sr as f32).round() as usize
}

/// Coefficient of a one-pole smoother with time constant `tau` seconds.
fn smooth(tau: f32, sr: f32) -> f32 {
    1.0 - (-1.0 / (tau * sr)).exp()
}

/// Attack ramp, sustain, then a linear release after `len` seconds, so notes never end in a click.
fn env_ar(t: f32, attack: f32, len: f32, release: f32) -> f32 {
    (t / attack).min(1.0) * ((len + release - t) / release).clamp(0.0, 1.0)
}

/// Band-limited sawtooth: a naive ramp with its jump smoothed by a polynomial (PolyBLEP), which
/// removes most of the aliasing a raw ramp would fold back below 20 kHz.
fn saw(phase: f32, dt: f32) -> f32 {
    let blep = if phase < dt {
        let t = phase / dt;
        2.0 * t - t * t - 1.0
    } else if phase > 1.0 - dt {
        let t = (phase - 1.0) / dt;
        t * t + 2.0 * t + 1.0
    } else {
        0.0
    };
    2.0 * phase - 1.0 - blep
}

/// Constant-power pan gains (left, right) for pan in -1..1.
fn pan_gains(pan: f32) -> (f32, f32) {
    let a = (pan + 1.0) * PI / 4.0;
    (a.cos(), a.sin())
}

/// Adds `src` into `dst` from frame `start`, scaled by `gain`, cutting off at the end of `dst`.
fn mix_into(dst: &mut [f32], start: usize, src: &[f32], gain: f32) {
    for (d, s) in dst.iter_mut().skip(start).zip(src) {
        *d += s * gain;
    }
}

/// Scales all channels so that the highest sample peak lands at `dbfs`, the way an engineer sets
/// a recording level: stems arrive with headroom, not normalised to 0 dBFS.
fn set_peak(chans: &mut [&mut Vec<f32>], dbfs: f32) {
    let peak = chans
        .iter()
        .flat_map(|c| c.iter())
        .fold(0.0f32, |m, x| m.max(x.abs()));
    let gain = 10f32.powf(dbfs / 20.0) / peak;
    chans
        .iter_mut()
        .flat_map(|c| c.iter_mut())
        .for_each(|x| *x *= gain);
}

/// Writes integer PCM. Samples are rounded, not dithered, so silence stays digital silence.
fn write_wav(path: &Path, chans: &[&Vec<f32>], sr: u32, bits: u16) {
    let spec = hound::WavSpec {
        channels: chans.len() as u16,
        sample_rate: sr,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create WAV");
    let full = ((1i32 << (bits - 1)) - 1) as f32;
    for i in 0..chans[0].len() {
        for c in chans {
            w.write_sample((c[i] * full).round().clamp(-full, full) as i32)
                .expect("write WAV");
        }
    }
    w.finalize().expect("finalize WAV");
    println!("wrote {}", path.display());
}

// ---------------------------------------------------------------------------------------------
// Drums (44.1 kHz stereo)

#[derive(Clone, Copy)]
enum Hit {
    Kick,
    Snare,
    Hat,
    Crash,
}

/// Kick: a sine whose pitch drops from ~160 Hz to ~48 Hz (the drop is what reads as "kick"),
/// plus a 2 ms noise click for the beater, gently saturated for punch.
fn kick(sr: f32, rng: &mut Rng) -> (Vec<f32>, Vec<f32>) {
    let mut phase = 0.0f32;
    let out: Vec<f32> = (0..(0.6 * sr) as usize)
        .map(|i| {
            let t = i as f32 / sr;
            phase = (phase + (48.0 + 110.0 * (-t / 0.03).exp()) / sr).fract();
            let body = (TAU * phase).sin() * (-t / 0.22).exp() * (1.0 - t / 0.6);
            let click = 0.5 * rng.noise() * (-t / 0.0015).exp();
            (1.6 * (body + click)).tanh()
        })
        .collect();
    (out.clone(), out)
}

/// Snare: two drum-head modes (185 and 330 Hz) that die fast, plus band-passed noise for the
/// wires. Left and right get partly independent noise, so the snare has a little width.
fn snare(sr: f32, rng: &mut Rng) -> (Vec<f32>, Vec<f32>) {
    let (mut fl, mut fr) = (Svf::default(), Svf::default());
    let n = (0.4 * sr) as usize;
    let (mut l, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let t = i as f32 / sr;
        let fade = 1.0 - t / 0.4;
        let tone =
            (0.7 * (TAU * 185.0 * t).sin() + 0.4 * (TAU * 330.0 * t).sin()) * (-t / 0.045).exp();
        let wires = (-t / 0.11).exp() * fade;
        let common = rng.noise();
        let nl = fl
            .run(0.75 * common + 0.25 * rng.noise(), 3500.0, 0.45, sr)
            .band;
        let nr = fr
            .run(0.75 * common + 0.25 * rng.noise(), 3500.0, 0.45, sr)
            .band;
        l.push(tone * fade + 1.1 * wires * nl);
        r.push(tone * fade + 1.1 * wires * nr);
    }
    (l, r)
}

/// Noise through a steep high-pass (two cascaded 12 dB/oct sections) with an exponential decay:
/// a closed hi-hat at 30 ms, a crash cymbal at 900 ms. Crashes get independent noise per side.
fn metal(
    sr: f32,
    rng: &mut Rng,
    cutoff: f32,
    decay: f32,
    len: f32,
    stereo: bool,
) -> (Vec<f32>, Vec<f32>) {
    let mut f = [
        Svf::default(),
        Svf::default(),
        Svf::default(),
        Svf::default(),
    ];
    let n = (len * sr) as usize;
    let (mut l, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let t = i as f32 / sr;
        let env = (t / 0.0005).min(1.0) * (-t / decay).exp() * (1.0 - t / len);
        let a = rng.noise();
        let b = if stereo { rng.noise() } else { a };
        let hl = f[0].run(a, cutoff, 0.7, sr).high;
        let hr = f[2].run(b, cutoff, 0.7, sr).high;
        l.push(env * f[1].run(hl, cutoff, 0.7, sr).high);
        r.push(env * f[3].run(hr, cutoff, 0.7, sr).high);
    }
    (l, r)
}

fn drums() -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(0xD5_0104);
    let mut hits: Vec<(f32, Hit, f32)> = Vec::new();
    for bar in 0..BARS {
        let odd = bar % 2 == 1;
        let fill = bar == BARS - 1; // a snare roll leads into the final hit
        let kicks: &[f32] = if odd {
            &[0.0, 1.5, 2.5]
        } else {
            &[0.0, 2.0, 2.5]
        };
        hits.extend(kicks.iter().map(|&b| (at(bar, b), Hit::Kick, 1.0)));
        hits.push((at(bar, 1.0), Hit::Snare, 1.0));
        if fill {
            let roll = [0.45, 0.6, 0.75, 0.95];
            hits.extend(
                roll.iter()
                    .enumerate()
                    .map(|(i, &v)| (at(bar, 3.0 + 0.25 * i as f32), Hit::Snare, v)),
            );
        } else {
            hits.push((at(bar, 3.0), Hit::Snare, 1.0));
            if odd {
                hits.push((at(bar, 3.75), Hit::Snare, 0.25)); // ghost note
            }
        }
        // Eighth-note hats, accented on the beat, dropped under the fill.
        for e in 0..8 {
            let b = 0.5 * e as f32;
            if !(fill && b >= 3.0) {
                hits.push((at(bar, b), Hit::Hat, if e % 2 == 0 { 0.8 } else { 0.5 }));
            }
        }
    }
    hits.push((at(4, 0.0), Hit::Crash, 0.6)); // marks the lead's entry
    hits.push((at(BARS, 0.0), Hit::Kick, 1.0));
    hits.push((at(BARS, 0.0), Hit::Crash, 1.0));

    let sr = SR as f32;
    let n = frames(SONG_S, SR);
    let (mut l, mut r) = (vec![0.0; n], vec![0.0; n]);
    for (beat, hit, vel) in hits {
        // A drummer is never perfectly on the grid: +-3 ms timing, +-6 % velocity.
        let t = (beat * BEAT + 0.003 * rng.noise()).max(0.0);
        let vel = vel * (1.0 + 0.06 * rng.noise());
        let ((sl, sr_), pan, level) = match hit {
            Hit::Kick => (kick(sr, &mut rng), 0.0, 1.0),
            Hit::Snare => (snare(sr, &mut rng), 0.0, 0.8),
            Hit::Hat => (metal(sr, &mut rng, 7000.0, 0.03, 0.15, false), 0.35, 0.5),
            Hit::Crash => (metal(sr, &mut rng, 4500.0, 0.9, RING, true), -0.4, 0.5),
        };
        let (gl, gr) = pan_gains(pan);
        // Centred hits keep unity gain on both sides; only the panned ones use the pan law.
        let (gl, gr) = if pan == 0.0 { (1.0, 1.0) } else { (gl, gr) };
        let start = frames(t, SR);
        mix_into(&mut l, start, &sl, vel * level * gl);
        mix_into(&mut r, start, &sr_, vel * level * gr);
    }
    (l, r)
}

// ---------------------------------------------------------------------------------------------
// Bass (44.1 kHz mono)

/// Saw plus a sine at the fundamental through a resonant low-pass whose cutoff drops from
/// ~1.6 kHz to 140 Hz after each note starts: a pluck, then a round tone that leaves room above.
fn bass() -> Vec<f32> {
    let sr = SR as f32;
    let mut out = vec![0.0; frames(SONG_S, SR)];
    let mut notes: Vec<(f32, f32, f32)> = Vec::new();
    for bar in 0..BARS {
        let root = f32::from(CHORDS[bar as usize].0);
        notes.extend(
            BASS_RIFF
                .iter()
                .map(|&(b, len, iv)| (at(bar, b), len, root + iv)),
        );
    }
    notes.push((at(BARS, 0.0), 2.2, f32::from(CHORDS[BARS as usize].0)));
    for (beat, len_beats, midi) in notes {
        let (f, len) = (hz(midi), len_beats * BEAT);
        let dt = f / sr;
        let mut svf = Svf::default();
        let mut phase = 0.0f32;
        let note: Vec<f32> = (0..frames(len + 0.03, SR))
            .map(|i| {
                let t = i as f32 / sr;
                phase = (phase + dt).fract();
                let osc = 0.7 * saw(phase, dt) + 0.6 * (TAU * phase).sin();
                let fc = 140.0 + 1500.0 * (-t / 0.09).exp();
                (1.2 * svf.run(osc, fc, 1.3, sr).low).tanh() * env_ar(t, 0.004, len, 0.03)
            })
            .collect();
        mix_into(&mut out, frames(beat * BEAT, SR), &note, 1.0);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Keys (48 kHz stereo)

/// Electric piano by two-operator FM (modulator at the carrier frequency): the modulation index
/// decays, so each note starts bright and mellows, as a struck tine does. A fast-decaying 14th
/// partial adds the metallic "tine" strike. Low notes sustain longer than high ones.
fn ep_note(midi: f32, len: f32, vel: f32, sr: f32) -> Vec<f32> {
    let f = hz(midi);
    let decay = 1.6 * (220.0 / f).sqrt();
    let mut phase = 0.0f32;
    (0..frames(len + 0.15, SR_KEYS))
        .map(|i| {
            let t = i as f32 / sr;
            phase = (phase + f / sr).fract();
            let index = vel * (0.3 + 1.7 * (-t / 0.35).exp());
            let body = (TAU * phase + index * (TAU * phase).sin()).sin();
            let tine = 0.25 * vel * (TAU * 14.0 * phase).sin() * (-t / 0.03).exp();
            (body + tine) * vel * (-t / decay).exp() * env_ar(t, 0.002, len, 0.15)
        })
        .collect()
}

fn keys() -> (Vec<f32>, Vec<f32>) {
    let sr = SR_KEYS as f32;
    let n = frames(SONG_S, SR_KEYS);
    let (mut l, mut r) = (vec![0.0; n], vec![0.0; n]);
    // Per bar: the chord held from beat 1, re-struck on the "and" of 3 (a push into the next bar).
    let mut hits: Vec<(f32, f32, f32, Vec<u8>)> = Vec::new();
    for bar in 0..BARS {
        let v = CHORDS[bar as usize].1.to_vec();
        hits.push((at(bar, 0.0), 2.3, 1.0, v.clone()));
        hits.push((at(bar, 2.5), 1.4, 0.8, v));
    }
    let mut last = CHORDS[BARS as usize].1.to_vec();
    last.push(69); // the final chord adds the octave on top
    hits.push((at(BARS, 0.0), 2.2, 1.0, last));
    for (beat, len, vel, voicing) in hits {
        for m in voicing {
            // Low notes a little left, high notes a little right, as on a piano.
            let (gl, gr) = pan_gains(((f32::from(m) - 60.0) / 6.0 * 0.25).clamp(-0.4, 0.4));
            let note = ep_note(f32::from(m), len * BEAT, vel, sr);
            let start = frames(beat * BEAT, SR_KEYS);
            mix_into(&mut l, start, &note, gl);
            mix_into(&mut r, start, &note, gr);
        }
    }
    // The suitcase-piano stereo tremolo: a slow 4 Hz auto-pan, +-12 %.
    for (i, (a, b)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
        let trem = 0.12 * (TAU * 4.0 * i as f32 / sr).sin();
        *a *= 1.0 - trem;
        *b *= 1.0 + trem;
    }
    (l, r)
}

// ---------------------------------------------------------------------------------------------
// Lead and voice: monophonic lines that glide between notes

/// Finds the note sounding (or about to sound) at beat `b`: (index, seconds into the note).
fn line_pos(starts: &[f32], idx: &mut usize, b: f32) -> f32 {
    while *idx + 1 < starts.len() && b >= starts[*idx + 1] {
        *idx += 1;
    }
    (b - starts[*idx]) * BEAT
}

/// Two saws detuned by +-6 cents through a resonant low-pass with a per-note filter envelope,
/// a 40 ms glide and a 5.5 Hz vibrato that fades in once a note is held.
fn lead() -> Vec<f32> {
    let sr = SR as f32;
    let starts: Vec<f32> = LEAD.iter().map(|n| n.0).collect();
    let (mut idx, mut pitch, mut amp) = (0, f32::from(LEAD[0].2), 0.0f32);
    let (mut p1, mut p2, mut svf) = (0.0f32, 0.0f32, Svf::default());
    (0..frames(SONG_S, SR))
        .map(|i| {
            let t = i as f32 / sr;
            let tn = line_pos(&starts, &mut idx, t / BEAT);
            let (_, len, midi) = LEAD[idx];
            // Gate for 92 % of the note: the small gaps articulate the phrase.
            let gate = tn >= 0.0 && tn < 0.92 * len * BEAT;
            amp += ((if gate { 1.0 } else { 0.0 }) - amp)
                * smooth(if gate { 0.005 } else { 0.06 }, sr);
            if amp == 0.0 {
                return 0.0; // exact digital silence before the lead enters
            }
            pitch += (f32::from(midi) - pitch) * smooth(0.04, sr);
            let vib = 0.25 * ((tn - 0.15) / 0.3).clamp(0.0, 1.0) * (TAU * 5.5 * t).sin();
            let f = hz(pitch + vib);
            let (d1, d2) = (f * 1.0035 / sr, f * 0.9965 / sr);
            p1 = (p1 + d1).fract();
            p2 = (p2 + d2).fract();
            let osc = 0.5 * (saw(p1, d1) + saw(p2, d2));
            let fc = 2.0 * f + 2500.0 * (-tn.max(0.0) / 0.25).exp();
            svf.run(osc, fc, 1.2, sr).low * amp
        })
        .collect()
}

/// Rosenberg's glottal flow pulse: the vocal folds open smoothly over 40 % of the period, close
/// faster over 16 %, then stay shut. Its derivative is a buzzy source with a natural tilt.
fn glottal_flow(phase: f32) -> f32 {
    const OPEN: f32 = 0.4;
    const CLOSE: f32 = 0.16;
    if phase < OPEN {
        0.5 * (1.0 - (PI * phase / OPEN).cos())
    } else if phase < OPEN + CLOSE {
        (0.5 * PI * (phase - OPEN) / CLOSE).cos()
    } else {
        0.0
    }
}

/// A voice: glottal pulses with vibrato and slow pitch drift, plus breath noise, through three
/// parallel formant band-passes that glide between vowels. Each syllable starts with a dip and
/// a puff of aspiration (a soft consonant); each phrase is preceded by an audible inhale.
fn vox() -> Vec<f32> {
    let sr = SR as f32;
    let starts: Vec<f32> = VOX.iter().map(|n| n.0).collect();
    // A phrase starts where the previous note does not run into this one.
    let phrase_starts: Vec<f32> = (0..VOX.len())
        .filter(|&i| i == 0 || VOX[i - 1].0 + VOX[i - 1].1 < VOX[i].0)
        .map(|i| VOX[i].0 * BEAT)
        .collect();
    let mut rng = Rng(0x7015_0104);
    let (mut idx, mut pitch, mut amp, mut drift) = (0, f32::from(VOX[0].2), 0.0f32, 0.0f32);
    let (mut phase, mut prev_flow) = (0.0f32, 0.0f32);
    let mut formants = VOWELS[VOX[0].3];
    let mut tract = [Svf::default(), Svf::default(), Svf::default()];
    let (mut inhale_f, mut air_f) = (Svf::default(), Svf::default());
    (0..frames(SONG_S, SR))
        .map(|i| {
            let t = i as f32 / sr;
            let tn = line_pos(&starts, &mut idx, t / BEAT);
            let (_, len, midi, vowel) = VOX[idx];
            let gate = tn >= 0.0 && tn < len * BEAT;
            amp +=
                ((if gate { 1.0 } else { 0.0 }) - amp) * smooth(if gate { 0.04 } else { 0.09 }, sr);
            pitch += (f32::from(midi) - pitch) * smooth(0.05, sr);
            drift += (rng.noise() - drift) * smooth(0.08, sr);
            let vib = 0.35 * ((tn - 0.25) / 0.4).clamp(0.0, 1.0) * (TAU * 5.2 * t).sin();
            let f0 = hz(pitch + vib + 0.6 * drift);
            phase = (phase + f0 / sr).fract();
            let flow = glottal_flow(phase);
            // Scaling the derivative by the period keeps the level independent of pitch.
            let source = (flow - prev_flow) * sr / f0;
            prev_flow = flow;
            let onset = (-tn.max(0.0) / 0.05).exp();
            let breath = (0.04 + 0.3 * onset) * rng.noise();
            let excitation = amp * (1.0 - 0.4 * onset) * (0.3 * source + breath);
            for (cur, target) in formants.iter_mut().zip(VOWELS[vowel]) {
                *cur += (target - *cur) * smooth(0.06, sr);
            }
            // Parallel formants with alternating signs (as in Klatt's synthesiser) so that
            // neighbouring resonances do not cancel in between.
            let mut y = 0.0;
            for (k, (filt, (&f, &bw))) in tract
                .iter_mut()
                .zip(formants.iter().zip(&FORMANT_BW))
                .enumerate()
            {
                let gain = [1.0, -0.7, 0.35][k];
                y += gain * filt.run(excitation, f, f / bw, sr).band;
            }
            // A little unfiltered air, and an inhale in the 300 ms before each phrase.
            let air = 0.015 * amp * air_f.run(rng.noise(), 5000.0, 0.7, sr).high;
            let inhale = phrase_starts
                .iter()
                .map(|&s| ((t - (s - 0.32)) / 0.27).clamp(0.0, 1.0))
                .filter(|&x| x > 0.0 && x < 1.0)
                .map(|x| 0.05 * (PI * x).sin())
                .sum::<f32>();
            y + air + inhale * inhale_f.run(rng.noise(), 1800.0, 0.8, sr).band
        })
        .collect()
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/demo/stems".to_string());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create output directory");

    // Peak levels of a well-recorded multitrack: loud transients near -1.5 dBFS, tonal parts
    // with more headroom; nothing is normalised to 0 dBFS.
    let (mut dl, mut dr) = drums();
    set_peak(&mut [&mut dl, &mut dr], -1.5);
    write_wav(&dir.join("drums.wav"), &[&dl, &dr], SR, 16);

    let mut b = bass();
    set_peak(&mut [&mut b], -4.0);
    write_wav(&dir.join("bass.wav"), &[&b], SR, 24);

    let (mut kl, mut kr) = keys();
    set_peak(&mut [&mut kl, &mut kr], -5.0);
    write_wav(&dir.join("keys.wav"), &[&kl, &kr], SR_KEYS, 16);

    let mut ld = lead();
    set_peak(&mut [&mut ld], -5.0);
    write_wav(&dir.join("lead.wav"), &[&ld], SR, 16);

    // -3 dBFS leaves room for the Vorbis encoder's small overshoots.
    let mut v = vox();
    set_peak(&mut [&mut v], -3.0);
    write_wav(&dir.join("vox.wav"), &[&v], SR, 24);
}
