//! Bounded, deterministic fuzzing (a few seconds; seeds fixed, so a failure repeats):
//!
//! - the session validator gets mutated session texts (the examples and the bad fixtures with
//!   bytes flipped, lines cut, dropped, doubled, keys and values swapped, numbers made extreme,
//!   TOML fragments dropped in) and must answer every one with a session or with diagnostics
//!   that each name the file and a line or key path, never a panic;
//! - the decoder gets damaged stems (every fixture format with bits flipped, bytes overwritten,
//!   ranges zeroed, cut, doubled or dropped, garbage appended) and must neither panic nor hang,
//!   and the three ways mixdown decodes a stem must agree on whether it decodes, why not, and
//!   on its frames: [`scan`] (what `check` runs), [`decode_all`] (impulse responses,
//!   references, `analyze`) and [`StemSource`] streaming exactly the frames a render plans and
//!   then finishing the stem (what `render` does).
//!
//! An input that breaks one of these belongs in `fixtures/` as a regression fixture. For a
//! deeper search by hand, `MIXDOWN_FUZZ_SCALE=50 cargo test --test fuzz` runs 50 times as many
//! cases (with other seeds).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use mixdown::engine::source::{Placed, StemSource};
use mixdown::io::decode::{decode_all, probe, scan};
use mixdown::session::LoadOptions;
use mixdown::session::validate::validate;
use mixdown::testkit::Noise;

/// `n` cases, times `MIXDOWN_FUZZ_SCALE` when it is set.
fn cases(n: usize) -> usize {
    n * scale()
}

fn scale() -> usize {
    std::env::var("MIXDOWN_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A number in `0..n` (n > 0).
fn below(r: &mut Noise, n: usize) -> usize {
    (r.next_u64() % n as u64) as usize
}

fn pick<'a, T>(r: &mut Noise, items: &'a [T]) -> &'a T {
    &items[below(r, items.len())]
}

// ---------------------------------------------------------------------------------------------
// Session files

/// Pieces of TOML that stress the validator: every section, wrong types, extreme and
/// non-finite numbers, empty and odd strings, broken syntax.
const FRAGMENTS: &[&str] = &[
    "[[track]]",
    "[[bus]]",
    "[master]",
    "[session]",
    "[[output]]",
    "[metadata]",
    "[[track.fx]]",
    "[[track.fx.bands]]",
    "[master.target]",
    "name = \"x\"",
    "name = \"master\"",
    "name = \"\"",
    "file = \"\"",
    "file = \".\"",
    "file = \"../stems/not-audio.wav\"",
    "file = \"../../fixtures/stems/surround-6ch.wav\"",
    "gain_db = 1e309",
    "gain_db = -inf",
    "gain_db = nan",
    "gain_db = \"loud\"",
    "gain_db = { points = [] }",
    "gain_db = { points = [[1e309, 0.0]], curve = \"step\" }",
    "gain_db = { points = [[\"0:0\", -6.0], [\"99999999999:1\", 0.0]] }",
    "pan = { points = [[0.0, -1.0], [\"2:1.5\", 1.0]], curve = \"smooth\" }",
    "mix = { points = [[0.0, 2.0]] }",
    "freq_hz = { points = [[0.0, 20.0], [1.0, 1e9]] }",
    "threshold_db = { points = [[0, -10], [0, -30]] }",
    "points = [[0.0, 1.0]]",
    "beats_per_bar = 0",
    "pan = 1.0000001",
    "width = -0.0",
    "sample_rate = 0",
    "sample_rate = 4294967296",
    "sample_rate = -44100",
    "sample_rate = 9223372036854775807",
    "tail = \"auto\"",
    "tail = 1e30",
    "tail = \"forever\"",
    "tempo_bpm = 0",
    "offset_s = 3600",
    "offset_s = 1e300",
    "output = \"master\"",
    "output = \"\"",
    "sends = [{ bus = \"master\" }]",
    "sends = [{ bus = \"x\", level_db = nan }]",
    "fx = [{ type = \"eq\", bands = [] }]",
    "fx = [{ type = \"eq\", bands = [{ kind = \"peak\", freq_hz = 0, gain_db = 3 }] }]",
    "fx = [{ type = \"eq\", phase = \"linear\", bands = [{ kind = \"notch\", freq_hz = 20, q = 100 }] }]",
    "fx = [{ type = \"delay\", time = \"1/0\" }]",
    "fx = [{ type = \"delay\", time = \"1/4.t\" }]",
    "fx = [{ type = \"multiband\", crossovers_hz = [100, 100], bands = [{}, {}, {}] }]",
    "fx = [{ type = \"reverb\", ir = \"/\" }]",
    "fx = [{ type = \"compressor\", sidechain = \"x\" }]",
    "fx = [{}]",
    "fx = [1, 2]",
    "target = { preset = \"spotify\", lufs = -1e9 }",
    "target = { preset = \"nope\" }",
    "reference = { file = \".\" }",
    "reference = { file = \"../stems/bass.wav\", match = [\"eq\", \"eq\"], amount = 2 }",
    "bit_depth = 8",
    "dither = \"shaped\"",
    "track = 999",
    "track = 0",
    "isrc = \"\"",
    "upc = \"0\"",
    "year = \"20x5\"",
    "x = [[[]]]",
    "\"quoted key\" = 1",
    "a.b.c = 1",
    "= 1",
    "name = \"\u{1F3B5}\u{0}\"",
    "path = \"out/../session.toml\"",
    "path = \"\"",
    "path = \"/\"",
    "sidechain = \"a\"",
    "}",
    "[",
    "[[]]",
    "'''",
    "\"\"\"",
    "\u{FEFF}",
    "mute = 1",
    "solo = true",
    "polarity_invert = \"yes\"",
];

/// Numbers that sit on or beyond every limit.
const EXTREMES: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1e308",
    "-1e308",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "0.0000001",
    "nan",
    "-inf",
    "inf",
];

/// Lines that look like `key = value`, as byte offsets (start, equals sign, end).
fn assignments(text: &str) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.trim_end_matches('\n').len();
        if let Some(eq) = line.find('=')
            && !line.trim_start().starts_with('#')
            && !line.trim_start().starts_with('[')
        {
            out.push((start, start + eq, end));
        }
        start += line.len();
    }
    out
}

/// Line start offsets (plus the end of the text).
fn line_starts(text: &str) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    v
}

/// One random edit of a session text.
fn mutate_text(r: &mut Noise, text: &str) -> String {
    let bytes = text.as_bytes();
    let lines = line_starts(text);
    match below(r, 8) {
        // Flip one bit of one byte (the result is read as the file would be: lossy UTF-8).
        0 if !bytes.is_empty() => {
            let mut b = bytes.to_vec();
            let i = below(r, b.len());
            b[i] ^= 1 << below(r, 8);
            String::from_utf8_lossy(&b).into_owned()
        }
        // Cut the text anywhere.
        1 => String::from_utf8_lossy(&bytes[..below(r, bytes.len() + 1)]).into_owned(),
        // Drop or double a line.
        2 | 3 if lines.len() > 1 => {
            let k = below(r, lines.len() - 1);
            let (a, b) = (lines[k], lines[k + 1]);
            let line = &text[a..b];
            let rest = format!("{}{}", &text[..a], &text[b..]);
            if below(r, 2) == 0 {
                rest
            } else {
                format!("{}{line}{line}{}", &text[..a], &text[b..])
            }
        }
        // Swap the values (or the keys) of two assignments.
        4 => {
            let asg = assignments(text);
            if asg.len() < 2 {
                return text.to_string();
            }
            let (mut x, mut y) = (*pick(r, &asg), *pick(r, &asg));
            if x.0 > y.0 {
                std::mem::swap(&mut x, &mut y);
            }
            if x.0 == y.0 {
                return text.to_string();
            }
            let part = |(s, eq, e): (usize, usize, usize), keys: bool| {
                if keys { (s, eq) } else { (eq + 1, e) }
            };
            let keys = below(r, 2) == 0;
            let (xa, xb) = part(x, keys);
            let (ya, yb) = part(y, keys);
            format!(
                "{}{}{}{}{}",
                &text[..xa],
                &text[ya..yb],
                &text[xb..ya],
                &text[xa..xb],
                &text[yb..]
            )
        }
        // Make one number extreme.
        5 => {
            let digits: Vec<usize> = text
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            if digits.is_empty() {
                return text.to_string();
            }
            let a = *pick(r, &digits);
            let is_num = |c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '_');
            let start = text[..a]
                .char_indices()
                .rev()
                .find(|&(_, c)| !is_num(c))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let end = text[a..]
                .find(|c: char| !is_num(c))
                .map_or(text.len(), |i| a + i);
            format!("{}{}{}", &text[..start], pick(r, EXTREMES), &text[end..])
        }
        // Drop a fragment in at a line boundary.
        _ => {
            let at = *pick(r, &lines);
            format!("{}{}\n{}", &text[..at], pick(r, FRAGMENTS), &text[at..])
        }
    }
}

/// The session texts to mutate: the examples and every bad fixture, each with its path (stems
/// resolve against it, so mutations reach the stem checks too).
fn session_corpus() -> Vec<(PathBuf, String)> {
    let mut paths = vec![
        root().join("examples/demo/session.toml"),
        root().join("examples/all-processors/session.toml"),
    ];
    let mut bad: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures/sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    bad.sort();
    paths.extend(bad);
    paths
        .into_iter()
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect()
}

#[test]
fn session_validation_answers_every_mutation_without_panicking() {
    let corpus = session_corpus();
    let opts = LoadOptions::default();
    let mut r = Noise::new(0x5e55_1011 + scale() as u64);
    let (mut sessions, mut rejected) = (0, 0);
    for case in 0..cases(1500) {
        // Half the cases start from the two examples, which are valid: most of their mutants
        // are too, and they go deeper than the bad fixtures' first error.
        let (path, original) = &corpus[below(&mut r, if case % 2 == 0 { 2 } else { corpus.len() })];
        let mut text = original.clone();
        for _ in 0..1 + below(&mut r, 3) {
            text = mutate_text(&mut r, &text);
        }
        let result = std::panic::catch_unwind(|| validate(path, &text, &opts));
        match result {
            Ok(Ok(_)) => sessions += 1,
            Ok(Err(diags)) => {
                assert!(
                    !diags.is_empty(),
                    "case {case} ({}): rejected without a diagnostic:\n{text}",
                    path.display()
                );
                // Every diagnostic is located: in this file, at a line and column that exist
                // in it, or at a key path.
                let lines = text.split('\n').count();
                for d in &diags {
                    let at_line = (1..=lines).contains(&d.line) && d.column >= 1;
                    assert!(
                        d.file == *path && (at_line || (d.line == 0 && !d.path.is_empty())),
                        "case {case} ({}): unlocated diagnostic {d:?} for:\n{text}",
                        path.display()
                    );
                }
                rejected += 1;
            }
            Err(_) => panic!(
                "case {case} ({}): the validator panicked on:\n{text}",
                path.display()
            ),
        }
    }
    // The mutations must reach both outcomes, or they test little.
    assert!(
        sessions >= 50 && rejected >= 500,
        "{sessions} sessions, {rejected} rejected"
    );
}

// ---------------------------------------------------------------------------------------------
// Stems

/// One random kind of damage to a stem's bytes.
fn damage(r: &mut Noise, data: &mut Vec<u8>) {
    let n = data.len();
    if n == 0 {
        return;
    }
    match below(r, 9) {
        0 => {
            let i = below(r, n);
            data[i] ^= 1 << below(r, 8);
        }
        // Headers live in the first bytes: hit them often.
        1 => {
            let i = below(r, n.min(128));
            data[i] = *pick(r, &[0x00, 0xFF, 0x7F, 0x80, 0x01]);
        }
        2 => {
            for _ in 0..8 {
                let i = below(r, n);
                data[i] = r.next_u64() as u8;
            }
        }
        3 => {
            let a = below(r, n);
            let len = *pick(r, &[4, 64, 512, 4096]);
            let b = (a + len).min(n);
            data[a..b].fill(*pick(r, &[0x00, 0xFF]));
        }
        4 => data.truncate(below(r, n)),
        5 => {
            let a = below(r, n);
            let b = a + below(r, n - a + 1);
            let copy = data[a..b].to_vec();
            data.splice(b..b, copy);
        }
        6 => {
            let a = below(r, n);
            let b = a + below(r, (n - a).min(2048) + 1);
            data.drain(a..b);
        }
        7 => {
            let extra: Vec<u8> = (0..below(r, 3000)).map(|_| r.next_u64() as u8).collect();
            data.extend(extra);
        }
        _ => {
            // Copy a run of bytes from one place to another (a frame header where audio was).
            let len = 16.min(n);
            let from = below(r, n - len + 1);
            let to = below(r, n - len + 1);
            let run = data[from..from + len].to_vec();
            data[to..to + len].copy_from_slice(&run);
        }
    }
}

/// How the streaming path (what `render` does) ended: the frames it decoded and the audio it
/// handed out, or the error's message.
type Streamed = Result<(u64, Vec<Vec<f32>>), String>;

/// Stream a stem as a render does: place it, read the planned frames in blocks, then finish the
/// stem. `planned` is the header's frame count, or what a full decode found when the header
/// states none (a render scans such stems first).
fn stream(path: &Path, rate: u32) -> Streamed {
    let info = probe(path).map_err(|e| e.to_string())?;
    let planned = match info.frames {
        Some(f) => f,
        None => scan(path).map_err(|e| e.to_string())?.frames,
    };
    let want = (planned * u64::from(rate)).div_ceil(u64::from(info.sample_rate)) as usize;
    let mut src =
        StemSource::new(path, &info, rate, Placed::whole(0)).map_err(|e| e.to_string())?;
    let mut planes: Vec<Vec<f32>> = (0..2).map(|_| Vec::with_capacity(want)).collect();
    let (mut l, mut r) = (vec![0.0; 4096], vec![0.0; 4096]);
    let mut done = 0;
    while done < want {
        let n = 4096.min(want - done);
        let mut out = [&mut l[..n], &mut r[..n]];
        src.read(&mut out).map_err(|e| e.to_string())?;
        planes[0].extend_from_slice(&l[..n]);
        planes[1].extend_from_slice(&r[..n]);
        done += n;
    }
    src.finish().map_err(|e| e.to_string())?;
    Ok((src.frames_decoded(), planes))
}

/// Decode `path` every way and check that the ways agree; returns whether it decoded.
fn check_agreement(path: &Path, label: &str) -> bool {
    let scanned = scan(path).map_err(|e| e.to_string());
    let whole = decode_all(path).map_err(|e| e.to_string());
    let probed = probe(path).map_err(|e| e.to_string());
    let streamed = stream(path, probed.as_ref().map_or(44100, |i| i.sample_rate));
    if let Err(p) = &probed {
        assert_eq!(scanned.as_ref().err(), Some(p), "{label}: probe and scan");
    }
    match (&scanned, &whole, &streamed) {
        (Ok(s), Ok((info, planes)), Ok((frames, audio))) => {
            assert_eq!(s.info, *info, "{label}: header");
            assert_eq!(
                s.frames,
                planes[0].len() as u64,
                "{label}: scan and decode_all"
            );
            assert_eq!(s.frames, *frames, "{label}: scan and streaming");
            if let Some(f) = s.info.frames {
                assert_eq!(f, s.frames, "{label}: the header's promise");
            }
            // Same rate, no resampling: the render gets exactly the decoded samples.
            let right = planes.get(1).unwrap_or(&planes[0]);
            assert!(audio[0] == planes[0], "{label}: streamed left differs");
            assert!(audio[1] == *right, "{label}: streamed right differs");
            true
        }
        (Err(a), Err(b), Err(c)) => {
            assert_eq!(a, b, "{label}: scan and decode_all fail differently");
            assert_eq!(a, c, "{label}: scan and streaming fail differently");
            false
        }
        _ => panic!(
            "{label}: scan {:?}, decode_all {:?}, streaming {:?}",
            scanned.as_ref().map(|s| s.frames),
            whole.as_ref().map(|w| w.1[0].len()),
            streamed.as_ref().map(|s| s.0)
        ),
    }
}

#[test]
fn damaged_stems_never_panic_or_hang_and_every_decode_path_agrees() {
    let sources = [
        "sine-44k1-stereo.mp3",
        "sine-44k1-stereo.ogg",
        "sine-44k1-stereo.flac",
        "sine-44k1-stereo-24.flac",
        "sine-44k1-mono.aiff",
        "sine-44k1-stereo-pcm16.wav",
        "sine-44k1-mono-f32.wav",
        "sine-44k1-stereo-extensible-pcm24.wav",
        "sine-8k-mono.wav",
        "damaged/mp3-mono-frame-appended.mp3",
        "damaged/wav-extensible-channels-overflow.wav",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut r = Noise::new(0x00de_c0de + scale() as u64);
    let (mut decoded, mut refused) = (0, 0);
    for name in sources {
        let original = std::fs::read(root().join("fixtures/stems").join(name)).unwrap();
        let ext = Path::new(name).extension().unwrap().to_str().unwrap();
        for case in 0..cases(100) {
            let mut data = original.clone();
            for _ in 0..1 + below(&mut r, 2) {
                damage(&mut r, &mut data);
            }
            let path = dir.path().join(format!("case-{case}.{ext}"));
            std::fs::write(&path, &data).unwrap();
            let label = format!("{name} case {case} (bytes kept in {})", path.display());
            // A watchdog: a decoder that loops forever fails the test instead of hanging it.
            let (tx, rx) = mpsc::channel();
            let (p, l) = (path.clone(), label.clone());
            std::thread::spawn(move || {
                let _ = tx.send(check_agreement(&p, &l));
            });
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(true) => decoded += 1,
                Ok(false) => refused += 1,
                // The thread panicked (its message is above) or never finished.
                Err(e) => {
                    let kept = std::env::temp_dir().join(format!("mixdown-fuzz-{case}.{ext}"));
                    std::fs::write(&kept, &data).unwrap();
                    panic!("{label}: {e:?}; input saved as {}", kept.display());
                }
            }
            std::fs::remove_file(&path).unwrap();
        }
    }
    assert!(
        decoded >= 50 && refused >= 50,
        "{decoded} decoded, {refused} refused"
    );
}
