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

/// `[[track]]` with `regions` (and the track's other keys), in a float render at `RATE`.
fn regions_track(regions: &str, extra: &str) -> String {
    format!("[[track]]\nname = \"r\"\n{extra}regions = [\n{regions}\n]\n")
}

#[test]
fn several_regions_of_mono_and_stereo_files_land_where_the_arithmetic_says() {
    let sb = Sandbox::new();
    // A mono impulse at frame 1000, a stereo one at frame 300 (+0.5 left, -0.25 right).
    sb.stem_f32(
        "a.wav",
        RATE,
        1,
        4800,
        |_, i| if i == 1000 { 0.5 } else { 0.0 },
    );
    sb.stem_f32("b.wav", RATE, 2, 4800, |c, i| match (c, i) {
        (0, 300) => 0.5,
        (1, 300) => -0.25,
        _ => 0.0,
    });
    let p = sb.render_float(
        RATE,
        &regions_track(
            "{ file = \"a.wav\", at_s = 0.1, start_s = 0.01 },\n\
             { file = \"b.wav\", at_s = 0.5, end_s = 0.05, gain_db = -6.0 },\n\
             { file = \"a.wav\", at_s = 0.3, start_s = 0.02, end_s = 0.05 }",
            "",
        ),
    );
    // Song: the last region ends at 0.5 s + 0.05 s = 26400 frames.
    assert_eq!(p[0].len(), 26400);
    // at_s + (impulse - start_s), in frames: 4800 + 1000 - 480, 14400 + 1000 - 960,
    // 24000 + 300 - 0. A mono file plays dual mono; a region's gain_db scales it.
    let g = 10f32.powf(-6.0 / 20.0);
    let mut want = [vec![0.0f32; 26400], vec![0.0f32; 26400]];
    for (i, l, r) in [
        (5320, 0.5, 0.5),
        (14440, 0.5, 0.5),
        (24300, 0.5 * g, -0.25 * g),
    ] {
        want[0][i] = l;
        want[1][i] = r;
    }
    for c in 0..2 {
        for (i, (&x, &w)) in p[c].iter().zip(&want[c]).enumerate() {
            assert!((x - w).abs() < 1e-7, "channel {c} frame {i}: {x} vs {w}");
        }
    }
}

#[test]
fn a_region_at_another_rate_is_resampled_in_place() {
    let sb = Sandbox::new();
    sb.stem_f32("fast.wav", 96_000, 1, 9600, |_, i| {
        if i == 4800 { 0.5 } else { 0.0 }
    });
    sb.stem_f32("pad.wav", RATE, 1, 4800, |_, _| 0.0);
    let p = sb.render_float(
        RATE,
        &regions_track(
            "{ file = \"pad.wav\" },\n{ file = \"fast.wav\", at_s = 0.25, start_s = 0.02 }",
            "",
        ),
    );
    // The impulse is 0.05 s into the file, 0.03 s into the region: 0.28 s in the song.
    let peak = argmax(&p[0].iter().map(|x| x.abs()).collect::<Vec<_>>());
    assert_eq!(peak, 13440, "impulse at 0.28 s x 48 kHz");
}

#[test]
fn overlapping_regions_crossfade_by_their_formulas() {
    let sb = Sandbox::new();
    sb.stem_f32("a.wav", RATE, 2, 48000, |_, _| 0.5);
    sb.stem_f32("b.wav", RATE, 1, 48000, |_, _| 0.5);
    // a: 0 .. 0.5 s (24000 frames); b from 0.4 s: an overlap of 4800 frames.
    for curve in ["linear", "equal_power", "s_curve", "exponential"] {
        let p = sb.render_float(
            RATE,
            &regions_track(
                "{ file = \"a.wav\", end_s = 0.5 },\n{ file = \"b.wav\", at_s = 0.4, end_s = 0.5 }",
                &format!("fade_curve = \"{curve}\"\n"),
            ),
        );
        assert_eq!(p[0].len(), 19200 + 24000, "{curve}");
        for (f, &x) in p[0].iter().enumerate() {
            let want = if (19200..24000).contains(&f) {
                let j = (f - 19200) as f64;
                0.5 * (shape(curve, j / 4800.0) + shape(curve, (4800.0 - j) / 4800.0))
            } else {
                0.5
            };
            assert!(
                (f64::from(x) - want).abs() < 1e-6,
                "{curve} frame {f}: {x} vs {want}"
            );
            assert_eq!(x, p[1][f], "{curve}: channels differ at {f}");
        }
        // The mirror images: a linear pair sums to one, an equal-power pair keeps the power
        // (so two equal signals rise at most 3 dB, half way).
        let mid = f64::from(p[0][19200 + 2400]) / 0.5;
        match curve {
            "linear" => assert!((mid - 1.0).abs() < 1e-6),
            "equal_power" => assert!((mid - 2f64.sqrt()).abs() < 1e-6),
            _ => {}
        }
    }
}

#[test]
fn a_fade_longer_than_the_overlap_is_kept() {
    let sb = Sandbox::new();
    sb.stem_f32("a.wav", RATE, 1, 48000, |_, _| 0.5);
    let p = sb.render_float(
        RATE,
        &regions_track(
            "{ file = \"a.wav\", end_s = 0.5, fade_out_s = 0.2 },\n\
             { file = \"a.wav\", at_s = 0.4, end_s = 0.5 }",
            "fade_curve = \"linear\"\npan = -1.0\n",
        ),
    );
    // a fades out over its last 9600 frames (from 14400), b fades in over the 4800 of overlap.
    for (f, &x) in p[0].iter().enumerate().take(30000) {
        let ga = if f < 14400 {
            1.0
        } else if f < 24000 {
            (24000 - f) as f64 / 9600.0
        } else {
            0.0
        };
        let gb = if f < 19200 {
            0.0
        } else {
            ((f - 19200) as f64 / 4800.0).min(1.0)
        };
        let want = 0.5 * (ga + gb);
        assert!(
            (f64::from(x) - want).abs() < 1e-6,
            "frame {f}: {x} vs {want}"
        );
    }
}

#[test]
fn bad_region_lists_are_located_errors() {
    let sb = Sandbox::new();
    sb.stem_f32("one.wav", RATE, 2, 48000, |_, _| 0.1);
    let r = |s: &str| format!("regions = [{s}]");
    let cases = [
        (
            format!("file = \"one.wav\"\n{}", r("{ file = \"one.wav\" }")),
            "\"a\".file",
            "either `file` or `regions`",
        ),
        (
            format!("offset_s = 1.0\n{}", r("{ file = \"one.wav\" }")),
            "\"a\".offset_s",
            "sets this in each region",
        ),
        (r(""), "\"a\".regions", "an empty list"),
        (r("{ at_s = 1.0 }"), "regions[0].file", "missing"),
        (
            r("{ file = \"one.wav\", at_s = -0.5 }"),
            "regions[0].at_s",
            "",
        ),
        (
            r("{ file = \"one.wav\", start_s = 0.5, end_s = 0.4 }"),
            "regions[0].end_s",
            "must be after start_s",
        ),
        (
            r("{ file = \"one.wav\" }, { file = \"one.wav\", at_s = 2, end_s = 1.5 }"),
            "regions[1].end_s",
            "past the end of the stem (1.000 s)",
        ),
        (
            r("{ file = \"one.wav\", end_s = 0.5, fade_in_s = 0.3, fade_out_s = 0.3 }"),
            "regions[0].fade_out_s",
            "longer than the region (0.500 s)",
        ),
        (
            r(
                "{ file = \"one.wav\" }, { file = \"one.wav\", at_s = 0.5 }, { file = \"one.wav\", at_s = 0.8 }",
            ),
            "regions[2].at_s",
            "three regions overlap at 0.800 s",
        ),
        (
            r("{ file = \"one.wav\" }, { file = \"one.wav\", at_s = 0.2, end_s = 0.5 }"),
            "regions[1].at_s",
            "lies within regions[0]",
        ),
        (
            r("{ file = \"one.wav\", at_s = 1 }, { file = \"one.wav\", at_s = 1 }"),
            "regions[1].at_s",
            "starts where regions[0] starts",
        ),
        (
            r("{ file = \"one.wav\", fade_in_s = 0.6 }, { file = \"one.wav\", at_s = 0.5 }"),
            "regions[0]",
            "longer than the region (1.000 s)",
        ),
    ];
    for (keys, key, says) in &cases {
        sb.write(
            "s.toml",
            &format!(
                "[session]\nname = \"t\"\nsample_rate = {RATE}\n[[track]]\nname = \"a\"\n{keys}\n[[output]]\npath = \"out.wav\"\n"
            ),
        );
        for cmd in ["check", "render"] {
            let out = sb.run(&[cmd, "s.toml"]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {keys}: {err}");
            assert!(err.contains(key), "{cmd} {keys}: wants {key}: {err}");
            assert!(err.contains(says), "{cmd} {keys}: wants {says}: {err}");
            assert!(err.contains("s.toml:"), "{keys}: located: {err}");
        }
        assert!(!sb.path("out.wav").exists());
    }
}

/// Every region's file is decoded to its end by `render` as by `check`, heard or muted, and
/// named when it is damaged; every region's file is an input of the report.
#[test]
fn every_region_file_is_checked_and_listed() {
    let sb = Sandbox::new();
    sb.stem_i16("good.wav", 44100, 1, 4410, |_, _| 0.1);
    let bad = std::fs::read(fixtures().join("stems/truncated.wav")).unwrap();
    std::fs::write(sb.path("bad.wav"), bad).unwrap();
    for muted in [false, true] {
        sb.write(
            "s.toml",
            &format!(
                "[session]\nname = \"t\"\n[[track]]\nname = \"a\"\nmute = {muted}\nregions = [{{ file = \"good.wav\" }}, {{ file = \"bad.wav\", at_s = 0.2, end_s = 0.01 }}]\n[[track]]\nname = \"b\"\nfile = \"good.wav\"\n[[output]]\npath = \"out.wav\"\n"
            ),
        );
        for cmd in ["check", "render"] {
            let out = sb.run(&[cmd, "s.toml", "-q"]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} muted {muted}: {err}");
            assert!(err.contains("bad.wav"), "{cmd}: names the file: {err}");
            assert!(
                err.contains("the header promises 11025 frames but the file holds 4410"),
                "{cmd} muted {muted}: {err}"
            );
            assert!(!sb.path("out.wav").exists());
        }
    }
    sb.stem_i16("other.wav", 44100, 2, 4410, |_, _| 0.1);
    sb.write(
        "s.toml",
        "[session]\nname = \"t\"\n[[track]]\nname = \"a\"\nregions = [{ file = \"good.wav\" }, { file = \"other.wav\", at_s = 0.05 }]\n[[output]]\npath = \"out.wav\"\n",
    );
    let out = sb.run(&["render", "s.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rep = report(&sb.path("out.report.json"));
    let inputs = rep["inputs"].to_string();
    for f in ["good.wav", "other.wav"] {
        assert!(inputs.contains(f), "{f} missing from {inputs}");
        assert!(inputs.contains(&file_sha(&sb.path(f))), "{f}'s hash");
    }
}

/// A track of many regions in a row opens each file when the song reaches it and closes it
/// when the region has played: never more than the two of a crossfade at once.
#[cfg(target_os = "linux")]
#[test]
fn regions_in_a_row_hold_at_most_two_files_open() {
    use mixdown::engine::source::{ClipPlan, Placed, TrackSource};
    let sb = Sandbox::new();
    let n = 40;
    let mut clips = Vec::new();
    for k in 0..n {
        let name = format!("r{k}.wav");
        sb.stem_f32(&name, RATE, 1, 1000, |_, _| 0.25);
        let path = sb.path(&name);
        let info = mixdown::io::decode::probe(&path).unwrap();
        let mut placed = Placed::whole(k as u64 * 900);
        placed.fades.len = 1000;
        placed.limit = 1000;
        clips.push(ClipPlan {
            path,
            display: name,
            info,
            placed,
            gain: 1.0,
        });
    }
    let open_here = || {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
            .filter(|p| p.starts_with(sb.dir.path()))
            .count()
    };
    let mut src = TrackSource::new(clips, RATE).unwrap();
    let (mut l, mut r) = (vec![0.0; 256], vec![0.0; 256]);
    let mut most = 0;
    let mut sum = 0.0f64;
    for _ in 0..(n * 900 + 100) / 256 + 1 {
        src.read(&mut [&mut l[..], &mut r[..]]).unwrap();
        sum += l.iter().map(|&x| f64::from(x)).sum::<f64>();
        most = most.max(open_here());
    }
    src.finish().unwrap();
    assert!(most <= 2, "{most} files open at once");
    assert!(most >= 1, "the files were read");
    assert_eq!(open_here(), 0, "every file closed at the end");
    assert!(sum > 0.0);
}
