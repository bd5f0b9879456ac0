//! Stem decoding against the tiny fixtures in `fixtures/stems/` (see its README for contents):
//! every supported container and sample format decodes to the known sine, and every damaged
//! file is an error with a message that says what is wrong.

use std::path::PathBuf;

use mixdown::io::decode::{DecodeError, decode_all, probe, scan};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/stems")
        .join(name)
}

/// Largest deviation from `0.5 sin(2π f n / rate)` (times `sign`) over the given frames.
fn sine_error(x: &[f32], f: f64, rate: u32, sign: f64, skip: usize) -> f64 {
    x.iter()
        .enumerate()
        .skip(skip)
        .map(|(n, &v)| {
            let want =
                sign * 0.5 * (2.0 * std::f64::consts::PI * f * n as f64 / f64::from(rate)).sin();
            (f64::from(v) - want).abs()
        })
        .fold(0.0, f64::max)
}

#[test]
fn lossless_formats_decode_to_the_exact_sine() {
    // (file, channels, frames, max error): integer formats are within half an LSB plus the
    // sine's own rounding; float formats are exact to f32 precision.
    let cases = [
        ("sine-44k1-mono-pcm16.wav", 1, 11025, 1.0 / 32768.0),
        ("sine-44k1-stereo-pcm16.wav", 2, 11025, 1.0 / 32768.0),
        ("sine-44k1-mono-pcm24.wav", 1, 11025, 1e-6),
        ("sine-44k1-mono-pcm32.wav", 1, 11025, 1e-6),
        ("sine-44k1-mono-f32.wav", 1, 11025, 1e-6),
        ("sine-44k1-mono-f64.wav", 1, 4410, 1e-6),
        ("sine-44k1-stereo-extensible-pcm24.wav", 2, 4410, 1e-6),
        ("sine-44k1-stereo.flac", 2, 11025, 1.0 / 32768.0),
        ("sine-44k1-stereo-24.flac", 2, 11025, 1e-6),
        ("sine-44k1-mono.aiff", 1, 11025, 1.0 / 32768.0),
    ];
    for (name, ch, frames, tol) in cases {
        let (info, planes) = decode_all(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.sample_rate, 44100, "{name}");
        assert_eq!(info.channels, ch, "{name}");
        assert_eq!(planes.len(), ch, "{name}");
        assert_eq!(planes[0].len(), frames, "{name}");
        let e = sine_error(&planes[0], 1000.0, 44100, 1.0, 0);
        assert!(e <= tol, "{name}: left channel off by {e}");
        if ch == 2 {
            // The right channel is the inverted sine: a swapped or duplicated channel fails.
            let e = sine_error(&planes[1], 1000.0, 44100, -1.0, 0);
            assert!(e <= tol, "{name}: right channel off by {e}");
        }
    }
}

#[test]
fn lossy_formats_decode_gapless_and_close() {
    for name in ["sine-44k1-stereo.mp3", "sine-44k1-stereo.ogg"] {
        let (info, planes) = decode_all(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.channels, 2, "{name}");
        // Encoder delay and padding are trimmed: exactly the 11025 frames that went in.
        assert_eq!(planes[0].len(), 11025, "{name}");
        // A 1 kHz sine survives perceptual coding to within a few percent, in phase (so the
        // delay really was trimmed, not just the length); skip the first and last 5 ms.
        let body = &planes[0][..11025 - 220];
        let e = sine_error(body, 1000.0, 44100, 1.0, 220);
        assert!(e < 0.05, "{name}: left off by {e}");
        let e = sine_error(&planes[1][..11025 - 220], 1000.0, 44100, -1.0, 220);
        assert!(e < 0.05, "{name}: right off by {e}");
    }
}

#[test]
fn every_rate_from_8k_to_192k_is_read() {
    for (name, rate, frames, f) in [
        ("sine-8k-mono.wav", 8000, 2000, 500.0),
        ("sine-22k05-mono.wav", 22050, 5512, 1000.0),
        ("sine-48k-mono.wav", 48000, 12000, 1000.0),
        ("sine-96k-mono.wav", 96000, 24000, 1000.0),
        ("sine-192k-mono.wav", 192000, 24000, 1000.0),
    ] {
        let (info, planes) = decode_all(&fixture(name)).unwrap();
        assert_eq!(info.sample_rate, rate, "{name}");
        assert_eq!(planes[0].len(), frames, "{name}");
        assert!(
            sine_error(&planes[0], f, rate, 1.0, 0) <= 1.0 / 32768.0,
            "{name}"
        );
    }
}

#[test]
fn header_probe_matches_full_decode() {
    let p = probe(&fixture("sine-44k1-stereo.flac")).unwrap();
    let s = scan(&fixture("sine-44k1-stereo.flac")).unwrap();
    assert_eq!(p, s.info);
    assert_eq!(s.frames, 11025);
    assert!((s.peak - 0.5).abs() < 1e-3, "{}", s.peak);
    assert_eq!(s.clipped, 0);
}

fn scan_err(name: &str) -> DecodeError {
    match scan(&fixture(name)) {
        Ok(s) => panic!("{name} decoded: {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn damaged_files_are_errors_that_say_why() {
    assert!(matches!(
        scan_err("surround-6ch.wav"),
        DecodeError::Channels(6)
    ));
    match scan_err("truncated.wav") {
        DecodeError::Truncated { expected, actual } => {
            assert_eq!(expected, 11025);
            assert_eq!(actual, 4410);
        }
        e => panic!("truncated.wav: {e}"),
    }
    // symphonia's FLAC reader hunts for a frame header through the garbage and hits the end of
    // the file while probing, so this surfaces as "no decodable audio".
    assert!(matches!(
        scan_err("corrupt.flac"),
        DecodeError::NoAudio | DecodeError::Corrupt { .. }
    ));
    for (name, what) in [("nan-f32.wav", "NaN"), ("inf-f32.wav", "infinite")] {
        match scan_err(name) {
            DecodeError::NonFinite {
                what: w,
                frame,
                channel,
            } => {
                assert_eq!((w, frame, channel), (what, 100, 0), "{name}");
            }
            e => panic!("{name}: {e}"),
        }
    }
    assert!(matches!(
        scan_err("not-audio.wav"),
        DecodeError::Unsupported(_)
    ));
    assert!(matches!(scan_err("empty.wav"), DecodeError::NoAudio));
    assert!(matches!(
        scan_err("no-such-file.wav"),
        DecodeError::NotFound
    ));
}

#[test]
fn messages_name_the_problem() {
    assert_eq!(
        scan_err("surround-6ch.wav").to_string(),
        "6 channels: stems must be mono or stereo; split or downmix it first"
    );
    assert_eq!(
        scan_err("truncated.wav").to_string(),
        "truncated: the header promises 11025 frames but the file holds 4410"
    );
    assert_eq!(
        scan_err("nan-f32.wav").to_string(),
        "NaN sample at frame 100, channel 0; the file is damaged"
    );
}
