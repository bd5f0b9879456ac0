//! Damaged stems through the binary: `check` and `render` must agree on every one, heard or
//! muted. Either both refuse it (exit 2, the same reason, the track and the file named, nothing
//! written) or both accept it and the render writes its output. Each file in
//! `fixtures/stems/damaged/` once made them disagree or crashed mixdown (`fixtures/stems/README.md`).

mod common;

use std::process::Output;

use common::*;

/// What both commands must do with a stem.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Both accept it; the render writes its output.
    Accepted,
    /// Both refuse it with a reason containing this text.
    Refused(&'static str),
}

/// Every file in `fixtures/stems/damaged/` and what must happen to it.
const DAMAGED: &[(&str, Expect)] = &[
    (
        "wav-channels-overflow.wav",
        Expect::Refused("the decoder failed on damaged data"),
    ),
    (
        "wav-extensible-channels-overflow.wav",
        Expect::Refused("the decoder failed on damaged data"),
    ),
    (
        "aiff-channels-overflow.aiff",
        Expect::Refused("the decoder failed on damaged data"),
    ),
    (
        "flac-huge-length.flac",
        Expect::Refused(
            "the header promises 64424520465 frames, more than a file of 5521 bytes can hold",
        ),
    ),
    // Without its LAME tag the file states no length: every frame it holds is decoded.
    ("mp3-huge-length.mp3", Expect::Accepted),
    (
        "mp3-mono-frame-appended.mp3",
        Expect::Refused("the file holds more audio than the 11025 frames its header promises"),
    ),
];

/// The reason a command gives for refusing `file`: what follows the file's name on the first
/// error line that names it (`... "FILE": REASON` from `check`, `... (FILE): REASON` from
/// `render`).
fn reason(err: &str, file: &str) -> Option<String> {
    err.lines()
        .filter(|l| l.starts_with("error: "))
        .find_map(|l| {
            [format!("\"{file}\": "), format!("({file}): ")]
                .iter()
                .find_map(|m| l.find(m.as_str()).map(|i| l[i + m.len()..].to_string()))
        })
}

fn session(stem: &str, muted: bool) -> String {
    let mut s = format!(
        "[session]\nname = \"t\"\n\n[[track]]\nname = \"a\"\nfile = \"{stem}\"\nmute = {muted}\n"
    );
    if muted {
        // Something to hear, so the song is not all muted.
        s.push_str("\n[[track]]\nname = \"good\"\nfile = \"good.wav\"\n");
    }
    s.push_str("\n[[output]]\npath = \"out.wav\"\n");
    s
}

/// Run `check` and `render` on a one-track session (plus a good track when `muted`) around
/// `bytes` saved as `name`, and assert that they agree as `expect` says.
fn assert_agree(name: &str, bytes: &[u8], muted: bool, expect: Expect) {
    let sb = Sandbox::new();
    std::fs::write(sb.path(name), bytes).unwrap();
    sb.stem_i16("good.wav", 44100, 1, 4410, |_, n| {
        0.25 * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 44100.0).sin()
    });
    sb.write("s.toml", &session(name, muted));
    let inputs = sb.files();
    let label = format!("{name} (muted: {muted})");
    let check: Output = sb.run(&["check", "s.toml"]);
    let render: Output = sb.run(&["render", "s.toml", "-q"]);
    let (ce, re) = (stderr(&check), stderr(&render));
    for (cmd, err) in [("check", &ce), ("render", &re)] {
        assert!(!err.contains("panicked"), "{cmd} {label}: {err}");
    }
    match expect {
        Expect::Accepted => {
            assert_eq!(check.status.code(), Some(0), "check {label}: {ce}");
            assert_eq!(render.status.code(), Some(0), "render {label}: {re}");
            assert!(
                sb.path("out.wav").is_file(),
                "render {label} wrote no output"
            );
        }
        Expect::Refused(why) => {
            assert_eq!(check.status.code(), Some(2), "check {label}: {ce}");
            assert_eq!(render.status.code(), Some(2), "render {label}: {re}");
            let cr = reason(&ce, name).unwrap_or_else(|| panic!("check {label}: {ce}"));
            let rr = reason(&re, name).unwrap_or_else(|| panic!("render {label}: {re}"));
            assert_eq!(cr, rr, "{label}: check and render give different reasons");
            assert!(cr.contains(why), "{label}: expected {why:?} in {cr:?}");
            for (cmd, err) in [("check", &ce), ("render", &re)] {
                assert!(err.contains("\"a\""), "{cmd} {label} names no track: {err}");
            }
            assert_eq!(sb.files(), inputs, "render {label} wrote something");
        }
    }
}

#[test]
fn check_and_render_agree_on_every_damaged_fixture() {
    let dir = fixtures().join("stems/damaged");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| !f.ends_with(".md"))
        .collect();
    names.sort();
    let mut listed: Vec<String> = DAMAGED.iter().map(|(n, _)| (*n).to_string()).collect();
    listed.sort();
    assert_eq!(names, listed, "every damaged fixture needs an expectation");
    for &(name, expect) in DAMAGED {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        for muted in [false, true] {
            assert_agree(name, &bytes, muted, expect);
        }
    }
}

/// The MPEG frames of the MP3 fixture after its first (the Xing/LAME frame), appended to it:
/// two encodings played back to back, under a header that states the first one's length.
/// symphonia trims everything past the stated length, so the second half vanished silently.
#[test]
fn audio_past_the_stated_length_is_refused() {
    let mp3 = std::fs::read(fixtures().join("stems/sine-44k1-stereo.mp3")).unwrap();
    // The first frame is 417 bytes: 128 kbit/s at 44.1 kHz without padding
    // (144 * 128000 / 44100, ISO/IEC 11172-3 2.4.3.1).
    assert_eq!(
        &mp3[36..40],
        b"Info",
        "the fixture starts with its Info frame"
    );
    let mut twice = mp3.clone();
    twice.extend_from_slice(&mp3[417..]);
    for muted in [false, true] {
        assert_agree(
            "twice.mp3",
            &twice,
            muted,
            Expect::Refused("the file holds more audio than the 11025 frames its header promises"),
        );
    }
}

/// A muted stem is not heard, but a damaged one is refused by `render` as by `check`.
#[test]
fn muted_damaged_stems_fail_both_commands() {
    for (name, why) in [
        (
            "truncated.wav",
            "truncated: the header promises 11025 frames but the file holds 4410",
        ),
        ("corrupt.flac", "no decodable audio"),
        ("nan-f32.wav", "NaN sample at frame 100"),
    ] {
        let bytes = std::fs::read(fixtures().join("stems").join(name)).unwrap();
        assert_agree(name, &bytes, true, Expect::Refused(why));
    }
}
