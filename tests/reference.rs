//! Reference matching (matching pink noise to a tilted-noise reference brings the 1/3-octave
//! difference within 1 dB at amount = 1 and halves it at amount = 0.5), on the
//! library stage and through a whole render.

mod common;

use common::*;
use mixdown::analysis::spectrum;
use mixdown::master::reference;
use mixdown::session::model::Reference;
use mixdown::testkit::{Noise, Pinking};

const RATE: u32 = 48000;

/// Stereo pink noise, independent channels; `tilt` runs it through the pinking filter a second
/// time (another -3 dB per octave). Peaks at 0.5.
fn pink(seed: u64, secs: f64, tilt: bool) -> Vec<Vec<f32>> {
    let n = (secs * f64::from(RATE)) as usize;
    (0..2u64)
        .map(|c| {
            let mut r = Noise::new(seed.wrapping_mul(2654435761).wrapping_add(c + 1));
            let (mut p1, mut p2) = (Pinking::default(), Pinking::default());
            let out: Vec<f32> = (0..n)
                .map(|_| {
                    let p = p1.next(r.uniform());
                    if tilt { p2.next(p) } else { p }
                })
                .collect();
            let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            out.iter().map(|v| v * 0.5 / peak).collect()
        })
        .collect()
}

fn write_wav(path: &std::path::Path, planes: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for (l, r) in planes[0].iter().zip(&planes[1]) {
        w.write_sample(*l).unwrap();
        w.write_sample(*r).unwrap();
    }
    w.finalize().unwrap();
}

/// Worst tonal-balance difference (level-normalised) over 50 Hz to 10 kHz, dB.
fn worst(deltas: &[spectrum::BandDelta]) -> f64 {
    deltas
        .iter()
        .filter(|d| (50.0..=10000.0).contains(&d.centre_hz))
        .map(|d| d.relative_db.abs())
        .fold(0.0, f64::max)
}

#[test]
fn pink_noise_matched_to_a_tilted_reference() {
    let sb = Sandbox::new();
    let mix = pink(1, 12.0, false);
    let reference = pink(2, 12.0, true);
    let ref_path = sb.path("ref.wav");
    write_wav(&ref_path, &reference);
    let r = |amount: f64| Reference {
        file: ref_path.clone(),
        amount,
        eq: true,
        loudness: false,
        width: false,
    };
    let (_, full) = reference::apply(&mix, RATE, &r(1.0), true).unwrap();
    let (_, half) = reference::apply(&mix, RATE, &r(0.5), true).unwrap();
    let before = worst(&full.before);
    let after_full = worst(&full.after);
    eprintln!("worst 1/3-octave difference: before {before:.2} dB, amount 1 {after_full:.2} dB");
    assert!(before > 8.0, "the reference really is tilted: {before}");
    assert!(after_full <= 1.0, "amount 1 leaves {after_full} dB");
    // Amount 0.5 halves the difference band by band (within the same 1 dB).
    for (b, h) in full.before.iter().zip(&half.after) {
        if (50.0..=10000.0).contains(&b.centre_hz) {
            assert!(
                (h.relative_db - b.relative_db / 2.0).abs() <= 1.0,
                "{} Hz: before {:.2}, at half {:.2}",
                b.centre_hz,
                b.relative_db,
                h.relative_db
            );
        }
    }
    assert!(!full.curve.is_empty());
}

#[test]
fn a_session_with_a_reference_renders_and_reports_the_match() {
    let sb = Sandbox::new();
    write_wav(&sb.path("mix.wav"), &pink(3, 8.0, false));
    write_wav(&sb.path("ref.wav"), &pink(4, 8.0, true));
    sb.write(
        "s.toml",
        "[[track]]\nname = \"m\"\nfile = \"mix.wav\"\n[master]\nreference = { file = \"ref.wav\", amount = 0.5, match = [\"eq\", \"width\"] }\ntarget = { lufs = -16.0 }\n[[output]]\npath = \"o.wav\"\n",
    );
    let out = sb.run(&["render", "s.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = report(&sb.path("o.report.json"));
    let m = &r["master"]["reference_match"];
    assert_eq!(m["amount"], 0.5);
    assert!(m["curve"].as_array().unwrap().len() > 100);
    assert!(!m["before"].as_array().unwrap().is_empty());
    // The target still sets the level.
    let i = r["outputs"][0]["integrated_lufs"].as_f64().unwrap();
    assert!((i + 16.0).abs() <= 0.1, "{i}");
}
