//! Mastering through the binary: the target stage lands every output on its loudness within
//! tolerance and under its ceiling (checked with ebur128 and a band-limited true-peak
//! reconstruction on the delivered files), gates fail with exit 3, and --strict promotes
//! warnings to failures.

mod common;

use common::*;
use ebur128::{EbuR128, Mode};
use mixdown::testkit::Noise;

fn levels(path: &std::path::Path) -> (f64, f64, f64) {
    let (spec, p) = read_wav(path);
    let mut e = EbuR128::new(2, spec.sample_rate, Mode::I | Mode::TRUE_PEAK).unwrap();
    e.add_frames_planar_f32(&[&p[0], &p[1]]).unwrap();
    let tp4 = (0..2).map(|c| e.true_peak(c).unwrap()).fold(0.0, f64::max);
    let tp_exact = mixdown::dsp::truepeak::true_peak(&p);
    (
        e.loudness_global().unwrap(),
        20.0 * tp4.log10(),
        20.0 * f64::from(tp_exact).log10(),
    )
}

/// A bright, dense two-track mix with energy close to Nyquist (the hard case for true peak).
fn bright_mix(sb: &Sandbox) {
    let mut r = Noise::new(12345);
    sb.stem_f32("noise.wav", 48000, 2, 48000 * 8, move |_, n| {
        let w = 0.5 * r.uniform();
        let beat = (n % 24000) as f32 / 24000.0;
        0.6 * w * (-beat * 6.0).exp()
    });
    sb.stem_f32("tone.wav", 44100, 1, 44100 * 8, |_, n| {
        let t = n as f32 / 44100.0;
        0.3 * (2.0 * std::f32::consts::PI * 110.0 * t).sin()
            + 0.1 * (2.0 * std::f32::consts::PI * 17000.0 * t).sin()
    });
}

#[test]
fn every_output_lands_on_target_under_the_ceiling() {
    let sb = Sandbox::new();
    bright_mix(&sb);
    sb.write(
        "s.toml",
        r#"
[session]
sample_rate = 48000
[[track]]
name = "noise"
file = "noise.wav"
[[track]]
name = "tone"
file = "tone.wav"
[master]
fx = [{ type = "eq", bands = [{ kind = "highshelf", freq_hz = 8000.0, gain_db = 3.0 }] }]
target = { lufs = -11.0, ceiling_dbtp = -1.0, tolerance_lu = 0.3 }
[[output]]
path = "a.wav"
[[output]]
path = "b.wav"
sample_rate = 48000
bit_depth = 24
[[output]]
path = "c.wav"
sample_rate = 96000
bit_depth = 32
"#,
    );
    let out = sb.run(&["render", "s.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for f in ["a.wav", "b.wav", "c.wav"] {
        let (i, tp4, tp) = levels(&sb.path(f));
        eprintln!("{f}: {i:.3} LUFS, TP 4x {tp4:.3}, exact {tp:.3} dBTP");
        assert!((i + 11.0).abs() <= 0.1, "{f}: {i} LUFS");
        assert!(tp4 <= -1.0 && tp <= -1.0, "{f}: {tp4} / {tp} dBTP");
    }
    let r = report(&sb.path("a.report.json"));
    let m = &r["master"];
    assert_eq!(m["target"]["lufs"], -11.0);
    assert!(m["stage"]["static_gain_db"].as_f64().unwrap() > 0.0);
    assert!(m["stage"]["limiter_max_reduction_db"].as_f64().unwrap() > 0.5);
    for k in [
        "loudness_range_lu",
        "max_momentary_lufs",
        "max_shortterm_lufs",
        "plr_db",
        "stereo_correlation",
        "mono_fold_loss_lu",
    ] {
        assert!(m[k].as_f64().is_some(), "master.{k} missing: {m}");
    }
    for o in r["outputs"].as_array().unwrap() {
        assert_eq!(o["loudness_ok"], true);
        assert_eq!(o["true_peak_ok"], true);
        assert_eq!(o["requested_lufs"], -11.0);
    }
}

#[test]
fn presets_set_loudness_and_ceiling() {
    let sb = Sandbox::new();
    bright_mix(&sb);
    sb.write(
        "s.toml",
        "[[track]]\nname = \"noise\"\nfile = \"noise.wav\"\n[master]\ntarget = { preset = \"apple\" }\n[[output]]\npath = \"o.wav\"\n",
    );
    let out = sb.run(&["render", "s.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (i, _, tp) = levels(&sb.path("o.wav"));
    assert!((i + 16.0).abs() <= 0.1, "{i}");
    assert!(tp <= -1.0, "{tp}");
}

#[test]
fn an_unreachable_target_fails_its_gate_with_exit_3() {
    let sb = Sandbox::new();
    // Sparse clicks: whatever the gain, the limiter holds them at the ceiling, so -6 LUFS is out
    // of reach. The render still writes its files and says by how much it missed.
    sb.stem_f32("clicks.wav", 48000, 1, 48000 * 4, |_, n| {
        if n % 12000 < 10 { 0.5 } else { 0.0 }
    });
    sb.write(
        "s.toml",
        "[[track]]\nname = \"c\"\nfile = \"clicks.wav\"\n[master]\ntarget = { lufs = -6.0, ceiling_dbtp = -1.0 }\n[[output]]\npath = \"o.wav\"\n",
    );
    let out = sb.run(&["render", "s.toml"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("gate failed: o.wav: integrated loudness"),
        "{err}"
    );
    assert!(
        err.contains("of limiting"),
        "heavy limiting is reported: {err}"
    );
    assert!(sb.path("o.wav").exists());
    let r = report(&sb.path("o.report.json"));
    assert_eq!(r["outputs"][0]["loudness_ok"], false);
    assert_eq!(r["outputs"][0]["true_peak_ok"], true);
}

#[test]
fn strict_turns_warnings_into_failures() {
    let sb = Sandbox::new();
    // A mix peaking at -1 dBFS: no headroom for mastering, a warning.
    sb.stem_f32("hot.wav", 48000, 2, 48000, |_, n| {
        0.89 * (n as f32 * 0.01).sin()
    });
    sb.write(
        "s.toml",
        "[[track]]\nname = \"h\"\nfile = \"hot.wav\"\n[[output]]\npath = \"o.wav\"\n",
    );
    let out = sb.run(&["render", "s.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: the mix bus entering the master peaks at"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("trim the mix by"), "{}", stderr(&out));
    let out = sb.run(&["render", "s.toml", "--strict"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("gate failed: --strict: the mix bus"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_silent_master_is_reported_not_forced() {
    let sb = Sandbox::new();
    sb.stem_f32("z.wav", 48000, 2, 48000, |_, _| 0.0);
    sb.write(
        "s.toml",
        "[[track]]\nname = \"z\"\nfile = \"z.wav\"\n[master]\ntarget = { lufs = -14.0 }\n[[output]]\npath = \"o.wav\"\n",
    );
    let out = sb.run(&["render", "s.toml"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the master is silent"),
        "{}",
        stderr(&out)
    );
}

/// A song shorter than one 400 ms gating block (BS.1770-4 section 5.1) has no integrated
/// loudness; that is not silence. A 10 ms 1 kHz tone at -12 dBFS, mono, centre-panned
/// (constant power: -3.01 dB on each side) says so, and still reports its peak and true peak.
#[test]
fn a_master_shorter_than_a_gating_block_is_too_short_not_silent() {
    let sb = Sandbox::new();
    let amp = 10f32.powf(-12.0 / 20.0);
    // 480 frames at 48 kHz: ten whole cycles, so the 12th sample of each sits on the crest.
    sb.stem_i16("tone.wav", 48000, 1, 480, |_, n| {
        amp * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 48000.0).sin()
    });
    sb.write(
        "s.toml",
        "[session]\nname = \"t\"\nsample_rate = 48000\n[[track]]\nname = \"t\"\nfile = \"tone.wav\"\n[master]\ntarget = { lufs = -14.0 }\n[[output]]\npath = \"o.wav\"\nsample_rate = 48000\n",
    );
    let out = sb.run(&["render", "s.toml"]);
    let err = stderr(&out);
    // The target cannot be met, so its gate fails; the file is written as mixed.
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(
            "the master is 0.01 s long, too short to measure integrated loudness (needs 0.4 s)"
        ),
        "{err}"
    );
    assert!(
        err.contains("gate failed: o.wav: 0.01 s long, too short to measure integrated loudness"),
        "{err}"
    );
    assert!(!err.contains("silent"), "not silent: {err}");
    assert!(!err.contains("-inf"), "no loudness is not -inf: {err}");
    let expected = -12.0 + 20.0 * std::f64::consts::FRAC_1_SQRT_2.log10();
    assert!(
        err.contains(&format!(
            "peak {expected:.1} dBFS, true peak {expected:.1} dBTP"
        )),
        "{err}"
    );
    let r = report(&sb.path("o.report.json"));
    for levels in [&r["mix"], &r["outputs"][0]] {
        let peak = levels["sample_peak_dbfs"].as_f64().expect("a sample peak");
        let tp = levels["true_peak_dbtp"].as_f64().expect("a true peak");
        assert!((peak - expected).abs() <= 0.02, "{peak} vs {expected}");
        // Ten whole cycles with no step at either end: the true peak is the crest's.
        assert!(tp >= peak - 0.01 && tp <= peak + 0.1, "{tp} vs {peak}");
        assert!(levels["integrated_lufs"].is_null(), "{levels}");
    }
}

/// Fade shapes written out independently of the crate: gain of a fade-in at `t`.
fn fade_shape(curve: &str, t: f64) -> f64 {
    use std::f64::consts::PI;
    match curve {
        "equal_power" => (PI * t / 2.0).sin(),
        "s_curve" => (1.0 - (PI * t).cos()) / 2.0,
        _ => unreachable!(),
    }
}

/// `[master]` fades come after the target stage: the static gain is the unfaded song's, the
/// delivered envelope is the unfaded delivery times the fade's formula, and a long fade-out
/// does not fail the loudness gate, which judges the song before its fades.
#[test]
fn master_fades_follow_their_formula_after_the_target_stage() {
    let sb = Sandbox::new();
    let rate = 48000;
    let frames = rate as usize * 6;
    let tone = mixdown::testkit::sine(frames, f64::from(rate), 1000.0, 0.1);
    sb.stem_f32("tone.wav", rate, 2, frames, |_, n| tone[n]);
    let session = |fades: &str| {
        format!(
            "[session]\nsample_rate = {rate}\ntail = 0\n[[track]]\nname = \"t\"\nfile = \"tone.wav\"\n[master]\ntarget = {{ lufs = -16.0, ceiling_dbtp = -1.0 }}\n{fades}\n[[output]]\npath = \"f.wav\"\nsample_rate = {rate}\nbit_depth = 32\n[[output]]\npath = \"i.wav\"\nsample_rate = {rate}\nbit_depth = 16\n"
        )
    };
    sb.write("plain.toml", &session(""));
    let out = sb.run(&["render", "plain.toml", "-q", "--report", "plain.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_, plain) = read_wav(&sb.path("f.wav"));
    let (_, plain16) = read_wav(&sb.path("i.wav"));
    let plain_report = report(&sb.path("plain.json"));
    for curve in ["equal_power", "s_curve"] {
        // 0.5 s in (24000 frames), 3 s out (144000): half the song fades.
        sb.write(
            "faded.toml",
            &session(&format!(
                "fade_in_s = 0.5\nfade_out_s = 3.0\nfade_curve = \"{curve}\""
            )),
        );
        let out = sb.run(&["render", "faded.toml", "-q", "--report", "faded.json"]);
        assert_eq!(out.status.code(), Some(0), "{curve}: {}", stderr(&out));
        let rep = report(&sb.path("faded.json"));
        assert_eq!(
            rep["master"]["stage"]["static_gain_db"],
            plain_report["master"]["stage"]["static_gain_db"],
            "{curve}: the target's gain is the unfaded song's"
        );
        let (_, faded) = read_wav(&sb.path("f.wav"));
        let (_, faded16) = read_wav(&sb.path("i.wav"));
        assert_eq!(faded[0].len(), frames);
        let gain = |i: usize| {
            let mut g = 1.0;
            if i < 24000 {
                g *= fade_shape(curve, i as f64 / 24000.0);
            }
            let left = frames - i;
            if left <= 144_000 {
                g *= fade_shape(curve, left as f64 / 144_000.0);
            }
            g
        };
        // 16-bit: each sample is within 1.5 LSB of its exact value (TPDF dither up to 1 LSB
        // either way, then rounding), so faded - g * plain is within 1.5 + 1.5 g LSB.
        let lsb = 1.0 / 32768.0;
        for c in 0..2 {
            for i in 0..frames {
                let want = f64::from(plain[c][i]) * gain(i);
                let got = f64::from(faded[c][i]);
                assert!(
                    (got - want).abs() < 1e-6,
                    "{curve} float frame {i}: {got} vs {want}"
                );
                let want16 = f64::from(plain16[c][i]) * gain(i);
                assert!(
                    (f64::from(faded16[c][i]) - want16).abs() <= (1.5 + 1.5 * gain(i)) * lsb + 1e-9,
                    "{curve} 16-bit frame {i}"
                );
            }
        }
        // The faded file is honestly quieter; the gate judges the song before its fades.
        for (k, o) in rep["outputs"].as_array().unwrap().iter().enumerate() {
            let p = &plain_report["outputs"][k];
            let (delivered, before) = (
                o["integrated_lufs"].as_f64().unwrap(),
                o["integrated_lufs_before_fades"].as_f64().unwrap(),
            );
            // Further below the target than the tolerance (0.5 LU): judged on the faded file,
            // the gate would fail.
            assert!(delivered < -16.5, "{curve}: {delivered} vs {before}");
            assert!((before + 16.0).abs() <= 0.5, "{curve}: {before}");
            assert!(
                (before - p["integrated_lufs"].as_f64().unwrap()).abs() <= 0.02,
                "{curve}: before the fades = the unfaded delivery"
            );
            assert_eq!(o["loudness_ok"], true);
        }
        assert!(
            plain_report["outputs"][0]
                .get("integrated_lufs_before_fades")
                .is_none()
        );
    }
}

#[test]
fn master_fades_longer_than_the_song_fail_the_render() {
    let sb = Sandbox::new();
    sb.stem_f32("tone.wav", 48000, 1, 48000, |_, n| {
        if n % 100 < 50 { 0.1 } else { -0.1 }
    });
    sb.write(
        "s.toml",
        "[session]\ntail = 0\n[[track]]\nname = \"t\"\nfile = \"tone.wav\"\n[master]\nfade_in_s = 0.6\nfade_out_s = 0.6\n[[output]]\npath = \"o.wav\"\n",
    );
    let out = sb.run(&["render", "s.toml", "-q"]);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("[master] fade_in_s + fade_out_s"), "{err}");
    assert!(!sb.path("o.wav").exists());
}
