//! Automation envelopes through the whole binary, against their arithmetic: constant float
//! stems in, 32-bit float out without dither or master processing, so every frame can be
//! checked against the envelope formulas written out here independently of the crate.

mod common;

use common::*;

const RATE: u32 = 48000;

fn db(x: f64) -> f64 {
    10f64.powf(x / 20.0)
}

/// A linear envelope through `(t, v)` points, written out independently of the crate.
fn linear(points: &[(f64, f64)], t: f64) -> f64 {
    if t <= points[0].0 {
        return points[0].1;
    }
    for w in points.windows(2) {
        let ((t0, v0), (t1, v1)) = (w[0], w[1]);
        if t < t1 {
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0);
        }
    }
    points[points.len() - 1].1
}

#[test]
fn a_gain_envelope_lands_on_every_frame_where_the_arithmetic_says() {
    let sb = Sandbox::new();
    sb.stem_f32("dc.wav", RATE, 2, 48000, |_, _| 0.5);
    let pts = [(0.25, 0.0), (0.75, -12.0), (0.875, -3.0)];
    for (curve, shape) in [
        ("linear", (|u: f64| u) as fn(f64) -> f64),
        ("smooth", |u: f64| {
            (1.0 - (std::f64::consts::PI * u).cos()) / 2.0
        }),
        ("step", |_| 0.0),
    ] {
        let p = sb.render_float(
            RATE,
            &format!(
                "[[track]]\nname = \"d\"\nfile = \"dc.wav\"\n\
                 gain_db = {{ points = [[0.25, 0.0], [0.75, -12.0], [0.875, -3.0]], curve = \"{curve}\" }}\n"
            ),
        );
        assert_eq!(p[0].len(), 48000);
        for (i, &x) in p[0].iter().enumerate() {
            let t = i as f64 / f64::from(RATE);
            let g = if t < pts[0].0 {
                pts[0].1
            } else if t >= pts[2].0 {
                pts[2].1
            } else {
                let k = if t < pts[1].0 { 0 } else { 1 };
                let ((t0, v0), (t1, v1)) = (pts[k], pts[k + 1]);
                v0 + (v1 - v0) * shape((t - t0) / (t1 - t0))
            };
            let want = 0.5 * db(g);
            assert!(
                (f64::from(x) - want).abs() < 2e-7,
                "{curve} frame {i}: {x} vs {want}"
            );
            assert_eq!(x, p[1][i], "{curve}: channels differ at {i}");
        }
    }
}

#[test]
fn a_flat_envelope_gives_the_static_bytes() {
    let sb = Sandbox::new();
    sb.stem_f32("n.wav", RATE, 2, 24000, |c, i| {
        (((i * 7919 + c * 104_729) % 2000) as f32 / 1000.0 - 1.0) * 0.3
    });
    let fx = "fx = [{ type = \"eq\", bands = [{ kind = \"peak\", freq_hz = 2000.0, gain_db = 4.0, q = 2.0 }] }, \
              { type = \"compressor\", threshold_db = -20.0, makeup_db = 2.0, mix = 0.7 }]";
    let fixed = sb.render_float(
        RATE,
        &format!("[[track]]\nname = \"n\"\nfile = \"n.wav\"\ngain_db = -4.0\npan = 0.25\n{fx}\n"),
    );
    let flat = sb.render_float(
        RATE,
        &format!(
            "[[track]]\nname = \"n\"\nfile = \"n.wav\"\ngain_db = {{ points = [[0.0, -4.0]] }}\n\
             pan = {{ points = [[0.1, 0.25], [0.3, 0.25]], curve = \"smooth\" }}\n{}\n",
            fx.replace("gain_db = 4.0", "gain_db = { points = [[0.0, 4.0]] }")
                .replace("mix = 0.7", "mix = { points = [[0.0, 0.7], [0.4, 0.7]] }")
        ),
    );
    assert!(
        fixed == flat,
        "a constant envelope must give the number's samples"
    );
}

#[test]
fn a_pan_envelope_follows_the_pan_law_frame_by_frame() {
    let sb = Sandbox::new();
    sb.stem_f32("m.wav", RATE, 1, 24000, |_, _| 0.5);
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"m\"\nfile = \"m.wav\"\npan = { points = [[0.0, -1.0], [0.5, 1.0]] }\n",
    );
    assert_eq!(p[0].len(), 24000);
    for (i, (&x, &y)) in p[0].iter().zip(&p[1]).enumerate() {
        let pan = linear(&[(0.0, -1.0), (0.5, 1.0)], i as f64 / f64::from(RATE));
        let theta = (pan + 1.0) * std::f64::consts::FRAC_PI_4;
        let (l, r) = (0.5 * theta.cos(), 0.5 * theta.sin());
        assert!((f64::from(x) - l).abs() < 2e-7, "left {i}");
        assert!((f64::from(y) - r).abs() < 2e-7, "right {i}");
    }
}

#[test]
fn send_level_envelopes_pre_and_post_fader() {
    let sb = Sandbox::new();
    sb.stem_f32("dc.wav", RATE, 2, 24000, |_, _| 0.5);
    let level = [(0.0, -20.0), (0.5, 0.0)];
    let fader = [(0.1, -6.0), (0.3, 0.0)];
    // Pre-fader: the send ignores the track's fader (-96 dB, so the direct path is tiny).
    let pre = sb.render_float(
        RATE,
        "[[bus]]\nname = \"b\"\n[[track]]\nname = \"d\"\nfile = \"dc.wav\"\ngain_db = -96.0\n\
         sends = [{ bus = \"b\", level_db = { points = [[0.0, -20.0], [0.5, 0.0]] }, pre_fader = true }]\n",
    );
    // Post-fader: the send's level and the automated fader add in dB.
    let post = sb.render_float(
        RATE,
        "[[bus]]\nname = \"b\"\n[[track]]\nname = \"d\"\nfile = \"dc.wav\"\n\
         gain_db = { points = [[0.1, -6.0], [0.3, 0.0]] }\n\
         sends = [{ bus = \"b\", level_db = { points = [[0.0, -20.0], [0.5, 0.0]] } }]\n",
    );
    assert_eq!((pre[0].len(), post[1].len()), (24000, 24000));
    for (i, (&a, &b)) in pre[0].iter().zip(&post[1]).enumerate() {
        let t = i as f64 / f64::from(RATE);
        let (l, f) = (linear(&level, t), linear(&fader, t));
        let want_pre = 0.5 * (db(-96.0) + db(l));
        let want_post = 0.5 * (db(f) + db(l + f));
        assert!((f64::from(a) - want_pre).abs() < 2e-7, "pre {i}");
        assert!((f64::from(b) - want_post).abs() < 2e-7, "post {i}");
    }
}

#[test]
fn a_bus_fader_and_balance_follow_their_envelopes() {
    let sb = Sandbox::new();
    sb.stem_f32("dc.wav", RATE, 2, 24000, |_, _| 0.5);
    let fader = [(0.1, 0.0), (0.4, -18.0)];
    let pan = [(0.0, 0.0), (0.5, 1.0)];
    let p = sb.render_float(
        RATE,
        "[[bus]]\nname = \"b\"\ngain_db = { points = [[0.1, 0.0], [0.4, -18.0]] }\n\
         pan = { points = [[0.0, 0.0], [0.5, 1.0]] }\n\
         [[track]]\nname = \"d\"\nfile = \"dc.wav\"\noutput = \"b\"\n",
    );
    assert_eq!(p[0].len(), 24000);
    for (i, (&l, &r)) in p[0].iter().zip(&p[1]).enumerate() {
        let t = i as f64 / f64::from(RATE);
        let g = 0.5 * db(linear(&fader, t));
        // Balance: the far (left) side turned down along a quarter cosine.
        let left = (linear(&pan, t) * std::f64::consts::FRAC_PI_2).cos();
        assert!((f64::from(l) - g * left).abs() < 2e-7, "left {i}: {l}");
        assert!((f64::from(r) - g).abs() < 2e-7, "right {i}: {r}");
    }
}

#[test]
fn envelopes_follow_the_stems_through_latency() {
    // A linear-phase EQ (flat: a delayed impulse) puts latency in the track; the fader's step
    // and a gain processor's step after the EQ must still land at the stems' 0.5 s.
    let sb = Sandbox::new();
    sb.stem_f32("dc.wav", RATE, 2, 48000, |_, _| 0.5);
    let eq = "{ type = \"eq\", phase = \"linear\", bands = [{ kind = \"peak\", freq_hz = 1000.0, gain_db = 0.0 }] }";
    let fader = sb.render_float(
        RATE,
        &format!(
            "[[track]]\nname = \"d\"\nfile = \"dc.wav\"\nfx = [{eq}]\n\
             gain_db = {{ points = [[0.5, 0.0], [0.5, -6.0]] }}\n"
        ),
    );
    let stage = sb.render_float(
        RATE,
        &format!(
            "[[track]]\nname = \"d\"\nfile = \"dc.wav\"\n\
             fx = [{eq}, {{ type = \"gain\", gain_db = {{ points = [[0.5, 0.0], [0.5, -6.0]] }} }}]\n"
        ),
    );
    let half = 24000;
    for (i, &x) in fader[0].iter().enumerate().skip(2000).take(44000) {
        let want = if i < half { 0.5 } else { 0.5 * db(-6.0) };
        assert!((f64::from(x) - want).abs() < 1e-5, "fader frame {i}: {x}");
    }
    // The processor reaches each value by the last frame of its 32-frame update.
    for (i, &x) in stage[0].iter().enumerate().skip(2000).take(44000) {
        if (half - 32..half + 32).contains(&i) {
            continue;
        }
        let want = if i < half { 0.5 } else { 0.5 * db(-6.0) };
        assert!(
            (f64::from(x) - want).abs() < 1e-5,
            "gain stage frame {i}: {x}"
        );
    }
}

#[test]
fn automated_renders_are_identical_for_any_jobs() {
    let sb = Sandbox::new();
    for (k, name) in ["a", "b", "c"].iter().enumerate() {
        sb.stem_f32(&format!("{name}.wav"), RATE, 2, 36000, move |c, i| {
            (((i * (7919 + k) + c * 104_729) % 2000) as f32 / 1000.0 - 1.0) * 0.2
        });
    }
    let text = "[session]\nname = \"j\"\nsample_rate = 48000\ntempo_bpm = 120\n\
        [[bus]]\nname = \"verb\"\nfx = [{ type = \"reverb\", model = \"room\", mix = { points = [[0.0, 1.0], [0.5, 0.3]] } }]\n\
        gain_db = { points = [[\"1:1\", -6.0], [\"2:1\", 0.0]], curve = \"smooth\" }\n\
        [[track]]\nname = \"a\"\nfile = \"a.wav\"\npan = { points = [[0.0, -0.5], [0.7, 0.5]] }\n\
        sends = [{ bus = \"verb\", level_db = { points = [[0.2, -30.0], [0.4, -6.0]], curve = \"step\" } }]\n\
        fx = [{ type = \"eq\", bands = [{ kind = \"peak\", freq_hz = { points = [[0.0, 200.0], [0.7, 5000.0]] }, gain_db = 6.0, q = 4.0 }] }]\n\
        [[track]]\nname = \"b\"\nfile = \"b.wav\"\nwidth = { points = [[0.0, 0.0], [0.7, 2.0]] }\n\
        fx = [{ type = \"delay\", time_ms = 90.0, feedback = { points = [[0.0, 0.1], [0.5, 0.8]] }, mix = 0.4 }]\n\
        [[track]]\nname = \"c\"\nfile = \"c.wav\"\ngain_db = { points = [[0.0, -3.0], [0.6, -9.0]] }\n\
        fx = [{ type = \"compressor\", threshold_db = { points = [[0.0, -10.0], [0.6, -30.0]] }, makeup_db = { points = [[0.0, 0.0], [0.6, 6.0]] } }]\n\
        [master]\nfx = [{ type = \"saturation\", drive_db = { points = [[0.0, 0.0], [0.7, 12.0]] } }]\n\
        [[output]]\npath = \"out.wav\"\nsample_rate = 48000\nbit_depth = 24\n";
    sb.write("s.toml", text);
    let mut hashes = Vec::new();
    for jobs in ["1", "2"] {
        let out = sb.run(&["render", "s.toml", "-q", "--jobs", jobs]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        hashes.push(file_sha(&sb.path("out.wav")));
    }
    assert_eq!(hashes[0], hashes[1]);
}

/// The engine's block grows with fewer tracks and buses (longer blocks, fewer hand-overs
/// between threads): the same song rendered with 4 nodes (blocks of 32768 frames) and with 36
/// muted tracks beside them (blocks of 8192) is the same to the bit, through automation on
/// every kind of parameter, a sidechain key, sends and a reverb bus.
#[test]
fn the_block_length_changes_no_bit() {
    use mixdown::engine::{BLOCK_UNIT, block_frames};
    assert_eq!(block_frames(4), 4 * BLOCK_UNIT);
    assert_eq!(block_frames(40), BLOCK_UNIT);
    let sb = Sandbox::new();
    for (k, name) in ["a", "b", "c"].iter().enumerate() {
        sb.stem_f32(&format!("{name}.wav"), RATE, 2, 90_000, move |c, i| {
            (((i * (7919 + k) + c * 104_729) % 2000) as f32 / 1000.0 - 1.0) * 0.2
        });
    }
    sb.stem_f32("short.wav", RATE, 2, 1000, |_, i| {
        (i as f32 * 0.01).sin() * 0.5
    });
    let song = "[session]\nname = \"blocks\"\nsample_rate = 48000\n\
        [[bus]]\nname = \"verb\"\nfx = [{ type = \"reverb\", model = \"room\", mix = { points = [[0.0, 1.0], [1.5, 0.3]] } }]\n\
        [[track]]\nname = \"a\"\nfile = \"a.wav\"\npan = { points = [[0.0, -0.5], [1.7, 0.5]] }\n\
        sends = [{ bus = \"verb\", level_db = -12.0 }]\n\
        fx = [{ type = \"eq\", bands = [{ kind = \"peak\", freq_hz = { points = [[0.0, 200.0], [1.7, 5000.0]] }, gain_db = 6.0, q = 4.0 }] }]\n\
        [[track]]\nname = \"b\"\nfile = \"b.wav\"\n\
        fx = [{ type = \"compressor\", sidechain = \"a\", threshold_db = -30.0, ratio = 4.0 }, \
              { type = \"delay\", time_ms = 90.0, feedback = { points = [[0.0, 0.1], [1.5, 0.8]] }, mix = 0.4 }]\n\
        [[track]]\nname = \"c\"\nfile = \"c.wav\"\ngain_db = { points = [[0.0, -3.0], [1.6, -9.0]] }\n\
        fx = [{ type = \"compressor\", threshold_db = { points = [[0.0, -10.0], [1.6, -30.0]] }, makeup_db = 3.0 }]\n\
        [master]\nfx = [{ type = \"saturation\", drive_db = { points = [[0.0, 0.0], [1.7, 12.0]] } }]\n";
    let muted: String = (0..36)
        .map(|i| format!("[[track]]\nname = \"m{i}\"\nfile = \"short.wav\"\nmute = true\n"))
        .collect();
    // (No dither: its seed hashes everything that shapes the audio, muted tracks included.)
    let output =
        "[[output]]\npath = \"out.wav\"\nsample_rate = 48000\nbit_depth = 24\ndither = \"none\"\n";
    let mut hashes = Vec::new();
    for (name, text) in [
        ("few.toml", format!("{song}{output}")),
        ("many.toml", format!("{song}{muted}{output}")),
    ] {
        sb.write(name, &text);
        let out = sb.run(&["render", name, "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        hashes.push(file_sha(&sb.path("out.wav")));
    }
    assert_eq!(hashes[0], hashes[1]);
}

/// A delay's time follows its envelope through the whole render: an impulse before a step in
/// the time echoes at the old time, one after it (once the 50 ms glide has arrived) at the
/// new one, here a fractional 984.48 frames: the interpolated echo's centroid is there.
#[test]
fn a_delay_time_envelope_moves_the_echo() {
    let sb = Sandbox::new();
    let (first, second) = (4800, 43_200);
    sb.stem_f32("imp.wav", RATE, 2, 57_600, |_, i| {
        if i == first || i == second { 0.5 } else { 0.0 }
    });
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"i\"\nfile = \"imp.wav\"\n\
         fx = [{ type = \"delay\", feedback = 0.0, mix = 1.0, \
                 time_ms = { points = [[0.3, 10.0], [0.3, 20.51]], curve = \"step\" } }]\n",
    );
    let echo = |from: usize, to: usize| {
        let y = &p[0][from..to];
        let sum: f64 = y.iter().map(|&v| f64::from(v)).sum();
        let moment: f64 = y
            .iter()
            .enumerate()
            .map(|(i, &v)| (from + i) as f64 * f64::from(v))
            .sum();
        (sum, moment / sum)
    };
    let rate = f64::from(RATE);
    for (at, ms) in [(first, 10.0), (second, 20.51)] {
        let (sum, centroid) = echo(at, at + 2000);
        let want = at as f64 + ms * rate / 1000.0;
        assert!((sum - 0.5).abs() < 1e-6, "{ms} ms: echo sum {sum}");
        assert!((centroid - want).abs() < 0.01, "{centroid} vs {want}");
    }
    assert!(
        p[0][..first]
            .iter()
            .chain(&p[0][first + 480 + 1..second])
            .all(|&v| v == 0.0)
    );
    assert_eq!(p[0], p[1]);
}

#[test]
fn envelope_mistakes_are_located_errors() {
    let sb = Sandbox::new();
    sb.stem_f32("dc.wav", RATE, 2, 4800, |_, _| 0.5);
    let text = "[session]\nname = \"e\"\n\
[[track]]\n\
name = \"a\"\n\
file = \"dc.wav\"\n\
gain_db = { points = [[1.0, -6.0], [0.5, 0.0]] }\n\
pan = { points = [[0.0, 0.0], [1.0, 1.5]] }\n\
width = { points = [] }\n\
sends = [{ bus = \"b\", level_db = { points = [[\"2:1\", 0.0]] } }]\n\
fx = [{ type = \"gain\", gain_db = { points = [[0.0, 1.0]], curve = \"cubic\" } },\n\
      { type = \"eq\", bands = [{ kind = \"highpass\", freq_hz = 100.0, slope_db_oct = { points = [[0.0, 12.0]] } }] },\n\
      { type = \"eq\", phase = \"linear\", bands = [{ kind = \"peak\", freq_hz = { points = [[0.0, 100.0]] }, gain_db = 1.0 }] },\n\
      { type = \"eq\", bands = [{ kind = \"peak\", freq_hz = { points = [[0.0, 100.0], [1.0, 30000.0]] }, gain_db = 1.0 }] },\n\
      { type = \"reverb\", ir = \"dc.wav\", predelay_ms = { points = [[0.0, 5.0]] } },\n\
      { type = \"delay\", time_ms = { points = [[0.0, 5.0], [1.0, 6000.0]] } }]\n\
offset_s = { points = [[0.0, 1.0]] }\n\
[[bus]]\nname = \"b\"\n\
[master]\nfx = [{ type = \"multiband\", crossovers_hz = [200.0, { points = [[0.0, 1000.0], [1.0, 240.0]] }], bands = [{}, {}, {}] }]\n";
    // (A `\` line continuation also drops the next line's indentation: columns count from
    // the first character written.)
    sb.write("s.toml", text);
    let out = sb.run(&["check", "s.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for want in [
        "s.toml:6:37: track[0] \"a\".gain_db.points[1][0] = 0.5: times must not go backwards: 0.5 s comes after 1 s",
        "s.toml:7:37: track[0] \"a\".pan.points[1][1] = 1.5: must be between -1 and 1",
        "s.toml:8:20: track[0] \"a\".width.points = []: an envelope needs at least one point",
        "s.toml:9:47: track[0] \"a\".sends[0].level_db.points[0][0] = \"2:1\": a bar:beat time needs the tempo",
        "help: set [session].tempo_bpm, or give the time in seconds",
        "s.toml:10:67: track[0] \"a\".fx[0].gain_db.curve = \"cubic\": must be one of \"linear\", \"smooth\", \"step\"",
        "s.toml:11:78: track[0] \"a\".fx[1].bands[0].slope_db_oct = { points = [[0.0, 12.0]] }: this key cannot be automated",
        "s.toml:13:84: track[0] \"a\".fx[3].bands[0].freq_hz.points[1][1] = 30000.0: must be below 24000 Hz (Nyquist at 48 kHz)",
        "s.toml:15:59: track[0] \"a\".fx[5].time_ms.points[1][1] = 6000.0: must be between 0.1 and 5000 ms",
        "s.toml:16:12: track[0] \"a\".offset_s = { points = [[0.0, 1.0]] }: this key cannot be automated",
        // A crossover takes an envelope, but must stay a third of an octave above the one
        // below at every time.
        "s.toml:20:86: master.fx[0].crossovers_hz[1].points[1][1] = 240.0: at 1 s this crossover is 240 Hz and crossovers_hz[0] 200 Hz: it must stay above 250 Hz (ascending, at least a third of an octave apart)",
    ] {
        assert!(err.contains(want), "expected {want:?} in:\n{err}");
    }
    // A linear-phase EQ's bands and a convolution reverb's predelay follow envelopes.
    assert!(!err.contains("fx[2]"), "{err}");
    assert!(!err.contains("fx[4]"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Render impulses at 0 and 2 s through a reverb `fx` (a TOML inline table without its
/// closing brace) whose predelay steps from 10 to 250 ms at 0.2 s and glides there (under
/// 1.5 s), with `ir.wav` a delta available to it; return each channel's onsets after the two
/// impulses.
fn predelay_onsets(fx: &str) -> Vec<(usize, usize)> {
    let sb = Sandbox::new();
    let second = 2 * RATE as usize;
    sb.stem_f32("ir.wav", RATE, 1, 1, |_, _| 0.5);
    sb.stem_f32("imp.wav", RATE, 2, second + RATE as usize, move |_, i| {
        if i == 0 || i == second { 1.0 } else { 0.0 }
    });
    let p = sb.render_float(
        RATE,
        &format!(
            "[[track]]\nname = \"i\"\nfile = \"imp.wav\"\n\
             fx = [{fx}, mix = 1.0, predelay_ms = {{ points = [[0.2, 10.0], [0.2, 250.0]] }} }}]\n"
        ),
    );
    let onset =
        |c: &[f32], from: usize| from + c[from..].iter().position(|v| v.abs() > 1e-6).unwrap();
    p.iter()
        .map(|c| (onset(c, 0), onset(c, second - 100) - second))
        .collect()
}

#[test]
fn a_reverb_predelay_envelope_moves_the_onset_through_the_render() {
    // A plate's wet signal starts on the predelay's frame (it has no early reflections); a
    // convolution reverb with a delta IR is its input, predelayed, whatever latency the
    // convolver has (the engine compensates it). An impulse at 0 comes out at 10 ms, one at
    // 2 s at 2.25 s. The input lines were sized for 250 ms when the reverbs were built.
    for fx in [
        "{ type = \"reverb\", model = \"plate\", decay_s = 0.1",
        "{ type = \"reverb\", ir = \"ir.wav\"",
    ] {
        for (first, second) in predelay_onsets(fx) {
            assert_eq!((first, second), (480, 12000), "{fx}");
        }
    }
}

#[test]
fn a_linear_phase_band_follows_its_gain_envelope_in_phase_with_the_stem() {
    // A 1 kHz sine through a linear-phase peak at 1 kHz whose gain steps from -6 to +6 dB at
    // 1 s. At its centre the Cookbook peak's gain is gain_db exactly and a linear-phase filter,
    // its latency compensated, adds no phase: away from the step (one filter length and the
    // crossfade) every frame is the stem times 10^(gain/20), to the FIR design's tolerance
    // (0.1 dB).
    let sb = Sandbox::new();
    let w = 2.0 * std::f64::consts::PI * 1000.0 / f64::from(RATE);
    let sine = move |i: usize| (0.5 * (w * i as f64).sin()) as f32;
    sb.stem_f32("sine.wav", RATE, 2, 2 * RATE as usize, move |_, i| sine(i));
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"s\"\nfile = \"sine.wav\"\n\
         fx = [{ type = \"eq\", phase = \"linear\", bands = [{ kind = \"peak\", freq_hz = 1000.0, \
         q = 1.0, gain_db = { points = [[1.0, -6.0], [1.0, 6.0]] } }] }]\n",
    );
    let tol = 1.0 - db(-0.1);
    let step = RATE as usize;
    for (range, gain) in [
        (2000..step - 2000, -6.0),
        (step + 2000..2 * step - 2000, 6.0),
    ] {
        for i in range {
            let want = f64::from(sine(i)) * db(gain);
            for c in &p {
                assert!(
                    (f64::from(c[i]) - want).abs() < tol * 0.5 * db(gain),
                    "frame {i}: {} vs {want}",
                    c[i]
                );
            }
        }
    }
}

#[test]
fn an_automated_crossover_glides_and_the_bands_stay_flat() {
    // A 3 kHz sine through a multiband with idle compressors (ratio 1) whose upper crossover
    // steps from 1 kHz to 8 kHz at 0.5 s and back at 1.2 s (a `step` envelope): the tone passes
    // from the top band into the middle one and back. The bands of a crossover sum to an
    // all-pass, which leaves a sine's level alone, and the glide keeps that so while the
    // corner moves: the RMS of every 256 frames (16 whole cycles) is the sine's, 0.5 / sqrt 2,
    // within 0.15 dB. (Measured 0.06 dB; the same steps without the glide, 0.43 dB.)
    let sb = Sandbox::new();
    let w = 2.0 * std::f64::consts::PI * 3000.0 / f64::from(RATE);
    let n = 2 * RATE as usize;
    sb.stem_f32("sine.wav", RATE, 2, n, move |_, i| {
        (0.5 * (w * i as f64).sin()) as f32
    });
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"s\"\nfile = \"sine.wav\"\n\
         [master]\nfx = [{ type = \"multiband\", crossovers_hz = [200.0, { points = [[0.0, 1000.0], \
         [0.5, 8000.0], [1.2, 1000.0]], curve = \"step\" }], bands = [{ ratio = 1.0 }, \
         { ratio = 1.0 }, { ratio = 1.0 }] }]\n",
    );
    let want = 0.5 / 2f64.sqrt();
    let mut worst: f64 = 0.0;
    for c in &p {
        // From 0.1 s (the sine's onset rings out of the all-pass) to the stem's end.
        for start in (4800..n - 256).step_by(16) {
            let e: f64 = c[start..start + 256]
                .iter()
                .map(|&v| f64::from(v).powi(2))
                .sum();
            let rms = (e / 256.0).sqrt();
            worst = worst.max((20.0 * (rms / want).log10()).abs());
        }
    }
    println!("an automated crossover: the tone's level off by at most {worst:.4} dB");
    assert!(worst < 0.15, "{worst} dB");
}
