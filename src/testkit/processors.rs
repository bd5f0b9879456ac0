//! Shared checks for processors: run a processor over a signal in blocks of any
//! size, and assert the invariants every processor must keep: `reset` reproduces the first output, block sizes 1/64/4096 agree, silence in
//! gives silence out, loud input gives no NaN or infinity, and ringing decays into exact zeros or
//! normal floats, never subnormals (which are slow on x86).

use super::signals::Noise;
use crate::dsp::envelope::ParamId;
use crate::dsp::{ProcessSpec, Processor};

/// The spec processors are prepared with in tests: stereo, blocks up to 4096 frames.
pub fn spec(sample_rate: f64) -> ProcessSpec {
    ProcessSpec {
        sample_rate,
        max_block: 4096,
        channels: 2,
    }
}

/// Run `p` over `input` (planar) in blocks of `block` frames; returns the output.
pub fn run(p: &mut dyn Processor, input: &[Vec<f32>], block: usize) -> Vec<Vec<f32>> {
    run_keyed(p, input, None, block)
}

/// Like [`run`], with a sidechain key signal (same length as `input`).
pub fn run_keyed(
    p: &mut dyn Processor,
    input: &[Vec<f32>],
    key: Option<&[Vec<f32>]>,
    block: usize,
) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = input.to_vec();
    let n = input.first().map_or(0, Vec::len);
    let mut start = 0;
    while start < n {
        let end = (start + block).min(n);
        let mut chans: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[start..end]).collect();
        match key {
            Some(k) => {
                let keys: Vec<&[f32]> = k.iter().map(|c| &c[start..end]).collect();
                p.process_keyed(&mut chans, &keys);
            }
            None => p.process(&mut chans),
        }
        start = end;
    }
    out
}

/// A deterministic test signal: stereo noise, a sine burst, an impulse and a silent gap,
/// `seconds` long, peaking near `peak`.
pub fn test_signal(rate: f64, seconds: f64, peak: f32) -> Vec<Vec<f32>> {
    let n = (rate * seconds) as usize;
    let mut r = Noise::new(0x2545_F491_4F6C_DD1D);
    let mut noise = || 0.5 * r.uniform();
    let mut l = vec![0.0f32; n];
    let mut r = vec![0.0f32; n];
    for i in 0..n {
        let t = i as f64 / rate;
        let env = if t < 0.3 * seconds {
            0.5
        } else if t < 0.6 * seconds {
            0.0
        } else {
            1.0
        };
        let s = (2.0 * std::f64::consts::PI * 440.0 * t).sin() as f32;
        l[i] = peak * (env * (0.4 * noise() + 0.5 * s));
        r[i] = peak * (env * (0.4 * noise() - 0.3 * s));
    }
    let imp = (0.45 * seconds * rate) as usize;
    l[imp] = peak;
    r[imp] = -peak;
    vec![l, r]
}

fn assert_close(a: &[Vec<f32>], b: &[Vec<f32>], tol: f32, what: &str) {
    for (c, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.len(), y.len(), "{what}: channel {c} length");
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            assert!(
                (p - q).abs() <= tol,
                "{what}: channel {c} frame {i}: {p} vs {q}"
            );
        }
    }
}

/// Assert every invariant of the processor contract for processors made by `make` (a fresh,
/// un-prepared processor each call) at `rate`. `tol` bounds the difference allowed between
/// block sizes (0.0 demands bit-identical output).
pub fn assert_invariants(make: &dyn Fn() -> Box<dyn Processor>, rate: f64, tol: f32) {
    let spec = spec(rate);
    let input = test_signal(rate, 2.0, 0.5);

    // Block sizes 1, 64 and 4096 agree.
    let mut outs = Vec::new();
    for block in [4096usize, 64, 1] {
        let mut p = make();
        p.prepare(&spec);
        outs.push((block, run(p.as_mut(), &input, block)));
    }
    for (block, o) in &outs[1..] {
        assert_close(
            &outs[0].1,
            o,
            tol,
            &format!("{}: block {block} vs 4096", make().name()),
        );
    }

    // reset() reproduces the first output exactly.
    let mut p = make();
    p.prepare(&spec);
    let first = run(p.as_mut(), &input, 512);
    p.reset();
    let second = run(p.as_mut(), &input, 512);
    assert_close(&first, &second, 0.0, &format!("{}: after reset", p.name()));

    // No NaN or infinity, even driven 12 dB over full scale.
    let hot = test_signal(rate, 1.0, 4.0);
    let mut p = make();
    p.prepare(&spec);
    let out = run(p.as_mut(), &hot, 4096);
    assert!(
        out.iter().flatten().all(|x| x.is_finite()),
        "{}: non-finite output on hot input",
        p.name()
    );

    // Silence in, silence out.
    let silence = vec![vec![0.0f32; (rate * 1.0) as usize]; 2];
    let mut p = make();
    p.prepare(&spec);
    let out = run(p.as_mut(), &silence, 4096);
    assert!(
        out.iter().flatten().all(|&x| x == 0.0),
        "{}: silence in gave sound out",
        p.name()
    );

    // An impulse followed by 20 s of silence rings down to zeros or normal numbers.
    let n = (rate * 20.0) as usize;
    let mut imp = vec![vec![0.0f32; n]; 2];
    imp[0][10] = 1.0;
    imp[1][10] = 1.0;
    let mut p = make();
    p.prepare(&spec);
    let out = run(p.as_mut(), &imp, 4096);
    for (c, ch) in out.iter().enumerate() {
        if let Some(i) = ch.iter().position(|&x| x != 0.0 && !x.is_normal()) {
            panic!(
                "{}: subnormal output {:e} at channel {c} frame {i}",
                p.name(),
                ch[i]
            );
        }
    }
}

/// Magnitude (dB) of the steady-state response of `p` to a sine at `freq` Hz: feeds 0.5 s (or
/// enough cycles) and measures the last 0.2 s by correlation with sine and cosine.
pub fn sine_gain_db(p: &mut dyn Processor, rate: f64, freq: f64, amp: f64) -> f64 {
    let n = (rate * 0.7) as usize;
    let x: Vec<f32> = (0..n)
        .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate).sin()) as f32)
        .collect();
    let out = run(p, &[x.clone(), x], 4096);
    let m = (rate * 0.2) as usize;
    // Whole cycles only, to keep the correlation exact.
    let cycles = ((m as f64) * freq / rate).floor().max(1.0);
    let m = ((cycles * rate / freq).round() as usize).min(n);
    let (mut s, mut c) = (0.0, 0.0);
    for (k, &y) in out[0][n - m..].iter().enumerate() {
        let ph = 2.0 * std::f64::consts::PI * freq * (n - m + k) as f64 / rate;
        s += f64::from(y) * ph.sin();
        c += f64::from(y) * ph.cos();
    }
    let a = 2.0 * (s * s + c * c).sqrt() / m as f64;
    20.0 * (a / amp).log10()
}

/// Run `p` over `input` with `param` following `value(frame)` as the engine automates it: set
/// every `every` frames to the value at the piece's last frame, which the processor reaches by
/// that frame. With `jump`, the piece's first frame is processed alone, so the new value
/// applies whole from there: the steps an unsmoothed parameter would make, for comparison.
pub fn run_automated(
    p: &mut dyn Processor,
    input: &[Vec<f32>],
    param: ParamId,
    value: &dyn Fn(usize) -> f64,
    every: usize,
    jump: bool,
) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = input.to_vec();
    let n = input.first().map_or(0, Vec::len);
    let mut o = 0;
    while o < n {
        let m = every.min(n - o);
        assert!(
            p.set_param(param, value(o + m - 1)),
            "{} refuses {param:?}",
            p.name()
        );
        let first = if jump { 1 } else { m };
        for (a, b) in [(o, o + first), (o + first, o + m)] {
            let mut chans: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[a..b]).collect();
            p.process(&mut chans);
        }
        o += m;
    }
    out
}

/// Energy of `y - reference` relative to the energy of `reference`, dB: how far an output is
/// from the one it should match.
pub fn difference_db(y: &[f32], reference: &[f32]) -> f64 {
    let (mut d, mut e) = (0.0, 0.0);
    for (&a, &b) in y.iter().zip(reference) {
        d += (f64::from(a) - f64::from(b)).powi(2);
        e += f64::from(b).powi(2);
    }
    10.0 * (d / e).log10()
}
