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
