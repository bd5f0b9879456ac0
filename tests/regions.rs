//! Regions of a stem (`start_s`, `end_s`) and fades (`fade_in_s`, `fade_out_s`, `fade_curve`)
//! through the whole binary, against their arithmetic: exact float stems in, 32-bit float out
//! without dither or master processing.

mod common;

use common::*;

const RATE: u32 = 48000;

/// Fade shapes written out independently of the crate: gain of a fade-in at `t`.
fn shape(curve: &str, t: f64) -> f64 {
    use std::f64::consts::PI;
    match curve {
        "linear" => t,
        "equal_power" => (PI * t / 2.0).sin(),
        "s_curve" => (1.0 - (PI * t).cos()) / 2.0,
        "exponential" => (1000f64.powf(t) - 1.0) / 999.0,
        _ => unreachable!(),
    }
}

#[test]
fn a_region_plays_the_chosen_frames_where_the_arithmetic_says() {
    let sb = Sandbox::new();
    // Stereo ramp: frame i holds i / 100000 on the left and -i / 100000 on the right.
    sb.stem_f32("ramp.wav", RATE, 2, 48000, |c, i| {
        let v = i as f32 / 100_000.0;
        if c == 0 { v } else { -v }
    });
    // Frames 12000 .. 24000 of the stem, placed 0.5 s (24000 frames) into the song.
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"r\"\nfile = \"ramp.wav\"\noffset_s = 0.5\nstart_s = 0.25\nend_s = 0.5\n",
    );
    assert_eq!(p[0].len(), 24000 + 12000, "song = offset + region");
    assert!(p[0][..24000].iter().all(|&x| x == 0.0), "silence before");
    for k in 0..12000 {
        let want = (12000 + k) as f32 / 100_000.0;
        assert_eq!(p[0][24000 + k], want, "left frame {k}");
        assert_eq!(p[1][24000 + k], -want, "right frame {k}");
    }
}

#[test]
fn fades_follow_their_formulas_frame_by_frame() {
    let sb = Sandbox::new();
    sb.stem_f32("dc.wav", RATE, 2, 48000, |_, _| 0.5);
    for curve in ["linear", "equal_power", "s_curve", "exponential"] {
        // Region of 0.5 s (24000 frames): fade in 0.1 s (4800), fade out 0.2 s (9600).
        let p = sb.render_float(
            RATE,
            &format!(
                "[[track]]\nname = \"d\"\nfile = \"dc.wav\"\nstart_s = 0.1\nend_s = 0.6\nfade_in_s = 0.1\nfade_out_s = 0.2\nfade_curve = \"{curve}\"\n"
            ),
        );
        assert_eq!(p[0].len(), 24000, "{curve}: length");
        for (i, &x) in p[0].iter().enumerate() {
            let mut g = 1.0;
            if i < 4800 {
                g *= shape(curve, i as f64 / 4800.0);
            }
            let left = 24000 - i;
            if left <= 9600 {
                g *= shape(curve, left as f64 / 9600.0);
            }
            assert!(
                (f64::from(x) - 0.5 * g).abs() < 1e-7,
                "{curve} frame {i}: {x} vs {}",
                0.5 * g
            );
            assert_eq!(x, p[1][i], "{curve}: channels differ at {i}");
        }
        assert_eq!(p[0][0], 0.0, "{curve}: the fade-in starts silent");
        assert_eq!(p[0][10000], 0.5, "{curve}: unity between the fades");
    }
}

#[test]
fn a_region_without_end_plays_to_the_stem_end_and_can_fade_out() {
    let sb = Sandbox::new();
    sb.stem_f32("dc.wav", RATE, 1, 4800, |_, _| 0.5);
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"d\"\nfile = \"dc.wav\"\npan = -1.0\nstart_s = 0.05\nfade_out_s = 0.05\nfade_curve = \"linear\"\n",
    );
    // 4800 - 2400 frames remain; the last 2400 fade out linearly.
    assert_eq!(p[0].len(), 2400);
    for (i, &x) in p[0].iter().enumerate() {
        let want = 0.5 * (2400 - i) as f64 / 2400.0;
        assert!(
            (f64::from(x) - want).abs() < 1e-7,
            "frame {i}: {x} vs {want}"
        );
    }
}

#[test]
fn bad_regions_are_located_errors() {
    let sb = Sandbox::new();
    sb.stem_f32("one.wav", RATE, 2, 48000, |_, _| 0.1);
    let cases = [
        (
            "start_s = 0.5\nend_s = 0.4",
            "end_s",
            "must be after start_s",
        ),
        ("end_s = 2.5", "end_s", "past the end of the stem (1.000 s)"),
        (
            "start_s = 1.0",
            "start_s",
            "at or after the end of the stem",
        ),
        (
            "end_s = 0.5\nfade_in_s = 0.3\nfade_out_s = 0.3",
            "fade_out_s",
            "longer than the region (0.500 s)",
        ),
        ("fade_curve = \"log\"", "fade_curve", "must be one of"),
        ("fade_in_s = -1", "fade_in_s", ""),
    ];
    for (keys, key, says) in cases {
        sb.write(
            "s.toml",
            &format!(
                "[session]\nname = \"t\"\nsample_rate = {RATE}\n[[track]]\nname = \"a\"\nfile = \"one.wav\"\n{keys}\n[[output]]\npath = \"out.wav\"\n"
            ),
        );
        for cmd in ["check", "render"] {
            let out = sb.run(&[cmd, "s.toml"]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {keys}: {err}");
            assert!(
                err.contains(&format!("\"a\".{key}")) || err.contains(key),
                "{keys}: {err}"
            );
            assert!(err.contains(says), "{keys}: {err}");
            assert!(err.contains("s.toml:"), "{keys}: located: {err}");
        }
        assert!(!sb.path("out.wav").exists());
    }
}
