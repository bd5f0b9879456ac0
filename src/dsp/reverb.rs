//! Algorithmic reverb (`reverb` with `model = "room" | "hall" | "plate"`): predelay, early
//! reflections, input diffusion and a 16-line feedback delay network (FDN).
//!
//! Late reverb follows Jot & Chaigne, "Digital delay networks for designing artificial
//! reverberators" (AES 90th Convention, 1991): mutually prime delay lines fed back through a
//! lossless (orthogonal) matrix, here the 16 x 16 Hadamard matrix scaled by 1/4 and applied as a
//! fast Walsh-Hadamard transform, so every line feeds every other at equal strength and echo
//! density builds quickly (Schlecht & Habets, "Feedback delay networks: echo density and mixing
//! time", IEEE/ACM TASLP 2017). Each line `i` of `d_i` samples carries an absorption filter
//! whose gain at DC is `g_i = 10^(-3 d_i / (T60 fs))`: every line then loses the same 60 dB per
//! `T60` seconds, so (at `damping = 0`) all modes of the network decay at the same rate and the
//! RT60 is `decay_s` exactly. The filter is a first-order high shelf (bilinear transform of
//! `(g_hf s + g_dc wc) / (s + wc)`) whose Nyquist gain sets a shorter high-frequency decay time
//! `T60_hf = T60 (1 - 0.8 damping)`, Jot's "absorbent filter" with exact DC and Nyquist decay
//! times; at `damping = 0` the shelf collapses to the plain gain `g_i`.
//!
//! In front of the network, Schroeder allpasses (Schroeder, "Natural sounding artificial
//! reverberation", JAES 1962; lengths and gains after Dattorro, "Effect design part 1", JAES
//! 1997) smear each input into a dense burst, and a tapped delay line adds early reflections.
//! The three models differ in line lengths, diffusion and reflections: `Room` is short and dense
//! with strong early reflections, `Hall` has long lines and sparse, late reflections, `Plate`
//! has no discrete reflections, heavy diffusion, short lines and a diffused onset sent straight
//! to the output (fast build-up), and damps mainly above 8 kHz (bright).
//!
//! Stereo: the left and right inputs enter the network through orthogonal sign patterns and
//! leave through two other orthogonal patterns, which makes the two outputs uncorrelated; a
//! mid/side stage then sets the width (0 mono, 1 as the network makes it, 2 side doubled), with
//! the overall power kept constant. Level: the energy of the response to a unit impulse,
//! `sum h^2`, is about the number `decay_s` (early reflections included, within 1 dB), so white
//! noise comes out at 0 dB for a 1 s decay and +6 dB for 4 s, as in a real room whose
//! reverberant level grows with its decay time.
//!
//! The state is `f64`; every value written back into a recursive path is flushed to zero below
//! 1e-30, so the decay ends in exact zeros rather than denormals.
//!
//! Automation: `decay_s` and `damping` recompute every line's shelf (and the late level) at each
//! update, and the shelves' coefficients move there in a straight line over the update's
//! frames; the pole stays where it is (it depends only on the corner), so every intermediate
//! shelf is stable and the tail bends to its new decay rate without a step. `width` moves per
//! sample. `predelay_ms` is read at a fractional delay (third-order Lagrange interpolation,
//! Laakso et al., "Splitting the unit delay", IEEE Signal Processing Magazine 13(1), 1996)
//! that glides to each new value through a one-pole smoother ([`PREDELAY_GLIDE_S`]) no faster
//! than [`PREDELAY_SLEW`] frames per frame: the read position never jumps, so a moved predelay
//! bends the pitch of what enters the reverb by a few semitones for a moment instead of
//! clicking. Once the glide is within a thousandth of a frame of the target it
//! lands on the target's whole frame and reads the taps directly again. The input lines are
//! sized at build time for the largest predelay the envelope reaches.

use super::config::ReverbModel;
use super::envelope::{ParamId, ParamKey, Ramp};
pub use super::predelay::{PREDELAY_GLIDE_S, PREDELAY_SLEW};
use super::predelay::{PredelayGlide, Taps};
use super::{ProcessSpec, Processor, flush};

/// Number of delay lines in the network (a power of two for the fast Hadamard transform).
const LINES: usize = 16;

/// Design of one model. Times in ms, frequencies in Hz.
struct Model {
    /// Shortest and longest FDN line; the others are spread geometrically in between.
    lines_ms: (f64, f64),
    /// Input allpasses, `(length ms, gain)`, in series.
    diffusers: &'static [(f64, f64)],
    /// Early reflections per output channel: count, first and last time (ms), total energy.
    reflections: (usize, f64, f64, f64),
    /// Energy of the diffused input sent straight to the output: the immediate, dense onset of
    /// a plate, which has no discrete reflections to bridge the network's first trip.
    onset: f64,
    /// Corner of the damping shelf: the decay time falls towards `T60_hf` above it.
    damping_hz: f64,
}

impl Model {
    fn of(model: ReverbModel) -> Model {
        match model {
            // A small room: mean free path of a few metres, reflections dense from 2 ms on.
            ReverbModel::Room => Model {
                lines_ms: (7.0, 29.0),
                diffusers: &[(1.3, 0.7), (2.9, 0.7), (4.3, 0.6)],
                reflections: (14, 2.0, 32.0, 0.4),
                onset: 0.0,
                damping_hz: 5000.0,
            },
            // A concert hall: 20 m between walls, the first side reflections after ~10 ms.
            ReverbModel::Hall => Model {
                lines_ms: (29.0, 97.0),
                diffusers: &[(4.77, 0.75), (3.6, 0.75), (12.7, 0.625), (9.3, 0.625)],
                reflections: (10, 9.0, 78.0, 0.2),
                onset: 0.0,
                damping_hz: 4000.0,
            },
            // A steel plate: no discrete reflections, diffuse almost at once.
            ReverbModel::Plate => Model {
                lines_ms: (11.0, 41.0),
                diffusers: &[
                    (1.1, 0.75),
                    (1.7, 0.75),
                    (2.9, 0.7),
                    (4.8, 0.7),
                    (7.1, 0.65),
                    (10.3, 0.6),
                ],
                reflections: (0, 0.0, 0.0, 0.0),
                onset: 0.2,
                damping_hz: 8000.0,
            },
        }
    }
}

/// Sign of entry `(row, col)` of the Sylvester-Hadamard matrix.
#[inline]
fn hadamard_sign(row: usize, col: usize) -> f64 {
    if (row & col).count_ones().is_multiple_of(2) {
        1.0
    } else {
        -1.0
    }
}

/// In-place fast Walsh-Hadamard transform of 16 values, scaled by 1/4 (orthonormal).
#[inline]
fn hadamard16(v: &mut [f64; LINES]) {
    let mut h = 1;
    while h < LINES {
        for i in (0..LINES).step_by(2 * h) {
            for j in i..i + h {
                let (a, b) = (v[j], v[j + h]);
                v[j] = a + b;
                v[j + h] = a - b;
            }
        }
        h *= 2;
    }
    for x in v.iter_mut() {
        *x *= 0.25;
    }
}

/// Smallest prime at or above `n` that is not in `used` (so line lengths are mutually prime).
fn prime_at_least(n: usize, used: &[usize]) -> usize {
    let is_prime = |k: usize| {
        k >= 2
            && (2..)
                .take_while(|d| d * d <= k)
                .all(|d| !k.is_multiple_of(d))
    };
    let mut k = n.max(2);
    while !is_prime(k) || used.contains(&k) {
        k += 1;
    }
    k
}

/// A delay line of exactly `len` samples (read the oldest, then overwrite it).
#[derive(Clone, Default)]
struct Line {
    buf: Vec<f64>,
    pos: usize,
}

impl Line {
    fn new(len: usize) -> Line {
        Line {
            buf: vec![0.0; len.max(1)],
            pos: 0,
        }
    }

    #[inline]
    fn read(&self) -> f64 {
        self.buf[self.pos]
    }

    #[inline]
    fn write(&mut self, x: f64) {
        self.buf[self.pos] = x;
        self.pos += 1;
        if self.pos == self.buf.len() {
            self.pos = 0;
        }
    }

    fn clear(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}

/// Schroeder allpass `(-g + z^-D) / (1 - g z^-D)`.
#[derive(Clone, Default)]
struct Allpass {
    line: Line,
    g: f64,
}

impl Allpass {
    #[inline]
    fn process(&mut self, x: f64) -> f64 {
        let delayed = self.line.read();
        let w = x + self.g * delayed;
        self.line.write(flush(w));
        delayed - self.g * w
    }
}

/// First-order shelf with DC gain `g_dc` and Nyquist gain `g_hf` (transposed direct form II).
#[derive(Clone, Copy, Default)]
struct Shelf {
    b0: f64,
    b1: f64,
    a1: f64,
    z1: f64,
}

impl Shelf {
    /// Bilinear transform of `H(s) = (g_hf s + g_dc wc) / (s + wc)` with the corner prewarped
    /// (`k = tan(pi fc / fs)`): exact gains at DC and Nyquist.
    fn new(g_dc: f64, g_hf: f64, k: f64) -> Shelf {
        Shelf {
            b0: (g_hf + g_dc * k) / (1.0 + k),
            b1: (g_dc * k - g_hf) / (1.0 + k),
            a1: (k - 1.0) / (1.0 + k),
            z1: 0.0,
        }
    }

    #[inline]
    fn process(&mut self, x: f64) -> f64 {
        let y = self.b0 * x + self.z1;
        self.z1 = flush(self.b1 * x - self.a1 * y);
        y
    }
}

/// One early reflection: delay after the predelay (frames), gain, and which input it reflects.
#[derive(Clone, Copy)]
struct Reflection {
    delay: usize,
    gain: f64,
    from_right: bool,
}

/// Algorithmic stereo reverb: a 16-line feedback delay network with input diffusion, early
/// reflections, predelay, width and a dry/wet mix. Zero latency.
pub struct Reverb {
    model: ReverbModel,
    decay_s: f64,
    damping: f64,
    width: f64,
    predelay_ms: f64,
    mix: f64,
    /// `mix` under automation (then the network runs even while the mix is 0).
    mix_ramp: Option<Ramp>,
    /// `width` under automation, per sample.
    width_ramp: Option<Ramp>,
    /// The latest `decay_s` and `damping` asked for: the shelves move to them over the next
    /// block.
    decay_to: f64,
    damping_to: f64,
    /// The largest decay and predelay an envelope reaches (the tail and the input lines are
    /// sized for them).
    decay_max_s: f64,
    predelay_max_ms: f64,
    // Derived in `prepare`.
    sample_rate: f64,
    predelay: usize,
    /// Where the predelay is headed, frames, and where its glide is now (equal to `predelay`
    /// when at rest).
    glide: PredelayGlide,
    /// The longest predelay the input lines hold, frames.
    predelay_cap: usize,
    /// Corner of the damping shelves as `tan(pi fc / fs)`.
    shelf_k: f64,
    /// Per-frame steps of the shelves' `b0`, `b1` and of the output patterns while the decay
    /// or damping moves.
    shelf_step: [(f64, f64); LINES],
    out_step: [(f64, f64); LINES],
    inputs: [Taps; 2],
    reflections: [Vec<Reflection>; 2],
    diffusers: [Vec<Allpass>; 2],
    lines: Vec<Line>,
    shelves: [Shelf; LINES],
    /// Input and output sign patterns (rows of the Hadamard matrix) times their scale.
    in_l: [f64; LINES],
    in_r: [f64; LINES],
    out_l: [f64; LINES],
    out_r: [f64; LINES],
    /// Longest FDN line, frames.
    longest: usize,
    /// Early reflections and diffusion reach, frames after the predelay.
    early: usize,
    /// Gain of the diffused input in the output (see `Model::onset`).
    onset: f64,
}

impl Reverb {
    /// `decay_s`: broadband RT60 in seconds (0.1..20); `damping` 0..1: 0 decays every
    /// frequency alike, 1 makes the top octaves decay 5 times faster; `width` 0..2 (0 mono,
    /// 1 natural, 2 exaggerated); `predelay_ms` 0..500 before the first reflection; `mix` 0..1
    /// wet share (1 for a bus reverb). Out-of-range values are clamped, never a panic.
    pub fn new(
        model: ReverbModel,
        decay_s: f64,
        damping: f64,
        width: f64,
        predelay_ms: f64,
        mix: f64,
    ) -> Self {
        let z = Shelf::default();
        Reverb {
            model,
            decay_s: decay_s.clamp(0.05, 60.0),
            damping: damping.clamp(0.0, 1.0),
            width: width.clamp(0.0, 2.0),
            predelay_ms: predelay_ms.clamp(0.0, 2000.0),
            mix: mix.clamp(0.0, 1.0),
            mix_ramp: None,
            width_ramp: None,
            decay_to: decay_s.clamp(0.05, 60.0),
            damping_to: damping.clamp(0.0, 1.0),
            decay_max_s: decay_s.clamp(0.05, 60.0),
            predelay_max_ms: predelay_ms.clamp(0.0, 2000.0),
            sample_rate: 0.0,
            predelay: 0,
            glide: PredelayGlide::default(),
            predelay_cap: 0,
            shelf_k: 0.0,
            shelf_step: [(0.0, 0.0); LINES],
            out_step: [(0.0, 0.0); LINES],
            inputs: [Taps::default(), Taps::default()],
            reflections: [Vec::new(), Vec::new()],
            diffusers: [Vec::new(), Vec::new()],
            lines: Vec::new(),
            shelves: [z; LINES],
            in_l: [0.0; LINES],
            in_r: [0.0; LINES],
            out_l: [0.0; LINES],
            out_r: [0.0; LINES],
            longest: 0,
            early: 0,
            onset: 0.0,
        }
    }

    /// Run one stereo frame through the reverb; returns the wet pair before width. `MOVING`:
    /// the shelves and output patterns take one step of their ramps first and the predelay is
    /// read at its glide's fractional position (otherwise exactly the fixed reverb).
    #[inline]
    fn tick<const MOVING: bool>(&mut self, xl: f64, xr: f64) -> (f64, f64) {
        if MOVING {
            for ((sh, &(db0, db1)), ((ol, or), &(dl, dr))) in
                self.shelves.iter_mut().zip(&self.shelf_step).zip(
                    self.out_l
                        .iter_mut()
                        .zip(self.out_r.iter_mut())
                        .zip(&self.out_step),
                )
            {
                sh.b0 += db0;
                sh.b1 += db1;
                *ol += dl;
                *or += dr;
            }
            self.glide.step();
        }
        let [tl, tr] = &mut self.inputs;
        tl.push(xl);
        tr.push(xr);
        let (tl, tr) = (&*tl, &*tr);
        let pre = self.predelay;
        let pre_at = self.glide.at();

        // Early reflections, each read from its own side's input (or the other one).
        let mut er = [0.0f64; 2];
        for (e, taps) in er.iter_mut().zip(&self.reflections) {
            for r in taps {
                let src = if r.from_right { tr } else { tl };
                *e += r.gain
                    * if MOVING {
                        src.at_frac(pre_at + r.delay as f64)
                    } else {
                        src.at(pre + r.delay)
                    };
            }
        }

        // Diffused input to the network.
        let mut d = if MOVING {
            [tl.at_frac(pre_at), tr.at_frac(pre_at)]
        } else {
            [tl.at(pre), tr.at(pre)]
        };
        for (x, chain) in d.iter_mut().zip(&mut self.diffusers) {
            for ap in chain.iter_mut() {
                *x = ap.process(*x);
            }
        }

        // Feedback delay network: read, tap the outputs, absorb, mix, write back with input.
        let mut s = [0.0f64; LINES];
        for (v, line) in s.iter_mut().zip(&self.lines) {
            *v = line.read();
        }
        let (mut ol, mut or) = (0.0, 0.0);
        for (((v, sh), cl), cr) in s
            .iter_mut()
            .zip(&mut self.shelves)
            .zip(&self.out_l)
            .zip(&self.out_r)
        {
            ol += cl * *v;
            or += cr * *v;
            *v = sh.process(*v);
        }
        hadamard16(&mut s);
        for (i, line) in self.lines.iter_mut().enumerate() {
            line.write(flush(s[i] + self.in_l[i] * d[0] + self.in_r[i] * d[1]));
        }
        (
            er[0] + ol + self.onset * d[0],
            er[1] + or + self.onset * d[1],
        )
    }

    /// The damping shelves for a decay of `decay_s` and a `damping`, and the late level that
    /// goes with them (see `prepare`).
    fn absorption(&self, decay_s: f64, damping: f64) -> ([Shelf; LINES], f64) {
        // Absorption: 60 dB per decay_s at DC, per T60_hf at Nyquist (Jot & Chaigne 1991).
        let fs = self.sample_rate;
        let t_hf = decay_s * (1.0 - 0.8 * damping);
        let k = self.shelf_k;
        let mut shelves = [Shelf::default(); LINES];
        let mut trips = 0.0;
        for (sh, line) in shelves.iter_mut().zip(&self.lines) {
            let l = line.buf.len();
            let g_dc = 10f64.powf(-3.0 * l as f64 / (decay_s * fs));
            let g_hf = 10f64.powf(-3.0 * l as f64 / (t_hf * fs));
            *sh = Shelf::new(g_dc, g_hf, k);
            trips += 1.0 / (1.0 - g_dc * g_dc);
        }
        // Orthogonal input and output patterns: rows of the Hadamard matrix, scaled so a unit
        // impulse puts unit energy into the network and the outputs sum the lines at unit power.
        // The late level is then set so the energy of the response is about `decay_s` (seconds
        // of unit power). Each line passes on its energy times g_i^2 per trip and the matrix
        // shares it out evenly, so a unit impulse gives about
        // (1/N^2) sum_i 1 / (1 - g_i^2) at the outputs before this gain; for long decays that
        // is T60 fs / (6 ln 10 N^2) sum_i 1/d_i, and for short ones the first trips dominate.
        let late = (decay_s * (LINES * LINES) as f64 / trips).sqrt();
        (shelves, late)
    }

    /// Aim the shelves and output patterns at `decay_to` and `damping_to`, reached in
    /// straight lines at the `n`-th frame; the filters' states carry over.
    fn retarget(&mut self, n: usize) {
        let (to, late) = self.absorption(self.decay_to, self.damping_to);
        let inv = 1.0 / n as f64;
        for (i, (t, sh)) in to.iter().zip(&self.shelves).enumerate() {
            self.shelf_step[i] = ((t.b0 - sh.b0) * inv, (t.b1 - sh.b1) * inv);
            let (l, r) = (
                0.25 * late * hadamard_sign(5, i),
                0.25 * late * hadamard_sign(10, i),
            );
            self.out_step[i] = ((l - self.out_l[i]) * inv, (r - self.out_r[i]) * inv);
        }
    }

    /// A block while the decay, damping, predelay or width moves: `mix` is `(start, step)` as
    /// from [`Ramp::begin`].
    fn process_moving(&mut self, block: &mut [&mut [f32]], (start, step): (f64, f64)) {
        let n = block.first().map_or(0, |c| c.len());
        if n == 0 {
            return;
        }
        if self.decay_to != self.decay_s || self.damping_to != self.damping {
            self.retarget(n);
        }
        let (w0, dw) = match &mut self.width_ramp {
            Some(r) => r.begin(n),
            None => (self.width, 0.0),
        };
        let at = |i: usize| {
            let k = (i + 1) as f64;
            let (wet, w) = (start + step * k, w0 + dw * k);
            (wet, 1.0 - wet, w, (2.0 / (1.0 + w * w)).sqrt())
        };
        match block {
            [l, r, ..] => {
                for (i, (xl, xr)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
                    let (wet, dry, w, norm) = at(i);
                    let (vl, vr) = (f64::from(*xl), f64::from(*xr));
                    let (a, b) = self.tick::<true>(vl, vr);
                    let mid = 0.5 * (a + b);
                    let side = 0.5 * (a - b) * w;
                    *xl = flush(dry * vl + wet * norm * (mid + side)) as f32;
                    *xr = flush(dry * vr + wet * norm * (mid - side)) as f32;
                }
            }
            [m] => {
                for (i, x) in m.iter_mut().enumerate() {
                    let (wet, dry, _, norm) = at(i);
                    let v = f64::from(*x);
                    let (a, b) = self.tick::<true>(v, v);
                    *x = flush(dry * v + wet * norm * 0.5 * (a + b)) as f32;
                }
            }
            [] => {}
        }
        if let Some(r) = &self.width_ramp {
            self.width = r.target();
        }
        self.settle();
    }

    /// After a moving block: land exactly on the targets (no rounding drift from the steps)
    /// and end the predelay's glide once it is within 1e-3 frames.
    fn settle(&mut self) {
        if self.decay_to != self.decay_s || self.damping_to != self.damping {
            let (to, late) = self.absorption(self.decay_to, self.damping_to);
            for (i, (sh, t)) in self.shelves.iter_mut().zip(&to).enumerate() {
                (sh.b0, sh.b1) = (t.b0, t.b1);
                self.out_l[i] = 0.25 * late * hadamard_sign(5, i);
                self.out_r[i] = 0.25 * late * hadamard_sign(10, i);
            }
            self.shelf_step = [(0.0, 0.0); LINES];
            self.out_step = [(0.0, 0.0); LINES];
            self.decay_s = self.decay_to;
            self.damping = self.damping_to;
        }
        if let Some(to) = self.glide.land() {
            self.predelay = to;
        }
    }
}

impl Processor for Reverb {
    fn name(&self) -> &'static str {
        "reverb"
    }

    fn prepare(&mut self, spec: &ProcessSpec) {
        let fs = spec.sample_rate;
        let m = Model::of(self.model);
        let frames = |ms: f64| ((ms * 1e-3 * fs).round() as usize).max(1);
        self.sample_rate = fs;
        self.onset = m.onset.sqrt();
        self.predelay = (self.predelay_ms * 1e-3 * fs).round() as usize;
        self.glide = PredelayGlide::new(self.predelay, fs);
        self.decay_to = self.decay_s;
        self.damping_to = self.damping;

        // Mutually prime line lengths, geometrically spread.
        let (lo, hi) = m.lines_ms;
        let mut lens: Vec<usize> = Vec::with_capacity(LINES);
        for i in 0..LINES {
            let ms = lo * (hi / lo).powf(i as f64 / (LINES - 1) as f64);
            let len = prime_at_least(frames(ms), &lens);
            lens.push(len);
        }
        self.longest = lens.iter().copied().max().unwrap_or(1);
        self.lines = lens.iter().map(|&l| Line::new(l)).collect();

        self.shelf_k = (std::f64::consts::PI * m.damping_hz.min(0.45 * fs) / fs).tan();
        let (shelves, late) = self.absorption(self.decay_s, self.damping);
        self.shelves = shelves;
        for i in 0..LINES {
            self.in_l[i] = 0.25 * hadamard_sign(1, i);
            self.in_r[i] = 0.25 * hadamard_sign(2, i);
            self.out_l[i] = 0.25 * late * hadamard_sign(5, i);
            self.out_r[i] = 0.25 * late * hadamard_sign(10, i);
        }

        // Input diffusion; the right channel's allpasses are ~11 % longer so the two smear
        // differently.
        let mut used = lens.clone();
        for (c, chain) in self.diffusers.iter_mut().enumerate() {
            chain.clear();
            for &(ms, g) in m.diffusers {
                let len = prime_at_least(frames(ms * if c == 0 { 1.0 } else { 1.11 }), &used);
                used.push(len);
                chain.push(Allpass {
                    line: Line::new(len),
                    g,
                });
            }
        }
        let diffusion: usize = self.diffusers[1].iter().map(|a| a.line.buf.len()).sum();

        // Early reflections: jittered times between the first and last reflection, gains
        // falling 10 dB across the span with random signs, normalised to the model's energy;
        // every third tap comes from the opposite side's input. A fixed seed per side keeps
        // renders reproducible.
        let (count, first, last, energy) = m.reflections;
        let mut reach = 0;
        for (c, taps) in self.reflections.iter_mut().enumerate() {
            taps.clear();
            let mut seed: u64 =
                0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
            let mut rnd = || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 11) as f64 / (1u64 << 53) as f64
            };
            for j in 0..count {
                let u = (j as f64 + rnd()) / count as f64;
                let ms = first + (last - first) * u;
                let sign = if rnd() < 0.5 { -1.0 } else { 1.0 };
                taps.push(Reflection {
                    delay: frames(ms),
                    gain: sign * 10f64.powf(-0.5 * u),
                    from_right: (j % 3 == 2) == (c == 0),
                });
            }
            let e: f64 = taps.iter().map(|r| r.gain * r.gain).sum();
            let scale = if e > 0.0 { (energy / e).sqrt() } else { 0.0 };
            for r in taps.iter_mut() {
                r.gain *= scale;
                reach = reach.max(r.delay);
            }
        }
        self.early = reach.max(diffusion);
        // The largest predelay an envelope reaches, and two frames for the interpolator.
        let deepest = (self.predelay_max_ms * 1e-3 * fs).round() as usize + 2;
        let span = self.predelay.max(deepest) + reach;
        self.predelay_cap = self.predelay.max(deepest - 2);
        self.inputs = [Taps::new(span), Taps::new(span)];
        self.reset();
    }

    fn reset(&mut self) {
        for t in &mut self.inputs {
            t.clear();
        }
        for chain in &mut self.diffusers {
            for ap in chain.iter_mut() {
                ap.line.clear();
            }
        }
        for l in &mut self.lines {
            l.clear();
        }
        for s in &mut self.shelves {
            s.z1 = 0.0;
        }
    }

    fn process(&mut self, block: &mut [&mut [f32]]) {
        // Under automation: the mix from the last value to the new one, per sample.
        let n = block.first().map_or(0, |c| c.len());
        let ramp = self.mix_ramp.as_mut().map(|r| r.begin(n));
        if let Some(r) = &self.mix_ramp {
            self.mix = r.target();
        }
        if ramp.is_none() && self.mix == 0.0 {
            return;
        }
        let (start, step) = ramp.unwrap_or((self.mix, 0.0));
        let moving = self.decay_to != self.decay_s
            || self.damping_to != self.damping
            || self.glide.moving()
            || self.width_ramp.is_some_and(|r| r.moving());
        if moving {
            self.process_moving(block, (start, step));
            return;
        }
        let mix_at = |i: usize| {
            let wet = start + step * (i + 1) as f64;
            (wet, 1.0 - wet)
        };
        // Width by mid/side, keeping the power of two uncorrelated outputs constant:
        // L = norm (M + w S), R = norm (M - w S) with norm = sqrt(2 / (1 + w^2)).
        let w = self.width;
        let norm = (2.0 / (1.0 + w * w)).sqrt();
        let (l, r) = match block {
            [l, r, ..] => (l, r),
            [m] => {
                // Mono block: feed both inputs, return the mid.
                for (i, x) in m.iter_mut().enumerate() {
                    let (wet, dry) = mix_at(i);
                    let v = f64::from(*x);
                    let (a, b) = self.tick::<false>(v, v);
                    let y = dry * v + wet * norm * 0.5 * (a + b);
                    *x = flush(y) as f32;
                }
                return;
            }
            [] => return,
        };
        for (i, (xl, xr)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
            let (wet, dry) = mix_at(i);
            let (vl, vr) = (f64::from(*xl), f64::from(*xr));
            let (a, b) = self.tick::<false>(vl, vr);
            let mid = 0.5 * (a + b);
            let side = 0.5 * (a - b) * w;
            *xl = flush(dry * vl + wet * norm * (mid + side)) as f32;
            *xr = flush(dry * vr + wet * norm * (mid - side)) as f32;
        }
    }

    /// `mix` and `width` move per sample; `decay_s` and `damping` move the shelves over the
    /// next block; `predelay_ms` glides (see the module documentation). Values given before
    /// `prepare` size the tail and the input lines for the largest decay and predelay.
    fn set_param(&mut self, param: ParamId, value: f64) -> bool {
        let before_prepare = self.sample_rate == 0.0;
        match param.key {
            ParamKey::Mix => self.mix_ramp.get_or_insert(Ramp::new(self.mix)).set(value),
            ParamKey::Width => self
                .width_ramp
                .get_or_insert(Ramp::new(self.width))
                .set(value.clamp(0.0, 2.0)),
            ParamKey::DecayS => {
                let v = value.clamp(0.05, 60.0);
                self.decay_max_s = self.decay_max_s.max(v);
                self.decay_to = v;
                if before_prepare {
                    self.decay_s = v;
                }
            }
            ParamKey::Damping => {
                let v = value.clamp(0.0, 1.0);
                self.damping_to = v;
                if before_prepare {
                    self.damping = v;
                }
            }
            ParamKey::PredelayMs => {
                let v = value.clamp(0.0, 2000.0);
                self.predelay_max_ms = self.predelay_max_ms.max(v);
                if before_prepare {
                    self.predelay_ms = v;
                } else {
                    let frames = (v * 1e-3 * self.sample_rate).round() as usize;
                    self.glide.set(frames.min(self.predelay_cap));
                }
            }
            _ => return false,
        }
        true
    }

    /// Frames until the decay is 90 dB down (1.5 x RT60), after the predelay, the early
    /// reflections and the network's first pass.
    fn tail(&self) -> usize {
        let decay = (1.5 * self.decay_s.max(self.decay_max_s) * self.sample_rate).ceil() as usize;
        decay + self.predelay.max(self.predelay_cap) + self.early + self.longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    const RATE: f64 = 48000.0;
    const MODELS: [ReverbModel; 3] = [ReverbModel::Room, ReverbModel::Hall, ReverbModel::Plate];

    /// Stereo impulse response (unit impulse into both inputs at frame 0), `seconds` long.
    fn impulse_response(r: &mut Reverb, rate: f64, seconds: f64) -> Vec<Vec<f32>> {
        r.prepare(&testkit::spec(rate));
        let mut x = vec![vec![0.0f32; (seconds * rate) as usize]; 2];
        x[0][0] = 1.0;
        x[1][0] = 1.0;
        testkit::run(r, &x, 4096)
    }

    /// Schroeder backward integration of the summed channel energy, in dB re the total.
    fn edc_db(chans: &[Vec<f64>]) -> Vec<f64> {
        let n = chans[0].len();
        let mut e = vec![0.0f64; n];
        let mut acc = 0.0;
        for i in (0..n).rev() {
            acc += chans.iter().map(|c| c[i] * c[i]).sum::<f64>();
            e[i] = acc;
        }
        let total = e[0];
        e.iter().map(|&v| 10.0 * (v / total).log10()).collect()
    }

    /// RT60 extrapolated from a least-squares line through the EDC between `hi` and `lo` dB
    /// (ISO 3382-1: T20 = -5..-25, T30 = -5..-35), with the worst deviation from that line (dB).
    fn rt60(edc: &[f64], rate: f64, hi: f64, lo: f64) -> (f64, f64) {
        let pts: Vec<(f64, f64)> = edc
            .iter()
            .enumerate()
            .filter(|&(_, &d)| d <= hi && d >= lo)
            .map(|(i, &d)| (i as f64 / rate, d))
            .collect();
        let n = pts.len() as f64;
        let (sx, sy) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
        let (mx, my) = (sx / n, sy / n);
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
        let slope = sxy / sxx;
        let dev = pts
            .iter()
            .map(|p| (p.1 - (my + slope * (p.0 - mx))).abs())
            .fold(0.0, f64::max);
        (-60.0 / slope, dev)
    }

    /// RBJ Audio EQ Cookbook biquad, Q = 1/sqrt(2), applied in f64.
    fn biquad(x: &[f64], rate: f64, f0: f64, highpass: bool) -> Vec<f64> {
        let w = 2.0 * std::f64::consts::PI * f0 / rate;
        let alpha = w.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w.cos();
        let (b0, b1, b2) = if highpass {
            ((1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0)
        } else {
            ((1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0)
        };
        let (a0, a1, a2) = (1.0 + alpha, -2.0 * c, 1.0 - alpha);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&v| {
                let y = (b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
                (x2, x1, y2, y1) = (x1, v, y1, y);
                y
            })
            .collect()
    }

    /// 500 Hz - 2 kHz band: two 2nd-order Butterworth high-passes, two low-passes.
    fn band(x: &[f64], rate: f64) -> Vec<f64> {
        let y = biquad(&biquad(x, rate, 500.0, true), rate, 500.0, true);
        biquad(&biquad(&y, rate, 2000.0, false), rate, 2000.0, false)
    }

    fn to_f64(ir: &[Vec<f32>]) -> Vec<Vec<f64>> {
        ir.iter()
            .map(|c| c.iter().map(|&v| f64::from(v)).collect())
            .collect()
    }

    /// Broadband (damping 0) and 500 Hz - 2 kHz (damping 0.5) RT60 of every model at 0.5, 1.8
    /// and 4 s, measured as T30 by Schroeder integration; within 20 % of `decay_s`, with a
    /// smooth (straight in dB) decay.
    #[test]
    fn rt60_matches_decay_time() {
        println!("model  decay | broadband T20  T30  dev | 0.5-2k (damp 0.5) T20  T30");
        for model in MODELS {
            for decay in [0.5, 1.8, 4.0] {
                let secs = 1.5 * decay + 0.3;
                let ir = to_f64(&impulse_response(
                    &mut Reverb::new(model, decay, 0.0, 1.0, 0.0, 1.0),
                    RATE,
                    secs,
                ));
                let edc = edc_db(&ir);
                let (t20, _) = rt60(&edc, RATE, -5.0, -25.0);
                let (t30, dev) = rt60(&edc, RATE, -5.0, -35.0);

                let ir = to_f64(&impulse_response(
                    &mut Reverb::new(model, decay, 0.5, 1.0, 0.0, 1.0),
                    RATE,
                    secs,
                ));
                let banded: Vec<Vec<f64>> = ir.iter().map(|c| band(c, RATE)).collect();
                let bedc = edc_db(&banded);
                let (b20, _) = rt60(&bedc, RATE, -5.0, -25.0);
                let (b30, _) = rt60(&bedc, RATE, -5.0, -35.0);
                println!(
                    "{model:?} {decay:4.1} s | {t20:5.2} {t30:5.2} {dev:4.2} dB | {b20:5.2} {b30:5.2}"
                );
                for (what, t) in [("broadband T30", t30), ("band T30", b30)] {
                    assert!(
                        (t / decay - 1.0).abs() <= 0.2,
                        "{model:?} {decay} s: {what} {t:.3} s"
                    );
                }
                assert!(
                    dev < 0.5,
                    "{model:?} {decay} s: EDC bends {dev:.2} dB off a line"
                );
            }
        }
    }

    /// Damping shortens the decay above the shelf corner: the 8 kHz octave decays faster.
    #[test]
    fn damping_shortens_high_frequencies() {
        for model in MODELS {
            let t = |damping: f64| {
                let ir = to_f64(&impulse_response(
                    &mut Reverb::new(model, 2.0, damping, 1.0, 0.0, 1.0),
                    RATE,
                    3.3,
                ));
                let hf: Vec<Vec<f64>> = ir
                    .iter()
                    .map(|c| biquad(&biquad(c, RATE, 8000.0, true), RATE, 8000.0, true))
                    .collect();
                rt60(&edc_db(&hf), RATE, -5.0, -25.0).0
            };
            let (t0, t1) = (t(0.0), t(1.0));
            println!("{model:?}: T20 above 8 kHz {t0:.2} s at damping 0, {t1:.2} s at damping 1");
            assert!((t0 / 2.0 - 1.0).abs() < 0.2, "{model:?}: {t0}");
            assert!(t1 < 0.6 * t0, "{model:?}: {t1} vs {t0}");
        }
    }

    /// At 96 kHz the lines scale with the rate and the decay time holds.
    #[test]
    fn rt60_holds_at_96k() {
        let ir = to_f64(&impulse_response(
            &mut Reverb::new(ReverbModel::Hall, 1.8, 0.0, 1.0, 0.0, 1.0),
            96000.0,
            3.0,
        ));
        let (t30, _) = rt60(&edc_db(&ir), 96000.0, -5.0, -35.0);
        println!("hall 1.8 s at 96 kHz: T30 {t30:.3} s");
        assert!((t30 / 1.8 - 1.0).abs() <= 0.2);
    }

    #[test]
    fn wet_starts_after_predelay() {
        for model in MODELS {
            for pre_ms in [0.0, 30.0, 250.0] {
                let mut r = Reverb::new(model, 1.0, 0.3, 1.0, pre_ms, 1.0);
                let ir = impulse_response(&mut r, RATE, 0.6);
                let pre = (pre_ms * 1e-3 * RATE) as usize;
                let first = ir
                    .iter()
                    .map(|c| c.iter().position(|&v| v != 0.0).unwrap())
                    .min()
                    .unwrap();
                println!("{model:?} predelay {pre} frames: first wet frame {first}");
                assert!(first >= pre, "{model:?}: {first} < {pre}");
                assert!(
                    first < pre + (0.05 * RATE) as usize,
                    "{model:?}: starts late"
                );
            }
        }
    }

    #[test]
    fn width_zero_is_mono_and_width_decorrelates() {
        let x = testkit::test_signal(RATE, 1.0, 0.5);
        let corr = |o: &[Vec<f32>]| {
            let (mut lr, mut ll, mut rr) = (0.0f64, 0.0f64, 0.0f64);
            for (&l, &r) in o[0].iter().zip(&o[1]) {
                let (l, r) = (f64::from(l), f64::from(r));
                lr += l * r;
                ll += l * l;
                rr += r * r;
            }
            lr / (ll * rr).sqrt()
        };
        for model in MODELS {
            let mut r = Reverb::new(model, 1.5, 0.4, 0.0, 10.0, 1.0);
            r.prepare(&testkit::spec(RATE));
            let o = testkit::run(&mut r, &x, 256);
            assert_eq!(o[0], o[1], "{model:?}: width 0 is not mono");
            // Correlation of the impulse response's two channels, one input: natural width is
            // close to uncorrelated, 2 is anti-correlated.
            let mut mono = vec![vec![0.0f32; 48_000]; 2];
            mono[0][0] = 1.0;
            mono[1][0] = 1.0;
            let mut rs = Vec::new();
            for w in [1.0, 2.0] {
                let mut r = Reverb::new(model, 1.5, 0.4, w, 0.0, 1.0);
                r.prepare(&testkit::spec(RATE));
                rs.push(corr(&testkit::run(&mut r, &mono, 4096)));
            }
            println!(
                "{model:?}: L/R correlation {:.2} at width 1, {:.2} at width 2",
                rs[0], rs[1]
            );
            assert!(rs[0].abs() < 0.3, "{model:?}");
            assert!(rs[1] < -0.3, "{model:?}");
        }
    }

    #[test]
    fn mix_zero_is_dry_exactly() {
        let x = testkit::test_signal(RATE, 0.5, 0.9);
        let mut r = Reverb::new(ReverbModel::Hall, 2.0, 0.5, 1.0, 20.0, 0.0);
        r.prepare(&testkit::spec(RATE));
        assert_eq!(r.latency(), 0);
        assert_eq!(testkit::run(&mut r, &x, 64), x);
    }

    /// The late energy of a unit impulse is about `decay_s` (0 dB noise gain at 1 s).
    #[test]
    fn level_grows_with_decay_time() {
        for model in MODELS {
            for decay in [0.5, 2.0] {
                let mut r = Reverb::new(model, decay, 0.0, 1.0, 0.0, 1.0);
                r.prepare(&testkit::spec(RATE));
                let mut x = vec![vec![0.0f32; ((1.5 * decay + 0.3) * RATE) as usize]; 2];
                x[0][0] = 1.0;
                let ir = testkit::run(&mut r, &x, 4096);
                // Mean energy of the two outputs for an impulse into the left input.
                let e: f64 = ir
                    .iter()
                    .flatten()
                    .map(|&v| f64::from(v).powi(2))
                    .sum::<f64>()
                    / 2.0;
                let db = 10.0 * (e / decay).log10();
                println!("{model:?} {decay} s: energy {e:.3} ({db:+.1} dB re decay_s)");
                assert!(db.abs() < 1.5, "{model:?} {decay}: {db}");
            }
        }
    }

    #[test]
    fn tail_covers_the_decay() {
        let mut r = Reverb::new(ReverbModel::Hall, 2.0, 0.0, 1.0, 100.0, 1.0);
        let ir = impulse_response(&mut r, RATE, 4.0);
        let tail = r.tail();
        assert!(tail >= (3.1 * RATE) as usize);
        let peak = ir[0].iter().fold(0.0f32, |a, &v| a.max(v.abs()));
        let late = ir[0][tail.min(ir[0].len() - 1)..]
            .iter()
            .fold(0.0f32, |a, &v| a.max(v.abs()));
        println!("tail {tail} frames; peak {peak:.3}, after the tail {late:e}");
        assert!(late < 10f32.powf(-80.0 / 20.0) * peak.max(1.0));
    }

    /// Echo density build-up (Abel & Huang, "A simple, robust measure of reverberation echo
    /// density", AES 121st Convention, 2006): the normalised echo density of the left impulse
    /// response over a 20 ms window, and the time it first reaches 0.9 (Gaussian-like). The plate
    /// builds up fastest, the hall slowest.
    #[test]
    fn echo_density_builds_up_by_model() {
        let half = (0.01 * RATE) as usize;
        let mut times = Vec::new();
        for model in MODELS {
            let ir = to_f64(&impulse_response(
                &mut Reverb::new(model, 2.0, 0.0, 1.0, 0.0, 1.0),
                RATE,
                0.4,
            ));
            let h = &ir[0];
            let ned = |c: usize| {
                let w = &h[c - half..c + half];
                let sd = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
                let outside = w.iter().filter(|v| v.abs() > sd).count() as f64 / w.len() as f64;
                outside / 0.3173
            };
            let step = (0.001 * RATE) as usize;
            let t = (half..h.len() - half)
                .step_by(step)
                .find(|&c| ned(c) >= 0.9)
                .map_or(f64::INFINITY, |c| c as f64 / RATE * 1e3);
            let ned_150 = ned((0.15 * RATE) as usize);
            println!("{model:?}: echo density 0.9 at {t:.0} ms; {ned_150:.2} at 150 ms");
            assert!(ned_150 > 0.85, "{model:?} is still sparse at 150 ms");
            times.push(t);
        }
        assert!(times[2] <= times[0] && times[0] <= times[1], "{times:?}");
    }

    /// Run `r` (prepared) over `x` in [`AUTO_BLOCK`]-frame pieces as the chain does, setting
    /// `param` before each piece to `value(frame of the piece's last sample)`.
    fn run_automated(
        r: &mut Reverb,
        x: &[Vec<f32>],
        param: ParamKey,
        value: &dyn Fn(usize) -> f64,
    ) -> Vec<Vec<f32>> {
        use crate::dsp::envelope::AUTO_BLOCK;
        let mut y = x.to_vec();
        let [l, rr] = &mut y[..] else { unreachable!() };
        let mut o = 0;
        for (pl, pr) in l.chunks_mut(AUTO_BLOCK).zip(rr.chunks_mut(AUTO_BLOCK)) {
            let n = pl.len();
            assert!(r.set_param(ParamId::new(param), value(o + n - 1)));
            r.process(&mut [pl, pr]);
            o += n;
        }
        y
    }

    /// A reverb built for an envelope: every value it reaches, then its first (as the chain
    /// does before `prepare`).
    fn built_for(mut r: Reverb, param: ParamKey, values: &[f64]) -> Reverb {
        for &v in values {
            assert!(r.set_param(ParamId::new(param), v));
        }
        assert!(r.set_param(ParamId::new(param), values[0]));
        r.prepare(&testkit::spec(RATE));
        r
    }

    /// Peak of the output above 4 kHz (two 2nd-order Butterworth high-passes), relative to the
    /// output's peak: a 100 Hz input through a linear reverb has nothing up there (the filters
    /// leave it at -130 dB), so whatever appears is the step of a click.
    fn hf_peak_ratio(y: &[Vec<f32>], from: usize) -> f64 {
        let mut worst: f64 = 0.0;
        for c in y {
            let c: Vec<f64> = c.iter().map(|&v| f64::from(v)).collect();
            let hf = biquad(&biquad(&c, RATE, 4000.0, true), RATE, 4000.0, true);
            let peak = c[from..].iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let hp = hf[from..].iter().fold(0.0f64, |a, v| a.max(v.abs()));
            worst = worst.max(hp / peak);
        }
        worst
    }

    /// After `decay_s` moves (in one update, a step envelope), the tail decays at the new
    /// rate: the Schroeder decay curve of what follows the move falls at 60 / RT60 dB/s of the
    /// new value (T30 within 10 %), up and down, for every model.
    #[test]
    fn automated_decay_bends_the_tail_to_the_new_rt60() {
        for model in MODELS {
            for (from, to) in [(1.0, 3.0), (3.0, 0.6)] {
                let mut r = built_for(
                    Reverb::new(model, from, 0.0, 1.0, 0.0, 1.0),
                    ParamKey::DecayS,
                    &[from, to],
                );
                let switch = (0.3 * RATE) as usize;
                let mut x = vec![vec![0.0f32; switch + ((1.5 * to + 0.3) * RATE) as usize]; 2];
                x[0][0] = 1.0;
                x[1][0] = 1.0;
                let y = run_automated(&mut r, &x, ParamKey::DecayS, &|i| {
                    if i < switch { from } else { to }
                });
                let after: Vec<Vec<f64>> = to_f64(&y)
                    .iter()
                    .map(|c| c[switch + (0.05 * RATE) as usize..].to_vec())
                    .collect();
                let (t30, dev) = rt60(&edc_db(&after), RATE, -5.0, -35.0);
                println!(
                    "{model:?} decay {from} -> {to} s: T30 after the move {t30:.3} s \
                     ({:.1} dB/s, want {:.1}), EDC {dev:.2} dB off a line",
                    -60.0 / t30,
                    -60.0 / to
                );
                assert!(
                    (t30 / to - 1.0).abs() < 0.1,
                    "{model:?} {from} -> {to}: {t30}"
                );
            }
        }
    }

    /// A decay, damping or width moved while a 100 Hz tone plays puts next to nothing above
    /// 4 kHz: the shelves, the level and the width move in straight lines over the update,
    /// where setting them at once clicks.
    #[test]
    fn automated_decay_and_damping_do_not_click() {
        let n = (0.6 * RATE) as usize;
        let tone: Vec<f32> = (0..n)
            .map(|i| (0.5 * (2.0 * std::f64::consts::PI * 100.0 * i as f64 / RATE).sin()) as f32)
            .collect();
        let x = vec![tone.clone(), tone];
        let switch = (0.4 * RATE) as usize;
        for (param, from, to) in [
            (ParamKey::DecayS, 2.0, 0.3),
            (ParamKey::Damping, 0.0, 1.0),
            (ParamKey::Width, 1.0, 0.0),
        ] {
            let mut r = built_for(
                Reverb::new(ReverbModel::Room, 2.0, 0.0, 1.0, 0.0, 1.0),
                param,
                &[from, to],
            );
            let y = run_automated(&mut r, &x, param, &|i| if i < switch { from } else { to });
            let moved = hf_peak_ratio(&y, switch - 64);
            // The same move made at once, for scale: the click the ramps avoid.
            let mut r = Reverb::new(ReverbModel::Room, 2.0, 0.0, 1.0, 0.0, 1.0);
            r.prepare(&testkit::spec(RATE));
            let mut y = x.clone();
            let (a, b) = y.split_at_mut(1);
            let (l, rr) = (&mut a[0], &mut b[0]);
            r.process(&mut [&mut l[..switch], &mut rr[..switch]]);
            let mut r2 = r;
            match param {
                ParamKey::DecayS => {
                    (r2.decay_s, r2.decay_to) = (to, to);
                    let (sh, late) = r2.absorption(to, 0.0);
                    for (i, (s, t)) in r2.shelves.iter_mut().zip(&sh).enumerate() {
                        (s.b0, s.b1) = (t.b0, t.b1);
                        r2.out_l[i] = 0.25 * late * hadamard_sign(5, i);
                        r2.out_r[i] = 0.25 * late * hadamard_sign(10, i);
                    }
                }
                ParamKey::Damping => {
                    (r2.damping, r2.damping_to) = (to, to);
                    let (sh, _) = r2.absorption(2.0, to);
                    for (s, t) in r2.shelves.iter_mut().zip(&sh) {
                        (s.b0, s.b1) = (t.b0, t.b1);
                    }
                }
                _ => r2.width = to,
            }
            r2.process(&mut [&mut l[switch..], &mut rr[switch..]]);
            let jumped = hf_peak_ratio(&y, switch - 64);
            println!(
                "{} {from} -> {to}: peak above 4 kHz {:.1} dB re the output's (at once: {:.1} dB)",
                param.name(),
                20.0 * moved.log10(),
                20.0 * jumped.log10()
            );
            // Under -45 dB, and at least 15 dB under the same move made at once.
            assert!(
                moved < 10f64.powf(-45.0 / 20.0) && moved < 10f64.powf(-15.0 / 20.0) * jumped,
                "{}: {moved} (at once {jumped})",
                param.name()
            );
        }
    }

    /// A moved predelay glides: with a 100 Hz tone playing nothing appears above 4 kHz, and once
    /// the glide has landed an impulse's response is the fixed reverb's at the new predelay,
    /// its onset moved by exactly the difference in frames.
    #[test]
    fn automated_predelay_glides_and_moves_the_onset() {
        let (from, to) = (30.0, 200.0);
        let switch = (0.1 * RATE) as usize;
        let value = |i: usize| if i < switch { from } else { to };
        // A tone while the predelay moves.
        let n = (1.0 * RATE) as usize;
        let tone: Vec<f32> = (0..n)
            .map(|i| (0.5 * (2.0 * std::f64::consts::PI * 100.0 * i as f64 / RATE).sin()) as f32)
            .collect();
        let mut r = built_for(
            Reverb::new(ReverbModel::Room, 0.5, 0.3, 1.0, from, 1.0),
            ParamKey::PredelayMs,
            &[from, to],
        );
        let y = run_automated(&mut r, &[tone.clone(), tone], ParamKey::PredelayMs, &value);
        let hf = hf_peak_ratio(&y, switch - 64);
        println!(
            "predelay {from} -> {to} ms: peak above 4 kHz {:.1} dB",
            20.0 * hf.log10()
        );
        assert!(hf < 1e-3, "{hf}");

        // An impulse once the glide has landed (a short decay: the first one has died away).
        for model in MODELS {
            let mut r = built_for(
                Reverb::new(model, 0.1, 0.3, 1.0, from, 1.0),
                ParamKey::PredelayMs,
                &[from, to],
            );
            let at = (1.6 * RATE) as usize;
            let mut x = vec![vec![0.0f32; at + (0.4 * RATE) as usize]; 2];
            x[0][0] = 1.0;
            x[1][0] = 1.0;
            x[0][at] = 1.0;
            x[1][at] = 1.0;
            let y = run_automated(&mut r, &x, ParamKey::PredelayMs, &value);
            let fixed =
                impulse_response(&mut Reverb::new(model, 0.1, 0.3, 1.0, to, 1.0), RATE, 0.4);
            let none =
                impulse_response(&mut Reverb::new(model, 0.1, 0.3, 1.0, 0.0, 1.0), RATE, 0.4);
            // (The first impulse's diffusers still ring at -240 dB.)
            let onset = |c: &[f32]| c.iter().position(|&v| v.abs() > 1e-9).unwrap();
            let shift = (to * 1e-3 * RATE) as usize;
            for c in 0..2 {
                assert_eq!(onset(&y[c][at..]), onset(&none[c]) + shift, "{model:?}");
                let err = y[c][at..]
                    .iter()
                    .zip(&fixed[c])
                    .fold(0.0f32, |a, (p, q)| a.max((p - q).abs()));
                assert!(err < 1e-6, "{model:?}: {err}");
            }
        }
    }

    #[test]
    fn contract_invariants() {
        for model in MODELS {
            testkit::assert_invariants(
                &|| Box::new(Reverb::new(model, 2.0, 0.4, 1.2, 15.0, 0.6)),
                RATE,
                0.0,
            );
        }
    }

    /// Cost per second of stereo audio (run with `--ignored --nocapture` in release).
    #[test]
    #[ignore]
    fn cost() {
        let x = testkit::test_signal(RATE, 10.0, 0.5);
        for model in MODELS {
            let mut r = Reverb::new(model, 2.0, 0.4, 1.0, 20.0, 1.0);
            r.prepare(&testkit::spec(RATE));
            let t = std::time::Instant::now();
            let _ = testkit::run(&mut r, &x, 1024);
            println!(
                "{model:?}: {:.1} ms per second of stereo audio",
                t.elapsed().as_secs_f64() * 100.0
            );
        }
    }
}
