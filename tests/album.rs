//! Albums: `mixdown album` on the bundled example (one gain for the album, the album's loudness
//! checked against an independent BS.1770 meter over all songs at once, tags and seams), the
//! measure -> plan -> apply split giving the same bytes as one process, and located errors in
//! album files.

mod common;

use std::path::{Path, PathBuf};

use common::{Sandbox, file_sha, read_wav, report, stderr};
use ebur128::{EbuR128, Mode};

/// The example album copied into a sandbox (its stems, session files and album file).
fn album_sandbox() -> Sandbox {
    let sb = Sandbox::new();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/album");
    for rel in [
        "album.toml",
        "one.toml",
        "two.toml",
        "three.toml",
        "stems/drums.ogg",
        "stems/bass.ogg",
        "stems/keys.ogg",
        "stems/vox.ogg",
        "stems/lead.ogg",
        "stems/bass-high.ogg",
    ] {
        let to = sb.path(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(rel), to).unwrap();
    }
    sb
}

const OUTPUTS: [&str; 3] = [
    "out/01-opening.wav",
    "out/02-interlude.wav",
    "out/03-closing.wav",
];

/// An independent meter (the ebur128 crate) over a delivered file.
fn meter(path: &Path) -> EbuR128 {
    let (spec, planes) = read_wav(path);
    let mut m = EbuR128::new(u32::from(spec.channels), spec.sample_rate, Mode::I).unwrap();
    let refs: Vec<&[f32]> = planes.iter().map(|p| &p[..]).collect();
    m.add_frames_planar_f32(&refs).unwrap();
    m
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_album_example_renders_with_one_gain_and_keeps_the_songs_apart() {
    let sb = album_sandbox();
    let out = sb.run(&["album", "album.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = report(&sb.path("out/album.report.json"));
    let songs = r["songs"].as_array().unwrap();
    assert_eq!(songs.len(), 3);

    // Album policy arithmetic: every song gets the smallest of the songs' own gains.
    let own: Vec<f64> = songs.iter().map(|s| num(&s["own_gain_db"])).collect();
    let album_gain = own.iter().copied().fold(f64::INFINITY, f64::min);
    for (s, own) in songs.iter().zip(&own) {
        assert!((num(&s["gain_db"]) - album_gain).abs() <= 0.011, "{s}");
        assert!(
            (num(&s["offset_db"]) - (album_gain - own)).abs() <= 0.011,
            "{s}"
        );
    }
    assert!(
        own.iter().any(|g| (g - album_gain).abs() > 0.5),
        "the example's songs need different gains: {own:?}"
    );

    // Loudness, measured independently on the delivered files.
    let meters: Vec<EbuR128> = OUTPUTS.iter().map(|o| meter(&sb.path(o))).collect();
    let lufs: Vec<f64> = meters
        .iter()
        .map(|m| m.loudness_global().unwrap())
        .collect();
    for (s, l) in songs.iter().zip(&lufs) {
        assert!((num(&s["integrated_lufs"]) - l).abs() <= 0.02, "{s} vs {l}");
    }
    // The loudest song meets the target; the others stay under it by their own offsets: a
    // song's premaster loudness plus the album gain is its loudness before the limiter, and the
    // limiter only takes loudness away.
    let loudest = lufs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!((loudest + 14.0).abs() <= 0.1, "loudest {loudest}");
    for (i, (s, l)) in songs.iter().zip(&lufs).enumerate() {
        let song = report(&sb.path(s["report"].as_str().unwrap()));
        let mix = num(&song["mix"]["integrated_lufs"]);
        assert!(
            *l <= mix + album_gain + 0.1,
            "song {i}: {l} LUFS, mix {mix} + gain {album_gain}"
        );
        assert!(num(&s["true_peak_dbtp"]) <= -1.0, "{s}");
    }
    let spread = lufs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - lufs.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        spread > 0.5,
        "the album keeps the songs apart: spread {spread}"
    );
    assert!((num(&r["loudness_spread_lu"]) - spread).abs() <= 0.03);

    // The album's loudness is BS.1770 gating over every song's blocks together (ebur128's
    // loudness_global_multiple), not an average of the songs' figures.
    let album = EbuR128::loudness_global_multiple(meters.iter()).unwrap();
    assert!(
        (num(&r["integrated_lufs"]) - album).abs() <= 0.02,
        "report {} vs ebur128 {album}",
        r["integrated_lufs"]
    );
    let mean = lufs.iter().sum::<f64>() / 3.0;
    assert!((album - mean).abs() > 0.005, "not the mean of the songs");
}

#[test]
fn songs_inherit_the_album_metadata_and_get_their_seams() {
    use lofty::file::TaggedFileExt;
    use lofty::prelude::{Accessor, ItemKey};
    let sb = album_sandbox();
    let out = sb.run(&["album", "album.toml", "-q", "-j", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let f = lofty::read_from_path(sb.path(OUTPUTS[2])).unwrap();
    let id3 = f
        .tags()
        .iter()
        .find(|t| t.tag_type() == lofty::tag::TagType::Id3v2)
        .expect("an ID3v2 tag");
    assert_eq!(id3.title().as_deref(), Some("Closing (album version)"));
    assert_eq!(id3.artist().as_deref(), Some("The Example"));
    assert_eq!(id3.album().as_deref(), Some("Examples"));
    assert_eq!(id3.track(), Some(3));
    assert_eq!(id3.get_string(ItemKey::AlbumArtist), Some("The Example"));
    assert_eq!(id3.get_string(ItemKey::Isrc), Some("USABC2600003"));
    assert_eq!(id3.get_string(ItemKey::Barcode), Some("012345678905"));

    // Seams, at 44.1 kHz: song 1 ends with 1 s of silence (dither only: at most 1 LSB at
    // 16 bits); song 2 loses 0.1 s at the head and gains 0.5 s at the tail.
    let rate = 44100usize;
    let album = report(&sb.path("out/album.report.json"));
    let frames = |i: usize| {
        let s = report(&sb.path(album["songs"][i]["report"].as_str().unwrap()));
        s["session"]["frames"].as_u64().unwrap() as usize
    };
    let (_, one) = read_wav(&sb.path(OUTPUTS[0]));
    assert_eq!(one[0].len(), frames(0) + rate);
    let gap = &one[0][one[0].len() - rate..];
    assert!(gap.iter().all(|x| x.abs() <= 1.0 / 32768.0 + 1e-9));
    let (_, two) = read_wav(&sb.path(OUTPUTS[1]));
    assert_eq!(two[0].len(), frames(1) - rate / 10 + rate / 2);
    // Song 3 fades out over its last second: the last 10 ms are far quieter than the song.
    let (_, three) = read_wav(&sb.path(OUTPUTS[2]));
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let n = three[0].len();
    assert!(rms(&three[0][n - 441..]) < 0.05 * rms(&three[0][..n - rate]));
}

#[test]
fn a_song_applied_from_a_plan_is_byte_identical_to_the_album_render() {
    let sb = album_sandbox();
    for (i, s) in ["one.toml", "two.toml", "three.toml"].iter().enumerate() {
        let out = sb.run(&["render", s, "--measure-only", "--json", "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        std::fs::write(sb.path(&format!("m{i}.json")), &out.stdout).unwrap();
        let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(m["kind"], "mixdown-measurement");
        assert_eq!(m["inputs"][0]["path"], *s);
        assert_eq!(m["inputs"][0]["sha256"], file_sha(&sb.path(s)));
    }
    // Measuring writes nothing.
    assert!(!sb.path("out").exists());
    let out = sb.run(&[
        "album",
        "album.toml",
        "--plan",
        "m2.json",
        "m0.json",
        "m1.json",
        "-o",
        "plan.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for s in ["one.toml", "two.toml", "three.toml"] {
        let out = sb.run(&["render", s, "--plan", "plan.json", "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let split: Vec<String> = OUTPUTS.iter().map(|o| file_sha(&sb.path(o))).collect();
    // The outputs and reports collected (here: where they were written) make the album report.
    let out = sb.run(&["album", "album.toml", "--collect", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut collected = report(&sb.path("out/album.report.json"));
    std::fs::remove_dir_all(sb.path("out")).unwrap();

    let out = sb.run(&["album", "album.toml", "-q", "-j", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for (o, sha) in OUTPUTS.iter().zip(&split) {
        assert_eq!(
            &file_sha(&sb.path(o)),
            sha,
            "{o}: whole files, tags included"
        );
    }
    // The same album report, but for how long it took.
    let mut whole = report(&sb.path("out/album.report.json"));
    whole.as_object_mut().unwrap().remove("render");
    collected.as_object_mut().unwrap().remove("render");
    assert_eq!(whole, collected);
    assert_eq!(whole["gates"][0]["code"], "album_loudness_off_target");
    assert_eq!(whole["gates"][0]["passed"], true);

    // An output that is not the file its report describes is refused, named.
    std::fs::copy(sb.path(OUTPUTS[0]), sb.path(OUTPUTS[1])).unwrap();
    let out = sb.run(&["album", "album.toml", "--collect", "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("out/02-interlude.wav is not the file its report describes"),
        "{}",
        stderr(&out)
    );

    // A stem changed since it was measured: the plan is refused, naming it.
    std::fs::copy(sb.path("stems/keys.ogg"), sb.path("stems/vox.ogg")).unwrap();
    let out = sb.run(&["render", "two.toml", "--plan", "plan.json", "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("stems/vox.ogg"), "{}", stderr(&out));
}

#[test]
fn track_policy_brings_every_song_to_the_target() {
    let sb = album_sandbox();
    let text = std::fs::read_to_string(sb.path("album.toml")).unwrap();
    sb.write(
        "album.toml",
        &text.replace("loudness = \"album\"", "loudness = \"track\""),
    );
    let out = sb.run(&["album", "album.toml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for o in OUTPUTS {
        let l = meter(&sb.path(o)).loudness_global().unwrap();
        assert!((l + 14.0).abs() <= 0.15, "{o}: {l} LUFS");
    }
}

#[test]
fn a_plan_refuses_measurements_for_another_target() {
    let sb = album_sandbox();
    let text = std::fs::read_to_string(sb.path("two.toml")).unwrap();
    sb.write("two.toml", &text.replace("lufs = -14.0", "lufs = -16.0"));
    let out = sb.run(&["render", "two.toml", "--measure-only", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(sb.path("m.json"), &out.stdout).unwrap();
    let out = sb.run(&["album", "album.toml", "--plan", "m.json"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("m.json: song[1] was measured for -16 LUFS"),
        "{e}"
    );
}

#[test]
fn every_album_error_is_located() {
    let sb = album_sandbox();
    let text = std::fs::read_to_string(sb.path("one.toml")).unwrap();
    sb.write(
        "bad-session.toml",
        &text.replace("gain_db = -3.0", "gian_db = -3.0"),
    );
    sb.write(
        "bad.toml",
        r#"[album]
titel = "x"
upc = "012345678901"
year = 26
loudness = "albun"
target = { lufs = -50.0 }

[[song]]
session = "one.toml"
isrc = "USABC2600001"
fade_in_s = -1.0

[[song]]
session = "one.toml"
track = 1
isrc = "USABC2600001"

[[song]]
session = "missing.toml"
isrc = "XX"

[[song]]
track = 4

[[song]]
session = "bad-session.toml"
color = "red"
"#,
    );
    let out = sb.run(&["album", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    for want in [
        "bad.toml:2:1: album.titel: unknown key",
        "bad.toml:3:7: album.upc = \"012345678901\": check digit is 1 but should be 5",
        "bad.toml:4:8: album.year = 26: must be a four-digit year",
        "bad.toml:5:12: album.loudness = \"albun\": must be one of \"track\", \"album\"",
        "bad.toml:6:19: album.target.lufs = -50.0: must be between -40 and -5 LUFS",
        "bad.toml:11:13: song[0] \"one.toml\".fade_in_s = -1.0: must be between 0 and 600 s",
        "bad.toml:14:11: song[1] \"one.toml\".session = \"one.toml\": song[0] is the same session",
        "bad.toml:15:9: song[1] \"one.toml\".track = 1: track number 1 is also song[0]'s",
        "bad.toml:16:8: song[1] \"one.toml\".isrc = \"USABC2600001\": song[0] has the same ISRC",
        "bad.toml:19:11: song[2] \"missing.toml\".session = \"missing.toml\": no such file",
        "bad.toml:20:8: song[2] \"missing.toml\".isrc = \"XX\": has 2 characters",
        "bad.toml:22:1: song[3].session: missing",
        "bad.toml:27:1: song[4] \"bad-session.toml\".color: unknown key",
        "bad-session.toml:10:1: track[0] \"drums\".gian_db: unknown key",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    assert!(!sb.path("out").exists(), "nothing is written");
}

#[test]
fn songs_must_agree_on_the_target_and_write_their_own_files() {
    let sb = album_sandbox();
    let text = std::fs::read_to_string(sb.path("two.toml")).unwrap();
    sb.write(
        "two.toml",
        &text
            .replace("lufs = -14.0", "lufs = -16.0")
            .replace("out/02-interlude.wav", "out/01-opening.wav"),
    );
    sb.write(
        "bad.toml",
        "[[song]]\nsession = \"one.toml\"\n\n[[song]]\nsession = \"two.toml\"\n",
    );
    let out = sb.run(&["album", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    for want in [
        "bad.toml:5:11: song[1] \"two.toml\".session = \"two.toml\": its target is -16 LUFS at -1 dBTP, song[0]'s is -14 LUFS at -1 dBTP",
        "bad.toml:5:11: song[1] \"two.toml\".session = \"two.toml\": writes ",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
}

#[test]
fn a_measurement_file_carries_the_premasters_blocks_and_peaks() {
    let sb = album_sandbox();
    let out = sb.run(&["render", "one.toml", "--measure-only", "--json", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &m["premaster"];
    let blocks: Vec<f64> = p["blocks"].as_array().unwrap().iter().map(num).collect();
    // 400 ms blocks 100 ms apart over a song of about 3.3 s (its 3 s stems and the reverb's
    // ringing): one block per 100 ms after the first 300 ms.
    assert!((25..=40).contains(&blocks.len()), "{} blocks", blocks.len());
    // BS.1770-4 gating written out here: absolute gate -70 LUFS, then relative -10 LU.
    let lufs = |e: f64| -0.691 + 10.0 * e.log10();
    let mean = |b: &[f64]| b.iter().sum::<f64>() / b.len() as f64;
    let abs: Vec<f64> = blocks
        .iter()
        .copied()
        .filter(|&e| lufs(e) > -70.0)
        .collect();
    let rel = lufs(mean(&abs)) - 10.0;
    let gated: Vec<f64> = abs.into_iter().filter(|&e| lufs(e) > rel).collect();
    assert!(
        (lufs(mean(&gated)) - num(&p["integrated_lufs"])).abs() < 1e-9,
        "{} vs {}",
        lufs(mean(&gated)),
        p["integrated_lufs"]
    );
    assert_eq!(m["rates"][0]["input_lufs"], p["integrated_lufs"]);
    let (sample, true_peak) = (num(&p["sample_peak_dbfs"]), num(&p["true_peak_dbtp"]));
    assert!(
        sample < 0.0 && sample <= true_peak + 1e-9,
        "{sample} {true_peak}"
    );
    assert!(true_peak - sample < 1.0, "{sample} {true_peak}");
}

#[test]
fn check_takes_an_album_and_every_songs_session() {
    let sb = album_sandbox();
    let out = sb.run(&["check", "album.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("album.toml: ok: \"Examples\", 3 songs (album policy)"),
        "{}",
        stderr(&out)
    );
    // A stem of one song damaged where only decoding it to its end tells (audio past the
    // length its header states): check finds it, naming the song's session and the file.
    std::fs::copy(
        common::fixtures().join("stems/damaged/mp3-mono-frame-appended.mp3"),
        sb.path("stems/lead.mp3"),
    )
    .unwrap();
    let text = std::fs::read_to_string(sb.path("three.toml")).unwrap();
    sb.write(
        "three.toml",
        &text.replace("stems/lead.ogg", "stems/lead.mp3"),
    );
    let out = sb.run(&["check", "album.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("three.toml"), "{}", stderr(&out));
    assert!(stderr(&out).contains("lead.mp3"), "{}", stderr(&out));
    assert!(!sb.path("out").exists());
}

#[test]
fn album_json_prints_the_album_report() {
    let sb = album_sandbox();
    let out = sb.run(&["album", "album.toml", "--json", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(printed, report(&sb.path("out/album.report.json")));
    let codes: Vec<&str> = printed["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["code"].as_str().unwrap())
        .collect();
    // The album's gate, then three per song.
    assert_eq!(codes.len(), 1 + 3 * 3, "{codes:?}");
    assert_eq!(codes[0], "album_loudness_off_target");
}
