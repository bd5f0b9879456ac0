//! `mixdown analyze` as a black box.

mod common;

use common::*;

#[test]
fn analyze_reports_levels_as_json() {
    let sb = Sandbox::new();
    // A 1 kHz stereo sine at -23 dBFS for 20 s: -23 LUFS (EBU Tech 3341 case 1).
    let a = 10f32.powf(-23.0 / 20.0);
    sb.stem_i16("tone.wav", 48000, 2, 48000 * 20, |_, n| {
        a * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 48000.0).sin()
    });
    let out = sb.run(&["analyze", "tone.wav", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let i = j["integrated_lufs"].as_f64().unwrap();
    assert!((i + 23.0).abs() <= 0.1, "{i}");
    assert!((j["sample_peak_dbfs"].as_f64().unwrap() + 23.0).abs() < 0.05);
    assert!((j["stereo_correlation"].as_f64().unwrap() - 1.0).abs() < 1e-3);
    assert!(j["mono_fold_loss_lu"].as_f64().unwrap().abs() < 0.01);
    assert_eq!(j["momentary_lufs"].as_array().unwrap().len(), 200);
    // The human summary goes to stdout too.
    let out = sb.run(&["analyze", "tone.wav"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("integrated       -23.0 LUFS"), "{text}");
}

#[test]
fn analyze_reads_every_format_and_refuses_bad_files() {
    for f in [
        "sine-44k1-stereo.flac",
        "sine-44k1-mono.aiff",
        "sine-44k1-stereo.mp3",
        "sine-44k1-stereo.ogg",
    ] {
        let p = fixtures().join("stems").join(f);
        let out = mixdown()
            .args(["analyze", p.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{f}: {}", stderr(&out));
    }
    for (f, msg) in [
        ("not-audio.wav", "not a supported audio file"),
        ("truncated.wav", "truncated"),
        ("surround-6ch.wav", "6 channels"),
    ] {
        let p = fixtures().join("stems").join(f);
        let out = mixdown()
            .args(["analyze", p.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{f}");
        assert!(stderr(&out).contains(msg), "{f}: {}", stderr(&out));
    }
}

#[test]
fn analyze_compares_with_a_reference_and_plots() {
    let sb = Sandbox::new();
    // The file has its bass 6 dB down against the reference (both noise with the same seed).
    let n = 48000 * 6;
    let white = mixdown::testkit::white(n, 99, 0.5);
    // A one-pole split at ~150 Hz: low + high = white exactly.
    let a = (-2.0 * std::f32::consts::PI * 150.0 / 48000.0).exp();
    let mut lp = 0.0f32;
    let low: Vec<f32> = white
        .iter()
        .map(|&w| {
            lp = a * lp + (1.0 - a) * w;
            lp
        })
        .collect();
    let high: Vec<f32> = white.iter().zip(&low).map(|(w, l)| w - l).collect();
    let refr: Vec<f32> = (0..n).map(|i| 0.4 * (low[i] + high[i])).collect();
    let file: Vec<f32> = (0..n).map(|i| 0.4 * (0.5 * low[i] + high[i])).collect();
    sb.stem_f32("ref.wav", 48000, 2, n, |_, i| refr[i]);
    sb.stem_f32("file.wav", 48000, 2, n, |_, i| file[i]);
    let out = sb.run(&[
        "analyze",
        "file.wav",
        "--reference",
        "ref.wav",
        "--json",
        "--plot",
        "plots",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &j["comparison"];
    let summary: Vec<String> = c["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert!(
        summary
            .iter()
            .any(|s| s.contains("less energy") && s.contains("Hz than the reference")),
        "{summary:?}"
    );
    let band = |hz: f64| {
        c["bands"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["centre_hz"].as_f64() == Some(hz))
            .unwrap()["delta_db"]
            .as_f64()
            .unwrap()
    };
    // Expected: 20 log10 |1 - H(f)/2| for the one-pole low-pass H(f) = 1 / (1 + j f/150).
    let expect = |f: f64| {
        let (re, im) = (
            1.0 / (1.0 + (f / 150.0).powi(2)),
            -(f / 150.0) / (1.0 + (f / 150.0).powi(2)),
        );
        20.0 * ((1.0 - 0.5 * re).hypot(-0.5 * im)).log10()
    };
    for hz in [31.5, 50.0, 100.0, 250.0, 4000.0] {
        assert!(
            (band(hz) - expect(hz)).abs() < 0.5,
            "{hz} Hz: {} vs {}",
            band(hz),
            expect(hz)
        );
    }
    assert!(c["loudness_difference_lu"].as_f64().unwrap() < 0.0);
    for stem in ["spectrum", "loudness", "waveform"] {
        let svg = std::fs::read_to_string(sb.path(&format!("plots/{stem}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{stem}.svg: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let png = std::fs::read(sb.path(&format!("plots/{stem}.png"))).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        assert!(reader.info().width >= 640, "{stem}.png");
    }
    let spectrum = std::fs::read_to_string(sb.path("plots/spectrum.svg")).unwrap();
    for series in ["file mid", "file side", "reference mid", "reference side"] {
        assert!(
            spectrum.contains(&format!("data-series=\"{series}\"")),
            "{series} missing"
        );
    }
    assert!(spectrum.contains("Frequency (Hz)"));
}
