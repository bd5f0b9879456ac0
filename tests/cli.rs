//! The binary as a black box: exit statuses, messages, files written and not written.

mod common;

use common::*;

/// Every `fixtures/sessions/bad-*.toml` names its expected messages in `# expect:` lines. Both
/// `check` and `render` must exit 2 with each message, and a render must write nothing.
#[test]
fn every_bad_session_fails_with_its_message_and_writes_nothing() {
    let dir = fixtures().join("sessions");
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with("bad-") && f.ends_with(".toml"))
        })
        .collect();
    entries.sort();
    let before = Sandbox::new();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let expects: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expects.is_empty(),
            "{} has no # expect: line",
            path.display()
        );
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        for cmd in ["check", "render"] {
            // Run from a scratch folder with an absolute session path, so a stray write would
            // land somewhere we look.
            let out = before.run(&[cmd, path.to_str().unwrap()]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {name}: {err}");
            for e in &expects {
                assert!(err.contains(e), "{cmd} {name}: expected {e:?} in:\n{err}");
            }
            assert!(!err.contains("panicked"), "{cmd} {name}: {err}");
        }
        n += 1;
    }
    assert!(n >= 30, "only {n} bad fixtures");
    assert!(before.files().is_empty(), "{:?}", before.files());
    // Nothing next to the fixtures either (no outputs, no temporary files).
    let stray: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| !f.ends_with(".toml"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert!(!fixtures().join("sessions/out").exists());
}

#[test]
fn every_problem_is_reported_at_once_with_its_location() {
    let path = fixtures().join("sessions/bad-everything.toml");
    let out = mixdown()
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 10, "{err}");
    // file:line:column of the offending key, then the key path, value, limit.
    assert!(
        err.contains(
            "bad-everything.toml:22:7: track[0] \"vox\".pan = 1.5: must be between -1 and 1"
        ),
        "{err}"
    );
    assert!(err.contains("help: did you mean `gain_db`?"), "{err}");
}

#[test]
fn help_everywhere() {
    for args in [
        vec!["--help"],
        vec!["render", "--help"],
        vec!["check", "--help"],
    ] {
        let out = mixdown().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: mixdown"), "{text}");
    }
    let out = mixdown().args(["render", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--output", "--jobs", "--report", "--quiet"] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec![],
        vec!["render"],
        vec!["frobnicate"],
        vec!["render", "x.toml", "--jobs", "0"],
    ] {
        let out = mixdown().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = mixdown()
        .args(["check", "/no/such/session.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read session file /no/such/session.toml"),
        "{}",
        stderr(&out)
    );
}

fn small_session(sb: &Sandbox) {
    sb.stem_i16("stems/a.wav", 44100, 1, 44100, |_, n| {
        0.25 * (n as f32 * 0.0627).sin()
    });
    sb.stem_f32("stems/b.wav", 48000, 2, 24000, |c, n| {
        let g = if c == 0 { 0.2 } else { -0.1 };
        g * (n as f32 * 0.031).sin()
    });
    sb.write(
        "song.toml",
        r#"
[session]
name = "Small"

[[track]]
name = "a"
file = "stems/a.wav"
gain_db = -3.0
pan = -0.3
sends = [{ bus = "fx", level_db = -6.0 }]

[[track]]
name = "b"
file = "stems/b.wav"
offset_s = 0.25
output = "fx"

[[bus]]
name = "fx"
fx = [{ type = "gain", gain_db = -2.0 }]

[[output]]
path = "out/small.wav"

[[output]]
path = "out/small-48k-float.wav"
sample_rate = 48000
bit_depth = 32

[metadata]
title = "Small"
artist = "Tester"
isrc = "USABC2600003"
upc = "012345678905"
"#,
    );
}

#[test]
fn check_accepts_a_good_session_and_writes_nothing() {
    let sb = Sandbox::new();
    small_session(&sb);
    let before = sb.files();
    let out = sb.run(&["check", "song.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("ok"), "{}", stderr(&out));
    assert_eq!(sb.files(), before);
}

#[test]
fn render_writes_every_output_and_the_report() {
    let sb = Sandbox::new();
    small_session(&sb);
    let input_hashes: Vec<String> = ["stems/a.wav", "stems/b.wav", "song.toml"]
        .iter()
        .map(|f| file_sha(&sb.path(f)))
        .collect();
    let out = sb.run(&["render", "song.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let files = sb.files();
    assert_eq!(
        files,
        [
            "out/small-48k-float.wav",
            "out/small.report.json",
            "out/small.wav",
            "song.toml",
            "stems/a.wav",
            "stems/b.wav"
        ]
    );
    // Inputs untouched.
    let after: Vec<String> = ["stems/a.wav", "stems/b.wav", "song.toml"]
        .iter()
        .map(|f| file_sha(&sb.path(f)))
        .collect();
    assert_eq!(input_hashes, after);

    let (spec, planes) = read_wav(&sb.path("out/small.wav"));
    assert_eq!(
        (spec.sample_rate, spec.bits_per_sample, spec.channels),
        (44100, 16, 2)
    );
    // Session rate: a tie between 44.1k and 48k stems goes to 48k; the song lasts until
    // b ends at 0.25 + 0.5 s = 0.75 s, but a lasts 1 s: 44100 frames at 44.1 kHz.
    assert_eq!(planes[0].len(), 44100);
    let (spec, planes) = read_wav(&sb.path("out/small-48k-float.wav"));
    assert_eq!((spec.sample_rate, spec.bits_per_sample), (48000, 32));
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    assert_eq!(planes[0].len(), 48000);

    let r = report(&sb.path("out/small.report.json"));
    assert_eq!(r["session"]["name"], "Small");
    assert_eq!(r["session"]["sample_rate"], 48000);
    assert_eq!(r["tracks"].as_array().unwrap().len(), 2);
    assert_eq!(r["tracks"][1]["source_sample_rate"], 48000);
    assert!(r["tracks"][0]["integrated_lufs"].as_f64().unwrap() < -10.0);
    assert!(r["mix"]["true_peak_dbtp"].as_f64().is_some());
    assert_eq!(r["outputs"].as_array().unwrap().len(), 2);
    let o = &r["outputs"][0];
    assert_eq!(o["bit_depth"], 16);
    assert_eq!(o["dither"], "tpdf");
    assert_eq!(o["clipped_samples"], 0);
    assert_eq!(o["sha256"].as_str().unwrap().len(), 64);
    assert!(r["render"]["realtime_factor"].as_f64().unwrap() > 0.0);
    assert_eq!(r["gate_failures"].as_array().unwrap().len(), 0);
}

#[test]
fn output_override_and_report_path() {
    let sb = Sandbox::new();
    small_session(&sb);
    let out = sb.run(&[
        "render",
        "song.toml",
        "-o",
        "elsewhere/x.wav",
        "--report",
        "r/rep.json",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "-q printed: {}", stderr(&out));
    assert!(sb.path("elsewhere/x.wav").exists());
    assert!(sb.path("out/small-48k-float.wav").exists());
    assert!(!sb.path("out/small.wav").exists());
    let r = report(&sb.path("r/rep.json"));
    assert!(
        r["outputs"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("elsewhere/x.wav")
    );
    // -o onto an input is refused like any other output.
    let out = sb.run(&["render", "song.toml", "-o", "stems/a.wav"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("names an input of this session"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn same_bytes_for_any_thread_count_and_run() {
    let sb = Sandbox::new();
    small_session(&sb);
    let mut hashes = Vec::new();
    for jobs in ["1", "2", "1", "3"] {
        let out = sb.run(&["render", "song.toml", "--jobs", jobs, "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        hashes.push((
            file_sha(&sb.path("out/small.wav")),
            file_sha(&sb.path("out/small-48k-float.wav")),
        ));
    }
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
}

#[test]
fn the_mastered_demo_is_byte_identical_across_thread_counts() {
    // Every processor family on the way (EQ, compressors with a sidechain, de-esser, delay,
    // plate, parallel bus compression) plus the target stage and its limiter.
    let sb = Sandbox::new();
    let demo =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo/session.toml");
    let mut hashes = Vec::new();
    for jobs in ["1", "2"] {
        let out = sb.run(&[
            "render",
            demo.to_str().unwrap(),
            "-o",
            "d.wav",
            "--report",
            "d.json",
            "--jobs",
            jobs,
            "-q",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        hashes.push(file_sha(&sb.path("d.wav")));
    }
    assert_eq!(hashes[0], hashes[1]);
}

#[test]
fn a_failed_render_leaves_no_file_and_keeps_the_old_one() {
    let sb = Sandbox::new();
    // The header promises more frames than the file holds: found only while rendering.
    std::fs::create_dir_all(sb.path("stems")).unwrap();
    std::fs::copy(
        fixtures().join("stems/truncated.wav"),
        sb.path("stems/t.wav"),
    )
    .unwrap();
    sb.stem_i16("stems/ok.wav", 44100, 1, 44100, |_, n| {
        0.1 * (n as f32 * 0.05).sin()
    });
    sb.write("out/song.wav", "previous render");
    sb.write(
        "song.toml",
        "[[track]]\nname = \"ok\"\nfile = \"stems/ok.wav\"\n[[track]]\nname = \"t\"\nfile = \"stems/t.wav\"\n[[output]]\npath = \"out/song.wav\"\n",
    );
    let before = sb.files();
    let out = sb.run(&["render", "song.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("track \"t\" (stems/t.wav): truncated"),
        "{err}"
    );
    assert!(err.contains("no output was written"), "{err}");
    assert_eq!(sb.files(), before);
    assert_eq!(
        std::fs::read_to_string(sb.path("out/song.wav")).unwrap(),
        "previous render"
    );
}

#[test]
fn both_fx_spellings_render_the_same() {
    let sb = Sandbox::new();
    sb.stem_i16("a.wav", 44100, 1, 4410, |_, n| 0.3 * (n as f32 * 0.1).sin());
    sb.write(
        "inline.toml",
        "[[track]]\nname = \"a\"\nfile = \"a.wav\"\nfx = [{ type = \"gain\", gain_db = -4.5 }, { type = \"gain\", gain_db = 1.0 }]\n[[output]]\npath = \"inline.wav\"\ndither = \"none\"\n",
    );
    sb.write(
        "tables.toml",
        "[[track]]\nname = \"a\"\nfile = \"a.wav\"\n[[track.fx]]\ntype = \"gain\"\ngain_db = -4.5\n[[track.fx]]\ntype = \"gain\"\ngain_db = 1.0\n[[output]]\npath = \"tables.wav\"\ndither = \"none\"\n",
    );
    for s in ["inline.toml", "tables.toml"] {
        let out = sb.run(&["render", s, "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let (_, a) = read_wav(&sb.path("inline.wav"));
    let (_, b) = read_wav(&sb.path("tables.wav"));
    assert_eq!(a, b);
    // And the gain was applied: -3.5 dB and the -3 dB centre pan law.
    let peak = a[0].iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let want = 0.3 * 10f32.powf(-3.5 / 20.0) * std::f32::consts::FRAC_1_SQRT_2;
    assert!((peak - want).abs() < 2.0 / 32768.0, "{peak} vs {want}");
}

#[test]
fn the_demo_session_renders() {
    let sb = Sandbox::new();
    let demo =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo/session.toml");
    let out = sb.run(&[
        "render",
        demo.to_str().unwrap(),
        "-o",
        "demo.wav",
        "--report",
        "demo.json",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (spec, planes) = read_wav(&sb.path("demo.wav"));
    assert_eq!(
        (spec.sample_rate, spec.bits_per_sample, spec.channels),
        (44100, 16, 2)
    );
    assert!(planes[0].len() > 44100 * 15);
    let r = report(&sb.path("demo.json"));
    assert_eq!(r["tracks"].as_array().unwrap().len(), 5);
    assert!(r["mix"]["sample_peak_dbfs"].as_f64().unwrap() < -1.0);
}

/// A linear-phase EQ band its filter cannot follow within 0.2 dB is a warning, not an error:
/// `check` prints it with the band's key path and the miss, a render reports it (and succeeds),
/// `--strict` fails on it. Broad bands say nothing.
#[test]
fn linear_phase_bands_beyond_the_filter_are_warnings() {
    let sb = Sandbox::new();
    sb.stem_f32("a.wav", 48000, 1, 24000, |_, n| {
        0.1 * (n as f32 * 0.05).sin()
    });
    sb.write(
        "song.toml",
        r#"
[session]
tail = 0.5

[[track]]
name = "a"
file = "a.wav"
fx = [{ type = "eq", phase = "linear", bands = [{ kind = "lowshelf", freq_hz = 100.0, gain_db = 2.0 }] }]

[master]
fx = [{ type = "eq", phase = "linear", bands = [
  { kind = "highshelf", freq_hz = 8000.0, gain_db = 2.0 },
  { kind = "peak", freq_hz = 50.0, gain_db = 12.0, q = 40.0 },
  { kind = "notch", freq_hz = 60.0 },
] }]

[[output]]
path = "out.wav"
"#,
    );
    let out = sb.run(&["check", "song.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 2, "{err}");
    let peak = warnings[0];
    assert!(
        peak.contains("song.toml:13:3: master.fx[0].bands[1]"),
        "{peak}"
    );
    // The miss at 50 Hz, from the 131071-tap filter's response: 0.35 dB at 48 kHz.
    let miss: f64 = peak
        .split("misses this band by ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|x| x.parse().ok())
        .expect(peak);
    assert!(
        miss > 0.2 && miss < 1.0 && peak.contains("at 50 Hz"),
        "{peak}"
    );
    let notch = warnings[1];
    assert!(notch.contains("master.fx[0].bands[2]") && notch.contains("reaches only -"));
    assert!(!err.contains("track[0]"), "{err}");

    let out = sb.run(&["render", "song.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = report(&sb.path("out.report.json"));
    let reported: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("linear-phase"))
        .collect();
    assert_eq!(reported.len(), 2, "{reported:?}");
    assert!(
        reported[0].contains("master.fx[0].bands[1]")
            && reported[0].contains(&format!("{miss:.2} dB"))
    );
    let out = sb.run(&["render", "song.toml", "--strict", "-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

/// A stem's own peak and its samples at full scale are read from the file as decoded, before
/// any gain: the report's `source_peak_dbfs` and `source_clipped_samples` and the warning.
#[test]
fn a_clipped_stem_is_counted_before_its_gain() {
    let sb = Sandbox::new();
    let n = 30_000;
    // Left: three samples at or over full scale, the largest 2.0 (+6.02 dBFS); right: one at
    // exactly full scale for 16-bit (32767/32768), one just under it.
    sb.stem_f32("hot.wav", 48000, 2, n, move |c, i| match (c, i) {
        (0, 100) => 1.0,
        (0, 20_000) => -1.5,
        (0, 29_999) => 2.0,
        (1, 5_000) => 32767.0 / 32768.0,
        (1, 5_001) => -0.9999,
        _ => 0.1 * ((i as f32) * 0.01).sin(),
    });
    sb.write(
        "s.toml",
        "[session]\nname = \"c\"\nsample_rate = 48000\n\
         [[track]]\nname = \"hot\"\nfile = \"hot.wav\"\ngain_db = -24.0\n\
         [[output]]\npath = \"out.wav\"\nsample_rate = 48000\nbit_depth = 24\n",
    );
    let out = sb.run(&["render", "s.toml", "-q", "--report", "r.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = report(&sb.path("r.json"));
    let t = &r["tracks"][0];
    assert_eq!(t["source_clipped_samples"], 4);
    assert!((t["source_peak_dbfs"].as_f64().unwrap() - 6.02).abs() < 0.01);
    assert!(
        r["warning_codes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "stem_clipped")
    );
}
