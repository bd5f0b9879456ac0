//! The target stage against its promise: integrated loudness within 0.1 LU of -14, -16 and
//! -23 LUFS, and no true peak over the ceiling, on signals chosen to be hard in different ways.
//! Loudness and true peak are checked with ebur128 (BS.1770-4, 4x true peak) and with mixdown's
//! own 8x detector.

use ebur128::{EbuR128, Mode};
use mixdown::dsp::truepeak::true_peak;
use mixdown::master::target;
use mixdown::testkit::{Noise, Pinking};

const RATE: u32 = 48000;

fn secs(s: f64) -> usize {
    (s * f64::from(RATE)) as usize
}

fn sine(amp: f32) -> Vec<Vec<f32>> {
    let x: Vec<f32> = (0..secs(10.0))
        .map(|i| amp * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / RATE as f32).sin())
        .collect();
    vec![x.clone(), x]
}

/// Pink noise (Paul Kellet's refined filter), independent channels.
fn pink(amp: f32, seed: u64) -> Vec<Vec<f32>> {
    (0..2)
        .map(|c| {
            let mut r = Noise::new(seed + c);
            let mut p = Pinking::default();
            (0..secs(10.0))
                .map(|_| amp * p.next(r.uniform()) * 0.11)
                .collect()
        })
        .collect()
}

/// A dense synthetic mix: bass, chords, noise hats and kick drums.
fn dense_mix(amp: f32) -> Vec<Vec<f32>> {
    let n = secs(12.0);
    let mut r = Noise::new(99);
    let rate = RATE as f32;
    let mut l = vec![0.0f32; n];
    let mut rr = vec![0.0f32; n];
    for i in 0..n {
        let t = i as f32 / rate;
        let beat = (t * 2.0).fract();
        let kick = (-beat * 30.0).exp()
            * (2.0 * std::f32::consts::PI * (50.0 + 100.0 * (-beat * 40.0).exp()) * t).sin();
        let bass = 0.4 * (2.0 * std::f32::consts::PI * 55.0 * t).sin();
        let chord: f32 = [220.0, 277.2, 329.6]
            .iter()
            .map(|f| 0.15 * (2.0 * std::f32::consts::PI * f * t).sin())
            .sum();
        let hat = 0.2 * r.uniform() * (-((t * 4.0).fract()) * 60.0).exp();
        l[i] = amp * (kick + bass + chord + hat);
        rr[i] = amp * (kick + bass + 0.8 * chord - hat);
    }
    vec![l, rr]
}

/// Sharp transients: band-limited clicks centred half-way between samples (their true peak is
/// well above their sample peak) over a quiet pad.
fn transients(amp: f32) -> Vec<Vec<f32>> {
    let n = secs(10.0);
    let mut x: Vec<f32> = (0..n)
        .map(|i| 0.05 * (2.0 * std::f32::consts::PI * 300.0 * i as f32 / RATE as f32).sin())
        .collect();
    for k in 0..40 {
        let centre = (k as f64 + 0.5) * n as f64 / 40.0 + 0.5;
        for j in -64i64..=64 {
            let idx = (centre.floor() as i64 + j) as usize;
            let t = idx as f64 - centre;
            let sinc = if t.abs() < 1e-9 {
                1.0
            } else {
                (std::f64::consts::PI * 0.9 * t).sin() / (std::f64::consts::PI * 0.9 * t)
            };
            let w = 0.5 + 0.5 * (std::f64::consts::PI * t / 65.0).cos();
            x[idx] += (0.9 * sinc * w) as f32;
        }
    }
    let x: Vec<f32> = x.iter().map(|v| v * amp).collect();
    vec![x.clone(), x.iter().map(|v| -v).collect()]
}

fn ebu(planes: &[Vec<f32>]) -> (f64, f64) {
    let mut e = EbuR128::new(2, RATE, Mode::I | Mode::TRUE_PEAK).unwrap();
    e.add_frames_planar_f32(&[&planes[0], &planes[1]]).unwrap();
    let tp = (0..2).map(|c| e.true_peak(c).unwrap()).fold(0.0, f64::max);
    (e.loudness_global().unwrap(), 20.0 * tp.log10())
}

fn check(name: &str, planes: Vec<Vec<f32>>, lufs: f64, ceiling: f64) {
    let out = target::apply(&planes, RATE, lufs, ceiling).unwrap();
    let (i, tp4) = ebu(&out.planes);
    let tp8 = 20.0 * f64::from(true_peak(&out.planes)).log10();
    eprintln!(
        "{name:>10} -> {lufs}: in {:.2} LUFS, gain {:+.2} dB, out {i:.3} LUFS, TP4 {tp4:.3} TP8 {tp8:.3} dBTP, limiting max {:.2} mean {:.2} dB, {} passes",
        out.input_lufs,
        out.static_gain_db,
        out.limiter.max_reduction_db,
        out.limiter.mean_reduction_db,
        out.iterations
    );
    assert!((i - lufs).abs() <= 0.1, "{name} -> {lufs}: {i} LUFS");
    assert!(
        tp4 <= ceiling + 1e-6,
        "{name} -> {lufs}: 4x true peak {tp4} over {ceiling}"
    );
    assert!(
        tp8 <= ceiling + 1e-6,
        "{name} -> {lufs}: 8x true peak {tp8} over {ceiling}"
    );
    assert!((out.achieved_lufs - i).abs() < 1e-9);
}

#[test]
fn sine_reaches_every_target() {
    for lufs in [-14.0, -16.0, -23.0] {
        check("sine", sine(0.25), lufs, -1.0);
    }
}

#[test]
fn pink_noise_reaches_every_target() {
    for lufs in [-14.0, -16.0, -23.0] {
        check("pink", pink(0.5, 1), lufs, -1.0);
    }
}

#[test]
fn dense_mix_reaches_every_target() {
    for lufs in [-14.0, -16.0, -23.0] {
        check("dense", dense_mix(0.3), lufs, -1.0);
    }
}

#[test]
fn transients_with_inter_sample_peaks_stay_under_the_ceiling() {
    for lufs in [-14.0, -16.0, -23.0] {
        check("clicks", transients(0.5), lufs, -1.0);
    }
}

#[test]
fn a_very_quiet_mix_needs_thirty_db() {
    let quiet = dense_mix(0.3)
        .into_iter()
        .map(|c| c.into_iter().map(|v| v * 0.02).collect())
        .collect::<Vec<Vec<f32>>>();
    let out = target::apply(&quiet, RATE, -14.0, -1.0).unwrap();
    assert!(out.static_gain_db > 30.0, "{}", out.static_gain_db);
    check("quiet", quiet, -14.0, -1.0);
}

#[test]
fn other_ceilings_hold() {
    check("dense", dense_mix(0.3), -9.0, -0.3);
    check("pink", pink(0.5, 3), -14.0, -2.0);
}

#[test]
fn silence_cannot_be_brought_to_a_target() {
    let z = vec![vec![0.0f32; secs(2.0)]; 2];
    assert!(matches!(
        target::apply(&z, RATE, -14.0, -1.0),
        Err(target::TargetError::Silent(_))
    ));
}
