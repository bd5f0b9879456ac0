//! Processors inside whole renders: latency compensation keeps parallel paths aligned,
//! sidechains key across tracks, tails ring out, impulse responses load from files at any rate.

mod common;

use common::*;

const RATE: u32 = 48000;

fn impulse_stem(sb: &Sandbox, name: &str, at: usize, frames: usize) {
    sb.stem_f32(
        name,
        RATE,
        1,
        frames,
        |_, n| if n == at { 0.3 } else { 0.0 },
    );
}

#[test]
fn parallel_paths_with_latency_stay_sample_aligned() {
    let sb = Sandbox::new();
    impulse_stem(&sb, "i.wav", 12000, 48000);
    // Saturation at mix 0 is the dry signal delayed by its oversampling latency; a convolution
    // reverb with a one-sample IR is its partition latency. Compensation must line every path
    // up with the plain track, at the stem's own time.
    sb.stem_f32("ir.wav", RATE, 1, 1, |_, _| 1.0);
    let p = sb.render_float(
        RATE,
        r#"
[[track]]
name = "dry"
file = "i.wav"
pan = -1.0

[[track]]
name = "late"
file = "i.wav"
pan = -1.0
fx = [{ type = "saturation", model = "tape", drive_db = 0.0, mix = 0.0 }]
sends = [{ bus = "verb", level_db = 0.0 }]

[[bus]]
name = "verb"
fx = [{ type = "reverb", ir = "ir.wav", mix = 1.0 }]
"#,
    );
    // Three aligned copies (two tracks, the bus on its own) on the left only: 3 x 0.3.
    assert_eq!(argmax(&p[0]), 12000);
    assert!((p[0][12000] - 0.9).abs() < 1e-4, "{}", p[0][12000]);
    let stray: f32 = p[0]
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 12000)
        .map(|(_, x)| x.abs())
        .fold(0.0, f32::max);
    assert!(stray < 1e-4, "energy off the aligned frame: {stray}");
    assert_eq!(p[0].len(), 48000, "latency trimmed, length kept");
}

/// A kick stem (a 0.8 sine burst on the frames `kick` picks) and a steady 80 Hz bass sine at
/// -26 dBFS, mono, `frames` long; and the level in dB of the bass ducked by the kick against
/// the plain one over a range of frames, for the two renders of `body` (with and without
/// `, sidechain = "kick"` on its compressor).
fn kick_and_bass(
    sb: &Sandbox,
    frames: usize,
    kick: impl Fn(usize) -> bool,
    body: impl Fn(&str) -> String,
) -> impl Fn(std::ops::Range<usize>) -> f32 {
    sb.stem_f32("kick.wav", RATE, 1, frames, |_, n| {
        if kick(n) {
            0.8 * (n as f32 * 0.02).sin()
        } else {
            0.0
        }
    });
    sb.stem_f32("bass.wav", RATE, 1, frames, |_, n| {
        0.05 * (2.0 * std::f32::consts::PI * 80.0 * n as f32 / RATE as f32).sin()
    });
    let plain = sb.render_float(RATE, &body(""));
    let ducked = sb.render_float(RATE, &body(", sidechain = \"kick\""));
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    move |r: std::ops::Range<usize>| 20.0 * (rms(&ducked[0][r.clone()]) / rms(&plain[0][r])).log10()
}

#[test]
fn a_kick_ducks_the_bass_through_its_sidechain() {
    let sb = Sandbox::new();
    // Kick: 50 ms bursts every 0.5 s, -5 dBFS after the centre pan. Bass: a steady 80 Hz sine
    // at -26 dBFS, below the threshold, so only the key makes the compressor act.
    let db = kick_and_bass(
        &sb,
        RATE as usize * 2,
        |n| n % (RATE as usize / 2) < 2400,
        |sc| {
            format!(
                "[[track]]\nname = \"kick\"\nfile = \"kick.wav\"\nmute = true\n[[track]]\nname = \"bass\"\nfile = \"bass.wav\"\nfx = [{{ type = \"compressor\", threshold_db = -20.0, ratio = 20.0, attack_ms = 1.0, release_ms = 60.0, knee_db = 0.0{sc} }}]\n"
            )
        },
    );
    // During a kick burst (after the attack) the ducked bass is far quieter than the plain one;
    // between bursts (after the release) it has come back.
    let d = db(24000 + 600..24000 + 2400);
    let b = db(24000 + 18000..24000 + 22000);
    assert!(d < -10.0, "ducking during the kick: {d} dB");
    assert!(b > -1.0, "recovered between kicks: {b} dB");
}

/// The master chain runs one block behind the tracks (the two overlap), so its sidechain keys
/// are the tracks' blocks of the master's own block: a master compressor keyed by a muted kick
/// ducks the bass from the kick's first frame on, not a block (4096 frames) early or late.
#[test]
fn a_master_sidechain_keys_in_time() {
    let sb = Sandbox::new();
    let onset = 5 * 4096 + 1234;
    let db = kick_and_bass(
        &sb,
        12 * 4096,
        |n| (onset..onset + 9000).contains(&n),
        |sc| {
            format!(
                "[[track]]\nname = \"kick\"\nfile = \"kick.wav\"\nmute = true\n[[track]]\nname = \"bass\"\nfile = \"bass.wav\"\n[master]\nfx = [{{ type = \"compressor\", threshold_db = -20.0, ratio = 20.0, attack_ms = 0.1, release_ms = 20.0, knee_db = 0.0{sc} }}]\n"
            )
        },
    );
    // Untouched up to the kick (a key a block early would duck here), ducked right after its
    // onset (a key a block late would not yet).
    let before = db(onset - 3000..onset);
    let after = db(onset + 100..onset + 3000);
    assert!(before.abs() < 0.01, "before the kick: {before} dB");
    assert!(after < -10.0, "from the kick's onset: {after} dB");
}

#[test]
fn an_automatic_tail_rings_out_to_minus_90_dbfs() {
    let sb = Sandbox::new();
    sb.stem_f32("burst.wav", RATE, 2, 4800, |_, n| {
        0.5 * (n as f32 * 0.05).sin()
    });
    let p = sb.render_float(
        RATE,
        r#"
[[track]]
name = "b"
file = "burst.wav"
fx = [{ type = "reverb", model = "hall", decay_s = 1.0, mix = 0.5 }]
"#,
    );
    let len = p[0].len();
    assert!(
        len > 48000,
        "the hall rings past the 0.1 s stem: {len} frames"
    );
    assert!(
        len < 48000 * 3,
        "and stops within 1.5 decay times plus margin: {len}"
    );
    let last = p[0][len - 1].abs().max(p[1][len - 1].abs());
    assert!(
        last >= 3.16e-5,
        "render ends on the last sample at or above -90 dBFS"
    );
    let tail_max = p
        .iter()
        .flat_map(|c| c[len - 480..].iter())
        .fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(tail_max < 1e-3, "quiet at the end: {tail_max}");
}

#[test]
fn a_numeric_tail_is_exact() {
    let sb = Sandbox::new();
    sb.stem_f32("burst.wav", RATE, 2, 4800, |_, n| {
        0.5 * (n as f32 * 0.05).sin()
    });
    sb.write(
        "s.toml",
        "[session]\ntail = 2.5\nsample_rate = 48000\n[[track]]\nname = \"b\"\nfile = \"burst.wav\"\nfx = [{ type = \"delay\", time_ms = 250.0, feedback = 0.5 }]\n[[output]]\npath = \"o.wav\"\nsample_rate = 48000\nbit_depth = 32\n",
    );
    let out = sb.run(&["render", "s.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_, p) = read_wav(&sb.path("o.wav"));
    assert_eq!(p[0].len(), 4800 + 120000);
    // The echo at 250 ms is there.
    assert!(p[0][12000..16800].iter().any(|x| x.abs() > 0.05));
}

#[test]
fn an_impulse_response_at_another_rate_is_resampled() {
    let sb = Sandbox::new();
    impulse_stem(&sb, "i.wav", 4800, 48000);
    // The 96 kHz fixture is a pure delay of 0.25 s (its impulse sits at frame 24000).
    std::fs::copy(
        fixtures().join("stems/impulse-96k-mono.wav"),
        sb.path("ir96.wav"),
    )
    .unwrap();
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"i\"\nfile = \"i.wav\"\npan = -1.0\nfx = [{ type = \"reverb\", ir = \"ir96.wav\", mix = 1.0 }]\n",
    );
    assert_eq!(argmax(&p[0]), 4800 + 12000, "0.1 s + 0.25 s at 48 kHz");
}

#[test]
fn every_processor_renders_and_the_example_session_works() {
    let sb = Sandbox::new();
    let example = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/all-processors/session.toml");
    let out = sb.run(&[
        "render",
        example.to_str().unwrap(),
        "-o",
        "all.wav",
        "--report",
        "all.json",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_, p) = read_wav(&sb.path("all.wav"));
    assert!(p[0].iter().any(|&x| x.abs() > 0.01));
    let r = report(&sb.path("all.json"));
    assert!(r["outputs"][0]["clipped_samples"].as_u64() == Some(0));
}
