//! Deterministic test signals: white noise from xorshift64, pink noise through Paul Kellett's
//! refined pinking filter, sines. The same seed gives the same samples on every machine.

use std::f64::consts::TAU;

/// xorshift64 (G. Marsaglia, "Xorshift RNGs", J. Stat. Softw. 8(14), 2003; shifts 13, 7, 17):
/// a tiny, fast generator, plenty for test noise. The state must not be zero.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    /// A generator seeded with `seed` (0 is replaced by 1: xorshift never leaves zero).
    pub fn new(seed: u64) -> Self {
        Noise(if seed == 0 { 1 } else { seed })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [-1, 1) with 24-bit resolution (variance 1/3).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// `n` samples of white noise, uniform in [-amp, amp).
pub fn white(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut r = Noise::new(seed);
    (0..n).map(|_| amp * r.uniform()).collect()
}

/// Paul Kellett's "refined" pinking filter (musicdsp.org, 1999): -3 dB per octave within
/// ±0.05 dB above 9.2 Hz at 44.1 kHz. Unity-gain white noise in gives pink noise peaking
/// near ±9; scale to taste.
#[derive(Debug, Clone, Default)]
pub struct Pinking([f32; 7]);

impl Pinking {
    pub fn next(&mut self, w: f32) -> f32 {
        let b = &mut self.0;
        b[0] = 0.99886 * b[0] + w * 0.055_517_9;
        b[1] = 0.99332 * b[1] + w * 0.075_075_9;
        b[2] = 0.969 * b[2] + w * 0.153_852;
        b[3] = 0.8665 * b[3] + w * 0.310_485_6;
        b[4] = 0.55 * b[4] + w * 0.532_952_2;
        b[5] = -0.7616 * b[5] - w * 0.016_898;
        let p = b[..6].iter().sum::<f32>() + b[6] + w * 0.5362;
        b[6] = w * 0.115_926;
        p
    }
}

/// `n` samples of pink noise: uniform white noise through [`Pinking`], times `scale`.
pub fn pink(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut r = Noise::new(seed);
    let mut p = Pinking::default();
    (0..n).map(|_| scale * p.next(r.uniform())).collect()
}

/// `x` through [`Pinking`] (another -3 dB per octave), times 0.1.
pub fn pinked(x: &[f32]) -> Vec<f32> {
    let mut p = Pinking::default();
    x.iter().map(|&w| 0.1 * p.next(w)).collect()
}

/// `x` with its whole spectrum multiplied by `gain_db(f)` (one circular FFT of the whole
/// signal, in f64): an ideal zero-phase filter for checking spectral measurements.
pub fn spectral_gain(x: &[f32], rate: u32, gain_db: impl Fn(f64) -> f64) -> Vec<f32> {
    let n = x.len();
    let mut planner = realfft::RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let mut input: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let mut spec = fwd.make_output_vec();
    fwd.process(&mut input, &mut spec)
        .expect("buffer lengths come from the plan");
    for (k, c) in spec.iter_mut().enumerate() {
        let f = k as f64 * f64::from(rate) / n as f64;
        *c *= 10f64.powf(gain_db(f) / 20.0) / n as f64;
    }
    // The imaginary parts at DC and Nyquist must be zero for the inverse real FFT.
    spec[0].im = 0.0;
    if let Some(last) = spec.last_mut() {
        last.im = 0.0;
    }
    let mut out = inv.make_output_vec();
    inv.process(&mut spec, &mut out)
        .expect("buffer lengths come from the plan");
    out.iter().map(|&v| v as f32).collect()
}

/// `n` samples of a sine at `freq` Hz and amplitude `amp`, starting at phase 0.
pub fn sine(n: usize, rate: f64, freq: f64, amp: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (amp * (TAU * freq * i as f64 / rate).sin()) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_uniform_and_reproducible() {
        let a = white(100_000, 7, 1.0);
        assert_eq!(a, white(100_000, 7, 1.0));
        assert_ne!(a, white(100_000, 8, 1.0));
        assert!(a.iter().all(|x| (-1.0..1.0).contains(x)));
        let mean = a.iter().map(|&x| f64::from(x)).sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / a.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0 / 3.0).abs() < 0.01,
            "{mean} {var}"
        );
    }

    #[test]
    fn sine_hits_its_peaks() {
        let s = sine(48, 48000.0, 1000.0, 0.5);
        assert_eq!(s[0], 0.0);
        assert!((s[12] - 0.5).abs() < 1e-7 && (s[36] + 0.5).abs() < 1e-7);
    }
}
