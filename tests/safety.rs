//! Files are sacred: nothing a render writes (outputs, report, plots) may be one of its inputs,
//! a failed render leaves every file as it was, session files that cannot render are refused up
//! front, and the same mix gives the same bytes however its session file is written.

mod common;

use common::*;

/// Two stems, a bus, a master with a multiband and a target: enough to exercise the paths.
fn song(sb: &Sandbox, extra_track: &str) {
    sb.stem_i16("stems/a.wav", 44100, 1, 44100, |_, n| {
        0.25 * (n as f32 * 0.0627).sin()
    });
    sb.stem_f32("stems/b.wav", 48000, 2, 36000, |c, n| {
        let g = if c == 0 { 0.2 } else { -0.1 };
        g * (n as f32 * 0.031).sin()
    });
    sb.write(
        "song.toml",
        &format!(
            r#"[session]
name = "Song"
sample_rate = 48000

[[track]]
name = "a"
file = "stems/a.wav"
gain_db = -3.0
pan = -0.3
sends = [{{ bus = "fx", level_db = -6.0 }}]
{extra_track}
[[track]]
name = "b"
file = "stems/b.wav"
offset_s = 0.25

[[bus]]
name = "fx"
fx = [{{ type = "eq", bands = [{{ kind = "peak", freq_hz = 800.0, gain_db = 3.0, q = 1.0 }}] }}]

[master]
fx = [{{ type = "multiband", crossovers_hz = [200.0, 3000.0], bands = [{{ threshold_db = -20.0 }}, {{ threshold_db = -24.0 }}, {{ threshold_db = -22.0 }}] }}]
target = {{ lufs = -16.0, ceiling_dbtp = -1.0 }}

[[output]]
path = "out/song.wav"
"#
        ),
    );
}

fn assert_refused(sb: &Sandbox, args: &[&str], expect: &str) {
    let before: Vec<(String, Vec<u8>)> = sb
        .files()
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(sb.path(&f)).unwrap();
            (f, bytes)
        })
        .collect();
    let out = sb.run(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(expect),
        "{args:?}: expected {expect:?} in {err}"
    );
    let after: Vec<(String, Vec<u8>)> = sb
        .files()
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(sb.path(&f)).unwrap();
            (f, bytes)
        })
        .collect();
    assert!(before == after, "{args:?} changed files");
}

#[test]
fn the_report_and_plots_never_overwrite_an_input() {
    let sb = Sandbox::new();
    song(&sb, "");
    let input = "names an input of this session";
    // The report onto a stem, onto the session itself, through `..`.
    assert_refused(
        &sb,
        &["render", "song.toml", "--report", "stems/a.wav"],
        input,
    );
    assert_refused(
        &sb,
        &["render", "song.toml", "--report", "song.toml"],
        input,
    );
    assert_refused(
        &sb,
        &[
            "render",
            "song.toml",
            "--report",
            "out/../stems/../song.toml",
        ],
        input,
    );
    // Through a symlink: out.json -> song.toml.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(sb.path("song.toml"), sb.path("link.json")).unwrap();
        assert_refused(
            &sb,
            &["render", "song.toml", "--report", "link.json"],
            input,
        );
        // An output path that is a symlink to a stem.
        std::fs::create_dir_all(sb.path("out")).unwrap();
        std::os::unix::fs::symlink(sb.path("stems/b.wav"), sb.path("out/song.wav")).unwrap();
        assert_refused(&sb, &["render", "song.toml"], input);
        std::fs::remove_file(sb.path("out/song.wav")).unwrap();
        std::fs::remove_file(sb.path("link.json")).unwrap();
    }
    // A plot onto an input: a stem that happens to be called spectrum.png in the plot folder.
    std::fs::create_dir_all(sb.path("plots")).unwrap();
    std::fs::copy(sb.path("stems/a.wav"), sb.path("plots/spectrum.png")).unwrap();
    let text = std::fs::read_to_string(sb.path("song.toml"))
        .unwrap()
        .replace("file = \"stems/b.wav\"", "file = \"plots/spectrum.png\"");
    sb.write("plotted.toml", &text);
    assert_refused(
        &sb,
        &[
            "render",
            "plotted.toml",
            "--plot",
            "plots",
            "-o",
            "out/p.wav",
        ],
        input,
    );
    // The report and an output on the same file.
    assert_refused(
        &sb,
        &["render", "song.toml", "--report", "out/song.wav"],
        "writes the same file",
    );
    // An output path that is a folder is refused by check too, before anything renders.
    std::fs::create_dir_all(sb.path("out/song.wav")).unwrap();
    assert_refused(&sb, &["check", "song.toml"], "is a folder");
    assert_refused(&sb, &["render", "song.toml"], "is a folder");
}

/// A plot that cannot be written fails the whole render, before it renders: no output, no
/// report, no plot, and the previous render's files are untouched.
#[test]
fn a_failed_plot_writes_nothing() {
    let sb = Sandbox::new();
    song(&sb, "");
    sb.write("out/song.wav", "previous render");
    // The plot folder's place is taken by a file.
    sb.write("plots", "not a folder");
    let before = sb.files();
    let out = sb.run(&["render", "song.toml", "--plot", "plots"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("plots is a file, not a folder"), "{err}");
    assert!(err.contains("nothing was rendered"), "{err}");
    assert_eq!(sb.files(), before);
    assert_eq!(
        std::fs::read_to_string(sb.path("out/song.wav")).unwrap(),
        "previous render"
    );
    // With a folder it works, and everything lands together.
    std::fs::remove_file(sb.path("plots")).unwrap();
    let out = sb.run(&["render", "song.toml", "--plot", "plots", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for f in [
        "out/song.wav",
        "out/song.report.json",
        "plots/spectrum.svg",
        "plots/waveform.png",
    ] {
        assert!(sb.path(f).is_file(), "{f}");
    }
}

#[test]
fn a_solo_left_on_is_a_warning_and_fails_strict() {
    let sb = Sandbox::new();
    song(&sb, "solo = true\n");
    let out = sb.run(&["check", "song.toml"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("warning: solo is on for track \"a\": the 1 other track is silent"),
        "{err}"
    );
    let out = sb.run(&["render", "song.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: solo is on"));
    let r = report(&sb.path("out/song.report.json"));
    assert!(r["warnings"][0].as_str().unwrap().starts_with("solo is on"));
    let out = sb.run(&["render", "song.toml", "--strict"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

/// Numbers in any TOML base are read by value: 0x78 is 120 Hz, 0x10 is 16 Hz (too low).
#[test]
fn numbers_in_other_bases_are_read_by_value() {
    let sb = Sandbox::new();
    song(&sb, "");
    let text = std::fs::read_to_string(sb.path("song.toml")).unwrap();
    sb.write(
        "hex.toml",
        &text.replace(
            "crossovers_hz = [200.0, 3000.0]",
            "crossovers_hz = [0x78, 0xBB8]",
        ),
    );
    let out = sb.run(&["check", "hex.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    sb.write(
        "low.toml",
        &text.replace(
            "crossovers_hz = [200.0, 3000.0]",
            "crossovers_hz = [0x10, 0b1_0000_0000]",
        ),
    );
    let out = sb.run(&["check", "low.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("crossovers_hz[0] = 0x10: must be between 20 Hz"),
        "{err}"
    );
    assert_eq!(
        err.matches("error:").count(),
        1,
        "0b1_0000_0000 (256) is fine: {err}"
    );
}

fn render_sha(sb: &Sandbox, session: &str) -> String {
    let out = sb.run(&["render", session, "-o", "out/x.wav", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{session}: {}", stderr(&out));
    file_sha(&sb.path("out/x.wav"))
}

/// The dither seed comes from what shapes the audio, not from the text of the session.
#[test]
fn comments_and_formatting_keep_the_bytes_and_audio_changes_change_them() {
    let sb = Sandbox::new();
    song(&sb, "");
    let text = std::fs::read_to_string(sb.path("song.toml")).unwrap();
    let base = render_sha(&sb, "song.toml");
    // Comments, blank lines, a renamed song, `-3` for `-3.0`, a default written out, the bus fx
    // as [[bus.fx]] tables, keys in another order.
    let reformatted = format!("# A comment\n\n{text}\n# trailing comment\n")
        .replace("name = \"Song\"", "name = \"Renamed\" # comment")
        .replace("gain_db = -3.0", "gain_db = -3")
        .replace("offset_s = 0.25", "offset_s = 0.25\npan = 0.0\nwidth = 1.0")
        .replace(
            "fx = [{ type = \"eq\", bands = [{ kind = \"peak\", freq_hz = 800.0, gain_db = 3.0, q = 1.0 }] }]",
            "[[bus.fx]]\nbands = [{ q = 1.0, gain_db = 3.0, freq_hz = 800.0, kind = \"peak\" }]\ntype = \"eq\"",
        );
    assert_ne!(reformatted, text);
    sb.write("reformatted.toml", &reformatted);
    assert_eq!(render_sha(&sb, "reformatted.toml"), base);
    // Any change to the sound changes the bytes.
    for (what, from, to) in [
        ("a fader", "gain_db = -3.0", "gain_db = -3.1"),
        ("a pan", "pan = -0.3", "pan = -0.31"),
        ("a send", "level_db = -6.0", "level_db = -6.5"),
        ("an offset", "offset_s = 0.25", "offset_s = 0.26"),
        ("an EQ band", "freq_hz = 800.0", "freq_hz = 810.0"),
        (
            "a band threshold",
            "threshold_db = -24.0",
            "threshold_db = -25.0",
        ),
        ("the target", "lufs = -16.0", "lufs = -16.5"),
    ] {
        assert!(text.contains(from), "{what}");
        sb.write("changed.toml", &text.replacen(from, to, 1));
        assert_ne!(render_sha(&sb, "changed.toml"), base, "{what}");
    }
}

/// An output `check` passes is one `render` can write: a path that is an existing folder, or
/// one under a file (a folder's place taken by a file), is refused by both commands up front
/// with exit 2, naming the output and the path, and nothing is rendered or written.
#[test]
fn check_refuses_an_output_that_cannot_be_written() {
    let sb = Sandbox::new();
    song(&sb, "");
    let out = sb.path("out/song.wav");
    // The output's path is a folder.
    std::fs::create_dir_all(&out).unwrap();
    let folder = format!(
        "output[0].path = \"out/song.wav\": {} is a folder",
        out.display()
    );
    assert_refused(&sb, &["check", "song.toml"], &folder);
    assert_refused(&sb, &["render", "song.toml"], &folder);
    std::fs::remove_dir(&out).unwrap();
    std::fs::remove_dir(sb.path("out")).unwrap();
    // The folder it would go in is a file.
    sb.write("out", "not a folder");
    let file = format!(
        "output[0].path = \"out/song.wav\": {} is a file, not a folder",
        sb.path("out").display()
    );
    assert_refused(&sb, &["check", "song.toml"], &file);
    assert_refused(&sb, &["render", "song.toml"], &file);
    // -o and --report too: they are checked as the session's outputs are.
    std::fs::remove_file(sb.path("out")).unwrap();
    sb.write("taken", "not a folder");
    assert_refused(
        &sb,
        &["render", "song.toml", "-o", "taken/x.wav"],
        "-o taken/x.wav",
    );
    assert_refused(
        &sb,
        &["render", "song.toml", "--report", "taken/r.json"],
        "--report taken/r.json",
    );
}
