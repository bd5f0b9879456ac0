//! Mixing arithmetic through the whole binary: pan law, balance, width, summing, polarity,
//! offsets, resampled alignment, sends, routing, mute and solo. Stems are exact float WAVs and
//! outputs 32-bit float without dither, so every figure can be checked against the formula.

mod common;

use common::*;

const RATE: u32 = 48000;

fn close(a: f32, b: f64, what: &str) {
    assert!((f64::from(a) - b).abs() < 1e-6, "{what}: {a} vs {b}");
}

fn dc_stem(sb: &Sandbox, name: &str, channels: u16, frames: usize, value: [f32; 2]) {
    sb.stem_f32(name, RATE, channels, frames, |c, _| value[c]);
}

#[test]
fn mono_pan_is_constant_power_with_minus_3_db_centre() {
    let sb = Sandbox::new();
    dc_stem(&sb, "m.wav", 1, 1000, [0.5, 0.0]);
    for pan in [-1.0f64, -0.5, 0.0, 0.3, 1.0] {
        let p = sb.render_float(
            RATE,
            &format!("[[track]]\nname = \"m\"\nfile = \"m.wav\"\npan = {pan}\n"),
        );
        let theta = (pan + 1.0) * std::f64::consts::PI / 4.0;
        close(p[0][500], 0.5 * theta.cos(), &format!("left at pan {pan}"));
        close(p[1][500], 0.5 * theta.sin(), &format!("right at pan {pan}"));
        // Constant power: L² + R² is the same everywhere.
        let power = f64::from(p[0][500]).powi(2) + f64::from(p[1][500]).powi(2);
        assert!((power - 0.25).abs() < 1e-6, "power at pan {pan}: {power}");
    }
    let p = sb.render_float(RATE, "[[track]]\nname = \"m\"\nfile = \"m.wav\"\n");
    let db = 20.0 * (f64::from(p[0][0]) / 0.5).log10();
    assert!((db + 3.0103).abs() < 1e-4, "centre {db} dB");
}

#[test]
fn stereo_pan_is_balance_and_width_is_mid_side() {
    let sb = Sandbox::new();
    dc_stem(&sb, "s.wav", 2, 1000, [0.4, 0.1]);
    let p = sb.render_float(RATE, "[[track]]\nname = \"s\"\nfile = \"s.wav\"\n");
    close(p[0][10], 0.4, "centre keeps left");
    close(p[1][10], 0.1, "centre keeps right");
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"s\"\nfile = \"s.wav\"\npan = 0.5\n",
    );
    close(
        p[0][10],
        0.4 * std::f64::consts::FRAC_1_SQRT_2,
        "half right turns left down 3 dB",
    );
    close(p[1][10], 0.1, "half right keeps right");
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"s\"\nfile = \"s.wav\"\npan = -1.0\n",
    );
    close(p[0][10], 0.4, "hard left keeps left");
    close(p[1][10], 0.0, "hard left silences right");
    // Width: M = 0.25, S = 0.15. Width 0 is mono, 2 doubles the side.
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"s\"\nfile = \"s.wav\"\nwidth = 0.0\n",
    );
    close(p[0][10], 0.25, "width 0 left");
    close(p[1][10], 0.25, "width 0 right");
    let p = sb.render_float(
        RATE,
        "[[track]]\nname = \"s\"\nfile = \"s.wav\"\nwidth = 2.0\n",
    );
    close(p[0][10], 0.55, "width 2 left");
    close(p[1][10], -0.05, "width 2 right");
}

#[test]
fn tracks_sum_plainly_and_polarity_cancels() {
    let sb = Sandbox::new();
    sb.stem_f32("a.wav", RATE, 2, 2000, |c, n| {
        0.1 * (n as f32 * 0.01 + c as f32).sin()
    });
    sb.stem_f32("b.wav", RATE, 2, 1500, |c, n| {
        0.2 * (n as f32 * 0.013 - c as f32).cos()
    });
    let a = sb.render_float(
        RATE,
        "[[track]]\nname = \"a\"\nfile = \"a.wav\"\ngain_db = -6.0\n",
    );
    let b = sb.render_float(RATE, "[[track]]\nname = \"b\"\nfile = \"b.wav\"\n");
    let ab = sb.render_float(
        RATE,
        "[[track]]\nname = \"a\"\nfile = \"a.wav\"\ngain_db = -6.0\n[[track]]\nname = \"b\"\nfile = \"b.wav\"\n",
    );
    assert_eq!(ab[0].len(), 2000, "length is the longest stem");
    for c in 0..2 {
        for n in 0..2000 {
            let want = a[c][n] + b[c].get(n).copied().unwrap_or(0.0);
            assert!(
                (ab[c][n] - want).abs() < 1e-7,
                "sum at {c}/{n}: {} vs {want}",
                ab[c][n]
            );
        }
    }
    // Fader arithmetic: -6 dB is a factor of 10^(-6/20).
    let raw = 0.1 * (100.0f32 * 0.01).sin();
    close(a[0][100], f64::from(raw) * 10f64.powf(-6.0 / 20.0), "fader");
    // The same stem with its polarity inverted cancels to silence, not "renormalized".
    let z = sb.render_float(
        RATE,
        "[[track]]\nname = \"a\"\nfile = \"a.wav\"\n[[track]]\nname = \"a2\"\nfile = \"a.wav\"\npolarity_invert = true\n",
    );
    assert!(z.iter().flatten().all(|&x| x == 0.0));
}

#[test]
fn offsets_and_resampling_keep_impulses_on_their_frame() {
    let sb = Sandbox::new();
    let fx = fixtures().join("stems");
    for f in [
        "impulse-44k1-mono.wav",
        "impulse-96k-mono.wav",
        "impulse-48k-mono.wav",
    ] {
        std::fs::copy(fx.join(f), sb.path(f)).unwrap();
    }
    // Each fixture has its impulse at 0.25 s exactly; offset_s moves it on the timeline.
    for (f, offset) in [
        ("impulse-48k-mono.wav", 0.0),
        ("impulse-44k1-mono.wav", 0.0),
        ("impulse-96k-mono.wav", 0.0),
        ("impulse-44k1-mono.wav", 0.5),
        ("impulse-96k-mono.wav", 1.25),
    ] {
        let p = sb.render_float(
            RATE,
            &format!("[[track]]\nname = \"i\"\nfile = \"{f}\"\noffset_s = {offset}\npan = -1.0\n"),
        );
        let want = ((0.25 + offset) * f64::from(RATE)).round() as usize;
        assert_eq!(argmax(&p[0]), want, "{f} at offset {offset}");
        // The render is as long as the placed stem: 0.5 s of file plus the offset.
        assert_eq!(
            p[0].len(),
            ((0.5 + offset) * f64::from(RATE)).round() as usize,
            "{f}"
        );
        // Up-sampling keeps a one-sample impulse's level (within 0.5 dB); down-sampling from
        // 96 kHz band-limits it to the lower half of its spectrum, so its peak falls to about
        // half (the area of a sinc of half the bandwidth).
        let peak = f64::from(p[0][want].abs());
        if f.contains("96k") {
            assert!((0.38..0.47).contains(&peak), "{f}: peak {peak}");
        } else {
            assert!(
                (20.0 * (peak / 0.9).log10()).abs() < 0.5,
                "{f}: peak {peak}"
            );
        }
    }
}

#[test]
fn an_output_at_another_rate_keeps_time() {
    let sb = Sandbox::new();
    std::fs::copy(
        fixtures().join("stems/impulse-48k-mono.wav"),
        sb.path("i.wav"),
    )
    .unwrap();
    sb.write(
        "s.toml",
        "[[track]]\nname = \"i\"\nfile = \"i.wav\"\n[[output]]\npath = \"o.wav\"\nsample_rate = 44100\nbit_depth = 32\n",
    );
    let out = sb.run(&["render", "s.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (spec, p) = read_wav(&sb.path("o.wav"));
    assert_eq!(spec.sample_rate, 44100);
    assert_eq!(p[0].len(), 22050);
    assert_eq!(argmax(&p[0]), 11025);
}

#[test]
fn sends_buses_and_bus_to_bus_routing() {
    let sb = Sandbox::new();
    dc_stem(&sb, "s.wav", 2, 800, [0.2, 0.2]);
    // Track fader -6 dB to master; post-fader send -10 dB and pre-fader send -20 dB to bus
    // "a" (gain -3 dB, fx gain +1 dB), which feeds bus "b" (fader -2 dB) instead of master.
    let p = sb.render_float(
        RATE,
        r#"
[[track]]
name = "s"
file = "s.wav"
gain_db = -6.0
sends = [{ bus = "a", level_db = -10.0 }, { bus = "a", level_db = -20.0, pre_fader = true }]

[[bus]]
name = "a"
gain_db = -3.0
output = "b"
fx = [{ type = "gain", gain_db = 1.0 }]

[[bus]]
name = "b"
gain_db = -2.0
"#,
    );
    let g = |db: f64| 10f64.powf(db / 20.0);
    let direct = 0.2 * g(-6.0);
    let into_a = 0.2 * (g(-6.0 - 10.0) + g(-20.0));
    let want = direct + into_a * g(1.0) * g(-3.0) * g(-2.0);
    close(p[0][100], want, "left");
    close(p[1][100], want, "right");
}

#[test]
fn mute_and_solo() {
    let sb = Sandbox::new();
    dc_stem(&sb, "a.wav", 2, 100, [0.1, 0.1]);
    dc_stem(&sb, "b.wav", 2, 300, [0.2, 0.2]);
    let two =
        "[[track]]\nname = \"a\"\nfile = \"a.wav\"\n[[track]]\nname = \"b\"\nfile = \"b.wav\"\n";
    let p = sb.render_float(
        RATE,
        &two.replace("\"a.wav\"\n", "\"a.wav\"\nmute = true\n"),
    );
    close(p[0][50], 0.2, "a muted");
    let p = sb.render_float(
        RATE,
        &two.replace("\"a.wav\"\n", "\"a.wav\"\nsolo = true\n"),
    );
    close(p[0][50], 0.1, "a soloed mutes b");
    // Muting does not shorten the song: b still sets the length.
    assert_eq!(p[0].len(), 300);
    close(p[0][200], 0.0, "b silent after a ends");
}

#[test]
fn tags_are_read_back_by_an_independent_reader() {
    use lofty::file::TaggedFileExt;
    use lofty::prelude::{Accessor, ItemKey};
    let sb = Sandbox::new();
    dc_stem(&sb, "a.wav", 2, 4800, [0.1, 0.1]);
    sb.write(
        "s.toml",
        r#"
[[track]]
name = "a"
file = "a.wav"
[[output]]
path = "o.wav"
[metadata]
title = "Café Noché – 夜のドライブ 🚗"
artist = "Zoë & 東京 🎧"
album = "Été 夜"
track = 3
year = 2026
genre = "Synthwave"
isrc = "US-ABC-26-00003"
upc = "012345678905"
comment = "hello"
copyright = "2026 Example"
"#,
    );
    let out = sb.run(&["render", "s.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let f = lofty::read_from_path(sb.path("o.wav")).unwrap();
    let id3 = f
        .tags()
        .iter()
        .find(|t| t.tag_type() == lofty::tag::TagType::Id3v2)
        .expect("an ID3v2 tag");
    assert_eq!(id3.title().as_deref(), Some("Café Noché – 夜のドライブ 🚗"));
    assert_eq!(id3.artist().as_deref(), Some("Zoë & 東京 🎧"));
    assert_eq!(id3.album().as_deref(), Some("Été 夜"));
    assert_eq!(id3.track(), Some(3));
    assert_eq!(id3.genre().as_deref(), Some("Synthwave"));
    assert_eq!(id3.get_string(ItemKey::Isrc), Some("USABC2600003"));
    assert_eq!(id3.get_string(ItemKey::Barcode), Some("012345678905"));
    let info = f
        .tags()
        .iter()
        .find(|t| t.tag_type() == lofty::tag::TagType::RiffInfo)
        .expect("a RIFF INFO tag");
    // INFO holds the same text as UTF-8.
    assert_eq!(
        info.title().as_deref(),
        Some("Café Noché – 夜のドライブ 🚗")
    );
    assert_eq!(info.artist().as_deref(), Some("Zoë & 東京 🎧"));
    assert_eq!(info.album().as_deref(), Some("Été 夜"));
    assert_eq!(info.comment().as_deref(), Some("hello"));
    // Both tag chunks come before the audio, and every chunk has an even size.
    let bytes = std::fs::read(sb.path("o.wav")).unwrap();
    let mut pos = 12;
    let mut order = Vec::new();
    while pos + 8 <= bytes.len() {
        let id = String::from_utf8_lossy(&bytes[pos..pos + 4]).into_owned();
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        assert_eq!(size % 2, 0, "{id} has odd size {size}");
        order.push(id);
        pos += 8 + size;
    }
    // CSET declares the (non-ASCII) INFO text UTF-8 for readers that default to Latin-1.
    assert_eq!(order, ["fmt ", "CSET", "LIST", "id3 ", "data"]);
    // hound (a streaming reader) still reads the audio.
    let (spec, p) = read_wav(&sb.path("o.wav"));
    assert_eq!((spec.channels, p[0].len()), (2, 4410));
}

#[test]
fn tpdf_dither_is_seeded_and_audible_only_as_noise() {
    let sb = Sandbox::new();
    // Digital silence at 16 bits with TPDF dither: values within ±1 LSB, not all zero, and
    // the same bytes every run.
    dc_stem(&sb, "z.wav", 2, 48000, [0.0, 0.0]);
    sb.write(
        "s.toml",
        "[[track]]\nname = \"z\"\nfile = \"z.wav\"\n[[output]]\npath = \"o.wav\"\nsample_rate = 48000\n",
    );
    let out = sb.run(&["render", "s.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = file_sha(&sb.path("o.wav"));
    let (_, p) = read_wav(&sb.path("o.wav"));
    let lsb = 1.0 / 32768.0;
    assert!(p.iter().flatten().all(|x| x.abs() <= lsb * 1.01));
    let nonzero = p[0].iter().filter(|&&x| x != 0.0).count();
    assert!(
        nonzero > 10_000 && nonzero < 38_000,
        "{nonzero} of 48000 dithered"
    );
    let out = sb.run(&["render", "s.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(file_sha(&sb.path("o.wav")), first);
}

#[test]
fn clipping_at_quantization_is_counted_and_fails_the_gate() {
    let sb = Sandbox::new();
    dc_stem(&sb, "hot.wav", 2, 4800, [0.9, 0.9]);
    sb.write(
        "s.toml",
        "[[track]]\nname = \"hot\"\nfile = \"hot.wav\"\ngain_db = 6.0\n[[output]]\npath = \"o.wav\"\nsample_rate = 48000\n",
    );
    let out = sb.run(&["render", "s.toml"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("9600 samples clipped at quantization"),
        "{err}"
    );
    assert!(
        err.contains("the mix bus entering the master clips"),
        "{err}"
    );
    let r = report(&sb.path("o.report.json"));
    assert_eq!(r["outputs"][0]["clipped_samples"], 9600);
    assert_eq!(r["gate_failures"].as_array().unwrap().len(), 1);
}
