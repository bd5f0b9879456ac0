//! A master's true-peak ceiling holds on the delivered file under the meters people check it
//! with, each written out here from its own definition (not through mixdown's detector):
//! - the example 4x interpolator of ITU-R BS.1770-4 Annex 2 (its 48 published coefficients);
//! - a 4x Kaiser-windowed sinc interpolator as `scipy.signal.resample_poly(x, 4, 1)` builds it
//!   (81 taps, cutoff at the input's Nyquist frequency, Kaiser beta 5);
//! - ffmpeg's `ebur128=peak=true`: libswresample's default filter resampling to 192 kHz (a
//!   Kaiser-windowed sinc, beta 9, 33 taps, cutoff 0.97, every phase normalised, the stream's
//!   start mirrored), read at every 192 kHz output point.
//!
//! The material is the demo mastered loud (the `cd` preset, -9 LUFS at -0.3 dBTP): dense, with
//! cymbals and noise up to Nyquist, starting at full level on its first sample.

mod common;

use common::*;

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..300 {
        term *= (x / 2.0) * (x / 2.0) / (k as f64 * k as f64);
        sum += term;
    }
    sum
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// BS.1770-4 Annex 2: y_p[n] = sum_k h_p[k] x[n - k], zeros before the file.
fn annex2(x: &[f32]) -> f64 {
    const H: [[f64; 12]; 4] = [
        [
            0.0017089843750,
            0.0109863281250,
            -0.0196533203125,
            0.0332031250000,
            -0.0594482421875,
            0.1373291015625,
            0.9721679687500,
            -0.1022949218750,
            0.0476074218750,
            -0.0266113281250,
            0.0148925781250,
            -0.0083007812500,
        ],
        [
            -0.0291748046875,
            0.0292968750000,
            -0.0517578125000,
            0.0891113281250,
            -0.1665039062500,
            0.4650878906250,
            0.7797851562500,
            -0.2003173828125,
            0.1015625000000,
            -0.0582275390625,
            0.0330810546875,
            -0.0189208984375,
        ],
        [
            -0.0189208984375,
            0.0330810546875,
            -0.0582275390625,
            0.1015625000000,
            -0.2003173828125,
            0.7797851562500,
            0.4650878906250,
            -0.1665039062500,
            0.0891113281250,
            -0.0517578125000,
            0.0292968750000,
            -0.0291748046875,
        ],
        [
            -0.0083007812500,
            0.0148925781250,
            -0.0266113281250,
            0.0476074218750,
            -0.1022949218750,
            0.9721679687500,
            0.1373291015625,
            -0.0594482421875,
            0.0332031250000,
            -0.0196533203125,
            0.0109863281250,
            0.0017089843750,
        ],
    ];
    let mut peak: f64 = 0.0;
    for n in 0..x.len() + 12 {
        for h in &H {
            let y: f64 = (0..12)
                .filter(|&k| n >= k && n - k < x.len())
                .map(|k| h[k] * f64::from(x[n - k]))
                .sum();
            peak = peak.max(y.abs());
        }
    }
    peak
}

/// resample_poly(x, 4, 1): upsample by 4 (zeros between), filter with 4 * firwin(81, 1/4,
/// kaiser 5), drop the 40-sample filter delay.
fn kaiser_4x(x: &[f32]) -> f64 {
    let n_taps = 81;
    let c = 40.0;
    let raw: Vec<f64> = (0..n_taps)
        .map(|i| {
            let m = i as f64 - c;
            let w = bessel_i0(5.0 * (1.0 - (m / c).powi(2)).max(0.0).sqrt()) / bessel_i0(5.0);
            let a = std::f64::consts::PI * m / 4.0;
            w * if m == 0.0 { 1.0 } else { a.sin() / a }
        })
        .collect();
    let sum: f64 = raw.iter().sum();
    let h: Vec<f64> = raw.iter().map(|v| 4.0 * v / sum).collect();
    let mut peak: f64 = 0.0;
    for m in 0..4 * x.len() {
        // output m = sum_j h[m + 40 - 4j] x[j]
        let mut y = 0.0;
        let top = (m + 40) / 4;
        let first = top.saturating_sub(20);
        for (j, &xj) in x.iter().enumerate().take(top + 1).skip(first) {
            let k = m as isize + 40 - 4 * j as isize;
            if (0..81).contains(&k) {
                y += h[k as usize] * f64::from(xj);
            }
        }
        peak = peak.max(y.abs());
    }
    peak
}

/// ffmpeg's 192 kHz reading: output point k sits at input time k * rate / 192000 = n + f; its
/// value is sum_i w_f(i) x[n - 16 + i] with the Kaiser-sinc of phase f normalised to sum 1;
/// before the first sample the stream holds its own mirror image (x[-i] = x[i]).
fn ffmpeg_192k(x: &[f32], rate: u32) -> f64 {
    let factor = 0.97;
    let taps = 33usize;
    let at = |i: isize| -> f64 {
        let i = i.unsigned_abs();
        x.get(i).map_or(0.0, |v| f64::from(*v))
    };
    // Output k sits at n + num/den of a sample, num = k * rate mod 192000 (in lowest terms).
    let g = gcd(u64::from(rate), 192_000);
    let (step, den) = (u64::from(rate) / g, 192_000 / g);
    let table: Vec<Vec<f64>> = (0..den)
        .map(|num| {
            let f = num as f64 / den as f64;
            let raw: Vec<f64> = (0..taps)
                .map(|i| {
                    let xx = std::f64::consts::PI * ((i as f64 - 16.0) - f) * factor;
                    let sinc = if xx == 0.0 { 1.0 } else { xx.sin() / xx };
                    let w = 2.0 * xx / (factor * taps as f64 * std::f64::consts::PI);
                    sinc * bessel_i0(9.0 * (1.0 - w * w).max(0.0).sqrt())
                })
                .collect();
            let norm: f64 = raw.iter().sum();
            raw.iter().map(|v| v / norm).collect()
        })
        .collect();
    let mut peak: f64 = 0.0;
    let outs = (x.len() as u64 * den) / step;
    for k in 0..outs {
        let pos = k * step;
        let (n, num) = ((pos / den) as isize, (pos % den) as usize);
        let y: f64 = table[num]
            .iter()
            .enumerate()
            .map(|(i, w)| w * at(n - 16 + i as isize))
            .sum();
        peak = peak.max(y.abs());
    }
    peak
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[test]
fn a_loud_master_stays_under_its_ceiling_on_every_meter() {
    let sb = Sandbox::new();
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    let text = std::fs::read_to_string(demo.join("session.toml"))
        .unwrap()
        .replace(
            "target = { preset = \"spotify\" }",
            "target = { preset = \"cd\" }",
        )
        .replace(
            "file = \"stems/",
            &format!("file = \"{}/stems/", demo.display()),
        );
    assert!(text.contains("preset = \"cd\""));
    sb.write("cd.toml", &text);
    let out = sb.run(&["render", "cd.toml", "-o", "cd.wav", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (spec, planes) = read_wav(&sb.path("cd.wav"));
    let ceiling = -0.3;
    for (c, x) in planes.iter().enumerate() {
        for (name, reading) in [
            ("Annex 2", db(annex2(x))),
            ("Kaiser 4x", db(kaiser_4x(x))),
            ("ffmpeg 192 kHz", db(ffmpeg_192k(x, spec.sample_rate))),
        ] {
            assert!(
                reading <= ceiling,
                "channel {c}: {name} reads {reading:.3} dBTP over the {ceiling} ceiling"
            );
        }
    }
}
