//! `mixdown init STEMS_DIR`: the starter session it writes loads, checks and renders, with the
//! mix bus 6 dB under full scale, and an existing file is never replaced without `--force`.

mod common;

use std::f64::consts::FRAC_PI_4;

use common::*;

fn session(sb: &Sandbox, rel: &str) -> (String, toml::Table) {
    let text = std::fs::read_to_string(sb.path(rel)).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    (text, table)
}

fn tracks(t: &toml::Table) -> Vec<&toml::Table> {
    t["track"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_table().unwrap())
        .collect()
}

/// A sine at a quarter of the rate, starting at phase 0: its samples are exactly 0, `amp`, 0,
/// `-amp`, so its sample peak is `amp`.
fn quarter_rate_sine(amp: f32) -> impl FnMut(usize, usize) -> f32 {
    move |_, n| [0.0, amp, 0.0, -amp][n % 4]
}

/// Three in-phase stems: mono kick (0.4) and bass (0.5) centred take the pan law's cos(π/4) on
/// each side, a stereo pad (0.3 left only) passes a centred balance at unity, and a silent
/// stem adds nothing. The unity sum's peak is (0.4 + 0.5)·cos(π/4) + 0.3, left; init must stage
/// every track by -6 dBFS minus that, and the render must then peak at -6 dBFS.
#[test]
fn init_writes_a_session_that_checks_and_renders_with_6_db_headroom() {
    let sb = Sandbox::new();
    let rate = 44100;
    let frames = rate as usize; // 1 s
    sb.stem_f32("song/stems/10 Pad.wav", rate, 2, frames, |c, n| {
        if c == 0 {
            [0.0, 0.3, 0.0, -0.3][n % 4]
        } else {
            0.0
        }
    });
    sb.stem_f32(
        "song/stems/2 bass.wav",
        rate,
        1,
        frames,
        quarter_rate_sine(0.5),
    );
    sb.stem_f32(
        "song/stems/01_Kick.wav",
        rate,
        1,
        frames,
        quarter_rate_sine(0.4),
    );
    sb.stem_f32("song/stems/fx.wav", rate, 1, frames, |_, _| 0.0);
    sb.write("song/stems/notes.txt", "not audio");
    sb.write("song/stems/.hidden.wav", "not audio either");

    let out = sb.run(&["init", "song/stems", "-o", "song/session.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (text, t) = session(&sb, "song/session.toml");

    // Natural order, names from the file names, stem paths relative to the session file.
    let tr = tracks(&t);
    let names: Vec<&str> = tr.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kick", "bass", "pad", "fx"], "{text}");
    let files: Vec<&str> = tr.iter().map(|x| x["file"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        [
            "stems/01_Kick.wav",
            "stems/2 bass.wav",
            "stems/10 Pad.wav",
            "stems/fx.wav"
        ]
    );
    assert_eq!(t["session"]["sample_rate"].as_integer(), Some(44100));
    assert_eq!(t["session"]["name"].as_str(), Some("song"));
    assert_eq!(
        t["master"]["target"]["preset"].as_str(),
        Some("spotify"),
        "{text}"
    );

    // One common gain, from the arithmetic of the stems.
    let unity_peak = (0.4f64 + 0.5) * FRAC_PI_4.cos() + 0.3;
    let unity_db = 20.0 * unity_peak.log10();
    let expected = -6.0 - unity_db;
    for x in &tr {
        let g = x["gain_db"].as_float().unwrap();
        assert!(
            g <= expected + 1e-9 && g > expected - 0.011,
            "gain {g}, expected {expected}"
        );
        assert_eq!(x["pan"].as_float(), Some(0.0));
    }
    // The figures are said in a comment.
    assert!(
        text.contains(&format!("peaked at {unity_db:+.2} dBFS")),
        "{text}"
    );

    let check = sb.run(&["check", "song/session.toml"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let render = sb.run(&["render", "song/session.toml", "-q"]);
    assert_eq!(render.status.code(), Some(0), "{}", stderr(&render));
    let r = report(&sb.path("song/out/song.report.json"));
    let mix_peak = r["mix"]["sample_peak_dbfs"].as_f64().unwrap();
    assert!(
        (-6.02..=-6.0).contains(&mix_peak),
        "mix bus peak {mix_peak}"
    );
}

/// The rate most stems share becomes the session rate; names that sanitise alike get numbers.
#[test]
fn init_takes_the_common_rate_and_makes_names_unique() {
    let sb = Sandbox::new();
    let tone = |_: usize, n: usize| (n as f32 * 0.05).sin() * 0.25;
    sb.stem_i16("stems/Lead Vox.wav", 48000, 1, 24000, tone);
    sb.stem_i16("stems/lead_vox.wav", 48000, 2, 24000, tone);
    sb.stem_i16("stems/03 -- .wav", 44100, 1, 22050, tone);
    let out = sb.run(&["init", "stems"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (text, t) = session(&sb, "session.toml");
    assert_eq!(
        t["session"]["sample_rate"].as_integer(),
        Some(48000),
        "{text}"
    );
    let tr = tracks(&t);
    let names: Vec<&str> = tr.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["03", "lead-vox", "lead-vox-2"], "{text}");
    let check = sb.run(&["check", "session.toml", "-q"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn init_never_overwrites_without_force() {
    let sb = Sandbox::new();
    sb.stem_i16("stems/a.wav", 44100, 1, 22050, |_, n| {
        (n as f32 * 0.03).sin() * 0.5
    });
    sb.write("session.toml", "# mine\n");
    let out = sb.run(&["init", "stems"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("session.toml") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("session.toml")).unwrap(),
        "# mine\n"
    );
    let out = sb.run(&["init", "stems", "--force", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "quiet: {}", stderr(&out));
    let (_, t) = session(&sb, "session.toml");
    assert_eq!(tracks(&t).len(), 1);

    // A folder without audio is a usage error naming it; nothing is written.
    sb.write("empty/readme.txt", "no stems here");
    let out = sb.run(&["init", "empty", "-o", "other.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
    assert!(!sb.path("other.toml").exists());
}
