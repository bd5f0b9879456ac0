//! A predelay that can move: a circular buffer of past inputs read at a whole or fractional
//! delay ([`Taps`]), and the glide that moves the read position to a new delay without a jump
//! ([`PredelayGlide`]). Shared by the algorithmic reverb (which also reads its early reflections
//! from the same buffer) and the convolution reverb (a moving delay in front of its convolver).
//!
//! The fractional read is third-order Lagrange interpolation (Laakso et al., "Splitting the
//! unit delay", IEEE Signal Processing Magazine 13(1), 1996). The glide follows each new delay
//! through a one-pole smoother ([`PREDELAY_GLIDE_S`]) no faster than [`PREDELAY_SLEW`] frames
//! per frame, so a moved predelay bends the pitch of what passes by a few semitones for a moment
//! instead of clicking, and lands on the target's whole frame once within a thousandth of it.

/// Time constant of the automated predelay's glide, s: the read position covers 1 - 1/e of a
/// move in this time (a 100 ms move starts at 3.3 frames per frame and slows from there).
pub const PREDELAY_GLIDE_S: f64 = 0.03;

/// Fastest the automated predelay's read position moves, frames per frame: what enters the
/// reverb is bent by at most this fraction in pitch (0.25: under 4 semitones).
pub const PREDELAY_SLEW: f64 = 0.25;

/// A circular buffer read at fixed delays (predelay and early-reflection taps).
#[derive(Clone, Default)]
pub struct Taps {
    buf: Vec<f64>,
    mask: usize,
    pos: usize,
}

impl Taps {
    /// Silent, holding inputs up to `max_delay` frames old.
    pub fn new(max_delay: usize) -> Taps {
        let len = (max_delay + 1).next_power_of_two();
        Taps {
            buf: vec![0.0; len],
            mask: len - 1,
            pos: 0,
        }
    }

    /// Add the newest input.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.pos = (self.pos + 1) & self.mask;
        self.buf[self.pos] = x;
    }

    /// The sample pushed `d` pushes ago (0 = the newest).
    #[inline]
    pub fn at(&self, d: usize) -> f64 {
        self.buf[self.pos.wrapping_sub(d) & self.mask]
    }

    /// The input `d` frames ago, `d` fractional: third-order Lagrange interpolation through the
    /// four samples around it (linear below one frame, where there is no newer sample).
    #[inline]
    pub fn at_frac(&self, d: f64) -> f64 {
        let i = d.floor();
        let t = d - i;
        let i = i as usize;
        if i == 0 {
            return self.at(0) + t * (self.at(1) - self.at(0));
        }
        let (pm, p0, p1, p2) = (self.at(i - 1), self.at(i), self.at(i + 1), self.at(i + 2));
        let wm = -t * (t - 1.0) * (t - 2.0) / 6.0;
        let w0 = (t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0;
        let w1 = -(t + 1.0) * t * (t - 2.0) / 2.0;
        let w2 = (t + 1.0) * t * (t - 1.0) / 6.0;
        wm * pm + w0 * p0 + w1 * p1 + w2 * p2
    }

    /// Silence.
    pub fn clear(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}

/// Where a moving predelay's read position is, frames, on its way to a whole-frame target.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PredelayGlide {
    /// Where it is headed, frames.
    to: usize,
    /// Where it is now, frames (equal to `to` at rest).
    at: f64,
    /// Per-frame pull: `1 - exp(-1 / (PREDELAY_GLIDE_S fs))`.
    pull: f64,
}

impl PredelayGlide {
    /// At rest at `frames`, at `fs` Hz.
    pub fn new(frames: usize, fs: f64) -> Self {
        PredelayGlide {
            to: frames,
            at: frames as f64,
            pull: 1.0 - (-1.0 / (PREDELAY_GLIDE_S * fs)).exp(),
        }
    }

    /// Head for `frames`.
    pub fn set(&mut self, frames: usize) {
        self.to = frames;
    }

    /// Where it is headed, frames.
    pub fn target(&self) -> usize {
        self.to
    }

    /// Whether the read position is still on its way.
    pub fn moving(&self) -> bool {
        self.at != self.to as f64
    }

    /// The read position, frames.
    #[inline]
    pub fn at(&self) -> f64 {
        self.at
    }

    /// One frame's move towards the target (at most [`PREDELAY_SLEW`] frames).
    #[inline]
    pub fn step(&mut self) {
        let pull = (self.to as f64 - self.at) * self.pull;
        self.at += pull.clamp(-PREDELAY_SLEW, PREDELAY_SLEW);
    }

    /// Within a thousandth of a frame of the target: land on it and return it.
    pub fn land(&mut self) -> Option<usize> {
        if (self.at - self.to as f64).abs() < 1e-3 {
            self.at = self.to as f64;
            Some(self.to)
        } else {
            None
        }
    }
}
